// https://: HTTP/2 over TLS with ALPN h2. Certificates are made at test time
// with the openssl command-line tool (a CA, a server certificate for
// 127.0.0.1 signed by it, and an unrelated CA); the weft client and curl
// verify the server against the CA, and the wrong CA fails cleanly. A raw
// OpenSSL client checks the ALPN outcomes: h2 is chosen, http/1.1 alone is
// refused with the no_application_protocol alert, no ALPN at all is served
// HTTP/2 (prior knowledge).
#include "h2_test_util.h"

#include <fstream>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/time.h>

using h2test::run;
using h2test::Server;

namespace {

struct Certs {
  std::string dir, ca, other_ca, cert, key;
  bool ok = false;
};

// One set per test process (each test runs in its own process under CTest).
const Certs &certs() {
  static Certs c = [] {
    Certs c;
    c.dir = h2test::temp_path("pki");
    c.ca = c.dir + "/ca.pem";
    c.other_ca = c.dir + "/other-ca.pem";
    c.cert = c.dir + "/server.pem";
    c.key = c.dir + "/server.key";
    std::string d = c.dir;
    std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    std::string cmd =
        "sh -c 'set -e; mkdir -p " + d + "; cd " + d + "; openssl req -x509" +
        ec +
        " -keyout ca.key -out ca.pem -days 2 -subj /CN=weft-test-ca"
        " 2>/dev/null; openssl req -x509" +
        ec +
        " -keyout other-ca.key -out other-ca.pem -days 2 -subj /CN=other-ca"
        " 2>/dev/null; openssl req -new" +
        ec +
        " -keyout server.key -out server.csr -subj /CN=localhost"
        " -addext subjectAltName=IP:127.0.0.1,DNS:localhost 2>/dev/null;"
        " openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key"
        " -CAcreateserial -out server.pem -days 2 -copy_extensions copy"
        " 2>/dev/null'";
    c.ok = run(cmd, 30).status == 0;
    return c;
  }();
  return c;
}

weft_server_opts tls_opts() {
  weft_server_opts o = Server::opts(0);
  o.tls.cert_file = certs().cert.c_str();
  o.tls.key_file = certs().key.c_str();
  return o;
}

int unary(const std::string &url, const char *ca, std::string *text,
          std::string *why, weft_codec_kind codec = WEFT_CODEC_PROTO) {
  weft_client_opts o = {};
  o.codec = codec;
  o.connect_timeout_ms = 5000;
  o.default_timeout_ms = 5000;
  o.tls.ca_file = ca;
  weft_client *c = nullptr;
  int rv = weft_client_open(&c, url.c_str(), &o, NULL);
  if (rv == 0) {
    weft__test__EchoRequest req;
    weft__test__EchoRequest_init(&req);
    req.text = (char *)"over tls";
    weft__test__EchoResponse *resp = nullptr;
    weft_call_opts co = {};
    rv = weft__test__Echo_unary(c, &req, &resp, &co);
    if (rv == 0 && resp)
      *text = resp->text;
    weft_message_free(resp);
    if (why && co.status.message)
      *why = co.status.message;
    weft_status_clear(&co.status);
  }
  weft_client_close(c);
  return rv;
}

TEST(H2Tls, WeftClientBothCodecs) {
  ASSERT_TRUE(certs().ok) << "openssl could not make test certificates";
  Server s("https://127.0.0.1:0", tls_opts());
  std::string url = "https://127.0.0.1:" + std::to_string(s.port());
  for (auto codec : {WEFT_CODEC_PROTO, WEFT_CODEC_JSON}) {
    std::string text;
    std::string why;
    EXPECT_EQ(unary(url, certs().ca.c_str(), &text, &why, codec), 0) << why;
    EXPECT_EQ(text, "over tls");
  }
}

TEST(H2Tls, CurlNegotiatesH2) {
  ASSERT_TRUE(certs().ok);
  Server s("https://127.0.0.1:0", tls_opts());
  auto r = run("curl -s --http2 --cacert " + certs().ca +
               " -H 'Content-Type: application/json' -d '{\"text\":\"tls\"}'"
               " -w '\\n%{http_version} %{http_code}' https://127.0.0.1:" +
               std::to_string(s.port()) + "/weft.test.Echo/Unary");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out, "{\"text\":\"tls\"}\n2 200");
  // Server streaming over TLS too.
  std::string msg = R"({"text":"s","repeat":3})";
  std::string env(4, '\0');
  env += (char)msg.size();
  env += msg;
  std::string tmp = h2test::temp_path("env.bin");
  std::ofstream(tmp, std::ios::binary) << env;
  auto r2 = run("curl -s --http2 --cacert " + certs().ca +
                " -H 'Content-Type: application/connect+json'"
                " --data-binary @" +
                tmp + " https://127.0.0.1:" + std::to_string(s.port()) +
                "/weft.test.Echo/ServerStream");
  EXPECT_EQ(r2.status, 0);
  // Three messages and the end-of-stream message.
  size_t n = 0;
  for (size_t p = 0;
       (p = r2.out.find("\"text\":\"s\"", p)) != std::string::npos; p++)
    n++;
  EXPECT_EQ(n, 3u) << r2.out;
}

TEST(H2Tls, WrongCaFailsCleanly) {
  ASSERT_TRUE(certs().ok);
  Server s("https://127.0.0.1:0", tls_opts());
  std::string url = "https://127.0.0.1:" + std::to_string(s.port());
  std::string text;
  int rv = unary(url, certs().other_ca.c_str(), &text, nullptr);
  EXPECT_NE(rv, 0);
  EXPECT_TRUE(text.empty());
  // curl refuses too (exit 60: peer certificate cannot be authenticated).
  auto r = run("curl -s --http2 --cacert " + certs().other_ca +
               " -d '{}' -H 'Content-Type: application/json' " + url +
               "/weft.test.Echo/Unary");
  EXPECT_NE(r.status, 0);
  // Plain h2c against the TLS port fails, and does not hurt the server.
  weft_client_opts o = {};
  o.connect_timeout_ms = 2000;
  o.default_timeout_ms = 2000;
  weft_client *c = nullptr;
  if (weft_client_open(&c,
                       ("h2c://127.0.0.1:" + std::to_string(s.port())).c_str(),
                       &o, NULL) == 0) {
    weft__test__EchoRequest req;
    weft__test__EchoRequest_init(&req);
    weft__test__EchoResponse *resp = nullptr;
    weft_call_opts co = {};
    EXPECT_NE(weft__test__Echo_unary(c, &req, &resp, &co), 0);
    weft_status_clear(&co.status);
  }
  weft_client_close(c);
  // The right CA still works afterwards.
  EXPECT_EQ(unary(url, certs().ca.c_str(), &text, nullptr), 0);
  EXPECT_EQ(text, "over tls");
}

// What a raw TLS client offering `alpn` (wire form; empty: no ALPN) gets:
// whether the handshake completed, the protocol chosen, and the alert the
// server sent if it refused.
struct AlpnResult {
  bool connected = false;
  std::string selected;
  int alert = -1;    // TLS alert description received, -1 if none
  std::string reply; // first bytes the server sends after the handshake
};

void on_info(const SSL *ssl, int where, int ret) {
  if ((where & SSL_CB_READ_ALERT) && !(where & SSL_CB_EXIT))
    *static_cast<int *>(SSL_get_app_data(ssl)) = ret & 0xff;
}

// HTTP/2's client preface and an empty SETTINGS: an HTTP/2 server answers
// with its own SETTINGS frame (type 4).
const std::string kPreface("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
                           "\0\0\0\x04\0\0\0\0\0",
                           33);

AlpnResult alpn_handshake(int port, const std::string &alpn,
                          const std::string &send = kPreface) {
  AlpnResult r;
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  SSL_CTX_set_info_callback(ctx, on_info);
  if (!alpn.empty())
    SSL_CTX_set_alpn_protos(ctx, (const unsigned char *)alpn.data(),
                            (unsigned)alpn.size());
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, (sockaddr *)&a, sizeof a), 0);
  SSL *ssl = SSL_new(ctx);
  SSL_set_app_data(ssl, &r.alert);
  SSL_set_fd(ssl, fd);
  r.connected = SSL_connect(ssl) == 1;
  if (r.connected) {
    const unsigned char *p = nullptr;
    unsigned l = 0;
    SSL_get0_alpn_selected(ssl, &p, &l);
    r.selected.assign((const char *)p, l);
    SSL_write(ssl, send.data(), (int)send.size());
    char buf[512];
    int n = SSL_read(ssl, buf, sizeof buf);
    if (n > 0)
      r.reply.assign(buf, (size_t)n);
  }
  ERR_clear_error();
  SSL_free(ssl);
  close(fd);
  SSL_CTX_free(ctx);
  return r;
}

TEST(H2Tls, AlpnChoosesTheHttpVersion) {
  ASSERT_TRUE(certs().ok);
  Server s("https://127.0.0.1:0", tls_opts());
  // h2 among others: chosen
  AlpnResult h2 = alpn_handshake(s.port(), std::string("\x08http/1.1\x02h2"));
  EXPECT_TRUE(h2.connected);
  EXPECT_EQ(h2.selected, "h2");
  ASSERT_GE(h2.reply.size(), 4u);
  EXPECT_EQ(h2.reply[3], 4) << "an HTTP/2 SETTINGS frame";
  // http/1.1 only: served as HTTP/1.1 (a Connect call over HTTPS/1.1)
  std::string body = R"({"text":"tls h1"})";
  AlpnResult h1 =
      alpn_handshake(s.port(), std::string("\x08http/1.1"),
                     "POST /weft.test.Echo/Unary HTTP/1.1\r\nHost: x\r\n"
                     "Content-Type: application/json\r\nContent-Length: " +
                         std::to_string(body.size()) + "\r\n\r\n" + body);
  EXPECT_TRUE(h1.connected);
  EXPECT_EQ(h1.selected, "http/1.1");
  EXPECT_EQ(h1.reply.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << h1.reply;
  // and the preface there is not HTTP/1.1: refused
  AlpnResult pre = alpn_handshake(s.port(), std::string("\x08http/1.1"));
  EXPECT_EQ(pre.reply.rfind("HTTP/1.1 ", 0), 0u) << pre.reply;
  EXPECT_EQ(pre.reply.find(" 200 "), std::string::npos) << pre.reply;
  // no ALPN: HTTP/2 with prior knowledge when the preface comes
  // (docs/HTTP2.md), HTTP/1.1 otherwise
  AlpnResult none = alpn_handshake(s.port(), "");
  EXPECT_TRUE(none.connected);
  EXPECT_EQ(none.selected, "");
  ASSERT_GE(none.reply.size(), 4u);
  EXPECT_EQ(none.reply[3], 4);
  // and the listener goes on serving
  std::string text;
  std::string url = "https://127.0.0.1:" + std::to_string(s.port());
  EXPECT_EQ(unary(url, certs().ca.c_str(), &text, nullptr), 0);
  EXPECT_EQ(text, "over tls");
}

} // namespace
