/* Client calls: start/send/recv/finish through the transport vtable, with
 * per-call deadlines (also enforced by the supervisor, whatever the
 * transport does), cancellation, merged metadata, the circuit breaker and
 * retries of idempotent unary calls. */
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"
#include "weft/codec.h"

static int fail_status(weft_call_opts *opts, int err, int code, const char *fmt,
                       const char *a, const char *b) {
  weft_status_set(&opts->status, code, fmt, a, b);
  return err;
}

/* Takes a reference on a live connection, waiting for a reconnect in
 * progress until the deadline, except on the client loop's thread (a
 * callback starting a call): the reconnect's outcome runs there, so
 * waiting would only stall every connection of the process until the
 * deadline; such a call fails at once, as with no reconnect coming.
 * c->mu held. */
static int acquire_conn(weft_client *c, int64_t deadline,
                        weft__conn_slot **out) {
  int64_t wait_until = deadline;
  if (wait_until == INT64_MAX)
    wait_until = weft_now_ns() + c->opts.connect_timeout_ms * 1000000;
  for (;;) {
    if (c->closing)
      return WEFT_ERR_STATE;
    if (c->cur) {
      c->cur->refs++;
      *out = c->cur;
      return 0;
    }
    if (!c->need_connect || c->gave_up || weft_loop_in_thread(c->loop))
      return WEFT_ERR_CONNECT;
    if (weft_now_ns() >= wait_until)
      return deadline == INT64_MAX || weft_now_ns() < deadline
                 ? WEFT_ERR_CONNECT
                 : WEFT_ERR_TIMEOUT;
    weft__cond_wait_until(&c->cv, &c->mu, wait_until);
  }
}

/* c->mu held. */
static void release_conn(weft_client *c, weft__conn_slot *s) {
  if (--s->refs == 0 && s->dead)
    weft__client_kick(c); /* the supervisor disconnects it */
}

static int merged_metadata(weft_client *c, const weft_call_opts *opts,
                           weft_metadata *md) {
  int rv = weft_metadata_copy(md, &c->md);
  if (rv == 0 && opts->metadata)
    rv = weft_metadata_copy(md, opts->metadata);
  return rv;
}

static void unlink_call(weft_client *c, weft_call *call) {
  if (call->prev)
    call->prev->next = call->next;
  else
    c->calls = call->next;
  if (call->next)
    call->next->prev = call->prev;
  c->ncalls--;
  pthread_cond_broadcast(&c->cv);
}

static void call_free(weft_call *call) {
  /* An asynchronous call's failed send left its reason here; on_done has
   * the call's status. */
  if (call->async)
    weft_status_clear(&call->own_opts.status);
  pthread_cond_destroy(&call->cv);
  pthread_mutex_destroy(&call->mu);
  free(call);
}

static const weft_call_events async_events;
static void async_reader(void *arg);
static bool claim_completion_locked(weft_call *call);
static void async_complete(weft_call *call);

/* cb NULL: a blocking call; else an asynchronous one (weft_call_start_async)
 * that keeps its own copy of opts. */
static int start_call(weft_client *c, const weft_method_desc *m,
                      weft_call_opts *opts, int64_t deadline,
                      const weft_call_callbacks *cb, void *ud,
                      const void *first, weft_call **out) {
  weft_status_clear(&opts->status);
  if (!c || !m || !out)
    return fail_status(opts, WEFT_ERR_INVAL, WEFT_STATUS_INVALID_ARGUMENT,
                       "%s%s: NULL argument", m ? m->path : "call", "");
  *out = NULL;
  if (deadline != INT64_MAX && weft_now_ns() >= deadline)
    return fail_status(opts, WEFT_ERR_TIMEOUT, WEFT_STATUS_DEADLINE_EXCEEDED,
                       "%s: deadline exceeded before the call started%s",
                       m->path, "");
  bool probe = false;
  if (weft__breaker_allow(&c->breaker, weft_now_ns(), &probe) < 0)
    return fail_status(opts, WEFT__ERR_CIRCUIT_OPEN, WEFT_STATUS_UNAVAILABLE,
                       "%s: circuit open (too many failures on %s)", m->path,
                       c->url);
  if (m->input)
    weft__note_file(m->input->file);
  if (m->output)
    weft__note_file(m->output->file);

  weft_call *call = calloc(1, sizeof *call);
  if (!call) {
    weft__breaker_record(&c->breaker, WEFT_STATUS_OK, probe, weft_now_ns());
    return fail_status(opts, WEFT_ERR_NOMEM, WEFT_STATUS_RESOURCE_EXHAUSTED,
                       "%s: out of memory%s", m->path, "");
  }
  pthread_mutex_init(&call->mu, NULL);
  pthread_cond_init(&call->cv, NULL);
  call->c = c;
  call->m = m;
  call->opts = opts;
  call->deadline = deadline;
  call->started = weft_now_ns();
  call->probe = probe;
  if (cb) {
    call->async = true;
    call->cb = *cb;
    call->cb_ud = ud;
    call->own_opts.timeout_ms = opts->timeout_ms;
    call->own_opts.idempotent = opts->idempotent;
    call->own_opts.arena = opts->arena;
    call->opts = &call->own_opts;
  }

  pthread_mutex_lock(&c->mu);
  int rv = acquire_conn(c, deadline, &call->slot);
  weft_error conn_err = c->conn_err;
  pthread_mutex_unlock(&c->mu);
  if (rv < 0 && rv != WEFT_ERR_STATE && conn_err.code == WEFT_ERR_AUTH) {
    /* The server refused our credentials (e.g. a WebSocket closed with
     * 1008 before any call): that, not "not connected", is the status. */
    weft__breaker_record(&c->breaker, WEFT_STATUS_UNAUTHENTICATED, probe,
                         weft_now_ns());
    call_free(call);
    return fail_status(opts, WEFT_ERR_AUTH, WEFT_STATUS_UNAUTHENTICATED,
                       "%s: %s", m->path, conn_err.message);
  }
  if (rv < 0) {
    int code = rv == WEFT_ERR_TIMEOUT ? WEFT_STATUS_DEADLINE_EXCEEDED
                                      : WEFT_STATUS_UNAVAILABLE;
    weft__breaker_record(&c->breaker, code, probe, weft_now_ns());
    call_free(call);
    return fail_status(opts, rv, code,
                       rv == WEFT_ERR_STATE ? "%s: client %s is closed"
                                            : "%s: not connected to %s",
                       m->path, c->url);
  }

  weft_metadata md = WEFT_METADATA_INIT;
  weft_error err;
  weft_error_clear(&err);
  rv = merged_metadata(c, opts, &md);
  bool native = cb && c->t->call_start_async;
  if (rv == 0 && !native)
    rv = c->t->call_start(call->slot->conn, m, &md, deadline, &call->tcall,
                          &err);
  else if (rv == 0) { /* events may come before this returns: a_linked */
    rv = c->t->call_start_async(call->slot->conn, m, &md, deadline,
                                call->own_opts.arena, &async_events, call,
                                &call->tcall, &err);
    if (rv == 1) { /* not on this connection: the pool below runs it */
      native = false;
      rv = c->t->call_start(call->slot->conn, m, &md, deadline, &call->tcall,
                            &err);
    }
  }
  weft_metadata_clear(&md);
  if (rv < 0) {
    int code = weft__status_from_error(rv, false);
    weft__breaker_record(&c->breaker, code, probe, weft_now_ns());
    pthread_mutex_lock(&c->mu);
    release_conn(c, call->slot);
    pthread_mutex_unlock(&c->mu);
    call_free(call);
    if (err.code)
      weft_status_set(&opts->status, code, "%s: %s", m->path, err.message);
    else
      weft_status_set(&opts->status, code, "%s: %s", m->path,
                      weft_strerror(rv));
    return rv;
  }

  pthread_mutex_lock(&c->mu);
  call->next = c->calls;
  if (c->calls)
    c->calls->prev = call;
  c->calls = call;
  c->ncalls++;
  if (deadline < c->next_deadline) {
    c->next_deadline = deadline;
    weft__client_kick(c); /* watch the earlier deadline */
  }
  bool closing = c->closing;
  if (cb && !native && !c->apool &&
      weft__pool_new_lazy(&c->apool, WEFT__ASYNC_POOL_THREADS, 1024) < 0)
    c->apool = NULL;
  weft__pool *apool = c->apool;
  pthread_mutex_unlock(&c->mu);
  *out = call;
  if (closing) /* close started meanwhile and may have missed this call */
    weft_call_cancel(call);
  if (cb) {
    bool ended = false;
    /* The first request goes out before the call can complete (a_linked
     * is still false), so the caller never sends on a freed call here. */
    if (first) {
      int srv = weft_call_send(call, first);
      if (srv == 0 &&
          (m->kind == WEFT_RPC_UNARY || m->kind == WEFT_RPC_SERVER_STREAM))
        weft_call_close_send(call);
      if (srv == WEFT_ERR_INVAL) /* wrong type: nothing went out */
        weft_call_cancel(call);
    }
    if (!native && (!apool || weft__pool_post(apool, async_reader, call) < 0)) {
      weft_call_cancel(call); /* no thread to read it: it ends now */
      ended = true;
    }
    pthread_mutex_lock(&call->mu);
    call->a_linked = true;
    if (ended)
      call->a_ended = true;
    bool go = claim_completion_locked(call);
    pthread_mutex_unlock(&call->mu);
    if (go)
      async_complete(call);
  }
  return 0;
}

int weft__call_start(weft_client *c, const weft_method_desc *m,
                     weft_call_opts *opts, int64_t deadline, weft_call **out) {
  return start_call(c, m, opts, deadline, NULL, NULL, NULL, out);
}

int weft_call_start(weft_client *c, const weft_method_desc *m,
                    weft_call_opts *opts, weft_call **out) {
  if (!opts)
    return WEFT_ERR_INVAL; /* opts carries the outcome: required here */
  int64_t t = opts->timeout_ms > 0 ? opts->timeout_ms
                                   : (c ? c->opts.default_timeout_ms : 0);
  int rv = weft__call_start(c, m, opts, weft_deadline_from_timeout_ms(t), out);
  return rv == WEFT__ERR_CIRCUIT_OPEN ? WEFT_ERR_RPC : rv;
}

/* The call's own view of a local failure, before finish knows better. */
/* The supervisor and other threads set these under call->mu. */
static bool hit_deadline(weft_call *call) {
  pthread_mutex_lock(&call->mu);
  bool r = call->deadline_hit;
  pthread_mutex_unlock(&call->mu);
  return r;
}

static int local_status(weft_call *call, int rv) {
  pthread_mutex_lock(&call->mu);
  bool dl = call->deadline_hit, cancelled = call->cancelled;
  pthread_mutex_unlock(&call->mu);
  if (dl)
    return WEFT_STATUS_DEADLINE_EXCEEDED;
  if (cancelled)
    return WEFT_STATUS_CANCELLED;
  return weft__status_from_error(rv, false);
}

/* Asynchronous calls: a send or close_send from the user's thread is inside
 * the transport while the call may end on another thread; like a
 * canceller it holds the call's completion (transport finish, which frees
 * the transport's call) until it is out. False: the call is finishing. */
static bool enter_transport(weft_call *call) {
  if (!call->async)
    return true;
  pthread_mutex_lock(&call->mu);
  bool ok = !call->finishing;
  if (ok)
    call->cancelling++;
  pthread_mutex_unlock(&call->mu);
  return ok;
}

static void leave_transport(weft_call *call) {
  if (!call->async)
    return;
  pthread_mutex_lock(&call->mu);
  call->cancelling--;
  pthread_cond_broadcast(&call->cv);
  bool go = claim_completion_locked(call); /* the end may have come */
  pthread_mutex_unlock(&call->mu);
  if (go)
    async_complete(call);
}

int weft_call_send(weft_call *call, const void *msg) {
  if (!call || !msg)
    return WEFT_ERR_INVAL;
  if (call->send_closed)
    return WEFT_ERR_STATE;
  /* Every weft message starts with protobuf-c's base, which names its
   * type: another type than the method's would be sent as garbage. */
  const ProtobufCMessageDescriptor *d =
      ((const ProtobufCMessage *)msg)->descriptor;
  if (call->m->input && d != &call->m->input->base) {
    weft_status_set(&call->opts->status, WEFT_STATUS_INVALID_ARGUMENT,
                    "%s: send: a %s where the method takes %s", call->m->path,
                    d && d->name ? d->name : "message of unknown type",
                    call->m->input->base.name);
    return WEFT_ERR_INVAL;
  }
  if (!enter_transport(call))
    return WEFT_ERR_STATE;
  int rv = call->c->t->call_send(call->tcall, msg);
  if (rv < 0)
    weft_status_set(&call->opts->status, local_status(call, rv), "%s: send: %s",
                    call->m->path, weft_strerror(rv));
  leave_transport(call);
  return rv;
}

int weft_call_close_send(weft_call *call) {
  if (!call)
    return WEFT_ERR_INVAL;
  if (call->send_closed)
    return 0;
  call->send_closed = true;
  if (!call->c->t->call_close_send)
    return 0;
  if (!enter_transport(call))
    return WEFT_ERR_STATE;
  int rv = call->c->t->call_close_send(call->tcall);
  leave_transport(call);
  return rv;
}

int weft_call_recv(weft_call *call, void **msg) {
  if (!call || !msg)
    return WEFT_ERR_INVAL;
  *msg = NULL;
  if (call->async)
    return WEFT_ERR_STATE; /* its messages go to on_message */
  if (call->ended)
    return call->end_rv;
  int rv = call->c->t->call_recv(call->tcall, call->opts->arena, msg);
  if (rv == 1) {
    call->received_any = true;
    return 1;
  }
  call->ended = true;
  call->end_rv = rv > 0 ? 0 : rv;
  if (rv < 0)
    weft_status_set(
        &call->opts->status, local_status(call, rv), "%s: %s", call->m->path,
        hit_deadline(call) ? "deadline exceeded" : weft_strerror(rv));
  return call->end_rv;
}

/* Cancels through the transport unless finish has closed the door. */
static void cancel_pinned(weft_call *call, bool by_deadline) {
  pthread_mutex_lock(&call->mu);
  if (!call->finishing) {
    if (by_deadline)
      call->deadline_hit = true;
    else
      call->cancelled = true;
    if (call->async && call->c->t->call_cancel) {
      /* The transport may deliver the call's end from inside its cancel,
       * which takes mu: not held here. `cancelling` keeps the call. */
      pthread_mutex_unlock(&call->mu);
      call->c->t->call_cancel(call->tcall);
      pthread_mutex_lock(&call->mu);
    } else if (call->c->t->call_cancel) {
      call->c->t->call_cancel(call->tcall);
    }
  }
  call->cancelling--;
  pthread_cond_broadcast(&call->cv);
  bool go = claim_completion_locked(call); /* the end may have come */
  pthread_mutex_unlock(&call->mu);
  if (go)
    async_complete(call);
}

void weft__call_pin(weft_call *call) {
  pthread_mutex_lock(&call->mu);
  call->cancelling++;
  pthread_mutex_unlock(&call->mu);
}

void weft__call_cancel_pinned(weft_call *call) {
  cancel_pinned(call, false);
}

void weft_call_cancel(weft_call *call) {
  if (!call)
    return;
  weft__call_pin(call);
  cancel_pinned(call, false);
}

/* c->mu held: pins the calls matching (all or expired) and returns them. */
static weft_call **pin_calls(weft_client *c, bool all, int64_t now, size_t *n,
                             int64_t *next) {
  weft_call **v = NULL;
  size_t cnt = 0, cap = 0;
  *next = INT64_MAX;
  for (weft_call *call = c->calls; call; call = call->next) {
    bool hit = all || call->deadline <= now;
    if (!hit) {
      if (call->deadline < *next)
        *next = call->deadline;
      continue;
    }
    /* Room first: unpinning here (c->mu held) could not complete a call
     * that ended meanwhile. */
    if (cnt == cap) {
      size_t ncap = cap ? cap * 2 : 8;
      weft_call **nv = realloc(v, ncap * sizeof *nv);
      if (!nv) { /* retried on the next wake */
        *next = now + 10000000;
        break;
      }
      v = nv;
      cap = ncap;
    }
    pthread_mutex_lock(&call->mu);
    bool skip = call->finishing || (!all && call->deadline_hit);
    if (!skip)
      call->cancelling++;
    pthread_mutex_unlock(&call->mu);
    if (skip)
      continue;
    v[cnt++] = call;
  }
  *n = cnt;
  return v;
}

int64_t weft__expire_calls(weft_client *c, int64_t now) {
  size_t n;
  int64_t next;
  weft_call **v = pin_calls(c, false, now, &n, &next);
  if (n) {
    pthread_mutex_unlock(&c->mu);
    for (size_t i = 0; i < n; i++)
      cancel_pinned(v[i], true);
    pthread_mutex_lock(&c->mu);
  }
  free(v);
  return next;
}

void weft__cancel_all_calls(weft_client *c) {
  size_t n;
  int64_t next;
  pthread_mutex_lock(&c->mu);
  weft_call **v = pin_calls(c, true, 0, &n, &next);
  pthread_mutex_unlock(&c->mu);
  for (size_t i = 0; i < n; i++)
    cancel_pinned(v[i], false);
  free(v);
}

/* The status the caller sees once the transport's finish returned rv. */
static int final_status(weft_call *call, int rv, weft_status *st) {
  if (rv < 0 && st->code == WEFT_STATUS_OK)
    weft_status_set(st, local_status(call, rv), "%s: %s", call->m->path,
                    weft_strerror(rv));
  if (call->deadline_hit && st->code != WEFT_STATUS_OK) {
    weft_status_set(st, WEFT_STATUS_DEADLINE_EXCEEDED,
                    "%s: deadline exceeded after %lld ms", call->m->path,
                    (long long)((weft_now_ns() - call->started) / 1000000));
    rv = WEFT_ERR_TIMEOUT;
  } else if (call->cancelled && st->code != WEFT_STATUS_OK) {
    weft_status_set(st, WEFT_STATUS_CANCELLED, "%s: cancelled by the client",
                    call->m->path);
    rv = WEFT_ERR_CANCELLED;
  }
  return rv;
}

int weft_call_finish(weft_call *call) {
  if (!call || call->async)
    return call ? WEFT_ERR_STATE : WEFT_ERR_INVAL;
  weft_client *c = call->c;
  weft_call_opts *opts = call->opts;
  /* Read to the end first: cancellation stays possible while we wait, and
   * the transport's finish then has its status at hand. */
  if (!call->send_closed)
    weft_call_close_send(call);
  while (!call->ended) {
    void *msg = NULL;
    if (weft_call_recv(call, &msg) == 1 && !opts->arena)
      weft_message_free(msg);
  }
  pthread_mutex_lock(&call->mu);
  call->finishing = true;
  while (call->cancelling > 0)
    pthread_cond_wait(&call->cv, &call->mu);
  pthread_mutex_unlock(&call->mu);

  weft_status st = {0, NULL, NULL, 0};
  int rv = c->t->call_finish(call->tcall, &st, opts->response_metadata);
  call->tcall = NULL;
  rv = final_status(call, rv, &st);
  weft_status_move(&opts->status, &st);
  weft__breaker_record(&c->breaker, opts->status.code, call->probe,
                       weft_now_ns());

  pthread_mutex_lock(&c->mu);
  unlink_call(c, call);
  release_conn(c, call->slot);
  pthread_mutex_unlock(&c->mu);
  call_free(call);
  if (opts->status.code == WEFT_STATUS_OK)
    return 0;
  if (rv < 0)
    return rv;
  /* Whoever noticed the deadline first (this runtime, the transport or the
   * server), the caller sees the same result. */
  return opts->status.code == WEFT_STATUS_DEADLINE_EXCEEDED ? WEFT_ERR_TIMEOUT
                                                            : WEFT_ERR_RPC;
}

/* ---- asynchronous calls ---- */

static void fire_headers(weft_call *call, const weft_metadata *h) {
  if (call->a_headers)
    return;
  call->a_headers = true;
  static const weft_metadata none = WEFT_METADATA_INIT;
  if (call->cb.on_headers)
    call->cb.on_headers(call, h ? h : &none, call->cb_ud);
}

static void ev_headers(void *ud, const weft_metadata *h) {
  fire_headers(ud, h);
}

static void ev_message(void *ud, void *msg) {
  weft_call *call = ud;
  fire_headers(call, NULL);
  call->received_any = true;
  if (call->cb.on_message)
    call->cb.on_message(call, msg, call->cb_ud);
  else if (!call->own_opts.arena)
    weft_message_free(msg);
}

static void ev_end(void *ud) {
  weft_call *call = ud;
  pthread_mutex_lock(&call->mu);
  call->a_ended = true;
  bool go = claim_completion_locked(call);
  pthread_mutex_unlock(&call->mu);
  if (go)
    async_complete(call);
}

static const weft_call_events async_events = {ev_headers, ev_message, ev_end};

/* Transports without call_start_async: the blocking receive loop, on the
 * client's pool. */
static void async_reader(void *arg) {
  weft_call *call = arg;
  for (;;) {
    void *msg = NULL;
    int rv = call->c->t->call_recv(call->tcall, call->own_opts.arena, &msg);
    if (rv != 1)
      break;
    ev_message(call, msg);
  }
  ev_end(call);
}

/* Transport's finish (which no longer waits), on_done, unlink, free. */
static void async_complete(weft_call *call) {
  weft_client *c = call->c;
  weft_status st = {0, NULL, NULL, 0};
  weft_metadata md = WEFT_METADATA_INIT;
  int rv = c->t->call_finish(call->tcall, &st, &md);
  call->tcall = NULL;
  final_status(call, rv, &st);
  weft__breaker_record(&c->breaker, st.code, call->probe, weft_now_ns());
  fire_headers(call, NULL);
  call->cb.on_done(call, &st, &md, call->cb_ud);
  weft_status_clear(&st);
  weft_metadata_clear(&md);
  /* A weft_call_cancel that began before on_done returned is inside. */
  pthread_mutex_lock(&call->mu);
  while (call->cancelling > 0)
    pthread_cond_wait(&call->cv, &call->mu);
  pthread_mutex_unlock(&call->mu);
  pthread_mutex_lock(&c->mu);
  unlink_call(c, call);
  release_conn(c, call->slot);
  pthread_mutex_unlock(&c->mu);
  call_free(call);
}

/* call->mu held: true when this caller is the one to complete the call:
 * it has ended, start has linked it, nobody is inside it, and nobody
 * completed it yet. Every change that can make this true decides it in
 * the same critical section: deciding after unlocking would let the
 * thread that makes it true second complete and free the call while the
 * first is still about to lock call->mu. */
static bool claim_completion_locked(weft_call *call) {
  bool go = call->async && call->a_ended && call->a_linked && !call->a_done &&
            call->cancelling == 0;
  if (go)
    call->a_done = call->finishing = true;
  return go;
}

int weft_call_start_async(weft_client *c, const weft_method_desc *m,
                          const void *req, weft_call_opts *opts,
                          const weft_call_callbacks *cb, void *ud,
                          weft_call **out) {
  weft_call_opts local;
  memset(&local, 0, sizeof local);
  weft_call_opts *o = opts ? opts : &local;
  int rv;
  if (out)
    *out = NULL;
  if (!cb || !cb->on_done) {
    weft_status_set(&o->status, WEFT_STATUS_INVALID_ARGUMENT,
                    "weft_call_start_async: callbacks with on_done required");
    rv = WEFT_ERR_INVAL;
  } else {
    int64_t t = o->timeout_ms > 0 ? o->timeout_ms
                                  : (c ? c->opts.default_timeout_ms : 0);
    rv =
        start_call(c, m, o, weft_deadline_from_timeout_ms(t), cb, ud, req, out);
  }
  if (!opts)
    weft_status_clear(&local.status);
  return rv == WEFT__ERR_CIRCUIT_OPEN ? WEFT_ERR_RPC : rv;
}

/* ---- unary, with retries ---- */

static int unary_once(weft_client *c, const weft_method_desc *m,
                      const void *req, void **resp, weft_call_opts *opts,
                      int64_t deadline, bool *received) {
  weft_call *call;
  *received = false;
  if (opts->response_metadata)
    weft_metadata_clear(opts->response_metadata);
  int rv = weft__call_start(c, m, opts, deadline, &call);
  if (rv < 0)
    return rv;
  void *msg = NULL;
  rv = weft_call_send(call, req);
  if (rv == 0)
    rv = weft_call_close_send(call);
  if (rv == 0) {
    rv = weft_call_recv(call, &msg);
    *received = rv == 1;
  }
  int frv = weft_call_finish(call); /* the status decides */
  if (frv == 0 && !msg) {
    weft_status_set(&opts->status, WEFT_STATUS_INTERNAL,
                    "%s: the server sent no response message", m->path);
    frv = WEFT_ERR_RPC;
  }
  if (frv < 0) {
    if (msg && !opts->arena)
      weft_message_free(msg);
    return frv;
  }
  *resp = msg;
  return 0;
}

int weft_call_unary(weft_client *c, const weft_method_desc *m, const void *req,
                    void **resp, weft_call_opts *opts) {
  weft_call_opts local;
  memset(&local, 0, sizeof local);
  bool own = opts == NULL;
  if (own)
    opts = &local;
  if (!c || !m || !req || !resp) {
    weft_status_set(&opts->status, WEFT_STATUS_INVALID_ARGUMENT,
                    "weft_call_unary: NULL argument");
    if (own)
      weft_status_clear(&local.status);
    return WEFT_ERR_INVAL;
  }
  *resp = NULL;
  int64_t t =
      opts->timeout_ms > 0 ? opts->timeout_ms : c->opts.default_timeout_ms;
  int64_t deadline = weft_deadline_from_timeout_ms(t);
  bool idempotent = m->idempotent || opts->idempotent;
  int max_attempts = idempotent && c->opts.retry.max_attempts > 1
                         ? c->opts.retry.max_attempts
                         : 1;
  int rv = 0;
  for (int attempt = 0;; attempt++) {
    bool received;
    rv = unary_once(c, m, req, resp, opts, deadline, &received);
    if (rv == 0)
      break;
    int code = opts->status.code;
    bool retryable = code >= 0 && code < 32 &&
                     (c->opts.retry.codes & (1u << code)) &&
                     rv != WEFT__ERR_CIRCUIT_OPEN; /* fail fast means fast */
    if (attempt + 1 >= max_attempts || received || !retryable)
      break;
    pthread_mutex_lock(&c->mu);
    int64_t delay =
        weft__backoff_ms(c->opts.retry.base_ms, 2.0, c->opts.retry.cap_ms, 0.2,
                         attempt, &c->rng);
    int64_t until = weft_now_ns() + delay * 1000000;
    if (until >= deadline || c->closing) {
      pthread_mutex_unlock(&c->mu);
      break; /* no time left for another attempt */
    }
    while (!c->closing && weft_now_ns() < until)
      weft__cond_wait_until(&c->cv, &c->mu, until);
    bool closing = c->closing;
    pthread_mutex_unlock(&c->mu);
    if (closing)
      break;
  }
  if (own)
    weft_status_clear(&local.status);
  return rv == WEFT__ERR_CIRCUIT_OPEN ? WEFT_ERR_RPC : rv;
}
