/* The client's connection lifecycle: open, state and callbacks, the
 * supervisor thread (reconnect with backoff, deadline watch, disconnecting
 * dead connections), close. Calls live in call.c. */
#include <stdlib.h>
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
  pthread_cond_signal(&c->sup_cv);
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

/* One connection attempt; c->mu held on entry and exit. */
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
  weft__conn_slot *slot = rv == 0 ? slot_new(conn) : NULL;
  if (rv == 0 && !slot) {
    c->t->disconnect(conn);
    rv = weft_error_set(&err, WEFT_ERR_NOMEM, "%s: out of memory", c->url);
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
  if (err.code == 0)
    weft_error_set(&err, rv, "%s: %s", c->url, weft_strerror(rv));
  note_error(n, &err);
  c->conn_err = err;
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

static void *supervisor(void *arg) {
  weft_client *c = arg;
  notes n;
  memset(&n, 0, sizeof n);
  pthread_mutex_lock(&c->mu);
  while (!c->closing) {
    reap_dead(c, false);
    int64_t now = weft_now_ns();
    int64_t wake = weft__expire_calls(c, now);
    if (c->need_connect && !c->gave_up && !c->closing) {
      if (c->reconnect_due == 0)
        c->reconnect_due = now + reconnect_delay_ms(c, c->attempt) * 1000000;
      if (weft_now_ns() >= c->reconnect_due) {
        try_connect(c, &n);
        pthread_mutex_unlock(&c->mu);
        fire(c, &n);
        pthread_mutex_lock(&c->mu);
        continue;
      }
      if (c->reconnect_due < wake)
        wake = c->reconnect_due;
    }
    if (c->closing)
      break;
    /* Dead connections with no calls left are reaped at the loop top. */
    bool reapable = false;
    for (weft__conn_slot *s = c->dead; s; s = s->next)
      reapable |= s->refs == 0;
    if (reapable)
      continue;
    c->next_deadline = wake;
    weft__cond_wait_until(&c->sup_cv, &c->mu, wake);
  }
  pthread_mutex_unlock(&c->mu);
  return NULL;
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
  pthread_cond_destroy(&c->sup_cv);
  pthread_cond_destroy(&c->cv);
  pthread_mutex_destroy(&c->mu);
  weft_metadata_clear(&c->md);
  free(c->url);
  free(c);
}

int weft_client_open(weft_client **out, const char *url,
                     const weft_client_opts *opts, weft_error *errp) {
  weft_error err;
  weft_error_clear(&err);
  if (errp)
    weft_error_clear(errp);
  if (!out || !url)
    return weft_error_set(errp, WEFT_ERR_INVAL,
                          "weft_client_open: out and url are required");
  *out = NULL;
  weft_transports_init();
  weft_client *c = calloc(1, sizeof *c);
  if (!c)
    return weft_error_set(errp, WEFT_ERR_NOMEM, "out of memory");
  int rv = weft_url_parse(url, &c->u, &err);
  if (rv >= 0 && !(c->t = weft_find_client_transport(c->u.scheme)))
    rv = weft_error_set(&err, WEFT_ERR_UNKNOWN_SCHEME,
                        "%s: no transport registered for scheme \"%s\"", url,
                        c->u.scheme);
  if (rv >= 0)
    rv = weft_opts_check(opts ? opts->transport_opts : NULL,
                         "weft_client_open: transport_opts", &err);
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
  pthread_mutex_init(&c->mu, NULL);
  weft__cond_init(&c->cv);
  weft__cond_init(&c->sup_cv);
  weft__breaker_init(&c->breaker, c->opts.breaker.failure_threshold,
                     c->opts.breaker.reset_timeout_ms);
  c->rng.s = (uint64_t)weft_now_ns() ^ (uint64_t)(uintptr_t)c;
  c->state = WEFT_CONN_DISCONNECTED;
  c->next_deadline = INT64_MAX;

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
  if (retrying)
    c->need_connect = true;
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
  if (pthread_create(&c->sup, NULL, supervisor, c) != 0) {
    weft_client_close(c);
    return WEFT_ERR_NOMEM;
  }
  c->has_sup = true;
  *out = c;
  return 0;
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
  pthread_cond_signal(&c->sup_cv);
  pthread_mutex_unlock(&c->mu);
  fire(c, &n);

  weft__subscriptions_cancel_all(c);
  weft__cancel_all_calls(c);
  /* Calls owned by other threads end once their owners finish them (the
   * cancel above unblocks them). */
  pthread_mutex_lock(&c->mu);
  while (c->ncalls > 0)
    pthread_cond_wait(&c->cv, &c->mu);
  pthread_mutex_unlock(&c->mu);
  if (c->has_sup)
    pthread_join(c->sup, NULL);

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
      pthread_cond_signal(&c->sup_cv);
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
