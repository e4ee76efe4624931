/* Internal to weft_mux: the JSON forms of the envelope and the payload. */
#ifndef WEFT_TRANSPORTS_MUX_INTERNAL_H
#define WEFT_TRANSPORTS_MUX_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "envelope.h"
#include "weft/arena.h"
#include "weft/desc.h"
#include "weft/error.h"

/* weft.v1.Envelope in the proto3 JSON mapping (lowerCamelCase names, enum
 * names, 64-bit integers as strings, bytes as base64), into a new malloc'd
 * buffer. */
int weft__env_json_encode(const weft__env_out *o, uint8_t **out, size_t *len);
/* Parses a JSON envelope (either field-name form, enums as names or
 * numbers). The views in e point into *scratch, which the caller frees. */
int weft__env_json_decode(weft__env *e, const uint8_t *data, size_t len,
                          uint8_t **scratch, weft_error *err);

/* The message payload as proto3 JSON text (needs weft_json; without it
 * they return WEFT_ERR_UNSUPPORTED). */
int weft__payload_json_encode(const void *msg, char **out, size_t *len);
int weft__payload_json_decode(const weft_msg_desc *d, const uint8_t *p,
                              size_t n, weft_arena *arena, void **out,
                              weft_error *err);

#endif
