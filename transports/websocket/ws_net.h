/* WebSocket connections on weft_loop: the part of the transport between
 * the socket and a weft_ws_handler (the envelope endpoint is one, raw
 * routes are others). Internal to transports/websocket.
 *
 * Threads: everything runs on the connection's loop thread except
 * weft_ws_conn_send/close, which any thread may call. The send half of the
 * frame engine and the socket's writes (and, for TLS, reads) are guarded by
 * the connection's mutex; the receive half belongs to the loop thread. */
#ifndef WEFT_TRANSPORTS_WS_NET_H
#define WEFT_TRANSPORTS_WS_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "sock.h"
#include "weft/server.h"
#include "weft/websocket.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Effective settings: weft_ws_opts with defaults filled in, plus the
 * WebSocket limits from weft_server_opts. */
typedef struct weft__ws_cfg {
  int64_t ping_interval_ms; /* <= 0: none */
  int64_t ping_timeout_ms;
  int64_t close_timeout_ms;
  int64_t handshake_timeout_ms;
  size_t max_size;
  size_t max_header_bytes;
  int64_t idle_timeout_ms; /* no message either way for this long: close
                              1001 "idle timeout"; 0: none */
  /* server */
  unsigned max_conns_per_ip;
  unsigned max_msgs_per_sec;
  /* At shutdown, the close handshakes get min(this, close_timeout_ms);
   * then what is left is cut (weft_server_opts.shutdown_grace_ms). */
  int64_t shutdown_grace_ms;
  int64_t max_conn_duration_ms;
  bool auth_after_upgrade;
  const char *const *api_keys;
  const char *const *allowed_origins;
  weft_ws_route_fn route;
  void *route_ud;
} weft__ws_cfg;

void weft__ws_cfg_init(weft__ws_cfg *c, const weft_ws_opts *wo,
                       const weft_server_opts *so, size_t max_message_size,
                       int64_t keepalive_ms);

/* ---- server ---- */

typedef struct weft__ws_listener weft__ws_listener;

typedef struct weft__ws_listen_args {
  const char *host;
  int port;
  bool tls;
  const weft_tls_opts *tls_opts;
  weft__ws_cfg cfg;
  weft_server *srv; /* may be NULL (tests of the raw layer) */
  /* Takes the requests no route took (the envelope endpoint); NULL: 404. */
  weft_ws_route_fn fallback;
  void *fallback_ud;
  void (*log)(int level, const char *line, void *ud);
  void *log_ud;
  const char *scheme; /* "ws" or "wss", for connection events */
} weft__ws_listen_args;

int weft__ws_listen(weft__ws_listener **out, const weft__ws_listen_args *a,
                    int *port, weft_error *err);
void weft__ws_listener_stop_accepting(weft__ws_listener *l);
/* Closes every connection (1001, then min(close_timeout_ms,
 * shutdown_grace_ms) at most) and frees. */
void weft__ws_listener_close(weft__ws_listener *l);
/* Connections open or in handshake (for tests and memory figures). */
size_t weft__ws_listener_conns(weft__ws_listener *l);

/* The envelope endpoint's calls on c (total, and still running), for the
 * CLOSED connection event; from the handler's on_close. */
void weft__ws_conn_set_calls(weft_ws_conn *c, uint64_t calls, size_t active);
/* Loop thread: fn(ud) tells how many calls are in flight, so the idle
 * timeout spares a connection whose stream is merely quiet. */
void weft__ws_conn_set_busy(weft_ws_conn *c, size_t (*fn)(void *ud), void *ud);

/* Receive backpressure (loop thread): stop or resume reading the socket. */
void weft__ws_conn_set_paused(weft_ws_conn *c, bool paused);

/* ---- client ---- */

typedef struct weft__ws_dial_args {
  const char *host;
  int port;
  const char *target; /* path?query */
  bool tls;
  const weft_tls_opts *tls_opts;
  const char *protocols; /* offered, comma separated */
  const char *origin;
  const char *extra_headers;
  int64_t timeout_ms;
  weft__ws_cfg cfg;
  const weft_ws_handler *handler;
  void *ud;
} weft__ws_dial_args;

/* Connects and runs the handshake (blocking, bounded by timeout_ms), then
 * runs the connection on its own loop thread. The handler's on_close runs
 * once on every path after a successful return. *http_status gets the
 * server's answer when the handshake is refused. */
int weft__ws_dial(weft_ws_conn **out, const weft__ws_dial_args *a,
                  int *http_status, weft_error *err);
/* The same on the client loop without blocking it (a reconnect attempt):
 * the connect and TLS through transports/common/dial.h, then the upgrade
 * on the loop's events. Call on the client loop's thread; done(ud, rv, c,
 * http_status, err) runs there once, never inside this call, with rv 0
 * and the open connection (as weft__ws_dial's) or rv < 0 and the error
 * weft__ws_dial would have given. The attempt ends at timeout_ms after
 * the start. Returns 0 (done will run) or < 0 with err set (it will
 * not). a's strings and options are used only during this call; cfg is
 * copied; handler and ud are kept for the connection, as weft__ws_dial
 * keeps them. *out (may be NULL) is the attempt, for
 * weft__ws_dial_async_cancel until done runs. */
typedef void (*weft__ws_dial_fn)(void *ud, int rv, weft_ws_conn *c,
                                 int http_status, const weft_error *err);
typedef struct weft__ws_attempt weft__ws_attempt;
int weft__ws_dial_async(const weft__ws_dial_args *a, weft__ws_dial_fn done,
                        void *ud, weft__ws_attempt **out, weft_error *err);
/* Stops an attempt whose done has not run (loop thread): done never
 * will; its socket is closed and all it holds freed. */
void weft__ws_dial_async_cancel(weft__ws_attempt *x);
/* Both dialers' last step: runs the connection on the client loop over io
 * (taken, also on failure) with the accepted subprotocol and the bytes
 * that followed the handshake. Any thread, the loop's included. */
int weft__ws_dial_open(weft_ws_conn **out, weft__conn *io,
                       const weft__ws_dial_args *a, const char *proto,
                       const uint8_t *rest, size_t nrest, weft_error *err);
/* Closes (1000, waiting close_timeout at most), stops the loop thread and
 * drops the dialer's reference. Not from the loop thread. */
void weft__ws_dial_close(weft_ws_conn *c);

#ifdef __cplusplus
}
#endif
#endif
