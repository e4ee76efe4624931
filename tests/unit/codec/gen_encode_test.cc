// The encoders protoc-gen-weft emits (weft/gen_encode.h, called by
// weft_encode and weft_encode_alloc through weft_msg_desc.encode and
// .encode_alloc) against C++ and against the
// table-driven backward writer (weft__encode_alloc_backward, which never
// calls them): which types get one, every capacity (buffers malloc'd at their
// exact size, so AddressSanitizer sees a write past them), the randomized
// differential, sub-message length slots of every width, hand-built
// messages with NULL elements.
#include <cstdlib>
#include <random>
#include <string>

#include "all_types_proto3.weft.h"
#include "differential.h"
#include "flat_encode.pb.h"
#include "flat_encode.weft.h"

using namespace weft_test;

namespace {

std::string AllocEncode(const void *w) {
  uint8_t *ab = nullptr;
  size_t n = 0;
  EXPECT_EQ(0, weft__encode_alloc_backward(w, &ab, &n));
  std::string s(reinterpret_cast<char *>(ab), n);
  free(ab);
  // weft_encode_alloc: sized, then the forward writer when there is one
  EXPECT_EQ(0, weft_encode_alloc(w, &ab, &n));
  EXPECT_EQ(Hex(s), Hex(std::string(reinterpret_cast<char *>(ab), n)));
  free(ab);
  return s;
}

// Capacities 0 to the size plus the slack and more: smaller ones fail with
// WEFT_ERR_TOO_BIG, the others give the backward writer's bytes.
void EveryCapacity(const void *w, const std::string &want) {
  for (size_t cap = 0; cap <= want.size() + 40; cap++) {
    uint8_t *buf = static_cast<uint8_t *>(std::malloc(cap ? cap : 1));
    ssize_t n = weft_encode(w, cap ? buf : nullptr, cap);
    if (cap < want.size()) {
      EXPECT_EQ(WEFT_ERR_TOO_BIG, n) << "capacity " << cap;
    } else {
      ASSERT_EQ(static_cast<ssize_t>(want.size()), n) << "capacity " << cap;
      EXPECT_EQ(Hex(want), Hex(std::string(reinterpret_cast<char *>(buf),
                                           static_cast<size_t>(n))))
          << "capacity " << cap;
    }
    std::free(buf);
  }
}

template <class M>
void RandomEveryCapacity(const weft_msg_desc *d, uint64_t seed,
                         int iterations) {
  std::mt19937_64 rng(seed);
  for (int it = 0; it < iterations; it++) {
    M m;
    RandomFill(&m, rng, 2, false);
    SCOPED_TRACE("iteration " + std::to_string(it));
    WeftMsg w(ToWeft(m, d));
    std::string want = SerializeDet(m);
    ASSERT_EQ(Hex(want), Hex(AllocEncode(w.p)));
    EveryCapacity(w.p, want);
  }
}

} // namespace

TEST(CodecGenEncode, CoveredTypes) {
  EXPECT_NE(nullptr, weft_1test__flat__Flat_desc.encode);
  EXPECT_NE(nullptr, weft_1test__flat__Outer_desc.encode);
  // nested and recursive: the sized encoders, for weft_encode_alloc too
  EXPECT_NE(nullptr, weft_1test__flat__Tree_desc.encode);
  EXPECT_NE(nullptr, weft_1test__flat__Tree_desc.encode_alloc);
  EXPECT_NE(nullptr, weft_1test__flat__Flat_desc.encode_alloc);
  EXPECT_NE(nullptr, weft_1test__flat__Outer_desc.encode_alloc);
  // map entries are written by their parent; oneofs, unpacked repeated
  // scalars, and types holding a type without an encoder (Mixed holds
  // itself and Odd, which has a oneof) keep the table walk
  EXPECT_EQ(nullptr, weft_1test__flat__Flat__LabelsEntry_desc.encode);
  EXPECT_EQ(nullptr, weft_1test__p3__AllTypes_desc.encode);
  EXPECT_EQ(nullptr, weft_1test__flat__Odd_desc.encode);
  EXPECT_EQ(nullptr, weft_1test__flat__Mixed_desc.encode);
  EXPECT_EQ(nullptr, weft_1test__flat__Mixed_desc.encode_alloc);
}

TEST(CodecGenEncode, EveryCapacity) {
  RandomEveryCapacity<flat::Flat>(&weft_1test__flat__Flat_desc, 31, 40);
  RandomEveryCapacity<flat::Outer>(&weft_1test__flat__Outer_desc, 32, 30);
}

TEST(CodecGenEncode, Differential) {
  Differential(flat::Flat::default_instance(), &weft_1test__flat__Flat_desc,
               200, 33);
  Differential(flat::Outer::default_instance(), &weft_1test__flat__Outer_desc,
               200, 34);
  Differential(flat::Tree::default_instance(), &weft_1test__flat__Tree_desc,
               200, 35);
}

TEST(CodecGenEncode, NestedEveryCapacity) {
  RandomEveryCapacity<flat::Tree>(&weft_1test__flat__Tree_desc, 36, 25);
  RandomEveryCapacity<flat::Mixed>(&weft_1test__flat__Mixed_desc, 37, 10);
}

// A deep chain and a wide tree: more than the 512 records the sized
// encoders keep on the stack (every child's length and name), lengths of
// one to three bytes at every level, negative and zigzag packed values.
TEST(CodecGenEncode, NestedDeepAndWide) {
  for (int shape = 0; shape < 2; shape++) {
    flat::Tree root;
    flat::Tree *t = &root;
    for (int d = 0; d < 60; d++) { // deep: left, then children[0]
      t->set_depth(d);
      t->set_name("level-" + std::to_string(d));
      t->add_i32s(-d);
      t->add_s64s(-1000 * d);
      t->add_s32s(d - 30);
      t->add_sf32s(d);
      t->add_bools(d % 2 == 0);
      t->add_kinds(flat::KIND_A);
      if (d % 7 == 0)
        t->set_data(std::string(static_cast<size_t>(d) * 300, 'd'));
      (*t->mutable_meta())["k" + std::to_string(d)] = std::string(d, 'v');
      t = d % 2 ? t->mutable_left() : t->add_children();
    }
    for (int k = 0; k < (shape ? 700 : 3); k++) { // wide
      auto *c = root.add_children();
      c->set_name(std::string(static_cast<size_t>(k % 200), 'n'));
      c->add_names("x");
      c->add_names("");
      c->mutable_outer()->mutable_one()->set_s("s");
      c->add_flats()->set_i64(-k);
    }
    std::string want = SerializeDet(root);
    WeftMsg w(ToWeft(root, &weft_1test__flat__Tree_desc));
    ASSERT_EQ(Hex(want), Hex(AllocEncode(w.p))) << "shape " << shape;
    EXPECT_EQ(Hex(want), Hex(WeftEncode(w.p)));
    for (size_t cap : {want.size() - 1, want.size(), want.size() + 7}) {
      std::string buf(cap, '\0');
      ssize_t n = weft_encode(w.p, reinterpret_cast<uint8_t *>(&buf[0]), cap);
      if (cap < want.size()) {
        EXPECT_EQ(WEFT_ERR_TOO_BIG, n);
        continue;
      }
      ASSERT_EQ(static_cast<ssize_t>(want.size()), n);
      EXPECT_EQ(Hex(want), Hex(buf.substr(0, want.size())));
    }
  }
}

// Hand-built: NULL children and map entries, an entry with unknown fields,
// NULL strings in a repeated field, unknown fields at every level; the
// table-driven backward writer is the reference.
TEST(CodecGenEncode, NestedHandBuiltNulls) {
  ProtobufCMessageUnknownField uf[1];
  uint8_t ud[] = {5};
  uf[0].tag = 2000;
  uf[0].wire_type = PROTOBUF_C_WIRE_TYPE_VARINT;
  uf[0].len = 1;
  uf[0].data = ud;
  char k[] = "key", v[] = "value";
  weft_1test__flat__Tree__MetaEntry e1, e2;
  weft_1test__flat__Tree__MetaEntry_init(&e1);
  weft_1test__flat__Tree__MetaEntry_init(&e2);
  e1.key = k;
  e1.value = nullptr;
  e2.key = nullptr;
  e2.value = v;
  e2.base.n_unknown_fields = 1;
  e2.base.unknown_fields = uf;
  weft_1test__flat__Tree__MetaEntry *entries[] = {&e1, nullptr, &e2};
  weft_1test__flat__Tree leaf, root;
  weft_1test__flat__Tree_init(&leaf);
  weft_1test__flat__Tree_init(&root);
  leaf.base.n_unknown_fields = 1;
  leaf.base.unknown_fields = uf;
  char *names[] = {nullptr, k, nullptr};
  leaf.n_names = 3;
  leaf.names = names;
  leaf.n_meta = 3;
  leaf.meta = entries;
  weft_1test__flat__Tree *kids[] = {nullptr, &leaf, nullptr};
  root.n_children = 3;
  root.children = kids;
  root.left = &leaf;
  root.base.n_unknown_fields = 1;
  root.base.unknown_fields = uf;
  std::string want = AllocEncode(&root);
  ASSERT_EQ(want.size(), weft_encoded_size(&root));
  EveryCapacity(&root, want);
  flat::Tree back;
  ASSERT_TRUE(back.ParseFromString(want));
  EXPECT_EQ(3, back.children_size());
  EXPECT_EQ(3, back.left().names_size());
}

// Each sub-message gets a length slot as wide as the previous one's length
// (two bytes for the first): lengths of 0 to 3 bytes in one repeated field,
// in both orders, right at the end of exact-size buffers.
TEST(CodecGenEncode, SubMessageLengthSlots) {
  const size_t sizes[] = {0, 5, 120, 127, 128, 300, 16383, 16384, 40000, 3};
  for (int order = 0; order < 2; order++) {
    flat::Outer m;
    m.set_height(7);
    for (size_t k = 0; k < 10; k++) {
      size_t n = sizes[order ? 9 - k : k];
      auto *f = m.add_many();
      if (n)
        f->set_by(std::string(n, static_cast<char>('a' + k)));
    }
    m.mutable_one()->set_s(std::string(order ? 20 : 200, 'x'));
    m.mutable_last()->set_i32(-1);
    (*m.mutable_meta())["k"] = "v";
    std::string want = SerializeDet(m);
    WeftMsg w(ToWeft(m, &weft_1test__flat__Outer_desc));
    EXPECT_EQ(Hex(want), Hex(WeftEncode(w.p))) << "order " << order;
    for (size_t cap = want.size() - 3; cap <= want.size() + 30; cap++) {
      std::string buf(cap, '\0');
      ssize_t n = weft_encode(w.p, reinterpret_cast<uint8_t *>(&buf[0]), cap);
      if (cap < want.size()) {
        EXPECT_EQ(WEFT_ERR_TOO_BIG, n) << "capacity " << cap;
        continue;
      }
      ASSERT_EQ(static_cast<ssize_t>(want.size()), n) << "capacity " << cap;
      EXPECT_EQ(Hex(want), Hex(buf.substr(0, want.size())))
          << "capacity " << cap;
    }
  }
}

// Hand-built structs: NULL strings, a NULL element of a repeated message
// (an empty message), a NULL map entry and one with unknown fields (both
// through the entry's own writer), unknown fields of the root and of a
// sub-message. The table-driven writer is the reference.
TEST(CodecGenEncode, HandBuiltNullsAndUnknownFields) {
  weft_1test__flat__Flat a, b;
  weft_1test__flat__Flat_init(&a);
  weft_1test__flat__Flat_init(&b);
  a.s = nullptr;
  a.i32 = -2;
  ProtobufCMessageUnknownField uf[1];
  uint8_t ud[] = {5};
  uf[0].tag = 100;
  uf[0].wire_type = PROTOBUF_C_WIRE_TYPE_VARINT;
  uf[0].len = 1;
  uf[0].data = ud;
  b.base.n_unknown_fields = 1;
  b.base.unknown_fields = uf;
  b.db = -0.0;
  char k[] = "key";
  weft_1test__flat__Outer__MetaEntry e1, e2;
  weft_1test__flat__Outer__MetaEntry_init(&e1);
  weft_1test__flat__Outer__MetaEntry_init(&e2);
  e1.key = k;
  e1.value = nullptr;
  e2.key = k;
  e2.base.n_unknown_fields = 1;
  e2.base.unknown_fields = uf;
  weft_1test__flat__Outer__MetaEntry *entries[] = {&e1, nullptr, &e2};
  weft_1test__flat__Flat *many[] = {&a, nullptr, &b};
  weft_1test__flat__Outer o;
  weft_1test__flat__Outer_init(&o);
  o.kind = nullptr;
  o.one = &b;
  o.n_many = 3;
  o.many = many;
  o.n_meta = 3;
  o.meta = entries;
  o.base.n_unknown_fields = 1;
  o.base.unknown_fields = uf;
  std::string want = AllocEncode(&o);
  ASSERT_EQ(want.size(), weft_encoded_size(&o));
  EveryCapacity(&o, want);
  flat::Outer back;
  ASSERT_TRUE(back.ParseFromString(want));
  EXPECT_EQ(3, back.many_size());
  EXPECT_EQ(-2, back.many(0).i32());
}
