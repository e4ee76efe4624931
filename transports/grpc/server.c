/* The server half of the gRPC transport: a gRPC core server per listen URL.
 * A small, bounded set of threads drains the server's completion queues and
 * only accepts calls: each call is handed to the runtime's worker pool
 * (weft_server_dispatch) together with its own pluck completion queue, so
 * the worker that runs the handler waits for its call's batches itself, as
 * gRPC's C++ synchronous server does. A blocking handler never stalls the
 * queues. */
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

typedef struct glistener {
  weft_server *ws;
  grpc_server *server;
  unsigned n_cqs;
  grpc_completion_queue **cqs;
  pthread_t *threads;
  unsigned n_threads;
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
   * C++ sync server style: at least min_pollers threads stay in the queue,
   * more are started while handlers run (up to max_threads), extra idle
   * ones exit, and at max_threads a call that would leave nobody polling
   * goes to the worker pool (weft_server_dispatch). */
  bool inline_mode;
  bool gzip; /* weft_grpc_opts.gzip: the channel compresses by default */
  unsigned min_pollers, max_pollers, max_threads;
  unsigned n_live, n_polling; /* under mu */
} glistener;

/* One call requested from gRPC core ahead of its arrival. */
typedef struct gslot {
  grpc_call *call;
  grpc_call_details details;
  grpc_metadata_array md;
  grpc_completion_queue *call_cq;
  unsigned cq_idx;
  int reg; /* index into listener->reg, or -1 */
  gpr_timespec deadline;
  grpc_byte_buffer *payload;
} gslot;

typedef struct gscall {
  glistener *l;
  grpc_call *call;
  grpc_completion_queue *cq;
  const weft_method_desc *m;
  char *peer;
  pthread_mutex_t mu;       /* flags below, batch starts */
  pthread_mutex_t close_mu; /* plucking the RECV_CLOSE batch */
  bool single_resp; /* unary/client-streaming: response sent at finish */
  bool sent_initial, recv_done, close_started, close_known;
  /* weft_server_call_set_compression: the mode for the next messages, and
   * whether the call compresses at all (fixed by its initial metadata). */
  weft_compression compression;
  bool compresses;
  int64_t arrived_ns;
  int cancelled;
  grpc_byte_buffer *resp;  /* stashed single response */
  grpc_byte_buffer *first; /* request read by gRPC core with the call */
  /* A streamed message whose write may still be in flight: its completion
   * is collected by the next send or by finish, so encoding the next
   * message overlaps the write of this one. */
  grpc_byte_buffer *pending;
  weft__grpc_md pending_md;
  bool has_first;
  weft_metadata resp_headers;
  weft_error recv_err; /* why the last recv failed to decode */
} gscall;

static void listener_unref(glistener *l) {
  if (atomic_fetch_sub(&l->refs, 1) != 1)
    return;
  pthread_mutex_destroy(&l->mu);
  pthread_cond_destroy(&l->cv);
  free(l->cqs);
  free(l->threads);
  free(l->reg);
  free(l);
  weft__grpc_release();
}

static void slot_free(gslot *s) {
  if (s->payload)
    grpc_byte_buffer_destroy(s->payload);
  grpc_call_details_destroy(&s->details);
  grpc_metadata_array_destroy(&s->md);
  if (s->call_cq)
    weft__grpc_cq_destroy(s->call_cq);
  free(s);
}

static void request_one(glistener *l, unsigned idx, int reg) {
  gslot *s = calloc(1, sizeof *s);
  if (!s)
    return;
  s->cq_idx = idx;
  s->reg = reg;
  grpc_call_details_init(&s->details);
  grpc_metadata_array_init(&s->md);
  grpc_completion_queue *call_cq = grpc_completion_queue_create_for_pluck(NULL);
  s->call_cq = call_cq;
  /* s is the queue thread's that gets the call from here on. */
  WEFT__TSAN_RELEASE(s);
  grpc_call_error e;
  if (reg >= 0)
    e = grpc_server_request_registered_call(
        l->server, l->reg[reg].handle, &s->call, &s->deadline, &s->md,
        &s->payload, call_cq, l->cqs[idx], s);
  else
    e = grpc_server_request_call(l->server, &s->call, &s->details, &s->md,
                                 call_cq, l->cqs[idx], s);
  if (e != GRPC_CALL_OK)
    slot_free(s);
}

/* ---- the call operations the runtime drives from its workers ---- */

static int op_recv(void *tc, weft_arena *arena, void **msg) {
  gscall *c = tc;
  *msg = NULL;
  if (c->recv_done)
    return 0;
  grpc_byte_buffer *bb = NULL;
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
  grpc_op op;
  memset(&op, 0, sizeof op);
  op.op = GRPC_OP_RECV_MESSAGE;
  op.data.recv_message.recv_message = &bb;
  pthread_mutex_lock(&c->mu);
  grpc_call_error e = grpc_call_start_batch(
      c->call, &op, 1, WEFT__GRPC_TAG(WEFT__GRPC_TAG_RECV), NULL);
  pthread_mutex_unlock(&c->mu);
  if (e != GRPC_CALL_OK)
    return WEFT_ERR_STATE;
  if (!weft__grpc_pluck(c->cq, WEFT__GRPC_TAG_RECV)) {
    c->recv_done = true;
    if (bb)
      grpc_byte_buffer_destroy(bb);
    return WEFT_ERR_CANCELLED;
  }
  if (!bb) {
    c->recv_done = true;
    return 0;
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

/* Collects the completion of the previous streamed message, if any. */
static int wait_pending(gscall *c) {
  if (!c->pending)
    return 0;
  int ok = weft__grpc_pluck(c->cq, WEFT__GRPC_TAG_SEND);
  grpc_byte_buffer_destroy(c->pending);
  c->pending = NULL;
  weft__grpc_md_free(&c->pending_md);
  return ok ? 0 : WEFT_ERR_CANCELLED; /* client gone, cancelled, deadline */
}

static int op_send(void *tc, const void *msg, const weft_metadata *headers) {
  gscall *c = tc;
  grpc_byte_buffer *bb = weft__grpc_encode(msg);
  if (!bb)
    return WEFT_ERR_NOMEM;
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
  int rc = wait_pending(c);
  if (rc < 0) {
    grpc_byte_buffer_destroy(bb);
    return rc;
  }
  grpc_op ops[2];
  size_t n = 0;
  pthread_mutex_lock(&c->mu);
  if (!c->sent_initial &&
      initial_op(c, &ops[n++], &c->pending_md, headers) < 0) {
    pthread_mutex_unlock(&c->mu);
    grpc_byte_buffer_destroy(bb);
    return WEFT_ERR_NOMEM;
  }
  memset(&ops[n], 0, sizeof ops[n]);
  ops[n].op = GRPC_OP_SEND_MESSAGE;
  ops[n].flags = send_flags(c);
  ops[n++].data.send_message.send_message = bb;
  grpc_call_error e = grpc_call_start_batch(
      c->call, ops, n, WEFT__GRPC_TAG(WEFT__GRPC_TAG_SEND), NULL);
  pthread_mutex_unlock(&c->mu);
  if (e != GRPC_CALL_OK) {
    grpc_byte_buffer_destroy(bb);
    weft__grpc_md_free(&c->pending_md);
    return WEFT_ERR_STATE;
  }
  c->pending = bb;
  return 0;
}

static void scall_free(gscall *c) {
  glistener *l = c->l;
  grpc_call_unref(c->call);
  weft__grpc_cq_destroy(c->cq);
  if (c->resp)
    grpc_byte_buffer_destroy(c->resp);
  if (c->first)
    grpc_byte_buffer_destroy(c->first);
  weft_metadata_clear(&c->resp_headers);
  if (c->peer)
    gpr_free(c->peer);
  pthread_mutex_destroy(&c->mu);
  pthread_mutex_destroy(&c->close_mu);
  free(c);
  listener_unref(l);
}

static int op_finish(void *tc, const weft_status *st,
                     const weft_metadata *headers,
                     const weft_metadata *trailers) {
  gscall *c = tc;
  wait_pending(c);
  grpc_op ops[4];
  size_t n = 0;
  weft__grpc_md hdr = {0}, trl = {0};
  int code = st ? st->code : WEFT_STATUS_UNKNOWN;
  if (code < 0 || code > 16)
    code = WEFT_STATUS_UNKNOWN;
  grpc_slice msg =
      grpc_slice_from_copied_string(st && st->message ? st->message : "");
  weft__grpc_md_append(&trl, trailers);
  if (st && st->details && st->details_len)
    weft__grpc_md_append_one(&trl, WEFT_GRPC_DETAILS_KEY, st->details,
                             st->details_len);
  bool close_in_batch = false;
  pthread_mutex_lock(&c->mu);
  if (!c->sent_initial)
    initial_op(c, &ops[n++], &hdr, headers);
  if (c->resp && code == WEFT_STATUS_OK) {
    memset(&ops[n], 0, sizeof ops[n]);
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n].flags = send_flags(c);
    ops[n++].data.send_message.send_message = c->resp;
  }
  memset(&ops[n], 0, sizeof ops[n]);
  ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
  ops[n].data.send_status_from_server.status = (grpc_status_code)code;
  ops[n].data.send_status_from_server.status_details = &msg;
  ops[n].data.send_status_from_server.trailing_metadata_count = trl.count;
  ops[n++].data.send_status_from_server.trailing_metadata = trl.items;
  if (!c->close_started) {
    c->close_started = close_in_batch = true;
    memset(&ops[n], 0, sizeof ops[n]);
    ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[n++].data.recv_close_on_server.cancelled = &c->cancelled;
  }
  grpc_call_error e = grpc_call_start_batch(
      c->call, ops, n, WEFT__GRPC_TAG(WEFT__GRPC_TAG_MAIN), NULL);
  pthread_mutex_unlock(&c->mu);
  int rc = 0;
  if (e == GRPC_CALL_OK) {
    if (!weft__grpc_pluck(c->cq, WEFT__GRPC_TAG_MAIN))
      rc = WEFT_ERR_CANCELLED; /* the client was gone before the status */
  } else {
    rc = WEFT_ERR_STATE;
    grpc_call_cancel(c->call, NULL);
  }
  if (!close_in_batch) {
    /* cancelled() started RECV_CLOSE earlier: it completes now. */
    pthread_mutex_lock(&c->close_mu);
    if (!c->close_known)
      weft__grpc_pluck(c->cq, WEFT__GRPC_TAG_CLOSE);
    c->close_known = true;
    pthread_mutex_unlock(&c->close_mu);
  }
  grpc_slice_unref(msg);
  weft__grpc_md_free(&hdr);
  weft__grpc_md_free(&trl);
  scall_free(c);
  return rc;
}

static bool op_cancelled(void *tc) {
  gscall *c = tc;
  /* Asking gRPC core costs a batch (RECV_CLOSE_ON_SERVER) and a poll; the
   * runtime asks once before every handler. A call younger than 5 ms is
   * taken as live: if it was cancelled meanwhile, its I/O fails anyway. */
  if (!c->close_started && weft_now_ns() - c->arrived_ns < 5000000)
    return false;
  pthread_mutex_lock(&c->close_mu);
  if (!c->close_known) {
    pthread_mutex_lock(&c->mu);
    bool start = !c->close_started;
    c->close_started = true;
    if (start) {
      grpc_op op;
      memset(&op, 0, sizeof op);
      op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
      op.data.recv_close_on_server.cancelled = &c->cancelled;
      grpc_call_start_batch(c->call, &op, 1,
                            WEFT__GRPC_TAG(WEFT__GRPC_TAG_CLOSE), NULL);
    }
    pthread_mutex_unlock(&c->mu);
    /* Non-blocking look: RECV_CLOSE completes once the call is over. */
    grpc_event ev =
        grpc_completion_queue_pluck(c->cq, WEFT__GRPC_TAG(WEFT__GRPC_TAG_CLOSE),
                                    gpr_inf_past(GPR_CLOCK_REALTIME), NULL);
    if (ev.type == GRPC_OP_COMPLETE)
      c->close_known = true;
  }
  bool r = c->close_known && c->cancelled;
  pthread_mutex_unlock(&c->close_mu);
  return r;
}

static const char *op_recv_error(void *tc) {
  gscall *c = tc;
  return c->recv_err.code ? c->recv_err.message : NULL;
}

static const weft_server_call_ops scall_ops = {
    .recv_error = op_recv_error,
    .recv = op_recv,
    .send = op_send,
    .finish = op_finish,
    .cancelled = op_cancelled,
    .set_compression = op_set_compression,
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
  c->cq = s->call_cq;
  s->call_cq = NULL;
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
  c->arrived_ns = weft_now_ns();
  pthread_mutex_init(&c->mu, NULL);
  pthread_mutex_init(&c->close_mu, NULL);
  weft_metadata md = WEFT_METADATA_INIT;
  weft__grpc_md_to_weft(&md, &s->md, NULL);
  int64_t deadline = weft__grpc_deadline_ns(deadline_ts);
  slot_free(s);
  atomic_fetch_add(&l->refs, 1);
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
}

typedef struct qarg {
  glistener *l;
  unsigned idx;
} qarg;

static void *queue_main(void *arg) {
  qarg a = *(qarg *)arg;
  free(arg);
  glistener *l = a.l;
  grpc_completion_queue *cq = l->cqs[a.idx];
  for (;;) {
    grpc_event ev = grpc_completion_queue_next(
        cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    if (ev.type == GRPC_OP_COMPLETE)
      WEFT__TSAN_ACQUIRE(ev.tag);
    if (ev.type == GRPC_QUEUE_SHUTDOWN)
      break;
    if (ev.type != GRPC_OP_COMPLETE)
      continue;
    if (ev.tag == &l->shutdown_tag) {
      pthread_mutex_lock(&l->mu);
      l->shutdown_done = true;
      pthread_cond_broadcast(&l->cv);
      pthread_mutex_unlock(&l->mu);
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
  return NULL;
}

static void *poller_main(void *arg);

/* With l->mu held: one more poller thread (detached). */
static void spawn_poller_locked(glistener *l) {
  pthread_t t;
  pthread_attr_t at;
  pthread_attr_init(&at);
  pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
  l->n_live++;
  if (pthread_create(&t, &at, poller_main, l) != 0)
    l->n_live--;
  pthread_attr_destroy(&at);
}

/* Inline mode: take a call, make sure someone else polls, run it here. */
static void *poller_main(void *arg) {
  glistener *l = arg;
  grpc_completion_queue *cq = l->cqs[0];
  pthread_mutex_lock(&l->mu);
  l->n_polling++;
  pthread_mutex_unlock(&l->mu);
  for (;;) {
    grpc_event ev = grpc_completion_queue_next(
        cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    if (ev.type == GRPC_OP_COMPLETE)
      WEFT__TSAN_ACQUIRE(ev.tag);
    pthread_mutex_lock(&l->mu);
    if (ev.type == GRPC_QUEUE_SHUTDOWN) {
      l->n_polling--;
      l->n_live--;
      pthread_cond_broadcast(&l->cv);
      pthread_mutex_unlock(&l->mu);
      return NULL;
    }
    if (ev.type != GRPC_OP_COMPLETE) {
      pthread_mutex_unlock(&l->mu);
      continue;
    }
    if (ev.tag == &l->shutdown_tag) {
      l->shutdown_done = true;
      pthread_cond_broadcast(&l->cv);
      pthread_mutex_unlock(&l->mu);
      continue;
    }
    gslot *s = ev.tag;
    if (!ev.success) {
      pthread_mutex_unlock(&l->mu);
      slot_free(s);
      continue;
    }
    l->n_polling--;
    bool here = true;
    if (l->n_polling < l->min_pollers) {
      if (l->n_live < l->max_threads)
        spawn_poller_locked(l);
      else if (l->n_polling == 0)
        here = false; /* we are the last poller: keep polling */
    }
    if (!here)
      l->n_polling++;
    pthread_mutex_unlock(&l->mu);
    if (!atomic_load(&l->stopping))
      request_one(l, s->cq_idx, s->reg);
    on_call(l, s, here);
    if (!here)
      continue;
    pthread_mutex_lock(&l->mu);
    if (l->n_polling >= l->max_pollers) { /* enough are waiting: leave */
      l->n_live--;
      pthread_cond_broadcast(&l->cv);
      pthread_mutex_unlock(&l->mu);
      return NULL;
    }
    l->n_polling++;
    pthread_mutex_unlock(&l->mu);
  }
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
  grpc_server_shutdown_and_notify(l->server, l->cqs[0], &l->shutdown_tag);
}

static void close_listener(void *listener) {
  glistener *l = listener;
  stop_accepting(l);
  grpc_server_cancel_all_calls(l->server);
  /* The notification comes once every call's handler has finished (the
   * runtime finishes cancelled calls promptly). */
  pthread_mutex_lock(&l->mu);
  while (!l->shutdown_done) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 5;
    if (pthread_cond_timedwait(&l->cv, &l->mu, &ts) == ETIMEDOUT &&
        !l->shutdown_done)
      fprintf(stderr, "weft grpc: server shutdown still waiting for calls "
                      "whose handlers have not returned\n");
  }
  pthread_mutex_unlock(&l->mu);
  grpc_server_destroy(l->server);
  l->server = NULL;
  weft__grpc_health_forget(l->ws);
  for (unsigned i = 0; i < l->n_cqs; i++)
    grpc_completion_queue_shutdown(l->cqs[i]);
  for (unsigned i = 0; i < l->n_threads; i++)
    pthread_join(l->threads[i], NULL);
  if (l->inline_mode) {
    pthread_mutex_lock(&l->mu);
    while (l->n_live > 0)
      pthread_cond_wait(&l->cv, &l->mu);
    pthread_mutex_unlock(&l->mu);
  }
  for (unsigned i = 0; i < l->n_cqs; i++) {
    if (i >= l->n_threads && !l->inline_mode) /* nobody drained it */
      while (grpc_completion_queue_next(
                 l->cqs[i], gpr_inf_future(GPR_CLOCK_REALTIME), NULL)
                 .type != GRPC_QUEUE_SHUTDOWN) {
      }
    grpc_completion_queue_destroy(l->cqs[i]);
  }
  listener_unref(l);
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
  if (l)
    l->gzip = g->gzip;
  unsigned nq = inline_mode ? 1 : g->cq_threads ? g->cq_threads : 1;
  if (l) {
    l->cqs = calloc(nq, sizeof *l->cqs);
    l->threads = calloc(nq, sizeof *l->threads);
  }
  if (!l || !l->cqs || !l->threads) {
    if (l) {
      free(l->cqs);
      free(l->threads);
    }
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
    l->min_pollers = g->cq_threads ? g->cq_threads : 1;
    l->max_pollers = l->min_pollers + 1;
    l->max_threads = wt ? wt : (ncpu > 2 ? (unsigned)ncpu * 2 : 4);
    if (l->max_threads < l->min_pollers + 1)
      l->max_threads = l->min_pollers + 1;
  }
  l->ahead = g->calls_requested_ahead ? g->calls_requested_ahead : 16;
  l->max_recv =
      o->max_message_size ? o->max_message_size : WEFT_GRPC_DEFAULT_MAX_MESSAGE;
  atomic_init(&l->refs, 1);
  atomic_init(&l->stopping, false);
  pthread_mutex_init(&l->mu, NULL);
  pthread_cond_init(&l->cv, NULL);
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
    l->cqs[i] = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(l->server, l->cqs[i], NULL);
  }
  register_methods(l);
  char addr[300];
  weft__grpc_target(url, url->port >= 0 ? url->port : 50051, addr, sizeof addr);
  int bound = grpc_server_add_http2_port(l->server, addr, creds);
  grpc_server_credentials_release(creds);
  if (bound <= 0) {
    grpc_server_destroy(l->server);
    for (unsigned i = 0; i < nq; i++)
      weft__grpc_cq_destroy_next(l->cqs[i]);
    listener_unref(l);
    return weft_error_set(err, WEFT_ERR_IO, "%s://%s: cannot bind", url->scheme,
                          addr);
  }
  grpc_server_start(l->server);
  for (unsigned i = 0; i < nq; i++) {
    for (unsigned k = 0; k < l->ahead; k++)
      request_one(l, i, -1);
    for (unsigned r = 0; r < l->n_reg; r++)
      for (unsigned k = 0; k < WEFT_GRPC_AHEAD_PER_METHOD; k++)
        request_one(l, i, (int)r);
  }
  if (l->inline_mode) {
    pthread_mutex_lock(&l->mu);
    for (unsigned i = 0; i < l->min_pollers; i++)
      spawn_poller_locked(l);
    bool none = l->n_live == 0;
    pthread_mutex_unlock(&l->mu);
    if (none) {
      close_listener(l);
      return weft_error_set(err, WEFT_ERR_NOMEM, "grpc: no queue thread");
    }
    *port = bound;
    *listener = l;
    return 0;
  }
  for (unsigned i = 0; i < nq; i++) {
    qarg *a = malloc(sizeof *a);
    if (!a)
      break;
    a->l = l;
    a->idx = i;
    if (pthread_create(&l->threads[i], NULL, queue_main, a) != 0) {
      free(a);
      break;
    }
    l->n_threads++;
  }
  if (l->n_threads == 0) {
    close_listener(l);
    return weft_error_set(err, WEFT_ERR_NOMEM, "grpc: no queue thread");
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
