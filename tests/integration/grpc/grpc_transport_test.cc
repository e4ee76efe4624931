// weft client <-> weft server over grpc:// (gRPC core on both ends): the
// four RPC kinds, metadata, status, deadlines, cancellation, limits,
// compression, shutdown with calls in flight, concurrency, health.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "echo_service.h"
#include "grpc/health/v1/health.weft.h"
#include "weft/grpc_transport.h"
#include "weft/transport.h"

namespace {

using Req = weft__test__EchoRequest;
using Resp = weft__test__EchoResponse;
const weft_method_desc *M(int i) {
  return &weft__test__Echo_service.methods[i];
}

// Every test runs twice: handlers on the runtime's worker pool, and on the
// transport's queue threads (the default; weft_grpc_opts.pool_handlers off).
class Grpc : public ::testing::TestWithParam<bool> {
protected:
  weft_grpc_opts g = WEFT_GRPC_OPTS_INIT;
  weft_server_opts default_so{};
  weft_server *srv = nullptr;
  weft_client *cli = nullptr;
  weft_arena *arena = nullptr;
  int port = 0;

  void start(const weft_server_opts *so = nullptr,
             const weft_client_opts *co = nullptr) {
    g.pool_handlers = !GetParam();
    weft_server_opts o = so ? *so : default_so;
    if (!o.transport_opts)
      o.transport_opts = &g;
    if (!srv)
      ASSERT_EQ(weft_server_new(&srv, &o), 0);
    ASSERT_EQ(weft_test_echo_add(srv), 0);
    weft_error err{};
    ASSERT_EQ(weft_server_listen(srv, "grpc://127.0.0.1:0", &err), 0)
        << err.message;
    port = weft_server_port(srv, 0);
    ASSERT_GT(port, 0);
    ASSERT_EQ(weft_client_open(&cli, url().c_str(), co, NULL), 0);
    ASSERT_EQ(weft_arena_new(&arena, 0), 0);
  }
  std::string url() {
    return "grpc://127.0.0.1:" + std::to_string(port);
  }
  void TearDown() override {
    weft_client_close(cli);
    if (srv) {
      weft_server_shutdown(srv);
      weft_server_free(srv);
    }
    weft_arena_free(arena);
  }
  weft_call_opts opts(int64_t timeout_ms = 10000) {
    weft_call_opts o{};
    o.timeout_ms = timeout_ms;
    o.arena = arena;
    return o;
  }
  Req req(const char *text) {
    Req r;
    weft__test__EchoRequest_init(&r);
    r.text = const_cast<char *>(text);
    return r;
  }
  int unary(const Req &r, Resp **out, weft_call_opts *o) {
    return weft__test__Echo_unary(cli, &r, out, o);
  }
};

TEST_P(Grpc, UnaryWithTextAndBinaryMetadata) {
  start();
  weft_metadata md = WEFT_METADATA_INIT, got = WEFT_METADATA_INIT;
  weft_metadata_add_str(&md, "x-text", "hello");
  const uint8_t bin[] = {0, 0xff, 0x80, '\n'};
  weft_metadata_add(&md, "x-raw-bin", bin, sizeof bin);
  Req r = req("ping");
  uint8_t payload[3] = {1, 2, 3};
  r.payload.data = payload;
  r.payload.len = 3;
  Resp *resp = nullptr;
  weft_call_opts o = opts();
  o.metadata = &md;
  o.response_metadata = &got;
  ASSERT_EQ(unary(r, &resp, &o), 0) << o.status.message;
  EXPECT_STREQ(resp->text, "ping");
  ASSERT_EQ(resp->payload.len, 3u);
  EXPECT_EQ(memcmp(resp->payload.data, payload, 3), 0);
  int text = 0, raw = 0;
  for (size_t i = 0; i < got.count; i++) {
    const weft_metadata_entry &e = got.entries[i];
    if (!strcmp(e.key, "x-text") && e.value_len == 5 &&
        !memcmp(e.value, "hello", 5))
      text++;
    if (!strcmp(e.key, "x-raw-bin") && e.value_len == sizeof bin &&
        !memcmp(e.value, bin, sizeof bin))
      raw++;
  }
  EXPECT_EQ(text, 2); // header and trailer
  EXPECT_EQ(raw, 2);
  weft_metadata_clear(&md);
  weft_metadata_clear(&got);
  weft_status_clear(&o.status);
}

TEST_P(Grpc, ServerStream) {
  start();
  Req r = req("s");
  r.repeat = 200;
  weft_call_opts o = opts();
  weft_call *call = nullptr;
  ASSERT_EQ(weft__test__Echo_server_stream(cli, &r, &call, &o), 0);
  int n = 0;
  void *m;
  while (weft_call_recv(call, &m) == 1) {
    EXPECT_EQ(static_cast<Resp *>(m)->index, n);
    n++;
  }
  EXPECT_EQ(weft_call_finish(call), 0);
  EXPECT_EQ(n, 200);
  weft_status_clear(&o.status);
}

TEST_P(Grpc, ClientStreamAndBidi) {
  start();
  weft_call_opts o = opts();
  weft_call *call = nullptr;
  ASSERT_EQ(weft__test__Echo_client_stream(cli, &call, &o), 0);
  for (const char *t : {"a", "b", "c"}) {
    Req r = req(t);
    ASSERT_EQ(weft_call_send(call, &r), 0);
  }
  ASSERT_EQ(weft_call_close_send(call), 0);
  void *m = nullptr;
  ASSERT_EQ(weft_call_recv(call, &m), 1);
  EXPECT_STREQ(static_cast<Resp *>(m)->text, "abc");
  EXPECT_EQ(weft_call_finish(call), 0);

  o = opts();
  ASSERT_EQ(weft__test__Echo_bidi(cli, &call, &o), 0);
  for (int i = 0; i < 50; i++) {
    Req r = req("x");
    ASSERT_EQ(weft_call_send(call, &r), 0);
    ASSERT_EQ(weft_call_recv(call, &m), 1);
    EXPECT_STREQ(static_cast<Resp *>(m)->text, "x");
  }
  weft_call_close_send(call);
  EXPECT_EQ(weft_call_recv(call, &m), 0);
  EXPECT_EQ(weft_call_finish(call), 0);
  weft_status_clear(&o.status);
}

TEST_P(Grpc, ErrorStatusAndUnknownMethod) {
  start();
  Req r = req("x");
  r.fail_code = WEFT_STATUS_FAILED_PRECONDITION;
  r.fail_message = const_cast<char *>("not now \xe2\x98\xba");
  Resp *resp = nullptr;
  weft_call_opts o = opts();
  EXPECT_EQ(unary(r, &resp, &o), WEFT_ERR_RPC);
  EXPECT_EQ(o.status.code, WEFT_STATUS_FAILED_PRECONDITION);
  EXPECT_STREQ(o.status.message, "not now \xe2\x98\xba");
  weft_status_clear(&o.status);

  weft_method_desc bogus = *M(0);
  bogus.path = "/weft.test.Echo/NoSuch";
  void *out = nullptr;
  o = opts();
  EXPECT_EQ(weft_call_unary(cli, &bogus, &r, &out, &o), WEFT_ERR_RPC);
  EXPECT_EQ(o.status.code, WEFT_STATUS_UNIMPLEMENTED);
  weft_status_clear(&o.status);
}

TEST_P(Grpc, DeadlineExpiresInHandlerAndServerGoesOn) {
  start();
  Req r = req("slow");
  r.delay_ms = 3000;
  Resp *resp = nullptr;
  weft_call_opts o = opts(200);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_NE(unary(r, &resp, &o), 0);
  EXPECT_EQ(o.status.code, WEFT_STATUS_DEADLINE_EXCEEDED);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
  weft_status_clear(&o.status);
  o = opts();
  EXPECT_EQ(unary(req("after"), &resp, &o), 0);
  weft_status_clear(&o.status);
}

TEST_P(Grpc, ClientCancelsServerStream) {
  start();
  Req r = req("s");
  r.repeat = 1000000;
  r.delay_ms = 1;
  weft_call_opts o = opts();
  weft_call *call = nullptr;
  ASSERT_EQ(weft__test__Echo_server_stream(cli, &r, &call, &o), 0);
  void *m;
  ASSERT_EQ(weft_call_recv(call, &m), 1);
  weft_call_cancel(call);
  weft_call_finish(call);
  EXPECT_EQ(o.status.code, WEFT_STATUS_CANCELLED);
  weft_status_clear(&o.status);
  Resp *resp = nullptr;
  o = opts();
  EXPECT_EQ(unary(req("after"), &resp, &o), 0);
  weft_status_clear(&o.status);
}

TEST_P(Grpc, MessageSizeLimits) {
  weft_server_opts so{};
  so.max_message_size = 64 * 1024;
  weft_client_opts co{};
  co.max_message_size = 32 * 1024;
  start(&so, &co);
  std::vector<uint8_t> big(48 * 1024, 7);
  Req r = req("big");
  r.payload.data = big.data();
  r.payload.len = big.size();
  Resp *resp = nullptr;
  weft_call_opts o = opts();
  // Request fits the server's limit; the echoed response exceeds ours.
  EXPECT_NE(unary(r, &resp, &o), 0);
  EXPECT_EQ(o.status.code, WEFT_STATUS_RESOURCE_EXHAUSTED);
  weft_status_clear(&o.status);
  big.resize(100 * 1024);
  r.payload.data = big.data();
  r.payload.len = big.size();
  o = opts();
  EXPECT_NE(unary(r, &resp, &o), 0); // over our own send limit
  EXPECT_EQ(o.status.code, WEFT_STATUS_RESOURCE_EXHAUSTED);
  weft_status_clear(&o.status);
  o = opts();
  EXPECT_EQ(unary(req("small"), &resp, &o), 0);
  weft_status_clear(&o.status);
}

TEST_P(Grpc, GzipAndKeepaliveOptions) {
  g.gzip = true;
  g.keepalive_timeout_ms = 5000;
  weft_server_opts so{};
  so.keepalive_ms = 10000;
  weft_client_opts co{};
  co.transport_opts = &g;
  co.keepalive_ms = 10000;
  start(&so, &co);
  std::vector<uint8_t> zeros(200000, 0);
  Req r = req("z");
  r.payload.data = zeros.data();
  r.payload.len = zeros.size();
  Resp *resp = nullptr;
  weft_call_opts o = opts();
  ASSERT_EQ(unary(r, &resp, &o), 0) << o.status.message;
  EXPECT_EQ(resp->payload.len, zeros.size());
  weft_status_clear(&o.status);
}

TEST_P(Grpc, ConnectionRefused) {
  start();
  int dead = port;
  weft_server_shutdown(srv);
  weft_server_free(srv);
  srv = nullptr;
  weft_client *c2 = nullptr;
  weft_client_opts co{};
  co.connect_timeout_ms = 3000;
  std::string u = "grpc://127.0.0.1:" + std::to_string(dead);
  EXPECT_LT(weft_client_open(&c2, u.c_str(), &co, NULL), 0);
  weft_client_close(c2);
}

TEST_P(Grpc, ShutdownWithCallsInFlight) {
  weft_server_opts so{};
  so.shutdown_grace_ms = 200;
  start(&so);
  std::atomic<int> code{-1};
  std::thread t([&] {
    Req r = req("s");
    r.repeat = 1000000;
    r.delay_ms = 5;
    weft_call_opts o{};
    o.timeout_ms = 20000;
    weft_call *call = nullptr;
    if (weft__test__Echo_server_stream(cli, &r, &call, &o) == 0) {
      void *m;
      while (weft_call_recv(call, &m) == 1)
        weft_message_free(m);
      weft_call_finish(call);
    }
    code = o.status.code;
    weft_status_clear(&o.status);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto t0 = std::chrono::steady_clock::now();
  weft_server_shutdown(srv);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  t.join();
  EXPECT_NE(code.load(), WEFT_STATUS_OK);
  weft_server_free(srv);
  srv = nullptr;
}

TEST_P(Grpc, ManyConcurrentCalls) {
  start();
  std::atomic<int> failures{0};
  std::vector<std::thread> th;
  for (int t = 0; t < 8; t++)
    th.emplace_back([&] {
      weft_arena *a = nullptr;
      weft_arena_new(&a, 0);
      for (int i = 0; i < 100; i++) {
        Req r = req("c");
        Resp *resp = nullptr;
        weft_call_opts o{};
        o.timeout_ms = 10000;
        o.arena = a;
        if (weft__test__Echo_unary(cli, &r, &resp, &o) != 0 ||
            strcmp(resp->text, "c") != 0)
          failures++;
        weft_status_clear(&o.status);
        weft_arena_reset(a);
      }
      weft_arena_free(a);
    });
  for (auto &x : th)
    x.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST_P(Grpc, BlockingHandlersDoNotStallOthers) {
  start();
  std::vector<std::thread> slow;
  for (int i = 0; i < 3; i++)
    slow.emplace_back([&] {
      Req r = req("slow");
      r.delay_ms = 1500;
      Resp *resp = nullptr;
      weft_call_opts o{};
      o.timeout_ms = 10000;
      weft__test__Echo_unary(cli, &r, &resp, &o);
      weft_message_free(resp);
      weft_status_clear(&o.status);
    });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto t0 = std::chrono::steady_clock::now();
  Resp *resp = nullptr;
  weft_call_opts o = opts();
  EXPECT_EQ(unary(req("fast"), &resp, &o), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0,
            std::chrono::milliseconds(1000));
  weft_status_clear(&o.status);
  for (auto &t : slow)
    t.join();
}

// Queue threads capped at 5 (worker_threads 2, raised to one more than the
// default 4 queues): a slow call takes one inline and a poller is started
// for its queue, the next would take a queue's last poller, so it goes to
// the pool and the queue keeps being polled; the fast call then still gets
// a worker.
TEST_P(Grpc, LastPollerHandsCallsToThePool) {
  if (!GetParam())
    GTEST_SKIP() << "queue-thread mode only";
  default_so.worker_threads = 2;
  start();
  std::vector<std::thread> slow;
  for (int i = 0; i < 2; i++) {
    slow.emplace_back([&] {
      Req r = req("slow");
      r.delay_ms = 1500;
      Resp *resp = nullptr;
      weft_call_opts o{};
      o.timeout_ms = 10000;
      EXPECT_EQ(weft__test__Echo_unary(cli, &r, &resp, &o), 0);
      weft_message_free(resp);
      weft_status_clear(&o.status);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  auto t0 = std::chrono::steady_clock::now();
  Resp *resp = nullptr;
  weft_call_opts o = opts();
  EXPECT_EQ(unary(req("fast"), &resp, &o), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0,
            std::chrono::milliseconds(1000));
  weft_status_clear(&o.status);
  for (auto &t : slow)
    t.join();
}

TEST_P(Grpc, HealthCheckFromWeftClient) {
  start();
  grpc__health__v1__HealthCheckRequest r =
      grpc__health__v1__HealthCheckRequest_INIT;
  r.service = const_cast<char *>("weft.test.Echo");
  grpc__health__v1__HealthCheckResponse *resp = nullptr;
  weft_call_opts o = opts();
  ASSERT_EQ(grpc__health__v1__Health_check(cli, &r, &resp, &o), 0);
  EXPECT_EQ(resp->status,
            grpc__health__v1__HealthCheckResponse__ServingStatus__SERVING);
  ASSERT_EQ(weft_grpc_health_set(srv, "weft.test.Echo", false), 0);
  o = opts();
  ASSERT_EQ(grpc__health__v1__Health_check(cli, &r, &resp, &o), 0);
  EXPECT_EQ(resp->status,
            grpc__health__v1__HealthCheckResponse__ServingStatus__NOT_SERVING);
  r.service = const_cast<char *>("no.Such");
  o = opts();
  EXPECT_EQ(grpc__health__v1__Health_check(cli, &r, &resp, &o), WEFT_ERR_RPC);
  EXPECT_EQ(o.status.code, WEFT_STATUS_NOT_FOUND);
  weft_status_clear(&o.status);
}

// An override set on a server that is freed without ever closing a grpc://
// listener must not pass to a later server, even one malloc puts at the
// freed server's address.
TEST_P(Grpc, HealthOverrideNotInheritedByNextServer) {
  weft_server *old = nullptr;
  ASSERT_EQ(weft_server_new(&old, nullptr), 0);
  ASSERT_EQ(weft_grpc_health_set(old, "weft.test.Echo", false), 0);
  const void *old_addr = old;
  weft_server_free(old);
  // A new server at the freed one's address (malloc hands it back sooner
  // or later); start() serves on it.
  std::vector<weft_server *> misses;
  g.pool_handlers = !GetParam();
  weft_server_opts so = default_so;
  so.transport_opts = &g;
  for (int i = 0; i < 256 && !srv; i++) {
    weft_server *s = nullptr;
    ASSERT_EQ(weft_server_new(&s, &so), 0);
    if (s == old_addr)
      srv = s;
    else
      misses.push_back(s);
  }
  for (weft_server *s : misses)
    weft_server_free(s);
  bool reused = srv != nullptr;
  start();
  grpc__health__v1__HealthCheckRequest r =
      grpc__health__v1__HealthCheckRequest_INIT;
  r.service = const_cast<char *>("weft.test.Echo");
  grpc__health__v1__HealthCheckResponse *resp = nullptr;
  weft_call_opts o = opts();
  ASSERT_EQ(grpc__health__v1__Health_check(cli, &r, &resp, &o), 0);
  EXPECT_EQ(resp->status,
            grpc__health__v1__HealthCheckResponse__ServingStatus__SERVING)
      << (reused ? "address reused" : "address not reused");
  weft_status_clear(&o.status);
  // The id is what keys the overrides: distinct for every server.
  weft_server *other = nullptr;
  ASSERT_EQ(weft_server_new(&other, nullptr), 0);
  EXPECT_NE(weft_server_id(other), weft_server_id(srv));
  EXPECT_NE(weft_server_id(other), 0u);
  weft_server_free(other);
}

TEST_P(Grpc, HealthWatchSeesShutdown) {
  weft_server_opts so{};
  so.shutdown_grace_ms = 300;
  start(&so);
  grpc__health__v1__HealthCheckRequest r =
      grpc__health__v1__HealthCheckRequest_INIT;
  weft_call_opts o = opts();
  weft_call *call = nullptr;
  ASSERT_EQ(grpc__health__v1__Health_watch(cli, &r, &call, &o), 0);
  void *m = nullptr;
  ASSERT_EQ(weft_call_recv(call, &m), 1);
  EXPECT_EQ(static_cast<grpc__health__v1__HealthCheckResponse *>(m)->status,
            grpc__health__v1__HealthCheckResponse__ServingStatus__SERVING);
  std::thread t([&] { weft_server_shutdown(srv); });
  ASSERT_EQ(weft_call_recv(call, &m), 1);
  EXPECT_EQ(static_cast<grpc__health__v1__HealthCheckResponse *>(m)->status,
            grpc__health__v1__HealthCheckResponse__ServingStatus__NOT_SERVING);
  weft_call_cancel(call);
  weft_call_finish(call);
  t.join();
  weft_status_clear(&o.status);
}

INSTANTIATE_TEST_SUITE_P(Handlers, Grpc, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool> &i) {
                           return i.param ? "Inline" : "Pool";
                         });

} // namespace
