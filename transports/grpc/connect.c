/* A grpc:// or grpcs:// reconnect attempt that blocks no thread (the client
 * transport's connect_async, weft/transport.h).
 *
 * The blocking connect (client.c) waits in a completion queue for the
 * channel to become READY; run on the runtime's one connector thread, a
 * server that never answers held every other client's reconnect behind it
 * for connect_timeout_ms. Here the channel's state changes arrive on a
 * callback queue (gRPC core's thread runs them: a check and the next
 * watch, nothing that blocks), and the outcome is posted to the client
 * loop, where done runs. A failed attempt is explained as the blocking
 * connect explains it, by dialling the same host and port, but with the
 * loop's asynchronous dial (transports/common/dial.h).
 *
 * An attempt is freed on the loop once both its outcome was reported and
 * its callback queue reported its shutdown (gRPC core may run that after
 * the last watch's callback, on its own thread).
 *
 * A closing client stops its attempt (attempt.h) on the loop: a watch
 * armed then ends by destroying the channel (mu keeps that from the
 * watch's callback, which uses the channel), the diagnostic dial is
 * cancelled, and from then on the attempt touches nothing of the client
 * (its URL and options go with it) and reports to nobody. */
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <grpc/support/time.h>

#include "attempt.h"
#include "dial.h"
#include "grpc_internal.h"
#include "sock.h"

typedef struct gconnect {
  grpc_completion_queue_functor step_fn, down_fn;
  grpc_completion_queue *cq;
  weft__grpc_chan *ch;
  weft_client *client;
  const weft_url *url;          /* the runtime's: outlives the attempt */
  const weft_client_opts *opts; /* the same */
  void (*done)(weft_client *, int, void *, const weft_error *);
  weft_loop *loop; /* held from start to free */
  char target[300];
  int port;
  int64_t timeout_ms;
  gpr_timespec deadline;
  /* Set on gRPC core's thread before the post that reads them on the
   * loop (the post orders them). */
  enum { C_READY, C_FAILED, C_TIMEOUT } outcome;
  /* The channel's watching and its stop: settling (an outcome posted: no
   * watch armed any more) and stopped, under mu; stopped is written on
   * the loop, which may also read it without mu. */
  pthread_mutex_t mu;
  bool settling, stopped;
  /* Loop thread only. */
  bool reported, cq_down;
  weft__tls_ctx *diag_tls;
  weft__dial *diag;
} gconnect;

static void maybe_free(gconnect *x) {
  if (!x->reported || !x->cq_down)
    return;
  grpc_completion_queue_destroy(x->cq);
  weft_client_loop_release(x->loop);
  pthread_mutex_destroy(&x->mu);
  free(x);
}

/* Loop thread: done, once. */
static void report(gconnect *x, int rv, void *conn, const weft_error *err) {
  x->done(x->client, rv, conn, err);
  x->reported = true;
  maybe_free(x);
}

static void on_cq_down_job(void *ud) {
  gconnect *x = ud;
  x->cq_down = true;
  maybe_free(x);
}

static void on_cq_down(grpc_completion_queue_functor *f, int ok) {
  (void)ok;
  gconnect *x = (gconnect *)((char *)f - offsetof(gconnect, down_fn));
  /* Out of memory: the attempt must still be freed (and its client's
   * close waits for its outcome, which is reported apart from this). */
  while (weft_loop_post(x->loop, on_cq_down_job, x) < 0)
    usleep(1000);
}

static void on_diag(void *ud, int rv, weft__conn *sock, const weft_error *e) {
  gconnect *x = ud;
  x->diag = NULL; /* it frees itself once this returns */
  weft__conn_close(sock);
  weft__tls_ctx_free(x->diag_tls);
  x->diag_tls = NULL;
  weft_error err;
  weft_error_clear(&err);
  int code = weft__grpc_diag_error(x->url, x->target, rv, e, &err);
  report(x, code, NULL, &err);
}

/* Loop thread: the channel reached an outcome; no watch is armed. */
static void settle_job(void *ud) {
  gconnect *x = ud;
  grpc_completion_queue_shutdown(x->cq);
  if (x->stopped) { /* the client is closing: nobody to tell */
    weft__grpc_channel_drop(x->ch);
    x->ch = NULL;
    x->reported = true;
    maybe_free(x);
    return;
  }
  weft_error err;
  weft_error_clear(&err);
  if (x->outcome == C_READY) {
    report(x, 0, weft__grpc_channel_ready(x->ch), NULL);
    return;
  }
  weft__grpc_channel_drop(x->ch);
  x->ch = NULL;
  if (x->outcome == C_TIMEOUT) {
    weft_error_set(&err, WEFT_ERR_TIMEOUT, "%s: not connected within %lld ms",
                   x->target, (long long)x->timeout_ms);
    report(x, err.code, NULL, &err);
    return;
  }
  x->diag_tls = weft__grpc_diag_tls(x->url, x->opts, &err);
  if (err.code == 0 &&
      weft__dial_start(&x->diag, x->loop, x->url->host, x->port, x->diag_tls,
                       x->opts->tls.server_name,
                       weft__grpc_diag_timeout_ms(x->opts), on_diag, x,
                       &err) == 0)
    return;
  weft__tls_ctx_free(x->diag_tls);
  x->diag_tls = NULL;
  report(x, err.code, NULL, &err);
}

/* With x->mu held. */
static void settle(gconnect *x, int outcome) {
  x->outcome = outcome;
  x->settling = true;
  while (weft_loop_post(x->loop, settle_job, x) < 0)
    usleep(1000); /* out of memory: the attempt must still end */
}

/* Looks at the channel and waits for its next change, or settles. On the
 * loop at the start, then on gRPC core's thread; x->mu held. */
static void step(gconnect *x) {
  grpc_channel *ch = weft__grpc_channel_of(x->ch);
  grpc_connectivity_state st = grpc_channel_check_connectivity_state(ch, 1);
  if (st == GRPC_CHANNEL_READY)
    settle(x, C_READY);
  else if (st == GRPC_CHANNEL_TRANSIENT_FAILURE || st == GRPC_CHANNEL_SHUTDOWN)
    settle(x, C_FAILED);
  else
    grpc_channel_watch_connectivity_state(ch, st, x->deadline, x->cq,
                                          &x->step_fn);
}

static void on_step(grpc_completion_queue_functor *f, int ok) {
  gconnect *x = (gconnect *)((char *)f - offsetof(gconnect, step_fn));
  pthread_mutex_lock(&x->mu);
  if (x->stopped) /* its channel is gone: the attempt only ends */
    settle(x, C_FAILED);
  else if (!ok) /* the deadline passed without a change */
    settle(x, C_TIMEOUT);
  else
    step(x);
  pthread_mutex_unlock(&x->mu);
}

/* Loop thread: the client is closing (attempt.h); done will not run. */
static void stop(void *ud) {
  gconnect *x = ud;
  pthread_mutex_lock(&x->mu);
  x->stopped = true;
  if (!x->settling) /* a watch is armed: it ends now, and on_step settles */
    weft__grpc_channel_close(x->ch);
  pthread_mutex_unlock(&x->mu);
  if (x->diag) { /* settled, failed, and being explained */
    weft__dial_cancel(x->diag);
    x->diag = NULL;
    weft__tls_ctx_free(x->diag_tls);
    x->diag_tls = NULL;
    x->reported = true;
    maybe_free(x);
  }
}

int weft__grpc_connect_async(weft_client *client, const weft_url *url,
                             const weft_client_opts *opts,
                             void (*done)(weft_client *client, int rv,
                                          void *conn, const weft_error *err),
                             weft_error *err) {
  static const weft_client_opts no_opts;
  if (!opts)
    opts = &no_opts;
  gconnect *x = calloc(1, sizeof *x);
  if (!x)
    return weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
  x->client = client;
  x->url = url;
  x->opts = opts;
  x->done = done;
  x->timeout_ms =
      opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : 10000;
  int rv = weft_client_loop_acquire(&x->loop, err);
  if (rv < 0) {
    free(x);
    return rv;
  }
  rv = weft__grpc_channel_open(client, url, opts, &x->ch, x->target,
                               sizeof x->target, &x->port, err);
  if (rv < 0) {
    weft_client_loop_release(x->loop);
    free(x);
    return rv;
  }
  x->step_fn.functor_run = on_step;
  x->down_fn.functor_run = on_cq_down;
  x->cq = grpc_completion_queue_create_for_callback(&x->down_fn, NULL);
  x->deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                             gpr_time_from_millis(x->timeout_ms, GPR_TIMESPAN));
  pthread_mutex_init(&x->mu, NULL);
  pthread_mutex_lock(&x->mu);
  step(x); /* done runs on the loop later, never in here */
  pthread_mutex_unlock(&x->mu);
  weft__client_attempt_set(client, stop, x);
  return 0;
}
