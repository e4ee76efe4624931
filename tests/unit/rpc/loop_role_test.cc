// Who runs a loop (loop_role.c): server loops deferring work to the thread
// that ran the round, with a standby taking over from work that blocks;
// client loops driven by the caller that waits.
#include <gtest/gtest.h>
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

extern "C" {
#include "weft/error.h"
#include "weft/loop.h"
#include "weft/transport.h"
}

namespace {

using Clock = std::chrono::steady_clock;

struct Loop {
  weft_loop *l = nullptr;
  Loop() {
    EXPECT_EQ(weft_loop_new(&l), 0);
  }
  ~Loop() {
    weft_loop_free(l);
  }
};

// Runs fn on the loop thread and waits for it.
template <class F> void on_loop(weft_loop *l, F fn) {
  struct Ctx {
    F *fn;
    std::atomic<bool> done{false};
  } ctx{&fn};
  ASSERT_EQ(weft_loop_post(
                l,
                [](void *ud) {
                  auto *c = (Ctx *)ud;
                  (*c->fn)();
                  c->done = true;
                },
                &ctx),
            0);
  while (!ctx.done.load())
    usleep(200);
}

template <class P> bool wait_for(P pred, int ms = 5000) {
  auto until = Clock::now() + std::chrono::milliseconds(ms);
  while (!pred()) {
    if (Clock::now() > until)
      return false;
    usleep(200);
  }
  return true;
}

TEST(LoopRole, DeferNeedsAStandby) {
  Loop lp;
  ASSERT_EQ(weft_loop_start(lp.l), 0);
  int rc = 1;
  on_loop(lp.l, [&] {
    rc = weft_loop_defer(
        lp.l, [](void *) {}, [](void *) {}, nullptr);
  });
  EXPECT_EQ(rc, WEFT_ERR_STATE);
  // Not from outside the loop either.
  EXPECT_EQ(weft_loop_defer(
                lp.l, [](void *) {}, [](void *) {}, nullptr),
            WEFT_ERR_INVAL);
  EXPECT_EQ(weft_loop_set_standby(lp.l, 1), WEFT_ERR_STATE); // started
}

struct Deferred {
  weft_loop *l;
  std::atomic<int> ran{0}, rerouted{0}, on_loop_thread{0};
  std::atomic<bool> release{false};
  pthread_t round_thread{}, run_thread{};
};

TEST(LoopRole, DeferredWorkRunsOutsideTheLoopOnTheRoundsThread) {
  Loop lp;
  ASSERT_EQ(weft_loop_set_standby(lp.l, 1), 0);
  ASSERT_EQ(weft_loop_start(lp.l), 0);
  Deferred d;
  d.l = lp.l;
  // The standby parks right after start; give it a moment.
  int rc = WEFT_ERR_STATE;
  for (int i = 0; i < 100 && rc != 0; i++) {
    on_loop(lp.l, [&] {
      d.round_thread = pthread_self();
      rc = weft_loop_defer(
          lp.l,
          [](void *ud) {
            auto *x = (Deferred *)ud;
            if (weft_loop_in_thread(x->l))
              x->on_loop_thread++;
            x->run_thread = pthread_self();
            x->ran++;
          },
          [](void *ud) { ((Deferred *)ud)->rerouted++; }, &d);
    });
    if (rc != 0)
      usleep(1000);
  }
  ASSERT_EQ(rc, 0);
  ASSERT_TRUE(wait_for([&] { return d.ran.load() == 1; }));
  EXPECT_EQ(d.on_loop_thread.load(), 0);
  EXPECT_TRUE(pthread_equal(d.run_thread, d.round_thread));
  EXPECT_EQ(d.rerouted.load(), 0);
}

TEST(LoopRole, BlockingWorkHandsTheLoopAndTheRestOfTheBatchOver) {
  Loop lp;
  ASSERT_EQ(weft_loop_set_standby(lp.l, 1), 0);
  ASSERT_EQ(weft_loop_start(lp.l), 0);
  Deferred d;
  d.l = lp.l;
  auto block = [](void *ud) {
    auto *x = (Deferred *)ud;
    x->ran++;
    while (!x->release.load())
      usleep(500);
  };
  auto quick = [](void *ud) { ((Deferred *)ud)->ran++; };
  auto reroute = [](void *ud) { ((Deferred *)ud)->rerouted++; };
  int rc = WEFT_ERR_STATE;
  for (int i = 0; i < 100 && rc != 0; i++) {
    on_loop(lp.l, [&] {
      rc = weft_loop_defer(lp.l, block, reroute, &d);
      if (rc == 0) {
        EXPECT_EQ(weft_loop_defer(lp.l, quick, reroute, &d), 0);
        EXPECT_EQ(weft_loop_defer(lp.l, quick, reroute, &d), 0);
      }
    });
    if (rc != 0)
      usleep(1000);
  }
  ASSERT_EQ(rc, 0);
  // The first item blocks; the loop must still serve posts, and the two
  // items behind it go back to their owner instead of waiting.
  std::atomic<bool> served{false};
  ASSERT_EQ(weft_loop_post(
                lp.l, [](void *ud) { ((std::atomic<bool> *)ud)->store(true); },
                &served),
            0);
  EXPECT_TRUE(wait_for([&] { return served.load(); }, 3000));
  EXPECT_TRUE(wait_for([&] { return d.rerouted.load() == 2; }, 3000));
  EXPECT_EQ(d.ran.load(), 1);
  d.release = true;
  // The old holder parks; the loop goes on with the standby as holder.
  std::atomic<bool> again{false};
  ASSERT_TRUE(wait_for([&] { return d.ran.load() == 1; }));
  weft_loop_post(
      lp.l, [](void *ud) { ((std::atomic<bool> *)ud)->store(true); }, &again);
  EXPECT_TRUE(wait_for([&] { return again.load(); }));
}

TEST(LoopRole, StopWhileWorkIsAwayJoinsEverything) {
  Deferred d;
  {
    Loop lp;
    ASSERT_EQ(weft_loop_set_standby(lp.l, 1), 0);
    ASSERT_EQ(weft_loop_start(lp.l), 0);
    d.l = lp.l;
    int rc = WEFT_ERR_STATE;
    for (int i = 0; i < 100 && rc != 0; i++) {
      on_loop(lp.l, [&] {
        rc = weft_loop_defer(
            lp.l,
            [](void *ud) {
              auto *x = (Deferred *)ud;
              usleep(20000);
              x->ran++;
            },
            [](void *ud) { ((Deferred *)ud)->rerouted++; }, &d);
      });
      if (rc != 0)
        usleep(1000);
    }
    ASSERT_EQ(rc, 0);
    usleep(2000);
  } // weft_loop_free: stops, joins the thread running the work too
  EXPECT_EQ(d.ran.load(), 1);
}

// ---- client loops driven by their callers ----

struct Pipe {
  int fd[2];
  Pipe() {
    EXPECT_EQ(pipe(fd), 0);
  }
  ~Pipe() {
    close(fd[0]);
    close(fd[1]);
  }
};

struct Reader {
  std::atomic<int> got{0};
  std::atomic<bool> seen_on_caller{false};
  pthread_t caller{};
};

static void on_read(weft_loop *, int fd, unsigned, void *ud) {
  auto *r = (Reader *)ud;
  char buf[64];
  ssize_t n = read(fd, buf, sizeof buf);
  if (n > 0)
    r->got += (int)n;
  if (pthread_equal(pthread_self(), r->caller))
    r->seen_on_caller = true;
}

TEST(LoopRole, WaitingCallerRunsTheRoundsItself) {
  Loop lp;
  Pipe p;
  Reader r;
  r.caller = pthread_self();
  ASSERT_EQ(weft_loop_add_fd(lp.l, p.fd[0], WEFT_IO_READ, on_read, &r), 0);
  ASSERT_EQ(weft_loop_set_drivable(lp.l), 0);
  ASSERT_EQ(weft_loop_start(lp.l), 0);
  int64_t deadline = weft_now_ns() + 5000000000LL;
  // Like a call: send, then wait for the answer by driving the loop.
  std::thread peer([&] {
    usleep(20000);
    ASSERT_EQ(write(p.fd[1], "abc", 3), 3);
  });
  while (r.got.load() < 3 && weft_now_ns() < deadline)
    ASSERT_GE(weft_loop_drive(lp.l, deadline), 0);
  weft_loop_undrive(lp.l, false);
  peer.join();
  EXPECT_EQ(r.got.load(), 3);
  EXPECT_TRUE(r.seen_on_caller.load());
  // Nobody drives now: the loop's own thread takes over again, for posts
  // (kicked at once) and for events (after the linger time).
  std::atomic<bool> ran{false};
  weft_loop_post(
      lp.l, [](void *ud) { ((std::atomic<bool> *)ud)->store(true); }, &ran);
  EXPECT_TRUE(wait_for([&] { return ran.load(); }, 3000));
  ASSERT_EQ(write(p.fd[1], "de", 2), 2);
  EXPECT_TRUE(wait_for([&] { return r.got.load() == 5; }, 3000));
  weft_loop_del_fd(lp.l, p.fd[0]); // loop thread state: stop first
}

TEST(LoopRole, SecondCallerWaitsByOtherMeansAndWakeReachesTheDriver) {
  Loop lp;
  ASSERT_EQ(weft_loop_set_drivable(lp.l), 0);
  ASSERT_EQ(weft_loop_start(lp.l), 0);
  int64_t deadline = weft_now_ns() + 5000000000LL;
  ASSERT_EQ(weft_loop_drive(lp.l, deadline), 1); // takes the loop
  std::atomic<int> other{-1};
  std::thread t([&] { other = weft_loop_drive(lp.l, deadline); });
  t.join();
  EXPECT_EQ(other.load(), 0); // someone else holds it
  // A round with no deadline returns when another thread wakes the loop.
  std::thread waker([&] {
    usleep(20000);
    weft_loop_wake(lp.l);
  });
  auto t0 = Clock::now();
  EXPECT_EQ(weft_loop_drive(lp.l, INT64_MAX), 1);
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(4));
  waker.join();
  weft_loop_undrive(lp.l, true);
  // Released with others waiting: the loop's thread is back at once.
  std::atomic<bool> ran{false};
  weft_loop_post(
      lp.l, [](void *ud) { ((std::atomic<bool> *)ud)->store(true); }, &ran);
  EXPECT_TRUE(wait_for([&] { return ran.load(); }, 3000));
}

TEST(LoopRole, DriveIsRefusedInsideALoopCallback) {
  Loop lp;
  ASSERT_EQ(weft_loop_set_drivable(lp.l), 0);
  ASSERT_EQ(weft_loop_start(lp.l), 0);
  int rc = -99;
  on_loop(lp.l, [&] { rc = weft_loop_drive(lp.l, INT64_MAX); });
  EXPECT_EQ(rc, 0);
}

} // namespace
