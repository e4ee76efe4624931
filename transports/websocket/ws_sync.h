/* A blocking WebSocket client on the frame engine, over a plain socket:
 * connect, handshake, send and receive whole messages. Used by tests (as
 * the weft side of interop and fault tests), by the benchmark's load
 * generator and by tools; the ws:// transport itself runs on weft_loop.
 * Pings are answered inside recv; one thread per client. */
#ifndef WEFT_TRANSPORTS_WS_SYNC_H
#define WEFT_TRANSPORTS_WS_SYNC_H

#include <stddef.h>
#include <stdint.h>

#include "weft/error.h"
#include "ws_frame.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft__ws_sync weft__ws_sync;

typedef struct weft__ws_sync_opts {
  const char *target;        /* path?query, default "/" */
  const char *protocols;     /* offered subprotocols, comma separated */
  const char *origin;        /* Origin header or NULL */
  const char *extra_headers; /* more header lines, each ending in CRLF */
  int64_t timeout_ms;        /* connect + handshake; 0: 10000 */
  size_t max_size;           /* per received message; 0: 4 MiB */
  int http_status;           /* out: the server's status (101 on success) */
} weft__ws_sync_opts;

/* Errors: WEFT_ERR_CONNECT, WEFT_ERR_TIMEOUT, WEFT_ERR_HANDSHAKE (err and
 * o->http_status say what the server answered), WEFT_ERR_NOMEM. */
int weft__ws_sync_connect(weft__ws_sync **out, const char *host, int port,
                          weft__ws_sync_opts *o, weft_error *err);
void weft__ws_sync_free(weft__ws_sync *s);
int weft__ws_sync_fd(const weft__ws_sync *s);
const char *weft__ws_sync_protocol(const weft__ws_sync *s);

/* One whole message (one frame). 0 or WEFT_ERR_CLOSED / _IO. */
int weft__ws_sync_send(weft__ws_sync *s, int opcode, const void *data,
                       size_t len);
/* Any frame, e.g. fragments or pings; also written at once. */
int weft__ws_sync_send_frame(weft__ws_sync *s, int opcode, int fin,
                             const void *data, size_t len);
/* Bytes exactly as given (tests send malformed frames this way). */
int weft__ws_sync_send_raw(weft__ws_sync *s, const void *data, size_t len);

/* Waits for the next message. Returns 1 (opcode, data and len valid until
 * the next call), 0 when the peer closed (weft__ws_sync_close_code says
 * how; a protocol error by the peer also ends here, after this side sent
 * its close), WEFT_ERR_TIMEOUT, or WEFT_ERR_CLOSED/_IO when the
 * connection dropped without a close frame (code 1006). timeout_ms <= 0
 * waits forever. */
int weft__ws_sync_recv(weft__ws_sync *s, int *opcode, const uint8_t **data,
                       size_t *len, int64_t timeout_ms);
/* Pong payload of the last pong seen by recv, for keepalive tests. */
int weft__ws_sync_pongs(const weft__ws_sync *s);
/* Sends a close and waits (up to timeout_ms) for the peer's close and the
 * end of the TCP stream. */
int weft__ws_sync_close(weft__ws_sync *s, uint16_t code, const char *reason,
                        int64_t timeout_ms);
/* The peer's close code (1005 none given, 1006 no close frame), and its
 * reason (NUL-terminated). 0 while open. */
int weft__ws_sync_close_code(const weft__ws_sync *s);
const char *weft__ws_sync_close_reason(const weft__ws_sync *s);

#ifdef __cplusplus
}
#endif
#endif
