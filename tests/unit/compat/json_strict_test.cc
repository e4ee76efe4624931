// The MB payload check is the broker's JSON.parse: what it accepts and
// refuses (ECMA-404), where cJSON alone was more lenient.
#include <gtest/gtest.h>

#include <string>

extern "C" {
#include "json_strict.h"
}

namespace {

bool valid(const std::string &s, size_t *at = nullptr) {
  return weft__json_strict_valid(s.data(), s.size(), at);
}

TEST(JsonStrict, AcceptsWhatJsonParseAccepts) {
  for (const char *s :
       {"0", "-0", "1.5e+10", "-12.0E-3", "\"\"", "true", "false", "null",
        " {} ", "[]", "{\"a\":[1,{\"b\":null}],\"a\":2}", "\t\r\n[ 1 , 2 ]\n",
        "\"\\u00e9\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\xc3\xa9\"",
        "[\"\xff\"]" /* bad UTF-8: Node replaces it before parsing */}) {
    EXPECT_TRUE(valid(s)) << s;
  }
  // Any depth (cJSON stopped at 1000).
  std::string deep = std::string(5000, '[') + std::string(5000, ']');
  EXPECT_TRUE(valid(deep));
}

TEST(JsonStrict, RefusesWhatJsonParseRefusesAndSaysWhere) {
  struct Bad {
    std::string text;
    size_t at;
  } bad[] = {
      {"[01]", 2},                 // leading zero
      {"[1.]", 3},                 // no digit after the point
      {"[.5]", 1},                 // no digit before it
      {"[1e]", 3},                 // no exponent digits
      {"[+1]", 1},                 // plus sign
      {"[\"a\tb\"]", 3},           // raw TAB in a string
      {"[\"a\nb\"]", 3},           // raw LF
      {"\f[]", 0},                 // \f is not white space
      {"[]\v", 2},                 // nor \v
      {std::string("[]\0", 3), 2}, // nor NUL
      {"[\"\\x\"]", 3},            // no such escape
      {"[\"\\u12g4\"]", 6},        // not hex
      {"[1,]", 3},                 // trailing comma
      {"{\"a\":1,}", 7},
      {"{a:1}", 1},     // unquoted key
      {"{\"a\" 1}", 5}, // no colon
      {"[1 2]", 3},
      {"tru", 0},
      {"NaN", 0},
      {"", 0},
      {"  ", 2},
      {"[", 1},
      {"{\"a\":1", 6},
      {"\"open", 5},
      {"1 2", 2}, // two values
      {"[1]]", 3},
  };
  for (const Bad &b : bad) {
    size_t at = 999;
    EXPECT_FALSE(valid(b.text, &at)) << b.text;
    EXPECT_EQ(at, b.at) << b.text;
  }
}

} // namespace
