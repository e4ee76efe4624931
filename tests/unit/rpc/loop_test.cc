// The epoll loop: timers (order, repeat, cancel, cancel from inside), fds,
// cross-thread posts and stop.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

extern "C" {
#include "weft/loop.h"
#include "weft/transport.h"
}

namespace {

struct Loop {
  weft_loop *l = nullptr;
  Loop() {
    EXPECT_EQ(weft_loop_new(&l), 0);
  }
  ~Loop() {
    weft_loop_free(l);
  }
};

TEST(Loop, NewFree) {
  Loop lp;
  EXPECT_FALSE(weft_loop_in_thread(lp.l));
  weft_loop_free(nullptr);
}

TEST(Loop, TimersFireInDueOrder) {
  Loop lp;
  static std::vector<int> order;
  order.clear();
  auto fn = [](weft_loop *l, weft_timer *, void *ud) {
    order.push_back((int)(intptr_t)ud);
    if (order.size() == 4)
      weft_loop_stop(l);
  };
  weft_loop_timer(lp.l, 30, 0, fn, (void *)3);
  weft_loop_timer(lp.l, 10, 0, fn, (void *)1);
  weft_loop_timer(lp.l, 20, 0, fn, (void *)2);
  weft_loop_timer(lp.l, 20, 0, fn, (void *)22); // same due: insertion order
  EXPECT_EQ(weft_loop_run(lp.l), 0);
  ASSERT_EQ(order.size(), 4u);
  EXPECT_EQ(order[0], 1);
  EXPECT_EQ(order[1], 2);
  EXPECT_EQ(order[2], 22);
  EXPECT_EQ(order[3], 3);
}

TEST(Loop, RepeatingTimerAndCancelFromInside) {
  Loop lp;
  static int n;
  n = 0;
  auto fn = [](weft_loop *l, weft_timer *t, void *) {
    if (++n == 5) {
      weft_timer_cancel(l, t); // freed by the loop after we return
      weft_loop_stop(l);
    }
  };
  ASSERT_NE(weft_loop_timer(lp.l, 1, 1, fn, nullptr), nullptr);
  weft_loop_run(lp.l);
  EXPECT_EQ(n, 5);
}

// Delays far in the future are clamped, not overflowed into the past (a
// wrapped due time would fire at once; UBSan aborts on the overflow).
TEST(Loop, FarFutureTimersNeitherOverflowNorFire) {
  Loop lp;
  static bool fired;
  fired = false;
  auto bad = [](weft_loop *, weft_timer *, void *) { fired = true; };
  auto stop = [](weft_loop *l, weft_timer *, void *) { weft_loop_stop(l); };
  weft_timer *far = weft_loop_timer(lp.l, INT64_MAX, INT64_MAX, bad, nullptr);
  ASSERT_NE(far, nullptr);
  ASSERT_NE(weft_loop_timer(lp.l, INT64_MAX / 1000, 0, bad, nullptr), nullptr);
  weft_loop_timer(lp.l, 20, 0, stop, nullptr);
  EXPECT_EQ(weft_loop_run(lp.l), 0);
  EXPECT_FALSE(fired);
  weft_timer_cancel(lp.l, far);
}

TEST(Loop, CancelledTimerNeverFires) {
  Loop lp;
  static bool fired;
  fired = false;
  auto bad = [](weft_loop *, weft_timer *, void *) { fired = true; };
  auto stop = [](weft_loop *l, weft_timer *, void *) { weft_loop_stop(l); };
  std::vector<weft_timer *> ts;
  for (int i = 0; i < 100; i++)
    ts.push_back(weft_loop_timer(lp.l, 5 + i % 7, 0, bad, nullptr));
  for (auto *t : ts)
    weft_timer_cancel(lp.l, t);
  weft_loop_timer(lp.l, 30, 0, stop, nullptr);
  weft_loop_run(lp.l);
  EXPECT_FALSE(fired);
}

TEST(Loop, HeapKeepsOrderUnderRandomCancels) {
  Loop lp;
  static std::vector<int64_t> fired_at;
  fired_at.clear();
  auto fn = [](weft_loop *, weft_timer *, void *ud) {
    fired_at.push_back((int64_t)(intptr_t)ud);
  };
  auto stop = [](weft_loop *l, weft_timer *, void *) { weft_loop_stop(l); };
  std::vector<weft_timer *> ts;
  unsigned seed = 7;
  for (int i = 0; i < 200; i++) {
    seed = seed * 1103515245u + 12345u;
    int after = (int)((seed >> 16) % 40);
    ts.push_back(weft_loop_timer(lp.l, after, 0, fn, (void *)(intptr_t)after));
  }
  for (size_t i = 0; i < ts.size(); i += 3)
    weft_timer_cancel(lp.l, ts[i]);
  weft_loop_timer(lp.l, 60, 0, stop, nullptr);
  weft_loop_run(lp.l);
  EXPECT_EQ(fired_at.size(), 200u - 67u);
  for (size_t i = 1; i < fired_at.size(); i++)
    EXPECT_LE(fired_at[i - 1], fired_at[i]);
}

TEST(Loop, PostFromOtherThreadsRunsOnLoopThread) {
  Loop lp;
  ASSERT_EQ(weft_loop_start(lp.l), 0);
  struct Ctx {
    weft_loop *l;
    std::atomic<int> n{0};
    std::atomic<int> wrong_thread{0};
  } ctx;
  ctx.l = lp.l;
  auto fn = [](void *ud) {
    auto *c = (Ctx *)ud;
    if (!weft_loop_in_thread(c->l))
      c->wrong_thread++;
    c->n++;
  };
  std::vector<std::thread> th;
  for (int t = 0; t < 4; t++)
    th.emplace_back([&] {
      for (int i = 0; i < 1000; i++)
        ASSERT_EQ(weft_loop_post(lp.l, fn, &ctx), 0);
    });
  for (auto &t : th)
    t.join();
  while (ctx.n.load() < 4000)
    usleep(1000);
  weft_loop_stop(lp.l);
  EXPECT_EQ(ctx.n.load(), 4000);
  EXPECT_EQ(ctx.wrong_thread.load(), 0);
}

TEST(Loop, PostsBeforeStopStillRun) {
  Loop lp;
  static int n;
  n = 0;
  auto fn = [](void *) { n++; };
  for (int i = 0; i < 10; i++)
    weft_loop_post(lp.l, fn, nullptr);
  weft_loop_stop(lp.l); // sticky: the run below drains and returns
  weft_loop_run(lp.l);
  EXPECT_EQ(n, 10);
}

// Work posted to a loop that never runs it (never started, or posted after
// the stop's drain) runs in weft_loop_free, on the freeing thread as the
// loop's: each job frees its ud (ASan sees a leak otherwise), and a job's
// own post runs too.
struct FreeJob {
  weft_loop *l;
  int *ran;
  bool repost;
  bool in_thread = false;
};
void free_job(void *ud) {
  auto *j = static_cast<FreeJob *>(ud);
  ++*j->ran;
  j->in_thread = weft_loop_in_thread(j->l);
  EXPECT_TRUE(j->in_thread);
  if (j->repost)
    EXPECT_EQ(weft_loop_post(j->l, free_job, new FreeJob{j->l, j->ran, false}),
              0);
  delete j;
}

TEST(Loop, FreeRunsPostsNeverRun) {
  int ran = 0;
  weft_loop *l = nullptr;
  ASSERT_EQ(weft_loop_new(&l), 0);
  for (int i = 0; i < 3; i++)
    ASSERT_EQ(weft_loop_post(l, free_job, new FreeJob{l, &ran, i == 0}), 0);
  weft_loop_free(l);
  EXPECT_EQ(ran, 4);

  // Started and stopped: a post after the stop's drain.
  ran = 0;
  ASSERT_EQ(weft_loop_new(&l), 0);
  ASSERT_EQ(weft_loop_start(l), 0);
  weft_loop_stop(l);
  ASSERT_EQ(weft_loop_post(l, free_job, new FreeJob{l, &ran, false}), 0);
  weft_loop_free(l);
  EXPECT_EQ(ran, 1);
}

// A job that posts itself again and again cannot keep weft_loop_free
// running: past its bound, the post is refused and the poster keeps ud.
struct Repost {
  weft_loop *l = nullptr;
  int runs = 0, refused = 0;
};
void repost(void *ud) {
  auto *r = static_cast<Repost *>(ud);
  r->runs++;
  int rv = weft_loop_post(r->l, repost, r);
  if (rv < 0) {
    EXPECT_EQ(rv, WEFT_ERR_STATE);
    r->refused++;
  }
}

TEST(Loop, FreeRefusesPostsPastItsLastRound) {
  Repost r;
  ASSERT_EQ(weft_loop_new(&r.l), 0);
  ASSERT_EQ(weft_loop_post(r.l, repost, &r), 0);
  weft_loop_free(r.l);
  EXPECT_GT(r.runs, 1);
  EXPECT_EQ(r.refused, 1);
}

TEST(Loop, FdReadWriteAndDelete) {
  Loop lp;
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  struct Ctx {
    int rfd, wfd;
    int got = 0;
    bool wrote = false;
  } ctx{p[0], p[1]};
  auto on_read = [](weft_loop *l, int fd, unsigned ev, void *ud) {
    auto *c = (Ctx *)ud;
    ASSERT_TRUE(ev & WEFT_IO_READ);
    char buf[16];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0)
      c->got += (int)n;
    if (n == 0) { // writer closed: EOF
      weft_loop_del_fd(l, fd);
      weft_loop_stop(l);
    }
  };
  auto on_write = [](weft_loop *l, int fd, unsigned ev, void *ud) {
    auto *c = (Ctx *)ud;
    ASSERT_TRUE(ev & WEFT_IO_WRITE);
    ASSERT_EQ(write(fd, "hello", 5), 5);
    c->wrote = true;
    weft_loop_del_fd(l, fd);
    close(fd);
  };
  ASSERT_EQ(weft_loop_add_fd(lp.l, p[0], WEFT_IO_READ, on_read, &ctx), 0);
  ASSERT_EQ(weft_loop_add_fd(lp.l, p[1], WEFT_IO_WRITE, on_write, &ctx), 0);
  EXPECT_EQ(weft_loop_add_fd(lp.l, p[0], WEFT_IO_READ, on_read, &ctx),
            WEFT_ERR_STATE);
  weft_loop_run(lp.l);
  EXPECT_TRUE(ctx.wrote);
  EXPECT_EQ(ctx.got, 5);
  close(p[0]);
}

TEST(Loop, ModFdTogglesWriteInterest) {
  Loop lp;
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  static int writes;
  writes = 0;
  auto on_write = [](weft_loop *l, int fd, unsigned ev, void *) {
    if (ev & WEFT_IO_WRITE) {
      writes++;
      weft_loop_mod_fd(l, fd, 0); // stop asking; level-triggered otherwise
    }
  };
  auto stop = [](weft_loop *l, weft_timer *, void *) { weft_loop_stop(l); };
  ASSERT_EQ(weft_loop_add_fd(lp.l, p[1], WEFT_IO_WRITE, on_write, nullptr), 0);
  weft_loop_timer(lp.l, 30, 0, stop, nullptr);
  weft_loop_run(lp.l);
  EXPECT_EQ(writes, 1);
  weft_loop_del_fd(lp.l, p[1]);
  close(p[0]);
  close(p[1]);
}

TEST(Loop, StopFromOtherThreadJoins) {
  Loop lp;
  ASSERT_EQ(weft_loop_start(lp.l), 0);
  EXPECT_EQ(weft_loop_start(lp.l), WEFT_ERR_STATE);
  weft_loop_stop(lp.l);
  // Restartable after a stop.
  ASSERT_EQ(weft_loop_start(lp.l), 0);
  std::atomic<bool> ran{false};
  weft_loop_post(
      lp.l, [](void *ud) { ((std::atomic<bool> *)ud)->store(true); }, &ran);
  while (!ran.load())
    usleep(1000);
  // weft_loop_free stops and joins.
}

TEST(Loop, StopFromInsideOwnThread) {
  Loop lp;
  ASSERT_EQ(weft_loop_start(lp.l), 0);
  static std::atomic<bool> done;
  done = false;
  weft_loop_post(
      lp.l,
      [](void *ud) {
        weft_loop_stop((weft_loop *)ud); // cannot join itself: only flags
        done = true;
      },
      lp.l);
  while (!done.load())
    usleep(1000);
  // weft_loop_free joins the exited thread.
}

} // namespace
