/* Internal helpers shared by the codec's files: wire-format primitives,
 * field storage accessors and the arena-or-malloc allocator switch.
 * Nothing here is public API. */
#ifndef WEFT_CODEC_INTERNAL_H
#define WEFT_CODEC_INTERNAL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "weft/codec.h"
#include "arena_internal.h"
#include "tree.h"

#if defined(__GNUC__)
#define WEFT__LIKELY(x) __builtin_expect(!!(x), 1)
#define WEFT__UNLIKELY(x) __builtin_expect(!!(x), 0)
#define WEFT__INLINE static inline __attribute__((always_inline))
#else
#define WEFT__LIKELY(x) (x)
#define WEFT__UNLIKELY(x) (x)
#define WEFT__INLINE static inline
#endif

/* The host must be little-endian: fixed-width fields are copied as is. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "weft's codec assumes a little-endian host"
#endif

/* Wire types, including the two group markers protobuf-c's enum lacks. */
enum {
  WEFT__WT_VARINT = 0,
  WEFT__WT_I64 = 1,
  WEFT__WT_LEN = 2,
  WEFT__WT_SGROUP = 3,
  WEFT__WT_EGROUP = 4,
  WEFT__WT_I32 = 5
};

#define WEFT__MEMBER(msg, off) ((void *)((char *)(msg) + (off)))
#define WEFT__CMEMBER(msg, off) ((const void *)((const char *)(msg) + (off)))

/* Field is a proto2 group (start/end-group tags instead of a length). */
WEFT__INLINE int weft__is_group(const weft_msg_desc *d, unsigned i) {
#ifdef WEFT_FIELD_GROUP
  return d->field_info && (d->field_info[i].flags & WEFT_FIELD_GROUP);
#else
  (void)d;
  (void)i;
  return 0;
#endif
}

WEFT__INLINE int weft__check_utf8(const weft_msg_desc *d, unsigned i) {
  return d->field_info && (d->field_info[i].flags & WEFT_FIELD_CHECK_UTF8);
}

/* Storage size of one element of a field of type t in a C struct. */
WEFT__INLINE size_t weft__elem_size(ProtobufCType t) {
  switch (t) {
  case PROTOBUF_C_TYPE_INT64:
  case PROTOBUF_C_TYPE_SINT64:
  case PROTOBUF_C_TYPE_SFIXED64:
  case PROTOBUF_C_TYPE_UINT64:
  case PROTOBUF_C_TYPE_FIXED64:
  case PROTOBUF_C_TYPE_DOUBLE:
    return 8;
  case PROTOBUF_C_TYPE_STRING:
  case PROTOBUF_C_TYPE_MESSAGE:
    return sizeof(void *);
  case PROTOBUF_C_TYPE_BYTES:
    return sizeof(ProtobufCBinaryData);
  case PROTOBUF_C_TYPE_BOOL:
    return sizeof(protobuf_c_boolean);
  default:
    return 4;
  }
}

/* A scalar field (packable). */
WEFT__INLINE int weft__is_scalar(ProtobufCType t) {
  return t != PROTOBUF_C_TYPE_STRING && t != PROTOBUF_C_TYPE_BYTES &&
         t != PROTOBUF_C_TYPE_MESSAGE;
}

/* Native wire type of a field type. */
WEFT__INLINE int weft__wire_type(ProtobufCType t) {
  switch (t) {
  case PROTOBUF_C_TYPE_SFIXED32:
  case PROTOBUF_C_TYPE_FIXED32:
  case PROTOBUF_C_TYPE_FLOAT:
    return WEFT__WT_I32;
  case PROTOBUF_C_TYPE_SFIXED64:
  case PROTOBUF_C_TYPE_FIXED64:
  case PROTOBUF_C_TYPE_DOUBLE:
    return WEFT__WT_I64;
  case PROTOBUF_C_TYPE_STRING:
  case PROTOBUF_C_TYPE_BYTES:
  case PROTOBUF_C_TYPE_MESSAGE:
    return WEFT__WT_LEN;
  default:
    return WEFT__WT_VARINT;
  }
}

WEFT__INLINE size_t weft__varint_size(uint64_t v) {
  /* 1 + floor(bits/7), computed without a loop. */
  unsigned bits = 64 - (unsigned)__builtin_clzll(v | 1);
  return (bits * 9 + 64) / 64;
}

WEFT__INLINE uint32_t weft__zz32(int32_t v) {
  return ((uint32_t)v << 1) ^ (uint32_t)(v >> 31);
}
WEFT__INLINE uint64_t weft__zz64(int64_t v) {
  return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}
WEFT__INLINE int32_t weft__unzz32(uint32_t v) {
  return (int32_t)((v >> 1) ^ (~(v & 1) + 1));
}
WEFT__INLINE int64_t weft__unzz64(uint64_t v) {
  return (int64_t)((v >> 1) ^ (~(v & 1) + 1));
}

/* ---- malloc-path messages and decoded trees ----
 *
 * Every message weft allocates without a caller's arena is preceded by a
 * header. A standalone message (weft_message_new(d, NULL), a copy) is its
 * own malloc block, header included. A message tree decoded on the malloc
 * path lives in a weft__tree: one malloc holding the tree's bookkeeping and
 * the first block of a private arena, sized from the input length, so a
 * typical decode costs one malloc and one free. Messages inside the tree
 * point their header at it; weft_message_free() on the root releases the
 * blocks, on an inner message it only clears it (see weft/codec.h). Values
 * a user stores into a tree afterwards are recognized by address (not in
 * one of the tree's blocks, not aliased input) and freed one by one. */
struct weft__tree {
  weft_arena a; /* its first block is in the same malloc as the tree */
  void *root;
  /* input aliased by bytes and unknown fields (weft_decode_opts.alias) */
  const uint8_t *alias_lo, *alias_hi;
};

typedef struct weft__mhdr {
  weft__tree *tree; /* NULL: the message is its own malloc block */
  uint64_t magic;   /* WEFT__MHDR_MAGIC: a debugging aid */
} weft__mhdr;
#define WEFT__MHDR_MAGIC 0x6d73676877656674ull

WEFT__INLINE weft__mhdr *weft__hdr(const void *msg) {
  return (weft__mhdr *)(void *)((char *)(uintptr_t)msg - sizeof(weft__mhdr));
}

/* p is in one of t's blocks or in the aliased input: never free() it. */
int weft__tree_holds(const weft__tree *t, const void *p);

/* Allocates a message struct (not initialized): in arena a (no header) when
 * t is NULL and a is set, in tree t (a == &t->a), or alone with malloc. */
WEFT__INLINE void *weft__msg_alloc(weft_arena *a, weft__tree *t,
                                   const weft_msg_desc *d) {
  weft__mhdr *h;
  size_t n = d->base.sizeof_message;
  if (a && !t)
    return weft__arena_alloc(a, n);
  h = t ? weft__arena_alloc(&t->a, sizeof *h + n) : malloc(sizeof *h + n);
  if (!h)
    return NULL;
  h->tree = t;
  h->magic = WEFT__MHDR_MAGIC;
  return h + 1;
}

/* Allocation: the arena if there is one, else malloc. */
WEFT__INLINE void *weft__alloc(weft_arena *a, size_t n) {
  return a ? weft__arena_alloc(a, n) : malloc(n ? n : 1);
}
WEFT__INLINE void *weft__calloc(weft_arena *a, size_t n) {
  return a ? weft_arena_calloc(a, n) : calloc(1, n ? n : 1);
}
/* Grows a block from old_n to new_n bytes, keeping its contents. */
void *weft__realloc(weft_arena *a, void *p, size_t old_n, size_t new_n);

/* Default-value helpers used by init, decode and free: values no one
 * allocated (NULL, the empty string, the field's default). */
WEFT__INLINE int weft__string_is_static(const ProtobufCFieldDescriptor *f,
                                        const char *s) {
  return s == NULL || s == protobuf_c_empty_string ||
         (f->default_value && s == (const char *)f->default_value);
}
WEFT__INLINE int weft__bytes_is_static(const ProtobufCFieldDescriptor *f,
                                       const uint8_t *data) {
  return data == NULL ||
         (f->default_value &&
          data == ((const ProtobufCBinaryData *)f->default_value)->data);
}
/* Frees what one field of msg owns (malloc path) and resets it to zero.
 * t: the tree msg lives in (values inside it are not freed), or NULL. */
void weft__field_clear(const weft__tree *t, const ProtobufCFieldDescriptor *f,
                       void *msg);

/* UTF-8 validation (RFC 3629: no overlongs, surrogates or > U+10FFFF). */
#include "weft/utf8.h"

/* Known-field presence for the encoder and weft_message_check. */
int weft__field_present(const weft_msg_desc *d, unsigned i, const void *msg);

/* Capacity rule for arrays weft grows: the next power of two >= n (min 4),
 * so an array's capacity is implied by its count and needs no storage. */
WEFT__INLINE size_t weft__cap_for(size_t n) {
  if (n <= 4)
    return 4;
  return (size_t)1 << (64 - __builtin_clzll((unsigned long long)(n - 1)));
}

#endif
