// The encoder's buffer handling on every field kind: the table-driven
// writer stores a value unchecked only while enough room is left, and must
// fall back to the checked path at the very edge of a buffer and across
// the chunks of weft_encode_alloc. Buffers are malloc'd at their exact
// capacity, so AddressSanitizer sees any write outside them.
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>

#include "all_types_proto2.pb.h"
#include "all_types_proto3.pb.h"
#include "differential.h"
#include "dyn_desc.h"
#include "random_msg.h"
#include "string_maps.pb.h"
#include "string_maps2.pb.h"
#include "test_util.h"

using namespace weft_test;

namespace {

// Every capacity from 0 to the size plus the writer's slack and more:
// smaller ones fail with WEFT_ERR_TOO_BIG, the others give C++'s bytes.
void EveryCapacity(const google::protobuf::Message &m, const void *w) {
  std::string want = SerializeDet(m);
  ASSERT_EQ(want.size(), weft_encoded_size(w));
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

template <class M> void RandomEveryCapacity(uint64_t seed, int iterations) {
  std::mt19937_64 rng(seed);
  const weft_msg_desc *d = DynDesc(M::descriptor());
  for (int it = 0; it < iterations; it++) {
    M m;
    RandomFill(&m, rng, 2, false);
    SCOPED_TRACE("iteration " + std::to_string(it));
    WeftMsg w(ToWeft(m, d));
    EveryCapacity(m, w.p);
  }
}

} // namespace

TEST(CodecEncode, EveryCapacityProto3) {
  RandomEveryCapacity<weft_test::p3::AllTypes>(11, 30);
}

TEST(CodecEncode, EveryCapacityProto2) {
  RandomEveryCapacity<weft_test::p2::AllTypes2>(12, 30);
}

TEST(CodecEncode, EveryCapacityStringMaps) {
  RandomEveryCapacity<weft_test::maps::StringMaps>(14, 40);
}

// map<string, string> entries are written in line: the randomized
// differential check (decode in this run's mode, re-encode, compare with
// C++) on both syntaxes.
TEST(CodecEncode, StringMapsDifferential) {
  const auto &p3 = weft_test::maps::StringMaps::default_instance();
  Differential(p3, DynDesc(p3.GetDescriptor()), 200, 15);
  const auto &p2 = weft_test::maps2::StringMaps2::default_instance();
  Differential(p2, DynDesc(p2.GetDescriptor()), 200, 16);
}

// An entry that carries an unknown field (weft keeps it, as the entry is a
// message) leaves the in-line path: the bytes come back as they were.
TEST(CodecEncode, StringMapEntryWithUnknownField) {
  const std::string in("\x0a\x08\x0a\x01"
                       "k\x12\x01"
                       "v\x18\x05"                // unknown field 3
                       "\x0a\x04\x0a\x00\x12\x00" // empty key and value
                       "\xa2\x01\x06\x0a\x01"
                       "a\x12\x01"
                       "b",
                       25);
  const weft_msg_desc *d = DynDesc(weft_test::maps::StringMaps::descriptor());
  WeftMsg w;
  weft_error err = {};
  ASSERT_EQ(0, ModeDecode(d, in, nullptr, &w, &err)) << err.message;
  EXPECT_EQ(Hex(in), Hex(WeftEncode(w.p)));
  EXPECT_EQ(in.size(), weft_encoded_size(w.p));
}

// Field numbers from 1 to 2^29-1 give tags of 1 to 5 bytes; zero and
// negative values, -0.0 and empty strings show the presence rules.
TEST(CodecEncode, TagWidthsAndPresence) {
  weft_test::p3::AllTypes m;
  m.set_f_int32(-1);
  m.set_f_double(-0.0);
  m.set_f_string("");
  m.set_f_bytes(std::string("\0", 1));
  m.mutable_f_nested(); // present though empty
  for (int i = 0; i < 3; i++)
    m.add_r_string(i ? "x" : "");
  (*m.mutable_m_int32())[0] = "";
  (*m.mutable_m_int32())[-5] = "v";
  const auto *desc = m.GetDescriptor();
  const auto *refl = m.GetReflection();
  for (int i = 0; i < desc->field_count(); i++) {
    const auto *f = desc->field(i);
    if (f->number() >= 16 && !f->is_repeated() && !f->containing_oneof() &&
        f->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_INT32)
      refl->SetInt32(&m, f, f->number());
  }
  WeftMsg w(ToWeft(m, DynDesc(desc)));
  EveryCapacity(m, w.p);
}

// Outputs far larger than weft_encode_alloc's first chunk: the writer
// crosses chunk boundaries in every kind of value.
TEST(CodecEncode, AllocAcrossChunks) {
  std::mt19937_64 rng(13);
  const weft_msg_desc *d = DynDesc(weft_test::p3::AllTypes::descriptor());
  for (int it = 0; it < 20; it++) {
    weft_test::p3::AllTypes m; // repeated fields append on each merge
    for (int k = 0; k < 40; k++) {
      weft_test::p3::AllTypes part;
      RandomFill(&part, rng, 2, false);
      m.MergeFrom(part);
    }
    SCOPED_TRACE("iteration " + std::to_string(it));
    std::string want = SerializeDet(m);
    ASSERT_GT(want.size(), 4096u);
    WeftMsg w(ToWeft(m, d));
    uint8_t *out = nullptr;
    size_t len = 0;
    ASSERT_EQ(0, weft_encode_alloc(w.p, &out, &len));
    EXPECT_EQ(Hex(want), Hex(std::string(reinterpret_cast<char *>(out), len)));
    std::free(out);
  }
}

// A descriptor without a cache (allowed, see weft/desc.h): the encoder
// builds a private table per message and frees it.
TEST(CodecEncode, DescriptorWithoutCache) {
  std::mt19937_64 rng(17);
  weft_msg_desc nc = *DynDesc(weft_test::p3::AllTypes::descriptor());
  nc.cache = nullptr;
  for (int it = 0; it < 20; it++) {
    weft_test::p3::AllTypes m;
    RandomFill(&m, rng, 2, false);
    SCOPED_TRACE("iteration " + std::to_string(it));
    WeftMsg w(ToWeft(m, &nc));
    std::string want = SerializeDet(m);
    EXPECT_EQ(want.size(), weft_encoded_size(w.p));
    EXPECT_EQ(Hex(want), Hex(WeftEncode(w.p)));
    uint8_t *out = nullptr;
    size_t len = 0;
    ASSERT_EQ(0, weft_encode_alloc(w.p, &out, &len));
    EXPECT_EQ(Hex(want), Hex(std::string(reinterpret_cast<char *>(out), len)));
    std::free(out);
  }
}
