/* The client half of the gRPC transport: a gRPC core channel per weft
 * client, and a pluck completion queue per blocking call so the user
 * thread that blocks in send/recv/finish waits for exactly its own batch
 * (the way gRPC's C++ synchronous client works). A unary call costs one
 * batch. Asynchronous calls (call_start_async) of every client of the
 * process are bound to one next queue, drained by one thread that runs
 * their events as batches complete: an asynchronous call is memory, and a
 * client that makes them costs no thread of its own. */
#include <errno.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "grpc_internal.h"
#include "sock.h"
#include "weft/codec.h"

typedef struct gclient {
  weft_client *client;
  grpc_channel *channel;
  /* Connectivity changes arrive on a callback queue: no thread of ours
   * polls for them, so every poll of the channel's I/O happens in the
   * threads that wait for their calls (an extra poller would take the I/O
   * and then have to wake them, a context switch per batch). */
  grpc_completion_queue *watch_cq;
  grpc_completion_queue_functor watch_fn, shutdown_fn;
  grpc_connectivity_state last;
  /* watching: a watch is armed, so its callback is still to run (gRPC core
   * may run it after the queue's shutdown callback); cq_down: that ran. */
  bool watching, cq_down;
  int callbacks_running;
  pthread_cond_t watch_cv;
  atomic_bool closing;
  pthread_mutex_t watch_mu; /* channel use by the watcher vs. destroy */
  atomic_int refs;          /* the connection + one per call */
  size_t max_recv;
  pthread_mutex_t mu;
  struct gcall *calls; /* live calls, for disconnect */
  /* Asynchronous calls: the process's queues, held (under mu) from this
   * client's first one until it disconnects; n_async (under mu) counts the
   * calls not yet freed. */
  bool aq_held;
  unsigned n_async;
  pthread_cond_t async_cv;
} gclient;

/* A batch of an asynchronous call: the tag its completion comes with. */
enum { AOP_MAIN, AOP_SEND, AOP_RECV, AOP_STATUS, AOP_N };
typedef struct gatag {
  struct gcall *c;
  int which;
} gatag;

/* A message an asynchronous call queued while a send was in flight. */
typedef struct gasend {
  struct gasend *next;
  grpc_byte_buffer *bb;
  size_t len;
} gasend;

typedef struct gcall {
  gclient *cl;
  struct gcall *prev, *next;
  grpc_call *call;
  grpc_completion_queue *cq;
  const weft_method_desc *m;
  pthread_mutex_t mu;
  weft__grpc_md send_md;
  bool single_req; /* unary or server-streaming: request sent with close */
  bool sent_initial, close_sent, recv_initial_requested, status_requested;
  bool main_pending, main_has_status, status_done, recv_done;
  grpc_byte_buffer *req;      /* stashed single request */
  grpc_byte_buffer *pending;  /* streamed message whose write may be in
                                 flight; collected by the next send, the
                                 half-close or finish */
  grpc_byte_buffer *main_msg; /* response received by the unary batch */
  grpc_metadata_array initial_md, trailing_md;
  grpc_status_code status;
  grpc_slice status_details;
  const char *error_string;
  bool status_received;
  int local_error; /* a local failure that overrides the wire status */
  weft_error local_err;
  /* Asynchronous calls (client_async section below); under mu unless
   * said otherwise. */
  bool async;
  int aq; /* index of its asynchronous queue */
  const weft_call_events *ev;
  void *ud;
  weft_arena *arena;
  gatag tags[AOP_N];
  int inflight; /* batches started, not yet completed */
  bool ended;   /* on_end was decided: no more batches */
  bool send_busy, close_wanted;
  gasend *sq_head, *sq_tail; /* sends waiting for the one in flight */
  size_t sq_bytes;
  grpc_byte_buffer *sending; /* the message of the SEND in flight */
  pthread_cond_t send_cv;    /* the queue went under its bound */
  unsigned send_waiters;
  grpc_byte_buffer *recv_bb; /* the queue thread's only */
  bool headers_fired;        /* the queue thread's only */
} gcall;

static int async_flush_single(gcall *c);
static void aq_unpick(int qi);
static void aq_release(void);

static void client_unref(gclient *cl) {
  if (atomic_fetch_sub(&cl->refs, 1) != 1)
    return;
  pthread_mutex_destroy(&cl->mu);
  pthread_mutex_destroy(&cl->watch_mu);
  pthread_cond_destroy(&cl->watch_cv);
  pthread_cond_destroy(&cl->async_cv);
  free(cl);
  weft__grpc_release();
}

/* What a gRPC channel state means to the runtime. An IDLE channel is
 * healthy (gRPC core reconnects on the next call, e.g. after a GOAWAY or an
 * idle timeout), so only a failed connection is reported as lost. */
static weft_conn_state map_state(grpc_connectivity_state s) {
  switch (s) {
  case GRPC_CHANNEL_TRANSIENT_FAILURE:
    return WEFT_CONN_ERROR;
  case GRPC_CHANNEL_CONNECTING:
    return WEFT_CONN_CONNECTING;
  default:
    return WEFT_CONN_CONNECTED;
  }
}

/* Reports gRPC core's connectivity changes to the runtime (gRPC core
 * reconnects by itself; an idle channel reconnects on the next call).
 * Runs on a gRPC core thread. */
static void on_watch(grpc_completion_queue_functor *f, int ok) {
  (void)ok;
  gclient *cl = (gclient *)((char *)f - offsetof(gclient, watch_fn));
  pthread_mutex_lock(&cl->watch_mu);
  cl->watching = false;
  if (atomic_load(&cl->closing)) {
    pthread_cond_broadcast(&cl->watch_cv); /* disconnect waits for this */
    pthread_mutex_unlock(&cl->watch_mu);
    return;
  }
  cl->callbacks_running++;
  grpc_connectivity_state now =
      grpc_channel_check_connectivity_state(cl->channel, 0);
  grpc_connectivity_state last = cl->last;
  cl->last = now;
  if (now != GRPC_CHANNEL_SHUTDOWN) {
    grpc_channel_watch_connectivity_state(cl->channel, now,
                                          gpr_inf_future(GPR_CLOCK_MONOTONIC),
                                          cl->watch_cq, &cl->watch_fn);
    cl->watching = true;
  }
  pthread_mutex_unlock(&cl->watch_mu);
  if (map_state(now) != map_state(last)) {
    weft_error e = {0};
    if (now == GRPC_CHANNEL_TRANSIENT_FAILURE)
      weft_error_set(&e, WEFT_ERR_CONNECT, "gRPC channel lost its connection");
    weft_client_notify(cl->client, map_state(now),
                       now == GRPC_CHANNEL_TRANSIENT_FAILURE ? &e : NULL);
  }
  pthread_mutex_lock(&cl->watch_mu);
  cl->callbacks_running--;
  pthread_cond_broadcast(&cl->watch_cv);
  pthread_mutex_unlock(&cl->watch_mu);
}

static void on_watch_cq_down(grpc_completion_queue_functor *f, int ok) {
  (void)ok;
  gclient *cl = (gclient *)((char *)f - offsetof(gclient, shutdown_fn));
  pthread_mutex_lock(&cl->watch_mu);
  cl->cq_down = true;
  pthread_cond_broadcast(&cl->watch_cv);
  pthread_mutex_unlock(&cl->watch_mu);
}

/* gRPC core reports a failed connect as TRANSIENT_FAILURE and nothing
 * more, so after one weft dials the same host and port itself (TCP, then
 * TLS with the same roots, client certificate and name) to say why: the
 * resolver's error, the connect errno, or the certificate check that
 * failed. The dial's TLS context (NULL for grpc://; err set when it cannot
 * be made) and its time bound: */
weft__tls_ctx *weft__grpc_diag_tls(const weft_url *url,
                                   const weft_client_opts *o, weft_error *err) {
  static const char *const alpn[] = {"h2", NULL};
  weft__tls_ctx *ctx = NULL;
  if (strcmp(url->scheme, "grpcs") == 0 &&
      weft__tls_ctx_new(&ctx, false, &o->tls, alpn, err) < 0)
    return NULL;
  return ctx;
}

int64_t weft__grpc_diag_timeout_ms(const weft_client_opts *o) {
  return o->connect_timeout_ms > 0 && o->connect_timeout_ms < 2000
             ? o->connect_timeout_ms
             : 2000;
}

/* The error of a failed connect, from the dial's outcome (dial_rv < 0 with
 * dial_err saying why, or 0: it connected). Fills err, returns its code. */
int weft__grpc_diag_error(const weft_url *url, const char *target, int dial_rv,
                          const weft_error *dial_err, weft_error *err) {
  if (dial_rv < 0)
    return weft_error_set(err, dial_err->code, "%s", dial_err->message);
  return weft_error_set(err, WEFT_ERR_CONNECT,
                        "%s: connection failed (the port accepts a %s "
                        "connection, but not as a gRPC server)",
                        target,
                        strcmp(url->scheme, "grpcs") == 0 ? "TLS" : "TCP");
}

static int diagnose(const weft_url *url, int port, const weft_client_opts *o,
                    const char *target, weft_error *err) {
  weft_error e;
  weft_error_clear(&e);
  weft__tls_ctx *ctx = weft__grpc_diag_tls(url, o, &e);
  if (e.code)
    return weft_error_set(err, e.code, "%s", e.message);
  weft__conn *c = NULL;
  int rv = weft__conn_connect(&c, url->host, port, ctx, o->tls.server_name,
                              weft__grpc_diag_timeout_ms(o), &e);
  weft__conn_close(c);
  weft__tls_ctx_free(ctx);
  return weft__grpc_diag_error(url, target, rv, &e, err);
}

static grpc_channel_credentials *
client_creds(const weft_url *url, const weft_client_opts *o, weft_error *err) {
  if (strcmp(url->scheme, "grpcs") != 0)
    return grpc_insecure_credentials_create();
  if (o->tls.insecure) {
    weft_error_set(err, WEFT_ERR_UNSUPPORTED,
                   "grpcs://%s: gRPC core's SSL credentials cannot skip "
                   "certificate verification; give tls.ca_file instead",
                   url->host);
    return NULL;
  }
  char *roots = NULL, *cert = NULL, *key = NULL;
  if (o->tls.ca_file && !(roots = weft__grpc_read_file(o->tls.ca_file, err)))
    return NULL;
  grpc_ssl_pem_key_cert_pair pair = {0};
  if (o->tls.cert_file && o->tls.key_file) {
    cert = weft__grpc_read_file(o->tls.cert_file, err);
    key = cert ? weft__grpc_read_file(o->tls.key_file, err) : NULL;
    if (!key) {
      free(roots);
      free(cert);
      return NULL;
    }
    pair.cert_chain = cert;
    pair.private_key = key;
  }
  grpc_channel_credentials *c =
      grpc_ssl_credentials_create(roots, key ? &pair : NULL, NULL, NULL);
  free(roots);
  free(cert);
  free(key);
  if (!c)
    weft_error_set(err, WEFT_ERR_TLS, "grpcs://%s: bad TLS credentials",
                   url->host);
  return c;
}

int weft__grpc_channel_open(weft_client *client, const weft_url *url,
                            const weft_client_opts *o, weft__grpc_chan **out,
                            char *target, size_t cap, int *port,
                            weft_error *err) {
  static const weft_client_opts no_opts;
  if (!o)
    o = &no_opts;
  const weft_grpc_opts *g =
      weft_opts_find(o->transport_opts, WEFT_GRPC_OPTS_TAG);
  if (!g)
    g = &weft__grpc_default_opts;
  if (!url->host[0])
    return weft_error_set(err, WEFT_ERR_BAD_URL, "%s:// URL without a host",
                          url->scheme);
  weft__grpc_acquire();
  grpc_channel_credentials *creds = client_creds(url, o, err);
  if (!creds) {
    weft__grpc_release();
    return err ? err->code : WEFT_ERR_TLS;
  }
  *port = url->port >= 0                      ? url->port
          : strcmp(url->scheme, "grpcs") == 0 ? 443
                                              : 50051;
  weft__grpc_target(url, *port, target, cap);
  weft__grpc_args args;
  weft__grpc_args_build(&args, o->max_message_size, o->keepalive_ms,
                        o->idle_timeout_ms, g, o->tls.server_name, false);
  /* One weft_client, one connection, as on every other transport. gRPC
   * core otherwise shares one subchannel (one TCP connection) between all
   * channels to the same target, so a process's clients would together be
   * held to the server's MAX_CONCURRENT_STREAMS and queue behind it. */
  weft__grpc_args_add_int(&args, GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  gclient *cl = calloc(1, sizeof *cl);
  if (!cl) {
    grpc_channel_credentials_release(creds);
    weft__grpc_release();
    return weft_error_set(err, WEFT_ERR_NOMEM, "grpc client");
  }
  cl->client = client;
  cl->max_recv =
      o->max_message_size ? o->max_message_size : WEFT_GRPC_DEFAULT_MAX_MESSAGE;
  atomic_init(&cl->refs, 1);
  atomic_init(&cl->closing, false);
  pthread_mutex_init(&cl->mu, NULL);
  pthread_mutex_init(&cl->watch_mu, NULL);
  pthread_cond_init(&cl->watch_cv, NULL);
  pthread_cond_init(&cl->async_cv, NULL);
  cl->channel = grpc_channel_create(target, creds, &args.args);
  grpc_channel_credentials_release(creds);
  *out = (weft__grpc_chan *)cl;
  return 0;
}

grpc_channel *weft__grpc_channel_of(weft__grpc_chan *ch) {
  return ((gclient *)ch)->channel;
}

void weft__grpc_channel_close(weft__grpc_chan *ch) {
  gclient *cl = (gclient *)ch;
  if (cl->channel)
    grpc_channel_destroy(cl->channel);
  cl->channel = NULL;
}

void weft__grpc_channel_drop(weft__grpc_chan *ch) {
  weft__grpc_channel_close(ch);
  client_unref((gclient *)ch);
}

void *weft__grpc_channel_ready(weft__grpc_chan *ch) {
  gclient *cl = (gclient *)ch;
  cl->watch_fn.functor_run = on_watch;
  cl->shutdown_fn.functor_run = on_watch_cq_down;
  cl->watch_cq =
      grpc_completion_queue_create_for_callback(&cl->shutdown_fn, NULL);
  cl->last = GRPC_CHANNEL_READY;
  pthread_mutex_lock(&cl->watch_mu);
  grpc_channel_watch_connectivity_state(cl->channel, GRPC_CHANNEL_READY,
                                        gpr_inf_future(GPR_CLOCK_MONOTONIC),
                                        cl->watch_cq, &cl->watch_fn);
  cl->watching = true;
  pthread_mutex_unlock(&cl->watch_mu);
  return cl;
}

/* The first connection (weft_client_open): blocks until READY, the first
 * failure, or the connect timeout. Reconnects do not block a thread:
 * weft__grpc_connect_async (connect.c). */
static int grpc_connect(weft_client *client, const weft_url *url,
                        const weft_client_opts *o, void **conn,
                        weft_error *err) {
  static const weft_client_opts no_opts;
  if (!o)
    o = &no_opts;
  char target[300];
  int port;
  weft__grpc_chan *ch;
  int rc = weft__grpc_channel_open(client, url, o, &ch, target, sizeof target,
                                   &port, err);
  if (rc < 0)
    return rc;
  grpc_channel *channel = weft__grpc_channel_of(ch);
  grpc_completion_queue *connect_cq =
      grpc_completion_queue_create_for_next(NULL);
  int64_t to = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 10000;
  gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                       gpr_time_from_millis(to, GPR_TIMESPAN));
  for (;;) {
    grpc_connectivity_state st =
        grpc_channel_check_connectivity_state(channel, 1);
    if (st == GRPC_CHANNEL_READY)
      break;
    if (st == GRPC_CHANNEL_TRANSIENT_FAILURE || st == GRPC_CHANNEL_SHUTDOWN) {
      rc = diagnose(url, port, o, target, err);
      break;
    }
    grpc_channel_watch_connectivity_state(channel, st, deadline, connect_cq,
                                          NULL);
    grpc_event ev = grpc_completion_queue_next(
        connect_cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    if (ev.type == GRPC_OP_COMPLETE && !ev.success) {
      rc = weft_error_set(err, WEFT_ERR_TIMEOUT,
                          "%s: not connected within %lld ms", target,
                          (long long)to);
      break;
    }
  }
  weft__grpc_cq_destroy_next(connect_cq);
  if (rc < 0) {
    weft__grpc_channel_drop(ch);
    return rc;
  }
  *conn = weft__grpc_channel_ready(ch);
  return 0;
}

static void grpc_disconnect(void *conn) {
  gclient *cl = conn;
  pthread_mutex_lock(&cl->mu);
  for (gcall *c = cl->calls; c; c = c->next)
    grpc_call_cancel(c->call, NULL);
  /* The runtime ends (and frees) every asynchronous call before it
   * disconnects; the ones cancelled above end on the queue thread. */
  while (cl->n_async > 0)
    pthread_cond_wait(&cl->async_cv, &cl->mu);
  bool held = cl->aq_held;
  cl->aq_held = false;
  pthread_mutex_unlock(&cl->mu);
  if (held)
    aq_release();
  /* Destroying the channel completes the pending connectivity watch. */
  pthread_mutex_lock(&cl->watch_mu);
  atomic_store(&cl->closing, true);
  grpc_channel_destroy(cl->channel);
  cl->channel = NULL;
  pthread_mutex_unlock(&cl->watch_mu);
  /* The pending watch completes (channel gone), the queue goes down, and
   * the watch's callback, which gRPC core may run after the queue's
   * shutdown callback, has run before the client is freed. */
  grpc_completion_queue_shutdown(cl->watch_cq);
  pthread_mutex_lock(&cl->watch_mu);
  while (!cl->cq_down || cl->callbacks_running || cl->watching)
    pthread_cond_wait(&cl->watch_cv, &cl->watch_mu);
  pthread_mutex_unlock(&cl->watch_mu);
  grpc_completion_queue_destroy(cl->watch_cq);
  client_unref(cl);
}

/* acq NULL: a blocking call with its own pluck queue; else an
 * asynchronous one bound to the client's queue. */
static int new_call(gclient *cl, const weft_method_desc *m,
                    const weft_metadata *md, int64_t deadline_ns,
                    grpc_completion_queue *acq, gcall **out, weft_error *err) {
  if (atomic_load(&cl->closing))
    return weft_error_set(err, WEFT_ERR_CLOSED, "gRPC client is closing");
  gcall *c = calloc(1, sizeof *c);
  if (!c)
    return weft_error_set(err, WEFT_ERR_NOMEM, "%s", m->path);
  int rc = weft__grpc_md_append(&c->send_md, md);
  if (rc < 0) {
    free(c);
    return weft_error_set(err, rc, "%s: request metadata", m->path);
  }
  c->m = m;
  c->single_req =
      m->kind == WEFT_RPC_UNARY || m->kind == WEFT_RPC_SERVER_STREAM;
  c->async = acq != NULL;
  c->cq = acq ? NULL : grpc_completion_queue_create_for_pluck(NULL);
  grpc_slice method = grpc_slice_from_static_string(m->path);
  c->call = grpc_channel_create_call(cl->channel, NULL, GRPC_PROPAGATE_DEFAULTS,
                                     acq ? acq : c->cq, method, NULL,
                                     weft__grpc_deadline(deadline_ns), NULL);
  if (!c->call) {
    if (c->cq)
      weft__grpc_cq_destroy(c->cq);
    weft__grpc_md_free(&c->send_md);
    free(c);
    return weft_error_set(err, WEFT_ERR_INTERNAL, "%s: cannot create call",
                          m->path);
  }
  pthread_mutex_init(&c->mu, NULL);
  pthread_cond_init(&c->send_cv, NULL);
  for (int i = 0; i < AOP_N; i++) {
    c->tags[i].c = c;
    c->tags[i].which = i;
  }
  grpc_metadata_array_init(&c->initial_md);
  grpc_metadata_array_init(&c->trailing_md);
  c->status_details = grpc_empty_slice();
  c->cl = cl;
  atomic_fetch_add(&cl->refs, 1);
  pthread_mutex_lock(&cl->mu);
  c->next = cl->calls;
  if (cl->calls)
    cl->calls->prev = c;
  cl->calls = c;
  if (c->async)
    cl->n_async++;
  pthread_mutex_unlock(&cl->mu);
  *out = c;
  return 0;
}

static int call_start(void *conn, const weft_method_desc *m,
                      const weft_metadata *md, int64_t deadline_ns,
                      void **tcall, weft_error *err) {
  gcall *c = NULL;
  int rc = new_call(conn, m, md, deadline_ns, NULL, &c, err);
  if (rc == 0)
    *tcall = c;
  return rc;
}

/* Adds SEND_INITIAL_METADATA to ops if this is the first batch that sends.
 * Called with c->mu held, and the batch is started before it is released,
 * so initial metadata always goes first. */
static size_t add_initial(gcall *c, grpc_op *ops, size_t n) {
  if (c->sent_initial)
    return n;
  c->sent_initial = true;
  memset(&ops[n], 0, sizeof ops[n]);
  ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
  ops[n].data.send_initial_metadata.count = c->send_md.count;
  ops[n].data.send_initial_metadata.metadata = c->send_md.items;
  return n + 1;
}

static size_t add_op(grpc_op *ops, size_t n, grpc_op_type t) {
  memset(&ops[n], 0, sizeof ops[n]);
  ops[n].op = t;
  return n + 1;
}

static size_t add_recv_initial(gcall *c, grpc_op *ops, size_t n) {
  if (c->recv_initial_requested)
    return n;
  c->recv_initial_requested = true;
  n = add_op(ops, n, GRPC_OP_RECV_INITIAL_METADATA);
  ops[n - 1].data.recv_initial_metadata.recv_initial_metadata = &c->initial_md;
  return n;
}

static size_t add_recv_status(gcall *c, grpc_op *ops, size_t n) {
  c->status_requested = true;
  n = add_op(ops, n, GRPC_OP_RECV_STATUS_ON_CLIENT);
  ops[n - 1].data.recv_status_on_client.trailing_metadata = &c->trailing_md;
  ops[n - 1].data.recv_status_on_client.status = &c->status;
  ops[n - 1].data.recv_status_on_client.status_details = &c->status_details;
  ops[n - 1].data.recv_status_on_client.error_string = &c->error_string;
  return n;
}

static int start(gcall *c, grpc_op *ops, size_t n, int tag) {
  grpc_call_error e =
      grpc_call_start_batch(c->call, ops, n, WEFT__GRPC_TAG(tag), NULL);
  if (e != GRPC_CALL_OK) {
    c->local_error = WEFT_ERR_INTERNAL;
    weft_error_set(&c->local_err, WEFT_ERR_INTERNAL,
                   "%s: grpc_call_start_batch: %s", c->m->path,
                   grpc_call_error_to_string(e));
    return WEFT_ERR_INTERNAL;
  }
  return 0;
}

/* The sending half of a single-request call's batch (under c->mu):
 * initial metadata, the request if any, the half-close. */
static size_t add_single_send(gcall *c, grpc_op *ops, size_t n) {
  n = add_initial(c, ops, n);
  if (c->req) {
    n = add_op(ops, n, GRPC_OP_SEND_MESSAGE);
    ops[n - 1].data.send_message.send_message = c->req;
  }
  n = add_op(ops, n, GRPC_OP_SEND_CLOSE_FROM_CLIENT);
  c->close_sent = true;
  return n;
}

/* Single-request calls: initial metadata, the request and the half-close go
 * in one batch; a unary call also asks for the response and status in it. */
static int flush_single(gcall *c) {
  grpc_op ops[8];
  size_t n = 0;
  pthread_mutex_lock(&c->mu);
  if (c->close_sent) {
    pthread_mutex_unlock(&c->mu);
    return 0;
  }
  n = add_single_send(c, ops, n);
  n = add_recv_initial(c, ops, n);
  if (c->m->kind == WEFT_RPC_UNARY) {
    n = add_op(ops, n, GRPC_OP_RECV_MESSAGE);
    ops[n - 1].data.recv_message.recv_message = &c->main_msg;
    n = add_recv_status(c, ops, n);
    c->main_has_status = true;
  }
  int rc = start(c, ops, n, WEFT__GRPC_TAG_MAIN);
  if (rc == 0)
    c->main_pending = true;
  pthread_mutex_unlock(&c->mu);
  return rc;
}

/* Waits for the single-request batch if it is still in flight. */
static void wait_main(gcall *c) {
  if (!c->main_pending)
    return;
  weft__grpc_pluck(c->cq, WEFT__GRPC_TAG_MAIN);
  c->main_pending = false;
  if (c->main_has_status)
    c->status_done = c->status_received = true;
  if (c->req) {
    grpc_byte_buffer_destroy(c->req);
    c->req = NULL;
  }
}

/* Collects the completion of the previous streamed message, if any. */
/* An asynchronous call's finish runs on a pool thread while the caller may
 * still send: whoever takes the pending message under the lock collects it. */
static int wait_pending(gcall *c) {
  pthread_mutex_lock(&c->mu);
  grpc_byte_buffer *p = c->pending;
  c->pending = NULL;
  pthread_mutex_unlock(&c->mu);
  if (!p)
    return 0;
  int ok = weft__grpc_pluck(c->cq, WEFT__GRPC_TAG_SEND);
  grpc_byte_buffer_destroy(p);
  return ok ? 0 : WEFT_ERR_CLOSED; /* the call is over: finish tells why */
}

static int async_send(gcall *c, grpc_byte_buffer *bb);
static int async_close_send(gcall *c);

static int call_send(void *tcall, const void *msg) {
  gcall *c = tcall;
  grpc_byte_buffer *bb = weft__grpc_encode(msg);
  if (!bb)
    return WEFT_ERR_NOMEM;
  if (c->async && !c->single_req)
    return async_send(c, bb);
  if (c->single_req) {
    if (c->req || c->close_sent) {
      grpc_byte_buffer_destroy(bb);
      return WEFT_ERR_STATE; /* one request only */
    }
    c->req = bb;
    return 0;
  }
  int rc = wait_pending(c);
  if (rc < 0) {
    grpc_byte_buffer_destroy(bb);
    return rc;
  }
  grpc_op ops[2];
  size_t n = 0;
  pthread_mutex_lock(&c->mu);
  if (c->close_sent) {
    pthread_mutex_unlock(&c->mu);
    grpc_byte_buffer_destroy(bb);
    return WEFT_ERR_STATE;
  }
  n = add_initial(c, ops, n);
  n = add_op(ops, n, GRPC_OP_SEND_MESSAGE);
  ops[n - 1].data.send_message.send_message = bb;
  rc = start(c, ops, n, WEFT__GRPC_TAG_SEND);
  if (rc >= 0)
    c->pending = bb;
  pthread_mutex_unlock(&c->mu);
  if (rc < 0)
    grpc_byte_buffer_destroy(bb);
  return rc;
}

static int call_close_send(void *tcall) {
  gcall *c = tcall;
  if (c->async)
    return c->single_req ? async_flush_single(c) : async_close_send(c);
  if (c->single_req)
    return flush_single(c);
  wait_pending(c);
  grpc_op ops[2];
  size_t n = 0;
  pthread_mutex_lock(&c->mu);
  if (c->close_sent) {
    pthread_mutex_unlock(&c->mu);
    return 0;
  }
  n = add_initial(c, ops, n);
  n = add_op(ops, n, GRPC_OP_SEND_CLOSE_FROM_CLIENT);
  c->close_sent = true;
  int rc = start(c, ops, n, WEFT__GRPC_TAG_SEND);
  pthread_mutex_unlock(&c->mu);
  if (rc == 0)
    weft__grpc_pluck(c->cq, WEFT__GRPC_TAG_SEND);
  return rc;
}

static int decode_response(gcall *c, grpc_byte_buffer *bb, weft_arena *arena,
                           void **msg) {
  weft_error e = {0};
  int rc = weft__grpc_decode(bb, c->m->output, arena, c->cl->max_recv, msg, &e);
  grpc_byte_buffer_destroy(bb);
  if (rc < 0) {
    /* Abort the call: the status names the decode failure. */
    char buf[WEFT_ERROR_MSG_MAX + 64];
    snprintf(buf, sizeof buf, "failed to decode the response: %s", e.message);
    grpc_call_cancel_with_status(c->call, GRPC_STATUS_INTERNAL, buf, NULL);
    c->local_error = rc;
    c->local_err = e;
    return rc;
  }
  return 1;
}

static int call_recv(void *tcall, weft_arena *arena, void **msg) {
  gcall *c = tcall;
  *msg = NULL;
  if (c->recv_done)
    return 0;
  if (c->single_req && !c->close_sent) {
    int rc = flush_single(c);
    if (rc < 0)
      return rc;
  }
  if (c->m->kind == WEFT_RPC_UNARY) {
    wait_main(c);
    c->recv_done = true;
    grpc_byte_buffer *bb = c->main_msg;
    c->main_msg = NULL;
    return bb ? decode_response(c, bb, arena, msg) : 0;
  }
  grpc_op ops[3];
  size_t n = 0;
  grpc_byte_buffer *bb = NULL;
  pthread_mutex_lock(&c->mu);
  n = add_initial(c, ops, n);
  n = add_recv_initial(c, ops, n);
  n = add_op(ops, n, GRPC_OP_RECV_MESSAGE);
  ops[n - 1].data.recv_message.recv_message = &bb;
  int rc = start(c, ops, n, WEFT__GRPC_TAG_RECV);
  pthread_mutex_unlock(&c->mu);
  if (rc < 0)
    return rc;
  if (!weft__grpc_pluck(c->cq, WEFT__GRPC_TAG_RECV)) {
    c->recv_done = true;
    if (bb)
      grpc_byte_buffer_destroy(bb);
    return WEFT_ERR_CANCELLED;
  }
  if (!bb) {
    c->recv_done = true; /* the server finished: finish() has the status */
    return 0;
  }
  return decode_response(c, bb, arena, msg);
}

static void free_call(gcall *c) {
  gclient *cl = c->cl;
  pthread_mutex_lock(&cl->mu);
  if (c->prev)
    c->prev->next = c->next;
  else
    cl->calls = c->next;
  if (c->next)
    c->next->prev = c->prev;
  pthread_mutex_unlock(&cl->mu);
  bool async = c->async;
  grpc_call_unref(c->call);
  if (c->cq)
    weft__grpc_cq_destroy(c->cq);
  for (gasend *q = c->sq_head, *n; q; q = n) {
    n = q->next;
    grpc_byte_buffer_destroy(q->bb);
    free(q);
  }
  if (c->sending)
    grpc_byte_buffer_destroy(c->sending);
  if (c->recv_bb)
    grpc_byte_buffer_destroy(c->recv_bb);
  if (c->req)
    grpc_byte_buffer_destroy(c->req);
  if (c->main_msg)
    grpc_byte_buffer_destroy(c->main_msg);
  grpc_metadata_array_destroy(&c->initial_md);
  grpc_metadata_array_destroy(&c->trailing_md);
  grpc_slice_unref(c->status_details);
  if (c->error_string)
    gpr_free((void *)c->error_string);
  weft__grpc_md_free(&c->send_md);
  pthread_mutex_destroy(&c->mu);
  pthread_cond_destroy(&c->send_cv);
  int qi = c->aq;
  free(c);
  if (async) {
    aq_unpick(qi);
    pthread_mutex_lock(&cl->mu);
    if (--cl->n_async == 0)
      pthread_cond_broadcast(&cl->async_cv);
    pthread_mutex_unlock(&cl->mu);
  }
  client_unref(cl);
}

static int call_finish(void *tcall, weft_status *st, weft_metadata *md) {
  gcall *c = tcall;
  if (c->async) /* after on_end: every batch has completed */
    goto report;
  wait_pending(c);
  pthread_mutex_lock(&c->mu);
  bool close_sent = c->close_sent;
  pthread_mutex_unlock(&c->mu);
  if (c->single_req && !close_sent)
    flush_single(c);
  else if (!close_sent)
    call_close_send(c);
  wait_main(c);
  if (!c->status_done) {
    /* gRPC core hands out the status only after every message was read. */
    while (!c->recv_done) {
      void *m = NULL;
      int rc = call_recv(c, NULL, &m);
      if (rc != 1)
        break;
      weft_message_free(m);
    }
    grpc_op ops[3];
    size_t n = 0;
    pthread_mutex_lock(&c->mu);
    n = add_initial(c, ops, n);
    n = add_recv_initial(c, ops, n);
    n = add_recv_status(c, ops, n);
    int rc = start(c, ops, n, WEFT__GRPC_TAG_STATUS);
    pthread_mutex_unlock(&c->mu);
    if (rc == 0) {
      weft__grpc_pluck(c->cq, WEFT__GRPC_TAG_STATUS);
      c->status_received = true;
    }
    c->status_done = true;
  }
report:
  weft_status_clear(st);
  int rc = 0;
  if (!c->status_received) {
    weft_status_set(st, WEFT_STATUS_INTERNAL, "%s", c->local_err.message);
    rc = c->local_error;
  } else {
    size_t dl = GRPC_SLICE_LENGTH(c->status_details);
    st->code = (int)c->status;
    if (dl) {
      st->message = malloc(dl + 1);
      if (st->message) {
        memcpy(st->message, GRPC_SLICE_START_PTR(c->status_details), dl);
        st->message[dl] = '\0';
      }
    }
    for (size_t i = 0; i < c->trailing_md.count; i++) {
      const grpc_metadata *e = &c->trailing_md.metadata[i];
      if (grpc_slice_str_cmp(e->key, WEFT_GRPC_DETAILS_KEY) == 0 &&
          !st->details) {
        size_t len = GRPC_SLICE_LENGTH(e->value);
        st->details = malloc(len ? len : 1);
        if (st->details) {
          memcpy(st->details, GRPC_SLICE_START_PTR(e->value), len);
          st->details_len = len;
        }
      }
    }
    if (c->local_error)
      rc = c->local_error;
    else if (st->code != WEFT_STATUS_OK)
      rc = WEFT_ERR_RPC;
  }
  if (md) {
    weft__grpc_md_to_weft(md, &c->initial_md, NULL);
    weft__grpc_md_to_weft(md, &c->trailing_md, WEFT_GRPC_DETAILS_KEY);
  }
  free_call(c);
  return rc;
}

/* ---- asynchronous calls ----
 *
 * Bound to one of the process's next queues (aq_pick); the one thread
 * that drains it (async_main) runs every event of every asynchronous call
 * bound to it, of every client, so a call's events never overlap. Batches:
 * STATUS (RECV_STATUS_ON_CLIENT) from the start, so every call ends with a
 * status even if cancelled before it sent anything; a RECV loop (initial
 * metadata with the first message); MAIN for a single request (metadata,
 * message, half-close; a unary call also receives its response in it); SEND for
 * streamed messages, one in flight, the rest queued. on_end comes when the
 * status is in and no batch is in flight: the runtime then calls call_finish,
 * which frees. */

/* A sender waits while this much is queued, except on the queue thread
 * (it must never wait for itself). */
#define WEFT_GRPC_ASYNC_SEND_BOUND (1u << 20)

static _Thread_local bool on_async_thread;

/* With c->mu held. */
static int astart(gcall *c, int which, const grpc_op *ops, size_t n) {
  if (c->ended)
    return WEFT_ERR_CLOSED;
  c->inflight++;
  WEFT__TSAN_RELEASE(&c->tags[which]);
  grpc_call_error e =
      grpc_call_start_batch(c->call, ops, n, &c->tags[which], NULL);
  if (e != GRPC_CALL_OK) {
    c->inflight--;
    c->local_error = WEFT_ERR_INTERNAL;
    weft_error_set(&c->local_err, WEFT_ERR_INTERNAL,
                   "%s: grpc_call_start_batch: %s", c->m->path,
                   grpc_call_error_to_string(e));
    return WEFT_ERR_INTERNAL;
  }
  return 0;
}

/* With c->mu held: the next RECV_MESSAGE (with RECV_INITIAL_METADATA the
 * first time). */
static int arecv(gcall *c) {
  grpc_op ops[2];
  size_t n = add_recv_initial(c, ops, 0);
  n = add_op(ops, n, GRPC_OP_RECV_MESSAGE);
  ops[n - 1].data.recv_message.recv_message = &c->recv_bb;
  return astart(c, AOP_RECV, ops, n);
}

/* With c->mu held: starts the next queued message, or the half-close the
 * caller asked for once the queue is empty. */
static void asend_next(gcall *c) {
  grpc_op ops[2];
  size_t n = 0;
  if (c->sq_head) {
    gasend *q = c->sq_head;
    c->sq_head = q->next;
    if (!c->sq_head)
      c->sq_tail = NULL;
    c->sq_bytes -= q->len;
    c->sending = q->bb;
    free(q);
    n = add_initial(c, ops, n);
    n = add_op(ops, n, GRPC_OP_SEND_MESSAGE);
    ops[n - 1].data.send_message.send_message = c->sending;
  } else if (c->close_wanted) {
    c->close_wanted = false;
    n = add_initial(c, ops, n);
    n = add_op(ops, n, GRPC_OP_SEND_CLOSE_FROM_CLIENT);
  } else {
    return;
  }
  c->send_busy = astart(c, AOP_SEND, ops, n) == 0;
  pthread_cond_broadcast(&c->send_cv);
}

static void fire_headers(gcall *c) {
  if (c->headers_fired)
    return;
  c->headers_fired = true;
  if (!c->ev->on_headers)
    return;
  weft_metadata h = WEFT_METADATA_INIT;
  weft__grpc_md_to_weft(&h, &c->initial_md, NULL);
  c->ev->on_headers(c->ud, &h);
  weft_metadata_clear(&h);
}

/* The response message bb (consumed): decoded and handed to on_message.
 * Returns false if it failed to decode (the call is cancelled with a
 * status that says why). */
static bool deliver(gcall *c, grpc_byte_buffer *bb) {
  void *msg = NULL;
  if (decode_response(c, bb, c->arena, &msg) < 0)
    return false;
  if (c->ev->on_message)
    c->ev->on_message(c->ud, msg);
  else if (!c->arena)
    weft_message_free(msg);
  return true;
}

/* A batch of an asynchronous call completed (queue thread). */
static void aop_done(gatag *t, bool ok) {
  gcall *c = t->c;
  grpc_byte_buffer *bb = NULL;
  bool more = false;
  switch (t->which) {
  case AOP_MAIN:
    pthread_mutex_lock(&c->mu);
    if (c->req) {
      grpc_byte_buffer_destroy(c->req);
      c->req = NULL;
    }
    bb = c->main_msg; /* unary: the response */
    c->main_msg = NULL;
    pthread_mutex_unlock(&c->mu);
    if (c->m->kind == WEFT_RPC_UNARY) {
      fire_headers(c);
      if (bb)
        deliver(c, bb);
    }
    break;
  case AOP_SEND:
    pthread_mutex_lock(&c->mu);
    if (c->sending) {
      grpc_byte_buffer_destroy(c->sending);
      c->sending = NULL;
    }
    c->send_busy = false;
    if (!ok) { /* the call is over: the status says why */
      for (gasend *q = c->sq_head, *n; q; q = n) {
        n = q->next;
        grpc_byte_buffer_destroy(q->bb);
        free(q);
      }
      c->sq_head = c->sq_tail = NULL;
      c->sq_bytes = 0;
      c->close_wanted = false;
      pthread_cond_broadcast(&c->send_cv);
    } else {
      asend_next(c);
    }
    pthread_mutex_unlock(&c->mu);
    break;
  case AOP_RECV:
    bb = c->recv_bb;
    c->recv_bb = NULL;
    fire_headers(c);
    more = ok && bb && deliver(c, bb);
    if (!ok && bb)
      grpc_byte_buffer_destroy(bb);
    if (more) {
      pthread_mutex_lock(&c->mu);
      arecv(c);
      pthread_mutex_unlock(&c->mu);
    }
    break;
  case AOP_STATUS:
    pthread_mutex_lock(&c->mu);
    c->status_done = c->status_received = true;
    pthread_mutex_unlock(&c->mu);
    break;
  }
  pthread_mutex_lock(&c->mu);
  c->inflight--;
  bool end = !c->ended && c->inflight == 0 && c->status_done;
  if (end) {
    c->ended = true;
    /* A sender waiting for room leaves before the call is freed. */
    pthread_cond_broadcast(&c->send_cv);
    while (c->send_waiters > 0)
      pthread_cond_wait(&c->send_cv, &c->mu);
  }
  pthread_mutex_unlock(&c->mu);
  if (end) {
    fire_headers(c);
    c->ev->on_end(c->ud); /* the runtime calls call_finish: c is gone */
  }
}

static void async_main(void *arg) {
  grpc_completion_queue *cq = arg;
  on_async_thread = true;
  for (;;) {
    grpc_event ev = grpc_completion_queue_next(
        cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    if (ev.type == GRPC_QUEUE_SHUTDOWN)
      break;
    if (ev.type != GRPC_OP_COMPLETE)
      continue;
    WEFT__TSAN_ACQUIRE(ev.tag);
    aop_done(ev.tag, ev.success);
  }
}

/* The process's queues of asynchronous calls, a thread each, shared by
 * every client as the client loop is (client_loop.c): the first made by the
 * first asynchronous call, held by each client that made one until it
 * disconnects, and all stopped by the last such disconnect, unless that
 * runs on a queue's own thread (a thread cannot join itself): they then
 * stay, idle, and the next client takes them up again. They hold a gRPC
 * core reference of their own, so core outlives them.
 *
 * Why more than one: Debian's libgrpc is built without NDEBUG, so each
 * completion searches its queue's list of outstanding batches, and every
 * open call has two (its status and its next receive). With 10,000 calls
 * on one queue that search was 15 % of a fan-out client's CPU. A queue is
 * added for every WEFT_GRPC_ASYNC_PER_QUEUE live calls, up to
 * WEFT_GRPC_ASYNC_QUEUES, and a call goes to the least loaded: the search
 * shrinks with the queue and the threads share the cores, while a process
 * with a few calls keeps one thread. A call stays on its queue, so its
 * events still never overlap. */
#define WEFT_GRPC_ASYNC_QUEUES 4
#define WEFT_GRPC_ASYNC_PER_QUEUE 1024

typedef struct aqueue {
  grpc_completion_queue *cq;
  weft__thread *thread;
  unsigned live; /* calls bound to it not yet freed */
} aqueue;

static pthread_mutex_t g_aq_mu = PTHREAD_MUTEX_INITIALIZER;
static aqueue g_aq[WEFT_GRPC_ASYNC_QUEUES];
static int g_naq;       /* queues running */
static unsigned g_live; /* their calls, in all */
static unsigned g_aq_refs;

/* With g_aq_mu held. */
static int aq_add(void) {
  aqueue *q = &g_aq[g_naq];
  weft__grpc_acquire();
  q->cq = grpc_completion_queue_create_for_next(NULL);
  /* A runtime thread, named so it shows in top -H and tests find it. */
  if (!q->cq || weft__thread_start(&q->thread, "weft-grpc-async", async_main,
                                   q->cq) < 0) {
    if (q->cq)
      grpc_completion_queue_destroy(q->cq);
    q->cq = NULL;
    weft__grpc_release();
    return WEFT_ERR_NOMEM;
  }
  q->live = 0;
  g_naq++;
  return 0;
}

static int aq_acquire(void) {
  pthread_mutex_lock(&g_aq_mu);
  int rc = g_naq == 0 ? aq_add() : 0;
  if (rc == 0)
    g_aq_refs++;
  pthread_mutex_unlock(&g_aq_mu);
  return rc;
}

/* The queue for a new call (the caller holds a reference, so there is
 * one): its index, to give back with aq_unpick when the call is freed. */
static int aq_pick(grpc_completion_queue **cq) {
  pthread_mutex_lock(&g_aq_mu);
  if (g_naq < WEFT_GRPC_ASYNC_QUEUES &&
      g_live >= (unsigned)g_naq * WEFT_GRPC_ASYNC_PER_QUEUE)
    (void)aq_add(); /* without it the calls share the queues there are */
  int best = 0;
  for (int i = 1; i < g_naq; i++)
    if (g_aq[i].live < g_aq[best].live)
      best = i;
  g_aq[best].live++;
  g_live++;
  *cq = g_aq[best].cq;
  pthread_mutex_unlock(&g_aq_mu);
  return best;
}

static void aq_unpick(int qi) {
  pthread_mutex_lock(&g_aq_mu);
  g_aq[qi].live--;
  g_live--;
  pthread_mutex_unlock(&g_aq_mu);
}

/* A client that held the queues disconnected (every call of it freed). */
static void aq_release(void) {
  aqueue stop[WEFT_GRPC_ASYNC_QUEUES];
  int n = 0;
  pthread_mutex_lock(&g_aq_mu);
  if (g_aq_refs > 0 && --g_aq_refs == 0 && !on_async_thread) {
    /* No client holds them, so no call is bound to them any more. */
    n = g_naq;
    memcpy(stop, g_aq, sizeof stop);
    memset(g_aq, 0, sizeof g_aq);
    g_naq = 0;
  }
  pthread_mutex_unlock(&g_aq_mu);
  for (int i = 0; i < n; i++)
    grpc_completion_queue_shutdown(stop[i].cq);
  for (int i = 0; i < n; i++) {
    weft__thread_join(stop[i].thread);
    grpc_completion_queue_destroy(stop[i].cq);
    weft__grpc_release();
  }
}

/* Unary and server-streaming: the request and the half-close in one
 * batch; a server stream then reads in its RECV loop. */
static int async_flush_single(gcall *c) {
  grpc_op ops[6];
  size_t n = 0;
  pthread_mutex_lock(&c->mu);
  if (c->close_sent) {
    pthread_mutex_unlock(&c->mu);
    return 0;
  }
  n = add_single_send(c, ops, n);
  bool unary = c->m->kind == WEFT_RPC_UNARY;
  if (unary) {
    n = add_recv_initial(c, ops, n);
    n = add_op(ops, n, GRPC_OP_RECV_MESSAGE);
    ops[n - 1].data.recv_message.recv_message = &c->main_msg;
  }
  int rc = astart(c, AOP_MAIN, ops, n);
  if (rc == 0 && !unary)
    rc = arecv(c);
  pthread_mutex_unlock(&c->mu);
  return rc;
}

static int async_send(gcall *c, grpc_byte_buffer *bb) {
  gasend *q = malloc(sizeof *q);
  if (!q) {
    grpc_byte_buffer_destroy(bb);
    return WEFT_ERR_NOMEM;
  }
  q->next = NULL;
  q->bb = bb;
  q->len = grpc_byte_buffer_length(bb);
  pthread_mutex_lock(&c->mu);
  /* Backpressure for a sender that outruns the connection (never on the
   * queue thread, which is the one that drains the queue). */
  c->send_waiters++;
  while (!on_async_thread && !c->ended && !c->close_sent &&
         c->sq_bytes > WEFT_GRPC_ASYNC_SEND_BOUND)
    pthread_cond_wait(&c->send_cv, &c->mu);
  if (--c->send_waiters == 0 && c->ended)
    pthread_cond_broadcast(&c->send_cv);
  int rc = c->ended ? WEFT_ERR_CLOSED : c->close_sent ? WEFT_ERR_STATE : 0;
  if (rc < 0) {
    pthread_mutex_unlock(&c->mu);
    grpc_byte_buffer_destroy(bb);
    free(q);
    return rc;
  }
  if (c->sq_tail)
    c->sq_tail->next = q;
  else
    c->sq_head = q;
  c->sq_tail = q;
  c->sq_bytes += q->len;
  if (!c->send_busy)
    asend_next(c);
  pthread_mutex_unlock(&c->mu);
  return 0;
}

static int async_close_send(gcall *c) {
  pthread_mutex_lock(&c->mu);
  if (!c->close_sent && !c->ended) {
    c->close_sent = c->close_wanted = true;
    if (!c->send_busy)
      asend_next(c);
  }
  pthread_mutex_unlock(&c->mu);
  return 0;
}

static int call_start_async(void *conn, const weft_method_desc *m,
                            const weft_metadata *md, int64_t deadline_ns,
                            weft_arena *arena, const weft_call_events *ev,
                            void *ud, void **tcall, weft_error *err) {
  gclient *cl = conn;
  pthread_mutex_lock(&cl->mu);
  int rc = cl->aq_held ? 0 : aq_acquire();
  if (rc == 0)
    cl->aq_held = true;
  pthread_mutex_unlock(&cl->mu);
  if (rc < 0)
    return weft_error_set(err, rc, "%s: no thread for asynchronous calls",
                          m->path);
  grpc_completion_queue *acq = NULL;
  int qi = aq_pick(&acq);
  gcall *c = NULL;
  rc = new_call(cl, m, md, deadline_ns, acq, &c, err);
  if (rc < 0) {
    aq_unpick(qi);
    return rc;
  }
  c->aq = qi;
  c->ev = ev;
  c->ud = ud;
  c->arena = arena;
  grpc_op ops[3];
  size_t n = 0;
  pthread_mutex_lock(&c->mu);
  if (!c->single_req) { /* streamed requests: metadata now, then read */
    n = add_initial(c, ops, n);
    n = add_recv_initial(c, ops, n);
    n = add_op(ops, n, GRPC_OP_RECV_MESSAGE);
    ops[n - 1].data.recv_message.recv_message = &c->recv_bb;
    rc = astart(c, AOP_RECV, ops, n);
    n = 0;
  }
  if (rc == 0) {
    n = add_recv_status(c, ops, n);
    rc = astart(c, AOP_STATUS, ops, n);
  }
  pthread_mutex_unlock(&c->mu);
  if (rc < 0) {
    /* No status batch: a RECV already in flight ends the call (finish
     * reports local_err); with nothing in flight, it fails here. */
    grpc_call_cancel(c->call, NULL);
    pthread_mutex_lock(&c->mu);
    c->status_done = true;
    bool idle = c->inflight == 0;
    pthread_mutex_unlock(&c->mu);
    if (idle) {
      weft_error_set(err, rc, "%s", c->local_err.message);
      free_call(c);
      return rc;
    }
  }
  *tcall = c;
  return 0;
}

static void call_cancel(void *tcall) {
  gcall *c = tcall;
  grpc_call_cancel(c->call, NULL);
}

const weft_client_transport weft__grpc_client_transport = {
    .scheme = "grpc",
    .default_port = 50051,
    .connect = grpc_connect,
    .connect_async = weft__grpc_connect_async,
    .disconnect = grpc_disconnect,
    .call_start = call_start,
    .call_send = call_send,
    .call_close_send = call_close_send,
    .call_recv = call_recv,
    .call_finish = call_finish,
    .call_cancel = call_cancel,
    .call_start_async = call_start_async,
};

const weft_client_transport weft__grpcs_client_transport = {
    .scheme = "grpcs",
    .default_port = 443,
    .connect = grpc_connect,
    .connect_async = weft__grpc_connect_async,
    .disconnect = grpc_disconnect,
    .call_start = call_start,
    .call_send = call_send,
    .call_close_send = call_close_send,
    .call_recv = call_recv,
    .call_finish = call_finish,
    .call_cancel = call_cancel,
    .call_start_async = call_start_async,
};
