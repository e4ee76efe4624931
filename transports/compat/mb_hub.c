/* weft's MB broker mode: the broker engine behind MB-over-TCP connections
 * (on the hub's own weft_loop thread) and MB-over-WebSocket connections (a
 * route on a weft server's ws:// listener). One mutex guards the engine and
 * the connection list; the engine's send callback runs with it held. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "accept.h"
#include "mb_nats_int.h"
#include "sock.h"
#include "weft/loop.h"
#include "weft/mb_broker.h"
#include "weft/mb_net.h"
#include "weft/transport.h"

typedef struct hub_conn hub_conn;
struct hub_conn {
  weft_mb_conn id;
  weft_mb_hub *hub;
  bool ws;
  /* TCP: loop thread, output under hub->mu */
  weft__conn *io;
  int fd;
  weft_mb_deframer df;
  char ip[48]; /* per-IP count */
  char *out;
  size_t out_len, out_off, out_cap;
  bool write_armed;
  /* Closing cleanly (a frame over the limit, or deregistered): no more
   * messages are read; once the output is flushed the write side is shut
   * (FIN), and what the peer still sends is drained until it closes too or
   * drain_until passes, so the close is never a reset. */
  bool closing;
  bool shut;
  int64_t drain_until;
  /* WebSocket */
  weft_ws_conn *wsc;
  bool ws_open;
  hub_conn *next;
};

struct weft_mb_hub {
  weft_mb_hub_opts o;
  char ws_path[256];
  pthread_mutex_t mu;
  weft_mb_broker *b;
  weft_loop *loop;
  weft__acceptor *acc; /* loop thread; NULL: not listening */
  weft__tls_ctx *tls;  /* MB over TLS (o.tls); NULL: plain TCP */
  unsigned max_per_ip; /* 0: the shared default */
  hub_conn *conns;
  weft_mb_conn next_id;
  weft_timer *timer;
  bool flush_posted;
  /* Across nodes (o.nats_url): requests go through NATS; the virtual
   * connection WEFT__MB_VCONN is kept alive by a message every half
   * heartbeat interval. */
  weft__mbnats *nats;
  int64_t vconn_keepalive;
  /* The registry other nodes list: sent when it changed (at most once a
   * tick) and every WEFT__MB_REGISTRY_MS, so it can expire. */
  bool reg_dirty;
  int64_t reg_next;
};

static int64_t unix_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static hub_conn *find(weft_mb_hub *h, weft_mb_conn id) {
  for (hub_conn *c = h->conns; c; c = c->next)
    if (c->id == id)
      return c;
  return NULL;
}

static void unlink_conn(weft_mb_hub *h, hub_conn *c) {
  for (hub_conn **pp = &h->conns; *pp; pp = &(*pp)->next)
    if (*pp == c) {
      *pp = c->next;
      return;
    }
}

/* ---- TCP connections (loop thread, mu held) ---- */

static void tcp_io(weft_loop *l, int fd, unsigned events, void *ud);

static void tcp_close(weft_mb_hub *h, hub_conn *c) {
  unlink_conn(h, c);
  /* After unlinking: messages the engine sends to c now are dropped. */
  weft_mb_broker_disconnect(h->b, c->id);
  weft_loop_del_fd(h->loop, c->fd);
  weft__acceptor_release(h->acc, c->ip);
  weft__conn_close(c->io);
  weft_mb_deframer_free(&c->df);
  free(c->out);
  free(c);
}

/* Writes what is queued. Returns false if c was closed. */
static bool tcp_flush(weft_mb_hub *h, hub_conn *c) {
  while (c->out_off < c->out_len) {
    ssize_t n =
        weft__conn_write(c->io, c->out + c->out_off, c->out_len - c->out_off);
    if (n == WEFT_ERR_AGAIN)
      break;
    if (n <= 0) {
      tcp_close(h, c);
      return false;
    }
    c->out_off += (size_t)n;
  }
  bool pending = c->out_off < c->out_len;
  /* A TLS handshake waiting for the peer: the next read moves it on (and
   * flushes), and watching WRITE meanwhile would spin. */
  bool arm =
      pending && (!weft__conn_is_tls(c->io) || weft__conn_wants_write(c->io));
  if (!pending) {
    c->out_off = c->out_len = 0;
    if (c->closing && !c->shut) {
      shutdown(c->fd, SHUT_WR);
      c->shut = true;
    }
  }
  if (arm != c->write_armed) {
    weft_loop_mod_fd(h->loop, c->fd, WEFT_IO_READ | (arm ? WEFT_IO_WRITE : 0));
    c->write_armed = arm;
  }
  return true;
}

static void flush_all(void *ud) {
  weft_mb_hub *h = ud;
  pthread_mutex_lock(&h->mu);
  h->flush_posted = false;
  hub_conn *c = h->conns;
  while (c) {
    hub_conn *next = c->next;
    if (!c->ws && (c->out_len > c->out_off || (c->closing && !c->shut)))
      tcp_flush(h, c);
    c = next;
  }
  pthread_mutex_unlock(&h->mu);
}

static void schedule_flush(weft_mb_hub *h) {
  if (!h->flush_posted && weft_loop_post(h->loop, flush_all, h) == 0)
    h->flush_posted = true;
}

/* Starts a clean close of c (mu held): see hub_conn.closing. */
static void begin_close(weft_mb_hub *h, hub_conn *c) {
  if (c->closing)
    return;
  c->closing = true;
  c->drain_until = unix_ms() + 5000;
  schedule_flush(h);
}

/* ---- the engine's callbacks (mu held) ---- */

static void engine_send(void *ud, weft_mb_conn id, const char *msg,
                        size_t len) {
  weft_mb_hub *h = ud;
  if (id == WEFT__MB_VCONN) {
    if (h->nats) /* NULL once the hub is being freed */
      weft__mbnats_from_broker(h->nats, msg, len);
    return;
  }
  hub_conn *c = find(h, id);
  if (!c)
    return;
  if (c->ws) {
    if (c->wsc)
      weft_ws_conn_send(c->wsc, true, msg, len);
    return;
  }
  if (c->closing)
    return; /* ending: what was queued goes out, then the FIN */
  size_t need = c->out_len + 4 + len;
  if (need > c->out_cap) {
    size_t cap = c->out_cap ? c->out_cap : 4096;
    while (cap < need)
      cap *= 2;
    char *n = realloc(c->out, cap);
    if (!n)
      return; /* dropped; the peer times the request out */
    c->out = n;
    c->out_cap = cap;
  }
  weft_mb_frame_prefix((uint8_t *)c->out + c->out_len, len);
  memcpy(c->out + c->out_len + 4, msg, len);
  c->out_len += 4 + len;
  schedule_flush(h);
}

static bool engine_remote_request(void *ud, weft_mb_conn from,
                                  const char *broker_id,
                                  const weft_mb_header *hdr,
                                  const char *payload, size_t len) {
  weft_mb_hub *h = ud;
  /* A request another node sent us is served here or not at all. */
  return from != WEFT__MB_VCONN && h->nats &&
         weft__mbnats_request(h->nats, broker_id, hdr, payload, len) == 0;
}

static void engine_request_interest(void *ud, const char *topic, bool on) {
  weft_mb_hub *h = ud;
  if (h->nats)
    weft__mbnats_interest(h->nats, topic, on);
}

static bool engine_remote_publish(void *ud, const char *broker_id,
                                  const char *msg, size_t len, bool delivered) {
  weft_mb_hub *h = ud;
  return h->nats &&
         weft__mbnats_publish(h->nats, broker_id, msg, len, delivered) == 0;
}

static void engine_publish_interest(void *ud, const char *topic, bool on) {
  weft_mb_hub *h = ud;
  if (h->nats)
    weft__mbnats_publish_interest(h->nats, topic, on);
}

static char *engine_remote_registries(void *ud) {
  weft_mb_hub *h = ud;
  return h->nats ? weft__mbnats_registries(h->nats, unix_ms()) : NULL;
}

static void engine_registry_changed(void *ud) {
  ((weft_mb_hub *)ud)->reg_dirty = true; /* sent by the next tick */
}

static void engine_deregistered(void *ud, weft_mb_conn id) {
  weft_mb_hub *h = ud;
  hub_conn *c = find(h, id);
  if (!c)
    return;
  if (c->ws) {
    if (c->wsc)
      weft_ws_conn_close(c->wsc, 1001, "deregistered after silence");
  } else {
    begin_close(h, c);
  }
}

/* ---- TCP I/O (loop thread) ---- */

static void tcp_io(weft_loop *l, int fd, unsigned events, void *ud) {
  (void)l;
  (void)fd;
  hub_conn *c = ud;
  weft_mb_hub *h = c->hub;
  pthread_mutex_lock(&h->mu);
  if ((events & WEFT_IO_WRITE) && !tcp_flush(h, c)) {
    pthread_mutex_unlock(&h->mu);
    return;
  }
  if (events & (WEFT_IO_READ | WEFT_IO_ERROR)) {
    uint8_t buf[16384];
    for (;;) {
      ssize_t n = weft__conn_read(c->io, buf, sizeof buf);
      if (n == WEFT_ERR_AGAIN)
        break;
      if (n <= 0) {
        tcp_close(h, c);
        pthread_mutex_unlock(&h->mu);
        return;
      }
      size_t off = 0;
      while (off < (size_t)n && !c->closing) {
        const uint8_t *msg;
        size_t len;
        ssize_t used = weft_mb_deframer_feed(&c->df, buf + off, (size_t)n - off,
                                             &msg, &len, NULL);
        if (used < 0) {
          /* A length over the limit: the broker ends the connection (a
           * FIN, not a reset) and reads nothing more from it. */
          begin_close(h, c);
          break;
        }
        off += (size_t)used;
        /* The engine never closes c from inside receive (deregistration
         * and errors only queue output), so c stays valid here. */
        if (msg)
          weft_mb_broker_receive(h->b, c->id, (const char *)msg, len,
                                 unix_ms());
      }
    }
    /* TLS: output held back while the handshake waited for this read. */
    if (c->out_off < c->out_len && !c->write_armed && !tcp_flush(h, c)) {
      pthread_mutex_unlock(&h->mu);
      return;
    }
  }
  pthread_mutex_unlock(&h->mu);
}

/* A socket from the shared accept loop (accept.h). */
static void on_accepted(void *ud, weft__conn *io, bool over_limit) {
  weft_mb_hub *h = ud;
  (void)over_limit; /* the acceptor closes those itself */
  hub_conn *c = calloc(1, sizeof *c);
  if (!c) {
    weft__acceptor_release(h->acc, weft__conn_ip(io));
    weft__conn_close(io);
    return;
  }
  c->hub = h;
  c->io = io;
  c->fd = weft__conn_fd(io);
  snprintf(c->ip, sizeof c->ip, "%s", weft__conn_ip(io));
  weft_mb_deframer_init(&c->df, 0);
  if (weft_loop_add_fd(h->loop, c->fd, WEFT_IO_READ, tcp_io, c) < 0) {
    weft__acceptor_release(h->acc, c->ip);
    weft__conn_close(io);
    free(c);
    return;
  }
  pthread_mutex_lock(&h->mu);
  c->id = ++h->next_id;
  c->next = h->conns;
  h->conns = c;
  weft_mb_broker_connect(h->b, c->id, unix_ms()); /* the greeting */
  pthread_mutex_unlock(&h->mu);
}

static void tick(weft_loop *l, weft_timer *t, void *ud) {
  (void)l;
  (void)t;
  weft_mb_hub *h = ud;
  pthread_mutex_lock(&h->mu);
  int64_t now = unix_ms();
  weft_mb_broker_tick(h->b, now);
  if (h->nats && now >= h->vconn_keepalive) {
    static const char ka[] = "request:system.heartbeat:1.0.0\n{}";
    weft_mb_broker_receive(h->b, WEFT__MB_VCONN, ka, sizeof ka - 1, now);
    int64_t hb =
        h->o.heartbeat_interval_ms > 0 ? h->o.heartbeat_interval_ms : 30000;
    h->vconn_keepalive = now + hb / 2;
  }
  if (h->nats && (h->reg_dirty || now >= h->reg_next)) {
    char *reg = weft_mb_broker_registry(h->b);
    if (reg)
      weft__mbnats_registry(h->nats, reg);
    free(reg);
    h->reg_dirty = false;
    h->reg_next = now + WEFT__MB_REGISTRY_MS;
  }
  /* A peer that never closes its side after ours: give up draining. */
  hub_conn *c = h->conns;
  while (c) {
    hub_conn *next = c->next;
    if (!c->ws && c->closing && now >= c->drain_until)
      tcp_close(h, c);
    c = next;
  }
  pthread_mutex_unlock(&h->mu);
}

/* ---- running things on the loop thread and waiting ---- */

typedef struct sync_call {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool done;
  void (*fn)(struct sync_call *);
  weft_mb_hub *h;
  const char *host;
  int port, bound, rv;
  weft_error err;
} sync_call;

static void run_sync(void *ud) {
  sync_call *s = ud;
  s->fn(s);
  pthread_mutex_lock(&s->mu);
  s->done = true;
  pthread_cond_signal(&s->cv);
  pthread_mutex_unlock(&s->mu);
}

static int on_loop(weft_mb_hub *h, sync_call *s) {
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cv, NULL);
  s->h = h;
  int rv = weft_loop_post(h->loop, run_sync, s);
  if (rv == 0) {
    pthread_mutex_lock(&s->mu);
    while (!s->done)
      pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
  }
  pthread_cond_destroy(&s->cv);
  pthread_mutex_destroy(&s->mu);
  return rv;
}

static void do_start(sync_call *s) {
  weft_mb_hub *h = s->h;
  /* Fine enough for the shortest configured period (tests shorten them),
   * at most 200 ms. */
  int64_t hb =
      h->o.heartbeat_interval_ms > 0 ? h->o.heartbeat_interval_ms : 30000;
  int64_t quiet = h->o.silence_timeout_ms > 0 ? h->o.silence_timeout_ms : 60000;
  int64_t period = (hb < quiet ? hb : quiet) / 10;
  period = period < 5 ? 5 : period > 200 ? 200 : period;
  h->timer = weft_loop_timer(h->loop, period, period, tick, h);
  s->rv = h->timer ? 0 : WEFT_ERR_NOMEM;
}

static void do_listen(sync_call *s) {
  weft_mb_hub *h = s->h;
  if (h->acc) {
    s->rv =
        weft_error_set(&s->err, WEFT_ERR_STATE, "MB hub: already listening");
    return;
  }
  int fd = -1;
  s->rv = weft__listen(s->host, s->port, 128, &fd, &s->bound, &s->err);
  if (s->rv < 0)
    return;
  if (h->o.tls && !h->tls &&
      (s->rv = weft__tls_ctx_new(&h->tls, true, h->o.tls, NULL, &s->err)) < 0) {
    close(fd);
    return;
  }
  weft__acceptor_opts ao = {.loop = h->loop,
                            .lfd = fd,
                            .tls = h->tls,
                            .name = h->tls ? "mbs" : "mb",
                            .max_per_ip = h->max_per_ip
                                              ? h->max_per_ip
                                              : WEFT__DEFAULT_MAX_CONNS_PER_IP,
                            .on_conn = on_accepted,
                            .ud = h};
  s->rv = weft__acceptor_new(&h->acc, &ao); /* closes fd on failure */
  if (s->rv < 0)
    weft_error_set(&s->err, s->rv, "MB hub: watching the listening socket");
}

static void do_stop_listening(sync_call *s) {
  weft__acceptor_stop(s->h->acc); /* counts stay until the hub is freed */
}

static void do_shutdown(sync_call *s) {
  weft_mb_hub *h = s->h;
  do_stop_listening(s);
  if (h->timer) {
    weft_timer_cancel(h->loop, h->timer);
    h->timer = NULL;
  }
  pthread_mutex_lock(&h->mu);
  hub_conn *c = h->conns;
  while (c) {
    hub_conn *next = c->next;
    if (!c->ws)
      tcp_close(h, c);
    c = next;
  }
  pthread_mutex_unlock(&h->mu);
}

/* ---- public ---- */

int weft_mb_hub_new(weft_mb_hub **out, const weft_mb_hub_opts *opts) {
  weft_mb_hub *h = calloc(1, sizeof *h);
  if (!h)
    return WEFT_ERR_NOMEM;
  if (opts)
    h->o = *opts;
  snprintf(h->ws_path, sizeof h->ws_path, "%s",
           h->o.ws_path ? h->o.ws_path : "/");
  pthread_mutex_init(&h->mu, NULL);
  weft_mb_broker_opts bo = {0};
  bo.max_pending = h->o.max_pending;
  bo.heartbeat_interval_ms = h->o.heartbeat_interval_ms;
  bo.silence_timeout_ms = h->o.silence_timeout_ms;
  bo.send = engine_send;
  bo.deregistered = engine_deregistered;
  bo.ud = h;
  if (h->o.nats_url) {
    bo.remote_request = engine_remote_request;
    bo.request_interest = engine_request_interest;
    bo.remote_publish = engine_remote_publish;
    bo.publish_interest = engine_publish_interest;
    bo.remote_registries = engine_remote_registries;
    bo.registry_changed = engine_registry_changed;
  }
  int rv = weft_mb_broker_new(&h->b, &bo);
  if (rv == 0 && h->o.nats_url) {
    weft_error e;
    weft_error_clear(&e);
    rv = weft__mbnats_open(&h->nats, h, h->o.nats_url, h->o.node_id, &e);
    if (rv < 0)
      fprintf(stderr, "weft: %s\n", e.message);
    if (rv == 0) {
      /* Named, since it shows in system.service.list. */
      static const char reg[] =
          "request:system.service.register:1.0.0\n"
          "{\"name\":\"weft-cluster\",\"description\":\"requests from "
          "other weft nodes, through NATS\"}";
      pthread_mutex_lock(&h->mu);
      rv = weft_mb_broker_connect(h->b, WEFT__MB_VCONN, unix_ms());
      if (rv == 0)
        weft_mb_broker_receive(h->b, WEFT__MB_VCONN, reg, sizeof reg - 1,
                               unix_ms());
      pthread_mutex_unlock(&h->mu);
    }
  }
  if (rv == 0)
    rv = weft_loop_new(&h->loop);
  if (rv == 0)
    rv = weft_loop_start(h->loop);
  if (rv == 0) {
    sync_call s = {.fn = do_start};
    rv = on_loop(h, &s);
    if (rv == 0)
      rv = s.rv;
  }
  if (rv < 0) {
    weft_mb_hub_free(h);
    return rv;
  }
  *out = h;
  return 0;
}

void weft_mb_hub_free(weft_mb_hub *h) {
  if (!h)
    return;
  /* Detached under the lock, which the loop's tick and the broker's
   * callbacks read it under; then closed without it (its handlers take
   * the lock): no NATS handler runs after this. */
  pthread_mutex_lock(&h->mu);
  weft__mbnats *n = h->nats;
  h->nats = NULL;
  pthread_mutex_unlock(&h->mu);
  weft__mbnats_close(n);
  if (h->loop) {
    sync_call s = {.fn = do_shutdown};
    on_loop(h, &s);
    weft_loop_stop(h->loop);
    weft_loop_free(h->loop);
  }
  weft__acceptor_free(h->acc); /* stopped on the loop: only frees */
  weft__tls_ctx_free(h->tls);  /* connections hold their own references */
  /* WebSocket connections belong to their server, which must be gone by
   * now; any left are forgotten. */
  hub_conn *c = h->conns;
  while (c) {
    hub_conn *next = c->next;
    c->hub = NULL;
    c = next;
  }
  weft_mb_broker_free(h->b);
  pthread_mutex_destroy(&h->mu);
  free(h);
}

int weft_mb_hub_listen(weft_mb_hub *h, const char *host, int port, int *bound,
                       weft_error *err) {
  sync_call s = {.fn = do_listen, .host = host, .port = port};
  int rv = on_loop(h, &s);
  if (rv == 0)
    rv = s.rv;
  if (rv < 0) {
    if (err)
      *err = s.err;
    return rv;
  }
  if (bound)
    *bound = s.bound;
  return 0;
}

/* ---- WebSocket connections ---- */

static void ws_open(weft_ws_conn *wc, void *ud) {
  hub_conn *c = ud;
  weft_mb_hub *h = c->hub;
  weft_ws_conn_ref(wc);
  pthread_mutex_lock(&h->mu);
  c->wsc = wc;
  c->ws_open = true;
  c->id = ++h->next_id;
  c->next = h->conns;
  h->conns = c;
  weft_mb_broker_connect(h->b, c->id, unix_ms());
  pthread_mutex_unlock(&h->mu);
}

static void ws_message(weft_ws_conn *wc, bool text, const uint8_t *data,
                       size_t len, void *ud) {
  (void)text; /* the broker reads text and binary messages alike */
  hub_conn *c = ud;
  weft_mb_hub *h = c->hub;
  if (len > WEFT_MB_MAX_MESSAGE) {
    /* The broker's WebSocket limit: the frame limit of TCP. */
    weft_ws_conn_close(wc, 1009, "message too big");
    return;
  }
  pthread_mutex_lock(&h->mu);
  weft_mb_broker_receive(h->b, c->id, (const char *)data, len, unix_ms());
  pthread_mutex_unlock(&h->mu);
}

static void ws_close(weft_ws_conn *wc, int code, const char *reason, void *ud) {
  (void)wc;
  (void)code;
  (void)reason;
  hub_conn *c = ud;
  weft_mb_hub *h = c->hub;
  if (h && c->ws_open) {
    pthread_mutex_lock(&h->mu);
    unlink_conn(h, c);
    weft_mb_broker_disconnect(h->b, c->id);
    pthread_mutex_unlock(&h->mu);
  }
  if (c->wsc)
    weft_ws_conn_unref(c->wsc);
  free(c);
}

static const weft_ws_handler ws_handler = {ws_open, ws_message, ws_close};

int weft_mb_ws_route(void *ud, const weft_ws_request *req,
                     weft_ws_accept *acc) {
  weft_mb_hub *h = ud;
  /* A weft envelope client names its subprotocol; MB clients name none, so
   * both can share the path "/". */
  if (strcmp(req->path, h->ws_path) != 0 ||
      weft_ws_request_offers(req, WEFT_WS_SUBPROTOCOL_PROTO) ||
      weft_ws_request_offers(req, WEFT_WS_SUBPROTOCOL_JSON))
    return h->o.next ? h->o.next(h->o.next_ud, req, acc) : 0;
  hub_conn *c = calloc(1, sizeof *c);
  if (!c) {
    acc->reason = "out of memory";
    return 500;
  }
  c->hub = h;
  c->ws = true;
  acc->handler = &ws_handler;
  acc->ud = c;
  /* The server's API key check applies as usual. */
  return 1;
}

/* ---- "mb://" as a server transport ---- */

static int mbt_listen(weft_server *s, const weft_url *url,
                      const weft_server_opts *opts, void **listener, int *port,
                      weft_error *err) {
  (void)s;
  weft_mb_hub *h = NULL;
  weft_mb_hub_opts ho = {0};
  if (strcmp(url->scheme, "mbs") == 0) {
    if (!opts || !opts->tls.cert_file || !opts->tls.key_file)
      return weft_error_set(err, WEFT_ERR_INVAL,
                            "mbs: the server's tls.cert_file and "
                            "tls.key_file are required");
    ho.tls = &opts->tls;
  }
  int rv = weft_mb_hub_new(&h, &ho);
  if (rv < 0)
    return weft_error_set(err, rv, "mb: cannot start the broker");
  h->max_per_ip = opts ? opts->max_conns_per_ip : 0;
  rv = weft_mb_hub_listen(h, url->host, url->port < 0 ? 0 : url->port, port,
                          err);
  if (rv < 0) {
    weft_mb_hub_free(h);
    return rv;
  }
  *listener = h;
  return 0;
}

static void mbt_stop_accepting(void *listener) {
  weft_mb_hub *h = listener;
  sync_call s = {.fn = do_stop_listening};
  on_loop(h, &s);
}

static void mbt_close(void *listener) {
  weft_mb_hub_free(listener);
}

static const weft_server_transport mb_transport = {
    .scheme = "mb",
    .default_port = 0,
    .listen = mbt_listen,
    .stop_accepting = mbt_stop_accepting,
    .close = mbt_close,
};

/* MB over TLS: the broker's "tls" port. */
static const weft_server_transport mbs_transport = {
    .scheme = "mbs",
    .default_port = 0,
    .listen = mbt_listen,
    .stop_accepting = mbt_stop_accepting,
    .close = mbt_close,
};

int weft_mb_register_transport(void) {
  weft_transports_init(); /* so a later init does not replace "mb" */
  int rv = weft_register_server_transport(&mb_transport);
  return rv < 0 ? rv : weft_register_server_transport(&mbs_transport);
}

/* ---- from other nodes (libnats threads) ---- */

void weft__mbhub_inject(weft_mb_hub *h, const char *msg, size_t len) {
  pthread_mutex_lock(&h->mu);
  weft_mb_broker_receive(h->b, WEFT__MB_VCONN, msg, len, unix_ms());
  pthread_mutex_unlock(&h->mu);
}

void weft__mbhub_remote_answer(weft_mb_hub *h, const char *broker_id,
                               const char *payload, size_t len) {
  pthread_mutex_lock(&h->mu);
  weft_mb_broker_remote_answer(h->b, broker_id, payload, len, unix_ms());
  pthread_mutex_unlock(&h->mu);
}

int weft__mbhub_remote_publish(weft_mb_hub *h, const char *msg, size_t len) {
  pthread_mutex_lock(&h->mu);
  int n = weft_mb_broker_remote_publish(h->b, msg, len, unix_ms());
  pthread_mutex_unlock(&h->mu);
  return n;
}

void weft__mbhub_remote_no_route(weft_mb_hub *h, const char *broker_id) {
  pthread_mutex_lock(&h->mu);
  weft_mb_broker_remote_no_route(h->b, broker_id, unix_ms());
  pthread_mutex_unlock(&h->mu);
}
