/* The client side: a blocking connect and opening handshake (bounded by
 * the connect timeout), then the connection runs on the process-wide client
 * loop (weft_client_loop_acquire), beside every other client connection.
 * Reconnects take the same steps on the loop itself (ws_dial_async.c). */
#define _GNU_SOURCE
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "weft/transport.h"
#include "ws_conn.h"
#include "ws_handshake.h"
#include "ws_upgrade.h"

typedef struct dialer {
  weft_loop *loop;
  uint8_t *rbuf;
  weft__ws_cfg cfg;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool dead;
  unsigned sync_done;
} dialer;

static int64_t now_ms(void) {
  return weft_now_ns() / 1000000;
}

static int wait_io(weft__conn *io, bool for_write, int64_t deadline) {
  for (;;) {
    int64_t left = deadline - now_ms();
    if (left <= 0)
      return WEFT_ERR_TIMEOUT;
    struct pollfd p = {weft__conn_fd(io), for_write ? POLLOUT : POLLIN, 0};
    int n = poll(&p, 1, left > 100000 ? 100000 : (int)left);
    if (n > 0)
      return 0;
  }
}

static void on_dead(weft_ws_conn *c) {
  dialer *d = c->owner;
  pthread_mutex_lock(&d->mu);
  d->dead = true;
  pthread_cond_broadcast(&d->cv);
  pthread_mutex_unlock(&d->mu);
}

static void dialer_free(dialer *d) {
  weft_client_loop_release(d->loop);
  free(d->rbuf);
  pthread_cond_destroy(&d->cv);
  pthread_mutex_destroy(&d->mu);
  free(d);
}

typedef struct start_args {
  weft_ws_conn *c;
  uint8_t *rest; /* frames that came right behind the handshake */
  size_t nrest;
  int rv;
} start_args;

/* Loop thread: watches the socket and starts the connection (which may
 * run the handler's on_open and on_message at once). */
static void start_on_loop(void *ud) {
  start_args *a = ud;
  a->rv = weft_loop_add_fd(a->c->loop, a->c->fd, WEFT_IO_READ, weft__ws_conn_io,
                           a->c);
  if (a->rv == 0)
    weft__ws_conn_start(a->c, a->rest, a->nrest);
}

static void destroy_on_loop(void *ud) {
  weft__ws_conn_destroy(ud, WEFT__WS_CLOSE_ABNORMAL, "no event loop");
}

int weft__ws_dial_open(weft_ws_conn **out, weft__conn *io,
                       const weft__ws_dial_args *a, const char *proto,
                       const uint8_t *rest, size_t nrest, weft_error *err) {
  int rv;
  dialer *d = calloc(1, sizeof *d);
  if (!d || !(d->rbuf = malloc(WEFT__WS_RBUF))) {
    free(d);
    weft__conn_close(io);
    return weft_error_set(err, WEFT_ERR_NOMEM, "ws: out of memory");
  }
  d->cfg = a->cfg;
  pthread_mutex_init(&d->mu, NULL);
  pthread_cond_init(&d->cv, NULL);
  if ((rv = weft_client_loop_acquire(&d->loop, err)) < 0) {
    weft__conn_close(io);
    dialer_free(d);
    return rv;
  }
  weft_ws_conn *c = weft__ws_conn_new(d->loop, io, &d->cfg, false);
  if (!c) {
    weft__conn_close(io);
    dialer_free(d);
    return weft_error_set(err, WEFT_ERR_NOMEM, "ws: out of memory");
  }
  weft_ws_conn_ref(c); /* the dialer's */
  c->rbuf = d->rbuf;
  c->owner = d;
  c->on_dead = on_dead;
  c->h = a->handler;
  c->h_ud = a->ud;
  snprintf(c->proto, sizeof c->proto, "%s", proto);
  c->path = strdup(a->target && *a->target ? a->target : "/");
  const char *why = NULL;
  start_args sa = {c, (uint8_t *)rest, nrest, 0};
  if (!c->path) {
    rv = WEFT_ERR_NOMEM;
    why = "ws: out of memory";
  } else if ((rv = weft_loop_run_sync(d->loop, start_on_loop, &sa)) < 0 ||
             (rv = sa.rv) < 0) {
    why = "ws: watching the socket";
  }
  if (why) {
    weft_loop_run_sync(d->loop, destroy_on_loop, c);
    weft_ws_conn_unref(c);
    dialer_free(d);
    return weft_error_set(err, rv, "%s", why);
  }
  *out = c;
  return 0;
}

int weft__ws_dial(weft_ws_conn **out, const weft__ws_dial_args *a,
                  int *http_status, weft_error *err) {
  int64_t deadline = now_ms() + (a->timeout_ms > 0 ? a->timeout_ms : 10000);
  weft__tls_ctx *tls = NULL;
  weft__conn *io = NULL;
  int rv;
  if (http_status)
    *http_status = 0;
  if (a->tls &&
      (rv = weft__tls_ctx_new(&tls, false, a->tls_opts, NULL, err)) < 0)
    return rv;
  rv = weft__conn_connect(&io, a->host, a->port, tls,
                          a->tls_opts ? a->tls_opts->server_name : NULL,
                          deadline - now_ms(), err);
  weft__tls_ctx_free(tls); /* the connection keeps its own reference */
  if (rv < 0)
    return rv;

  weft__ws_upgrade u;
  if ((rv = weft__ws_upgrade_init(&u, a->host, a->port, a->target, a->protocols,
                                  a->origin, a->extra_headers,
                                  a->cfg.max_header_bytes, err)) < 0) {
    weft__conn_close(io);
    return rv;
  }
  /* The request, then the response and any frames right behind it. */
  size_t len, room;
  const char *out_bytes;
  while ((out_bytes = weft__ws_upgrade_out(&u, &len)), len > 0) {
    ssize_t w = weft__conn_write(io, out_bytes, len);
    if (w > 0) {
      weft__ws_upgrade_wrote(&u, (size_t)w);
    } else if (w == WEFT_ERR_AGAIN) {
      if (wait_io(io, weft__conn_wants_write(io), deadline) < 0) {
        rv = weft__ws_upgrade_timed_out(&u, err);
        goto fail;
      }
    } else {
      rv = weft__ws_upgrade_write_failed(&u, weft__conn_error(io), err);
      goto fail;
    }
  }
  for (rv = 0; rv == 0;) {
    char *in = weft__ws_upgrade_in(&u, &room);
    ssize_t r = weft__conn_read(io, in, room);
    if (r > 0) {
      rv = weft__ws_upgrade_received(&u, (size_t)r, err);
    } else if (r == WEFT_ERR_AGAIN) {
      if (wait_io(io, weft__conn_wants_write(io), deadline) < 0)
        rv = weft__ws_upgrade_timed_out(&u, err);
    } else {
      rv =
          weft__ws_upgrade_closed(&u, r < 0 ? weft__conn_error(io) : NULL, err);
    }
  }
  if (http_status)
    *http_status = u.status;
  if (rv < 0)
    goto fail;

  /* Open: hand the socket to the loop. */
  size_t nrest;
  const uint8_t *rest = weft__ws_upgrade_rest(&u, &nrest);
  rv = weft__ws_dial_open(out, io, a, u.proto, rest, nrest, err);
  weft__ws_upgrade_free(&u);
  return rv;
fail:
  weft__ws_upgrade_free(&u);
  weft__conn_close(io);
  return rv;
}

struct dsync {
  weft_ws_conn *c;
  int what; /* 0 close, 1 kill, 2 nothing */
  unsigned ticket;
};

static void dsync_task(void *ud) {
  struct dsync *s = ud;
  dialer *d = s->c->owner;
  if (s->what == 0)
    weft__ws_conn_close_now(s->c, WEFT__WS_CLOSE_NORMAL, "");
  else if (s->what == 1)
    weft__ws_conn_destroy(s->c, WEFT__WS_CLOSE_ABNORMAL, "client closed");
  pthread_mutex_lock(&d->mu);
  d->sync_done = s->ticket;
  pthread_cond_broadcast(&d->cv);
  pthread_mutex_unlock(&d->mu);
}

static void dsync(weft_ws_conn *c, int what) {
  dialer *d = c->owner;
  static atomic_uint tickets;
  struct dsync s = {c, what, atomic_fetch_add(&tickets, 1) + 1};
  if (weft_loop_post(d->loop, dsync_task, &s) != 0)
    return;
  pthread_mutex_lock(&d->mu);
  while (d->sync_done != s.ticket)
    pthread_cond_wait(&d->cv, &d->mu);
  pthread_mutex_unlock(&d->mu);
}

/* Loop thread, posted by a close made on the loop: everything posted
 * before (the connection's own work) has run. */
static void dial_free_task(void *ud) {
  weft_ws_conn *c = ud;
  dialer *d = c->owner;
  weft_ws_conn_unref(c);
  dialer_free(d);
}

void weft__ws_dial_close(weft_ws_conn *c) {
  if (!c)
    return;
  dialer *d = c->owner;
  if (weft_loop_in_thread(d->loop)) {
    /* From a callback on the loop (a client closed from its own callback,
     * or by the runtime's timers): waiting for the peer's close frame
     * would stall the loop it arrives on, so the close handshake is cut
     * short (1006 locally); the caller may still use the connection when
     * the callback returns, so the memory goes after it. */
    weft__ws_conn_close_now(c, WEFT__WS_CLOSE_NORMAL, "");
    weft__ws_conn_destroy(c, WEFT__WS_CLOSE_ABNORMAL, "client closed");
    if (weft_loop_post(d->loop, dial_free_task, c) < 0)
      dial_free_task(c);
    return;
  }
  dsync(c, 0);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  int64_t wait_ms = d->cfg.close_timeout_ms + 200;
  ts.tv_sec += wait_ms / 1000;
  ts.tv_nsec += (wait_ms % 1000) * 1000000;
  if (ts.tv_nsec >= 1000000000) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000;
  }
  pthread_mutex_lock(&d->mu);
  while (!d->dead)
    if (pthread_cond_timedwait(&d->cv, &d->mu, &ts) != 0)
      break;
  pthread_mutex_unlock(&d->mu);
  dsync(c, 1);
  dsync(c, 2); /* everything posted before has run */
  weft_ws_conn_unref(c);
  dialer_free(d);
}

/* ---- the public raw client (weft/websocket.h) ---- */

int weft_ws_connect(weft_ws_conn **out, const char *url,
                    const weft_client_opts *opts, const char *protocols,
                    const weft_ws_handler *h, void *ud, weft_error *err) {
  static const weft_client_opts defaults;
  if (!opts)
    opts = &defaults;
  weft_url u;
  int rv = weft_url_parse(url, &u, err);
  if (rv < 0)
    return rv;
  bool tls = strcmp(u.scheme, "wss") == 0;
  if (!tls && strcmp(u.scheme, "ws") != 0)
    return weft_error_set(err, WEFT_ERR_BAD_URL,
                          "ws: %s is not a ws:// or wss:// URL", url);
  /* Called directly, not through weft_client_open: check the chain here. */
  const void *wov = NULL;
  rv = weft_opts_get(opts->transport_opts, WEFT_WS_OPTS_TAG, &wov, err);
  if (rv < 0)
    return rv;
  const weft_ws_opts *wo = wov;
  char target[2100];
  snprintf(target, sizeof target, "%s%s%s", u.path[0] ? u.path : "/",
           u.query[0] ? "?" : "", u.query);
  weft__ws_dial_args a = {.host = u.host,
                          .port = u.port >= 0 ? u.port : (tls ? 443 : 80),
                          .target = target,
                          .tls = tls,
                          .tls_opts = &opts->tls,
                          .protocols = protocols,
                          .origin = wo ? wo->origin : NULL,
                          .extra_headers = wo ? wo->extra_headers : NULL,
                          .timeout_ms = opts->connect_timeout_ms,
                          .handler = h,
                          .ud = ud};
  weft__ws_cfg_init(&a.cfg, wo, NULL, opts->max_message_size,
                    opts->keepalive_ms);
  a.cfg.idle_timeout_ms = opts->idle_timeout_ms;
  return weft__ws_dial(out, &a, NULL, err);
}

void weft_ws_disconnect(weft_ws_conn *c) {
  weft__ws_dial_close(c);
}
