// weft/base64.h: the one base64 of the JSON codec, the JSON envelopes and
// the Connect error details. RFC 4648 section 10 vectors, both alphabets,
// padding on and off, and the texts it must refuse.
#include <gtest/gtest.h>

#include <string>
#include <vector>

extern "C" {
#include "weft/base64.h"
}

namespace {

std::string enc(const std::string &s, unsigned flags) {
  std::string out(weft_base64_encoded_len(s.size(), flags), '?');
  size_t n = weft_base64_encode(s.data(), s.size(), &out[0], flags);
  EXPECT_EQ(n, out.size());
  return out;
}

// Decoded bytes, or "<bad>".
std::string dec(const std::string &t) {
  std::vector<uint8_t> out(WEFT_BASE64_DECODED_MAX(t.size()));
  long n = weft_base64_decode(t.data(), t.size(), out.data());
  if (n < 0)
    return "<bad>";
  return std::string(reinterpret_cast<char *>(out.data()),
                     static_cast<size_t>(n));
}

TEST(Base64, Rfc4648Vectors) {
  const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  const char *padded[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                          "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
  const char *bare[] = {"",       "Zg",      "Zm8",     "Zm9v",
                        "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
  for (int i = 0; i < 7; i++) {
    EXPECT_EQ(enc(plain[i], 0), padded[i]);
    EXPECT_EQ(enc(plain[i], WEFT_BASE64_NOPAD), bare[i]);
    EXPECT_EQ(dec(padded[i]), plain[i]);
    EXPECT_EQ(dec(bare[i]), plain[i]);
  }
}

TEST(Base64, BothAlphabets) {
  const std::string bytes("\xfb\xff\xfe", 3);
  EXPECT_EQ(enc(bytes, 0), "+//+");
  EXPECT_EQ(enc(bytes, WEFT_BASE64_URL), "-__-");
  EXPECT_EQ(dec("+//+"), bytes);
  EXPECT_EQ(dec("-__-"), bytes);
  EXPECT_EQ(dec("+_8="), "<bad>"); // one alphabet per text
}

TEST(Base64, RefusesWhatIsNotBase64) {
  EXPECT_EQ(dec("Z"), "<bad>");     // a lone sextet is no byte
  EXPECT_EQ(dec("Zh=="), "<bad>");  // bits below the last byte set
  EXPECT_EQ(dec("Zm9="), "<bad>");  // likewise, with three characters
  EXPECT_EQ(dec("Zg="), "<bad>");   // padding that does not end a quad
  EXPECT_EQ(dec("Z=g="), "<bad>");  // padding inside
  EXPECT_EQ(dec("Zm 9v"), "<bad>"); // whitespace
  EXPECT_EQ(dec("Zm9v\n"), "<bad>");
  EXPECT_EQ(dec("@@@@"), "<bad>");
}

TEST(Base64, EveryByteValueRoundTrips) {
  std::string all;
  for (int i = 0; i < 256; i++)
    all.push_back(static_cast<char>(i));
  for (size_t len = 0; len <= all.size(); len += 37)
    for (unsigned flags = 0; flags < 4; flags++)
      EXPECT_EQ(dec(enc(all.substr(0, len), flags)), all.substr(0, len))
          << len << " " << flags;
}

} // namespace
