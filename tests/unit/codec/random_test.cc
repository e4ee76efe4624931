// Randomized differential test: random messages built through C++
// reflection (unknown fields and groups included) are serialized by C++,
// decoded by weft (malloc and arena paths), re-encoded, and must come out
// byte for byte equal; the decoded values, read back into C++, must equal
// the original; and weft's encoding of the same values filled directly
// (not via decode) must equal C++'s deterministic serialization.
#include <google/protobuf/util/message_differencer.h>

#include "all_types_proto2.pb.h"
#include "all_types_proto3.pb.h"
#include "random_msg.h"
#include "test_util.h"

using namespace weft_test;
using google::protobuf::Message;
using google::protobuf::util::MessageDifferencer;

namespace {

void Differential(const Message &proto, int iterations, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const weft_msg_desc *d = DynDesc(proto.GetDescriptor());
  weft_arena *arena = nullptr;
  ASSERT_EQ(0, weft_arena_new(&arena, 0));
  for (int it = 0; it < iterations; it++) {
    std::unique_ptr<Message> m(proto.New());
    RandomFill(m.get(), rng, 3, it % 2 == 0);
    std::string bytes;
    ASSERT_TRUE(m->SerializePartialToString(&bytes));
    SCOPED_TRACE("iteration " + std::to_string(it) + " bytes " + Hex(bytes));

    weft_decode_opts opts = {};
    opts.arena = (it % 3 == 0) ? arena : nullptr;
    void *out = nullptr;
    weft_error err = {};
    int rv = weft_decode(d, U8(bytes), bytes.size(), &opts, &out, &err);
    ASSERT_EQ(0, rv) << err.message;
    EXPECT_EQ(bytes.size(), weft_encoded_size(out));
    EXPECT_EQ(Hex(bytes), Hex(WeftEncode(out)));

    // Google's decode of the same bytes is the reference for the values.
    std::unique_ptr<Message> ref(proto.New()), back(proto.New());
    ASSERT_TRUE(ref->ParsePartialFromString(bytes));
    FromWeft(out, back.get());
    EXPECT_TRUE(MessageDifferencer::Equals(*ref, *back))
        << ref->DebugString() << "\n---\n" << back->DebugString();

    // copy / equal
    void *cp = nullptr;
    ASSERT_EQ(0, weft_message_copy(out, nullptr, &cp));
    EXPECT_TRUE(weft_message_equal(out, cp));
    EXPECT_EQ(Hex(bytes), Hex(WeftEncode(cp)));
    weft_message_free(cp);
    if (!opts.arena) weft_message_free(out);

    // values filled directly, no unknown fields: deterministic bytes
    m->DiscardUnknownFields();
    WeftMsg direct(ToWeft(*m, d));
    EXPECT_EQ(Hex(SerializeDet(*m)), Hex(WeftEncode(direct.p)));
    if (it % 3 == 0) weft_arena_reset(arena);
  }
  weft_arena_free(arena);
}

} // namespace

TEST(CodecRandom, Proto3AllTypes) {
  Differential(weft_test::p3::AllTypes::default_instance(), 400, 1);
}

TEST(CodecRandom, Proto2AllTypes) {
  Differential(weft_test::p2::AllTypes2::default_instance(), 400, 2);
}

TEST(CodecRandom, Proto3Nested) {
  Differential(weft_test::p3::Nested::default_instance(), 200, 3);
}
