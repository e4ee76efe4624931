#include "h2_io.h"

#include <stdlib.h>
#include <string.h>

#include "weft/transport.h"

static void on_io(weft_loop *l, int fd, unsigned events, void *ud);

int weft__h2io_start(weft__h2io *io) {
  io->events = WEFT_IO_READ;
  return weft_loop_add_fd(io->loop, weft__conn_fd(io->conn), io->events, on_io,
                          io);
}

static void set_events(weft__h2io *io, unsigned ev) {
  if (ev != io->events && !io->closed) {
    io->events = ev;
    weft_loop_mod_fd(io->loop, weft__conn_fd(io->conn), ev);
  }
}

void weft__h2io_close(weft__h2io *io, const weft_error *why) {
  if (io->closed)
    return;
  io->closed = true;
  weft_loop_del_fd(io->loop, weft__conn_fd(io->conn));
  weft__conn_close(io->conn);
  io->conn = NULL;
  /* on_closed sees the session still alive, so it can walk its streams. */
  if (io->on_closed)
    io->on_closed(io, why, io->ud);
  nghttp2_session_del(io->session);
  io->session = NULL;
  weft__h2e_free(io->engine);
  io->engine = NULL;
  io->pending = NULL;
  io->pending_len = 0;
  free(io->obuf);
  io->obuf = NULL;
  io->obuf_off = io->obuf_len = 0;
}

#define H2IO_OBUF (64 * 1024)

/* Copies frames from nghttp2 into obuf until it is full or nghttp2 has
 * nothing more. Returns false if the session failed (io closed). */
static bool gather(weft__h2io *io) {
  if (!io->obuf && !(io->obuf = malloc(H2IO_OBUF))) {
    weft_error e;
    weft_error_set(&e, WEFT_ERR_NOMEM, "out of memory");
    weft__h2io_close(io, &e);
    return false;
  }
  if (io->obuf_off > 0 && io->obuf_off == io->obuf_len)
    io->obuf_off = io->obuf_len = 0;
  while (io->obuf_len < H2IO_OBUF) {
    if (io->engine) {
      weft_error e;
      size_t n;
      const uint8_t *p = weft__h2e_output(io->engine, &n, &e);
      if (!p) {
        weft__h2io_close(io, &e);
        return false;
      }
      if (n == 0)
        break;
      size_t take = H2IO_OBUF - io->obuf_len;
      if (take > n)
        take = n;
      memcpy(io->obuf + io->obuf_len, p, take);
      io->obuf_len += take;
      weft__h2e_output_done(io->engine, take);
      continue;
    }
    if (io->pending_len == 0) {
      ssize_t n = nghttp2_session_mem_send(io->session, &io->pending);
      if (n < 0) {
        weft_error e;
        weft_error_set(&e, WEFT_ERR_PROTOCOL, "nghttp2: %s",
                       nghttp2_strerror((int)n));
        weft__h2io_close(io, &e);
        return false;
      }
      if (n == 0)
        break;
      io->pending_len = (size_t)n;
    }
    size_t take = H2IO_OBUF - io->obuf_len;
    if (take > io->pending_len)
      take = io->pending_len;
    memcpy(io->obuf + io->obuf_len, io->pending, take);
    io->obuf_len += take;
    io->pending += take;
    io->pending_len -= take;
  }
  return true;
}

void weft__h2io_flush(weft__h2io *io) {
  while (!io->closed) {
    if (!gather(io))
      return;
    if (io->obuf_off == io->obuf_len)
      break;
    ssize_t w = weft__conn_write(io->conn, io->obuf + io->obuf_off,
                                 io->obuf_len - io->obuf_off);
    if (w == WEFT_ERR_AGAIN) {
      set_events(io, WEFT_IO_READ | WEFT_IO_WRITE);
      return;
    }
    if (w <= 0) { /* 0 is no progress either: never loop on it */
      weft_error e;
      const char *why = weft__conn_error(io->conn);
      weft_error_set(&e, w < 0 ? (int)w : WEFT_ERR_IO, "write failed: %s",
                     why[0] ? why
                            : weft_strerror(w < 0 ? (int)w : WEFT_ERR_IO));
      weft__h2io_close(io, &e);
      return;
    }
    io->obuf_off += (size_t)w;
  }
  /* Idle connections keep no output buffer. */
  if (!io->closed && io->obuf && io->obuf_off == io->obuf_len &&
      io->pending_len == 0) {
    free(io->obuf);
    io->obuf = NULL;
    io->obuf_off = io->obuf_len = 0;
  }
  if (io->closed)
    return;
  set_events(io, WEFT_IO_READ);
  if (io->engine ? weft__h2e_finished(io->engine)
                 : !nghttp2_session_want_read(io->session) &&
                       !nghttp2_session_want_write(io->session)) {
    /* A failed engine's last GOAWAY went out: close with its reason. */
    weft__h2io_close(io, io->engine ? weft__h2e_error(io->engine) : NULL);
  }
}

static void on_io(weft_loop *l, int fd, unsigned events, void *ud) {
  weft__h2io *io = ud;
  uint8_t buf[16384];
  (void)l;
  (void)fd;
  (void)events;
  /* Read whatever is there (TLS may need reads to make writes progress and
   * vice versa, so try both directions on any event). */
  for (int i = 0; i < 8 && !io->closed; i++) {
    ssize_t n = weft__conn_read(io->conn, buf, sizeof buf);
    if (n == WEFT_ERR_AGAIN)
      break;
    if (n <= 0) {
      weft_error e;
      if (n == 0)
        weft_error_set(&e, WEFT_ERR_CLOSED, "peer closed the connection");
      else
        weft_error_set(&e, (int)n, "read failed: %s", weft_strerror((int)n));
      weft__h2io_close(io, n == 0 ? NULL : &e);
      return;
    }
    if (io->engine) {
      weft_error e;
      if (weft__h2e_feed(io->engine, buf, (size_t)n, weft_now_ns(), &e) < 0) {
        /* The engine queued its GOAWAY: try to send it. */
        weft__h2io_flush(io);
        weft__h2io_close(io, &e);
        return;
      }
      if ((size_t)n < sizeof buf)
        break;
      continue;
    }
    ssize_t rv = nghttp2_session_mem_recv(io->session, buf, (size_t)n);
    if (rv < 0) {
      weft_error e;
      weft_error_set(&e, WEFT_ERR_PROTOCOL, "HTTP/2 protocol error: %s",
                     nghttp2_strerror((int)rv));
      /* nghttp2 queued a GOAWAY for most errors: try to send it. For the
       * fatal ones it returns without one (too many CONTINUATIONs, a flood
       * of frames, a bad client preface, a failed callback) we queue it:
       * RFC 9113 5.4.1, "An endpoint that encounters a connection error
       * SHOULD first send a GOAWAY frame". A no-op when nghttp2 already
       * terminated the session. */
      nghttp2_session_terminate_session(io->session,
                                        weft__h2e_goaway_code((int)rv));
      weft__h2io_flush(io);
      weft__h2io_close(io, &e);
      return;
    }
    if ((size_t)n < sizeof buf)
      break;
  }
  weft__h2io_flush(io);
}
