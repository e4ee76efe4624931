/* The body of an HTTP/1.1 message (RFC 9112 sections 6 and 7), framed
 * with no I/O: Content-Length, chunked (extensions ignored but checked,
 * trailers parsed) or, for responses, until the peer closes. The server
 * engine (request bodies) and the client engine (response bodies) embed
 * one each, after their head says which framing applies.
 *
 * The owner starts a body, then feeds what arrives in chunks of any size.
 * Each feed consumes input up to the next event and returns the bytes
 * taken: a run of body bytes (de-chunked, pointing into the input), the
 * end of the body (with trailers), or both (the last bytes of a counted
 * body). Stopping at every event lets the owner react (a response
 * started from a body callback may end the read) before more is consumed.
 *
 * Limits: max_body bounds the de-chunked total (a Content-Length or a
 * chunk size over what is left fails before any of its bytes arrive),
 * max_trailer_bytes and max_trailers the trailer section. Failures are
 * sticky; err says what and where (in which line, after how many body
 * bytes), without the "HTTP/1.1" prefix the engines add, and status says
 * what a server answers (400, 413, 431; 500 out of memory). */
#ifndef WEFT_TRANSPORTS_HTTP1_H1_BODY_H
#define WEFT_TRANSPORTS_HTTP1_H1_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "h1_common.h"
#include "h1_lines.h"
#include "weft/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum weft__h1_body_kind {
  WEFT__H1_BODY_NONE,       /* no body: ended at start */
  WEFT__H1_BODY_COUNTED,    /* Content-Length */
  WEFT__H1_BODY_CHUNKED,    /* Transfer-Encoding: chunked */
  WEFT__H1_BODY_UNTIL_CLOSE /* a response without either: ends at EOF */
} weft__h1_body_kind;

typedef struct weft__h1_body_limits {
  uint64_t max_body;        /* de-chunked bytes; 0: no limit */
  size_t max_trailer_bytes; /* trailer section; 0: 16 KiB */
  size_t max_trailers;      /* trailer fields; 0: 100 */
} weft__h1_body_limits;

/* What a head's fields say about its body and its connection (RFC 9112
 * sections 6.1 to 6.3 and 9.3). */
typedef struct weft__h1_framing {
  int64_t content_length; /* -1: none given */
  bool chunked;           /* Transfer-Encoding ends in chunked */
  bool keep_alive;        /* the version and Connection allow another */
} weft__h1_framing;

/* Reads Content-Length, Transfer-Encoding and Connection from a head's
 * fields (HTTP/1.<minor>; what is "request" or "response" for messages).
 * Every ambiguity a proxy could be fooled by is refused: two
 * Content-Lengths or one that is not a length, Transfer-Encoding with a
 * Content-Length or in HTTP/1.0, or not ending in exactly one chunked
 * (WEFT_ERR_PROTOCOL, *status 400); a coding before chunked
 * (WEFT_ERR_UNSUPPORTED, *status 501). err says which. */
int weft__h1_framing_parse(const weft__h1_field *f, size_t n, int minor,
                           const char *what, weft__h1_framing *out, int *status,
                           weft_error *err);

/* What one feed found. */
typedef struct weft__h1_body_event {
  const uint8_t *data;            /* body bytes inside the fed input */
  size_t len;                     /* 0: none */
  bool end;                       /* the body ended (after data, if both) */
  const weft__h1_field *trailers; /* with end; valid until the next feed,
                                     start or free */
  size_t ntrailers;
} weft__h1_body_event;

/* The framer's state. Zero-initialized, then weft__h1_body_init. */
typedef struct weft__h1_body {
  weft__h1_body_limits lim;
  int state;
  uint64_t left;     /* bytes of the content or the chunk still to come */
  uint64_t total;    /* de-chunked bytes announced so far, against max_body */
  uint64_t received; /* de-chunked bytes delivered so far */
  unsigned crlf_have;
  int status;
  weft__h1_lines lines; /* a chunk-size line, or the trailer section */
  weft__h1_field *trailers;
  size_t trailers_cap;
} weft__h1_body;

/* Sets the limits (NULL: defaults); the body is ended (NONE). */
void weft__h1_body_init(weft__h1_body *b, const weft__h1_body_limits *lim);
/* Releases the buffers; b stays usable (started anew). */
void weft__h1_body_free(weft__h1_body *b);

/* Starts the next body; length is the Content-Length for COUNTED (0 ends
 * it at once). Returns 0, or WEFT_ERR_TOO_BIG (status 413) when length is
 * over max_body, before any of it is read; err says so. */
int weft__h1_body_start(weft__h1_body *b, weft__h1_body_kind kind,
                        uint64_t length, weft_error *err);

/* Feeds len (> 0) bytes. Returns the bytes consumed (0 once the body has
 * ended: the rest belongs to the next message) and fills *ev; < 0 a
 * framing error: WEFT_ERR_PROTOCOL (a chunk-size line that is not hex,
 * junk or a control character in it, a bare LF or CR, chunk data not
 * followed by CRLF, a malformed trailer), WEFT_ERR_TOO_BIG (a chunk size
 * over 15 hex digits, the body over max_body, the trailer section over
 * its bytes), WEFT_ERR_LIMIT (too many trailers), WEFT_ERR_NOMEM. */
ssize_t weft__h1_body_feed(weft__h1_body *b, const uint8_t *in, size_t len,
                           weft__h1_body_event *ev, weft_error *err);

/* The peer closed: true when that ends the body (until-close framing; it
 * is then ended), false when the body was cut short (or had ended). */
bool weft__h1_body_eof(weft__h1_body *b);

bool weft__h1_body_done(const weft__h1_body *b);
/* De-chunked body bytes so far (for messages saying where). */
uint64_t weft__h1_body_received(const weft__h1_body *b);
/* After a failure: the HTTP status a server answers it with. */
int weft__h1_body_error_status(const weft__h1_body *b);

#ifdef __cplusplus
}
#endif
#endif
