/* The transport interface: how tcp, ws, grpc, h2 (and user transports) plug
 * into the runtime. A transport registers under URL schemes; the rpc layer
 * never knows which one it talks to.
 *
 * Client side: a transport opens a connection and runs calls on it. All call
 * functions may be called from any user thread; recv and finish block.
 * Server side: a transport listens, and for every incoming call hands the
 * runtime a weft_server_call_ops table through weft_server_dispatch(); the
 * runtime runs the handler on its worker pool and calls ops->finish exactly
 * once, after which the transport owns (and frees) its call object.
 *
 * Ownership, in short: the registry and the runtime keep the transport
 * vtables and ops tables they are given (not copied): make them static.
 * Strings and metadata passed to the runtime (paths, peers, metadata,
 * errors) are copied or only read during the call.
 */
#ifndef WEFT_TRANSPORT_H
#define WEFT_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "weft/client.h"
#include "weft/loop.h"
#include "weft/opts.h"
#include "weft/server.h"

#ifdef __cplusplus
extern "C" {
#endif

/* scheme://host:port/path?query. IPv6 hosts in brackets. */
typedef struct weft_url {
  char scheme[16];
  char host[256];
  int port;         /* -1 if absent */
  char path[1024];  /* "" or starting with '/' */
  char query[1024]; /* without '?' */
} weft_url;

/* Splits url into *out (zeroed first; fixed-size fields, nothing
 * allocated). Returns 0, WEFT_ERR_INVAL (url or out NULL) or
 * WEFT_ERR_BAD_URL (err says what: no scheme, empty host, bad port, a part
 * too long for its field, ...). */
int weft_url_parse(const char *url, weft_url *out, weft_error *err);
/* Value of a query parameter (percent-decoded, '+' as space; a stray '%'
 * stays literal) into the caller's buf, NUL-terminated. query may start
 * with '?'. Returns 0 if found, -1 if absent, WEFT_ERR_INVAL for a NULL
 * argument or cap 0 (the same value as "absent"), WEFT_ERR_TOO_BIG if the
 * value and its NUL do not fit in cap (buf then holds a prefix, not
 * NUL-terminated). The first occurrence wins. */
int weft_url_query_param(const char *query, const char *name, char *buf,
                         size_t cap);

/* What an asynchronous client call reports (call_start_async). Events of
 * one call never overlap; on_end comes last, exactly once, after which the
 * runtime calls call_finish, which must then not block. */
typedef struct weft_call_events {
  /* Once, before the first message or the end: headers so far. */
  void (*on_headers)(void *ud, const weft_metadata *headers);
  /* A decoded response message, handed over (malloc'd, or in arena). */
  void (*on_message)(void *ud, void *msg);
  /* The stream ended: status received, cancelled, failed or lost. */
  void (*on_end)(void *ud);
} weft_call_events;

typedef struct weft_client_transport {
  const char *scheme;
  int default_port;
  /* Establishes the connection (blocking, bounded by connect_timeout_ms).
   * The transport reports later state changes with weft_client_notify(). */
  int (*connect)(weft_client *client, const weft_url *url,
                 const weft_client_opts *opts, void **conn, weft_error *err);
  /* Cancels calls in flight and frees the connection. */
  void (*disconnect)(void *conn);
  int (*call_start)(void *conn, const weft_method_desc *m,
                    const weft_metadata *md, int64_t deadline_ns, void **tcall,
                    weft_error *err);
  int (*call_send)(void *tcall, const void *msg);
  int (*call_close_send)(void *tcall);
  /* 1: *msg set (malloc'd, or in arena), 0: end of stream, < 0: failed */
  int (*call_recv)(void *tcall, weft_arena *arena, void **msg);
  /* Blocks until the final status; fills st (and md with response headers
   * and trailers, if md != NULL); frees tcall. */
  int (*call_finish)(void *tcall, weft_status *st, weft_metadata *md);
  void (*call_cancel)(void *tcall);
  /* Optional (NULL: the runtime runs an asynchronous call's blocking recv
   * loop on a worker thread of the client): starts a call whose responses
   * are pushed to ev (ev, ud and arena live until on_end). call_send,
   * call_close_send and call_cancel work as for other calls, call_recv is
   * not used. Events must not run inside call_start_async's caller's
   * locks: they may run before it returns, on the calling thread. Returns
   * 0, < 0 (failed, err says why), or 1 when this connection has no
   * asynchronous path (say, https:// where ALPN picked a protocol whose
   * transport has none): nothing was started, and the runtime starts the
   * call with call_start and runs it on the pool as above. */
  int (*call_start_async)(void *conn, const weft_method_desc *m,
                          const weft_metadata *md, int64_t deadline_ns,
                          weft_arena *arena, const weft_call_events *ev,
                          void *ud, void **tcall, weft_error *err);
  /* Optional (NULL: reconnect attempts call connect on the runtime's
   * connector thread, one at a time for the whole process): opens a
   * connection without blocking, for a reconnect attempt. Called on the
   * client loop's thread (weft_client_loop_acquire); done(client, rv,
   * conn, err) runs there once, never inside this call, with rv 0 and the
   * connection (as connect's *conn) or rv < 0 and err saying why (as
   * connect's). Returns 0 (done will run), or < 0 with err set (done will
   * not). Bounded by connect_timeout_ms like connect. weft_client_open's
   * first attempt still uses connect (weft_client_open_async's does not). */
  int (*connect_async)(weft_client *client, const weft_url *url,
                       const weft_client_opts *opts,
                       void (*done)(weft_client *client, int rv, void *conn,
                                    const weft_error *err),
                       weft_error *err);
} weft_client_transport;

/* A message's protobuf encoding, made once and shared by several calls
 * (one event published to every subscriber). data is valid while the op
 * that receives it runs; a transport that keeps it longer (gRPC core holds
 * a slice until it is written) calls ref(ud) first and unref(ud) when done,
 * from any thread. */
typedef struct weft_encoded_msg {
  const uint8_t *data;
  size_t len;
  void (*ref)(void *ud);
  void (*unref)(void *ud);
  void *ud;
} weft_encoded_msg;

/* What the runtime asks of a transport's incoming call. */
typedef struct weft_server_call_ops {
  /* Blocks (on a worker thread). 1: message, 0: client done, < 0: failed. */
  int (*recv)(void *tc, weft_arena *arena, void **msg);
  /* Sends response headers first if not yet sent. */
  int (*send)(void *tc, const void *msg, const weft_metadata *headers);
  /* Sends the status (and headers if nothing was sent). Called once; the
   * transport may free tc afterwards. */
  int (*finish)(void *tc, const weft_status *st, const weft_metadata *headers,
                const weft_metadata *trailers);
  bool (*cancelled)(void *tc);
  /* Optional (may be NULL): why the last recv failed, e.g.
   * `jobId: expected a string`, so the runtime can answer INVALID_ARGUMENT
   * with the reason instead of a generic message. */
  const char *(*recv_error)(void *tc);
  /* Optional (NULL: the transport does not compress): the handler's
   * weft_server_call_set_compression(), at any point of the call; the
   * transport answers WEFT_ERR_STATE for what it can no longer change. */
  int (*set_compression)(void *tc, weft_compression mode);
  /* Optional (NULL: the runtime polls `cancelled` for detached calls that
   * wait for on_cancel): the runtime's handle for tc, given once, before
   * the handler runs. Until ops->finish is called the transport then calls
   * weft_server_notify_cancel(call) when the client cancels, resets the
   * stream or the connection closes (also if that happened before bind). */
  void (*bind)(void *tc, weft_server_call *call);
  /* Optional (NULL: the runtime calls send): send for a message whose
   * protobuf encoding the runtime already has (pb, shared by many calls),
   * so a transport that frames protobuf binary writes those bytes instead
   * of encoding msg again; one that sends this call another way (JSON)
   * uses msg as send does. */
  int (*send_encoded)(void *tc, const void *msg, const weft_encoded_msg *pb,
                      const weft_metadata *headers);
  /* Optional (NULL: weft_server_call_read answers WEFT_ERR_UNSUPPORTED):
   * the handler of call (tc's runtime call) wants the next message without
   * blocking. The transport calls weft_server_notify_readable(call) once,
   * as soon as recv would return without blocking (a message is there, the
   * client finished sending, the stream failed or was cancelled), possibly
   * from inside want_read; the runtime then calls recv on a worker. One
   * want_read is outstanding at a time; the transport forgets it in finish
   * (no notify once finish has started). Returns 0 or a WEFT_ERR_*. */
  int (*want_read)(void *tc, weft_server_call *call);
} weft_server_call_ops;

typedef struct weft_server_transport {
  const char *scheme;
  int default_port;
  /* Binds and starts accepting; *port receives the bound port. */
  int (*listen)(weft_server *s, const weft_url *url,
                const weft_server_opts *opts, void **listener, int *port,
                weft_error *err);
  void (*stop_accepting)(void *listener);
  /* Closes every connection (calls still running were given the grace
   * period by the runtime and are cancelled now) and frees. */
  void (*close)(void *listener);
} weft_server_transport;

/* Later registrations of a scheme replace earlier ones (schemes compare
 * case-insensitively). weft's own transports are registered by
 * weft_transports_init() (idempotent, thread-safe), which weft_client_open,
 * weft_server_listen and the register functions call. t is kept, not
 * copied, and there is no unregistering: t (and its scheme string) must
 * live until the process ends. Register returns 0, WEFT_ERR_INVAL (t NULL,
 * no scheme, or a required function missing: connect, call_start and
 * call_finish for clients, listen and close for servers) or WEFT_ERR_LIMIT
 * (32 schemes already registered). Find returns the registered table, or
 * NULL (unknown or NULL scheme); it does not call weft_transports_init. */
int weft_register_client_transport(const weft_client_transport *t);
int weft_register_server_transport(const weft_server_transport *t);
const weft_client_transport *weft_find_client_transport(const char *scheme);
const weft_server_transport *weft_find_server_transport(const char *scheme);
void weft_transports_init(void);

/* Transport -> runtime. */
/* A new incoming call for `path` ("/pkg.Service/Method"). The runtime
 * resolves the method (UNIMPLEMENTED through ops->finish if unknown), checks
 * API keys, and runs the handler. md is copied. Returns 0 when the runtime
 * took the call (ops->finish will be called exactly once, possibly from
 * inside this function). Returns < 0 if it could not take it at all (e.g.
 * the server is shutting down): then ops->finish is never called and the
 * transport answers the call itself. Codes: WEFT_ERR_INVAL (s or ops NULL,
 * or ops lacks recv, send, finish or cancelled), WEFT_ERR_STATE (the server
 * is not running or shutting down; answer UNAVAILABLE). path and peer are
 * copied; out of memory is answered RESOURCE_EXHAUSTED through ops->finish
 * (return 0). ops and tc are kept until ops->finish has been called: ops
 * must outlive the call (static), tc stays the transport's. */
int weft_server_dispatch(weft_server *s, const char *path,
                         const weft_metadata *md, int64_t deadline_ns,
                         const char *peer, const weft_server_call_ops *ops,
                         void *tc);
/* The same as weft_server_dispatch, but the handler runs on the calling
 * thread, which must be one the transport can spare (gRPC's queue threads
 * run handlers this way, as gRPC's C++ sync server does, and keep another
 * thread polling meanwhile). Returns when the call is finished. */
int weft_server_dispatch_inline(weft_server *s, const char *path,
                                const weft_metadata *md, int64_t deadline_ns,
                                const char *peer,
                                const weft_server_call_ops *ops, void *tc);
/* The client of `call` (see ops->bind) is gone: the runtime fires the
 * call's on_cancel now and refuses further sends with WEFT_ERR_CANCELLED.
 * Safe under the transport's own lock (it runs no callback itself, it
 * posts one to the worker pool), but the transport must not call it once
 * its ops->finish for the call has started: clear the stored handle under
 * the same lock in finish. Idempotent; call NULL is ignored. */
void weft_server_notify_cancel(weft_server_call *call);
/* True on a thread that writes the queued messages of a batch of calls
 * (one event published to many subscribers): a transport may then queue a
 * message for its connection's I/O thread to write with the others rather
 * than write it at once (one write per connection, not one per call). */
bool weft_server_sending_batch(void);
/* The answer to ops->want_read: recv would not block now. Like
 * notify_cancel it runs no callback (the read's is posted to the worker
 * pool), so it is safe under the transport's own lock, and must not be
 * called once ops->finish for the call has started. Only the first notify
 * after a want_read counts; call NULL is ignored. */
void weft_server_notify_readable(weft_server_call *call);
/* Resolves a method path ("/pkg.Service/Method") against the server's
 * services (NULL if unknown, or path NULL or malformed). The descriptor
 * belongs to the service added with weft_server_add_service (it lives as
 * long as the server). */
const weft_method_desc *weft_server_find_method(const weft_server *s,
                                                const char *path);
/* The server's copy of its options (owned by the server, valid until
 * weft_server_free); s must not be NULL. */
const weft_server_opts *weft_server_get_opts(const weft_server *s);
/* A number that names this server for the life of the process: unlike its
 * address, never given to another server after weft_server_free, so state a
 * transport keeps per server outside it (gRPC health overrides) cannot pass
 * to a later server. 0 for NULL. */
uint64_t weft_server_id(const weft_server *s);
/* Server transports report their connections through this (runs
 * weft_server_opts.on_connection if set; I/O thread). error and reason
 * are for CLOSED (see weft_conn_event). The strings (NULL reads as "") are
 * only read during the call; the callback sees them only while it runs.
 * s NULL is ignored. */
void weft_server_conn_event(weft_server *s, weft_conn_event_kind kind,
                            const char *scheme, const char *listener,
                            const char *peer, int error, const char *reason,
                            uint64_t calls);
/* "scheme://host:port" into buf (IPv6 hosts in brackets; an empty host is
 * "0.0.0.0"), for weft_conn_event.listener. Truncated (snprintf) to cap,
 * always NUL-terminated if cap > 0; cannot fail. */
void weft_format_listen_url(char *buf, size_t cap, const char *scheme,
                            const char *host, int port);
/* Connection state changes seen by a client transport. It runs the
 * client's callbacks (on_state, on_error, on_disconnect) on the calling
 * thread before it returns, with no client lock held. DISCONNECTED or ERROR for
 * the live connection retires it and, if reconnect is enabled, schedules a
 * reconnect; CONNECTING and DISCONNECTING are ignored (the runtime sets
 * them). *err (may be NULL) is copied. c NULL is ignored. */
void weft_client_notify(weft_client *c, weft_conn_state state,
                        const weft_error *err);

/* The process-wide client loop: one weft_loop (one thread) on which every
 * client transport of the process registers its sockets and the runtime
 * runs its client timers (reconnect, deadlines, re-subscribing). acquire
 * starts it on first use and counts a reference; release drops one, and the
 * last release stops it (unless made on the loop thread itself: the idle
 * loop then stays for the next acquire). Callbacks of every client run on
 * it, or on a caller driving it (loop.h): they must not block. acquire
 * returns 0, WEFT_ERR_INVAL (out NULL), WEFT_ERR_NOMEM or WEFT_ERR_IO
 * (epoll/eventfd), with err set. release accepts NULL. */
int weft_client_loop_acquire(weft_loop **out, weft_error *err);
void weft_client_loop_release(weft_loop *l);

/* Monotonic clock in ns (CLOCK_MONOTONIC), and deadline helpers: absolute
 * CLOCK_MONOTONIC ns, INT64_MAX meaning none. A timeout too large to
 * represent saturates to INT64_MAX. Cannot fail. */
int64_t weft_now_ns(void);
int64_t weft_deadline_from_timeout_ms(int64_t timeout_ms); /* <=0: INT64_MAX */

#ifdef __cplusplus
}
#endif
#endif
