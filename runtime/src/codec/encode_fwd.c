/* The front-to-back writer: weft_encode for flat types (dectab.h's
 * enc_fwd: no sub-messages, no field through the generic path; map<string,
 * string> fields are written in line, so they count as flat).
 *
 * Why a second writer: the backward writer (encode.c) ends with its output
 * at the end of the caller's buffer and must move it to the front. For a
 * small message that move is a large share of the work (its loads read
 * bytes that narrower stores wrote a few cycles earlier, which the CPU
 * cannot forward), and a size pass first costs as much as the move. A
 * flat message needs neither: only a sub-message's length is unknown
 * before it is written. So flat types are written in place, in field
 * order, with the same entries, presence rules and bytes as the backward
 * writer. */
#include "encode.h"

/* Unchecked writes while this much room is left: the tag's 8-byte store,
 * then a varint of up to 10 bytes. */
#define SLACK 24

/* A failed write: no room. Carried in the pointer so the hot path has no
 * separate flag. */
#define NO_ROOM NULL

WEFT__INLINE uint8_t *f_varint(uint8_t *p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  *p++ = (uint8_t)v;
  return p;
}

/* The tag's bytes, first byte lowest (the entry keeps them in the high end
 * of the word for the backward writer). */
WEFT__INLINE uint64_t f_tagword(const weft__ee *x) {
  return x->tag >> (64 - 8 * (unsigned)x->tagn);
}

/* f_head near the end of the buffer: every byte checked. */
static __attribute__((noinline)) uint8_t *
f_head_exact(uint8_t *p, const uint8_t *end, const weft__ee *x, int has_v,
             uint64_t v, size_t n) {
  size_t need = x->tagn + (has_v ? weft__varint_size(v) : 0);
  uint64_t t = f_tagword(x);
  unsigned k;
  if ((size_t)(end - p) < need || (size_t)(end - p) - need < n)
    return NO_ROOM;
  for (k = 0; k < x->tagn; k++)
    *p++ = (uint8_t)(t >> (8 * k));
  return has_v ? f_varint(p, v) : p;
}

/* The tag, then v as a varint when has_v, with room for n more bytes
 * after them: the new write position, or NO_ROOM. */
WEFT__INLINE uint8_t *f_head(uint8_t *p, const uint8_t *end, const weft__ee *x,
                             int has_v, uint64_t v, size_t n) {
  size_t room = (size_t)(end - p);
  if (WEFT__LIKELY(room >= SLACK && room - SLACK >= n)) {
    uint64_t t = f_tagword(x);
    memcpy(p, &t, 8); /* bytes past the tag are overwritten next */
    p += x->tagn;
    return has_v ? f_varint(p, v) : p;
  }
  return f_head_exact(p, end, x, has_v, v, n);
}

WEFT__INLINE uint8_t *f_copy(uint8_t *p, const void *src, size_t n) {
  if (n <= 16)
    weft__copy_small(p, src, n);
  else
    memcpy(p, src, n);
  return p + n;
}

/* A length-delimited value: tag, length, bytes. */
WEFT__INLINE uint8_t *f_lenval(uint8_t *p, const uint8_t *end,
                               const weft__ee *x, const void *src, size_t n) {
  p = f_head(p, end, x, 1, n, n);
  return p ? f_copy(p, src, n) : NO_ROOM;
}

WEFT__INLINE uint8_t *f_str(uint8_t *p, const uint8_t *end, const weft__ee *x,
                            const char *s) {
  return f_lenval(p, end, x, s, s ? strlen(s) : 0);
}

static uint8_t *f_msg(const weft__dtab *T, const void *msg, uint8_t *p,
                      const uint8_t *end);

/* A map entry that the in-line path cannot write (NULL, or with unknown
 * fields): sized first (its type is flat: one walk), then written in
 * place. */
static __attribute__((noinline)) uint8_t *
f_sub(uint8_t *p, const uint8_t *end, const weft__ee *x, const void *sub) {
  weft__dtab *tmp;
  const weft__dtab *S;
  uint8_t *q = NO_ROOM;
  size_t n = sub ? weft__msg_size(x->sub, sub) : 0;
  p = f_head(p, end, x, 1, n, n);
  if (!p || !n)
    return p;
  S = weft__dtab_get(x->sub, &tmp);
  if (WEFT__LIKELY(S != NULL))
    q = f_msg(S, sub, p, end);
  else if (weft_encode(sub, p, n) == (ssize_t)n) /* no table: out of memory */
    q = p + n;
  if (WEFT__UNLIKELY(tmp != NULL))
    free(tmp);
  /* the walks agree; a message changed under us must not get a wrong
   * length prefix */
  return q == p + n ? q : NO_ROOM;
}

/* A map<string, string> entry: key and value always, in line. */
WEFT__INLINE uint8_t *f_entry_ss(uint8_t *p, const uint8_t *end,
                                 const weft__ee *x, const void *ent) {
  const ProtobufCFieldDescriptor *kv = x->sub->base.fields;
  const char *k, *v;
  size_t kn, vn, n;
  if (!ent || ((const ProtobufCMessage *)ent)->n_unknown_fields)
    return f_sub(p, end, x, ent);
  k = *(const char *const *)((const char *)ent + kv[0].offset);
  v = *(const char *const *)((const char *)ent + kv[1].offset);
  kn = k ? strlen(k) : 0;
  vn = v ? strlen(v) : 0;
  n = weft__ss_entry_len(kn, vn);
  p = f_head(p, end, x, 1, n, n);
  if (!p)
    return NO_ROOM;
  *p++ = (1u << 3) | WEFT__WT_LEN;
  p = f_copy(f_varint(p, kn), k, kn);
  *p++ = (2u << 3) | WEFT__WT_LEN;
  return f_copy(f_varint(p, vn), v, vn);
}

/* Out of line, so the field walk stays small. */
static __attribute__((noinline)) uint8_t *
f_map_ss(uint8_t *p, const uint8_t *end, const weft__ee *x,
         const void *const *arr, size_t n) {
  size_t k;
  for (k = 0; k < n && p; k++)
    p = f_entry_ss(p, end, x, arr[k]);
  return p;
}

static __attribute__((noinline)) uint8_t *
f_unknown(const ProtobufCMessage *b, uint8_t *p, const uint8_t *end) {
  unsigned i;
  for (i = 0; i < b->n_unknown_fields; i++) {
    const ProtobufCMessageUnknownField *u = &b->unknown_fields[i];
    uint64_t t = ((uint64_t)u->tag << 3) | (unsigned)u->wire_type;
    size_t need = weft__varint_size(t);
    if ((size_t)(end - p) < need || (size_t)(end - p) - need < u->len)
      return NO_ROOM;
    p = f_varint(p, t);
    if (u->len)
      memcpy(p, u->data, u->len);
    p += u->len;
  }
  return p;
}

/* Writes msg (of T's type) from p on; the new write position or NO_ROOM.
 * The same walk as encode.c's put_msg, in field order. */
static uint8_t *f_msg(const weft__dtab *T, const void *msg, uint8_t *p,
                      const uint8_t *end) {
  const ProtobufCMessage *b = msg;
  const weft__ee *ee = T->ee;
  unsigned i, nf = T->nf;
  for (i = 0; i < nf && p; i++) {
    const weft__ee *x = &ee[i];
    const char *m = (const char *)msg + x->offset;
    int implicit = x->pres == WEFT__EP_IMPLICIT;
    if (weft__ee_unset(x, msg))
      continue;
    switch (x->op) {
    case WEFT__EOP_I32:
    case WEFT__EOP_U32:
    case WEFT__EOP_Z32: {
      uint32_t u;
      uint64_t v;
      memcpy(&u, m, 4);
      if (!u && implicit)
        continue;
      v = weft__ee_v32(x, u);
      p = f_head(p, end, x, 1, v, 0);
      continue;
    }
    case WEFT__EOP_V64:
    case WEFT__EOP_Z64: {
      uint64_t v;
      memcpy(&v, m, 8);
      if (!v && implicit)
        continue;
      v = weft__ee_v64(x, v);
      p = f_head(p, end, x, 1, v, 0);
      continue;
    }
    case WEFT__EOP_BOOL: {
      protobuf_c_boolean v;
      memcpy(&v, m, sizeof v);
      if (!v && implicit)
        continue;
      p = f_head(p, end, x, 1, v ? 1 : 0, 0);
      continue;
    }
    case WEFT__EOP_F32: {
      uint32_t v; /* presence is bitwise: -0.0 is written */
      memcpy(&v, m, 4);
      if (!v && implicit)
        continue;
      p = f_head(p, end, x, 0, 0, 4);
      if (p) {
        memcpy(p, &v, 4);
        p += 4;
      }
      continue;
    }
    case WEFT__EOP_F64: {
      uint64_t v;
      memcpy(&v, m, 8);
      if (!v && implicit)
        continue;
      p = f_head(p, end, x, 0, 0, 8);
      if (p) {
        memcpy(p, &v, 8);
        p += 8;
      }
      continue;
    }
    case WEFT__EOP_STRING: {
      const char *s = *(const char *const *)m;
      if ((!s || !*s) && implicit)
        continue;
      p = f_str(p, end, x, s);
      continue;
    }
    case WEFT__EOP_BYTES: {
      const ProtobufCBinaryData *bd = (const ProtobufCBinaryData *)m;
      if (!bd->len && implicit)
        continue;
      p = f_lenval(p, end, x, bd->data, bd->len);
      continue;
    }
    case WEFT__EOP_RSTRING: {
      size_t n = *(const size_t *)((const char *)msg + x->qoff), k;
      const char *const *arr = *(const char *const *const *)m;
      for (k = 0; k < n && p; k++)
        p = f_str(p, end, x, arr[k]);
      continue;
    }
    case WEFT__EOP_RBYTES: {
      size_t n = *(const size_t *)((const char *)msg + x->qoff), k;
      const ProtobufCBinaryData *arr = *(const ProtobufCBinaryData *const *)m;
      for (k = 0; k < n && p; k++)
        p = f_lenval(p, end, x, arr[k].data, arr[k].len);
      continue;
    }
    case WEFT__EOP_RMAP_SS:
      p = f_map_ss(p, end, x, *(const void *const *const *)m,
                   *(const size_t *)((const char *)msg + x->qoff));
      continue;
    default: /* sub-messages, the generic path: excluded by enc_fwd */
      return NO_ROOM;
    }
  }
  if (p && WEFT__UNLIKELY(b->n_unknown_fields != 0))
    p = f_unknown(b, p, end);
  return p;
}

ssize_t weft__encode_fwd(const weft__dtab *T, const void *msg, uint8_t *buf,
                         size_t cap) {
  uint8_t *p = f_msg(T, msg, buf, buf + cap);
  return p ? (ssize_t)(p - buf) : WEFT_ERR_TOO_BIG;
}
