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
#include "flat_encode.pb.h"
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

// Flat types are written front to back (encode_fwd.c), inside other
// messages back to front: every capacity, the randomized differential
// (against C++ and against weft__encode_alloc_backward, which always runs
// the backward writer), unknown fields included.
TEST(CodecEncode, EveryCapacityFlat) {
  RandomEveryCapacity<weft_test::flat::Flat>(21, 40);
  RandomEveryCapacity<weft_test::flat::Outer>(22, 30);
}

TEST(CodecEncode, FlatDifferential) {
  const auto &f = weft_test::flat::Flat::default_instance();
  Differential(f, DynDesc(f.GetDescriptor()), 200, 23);
  const auto &o = weft_test::flat::Outer::default_instance();
  Differential(o, DynDesc(o.GetDescriptor()), 200, 24);
}

// Flat sub-messages with lengths of 0, 1, 2 and 3 bytes in one repeated
// field, in both orders, right at the end of exact-size buffers.
TEST(CodecEncode, FlatSubMessageLengths) {
  const size_t sizes[] = {0, 5, 120, 127, 128, 300, 16383, 16384, 40000, 3};
  const weft_msg_desc *d = DynDesc(weft_test::flat::Outer::descriptor());
  for (int order = 0; order < 2; order++) {
    weft_test::flat::Outer m;
    m.set_height(7);
    for (size_t k = 0; k < 10; k++) {
      size_t n = sizes[order ? 9 - k : k];
      auto *f = m.add_many();
      if (n)
        f->set_by(std::string(n, static_cast<char>('a' + k)));
    }
    m.mutable_one()->set_s(std::string(200, 'x'));
    m.mutable_last()->set_i32(-1);
    (*m.mutable_meta())["k"] = "v";
    std::string want = SerializeDet(m);
    WeftMsg w(ToWeft(m, d));
    EXPECT_EQ(Hex(want), Hex(WeftEncode(w.p))) << "order " << order;
    for (size_t cap = want.size() - 3; cap <= want.size() + 30; cap++) {
      std::string buf(cap, '\0');
      ssize_t n = weft_encode(w.p, reinterpret_cast<uint8_t *>(&buf[0]), cap);
      if (cap < want.size()) {
        EXPECT_EQ(WEFT_ERR_TOO_BIG, n) << "capacity " << cap;
        continue;
      }
      ASSERT_EQ(static_cast<ssize_t>(want.size()), n) << "capacity " << cap;
      EXPECT_EQ(want, buf.substr(0, want.size())) << "capacity " << cap;
    }
  }
}

// Unknown fields of a flat message and of its flat sub-messages come back
// after the known ones, as they were read.
TEST(CodecEncode, ForwardUnknownFields) {
  const std::string flat("\x08\x01"        // i32 = 1
                         "\xa0\x06\x05"    // unknown field 100, varint
                         "\xaa\x06\x02hi", // unknown field 101, bytes
                         10);
  const std::string in = std::string("\x12") + char(flat.size()) + flat +
                         std::string("\x1a\x00"  // an empty Flat
                                     "\x30\x09", // unknown field 6
                                     4);
  const weft_msg_desc *d = DynDesc(weft_test::flat::Outer::descriptor());
  WeftMsg w;
  weft_error err = {};
  ASSERT_EQ(0, ModeDecode(d, in, nullptr, &w, &err)) << err.message;
  EXPECT_EQ(Hex(in), Hex(WeftEncode(w.p)));
  EXPECT_EQ(in.size(), weft_encoded_size(w.p));
}

// Into a buffer of 4 KiB or more, weft_encode sizes first when the fields
// carry many bytes each (no final move), and gives the size walk up when
// they do not: both ways, right at the exact size, one byte short, and in
// a much larger buffer.
TEST(CodecEncode, SizeFirstIntoLargeBuffers) {
  std::mt19937_64 rng(41);
  const weft_msg_desc *d = DynDesc(weft_test::flat::Outer::descriptor());
  for (int it = 0; it < 20; it++) {
    weft_test::flat::Outer m;
    RandomFill(&m, rng, 2, false);
    if (it % 2) { // few fields, many bytes: sized first
      m.mutable_one()->set_by(std::string(9000 + 997 * it, 'b'));
      for (int k = 0; k < 3; k++)
        m.add_many()->set_by(std::string(8000 + 100 * k, 'c'));
    } else { // many small fields: the walk gives up
      for (int k = 0; k < 60; k++)
        m.add_many()->set_s("s" + std::to_string(k));
    }
    std::string want = SerializeDet(m);
    WeftMsg w(ToWeft(m, d));
    SCOPED_TRACE("iteration " + std::to_string(it));
    for (size_t cap : {want.size() - 1, want.size(), want.size() + 1,
                       2 * want.size() + 4096}) {
      uint8_t *buf = static_cast<uint8_t *>(std::malloc(cap));
      ssize_t n = weft_encode(w.p, buf, cap);
      if (cap < want.size()) {
        EXPECT_EQ(WEFT_ERR_TOO_BIG, n);
      } else {
        ASSERT_EQ(static_cast<ssize_t>(want.size()), n) << "capacity " << cap;
        EXPECT_EQ(0, std::memcmp(buf, want.data(), want.size()))
            << "capacity " << cap;
      }
      std::free(buf);
    }
  }
}
