/* ws:// and wss://: weft envelopes in WebSocket messages, multiplexed by
 * the envelope mux. The envelope endpoint is a weft_ws_handler like any raw
 * route: on the server it answers on the listen URL's path ("/" if none)
 * when no route took the request; other paths get 404.
 *
 * Subprotocols: "weft.proto.v1" carries binary envelopes in binary
 * messages, "weft.json.v1" JSON envelopes in text messages. A client that
 * offers neither (and no other) gets protobuf; one that offers only others
 * is refused with 400. A message of the wrong kind closes with 1003.
 *
 * A server connection that closes while its handlers still run becomes a
 * zombie, as on tcp://: its socket is gone at once, and the listener's loop
 * frees its multiplexer when the last of them has finished (the mux's
 * on_idle), so neither the loop nor a thread of its own waits for them,
 * and nothing polls. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attempt.h"
#include "mux.h"
#include "reapq.h"
#include "weft/transport.h"
#include "weft/websocket.h"
#include "ws_handshake.h"
#include "ws_net.h"

typedef struct ws_listener ws_listener;

/* One envelope connection, either side. */
typedef struct env_conn {
  weft_ws_conn *c;
  weft__mux *mux;
  weft_codec_kind codec;
  size_t max_message_size;
  /* server */
  weft_server *srv;
  ws_listener *owner;
  char *api_key; /* the upgrade's accepted key: authenticates its calls */
  /* client */
  weft_client *client;
  atomic_bool closing; /* disconnect() in progress: no notifications */
  atomic_int refs;     /* the owner's, plus one per pending resume post */
  bool closed;         /* loop thread: on_close ran, the mux is going */
  bool rx_any;         /* loop thread: the peer sent a message */
  /* After on_close no resume is posted: the loop may be freed soon. */
  pthread_mutex_t pmu;
  bool no_posts;
  struct env_conn *znext, *zprev; /* the listener's zombies (loop thread) */
  bool zombie;                    /* loop thread: on the zombie list */
  weft__reapq_link reap_link;     /* the listener's queue (reapq.h) */
} env_conn;

static env_conn *env_new(void) {
  env_conn *e = calloc(1, sizeof *e);
  if (e) {
    atomic_init(&e->refs, 1);
    pthread_mutex_init(&e->pmu, NULL);
  }
  return e;
}

static void env_ref(env_conn *e) {
  atomic_fetch_add(&e->refs, 1);
}

static void env_unref(env_conn *e) {
  if (atomic_fetch_sub(&e->refs, 1) == 1) {
    pthread_mutex_destroy(&e->pmu);
    free(e->api_key);
    free(e);
  }
}

static void stop_posts(env_conn *e) {
  pthread_mutex_lock(&e->pmu);
  e->no_posts = true;
  pthread_mutex_unlock(&e->pmu);
}

struct ws_listener {
  weft__ws_listener *l;
  weft_server *srv;
  char path[1024]; /* where the envelope endpoint answers */
  size_t max_message_size;
  /* The loop thread's, until the listener's loop is gone: closed
   * connections waiting for their handlers. */
  env_conn *zombies;
  weft__reapq rq; /* zombies whose last handler finished */
};

/* ---- the mux's I/O ---- */

static int io_send(void *ud, const uint8_t *data, size_t len, bool text) {
  env_conn *e = ud;
  return e->c ? weft_ws_conn_send(e->c, text, data, len) : WEFT_ERR_CLOSED;
}

static void io_close(void *ud, const weft_error *err) {
  env_conn *e = ud;
  if (e->c)
    weft_ws_conn_close(e->c, 1002,
                       err && err->message[0] ? err->message : "bad envelope");
}

static void resume_task(void *ud) {
  env_conn *e = ud;
  if (!e->closed && e->mux && !weft__mux_rx_paused(e->mux))
    weft__ws_conn_set_paused(e->c, false);
  weft_ws_conn_unref(e->c);
  env_unref(e);
}

/* The mux's reader drained a full queue (any thread): read again. */
static void io_rx_resume(void *ud) {
  env_conn *e = ud;
  pthread_mutex_lock(&e->pmu);
  if (!e->no_posts) {
    weft_ws_conn_ref(e->c);
    env_ref(e);
    if (weft_loop_post(weft_ws_conn_loop(e->c), resume_task, e) != 0) {
      weft_ws_conn_unref(e->c);
      env_unref(e);
    }
  }
  pthread_mutex_unlock(&e->pmu);
}

static void io_idle(void *ud);

/* ws_conn's busy_fn: calls in flight keep the connection from idling. */
static size_t env_busy(void *ud) {
  env_conn *e = ud;
  return e->mux && !e->closed ? weft__mux_active(e->mux) : 0;
}

static void env_open(weft_ws_conn *c, void *ud) {
  env_conn *e = ud;
  e->c = c;
  weft_ws_conn_ref(c); /* the mux may send until it is freed */
  weft__mux_opts mo = {.server = e->srv != NULL,
                       .srv = e->srv,
                       .codec = e->codec,
                       .max_message_size = e->max_message_size,
                       .peer = weft_ws_conn_peer(c),
                       .conn_api_key = e->api_key};
  weft__mux_io io = {.send = io_send,
                     .close = io_close,
                     .io_ud = e,
                     .rx_resume = io_rx_resume,
                     .on_idle = io_idle,
                     /* client: waiting callers drive the loop (mux.h) */
                     .drive_loop = e->srv ? NULL : weft_ws_conn_loop(c)};
  if (weft__mux_new(&e->mux, &mo, &io) < 0) {
    e->mux = NULL;
    weft_ws_conn_close(c, 1011, "out of memory");
    return;
  }
  if (e->srv)
    weft__ws_conn_set_busy(c, env_busy, e);
}

static void env_message(weft_ws_conn *c, bool text, const uint8_t *data,
                        size_t len, void *ud) {
  env_conn *e = ud;
  if (!e->mux)
    return;
  e->rx_any = true;
  if (text != (e->codec == WEFT_CODEC_JSON)) {
    weft_ws_conn_close(c, 1003,
                       e->codec == WEFT_CODEC_JSON
                           ? "weft.json.v1 carries text messages"
                           : "weft.proto.v1 carries binary messages");
    return;
  }
  if (weft__mux_on_message(e->mux, data, len, text) < 0)
    weft_ws_conn_close(c, 1002, "bad weft envelope");
  else if (weft__mux_rx_paused(e->mux))
    weft__ws_conn_set_paused(c, true); /* a reader's queue is full */
}

static void closed_error(weft_error *why, int code, const char *reason) {
  weft_error_set(why,
                 code == 1000 || code == 1001 ? WEFT_ERR_CLOSED : WEFT_ERR_IO,
                 "websocket closed (%d%s%s)", code,
                 reason && *reason ? ": " : "", reason ? reason : "");
}

/* Frees a closed server-side envelope connection. weft__mux_free waits for
 * handlers still running, so it is called here only once none is (or off
 * the loop, at the listener's close). */
static void env_server_free(env_conn *e) {
  weft__mux_free(e->mux);
  /* No io_idle is under way or to come now: e leaves the queue for good
   * if the one there was queued it. */
  weft__reapq_remove(&e->owner->rq, &e->reap_link);
  weft_ws_conn_unref(e->c);
  env_unref(e);
}

static void zombie_unlink(ws_listener *wl, env_conn *e) {
  if (e->zprev)
    e->zprev->znext = e->znext;
  else
    wl->zombies = e->znext;
  if (e->znext)
    e->znext->zprev = e->zprev;
}

/* Loop thread: frees a queued zombie. A connection is queued when its
 * last handler finished after its mux closed; that may be before its
 * WebSocket close ran (a protocol error closes the mux first), and such a
 * connection is freed by that close (no handler left). */
static void reap_link(void *owner, weft__reapq_link *link) {
  ws_listener *wl = owner;
  env_conn *e = (env_conn *)((char *)link - offsetof(env_conn, reap_link));
  if (e->zombie) {
    zombie_unlink(wl, e);
    env_server_free(e);
  }
}

/* mux io->on_idle: a closed connection's last handler finished (any
 * thread; e is alive for the call): the loop looks at it soon. */
static void io_idle(void *ud) {
  env_conn *e = ud;
  if (e->owner)
    weft__reapq_push(&e->owner->rq, weft_ws_conn_loop(e->c), &e->reap_link);
}

static void env_server_close(weft_ws_conn *c, int code, const char *reason,
                             void *ud) {
  env_conn *e = ud;
  e->closed = true;
  stop_posts(e);
  if (!e->mux) {
    if (e->c)
      weft_ws_conn_unref(e->c);
    env_unref(e);
    return;
  }
  weft_error why;
  closed_error(&why, code, reason);
  weft__ws_conn_set_calls(c, weft__mux_calls(e->mux), weft__mux_active(e->mux));
  weft__mux_on_closed(e->mux, &why);
  if (weft__mux_active(e->mux) == 0) {
    env_server_free(e);
    return;
  }
  /* Handlers still run (the runtime has been told to cancel them): the
   * last of them to finish has the loop free the connection (io_idle; a
   * sweep it posts runs after this). */
  ws_listener *wl = e->owner;
  e->zombie = true;
  e->zprev = NULL;
  e->znext = wl->zombies;
  if (wl->zombies)
    wl->zombies->zprev = e;
  wl->zombies = e;
}

static const weft_ws_handler env_server_handler = {env_open, env_message,
                                                   env_server_close};

/* The envelope endpoint: the route of last resort. */
static int env_route(void *ud, const weft_ws_request *req,
                     weft_ws_accept *acc) {
  ws_listener *wl = ud;
  if (strcmp(req->path, wl->path) != 0)
    return 404;
  static const char *const protos[] = {WEFT_WS_SUBPROTOCOL_PROTO,
                                       WEFT_WS_SUBPROTOCOL_JSON, NULL};
  const weft__ws_http *http = req->internal;
  int pick = weft__ws_hs_pick_protocol(http, protos);
  if (pick < 0 && weft__ws_http_get(http, "Sec-WebSocket-Protocol")) {
    acc->reason = "no supported subprotocol (weft.proto.v1, weft.json.v1)";
    return 400;
  }
  env_conn *e = env_new();
  if (!e)
    return 503;
  /* A key accepted at the upgrade (?api_key=, X-Api-Key, Authorization:
   * Bearer) stands for every call on the connection, as on the AITBC
   * routes; a call's own key still wins. */
  if (req->api_key && req->api_key_ok && !(e->api_key = strdup(req->api_key))) {
    env_unref(e);
    return 503;
  }
  e->codec = pick == 1 ? WEFT_CODEC_JSON : WEFT_CODEC_PROTO;
  e->srv = wl->srv;
  e->owner = wl;
  e->max_message_size = wl->max_message_size;
  acc->handler = &env_server_handler;
  acc->ud = e;
  acc->protocol = pick >= 0 ? protos[pick] : NULL;
  return 1;
}

/* ---- server transport ---- */

static int ws_listen_common(weft_server *s, const weft_url *url,
                            const weft_server_opts *opts, bool tls, void **out,
                            int *port, weft_error *err) {
  static const weft_server_opts defaults;
  if (!opts)
    opts = &defaults;
  ws_listener *wl = calloc(1, sizeof *wl);
  if (!wl)
    return weft_error_set(err, WEFT_ERR_NOMEM, "ws: out of memory");
  wl->srv = s;
  weft__reapq_init(&wl->rq, reap_link, wl);
  wl->max_message_size = opts->max_message_size;
  /* The envelope endpoint answers on the listen URL's path, "/" if it
   * names none; other paths are left to routes (else 404). */
  snprintf(wl->path, sizeof wl->path, "%s", url->path[0] ? url->path : "/");
  weft__ws_listen_args a = {.host = url->host[0] ? url->host : NULL,
                            .port =
                                url->port >= 0 ? url->port : (tls ? 443 : 80),
                            .tls = tls,
                            .tls_opts = &opts->tls,
                            .srv = s,
                            .fallback = env_route,
                            .fallback_ud = wl,
                            .log = opts->log,
                            .log_ud = opts->log_ud,
                            .scheme = tls ? "wss" : "ws"};
  weft__ws_cfg_init(&a.cfg,
                    weft_opts_find(opts->transport_opts, WEFT_WS_OPTS_TAG),
                    opts, opts->max_message_size, opts->keepalive_ms);
  int rv = weft__ws_listen(&wl->l, &a, port, err);
  if (rv < 0) {
    weft__reapq_destroy(&wl->rq);
    free(wl);
    return rv;
  }
  *out = wl;
  return 0;
}

static int ws_listen(weft_server *s, const weft_url *url,
                     const weft_server_opts *opts, void **out, int *port,
                     weft_error *err) {
  return ws_listen_common(s, url, opts, false, out, port, err);
}

static int wss_listen(weft_server *s, const weft_url *url,
                      const weft_server_opts *opts, void **out, int *port,
                      weft_error *err) {
  return ws_listen_common(s, url, opts, true, out, port, err);
}

static void ws_stop_accepting(void *ud) {
  ws_listener *wl = ud;
  weft__ws_listener_stop_accepting(wl->l);
}

static void ws_close_listener(void *ud) {
  ws_listener *wl = ud;
  if (!wl)
    return;
  /* Nothing is queued from now on: the zombies are freed below (a drain
   * posted before runs, finding nothing, when the loop is freed). */
  weft__reapq_close(&wl->rq);
  /* Every connection is closed and the loop freed when this returns. */
  weft__ws_listener_close(wl->l);
  /* Off the loop now: wait for the handlers the runtime has cancelled. */
  while (wl->zombies) {
    env_conn *e = wl->zombies;
    zombie_unlink(wl, e);
    env_server_free(e);
  }
  weft__reapq_destroy(&wl->rq);
  free(wl);
}

const weft_server_transport weft__ws_server_transport = {
    .scheme = "ws",
    .default_port = 80,
    .listen = ws_listen,
    .stop_accepting = ws_stop_accepting,
    .close = ws_close_listener,
};

const weft_server_transport weft__wss_server_transport = {
    .scheme = "wss",
    .default_port = 443,
    .listen = wss_listen,
    .stop_accepting = ws_stop_accepting,
    .close = ws_close_listener,
};

/* ---- client transport ---- */

static void env_client_close(weft_ws_conn *c, int code, const char *reason,
                             void *ud) {
  (void)c;
  env_conn *e = ud;
  e->closed = true;
  stop_posts(e);
  weft_error why;
  if (code == 1008 && !e->rx_any)
    /* Policy close before the server said anything: how a weft server with
     * auth_after_upgrade (and AITBC) refuses an API key. Calls fail with
     * UNAUTHENTICATED and the server's reason, as on other transports. */
    weft_error_set(&why, WEFT_ERR_AUTH, "%s",
                   reason && *reason ? reason
                                     : "the server closed the WebSocket with "
                                       "1008 (policy violation)");
  else
    closed_error(&why, code, reason);
  if (e->mux)
    weft__mux_on_closed(e->mux, &why);
  if (!atomic_load(&e->closing))
    weft_client_notify(e->client,
                       why.code == WEFT_ERR_CLOSED ? WEFT_CONN_DISCONNECTED
                                                   : WEFT_CONN_ERROR,
                       &why);
}

static const weft_ws_handler env_client_handler = {env_open, env_message,
                                                   env_client_close};

/* What both connects need: the envelope connection to be and the dial's
 * arguments (pointing into s). */
typedef struct ws_setup {
  env_conn *e;
  const char *proto;
  char target[2100], extra[1024];
  weft__ws_dial_args a;
} ws_setup;

static int ws_setup_init(ws_setup *s, weft_client *client, const weft_url *url,
                         const weft_client_opts *opts, bool tls,
                         weft_error *err) {
  static const weft_client_opts defaults;
  if (!opts)
    opts = &defaults;
  const weft_ws_opts *wo =
      weft_opts_find(opts->transport_opts, WEFT_WS_OPTS_TAG);
  env_conn *e = env_new();
  if (!e)
    return weft_error_set(err, WEFT_ERR_NOMEM, "ws: out of memory");
  e->client = client;
  e->codec = opts->codec;
  e->max_message_size = opts->max_message_size;
  s->e = e;
  s->extra[0] = '\0';
  snprintf(s->target, sizeof s->target, "%s%s%s",
           url->path[0] ? url->path : "/", url->query[0] ? "?" : "",
           url->query);
  /* The API key of every call (x-api-key, else authorization) also
   * authenticates the upgrade. */
  const weft_metadata_entry *k =
      opts->metadata ? weft_metadata_get(opts->metadata, "x-api-key") : NULL;
  const char *hname = "X-Api-Key";
  if (!k && opts->metadata &&
      (k = weft_metadata_get(opts->metadata, "authorization")))
    hname = "Authorization";
  if (k && k->value_len < 512 && !memchr(k->value, '\r', k->value_len) &&
      !memchr(k->value, '\n', k->value_len))
    snprintf(s->extra, sizeof s->extra, "%s: %.*s\r\n", hname,
             (int)k->value_len, (const char *)k->value);
  if (wo && wo->extra_headers)
    snprintf(s->extra + strlen(s->extra), sizeof s->extra - strlen(s->extra),
             "%s", wo->extra_headers);
  s->proto = e->codec == WEFT_CODEC_JSON ? WEFT_WS_SUBPROTOCOL_JSON
                                         : WEFT_WS_SUBPROTOCOL_PROTO;
  s->a = (weft__ws_dial_args){.host = url->host,
                              .port =
                                  url->port >= 0 ? url->port : (tls ? 443 : 80),
                              .target = s->target,
                              .tls = tls,
                              .tls_opts = &opts->tls,
                              .protocols = s->proto,
                              .origin = wo ? wo->origin : NULL,
                              .extra_headers = s->extra,
                              .timeout_ms = opts->connect_timeout_ms,
                              .handler = &env_client_handler,
                              .ud = e};
  weft__ws_cfg_init(&s->a.cfg, wo, NULL, opts->max_message_size,
                    opts->keepalive_ms);
  s->a.cfg.idle_timeout_ms = opts->idle_timeout_ms;
  return 0;
}

/* The dial's outcome made a connection of e (or its error the client's):
 * the same on both paths. Loop thread or any other. */
static int ws_dialed(env_conn *e, const char *proto, int rv, weft_ws_conn *c,
                     int status, void **out, weft_error *err) {
  if (rv < 0) {
    env_unref(e);
    if (status == 401) { /* refused credentials: UNAUTHENTICATED */
      rv = WEFT_ERR_AUTH;
      if (err)
        err->code = rv;
    }
    return rv;
  }
  if (strcmp(weft_ws_conn_protocol(c), proto) != 0 &&
      (e->codec == WEFT_CODEC_JSON || weft_ws_conn_protocol(c)[0])) {
    atomic_store(&e->closing, true);
    weft__ws_dial_close(c);
    weft__mux_free(e->mux);
    weft_ws_conn_unref(e->c);
    env_unref(e);
    return weft_error_set(err, WEFT_ERR_HANDSHAKE,
                          "ws: server did not accept subprotocol %s", proto);
  }
  if (!e->mux) {
    atomic_store(&e->closing, true);
    weft__ws_dial_close(c);
    weft_ws_conn_unref(e->c);
    env_unref(e);
    return weft_error_set(err, WEFT_ERR_NOMEM, "ws: out of memory");
  }
  *out = e;
  return 0;
}

static int ws_connect_common(weft_client *client, const weft_url *url,
                             const weft_client_opts *opts, bool tls, void **out,
                             weft_error *err) {
  ws_setup s;
  int rv = ws_setup_init(&s, client, url, opts, tls, err);
  if (rv < 0)
    return rv;
  int status = 0;
  weft_ws_conn *c = NULL;
  rv = weft__ws_dial(&c, &s.a, &status, err);
  return ws_dialed(s.e, s.proto, rv, c, status, out, err);
}

static int ws_connect(weft_client *client, const weft_url *url,
                      const weft_client_opts *opts, void **conn,
                      weft_error *err) {
  return ws_connect_common(client, url, opts, false, conn, err);
}

static int wss_connect(weft_client *client, const weft_url *url,
                       const weft_client_opts *opts, void **conn,
                       weft_error *err) {
  return ws_connect_common(client, url, opts, true, conn, err);
}

/* A reconnect attempt on the client loop (connect_async). */
typedef struct ws_async {
  weft__ws_attempt *attempt;
  weft_client *client;
  env_conn *e;
  const char *proto;
  void (*done)(weft_client *, int, void *, const weft_error *);
} ws_async;

static void ws_async_done(void *ud, int rv, weft_ws_conn *c, int status,
                          const weft_error *derr) {
  ws_async *x = ud;
  weft_error err;
  weft_error_clear(&err);
  if (rv < 0 && derr)
    err = *derr;
  void *conn = NULL;
  rv = ws_dialed(x->e, x->proto, rv, c, status, &conn, &err);
  x->done(x->client, rv, conn, &err);
  free(x);
}

/* Loop thread: the client is closing (attempt.h); done will not run. */
static void ws_async_stop(void *ud) {
  ws_async *x = ud;
  weft__ws_dial_async_cancel(x->attempt);
  env_unref(x->e);
  free(x);
}

static int ws_connect_async_common(weft_client *client, const weft_url *url,
                                   const weft_client_opts *opts, bool tls,
                                   void (*done)(weft_client *, int, void *,
                                                const weft_error *),
                                   weft_error *err) {
  ws_async *x = calloc(1, sizeof *x);
  if (!x)
    return weft_error_set(err, WEFT_ERR_NOMEM, "ws: out of memory");
  ws_setup s;
  int rv = ws_setup_init(&s, client, url, opts, tls, err);
  if (rv == 0) {
    *x = (ws_async){NULL, client, s.e, s.proto, done};
    rv = weft__ws_dial_async(&s.a, ws_async_done, x, &x->attempt, err);
    if (rv < 0)
      env_unref(s.e);
    else
      weft__client_attempt_set(client, ws_async_stop, x);
  }
  if (rv < 0)
    free(x);
  return rv;
}

static int ws_connect_async(weft_client *client, const weft_url *url,
                            const weft_client_opts *opts,
                            void (*done)(weft_client *, int, void *,
                                         const weft_error *),
                            weft_error *err) {
  return ws_connect_async_common(client, url, opts, false, done, err);
}

static int wss_connect_async(weft_client *client, const weft_url *url,
                             const weft_client_opts *opts,
                             void (*done)(weft_client *, int, void *,
                                          const weft_error *),
                             weft_error *err) {
  return ws_connect_async_common(client, url, opts, true, done, err);
}

static void ws_disconnect(void *conn) {
  env_conn *e = conn;
  if (!e)
    return;
  atomic_store(&e->closing, true);
  weft_ws_conn *c = e->c;
  weft__mux_goaway(e->mux);
  weft__ws_dial_close(c); /* close handshake, then on_close fails calls */
  weft__mux_free(e->mux);
  weft_ws_conn_unref(c);
  env_unref(e);
}

static int ws_call_start(void *conn, const weft_method_desc *m,
                         const weft_metadata *md, int64_t deadline_ns,
                         void **tcall, weft_error *err) {
  env_conn *e = conn;
  return weft__mux_call_start(e->mux, m, md, deadline_ns, tcall, err);
}

static int ws_call_start_async(void *conn, const weft_method_desc *m,
                               const weft_metadata *md, int64_t deadline_ns,
                               weft_arena *arena, const weft_call_events *ev,
                               void *ud, void **tcall, weft_error *err) {
  env_conn *e = conn;
  return weft__mux_call_start_async(e->mux, m, md, deadline_ns, arena, ev, ud,
                                    tcall, err);
}

#define WS_CLIENT(name, port, connect_fn, async_fn)                            \
  {                                                                            \
    .scheme = name, .default_port = port, .connect = connect_fn,               \
    .connect_async = async_fn, .disconnect = ws_disconnect,                    \
    .call_start = ws_call_start, .call_send = weft__mux_call_send,             \
    .call_close_send = weft__mux_call_close_send,                              \
    .call_recv = weft__mux_call_recv, .call_finish = weft__mux_call_finish,    \
    .call_cancel = weft__mux_call_cancel,                                      \
    .call_start_async = ws_call_start_async                                    \
  }

const weft_client_transport weft__ws_client_transport =
    WS_CLIENT("ws", 80, ws_connect, ws_connect_async);
const weft_client_transport weft__wss_client_transport =
    WS_CLIENT("wss", 443, wss_connect, wss_connect_async);
