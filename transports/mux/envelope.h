/* weft.v1.Envelope in protobuf binary, encoded and decoded by hand.
 *
 * The envelope is on every frame of tcp:// and ws://, so it gets a
 * dedicated codec: decoding makes no allocation (strings, metadata and the
 * payload are views into the input) and encoding writes the payload straight
 * after the header fields in one buffer. The wire format is exactly what
 * protoc's generated code reads and writes for schema/weft/v1/envelope.proto
 * (unknown fields skipped, last value wins for scalars, sub-messages merge),
 * so any protobuf implementation can speak to weft. No I/O. */
#ifndef WEFT_TRANSPORTS_MUX_ENVELOPE_H
#define WEFT_TRANSPORTS_MUX_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "weft/error.h"

#ifdef __cplusplus
extern "C" {
#endif

enum weft__frame_kind {
  WEFT__FK_UNSPECIFIED = 0,
  WEFT__FK_OPEN = 1,
  WEFT__FK_MESSAGE = 2,
  WEFT__FK_HALF_CLOSE = 3,
  WEFT__FK_HEADERS = 4,
  WEFT__FK_STATUS = 5,
  WEFT__FK_CANCEL = 6,
  WEFT__FK_PING = 7,
  WEFT__FK_PONG = 8,
  WEFT__FK_GOAWAY = 9
};

typedef struct weft__bytes {
  const uint8_t *p;
  size_t n;
} weft__bytes;

typedef struct weft__env {
  uint64_t stream_id;
  int32_t kind;
  weft__bytes method;
  /* Metadata entries stay on the wire; walk them with weft__env_md_next. */
  const uint8_t *buf; /* the whole encoded envelope (for the walk) */
  size_t buf_len;
  size_t n_md;
  weft__bytes payload;
  bool has_payload; /* payload field present (even if empty) */
  bool has_status;
  int32_t status_code;
  weft__bytes status_message;
  weft__bytes status_details;
  int64_t timeout_ms;
} weft__env;

/* Metadata entry view; key and value are not NUL-terminated. */
typedef struct weft__env_md {
  weft__bytes key, value;
} weft__env_md;

/* Decodes; every view points into data. Errors: WEFT_ERR_TRUNCATED,
 * _MALFORMED, _WIRE_TYPE, _UTF8 (err names the field). */
int weft__env_decode(weft__env *e, const uint8_t *data, size_t len,
                     weft_error *err);
/* Iterates metadata entries: *pos starts at 0; returns 1 with *out set, 0
 * at the end. Only valid on a successfully decoded envelope. */
int weft__env_md_next(const weft__env *e, size_t *pos, weft__env_md *out);

/* Building an envelope for sending. Metadata comes as parallel arrays so
 * the mux can pass weft_metadata entries without converting them. */
typedef struct weft__env_out {
  uint64_t stream_id;
  int32_t kind;
  const char *method; /* NULL: absent */
  size_t n_md;
  const char *const *md_keys;
  const uint8_t *const *md_values;
  const size_t *md_value_lens;
  /* md_stride: the metadata arrays are read as entries of this many bytes
   * (0: separate arrays as above). Lets a weft_metadata_entry array be
   * passed directly: keys = &entries[0].key etc., stride = sizeof entry. */
  size_t md_stride;
  bool has_status;
  int32_t status_code;
  const char *status_message;
  const uint8_t *status_details;
  size_t status_details_len;
  int64_t timeout_ms;
  /* Payload: either bytes, or a size and a writer that fills exactly that
   * many bytes (so a message can be encoded in place). */
  bool has_payload;
  const uint8_t *payload;
  size_t payload_len;
  ssize_t (*payload_write)(void *ud, uint8_t *dst, size_t len);
  void *payload_ud;
} weft__env_out;

/* Encoded size. */
size_t weft__env_size(const weft__env_out *o);
/* Encodes into buf (exactly weft__env_size bytes). Returns the length or
 * the payload writer's error. */
ssize_t weft__env_encode(const weft__env_out *o, uint8_t *buf, size_t cap);

/* RFC 3629 UTF-8 check (no overlongs, no surrogates). */
#include "weft/utf8.h"

#ifdef __cplusplus
}
#endif
#endif
