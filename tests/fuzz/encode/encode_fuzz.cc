// libFuzzer target for the encoders that write front to back, differential
// against the table-driven backward writer: the table-driven forward writer
// (runtime/src/codec/encode_fwd.c) and the generated per-type encoders
// (weft/gen_encode.h). The first input byte picks the type (bits 0x01 and
// 0x20: a flat message, one holding flat messages, or a nested and
// recursive one, which the generated size and write passes encode), the
// descriptors (0x02; built at run time: the tables; generated: the
// generated encoders), the decode mode (0x80: arena or malloc tree, 0x40:
// with or without aliasing) and a spare capacity (0x1c); the rest is the
// wire input. For every message weft accepts: weft_encode gives exactly
// weft_encoded_size() bytes, the same bytes as weft__encode_alloc_backward (the
// backward writer whatever the type) and as weft_encode_alloc, in an exact-size
// buffer and in a larger one, fails with WEFT_ERR_TOO_BIG one byte short, and
// the bytes decode again to an equal message.
#include <cstdlib>
#include <cstring>
#include <vector>

#include "dyn_desc.h"
#include "flat_encode.pb.h"
#include "flat_encode.weft.h"

// the table-driven backward writer whatever the type (codec/encode.h)
extern "C" int weft__encode_alloc_backward(const void *msg, uint8_t **out,
                                           size_t *out_len);

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  unsigned sel = data[0];
  data++;
  size--;
  const google::protobuf::Message *proto;
  const weft_msg_desc *gen;
  if (sel & 0x20) {
    proto = &weft_test::flat::Tree::default_instance();
    gen = &weft_1test__flat__Tree_desc;
  } else if (sel & 1) {
    proto = &weft_test::flat::Outer::default_instance();
    gen = &weft_1test__flat__Outer_desc;
  } else {
    proto = &weft_test::flat::Flat::default_instance();
    gen = &weft_1test__flat__Flat_desc;
  }
  const weft_msg_desc *d = weft_test::DynDesc(proto->GetDescriptor());
  if (sel & 2)
    d = gen;
  weft_arena *arena = nullptr;
  if ((sel & 0x80) && weft_arena_new(&arena, 512) != 0)
    return 0;
  weft_decode_opts o = {};
  o.arena = arena;
  o.alias = (sel & 0x40) != 0;
  std::vector<uint8_t> input(data, data + size);
  void *out = nullptr;
  weft_error err = {};
  if (weft_decode(d, input.data(), size, &o, &out, &err) == 0) {
    size_t n = weft_encoded_size(out);
    uint8_t *ab = nullptr;
    size_t alen = 0;
    if (weft__encode_alloc_backward(out, &ab, &alen) != 0 || alen != n)
      abort();
    {
      uint8_t *fb = nullptr;
      size_t flen = 0;
      if (weft_encode_alloc(out, &fb, &flen) != 0 || flen != n ||
          (n && std::memcmp(fb, ab, n) != 0))
        abort();
      std::free(fb);
    }
    // exact size, malloc'd so ASan sees a write past it; then with spare
    size_t spare = (sel >> 2) & 7;
    for (size_t cap : {n, n + spare}) {
      uint8_t *buf = static_cast<uint8_t *>(std::malloc(cap ? cap : 1));
      if (weft_encode(out, buf, cap) != static_cast<ssize_t>(n) ||
          (n && std::memcmp(buf, ab, n) != 0))
        abort();
      std::free(buf);
    }
    if (n) {
      uint8_t *buf = static_cast<uint8_t *>(std::malloc(n - 1 ? n - 1 : 1));
      if (weft_encode(out, buf, n - 1) != WEFT_ERR_TOO_BIG)
        abort();
      std::free(buf);
    }
    void *again = nullptr;
    if (weft_decode(d, ab, n, nullptr, &again, &err) != 0 ||
        !weft_message_equal(out, again))
      abort();
    weft_message_free(again);
    free(ab);
    if (!arena)
      weft_message_free(out);
  }
  weft_arena_free(arena);
  return 0;
}
