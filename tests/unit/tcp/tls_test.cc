// sock.c: plain and TLS connections on loopback with certificates made at
// test time by the openssl command line. Checks verification success, wrong
// CA, wrong host name, client certificates, ALPN and TLS < 1.2 refusal.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <string>
#include <thread>

#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <unistd.h>

extern "C" {
#include "sock.h"
}

namespace {

std::string g_dir;

void sh(const std::string &cmd) {
  std::string full = "cd '" + g_dir + "' && (" + cmd + ") >/dev/null 2>&1";
  ASSERT_EQ(std::system(full.c_str()), 0) << cmd;
}

class Certs : public ::testing::Environment {
public:
  void SetUp() override {
    char tmpl[] = "/tmp/weft-tls-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    g_dir = tmpl;
    const std::string req = "openssl req -new -newkey ec -pkeyopt "
                            "ec_paramgen_curve:prime256v1 -nodes ";
    for (const char *ca : {"ca", "otherca"})
      sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
         "-nodes -days 2 -subj '/CN=weft "
         "test " +
         std::string(ca) + "' -keyout " + ca + ".key -out " + ca + ".pem");
    sh("printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > srv.ext");
    sh(req + "-subj /CN=localhost -keyout srv.key -out srv.csr");
    sh("openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key "
       "-CAcreateserial -days 2 -extfile srv.ext -out srv.pem");
    sh(req + "-subj /CN=client -keyout cli.key -out cli.csr");
    sh("openssl x509 -req -in cli.csr -CA ca.pem -CAkey ca.key "
       "-CAcreateserial -days 2 -out cli.pem");
    // A client certificate from a CA the server does not trust.
    sh(req + "-subj /CN=stranger -keyout bad.key -out bad.csr");
    sh("openssl x509 -req -in bad.csr -CA otherca.pem -CAkey otherca.key "
       "-CAcreateserial -days 2 -out bad.pem");
  }
  void TearDown() override {
    std::system(("rm -rf '" + g_dir + "'").c_str());
  }
};
auto *const g_env = ::testing::AddGlobalTestEnvironment(new Certs);

std::string path(const char *f) {
  return g_dir + "/" + f;
}

bool wait_fd(weft__conn *c, int ms) {
  struct pollfd p = {weft__conn_fd(c),
                     (short)(weft__conn_wants_write(c) ? POLLOUT : POLLIN), 0};
  return poll(&p, 1, ms) > 0;
}

// Echo server on a thread: accepts one connection at a time and echoes
// until EOF/error. Records the last error text.
struct EchoServer {
  weft__tls_ctx *tls = nullptr;
  int lfd = -1, port = 0;
  std::thread th;
  std::atomic<bool> stop{false};
  std::string last_error;
  std::string alpn;

  explicit EchoServer(weft__tls_ctx *t) : tls(t) {
    weft_error err;
    EXPECT_EQ(weft__listen("127.0.0.1", 0, 16, &lfd, &port, &err), 0)
        << err.message;
    th = std::thread([this] { run(); });
  }
  ~EchoServer() {
    stop = true;
    th.join();
    close(lfd);
    weft__tls_ctx_free(tls);
  }
  void run() {
    while (!stop) {
      struct pollfd p = {lfd, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0)
        continue;
      int fd = accept(lfd, nullptr, nullptr);
      if (fd < 0)
        continue;
      weft__conn *c;
      weft_error err;
      if (weft__conn_accept(&c, fd, tls, &err) != 0)
        continue;
      serve(c);
      weft__conn_close(c);
    }
  }
  void serve(weft__conn *c) {
    char buf[4096];
    while (!stop) {
      ssize_t n = weft__conn_read(c, buf, sizeof buf);
      if (n == WEFT_ERR_AGAIN) {
        wait_fd(c, 20);
        continue;
      }
      if (n <= 0) {
        if (n < 0)
          last_error = weft__conn_error(c);
        return;
      }
      alpn = weft__conn_alpn(c);
      for (ssize_t off = 0; off < n;) {
        ssize_t w = weft__conn_write(c, buf + off, (size_t)(n - off));
        if (w == WEFT_ERR_AGAIN) {
          wait_fd(c, 20);
          continue;
        }
        if (w < 0)
          return;
        off += w;
      }
    }
  }
};

weft__tls_ctx *server_ctx(bool want_client_cert,
                          const char *const *alpn = nullptr) {
  std::string cert = path("srv.pem"), key = path("srv.key"),
              ca = path("ca.pem");
  weft_tls_opts o = {};
  o.cert_file = cert.c_str();
  o.key_file = key.c_str();
  if (want_client_cert)
    o.ca_file = ca.c_str();
  weft__tls_ctx *t = nullptr;
  weft_error err;
  EXPECT_EQ(weft__tls_ctx_new(&t, true, &o, alpn, &err), 0) << err.message;
  return t;
}

weft__tls_ctx *client_ctx(const char *ca, const char *cert = nullptr,
                          const char *key = nullptr, bool insecure = false,
                          const char *const *alpn = nullptr) {
  std::string caf = ca ? path(ca) : "", cf = cert ? path(cert) : "",
              kf = key ? path(key) : "";
  weft_tls_opts o = {};
  o.ca_file = ca ? caf.c_str() : nullptr;
  o.cert_file = cert ? cf.c_str() : nullptr;
  o.key_file = key ? kf.c_str() : nullptr;
  o.insecure = insecure;
  weft__tls_ctx *t = nullptr;
  weft_error err;
  EXPECT_EQ(weft__tls_ctx_new(&t, false, &o, alpn, &err), 0) << err.message;
  return t;
}

// Writes msg and reads it back; returns what came back or "ERR:<code>".
std::string roundtrip(weft__conn *c, const std::string &msg) {
  size_t off = 0;
  while (off < msg.size()) {
    ssize_t w = weft__conn_write(c, msg.data() + off, msg.size() - off);
    if (w == WEFT_ERR_AGAIN) {
      wait_fd(c, 100);
      continue;
    }
    if (w < 0)
      return "ERR:" + std::to_string(w);
    off += (size_t)w;
  }
  std::string got;
  for (int spins = 0; got.size() < msg.size() && spins < 500;) {
    char buf[4096];
    ssize_t n = weft__conn_read(c, buf, sizeof buf);
    if (n == WEFT_ERR_AGAIN) {
      if (!wait_fd(c, 20))
        spins++;
      continue;
    }
    if (n <= 0)
      return "ERR:" + std::to_string(n);
    got.append(buf, (size_t)n);
  }
  return got;
}

} // namespace

TEST(Sock, PlainEcho) {
  EchoServer s(nullptr);
  weft__conn *c;
  weft_error err;
  ASSERT_EQ(
      weft__conn_connect(&c, "127.0.0.1", s.port, nullptr, nullptr, 2000, &err),
      0)
      << err.message;
  EXPECT_FALSE(weft__conn_is_tls(c));
  EXPECT_EQ(std::string(weft__conn_peer(c)),
            "127.0.0.1:" + std::to_string(s.port));
  std::string big(200000, 'q');
  EXPECT_EQ(roundtrip(c, "hello"), "hello");
  EXPECT_EQ(roundtrip(c, big), big);
  weft__conn_close(c);
}

TEST(Sock, ConnectRefusedIsCleanError) {
  int lfd, port;
  weft_error err;
  ASSERT_EQ(weft__listen("127.0.0.1", 0, 1, &lfd, &port, &err), 0);
  close(lfd); // nobody listens there now
  weft__conn *c;
  EXPECT_EQ(
      weft__conn_connect(&c, "127.0.0.1", port, nullptr, nullptr, 2000, &err),
      WEFT_ERR_CONNECT);
  EXPECT_NE(std::string(err.message).find("refused"), std::string::npos)
      << err.message;
  EXPECT_EQ(c, nullptr);
}

TEST(Sock, TlsVerifiesIpAndHostName) {
  EchoServer s(server_ctx(false));
  weft__tls_ctx *t = client_ctx("ca.pem");
  weft_error err;
  for (const char *host : {"127.0.0.1", "localhost"}) {
    weft__conn *c;
    ASSERT_EQ(weft__conn_connect(&c, host, s.port, t, nullptr, 5000, &err), 0)
        << host << ": " << err.message;
    EXPECT_TRUE(weft__conn_is_tls(c));
    EXPECT_EQ(roundtrip(c, "over tls"), "over tls");
    std::string big(100000, 'b');
    EXPECT_EQ(roundtrip(c, big), big);
    weft__conn_close(c);
  }
  // server_name overrides the URL host for SNI and verification.
  weft__conn *c;
  ASSERT_EQ(
      weft__conn_connect(&c, "127.0.0.1", s.port, t, "localhost", 5000, &err),
      0)
      << err.message;
  weft__conn_close(c);
  weft__tls_ctx_free(t);
}

TEST(Sock, TlsWrongCaFails) {
  EchoServer s(server_ctx(false));
  weft__tls_ctx *t = client_ctx("otherca.pem");
  weft__conn *c = nullptr;
  weft_error err;
  EXPECT_EQ(weft__conn_connect(&c, "127.0.0.1", s.port, t, nullptr, 5000, &err),
            WEFT_ERR_TLS);
  EXPECT_EQ(c, nullptr);
  EXPECT_NE(std::string(err.message).find("certificate verification failed"),
            std::string::npos)
      << err.message;
  weft__tls_ctx_free(t);
  // The server keeps serving.
  t = client_ctx("ca.pem");
  ASSERT_EQ(weft__conn_connect(&c, "127.0.0.1", s.port, t, nullptr, 5000, &err),
            0)
      << err.message;
  EXPECT_EQ(roundtrip(c, "still here"), "still here");
  weft__conn_close(c);
  weft__tls_ctx_free(t);
}

TEST(Sock, TlsWrongHostNameFails) {
  EchoServer s(server_ctx(false));
  weft__tls_ctx *t = client_ctx("ca.pem");
  weft__conn *c = nullptr;
  weft_error err;
  EXPECT_EQ(weft__conn_connect(&c, "127.0.0.1", s.port, t, "wrong.example",
                               5000, &err),
            WEFT_ERR_TLS);
  EXPECT_NE(std::string(err.message).find("hostname mismatch"),
            std::string::npos)
      << err.message;
  EXPECT_EQ(
      weft__conn_connect(&c, "127.0.0.1", s.port, t, "127.0.0.2", 5000, &err),
      WEFT_ERR_TLS);
  EXPECT_NE(std::string(err.message).find("IP address mismatch"),
            std::string::npos)
      << err.message;
  weft__tls_ctx_free(t);
}

TEST(Sock, TlsInsecureSkipsVerification) {
  EchoServer s(server_ctx(false));
  weft__tls_ctx *t = client_ctx("otherca.pem", nullptr, nullptr, true);
  weft__conn *c;
  weft_error err;
  ASSERT_EQ(weft__conn_connect(&c, "127.0.0.1", s.port, t, "wrong.example",
                               5000, &err),
            0)
      << err.message;
  EXPECT_EQ(roundtrip(c, "x"), "x");
  weft__conn_close(c);
  weft__tls_ctx_free(t);
}

TEST(Sock, TlsClientCertificates) {
  EchoServer s(server_ctx(true));
  weft_error err;
  weft__conn *c;
  // With a certificate from the trusted CA.
  weft__tls_ctx *t = client_ctx("ca.pem", "cli.pem", "cli.key");
  ASSERT_EQ(weft__conn_connect(&c, "127.0.0.1", s.port, t, nullptr, 5000, &err),
            0)
      << err.message;
  EXPECT_EQ(roundtrip(c, "with cert"), "with cert");
  weft__conn_close(c);
  weft__tls_ctx_free(t);
  // Without one, or with an untrusted one: the handshake fails (in TLS 1.3
  // the client learns it on its first read, through the server's alert).
  for (int bad = 0; bad < 2; bad++) {
    t = bad ? client_ctx("ca.pem", "bad.pem", "bad.key") : client_ctx("ca.pem");
    int rc =
        weft__conn_connect(&c, "127.0.0.1", s.port, t, nullptr, 5000, &err);
    if (rc == 0) {
      // The alert may arrive as a TLS error or as a reset connection.
      std::string r = roundtrip(c, "no");
      EXPECT_TRUE(r == "ERR:" + std::to_string(WEFT_ERR_TLS) ||
                  r == "ERR:" + std::to_string(WEFT_ERR_IO))
          << r;
      EXPECT_NE(std::string(weft__conn_error(c)), "");
      weft__conn_close(c);
    } else {
      EXPECT_EQ(rc, WEFT_ERR_TLS);
    }
    for (int i = 0; i < 100 && s.last_error.empty(); i++)
      usleep(10000);
    EXPECT_NE(s.last_error.find("certificate"), std::string::npos)
        << s.last_error;
    s.last_error.clear();
    weft__tls_ctx_free(t);
  }
}

TEST(Sock, TlsAlpn) {
  static const char *const h2[] = {"h2", nullptr};
  static const char *const both[] = {"h2", "http/1.1", nullptr};
  EchoServer s(server_ctx(false, h2));
  weft__tls_ctx *t = client_ctx("ca.pem", nullptr, nullptr, false, both);
  weft__conn *c;
  weft_error err;
  ASSERT_EQ(weft__conn_connect(&c, "localhost", s.port, t, nullptr, 5000, &err),
            0)
      << err.message;
  EXPECT_STREQ(weft__conn_alpn(c), "h2");
  EXPECT_EQ(roundtrip(c, "a"), "a");
  EXPECT_EQ(s.alpn, "h2");
  weft__conn_close(c);
  weft__tls_ctx_free(t);
}

TEST(Sock, TlsBelow12Refused) {
  EchoServer s(server_ctx(false));
  // A raw OpenSSL client that offers at most TLS 1.1.
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_security_level(ctx, 0);
  SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
  SSL_CTX_set_max_proto_version(ctx, TLS1_1_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  weft__conn *c;
  weft_error err;
  ASSERT_EQ(
      weft__conn_connect(&c, "127.0.0.1", s.port, nullptr, nullptr, 2000, &err),
      0);
  int fd = dup(weft__conn_fd(c));
  weft__conn_close(c);
  int fl = 0;
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  (void)fl;
  // Back to blocking for the raw handshake.
  int flags = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  SSL *ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  EXPECT_NE(SSL_connect(ssl), 1);
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  close(fd);
}

TEST(Sock, TlsServerNeedsCertAndKey) {
  weft__tls_ctx *t = nullptr;
  weft_error err;
  weft_tls_opts o = {};
  EXPECT_EQ(weft__tls_ctx_new(&t, true, &o, nullptr, &err), WEFT_ERR_INVAL);
  std::string missing = path("nope.pem");
  o.cert_file = missing.c_str();
  o.key_file = missing.c_str();
  EXPECT_EQ(weft__tls_ctx_new(&t, true, &o, nullptr, &err), WEFT_ERR_TLS);
  EXPECT_NE(std::string(err.message).find("nope.pem"), std::string::npos)
      << err.message;
  EXPECT_EQ(t, nullptr);
}
