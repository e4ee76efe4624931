// UTF-8 validation: the boundaries RFC 3629 draws, whole and split at every
// byte (a code point may straddle WebSocket fragments).
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "weft/error.h"
#include "weft/utf8.h"
#include "ws_frame.h"

namespace {

bool valid(const std::string &s) {
  return weft_utf8_valid(reinterpret_cast<const uint8_t *>(s.data()), s.size());
}

// Same verdict when fed in two pieces split at every position.
bool valid_split(const std::string &s) {
  bool whole = valid(s);
  for (size_t cut = 0; cut <= s.size(); cut++) {
    weft__ws_utf8 u = {0, 0, 0};
    auto p = reinterpret_cast<const uint8_t *>(s.data());
    bool ok = weft__ws_utf8_feed(&u, p, cut) &&
              weft__ws_utf8_feed(&u, p + cut, s.size() - cut) &&
              weft__ws_utf8_complete(&u);
    EXPECT_EQ(ok, whole) << "cut at " << cut;
  }
  return whole;
}

TEST(Utf8, AcceptsValid) {
  std::vector<std::string> ok = {
      "",
      "hello, world: plain ASCII longer than eight bytes",
      "\xC2\x80",                      // U+0080
      "\xDF\xBF",                      // U+07FF
      "\xE0\xA0\x80",                  // U+0800
      "\xED\x9F\xBF",                  // U+D7FF, just below the surrogates
      "\xEE\x80\x80",                  // U+E000
      "\xEF\xBF\xBF",                  // U+FFFF
      "\xF0\x90\x80\x80",              // U+10000
      "\xF4\x8F\xBF\xBF",              // U+10FFFF
      "κόσμε",                         // Greek
      "x\xF0\x9F\x98\x80yz0123456789", // emoji amid ASCII
  };
  for (auto &s : ok)
    EXPECT_TRUE(valid_split(s)) << s;
}

TEST(Utf8, RejectsInvalid) {
  std::vector<std::string> bad = {
      "\x80", // lone continuation
      "\xBF",
      "\xC0\x80",     // overlong NUL
      "\xC1\xBF",     // overlong
      "\xE0\x80\x80", // overlong 3-byte
      "\xE0\x9F\xBF",
      "\xED\xA0\x80",     // U+D800 surrogate
      "\xED\xBF\xBF",     // U+DFFF
      "\xF0\x80\x80\x80", // overlong 4-byte
      "\xF0\x8F\xBF\xBF",
      "\xF4\x90\x80\x80", // U+110000
      "\xF5\x80\x80\x80",
      "\xFE",
      "\xFF",
      "\xC2", // truncated
      "\xE0\xA0",
      "\xF0\x90\x80",
      "abc\xC2"
      "def",          // continuation missing mid-string
      "01234567\x80", // bad byte after the fast path
  };
  for (auto &s : bad)
    EXPECT_FALSE(valid_split(s)) << testing::PrintToString(s);
}

TEST(Utf8, FailsFastAtTheBadByte) {
  // The feed fails as soon as a byte can never be valid, without waiting
  // for the end of the text.
  weft__ws_utf8 u = {0, 0, 0};
  const uint8_t p[] = {'a', 0xED, 0xA0};
  EXPECT_TRUE(weft__ws_utf8_feed(&u, p, 2));
  EXPECT_FALSE(weft__ws_utf8_feed(&u, p + 2, 1));
}

// Cutting text to fit a message never leaves half a character.
TEST(Utf8, PrefixCutsAtACharacterBoundary) {
  const char *e = "\xC3\xA9\xC3\xA9"; // "éé", two bytes each
  EXPECT_EQ(weft_utf8_prefix(e, 4), 4u);
  EXPECT_EQ(weft_utf8_prefix(e, 3), 2u);
  EXPECT_EQ(weft_utf8_prefix(e, 1), 0u);
  EXPECT_EQ(weft_utf8_prefix(e, 99), 4u);
  const char *four = "a\xF0\x9F\x98\x80"
                     "b"; // a, U+1F600, b
  for (size_t max = 1; max < 5; max++)
    EXPECT_EQ(weft_utf8_prefix(four, max), 1u) << max;
  EXPECT_EQ(weft_utf8_prefix(four, 5), 5u);
  EXPECT_EQ(weft_utf8_prefix("", 3), 0u);
  EXPECT_EQ(weft_utf8_prefix("abc", 0), 0u);
  for (size_t max = 0; max < 8; max++) {
    size_t n = weft_utf8_prefix(four, max);
    EXPECT_TRUE(weft_utf8_valid(four, n)) << max;
  }
}

// An error message cut to fit weft_error.message is not cut inside a
// character: it may go out in a JSON body or a WebSocket close reason.
TEST(Utf8, ErrorMessagesCutAtACharacterBoundary) {
  const size_t room = WEFT_ERROR_MSG_MAX - 1;
  struct {
    std::string tail;
    size_t keep; // bytes of the message kept
  } cases[] = {
      {"\xC3\xA9", room - 1},         // é: its first byte would fit
      {"\xE2\x82\xAC", room - 1},     // €: two of its three would
      {"\xF0\x9F\x98\x80", room - 1}, // U+1F600: three of four
      {"b", room},
  };
  for (auto &c : cases) {
    std::string msg(room - 1, 'a');
    msg += c.tail;
    weft_error e;
    weft_error_set(&e, WEFT_ERR_INVAL, "%s", msg.c_str());
    EXPECT_EQ(strlen(e.message), c.keep) << c.tail;
    EXPECT_TRUE(weft_utf8_valid(e.message, strlen(e.message))) << c.tail;
  }
  // Whole characters that fit stay.
  std::string fits(room - 2, 'a');
  weft_error e;
  weft_error_set(&e, WEFT_ERR_INVAL, "%s\xC3\xA9xyz", fits.c_str());
  EXPECT_EQ(strlen(e.message), room);
}

} // namespace
