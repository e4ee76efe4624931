// Deadlines of detached server calls, through a stub transport that hands
// the runtime calls directly (weft_server_dispatch) and never reports a
// message: what happens at the deadline is then the runtime's doing alone,
// not a client's cancel racing it.
// - an outstanding asynchronous read completes with WEFT_ERR_TIMEOUT,
//   exactly once, and later reads are refused (with or without on_cancel);
// - deadlines and timers take no thread of their own.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <mutex>

#include "thread_count.h"
#include "wait_for.h"

extern "C" {
#include "echo.weft.h"
#include "weft/server.h"
#include "weft/transport.h"
}

namespace {

// One call of the stub transport.
struct Stub {
  std::atomic<weft_server_call *> call{nullptr};
  std::atomic<int> want_reads{0}, recvs{0}, finishes{0}, code{-1};
};

int s_recv(void *tc, weft_arena *, void **msg) {
  static_cast<Stub *>(tc)->recvs++;
  *msg = nullptr;
  return WEFT_ERR_INTERNAL; // never readable: the runtime must not ask
}
int s_send(void *, const void *, const weft_metadata *) {
  return 0;
}
int s_finish(void *tc, const weft_status *st, const weft_metadata *,
             const weft_metadata *) {
  auto *s = static_cast<Stub *>(tc);
  s->code = st->code;
  s->finishes++;
  return 0;
}
bool s_cancelled(void *) {
  return false;
}
void s_bind(void *tc, weft_server_call *call) {
  static_cast<Stub *>(tc)->call = call;
}
int s_want_read(void *tc, weft_server_call *) {
  static_cast<Stub *>(tc)->want_reads++;
  return 0;
}
const weft_server_call_ops stub_ops = {s_recv,      s_send,  s_finish,
                                       s_cancelled, nullptr, nullptr,
                                       s_bind,      nullptr, s_want_read};

// What the handler saw.
struct Seen {
  std::atomic<int> reads{0}, status{1}, again{1}, cancels{0};
  std::atomic<int64_t> late_ns{
      0}; // the latest read callback after its deadline
  std::atomic<bool> with_on_cancel{false};
};
Seen seen;

void on_read(weft_server_call *call, void *msg, int status, void *) {
  int64_t late = weft_now_ns() - weft_server_call_deadline(call);
  for (int64_t was = seen.late_ns.load();
       late > was && !seen.late_ns.compare_exchange_weak(was, late);) {
  }
  if (msg)
    weft_message_free(msg);
  seen.status = status;
  seen.again = weft_server_call_read(
      call, [](weft_server_call *, void *, int, void *) { seen.reads++; },
      nullptr);
  // A transport that reports the stream readable now posts nothing.
  weft_server_notify_readable(call);
  seen.reads++;
  weft_server_call_finish(call, WEFT_STATUS_CANCELLED);
}

int client_stream(weft_server_call *call, weft__test__EchoResponse *, void *) {
  EXPECT_EQ(weft_server_call_detach(call), 0);
  if (seen.with_on_cancel)
    weft_server_call_on_cancel(
        call, [](weft_server_call *, void *) { seen.cancels++; }, nullptr);
  // A timer still pending when the call ends: it never fires.
  EXPECT_EQ(weft_server_call_after(
                call, 60000,
                [](weft_server_call *, void *) { ADD_FAILURE() << "fired"; },
                nullptr),
            0);
  EXPECT_EQ(weft_server_call_read(call, on_read, nullptr), 0);
  return WEFT_STATUS_OK;
}

const weft__test__Echo_impl impl = {nullptr, nullptr, client_stream, nullptr};

class ServerDeadline : public ::testing::Test {
protected:
  weft_server *srv = nullptr;
  void SetUp() override {
    seen.reads = 0;
    seen.status = 1;
    seen.again = 1;
    seen.cancels = 0;
    seen.late_ns = 0;
    seen.with_on_cancel = false;
    weft_server_opts so;
    memset(&so, 0, sizeof so);
    so.worker_threads = 2;
    so.shutdown_grace_ms = 200;
    ASSERT_EQ(weft_server_new(&srv, &so), 0);
    ASSERT_EQ(
        weft_server_add_service(srv, &weft__test__Echo_service, &impl, nullptr),
        0);
  }
  void TearDown() override {
    weft_server_free(srv);
  }
  // Dispatches a client stream whose deadline is ms away.
  void Start(Stub *s, int64_t ms) {
    ASSERT_EQ(weft_server_dispatch(
                  srv, weft__test__Echo_service.methods[2].path, nullptr,
                  weft_now_ns() + ms * 1000000, "stub-peer", &stub_ops, s),
              0);
  }
};

// Nothing arrives and nobody listens for on_cancel: the read still ends at
// the deadline, once, with WEFT_ERR_TIMEOUT; a later read is refused with
// it, and the finish goes out as DEADLINE_EXCEEDED.
TEST_F(ServerDeadline, ReadEndsAtDeadline) {
  Stub s;
  Start(&s, 100);
  ASSERT_TRUE(weft_test_wait_for([&] { return s.finishes.load() == 1; }, 5000))
      << "the read outstanding at the deadline never completed";
  EXPECT_EQ(seen.status.load(), WEFT_ERR_TIMEOUT) << weft_strerror(seen.status);
  EXPECT_EQ(seen.again.load(), WEFT_ERR_TIMEOUT) << weft_strerror(seen.again);
  EXPECT_EQ(s.code.load(), WEFT_STATUS_DEADLINE_EXCEEDED);
  EXPECT_EQ(s.want_reads.load(), 1);
  usleep(50000); // a second callback would show here
  EXPECT_EQ(seen.reads.load(), 1);
  EXPECT_EQ(s.recvs.load(), 0);
  EXPECT_EQ(s.finishes.load(), 1);
}

// With on_cancel registered both fire, each once.
TEST_F(ServerDeadline, ReadEndsAndOnCancelFires) {
  seen.with_on_cancel = true;
  Stub s;
  Start(&s, 100);
  ASSERT_TRUE(weft_test_wait_for(
      [&] { return s.finishes.load() == 1 && seen.cancels.load() == 1; },
      5000));
  EXPECT_EQ(seen.status.load(), WEFT_ERR_TIMEOUT) << weft_strerror(seen.status);
  usleep(50000);
  EXPECT_EQ(seen.reads.load(), 1);
  EXPECT_EQ(seen.cancels.load(), 1);
}

// Ten calls with deadlines and a timer each: the server's thread
// count (its two workers) does not move while they are pending, and every
// read still ends at its deadline.
TEST_F(ServerDeadline, TimersTakeNoThread) {
  int before = weft_test_thread_count();
  Stub s[10];
  for (auto &x : s)
    Start(&x, 300);
  ASSERT_TRUE(weft_test_wait_for([&] {
    for (auto &x : s)
      if (x.want_reads.load() != 1)
        return false;
    return true;
  }));
  int during = weft_test_thread_count();
  ASSERT_TRUE(weft_test_wait_for([&] {
    for (auto &x : s)
      if (x.finishes.load() != 1)
        return false;
    return true;
  }));
  printf("threads: %d before, %d with 10 deadlines pending; the last read "
         "ended %.2f ms after its deadline\n",
         before, during, seen.late_ns.load() / 1e6);
  EXPECT_EQ(during, before) << "the deadlines started a thread";
  EXPECT_EQ(seen.reads.load(), 10);
  EXPECT_EQ(seen.status.load(), WEFT_ERR_TIMEOUT);
}

} // namespace
