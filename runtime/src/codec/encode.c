/* Protobuf binary encoder over weft descriptors, byte-compatible with
 * Google's implementations: known fields in field-number order, proto3
 * repeated scalars packed unless [packed = false] (the descriptor's PACKED
 * flag), negative int32/enum values as 10-byte varints, map entries with
 * both key and value always written, unknown fields re-emitted after the
 * known ones exactly as they were read.
 *
 * The writer runs backwards from the end of the buffer: a sub-message is
 * written before its length prefix, so its size is known without a size
 * pre-pass or a size cache. weft_encoded_size() is a separate exact pass. */
#include <string.h>

#include "dectab.h"
#include "encode.h"
#include "internal.h"

/* Presence of a non-repeated field, as weft__field_present, inlined here
 * because it runs for every field of every message. Map entries always
 * write both key and value (as Google does). */
WEFT__INLINE int present(const weft_msg_desc *d,
                         const ProtobufCFieldDescriptor *f, const void *m,
                         const void *msg) {
  if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) /* label NONE in proto3 */
    return *(const uint32_t *)WEFT__CMEMBER(msg, f->quantifier_offset) == f->id;
  switch (f->label) {
  case PROTOBUF_C_LABEL_NONE:
    if (d->is_map_entry)
      return 1;
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
      const char *s = *(const char *const *)m;
      return s && *s;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
      return *(const void *const *)m != NULL;
    case PROTOBUF_C_TYPE_BYTES:
      return ((const ProtobufCBinaryData *)m)->len != 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE: {
      uint64_t v;
      memcpy(&v, m, 8);
      return v != 0;
    }
    default: {
      uint32_t v;
      memcpy(&v, m, 4);
      return v != 0;
    }
    }
  case PROTOBUF_C_LABEL_OPTIONAL:
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
      return *(const uint32_t *)WEFT__CMEMBER(msg, f->quantifier_offset) ==
             f->id;
    if (f->type == PROTOBUF_C_TYPE_STRING ||
        f->type == PROTOBUF_C_TYPE_MESSAGE) {
      const void *p = *(const void *const *)m;
      return d->is_map_entry || (p && p != f->default_value);
    }
    return d->is_map_entry || *(const protobuf_c_boolean *)WEFT__CMEMBER(
                                  msg, f->quantifier_offset);
  case PROTOBUF_C_LABEL_REQUIRED:
    if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE)
      return *(const void *const *)m != NULL;
    return 1;
  default:
    return *(const size_t *)WEFT__CMEMBER(msg, f->quantifier_offset) != 0;
  }
}

/* ---- size ---- */

static size_t msg_size(const weft_msg_desc *d, const void *msg, long *bud);

static size_t tag_size(uint32_t fnum) {
  return weft__varint_size((uint64_t)fnum << 3);
}

/* Size of one value (without tag); v points at the element. */
WEFT__INLINE size_t value_size(const ProtobufCFieldDescriptor *f, int group,
                               const void *v) {
  switch (f->type) {
  case PROTOBUF_C_TYPE_INT32:
  case PROTOBUF_C_TYPE_ENUM: {
    int32_t x;
    memcpy(&x, v, 4);
    return x < 0 ? 10 : weft__varint_size((uint32_t)x);
  }
  case PROTOBUF_C_TYPE_UINT32: {
    uint32_t x;
    memcpy(&x, v, 4);
    return weft__varint_size(x);
  }
  case PROTOBUF_C_TYPE_SINT32: {
    int32_t x;
    memcpy(&x, v, 4);
    return weft__varint_size(weft__zz32(x));
  }
  case PROTOBUF_C_TYPE_INT64:
  case PROTOBUF_C_TYPE_UINT64: {
    uint64_t x;
    memcpy(&x, v, 8);
    return weft__varint_size(x);
  }
  case PROTOBUF_C_TYPE_SINT64: {
    int64_t x;
    memcpy(&x, v, 8);
    return weft__varint_size(weft__zz64(x));
  }
  case PROTOBUF_C_TYPE_SFIXED32:
  case PROTOBUF_C_TYPE_FIXED32:
  case PROTOBUF_C_TYPE_FLOAT:
    return 4;
  case PROTOBUF_C_TYPE_SFIXED64:
  case PROTOBUF_C_TYPE_FIXED64:
  case PROTOBUF_C_TYPE_DOUBLE:
    return 8;
  case PROTOBUF_C_TYPE_BOOL:
    return 1;
  case PROTOBUF_C_TYPE_STRING: {
    const char *s = *(const char *const *)v;
    size_t n = s ? strlen(s) : 0;
    return weft__varint_size(n) + n;
  }
  case PROTOBUF_C_TYPE_BYTES: {
    size_t n = ((const ProtobufCBinaryData *)v)->len;
    return weft__varint_size(n) + n;
  }
  case PROTOBUF_C_TYPE_MESSAGE: {
    const void *m = *(const void *const *)v;
    size_t n = m ? msg_size(weft_msg_desc_of(f->descriptor), m, NULL) : 0;
    if (group)
      return n + tag_size(f->id); /* + end-group tag */
    return weft__varint_size(n) + n;
  }
  }
  return 0;
}

static size_t field_size(const weft_msg_desc *d, unsigned i, const void *msg) {
  const ProtobufCFieldDescriptor *f = &d->base.fields[i];
  const void *m = WEFT__CMEMBER(msg, f->offset);
  int group = weft__is_group(d, i);
  if (f->label == PROTOBUF_C_LABEL_REPEATED) {
    size_t n = *(const size_t *)WEFT__CMEMBER(msg, f->quantifier_offset), j;
    size_t es = weft__elem_size(f->type), sum = 0;
    const char *arr = *(const char *const *)m;
    if (n == 0)
      return 0;
    if ((f->flags & PROTOBUF_C_FIELD_FLAG_PACKED) && weft__is_scalar(f->type)) {
      int wt = weft__wire_type(f->type);
      if (wt == WEFT__WT_I32)
        sum = n * 4;
      else if (wt == WEFT__WT_I64)
        sum = n * 8;
      else
        for (j = 0; j < n; j++)
          sum += value_size(f, 0, arr + j * es);
      return tag_size(f->id) + weft__varint_size(sum) + sum;
    }
    for (j = 0; j < n; j++)
      sum += value_size(f, group, arr + j * es);
    return sum + n * tag_size(f->id);
  }
  return tag_size(f->id) + value_size(f, group, m);
}

/* The descriptor-driven size, for a type whose table cannot be had. */
static size_t msg_size_desc(const weft_msg_desc *d, const void *msg) {
  const ProtobufCMessage *b = msg;
  size_t sum = 0;
  unsigned i;
  for (i = 0; i < d->base.n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->base.fields[i];
    if (present(d, f, WEFT__CMEMBER(msg, f->offset), msg))
      sum += field_size(d, i, msg);
  }
  for (i = 0; i < b->n_unknown_fields; i++)
    sum += tag_size(b->unknown_fields[i].tag) + b->unknown_fields[i].len;
  return sum;
}

WEFT__INLINE size_t len_size(const weft__ee *x, size_t n) {
  return x->tagn + weft__varint_size(n) + n;
}

WEFT__INLINE size_t sub_size(const weft__ee *x, const void *sub, long *bud) {
  return len_size(x, sub ? msg_size(x->sub, sub, bud) : 0);
}

WEFT__INLINE size_t str_size(const weft__ee *x, const char *s) {
  return len_size(x, s ? strlen(s) : 0);
}

/* A map<string, string> field's size without a table walk per entry (as
 * put_map_ss writes it); out of line, so the walk stays small. */
static __attribute__((noinline)) size_t
map_ss_size(const weft__ee *x, const void *const *arr, size_t n) {
  const ProtobufCFieldDescriptor *kv = x->sub->base.fields;
  size_t sum = 0, k;
  for (k = 0; k < n; k++) {
    const void *ent = arr[k];
    const char *ks, *vs;
    size_t kn, vn;
    if (!ent || ((const ProtobufCMessage *)ent)->n_unknown_fields) {
      sum += sub_size(x, ent, NULL);
      continue;
    }
    ks = *(const char *const *)((const char *)ent + kv[0].offset);
    vs = *(const char *const *)((const char *)ent + kv[1].offset);
    kn = ks ? strlen(ks) : 0;
    vn = vs ? strlen(vs) : 0;
    sum += len_size(x, weft__ss_entry_len(kn, vn));
  }
  return sum;
}

/* The size walk's cost of one entry or element, in bytes of the final
 * move it must save (see weft_encode): measured on bench_codec, a visit
 * costs about as much as moving 300 bytes. */
#define SIZE_VISIT 256

/* The exact size over the codec table: the writer's walk (put_msg), with
 * the same presence rules, adding instead of writing. With bud, a budget
 * in bytes: each message adds the bytes of its own values and takes
 * SIZE_VISIT per entry and element walked; the walk stops (returning
 * nonsense) as soon as the budget is below zero. */
static size_t msg_size(const weft_msg_desc *d, const void *msg, long *bud) {
  const ProtobufCMessage *b = msg;
  weft__dtab *tmp;
  const weft__dtab *T = weft__dtab_get(d, &tmp);
  size_t sum = 0, nested = 0, visits = 0, n, k;
  unsigned i;
  if (WEFT__UNLIKELY(!T)) {
    if (bud)
      *bud = -1; /* no table: no size first */
    return msg_size_desc(d, msg);
  }
  for (i = 0; i < b->n_unknown_fields; i++)
    sum += tag_size(b->unknown_fields[i].tag) + b->unknown_fields[i].len;
  for (i = 0; i < T->nf; i++) {
    const weft__ee *x = &T->ee[i];
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
      sum += x->tagn + weft__varint_size(v);
      continue;
    }
    case WEFT__EOP_V64:
    case WEFT__EOP_Z64: {
      uint64_t v;
      memcpy(&v, m, 8);
      if (!v && implicit)
        continue;
      v = weft__ee_v64(x, v);
      sum += x->tagn + weft__varint_size(v);
      continue;
    }
    case WEFT__EOP_BOOL:
    case WEFT__EOP_F32: {
      uint32_t u;
      memcpy(&u, m, 4);
      if (!u && implicit)
        continue;
      sum += x->tagn + (x->op == WEFT__EOP_F32 ? 4 : 1);
      continue;
    }
    case WEFT__EOP_F64: {
      uint64_t v;
      memcpy(&v, m, 8);
      if (!v && implicit)
        continue;
      sum += x->tagn + 8;
      continue;
    }
    case WEFT__EOP_STRING: {
      const char *s = *(const char *const *)m;
      if ((!s || !*s) && implicit)
        continue;
      sum += str_size(x, s);
      continue;
    }
    case WEFT__EOP_BYTES: {
      size_t bl = ((const ProtobufCBinaryData *)m)->len;
      if (!bl && implicit)
        continue;
      sum += len_size(x, bl);
      continue;
    }
    case WEFT__EOP_MESSAGE: {
      const void *sub = *(const void *const *)m;
      size_t z;
      if (!sub && implicit)
        continue;
      z = sub_size(x, sub, bud);
      sum += z;
      nested += z;
      if (bud && *bud < 0)
        goto out;
      continue;
    }
    case WEFT__EOP_RMESSAGE:
      n = *(const size_t *)((const char *)msg + x->qoff);
      for (k = 0; k < n; k++) {
        size_t z = sub_size(x, (*(const void *const *const *)m)[k], bud);
        sum += z;
        nested += z;
        if (bud && *bud < 0)
          goto out;
      }
      continue;
    case WEFT__EOP_RMAP_SS:
      n = *(const size_t *)((const char *)msg + x->qoff);
      visits += n;
      sum += map_ss_size(x, *(const void *const *const *)m, n);
      continue;
    case WEFT__EOP_RSTRING:
      n = *(const size_t *)((const char *)msg + x->qoff);
      visits += n;
      for (k = 0; k < n; k++)
        sum += str_size(x, (*(const char *const *const *)m)[k]);
      continue;
    case WEFT__EOP_RBYTES:
      n = *(const size_t *)((const char *)msg + x->qoff);
      visits += n;
      for (k = 0; k < n; k++)
        sum += len_size(x, (*(const ProtobufCBinaryData *const *)m)[k].len);
      continue;
    default: {
      const ProtobufCFieldDescriptor *f = &d->base.fields[x->idx];
      if (present(d, f, m, msg))
        sum += field_size(d, x->idx, msg);
      continue;
    }
    }
  }
  if (bud)
    *bud += (long)(sum - nested) - (long)(T->nf + visits) * SIZE_VISIT;
out:
  if (WEFT__UNLIKELY(tmp != NULL))
    free(tmp);
  return sum;
}

size_t weft__msg_size(const weft_msg_desc *d, const void *msg) {
  return msg_size(d, msg, NULL);
}

size_t weft_encoded_size(const void *msg) {
  if (!msg)
    return 0;
  return msg_size(weft_msg_desc_of_msg(msg), msg, NULL);
}

/* ---- backward writer ---- */

/* A finished chunk of weft__encode_alloc_backward's output (data follows). */
typedef struct chunk {
  struct chunk *next; /* the chunk allocated before this one */
  size_t size;
} chunk;
#define CHUNK_HDR ((sizeof(chunk) + 15u) & ~(size_t)15u)

typedef struct enc {
  uint8_t *start; /* lowest byte we may write in the current chunk */
  uint8_t *end;   /* end of the current chunk */
  uint8_t *p;     /* first byte written so far */
  int full;       /* ran out of room (or memory): stop and report */
  /* Growing mode (weft__encode_alloc_backward): when the current chunk is
   * full, start
   * a new one instead of failing. Written bytes = done + (end - p). */
  int grow;
  size_t done;
  chunk *cur;      /* the current chunk's header (growing mode) */
  chunk *finished; /* most recent first */
} enc;

/* Bytes written so far: lengths are differences of this, which stay right
 * across chunk boundaries. */
#define WRITTEN(e) ((e)->done + (size_t)((e)->end - (e)->p))

static void put_bytes_slow(enc *e, const uint8_t *src, size_t n) {
  size_t room = (size_t)(e->p - e->start), size;
  chunk *c;
  if (!e->grow || e->full) {
    e->full = 1;
    return;
  }
  /* the tail of src fills the current chunk, the rest opens a new one */
  memcpy(e->start, src + (n - room), room);
  e->p = e->start;
  n -= room;
  size = (size_t)(e->end - e->start) * 2;
  if (size < n)
    size = n;
  if (size > SIZE_MAX - CHUNK_HDR || !(c = malloc(CHUNK_HDR + size))) {
    e->full = 1;
    return;
  }
  e->done += (size_t)(e->end - e->start);
  e->cur->next = e->finished;
  e->finished = e->cur;
  c->next = NULL;
  c->size = size;
  e->cur = c;
  e->start = (uint8_t *)c + CHUNK_HDR;
  e->end = e->start + size;
  e->p = e->end - n;
  memcpy(e->p, src, n);
}

WEFT__INLINE void put_bytes(enc *e, const void *src, size_t n) {
  if (WEFT__UNLIKELY((size_t)(e->p - e->start) < n)) {
    put_bytes_slow(e, src, n);
    return;
  }
  e->p -= n;
  if (n <= 16)
    weft__copy_small(e->p, src, n);
  else
    memcpy(e->p, src, n);
}

WEFT__INLINE void put_varint(enc *e, uint64_t v) {
  size_t n, k;
  uint8_t *q, tmp[10];
  if (v < 0x80 && e->p > e->start) {
    *--e->p = (uint8_t)v;
    return;
  }
  n = weft__varint_size(v);
  if (WEFT__UNLIKELY((size_t)(e->p - e->start) < n)) {
    q = tmp;
  } else {
    e->p -= n;
    q = e->p;
  }
  for (k = 0; k + 1 < n; k++) {
    q[k] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  q[k] = (uint8_t)v;
  if (q == tmp)
    put_bytes_slow(e, tmp, n);
}

WEFT__INLINE void put_tag(enc *e, uint32_t fnum, int wt) {
  put_varint(e, ((uint64_t)fnum << 3) | (unsigned)wt);
}

static void put_msg(enc *e, const weft_msg_desc *d, const void *msg);

/* Writes one value (no tag). */
WEFT__INLINE void put_value(enc *e, const ProtobufCFieldDescriptor *f,
                            int group, const void *v) {
  switch (f->type) {
  case PROTOBUF_C_TYPE_INT32:
  case PROTOBUF_C_TYPE_ENUM: {
    int32_t x;
    memcpy(&x, v, 4);
    put_varint(e, (uint64_t)(int64_t)x);
    return;
  }
  case PROTOBUF_C_TYPE_UINT32: {
    uint32_t x;
    memcpy(&x, v, 4);
    put_varint(e, x);
    return;
  }
  case PROTOBUF_C_TYPE_SINT32: {
    int32_t x;
    memcpy(&x, v, 4);
    put_varint(e, weft__zz32(x));
    return;
  }
  case PROTOBUF_C_TYPE_INT64:
  case PROTOBUF_C_TYPE_UINT64: {
    uint64_t x;
    memcpy(&x, v, 8);
    put_varint(e, x);
    return;
  }
  case PROTOBUF_C_TYPE_SINT64: {
    int64_t x;
    memcpy(&x, v, 8);
    put_varint(e, weft__zz64(x));
    return;
  }
  case PROTOBUF_C_TYPE_SFIXED32:
  case PROTOBUF_C_TYPE_FIXED32:
  case PROTOBUF_C_TYPE_FLOAT:
    put_bytes(e, v, 4);
    return;
  case PROTOBUF_C_TYPE_SFIXED64:
  case PROTOBUF_C_TYPE_FIXED64:
  case PROTOBUF_C_TYPE_DOUBLE:
    put_bytes(e, v, 8);
    return;
  case PROTOBUF_C_TYPE_BOOL: {
    uint8_t b = *(const protobuf_c_boolean *)v ? 1 : 0;
    put_bytes(e, &b, 1);
    return;
  }
  case PROTOBUF_C_TYPE_STRING: {
    const char *s = *(const char *const *)v;
    size_t n = s ? strlen(s) : 0;
    put_bytes(e, s, n);
    put_varint(e, n);
    return;
  }
  case PROTOBUF_C_TYPE_BYTES: {
    const ProtobufCBinaryData *b = v;
    put_bytes(e, b->data, b->len);
    put_varint(e, b->len);
    return;
  }
  case PROTOBUF_C_TYPE_MESSAGE: {
    const void *m = *(const void *const *)v;
    size_t mark = WRITTEN(e);
    if (group)
      put_tag(e, f->id, WEFT__WT_EGROUP);
    if (m)
      put_msg(e, weft_msg_desc_of(f->descriptor), m);
    if (!group)
      put_varint(e, (uint64_t)(WRITTEN(e) - mark));
    return;
  }
  }
}

WEFT__INLINE void put_field(enc *e, const weft_msg_desc *d, unsigned i,
                            const void *msg) {
  const ProtobufCFieldDescriptor *f = &d->base.fields[i];
  const void *m = WEFT__CMEMBER(msg, f->offset);
  int group = weft__is_group(d, i);
  int wt = group ? WEFT__WT_SGROUP : weft__wire_type(f->type);
  if (f->label == PROTOBUF_C_LABEL_REPEATED) {
    size_t n = *(const size_t *)WEFT__CMEMBER(msg, f->quantifier_offset), j;
    size_t es = weft__elem_size(f->type);
    const char *arr = *(const char *const *)m;
    if ((f->flags & PROTOBUF_C_FIELD_FLAG_PACKED) && weft__is_scalar(f->type)) {
      size_t mark = WRITTEN(e);
      if (wt == WEFT__WT_I32 || wt == WEFT__WT_I64)
        put_bytes(e, arr, n * es);
      else
        for (j = n; j-- > 0;)
          put_value(e, f, 0, arr + j * es);
      put_varint(e, (uint64_t)(WRITTEN(e) - mark));
      put_tag(e, f->id, WEFT__WT_LEN);
      return;
    }
    for (j = n; j-- > 0 && !e->full;) {
      put_value(e, f, group, arr + j * es);
      put_tag(e, f->id, wt);
    }
    return;
  }
  put_value(e, f, group, m);
  put_tag(e, f->id, wt);
}

/* The descriptor-driven writer: for a type whose table cannot be had (out
 * of memory) and as the reference the table-driven one must match. */
static void put_msg_desc(enc *e, const weft_msg_desc *d, const void *msg) {
  const ProtobufCMessage *b = msg;
  const ProtobufCFieldDescriptor *fields = d->base.fields;
  unsigned i;
  if (WEFT__UNLIKELY(e->full))
    return;
  for (i = b->n_unknown_fields; i-- > 0;) {
    const ProtobufCMessageUnknownField *u = &b->unknown_fields[i];
    put_bytes(e, u->data, u->len);
    put_tag(e, u->tag, (int)u->wire_type);
  }
  if (WEFT__UNLIKELY(d->is_map_entry)) {
    for (i = d->base.n_fields; i-- > 0;)
      put_field(e, d, i, msg);
    return;
  }
  for (i = d->base.n_fields; i-- > 0;) {
    const ProtobufCFieldDescriptor *f = &fields[i];
    const void *m = WEFT__CMEMBER(msg, f->offset);
    if (f->label == PROTOBUF_C_LABEL_NONE &&
        !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)) {
      /* proto3 implicit presence, the common case: test and write in one
       * switch (a zero value is absent; floats compare bitwise). */
      switch (f->type) {
      case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(const char *const *)m;
        size_t n;
        if (!s || !*s)
          continue;
        n = strlen(s);
        put_bytes(e, s, n);
        put_varint(e, n);
        put_tag(e, f->id, WEFT__WT_LEN);
        continue;
      }
      case PROTOBUF_C_TYPE_MESSAGE: {
        const void *sub = *(const void *const *)m;
        size_t mark = WRITTEN(e);
        if (!sub)
          continue;
        put_msg(e, weft_msg_desc_of(f->descriptor), sub);
        put_varint(e, (uint64_t)(WRITTEN(e) - mark));
        put_tag(e, f->id, WEFT__WT_LEN);
        continue;
      }
      case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *bd = m;
        if (!bd->len)
          continue;
        put_bytes(e, bd->data, bd->len);
        put_varint(e, bd->len);
        put_tag(e, f->id, WEFT__WT_LEN);
        continue;
      }
      case PROTOBUF_C_TYPE_INT32:
      case PROTOBUF_C_TYPE_ENUM: {
        int32_t x;
        memcpy(&x, m, 4);
        if (!x)
          continue;
        put_varint(e, (uint64_t)(int64_t)x);
        put_tag(e, f->id, WEFT__WT_VARINT);
        continue;
      }
      case PROTOBUF_C_TYPE_UINT32:
      case PROTOBUF_C_TYPE_BOOL: {
        uint32_t x;
        memcpy(&x, m, 4);
        if (!x)
          continue;
        put_varint(e, f->type == PROTOBUF_C_TYPE_BOOL ? 1 : x);
        put_tag(e, f->id, WEFT__WT_VARINT);
        continue;
      }
      case PROTOBUF_C_TYPE_SINT32: {
        int32_t x;
        memcpy(&x, m, 4);
        if (!x)
          continue;
        put_varint(e, weft__zz32(x));
        put_tag(e, f->id, WEFT__WT_VARINT);
        continue;
      }
      case PROTOBUF_C_TYPE_INT64:
      case PROTOBUF_C_TYPE_UINT64: {
        uint64_t x;
        memcpy(&x, m, 8);
        if (!x)
          continue;
        put_varint(e, x);
        put_tag(e, f->id, WEFT__WT_VARINT);
        continue;
      }
      case PROTOBUF_C_TYPE_SINT64: {
        int64_t x;
        memcpy(&x, m, 8);
        if (!x)
          continue;
        put_varint(e, weft__zz64(x));
        put_tag(e, f->id, WEFT__WT_VARINT);
        continue;
      }
      case PROTOBUF_C_TYPE_FIXED32:
      case PROTOBUF_C_TYPE_SFIXED32:
      case PROTOBUF_C_TYPE_FLOAT: {
        uint32_t x;
        memcpy(&x, m, 4);
        if (!x)
          continue;
        put_bytes(e, m, 4);
        put_tag(e, f->id, WEFT__WT_I32);
        continue;
      }
      default: { /* fixed64, sfixed64, double */
        uint64_t x;
        memcpy(&x, m, 8);
        if (!x)
          continue;
        put_bytes(e, m, 8);
        put_tag(e, f->id, WEFT__WT_I64);
        continue;
      }
      }
    }
    if (present(d, f, m, msg))
      put_field(e, d, i, msg);
  }
}

/* ---- the table-driven writer (dectab.h's encode entries) ---- */

/* The short path writes a value's tag and varint unchecked when this much
 * room is left: a 10-byte varint, then the tag's 8-byte store. */
#define SLACK 24

WEFT__INLINE int roomy(const enc *e) {
  return (size_t)(e->p - e->start) >= SLACK;
}

/* Writes v below p (room checked by the caller); returns the new p. */
WEFT__INLINE uint8_t *w_varint(uint8_t *p, uint64_t v) {
  size_t n, k;
  if (v < 0x80) {
    *--p = (uint8_t)v;
    return p;
  }
  n = weft__varint_size(v);
  p -= n;
  for (k = 0; k + 1 < n; k++) {
    p[k] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  p[k] = (uint8_t)v;
  return p;
}

/* The precomputed tag below p: one store (bytes under the tag are free
 * room, overwritten later or never part of the output). */
WEFT__INLINE uint8_t *w_tag(uint8_t *p, const weft__ee *x) {
  memcpy(p - 8, &x->tag, 8);
  return p - x->tagn;
}

/* A scalar's varint and tag. */
WEFT__INLINE void put_vt(enc *e, const weft__ee *x, uint64_t v) {
  e->p = w_tag(w_varint(e->p, v), x);
}

/* A length prefix and tag, checked (after a value of any size). */
WEFT__INLINE void put_len_tag(enc *e, const weft__ee *x, size_t n) {
  if (WEFT__LIKELY(roomy(e))) {
    put_vt(e, x, n);
    return;
  }
  put_varint(e, n);
  put_bytes(e, (const uint8_t *)&x->tag + (8 - x->tagn), x->tagn);
}

/* Field i through the descriptor (presence test included). */
static __attribute__((noinline)) void
put_generic(enc *e, const weft_msg_desc *d, unsigned i, const void *msg) {
  const ProtobufCFieldDescriptor *f = &d->base.fields[i];
  if (present(d, f, WEFT__CMEMBER(msg, f->offset), msg))
    put_field(e, d, i, msg);
}

WEFT__INLINE void put_sub(enc *e, const weft__ee *x, const void *sub) {
  size_t mark = WRITTEN(e);
  if (sub)
    put_msg(e, x->sub, sub);
  put_len_tag(e, x, WRITTEN(e) - mark);
}

WEFT__INLINE void put_str(enc *e, const weft__ee *x, const char *s) {
  size_t n = s ? strlen(s) : 0;
  put_bytes(e, s, n);
  put_len_tag(e, x, n);
}

/* A map<string, string> entry without the call into its own table walk
 * (a map entry is two fields, and the walk's fixed cost is most of it):
 * value then key, both always written, then the entry's length and tag. */
WEFT__INLINE void put_entry_ss(enc *e, const weft__ee *x, const void *ent) {
  const ProtobufCFieldDescriptor *kv = x->sub->base.fields;
  const char *k, *v;
  size_t kn, vn;
  if (!ent || ((const ProtobufCMessage *)ent)->n_unknown_fields) {
    put_sub(e, x, ent);
    return;
  }
  k = *(const char *const *)((const char *)ent + kv[0].offset);
  v = *(const char *const *)((const char *)ent + kv[1].offset);
  kn = k ? strlen(k) : 0;
  vn = v ? strlen(v) : 0;
  put_bytes(e, v, vn);
  put_varint(e, vn);
  put_varint(e, (2u << 3) | WEFT__WT_LEN);
  put_bytes(e, k, kn);
  put_varint(e, kn);
  put_varint(e, (1u << 3) | WEFT__WT_LEN);
  put_len_tag(e, x, weft__ss_entry_len(kn, vn));
}

/* Out of line, so the table walk stays small. */
static __attribute__((noinline)) void
put_map_ss(enc *e, const weft__ee *x, const void *const *arr, size_t n) {
  while (n-- > 0 && !e->full)
    put_entry_ss(e, x, arr[n]);
}

static void put_msg(enc *e, const weft_msg_desc *d, const void *msg) {
  const ProtobufCMessage *b = msg;
  weft__dtab *tmp;
  const weft__dtab *T;
  const weft__ee *ee;
  unsigned i;
  if (WEFT__UNLIKELY(e->full))
    return;
  T = weft__dtab_get(d, &tmp);
  if (WEFT__UNLIKELY(!T)) {
    put_msg_desc(e, d, msg);
    return;
  }
  for (i = b->n_unknown_fields; i-- > 0;) {
    const ProtobufCMessageUnknownField *u = &b->unknown_fields[i];
    put_bytes(e, u->data, u->len);
    put_tag(e, u->tag, (int)u->wire_type);
  }
  ee = T->ee;
  for (i = T->nf; i-- > 0;) {
    const weft__ee *x = &ee[i];
    const char *m = (const char *)msg + x->offset;
    if (weft__ee_unset(x, msg))
      continue;
    if (WEFT__UNLIKELY(!roomy(e)) && x->op < WEFT__EOP_STRING) {
      put_generic(e, d, x->idx, msg);
      continue;
    }
    switch (x->op) {
    case WEFT__EOP_I32: {
      int32_t v;
      memcpy(&v, m, 4);
      if (!v && x->pres == WEFT__EP_IMPLICIT)
        continue;
      put_vt(e, x, (uint64_t)(int64_t)v);
      continue;
    }
    case WEFT__EOP_U32: {
      uint32_t v;
      memcpy(&v, m, 4);
      if (!v && x->pres == WEFT__EP_IMPLICIT)
        continue;
      put_vt(e, x, v);
      continue;
    }
    case WEFT__EOP_Z32: {
      int32_t v;
      memcpy(&v, m, 4);
      if (!v && x->pres == WEFT__EP_IMPLICIT)
        continue;
      put_vt(e, x, weft__zz32(v));
      continue;
    }
    case WEFT__EOP_V64: {
      uint64_t v;
      memcpy(&v, m, 8);
      if (!v && x->pres == WEFT__EP_IMPLICIT)
        continue;
      put_vt(e, x, v);
      continue;
    }
    case WEFT__EOP_Z64: {
      int64_t v;
      memcpy(&v, m, 8);
      if (!v && x->pres == WEFT__EP_IMPLICIT)
        continue;
      put_vt(e, x, weft__zz64(v));
      continue;
    }
    case WEFT__EOP_BOOL: {
      protobuf_c_boolean v;
      memcpy(&v, m, sizeof v);
      if (!v && x->pres == WEFT__EP_IMPLICIT)
        continue;
      put_vt(e, x, v ? 1 : 0);
      continue;
    }
    case WEFT__EOP_F32: {
      uint32_t v; /* presence is bitwise: -0.0 is written */
      memcpy(&v, m, 4);
      if (!v && x->pres == WEFT__EP_IMPLICIT)
        continue;
      e->p -= 4;
      memcpy(e->p, &v, 4);
      e->p = w_tag(e->p, x);
      continue;
    }
    case WEFT__EOP_F64: {
      uint64_t v;
      memcpy(&v, m, 8);
      if (!v && x->pres == WEFT__EP_IMPLICIT)
        continue;
      e->p -= 8;
      memcpy(e->p, &v, 8);
      e->p = w_tag(e->p, x);
      continue;
    }
    case WEFT__EOP_STRING: {
      const char *s = *(const char *const *)m;
      if ((!s || !*s) && x->pres == WEFT__EP_IMPLICIT)
        continue;
      put_str(e, x, s);
      continue;
    }
    case WEFT__EOP_BYTES: {
      const ProtobufCBinaryData *bd = (const ProtobufCBinaryData *)m;
      if (!bd->len && x->pres == WEFT__EP_IMPLICIT)
        continue;
      put_bytes(e, bd->data, bd->len);
      put_len_tag(e, x, bd->len);
      continue;
    }
    case WEFT__EOP_MESSAGE: {
      const void *sub = *(const void *const *)m;
      if (!sub && x->pres == WEFT__EP_IMPLICIT)
        continue;
      put_sub(e, x, sub);
      continue;
    }
    case WEFT__EOP_RMESSAGE: {
      size_t n = *(const size_t *)((const char *)msg + x->qoff);
      const void *const *arr = *(const void *const *const *)m;
      while (n-- > 0 && !e->full)
        put_sub(e, x, arr[n]);
      continue;
    }
    case WEFT__EOP_RSTRING: {
      size_t n = *(const size_t *)((const char *)msg + x->qoff);
      const char *const *arr = *(const char *const *const *)m;
      while (n-- > 0 && !e->full)
        put_str(e, x, arr[n]);
      continue;
    }
    case WEFT__EOP_RMAP_SS:
      put_map_ss(e, x, *(const void *const *const *)m,
                 *(const size_t *)((const char *)msg + x->qoff));
      continue;
    case WEFT__EOP_RBYTES: {
      size_t n = *(const size_t *)((const char *)msg + x->qoff);
      const ProtobufCBinaryData *arr = *(const ProtobufCBinaryData *const *)m;
      while (n-- > 0 && !e->full) {
        put_bytes(e, arr[n].data, arr[n].len);
        put_len_tag(e, x, arr[n].len);
      }
      continue;
    }
    default:
      put_generic(e, d, x->idx, msg);
      continue;
    }
  }
  if (WEFT__UNLIKELY(tmp != NULL))
    free(tmp);
}

/* weft_encode sizes first only into buffers of at least this many bytes,
 * with this much budget to start (msg_size). */
#define SIZE_FIRST_MIN 4096u
#define SIZE_FIRST_SLACK (16L * SIZE_VISIT)

/* weft_encode through the codec tables: the forward writer for flat
 * types, else the backward writer (sized first when that pays). Out of
 * line, so weft_encode itself stays a few instructions before a
 * generated encoder's call. */
static __attribute__((noinline)) ssize_t encode_tables(const weft_msg_desc *d,
                                                       const void *msg,
                                                       uint8_t *buf, size_t cap,
                                                       int exact) {
  enc e;
  size_t n;
  weft__dtab *tmp;
  const weft__dtab *T = weft__dtab_get(d, &tmp);
  if (WEFT__LIKELY(T != NULL) && T->enc_fwd && buf) { /* front to back */
    ssize_t r = weft__encode_fwd(T, msg, buf, cap);
    if (WEFT__UNLIKELY(tmp != NULL))
      free(tmp);
    return r;
  }
  if (WEFT__UNLIKELY(tmp != NULL))
    free(tmp);
  /* The backward writer ends with a move of its output to the front of
   * buf, unless it starts from buf + the exact size. A size walk first
   * pays when it costs less than that move: for few fields carrying many
   * bytes (large bytes fields). The budgeted walk gives up as soon as the
   * fields outweigh their bytes, which on a message of many small fields
   * happens within its first sub-messages; a small buffer bounds the move
   * anyway. */
  if (cap >= SIZE_FIRST_MIN && !exact) {
    long bud = SIZE_FIRST_SLACK;
    n = msg_size(d, msg, &bud);
    if (bud >= 0) {
      if (n > cap)
        return WEFT_ERR_TOO_BIG;
      cap = n;
    }
  }
  memset(&e, 0, sizeof e);
  e.start = buf;
  e.end = e.p = buf + cap;
  put_msg(&e, d, msg);
  if (e.full)
    return WEFT_ERR_TOO_BIG;
  n = (size_t)(buf + cap - e.p);
  if (e.p != buf) {
    if (n <= 16)
      weft__copy_small(buf, e.p, n);
    else
      memmove(buf, e.p, n);
  }
  return (ssize_t)n;
}

ssize_t weft_encode(const void *msg, uint8_t *buf, size_t cap) {
  const weft_msg_desc *d;
  if (!msg || (!buf && cap))
    return WEFT_ERR_INVAL;
  d = weft_msg_desc_of_msg(msg);
  /* front to back: the type's generated encoder, as a tail call (a frame
   * here costs a 10-byte message a third of its time) */
  if (d->encode && buf)
    return d->encode(msg, buf, cap);
  return encode_tables(d, msg, buf, cap, 0);
}

/* One pass into growing chunks (no size pre-pass), then one copy into an
 * exact-size buffer. The reference the forward writers are tested against. */
int weft__encode_alloc_backward(const void *msg, uint8_t **out,
                                size_t *out_len) {
  enc e;
  chunk *c;
  uint8_t *buf, *w;
  size_t n;
  int rv = 0;
  if (!msg || !out || !out_len)
    return WEFT_ERR_INVAL;
  memset(&e, 0, sizeof e);
  e.grow = 1;
  e.cur = malloc(CHUNK_HDR + 1024);
  if (!e.cur)
    return WEFT_ERR_NOMEM;
  e.cur->next = NULL;
  e.cur->size = 1024;
  e.start = (uint8_t *)e.cur + CHUNK_HDR;
  e.end = e.p = e.start + 1024;
  put_msg(&e, weft_msg_desc_of_msg(msg), msg);
  n = WRITTEN(&e);
  buf = e.full ? NULL : malloc(n ? n : 1);
  if (!buf) {
    rv = WEFT_ERR_NOMEM;
  } else {
    /* the current chunk holds the first bytes, older chunks the later ones */
    w = buf;
    memcpy(w, e.p, (size_t)(e.end - e.p));
    w += e.end - e.p;
    for (c = e.finished; c; c = c->next) {
      memcpy(w, (uint8_t *)c + CHUNK_HDR, c->size);
      w += c->size;
    }
    *out = buf;
    *out_len = n;
  }
  free(e.cur);
  while ((c = e.finished) != NULL) {
    e.finished = c->next;
    free(c);
  }
  return rv;
}

/* weft_encode_alloc's first try for a type without a forward writer: the
 * backward writer into this much stack, then one copy into an exact
 * allocation. A small message costs one walk and no chunk; a larger one
 * is abandoned after this many bytes and sized first. */
#define ALLOC_STACK 1024u

/* weft_encode_alloc through the tables, whatever the type: into an exact
 * allocation, written once (the forward writer for a flat type; else,
 * past ALLOC_STACK bytes, the backward writer from the allocation's end,
 * after the exact size). Against one chunked backward pass and a copy
 * (weft__encode_alloc_backward), the second walk costs less than the
 * chunks and the copy: see README.md, "Encoding". */
int weft__encode_alloc_tables(const void *msg, uint8_t **out, size_t *out_len) {
  const weft_msg_desc *d;
  weft__dtab *tmp;
  const weft__dtab *T;
  size_t n;
  uint8_t *buf;
  ssize_t r;
  if (!msg || !out || !out_len)
    return WEFT_ERR_INVAL;
  d = weft_msg_desc_of_msg(msg);
  T = weft__dtab_get(d, &tmp);
  /* A descriptor without a cache gets a table of its own (tmp, which T may
   * be): read what is needed of it before it goes. */
  bool fwd = T && T->enc_fwd;
  if (WEFT__UNLIKELY(tmp != NULL))
    free(tmp);
  if (!fwd) {
    uint8_t stack[ALLOC_STACK];
    enc e;
    memset(&e, 0, sizeof e);
    e.start = stack;
    e.end = e.p = stack + sizeof stack;
    put_msg(&e, d, msg);
    if (!e.full) {
      n = (size_t)(e.end - e.p);
      if (!(buf = malloc(n ? n : 1)))
        return WEFT_ERR_NOMEM;
      if (n)
        memcpy(buf, e.p, n);
      *out = buf;
      *out_len = n;
      return 0;
    }
  }
  n = msg_size(d, msg, NULL);
  buf = malloc(n ? n : 1);
  if (!buf)
    return WEFT_ERR_NOMEM;
  r = encode_tables(d, msg, buf, n, 1);
  if (WEFT__UNLIKELY(r != (ssize_t)n)) {
    free(buf);
    return r < 0 ? (int)r : WEFT_ERR_INTERNAL;
  }
  *out = buf;
  *out_len = n;
  return 0;
}

int weft_encode_alloc(const void *msg, uint8_t **out, size_t *out_len) {
  const weft_msg_desc *d;
  if (!msg || !out || !out_len)
    return WEFT_ERR_INVAL;
  d = weft_msg_desc_of_msg(msg);
  /* generated: sized, then written in one allocation */
  if (d->encode_alloc)
    return d->encode_alloc(msg, out, out_len);
  return weft__encode_alloc_tables(msg, out, out_len);
}
