/* The server half of the gRPC transport: a gRPC core server per listen URL.
 * A small, bounded set of threads drains the server's completion queues:
 * they take new calls (running or dispatching their handlers) and every
 * batch completion of every call, since each call is bound to the queue it
 * arrived on. A handler that waits for its batch sleeps on its call's
 * condition variable until a queue thread sees the completion. Each call
 * has a RECV_CLOSE_ON_SERVER batch from its arrival, so a client that
 * cancels (or a connection that dies) is pushed to the runtime
 * (weft_server_notify_cancel) by the queue thread that sees it: no thread
 * waits on a call that has no handler running, and nothing is polled. */
#include <limits.h>
#include <errno.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "builtin.h"
#include "grpc_internal.h"
#include "weft/codec.h"

/* What a tag on a listener queue points at: a requested call (gslot), a
 * batch of a call (gop), or the listener's shutdown_tag. */
enum { GTAG_SLOT = 1, GTAG_OP };

struct glistener;

/* One of a listener's completion queues. Calls are spread over them (each
 * queue has calls requested on it; gRPC core hands a new call to one of
 * them) and a call's batches complete on the queue it arrived on. */
typedef struct gqueue {
  struct glistener *l;
  grpc_completion_queue *cq;
  unsigned idx;
  unsigned n_polling;   /* inline mode: threads waiting in it (under l->mu) */
  weft__thread *thread; /* pool mode: the one thread that drains it */
  bool orphan; /* its thread could not be started: close_listener pumps it */
  /* Inline mode (under l->mu): calls are bound to it (it has a poller). */
  bool active;
  unsigned n_bound; /* calls bound to it, requested or live */
  /* When its last poller took a call to run (0: someone polls it); the
   * watcher starts another poller if that lasts over TAKEOVER_NS. */
  int64_t away_since;
  /* Inline mode (under l->mu): spares handed this queue that have not
   * taken it yet (add_poller_locked). */
  unsigned wanted;
} gqueue;

typedef struct glistener {
  weft_server *ws;
  grpc_server *server;
  unsigned n_cqs;
  gqueue *qs;
  unsigned ahead;
  size_t max_recv;
  atomic_int refs; /* the listener + one per live call */
  atomic_bool stopping;
  bool shutdown_started;
  char shutdown_tag;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool shutdown_done;
  /* Methods with one request (unary, server-streaming) are registered with
   * gRPC core, which then reads the request together with the call: one
   * batch less per call. Others (and services added after listen) arrive
   * through grpc_server_request_call. */
  struct regm {
    const weft_method_desc *m;
    void *handle;
  } * reg;
  unsigned n_reg;
  /* Inline mode (the default; weft_grpc_opts.pool_handlers turns it off):
   * the queue threads run handlers themselves (weft_server_dispatch_inline),
   * C++ sync server style: one thread at least stays in each queue, another
   * is started for a queue whose last poller takes a call (up to
   * max_threads in all), one that finds two others polling its queue
   * after its handler exits, and at max_threads a call that would leave
   * its queue with nobody polling goes to the worker pool
   * (weft_server_dispatch). */
  bool inline_mode;
  bool gzip; /* weft_grpc_opts.gzip: the channel compresses by default */
  unsigned max_threads;
  unsigned n_live;   /* inline mode: poller threads running (under mu) */
  unsigned n_active; /* inline mode: queues in use, qs[0..n_active) */
  /* Inline mode: the watcher thread (see watch_main), parked on watch_cv
   * while no queue is left without a poller. */
  weft__thread *watch;
  pthread_cond_t watch_cv;
  bool watch_parked, watch_stop;
  /* Spares: poller threads parked outside every queue (so gRPC core never
   * wakes them) until a queue needs a poller (add_poller_locked). The
   * listener starts n_standing threads at listen, one per queue and one
   * more, and they stay until close: the thread count does not move as
   * queues come into use with load or handlers run. Threads started beyond
   * them (blocking handlers, up to max_threads) leave after a second
   * parked. n_spare counts parked spares not yet handed a queue. */
  pthread_cond_t spare_cv;
  unsigned n_spare;
  unsigned n_standing;
  unsigned n_orphans; /* queues without a thread (gqueue.orphan) */
  /* Calls not yet freed (under mu): their batches complete on the queues,
   * so close waits for them before it shuts the queues down. */
  unsigned n_calls;
  /* Calls whose final batch (status) is started and not yet complete
   * (under mu): close lets them reach the wire before it cancels what is
   * left, so a call the runtime ended at shutdown keeps its own status. */
  unsigned n_finishing;
} glistener;

/* One call requested from gRPC core ahead of its arrival. */
typedef struct gslot {
  int kind; /* GTAG_SLOT */
  grpc_call *call;
  grpc_call_details details;
  grpc_metadata_array md;
  unsigned cq_idx;   /* the queue that hears of its arrival */
  unsigned bind_idx; /* the queue its batches complete on */
  struct glistener *l;
  bool taken; /* the call became a gscall, which keeps the binding */
  int reg;    /* index into listener->reg, or -1 */
  gpr_timespec deadline;
  grpc_byte_buffer *payload;
} gslot;

/* A streamed message waiting for the one in flight. */
typedef struct gsend {
  struct gsend *next;
  grpc_byte_buffer *bb;
  uint32_t flags;
} gsend;

/* How long close waits for final statuses in flight before it cancels the
 * calls left. */
#define WEFT_GRPC_CLOSE_FLUSH_NS (2 * 1000000000LL)

/* A handler's send waits while this much is queued. */
#define WEFT_GRPC_SEND_QUEUE_MSGS 64
#define WEFT_GRPC_SEND_QUEUE_BYTES (256u * 1024u)

/* The batches of a call, one of each kind in flight at a time. */
enum { OP_MAIN, OP_SEND, OP_RECV, OP_CLOSE, OP_N };

typedef struct gop {
  int kind; /* GTAG_OP */
  struct gscall *c;
  bool done, ok; /* under c->mu */
} gop;

typedef struct gscall {
  glistener *l;
  grpc_call *call;
  grpc_completion_queue *cq; /* the listener queue it is bound to */
  unsigned qidx;             /* its index */
  const weft_method_desc *m;
  char *peer;
  pthread_mutex_t mu; /* flags below, batch starts and completions */
  pthread_cond_t cv;  /* a batch the handler waits for completed */
  gop ops[OP_N];
  /* The runtime's reference (until op_finish) and one per batch in
   * flight: the last one frees the call, on whichever thread it is. */
  atomic_int refs;
  weft_server_call *rt; /* ops->bind's handle, NULL once finish started */
  bool single_resp;     /* unary/client-streaming: response sent at finish */
  bool sent_initial, recv_done, close_known;
  /* The RECV_CLOSE_ON_SERVER op was started: as the OP_CLOSE batch, or
   * within the final batch (close_in_main) for a call handled inline that
   * never needed it before (see start_close). finishing: op_finish ran. */
  bool close_started, close_in_main, finishing;
  /* weft_server_call_set_compression: the mode for the next messages, and
   * whether the call compresses at all (fixed by its initial metadata). */
  weft_compression compression;
  bool compresses;
  int cancelled;
  grpc_byte_buffer *resp;  /* stashed single response */
  grpc_byte_buffer *first; /* request read by gRPC core with the call */
  /* Streamed messages: one SEND batch in flight (`sending`), the next ones
   * queued (under mu) and started by the queue thread that sees the
   * previous one complete, so a handler waits for the connection only
   * when the queue is full, not for a thread hop per message. */
  grpc_byte_buffer *sending;
  struct gsend *sq_head, *sq_tail;
  size_t sq_n, sq_bytes;
  bool send_failed;         /* a SEND failed: the client is gone */
  weft__grpc_md initial_md; /* sent with the first streamed message */
  bool has_first;
  grpc_byte_buffer *recv_bb; /* filled by the RECV batch */
  /* ops->want_read started the RECV batch (under mu): op_recv takes its
   * result instead of starting one, and its completion notifies read_rt
   * (the runtime's call, until finish) from the queue thread. */
  bool recv_started;
  weft_server_call *read_rt;
  weft_metadata resp_headers;
  weft_error recv_err; /* why the last recv failed to decode */
  /* What the final batch refers to until it completes. */
  grpc_slice fin_msg;
  bool has_fin_msg;
  weft__grpc_md fin_hdr, fin_trl;
  bool fin_in_flight; /* the final batch is in flight (l->n_finishing) */
} gscall;

static void listener_unref(glistener *l) {
  if (atomic_fetch_sub(&l->refs, 1) != 1)
    return;
  pthread_mutex_destroy(&l->mu);
  pthread_cond_destroy(&l->cv);
  pthread_cond_destroy(&l->watch_cv);
  pthread_cond_destroy(&l->spare_cv);
  free(l->qs);
  free(l->reg);
  free(l);
  weft__grpc_release();
}

static void unbind(glistener *l, unsigned idx) {
  pthread_mutex_lock(&l->mu);
  l->qs[idx].n_bound--;
  pthread_mutex_unlock(&l->mu);
}

static void slot_free(gslot *s) {
  if (!s->taken && s->l->inline_mode)
    unbind(s->l, s->bind_idx);
  if (s->payload)
    grpc_byte_buffer_destroy(s->payload);
  grpc_call_details_destroy(&s->details);
  grpc_metadata_array_destroy(&s->md);
  free(s);
}

static bool add_poller_locked(gqueue *q);

/* Inline mode, with l->mu held: the queue a call requested now is bound
 * to. Calls are spread over the queues for Debian's libgrpc, which scans a
 * queue's outstanding batches on every completion (see default_cqs); but
 * every thread waiting in a queue takes part in gRPC core's hand-off of
 * its single epoll poller role, which wakes one of them each time the
 * poller leaves to run a handler: with four idle queue threads a call that
 * arrives alone cost 3.3 context switches on a 2-core VM, with one 0.8.
 * So a queue (and its poller) comes into use only once the others carry
 * WEFT_GRPC_CALLS_PER_QUEUE calls each, and stays. */
#define WEFT_GRPC_CALLS_PER_QUEUE 1024
static unsigned pick_queue_locked(glistener *l) {
  unsigned live = 0;
  for (unsigned i = 0; i < l->n_active; i++)
    live += l->qs[i].n_bound;
  if (l->n_active < l->n_cqs &&
      live >= l->n_active * WEFT_GRPC_CALLS_PER_QUEUE &&
      !atomic_load(&l->stopping)) {
    gqueue *q = &l->qs[l->n_active];
    if (add_poller_locked(q)) {
      q->active = true;
      l->n_active++;
    }
  }
  unsigned best = 0;
  for (unsigned i = 1; i < l->n_active; i++)
    if (l->qs[i].n_bound < l->qs[best].n_bound)
      best = i;
  l->qs[best].n_bound++;
  return best;
}

static void request_one(glistener *l, unsigned idx, int reg) {
  gslot *s = calloc(1, sizeof *s);
  if (!s)
    return;
  s->kind = GTAG_SLOT;
  s->l = l;
  s->cq_idx = idx;
  s->bind_idx = idx;
  s->reg = reg;
  if (l->inline_mode) { /* every call arrives on queue 0 */
    pthread_mutex_lock(&l->mu);
    s->bind_idx = pick_queue_locked(l);
    pthread_mutex_unlock(&l->mu);
  }
  grpc_call_details_init(&s->details);
  grpc_metadata_array_init(&s->md);
  grpc_completion_queue *bound = l->qs[s->bind_idx].cq;
  /* s is the queue thread's that gets the call from here on (not read
   * here after this). The call's batches complete on `bound` (see gop). */
  WEFT__TSAN_RELEASE(s);
  grpc_call_error e;
  if (reg >= 0)
    e = grpc_server_request_registered_call(
        l->server, l->reg[reg].handle, &s->call, &s->deadline, &s->md,
        &s->payload, bound, l->qs[idx].cq, s);
  else
    e = grpc_server_request_call(l->server, &s->call, &s->details, &s->md,
                                 bound, l->qs[idx].cq, s);
  if (e != GRPC_CALL_OK)
    slot_free(s);
}

/* ---- batches: started by the call's threads, completed on a queue ---- */

static void scall_free(gscall *c);

static void call_unref(gscall *c) {
  if (atomic_fetch_sub(&c->refs, 1) == 1)
    scall_free(c);
}

/* With c->mu held: starts batch `which`; its completion comes to a queue
 * thread (op_done), which wakes a waiter. */
static grpc_call_error start_batch(gscall *c, int which, const grpc_op *ops,
                                   size_t n) {
  gop *o = &c->ops[which];
  o->done = false;
  atomic_fetch_add(&c->refs, 1);
  WEFT__TSAN_RELEASE(o);
  grpc_call_error e = grpc_call_start_batch(c->call, ops, n, o, NULL);
  if (e != GRPC_CALL_OK) {
    atomic_fetch_sub(&c->refs, 1); /* not the last: the caller holds one */
  }
  return e;
}

/* Waits for batch `which` to complete; returns its success flag. */
static bool wait_batch(gscall *c, int which) {
  gop *o = &c->ops[which];
  pthread_mutex_lock(&c->mu);
  while (!o->done)
    pthread_cond_wait(&c->cv, &c->mu);
  bool ok = o->ok;
  pthread_mutex_unlock(&c->mu);
  return ok;
}

/* A queue thread got the completion of a batch. RECV_CLOSE_ON_SERVER
 * completes before the status only when the call was cancelled (by the
 * client, its deadline, or a lost connection): that is pushed to the
 * runtime here. */
static void send_next(gscall *c);
static void on_call(glistener *l, gslot *s, bool now);

/* A requested call or the shutdown notification that a thread other than
 * a queue thread took from its thread-local cache: the call goes to the
 * worker pool (this thread is busy). */
static void handle_other(glistener *l, void *tag, int ok) {
  if (tag == &l->shutdown_tag) {
    pthread_mutex_lock(&l->mu);
    l->shutdown_done = true;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    return;
  }
  gslot *s = tag;
  if (!ok) {
    slot_free(s);
    return;
  }
  if (!atomic_load(&l->stopping))
    request_one(l, s->cq_idx, s->reg);
  on_call(l, s, false);
}

/* Ends a thread-local cache window opened on cq (see send_next's callers):
 * a completion that happened inline on this thread is returned in *tag
 * (true) if it is a call's batch; anything else is handled here. */
static bool flush_cached(glistener *l, grpc_completion_queue *cq, void **tag,
                         int *ok) {
  if (!grpc_completion_queue_thread_local_cache_flush(cq, tag, ok))
    return false;
  WEFT__TSAN_ACQUIRE(*tag);
  if (*tag != &l->shutdown_tag && *(int *)*tag == GTAG_OP)
    return true;
  handle_other(l, *tag, *ok);
  return false;
}

/* Streamed messages go out one batch after the other: a SEND that
 * completes inline when the next one starts (gRPC core often hands the
 * message to the transport right away) is taken from the queue's
 * thread-local cache and handled here at once, without the trip through
 * the queue and a thread wake-up per message (gRPC's C++ API uses the same
 * cache). */
/* A final batch completed or never started: one call fewer for close to
 * wait for. */
static void finishing_done(glistener *l) {
  pthread_mutex_lock(&l->mu);
  if (--l->n_finishing == 0)
    pthread_cond_broadcast(&l->cv);
  pthread_mutex_unlock(&l->mu);
}

static void op_done(gop *o, bool ok) {
  for (;;) {
    gscall *c = o->c;
    glistener *l = c->l;
    bool cache = false;
    pthread_mutex_lock(&c->mu);
    o->done = true;
    o->ok = ok;
    if (o == &c->ops[OP_SEND]) {
      grpc_byte_buffer_destroy(c->sending);
      c->sending = NULL;
      if (!ok)
        c->send_failed = true; /* client gone, cancelled, deadline */
      if (c->sq_head && !c->send_failed) {
        grpc_completion_queue_thread_local_cache_init(c->cq);
        cache = true;
      }
      send_next(c);
    }
    if (o == &c->ops[OP_RECV] && c->read_rt) {
      weft_server_notify_readable(c->read_rt); /* posts; runs nothing */
      c->read_rt = NULL;
    }
    if (o == &c->ops[OP_CLOSE] || (o == &c->ops[OP_MAIN] && c->close_in_main)) {
      c->close_known = true;
      if (c->cancelled && c->rt)
        weft_server_notify_cancel(c->rt);
    }
    bool fin_done = o == &c->ops[OP_MAIN] && c->fin_in_flight;
    if (fin_done)
      c->fin_in_flight = false;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    if (fin_done)
      finishing_done(l);
    void *next = NULL;
    int next_ok = 0;
    /* Before the unref: handle_other needs the listener alive. */
    bool more = cache && flush_cached(l, c->cq, &next, &next_ok);
    call_unref(c); /* next's call holds a reference of its own */
    if (!more)
      return;
    o = next;
    ok = next_ok;
  }
}

/* With c->mu held: the call's RECV_CLOSE_ON_SERVER batch, which pushes its
 * cancellation (op_done), unless it runs already or the final batch
 * started. A call handled inline (on the queue thread that got it) starts
 * it only when it needs it: when its handler returns without finishing
 * (detached), or asks whether it was cancelled. A unary handler that
 * finishes at once never does, and its final batch carries the op: one
 * batch per call instead of two, and that one completes inline (taken from
 * the thread-local cache by op_finish) when gRPC core writes the response
 * at once, so no other thread of the queue is woken for the call. */
static void start_close(gscall *c) {
  if (c->close_started || c->finishing)
    return;
  grpc_op close_op;
  memset(&close_op, 0, sizeof close_op);
  close_op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
  close_op.data.recv_close_on_server.cancelled = &c->cancelled;
  if (start_batch(c, OP_CLOSE, &close_op, 1) == GRPC_CALL_OK)
    c->close_started = true;
}

/* ---- the call operations the runtime drives from its workers ---- */

/* With c->mu held: the RECV_MESSAGE batch into c->recv_bb. */
static grpc_call_error start_recv(gscall *c) {
  grpc_op op;
  memset(&op, 0, sizeof op);
  op.op = GRPC_OP_RECV_MESSAGE;
  c->recv_bb = NULL;
  op.data.recv_message.recv_message = &c->recv_bb;
  return start_batch(c, OP_RECV, &op, 1);
}

static int op_recv(void *tc, weft_arena *arena, void **msg) {
  gscall *c = tc;
  *msg = NULL;
  if (c->recv_done)
    return 0;
  grpc_byte_buffer *bb;
  if (c->has_first) { /* read with the call; a second message is an end */
    c->has_first = false;
    c->recv_done = true;
    bb = c->first;
    c->first = NULL;
    if (!bb)
      return 0;
    int rc = weft__grpc_decode(bb, c->m->input, arena, c->l->max_recv, msg,
                               &c->recv_err);
    grpc_byte_buffer_destroy(bb);
    return rc < 0 ? rc : 1;
  }
  pthread_mutex_lock(&c->mu);
  grpc_call_error e = GRPC_CALL_OK;
  if (c->recv_started) /* by want_read: it completed, or will */
    c->recv_started = false;
  else
    e = start_recv(c);
  pthread_mutex_unlock(&c->mu);
  if (e != GRPC_CALL_OK)
    return WEFT_ERR_STATE;
  bool ok = wait_batch(c, OP_RECV);
  bb = c->recv_bb;
  c->recv_bb = NULL;
  if (!ok) {
    c->recv_done = true;
    if (bb)
      grpc_byte_buffer_destroy(bb);
    return WEFT_ERR_CANCELLED;
  }
  if (!bb) {
    /* No message: the client finished sending, or the call was cancelled.
     * gRPC core completes both alike, and RECV_CLOSE_ON_SERVER, which says
     * which, may complete after this batch (both come from the same
     * closing of the stream, to different batches). The transport's own
     * verdict on this receive is there already: whether the stream ended
     * without the client's END_STREAM (RST_STREAM, deadline, connection
     * lost), as gRPC's C++ callback API asks it. */
    pthread_mutex_lock(&c->mu);
    bool gone = (c->close_known && c->cancelled) ||
                grpc_call_failed_before_recv_message(c->call);
    pthread_mutex_unlock(&c->mu);
    c->recv_done = true;
    return gone ? WEFT_ERR_CANCELLED : 0;
  }
  int rc = weft__grpc_decode(bb, c->m->input, arena, c->l->max_recv, msg,
                             &c->recv_err);
  grpc_byte_buffer_destroy(bb);
  return rc < 0 ? rc : 1;
}

/* Builds SEND_INITIAL_METADATA into *op (md must live until the batch
 * completes). With c->mu held. */
static int initial_op(gscall *c, grpc_op *op, weft__grpc_md *md,
                      const weft_metadata *headers) {
  int rc = weft__grpc_md_append(md, headers ? headers : &c->resp_headers);
  if (rc < 0)
    return rc;
  memset(op, 0, sizeof *op);
  op->op = GRPC_OP_SEND_INITIAL_METADATA;
  if (c->compression == WEFT_COMPRESSION_ON) {
    /* A level, not an algorithm: gRPC core then picks one the client
     * accepts (grpc-accept-encoding), and for LOW that is gzip first,
     * deflate if only that; nothing if the client accepts neither. */
    op->data.send_initial_metadata.maybe_compression_level.is_set = 1;
    op->data.send_initial_metadata.maybe_compression_level.level =
        GRPC_COMPRESS_LEVEL_LOW;
  }
  c->compresses = c->compression == WEFT_COMPRESSION_ON ||
                  (c->compression == WEFT_COMPRESSION_DEFAULT && c->l->gzip);
  op->data.send_initial_metadata.count = md->count;
  op->data.send_initial_metadata.metadata = md->items;
  c->sent_initial = true;
  return 0;
}

/* Per-message write flags: compression off overrides a channel default of
 * gzip (weft_grpc_opts.gzip). */
static uint32_t send_flags(const gscall *c) {
  return c->compression == WEFT_COMPRESSION_OFF ? GRPC_WRITE_NO_COMPRESS : 0;
}

/* Before the initial metadata the mode picks the call's algorithm; after
 * it, single messages can go uncompressed (OFF) and, if the call
 * compresses, compressed again: gRPC core fixes the algorithm per call. */
static int op_set_compression(void *tc, weft_compression mode) {
  gscall *c = tc;
  pthread_mutex_lock(&c->mu);
  int rc = 0;
  if (c->sent_initial && mode == WEFT_COMPRESSION_ON && !c->compresses)
    rc = WEFT_ERR_STATE;
  else
    c->compression = mode;
  pthread_mutex_unlock(&c->mu);
  return rc;
}

/* With c->mu held, no SEND in flight: starts the next queued message
 * (or, after a failure, drops the queue). */
static void send_next(gscall *c) {
  while (c->sq_head && !c->sending) {
    gsend *q = c->sq_head;
    c->sq_head = q->next;
    if (!c->sq_head)
      c->sq_tail = NULL;
    c->sq_n--;
    c->sq_bytes -= grpc_byte_buffer_length(q->bb);
    if (c->send_failed) {
      grpc_byte_buffer_destroy(q->bb);
      free(q);
      continue;
    }
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_SEND_MESSAGE;
    op.flags = q->flags;
    op.data.send_message.send_message = q->bb;
    c->sending = q->bb;
    free(q);
    if (start_batch(c, OP_SEND, &op, 1) != GRPC_CALL_OK) {
      grpc_byte_buffer_destroy(c->sending);
      c->sending = NULL;
      c->send_failed = true;
    }
  }
}

/* Waits until every streamed message was written (finish). */
static int wait_pending(gscall *c) {
  pthread_mutex_lock(&c->mu);
  while (c->sending || c->sq_head)
    pthread_cond_wait(&c->cv, &c->mu);
  int rc = c->send_failed ? WEFT_ERR_CANCELLED : 0;
  pthread_mutex_unlock(&c->mu);
  return rc;
}

static int send_bb(gscall *c, grpc_byte_buffer *bb,
                   const weft_metadata *headers);

static int op_send(void *tc, const void *msg, const weft_metadata *headers) {
  grpc_byte_buffer *bb = weft__grpc_encode(msg);
  if (!bb)
    return WEFT_ERR_NOMEM;
  return send_bb(tc, bb, headers);
}

/* A message already encoded (shared by many calls, e.g. a published
 * event): the byte buffer is a slice over those bytes holding a reference
 * to them until gRPC core has written it, not a copy. */
static int op_send_encoded(void *tc, const void *msg,
                           const weft_encoded_msg *pb,
                           const weft_metadata *headers) {
  (void)msg;
  pb->ref(pb->ud);
  grpc_slice sl = grpc_slice_new_with_user_data((void *)pb->data, pb->len,
                                                pb->unref, pb->ud);
  grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&sl, 1);
  grpc_slice_unref(sl); /* bb holds its own reference */
  if (!bb)
    return WEFT_ERR_NOMEM;
  return send_bb(tc, bb, headers);
}

/* Sends bb (taken) as the call's next message. */
static int send_bb(gscall *c, grpc_byte_buffer *bb,
                   const weft_metadata *headers) {
  if (c->single_resp) {
    /* Sent with the status in one batch, as the C++ server does. */
    if (c->resp) {
      grpc_byte_buffer_destroy(bb);
      return WEFT_ERR_STATE;
    }
    c->resp = bb;
    if (headers && !c->resp_headers.count)
      weft_metadata_copy(&c->resp_headers, headers);
    return 0;
  }
  pthread_mutex_lock(&c->mu);
  while (!c->send_failed && (c->sq_n >= WEFT_GRPC_SEND_QUEUE_MSGS ||
                             c->sq_bytes >= WEFT_GRPC_SEND_QUEUE_BYTES))
    pthread_cond_wait(&c->cv, &c->mu);
  if (c->send_failed) {
    pthread_mutex_unlock(&c->mu);
    grpc_byte_buffer_destroy(bb);
    return WEFT_ERR_CANCELLED;
  }
  if (c->sending) { /* the queue thread starts it after the one in flight */
    gsend *q = malloc(sizeof *q);
    if (!q) {
      pthread_mutex_unlock(&c->mu);
      grpc_byte_buffer_destroy(bb);
      return WEFT_ERR_NOMEM;
    }
    q->next = NULL;
    q->bb = bb;
    q->flags = send_flags(c);
    if (c->sq_tail)
      c->sq_tail->next = q;
    else
      c->sq_head = q;
    c->sq_tail = q;
    c->sq_n++;
    c->sq_bytes += grpc_byte_buffer_length(bb);
    pthread_mutex_unlock(&c->mu);
    return 0;
  }
  grpc_op ops[2];
  size_t n = 0;
  if (!c->sent_initial &&
      initial_op(c, &ops[n++], &c->initial_md, headers) < 0) {
    pthread_mutex_unlock(&c->mu);
    grpc_byte_buffer_destroy(bb);
    return WEFT_ERR_NOMEM;
  }
  memset(&ops[n], 0, sizeof ops[n]);
  ops[n].op = GRPC_OP_SEND_MESSAGE;
  ops[n].flags = send_flags(c);
  ops[n++].data.send_message.send_message = bb;
  c->sending = bb;
  grpc_completion_queue_thread_local_cache_init(c->cq);
  grpc_call_error e = start_batch(c, OP_SEND, ops, n);
  if (e != GRPC_CALL_OK)
    c->sending = NULL;
  pthread_mutex_unlock(&c->mu);
  void *tag;
  int ok;
  if (flush_cached(c->l, c->cq, &tag, &ok)) /* completed inline */
    op_done(tag, ok);
  if (e != GRPC_CALL_OK) {
    grpc_byte_buffer_destroy(bb);
    return WEFT_ERR_STATE;
  }
  return 0;
}

static void scall_free(gscall *c) {
  glistener *l = c->l;
  unsigned qidx = c->qidx;
  grpc_call_unref(c->call);
  if (c->resp)
    grpc_byte_buffer_destroy(c->resp);
  if (c->first)
    grpc_byte_buffer_destroy(c->first);
  if (c->recv_bb) /* a read the handler finished without taking */
    grpc_byte_buffer_destroy(c->recv_bb);
  weft_metadata_clear(&c->resp_headers);
  if (c->peer)
    gpr_free(c->peer);
  if (c->has_fin_msg)
    grpc_slice_unref(c->fin_msg);
  weft__grpc_md_free(&c->initial_md);
  for (gsend *q = c->sq_head, *n; q; q = n) { /* finish waited: none */
    n = q->next;
    grpc_byte_buffer_destroy(q->bb);
    free(q);
  }
  weft__grpc_md_free(&c->fin_hdr);
  weft__grpc_md_free(&c->fin_trl);
  pthread_mutex_destroy(&c->mu);
  pthread_cond_destroy(&c->cv);
  free(c);
  pthread_mutex_lock(&l->mu);
  if (l->inline_mode)
    l->qs[qidx].n_bound--;
  if (--l->n_calls == 0)
    pthread_cond_broadcast(&l->cv);
  pthread_mutex_unlock(&l->mu);
  listener_unref(l);
}

/* Starts the final batch and returns: it completes on a queue thread,
 * which frees the call (the runtime does not wait for the status to be
 * written, and does not use finish's result). */
static int op_finish(void *tc, const weft_status *st,
                     const weft_metadata *headers,
                     const weft_metadata *trailers) {
  gscall *c = tc;
  wait_pending(c);
  grpc_op ops[4];
  size_t n = 0;
  int code = st ? st->code : WEFT_STATUS_UNKNOWN;
  if (code < 0 || code > 16)
    code = WEFT_STATUS_UNKNOWN;
  c->fin_msg =
      grpc_slice_from_copied_string(st && st->message ? st->message : "");
  c->has_fin_msg = true;
  weft__grpc_md_append(&c->fin_trl, trailers);
  if (st && st->details && st->details_len)
    weft__grpc_md_append_one(&c->fin_trl, WEFT_GRPC_DETAILS_KEY, st->details,
                             st->details_len);
  pthread_mutex_lock(&c->l->mu);
  c->l->n_finishing++;
  pthread_mutex_unlock(&c->l->mu);
  pthread_mutex_lock(&c->mu);
  c->fin_in_flight = true;
  c->rt = NULL; /* the runtime's call ends here: nothing more is pushed */
  c->read_rt = NULL;
  c->finishing = true;
  if (!c->sent_initial)
    initial_op(c, &ops[n++], &c->fin_hdr, headers);
  if (c->resp && code == WEFT_STATUS_OK) {
    memset(&ops[n], 0, sizeof ops[n]);
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n].flags = send_flags(c);
    ops[n++].data.send_message.send_message = c->resp;
  }
  memset(&ops[n], 0, sizeof ops[n]);
  ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
  ops[n].data.send_status_from_server.status = (grpc_status_code)code;
  ops[n].data.send_status_from_server.status_details = &c->fin_msg;
  ops[n].data.send_status_from_server.trailing_metadata_count =
      c->fin_trl.count;
  ops[n++].data.send_status_from_server.trailing_metadata = c->fin_trl.items;
  if (!c->close_started) {
    memset(&ops[n], 0, sizeof ops[n]);
    ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[n++].data.recv_close_on_server.cancelled = &c->cancelled;
    c->close_started = c->close_in_main = true;
  }
  /* gRPC core often writes the response at once: the batch then completes
   * here, and is handled here, not by another thread of the queue. */
  grpc_completion_queue_thread_local_cache_init(c->cq);
  grpc_call_error e = start_batch(c, OP_MAIN, ops, n);
  if (e != GRPC_CALL_OK) {
    c->fin_in_flight = false;
    c->close_in_main = false;
  }
  pthread_mutex_unlock(&c->mu);
  void *tag;
  int ok;
  if (flush_cached(c->l, c->cq, &tag, &ok)) /* c lives: our reference */
    op_done(tag, ok);
  int rc = 0;
  if (e != GRPC_CALL_OK) {
    finishing_done(c->l);
    rc = WEFT_ERR_STATE;
    grpc_call_cancel(c->call, NULL);
  }
  call_unref(c); /* the runtime's reference */
  return rc;
}

/* Exact and cheap: the call's RECV_CLOSE_ON_SERVER batch (started by the
 * first ask if it was not running) completes before the status only if the
 * call was cancelled. */
static bool op_cancelled(void *tc) {
  gscall *c = tc;
  pthread_mutex_lock(&c->mu);
  start_close(c); /* a handler that asks wants to hear it */
  bool r = c->close_known && c->cancelled;
  pthread_mutex_unlock(&c->mu);
  return r;
}

static void op_bind(void *tc, weft_server_call *call) {
  gscall *c = tc;
  pthread_mutex_lock(&c->mu);
  c->rt = call;
  if (c->close_known && c->cancelled) /* cancelled before the handler */
    weft_server_notify_cancel(call);
  pthread_mutex_unlock(&c->mu);
}

/* The next message without blocking: the RECV batch starts now and its
 * completion, on the listener's queue thread, tells the runtime, which then
 * runs op_recv on a worker (it finds the batch done). */
static int op_want_read(void *tc, weft_server_call *call) {
  gscall *c = tc;
  pthread_mutex_lock(&c->mu);
  int rc = 0;
  bool cache = false;
  if (c->recv_done || c->has_first || c->recv_started) {
    /* op_recv answers at once (a batch started earlier has completed:
     * one read is outstanding at a time, and its callback ran). */
    weft_server_notify_readable(call);
  } else {
    /* A message gRPC core holds already completes the batch inline: taken
     * from the thread-local cache, it is readable without a trip through
     * the queue thread (as op_send does for sends). */
    grpc_completion_queue_thread_local_cache_init(c->cq);
    cache = true;
    if (start_recv(c) == GRPC_CALL_OK) {
      c->recv_started = true;
      c->read_rt = call;
    } else {
      rc = WEFT_ERR_STATE;
    }
  }
  pthread_mutex_unlock(&c->mu);
  void *tag;
  int ok;
  if (cache && flush_cached(c->l, c->cq, &tag, &ok))
    op_done(tag, ok);
  return rc;
}

static const char *op_recv_error(void *tc) {
  gscall *c = tc;
  return c->recv_err.code ? c->recv_err.message : NULL;
}

static const weft_server_call_ops scall_ops = {
    .recv_error = op_recv_error,
    .recv = op_recv,
    .send = op_send,
    .send_encoded = op_send_encoded,
    .finish = op_finish,
    .cancelled = op_cancelled,
    .set_compression = op_set_compression,
    .bind = op_bind,
    .want_read = op_want_read,
};

/* A call arrived on queue thread: wrap it and give it to the runtime. */
static void on_call(glistener *l, gslot *s, bool now) {
  gscall *c = calloc(1, sizeof *c);
  if (!c) {
    grpc_call_cancel_with_status(s->call, GRPC_STATUS_RESOURCE_EXHAUSTED,
                                 "out of memory", NULL);
    grpc_call_unref(s->call);
    slot_free(s);
    return;
  }
  char path[512];
  c->l = l;
  c->call = s->call;
  c->qidx = s->bind_idx;
  c->cq = l->qs[c->qidx].cq;
  s->taken = true;
  gpr_timespec deadline_ts;
  if (s->reg >= 0) {
    c->m = l->reg[s->reg].m;
    snprintf(path, sizeof path, "%s", c->m->path);
    c->first = s->payload;
    c->has_first = true;
    s->payload = NULL;
    deadline_ts = s->deadline;
  } else {
    size_t plen = GRPC_SLICE_LENGTH(s->details.method);
    if (plen >= sizeof path)
      plen = sizeof path - 1;
    memcpy(path, GRPC_SLICE_START_PTR(s->details.method), plen);
    path[plen] = '\0';
    c->m = weft_server_find_method(l->ws, path);
    deadline_ts = s->details.deadline;
  }
  c->single_resp = c->m && (c->m->kind == WEFT_RPC_UNARY ||
                            c->m->kind == WEFT_RPC_CLIENT_STREAM);
  c->peer = grpc_call_get_peer(c->call);
  pthread_mutex_init(&c->mu, NULL);
  pthread_cond_init(&c->cv, NULL);
  atomic_init(&c->refs, 1);
  for (int i = 0; i < OP_N; i++) {
    c->ops[i].kind = GTAG_OP;
    c->ops[i].c = c;
  }
  atomic_fetch_add(&l->refs, 1);
  pthread_mutex_lock(&l->mu);
  l->n_calls++;
  pthread_mutex_unlock(&l->mu);
  /* Cancellation is pushed from here on (op_done), for a call whose
   * handler runs on another thread; one run here starts it if it needs it
   * (start_close). */
  pthread_mutex_lock(&c->mu);
  if (!now)
    start_close(c);
  pthread_mutex_unlock(&c->mu);
  if (now)
    atomic_fetch_add(&c->refs, 1); /* c stays ours until the handler is back */
  weft_metadata md = WEFT_METADATA_INIT;
  weft__grpc_md_to_weft(&md, &s->md, NULL);
  int64_t deadline = weft__grpc_deadline_ns(deadline_ts);
  slot_free(s);
  int rc = now ? weft_server_dispatch_inline(l->ws, path, &md, deadline,
                                             c->peer, &scall_ops, c)
               : weft_server_dispatch(l->ws, path, &md, deadline, c->peer,
                                      &scall_ops, c);
  weft_metadata_clear(&md);
  if (rc < 0) {
    /* Not taken by the runtime: answer it here. */
    weft_status st = {WEFT_STATUS_UNAVAILABLE,
                      (char *)"server is not accepting calls", NULL, 0};
    op_finish(c, &st, NULL, NULL);
  }
  if (now) {
    /* The handler returned without finishing the call (it detached):
     * cancellation must be pushed from now on. */
    pthread_mutex_lock(&c->mu);
    start_close(c);
    pthread_mutex_unlock(&c->mu);
    call_unref(c);
  }
}

/* The listener's shutdown notification (on queue 0): close_listener waits
 * for it. */
static void shutdown_seen(glistener *l) {
  pthread_mutex_lock(&l->mu);
  l->shutdown_done = true;
  pthread_cond_broadcast(&l->cv);
  pthread_mutex_unlock(&l->mu);
}

/* Pool mode: the runtime thread of one queue; every call goes to the worker
 * pool, this thread only sees completions. */
static void queue_main(void *arg) {
  gqueue *q = arg;
  glistener *l = q->l;
  for (;;) {
    grpc_event ev = grpc_completion_queue_next(
        q->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    if (ev.type == GRPC_QUEUE_SHUTDOWN)
      break;
    if (ev.type != GRPC_OP_COMPLETE)
      continue;
    WEFT__TSAN_ACQUIRE(ev.tag);
    if (ev.tag == &l->shutdown_tag) {
      shutdown_seen(l);
      continue;
    }
    if (*(int *)ev.tag == GTAG_OP) {
      op_done(ev.tag, ev.success);
      continue;
    }
    gslot *s = ev.tag;
    if (!ev.success) { /* the server is shutting down */
      slot_free(s);
      continue;
    }
    if (!atomic_load(&l->stopping))
      request_one(l, s->cq_idx, s->reg);
    on_call(l, s, false);
  }
}

static void poller_main(void *arg);
static void spare_main(void *arg);

/* With l->mu held: a queue some spare was handed (NULL: none). */
static gqueue *take_wanted_locked(glistener *l) {
  for (unsigned i = 0; i < l->n_cqs; i++)
    if (l->qs[i].wanted > 0) {
      l->qs[i].wanted--;
      return &l->qs[i];
    }
  return NULL;
}

/* With l->mu held: park the calling poller as a spare until a queue needs
 * it; NULL: it should exit (the listener closes, or it is one of the
 * threads beyond n_standing and waited a second). The queue it gets
 * counts it as polling already. counted: n_spare counts it already (a
 * spare just started). */
static gqueue *park_spare_locked(glistener *l, bool counted) {
  if (!counted)
    l->n_spare++;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += 1;
  bool timed_out = false;
  for (;;) {
    /* The spare that hands it over took it off n_spare already. */
    gqueue *q = take_wanted_locked(l);
    if (q)
      return q;
    if (l->watch_stop || timed_out)
      break;
    if (l->n_live > l->n_standing)
      timed_out =
          pthread_cond_timedwait(&l->spare_cv, &l->mu, &ts) == ETIMEDOUT;
    else
      pthread_cond_wait(&l->spare_cv, &l->mu);
  }
  l->n_spare--;
  return NULL;
}

/* With l->mu held: one more poller thread for queue q (NULL: a spare that
 * parks first), a runtime thread nobody joins (close_listener waits for
 * n_live to fall to 0). */
static bool spawn_poller_locked(glistener *l, gqueue *q) {
  l->n_live++;
  if (q)
    q->n_polling++; /* counted from now, so a burst does not start several */
  else
    l->n_spare++;
  if (weft__thread_spawn("weft-grpc-cq", q ? poller_main : spare_main,
                         q ? (void *)q : (void *)l) == 0)
    return true;
  l->n_live--;
  if (q)
    q->n_polling--;
  else
    l->n_spare--;
  return false;
}

/* With l->mu held: a poller for queue q, a parked spare if there is one,
 * else a new thread while there are fewer than max_threads. Counted as
 * polling q from now. */
static bool add_poller_locked(gqueue *q) {
  glistener *l = q->l;
  if (l->n_spare > 0) {
    l->n_spare--;
    q->wanted++;
    q->n_polling++;
    pthread_cond_signal(&l->spare_cv);
    return true;
  }
  return l->n_live < l->max_threads && spawn_poller_locked(l, q);
}

static void run_poller(glistener *l, gqueue *q);

static void poller_main(void *arg) {
  gqueue *q = arg;
  run_poller(q->l, q);
}

/* A spare started at listen: parked until a queue needs it. */
static void spare_main(void *arg) {
  glistener *l = arg;
  pthread_mutex_lock(&l->mu);
  gqueue *q = park_spare_locked(l, true);
  if (!q) {
    l->n_live--;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    return;
  }
  q->away_since = 0;
  pthread_mutex_unlock(&l->mu);
  run_poller(l, q);
}

/* Inline mode: take a call from this thread's queue, make sure another
 * thread polls it, and run the call's handler here; the thread (counted
 * in q->n_polling and l->n_live) ends in here. */
static void run_poller(glistener *l, gqueue *q) {
  for (;;) {
    grpc_event ev = grpc_completion_queue_next(
        q->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    if (ev.type == GRPC_OP_COMPLETE) {
      WEFT__TSAN_ACQUIRE(ev.tag);
      /* A batch of a call: wake its waiter (or push its cancellation) and
       * go on polling. */
      if (ev.tag != &l->shutdown_tag && *(int *)ev.tag == GTAG_OP) {
        op_done(ev.tag, ev.success);
        continue;
      }
    }
    if (ev.type == GRPC_QUEUE_SHUTDOWN) {
      pthread_mutex_lock(&l->mu);
      q->n_polling--;
      l->n_live--;
      pthread_cond_broadcast(&l->cv);
      pthread_mutex_unlock(&l->mu);
      return;
    }
    if (ev.type != GRPC_OP_COMPLETE)
      continue;
    if (ev.tag == &l->shutdown_tag) {
      shutdown_seen(l);
      continue;
    }
    gslot *s = ev.tag;
    if (!ev.success) {
      slot_free(s);
      continue;
    }
    pthread_mutex_lock(&l->mu);
    q->n_polling--;
    bool here = true;
    if (q->n_polling == 0) {
      if (l->n_live >= l->max_threads && l->n_spare == 0) {
        here = false; /* no thread could take over: keep polling */
      } else if (l->watch) {
        /* No other thread waits in the queue meanwhile (see
         * pick_queue_locked); the watcher starts one if the handler
         * takes long. */
        q->away_since = weft_now_ns();
        if (l->watch_parked) {
          l->watch_parked = false;
          pthread_cond_signal(&l->watch_cv);
        }
      } else if (!add_poller_locked(q)) {
        here = false;
      }
    }
    if (!here)
      q->n_polling++;
    pthread_mutex_unlock(&l->mu);
    if (!atomic_load(&l->stopping))
      request_one(l, s->cq_idx, s->reg);
    on_call(l, s, here);
    if (!here)
      continue;
    pthread_mutex_lock(&l->mu);
    gqueue *next = q;
    /* Another thread took over (the watcher's, or the one started when
     * this one left); without the watcher two wait in a queue. */
    if (q->n_polling >= (l->watch ? 1u : 2u))
      next = park_spare_locked(l, false);
    else
      q->n_polling++;
    if (!next) { /* leave */
      l->n_live--;
      pthread_cond_broadcast(&l->cv);
      pthread_mutex_unlock(&l->mu);
      return;
    }
    q = next;
    q->away_since = 0;
    pthread_mutex_unlock(&l->mu);
  }
}

/* Inline mode: the watcher. A queue's last poller runs a call's handler
 * itself and nobody waits in the queue meanwhile: a second thread waiting
 * there would be woken by gRPC core to take over its epoll role every time
 * (3 context switches per call at 1 caller instead of 1). Blocking
 * handlers must not stall the queue, though: this thread looks every
 * TICK_NS while a queue is without a poller and starts one for a queue
 * left so for over TAKEOVER_NS (the handler's thread leaves when it
 * returns and finds two). It parks after IDLE_TICKS without such a queue,
 * so an idle listener does not wake; as h2c's standby does (loop_role.c). */
#define WEFT_GRPC_TICK_NS 1000000
#define WEFT_GRPC_TAKEOVER_NS 1000000
#define WEFT_GRPC_IDLE_TICKS 100

static void watch_main(void *arg) {
  glistener *l = arg;
  unsigned idle = 0;
  pthread_mutex_lock(&l->mu);
  while (!l->watch_stop) {
    int64_t now = weft_now_ns();
    bool away = false;
    for (unsigned i = 0; i < l->n_cqs; i++) {
      gqueue *q = &l->qs[i];
      if (!q->away_since || q->n_polling > 0)
        continue;
      away = true;
      if (now - q->away_since < WEFT_GRPC_TAKEOVER_NS)
        continue;
      if (add_poller_locked(q))
        q->away_since = 0;
    }
    idle = away ? 0 : idle + 1;
    if (idle >= WEFT_GRPC_IDLE_TICKS) {
      l->watch_parked = true;
      while (l->watch_parked && !l->watch_stop)
        pthread_cond_wait(&l->watch_cv, &l->mu);
      idle = 0;
      continue;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += WEFT_GRPC_TICK_NS;
    if (ts.tv_nsec >= 1000000000) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&l->watch_cv, &l->mu, &ts);
  }
  pthread_mutex_unlock(&l->mu);
}

#define WEFT_GRPC_AHEAD_PER_METHOD 4

static void count_methods(const weft_service_desc *svc, void *ud) {
  unsigned *n = ud;
  *n += svc->n_methods;
}

static void add_methods(const weft_service_desc *svc, void *ud) {
  glistener *l = ud;
  for (unsigned i = 0; i < svc->n_methods; i++) {
    const weft_method_desc *m = &svc->methods[i];
    if (m->kind != WEFT_RPC_UNARY && m->kind != WEFT_RPC_SERVER_STREAM)
      continue;
    void *h = grpc_server_register_method(
        l->server, m->path, NULL, GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
    if (h) {
      l->reg[l->n_reg].m = m;
      l->reg[l->n_reg++].handle = h;
    }
  }
}

/* Registers the single-request methods of the services added so far. */
static void register_methods(glistener *l) {
  unsigned n = 0;
  weft_server_each_service(l->ws, count_methods, &n);
  if (n == 0 || !(l->reg = calloc(n, sizeof *l->reg)))
    return;
  weft_server_each_service(l->ws, add_methods, l);
}

static grpc_server_credentials *
server_creds(const weft_url *url, const weft_server_opts *o, weft_error *err) {
  if (strcmp(url->scheme, "grpcs") != 0)
    return grpc_insecure_server_credentials_create();
  if (!o->tls.cert_file || !o->tls.key_file) {
    weft_error_set(err, WEFT_ERR_TLS,
                   "grpcs://: the server needs tls.cert_file and tls.key_file");
    return NULL;
  }
  char *cert = weft__grpc_read_file(o->tls.cert_file, err);
  char *key = cert ? weft__grpc_read_file(o->tls.key_file, err) : NULL;
  char *roots = NULL;
  if (key && o->tls.ca_file)
    roots = weft__grpc_read_file(o->tls.ca_file, err);
  grpc_server_credentials *c = NULL;
  if (key && (!o->tls.ca_file || roots)) {
    grpc_ssl_pem_key_cert_pair pair = {key, cert};
    c = grpc_ssl_server_credentials_create_ex(
        roots, &pair, 1,
        roots ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
              : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE,
        NULL);
    if (!c)
      weft_error_set(err, WEFT_ERR_TLS, "grpcs://: bad certificate or key");
  }
  free(cert);
  free(key);
  free(roots);
  return c;
}

static void stop_accepting(void *listener) {
  glistener *l = listener;
  if (l->shutdown_started)
    return;
  l->shutdown_started = true;
  atomic_store(&l->stopping, true);
  weft__grpc_health_down(l->ws); /* Watch streams see NOT_SERVING */
  /* GOAWAY: no new calls; calls in flight go on. */
  grpc_server_shutdown_and_notify(l->server, l->qs[0].cq, &l->shutdown_tag);
}

/* One event of queue q, which has no thread of its own (its thread could
 * not be started): taken by close_listener while it waits, so the
 * shutdown notification and the batches of calls bound to q still come. */
static void pump_orphan(glistener *l, gqueue *q) {
  grpc_event ev = grpc_completion_queue_next(
      q->cq,
      gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                   gpr_time_from_millis(10, GPR_TIMESPAN)),
      NULL);
  if (ev.type != GRPC_OP_COMPLETE)
    return;
  WEFT__TSAN_ACQUIRE(ev.tag);
  if (ev.tag == &l->shutdown_tag) {
    shutdown_seen(l);
  } else if (*(int *)ev.tag == GTAG_OP) {
    op_done(ev.tag, ev.success);
  } else {
    gslot *s = ev.tag;
    if (ev.success) { /* arrived while closing: nobody will serve it */
      grpc_call_cancel_with_status(s->call, GRPC_STATUS_UNAVAILABLE,
                                   "server is closing", NULL);
      grpc_call_unref(s->call);
    }
    slot_free(s);
  }
}

static bool is_shut_down(glistener *l) {
  return l->shutdown_done;
}
static bool no_calls(glistener *l) {
  return l->n_calls == 0;
}

static bool none_finishing(glistener *l) {
  return l->n_finishing == 0;
}

/* Waits (l->mu held) until done(l), pumping the queues nobody polls; a
 * `until` other than 0 (weft_now_ns time) bounds the wait. */
static void wait_until(glistener *l, bool (*done)(glistener *),
                       const char *what, int64_t until) {
  int64_t warn_at = weft_now_ns() + 5000000000;
  while (!done(l) && (until == 0 || weft_now_ns() < until)) {
    if (weft_now_ns() >= warn_at) {
      fprintf(stderr,
              "weft grpc: server close still waiting for %s (%u "
              "calls whose handlers have not returned)\n",
              what, l->n_calls);
      warn_at = weft_now_ns() + 5000000000;
    }
    if (l->n_orphans == 0) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_sec += 1;
      pthread_cond_timedwait(&l->cv, &l->mu, &ts); /* until: re-checked */
      continue;
    }
    pthread_mutex_unlock(&l->mu);
    for (unsigned i = 0; i < l->n_cqs; i++)
      if (l->qs[i].orphan)
        pump_orphan(l, &l->qs[i]);
    pthread_mutex_lock(&l->mu);
  }
}

static void close_listener(void *listener) {
  glistener *l = listener;
  stop_accepting(l);
  pthread_mutex_lock(&l->mu);
  /* Statuses already handed to gRPC core go out first (bounded: a client
   * that reads nothing must not hold the close): cancelling every call
   * would replace them with gRPC core's own "Cancelling all calls". */
  wait_until(l, none_finishing, "final statuses to be written",
             weft_now_ns() + WEFT_GRPC_CLOSE_FLUSH_NS);
  pthread_mutex_unlock(&l->mu);
  grpc_server_cancel_all_calls(l->server);
  pthread_mutex_lock(&l->mu);
  /* The notification comes once every connection has closed. */
  wait_until(l, is_shut_down, "gRPC core's shutdown notification", 0);
  pthread_mutex_unlock(&l->mu);
  grpc_server_destroy(l->server);
  l->server = NULL;
  pthread_mutex_lock(&l->mu);
  /* Handlers still unwinding (the runtime cancelled their calls) finish
   * them now; their batches complete on these queues, which stay polled
   * until the last call is freed. */
  wait_until(l, no_calls, "calls", 0);
  pthread_mutex_unlock(&l->mu);
  weft__grpc_health_forget(l->ws);
  pthread_mutex_lock(&l->mu);
  weft__thread *watch = l->watch; /* pollers read it under mu */
  l->watch = NULL;
  l->watch_stop = true;
  pthread_cond_signal(&l->watch_cv);
  pthread_cond_broadcast(&l->spare_cv);
  pthread_mutex_unlock(&l->mu);
  if (watch)
    weft__thread_join(watch);
  for (unsigned i = 0; i < l->n_cqs; i++)
    grpc_completion_queue_shutdown(l->qs[i].cq);
  for (unsigned i = 0; i < l->n_cqs; i++)
    weft__thread_join(l->qs[i].thread);
  if (l->inline_mode) {
    pthread_mutex_lock(&l->mu);
    while (l->n_live > 0)
      pthread_cond_wait(&l->cv, &l->mu);
    pthread_mutex_unlock(&l->mu);
  }
  for (unsigned i = 0; i < l->n_cqs; i++) {
    /* Nobody drained it (no thread, or never in use). */
    if (l->qs[i].orphan || (l->inline_mode && !l->qs[i].active)) {
      grpc_event ev;
      while ((ev = grpc_completion_queue_next(
                  l->qs[i].cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL))
                 .type != GRPC_QUEUE_SHUTDOWN) {
        if (ev.type != GRPC_OP_COMPLETE || ev.tag == &l->shutdown_tag)
          continue;
        WEFT__TSAN_ACQUIRE(ev.tag);
        if (*(int *)ev.tag == GTAG_OP)
          op_done(ev.tag, ev.success);
        else
          slot_free(ev.tag);
      }
    }
    grpc_completion_queue_destroy(l->qs[i].cq);
  }
  listener_unref(l);
}

/* Completion queues when weft_grpc_opts.cq_threads is 0: one per core, at
 * least 4. Debian's libgrpc is built without NDEBUG, and then every
 * completion searches its queue's list of outstanding operations (one per
 * open call: its RECV_CLOSE_ON_SERVER batch), so the open calls are spread
 * over several queues. bench/scale, 10,000 streams on 2 cores, server CPU
 * per event: 1 queue 135 ms, 2 queues 111-127, 4 queues 107-110, 8 114;
 * an idle queue costs one parked thread. */
static unsigned default_cqs(void) {
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  if (ncpu < 4)
    return 4;
  return ncpu > 64 ? 64 : (unsigned)ncpu;
}

static int grpc_listen(weft_server *s, const weft_url *url,
                       const weft_server_opts *o, void **listener, int *port,
                       weft_error *err) {
  const weft_grpc_opts *g =
      o ? weft_opts_find(o->transport_opts, WEFT_GRPC_OPTS_TAG) : NULL;
  if (!g)
    g = &weft__grpc_default_opts;
  static const weft_server_opts no_opts;
  if (!o)
    o = &no_opts;
  weft__grpc_acquire();
  grpc_server_credentials *creds = server_creds(url, o, err);
  if (!creds) {
    weft__grpc_release();
    return err && err->code ? err->code : WEFT_ERR_TLS;
  }
  int rc = weft__grpc_add_builtin_services(s, g, err);
  if (rc < 0) {
    grpc_server_credentials_release(creds);
    weft__grpc_release();
    return rc;
  }
  glistener *l = calloc(1, sizeof *l);
  bool inline_mode = !g->pool_handlers;
  unsigned nq = g->cq_threads ? g->cq_threads : default_cqs();
  if (l) {
    l->gzip = g->gzip;
    l->qs = calloc(nq, sizeof *l->qs);
  }
  if (!l || !l->qs) {
    free(l);
    grpc_server_credentials_release(creds);
    weft__grpc_release();
    return weft_error_set(err, WEFT_ERR_NOMEM, "grpc listener");
  }
  l->ws = s;
  l->n_cqs = nq;
  if (inline_mode) {
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned wt = weft_server_get_opts(s)->worker_threads;
    l->inline_mode = true;
    /* One poller per queue, and room to start one while a handler runs. */
    l->max_threads = wt ? wt : (ncpu > 2 ? (unsigned)ncpu * 2 : 4);
    if (l->max_threads < nq + 1)
      l->max_threads = nq + 1;
    l->n_standing = nq + 1;
  }
  l->ahead = g->calls_requested_ahead ? g->calls_requested_ahead : 16;
  l->max_recv =
      o->max_message_size ? o->max_message_size : WEFT_GRPC_DEFAULT_MAX_MESSAGE;
  atomic_init(&l->refs, 1);
  atomic_init(&l->stopping, false);
  pthread_mutex_init(&l->mu, NULL);
  pthread_cond_init(&l->cv, NULL);
  pthread_cond_init(&l->watch_cv, NULL);
  pthread_cond_init(&l->spare_cv, NULL);
  weft__grpc_args args;
  weft__grpc_args_build(&args, o->max_message_size, o->keepalive_ms,
                        o->idle_timeout_ms, g, NULL, true);
  /* The header timeout. gRPC core's server handshake deadline covers the
   * TLS handshake and then the client's HTTP/2 preface and SETTINGS (it
   * closes with "Did not receive HTTP/2 settings before handshake
   * timeout"); its default is 120 s. Per-IP limits have no channel arg:
   * gRPC core gives no hook at accept, so grpc:// has none. */
  int64_t hdr_ms = o->header_timeout_ms == 0  ? 10000
                   : o->header_timeout_ms < 0 ? (int64_t)INT_MAX
                                              : o->header_timeout_ms;
  weft__grpc_args_add_int(&args, GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS,
                          hdr_ms > INT_MAX ? INT_MAX : (int)hdr_ms);
  l->server = grpc_server_create(&args.args, NULL);
  for (unsigned i = 0; i < nq; i++) {
    l->qs[i].l = l;
    l->qs[i].idx = i;
    l->qs[i].cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(l->server, l->qs[i].cq, NULL);
  }
  register_methods(l);
  char addr[300];
  weft__grpc_target(url, url->port >= 0 ? url->port : 50051, addr, sizeof addr);
  int bound = grpc_server_add_http2_port(l->server, addr, creds);
  grpc_server_credentials_release(creds);
  if (bound <= 0) {
    grpc_server_destroy(l->server);
    for (unsigned i = 0; i < nq; i++)
      weft__grpc_cq_destroy_next(l->qs[i].cq);
    listener_unref(l);
    return weft_error_set(err, WEFT_ERR_IO, "%s://%s: cannot bind", url->scheme,
                          addr);
  }
  grpc_server_start(l->server);
  /* Inline mode: queue 0 and its poller are in use from the start (calls
   * arrive there, and are bound to it or to the queues that come into use
   * with load, pick_queue_locked), the watcher stands by. */
  if (l->inline_mode) {
    pthread_mutex_lock(&l->mu);
    l->qs[0].active = true;
    l->n_active = 1;
    pthread_mutex_unlock(&l->mu);
    if (weft__thread_start(&l->watch, "weft-grpc-watch", watch_main, l) < 0)
      l->watch = NULL; /* then a second poller waits in each busy queue */
  }
  unsigned nreq = l->inline_mode ? 1 : nq;
  for (unsigned i = 0; i < nreq; i++) {
    for (unsigned k = 0; k < l->ahead; k++)
      request_one(l, i, -1);
    for (unsigned r = 0; r < l->n_reg; r++)
      for (unsigned k = 0; k < WEFT_GRPC_AHEAD_PER_METHOD; k++)
        request_one(l, i, (int)r);
  }
  /* Each queue gets its thread: a poller (inline mode; queue 0 only) or
   * its drain thread (pool mode). Where one cannot be started the listener
   * is closed again, and the closer pumps the queues left without one. */
  bool failed = false;
  for (unsigned i = 0; i < nreq; i++) {
    gqueue *q = &l->qs[i];
    if (l->inline_mode) {
      pthread_mutex_lock(&l->mu);
      q->orphan = !spawn_poller_locked(l, q);
      pthread_mutex_unlock(&l->mu);
    } else {
      q->orphan =
          weft__thread_start(&q->thread, "weft-grpc-cq", queue_main, q) < 0;
    }
    if (q->orphan) {
      l->n_orphans++;
      failed = true;
    }
  }
  if (failed) {
    close_listener(l);
    return weft_error_set(err, WEFT_ERR_NOMEM, "grpc: no queue thread");
  }
  /* Inline mode: the standing spares, parked until the other queues come
   * into use or a handler keeps a queue's poller (one per queue, and one
   * more). A spare that cannot start is started later, when needed. */
  if (l->inline_mode) {
    pthread_mutex_lock(&l->mu);
    while (l->n_live < l->n_standing && spawn_poller_locked(l, NULL))
      ;
    pthread_mutex_unlock(&l->mu);
  }
  *port = bound;
  *listener = l;
  return 0;
}

const weft_server_transport weft__grpc_server_transport = {
    .scheme = "grpc",
    .default_port = 50051,
    .listen = grpc_listen,
    .stop_accepting = stop_accepting,
    .close = close_listener,
};

const weft_server_transport weft__grpcs_server_transport = {
    .scheme = "grpcs",
    .default_port = 443,
    .listen = grpc_listen,
    .stop_accepting = stop_accepting,
    .close = close_listener,
};
