// Asynchronous receive (weft_server_call_read, weft/server.h "Asynchronous
// handlers") on every transport: detached client-streaming and bidi
// handlers that read without holding a worker. The server has 2 workers,
// so a test with more open streams than that only passes if a stream
// waiting for its next message holds no thread.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "test_schemes.h"

#include "wait_for.h"

extern "C" {
#include "echo.weft.h"
#include "weft/client.h"
#include "weft/server.h"
}

namespace {

struct Opts {
  weft_call_opts o;
  weft_metadata md = WEFT_METADATA_INIT;
  explicit Opts(const char *mode = nullptr) {
    memset(&o, 0, sizeof o);
    o.timeout_ms = 30000;
    if (mode) {
      weft_metadata_add_str(&md, "x-mode", mode);
      o.metadata = &md;
    }
  }
  ~Opts() {
    weft_status_clear(&o.status);
    weft_metadata_clear(&md);
  }
  const char *msg() const {
    return o.status.message ? o.status.message : "";
  }
};

// What the handlers saw, for the tests.
struct Seen {
  std::mutex mu;
  int first_msgs = 0;     // streams whose first message arrived
  int second_read = 1;    // weft_server_call_read while one is outstanding
  int sync_read = 1;      // weft_server_call_read on a blocking call
  int cancels = 0;        // on_cancel
  int read_errors = 0;    // read callbacks with status < 0
  int last_error = 0;     // and the last such status
  int after_end = -9;     // a read after the end of the stream
  int late_callbacks = 0; // read callbacks on a call already finished
  size_t arena_used = 0;  // the call's arena when the stream ended
};
Seen seen;

std::string mode_of(weft_server_call *call) {
  const weft_metadata_entry *e =
      weft_metadata_get(weft_server_call_metadata(call), "x-mode");
  return e ? std::string((const char *)e->value, e->value_len) : "";
}

// One client stream being summed.
struct Sum {
  weft_server_call *call;
  weft__test__EchoResponse *resp;
  std::string mode;
  int64_t sum = 0;
  int count = 0;
  bool ended_once = false;
  std::atomic<bool> finished{false};
  // x-mode "cancel": on_cancel and the failed read each wait for the
  // other, and the second one finishes, so both are seen.
  std::mutex cmu;
  bool cancel_seen = false, error_seen = false;
};

void sum_finish(Sum *s, int code) {
  s->finished = true;
  {
    std::lock_guard<std::mutex> g(seen.mu);
    seen.arena_used = weft_arena_used(weft_server_call_arena(s->call));
  }
  weft_server_call_finish(s->call, code);
  // The call may be gone from here on; s is ours until the last callback.
}

void sum_give_up(weft_server_call *call, void *ud) {
  auto *s = static_cast<Sum *>(ud);
  s->finished = true;
  weft_server_call_finish(call, WEFT_STATUS_CANCELLED);
}

void sum_on_cancel(weft_server_call *call, void *ud) {
  auto *s = static_cast<Sum *>(ud);
  {
    std::lock_guard<std::mutex> g(seen.mu);
    seen.cancels++;
  }
  if (s->mode == "cancel") {
    std::lock_guard<std::mutex> g(s->cmu);
    s->cancel_seen = true;
    if (!s->error_seen) { // the read's turn; a timer in case it never comes
      weft_server_call_after(call, 5000, sum_give_up, s);
      return;
    }
  }
  s->finished = true;
  weft_server_call_finish(call, WEFT_STATUS_CANCELLED);
}

void sum_read(weft_server_call *call, void *msg, int status, void *ud) {
  auto *s = static_cast<Sum *>(ud);
  // The call is valid during a callback (ASan would see it otherwise).
  EXPECT_NE(weft_server_call_method(call), nullptr);
  if (s->finished) {
    std::lock_guard<std::mutex> g(seen.mu);
    seen.late_callbacks++;
  }
  if (status == 1) {
    auto *req = static_cast<weft__test__EchoRequest *>(msg);
    s->sum += req->repeat;
    if (s->count++ == 0) {
      std::lock_guard<std::mutex> g(seen.mu);
      seen.first_msgs++;
    }
    weft_message_free(msg); // the handler's: memory stays flat
    int rv = weft_server_call_read(call, sum_read, s);
    if (rv < 0) {
      ADD_FAILURE() << "read: " << weft_strerror(rv);
      sum_finish(s, WEFT_STATUS_INTERNAL);
    }
    return;
  }
  if (status == 0 && s->mode != "cancel") {
    if (s->mode == "again" && !s->ended_once) {
      s->ended_once = true; // reading on: the next callback says end again
      EXPECT_EQ(weft_server_call_read(call, sum_read, s), 0);
      return;
    }
    if (s->mode == "again") {
      std::lock_guard<std::mutex> g(seen.mu);
      seen.after_end = status;
    }
    s->resp->index = (int32_t)s->sum;
    s->resp->payload.len = 0;
    sum_finish(s, WEFT_STATUS_OK);
    return;
  }
  {
    std::lock_guard<std::mutex> g(seen.mu);
    seen.read_errors++;
    seen.last_error = status;
  }
  if (s->mode == "cancel") {
    std::lock_guard<std::mutex> g(s->cmu);
    s->error_seen = true;
    if (!s->cancel_seen)
      return; // on_cancel finishes
  }
  sum_finish(s, WEFT_STATUS_CANCELLED);
}

// ClientStream: sums `repeat` of every request into index. x-mode "block"
// reads with the blocking recv_owned instead (never detached); "again"
// reads once more after the end; "twice" starts a second read while the
// first is outstanding.
int client_stream(weft_server_call *call, weft__test__EchoResponse *resp,
                  void *) {
  std::string mode = mode_of(call);
  if (mode == "block") {
    int rv = weft_server_call_read(call, sum_read, nullptr);
    {
      std::lock_guard<std::mutex> g(seen.mu);
      seen.sync_read = rv;
    }
    int64_t sum = 0;
    weft__test__EchoRequest *m = nullptr;
    while ((rv = weft__test__Echo_client_stream_recv_owned(call, &m)) == 1) {
      sum += m->repeat;
      weft_message_free(m);
    }
    if (rv < 0)
      return WEFT_STATUS_CANCELLED;
    resp->index = (int32_t)sum;
    return WEFT_STATUS_OK;
  }
  EXPECT_EQ(weft_server_call_detach(call), 0);
  auto *s = new Sum;
  s->call = call;
  s->resp = resp;
  s->mode = mode;
  // Kept until the process exits (the server is freed by then): a
  // callback may still use one briefly after the finish.
  {
    static std::mutex lmu;
    static std::vector<std::unique_ptr<Sum>> all;
    std::lock_guard<std::mutex> g(lmu);
    all.emplace_back(s);
  }
  weft_server_call_on_cancel(call, sum_on_cancel, s);
  EXPECT_EQ(weft_server_call_read(call, sum_read, s), 0);
  if (mode == "twice") {
    int rv = weft_server_call_read(call, sum_read, s);
    std::lock_guard<std::mutex> g(seen.mu);
    seen.second_read = rv;
  }
  return WEFT_STATUS_OK;
}

// Bidi: echoes every request (text, index = repeat) as it is read.
struct Echoer {
  int unused;
};

void bidi_read(weft_server_call *call, void *msg, int status, void *ud) {
  auto *e = static_cast<Echoer *>(ud);
  if (status == 1) {
    auto *req = static_cast<weft__test__EchoRequest *>(msg);
    weft__test__EchoResponse r = weft__test__EchoResponse_INIT;
    r.text = req->text;
    r.index = req->repeat;
    int rv = weft__test__Echo_bidi_send(call, &r);
    weft_message_free(msg);
    if (rv == 0 && weft_server_call_read(call, bidi_read, e) == 0)
      return;
    weft_server_call_finish(call, WEFT_STATUS_CANCELLED);
    return;
  }
  weft_server_call_finish(call,
                          status == 0 ? WEFT_STATUS_OK : WEFT_STATUS_CANCELLED);
}

int bidi(weft_server_call *call, void *) {
  EXPECT_EQ(weft_server_call_detach(call), 0);
  static Echoer e; // stateless
  EXPECT_EQ(weft_server_call_read(call, bidi_read, &e), 0);
  return WEFT_STATUS_OK;
}

int unary(weft_server_call *call, const weft__test__EchoRequest *,
          weft__test__EchoResponse *, void *) {
  // Detached unary call: the runtime read its request, a read says end.
  EXPECT_EQ(weft_server_call_detach(call), 0);
  EXPECT_EQ(weft_server_call_read(
                call,
                [](weft_server_call *c, void *m, int st, void *) {
                  EXPECT_EQ(m, nullptr);
                  weft_server_call_finish(c, st == 0 ? WEFT_STATUS_OK
                                                     : WEFT_STATUS_INTERNAL);
                },
                nullptr),
            0);
  return WEFT_STATUS_OK;
}

int server_stream(weft_server_call *, const weft__test__EchoRequest *, void *) {
  return WEFT_STATUS_UNIMPLEMENTED;
}

const weft__test__Echo_impl impl = {unary, server_stream, client_stream, bidi};

class AsyncRead : public ::testing::TestWithParam<std::string> {
protected:
  static weft_server *srv;
  static std::vector<std::string> urls;

  static void SetUpTestSuite() {
    weft_server_opts so;
    memset(&so, 0, sizeof so);
    so.worker_threads = 2;
    so.shutdown_grace_ms = 2000;
    so.max_msgs_per_sec = 100000000;
    ASSERT_EQ(weft_server_new(&srv, &so), 0);
    ASSERT_EQ(
        weft_server_add_service(srv, &weft__test__Echo_service, &impl, nullptr),
        0);
    urls = weft_test_listen_all(srv);
  }
  static void TearDownTestSuite() {
    weft_server_free(srv);
    srv = nullptr;
    urls.clear();
  }
  void SetUp() override {
    std::lock_guard<std::mutex> g(seen.mu);
    seen.first_msgs = 0;
    seen.second_read = 1;
    seen.sync_read = 1;
    seen.cancels = 0;
    seen.read_errors = 0;
    seen.last_error = 0;
    seen.after_end = -9;
    seen.late_callbacks = 0;
    seen.arena_used = 0;
  }
  std::string url() {
    return weft_test_url(urls, GetParam());
  }
  weft_client *open() {
    weft_client *c = nullptr;
    EXPECT_EQ(weft_client_open(&c, url().c_str(), nullptr, NULL), 0) << url();
    return c;
  }
  // Sends n requests with repeat = i % 7 and closes; returns the sum the
  // server answered (or -1).
  int64_t sum_stream(weft_client *c, int n, const char *mode = nullptr,
                     int64_t *want = nullptr) {
    Opts o(mode);
    weft_call *call = nullptr;
    EXPECT_EQ(weft__test__Echo_client_stream(c, &call, &o.o), 0);
    if (!call)
      return -1;
    int64_t w = 0;
    for (int i = 0; i < n; i++) {
      weft__test__EchoRequest r = weft__test__EchoRequest_INIT;
      r.repeat = i % 7;
      w += r.repeat;
      if (weft__test__Echo_client_stream_write(call, &r) < 0)
        break;
    }
    EXPECT_EQ(weft_call_close_send(call), 0);
    void *m = nullptr;
    int rv = weft_call_recv(call, &m);
    int64_t got = -1;
    if (rv == 1) {
      got = static_cast<weft__test__EchoResponse *>(m)->index;
      weft_message_free(m);
    }
    EXPECT_EQ(weft_call_finish(call), 0) << o.msg();
    if (want)
      *want = w;
    return got;
  }
};
weft_server *AsyncRead::srv;
std::vector<std::string> AsyncRead::urls;

// 10,000 messages summed by a detached handler, one read at a time.
TEST_P(AsyncRead, ClientStreamSum) {
  weft_client *c = open();
  int64_t want = 0;
  EXPECT_EQ(sum_stream(c, 10000, nullptr, &want), want);
  weft_client_close(c);
}

// 200 client streams open at once on a 2-worker server: each sends one
// message and waits until the server saw the first message of every
// stream (blocked readers would hold both workers and stall at 2), then
// finishes; every sum arrives.
TEST_P(AsyncRead, ManyStreamsTwoWorkers) {
  const int N = 200;
  std::vector<weft_client *> cs;
  for (int i = 0; i < 4; i++)
    cs.push_back(open());
  std::vector<Opts> os(N);
  std::vector<weft_call *> calls(N, nullptr);
  for (int i = 0; i < N; i++) {
    ASSERT_EQ(weft__test__Echo_client_stream(cs[i % 4], &calls[i], &os[i].o),
              0);
    weft__test__EchoRequest r = weft__test__EchoRequest_INIT;
    r.repeat = i;
    ASSERT_EQ(weft__test__Echo_client_stream_write(calls[i], &r), 0);
  }
  EXPECT_TRUE(weft_test_wait_for([] {
    std::lock_guard<std::mutex> g(seen.mu);
    return seen.first_msgs == N;
  })) << "only "
      << seen.first_msgs << " of " << N << " streams were read";
  for (int i = 0; i < N; i++) {
    weft__test__EchoRequest r = weft__test__EchoRequest_INIT;
    r.repeat = 1;
    EXPECT_EQ(weft__test__Echo_client_stream_write(calls[i], &r), 0);
    EXPECT_EQ(weft_call_close_send(calls[i]), 0);
  }
  for (int i = 0; i < N; i++) {
    void *m = nullptr;
    ASSERT_EQ(weft_call_recv(calls[i], &m), 1) << i << ": " << os[i].msg();
    EXPECT_EQ(static_cast<weft__test__EchoResponse *>(m)->index, i + 1);
    weft_message_free(m);
    EXPECT_EQ(weft_call_finish(calls[i]), 0) << os[i].msg();
  }
  for (auto *c : cs)
    weft_client_close(c);
}

// Detached bidi: every message echoed as it is read, in order.
TEST_P(AsyncRead, BidiEcho) {
  weft_client *c = open();
  Opts o;
  weft_call *call = nullptr;
  ASSERT_EQ(weft__test__Echo_bidi(c, &call, &o.o), 0);
  for (int i = 0; i < 500; i++) {
    weft__test__EchoRequest r = weft__test__EchoRequest_INIT;
    std::string t = "m" + std::to_string(i);
    r.text = (char *)t.c_str();
    r.repeat = i;
    ASSERT_EQ(weft__test__Echo_bidi_write(call, &r), 0);
    if (i % 50 == 49) { // read the replies so far: a real conversation
      for (int j = i - 49; j <= i; j++) {
        weft__test__EchoResponse *m = nullptr;
        ASSERT_EQ(weft__test__Echo_bidi_read(call, &m), 1) << o.msg();
        EXPECT_EQ(m->index, j);
        EXPECT_EQ(std::string(m->text), "m" + std::to_string(j));
        weft_message_free(m);
      }
    }
  }
  ASSERT_EQ(weft_call_close_send(call), 0);
  void *m = nullptr;
  EXPECT_EQ(weft_call_recv(call, &m), 0);
  EXPECT_EQ(weft_call_finish(call), 0) << o.msg();
  weft_client_close(c);
}

// A read after the end of the stream says end again.
TEST_P(AsyncRead, ReadAfterEnd) {
  weft_client *c = open();
  int64_t want = 0;
  EXPECT_EQ(sum_stream(c, 3, "again", &want), want);
  std::lock_guard<std::mutex> g(seen.mu);
  EXPECT_EQ(seen.after_end, 0);
  weft_client_close(c);
}

// A second read while one is outstanding is refused; the first proceeds.
TEST_P(AsyncRead, SecondReadRefused) {
  weft_client *c = open();
  int64_t want = 0;
  EXPECT_EQ(sum_stream(c, 5, "twice", &want), want);
  std::lock_guard<std::mutex> g(seen.mu);
  EXPECT_EQ(seen.second_read, WEFT_ERR_STATE);
  weft_client_close(c);
}

// The client cancels with a read outstanding: the read ends with
// WEFT_ERR_CANCELLED, never as the end of the stream (gRPC core completes
// the outstanding receive empty, as for a client's half-close, and may say
// the call was cancelled only afterwards), on_cancel fires (the handler
// finishes once it saw both), and no read callback runs on the finished
// call. Several rounds: the order of those completions varies.
TEST_P(AsyncRead, ClientCancel) {
  weft_client *c = open();
  for (int round = 0; round < 20; round++) {
    SCOPED_TRACE("round " + std::to_string(round));
    SetUp();
    Opts o("cancel");
    weft_call *call = nullptr;
    ASSERT_EQ(weft__test__Echo_client_stream(c, &call, &o.o), 0);
    weft__test__EchoRequest r = weft__test__EchoRequest_INIT;
    r.repeat = 1;
    ASSERT_EQ(weft__test__Echo_client_stream_write(call, &r), 0);
    ASSERT_TRUE(weft_test_wait_for([] {
      std::lock_guard<std::mutex> g(seen.mu);
      return seen.first_msgs == 1;
    }));
    weft_call_cancel(call);
    weft_call_finish(call);
    EXPECT_TRUE(weft_test_wait_for([] {
      std::lock_guard<std::mutex> g(seen.mu);
      return seen.cancels == 1 && seen.read_errors == 1;
    })) << "on_cancel and the failed read were not both seen";
    if (round == 0)
      usleep(50000); // a late read callback would show here
    std::lock_guard<std::mutex> g(seen.mu);
    EXPECT_EQ(seen.cancels, 1);
    EXPECT_EQ(seen.read_errors, 1);
    EXPECT_EQ(seen.last_error, WEFT_ERR_CANCELLED)
        << weft_strerror(seen.last_error);
    EXPECT_EQ(seen.late_callbacks, 0);
    if (HasFailure())
      break;
  }
  weft_client_close(c);
}

// 100,000 messages read asynchronously: each is the handler's and freed,
// so the call's arena is as small at the end as after 10 messages.
TEST_P(AsyncRead, MemoryFlat) {
  weft_client *c = open();
  int64_t want = 0;
  EXPECT_EQ(sum_stream(c, 10, nullptr, &want), want);
  size_t small;
  {
    std::lock_guard<std::mutex> g(seen.mu);
    small = seen.arena_used;
  }
  EXPECT_EQ(sum_stream(c, 100000, nullptr, &want), want);
  std::lock_guard<std::mutex> g(seen.mu);
  EXPECT_EQ(seen.arena_used, small) << "the call's arena grew";
  weft_client_close(c);
}

// Blocking handlers still read with weft_server_call_recv(_owned); a read
// on a call that is not detached is refused.
TEST_P(AsyncRead, BlockingRecvUnchanged) {
  weft_client *c = open();
  int64_t want = 0;
  EXPECT_EQ(sum_stream(c, 1000, "block", &want), want);
  std::lock_guard<std::mutex> g(seen.mu);
  EXPECT_EQ(seen.sync_read, WEFT_ERR_STATE);
  weft_client_close(c);
}

// A detached unary call: the request was read by the runtime, a read ends.
TEST_P(AsyncRead, UnaryReadIsEnd) {
  weft_client *c = open();
  Opts o;
  weft__test__EchoRequest req = weft__test__EchoRequest_INIT;
  weft__test__EchoResponse *resp = nullptr;
  EXPECT_EQ(weft__test__Echo_unary(c, &req, &resp, &o.o), 0) << o.msg();
  weft__test__EchoResponse_free(resp);
  weft_client_close(c);
}

INSTANTIATE_TEST_SUITE_P(AllTransports, AsyncRead,
                         ::testing::ValuesIn(weft_test_schemes()),
                         [](const auto &i) { return i.param; });

} // namespace
