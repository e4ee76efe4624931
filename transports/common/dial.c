/* A client connection opened on the client loop; see dial.h.
 *
 * States: RESOLVING (a host name on the runtime's resolver threads),
 * CONNECTING (a non-blocking connect to one address of the lookup's list,
 * waiting for the socket to turn writable, then SO_ERROR says how it went;
 * a refusal moves on to the next address, as weft__conn_connect does),
 * HANDSHAKE (TLS, registered for what OpenSSL waits for), then done. One
 * one-shot timer bounds it all.
 *
 * Lifetime: the dial is freed on the loop once done has run (or cancel
 * was called) and nothing else refers to it: a lookup still running on a
 * resolver thread, or the post that delivers an outcome found inside
 * start (done never runs inside start). */
#define _GNU_SOURCE
#include "dial.h"

#include "attempt.h"

#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "weft/transport.h"

/* The runtime's threads for lookups (runtime/src/rpc/client_loop.c). */
int weft__client_resolver_post(void (*fn)(void *), void *ud);

enum { D_RESOLVING, D_CONNECTING, D_HANDSHAKE, D_OVER };

struct weft__dial {
  weft_loop *loop;
  char host[256];
  char name[256]; /* SNI and the verified name */
  int port;
  weft__tls_ctx *tls;
  weft__dial_fn done;
  void *ud;
  int state;
  bool over;              /* done ran or cancel was called */
  bool cancelled;         /* cancel: done must not run */
  bool in_start;          /* an outcome now is posted, not delivered */
  bool resolving;         /* a resolver thread holds the dial */
  bool post_out;          /* an outcome's post is pending */
  weft_loop *lookup_loop; /* a loop reference held while resolving */
  weft_timer *timer;
  struct addrinfo *res, *next_ai;
  int gai_rc;
  int fd; /* the socket being connected; -1 */
  bool on_loop;
  int last_errno;
  weft__conn *conn; /* HANDSHAKE, or the outcome waiting for its post */
  int rv;
  weft_error err;
};

static void dial_free(weft__dial *d) {
  if (d->timer)
    weft_timer_cancel(d->loop, d->timer);
  if (d->on_loop)
    weft_loop_del_fd(d->loop, d->conn ? weft__conn_fd(d->conn) : d->fd);
  if (d->conn)
    weft__conn_close(d->conn);
  else if (d->fd >= 0)
    close(d->fd);
  if (d->res)
    freeaddrinfo(d->res);
  free(d);
}

/* Frees d once nothing refers to it any more. */
static void maybe_free(weft__dial *d) {
  if (d->over && !d->resolving && !d->post_out)
    dial_free(d);
}

static void deliver(weft__dial *d) {
  weft__conn *conn = d->rv == 0 ? d->conn : NULL;
  if (conn)
    d->conn = NULL; /* the caller's now */
  if (!d->cancelled)
    d->done(d->ud, d->rv, conn, &d->err);
  else if (conn)
    weft__conn_close(conn);
  maybe_free(d);
}

static void deliver_job(void *ud) {
  weft__dial *d = ud;
  d->post_out = false;
  deliver(d);
}

/* The outcome: rv (and d->err) and, for 0, d->conn. */
static void finish(weft__dial *d, int rv) {
  if (d->over)
    return;
  d->over = true;
  d->state = D_OVER;
  d->rv = rv;
  if (d->timer) {
    weft_timer_cancel(d->loop, d->timer);
    d->timer = NULL;
  }
  if (d->on_loop) {
    weft_loop_del_fd(d->loop, d->conn ? weft__conn_fd(d->conn) : d->fd);
    d->on_loop = false;
  }
  if (rv < 0) {
    weft__conn_close(d->conn);
    d->conn = NULL;
    if (d->fd >= 0)
      close(d->fd);
  }
  d->fd = -1; /* a connection's socket is its conn's */
  if (d->in_start) {
    d->post_out = weft_loop_post(d->loop, deliver_job, d) == 0;
    if (d->post_out)
      return;
  }
  deliver(d);
}

static void on_io(weft_loop *l, int fd, unsigned events, void *ud);
static void try_addresses(weft__dial *d);

static void handshake(weft__dial *d) {
  int rv = weft__conn_handshake(d->conn, d->name, &d->err);
  if (rv == 0) {
    finish(d, 0);
    return;
  }
  if (rv != WEFT_ERR_AGAIN) {
    finish(d, rv);
    return;
  }
  unsigned ev = weft__conn_wants_write(d->conn) ? WEFT_IO_WRITE : WEFT_IO_READ;
  if (weft_loop_mod_fd(d->loop, weft__conn_fd(d->conn), ev) < 0)
    finish(d, weft_error_set(&d->err, WEFT_ERR_NOMEM,
                             "registering the connection to %s:%d", d->host,
                             d->port));
}

/* The TCP connection is up: TLS or done. */
static void connected(weft__dial *d) {
  int fd = d->fd;
  d->fd = -1;
  bool registered = d->on_loop;
  if (registered) {
    /* weft__conn_client may close fd on failure: off the loop first. */
    weft_loop_del_fd(d->loop, fd);
    d->on_loop = false;
  }
  int rv = weft__conn_client(&d->conn, fd, d->tls, d->name, &d->err);
  if (rv < 0 || !d->tls) {
    finish(d, rv);
    return;
  }
  d->state = D_HANDSHAKE;
  if (weft_loop_add_fd(d->loop, fd, WEFT_IO_READ, on_io, d) < 0) {
    finish(d, weft_error_set(&d->err, WEFT_ERR_NOMEM,
                             "registering the connection to %s:%d", d->host,
                             d->port));
    return;
  }
  d->on_loop = true;
  handshake(d);
}

static void on_io(weft_loop *l, int fd, unsigned events, void *ud) {
  weft__dial *d = ud;
  (void)l;
  (void)events;
  if (d->state == D_HANDSHAKE) {
    handshake(d);
    return;
  }
  int soerr = 0;
  socklen_t sl = sizeof soerr;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
    soerr = errno;
  if (soerr == 0) {
    connected(d);
    return;
  }
  d->last_errno = soerr;
  weft_loop_del_fd(d->loop, fd);
  d->on_loop = false;
  close(fd);
  d->fd = -1;
  try_addresses(d);
}

/* Connects to the next address of the list; fails when none is left. */
static void try_addresses(weft__dial *d) {
  while (d->next_ai) {
    struct addrinfo *ai = d->next_ai;
    d->next_ai = ai->ai_next;
    int fd =
        socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
               ai->ai_protocol);
    if (fd < 0) {
      d->last_errno = errno;
      continue;
    }
    d->fd = fd;
    int r;
    do
      r = connect(fd, ai->ai_addr, ai->ai_addrlen);
    while (r < 0 && errno == EINTR);
    if (r == 0) {
      connected(d);
      return;
    }
    if (errno == EINPROGRESS) {
      if (weft_loop_add_fd(d->loop, fd, WEFT_IO_WRITE, on_io, d) == 0) {
        d->on_loop = true;
        d->state = D_CONNECTING;
        return;
      }
      finish(d, weft_error_set(&d->err, WEFT_ERR_NOMEM,
                               "registering the connection to %s:%d", d->host,
                               d->port));
      return;
    }
    d->last_errno = errno;
    close(fd);
    d->fd = -1;
  }
  finish(d, weft__connect_failed(d->host, d->port, d->last_errno, &d->err));
}

static void on_timeout(weft_loop *l, weft_timer *t, void *ud) {
  weft__dial *d = ud;
  (void)l;
  (void)t;
  d->timer = NULL; /* a one-shot: the loop frees it */
  if (d->state == D_HANDSHAKE)
    finish(d, weft__conn_handshake_timeout(d->conn, d->name, &d->err));
  else
    finish(d, weft__connect_timeout(d->host, d->port, &d->err));
}

static void resolved_job(void *ud) {
  weft__dial *d = ud;
  weft_loop *held = d->lookup_loop;
  d->lookup_loop = NULL;
  d->resolving = false;
  if (d->over) {
    maybe_free(d);
  } else if (d->gai_rc != 0) {
    finish(d, weft__resolve_failed(d->host, d->gai_rc, &d->err));
  } else {
    d->next_ai = d->res;
    try_addresses(d);
  }
  weft_client_loop_release(held); /* on the loop: it stays, if it was last */
}

static void lookup(struct addrinfo **res, int *rc, const char *host, int port,
                   int flags) {
  struct addrinfo hints;
  char ports[16];
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = flags;
  snprintf(ports, sizeof ports, "%d", port);
  *res = NULL;
  *rc = getaddrinfo(host, ports, &hints, res);
}

/* A resolver thread: the only blocking part. */
static void resolve_job(void *ud) {
  weft__dial *d = ud;
  lookup(&d->res, &d->gai_rc, d->host, d->port, 0);
  while (weft_loop_post(d->lookup_loop, resolved_job, d) < 0)
    usleep(1000); /* out of memory: the dial must still end */
}

int weft__dial_start(weft__dial **out, weft_loop *loop, const char *host,
                     int port, weft__tls_ctx *tls, const char *server_name,
                     int64_t timeout_ms, weft__dial_fn done, void *ud,
                     weft_error *err) {
  *out = NULL;
  const char *name = server_name && *server_name ? server_name : host;
  if (strlen(host) >= sizeof((weft__dial *)0)->host ||
      strlen(name) >= sizeof((weft__dial *)0)->name)
    return weft_error_set(err, WEFT_ERR_INVAL, "host name too long: %.64s...",
                          host);
  weft__dial *d = calloc(1, sizeof *d);
  if (!d)
    return weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
  d->loop = loop;
  snprintf(d->host, sizeof d->host, "%s", host);
  snprintf(d->name, sizeof d->name, "%s", name);
  d->port = port;
  d->tls = tls;
  d->done = done;
  d->ud = ud;
  d->fd = -1;
  weft_error_clear(&d->err);
  d->timer = weft_loop_timer(loop, timeout_ms > 0 ? timeout_ms : 10000, 0,
                             on_timeout, d);
  if (!d->timer) {
    free(d);
    return weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
  }
  *out = d;
  d->in_start = true;
  /* An address literal needs no lookup, which then cannot block. */
  lookup(&d->res, &d->gai_rc, host, port, AI_NUMERICHOST | AI_NUMERICSERV);
  if (d->gai_rc == 0) {
    d->next_ai = d->res;
    try_addresses(d);
  } else {
    if (d->res)
      freeaddrinfo(d->res);
    d->res = NULL;
    d->state = D_RESOLVING;
    weft_error e;
    if (weft_client_loop_acquire(&d->lookup_loop, &e) < 0) {
      d->err = e;
      finish(d, e.code);
    } else {
      d->resolving = true;
      if (weft__client_resolver_post(resolve_job, d) < 0) {
        d->resolving = false;
        weft_client_loop_release(d->lookup_loop);
        d->lookup_loop = NULL;
        finish(d, weft_error_set(&d->err, WEFT_ERR_NOMEM,
                                 "no thread to resolve %s", host));
      }
    }
  }
  d->in_start = false;
  return 0;
}

void weft__dial_cancel(weft__dial *d) {
  if (!d || d->cancelled)
    return;
  d->cancelled = true;
  if (!d->over) {
    d->over = true;
    d->state = D_OVER;
  }
  maybe_free(d);
}

/* ---- connect_async for transports ---- */

typedef struct dial_conn {
  weft__dial *d;
  weft_client *client;
  const weft_url *url; /* the runtime's: outlives the attempt */
  const weft_client_opts *opts;
  weft__tls_ctx *tls;
  weft_loop *loop;
  weft__dial_adopt_fn adopt;
  void (*done)(weft_client *, int, void *, const weft_error *);
} dial_conn;

static void dial_conn_done(void *ud, int rv, weft__conn *sock,
                           const weft_error *err) {
  dial_conn *x = ud;
  void *conn = NULL;
  weft_error e;
  weft_error_clear(&e);
  if (rv == 0) {
    rv = x->adopt(x->client, x->url, x->opts, sock, x->tls, &conn, &e);
  } else {
    e = *err;
    weft__tls_ctx_free(x->tls);
  }
  weft_client_loop_release(x->loop);
  x->done(x->client, rv, conn, &e);
  free(x);
}

/* Loop thread: the client is closing (attempt.h); done will not run. */
static void dial_conn_stop(void *ud) {
  dial_conn *x = ud;
  weft__dial_cancel(x->d);
  weft__tls_ctx_free(x->tls);
  weft_client_loop_release(x->loop);
  free(x);
}

int weft__dial_connect_async(weft_client *client, const weft_url *url,
                             const weft_client_opts *opts, int port,
                             weft__tls_ctx *tls, weft__dial_adopt_fn adopt,
                             void (*done)(weft_client *, int, void *,
                                          const weft_error *),
                             weft_error *err) {
  dial_conn *x = calloc(1, sizeof *x);
  if (!x) {
    weft__tls_ctx_free(tls);
    return weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
  }
  *x = (dial_conn){NULL, client, url, opts, tls, NULL, adopt, done};
  int rv = weft_client_loop_acquire(&x->loop, err);
  if (rv == 0)
    rv = weft__dial_start(
        &x->d, x->loop, url->host, port, tls,
        opts ? opts->tls.server_name : NULL,
        opts && opts->connect_timeout_ms ? opts->connect_timeout_ms : 10000,
        dial_conn_done, x, err);
  if (rv == 0)
    weft__client_attempt_set(client, dial_conn_stop, x);
  if (rv < 0) {
    weft_client_loop_release(x->loop);
    weft__tls_ctx_free(tls);
    free(x);
  }
  return rv;
}
