/* Base64 (see weft/base64.h). */
#include "weft/base64.h"

#include <stdbool.h>

static const char k_std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char k_url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t weft_base64_encoded_len(size_t n, unsigned flags) {
  if (!(flags & WEFT_BASE64_NOPAD))
    return (n + 2) / 3 * 4;
  return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

size_t weft_base64_encode(const void *p, size_t n, char *out, unsigned flags) {
  const uint8_t *d = p;
  const char *t = flags & WEFT_BASE64_URL ? k_url : k_std;
  char *o = out;
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8 | d[i + 2];
    o[0] = t[v >> 18];
    o[1] = t[(v >> 12) & 63];
    o[2] = t[(v >> 6) & 63];
    o[3] = t[v & 63];
    o += 4;
  }
  if (i < n) {
    bool two = i + 1 < n;
    uint32_t v = (uint32_t)d[i] << 16 | (two ? (uint32_t)d[i + 1] << 8 : 0);
    *o++ = t[v >> 18];
    *o++ = t[(v >> 12) & 63];
    if (two)
      *o++ = t[(v >> 6) & 63];
    if (!(flags & WEFT_BASE64_NOPAD)) {
      if (!two)
        *o++ = '=';
      *o++ = '=';
    }
  }
  return (size_t)(o - out);
}

/* Both alphabets: standard (+/) and URL-safe (-_); -1 elsewhere. The
 * four letters that differ carry a flag above the 6-bit value, so the
 * "one alphabet per text" rule costs one OR per quad, not a second pass. */
#define B64_STD 0x100 /* '+' 0x13e, '/' 0x13f */
#define B64_URL 0x200 /* '-' 0x23e, '_' 0x23f */
static const int16_t k_b64_dec[256] = {
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,    -1, -1,    -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,    -1, -1,    -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0x13e, -1, 0x23e, -1, 0x13f,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1,    -1, -1,    -1, -1,
    -1, 0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10,    11, 12,    13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1,    -1, -1,    -1, 0x23f,
    -1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36,    37, 38,    39, 40,
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1,    -1, -1,    -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,    -1, -1,    -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,    -1, -1,    -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,    -1, -1,    -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,    -1, -1,    -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,    -1, -1,    -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,    -1, -1,    -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,    -1, -1,    -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,    -1, -1,    -1, -1,
};

long weft_base64_decode(const char *s, size_t n, uint8_t *out) {
  /* Padding is optional, but if present it must complete the last quad. */
  size_t pad = 0;
  if (n % 4 == 0 && n >= 4) {
    if (s[n - 1] == '=')
      pad++;
    if (s[n - 2] == '=')
      pad++;
  }
  size_t m = n - pad;
  if (m % 4 == 1)
    return -1;
  int seen = 0; /* B64_STD | B64_URL: the alphabets used */
  long o = 0;
  size_t i = 0;
  for (; i + 4 <= m; i += 4) {
    int a = k_b64_dec[(uint8_t)s[i]], b = k_b64_dec[(uint8_t)s[i + 1]],
        c = k_b64_dec[(uint8_t)s[i + 2]], d = k_b64_dec[(uint8_t)s[i + 3]];
    int all = a | b | c | d;
    if (all < 0)
      return -1;
    seen |= all;
    uint32_t v = (uint32_t)(a & 63) << 18 | (uint32_t)(b & 63) << 12 |
                 (uint32_t)(c & 63) << 6 | (uint32_t)(d & 63);
    out[o++] = (uint8_t)(v >> 16);
    out[o++] = (uint8_t)(v >> 8);
    out[o++] = (uint8_t)v;
  }
  size_t r = m - i;
  if (r >= 2) {
    int a = k_b64_dec[(uint8_t)s[i]], b = k_b64_dec[(uint8_t)s[i + 1]];
    int c = r == 3 ? k_b64_dec[(uint8_t)s[i + 2]] : 0;
    if ((a | b | c) < 0)
      return -1;
    seen |= a | b | c;
    a &= 63;
    b &= 63;
    c &= 63;
    /* Bits below the last whole byte must be zero: otherwise two texts
     * would decode to the same bytes. */
    if ((r == 2 && (b & 15)) || (r == 3 && (c & 3)))
      return -1;
    uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6;
    out[o++] = (uint8_t)(v >> 16);
    if (r == 3)
      out[o++] = (uint8_t)(v >> 8);
  }
  /* One alphabet per text: standard (+/) or URL-safe (-_), not both. */
  return (seen & (B64_STD | B64_URL)) == (B64_STD | B64_URL) ? -1 : o;
}
