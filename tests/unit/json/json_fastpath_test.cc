// The decoder's fast paths against plain reference code on random inputs:
// the 8-byte string scan against a byte loop, integer text parsing against
// a digit-by-digit overflow check, base64's one-pass alphabet rule against
// a two-pass reference, and whole strings through weft_json_decode against
// a reference unescaper. A fast path that disagrees with its slow twin on
// any input fails here with that input.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "json_test3.weft.h"

extern "C" {
#include "json_internal.h"
#include "weft/base64.h"
#include "weft/codec.h"
}

namespace {

const char *RefScan(const char *p, const char *end) {
  while (p < end) {
    unsigned char c = static_cast<unsigned char>(*p);
    if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80)
      break;
    p++;
  }
  return p;
}

// Bytes near every edge of the scan's lane tests: the stops themselves,
// their neighbours ('!', '#', '[', ']', ' ', 0x7f) and plain letters.
unsigned char PickByte(std::mt19937_64 &rng, int stop_per_mille) {
  static const unsigned char kNear[] = {'!',  '#',  '[',  ']',  ' ',  0x7f,
                                        0x21, 0x23, 0x5b, 0x5d, 0x60, 0x3f};
  static const unsigned char kStop[] = {'"',  '\\', 0x00, 0x01, 0x1f, 0x0a,
                                        0x80, 0x9f, 0xa0, 0xc3, 0xff, 0xe2};
  unsigned r = static_cast<unsigned>(rng() % 1000);
  if (r < static_cast<unsigned>(stop_per_mille))
    return kStop[rng() % sizeof kStop];
  if (r < 300)
    return kNear[rng() % sizeof kNear];
  return static_cast<unsigned char>('a' + rng() % 26);
}

TEST(JsonFastPath, StringScanMatchesByteLoop) {
  std::mt19937_64 rng(20261207);
  std::vector<char> buf(96);
  for (int iter = 0; iter < 60000; iter++) {
    int stop_rate = iter % 3 == 0 ? 0 : (iter % 3 == 1 ? 5 : 60);
    for (auto &c : buf)
      c = static_cast<char>(PickByte(rng, stop_rate));
    size_t off = rng() % 16, len = rng() % (buf.size() - off + 1);
    const char *p = buf.data() + off, *end = p + len;
    ASSERT_EQ(wj_str_scan(p, end) - p, RefScan(p, end) - p)
        << "offset " << off << " length " << len;
  }
  // every byte value at every lane, after a run of plain text, and a second
  // stop above it (borrows must not move the answer)
  for (int b = 0; b < 256; b++)
    for (size_t pos = 0; pos < 24; pos++)
      for (int second = 0; second < 2; second++) {
        std::string s(32, 'x');
        s[pos] = static_cast<char>(b);
        if (second && pos + 1 < s.size())
          s[pos + 1] = '\0';
        const char *p = s.data(), *end = p + s.size();
        ASSERT_EQ(wj_str_scan(p, end) - p, RefScan(p, end) - p)
            << "byte " << b << " at " << pos;
      }
}

// The division-per-digit form the fast loop replaced.
int RefU64(const char *s, size_t n, int allow_plus, uint64_t *out) {
  size_t i = 0;
  if (n && s[0] == '+' && allow_plus)
    i++;
  if (i == n)
    return -1;
  uint64_t v = 0;
  for (; i < n; i++) {
    unsigned d = static_cast<unsigned>(s[i] - '0');
    if (d > 9)
      return -1;
    if (v > (UINT64_MAX - d) / 10)
      return -2;
    v = v * 10 + d;
  }
  *out = v;
  return 0;
}

TEST(JsonFastPath, IntegerTextMatchesCheckedLoop) {
  std::mt19937_64 rng(7);
  std::vector<std::string> cases = {
      "0",
      "18446744073709551615",
      "18446744073709551616",
      "99999999999999999999",
      "9999999999999999999",
      "1844674407370955161",
      "+18446744073709551615",
      "00000000000000000000000000001",
      "184467440737095516150",
      "99999999999999999999x",
      "1x",
      "+",
      "",
  };
  for (int iter = 0; iter < 100000; iter++) {
    std::string s;
    if (rng() % 4 == 0)
      s.push_back(rng() % 2 ? '+' : '-');
    size_t n = rng() % 26;
    for (size_t i = 0; i < n; i++)
      s.push_back(static_cast<char>('0' + rng() % 10));
    if (n && rng() % 5 == 0)
      s[rng() % s.size()] = static_cast<char>("x.e-+ "[rng() % 6]);
    if (n && rng() % 3 == 0)
      s[s.size() - n] = '1'; // long runs of leading 9s and 1s reach 2^64
    cases.push_back(s);
  }
  for (const std::string &s : cases)
    for (int plus = 0; plus < 2; plus++) {
      uint64_t a = 1, b = 1;
      int ra = weft__wj_parse_u64_text(s.data(), s.size(), plus, &a);
      int rb = RefU64(s.data(), s.size(), plus, &b);
      ASSERT_EQ(ra, rb) << '"' << s << '"';
      if (ra == 0)
        ASSERT_EQ(a, b) << '"' << s << '"';
    }
}

// base64 with the "one alphabet per text" rule checked in a second pass.
long RefBase64(const std::string &t, std::string *out) {
  std::vector<uint8_t> buf(WEFT_BASE64_DECODED_MAX(t.size()));
  std::string mapped = t;
  bool std_seen = false, url_seen = false;
  for (char &c : mapped) {
    std_seen |= c == '+' || c == '/';
    url_seen |= c == '-' || c == '_';
    if (c == '-')
      c = '+';
    else if (c == '_')
      c = '/';
  }
  long n = weft_base64_decode(mapped.data(), mapped.size(), buf.data());
  if (n < 0 || (std_seen && url_seen))
    return -1;
  out->assign(reinterpret_cast<char *>(buf.data()), static_cast<size_t>(n));
  return n;
}

TEST(JsonFastPath, Base64AlphabetRuleMatchesTwoPasses) {
  std::mt19937_64 rng(11);
  static const char kAlpha[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_";
  for (int iter = 0; iter < 50000; iter++) {
    size_t n = rng() % 40;
    std::string t;
    for (size_t i = 0; i < n; i++)
      t.push_back(kAlpha[rng() % 62]);
    // a few of the four alphabet-specific letters anywhere, tail included
    for (int k = static_cast<int>(rng() % 3); k > 0 && n; k--)
      t[rng() % n] = "+/-_"[rng() % 4];
    if (rng() % 2 && n % 4 == 2)
      t += "==";
    else if (rng() % 2 && n % 4 == 3)
      t += "=";
    std::vector<uint8_t> got(WEFT_BASE64_DECODED_MAX(t.size()));
    long g = weft_base64_decode(t.data(), t.size(), got.data());
    std::string want;
    long w = RefBase64(t, &want);
    ASSERT_EQ(g, w) << t;
    if (g >= 0)
      ASSERT_EQ(std::string(reinterpret_cast<char *>(got.data()),
                            static_cast<size_t>(g)),
                want)
          << t;
  }
}

// ---- whole strings through the decoder ------------------------------------

// A JSON string body (no quotes) of random plain text, escapes, UTF-8 and
// invalid bytes, with the text it should decode to (valid = false if the
// decoder must refuse it).
struct Sample {
  std::string json, text;
  bool valid = true;
};

Sample RandomString(std::mt19937_64 &rng) {
  Sample s;
  size_t parts = rng() % 12;
  for (size_t i = 0; i < parts; i++) {
    switch (rng() % 8) {
    case 0: {
      static const char *kEsc[][2] = {{"\\n", "\n"},
                                      {"\\\"", "\""},
                                      {"\\\\", "\\"},
                                      {"\\/", "/"},
                                      {"\\t", "\t"},
                                      {"\\u00e9", "\xc3\xa9"},
                                      {"\\u20ac", "\xe2\x82\xac"},
                                      {"\\ud83d\\ude00", "\xf0\x9f\x98\x80"}};
      size_t k = rng() % (sizeof kEsc / sizeof kEsc[0]);
      s.json += kEsc[k][0];
      s.text += kEsc[k][1];
      break;
    }
    case 1: {
      static const char *kUtf8[] = {"\xc3\xa9", "\xe2\x82\xac",
                                    "\xf0\x9f\x98\x80", "\xd0\x96"};
      const char *u = kUtf8[rng() % 4];
      s.json += u;
      s.text += u;
      break;
    }
    case 2:
      if (rng() % 8 == 0) { // an invalid byte or a raw control
        s.json.push_back(rng() % 2 ? '\x01' : '\xff');
        s.valid = false;
      }
      break;
    default: {
      size_t n = rng() % 20;
      for (size_t j = 0; j < n; j++) {
        char c = static_cast<char>(PickByte(rng, 0));
        s.json.push_back(c);
        s.text.push_back(c);
      }
    }
    }
  }
  return s;
}

TEST(JsonFastPath, StringsDecodeLikeTheReference) {
  std::mt19937_64 rng(3);
  const weft_msg_desc *d = &weft__jsontest__AllTypes_desc;
  for (int iter = 0; iter < 20000; iter++) {
    Sample s = RandomString(rng);
    // as a value and (for the key test) inside a map key
    std::string in = "{\"fString\":\"" + s.json + "\",\"mStringInt32\":{\"" +
                     s.json + "\":1}}";
    void *m = nullptr;
    weft_error err;
    int rv = weft_json_decode(d, in.data(), in.size(), nullptr, &m, &err);
    if (!s.valid) {
      ASSERT_NE(rv, 0) << in;
      continue;
    }
    ASSERT_EQ(rv, 0) << in << ": " << err.message;
    auto *msg = static_cast<weft__jsontest__AllTypes *>(m);
    EXPECT_EQ(std::string(msg->f_string), s.text) << in;
    ASSERT_EQ(msg->n_m_string_int32, 1u) << in;
    EXPECT_EQ(std::string(msg->m_string_int32[0]->key), s.text) << in;
    weft_message_free(m);
  }
}

} // namespace
