/* JSON decoder: a streaming tokenizer that writes straight into generated
 * message structs through the descriptor tables (no intermediate tree).
 * Strings without escapes are used in place; arrays are collected in a
 * stack buffer and copied once to their final size. Without a caller's
 * arena the message is a decoded tree, as weft_decode builds it (one block
 * owned by the root, see weft/codec.h): the decoder then allocates from the
 * tree's arena, and an error frees the tree. */
#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../codec/tree.h"
#include "json_internal.h"
#include "weft/base64.h"
#include "weft/codec.h"

typedef struct dec {
  const char *p, *end, *start;
  unsigned flags;
  const weft_registry *reg;
  weft_arena *arena; /* the caller's, or the tree's on the malloc path */
  weft__tree *tree;  /* malloc path: the decoded tree (see weft/codec.h) */
  unsigned depth, max_depth;
  weft_error *err;
  char *scratch; /* unescaped string text */
  size_t scratch_cap;
} dec;

#define AT(msg, off, T) ((T *)((char *)(msg) + (off)))

/* A JSON token's kind, for values. */
enum { T_STRING, T_NUMBER, T_TRUE, T_FALSE, T_NULL, T_OBJECT, T_ARRAY };

/* A scalar token: strings are unescaped (s may point into the input or into
 * d->scratch), numbers are the raw text. */
typedef struct tok {
  int kind;
  const char *s;
  size_t n;
  int is_int; /* number without fraction or exponent */
} tok;

static int dec_message_into(dec *d, const weft_msg_desc *md, void *msg,
                            const wj_path *path);

/* ---- errors ------------------------------------------------------------- */

static int fail(dec *d, int code, const wj_path *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(dec *d, int code, const wj_path *path, const char *fmt, ...) {
  char p[160], why[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  weft__wj_path_format(path, p, sizeof p);
  return weft_error_set(d->err, code, "%s: %s", p, why);
}

static int syntax(dec *d, const char *what) {
  return weft_error_set(d->err, WEFT_ERR_JSON_SYNTAX,
                        "invalid JSON at offset %zu: %s",
                        (size_t)(d->p - d->start), what);
}

/* The token text for messages, quoted for strings, truncated. */
static const char *show(const tok *t, char *buf, size_t cap) {
  int q = t->kind == T_STRING;
  size_t n = t->n > 60 ? 60 : t->n;
  snprintf(buf, cap, "%s%.*s%s%s", q ? "\"" : "", (int)n, t->s,
           n < t->n ? "..." : "", q ? "\"" : "");
  return buf;
}

/* ---- lexer -------------------------------------------------------------- */

static inline void ws(dec *d) {
  while (d->p < d->end &&
         (*d->p == ' ' || *d->p == '\n' || *d->p == '\r' || *d->p == '\t'))
    d->p++;
}

static inline int peek(dec *d) {
  ws(d);
  return d->p < d->end ? (unsigned char)*d->p : -1;
}

static int scratch_reserve(dec *d, size_t n) {
  if (n <= d->scratch_cap)
    return 0;
  size_t cap = d->scratch_cap ? d->scratch_cap : 256;
  while (cap < n)
    cap *= 2;
  char *s = realloc(d->scratch, cap);
  if (!s)
    return WEFT_ERR_NOMEM;
  d->scratch = s;
  d->scratch_cap = cap;
  return 0;
}

static int hex4(const char *s, uint32_t *out) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) {
    char c = s[i];
    v <<= 4;
    if (c >= '0' && c <= '9')
      v |= (uint32_t)(c - '0');
    else if (c >= 'a' && c <= 'f')
      v |= (uint32_t)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      v |= (uint32_t)(c - 'A' + 10);
    else
      return -1;
  }
  *out = v;
  return 0;
}

/* lex_string for a string with escapes, non-ASCII text or an error:
 * reads it again from the opening quote at d->p. */
static __attribute__((noinline)) int lex_string_slow(dec *d, const char **s,
                                                     size_t *n) {
  const char *p = ++d->p, *end = d->end;
  const char *run = p;
  int escaped = 0;
  size_t o = 0; /* scratch length once escaped */
  for (;;) {
    p = wj_str_scan(p, end);
    if (p >= end)
      return syntax(d, "unterminated string");
    uint8_t c = (uint8_t)*p;
    if (c == '"') {
      if (!escaped) {
        *s = run;
        *n = (size_t)(p - run);
      } else {
        size_t k = (size_t)(p - run);
        if (scratch_reserve(d, o + k + 1))
          return WEFT_ERR_NOMEM;
        memcpy(d->scratch + o, run, k);
        o += k;
        *s = d->scratch;
        *n = o;
      }
      d->p = p + 1;
      return 0;
    }
    if (c >= 0x80) {
      uint32_t cp;
      size_t len =
          weft__wj_utf8_decode((const uint8_t *)p, (size_t)(end - p), &cp);
      if (!len) {
        d->p = p;
        return weft_error_set(d->err, WEFT_ERR_UTF8,
                              "invalid UTF-8 at offset %zu",
                              (size_t)(p - d->start));
      }
      p += len;
      continue;
    }
    if (c < 0x20) {
      d->p = p;
      return syntax(d, "control character in string");
    }
    /* backslash: flush the run into scratch, then decode the escape */
    size_t k = (size_t)(p - run);
    if (scratch_reserve(d, o + k + 8))
      return WEFT_ERR_NOMEM;
    memcpy(d->scratch + o, run, k);
    o += k;
    escaped = 1;
    if (p + 1 >= end)
      return syntax(d, "unterminated string");
    char e = p[1];
    char *w = d->scratch + o;
    p += 2;
    switch (e) {
    case '"':
    case '\\':
    case '/':
      *w = e;
      o++;
      break;
    case 'b':
      *w = '\b';
      o++;
      break;
    case 'f':
      *w = '\f';
      o++;
      break;
    case 'n':
      *w = '\n';
      o++;
      break;
    case 'r':
      *w = '\r';
      o++;
      break;
    case 't':
      *w = '\t';
      o++;
      break;
    case 'u': {
      uint32_t cp;
      d->p = p - 2;
      if (end - p < 4 || hex4(p, &cp))
        return syntax(d, "bad \\u escape");
      p += 4;
      if (cp >= 0xdc00 && cp <= 0xdfff)
        return weft_error_set(d->err, WEFT_ERR_UTF8,
                              "lone low surrogate at offset %zu",
                              (size_t)(d->p - d->start));
      if (cp >= 0xd800 && cp <= 0xdbff) {
        uint32_t lo;
        if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &lo) ||
            lo < 0xdc00 || lo > 0xdfff)
          return weft_error_set(d->err, WEFT_ERR_UTF8,
                                "high surrogate without a low surrogate at "
                                "offset %zu",
                                (size_t)(d->p - d->start));
        p += 6;
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
      }
      if (cp == 0)
        return weft_error_set(d->err, WEFT_ERR_UTF8,
                              "\\u0000 at offset %zu: strings cannot hold NUL",
                              (size_t)(d->p - d->start));
      if (cp < 0x80) {
        w[0] = (char)cp;
        o += 1;
      } else if (cp < 0x800) {
        w[0] = (char)(0xc0 | (cp >> 6));
        w[1] = (char)(0x80 | (cp & 0x3f));
        o += 2;
      } else if (cp < 0x10000) {
        w[0] = (char)(0xe0 | (cp >> 12));
        w[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        w[2] = (char)(0x80 | (cp & 0x3f));
        o += 3;
      } else {
        w[0] = (char)(0xf0 | (cp >> 18));
        w[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        w[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        w[3] = (char)(0x80 | (cp & 0x3f));
        o += 4;
      }
      break;
    }
    default:
      d->p = p - 2;
      return syntax(d, "bad escape");
    }
    run = p;
  }
}

/* Reads a string at d->p (which is '"'). Sets s and n to its UTF-8 text:
 * in place when it has no escapes, else in d->scratch. Most strings are
 * plain ASCII: that case stays small enough to inline into its callers. */
static inline int lex_string(dec *d, const char **s, size_t *n) {
  const char *run = d->p + 1, *p = wj_str_scan(run, d->end);
  if (p < d->end && *p == '"') {
    *s = run;
    *n = (size_t)(p - run);
    d->p = p + 1;
    return 0;
  }
  return lex_string_slow(d, s, n);
}

static int lex_number(dec *d, tok *t) {
  const char *p = d->p, *end = d->end, *s = p;
  int is_int = 1;
  if (p < end && *p == '-')
    p++;
  if (p < end && *p == '0') {
    p++;
  } else if (p < end && *p >= '1' && *p <= '9') {
    while (p < end && *p >= '0' && *p <= '9')
      p++;
  } else {
    return syntax(d, "bad number");
  }
  if (p < end && *p == '.') {
    p++;
    is_int = 0;
    if (!(p < end && *p >= '0' && *p <= '9')) {
      d->p = p;
      return syntax(d, "bad number");
    }
    while (p < end && *p >= '0' && *p <= '9')
      p++;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    p++;
    is_int = 0;
    if (p < end && (*p == '+' || *p == '-'))
      p++;
    if (!(p < end && *p >= '0' && *p <= '9')) {
      d->p = p;
      return syntax(d, "bad number");
    }
    while (p < end && *p >= '0' && *p <= '9')
      p++;
  }
  t->kind = T_NUMBER;
  t->s = s;
  t->n = (size_t)(p - s);
  t->is_int = is_int;
  d->p = p;
  return 0;
}

static int lex_word(dec *d, const char *w, size_t n) {
  if ((size_t)(d->end - d->p) < n || memcmp(d->p, w, n) != 0)
    return syntax(d, "unexpected character");
  d->p += n;
  return 0;
}

/* Reads a scalar token, or reports an object/array start without consuming
 * it. */
static int lex_value(dec *d, tok *t) {
  int c = peek(d);
  switch (c) {
  case '"':
    t->kind = T_STRING;
    return lex_string(d, &t->s, &t->n);
  case '{':
    t->kind = T_OBJECT;
    return 0;
  case '[':
    t->kind = T_ARRAY;
    return 0;
  case 't':
    t->kind = T_TRUE;
    t->s = d->p;
    t->n = 4;
    return lex_word(d, "true", 4);
  case 'f':
    t->kind = T_FALSE;
    t->s = d->p;
    t->n = 5;
    return lex_word(d, "false", 5);
  case 'n':
    t->kind = T_NULL;
    t->s = d->p;
    t->n = 4;
    return lex_word(d, "null", 4);
  case -1:
    return syntax(d, "unexpected end of input");
  default:
    if (c == '-' || (c >= '0' && c <= '9'))
      return lex_number(d, t);
    return syntax(d, "unexpected character");
  }
}

static int expect(dec *d, char c, const char *what) {
  if (peek(d) != c)
    return syntax(d, what);
  d->p++;
  return 0;
}

/* Object iteration: obj_begin at the opening brace, then obj_next until it
 * returns 0 with *done set. Keys are returned like strings. */
static int obj_begin(dec *d, const wj_path *path) {
  if (++d->depth > d->max_depth)
    return fail(d, WEFT_ERR_DEPTH, path, "nesting deeper than %u",
                d->max_depth);
  return expect(d, '{', "expected '{'");
}

static int obj_next(dec *d, int *first, int *done, const char **k, size_t *kn) {
  int c = peek(d);
  if (c == '}') {
    if (!*first && d->p[-1] == ',')
      return syntax(d, "trailing comma");
    d->p++;
    d->depth--;
    *done = 1;
    return 0;
  }
  if (!*first) {
    if (c != ',')
      return syntax(d, "expected ',' or '}'");
    d->p++;
    c = peek(d);
  }
  if (c != '"')
    return syntax(d, "expected a string key");
  *first = 0;
  *done = 0;
  int rv = lex_string(d, k, kn);
  if (rv)
    return rv;
  return expect(d, ':', "expected ':'");
}

static int arr_begin(dec *d, const wj_path *path) {
  if (++d->depth > d->max_depth)
    return fail(d, WEFT_ERR_DEPTH, path, "nesting deeper than %u",
                d->max_depth);
  return expect(d, '[', "expected '['");
}

/* Returns 0 with *done set at ']', else positions at the next element. */
static int arr_next(dec *d, int *first, int *done) {
  int c = peek(d);
  if (c == ']' && *first) {
    d->p++;
    d->depth--;
    *done = 1;
    return 0;
  }
  if (!*first) {
    if (c == ']') {
      d->p++;
      d->depth--;
      *done = 1;
      return 0;
    }
    if (c != ',')
      return syntax(d, "expected ',' or ']'");
    d->p++;
    if (peek(d) == ']')
      return syntax(d, "trailing comma");
  }
  *first = 0;
  *done = 0;
  return 0;
}

/* Skips any value (for ignored unknown fields), still checking syntax,
 * UTF-8 and depth. */
static int skip_value(dec *d, const wj_path *path) {
  tok t;
  int rv = lex_value(d, &t);
  if (rv)
    return rv;
  int first = 1, done = 0;
  if (t.kind == T_OBJECT) {
    if ((rv = obj_begin(d, path)) != 0)
      return rv;
    for (;;) {
      const char *k;
      size_t kn;
      if ((rv = obj_next(d, &first, &done, &k, &kn)) != 0)
        return rv;
      if (done)
        return 0;
      if ((rv = skip_value(d, path)) != 0)
        return rv;
    }
  }
  if (t.kind == T_ARRAY) {
    if ((rv = arr_begin(d, path)) != 0)
      return rv;
    for (;;) {
      if ((rv = arr_next(d, &first, &done)) != 0)
        return rv;
      if (done)
        return 0;
      if ((rv = skip_value(d, path)) != 0)
        return rv;
    }
  }
  return 0;
}

/* ---- allocation -----------------------------------------------------------
 */

static void *d_alloc(dec *d, size_t n) {
  return d->arena ? weft_arena_alloc(d->arena, n ? n : 1) : malloc(n ? n : 1);
}

static void *new_msg(dec *d, const weft_msg_desc *md) {
  return weft__message_new_in(d->arena, d->tree, md);
}

static char *d_strdup(dec *d, const char *s, size_t n) {
  char *o = d_alloc(d, n + 1);
  if (o) {
    memcpy(o, s, n);
    o[n] = '\0';
  }
  return o;
}

static int nomem(dec *d, const wj_path *path) {
  return fail(d, WEFT_ERR_NOMEM, path, "out of memory");
}

/* The key's text for the error path (up to 64 bytes, as the path shows
 * it): the input itself, which outlives the path, unless the key was
 * unescaped into d->scratch, which the next string overwrites. */
static const char *path_key(const dec *d, const char *k, size_t kl,
                            char *copy) {
  if ((uintptr_t)k >= (uintptr_t)d->start && (uintptr_t)k < (uintptr_t)d->end)
    return k;
  memcpy(copy, k, kl);
  return copy;
}

/* ---- numbers --------------------------------------------------------------
 */

static const double k_pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Text of a JSON number (already validated) to double. Exact fast path for
 * short mantissas (Clinger), strtod otherwise. Returns -1 on overflow. */
static int to_double(const char *s, size_t n, double *out) {
  const char *p = s, *end = s + n;
  int neg = 0;
  if (p < end && *p == '-') {
    neg = 1;
    p++;
  }
  uint64_t m = 0;
  int nd = 0, e10 = 0;
  for (; p < end && *p >= '0' && *p <= '9'; p++) {
    if (nd < 19) {
      m = m * 10 + (uint64_t)(*p - '0');
      if (m)
        nd++;
    } else {
      goto slow;
    }
  }
  if (p < end && *p == '.') {
    for (p++; p < end && *p >= '0' && *p <= '9'; p++) {
      if (nd >= 19)
        goto slow;
      m = m * 10 + (uint64_t)(*p - '0');
      if (m)
        nd++;
      e10--;
    }
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    p++;
    int eneg = 0, ev = 0;
    if (*p == '+' || *p == '-')
      eneg = *p++ == '-';
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
      if (ev > 100000)
        goto slow;
      ev = ev * 10 + (*p - '0');
    }
    e10 += eneg ? -ev : ev;
  }
  if (m <= (1ULL << 53) && e10 >= -22 && e10 <= 22) {
    double v = (double)m;
    v = e10 < 0 ? v / k_pow10[-e10] : v * k_pow10[e10];
    *out = neg ? -v : v;
    return 0;
  }
slow:;
  char buf[128];
  char *t = n < sizeof buf ? buf : malloc(n + 1);
  if (!t)
    return -2;
  memcpy(t, s, n);
  t[n] = '\0';
  errno = 0;
  double v = strtod(t, NULL);
  if (t != buf)
    free(t);
  if (isinf(v))
    return -1;
  *out = v;
  return 0;
}

/* Is s[0..n) a JSON number? (for numbers given as strings) */
static int is_json_number(const char *s, size_t n) {
  size_t i = 0;
  if (i < n && s[i] == '-')
    i++;
  if (i < n && s[i] == '0')
    i++;
  else if (i < n && s[i] >= '1' && s[i] <= '9')
    while (i < n && s[i] >= '0' && s[i] <= '9')
      i++;
  else
    return 0;
  if (i < n && s[i] == '.') {
    i++;
    if (!(i < n && s[i] >= '0' && s[i] <= '9'))
      return 0;
    while (i < n && s[i] >= '0' && s[i] <= '9')
      i++;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-'))
      i++;
    if (!(i < n && s[i] >= '0' && s[i] <= '9'))
      return 0;
    while (i < n && s[i] >= '0' && s[i] <= '9')
      i++;
  }
  return i == n;
}

/* Integer of any width from a number or a quoted number. min/max bound the
 * signed range; for unsigned types pass is_unsigned and umax. */
static int to_int(dec *d, const tok *t, int is_unsigned, int64_t min,
                  int64_t max, uint64_t umax, int64_t *sv, uint64_t *uv,
                  const wj_path *path) {
  char b[80];
  int rv;
  if (t->kind == T_STRING || (t->kind == T_NUMBER && t->is_int)) {
    int allow_plus = t->kind == T_STRING;
    if (is_unsigned && t->n > 1 && t->s[0] == '-' &&
        !(t->kind == T_NUMBER && t->n == 2 && t->s[1] == '0')) {
      int64_t neg;
      rv = weft__wj_parse_i64_text(t->s, t->n, 0, &neg);
      return fail(d, rv == -1 ? WEFT_ERR_JSON_TYPE : WEFT_ERR_JSON_RANGE, path,
                  rv == -1 ? "%s is not an integer" : "%s is out of range",
                  show(t, b, sizeof b));
    }
    if (is_unsigned) {
      uint64_t v;
      /* A number "-0" is zero; quoted "-0" Google refuses for unsigned. */
      if (t->kind == T_NUMBER && t->n == 2 && t->s[0] == '-' && t->s[1] == '0')
        v = 0, rv = 0;
      else
        rv = weft__wj_parse_u64_text(t->s, t->n, allow_plus, &v);
      if (rv == 0 && v > umax)
        rv = -2;
      if (rv == 0) {
        *uv = v;
        return 0;
      }
    } else {
      int64_t v;
      rv = weft__wj_parse_i64_text(t->s, t->n, allow_plus, &v);
      if (rv == 0 && (v < min || v > max))
        rv = -2;
      if (rv == 0) {
        *sv = v;
        return 0;
      }
    }
    if (rv == -2)
      return fail(d, WEFT_ERR_JSON_RANGE, path, "%s is out of range",
                  show(t, b, sizeof b));
    return fail(d, WEFT_ERR_JSON_TYPE, path, "%s is not an integer",
                show(t, b, sizeof b));
  }
  if (t->kind != T_NUMBER)
    return fail(d, WEFT_ERR_JSON_TYPE, path, "%s is not an integer",
                show(t, b, sizeof b));
  /* 1e3, 5.0: integral values in exponent or fraction form */
  double v;
  if (to_double(t->s, t->n, &v) != 0)
    return fail(d, WEFT_ERR_JSON_RANGE, path, "%s is out of range",
                show(t, b, sizeof b));
  if (v != floor(v))
    return fail(d, WEFT_ERR_JSON_TYPE, path, "%s is not an integer",
                show(t, b, sizeof b));
  if (is_unsigned) {
    if (v < 0 || v >= 18446744073709551616.0 || (uint64_t)v > umax)
      return fail(d, WEFT_ERR_JSON_RANGE, path, "%s is out of range",
                  show(t, b, sizeof b));
    *uv = (uint64_t)v;
  } else {
    if (v < -9223372036854775808.0 || v >= 9223372036854775808.0 ||
        (int64_t)v < min || (int64_t)v > max)
      return fail(d, WEFT_ERR_JSON_RANGE, path, "%s is out of range",
                  show(t, b, sizeof b));
    *sv = (int64_t)v;
  }
  return 0;
}

static int to_float(dec *d, const tok *t, int is_float, double *out,
                    const wj_path *path) {
  char b[80];
  double v;
  if (t->kind == T_STRING) {
    if (t->n == 3 && memcmp(t->s, "NaN", 3) == 0) {
      *out = NAN;
      return 0;
    }
    if (t->n == 8 && memcmp(t->s, "Infinity", 8) == 0) {
      *out = INFINITY;
      return 0;
    }
    if (t->n == 9 && memcmp(t->s, "-Infinity", 9) == 0) {
      *out = -INFINITY;
      return 0;
    }
    if (!is_json_number(t->s, t->n))
      return fail(d, WEFT_ERR_JSON_TYPE, path, "%s is not a number",
                  show(t, b, sizeof b));
  } else if (t->kind != T_NUMBER) {
    return fail(d, WEFT_ERR_JSON_TYPE, path, "%s is not a number",
                show(t, b, sizeof b));
  }
  int rv = to_double(t->s, t->n, &v);
  if (rv == -2)
    return nomem(d, path);
  /* libprotobuf reads an integer token as an integer first: -0 is +0. */
  if (rv == 0 && t->kind == T_NUMBER && t->is_int && v == 0)
    v = 0;
  if (rv)
    return fail(d, WEFT_ERR_JSON_RANGE, path, "%s is out of range",
                show(t, b, sizeof b));
  /* Values that round to a finite float are fine; beyond that, range. */
  if (is_float && isinf((float)v))
    return fail(d, WEFT_ERR_JSON_RANGE, path, "%s is out of range for float",
                show(t, b, sizeof b));
  *out = v;
  return 0;
}

/* ---- scalars ------------------------------------------------------------- */

static int find_enum(const ProtobufCEnumDescriptor *ed, const char *s, size_t n,
                     int *out) {
  unsigned lo = 0, hi = ed->n_value_names;
  while (lo < hi) {
    unsigned mid = (lo + hi) / 2;
    const char *name = ed->values_by_name[mid].name;
    int c = strncmp(name, s, n);
    if (c == 0 && name[n] != '\0')
      c = 1;
    if (c == 0) {
      *out = ed->values[ed->values_by_name[mid].index].value;
      return 0;
    }
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return -1;
}

/* Enum from a name, a number or a quoted number. *skip = 1 when an unknown
 * value is ignored (IGNORE_UNKNOWN). */
static int to_enum(dec *d, const ProtobufCFieldDescriptor *f, const tok *t,
                   int *out, int *skip, const wj_path *path) {
  char b[80];
  const weft_enum_desc *ed = weft_enum_desc_of(f->descriptor);
  int v;
  if (t->kind == T_STRING && find_enum(&ed->base, t->s, t->n, &v) == 0) {
    *out = v;
    return 0;
  }
  int is_num = t->kind == T_NUMBER ||
               (t->kind == T_STRING && t->n > 0 &&
                ((t->s[0] >= '0' && t->s[0] <= '9') || t->s[0] == '-'));
  if (is_num) {
    int64_t sv;
    int rv = to_int(d, t, 0, INT32_MIN, INT32_MAX, 0, &sv, NULL, path);
    if (rv)
      return rv;
    v = (int)sv;
    if (!ed->closed ||
        protobuf_c_enum_descriptor_get_value(&ed->base, v) != NULL) {
      *out = v;
      return 0;
    }
  } else if (t->kind != T_STRING) {
    return fail(d, WEFT_ERR_JSON_TYPE, path, "%s is not a %s value",
                show(t, b, sizeof b), ed->base.name);
  }
  if (d->flags & WEFT_JSON_IGNORE_UNKNOWN) {
    *skip = 1;
    return 0;
  }
  return fail(d, WEFT_ERR_JSON_ENUM, path, "%s is not a %s value",
              show(t, b, sizeof b), ed->base.name);
}

/* Stores a scalar token into dst by field type (not messages). */
static int store_scalar(dec *d, const ProtobufCFieldDescriptor *f, const tok *t,
                        void *dst, int *skip, const wj_path *path) {
  char b[80];
  int64_t sv;
  uint64_t uv;
  double dv;
  int rv;
  switch (f->type) {
  case PROTOBUF_C_TYPE_INT32:
  case PROTOBUF_C_TYPE_SINT32:
  case PROTOBUF_C_TYPE_SFIXED32:
    if ((rv = to_int(d, t, 0, INT32_MIN, INT32_MAX, 0, &sv, NULL, path)))
      return rv;
    *(int32_t *)dst = (int32_t)sv;
    return 0;
  case PROTOBUF_C_TYPE_INT64:
  case PROTOBUF_C_TYPE_SINT64:
  case PROTOBUF_C_TYPE_SFIXED64:
    if ((rv = to_int(d, t, 0, INT64_MIN, INT64_MAX, 0, &sv, NULL, path)))
      return rv;
    *(int64_t *)dst = sv;
    return 0;
  case PROTOBUF_C_TYPE_UINT32:
  case PROTOBUF_C_TYPE_FIXED32:
    if ((rv = to_int(d, t, 1, 0, 0, UINT32_MAX, NULL, &uv, path)))
      return rv;
    *(uint32_t *)dst = (uint32_t)uv;
    return 0;
  case PROTOBUF_C_TYPE_UINT64:
  case PROTOBUF_C_TYPE_FIXED64:
    if ((rv = to_int(d, t, 1, 0, 0, UINT64_MAX, NULL, &uv, path)))
      return rv;
    *(uint64_t *)dst = uv;
    return 0;
  case PROTOBUF_C_TYPE_FLOAT:
    if ((rv = to_float(d, t, 1, &dv, path)))
      return rv;
    *(float *)dst = (float)dv;
    return 0;
  case PROTOBUF_C_TYPE_DOUBLE:
    if ((rv = to_float(d, t, 0, &dv, path)))
      return rv;
    *(double *)dst = dv;
    return 0;
  case PROTOBUF_C_TYPE_BOOL:
    if (t->kind == T_TRUE || t->kind == T_FALSE) {
      *(protobuf_c_boolean *)dst = t->kind == T_TRUE;
      return 0;
    }
    /* Google also takes "true"/"false" in quotes (map keys need it). */
    if (t->kind == T_STRING && t->n == 4 && memcmp(t->s, "true", 4) == 0) {
      *(protobuf_c_boolean *)dst = 1;
      return 0;
    }
    if (t->kind == T_STRING && t->n == 5 && memcmp(t->s, "false", 5) == 0) {
      *(protobuf_c_boolean *)dst = 0;
      return 0;
    }
    return fail(d, WEFT_ERR_JSON_TYPE, path, "%s is not a bool",
                show(t, b, sizeof b));
  case PROTOBUF_C_TYPE_ENUM:
    return to_enum(d, f, t, (int *)dst, skip, path);
  case PROTOBUF_C_TYPE_STRING: {
    if (t->kind != T_STRING)
      return fail(d, WEFT_ERR_JSON_TYPE, path, "%s is not a string",
                  show(t, b, sizeof b));
    char *s = d_strdup(d, t->s, t->n);
    if (!s)
      return nomem(d, path);
    *(char **)dst = s;
    return 0;
  }
  case PROTOBUF_C_TYPE_BYTES: {
    if (t->kind != T_STRING)
      return fail(d, WEFT_ERR_JSON_TYPE, path, "%s is not a base64 string",
                  show(t, b, sizeof b));
    uint8_t *o = d_alloc(d, WEFT_BASE64_DECODED_MAX(t->n));
    if (!o)
      return nomem(d, path);
    long len = weft_base64_decode(t->s, t->n, o);
    if (len < 0) {
      if (!d->arena)
        free(o);
      return fail(d, WEFT_ERR_JSON_TYPE, path, "%s is not valid base64",
                  show(t, b, sizeof b));
    }
    ProtobufCBinaryData *bd = dst;
    bd->len = (size_t)len;
    bd->data = o;
    return 0;
  }
  default:
    return fail(d, WEFT_ERR_INTERNAL, path, "unexpected field type");
  }
}

/* ---- values ---------------------------------------------------------------
 */

static size_t elem_size(ProtobufCType t) {
  switch (t) {
  case PROTOBUF_C_TYPE_INT64:
  case PROTOBUF_C_TYPE_SINT64:
  case PROTOBUF_C_TYPE_SFIXED64:
  case PROTOBUF_C_TYPE_UINT64:
  case PROTOBUF_C_TYPE_FIXED64:
  case PROTOBUF_C_TYPE_DOUBLE:
    return 8;
  case PROTOBUF_C_TYPE_BOOL:
    return sizeof(protobuf_c_boolean);
  case PROTOBUF_C_TYPE_STRING:
  case PROTOBUF_C_TYPE_MESSAGE:
    return sizeof(void *);
  case PROTOBUF_C_TYPE_BYTES:
    return sizeof(ProtobufCBinaryData);
  default:
    return 4;
  }
}

static int is_value_type(const ProtobufCFieldDescriptor *f) {
  return f->type == PROTOBUF_C_TYPE_MESSAGE &&
         weft_msg_desc_of(f->descriptor)->wkt == WEFT_WKT_VALUE;
}

/* google.protobuf.NullValue: JSON null is its one value (NULL_VALUE), so
 * null sets such a field instead of leaving it at its default. */
static int is_null_enum(const ProtobufCFieldDescriptor *f) {
  return f->type == PROTOBUF_C_TYPE_ENUM &&
         strcmp(((const ProtobufCEnumDescriptor *)f->descriptor)->name,
                "google.protobuf.NullValue") == 0;
}

/* Allocates a sub-message into *slot (if absent) and decodes into it. */
static int dec_sub(dec *d, const ProtobufCFieldDescriptor *f, void **slot,
                   const wj_path *path) {
  const weft_msg_desc *sd = weft_msg_desc_of(f->descriptor);
  if (!*slot) {
    *slot = new_msg(d, sd);
    if (!*slot)
      return nomem(d, path);
  }
  return dec_message_into(d, sd, *slot, path);
}

/* One value of field f (an element, for repeated fields) into dst. */
static int dec_one(dec *d, const ProtobufCFieldDescriptor *f, void *dst,
                   int *skip, const wj_path *path) {
  if (f->type == PROTOBUF_C_TYPE_MESSAGE)
    return dec_sub(d, f, (void **)dst, path);
  tok t;
  int rv = lex_value(d, &t);
  if (rv)
    return rv;
  if (t.kind == T_OBJECT || t.kind == T_ARRAY)
    return fail(d, WEFT_ERR_JSON_TYPE, path, "expected a %s, got %s",
                f->type == PROTOBUF_C_TYPE_STRING ? "string" : "scalar",
                t.kind == T_OBJECT ? "an object" : "an array");
  if (t.kind == T_NULL) {
    if (!is_null_enum(f))
      return fail(d, WEFT_ERR_JSON_TYPE, path, "null is not allowed here");
    *(int *)dst = 0; /* NULL_VALUE */
    return 0;
  }
  return store_scalar(d, f, &t, dst, skip, path);
}

/* Frees what a collected element owns (malloc path, on error). */
static void free_elem(const ProtobufCFieldDescriptor *f, void *p) {
  switch (f->type) {
  case PROTOBUF_C_TYPE_STRING:
    free(*(char **)p);
    break;
  case PROTOBUF_C_TYPE_BYTES:
    free(((ProtobufCBinaryData *)p)->data);
    break;
  case PROTOBUF_C_TYPE_MESSAGE:
    weft_message_free(*(void **)p);
    break;
  default:
    break;
  }
}

/* Growable element collector: a stack buffer first, heap when it fills. */
typedef struct coll {
  char *p;
  size_t n, cap, sz; /* count, capacity (elements), element size */
  char local[512];
} coll;

static void coll_init(coll *c, size_t sz) {
  c->p = c->local;
  c->n = 0;
  c->sz = sz;
  c->cap = sizeof c->local / sz;
}

static void *coll_push(coll *c) {
  if (c->n == c->cap) {
    size_t cap = c->cap * 2;
    char *p =
        c->p == c->local ? malloc(cap * c->sz) : realloc(c->p, cap * c->sz);
    if (!p)
      return NULL;
    if (c->p == c->local)
      memcpy(p, c->local, c->n * c->sz);
    c->p = p;
    c->cap = cap;
  }
  void *e = c->p + c->n++ * c->sz;
  memset(e, 0, c->sz);
  return e;
}

static void coll_release(dec *d, coll *c, const ProtobufCFieldDescriptor *f) {
  if (!d->arena)
    for (size_t i = 0; i < c->n; i++)
      free_elem(f, c->p + i * c->sz);
  if (c->p != c->local)
    free(c->p);
}

/* Moves the collected elements into the field's array. */
static int coll_store(dec *d, coll *c, void *msg,
                      const ProtobufCFieldDescriptor *f, const wj_path *path) {
  if (c->n == 0) {
    if (c->p != c->local)
      free(c->p);
    return 0;
  }
  void *arr = d_alloc(d, c->n * c->sz);
  if (!arr) {
    coll_release(d, c, f);
    return nomem(d, path);
  }
  memcpy(arr, c->p, c->n * c->sz);
  *AT(msg, f->offset, void *) = arr;
  *AT(msg, f->quantifier_offset, size_t) = c->n;
  if (c->p != c->local)
    free(c->p);
  return 0;
}

static int dec_array(dec *d, void *msg, const ProtobufCFieldDescriptor *f,
                     const wj_path *path) {
  int rv = arr_begin(d, path);
  if (rv)
    return rv;
  coll c;
  coll_init(&c, elem_size(f->type));
  int first = 1, done = 0;
  const int value_elems = is_value_type(f) || is_null_enum(f);
  for (long i = 0;; i++) {
    if ((rv = arr_next(d, &first, &done)) != 0)
      break;
    if (done)
      return coll_store(d, &c, msg, f, path);
    wj_path ip = {path, NULL, 0, i};
    if (!value_elems && peek(d) == 'n') {
      rv = fail(d, WEFT_ERR_JSON_TYPE, &ip, "null is not allowed in a list");
      break;
    }
    void *e = coll_push(&c);
    if (!e) {
      rv = nomem(d, &ip);
      break;
    }
    int skip = 0;
    if ((rv = dec_one(d, f, e, &skip, &ip)) != 0)
      break;
    if (skip)
      c.n--;
  }
  coll_release(d, &c, f);
  return rv;
}

/* Duplicate map keys are an error (as in libprotobuf): a small open hash
 * of key hashes, checked fully against the stored entry on a hit. */
typedef struct keyset {
  uint32_t *slots; /* entry index + 1; 0 = empty */
  size_t cap;
  uint32_t local[32]; /* the first table: most maps are small */
} keyset;

static void keyset_free(keyset *ks) {
  if (ks->slots != ks->local)
    free(ks->slots);
}

static uint64_t key_hash(const ProtobufCFieldDescriptor *kf, const void *k) {
  const unsigned char *p;
  size_t n;
  if (kf->type == PROTOBUF_C_TYPE_STRING) {
    p = *(const unsigned char *const *)k;
    n = strlen((const char *)p);
  } else {
    p = k;
    n = elem_size(kf->type);
  }
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < n; i++)
    h = (h ^ p[i]) * 1099511628211ULL;
  return h;
}

static int key_eq(const ProtobufCFieldDescriptor *kf, const void *a,
                  const void *b) {
  if (kf->type == PROTOBUF_C_TYPE_STRING)
    return strcmp(*(char *const *)a, *(char *const *)b) == 0;
  return memcmp(a, b, elem_size(kf->type)) == 0;
}

static int dec_map(dec *d, void *msg, const ProtobufCFieldDescriptor *f,
                   const wj_path *path) {
  const weft_msg_desc *ed = weft_msg_desc_of(f->descriptor);
  const ProtobufCFieldDescriptor *kf = &ed->base.fields[0],
                                 *vf = &ed->base.fields[1];
  int rv = obj_begin(d, path);
  if (rv)
    return rv;
  coll c;
  coll_init(&c, sizeof(void *));
  keyset ks;
  ks.slots = NULL;
  ks.cap = 0;
  int first = 1, done = 0;
  char kcopy[64];
  for (long i = 0;; i++) {
    const char *k;
    size_t kn;
    if ((rv = obj_next(d, &first, &done, &k, &kn)) != 0)
      break;
    if (done) {
      keyset_free(&ks);
      return coll_store(d, &c, msg, f, path);
    }
    size_t kl = kn < sizeof kcopy ? kn : sizeof kcopy;
    wj_path kp = {path, path_key(d, k, kl, kcopy), kl, -2};
    void **slot = coll_push(&c);
    if (!slot) {
      rv = nomem(d, &kp);
      break;
    }
    void *ent = *slot = new_msg(d, ed);
    if (!ent) {
      c.n--;
      rv = nomem(d, &kp);
      break;
    }
    /* the key: a string token converted by the key field's type */
    tok kt = {T_STRING, k, kn, 0};
    int skip = 0;
    if (kf->type == PROTOBUF_C_TYPE_BOOL &&
        !((kn == 4 && !memcmp(k, "true", 4)) ||
          (kn == 5 && !memcmp(k, "false", 5)))) {
      rv = fail(d, WEFT_ERR_JSON_TYPE, &kp, "map key must be true or false");
      break;
    }
    if ((rv = store_scalar(d, kf, &kt, AT(ent, kf->offset, void), &skip,
                           &kp)) != 0)
      break;
    if (kf->label == PROTOBUF_C_LABEL_OPTIONAL &&
        kf->type != PROTOBUF_C_TYPE_STRING)
      *AT(ent, kf->quantifier_offset, protobuf_c_boolean) = 1;
    /* duplicate check */
    if ((c.n + 1) * 2 > ks.cap) {
      size_t cap = ks.cap ? ks.cap * 2 : sizeof ks.local / sizeof *ks.local;
      uint32_t *s = ks.cap ? calloc(cap, sizeof *s) : ks.local;
      if (!ks.cap)
        memset(ks.local, 0, sizeof ks.local);
      if (!s) {
        rv = nomem(d, &kp);
        break;
      }
      for (size_t j = 0; j + 1 < c.n; j++) {
        const void *ej = ((void **)c.p)[j];
        size_t h = key_hash(kf, (const char *)ej + kf->offset) & (cap - 1);
        while (s[h])
          h = (h + 1) & (cap - 1);
        s[h] = (uint32_t)j + 1;
      }
      keyset_free(&ks);
      ks.slots = s;
      ks.cap = cap;
    }
    const void *key = (const char *)ent + kf->offset;
    size_t h = key_hash(kf, key) & (ks.cap - 1);
    int dup = 0;
    while (ks.slots[h]) {
      const void *other = ((void **)c.p)[ks.slots[h] - 1];
      if (key_eq(kf, key, (const char *)other + kf->offset)) {
        dup = 1;
        break;
      }
      h = (h + 1) & (ks.cap - 1);
    }
    if (dup) {
      rv = fail(d, WEFT_ERR_JSON_DUPLICATE, &kp, "duplicate map key");
      break;
    }
    ks.slots[h] = (uint32_t)c.n;
    /* the value */
    if (peek(d) == 'n' && !is_value_type(vf) && !is_null_enum(vf)) {
      rv = fail(d, WEFT_ERR_JSON_TYPE, &kp,
                "null is not allowed as a map value");
      break;
    }
    skip = 0;
    if ((rv = dec_one(d, vf, AT(ent, vf->offset, void), &skip, &kp)) != 0)
      break;
    if (vf->label == PROTOBUF_C_LABEL_OPTIONAL &&
        vf->type != PROTOBUF_C_TYPE_STRING &&
        vf->type != PROTOBUF_C_TYPE_MESSAGE)
      *AT(ent, vf->quantifier_offset, protobuf_c_boolean) = 1;
    /* An unknown enum value under IGNORE_UNKNOWN keeps the entry with the
     * default value, as libprotobuf does. */
  }
  keyset_free(&ks);
  coll_release(d, &c, f);
  return rv;
}

/* Sets a google.protobuf.Value to null_value. */
static int set_value_null(dec *d, const weft_msg_desc *vd, void **slot,
                          const wj_path *path) {
  if (!*slot && !(*slot = new_msg(d, vd)))
    return nomem(d, path);
  *AT(*slot, vd->base.fields[0].quantifier_offset, uint32_t) = 1;
  *AT(*slot, vd->base.fields[0].offset, int) = 0;
  return 0;
}

/* Decodes the value of field i of md into msg (key already read). */
static int dec_field(dec *d, const weft_msg_desc *md, void *msg, unsigned i,
                     const wj_path *path) {
  const ProtobufCFieldDescriptor *f = &md->base.fields[i];
  const weft_field_info *fi = &md->field_info[i];
  int c = peek(d);
  /* A singular NullValue takes null as its value (below, with its oneof
   * case or presence), as libprotobuf does. */
  if (c == 'n' && !(f->label != PROTOBUF_C_LABEL_REPEATED && is_null_enum(f))) {
    /* null: the field keeps its default, except a Value becomes null. */
    if (f->label != PROTOBUF_C_LABEL_REPEATED && is_value_type(f)) {
      if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        uint32_t *cs = AT(msg, f->quantifier_offset, uint32_t);
        if (*cs)
          return fail(d, WEFT_ERR_JSON_ONEOF, path,
                      "another member of oneof %s is already set",
                      md->oneof_names[fi->oneof_index]);
        *cs = f->id;
      }
      int rv = lex_word(d, "null", 4);
      if (rv)
        return rv;
      return set_value_null(d, weft_msg_desc_of(f->descriptor),
                            AT(msg, f->offset, void *), path);
    }
    return lex_word(d, "null", 4);
  }
  if (f->label == PROTOBUF_C_LABEL_REPEATED) {
    if (fi->flags & WEFT_FIELD_MAP) {
      if (c != '{')
        return fail(d, WEFT_ERR_JSON_TYPE, path, "a map must be an object");
      return dec_map(d, msg, f, path);
    }
    if (c != '[')
      return fail(d, WEFT_ERR_JSON_TYPE, path,
                  "a repeated field must be an array");
    return dec_array(d, msg, f, path);
  }
  if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
    uint32_t *cs = AT(msg, f->quantifier_offset, uint32_t);
    if (*cs)
      return fail(d, WEFT_ERR_JSON_ONEOF, path,
                  "another member of oneof %s is already set",
                  fi->oneof_index >= 0 ? md->oneof_names[fi->oneof_index]
                                       : "?");
    int skip = 0;
    /* the union may hold another member's bytes: start from zero */
    void *dst = AT(msg, f->offset, void);
    memset(dst, 0, elem_size(f->type));
    /* A sub-message is linked (case set) before it is filled, so a failure
     * halfway leaves it where weft_message_free() finds it. */
    if (f->type == PROTOBUF_C_TYPE_MESSAGE)
      *cs = f->id;
    int rv = dec_one(d, f, dst, &skip, path);
    if (rv == 0 && !skip)
      *cs = f->id;
    return rv;
  }
  int skip = 0;
  void *dst = AT(msg, f->offset, void);
  int rv = dec_one(d, f, dst, &skip, path);
  if (rv || skip)
    return rv;
  if (f->label == PROTOBUF_C_LABEL_OPTIONAL &&
      f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
    *AT(msg, f->quantifier_offset, protobuf_c_boolean) = 1;
  return 0;
}

/* Whether the NUL-terminated name is k[0..n). A key holds no NUL (raw
 * controls and \u0000 are refused), so a shorter name stops at its
 * terminator. Inline: keys are short, a strncmp call costs more. */
static inline int name_is(const char *name, const char *k, size_t n) {
  size_t j = 0;
  while (j < n && name[j] == k[j])
    j++;
  return j == n && name[j] == '\0';
}

/* Fields usually come in declaration order, so the search starts at hint
 * (the field after the previous one) and mostly ends there. */
static int find_field(const weft_msg_desc *md, const char *k, size_t n,
                      unsigned hint) {
  unsigned nf = md->base.n_fields;
  if (n == 0)
    return -1;
  for (unsigned j = 0; j < nf; j++) {
    unsigned i = hint + j;
    if (i >= nf)
      i -= nf;
    if (name_is(md->field_info[i].json_name, k, n) ||
        name_is(md->base.fields[i].name, k, n))
      return (int)i;
  }
  return -1;
}

/* The members of an object, '{' included. For Any payloads (skip_type),
 * "@type" members are skipped. */
static int dec_members(dec *d, const weft_msg_desc *md, void *msg,
                       const wj_path *path, int skip_type) {
  int rv = obj_begin(d, path);
  if (rv)
    return rv;
  uint64_t seen_local[4] = {0};
  const char *null_required = NULL;
  uint64_t *seen = seen_local;
  unsigned nf = md->base.n_fields;
  if (nf > 256) {
    seen = calloc((nf + 63) / 64, sizeof *seen);
    if (!seen)
      return nomem(d, path);
  }
  int first = 1, done = 0;
  unsigned hint = 0;
  char kcopy[64];
  for (;;) {
    const char *k;
    size_t kn;
    if ((rv = obj_next(d, &first, &done, &k, &kn)) != 0 || done)
      break;
    size_t kl = kn < sizeof kcopy ? kn : sizeof kcopy;
    wj_path fp = {path, path_key(d, k, kl, kcopy), kl, -1};
    if (skip_type && kn == 5 && memcmp(k, "@type", 5) == 0) {
      if ((rv = skip_value(d, &fp)) != 0)
        break;
      continue;
    }
    int i = find_field(md, k, kn, hint);
    if (i < 0) {
      if (d->flags & WEFT_JSON_IGNORE_UNKNOWN) {
        if ((rv = skip_value(d, &fp)) != 0)
          break;
        continue;
      }
      rv = fail(d, WEFT_ERR_JSON_UNKNOWN_FIELD, &fp, "no such field in %s",
                md->base.name);
      break;
    }
    if (seen[i / 64] & (1ULL << (i % 64))) {
      rv = fail(d, WEFT_ERR_JSON_DUPLICATE, &fp,
                "field %s given more than once", md->base.fields[i].name);
      break;
    }
    seen[i / 64] |= 1ULL << (i % 64);
    hint = (unsigned)i + 1;
    /* a required field given as null is still missing */
    if (md->base.fields[i].label == PROTOBUF_C_LABEL_REQUIRED && peek(d) == 'n')
      null_required = md->base.fields[i].name;
    if ((rv = dec_field(d, md, msg, (unsigned)i, &fp)) != 0)
      break;
  }
  if (rv == 0 && null_required)
    rv = fail(d, WEFT_ERR_MISSING_REQUIRED, path,
              "required field %s is missing (null)", null_required);
  /* proto2 required fields: protobuf-c keeps no presence for required
   * scalars, so only the decoder knows whether the input had them. */
  if (rv == 0 && md->syntax == 2) {
    for (unsigned i = 0; i < nf; i++)
      if (md->base.fields[i].label == PROTOBUF_C_LABEL_REQUIRED &&
          !(seen[i / 64] & (1ULL << (i % 64)))) {
        rv = fail(d, WEFT_ERR_MISSING_REQUIRED, path,
                  "required field %s is missing", md->base.fields[i].name);
        break;
      }
  }
  if (seen != seen_local)
    free(seen);
  return rv;
}

/* ---- well-known types -----------------------------------------------------
 */

static int dec_string_tok(dec *d, tok *t, const char *what,
                          const wj_path *path) {
  int rv = lex_value(d, t);
  if (rv)
    return rv;
  if (t->kind != T_STRING)
    return fail(d, WEFT_ERR_JSON_TYPE, path, "%s must be a string", what);
  return 0;
}

static int dec_time(dec *d, const weft_msg_desc *md, void *msg,
                    const wj_path *path) {
  tok t;
  char b[80];
  int is_ts = md->wkt == WEFT_WKT_TIMESTAMP;
  int rv = dec_string_tok(d, &t, is_ts ? "a Timestamp" : "a Duration", path);
  if (rv)
    return rv;
  int64_t s;
  int32_t ns;
  if (is_ts ? weft__wj_parse_timestamp(t.s, t.n, &s, &ns)
            : weft__wj_parse_duration(t.s, t.n, &s, &ns))
    return fail(d, WEFT_ERR_JSON_WKT, path, "%s is not a valid %s",
                show(&t, b, sizeof b), is_ts ? "RFC 3339 time" : "duration");
  *AT(msg, md->base.fields[0].offset, int64_t) = s;
  *AT(msg, md->base.fields[1].offset, int32_t) = ns;
  return 0;
}

static int dec_field_mask(dec *d, const weft_msg_desc *md, void *msg,
                          const wj_path *path) {
  tok t;
  int rv = dec_string_tok(d, &t, "a FieldMask", path);
  if (rv)
    return rv;
  const ProtobufCFieldDescriptor *f = &md->base.fields[0];
  coll c;
  coll_init(&c, sizeof(char *));
  size_t i = 0;
  while (i < t.n) {
    size_t j = i;
    while (j < t.n && t.s[j] != ',')
      j++;
    for (size_t k = i; k < j; k++) {
      char ch = t.s[k];
      if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
            (ch >= '0' && ch <= '9') || ch == '_' || ch == '.')) {
        char b[80];
        coll_release(d, &c, f);
        return fail(d, WEFT_ERR_JSON_WKT, path,
                    "%s is not a valid FieldMask (paths are names joined by "
                    "'.')",
                    show(&t, b, sizeof b));
      }
    }
    if (j > i) {
      char **slot = coll_push(&c);
      char *o = slot ? d_alloc(d, 2 * (j - i) + 1) : NULL;
      if (!o) {
        coll_release(d, &c, f);
        return nomem(d, path);
      }
      *slot = o;
      /* lowerCamelCase -> snake_case, libprotobuf's rule: an upper-case
       * letter gets a '_' before it after a lower-case letter, or inside a
       * run of capitals when a lower-case letter follows it ("fooBAR" ->
       * "foo_bar", "GBike" -> "g_bike"), never at the start. */
      int was_not_underscore = 0, was_not_cap = 0;
      for (size_t k = i; k < j; k++) {
        char ch = t.s[k];
        if (ch >= 'A' && ch <= 'Z') {
          if (was_not_underscore &&
              (was_not_cap ||
               (k + 1 < j && t.s[k + 1] >= 'a' && t.s[k + 1] <= 'z')))
            *o++ = '_';
          *o++ = (char)(ch - 'A' + 'a');
          was_not_underscore = 1;
          was_not_cap = 0;
        } else {
          *o++ = ch;
          was_not_underscore = ch != '_';
          was_not_cap = 1;
        }
      }
      *o = '\0';
    }
    i = j + 1;
  }
  return coll_store(d, &c, msg, f, path);
}

static int dec_value(dec *d, const weft_msg_desc *md, void *msg,
                     const wj_path *path);

static int dec_struct(dec *d, const weft_msg_desc *md, void *msg,
                      const wj_path *path) {
  if (peek(d) != '{')
    return fail(d, WEFT_ERR_JSON_TYPE, path, "a Struct must be an object");
  return dec_map(d, msg, &md->base.fields[0], path);
}

static int dec_list(dec *d, const weft_msg_desc *md, void *msg,
                    const wj_path *path) {
  if (peek(d) != '[')
    return fail(d, WEFT_ERR_JSON_TYPE, path, "a ListValue must be an array");
  return dec_array(d, msg, &md->base.fields[0], path);
}

/* google.protobuf.Value: any JSON value. */
static int dec_value(dec *d, const weft_msg_desc *md, void *msg,
                     const wj_path *path) {
  uint32_t *cs = AT(msg, md->base.fields[0].quantifier_offset, uint32_t);
  int c = peek(d);
  const ProtobufCFieldDescriptor *f;
  if (c == '{' || c == '[') {
    f = protobuf_c_message_descriptor_get_field(&md->base, c == '{' ? 5 : 6);
    *cs = f->id;
    void **slot = AT(msg, f->offset, void *);
    *slot = NULL;
    return dec_sub(d, f, slot, path);
  }
  tok t;
  int rv = lex_value(d, &t);
  if (rv)
    return rv;
  char b[80];
  switch (t.kind) {
  case T_NULL:
    f = protobuf_c_message_descriptor_get_field(&md->base, 1);
    *AT(msg, f->offset, int) = 0;
    break;
  case T_NUMBER: {
    f = protobuf_c_message_descriptor_get_field(&md->base, 2);
    double v;
    if ((rv = to_double(t.s, t.n, &v)) != 0)
      return rv == -2 ? nomem(d, path)
                      : fail(d, WEFT_ERR_JSON_RANGE, path, "%s is out of range",
                             show(&t, b, sizeof b));
    if (t.is_int && v == 0)
      v = 0; /* -0 as an integer token is +0, as in libprotobuf */
    *AT(msg, f->offset, double) = v;
    break;
  }
  case T_STRING: {
    f = protobuf_c_message_descriptor_get_field(&md->base, 3);
    char *s = d_strdup(d, t.s, t.n);
    if (!s)
      return nomem(d, path);
    *AT(msg, f->offset, char *) = s;
    break;
  }
  default:
    f = protobuf_c_message_descriptor_get_field(&md->base, 4);
    *AT(msg, f->offset, protobuf_c_boolean) = t.kind == T_TRUE;
    break;
  }
  *cs = f->id;
  return 0;
}

/* Any: find "@type" anywhere in the object, resolve it, decode the rest as
 * that type into a scratch arena, and store its binary encoding. */
static int dec_any(dec *d, const weft_msg_desc *md, void *msg,
                   const wj_path *path) {
  const char *obj = d->p;
  unsigned depth0 = d->depth;
  int rv = obj_begin(d, path);
  if (rv)
    return rv;
  /* pass 1: find @type */
  const char *url = NULL;
  size_t url_n = 0;
  char *url_copy = NULL;
  int first = 1, done = 0, members = 0;
  for (;;) {
    const char *k;
    size_t kn;
    if ((rv = obj_next(d, &first, &done, &k, &kn)) != 0) {
      free(url_copy);
      return rv;
    }
    if (done)
      break;
    members++;
    if (kn == 5 && memcmp(k, "@type", 5) == 0 && url) {
      wj_path tp = {path, "@type", 5, -1};
      rv = fail(d, WEFT_ERR_JSON_DUPLICATE, &tp,
                "\"@type\" given more than once");
      free(url_copy);
      return rv;
    }
    if (kn == 5 && memcmp(k, "@type", 5) == 0) {
      tok t;
      wj_path tp = {path, "@type", 5, -1};
      if ((rv = lex_value(d, &t)) != 0)
        return rv;
      if (t.kind != T_STRING)
        return fail(d, WEFT_ERR_JSON_TYPE, &tp, "@type must be a string");
      url_copy = malloc(t.n + 1);
      if (!url_copy)
        return nomem(d, path);
      memcpy(url_copy, t.s, t.n);
      url_copy[t.n] = '\0';
      url = url_copy;
      url_n = t.n;
    } else if ((rv = skip_value(d, path)) != 0) {
      free(url_copy);
      return rv;
    }
  }
  if (!url) {
    if (members == 0)
      return 0; /* {} is an empty Any */
    return fail(d, WEFT_ERR_JSON_WKT, path, "Any is missing \"@type\"");
  }
  const weft_msg_desc *td = weft__wj_resolve_any(d->reg, url, url_n);
  if (!td) {
    rv = fail(d, WEFT_ERR_JSON_ANY_TYPE, path,
              "Any type URL \"%.100s\" is not in the registry", url);
    free(url_copy);
    return rv;
  }
  /* pass 2: decode the payload into a scratch arena */
  const char *after = d->p;
  d->p = obj;
  d->depth = depth0;
  weft_arena *tmp = NULL, *saved = d->arena;
  weft__tree *saved_tree = d->tree;
  if (weft_arena_new(&tmp, 0) != 0) {
    free(url_copy);
    return nomem(d, path);
  }
  void *inner = weft_message_new(td, tmp);
  d->arena = tmp;
  d->tree = NULL; /* the payload is scratch: plain arena messages */
  if (!inner) {
    rv = nomem(d, path);
  } else if (td->wkt == WEFT_WKT_NONE) {
    rv = dec_members(d, td, inner, path, 1);
  } else {
    rv = obj_begin(d, path);
    first = 1;
    while (rv == 0) {
      const char *k;
      size_t kn;
      if ((rv = obj_next(d, &first, &done, &k, &kn)) != 0 || done)
        break;
      wj_path vp = {path, "value", 5, -1};
      if (kn == 5 && memcmp(k, "@type", 5) == 0) {
        rv = skip_value(d, path);
      } else if (kn == 5 && memcmp(k, "value", 5) == 0) {
        rv = dec_message_into(d, td, inner, &vp);
      } else if (d->flags & WEFT_JSON_IGNORE_UNKNOWN) {
        rv = skip_value(d, path);
      } else {
        rv = fail(d, WEFT_ERR_JSON_UNKNOWN_FIELD, path,
                  "an Any holding %s takes only \"@type\" and \"value\"",
                  td->base.name);
      }
    }
  }
  d->arena = saved;
  d->tree = saved_tree;
  if (rv == 0 && d->p != after)
    rv = fail(d, WEFT_ERR_INTERNAL, path, "Any re-parse went astray");
  if (rv == 0) {
    size_t n = weft_encoded_size(inner);
    uint8_t *buf = d_alloc(d, n);
    char *u = d_strdup(d, url, url_n);
    if (!buf || !u) {
      if (!d->arena) {
        free(buf);
        free(u);
      }
      rv = nomem(d, path);
    } else {
      weft_encode(inner, buf, n);
      const ProtobufCFieldDescriptor *uf = &md->base.fields[0],
                                     *vf = &md->base.fields[1];
      *AT(msg, uf->offset, char *) = u;
      ProtobufCBinaryData *bd = AT(msg, vf->offset, ProtobufCBinaryData);
      bd->len = n;
      bd->data = buf;
    }
  }
  weft_arena_free(tmp);
  free(url_copy);
  return rv;
}

/* A message value (object, or a well-known type's JSON form) into msg. */
static int dec_message_into(dec *d, const weft_msg_desc *md, void *msg,
                            const wj_path *path) {
  switch ((weft_wkt)md->wkt) {
  case WEFT_WKT_NONE:
  case WEFT_WKT_EMPTY:
    if (peek(d) != '{')
      return fail(d, WEFT_ERR_JSON_TYPE, path, "expected an object for %s",
                  md->base.name);
    return dec_members(d, md, msg, path, 0);
  case WEFT_WKT_TIMESTAMP:
  case WEFT_WKT_DURATION:
    return dec_time(d, md, msg, path);
  case WEFT_WKT_FIELD_MASK:
    return dec_field_mask(d, md, msg, path);
  case WEFT_WKT_STRUCT:
    return dec_struct(d, md, msg, path);
  case WEFT_WKT_VALUE:
    return dec_value(d, md, msg, path);
  case WEFT_WKT_LIST_VALUE:
    return dec_list(d, md, msg, path);
  case WEFT_WKT_ANY:
    if (peek(d) != '{')
      return fail(d, WEFT_ERR_JSON_TYPE, path, "an Any must be an object");
    return dec_any(d, md, msg, path);
  default: {
    /* wrappers: the bare value */
    const ProtobufCFieldDescriptor *f = &md->base.fields[0];
    int skip = 0;
    if (peek(d) == 'n')
      return fail(d, WEFT_ERR_JSON_TYPE, path, "null is not allowed here");
    return dec_one(d, f, AT(msg, f->offset, void), &skip, path);
  }
  }
}

static int root_null_ok(const weft_msg_desc *md) {
  switch (md->wkt) {
  case WEFT_WKT_NONE:
  case WEFT_WKT_STRUCT:
  case WEFT_WKT_LIST_VALUE:
  case WEFT_WKT_ANY:
  case WEFT_WKT_EMPTY:
    return 0;
  default:
    return 1;
  }
}

int weft_json_decode(const weft_msg_desc *md, const char *json, size_t len,
                     const weft_json_opts *opts, void **out, weft_error *err) {
  if (!md || (!json && len) || !out)
    return weft_error_set(err, WEFT_ERR_INVAL, "weft_json_decode: NULL");
  if (!json)
    json = ""; /* NULL + 0 is undefined behaviour (UBSan) */
  dec d = {
      json, json + len, json, 0, NULL, NULL, NULL, 0, WEFT_DEFAULT_MAX_DEPTH,
      err,  NULL,       0};
  if (opts) {
    d.flags = opts->flags;
    d.reg = opts->registry;
    d.arena = opts->arena;
    if (opts->max_depth)
      d.max_depth = opts->max_depth;
  }
  if (!d.arena) {
    /* malloc path: one tree, as weft_decode builds it (the decoded
     * structs take about as many bytes as the JSON text) */
    d.tree = weft__tree_new(len + md->base.sizeof_message + 256);
    if (!d.tree)
      return weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
    d.arena = weft__tree_arena(d.tree);
  }
  void *msg = new_msg(&d, md);
  if (!msg) {
    weft__tree_free(d.tree);
    return weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
  }
  if (d.tree)
    weft__tree_set_root(d.tree, msg);
  int rv;
  if (peek(&d) == 'n' && md->wkt != WEFT_WKT_VALUE) {
    /* libprotobuf: "Root element must be a message" for messages written
     * as JSON objects or arrays; the WKTs written as a JSON scalar
     * (wrappers, Timestamp, Duration, FieldMask) take null as their
     * default. */
    if (root_null_ok(md))
      rv = lex_word(&d, "null", 4);
    else
      rv = fail(&d, WEFT_ERR_JSON_TYPE, NULL,
                "null is not a %s: the top level must be a JSON %s",
                md->base.name,
                md->wkt == WEFT_WKT_LIST_VALUE ? "array" : "object");
  } else {
    rv = dec_message_into(&d, md, msg, NULL);
  }
  if (rv == 0 && peek(&d) != -1)
    rv = syntax(&d, "trailing characters after the value");
  free(d.scratch);
  if (rv) {
    weft__tree_free(d.tree); /* NULL on the arena path */
    return rv;
  }
  *out = msg;
  return 0;
}
