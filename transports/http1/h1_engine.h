/* The HTTP/1.1 server engine (RFC 9112), with no I/O.
 *
 * The owner feeds it whatever the socket returned, in chunks of any size
 * (down to one byte); the engine parses one request at a time and reports
 * it through three callbacks: the head (request line and fields), body
 * bytes (de-chunked), and the end (with trailers). The owner answers with
 * submit_head / submit_data / submit_end and drains the bytes to write with
 * weft__h1_output / weft__h1_consume.
 *
 * Why weft's own parser and not Debian's libhttp-parser: http-parser is no
 * longer maintained upstream (its successor, llhttp, is not in Debian 12),
 * it is lenient in exactly the places request smuggling lives (it accepts
 * obs-fold, bare LF, and leaves Content-Length/Transfer-Encoding conflicts
 * to the caller), and a head that fits the owner's limits is small enough
 * to parse whole once its end is seen. Here every framing ambiguity is an
 * error with the status to send (docs/HTTP1.md lists them).
 *
 * Pipelining is handled by pausing: once a request has been read whole,
 * feed consumes nothing more until its response has been submitted to the
 * end, so requests are answered strictly in order and a client cannot make
 * the engine buffer more than one request head. The owner keeps the bytes
 * feed did not consume and feeds them again when weft__h1_want_read() says
 * so (it stops reading its socket meanwhile: that is the backpressure).
 *
 * After a protocol error (feed returns < 0) the engine is failed: the owner
 * calls weft__h1_submit_error() (the canned response with the status
 * weft__h1_error_status() gives, `Connection: close`), writes the output
 * and closes. Nothing else is served on that connection. */
#ifndef WEFT_TRANSPORTS_HTTP1_H1_ENGINE_H
#define WEFT_TRANSPORTS_HTTP1_H1_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "h1_common.h"
#include "weft/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft__h1 weft__h1;

typedef struct weft__h1_request {
  const char *method; /* NUL-terminated, e.g. "POST" */
  const char *target; /* as sent: origin-form "/a?b", absolute-form, "*" */
  int minor;          /* HTTP/1.<minor>: 0 or 1 */
  const weft__h1_field *fields;
  size_t nfields;
  int64_t content_length; /* -1: none given (chunked, or no body) */
  bool chunked;
  bool expect_continue; /* `Expect: 100-continue` (HTTP/1.1 only) */
  bool keep_alive;      /* what the client's version and Connection say */
  bool head;            /* a HEAD request: the response carries no body */
} weft__h1_request;

/* Case-insensitive lookup of the first field called name (NULL if none). */
const weft__h1_field *weft__h1_find(const weft__h1_request *rq,
                                    const char *name);

typedef struct weft__h1_limits {
  size_t max_line;   /* request line; 0: 8 KiB (414 past it) */
  size_t max_head;   /* request line + fields; 0: 16 KiB (431) */
  size_t max_fields; /* 0: 100 (431) */
  uint64_t max_body; /* de-chunked body; 0: 4 MiB (413) */
} weft__h1_limits;

/* Each returns 0 to go on or < 0 to fail the feed with that code (the
 * engine is then failed; the owner closes). Pointers are valid during the
 * call only. */
typedef struct weft__h1_callbacks {
  int (*on_request)(void *ud, const weft__h1_request *rq);
  int (*on_body)(void *ud, const uint8_t *data, size_t len);
  int (*on_end)(void *ud, const weft__h1_field *trailers, size_t ntrailers);
} weft__h1_callbacks;

/* limits may be NULL (defaults). Returns 0, WEFT_ERR_INVAL or _NOMEM. */
int weft__h1_new(weft__h1 **out, const weft__h1_callbacks *cb, void *ud,
                 const weft__h1_limits *limits);
void weft__h1_free(weft__h1 *h); /* accepts NULL */

/* Feeds len bytes. Returns the bytes consumed: len, or fewer when the
 * engine pauses for a response (see pipelining above). < 0: a protocol
 * error (WEFT_ERR_PROTOCOL, _TOO_BIG, _LIMIT, _UNSUPPORTED; err says what
 * and where; weft__h1_error_status() the HTTP status to answer) or a
 * callback's code. */
ssize_t weft__h1_feed(weft__h1 *h, const uint8_t *in, size_t len,
                      weft_error *err);
/* The peer closed its side. Returns 0 when no request was under way (a
 * clean end), else WEFT_ERR_TRUNCATED (err says where it stopped). */
int weft__h1_feed_eof(weft__h1 *h, weft_error *err);

/* True when feed would consume input now (not paused, not failed). */
bool weft__h1_want_read(const weft__h1 *h);
/* The status for the last protocol error (400, 413, 414, 417, 431, 501,
 * 505), 0 if none. */
int weft__h1_error_status(const weft__h1 *h);

/* ---- the response to the current request ---- */

/* `HTTP/1.1 100 Continue`, for a request with expect_continue whose body
 * the owner wants. Once only, and before submit_head. */
int weft__h1_submit_continue(weft__h1 *h);
/* The status line and fields. content_length >= 0 sends Content-Length;
 * -1 streams the body: chunked to HTTP/1.1 clients, close-delimited to
 * HTTP/1.0 ones. Content-Length, Transfer-Encoding and Connection are the
 * engine's: the owner must not pass them (WEFT_ERR_INVAL). The owner adds
 * Date (the engine has no clock, so its output is reproducible). Field names
 * and values are checked (no CR, LF or NUL): WEFT_ERR_INVAL. WEFT_ERR_STATE
 * when no request is waiting for a response or one was already started. */
int weft__h1_submit_head(weft__h1 *h, int status, const weft__h1_field *fields,
                         size_t nfields, int64_t content_length);
/* Body bytes (discarded for HEAD, 204 and 304). More than the announced
 * Content-Length is WEFT_ERR_INVAL. */
int weft__h1_submit_data(weft__h1 *h, const uint8_t *data, size_t len);
/* Ends the response; trailers only go out on a chunked body (NULL, 0
 * otherwise). A body shorter than its Content-Length is WEFT_ERR_INVAL.
 * Afterwards the engine reads the next request, or (Connection: close, a
 * request body left unread) winds down: weft__h1_should_close(). */
int weft__h1_submit_end(weft__h1 *h, const weft__h1_field *trailers,
                        size_t ntrailers);
/* After a failed feed: a complete error response with the engine's status
 * and `Connection: close` (if no response had started). Also usable by the
 * owner to refuse the current request with status (reason in the body). */
int weft__h1_submit_error(weft__h1 *h, int status, const char *reason);

/* Bytes to write; valid until the next submit or consume. */
size_t weft__h1_output(const weft__h1 *h, const uint8_t **data);
void weft__h1_consume(weft__h1 *h, size_t n);
/* Between requests (no head begun, no request under way, all output
 * consumed): releases the head, field and output buffers, so an idle
 * keep-alive connection holds the engine struct only. A no-op otherwise;
 * the buffers grow again with the next request. */
void weft__h1_trim(weft__h1 *h);
/* True when the connection must be closed once the output is written. */
bool weft__h1_should_close(const weft__h1 *h);

/* The standard reason phrase of a status ("Not Found"), "" if unknown. */
const char *weft__h1_reason(int status);

#ifdef __cplusplus
}
#endif
#endif
