/* The server side of tcp:// and tls://: one loop thread per listen URL
 * accepts and serves every connection; handlers run on the runtime's worker
 * pool through weft_server_dispatch (the mux), never on the loop thread.
 *
 * A connection that dies while something still holds it (handlers still
 * running, work posted for it) becomes a zombie: its socket is closed at
 * once, and the loop frees it when the last hold ends (the connection's
 * on_idle and on_released), so the loop never waits for them and nothing
 * polls. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "accept.h"
#include "tcp_internal.h"
#include "weft/transport.h"

#define RBUF_SIZE (64u * 1024u)

typedef struct tcp_listener {
  weft_server *srv;
  weft_loop *loop;
  weft__tls_ctx *tls;
  int lfd;             /* until the acceptor takes it */
  weft__acceptor *acc; /* loop thread */
  unsigned max_per_ip;
  weft__tcp_conn *conns;   /* live */
  weft__tcp_conn *zombies; /* dead, still held (loop thread) */
  weft__reapq rq;          /* zombies whose hold may have ended */
  size_t nconns;
  size_t max_msg;
  int64_t keepalive_ms, idle_ms, header_ms;
  void (*log)(int level, const char *line, void *ud);
  void *log_ud;
  uint8_t *rbuf;
  const char *scheme; /* "tcp" or "tls", for connection events */
  char url[300];      /* the listener, for connection events */
} tcp_listener;

static void lg(tcp_listener *l, int level, const char *fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (l->log)
    l->log(level, line, l->log_ud);
}

static void list_push(weft__tcp_conn **head, weft__tcp_conn *c) {
  c->prev = NULL;
  c->next = *head;
  if (*head)
    (*head)->prev = c;
  *head = c;
}

static void list_remove(weft__tcp_conn **head, weft__tcp_conn *c) {
  if (c->prev)
    c->prev->next = c->next;
  else
    *head = c->next;
  if (c->next)
    c->next->prev = c->prev;
  c->prev = c->next = NULL;
}

/* Loop thread: frees zombie c if nothing holds it any more. Its
 * multiplexer goes first: that waits for an on_idle still under way,
 * which may have queued c again, so c leaves the queue after. */
static void reap(tcp_listener *l, weft__tcp_conn *c) {
  if (!weft__tcp_conn_reapable(c))
    return;
  list_remove(&l->zombies, c);
  weft__tcp_conn_free_mux(c);
  weft__reapq_remove(&l->rq, &c->reap_link);
  weft__tcp_conn_free(c);
}

static void reap_link(void *owner, weft__reapq_link *link) {
  reap(owner,
       (weft__tcp_conn *)((char *)link - offsetof(weft__tcp_conn, reap_link)));
}

/* Any thread (c alive): the loop looks at zombie c soon. */
static void reap_soon(weft__tcp_conn *c) {
  tcp_listener *l = c->owner;
  weft__reapq_push(&l->rq, l->loop, &c->reap_link);
}

static void on_conn_idle(weft__tcp_conn *c) {
  reap_soon(c);
}

static void on_conn_released(weft__tcp_conn *c) {
  reap(c->owner, c);
}

/* why's message without the "127.0.0.1:5555: " prefix tcp_conn puts on it
 * (the event carries the peer on its own). */
static const char *strip_peer(const char *msg, const char *peer) {
  size_t n = strlen(peer);
  if (n && strncmp(msg, peer, n) == 0) {
    msg += n;
    while (*msg == ':' || *msg == ' ')
      msg++;
  }
  return msg;
}

/* CLOSED event: an orderly close (peer closed between calls, idle timeout,
 * shutdown) has error 0; a close with calls in flight or any failure has
 * the error and why. */
static void report_closed(tcp_listener *l, weft__tcp_conn *c,
                          const weft_error *why) {
  size_t active = c->active_at_close;
  int code = why ? why->code : 0;
  char reason[WEFT_ERROR_MSG_MAX + 64];
  const char *msg = why ? strip_peer(why->message, c->peer) : "";
  if (code == WEFT_ERR_CLOSED && active == 0)
    code = 0;
  if (code == WEFT_ERR_CLOSED) /* the peer vanished mid-call */
    snprintf(reason, sizeof reason, "%s with %zu call%s in flight", msg, active,
             active == 1 ? "" : "s");
  else
    snprintf(reason, sizeof reason, "%s", msg[0] ? msg : "closed");
  weft_server_conn_event(l->srv, WEFT_CONN_EVENT_CLOSED, l->scheme, l->url,
                         c->peer, code, reason, weft__mux_calls(c->mux));
}

static void on_conn_dead(weft__tcp_conn *c, const weft_error *why) {
  tcp_listener *l = c->owner;
  if (why && why->code != WEFT_ERR_CLOSED)
    lg(l, 2, "tcp: connection %s: %s", c->peer, why->message);
  report_closed(l, c, why);
  weft__acceptor_release(l->acc, c->ip);
  list_remove(&l->conns, c);
  l->nconns--;
  list_push(&l->zombies, c);
  /* c is still in use by its caller: freed by the sweep if nothing else
   * holds it, else when the last hold ends. */
  reap_soon(c);
}

/* A socket from the shared accept loop (accept.h). */
static void on_conn(void *ud, weft__conn *sock, bool over_limit) {
  tcp_listener *l = ud;
  weft_error err;
  (void)over_limit; /* the acceptor closes those itself */
  char ip[48];
  snprintf(ip, sizeof ip, "%s", weft__conn_ip(sock));
  weft__mux_opts mo = {.server = true,
                       .srv = l->srv,
                       .codec = WEFT_CODEC_PROTO, /* until sniffed */
                       .max_message_size = l->max_msg};
  weft__tcp_conn_opts co = {.mux = &mo,
                            .max_frame = l->max_msg + WEFT__TCP_FRAME_SLACK,
                            .keepalive_ms = l->keepalive_ms,
                            .idle_timeout_ms = l->idle_ms,
                            .header_timeout_ms = l->header_ms,
                            .rbuf = l->rbuf,
                            .rcap = RBUF_SIZE};
  weft__tcp_conn *c;
  if (weft__tcp_conn_new(&c, l->loop, sock, &co, &err) < 0) {
    lg(l, 2, "tcp: %s", err.message);
    weft__acceptor_release(l->acc, ip);
    return;
  }
  c->owner = l;
  c->on_dead = on_conn_dead;
  c->on_idle = on_conn_idle;
  c->on_released = on_conn_released;
  list_push(&l->conns, c);
  l->nconns++;
  weft_server_conn_event(l->srv, WEFT_CONN_EVENT_OPENED, l->scheme, l->url,
                         c->peer, 0, NULL, 0);
}

static int listen_common(weft_server *s, const weft_url *url,
                         const weft_server_opts *opts, bool tls,
                         void **listener, int *port, weft_error *err) {
  static const weft_server_opts defaults;
  int rc;
  if (!opts)
    opts = &defaults;
  *listener = NULL;
  tcp_listener *l = calloc(1, sizeof *l);
  if (!l)
    return weft_error_set(err, WEFT_ERR_NOMEM, "tcp listener");
  l->srv = s;
  l->lfd = -1;
  weft__reapq_init(&l->rq, reap_link, l);
  l->max_msg =
      opts->max_message_size ? opts->max_message_size : 4u * 1024u * 1024u;
  l->keepalive_ms = opts->keepalive_ms;
  l->idle_ms = opts->idle_timeout_ms;
  l->header_ms = opts->header_timeout_ms == 0  ? WEFT__DEFAULT_HEADER_TIMEOUT_MS
                 : opts->header_timeout_ms < 0 ? 0
                                               : opts->header_timeout_ms;
  l->max_per_ip = opts->max_conns_per_ip ? opts->max_conns_per_ip
                                         : WEFT__DEFAULT_MAX_CONNS_PER_IP;
  l->log = opts->log;
  l->log_ud = opts->log_ud;
  l->rbuf = malloc(RBUF_SIZE);
  if (!l->rbuf) {
    rc = weft_error_set(err, WEFT_ERR_NOMEM, "tcp listener");
    goto fail;
  }
  if (tls && (rc = weft__tls_ctx_new(&l->tls, true, &opts->tls, NULL, err)) < 0)
    goto fail;
  rc = weft__listen(url->host[0] ? url->host : NULL,
                    url->port >= 0 ? url->port : (tls ? 7444 : 7443), 4096,
                    &l->lfd, port, err);
  if (rc < 0)
    goto fail;
  l->scheme = tls ? "tls" : "tcp";
  weft_format_listen_url(l->url, sizeof l->url, l->scheme, url->host, *port);
  if ((rc = weft_loop_new(&l->loop)) < 0) {
    weft_error_set(err, rc, "creating the event loop");
    goto fail;
  }
  /* A standby thread lets the loop thread run a call itself (loop.h). */
  weft_loop_set_standby(l->loop, 1);
  weft__acceptor_opts ao = {.loop = l->loop,
                            .lfd = l->lfd,
                            .tls = l->tls,
                            .name = l->scheme,
                            .max_per_ip = l->max_per_ip,
                            .on_conn = on_conn,
                            .ud = l,
                            .log = l->log,
                            .log_ud = l->log_ud};
  l->lfd = -1; /* the acceptor has it, even if it fails */
  if ((rc = weft__acceptor_new(&l->acc, &ao)) < 0 ||
      (rc = weft_loop_start(l->loop)) < 0) {
    weft_error_set(err, rc, "starting the event loop");
    goto fail;
  }
  *listener = l;
  return 0;
fail:
  weft__acceptor_free(l->acc); /* the loop never ran: safe here */
  weft_loop_free(l->loop);
  if (l->lfd >= 0)
    close(l->lfd);
  weft__tls_ctx_free(l->tls);
  free(l->rbuf);
  weft__reapq_destroy(&l->rq);
  free(l);
  return rc;
}

static int tcp_listen(weft_server *s, const weft_url *url,
                      const weft_server_opts *opts, void **listener, int *port,
                      weft_error *err) {
  return listen_common(s, url, opts, false, listener, port, err);
}

static int tls_listen(weft_server *s, const weft_url *url,
                      const weft_server_opts *opts, void **listener, int *port,
                      weft_error *err) {
  return listen_common(s, url, opts, true, listener, port, err);
}

static void stop_on_loop(void *ud) {
  tcp_listener *l = ud;
  weft__acceptor_stop(l->acc);
  /* Clients open no new streams here; calls in flight go on. */
  for (weft__tcp_conn *c = l->conns; c; c = c->next)
    weft__mux_goaway(c->mux);
}

static void tcp_stop_accepting(void *listener) {
  tcp_listener *l = listener;
  weft__tcp_run_on_loop(l->loop, stop_on_loop, l);
}

static void close_on_loop(void *ud) {
  tcp_listener *l = ud;
  weft_error e;
  stop_on_loop(l);
  weft_error_set(&e, WEFT_ERR_CLOSED, "server shutting down");
  while (l->conns)
    weft__tcp_conn_close(l->conns, &e); /* moves it to the zombies */
}

static void tcp_close(void *listener) {
  tcp_listener *l = listener;
  if (!l)
    return;
  weft__tcp_run_on_loop(l->loop, close_on_loop, l);
  weft__reapq_close(&l->rq); /* the zombies are freed below */
  weft_loop_stop(l->loop);
  /* Off the loop now, in three steps. Each zombie's mux first: that waits
   * for the handlers the runtime has cancelled and for threads inside the
   * connection's io callbacks, whose posts (a flush, a resume) are then
   * all made. Those run in weft_loop_free, on connections still alive,
   * and free nothing (on_released cleared); the connections go last. */
  for (weft__tcp_conn *c = l->zombies; c; c = c->next) {
    c->on_released = NULL;
    weft__tcp_conn_free_mux(c);
  }
  weft_loop_free(l->loop);
  while (l->zombies) {
    weft__tcp_conn *c = l->zombies;
    list_remove(&l->zombies, c);
    weft__tcp_conn_free(c);
  }
  weft__acceptor_free(l->acc); /* stopped on the loop: only frees */
  weft__tls_ctx_free(l->tls);
  free(l->rbuf);
  weft__reapq_destroy(&l->rq);
  free(l);
}

const weft_server_transport weft__tcp_server_transport = {
    .scheme = "tcp",
    .default_port = 7443,
    .listen = tcp_listen,
    .stop_accepting = tcp_stop_accepting,
    .close = tcp_close,
};

const weft_server_transport weft__tls_server_transport = {
    .scheme = "tls",
    .default_port = 7444,
    .listen = tls_listen,
    .stop_accepting = tcp_stop_accepting,
    .close = tcp_close,
};
