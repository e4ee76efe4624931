/* Message bodies of the Connect protocol: protobuf binary or JSON, chosen by
 * the content type, and metadata <-> HTTP header conversion. */
#ifndef WEFT_TRANSPORTS_H2_MSG_H
#define WEFT_TRANSPORTS_H2_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weft/arena.h"
#include "weft/desc.h"
#include "weft/error.h"
#include "weft/status.h"

typedef enum weft__h2_ctype {
  WEFT__CT_UNKNOWN = 0,
  WEFT__CT_JSON,        /* application/json: unary */
  WEFT__CT_PROTO,       /* application/proto: unary */
  WEFT__CT_STREAM_JSON, /* application/connect+json */
  WEFT__CT_STREAM_PROTO /* application/connect+proto */
} weft__h2_ctype;

weft__h2_ctype weft__h2_parse_ctype(const char *v, size_t len);
const char *weft__h2_ctype_str(weft__h2_ctype t);
static inline bool weft__h2_ctype_json(weft__h2_ctype t) {
  return t == WEFT__CT_JSON || t == WEFT__CT_STREAM_JSON;
}
static inline bool weft__h2_ctype_stream(weft__h2_ctype t) {
  return t == WEFT__CT_STREAM_JSON || t == WEFT__CT_STREAM_PROTO;
}

int weft__h2_encode(const void *msg, bool json, uint8_t **out, size_t *len,
                    weft_error *err);
int weft__h2_decode(const weft_msg_desc *d, bool json, const uint8_t *data,
                    size_t len, weft_arena *arena, size_t max_size, void **out,
                    weft_error *err);

/* Headers that are protocol, not application metadata. */
bool weft__h2_reserved_header(const char *name, size_t len);

#endif
