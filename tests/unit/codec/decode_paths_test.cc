// The decoder's in-line paths against its general, table-driven one.
//
// Some shapes of input are decoded by specialized code (a map<string,
// string> entry in its usual form is read in line, without a table walk of
// the entry type). Whatever such a path accepts or refuses, the general
// path must agree: weft_decode_merge into a standalone message (no arena,
// no tree) always takes the general path, so each input here is decoded
// both ways, in this run's mode, and the results compared, with Google's
// parser as the reference for what is valid.
#include <google/protobuf/util/message_differencer.h>

#include <cstring>
#include <random>
#include <string>

#include "all_types_proto3.pb.h"
#include "random_msg.h"
#include "string_maps.pb.h"
#include "string_maps2.pb.h"
#include "test_util.h"

using namespace weft_test;
using google::protobuf::util::MessageDifferencer;

namespace {

std::string S(std::initializer_list<int> b) {
  std::string s;
  for (int c : b)
    s.push_back(static_cast<char>(c));
  return s;
}

// One length-delimited field: tag byte(s), length, body.
std::string Ld(const std::string &tag, const std::string &body) {
  std::string s = tag;
  size_t n = body.size();
  for (; n >= 0x80; n >>= 7)
    s.push_back(static_cast<char>(n | 0x80));
  s.push_back(static_cast<char>(n));
  return s + body;
}

// Decodes `in` in this run's mode and through the general path, and checks
// that both agree with each other and with Google's parser. Returns the
// mode's result code.
int Both(const google::protobuf::Message &proto, const std::string &in,
         unsigned max_depth = 0, bool google = true) {
  const weft_msg_desc *d = DynDesc(proto.GetDescriptor());
  weft_decode_opts o = {};
  o.max_depth = max_depth;
  WeftMsg fast;
  weft_error e1 = {}, e2 = {};
  int rv = ModeDecode(d, in, &o, &fast, &e1);
  void *slow = weft_message_new(d, nullptr);
  EXPECT_NE(nullptr, slow);
  int rv2 = weft_decode_merge(slow, U8(in), in.size(), &o, &e2);
  EXPECT_EQ(rv2, rv) << "in-line: " << e1.message
                     << "; general: " << e2.message;
  if (rv == 0 && rv2 == 0) {
    EXPECT_TRUE(weft_message_equal(fast.p, slow));
    EXPECT_EQ(Hex(WeftEncode(slow)), Hex(WeftEncode(fast.p)));
  }
  if (rv != 0)
    EXPECT_STREQ(e2.message, e1.message);
  // Google's reading of the same bytes (its map entries drop unknown
  // fields and its maps have no order: compare as messages). Not for
  // random damage: a NUL inside a string ends it in the protobuf-c layout.
  std::unique_ptr<google::protobuf::Message> ref(proto.New()),
      back(proto.New());
  if (rv == 0 && google) {
    EXPECT_TRUE(ref->ParsePartialFromString(in));
    EXPECT_TRUE(back->ParsePartialFromString(WeftEncode(fast.p)));
    EXPECT_TRUE(MessageDifferencer::Equals(*ref, *back)) << Hex(in);
  }
  weft_message_free(slow);
  return rv;
}

const google::protobuf::Message &P3() {
  return weft_test::maps::StringMaps::default_instance();
}
const google::protobuf::Message &P2() {
  return weft_test::maps2::StringMaps2::default_instance();
}

} // namespace

// Entries in the usual form (key then value, short): empty members, keys
// that repeat (the last value wins, at the first one's position), UTF-8,
// one- and two-byte tags, in a nested message.
TEST(CodecDecodePaths, StringMapEntriesInLine) {
  const std::string k = "\x0a", v = "\x12";
  std::string in = Ld(k, Ld(k, "a") + Ld(v, "1"));
  in += Ld(k, Ld(k, "") + Ld(v, ""));
  in += Ld(k, Ld(k, "b") + Ld(v, "caf\xc3\xa9"));
  in += Ld(k, Ld(k, "a") + Ld(v, "2"));
  in += Ld(S({0xa2, 0x01}), Ld(k, "wide key") + Ld(v, std::string(100, 'x')));
  in += Ld(S({0x22}), Ld(S({0x0a}), Ld(k, "in") + Ld(v, "child")));
  for (const auto *p : {&P3(), &P2()}) {
    ASSERT_EQ(0, Both(*p, in));
    const weft_msg_desc *d = DynDesc(p->GetDescriptor());
    WeftMsg w;
    weft_error err = {};
    ASSERT_EQ(0, ModeDecode(d, in, nullptr, &w, &err)) << err.message;
    auto *m = static_cast<ProtobufCMessage *>(w.p);
    const ProtobufCFieldDescriptor *f = weft_field_by_number(d, 1);
    size_t n = *reinterpret_cast<size_t *>(reinterpret_cast<char *>(m) +
                                           f->quantifier_offset);
    auto **e = *reinterpret_cast<ProtobufCMessage ***>(
        reinterpret_cast<char *>(m) + f->offset);
    ASSERT_EQ(3u, n);
    auto str = [](ProtobufCMessage *x, int i) {
      return std::string(*reinterpret_cast<char **>(
          reinterpret_cast<char *>(x) + x->descriptor->fields[i].offset));
    };
    EXPECT_EQ("a", str(e[0], 0));
    EXPECT_EQ("2", str(e[0], 1));
    EXPECT_EQ("", str(e[1], 0));
    EXPECT_EQ("caf\xc3\xa9", str(e[2], 1));
    EXPECT_EQ(0u, e[0]->n_unknown_fields);
    if (DecodeMode() != Mode::kArena) // a decoded tree's inner message
      weft_message_free(e[1]);        // empties it, and stays valid
  }
}

// Every other form goes through the general path, with the same result:
// value before key, a member missing or repeated, an unknown member, long
// members (two-byte lengths), invalid UTF-8 (an error in proto3 only),
// truncation anywhere, and the depth limit.
TEST(CodecDecodePaths, StringMapEntriesOtherForms) {
  const std::string k = "\x0a", v = "\x12";
  const std::vector<std::string> entries = {
      Ld(v, "1") + Ld(k, "a"),
      Ld(k, "a"),
      Ld(v, "1"),
      "",
      Ld(k, "a") + Ld(k, "b") + Ld(v, "1"),
      Ld(k, "a") + Ld(v, "1") + Ld(v, "2"),
      Ld(k, "a") + Ld(v, "1") + S({0x18, 0x05}),
      S({0x18, 0x05}) + Ld(k, "a") + Ld(v, "1"),
      Ld(k, "a") + S({0x12, 0x80, 0x00}), // overlong length 0
      S({0x0a, 0x80, 0x01}) + std::string(128, 'k') + Ld(v, "1"),
      Ld(k, "a") + Ld(v, "\xff"),
      Ld(k, "\xc0\x80") + Ld(v, "1"),
      Ld(k, "a") + S({0x15, 1, 2, 3, 4}),
  };
  for (const auto *p : {&P3(), &P2()}) {
    for (size_t i = 0; i < entries.size(); i++) {
      SCOPED_TRACE("entry " + std::to_string(i) + " of " +
                   p->GetDescriptor()->full_name());
      std::string in = Ld(S({0x0a}), entries[i]);
      int rv = Both(*p, in);
      if (i == 10 || i == 11) // invalid UTF-8
        EXPECT_EQ(p == &P3() ? WEFT_ERR_UTF8 : 0, rv);
      else if (i == 12)
        EXPECT_EQ(WEFT_ERR_WIRE_TYPE, rv);
      else
        EXPECT_EQ(0, rv);
      for (size_t cut = 0; cut < in.size(); cut++)
        Both(*p, in.substr(0, cut), 0, false);
    }
  }
  // children[0].labels[0] is at depth 2
  std::string deep = Ld(S({0x22}), Ld(S({0x0a}), Ld(k, "a") + Ld(v, "1")));
  EXPECT_EQ(WEFT_ERR_DEPTH, Both(P3(), deep, 1));
  EXPECT_EQ(0, Both(P3(), deep, 2));
}

// Random messages, and random damage to their bytes: both paths agree.
TEST(CodecDecodePaths, StringMapsRandomAndMutated) {
  std::mt19937_64 rng(21);
  for (const auto *p : {&P3(), &P2()}) {
    for (int it = 0; it < 150; it++) {
      std::unique_ptr<google::protobuf::Message> m(p->New());
      RandomFill(m.get(), rng, 2, false);
      std::string in = m->SerializeAsString();
      SCOPED_TRACE("iteration " + std::to_string(it));
      ASSERT_EQ(0, Both(*p, in));
      if (in.empty())
        continue;
      for (int k = 0; k < 4; k++) {
        std::string bad = in;
        bad[rng() % bad.size()] = static_cast<char>(rng());
        Both(*p, bad, 0, false);
      }
    }
  }
}

// Past 16 entries, duplicate keys are resolved when the message ends: in
// line and through the general path alike, keys repeating early and late.
TEST(CodecDecodePaths, StringMapsManyEntriesWithDuplicateKeys) {
  const std::string k = "\x0a", v = "\x12";
  std::string in, first16;
  for (int i = 0; i < 60; i++) {
    std::string key = "k" + std::to_string(i % 23 == 5 ? 3 : i % 23);
    in += Ld(k, Ld(k, key) + Ld(v, "v" + std::to_string(i)));
    if (i == 15)
      first16 = in;
  }
  for (const auto *p : {&P3(), &P2()}) {
    ASSERT_EQ(0, Both(*p, in));
    ASSERT_EQ(0, Both(*p, first16));
  }
}

// Strings are copied a word at a time, the last word overlapping: every
// length up to past the short-copy limit, with a byte that is not ASCII at
// every position (invalid UTF-8 must be refused in proto3, wherever it is;
// a valid sequence kept byte for byte), as a plain field and as a map key
// and value read in line.
TEST(CodecDecodePaths, StringCopyEveryLengthAndPosition) {
  const weft_msg_desc *d = DynDesc(P3().GetDescriptor());
  const ProtobufCFieldDescriptor *name = weft_field_by_number(d, 3);
  ASSERT_NE(nullptr, name);
  for (size_t n = 0; n <= 72; n++) {
    for (size_t at = 0; at <= n; at++) {
      std::string good(n, 'a'), bad(n, 'a');
      if (at < n) {
        bad[at] = '\xff';
        if (at + 1 < n) {
          good[at] = '\xc3';
          good[at + 1] = '\xa9';
        }
      }
      SCOPED_TRACE("length " + std::to_string(n) + ", at " +
                   std::to_string(at));
      std::string in = Ld("\x1a", good);
      WeftMsg w;
      weft_error err = {};
      ASSERT_EQ(0, ModeDecode(d, in, nullptr, &w, &err)) << err.message;
      EXPECT_EQ(good, *reinterpret_cast<char **>(static_cast<char *>(w.p) +
                                                 name->offset));
      EXPECT_EQ(0, Both(P3(), Ld("\x0a", Ld("\x0a", good) + Ld("\x12", good))));
      if (at < n) {
        WeftMsg x;
        EXPECT_EQ(WEFT_ERR_UTF8,
                  ModeDecode(d, Ld("\x1a", bad), nullptr, &x, &err));
        EXPECT_EQ(WEFT_ERR_UTF8,
                  Both(P3(), Ld("\x0a", Ld("\x0a", "k") + Ld("\x12", bad))));
        EXPECT_EQ(WEFT_ERR_UTF8,
                  Both(P3(), Ld("\x0a", Ld("\x0a", bad) + Ld("\x12", "v"))));
      }
    }
  }
}

// A varint is read with one 8-byte load whenever the whole input has 10
// bytes left, even where a sub-message ends sooner: one that runs past the
// sub-message's end is still truncated, whatever follows it.
TEST(CodecDecodePaths, VarintCutAtSubMessageEnd) {
  const auto &proto = weft_test::p3::Nested::default_instance();
  const weft_msg_desc *d = DynDesc(proto.GetDescriptor());
  const std::string tail = Ld("\x12", std::string(12, 'x')); // b, outside
  for (int len = 1; len <= 10; len++) {
    std::string v; // a varint of len bytes
    for (int i = 0; i < len; i++)
      v.push_back(
          static_cast<char>(i + 1 < len ? 0xff : (len == 10 ? 1 : 0x7f)));
    for (int cut = 1; cut <= len; cut++) {
      SCOPED_TRACE("varint of " + std::to_string(len) + " bytes, " +
                   std::to_string(cut) + " inside");
      std::string in = Ld("\x1a", "\x08" + v.substr(0, cut)) + tail;
      WeftMsg w;
      weft_error err = {};
      int rv = ModeDecode(d, in, nullptr, &w, &err);
      weft_test::p3::Nested ref;
      EXPECT_EQ(cut == len, ref.ParseFromString(in));
      if (cut == len) {
        EXPECT_EQ(0, rv) << err.message;
      } else {
        EXPECT_EQ(WEFT_ERR_TRUNCATED, rv);
        EXPECT_NE(nullptr,
                  std::strstr(err.message,
                              "Nested.child.a: truncated varint (at byte 3)"))
            << err.message;
      }
      // the same cut in a tag, and in a length prefix
      std::string tag = Ld("\x1a", std::string("\x80", 1)) + tail;
      EXPECT_EQ(WEFT_ERR_TRUNCATED, ModeDecode(d, tag, nullptr, &w, &err));
      std::string lp = Ld("\x1a", "\x12" + v.substr(0, cut)) + tail;
      if (cut < len && cut < 5)
        EXPECT_EQ(WEFT_ERR_TRUNCATED, ModeDecode(d, lp, nullptr, &w, &err));
    }
  }
}
