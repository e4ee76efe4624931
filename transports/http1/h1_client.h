/* The HTTP/1.1 client engine (RFC 9112), with no I/O: the request
 * serializer and the response parser of one connection.
 *
 * The owner submits one request (weft__h1c_submit_request, then body bytes
 * and the end), writes what weft__h1c_output() gives, and feeds whatever
 * the socket returns, in chunks of any size (down to one byte). The engine
 * reports the response through three callbacks: the head (status line and
 * fields, after any 1xx interim responses, which are skipped), body bytes
 * (de-chunked) and the end (with trailers). One exchange at a time, no
 * pipelining: once the response has ended, feed consumes nothing more,
 * and weft__h1c_reusable() says whether the next request may follow on the
 * same connection.
 *
 * The response body is framed as RFC 9112 section 6.3 says: none for a
 * HEAD request and for 1xx, 204 and 304; chunked when Transfer-Encoding
 * ends in chunked; Content-Length; else read until the server closes
 * (weft__h1c_feed_eof ends it). Every ambiguity a proxy could be fooled by
 * is a framing error (both Content-Length and Transfer-Encoding, two
 * Content-Lengths, a coding other than chunked, bare LF or CR, obs-fold),
 * which fails the engine for good: the owner closes the connection. The
 * request is sent with Content-Length when the owner knows it, else
 * chunked (with trailers). */
#ifndef WEFT_TRANSPORTS_HTTP1_H1_CLIENT_H
#define WEFT_TRANSPORTS_HTTP1_H1_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "h1_common.h"
#include "weft/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft__h1c weft__h1c;

typedef struct weft__h1c_response {
  int status;         /* 200..999 (1xx are skipped) */
  int minor;          /* HTTP/1.<minor> */
  const char *reason; /* NUL-terminated, possibly "" */
  const weft__h1_field *fields;
  size_t nfields;
  int64_t content_length; /* -1: none (chunked, close-delimited, no body) */
  bool chunked;
  bool close_delimited; /* the body ends when the server closes */
  bool keep_alive;      /* the connection may carry the next request */
} weft__h1c_response;

/* Case-insensitive lookup of the first field called name (NULL if none). */
const weft__h1_field *weft__h1c_find(const weft__h1c_response *r,
                                     const char *name);

typedef struct weft__h1c_limits {
  size_t max_head;   /* status line + fields, or trailers; 0: 64 KiB */
  size_t max_fields; /* 0: 100 */
  uint64_t max_body; /* de-chunked body; 0: no limit (the owner bounds
                        messages inside it) */
} weft__h1c_limits;

/* Each returns 0 to go on or < 0 to fail the feed with that code (the
 * engine is then failed). Pointers are valid during the call only. */
typedef struct weft__h1c_callbacks {
  int (*on_response)(void *ud, const weft__h1c_response *r);
  int (*on_body)(void *ud, const uint8_t *data, size_t len);
  int (*on_end)(void *ud, const weft__h1_field *trailers, size_t ntrailers);
} weft__h1c_callbacks;

/* limits may be NULL. Returns 0, WEFT_ERR_INVAL (out or cb NULL, or
 * on_response / on_end missing) or WEFT_ERR_NOMEM. */
int weft__h1c_new(weft__h1c **out, const weft__h1c_callbacks *cb, void *ud,
                  const weft__h1c_limits *limits);
void weft__h1c_free(weft__h1c *h); /* accepts NULL */

/* ---- the request ---- */

/* The request line and fields. host is the Host field (required).
 * content_length >= 0 sends Content-Length, -1 a chunked body. Host,
 * Content-Length, Transfer-Encoding and Connection are the engine's: the
 * owner must not pass them. Returns 0, WEFT_ERR_INVAL (a method that is not
 * a token, a target with spaces or controls, a field that is not valid or
 * is the engine's), WEFT_ERR_STATE (an exchange is under way or the engine
 * failed) or WEFT_ERR_NOMEM. */
int weft__h1c_submit_request(weft__h1c *h, const char *method,
                             const char *target, const char *host,
                             const weft__h1_field *fields, size_t nfields,
                             int64_t content_length);
/* Body bytes (a chunk of their own when chunked). More than the announced
 * Content-Length is WEFT_ERR_INVAL. */
int weft__h1c_submit_data(weft__h1c *h, const uint8_t *data, size_t len);
/* Ends the request; trailers only on a chunked body. A body shorter than
 * its Content-Length is WEFT_ERR_INVAL. */
int weft__h1c_submit_end(weft__h1c *h, const weft__h1_field *trailers,
                         size_t ntrailers);

/* Bytes to write; valid until the next submit or consume. */
size_t weft__h1c_output(const weft__h1c *h, const uint8_t **data);
void weft__h1c_consume(weft__h1c *h, size_t n);

/* ---- the response ---- */

/* Feeds len bytes. Returns the bytes consumed: len, or fewer once the
 * response has ended (the rest belongs to no request: the owner closes).
 * A response may arrive before the request was sent whole (a server
 * refusing early): it is parsed all the same. < 0: a framing error
 * (WEFT_ERR_PROTOCOL, _TOO_BIG, _LIMIT, _UNSUPPORTED; err says what and
 * where), or a callback's code; the engine is failed. Feeding with no
 * request submitted is WEFT_ERR_PROTOCOL (bytes nobody asked for). */
ssize_t weft__h1c_feed(weft__h1c *h, const uint8_t *in, size_t len,
                       weft_error *err);
/* The server closed. Ends a close-delimited body (on_end runs) and returns
 * 0; returns 0 as well when no response was under way or it had ended;
 * else WEFT_ERR_TRUNCATED (err says where it stopped). */
int weft__h1c_feed_eof(weft__h1c *h, weft_error *err);

/* True once the response has ended (on_end ran). */
bool weft__h1c_response_done(const weft__h1c *h);
/* True when the exchange is over (request sent whole, response ended) and
 * both sides keep the connection: submit the next request. */
bool weft__h1c_reusable(const weft__h1c *h);
/* True when the engine failed (sticky). */
bool weft__h1c_failed(const weft__h1c *h);
/* Bytes of the current response fed so far (0: nothing arrived yet, so a
 * request on a reused connection that the server closed can be retried on
 * a new one). */
uint64_t weft__h1c_received(const weft__h1c *h);

#ifdef __cplusplus
}
#endif
#endif
