/* MB on the network: weft's MB broker mode, and an MB client.
 *
 * The hub runs the broker engine (weft/mb_broker.h) behind real
 * connections: MB over TCP (4-byte big-endian length + message; a length
 * over 16,751 ends the connection with a FIN) on its own event-loop
 * thread, and MB over WebSocket (one text or binary message per MB
 * message; over 16,751 bytes: close 1009) as a route on a weft server's
 * ws:// listener. Both kinds of
 * connection share one engine, so a TCP service answers a WebSocket caller.
 * A weft server can also listen on "mb://host:port" once
 * weft_mb_register_transport() was called: each such listen runs a hub.
 *
 * The client joins any MB broker (weft's or mb-server-node) over TCP or
 * WebSocket (one text message per MB message), plain or over TLS: it waits
 * for the broker's greeting, registers, subscribes, publishes, sends
 * requests and answers the requests routed to it (fire-and-forget ones
 * too, with no id); heartbeats, which the broker sends without an id, are
 * answered for it. Its connection runs on the process-wide client loop
 * (weft_client_loop_acquire): a client costs a socket, not a thread. */
#ifndef WEFT_MB_NET_H
#define WEFT_MB_NET_H

#include <stdint.h>

#include "weft/error.h"
#include "weft/mb.h"
#include "weft/websocket.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- broker mode ---- */

typedef struct weft_mb_hub weft_mb_hub;

typedef struct weft_mb_hub_opts {
  size_t max_pending;            /* 0: 10000 */
  int64_t heartbeat_interval_ms; /* 0: 30000 */
  int64_t silence_timeout_ms;    /* 0: 60000 */
  /* WebSocket route path; NULL: "/" (where MB clients connect; weft
   * envelope clients, which offer a weft subprotocol, still go to `next`) */
  const char *ws_path;
  weft_ws_route_fn next; /* other paths (NULL: envelope endpoint) */
  void *next_ud;
  /* Several nodes (docs/CLUSTER.md): a request to a topic no service of
   * this hub serves goes through this NATS server to a node whose hub has
   * one (one node per request: a queue group per topic), with the same
   * TIMEOUT and NO_ROUTE_FOUND answers as on one node. NULL: this hub's
   * services only. weft_mb_hub_new fails (WEFT_ERR_CONNECT, reason on
   * stderr) if NATS cannot be reached. Read only by weft_mb_hub_new. */
  const char *nats_url;
  const char *node_id; /* names the NATS connection */
  /* MB over TLS on the TCP listener (the broker's "tls" port): cert_file
   * and key_file (a ca_file also asks clients for certificates and
   * verifies them). NULL: plain TCP. Read by weft_mb_hub_listen. */
  const weft_tls_opts *tls;
} weft_mb_hub_opts;

/* Starts the hub's loop thread. opts may be NULL; it is copied (ws_path
 * into a 256-byte buffer: a longer path is cut); next_ud must live as long
 * as the hub. On success *out is a new hub, freed with weft_mb_hub_free().
 * Returns 0, WEFT_ERR_NOMEM, or the loop's WEFT_ERR_IO (*out untouched on
 * failure). */
int weft_mb_hub_new(weft_mb_hub **out, const weft_mb_hub_opts *opts);
/* Closes every connection, stops the thread, frees. Accepts NULL. It
 * closes the TCP connections only: a hub used as a WebSocket route must
 * outlive the weft server that routes to it (free the server first), as
 * its WebSocket connections still point to the hub. */
void weft_mb_hub_free(weft_mb_hub *h);
/* Accepts MB over TCP (over TLS with opts->tls) on host:port (0: a free
 * port, written to *bound; bound may be NULL). host is only read during
 * the call. Returns 0, WEFT_ERR_STATE (already listening),
 * WEFT_ERR_RESOLVE, WEFT_ERR_IO (bind, listen), WEFT_ERR_TLS (certificate
 * or key unusable), WEFT_ERR_NOMEM; err (may be NULL) says what. */
int weft_mb_hub_listen(weft_mb_hub *h, const char *host, int port, int *bound,
                       weft_error *err);
/* A weft_ws_route_fn (ud = the hub) taking opts->ws_path for MB text
 * messages (binary ones are read alike; over 16,751 bytes: close 1009).
 * Requests offering a weft subprotocol, and other paths, go to opts->next
 * (or return 0). Answers 500 if the connection's record cannot be
 * allocated. The server's API key check applies. */
int weft_mb_ws_route(void *ud, const weft_ws_request *req, weft_ws_accept *acc);

/* Registers the "mb" and "mbs" server transports: weft_server_listen(s,
 * "mb://127.0.0.1:0") then runs a hub on that address, "mbs://" one that
 * speaks MB over TLS with the server's tls options (cert_file and key_file
 * required, else WEFT_ERR_INVAL; a ca_file verifies client certificates).
 * Idempotent. Returns 0 or the codes of weft_register_server_transport
 * (WEFT_ERR_LIMIT). Of the server's other options such a hub uses only
 * max_conns_per_ip: no API keys (MB has no credentials), default broker
 * limits. */
int weft_mb_register_transport(void);

/* ---- client ---- */

typedef struct weft_mb_client weft_mb_client;

/* Called on the process-wide client loop, which every client connection
 * of the process shares: do not block. m (and its payload) is valid during
 * the call. An on_request handler answers with weft_mb_client_respond().
 * A handler cannot wait for the broker (subscribe, unsubscribe,
 * publish_wait, request return WEFT_ERR_STATE at once: the loop is what
 * delivers the answer); publish and respond are fine, and so is
 * weft_mb_client_close (of this client too: it finishes after the handler
 * returns). */
typedef void (*weft_mb_handler_fn)(weft_mb_client *c, const weft_mb_message *m,
                                   void *ud);

typedef struct weft_mb_client_opts {
  const char *name; /* registered with the broker when set */
  const char *description;
  weft_mb_handler_fn on_request; /* requests routed to this client */
  weft_mb_handler_fn on_publish; /* publishes on subscribed topics */
  void *ud;
  int64_t timeout_ms; /* connect, greeting, acks; 0: 10000 */
  /* mbs://, mb+tls://, tls://, mb+wss://, wss://: trust anchors (NULL:
   * the system's), client certificate, server name; insecure for tests.
   * The strings are read during weft_mb_client_open only. */
  weft_tls_opts tls;
  /* Sent as X-Api-Key on the WebSocket upgrade (mb+ws://, mb+wss://),
   * where a weft server checks its api_keys. The MB protocol itself has
   * no credentials (mb-server-node checks none), so on MB over TCP a key
   * is refused with WEFT_ERR_UNSUPPORTED rather than dropped: use a TLS
   * client certificate there. Read during weft_mb_client_open only. */
  const char *api_key;
} weft_mb_client_opts;

/* url: mb://, mb+tcp:// or tcp://host:port (TCP framing), mbs://,
 * mb+tls:// or tls://host:port (TCP framing over TLS, the broker's "tls"
 * port), mb+ws:// or ws://host:port/path (WebSocket; path "/" when none),
 * mb+wss:// or wss://host:port/path (WebSocket over TLS, its "wss" port).
 * Checks the registration against the broker's limits (name <= 36,
 * description <= 1024 characters; the description defaults to the name:
 * WEFT_ERR_INVAL before connecting), connects, waits for the greeting,
 * registers (if opts->name). opts (may be NULL) is copied; name and
 * description are used during the call only; ud must live as long as the
 * client. On success *out is a new client, freed with
 * weft_mb_client_close(); on failure *out is untouched. Errors:
 * WEFT_ERR_BAD_URL (also no port), _UNKNOWN_SCHEME, _INVAL, _UNSUPPORTED
 * (an api_key on TCP), _STATE (called from a callback of a client of
 * the process), _RESOLVE, _CONNECT, _TIMEOUT, _TLS, _HANDSHAKE
 * (WebSocket refused, e.g. a wrong API key, or no greeting within
 * timeout_ms), _NOMEM, _PROTOCOL or _CLOSED (the peer sent what no MB
 * broker sends, or closed), and those of the registration (_RPC if
 * refused, _TIMEOUT, _CLOSED).
 *
 * Once the connection ends (the broker closed it, or sent bytes no MB
 * broker sends: an undecodable message, a frame over 16,751 + 367 bytes, a
 * stream cut mid-frame), waiting calls return at once and later ones fail
 * with WEFT_ERR_CLOSED or WEFT_ERR_PROTOCOL, err saying what the broker
 * did. There is no reconnect: open a new client. */
int weft_mb_client_open(weft_mb_client **out, const char *url,
                        const weft_mb_client_opts *opts, weft_error *err);
/* Closes the connection (WebSocket: the close handshake, at most 2 s) and
 * frees. No callback of c runs after it returns (from one of c's own
 * handlers: the memory goes after that handler returns). No other call
 * on c may be running or start meanwhile (a caller still waiting would
 * wake on freed memory): close after they returned. Accepts NULL. */
void weft_mb_client_close(weft_mb_client *c);

/* Subscribe / unsubscribe, waiting for the broker's acknowledgement.
 * WEFT_ERR_RPC with err naming the MB error if the broker refused (or
 * answered {"status":"failure"}). Also WEFT_ERR_INVAL (action not publish
 * or request, invalid topic), WEFT_ERR_TIMEOUT (no answer within
 * timeout_ms), WEFT_ERR_CLOSED / _PROTOCOL (connection gone),
 * WEFT_ERR_STATE (called from a handler), WEFT_ERR_NOMEM. */
int weft_mb_client_subscribe(weft_mb_client *c, weft_mb_action action,
                             const char *topic, int32_t priority,
                             weft_error *err);
int weft_mb_client_unsubscribe(weft_mb_client *c, weft_mb_action action,
                               const char *topic, weft_error *err);
/* Fire and forget (no request id, no acknowledgement). In this and the
 * calls below json is copied before the call returns (NULL: "{}"); it is
 * sent as given, not validated. Errors: those of weft_mb_encode (INVAL for
 * a bad topic or version, TOO_BIG, NOMEM), WEFT_ERR_CLOSED if the write
 * failed. */
int weft_mb_client_publish(weft_mb_client *c, const char *topic,
                           const char *version, const char *json,
                           weft_error *err);
/* A publish with a request id: the broker acknowledges it once delivered
 * ({"status":"success"}) or answers NO_ROUTE_FOUND when nobody subscribes
 * (WEFT_ERR_RPC, *mb_error filled if not NULL: the caller then owns its
 * strings, weft_mb_error_info_clear). Waits timeout_ms of the client
 * options: WEFT_ERR_TIMEOUT, or WEFT_ERR_CLOSED if the connection drops.
 * *mb_error is not written unless the result is WEFT_ERR_RPC. */
int weft_mb_client_publish_wait(weft_mb_client *c, const char *topic,
                                const char *version, const char *json,
                                weft_mb_error_info *mb_error, weft_error *err);
/* Sends a request and waits for its response (timeout_ms 0: the MB
 * default, 5000). *response is the response payload (malloc'd,
 * NUL-terminated; the caller free()s it). If the payload is an MB error
 * body, returns WEFT_ERR_RPC, fills *mb_error (if not NULL; the caller
 * then clears it) and still sets *response. WEFT_ERR_TIMEOUT if nothing
 * came within the timeout plus one second (so the broker's TIMEOUT error
 * arrives first), WEFT_ERR_CLOSED if the connection dropped, and the send
 * errors of weft_mb_client_publish; on those *response and *mb_error are
 * not written. */
int weft_mb_client_request(weft_mb_client *c, const char *topic,
                           const char *version, const char *json,
                           uint32_t timeout_ms, char **response,
                           weft_mb_error_info *mb_error, weft_error *err);
/* Answers a request received in on_request (same topic, version and id).
 * request is only read (copy the header if answering after the handler
 * returned). Errors as weft_mb_client_publish. */
int weft_mb_client_respond(weft_mb_client *c, const weft_mb_header *request,
                           const char *json, weft_error *err);

#ifdef __cplusplus
}
#endif
#endif
