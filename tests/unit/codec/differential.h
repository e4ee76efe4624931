// The randomized differential check, shared by the tests on run-time
// descriptors (random_test.cc) and on generated ones (generated_test.cc).
// Random messages built through C++ reflection (unknown fields and groups
// included) are serialized by C++, decoded by weft (malloc and arena paths),
// re-encoded, and must come out byte for byte equal; the decoded values,
// read back into C++, must equal Google's decode of the same bytes; and
// weft's encoding of the same values filled directly (not via decode) must
// equal C++'s deterministic serialization.
#pragma once

#include <google/protobuf/util/message_differencer.h>

#include <memory>

#include "random_msg.h"
#include "test_util.h"

namespace weft_test {

using google::protobuf::Message;
using google::protobuf::util::MessageDifferencer;

inline void Differential(const Message &proto, const weft_msg_desc *d,
                         int iterations, uint64_t seed) {
  std::mt19937_64 rng(seed);
  weft_arena *arena = nullptr;
  ASSERT_EQ(0, weft_arena_new(&arena, 0));
  for (int it = 0; it < iterations; it++) {
    std::unique_ptr<Message> m(proto.New());
    RandomFill(m.get(), rng, 3, it % 2 == 0);
    std::string bytes;
    ASSERT_TRUE(m->SerializePartialToString(&bytes));
    SCOPED_TRACE("iteration " + std::to_string(it) + " bytes " + Hex(bytes));

    // this run's mode; the arena mode also aliases every other message
    weft_decode_opts opts = {};
    opts.arena = DecodeMode() == Mode::kArena ? arena : nullptr;
    opts.alias = DecodeMode() == Mode::kAlias ||
                 (DecodeMode() == Mode::kArena && it % 2);
    void *out = nullptr;
    weft_error err = {};
    int rv = weft_decode(d, U8(bytes), bytes.size(), &opts, &out, &err);
    ASSERT_EQ(0, rv) << err.message;
    EXPECT_EQ(bytes.size(), weft_encoded_size(out));
    EXPECT_EQ(Hex(bytes), Hex(WeftEncode(out)));
    for (auto alloc : {weft_encode_alloc, weft__encode_alloc_backward}) {
      uint8_t *ab = nullptr;
      size_t alen = 0;
      ASSERT_EQ(0, alloc(out, &ab, &alen));
      EXPECT_EQ(Hex(bytes),
                Hex(std::string(reinterpret_cast<char *>(ab), alen)));
      free(ab);
    }

    // Google's decode of the same bytes is the reference for the values.
    std::unique_ptr<Message> ref(proto.New()), back(proto.New());
    ASSERT_TRUE(ref->ParsePartialFromString(bytes));
    FromWeft(out, back.get());
    EXPECT_TRUE(MessageDifferencer::Equals(*ref, *back))
        << ref->DebugString() << "\n---\n"
        << back->DebugString();

    // copy / equal
    void *cp = nullptr;
    ASSERT_EQ(0, weft_message_copy(out, nullptr, &cp));
    EXPECT_TRUE(weft_message_equal(out, cp));
    EXPECT_EQ(Hex(bytes), Hex(WeftEncode(cp)));
    weft_message_free(cp);
    if (!opts.arena)
      weft_message_free(out);

    // values filled directly, no unknown fields: deterministic bytes
    m->DiscardUnknownFields();
    WeftMsg direct(ToWeft(*m, d));
    EXPECT_EQ(Hex(SerializeDet(*m)), Hex(WeftEncode(direct.p)));
    weft_arena_reset(arena);
  }
  weft_arena_free(arena);
}

} // namespace weft_test
