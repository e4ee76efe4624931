// Backoff with seeded jitter, the circuit breaker's state machine, the
// bounded worker pool and its ticker, local error -> status mapping.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>

extern "C" {
#include "rpc_internal.h"
}

namespace {

TEST(Backoff, ExponentialCappedNoJitter) {
  EXPECT_EQ(weft__backoff_ms(100, 2.0, 1000, 0, 0, nullptr), 100);
  EXPECT_EQ(weft__backoff_ms(100, 2.0, 1000, 0, 1, nullptr), 200);
  EXPECT_EQ(weft__backoff_ms(100, 2.0, 1000, 0, 3, nullptr), 800);
  EXPECT_EQ(weft__backoff_ms(100, 2.0, 1000, 0, 4, nullptr), 1000);
  EXPECT_EQ(weft__backoff_ms(100, 2.0, 1000, 0, 1000, nullptr), 1000);
  EXPECT_EQ(weft__backoff_ms(0, 2.0, 1000, 0, 3, nullptr), 0);
}

TEST(Backoff, JitterIsSeededAndBounded) {
  weft__rng a = {42}, b = {42}, c = {43};
  bool differs = false;
  for (int i = 0; i < 200; i++) {
    int attempt = i % 8;
    int64_t full = weft__backoff_ms(100, 2.0, 5000, 0, attempt, nullptr);
    int64_t x = weft__backoff_ms(100, 2.0, 5000, 0.5, attempt, &a);
    int64_t y = weft__backoff_ms(100, 2.0, 5000, 0.5, attempt, &b);
    int64_t z = weft__backoff_ms(100, 2.0, 5000, 0.5, attempt, &c);
    EXPECT_EQ(x, y); // same seed, same sequence
    differs |= x != z;
    EXPECT_GE(x, full / 2);
    EXPECT_LE(x, full);
  }
  EXPECT_TRUE(differs);
}

TEST(Breaker, OpensHalfOpensCloses) {
  weft__breaker b;
  weft__breaker_init(&b, 3, 100);
  bool probe;
  int64_t t = 1000000000;
  for (int i = 0; i < 2; i++) {
    ASSERT_EQ(weft__breaker_allow(&b, t, &probe), 0);
    weft__breaker_record(&b, WEFT_STATUS_UNAVAILABLE, probe, t);
  }
  // An application error resets the count: the endpoint answered.
  ASSERT_EQ(weft__breaker_allow(&b, t, &probe), 0);
  weft__breaker_record(&b, WEFT_STATUS_NOT_FOUND, probe, t);
  for (int i = 0; i < 3; i++) {
    ASSERT_EQ(weft__breaker_allow(&b, t, &probe), 0);
    weft__breaker_record(&b, WEFT_STATUS_UNAVAILABLE, probe, t);
  }
  EXPECT_EQ(b.state, WEFT__BREAKER_OPEN);
  EXPECT_EQ(weft__breaker_allow(&b, t + 50000000, &probe), WEFT_ERR_AGAIN);
  // After the reset timeout: exactly one trial call.
  int64_t later = t + 100000000;
  ASSERT_EQ(weft__breaker_allow(&b, later, &probe), 0);
  EXPECT_TRUE(probe);
  bool p2;
  EXPECT_EQ(weft__breaker_allow(&b, later, &p2), WEFT_ERR_AGAIN);
  // Trial fails: open again, for a fresh timeout.
  weft__breaker_record(&b, WEFT_STATUS_DEADLINE_EXCEEDED, true, later);
  EXPECT_EQ(b.state, WEFT__BREAKER_OPEN);
  EXPECT_EQ(weft__breaker_allow(&b, later + 1, &probe), WEFT_ERR_AGAIN);
  int64_t later2 = later + 100000000;
  ASSERT_EQ(weft__breaker_allow(&b, later2, &probe), 0);
  ASSERT_TRUE(probe);
  weft__breaker_record(&b, WEFT_STATUS_OK, true, later2);
  EXPECT_EQ(b.state, WEFT__BREAKER_CLOSED);
  ASSERT_EQ(weft__breaker_allow(&b, later2, &probe), 0);
  EXPECT_FALSE(probe);
  weft__breaker_destroy(&b);
}

TEST(Breaker, DisabledAlwaysAllows) {
  weft__breaker b;
  weft__breaker_init(&b, 0, 0);
  bool probe;
  for (int i = 0; i < 100; i++) {
    ASSERT_EQ(weft__breaker_allow(&b, i, &probe), 0);
    weft__breaker_record(&b, WEFT_STATUS_UNAVAILABLE, probe, i);
  }
  weft__breaker_destroy(&b);
}

TEST(Pool, RunsJobsAndBoundsBacklog) {
  weft__pool *p;
  ASSERT_EQ(weft__pool_new(&p, 2, 3), 0);
  static std::atomic<int> ran;
  static std::atomic<bool> release;
  ran = 0;
  release = false;
  auto block = [](void *) {
    while (!release.load())
      usleep(1000);
    ran++;
  };
  // 2 workers + a backlog of 3: of 7 jobs at least one is refused,
  // however far the workers got.
  int refused = 0, accepted = 0;
  for (int i = 0; i < 7; i++) {
    if (weft__pool_submit(p, block, nullptr) == WEFT_ERR_LIMIT)
      refused++;
    else
      accepted++;
  }
  EXPECT_GE(refused, 1);
  release = true;
  weft__pool_free(p); // runs what was queued, then joins
  EXPECT_EQ(ran.load(), accepted);
}

// The owner's ticker runs on an idle worker when kicked, and while one
// worker keeps it (waiting for the next due time), two jobs queued back to
// back still run at once on the two workers: each job waits (bounded) for
// the other to start.
TEST(Pool, TickerOnIdleWorkerLeavesJobsTheirWorkers) {
  weft__pool *p;
  ASSERT_EQ(weft__pool_new(&p, 2, 16), 0);
  static std::atomic<int> ticks, started, together;
  ticks = 0;
  started = 0;
  together = 0;
  weft__pool_set_ticker(
      p,
      [](void *) -> int64_t {
        ticks++;
        return INT64_MAX;
      },
      nullptr);
  weft__pool_kick(p, 0);
  for (int i = 0; i < 5000 && ticks.load() == 0; i++)
    usleep(1000);
  EXPECT_EQ(ticks.load(), 1);
  auto job = [](void *) {
    started++;
    for (int i = 0; i < 5000 && started.load() < 2; i++)
      usleep(1000);
    if (started.load() >= 2)
      together++;
  };
  for (int round = 0; round < 20; round++) {
    started = 0;
    together = 0;
    ASSERT_EQ(weft__pool_post(p, job, nullptr), 0);
    ASSERT_EQ(weft__pool_post(p, job, nullptr), 0);
    for (int i = 0; i < 10000 && together.load() < 2; i++)
      usleep(1000);
    ASSERT_EQ(together.load(), 2)
        << "round " << round << ": the second job waited for the first";
  }
  // A due time from the tick's answer: it runs again by itself.
  weft__pool_set_ticker(
      p,
      [](void *) -> int64_t {
        return ++ticks < 4 ? weft_now_ns() + 1000000 : INT64_MAX;
      },
      nullptr);
  weft__pool_kick(p, 0);
  for (int i = 0; i < 5000 && ticks.load() < 4; i++)
    usleep(1000);
  EXPECT_EQ(ticks.load(), 4);
  weft__pool_set_ticker(p, nullptr, nullptr);
  weft__pool_free(p);
}

TEST(StatusMap, LocalErrors) {
  EXPECT_EQ(weft__status_from_error(WEFT_ERR_TIMEOUT, false),
            WEFT_STATUS_DEADLINE_EXCEEDED);
  EXPECT_EQ(weft__status_from_error(WEFT_ERR_CONNECT, false),
            WEFT_STATUS_UNAVAILABLE);
  EXPECT_EQ(weft__status_from_error(WEFT_ERR_CLOSED, false),
            WEFT_STATUS_UNAVAILABLE);
  EXPECT_EQ(weft__status_from_error(WEFT_ERR_CANCELLED, true),
            WEFT_STATUS_CANCELLED);
  EXPECT_EQ(weft__status_from_error(WEFT_ERR_UTF8, true),
            WEFT_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(weft__status_from_error(WEFT_ERR_UTF8, false),
            WEFT_STATUS_INTERNAL);
  EXPECT_EQ(weft__status_from_error(WEFT_ERR_TOO_BIG, false),
            WEFT_STATUS_RESOURCE_EXHAUSTED);
}

} // namespace
