/* The client side of weft's common interface.
 *
 * One client per endpoint URL; the scheme picks the transport:
 *   tcp:// tls://       length-prefixed weft envelopes (transports/tcp)
 *   ws:// wss://        weft envelopes in WebSocket messages
 *   grpc:// grpcs://    gRPC through gRPC core
 *   h2c://              the Connect protocol over HTTP/2 (nghttp2)
 *   http:// https://    Connect (or gRPC-Web, or gRPC: weft/http.h) over
 *                       HTTP/1.1; https:// uses HTTP/2 when ALPN picks h2
 * Calls are blocking from the caller's thread (tcp/tls/ws/wss/h2c do the
 * I/O on one loop thread shared by every client of the process, grpc on
 * its own threads, HTTP/1.1 calls on the caller's thread), or
 * asynchronous with completion callbacks (weft_call_start_async, below). A
 * client is safe to use from several threads at once, and many calls may
 * be in flight on one connection.
 *
 * Ownership, in short: what a call hands back (a response, a received
 * message) belongs to the caller: free it with weft_message_free(), or set
 * weft_call_opts.arena and it lives in that arena (free nothing, release the
 * arena when done). What the caller passes in (URL, options, request
 * messages, metadata) is only read during the call that takes it, except
 * where a comment says it must outlive something. Strings weft returns
 * from a `const char *` getter belong to weft.
 *
 * Generated code wraps these per method, e.g.
 *   int aitbc__v1__Jobs_get_job(weft_client *, const aitbc__v1__GetJobRequest
 * *, aitbc__v1__Job **resp, weft_call_opts *);
 */
#ifndef WEFT_CLIENT_H
#define WEFT_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "weft/arena.h"
#include "weft/desc.h"
#include "weft/error.h"
#include "weft/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_client weft_client;
typedef struct weft_call weft_call;

typedef enum weft_conn_state {
  WEFT_CONN_DISCONNECTED = 0,
  WEFT_CONN_CONNECTING,
  WEFT_CONN_CONNECTED,
  WEFT_CONN_DISCONNECTING,
  WEFT_CONN_ERROR
} weft_conn_state;
const char *weft_conn_state_name(weft_conn_state s);

/* Payload encoding on transports that can carry either (ws, tcp, h2). */
typedef enum weft_codec_kind {
  WEFT_CODEC_PROTO = 0,
  WEFT_CODEC_JSON = 1
} weft_codec_kind;

typedef struct weft_tls_opts {
  const char *ca_file;     /* trust anchors; NULL: system default */
  const char *cert_file;   /* client (or server) certificate chain, PEM */
  const char *key_file;    /* its private key, PEM */
  const char *server_name; /* SNI and name to verify; NULL: URL host */
  bool insecure;           /* skip verification (tests and --insecure only) */
} weft_tls_opts;

typedef struct weft_backoff_opts {
  bool enabled;
  int64_t base_ms; /* first delay; default 100 */
  double factor;   /* default 2.0 */
  int64_t cap_ms;  /* default 30000 */
  double jitter;   /* 0..1, fraction of the delay randomized; default 0.2 */
  int max_tries;   /* 0: unlimited */
} weft_backoff_opts;

typedef struct weft_retry_opts {
  int max_attempts; /* 0 or 1: no retry */
  uint32_t codes;   /* bit (1u << code) retried; 0: UNAVAILABLE only */
  int64_t base_ms;  /* backoff between attempts; default 50 */
  int64_t cap_ms;   /* default 2000 */
} weft_retry_opts;

typedef struct weft_breaker_opts {
  int failure_threshold;    /* 0: no circuit breaker */
  int64_t reset_timeout_ms; /* open -> half-open after this; default 5000 */
} weft_breaker_opts;

typedef struct weft_client_opts {
  weft_codec_kind codec;
  int64_t connect_timeout_ms; /* 0: 10000 */
  int64_t default_timeout_ms; /* per-call deadline when a call sets none */
  size_t max_message_size;    /* 0: 4 MiB */
  int64_t keepalive_ms;       /* heartbeat interval; 0: transport default */
  int64_t idle_timeout_ms;    /* 0: none */
  weft_tls_opts tls;
  weft_backoff_opts reconnect;
  weft_retry_opts retry;
  weft_breaker_opts breaker;
  const weft_metadata *metadata; /* sent with every call (e.g. x-api-key) */
  void (*on_state)(weft_client *c, weft_conn_state state, void *ud);
  void (*on_connect)(weft_client *c, void *ud);
  void (*on_disconnect)(weft_client *c, void *ud);
  void (*on_error)(weft_client *c, const weft_error *err, void *ud);
  void *user_data;
  const void *transport_opts; /* transport-specific, see its header */
} weft_client_opts;

/* Per-call options; also where the outcome lands. Zero-initialize it
 * before first use: each call clears (frees) the previous status.
 * status.message and status.details are malloc'd and owned by the opts:
 * the next call through the same opts frees them, weft_status_clear() frees
 * them when the opts are done with. response_metadata, when set, points at
 * a caller-owned weft_metadata that the call fills (clear it with
 * weft_metadata_clear()). */
typedef struct weft_call_opts {
  int64_t timeout_ms;            /* 0: the client's default_timeout_ms */
  const weft_metadata *metadata; /* request metadata for this call */
  bool idempotent;   /* allow retries even if the method isn't marked */
  weft_arena *arena; /* decode responses into this arena */
  /* out: */
  weft_status status;               /* set on every call; OK on success */
  weft_metadata *response_metadata; /* if set: initial metadata + trailers */
} weft_call_opts;

/* Connects (or starts connecting, if reconnect is enabled). opts may be NULL.
 * On success *out is a new client, freed with weft_client_close(); url,
 * the opts struct and opts->metadata are copied, but what opts points to
 * (the tls file names, transport_opts, user_data) is read again on
 * reconnects and must live as long as the client. On failure *out is NULL.
 * Errors: WEFT_ERR_BAD_URL, _UNKNOWN_SCHEME, _CONNECT, _TLS, _TIMEOUT,
 * _HANDSHAKE. err (may be NULL) receives what the transport saw, e.g.
 * "server did not accept subprotocol weft.json.v1" or the certificate
 * verification failure, not just the code. */
int weft_client_open(weft_client **out, const char *url,
                     const weft_client_opts *opts, weft_error *err);
/* Like weft_client_open, without waiting for the network: returns at
 * once with the client CONNECTING, and the first attempt runs in the
 * background as reconnects do (without blocking a thread on the built-in
 * transports), due at once. So it may be called on the client loop, from
 * a callback. It fails only for what needs no network: WEFT_ERR_INVAL,
 * _BAD_URL, _UNKNOWN_SCHEME, _NOMEM. How connecting goes is told by
 * on_state, on_connect and on_error (all on the client loop) and
 * weft_client_state(). Calls started before the connection is up wait for
 * it, up to their deadline (or connect_timeout_ms), except on the client
 * loop's thread, where they fail at once with UNAVAILABLE. If the attempt
 * fails and reconnect is off (or max_tries is used up), the client stays
 * in WEFT_CONN_ERROR, its calls fail with UNAVAILABLE, and it is closed
 * with weft_client_close as usual. */
int weft_client_open_async(weft_client **out, const char *url,
                           const weft_client_opts *opts, weft_error *err);
/* Cancels calls in flight, closes the connection, frees. Accepts NULL.
 * Waits until threads owning calls have finished them; also cancels and
 * frees every subscription of the client. A connection attempt under way
 * is stopped (on the built-in transports; a user transport's is waited
 * for, up to connect_timeout_ms). Called off the client loop, no callback
 * of the client runs after it returns. From a callback running on the
 * client loop (on_disconnect, on_state, a subscription's event) it does not
 * wait: the rest of the close runs after the callback returns, and the
 * client fires DISCONNECTED (on_state, on_disconnect if it was connected)
 * then. */
void weft_client_close(weft_client *c);
weft_conn_state weft_client_state(const weft_client *c);
/* The URL given to weft_client_open; owned by the client. */
const char *weft_client_url(const weft_client *c);

/* Unary call. req is only read (encoded) during the call. On success *resp
 * is a new message that the caller owns: free it with weft_message_free(),
 * or, if opts->arena is set, it lives in that arena (do not free it). On
 * failure *resp is NULL. Returns 0, or WEFT_ERR_RPC with opts->status
 * holding the code and message (or another WEFT_ERR_* for local failures:
 * _INVAL for NULL arguments, _CONNECT, _CLOSED, _TIMEOUT, _TOO_BIG, _NOMEM,
 * also mirrored into opts->status). opts may be NULL. */
int weft_call_unary(weft_client *c, const weft_method_desc *m, const void *req,
                    void **resp, weft_call_opts *opts);

/* Streaming calls (any kind). opts must outlive the call (until
 * weft_call_finish returns): the outcome lands there and opts->arena, if set,
 * receives the decoded messages. On success *out is a new call, which
 * weft_call_finish() frees; every started call must be finished, also after
 * weft_call_cancel(). */
int weft_call_start(weft_client *c, const weft_method_desc *m,
                    weft_call_opts *opts, weft_call **out);
/* Encodes and queues msg; the caller keeps msg (it is not referenced after
 * the return). Returns 0 or a negative WEFT_ERR_* (_CLOSED, _CANCELLED,
 * _STATE after close_send, _TOO_BIG). */
int weft_call_send(weft_call *call, const void *msg);
/* Half-closes: the server sees the end of the client's stream. */
int weft_call_close_send(weft_call *call);
/* Blocks until a message (returns 1, *msg set), the end of the stream
 * (returns 0, *msg NULL) or a failure (< 0, *msg NULL; status in opts).
 * Each message is handed over to the caller: a new malloc'd message to
 * free with weft_message_free(), or, if the call's opts->arena is set, a
 * message in that arena (free nothing; it lives until the arena is reset or
 * freed). */
int weft_call_recv(weft_call *call, void **msg);
/* Cancels from any thread; the peer sees CANCELLED. An asynchronous call
 * gets its on_done (CANCELLED), possibly before this returns. */
void weft_call_cancel(weft_call *call);
/* Waits for the final status, fills opts->status, frees the call (do not
 * use it afterwards). Messages already received stay the caller's.
 * Returns 0 if the status is OK, else WEFT_ERR_RPC (or another error). */
int weft_call_finish(weft_call *call);

/* ---- Asynchronous calls ----
 *
 * The callback model of gRPC C++'s client reactor and connect-go: start a
 * call, send from any thread without waiting for the peer, and hear the
 * responses through callbacks. One thread can keep thousands of calls in
 * flight; an open call is memory, not a thread.
 *
 * Threads. On tcp://, tls://, ws://, wss:// and h2c:// (the HTTP/2
 * client, also behind https:// when ALPN picks h2 and the https transport
 * passes asynchronous calls through to it) the callbacks run on the
 * process-wide client loop (one thread
 * for every connection of the process, or a caller driving it while it
 * waits for a reply) as the frames arrive, except that on_done
 * of a call ended by weft_call_cancel (or a failed send) may run on the
 * thread that cancelled, before weft_call_cancel returns, and on_done of a
 * call that ended while another thread was inside weft_call_send or
 * weft_call_close_send runs on that thread, before it returns (the
 * transport's call is not freed under a sender). On grpc:// and
 * grpcs:// they run on one thread shared by every grpc client of the
 * process (started with the first asynchronous call, stopped when the
 * last client that made one is closed) as gRPC core completes the calls'
 * batches, and weft_call_send queues (it waits only while a call has
 * over 1 MiB queued, and never on that thread). On h2c:// and https:// over
 * HTTP/2 a send waits only while the call has over 256 KiB not yet written (the
 * peer's flow control window), and never on the loop thread. On http://
 * and on https:// over HTTP/1.1 they run on the client loop too: a call
 * takes one of the client's connections for its whole exchange (at most
 * weft_http_client_opts.max_connections, default 32, open at once, of
 * which max_idle_connections, default 4, stay open between calls; calls
 * beyond the cap wait in a queue, first come first served, up to their
 * deadline), and weft_call_send of a client stream queues (it waits only
 * while a call has over 1 MiB queued, and never on the loop). On user
 * transports without call_start_async each call in flight holds a thread
 * of a per-client pool of up to 16 (made as calls need them) that runs
 * the blocking receive loop and the callbacks; calls beyond 16 wait for
 * one, so there a call must not wait, in a callback, for another call to
 * progress. Either
 * way, callbacks of one call never run concurrently and come in order
 * (on_headers, on_message..., on_done), callbacks of different calls may
 * run concurrently, and callbacks must not block: they hold the thread
 * that serves every call of the connection (or a pool thread). Inside a
 * callback a call may send, close_send and cancel (itself or others) and
 * start new calls; it must not call weft_client_close or a blocking call.
 *
 * Ownership. *out is set before any callback runs and the call stays
 * valid until on_done returns; the runtime frees it then (never use it
 * afterwards; weft_call_recv and weft_call_finish answer WEFT_ERR_STATE on
 * an asynchronous call). on_done may run at any time after the start,
 * even before weft_call_start_async returns (say, the connection dropped),
 * and inside weft_call_send / _close_send / _cancel on the calling thread
 * when that ends the call: a thread that sends or cancels from outside the
 * callbacks must know the call is not done (a flag set in on_done, checked
 * under a lock that is not held across the weft_call_* call itself, as
 * with gRPC C++'s StartWrite after OnDone). Passing the request to
 * weft_call_start_async (unary, server streaming) avoids the question. A
 * message passed to on_message is the callee's (free it with weft_message_free,
 * or it lives in opts->arena if that was set: the arena must then outlive the
 * call). The headers, status and metadata passed to on_headers / on_done live
 * only during the callback (copy what you keep). cb and ud must stay
 * valid until on_done returns. Every started call ends with exactly one
 * on_done, also when cancelled, past its deadline, or when the connection
 * or the client is closed (weft_client_close cancels the calls still in
 * flight and waits for their on_done). */
typedef struct weft_call_callbacks {
  /* Optional. Once, before the first on_message and before on_done, with
   * the response headers received so far (possibly none; tcp and ws carry
   * a unary call's headers with its status, h2 gives them only to
   * on_done). */
  void (*on_headers)(weft_call *call, const weft_metadata *headers, void *ud);
  /* Optional (NULL: messages are dropped). Each response message, in order;
   * msg is handed over (see Ownership above). */
  void (*on_message)(weft_call *call, void *msg, void *ud);
  /* Required. Exactly once, last: the final status (OK, the server's,
   * CANCELLED after weft_call_cancel, DEADLINE_EXCEEDED, UNAVAILABLE when
   * the connection is lost, ...) and the response metadata (headers and
   * trailers together, as weft_call_opts.response_metadata gets them). */
  void (*on_done)(weft_call *call, const weft_status *status,
                  const weft_metadata *trailers, void *ud);
} weft_call_callbacks;

/* Starts an asynchronous call of any kind. req (may be NULL) is the first
 * request message, sent before the call can end; for unary and
 * server-streaming methods it is the request, and the send side is closed
 * with it (a wrong message type cancels the call: on_done INVALID_ARGUMENT
 * or CANCELLED). opts (may be NULL) is read
 * during this call only: its timeout_ms, metadata, arena (the responses'
 * arena, which must outlive the call) and, on failure, status, which says
 * why; opts->response_metadata is not used (on_done has the metadata).
 * Then weft_call_send / weft_call_close_send / weft_call_cancel drive the
 * call from any thread (sends of one call from one thread at a time).
 * weft_call_send encodes msg and queues it without waiting for the peer (on
 * tcp/ws it waits only while the connection's write buffer is over its bound,
 * and never on the I/O thread). While a reconnect is in progress it waits
 * for the connection up to the call's deadline, except on the client
 * loop's thread (a callback), where it fails at once with _CONNECT. Returns
 * 0 with *out set, or a negative WEFT_ERR_* (_INVAL: NULL c, m, cb,
 * cb->on_done or out; _CONNECT, _STATE (client closed), _TIMEOUT, _NOMEM,
 * _RPC (circuit open)): then *out is NULL and no callback runs. Named
 * _async because weft_call_start is the blocking streaming call's. */
int weft_call_start_async(weft_client *c, const weft_method_desc *m,
                          const void *req, weft_call_opts *opts,
                          const weft_call_callbacks *cb, void *ud,
                          weft_call **out);

/* Publish/subscribe over the built-in weft.v1.PubSub service, so it works on
 * every transport. Subscriptions survive reconnects. subscribe returns once
 * the server registered the subscription; fn runs on the client loop (on
 * grpc: the client's queue thread), must not block, and
 * msg lives only during the call (an event of an unknown
 * type arrives as the google.protobuf.Any itself): copy it with
 * weft_message_copy() to keep it. topic is copied; ud must live until the
 * subscription is cancelled. *out is freed by weft_subscription_cancel() or
 * by weft_client_close(). publish encodes msg before it returns. */
typedef struct weft_subscription weft_subscription;
typedef void (*weft_event_fn)(const char *topic, const weft_msg_desc *type,
                              const void *msg, void *ud);
int weft_client_subscribe(weft_client *c, const char *topic, weft_event_fn fn,
                          void *ud, weft_subscription **out);
/* The same, starting after a cursor: on a durable topic of a NATS cluster
 * (docs/CLUSTER.md) the server delivers the stored events whose sequence
 * is greater than after_sequence (0: from the first stored one), then the
 * new ones. Servers ignore it on other topics. Every subscription, this
 * one or not, re-subscribes after the last sequence it delivered when its
 * stream is cut (a lost connection, another node behind a balancer). */
int weft_client_subscribe_after(weft_client *c, const char *topic,
                                uint64_t after_sequence, weft_event_fn fn,
                                void *ud, weft_subscription **out);
/* The cursor to keep, to resume with weft_client_subscribe_after
 * elsewhere: the sequence of the last event s delivered or, before its
 * first, the one its subscription started after (on a durable topic the
 * stream's position when the server acknowledged it; 0 on other topics,
 * where servers ignore cursors). Call it from s's callback for the event
 * just delivered, or from any thread. */
uint64_t weft_subscription_last_sequence(weft_subscription *s);
void weft_subscription_cancel(weft_subscription *s);
int weft_client_publish(weft_client *c, const char *topic, const void *msg);

#ifdef __cplusplus
}
#endif
#endif
