/* Helpers for the per-type encoders that protoc-gen-weft emits into
 * <path>.weft.c (weft_msg_desc.encode, which weft_encode calls first).
 *
 * Not API: only generated code includes this header, and its names and
 * behaviour follow the generator. Everything is static inline, so
 * generated code references no runtime symbol.
 *
 * A generated encoder writes its message front to back: for the types it
 * covers (docs/NAMING.md, "Generated encoders") every length prefix is
 * known when it is written, save a sub-message's, which gets a slot of a
 * guessed width that is corrected by one move of the body when the guess
 * was wrong. Each helper returns the new write position, or NULL when the
 * value does not fit before `end`. While WEFT__G_SLACK bytes of room are
 * left, tags are stored as one 8-byte word (the bytes past the tag are
 * overwritten next or lie past the output); nearer the end every byte is
 * checked, so an exact-size buffer works. */
#ifndef WEFT_GEN_ENCODE_H
#define WEFT_GEN_ENCODE_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <protobuf-c/protobuf-c.h>

#include "weft/error.h"

#define WEFT__G_SLACK 24u

#if defined(__GNUC__)
#define WEFT__G_INLINE static inline __attribute__((always_inline))
#define WEFT__G_LIKELY(x) __builtin_expect(!!(x), 1)
#else
#define WEFT__G_INLINE static inline
#define WEFT__G_LIKELY(x) (x)
#endif

/* A sub-message writer: the generated <type>_enc_put. */
typedef uint8_t *(*weft__g_put_fn)(const void *msg, uint8_t *p,
                                   const uint8_t *end);

WEFT__G_INLINE size_t weft__g_vsize(uint64_t v) {
  unsigned bits = 64 - (unsigned)__builtin_clzll(v | 1);
  return (bits * 9 + 64) / 64;
}

WEFT__G_INLINE uint8_t *weft__g_varint(uint8_t *p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  *p++ = (uint8_t)v;
  return p;
}

WEFT__G_INLINE uint64_t weft__g_zz32(int32_t v) {
  return ((uint32_t)v << 1) ^ (uint32_t)(v >> 31);
}

WEFT__G_INLINE uint64_t weft__g_zz64(int64_t v) {
  return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

/* The tag (its varint bytes, first byte lowest), then room for n more
 * bytes after it and the value's varint of up to vn bytes. */
WEFT__G_INLINE uint8_t *weft__g_tag(uint8_t *p, const uint8_t *end,
                                    uint64_t tag, unsigned tagn, size_t vn,
                                    size_t n) {
  size_t room = (size_t)(end - p), k;
  if (WEFT__G_LIKELY(room >= WEFT__G_SLACK && room - WEFT__G_SLACK >= n)) {
    memcpy(p, &tag, 8);
    return p + tagn;
  }
  if (room < tagn + vn || room - tagn - vn < n)
    return NULL;
  for (k = 0; k < tagn; k++)
    *p++ = (uint8_t)(tag >> (8 * k));
  return p;
}

/* A varint field. */
WEFT__G_INLINE uint8_t *weft__g_vfield(uint8_t *p, const uint8_t *end,
                                       uint64_t tag, unsigned tagn,
                                       uint64_t v) {
  p = weft__g_tag(p, end, tag, tagn, weft__g_vsize(v), 0);
  return p ? weft__g_varint(p, v) : NULL;
}

/* A fixed32 or fixed64 field (n is 4 or 8). */
WEFT__G_INLINE uint8_t *weft__g_fixed(uint8_t *p, const uint8_t *end,
                                      uint64_t tag, unsigned tagn,
                                      const void *v, size_t n) {
  p = weft__g_tag(p, end, tag, tagn, 0, n);
  if (!p)
    return NULL;
  memcpy(p, v, n);
  return p + n;
}

/* Up to 16 bytes without a library call; longer ones with memcpy. */
WEFT__G_INLINE uint8_t *weft__g_copy(uint8_t *p, const void *src, size_t n) {
  const uint8_t *s = (const uint8_t *)src;
  if (n > 16) {
    memcpy(p, s, n);
  } else if (n >= 8) {
    uint64_t a, b;
    memcpy(&a, s, 8);
    memcpy(&b, s + n - 8, 8);
    memcpy(p, &a, 8);
    memcpy(p + n - 8, &b, 8);
  } else if (n >= 4) {
    uint32_t a, b;
    memcpy(&a, s, 4);
    memcpy(&b, s + n - 4, 4);
    memcpy(p, &a, 4);
    memcpy(p + n - 4, &b, 4);
  } else if (n) {
    p[0] = s[0];
    p[n / 2] = s[n / 2];
    p[n - 1] = s[n - 1];
  }
  return p + n;
}

/* A length-delimited field: tag, length, bytes. */
WEFT__G_INLINE uint8_t *weft__g_lfield(uint8_t *p, const uint8_t *end,
                                       uint64_t tag, unsigned tagn,
                                       const void *src, size_t n) {
  p = weft__g_tag(p, end, tag, tagn, weft__g_vsize(n), n);
  return p ? weft__g_copy(weft__g_varint(p, n), src, n) : NULL;
}

WEFT__G_INLINE uint8_t *weft__g_str(uint8_t *p, const uint8_t *end,
                                    uint64_t tag, unsigned tagn,
                                    const char *s) {
  return weft__g_lfield(p, end, tag, tagn, s, s ? strlen(s) : 0);
}

/* A map<string, string> entry without unknown fields, key and value
 * always (as Google's encoders write them). */
WEFT__G_INLINE uint8_t *weft__g_ssentry(uint8_t *p, const uint8_t *end,
                                        uint64_t tag, unsigned tagn,
                                        const char *k, const char *v) {
  size_t kn = k ? strlen(k) : 0, vn = v ? strlen(v) : 0;
  size_t n = 2 + weft__g_vsize(kn) + kn + weft__g_vsize(vn) + vn;
  p = weft__g_tag(p, end, tag, tagn, weft__g_vsize(n), n);
  if (!p)
    return NULL;
  p = weft__g_varint(p, n);
  *p++ = 0x0a; /* field 1, length-delimited */
  p = weft__g_copy(weft__g_varint(p, kn), k, kn);
  *p++ = 0x12; /* field 2 */
  return weft__g_copy(weft__g_varint(p, vn), v, vn);
}

/* The unknown fields, after the known ones, as they were read. */
static inline uint8_t *weft__g_unknown(uint8_t *p, const uint8_t *end,
                                       const ProtobufCMessage *m) {
  unsigned i;
  for (i = 0; i < m->n_unknown_fields; i++) {
    const ProtobufCMessageUnknownField *u = &m->unknown_fields[i];
    uint64_t t = ((uint64_t)u->tag << 3) | (unsigned)u->wire_type;
    size_t need = weft__g_vsize(t);
    if ((size_t)(end - p) < need || (size_t)(end - p) - need < u->len)
      return NULL;
    p = weft__g_varint(p, t);
    if (u->len)
      memcpy(p, u->data, u->len);
    p += u->len;
  }
  return p;
}

/* Fixes a sub-message's length slot of *g bytes at lenp, whose body was
 * written at [b, q): moves the body once when its length needs another
 * width (and remembers that width for the next element). */
static inline uint8_t *weft__g_close(uint8_t *lenp, uint8_t *b, uint8_t *q,
                                     const uint8_t *end, unsigned *g) {
  size_t n = (size_t)(q - b);
  unsigned ls = (unsigned)weft__g_vsize(n);
  if (ls != *g) {
    if (ls > *g && (size_t)(end - q) < ls - *g)
      return NULL;
    memmove(lenp + ls, b, n);
    *g = ls;
  }
  weft__g_varint(lenp, n);
  return lenp + ls + n;
}

/* A sub-message (NULL: an empty one) through its type's writer, after a
 * length slot of *g bytes. A slot too wide for the end of an exact-size
 * buffer is retried at one byte, then widened by the move. */
WEFT__G_INLINE uint8_t *weft__g_sub(uint8_t *p, const uint8_t *end,
                                    uint64_t tag, unsigned tagn,
                                    const void *sub, weft__g_put_fn put,
                                    unsigned *g) {
  uint8_t *t, *q = NULL;
  if (!sub)
    return weft__g_lfield(p, end, tag, tagn, "", 0);
  t = weft__g_tag(p, end, tag, tagn, 0, *g);
  if (t)
    q = put(sub, t + *g, end);
  if (!q && *g > 1 && (t = weft__g_tag(p, end, tag, tagn, 0, 1)) != NULL) {
    *g = 1;
    q = put(sub, t + 1, end);
  }
  return q ? weft__g_close(t, t + *g, q, end, g) : NULL;
}

/* ---- sized encoders: nested and recursive types ----
 *
 * For a type whose sub-messages are not all flat, a guessed slot could be
 * moved once per level of nesting. Those types are encoded in two
 * generated passes instead: <type>_enc_size adds up the sizes and records,
 * in the order the writer will need them, every sub-message's length (its
 * slot reserved before the recursion, filled after it), every string's
 * strlen and every packed varint run's length; <type>_enc_write then
 * writes front to back into exactly that many bytes, taking the records in
 * order, so no strlen runs twice and nothing moves. The records live on
 * the stack up to WEFT__G_LENS_STACK entries, then in a malloc'd array. */
#define WEFT__G_LENS_STACK 512u

#if defined(__GNUC__)
#define WEFT__G_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define WEFT__G_UNLIKELY(x) (x)
#endif

typedef struct weft__g_lens {
  uint32_t *v; /* the records: the stack array, or heap */
  size_t n;    /* records taken so far */
  size_t cap;  /* entries in v */
  uint32_t *heap;
  int bad; /* out of memory: the records are garbage, take the tables */
} weft__g_lens;

WEFT__G_INLINE void weft__g_lens_init(weft__g_lens *L, uint32_t *stack) {
  L->v = stack;
  L->n = 0;
  L->cap = WEFT__G_LENS_STACK;
  L->heap = NULL;
  L->bad = 0;
}

/* Doubles the records' room. Out of memory: marks the pass bad and starts
 * over at 0, so every later index stays inside the old array. */
static __attribute__((noinline, unused)) void
weft__g_lens_grow(weft__g_lens *L) {
  size_t cap = L->cap * 2;
  uint32_t *v = cap < L->cap || cap > SIZE_MAX / sizeof *v
                    ? NULL
                    : (uint32_t *)realloc(L->heap, cap * sizeof *v);
  if (!v) {
    L->bad = 1;
    L->n = 0;
    return;
  }
  if (!L->heap)
    memcpy(v, L->v, L->n * sizeof *v);
  L->v = L->heap = v;
  L->cap = cap;
}

WEFT__G_INLINE void weft__g_lens_free(weft__g_lens *L) {
  free(L->heap);
}

/* The index of the next record (filled later: a sub-message's length). */
WEFT__G_INLINE size_t weft__g_slot(weft__g_lens *L) {
  if (WEFT__G_UNLIKELY(L->n == L->cap))
    weft__g_lens_grow(L);
  return L->n++;
}

WEFT__G_INLINE void weft__g_rec(weft__g_lens *L, size_t v) {
  size_t k = weft__g_slot(L); /* first: it may move L->v */
  L->v[k] = (uint32_t)v;
}

/* Tag, length prefix and n bytes. */
WEFT__G_INLINE size_t weft__g_lsize(unsigned tagn, size_t n) {
  return tagn + weft__g_vsize(n) + n;
}

/* A string field: recorded strlen, and its size with the tag. */
WEFT__G_INLINE size_t weft__g_str_size(weft__g_lens *L, unsigned tagn,
                                       const char *s) {
  size_t n = s ? strlen(s) : 0;
  weft__g_rec(L, n);
  return weft__g_lsize(tagn, n);
}

static inline size_t weft__g_unknown_size(const ProtobufCMessage *m) {
  size_t s = 0;
  unsigned i;
  for (i = 0; i < m->n_unknown_fields; i++) {
    const ProtobufCMessageUnknownField *u = &m->unknown_fields[i];
    s += weft__g_vsize(((uint64_t)u->tag << 3) | (unsigned)u->wire_type) +
         u->len;
  }
  return s;
}

/* A map<string, string> entry (not NULL): key and value always, and any
 * unknown fields after them; records both lengths. */
WEFT__G_INLINE size_t weft__g_ss_size(weft__g_lens *L, unsigned tagn,
                                      const ProtobufCMessage *e, const char *k,
                                      const char *v) {
  size_t kn = k ? strlen(k) : 0, vn = v ? strlen(v) : 0, n;
  weft__g_rec(L, kn);
  weft__g_rec(L, vn);
  n = 2 + weft__g_vsize(kn) + kn + weft__g_vsize(vn) + vn;
  if (WEFT__G_UNLIKELY(e->n_unknown_fields != 0))
    n += weft__g_unknown_size(e);
  return weft__g_lsize(tagn, n);
}

/* Writes the entry weft__g_ss_size sized, with its recorded lengths. */
WEFT__G_INLINE uint8_t *weft__g_ss_put(uint8_t *p, const uint8_t *end,
                                       uint64_t tag, unsigned tagn,
                                       const ProtobufCMessage *e, const char *k,
                                       size_t kn, const char *v, size_t vn) {
  size_t n = 2 + weft__g_vsize(kn) + kn + weft__g_vsize(vn) + vn, u = 0;
  if (WEFT__G_UNLIKELY(e->n_unknown_fields != 0))
    u = weft__g_unknown_size(e);
  p = weft__g_tag(p, end, tag, tagn, weft__g_vsize(n + u), n + u);
  if (!p)
    return NULL;
  p = weft__g_varint(p, n + u);
  *p++ = 0x0a; /* field 1, length-delimited */
  p = weft__g_copy(weft__g_varint(p, kn), k, kn);
  *p++ = 0x12; /* field 2 */
  p = weft__g_copy(weft__g_varint(p, vn), v, vn);
  return u ? weft__g_unknown(p, end, e) : p;
}

typedef size_t (*weft__g_size_fn)(const void *msg, weft__g_lens *L);
typedef uint8_t *(*weft__g_write_fn)(const void *msg, uint8_t *p,
                                     const uint8_t *end, const uint32_t **rp);

/* weft_encode through a type's two passes: sized, then written from buf
 * (room up to cap, so the fast tag stores reach further). A write that
 * does not end exactly at the size means the message changed between the
 * passes. WEFT_ERR_NOMEM: no memory for the records; WEFT_ERR_TOO_BIG also
 * past 4 GiB, which a 4-byte record cannot hold (and protobuf forbids
 * past 2 GiB). */
WEFT__G_INLINE ssize_t weft__g_sized(const void *msg, uint8_t *buf, size_t cap,
                                     weft__g_size_fn size,
                                     weft__g_write_fn write) {
  uint32_t stack[WEFT__G_LENS_STACK];
  weft__g_lens L;
  const uint32_t *r;
  uint8_t *p;
  size_t n;
  weft__g_lens_init(&L, stack);
  n = size(msg, &L);
  if (WEFT__G_UNLIKELY(L.bad)) {
    weft__g_lens_free(&L);
    return WEFT_ERR_NOMEM;
  }
  if (n > cap || n > UINT32_MAX) {
    weft__g_lens_free(&L);
    return WEFT_ERR_TOO_BIG;
  }
  r = L.v;
  p = write(msg, buf, buf + cap, &r);
  weft__g_lens_free(&L);
  return p == buf + n ? (ssize_t)n : WEFT_ERR_INTERNAL;
}

/* weft_encode_alloc through the two passes: one exact allocation. */
WEFT__G_INLINE int weft__g_sized_alloc(const void *msg, uint8_t **out,
                                       size_t *out_len, weft__g_size_fn size,
                                       weft__g_write_fn write) {
  uint32_t stack[WEFT__G_LENS_STACK];
  weft__g_lens L;
  const uint32_t *r;
  uint8_t *buf, *p;
  size_t n;
  weft__g_lens_init(&L, stack);
  n = size(msg, &L);
  if (WEFT__G_UNLIKELY(L.bad || n > UINT32_MAX) ||
      !(buf = (uint8_t *)malloc(n ? n : 1))) {
    weft__g_lens_free(&L);
    return n > UINT32_MAX ? WEFT_ERR_TOO_BIG : WEFT_ERR_NOMEM;
  }
  r = L.v;
  p = write(msg, buf, buf + n, &r);
  weft__g_lens_free(&L);
  if (p != buf + n) {
    free(buf);
    return WEFT_ERR_INTERNAL;
  }
  *out = buf;
  *out_len = n;
  return 0;
}

/* A sub-message's tag and recorded length, with room for its body. */
WEFT__G_INLINE uint8_t *weft__g_subhead(uint8_t *p, const uint8_t *end,
                                        uint64_t tag, unsigned tagn, size_t n) {
  p = weft__g_tag(p, end, tag, tagn, weft__g_vsize(n), n);
  return p ? weft__g_varint(p, n) : NULL;
}

#endif
