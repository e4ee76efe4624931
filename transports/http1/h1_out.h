/* The bytes an HTTP/1.1 engine writes (RFC 9112 sections 6 and 7): a
 * buffer the owner drains, field lines, and the body framed as its head
 * announced (Content-Length, chunked with trailers, until close, or none
 * when the message has no body). The server engine writes responses with
 * it, the client engine requests. No I/O: the owner writes what
 * weft__h1_out_pending gives and consumes it. */
#ifndef WEFT_TRANSPORTS_HTTP1_H1_OUT_H
#define WEFT_TRANSPORTS_HTTP1_H1_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "h1_body.h"
#include "h1_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Zero-initialized is empty. */
typedef struct weft__h1_out {
  uint8_t *buf;
  size_t off, len, cap;
  weft__h1_body_kind body; /* how the body being written is framed */
  uint64_t left;           /* COUNTED: bytes still owed */
} weft__h1_out;

/* Each returns 0 or WEFT_ERR_NOMEM. */
int weft__h1_out_put(weft__h1_out *o, const void *p, size_t n);
int weft__h1_out_str(weft__h1_out *o, const char *s);
/* Up to 255 bytes (a status line, a framing field); longer is
 * WEFT_ERR_INTERNAL. */
int weft__h1_out_printf(weft__h1_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* "name: value\r\n" for each (checked by the caller). */
int weft__h1_out_fields(weft__h1_out *o, const weft__h1_field *f, size_t n);

/* The body that follows the head just written: NONE discards what is
 * given (a HEAD response, 204, 304), COUNTED takes exactly length bytes. */
void weft__h1_out_body(weft__h1_out *o, weft__h1_body_kind kind,
                       uint64_t length);
/* Body bytes, a chunk of their own when chunked. More than a
 * Content-Length announced is WEFT_ERR_INVAL (nothing written). */
int weft__h1_out_data(weft__h1_out *o, const uint8_t *data, size_t len);
/* Ends the body: the last chunk and the trailers when chunked (trailers
 * are dropped otherwise). Fewer bytes than a Content-Length announced is
 * WEFT_ERR_INVAL. */
int weft__h1_out_end(weft__h1_out *o, const weft__h1_field *trailers,
                     size_t ntrailers);

/* Bytes to write; valid until the next write or consume. */
size_t weft__h1_out_pending(const weft__h1_out *o, const uint8_t **data);
/* n bytes were written. Once all is written, a large buffer is released
 * (a big body went through). */
void weft__h1_out_consume(weft__h1_out *o, size_t n);
void weft__h1_out_free(weft__h1_out *o); /* empty again */

#ifdef __cplusplus
}
#endif
#endif
