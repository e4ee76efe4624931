/* Options specific to the HTTP/2 transport (h2c:// and https://, the
 * Connect protocol on nghttp2). Pass a pointer to a weft_http2_opts,
 * initialized with WEFT_HTTP2_OPTS_INIT, as weft_server_opts.transport_opts,
 * or chain it with other transports' options through hdr.next (weft/opts.h);
 * NULL means the defaults. The HTTP/2 transport looks up the struct tagged
 * WEFT_HTTP2_OPTS_TAG in the chain and ignores the others.
 *
 * Ownership: the caller owns the struct. Keep it alive as server.h asks of
 * transport_opts (the server reads the chain again at each
 * weft_server_listen); the HTTP/2 listener copies inline_handlers when it
 * starts and does not keep a pointer to this struct. A malformed chain is
 * refused at weft_server_listen with WEFT_ERR_INVAL (see weft_opts_check).
 */
#ifndef WEFT_HTTP2_H
#define WEFT_HTTP2_H

#include <stdbool.h>
#include <stdint.h>

#include "weft/opts.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_http2_opts {
  weft_opts_hdr hdr; /* tag WEFT_HTTP2_OPTS_TAG (weft/opts.h) */
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
  { WEFT_OPTS_INIT_HDR_MEMBER(WEFT_HTTP2_OPTS_TAG) }

#ifdef __cplusplus
}
#endif
#endif
