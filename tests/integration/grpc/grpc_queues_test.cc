// The grpc:// server's completion queues and receives:
// - a listener's calls are spread over several queues (so that the
//   per-completion work of Debian's libgrpc, which scans the queue's
//   outstanding operations, is divided): in pool mode over all of them from
//   the start, each polled by a runtime thread ("weft-grpc-cq"); in the
//   default mode, where the queue threads run handlers, a queue and its
//   poller come into use once the others carry 1,024 calls each
//   (GrpcManyAsync.OverTwoThousandCallsOnOneClient sees that), so an idle
//   listener has one poller; the queue threads stay a small constant while
//   streams are open, and a server with open streams stops promptly;
// - a client's cancel is never read as the end of its stream, although
//   gRPC core completes the outstanding receive as for a half-close and
//   may report the cancel only after it.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "echo.weft.h"
#include "echo_service.h"
#include "weft/client.h"
#include "weft/grpc_transport.h"
#include "weft/server.h"
#include "weft/transport.h"
#include "thread_count.h"
#include "wait_for.h"

namespace {

struct Sub {
  std::atomic<int> events{0};
  weft_client *c = nullptr;
  weft_subscription *s = nullptr;
  static void on_event(const char *, const weft_msg_desc *, const void *,
                       void *ud) {
    static_cast<Sub *>(ud)->events++;
  }
};

// Param: pool_handlers (false: the default, handlers on the queue threads).
class GrpcQueues : public ::testing::TestWithParam<bool> {
protected:
  weft_grpc_opts g = WEFT_GRPC_OPTS_INIT;
  weft_server *srv = nullptr;
  std::string url;

  void start(unsigned cqs, unsigned workers) {
    weft_transports_init();
    g.pool_handlers = GetParam();
    g.cq_threads = cqs;
    weft_server_opts so;
    memset(&so, 0, sizeof so);
    so.worker_threads = workers;
    so.shutdown_grace_ms = 500;
    so.transport_opts = &g;
    ASSERT_EQ(weft_server_new(&srv, &so), 0);
    ASSERT_EQ(weft_test_echo_add(srv), 0);
    weft_error err;
    weft_error_clear(&err);
    ASSERT_EQ(weft_server_listen(srv, "grpc://127.0.0.1:0", &err), 0)
        << err.message;
    url = "grpc://127.0.0.1:" + std::to_string(weft_server_port(srv, 0));
  }
  void TearDown() override {
    if (srv) {
      weft_server_shutdown(srv);
      weft_server_free(srv);
    }
  }
  // n clients (a channel each: gRPC core picks a queue per channel), each
  // with one subscription to topic.
  void subscribe(std::vector<Sub> &subs, const char *topic) {
    for (auto &s : subs) {
      weft_error err;
      weft_error_clear(&err);
      ASSERT_EQ(weft_client_open(&s.c, url.c_str(), nullptr, &err), 0)
          << err.message;
      ASSERT_EQ(weft_client_subscribe(s.c, topic, Sub::on_event, &s, &s.s), 0);
    }
  }
  static bool all_got(std::vector<Sub> &subs, int n) {
    for (auto &s : subs)
      if (s.events.load() < n)
        return false;
    return true;
  }
  void publish(const char *topic) {
    weft__test__EchoResponse m = weft__test__EchoResponse_INIT;
    m.text = (char *)"event";
    ASSERT_EQ(weft_server_publish(srv, topic, &m), 0);
  }
};

// Every queue in use has its thread, and streams get their events; the
// queue threads stay a constant with 64 streams open.
TEST_P(GrpcQueues, EveryQueuePolledThreadsConstant) {
  start(4, 6);
  // Pool mode: one thread per queue. Inline mode: one poller per queue
  // and one more, started at listen (those not polling are parked until
  // their queue comes into use or a handler keeps a poller busy).
  const int want = GetParam() ? 4 : 5;
  int idle = 0;
  ASSERT_TRUE(weft_test_wait_for([&] {
    idle = weft_test_threads_named("weft-grpc-cq");
    return idle >= want;
  })) << idle
      << " queue threads for 4 queues";
  EXPECT_EQ(idle, want);
  std::vector<Sub> subs(64);
  subscribe(subs, "q");
  for (int k = 1; k <= 3; k++) {
    // A subscription is registered when its Subscribe reached the server;
    // publish until every stream saw event k.
    EXPECT_TRUE(weft_test_wait_for(
        [&] {
          publish("q");
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
          return all_got(subs, k);
        },
        3000))
        << "a stream missed events";
  }
  int open = weft_test_threads_named("weft-grpc-cq");
  printf("queue threads: %d idle, %d with %zu streams open\n", idle, open,
         subs.size());
  EXPECT_EQ(open, want);
  for (auto &s : subs)
    weft_client_close(s.c);
}

// The default: several queues (one per core, at least 4, at most 64), each
// with its thread from the start: in pool mode its drain thread, in inline
// mode a poller (parked until the queue comes into use) and one spare.
TEST_P(GrpcQueues, DefaultIsSeveralQueues) {
  start(0, 0);
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  int queues = ncpu < 4 ? 4 : ncpu > 64 ? 64 : (int)ncpu;
  int want = GetParam() ? queues : queues + 1;
  int n = 0;
  EXPECT_TRUE(weft_test_wait_for([&] {
    n = weft_test_threads_named("weft-grpc-cq");
    return n >= want;
  })) << n
      << " queue threads";
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(weft_test_threads_named("weft-grpc-cq"), want);
}

// A server with streams open on four queues stops within a bound, as a
// SIGTERM handler stops it (weft_server_shutdown from another thread while
// weft_server_run blocks), and its queue threads are gone afterwards.
TEST_P(GrpcQueues, StopsPromptlyWithStreamsOpen) {
  start(4, 4);
  std::thread run([this] { weft_server_run(srv); });
  std::vector<Sub> subs(64);
  subscribe(subs, "s");
  EXPECT_TRUE(weft_test_wait_for(
      [&] {
        publish("s");
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        return all_got(subs, 1);
      },
      3000));
  auto t0 = std::chrono::steady_clock::now();
  weft_server_shutdown(srv);
  run.join();
  weft_server_free(srv);
  srv = nullptr;
  double s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  printf("stopped with %zu streams open in %.3f s\n", subs.size(), s);
  // A bound for a hang, not a speed figure: the grace period is 0.5 s.
  EXPECT_LT(s, 20.0);
  EXPECT_TRUE(weft_test_wait_for(
      [] { return weft_test_threads_named("weft-grpc-cq") == 0; }, 5000));
  for (auto &x : subs)
    weft_client_close(x.c);
}

// ---- a cancel read by a blocking handler ----

std::atomic<int> g_first{0};   // streams whose first message arrived
std::atomic<int> g_done{0};    // streams whose handler saw the stream end
std::atomic<int> g_as_end{0};  // of those, read as the end (0)
std::atomic<int> g_as_fail{0}; // read as WEFT_ERR_CANCELLED

int cancel_unary(weft_server_call *, const weft__test__EchoRequest *,
                 weft__test__EchoResponse *, void *) {
  return WEFT_STATUS_UNIMPLEMENTED;
}
int cancel_ss(weft_server_call *, const weft__test__EchoRequest *, void *) {
  return WEFT_STATUS_UNIMPLEMENTED;
}
int cancel_bidi(weft_server_call *, void *) {
  return WEFT_STATUS_UNIMPLEMENTED;
}
// Reads until the stream ends and records how it ended.
int cancel_cs(weft_server_call *call, weft__test__EchoResponse *, void *) {
  weft__test__EchoRequest *m = nullptr;
  int rv;
  bool first = true;
  while ((rv = weft__test__Echo_client_stream_recv_owned(call, &m)) == 1) {
    weft_message_free(m);
    if (first)
      g_first++;
    first = false;
  }
  if (rv == 0)
    g_as_end++;
  else if (rv == WEFT_ERR_CANCELLED)
    g_as_fail++;
  g_done++;
  return rv == 0 ? WEFT_STATUS_OK : WEFT_STATUS_CANCELLED;
}
const weft__test__Echo_impl kCancelImpl = {cancel_unary, cancel_ss, cancel_cs,
                                           cancel_bidi};

// Rounds of 8 client streams that each send a message and are cancelled
// together (8 at once load the queue threads, which widens the window in
// which the empty receive is seen before the cancel): every handler's
// receive must say CANCELLED.
TEST_P(GrpcQueues, ClientCancelIsNeverReadAsEnd) {
  weft_transports_init();
  g.pool_handlers = GetParam();
  weft_server_opts so;
  memset(&so, 0, sizeof so);
  so.worker_threads = 16;
  so.shutdown_grace_ms = 500;
  so.transport_opts = &g;
  ASSERT_EQ(weft_server_new(&srv, &so), 0);
  ASSERT_EQ(weft_server_add_service(srv, &weft__test__Echo_service,
                                    &kCancelImpl, nullptr),
            0);
  weft_error err;
  weft_error_clear(&err);
  ASSERT_EQ(weft_server_listen(srv, "grpc://127.0.0.1:0", &err), 0)
      << err.message;
  url = "grpc://127.0.0.1:" + std::to_string(weft_server_port(srv, 0));
  weft_client *c = nullptr;
  ASSERT_EQ(weft_client_open(&c, url.c_str(), nullptr, &err), 0) << err.message;
  g_first = g_done = g_as_end = g_as_fail = 0;
  constexpr int kRounds = 25, kAtOnce = 8;
  for (int round = 0; round < kRounds; round++) {
    weft_call *calls[kAtOnce] = {};
    weft_call_opts o[kAtOnce];
    int base = g_first.load();
    for (int i = 0; i < kAtOnce; i++) {
      memset(&o[i], 0, sizeof o[i]);
      o[i].timeout_ms = 20000;
      ASSERT_EQ(weft__test__Echo_client_stream(c, &calls[i], &o[i]), 0);
      weft__test__EchoRequest r = weft__test__EchoRequest_INIT;
      r.repeat = 1;
      ASSERT_EQ(weft__test__Echo_client_stream_write(calls[i], &r), 0);
    }
    ASSERT_TRUE(weft_test_wait_for(
        [&] { return g_first.load() == base + kAtOnce; }, 10000));
    for (int i = 0; i < kAtOnce; i++)
      weft_call_cancel(calls[i]);
    for (int i = 0; i < kAtOnce; i++) {
      weft_call_finish(calls[i]);
      weft_status_clear(&o[i].status);
    }
    ASSERT_TRUE(weft_test_wait_for(
        [&] { return g_done.load() == (round + 1) * kAtOnce; }, 10000));
  }
  printf("%d cancels: %d read as CANCELLED, %d as the end\n", kRounds * kAtOnce,
         g_as_fail.load(), g_as_end.load());
  EXPECT_EQ(g_as_end.load(), 0);
  EXPECT_EQ(g_as_fail.load(), kRounds * kAtOnce);
  weft_client_close(c);
}

INSTANTIATE_TEST_SUITE_P(Modes, GrpcQueues, ::testing::Values(false, true),
                         [](const auto &i) {
                           return std::string(i.param ? "Pool" : "Inline");
                         });

} // namespace
