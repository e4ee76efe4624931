/* Options specific to the HTTP/2 transport (h2c:// and https://, the
 * Connect protocol on nghttp2). Pass a pointer to a weft_http2_opts,
 * initialized with WEFT_HTTP2_OPTS_INIT, as weft_server_opts.transport_opts;
 * NULL means the defaults.
 *
 * weft_server_opts.transport_opts is one pointer for every listener of a
 * server, and other transports (gRPC's weft_grpc_opts) read it too. So this
 * struct starts with a tag, and the HTTP/2 transport ignores transport_opts
 * whose first field is not WEFT_HTTP2_OPTS_TAG. (A server that listens on
 * grpc:// as well must not pass a weft_http2_opts: weft_grpc_opts has no tag
 * and the gRPC transport would misread it.)
 */
#ifndef WEFT_HTTP2_H
#define WEFT_HTTP2_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WEFT_HTTP2_OPTS_TAG 0x32683277u /* "w2h2" */

typedef struct weft_http2_opts {
  uint32_t tag; /* WEFT_HTTP2_OPTS_TAG */
  /* Server: run the handlers of unary calls on the connection's event-loop
   * thread, as soon as the request is complete, instead of handing them to
   * the runtime's worker pool (saves two thread hand-offs per call). The
   * loop serves every connection of the listener, so a handler that blocks
   * or runs long stalls all of them: for fast, non-blocking handlers only.
   * Streaming calls always run on the pool (their recv/send wait for the
   * loop). The pool's queue bound does not apply to inline calls. */
  bool inline_handlers;
} weft_http2_opts;

#define WEFT_HTTP2_OPTS_INIT                                                   \
  { WEFT_HTTP2_OPTS_TAG, false }

#ifdef __cplusplus
}
#endif
#endif
