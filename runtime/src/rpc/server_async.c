/* Detached (asynchronous) server calls: the send queue (a weft__txq of
 * messages, internal/txq.h) and its drain job,
 * weft_server_call_finish from any thread, on_cancel / on_writable
 * callbacks and timers (weft/server.h, "Asynchronous handlers").
 *
 * Cancellation is pushed: a transport that binds its calls (ops->bind)
 * calls weft_server_notify_cancel() when the client cancels, resets the
 * stream or the connection closes, and on_cancel is posted to the pool
 * right away; the deadline is a timer of this file. Every transport of
 * weft pushes; only the calls of a user transport that cannot (no
 * ops->bind) are polled, every 50 ms (weft__cancel_polls counts those
 * asks).
 * Timers (deadlines, weft_server_call_after), that polling and the
 * cancellations the pool could not take are run by tick(), which the
 * worker pool calls on an idle worker when due (weft__pool_set_ticker):
 * no thread of their own, and the callbacks they post usually run on that
 * same worker.
 * Everything else runs on the worker pool through weft__pool_post, so a
 * detached call holds a worker only while its messages are being written
 * or one of its callbacks runs.
 *
 * Per call, at most one drain job is queued or running (drain_queued): it
 * is the only thread that writes to the transport, so the transport sees
 * one sender per call, as with a blocking handler. A message queued on
 * many calls at once (a published event, weft__server_call_queue) is
 * drained a batch of calls per job (weft__server_drain_calls), and its
 * encoding, made once, goes to transports with ops->send_encoded. It also ends
 * the call (ops->finish through weft__server_call_end) once finish was asked,
 * the queue is empty and no hold is left. Holds (the detaching handler still
 * running, a callback running, tick() polling ops->cancelled) keep
 * the call from being freed under someone who still uses it.
 *
 * Lock order: a transport's lock (held around weft_server_notify_cancel),
 * then the timers' mu, then a call's amu. The pool's lock is taken under
 * any of them (tick runs without it). Nothing here calls into a transport
 * with amu held. */
#include <stdlib.h>
#include <string.h>

#include "server_call.h"
#include "weft/codec.h"

#define POLL_MS 50 /* how often cancellation is polled, at most */

/* Times tick asked a transport's ops->cancelled (all servers). */
static atomic_ulong cancel_polls;
/* Messages handed to a transport already encoded (ops->send_encoded). */
static atomic_ulong encoded_sends;

unsigned long weft__cancel_polls(void) {
  return atomic_load(&cancel_polls);
}

unsigned long weft__server_encoded_sends(void) {
  return atomic_load(&encoded_sends);
}

typedef struct weft__timer {
  int64_t due;
  uint64_t order;         /* equal due times fire in the order set */
  weft_server_call *call; /* ending it takes its timers out of the heap */
  weft_server_call_fn fn;
  void *ud;
  struct weft__timer *cnext; /* the call's pending timers */
  size_t idx;                /* in the heap */
} weft__timer;

struct weft__async {
  weft_server *s;
  weft__pool *pool;
  pthread_mutex_t mu;
  weft_server_call *calls; /* detached, not yet ended */
  size_t ncalls;
  size_t npoll; /* of them, calls whose transport cannot push */
  weft__timer **heap;
  size_t nheap, capheap;
  uint64_t order;
  bool wake;         /* a cancellation waits for tick's poll */
  int64_t next_poll; /* tick's alone (one tick runs at a time) */
};

/* a->mu held: tick() must run by `due` (the pool's lock is taken inside). */
static void tick_by(weft__async *a, int64_t due) {
  weft__pool_kick(a->pool, due);
}

/* ---- timer heap (a->mu held) ---- */

static bool t_before(const weft__timer *x, const weft__timer *y) {
  return x->due < y->due || (x->due == y->due && x->order < y->order);
}

static void heap_set(weft__async *a, size_t i, weft__timer *t) {
  a->heap[i] = t;
  t->idx = i;
}

static void heap_up(weft__async *a, size_t i) {
  weft__timer *t = a->heap[i];
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!t_before(t, a->heap[p]))
      break;
    heap_set(a, i, a->heap[p]);
    i = p;
  }
  heap_set(a, i, t);
}

static void heap_down(weft__async *a, size_t i) {
  weft__timer *t = a->heap[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= a->nheap)
      break;
    if (c + 1 < a->nheap && t_before(a->heap[c + 1], a->heap[c]))
      c++;
    if (!t_before(a->heap[c], t))
      break;
    heap_set(a, i, a->heap[c]);
    i = c;
  }
  heap_set(a, i, t);
}

static int heap_push(weft__async *a, weft__timer *t) {
  if (a->nheap == a->capheap) {
    size_t cap = a->capheap ? a->capheap * 2 : 64;
    weft__timer **n = realloc(a->heap, cap * sizeof *n);
    if (!n)
      return WEFT_ERR_NOMEM;
    a->heap = n;
    a->capheap = cap;
  }
  heap_set(a, a->nheap++, t);
  heap_up(a, t->idx);
  return 0;
}

/* Takes t out wherever it is: a call that ends takes its pending timers
 * (its deadline is one) with it instead of leaving them until due. */
static void heap_remove(weft__async *a, weft__timer *t) {
  size_t i = t->idx;
  if (--a->nheap == i)
    return;
  heap_set(a, i, a->heap[a->nheap]);
  heap_down(a, i);
  heap_up(a, a->heap[i]->idx);
}

static weft__timer *heap_pop(weft__async *a) {
  weft__timer *top = a->heap[0];
  heap_remove(a, top);
  return top;
}

/* ---- the drain job ---- */

static void drain(void *arg);

/* amu held. Whether the call needs a drain job that nobody has started
 * (it has something to write or is ready to end); if so, the caller now
 * owns its drain and must start it (drain_queued is set). */
static bool claim_drain(weft_server_call *c) {
  if (c->drain_queued)
    return false;
  if (!weft__txq_len(&c->sendq) && !(c->finishing && c->holds == 0))
    return false;
  c->drain_queued = true;
  return true;
}

/* amu held. Makes sure a drain job will look at the call when it has
 * something to write or is ready to end. Returns true when the job could
 * not be queued (the pool is stopping, or no memory): the caller runs
 * drain() itself after dropping amu. */
static bool kick(weft_server_call *c) {
  if (!claim_drain(c))
    return false;
  return weft__pool_post(weft__server_async(c->srv)->pool, drain, c) < 0;
}

static void release_hold(weft_server_call *c) {
  pthread_mutex_lock(&c->amu);
  c->holds--;
  bool inline_drain = kick(c);
  pthread_mutex_unlock(&c->amu);
  if (inline_drain)
    drain(c);
}

void weft__async_release_hold(weft_server_call *c) {
  release_hold(c);
}

/* Ends the call: unlinks it from the timers (its pending ones are freed)
 * and hands it to server.c, which sends the status and frees it. */
static void end(weft_server_call *c) {
  weft__async *a = weft__server_async(c->srv);
  pthread_mutex_lock(&a->mu);
  if (c->aprev)
    c->aprev->anext = c->anext;
  else
    a->calls = c->anext;
  if (c->anext)
    c->anext->aprev = c->aprev;
  a->ncalls--;
  if (!c->can_push || c->force_poll)
    a->npoll--;
  for (weft__timer *t = c->timers, *next; t; t = next) {
    next = t->cnext;
    heap_remove(a, t);
    free(t);
  }
  c->timers = NULL;
  pthread_mutex_unlock(&a->mu);
  weft__txq_destroy(&c->sendq); /* empty unless a send failed */
  weft__server_call_end(c, c->fin_code);
}

static void drain(void *arg) {
  weft_server_call *c = arg;
  pthread_mutex_lock(&c->amu);
  for (;;) {
    /* After a send error the queue is cancelled: nothing is left to pop. */
    weft__txq_item *q = weft__txq_pop(&c->sendq);
    if (q) {
      const weft_metadata *hdrs = c->headers_sent ? NULL : &c->headers;
      c->headers_sent = true;
      pthread_mutex_unlock(&c->amu);
      /* Nothing goes out once the client is known to be gone. */
      int r;
      if (atomic_load(&c->rt_cancelled) || atomic_load(&c->peer_cancelled)) {
        r = WEFT_ERR_CANCELLED;
      } else if (q->enc && c->ops->send_encoded) {
        atomic_fetch_add_explicit(&encoded_sends, 1, memory_order_relaxed);
        r = c->ops->send_encoded(c->tc, q->msg, q->enc, hdrs);
      } else {
        r = c->ops->send(c->tc, q->msg, hdrs);
      }
      weft__txq_items_done(q);
      pthread_mutex_lock(&c->amu);
      if (r < 0 && !c->send_err) {
        c->send_err = r;
        atomic_store(&c->peer_cancelled, true);
        /* Nobody will write the rest: release it now, not at the end. */
        weft__txq_item *dropped = weft__txq_cancel(&c->sendq, r);
        if (dropped) {
          pthread_mutex_unlock(&c->amu);
          weft__txq_items_done(dropped);
          pthread_mutex_lock(&c->amu);
        }
        if (c->on_cancel && !c->cancel_fired && !c->finishing) {
          /* The client is gone: say so now rather than at the next poll. */
          c->cancel_fired = true;
          c->holds++;
          weft_server_call_fn fn = c->on_cancel;
          void *ud = c->on_cancel_ud;
          pthread_mutex_unlock(&c->amu);
          fn(c, ud);
          pthread_mutex_lock(&c->amu);
          c->holds--;
        }
      }
      if (c->on_writable && !c->finishing &&
          weft__txq_take_writable(&c->sendq)) {
        weft_server_call_fn fn = c->on_writable;
        void *ud = c->on_writable_ud;
        c->holds++;
        pthread_mutex_unlock(&c->amu);
        fn(c, ud);
        pthread_mutex_lock(&c->amu);
        c->holds--;
      }
      continue;
    }
    if (c->finishing && c->holds == 0) {
      pthread_mutex_unlock(&c->amu);
      end(c);
      return;
    }
    c->drain_queued = false;
    pthread_mutex_unlock(&c->amu);
    return;
  }
}

/* ---- callbacks run on the pool ---- */

typedef struct cb_job {
  weft_server_call *call;
  weft_server_call_fn fn;
  void *ud;
} cb_job;

static void run_cb(void *arg) {
  cb_job *j = arg;
  j->fn(j->call, j->ud);
  weft_server_call *c = j->call;
  free(j);
  release_hold(c);
}

/* The caller took a hold for the job; it is released when fn returned. */
static void post_cb(weft_server_call *c, weft_server_call_fn fn, void *ud) {
  cb_job *j = malloc(sizeof *j);
  if (j) {
    j->call = c;
    j->fn = fn;
    j->ud = ud;
    if (weft__pool_post(weft__server_async(c->srv)->pool, run_cb, j) == 0)
      return;
    free(j);
  }
  /* No worker to run it: run it here rather than lose a cancellation
   * (the callbacks must not block anyway). */
  fn(c, ud);
  release_hold(c);
}

/* ---- tick: timers and polling, on an idle worker ---- */

static bool cancelled_now(weft_server_call *c) {
  if (atomic_load(&c->rt_cancelled) || atomic_load(&c->peer_cancelled))
    return true;
  if (c->deadline_ns != INT64_MAX && weft_now_ns() >= c->deadline_ns)
    return true;
  if (c->can_push)
    return false;
  atomic_fetch_add(&cancel_polls, 1);
  return c->ops->cancelled(c->tc);
}

/* Polls every detached call that waits for on_cancel and is idle (no
 * drain job, no hold): a transport is asked only when nobody writes, and
 * only if it cannot push; a call of one that can is looked at only when
 * the runtime cancelled it (shutdown). */
static void poll_cancel(weft__async *a) {
  pthread_mutex_lock(&a->mu);
  size_t cap = a->ncalls, n = 0;
  weft_server_call **v = cap ? malloc(cap * sizeof *v) : NULL;
  for (weft_server_call *c = a->calls; c && v && n < cap; c = c->anext) {
    pthread_mutex_lock(&c->amu);
    if (c->on_cancel && !c->cancel_fired && !c->finishing && !c->drain_queued &&
        c->holds == 0 &&
        (!c->can_push || c->force_poll || atomic_load(&c->rt_cancelled) ||
         atomic_load(&c->peer_cancelled))) {
      c->holds++;
      v[n++] = c;
    }
    pthread_mutex_unlock(&c->amu);
  }
  pthread_mutex_unlock(&a->mu);
  for (size_t i = 0; i < n; i++) {
    weft_server_call *c = v[i];
    bool gone = cancelled_now(c);
    if (gone) /* nothing is sent once on_cancel was told */
      atomic_store(&c->peer_cancelled, true);
    weft_server_call_fn fn = NULL;
    void *ud = NULL;
    pthread_mutex_lock(&c->amu);
    if (gone && !c->cancel_fired && !c->finishing && c->on_cancel) {
      c->cancel_fired = true;
      fn = c->on_cancel;
      ud = c->on_cancel_ud;
    }
    pthread_mutex_unlock(&c->amu);
    if (fn)
      post_cb(c, fn, ud); /* keeps the hold until fn returned */
    else
      release_hold(c);
  }
  free(v);
}

/* Pops the due timers and posts their callbacks. */
static void fire_timers(weft__async *a) {
  pthread_mutex_lock(&a->mu);
  int64_t now = weft_now_ns();
  while (a->nheap && a->heap[0]->due <= now) {
    weft__timer *t = heap_pop(a);
    weft_server_call *c = t->call;
    bool fire = false;
    if (c) {
      for (weft__timer **pp = &c->timers; *pp; pp = &(*pp)->cnext) {
        if (*pp == t) {
          *pp = t->cnext;
          break;
        }
      }
      pthread_mutex_lock(&c->amu);
      if (!c->finishing) {
        c->holds++;
        fire = true;
      }
      pthread_mutex_unlock(&c->amu);
    }
    if (fire) {
      pthread_mutex_unlock(&a->mu);
      post_cb(c, t->fn, t->ud);
      pthread_mutex_lock(&a->mu);
    }
    free(t);
  }
  pthread_mutex_unlock(&a->mu);
}

/* The pool's tick (an idle worker, one at a time): fires the due timers
 * and polls cancellation when due; returns when it wants to run next. */
static int64_t tick(void *arg) {
  weft__async *a = arg;
  fire_timers(a);
  int64_t now = weft_now_ns();
  pthread_mutex_lock(&a->mu);
  bool woken = a->wake;
  a->wake = false;
  bool any_poll = a->npoll > 0;
  pthread_mutex_unlock(&a->mu);
  if (woken || (any_poll && now >= a->next_poll)) {
    poll_cancel(a);
    /* Asking gRPC core costs microseconds per call: with thousands of
     * detached calls a pass is long, so the next one waits at least four
     * times as long as this one took (polling stays under ~20 % of a
     * core) and never less than POLL_MS. */
    int64_t end = weft_now_ns(), gap = 4 * (end - now);
    if (gap < POLL_MS * 1000000LL)
      gap = POLL_MS * 1000000LL;
    a->next_poll = end + gap;
  } else if (now >= a->next_poll) {
    a->next_poll = now + POLL_MS * 1000000LL;
  }
  pthread_mutex_lock(&a->mu);
  int64_t next = a->npoll > 0 ? a->next_poll : INT64_MAX;
  if (a->nheap && a->heap[0]->due < next)
    next = a->heap[0]->due;
  if (a->wake)
    next = 0;
  pthread_mutex_unlock(&a->mu);
  return next;
}

int weft__async_new(weft__async **out, weft_server *s, weft__pool *pool) {
  weft__async *a = calloc(1, sizeof *a);
  if (!a)
    return WEFT_ERR_NOMEM;
  a->s = s;
  a->pool = pool;
  pthread_mutex_init(&a->mu, NULL);
  weft__pool_set_ticker(pool, tick, a);
  *out = a;
  return 0;
}

/* A cancellation the pool could not take (notify_cancel, under a
 * transport's lock): the next idle worker's tick fires it. */
void weft__async_wake(weft__async *a) {
  if (!a)
    return;
  pthread_mutex_lock(&a->mu);
  a->wake = true;
  tick_by(a, 0);
  pthread_mutex_unlock(&a->mu);
}

/* Shutdown: on_cancel for every detached call the runtime cancelled, posted
 * from this thread (no lock held) in one pass of tick's poll. */
void weft__async_cancel_all(weft__async *a) {
  if (a)
    poll_cancel(a);
}

void weft__async_free(weft__async *a) {
  if (!a)
    return;
  weft__pool_set_ticker(a->pool, NULL, NULL); /* waits for a running tick */
  for (size_t i = 0; i < a->nheap; i++)
    free(a->heap[i]); /* none left once every call ended; to be sure */
  free(a->heap);
  pthread_mutex_destroy(&a->mu);
  free(a);
}

/* ---- the public API ---- */

static void arm_deadline(weft_server_call *call);

int weft_server_call_detach(weft_server_call *call) {
  if (!call)
    return WEFT_ERR_INVAL;
  if (call->detached)
    return WEFT_ERR_STATE;
  weft__async *a = weft__server_async(call->srv);
  pthread_mutex_lock(&a->mu);
  pthread_mutex_lock(&call->amu);
  call->holds = 1; /* the handler, until it returns */
  call->detached = true;
  weft__txq_cfg qcfg = {.high_msgs = WEFT_SERVER_SEND_QUEUE};
  weft__txq_init(&call->sendq, &qcfg);
  pthread_mutex_unlock(&call->amu);
  call->anext = a->calls;
  if (a->calls)
    a->calls->aprev = call;
  a->calls = call;
  a->ncalls++;
  if (!call->can_push) {
    a->npoll++;
    tick_by(a, weft_now_ns() + POLL_MS * 1000000LL);
  }
  pthread_mutex_unlock(&a->mu);
  arm_deadline(call);
  return 0;
}

void weft__async_handler_returned(weft_server_call *call) {
  release_hold(call);
}

int weft_server_call_finish(weft_server_call *call, int code) {
  if (!call || !call->detached)
    return WEFT_ERR_STATE;
  pthread_mutex_lock(&call->amu);
  if (call->finishing) {
    pthread_mutex_unlock(&call->amu);
    return WEFT_ERR_STATE;
  }
  call->finishing = true;
  call->fin_code = code;
  bool inline_drain = kick(call);
  pthread_mutex_unlock(&call->amu);
  if (inline_drain)
    drain(call);
  return 0;
}

/* Queues msg; *claimed (NULL: start the drain job here) says the caller
 * now owns the call's drain (weft__server_drain_calls). */
static int enqueue(weft_server_call *call, const void *msg,
                   const weft_encoded_msg *enc, void (*release)(void *ud),
                   void *ud, bool *claimed) {
  weft__txq_item *q = weft__txq_item_msg(msg, enc, release, ud);
  if (!q)
    return WEFT_ERR_NOMEM;
  pthread_mutex_lock(&call->amu);
  int rv = 0;
  if (call->finishing)
    rv = WEFT_ERR_STATE;
  else if (call->send_err)
    rv = call->send_err;
  else if (atomic_load(&call->rt_cancelled) ||
           atomic_load(&call->peer_cancelled))
    rv = WEFT_ERR_CANCELLED;
  else
    rv = weft__txq_push(&call->sendq, q); /* full: AGAIN, then on_writable */
  if (rv < 0) {
    pthread_mutex_unlock(&call->amu);
    weft__txq_item_free(q);
    return rv;
  }
  bool inline_drain = false;
  if (claimed)
    *claimed = claim_drain(call);
  else
    inline_drain = kick(call);
  pthread_mutex_unlock(&call->amu);
  if (inline_drain)
    drain(call);
  return 0;
}

int weft__server_call_send_ref(weft_server_call *call, const void *msg,
                               void (*release)(void *ud), void *ud) {
  return enqueue(call, msg, NULL, release, ud, NULL);
}

int weft__server_call_queue(weft_server_call *call, const void *msg,
                            const weft_encoded_msg *enc,
                            void (*release)(void *ud), void *ud,
                            bool *claimed) {
  *claimed = false;
  return enqueue(call, msg, enc, release, ud, claimed);
}

/* Calls drained per pool job by weft__server_drain_calls. */
#define DRAIN_BATCH 32

typedef struct drain_job {
  size_t n;
  weft_server_call *calls[];
} drain_job;

/* Set while this thread drains a batch (weft_server_sending_batch). */
static _Thread_local bool in_batch;

bool weft_server_sending_batch(void) {
  return in_batch;
}

static void drain_batch(void *arg) {
  drain_job *j = arg;
  in_batch = true;
  for (size_t i = 0; i < j->n; i++) {
    /* The calls' memory is cold: fetch the ones ahead (the call, then its
     * transport's stream) while this one is written. */
    if (i + 2 < j->n) {
      __builtin_prefetch(&j->calls[i + 2]->amu);
      __builtin_prefetch(&j->calls[i + 2]->sendq);
      __builtin_prefetch(&j->calls[i + 2]->tc);
    }
    if (i + 1 < j->n)
      __builtin_prefetch(j->calls[i + 1]->tc);
    drain(j->calls[i]);
  }
  in_batch = false;
  free(j);
}

void weft__server_drain_calls(weft_server_call **calls, size_t n) {
  for (size_t i = 0; i < n; i += DRAIN_BATCH) {
    size_t k = n - i < DRAIN_BATCH ? n - i : DRAIN_BATCH;
    drain_job *j = malloc(sizeof *j + k * sizeof *calls);
    if (j) {
      j->n = k;
      memcpy(j->calls, calls + i, k * sizeof *calls);
      if (weft__pool_post(weft__server_async(calls[i]->srv)->pool, drain_batch,
                          j) == 0)
        continue;
      free(j);
    }
    for (size_t x = i; x < i + k; x++) /* no worker to take them: here */
      drain(calls[x]);
  }
}

static void free_copy(void *ud) {
  weft_message_free(ud);
}

/* weft_server_call_send on a detached call. */
int weft__async_send(weft_server_call *call, const void *msg) {
  void *copy = NULL;
  int rv = weft_message_copy(msg, NULL, &copy);
  if (rv < 0)
    return rv;
  rv = weft__server_call_send_ref(call, copy, free_copy, copy);
  if (rv < 0)
    weft_message_free(copy);
  return rv;
}

/* Runs on the pool (a timer at the call's deadline, with its hold). */
static void deadline_due(weft_server_call *c, void *ud) {
  (void)ud;
  atomic_store(&c->peer_cancelled, true); /* nobody waits for more */
  pthread_mutex_lock(&c->amu);
  weft_server_call_fn fn = NULL;
  void *fud = NULL;
  if (c->on_cancel && !c->cancel_fired && !c->finishing) {
    c->cancel_fired = true;
    fn = c->on_cancel;
    fud = c->on_cancel_ud;
  }
  pthread_mutex_unlock(&c->amu);
  if (fn)
    fn(c, fud);
  /* A read outstanding now would wait for a message the client may never
   * send: it ends here, on this worker. */
  weft__server_read_end(c, WEFT_ERR_TIMEOUT);
}

static int add_timer(weft_server_call *call, int64_t due,
                     weft_server_call_fn fn, void *ud);

/* At detach: the deadline is a timer of the call, whatever the handler
 * registers later (on_cancel, reads). */
static void arm_deadline(weft_server_call *call) {
  if (call->deadline_ns == INT64_MAX)
    return;
  pthread_mutex_lock(&call->amu);
  bool arm = !call->dl_armed;
  call->dl_armed = true;
  pthread_mutex_unlock(&call->amu);
  if (!arm || add_timer(call, call->deadline_ns, deadline_due, NULL) == 0 ||
      !call->can_push)
    return;
  /* No memory for the timer: poll this one (on_cancel still fires). */
  weft__async *a = weft__server_async(call->srv);
  pthread_mutex_lock(&a->mu);
  pthread_mutex_lock(&call->amu);
  if (!call->force_poll && !call->finishing) {
    call->force_poll = true;
    a->npoll++;
    tick_by(a, weft_now_ns() + POLL_MS * 1000000LL);
  }
  pthread_mutex_unlock(&call->amu);
  pthread_mutex_unlock(&a->mu);
}

int weft_server_call_on_cancel(weft_server_call *call, weft_server_call_fn fn,
                               void *ud) {
  if (!call || !call->detached)
    return WEFT_ERR_STATE;
  pthread_mutex_lock(&call->amu);
  call->on_cancel = fn;
  call->on_cancel_ud = ud;
  /* Cancelled before anyone listened: fire now rather than never. */
  bool fire =
      fn && !call->cancel_fired && !call->finishing &&
      (atomic_load(&call->rt_cancelled) || atomic_load(&call->peer_cancelled));
  if (fire) {
    call->cancel_fired = true;
    call->holds++;
  }
  pthread_mutex_unlock(&call->amu);
  if (fire)
    post_cb(call, fn, ud); /* keeps the hold until fn returned */
  return 0;
}

/* Transport -> runtime (weft/transport.h), under the transport's lock: no
 * callback runs here, on_cancel is posted to the pool. */
void weft_server_notify_cancel(weft_server_call *call) {
  if (!call)
    return;
  atomic_store(&call->peer_cancelled, true);
  cb_job *j = malloc(sizeof *j);
  pthread_mutex_lock(&call->amu);
  bool fire = call->detached && call->on_cancel && !call->cancel_fired &&
              !call->finishing;
  bool posted = false;
  if (fire && j) {
    j->call = call;
    j->fn = call->on_cancel;
    j->ud = call->on_cancel_ud;
    call->cancel_fired = true;
    call->holds++;
    posted =
        weft__pool_post(weft__server_async(call->srv)->pool, run_cb, j) == 0;
    if (!posted) {
      call->cancel_fired = false;
      call->holds--; /* the hold of a handler or drain is still there */
    }
  }
  pthread_mutex_unlock(&call->amu);
  if (!posted)
    free(j);
  if (fire && !posted) /* no memory or no worker: tick fires it */
    weft__async_wake(weft__server_async(call->srv));
}

int weft_server_call_on_writable(weft_server_call *call, weft_server_call_fn fn,
                                 void *ud) {
  if (!call || !call->detached)
    return WEFT_ERR_STATE;
  pthread_mutex_lock(&call->amu);
  call->on_writable = fn;
  call->on_writable_ud = ud;
  pthread_mutex_unlock(&call->amu);
  return 0;
}

static int add_timer(weft_server_call *call, int64_t due,
                     weft_server_call_fn fn, void *ud) {
  weft__timer *t = calloc(1, sizeof *t);
  if (!t)
    return WEFT_ERR_NOMEM;
  t->due = due;
  t->fn = fn;
  t->ud = ud;
  t->call = call;
  weft__async *a = weft__server_async(call->srv);
  pthread_mutex_lock(&a->mu);
  pthread_mutex_lock(&call->amu);
  bool finishing = call->finishing;
  pthread_mutex_unlock(&call->amu);
  int rv = finishing ? WEFT_ERR_STATE : 0;
  if (rv == 0) {
    t->order = a->order++;
    rv = heap_push(a, t);
  }
  if (rv == 0) {
    t->cnext = call->timers;
    call->timers = t;
    if (a->heap[0] == t) /* sooner than tick planned */
      tick_by(a, due);
  }
  pthread_mutex_unlock(&a->mu);
  if (rv < 0)
    free(t);
  return rv;
}

int weft_server_call_after(weft_server_call *call, int64_t ms,
                           weft_server_call_fn fn, void *ud) {
  if (!call || !fn || ms < 0)
    return WEFT_ERR_INVAL;
  if (!call->detached)
    return WEFT_ERR_STATE;
  return add_timer(call, weft_now_ns() + ms * 1000000, fn, ud);
}
