// The codec on protoc-gen-weft output: typed structs filled by hand must
// encode to Google's bytes, Google's bytes must decode to the expected
// struct values, and the randomized differential test runs on the generated
// descriptors too.
#include "all_types_proto2.pb.h"
#include "all_types_proto2.weft.h"
#include "all_types_proto3.pb.h"
#include "all_types_proto3.weft.h"
#include "differential.h"
#include "unknown_subset.pb.h"
#include "unknown_subset.weft.h"

using namespace weft_test;

TEST(CodecGenerated, DifferentialProto3) {
  Differential(weft_test::p3::AllTypes::default_instance(),
               &weft_1test__p3__AllTypes_desc, 300, 101);
}

TEST(CodecGenerated, DifferentialProto2) {
  Differential(weft_test::p2::AllTypes2::default_instance(),
               &weft_1test__p2__AllTypes2_desc, 300, 102);
}

TEST(CodecGenerated, HandFilledProto3MatchesCpp) {
  weft_1test__p3__AllTypes m = weft_1test__p3__AllTypes_INIT;
  weft_1test__p3__Nested child = weft_1test__p3__Nested_INIT;
  weft_1test__p3__Nested nested = weft_1test__p3__Nested_INIT;
  int32_t r_int32[] = {1, -1, 300, INT32_MIN};
  double u_double[] = {1.5, -0.0};
  char s0[] = "a", s1[] = "\xc3\xa9t\xc3\xa9";
  char *r_string[] = {s0, s1};
  m.f_int32 = -5;
  m.f_int64 = INT64_MIN;
  m.f_uint32 = UINT32_MAX;
  m.f_uint64 = UINT64_MAX;
  m.f_sint32 = -3;
  m.f_sint64 = -(1ll << 40);
  m.f_fixed32 = 7;
  m.f_fixed64 = 8;
  m.f_sfixed32 = -9;
  m.f_sfixed64 = -10;
  m.f_float = 0.25f;
  m.f_double = -0.0;
  m.f_bool = 1;
  m.f_string = s1;
  m.f_bytes.len = 2;
  m.f_bytes.data = reinterpret_cast<uint8_t *>(s0);
  m.f_kind = weft_1test__p3__Kind__KIND_NEG;
  child.b = s0;
  nested.a = 11;
  nested.child = &child;
  m.f_nested = &nested;
  m.has_o_int32 = 1;
  m.o_int32 = 0;
  m.o_string = s0;
  m.n_r_int32 = 4;
  m.r_int32 = r_int32;
  m.n_u_double = 2;
  m.u_double = u_double;
  m.n_r_string = 2;
  m.r_string = r_string;
  m.choice_case = 81;
  m.c_int32 = 0;
  m.f_big_number = 42;

  weft_test::p3::AllTypes c;
  c.set_f_int32(-5);
  c.set_f_int64(INT64_MIN);
  c.set_f_uint32(UINT32_MAX);
  c.set_f_uint64(UINT64_MAX);
  c.set_f_sint32(-3);
  c.set_f_sint64(-(1ll << 40));
  c.set_f_fixed32(7);
  c.set_f_fixed64(8);
  c.set_f_sfixed32(-9);
  c.set_f_sfixed64(-10);
  c.set_f_float(0.25f);
  c.set_f_double(-0.0);
  c.set_f_bool(true);
  c.set_f_string(s1);
  c.set_f_bytes(std::string("a\0", 2));
  c.set_f_kind(weft_test::p3::KIND_NEG);
  c.mutable_f_nested()->set_a(11);
  c.mutable_f_nested()->mutable_child()->set_b("a");
  c.set_o_int32(0);
  c.set_o_string("a");
  for (int32_t v : r_int32)
    c.add_r_int32(v);
  c.add_u_double(1.5);
  c.add_u_double(-0.0);
  c.add_r_string("a");
  c.add_r_string(s1);
  c.set_c_int32(0);
  c.set_f_big_number(42);
  std::string want = c.SerializeAsString();
  EXPECT_EQ(want.size(), weft_1test__p3__AllTypes_size(&m));
  std::string got(want.size(), '\0');
  EXPECT_EQ(static_cast<ssize_t>(want.size()),
            weft_1test__p3__AllTypes_encode(
                &m, reinterpret_cast<uint8_t *>(&got[0]), got.size()));
  EXPECT_EQ(Hex(want), Hex(got));

  // and back: Google's bytes into the generated struct
  weft_1test__p3__AllTypes *d = nullptr;
  weft_error err = {};
  ASSERT_EQ(0, weft_1test__p3__AllTypes_decode(U8(want), want.size(), nullptr,
                                               &d, &err))
      << err.message;
  EXPECT_EQ(-5, d->f_int32);
  EXPECT_EQ(INT64_MIN, d->f_int64);
  EXPECT_EQ(UINT64_MAX, d->f_uint64);
  EXPECT_EQ(-(1ll << 40), d->f_sint64);
  EXPECT_STREQ(s1, d->f_string);
  EXPECT_EQ(2u, d->f_bytes.len);
  EXPECT_EQ(weft_1test__p3__Kind__KIND_NEG, d->f_kind);
  ASSERT_NE(nullptr, d->f_nested);
  ASSERT_NE(nullptr, d->f_nested->child);
  EXPECT_STREQ("a", d->f_nested->child->b);
  EXPECT_EQ(1, d->has_o_int32);
  EXPECT_STREQ("a", d->o_string);
  ASSERT_EQ(4u, d->n_r_int32);
  EXPECT_EQ(INT32_MIN, d->r_int32[3]);
  ASSERT_EQ(2u, d->n_r_string);
  EXPECT_STREQ(s1, d->r_string[1]);
  EXPECT_EQ(81u, d->choice_case);
  EXPECT_EQ(42, d->f_big_number);
  EXPECT_TRUE(weft_message_equal(d, &m));
  weft_1test__p3__AllTypes_free(d);
}

TEST(CodecGenerated, Proto2GroupsDefaultsClosedEnums) {
  weft_1test__p2__AllTypes2 m = weft_1test__p2__AllTypes2_INIT;
  // defaults from the generated initializer
  EXPECT_EQ(-42, m.d_int32);
  EXPECT_STREQ("hello \"weft\"", m.d_string);
  EXPECT_EQ(weft_1test__p2__Closed__CLOSED_TWO, m.d_closed);
  EXPECT_EQ(UINT64_MAX, m.d_uint64);
  EXPECT_EQ(0u, weft_1test__p2__AllTypes2_size(&m));

  weft_test::p2::AllTypes2 c;
  c.mutable_optgroup()->set_g_a(5);
  c.add_repgroup()->mutable_inner()->set_g_c(6);
  c.set_f_closed(weft_test::p2::CLOSED_NEG);
  c.add_p_closed(weft_test::p2::CLOSED_BIG);
  c.mutable_req()->set_id(1);
  c.mutable_req()->set_name("r");
  std::string bytes = c.SerializeAsString();
  bytes += std::string("\x80\x01\x63", 3); // f_closed = 99: unknown value
  weft_1test__p2__AllTypes2 *d = nullptr;
  weft_error err = {};
  ASSERT_EQ(0, weft_1test__p2__AllTypes2_decode(U8(bytes), bytes.size(),
                                                nullptr, &d, &err))
      << err.message;
  ASSERT_NE(nullptr, d->optgroup);
  EXPECT_EQ(5, d->optgroup->g_a);
  ASSERT_EQ(1u, d->n_repgroup);
  ASSERT_NE(nullptr, d->repgroup[0]->inner);
  EXPECT_EQ(6, d->repgroup[0]->inner->g_c);
  EXPECT_EQ(weft_1test__p2__Closed__CLOSED_NEG, d->f_closed); // 99 did not land
  EXPECT_EQ(1u, d->base.n_unknown_fields);
  EXPECT_STREQ("r", d->req->name);
  weft_test::p2::AllTypes2 ref;
  ASSERT_TRUE(ref.ParseFromString(bytes));
  EXPECT_EQ(Hex(ref.SerializeAsString()), Hex(WeftEncode(d)));
  weft_1test__p2__AllTypes2_free(d);

  // missing required field inside the message names the path
  std::string bad = std::string("\xba\x04\x02\x08\x01", 5); // req {id: 1}
  err = {};
  EXPECT_EQ(
      WEFT_ERR_MISSING_REQUIRED,
      weft_1test__p2__AllTypes2_decode(U8(bad), bad.size(), nullptr, &d, &err));
  EXPECT_NE(std::string::npos,
            std::string(err.message).find("weft_test.p2.AllTypes2.req.name"))
      << err.message;
}

TEST(CodecGenerated, UnknownFieldsThroughGeneratedSubset) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 100; i++) {
    weft_test::p3::AllTypes full;
    RandomFill(&full, rng, 2, true);
    std::string bytes = full.SerializeAsString();
    weft_1test__subset__AllTypesSubset *s = nullptr;
    weft_error err = {};
    ASSERT_EQ(0, weft_1test__subset__AllTypesSubset_decode(
                     U8(bytes), bytes.size(), nullptr, &s, &err))
        << err.message;
    weft_test::subset::AllTypesSubset ref;
    ASSERT_TRUE(ref.ParseFromString(bytes));
    EXPECT_EQ(Hex(ref.SerializeAsString()), Hex(WeftEncode(s)));
    weft_1test__subset__AllTypesSubset_free(s);
  }
}

TEST(CodecGenerated, ArenaDecodeOfGeneratedType) {
  weft_test::p3::AllTypes c;
  c.set_f_string("arena");
  (*c.mutable_m_string())["k"].set_a(1);
  std::string bytes = c.SerializeAsString();
  weft_arena *a = nullptr;
  ASSERT_EQ(0, weft_arena_new(&a, 0));
  weft_decode_opts o = {};
  o.arena = a;
  weft_1test__p3__AllTypes *d = nullptr;
  ASSERT_EQ(0, weft_1test__p3__AllTypes_decode(U8(bytes), bytes.size(), &o, &d,
                                               nullptr));
  EXPECT_STREQ("arena", d->f_string);
  ASSERT_EQ(1u, d->n_m_string);
  EXPECT_STREQ("k", d->m_string[0]->key);
  EXPECT_EQ(1, d->m_string[0]->value->a);
  EXPECT_GT(weft_arena_used(a), 0u);
  weft_arena_free(a);
}

// Every varint length (1 to 10 bytes), with the varint followed by other
// fields (the decoder's unchecked fast paths: at least 10 bytes left) and as
// the last bytes of the input (the bounds-checked path), for unsigned,
// signed (10-byte negatives) and zigzag fields.
TEST(CodecGenerated, VarintsOfEveryLength) {
  std::vector<uint64_t> values = {0, UINT64_MAX};
  for (int k = 0; k < 64; k++) {
    values.push_back(uint64_t{1} << k);
    values.push_back((uint64_t{1} << k) - 1);
    values.push_back((uint64_t{1} << k) | 0x5555555555555555ull >> (63 - k));
  }
  for (uint64_t v : values) {
    for (bool tail : {false, true}) {
      weft_test::p3::AllTypes c;
      c.set_f_uint64(v);
      c.set_f_int32(static_cast<int32_t>(v));
      c.set_f_sint64(static_cast<int64_t>(v));
      if (tail)
        c.set_f_string("after the varints, more than ten bytes");
      std::string wire = c.SerializeAsString();
      WeftMsg m;
      weft_error err = {};
      ASSERT_EQ(0, ModeDecode(&weft_1test__p3__AllTypes_desc, wire, nullptr, &m,
                              &err))
          << err.message << " value " << v;
      auto *w = static_cast<weft_1test__p3__AllTypes *>(m.p);
      EXPECT_EQ(v, w->f_uint64) << "value " << v << " tail " << tail;
      EXPECT_EQ(static_cast<int32_t>(v), w->f_int32) << "value " << v;
      EXPECT_EQ(static_cast<int64_t>(v), w->f_sint64) << "value " << v;
    }
  }
}
