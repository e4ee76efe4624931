// https://: HTTP/2 over TLS with ALPN h2. Certificates are made at test time
// with the openssl command-line tool (a CA, a server certificate for
// 127.0.0.1 signed by it, and an unrelated CA); the weft client and curl
// verify the server against the CA, and the wrong CA fails cleanly.
#include "h2_test_util.h"

#include <fstream>

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

} // namespace
