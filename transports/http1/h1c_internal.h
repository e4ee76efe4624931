/* Internals of the http:// and https:// client transport over HTTP/1.1:
 * the connection pool (h1c_pool.c), calls (h1c_call.c) and the scheme
 * dispatch (http_transport.c).
 *
 * Threads: none of its own. HTTP/1.1 carries one exchange at a time per
 * connection, so a call owns its connection from request to response end
 * and the user thread in send/recv/finish does the call's I/O itself
 * (poll with the deadline as timeout). No hand-off to a loop thread, no
 * loop thread per connection; weft_call_cancel() and the client's close
 * wake a blocked call by shutting its socket down. */
#ifndef WEFT_TRANSPORTS_HTTP1_H1C_INTERNAL_H
#define WEFT_TRANSPORTS_HTTP1_H1C_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>

#include "../common/sock.h"
#include "h1_client.h"
#include "weft/http.h"
#include "weft/transport.h"

typedef struct h1c_pool h1c_pool;
typedef struct h1c_link h1c_link;
typedef struct h1c_call h1c_call;

/* One HTTP/1.1 connection and its engine. */
struct h1c_link {
  h1c_link *next;
  weft__conn *sock;
  weft__h1c *eng;
  h1c_call *call; /* the call the engine's callbacks report to */
  bool eof;       /* the server closed */
};

struct h1c_pool {
  pthread_mutex_t mu;
  int refs; /* 1 for the client's handle + 1 per call */
  bool closed;
  weft_client *client;
  weft_http_protocol protocol;
  bool json;
  size_t max_msg;
  int max_idle;
  int64_t connect_timeout_ms;
  char host[256];
  int port;
  char authority[300];
  const char *server_name;
  weft__tls_ctx *tls;
  h1c_link *idle;
  int nidle;
  h1c_link *busy; /* links calls hold (shut down by close and cancel) */
};

/* h1c_pool.c */
int weft__h1c_pool_new(h1c_pool **out, weft_client *client, const weft_url *url,
                       const weft_client_opts *o, weft_http_protocol protocol,
                       weft__tls_ctx *tls, weft__conn *first, weft_error *err);
void weft__h1c_pool_unref(h1c_pool *p);
/* Closes idle links, shuts the busy ones down (their calls fail), drops
 * the handle's reference. */
void weft__h1c_pool_close(h1c_pool *p);
/* An idle link (*reused true) or a new connection, bounded by deadline. */
int weft__h1c_pool_get(h1c_pool *p, int64_t deadline_ns, h1c_link **out,
                       bool *reused, weft_error *err);
/* Back to the pool if its exchange ended cleanly and there is room, else
 * closed. */
void weft__h1c_pool_put(h1c_pool *p, h1c_link *l, bool reusable);
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

/* h1c_call.c: the weft_client_transport functions of a pool. */
int weft__h1c_call_start(h1c_pool *p, const weft_method_desc *m,
                         const weft_metadata *md, int64_t deadline_ns,
                         void **tcall, weft_error *err);
int weft__h1c_call_send(void *tcall, const void *msg);
int weft__h1c_call_close_send(void *tcall);
int weft__h1c_call_recv(void *tcall, weft_arena *arena, void **msg);
int weft__h1c_call_finish(void *tcall, weft_status *st, weft_metadata *md);
void weft__h1c_call_cancel(void *tcall);

#endif
