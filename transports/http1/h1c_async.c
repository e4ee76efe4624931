/* Asynchronous calls of the http:// and https:// client over HTTP/1.1
 * (weft_call_start_async), on the process-wide client loop.
 *
 * A call's life on the loop: IDLE until its request can go (close_send,
 * or a client stream's first message), then a connection from the pool:
 * an idle one at once, a new one opened on the loop (CONNECT), or a place in
 * the pool's queue (WAIT) when max_connections are busy. ACTIVE: the connection
 * is registered on the loop, the engine writes the request (a client stream's
 * queued messages as chunks) and parses the response, whose headers and
 * messages go to the runtime's events as they arrive. DONE: the connection goes
 * back to the pool (to the first waiting call) or is closed, and on_end runs
 * last. A deadline is a loop timer; a cancel (any thread) is posted to the loop
 * and closes the connection.
 *
 * New connections are opened on the loop too (transports/common/dial.h:
 * a non-blocking connect and TLS handshake, with weft__conn_connect's
 * checks and messages), so an unreachable server holds up only the calls
 * waiting for its connections, never another client's; only a host
 * name's lookup (getaddrinfo blocks) goes to the runtime's connector
 * thread.
 *
 * Lifetime: k->refs counts the runtime's reference (dropped by finish,
 * which the runtime calls after on_end), one per job posted to the loop
 * and one while a dial runs; every loop entry (job, timer, socket event) holds
 * one while it runs, so on_end may let the runtime finish the call inside it.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/dial.h"
#include "h1c_internal.h"

enum { A_IDLE, A_WAIT, A_CONNECT, A_ACTIVE, A_DONE };

/* A client stream's sender waits (off the loop) above this much queued. */
#define Q_BOUND (1u << 20)
/* Queued messages go to the engine while its output is below this. */
#define OUT_LOW (64u << 10)

static bool is_cancelled(const h1c_call *k) {
  return __atomic_load_n(&k->cancelled, __ATOMIC_ACQUIRE);
}

static void a_ref(h1c_call *k) {
  __atomic_add_fetch(&k->refs, 1, __ATOMIC_RELAXED);
}

static void a_unref(h1c_call *k) {
  if (__atomic_sub_fetch(&k->refs, 1, __ATOMIC_ACQ_REL) == 0)
    weft__h1c_call_free(k);
}

/* Runs fn(k) on the loop, with a reference. */
static void a_post(h1c_call *k, weft_post_fn fn) {
  a_ref(k);
  while (weft_loop_post(k->p->loop, fn, k) < 0)
    usleep(1000); /* out of memory: the call must still end */
}

static void a_finish(h1c_call *k, bool clean);
static void a_write(h1c_call *k);
static void a_read(h1c_call *k);
static void a_io(weft_loop *lp, int fd, unsigned events, void *ud);

static void a_unloop(h1c_call *k, h1c_link *l) {
  if (l->on_loop) {
    weft_loop_del_fd(k->p->loop, weft__conn_fd(l->sock));
    l->on_loop = false;
    l->loop_ev = 0;
  }
}

/* Registers for writes only while there is something to write (or TLS
 * needs the socket writable). */
static void a_interest(h1c_call *k) {
  h1c_link *l = k->link;
  const uint8_t *d;
  unsigned ev = WEFT_IO_READ;
  if (weft__h1c_output(l->eng, &d) > 0 || weft__conn_wants_write(l->sock))
    ev |= WEFT_IO_WRITE;
  if (l->on_loop && ev != l->loop_ev &&
      weft_loop_mod_fd(k->p->loop, weft__conn_fd(l->sock), ev) == 0)
    l->loop_ev = ev;
}

/* Ends the call with a local failure (the first cause is its status). */
static void a_fail(h1c_call *k, int rv, const weft_error *e) {
  if (k->astate == A_DONE)
    return;
  weft_error none;
  weft_error_clear(&none);
  weft__h1c_fail_status(k, rv, e ? e : &none);
  /* Granted meanwhile: the grant's job gives it back. CONNECT: the
   * connection being opened is dropped, its slot given back. */
  if (k->astate == A_WAIT)
    weft__h1c_pool_unwait(k->p, &k->w);
  if (k->astate == A_CONNECT && k->dial) {
    weft__dial_cancel(k->dial);
    k->dial = NULL;
    weft__h1c_pool_unopen(k->p);
    a_unref(k); /* the dial's; the caller holds another */
  }
  a_finish(k, false);
}

static void a_connected(void *ud, int rv, weft__conn *sock,
                        const weft_error *err);

static void a_connect(h1c_call *k) {
  k->astate = A_CONNECT;
  h1c_pool *p = k->p;
  weft_error e;
  weft_error_clear(&e);
  int64_t ms;
  int rv = weft__h1c_pool_connect_ms(p, k->deadline_ns, &ms, &e);
  if (rv == 0) {
    a_ref(k);
    rv = weft__dial_start(&k->dial, p->loop, p->host, p->port, p->tls,
                          p->server_name, ms, a_connected, k, &e);
    if (rv < 0)
      a_unref(k); /* the caller holds another */
  }
  if (rv < 0) {
    k->dial = NULL;
    weft__h1c_pool_unopen(p);
    a_fail(k, rv, &e);
  }
}

static void a_activate(h1c_call *k, h1c_link *l, bool reused) {
  h1c_pool *p = k->p;
  pthread_mutex_lock(&p->mu);
  k->link = l;
  pthread_mutex_unlock(&p->mu);
  k->reused = reused;
  k->attempts++;
  k->astate = A_ACTIVE;
  k->end_submitted = false;
  weft_error e;
  weft_error_clear(&e);
  int rv = weft__h1c_submit(k, &e);
  if (rv == 0) {
    rv = weft_loop_add_fd(p->loop, weft__conn_fd(l->sock),
                          WEFT_IO_READ | WEFT_IO_WRITE, a_io, l);
    if (rv < 0)
      weft_error_set(&e, rv, "registering the connection to %s: %s",
                     p->authority, weft_strerror(rv));
  }
  if (rv < 0) {
    a_fail(k, rv, &e);
    return;
  }
  l->on_loop = true;
  l->loop_ev = WEFT_IO_READ | WEFT_IO_WRITE;
  a_write(k);
}

/* The first request on a reused connection found it closed by the server
 * (its idle timeout raced with us): the same request on a new connection,
 * in the same slot. */
static void a_retry(h1c_call *k) {
  h1c_link *l = k->link;
  a_unloop(k, l);
  pthread_mutex_lock(&k->p->mu);
  k->link = NULL;
  pthread_mutex_unlock(&k->p->mu);
  weft__h1c_pool_discard(k->p, l);
  a_connect(k);
}

static void a_io_fail(h1c_call *k, int rv, const weft_error *e) {
  if (rv != WEFT_ERR_TIMEOUT && weft__h1c_retryable(k))
    a_retry(k);
  else
    a_fail(k, rv, e);
}

/* The engine's error says what and where in the response; the peer is
 * added, since a client talks to many. */
static void a_engine_fail(h1c_call *k, int rv, const weft_error *e) {
  weft_error e2;
  weft_error_set(&e2, rv, "%s (from %s)", e->message,
                 weft__conn_peer(k->link->sock));
  a_io_fail(k, rv, &e2);
}

static void a_acquire(h1c_call *k) {
  h1c_link *l = NULL;
  int r = weft__h1c_pool_take(k->p, &k->w, &l);
  if (r < 0) {
    weft_error e;
    weft_error_set(&e, WEFT_ERR_CLOSED, "client is closed");
    a_fail(k, WEFT_ERR_CLOSED, &e);
  } else if (r == H1C_TAKE_LINK) {
    a_activate(k, l, l->eng != NULL);
  } else if (r == H1C_TAKE_OPEN) {
    a_connect(k);
  } else {
    k->astate = A_WAIT;
  }
}

static void a_deadline(weft_loop *lp, weft_timer *t, void *ud) {
  (void)lp;
  (void)t;
  h1c_call *k = ud;
  a_ref(k);
  k->timer = NULL; /* a one-shot: freed by the loop when this returns */
  weft_error e;
  weft_error_set(&e, WEFT_ERR_TIMEOUT, "deadline exceeded");
  a_fail(k, WEFT_ERR_TIMEOUT, &e);
  a_unref(k);
}

/* What the call's state asks for next (loop thread). */
static void a_step(h1c_call *k) {
  if (k->astate == A_DONE)
    return;
  if (!k->timer_armed) {
    k->timer_armed = true;
    if (k->deadline_ns != INT64_MAX) {
      int64_t ms = (k->deadline_ns - weft_now_ns() + 999999) / 1000000;
      k->timer = weft_loop_timer(k->p->loop, ms, 0, a_deadline, k);
    }
  }
  if (is_cancelled(k)) {
    a_fail(k, WEFT_ERR_CANCELLED, NULL);
    return;
  }
  if (k->astate == A_IDLE) {
    pthread_mutex_lock(&k->p->mu);
    bool go = k->q_end || (k->chunked && k->q_head);
    pthread_mutex_unlock(&k->p->mu);
    if (!go)
      return;
    if (!k->chunked && !k->have_body) {
      weft_error e;
      weft_error_set(&e, WEFT_ERR_STATE, "no request message was sent");
      weft__connect_resp_status(&k->resp, WEFT_STATUS_INTERNAL, "%s",
                                e.message);
      a_fail(k, WEFT_ERR_STATE, &e);
      return;
    }
    a_acquire(k);
  } else if (k->astate == A_ACTIVE) {
    a_write(k);
    if (k->astate == A_ACTIVE)
      a_interest(k);
  }
}

static void a_kick_job(void *arg) {
  h1c_call *k = arg;
  pthread_mutex_lock(&k->p->mu);
  k->kick_posted = false;
  pthread_mutex_unlock(&k->p->mu);
  a_step(k);
  a_unref(k);
}

static void a_cancel_job(void *arg) {
  h1c_call *k = arg;
  a_fail(k, WEFT_ERR_CANCELLED, NULL);
  a_unref(k);
}

/* The dial's outcome, on the loop (never after a_fail cancelled it). */
static void a_connected(void *ud, int rv, weft__conn *sock,
                        const weft_error *err) {
  h1c_call *k = ud;
  k->dial = NULL;
  h1c_link *l = NULL;
  weft_error e;
  weft_error_clear(&e);
  if (rv == 0)
    rv = weft__h1c_pool_adopt(k->p, sock, &l, &e);
  else
    e = *err;
  if (rv < 0) {
    weft__h1c_pool_unopen(k->p);
    a_fail(k, rv, &e);
  } else {
    a_activate(k, l, false);
  }
  a_unref(k); /* the dial's */
}

static void a_granted_job(void *arg) {
  h1c_call *k = arg;
  h1c_pool *p = k->p;
  pthread_mutex_lock(&p->mu);
  h1c_link *l = k->w.link;
  bool slot = k->w.slot;
  k->w.link = NULL;
  k->w.slot = false;
  pthread_mutex_unlock(&p->mu);
  if (k->astate != A_WAIT) { /* ended meanwhile: give it back */
    if (l)
      weft__h1c_pool_put(p, l, true);
    else if (slot)
      weft__h1c_pool_unopen(p);
  } else if (l) {
    a_activate(k, l, l->eng != NULL);
  } else if (slot) {
    a_connect(k);
  } else {
    weft_error e;
    weft_error_set(&e, WEFT_ERR_CLOSED, "client is closed");
    a_fail(k, WEFT_ERR_CLOSED, &e);
  }
  a_unref(k);
}

void weft__h1c_async_granted(h1c_call *k) {
  a_post(k, a_granted_job);
}

/* ---- the exchange ---- */

/* A client stream's queued messages into the engine, then the engine's
 * output onto the socket. */
static void a_write(h1c_call *k) {
  h1c_link *l = k->link;
  h1c_pool *p = k->p;
  const uint8_t *d;
again:
  while (k->chunked && !k->end_submitted &&
         weft__h1c_output(l->eng, &d) < OUT_LOW) {
    pthread_mutex_lock(&p->mu);
    h1c_qmsg *q = k->q_head;
    if (q) {
      k->q_head = q->next;
      if (!k->q_head)
        k->q_tail = NULL;
      k->q_bytes -= q->len;
      pthread_cond_broadcast(&k->q_cv);
    }
    bool end = !q && k->q_end;
    pthread_mutex_unlock(&p->mu);
    int rv = 0;
    if (q) {
      rv = weft__h1c_submit_data(l->eng, q->data, q->len);
      free(q);
    } else if (end) {
      k->end_submitted = true;
      rv = weft__h1c_submit_end(l->eng, NULL, 0);
    } else {
      break;
    }
    if (rv < 0) {
      weft_error e;
      weft_error_set(&e, rv, "cannot frame the HTTP/1.1 request for %s",
                     k->m->path);
      a_fail(k, rv, &e);
      return;
    }
  }
  for (;;) {
    size_t n = weft__h1c_output(l->eng, &d);
    if (n == 0) {
      pthread_mutex_lock(&p->mu);
      bool more = k->chunked && !k->end_submitted && (k->q_head || k->q_end);
      pthread_mutex_unlock(&p->mu);
      if (more) /* all written: the next queued messages */
        goto again;
      return;
    }
    ssize_t w = weft__conn_write(l->sock, d, n);
    if (w > 0) {
      weft__h1c_consume(l->eng, (size_t)w);
      continue;
    }
    if (w == WEFT_ERR_AGAIN)
      return;
    weft_error e;
    weft__h1c_sock_error(l, w, "writing to", &e);
    /* The server may have answered early and closed: read that first. */
    a_read(k);
    if (k->astate == A_ACTIVE)
      a_io_fail(k, (int)e.code, &e);
    return;
  }
}

/* Hands the runtime what the engine parsed so far. */
static void a_deliver(h1c_call *k) {
  if (k->resp.http_status && !k->headers_told) {
    k->headers_told = true;
    if (k->ev->on_headers)
      k->ev->on_headers(k->ud, &k->resp.md);
  }
  if (k->enveloped) {
    weft__connect_msg *n;
    while (!is_cancelled(k) && (n = weft__connect_resp_pop(&k->resp))) {
      void *msg = NULL;
      int rv = weft__h1c_decode(k, n->data, n->len,
                                (n->flags & WEFT__CONNECT_FLAG_COMPRESSED) != 0,
                                k->arena, &msg);
      free(n);
      if (rv < 0) {
        a_finish(k, false);
        return;
      }
      k->ev->on_message(k->ud, msg);
    }
  }
  if (k->done)
    a_finish(k, true);
}

static void a_read(h1c_call *k) {
  uint8_t buf[16384];
  /* At most 256 KiB per wake-up: the loop serves every connection. */
  for (int round = 0; round < 16 && k->astate == A_ACTIVE; round++) {
    h1c_link *l = k->link;
    weft_error e;
    e.code = 0;
    e.message[0] = '\0';
    ssize_t r = weft__conn_read(l->sock, buf, sizeof buf);
    if (r > 0) {
      ssize_t used = weft__h1c_feed(l->eng, buf, (size_t)r, &e);
      if (used < 0) {
        a_engine_fail(k, (int)used, &e);
        return;
      }
      if ((size_t)used < (size_t)r) {
        k->link_bad = true; /* bytes nobody asked for */
        if (!k->done) {
          weft_error_set(&e, WEFT_ERR_PROTOCOL,
                         "HTTP/1.1 response: %zd bytes from %s after the "
                         "end of the response",
                         r - used, weft__conn_peer(l->sock));
          a_fail(k, WEFT_ERR_PROTOCOL, &e);
          return;
        }
      }
      a_deliver(k);
      continue;
    }
    if (r == 0) {
      l->eof = true;
      int rv = weft__h1c_feed_eof(l->eng, &e);
      if (rv == 0 && !k->done)
        rv = weft_error_set(&e, WEFT_ERR_TRUNCATED,
                            "HTTP/1.1 response: the connection closed "
                            "before the response to %s",
                            k->m->path);
      if (rv < 0)
        a_engine_fail(k, rv, &e);
      else
        a_deliver(k);
      return;
    }
    if (r == WEFT_ERR_AGAIN)
      return;
    weft__h1c_sock_error(l, r, "reading from", &e);
    a_io_fail(k, (int)r, &e);
    return;
  }
}

static void a_io(weft_loop *lp, int fd, unsigned events, void *ud) {
  (void)lp;
  (void)fd;
  h1c_call *k = ((h1c_link *)ud)->call;
  if (!k)
    return;
  a_ref(k);
  if (events & WEFT_IO_WRITE)
    a_write(k);
  if (k->astate == A_ACTIVE && (events & (WEFT_IO_READ | WEFT_IO_ERROR)))
    a_read(k);
  if (k->astate == A_ACTIVE)
    a_interest(k);
  a_unref(k);
}

/* The end: a unary answer's message, the connection back to the pool or
 * closed, and on_end last (the runtime may finish the call inside it; the
 * caller holds a reference). */
static void a_finish(h1c_call *k, bool clean) {
  h1c_pool *p = k->p;
  k->astate = A_DONE;
  if (k->timer) {
    weft_timer_cancel(p->loop, k->timer);
    k->timer = NULL;
  }
  if (clean && !k->enveloped && !is_cancelled(k) && k->resp.have_status &&
      k->resp.st.code == WEFT_STATUS_OK) {
    void *msg = NULL;
    if (weft__h1c_decode(k, k->resp.body, k->resp.body_len, k->resp.gzip,
                         k->arena, &msg) == 0)
      k->ev->on_message(k->ud, msg);
  }
  k->done = true;
  pthread_mutex_lock(&p->mu);
  h1c_link *l = k->link;
  k->link = NULL;
  k->over = true;
  pthread_cond_broadcast(&k->q_cv);
  pthread_mutex_unlock(&p->mu);
  if (l) {
    bool reusable = clean && !k->link_bad && !is_cancelled(k) && l->eng &&
                    weft__h1c_reusable(l->eng);
    a_unloop(k, l);
    weft__h1c_pool_put(p, l, reusable);
  }
  weft__connect_resp_drop(&k->resp);
  k->ev->on_end(k->ud);
}

/* ---- the transport's functions ---- */

int weft__h1c_call_start_async(h1c_pool *p, const weft_method_desc *m,
                               const weft_metadata *md, int64_t deadline_ns,
                               weft_arena *arena, const weft_call_events *ev,
                               void *ud, void **tcall, weft_error *err) {
  h1c_call *k = NULL;
  int rv = weft__h1c_call_new(p, m, md, deadline_ns, &k, err);
  if (rv < 0)
    return rv;
  k->async = true;
  k->ev = ev;
  k->ud = ud;
  k->arena = arena;
  k->w.async = k;
  *tcall = k;
  return 0;
}

/* close_send or a queued message: the loop takes it from there. */
static void a_kick(h1c_call *k) {
  pthread_mutex_lock(&k->p->mu);
  bool post = !k->kick_posted && !k->over;
  k->kick_posted |= post;
  pthread_mutex_unlock(&k->p->mu);
  if (post)
    a_post(k, a_kick_job);
}

int weft__h1c_async_send(h1c_call *k, const void *msg) {
  if (k->req_ended)
    return WEFT_ERR_STATE;
  h1c_pool *p = k->p;
  pthread_mutex_lock(&p->mu);
  bool over = k->over;
  pthread_mutex_unlock(&p->mu);
  if (over)
    return is_cancelled(k) ? WEFT_ERR_CANCELLED : WEFT_ERR_CLOSED;
  uint8_t *buf;
  size_t len;
  int rv = weft__h1c_encode(k, msg, &buf, &len);
  if (rv < 0)
    return rv;
  if (!k->chunked) { /* one message: it goes at close_send */
    free(k->body);
    k->body = buf;
    k->body_len = len;
    k->have_body = true;
    return 0;
  }
  h1c_qmsg *q = malloc(sizeof *q + len);
  if (!q) {
    free(buf);
    return WEFT_ERR_NOMEM;
  }
  q->next = NULL;
  q->len = len;
  memcpy(q->data, buf, len);
  free(buf);
  pthread_mutex_lock(&p->mu);
  /* Backpressure, as on tcp/ws: wait while much is queued, never on the
   * loop (which drains the queue). */
  while (k->q_bytes > Q_BOUND && !k->over && !is_cancelled(k) &&
         !weft_loop_in_thread(p->loop))
    pthread_cond_wait(&k->q_cv, &p->mu);
  over = k->over;
  if (!over) {
    if (k->q_tail)
      k->q_tail->next = q;
    else
      k->q_head = q;
    k->q_tail = q;
    k->q_bytes += len;
  }
  pthread_mutex_unlock(&p->mu);
  if (over) {
    free(q);
    return is_cancelled(k) ? WEFT_ERR_CANCELLED : WEFT_ERR_CLOSED;
  }
  a_kick(k);
  return 0;
}

int weft__h1c_async_close_send(h1c_call *k) {
  if (k->req_ended)
    return 0;
  k->req_ended = true;
  pthread_mutex_lock(&k->p->mu);
  k->q_end = true;
  pthread_mutex_unlock(&k->p->mu);
  a_kick(k);
  return 0;
}

int weft__h1c_async_finish(h1c_call *k, weft_status *st, weft_metadata *md) {
  if (st)
    weft_status_move(st, &k->resp.st);
  if (md)
    weft_metadata_copy(md, &k->resp.md);
  a_unref(k);
  return 0;
}

void weft__h1c_async_cancel(h1c_call *k) {
  __atomic_store_n(&k->cancelled, true, __ATOMIC_RELEASE);
  pthread_mutex_lock(&k->p->mu);
  pthread_cond_broadcast(&k->q_cv);
  pthread_mutex_unlock(&k->p->mu);
  a_post(k, a_cancel_job);
}
