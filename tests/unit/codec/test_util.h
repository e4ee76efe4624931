// Small helpers shared by the codec tests.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "dyn_desc.h"

// The table-driven backward writer whatever the type (runtime/src/codec/
// encode.h): the reference weft_encode_alloc's and weft_encode's forward
// writers are checked against.
extern "C" int weft__encode_alloc_backward(const void *msg, uint8_t **out,
                                           size_t *out_len);

namespace weft_test {

inline std::string Hex(const std::string &s) {
  static const char *d = "0123456789abcdef";
  std::string o;
  for (unsigned char c : s) {
    o.push_back(d[c >> 4]);
    o.push_back(d[c & 15]);
  }
  return o;
}

inline std::string WeftEncode(const void *msg) {
  size_t n = weft_encoded_size(msg);
  std::string out(n, '\0');
  ssize_t w = weft_encode(msg, reinterpret_cast<uint8_t *>(&out[0]), n);
  EXPECT_EQ(static_cast<ssize_t>(n), w);
  if (w < 0)
    return {};
  out.resize(static_cast<size_t>(w));
  return out;
}

inline const uint8_t *U8(const std::string &s) {
  return reinterpret_cast<const uint8_t *>(s.data());
}

// The decode mode of this run: the codec test binaries are registered with
// ctest once per mode (WEFT_CODEC_DECODE_MODE=malloc, arena or alias) and
// every decode that goes through ModeDecode runs in it.
enum class Mode { kMalloc, kArena, kAlias };

inline Mode DecodeMode() {
  static const Mode m = [] {
    const char *e = std::getenv("WEFT_CODEC_DECODE_MODE");
    std::string s = e ? e : "";
    if (s == "arena")
      return Mode::kArena;
    if (s == "alias")
      return Mode::kAlias;
    return Mode::kMalloc;
  }();
  return m;
}

// Owns a message: a malloc-path one, or the arena it was decoded into, and
// the copy of the input that an aliasing decode points into (on the heap,
// so its address survives a move).
struct WeftMsg {
  void *p = nullptr;
  weft_arena *arena = nullptr;
  std::unique_ptr<std::string> input;
  WeftMsg() = default;
  explicit WeftMsg(void *q) : p(q) {}
  WeftMsg(WeftMsg &&o) noexcept
      : p(o.p), arena(o.arena), input(std::move(o.input)) {
    o.p = nullptr;
    o.arena = nullptr;
  }
  WeftMsg(const WeftMsg &) = delete;
  WeftMsg &operator=(const WeftMsg &) = delete;
  ~WeftMsg() {
    if (arena)
      weft_arena_free(arena);
    else
      weft_message_free(p);
  }
};

// weft_decode in this run's mode. base (may be NULL, must have no arena)
// gives the other options. On success out owns the message.
inline int ModeDecode(const weft_msg_desc *d, const std::string &in,
                      const weft_decode_opts *base, WeftMsg *out,
                      weft_error *err) {
  weft_decode_opts o = {};
  if (base)
    o = *base;
  EXPECT_EQ(nullptr, o.arena);
  auto buf = std::make_unique<std::string>(in);
  weft_arena *a = nullptr;
  if (DecodeMode() == Mode::kArena) {
    EXPECT_EQ(0, weft_arena_new(&a, 256));
    o.arena = a;
  }
  if (DecodeMode() == Mode::kAlias)
    o.alias = 1;
  void *p = reinterpret_cast<void *>(1);
  int rv = weft_decode(d, U8(*buf), buf->size(), &o, &p, err);
  if (rv != 0) {
    EXPECT_EQ(nullptr, p);
    weft_arena_free(a);
    return rv;
  }
  out->p = p;
  out->arena = a;
  out->input = std::move(buf);
  return 0;
}

} // namespace weft_test
