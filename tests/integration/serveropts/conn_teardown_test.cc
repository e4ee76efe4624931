// On tcp:// and ws:// (the envelope mux's transports) a server connection
// that dies while its handler still runs stays until that handler returns,
// and is then freed by the listener's loop: not later at the server's
// close, and not by a thread waiting for the handler. One whose handler
// still runs when the server closes is freed by the close, after it.
// weft__mux_live() counts the connections' multiplexers in this process
// (the client is another process, weft-dying-client).
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

#include "dying_client.h"
#include "wait_for.h"

extern "C" {
#include "echo.weft.h"
#include "mux.h"
#include "weft/server.h"
}

namespace {

// Bidi that echoes the first message, then holds the call (whatever
// happens to the connection) until the test opens the gate.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  bool returned = false;

  void release() {
    std::lock_guard<std::mutex> g(mu);
    open = true;
    cv.notify_all();
  }
};

int held_bidi(weft_server_call *call, void *ctx) {
  auto *g = static_cast<Gate *>(ctx);
  void *m = nullptr;
  if (weft_server_call_recv(call, &m) == 1) {
    weft__test__EchoResponse r;
    weft__test__EchoResponse_init(&r);
    r.text = static_cast<weft__test__EchoRequest *>(m)->text;
    (void)weft_server_call_send(call, &r);
  }
  std::unique_lock<std::mutex> l(g->mu);
  g->cv.wait(l, [g] { return g->open; });
  g->returned = true;
  return WEFT_STATUS_CANCELLED;
}

const weft__test__Echo_impl kHeld = {nullptr, nullptr, nullptr, held_bidi};

class ConnTeardown : public ::testing::TestWithParam<std::string> {
protected:
  Gate gate;
  weft_server *srv = nullptr;
  std::atomic<int> closed{0};
  std::string url;

  static void on_conn(void *ud, const weft_conn_event *e) {
    if (e->kind == WEFT_CONN_EVENT_CLOSED)
      static_cast<ConnTeardown *>(ud)->closed++;
  }

  void SetUp() override {
    weft_server_opts so;
    memset(&so, 0, sizeof so);
    so.worker_threads = 2;
    so.shutdown_grace_ms = 100;
    so.on_connection = on_conn;
    so.on_connection_ud = this;
    ASSERT_EQ(weft_server_new(&srv, &so), 0);
    ASSERT_EQ(
        weft_server_add_service(srv, &weft__test__Echo_service, &kHeld, &gate),
        0);
    weft_error err;
    weft_error_clear(&err);
    std::string u = GetParam() + "://127.0.0.1:0";
    ASSERT_EQ(weft_server_listen(srv, u.c_str(), &err), 0) << err.message;
    url =
        GetParam() + "://127.0.0.1:" + std::to_string(weft_server_port(srv, 0));
  }

  void TearDown() override {
    gate.release();
    weft_server_free(srv);
  }

  // A client process starts a Bidi call, has its echo and dies: the
  // server's connection is then dead with its handler held.
  void client_dies_mid_call() {
    ASSERT_EQ(weft_test_run_dying_client(url), "ready\n");
    ASSERT_TRUE(weft_test_wait_for([&] { return closed.load() == 1; }))
        << "the server never saw the connection close";
  }
};

TEST_P(ConnTeardown, DeadConnectionIsFreedWhenItsHandlerReturns) {
  size_t base = weft__mux_live();
  client_dies_mid_call();
  // Dead, but its handler still holds the call: the connection stays.
  usleep(100 * 1000);
  EXPECT_EQ(weft__mux_live(), base + 1);
  gate.release();
  EXPECT_TRUE(
      weft_test_wait_for([&] { return weft__mux_live() == base; }, 5000))
      << weft__mux_live() - base << " connection(s) still held";
  // The server still serves: a new client's connection comes and goes.
  closed = 0;
  {
    std::lock_guard<std::mutex> g(gate.mu);
    gate.open = false;
  }
  client_dies_mid_call();
  gate.release();
  EXPECT_TRUE(
      weft_test_wait_for([&] { return weft__mux_live() == base; }, 5000));
}

TEST_P(ConnTeardown, ServerCloseFreesAConnectionWhoseHandlerStillRuns) {
  size_t base = weft__mux_live();
  client_dies_mid_call();
  EXPECT_EQ(weft__mux_live(), base + 1);
  // The close cancels the handler, which returns only when let go, and
  // waits for it.
  std::thread t([this] {
    usleep(200 * 1000);
    gate.release();
  });
  weft_server_free(srv);
  srv = nullptr;
  t.join();
  std::lock_guard<std::mutex> g(gate.mu);
  EXPECT_TRUE(gate.returned);
  EXPECT_EQ(weft__mux_live(), base);
}

INSTANTIATE_TEST_SUITE_P(Transports, ConnTeardown,
                         ::testing::Values("tcp", "ws"),
                         [](const auto &i) { return i.param; });

} // namespace
