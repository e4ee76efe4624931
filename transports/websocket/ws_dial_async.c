/* A WebSocket connection opened on the client loop without blocking it,
 * for reconnect attempts: the TCP connect and TLS handshake as a dial
 * (transports/common/dial.h), then the upgrade request written and the
 * response read on the socket's events, through the same I/O-free
 * exchange (ws_upgrade.h) as the blocking dialer, so every failure reads
 * alike. One deadline bounds the attempt: the dial gets what is left of
 * it, then one timer what is left after the dial. Everything here runs on
 * the loop's thread. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dial.h"
#include "weft/transport.h"
#include "ws_conn.h"
#include "ws_upgrade.h"

typedef struct weft__ws_attempt {
  weft_loop *loop;  /* a reference of our own until done */
  weft__dial *dial; /* until on_dialed */
  weft__tls_ctx *tls;
  weft__conn *io;
  weft_timer *timer;
  bool on_loop;
  int64_t deadline_ms;
  weft__ws_upgrade up;
  weft__ws_dial_args a; /* cfg, handler, ud; target points at ours */
  char *target;
  weft__ws_dial_fn done;
  void *ud;
} attempt;

static int64_t now_ms(void) {
  return weft_now_ns() / 1000000;
}

/* Everything but the loop reference and x itself. */
static void release(attempt *x) {
  weft__dial_cancel(x->dial);
  weft_timer_cancel(x->loop, x->timer);
  if (x->on_loop)
    weft_loop_del_fd(x->loop, weft__conn_fd(x->io));
  weft__conn_close(x->io); /* NULL once the connection took it */
  weft__tls_ctx_free(x->tls);
  weft__ws_upgrade_free(&x->up);
}

static void finish(attempt *x, int rv, weft_ws_conn *c, const weft_error *err) {
  int status = x->up.status;
  release(x);
  x->done(x->ud, rv, c, status, err);
  weft_client_loop_release(x->loop);
  free(x->target);
  free(x);
}

void weft__ws_dial_async_cancel(attempt *x) {
  release(x);
  weft_client_loop_release(x->loop);
  free(x->target);
  free(x);
}

static void fail(attempt *x, int rv, const weft_error *err) {
  finish(x, rv, NULL, err);
}

/* The response is complete and verified: the connection takes the
 * socket (off our watch first: it registers it itself). */
static void open_conn(attempt *x) {
  weft_loop_del_fd(x->loop, weft__conn_fd(x->io));
  x->on_loop = false;
  weft__conn *io = x->io;
  x->io = NULL;
  size_t nrest;
  const uint8_t *rest = weft__ws_upgrade_rest(&x->up, &nrest);
  weft_error err;
  weft_error_clear(&err);
  weft_ws_conn *c = NULL;
  int rv = weft__ws_dial_open(&c, io, &x->a, x->up.proto, rest, nrest, &err);
  finish(x, rv, rv == 0 ? c : NULL, &err);
}

/* Waits for what the socket needs next (TLS may want to write to read). */
static void wait_for(attempt *x, bool writing) {
  unsigned ev =
      writing || weft__conn_wants_write(x->io) ? WEFT_IO_WRITE : WEFT_IO_READ;
  if (weft_loop_mod_fd(x->loop, weft__conn_fd(x->io), ev) < 0) {
    weft_error err;
    fail(x,
         weft_error_set(&err, WEFT_ERR_NOMEM,
                        "ws: registering the connection to %s", x->up.hostport),
         &err);
  }
}

/* Moves the exchange on as far as the socket allows. */
static void step(attempt *x) {
  weft_error err;
  weft_error_clear(&err);
  size_t len, room;
  const char *out;
  while ((out = weft__ws_upgrade_out(&x->up, &len)), len > 0) {
    ssize_t w = weft__conn_write(x->io, out, len);
    if (w > 0) {
      weft__ws_upgrade_wrote(&x->up, (size_t)w);
    } else if (w == WEFT_ERR_AGAIN) {
      wait_for(x, true);
      return;
    } else {
      fail(x,
           weft__ws_upgrade_write_failed(&x->up, weft__conn_error(x->io), &err),
           &err);
      return;
    }
  }
  for (;;) {
    char *in = weft__ws_upgrade_in(&x->up, &room);
    ssize_t r = weft__conn_read(x->io, in, room);
    int rv;
    if (r > 0) {
      rv = weft__ws_upgrade_received(&x->up, (size_t)r, &err);
    } else if (r == WEFT_ERR_AGAIN) {
      wait_for(x, false);
      return;
    } else {
      rv = weft__ws_upgrade_closed(
          &x->up, r < 0 ? weft__conn_error(x->io) : NULL, &err);
    }
    if (rv < 0) {
      fail(x, rv, &err);
      return;
    }
    if (rv == 1) {
      open_conn(x);
      return;
    }
  }
}

static void on_io(weft_loop *l, int fd, unsigned events, void *ud) {
  (void)l;
  (void)fd;
  (void)events;
  step(ud);
}

static void on_timeout(weft_loop *l, weft_timer *t, void *ud) {
  attempt *x = ud;
  (void)l;
  (void)t;
  x->timer = NULL; /* a one-shot: the loop frees it */
  weft_error err;
  fail(x, weft__ws_upgrade_timed_out(&x->up, &err), &err);
}

static void on_dialed(void *ud, int rv, weft__conn *conn,
                      const weft_error *derr) {
  attempt *x = ud;
  x->dial = NULL;             /* it frees itself once this returns */
  weft__tls_ctx_free(x->tls); /* the connection keeps its own reference */
  x->tls = NULL;
  if (rv < 0) {
    fail(x, rv, derr);
    return;
  }
  x->io = conn;
  weft_error err;
  int64_t left = x->deadline_ms - now_ms();
  x->timer = weft_loop_timer(x->loop, left > 1 ? left : 1, 0, on_timeout, x);
  if (!x->timer || weft_loop_add_fd(x->loop, weft__conn_fd(conn), WEFT_IO_WRITE,
                                    on_io, x) < 0) {
    fail(x,
         weft_error_set(&err, WEFT_ERR_NOMEM,
                        "ws: registering the connection to %s", x->up.hostport),
         &err);
    return;
  }
  x->on_loop = true;
  step(x);
}

int weft__ws_dial_async(const weft__ws_dial_args *a, weft__ws_dial_fn done,
                        void *ud, weft__ws_attempt **out, weft_error *err) {
  if (out)
    *out = NULL;
  int64_t timeout = a->timeout_ms > 0 ? a->timeout_ms : 10000;
  attempt *x = calloc(1, sizeof *x);
  if (!x)
    return weft_error_set(err, WEFT_ERR_NOMEM, "ws: out of memory");
  x->deadline_ms = now_ms() + timeout;
  x->done = done;
  x->ud = ud;
  x->a = *a;
  x->target = strdup(a->target && *a->target ? a->target : "/");
  x->a.target = x->target;
  x->a.host = NULL; /* used only here */
  x->a.tls_opts = NULL;
  x->a.protocols = x->a.origin = x->a.extra_headers = NULL;
  int rv;
  if (!x->target) {
    rv = weft_error_set(err, WEFT_ERR_NOMEM, "ws: out of memory");
    goto fail;
  }
  if ((rv = weft__ws_upgrade_init(&x->up, a->host, a->port, a->target,
                                  a->protocols, a->origin, a->extra_headers,
                                  a->cfg.max_header_bytes, err)) < 0)
    goto fail;
  if (a->tls &&
      (rv = weft__tls_ctx_new(&x->tls, false, a->tls_opts, NULL, err)) < 0)
    goto fail;
  if ((rv = weft_client_loop_acquire(&x->loop, err)) < 0)
    goto fail;
  rv = weft__dial_start(&x->dial, x->loop, a->host, a->port, x->tls,
                        a->tls_opts ? a->tls_opts->server_name : NULL, timeout,
                        on_dialed, x, err);
  if (rv == 0) {
    if (out)
      *out = x;
    return 0;
  }
  x->dial = NULL;
fail:
  weft_client_loop_release(x->loop);
  weft__tls_ctx_free(x->tls);
  weft__ws_upgrade_free(&x->up);
  free(x->target);
  free(x);
  return rv;
}
