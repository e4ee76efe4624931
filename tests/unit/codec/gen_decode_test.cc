// The decoders protoc-gen-weft emits (weft/gen_decode.h, run by the codec
// through weft_msg_desc.decode) against the codec's table loop
// (weft__decode_table_only), which they hand over to for anything they do
// not read themselves: every input, well formed or not, must give the same
// return value, the same error message (path and offset) and, on success,
// a message equal to the table loop's that encodes to the same bytes, in
// every decode mode (malloc tree, arena, each with and without aliasing).
// Inputs: random messages (unknown fields included), every truncation of
// them, random byte flips, fields repeated and messages concatenated
// (merges), maps with repeated keys past the in-line limit, tight depth
// limits, and the decode corpus.
#include <dirent.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "all_types_proto3.weft.h"
#include "flat_encode.pb.h"
#include "flat_encode.weft.h"
#include "gen_decode.pb.h"
#include "gen_decode.weft.h"
#include "random_msg.h"
#include "string_maps.weft.h"
#include "test_util.h"
#include "weft/gen_decode.h"

using namespace weft_test;

namespace {

struct Outcome {
  int rv = 0;
  std::string err, bytes;
  void *msg = nullptr;
  weft_arena *arena = nullptr;
  Outcome() = default;
  Outcome(const Outcome &) = delete;
  Outcome &operator=(const Outcome &) = delete;
  ~Outcome() {
    if (arena)
      weft_arena_free(arena);
    else
      weft_message_free(msg);
  }
};

// One decode; mode bit 1: arena, bit 2: alias.
void DecodeOnce(const weft_msg_desc *d, const std::string &in, unsigned mode,
                unsigned max_depth, int discard, bool table, Outcome *o) {
  weft_decode_opts opts = {};
  if (mode & 1)
    EXPECT_EQ(0, weft_arena_new(&o->arena, 256));
  opts.arena = o->arena;
  opts.alias = (mode & 2) != 0;
  opts.max_depth = max_depth;
  opts.discard_unknown = discard;
  weft_error err = {};
  weft__decode_table_only(table ? 1 : 0);
  o->rv = weft_decode(d, U8(in), in.size(), &opts, &o->msg, &err);
  weft__decode_table_only(0);
  o->err = o->rv ? err.message : "";
  if (o->rv == 0) {
    uint8_t *b = nullptr;
    size_t n = 0;
    EXPECT_EQ(0, weft__encode_alloc_backward(o->msg, &b, &n));
    o->bytes.assign(reinterpret_cast<char *>(b), n);
    free(b);
  }
}

// Both decoders over one input, every mode: same outcome.
void Same(const weft_msg_desc *d, const std::string &in, unsigned max_depth = 0,
          int discard = 0) {
  ASSERT_NE(nullptr, d->decode);
  for (unsigned mode = 0; mode < 4; mode++) {
    Outcome g, t;
    // the input lives in its own exact-size heap block in alias mode
    std::string buf(in);
    DecodeOnce(d, buf, mode, max_depth, discard, false, &g);
    DecodeOnce(d, buf, mode, max_depth, discard, true, &t);
    ASSERT_EQ(t.rv, g.rv) << "mode " << mode << " input " << Hex(in) << "\n"
                          << t.err << "\n"
                          << g.err;
    ASSERT_EQ(t.err, g.err) << "mode " << mode << " input " << Hex(in);
    if (g.rv == 0) {
      ASSERT_EQ(Hex(t.bytes), Hex(g.bytes))
          << "mode " << mode << " input " << Hex(in);
      ASSERT_TRUE(weft_message_equal(t.msg, g.msg))
          << "mode " << mode << " input " << Hex(in);
    }
  }
}

// A message, its truncations, and a few random flips.
void Variants(const weft_msg_desc *d, const std::string &bytes,
              std::mt19937_64 &rng) {
  Same(d, bytes);
  // every cut of a short message; about 150 of a long one (one in `step`,
  // from an offset the seed picks: messages differ, so do the cuts)
  size_t step = bytes.size() / 150 + 1;
  for (size_t cut = rng() % step; cut < bytes.size(); cut += step)
    Same(d, bytes.substr(0, cut));
  for (int k = 0; k < 8 && !bytes.empty(); k++) {
    std::string x = bytes;
    size_t at = rng() % x.size();
    x[at] = static_cast<char>(x[at] ^ (1u << (rng() % 8)));
    Same(d, x);
  }
  Same(d, bytes + bytes); // every field again: merges, duplicates
}

template <class M>
void RandomSame(const weft_msg_desc *d, uint64_t seed, int iterations) {
  std::mt19937_64 rng(seed);
  for (int it = 0; it < iterations; it++) {
    M m;
    RandomFill(&m, rng, 3, it % 2 == 0);
    std::string bytes;
    ASSERT_TRUE(m.SerializePartialToString(&bytes));
    SCOPED_TRACE("iteration " + std::to_string(it));
    Variants(d, bytes, rng);
    if (::testing::Test::HasFatalFailure())
      return;
  }
}

} // namespace

TEST(CodecGenDecode, CoveredTypes) {
  EXPECT_NE(nullptr, weft_1test__flat__Flat_desc.decode);
  EXPECT_NE(nullptr, weft_1test__flat__Outer_desc.decode);
  // map entries are read by their parent; oneofs, proto3 optional, maps
  // of other than strings keep the table loop
  EXPECT_EQ(nullptr, weft_1test__flat__Flat__LabelsEntry_desc.decode);
  EXPECT_EQ(nullptr, weft_1test__p3__AllTypes_desc.decode);
  EXPECT_EQ(nullptr, weft_1test__maps__StringMaps_desc.decode);
  EXPECT_NE(nullptr, weft_1test__gdec__Leaf_desc.decode);
  EXPECT_NE(nullptr, weft_1test__gdec__Tree_desc.decode);
  EXPECT_NE(nullptr, weft_1test__common__Shared_desc.decode);
}

TEST(CodecGenDecode, RandomMessagesAndMutations) {
  RandomSame<flat::Flat>(&weft_1test__flat__Flat_desc, 41, 40);
  RandomSame<flat::Outer>(&weft_1test__flat__Outer_desc, 42, 25);
  RandomSame<gdec::Leaf>(&weft_1test__gdec__Leaf_desc, 46, 40);
  RandomSame<gdec::Tree>(&weft_1test__gdec__Tree_desc, 47, 12);
}

// The values Google decodes, through the generated decoders (the
// randomized differential of generated_test.cc covers the same with the
// table loop when the test runs with WEFT_DECODE_TABLE=1).
TEST(CodecGenDecode, MatchesGoogle) {
  std::mt19937_64 rng(43);
  for (int it = 0; it < 60; it++) {
    flat::Outer m;
    RandomFill(&m, rng, 3, it % 2 == 0);
    std::string bytes;
    ASSERT_TRUE(m.SerializePartialToString(&bytes));
    WeftMsg w;
    weft_error err = {};
    ASSERT_EQ(
        0, ModeDecode(&weft_1test__flat__Outer_desc, bytes, nullptr, &w, &err))
        << err.message;
    flat::Outer back;
    FromWeft(w.p, &back);
    flat::Outer ref;
    ASSERT_TRUE(ref.ParsePartialFromString(bytes));
    EXPECT_EQ(ref.DebugString(), back.DebugString());
  }
  for (int it = 0; it < 60; it++) {
    gdec::Tree m;
    RandomFill(&m, rng, 3, it % 2 == 0);
    std::string bytes;
    ASSERT_TRUE(m.SerializePartialToString(&bytes));
    WeftMsg w;
    weft_error err = {};
    ASSERT_EQ(
        0, ModeDecode(&weft_1test__gdec__Tree_desc, bytes, nullptr, &w, &err))
        << err.message;
    gdec::Tree back, ref;
    FromWeft(w.p, &back);
    ASSERT_TRUE(ref.ParsePartialFromString(bytes));
    EXPECT_EQ(ref.DebugString(), back.DebugString());
  }
}

// Repeated scalars packed and unpacked, mixed in one message, in runs
// that grow the arrays past their capacities.
TEST(CodecGenDecode, RepeatedScalars) {
  gdec::Leaf m;
  for (int i = 0; i < 37; i++) {
    m.add_ri32(i % 3 ? -i : i * 1000003);
    m.add_rs64(-static_cast<int64_t>(i) << 40);
    m.add_rf32(static_cast<uint32_t>(i));
    m.add_rdb(i * 0.5);
    m.add_rb(i % 2);
    m.add_rc(i % 2 ? weft_test::common::COLOR_BLUE
                   : weft_test::common::COLOR_RED);
    m.add_unpacked(static_cast<uint64_t>(i) << 50);
    m.add_unpacked_f(static_cast<uint64_t>(i));
  }
  m.set_color(weft_test::common::COLOR_BLUE);
  m.set_s32(-5);
  std::string bytes;
  ASSERT_TRUE(m.SerializeToString(&bytes));
  Same(&weft_1test__gdec__Leaf_desc, bytes);
  Same(&weft_1test__gdec__Leaf_desc, bytes + bytes);
  std::mt19937_64 rng(48);
  Variants(&weft_1test__gdec__Leaf_desc, bytes, rng);
}

// Nesting at and past the depth limit through the recursive type.
TEST(CodecGenDecode, Recursion) {
  gdec::Tree m;
  gdec::Tree *t = &m;
  for (int i = 0; i < 12; i++) {
    t->set_name("n" + std::to_string(i));
    t->add_children()->set_name("c");
    t = t->mutable_next();
  }
  std::string bytes;
  ASSERT_TRUE(m.SerializeToString(&bytes));
  for (unsigned depth : {0u, 5u, 11u, 12u, 13u})
    Same(&weft_1test__gdec__Tree_desc, bytes, depth);
}

// Maps past the in-line duplicate check (16 entries), repeated keys in and
// out of it, entries in unusual forms (value first, a missing key, an
// unknown member, a two-byte length).
TEST(CodecGenDecode, Maps) {
  for (int n : {3, 16, 17, 40}) {
    flat::Outer m;
    for (int i = 0; i < n; i++)
      (*m.mutable_meta())["k" + std::to_string(i % (n / 2 + 1))] =
          "v" + std::to_string(i);
    std::string bytes;
    ASSERT_TRUE(m.SerializeToString(&bytes));
    Same(&weft_1test__flat__Outer_desc, bytes + bytes);
    // the same keys again, with other values: every one replaces
    flat::Outer m2;
    for (int i = 0; i < n; i++)
      (*m2.mutable_meta())["k" + std::to_string(i)] = "w";
    std::string b2;
    ASSERT_TRUE(m2.SerializeToString(&b2));
    Same(&weft_1test__flat__Outer_desc, bytes + b2 + bytes);
  }
  const char *odd[] = {
      "2a0812017616016b",     // value first
      "2a03120176",           // no key
      "2a030a016b",           // no value
      "2a080a016b12017618",   // unknown member, truncated
      "2a0a0a016b1201762003", // unknown member
      "2a870a016b120176",     // overlong length (fails)
      "2a06"
      "0a016b"
      "1201ff", // invalid UTF-8 value
      "2a06"
      "0a01ff"
      "120176",                           // invalid UTF-8 key
      "2a060a016b1201762a060a016b120177", // same key twice
  };
  for (const char *h : odd) {
    std::string b;
    for (size_t i = 0; h[i] && h[i + 1]; i += 2)
      b.push_back(static_cast<char>(std::stoi(std::string(h + i, 2), 0, 16)));
    Same(&weft_1test__flat__Outer_desc, b);
  }
}

// Depth limits at and around the nesting of the input; discarded unknown
// fields.
TEST(CodecGenDecode, LimitsAndOptions) {
  std::mt19937_64 rng(44);
  for (int it = 0; it < 20; it++) {
    flat::Outer m;
    RandomFill(&m, rng, 3, true);
    std::string bytes;
    ASSERT_TRUE(m.SerializePartialToString(&bytes));
    for (unsigned depth : {1u, 2u, 3u})
      Same(&weft_1test__flat__Outer_desc, bytes, depth);
    Same(&weft_1test__flat__Outer_desc, bytes, 0, 1);
  }
}

// weft_decode_merge into a decoded tree, an arena message and a standalone
// one: both decoders, same result.
TEST(CodecGenDecode, Merge) {
  std::mt19937_64 rng(45);
  for (int it = 0; it < 20; it++) {
    flat::Outer a, b;
    RandomFill(&a, rng, 3, false);
    RandomFill(&b, rng, 3, it % 2 == 0);
    std::string ba, bb;
    ASSERT_TRUE(a.SerializePartialToString(&ba));
    ASSERT_TRUE(b.SerializePartialToString(&bb));
    std::string got[2][3];
    for (int table = 0; table < 2; table++) {
      weft__decode_table_only(table);
      for (int kind = 0; kind < 3; kind++) {
        weft_arena *ar = nullptr;
        weft_decode_opts o = {};
        void *m = nullptr;
        if (kind == 1) {
          ASSERT_EQ(0, weft_arena_new(&ar, 0));
          o.arena = ar;
        }
        if (kind == 2)
          m = weft_message_new(&weft_1test__flat__Outer_desc, nullptr);
        else
          ASSERT_EQ(0, weft_decode(&weft_1test__flat__Outer_desc, U8(ba),
                                   ba.size(), &o, &m, nullptr));
        weft_error err = {};
        ASSERT_EQ(0, weft_decode_merge(m, U8(bb), bb.size(), &o, &err))
            << err.message;
        got[table][kind] = WeftEncode(m);
        if (ar)
          weft_arena_free(ar);
        else
          weft_message_free(m);
      }
      weft__decode_table_only(0);
    }
    for (int kind = 0; kind < 3; kind++)
      EXPECT_EQ(Hex(got[1][kind]), Hex(got[0][kind])) << "kind " << kind;
  }
}

// The decode fuzz corpus (inputs for other types too: as bytes they are
// as good as any) read as Flat and Outer.
TEST(CodecGenDecode, Corpus) {
  DIR *dir = opendir(WEFT_CODEC_CORPUS_DIR);
  ASSERT_NE(nullptr, dir);
  int files = 0;
  while (struct dirent *e = readdir(dir)) {
    if (e->d_name[0] == '.')
      continue;
    std::ifstream f(std::string(WEFT_CODEC_CORPUS_DIR) + "/" + e->d_name,
                    std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    std::string in = ss.str();
    if (in.empty())
      continue;
    files++;
    Same(&weft_1test__flat__Flat_desc, in.substr(1));
    Same(&weft_1test__flat__Outer_desc, in.substr(1));
    Same(&weft_1test__gdec__Tree_desc, in.substr(1));
  }
  closedir(dir);
  EXPECT_GT(files, 0);
}
