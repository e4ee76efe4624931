// tls://: RPCs over TLS with test certificates made by the openssl command
// line: verification, wrong CA, client certificates, concurrent calls.
#include <atomic>
#include <cstdlib>
#include <thread>
#include <vector>

#include "helpers.h"

using namespace weft_tcp_test;

namespace {

std::string g_dir;

void sh(const std::string &cmd) {
  std::string full = "cd '" + g_dir + "' && (" + cmd + ") >/dev/null 2>&1";
  ASSERT_EQ(std::system(full.c_str()), 0) << cmd;
}

class Certs : public ::testing::Environment {
public:
  void SetUp() override {
    char tmpl[] = "/tmp/weft-tlsrpc-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    g_dir = tmpl;
    for (const char *ca : {"ca", "otherca"})
      sh(std::string("openssl req -x509 -newkey ec -pkeyopt "
                     "ec_paramgen_curve:prime256v1 -nodes -days 2 ") +
         "-subj '/CN=" + ca + "' -keyout " + ca + ".key -out " + ca + ".pem");
    sh("printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > srv.ext");
    sh("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
       "-nodes -subj /CN=localhost "
       "-keyout srv.key -out srv.csr");
    sh("openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key "
       "-CAcreateserial -days 2 -extfile srv.ext -out srv.pem");
    sh("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
       "-nodes -subj /CN=client "
       "-keyout cli.key -out cli.csr");
    sh("openssl x509 -req -in cli.csr -CA ca.pem -CAkey ca.key "
       "-CAcreateserial -days 2 -out cli.pem");
  }
  void TearDown() override {
    std::system(("rm -rf '" + g_dir + "'").c_str());
  }
};
auto *const g_env = ::testing::AddGlobalTestEnvironment(new Certs);

std::string p(const char *f) {
  return g_dir + "/" + f;
}

struct TlsServer {
  std::string cert = p("srv.pem"), key = p("srv.key"), ca = p("ca.pem");
  weft_server_opts o = {};
  Server *srv;
  explicit TlsServer(bool client_certs = false) {
    o.tls.cert_file = cert.c_str();
    o.tls.key_file = key.c_str();
    if (client_certs)
      o.tls.ca_file = ca.c_str();
    srv = new Server("tls://127.0.0.1:0", &o);
  }
  ~TlsServer() {
    delete srv;
  }
  std::string url() const {
    return srv->url("tls");
  }
};

int unary(weft_client *c, const char *text, int *code = nullptr) {
  weft__test__EchoRequest r;
  weft__test__EchoRequest_init(&r);
  r.text = (char *)text;
  weft__test__EchoResponse *resp = nullptr;
  weft_call_opts o = {};
  int rc = weft__test__Echo_unary(c, &r, &resp, &o);
  if (rc == 0)
    EXPECT_STREQ(resp->text, text);
  if (code)
    *code = o.status.code;
  weft_message_free(resp);
  weft_status_clear(&o.status);
  return rc;
}

} // namespace

TEST(TlsRpc, UnaryAndStreamsVerified) {
  TlsServer s;
  std::string ca = p("ca.pem");
  weft_client_opts co = {};
  co.tls.ca_file = ca.c_str();
  Client cl(s.url(), &co);
  EXPECT_EQ(unary(cl.c, "over tls"), 0);
  weft__test__EchoRequest r;
  weft__test__EchoRequest_init(&r);
  r.text = (char *)"s";
  r.repeat = 100;
  std::string pl(16384, 'z');
  r.payload = bytes(pl);
  weft_call_opts o = {};
  weft_call *call;
  ASSERT_EQ(weft__test__Echo_server_stream(cl.c, &r, &call, &o), 0);
  void *m;
  int n = 0;
  while (weft_call_recv(call, &m) == 1) {
    EXPECT_EQ(((weft__test__EchoResponse *)m)->payload.len, pl.size());
    n++;
    weft_message_free(m);
  }
  EXPECT_EQ(weft_call_finish(call), 0);
  EXPECT_EQ(n, 100);
  weft_status_clear(&o.status);
}

TEST(TlsRpc, WrongCaFailsToConnect) {
  TlsServer s;
  std::string other = p("otherca.pem");
  weft_client_opts co = {};
  co.tls.ca_file = other.c_str();
  weft_client *c = nullptr;
  int rc = weft_client_open(&c, s.url().c_str(), &co, NULL);
  if (rc == 0) { // a lazily connecting client fails its first call
    int code = 0;
    EXPECT_LT(unary(c, "x", &code), 0);
    EXPECT_EQ(code, WEFT_STATUS_UNAVAILABLE);
    weft_client_close(c);
  } else {
    EXPECT_EQ(rc, WEFT_ERR_TLS);
  }
  // The server is fine.
  std::string ca = p("ca.pem");
  co.tls.ca_file = ca.c_str();
  Client good(s.url(), &co);
  EXPECT_EQ(unary(good.c, "still"), 0);
}

TEST(TlsRpc, WrongServerNameFails) {
  TlsServer s;
  std::string ca = p("ca.pem");
  weft_client_opts co = {};
  co.tls.ca_file = ca.c_str();
  co.tls.server_name = "not-this-host.example";
  weft_client *c = nullptr;
  EXPECT_EQ(weft_client_open(&c, s.url().c_str(), &co, NULL), WEFT_ERR_TLS);
  weft_client_close(c);
}

TEST(TlsRpc, ClientCertificates) {
  TlsServer s(true);
  std::string ca = p("ca.pem"), cert = p("cli.pem"), key = p("cli.key");
  weft_client_opts co = {};
  co.tls.ca_file = ca.c_str();
  co.tls.cert_file = cert.c_str();
  co.tls.key_file = key.c_str();
  {
    Client cl(s.url(), &co);
    EXPECT_EQ(unary(cl.c, "with cert"), 0);
  }
  co.tls.cert_file = co.tls.key_file = nullptr;
  weft_client *c = nullptr;
  if (weft_client_open(&c, s.url().c_str(), &co, NULL) == 0) {
    EXPECT_LT(unary(c, "no cert"), 0); // TLS 1.3: refused after handshake
    weft_client_close(c);
  }
}

TEST(TlsRpc, ConcurrentCalls) {
  TlsServer s;
  std::string ca = p("ca.pem");
  weft_client_opts co = {};
  co.tls.ca_file = ca.c_str();
  Client cl(s.url(), &co);
  std::atomic<int> bad{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; t++)
    ts.emplace_back([&] {
      for (int i = 0; i < 100; i++)
        if (unary(cl.c, "c") != 0)
          bad++;
    });
  for (auto &t : ts)
    t.join();
  EXPECT_EQ(bad.load(), 0);
}
