// weft_client_open_async on every built-in kind of client connection: it
// returns without the network (the server here is not even listening yet),
// the first attempt runs in the background and is reported by on_state /
// on_connect / on_error, calls made meanwhile wait for the connection, and
// it may be called on the client loop, where weft_client_open would block
// the loop that the other clients' connections run on.
#include "h2_test_util.h"

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>

#include "echo_expect.h"
#include "weft/loop.h"
#include "weft/transport.h"

using h2test::Server;
using h2test::wait_state;

namespace {

struct Seen {
  std::atomic<int> connects{0};
  std::atomic<int> connecting{0};
  std::mutex mu;
  std::string error;
};

void on_connect(weft_client *, void *ud) {
  static_cast<Seen *>(ud)->connects++;
}

void on_state(weft_client *, weft_conn_state st, void *ud) {
  if (st == WEFT_CONN_CONNECTING)
    static_cast<Seen *>(ud)->connecting++;
}

void on_error(weft_client *, const weft_error *err, void *ud) {
  auto *s = static_cast<Seen *>(ud);
  std::lock_guard<std::mutex> g(s->mu);
  s->error = err->message;
}

// on_connect runs after the state is CONNECTED, once the client's lock is
// released: a test that saw the state waits for the callback too.
bool wait_count(const std::atomic<int> &n, int want, int seconds) {
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (n.load() != want && std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  return n.load() == want;
}

weft_client_opts opts_for(Seen *seen) {
  weft_client_opts o = {};
  o.connect_timeout_ms = 5000;
  o.on_connect = on_connect;
  o.on_state = on_state;
  o.on_error = on_error;
  o.user_data = seen;
  return o;
}

} // namespace

class OpenAsync : public ::testing::TestWithParam<std::string> {
protected:
  void SetUp() override {
    weft_transports_init();
    if (!weft_find_client_transport(GetParam().c_str()))
      GTEST_SKIP() << "this build has no " << GetParam() << ":// transport";
  }
  std::string url(int port) const {
    return GetParam() + "://127.0.0.1:" + std::to_string(port);
  }
};

// The server comes up only after open_async returned: the client connects
// to it by itself, and a call made before that waits and gets through.
TEST_P(OpenAsync, ConnectsInTheBackgroundAndEarlyCallsWait) {
  h2test::PortReservation held; // refused until the server listens
  Seen seen;
  weft_client_opts o = opts_for(&seen);
  o.reconnect.enabled = true;
  o.reconnect.base_ms = 20;
  o.reconnect.cap_ms = 50;
  weft_client *c = nullptr;
  weft_error err = {};
  ASSERT_EQ(weft_client_open_async(&c, url(held.port()).c_str(), &o, &err), 0)
      << err.message;
  ASSERT_NE(c, nullptr);
  EXPECT_NE(weft_client_state(c), WEFT_CONN_CONNECTED);
  EXPECT_GE(seen.connecting.load(), 1);
  std::thread early([c] { weft_test_expect_echo(c, "early"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100)); // it retries
  weft_server_opts so = Server::opts(0);
  so.shutdown_grace_ms = 100;
  std::string server_url =
      (GetParam() == "http" ? std::string("h2c") : GetParam()) +
      "://127.0.0.1:" + std::to_string(held.port());
  {
    Server s(server_url.c_str(), so);
    held.release();
    ASSERT_TRUE(wait_state(c, WEFT_CONN_CONNECTED, 10));
    early.join();
    EXPECT_TRUE(wait_count(seen.connects, 1, 10));
    weft_test_expect_echo(c, "after");
    weft_client_close(c);
  }
}

// Without reconnect, one failed attempt leaves the client in ERROR: the
// reason reaches on_error, and calls fail instead of waiting.
TEST_P(OpenAsync, FailedFirstAttemptWithoutReconnectLeavesTheClientInError) {
  h2test::PortReservation held; // nobody will listen
  Seen seen;
  weft_client_opts o = opts_for(&seen);
  // gRPC core retries a refused connect itself until the attempt's time
  // is up: keep that short.
  o.connect_timeout_ms = 1000;
  weft_client *c = nullptr;
  std::string u = url(held.port());
  ASSERT_EQ(weft_client_open_async(&c, u.c_str(), &o, NULL), 0);
  ASSERT_TRUE(wait_state(c, WEFT_CONN_ERROR, 10));
  std::string error; // on_error comes just after the state changed
  for (int i = 0; i < 2000 && error.empty(); i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::lock_guard<std::mutex> g(seen.mu);
    error = seen.error;
  }
  EXPECT_NE(error.find(std::to_string(held.port())), std::string::npos)
      << error;
  EXPECT_EQ(seen.connects.load(), 0);
  weft__test__EchoRequest req;
  weft__test__EchoRequest_init(&req);
  req.text = const_cast<char *>("x");
  weft__test__EchoResponse *resp = nullptr;
  weft_call_opts co = {};
  co.timeout_ms = 5000;
  EXPECT_LT(weft__test__Echo_unary(c, &req, &resp, &co), 0);
  EXPECT_EQ(co.status.code, WEFT_STATUS_UNAVAILABLE)
      << (co.status.message ? co.status.message : "");
  weft_status_clear(&co.status);
  weft_client_close(c);
}

// From a job on the client loop (as from any client callback): it returns
// there, and the attempt, which needs that same loop, then runs.
TEST_P(OpenAsync, WorksFromTheClientLoop) {
  weft_server_opts so = Server::opts(0);
  so.shutdown_grace_ms = 100;
  std::string scheme = GetParam() == "http" ? "h2c" : GetParam();
  Server s((scheme + "://127.0.0.1:0").c_str(), so);
  weft_loop *loop = nullptr;
  ASSERT_EQ(weft_client_loop_acquire(&loop, NULL), 0);
  struct Job {
    std::string url;
    Seen seen;
    weft_client_opts o;
    weft_client *c = nullptr;
    int rv = -1;
  } job;
  job.url = url(s.port());
  job.o = opts_for(&job.seen);
  ASSERT_EQ(weft_loop_run_sync(
                loop,
                [](void *ud) {
                  auto *j = static_cast<Job *>(ud);
                  j->rv = weft_client_open_async(&j->c, j->url.c_str(), &j->o,
                                                 NULL);
                },
                &job),
            0);
  ASSERT_EQ(job.rv, 0);
  ASSERT_TRUE(wait_state(job.c, WEFT_CONN_CONNECTED, 10));
  EXPECT_TRUE(wait_count(job.seen.connects, 1, 10));
  weft_test_expect_echo(job.c, "from the loop");
  weft_client_close(job.c);
  weft_client_loop_release(loop);
}

INSTANTIATE_TEST_SUITE_P(Transports, OpenAsync,
                         ::testing::Values("h2c", "tcp", "ws", "grpc", "http"),
                         [](const auto &i) { return i.param; });

// What needs no network is checked before open_async returns.
TEST(OpenAsyncErrors, BadUrlAndUnknownSchemeFailAtOnce) {
  weft_client *c = reinterpret_cast<weft_client *>(0x1);
  weft_error err = {};
  EXPECT_EQ(weft_client_open_async(&c, "h2c://", NULL, &err), WEFT_ERR_BAD_URL);
  EXPECT_EQ(c, nullptr);
  EXPECT_NE(std::string(err.message), "");
  EXPECT_EQ(weft_client_open_async(&c, "nope://127.0.0.1:1", NULL, &err),
            WEFT_ERR_UNKNOWN_SCHEME);
  EXPECT_NE(std::string(err.message).find("nope"), std::string::npos)
      << err.message;
  EXPECT_EQ(weft_client_open_async(NULL, "h2c://127.0.0.1:1", NULL, &err),
            WEFT_ERR_INVAL);
  EXPECT_NE(std::string(err.message).find("weft_client_open_async"),
            std::string::npos)
      << err.message;
}
