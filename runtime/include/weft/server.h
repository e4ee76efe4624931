/* The server side of weft's common interface.
 *
 * A server holds services (generated descriptors + a typed implementation
 * struct) and listens on any number of URLs; every transport dispatches to the
 * same handlers. To save a thread hand-off per call, a handler usually runs
 * on the I/O thread that read its request, after that thread's round of
 * I/O (gRPC: on the queue thread that took the call); when handlers keep
 * that thread longer than about half a millisecond, a standby thread takes
 * over the I/O and the calls not started yet go to a bounded worker pool
 * (worker_threads, max_pending_calls). So a handler may block: it delays
 * other connections of its listener by about a millisecond, never stalls
 * them. docs/ARCHITECTURE.md ("Threads and calls") has the details. A
 * handler that waits for events (a long stream, a timer) detaches its call
 * instead of holding a thread: see "Asynchronous handlers".
 *
 * Ownership in handlers: everything of a call lives in the call's arena
 * (weft_server_call_arena) and is released when the call completes. The
 * request a handler gets, and each message weft_server_call_recv() hands
 * it, is in that arena: read it, point the response at it, never free it.
 * The response struct is allocated by the runtime (in the arena) and
 * encoded after the handler returns; weft frees nothing the handler hangs
 * on it, so its fields should point at the request, at arena memory
 * (weft_arena_alloc, weft_message_new(d, weft_server_call_arena(call))) or
 * at static data; malloc'd memory stored there would leak. Messages given
 * to weft_server_call_send() are encoded before it returns and stay the
 * handler's. Strings and metadata returned by weft_server_call_* getters
 * live as long as the call.
 */
#ifndef WEFT_SERVER_H
#define WEFT_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "weft/client.h"
#include "weft/desc.h"
#include "weft/error.h"
#include "weft/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_server weft_server;
typedef struct weft_server_call weft_server_call;

/* A connection opened or closed on one of the server's listeners, for
 * weft_server_opts.on_connection. Reported by the transports that own their
 * connections: tcp:// tls://, ws:// wss:// (and the raw WebSocket routes on
 * them), h2c:// https://. gRPC core's C API has no accept hook, so grpc://
 * connections are not reported (their calls are, with the peer, through
 * weft_server_call_peer). Strings live during the callback only. */
typedef enum weft_conn_event_kind {
  WEFT_CONN_EVENT_OPENED = 1, /* accepted (before any handshake) */
  WEFT_CONN_EVENT_CLOSED = 2
} weft_conn_event_kind;

typedef struct weft_conn_event {
  weft_conn_event_kind kind;
  const char *scheme;   /* "tcp", "tls", "ws", "wss", "h2c", "https" */
  const char *listener; /* the listener, e.g. "tcp://127.0.0.1:9090" */
  const char *peer;     /* "127.0.0.1:5555" or "[::1]:5555" */
  /* CLOSED only. error 0: an orderly close (the peer closed between
   * calls, the close handshake completed, idle timeout, server shutdown);
   * else a WEFT_ERR_* code (e.g. the peer vanished with a call in flight,
   * a protocol error, a refused upgrade). reason says what happened in
   * either case ("closed the connection", "closed the connection with 1
   * call in flight", "1006: no close frame"). */
  int error;
  const char *reason;
  uint64_t calls; /* calls dispatched on the connection */
} weft_conn_event;

typedef struct weft_server_opts {
  unsigned worker_threads;   /* 0: 2 x cores, at least 4 */
  size_t max_message_size;   /* 0: 4 MiB */
  int64_t keepalive_ms;      /* heartbeat interval; 0: transport default */
  int64_t idle_timeout_ms;   /* no call in flight for this long: close the
                                connection; 0: none */
  int64_t shutdown_grace_ms; /* in-flight calls get this long; 0: 5000 */
  weft_tls_opts tls;         /* cert_file/key_file for tls/wss/grpcs/https;
                                ca_file requests client certificates */
  /* NULL-terminated; NULL: no key required. A call presents one in
   * x-api-key, authorization: Bearer KEY, or authorization: Basic with the
   * key as password (or as user name with an empty password). */
  const char *const *api_keys;
  /* NULL-terminated Origins ("*": any). ws/wss: the upgrade's Origin
   * allow-list (NULL: any). h2c/https: the CORS allow-list (NULL: no CORS
   * fields, preflights get 403); docs/HTTP1.md. */
  const char *const *allowed_origins;
  /* Connections per client IP address on each listener that does its own
   * I/O (every one but grpc://, whose gRPC core has no accept hook);
   * over it tcp/tls/h2c/https/mb close the new connection at once and
   * ws/wss answer the upgrade with 429. 0: 64. */
  unsigned max_conns_per_ip;
  unsigned max_msgs_per_sec;    /* per connection; 0: 100 (WebSocket) */
  int64_t max_conn_duration_ms; /* 0: 24 h (WebSocket) */
  void (*log)(int level, const char *line, void *ud); /* NULL: stderr, info+ */
  void *log_ud;
  const void *transport_opts;
  /* Calls waiting for a worker beyond which new calls are rejected with
   * RESOURCE_EXHAUSTED; 0: 1024. With two or more listeners, the calls of
   * one transport may take at most 3/4 of it, so a flood on one leaves
   * room for the others. */
  unsigned max_pending_calls;
  /* Optional: told about every connection opened and closed (see
   * weft_conn_event). Runs on the listener's I/O thread, which serves
   * every connection of the listener: it must not block (log, count,
   * hand off). Every OPENED is followed by exactly one CLOSED for the
   * same peer, at the latest inside weft_server_free (so on_connection_ud
   * must live until it returns); a refused WebSocket upgrade (Origin, API
   * key, route, limits) is a CLOSED with the reason. */
  void (*on_connection)(void *ud, const weft_conn_event *ev);
  void *on_connection_ud;
  /* From accept until the connection's first request has arrived whole
   * (TLS handshake included): the first TCP frame, the HTTP/2 preface and
   * SETTINGS (then each request's headers), the WebSocket upgrade request,
   * the gRPC handshake. A peer that takes longer (a slow-loris sending a
   * byte a second) is closed. 0: 10000; < 0: none. */
  int64_t header_timeout_ms;
  /* Pub/sub across nodes (docs/CLUSTER.md): with a NATS URL
   * ("nats://127.0.0.1:4222"), every weft.v1.PubSub publish and
   * weft_server_publish goes to NATS, and each subscriber is served from
   * NATS, so it sees the events published on every node of the cluster,
   * once each, in each publisher's order. weft_server_new fails (logging
   * why through `log`) when NATS cannot be reached; later outages are
   * reconnected with backoff, and meanwhile Publish and Subscribe answer
   * UNAVAILABLE. NULL: this server's topics are its own. */
  const char *nats_url;
  const char *node_id; /* names the NATS connection; NULL: "node" */
  /* With nats_url: NULL-terminated topic prefixes whose topics are
   * durable ("" makes every topic durable). A durable topic is a
   * JetStream stream (the NATS server must run with JetStream): Publish
   * answers once the event is stored, with its sequence, and a subscriber
   * resumes on any node after the last sequence it saw
   * (SubscribeRequest.after_sequence) without loss or repeats. Every node
   * of a cluster must list the same prefixes. Copied. */
  const char *const *durable_topics;
} weft_server_opts;

/* On success *out is a new server, freed with weft_server_free(). opts (may
 * be NULL) is copied, api_keys included; what else it points to (tls file
 * names, allowed_origins, transport_opts, log_ud, on_connection_ud) must
 * live as long as the server (nats_url and node_id are used only here).
 * Returns 0, WEFT_ERR_NOMEM, or with nats_url WEFT_ERR_CONNECT (NATS
 * unreachable) or WEFT_ERR_UNSUPPORTED (built without libnats); the
 * reason goes to opts->log as an error line. */
int weft_server_new(weft_server **out, const weft_server_opts *opts);
/* impl points at the service's generated implementation struct (e.g.
 * aitbc__v1__Jobs_impl); ctx is passed to every handler. svc, impl and ctx
 * are not copied: they must live as long as the server (generated
 * descriptors are static; so is an impl struct declared `static const`). */
int weft_server_add_service(weft_server *s, const weft_service_desc *svc,
                            const void *impl, void *ctx);
/* Services whose descriptors were built at run time (weft/dyndesc.h) have
 * no generated implementation struct and no invoke thunks: one generic
 * handler serves every method of such a service. It is called as a
 * generated handler would be (the same threads, blocking or detached, see
 * "Asynchronous handlers"); weft_server_call_method(call) says which
 * method. Messages are dynamic messages of the method's types (read them
 * with the codec's reflection, weft_json_encode, ...): for unary and
 * server-streaming calls req is the request; for unary and client-streaming
 * calls resp is the response to fill (in the call's arena, e.g. by
 * weft_json_decode into a message copied over it, or field by field);
 * client-streaming and bidi calls read with weft_server_call_recv. Returns
 * a weft_status_code. */
typedef int (*weft_server_generic_fn)(weft_server_call *call, const void *req,
                                      void *resp, void *ud);
/* Serves svc (any descriptors: run-time or generated) through fn; ud is
 * passed to every call. svc and ud must live as long as the server; svc's
 * file is not kept in the process-wide list of known files, so a
 * run-time set may be freed once the server is. Returns 0, WEFT_ERR_INVAL
 * (NULL s, svc or fn), WEFT_ERR_STATE (a service of that name is already
 * served), WEFT_ERR_NOMEM. */
int weft_server_add_generic_service(weft_server *s,
                                    const weft_service_desc *svc,
                                    weft_server_generic_fn fn, void *ud);
/* Binds and starts serving this URL at once (e.g. "tcp://127.0.0.1:0").
 * Port 0 picks a free port: weft_server_port() tells which. */
int weft_server_listen(weft_server *s, const char *url, weft_error *err);
/* Port actually bound by the n-th listen call (0-based), or -1. */
int weft_server_port(const weft_server *s, unsigned n);
/* Blocks until weft_server_shutdown() is called (from any thread). */
int weft_server_run(weft_server *s);
/* Stops accepting, lets in-flight calls finish within shutdown_grace_ms,
 * cancels the rest, closes connections. Safe from a signal-handling thread. */
void weft_server_shutdown(weft_server *s);
/* Shuts down if still running, frees every listener and the server. Accepts
 * NULL. */
void weft_server_free(weft_server *s);

/* Calls fn for every service added to s, in the order added; gRPC's
 * health and reflection services use it. */
void weft_server_each_service(const weft_server *s,
                              void (*fn)(const weft_service_desc *svc,
                                         void *ud),
                              void *ud);

/* Publishes to every subscriber of topic on every transport (and, with
 * nats_url, on every node). msg is encoded before the return and stays the
 * caller's. With nats_url: WEFT_ERR_CONNECT while NATS is unreachable. */
int weft_server_publish(weft_server *s, const char *topic, const void *msg);

/* Inside a handler. */
const weft_method_desc *weft_server_call_method(const weft_server_call *call);
const weft_metadata *weft_server_call_metadata(const weft_server_call *call);
const char *weft_server_call_peer(const weft_server_call *call);
/* Absolute deadline in CLOCK_MONOTONIC ns; INT64_MAX if none. */
int64_t weft_server_call_deadline(const weft_server_call *call);
bool weft_server_call_cancelled(const weft_server_call *call);
/* Streaming handlers: 1 = message, 0 = client finished sending, < 0 error.
 * *msg is in the call's arena: valid until the call completes, never freed
 * by the handler. send encodes msg before it returns (the handler keeps
 * it); < 0 means the call is over (cancelled, connection gone).
 * send blocks while the transport is congested, except on a detached call
 * (see "Asynchronous handlers" below). */
int weft_server_call_recv(weft_server_call *call, void **msg);
/* The same, but *msg is the handler's: malloc'd, freed with
 * weft_message_free() when the handler is done with it. weft_server_call_
 * recv decodes into the call's arena, where every message stays until the
 * call ends (fine for a few, and what lets a handler keep pointers into
 * earlier messages); a long client stream should use this one so memory
 * stays flat (100,000 small messages: about 4.8 MB of arena otherwise). */
int weft_server_call_recv_owned(weft_server_call *call, void **msg);
int weft_server_call_send(weft_server_call *call, const void *msg);
int weft_server_call_add_header(weft_server_call *call, const char *key,
                                const void *value, size_t len);
int weft_server_call_add_trailer(weft_server_call *call, const char *key,
                                 const void *value, size_t len);
/* Message for the status the handler returns. */
void weft_server_call_set_message(weft_server_call *call, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Binary details for the non-OK status the handler returns: a serialized
 * google.rpc.Status, as gRPC's grpc-status-details-bin trailer carries it.
 * They travel as that trailer on grpc://, in the STATUS envelope on tcp://
 * and ws://, and as the Connect error's "details" (each Any in the Status
 * as {"type", "value"}) on HTTP/2. Copied into the call's arena; ignored for
 * an OK status. Returns 0 or WEFT_ERR_NOMEM. */
int weft_server_call_set_details(weft_server_call *call, const void *details,
                                 size_t len);
/* Compression of this call's response messages. gRPC (grpc://, grpcs://)
 * and HTTP/2 (Connect; h2c://, https://) compress with gzip when the
 * client accepts it; tcp and ws answer WEFT_ERR_UNSUPPORTED. */
typedef enum weft_compression {
  /* The transport's choice: gRPC's weft_grpc_opts.gzip; HTTP/2 compresses
   * messages of 1 KiB or more. */
  WEFT_COMPRESSION_DEFAULT = 0,
  WEFT_COMPRESSION_OFF, /* send every response message uncompressed */
  WEFT_COMPRESSION_ON   /* compress them (gzip; gRPC: or deflate, whichever
                           the client accepts) */
} weft_compression;
/* Applies to the response messages sent after it. gRPC fixes whether a
 * call compresses with its first response: there, after that, messages can
 * go uncompressed (OFF) and, only if the call compresses (ON from the
 * start, or DEFAULT with gzip on), compressed again; HTTP/2 decides per
 * message. Returns 0, WEFT_ERR_STATE for that late ON on gRPC,
 * WEFT_ERR_UNSUPPORTED where the transport does not compress,
 * WEFT_ERR_INVAL for a mode not in the enum. */
int weft_server_call_set_compression(weft_server_call *call,
                                     weft_compression mode);
/* ---- Asynchronous handlers ----
 *
 * A handler may return before its call ends and end it later from any
 * thread, as gRPC C++'s callback API does: an open stream then costs memory,
 * not a worker thread. The handler calls weft_server_call_detach() and
 * returns (its return value is then ignored); from that moment:
 *
 * - weft_server_call_send() never blocks: it copies the message onto the
 *   call's send queue (at most WEFT_SERVER_SEND_QUEUE messages), and a
 *   worker writes the queue to the transport in order. A full queue answers
 *   WEFT_ERR_AGAIN (the message was not queued): that is the backpressure
 *   signal. The handler either drops the message, ends the call, or stops
 *   sending and waits for the on_writable callback, which fires once when
 *   the queue has drained to half after a send returned WEFT_ERR_AGAIN.
 *   WEFT_ERR_CANCELLED (or the transport's error) means an earlier message
 *   could not be written: the client is gone, finish the call.
 * - weft_server_call_finish() ends the call with a status, exactly once,
 *   from any thread. It does not block either: the status goes out after
 *   the messages queued before it. For unary and client-streaming methods
 *   the response sent with an OK status is the `resp` the handler was
 *   given (it lives in the call's arena, fill it before finishing).
 *   weft_server_call_set_message/_set_details/_add_trailer before it apply.
 * - weft_server_call_on_cancel(): fn runs once when the client cancels or
 *   disconnects, the deadline passes, or the server shuts down, unless the
 *   call was finished first. It does not end the call: fn (or whoever it
 *   tells) still calls weft_server_call_finish.
 * - weft_server_call_after(): fn runs once after ms milliseconds unless the
 *   call was finished first (a pending timer does not keep the call open).
 *
 * Lifetime: after detach the call stays valid until weft_server_call_finish
 * returns; after that, only code running inside a callback for this call,
 * or the handler that detached it (until it returns), may still use it, and
 * only for read-only accessors (method, peer, metadata, deadline). The
 * runtime never ends a detached call by itself, so a detached call that is
 * never finished is never closed (weft_server_shutdown waits for it as for
 * a handler that never returns; on_cancel tells it to finish).
 * Callbacks (on_cancel, on_writable, after) run on the server's worker
 * pool (on_writable, and on_cancel after a failed write, on the job that
 * writes the call's messages), may run at the same time as each other and
 * as the application's threads (guard shared state), never run once the
 * call has ended, and must not block for long (they hold a worker). The
 * call stays valid while one of its callbacks runs, even if another thread
 * finishes it meanwhile. Cancellation is pushed by every transport of
 * weft (a CANCEL frame, RST_STREAM, gRPC core's cancelled close, or the
 * connection closing reaches on_cancel at once, through the worker pool)
 * and the deadline is a timer; only a user transport without ops->bind is
 * polled, every 50 ms (less often with thousands of detached calls:
 * polling is kept under ~20 % of a core).
 * Once on_cancel was told (or the deadline passed), weft_server_call_send
 * answers WEFT_ERR_CANCELLED and nothing more is written.
 * - weft_server_call_read() asks for the next request message of a
 *   client-streaming or bidi call without blocking (gRPC C++'s
 *   StartRead/OnReadDone, with connect-go's distinction between the end of
 *   the stream and an error): fn runs once, on the worker pool, with the
 *   message (malloc'd and the handler's: weft_message_free it when done, so
 *   a long stream's memory stays flat), the end of the stream, or an
 *   error. One read is outstanding at a time; fn may start the next one:
 *   if a message is queued already it is read on the same worker once fn
 *   returns (up to 64 in a row, so a burst costs no thread hand-off per
 *   message), otherwise when it arrives, on any worker, possibly before
 *   fn returned. A read outstanding at weft_server_call_finish is dropped
 *   (its message freed); a callback already under way when another thread
 *   finishes may still run (as on_cancel may), and the call stays valid
 *   while it does. At the deadline an outstanding read completes with
 *   WEFT_ERR_TIMEOUT (whether or not on_cancel is registered), and every
 *   later read is refused with it. weft_server_call_recv stays blocking and
 *   may still be used before the call detaches (not while a read is
 *   outstanding).
 * weft_server_call_add_header is refused once the first message is queued.
 * Shutdown: on_cancel fires for every detached call once the grace period
 * is over (the built-in PubSub and the reference node end theirs at once
 * with UNAVAILABLE). */
#define WEFT_SERVER_SEND_QUEUE 1024

typedef void (*weft_server_call_fn)(weft_server_call *call, void *ud);

/* Inside the handler, before it returns. Returns 0, or WEFT_ERR_STATE if
 * the call is already detached. */
int weft_server_call_detach(weft_server_call *call);
/* code: a WEFT_STATUS_* (another value is sent as UNKNOWN). OK (or
 * CANCELLED) after the deadline is sent as DEADLINE_EXCEEDED, as for a
 * blocking handler. Returns 0, or WEFT_ERR_STATE if the call is not
 * detached or was already finished (nothing happens then). */
int weft_server_call_finish(weft_server_call *call, int code);
/* Replace any earlier registration; NULL fn unregisters. Detached calls
 * only (WEFT_ERR_STATE otherwise). */
int weft_server_call_on_cancel(weft_server_call *call, weft_server_call_fn fn,
                               void *ud);
int weft_server_call_on_writable(weft_server_call *call, weft_server_call_fn fn,
                                 void *ud);
/* One-shot timer; several may be pending. Detached calls only. Returns 0,
 * WEFT_ERR_STATE (not detached, finished), WEFT_ERR_NOMEM. */
int weft_server_call_after(weft_server_call *call, int64_t ms,
                           weft_server_call_fn fn, void *ud);

/* status 1: msg is the next request message (malloc'd, the handler's:
 * weft_message_free). 0: the client finished sending (msg NULL; a read
 * after that answers 0 again; unary and server-streaming calls, whose
 * request the runtime read, answer 0 at once). < 0 (msg NULL):
 * WEFT_ERR_CANCELLED (the client cancelled or reset the stream, the server
 * is shutting down), WEFT_ERR_TIMEOUT (the call's deadline passed) or
 * WEFT_ERR_CLOSED (tcp/ws: the connection closed),
 * or why the stream failed (a message that does not decode, a malformed
 * stream; weft_server_call_recv_error says how): finish the call. A
 * cancelled stream never reads as 0, on any transport. The call is valid
 * while fn runs. */
typedef void (*weft_server_call_read_fn)(weft_server_call *call, void *msg,
                                         int status, void *ud);
/* Detached calls. Returns 0 (fn will run exactly once unless the call is
 * finished first), WEFT_ERR_INVAL (call or fn NULL), WEFT_ERR_STATE (not
 * detached, finished, or a read is outstanding), WEFT_ERR_TIMEOUT (the
 * deadline passed: reading is over), WEFT_ERR_UNSUPPORTED (a user
 * transport without ops->want_read), or the transport's error. */
int weft_server_call_read(weft_server_call *call, weft_server_call_read_fn fn,
                          void *ud);
/* Why the last receive (recv, recv_owned or a read) failed, e.g.
 * "jobId: expected a string"; NULL when the transport does not say. Valid
 * until the next receive. */
const char *weft_server_call_recv_error(weft_server_call *call);

/* An arena that lives as long as the call: decoded requests live here and
 * handlers may allocate response parts from it. */
weft_arena *weft_server_call_arena(weft_server_call *call);
weft_server *weft_server_call_server(weft_server_call *call);

#ifdef __cplusplus
}
#endif
#endif
