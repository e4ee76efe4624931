// dial.c: connections opened on the client loop without blocking it. Each
// failure says what weft__conn_connect says for it (refused, timed out in
// TCP, timed out in the TLS handshake, certificate not for that name), a
// TLS dial verifies and negotiates ALPN, a host name (localhost: no
// traffic off loopback) is looked up off the loop, a cancelled dial never
// reports, and a dial to a server that never answers does not hold up another
// dial to a live one. The unreachable servers are loopback listeners: one whose
// backlog is full and which never accepts (SYNs are dropped, so connect stays
// in progress), and one that accepts and never speaks TLS. Labelled tsan: the
// loop thread reports to the test thread.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

extern "C" {
#include "dial.h"
#include "sock.h"
#include "weft/transport.h"
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
    char tmpl[] = "/tmp/weft-dial-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    g_dir = tmpl;
    sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
       "-nodes -days 2 -subj '/CN=weft dial ca' -keyout ca.key -out ca.pem");
    sh("printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > srv.ext");
    sh("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
       "-nodes -subj /CN=localhost -keyout srv.key -out srv.csr");
    sh("openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key "
       "-CAcreateserial -days 2 -extfile srv.ext -out srv.pem");
  }
  void TearDown() override {
    std::system(("rm -rf '" + g_dir + "'").c_str());
  }
};
auto *const g_env = ::testing::AddGlobalTestEnvironment(new Certs);

std::string path(const char *f) {
  return g_dir + "/" + f;
}

int listener(int backlog, int *port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, (sockaddr *)&a, sizeof a);
  socklen_t sl = sizeof a;
  getsockname(fd, (sockaddr *)&a, &sl);
  *port = ntohs(a.sin_port);
  listen(fd, backlog);
  return fd;
}

// A listener that never accepts, its backlog filled by one connection:
// further connects stay in progress until their timeout.
struct FullBacklog {
  int lfd = -1, filler = -1, port = 0;
  FullBacklog() {
    lfd = listener(0, &port);
    filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = {};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    EXPECT_EQ(connect(filler, (sockaddr *)&a, sizeof a), 0);
  }
  ~FullBacklog() {
    close(filler);
    close(lfd);
  }
};

// Accepts connections (so TCP completes) and never says a word.
struct Mute {
  int lfd = -1, port = 0;
  std::vector<int> fds;
  std::atomic<bool> stop{false};
  std::thread th;
  Mute() {
    lfd = listener(16, &port);
    th = std::thread([this] {
      while (!stop) {
        pollfd p = {lfd, POLLIN, 0};
        if (poll(&p, 1, 20) > 0) {
          int fd = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
          if (fd >= 0)
            fds.push_back(fd);
        }
      }
    });
  }
  ~Mute() {
    stop = true;
    th.join();
    for (int fd : fds)
      close(fd);
    close(lfd);
  }
};

// A TLS server (ALPN h2) that completes handshakes on a thread and then
// closes.
struct TlsServer {
  weft__tls_ctx *tls = nullptr;
  int lfd = -1, port = 0;
  std::atomic<bool> stop{false};
  std::thread th;
  TlsServer() {
    static const char *const alpn[] = {"h2", NULL};
    std::string cert = path("srv.pem"), key = path("srv.key");
    weft_tls_opts o = {};
    o.cert_file = cert.c_str();
    o.key_file = key.c_str();
    weft_error err;
    EXPECT_EQ(weft__tls_ctx_new(&tls, true, &o, alpn, &err), 0) << err.message;
    lfd = listener(16, &port);
    th = std::thread([this] { run(); });
  }
  ~TlsServer() {
    stop = true;
    th.join();
    close(lfd);
    weft__tls_ctx_free(tls);
  }
  void run() {
    while (!stop) {
      pollfd p = {lfd, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0)
        continue;
      int fd = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
      weft__conn *c = nullptr;
      weft_error err;
      if (fd < 0 || weft__conn_accept(&c, fd, tls, &err) != 0)
        continue;
      char b[64];
      // The handshake runs inside reads; a client that verified us waits
      // for data, so stop once the handshake is done or the peer left.
      for (int i = 0; i < 200 && !stop; i++) {
        ssize_t n = weft__conn_read(c, b, sizeof b);
        if (n != WEFT_ERR_AGAIN || weft__conn_alpn(c)[0])
          break;
        pollfd q = {weft__conn_fd(c),
                    (short)(weft__conn_wants_write(c) ? POLLOUT : POLLIN), 0};
        poll(&q, 1, 20);
      }
      weft__conn_close(c);
    }
  }
};

// One dial's outcome, delivered on the loop.
struct Outcome {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  int rv = 1;
  std::string message, alpn;
  bool wait(int seconds = 20) {
    std::unique_lock<std::mutex> l(mu);
    return cv.wait_for(l, std::chrono::seconds(seconds), [&] { return done; });
  }
  bool is_done() {
    std::lock_guard<std::mutex> g(mu);
    return done;
  }
};

void on_done(void *ud, int rv, weft__conn *conn, const weft_error *err) {
  auto *o = static_cast<Outcome *>(ud);
  std::lock_guard<std::mutex> g(o->mu);
  o->done = true;
  o->rv = rv;
  if (rv < 0)
    o->message = err->message;
  if (conn) {
    o->alpn = weft__conn_alpn(conn);
    weft__conn_close(conn);
  }
  o->cv.notify_all();
}

// Holds the client loop for the test's dials.
class DialTest : public ::testing::Test {
protected:
  void SetUp() override {
    weft_error err;
    ASSERT_EQ(weft_client_loop_acquire(&loop_, &err), 0) << err.message;
  }
  void TearDown() override {
    weft_client_loop_release(loop_);
  }
  struct Args {
    DialTest *t;
    std::string host, sni;
    int port;
    weft__tls_ctx *tls;
    int64_t ms;
    Outcome *out;
    weft__dial *d;
    int rv;
  };
  // Starts a dial on the loop (where it must start); 0 or its error.
  int dial(const std::string &host, int port, weft__tls_ctx *tls, int64_t ms,
           Outcome *out, const std::string &sni = "",
           weft__dial **handle = nullptr) {
    Args a = {this, host, sni, port, tls, ms, out, nullptr, 0};
    weft_loop_run_sync(
        loop_,
        [](void *ud) {
          auto *a = static_cast<Args *>(ud);
          weft_error err;
          a->rv = weft__dial_start(&a->d, a->t->loop_, a->host.c_str(), a->port,
                                   a->tls,
                                   a->sni.empty() ? nullptr : a->sni.c_str(),
                                   a->ms, on_done, a->out, &err);
        },
        &a);
    if (handle)
      *handle = a.d;
    return a.rv;
  }
  weft_loop *loop_ = nullptr;
};

weft__tls_ctx *client_tls() {
  static const char *const alpn[] = {"h2", NULL};
  std::string ca = path("ca.pem");
  weft_tls_opts o = {};
  o.ca_file = ca.c_str();
  weft__tls_ctx *t = nullptr;
  weft_error err;
  EXPECT_EQ(weft__tls_ctx_new(&t, false, &o, alpn, &err), 0) << err.message;
  return t;
}

// What the blocking connect says for the same failure.
std::string blocking_says(const char *host, int port, weft__tls_ctx *tls,
                          int64_t ms, const char *sni = nullptr) {
  weft__conn *c = nullptr;
  weft_error err = {};
  int rv = weft__conn_connect(&c, host, port, tls, sni, ms, &err);
  weft__conn_close(c);
  return rv < 0 ? err.message : "";
}

} // namespace

TEST_F(DialTest, RefusedSaysWhatBlockingConnectSays) {
  int port = 0;
  close(listener(1, &port)); // nobody listens there now
  Outcome o;
  ASSERT_EQ(dial("127.0.0.1", port, nullptr, 5000, &o), 0);
  ASSERT_TRUE(o.wait());
  EXPECT_EQ(o.rv, WEFT_ERR_CONNECT);
  EXPECT_EQ(o.message, blocking_says("127.0.0.1", port, nullptr, 5000));
  EXPECT_NE(o.message.find("refused"), std::string::npos) << o.message;
  std::printf("refused: %s\n", o.message.c_str());
}

TEST_F(DialTest, FullBacklogTimesOut) {
  FullBacklog fb;
  Outcome o;
  ASSERT_EQ(dial("127.0.0.1", fb.port, nullptr, 300, &o), 0);
  ASSERT_TRUE(o.wait());
  EXPECT_EQ(o.rv, WEFT_ERR_TIMEOUT);
  EXPECT_EQ(o.message, blocking_says("127.0.0.1", fb.port, nullptr, 300));
  std::printf("full backlog: %s\n", o.message.c_str());
}

TEST_F(DialTest, SilentTlsServerHandshakeTimesOut) {
  Mute m;
  weft__tls_ctx *t = client_tls();
  Outcome o;
  ASSERT_EQ(dial("127.0.0.1", m.port, t, 300, &o), 0);
  ASSERT_TRUE(o.wait());
  EXPECT_EQ(o.rv, WEFT_ERR_TIMEOUT);
  EXPECT_EQ(o.message, blocking_says("127.0.0.1", m.port, t, 300));
  EXPECT_NE(o.message.find("TLS handshake with 127.0.0.1"), std::string::npos)
      << o.message;
  std::printf("mute TLS server: %s\n", o.message.c_str());
  weft__tls_ctx_free(t);
}

TEST_F(DialTest, TlsVerifiesAndNegotiatesAlpn) {
  TlsServer s;
  weft__tls_ctx *t = client_tls();
  Outcome ok;
  ASSERT_EQ(dial("127.0.0.1", s.port, t, 5000, &ok), 0);
  ASSERT_TRUE(ok.wait());
  EXPECT_EQ(ok.rv, 0) << ok.message;
  EXPECT_EQ(ok.alpn, "h2");
  // The certificate is not for that name: the verification result says so.
  Outcome bad;
  ASSERT_EQ(dial("127.0.0.1", s.port, t, 5000, &bad, "wrong.example"), 0);
  ASSERT_TRUE(bad.wait());
  EXPECT_EQ(bad.rv, WEFT_ERR_TLS);
  EXPECT_EQ(bad.message,
            blocking_says("127.0.0.1", s.port, t, 5000, "wrong.example"));
  EXPECT_NE(bad.message.find("certificate verification failed"),
            std::string::npos)
      << bad.message;
  std::printf("wrong name: %s\n", bad.message.c_str());
  weft__tls_ctx_free(t);
}

TEST_F(DialTest, HostNameIsLookedUpOffTheLoop) {
  TlsServer s;
  weft__tls_ctx *t = client_tls();
  Outcome o;
  ASSERT_EQ(dial("localhost", s.port, t, 5000, &o), 0);
  ASSERT_TRUE(o.wait());
  EXPECT_EQ(o.rv, 0) << o.message;
  weft__tls_ctx_free(t);
}

TEST_F(DialTest, CancelledDialNeverReports) {
  FullBacklog fb;
  Mute m;
  weft__tls_ctx *t = client_tls();
  struct Ds {
    weft__dial *d[3];
    Outcome out[3];
  } ds;
  ASSERT_EQ(dial("127.0.0.1", fb.port, nullptr, 1000, &ds.out[0], "", &ds.d[0]),
            0);
  ASSERT_EQ(dial("127.0.0.1", m.port, t, 1000, &ds.out[1], "", &ds.d[1]), 0);
  ASSERT_EQ(dial("localhost", m.port, t, 1000, &ds.out[2], "", &ds.d[2]), 0);
  // The TLS dials may be in TCP connect or in their handshake, the named
  // one still in its lookup: in every state nothing reports after cancel.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  weft_loop_run_sync(
      loop_,
      [](void *ud) {
        auto *ds = static_cast<Ds *>(ud);
        for (int i = 0; i < 3; i++)
          if (!ds->out[i].is_done()) // a stalled machine: already timed out
            weft__dial_cancel(ds->d[i]);
      },
      &ds);
  // Past every timeout: still nothing.
  std::this_thread::sleep_for(std::chrono::milliseconds(1300));
  for (int i = 0; i < 3; i++)
    EXPECT_FALSE(ds.out[i].is_done()) << i << ": " << ds.out[i].message;
  weft__tls_ctx_free(t);
}

// The point of dialling on the loop: a server that never answers holds up
// only its own dial. (On one connector thread, the live server's dial
// waited for the first one's timeout.)
TEST_F(DialTest, UnreachableServerDoesNotDelayOtherDials) {
  FullBacklog fb;
  Mute m;
  TlsServer live;
  weft__tls_ctx *t = client_tls();
  Outcome stuck_tcp, stuck_tls, ok;
  weft__dial *d1 = nullptr, *d2 = nullptr;
  ASSERT_EQ(dial("127.0.0.1", fb.port, nullptr, 15000, &stuck_tcp, "", &d1), 0);
  ASSERT_EQ(dial("127.0.0.1", m.port, t, 15000, &stuck_tls, "", &d2), 0);
  ASSERT_EQ(dial("127.0.0.1", live.port, t, 15000, &ok), 0);
  ASSERT_TRUE(ok.wait(10));
  EXPECT_EQ(ok.rv, 0) << ok.message;
  EXPECT_FALSE(stuck_tcp.is_done());
  EXPECT_FALSE(stuck_tls.is_done());
  struct Ds {
    weft__dial *a, *b;
  } ds = {d1, d2};
  weft_loop_run_sync(
      loop_,
      [](void *ud) {
        auto *ds = static_cast<Ds *>(ud);
        weft__dial_cancel(ds->a);
        weft__dial_cancel(ds->b);
      },
      &ds);
  weft__tls_ctx_free(t);
}
