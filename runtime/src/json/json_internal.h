/* Internal pieces shared by the JSON encoder and decoder: the growable
 * output buffer, number and string formatting that matches Google's
 * JsonFormat byte for byte, base64, and the well-known-type text forms
 * (RFC 3339 times, durations, field-mask case conversion). */
#ifndef WEFT_JSON_INTERNAL_H
#define WEFT_JSON_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "weft/json.h"

/* ---- growable output buffer ------------------------------------------- */

typedef struct wj_buf {
  char *p;
  size_t len, cap;
  int oom; /* sticky: set once an allocation failed */
} wj_buf;

int weft__wj_grow(wj_buf *b, size_t need);

static inline int wj_reserve(wj_buf *b, size_t n) {
  return (b->cap - b->len >= n) ? 0 : weft__wj_grow(b, n);
}
static inline void wj_putc(wj_buf *b, char c) {
  if (wj_reserve(b, 1) == 0)
    b->p[b->len++] = c;
}
static inline void wj_put(wj_buf *b, const char *s, size_t n) {
  if (wj_reserve(b, n) == 0) {
    memcpy(b->p + b->len, s, n);
    b->len += n;
  }
}
static inline void wj_puts(wj_buf *b, const char *s) {
  wj_put(b, s, strlen(s));
}

/* Writes s[0..n) as a quoted JSON string with Google's escaping. Returns 0,
 * or WEFT_ERR_UTF8 if s is not valid UTF-8 (nothing sensible to print). */
int weft__wj_string(wj_buf *b, const char *s, size_t n);
/* Decodes one UTF-8 sequence at s (n bytes available, s[0] >= 0x80).
 * Returns its length and the code point, or 0 if invalid (overlong forms,
 * surrogates and values above U+10FFFF included). */
size_t weft__wj_utf8_decode(const uint8_t *s, size_t n, uint32_t *cp);
/* Unsigned/signed decimal, no quotes. */
void weft__wj_u64(wj_buf *b, uint64_t v);
void weft__wj_i64(wj_buf *b, int64_t v);
/* Google's SimpleDtoa/SimpleFtoa forms: %.15g (%.6g) when that reads back
 * exactly, else %.17g (%.9g); NaN/Infinity are quoted strings. */
void weft__wj_double(wj_buf *b, double v);
void weft__wj_float(wj_buf *b, float v);
/* Standard base64 with padding, quoted. */
void weft__wj_base64(wj_buf *b, const uint8_t *data, size_t len);

/* ---- string scanning (decoder) ------------------------------------------ */

/* Whether byte c ends the plain run of a JSON string: '"', '\\', a control
 * character (< 0x20) or a non-ASCII byte (>= 0x80, checked as UTF-8). */
static inline int wj_str_stop(unsigned char c) {
  return c == '"' || c == '\\' || c < 0x20 || c >= 0x80;
}

/* The first byte of [p, end) that wj_str_stop() stops at, or end. Most of a
 * JSON document is string text, so this looks at 8 bytes per step: in each
 * byte lane, a '"' or '\\' (xor, then the zero-byte test), a control (c - 0x20
 * wraps) or a high bit sets bit 7. A lane can only be set
 * spuriously above a lane that is set for real (borrows move upward), so
 * the lowest set lane is exact. */
static inline const char *wj_str_scan(const char *p, const char *end) {
  const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
  while (end - p >= 8) {
    uint64_t w, q, b, t;
    memcpy(&w, p, 8);
    q = w ^ (ones * '"');
    b = w ^ (ones * '\\');
    t = ((q - ones) & ~q) | ((b - ones) & ~b) | (w - ones * 0x20) | w;
    t &= high;
    if (t) {
#if defined(__GNUC__) && defined(__BYTE_ORDER__) &&                            \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
      return p + (__builtin_ctzll(t) >> 3);
#else
      break;
#endif
    }
    p += 8;
  }
  while (p < end && !wj_str_stop((unsigned char)*p))
    p++;
  return p;
}

/* ---- text forms of well-known types ----------------------------------- */

#define WJ_TS_MIN_SECONDS (-62135596800LL) /* 0001-01-01T00:00:00Z */
#define WJ_TS_MAX_SECONDS 253402300799LL   /* 9999-12-31T23:59:59Z */
#define WJ_DUR_MAX_SECONDS 315576000000LL

/* Formats into out (>= 40 bytes) without quotes; returns length or -1 if
 * out of range. */
int weft__wj_format_timestamp(char *out, int64_t seconds, int32_t nanos);
int weft__wj_format_duration(char *out, int64_t seconds, int32_t nanos);
/* Parse; return 0 or -1. */
int weft__wj_parse_timestamp(const char *s, size_t n, int64_t *seconds,
                             int32_t *nanos);
int weft__wj_parse_duration(const char *s, size_t n, int64_t *seconds,
                            int32_t *nanos);
/* Integer text parsing shared by numbers and quoted numbers. Return 0 or -1
 * (syntax), -2 (range). */
int weft__wj_parse_i64_text(const char *s, size_t n, int allow_plus,
                            int64_t *out);
int weft__wj_parse_u64_text(const char *s, size_t n, int allow_plus,
                            uint64_t *out);

/* ---- registry --------------------------------------------------------- */

/* Resolves an Any type URL (".../full.Name") through r (or the global
 * registry), NULL if unknown. */
const weft_msg_desc *weft__wj_resolve_any(const weft_registry *r,
                                          const char *url, size_t n);

/* ---- error paths -------------------------------------------------------- */

/* One step of the JSON path to the value being worked on, kept on the C
 * stack by the recursive encoder/decoder and only formatted on error:
 * a field name (index < 0, key NULL), an array index, or a map key. */
typedef struct wj_path {
  const struct wj_path *up;
  const char *name; /* field name or map key */
  size_t len;
  long index; /* >= 0: array index; -1: field; -2: map key */
} wj_path;

/* "settlements[3].createdAt" into out; returns out. */
char *weft__wj_path_format(const wj_path *p, char *out, size_t cap);
#endif
