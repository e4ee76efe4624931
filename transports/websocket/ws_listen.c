/* The server side: accepting on weft_loop, the per-IP connection limit,
 * and the opening handshake with its policies, in the order a request
 * meets them: size and time bounds (431, 408), the RFC checks (400, 405,
 * 426), the per-IP limit (429), the Origin allow-list (403), routing
 * (a path handler, else the envelope endpoint, else 404) and the API key
 * (401 before the upgrade, or close 1008 after it). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "accept.h"
#include "weft/transport.h"
#include "ws_conn.h"
#include "ws_handshake.h"

struct weft__ws_listener {
  weft_loop *loop;
  int lfd;             /* until the acceptor takes it */
  weft__acceptor *acc; /* loop thread */
  weft__tls_ctx *tls;
  weft__ws_cfg cfg;
  weft_server *srv;
  weft_ws_route_fn fallback;
  void *fallback_ud;
  void (*log)(int level, const char *line, void *ud);
  void *log_ud;
  uint8_t *rbuf;
  const char *scheme; /* connection events */
  char url[300];
  /* loop thread */
  weft_ws_conn *conns;
  /* any thread */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  size_t nconns;
  unsigned sync_done;
};

static void logf_(weft__ws_listener *l, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void logf_(weft__ws_listener *l, int level, const char *fmt, ...) {
  if (!l->log)
    return;
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  l->log(level, line, l->log_ud);
}

static const char *close_name(int code) {
  switch (code) {
  case WEFT__WS_CLOSE_NORMAL:
    return "normal";
  case WEFT__WS_CLOSE_GOING_AWAY:
    return "going away";
  case WEFT__WS_CLOSE_PROTOCOL:
    return "protocol error";
  case WEFT__WS_CLOSE_ABNORMAL:
    return "dropped without a close frame";
  case WEFT__WS_CLOSE_INVALID_DATA:
    return "invalid data";
  case WEFT__WS_CLOSE_POLICY:
    return "policy violation";
  case WEFT__WS_CLOSE_TOO_BIG:
    return "message too big";
  case WEFT__WS_CLOSE_INTERNAL:
    return "internal error";
  default:
    return "closed";
  }
}

/* weft_conn_event.error for how a connection ended: 0 for an orderly
 * close (1000, 1001) with no call left running. */
static int close_error(const weft_ws_conn *c) {
  if (c->refused_status)
    return WEFT_ERR_HANDSHAKE;
  switch (c->close_code) {
  case WEFT__WS_CLOSE_NORMAL:
  case WEFT__WS_CLOSE_GOING_AWAY:
    return c->calls_active ? WEFT_ERR_CLOSED : 0;
  case WEFT__WS_CLOSE_PROTOCOL:
  case WEFT__WS_CLOSE_INVALID_DATA:
    return WEFT_ERR_PROTOCOL;
  case WEFT__WS_CLOSE_POLICY:
    return c->auth_refused ? WEFT_ERR_AUTH : WEFT_ERR_LIMIT;
  case WEFT__WS_CLOSE_TOO_BIG:
    return WEFT_ERR_TOO_BIG;
  default: /* 1006 (dropped), 1011, ... */
    return WEFT_ERR_CLOSED;
  }
}

static void report_closed(weft__ws_listener *l, weft_ws_conn *c) {
  char reason[300];
  int code = close_error(c);
  if (c->refused_status)
    snprintf(reason, sizeof reason, "upgrade refused with %d: %s",
             c->refused_status, c->refused_reason);
  else if (!c->opened)
    snprintf(reason, sizeof reason, "closed before the upgrade%s%s",
             c->close_reason[0] ? ": " : "", c->close_reason);
  else
    snprintf(reason, sizeof reason, "close %d (%s)%s%s", c->close_code,
             close_name(c->close_code), c->close_reason[0] ? ": " : "",
             c->close_reason);
  if (code && c->calls_active) {
    size_t n = strlen(reason);
    snprintf(reason + n, sizeof reason - n, " (%zu call%s in flight)",
             c->calls_active, c->calls_active == 1 ? "" : "s");
  }
  weft_server_conn_event(l->srv, WEFT_CONN_EVENT_CLOSED, l->scheme, l->url,
                         c->peer, code, reason, c->calls);
}

static void on_conn_dead(weft_ws_conn *c) {
  weft__ws_listener *l = c->ls;
  report_closed(l, c);
  if (c->prev)
    c->prev->next = c->next;
  else
    l->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  weft__acceptor_release(l->acc, c->ip);
  pthread_mutex_lock(&l->mu);
  l->nconns--;
  pthread_cond_broadcast(&l->cv);
  pthread_mutex_unlock(&l->mu);
}

static void hs_timeout_fn(weft_loop *lp, weft_timer *t, void *ud) {
  (void)lp, (void)t;
  weft_ws_conn *c = ud;
  c->hs_timer = NULL;
  if (c->state != WEFT__WSC_HANDSHAKE)
    return;
  char buf[256];
  int n = weft__ws_hs_response_error(buf, sizeof buf, 408,
                                     "opening handshake timed out");
  c->refused_status = 408;
  snprintf(c->refused_reason, sizeof c->refused_reason,
           "opening handshake timed out");
  logf_(c->ls, 2, "ws: %s: opening handshake timed out", c->peer);
  weft__ws_conn_send_and_drop(c, buf, (size_t)n);
}

/* A socket from the shared accept loop (accept.h). Counted per IP from
 * accept, so clients stuck in the handshake count too; over the limit the
 * request is still read, to answer it with 429. */
static void on_accepted(void *ud, weft__conn *io, bool over_limit) {
  weft__ws_listener *l = ud;
  weft_ws_conn *c = weft__ws_conn_new(l->loop, io, &l->cfg, true);
  if (!c) {
    weft__acceptor_release(l->acc, weft__conn_ip(io));
    weft__conn_close(io);
    return;
  }
  c->ls = l;
  c->srv = l->srv;
  c->rbuf = l->rbuf;
  c->on_dead = on_conn_dead;
  c->next = l->conns;
  if (l->conns)
    l->conns->prev = c;
  l->conns = c;
  pthread_mutex_lock(&l->mu);
  l->nconns++;
  pthread_mutex_unlock(&l->mu);
  weft_server_conn_event(l->srv, WEFT_CONN_EVENT_OPENED, l->scheme, l->url,
                         c->peer, 0, NULL, 0);
  if (over_limit)
    c->reject_status = 429;
  if (weft_loop_add_fd(l->loop, c->fd, WEFT_IO_READ, weft__ws_conn_io, c) < 0) {
    weft__ws_conn_destroy(c, WEFT__WS_CLOSE_ABNORMAL, "epoll");
    return;
  }
  if (l->cfg.handshake_timeout_ms > 0)
    c->hs_timer = weft_loop_timer(l->loop, l->cfg.handshake_timeout_ms, 0,
                                  hs_timeout_fn, c);
}

/* ---- the opening handshake ---- */

static void refuse(weft_ws_conn *c, int status, const char *why) {
  char buf[512];
  int n = weft__ws_hs_response_error(buf, sizeof buf, status, why);
  if (n < 0 || (size_t)n >= sizeof buf)
    n = weft__ws_hs_response_error(buf, sizeof buf, status, NULL);
  logf_(c->ls, 2, "ws: %s: refused with %d: %s", c->peer, status, why);
  c->refused_status = status;
  /* Truncating a long reason is fine: it only feeds the connection log. */
  size_t rl = strlen(why);
  if (rl >= sizeof c->refused_reason)
    rl = sizeof c->refused_reason - 1;
  memcpy(c->refused_reason, why, rl);
  c->refused_reason[rl] = 0;
  weft__ws_conn_send_and_drop(c, buf, (size_t)n);
}

static bool in_list(const char *const *list, const char *s) {
  for (; *list; list++)
    if (strcmp(*list, "*") == 0 || strcmp(*list, s) == 0)
      return true;
  return false;
}

static bool key_ok(const char *const *keys, const char *key) {
  if (!keys)
    return true;
  if (!key)
    return false;
  size_t kl = strlen(key);
  bool ok = false;
  for (; *keys; keys++) /* compare with every key, in constant time each */
    if (strlen(*keys) == kl && CRYPTO_memcmp(*keys, key, kl) == 0)
      ok = true;
  return ok;
}

const char *weft_ws_request_header(const weft_ws_request *r, const char *name) {
  return weft__ws_http_get(r->internal, name);
}

bool weft_ws_request_offers(const weft_ws_request *r, const char *protocol) {
  return weft__ws_http_has_token(r->internal, "Sec-WebSocket-Protocol",
                                 protocol);
}

static void upgrade(weft_ws_conn *c, weft__ws_http *r, uint8_t *extra,
                    size_t extra_len) {
  const weft__ws_cfg *cfg = c->cfg;
  weft_error err;
  weft_error_clear(&err);
  int st = weft__ws_hs_check_upgrade(r, &err);
  if (st) {
    refuse(c, st, err.message);
    return;
  }
  if (c->reject_status) {
    refuse(c, c->reject_status, "too many connections from this address");
    return;
  }
  const char *origin = weft__ws_http_get(r, "Origin");
  if (cfg->allowed_origins && origin &&
      !in_list(cfg->allowed_origins, origin)) {
    refuse(c, 403, "origin not allowed");
    return;
  }
  char keybuf[256];
  const char *key = NULL;
  if (weft_url_query_param(r->query, "api_key", keybuf, sizeof keybuf) >= 0 ||
      weft_url_query_param(r->query, "token", keybuf, sizeof keybuf) >= 0)
    key = keybuf;
  else if (!(key = weft__ws_http_get(r, "X-Api-Key"))) {
    const char *az = weft__ws_http_get(r, "Authorization");
    if (az && strncasecmp(az, "Bearer ", 7) == 0)
      key = az + 7;
  }
  weft_ws_request req = {
      r->path, r->query, origin, c->peer, key, key_ok(cfg->api_keys, key), r};
  weft_ws_accept acc;
  memset(&acc, 0, sizeof acc);
  int rv = cfg->route ? cfg->route(cfg->route_ud, &req, &acc) : 0;
  if (rv == 0) {
    memset(&acc, 0, sizeof acc);
    rv =
        c->ls->fallback ? c->ls->fallback(c->ls->fallback_ud, &req, &acc) : 404;
  }
  if (rv != 1 || !acc.handler) {
    refuse(c, rv >= 400 && rv <= 599 ? rv : 500,
           acc.reason ? acc.reason : weft__ws_http_reason(rv));
    return;
  }
  /* Taken: from here on_close is owed. */
  c->h = acc.handler;
  c->h_ud = acc.ud;
  c->path = strdup(r->path);
  bool auth_ok = req.api_key_ok || acc.skip_auth;
  if (!auth_ok && !cfg->auth_after_upgrade) {
    c->close_code = WEFT__WS_CLOSE_POLICY;
    snprintf(c->close_reason, sizeof c->close_reason,
             "Invalid or missing API key");
    refuse(c, 401, "invalid or missing API key");
    return;
  }
  if (acc.protocol && weft_ws_request_offers(&req, acc.protocol))
    snprintf(c->proto, sizeof c->proto, "%s", acc.protocol);
  char buf[512];
  int n = weft__ws_hs_response_101(
      buf, sizeof buf, weft__ws_http_get(r, "Sec-WebSocket-Key"), c->proto);
  pthread_mutex_lock(&c->mu);
  int wr = weft__ws_tx_raw(&c->tx, buf, (size_t)n);
  pthread_mutex_unlock(&c->mu);
  if (wr < 0) {
    weft__ws_conn_destroy(c, WEFT__WS_CLOSE_INTERNAL, "out of memory");
    return;
  }
  if (c->hs_timer) {
    weft_timer_cancel(c->loop, c->hs_timer);
    c->hs_timer = NULL;
  }
  /* The 101 goes out with the first flush (on_open may send more). */
  weft_ws_conn_ref(c);
  weft__ws_conn_start(c, extra, extra_len);
  if (c->state == WEFT__WSC_OPEN && weft__ws_conn_flush(c) == 0 && !auth_ok) {
    c->auth_refused = true;
    weft__ws_conn_close_now(c, WEFT__WS_CLOSE_POLICY,
                            "Invalid or missing API key");
  }
  weft_ws_conn_unref(c);
}

void weft__ws_server_handshake(weft_ws_conn *c, const uint8_t *data,
                               size_t len) {
  size_t cap = c->cfg->max_header_bytes;
  if (!c->hs && !(c->hs = malloc(cap))) {
    weft__ws_conn_destroy(c, WEFT__WS_CLOSE_INTERNAL, "out of memory");
    return;
  }
  size_t take = len < cap - c->hs_len ? len : cap - c->hs_len;
  memcpy(c->hs + c->hs_len, data, take);
  c->hs_len += take;
  ssize_t end = weft__ws_hs_find_end(c->hs, c->hs_len, cap);
  if (end == 0)
    return;
  if (end < 0) {
    char why[64];
    snprintf(why, sizeof why, "request headers over %zu bytes", cap);
    refuse(c, 431, why);
    return;
  }
  /* Bytes after the request (a client should wait for the 101, but a
   * frame may already be in flight) are kept for the frame parser. */
  size_t extra_len = c->hs_len - (size_t)end + (len - take);
  uint8_t *extra = extra_len ? malloc(extra_len) : NULL;
  if (extra_len && !extra) {
    weft__ws_conn_destroy(c, WEFT__WS_CLOSE_INTERNAL, "out of memory");
    return;
  }
  if (extra_len) {
    memcpy(extra, c->hs + end, c->hs_len - (size_t)end);
    memcpy(extra + (c->hs_len - (size_t)end), data + take, len - take);
  }
  weft__ws_http r;
  weft_error err;
  if (weft__ws_hs_parse_request(&r, c->hs, (size_t)end, &err) < 0) {
    weft__ws_http_free(&r);
    free(extra);
    refuse(c, 400, err.message);
    return;
  }
  free(c->hs);
  c->hs = NULL;
  upgrade(c, &r, extra, extra_len);
  weft__ws_http_free(&r);
  free(extra);
}

/* ---- listener lifecycle ---- */

int weft__ws_listen(weft__ws_listener **out, const weft__ws_listen_args *a,
                    int *port, weft_error *err) {
  weft__ws_listener *l = calloc(1, sizeof *l);
  if (!l)
    return weft_error_set(err, WEFT_ERR_NOMEM, "ws: out of memory");
  l->lfd = -1;
  l->cfg = a->cfg;
  l->srv = a->srv;
  l->fallback = a->fallback;
  l->fallback_ud = a->fallback_ud;
  l->log = a->log;
  l->log_ud = a->log_ud;
  l->scheme = a->scheme ? a->scheme : (a->tls ? "wss" : "ws");
  pthread_mutex_init(&l->mu, NULL);
  pthread_cond_init(&l->cv, NULL);
  int rv;
  if (!(l->rbuf = malloc(WEFT__WS_RBUF))) {
    rv = weft_error_set(err, WEFT_ERR_NOMEM, "ws: out of memory");
    goto fail;
  }
  if (a->tls &&
      (rv = weft__tls_ctx_new(&l->tls, true, a->tls_opts, NULL, err)) < 0)
    goto fail;
  if ((rv = weft_loop_new(&l->loop)) < 0) {
    weft_error_set(err, rv, "ws: creating the event loop");
    goto fail;
  }
  /* A standby thread lets the loop thread run a call itself (loop.h). */
  weft_loop_set_standby(l->loop, 1);
  if ((rv = weft__listen(a->host, a->port, 1024, &l->lfd, port, err)) < 0)
    goto fail;
  weft_format_listen_url(l->url, sizeof l->url, l->scheme, a->host, *port);
  weft__acceptor_opts ao = {.loop = l->loop,
                            .lfd = l->lfd,
                            .tls = l->tls,
                            .name = l->scheme,
                            .max_per_ip = l->cfg.max_conns_per_ip,
                            .deliver_over_limit = true,
                            .on_conn = on_accepted,
                            .ud = l,
                            .log = l->log,
                            .log_ud = l->log_ud};
  l->lfd = -1; /* the acceptor has it, even if it fails */
  if ((rv = weft__acceptor_new(&l->acc, &ao)) < 0 ||
      (rv = weft_loop_start(l->loop)) < 0) {
    weft_error_set(err, rv, "ws: starting the event loop");
    goto fail;
  }
  *out = l;
  return 0;
fail:
  if (l->lfd >= 0)
    close(l->lfd);
  weft__acceptor_free(l->acc); /* the loop never ran: safe here */
  weft_loop_free(l->loop);
  weft__tls_ctx_free(l->tls);
  free(l->rbuf);
  pthread_cond_destroy(&l->cv);
  pthread_mutex_destroy(&l->mu);
  free(l);
  return rv;
}

struct sync_call {
  weft__ws_listener *l;
  void (*fn)(weft__ws_listener *l);
  unsigned ticket;
};

static void sync_task(void *ud) {
  struct sync_call *s = ud;
  s->fn(s->l);
  pthread_mutex_lock(&s->l->mu);
  s->l->sync_done = s->ticket;
  pthread_cond_broadcast(&s->l->cv);
  pthread_mutex_unlock(&s->l->mu);
}

/* Runs fn on the loop thread and waits for it. */
static void run_sync(weft__ws_listener *l, void (*fn)(weft__ws_listener *)) {
  if (weft_loop_in_thread(l->loop)) {
    fn(l);
    return;
  }
  static atomic_uint tickets;
  struct sync_call s = {l, fn, atomic_fetch_add(&tickets, 1) + 1};
  if (weft_loop_post(l->loop, sync_task, &s) != 0)
    return;
  pthread_mutex_lock(&l->mu);
  while (l->sync_done != s.ticket)
    pthread_cond_wait(&l->cv, &l->mu);
  pthread_mutex_unlock(&l->mu);
}

static void stop_fn(weft__ws_listener *l) {
  weft__acceptor_stop(l->acc);
}

void weft__ws_listener_stop_accepting(weft__ws_listener *l) {
  run_sync(l, stop_fn);
}

static void going_away_fn(weft__ws_listener *l) {
  stop_fn(l);
  for (weft_ws_conn *c = l->conns, *n; c; c = n) {
    n = c->next;
    if (c->state == WEFT__WSC_OPEN)
      weft__ws_conn_close_now(c, WEFT__WS_CLOSE_GOING_AWAY,
                              "server shutting down");
    else if (c->state == WEFT__WSC_HANDSHAKE)
      weft__ws_conn_destroy(c, WEFT__WS_CLOSE_GOING_AWAY,
                            "server shutting down");
  }
}

static void kill_fn(weft__ws_listener *l) {
  while (l->conns)
    weft__ws_conn_destroy(l->conns, WEFT__WS_CLOSE_ABNORMAL,
                          "server shut down");
}

static void nop_fn(weft__ws_listener *l) {
  (void)l;
}

void weft__ws_listener_close(weft__ws_listener *l) {
  if (!l)
    return;
  run_sync(l, going_away_fn);
  /* Give the close handshakes their time, within the server's shutdown
   * grace period (a peer that ignores the close frame must not hold the
   * shutdown for close_timeout_ms), then cut what is left. */
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  int64_t wait_ms = l->cfg.close_timeout_ms;
  if (l->cfg.shutdown_grace_ms > 0 && l->cfg.shutdown_grace_ms < wait_ms)
    wait_ms = l->cfg.shutdown_grace_ms;
  ts.tv_sec += wait_ms / 1000;
  ts.tv_nsec += (wait_ms % 1000) * 1000000;
  if (ts.tv_nsec >= 1000000000) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000;
  }
  pthread_mutex_lock(&l->mu);
  while (l->nconns > 0)
    if (pthread_cond_timedwait(&l->cv, &l->mu, &ts) != 0)
      break;
  pthread_mutex_unlock(&l->mu);
  run_sync(l, kill_fn);
  run_sync(l, nop_fn); /* tasks posted before now have run */
  weft_loop_free(l->loop);
  weft__acceptor_free(l->acc); /* stopped on the loop: only frees */
  weft__tls_ctx_free(l->tls);
  free(l->rbuf);
  pthread_cond_destroy(&l->cv);
  pthread_mutex_destroy(&l->mu);
  free(l);
}

size_t weft__ws_listener_conns(weft__ws_listener *l) {
  pthread_mutex_lock(&l->mu);
  size_t n = l->nconns;
  pthread_mutex_unlock(&l->mu);
  return n;
}
