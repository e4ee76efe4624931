/* Output side of the JSON codec: the growable buffer and the formatting of
 * strings, numbers and bytes exactly as Google's JsonFormat prints them. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "json_internal.h"
#include "weft/base64.h"

int weft__wj_grow(wj_buf *b, size_t need) {
  if (b->oom)
    return -1;
  size_t cap = b->cap ? b->cap : 256;
  while (cap - b->len < need) {
    if (cap > SIZE_MAX / 2) {
      b->oom = 1;
      return -1;
    }
    cap *= 2;
  }
  char *p = realloc(b->p, cap);
  if (!p) {
    b->oom = 1;
    return -1;
  }
  b->p = p;
  b->cap = cap;
  return 0;
}

/* ASCII bytes that need an escape: controls, '"', '\\', and '<', '>' and DEL,
 * which Google escapes so JSON can be embedded in HTML. Non-ASCII bytes take
 * the slow path (1). */
static const uint8_t k_ascii_special[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

static const char k_hex[] = "0123456789abcdef";

static void put_u_escape(wj_buf *b, unsigned cu) {
  char t[6] = {'\\',
               'u',
               k_hex[(cu >> 12) & 15],
               k_hex[(cu >> 8) & 15],
               k_hex[(cu >> 4) & 15],
               k_hex[cu & 15]};
  wj_put(b, t, 6);
}

/* Code points Google prints as \u escapes (format and invisible characters),
 * measured against libprotobuf 3.21's MessageToJsonString. */
static int cp_needs_escape(uint32_t c) {
  if (c < 0x600)
    return (c >= 0x80 && c <= 0x9f) || c == 0xad;
  if (c < 0x2000)
    return (c >= 0x600 && c <= 0x603) || c == 0x6dd || c == 0x70f ||
           c == 0x17b4 || c == 0x17b5;
  if (c < 0x10000)
    return (c >= 0x200b && c <= 0x200f) || (c >= 0x2028 && c <= 0x202e) ||
           (c >= 0x2060 && c <= 0x2064) || (c >= 0x206a && c <= 0x206f) ||
           c == 0xfeff || (c >= 0xfff9 && c <= 0xfffb);
  return (c >= 0x1d173 && c <= 0x1d17a) || c == 0xe0001 ||
         (c >= 0xe0020 && c <= 0xe007f);
}

size_t weft__wj_utf8_decode(const uint8_t *s, size_t n, uint32_t *cp) {
  uint8_t c = s[0];
  if (c >= 0xc2 && c <= 0xdf) {
    if (n < 2 || (s[1] & 0xc0) != 0x80)
      return 0;
    *cp = ((uint32_t)(c & 0x1f) << 6) | (s[1] & 0x3f);
    return 2;
  }
  if (c >= 0xe0 && c <= 0xef) {
    if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
      return 0;
    uint32_t v = ((uint32_t)(c & 0x0f) << 12) | ((uint32_t)(s[1] & 0x3f) << 6) |
                 (s[2] & 0x3f);
    if (v < 0x800 || (v >= 0xd800 && v <= 0xdfff))
      return 0;
    *cp = v;
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
        (s[3] & 0xc0) != 0x80)
      return 0;
    uint32_t v = ((uint32_t)(c & 0x07) << 18) |
                 ((uint32_t)(s[1] & 0x3f) << 12) |
                 ((uint32_t)(s[2] & 0x3f) << 6) | (s[3] & 0x3f);
    if (v < 0x10000 || v > 0x10ffff)
      return 0;
    *cp = v;
    return 4;
  }
  return 0;
}

int weft__wj_string(wj_buf *b, const char *str, size_t n) {
  const uint8_t *s = (const uint8_t *)str;
  /* Worst case is 6 output bytes per input byte plus quotes; reserving the
   * plain length up front covers the common all-ASCII case in one check. */
  if (wj_reserve(b, n + 2) != 0)
    return 0;
  b->p[b->len++] = '"';
  size_t i = 0;
  while (i < n) {
    size_t run = i;
    while (run < n && !k_ascii_special[s[run]])
      run++;
    if (run > i) {
      wj_put(b, (const char *)s + i, run - i);
      i = run;
      if (i == n)
        break;
    }
    uint8_t c = s[i];
    if (c < 0x80) {
      switch (c) {
      case '"':
        wj_put(b, "\\\"", 2);
        break;
      case '\\':
        wj_put(b, "\\\\", 2);
        break;
      case '\b':
        wj_put(b, "\\b", 2);
        break;
      case '\f':
        wj_put(b, "\\f", 2);
        break;
      case '\n':
        wj_put(b, "\\n", 2);
        break;
      case '\r':
        wj_put(b, "\\r", 2);
        break;
      case '\t':
        wj_put(b, "\\t", 2);
        break;
      default:
        put_u_escape(b, c);
      }
      i++;
      continue;
    }
    uint32_t cp;
    size_t len = weft__wj_utf8_decode(s + i, n - i, &cp);
    if (len == 0)
      return WEFT_ERR_UTF8;
    if (cp_needs_escape(cp)) {
      if (cp >= 0x10000) {
        uint32_t v = cp - 0x10000;
        put_u_escape(b, 0xd800 + (v >> 10));
        put_u_escape(b, 0xdc00 + (v & 0x3ff));
      } else {
        put_u_escape(b, cp);
      }
    } else {
      wj_put(b, (const char *)s + i, len);
    }
    i += len;
  }
  wj_putc(b, '"');
  return 0;
}

static const char k_digits2[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536"
    "37383940414243444546474849505152535455565758596061626364656667686970717273"
    "7475767778798081828384858687888990919293949596979899";

void weft__wj_u64(wj_buf *b, uint64_t v) {
  char t[24];
  int i = 24;
  while (v >= 100) {
    unsigned r = (unsigned)(v % 100);
    v /= 100;
    t[--i] = k_digits2[2 * r + 1];
    t[--i] = k_digits2[2 * r];
  }
  if (v >= 10) {
    t[--i] = k_digits2[2 * v + 1];
    t[--i] = k_digits2[2 * v];
  } else {
    t[--i] = (char)('0' + v);
  }
  wj_put(b, t + i, (size_t)(24 - i));
}

void weft__wj_i64(wj_buf *b, int64_t v) {
  if (v < 0) {
    wj_putc(b, '-');
    weft__wj_u64(b, (uint64_t)0 - (uint64_t)v);
  } else {
    weft__wj_u64(b, (uint64_t)v);
  }
}

static const double k_p10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,
                               1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                               1e12, 1e13, 1e14, 1e15, 1e16, 1e17};

/* Writes m / 10^k in plain decimal ("-0.00125"); m > 0. */
static void put_scaled(wj_buf *b, int neg, uint64_t m, int k) {
  char t[48];
  int i = 48;
  for (int j = 0; j < k; j++) {
    t[--i] = (char)('0' + m % 10);
    m /= 10;
  }
  t[--i] = '.';
  do {
    t[--i] = (char)('0' + m % 10);
    m /= 10;
  } while (m);
  if (neg)
    t[--i] = '-';
  wj_put(b, t + i, (size_t)(48 - i));
}

/* The fast path of %.15g / %.6g for values that are short decimals (prices,
 * ratios, progress): the smallest k with m = v * 10^k integral such that
 * m / 10^k reads back as v. Such a value prints under %.Pg as exactly that
 * decimal (the double's error is far below half a unit of the P-th digit),
 * and the round-trip check passes by construction. lo/hi bound the values
 * that read back as v (for floats: midpoints to the float neighbours);
 * returns 0 when the slow path is needed. */
static int short_decimal(wj_buf *b, double v, int max_digits, int is_float,
                         double lo, double hi) {
  int neg = v < 0;
  double a = neg ? -v : v;
  if (!(a >= 1e-4 && a < 1e15))
    return 0; /* %g would use an exponent, or not short */
  double lim = k_p10[max_digits];
  for (int k = 1; k <= 17; k++) {
    double t = a * k_p10[k];
    if (t >= lim)
      return 0;
    double m = floor(t + 0.5);
    if (m == 0)
      continue;
    double dd = m / k_p10[k]; /* correctly rounded: m < 2^53 */
    if (neg)
      dd = -dd;
    if (is_float ? (dd > lo && dd < hi) : (dd == v)) {
      put_scaled(b, neg, (uint64_t)m, k);
      return 1;
    }
  }
  return 0;
}

void weft__wj_double(wj_buf *b, double v) {
  if (isnan(v)) {
    wj_put(b, "\"NaN\"", 5);
    return;
  }
  if (isinf(v)) {
    if (v > 0)
      wj_put(b, "\"Infinity\"", 10);
    else
      wj_put(b, "\"-Infinity\"", 11);
    return;
  }
  /* Integers below 1e15 print the same under %.15g as in plain decimal;
   * skip printf for them (ids, counts and amounts are mostly integral). */
  if (v > -1e15 && v < 1e15 && v == (double)(int64_t)v &&
      !(v == 0 && signbit(v))) {
    weft__wj_i64(b, (int64_t)v);
    return;
  }
  if (short_decimal(b, v, 15, 0, 0, 0))
    return;
  char t[40];
  int n = snprintf(t, sizeof t, "%.15g", v);
  if (strtod(t, NULL) != v)
    n = snprintf(t, sizeof t, "%.17g", v);
  wj_put(b, t, (size_t)n);
}

void weft__wj_float(wj_buf *b, float v) {
  if (isnan(v) || isinf(v)) {
    weft__wj_double(b, v);
    return;
  }
  if (v > -1e6f && v < 1e6f && v == (float)(int32_t)v &&
      !(v == 0 && signbit(v))) {
    weft__wj_i64(b, (int32_t)v);
    return;
  }
  if (fabsf(v) >= FLT_MIN) {
    /* decimals in (lo, hi) read back (strtof) as v */
    double lo = ((double)nextafterf(v, -INFINITY) + v) / 2;
    double hi = ((double)nextafterf(v, INFINITY) + v) / 2;
    if (short_decimal(b, v, 6, 1, lo, hi))
      return;
  }
  char t[40];
  int n = snprintf(t, sizeof t, "%.6g", (double)v);
  /* Google's safe_strtof fails on subnormal results (ERANGE), so those
   * always take the long form. */
  if (strtof(t, NULL) != v || (v != 0 && fabsf(v) < FLT_MIN))
    n = snprintf(t, sizeof t, "%.9g", (double)v);
  wj_put(b, t, (size_t)n);
}

void weft__wj_base64(wj_buf *b, const uint8_t *d, size_t len) {
  size_t out = weft_base64_encoded_len(len, 0);
  if (wj_reserve(b, out + 2) != 0)
    return;
  char *o = b->p + b->len;
  *o++ = '"';
  o += weft_base64_encode(d, len, o, 0);
  *o++ = '"';
  b->len = (size_t)(o - b->p);
}
