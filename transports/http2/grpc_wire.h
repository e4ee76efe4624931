/* The gRPC and gRPC-Web wire formats as pure functions over buffers, for the
 * HTTP port that serves Connect, gRPC and gRPC-Web side by side (as
 * connect-go does). Nothing here knows HTTP/2 or HTTP/1.1: the caller moves
 * headers and body bytes; these pieces frame, deframe, encode trailers and
 * parse the grpc-* headers. The HTTP/2 server (h2_server.c) uses all of
 * them; an HTTP/1.1 server serving gRPC-Web needs exactly the same calls.
 *
 * References:
 *   https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md
 *   https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-WEB.md
 *
 * How a server uses them, per request:
 *   1. weft__grpc_parse_ctype(content-type) picks the protocol (or not gRPC).
 *   2. grpc-timeout through weft__grpc_parse_timeout, grpc-encoding through
 *      weft__grpc_parse_encoding.
 *   3. The body goes through a weft__grpc_reader (which undoes grpc-web-text's
 *      base64 first); each message arrives through the callback; a failure
 *      maps to a status code with weft__grpc_error_status.
 *   4. Responses: weft__grpc_frame_header before each message; for gRPC-Web
 *      the status goes in a last frame from weft__grpc_web_trailers_frame,
 *      for gRPC into HTTP trailers made with weft__grpc_percent_encode
 *      (grpc-message) and base64 (grpc-status-details-bin). For -text every
 *      byte written to the body goes through weft__grpc_text_encode.
 *
 * Ownership: functions named *_alloc or taking char **out return malloc'd
 * memory the caller frees; everything else writes into caller buffers or
 * the reader it was given. No function keeps a pointer to its input. */
#ifndef WEFT_TRANSPORTS_GRPC_WIRE_H
#define WEFT_TRANSPORTS_GRPC_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "connect.h"
#include "weft/error.h"
#include "weft/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Which gRPC flavour a request content-type asks for. */
typedef enum weft__grpc_proto {
  WEFT__GRPC_NONE = 0, /* not a gRPC content-type */
  WEFT__GRPC_H2,       /* application/grpc[+proto|+json]: HTTP/2 only */
  WEFT__GRPC_WEB,      /* application/grpc-web[+proto|+json] */
  WEFT__GRPC_WEB_TEXT  /* application/grpc-web-text[+proto]: base64 body */
} weft__grpc_proto;

/* Frame flags. COMPRESSED is the only one a request frame may carry;
 * TRAILERS marks gRPC-Web's final frame (server to client only). */
enum { WEFT__GRPC_FLAG_COMPRESSED = 0x01, WEFT__GRPC_FLAG_TRAILERS = 0x80 };

/* Parses a content-type (case-insensitive, parameters after ';' ignored).
 * Returns WEFT__GRPC_NONE for anything else, including "+json" on
 * grpc-web-text (base64 of JSON is not a format any client sends);
 * *json (may be NULL) tells +json from proto. */
weft__grpc_proto weft__grpc_parse_ctype(const char *v, size_t len, bool *json);
/* The content-type a response of this protocol carries ("application/grpc",
 * "application/grpc+json", "application/grpc-web+proto", ...). */
const char *weft__grpc_ctype_str(weft__grpc_proto p, bool json);

/* grpc-timeout: 1 to 8 ASCII digits and a unit (H M S m u n). Returns the
 * timeout in nanoseconds (saturated at INT64_MAX), or -1 if v is not
 * such a value. */
int64_t weft__grpc_parse_timeout(const char *v, size_t len);
/* Formats ns (> 0) as grpc-timeout in the finest unit that fits 8 digits,
 * rounding up; writes a NUL-terminated string (at most 10 bytes) into out
 * and returns its length. */
size_t weft__grpc_format_timeout(int64_t ns, char out[16]);

/* grpc-encoding / a request's message coding: identity (or empty), gzip, or
 * one this side does not speak. Case-insensitive. */
typedef enum weft__grpc_enc {
  WEFT__GRPC_ENC_IDENTITY = 0,
  WEFT__GRPC_ENC_GZIP,
  WEFT__GRPC_ENC_UNSUPPORTED
} weft__grpc_enc;
weft__grpc_enc weft__grpc_parse_encoding(const char *v, size_t len);
/* Whether a grpc-accept-encoding list ("identity, deflate,gzip") names gzip
 * as one of its comma-separated tokens. */
bool weft__grpc_accepts_gzip(const char *v, size_t len);

/* grpc-message: percent-encodes every byte outside 0x20..0x7E, '%' itself
 * (PROTOCOL-HTTP2.md "Status-Message") and a space at either end (a header
 * value may not start or end with one). *out is malloc'd and
 * NUL-terminated; msg NULL is "". Returns 0 or WEFT_ERR_NOMEM. */
int weft__grpc_percent_encode(const char *msg, char **out);
/* The reverse, for clients: a '%' not followed by two hex digits is kept
 * as it is (the spec asks receivers not to fail on a malformed message).
 * *out is malloc'd and NUL-terminated. Returns 0 or WEFT_ERR_NOMEM. */
int weft__grpc_percent_decode(const char *v, size_t len, char **out);

/* Writes the 5-byte prefix of a message frame. */
static inline void weft__grpc_frame_header(uint8_t out[5], uint8_t flags,
                                           uint32_t len) {
  weft__connect_envelope_header(out, flags, len);
}

/* The status trailers (grpc-status, grpc-message, grpc-status-details-bin):
 * a handler's own trailers by these names are dropped, so it cannot forge
 * or duplicate the status the server writes from weft_status. */
bool weft__grpc_status_key(const char *key);

/* gRPC-Web's trailers frame: a 0x80 frame whose payload is HTTP/1-style
 * header lines, "grpc-status:N\r\n", "grpc-message:<percent-encoded>\r\n"
 * when the status has a message, "grpc-status-details-bin:<base64>\r\n" when
 * it has details, then each of trailers (keys lowercase; "-bin" values
 * base64) but the status keys. Values with CR or LF are skipped (they
 * would forge lines).
 * *out (the whole frame, prefix included) is malloc'd. Returns 0 or
 * WEFT_ERR_NOMEM. */
int weft__grpc_web_trailers_frame(const weft_status *st,
                                  const weft_metadata *trailers, uint8_t **out,
                                  size_t *len);
/* Parses a trailers frame's payload (without its prefix): fills st
 * (grpc-status, grpc-message decoded, grpc-status-details-bin decoded) and
 * adds every other line to trailers (may be NULL; "-bin" values decoded).
 * Returns 0, or WEFT_ERR_MALFORMED with err saying which line is wrong (no
 * grpc-status, a line without ':', bad base64, a status that is not a
 * number). */
int weft__grpc_web_parse_trailers(const uint8_t *p, size_t len, weft_status *st,
                                  weft_metadata *trailers, weft_error *err);

/* grpc-web-text request bodies: base64 arriving in chunks whose boundaries
 * fall anywhere, possibly as several padded segments one after another
 * ("AAA=" followed by "BBBB"): each 4-character group is decoded on its own,
 * so a group ending in '=' closes a segment and the next group starts a new
 * one. Characters outside the standard alphabet, or '=' anywhere but at the
 * end of a group, are an error. */
typedef struct weft__b64_stream {
  char q[4];
  unsigned n; /* characters held in q */
} weft__b64_stream;
/* Decodes what it can of in[0..len) into out (room for
 * WEFT__B64_STREAM_OUT_MAX(len) bytes); keeps an incomplete group for the
 * next call. Returns the bytes written, or -1 on invalid base64. */
#define WEFT__B64_STREAM_OUT_MAX(len) (((len) + 3) / 4 * 3)
long weft__b64_stream_feed(weft__b64_stream *b, const char *in, size_t len,
                           uint8_t *out);
/* True when no partial group is held (the body may end here). */
static inline bool weft__b64_stream_idle(const weft__b64_stream *b) {
  return b->n == 0;
}

/* The base64 text that grpc-web-text puts on the wire for these bytes
 * (standard alphabet, padded). out needs weft_base64_encoded_len(len, 0)
 * bytes; returns the characters written. A response's frames are encoded
 * one at a time (each its own padded segment), as PROTOCOL-WEB.md has
 * servers flush whole messages. */
size_t weft__grpc_text_encode(const uint8_t *in, size_t len, char *out);

/* One frame as it goes into a response body: the 5-byte prefix and p, or
 * with text their base64 as one segment. *out is malloc'd. Returns 0,
 * WEFT_ERR_NOMEM, or WEFT_ERR_TOO_BIG for n over 4 GiB - 1. */
int weft__grpc_frame_alloc(uint8_t flags, const uint8_t *p, size_t n, bool text,
                           uint8_t **out, size_t *out_len);

/* Request body reader: undoes base64 (text) and splits frames, checking what
 * gRPC and gRPC-Web require of a request frame. Feed any chunking; every
 * complete message goes to on_msg (flags tell if it is compressed). Errors
 * (returned negative, with err set):
 *   WEFT_ERR_FRAME_TOO_BIG  a frame longer than max_size (nothing allocated)
 *   WEFT_ERR_MALFORMED      bad base64 (grpc-web-text)
 *   WEFT_ERR_PROTOCOL       a flag other than COMPRESSED; the compressed
 *                           flag on a non-empty message when the request
 *                           announced no grpc-encoding
 *   WEFT_ERR_NOMEM
 * or whatever on_msg returned. After an error the reader must not be fed
 * again. */
typedef struct weft__grpc_reader {
  weft__connect_reader frames;
  bool text;          /* grpc-web-text: base64 before framing */
  bool compressed_ok; /* the request announced a grpc-encoding */
  weft__b64_stream b64;
  weft__connect_msg_fn on_msg; /* during feed */
  void *ud;
  weft_error *err;
} weft__grpc_reader;
void weft__grpc_reader_init(weft__grpc_reader *r, size_t max_size, bool text,
                            bool compressed_ok);
void weft__grpc_reader_free(weft__grpc_reader *r);
int weft__grpc_reader_feed(weft__grpc_reader *r, const uint8_t *data,
                           size_t len, weft__connect_msg_fn on_msg, void *ud,
                           weft_error *err);
/* True between frames: the request may end here. */
bool weft__grpc_reader_idle(const weft__grpc_reader *r);

/* ---- the client side of a response ----------------------------------
 *
 * A gRPC client hears the status in the trailers (or, for a response with
 * no messages, in the head: "trailers-only"). The fields are gathered one
 * at a time as the header blocks arrive, and the call's final status is
 * decided once at the end of the stream, from what came (or did not). */

/* The status keys of a response as they came. */
typedef struct weft__grpc_trailers {
  bool have_code; /* a grpc-status field was seen */
  bool bad_code;  /* ... and it was not a number 0..999 */
  int code;
  char *message;    /* grpc-message, percent-decoded; malloc'd or NULL */
  uint8_t *details; /* grpc-status-details-bin, decoded; malloc'd or NULL */
  size_t details_len;
} weft__grpc_trailers;

/* Takes one response field (name lower case, as HTTP/2 has it): a status
 * key (grpc-status, grpc-message, grpc-status-details-bin) is kept in t
 * and 1 returned; any other name returns 0 (the caller's metadata). A
 * details value that is not base64 is dropped (the code and message still
 * stand), as gRPC core does. WEFT_ERR_NOMEM. */
int weft__grpc_trailers_field(weft__grpc_trailers *t, const char *name,
                              size_t nlen, const char *v, size_t vlen);
void weft__grpc_trailers_free(weft__grpc_trailers *t);

/* The status gRPC gives a response whose HTTP status is not 200
 * (grpc/doc/http-grpc-status-mapping.md): 400 INTERNAL, 401
 * UNAUTHENTICATED, 403 PERMISSION_DENIED, 404 UNIMPLEMENTED, 429, 502, 503,
 * 504 UNAVAILABLE, anything else UNKNOWN. */
int weft__grpc_status_from_http(int http_status);

/* The status of a stream the server reset before it ended
 * (PROTOCOL-HTTP2.md, "Errors"): REFUSED_STREAM UNAVAILABLE, CANCEL
 * CANCELLED, ENHANCE_YOUR_CALM RESOURCE_EXHAUSTED, INADEQUATE_SECURITY
 * PERMISSION_DENIED, any other code INTERNAL. */
int weft__grpc_status_from_rst(uint32_t h2_code);

/* Whether a response's content-type (NULL: none came) lets a gRPC client
 * read it: application/grpc, +proto or +json; a missing one is let
 * through (the frames and the status will tell), anything else is not
 * gRPC (a proxy's page: the client answers INTERNAL, as grpc-go does). */
bool weft__grpc_response_ctype_ok(const char *v, size_t len);

/* The call's final status from what the response carried (st is
 * overwritten; t's message and details move into it):
 *   - http_status 0 (no response head): UNAVAILABLE;
 *   - an HTTP status other than 200: weft__grpc_status_from_http, whatever
 *     grpc-status says (gRPC core and grpc-go do the same);
 *   - a grpc-status: that code, message and details; one that is not a
 *     number is UNKNOWN;
 *   - trailers without grpc-status: UNKNOWN (gRPC core's "no status");
 *   - no trailers at all (the stream ended on DATA): INTERNAL.
 * Returns 0 or WEFT_ERR_NOMEM (st then has the code, not the text). */
int weft__grpc_client_status(weft__grpc_trailers *t, int http_status,
                             bool got_trailers, weft_status *st);

/* A "-bin" metadata key (binary value, base64 on the wire). */
bool weft__grpc_bin_key(const char *key, size_t len);
/* The wire form of a binary metadata value: base64 without padding, as
 * gRPC's clients send it. *out is malloc'd and NUL-terminated, *out_len
 * its length. 0 or WEFT_ERR_NOMEM. */
int weft__grpc_bin_encode(const uint8_t *p, size_t n, char **out,
                          size_t *out_len);
/* The reverse (padded or not). *out is malloc'd. 0, WEFT_ERR_MALFORMED (not
 * base64) or WEFT_ERR_NOMEM. */
int weft__grpc_bin_decode(const char *v, size_t n, uint8_t **out,
                          size_t *out_len);

/* The status code a gRPC server answers a request-reading error rv with:
 * FRAME_TOO_BIG / TOO_BIG -> RESOURCE_EXHAUSTED; PROTOCOL (a frame flag the
 * request may not carry, compression without grpc-encoding) -> INTERNAL,
 * as gRPC core and grpc-go answer; NOMEM -> RESOURCE_EXHAUSTED; anything
 * else (bad base64, a body ending inside a frame) -> INVALID_ARGUMENT. */
int weft__grpc_error_status(int rv);

#ifdef __cplusplus
}
#endif
#endif
