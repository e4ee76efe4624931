// The per-stream send queue (runtime/src/rpc/internal/txq.h): order, reads
// across items in any chunk size, the bounds and the writable edge, end,
// cancel releasing what was queued, and references to shared bytes.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

extern "C" {
#include "internal/txq.h"
#include "weft/error.h"
}

namespace {

// Counts releases per tag, in the order they ran.
struct Releases {
  std::vector<int> order;
};
struct Tag {
  Releases *r;
  int id;
};

void on_release(void *ud) {
  Tag *t = static_cast<Tag *>(ud);
  t->r->order.push_back(t->id);
}

weft__txq_item *bytes(const char *s) {
  return weft__txq_item_bytes(s, strlen(s), nullptr, 0, nullptr, nullptr);
}

std::string read_all(weft__txq *q, size_t chunk) {
  std::string out;
  std::vector<uint8_t> buf(chunk);
  for (;;) {
    weft__txq_item *done = nullptr;
    size_t n = weft__txq_read(q, buf.data(), chunk, &done);
    weft__txq_items_done(done);
    if (n == 0)
      return out;
    out.append(reinterpret_cast<char *>(buf.data()), n);
  }
}

TEST(Txq, MessagesInOrderReleasedOnceEach) {
  Releases r;
  Tag t[3] = {{&r, 0}, {&r, 1}, {&r, 2}};
  int m[3];
  weft__txq q;
  weft__txq_init(&q, nullptr);
  for (int i = 0; i < 3; i++)
    ASSERT_EQ(weft__txq_push(
                  &q, weft__txq_item_msg(&m[i], nullptr, on_release, &t[i])),
              0);
  EXPECT_EQ(weft__txq_len(&q), 3u);
  EXPECT_EQ(weft__txq_bytes(&q), 0u);
  for (int i = 0; i < 3; i++) {
    weft__txq_item *it = weft__txq_pop(&q);
    ASSERT_NE(it, nullptr);
    EXPECT_EQ(it->msg, &m[i]);
    EXPECT_TRUE(r.order.empty() || r.order.back() == i - 1);
    weft__txq_items_done(it);
  }
  EXPECT_EQ(weft__txq_pop(&q), nullptr);
  EXPECT_EQ(r.order, (std::vector<int>{0, 1, 2}));
  weft__txq_destroy(&q);
}

// The byte stream is the same whatever the reader's chunk size, and an
// item is handed back only once read to its end.
TEST(Txq, ReadsAcrossItemsInEveryChunkSize) {
  const std::string want = "hello" + std::string() + "" + "world!" + "x";
  for (size_t chunk = 1; chunk <= want.size() + 1; chunk++) {
    weft__txq q;
    weft__txq_init(&q, nullptr);
    ASSERT_EQ(weft__txq_push(&q, bytes("hello")), 0);
    ASSERT_EQ(weft__txq_push(&q, bytes("")), 0); // an empty message
    static const uint8_t shared[] = {'r', 'l', 'd', '!'};
    ASSERT_EQ(weft__txq_push(&q, weft__txq_item_bytes("wo", 2, shared, 4,
                                                      nullptr, nullptr)),
              0);
    ASSERT_EQ(weft__txq_push(&q, bytes("x")), 0);
    EXPECT_EQ(weft__txq_bytes(&q), want.size());
    EXPECT_EQ(read_all(&q, chunk), want) << "chunk " << chunk;
    EXPECT_EQ(weft__txq_len(&q), 0u);
    EXPECT_EQ(weft__txq_bytes(&q), 0u);
    weft__txq_destroy(&q);
  }
}

TEST(Txq, PartialReadKeepsTheItem) {
  Releases r;
  Tag t = {&r, 7};
  static const uint8_t shared[] = {'a', 'b', 'c', 'd'};
  weft__txq q;
  weft__txq_init(&q, nullptr);
  ASSERT_EQ(weft__txq_push(
                &q, weft__txq_item_bytes("H", 1, shared, 4, on_release, &t)),
            0);
  uint8_t buf[3];
  weft__txq_item *done = nullptr;
  EXPECT_EQ(weft__txq_read(&q, buf, 3, &done), 3u);
  EXPECT_EQ(done, nullptr);
  EXPECT_EQ(weft__txq_bytes(&q), 2u);
  EXPECT_TRUE(r.order.empty()); // the shared bytes are still referenced
  EXPECT_EQ(weft__txq_read(&q, buf, 3, &done), 2u);
  ASSERT_NE(done, nullptr);
  EXPECT_EQ(std::string(reinterpret_cast<char *>(buf), 2), "cd");
  weft__txq_items_done(done);
  EXPECT_EQ(r.order, (std::vector<int>{7}));
  weft__txq_destroy(&q);
}

// Messages: full at high_msgs (AGAIN, the item stays the caller's); the
// writable edge comes once, when a take reaches half.
TEST(Txq, MessageBoundAndWritableEdge) {
  weft__txq_cfg cfg = {4, 0};
  weft__txq q;
  weft__txq_init(&q, &cfg);
  int m;
  for (int i = 0; i < 4; i++)
    ASSERT_EQ(
        weft__txq_push(&q, weft__txq_item_msg(&m, nullptr, nullptr, nullptr)),
        0);
  EXPECT_TRUE(weft__txq_full(&q));
  EXPECT_FALSE(weft__txq_take_writable(&q)); // nobody was refused
  weft__txq_item *it = weft__txq_item_msg(&m, nullptr, nullptr, nullptr);
  EXPECT_EQ(weft__txq_push(&q, it), WEFT_ERR_AGAIN);
  weft__txq_item_free(it);
  EXPECT_EQ(weft__txq_len(&q), 4u);
  weft__txq_items_done(weft__txq_pop(&q));
  EXPECT_FALSE(weft__txq_take_writable(&q)); // 3 left: above half
  weft__txq_items_done(weft__txq_pop(&q));
  EXPECT_TRUE(weft__txq_take_writable(&q));  // 2 left
  EXPECT_FALSE(weft__txq_take_writable(&q)); // once per refusal
  weft__txq_destroy(&q);
}

// Bytes: a push is taken while at most high_bytes are queued, so one item
// larger than the bound still goes through; the edge comes at half.
TEST(Txq, ByteBoundAndWritableEdge) {
  weft__txq_cfg cfg = {0, 10};
  weft__txq q;
  weft__txq_init(&q, &cfg);
  ASSERT_EQ(weft__txq_push(&q, bytes("0123456789")), 0); // 10: not over
  EXPECT_FALSE(weft__txq_full(&q));
  ASSERT_EQ(weft__txq_push(&q, bytes("abcdefghijklmnop")), 0); // now 26
  EXPECT_TRUE(weft__txq_full(&q));
  weft__txq_item *it = bytes("z");
  EXPECT_EQ(weft__txq_push(&q, it), WEFT_ERR_AGAIN);
  weft__txq_item_free(it);
  uint8_t buf[20];
  weft__txq_item *done = nullptr;
  EXPECT_EQ(weft__txq_read(&q, buf, 20, &done), 20u); // 6 left
  EXPECT_FALSE(weft__txq_take_writable(&q));
  EXPECT_FALSE(weft__txq_full(&q));
  EXPECT_EQ(weft__txq_read(&q, buf, 1, &done), 1u); // 5 left: half
  EXPECT_TRUE(weft__txq_take_writable(&q));
  weft__txq_items_done(done);
  // What finishes a stream is appended whatever the bound.
  ASSERT_EQ(weft__txq_push(&q, bytes("0123456789")), 0);
  EXPECT_TRUE(weft__txq_full(&q));
  EXPECT_EQ(weft__txq_append(&q, bytes("END")), 0);
  weft__txq_end(&q);
  EXPECT_FALSE(weft__txq_done(&q));
  EXPECT_EQ(read_all(&q, 4), "lmnop0123456789END");
  EXPECT_TRUE(weft__txq_done(&q));
  weft__txq_destroy(&q);
}

TEST(Txq, EndRefusesPushesAfterTheQueuedOnesGoOut) {
  weft__txq q;
  weft__txq_init(&q, nullptr);
  ASSERT_EQ(weft__txq_push(&q, bytes("a")), 0);
  weft__txq_end(&q);
  weft__txq_item *it = bytes("b");
  EXPECT_EQ(weft__txq_push(&q, it), WEFT_ERR_STATE);
  EXPECT_EQ(weft__txq_append(&q, it), WEFT_ERR_STATE);
  weft__txq_item_free(it);
  EXPECT_FALSE(weft__txq_done(&q));
  EXPECT_EQ(read_all(&q, 8), "a");
  EXPECT_TRUE(weft__txq_done(&q));
  weft__txq_destroy(&q);
}

// Cancel hands back every queued item (released once, in order, by the
// owner after its lock), and later pushes answer the first error.
TEST(Txq, CancelDropsQueuedAndReleasesRefs) {
  Releases r;
  Tag t[3] = {{&r, 0}, {&r, 1}, {&r, 2}};
  static const uint8_t shared[] = {1, 2, 3};
  weft__txq q;
  weft__txq_init(&q, nullptr);
  for (int i = 0; i < 3; i++)
    ASSERT_EQ(weft__txq_push(&q, weft__txq_item_bytes("h", 1, shared, 3,
                                                      on_release, &t[i])),
              0);
  uint8_t buf[2];
  weft__txq_item *done = nullptr;
  EXPECT_EQ(weft__txq_read(&q, buf, 2, &done), 2u); // the first, half read
  weft__txq_item *dropped = weft__txq_cancel(&q, WEFT_ERR_CLOSED);
  EXPECT_EQ(weft__txq_len(&q), 0u);
  EXPECT_EQ(weft__txq_bytes(&q), 0u);
  EXPECT_TRUE(r.order.empty()); // not under the owner's lock
  weft__txq_items_done(dropped);
  EXPECT_EQ(r.order, (std::vector<int>{0, 1, 2}));
  weft__txq_item *it = bytes("x");
  EXPECT_EQ(weft__txq_push(&q, it), WEFT_ERR_CLOSED);
  EXPECT_EQ(weft__txq_append(&q, it), WEFT_ERR_CLOSED);
  EXPECT_EQ(weft__txq_cancel(&q, WEFT_ERR_TIMEOUT), nullptr);
  EXPECT_EQ(weft__txq_push(&q, it), WEFT_ERR_CLOSED); // the first error
  weft__txq_item_free(it);
  weft__txq_destroy(&q);
  EXPECT_EQ(r.order.size(), 3u);
}

// Teardown order: destroy releases what is still queued, oldest first.
TEST(Txq, DestroyReleasesWhatIsLeft) {
  Releases r;
  Tag t[2] = {{&r, 0}, {&r, 1}};
  int m;
  weft__txq q;
  weft__txq_init(&q, nullptr);
  ASSERT_EQ(
      weft__txq_push(&q, weft__txq_item_msg(&m, nullptr, on_release, &t[0])),
      0);
  ASSERT_EQ(
      weft__txq_push(&q, weft__txq_item_msg(&m, nullptr, on_release, &t[1])),
      0);
  weft__txq_destroy(&q);
  EXPECT_EQ(r.order, (std::vector<int>{0, 1}));
}

} // namespace
