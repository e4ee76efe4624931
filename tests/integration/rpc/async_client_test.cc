// Asynchronous client calls (weft_call_start_async) on every transport:
// many calls in flight from one thread, streaming through callbacks,
// cancellation from a callback, deadlines, and a server that refuses a
// burst larger than its queue (max_pending_calls) with RESOURCE_EXHAUSTED
// instead of queueing it forever. Labelled tsan: the callbacks run on the
// client's I/O thread while the test thread starts and cancels calls.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "test_schemes.h"

extern "C" {
#include "echo.weft.h"
#include "echo_service.h"
#include "thread_count.h"
#include "weft/client.h"
#include "weft/server.h"
#include "weft/transport.h"
}

namespace {

// What the callbacks of a batch of calls saw.
struct Batch {
  std::mutex mu;
  std::condition_variable cv;
  int done = 0, ok = 0, headers = 0, messages = 0, order_errors = 0;
  std::vector<int> codes;
  std::vector<std::string> texts;
  bool cancel_on_first = false;
  int peak_threads = 0;
  int64_t t0 = 0, last_refused = 0; // RESOURCE_EXHAUSTED answers

  bool wait(int n, int seconds = 20) {
    std::unique_lock<std::mutex> l(mu);
    return cv.wait_for(l, std::chrono::seconds(seconds),
                       [&] { return done >= n; });
  }
};

struct PerCall {
  Batch *b;
  int next = 0; // the index expected next (server streams)
  std::string text;
};

void on_headers(weft_call *, const weft_metadata *, void *ud) {
  auto *p = static_cast<PerCall *>(ud);
  std::lock_guard<std::mutex> g(p->b->mu);
  p->b->headers++;
}

void on_message(weft_call *call, void *msg, void *ud) {
  auto *p = static_cast<PerCall *>(ud);
  auto *r = static_cast<weft__test__EchoResponse *>(msg);
  bool cancel = false;
  {
    std::lock_guard<std::mutex> g(p->b->mu);
    p->b->messages++;
    if (r->index != p->next)
      p->b->order_errors++;
    p->next++;
    p->text = r->text ? r->text : "";
    cancel = p->b->cancel_on_first;
    int t = weft_test_thread_count();
    if (t > p->b->peak_threads)
      p->b->peak_threads = t;
  }
  weft_message_free(msg);
  if (cancel)
    weft_call_cancel(call); // from inside the callback
}

void on_done(weft_call *, const weft_status *st, const weft_metadata *,
             void *ud) {
  auto *p = static_cast<PerCall *>(ud);
  Batch *b = p->b;
  std::string text = p->text;
  delete p;
  // Notified under the lock: the waiter may destroy b as soon as it sees
  // the count, so nothing here may touch b after the unlock.
  std::lock_guard<std::mutex> g(b->mu);
  b->done++;
  b->ok += st->code == WEFT_STATUS_OK;
  b->codes.push_back(st->code);
  if (st->code == WEFT_STATUS_RESOURCE_EXHAUSTED)
    b->last_refused = weft_now_ns();
  b->texts.push_back(text);
  b->cv.notify_all();
}

const weft_call_callbacks cbs = {on_headers, on_message, on_done};

class AsyncClient : public ::testing::TestWithParam<std::string> {
protected:
  static weft_server *srv;
  static std::vector<std::string> urls;

  static void SetUpTestSuite() {
    weft_server_opts so;
    memset(&so, 0, sizeof so);
    so.worker_threads = 4;
    so.max_pending_calls = 8192; // 1,000 at once must not be refused here
    so.shutdown_grace_ms = 2000;
    so.max_msgs_per_sec = 1000000;
    ASSERT_EQ(weft_server_new(&srv, &so), 0);
    ASSERT_EQ(weft_test_echo_add(srv), 0);
    urls = weft_test_listen_all(srv);
  }
  static void TearDownTestSuite() {
    weft_server_free(srv);
    srv = nullptr;
    urls.clear();
  }
  std::string url() {
    if (GetParam() == "http") // HTTP/1.1 on the h2c listener's port
      return "http" + weft_test_url(urls, "h2c").substr(3);
    return weft_test_url(urls, GetParam());
  }
  // Transports with a native call_start_async: no thread per call.
  bool native() const {
    return GetParam() == "tcp" || GetParam() == "ws" || GetParam() == "grpc" ||
           GetParam() == "h2c" || GetParam() == "http";
  }
  // HTTP/1.1 refuses bidi streams (half-duplex).
  bool has_bidi() const {
    return GetParam() != "http";
  }
};
weft_server *AsyncClient::srv;
std::vector<std::string> AsyncClient::urls;

int start_unary(weft_client *c, Batch *b, const std::string &text, int delay_ms,
                int64_t timeout_ms) {
  weft__test__EchoRequest req = weft__test__EchoRequest_INIT;
  req.text = (char *)text.c_str();
  req.delay_ms = delay_ms;
  weft_call_opts o;
  memset(&o, 0, sizeof o);
  o.timeout_ms = timeout_ms;
  auto *p = new PerCall{b};
  weft_call *call = nullptr;
  int rv = weft_call_start_async(c, &weft__test__Echo_service.methods[0], &req,
                                 &o, &cbs, p, &call);
  if (rv < 0)
    delete p;
  weft_status_clear(&o.status);
  return rv;
}

// 1,000 unary calls (and a few server streams) in flight at once from this
// one thread, on one client: every one completes with its own answer, and
// on tcp/ws/h2c/grpc no thread is added per call (the callbacks run on the
// process-wide client loop, or the gRPC client's one queue thread).
TEST_P(AsyncClient, ThousandUnaryFromOneThread) {
  // Counted before the client exists: what the client starts, lazily on
  // its first asynchronous call or not, counts.
  int before = weft_test_thread_count();
  weft_client *c = nullptr;
  ASSERT_EQ(weft_client_open(&c, url().c_str(), nullptr, NULL), 0);
  { // warm up the connection and the server's threads
    Batch w;
    ASSERT_EQ(start_unary(c, &w, "warm", 0, 10000), 0);
    ASSERT_TRUE(w.wait(1));
  }
  // Without native support each call holds a pool thread: fewer calls.
  const int N = native() ? 1000 : 200;
  Batch b, streams;
  const int S = native() ? 4 : 0, R = 20;
  int64_t t0 = weft_now_ns();
  for (int i = 0; i < N; i++) {
    ASSERT_EQ(start_unary(c, &b, "u" + std::to_string(i), 0, 20000), 0) << i;
    if (i % 250 == 0 && i / 250 < S) {
      weft__test__EchoRequest req = weft__test__EchoRequest_INIT;
      req.text = (char *)"s";
      req.repeat = R;
      weft_call *call = nullptr;
      ASSERT_EQ(weft_call_start_async(c, &weft__test__Echo_service.methods[1],
                                      &req, nullptr, &cbs,
                                      new PerCall{&streams}, &call),
                0);
    }
  }
  ASSERT_TRUE(b.wait(N)) << b.done << " of " << N << " done";
  ASSERT_TRUE(streams.wait(S)) << streams.done << " of " << S << " streams";
  double ms = (weft_now_ns() - t0) / 1e6;
  {
    std::lock_guard<std::mutex> g(streams.mu);
    EXPECT_EQ(streams.ok, S);
    EXPECT_EQ(streams.messages, S * R);
    EXPECT_EQ(streams.order_errors, 0);
  }
  std::lock_guard<std::mutex> g(b.mu);
  EXPECT_EQ(b.ok, N);
  EXPECT_EQ(b.headers, N);
  EXPECT_EQ(b.messages, N);
  std::vector<bool> seen(N);
  for (auto &t : b.texts)
    if (t.size() > 1 && t[0] == 'u')
      seen[std::stoi(t.substr(1))] = true;
  for (int i = 0; i < N; i++)
    EXPECT_TRUE(seen[i]) << "no answer for u" << i;
  std::printf("%s: %d async unary calls from one thread: %.1f ms, threads "
              "%d before, peak %d\n",
              GetParam().c_str(), N, ms, before, b.peak_threads);
  // The server's threads are in this process too, and the client's own
  // (its loop; gRPC: the queue thread, gRPC core's executor and timer
  // threads, and the server's queue threads, which grow while handlers run
  // up to its 4 workers; measured +6/+7). A thread per call would be
  // +1,000, a pool of 16 running blocking loops +20: slack 4, gRPC 12.
  int slack = GetParam() == "grpc" ? 12 : 4;
  if (native())
    EXPECT_LE(b.peak_threads, before + slack) << "threads grew with the calls";
  weft_client_close(c);
}

TEST_P(AsyncClient, ServerStreamThroughCallbacks) {
  weft_client *c = nullptr;
  ASSERT_EQ(weft_client_open(&c, url().c_str(), nullptr, NULL), 0);
  Batch b;
  const int S = 8, R = 50;
  for (int s = 0; s < S; s++) {
    weft__test__EchoRequest req = weft__test__EchoRequest_INIT;
    req.text = (char *)"s";
    req.repeat = R;
    weft_call *call = nullptr;
    ASSERT_EQ(weft_call_start_async(c, &weft__test__Echo_service.methods[1],
                                    &req, nullptr, &cbs, new PerCall{&b},
                                    &call),
              0);
  }
  ASSERT_TRUE(b.wait(S));
  std::lock_guard<std::mutex> g(b.mu);
  EXPECT_EQ(b.ok, S);
  EXPECT_EQ(b.messages, S * R);
  EXPECT_EQ(b.order_errors, 0);
  weft_client_close(c);
}

// A client stream and a bidi stream driven by weft_call_send from the
// test thread (the sends are safe here: the calls cannot end before
// close_send, the server answers only then).
TEST_P(AsyncClient, ClientStreamAndBidi) {
  weft_client *c = nullptr;
  ASSERT_EQ(weft_client_open(&c, url().c_str(), nullptr, NULL), 0);
  Batch b;
  weft_call *cs = nullptr, *bd = nullptr;
  ASSERT_EQ(weft_call_start_async(c, &weft__test__Echo_service.methods[2],
                                  nullptr, nullptr, &cbs, new PerCall{&b}, &cs),
            0);
  if (!has_bidi()) {
    weft_call_opts o;
    memset(&o, 0, sizeof o);
    auto *p = new PerCall{&b};
    EXPECT_EQ(weft_call_start_async(c, &weft__test__Echo_service.methods[3],
                                    nullptr, &o, &cbs, p, &bd),
              WEFT_ERR_UNSUPPORTED);
    EXPECT_NE(std::string(o.status.message ? o.status.message : "")
                  .find("bidi streaming needs HTTP/2"),
              std::string::npos)
        << (o.status.message ? o.status.message : "");
    weft_status_clear(&o.status);
    delete p;
  } else {
    ASSERT_EQ(weft_call_start_async(c, &weft__test__Echo_service.methods[3],
                                    nullptr, nullptr, &cbs, new PerCall{&b},
                                    &bd),
              0);
  }
  const char *parts[] = {"a", "b", "c"};
  for (const char *t : parts) {
    weft__test__EchoRequest req = weft__test__EchoRequest_INIT;
    req.text = (char *)t;
    EXPECT_EQ(weft_call_send(cs, &req), 0);
  }
  EXPECT_EQ(weft_call_close_send(cs), 0);
  ASSERT_TRUE(b.wait(1));
  {
    std::lock_guard<std::mutex> g(b.mu);
    EXPECT_EQ(b.texts[0], "abc");
  }
  if (!has_bidi()) {
    weft_client_close(c);
    return;
  }
  weft__test__EchoRequest req = weft__test__EchoRequest_INIT;
  req.text = (char *)"ping";
  EXPECT_EQ(weft_call_send(bd, &req), 0);
  EXPECT_EQ(weft_call_close_send(bd), 0);
  ASSERT_TRUE(b.wait(2));
  std::lock_guard<std::mutex> g(b.mu);
  EXPECT_EQ(b.ok, 2);
  EXPECT_EQ(b.texts[1], "ping");
  weft_client_close(c);
}

// A client stream of 1 MiB in 64 KiB messages, past the transports' send
// bounds and the peer's flow-control windows (h2c: 256 KiB not yet
// written, a 256 KiB stream window): the sends wait for the peer from the
// test thread, never for ever, and every byte arrives in order.
TEST_P(AsyncClient, ClientStreamPastTheSendBound) {
  weft_client *c = nullptr;
  ASSERT_EQ(weft_client_open(&c, url().c_str(), nullptr, NULL), 0);
  Batch b;
  weft_call *cs = nullptr;
  weft_call_opts o;
  memset(&o, 0, sizeof o);
  o.timeout_ms = 20000;
  ASSERT_EQ(weft_call_start_async(c, &weft__test__Echo_service.methods[2],
                                  nullptr, &o, &cbs, new PerCall{&b}, &cs),
            0);
  std::string want;
  for (int i = 0; i < 16; i++) {
    std::string part(64 * 1024, (char)('a' + i));
    want += part;
    weft__test__EchoRequest req = weft__test__EchoRequest_INIT;
    req.text = (char *)part.c_str();
    ASSERT_EQ(weft_call_send(cs, &req), 0) << i;
  }
  EXPECT_EQ(weft_call_close_send(cs), 0);
  ASSERT_TRUE(b.wait(1));
  std::lock_guard<std::mutex> g(b.mu);
  EXPECT_EQ(b.ok, 1) << (b.codes.empty() ? -1 : b.codes[0]);
  ASSERT_EQ(b.texts.size(), 1u);
  EXPECT_EQ(b.texts[0].size(), want.size());
  EXPECT_TRUE(b.texts[0] == want) << "the stream arrived out of order";
  weft_client_close(c);
}

// Ping-pong driven from the callbacks (the client loop, or the gRPC
// client's thread): each answer sends the next 4 KiB message and the last
// one half-closes, so every send is made on the thread that must never
// wait for the peer.
struct PingPong {
  std::mutex mu;
  std::condition_variable cv;
  int answers = 0, code = -1, order_errors = 0;
  bool done = false;
  std::string payload = std::string(4096, 'p');
  static constexpr int kRounds = 200;
};

void pp_send(weft_call *call, PingPong *pp, int i) {
  weft__test__EchoRequest req = weft__test__EchoRequest_INIT;
  std::string text = std::to_string(i) + ":" + pp->payload;
  req.text = (char *)text.c_str();
  EXPECT_EQ(weft_call_send(call, &req), 0) << i;
}

void pp_message(weft_call *call, void *msg, void *ud) {
  auto *pp = static_cast<PingPong *>(ud);
  auto *r = static_cast<weft__test__EchoResponse *>(msg);
  int n;
  {
    std::lock_guard<std::mutex> g(pp->mu);
    n = ++pp->answers;
    if (!r->text || std::to_string(n - 1) + ":" + pp->payload != r->text)
      pp->order_errors++;
  }
  weft_message_free(msg);
  if (n < PingPong::kRounds)
    pp_send(call, pp, n);
  else
    EXPECT_EQ(weft_call_close_send(call), 0);
}

void pp_done(weft_call *, const weft_status *st, const weft_metadata *,
             void *ud) {
  auto *pp = static_cast<PingPong *>(ud);
  std::lock_guard<std::mutex> g(pp->mu);
  pp->code = st->code;
  pp->done = true;
  pp->cv.notify_all();
}

TEST_P(AsyncClient, BidiPingPongFromCallbacks) {
  if (!has_bidi())
    GTEST_SKIP() << "HTTP/1.1 streams are half-duplex: no bidi";
  weft_client *c = nullptr;
  ASSERT_EQ(weft_client_open(&c, url().c_str(), nullptr, NULL), 0);
  PingPong pp;
  static const weft_call_callbacks cb = {nullptr, pp_message, pp_done};
  weft_call_opts o;
  memset(&o, 0, sizeof o);
  o.timeout_ms = 20000;
  weft__test__EchoRequest first = weft__test__EchoRequest_INIT;
  std::string text = "0:" + pp.payload;
  first.text = (char *)text.c_str();
  weft_call *call = nullptr;
  // The first message goes with the start: no send from this thread races
  // the callbacks.
  ASSERT_EQ(weft_call_start_async(c, &weft__test__Echo_service.methods[3],
                                  &first, &o, &cb, &pp, &call),
            0);
  std::unique_lock<std::mutex> l(pp.mu);
  ASSERT_TRUE(
      pp.cv.wait_for(l, std::chrono::seconds(30), [&] { return pp.done; }))
      << pp.answers << " answers";
  EXPECT_EQ(pp.code, WEFT_STATUS_OK);
  EXPECT_EQ(pp.answers, PingPong::kRounds);
  EXPECT_EQ(pp.order_errors, 0);
  l.unlock();
  weft_client_close(c);
}

// A bidi stream fed faster than the peer answers: 300 sends queued
// without waiting (each 1 KiB), then close_send; every answer arrives, in
// order, and the call ends OK.
TEST_P(AsyncClient, BidiManySendsInOrder) {
  weft_client *c = nullptr;
  ASSERT_EQ(weft_client_open(&c, url().c_str(), nullptr, NULL), 0);
  Batch b;
  weft_call *call = nullptr;
  // HTTP/1.1: a client stream instead (one chunk per message, one answer
  // with every text).
  int method = has_bidi() ? 3 : 2;
  ASSERT_EQ(weft_call_start_async(c, &weft__test__Echo_service.methods[method],
                                  nullptr, nullptr, &cbs, new PerCall{&b},
                                  &call),
            0);
  const int K = 300;
  std::string pad(1024, 'p');
  for (int k = 0; k < K; k++) {
    weft__test__EchoRequest m = weft__test__EchoRequest_INIT;
    m.text = (char *)pad.c_str();
    EXPECT_EQ(weft_call_send(call, &m), 0) << k;
  }
  EXPECT_EQ(weft_call_close_send(call), 0);
  ASSERT_TRUE(b.wait(1));
  std::lock_guard<std::mutex> g(b.mu);
  EXPECT_EQ(b.ok, 1);
  EXPECT_EQ(b.messages, has_bidi() ? K : 1);
  if (has_bidi())
    EXPECT_EQ(b.order_errors, 0);
  if (!has_bidi())
    EXPECT_EQ(b.texts[0], std::string(K * 1024, 'p'));
  weft_client_close(c);
}

// on_message cancels its own call: on_done says CANCELLED and no more
// messages arrive after it.
TEST_P(AsyncClient, CancelFromCallback) {
  weft_client *c = nullptr;
  ASSERT_EQ(weft_client_open(&c, url().c_str(), nullptr, NULL), 0);
  Batch b;
  b.cancel_on_first = true;
  weft__test__EchoRequest req = weft__test__EchoRequest_INIT;
  req.repeat = 100000;
  req.delay_ms = 5; // between messages: the stream outlives the cancel
  weft_call *call = nullptr;
  ASSERT_EQ(weft_call_start_async(c, &weft__test__Echo_service.methods[1], &req,
                                  nullptr, &cbs, new PerCall{&b}, &call),
            0);
  ASSERT_TRUE(b.wait(1));
  std::lock_guard<std::mutex> g(b.mu);
  ASSERT_EQ(b.codes.size(), 1u);
  EXPECT_EQ(b.codes[0], WEFT_STATUS_CANCELLED);
  EXPECT_GE(b.messages, 1);
  EXPECT_LT(b.messages, 100);
  weft_client_close(c);
}

// Cancel from another thread, and a deadline that passes while the server
// sleeps: on_done says CANCELLED / DEADLINE_EXCEEDED.
TEST_P(AsyncClient, CancelAndDeadlineReachOnDone) {
  weft_client *c = nullptr;
  ASSERT_EQ(weft_client_open(&c, url().c_str(), nullptr, NULL), 0);
  Batch dl;
  ASSERT_EQ(start_unary(c, &dl, "late", 3000, 200), 0);
  ASSERT_TRUE(dl.wait(1, 10));
  {
    std::lock_guard<std::mutex> g(dl.mu);
    EXPECT_EQ(dl.codes[0], WEFT_STATUS_DEADLINE_EXCEEDED);
  }
  // The cancel races with nothing here: the server sleeps for 3 s, so the
  // call cannot have ended before it.
  Batch cb;
  weft__test__EchoRequest req = weft__test__EchoRequest_INIT;
  req.delay_ms = 3000;
  weft_call *call = nullptr;
  ASSERT_EQ(weft_call_start_async(c, &weft__test__Echo_service.methods[0], &req,
                                  nullptr, &cbs, new PerCall{&cb}, &call),
            0);
  usleep(20000);
  weft_call_cancel(call);
  ASSERT_TRUE(cb.wait(1, 10));
  {
    std::lock_guard<std::mutex> g(cb.mu);
    EXPECT_EQ(cb.codes[0], WEFT_STATUS_CANCELLED);
  }
  weft_client_close(c);
}

// Closing the client with calls in flight (unary, server streams, and
// bidi streams with sends still queued): each gets its on_done (the close
// cancels them) before weft_client_close returns.
TEST_P(AsyncClient, CloseEndsCallsInFlight) {
  weft_client *c = nullptr;
  ASSERT_EQ(weft_client_open(&c, url().c_str(), nullptr, NULL), 0);
  Batch b;
  for (int i = 0; i < 10; i++)
    ASSERT_EQ(start_unary(c, &b, "x", 3000, 20000), 0);
  for (int i = 0; i < 3; i++) {
    weft__test__EchoRequest req = weft__test__EchoRequest_INIT;
    req.repeat = 100000;
    req.delay_ms = 5;
    weft_call *call = nullptr;
    ASSERT_EQ(weft_call_start_async(c, &weft__test__Echo_service.methods[1],
                                    &req, nullptr, &cbs, new PerCall{&b},
                                    &call),
              0);
    // The bidi call cannot end before close_send (never sent here) or the
    // client's close: sending from this thread is safe. HTTP/1.1: a
    // client stream, which cannot either.
    ASSERT_EQ(weft_call_start_async(
                  c, &weft__test__Echo_service.methods[has_bidi() ? 3 : 2],
                  nullptr, nullptr, &cbs, new PerCall{&b}, &call),
              0);
    for (int k = 0; k < 50; k++) {
      weft__test__EchoRequest m = weft__test__EchoRequest_INIT;
      m.text = (char *)"q";
      EXPECT_EQ(weft_call_send(call, &m), 0);
    }
  }
  weft_client_close(c);
  std::lock_guard<std::mutex> g(b.mu);
  EXPECT_EQ(b.done, 16);
  for (int code : b.codes)
    EXPECT_NE(code, WEFT_STATUS_OK);
}

TEST(AsyncClientArgs, Refused) {
  weft_call *call = reinterpret_cast<weft_call *>(1);
  weft_call_opts o;
  memset(&o, 0, sizeof o);
  EXPECT_EQ(weft_call_start_async(nullptr, &weft__test__Echo_service.methods[0],
                                  nullptr, &o, nullptr, nullptr, &call),
            WEFT_ERR_INVAL);
  EXPECT_EQ(call, nullptr);
  EXPECT_EQ(o.status.code, WEFT_STATUS_INVALID_ARGUMENT);
  call = reinterpret_cast<weft_call *>(1);
  EXPECT_EQ(weft_call_start_async(nullptr, &weft__test__Echo_service.methods[0],
                                  nullptr, &o, &cbs, nullptr, &call),
            WEFT_ERR_INVAL);
  EXPECT_EQ(call, nullptr);
  weft_status_clear(&o.status);
}

// ---- overload: a burst larger than max_pending_calls ----

// One worker, a queue of 4: a burst of 60 calls that each take 100 ms is
// mostly refused with RESOURCE_EXHAUSTED, at once; the rest complete. No
// call hangs (every on_done comes well inside its 20 s deadline).
TEST_P(AsyncClient, OverloadIsRefusedPromptly) {
  weft_server *s = nullptr;
  weft_server_opts so;
  memset(&so, 0, sizeof so);
  so.worker_threads = 1;
  so.max_pending_calls = 4;
  so.shutdown_grace_ms = 100;
  so.max_msgs_per_sec = 1000000;
  ASSERT_EQ(weft_server_new(&s, &so), 0);
  ASSERT_EQ(weft_test_echo_add(s), 0);
  weft_error err;
  weft_error_clear(&err);
  std::string listen = GetParam() == "http" ? "h2c" : GetParam();
  std::string u = listen + "://127.0.0.1:0";
  ASSERT_EQ(weft_server_listen(s, u.c_str(), &err), 0) << err.message;
  std::string target =
      GetParam() + "://127.0.0.1:" + std::to_string(weft_server_port(s, 0));
  weft_client *c = nullptr;
  ASSERT_EQ(weft_client_open(&c, target.c_str(), nullptr, NULL), 0);
  const int N = 60;
  Batch b;
  int64_t t0 = weft_now_ns();
  for (int i = 0; i < N; i++)
    ASSERT_EQ(start_unary(c, &b, "o", 100, 20000), 0);
  // The refusals come first; wait for all of them to be answered.
  ASSERT_TRUE(b.wait(N, 30)) << b.done << " of " << N << " answered";
  double ms = (weft_now_ns() - t0) / 1e6;
  int exhausted = 0, ok = 0, other = 0;
  {
    std::lock_guard<std::mutex> g(b.mu);
    for (int code : b.codes) {
      if (code == WEFT_STATUS_RESOURCE_EXHAUSTED)
        exhausted++;
      else if (code == WEFT_STATUS_OK)
        ok++;
      else
        other++;
    }
  }
  double refused_ms = b.last_refused ? (b.last_refused - t0) / 1e6 : 0;
  std::printf("%s: burst of %d on 1 worker, queue 4: %d refused (the last "
              "after %.1f ms), %d ok, %d other, all answered in %.0f ms\n",
              GetParam().c_str(), N, exhausted, refused_ms, ok, other, ms);
  EXPECT_GT(exhausted, 0) << "nothing was refused";
  EXPECT_GT(ok, 0);
  EXPECT_EQ(other, 0);
  weft_client_close(c);
  weft_server_free(s);
}

// The listeners' schemes, and http:// (served by the h2c listener).
std::vector<std::string> client_schemes() {
  std::vector<std::string> v = weft_test_schemes();
#if defined(WEFT_TEST_HAVE_HTTP1) && defined(WEFT_TEST_HAVE_HTTP2)
  v.push_back("http");
#endif
  return v;
}

INSTANTIATE_TEST_SUITE_P(Transports, AsyncClient,
                         ::testing::ValuesIn(client_schemes()),
                         [](const auto &i) { return i.param; });

} // namespace
