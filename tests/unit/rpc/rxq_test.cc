// The server-side receive queue (runtime/src/rpc/internal/rxq.h): order,
// high- and low-water marks, end and cancel, and pop with a deadline.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <thread>

extern "C" {
#include "internal/rxq.h"
#include "weft/transport.h"
}

namespace {

struct Low {
  std::atomic<int> n{0};
};

void on_low(void *ud) {
  static_cast<Low *>(ud)->n++;
}

int push(weft__rxq *q, const char *s) {
  return weft__rxq_push_copy(q, s, strlen(s), 0);
}

std::string pop_text(weft__rxq *q) {
  weft__rxq_msg *m = nullptr;
  int rv = weft__rxq_pop(q, false, INT64_MAX, &m);
  if (rv != 1)
    return "<" + std::to_string(rv) + ">";
  std::string s(reinterpret_cast<char *>(m->data), m->len);
  free(m);
  return s;
}

TEST(Rxq, OrderAndFlags) {
  weft__rxq q;
  ASSERT_EQ(weft__rxq_init(&q, nullptr), 0);
  EXPECT_EQ(push(&q, "a"), 0);
  EXPECT_EQ(weft__rxq_push_copy(&q, "bc", 2, 7), 0);
  EXPECT_EQ(weft__rxq_push_copy(&q, nullptr, 0, 0), 0); // an empty message
  EXPECT_EQ(weft__rxq_len(&q), 3u);
  EXPECT_EQ(pop_text(&q), "a");
  weft__rxq_msg *m = nullptr;
  ASSERT_EQ(weft__rxq_pop(&q, false, INT64_MAX, &m), 1);
  EXPECT_EQ(m->flags, 7);
  EXPECT_EQ(m->len, 2u);
  free(m);
  EXPECT_EQ(pop_text(&q), "");
  EXPECT_EQ(weft__rxq_pop(&q, false, INT64_MAX, &m), WEFT_ERR_AGAIN);
  EXPECT_EQ(m, nullptr);
  weft__rxq_destroy(&q);
}

// push answers 1 from the high-water mark on (messages or bytes); on_low
// runs once, on the pop that takes the queue to half of both.
TEST(Rxq, HighAndLowWater) {
  Low low;
  weft__rxq_cfg cfg = {4, 100, on_low, &low};
  weft__rxq q;
  ASSERT_EQ(weft__rxq_init(&q, &cfg), 0);
  EXPECT_EQ(push(&q, "1"), 0);
  EXPECT_EQ(push(&q, "2"), 0);
  EXPECT_EQ(push(&q, "3"), 0);
  EXPECT_FALSE(weft__rxq_above(&q));
  EXPECT_EQ(push(&q, "4"), 1); // 4 messages
  EXPECT_TRUE(weft__rxq_above(&q));
  EXPECT_EQ(push(&q, "5"), 1); // still above
  EXPECT_EQ(pop_text(&q), "1");
  EXPECT_EQ(pop_text(&q), "2");
  EXPECT_EQ(low.n.load(), 0); // 3 left: above half of 4
  EXPECT_EQ(pop_text(&q), "3");
  EXPECT_EQ(low.n.load(), 1); // 2 left
  EXPECT_FALSE(weft__rxq_above(&q));
  EXPECT_EQ(pop_text(&q), "4");
  EXPECT_EQ(low.n.load(), 1); // once per crossing
  EXPECT_EQ(pop_text(&q), "5");
  // Bytes: one 100-byte message crosses alone.
  std::string big(100, 'x');
  EXPECT_EQ(weft__rxq_push_copy(&q, big.data(), big.size(), 0), 1);
  EXPECT_EQ(pop_text(&q), big);
  EXPECT_EQ(low.n.load(), 2);
  // clear resets the mark without on_low.
  EXPECT_EQ(weft__rxq_push_copy(&q, big.data(), big.size(), 0), 1);
  EXPECT_TRUE(weft__rxq_clear(&q));
  EXPECT_FALSE(weft__rxq_above(&q));
  EXPECT_EQ(low.n.load(), 2);
  weft__rxq_destroy(&q);
}

// An end comes after the queued messages, and again on every later pop; a
// failed end keeps its reason; pushes after it are dropped.
TEST(Rxq, EndAfterMessages) {
  weft__rxq q;
  ASSERT_EQ(weft__rxq_init(&q, nullptr), 0);
  push(&q, "a");
  weft__rxq_end(&q, 0, nullptr);
  EXPECT_EQ(push(&q, "late"), 0);
  EXPECT_EQ(pop_text(&q), "a");
  EXPECT_EQ(pop_text(&q), "<0>");
  EXPECT_EQ(pop_text(&q), "<0>");
  weft__rxq_end(&q, WEFT_ERR_MALFORMED, "too late"); // the first end wins
  EXPECT_EQ(pop_text(&q), "<0>");
  weft__rxq_destroy(&q);

  ASSERT_EQ(weft__rxq_init(&q, nullptr), 0);
  push(&q, "a");
  weft__rxq_end(&q, WEFT_ERR_TRUNCATED, "the request ended inside a message");
  EXPECT_EQ(pop_text(&q), "a");
  EXPECT_EQ(pop_text(&q), "<" + std::to_string(WEFT_ERR_TRUNCATED) + ">");
  EXPECT_STREQ(weft__rxq_why(&q), "the request ended inside a message");
  // A cancel after a failed end keeps the first reason.
  weft__rxq_cancel(&q, WEFT_ERR_CANCELLED);
  EXPECT_EQ(pop_text(&q), "<" + std::to_string(WEFT_ERR_TRUNCATED) + ">");
  weft__rxq_destroy(&q);
}

// A cancel drops what is queued and answers at once, also over a clean end.
TEST(Rxq, CancelDropsQueued) {
  weft__rxq q;
  ASSERT_EQ(weft__rxq_init(&q, nullptr), 0);
  push(&q, "a");
  push(&q, "b");
  weft__rxq_end(&q, 0, nullptr);
  weft__rxq_cancel(&q, WEFT_ERR_CLOSED);
  EXPECT_EQ(weft__rxq_len(&q), 0u);
  EXPECT_EQ(pop_text(&q), "<" + std::to_string(WEFT_ERR_CLOSED) + ">");
  weft__rxq_destroy(&q);
}

// A blocked pop: woken by a push from another thread, by a cancel, and
// bounded by its deadline.
TEST(Rxq, BlockingPop) {
  weft__rxq q;
  ASSERT_EQ(weft__rxq_init(&q, nullptr), 0);
  std::thread t([&] {
    usleep(20000);
    push(&q, "x");
  });
  weft__rxq_msg *m = nullptr;
  ASSERT_EQ(weft__rxq_pop(&q, true, INT64_MAX, &m), 1);
  EXPECT_EQ(m->len, 1u);
  free(m);
  t.join();

  int64_t due = weft_now_ns() + 30 * 1000000LL;
  EXPECT_EQ(weft__rxq_pop(&q, true, due, &m), WEFT_ERR_TIMEOUT);
  EXPECT_GE(weft_now_ns(), due);
  // A deadline already passed answers at once, a message still wins.
  push(&q, "y");
  ASSERT_EQ(weft__rxq_pop(&q, true, 1, &m), 1);
  free(m);

  std::thread c([&] {
    usleep(20000);
    weft__rxq_cancel(&q, WEFT_ERR_CANCELLED);
  });
  EXPECT_EQ(weft__rxq_pop(&q, true, INT64_MAX, &m), WEFT_ERR_CANCELLED);
  c.join();
  weft__rxq_destroy(&q);
}

// Many messages from a producer thread reach a blocked consumer in order,
// with backpressure accounting that ends at zero.
TEST(Rxq, ProducerConsumer) {
  Low low;
  weft__rxq_cfg cfg = {8, 0, on_low, &low};
  weft__rxq q;
  ASSERT_EQ(weft__rxq_init(&q, &cfg), 0);
  const int N = 20000;
  std::thread p([&] {
    for (int i = 0; i < N; i++) {
      uint32_t v = (uint32_t)i;
      weft__rxq_push_copy(&q, &v, sizeof v, 0);
    }
    weft__rxq_end(&q, 0, nullptr);
  });
  int got = 0;
  for (;;) {
    weft__rxq_msg *m = nullptr;
    int rv = weft__rxq_pop(&q, true, INT64_MAX, &m);
    if (rv != 1) {
      EXPECT_EQ(rv, 0);
      break;
    }
    uint32_t v;
    memcpy(&v, m->data, sizeof v);
    EXPECT_EQ(v, (uint32_t)got);
    got++;
    free(m);
  }
  p.join();
  EXPECT_EQ(got, N);
  EXPECT_FALSE(weft__rxq_above(&q));
  weft__rxq_destroy(&q);
}

// A queue its caller locks (cfg.caller_locks): the same order, marks and
// end, and a pop that would wait is refused instead of dropping a mutex the
// queue never took.
TEST(Rxq, CallerLocks) {
  Low low;
  weft__rxq_cfg cfg = {};
  cfg.high_msgs = 2;
  cfg.on_low = on_low;
  cfg.ud = &low;
  cfg.caller_locks = true;
  weft__rxq q;
  ASSERT_EQ(weft__rxq_init(&q, &cfg), 0);
  EXPECT_EQ(push(&q, "a"), 0);
  EXPECT_EQ(push(&q, "b"), 1);
  weft__rxq_msg *m = nullptr;
  EXPECT_EQ(weft__rxq_pop(&q, true, INT64_MAX, &m), WEFT_ERR_STATE);
  EXPECT_EQ(m, nullptr);
  EXPECT_EQ(weft__rxq_len(&q), 2u);
  EXPECT_EQ(pop_text(&q), "a");
  weft__rxq_end(&q, 0, nullptr);
  EXPECT_EQ(pop_text(&q), "b");
  EXPECT_EQ(low.n.load(), 1); // no byte mark: low once empty
  EXPECT_EQ(pop_text(&q), "<0>");
  weft__rxq_cancel(&q, WEFT_ERR_CANCELLED);
  weft__rxq_destroy(&q);
}

} // namespace
