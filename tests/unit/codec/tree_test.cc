// Decoded trees on the malloc path (one block owned by the root) and the
// zero-copy option. The ownership rules of weft/codec.h: values a user
// stores into a decoded tree are freed with it, the decoder's are released
// with the blocks, weft_message_free on an inner message empties it. Run
// under ASan/LSan, these tests catch a double free, a free of a pointer
// into a block, or a leak.
#include <google/protobuf/util/message_differencer.h>

#include <cstring>
#include <thread>

#include "all_types_proto3.pb.h"
#include "all_types_proto3.weft.h"
#include "test_util.h"

using namespace weft_test;
using google::protobuf::util::MessageDifferencer;

namespace {

using AllTypes = weft_1test__p3__AllTypes;
using Nested = weft_1test__p3__Nested;

weft_test::p3::AllTypes Sample() {
  weft_test::p3::AllTypes m;
  m.set_f_string("decoded string");
  m.set_f_bytes(std::string(40, '\x07'));
  m.add_r_string("r0");
  m.add_r_string("r1");
  m.add_r_bytes("b0");
  m.mutable_f_nested()->set_b("nested");
  m.mutable_f_nested()->add_children()->set_b("child");
  for (int i = 0; i < 3; i++)
    m.add_r_nested()->set_b("rn" + std::to_string(i));
  (*m.mutable_m_int32())[1] = "one";
  m.add_r_int32(5);
  return m;
}

AllTypes *DecodeTree(const std::string &in, int alias = 0) {
  weft_decode_opts o = {};
  o.alias = alias;
  void *out = nullptr;
  weft_error err = {};
  EXPECT_EQ(0, weft_decode(&weft_1test__p3__AllTypes_desc, U8(in), in.size(),
                           &o, &out, &err))
      << err.message;
  return static_cast<AllTypes *>(out);
}

weft_test::p3::AllTypes ToCpp(const void *w) {
  weft_test::p3::AllTypes m;
  std::string bytes = WeftEncode(w);
  EXPECT_TRUE(m.ParseFromString(bytes));
  return m;
}

char *Dup(const char *s) {
  char *p = static_cast<char *>(malloc(strlen(s) + 1));
  strcpy(p, s);
  return p;
}

} // namespace

TEST(CodecTree, UserValuesStoredInADecodedTreeAreFreedWithIt) {
  std::string in = Sample().SerializeAsString();
  AllTypes *m = DecodeTree(in);
  ASSERT_NE(nullptr, m);
  weft_test::p3::AllTypes want = Sample();

  // replace a string and a bytes buffer (the old ones are the tree's)
  m->f_string = Dup("mine");
  want.set_f_string("mine");
  m->f_bytes.data = static_cast<uint8_t *>(malloc(3));
  memcpy(m->f_bytes.data, "xyz", 3);
  m->f_bytes.len = 3;
  want.set_f_bytes("xyz");
  // replace a whole repeated string array
  char **arr = static_cast<char **>(malloc(sizeof(char *)));
  arr[0] = Dup("only");
  m->r_string = arr;
  m->n_r_string = 1;
  want.clear_r_string();
  want.add_r_string("only");
  // a standalone sub-message replaces a decoded one
  Nested *n = weft_1test__p3__Nested_new(nullptr);
  n->b = Dup("standalone");
  m->f_nested = n;
  want.mutable_f_nested()->Clear();
  want.mutable_f_nested()->set_b("standalone");
  // another decoded tree's root replaces an element
  weft_test::p3::Nested other;
  other.set_b("other tree");
  other.add_children()->set_a(7);
  std::string oin = other.SerializeAsString();
  void *o = nullptr;
  ASSERT_EQ(0, weft_decode(&weft_1test__p3__Nested_desc, U8(oin), oin.size(),
                           nullptr, &o, nullptr));
  m->r_nested[1] = static_cast<Nested *>(o);
  *want.mutable_r_nested(1) = other;
  // free an inner message and leave it linked: it reads as empty
  Nested *inner = m->r_nested[2];
  inner->b = Dup("stored then freed"); // freed by weft_message_free(inner)
  weft_message_free(inner);
  EXPECT_EQ(0u, weft_encoded_size(inner));
  want.mutable_r_nested(2)->Clear();

  EXPECT_TRUE(MessageDifferencer::Equals(want, ToCpp(m)));
  weft_message_free(m); // ASan: no leak, no bad free
}

TEST(CodecTree, CopyOfATreeIsStandalone) {
  std::string in = Sample().SerializeAsString();
  AllTypes *m = DecodeTree(in);
  void *cp = nullptr;
  ASSERT_EQ(0, weft_message_copy(m, nullptr, &cp));
  weft_message_free(m);
  EXPECT_TRUE(MessageDifferencer::Equals(Sample(), ToCpp(cp)));
  // a standalone copy's values are its own malloc blocks
  auto *c = static_cast<AllTypes *>(cp);
  free(c->f_string);
  c->f_string = Dup("changed");
  weft_message_free(cp);
}

TEST(CodecTree, MergeIntoADecodedTree) {
  weft_test::p3::AllTypes a = Sample(), b;
  b.add_r_string("merged");
  b.mutable_f_nested()->set_a(9);
  for (int i = 0; i < 20; i++)
    b.add_r_int32(i);
  b.set_f_bytes("replaced");
  std::string ain = a.SerializeAsString(), bin = b.SerializeAsString();
  AllTypes *m = DecodeTree(ain);
  // an array the user stored (exact size) must move into the tree, not leak
  int32_t *mine = static_cast<int32_t *>(malloc(2 * sizeof(int32_t)));
  mine[0] = 1;
  mine[1] = 2;
  m->r_int32 = mine;
  m->n_r_int32 = 2;
  a.clear_r_int32();
  a.add_r_int32(1);
  a.add_r_int32(2);
  weft_error err = {};
  ASSERT_EQ(0, weft_decode_merge(m, U8(bin), bin.size(), nullptr, &err))
      << err.message;
  a.MergeFrom(b);
  EXPECT_TRUE(MessageDifferencer::Equals(a, ToCpp(m)));
  weft_message_free(m);
}

TEST(CodecTree, TreesBiggerThanTheFirstBlock) {
  // Empty sub-messages cost 2 wire bytes but a whole struct each, and a big
  // bytes field gets a block of its own: the tree grows past the first
  // block, and the values in later blocks are still the tree's.
  weft_test::p3::AllTypes m;
  for (int i = 0; i < 3000; i++)
    m.add_r_nested();
  m.add_r_nested()->set_b(std::string(100000, 'q'));
  m.set_f_bytes(std::string(300000, 'z'));
  std::string in = m.SerializeAsString();
  for (int alias : {0, 1}) {
    AllTypes *w = DecodeTree(in, alias);
    ASSERT_NE(nullptr, w);
    EXPECT_EQ(in, WeftEncode(w));
    w->r_nested[2999]->b = Dup("user");
    weft_message_free(w);
  }
}

TEST(CodecTree, FreedOnAnotherThread) {
  std::string in = Sample().SerializeAsString();
  for (int i = 0; i < 50; i++) {
    AllTypes *m = DecodeTree(in);
    std::thread t([m] { weft_message_free(m); });
    t.join();
  }
}

TEST(CodecAlias, BytesAndUnknownFieldsPointIntoTheInput) {
  weft_test::p3::AllTypes m = Sample();
  std::string in = m.SerializeAsString();
  in += std::string("\xf8\x3e\x05", 3); // unknown field 999 = 5
  const uint8_t *lo = U8(in), *hi = lo + in.size();
  auto inside = [&](const void *p) {
    return static_cast<const uint8_t *>(p) >= lo &&
           static_cast<const uint8_t *>(p) < hi;
  };
  weft_arena *a = nullptr;
  ASSERT_EQ(0, weft_arena_new(&a, 0));
  for (weft_arena *arena : {static_cast<weft_arena *>(nullptr), a}) {
    weft_decode_opts o = {};
    o.alias = 1;
    o.arena = arena;
    void *out = nullptr;
    ASSERT_EQ(0, weft_decode(&weft_1test__p3__AllTypes_desc, lo, in.size(), &o,
                             &out, nullptr));
    auto *w = static_cast<AllTypes *>(out);
    EXPECT_TRUE(inside(w->f_bytes.data));
    EXPECT_TRUE(inside(w->r_bytes[0].data));
    ASSERT_EQ(1u, w->base.n_unknown_fields);
    EXPECT_TRUE(inside(w->base.unknown_fields[0].data));
    // strings are copies: they need their NUL
    EXPECT_FALSE(inside(w->f_string));
    EXPECT_STREQ("decoded string", w->f_string);
    EXPECT_EQ(in, WeftEncode(w));
    if (!arena)
      weft_message_free(out);
  }
  // without alias nothing points into the input
  void *out = nullptr;
  ASSERT_EQ(0, weft_decode(&weft_1test__p3__AllTypes_desc, lo, in.size(),
                           nullptr, &out, nullptr));
  EXPECT_FALSE(inside(static_cast<AllTypes *>(out)->f_bytes.data));
  weft_message_free(out);
  weft_arena_free(a);
}
