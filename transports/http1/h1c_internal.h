/* Internals of the http:// and https:// client transport over HTTP/1.1:
 * the connection pool (h1c_pool.c), calls (h1c_call.c: the request, the
 * response callbacks and the blocking I/O), asynchronous calls on the
 * client loop (h1c_async.c) and the scheme dispatch (http_transport.c).
 *
 * Threads: none of its own. HTTP/1.1 carries one exchange at a time per
 * connection, so a call owns its connection from request to response end.
 * A blocking call does its I/O on the user thread in send/recv/finish
 * (poll with the deadline as timeout): no hand-off to a loop thread, which
 * would add two wake-ups per call. An asynchronous call registers its
 * connection on the process-wide client loop instead, which writes the
 * request and feeds the response to the engine, and opens its new
 * connections there too (TCP connect and TLS handshake without blocking,
 * transports/common/dial.h; only a host name's lookup runs on the
 * runtime's connector thread). weft_call_cancel() and the
 * client's close wake a blocked call by shutting its socket down.
 *
 * Connections are capped per client (max_connections); calls beyond the
 * cap wait in one FIFO, blocking and asynchronous alike, and a connection
 * whose exchange ended goes straight to the first waiter. */
#ifndef WEFT_TRANSPORTS_HTTP1_H1C_INTERNAL_H
#define WEFT_TRANSPORTS_HTTP1_H1C_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>

#include "../common/sock.h"
#include "../http2/connect_client.h"
#include "h1_client.h"
#include "weft/http.h"
#include "weft/transport.h"

typedef struct h1c_pool h1c_pool;
typedef struct h1c_link h1c_link;
typedef struct h1c_call h1c_call;
typedef struct h1c_waiter h1c_waiter;

/* One HTTP/1.1 connection and its engine. */
struct h1c_link {
  h1c_link *next;
  weft__conn *sock;
  weft__h1c *eng;
  h1c_call *call;   /* the call the engine's callbacks report to */
  bool eof;         /* the server closed */
  bool on_loop;     /* registered on the client loop (loop thread only) */
  unsigned loop_ev; /* the events it is registered for */
};

/* A call waiting for a connection (p->mu). The pool grants it either an
 * idle connection (link) or the right to open one (slot, counted in
 * nopen); a close grants neither. A blocking caller waits on cv; an
 * asynchronous call's grant is posted to the loop. */
struct h1c_waiter {
  h1c_waiter *next;
  h1c_call *async; /* NULL: a blocking caller */
  pthread_cond_t cv;
  h1c_link *link;
  bool slot, granted, queued;
};

struct h1c_pool {
  pthread_mutex_t mu;
  int refs; /* 1 for the client's handle + 1 per call */
  bool closed;
  weft_client *client;
  weft_loop *loop; /* the client loop (a reference): asynchronous calls */
  weft_http_protocol protocol;
  bool json;
  size_t max_msg;
  int max_idle;
  int max_conns; /* open or being opened, at most */
  int nopen;
  int64_t connect_timeout_ms;
  char host[256];
  int port;
  char authority[300];
  const char *server_name;
  weft__tls_ctx *tls;
  h1c_link *idle;
  int nidle;
  h1c_link *busy; /* links calls hold (shut down by close and cancel) */
  h1c_waiter *wq_head, *wq_tail;
};

/* A message of a client stream queued by an asynchronous send. */
typedef struct h1c_qmsg {
  struct h1c_qmsg *next;
  size_t len;
  uint8_t data[];
} h1c_qmsg;

struct h1c_call {
  h1c_pool *p;
  const weft_method_desc *m;
  bool web;       /* gRPC-Web, else Connect */
  bool json;      /* JSON codec */
  bool chunked;   /* client stream: the request body is chunked */
  bool enveloped; /* the response is a stream of envelopes */
  int64_t deadline_ns;
  weft_metadata req_md;

  h1c_link *link; /* under p->mu (cancel shuts it down) */
  bool reused;
  int attempts;
  bool cancelled; /* __atomic */
  h1c_waiter w;

  /* The request. */
  uint8_t *body; /* whole requests: kept until a response byte arrives */
  size_t body_len;
  bool have_body, req_started, req_ended;

  /* The response (connect_client.h: its status, metadata, messages). */
  weft__connect_resp resp;
  int head_grpc_status; /* gRPC-Web trailers-only response; -1 none */
  char *head_grpc_message;
  bool done, unary_given;

  /* Asynchronous calls (h1c_async.c). Loop thread only unless noted. */
  bool async;
  const weft_call_events *ev;
  void *ud;
  weft_arena *arena;
  int refs;   /* __atomic: the runtime's, posted jobs', a dial's */
  int astate; /* h1c_async.c's A_* */
  weft_timer *timer;
  bool timer_armed, headers_told, end_submitted;
  struct weft__dial *dial; /* CONNECT: the connection being opened */
  /* Under p->mu: sends queued for the loop, close_send, the end. */
  h1c_qmsg *q_head, *q_tail;
  size_t q_bytes;
  bool q_end, over, kick_posted;
  bool link_bad;       /* bytes after the response: not reusable (loop) */
  pthread_cond_t q_cv; /* a sender waiting for the queue to drain */
};

/* h1c_pool.c */
int weft__h1c_pool_new(h1c_pool **out, weft_client *client, const weft_url *url,
                       const weft_client_opts *o, weft_http_protocol protocol,
                       weft__tls_ctx *tls, weft__conn *first, weft_error *err);
void weft__h1c_pool_unref(h1c_pool *p);
/* Closes idle links, shuts the busy ones down (their calls fail), wakes
 * the waiters, drops the handle's reference. */
void weft__h1c_pool_close(h1c_pool *p);

enum { H1C_TAKE_LINK, H1C_TAKE_OPEN, H1C_TAKE_WAIT };
/* A connection for w's call: an idle one (H1C_TAKE_LINK, *out set, stale
 * ones dropped), the right to open one (H1C_TAKE_OPEN: counted, so call
 * weft__h1c_pool_connect or weft__h1c_pool_unopen), or w is queued
 * (H1C_TAKE_WAIT) until the pool grants it one. WEFT_ERR_CLOSED: the
 * client is closed. */
int weft__h1c_pool_take(h1c_pool *p, h1c_waiter *w, h1c_link **out);
/* Takes w out of the queue: true if it was still queued, false if a grant
 * was made meanwhile (the caller then owns w->link or w->slot). */
bool weft__h1c_pool_unwait(h1c_pool *p, h1c_waiter *w);
/* Opens a connection in a slot H1C_TAKE_OPEN (or a grant) gave, bounded by
 * connect_timeout_ms and deadline. On failure the slot is still the
 * caller's (weft__h1c_pool_unopen). Blocks: not on the loop. */
int weft__h1c_pool_connect(h1c_pool *p, int64_t deadline_ns, h1c_link **out,
                           weft_error *err);
/* Its two halves around the connect, for a connection opened on the loop
 * (dial.h): the time a new connection may take (connect_timeout_ms, or
 * less by the deadline; WEFT_ERR_TIMEOUT when the deadline has passed,
 * WEFT_ERR_CLOSED when the client is closed), and the connected socket
 * made a link of the pool (sock taken, also on failure: ALPN other than
 * http/1.1 is WEFT_ERR_HANDSHAKE). */
int weft__h1c_pool_connect_ms(h1c_pool *p, int64_t deadline_ns, int64_t *ms_out,
                              weft_error *err);
int weft__h1c_pool_adopt(h1c_pool *p, weft__conn *sock, h1c_link **out,
                         weft_error *err);
/* Gives an unused slot back (to the first waiter, if any). */
void weft__h1c_pool_unopen(h1c_pool *p);
/* A blocking caller's connection: take, wait (until the deadline, a
 * cancel or the close) and connect. */
int weft__h1c_pool_get(h1c_pool *p, h1c_call *k, h1c_link **out, bool *reused,
                       weft_error *err);
/* After an exchange: to the first waiter or the idle list if it ended
 * cleanly and there is room, else closed (its slot to the first waiter).
 * An asynchronous call takes the link off the loop first. */
void weft__h1c_pool_put(h1c_pool *p, h1c_link *l, bool reusable);
/* Closes l but keeps its slot for the caller (a retry on a new
 * connection). */
void weft__h1c_pool_discard(h1c_pool *p, h1c_link *l);
/* Wakes the thread blocked on l (shutdown; the fd stays until put).
 * p->mu held. */
void weft__h1c_link_abort(h1c_link *l);
void weft__h1c_link_free(h1c_link *l);

/* Writes the engine's pending output. 0, WEFT_ERR_TIMEOUT (deadline),
 * or the socket's error (err says what). */
int weft__h1c_link_flush(h1c_link *l, int64_t deadline_ns, weft_error *err);
/* Reads once (waiting up to the deadline) and feeds the engine. 0 (some
 * progress, or the server closed: l->eof), WEFT_ERR_TIMEOUT, or the
 * socket's / engine's error. */
int weft__h1c_link_read(h1c_link *l, int64_t deadline_ns, weft_error *err);
/* The socket's failure as an error naming the peer. */
int weft__h1c_sock_error(h1c_link *l, ssize_t rv, const char *what,
                         weft_error *err);

/* h1c_call.c: the weft_client_transport functions of a pool, and what the
 * asynchronous driver shares with the blocking one. */
int weft__h1c_call_start(h1c_pool *p, const weft_method_desc *m,
                         const weft_metadata *md, int64_t deadline_ns,
                         void **tcall, weft_error *err);
int weft__h1c_call_send(void *tcall, const void *msg);
int weft__h1c_call_close_send(void *tcall);
int weft__h1c_call_recv(void *tcall, weft_arena *arena, void **msg);
int weft__h1c_call_finish(void *tcall, weft_status *st, weft_metadata *md);
void weft__h1c_call_cancel(void *tcall);
/* Starts the request on k->link: the head and, for whole requests, the
 * body (an engine is made for the link on its first request). */
int weft__h1c_submit(h1c_call *k, weft_error *err);
/* msg as it goes on the wire (bare or enveloped), malloc'd. */
int weft__h1c_encode(h1c_call *k, const void *msg, uint8_t **out, size_t *len);
/* A response message; a failure becomes the call's INTERNAL status. */
int weft__h1c_decode(h1c_call *k, const uint8_t *data, size_t len, bool gz,
                     weft_arena *arena, void **msg);
/* A local failure (rv, e) as the call's status. */
void weft__h1c_fail_status(h1c_call *k, int rv, const weft_error *e);
/* Whether a failure may be repeated on a new connection (a whole request
 * on a reused connection closed before any response byte). */
bool weft__h1c_retryable(const h1c_call *k);
/* A new call (no I/O yet): bidi refused, a pool reference taken. */
int weft__h1c_call_new(h1c_pool *p, const weft_method_desc *m,
                       const weft_metadata *md, int64_t deadline_ns,
                       h1c_call **out, weft_error *err);
/* Frees what weft__h1c_call_new allocated and drops the pool reference. */
void weft__h1c_call_free(h1c_call *k);

/* h1c_async.c */
int weft__h1c_call_start_async(h1c_pool *p, const weft_method_desc *m,
                               const weft_metadata *md, int64_t deadline_ns,
                               weft_arena *arena, const weft_call_events *ev,
                               void *ud, void **tcall, weft_error *err);
int weft__h1c_async_send(h1c_call *k, const void *msg);
int weft__h1c_async_close_send(h1c_call *k);
int weft__h1c_async_finish(h1c_call *k, weft_status *st, weft_metadata *md);
void weft__h1c_async_cancel(h1c_call *k);
/* A grant for an asynchronous waiter (p->mu held): runs on the loop. */
void weft__h1c_async_granted(h1c_call *k);

#endif
