// Connect content encodings on the weft server, spoken byte by byte:
// - a gzip stream is announced in its response headers
//   (connect-content-encoding) before any envelope carries flag 0x01, even
//   when its first messages are too small to compress;
// - an encoding weft does not speak is UNIMPLEMENTED, naming gzip (as
//   connect-go answers), unary and streaming;
// - a zero-length gzip body is an empty message;
// - a compressed envelope on a stream that announced no encoding is a
//   protocol error (invalid_argument, as connect-go answers);
// - connect-timeout-ms must be a positive integer of 1 to 10 digits.
#include "h2_raw.h"
#include "h2_test_util.h"

#include <zlib.h>

using h2test::envelope;
using h2test::RawH2;
using h2test::Server;

namespace {

const char *kUnary = "/weft.test.Echo/Unary";
const char *kServerStream = "/weft.test.Echo/ServerStream";
const char *kClientStream = "/weft.test.Echo/ClientStream";

std::string gzip(const std::string &in) {
  z_stream z = {};
  EXPECT_EQ(deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                         Z_DEFAULT_STRATEGY),
            Z_OK);
  std::string out(deflateBound(&z, in.size()) + 32, '\0');
  z.next_in = (Bytef *)in.data();
  z.avail_in = (uInt)in.size();
  z.next_out = (Bytef *)&out[0];
  z.avail_out = (uInt)out.size();
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

struct Envelope {
  uint8_t flags;
  std::string data;
};

std::vector<Envelope> envelopes(const std::string &body) {
  std::vector<Envelope> v;
  for (size_t off = 0; off + 5 <= body.size();) {
    uint32_t n = (uint32_t)(uint8_t)body[off + 1] << 24 |
                 (uint32_t)(uint8_t)body[off + 2] << 16 |
                 (uint32_t)(uint8_t)body[off + 3] << 8 |
                 (uint32_t)(uint8_t)body[off + 4];
    v.push_back({(uint8_t)body[off], body.substr(off + 5, n)});
    off += 5 + n;
  }
  return v;
}

// One call on a fresh connection; returns the finished stream.
h2test::RawStream call(int port, const char *path, const char *ctype,
                       const std::string &body,
                       std::vector<std::pair<std::string, std::string>> hdrs) {
  RawH2 c(port);
  EXPECT_TRUE(c.ok());
  int32_t id = c.request(path, ctype, body, true, std::move(hdrs));
  EXPECT_GT(id, 0);
  EXPECT_TRUE(c.pump([&] { return c.streams[id].closed; }));
  return c.streams[id];
}

TEST(H2Encoding, StreamAnnouncesGzipBeforeItsFirstCompressedEnvelope) {
  Server s;
  // Message 0 is a few bytes (below the compression threshold), messages
  // 1.. carry i * 4000 'x': only they get compressed. The handler pauses
  // after each message, so the headers go out with message 0 alone.
  auto st =
      call(s.port(), kServerStream, "application/connect+json",
           envelope(R"({"text":"s","repeat":4,"grow":4000,"delayMs":30})"),
           {{"connect-accept-encoding", "gzip"}});
  EXPECT_EQ(st.status, 200);
  EXPECT_EQ(st.headers["connect-content-encoding"], "gzip")
      << "a gzip envelope must be announced in the response headers";
  auto env = envelopes(st.body);
  ASSERT_EQ(env.size(), 5u) << st.body.size();
  EXPECT_EQ(env[0].flags, 0) << "small messages stay uncompressed";
  for (int i = 1; i < 4; i++)
    EXPECT_EQ(env[i].flags, 0x01) << i;
  EXPECT_EQ(env[4].flags, 0x02); // end of stream, uncompressed
  EXPECT_EQ(env[4].data, "{}");
}

TEST(H2Encoding, StreamWithoutAcceptEncodingIsNeverCompressed) {
  Server s;
  auto st = call(s.port(), kServerStream, "application/connect+json",
                 envelope(R"({"text":"s","repeat":3,"grow":4000})"), {});
  EXPECT_EQ(st.headers.count("connect-content-encoding"), 0u);
  for (auto &e : envelopes(st.body))
    EXPECT_EQ(e.flags & 0x01, 0);
}

TEST(H2Encoding, UnsupportedUnaryEncodingIsUnimplemented) {
  Server s;
  auto st = call(s.port(), kUnary, "application/json", R"({"text":"x"})",
                 {{"content-encoding", "br"}});
  EXPECT_EQ(st.status, 501);
  EXPECT_NE(st.body.find(R"("code":"unimplemented")"), std::string::npos)
      << st.body;
  EXPECT_NE(st.body.find(R"(unknown compression \"br\": supported )"
                         R"(encodings are gzip)"),
            std::string::npos)
      << st.body;
  EXPECT_EQ(st.headers["accept-encoding"], "gzip");
  // identity (any case) and gzip are fine
  auto ok = call(s.port(), kUnary, "application/json", R"({"text":"x"})",
                 {{"content-encoding", "Identity"}});
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, R"({"text":"x"})");
  ok = call(s.port(), kUnary, "application/json", gzip(R"({"text":"z"})"),
            {{"content-encoding", "gzip"}});
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, R"({"text":"z"})");
}

TEST(H2Encoding, UnsupportedStreamEncodingIsUnimplemented) {
  Server s;
  auto st = call(s.port(), kServerStream, "application/connect+json",
                 envelope(R"({"text":"s","repeat":2})"),
                 {{"connect-content-encoding", "br"}});
  EXPECT_EQ(st.status, 200);
  auto env = envelopes(st.body);
  ASSERT_EQ(env.size(), 1u) << st.body;
  EXPECT_EQ(env[0].flags, 0x02);
  EXPECT_NE(env[0].data.find(R"("code":"unimplemented")"), std::string::npos)
      << env[0].data;
  EXPECT_NE(env[0].data.find("supported encodings are gzip"), std::string::npos)
      << env[0].data;
  EXPECT_EQ(st.headers["connect-accept-encoding"], "gzip");
}

TEST(H2Encoding, EmptyGzipBodyIsAnEmptyMessage) {
  Server s;
  auto st = call(s.port(), kUnary, "application/proto", "",
                 {{"content-encoding", "gzip"}});
  EXPECT_EQ(st.status, 200) << st.body;
  EXPECT_EQ(st.body, "");
  // and an empty envelope flagged compressed, on a gzip stream
  st = call(s.port(), kClientStream, "application/connect+proto",
            envelope("", 0x01), {{"connect-content-encoding", "gzip"}});
  EXPECT_EQ(st.status, 200);
  auto env = envelopes(st.body);
  ASSERT_FALSE(env.empty());
  // The end of stream carries no error (the Echo service adds a trailer).
  EXPECT_EQ(env.back().data.find("\"error\""), std::string::npos)
      << env.back().data;
  EXPECT_EQ(env.back().data[0], '{') << env.back().data;
}

TEST(H2Encoding, CompressedEnvelopeWithoutEncodingIsAProtocolError) {
  Server s;
  // a valid gzip member: only the missing announcement is wrong
  auto st = call(s.port(), kClientStream, "application/connect+json",
                 envelope(gzip(R"({"text":"a"})"), 0x01), {});
  EXPECT_EQ(st.status, 200);
  auto env = envelopes(st.body);
  ASSERT_FALSE(env.empty()) << st.body;
  EXPECT_EQ(env.back().flags, 0x02);
  EXPECT_NE(env.back().data.find(R"("code":"invalid_argument")"),
            std::string::npos)
      << env.back().data;
  EXPECT_NE(env.back().data.find("protocol error"), std::string::npos)
      << env.back().data;
  // announced, the same envelope is fine
  st = call(s.port(), kClientStream, "application/connect+json",
            envelope(gzip(R"({"text":"a"})"), 0x01),
            {{"connect-content-encoding", "gzip"}});
  env = envelopes(st.body);
  ASSERT_EQ(env.size(), 2u) << st.body;
  EXPECT_NE(env[0].data.find(R"("text":"a")"), std::string::npos)
      << env[0].data;
}

TEST(H2Encoding, TimeoutMustBeAPositiveNumber) {
  Server s;
  for (const char *bad : {"0", "00", "-1", "1.5", "abc", "12345678901"}) {
    auto st = call(s.port(), kUnary, "application/json", R"({"text":"x"})",
                   {{"connect-timeout-ms", bad}});
    EXPECT_EQ(st.status, 400) << bad;
    EXPECT_NE(st.body.find(R"("code":"invalid_argument")"), std::string::npos)
        << bad << ": " << st.body;
  }
  auto st = call(s.port(), kUnary, "application/json", R"({"text":"x"})",
                 {{"connect-timeout-ms", "5000"}});
  EXPECT_EQ(st.status, 200);
}

} // namespace
