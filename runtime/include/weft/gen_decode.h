/* Helpers for the per-type decoders that protoc-gen-weft emits into
 * <path>.weft.c (weft_msg_desc.decode, which the binary decoder calls
 * instead of its table loop when a type has one).
 *
 * Not API: only generated code and the codec include this header, and its
 * names and behaviour follow the generator. The helpers are static inline;
 * what generated code needs from the runtime (the table loop, errors,
 * growing an array) it reaches through the function pointers of
 * weft__gd_ops, so the .c file still references no runtime symbol.
 *
 * The contract that keeps the two decoders equal: a generated decoder
 * stores a field only when it has read all of it and found it well formed
 * (a helper returns NULL otherwise and has stored nothing); for anything
 * else (an unknown field, a wrong wire type, a truncated or overlong value,
 * invalid UTF-8, a repeated occurrence of a singular string, a map key seen
 * before) it hands the rest of the message, from that field's tag on, to
 * the table loop (weft__gd_ops.rest), which decodes it, or reports the
 * error, exactly as it would have from the start. */
#ifndef WEFT_GEN_DECODE_H
#define WEFT_GEN_DECODE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include "weft/desc.h"

#if defined(__GNUC__)
#define WEFT__GD_INLINE static inline __attribute__((always_inline))
#define WEFT__GD_LIKELY(x) __builtin_expect(!!(x), 1)
#define WEFT__GD_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define WEFT__GD_INLINE static inline
#define WEFT__GD_LIKELY(x) (x)
#define WEFT__GD_UNLIKELY(x) (x)
#ifdef __cplusplus
extern "C" {
#endif
/* For tests: 1 makes the codec use its table loop for every type, as
 * WEFT_DECODE_TABLE=1 in the environment does; 0 lets generated decoders
 * run again. */
void weft__decode_table_only(int on);
#ifdef __cplusplus
}
#endif

#endif

/* The bump window of the runtime's arena: the first members of its
 * struct weft_arena, in that order (the codec checks the layout at build
 * time). */
typedef struct weft__gd_arena {
  void *head_, *first_, *big_;
  char *ptr, *end;
  size_t block_size_;
  size_t used;
} weft__gd_arena;

typedef struct weft__gd weft__gd;

typedef struct weft__gd_ops {
  /* The table loop over [*pp, end) of msg (type d), for the rest of the
   * message; maps_pending: a map field already holds more than 16
   * entries (duplicate keys are then resolved when the message ends). */
  int (*rest)(weft__gd *st, const weft_msg_desc *d, void *msg,
              const uint8_t **pp, const uint8_t *end, unsigned depth,
              int maps_pending);
  /* What the table loop does when a message ends with maps pending. */
  int (*finish)(weft__gd *st, const weft_msg_desc *d, void *msg,
                const uint8_t *p);
  /* A sub-message of a type without a generated decoder in this file:
   * framing done, [*pp, end) is its body. */
  int (*sub)(weft__gd *st, const weft_msg_desc *d, void *msg,
             const uint8_t **pp, const uint8_t *end, unsigned depth,
             int merging);
  /* A packed run of field idx of d (the length prefix at *pp). */
  int (*packed)(weft__gd *st, const weft_msg_desc *d, void *msg, unsigned idx,
                const uint8_t **pp, const uint8_t *end);
  /* Makes room for one more element of an array of n; NULL: no memory. */
  void *(*grow)(weft__gd *st, void **arrp, size_t n, size_t es);
  /* The arena's slow path (a new block). */
  void *(*alloc)(weft__gd *st, size_t n);
  /* Records an out-of-memory error at `at`; returns its code. */
  int (*nomem)(weft__gd *st, const uint8_t *at);
  /* Adds a path segment to the error being returned (idx -1: none). */
  int (*unwind)(weft__gd *st, int rv, const char *name, long idx);
  /* weft_utf8_valid */
  int (*utf8)(const void *s, size_t n);
} weft__gd_ops;

/* The decoder's state as generated code sees it: the first members of the
 * codec's own. Generated decoders run only with an arena (the caller's or
 * a decoded tree's). */
struct weft__gd {
  const weft__gd_ops *ops;
  struct weft_arena *a;    /* its first members: weft__gd_arena */
  struct weft__tree *tree; /* the decoded tree (malloc path), or NULL */
  unsigned max_depth;
  int discard_unknown;
  int alias;
  const uint8_t *base;
  const uint8_t *lim; /* end of the whole input */
};

/* The header before a message of a decoded tree (the codec's weft__mhdr) */
#define WEFT__GD_MHDR_MAGIC 0x6d73676877656674ull

WEFT__GD_INLINE size_t weft__gd_cap_for(size_t n) {
  if (n <= 4)
    return 4;
  return (size_t)1 << (64 - __builtin_clzll((unsigned long long)(n - 1)));
}

WEFT__GD_INLINE void *weft__gd_alloc(weft__gd *st, size_t size) {
  size_t n = (size + 7u) & ~(size_t)7u;
  weft__gd_arena *a = (weft__gd_arena *)(void *)st->a;
  if (WEFT__GD_LIKELY((size_t)(a->end - a->ptr) >= n)) {
    char *p = a->ptr;
    a->ptr += n;
    a->used += n;
    return p;
  }
  return st->ops->alloc(st, size);
}

/* A message struct of `size` bytes (not initialized), with the tree's
 * header in front of it on the malloc path. */
WEFT__GD_INLINE void *weft__gd_msg(weft__gd *st, size_t size) {
  char *p;
  uint64_t magic = WEFT__GD_MHDR_MAGIC;
  if (!st->tree)
    return weft__gd_alloc(st, size);
  p = (char *)weft__gd_alloc(st, 16 + size);
  if (!p)
    return NULL;
  memcpy(p, &st->tree, sizeof(void *));
  memcpy(p + 8, &magic, 8);
  return p + 16;
}

/* A varint; NULL when it is not one the fast path takes (truncated, past
 * the end, longer than 10 bytes): the table loop then reports it. */
WEFT__GD_INLINE const uint8_t *weft__gd_varint(const weft__gd *st,
                                               const uint8_t *p,
                                               const uint8_t *end,
                                               uint64_t *out) {
  uint64_t v, w, stop;
  unsigned i;
  if (WEFT__GD_LIKELY(p < end && p[0] < 0x80)) {
    *out = p[0];
    return p + 1;
  }
  if (WEFT__GD_LIKELY(st->lim - p >= 8)) {
    /* up to 8 bytes from one load (the bytes past `end` are input) */
    memcpy(&w, p, 8);
    stop = ~w & 0x8080808080808080ull;
    if (WEFT__GD_LIKELY(stop != 0)) {
      unsigned bits = (unsigned)__builtin_ctzll(stop) + 1;
      if (WEFT__GD_UNLIKELY(bits / 8 > (size_t)(end - p)))
        return NULL;
      if (bits < 64)
        w &= (1ull << bits) - 1;
      w = ((w & 0x7f007f007f007f00ull) >> 1) | (w & 0x007f007f007f007full);
      w = ((w & 0x3fff00003fff0000ull) >> 2) | (w & 0x00003fff00003fffull);
      w = ((w & 0x0fffffff00000000ull) >> 4) | (w & 0x000000000fffffffull);
      *out = w;
      return p + bits / 8;
    }
  }
  v = 0;
  for (i = 0; i < 10 && p + i < end; i++) {
    uint64_t b = p[i];
    v |= (b & 0x7f) << (7 * i);
    if (b < 0x80) {
      *out = v;
      return p + i + 1;
    }
  }
  return NULL;
}

/* A length prefix (at most 5 bytes) whose bytes are all before end. */
WEFT__GD_INLINE const uint8_t *weft__gd_len(const weft__gd *st,
                                            const uint8_t *p,
                                            const uint8_t *end, size_t *out) {
  uint64_t v;
  const uint8_t *q;
  if (WEFT__GD_LIKELY(p < end && p[0] < 0x80)) {
    v = p[0];
    q = p + 1;
  } else {
    q = weft__gd_varint(st, p, end, &v);
    if (!q || q - p > 5)
      return NULL;
  }
  if (WEFT__GD_UNLIKELY(v > (uint64_t)(end - q)))
    return NULL;
  *out = (size_t)v;
  return q;
}

/* Copies n bytes and a NUL; returns the OR of the bytes (high bits: not
 * ASCII). Word copies, the last overlapping the one before. */
WEFT__GD_INLINE uint64_t weft__gd_copy_or(char *dst, const uint8_t *src,
                                          size_t n) {
  uint64_t hi = 0, w;
  uint32_t h;
  size_t k = 0;
  dst[n] = '\0';
  if (n >= 8) {
    for (; k + 8 < n; k += 8) {
      memcpy(&w, src + k, 8);
      hi |= w;
      memcpy(dst + k, &w, 8);
    }
    memcpy(&w, src + n - 8, 8);
    memcpy(dst + n - 8, &w, 8);
    return hi | w;
  }
  if (n >= 4) {
    memcpy(&h, src, 4);
    memcpy(dst, &h, 4);
    hi = h;
    memcpy(&h, src + n - 4, 4);
    memcpy(dst + n - 4, &h, 4);
    return hi | h;
  }
  for (; k < n; k++) {
    hi |= src[k];
    dst[k] = (char)src[k];
  }
  return hi;
}

/* A string into *slot, which must hold no value yet (NULL or the empty
 * string): anything else, as a bad length or invalid UTF-8 (when utf8),
 * returns NULL with *slot unchanged. */
WEFT__GD_INLINE const uint8_t *weft__gd_str(weft__gd *st, const uint8_t *p,
                                            const uint8_t *end, char **slot,
                                            int utf8) {
  size_t n;
  char *s;
  if (WEFT__GD_UNLIKELY(*slot != NULL && *slot != protobuf_c_empty_string))
    return NULL;
  p = weft__gd_len(st, p, end, &n);
  if (WEFT__GD_UNLIKELY(!p))
    return NULL;
  if (n == 0) {
    *slot = (char *)protobuf_c_empty_string;
    return p;
  }
  s = (char *)weft__gd_alloc(st, n + 1);
  if (WEFT__GD_UNLIKELY(!s))
    return NULL;
  if (n <= 64) {
    if ((weft__gd_copy_or(s, p, n) & 0x8080808080808080ull) && utf8 &&
        !st->ops->utf8(p, n))
      return NULL;
  } else {
    if (utf8 && !st->ops->utf8(p, n))
      return NULL;
    memcpy(s, p, n);
    s[n] = '\0';
  }
  *slot = s;
  return p + n;
}

/* A bytes value into *slot, which must hold none yet (data NULL). */
WEFT__GD_INLINE const uint8_t *weft__gd_bytes(weft__gd *st, const uint8_t *p,
                                              const uint8_t *end,
                                              ProtobufCBinaryData *slot) {
  size_t n;
  uint8_t *b = NULL;
  if (WEFT__GD_UNLIKELY(slot->data != NULL))
    return NULL;
  p = weft__gd_len(st, p, end, &n);
  if (WEFT__GD_UNLIKELY(!p))
    return NULL;
  if (n && st->alias) {
    b = (uint8_t *)(uintptr_t)p;
  } else if (n) {
    b = (uint8_t *)weft__gd_alloc(st, n);
    if (WEFT__GD_UNLIKELY(!b))
      return NULL;
    memcpy(b, p, n);
  }
  slot->data = b;
  slot->len = n;
  return p + n;
}

/* Room for one more element in an array of *np (capacity implied by the
 * count, as the codec grows it); NULL: no memory (nothing changed). */
WEFT__GD_INLINE void *weft__gd_room(weft__gd *st, void **arrp, size_t n,
                                    size_t es) {
  if (WEFT__GD_LIKELY(*arrp != NULL && n != weft__gd_cap_for(n)))
    return *arrp;
  return st->ops->grow(st, arrp, n, es);
}

/* A map<string, string> entry in its usual form (a one-byte length, then
 * exactly the key, tag 0x0a, and the value, tag 0x12, each with a one-byte
 * length), appended to arr[n] as a new entry message of type ed (struct of
 * `size` bytes with the key and value at koff and voff), when no earlier
 * entry of the first min(n, 16) has the same key. Anything else returns
 * NULL with nothing stored: the table loop reads it. */
WEFT__GD_INLINE const uint8_t *
weft__gd_map_ss(weft__gd *st, const uint8_t *p, const uint8_t *end,
                unsigned depth, const weft_msg_desc *ed, size_t size,
                size_t koff, size_t voff, int utf8, void **arr, size_t n) {
  const uint8_t *k, *v;
  size_t len, kl, vl, j;
  uint64_t hi;
  char *s, *ks, *vs;
  ProtobufCMessage *m;
  if (end - p < 5 || p[0] >= 0x80 || p[1] != 0x0a || p[2] >= 0x80)
    return NULL;
  len = p[0];
  kl = p[2];
  if ((size_t)(end - p - 1) < len || kl + 4 > len || depth + 1 > st->max_depth)
    return NULL;
  k = p + 3;
  v = k + kl;
  if (v[0] != 0x12 || v[1] >= 0x80)
    return NULL;
  vl = v[1];
  if (kl + vl + 4 != len)
    return NULL;
  v += 2;
  s = (char *)weft__gd_alloc(st, kl + vl + 2);
  if (WEFT__GD_UNLIKELY(!s))
    return NULL;
  hi = weft__gd_copy_or(s, k, kl) | weft__gd_copy_or(s + kl + 1, v, vl);
  if (WEFT__GD_UNLIKELY(hi & 0x8080808080808080ull) && utf8 &&
      (!st->ops->utf8(k, kl) || !st->ops->utf8(v, vl)))
    return NULL;
  ks = kl ? s : (char *)protobuf_c_empty_string;
  vs = vl ? s + kl + 1 : (char *)protobuf_c_empty_string;
  if (n + 1 <= 16) {
    for (j = 0; j < n; j++) {
      const char *ok = *(const char **)(void *)((char *)arr[j] + koff);
      if (!ok)
        ok = "";
      if (ok[0] == ks[0] && strcmp(ok, ks) == 0)
        return NULL; /* replaces an earlier entry: the table loop does it */
    }
  }
  m = (ProtobufCMessage *)weft__gd_msg(st, size);
  if (WEFT__GD_UNLIKELY(!m))
    return NULL;
  m->descriptor = &ed->base;
  m->n_unknown_fields = 0;
  m->unknown_fields = NULL;
  memcpy((char *)m + koff, &ks, sizeof ks);
  memcpy((char *)m + voff, &vs, sizeof vs);
  arr[n] = m;
  return v + vl;
}

#ifdef __cplusplus
extern "C" {
#endif
/* For tests: 1 makes the codec use its table loop for every type, as
 * WEFT_DECODE_TABLE=1 in the environment does; 0 lets generated decoders
 * run again. */
void weft__decode_table_only(int on);
#ifdef __cplusplus
}
#endif

#endif
