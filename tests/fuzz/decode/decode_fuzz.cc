// libFuzzer target for the binary decoder. The first input byte picks the
// message type (proto3 all-types, proto2 all-types with groups, a recursive
// message, an empty message that sees every field as unknown; with bit 0x10
// the proto3 or proto2 string maps, whose usual entries the decoder reads
// in line), the decode
// mode (arena or malloc tree, each with or without zero-copy aliasing) and
// the depth limit; the rest is the wire input (copied to a buffer of its
// own, which an aliased message points into). With bits 0x0c both set, the
// type is a generated one with a generated decoder (weft/gen_decode.h:
// by bits 0x03, flat_encode.proto's Flat or Outer, gen_decode.proto's Leaf
// or Tree) and the input is
// decoded twice, by the generated decoder and by the table loop
// (weft__decode_table_only), which must agree on the return value, the
// error message and the decoded message. Invariants:
// no crash/leak/OOB (sanitizers), whatever weft accepts Google's C++ parser
// accepts too, and an accepted message re-encodes to bytes of exactly
// weft_encoded_size() (weft_encode_alloc giving the same bytes) that decode
// again to an equal message.
#include <google/protobuf/message.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "all_types_proto2.pb.h"
#include "all_types_proto3.pb.h"
#include "dyn_desc.h"
#include "flat_encode.pb.h"
#include "flat_encode.weft.h"
#include "gen_decode.pb.h"
#include "gen_decode.weft.h"
#include "string_maps.pb.h"
#include "string_maps2.pb.h"
#include "unknown_subset.pb.h"
#include "weft/gen_decode.h"

namespace {

const google::protobuf::Message *Proto(unsigned k) {
  if (k & 0x10)
    return (k & 1) ? static_cast<const google::protobuf::Message *>(
                         &weft_test::maps2::StringMaps2::default_instance())
                   : &weft_test::maps::StringMaps::default_instance();
  switch (k % 4) {
  case 0:
    return &weft_test::p3::AllTypes::default_instance();
  case 1:
    return &weft_test::p2::AllTypes2::default_instance();
  case 2:
    return &weft_test::p3::Nested::default_instance();
  default:
    return &weft_test::subset::Empty::default_instance();
  }
}

struct Decoded {
  int rv;
  std::string err;
  void *msg;
  weft_arena *arena;
};

Decoded DecodeWith(const weft_msg_desc *d, const uint8_t *data, size_t size,
                   unsigned sel, bool table) {
  Decoded r = {0, "", nullptr, nullptr};
  if ((sel & 0x80) && weft_arena_new(&r.arena, 512) != 0)
    abort();
  weft_decode_opts o = {};
  o.arena = r.arena;
  o.max_depth = (sel & 0x40) ? 2 : 0;
  o.alias = (sel & 0x20) != 0;
  o.discard_unknown = (sel & 0x12) == 0x12;
  weft_error err = {};
  weft__decode_table_only(table ? 1 : 0);
  r.rv = weft_decode(d, data, size, &o, &r.msg, &err);
  weft__decode_table_only(0);
  if (r.rv)
    r.err = err.message;
  return r;
}

void Release(Decoded *r) {
  if (r->arena)
    weft_arena_free(r->arena);
  else
    weft_message_free(r->msg);
}

// A generated type: the generated decoder and the table loop agree.
void GeneratedVsTable(const uint8_t *data, size_t size, unsigned sel) {
  static const weft_msg_desc *const descs[4] = {
      &weft_1test__flat__Flat_desc, &weft_1test__flat__Outer_desc,
      &weft_1test__gdec__Leaf_desc, &weft_1test__gdec__Tree_desc};
  const weft_msg_desc *d = descs[sel & 3];
  Decoded g = DecodeWith(d, data, size, sel, false);
  Decoded t = DecodeWith(d, data, size, sel, true);
  if (g.rv != t.rv || g.err != t.err)
    abort();
  if (g.rv == 0) {
    if (!weft_message_equal(g.msg, t.msg))
      abort();
    uint8_t *a = nullptr, *b = nullptr;
    size_t an = 0, bn = 0;
    if (weft_encode_alloc(g.msg, &a, &an) != 0 ||
        weft_encode_alloc(t.msg, &b, &bn) != 0 || an != bn ||
        (an && std::memcmp(a, b, an) != 0))
      abort();
    free(a);
    free(b);
    std::unique_ptr<google::protobuf::Message> ref;
    switch (sel & 3) {
    case 0:
      ref.reset(new weft_test::flat::Flat);
      break;
    case 1:
      ref.reset(new weft_test::flat::Outer);
      break;
    case 2:
      ref.reset(new weft_test::gdec::Leaf);
      break;
    default:
      ref.reset(new weft_test::gdec::Tree);
    }
    if (!ref->ParsePartialFromArray(data, static_cast<int>(size)))
      abort();
  }
  Release(&g);
  Release(&t);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  unsigned sel = data[0];
  data++;
  size--;
  if ((sel & 0x0c) == 0x0c) {
    std::vector<uint8_t> input(data, data + size);
    GeneratedVsTable(input.data(), size, sel);
    return 0;
  }
  const google::protobuf::Message *proto = Proto(sel);
  const weft_msg_desc *d = weft_test::DynDesc(proto->GetDescriptor());
  weft_arena *arena = nullptr;
  if ((sel & 0x80) && weft_arena_new(&arena, 512) != 0)
    return 0;
  weft_decode_opts o = {};
  o.arena = arena;
  o.max_depth = (sel & 0x40) ? 8 : 0;
  o.alias = (sel & 0x20) != 0;
  // exactly the input's bytes, so ASan sees a read past them
  std::vector<uint8_t> input(data, data + size);
  data = input.data();
  void *out = nullptr;
  weft_error err = {};
  int rv = weft_decode(d, data, size, &o, &out, &err);
  if (sel & 0x10) { // (merge does not check proto2 required fields)
    weft_decode_opts go = o;
    go.arena = nullptr;
    void *gen = weft_message_new(d, nullptr);
    if (!gen)
      abort();
    if (weft_decode_merge(gen, data, size, &go, nullptr) != rv ||
        (rv == 0 && !weft_message_equal(gen, out)))
      abort();
    weft_message_free(gen);
  }
  if (rv == 0) {
    std::unique_ptr<google::protobuf::Message> ref(proto->New());
    if (!ref->ParsePartialFromArray(data, static_cast<int>(size)))
      abort();
    size_t n = weft_encoded_size(out);
    std::vector<uint8_t> buf(n + 1);
    if (weft_encode(out, buf.data(), n) != static_cast<ssize_t>(n))
      abort();
    uint8_t *ab = nullptr;
    size_t alen = 0;
    if (weft_encode_alloc(out, &ab, &alen) != 0 || alen != n ||
        (n && std::memcmp(ab, buf.data(), n) != 0))
      abort();
    free(ab);
    void *again = nullptr;
    if (weft_decode(d, buf.data(), n, nullptr, &again, &err) != 0)
      abort();
    if (!weft_message_equal(out, again))
      abort();
    void *cp = nullptr;
    if (weft_message_copy(out, nullptr, &cp) != 0 ||
        !weft_message_equal(cp, out))
      abort();
    weft_message_free(cp);
    weft_message_free(again);
    if (!arena)
      weft_message_free(out);
  } else if (rv >= 0 || err.code != rv || err.message[0] == '\0') {
    abort();
  }
  weft_arena_free(arena);
  return 0;
}
