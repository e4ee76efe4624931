/* Table-driven protobuf binary decoder over weft descriptors.
 *
 * One pass over the input, recursing into sub-messages and groups. Semantics
 * follow Google's implementations: last value wins for singular scalars,
 * repeated occurrences of a singular sub-message merge, a oneof member
 * replaces the previous one, packed and unpacked repeated scalars are both
 * accepted, unknown fields (groups included) are kept as raw bytes for
 * re-emission, unknown numbers of closed (proto2) enums become unknown
 * fields, map entries with a duplicate key replace the earlier entry.
 * Strictness beyond Google: a known field on the wrong wire type is an
 * error (WEFT_ERR_WIRE_TYPE) rather than an unknown field.
 *
 * Memory: allocations go to the arena when there is one, else malloc. The
 * message tree is valid (freeable) at every point, so an error part-way
 * needs no special unwinding. Arrays weft grows have capacity
 * weft__cap_for(n), implied by their count. */
#include <stdio.h>
#include <string.h>

#include "dectab.h"
#include "internal.h"
#include "weft/gen_decode.h"

#define SEG_MAX 16

typedef struct dec {
  /* first: what generated decoders see (weft/gen_decode.h). a: the
   * caller's arena, or the tree's; tree: malloc path, the tree being
   * decoded into; alias: bytes and unknown fields point into the input;
   * lim: end of the whole input (a sub-message ends before) */
  weft__gd g;
  /* error report: what, where, and the path collected while unwinding
   * (innermost first; a ring keeping the outermost SEG_MAX segments) */
  const char *what;
  size_t at;
  unsigned nseg;
  const char *segname[SEG_MAX];
  long segidx[SEG_MAX];
} dec;

static int fail(dec *st, int code, const char *what, const uint8_t *at) {
  st->what = what;
  st->at = (size_t)(at - st->g.base);
  st->nseg = 0;
  return code;
}

static int unwind(dec *st, int rv, const char *name, long idx) {
  unsigned k = st->nseg % SEG_MAX;
  st->segname[k] = name;
  st->segidx[k] = idx;
  st->nseg++;
  return rv;
}

static int nomem(dec *st, const uint8_t *at) {
  return fail(st, WEFT_ERR_NOMEM, "out of memory", at);
}

/* Frees a value the decoder replaces (a string, bytes buffer or unknown
 * field array): malloc'd unless it lives in the arena or the tree. */
static void drop(const dec *st, void *p) {
  if (!st->g.a || (st->g.tree && !weft__tree_holds(st->g.tree, p)))
    free(p);
}

/* ---- wire primitives ---- */

static int varint_slow(dec *st, const uint8_t **pp, const uint8_t *end,
                       uint64_t *out) {
  const uint8_t *p = *pp;
  uint64_t v = 0;
  unsigned i;
  for (i = 0; i < 10; i++) {
    uint8_t b;
    if (p >= end)
      return fail(st, WEFT_ERR_TRUNCATED, "truncated varint", *pp);
    b = *p++;
    v |= (uint64_t)(b & 0x7f) << (7 * i);
    if (!(b & 0x80)) {
      *out = v;
      *pp = p;
      return 0;
    }
  }
  return fail(st, WEFT_ERR_MALFORMED, "varint longer than 10 bytes", *pp);
}

WEFT__INLINE int rd_varint(dec *st, const uint8_t **pp, const uint8_t *end,
                           uint64_t *out) {
  const uint8_t *p = *pp;
  if (WEFT__LIKELY(p < end && p[0] < 0x80)) { /* one byte: the common case */
    *out = p[0];
    *pp = p + 1;
    return 0;
  }
  if (WEFT__LIKELY(st->g.lim - p >= 10)) {
    /* Enough input for the longest varint: no bounds checks. Up to 8
     * bytes, without a loop: find the last byte from the continuation
     * bits of one 64-bit load, then pack the 7-bit groups together. The
     * load may pass the end of a sub-message (not of the input): a varint
     * found to do so is read again by varint_slow, which reports it. */
    uint64_t v, w, stop;
    unsigned i;
    memcpy(&w, p, 8);
    stop = ~w & 0x8080808080808080ull;
    if (WEFT__LIKELY(stop != 0)) {
      unsigned bits = (unsigned)__builtin_ctzll(stop) + 1; /* 8 * length */
      if (WEFT__UNLIKELY(bits / 8 > (size_t)(end - p)))
        return varint_slow(st, pp, end, out);
      if (bits < 64)
        w &= (1ull << bits) - 1;
      w = ((w & 0x7f007f007f007f00ull) >> 1) | (w & 0x007f007f007f007full);
      w = ((w & 0x3fff00003fff0000ull) >> 2) | (w & 0x00003fff00003fffull);
      w = ((w & 0x0fffffff00000000ull) >> 4) | (w & 0x000000000fffffffull);
      *out = w;
      *pp = p + bits / 8;
      return 0;
    }
    if (WEFT__UNLIKELY(end - p < 10))
      return varint_slow(st, pp, end, out);
    v = p[0] & 0x7f;
    for (i = 1; i < 10; i++) {
      uint64_t b = p[i];
      v |= (b & 0x7f) << (7 * i);
      if (b < 0x80) {
        *out = v;
        *pp = p + i + 1;
        return 0;
      }
    }
    return fail(st, WEFT_ERR_MALFORMED, "varint longer than 10 bytes", p);
  }
  return varint_slow(st, pp, end, out);
}

WEFT__INLINE int rd_len(dec *st, const uint8_t **pp, const uint8_t *end,
                        size_t *out) {
  uint64_t v;
  const uint8_t *start = *pp;
  int rv = rd_varint(st, pp, end, &v);
  if (WEFT__UNLIKELY(rv))
    return rv;
  /* A length is a 32-bit varint: Google's parsers refuse one written in more
   * than 5 bytes (even an overlong 0), and so do we. */
  if (WEFT__UNLIKELY(*pp - start > 5))
    return fail(st, WEFT_ERR_MALFORMED, "length prefix longer than 5 bytes",
                start);
  if (WEFT__UNLIKELY(v > (uint64_t)(end - *pp)))
    return fail(st, WEFT_ERR_TRUNCATED, "length past the end of the input",
                *pp);
  *out = (size_t)v;
  return 0;
}

/* Reads one scalar of type t in its native encoding into dst (4 or 8
 * bytes; bool as protobuf_c_boolean). */
WEFT__INLINE int rd_scalar(dec *st, ProtobufCType t, const uint8_t **pp,
                           const uint8_t *end, void *dst) {
  uint64_t v;
  int rv;
  switch (t) {
  case PROTOBUF_C_TYPE_SFIXED32:
  case PROTOBUF_C_TYPE_FIXED32:
  case PROTOBUF_C_TYPE_FLOAT:
    if (WEFT__UNLIKELY(end - *pp < 4))
      return fail(st, WEFT_ERR_TRUNCATED, "truncated fixed32", *pp);
    memcpy(dst, *pp, 4);
    *pp += 4;
    return 0;
  case PROTOBUF_C_TYPE_SFIXED64:
  case PROTOBUF_C_TYPE_FIXED64:
  case PROTOBUF_C_TYPE_DOUBLE:
    if (WEFT__UNLIKELY(end - *pp < 8))
      return fail(st, WEFT_ERR_TRUNCATED, "truncated fixed64", *pp);
    memcpy(dst, *pp, 8);
    *pp += 8;
    return 0;
  default:
    break;
  }
  if (WEFT__UNLIKELY((rv = rd_varint(st, pp, end, &v)) != 0))
    return rv;
  switch (t) {
  case PROTOBUF_C_TYPE_INT64:
  case PROTOBUF_C_TYPE_UINT64:
    memcpy(dst, &v, 8);
    break;
  case PROTOBUF_C_TYPE_SINT64: {
    int64_t s = weft__unzz64(v);
    memcpy(dst, &s, 8);
    break;
  }
  case PROTOBUF_C_TYPE_SINT32: {
    int32_t s = weft__unzz32((uint32_t)v);
    memcpy(dst, &s, 4);
    break;
  }
  case PROTOBUF_C_TYPE_BOOL: {
    protobuf_c_boolean b = v != 0;
    memcpy(dst, &b, sizeof b);
    break;
  }
  default: { /* int32, uint32, enum: truncate to 32 bits */
    uint32_t u = (uint32_t)v;
    memcpy(dst, &u, 4);
    break;
  }
  }
  return 0;
}

/* ---- unknown fields ---- */

static int skip_field(dec *st, const uint8_t **pp, const uint8_t *end, int wt,
                      uint32_t fnum, unsigned depth);

static int skip_group(dec *st, const uint8_t **pp, const uint8_t *end,
                      uint32_t fnum, unsigned depth) {
  if (depth > st->g.max_depth)
    return fail(st, WEFT_ERR_DEPTH, "nesting too deep", *pp);
  for (;;) {
    const uint8_t *tag_start;
    uint64_t tag;
    int rv;
    if (*pp >= end)
      return fail(st, WEFT_ERR_TRUNCATED, "unterminated group", *pp);
    tag_start = *pp;
    if ((rv = rd_varint(st, pp, end, &tag)) != 0)
      return rv;
    if (tag > UINT32_MAX || *pp - tag_start > 5 || (tag >> 3) == 0)
      return fail(st, WEFT_ERR_MALFORMED, "bad tag in group", *pp);
    if ((tag & 7) == WEFT__WT_EGROUP) {
      if ((tag >> 3) != fnum)
        return fail(st, WEFT_ERR_MALFORMED, "end-group tag mismatch", *pp);
      return 0;
    }
    if ((rv = skip_field(st, pp, end, (int)(tag & 7), (uint32_t)(tag >> 3),
                         depth)) != 0)
      return rv;
  }
}

static int skip_field(dec *st, const uint8_t **pp, const uint8_t *end, int wt,
                      uint32_t fnum, unsigned depth) {
  uint64_t v;
  size_t n;
  int rv;
  switch (wt) {
  case WEFT__WT_VARINT:
    return rd_varint(st, pp, end, &v);
  case WEFT__WT_I64:
    if (end - *pp < 8)
      return fail(st, WEFT_ERR_TRUNCATED, "truncated fixed64", *pp);
    *pp += 8;
    return 0;
  case WEFT__WT_I32:
    if (end - *pp < 4)
      return fail(st, WEFT_ERR_TRUNCATED, "truncated fixed32", *pp);
    *pp += 4;
    return 0;
  case WEFT__WT_LEN:
    if ((rv = rd_len(st, pp, end, &n)) != 0)
      return rv;
    *pp += n;
    return 0;
  case WEFT__WT_SGROUP:
    return skip_group(st, pp, end, fnum, depth + 1);
  case WEFT__WT_EGROUP:
    return fail(st, WEFT_ERR_MALFORMED, "unexpected end-group tag", *pp);
  default:
    return fail(st, WEFT_ERR_MALFORMED, "invalid wire type", *pp);
  }
}

/* Appends an unknown field: data = every byte after the tag (length prefix
 * and end-group tag included), the layout protobuf-c's packer expects. */
static int add_unknown(dec *st, ProtobufCMessage *m, uint32_t fnum, int wt,
                       const uint8_t *from, const uint8_t *to) {
  unsigned n = m->n_unknown_fields;
  ProtobufCMessageUnknownField *u;
  size_t len = (size_t)(to - from);
  if (!m->unknown_fields || n == weft__cap_for(n)) {
    size_t cap = weft__cap_for((size_t)n + 1);
    void *q = weft__realloc(st->g.a, m->unknown_fields, n * sizeof *u,
                            cap * sizeof *u);
    if (!q)
      return nomem(st, from);
    m->unknown_fields = q;
  }
  u = &m->unknown_fields[n];
  u->tag = fnum;
  u->wire_type = (ProtobufCWireType)wt;
  u->len = len;
  if (st->g.alias) {
    u->data = (uint8_t *)(uintptr_t)from;
  } else {
    u->data = weft__alloc(st->g.a, len);
    if (!u->data)
      return nomem(st, from);
    memcpy(u->data, from, len);
  }
  m->n_unknown_fields = n + 1;
  return 0;
}

/* ---- helpers for known fields ---- */

static int enum_known(const ProtobufCFieldDescriptor *f, int32_t v) {
  const ProtobufCEnumDescriptor *ed = f->descriptor;
  unsigned i;
  if (!ed)
    return 1;
  for (i = 0; i < ed->n_values; i++)
    if (ed->values[i].value == v)
      return 1;
  return 0;
}

static int enum_closed(const ProtobufCFieldDescriptor *f) {
  return f->type == PROTOBUF_C_TYPE_ENUM && f->descriptor &&
         weft_enum_desc_of(f->descriptor)->closed;
}

/* Frees (malloc path) or forgets (arena path) what a field holds. */
static void release_field(dec *st, const ProtobufCFieldDescriptor *f,
                          void *msg) {
  if (!st->g.a || st->g.tree) {
    weft__field_clear(st->g.tree, f, msg);
    return;
  }
  if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
    *(uint32_t *)WEFT__MEMBER(msg, f->quantifier_offset) = 0;
  memset(WEFT__MEMBER(msg, f->offset), 0, weft__elem_size(f->type));
}

/* Makes f the active member of its oneof, clearing the previous one. */
static void oneof_switch(dec *st, const weft_msg_desc *d,
                         const ProtobufCFieldDescriptor *f, void *msg) {
  uint32_t *cp = (uint32_t *)WEFT__MEMBER(msg, f->quantifier_offset);
  if (*cp != f->id) {
    if (*cp) {
      const ProtobufCFieldDescriptor *old = weft_field_by_number(d, *cp);
      if (old)
        release_field(st, old, msg);
    }
    memset(WEFT__MEMBER(msg, f->offset), 0, weft__elem_size(f->type));
    *cp = f->id;
  }
}

/* Makes room for `add` more elements in a repeated field's array. */
static void *reserve(dec *st, void **arrp, size_t n, size_t add, size_t es,
                     const uint8_t *at) {
  size_t need = n + add, cap;
  void *q;
  if (*arrp && weft__cap_for(n) >= need)
    return *arrp;
  cap = weft__cap_for(need);
  if (need < n || cap > SIZE_MAX / es) {
    nomem(st, at);
    return NULL;
  }
  q = weft__realloc(st->g.a, *arrp, n * es, cap * es);
  if (!q) {
    nomem(st, at);
    return NULL;
  }
  *arrp = q;
  return q;
}

WEFT__INLINE int rd_string(dec *st, const weft_msg_desc *d, unsigned idx,
                           const uint8_t **pp, const uint8_t *end,
                           char **slot) {
  size_t n;
  char *s;
  int rv;
  if ((rv = rd_len(st, pp, end, &n)) != 0)
    return rv;
  if (weft__check_utf8(d, idx) && !weft_utf8_valid(*pp, n))
    return fail(st, WEFT_ERR_UTF8, "invalid UTF-8", *pp);
  if (n == 0) {
    s = (char *)protobuf_c_empty_string;
  } else {
    s = weft__alloc(st->g.a, n + 1);
    if (!s)
      return nomem(st, *pp);
    memcpy(s, *pp, n);
    s[n] = '\0';
  }
  if (!weft__string_is_static(&d->base.fields[idx], *slot))
    drop(st, *slot);
  *slot = s;
  *pp += n;
  return 0;
}

WEFT__INLINE int rd_bytes(dec *st, const ProtobufCFieldDescriptor *f,
                          const uint8_t **pp, const uint8_t *end,
                          ProtobufCBinaryData *slot) {
  size_t n;
  uint8_t *b = NULL;
  int rv;
  if ((rv = rd_len(st, pp, end, &n)) != 0)
    return rv;
  if (n && st->g.alias) {
    b = (uint8_t *)(uintptr_t)*pp;
  } else if (n) {
    b = weft__alloc(st->g.a, n);
    if (!b)
      return nomem(st, *pp);
    memcpy(b, *pp, n);
  }
  if (!weft__bytes_is_static(f, slot->data))
    drop(st, slot->data);
  slot->data = b;
  slot->len = n;
  *pp += n;
  return 0;
}

static int decode_fields(dec *st, const weft_msg_desc *d, const weft__dtab *T,
                         void *msg, const uint8_t **pp, const uint8_t *end,
                         unsigned depth, uint32_t gnum, int merging,
                         int maps_pending);

/* The table loop can be forced for every type (the tests run each decode
 * both ways): WEFT_DECODE_TABLE=1 in the environment, read once, or
 * weft__decode_table_only(). -1: not read yet. */
static int table_only = -1;

static __attribute__((noinline)) int table_only_init(void) {
  const char *e = getenv("WEFT_DECODE_TABLE");
  int v = e && *e && strcmp(e, "0") != 0;
  int unset = -1;
  __atomic_compare_exchange_n(&table_only, &unset, v, 0, __ATOMIC_RELAXED,
                              __ATOMIC_RELAXED);
  return __atomic_load_n(&table_only, __ATOMIC_RELAXED);
}

void weft__decode_table_only(int on) {
  __atomic_store_n(&table_only, on ? 1 : 0, __ATOMIC_RELAXED);
}

/* A message's body: through its type's generated decoder when it has one
 * (which needs an arena, the caller's or a tree's, and is never a group),
 * else the table loop. */
WEFT__INLINE int decode_body(dec *st, const weft_msg_desc *d,
                             const weft__dtab *T, void *msg, const uint8_t **pp,
                             const uint8_t *end, unsigned depth, uint32_t gnum,
                             int merging) {
  if (d->decode && !gnum && st->g.a) {
    int v = __atomic_load_n(&table_only, __ATOMIC_RELAXED);
    if (WEFT__UNLIKELY(v < 0))
      v = table_only_init();
    if (!v)
      return d->decode(&st->g, msg, pp, end, depth);
  }
  return decode_fields(st, d, T, msg, pp, end, depth, gnum, merging, 0);
}

/* weft_message_init(d, msg) from the type's table: a copy of its initial
 * image, 16 bytes at a time, the last block overlapping the one before
 * (a struct starts with a 24-byte ProtobufCMessage: never shorter). */
WEFT__INLINE void init_from(const weft__dtab *T, const weft_msg_desc *d,
                            void *msg) {
  size_t n = d->base.sizeof_message, i = 0;
  const char *src = T->init;
  char *dst = msg;
  char w[16];
  if (WEFT__UNLIKELY(n < 16)) {
    memcpy(dst, src, n);
    return;
  }
  for (; i + 16 < n; i += 16) {
    memcpy(w, src + i, 16);
    memcpy(dst + i, w, 16);
  }
  memcpy(w, src + n - 16, 16);
  memcpy(dst + n - 16, w, 16);
}

/* Decodes a sub-message (length-delimited or group) into *slot, creating it
 * if absent and merging into it otherwise. */
static int rd_message(dec *st, const ProtobufCFieldDescriptor *f, int group,
                      const uint8_t **pp, const uint8_t *end, unsigned depth,
                      void **slot) {
  const weft_msg_desc *sd = weft_msg_desc_of(f->descriptor);
  const uint8_t *sub_end = end;
  const weft__dtab *T;
  weft__dtab *tmp;
  int merging = *slot != NULL, rv;
  size_t n;
  if (!group) {
    if ((rv = rd_len(st, pp, end, &n)) != 0)
      return rv;
    sub_end = *pp + n;
  }
  if (depth + 1 > st->g.max_depth)
    return fail(st, WEFT_ERR_DEPTH, "nesting too deep", *pp);
  T = weft__dtab_get(sd, &tmp);
  if (WEFT__UNLIKELY(!T))
    return nomem(st, *pp);
  if (!*slot) {
    *slot = weft__msg_alloc(st->g.a, st->g.tree, sd);
    if (WEFT__UNLIKELY(!*slot)) {
      free(tmp);
      return nomem(st, *pp);
    }
    init_from(T, sd, *slot);
  }
  rv = decode_body(st, sd, T, *slot, pp, sub_end, depth + 1, group ? f->id : 0,
                   merging);
  if (WEFT__UNLIKELY(tmp != NULL))
    free(tmp);
  if (rv)
    return rv;
  if (!group && *pp != sub_end) /* cannot happen: decode_msg ends at end */
    return fail(st, WEFT_ERR_INTERNAL, "sub-message overrun", *pp);
  return 0;
}

static int map_key_eq(const ProtobufCFieldDescriptor *kf, const void *a,
                      const void *b) {
  const void *x = WEFT__CMEMBER(a, kf->offset),
             *y = WEFT__CMEMBER(b, kf->offset);
  if (kf->type == PROTOBUF_C_TYPE_STRING) {
    const char *s = *(const char *const *)x, *t = *(const char *const *)y;
    return strcmp(s ? s : "", t ? t : "") == 0;
  }
  if (kf->type == PROTOBUF_C_TYPE_BOOL)
    return !*(const protobuf_c_boolean *)x == !*(const protobuf_c_boolean *)y;
  return memcmp(x, y, weft__elem_size(kf->type)) == 0;
}

/* A map entry was just appended at arr[n-1]: if an earlier entry has the
 * same key, the new one replaces it in place (last one wins). */
static void map_dedupe(dec *st, size_t *np, void **arr) {
  size_t n = *np, j;
  void *e = arr[n - 1];
  const weft_msg_desc *ed = weft_msg_desc_of_msg(e);
  const ProtobufCFieldDescriptor *kf;
  if (ed->base.n_fields < 1 || n < 2)
    return;
  kf = &ed->base.fields[0];
  for (j = 0; j < n - 1; j++) {
    if (map_key_eq(kf, arr[j], e)) {
      if (!st->g.a || st->g.tree)
        weft_message_free(arr[j]);
      arr[j] = e;
      *np = n - 1;
      return;
    }
  }
}

#define MAP_LINEAR_MAX 16

static uint64_t map_key_hash(const ProtobufCFieldDescriptor *kf,
                             const void *entry) {
  const void *x = WEFT__CMEMBER(entry, kf->offset);
  uint64_t h = 1469598103934665603ull;
  if (kf->type == PROTOBUF_C_TYPE_STRING) {
    const unsigned char *s = *(const unsigned char *const *)x;
    for (; s && *s; s++)
      h = (h ^ *s) * 1099511628211ull;
    return h;
  }
  if (kf->type == PROTOBUF_C_TYPE_BOOL)
    return *(const protobuf_c_boolean *)x ? 1 : 0;
  if (weft__elem_size(kf->type) == 8) {
    uint64_t v;
    memcpy(&v, x, 8);
    h = v;
  } else {
    uint32_t v;
    memcpy(&v, x, 4);
    h = v;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h;
}

/* Big maps: duplicate keys are resolved once the message is complete, with
 * a hash table, so a map of n entries costs O(n) and not O(n^2). Same result
 * as map_dedupe: the last value, at the position of the first occurrence. */
static int map_dedupe_all(dec *st, size_t *np, void **arr, const uint8_t *at) {
  size_t n = *np, cap = 16, i, w = 0, *slots;
  const ProtobufCFieldDescriptor *kf =
      &weft_msg_desc_of_msg(arr[0])->base.fields[0];
  while (cap < 2 * n)
    cap *= 2;
  slots = malloc(cap * sizeof *slots);
  if (!slots)
    return nomem(st, at);
  memset(slots, 0xff, cap * sizeof *slots);
  for (i = 0; i < n; i++) {
    void *e = arr[i];
    size_t h = (size_t)map_key_hash(kf, e) & (cap - 1);
    for (;;) {
      size_t j = slots[h];
      if (j == SIZE_MAX) {
        arr[w] = e;
        slots[h] = w++;
        break;
      }
      if (map_key_eq(kf, arr[j], e)) {
        if (!st->g.a || st->g.tree)
          weft_message_free(arr[j]);
        arr[j] = e;
        break;
      }
      h = (h + 1) & (cap - 1);
    }
  }
  *np = w;
  free(slots);
  return 0;
}

/* Packed repeated scalars: one length-delimited run of values. */
static int rd_packed(dec *st, const weft_msg_desc *d, void *msg,
                     const ProtobufCFieldDescriptor *f, const uint8_t **pp,
                     const uint8_t *end, const uint8_t *tag_start) {
  size_t len, count, es = weft__elem_size(f->type), *np;
  const uint8_t *p, *pend;
  void **arrp = (void **)WEFT__MEMBER(msg, f->offset);
  char *arr;
  int wt = weft__wire_type(f->type), rv, closed = enum_closed(f);
  if ((rv = rd_len(st, pp, end, &len)) != 0)
    return rv;
  p = *pp;
  pend = p + len;
  np = (size_t *)WEFT__MEMBER(msg, f->quantifier_offset);
  if (wt == WEFT__WT_I32 || wt == WEFT__WT_I64) {
    size_t w = wt == WEFT__WT_I32 ? 4 : 8;
    if (len % w)
      return fail(st, WEFT_ERR_MALFORMED,
                  "packed length not a multiple of "
                  "the element size",
                  p);
    count = len / w;
    if (!count) {
      *pp = pend;
      return 0;
    }
    if (!(arr = reserve(st, arrp, *np, count, es, p)))
      return WEFT_ERR_NOMEM;
    memcpy(arr + *np * es, p, len);
    *np += count;
    *pp = pend;
    return 0;
  }
  /* varints: one element per byte without the continuation bit */
  count = 0;
  {
    const uint8_t *q;
    for (q = p; q < pend; q++)
      count += *q < 0x80;
  }
  if (len && pend[-1] >= 0x80)
    return fail(st, WEFT_ERR_TRUNCATED, "truncated varint in packed field",
                pend);
  if (!count) {
    *pp = pend;
    return 0;
  }
  if (!(arr = reserve(st, arrp, *np, count, es, p)))
    return WEFT_ERR_NOMEM;
  while (p < pend) {
    const uint8_t *vstart = p;
    uint64_t tmp = 0;
    if ((rv = rd_scalar(st, f->type, &p, pend, &tmp)) != 0)
      return rv;
    if (closed && !enum_known(f, (int32_t)tmp)) {
      if (!st->g.discard_unknown &&
          (rv = add_unknown(st, msg, f->id, WEFT__WT_VARINT, vstart, p)) != 0)
        return rv;
      continue;
    }
    memcpy(arr + *np * es, &tmp, es);
    (*np)++;
  }
  (void)d;
  (void)tag_start;
  *pp = pend;
  return 0;
}

/* Required fields of a proto2 message: seen on the wire in this frame, or
 * (strings and messages) set by an earlier occurrence. Fields past index 63
 * are not tracked. */
static int check_required(dec *st, const weft_msg_desc *d, const void *msg,
                          uint64_t seen, const uint8_t *at) {
  unsigned i;
  for (i = 0; i < d->base.n_fields && i < 64; i++) {
    const ProtobufCFieldDescriptor *f = &d->base.fields[i];
    const void *ptr;
    if (f->label != PROTOBUF_C_LABEL_REQUIRED || ((seen >> i) & 1))
      continue;
    if (f->type == PROTOBUF_C_TYPE_STRING ||
        f->type == PROTOBUF_C_TYPE_MESSAGE) {
      ptr = *(const void *const *)WEFT__CMEMBER(msg, f->offset);
      if (ptr && ptr != f->default_value)
        continue;
    }
    return unwind(
        st, fail(st, WEFT_ERR_MISSING_REQUIRED, "required field missing", at),
        f->name, -1);
  }
  return 0;
}

/* Copies n bytes, adds a NUL, and returns the OR of the bytes' words, so
 * the caller sees at once whether any has its high bit set. Whole words,
 * then one last word (or half word) overlapping the one before, instead of
 * a byte loop for the tail: string lengths vary, and a loop whose trip
 * count varies is a branch the CPU mispredicts. */
WEFT__INLINE uint64_t copy_or(char *dst, const uint8_t *src, size_t n) {
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

/* A string value into *slot: copied with a NUL (the protobuf-c layout has
 * no length), checked for UTF-8 when the field is proto3. Short ASCII
 * strings are checked while copying, a word at a time. */
WEFT__INLINE int rd_str(dec *st, const weft__fe *e,
                        const ProtobufCFieldDescriptor *f, const uint8_t **pp,
                        const uint8_t *end, char **slot) {
  size_t n;
  char *s, *old = *slot;
  const uint8_t *src;
  int rv;
  if ((rv = rd_len(st, pp, end, &n)) != 0)
    return rv;
  src = *pp;
  if (n == 0) {
    s = (char *)protobuf_c_empty_string;
  } else {
    s = weft__alloc(st->g.a, n + 1);
    if (WEFT__UNLIKELY(!s))
      return nomem(st, src);
    if (n <= 64) {
      uint64_t hi = copy_or(s, src, n);
      if ((hi & 0x8080808080808080ull) && (e->fl & WEFT__FE_UTF8) &&
          !weft_utf8_valid(src, n)) {
        if (!st->g.a) /* a standalone message's value: malloc'd, not kept */
          free(s);
        return fail(st, WEFT_ERR_UTF8, "invalid UTF-8", src);
      }
    } else {
      if ((e->fl & WEFT__FE_UTF8) && !weft_utf8_valid(src, n)) {
        if (!st->g.a)
          free(s);
        return fail(st, WEFT_ERR_UTF8, "invalid UTF-8", src);
      }
      memcpy(s, src, n);
      s[n] = '\0';
    }
  }
  if (WEFT__UNLIKELY(old != NULL && old != protobuf_c_empty_string) &&
      old != (const char *)f->default_value)
    drop(st, old);
  *slot = s;
  *pp = src + n;
  return 0;
}

/* A map<string, string> entry in its usual form, read in line instead of
 * through rd_message and a table walk of the entry type: a one-byte length,
 * then exactly the key (tag 0x0a) and the value (tag 0x12), each with a
 * one-byte length. Anything else (another order, a missing or repeated
 * member, unknown fields, invalid UTF-8, too deep) returns 1 with *pp
 * unchanged: rd_message then decodes the entry, or reports the error, as
 * it always did. Needs an arena (the caller's or the tree's): the entry's
 * strings share one allocation. */
WEFT__INLINE int rd_map_ss(dec *st, const weft__fe *e, const uint8_t **pp,
                           const uint8_t *end, unsigned depth, void **arr,
                           size_t *np) {
  const weft_msg_desc *sd = e->sub;
  const uint8_t *p = *pp, *k, *v;
  size_t n, kl, vl, j, last = *np - 1, koff;
  uint64_t hi;
  char *s, *ks, *vs;
  ProtobufCMessage *m;
  if (end - p < 5 || p[0] >= 0x80 || p[1] != 0x0a || p[2] >= 0x80)
    return 1;
  n = p[0];
  kl = p[2];
  if ((size_t)(end - p - 1) < n || kl + 4 > n || depth + 1 > st->g.max_depth)
    return 1;
  k = p + 3;
  v = k + kl;
  if (v[0] != 0x12 || v[1] >= 0x80)
    return 1;
  vl = v[1];
  if (kl + vl + 4 != n)
    return 1;
  v += 2;
  s = weft__arena_alloc(st->g.a, kl + vl + 2);
  if (WEFT__UNLIKELY(!s))
    return nomem(st, p);
  hi = copy_or(s, k, kl) | copy_or(s + kl + 1, v, vl);
  if (WEFT__UNLIKELY(hi & 0x8080808080808080ull) &&
      ((weft__check_utf8(sd, 0) && !weft_utf8_valid(k, kl)) ||
       (weft__check_utf8(sd, 1) && !weft_utf8_valid(v, vl))))
    return 1;
  ks = kl ? s : (char *)protobuf_c_empty_string;
  vs = vl ? s + kl + 1 : (char *)protobuf_c_empty_string;
  m = weft__msg_alloc(st->g.a, st->g.tree, sd);
  if (WEFT__UNLIKELY(!m))
    return nomem(st, p);
  m->descriptor = &sd->base;
  m->n_unknown_fields = 0;
  m->unknown_fields = NULL;
  koff = sd->base.fields[0].offset;
  *(char **)WEFT__MEMBER(m, koff) = ks;
  *(char **)WEFT__MEMBER(m, sd->base.fields[1].offset) = vs;
  *pp = v + vl;
  /* a key seen before: the new entry replaces the old one in place (as
   * map_dedupe does; the caller resolves big maps when the message ends) */
  if (*np <= MAP_LINEAR_MAX) {
    for (j = 0; j < last; j++) {
      const char *ok = *(const char **)WEFT__MEMBER(arr[j], koff);
      if (!ok) /* an entry the general path read without a key */
        ok = "";
      if (ok[0] == ks[0] && strcmp(ok, ks) == 0) {
        if (st->g.tree)
          weft_message_free(arr[j]);
        arr[j] = m;
        *np = last;
        return 0;
      }
    }
  }
  arr[last] = m;
  return 0;
}

/* The general path for a known field the short paths of decode_fields do
 * not take: repeated scalars (packed or not), bytes and map entries, oneof
 * members, closed enums, groups, and a value on an unexpected wire type.
 * Out of line, so the hot loop stays small. */
static __attribute__((noinline)) int
decode_field(dec *st, const weft_msg_desc *d, void *msg, unsigned idx,
             uint32_t fnum, int wt, const uint8_t **pp, const uint8_t *end,
             const uint8_t *tag_start, unsigned depth, uint64_t *seen,
             int *maps_pending) {
  const ProtobufCFieldDescriptor *f;
  const ProtobufCFieldDescriptor *fields = d->base.fields;
  const uint8_t *p = *pp;
  void *m;
  int rv;
  f = &fields[idx];
  if (idx < 64)
    *seen |= 1ull << idx;
  m = WEFT__MEMBER(msg, f->offset);

  if (f->label == PROTOBUF_C_LABEL_REPEATED) {
    size_t *np = (size_t *)WEFT__MEMBER(msg, f->quantifier_offset);
    size_t es = weft__elem_size(f->type);
    size_t n = *np;
    char *arr;
    int group = weft__is_group(d, idx);
    int want = group ? WEFT__WT_SGROUP : weft__wire_type(f->type);
    if (wt == WEFT__WT_LEN && weft__is_scalar(f->type)) {
      if ((rv = rd_packed(st, d, msg, f, &p, end, tag_start)) != 0)
        return unwind(st, rv, f->name, (long)*np);
      goto done;
    }
    if (WEFT__UNLIKELY(wt != want))
      return unwind(st,
                    fail(st, WEFT_ERR_WIRE_TYPE, "wrong wire type", tag_start),
                    f->name, (long)n);
    if (weft__is_scalar(f->type)) {
      const uint8_t *vstart = p;
      uint64_t tmp = 0;
      if ((rv = rd_scalar(st, f->type, &p, end, &tmp)) != 0)
        return unwind(st, rv, f->name, (long)n);
      if (f->type == PROTOBUF_C_TYPE_ENUM && enum_closed(f) &&
          !enum_known(f, (int32_t)tmp)) {
        if (!st->g.discard_unknown &&
            (rv = add_unknown(st, msg, fnum, wt, vstart, p)) != 0)
          return rv;
        goto done;
      }
      if (!(arr = reserve(st, (void **)m, n, 1, es, tag_start)))
        return unwind(st, WEFT_ERR_NOMEM, f->name, (long)n);
      memcpy(arr + n * es, &tmp, es);
      *np = n + 1;
      goto done;
    }
    if (!(arr = reserve(st, (void **)m, n, 1, es, tag_start)))
      return unwind(st, WEFT_ERR_NOMEM, f->name, (long)n);
    memset(arr + n * es, 0, es);
    *np = n + 1; /* counted first so the tree stays freeable */
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING:
      rv = rd_string(st, d, idx, &p, end, (char **)(void *)(arr + n * es));
      break;
    case PROTOBUF_C_TYPE_BYTES:
      rv = rd_bytes(st, f, &p, end,
                    (ProtobufCBinaryData *)(void *)(arr + n * es));
      break;
    default:
      rv = rd_message(st, f, group, &p, end, depth,
                      (void **)(void *)(arr + n * es));
      if (rv == 0 && weft_msg_desc_of(f->descriptor)->is_map_entry) {
        if (*np <= MAP_LINEAR_MAX)
          map_dedupe(st, np, (void **)(void *)arr);
        else
          *maps_pending = 1;
      }
      break;
    }
    if (rv)
      return unwind(st, rv, f->name, (long)n);
    goto done;
  }

  /* singular field */
  {
    int group = weft__is_group(d, idx);
    int want = group ? WEFT__WT_SGROUP : weft__wire_type(f->type);
    int oneof = (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0;
    if (WEFT__UNLIKELY(wt != want))
      return unwind(st,
                    fail(st, WEFT_ERR_WIRE_TYPE, "wrong wire type", tag_start),
                    f->name, -1);
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING:
      if (oneof)
        oneof_switch(st, d, f, msg);
      rv = rd_string(st, d, idx, &p, end, (char **)m);
      break;
    case PROTOBUF_C_TYPE_BYTES:
      if (oneof)
        oneof_switch(st, d, f, msg);
      rv = rd_bytes(st, f, &p, end, (ProtobufCBinaryData *)m);
      if (rv == 0 && f->label == PROTOBUF_C_LABEL_OPTIONAL && !oneof)
        *(protobuf_c_boolean *)WEFT__MEMBER(msg, f->quantifier_offset) = 1;
      break;
    case PROTOBUF_C_TYPE_MESSAGE:
      if (oneof)
        oneof_switch(st, d, f, msg);
      rv = rd_message(st, f, group, &p, end, depth, (void **)m);
      break;
    default: {
      const uint8_t *vstart = p;
      uint64_t tmp = 0;
      if ((rv = rd_scalar(st, f->type, &p, end, &tmp)) != 0)
        break;
      if (f->type == PROTOBUF_C_TYPE_ENUM && enum_closed(f) &&
          !enum_known(f, (int32_t)tmp)) {
        if (!st->g.discard_unknown &&
            (rv = add_unknown(st, msg, fnum, wt, vstart, p)) != 0)
          return rv;
        /* not seen: the field keeps its previous value */
        if (idx < 64)
          *seen &= ~(1ull << idx);
        goto done;
      }
      if (oneof)
        oneof_switch(st, d, f, msg);
      memcpy(m, &tmp, weft__elem_size(f->type));
      if (f->label == PROTOBUF_C_LABEL_OPTIONAL && !oneof)
        *(protobuf_c_boolean *)WEFT__MEMBER(msg, f->quantifier_offset) = 1;
      break;
    }
    }
    if (rv)
      return unwind(st, rv, f->name, -1);
  }
done:
  *pp = p;
  return 0;
}

/* Maps of more than MAP_LINEAR_MAX entries: duplicate keys resolved once
 * the message is complete. */
static int maps_finish(dec *st, const weft_msg_desc *d, void *msg,
                       const uint8_t *p) {
  const ProtobufCFieldDescriptor *fields = d->base.fields;
  unsigned i;
  int rv;
  for (i = 0; i < d->base.n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &fields[i];
    size_t *np;
    if (f->label != PROTOBUF_C_LABEL_REPEATED ||
        f->type != PROTOBUF_C_TYPE_MESSAGE ||
        !weft_msg_desc_of(f->descriptor)->is_map_entry)
      continue;
    np = (size_t *)WEFT__MEMBER(msg, f->quantifier_offset);
    if (*np > MAP_LINEAR_MAX &&
        (rv = map_dedupe_all(st, np, *(void ***)WEFT__MEMBER(msg, f->offset),
                             p)) != 0)
      return unwind(st, rv, f->name, -1);
  }
  return 0;
}

static int decode_fields(dec *st, const weft_msg_desc *d, const weft__dtab *T,
                         void *msg, const uint8_t **pp, const uint8_t *end,
                         unsigned depth, uint32_t gnum, int merging,
                         int maps_pending) {
  const ProtobufCFieldDescriptor *fields = d->base.fields;
  const unsigned nf = d->base.n_fields;
  const weft__fe *const fe = T->fe;
  const uint8_t *p = *pp;
  unsigned next = 0; /* the entry the next tag probably belongs to */
  uint64_t seen = 0;
  int rv;

  while (p < end) {
    const uint8_t *tag_start = p;
    const weft__fe *e;
    uint64_t tag;
    uint32_t fnum;
    unsigned idx;
    int wt;
    void *m;

    if (WEFT__LIKELY(p[0] < 0x80)) {
      tag = p[0];
      p++;
    } else if (WEFT__LIKELY(end - p >= 2 && p[1] < 0x80)) {
      tag = (uint64_t)(p[0] & 0x7f) | ((uint64_t)p[1] << 7);
      p += 2;
    } else if ((rv = rd_varint(st, &p, end, &tag)) != 0) {
      return rv;
    }
    if (WEFT__UNLIKELY(tag > UINT32_MAX || p - tag_start > 5))
      return fail(st, WEFT_ERR_MALFORMED, "tag over 32 bits", tag_start);
    fnum = (uint32_t)(tag >> 3);
    wt = (int)(tag & 7);

    /* Field lookup. Fields usually come in number order, and a repeated
     * field's elements one after the other: try the expected entry first
     * (its tag is known before this one is read), then the direct index,
     * one load for numbers up to 255, then a binary search. */
    if (WEFT__LIKELY(next < nf && fe[next].tag == tag)) {
      idx = next;
    } else if (WEFT__LIKELY(fnum <= T->max_dense)) {
      idx = (unsigned)T->dense[fnum] - 1u; /* unknown: UINT_MAX */
    } else {
      unsigned lo = 0, hi = nf;
      idx = UINT32_MAX;
      while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        if (fields[mid].id == fnum) {
          idx = mid;
          break;
        }
        if (fields[mid].id < fnum)
          lo = mid + 1;
        else
          hi = mid;
      }
    }

    if (WEFT__LIKELY(idx < nf)) {
      e = &fe[idx];
      next = (e->fl & WEFT__FE_REPEATED) ? idx : idx + 1;
      m = WEFT__MEMBER(msg, e->offset);
      /* The short path: a singular field, not in a oneof, on its own wire
       * type. One switch on a precomputed code. */
      if (WEFT__LIKELY(wt == e->wt && !(e->fl & WEFT__FE_SLOW))) {
        uint64_t v;
        if (T->track_required && idx < 64)
          seen |= 1ull << idx;
        switch (e->op) {
        case WEFT__OP_STRING:
          rv = rd_str(st, e, &fields[idx], &p, end, (char **)m);
          if (WEFT__UNLIKELY(rv))
            return unwind(st, rv, fields[idx].name, -1);
          continue;
        case WEFT__OP_MESSAGE:
          rv = rd_message(st, &fields[idx], 0, &p, end, depth, (void **)m);
          if (WEFT__UNLIKELY(rv))
            return unwind(st, rv, fields[idx].name, -1);
          continue;
        case WEFT__OP_BYTES:
          rv = rd_bytes(st, &fields[idx], &p, end, (ProtobufCBinaryData *)m);
          if (WEFT__UNLIKELY(rv))
            return unwind(st, rv, fields[idx].name, -1);
          break;
        case WEFT__OP_F32:
          if (WEFT__UNLIKELY(end - p < 4))
            return unwind(st,
                          fail(st, WEFT_ERR_TRUNCATED, "truncated fixed32", p),
                          fields[idx].name, -1);
          memcpy(m, p, 4);
          p += 4;
          break;
        case WEFT__OP_F64:
          if (WEFT__UNLIKELY(end - p < 8))
            return unwind(st,
                          fail(st, WEFT_ERR_TRUNCATED, "truncated fixed64", p),
                          fields[idx].name, -1);
          memcpy(m, p, 8);
          p += 8;
          break;
        default:
          if (WEFT__LIKELY(p < end && p[0] < 0x80)) {
            v = p[0];
            p++;
          } else if ((rv = rd_varint(st, &p, end, &v)) != 0) {
            return unwind(st, rv, fields[idx].name, -1);
          }
          switch (e->op) {
          case WEFT__OP_V32: {
            uint32_t u = (uint32_t)v;
            memcpy(m, &u, 4);
            break;
          }
          case WEFT__OP_V64:
            memcpy(m, &v, 8);
            break;
          case WEFT__OP_Z32: {
            int32_t z = weft__unzz32((uint32_t)v);
            memcpy(m, &z, 4);
            break;
          }
          case WEFT__OP_Z64: {
            int64_t z = weft__unzz64(v);
            memcpy(m, &z, 8);
            break;
          }
          default: { /* bool */
            protobuf_c_boolean b = v != 0;
            memcpy(m, &b, sizeof b);
            break;
          }
          }
          break;
        }
        if (e->fl & WEFT__FE_HAS)
          *(protobuf_c_boolean *)WEFT__MEMBER(msg, e->qoff) = 1;
        continue;
      }
      /* repeated sub-messages (map entries too) and strings: append */
      if (wt == WEFT__WT_LEN &&
          (e->fl & (WEFT__FE_REPEATED | WEFT__FE_GROUP)) == WEFT__FE_REPEATED &&
          (e->op == WEFT__OP_MESSAGE || e->op == WEFT__OP_STRING)) {
        size_t *np = (size_t *)WEFT__MEMBER(msg, e->qoff), n = *np;
        void **arr = *(void ***)m;
        if (WEFT__UNLIKELY(!arr || n == weft__cap_for(n))) {
          if (!(arr = reserve(st, (void **)m, n, 1, sizeof(void *), tag_start)))
            return unwind(st, WEFT_ERR_NOMEM, fields[idx].name, (long)n);
        }
        arr[n] = NULL;
        *np = n + 1; /* counted first so the tree stays freeable */
        if (e->op == WEFT__OP_MESSAGE) {
          if ((e->fl & WEFT__FE_MAPSS) && st->g.a &&
              (rv = rd_map_ss(st, e, &p, end, depth, arr, np)) <= 0) {
            if (WEFT__UNLIKELY(rv))
              return unwind(st, rv, fields[idx].name, (long)n);
            if (*np > MAP_LINEAR_MAX)
              maps_pending = 1;
            continue;
          }
          rv = rd_message(st, &fields[idx], 0, &p, end, depth, &arr[n]);
          if (rv == 0 && (e->fl & WEFT__FE_MAP)) {
            if (*np <= MAP_LINEAR_MAX)
              map_dedupe(st, np, arr);
            else
              maps_pending = 1;
          }
        } else
          rv = rd_str(st, e, &fields[idx], &p, end, (char **)&arr[n]);
        if (WEFT__UNLIKELY(rv))
          return unwind(st, rv, fields[idx].name, (long)n);
        continue;
      }
    }

    /* everything else: checks, unknown fields, the general path */
    if (WEFT__UNLIKELY(fnum == 0))
      return fail(st, WEFT_ERR_MALFORMED, "field number 0", tag_start);
    if (WEFT__UNLIKELY(wt > WEFT__WT_I32))
      return fail(st, WEFT_ERR_MALFORMED, "invalid wire type", tag_start);
    if (WEFT__UNLIKELY(wt == WEFT__WT_EGROUP)) {
      if (gnum && fnum == gnum) {
        gnum = 0;
        break;
      }
      return fail(st, WEFT_ERR_MALFORMED, "end-group tag mismatch", tag_start);
    }
    if (idx >= nf) { /* unknown field */
      const uint8_t *data = p;
      if ((rv = skip_field(st, &p, end, wt, fnum, depth)) != 0)
        return rv;
      if (!st->g.discard_unknown &&
          (rv = add_unknown(st, msg, fnum, wt, data, p)) != 0)
        return rv;
      continue;
    }
    if ((rv = decode_field(st, d, msg, idx, fnum, wt, &p, end, tag_start, depth,
                           &seen, &maps_pending)) != 0)
      return rv;
  }

  if (gnum)
    return fail(st, WEFT_ERR_TRUNCATED, "unterminated group", p);
  *pp = p;

  if (maps_pending && (rv = maps_finish(st, d, msg, p)) != 0)
    return rv;

  if (d->is_map_entry && nf >= 2 && fields[1].type == PROTOBUF_C_TYPE_MESSAGE &&
      !*(void **)WEFT__MEMBER(msg, fields[1].offset)) {
    /* a map value message that is absent reads as its default */
    const weft_msg_desc *vd = weft_msg_desc_of(fields[1].descriptor);
    void *v = weft__message_new_in(st->g.a, st->g.tree, vd);
    if (!v)
      return nomem(st, p);
    *(void **)WEFT__MEMBER(msg, fields[1].offset) = v;
    /* ...which must still have its required fields (as Google checks) */
    if (vd->syntax != 3 && (rv = check_required(st, vd, v, 0, p)) != 0)
      return unwind(st, rv, fields[1].name, -1);
  }
  if (d->syntax != 3 && !merging &&
      (rv = check_required(st, d, msg, seen, p)) != 0)
    return rv;
  return 0;
}

static inline int decode_msg(dec *st, const weft_msg_desc *d, void *msg,
                             const uint8_t **pp, const uint8_t *end,
                             unsigned depth, uint32_t gnum, int merging) {
  weft__dtab *tmp;
  const weft__dtab *T = weft__dtab_get(d, &tmp);
  int rv;
  if (WEFT__UNLIKELY(!T))
    return nomem(st, *pp);
  rv = decode_body(st, d, T, msg, pp, end, depth, gnum, merging);
  if (WEFT__UNLIKELY(tmp != NULL))
    free(tmp);
  return rv;
}

/* ---- what generated decoders call (weft/gen_decode.h) ---- */

static int gd_rest(weft__gd *g, const weft_msg_desc *d, void *msg,
                   const uint8_t **pp, const uint8_t *end, unsigned depth,
                   int maps_pending) {
  dec *st = (dec *)(void *)g;
  weft__dtab *tmp;
  const weft__dtab *T = weft__dtab_get(d, &tmp);
  int rv;
  if (WEFT__UNLIKELY(!T))
    return nomem(st, *pp);
  rv = decode_fields(st, d, T, msg, pp, end, depth, 0, 0, maps_pending);
  if (WEFT__UNLIKELY(tmp != NULL))
    free(tmp);
  return rv;
}

static int gd_finish(weft__gd *g, const weft_msg_desc *d, void *msg,
                     const uint8_t *p) {
  return maps_finish((dec *)(void *)g, d, msg, p);
}

static int gd_sub(weft__gd *g, const weft_msg_desc *d, void *msg,
                  const uint8_t **pp, const uint8_t *end, unsigned depth,
                  int merging) {
  return decode_msg((dec *)(void *)g, d, msg, pp, end, depth, 0, merging);
}

static int gd_packed(weft__gd *g, const weft_msg_desc *d, void *msg,
                     unsigned idx, const uint8_t **pp, const uint8_t *end) {
  dec *st = (dec *)(void *)g;
  const ProtobufCFieldDescriptor *f = &d->base.fields[idx];
  const uint8_t *p = *pp;
  int rv = rd_packed(st, d, msg, f, &p, end, p);
  if (rv)
    return unwind(
        st, rv, f->name,
        (long)*(const size_t *)WEFT__MEMBER(msg, f->quantifier_offset));
  *pp = p;
  return 0;
}

static void *gd_grow(weft__gd *g, void **arrp, size_t n, size_t es) {
  /* on failure the table loop, which takes the field over, reports it */
  return reserve((dec *)(void *)g, arrp, n, 1, es, g->base);
}

static void *gd_alloc(weft__gd *g, size_t n) {
  return weft_arena_alloc(g->a, n);
}

static int gd_nomem(weft__gd *g, const uint8_t *at) {
  return nomem((dec *)(void *)g, at);
}

static int gd_unwind(weft__gd *g, int rv, const char *name, long idx) {
  return unwind((dec *)(void *)g, rv, name, idx);
}

static int gd_utf8(const void *s, size_t n) {
  return weft_utf8_valid(s, n);
}

static const weft__gd_ops gd_ops = {gd_rest,   gd_finish, gd_sub,
                                    gd_packed, gd_grow,   gd_alloc,
                                    gd_nomem,  gd_unwind, gd_utf8};

/* generated code bumps the arena and writes tree headers itself */
_Static_assert(offsetof(dec, g) == 0, "weft__gd first");
_Static_assert(
    offsetof(struct weft_arena, ptr) == offsetof(weft__gd_arena, ptr) &&
        offsetof(struct weft_arena, end) == offsetof(weft__gd_arena, end) &&
        offsetof(struct weft_arena, used) == offsetof(weft__gd_arena, used),
    "weft__gd_arena mirrors struct weft_arena");
_Static_assert(sizeof(weft__mhdr) == 16 && offsetof(weft__mhdr, magic) == 8 &&
                   WEFT__MHDR_MAGIC == WEFT__GD_MHDR_MAGIC,
               "weft__gd_msg writes weft__mhdr");

/* ---- entry points ---- */

static void format_error(const dec *st, const weft_msg_desc *d, int rv,
                         weft_error *err) {
  char path[WEFT_ERROR_MSG_MAX];
  size_t n = 0;
  unsigned k, first;
  int w;
  if (!err)
    return;
  w = snprintf(path, sizeof path, "%s", d->base.name ? d->base.name : "?");
  n = w > 0 ? (size_t)w : 0;
  /* the ring keeps the last SEG_MAX pushes: the outermost segments */
  first = st->nseg > SEG_MAX ? st->nseg - SEG_MAX : 0;
  for (k = st->nseg; k-- > first && n < sizeof path;) {
    unsigned r = k % SEG_MAX;
    if (st->segidx[r] >= 0)
      w = snprintf(path + n, sizeof path - n, ".%s[%ld]", st->segname[r],
                   st->segidx[r]);
    else
      w = snprintf(path + n, sizeof path - n, ".%s", st->segname[r]);
    n += w > 0 ? (size_t)w : 0;
  }
  if (first && n < sizeof path) /* inner segments dropped */
    snprintf(path + n, sizeof path - n, "...");
  weft_error_set(err, rv, "%s: %s (at byte %zu)", path,
                 st->what ? st->what : weft_strerror(rv), st->at);
}

static void dec_init(dec *st, const weft_decode_opts *opts, const uint8_t *data,
                     size_t len) {
  /* not memset: the error ring (segname, segidx) is written before it is
   * read, and clearing it costs more than decoding a small message */
  st->g.ops = &gd_ops;
  st->g.a = NULL;
  st->g.tree = NULL;
  st->g.discard_unknown = 0;
  st->g.alias = 0;
  st->what = NULL;
  st->at = 0;
  st->nseg = 0;
  st->g.base = data;
  st->g.lim = data + len;
  st->g.max_depth = WEFT_DEFAULT_MAX_DEPTH;
  if (opts) {
    st->g.a = opts->arena;
    if (opts->max_depth)
      st->g.max_depth = opts->max_depth;
    st->g.discard_unknown = opts->discard_unknown;
    st->g.alias = opts->alias;
  }
}

/* First block of a decoded tree: the structs and copies of a message take
 * about twice its wire size (a struct is wider than its encoding; strings
 * gain a NUL and alignment). A short guess costs one more block. */
static size_t tree_guess(const weft_msg_desc *d, size_t len) {
  size_t g = sizeof(weft__mhdr) + d->base.sizeof_message + 64;
  /* past 1 MiB, add less: big inputs are mostly big strings and bytes,
   * which get blocks of their own */
  size_t extra = len < (1u << 20) ? len : (1u << 20);
  return g + len + extra; /* len is an object in memory: no overflow */
}

static size_t max_size(const weft_decode_opts *opts) {
  return opts && opts->max_message_size ? opts->max_message_size
                                        : WEFT_DEFAULT_MAX_MESSAGE_SIZE;
}

/* The root of a new tree, carved from its first block without the arena's
 * checks: tree_guess leaves room for it there. */
WEFT__INLINE void *tree_root(weft__tree *t, const weft_msg_desc *d) {
  weft__mhdr *h = (weft__mhdr *)(void *)t->a.ptr;
  size_t n = WEFT__ALIGN(sizeof *h + d->base.sizeof_message);
  t->a.ptr += n;
  t->a.used += n;
  h->tree = t;
  h->magic = WEFT__MHDR_MAGIC;
  t->root = h + 1;
  return h + 1;
}

static const uint8_t empty_input[1];

int weft_decode(const weft_msg_desc *d, const uint8_t *data, size_t len,
                const weft_decode_opts *opts, void **out, weft_error *err) {
  dec st;
  const weft__dtab *T;
  weft__dtab *tmp;
  weft__tree *tree = NULL;
  void *msg;
  const uint8_t *p = data;
  int rv;
  if (!out)
    return weft_error_set(err, WEFT_ERR_INVAL, "weft_decode: out is NULL");
  *out = NULL;
  if (!d || (!data && len))
    return weft_error_set(err, WEFT_ERR_INVAL, "weft_decode: bad arguments");
  if (!data) /* an empty message may come as (NULL, 0): no NULL arithmetic */
    p = data = empty_input;
  if (len > max_size(opts))
    return weft_error_set(err, WEFT_ERR_TOO_BIG,
                          "%s: message of %zu bytes over the limit of %zu",
                          d->base.name, len, max_size(opts));
  dec_init(&st, opts, data, len);
  if (!st.g.a) { /* malloc path: the whole tree in one (growable) block */
    tree = weft__tree_new(tree_guess(d, len));
    if (!tree)
      return weft_error_set(err, WEFT_ERR_NOMEM, "%s: out of memory",
                            d->base.name);
    st.g.a = &tree->a;
    st.g.tree = tree;
    if (st.g.alias) {
      tree->alias_lo = data;
      tree->alias_hi = data + len;
    }
  }
  T = weft__dtab_get(d, &tmp);
  msg = !T     ? NULL
        : tree ? tree_root(tree, d)
               : weft__msg_alloc(st.g.a, NULL, d);
  if (!msg) {
    free(tmp);
    weft__tree_free(tree);
    return weft_error_set(err, WEFT_ERR_NOMEM, "%s: out of memory",
                          d->base.name);
  }
  init_from(T, d, msg);
  rv = decode_body(&st, d, T, msg, &p, data + len, 0, 0, 0);
  if (WEFT__UNLIKELY(tmp != NULL))
    free(tmp);
  if (rv) {
    format_error(&st, d, rv, err);
    weft__tree_free(tree); /* nothing in it was stored by a user */
    return rv;
  }
  *out = msg;
  return 0;
}

/* Gives an array the capacity the decoder's growth rule implies. In a tree,
 * an array a user stored (a malloc block) moves into the tree's blocks. */
static int regrow(dec *st, void **arrp, size_t old_n, size_t new_n) {
  void *old = *arrp;
  void *q = weft__realloc(st->g.a, old, old_n, new_n);
  if (!q)
    return WEFT_ERR_NOMEM;
  if (st->g.tree && old && !weft__tree_holds(st->g.tree, old))
    free(old);
  *arrp = q;
  return 0;
}

/* weft_decode_merge may append to arrays weft did not allocate: give every
 * array in the tree the capacity the decoder's growth rule implies. */
static int normalize(dec *st, void *msg) {
  const weft_msg_desc *d = weft_msg_desc_of_msg(msg);
  ProtobufCMessage *b = msg;
  unsigned i;
  if (b->n_unknown_fields || b->unknown_fields) {
    size_t n = b->n_unknown_fields, es = sizeof *b->unknown_fields;
    if (regrow(st, (void **)&b->unknown_fields, n * es, weft__cap_for(n) * es))
      return WEFT_ERR_NOMEM;
  }
  for (i = 0; i < d->base.n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->base.fields[i];
    void **arrp = (void **)WEFT__MEMBER(msg, f->offset);
    if (f->type == PROTOBUF_C_TYPE_MESSAGE && weft__field_present(d, i, msg)) {
      if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        size_t n = *(size_t *)WEFT__MEMBER(msg, f->quantifier_offset), j;
        for (j = 0; j < n; j++)
          if (((void **)*arrp)[j] && normalize(st, ((void **)*arrp)[j]))
            return WEFT_ERR_NOMEM;
      } else if (*arrp && normalize(st, *arrp)) {
        return WEFT_ERR_NOMEM;
      }
    }
    if (f->label == PROTOBUF_C_LABEL_REPEATED && *arrp) {
      size_t n = *(size_t *)WEFT__MEMBER(msg, f->quantifier_offset);
      size_t es = weft__elem_size(f->type);
      if (regrow(st, arrp, n * es, weft__cap_for(n) * es))
        return WEFT_ERR_NOMEM;
    }
  }
  return 0;
}

int weft_decode_merge(void *msg, const uint8_t *data, size_t len,
                      const weft_decode_opts *opts, weft_error *err) {
  const weft_msg_desc *d;
  dec st;
  const uint8_t *p = data;
  int rv;
  if (!msg || (!data && len))
    return weft_error_set(err, WEFT_ERR_INVAL,
                          "weft_decode_merge: bad arguments");
  if (!data)
    p = data = empty_input;
  d = weft_msg_desc_of_msg(msg);
  if (len > max_size(opts))
    return weft_error_set(err, WEFT_ERR_TOO_BIG,
                          "%s: message of %zu bytes over the limit of %zu",
                          d->base.name, len, max_size(opts));
  dec_init(&st, opts, data, len);
  if (!st.g.a && weft__hdr(msg)->tree) {
    /* into a decoded tree: new values go to its blocks */
    st.g.tree = weft__hdr(msg)->tree;
    st.g.a = &st.g.tree->a;
  }
  /* the aliased input of a tree is recorded once, at weft_decode */
  if (!opts || !opts->arena)
    st.g.alias = 0;
  if (normalize(&st, msg))
    return weft_error_set(err, WEFT_ERR_NOMEM, "%s: out of memory",
                          d->base.name);
  rv = decode_msg(&st, d, msg, &p, data + len, 0, 0, 1);
  if (rv)
    format_error(&st, d, rv, err);
  return rv;
}
