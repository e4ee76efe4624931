/* The protobuf binary codec, driven by generated descriptor tables.
 *
 * Decoding is weft's own table-driven code (not protobuf_c_message_unpack):
 * it names the failing field path, checks UTF-8 in proto3 strings, merges
 * repeated occurrences of a singular sub-message, keeps unknown fields
 * (groups included) for re-emission, and can allocate into an arena. The
 * output is bit-compatible with Google's implementation.
 *
 * Ownership: a message comes from one of two places. On the malloc path
 * (no arena) every string, bytes field, repeated array and sub-message is
 * its own allocation; weft_message_free() frees the whole tree.
 * In an arena (weft/arena.h) nothing is freed one by one: the tree goes when
 * the arena is freed or reset, and weft_message_free() must not be called
 * on it. A message the caller builds on the stack with pointers to its own
 * data is the caller's business: weft only reads it when encoding. */
#ifndef WEFT_CODEC_H
#define WEFT_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "weft/arena.h"
#include "weft/desc.h"
#include "weft/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WEFT_DEFAULT_MAX_DEPTH 100
#define WEFT_DEFAULT_MAX_MESSAGE_SIZE (64u * 1024u * 1024u)

typedef struct weft_decode_opts {
  weft_arena *arena;       /* NULL: malloc, free with weft_message_free() */
  unsigned max_depth;      /* 0: WEFT_DEFAULT_MAX_DEPTH */
  size_t max_message_size; /* 0: WEFT_DEFAULT_MAX_MESSAGE_SIZE */
  int discard_unknown;     /* drop unknown fields instead of keeping them */
  /* Zero-copy: `bytes` fields and unknown fields point into the input
   * instead of copies of it, so the input must stay alive and unchanged as
   * long as the message. `string` fields are still copied: the struct
   * layout (protobuf-c's) gives them no length, so they must be
   * NUL-terminated, which a slice of the input is not. Honoured by
   * weft_decode on both paths, and by weft_decode_merge with an arena. */
  int alias;
} weft_decode_opts;

/* Initializes a caller-provided message struct to its defaults. */
void weft_message_init(const weft_msg_desc *d, void *msg);
/* Allocates and initializes a message (malloc, or the arena if given).
 * NULL on OOM. Free a malloc'd one with weft_message_free(). */
void *weft_message_new(const weft_msg_desc *d, weft_arena *arena);

/* Decodes data[0..len) into a new message. opts may be NULL. data is not
 * referenced after the return (strings and bytes are copied). On success
 * *out is the caller's: malloc'd (free with weft_message_free()) or, with
 * opts->arena, in the arena; on failure *out is NULL and nothing leaks.
 * Errors: WEFT_ERR_TRUNCATED, _MALFORMED, _WIRE_TYPE, _UTF8, _DEPTH,
 * _TOO_BIG, _MISSING_REQUIRED, _NOMEM; err names the field path. */
int weft_decode(const weft_msg_desc *d, const uint8_t *data, size_t len,
                const weft_decode_opts *opts, void **out, weft_error *err);

/* Merges data into an existing message (proto merge semantics). Without
 * opts->arena, msg must come from weft_message_new, weft_decode or
 * weft_message_copy; merging into a decoded tree adds to its blocks. Same
 * errors as weft_decode. */
int weft_decode_merge(void *msg, const uint8_t *data, size_t len,
                      const weft_decode_opts *opts, weft_error *err);

/* Exact encoded size of msg. */
size_t weft_encoded_size(const void *msg);
/* Encodes into buf (cap bytes); returns bytes written or WEFT_ERR_TOO_BIG if
 * cap is short. The generated encoder of a nested type (docs/NAMING.md)
 * also returns WEFT_ERR_NOMEM when it cannot allocate its scratch (a
 * message with more than 512 sub-messages and strings keeps their sizes
 * on the heap, 4 bytes each) and WEFT_ERR_TOO_BIG past 4 GiB. */
ssize_t weft_encode(const void *msg, uint8_t *buf, size_t cap);
/* Encodes into a new malloc'd buffer of exactly the encoded size: *out is
 * the caller's, free() it. Returns 0 or WEFT_ERR_NOMEM. */
int weft_encode_alloc(const void *msg, uint8_t **out, size_t *out_len);

/* Memory on the malloc path (no arena):
 *
 * - weft_message_new(d, NULL) and weft_message_copy(.., NULL, ..) give
 *   standalone messages: each string, bytes buffer, array, sub-message and
 *   unknown field is its own malloc block.
 * - weft_decode gives a decoded tree: the whole tree lives in a few blocks
 *   (usually one) owned by the root. weft_message_free(root) releases it.
 *   You may replace any value of the tree by one of your own (a malloc'd
 *   string or buffer, a message from weft_message_new or weft_decode):
 *   weft_message_free(root) frees what you stored, and leaves alone what
 *   the decoder stored. Never free() a value the decoder stored, and never
 *   move one into another message (copy it). To drop a sub-message, call
 *   weft_message_free(sub) and then unlink or replace it: for a message
 *   inside a tree that empties it (frees what you stored in it, resets it
 *   to defaults) and its memory goes with the root.
 * - Every message weft allocates with malloc carries a header before the
 *   struct: release such a message with weft_message_free, never free(),
 *   and give weft_message_free and weft_decode_merge (without an arena)
 *   only messages that weft allocated.
 *
 * Frees a message tree decoded or built on the malloc path, as above.
 * Accepts NULL. Never call it on an arena-allocated message. */
void weft_message_free(void *msg);
/* Frees what msg owns but not msg itself, for a struct embedded in your own
 * (weft_message_init) or a standalone message; not for a decoded tree's
 * message (use weft_message_free, which empties an inner one). */
void weft_message_clear(void *msg);

/* Deep copy: *out is a new tree, malloc'd (free with weft_message_free())
 * or, with arena, in it; src is not referenced afterwards. Returns 0 or
 * WEFT_ERR_NOMEM. */
int weft_message_copy(const void *src, weft_arena *arena, void **out);
/* Deep equality of two messages of the same type, unknown fields included. */
int weft_message_equal(const void *a, const void *b);

/* Checks required fields recursively; names the first missing one.
 * Returns 0 or WEFT_ERR_MISSING_REQUIRED. */
int weft_message_check(const void *msg, weft_error *err);

#ifdef __cplusplus
}
#endif
#endif
