/* Internal to weft_rpc: the client object shared by client.c (connection
 * lifecycle), call.c (calls, retries, breaker) and pubsub_client.c. */
#ifndef WEFT_RPC_CLIENT_INTERNAL_H
#define WEFT_RPC_CLIENT_INTERNAL_H

#include "attempt.h"
#include "rpc_internal.h"

/* One transport connection. Calls hold a reference; when the connection is
 * lost or replaced it is marked dead, and the supervisor disconnects
 * it once the last call on it has finished (a transport's disconnect frees
 * what its calls point into). */
typedef struct weft__conn_slot {
  void *conn;
  int refs;
  bool dead;
  struct weft__conn_slot *next; /* the dead list */
} weft__conn_slot;

struct weft_call {
  weft_client *c;
  weft__conn_slot *slot;
  void *tcall;
  const weft_method_desc *m;
  weft_call_opts *opts;
  int64_t deadline;
  int64_t started;
  bool probe; /* the breaker's half-open trial */

  /* Cancellation from other threads (user, deadline watcher, close) races
   * with finish, which frees the transport call: `finishing` closes the
   * door, `cancelling` counts cancellers still inside the transport. */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool finishing;
  int cancelling;
  bool cancelled;    /* by the user or by weft_client_close */
  bool deadline_hit; /* by the deadline watcher */

  bool ended; /* recv saw the end of the stream or a failure */
  int end_rv;
  bool send_closed;
  bool received_any;
  struct weft_call *prev, *next; /* the client's in-flight list */

  /* Asynchronous calls (weft_call_start_async): opts points at own_opts.
   * The call completes (call_finish, on_done, free) on whichever thread
   * finds it ended by the transport (a_ended), linked into the client
   * (a_linked) and with no canceller inside the transport; a_done makes
   * that exactly once. Under mu. */
  bool async;
  weft_call_callbacks cb;
  void *cb_ud;
  weft_call_opts own_opts;
  bool a_ended, a_linked, a_done, a_headers;
};

struct weft_client {
  char *url;
  weft_url u;
  const weft_client_transport *t;
  weft_client_opts opts; /* defaults filled in; metadata -> md */
  weft_metadata md;

  pthread_mutex_t mu;
  pthread_cond_t cv; /* state changes, calls leaving, a reconnect ending */
  weft_conn_state state;
  weft__conn_slot *cur;
  weft__conn_slot *dead;
  weft_call *calls;
  size_t ncalls;
  int64_t next_deadline;

  bool need_connect;
  bool gave_up; /* reconnect.max_tries used up */
  /* Why the last connection failed or was lost (code 0: none): calls that
   * find no connection report WEFT_ERR_AUTH as UNAUTHENTICATED. */
  weft_error conn_err;
  bool closing;
  int attempt;
  int64_t reconnect_due;
  weft__rng rng;
  weft__breaker breaker;

  /* The process-wide client loop (a reference): the supervisor's timer,
   * and the sockets of the transports that use it. */
  weft_loop *loop;
  weft_timer *sup_timer; /* loop thread only */
  bool sup_posted;       /* a supervisor step is posted (mu) */
  bool sup_stopped;      /* close stopped the supervisor (mu) */
  bool connecting;       /* a reconnect attempt is queued or running (mu) */
  /* How to stop the connect_async attempt under way, if its transport
   * said (attempt.h). Loop thread only. */
  weft__attempt_stop_fn attempt_stop;
  void *attempt_ud;
  /* Runs asynchronous calls on transports without call_start_async (and
   * on connections whose call_start_async answers 1: https:// where ALPN
   * picked h2, while the HTTP/2 client has no native path); no built-in
   * transport's HTTP/1.1, tcp, ws or grpc calls use it. Created on first
   * use (under mu), freed with the client. */
  weft__pool *apool;
  struct weft_subscription *subs;
  /* weft_client_subscribe calls waiting for their acknowledgement: close
   * cancels their subscriptions and waits for them to be out (mu). */
  unsigned subscribing;
};

/* Threads of the pool that runs asynchronous calls (and so subscriptions)
 * on transports (or connections) without call_start_async: one per call in
 * flight, made when a call needs one. */
#define WEFT__ASYNC_POOL_THREADS 16

/* weft__call_start's "circuit open" (mapped to WEFT_ERR_RPC outside). */
#define WEFT__ERR_CIRCUIT_OPEN (-1001)

/* Starts a call with an explicit absolute deadline. */
int weft__call_start(weft_client *c, const weft_method_desc *m,
                     weft_call_opts *opts, int64_t deadline, weft_call **out);
/* Keeps a call from being freed (it counts as a canceller inside) until
 * weft__call_cancel_pinned, which cancels it: lets an owner that learns of
 * the call's end under its own lock cancel it after letting go of that
 * lock (the end may be delivered from inside the cancel). */
void weft__call_pin(weft_call *call);
void weft__call_cancel_pinned(weft_call *call);
/* Pins every call in flight and cancels it (close). c->mu not held. */
void weft__cancel_all_calls(weft_client *c);
/* Cancels calls whose deadline passed; returns the next deadline. Called by
 * the supervisor with c->mu held (drops it while inside the transport). */
int64_t weft__expire_calls(weft_client *c, int64_t now);

/* c->mu held: runs a supervisor step on the client loop soon (a connection
 * died, a reconnect is wanted, an earlier deadline is to be watched). */
void weft__client_kick(weft_client *c);

/* pubsub_client.c */
void weft__subscriptions_cancel_all(weft_client *c);

/* Deterministic jitter for tests: reseeds the client's PRNG. */
void weft__client_seed(weft_client *c, uint64_t seed);

#endif
