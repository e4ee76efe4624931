/* WebSocket-specific options, and raw WebSocket endpoints on a weft server.
 *
 * ws:// and wss:// carry weft envelopes (schema/weft/v1/envelope.proto): in
 * binary messages under the subprotocol "weft.proto.v1", in text messages
 * under "weft.json.v1". Pass a weft_ws_opts, initialized with
 * WEFT_WS_OPTS_INIT, as weft_client_opts.transport_opts or
 * weft_server_opts.transport_opts (alone, or chained with other
 * transports' options, weft/opts.h) to tune keepalive, timeouts and limits.
 *
 * A server can also take over connections by path before the envelope
 * endpoint sees them (AITBC's /v1/jobs/{id}/ws and /v1/events, MB-broker
 * text messages): set weft_ws_opts.route. It runs on the server's I/O
 * thread for every upgrade request that passed the Origin check, and either
 * leaves the request to the envelope endpoint, takes it with a
 * weft_ws_handler that then sees raw text and binary messages, or refuses it
 * with an HTTP status.
 *
 * Ownership, in short: a weft_ws_conn is reference counted; the I/O loop
 * holds one reference, weft_ws_connect's caller another (released by
 * weft_ws_disconnect). Data passed to a callback lives during that call
 * only; data passed to a send is copied before it returns. Strings from the
 * `const char *` getters belong to the connection (or, for a request, to
 * the handshake being routed). A weft_ws_opts is the caller's: its numbers
 * are copied when a listener starts or a connection is dialled, but the
 * pointers in it (origin, extra_headers, route_ud) are kept, so the struct
 * and what it points to follow the transport_opts rule of client.h and
 * server.h (live as long as the client or server).
 */
#ifndef WEFT_WEBSOCKET_H
#define WEFT_WEBSOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weft/loop.h"
#include "weft/opts.h"
#include "weft/server.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WEFT_WS_SUBPROTOCOL_PROTO "weft.proto.v1"
#define WEFT_WS_SUBPROTOCOL_JSON "weft.json.v1"

/* A WebSocket connection handed to a route's handler. Valid from on_open
 * until on_close returns; hold a reference (weft_ws_conn_ref) to use it
 * from other threads beyond that (sends then fail with WEFT_ERR_CLOSED). */
typedef struct weft_ws_conn weft_ws_conn;

/* The opening handshake as the route sees it. Strings live until the route
 * returns. */
typedef struct weft_ws_request {
  const char *path;   /* "/v1/jobs/42/ws" (no query) */
  const char *query;  /* "" or "api_key=...&x=1" (not decoded) */
  const char *origin; /* NULL if the client sent none */
  const char *peer;   /* "127.0.0.1:5555" */
  /* The API key from the api_key (or token) query parameter, the
   * X-Api-Key header or Authorization: Bearer, NULL if none; api_key_ok is
   * true if the server has no api_keys or the key is one of them. A key
   * accepted here also authenticates the calls on the connection. */
  const char *api_key;
  bool api_key_ok;
  const void *internal;
} weft_ws_request;

/* A request header (case-insensitive name), or NULL. The value belongs to
 * the handshake and lives until the route returns. Only from inside the
 * route (r must be the request it was given). */
const char *weft_ws_request_header(const weft_ws_request *r, const char *name);
/* True if the client offered this subprotocol (a token of
 * Sec-WebSocket-Protocol). Only from inside the route. */
bool weft_ws_request_offers(const weft_ws_request *r, const char *protocol);

typedef struct weft_ws_handler {
  /* The upgrade succeeded. I/O thread. */
  void (*on_open)(weft_ws_conn *c, void *ud);
  /* One whole message (text is valid UTF-8). data is valid during the
   * call only. I/O thread; do not block. */
  void (*on_message)(weft_ws_conn *c, bool text, const uint8_t *data,
                     size_t len, void *ud);
  /* Exactly once for every accepted request, even if on_open never ran
   * (the handshake failed): code is the peer's close code, or 1006 if the
   * connection dropped, or the code this side closed with. */
  void (*on_close)(weft_ws_conn *c, int code, const char *reason, void *ud);
} weft_ws_handler;

/* What a route fills in to take a request. handler, ud and protocol are
 * not copied: handler and ud must live until on_close has returned;
 * protocol and reason only until the route returns (they are copied; a
 * protocol the client did not offer is ignored). */
typedef struct weft_ws_accept {
  const weft_ws_handler *handler;
  void *ud;             /* passed to the handler's callbacks */
  const char *protocol; /* subprotocol to answer with (one the client
                           offered), or NULL for none */
  /* The server's API key check applies unless this is set (the route
   * checks credentials itself, e.g. AIP's ?token=). */
  bool skip_auth;
  /* Refusing (route returns an HTTP status): a short text for the body. */
  const char *reason;
} weft_ws_accept;

/* Returns 0 to leave the request to the weft envelope endpoint, 1 to take
 * it (acc->handler set), or an HTTP status >= 400 to refuse it. I/O thread;
 * do not block. */
typedef int (*weft_ws_route_fn)(void *ud, const weft_ws_request *req,
                                weft_ws_accept *acc);

typedef struct weft_ws_opts {
  weft_opts_hdr hdr;        /* tag WEFT_WS_OPTS_TAG (weft/opts.h) */
  int64_t ping_interval_ms; /* keepalive ping; 0: 20000; < 0: none */
  int64_t ping_timeout_ms;  /* no pong by then: close 1011; 0: 20000 */
  int64_t close_timeout_ms; /* wait for the close handshake; 0: 10000 */
  size_t max_size;          /* per message; 0: max_message_size of the client or
                               server opts (4 MiB by default); over it: close 1009 */
  int64_t handshake_timeout_ms; /* opening handshake; 0: 10000 */
  size_t max_header_bytes;      /* request/response headers; 0: 8192 */
  /* client */
  const char *origin;        /* Origin header to send, or NULL */
  const char *extra_headers; /* more request header lines, each ending in
                                CRLF, or NULL */
  /* server */
  bool auth_after_upgrade; /* bad API key: accept, then close 1008 (for
                              browsers, which cannot see a 401) */
  weft_ws_route_fn route;
  void *route_ud;
} weft_ws_opts;

#define WEFT_WS_OPTS_INIT                                                      \
  { WEFT_OPTS_INIT_HDR_MEMBER(WEFT_WS_OPTS_TAG) }

/* A raw WebSocket client (no weft envelopes), for peers that speak their
 * own messages over WebSocket (MB broker, AITBC). url: ws:// or wss://
 * host:port/path?query. opts may be NULL; used: connect_timeout_ms,
 * max_message_size, keepalive_ms, tls, and a weft_ws_opts in the
 * transport_opts chain (origin, extra_headers, timeouts). protocols: offered
 * subprotocols, comma separated, or NULL. The connection runs on its own
 * I/O thread; h's callbacks run there (on_open before this returns).
 * Errors: WEFT_ERR_BAD_URL, _CONNECT, _RESOLVE, _TIMEOUT, _TLS, _IO,
 * _HANDSHAKE (err says what the server answered), _INVAL (a malformed
 * transport_opts chain, or request headers over the buffer), _NOMEM.
 * On success *out is a new connection that the caller owns: release it
 * with weft_ws_disconnect() (not weft_ws_conn_unref). On failure *out is
 * not written; no callback has run, except when the I/O thread could not
 * be started after the handshake (then on_open and on_close have run). url,
 * protocols and opts are only read during the call (the weft_ws_opts values are
 * copied); h and ud must live until weft_ws_disconnect returns. */
int weft_ws_connect(weft_ws_conn **out, const char *url,
                    const weft_client_opts *opts, const char *protocols,
                    const weft_ws_handler *h, void *ud, weft_error *err);
/* Closes (1000, waiting close_timeout_ms at most), runs on_close if it has
 * not run, stops the I/O thread and drops the caller's reference (the
 * connection is freed unless weft_ws_conn_ref holders remain; their sends
 * then fail with WEFT_ERR_CLOSED). Not from a handler callback. Accepts
 * NULL. Only for connections from weft_ws_connect. */
void weft_ws_disconnect(weft_ws_conn *c);

/* Any thread. text must be valid UTF-8 (not checked); the size is not
 * checked against the peer's limit either. data is copied (framed) before
 * the return; the caller keeps it. Returns 0, WEFT_ERR_CLOSED once a close
 * was sent or the connection is gone (also when the write failed),
 * WEFT_ERR_NOMEM, or WEFT_ERR_INTERNAL (client side: no randomness for the
 * mask). Off the I/O thread it waits while more than 8 MiB are queued for
 * a peer that does not read (backpressure). */
int weft_ws_conn_send(weft_ws_conn *c, bool text, const void *data, size_t len);
/* Starts the close handshake (any thread). code 1000..4999 (a code a peer
 * may send; else WEFT_ERR_INVAL). reason (may be NULL) is copied; it is cut
 * at 123 bytes on a UTF-8 boundary. Returns 0 (also if a close was already
 * sent or the connection is gone), or, off the I/O thread, WEFT_ERR_NOMEM
 * or an error of weft_loop_post. on_close follows once the handshake ends
 * or close_timeout_ms passes. */
int weft_ws_conn_close(weft_ws_conn *c, int code, const char *reason);
/* "addr:port" of the peer, the request path (server side: without the
 * query; client side: the request target sent, path and query) and the
 * subprotocol agreed ("" if none). The strings belong to the connection
 * and live as long as a reference to it. */
const char *weft_ws_conn_peer(const weft_ws_conn *c);
const char *weft_ws_conn_path(const weft_ws_conn *c);
const char *weft_ws_conn_protocol(const weft_ws_conn *c);
/* The I/O loop the connection runs on (for timers; loop thread only). */
weft_loop *weft_ws_conn_loop(const weft_ws_conn *c);
/* The server that accepted it (NULL on the client side). */
weft_server *weft_ws_conn_server(const weft_ws_conn *c);
/* Keep the connection (its memory, not the link) alive beyond on_close,
 * e.g. to send from another thread. Every ref needs one unref; the last
 * unref frees. unref accepts NULL, ref does not. */
void weft_ws_conn_ref(weft_ws_conn *c);
void weft_ws_conn_unref(weft_ws_conn *c);

#ifdef __cplusplus
}
#endif
#endif
