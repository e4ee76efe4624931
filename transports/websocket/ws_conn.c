/* A WebSocket connection on weft_loop: reading and parsing on the loop
 * thread, writing from any thread under the connection's mutex (a send
 * from a worker goes straight to the socket; only a full socket buffer
 * hands the rest to the loop), the close handshake with close_timeout,
 * ping/pong keepalive, and the per-connection limits. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accept.h"
#include "weft/error.h"
#include "weft/transport.h"
#include "ws_conn.h"

static void destroy(weft_ws_conn *c, int code, const char *reason);

static void free_conn(weft_ws_conn *c) {
  weft__ws_rx_free(&c->rx);
  weft__ws_tx_free(&c->tx);
  free(c->hs);
  free(c->path);
  pthread_mutex_destroy(&c->mu);
  pthread_cond_destroy(&c->wcv);
  free(c);
}

void weft_ws_conn_ref(weft_ws_conn *c) {
  atomic_fetch_add(&c->refs, 1);
}

void weft_ws_conn_unref(weft_ws_conn *c) {
  if (c && atomic_fetch_sub(&c->refs, 1) == 1)
    free_conn(c);
}

weft_ws_conn *weft__ws_conn_new(weft_loop *loop, weft__conn *io,
                                const weft__ws_cfg *cfg, bool server) {
  weft_ws_conn *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  atomic_init(&c->refs, 1); /* the loop's */
  c->loop = loop;
  c->io = io;
  c->fd = weft__conn_fd(io);
  c->cfg = cfg;
  c->server = server;
  pthread_mutex_init(&c->mu, NULL);
  pthread_cond_init(&c->wcv, NULL);
  weft__ws_tx_init(&c->tx, !server, NULL, NULL);
  weft__ws_rx_init(&c->rx, server, cfg->max_size);
  snprintf(c->peer, sizeof c->peer, "%s", weft__conn_peer(io));
  /* The address without the port, for the per-IP limit. */
  snprintf(c->ip, sizeof c->ip, "%s", weft__conn_ip(io));
  c->state = server ? WEFT__WSC_HANDSHAKE : WEFT__WSC_OPEN;
  return c;
}

/* ---- writing (any thread, under mu) ---- */

/* The epoll interest: READ unless paused, WRITE while output waits. */
static unsigned interest_locked(const weft_ws_conn *c) {
  return (c->paused ? 0u : WEFT_IO_READ) |
         (c->write_armed ? WEFT_IO_WRITE : 0u);
}

static void arm_task(void *ud) {
  weft_ws_conn *c = ud;
  pthread_mutex_lock(&c->mu);
  c->arm_posted = false;
  size_t len;
  weft__ws_tx_data(&c->tx, &len);
  if (!c->dead && !c->write_armed && len) {
    c->write_armed = true;
    weft_loop_mod_fd(c->loop, c->fd, interest_locked(c));
  }
  pthread_mutex_unlock(&c->mu);
  weft_ws_conn_unref(c);
}

static void arm_write_locked(weft_ws_conn *c) {
  if (c->write_armed)
    return;
  if (weft_loop_in_thread(c->loop)) {
    c->write_armed = true;
    weft_loop_mod_fd(c->loop, c->fd, interest_locked(c));
  } else if (!c->arm_posted) {
    c->arm_posted = true;
    weft_ws_conn_ref(c);
    if (weft_loop_post(c->loop, arm_task, c) != 0) {
      c->arm_posted = false;
      atomic_fetch_sub(&c->refs, 1); /* never the last: the loop holds one */
    }
  }
}

/* Writes what is queued. 0 (all written or the rest waits for WRITE) or
 * WEFT_ERR_CLOSED/_IO/_TLS. */
static int flush_locked(weft_ws_conn *c) {
  for (;;) {
    if (c->dead)
      return WEFT_ERR_CLOSED;
    size_t len;
    const uint8_t *d = weft__ws_tx_data(&c->tx, &len);
    if (!len)
      return 0;
    ssize_t n = weft__conn_write(c->io, d, len);
    if (n > 0) {
      weft__ws_tx_consume(&c->tx, (size_t)n);
      if (c->wwaiters)
        pthread_cond_broadcast(&c->wcv);
    } else if (n == WEFT_ERR_AGAIN) {
      arm_write_locked(c);
      return 0;
    } else {
      return n < 0 ? (int)n : WEFT_ERR_IO;
    }
  }
}

static void fail_task(void *ud) {
  weft_ws_conn *c = ud;
  destroy(c, WEFT__WS_CLOSE_ABNORMAL, "write failed");
  weft_ws_conn_unref(c);
}

/* After a failed write off the loop thread: let the loop drop it. */
static void post_fail_locked(weft_ws_conn *c) {
  if (c->fail_posted || c->dead)
    return;
  c->fail_posted = true;
  weft_ws_conn_ref(c);
  if (weft_loop_post(c->loop, fail_task, c) != 0)
    atomic_fetch_sub(&c->refs, 1);
}

static size_t pending(weft_ws_conn *c) {
  pthread_mutex_lock(&c->mu);
  size_t len;
  weft__ws_tx_data(&c->tx, &len);
  pthread_mutex_unlock(&c->mu);
  return len;
}

/* Output waiting beyond this makes senders off the loop thread wait for
 * the peer to read (backpressure instead of unbounded buffering). */
#define WEFT__WS_WQ_LIMIT (8u << 20)

int weft_ws_conn_send(weft_ws_conn *c, bool text, const void *data,
                      size_t len) {
  pthread_mutex_lock(&c->mu);
  if (!weft_loop_in_thread(c->loop)) {
    size_t queued;
    while (!c->dead &&
           (weft__ws_tx_data(&c->tx, &queued), queued) > WEFT__WS_WQ_LIMIT) {
      c->wwaiters++;
      pthread_cond_wait(&c->wcv, &c->mu);
      c->wwaiters--;
    }
  }
  int rv = WEFT_ERR_CLOSED;
  if (!c->dead) {
    rv = weft__ws_tx_message(
        &c->tx, text ? WEFT__WS_OP_TEXT : WEFT__WS_OP_BINARY, data, len);
    /* On the loop thread while a read batch is processed, sends are queued
     * and written once after the batch: one syscall for many echoes. */
    bool defer = weft_loop_in_thread(c->loop) && c->batching;
    if (rv == 0 && c->cfg->idle_timeout_ms > 0)
      atomic_store(&c->last_msg_ns, weft_now_ns());
    /* Off the loop, part of a batch (an event to many subscribers): the
     * loop writes the batch's messages to this connection together. */
    if (rv == 0 && !defer && !weft_loop_in_thread(c->loop) &&
        weft_server_sending_batch()) {
      arm_write_locked(c);
      defer = true;
    }
    if (rv == 0 && !defer && (rv = flush_locked(c)) < 0) {
      if (weft_loop_in_thread(c->loop)) {
        pthread_mutex_unlock(&c->mu);
        destroy(c, WEFT__WS_CLOSE_ABNORMAL, "write failed");
        return WEFT_ERR_CLOSED;
      }
      post_fail_locked(c);
      rv = WEFT_ERR_CLOSED;
    }
  }
  pthread_mutex_unlock(&c->mu);
  return rv;
}

/* ---- the close handshake and teardown (loop thread) ---- */

static void report_close(weft_ws_conn *c) {
  if (c->h && !c->close_reported) {
    c->close_reported = true;
    if (c->h->on_close)
      c->h->on_close(c, c->close_code, c->close_reason, c->h_ud);
  }
}

static void cancel(weft_ws_conn *c, weft_timer **t) {
  if (*t) {
    weft_timer_cancel(c->loop, *t);
    *t = NULL;
  }
}

static void set_close(weft_ws_conn *c, int code, const char *reason,
                      size_t len) {
  if (c->close_code)
    return; /* the first reason to close is the one reported */
  c->close_code = code;
  snprintf(c->close_reason, sizeof c->close_reason, "%.*s", (int)len,
           reason ? reason : "");
}

static void destroy(weft_ws_conn *c, int code, const char *reason) {
  if (c->state == WEFT__WSC_DEAD)
    return;
  if (c->cb_depth > 0) {
    /* Inside the handler (e.g. a send that failed): on_close must not run
     * under its feet; finish when the callback returns. */
    set_close(c, code, reason, reason ? strlen(reason) : 0);
    c->destroy_pending = true;
    return;
  }
  c->state = WEFT__WSC_DEAD;
  cancel(c, &c->hs_timer);
  cancel(c, &c->ping_timer);
  cancel(c, &c->pong_timer);
  cancel(c, &c->close_timer);
  cancel(c, &c->life_timer);
  cancel(c, &c->idle_timer);
  weft_loop_del_fd(c->loop, c->fd);
  pthread_mutex_lock(&c->mu);
  c->dead = true;
  pthread_cond_broadcast(&c->wcv);
  weft__conn_close(c->io);
  c->io = NULL;
  pthread_mutex_unlock(&c->mu);
  set_close(c, code, reason, reason ? strlen(reason) : 0);
  report_close(c);
  if (c->on_dead)
    c->on_dead(c);
  weft_ws_conn_unref(c);
}

void weft__ws_conn_destroy(weft_ws_conn *c, int code, const char *reason) {
  destroy(c, code, reason);
}

static void close_timeout_fn(weft_loop *l, weft_timer *t, void *ud) {
  (void)l, (void)t;
  weft_ws_conn *c = ud;
  c->close_timer = NULL;
  destroy(c, WEFT__WS_CLOSE_ABNORMAL, "close handshake timed out");
}

static void arm_close_timer(weft_ws_conn *c) {
  if (!c->close_timer)
    c->close_timer = weft_loop_timer(c->loop, c->cfg->close_timeout_ms, 0,
                                     close_timeout_fn, c);
}

/* Flush what is queued, then drop (bounded by close_timeout). */
static void drain(weft_ws_conn *c) {
  c->state = WEFT__WSC_DRAIN;
  cancel(c, &c->ping_timer);
  cancel(c, &c->pong_timer);
  cancel(c, &c->life_timer);
  if (pending(c) == 0) {
    destroy(c, WEFT__WS_CLOSE_ABNORMAL, "");
    return;
  }
  arm_close_timer(c);
}

/* Protocol error or limit: close frame with the code, then drop. */
static void fail(weft_ws_conn *c, int code, const char *what) {
  set_close(c, code, what, strlen(what));
  pthread_mutex_lock(&c->mu);
  weft__ws_tx_close(&c->tx, (uint16_t)code, what);
  int r = flush_locked(c);
  pthread_mutex_unlock(&c->mu);
  if (r < 0)
    destroy(c, WEFT__WS_CLOSE_ABNORMAL, "write failed");
  else
    drain(c);
}

void weft__ws_conn_close_now(weft_ws_conn *c, int code, const char *reason) {
  if (c->state == WEFT__WSC_HANDSHAKE) {
    destroy(c, code, reason);
    return;
  }
  if (c->state != WEFT__WSC_OPEN)
    return;
  set_close(c, code, reason, reason ? strlen(reason) : 0);
  pthread_mutex_lock(&c->mu);
  weft__ws_tx_close(&c->tx, (uint16_t)code, reason);
  int r = flush_locked(c);
  pthread_mutex_unlock(&c->mu);
  if (r < 0) {
    destroy(c, WEFT__WS_CLOSE_ABNORMAL, "write failed");
    return;
  }
  c->state = WEFT__WSC_CLOSING;
  cancel(c, &c->ping_timer);
  cancel(c, &c->pong_timer);
  cancel(c, &c->life_timer);
  arm_close_timer(c);
}

struct close_req {
  weft_ws_conn *c;
  int code;
  char reason[124];
};

static void close_task(void *ud) {
  struct close_req *r = ud;
  weft__ws_conn_close_now(r->c, r->code, r->reason);
  weft_ws_conn_unref(r->c);
  free(r);
}

int weft_ws_conn_close(weft_ws_conn *c, int code, const char *reason) {
  if (!weft__ws_close_code_valid((unsigned)code))
    return WEFT_ERR_INVAL;
  pthread_mutex_lock(&c->mu);
  bool gone = c->dead || c->tx.close_sent;
  pthread_mutex_unlock(&c->mu);
  if (gone)
    return 0;
  if (weft_loop_in_thread(c->loop)) {
    weft__ws_conn_close_now(c, code, reason);
    return 0;
  }
  struct close_req *r = calloc(1, sizeof *r);
  if (!r)
    return WEFT_ERR_NOMEM;
  r->c = c;
  r->code = code;
  snprintf(r->reason, sizeof r->reason, "%s", reason ? reason : "");
  weft_ws_conn_ref(c);
  int rv = weft_loop_post(c->loop, close_task, r);
  if (rv != 0) {
    atomic_fetch_sub(&c->refs, 1);
    free(r);
  }
  return rv;
}

/* The peer's close frame. */
static void on_peer_close(weft_ws_conn *c, int code, const uint8_t *reason,
                          size_t len) {
  if (c->state == WEFT__WSC_OPEN) {
    set_close(c, code, (const char *)reason, len);
    pthread_mutex_lock(&c->mu);
    /* Echo the code (RFC 6455 5.5.1). */
    weft__ws_tx_close(
        &c->tx, code == WEFT__WS_CLOSE_NO_STATUS ? 0 : (uint16_t)code, NULL);
    int r = flush_locked(c);
    pthread_mutex_unlock(&c->mu);
    if (r < 0) {
      destroy(c, WEFT__WS_CLOSE_ABNORMAL, "write failed");
      return;
    }
  }
  if (c->server) {
    drain(c); /* the server closes TCP first (RFC 6455 7.1.1) */
  } else {
    c->state = WEFT__WSC_WAIT_EOF;
    arm_close_timer(c);
  }
}

/* ---- keepalive and limits ---- */

static void pong_timeout_fn(weft_loop *l, weft_timer *t, void *ud) {
  (void)l, (void)t;
  weft_ws_conn *c = ud;
  c->pong_timer = NULL;
  if (c->ping_out && c->state == WEFT__WSC_OPEN)
    fail(c, WEFT__WS_CLOSE_INTERNAL, "keepalive ping timeout");
}

static void ping_fn(weft_loop *l, weft_timer *t, void *ud) {
  (void)l, (void)t;
  weft_ws_conn *c = ud;
  if (c->state != WEFT__WSC_OPEN || c->ping_out)
    return;
  int64_t now = weft_now_ns();
  uint8_t p[8];
  for (int i = 0; i < 8; i++)
    p[i] = (uint8_t)(now >> (56 - 8 * i));
  pthread_mutex_lock(&c->mu);
  weft__ws_tx_ping(&c->tx, p, sizeof p);
  int r = flush_locked(c);
  pthread_mutex_unlock(&c->mu);
  if (r < 0) {
    destroy(c, WEFT__WS_CLOSE_ABNORMAL, "write failed");
    return;
  }
  c->ping_out = true;
  c->pong_timer =
      weft_loop_timer(c->loop, c->cfg->ping_timeout_ms, 0, pong_timeout_fn, c);
}

static void idle_fn(weft_loop *l, weft_timer *t, void *ud) {
  (void)l, (void)t;
  weft_ws_conn *c = ud;
  if (c->busy_fn && c->busy_fn(c->busy_ud) > 0) { /* a quiet stream */
    atomic_store(&c->last_msg_ns, weft_now_ns());
    return;
  }
  int64_t quiet = weft_now_ns() - atomic_load(&c->last_msg_ns);
  if (c->state == WEFT__WSC_OPEN && quiet >= c->cfg->idle_timeout_ms * 1000000)
    weft__ws_conn_close_now(c, WEFT__WS_CLOSE_GOING_AWAY, "idle timeout");
}

static void life_fn(weft_loop *l, weft_timer *t, void *ud) {
  (void)l, (void)t;
  weft_ws_conn *c = ud;
  c->life_timer = NULL;
  weft__ws_conn_close_now(c, WEFT__WS_CLOSE_POLICY,
                          "maximum connection duration reached");
}

static bool rate_ok(weft_ws_conn *c) {
  unsigned max = c->cfg->max_msgs_per_sec;
  if (!c->server || max == 0)
    return true;
  int64_t now = weft_now_ns();
  if (now - c->rate_win_ns >= 1000000000) {
    c->rate_win_ns = now;
    c->rate_n = 0;
  }
  return ++c->rate_n <= max;
}

/* ---- reading (loop thread) ---- */

/* After a handler callback: runs a destroy it asked for. True if the
 * connection is gone. */
static bool leave_callback(weft_ws_conn *c) {
  if (--c->cb_depth > 0 || !c->destroy_pending)
    return c->state == WEFT__WSC_DEAD;
  c->destroy_pending = false;
  destroy(c, WEFT__WS_CLOSE_ABNORMAL, "write failed");
  return true;
}

static void process_frames(weft_ws_conn *c, uint8_t *data, size_t n) {
  while (n > 0 &&
         (c->state == WEFT__WSC_OPEN || c->state == WEFT__WSC_CLOSING)) {
    weft__ws_event ev;
    size_t used = weft__ws_rx_parse(&c->rx, data, n, &ev);
    data += used;
    n -= used;
    switch (ev.type) {
    case WEFT__WS_EV_MESSAGE:
      if (c->idle_timer)
        atomic_store(&c->last_msg_ns, weft_now_ns());
      if (!rate_ok(c)) {
        fail(c, WEFT__WS_CLOSE_POLICY, "message rate limit exceeded");
        return;
      }
      if (c->state == WEFT__WSC_OPEN && c->h && c->h->on_message) {
        c->cb_depth++;
        c->h->on_message(c, ev.opcode == WEFT__WS_OP_TEXT, ev.data, ev.len,
                         c->h_ud);
        if (leave_callback(c))
          return;
      }
      break;
    case WEFT__WS_EV_PING: {
      if (!rate_ok(c)) {
        fail(c, WEFT__WS_CLOSE_POLICY, "message rate limit exceeded");
        return;
      }
      pthread_mutex_lock(&c->mu);
      int r = c->tx.close_sent ? 0 : weft__ws_tx_pong(&c->tx, ev.data, ev.len);
      if (r == 0 && !c->batching)
        r = flush_locked(c);
      pthread_mutex_unlock(&c->mu);
      if (r < 0) {
        destroy(c, WEFT__WS_CLOSE_ABNORMAL, "write failed");
        return;
      }
      break;
    }
    case WEFT__WS_EV_PONG:
      c->ping_out = false;
      cancel(c, &c->pong_timer);
      break;
    case WEFT__WS_EV_CLOSE:
      on_peer_close(c, ev.code, ev.data, ev.len);
      return;
    case WEFT__WS_EV_ERROR:
      fail(c, ev.code, ev.what);
      return;
    default:
      break;
    }
  }
}

static void read_some(weft_ws_conn *c) {
  for (int round = 0; round < 16; round++) {
    pthread_mutex_lock(&c->mu);
    ssize_t n = c->dead ? WEFT_ERR_CLOSED
                        : weft__conn_read(c->io, c->rbuf, WEFT__WS_RBUF);
    bool more = n > 0 && c->io && weft__conn_pending(c->io) > 0;
    if (n == WEFT_ERR_AGAIN && !c->dead && weft__conn_wants_write(c->io))
      arm_write_locked(c);
    pthread_mutex_unlock(&c->mu);
    if (n == WEFT_ERR_AGAIN)
      return;
    if (n <= 0) {
      if (c->state == WEFT__WSC_WAIT_EOF || c->state == WEFT__WSC_DRAIN)
        destroy(c, WEFT__WS_CLOSE_ABNORMAL, "");
      else
        destroy(c, WEFT__WS_CLOSE_ABNORMAL,
                n == 0 ? "connection closed without a close frame"
                       : "connection lost");
      return;
    }
    if (c->state == WEFT__WSC_HANDSHAKE) {
      weft__ws_server_handshake(c, c->rbuf, (size_t)n);
    } else {
      c->batching = true;
      process_frames(c, c->rbuf, (size_t)n);
      c->batching = false;
      if (c->state != WEFT__WSC_DEAD && weft__ws_conn_flush(c) < 0)
        return;
    }
    if (c->state == WEFT__WSC_DEAD || !more || c->paused)
      return;
  }
}

void weft__ws_conn_set_paused(weft_ws_conn *c, bool paused) {
  if (c->state == WEFT__WSC_DEAD || c->paused == paused)
    return;
  pthread_mutex_lock(&c->mu);
  c->paused = paused;
  if (!c->dead)
    weft_loop_mod_fd(c->loop, c->fd, interest_locked(c));
  pthread_mutex_unlock(&c->mu);
  /* TLS may hold decrypted bytes epoll cannot see: read now. */
  if (!paused && c->state != WEFT__WSC_HANDSHAKE)
    read_some(c);
}

void weft__ws_conn_io(weft_loop *l, int fd, unsigned events, void *ud) {
  (void)l, (void)fd;
  weft_ws_conn *c = ud;
  weft_ws_conn_ref(c);
  if (events & WEFT_IO_WRITE) {
    pthread_mutex_lock(&c->mu);
    int r = flush_locked(c);
    size_t len;
    weft__ws_tx_data(&c->tx, &len);
    if (r == 0 && len == 0 && c->write_armed) {
      c->write_armed = false;
      weft_loop_mod_fd(c->loop, c->fd, interest_locked(c));
    }
    pthread_mutex_unlock(&c->mu);
    if (r < 0)
      destroy(c, WEFT__WS_CLOSE_ABNORMAL, "write failed");
    else if (len == 0 && c->state == WEFT__WSC_DRAIN)
      destroy(c, WEFT__WS_CLOSE_ABNORMAL, "");
  }
  /* While paused only errors and hang-ups arrive; reading then finds the
   * EOF (or a little more data, processed as usual). */
  if ((events & (WEFT_IO_READ | WEFT_IO_ERROR)) && c->state != WEFT__WSC_DEAD)
    read_some(c);
  weft_ws_conn_unref(c);
}

void weft__ws_conn_start(weft_ws_conn *c, uint8_t *extra, size_t len) {
  c->state = WEFT__WSC_OPEN;
  if (c->cfg->ping_interval_ms > 0)
    c->ping_timer = weft_loop_timer(c->loop, c->cfg->ping_interval_ms,
                                    c->cfg->ping_interval_ms, ping_fn, c);
  if (c->cfg->idle_timeout_ms > 0) {
    int64_t every = c->cfg->idle_timeout_ms / 4;
    atomic_store(&c->last_msg_ns, weft_now_ns());
    c->idle_timer = weft_loop_timer(c->loop, every > 10 ? every : 10,
                                    every > 10 ? every : 10, idle_fn, c);
  }
  if (c->server && c->cfg->max_conn_duration_ms > 0)
    c->life_timer =
        weft_loop_timer(c->loop, c->cfg->max_conn_duration_ms, 0, life_fn, c);
  c->opened = true;
  if (c->h && c->h->on_open) {
    c->cb_depth++;
    c->h->on_open(c, c->h_ud);
    if (leave_callback(c))
      return;
  }
  if (len && c->state == WEFT__WSC_OPEN)
    process_frames(c, extra, len);
}

int weft__ws_conn_flush(weft_ws_conn *c) {
  pthread_mutex_lock(&c->mu);
  int r = flush_locked(c);
  pthread_mutex_unlock(&c->mu);
  if (r < 0)
    destroy(c, WEFT__WS_CLOSE_ABNORMAL, "write failed");
  return r;
}

void weft__ws_conn_send_and_drop(weft_ws_conn *c, const char *data,
                                 size_t len) {
  pthread_mutex_lock(&c->mu);
  weft__ws_tx_raw(&c->tx, data, len);
  int r = flush_locked(c);
  pthread_mutex_unlock(&c->mu);
  if (r < 0)
    destroy(c, WEFT__WS_CLOSE_ABNORMAL, "write failed");
  else
    drain(c);
}

/* ---- accessors ---- */

void weft__ws_conn_set_busy(weft_ws_conn *c, size_t (*fn)(void *ud), void *ud) {
  c->busy_fn = fn;
  c->busy_ud = ud;
}

void weft__ws_conn_set_calls(weft_ws_conn *c, uint64_t calls, size_t active) {
  c->calls = calls;
  c->calls_active = active;
}

const char *weft_ws_conn_peer(const weft_ws_conn *c) {
  return c->peer;
}

const char *weft_ws_conn_path(const weft_ws_conn *c) {
  return c->path ? c->path : "";
}

const char *weft_ws_conn_protocol(const weft_ws_conn *c) {
  return c->proto;
}

weft_loop *weft_ws_conn_loop(const weft_ws_conn *c) {
  return c->loop;
}

weft_server *weft_ws_conn_server(const weft_ws_conn *c) {
  return c->srv;
}

void weft__ws_cfg_init(weft__ws_cfg *c, const weft_ws_opts *wo,
                       const weft_server_opts *so, size_t max_message_size,
                       int64_t keepalive_ms) {
  static const weft_ws_opts none = WEFT_WS_OPTS_INIT;
  if (!wo)
    wo = &none;
  memset(c, 0, sizeof *c);
  c->ping_interval_ms = wo->ping_interval_ms ? wo->ping_interval_ms
                        : keepalive_ms       ? keepalive_ms
                                             : 20000;
  c->ping_timeout_ms = wo->ping_timeout_ms > 0 ? wo->ping_timeout_ms : 20000;
  c->close_timeout_ms = wo->close_timeout_ms > 0 ? wo->close_timeout_ms : 10000;
  /* weft_ws_opts first, then the server's header timeout (< 0: none). */
  int64_t hdr = so ? so->header_timeout_ms : 0;
  c->handshake_timeout_ms = wo->handshake_timeout_ms > 0
                                ? wo->handshake_timeout_ms
                            : hdr > 0 ? hdr
                            : hdr < 0 ? 0
                                      : WEFT__DEFAULT_HEADER_TIMEOUT_MS;
  c->max_size = wo->max_size       ? wo->max_size
                : max_message_size ? max_message_size
                                   : (4u << 20);
  c->max_header_bytes = wo->max_header_bytes ? wo->max_header_bytes : 8192;
  c->idle_timeout_ms = so ? so->idle_timeout_ms : 0;
  c->auth_after_upgrade = wo->auth_after_upgrade;
  c->route = wo->route;
  c->route_ud = wo->route_ud;
  if (so) {
    c->max_conns_per_ip = so->max_conns_per_ip ? so->max_conns_per_ip
                                               : WEFT__DEFAULT_MAX_CONNS_PER_IP;
    c->max_msgs_per_sec = so->max_msgs_per_sec ? so->max_msgs_per_sec : 100;
    c->max_conn_duration_ms = so->max_conn_duration_ms
                                  ? so->max_conn_duration_ms
                                  : 24LL * 3600 * 1000;
    c->shutdown_grace_ms = so->shutdown_grace_ms;
    c->api_keys = so->api_keys;
    c->allowed_origins = so->allowed_origins;
  }
}
