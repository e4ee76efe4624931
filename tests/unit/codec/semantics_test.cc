// Decode semantics that must match Google's: unknown-field preservation
// (groups included), closed enums, merging, last-one-wins, oneof switching,
// packed/unpacked acceptance, map entries with missing parts or duplicate
// keys, proto2 defaults.
#include <google/protobuf/util/message_differencer.h>

#include "all_types_proto2.pb.h"
#include "all_types_proto3.pb.h"
#include "random_msg.h"
#include "test_util.h"
#include "unknown_subset.pb.h"
#include "unknown_subset2.pb.h"

using namespace weft_test;
using google::protobuf::Message;
using google::protobuf::util::MessageDifferencer;

namespace {

// Decodes with weft (in this run's mode), checks success, returns the
// message.
WeftMsg Dec(const google::protobuf::Descriptor *cd, const std::string &in) {
  WeftMsg out;
  weft_error err = {};
  int rv = ModeDecode(DynDesc(cd), in, nullptr, &out, &err);
  EXPECT_EQ(0, rv) << err.message;
  return out;
}

template <class M> M ToCpp(const void *w) {
  M m;
  FromWeft(w, &m);
  return m;
}

std::string S(std::initializer_list<int> b) {
  std::string s;
  for (int c : b)
    s.push_back(static_cast<char>(c));
  return s;
}

} // namespace

TEST(CodecSemantics, UnknownFieldsSurviveReencode) {
  std::mt19937_64 rng(11);
  for (int i = 0; i < 200; i++) {
    weft_test::p3::AllTypes full;
    RandomFill(&full, rng, 2, true);
    std::string bytes = full.SerializeAsString();
    for (auto *cd : {weft_test::subset::AllTypesSubset::descriptor(),
                     weft_test::subset::Empty::descriptor()}) {
      WeftMsg w(Dec(cd, bytes));
      // Known fields are written first, unknown ones after: compare with
      // what C++ does with the same reduced type.
      std::unique_ptr<Message> ref(
          google::protobuf::MessageFactory::generated_factory()
              ->GetPrototype(cd)
              ->New());
      ASSERT_TRUE(ref->ParseFromString(bytes));
      EXPECT_EQ(Hex(ref->SerializeAsString()), Hex(WeftEncode(w.p)));
    }
  }
}

TEST(CodecSemantics, Proto2GroupsAsUnknownAndKnown) {
  weft_test::p2::AllTypes2 m;
  m.mutable_optgroup()->set_g_a(5);
  m.mutable_optgroup()->set_g_b("gb");
  auto *rg = m.add_repgroup();
  rg->set_g_c(1);
  rg->mutable_inner()->set_g_c(2);
  m.add_repgroup()->set_g_c(3);
  m.set_f_int32(9);
  std::string bytes = m.SerializeAsString();
  // known: decode and re-encode, values equal
  WeftMsg k(Dec(weft_test::p2::AllTypes2::descriptor(), bytes));
  EXPECT_EQ(Hex(bytes), Hex(WeftEncode(k.p)));
  EXPECT_TRUE(
      MessageDifferencer::Equals(m, ToCpp<weft_test::p2::AllTypes2>(k.p)));
  // unknown: the subset type keeps the groups as raw unknown fields
  WeftMsg u(Dec(weft_test::subset2::AllTypes2Subset::descriptor(), bytes));
  weft_test::subset2::AllTypes2Subset ref;
  ASSERT_TRUE(ref.ParseFromString(bytes));
  EXPECT_EQ(Hex(ref.SerializeAsString()), Hex(WeftEncode(u.p)));
  const auto *b = static_cast<const ProtobufCMessage *>(u.p);
  ASSERT_EQ(3u, b->n_unknown_fields);
  EXPECT_EQ(41u, b->unknown_fields[0].tag);
  EXPECT_EQ(3, static_cast<int>(b->unknown_fields[0].wire_type));
}

TEST(CodecSemantics, ClosedEnumUnknownValuesGoToUnknownFields) {
  // f_closed (16) = 99 (unknown), p_closed (34) packed [1, 77, 2],
  // r_closed (33) unpacked 55
  std::string in = S(
      {0x80, 0x01, 0x63, 0x92, 0x02, 0x03, 0x01, 0x4d, 0x02, 0x88, 0x02, 0x37});
  WeftMsg w(Dec(weft_test::p2::AllTypes2::descriptor(), in));
  auto cpp = ToCpp<weft_test::p2::AllTypes2>(w.p);
  weft_test::p2::AllTypes2 ref;
  ASSERT_TRUE(ref.ParseFromString(in));
  EXPECT_FALSE(cpp.has_f_closed());
  ASSERT_EQ(2, cpp.p_closed_size());
  EXPECT_EQ(0, cpp.r_closed_size());
  EXPECT_TRUE(MessageDifferencer::Equals(ref, cpp));
  EXPECT_EQ(Hex(ref.SerializeAsString()), Hex(WeftEncode(w.p)));
  EXPECT_EQ(3u, static_cast<const ProtobufCMessage *>(w.p)->n_unknown_fields);
  // open (proto3) enums keep unknown numbers in the field
  WeftMsg o(Dec(weft_test::p3::AllTypes::descriptor(), S({0x80, 0x01, 0x63})));
  EXPECT_EQ(99, ToCpp<weft_test::p3::AllTypes>(o.p).f_kind());
}

TEST(CodecSemantics, SingularMessageOccurrencesMerge) {
  weft_test::p3::AllTypes a, b;
  a.mutable_f_nested()->set_a(1);
  a.mutable_f_nested()->mutable_child()->set_a(10);
  b.mutable_f_nested()->set_b("two");
  b.mutable_f_nested()->mutable_child()->set_b("x");
  b.mutable_f_nested()->add_children()->set_a(3);
  std::string in = a.SerializeAsString() + b.SerializeAsString();
  weft_test::p3::AllTypes ref;
  ASSERT_TRUE(ref.ParseFromString(in));
  WeftMsg w(Dec(weft_test::p3::AllTypes::descriptor(), in));
  auto cpp = ToCpp<weft_test::p3::AllTypes>(w.p);
  EXPECT_EQ(1, cpp.f_nested().a());
  EXPECT_EQ("two", cpp.f_nested().b());
  EXPECT_EQ(10, cpp.f_nested().child().a());
  EXPECT_TRUE(MessageDifferencer::Equals(ref, cpp));
  EXPECT_EQ(Hex(ref.SerializeAsString()), Hex(WeftEncode(w.p)));
}

TEST(CodecSemantics, DecodeMergeIntoExisting) {
  weft_test::p2::AllTypes2 a, b;
  a.set_f_int32(1);
  a.add_r_int32(1);
  a.add_r_string("a");
  a.mutable_f_self()->set_f_string("inner");
  b.set_f_int64(2);
  for (int i = 0; i < 9; i++)
    b.add_r_int32(i);
  b.add_r_string("b");
  b.mutable_f_self()->set_f_bool(true);
  weft_test::p2::AllTypes2 ref = a;
  ref.MergeFrom(b);
  // start from a weft message filled directly (exact-size arrays)
  WeftMsg w(ToWeft(a, DynDesc(a.GetDescriptor())));
  std::string bb = b.SerializeAsString();
  weft_error err = {};
  ASSERT_EQ(0, weft_decode_merge(w.p, U8(bb), bb.size(), nullptr, &err))
      << err.message;
  EXPECT_TRUE(
      MessageDifferencer::Equals(ref, ToCpp<weft_test::p2::AllTypes2>(w.p)));
  // and into an arena copy
  weft_arena *arena = nullptr;
  ASSERT_EQ(0, weft_arena_new(&arena, 512));
  void *c = nullptr;
  ASSERT_EQ(0, weft_message_copy(w.p, arena, &c));
  weft_decode_opts o = {};
  o.arena = arena;
  ASSERT_EQ(0, weft_decode_merge(c, U8(bb), bb.size(), &o, &err))
      << err.message;
  ref.MergeFrom(b);
  EXPECT_TRUE(
      MessageDifferencer::Equals(ref, ToCpp<weft_test::p2::AllTypes2>(c)));
  weft_arena_free(arena);
}

TEST(CodecSemantics, LastScalarWinsAndPackedUnpackedBothAccepted) {
  // f_int32 = 1 then 2; r_int32 (packed in proto3) sent unpacked and packed;
  // u_int32 (unpacked) sent packed
  std::string in = S({0x08, 0x01, 0x08, 0x02, 0xf8, 0x01, 0x05, 0xfa, 0x01,
                      0x02, 0x06, 0x07, 0x82, 0x03, 0x02, 0x08, 0x09});
  weft_test::p3::AllTypes ref;
  ASSERT_TRUE(ref.ParseFromString(in));
  WeftMsg w(Dec(weft_test::p3::AllTypes::descriptor(), in));
  auto cpp = ToCpp<weft_test::p3::AllTypes>(w.p);
  EXPECT_EQ(2, cpp.f_int32());
  ASSERT_EQ(3, cpp.r_int32_size());
  ASSERT_EQ(2, cpp.u_int32_size());
  EXPECT_TRUE(MessageDifferencer::Equals(ref, cpp));
  EXPECT_EQ(Hex(ref.SerializeAsString()), Hex(WeftEncode(w.p)));
}

TEST(CodecSemantics, OneofSwitchClearsPrevious) {
  weft_test::p3::AllTypes a, b, c;
  a.mutable_c_nested()->set_b("first");
  b.set_c_string("second");
  c.set_c_int32(0);
  for (const std::string &in :
       {a.SerializeAsString() + b.SerializeAsString(),
        b.SerializeAsString() + a.SerializeAsString(),
        a.SerializeAsString() + c.SerializeAsString(),
        b.SerializeAsString() + b.SerializeAsString()}) {
    weft_test::p3::AllTypes ref;
    ASSERT_TRUE(ref.ParseFromString(in));
    WeftMsg w(Dec(weft_test::p3::AllTypes::descriptor(), in));
    EXPECT_TRUE(
        MessageDifferencer::Equals(ref, ToCpp<weft_test::p3::AllTypes>(w.p)));
    EXPECT_EQ(Hex(ref.SerializeAsString()), Hex(WeftEncode(w.p)));
  }
}

TEST(CodecSemantics, MapEntriesMissingPartsAndDuplicateKeys) {
  // m_string (72): entry with no key and no value, then key "k" value {a:1},
  // then "k" again with value {a:2}; m_int32 (61): entry with only a key.
  std::string in = S({0xc2, 0x04, 0x00});
  in += S({0xc2, 0x04, 0x07, 0x0a, 0x01, 'k', 0x12, 0x02, 0x08, 0x01});
  in += S({0xc2, 0x04, 0x07, 0x0a, 0x01, 'k', 0x12, 0x02, 0x08, 0x02});
  in += S({0xea, 0x03, 0x02, 0x08, 0x05});
  weft_test::p3::AllTypes ref;
  ASSERT_TRUE(ref.ParseFromString(in));
  WeftMsg w(Dec(weft_test::p3::AllTypes::descriptor(), in));
  auto cpp = ToCpp<weft_test::p3::AllTypes>(w.p);
  EXPECT_TRUE(MessageDifferencer::Equals(ref, cpp));
  ASSERT_EQ(2, cpp.m_string_size());
  EXPECT_EQ(2, cpp.m_string().at("k").a());
  EXPECT_EQ("", cpp.m_int32().at(5));
  // Entries are written with key and value, like Google does.
  EXPECT_EQ(Hex(SerializeDet(ref)), Hex(WeftEncode(w.p)));
}

TEST(CodecSemantics, Proto2DefaultsAndPresence) {
  WeftMsg w(Dec(weft_test::p2::AllTypes2::descriptor(), ""));
  weft_test::p2::AllTypes2 ref;
  auto cpp = ToCpp<weft_test::p2::AllTypes2>(w.p);
  EXPECT_EQ(0u, weft_encoded_size(w.p));
  // Defaults are visible in the struct (through the descriptor defaults)
  const weft_msg_desc *d = DynDesc(ref.GetDescriptor());
  const ProtobufCFieldDescriptor *f = weft_field_by_number(d, 22);
  ASSERT_NE(nullptr, f);
  EXPECT_STREQ("hello \"weft\"", *reinterpret_cast<char **>(
                                     static_cast<char *>(w.p) + f->offset));
  f = weft_field_by_number(d, 21);
  EXPECT_EQ(-42,
            *reinterpret_cast<int32_t *>(static_cast<char *>(w.p) + f->offset));
  // Explicitly set to the default value: present and written.
  ref.set_d_int32(-42);
  ref.set_d_string("hello \"weft\"");
  ref.set_f_int32(0);
  WeftMsg x(Dec(ref.GetDescriptor(), ref.SerializeAsString()));
  EXPECT_EQ(Hex(ref.SerializeAsString()), Hex(WeftEncode(x.p)));
}

TEST(CodecSemantics, Proto3OptionalPresence) {
  weft_test::p3::AllTypes m;
  m.set_o_int32(0);
  m.set_o_string("");
  m.set_o_bool(false);
  m.set_o_double(0.0);
  m.set_f_double(-0.0);
  std::string bytes = m.SerializeAsString();
  WeftMsg w(Dec(m.GetDescriptor(), bytes));
  EXPECT_EQ(Hex(bytes), Hex(WeftEncode(w.p)));
  WeftMsg x(ToWeft(m, DynDesc(m.GetDescriptor())));
  EXPECT_EQ(Hex(bytes), Hex(WeftEncode(x.p)));
}

TEST(CodecSemantics, DiscardUnknown) {
  weft_test::p3::AllTypes m;
  m.set_f_int64(5);
  m.set_f_bool(true);
  std::string bytes = m.SerializeAsString();
  weft_decode_opts o = {};
  o.discard_unknown = 1;
  WeftMsg w;
  ASSERT_EQ(0,
            ModeDecode(DynDesc(weft_test::subset::AllTypesSubset::descriptor()),
                       bytes, &o, &w, nullptr));
  EXPECT_EQ(0u, static_cast<ProtobufCMessage *>(w.p)->n_unknown_fields);
  EXPECT_EQ(Hex(S({0x10, 0x05})), Hex(WeftEncode(w.p)));
}

TEST(CodecSemantics, CheckRequiredAndClear) {
  weft_test::p2::AllTypes2 m;
  m.mutable_req()->set_id(1);
  m.mutable_req()->set_name("n");
  m.add_r_req()->set_id(2);
  m.mutable_r_req(0)->set_name("m");
  WeftMsg w(ToWeft(m, DynDesc(m.GetDescriptor())));
  weft_error err = {};
  EXPECT_EQ(0, weft_message_check(w.p, &err)) << err.message;
  // drop r_req[0].name
  const weft_msg_desc *d = DynDesc(m.GetDescriptor());
  const ProtobufCFieldDescriptor *f = weft_field_by_number(d, 37);
  void *req0 =
      (*reinterpret_cast<void ***>(static_cast<char *>(w.p) + f->offset))[0];
  const ProtobufCFieldDescriptor *nf =
      weft_field_by_number(DynDesc(weft_test::p2::Req::descriptor()), 2);
  char **name =
      reinterpret_cast<char **>(static_cast<char *>(req0) + nf->offset);
  free(*name);
  *name = nullptr;
  EXPECT_EQ(WEFT_ERR_MISSING_REQUIRED, weft_message_check(w.p, &err));
  EXPECT_STREQ("weft_test.p2.AllTypes2.r_req[0].name: required field missing",
               err.message);
  weft_message_clear(w.p);
  EXPECT_EQ(0u, weft_encoded_size(w.p));
  EXPECT_EQ(0, weft_message_check(w.p, &err));
}

TEST(CodecSemantics, EncodeIntoShortBuffer) {
  weft_test::p3::AllTypes m;
  m.set_f_string("0123456789");
  m.add_r_nested()->set_b("abc");
  WeftMsg w(ToWeft(m, DynDesc(m.GetDescriptor())));
  size_t n = weft_encoded_size(w.p);
  std::string buf(n + 10, '\0');
  for (size_t cap = 0; cap < n; cap++)
    EXPECT_EQ(WEFT_ERR_TOO_BIG,
              weft_encode(w.p, reinterpret_cast<uint8_t *>(&buf[0]), cap));
  // a larger buffer: the output is moved to the front
  ssize_t k =
      weft_encode(w.p, reinterpret_cast<uint8_t *>(&buf[0]), buf.size());
  ASSERT_EQ(static_cast<ssize_t>(n), k);
  EXPECT_EQ(Hex(m.SerializeAsString()), Hex(buf.substr(0, n)));
  uint8_t *out = nullptr;
  size_t len = 0;
  ASSERT_EQ(0, weft_encode_alloc(w.p, &out, &len));
  EXPECT_EQ(Hex(m.SerializeAsString()),
            Hex(std::string(reinterpret_cast<char *>(out), len)));
  free(out);
}

// Inputs found by fuzz_decode (tests/fuzz/decode/corpus/regress_*): a
// message weft accepts must re-encode and decode again to an equal one.
TEST(CodecSemantics, FuzzRegressions) {
  const char *names[] = {"regress_roundtrip_1", "regress_roundtrip_2"};
  for (const char *name : names) {
    std::string in;
    FILE *f =
        fopen((std::string(WEFT_CODEC_CORPUS_DIR "/") + name).c_str(), "rb");
    ASSERT_NE(nullptr, f) << name;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
      in.append(buf, n);
    fclose(f);
    in = in.substr(1); // selector byte 1: AllTypes2
    WeftMsg wa;
    weft_error err = {};
    const weft_msg_desc *d = DynDesc(weft_test::p2::AllTypes2::descriptor());
    if (ModeDecode(d, in, nullptr, &wa, &err) != 0)
      continue;
    std::string enc = WeftEncode(wa.p);
    WeftMsg b(Dec(weft_test::p2::AllTypes2::descriptor(), enc));
    EXPECT_TRUE(weft_message_equal(wa.p, b.p)) << name;
  }
}

TEST(CodecSemantics, MapValueWithRequiredFieldsMustBePresent) {
  // m_req (52) entry {key: 1} without a value: Req's required fields missing
  std::string in = S({0xa2, 0x03, 0x02, 0x08, 0x01});
  WeftMsg out;
  weft_error err = {};
  EXPECT_EQ(WEFT_ERR_MISSING_REQUIRED,
            ModeDecode(DynDesc(weft_test::p2::AllTypes2::descriptor()), in,
                       nullptr, &out, &err));
  EXPECT_NE(std::string::npos,
            std::string(err.message).find("AllTypes2.m_req[0].value.id"))
      << err.message;
  weft_test::p2::AllTypes2 ref;
  EXPECT_FALSE(ref.ParseFromString(in));
}

TEST(CodecSemantics, EncodeAllocAcrossChunks) {
  // Big enough to need many growing chunks, with fields straddling chunk
  // boundaries (long strings, nested messages with multi-byte lengths).
  weft_test::p3::AllTypes m;
  for (int i = 0; i < 300; i++) {
    auto *n = m.add_r_nested();
    n->set_a(i);
    n->set_b(std::string(static_cast<size_t>(i * 7 % 1500), 'x'));
    n->add_children()->set_b(std::string(static_cast<size_t>(i % 200), 'y'));
  }
  m.set_f_bytes(std::string(70000, 'z'));
  m.add_r_int32(-1);
  std::string want = SerializeDet(m);
  for (bool via_decode : {false, true}) {
    WeftMsg w = via_decode ? Dec(m.GetDescriptor(), want)
                           : WeftMsg(ToWeft(m, DynDesc(m.GetDescriptor())));
    uint8_t *out = nullptr;
    size_t len = 0;
    ASSERT_EQ(0, weft_encode_alloc(w.p, &out, &len));
    EXPECT_EQ(want.size(), len);
    EXPECT_TRUE(want == std::string(reinterpret_cast<char *>(out), len));
    free(out);
  }
}

TEST(CodecSemantics, BigMapsWithDuplicateKeysAreLinear) {
  // 60k entries of m_int32 (61) and m_string (72) with many repeated keys:
  // same result as Google's, and no quadratic blow-up (the test would time
  // out otherwise).
  std::string in;
  for (int i = 0; i < 60000; i++) {
    int key = (i * 7919) % 20000;
    weft_test::p3::AllTypes one;
    (*one.mutable_m_int32())[key] = "v" + std::to_string(i);
    (*one.mutable_m_string())["k" + std::to_string(key % 5000)].set_a(i);
    in += one.SerializeAsString();
  }
  weft_test::p3::AllTypes ref;
  ASSERT_TRUE(ref.ParseFromString(in));
  WeftMsg out(Dec(ref.GetDescriptor(), in));
  ASSERT_NE(nullptr, out.p);
  weft_test::p3::AllTypes got;
  FromWeft(out.p, &got);
  EXPECT_EQ(20000, got.m_int32_size());
  EXPECT_EQ(5000, got.m_string_size());
  EXPECT_TRUE(MessageDifferencer::Equals(ref, got));
}
