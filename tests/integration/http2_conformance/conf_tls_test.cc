// The conformance cases that exercise weft's own I/O, again over the
// https:// listener: the same nghttp2 session, but bytes go through
// OpenSSL (records split and coalesced differently, reads that return
// nothing because only a TLS record header arrived, writes that must flush
// a GOAWAY through TLS before the close). The certificate is a self-signed
// one made with the openssl command-line tool at test time.
#include "conf_util.h"

using namespace h2conf;

namespace {

const std::string kBody = R"({"text":"over tls"})";

struct Pki {
  std::string cert, key;
  bool ok = false;
};

const Pki &pki() {
  static Pki p = [] {
    Pki p;
    std::string d = h2test::temp_path("conf-pki");
    p.cert = d + "/cert.pem";
    p.key = d + "/key.pem";
    p.ok = h2test::run("sh -c 'mkdir -p " + d +
                           " && openssl req -x509 -newkey ec -pkeyopt "
                           "ec_paramgen_curve:prime256v1 -nodes -keyout " +
                           p.key + " -out " + p.cert +
                           " -days 2 -subj /CN=localhost 2>/dev/null'",
                       30)
               .status == 0;
    return p;
  }();
  return p;
}

class Rfc9113_OverTls : public ::testing::Test {
protected:
  void SetUp() override {
    if (!pki().ok)
      GTEST_SKIP() << "openssl could not make a certificate";
    weft_server_opts o = h2test::Server::opts(0);
    o.tls.cert_file = pki().cert.c_str();
    o.tls.key_file = pki().key.c_str();
    srv_.reset(new h2test::Server("https://127.0.0.1:0", o));
  }
  int port() const {
    return srv_->port();
  }
  std::unique_ptr<h2test::Server> srv_;
};

TEST_F(Rfc9113_OverTls, HandshakeAndServe) {
  FrameClient c(port(), true);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.handshake());
  EXPECT_TRUE(c.serves());
  EXPECT_TRUE(c.serves());
}

// 3.4 over TLS, one byte per TLS record.
TEST_F(Rfc9113_OverTls, PrefaceAndFramesByteByByte) {
  FrameClient c(port(), true);
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

// 5.4.1 over TLS: the GOAWAY must be written through TLS before the close.
TEST_F(Rfc9113_OverTls, ConnectionErrorGoawayDelivered) {
  FrameClient c(port(), true);
  ASSERT_TRUE(c.handshake());
  c.frame(PING, 0, 1, "12345678");
  EXPECT_TRUE(c.expect_goaway(PROTOCOL_ERROR));
  EXPECT_TRUE(fresh_connection_serves(port(), true));
}

// weft's own GOAWAY for nghttp2's fatal errors, over TLS.
TEST_F(Rfc9113_OverTls, ContinuationFloodGetsGoaway) {
  FrameClient c(port(), true);
  ASSERT_TRUE(c.handshake());
  c.headers(1, block(req()), F_END_STREAM);
  for (int i = 0; i < 40; i++)
    c.frame(CONTINUATION, 0, 1, lit("x-c" + std::to_string(i), "v"));
  c.frame(CONTINUATION, F_END_HEADERS, 1, "");
  EXPECT_TRUE(c.expect_goaway(0xb));
  EXPECT_TRUE(fresh_connection_serves(port(), true));
}

TEST_F(Rfc9113_OverTls, HpackErrorIsCompressionError) {
  FrameClient c(port(), true);
  ASSERT_TRUE(c.handshake());
  c.headers(1, block(req()) + u8(0x80), F_END_HEADERS | F_END_STREAM);
  EXPECT_TRUE(c.expect_goaway(COMPRESSION_ERROR));
  EXPECT_TRUE(fresh_connection_serves(port(), true));
}

TEST_F(Rfc9113_OverTls, StreamErrorThenServe) {
  FrameClient c(port(), true);
  ASSERT_TRUE(c.handshake());
  uint32_t id = c.next_stream();
  Headers h = req();
  h.push_back({"X-Upper", "1"});
  c.headers(id, block(h), F_END_HEADERS | F_END_STREAM);
  EXPECT_TRUE(c.expect_rst_stream(id, PROTOCOL_ERROR));
  EXPECT_TRUE(c.serves());
}

// 5.1.1 (weft's fix) over TLS.
TEST_F(Rfc9113_OverTls, DecreasingStreamId) {
  FrameClient c(port(), true);
  ASSERT_TRUE(c.handshake());
  c.set_next_stream(5);
  ASSERT_TRUE(c.serves());
  c.headers(3, block(req()), F_END_HEADERS | F_END_STREAM);
  EXPECT_TRUE(c.expect_goaway(PROTOCOL_ERROR));
}

// Flow control through TLS both ways: a padded 600 KB body (more than the
// stream window) up, a 400 KB server stream down.
TEST_F(Rfc9113_OverTls, LargeBodiesBothWays) {
  FrameClient c(port(), true);
  ASSERT_TRUE(c.handshake());
  uint32_t id = c.next_stream();
  std::string body = "{\"text\":\"" + std::string(600 * 1024, 'p') + "\"}";
  c.headers(id, block(req()), F_END_HEADERS);
  ASSERT_TRUE(c.send_body(id, body, true, 100));
  Response r;
  ASSERT_TRUE(c.read_response(id, r, 10000));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.size(), body.size());
  id = c.next_stream();
  c.headers(id, block(req(kServerStream, "application/connect+json")),
            F_END_HEADERS);
  c.data(
      id,
      envelope(R"({"text":")" + std::string(4000, 's') + R"(","repeat":100})"),
      true);
  Response s;
  ASSERT_TRUE(c.read_response(id, s, 10000));
  EXPECT_EQ(s.status, 200);
  EXPECT_GT(s.body.size(), 400000u);
}

TEST_F(Rfc9113_OverTls, RstWhileHandlerRuns) {
  FrameClient c(port(), true);
  ASSERT_TRUE(c.handshake());
  uint32_t id = c.next_stream();
  c.headers(id, block(req()), F_END_HEADERS);
  c.data(id, R"({"text":"slow","delay_ms":300})", true);
  c.rst(id, CANCEL);
  EXPECT_TRUE(c.serves());
  auto until = FrameClient::deadline(600);
  Frame f;
  while (c.read(f, until) == Got::Frame)
    EXPECT_NE(f.stream, id) << f.describe();
  EXPECT_TRUE(c.serves());
}

} // namespace
