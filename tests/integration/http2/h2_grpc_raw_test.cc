// gRPC and gRPC-Web on the HTTP/2 port with hand-built requests (h2_raw.h):
// grpc-web-text whose base64 arrives in chunks that do not align with
// 4-character groups, the gRPC-Web trailers frame, trailers-only answers,
// and malformed input (frames over the limit, compression without
// grpc-encoding, bad base64, unknown encodings, bad grpc-timeout, two
// messages in a unary call) answered with the right grpc-status while the
// server goes on serving.
#include "h2_raw.h"
#include "h2_test_util.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

extern "C" {
#include "weft/base64.h"
}

using h2test::envelope;
using h2test::RawH2;
using h2test::Server;

namespace {

const char *kUnary = "/weft.test.Echo/Unary";
const char *kServerStream = "/weft.test.Echo/ServerStream";

// weft.test.EchoRequest by hand: text (1), repeat (2), fail_code (4),
// fail_message (5).
std::string echo_req(const std::string &text, int repeat = 0, int fail = 0,
                     const std::string &fail_msg = "") {
  std::string m;
  m += '\x0a';
  m += (char)text.size();
  m += text;
  if (repeat) {
    m += '\x10';
    m += (char)repeat;
  }
  if (fail) {
    m += '\x20';
    m += (char)fail;
    m += '\x2a';
    m += (char)fail_msg.size();
    m += fail_msg;
  }
  return m;
}

std::string b64(const std::string &s) {
  std::string t(weft_base64_encoded_len(s.size(), 0), '\0');
  weft_base64_encode(s.data(), s.size(), &t[0], 0);
  return t;
}

// Decodes a grpc-web-text body group by group (each frame is its own padded
// segment), independently of the server's streaming decoder.
bool unb64(const std::string &t, std::string *out) {
  if (t.size() % 4)
    return false;
  for (size_t i = 0; i < t.size(); i += 4) {
    uint8_t b[4];
    long n = weft_base64_decode(t.data() + i, 4, b);
    if (n < 0)
      return false;
    out->append((const char *)b, (size_t)n);
  }
  return true;
}

struct Frame {
  uint8_t flags;
  std::string data;
};

std::vector<Frame> frames(const std::string &body) {
  std::vector<Frame> v;
  size_t off = 0;
  while (off + 5 <= body.size()) {
    const uint8_t *p = (const uint8_t *)body.data() + off;
    size_t n =
        (size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4];
    if (off + 5 + n > body.size())
      break;
    v.push_back({p[0], body.substr(off + 5, n)});
    off += 5 + n;
  }
  EXPECT_EQ(off, body.size()) << "body ends inside a frame";
  return v;
}

bool done(RawH2 &c, int32_t id) {
  return c.pump([&] { return c.streams[id].closed; });
}

// One gRPC call; returns its stream for checks.
h2test::RawStream
grpc_call(int port, const std::string &path, const std::string &body,
          std::vector<std::pair<std::string, std::string>> extra = {},
          const std::string &ctype = "application/grpc") {
  RawH2 c(port);
  extra.push_back({"te", "trailers"});
  int32_t id = c.request(path, ctype, body, true, extra);
  EXPECT_TRUE(done(c, id));
  return c.streams[id];
}

void still_serving(int port) {
  auto s = grpc_call(port, kUnary, envelope(echo_req("ok")));
  EXPECT_EQ(s.headers["grpc-status"], "0");
  auto f = frames(s.body);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].data, echo_req("ok"));
}

TEST(H2Grpc, WebTextOddChunking) {
  Server s;
  std::string text = b64(envelope(echo_req("hello text")));
  // Every split of the request's base64 into two pieces, sent as separate
  // DATA frames with the server reading in between.
  for (size_t cut = 1; cut < text.size(); cut += 3) {
    RawH2 c(s.port());
    int32_t id = c.request(kUnary, "application/grpc-web-text", "", false);
    c.send_data(id, text.substr(0, cut), false);
    c.pump_for(20);
    c.send_data(id, text.substr(cut), true);
    ASSERT_TRUE(done(c, id)) << "cut " << cut;
    auto &st = c.streams[id];
    EXPECT_EQ(st.status, 200);
    EXPECT_EQ(st.headers["content-type"], "application/grpc-web-text+proto");
    EXPECT_EQ(st.headers.count("grpc-status"), 0u) << "gRPC-Web: not trailers";
    std::string raw;
    ASSERT_TRUE(unb64(st.body, &raw)) << st.body;
    auto f = frames(raw);
    ASSERT_EQ(f.size(), 2u) << "cut " << cut;
    EXPECT_EQ(f[0].flags, 0);
    EXPECT_EQ(f[0].data, echo_req("hello text"));
    EXPECT_EQ(f[1].flags, 0x80);
    EXPECT_EQ(f[1].data, "grpc-status:0\r\n");
  }
}

TEST(H2Grpc, WebTextPaddedSegmentsAndServerStream) {
  Server s;
  // The client flushed twice: two padded base64 segments, one after the
  // other, the second split mid-group across DATA frames.
  std::string req = envelope(echo_req("s", 3));
  std::string seg1 = b64(req.substr(0, 4)), seg2 = b64(req.substr(4));
  ASSERT_NE(seg1.find('='), std::string::npos);
  RawH2 c(s.port());
  int32_t id =
      c.request(kServerStream, "application/grpc-web-text+proto", "", false);
  c.send_data(id, seg1 + seg2.substr(0, 3), false);
  c.pump_for(20);
  c.send_data(id, seg2.substr(3), true);
  ASSERT_TRUE(done(c, id));
  std::string raw;
  ASSERT_TRUE(unb64(c.streams[id].body, &raw));
  auto f = frames(raw);
  ASSERT_EQ(f.size(), 4u);
  for (int i = 0; i < 3; i++)
    EXPECT_EQ(f[i].flags, 0);
  EXPECT_EQ(f[3].flags, 0x80);
  EXPECT_EQ(f[3].data, "grpc-status:0\r\n");
}

TEST(H2Grpc, WebBinaryErrorInTrailersFrame) {
  Server s;
  RawH2 c(s.port());
  int32_t id = c.request(kUnary, "application/grpc-web+proto",
                         envelope(echo_req("x", 0, 5, "no job\n100%")));
  ASSERT_TRUE(done(c, id));
  auto &st = c.streams[id];
  EXPECT_EQ(st.status, 200);
  EXPECT_EQ(st.headers["content-type"], "application/grpc-web+proto");
  auto f = frames(st.body);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].flags, 0x80);
  EXPECT_EQ(f[0].data, "grpc-status:5\r\ngrpc-message:no job%0A100%25\r\n");
}

TEST(H2Grpc, WebRefusesClientStreaming) {
  Server s;
  for (const char *m :
       {"/weft.test.Echo/ClientStream", "/weft.test.Echo/Bidi"}) {
    RawH2 c(s.port());
    int32_t id =
        c.request(m, "application/grpc-web", envelope(echo_req("a")), true);
    ASSERT_TRUE(done(c, id));
    auto f = frames(c.streams[id].body);
    ASSERT_EQ(f.size(), 1u) << m;
    EXPECT_EQ(f[0].data.rfind("grpc-status:12\r\n", 0), 0u) << f[0].data;
  }
}

TEST(H2Grpc, TrailersOnlyAndTrailers) {
  Server s;
  // No message: one HEADERS frame with the status (trailers-only).
  auto u = grpc_call(s.port(), "/weft.test.Echo/Nope", envelope(echo_req("a")));
  EXPECT_EQ(u.status, 200);
  EXPECT_EQ(u.headers["content-type"], "application/grpc");
  EXPECT_EQ(u.headers["grpc-status"], "12");
  EXPECT_TRUE(u.body.empty());
  // Messages, then the status in trailers.
  auto ok = grpc_call(s.port(), kServerStream, envelope(echo_req("s", 2)));
  EXPECT_EQ(ok.error, 0u);
  EXPECT_EQ(ok.headers["grpc-status"], "0");
  EXPECT_EQ(frames(ok.body).size(), 2u);
  // JSON: application/grpc+json.
  auto js = grpc_call(s.port(), kUnary, envelope("{\"text\":\"j\"}"), {},
                      "application/grpc+json");
  EXPECT_EQ(js.headers["content-type"], "application/grpc+json");
  EXPECT_EQ(js.headers["grpc-status"], "0");
  auto jf = frames(js.body);
  ASSERT_EQ(jf.size(), 1u);
  EXPECT_NE(jf[0].data.find("\"j\""), std::string::npos) << jf[0].data;
}

TEST(H2Grpc, MalformedRequests) {
  Server s;
  int port = s.port();
  // A frame claiming more than the 4 MiB limit: refused from its prefix.
  auto big = grpc_call(port, kUnary, envelope("", 0, 5 << 20));
  EXPECT_EQ(big.headers["grpc-status"], "8");
  EXPECT_NE(big.headers["grpc-message"].find("limit"), std::string::npos);
  // Compressed flag without grpc-encoding.
  auto z = grpc_call(port, kUnary, envelope(echo_req("a"), 1));
  EXPECT_EQ(z.headers["grpc-status"], "13");
  EXPECT_NE(z.headers["grpc-message"].find("grpc-encoding"), std::string::npos);
  // A request frame with the trailers flag.
  auto t = grpc_call(port, kServerStream, envelope(echo_req("a"), 0x80));
  EXPECT_EQ(t.headers["grpc-status"], "13");
  // Two messages in a unary call.
  auto two = grpc_call(port, kUnary,
                       envelope(echo_req("a")) + envelope(echo_req("b")));
  EXPECT_EQ(two.headers["grpc-status"], "13");
  // The body ends inside a frame.
  auto cut = grpc_call(port, kUnary, envelope(echo_req("abc")).substr(0, 7));
  EXPECT_NE(cut.headers["grpc-status"], "");
  EXPECT_NE(cut.headers["grpc-status"], "0");
  // An encoding we do not speak: UNIMPLEMENTED, naming what we do speak.
  auto br = grpc_call(port, kUnary, envelope(echo_req("a")),
                      {{"grpc-encoding", "br"}});
  EXPECT_EQ(br.headers["grpc-status"], "12");
  EXPECT_EQ(br.headers["grpc-accept-encoding"], "identity,gzip");
  // grpc-timeout that is not 1-8 digits and a unit.
  auto to = grpc_call(port, kUnary, envelope(echo_req("a")),
                      {{"grpc-timeout", "100x"}});
  EXPECT_EQ(to.headers["grpc-status"], "3");
  // Not a protobuf message.
  auto pb = grpc_call(port, kUnary, envelope("\xff\xff\xff"));
  EXPECT_NE(pb.headers["grpc-status"], "0");
  // grpc-web-text that is not base64: the answer is base64 too.
  RawH2 c(port);
  int32_t id = c.request(kUnary, "application/grpc-web-text", "AAAA*AAA");
  ASSERT_TRUE(done(c, id));
  std::string raw;
  ASSERT_TRUE(unb64(c.streams[id].body, &raw)) << c.streams[id].body;
  auto f = frames(raw);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].data.rfind("grpc-status:3\r\n", 0), 0u) << f[0].data;
  still_serving(port);
}

TEST(H2Grpc, UnknownContentTypeStill415) {
  Server s;
  RawH2 c(s.port());
  int32_t id = c.request(kUnary, "application/grpc-webby", envelope("x"));
  ASSERT_TRUE(done(c, id));
  EXPECT_EQ(c.streams[id].status, 415);
}

} // namespace
