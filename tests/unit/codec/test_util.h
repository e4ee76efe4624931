// Small helpers shared by the codec tests.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "dyn_desc.h"

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

// Owns a malloc-path message.
struct WeftMsg {
  void *p = nullptr;
  WeftMsg() = default;
  explicit WeftMsg(void *q) : p(q) {}
  WeftMsg(const WeftMsg &) = delete;
  WeftMsg &operator=(const WeftMsg &) = delete;
  ~WeftMsg() {
    weft_message_free(p);
  }
};

} // namespace weft_test
