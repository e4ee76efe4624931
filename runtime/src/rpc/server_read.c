/* Asynchronous receive for detached server calls (weft_server_call_read,
 * weft/server.h). The transport says when a recv would not block
 * (ops->want_read, then weft_server_notify_readable); the read's job then
 * runs recv on the worker pool, into malloc'd memory the handler owns, and
 * hands the result to the handler's callback. So a client-streaming or
 * bidi handler holds a worker only while a message is decoded and its
 * callback runs.
 *
 * A posted read job holds the call (server_async.c's holds), so the call
 * cannot end under it; whether its callback still runs is decided under
 * amu once recv returned: not if the call was finished meanwhile.
 *
 * The deadline ends reading (weft__server_read_end, from the deadline's
 * timer): an outstanding read completes at once with WEFT_ERR_TIMEOUT
 * instead of waiting for a message that a transport may never report
 * (nothing more arrives from a client that just waits), and read_end
 * refuses every later read, so the callback runs exactly once per read. */
#include <stdlib.h>

#include "server_call.h"
#include "weft/codec.h"

/* The call whose read callback runs on this thread, and whether that
 * callback's next read became readable at once (see notify_readable). */
static _Thread_local weft_server_call *tl_call;
static _Thread_local bool tl_again;

/* A burst of queued messages is read on one worker, one after the other,
 * without a trip through the pool per message; after this many the job
 * yields its worker to the other calls. */
#define READS_INLINE 64

/* Each turn owns one hold (taken when the read was found readable). */
static void read_job(void *arg) {
  weft_server_call *c = arg;
  for (int turn = 0;; turn++) {
    void *msg = NULL;
    int end = atomic_load(&c->read_end);
    int r = end                             ? end
            : atomic_load(&c->rt_cancelled) ? WEFT_ERR_CANCELLED
                                            : c->ops->recv(c->tc, NULL, &msg);
    if (r != 1)
      msg = NULL;
    else if (!msg)
      r = WEFT_ERR_INTERNAL; /* a transport that said 1 without a message */
    /* gRPC core reports a cancelled stream's missing messages as its end:
     * once the transport said the client is gone, that end is a cancel. */
    if (r == 0 && atomic_load(&c->peer_cancelled))
      r = WEFT_ERR_CANCELLED;
    pthread_mutex_lock(&c->amu);
    weft_server_call_read_fn fn = c->read_fn;
    void *ud = c->read_ud;
    bool run = !c->finishing;
    c->reading = false;
    c->read_posted = false;
    pthread_mutex_unlock(&c->amu);
    bool again = false;
    if (run) {
      tl_call = c;
      tl_again = false;
      fn(c, msg, r, ud);
      again = tl_again;
      tl_call = NULL;
      tl_again = false;
    } else if (msg) {
      weft_message_free(msg);
    }
    if (again && turn + 1 >= READS_INLINE &&
        weft__pool_post(weft__server_pool(c->srv), read_job, c) == 0)
      again = false;             /* the next turn runs as a job of its own */
    weft__async_release_hold(c); /* the next turn, if any, holds its own */
    if (!again)
      return;
  }
}

void weft_server_notify_readable(weft_server_call *call) {
  if (!call)
    return;
  pthread_mutex_lock(&call->amu);
  bool post = call->reading && !call->read_posted && !call->finishing;
  if (post) {
    call->read_posted = true;
    call->holds++;
  }
  pthread_mutex_unlock(&call->amu);
  if (!post)
    return;
  if (tl_call == call) {
    /* Readable at once, inside this call's read callback: the job that
     * runs it takes the next turn when the callback returns. */
    tl_again = true;
    return;
  }
  if (weft__pool_post(weft__server_pool(call->srv), read_job, call) == 0)
    return;
  /* No memory for the job: the read stays outstanding, and the next
   * notify (another message, the end, a cancel) tries again. Another
   * hold (the handler's, a callback's, or the read's own below) is still
   * there whenever the transport can notify, so this is not the last. */
  weft__server_log(call->srv, 2, "%s: no memory to run a read",
                   call->method->path);
  pthread_mutex_lock(&call->amu);
  call->read_posted = false;
  pthread_mutex_unlock(&call->amu);
  weft__async_release_hold(call);
}

void weft__server_read_end(weft_server_call *call, int err) {
  pthread_mutex_lock(&call->amu);
  int expected = 0;
  atomic_compare_exchange_strong(&call->read_end, &expected, err);
  /* A read whose job is posted already sees read_end when it runs. */
  bool run = call->reading && !call->read_posted && !call->finishing;
  if (run) {
    call->read_posted = true;
    call->holds++;
  }
  pthread_mutex_unlock(&call->amu);
  if (!run)
    return;
  if (tl_call == call) { /* inside this call's read callback */
    tl_again = true;
    return;
  }
  /* The transport may still notify for this read later: reading is false
   * by then, so that notify posts nothing. */
  read_job(call);
}

int weft_server_call_read(weft_server_call *call, weft_server_call_read_fn fn,
                          void *ud) {
  if (!call || !fn)
    return WEFT_ERR_INVAL;
  if (!call->detached)
    return WEFT_ERR_STATE;
  if (!call->ops->want_read)
    return WEFT_ERR_UNSUPPORTED;
  pthread_mutex_lock(&call->amu);
  int end = atomic_load(&call->read_end);
  if (call->finishing || call->reading || end) {
    pthread_mutex_unlock(&call->amu);
    return call->finishing || call->reading ? WEFT_ERR_STATE : end;
  }
  call->reading = true;
  call->read_fn = fn;
  call->read_ud = ud;
  /* Held while the transport is asked: a finish from another thread must
   * not reach ops->finish (and free tc) meanwhile. */
  call->holds++;
  pthread_mutex_unlock(&call->amu);
  int rv = call->ops->want_read(call->tc, call);
  if (rv < 0) {
    pthread_mutex_lock(&call->amu);
    if (!call->read_posted)
      call->reading = false;
    pthread_mutex_unlock(&call->amu);
  }
  weft__async_release_hold(call);
  return rv < 0 ? rv : 0;
}

const char *weft_server_call_recv_error(weft_server_call *call) {
  if (!call || !call->ops->recv_error)
    return NULL;
  return call->ops->recv_error(call->tc);
}
