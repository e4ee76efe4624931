/* Client options of the http://, https:// and h2c:// transports: which
 * protocol the client speaks to the server.
 *
 * http:// speaks HTTP/1.1; https:// offers ALPN "h2,http/1.1" and speaks
 * whichever the server picks. On either:
 *   - WEFT_HTTP_CONNECT (the default): the Connect protocol (unary as a
 *     plain POST, streams as enveloped messages). Client streaming is sent
 *     as a chunked body (half-duplex); bidi streaming needs HTTP/2 (h2c://,
 *     or https:// where the server picks h2).
 *   - WEFT_HTTP_GRPC_WEB: gRPC-Web (application/grpc-web+proto or +json,
 *     5-byte frames, status in a trailers frame), always over HTTP/1.1.
 *   - WEFT_HTTP_GRPC: gRPC. On https://, weft's own HTTP/2 client over
 *     TLS, offering ALPN "h2" only: gRPC needs HTTP/2, so a server that
 *     picks anything else fails the connect (WEFT_ERR_HANDSHAKE, naming
 *     what it picked). On http://, the grpc:// transport (gRPC core) to
 *     the same host and port (h2c:// is the plaintext form without it).
 *
 * h2c:// reads it too: WEFT_HTTP_CONNECT (the default) or WEFT_HTTP_GRPC,
 * which speaks gRPC on weft's own HTTP/2 client (no gRPC core);
 * WEFT_HTTP_GRPC_WEB there is WEFT_ERR_UNSUPPORTED.
 *
 * Pass a weft_http_client_opts, initialized with
 * WEFT_HTTP_CLIENT_OPTS_INIT, as weft_client_opts.transport_opts (or chain
 * it, weft/opts.h). The caller owns the struct; it is read at
 * weft_client_open and at each reconnect, so keep it alive as long as the
 * client. */
#ifndef WEFT_HTTP_H
#define WEFT_HTTP_H

#include "weft/opts.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WEFT_HTTP_CLIENT_OPTS_TAG WEFT_OPTS_TAG('w', 'h', 't', '1')

typedef enum weft_http_protocol {
  WEFT_HTTP_CONNECT = 0,
  WEFT_HTTP_GRPC_WEB = 1,
  WEFT_HTTP_GRPC = 2
} weft_http_protocol;

typedef struct weft_http_client_opts {
  weft_opts_hdr hdr; /* tag WEFT_HTTP_CLIENT_OPTS_TAG */
  weft_http_protocol protocol;
  /* HTTP/1.1 connections kept open between calls (one call at a time per
   * connection, no pipelining); 0: 4 (at most max_connections).
   * Concurrent calls beyond it open connections of their own, closed when
   * the call ends unless another call waits for one. */
  int max_idle_connections;
  /* HTTP/1.1 connections open at once (each carries one call at a time);
   * 0: 32. Calls beyond it, blocking and asynchronous alike, wait in one
   * queue (first come, first served) for a connection to end its
   * exchange, bounded by their deadline. */
  int max_connections;
} weft_http_client_opts;

#define WEFT_HTTP_CLIENT_OPTS_INIT                                             \
  { WEFT_OPTS_INIT_HDR_MEMBER(WEFT_HTTP_CLIENT_OPTS_TAG) }

/* "connect", "grpc-web", "grpc" -> *out. Returns 0, or WEFT_ERR_INVAL
 * (NULL argument or another name; *out untouched). */
int weft_http_protocol_parse(const char *name, weft_http_protocol *out);
/* The name of p ("connect", ...); "?" for a value outside the enum. */
const char *weft_http_protocol_name(weft_http_protocol p);

#ifdef __cplusplus
}
#endif
#endif
