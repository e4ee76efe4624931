// Threads that connections and asynchronous calls must not cost:
// - a WebSocket server that sees thousands of connections close at once
//   (their client process exits with a subscription open on each) frees
//   them without a thread per connection, leaks nothing, and serves new
//   connections afterwards;
// - grpc:// clients share one completion-queue thread for their
//   asynchronous calls (300 clients with a server stream each), every
//   stream gets its messages, and clients close in any order while the
//   others' calls are in flight;
// - the deadlines of detached calls start no thread.
// Thread-count bounds leave slack for threads that float with load (gRPC
// core's, the client loop's connector) but stay far below one per
// connection or client; the figures are printed, not asserted.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "test_schemes.h"

extern "C" {
#include "echo.weft.h"
#include "echo_service.h"
#include "weft/client.h"
#include "weft/server.h"
#include "weft/transport.h"
#include "thread_count.h"
#include "weft/v1/pubsub.weft.h"
}

namespace {

template <class F> bool wait_for(F f, int ms = 30000) {
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (!f()) {
    if (std::chrono::steady_clock::now() > end)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

// The thread count once it stops moving (threads that are exiting).
int settled_threads() {
  int last = weft_test_thread_count();
  for (int i = 0; i < 100; i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    int n = weft_test_thread_count();
    if (n == last)
      return n;
    last = n;
  }
  return last;
}

// Samples the process's thread count every millisecond until stopped and
// keeps the highest.
struct Sampler {
  std::atomic<bool> stop{false};
  std::atomic<int> peak{0};
  std::thread t;
  Sampler() {
    t = std::thread([this] {
      while (!stop.load()) {
        int n = weft_test_thread_count();
        if (n > peak.load())
          peak.store(n);
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    });
  }
  int finish() {
    stop = true;
    t.join();
    return peak.load();
  }
};

struct Sub {
  std::atomic<int> events{0};
  weft_client *c = nullptr;
  weft_subscription *s = nullptr;
  static void on_event(const char *, const weft_msg_desc *, const void *,
                       void *ud) {
    static_cast<Sub *>(ud)->events++;
  }
};

// Opens subs.size() clients of url, each subscribed to topic, on nthreads
// threads. Returns the number that failed.
int open_subscribed(std::vector<Sub> &subs, const std::string &url,
                    const char *topic, unsigned nthreads) {
  std::atomic<int> failed{0};
  std::vector<std::thread> ts;
  for (unsigned k = 0; k < nthreads; k++)
    ts.emplace_back([&, k] {
      for (size_t i = k; i < subs.size(); i += nthreads) {
        weft_client_opts o;
        memset(&o, 0, sizeof o);
        o.connect_timeout_ms = 10000;
        weft_error err;
        weft_error_clear(&err);
        if (weft_client_open(&subs[i].c, url.c_str(), &o, &err) != 0) {
          if (failed++ == 0)
            fprintf(stderr, "%s #%zu: %s\n", url.c_str(), i, err.message);
          continue;
        }
        if (weft_client_subscribe(subs[i].c, topic, Sub::on_event, &subs[i],
                                  &subs[i].s) != 0 &&
            failed++ == 0)
          fprintf(stderr, "%s #%zu: subscribe failed\n", url.c_str(), i);
      }
    });
  for (auto &t : ts)
    t.join();
  return failed.load();
}

bool all_got(std::vector<Sub> &subs, int n) {
  for (auto &s : subs)
    if (s.c && s.events.load() < n)
      return false;
  return true;
}

void publish(weft_server *srv, const char *topic) {
  weft__test__EchoResponse m = weft__test__EchoResponse_INIT;
  m.text = (char *)"event";
  ASSERT_EQ(weft_server_publish(srv, topic, &m), 0);
}

// ---- a client process with thousands of WebSocket connections ----

constexpr int kWsConns = 2000;
constexpr const char *kWsTopic = "ws-teardown";

// Run in the spawned copy of this binary (WEFT_CT_WS_URL set): opens
// WEFT_CT_WS_N ws:// clients, each subscribed, writes "r" to stdout, and
// when its stdin closes exits without closing anything: the kernel closes
// every socket at once.
__attribute__((constructor)) void ws_child() {
  const char *u = getenv("WEFT_CT_WS_URL");
  const char *n = getenv("WEFT_CT_WS_N");
  if (!u || !n)
    return;
  std::vector<Sub> subs((size_t)atoi(n));
  if (open_subscribed(subs, u, kWsTopic, 4) != 0)
    _exit(2);
  if (write(1, "r", 1) != 1)
    _exit(3);
  char b;
  while (read(0, &b, 1) > 0) {
  }
  _exit(0);
}

struct Child {
  pid_t pid = -1;
  int fd = -1, in = -1;
  bool spawn(const std::string &url, int n) {
    int pfd[2], ifd[2];
    if (pipe(pfd) != 0)
      return false;
    if (pipe(ifd) != 0) {
      close(pfd[0]);
      close(pfd[1]);
      return false;
    }
    std::string eu = "WEFT_CT_WS_URL=" + url;
    std::string en = "WEFT_CT_WS_N=" + std::to_string(n);
    char *argv[] = {(char *)"weft_conn_threads_tests", nullptr};
    // The parent's environment too (sanitizer options and suppressions).
    std::vector<char *> envp;
    for (char **e = environ; *e; e++)
      envp.push_back(*e);
    envp.push_back((char *)eu.c_str());
    envp.push_back((char *)en.c_str());
    envp.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
    posix_spawn_file_actions_addclose(&fa, pfd[0]);
    posix_spawn_file_actions_adddup2(&fa, ifd[0], 0);
    posix_spawn_file_actions_addclose(&fa, ifd[1]);
    int sr =
        posix_spawn(&pid, "/proc/self/exe", &fa, nullptr, argv, envp.data());
    posix_spawn_file_actions_destroy(&fa);
    close(pfd[1]);
    close(ifd[0]);
    fd = pfd[0];
    in = ifd[1];
    return sr == 0;
  }
  // Tells the child to exit.
  void end() {
    if (in >= 0)
      close(in);
    in = -1;
  }
  // The child's next byte, or 0 after 60 s or at its exit.
  char next() {
    struct pollfd p = {fd, POLLIN, 0};
    char b = 0;
    if (poll(&p, 1, 60000) == 1 && read(fd, &b, 1) == 1)
      return b;
    return 0;
  }
  int wait() {
    int st = 0;
    if (pid > 0)
      waitpid(pid, &st, 0);
    pid = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
  ~Child() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      wait();
    }
    end();
    if (fd >= 0)
      close(fd);
  }
};

struct ConnCount {
  std::atomic<int> opened{0}, closed{0};
  static void on_conn(void *ud, const weft_conn_event *ev) {
    auto *cc = static_cast<ConnCount *>(ud);
    if (ev->kind == WEFT_CONN_EVENT_OPENED)
      cc->opened++;
    else
      cc->closed++;
  }
};

struct Done {
  std::atomic<int> done{0};
  std::atomic<int> code{-1};
  static void on_done(weft_call *, const weft_status *st, const weft_metadata *,
                      void *ud) {
    auto *d = static_cast<Done *>(ud);
    d->code = st->code;
    d->done++;
  }
};

#ifdef WEFT_TEST_HAVE_WEBSOCKET
TEST(ConnThreads, WsServerFreesThousandsOfClosedConnectionsWithoutThreads) {
  weft_transports_init();
  ConnCount cc;
  weft_server_opts so;
  memset(&so, 0, sizeof so);
  so.worker_threads = 2;
  so.shutdown_grace_ms = 2000;
  so.max_conns_per_ip = 2 * kWsConns;
  so.on_connection = ConnCount::on_conn;
  so.on_connection_ud = &cc;
  weft_server *srv = nullptr;
  ASSERT_EQ(weft_server_new(&srv, &so), 0);
  ASSERT_EQ(weft_test_echo_add(srv), 0);
  weft_error err;
  weft_error_clear(&err);
  ASSERT_EQ(weft_server_listen(srv, "ws://127.0.0.1:0", &err), 0)
      << err.message;
  std::string url =
      "ws://127.0.0.1:" + std::to_string(weft_server_port(srv, 0));
  weft_client *busy = nullptr;
  ASSERT_EQ(weft_client_open(&busy, url.c_str(), nullptr, nullptr), 0);

  Child child;
  ASSERT_TRUE(child.spawn(url, kWsConns));
  if (child.next() != 'r')
    FAIL() << "the client process did not open its " << kWsConns
           << " subscriptions (exit " << child.wait() << ")";
  ASSERT_EQ(cc.opened.load(), kWsConns + 1);
  int before = settled_threads();
  Sampler sampler;
  // Handlers that take a while hold the workers, so the subscriptions'
  // on_cancel wait in the pool's queue while the connections close: each
  // closed connection then has a call still running for a while.
  constexpr int kBusy = 6;
  Done busy_done;
  static const weft_call_callbacks cb = {nullptr, nullptr, Done::on_done};
  weft__test__EchoRequest req = weft__test__EchoRequest_INIT;
  req.delay_ms = 300;
  for (int i = 0; i < kBusy; i++) {
    weft_call *call;
    ASSERT_EQ(weft_call_start_async(busy, &weft__test__Echo_service.methods[0],
                                    &req, nullptr, &cb, &busy_done, &call),
              0);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  // The client process exits: the server sees its 2,000 connections close
  // at once, each with a detached call (the subscription) in flight.
  child.end();
  int st = child.wait();
  EXPECT_EQ(st, 0);
  EXPECT_TRUE(wait_for([&] { return cc.closed.load() == kWsConns; }))
      << cc.closed.load() << " of " << kWsConns << " connections closed";
  EXPECT_TRUE(wait_for([&] { return busy_done.done.load() == kBusy; }));
  // Handlers end and connections are freed: the count settles.
  int after = settled_threads();
  int peak = sampler.finish();
  printf("threads: %d before, peak %d while %d connections closed, %d after\n",
         before, peak, kWsConns, after);
  EXPECT_LE(peak, before + 4) << "a thread per closing connection?";
  EXPECT_LE(after, before + 1);

  // The listener goes on: new connections are served (the per-IP counts
  // were released), and the server shuts down with them open.
  std::vector<Sub> subs(200);
  ASSERT_EQ(open_subscribed(subs, url, "again", 1), 0);
  publish(srv, "again");
  EXPECT_TRUE(wait_for([&] { return all_got(subs, 1); }))
      << "a reopened subscription missed its event";
  int open_now = settled_threads();
  Sampler down;
  weft_server_free(srv);
  int peak_down = down.finish();
  printf("threads: %d with %zu new clients, peak %d during shutdown\n",
         open_now, subs.size(), peak_down);
  EXPECT_LE(peak_down, open_now + 4);
  for (auto &s : subs)
    weft_client_close(s.c);
  weft_client_close(busy);
}
#endif

#ifdef WEFT_TEST_HAVE_GRPC
// Under ThreadSanitizer each new grpc:// channel opens slower the more are
// open (100: 4 s; 200: over 100 s on a loaded 2-core machine; the
// optimized and ASan builds open 300 in 1-6 s): fewer clients there, where
// races are the point.
#ifdef WEFT_TSAN_BUILD
constexpr int kGrpcClients = 100;
#else
constexpr int kGrpcClients = 300;
#endif

TEST(ConnThreads, GrpcClientsShareOneAsyncQueueThread) {
  weft_transports_init();
  weft_server_opts so;
  memset(&so, 0, sizeof so);
  so.worker_threads = 2;
  so.shutdown_grace_ms = 1000;
  weft_server *srv = nullptr;
  ASSERT_EQ(weft_server_new(&srv, &so), 0);
  weft_error err;
  weft_error_clear(&err);
  ASSERT_EQ(weft_server_listen(srv, "grpc://127.0.0.1:0", &err), 0)
      << err.message;
  std::string url =
      "grpc://127.0.0.1:" + std::to_string(weft_server_port(srv, 0));
  // gRPC core's own threads (timer manager, executor) start with the first
  // channel: one client first, so they are counted in the baseline.
  std::vector<Sub> first(1);
  ASSERT_EQ(open_subscribed(first, url, "g", 1), 0);
  // Counted without gRPC core's own pools, which float with the load (of
  // this test and of whatever else runs on the machine).
  int before = settled_threads() - weft_test_grpc_core_threads();

  std::vector<Sub> subs(kGrpcClients);
  ASSERT_EQ(open_subscribed(subs, url, "g", 1), 0);
  int opened = settled_threads() - weft_test_grpc_core_threads();
  printf("threads but gRPC core's: %d with one grpc:// client streaming, %d "
         "with %d (gRPC core's: %d)\n",
         before, opened, kGrpcClients + 1, weft_test_grpc_core_threads());
  // One queue thread for every client's asynchronous calls (here already
  // running for the first client), not one per client.
  EXPECT_LE(opened, before + 1);
  EXPECT_EQ(weft_test_threads_named("weft-grpc-async"), 1);
  for (int k = 1; k <= 3; k++)
    publish(srv, "g");
  EXPECT_TRUE(wait_for([&] { return all_got(subs, 3); }))
      << "a stream missed messages";
  for (size_t i = 0; i < subs.size(); i++)
    EXPECT_EQ(subs[i].events.load(), 3) << "client #" << i;

  // Close clients in a random order while a publisher keeps the other
  // streams busy: each close waits for its own calls only.
  std::vector<size_t> order(subs.size());
  for (size_t i = 0; i < order.size(); i++)
    order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937(12345));
  std::atomic<bool> stop{false};
  std::thread pub([&] {
    while (!stop.load()) {
      weft__test__EchoResponse m = weft__test__EchoResponse_INIT;
      m.text = (char *)"more";
      weft_server_publish(srv, "g", &m);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  size_t half = order.size() / 2;
  for (size_t i = 0; i < half; i++) {
    weft_client_close(subs[order[i]].c);
    subs[order[i]].c = nullptr;
  }
  stop = true;
  pub.join();
  // The streams of the clients left still run.
  std::vector<int> had(subs.size());
  for (size_t i = 0; i < subs.size(); i++)
    had[i] = subs[i].events.load();
  publish(srv, "g");
  EXPECT_TRUE(wait_for([&] {
    for (size_t i = 0; i < subs.size(); i++)
      if (subs[i].c && subs[i].events.load() <= had[i])
        return false;
    return true;
  })) << "a stream stopped after other clients closed";
  for (size_t i = half; i < order.size(); i++)
    weft_client_close(subs[order[i]].c);
  weft_client_close(first[0].c);
  // The last client gone, the queue thread stops with it.
  int after = settled_threads() - weft_test_grpc_core_threads();
  printf("threads but gRPC core's: %d after every client closed\n", after);
  EXPECT_EQ(weft_test_threads_named("weft-grpc-async"), 0);
  EXPECT_LE(after, before);
  weft_server_free(srv);
}
#endif

// ---- deadlines and timers of detached calls ----

// PubSub's Subscribe detaches; with a deadline its call has a timer. 20
// subscriptions with a distant deadline and 2 whose deadline passes (the
// server's timer fires on_cancel, the handler finishes): the server runs
// those timers on its idle workers, so the process's thread count never
// passes what it was before (it used to start a watcher thread).
TEST(ConnThreads, DeadlinesOfDetachedCallsStartNoThread) {
  weft_transports_init();
  weft_server_opts so;
  memset(&so, 0, sizeof so);
  so.worker_threads = 2;
  so.shutdown_grace_ms = 200;
  weft_server *srv = nullptr;
  ASSERT_EQ(weft_server_new(&srv, &so), 0);
  ASSERT_EQ(weft_server_listen(srv, "tcp://127.0.0.1:0", nullptr), 0);
  std::string u = "tcp://127.0.0.1:" + std::to_string(weft_server_port(srv, 0));
  weft_client *c = nullptr;
  ASSERT_EQ(weft_client_open(&c, u.c_str(), nullptr, nullptr), 0);
  // Every thread the client and server need is there after one detached
  // call without a deadline.
  std::vector<Sub> warm(1);
  warm[0].c = c;
  ASSERT_EQ(weft_client_subscribe(c, "w", Sub::on_event, &warm[0], &warm[0].s),
            0);
  publish(srv, "w");
  ASSERT_TRUE(wait_for([&] { return all_got(warm, 1); }));
  weft_subscription_cancel(warm[0].s);
  Sampler sampler; // a thread itself: counted in before
  int before = settled_threads();
  sampler.peak = 0; // from here on

  static const weft_call_callbacks cb = {nullptr, nullptr, Done::on_done};
  const int N = 22;
  std::vector<weft_call_opts> os(N);
  std::vector<Done> ds(N);
  std::vector<weft_call *> calls(N, nullptr);
  for (int i = 0; i < N; i++) {
    weft__v1__SubscribeRequest req;
    weft__v1__SubscribeRequest_init(&req);
    req.topic = (char *)"d";
    memset(&os[i], 0, sizeof os[i]);
    os[i].timeout_ms = i < 2 ? 200 : 60000;
    ASSERT_EQ(weft_call_start_async(c, &weft__v1__PubSub_service.methods[0],
                                    &req, &os[i], &cb, &ds[i], &calls[i]),
              0);
  }
  EXPECT_TRUE(wait_for([&] { return ds[0].done == 1 && ds[1].done == 1; }));
  EXPECT_EQ(ds[0].code.load(), WEFT_STATUS_DEADLINE_EXCEEDED);
  for (int i = 2; i < N; i++)
    weft_call_cancel(calls[i]);
  EXPECT_TRUE(wait_for([&] {
    for (auto &d : ds)
      if (d.done.load() != 1)
        return false;
    return true;
  }));
  int peak = sampler.finish();
  printf("threads: %d before, at most %d with %d deadlines pending\n", before,
         peak, N);
  EXPECT_LE(peak, before) << "a deadline started a thread";
  for (auto &o : os)
    weft_status_clear(&o.status);
  weft_client_close(c);
  weft_server_free(srv);
}

} // namespace
