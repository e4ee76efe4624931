/* Shared by the codec's two writers: encode.c (back to front, any type)
 * and encode_fwd.c (front to back, for types whose sub-messages are flat;
 * see weft__dtab.enc_fwd). Nothing here is public API. */
#ifndef WEFT_CODEC_ENCODE_H
#define WEFT_CODEC_ENCODE_H

#include <sys/types.h>

#include "dectab.h"
#include "internal.h"

/* Copies n <= 16 bytes without a call (a library call costs more than
 * the copy for the short strings and small messages that dominate); all
 * loads come before the stores, so the ranges may overlap. */
WEFT__INLINE void weft__copy_small(uint8_t *dst, const uint8_t *src, size_t n) {
  if (n >= 8) {
    uint64_t a, b;
    memcpy(&a, src, 8);
    memcpy(&b, src + n - 8, 8);
    memcpy(dst, &a, 8);
    memcpy(dst + n - 8, &b, 8);
  } else if (n >= 4) {
    uint32_t a, b;
    memcpy(&a, src, 4);
    memcpy(&b, src + n - 4, 4);
    memcpy(dst, &a, 4);
    memcpy(dst + n - 4, &b, 4);
  } else if (n) {
    uint8_t a = src[0], b = src[n / 2], c = src[n - 1];
    dst[0] = a;
    dst[n / 2] = b;
    dst[n - 1] = c;
  }
}

/* Shared by the walks over the encode entries (the size walk, both
 * writers): the presence of a `has_` field, and the varint a scalar entry
 * writes. */

/* Whether x's field has a `has_` flag that is clear (skip it). */
WEFT__INLINE int weft__ee_unset(const weft__ee *x, const void *msg) {
  return x->pres == WEFT__EP_HAS &&
         !*(const protobuf_c_boolean *)((const char *)msg + x->qoff);
}

/* The varint of a 32-bit entry (I32, U32, Z32) holding u: a negative
 * int32 or enum takes 10 bytes, as Google's encoders write it. */
WEFT__INLINE uint64_t weft__ee_v32(const weft__ee *x, uint32_t u) {
  if (x->op == WEFT__EOP_I32)
    return (uint64_t)(int64_t)(int32_t)u;
  if (x->op == WEFT__EOP_Z32)
    return weft__zz32((int32_t)u);
  return u;
}

/* The varint of a 64-bit entry (V64, Z64) holding v. */
WEFT__INLINE uint64_t weft__ee_v64(const weft__ee *x, uint64_t v) {
  return x->op == WEFT__EOP_Z64 ? weft__zz64((int64_t)v) : v;
}

/* The body of a map<string, string> entry of key and value lengths kn
 * and vn: both fields, tags included. */
WEFT__INLINE size_t weft__ss_entry_len(size_t kn, size_t vn) {
  return 2 + weft__varint_size(kn) + kn + weft__varint_size(vn) + vn;
}

/* The exact encoded size of msg, of type d (weft_encoded_size's walk). */
size_t weft__msg_size(const weft_msg_desc *d, const void *msg);

/* weft_encode for a message whose table T has enc_fwd set: writes it
 * from buf onwards, so the output needs no final move. Returns the length,
 * or WEFT_ERR_TOO_BIG when cap is too small. */
ssize_t weft__encode_fwd(const weft__dtab *T, const void *msg, uint8_t *buf,
                         size_t cap);

/* weft_encode_alloc through the table-driven backward writer whatever the
 * type: the reference the forward writers are checked against (tests,
 * fuzz). */
int weft__encode_alloc_backward(const void *msg, uint8_t **out,
                                size_t *out_len);

/* weft_encode_alloc without the type's generated encoder: the table
 * walk's exact size, then one write into an exact allocation. */
int weft__encode_alloc_tables(const void *msg, uint8_t **out, size_t *out_len);

#endif
