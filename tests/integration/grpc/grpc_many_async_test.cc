// Thousands of asynchronous calls on one grpc:// client: the client spreads
// its live asynchronous calls over up to 4 completion queues (one more per
// 1,024 live calls, each drained by a "weft-grpc-async" thread), and a
// call stays on the queue it was given. Over 2,048 server-streaming calls
// are live at once against a weft server whose handlers park them
// (detached, no thread each); then some are cancelled midway, the others
// are released and must get every message in order and end OK, or are
// still live when the client is closed, which must end each of them with
// one on_done before it returns. Labelled tsan: the callbacks of the calls
// run on several queue threads while the test thread starts and cancels.
// WEFT_TEST_GRPC_ASYNC_CALLS sets the count (above 1,024, so that a second
// queue comes into use; the ThreadSanitizer build uses 1,300).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "echo.weft.h"
#include "weft/client.h"
#include "weft/grpc_transport.h"
#include "weft/server.h"
#include "weft/transport.h"
#include "thread_count.h"

namespace {

using Req = weft__test__EchoRequest;
using Resp = weft__test__EchoResponse;

constexpr int kMessages = 4; // per call: one at arrival, the rest on release

int call_count() {
  const char *e = getenv("WEFT_TEST_GRPC_ASYNC_CALLS");
  int n = e ? atoi(e) : 0;
  return n > 1024 ? n : 2600;
}

// ---- server: ServerStream parks each call after its first message ----

// One parked call. The server's on_cancel (worker pool) and the test thread
// (release) may race to finish it: whoever finishes first under mu wins,
// and nobody touches `call` after that (it may be freed).
struct Parked {
  std::mutex mu;
  weft_server_call *call = nullptr;
  bool finished = false;
  int index = -1; // the request's repeat field: the test's call index
};

struct ServerSide {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Parked *> parked;
  int cancels = 0;
};
ServerSide ss;

Resp msg(int index, const char *text) {
  Resp r;
  weft__test__EchoResponse_init(&r);
  r.index = index;
  r.text = const_cast<char *>(text);
  return r;
}

// Counted before the finish: the server's shutdown may return as soon as
// the last call is finished.
void on_server_cancel(weft_server_call *, void *ud) {
  auto *p = static_cast<Parked *>(ud);
  {
    std::lock_guard<std::mutex> g(ss.mu);
    ss.cancels++;
  }
  std::lock_guard<std::mutex> g(p->mu);
  if (!p->finished) {
    p->finished = true;
    weft_server_call_finish(p->call, WEFT_STATUS_CANCELLED);
  }
}

int park_stream(weft_server_call *call, const Req *req, void *) {
  if (weft_server_call_detach(call) != 0)
    return WEFT_STATUS_INTERNAL;
  auto *p = new Parked;
  p->call = call;
  p->index = req->repeat;
  Resp r = msg(0, req->text);
  {
    std::lock_guard<std::mutex> g(p->mu);
    weft_server_call_on_cancel(call, on_server_cancel, p);
    if (weft_server_call_send(call, &r) < 0) {
      p->finished = true;
      weft_server_call_finish(call, WEFT_STATUS_CANCELLED);
    }
  }
  std::lock_guard<std::mutex> g(ss.mu);
  ss.parked.push_back(p);
  ss.cv.notify_all();
  return WEFT_STATUS_OK;
}

// Sends the rest of the call's messages and ends it OK (unless it ended).
void release(Parked *p) {
  std::lock_guard<std::mutex> g(p->mu);
  if (p->finished)
    return;
  for (int i = 1; i < kMessages; i++) {
    Resp r = msg(i, "rest");
    if (weft_server_call_send(p->call, &r) < 0)
      break; // the client is gone: finish says so
  }
  p->finished = true;
  weft_server_call_finish(p->call, WEFT_STATUS_OK);
}

// Every 8th call (index 0 mod 8) is cancelled midway, those with index 3
// mod 8 stay live until the client closes (a few hundred: under
// ThreadSanitizer tearing down each costs milliseconds), the rest are
// released.
bool released(int index) {
  return index % 8 != 0 && index % 8 != 3;
}

const weft_method_desc *stream_method() {
  return &weft__test__Echo_service.methods[1]; // ServerStream
}

int unimplemented(weft_server_call *, const Req *, Resp *, void *) {
  return WEFT_STATUS_UNIMPLEMENTED;
}

// ---- client: what each call's callbacks saw ----

struct Client {
  std::mutex mu;
  std::condition_variable cv;
  int first = 0, done = 0, ok = 0, cancelled = 0, other = 0;
  int order_errors = 0, short_ok = 0;
  std::string other_seen; // the first unexpected status, for the message
};

struct PerCall {
  Client *cl;
  int index;
  std::atomic<int> got{0};
};

void on_message(weft_call *, void *m, void *ud) {
  auto *p = static_cast<PerCall *>(ud);
  auto *r = static_cast<Resp *>(m);
  int want = p->got.load(std::memory_order_relaxed);
  bool bad = r->index != want;
  p->got.store(want + 1, std::memory_order_relaxed);
  weft_message_free(m);
  std::lock_guard<std::mutex> g(p->cl->mu);
  p->cl->order_errors += bad;
  if (want == 0) {
    p->cl->first++;
    p->cl->cv.notify_all();
  }
}

void on_done(weft_call *, const weft_status *st, const weft_metadata *,
             void *ud) {
  auto *p = static_cast<PerCall *>(ud);
  Client *cl = p->cl;
  std::lock_guard<std::mutex> g(cl->mu);
  cl->done++;
  if (st->code == WEFT_STATUS_OK) {
    cl->ok++;
    cl->short_ok += p->got.load(std::memory_order_relaxed) != kMessages;
  } else if (st->code == WEFT_STATUS_CANCELLED) {
    cl->cancelled++;
  } else {
    cl->other++;
    if (cl->other_seen.empty())
      cl->other_seen = "call " + std::to_string(p->index) + ": status " +
                       std::to_string(st->code) + " " +
                       (st->message ? st->message : "");
  }
  cl->cv.notify_all();
}

const weft_call_callbacks cbs = {nullptr, on_message, on_done};

TEST(GrpcManyAsync, OverTwoThousandCallsOnOneClient) {
  const int n = call_count();
  weft_transports_init();
  weft__test__Echo_impl impl{};
  impl.unary = unimplemented;
  impl.server_stream = park_stream;
  weft_grpc_opts g = WEFT_GRPC_OPTS_INIT;
  g.max_concurrent_streams = (unsigned)n + 100; // all on one connection
  weft_server_opts so;
  memset(&so, 0, sizeof so);
  so.worker_threads = 4;
  so.shutdown_grace_ms = 500;
  so.transport_opts = &g;
  weft_server *srv = nullptr;
  ASSERT_EQ(weft_server_new(&srv, &so), 0);
  ASSERT_EQ(
      weft_server_add_service(srv, &weft__test__Echo_service, &impl, nullptr),
      0);
  weft_error err{};
  ASSERT_EQ(weft_server_listen(srv, "grpc://127.0.0.1:0", &err), 0)
      << err.message;
  std::string url =
      "grpc://127.0.0.1:" + std::to_string(weft_server_port(srv, 0));
  weft_client *cli = nullptr;
  ASSERT_EQ(weft_client_open(&cli, url.c_str(), nullptr, nullptr), 0);

  Client cl;
  std::vector<PerCall *> per(n);
  std::vector<weft_call *> calls(n);
  for (int i = 0; i < n; i++) {
    per[i] = new PerCall{&cl, i};
    Req r;
    weft__test__EchoRequest_init(&r);
    r.text = const_cast<char *>("hi");
    r.repeat = i;
    weft_call_opts o;
    memset(&o, 0, sizeof o);
    o.timeout_ms = 60000;
    ASSERT_EQ(weft_call_start_async(cli, stream_method(), &r, &o, &cbs, per[i],
                                    &calls[i]),
              0)
        << "call " << i << ": " << (o.status.message ? o.status.message : "");
    weft_status_clear(&o.status);
  }
  // Every call has its first message and none has ended: all n are live
  // on the client at once.
  {
    std::unique_lock<std::mutex> l(cl.mu);
    ASSERT_TRUE(cl.cv.wait_for(l, std::chrono::seconds(60),
                               [&] { return cl.first >= n || cl.done > 0; }))
        << cl.first << " of " << n << " calls got their first message";
    ASSERT_EQ(cl.done, 0);
  }
  // 1 queue below 1,024 live calls, one more per 1,024: the spreading
  // path is in use (the queues stay until the last client closes).
  int want_queues = 1 + (n - 1) / 1024;
  EXPECT_GE(weft_test_threads_named("weft-grpc-async"),
            want_queues > 4 ? 4 : want_queues);
  // The server (default: handlers on its queue threads, 4 queues on this
  // machine or more) brings in one more queue once the queues in use carry
  // 1,024 calls each; its poller was started, parked, at listen.
  EXPECT_GE(weft_test_threads_named("weft-grpc-cq"),
            want_queues > 4 ? 4 : want_queues);

  // Cancel every 8th call midway (it has 1 of its kMessages).
  int n_cancel = 0;
  for (int i = 0; i < n; i += 8, n_cancel++)
    weft_call_cancel(calls[i]); // on_done may run here; calls[i] is not used
  // Release every call not cancelled except those whose index is 3 mod 8:
  // they get the rest of their messages and end OK.
  std::vector<Parked *> parked;
  {
    std::unique_lock<std::mutex> l(ss.mu);
    ASSERT_TRUE(ss.cv.wait_for(l, std::chrono::seconds(30),
                               [&] { return ss.parked.size() >= (size_t)n; }));
    parked = ss.parked;
  }
  int n_release = 0;
  for (Parked *p : parked)
    if (released(p->index)) {
      release(p);
      n_release++;
    }
  {
    std::unique_lock<std::mutex> l(cl.mu);
    ASSERT_TRUE(cl.cv.wait_for(l, std::chrono::seconds(60),
                               [&] { return cl.done >= n_cancel + n_release; }))
        << cl.done << " of " << n_cancel + n_release << " calls ended";
    EXPECT_EQ(cl.ok, n_release);
    EXPECT_EQ(cl.cancelled, n_cancel);
    EXPECT_EQ(cl.short_ok, 0) << "calls that ended OK without every message";
    EXPECT_EQ(cl.other, 0) << cl.other_seen;
  }
  // The rest are live: closing the client ends each of them once, before
  // it returns.
  int live = n - n_cancel - n_release;
  ASSERT_GT(live, 0);
  auto t0 = std::chrono::steady_clock::now();
  auto ms = [&] {
    return (long)std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now() - t0)
        .count();
  };
  weft_client_close(cli);
  printf("client closed with %d calls live in %ld ms\n", live, ms());
  {
    std::lock_guard<std::mutex> g(cl.mu);
    EXPECT_EQ(cl.done, n);
    EXPECT_EQ(cl.ok, n_release);
    EXPECT_EQ(cl.cancelled + cl.other, n - n_release);
    EXPECT_EQ(cl.order_errors, 0);
  }
  for (PerCall *p : per) {
    int got = p->got.load();
    if (released(p->index))
      EXPECT_EQ(got, kMessages) << "call " << p->index;
    else
      EXPECT_LE(got, 1) << "call " << p->index;
    delete p;
  }
  // The server hears every client-side end as a cancellation.
  t0 = std::chrono::steady_clock::now();
  weft_server_shutdown(srv);
  weft_server_free(srv);
  printf("server stopped in %ld ms\n", ms());
  EXPECT_EQ(ss.cancels, n - n_release);
  for (Parked *p : ss.parked)
    delete p;
  ss.parked.clear();
}

} // namespace
