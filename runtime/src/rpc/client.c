/* The client's connection lifecycle: open, state and callbacks, the
 * supervisor (reconnect with backoff, deadline watch, disconnecting dead
 * connections) as a timer on the process-wide client loop, close. Calls
 * live in call.c. */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "client_internal.h"

const char *weft_conn_state_name(weft_conn_state s) {
  switch (s) {
  case WEFT_CONN_DISCONNECTED:
    return "DISCONNECTED";
  case WEFT_CONN_CONNECTING:
    return "CONNECTING";
  case WEFT_CONN_CONNECTED:
    return "CONNECTED";
  case WEFT_CONN_DISCONNECTING:
    return "DISCONNECTING";
  case WEFT_CONN_ERROR:
    return "ERROR";
  }
  return "UNKNOWN";
}

/* Callbacks collected under c->mu and fired after it is released, so user
 * code may call back into the client. */
typedef struct notes {
  bool state_changed;
  weft_conn_state state;
  bool connected, disconnected, errored;
  weft_error err;
} notes;

static void set_state(weft_client *c, weft_conn_state st, notes *n) {
  if (c->state == st)
    return;
  c->state = st;
  n->state_changed = true;
  n->state = st;
  pthread_cond_broadcast(&c->cv);
}

static void note_error(notes *n, const weft_error *err) {
  if (!err)
    return;
  n->errored = true;
  n->err = *err;
}

static void fire(weft_client *c, notes *n) {
  const weft_client_opts *o = &c->opts;
  if (n->state_changed && o->on_state)
    o->on_state(c, n->state, o->user_data);
  if (n->errored && o->on_error)
    o->on_error(c, &n->err, o->user_data);
  if (n->disconnected && o->on_disconnect)
    o->on_disconnect(c, o->user_data);
  if (n->connected && o->on_connect)
    o->on_connect(c, o->user_data);
  memset(n, 0, sizeof *n);
}

void weft__client_seed(weft_client *c, uint64_t seed) {
  pthread_mutex_lock(&c->mu);
  c->rng.s = seed;
  pthread_mutex_unlock(&c->mu);
}

/* A thread inside the runtime's own connect/disconnect call: connection-loss
 * notifications from it are about the connection being torn down, not about
 * the current one. */
static _Thread_local weft_client *tl_tearing_down;

static weft__conn_slot *slot_new(void *conn) {
  weft__conn_slot *s = calloc(1, sizeof *s);
  if (s)
    s->conn = conn;
  return s;
}

/* c->mu held. The current connection is gone (lost or being replaced). */
static void retire_current(weft_client *c) {
  weft__conn_slot *s = c->cur;
  if (!s)
    return;
  c->cur = NULL;
  s->dead = true;
  s->next = c->dead;
  c->dead = s;
  weft__client_kick(c);
}

/* c->mu held; drops it while disconnecting. */
static void reap_dead(weft_client *c, bool all) {
  weft__conn_slot **pp = &c->dead;
  while (*pp) {
    weft__conn_slot *s = *pp;
    if (s->refs > 0 && !all) {
      pp = &s->next;
      continue;
    }
    *pp = s->next;
    pthread_mutex_unlock(&c->mu);
    tl_tearing_down = c;
    if (s->conn)
      c->t->disconnect(s->conn);
    tl_tearing_down = NULL;
    free(s);
    pthread_mutex_lock(&c->mu);
    pp = &c->dead; /* the list may have changed meanwhile */
  }
}

static int64_t reconnect_delay_ms(weft_client *c, int attempt) {
  const weft_backoff_opts *b = &c->opts.reconnect;
  return weft__backoff_ms(b->base_ms, b->factor, b->cap_ms, b->jitter, attempt,
                          &c->rng);
}

/* The end of a connection attempt: rv and conn (or err) are connect's.
 * c->mu not held on entry, held on exit. */
static void connect_result(weft_client *c, int rv, void *conn, weft_error *err,
                           notes *n) {
  weft__conn_slot *slot = rv == 0 ? slot_new(conn) : NULL;
  if (rv == 0 && !slot) {
    c->t->disconnect(conn);
    rv = weft_error_set(err, WEFT_ERR_NOMEM, "%s: out of memory", c->url);
  }
  pthread_mutex_lock(&c->mu);
  if (rv == 0 && c->closing) {
    slot->dead = true;
    slot->next = c->dead;
    c->dead = slot;
    return;
  }
  if (rv == 0) {
    c->cur = slot;
    weft_error_clear(&c->conn_err);
    c->need_connect = false;
    c->attempt = 0;
    c->reconnect_due = 0;
    set_state(c, WEFT_CONN_CONNECTED, n);
    n->connected = true;
    return;
  }
  if (err->code == 0)
    weft_error_set(err, rv, "%s: %s", c->url, weft_strerror(rv));
  note_error(n, err);
  c->conn_err = *err;
  c->attempt++;
  int max = c->opts.reconnect.max_tries;
  if (!c->opts.reconnect.enabled || (max > 0 && c->attempt >= max)) {
    c->gave_up = true;
    c->need_connect = false;
  } else {
    c->reconnect_due =
        weft_now_ns() + reconnect_delay_ms(c, c->attempt - 1) * 1000000;
  }
  set_state(c, WEFT_CONN_ERROR, n);
}

/* One blocking connection attempt; c->mu held on entry and exit. */
static void try_connect(weft_client *c, notes *n) {
  set_state(c, WEFT_CONN_CONNECTING, n);
  pthread_mutex_unlock(&c->mu);
  fire(c, n);
  void *conn = NULL;
  weft_error err;
  weft_error_clear(&err);
  tl_tearing_down = c;
  int rv = c->t->connect(c, &c->u, &c->opts, &conn, &err);
  tl_tearing_down = NULL;
  connect_result(c, rv, conn, &err, n);
}

/* ---- the supervisor: work on the client loop ----
 *
 * sup_step runs on the loop (posted by weft__client_kick, or when its
 * timer fires): it disconnects dead connections no call uses any more,
 * cancels calls whose deadline passed, and starts due reconnect attempts
 * (on the loop through the transport's connect_async, else on the
 * connector thread, since connect blocks), then sets its timer to the next
 * thing due. sup_timer belongs to the loop thread. */

static void sup_step(weft_client *c);

static void sup_post(void *ud) {
  weft_client *c = ud;
  pthread_mutex_lock(&c->mu);
  c->sup_posted = false;
  pthread_mutex_unlock(&c->mu);
  sup_step(c);
}

void weft__client_kick(weft_client *c) {
  if (c->sup_posted || c->sup_stopped)
    return;
  /* Under c->mu, so close (which stops the supervisor under it, then waits
   * for what was posted before) never frees c under a pending post. */
  if (weft_loop_post(c->loop, sup_post, c) == 0)
    c->sup_posted = true;
}

static void sup_fired(weft_loop *l, weft_timer *t, void *ud) {
  (void)l;
  (void)t;
  weft_client *c = ud;
  c->sup_timer = NULL; /* a one-shot: the loop frees it */
  sup_step(c);
}

/* After a reconnect attempt (c->mu held): close may go on. */
static void connect_over(weft_client *c) {
  c->connecting = false; /* close may free c once we let go of mu */
  pthread_cond_broadcast(&c->cv);
  weft__client_kick(c); /* plan the next attempt, reap what was replaced */
  pthread_mutex_unlock(&c->mu);
}

/* The connector thread: one reconnect attempt. */
static void connect_job(void *ud) {
  weft_client *c = ud;
  notes n;
  memset(&n, 0, sizeof n);
  pthread_mutex_lock(&c->mu);
  if (!c->closing)
    try_connect(c, &n);
  pthread_mutex_unlock(&c->mu);
  fire(c, &n);
  pthread_mutex_lock(&c->mu);
  connect_over(c);
}

void weft__client_attempt_set(weft_client *c, weft__attempt_stop_fn stop,
                              void *ud) {
  c->attempt_stop = stop;
  c->attempt_ud = ud;
}

void weft__client_attempt_clear(weft_client *c) {
  c->attempt_stop = NULL;
  c->attempt_ud = NULL;
}

void weft__client_attempt_get(weft_client *c, weft__attempt_stop_fn *stop,
                              void **ud) {
  *stop = c->attempt_stop;
  *ud = c->attempt_ud;
}

/* Loop thread, the client closing: the connect_async attempt under way
 * stops now if its transport said how, instead of running on up to
 * connect_timeout_ms while close waits. Its done will not run: the
 * attempt ends here, reported to nobody. */
static void stop_attempt(void *ud) {
  weft_client *c = ud;
  weft__attempt_stop_fn stop = c->attempt_stop;
  void *aud = c->attempt_ud;
  if (!stop)
    return;
  weft__client_attempt_clear(c);
  stop(aud);
  pthread_mutex_lock(&c->mu);
  connect_over(c);
}

/* The outcome of a transport's connect_async, on the loop. */
static void connect_async_done(weft_client *c, int rv, void *conn,
                               const weft_error *e) {
  weft__client_attempt_clear(c); /* the attempt is over (attempt.h) */
  notes n;
  memset(&n, 0, sizeof n);
  weft_error err;
  weft_error_clear(&err);
  if (rv < 0 && e)
    err = *e;
  tl_tearing_down = c;
  connect_result(c, rv, conn, &err, &n);
  tl_tearing_down = NULL;
  pthread_mutex_unlock(&c->mu);
  fire(c, &n);
  pthread_mutex_lock(&c->mu);
  connect_over(c);
}

/* A reconnect attempt without blocking (the transport's connect_async):
 * on the loop, so a server that never answers delays no other client. */
static void connect_async_start(weft_client *c) {
  notes n;
  memset(&n, 0, sizeof n);
  pthread_mutex_lock(&c->mu);
  set_state(c, WEFT_CONN_CONNECTING, &n);
  pthread_mutex_unlock(&c->mu);
  fire(c, &n);
  weft_error err;
  weft_error_clear(&err);
  int rv = c->t->connect_async(c, &c->u, &c->opts, connect_async_done, &err);
  if (rv < 0)
    connect_async_done(c, rv, NULL, &err);
}

static void sup_step(weft_client *c) {
  pthread_mutex_lock(&c->mu);
  if (c->sup_stopped || c->closing) {
    pthread_mutex_unlock(&c->mu);
    return;
  }
  reap_dead(c, false);
  bool start_async = false;
  int64_t now = weft_now_ns();
  int64_t wake = weft__expire_calls(c, now);
  if (c->need_connect && !c->gave_up && !c->closing && !c->connecting) {
    if (c->reconnect_due == 0)
      c->reconnect_due = now + reconnect_delay_ms(c, c->attempt) * 1000000;
    int64_t due = c->reconnect_due;
    if (now >= due && c->t->connect_async)
      c->connecting = start_async = true;
    else if (now >= due && weft__client_connector_post(connect_job, c) == 0)
      c->connecting = true;
    else if (now >= due)
      due = now + 10000000; /* out of memory: try again soon */
    if (!c->connecting && due < wake)
      wake = due;
  }
  c->next_deadline = wake;
  bool stopped = c->sup_stopped;
  pthread_mutex_unlock(&c->mu);
  weft_timer_cancel(c->loop, c->sup_timer);
  c->sup_timer = NULL;
  if (!stopped && wake != INT64_MAX) {
    int64_t ms = (wake - weft_now_ns() + 999999) / 1000000;
    c->sup_timer = weft_loop_timer(c->loop, ms, 0, sup_fired, c);
    if (!c->sup_timer) { /* out of memory: look again soon */
      pthread_mutex_lock(&c->mu);
      weft__client_kick(c);
      pthread_mutex_unlock(&c->mu);
    }
  }
  if (start_async)
    connect_async_start(c);
}

/* Loop thread: no supervisor work after this (c->sup_stopped), and none
 * pending: what was posted before has run (posts run in order). */
static void sup_stop(void *ud) {
  weft_client *c = ud;
  pthread_mutex_lock(&c->mu);
  c->sup_stopped = true;
  pthread_mutex_unlock(&c->mu);
  weft_timer_cancel(c->loop, c->sup_timer);
  c->sup_timer = NULL;
}

static char *dupstr(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d)
    memcpy(d, s, n);
  return d;
}

static void fill_defaults(weft_client_opts *o) {
  if (o->connect_timeout_ms <= 0)
    o->connect_timeout_ms = 10000;
  if (o->max_message_size == 0)
    o->max_message_size = 4u << 20;
  weft_backoff_opts *b = &o->reconnect;
  if (b->base_ms <= 0)
    b->base_ms = 100;
  if (b->factor < 1.0)
    b->factor = 2.0;
  if (b->cap_ms <= 0)
    b->cap_ms = 30000;
  if (b->jitter == 0)
    b->jitter = 0.2; /* negative: none */
  if (b->jitter < 0)
    b->jitter = 0;
  weft_retry_opts *r = &o->retry;
  if (r->codes == 0)
    r->codes = 1u << WEFT_STATUS_UNAVAILABLE;
  if (r->base_ms <= 0)
    r->base_ms = 50;
  if (r->cap_ms <= 0)
    r->cap_ms = 2000;
}

static void client_free(weft_client *c) {
  weft__pool_free(c->apool);
  weft__breaker_destroy(&c->breaker);
  weft_client_loop_release(c->loop);
  pthread_cond_destroy(&c->cv);
  pthread_mutex_destroy(&c->mu);
  weft_metadata_clear(&c->md);
  free(c->url);
  free(c);
}

/* What both opens do before connecting: everything that needs no
 * network (the URL, the transport, the options, the client loop). */
static int client_new(weft_client **out, const char *url,
                      const weft_client_opts *opts, const char *fn,
                      weft_error *errp) {
  weft_error err;
  weft_error_clear(&err);
  if (errp)
    weft_error_clear(errp);
  if (!out || !url)
    return weft_error_set(errp, WEFT_ERR_INVAL, "%s: out and url are required",
                          fn);
  weft_transports_init();
  weft_client *c = calloc(1, sizeof *c);
  if (!c)
    return weft_error_set(errp, WEFT_ERR_NOMEM, "out of memory");
  int rv = weft_url_parse(url, &c->u, &err);
  if (rv >= 0 && !(c->t = weft_find_client_transport(c->u.scheme)))
    rv = weft_error_set(&err, WEFT_ERR_UNKNOWN_SCHEME,
                        "%s: no transport registered for scheme \"%s\"", url,
                        c->u.scheme);
  if (rv >= 0) {
    char what[64];
    snprintf(what, sizeof what, "%s: transport_opts", fn);
    rv = weft_opts_check(opts ? opts->transport_opts : NULL, what, &err);
  }
  if (rv < 0) {
    if (opts && opts->on_error)
      opts->on_error(NULL, &err, opts->user_data);
    if (errp)
      *errp = err;
    free(c);
    return rv;
  }
  if (c->u.port < 0)
    c->u.port = c->t->default_port;
  if (opts)
    c->opts = *opts;
  fill_defaults(&c->opts);
  c->opts.metadata = NULL;
  if (!(c->url = dupstr(url)) ||
      (opts && opts->metadata &&
       weft_metadata_copy(&c->md, opts->metadata) < 0)) {
    weft_metadata_clear(&c->md);
    free(c->url);
    free(c);
    return WEFT_ERR_NOMEM;
  }
  c->opts.metadata = &c->md;
  if ((rv = weft_client_loop_acquire(&c->loop, &err)) < 0) {
    if (errp)
      *errp = err;
    weft_metadata_clear(&c->md);
    free(c->url);
    free(c);
    return rv;
  }
  pthread_mutex_init(&c->mu, NULL);
  weft__cond_init(&c->cv);
  weft__breaker_init(&c->breaker, c->opts.breaker.failure_threshold,
                     c->opts.breaker.reset_timeout_ms);
  c->rng.s = (uint64_t)weft_now_ns() ^ (uint64_t)(uintptr_t)c;
  c->state = WEFT_CONN_DISCONNECTED;
  c->next_deadline = INT64_MAX;
  *out = c;
  return 0;
}

int weft_client_open(weft_client **out, const char *url,
                     const weft_client_opts *opts, weft_error *errp) {
  weft_client *c;
  if (out)
    *out = NULL;
  int rv = client_new(out ? &c : NULL, url, opts, "weft_client_open", errp);
  if (rv < 0)
    return rv;
  /* The first attempt runs here, so a client is usable as soon as open
   * returns; with reconnect enabled a failure leaves the supervisor
   * retrying in the background instead. */
  notes n;
  memset(&n, 0, sizeof n);
  pthread_mutex_lock(&c->mu);
  try_connect(c, &n);
  bool ok = c->cur != NULL;
  bool retrying = !ok && !c->gave_up;
  /* fire() clears the notes: keep the transport's reason for errp. */
  weft_error why = c->conn_err;
  if (!ok && !retrying) {
    set_state(c, WEFT_CONN_DISCONNECTED, &n);
    rv = why.code < 0 ? why.code : WEFT_ERR_CONNECT;
  }
  if (retrying) {
    c->need_connect = true;
    weft__client_kick(c);
  }
  pthread_mutex_unlock(&c->mu);
  fire(c, &n);
  if (!ok && !retrying) {
    if (errp) {
      if (why.code < 0 && why.message[0])
        *errp = why;
      else
        weft_error_set(errp, rv, "%s: could not connect", url);
    }
    client_free(c);
    return rv;
  }
  *out = c;
  return 0;
}

int weft_client_open_async(weft_client **out, const char *url,
                           const weft_client_opts *opts, weft_error *errp) {
  weft_client *c;
  if (out)
    *out = NULL;
  int rv =
      client_new(out ? &c : NULL, url, opts, "weft_client_open_async", errp);
  if (rv < 0)
    return rv;
  /* The first attempt is the supervisor's, as a reconnect is, but due
   * now: no backoff before it. CONNECTING from here on, so calls made
   * meanwhile wait for it (off the loop) and weft_client_state says so;
   * on_state hears it before the supervisor can report the outcome. */
  notes n;
  memset(&n, 0, sizeof n);
  pthread_mutex_lock(&c->mu);
  set_state(c, WEFT_CONN_CONNECTING, &n);
  c->need_connect = true;
  c->reconnect_due = weft_now_ns();
  pthread_mutex_unlock(&c->mu);
  fire(c, &n);
  pthread_mutex_lock(&c->mu);
  weft__client_kick(c);
  pthread_mutex_unlock(&c->mu);
  *out = c;
  return 0;
}

/* The end of close: the last connections go, DISCONNECTED, free. */
static void close_finish(weft_client *c) {
  notes n;
  memset(&n, 0, sizeof n);
  pthread_mutex_lock(&c->mu);
  bool was_connected = c->cur != NULL;
  retire_current(c);
  reap_dead(c, true);
  set_state(c, WEFT_CONN_DISCONNECTED, &n);
  n.disconnected = was_connected;
  pthread_mutex_unlock(&c->mu);
  fire(c, &n);
  client_free(c);
}

static void close_finish_post(void *ud) {
  close_finish(ud);
}

static void close_on_loop(weft_loop *l, weft_timer *t, void *ud);

/* A close made on the loop: it may not wait there for calls that other
 * threads own (their end may need the loop), nor for a reconnect attempt
 * (which registers its socket on the loop), so it looks again later. */
static void close_later(void *ud) {
  weft_client *c = ud;
  stop_attempt(c); /* at once, not when its time is up */
  pthread_mutex_lock(&c->mu);
  bool ready = c->ncalls == 0 && !c->connecting && c->subscribing == 0;
  pthread_mutex_unlock(&c->mu);
  if (!ready && weft_loop_timer(c->loop, 1, 0, close_on_loop, c))
    return;
  sup_stop(c);
  /* A supervisor step posted before the stop must run first. */
  if (weft_loop_post(c->loop, close_finish_post, c) < 0)
    close_finish(c);
}

static void close_on_loop(weft_loop *l, weft_timer *t, void *ud) {
  (void)l;
  (void)t;
  close_later(ud);
}

void weft_client_close(weft_client *c) {
  if (!c)
    return;
  notes n;
  memset(&n, 0, sizeof n);
  pthread_mutex_lock(&c->mu);
  if (c->closing) {
    pthread_mutex_unlock(&c->mu);
    return;
  }
  c->closing = true;
  set_state(c, WEFT_CONN_DISCONNECTING, &n);
  pthread_cond_broadcast(&c->cv);
  pthread_mutex_unlock(&c->mu);
  fire(c, &n);

  weft__subscriptions_cancel_all(c);
  weft__cancel_all_calls(c);
  if (weft_loop_in_thread(c->loop)) {
    /* From a callback on the loop (on_disconnect, an event): the rest
     * runs on the loop once this callback has returned. */
    if (weft_loop_post(c->loop, close_later, c) == 0)
      return;
  }
  /* Calls owned by other threads end once their owners finish them (the
   * cancel above unblocks them); a reconnect attempt under way ends (at
   * once where its transport can stop it); a weft_client_subscribe
   * waiting for its acknowledgement returns. No new attempt starts once
   * closing is set. */
  pthread_mutex_lock(&c->mu);
  bool connecting = c->connecting;
  pthread_mutex_unlock(&c->mu);
  if (connecting)
    weft_loop_run_sync(c->loop, stop_attempt, c);
  pthread_mutex_lock(&c->mu);
  while (c->ncalls > 0 || c->connecting || c->subscribing > 0)
    pthread_cond_wait(&c->cv, &c->mu);
  pthread_mutex_unlock(&c->mu);
  weft_loop_run_sync(c->loop, sup_stop, c);
  close_finish(c);
}

weft_conn_state weft_client_state(const weft_client *c) {
  weft_client *m = (weft_client *)c;
  pthread_mutex_lock(&m->mu);
  weft_conn_state s = m->state;
  pthread_mutex_unlock(&m->mu);
  return s;
}

const char *weft_client_url(const weft_client *c) {
  return c->url;
}

void weft_client_notify(weft_client *c, weft_conn_state state,
                        const weft_error *err) {
  if (!c)
    return;
  notes n;
  memset(&n, 0, sizeof n);
  pthread_mutex_lock(&c->mu);
  bool teardown = tl_tearing_down == c;
  switch (state) {
  case WEFT_CONN_DISCONNECTED:
  case WEFT_CONN_ERROR:
    note_error(&n, err);
    if (teardown || c->closing || !c->cur)
      break; /* not about the live connection */
    if (err)
      c->conn_err = *err;
    retire_current(c);
    set_state(c, state, &n);
    n.disconnected = true;
    if (c->opts.reconnect.enabled && !c->gave_up) {
      c->need_connect = true;
      c->attempt = 0;
      c->reconnect_due = 0;
      weft__client_kick(c);
    }
    break;
  case WEFT_CONN_CONNECTED:
    /* The runtime marks CONNECTED itself when connect returns; a transport
     * saying so again (e.g. after its own handshake) changes nothing. */
    if (c->cur && !c->closing)
      set_state(c, WEFT_CONN_CONNECTED, &n);
    break;
  case WEFT_CONN_CONNECTING:
  case WEFT_CONN_DISCONNECTING:
    break; /* runtime-driven states */
  }
  pthread_mutex_unlock(&c->mu);
  fire(c, &n);
}
