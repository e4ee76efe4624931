/* Field paths of the REST mapper ("a.b.c", proto or JSON names) resolved
 * over a message descriptor; shared by the router's checks and the
 * request builder. */
#ifndef WEFT_REST_RESOLVE_H
#define WEFT_REST_RESOLVE_H

#include "rest_internal.h"
#include "weft/desc.h"

#define WEFT__REST_MAX_DEPTH 16

typedef struct weft__rest_fpath {
  unsigned n;
  const weft_msg_desc *msg[WEFT__REST_MAX_DEPTH]; /* the message of step i */
  const ProtobufCFieldDescriptor *f[WEFT__REST_MAX_DEPTH];
} weft__rest_fpath;

/* Resolves path[0..len) in d. Every step but the last must be a singular,
 * non-map message field that is not a well-known type. Returns 0, or
 * WEFT_ERR_INVAL with err saying which step is wrong (what names the
 * path's role: "query parameter", "variable", ...). */
int weft__rest_resolve(const weft_msg_desc *d, const char *path, size_t len,
                       const char *what, weft__rest_fpath *out,
                       weft_error *err);

/* Whether a leaf field can take a value from a path or query string: a
 * scalar, an enum, or a well-known type with a string form (Timestamp,
 * Duration, FieldMask, the wrappers). Maps never. */
int weft__rest_leaf_ok(const ProtobufCFieldDescriptor *f,
                       const weft_msg_desc *owner);

#endif
