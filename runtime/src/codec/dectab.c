/* Builds and caches codec tables (dectab.h). One malloc per message type
 * holds the table, its decode and encode entries and its direct-index
 * array. The cache is
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
    if (e->sub && e->sub->is_map_entry) {
      e->fl |= WEFT__FE_MAP;
      if (e->sub->base.n_fields == 2 && e->sub->base.fields[0].id == 1 &&
          e->sub->base.fields[1].id == 2 &&
          e->sub->base.fields[0].type == PROTOBUF_C_TYPE_STRING &&
          e->sub->base.fields[1].type == PROTOBUF_C_TYPE_STRING &&
          !weft__is_group(e->sub, 0) && !weft__is_group(e->sub, 1) &&
          e->sub->base.sizeof_message ==
              sizeof(ProtobufCMessage) + 2 * sizeof(char *))
        e->fl |= WEFT__FE_MAPSS;
    }
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

/* The encode entry of field i of d. */
static void fill_enc(const weft_msg_desc *d, unsigned i, weft__ee *x) {
  const ProtobufCFieldDescriptor *f = &d->base.fields[i];
  int group = weft__is_group(d, i);
  int wt = group ? WEFT__WT_SGROUP : weft__wire_type(f->type);
  uint64_t v = ((uint64_t)f->id << 3) | (unsigned)wt, bytes = 0;
  unsigned n = 0;
  int repeated = f->label == PROTOBUF_C_LABEL_REPEATED;
  if (repeated && !group && weft__is_scalar(f->type) &&
      (f->flags & PROTOBUF_C_FIELD_FLAG_PACKED))
    v = ((uint64_t)f->id << 3) | WEFT__WT_LEN; /* not the short path's */
  do { /* field numbers are below 2^29: at most 5 bytes */
    uint64_t b = v & 0x7f;
    v >>= 7;
    bytes |= (b | (v ? 0x80 : 0)) << (8 * n++);
  } while (v);
  memset(x, 0, sizeof *x);
  x->offset = f->offset;
  x->qoff = f->quantifier_offset;
  x->tag = bytes << (8 * (8 - n));
  x->tagn = (uint8_t)n;
  x->es = (uint8_t)weft__elem_size(f->type);
  x->idx = i;
  x->sub = f->type == PROTOBUF_C_TYPE_MESSAGE ? weft_msg_desc_of(f->descriptor)
                                              : NULL;
  x->op = WEFT__EOP_GENERIC;
  if (group || (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
    return;
  if (repeated) {
    if (f->type == PROTOBUF_C_TYPE_MESSAGE && x->sub->is_map_entry &&
        x->sub->base.n_fields == 2 &&
        x->sub->base.fields[0].type == PROTOBUF_C_TYPE_STRING &&
        x->sub->base.fields[1].type == PROTOBUF_C_TYPE_STRING)
      x->op = WEFT__EOP_RMAP_SS;
    else if (f->type == PROTOBUF_C_TYPE_MESSAGE)
      x->op = WEFT__EOP_RMESSAGE;
    else if (f->type == PROTOBUF_C_TYPE_STRING)
      x->op = WEFT__EOP_RSTRING;
    else if (f->type == PROTOBUF_C_TYPE_BYTES)
      x->op = WEFT__EOP_RBYTES;
    return;
  }
  if (d->is_map_entry) {
    x->pres = WEFT__EP_ALWAYS; /* key and value are always written */
  } else if (f->label == PROTOBUF_C_LABEL_NONE) {
    x->pres = WEFT__EP_IMPLICIT;
  } else if (f->type == PROTOBUF_C_TYPE_STRING ||
             f->type == PROTOBUF_C_TYPE_MESSAGE) {
    return; /* present when set and not the default: the generic path */
  } else if (f->label == PROTOBUF_C_LABEL_OPTIONAL) {
    x->pres = WEFT__EP_HAS;
  } else {
    x->pres = WEFT__EP_ALWAYS; /* required scalar or bytes */
  }
  switch (f->type) {
  case PROTOBUF_C_TYPE_INT32:
  case PROTOBUF_C_TYPE_ENUM:
    x->op = WEFT__EOP_I32;
    break;
  case PROTOBUF_C_TYPE_UINT32:
    x->op = WEFT__EOP_U32;
    break;
  case PROTOBUF_C_TYPE_SINT32:
    x->op = WEFT__EOP_Z32;
    break;
  case PROTOBUF_C_TYPE_INT64:
  case PROTOBUF_C_TYPE_UINT64:
    x->op = WEFT__EOP_V64;
    break;
  case PROTOBUF_C_TYPE_SINT64:
    x->op = WEFT__EOP_Z64;
    break;
  case PROTOBUF_C_TYPE_BOOL:
    x->op = WEFT__EOP_BOOL;
    break;
  case PROTOBUF_C_TYPE_SFIXED32:
  case PROTOBUF_C_TYPE_FIXED32:
  case PROTOBUF_C_TYPE_FLOAT:
    x->op = WEFT__EOP_F32;
    break;
  case PROTOBUF_C_TYPE_SFIXED64:
  case PROTOBUF_C_TYPE_FIXED64:
  case PROTOBUF_C_TYPE_DOUBLE:
    x->op = WEFT__EOP_F64;
    break;
  case PROTOBUF_C_TYPE_STRING:
    x->op = WEFT__EOP_STRING;
    break;
  case PROTOBUF_C_TYPE_BYTES:
    x->op = WEFT__EOP_BYTES;
    break;
  case PROTOBUF_C_TYPE_MESSAGE:
    x->op = WEFT__EOP_MESSAGE;
    break;
  }
}

/* weft__dtab.enc_fwd, from the entries. */
static int enc_fwd(const weft__ee *ee, unsigned nf) {
  unsigned i;
  for (i = 0; i < nf; i++)
    if (ee[i].op == WEFT__EOP_GENERIC || ee[i].op == WEFT__EOP_MESSAGE ||
        ee[i].op == WEFT__EOP_RMESSAGE)
      return 0;
  return 1;
}

static weft__dtab *build(const weft_msg_desc *d) {
  const ProtobufCFieldDescriptor *fields = d->base.fields;
  unsigned nf = d->base.n_fields, i, max_dense = 0;
  weft__dtab *t;
  weft__fe *fe;
  weft__ee *ee;
  uint8_t *dense;
  char *init;
  size_t size;
  int required = 0;
  /* direct index for numbers up to the largest one (when an entry index
   * fits a byte), else binary search for everything */
  if (nf && nf < 255) {
    uint32_t top = fields[nf - 1].id; /* fields are sorted by number */
    max_dense = top <= WEFT__DENSE_MAX ? top : WEFT__DENSE_MAX;
  }
  size_t init_size = WEFT__ALIGN(d->base.sizeof_message);
  size = sizeof *t + nf * (sizeof *fe + sizeof *ee) + init_size + max_dense + 1;
  t = malloc(size);
  if (!t)
    return NULL;
  fe = (weft__fe *)(void *)(t + 1);
  ee = (weft__ee *)(void *)(fe + nf);
  init = (char *)(ee + nf);
  dense = (uint8_t *)init + init_size;
  weft_message_init(d, init);
  memset(dense, 0, max_dense + 1);
  for (i = 0; i < nf; i++) {
    const ProtobufCFieldDescriptor *f = &fields[i];
    weft__fe *e = &fe[i];
    fill(d, i, e);
    fill_enc(d, i, &ee[i]);
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
  t->ee = ee;
  t->init = init;
  t->enc_fwd = enc_fwd(ee, nf);
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
