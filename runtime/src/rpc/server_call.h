/* Internal: the server-side call object (server.c, pubsub_server.c). C only
 * (C11 atomics), unlike rpc_internal.h which the C++ tests include. */
#ifndef WEFT_RPC_SERVER_CALL_H
#define WEFT_RPC_SERVER_CALL_H

#include <stdatomic.h>

#include "internal/txq.h"
#include "rpc_internal.h"

struct weft_server_call {
  weft_server *srv;
  const weft_method_desc *method;
  const void *impl;
  void *ctx;
  weft_server_generic_fn generic; /* else method->invoke */
  weft_metadata md;
  char *peer;
  int64_t deadline_ns;
  const weft_server_call_ops *ops;
  void *tc;
  weft_arena *arena;
  weft_metadata headers, trailers;
  bool headers_sent;
  char *status_msg;
  uint8_t *details; /* weft_server_call_set_details, in arena */
  size_t details_len;
  atomic_bool rt_cancelled; /* the runtime gave up on it (shutdown) */
  /* The transport pushed cancellation (weft_server_notify_cancel): the
   * client cancelled, reset the stream or the connection went away. */
  atomic_bool peer_cancelled;
  bool can_push;   /* ops->bind was called: no polling needed */
  bool dl_armed;   /* a deadline timer fires on_cancel (server_async.c) */
  bool force_poll; /* no deadline timer (no memory): polled after all */
  struct weft_server_call *prev, *next; /* the server's in-flight list */
  void *resp; /* unary, client-stream: the response the handler fills */

  /* Detached calls (server_async.c). amu lives as long as the call (a
   * transport may push cancellation at any point until ops->finish);
   * `detached` and the rest are under amu. The call is ended (ops->finish, then
   * freed) by the drain job once finishing is set, the queue is empty and no
   * hold is left: a hold is the handler still running, a callback running, or
   * tick asking the transport whether the call was cancelled. */
  bool detached;
  pthread_mutex_t amu;
  unsigned holds;
  bool drain_queued; /* a drain job is queued or running */
  bool finishing;
  bool cancel_fired;
  int fin_code;
  int send_err; /* sticky: a queued message could not be written */
  /* Messages for the drain job (internal/txq.h): at most
   * WEFT_SERVER_SEND_QUEUE, its writable edge is on_writable. */
  weft__txq sendq;
  /* weft_server_call_read (server_read.c): one read outstanding
   * (`reading`), its job posted once the transport said readable. */
  bool reading, read_posted;
  /* Set once reading is over for good (the deadline passed): the
   * outstanding read completes with it and later reads are refused. */
  atomic_int read_end;
  weft_server_call_read_fn read_fn;
  void *read_ud;
  weft_server_call_fn on_cancel, on_writable;
  void *on_cancel_ud, *on_writable_ud;
  /* Under the server's timers' lock (weft__async's mu). */
  struct weft__timer *timers;
  struct weft_server_call *aprev, *anext; /* the detached list */
};

/* server.c -> server_async.c */
typedef struct weft__async weft__async;
int weft__async_new(weft__async **out, weft_server *s, weft__pool *pool);
/* A cancellation could not be posted to the pool: the next idle worker's
 * tick fires it. */
void weft__async_wake(weft__async *a);
/* Shutdown flagged the calls as cancelled: on_cancel for the detached ones,
 * posted from the calling thread. */
void weft__async_cancel_all(weft__async *a);
/* After every call ended, before the pool is freed: unhooks the timers
 * from the pool (waiting for a tick that runs) and frees. Not from a worker
 * of the pool. */
void weft__async_free(weft__async *a);
/* run_call: the handler detached and returned. */
void weft__async_handler_returned(weft_server_call *call);
/* weft_server_call_send on a detached call: copies msg and queues it. */
int weft__async_send(weft_server_call *call, const void *msg);
/* Queues msg without copying it; release(ud) (may be NULL) runs once the
 * transport is done with it. On an error msg stays the caller's. */
int weft__server_call_send_ref(weft_server_call *call, const void *msg,
                               void (*release)(void *ud), void *ud);
/* The same, for one message queued on many calls (a published event):
 * enc (may be NULL) is msg's protobuf encoding, handed to transports that
 * have ops->send_encoded, and lives as long as msg. No drain job is
 * started: when *claimed is set the caller owns the call's drain and must
 * pass the call to weft__server_drain_calls, which drains such calls a
 * batch per pool job (one job per call would cost a wake-up and the pool's
 * lock per subscriber). */
int weft__server_call_queue(weft_server_call *call, const void *msg,
                            const weft_encoded_msg *enc,
                            void (*release)(void *ud), void *ud, bool *claimed);
void weft__server_drain_calls(weft_server_call **calls, size_t n);
/* How many messages went to a transport through ops->send_encoded (all
 * servers): tests check that a published event is encoded once. */
unsigned long weft__server_encoded_sends(void);
/* server_async.c, for server_read.c: drops a hold taken under amu (and
 * ends the call if it was the last one and finish was asked). */
void weft__async_release_hold(weft_server_call *call);
/* server_async.c -> server_read.c, on a worker: reading is over (the
 * deadline passed, err WEFT_ERR_TIMEOUT). The outstanding read completes
 * with err on this thread; later reads are refused with err. */
void weft__server_read_end(weft_server_call *call, int err);
/* server_async.c -> server.c: sends the response of a unary call on OK,
 * the status, and frees the call (the tail of a blocking handler's call). */
void weft__server_call_end(weft_server_call *call, int code);
weft__async *weft__server_async(weft_server *s);
weft__pool *weft__server_pool(weft_server *s);
/* How often tick asked a transport whether a detached call was
 * cancelled (a transport without ops->bind), all servers together: tests
 * check that pushing transports are never asked. */
unsigned long weft__cancel_polls(void);

#endif
