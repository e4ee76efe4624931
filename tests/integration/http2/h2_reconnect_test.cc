// Reconnect attempts of h2c://, tcp://, https:// and grpc:// clients run
// on the client loop (the transport's connect_async), not on the runtime's
// one connector thread: while another client's reconnect attempt hangs (a
// grpc:// client to a server whose backlog is full and never accepted, so
// its connect stays in progress until connect_timeout_ms; it held the
// connector thread when grpc:// reconnected there), a client whose server
// comes back reconnects at once instead of queueing behind that attempt.
// https_grpc is https:// with protocol grpc (weft's HTTP/2 client speaking
// gRPC over TLS), http_grpc http:// with protocol grpc (the grpc://
// transport underneath). The ws:// and wss:// cases are in
// tests/integration/websocket.
#include "h2_test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "echo_expect.h"
#include "self_signed.h"
#include "weft/http.h"
#include "weft/loop.h"

using h2test::Server;
using h2test::wait_state;

namespace {

struct Errors {
  std::mutex mu;
  std::vector<std::string> seen;
  size_t count() {
    std::lock_guard<std::mutex> g(mu);
    return seen.size();
  }
  std::string last() {
    std::lock_guard<std::mutex> g(mu);
    return seen.empty() ? "" : seen.back();
  }
};

void on_error(weft_client *, const weft_error *err, void *ud) {
  auto *e = static_cast<Errors *>(ud);
  std::lock_guard<std::mutex> g(e->mu);
  e->seen.push_back(err->message);
}

} // namespace

class ClientReconnect : public ::testing::TestWithParam<std::string> {};

TEST_P(ClientReconnect, NotDelayedByAnotherClientsHangingAttempt) {
  const bool grpc = GetParam() == "https_grpc" || GetParam() == "http_grpc";
  const std::string scheme = GetParam() == "https_grpc"  ? "https"
                             : GetParam() == "http_grpc" ? "http"
                                                         : GetParam();
  // The server B talks to: grpc:// for http:// with protocol grpc.
  const std::string server_scheme = GetParam() == "http_grpc" ? "grpc" : scheme;
  // A: a grpc:// client to a port nobody listens on yet, retrying.
  weft_transports_init();
  if (!weft_find_client_transport("grpc"))
    GTEST_SKIP() << "this build has no grpc:// transport";
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(bind(lfd, (sockaddr *)&a, sizeof a), 0);
  socklen_t sl = sizeof a;
  getsockname(lfd, (sockaddr *)&a, &sl);
  std::string a_url = "grpc://127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  Errors a_errors;
  weft_client_opts ao = {};
  ao.connect_timeout_ms = 5000; // B's whole outage fits well inside it
  ao.reconnect.enabled = true;
  ao.reconnect.base_ms = 20;
  ao.reconnect.cap_ms = 50;
  ao.on_error = on_error;
  ao.user_data = &a_errors;
  weft_client *ca = nullptr;
  ASSERT_EQ(weft_client_open(&ca, a_url.c_str(), &ao, NULL), 0);
  // Its server appears but never accepts, its backlog (room for one) taken:
  // A's next attempt hangs in connect for connect_timeout_ms, holding the
  // connector thread.
  ASSERT_EQ(listen(lfd, 0), 0);
  int filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(connect(filler, (sockaddr *)&a, sizeof a), 0);
  ASSERT_TRUE(wait_state(ca, WEFT_CONN_CONNECTING, 5));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  size_t a_failures = a_errors.count();

  // B: a client whose server goes away and comes back on its port.
  int port = 0;
  weft_client *cb = nullptr;
  weft_client_opts bo = {};
  bo.connect_timeout_ms = 3000;
  bo.reconnect.enabled = true;
  bo.reconnect.base_ms = 20;
  bo.reconnect.cap_ms = 50;
  weft_server_opts so = Server::opts(0);
  so.shutdown_grace_ms = 100; // B's server goes at once
  static WeftTestCert cert("h2-reconn");
  if (scheme == "https") {
    so.tls.cert_file = cert.cert.c_str();
    so.tls.key_file = cert.key.c_str();
    bo.tls.ca_file = cert.cert.c_str();
  }
  weft_http_client_opts http = WEFT_HTTP_CLIENT_OPTS_INIT;
  http.protocol = WEFT_HTTP_GRPC;
  if (grpc)
    bo.transport_opts = &http;
  // grpc:// stays connected when its server goes (gRPC core's channel is
  // IDLE and reconnects on the next call), so there B is opened while its
  // server is down, on a port held for it, and retries until it is up.
  h2test::PortReservation held;
  if (server_scheme == "grpc") {
    port = held.port();
    std::string url = scheme + "://127.0.0.1:" + std::to_string(port);
    ASSERT_EQ(weft_client_open(&cb, url.c_str(), &bo, NULL), 0);
  } else {
    Server s((scheme + "://127.0.0.1:0").c_str(), so);
    port = s.port();
    std::string url = scheme + "://127.0.0.1:" + std::to_string(port);
    ASSERT_EQ(weft_client_open(&cb, url.c_str(), &bo, NULL), 0);
  }
  for (int i = 0; i < 500 && weft_client_state(cb) == WEFT_CONN_CONNECTED; i++)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_NE(weft_client_state(cb), WEFT_CONN_CONNECTED);
  std::this_thread::sleep_for(std::chrono::milliseconds(100)); // B retries
  std::string url = scheme + "://127.0.0.1:" + std::to_string(port);
  Server back((server_scheme + "://127.0.0.1:" + std::to_string(port)).c_str(),
              so);
  held.release();
  ASSERT_TRUE(wait_state(cb, WEFT_CONN_CONNECTED, 10));
  // ... before A's hanging attempt ended (it would have reported a failure).
  EXPECT_EQ(a_errors.count(), a_failures)
      << "B reconnected only after A's attempt failed: " << a_errors.last();
  EXPECT_NE(weft_client_state(ca), WEFT_CONN_CONNECTED);

  weft_test_expect_echo(cb, "back");
  weft_client_close(cb);
  close(filler);
  close(lfd);
  weft_client_close(ca); // stops A's attempt
}

INSTANTIATE_TEST_SUITE_P(Transports, ClientReconnect,
                         ::testing::Values("h2c", "tcp", "https", "https_grpc",
                                           "grpc", "http_grpc"),
                         [](const auto &i) { return i.param; });

// http:// whose first connect failed: the reconnect is dialled on the loop
// and adopted by the HTTP/1.1 pool, as the first connect's socket would be.
TEST(ClientReconnect, HttpClientWhoseFirstConnectFailed) {
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(bind(lfd, (sockaddr *)&a, sizeof a), 0);
  socklen_t sl = sizeof a;
  getsockname(lfd, (sockaddr *)&a, &sl);
  int port = ntohs(a.sin_port);
  std::string url = "http://127.0.0.1:" + std::to_string(port);
  Errors errors;
  weft_client_opts o = {};
  o.connect_timeout_ms = 3000;
  o.reconnect.enabled = true;
  o.reconnect.base_ms = 20;
  o.reconnect.cap_ms = 50;
  o.on_error = on_error;
  o.user_data = &errors;
  weft_client *c = nullptr;
  ASSERT_EQ(weft_client_open(&c, url.c_str(), &o, NULL), 0);
  // Refused attempts, retried (each too short to be seen CONNECTING).
  for (int i = 0; i < 500 && errors.count() < 2; i++)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_GE(errors.count(), 2u);
  close(lfd); // the port is free for the server (h2c:// also serves HTTP/1.1)
  Server s(("h2c://127.0.0.1:" + std::to_string(port)).c_str());
  ASSERT_TRUE(wait_state(c, WEFT_CONN_CONNECTED, 10)) << errors.last();

  weft_test_expect_echo(c, "pool");
  weft_client_close(c);
}

// A call started from the client loop's own thread (a callback) while a
// reconnect is wanted fails at once with WEFT_ERR_CONNECT: waiting for the
// reconnect there would stall every connection of the process until the
// call's deadline, since the reconnect's outcome runs on that very thread.
TEST(ClientReconnect, CallFromTheLoopDuringAReconnectFailsAtOnce) {
  h2test::PortReservation held; // nobody listens: every attempt is refused
  std::string url = "h2c://127.0.0.1:" + std::to_string(held.port());
  weft_client_opts o = {};
  o.connect_timeout_ms = 5000;
  o.reconnect.enabled = true;
  o.reconnect.base_ms = 20;
  o.reconnect.cap_ms = 50;
  weft_client *c = nullptr;
  ASSERT_EQ(weft_client_open(&c, url.c_str(), &o, NULL), 0);
  ASSERT_NE(weft_client_state(c), WEFT_CONN_CONNECTED);
  weft_loop *loop = nullptr;
  ASSERT_EQ(weft_client_loop_acquire(&loop, NULL), 0);
  struct Job {
    weft_client *c;
    int rv = 1;
    double seconds = -1;
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    static void on_done(weft_call *, const weft_status *, const weft_metadata *,
                        void *) {}
    static void run(void *ud) {
      auto *j = static_cast<Job *>(ud);
      static const weft_call_callbacks cb = {nullptr, nullptr, on_done};
      weft__test__EchoRequest req;
      weft__test__EchoRequest_init(&req);
      weft_call_opts co = {};
      weft_call *call = nullptr;
      auto t0 = std::chrono::steady_clock::now();
      int rv = weft_call_start_async(j->c, &weft__test__Echo_service.methods[0],
                                     &req, &co, &cb, nullptr, &call);
      double s =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
              .count();
      weft_status_clear(&co.status);
      std::lock_guard<std::mutex> g(j->mu);
      j->rv = rv;
      j->seconds = s;
      j->done = true;
      j->cv.notify_all();
    }
  } job;
  job.c = c;
  ASSERT_EQ(weft_loop_post(loop, Job::run, &job), 0);
  {
    std::unique_lock<std::mutex> l(job.mu);
    ASSERT_TRUE(
        job.cv.wait_for(l, std::chrono::seconds(20), [&] { return job.done; }));
  }
  EXPECT_EQ(job.rv, WEFT_ERR_CONNECT);
  // A bound for a stall, not a speed figure: the wait was connect_timeout_ms.
  EXPECT_LT(job.seconds, 2.5);
  weft_client_loop_release(loop);
  weft_client_close(c);
}
