/* The Connect protocol's I/O-free pieces: status <-> HTTP mapping, the JSON
 * error body, the 5-byte envelope of streaming messages, Connect-Timeout-Ms,
 * and bounded gzip. The HTTP/2 transport glues these to nghttp2; nothing here
 * touches a socket, so all of it is unit-tested and fuzzed on buffers.
 * Reference: https://connectrpc.com/docs/protocol */
#ifndef WEFT_TRANSPORTS_CONNECT_H
#define WEFT_TRANSPORTS_CONNECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weft/error.h"
#include "weft/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Envelope flags of application/connect+* streams. */
enum {
  WEFT__CONNECT_FLAG_COMPRESSED = 0x01,
  WEFT__CONNECT_FLAG_END_STREAM = 0x02
};

/* HTTP status for an error with this code (unary responses). */
int weft__connect_http_status(int code);
/* Code implied by an HTTP status when the body carries no Connect error. */
int weft__connect_code_from_http(int http_status);

/* {"code":"not_found","message":"...","details":[...]} into a new malloc'd
 * string. details_json, if not NULL, is inserted verbatim as the "details"
 * array. */
int weft__connect_error_json(const weft_status *st, char **out, size_t *len);
/* Parses an error body; on success st->code/message are set. A body that is
 * not a Connect error leaves st->code = fallback_code. */
int weft__connect_parse_error(const char *body, size_t len, int fallback_code,
                              weft_status *st);

/* End-of-stream message of a streaming response:
 * {"error":{...}?, "metadata":{"key":["v"]}} */
int weft__connect_end_stream_json(const weft_status *st,
                                  const weft_metadata *trailers, char **out,
                                  size_t *len);
int weft__connect_parse_end_stream(const char *body, size_t len,
                                   weft_status *st, weft_metadata *trailers);

/* Connect-Timeout-Ms: a positive integer of 1..10 ASCII digits. Returns the
 * value or -1 (0, signs, spaces, other characters, more digits). */
int64_t weft__connect_parse_timeout(const char *v, size_t len);

/* The query of a Connect GET request
 * (https://connectrpc.com/docs/protocol#unary-get-request), as parsed by
 * weft__connect_get_parse. */
typedef struct weft__connect_get {
  bool json;               /* encoding=json (else proto) */
  const char *compression; /* compression=..., decoded; NULL if none */
  uint8_t *message;        /* the request message's bytes (malloc'd) */
  size_t message_len;
  char *storage_; /* owns compression's text */
} weft__connect_get;

/* Parses query (the part after '?', NUL-terminated): encoding=json|proto
 * (required), message= (percent-encoded; with base64=1 URL-safe or
 * standard base64, padding optional), compression=, connect=v1 (optional;
 * another value is an error). Messages over max_size are WEFT_ERR_TOO_BIG.
 * Returns 0, or WEFT_ERR_INVAL / _TOO_BIG / _NOMEM with err saying which
 * parameter; WEFT_ERR_UNSUPPORTED for a missing or unknown encoding (the
 * caller answers 415). Free with weft__connect_get_free (also after an
 * error). */
int weft__connect_get_parse(const char *query, size_t max_size,
                            weft__connect_get *out, weft_error *err);
void weft__connect_get_free(weft__connect_get *g);

/* Incremental envelope reader: feed arbitrary chunks; each complete message
 * is delivered through on_msg. Messages over max_size fail with
 * WEFT_ERR_FRAME_TOO_BIG before anything is allocated for them. */
typedef int (*weft__connect_msg_fn)(void *ud, uint8_t flags,
                                    const uint8_t *data, size_t len);
typedef struct weft__connect_reader {
  size_t max_size;
  uint8_t hdr[5];
  size_t hdr_have;
  uint8_t flags;
  uint8_t *buf;
  size_t want, have;
} weft__connect_reader;

void weft__connect_reader_init(weft__connect_reader *r, size_t max_size);
void weft__connect_reader_free(weft__connect_reader *r);
/* Returns 0, or < 0 (framing error, or whatever on_msg returned). */
int weft__connect_reader_feed(weft__connect_reader *r, const uint8_t *data,
                              size_t len, weft__connect_msg_fn on_msg, void *ud,
                              weft_error *err);
/* True between messages (a stream may end here cleanly). */
bool weft__connect_reader_idle(const weft__connect_reader *r);

/* Writes the 5-byte prefix. */
void weft__connect_envelope_header(uint8_t out[5], uint8_t flags, uint32_t len);

/* gzip (RFC 1952) of in into a new malloc'd buffer. */
int weft__gzip(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len);
/* gunzip with an output bound: more than max_out bytes is
 * WEFT_ERR_TOO_BIG (a decompression bomb costs nothing). */
int weft__gunzip(const uint8_t *in, size_t len, size_t max_out, uint8_t **out,
                 size_t *out_len, weft_error *err);

#ifdef __cplusplus
}
#endif
#endif
