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
  weft__h2e_free(io->engine);
  io->engine = NULL;
  weft__h2ce_free(io->client);
  io->client = NULL;
  free(io->obuf);
  io->obuf = NULL;
  io->obuf_off = io->obuf_len = 0;
}

#define H2IO_OBUF (64 * 1024)

/* The engine's next bytes (NULL: it failed, err says why). */
static const uint8_t *engine_output(weft__h2io *io, size_t *n,
                                    weft_error *err) {
  return io->engine ? weft__h2e_output(io->engine, n, err)
                    : weft__h2ce_output(io->client, n, err);
}

static void engine_output_done(weft__h2io *io, size_t n) {
  if (io->engine)
    weft__h2e_output_done(io->engine, n);
  else
    weft__h2ce_output_done(io->client, n);
}

/* Copies frames from the engine into obuf until it is full or the engine
 * has nothing more. Returns false if the engine failed (io closed). */
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
    weft_error e;
    size_t n;
    const uint8_t *p = engine_output(io, &n, &e);
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
    engine_output_done(io, take);
  }
  return true;
}

static void flush_io(weft__h2io *io) {
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
  if (!io->closed && io->obuf && io->obuf_off == io->obuf_len) {
    free(io->obuf);
    io->obuf = NULL;
    io->obuf_off = io->obuf_len = 0;
  }
  if (io->closed)
    return;
  set_events(io, WEFT_IO_READ);
  if (io->engine ? weft__h2e_finished(io->engine)
                 : weft__h2ce_finished(io->client)) {
    /* A failed engine's last GOAWAY went out: close with its reason. */
    weft__h2io_close(io, io->engine ? weft__h2e_error(io->engine)
                                    : weft__h2ce_error(io->client));
  }
}

void weft__h2io_flush(weft__h2io *io) {
  flush_io(io);
  if (!io->closed && io->after_flush)
    io->after_flush(io, io->ud);
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
    weft_error e;
    ssize_t rv =
        io->engine
            ? weft__h2e_feed(io->engine, buf, (size_t)n, weft_now_ns(), &e)
            : weft__h2ce_feed(io->client, buf, (size_t)n, weft_now_ns(), &e);
    if (rv < 0) {
      /* The engine queued its GOAWAY: try to send it. */
      weft__h2io_flush(io);
      weft__h2io_close(io, &e);
      return;
    }
    if ((size_t)n < sizeof buf)
      break;
  }
  weft__h2io_flush(io);
}
