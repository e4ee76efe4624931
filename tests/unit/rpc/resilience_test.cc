// Retries, the circuit breaker, connection states and reconnection, over
// mem:// with a flaky Echo.
#include <unistd.h>

#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "core_fixture.h"

extern "C" {
#include "client_internal.h"
}

namespace {

std::atomic<int> g_calls{0};
std::atomic<int> g_fail_first{0};

int flaky_unary(weft_server_call *call, const weft__test__EchoRequest *req,
                weft__test__EchoResponse *resp, void *ctx) {
  int n = ++g_calls;
  if (n <= g_fail_first.load()) {
    weft_server_call_set_message(call, "flaky: attempt %d", n);
    return WEFT_STATUS_UNAVAILABLE;
  }
  return weft_test_echo_impl.unary(call, req, resp, ctx);
}

bool wait_for(const std::function<bool()> &pred, int ms = 10000) {
  for (int i = 0; i < ms; i++) {
    if (pred())
      return true;
    usleep(1000);
  }
  return pred();
}

struct StateLog {
  std::mutex mu;
  std::vector<weft_conn_state> states;
  std::atomic<int> connects{0}, disconnects{0}, errors{0};
  static void on_state(weft_client *, weft_conn_state s, void *ud) {
    auto *l = (StateLog *)ud;
    std::lock_guard<std::mutex> g(l->mu);
    l->states.push_back(s);
  }
  static void on_connect(weft_client *, void *ud) {
    ((StateLog *)ud)->connects++;
  }
  static void on_disconnect(weft_client *, void *ud) {
    ((StateLog *)ud)->disconnects++;
  }
  static void on_error(weft_client *, const weft_error *, void *ud) {
    ((StateLog *)ud)->errors++;
  }
  void hook(weft_client_opts *o) {
    o->on_state = on_state;
    o->on_connect = on_connect;
    o->on_disconnect = on_disconnect;
    o->on_error = on_error;
    o->user_data = this;
  }
  bool saw_in_order(std::vector<weft_conn_state> want) {
    std::lock_guard<std::mutex> g(mu);
    size_t j = 0;
    for (auto s : states)
      if (j < want.size() && s == want[j])
        j++;
    return j == want.size();
  }
};

class Resilience : public Core {
protected:
  weft__test__Echo_impl impl;
  StateLog log; // outlives the client, which TearDown closes
  void SetUp() override {
    Core::SetUp();
    impl = weft_test_echo_impl;
    impl.unary = flaky_unary;
    g_calls = 0;
    g_fail_first = 0;
  }
  void StartFlaky() {
    ASSERT_EQ(weft_server_new(&srv, &sopts), 0);
    ASSERT_EQ(
        weft_server_add_service(srv, &weft__test__Echo_service, &impl, nullptr),
        0);
    ASSERT_EQ(weft_server_listen(srv, url.c_str(), nullptr), 0);
  }
};

TEST_F(Resilience, RetriesIdempotentCallOnUnavailable) {
  StartFlaky();
  copts.retry.max_attempts = 4;
  copts.retry.base_ms = 1;
  Connect();
  weft__client_seed(cli, 1);
  g_fail_first = 2;
  CallOpts o;
  std::string out;
  ASSERT_EQ(Echo("r", &o, &out), 0); // Unary is NO_SIDE_EFFECTS
  EXPECT_EQ(out, "r");
  EXPECT_EQ(g_calls.load(), 3);
}

TEST_F(Resilience, RetriesStopAtMaxAttempts) {
  StartFlaky();
  copts.retry.max_attempts = 3;
  copts.retry.base_ms = 1;
  Connect();
  g_fail_first = 100;
  CallOpts o;
  EXPECT_EQ(Echo("r", &o), WEFT_ERR_RPC);
  EXPECT_EQ(o.o.status.code, WEFT_STATUS_UNAVAILABLE);
  EXPECT_EQ(g_calls.load(), 3);
}

TEST_F(Resilience, NoRetryUnlessIdempotent) {
  StartFlaky();
  copts.retry.max_attempts = 3;
  copts.retry.base_ms = 1;
  Connect();
  g_fail_first = 100;
  weft_method_desc m = *echo_method(0);
  m.idempotent = 0;
  weft__test__EchoRequest req = weft__test__EchoRequest_INIT;
  req.text = (char *)"x";
  void *resp = nullptr;
  CallOpts o;
  EXPECT_EQ(weft_call_unary(cli, &m, &req, &resp, &o.o), WEFT_ERR_RPC);
  EXPECT_EQ(g_calls.load(), 1);
  // The caller may vouch for idempotency per call.
  CallOpts o2;
  o2.o.idempotent = true;
  EXPECT_EQ(weft_call_unary(cli, &m, &req, &resp, &o2.o), WEFT_ERR_RPC);
  EXPECT_EQ(g_calls.load(), 4);
}

TEST_F(Resilience, NoRetryOnApplicationErrors) {
  StartFlaky();
  copts.retry.max_attempts = 3;
  Connect();
  CallOpts o;
  EXPECT_EQ(Echo("x", &o, nullptr, 0, WEFT_STATUS_NOT_FOUND), WEFT_ERR_RPC);
  EXPECT_EQ(o.o.status.code, WEFT_STATUS_NOT_FOUND);
  EXPECT_EQ(g_calls.load(), 1);
}

TEST_F(Resilience, ConfigurableRetryCodes) {
  StartFlaky();
  copts.retry.max_attempts = 3;
  copts.retry.base_ms = 1;
  copts.retry.codes = 1u << WEFT_STATUS_ABORTED;
  Connect();
  CallOpts o;
  EXPECT_EQ(Echo("x", &o, nullptr, 0, WEFT_STATUS_ABORTED), WEFT_ERR_RPC);
  EXPECT_EQ(g_calls.load(), 3);
  g_calls = 0;
  g_fail_first = 100; // UNAVAILABLE is no longer in the set
  CallOpts o2;
  EXPECT_EQ(Echo("x", &o2), WEFT_ERR_RPC);
  EXPECT_EQ(g_calls.load(), 1);
}

TEST_F(Resilience, CircuitBreakerOpensFailsFastAndCloses) {
  StartFlaky();
  copts.breaker.failure_threshold = 3;
  copts.breaker.reset_timeout_ms = 150;
  Connect();
  g_fail_first = 1000;
  for (int i = 0; i < 3; i++) {
    CallOpts o;
    EXPECT_EQ(Echo("x", &o), WEFT_ERR_RPC);
    EXPECT_EQ(o.o.status.code, WEFT_STATUS_UNAVAILABLE);
  }
  EXPECT_EQ(g_calls.load(), 3);
  CallOpts fast;
  EXPECT_EQ(Echo("x", &fast), WEFT_ERR_RPC);
  EXPECT_EQ(fast.o.status.code, WEFT_STATUS_UNAVAILABLE);
  EXPECT_NE(std::string(fast.o.status.message).find("circuit open"),
            std::string::npos);
  EXPECT_EQ(g_calls.load(), 3); // never reached the server
  g_fail_first = 0;
  // After the reset timeout one trial goes through and closes the circuit.
  ASSERT_TRUE(wait_for([&] {
    CallOpts o;
    return Echo("x", &o) == 0;
  }));
  for (int i = 0; i < 5; i++) {
    CallOpts o;
    EXPECT_EQ(Echo("x", &o), 0);
  }
}

TEST_F(Resilience, StatesAndCallbacksWithoutReconnect) {
  StartServer();
  log.hook(&copts);
  Connect();
  EXPECT_TRUE(log.saw_in_order({WEFT_CONN_CONNECTING, WEFT_CONN_CONNECTED}));
  EXPECT_EQ(log.connects.load(), 1);
  mem_transport_kill(url.c_str() + strlen("mem://"));
  EXPECT_EQ(weft_client_state(cli), WEFT_CONN_DISCONNECTED);
  EXPECT_EQ(log.disconnects.load(), 1);
  EXPECT_GE(log.errors.load(), 1);
  CallOpts o;
  EXPECT_NE(Echo("x", &o), 0);
  EXPECT_EQ(o.o.status.code, WEFT_STATUS_UNAVAILABLE);
  weft_client_close(cli);
  cli = nullptr;
  EXPECT_TRUE(
      log.saw_in_order({WEFT_CONN_CONNECTED, WEFT_CONN_DISCONNECTED,
                        WEFT_CONN_DISCONNECTING, WEFT_CONN_DISCONNECTED}));
}

TEST_F(Resilience, ReconnectsAfterConnectionLoss) {
  StartServer();
  log.hook(&copts);
  copts.reconnect.enabled = true;
  copts.reconnect.base_ms = 5;
  copts.reconnect.cap_ms = 50;
  Connect();
  weft__client_seed(cli, 7);
  CallOpts o;
  ASSERT_EQ(Echo("before", &o), 0);
  int before = mem_transport_connects();
  mem_transport_kill(url.c_str() + strlen("mem://"));
  ASSERT_TRUE(wait_for([&] { return mem_transport_connects() > before; }));
  ASSERT_TRUE(
      wait_for([&] { return weft_client_state(cli) == WEFT_CONN_CONNECTED; }));
  CallOpts o2;
  EXPECT_EQ(Echo("after", &o2), 0);
  EXPECT_TRUE(log.saw_in_order({WEFT_CONN_CONNECTED, WEFT_CONN_DISCONNECTED,
                                WEFT_CONN_CONNECTING, WEFT_CONN_CONNECTED}));
  EXPECT_EQ(log.connects.load(), 2);
  EXPECT_EQ(log.disconnects.load(), 1);
}

TEST_F(Resilience, CallWaitsForReconnectWithinItsDeadline) {
  StartServer();
  copts.reconnect.enabled = true;
  copts.reconnect.base_ms = 20;
  Connect();
  mem_transport_kill(url.c_str() + strlen("mem://"));
  CallOpts o;
  o.o.timeout_ms = 5000;
  EXPECT_EQ(Echo("x", &o), 0) << (o.o.status.message ? o.o.status.message : "");
}

TEST_F(Resilience, OpenBeforeServerExistsThenConnects) {
  copts.reconnect.enabled = true;
  copts.reconnect.base_ms = 5;
  copts.reconnect.cap_ms = 20;
  Connect(); // nobody listens yet: returns, retrying in the background
  EXPECT_NE(weft_client_state(cli), WEFT_CONN_CONNECTED);
  StartServer();
  ASSERT_TRUE(
      wait_for([&] { return weft_client_state(cli) == WEFT_CONN_CONNECTED; }));
  CallOpts o;
  EXPECT_EQ(Echo("x", &o), 0);
}

TEST_F(Resilience, GivesUpAfterMaxTries) {
  log.hook(&copts);
  copts.reconnect.enabled = true;
  copts.reconnect.base_ms = 1;
  copts.reconnect.max_tries = 4;
  int before = mem_transport_attempts();
  Connect();
  ASSERT_TRUE(wait_for([&] {
    return weft_client_state(cli) == WEFT_CONN_ERROR &&
           mem_transport_attempts() - before >= 4;
  }));
  usleep(20000); // and no more attempts after that
  EXPECT_EQ(mem_transport_attempts() - before, 4);
  EXPECT_EQ(log.errors.load(), 4);
  CallOpts o;
  EXPECT_NE(Echo("x", &o), 0);
  EXPECT_EQ(o.o.status.code, WEFT_STATUS_UNAVAILABLE);
}

TEST_F(Resilience, CloseCancelsCallsInFlight) {
  StartServer();
  Connect();
  CallOpts o;
  weft__test__EchoRequest req = weft__test__EchoRequest_INIT;
  req.repeat = 1;
  req.delay_ms = 60000;
  weft_call *call;
  ASSERT_EQ(weft__test__Echo_server_stream(cli, &req, &call, &o.o), 0);
  std::atomic<int> frv{1};
  std::thread owner([&] {
    void *m;
    while (weft_call_recv(call, &m) == 1)
      weft__test__EchoResponse_free((weft__test__EchoResponse *)m);
    frv = weft_call_finish(call);
  });
  usleep(20000);
  weft_client_close(cli); // returns once the owner finished its call
  cli = nullptr;
  owner.join();
  EXPECT_NE(frv.load(), 0);
  EXPECT_EQ(o.o.status.code, WEFT_STATUS_CANCELLED);
}

} // namespace
