// protobuf-c's own pack/unpack over weft's generated tables gives the bytes
// Google's C++ gives for the same message: proof that offsets, labels,
// quantifiers, packing and defaults in the tables are right. (weft's codec
// has its own exhaustive differential tests; these cover the tables.)
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "gentest/v1/all2.pb.h"
#include "gentest/v1/all3.pb.h"

#include "gentest/v1/all2.weft.h"
#include "gentest/v1/all3.weft.h"

namespace {

std::string Pack(const ProtobufCMessage *m) {
  std::string out(protobuf_c_message_get_packed_size(m), '\0');
  size_t n = protobuf_c_message_pack(m, (uint8_t *)&out[0]);
  EXPECT_EQ(n, out.size());
  return out;
}

std::string Hex(const std::string &s) {
  static const char *d = "0123456789abcdef";
  std::string h;
  for (unsigned char c : s) {
    h += d[c >> 4];
    h += d[c & 15];
    h += ' ';
  }
  return h;
}

// C bytes -> protobuf-c unpack -> pack again must be stable too.
void Roundtrip(const ProtobufCMessageDescriptor *d, const std::string &bytes) {
  ProtobufCMessage *m = protobuf_c_message_unpack(
      d, nullptr, bytes.size(), (const uint8_t *)bytes.data());
  ASSERT_NE(m, nullptr) << d->name;
  EXPECT_EQ(Hex(Pack(m)), Hex(bytes)) << d->name;
  protobuf_c_message_free_unpacked(m, nullptr);
}

ProtobufCBinaryData Bin(const char *s, size_t n) {
  ProtobufCBinaryData b;
  b.len = n;
  b.data = (uint8_t *)s;
  return b;
}

void FillScalars(gentest__v1__Scalars *s) {
  s->f_double = -1.25;
  s->f_float = 3.5f;
  s->f_int64 = -5000000000LL;
  s->f_uint64 = 18000000000000000000ULL;
  s->f_int32 = -7;
  s->f_fixed64 = 0x0102030405060708ULL;
  s->f_fixed32 = 0xdeadbeef;
  s->f_bool = 1;
  s->f_string = (char *)"h\xc3\xa9llo";
  s->f_bytes = Bin("\0\1\2", 3);
  s->f_uint32 = 4000000000u;
  s->f_enum = gentest__v1__Color__COLOR_NEG;
  s->f_sfixed32 = -2;
  s->f_sfixed64 = -3;
  s->f_sint32 = -100;
  s->f_sint64 = -1000000000000LL;
}

void FillScalars(gentest::v1::Scalars *s) {
  s->set_f_double(-1.25);
  s->set_f_float(3.5f);
  s->set_f_int64(-5000000000LL);
  s->set_f_uint64(18000000000000000000ULL);
  s->set_f_int32(-7);
  s->set_f_fixed64(0x0102030405060708ULL);
  s->set_f_fixed32(0xdeadbeef);
  s->set_f_bool(true);
  s->set_f_string("h\xc3\xa9llo");
  s->set_f_bytes(std::string("\0\1\2", 3));
  s->set_f_uint32(4000000000u);
  s->set_f_enum(gentest::v1::COLOR_NEG);
  s->set_f_sfixed32(-2);
  s->set_f_sfixed64(-3);
  s->set_f_sint32(-100);
  s->set_f_sint64(-1000000000000LL);
}

TEST(GenWire, EmptyMessagesPackToNothing) {
  gentest__v1__Scalars s = gentest__v1__Scalars_INIT;
  EXPECT_EQ(Pack(&s.base), "");
  gentest__v1__Presence p = gentest__v1__Presence_INIT;
  EXPECT_EQ(Pack(&p.base), "");
  gentest__v1__Maps m;
  gentest__v1__Maps_init(&m);
  EXPECT_EQ(Pack(&m.base), "");
}

TEST(GenWire, Scalars) {
  gentest__v1__Scalars s = gentest__v1__Scalars_INIT,
                       child = gentest__v1__Scalars_INIT;
  google__protobuf__Timestamp ts = google__protobuf__Timestamp_INIT;
  google__protobuf__Any any = google__protobuf__Any_INIT;
  gentest__v2__Legacy legacy = gentest__v2__Legacy_INIT;
  FillScalars(&s);
  child.f_int32 = 1;
  s.child = &child;
  ts.seconds = 1700000000;
  ts.nanos = 5;
  s.ts = &ts;
  any.type_url = (char *)"type.googleapis.com/x.Y";
  any.value = Bin("\x08\x01", 2);
  s.any = &any;
  legacy.id = 9;
  legacy.name = (char *)"n";
  s.legacy = &legacy;

  gentest::v1::Scalars c;
  FillScalars(&c);
  c.mutable_child()->set_f_int32(1);
  c.mutable_ts()->set_seconds(1700000000);
  c.mutable_ts()->set_nanos(5);
  c.mutable_any()->set_type_url("type.googleapis.com/x.Y");
  c.mutable_any()->set_value(std::string("\x08\x01", 2));
  c.mutable_legacy()->set_id(9);
  c.mutable_legacy()->set_name("n");

  std::string mine = Pack(&s.base);
  EXPECT_EQ(Hex(mine), Hex(c.SerializeAsString()));
  Roundtrip(&gentest__v1__Scalars_desc.base, mine);
}

TEST(GenWire, RepeatedPackedAndUnpacked) {
  int32_t ints[] = {1, -2, 300};
  int64_t sints[] = {-1, 2, -300000000000LL};
  double dbl[] = {0.5, -0.0};
  protobuf_c_boolean bools[] = {1, 0, 1};
  gentest__v1__Color colors[] = {gentest__v1__Color__COLOR_RED,
                                 gentest__v1__Color__COLOR_NEG};
  char *strs[] = {(char *)"a", (char *)""};
  ProtobufCBinaryData blobs[] = {Bin("x", 1), Bin("", 0)};
  gentest__v1__Scalars m1 = gentest__v1__Scalars_INIT,
                       m2 = gentest__v1__Scalars_INIT;
  m2.f_bool = 1;
  gentest__v1__Scalars *msgs[] = {&m1, &m2};
  uint32_t fixed[] = {1, 0xffffffff};

  gentest__v1__Repeats r = gentest__v1__Repeats_INIT;
  r.n_packed_int32 = 3;
  r.packed_int32 = ints;
  r.n_unpacked_int32 = 3;
  r.unpacked_int32 = ints;
  r.n_packed_sint64 = 3;
  r.packed_sint64 = sints;
  r.n_doubles = 2;
  r.doubles = dbl;
  r.n_bools = 3;
  r.bools = bools;
  r.n_colors = 2;
  r.colors = colors;
  r.n_strings = 2;
  r.strings = strs;
  r.n_blobs = 2;
  r.blobs = blobs;
  r.n_msgs = 2;
  r.msgs = msgs;
  r.n_fixed = 2;
  r.fixed = fixed;

  gentest::v1::Repeats c;
  for (int32_t v : ints) {
    c.add_packed_int32(v);
    c.add_unpacked_int32(v);
  }
  for (int64_t v : sints)
    c.add_packed_sint64(v);
  for (double v : dbl)
    c.add_doubles(v);
  for (auto v : bools)
    c.add_bools(v != 0);
  c.add_colors(gentest::v1::COLOR_RED);
  c.add_colors(gentest::v1::COLOR_NEG);
  c.add_strings("a");
  c.add_strings("");
  c.add_blobs("x");
  c.add_blobs("");
  c.add_msgs();
  c.add_msgs()->set_f_bool(true);
  c.add_fixed(1);
  c.add_fixed(0xffffffff);

  std::string mine = Pack(&r.base);
  EXPECT_EQ(Hex(mine), Hex(c.SerializeAsString()));
  Roundtrip(&gentest__v1__Repeats_desc.base, mine);
}

TEST(GenWire, MapsOneEntryEach) {
  gentest__v1__Maps m = gentest__v1__Maps_INIT;
  gentest::v1::Maps c;
#define ENTRY(field, T, k, v)                                                  \
  T field##_e = T##_INIT;                                                      \
  T *field##_p = &field##_e;                                                   \
  field##_e.key = k;                                                           \
  field##_e.value = v;                                                         \
  m.n_##field = 1;                                                             \
  m.field = &field##_p;
  ENTRY(m_int32, gentest__v1__Maps__MInt32Entry, -1, (char *)"one")
  (*c.mutable_m_int32())[-1] = "one";
  ENTRY(m_int64, gentest__v1__Maps__MInt64Entry, 1LL << 40, -5)
  (*c.mutable_m_int64())[1LL << 40] = -5;
  ENTRY(m_uint32, gentest__v1__Maps__MUint32Entry, 7, Bin("b", 1))
  (*c.mutable_m_uint32())[7] = "b";
  ENTRY(m_uint64, gentest__v1__Maps__MUint64Entry, 8,
        gentest__v1__Color__COLOR_GREEN)
  (*c.mutable_m_uint64())[8] = gentest::v1::COLOR_GREEN;
  ENTRY(m_sint32, gentest__v1__Maps__MSint32Entry, -9, 1.5)
  (*c.mutable_m_sint32())[-9] = 1.5;
  ENTRY(m_sint64, gentest__v1__Maps__MSint64Entry, -10, 2.5f)
  (*c.mutable_m_sint64())[-10] = 2.5f;
  ENTRY(m_fixed32, gentest__v1__Maps__MFixed32Entry, 11, 1)
  (*c.mutable_m_fixed32())[11] = true;
  gentest__v1__Scalars sv = gentest__v1__Scalars_INIT;
  sv.f_int32 = 3;
  ENTRY(m_fixed64, gentest__v1__Maps__MFixed64Entry, 12, &sv)
  (*c.mutable_m_fixed64())[12].set_f_int32(3);
  ENTRY(m_sfixed32, gentest__v1__Maps__MSfixed32Entry, -13, -14)
  (*c.mutable_m_sfixed32())[-13] = -14;
  ENTRY(m_sfixed64, gentest__v1__Maps__MSfixed64Entry, -15, -16)
  (*c.mutable_m_sfixed64())[-15] = -16;
  ENTRY(m_bool, gentest__v1__Maps__MBoolEntry, 1, (char *)"t")
  (*c.mutable_m_bool())[true] = "t";
  ENTRY(m_string, gentest__v1__Maps__MStringEntry, (char *)"k", &sv)
  (*c.mutable_m_string())["k"].set_f_int32(3);
#undef ENTRY
  std::string mine = Pack(&m.base);
  EXPECT_EQ(Hex(mine), Hex(c.SerializeAsString()));
  Roundtrip(&gentest__v1__Maps_desc.base, mine);
}

TEST(GenWire, Oneofs) {
  gentest__v1__Scalars inner = gentest__v1__Scalars_INIT;
  inner.f_int32 = 5;
  struct Case {
    uint32_t kind, other;
  } cases[] = {{0, 0}, {2, 7}, {3, 8}, {4, 0}, {5, 7}, {6, 8}};
  for (const Case &k : cases) {
    SCOPED_TRACE(k.kind);
    gentest__v1__Choice ch = gentest__v1__Choice_INIT;
    gentest::v1::Choice c;
    ch.name = (char *)"n";
    c.set_name("n");
    ch.tail = 1;
    c.set_tail(1);
    ch.kind_case = k.kind;
    switch (k.kind) {
    case 2:
      ch.number = 0;
      c.set_number(0);
      break; // zero is still present
    case 3:
      ch.text = (char *)"";
      c.set_text("");
      break;
    case 4:
      ch.msg = &inner;
      c.mutable_msg()->set_f_int32(5);
      break;
    case 5:
      ch.raw = Bin("r", 1);
      c.set_raw("r");
      break;
    case 6:
      ch.color = gentest__v1__Color__COLOR_UNSPECIFIED;
      c.set_color(gentest::v1::COLOR_UNSPECIFIED);
      break;
    }
    ch.other_case = k.other;
    if (k.other == 7) {
      ch.flag = 0;
      c.set_flag(false);
    } else if (k.other == 8) {
      ch.real = 2.0;
      c.set_real(2.0);
    }
    std::string mine = Pack(&ch.base);
    EXPECT_EQ(Hex(mine), Hex(c.SerializeAsString()));
    Roundtrip(&gentest__v1__Choice_desc.base, mine);
  }
}

TEST(GenWire, OneofFirstMemberBytes) {
  gentest__v1__BytesFirst m = gentest__v1__BytesFirst_INIT;
  EXPECT_EQ(m.o_case, 0u);
  EXPECT_EQ(m.b.len, 0u);
  m.o_case = gentest__v1__BytesFirst_FIELD_b;
  m.b = Bin("", 0);
  gentest::v1::BytesFirst c;
  c.set_b("");
  EXPECT_EQ(Hex(Pack(&m.base)), Hex(c.SerializeAsString()));
  m.o_case = gentest__v1__BytesFirst_FIELD_i;
  m.i = 3;
  c.set_i(3);
  EXPECT_EQ(Hex(Pack(&m.base)), Hex(c.SerializeAsString()));
  EXPECT_EQ(gentest__v1__Choice_FIELD_text, 3);
  EXPECT_EQ(gentest__v2__Legacy_FIELD_p_str, 33);
}

TEST(GenWire, Proto3OptionalPresenceOfZero) {
  gentest__v1__Presence p = gentest__v1__Presence_INIT;
  gentest__v1__Scalars empty = gentest__v1__Scalars_INIT;
  // Absent: NULL strings/messages, has_ = 0.
  EXPECT_EQ(p.o_string, nullptr);
  EXPECT_EQ(p.o_msg, nullptr);
  EXPECT_EQ(p.has_o_int32, 0);
  p.has_o_int32 = 1;
  p.o_int32 = 0;
  p.o_string = (char *)"";
  p.has_o_bytes = 1;
  p.o_bytes = Bin("", 0);
  p.has_o_enum = 1;
  p.o_enum = gentest__v1__Color__COLOR_UNSPECIFIED;
  p.o_msg = &empty;
  p.has_o_bool = 1;
  p.o_bool = 0;
  p.has_o_double = 1;
  p.o_double = 0.0;
  p.plain = 0; // implicit presence: zero is not sent
  p.json_named = (char *)"j";
  gentest::v1::Presence c;
  c.set_o_int32(0);
  c.set_o_string("");
  c.set_o_bytes("");
  c.set_o_enum(gentest::v1::COLOR_UNSPECIFIED);
  c.mutable_o_msg();
  c.set_o_bool(false);
  c.set_o_double(0.0);
  c.set_json_named("j");
  std::string mine = Pack(&p.base);
  EXPECT_EQ(Hex(mine), Hex(c.SerializeAsString()));
  EXPECT_FALSE(mine.empty());

  // And back: protobuf-c sets has_ for zero values present on the wire.
  gentest__v1__Presence *back =
      (gentest__v1__Presence *)protobuf_c_message_unpack(
          &gentest__v1__Presence_desc.base, nullptr, mine.size(),
          (const uint8_t *)mine.data());
  ASSERT_NE(back, nullptr);
  EXPECT_TRUE(back->has_o_int32);
  EXPECT_TRUE(back->has_o_bool);
  EXPECT_TRUE(back->has_o_double);
  EXPECT_TRUE(back->has_o_enum);
  EXPECT_TRUE(back->has_o_bytes);
  ASSERT_NE(back->o_string, nullptr);
  EXPECT_STREQ(back->o_string, "");
  EXPECT_NE(back->o_msg, nullptr);
  protobuf_c_message_free_unpacked(&back->base, nullptr);
}

TEST(GenWire, Proto2DefaultsMatchCxx) {
  gentest__v2__Legacy l = gentest__v2__Legacy_INIT;
  gentest::v2::Legacy c;
  EXPECT_EQ(l.i32, c.i32());
  EXPECT_EQ(l.i64, c.i64());
  EXPECT_EQ(l.i64, std::numeric_limits<int64_t>::min());
  EXPECT_EQ(l.u32, c.u32());
  EXPECT_EQ(l.u64, c.u64());
  EXPECT_EQ(l.s32, c.s32());
  EXPECT_EQ(l.s64, c.s64());
  EXPECT_EQ(l.fx32, c.fx32());
  EXPECT_EQ(l.fx64, c.fx64());
  EXPECT_EQ(l.sfx32, c.sfx32());
  EXPECT_EQ(l.sfx64, c.sfx64());
  EXPECT_EQ(l.f, c.f());
  EXPECT_EQ(l.d, c.d());
  EXPECT_TRUE(std::isinf(l.f_inf) && l.f_inf > 0);
  EXPECT_TRUE(std::isinf(l.d_ninf) && l.d_ninf < 0);
  EXPECT_TRUE(std::isnan(l.d_nan));
  EXPECT_EQ(l.b != 0, c.b());
  EXPECT_EQ(std::string(l.s), c.s());
  EXPECT_EQ(std::string((const char *)l.by.data, l.by.len), c.by());
  EXPECT_EQ((int)l.lvl, (int)c.lvl()); // first value: LEVEL_LOW = 5
  EXPECT_EQ((int)l.lvl, 5);
  EXPECT_EQ((int)l.lvl2, (int)c.lvl2());
  EXPECT_EQ((int)l.lvl_neg, (int)c.lvl_neg());
  EXPECT_EQ(l.f_one, c.f_one());
  EXPECT_EQ(l.plain_s, nullptr);
  EXPECT_EQ(l.plain_b.len, 0u);
  EXPECT_EQ(l.has_i32, 0);

  // _init gives the same as _INIT, and protobuf-c's table init agrees.
  gentest__v2__Legacy l2;
  memset(&l2, 0xab, sizeof l2);
  gentest__v2__Legacy_init(&l2);
  EXPECT_EQ(l2.i32, -42);
  EXPECT_EQ(l2.s, l.s);
  gentest__v2__Legacy l3;
  protobuf_c_message_init(&gentest__v2__Legacy_desc.base, &l3);
  EXPECT_EQ(l3.u64, l.u64);
  EXPECT_EQ(l3.by.data, l.by.data);

  // Only required fields are packed while every optional is unset, even
  // though their values are the defaults.
  l.id = 1;
  l.name = (char *)"x";
  c.set_id(1);
  c.set_name("x");
  EXPECT_EQ(Hex(Pack(&l.base)), Hex(c.SerializeAsString()));

  // Setting optionals (to their defaults, and to other values) packs them.
  l.has_i32 = 1;
  c.set_i32(-42);
  l.has_u64 = 1;
  c.set_u64(c.u64());
  l.s = (char *)"other";
  c.set_s("other");
  l.has_by = 1;
  c.set_by(c.by());
  l.has_lvl2 = 1;
  l.lvl2 = gentest__v2__Level__LEVEL_MID;
  c.set_lvl2(gentest::v2::LEVEL_MID);
  l.has_d_nan = 1;
  c.set_d_nan(l.d_nan);
  int32_t pk[] = {1, 2};
  l.n_packed = 2;
  l.packed = pk;
  l.n_unpacked = 2;
  l.unpacked = pk;
  c.add_packed(1);
  c.add_packed(2);
  c.add_unpacked(1);
  c.add_unpacked(2);
  l.pick_case = 33;
  l.p_str = (char *)"p";
  c.set_p_str("p");
  std::string mine = Pack(&l.base);
  EXPECT_EQ(Hex(mine), Hex(c.SerializeAsString()));
  Roundtrip(&gentest__v2__Legacy_desc.base, mine);
}

TEST(GenWire, UnpackCxxBytes) {
  gentest::v1::Tree c;
  c.set_label("root");
  c.add_children()->set_label("kid");
  c.mutable_leaf()->set_weight(3);
  c.mutable_leaf()->set_kind(gentest::v1::Tree::Leaf::KIND_A);
  (*c.mutable_leaves())["a"].set_weight(1);
  std::string bytes = c.SerializeAsString();
  gentest__v1__Tree *t = (gentest__v1__Tree *)protobuf_c_message_unpack(
      &gentest__v1__Tree_desc.base, nullptr, bytes.size(),
      (const uint8_t *)bytes.data());
  ASSERT_NE(t, nullptr);
  EXPECT_STREQ(t->label, "root");
  ASSERT_EQ(t->n_children, 1u);
  EXPECT_STREQ(t->children[0]->label, "kid");
  ASSERT_NE(t->leaf, nullptr);
  EXPECT_EQ(t->leaf->weight, 3);
  EXPECT_EQ(t->leaf->kind, gentest__v1__Tree__Leaf__Kind__KIND_A);
  ASSERT_EQ(t->n_leaves, 1u);
  EXPECT_STREQ(t->leaves[0]->key, "a");
  EXPECT_EQ(t->leaves[0]->value->weight, 1);
  EXPECT_EQ(Hex(Pack(&t->base)), Hex(bytes));
  protobuf_c_message_free_unpacked(&t->base, nullptr);

  gentest::v1::Sparse sp;
  sp.set_a(1);
  sp.set_e(5);
  sp.set_z(-1);
  bytes = sp.SerializeAsString();
  Roundtrip(&gentest__v1__Sparse_desc.base, bytes);
}

} // namespace
