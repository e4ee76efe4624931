/* Builds and caches decode tables (dectab.h). One malloc per message type
 * holds the table, its entries and its direct-index array. The cache is
 * filled once: the first thread to claim it builds, others meanwhile build
 * a private copy for their call, so no one waits and no lock is held. */
#include <stdlib.h>
#include <string.h>

#include "dectab.h"
#include "internal.h"

/* weft_msg_cache.state (dectab.h tests READY inline) */
enum { CACHE_EMPTY = 0, CACHE_BUILDING = 1, CACHE_READY = 2 };

static uint8_t op_of(ProtobufCType t) {
  switch (t) {
  case PROTOBUF_C_TYPE_INT64:
  case PROTOBUF_C_TYPE_UINT64:
    return WEFT__OP_V64;
  case PROTOBUF_C_TYPE_SINT32:
    return WEFT__OP_Z32;
  case PROTOBUF_C_TYPE_SINT64:
    return WEFT__OP_Z64;
  case PROTOBUF_C_TYPE_BOOL:
    return WEFT__OP_BOOL;
  case PROTOBUF_C_TYPE_SFIXED32:
  case PROTOBUF_C_TYPE_FIXED32:
  case PROTOBUF_C_TYPE_FLOAT:
    return WEFT__OP_F32;
  case PROTOBUF_C_TYPE_SFIXED64:
  case PROTOBUF_C_TYPE_FIXED64:
  case PROTOBUF_C_TYPE_DOUBLE:
    return WEFT__OP_F64;
  case PROTOBUF_C_TYPE_STRING:
    return WEFT__OP_STRING;
  case PROTOBUF_C_TYPE_BYTES:
    return WEFT__OP_BYTES;
  case PROTOBUF_C_TYPE_MESSAGE:
    return WEFT__OP_MESSAGE;
  default: /* int32, uint32, enum */
    return WEFT__OP_V32;
  }
}

/* The entry of field i of d. */
static void fill(const weft_msg_desc *d, unsigned i, weft__fe *e) {
  const ProtobufCFieldDescriptor *f = &d->base.fields[i];
  int group = weft__is_group(d, i);
  e->offset = f->offset;
  e->qoff = f->quantifier_offset;
  e->op = op_of(f->type);
  e->wt = (uint8_t)(group ? WEFT__WT_SGROUP : weft__wire_type(f->type));
  e->es = (uint8_t)weft__elem_size(f->type);
  e->fl = 0;
  e->idx = i;
  e->tag = (f->id << 3) | e->wt;
  e->sub = f->type == PROTOBUF_C_TYPE_MESSAGE ? weft_msg_desc_of(f->descriptor)
                                              : NULL;
  if (f->label == PROTOBUF_C_LABEL_REPEATED) {
    e->fl |= WEFT__FE_REPEATED;
    if (e->sub && e->sub->is_map_entry)
      e->fl |= WEFT__FE_MAP;
  }
  if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
    e->fl |= WEFT__FE_ONEOF;
  else if (f->label == PROTOBUF_C_LABEL_OPTIONAL &&
           f->type != PROTOBUF_C_TYPE_STRING &&
           f->type != PROTOBUF_C_TYPE_MESSAGE)
    e->fl |= WEFT__FE_HAS; /* scalars and bytes have a has_ member */
  if (f->type == PROTOBUF_C_TYPE_ENUM && f->descriptor &&
      weft_enum_desc_of(f->descriptor)->closed)
    e->fl |= WEFT__FE_CLOSED;
  if (group)
    e->fl |= WEFT__FE_GROUP;
  if (weft__check_utf8(d, i))
    e->fl |= WEFT__FE_UTF8;
}

static weft__dtab *build(const weft_msg_desc *d) {
  const ProtobufCFieldDescriptor *fields = d->base.fields;
  unsigned nf = d->base.n_fields, i, max_dense = 0;
  weft__dtab *t;
  weft__fe *fe;
  uint8_t *dense;
  size_t size;
  int required = 0;
  /* direct index for numbers up to the largest one (when an entry index
   * fits a byte), else binary search for everything */
  if (nf && nf < 255) {
    uint32_t top = fields[nf - 1].id; /* fields are sorted by number */
    max_dense = top <= WEFT__DENSE_MAX ? top : WEFT__DENSE_MAX;
  }
  size = sizeof *t + nf * sizeof *fe + max_dense + 1;
  t = malloc(size);
  if (!t)
    return NULL;
  fe = (weft__fe *)(void *)(t + 1);
  dense = (uint8_t *)(fe + nf);
  memset(dense, 0, max_dense + 1);
  for (i = 0; i < nf; i++) {
    const ProtobufCFieldDescriptor *f = &fields[i];
    weft__fe *e = &fe[i];
    fill(d, i, e);
    if (f->label == PROTOBUF_C_LABEL_REQUIRED)
      required = 1;
    if (f->id <= max_dense)
      dense[f->id] = (uint8_t)(i + 1);
  }
  t->nf = nf;
  t->max_dense = max_dense;
  t->track_required = required && d->syntax != 3;
  t->fe = fe;
  t->dense = dense;
  return t;
}

const weft__dtab *weft__dtab_build(const weft_msg_desc *d, weft__dtab **tmp) {
  weft_msg_cache *c = d->cache;
  int expect = CACHE_EMPTY;
  weft__dtab *t;
  *tmp = NULL;
  if (c && __atomic_load_n(&c->state, __ATOMIC_ACQUIRE) == CACHE_READY)
    return c->table;
  if (c && __atomic_compare_exchange_n(&c->state, &expect, CACHE_BUILDING, 0,
                                       __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
    t = build(d);
    if (!t) { /* let a later call try again */
      __atomic_store_n(&c->state, CACHE_EMPTY, __ATOMIC_RELEASE);
      return NULL;
    }
    c->table = t;
    __atomic_store_n(&c->state, CACHE_READY, __ATOMIC_RELEASE);
    return t;
  }
  /* no cache, or another thread is building it: a private table */
  *tmp = build(d);
  return *tmp;
}

void weft_msg_cache_release(weft_msg_cache *c) {
  if (!c)
    return;
  if (__atomic_load_n(&c->state, __ATOMIC_ACQUIRE) == CACHE_READY)
    free(c->table);
  c->table = NULL;
  __atomic_store_n(&c->state, CACHE_EMPTY, __ATOMIC_RELEASE);
}
