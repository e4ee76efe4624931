// weft_client_close during a connection attempt that hangs (the server's
// backlog is full, so the connect stays in progress; or the server takes
// the connection and never answers the TLS handshake, the upgrade or the
// HTTP/2 settings): close stops the attempt at once on every built-in
// transport instead of waiting for it, up to connect_timeout_ms (60 s
// here), and no callback of the client runs after close returned.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

extern "C" {
#include "weft/client.h"
#include "weft/http.h"
#include "weft/transport.h"
}

namespace {

struct Watch {
  std::atomic<bool> closed{false};
  std::atomic<int> late{0}; // callbacks after close returned
};

void on_state(weft_client *, weft_conn_state, void *ud) {
  auto *w = static_cast<Watch *>(ud);
  if (w->closed.load())
    w->late++;
}

void on_error(weft_client *, const weft_error *, void *ud) {
  auto *w = static_cast<Watch *>(ud);
  if (w->closed.load())
    w->late++;
}

// A loopback listener that never accepts. full: its backlog (room for
// one) is taken, so a connect to it hangs; else the kernel completes
// connects and the peer waits for an answer that never comes.
class Silent {
public:
  explicit Silent(bool full) {
    sockaddr_in a = {};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    lfd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    socklen_t sl = sizeof a;
    if (bind(lfd_, (sockaddr *)&a, sizeof a) == 0 &&
        getsockname(lfd_, (sockaddr *)&a, &sl) == 0 &&
        listen(lfd_, full ? 0 : 64) == 0)
      port_ = ntohs(a.sin_port);
    if (full && port_) {
      filler_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (connect(filler_, (sockaddr *)&a, sizeof a) != 0)
        port_ = 0;
    }
  }
  ~Silent() {
    if (filler_ >= 0)
      close(filler_);
    close(lfd_);
  }
  int port() const {
    return port_;
  }

private:
  int lfd_ = -1, filler_ = -1, port_ = 0;
};

// A test parameter as a client: its scheme (https_grpc and http_grpc are
// https:// and http:// with protocol grpc) and options for an attempt
// that may take 60 s, reconnecting. Not copied: o points at http.
struct Kind {
  std::string scheme;
  bool available;
  weft_http_client_opts http = WEFT_HTTP_CLIENT_OPTS_INIT;
  weft_client_opts o = {};
  explicit Kind(const std::string &param) {
    const bool grpc_over_http = param == "https_grpc" || param == "http_grpc";
    scheme = param == "https_grpc"  ? "https"
             : param == "http_grpc" ? "http"
                                    : param;
    weft_transports_init();
    available = weft_find_client_transport(scheme.c_str()) &&
                (param != "http_grpc" || weft_find_client_transport("grpc"));
    o.connect_timeout_ms = 60000;
    o.reconnect.enabled = true;
    // Never gets that far; grpcs:// cannot skip verification (system
    // roots).
    o.tls.insecure = scheme != "grpcs";
    http.protocol = WEFT_HTTP_GRPC;
    if (grpc_over_http)
      o.transport_opts = &http;
  }
  Kind(const Kind &) = delete;
  Kind &operator=(const Kind &) = delete;
  std::string url(int port) const {
    return scheme + "://127.0.0.1:" + std::to_string(port);
  }
};

void close_during_attempt(const std::string &param, bool full) {
  Kind k(param);
  if (!k.available)
    GTEST_SKIP() << "this build has no " << param << " transport";
  Silent server(full);
  ASSERT_NE(server.port(), 0);
  Watch w;
  weft_client_opts &o = k.o;
  o.on_state = on_state;
  o.on_error = on_error;
  o.user_data = &w;
  std::string url = k.url(server.port());
  weft_client *c = nullptr;
  weft_error err = {};
  ASSERT_EQ(weft_client_open_async(&c, url.c_str(), &o, &err), 0)
      << err.message;
  // The attempt is under way (and stuck) well before this.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(weft_client_state(c), WEFT_CONN_CONNECTING);
  auto t0 = std::chrono::steady_clock::now();
  weft_client_close(c);
  w.closed = true;
  double s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  // Waiting for the attempt would take its 60 s.
  EXPECT_LT(s, 20.0) << "close waited for the attempt";
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(w.late.load(), 0) << "a callback ran after close returned";
}

} // namespace

class CloseAttempt : public ::testing::TestWithParam<std::string> {};

TEST_P(CloseAttempt, StopsAnAttemptStuckInConnect) {
  close_during_attempt(GetParam(), true);
}

// Closes at every point of the start: before the supervisor ran, while
// the attempt is being set up, once it is stuck.
TEST_P(CloseAttempt, ClosesRightAfterOpenAsync) {
  Kind k(GetParam());
  if (!k.available)
    GTEST_SKIP() << "this build has no " << GetParam() << " transport";
  Silent server(true);
  ASSERT_NE(server.port(), 0);
  std::string url = k.url(server.port());
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 40; i++) {
    weft_client *c = nullptr;
    ASSERT_EQ(weft_client_open_async(&c, url.c_str(), &k.o, NULL), 0);
    std::this_thread::sleep_for(std::chrono::microseconds(250 * (i % 8)));
    weft_client_close(c);
  }
  double s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  EXPECT_LT(s, 30.0) << "a close waited for its attempt";
}

INSTANTIATE_TEST_SUITE_P(Transports, CloseAttempt,
                         ::testing::Values("h2c", "tcp", "tls", "https",
                                           "https_grpc", "grpc", "grpcs",
                                           "http_grpc", "ws", "wss"),
                         [](const auto &i) { return i.param; });

// Connected, then nothing: the TLS handshake (wss, https), the upgrade
// (ws) or gRPC core's HTTP/2 setup (grpc) never ends.
class CloseAttemptAnswered : public ::testing::TestWithParam<std::string> {};

TEST_P(CloseAttemptAnswered, StopsAnAttemptStuckAfterConnect) {
  close_during_attempt(GetParam(), false);
}

INSTANTIATE_TEST_SUITE_P(Transports, CloseAttemptAnswered,
                         ::testing::Values("ws", "wss", "https", "tls", "grpc",
                                           "grpcs", "http_grpc"),
                         [](const auto &i) { return i.param; });
