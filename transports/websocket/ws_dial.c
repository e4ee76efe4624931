/* The client side: a blocking connect and opening handshake (bounded by
 * the connect timeout), then the connection runs on the process-wide client
 * loop (weft_client_loop_acquire), beside every other client connection. */
#define _GNU_SOURCE
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "weft/transport.h"
#include "ws_conn.h"
#include "ws_handshake.h"

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

int weft__ws_dial(weft_ws_conn **out, const weft__ws_dial_args *a,
                  int *http_status, weft_error *err) {
  int64_t deadline = now_ms() + (a->timeout_ms > 0 ? a->timeout_ms : 10000);
  weft__tls_ctx *tls = NULL;
  weft__conn *io = NULL;
  dialer *d = NULL;
  char *buf = NULL;
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

  /* The upgrade request. */
  char key[25], hostport[300];
  size_t cap = a->cfg.max_header_bytes;
  if (!(buf = malloc(cap + 4096))) {
    rv = weft_error_set(err, WEFT_ERR_NOMEM, "ws: out of memory");
    goto fail;
  }
  if ((rv = weft__ws_make_key(key)) < 0)
    goto fail;
  bool v6 = strchr(a->host, ':') != NULL;
  snprintf(hostport, sizeof hostport, v6 ? "[%s]:%d" : "%s:%d", a->host,
           a->port);
  int n = weft__ws_hs_client_request(buf, cap + 4096, hostport, a->target, key,
                                     a->protocols, a->origin, a->extra_headers);
  if (n < 0 || (size_t)n >= cap + 4096) {
    rv = weft_error_set(err, WEFT_ERR_INVAL, "ws: request headers too long");
    goto fail;
  }
  for (size_t off = 0; off < (size_t)n;) {
    ssize_t w = weft__conn_write(io, buf + off, (size_t)n - off);
    if (w > 0) {
      off += (size_t)w;
    } else if (w == WEFT_ERR_AGAIN) {
      if ((rv = wait_io(io, weft__conn_wants_write(io), deadline)) < 0) {
        weft_error_set(err, rv, "ws: sending the handshake to %s timed out",
                       hostport);
        goto fail;
      }
    } else {
      rv = weft_error_set(err, WEFT_ERR_CONNECT,
                          "ws: sending the handshake to %s: %s", hostport,
                          weft__conn_error(io));
      goto fail;
    }
  }
  /* The response, and any frames right behind it. */
  size_t have = 0;
  ssize_t end = 0;
  while (end == 0) {
    ssize_t r = weft__conn_read(io, buf + have, cap + 4096 - have);
    if (r > 0) {
      have += (size_t)r;
      end = weft__ws_hs_find_end(buf, have, cap);
    } else if (r == WEFT_ERR_AGAIN) {
      if ((rv = wait_io(io, weft__conn_wants_write(io), deadline)) < 0) {
        weft_error_set(err, rv, "ws: no handshake response from %s", hostport);
        goto fail;
      }
    } else {
      rv = weft_error_set(err, WEFT_ERR_HANDSHAKE,
                          "ws: %s closed the connection during the "
                          "handshake%s%s",
                          hostport, r < 0 ? ": " : "",
                          r < 0 ? weft__conn_error(io) : "");
      goto fail;
    }
  }
  if (end < 0) {
    rv = weft_error_set(err, WEFT_ERR_HANDSHAKE,
                        "ws: response headers from %s over %zu bytes", hostport,
                        cap);
    goto fail;
  }
  weft__ws_http resp;
  char proto[32];
  rv = weft__ws_hs_parse_response(&resp, buf, (size_t)end, err);
  if (rv == 0) {
    if (http_status)
      *http_status = resp.status;
    rv = weft__ws_hs_check_response(&resp, key, a->protocols, proto,
                                    sizeof proto, err);
  }
  weft__ws_http_free(&resp);
  if (rv < 0)
    goto fail;

  /* Open: hand the socket to a loop. */
  if (!(d = calloc(1, sizeof *d)) || !(d->rbuf = malloc(WEFT__WS_RBUF))) {
    rv = weft_error_set(err, WEFT_ERR_NOMEM, "ws: out of memory");
    goto fail;
  }
  d->cfg = a->cfg;
  pthread_mutex_init(&d->mu, NULL);
  pthread_cond_init(&d->cv, NULL);
  if ((rv = weft_client_loop_acquire(&d->loop, err)) < 0)
    goto fail;
  weft_ws_conn *c = weft__ws_conn_new(d->loop, io, &d->cfg, false);
  if (!c) {
    rv = weft_error_set(err, WEFT_ERR_NOMEM, "ws: out of memory");
    goto fail;
  }
  io = NULL;           /* the connection owns it */
  weft_ws_conn_ref(c); /* the dialer's */
  c->rbuf = d->rbuf;
  c->owner = d;
  c->on_dead = on_dead;
  c->h = a->handler;
  c->h_ud = a->ud;
  snprintf(c->proto, sizeof c->proto, "%s", proto);
  c->path = strdup(a->target && *a->target ? a->target : "/");
  const char *why = NULL;
  start_args sa = {c, (uint8_t *)buf + end, have - (size_t)end, 0};
  if (!c->path) {
    rv = WEFT_ERR_NOMEM;
    why = "ws: out of memory";
  } else if ((rv = weft_loop_run_sync(d->loop, start_on_loop, &sa)) < 0 ||
             (rv = sa.rv) < 0) {
    why = "ws: watching the socket";
  }
  free(buf);
  if (why) {
    weft_loop_run_sync(d->loop, destroy_on_loop, c);
    weft_ws_conn_unref(c);
    dialer_free(d);
    return weft_error_set(err, rv, "%s", why);
  }
  *out = c;
  return 0;
fail:
  free(buf);
  weft__conn_close(io);
  if (d) {
    if (d->rbuf) {
      pthread_cond_destroy(&d->cv);
      pthread_mutex_destroy(&d->mu);
    }
    weft_client_loop_release(d->loop);
    free(d->rbuf);
    free(d);
  }
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
