/* MB over TCP (or TLS) on the shared client loop: a blocking connect on the
 * caller's thread, then the socket is one more fd of the client loop. The
 * loop reads, deframes (mb_client_rx.c) and hands whole messages up; any
 * thread writes, straight to the socket while nothing is queued, else the
 * loop flushes the queue when the socket drains.
 *
 * The socket's reads and writes (TLS: one SSL object for both) and the
 * output queue are under mu. The link is reference counted: the owner
 * holds one reference, and so does every piece of work posted to the loop
 * for it, so a close from any thread never frees what a post still uses. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mb_client_int.h"
#include "sock.h"
#include "weft/transport.h"

/* Senders off the loop wait while this much is queued. */
#define WLIMIT (4u << 20)

typedef struct tcp_link {
  weft__mb_link base;
  atomic_int refs;
  const weft__mb_link_cbs *cb;
  void *ud;
  char where[300];
  weft__conn *io;
  int fd;

  pthread_mutex_t mu;
  /* under mu */
  pthread_cond_t cv; /* senders waiting for room */
  uint8_t *out;
  size_t out_len, out_off, out_cap;
  bool dead;       /* no more sends */
  bool want_write; /* the loop must watch WRITE */
  bool arm_posted;
  int write_err; /* a sender's write failed: the loop reports it */

  /* loop thread */
  weft_mb_deframer df;
  bool watching; /* fd on the loop */
  bool started;  /* the fd was added */
  bool watch_write;
  bool gone; /* closed by the owner, or ended: no more callbacks */
} tcp_link;

static void link_unref(tcp_link *l) {
  if (atomic_fetch_sub(&l->refs, 1) != 1)
    return;
  weft__conn_close(l->io);
  weft_mb_deframer_free(&l->df);
  free(l->out);
  pthread_cond_destroy(&l->cv);
  pthread_mutex_destroy(&l->mu);
  weft_client_loop_release(l->base.loop);
  free(l);
}

/* Loop thread: the events the fd is watched for. */
static void watch(tcp_link *l) {
  if (!l->watching)
    return;
  pthread_mutex_lock(&l->mu);
  bool w = l->want_write;
  pthread_mutex_unlock(&l->mu);
  if (w != l->watch_write) {
    weft_loop_mod_fd(l->base.loop, l->fd,
                     WEFT_IO_READ | (w ? WEFT_IO_WRITE : 0));
    l->watch_write = w;
  }
}

/* Loop thread: the connection ended; tells the owner once. */
static void fail(tcp_link *l, int code, const char *fmt, const char *detail) {
  if (l->watching) {
    weft_loop_del_fd(l->base.loop, l->fd);
    l->watching = false;
  }
  pthread_mutex_lock(&l->mu);
  l->dead = true;
  pthread_cond_broadcast(&l->cv);
  pthread_mutex_unlock(&l->mu);
  if (l->gone)
    return;
  l->gone = true;
  char why[1024]; /* fits where + the longest detail: no cut message */
  snprintf(why, sizeof why, fmt, l->where, detail);
  l->cb->on_closed(l->ud, code, why);
}

/* mu held: writes what is queued until the socket would block. Returns 0
 * or the write's error. */
static int flush_locked(tcp_link *l) {
  while (l->out_off < l->out_len) {
    ssize_t n =
        weft__conn_write(l->io, l->out + l->out_off, l->out_len - l->out_off);
    if (n == WEFT_ERR_AGAIN)
      break;
    if (n <= 0)
      return n < 0 ? (int)n : WEFT_ERR_IO;
    l->out_off += (size_t)n;
  }
  if (l->out_off == l->out_len) {
    l->out_off = l->out_len = 0;
    if (l->out_cap > 65536) { /* do not keep a burst's buffer */
      free(l->out);
      l->out = NULL;
      l->out_cap = 0;
    }
  }
  /* A TLS handshake waiting for the broker is moved on by the next read
   * (which flushes again); watching WRITE meanwhile would spin. */
  l->want_write = l->out_len > 0 &&
                  (!weft__conn_is_tls(l->io) || weft__conn_wants_write(l->io));
  if (l->out_len - l->out_off <= WLIMIT)
    pthread_cond_broadcast(&l->cv);
  return 0;
}

static bool deliver(void *ud, const char *msg, size_t len) {
  tcp_link *l = ud;
  if (!l->cb->on_message(l->ud, msg, len))
    fail(l, WEFT_ERR_PROTOCOL, "the MB broker at %s sent %s",
         "a message that is not MB");
  return !l->gone; /* also when the owner closed from its callback */
}

static void on_io(weft_loop *lp, int fd, unsigned events, void *ud) {
  (void)lp;
  (void)fd;
  tcp_link *l = ud;
  if (events & WEFT_IO_WRITE) {
    pthread_mutex_lock(&l->mu);
    int rv = flush_locked(l);
    pthread_mutex_unlock(&l->mu);
    if (rv < 0) {
      fail(l, WEFT_ERR_CLOSED, "writing to the MB broker at %s: %s",
           weft__conn_error(l->io)[0] ? weft__conn_error(l->io)
                                      : "connection lost");
      return;
    }
    watch(l);
  }
  if (!(events & (WEFT_IO_READ | WEFT_IO_ERROR)))
    return;
  uint8_t buf[16384];
  /* Until the socket would block: TLS may hold decrypted bytes that epoll
   * cannot see. */
  while (!l->gone) {
    pthread_mutex_lock(&l->mu);
    ssize_t n = weft__conn_read(l->io, buf, sizeof buf);
    int werr = 0;
    if (n == WEFT_ERR_AGAIN) {
      if (weft__conn_wants_write(l->io))
        l->want_write = true;
      else if (l->out_len > 0) /* output held back by the TLS handshake */
        werr = flush_locked(l);
    }
    pthread_mutex_unlock(&l->mu);
    if (werr < 0) {
      fail(l, WEFT_ERR_CLOSED, "writing to the MB broker at %s: %s",
           weft__conn_error(l->io)[0] ? weft__conn_error(l->io)
                                      : "connection lost");
      return;
    }
    if (n == WEFT_ERR_AGAIN) {
      watch(l);
      return;
    }
    if (n == 0) {
      char cut[80];
      if (weft__mbc_rx_mid_frame(&l->df, cut, sizeof cut))
        fail(l, WEFT_ERR_CLOSED,
             "the MB broker at %s closed the connection in the middle of a "
             "frame (%s)",
             cut);
      else
        fail(l, WEFT_ERR_CLOSED, "the MB broker at %s closed the connection%s",
             "");
      return;
    }
    if (n < 0) {
      fail(l, n == WEFT_ERR_TLS ? WEFT_ERR_TLS : WEFT_ERR_CLOSED,
           "reading from the MB broker at %s: %s",
           weft__conn_error(l->io)[0] ? weft__conn_error(l->io)
                                      : "connection lost");
      return;
    }
    weft_error e;
    weft_error_clear(&e);
    int rv = weft__mbc_rx_feed(&l->df, buf, (size_t)n, deliver, l, &e);
    if (rv < 0 && !l->gone) {
      fail(l, rv == WEFT_ERR_FRAME_TOO_BIG ? WEFT_ERR_PROTOCOL : rv,
           "the MB broker at %s broke the framing: %s", e.message);
      return;
    }
  }
}

/* ---- posted work (each holds a reference) ---- */

static void arm_post(void *ud) {
  tcp_link *l = ud;
  pthread_mutex_lock(&l->mu);
  l->arm_posted = false;
  int werr = l->write_err;
  pthread_mutex_unlock(&l->mu);
  if (!l->gone) {
    if (werr)
      fail(l, WEFT_ERR_CLOSED, "writing to the MB broker at %s: %s",
           weft__conn_error(l->io)[0] ? weft__conn_error(l->io)
                                      : "connection lost");
    else
      watch(l);
  }
  link_unref(l);
}

static int tcp_send(weft__mb_link *base, const char *msg, size_t len) {
  tcp_link *l = (tcp_link *)base;
  bool on_loop = weft_loop_in_thread(base->loop);
  pthread_mutex_lock(&l->mu);
  if (!on_loop)
    while (!l->dead && l->out_len - l->out_off > WLIMIT)
      pthread_cond_wait(&l->cv, &l->mu);
  if (l->dead) {
    pthread_mutex_unlock(&l->mu);
    return WEFT_ERR_CLOSED;
  }
  size_t need = l->out_len + 4 + len;
  if (need > l->out_cap) {
    if (l->out_off) { /* the flushed prefix is dead space */
      memmove(l->out, l->out + l->out_off, l->out_len - l->out_off);
      l->out_len -= l->out_off;
      l->out_off = 0;
      need = l->out_len + 4 + len;
    }
    size_t cap = l->out_cap ? l->out_cap : 4096;
    while (cap < need)
      cap *= 2;
    if (cap != l->out_cap) {
      uint8_t *b = realloc(l->out, cap);
      if (!b) {
        pthread_mutex_unlock(&l->mu);
        return WEFT_ERR_NOMEM;
      }
      l->out = b;
      l->out_cap = cap;
    }
  }
  weft_mb_frame_prefix(l->out + l->out_len, len);
  memcpy(l->out + l->out_len + 4, msg, len);
  l->out_len += 4 + len;
  bool was_queued = l->out_len - l->out_off > 4 + len;
  int rv = was_queued ? 0 : flush_locked(l);
  bool post = false;
  if (rv < 0) {
    /* The loop reports the failure to the owner, in order with reads. */
    l->dead = true;
    l->write_err = rv;
    pthread_cond_broadcast(&l->cv);
  }
  if ((rv < 0 || l->want_write) && !on_loop && !l->arm_posted) {
    l->arm_posted = true;
    post = true;
  }
  pthread_mutex_unlock(&l->mu);
  if (on_loop) {
    if (rv < 0)
      fail(l, WEFT_ERR_CLOSED, "writing to the MB broker at %s: %s",
           weft__conn_error(l->io)[0] ? weft__conn_error(l->io)
                                      : "connection lost");
    else
      watch(l);
  } else if (post) {
    atomic_fetch_add(&l->refs, 1);
    if (weft_loop_post(base->loop, arm_post, l) < 0) {
      pthread_mutex_lock(&l->mu);
      l->arm_posted = false;
      pthread_mutex_unlock(&l->mu);
      link_unref(l);
    }
  }
  return rv < 0 ? WEFT_ERR_CLOSED : 0;
}

/* Loop thread: stop watching and calling back. */
static void close_on_loop(void *ud) {
  tcp_link *l = ud;
  l->gone = true;
  if (l->watching) {
    weft_loop_del_fd(l->base.loop, l->fd);
    l->watching = false;
  }
  pthread_mutex_lock(&l->mu);
  l->dead = true;
  pthread_cond_broadcast(&l->cv);
  pthread_mutex_unlock(&l->mu);
}

static void unref_post(void *ud) {
  link_unref(ud);
}

static void tcp_close(weft__mb_link *base) {
  tcp_link *l = (tcp_link *)base;
  /* Runs inline on the loop thread; elsewhere waits for it, so no
   * callback is running or will run once this returns. */
  if (weft_loop_run_sync(base->loop, close_on_loop, l) < 0)
    l->gone = true; /* cannot happen once started: the loop runs */
  /* On the loop this is a callback of the link (on_io is on the stack):
   * the memory goes after it returns. */
  if (weft_loop_in_thread(base->loop) &&
      weft_loop_post(base->loop, unref_post, l) == 0)
    return;
  link_unref(l);
}

static const weft__mb_link_ops tcp_ops = {tcp_send, tcp_close};

static void start_on_loop(void *ud) {
  tcp_link *l = ud;
  l->started = l->watching =
      weft_loop_add_fd(l->base.loop, l->fd, WEFT_IO_READ, on_io, l) == 0;
  /* Bytes may already wait (the greeting, TLS records read with the
   * handshake). */
  if (l->watching)
    on_io(l->base.loop, l->fd, WEFT_IO_READ, l);
}

int weft__mb_link_tcp_open(weft__mb_link **out, const weft__mb_link_args *a,
                           weft_error *err) {
  weft__tls_ctx *tls = NULL;
  weft__conn *io = NULL;
  int rv;
  if (a->tls &&
      (rv = weft__tls_ctx_new(&tls, false, a->tls_opts, NULL, err)) < 0)
    return rv;
  rv = weft__conn_connect(&io, a->host, a->port, tls,
                          a->tls_opts ? a->tls_opts->server_name : NULL,
                          a->timeout_ms, err);
  weft__tls_ctx_free(tls); /* the connection keeps its own reference */
  if (rv < 0)
    return rv;
  tcp_link *l = calloc(1, sizeof *l);
  if (!l) {
    weft__conn_close(io);
    return weft_error_set(err, WEFT_ERR_NOMEM, "MB client: out of memory");
  }
  if ((rv = weft_client_loop_acquire(&l->base.loop, err)) < 0) {
    weft__conn_close(io);
    free(l);
    return rv;
  }
  l->base.ops = &tcp_ops;
  atomic_init(&l->refs, 1);
  l->cb = a->cb;
  l->ud = a->ud;
  snprintf(l->where, sizeof l->where, "%s", a->where);
  l->io = io;
  l->fd = weft__conn_fd(io);
  pthread_mutex_init(&l->mu, NULL);
  pthread_cond_init(&l->cv, NULL);
  weft_mb_deframer_init(&l->df, WEFT__MBC_MAX_FROM_BROKER);
  *out = &l->base; /* callbacks may run from here on */
  rv = weft_loop_run_sync(l->base.loop, start_on_loop, l);
  if (rv < 0 || !l->started) {
    tcp_close(&l->base);
    *out = NULL;
    return weft_error_set(err, rv < 0 ? rv : WEFT_ERR_IO,
                          "MB client: watching the socket to %s", a->where);
  }
  return 0;
}
