// The arena allocator, and decoding into it.
#include "all_types_proto3.pb.h"
#include "random_msg.h"
#include "test_util.h"

using namespace weft_test;

TEST(Arena, AllocAlignResetFree) {
  weft_arena *a = nullptr;
  ASSERT_EQ(0, weft_arena_new(&a, 128));
  EXPECT_EQ(0u, weft_arena_used(a));
  for (size_t n : {1u, 3u, 8u, 13u, 100u, 1000u, 5u}) {
    void *p = weft_arena_alloc(a, n);
    ASSERT_NE(nullptr, p);
    EXPECT_EQ(0u, reinterpret_cast<uintptr_t>(p) % 8);
    memset(p, 0xab, n);
  }
  auto *z = static_cast<unsigned char *>(weft_arena_calloc(a, 300));
  for (int i = 0; i < 300; i++)
    ASSERT_EQ(0, z[i]);
  EXPECT_GE(weft_arena_used(a), 1430u);
  weft_arena_reset(a);
  EXPECT_EQ(0u, weft_arena_used(a));
  EXPECT_NE(nullptr, weft_arena_alloc(a, 64));
  weft_arena_free(a);
  weft_arena_free(nullptr);
  EXPECT_EQ(WEFT_ERR_INVAL, weft_arena_new(nullptr, 0));
}

TEST(Arena, DecodeLoopWithReset) {
  std::mt19937_64 rng(5);
  weft_arena *a = nullptr;
  ASSERT_EQ(0, weft_arena_new(&a, 0));
  const weft_msg_desc *d = DynDesc(weft_test::p3::AllTypes::descriptor());
  for (int i = 0; i < 100; i++) {
    weft_test::p3::AllTypes m;
    RandomFill(&m, rng, 3, true);
    std::string bytes = m.SerializeAsString();
    weft_decode_opts o = {};
    o.arena = a;
    void *out = nullptr;
    weft_error err = {};
    ASSERT_EQ(0, weft_decode(d, U8(bytes), bytes.size(), &o, &out, &err))
        << err.message;
    EXPECT_EQ(Hex(bytes), Hex(WeftEncode(out)));
    // arena and malloc decodes are equal messages
    void *heap = nullptr;
    ASSERT_EQ(0, weft_decode(d, U8(bytes), bytes.size(), nullptr, &heap, &err));
    EXPECT_TRUE(weft_message_equal(out, heap));
    weft_message_free(heap);
    weft_arena_reset(a);
  }
  weft_arena_free(a);
}

TEST(Arena, NewAndCopy) {
  weft_arena *a = nullptr;
  ASSERT_EQ(0, weft_arena_new(&a, 64));
  const weft_msg_desc *d = DynDesc(weft_test::p3::AllTypes::descriptor());
  void *m = weft_message_new(d, a);
  ASSERT_NE(nullptr, m);
  EXPECT_EQ(0u, weft_encoded_size(m));
  weft_test::p3::AllTypes src;
  src.set_f_string("copy me");
  src.add_r_bytes("b");
  (*src.mutable_m_int32())[3] = "three";
  WeftMsg w(ToWeft(src, d));
  void *c = nullptr;
  ASSERT_EQ(0, weft_message_copy(w.p, a, &c));
  EXPECT_TRUE(weft_message_equal(w.p, c));
  EXPECT_FALSE(weft_message_equal(m, c));
  EXPECT_EQ(Hex(SerializeDet(src)), Hex(WeftEncode(c)));
  weft_arena_free(a);
}

TEST(Arena, HugeRequestsFailCleanly) {
  weft_arena *a = nullptr;
  ASSERT_EQ(0, weft_arena_new(&a, 0));
  EXPECT_EQ(nullptr, weft_arena_alloc(a, SIZE_MAX));
  EXPECT_EQ(nullptr, weft_arena_alloc(a, SIZE_MAX - 8));
  EXPECT_NE(nullptr, weft_arena_alloc(a, 100000)); // dedicated block
  EXPECT_NE(nullptr, weft_arena_alloc(a, 8));
  weft_arena_free(a);
}
