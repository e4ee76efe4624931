// RFC 9113 sections 4.3 and 8 (field blocks, HTTP message rules) and RFC
// 7541 (HPACK decoding errors). Field-level malformations are stream
// errors (8.1.1: "Malformed requests or responses that are detected MUST
// be treated as a stream error of type PROTOCOL_ERROR"); HPACK decoding
// errors are connection errors (4.3: "A decoding error in a field block
// MUST be treated as a connection error of type COMPRESSION_ERROR").
#include "conf_util.h"

using namespace h2conf;

namespace {

const std::string kBody = R"({"text":"conformance"})";

// Sends `h` as a request on a new stream, with the body.
uint32_t send_request(FrameClient &c, const Headers &h,
                      const std::string &body = kBody) {
  uint32_t id = c.next_stream();
  c.headers(id, block(h), F_END_HEADERS | (body.empty() ? F_END_STREAM : 0));
  if (!body.empty())
    c.data(id, body, true);
  return id;
}

Headers with(Headers h, const std::string &k, const std::string &v) {
  h.push_back({k, v});
  return h;
}

Headers without(const Headers &h, const std::string &k) {
  Headers out;
  for (auto &kv : h)
    if (kv.first != k)
      out.push_back(kv);
  return out;
}

// ---- 8.2 HTTP fields ------------------------------------------------

H2_SECTION(Rfc9113_8_2_Fields);

// 8.2: "A request or response containing uppercase characters in field
// names MUST be treated as malformed".
TEST_F(Rfc9113_8_2_Fields, UppercaseFieldName) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = send_request(c, with(req(), "X-Upper", "1"));
  EXPECT_STREAM_ERROR(c, id, PROTOCOL_ERROR);
}

// 8.2.1: "A field name MUST NOT contain characters in the ranges 0x00-0x20,
// 0x41-0x5a, or 0x7f-0xff".
TEST_F(Rfc9113_8_2_Fields, SpaceInFieldName) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = send_request(c, with(req(), "x bad", "1"));
  EXPECT_STREAM_ERROR(c, id, PROTOCOL_ERROR);
}

// 8.2.1: "A field value MUST NOT contain the zero value (ASCII NUL), line
// feed (ASCII LF), or carriage return (ASCII CR) at any position."
TEST_F(Rfc9113_8_2_Fields, NewlineInFieldValue) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = send_request(c, with(req(), "x-split", "a\r\nx-injected: 1"));
  EXPECT_STREAM_ERROR(c, id, PROTOCOL_ERROR);
}

TEST_F(Rfc9113_8_2_Fields, NulInFieldValue) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = send_request(c, with(req(), "x-nul", std::string("a\0b", 3)));
  EXPECT_STREAM_ERROR(c, id, PROTOCOL_ERROR);
}

// 8.2.1: "A field value MUST NOT start or end with an ASCII whitespace
// character".
TEST_F(Rfc9113_8_2_Fields, LeadingWhitespaceInFieldValue) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = send_request(c, with(req(), "x-ws", " padded"));
  EXPECT_STREAM_ERROR(c, id, PROTOCOL_ERROR);
}

// 8.2.2: "An endpoint MUST NOT generate an HTTP/2 message containing
// connection-specific header fields ... Any message containing
// connection-specific header fields MUST be treated as malformed".
TEST_F(Rfc9113_8_2_Fields, ConnectionHeader) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = send_request(c, with(req(), "connection", "keep-alive"));
  EXPECT_STREAM_ERROR(c, id, PROTOCOL_ERROR);
}

TEST_F(Rfc9113_8_2_Fields, KeepAliveHeader) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = send_request(c, with(req(), "keep-alive", "timeout=5"));
  EXPECT_STREAM_ERROR(c, id, PROTOCOL_ERROR);
}

TEST_F(Rfc9113_8_2_Fields, TransferEncodingHeader) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = send_request(c, with(req(), "transfer-encoding", "chunked"));
  EXPECT_STREAM_ERROR(c, id, PROTOCOL_ERROR);
}

TEST_F(Rfc9113_8_2_Fields, UpgradeHeader) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = send_request(c, with(req(), "upgrade", "h2c"));
  EXPECT_STREAM_ERROR(c, id, PROTOCOL_ERROR);
}

// "The only exception to this is the TE header field, which MAY be present
// in an HTTP/2 request; when it is, it MUST NOT contain any value other
// than "trailers"."
TEST_F(Rfc9113_8_2_Fields, TeOtherThanTrailers) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = send_request(c, with(req(), "te", "gzip"));
  EXPECT_STREAM_ERROR(c, id, PROTOCOL_ERROR);
}

TEST_F(Rfc9113_8_2_Fields, TeTrailersAccepted) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = send_request(c, with(req(), "te", "trailers"));
  Response r;
  ASSERT_TRUE(c.read_response(id, r));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, kBody);
}

// ---- 8.3 HTTP control data (pseudo-headers) -------------------------

H2_SECTION(Rfc9113_8_3_PseudoHeaders);

// 8.3: "Pseudo-header fields MUST NOT appear in a trailer section ...
// Endpoints MUST NOT generate pseudo-header fields other than those defined
// in this document ... All pseudo-header fields MUST appear in a field
// block before all regular field lines. Any request or response that
// contains a pseudo-header field that appears in a field block after a
// regular field line MUST be treated as malformed".
TEST_F(Rfc9113_8_3_PseudoHeaders, PseudoAfterRegular) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  Headers h = {{":method", "POST"},
               {":scheme", "http"},
               {"content-type", "application/json"},
               {":path", kUnary}};
  uint32_t id = send_request(c, h);
  EXPECT_STREAM_ERROR(c, id, PROTOCOL_ERROR);
}

// "Pseudo-header fields that are unknown or not defined for the message
// type MUST be treated as malformed".
TEST_F(Rfc9113_8_3_PseudoHeaders, UnknownPseudoHeader) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  Headers h = req();
  h.insert(h.begin(), {":weft", "1"});
  uint32_t id = send_request(c, h);
  EXPECT_STREAM_ERROR(c, id, PROTOCOL_ERROR);
}

TEST_F(Rfc9113_8_3_PseudoHeaders, ResponsePseudoHeaderInRequest) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  Headers h = req();
  h.insert(h.begin(), {":status", "200"});
  uint32_t id = send_request(c, h);
  EXPECT_STREAM_ERROR(c, id, PROTOCOL_ERROR);
}

// 8.3.1: "All HTTP/2 requests MUST include exactly one valid value for the
// :method, :scheme, and :path pseudo-header fields, unless they are CONNECT
// requests".
TEST_F(Rfc9113_8_3_PseudoHeaders, MissingMethod) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = send_request(c, without(req(), ":method"));
  EXPECT_STREAM_ERROR(c, id, PROTOCOL_ERROR);
}

TEST_F(Rfc9113_8_3_PseudoHeaders, MissingScheme) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = send_request(c, without(req(), ":scheme"));
  EXPECT_STREAM_ERROR(c, id, PROTOCOL_ERROR);
}

TEST_F(Rfc9113_8_3_PseudoHeaders, MissingPath) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = send_request(c, without(req(), ":path"));
  EXPECT_STREAM_ERROR(c, id, PROTOCOL_ERROR);
}

// ":path ... This pseudo-header field MUST NOT be empty for "http" or
// "https" URIs".
TEST_F(Rfc9113_8_3_PseudoHeaders, EmptyPath) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  Headers h = without(req(), ":path");
  h.insert(h.begin() + 2, {":path", ""});
  uint32_t id = send_request(c, h);
  EXPECT_STREAM_ERROR(c, id, PROTOCOL_ERROR);
}

TEST_F(Rfc9113_8_3_PseudoHeaders, DuplicateMethod) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  Headers h = req();
  h.insert(h.begin(), {":method", "POST"});
  uint32_t id = send_request(c, h);
  EXPECT_STREAM_ERROR(c, id, PROTOCOL_ERROR);
}

TEST_F(Rfc9113_8_3_PseudoHeaders, DuplicatePath) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  Headers h = req();
  h.insert(h.begin(), {":path", "/other"});
  uint32_t id = send_request(c, h);
  EXPECT_STREAM_ERROR(c, id, PROTOCOL_ERROR);
}

// A valid request the server does not support (GET of a method with side
// effects) is not malformed: it gets an HTTP answer (weft: 405), not a
// reset.
TEST_F(Rfc9113_8_3_PseudoHeaders, GetIsAnsweredNotReset) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  Headers h = without(req(kServerStream), ":method");
  h.insert(h.begin(), {":method", "GET"});
  uint32_t id = send_request(c, h, "");
  Response r;
  ASSERT_TRUE(c.read_response(id, r));
  EXPECT_EQ(r.rst, ~0u);
  EXPECT_EQ(r.status, 405);
  EXPECT_TRUE(c.serves());
}

// ---- 8.1 HTTP message framing ---------------------------------------

H2_SECTION(Rfc9113_8_1_Messages);

// 8.1.1: "A request or response is also malformed if the value of a
// content-length header field does not equal the sum of the DATA frame
// payload lengths that form the content".
TEST_F(Rfc9113_8_1_Messages, ContentLengthLargerThanBody) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = send_request(c, with(req(), "content-length", "1000"));
  EXPECT_STREAM_ERROR(c, id, PROTOCOL_ERROR);
}

TEST_F(Rfc9113_8_1_Messages, ContentLengthSmallerThanBody) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = c.next_stream();
  c.headers(id, block(with(req(), "content-length", "5")), F_END_HEADERS);
  c.data(id, kBody.substr(0, 5), false);
  c.data(id, kBody.substr(5), true);
  EXPECT_STREAM_ERROR(c, id, PROTOCOL_ERROR);
}

TEST_F(Rfc9113_8_1_Messages, ContentLengthMatchingAccepted) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = send_request(
      c, with(req(), "content-length", std::to_string(kBody.size())));
  Response r;
  ASSERT_TRUE(c.read_response(id, r));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, kBody);
}

// A trailer section ends the request: the call is dispatched when the
// trailers' END_STREAM arrives.
TEST_F(Rfc9113_8_1_Messages, TrailersEndTheRequest) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = c.next_stream();
  c.headers(id, block(req()), F_END_HEADERS);
  c.data(id, kBody, false);
  c.headers(id, block({{"x-trailer", "t"}}), F_END_HEADERS | F_END_STREAM);
  Response r;
  ASSERT_TRUE(c.read_response(id, r));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, kBody);
}

// 8.1: "An endpoint that receives a HEADERS frame without the END_STREAM
// flag set after receiving the HEADERS frame that opens a request or after
// receiving a final (non-informational) status code MUST treat the
// corresponding request or response as malformed".
TEST_F(Rfc9113_8_1_Messages, SecondHeadersWithoutEndStream) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = c.next_stream();
  c.headers(id, block(req()), F_END_HEADERS);
  c.data(id, kBody, false);
  c.headers(id, block({{"x-trailer", "t"}}), F_END_HEADERS);
  EXPECT_STREAM_ERROR(c, id, PROTOCOL_ERROR);
}

// 8.1: "Trailers MUST NOT include pseudo-header fields".
TEST_F(Rfc9113_8_1_Messages, PseudoHeaderInTrailers) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = c.next_stream();
  c.headers(id, block(req()), F_END_HEADERS);
  c.data(id, kBody, false);
  c.headers(id, block({{":path", "/x"}}), F_END_HEADERS | F_END_STREAM);
  EXPECT_STREAM_ERROR(c, id, PROTOCOL_ERROR);
}

// A request may have no content at all (8.1: HEADERS with END_STREAM, no
// DATA). For Connect that is an empty message: valid protobuf (200), and
// not valid JSON (a Connect error, not a reset). Found by fuzz_h2_server
// with the conformance seeds: the empty body reached the decoders as a
// NULL pointer, and NULL + 0 is undefined behaviour (UBSan aborted the
// server).
TEST_F(Rfc9113_8_1_Messages, RequestWithoutContent) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = send_request(c, req(kUnary, "application/proto"), "");
  Response r;
  ASSERT_TRUE(c.read_response(id, r));
  EXPECT_EQ(r.rst, ~0u);
  EXPECT_EQ(r.status, 200);
  id = send_request(c, req(kUnary, "application/json"), "");
  Response j;
  ASSERT_TRUE(c.read_response(id, j));
  EXPECT_EQ(j.rst, ~0u);
  EXPECT_EQ(j.status, 400) << j.body;
  EXPECT_TRUE(c.serves());
}

// Malformed streaming calls: the handler of a server-streaming method is
// dispatched when the headers arrive, so a content-length violation found
// later must still reset the stream cleanly while the handler runs.
TEST_F(Rfc9113_8_1_Messages, ContentLengthMismatchOnStreamingCall) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = c.next_stream();
  Headers h = with(req(kServerStream, "application/connect+json"),
                   "content-length", "1000");
  c.headers(id, block(h), F_END_HEADERS);
  c.data(id, envelope(R"({"text":"s","repeat":3})"), true);
  EXPECT_STREAM_ERROR(c, id, PROTOCOL_ERROR);
}

// ---- 4.3 and RFC 7541: header compression ---------------------------

H2_SECTION(Rfc7541_Hpack);

// Sends a field block that fails to decode; expects COMPRESSION_ERROR.
void expect_compression_error(FrameClient &c, const std::string &blk) {
  c.headers(c.next_stream(), blk, F_END_HEADERS | F_END_STREAM);
}

// 6.1: "The index value of 0 is not used. It MUST be treated as a decoding
// error if found in an indexed header field representation."
TEST_F(Rfc7541_Hpack, IndexZero) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  expect_compression_error(c, block(req()) + u8(0x80));
  EXPECT_CONNECTION_ERROR(c, COMPRESSION_ERROR);
}

// 2.3.3: "Indices strictly greater than the sum of the lengths of both
// tables MUST be treated as a decoding error." (61 static, 0 dynamic.)
TEST_F(Rfc7541_Hpack, IndexPastTable) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  expect_compression_error(c, block(req()) + hpack_int(0x80, 7, 62));
  EXPECT_CONNECTION_ERROR(c, COMPRESSION_ERROR);
}

TEST_F(Rfc7541_Hpack, LiteralNameIndexPastTable) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  expect_compression_error(c, block(req()) + hpack_int(0x40, 6, 1000) +
                                  hpack_str("v"));
  EXPECT_CONNECTION_ERROR(c, COMPRESSION_ERROR);
}

// 5.1: "Integer encodings that exceed implementation limits -- in value or
// octet length -- MUST be treated as decoding errors."
TEST_F(Rfc7541_Hpack, IntegerOverflow) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  expect_compression_error(c, block(req()) + u8(0xff) +
                                  std::string(12, '\xff') + u8(0x7f));
  EXPECT_CONNECTION_ERROR(c, COMPRESSION_ERROR);
}

// A string literal longer than the rest of the block.
TEST_F(Rfc7541_Hpack, StringLengthPastEndOfBlock) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  expect_compression_error(c, block(req()) + u8(0x00) +
                                  hpack_int(0x00, 7, 100) + "abc");
  EXPECT_CONNECTION_ERROR(c, COMPRESSION_ERROR);
}

// A field block that ends inside a representation (4.3: the block is
// decoded as a whole once END_HEADERS is seen).
TEST_F(Rfc7541_Hpack, TruncatedBlock) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  std::string b = block(req());
  expect_compression_error(c, b + lit("x-cut", "value").substr(0, 4));
  EXPECT_CONNECTION_ERROR(c, COMPRESSION_ERROR);
}

// 5.2: "A padding strictly longer than 7 bits MUST be treated as a decoding
// error." 'a' is the 5-bit code 00011; 0x1f 0xff pads it with 11 ones.
TEST_F(Rfc7541_Hpack, HuffmanPaddingTooLong) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  expect_compression_error(c, block(req()) + u8(0x00) + u8(0x80 | 2) +
                                  u8(0x1f) + u8(0xff) + hpack_str("v"));
  EXPECT_CONNECTION_ERROR(c, COMPRESSION_ERROR);
}

// 5.2: "A padding not corresponding to the most significant bits of the
// code for the EOS symbol MUST be treated as a decoding error." 0x18: 'a'
// padded with zeros.
TEST_F(Rfc7541_Hpack, HuffmanPaddingNotEos) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  expect_compression_error(c, block(req()) + u8(0x00) + u8(0x80 | 1) +
                                  u8(0x18) + hpack_str("v"));
  EXPECT_CONNECTION_ERROR(c, COMPRESSION_ERROR);
}

// 5.2: "A Huffman-encoded string literal containing the EOS symbol MUST be
// treated as a decoding error." EOS is 30 one-bits.
TEST_F(Rfc7541_Hpack, HuffmanEos) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  expect_compression_error(c, block(req()) + u8(0x00) + u8(0x80 | 4) +
                                  std::string(4, '\xff') + hpack_str("v"));
  EXPECT_CONNECTION_ERROR(c, COMPRESSION_ERROR);
}

// Valid Huffman strings decode: "a" as 0x1f (5-bit code, 3 padding ones).
TEST_F(Rfc7541_Hpack, HuffmanValid) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = c.next_stream();
  c.headers(
      id, block(req()) + u8(0x00) + hpack_str("x-h") + u8(0x80 | 1) + u8(0x1f),
      F_END_HEADERS);
  c.data(id, kBody, true);
  Response r;
  ASSERT_TRUE(c.read_response(id, r));
  EXPECT_EQ(r.status, 200);
}

// 6.3: "The new maximum size MUST be lower than or equal to the limit
// determined by the protocol using HPACK. A value that exceeds this limit
// MUST be treated as a decoding error." The limit is the server's
// SETTINGS_HEADER_TABLE_SIZE (4096 by default).
TEST_F(Rfc7541_Hpack, TableSizeUpdateOverLimit) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t limit = 4096;
  auto it = c.peer_settings.find(S_HEADER_TABLE_SIZE);
  if (it != c.peer_settings.end())
    limit = it->second;
  expect_compression_error(c, hpack_int(0x20, 5, limit + 1) + block(req()));
  EXPECT_CONNECTION_ERROR(c, COMPRESSION_ERROR);
}

// 4.2: "This dynamic table size update MUST occur at the beginning of the
// first header block following the change to the dynamic table size."
// A size update after a field line is a decoding error.
TEST_F(Rfc7541_Hpack, TableSizeUpdateAfterField) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  expect_compression_error(c, block(req()) + hpack_int(0x20, 5, 100));
  EXPECT_CONNECTION_ERROR(c, COMPRESSION_ERROR);
}

// Two size updates at the start of a block are allowed (4.2: "the smallest
// maximum table size ... and the final maximum size" may both be
// signalled).
TEST_F(Rfc7541_Hpack, TwoTableSizeUpdatesAtStart) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = c.next_stream();
  c.headers(id, hpack_int(0x20, 5, 0) + hpack_int(0x20, 5, 4096) + block(req()),
            F_END_HEADERS);
  c.data(id, kBody, true);
  Response r;
  ASSERT_TRUE(c.read_response(id, r));
  EXPECT_EQ(r.status, 200);
}

// The dynamic table carries over between field blocks of a connection
// (2.2): a field added with incremental indexing (6.2.1) is index 62 in the
// next request.
TEST_F(Rfc7541_Hpack, DynamicTableAcrossRequests) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = c.next_stream();
  std::string indexed_ct =
      u8(0x40) + hpack_str("content-type") + hpack_str("application/json");
  Headers h = without(req(), "content-type");
  c.headers(id, block(h) + indexed_ct, F_END_HEADERS);
  c.data(id, kBody, true);
  Response r;
  ASSERT_TRUE(c.read_response(id, r));
  EXPECT_EQ(r.status, 200);
  id = c.next_stream();
  c.headers(id, block(h) + hpack_int(0x80, 7, 62), F_END_HEADERS);
  c.data(id, kBody, true);
  Response r2;
  ASSERT_TRUE(c.read_response(id, r2));
  EXPECT_EQ(r2.status, 200);
  EXPECT_EQ(r2.body, kBody);
}

// A size update to 0 evicts everything (4.3): the old index is then past
// the table.
TEST_F(Rfc7541_Hpack, SizeUpdateZeroEvicts) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  uint32_t id = c.next_stream();
  Headers h = without(req(), "content-type");
  c.headers(id,
            block(h) + u8(0x40) + hpack_str("content-type") +
                hpack_str("application/json"),
            F_END_HEADERS);
  c.data(id, kBody, true);
  Response r;
  ASSERT_TRUE(c.read_response(id, r));
  ASSERT_EQ(r.status, 200);
  expect_compression_error(c, hpack_int(0x20, 5, 0) + block(h) +
                                  hpack_int(0x80, 7, 62));
  EXPECT_CONNECTION_ERROR(c, COMPRESSION_ERROR);
}

// nghttp2's own deflater with its dynamic table, across many requests
// whose fields repeat: every block decodes on the server.
TEST_F(Rfc7541_Hpack, DeflaterBlocksAcrossManyRequests) {
  FrameClient c(port());
  ASSERT_TRUE(c.handshake());
  nghttp2_hd_deflater *d = nullptr;
  ASSERT_EQ(nghttp2_hd_deflate_new(&d, 4096), 0);
  for (int i = 0; i < 30; i++) {
    Headers h = with(req(), "x-n", std::to_string(i % 7));
    h.push_back({"x-long", std::string(300, (char)('a' + i % 5))});
    std::vector<nghttp2_nv> nv;
    for (auto &kv : h)
      nv.push_back({(uint8_t *)kv.first.data(), (uint8_t *)kv.second.data(),
                    kv.first.size(), kv.second.size(), NGHTTP2_NV_FLAG_NONE});
    std::string out(nghttp2_hd_deflate_bound(d, nv.data(), nv.size()), '\0');
    ssize_t n = nghttp2_hd_deflate_hd(d, (uint8_t *)&out[0], out.size(),
                                      nv.data(), nv.size());
    ASSERT_GT(n, 0);
    out.resize((size_t)n);
    uint32_t id = c.next_stream();
    c.headers(id, out, F_END_HEADERS);
    c.data(id, kBody, true);
    Response r;
    ASSERT_TRUE(c.read_response(id, r)) << "request " << i;
    EXPECT_EQ(r.status, 200);
  }
  nghttp2_hd_deflate_del(d);
}

} // namespace
