/* One framed weft connection on a loop; see tcp_internal.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "tcp_internal.h"
#include "weft/transport.h"

static void set_events(weft__tcp_conn *c);
static void flush(weft__tcp_conn *c);
static void on_io(weft_loop *l, int fd, unsigned events, void *ud);

/* ---- write side --------------------------------------------------------- */

static int wbuf_append(weft__tcp_conn *c, const uint8_t *p, size_t n) {
  if (c->wlen + n > c->wcap) {
    /* Compact before growing: the flushed prefix is dead space. */
    if (c->woff) {
      memmove(c->wbuf, c->wbuf + c->woff, c->wlen - c->woff);
      c->wlen -= c->woff;
      c->woff = 0;
    }
    if (c->wlen + n > c->wcap) {
      size_t cap = c->wcap ? c->wcap : 4096;
      while (cap < c->wlen + n)
        cap *= 2;
      uint8_t *b = realloc(c->wbuf, cap);
      if (!b)
        return WEFT_ERR_NOMEM;
      c->wbuf = b;
      c->wcap = cap;
    }
  }
  memcpy(c->wbuf + c->wlen, p, n);
  c->wlen += n;
  return 0;
}

/* Loop thread, at the start of a callback posted for c: gives back the
 * post's hold on c. False once c is dead: the caller then returns without
 * touching c, since the owner, told here when that was the last hold
 * (on_released), may have freed it. */
static bool post_begin(weft__tcp_conn *c, bool flush_post) {
  pthread_mutex_lock(&c->wmu);
  bool last = --c->posts == 0;
  if (flush_post)
    c->flush_posted = false;
  pthread_mutex_unlock(&c->wmu);
  if (!c->dead)
    return true;
  if (last && c->on_released)
    c->on_released(c);
  return false;
}

static void flush_post(void *ud) {
  weft__tcp_conn *c = ud;
  if (post_begin(c, true))
    flush(c);
}

/* mux io->send: frame one envelope and write or queue it. Any thread. */
static int io_send(void *ud, const uint8_t *data, size_t len, bool text) {
  weft__tcp_conn *c = ud;
  uint8_t hdr[WEFT__LPF_HDR];
  (void)text; /* tcp frames are binary; the mux encodes JSON itself */
  if (len > UINT32_MAX)
    return WEFT_ERR_TOO_BIG;
  weft__lpf_put_header(hdr, (uint32_t)len);
  bool on_loop = weft_loop_in_thread(c->loop);
  pthread_mutex_lock(&c->wmu);
  if (!on_loop)
    while (!c->wclosed && c->wlen - c->woff > c->wlimit)
      pthread_cond_wait(&c->wcv, &c->wmu);
  if (c->wclosed) {
    pthread_mutex_unlock(&c->wmu);
    return WEFT_ERR_CLOSED;
  }
  size_t done = 0, total = len + sizeof hdr;
  /* Part of a batch (an event to many subscribers): the loop writes the
   * batch's frames to this connection together, one syscall for many. */
  bool batch = !on_loop && weft_server_sending_batch();
  if (!c->tls && c->wlen == c->woff && !batch) {
    struct iovec iov[2] = {{hdr, sizeof hdr}, {(void *)data, len}};
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
    ssize_t n;
    do
      n = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n == (ssize_t)total) {
      pthread_mutex_unlock(&c->wmu);
      return 0;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      /* The loop sees the error on the socket and closes it. */
      pthread_mutex_unlock(&c->wmu);
      return WEFT_ERR_IO;
    }
    if (n > 0)
      done = (size_t)n;
  }
  int rc = 0;
  if (done < sizeof hdr)
    rc = wbuf_append(c, hdr + done, sizeof hdr - done);
  if (rc == 0) {
    size_t skip = done > sizeof hdr ? done - sizeof hdr : 0;
    rc = wbuf_append(c, data + skip, len - skip);
  }
  if (rc == 0)
    atomic_store(&c->wpend, true);
  bool post = rc == 0 && !c->flush_posted && !on_loop;
  if (post) {
    c->flush_posted = true;
    c->posts++;
  }
  pthread_mutex_unlock(&c->wmu);
  if (rc < 0)
    return rc;
  if (on_loop)
    flush(c);
  else if (post && weft_loop_post(c->loop, flush_post, c) < 0) {
    pthread_mutex_lock(&c->wmu);
    c->posts--;
    c->flush_posted = false;
    pthread_mutex_unlock(&c->wmu);
    return WEFT_ERR_CLOSED;
  }
  return 0;
}

/* Loop thread: writes what is queued. */
static void flush(weft__tcp_conn *c) {
  weft_error err = {0};
  bool failed = false;
  pthread_mutex_lock(&c->wmu);
  while (c->wlen > c->woff && !c->wclosed) {
    ssize_t n = weft__conn_write(c->sock, c->wbuf + c->woff, c->wlen - c->woff);
    if (n > 0) {
      c->woff += (size_t)n;
      continue;
    }
    if (n == WEFT_ERR_AGAIN)
      break;
    weft_error_set(&err, n < 0 ? (int)n : WEFT_ERR_IO, "%s",
                   weft__conn_error(c->sock)[0] ? weft__conn_error(c->sock)
                                                : "write failed");
    failed = true;
    break;
  }
  if (c->wlen == c->woff) {
    c->wlen = c->woff = 0;
    if (c->wcap > 65536) { /* do not keep a burst's buffer forever */
      free(c->wbuf);
      c->wbuf = NULL;
      c->wcap = 0;
    }
  }
  atomic_store(&c->wpend, c->wlen > c->woff);
  if (c->wlen - c->woff <= c->wlimit)
    pthread_cond_broadcast(&c->wcv);
  pthread_mutex_unlock(&c->wmu);
  if (failed)
    weft__tcp_conn_close(c, &err);
  else
    set_events(c);
}

/* ---- read side ---------------------------------------------------------- */

/* mux io->on_idle: the dead connection's last handler finished (any
 * thread; c is alive for the call). */
static void io_idle(void *ud) {
  weft__tcp_conn *c = ud;
  if (c->on_idle)
    c->on_idle(c);
}

static void io_close(void *ud, const weft_error *err) {
  weft__tcp_conn *c = ud;
  c->why = *err; /* loop thread: on_message is about to fail */
}

static void resume_post(void *ud) {
  weft__tcp_conn *c = ud;
  if (!post_begin(c, false))
    return;
  c->paused = weft__mux_rx_paused(c->mux);
  set_events(c);
  if (!c->paused) /* TLS may hold decrypted bytes epoll cannot see */
    on_io(c->loop, c->fd, WEFT_IO_READ, c);
}

/* mux io->rx_resume: a reader drained its queue. Any thread. */
static void io_rx_resume(void *ud) {
  weft__tcp_conn *c = ud;
  pthread_mutex_lock(&c->wmu);
  bool ok = !c->wclosed;
  if (ok)
    c->posts++;
  pthread_mutex_unlock(&c->wmu);
  if (ok && weft_loop_post(c->loop, resume_post, c) < 0) {
    pthread_mutex_lock(&c->wmu);
    c->posts--;
    pthread_mutex_unlock(&c->wmu);
  }
}

static int on_frame(void *ud, const uint8_t *frame, size_t len) {
  weft__tcp_conn *c = ud;
  if (!c->seen_frame) {
    /* A server learns the codec from the first frame: a JSON envelope
     * starts with '{', which no binary envelope can (0x7b would be a group
     * tag). A client knows its own. */
    c->seen_frame = true;
    if (c->hdr_timer) {
      weft_timer_cancel(c->loop, c->hdr_timer);
      c->hdr_timer = NULL;
    }
    if (c->sniff_codec && len && frame[0] == '{')
      weft__mux_set_codec(c->mux, WEFT_CODEC_JSON);
  }
  bool text = weft__mux_codec(c->mux) == WEFT_CODEC_JSON;
  int rc = weft__mux_on_message(c->mux, frame, len, text);
  return rc < 0 ? rc : 0;
}

static void set_events(weft__tcp_conn *c) {
  if (c->dead)
    return;
  unsigned ev = c->paused ? 0 : WEFT_IO_READ;
  /* A writer that queues after this load posts a flush, which calls us
   * again: a stale false costs nothing. */
  bool pending = atomic_load(&c->wpend);
  /* TLS: a write stalled on WANT_READ makes progress on read events. */
  if ((pending && (!c->tls || weft__conn_wants_write(c->sock))) ||
      (c->tls && weft__conn_wants_write(c->sock)))
    ev |= WEFT_IO_WRITE;
  if (ev != c->events) {
    weft_loop_mod_fd(c->loop, c->fd, ev);
    c->events = ev;
  }
}

static void on_readable(weft__tcp_conn *c);

static void read_more_post(void *ud) {
  weft__tcp_conn *c = ud;
  if (post_begin(c, false) && !c->paused)
    on_readable(c);
}

static void post_read_more(weft__tcp_conn *c) {
  pthread_mutex_lock(&c->wmu);
  c->posts++;
  pthread_mutex_unlock(&c->wmu);
  if (weft_loop_post(c->loop, read_more_post, c) < 0) {
    pthread_mutex_lock(&c->wmu);
    c->posts--;
    pthread_mutex_unlock(&c->wmu);
  }
}

static void on_readable(weft__tcp_conn *c) {
  weft_error err = {0};
  /* Plain sockets: a bounded number of reads per wake-up keeps one busy
   * peer from starving the others (epoll is level-triggered). TLS gets the
   * same cap, but bytes already decrypted inside OpenSSL do not wake
   * epoll, so if some are left we post ourselves a continuation. */
  int i;
  for (i = 0; i < (c->tls ? 64 : 16); i++) {
    ssize_t n = weft__conn_read(c->sock, c->rbuf, c->rcap);
    if (n > 0) {
      ssize_t r =
          weft__lpf_feed(&c->framer, c->rbuf, (size_t)n, on_frame, c, &err);
      if (r < 0) {
        if (r == WEFT_ERR_FRAME_TOO_BIG) {
          /* Tell the peer why before closing. */
          weft__mux_goaway_status(c->mux, 8 /* RESOURCE_EXHAUSTED */,
                                  err.message);
          flush(c);
        } else if (c->why.code) {
          err = c->why;
        }
        weft_error e2;
        weft_error_set(&e2, (int)r, "%s: %s", c->peer, err.message);
        weft__tcp_conn_close(c, &e2);
        return;
      }
      if (c->dead)
        return;
      if (weft__mux_rx_paused(c->mux)) {
        c->paused = true;
        break;
      }
      /* A short read from a plain socket drained it: epoll says when more
       * comes, and the read that would only say EAGAIN is saved. */
      if (!c->tls && (size_t)n < c->rcap)
        break;
      continue;
    }
    if (n == 0) {
      if (weft__lpf_idle(&c->framer))
        weft_error_set(&err, WEFT_ERR_CLOSED, "%s closed the connection",
                       c->peer);
      else
        weft_error_set(&err, WEFT_ERR_TRUNCATED,
                       "%s closed the connection in the middle of a frame",
                       c->peer);
      weft__tcp_conn_close(c, &err);
      return;
    }
    if (n == WEFT_ERR_AGAIN)
      break;
    weft_error_set(&err, (int)n, "%s", weft__conn_error(c->sock));
    weft__tcp_conn_close(c, &err);
    return;
  }
  if (c->tls && !c->paused && i == 64 && weft__conn_pending(c->sock) > 0)
    post_read_more(c);
  if (c->tls) { /* a read can unblock a TLS write */
    if (atomic_load(&c->wpend)) {
      flush(c);
      return;
    }
  }
  set_events(c);
}

static void on_io(weft_loop *l, int fd, unsigned events, void *ud) {
  weft__tcp_conn *c = ud;
  (void)l;
  (void)fd;
  if (c->dead)
    return;
  if (events & WEFT_IO_WRITE)
    flush(c);
  if (!c->dead && (events & (WEFT_IO_READ | WEFT_IO_ERROR)) && !c->paused)
    on_readable(c);
  else if (!c->dead && (events & WEFT_IO_ERROR)) {
    weft_error err;
    weft_error_set(&err, WEFT_ERR_IO, "%s: socket error", c->peer);
    weft__tcp_conn_close(c, &err);
  }
}

/* ---- keepalive and idle timeout ------------------------------------------ */

static void on_tick(weft_loop *l, weft_timer *t, void *ud) {
  weft__tcp_conn *c = ud;
  weft_error err;
  (void)l;
  (void)t;
  if (c->dead)
    return;
  int64_t now = weft_now_ns();
  if (weft__mux_active(c->mux) > 0 || c->paused)
    c->last_busy_ns = now;
  if (c->keepalive_ns > 0 && !c->paused) {
    int64_t quiet = now - weft__mux_last_rx(c->mux);
    if (quiet >= 2 * c->keepalive_ns) {
      weft_error_set(&err, WEFT_ERR_TIMEOUT,
                     "%s: nothing received for %lld ms, keepalive PING "
                     "unanswered; connection considered dead",
                     c->peer, (long long)(quiet / 1000000));
      weft__tcp_conn_close(c, &err);
      return;
    }
    if (quiet >= c->keepalive_ns)
      weft__mux_ping(c->mux);
  }
  if (c->idle_ns > 0 && now - c->last_busy_ns >= c->idle_ns) {
    weft__mux_goaway(c->mux);
    flush(c);
    weft_error_set(&err, WEFT_ERR_CLOSED, "%s: idle for %lld ms, closed",
                   c->peer, (long long)(c->idle_ns / 1000000));
    weft__tcp_conn_close(c, &err);
  }
}

/* A server connection whose first frame (TLS handshake included) did not
 * arrive in time: a slow-loris, or not a weft peer at all. */
static void on_header_timeout(weft_loop *l, weft_timer *t, void *ud) {
  weft__tcp_conn *c = ud;
  (void)l;
  (void)t;
  c->hdr_timer = NULL;
  if (c->dead || c->seen_frame)
    return;
  weft_error err;
  weft_error_set(&err, WEFT_ERR_TIMEOUT,
                 "%s: no complete frame within %lld ms of connecting "
                 "(header timeout), closed",
                 c->peer, (long long)c->header_timeout_ms);
  weft__tcp_conn_close(c, &err);
}

/* ---- lifecycle ----------------------------------------------------------- */

int weft__tcp_conn_new(weft__tcp_conn **out, weft_loop *loop, weft__conn *sock,
                       const weft__tcp_conn_opts *o, weft_error *err) {
  weft__tcp_conn *c = calloc(1, sizeof *c);
  int rc;
  *out = NULL;
  if (!c) {
    weft__conn_close(sock);
    return weft_error_set(err, WEFT_ERR_NOMEM, "connection");
  }
  c->loop = loop;
  c->sock = sock;
  c->fd = weft__conn_fd(sock);
  c->tls = weft__conn_is_tls(sock);
  snprintf(c->peer, sizeof c->peer, "%s", weft__conn_peer(sock));
  snprintf(c->ip, sizeof c->ip, "%s", weft__conn_ip(sock));
  c->rbuf = o->rbuf;
  c->sniff_codec = o->mux->server;
  c->rcap = o->rcap;
  c->wlimit = WEFT__TCP_WLIMIT;
  int64_t ka =
      o->keepalive_ms == 0 ? WEFT__TCP_DEFAULT_KEEPALIVE_MS : o->keepalive_ms;
  c->keepalive_ns = ka > 0 ? ka * 1000000 : 0;
  c->idle_ns = o->idle_timeout_ms > 0 ? o->idle_timeout_ms * 1000000 : 0;
  c->last_busy_ns = weft_now_ns();
  weft__lpf_init(&c->framer, o->max_frame);
  pthread_mutex_init(&c->wmu, NULL);
  pthread_cond_init(&c->wcv, NULL);
  weft__mux_opts mo = *o->mux;
  mo.peer = c->peer;
  weft__mux_io io = {.send = io_send,
                     .close = io_close,
                     .rx_resume = io_rx_resume,
                     .on_idle = io_idle,
                     .io_ud = c,
                     .drive_loop = o->drivable ? loop : NULL};
  rc = weft__mux_new(&c->mux, &mo, &io);
  if (rc < 0) {
    weft_error_set(err, rc, "%s: creating the multiplexer", c->peer);
    goto fail;
  }
  rc = weft_loop_add_fd(loop, c->fd, WEFT_IO_READ, on_io, c);
  if (rc < 0) {
    weft_error_set(err, rc, "%s: adding the socket to the loop", c->peer);
    goto fail;
  }
  c->events = WEFT_IO_READ;
  int64_t period = 0;
  if (c->keepalive_ns)
    period = c->keepalive_ns / 2;
  if (c->idle_ns && (!period || c->idle_ns / 4 < period))
    period = c->idle_ns / 4;
  if (period) {
    int64_t ms = period / 1000000 > 10 ? period / 1000000 : 10;
    c->tick = weft_loop_timer(loop, ms, ms, on_tick, c);
  }
  if (o->header_timeout_ms > 0) {
    c->header_timeout_ms = o->header_timeout_ms;
    c->hdr_timer =
        weft_loop_timer(loop, o->header_timeout_ms, 0, on_header_timeout, c);
  }
  *out = c;
  return 0;
fail:
  weft__mux_free(c->mux);
  weft__conn_close(sock);
  pthread_mutex_destroy(&c->wmu);
  pthread_cond_destroy(&c->wcv);
  free(c);
  return rc;
}

void weft__tcp_conn_close(weft__tcp_conn *c, const weft_error *why) {
  if (c->dead)
    return;
  c->dead = true;
  pthread_mutex_lock(&c->wmu);
  c->wclosed = true; /* from here on no thread touches the socket */
  pthread_cond_broadcast(&c->wcv);
  pthread_mutex_unlock(&c->wmu);
  weft_loop_del_fd(c->loop, c->fd);
  if (c->tick) {
    weft_timer_cancel(c->loop, c->tick);
    c->tick = NULL;
  }
  if (c->hdr_timer) {
    weft_timer_cancel(c->loop, c->hdr_timer);
    c->hdr_timer = NULL;
  }
  weft__conn_close(c->sock);
  c->sock = NULL;
  /* Before on_closed cancels them and handlers start finishing. */
  c->active_at_close = weft__mux_active(c->mux);
  weft__mux_on_closed(c->mux, why);
  if (c->on_dead)
    c->on_dead(c, why);
}

bool weft__tcp_conn_reapable(weft__tcp_conn *c) {
  pthread_mutex_lock(&c->wmu);
  bool idle = c->posts == 0;
  pthread_mutex_unlock(&c->wmu);
  return c->dead && idle && weft__mux_active(c->mux) == 0;
}

void weft__tcp_conn_free_mux(weft__tcp_conn *c) {
  weft__mux_free(c->mux);
  c->mux = NULL;
}

void weft__tcp_conn_free(weft__tcp_conn *c) {
  if (!c)
    return;
  weft__mux_free(c->mux);
  weft__lpf_free(&c->framer);
  if (c->sock)
    weft__conn_close(c->sock);
  free(c->wbuf);
  pthread_mutex_destroy(&c->wmu);
  pthread_cond_destroy(&c->wcv);
  free(c);
}

/* ---- running work on the loop thread ----------------------------------- */

void weft__tcp_run_on_loop(weft_loop *loop, void (*fn)(void *), void *ud) {
  if (weft_loop_run_sync(loop, fn, ud) < 0)
    fn(ud); /* the loop is not running: nobody else touches its state */
}
