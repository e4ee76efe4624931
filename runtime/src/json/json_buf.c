/* Output side of the JSON codec: the growable buffer and the formatting of
 * strings, numbers and bytes exactly as Google's JsonFormat prints them. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "json_internal.h"

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

void weft__wj_u64(wj_buf *b, uint64_t v) {
  char t[24];
  int i = 24;
  do {
    t[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
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
  char t[40];
  int n = snprintf(t, sizeof t, "%.6g", (double)v);
  /* Google's safe_strtof fails on subnormal results (ERANGE), so those
   * always take the long form. */
  if (strtof(t, NULL) != v || (v != 0 && fabsf(v) < FLT_MIN))
    n = snprintf(t, sizeof t, "%.9g", (double)v);
  wj_put(b, t, (size_t)n);
}

static const char k_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void weft__wj_base64(wj_buf *b, const uint8_t *d, size_t len) {
  size_t out = (len + 2) / 3 * 4;
  if (wj_reserve(b, out + 2) != 0)
    return;
  char *o = b->p + b->len;
  *o++ = '"';
  size_t i = 0;
  for (; i + 3 <= len; i += 3) {
    uint32_t v = ((uint32_t)d[i] << 16) | ((uint32_t)d[i + 1] << 8) | d[i + 2];
    o[0] = k_b64[v >> 18];
    o[1] = k_b64[(v >> 12) & 63];
    o[2] = k_b64[(v >> 6) & 63];
    o[3] = k_b64[v & 63];
    o += 4;
  }
  if (len - i == 1) {
    uint32_t v = (uint32_t)d[i] << 16;
    o[0] = k_b64[v >> 18];
    o[1] = k_b64[(v >> 12) & 63];
    o[2] = '=';
    o[3] = '=';
    o += 4;
  } else if (len - i == 2) {
    uint32_t v = ((uint32_t)d[i] << 16) | ((uint32_t)d[i + 1] << 8);
    o[0] = k_b64[v >> 18];
    o[1] = k_b64[(v >> 12) & 63];
    o[2] = k_b64[(v >> 6) & 63];
    o[3] = '=';
    o += 4;
  }
  *o++ = '"';
  b->len = (size_t)(o - b->p);
}
