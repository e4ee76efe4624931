// RFC 9113 sections 3.4 (preface), 4 (frames), 5.5 (extensions), 6 (frame
// definitions) and 7 (error codes), case by case. Each case cites the rule
// it checks.
#include "conf_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

using namespace h2conf;

namespace {

const std::string kPing = "weftping";
const std::string kBody = R"({"text":"conformance"})";

// ---- 3.4 HTTP/2 connection preface -----------------------------------

H2_SECTION(Rfc9113_3_4_Preface);

// "Clients and servers MUST treat an invalid connection preface as a
// connection error of type PROTOCOL_ERROR. A GOAWAY frame MAY be omitted."
TEST_F(Rfc9113_3_4_Preface, InvalidPrefaceIsConnectionError) {
  FrameClient c(port());
  ASSERT_TRUE(c.ok());
  c.write("PRI * HTTP/2.0\r\n\r\nXM\r\n\r\n");
  c.settings({});
  EXPECT_TRUE(c.expect_goaway(PROTOCOL_ERROR, /*goaway_optional=*/true));
  EXPECT_TRUE(fresh_connection_serves(port()));
}

// The port serves HTTP/1.1 too (docs/HTTP1.md): bytes that do not start
// with the preface are an HTTP/1.1 connection, answered in HTTP/1.1
// (here: no route for GET /), not an HTTP/2 connection error.
TEST_F(Rfc9113_3_4_Preface, Http1RequestIsServedAsHttp11) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port());
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, (sockaddr *)&a, sizeof a), 0);
  std::string req = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  ASSERT_EQ(send(fd, req.data(), req.size(), 0), (ssize_t)req.size());
  char buf[512];
  ssize_t n = recv(fd, buf, sizeof buf, 0);
  close(fd);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, (size_t)n).rfind("HTTP/1.1 404 ", 0), 0u);
  EXPECT_TRUE(fresh_connection_serves(port()));
}

// "The client connection preface ... MUST be followed by a SETTINGS frame";
// anything else is an invalid preface.
TEST_F(Rfc9113_3_4_Preface, FirstFrameNotSettingsIsConnectionError) {
  FrameClient c(port());
  ASSERT_TRUE(c.ok());
  c.preface();
  c.ping(kPing);
  EXPECT_TRUE(c.expect_goaway(PROTOCOL_ERROR, true));
  EXPECT_TRUE(fresh_connection_serves(port()));
}

// "The server connection preface consists of a potentially empty SETTINGS
// frame that MUST be the first frame the server sends."
TEST_F(Rfc9113_3_4_Preface, ServerSendsSettingsFirst) {
  FrameClient c(port());
  ASSERT_TRUE(c.ok());
  c.preface();
  c.settings({});
  Frame f;
  ASSERT_EQ(c.read(f), Got::Frame);
  EXPECT_EQ(f.type, SETTINGS);
  EXPECT_EQ(f.flags & F_ACK, 0);
}

// A client that sends its preface in single bytes is served (the server's
// reads must not assume whole frames).
TEST_F(Rfc9113_3_4_Preface, PrefaceAndFramesByteByByte) {
  FrameClient c(port());
  ASSERT_TRUE(c.ok());
  std::string all =
      std::string(NGHTTP2_CLIENT_MAGIC) +
      FrameClient::frame_bytes(SETTINGS, 0, 0, "") +
      FrameClient::frame_bytes(HEADERS, F_END_HEADERS, 1, block(req())) +
      FrameClient::frame_bytes(DATA, F_END_STREAM, 1, kBody);
  for (char ch : all)
    ASSERT_TRUE(c.write(std::string(1, ch)));
  c.set_next_stream(3);
  Response r;
  ASSERT_TRUE(c.read_response(1, r));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, kBody);
}

// ---- 4.1 Frame format -----------------------------------------------

H2_SECTION(Rfc9113_4_1_FrameFormat);

// "Implementations MUST ignore and discard frames of unknown types."
TEST_F(Rfc9113_4_1_FrameFormat, UnknownFrameTypeIgnored) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  c.frame(0x16, 0, 0, "unknown frame on stream 0");
  c.frame(0xff, 0xff, 1, "unknown frame on an idle stream");
  EXPECT_TRUE(c.expect_alive());
  EXPECT_TRUE(c.serves());
}

// "Flags that have no defined semantics for a particular frame type MUST be
// ignored".
TEST_F(Rfc9113_4_1_FrameFormat, UnknownFlagsIgnored) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  c.frame(PING, 0xfe, 0, kPing); // everything but ACK
  EXPECT_TRUE(c.expect_ping_ack(kPing));
  uint32_t id = c.next_stream();
  // HEADERS with the undefined bits 0x02, 0x10, 0x40, 0x80 set.
  c.headers(id, block(req()), F_END_HEADERS | 0xd2);
  c.frame(DATA, F_END_STREAM | 0xf6 /* not PADDED */, id, kBody);
  Response r;
  ASSERT_TRUE(c.read_response(id, r));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, kBody);
}

// "R: A reserved 1-bit field ... MUST be ignored when receiving."
TEST_F(Rfc9113_4_1_FrameFormat, ReservedBitIgnored) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  c.frame(PING, 0, 0x80000000u, kPing);
  EXPECT_TRUE(c.expect_ping_ack(kPing));
  uint32_t id = c.next_stream();
  c.headers(id | 0x80000000u, block(req()), F_END_HEADERS);
  c.data(id | 0x80000000u, kBody, true);
  Response r;
  ASSERT_TRUE(c.read_response(id, r));
  EXPECT_EQ(r.status, 200);
}

// ---- 4.2 Frame size -------------------------------------------------

H2_SECTION(Rfc9113_4_2_FrameSize);

// "An endpoint MUST send an error code of FRAME_SIZE_ERROR if a frame
// exceeds the size defined in SETTINGS_MAX_FRAME_SIZE". On a DATA frame
// this may be a stream error; nghttp2 makes every oversized frame a
// connection error, which 4.2 and 5.4.1 allow.
TEST_F(Rfc9113_4_2_FrameSize, DataOverMaxFrameSize) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = c.next_stream();
  c.headers(id, block(req()), F_END_HEADERS);
  c.data(id, std::string(16385, 'x'), true);
  EXPECT_STREAM_OR_CONNECTION_ERROR(c, id, FRAME_SIZE_ERROR);
}

// "A frame size error in a frame that could alter the state of the entire
// connection MUST be treated as a connection error; this includes any
// frame carrying a field block".
TEST_F(Rfc9113_4_2_FrameSize, HeadersOverMaxFrameSize) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  Headers h = req();
  h.push_back({"x-pad", std::string(16400, 'p')});
  c.headers(c.next_stream(), block(h), F_END_HEADERS | F_END_STREAM);
  EXPECT_CONNECTION_ERROR(c, FRAME_SIZE_ERROR);
}

// Frames up to the advertised SETTINGS_MAX_FRAME_SIZE are accepted.
TEST_F(Rfc9113_4_2_FrameSize, DataOfExactlyMaxFrameSize) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = c.next_stream();
  std::string body = "{\"text\":\"" + std::string(16384 - 11, 'm') + "\"}";
  ASSERT_EQ(body.size(), 16384u);
  c.headers(id, block(req()), F_END_HEADERS);
  c.data(id, body, true);
  Response r;
  ASSERT_TRUE(c.read_response(id, r));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, body);
}

// ---- 5.5 Extending HTTP/2 -------------------------------------------

H2_SECTION(Rfc9113_5_5_Extensions);

// "Implementations MUST discard frames that have unknown or unsupported
// types" -- also on an open stream, between HEADERS and DATA.
TEST_F(Rfc9113_5_5_Extensions, UnknownFrameOnOpenStreamIgnored) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = c.next_stream();
  c.headers(id, block(req()), F_END_HEADERS);
  c.frame(0x20, 0, id, "extension");
  c.data(id, kBody, true);
  Response r;
  ASSERT_TRUE(c.read_response(id, r));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, kBody);
}

// "... extension frames that appear in the middle of a field block (Section
// 4.3) are not permitted; these MUST be treated as a connection error of
// type PROTOCOL_ERROR."
TEST_F(Rfc9113_5_5_Extensions, UnknownFrameInsideFieldBlock) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = c.next_stream();
  c.headers(id, block(req()), F_END_STREAM);
  c.frame(0x20, 0, id, "extension");
  c.frame(CONTINUATION, F_END_HEADERS, id, "");
  EXPECT_CONNECTION_ERROR(c, PROTOCOL_ERROR);
}

// ---- 6.1 DATA -------------------------------------------------------

H2_SECTION(Rfc9113_6_1_Data);

// "If a DATA frame is received whose Stream Identifier field is 0x00, the
// recipient MUST respond with a connection error of type PROTOCOL_ERROR."
TEST_F(Rfc9113_6_1_Data, OnStreamZero) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  c.data(0, "x", false);
  EXPECT_CONNECTION_ERROR(c, PROTOCOL_ERROR);
}

// "If the length of the padding is the length of the frame payload or
// greater, the recipient MUST treat this as a connection error of type
// PROTOCOL_ERROR."
TEST_F(Rfc9113_6_1_Data, PaddingTooLong) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = c.next_stream();
  c.headers(id, block(req()), F_END_HEADERS);
  // Pad Length 6 with 5 octets after it.
  c.frame(DATA, F_PADDED | F_END_STREAM, id, u8(6) + "abcde");
  EXPECT_CONNECTION_ERROR(c, PROTOCOL_ERROR);
}

// The boundary: Pad Length one less than the payload length is valid (the
// data is empty), and the padding is not data.
TEST_F(Rfc9113_6_1_Data, PaddingFillsPayloadAccepted) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = c.next_stream();
  c.headers(id, block(req()), F_END_HEADERS);
  c.frame(DATA, F_PADDED, id, u8(3) + kBody + std::string(3, '\0'));
  c.frame(DATA, F_PADDED | F_END_STREAM, id, u8(5) + std::string(5, '\0'));
  Response r;
  ASSERT_TRUE(c.read_response(id, r));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, kBody);
}

// A padded body is the body without its padding; padding counts against
// flow control (6.1: "The entire DATA frame payload is included in flow
// control, including the Pad Length and Padding fields"), so a padded body
// larger than the stream window must still get through: the server has to
// return the padding's window too.
TEST_F(Rfc9113_6_1_Data, PaddedBodyLargerThanWindow) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = c.next_stream();
  std::string body = "{\"text\":\"" + std::string(600 * 1024, 'p') + "\"}";
  c.headers(id, block(req()), F_END_HEADERS);
  ASSERT_TRUE(c.send_body(id, body, true, /*pad=*/255));
  Response r;
  ASSERT_TRUE(c.read_response(id, r, 10000));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.size(), body.size());
  EXPECT_TRUE(c.serves());
}

// Zero-length DATA frames and a lone END_STREAM on an empty DATA frame.
TEST_F(Rfc9113_6_1_Data, EmptyDataFrames) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = c.next_stream();
  c.headers(id, block(req()), F_END_HEADERS);
  c.data(id, "", false);
  c.data(id, kBody, false);
  c.data(id, "", false);
  c.data(id, "", true);
  Response r;
  ASSERT_TRUE(c.read_response(id, r));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, kBody);
}

// ---- 6.2 HEADERS ----------------------------------------------------

H2_SECTION(Rfc9113_6_2_Headers);

// "If a HEADERS frame is received whose Stream Identifier field is 0x00,
// the recipient MUST respond with a connection error of type
// PROTOCOL_ERROR."
TEST_F(Rfc9113_6_2_Headers, OnStreamZero) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  c.headers(0, block(req()), F_END_HEADERS | F_END_STREAM);
  EXPECT_CONNECTION_ERROR(c, PROTOCOL_ERROR);
}

// "Padding that exceeds the size remaining for the field block fragment
// MUST be treated as a PROTOCOL_ERROR."
TEST_F(Rfc9113_6_2_Headers, PaddingTooLong) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  std::string b = block(req());
  c.headers(c.next_stream(), u8((uint8_t)(b.size() + 1)) + b,
            F_PADDED | F_END_HEADERS | F_END_STREAM);
  EXPECT_CONNECTION_ERROR(c, PROTOCOL_ERROR);
}

TEST_F(Rfc9113_6_2_Headers, PaddedAndPrioritisedHeadersAccepted) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = c.next_stream();
  std::string p = u8(10) + FrameClient::priority_fields(0, 200, true) +
                  block(req()) + std::string(10, '\0');
  c.headers(id, p, F_PADDED | F_PRIORITY | F_END_HEADERS);
  c.data(id, kBody, true);
  Response r;
  ASSERT_TRUE(c.read_response(id, r));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, kBody);
}

// 5.3.1: "A stream cannot depend on itself. An endpoint MUST treat this as
// a stream error of type PROTOCOL_ERROR." (nghttp2 escalates it.)
TEST_F(Rfc9113_6_2_Headers, PrioritySelfDependency) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = c.next_stream();
  c.headers(id, FrameClient::priority_fields(id, 15) + block(req()),
            F_PRIORITY | F_END_HEADERS | F_END_STREAM);
  EXPECT_STREAM_OR_CONNECTION_ERROR(c, id, PROTOCOL_ERROR);
}

// A HEADERS frame too short for the fields its flags announce.
TEST_F(Rfc9113_6_2_Headers, TooShortForPriorityFields) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  c.headers(c.next_stream(), "abc", F_PRIORITY | F_END_HEADERS);
  ErrKind k;
  // nghttp2 answers FRAME_SIZE_ERROR; the RFC names no code for this.
  EXPECT_TRUE(c.expect_stream_error(1, FRAME_SIZE_ERROR, &k));
  EXPECT_TRUE(fresh_connection_serves(port()));
}

// ---- 6.3 PRIORITY ---------------------------------------------------

H2_SECTION(Rfc9113_6_3_Priority);

// "If a PRIORITY frame is received with a stream identifier of 0x00, the
// recipient MUST respond with a connection error of type PROTOCOL_ERROR."
TEST_F(Rfc9113_6_3_Priority, OnStreamZero) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  c.priority(0, 1);
  EXPECT_CONNECTION_ERROR(c, PROTOCOL_ERROR);
}

// "A PRIORITY frame with a length other than 5 octets MUST be treated as a
// stream error of type FRAME_SIZE_ERROR."
TEST_F(Rfc9113_6_3_Priority, WrongLength) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = c.next_stream();
  c.frame(PRIORITY, 0, id, FrameClient::priority_fields(0, 15) + "x");
  EXPECT_STREAM_OR_CONNECTION_ERROR(c, id, FRAME_SIZE_ERROR);
}

// "The PRIORITY frame can be sent on a stream in any state" -- idle and
// closed ones included; it changes nothing else.
TEST_F(Rfc9113_6_3_Priority, OnIdleAndClosedStreams) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  c.priority(9, 0);
  EXPECT_TRUE(c.expect_alive());
  EXPECT_TRUE(c.serves()); // stream 1, now closed
  c.priority(1, 0);
  EXPECT_TRUE(c.expect_alive());
  // Stream 9 was only prioritised: it is still idle, 3 may open.
  c.set_next_stream(3);
  EXPECT_TRUE(c.serves());
}

// 5.3.1 for the PRIORITY frame.
TEST_F(Rfc9113_6_3_Priority, SelfDependency) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = c.next_stream();
  c.headers(id, block(req()), F_END_HEADERS);
  c.priority(id, id);
  EXPECT_STREAM_OR_CONNECTION_ERROR(c, id, PROTOCOL_ERROR);
}

// ---- 6.4 RST_STREAM -------------------------------------------------

H2_SECTION(Rfc9113_6_4_RstStream);

// "If a RST_STREAM frame is received with a stream identifier of 0x0, the
// recipient MUST treat this as a connection error of type PROTOCOL_ERROR."
TEST_F(Rfc9113_6_4_RstStream, OnStreamZero) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  c.rst(0, CANCEL);
  EXPECT_CONNECTION_ERROR(c, PROTOCOL_ERROR);
}

// "If a RST_STREAM frame identifying an idle stream is received, the
// recipient MUST treat this as a connection error of type PROTOCOL_ERROR."
TEST_F(Rfc9113_6_4_RstStream, OnIdleStream) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  c.rst(1, CANCEL);
  EXPECT_CONNECTION_ERROR(c, PROTOCOL_ERROR);
}

// "A RST_STREAM frame with a length other than 4 octets MUST be treated as
// a connection error of type FRAME_SIZE_ERROR."
TEST_F(Rfc9113_6_4_RstStream, WrongLength) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = c.next_stream();
  c.headers(id, block(req()), F_END_HEADERS);
  c.frame(RST_STREAM, 0, id, u32(CANCEL) + "x");
  EXPECT_CONNECTION_ERROR(c, FRAME_SIZE_ERROR);
}

// A reset in the middle of a request frees the stream; the connection goes
// on (5.4.2: a stream error does not affect other streams).
TEST_F(Rfc9113_6_4_RstStream, ResetOpenStreamThenServe) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = c.next_stream();
  c.headers(id, block(req()), F_END_HEADERS);
  c.data(id, "{\"te", false);
  c.rst(id, CANCEL);
  EXPECT_TRUE(c.expect_alive());
  EXPECT_TRUE(c.serves());
}

// ---- 6.5 SETTINGS ---------------------------------------------------

H2_SECTION(Rfc9113_6_5_Settings);

// 6.5.3: "Upon receiving a SETTINGS frame, the recipient MUST immediately
// emit a SETTINGS frame with the ACK flag set."
TEST_F(Rfc9113_6_5_Settings, AckSent) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake()); // waits for the ACK of the first SETTINGS
  c.settings({{S_MAX_CONCURRENT_STREAMS, 50}, {S_HEADER_TABLE_SIZE, 4096}});
  Frame f;
  auto until = FrameClient::deadline(kReadMs);
  while (c.settings_acked_ == 0)
    ASSERT_EQ(c.read(f, until), Got::Frame) << c.trail();
  EXPECT_TRUE(c.serves());
}

// "Receipt of a SETTINGS frame with the ACK flag set and a length field
// value other than 0 MUST be treated as a connection error of type
// FRAME_SIZE_ERROR."
TEST_F(Rfc9113_6_5_Settings, AckWithPayload) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  c.frame(SETTINGS, F_ACK, 0, FrameClient::settings_payload({{3, 100}}));
  EXPECT_CONNECTION_ERROR(c, FRAME_SIZE_ERROR);
}

// "If an endpoint receives a SETTINGS frame whose Stream Identifier field
// is anything other than 0x00, the endpoint MUST respond with a connection
// error of type PROTOCOL_ERROR."
TEST_F(Rfc9113_6_5_Settings, NonZeroStream) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  c.frame(SETTINGS, 0, 1, FrameClient::settings_payload({{3, 100}}));
  EXPECT_CONNECTION_ERROR(c, PROTOCOL_ERROR);
}

// "A SETTINGS frame with a length other than a multiple of 6 octets MUST
// be treated as a connection error of type FRAME_SIZE_ERROR."
TEST_F(Rfc9113_6_5_Settings, LengthNotMultipleOfSix) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  c.frame(SETTINGS, 0, 0, u16(S_MAX_CONCURRENT_STREAMS) + u16(100));
  EXPECT_CONNECTION_ERROR(c, FRAME_SIZE_ERROR);
}

// SETTINGS_ENABLE_PUSH: "Any value other than 0 or 1 MUST be treated as a
// connection error of type PROTOCOL_ERROR."
TEST_F(Rfc9113_6_5_Settings, EnablePushInvalid) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  c.settings({{S_ENABLE_PUSH, 2}});
  EXPECT_CONNECTION_ERROR(c, PROTOCOL_ERROR);
}

// SETTINGS_INITIAL_WINDOW_SIZE: "Values above the maximum flow-control
// window size of 2^31-1 MUST be treated as a connection error of type
// FLOW_CONTROL_ERROR."
TEST_F(Rfc9113_6_5_Settings, InitialWindowSizeTooLarge) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  c.settings({{S_INITIAL_WINDOW_SIZE, 0x80000000u}});
  EXPECT_CONNECTION_ERROR(c, FLOW_CONTROL_ERROR);
}

TEST_F(Rfc9113_6_5_Settings, InitialWindowSizeMaximumAccepted) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake({{S_INITIAL_WINDOW_SIZE, 0x7fffffffu}}));
  EXPECT_TRUE(c.serves());
}

// SETTINGS_MAX_FRAME_SIZE: "Values outside this range [2^14, 2^24-1] MUST
// be treated as a connection error of type PROTOCOL_ERROR."
TEST_F(Rfc9113_6_5_Settings, MaxFrameSizeBelowMinimum) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  c.settings({{S_MAX_FRAME_SIZE, 16383}});
  EXPECT_CONNECTION_ERROR(c, PROTOCOL_ERROR);
}

TEST_F(Rfc9113_6_5_Settings, MaxFrameSizeAboveMaximum) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  c.settings({{S_MAX_FRAME_SIZE, 1u << 24}});
  EXPECT_CONNECTION_ERROR(c, PROTOCOL_ERROR);
}

// "An endpoint that receives a SETTINGS frame with any unknown or
// unsupported identifier MUST ignore that setting."
TEST_F(Rfc9113_6_5_Settings, UnknownSettingIgnored) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake({{0xff, 1}, {0x7777, 0xffffffffu}}));
  EXPECT_TRUE(c.serves());
}

// "The SETTINGS frame ... if the same parameter occurs more than once, the
// last value is used" (values are processed in order): a window of 0 then
// 65535 must leave the response unblocked.
TEST_F(Rfc9113_6_5_Settings, RepeatedParameterLastWins) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake(
      {{S_INITIAL_WINDOW_SIZE, 0}, {S_INITIAL_WINDOW_SIZE, 65535}}));
  EXPECT_TRUE(c.serves());
}

// SETTINGS_MAX_FRAME_SIZE (6.5.2): the server's frames never exceed the
// client's value, the default 16384 or a larger one it announced.
TEST_F(Rfc9113_6_5_Settings, ServerRespectsClientMaxFrameSize) {
  for (uint32_t max : {16384u, 20000u}) {
    FrameClient c(port());
    ASSERT_TRUE(c.handshake(
        {{S_INITIAL_WINDOW_SIZE, 1 << 20}, {S_MAX_FRAME_SIZE, max}}));
    c.window_update(0, 1 << 20);
    uint32_t id = c.next_stream();
    std::string body = "{\"text\":\"" + std::string(100000, 'f') + "\"}";
    c.headers(id, block(req()), F_END_HEADERS);
    ASSERT_TRUE(c.send_body(id, body, true));
    Response r;
    ASSERT_TRUE(c.read_response(id, r));
    EXPECT_EQ(r.body.size(), body.size());
    EXPECT_GT(c.max_frame_len_seen, 0u);
    EXPECT_LE(c.max_frame_len_seen, max);
  }
}

// SETTINGS_HEADER_TABLE_SIZE 0: the server's encoder must stop using its
// dynamic table (RFC 7541 4.2: it signals the new size with a dynamic table
// size update); our decoder, shrunk to 0, rejects any reference to it.
TEST_F(Rfc9113_6_5_Settings, HeaderTableSizeZeroHonoured) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake({{S_HEADER_TABLE_SIZE, 0}}));
  nghttp2_hd_inflate_change_table_size(c.inflater(), 0);
  for (int i = 0; i < 3; i++)
    EXPECT_TRUE(c.serves());
  EXPECT_FALSE(c.hpack_error);
}

// ---- 6.7 PING -------------------------------------------------------

H2_SECTION(Rfc9113_6_7_Ping);

// "Receivers of a PING frame that does not include an ACK flag MUST send a
// PING frame with the ACK flag set in response, with an identical frame
// payload."
TEST_F(Rfc9113_6_7_Ping, AckWithSamePayload) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  c.ping(std::string("\x00\x01\x02\xfe\xff\x80\x7f\x00", 8));
  EXPECT_TRUE(
      c.expect_ping_ack(std::string("\x00\x01\x02\xfe\xff\x80\x7f\x00", 8)));
}

// "An endpoint MUST NOT respond to PING frames containing this flag."
TEST_F(Rfc9113_6_7_Ping, AckIsNotAnswered) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  c.ping("unasked!", true);
  c.ping(kPing);
  // The first PING back must be the answer to the second one.
  EXPECT_TRUE(c.expect_ping_ack(kPing));
}

// "If a PING frame is received with a Stream Identifier field value other
// than 0x00, the recipient MUST respond with a connection error of type
// PROTOCOL_ERROR."
TEST_F(Rfc9113_6_7_Ping, NonZeroStream) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  c.frame(PING, 0, 1, kPing);
  EXPECT_CONNECTION_ERROR(c, PROTOCOL_ERROR);
}

// "Receipt of a PING frame with a length field value other than 8 MUST be
// treated as a connection error of type FRAME_SIZE_ERROR."
TEST_F(Rfc9113_6_7_Ping, WrongLength) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  c.frame(PING, 0, 0, "123456");
  EXPECT_CONNECTION_ERROR(c, FRAME_SIZE_ERROR);
}

// Many PINGs in one write are each answered.
TEST_F(Rfc9113_6_7_Ping, ManyPingsAllAnswered) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  std::string burst;
  for (int i = 0; i < 50; i++)
    burst +=
        FrameClient::frame_bytes(PING, 0, 0, "ping" + std::to_string(1000 + i));
  c.write(burst);
  for (int i = 0; i < 50; i++)
    ASSERT_TRUE(c.expect_ping_ack("ping" + std::to_string(1000 + i)));
}

// ---- 6.8 GOAWAY -----------------------------------------------------

H2_SECTION(Rfc9113_6_8_Goaway);

// "An endpoint MUST treat a GOAWAY frame with a stream identifier other
// than 0x00 as a connection error of type PROTOCOL_ERROR."
TEST_F(Rfc9113_6_8_Goaway, NonZeroStream) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  c.goaway(0, NO_ERROR, 1);
  EXPECT_CONNECTION_ERROR(c, PROTOCOL_ERROR);
}

// A client's GOAWAY says the *server* may open no more streams; the
// client's own streams are still answered ("Activity on streams numbered
// lower than or equal to the last stream identifier might still complete
// successfully"), then the connection may close.
TEST_F(Rfc9113_6_8_Goaway, ClientGoawayLetsOpenStreamsFinish) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = c.next_stream();
  std::string body = R"({"text":"slow","delay_ms":300})";
  c.headers(id, block(req()), F_END_HEADERS);
  c.data(id, body, true);
  c.goaway(0, NO_ERROR);
  Response r;
  ASSERT_TRUE(c.read_response(id, r));
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("slow"), std::string::npos);
  EXPECT_TRUE(fresh_connection_serves(port()));
}

// ---- 6.9 WINDOW_UPDATE ----------------------------------------------

H2_SECTION(Rfc9113_6_9_WindowUpdate);

// "A receiver MUST treat the receipt of a WINDOW_UPDATE frame with a
// flow-control window increment of 0 as a stream error of type
// PROTOCOL_ERROR; errors on the connection flow-control window MUST be
// treated as a connection error".
TEST_F(Rfc9113_6_9_WindowUpdate, ZeroIncrementOnConnection) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  c.window_update(0, 0);
  EXPECT_CONNECTION_ERROR(c, PROTOCOL_ERROR);
}

TEST_F(Rfc9113_6_9_WindowUpdate, ZeroIncrementOnStream) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = c.next_stream();
  c.headers(id, block(req()), F_END_HEADERS);
  c.window_update(id, 0);
  EXPECT_STREAM_OR_CONNECTION_ERROR(c, id, PROTOCOL_ERROR);
}

// "A WINDOW_UPDATE frame with a length other than 4 octets MUST be treated
// as a connection error of type FRAME_SIZE_ERROR."
TEST_F(Rfc9113_6_9_WindowUpdate, WrongLength) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  c.frame(WINDOW_UPDATE, 0, 0, u32(1) + "x");
  EXPECT_CONNECTION_ERROR(c, FRAME_SIZE_ERROR);
}

// 6.9.1: "If a sender receives a WINDOW_UPDATE that causes a flow-control
// window to exceed this maximum, it MUST terminate either the stream or the
// connection, as appropriate ... with an error code of FLOW_CONTROL_ERROR".
TEST_F(Rfc9113_6_9_WindowUpdate, ConnectionWindowOverflow) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  c.window_update(0, 0x7fffffffu);
  EXPECT_CONNECTION_ERROR(c, FLOW_CONTROL_ERROR);
}

TEST_F(Rfc9113_6_9_WindowUpdate, StreamWindowOverflow) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = c.next_stream();
  c.headers(id, block(req()), F_END_HEADERS);
  c.window_update(id, 0x7fffffffu);
  EXPECT_STREAM_OR_CONNECTION_ERROR(c, id, FLOW_CONTROL_ERROR);
}

// Up to exactly 2^31-1 is fine.
TEST_F(Rfc9113_6_9_WindowUpdate, ConnectionWindowToExactMaximum) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  c.window_update(0, 0x7fffffffu - 65535);
  EXPECT_TRUE(c.expect_alive());
  EXPECT_TRUE(c.serves());
}

// A WINDOW_UPDATE on a closed stream is not an error ("WINDOW_UPDATE can be
// sent by a peer that has sent a frame with the END_STREAM flag set",
// and 5.1 lets it arrive on closed streams for a short while).
TEST_F(Rfc9113_6_9_WindowUpdate, OnClosedStreamIgnored) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  ASSERT_TRUE(c.serves());
  c.window_update(1, 100);
  EXPECT_TRUE(c.expect_alive());
  EXPECT_TRUE(c.serves());
}

// 6.9.2: "When the value of SETTINGS_INITIAL_WINDOW_SIZE changes, a
// receiver MUST adjust the size of all stream flow-control windows that it
// maintains by the difference". With a window of 1 the server sends one
// byte of the response; raising the setting (no WINDOW_UPDATE) must
// release the rest.
TEST_F(Rfc9113_6_9_WindowUpdate, InitialWindowChangeAppliesToOpenStreams) {
  FrameClient c(port());
  c.auto_window = false;
  ASSERT_TRUE(c.handshake({{S_INITIAL_WINDOW_SIZE, 1}}));
  uint32_t id = c.next_stream();
  c.headers(id, block(req()), F_END_HEADERS);
  c.data(id, kBody, true);
  Response r;
  auto got = c.read_response(id, r, 1000); // times out: window spent
  EXPECT_FALSE(got);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.size(), 1u) << "server ignored a stream window of 1";
  c.settings({{S_INITIAL_WINDOW_SIZE, 65535}});
  Response rest;
  ASSERT_TRUE(c.read_response(id, rest));
  EXPECT_EQ(r.body + rest.body, kBody);
}

// 6.9.2: a SETTINGS_INITIAL_WINDOW_SIZE change "can cause the available
// space in a flow-control window to become negative"; the sender then waits
// for WINDOW_UPDATEs that make it positive again.
TEST_F(Rfc9113_6_9_WindowUpdate, NegativeWindowThenRecovers) {
  FrameClient c(port());
  c.auto_window = false;
  ASSERT_TRUE(c.handshake({{S_INITIAL_WINDOW_SIZE, 10}}));
  uint32_t id = c.next_stream();
  c.headers(id, block(req()), F_END_HEADERS);
  c.data(id, kBody, true);
  Response r;
  EXPECT_FALSE(c.read_response(id, r, 1000));
  EXPECT_EQ(r.body.size(), 10u);
  c.settings({{S_INITIAL_WINDOW_SIZE, 0}}); // window now -10
  c.window_update(id, 10);                  // back to 0: still blocked
  Response none;
  EXPECT_FALSE(c.read_response(id, none, 500));
  EXPECT_EQ(none.body.size(), 0u);
  c.window_update(id, 1000);
  Response rest;
  ASSERT_TRUE(c.read_response(id, rest));
  EXPECT_EQ(r.body + rest.body, kBody);
}

// The server never sends more than the client's windows allow: with the
// connection window left at 65535 and no WINDOW_UPDATE, a large server
// stream stops at 65535 bytes; WINDOW_UPDATEs then let the rest through.
TEST_F(Rfc9113_6_9_WindowUpdate, ServerRespectsConnectionWindow) {
  FrameClient c(port());
  c.auto_window = false;
  ASSERT_TRUE(c.handshake({{S_INITIAL_WINDOW_SIZE, 1 << 20}}));
  uint32_t id = c.next_stream();
  c.headers(id, block(req(kServerStream, "application/connect+json")),
            F_END_HEADERS);
  c.data(
      id,
      envelope(R"({"text":")" + std::string(1000, 'w') + R"(","repeat":100})"),
      true);
  Response r;
  EXPECT_FALSE(c.read_response(id, r, 1000));
  EXPECT_EQ(r.body.size(), 65535u);
  c.auto_window = true;
  c.window_update(0, 1 << 20);
  Response rest;
  ASSERT_TRUE(c.read_response(id, rest));
  EXPECT_GT(r.body.size() + rest.body.size(), 100000u);
}

// ---- 6.10 CONTINUATION ----------------------------------------------

H2_SECTION(Rfc9113_6_10_Continuation);

TEST_F(Rfc9113_6_10_Continuation, FieldBlockSplitAcrossFrames) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = c.next_stream();
  std::string b = block(req());
  // Split inside a string literal, and one empty CONTINUATION.
  c.headers(id, b.substr(0, 7), 0);
  c.frame(CONTINUATION, 0, id, b.substr(7, 20));
  c.frame(CONTINUATION, 0, id, "");
  c.frame(CONTINUATION, F_END_HEADERS, id, b.substr(27));
  c.data(id, kBody, true);
  Response r;
  ASSERT_TRUE(c.read_response(id, r));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, kBody);
}

// "A HEADERS frame without the END_HEADERS flag set MUST be followed by a
// CONTINUATION frame for the same stream. A receiver MUST treat the receipt
// of any other type of frame or a frame on a different stream as a
// connection error of type PROTOCOL_ERROR."
TEST_F(Rfc9113_6_10_Continuation, InterleavedPing) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = c.next_stream();
  std::string b = block(req());
  c.headers(id, b.substr(0, 10), F_END_STREAM);
  c.ping(kPing);
  c.frame(CONTINUATION, F_END_HEADERS, id, b.substr(10));
  EXPECT_CONNECTION_ERROR(c, PROTOCOL_ERROR);
}

TEST_F(Rfc9113_6_10_Continuation, InterleavedHeadersOnOtherStream) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  std::string b = block(req());
  c.headers(1, b.substr(0, 10), F_END_STREAM);
  c.headers(3, b, F_END_HEADERS | F_END_STREAM);
  EXPECT_CONNECTION_ERROR(c, PROTOCOL_ERROR);
}

TEST_F(Rfc9113_6_10_Continuation, OnDifferentStream) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  std::string b = block(req());
  c.headers(1, b.substr(0, 10), F_END_STREAM);
  c.frame(CONTINUATION, F_END_HEADERS, 3, b.substr(10));
  EXPECT_CONNECTION_ERROR(c, PROTOCOL_ERROR);
}

// "If a CONTINUATION frame is received with a Stream Identifier field of
// 0x00, the recipient MUST respond with a connection error of type
// PROTOCOL_ERROR."
TEST_F(Rfc9113_6_10_Continuation, OnStreamZero) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  std::string b = block(req());
  c.headers(1, b.substr(0, 10), F_END_STREAM);
  c.frame(CONTINUATION, F_END_HEADERS, 0, b.substr(10));
  EXPECT_CONNECTION_ERROR(c, PROTOCOL_ERROR);
}

// "A CONTINUATION frame MUST be preceded by a HEADERS, PUSH_PROMISE or
// CONTINUATION frame without the END_HEADERS flag set. A recipient that
// observes violation of this rule MUST respond with a connection error of
// type PROTOCOL_ERROR."
TEST_F(Rfc9113_6_10_Continuation, AfterEndHeaders) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = c.next_stream();
  c.headers(id, block(req()), F_END_HEADERS);
  c.frame(CONTINUATION, F_END_HEADERS, id, lit("x-late", "1"));
  EXPECT_CONNECTION_ERROR(c, PROTOCOL_ERROR);
}

TEST_F(Rfc9113_6_10_Continuation, OnIdleStreamWithoutHeaders) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  c.frame(CONTINUATION, F_END_HEADERS, 1, block(req()));
  EXPECT_CONNECTION_ERROR(c, PROTOCOL_ERROR);
}

// A field block split over CONTINUATIONs that adds up to more than the
// server's header-list limit (16 KiB, advertised as
// SETTINGS_MAX_HEADER_LIST_SIZE) ends as a 431 for that stream (see
// "Limits" in docs/HTTP2.md); the connection goes on.
TEST_F(Rfc9113_6_10_Continuation, HeaderListLimitAcrossContinuations) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = c.next_stream();
  c.headers(id, block(req()), F_END_STREAM);
  for (int i = 0; i < 7; i++)
    c.frame(CONTINUATION, 0, id,
            lit("x-c" + std::to_string(i), std::string(2500, 'c')));
  c.frame(CONTINUATION, F_END_HEADERS, id, "");
  Response r;
  ASSERT_TRUE(c.read_response(id, r));
  EXPECT_EQ(r.rst, ~0u);
  EXPECT_EQ(r.status, 431);
  EXPECT_TRUE(c.serves());
}

// RFC 9113 sets no limit on CONTINUATION frames, but 10.5 lets an endpoint
// limit what a peer can make it buffer and process, and nghttp2 allows 8
// CONTINUATIONs per field block (the CVE-2024-27316 family of floods).
// Beyond that the connection must end with a GOAWAY, not just a closed
// socket: 5.4.1, "An endpoint that encounters a connection error SHOULD
// first send a GOAWAY frame". weft sends ENHANCE_YOUR_CALM ("the peer is
// exhibiting a behavior that might be generating excessive load").
TEST_F(Rfc9113_6_10_Continuation, ContinuationFloodGetsGoaway) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = c.next_stream();
  c.headers(id, block(req()), F_END_STREAM);
  for (int i = 0; i < 40; i++)
    c.frame(CONTINUATION, 0, id, lit("x-c" + std::to_string(i), "v"));
  c.frame(CONTINUATION, F_END_HEADERS, id, "");
  EXPECT_CONNECTION_ERROR(c, 0xb /* ENHANCE_YOUR_CALM */);
}

// ---- 7 Error codes --------------------------------------------------

H2_SECTION(Rfc9113_7_ErrorCodes);

// "Unknown or unsupported error codes MUST NOT trigger any special
// behavior. These MAY be treated by an implementation as being equivalent
// to INTERNAL_ERROR."
TEST_F(Rfc9113_7_ErrorCodes, UnknownCodeInRstStream) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = c.next_stream();
  c.headers(id, block(req()), F_END_HEADERS);
  c.rst(id, 0xdeadbeef);
  EXPECT_TRUE(c.expect_alive());
  EXPECT_TRUE(c.serves());
}

TEST_F(Rfc9113_7_ErrorCodes, UnknownCodeInGoaway) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  c.goaway(0, 0xdeadbeef);
  // The server may close (we said goodbye) but must not answer with an
  // error of its own.
  auto until = FrameClient::deadline(1000);
  Frame f;
  while (c.read(f, until) == Got::Frame) {
    if (f.type == GOAWAY) {
      EXPECT_EQ(get32(f.payload, 4), NO_ERROR) << f.describe();
    }
  }
  EXPECT_TRUE(fresh_connection_serves(port()));
}

} // namespace

namespace {

// ---- 6.6 PUSH_PROMISE / 8.4 server push -------------------------------

H2_SECTION(Rfc9113_8_4_Push);

// 8.4: "A client cannot push. Thus, servers MUST treat the receipt of a
// PUSH_PROMISE frame as a connection error of type PROTOCOL_ERROR."
TEST_F(Rfc9113_8_4_Push, PushPromiseFromClient) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = c.next_stream();
  c.headers(id, block(req()), F_END_HEADERS);
  c.frame(PUSH_PROMISE, F_END_HEADERS, id, u32(2) + block(req()));
  EXPECT_CONNECTION_ERROR(c, PROTOCOL_ERROR);
}

// A client that allows push (SETTINGS_ENABLE_PUSH 1) is served normally
// (weft never pushes).
TEST_F(Rfc9113_8_4_Push, EnablePushAccepted) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake({{S_ENABLE_PUSH, 1}}));
  EXPECT_TRUE(c.serves());
  for (auto &s : c.seen)
    EXPECT_NE(s.rfind("type=5 ", 0), 0u) << s;
}

} // namespace
