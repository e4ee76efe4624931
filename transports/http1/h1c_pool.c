/* The HTTP/1.1 connection pool of one http:// or https:// client (with its
 * cap and queue of waiting calls), and the blocking I/O of one connection
 * (see h1c_internal.h for why the caller's thread does it). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "h1c_internal.h"

static int link_new(h1c_link **out, weft__conn *sock, weft_error *err) {
  h1c_link *l = calloc(1, sizeof *l);
  if (!l) {
    weft__conn_close(sock);
    return weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
  }
  l->sock = sock;
  *out = l;
  return 0;
}

void weft__h1c_link_free(h1c_link *l) {
  if (!l)
    return;
  weft__conn_close(l->sock);
  weft__h1c_free(l->eng);
  free(l);
}

void weft__h1c_link_abort(h1c_link *l) {
  shutdown(weft__conn_fd(l->sock), SHUT_RDWR);
}

int weft__h1c_pool_new(h1c_pool **out, weft_client *client, const weft_url *url,
                       const weft_client_opts *o, weft_http_protocol protocol,
                       weft__tls_ctx *tls, weft__conn *first, weft_error *err) {
  h1c_pool *p = calloc(1, sizeof *p);
  if (!p) {
    weft__conn_close(first);
    weft__tls_ctx_free(tls);
    return weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
  }
  int rv = weft_client_loop_acquire(&p->loop, err);
  if (rv < 0) {
    weft__conn_close(first);
    weft__tls_ctx_free(tls);
    free(p);
    return rv;
  }
  pthread_mutex_init(&p->mu, NULL);
  p->refs = 1;
  p->client = client;
  p->protocol = protocol;
  p->json = o && o->codec == WEFT_CODEC_JSON;
  p->max_msg = o && o->max_message_size ? o->max_message_size : 4u << 20;
  p->connect_timeout_ms =
      o && o->connect_timeout_ms ? o->connect_timeout_ms : 10000;
  p->server_name = o ? o->tls.server_name : NULL;
  p->tls = tls;
  snprintf(p->host, sizeof p->host, "%s", url->host);
  p->port = url->port;
  /* Host: IPv6 literals keep their brackets (RFC 9110 section 7.2). */
  bool v6 = strchr(url->host, ':') != NULL;
  snprintf(p->authority, sizeof p->authority, v6 ? "[%s]:%d" : "%s:%d",
           url->host, url->port);
  const weft_http_client_opts *ho = NULL;
  if (o)
    weft_opts_get(o->transport_opts, WEFT_HTTP_CLIENT_OPTS_TAG,
                  (const void **)&ho, NULL);
  p->max_idle =
      ho && ho->max_idle_connections > 0 ? ho->max_idle_connections : 4;
  p->max_conns = ho && ho->max_connections > 0 ? ho->max_connections : 32;
  if (p->max_idle > p->max_conns)
    p->max_idle = p->max_conns;
  if (first) {
    h1c_link *l = NULL;
    rv = link_new(&l, first, err);
    if (rv < 0) {
      weft_client_loop_release(p->loop);
      weft__tls_ctx_free(tls);
      pthread_mutex_destroy(&p->mu);
      free(p);
      return rv;
    }
    p->idle = l;
    p->nidle = 1;
    p->nopen = 1;
  }
  *out = p;
  return 0;
}

void weft__h1c_pool_unref(h1c_pool *p) {
  pthread_mutex_lock(&p->mu);
  bool last = --p->refs == 0;
  pthread_mutex_unlock(&p->mu);
  if (!last)
    return;
  for (h1c_link *l = p->idle; l;) {
    h1c_link *next = l->next;
    weft__h1c_link_free(l);
    l = next;
  }
  weft__tls_ctx_free(p->tls);
  weft_client_loop_release(p->loop);
  pthread_mutex_destroy(&p->mu);
  free(p);
}

/* p->mu held: hands w its grant (a link, a slot, or, on close, nothing). */
static void grant(h1c_pool *p, h1c_waiter *w, h1c_link *l, bool slot) {
  (void)p;
  w->queued = false;
  w->granted = true;
  w->link = l;
  w->slot = slot;
  if (l)
    l->next = NULL;
  if (w->async)
    weft__h1c_async_granted(w->async);
  else
    pthread_cond_signal(&w->cv);
}

/* p->mu held: the first waiter, dequeued, or NULL. */
static h1c_waiter *first_waiter(h1c_pool *p) {
  h1c_waiter *w = p->wq_head;
  if (w) {
    p->wq_head = w->next;
    if (!p->wq_head)
      p->wq_tail = NULL;
    w->next = NULL;
  }
  return w;
}

void weft__h1c_pool_close(h1c_pool *p) {
  pthread_mutex_lock(&p->mu);
  p->closed = true;
  h1c_link *idle = p->idle;
  p->idle = NULL;
  p->nopen -= p->nidle;
  p->nidle = 0;
  for (h1c_link *l = p->busy; l; l = l->next)
    weft__h1c_link_abort(l);
  for (h1c_waiter *w; (w = first_waiter(p));)
    grant(p, w, NULL, false);
  pthread_mutex_unlock(&p->mu);
  for (h1c_link *l = idle; l;) {
    h1c_link *next = l->next;
    weft__h1c_link_free(l);
    l = next;
  }
  weft__h1c_pool_unref(p);
}

/* An idle connection the server closed (or wrote to unasked) is not worth
 * a request. Readable is not enough to tell: a TLS 1.3 server sends its
 * session tickets after the handshake, which OpenSSL takes in on the next
 * read without any application byte. So read: only "would block" (after
 * TLS consumed what it had) means the connection is still good. */
static bool link_stale(h1c_link *l) {
  struct pollfd pfd = {.fd = weft__conn_fd(l->sock), .events = POLLIN};
  if (!weft__conn_pending(l->sock) && poll(&pfd, 1, 0) == 0)
    return false;
  uint8_t b;
  return weft__conn_read(l->sock, &b, 1) != WEFT_ERR_AGAIN;
}

/* p->mu held. */
static void busy_add(h1c_pool *p, h1c_link *l) {
  l->next = p->busy;
  p->busy = l;
}

static void busy_remove(h1c_pool *p, h1c_link *l) {
  for (h1c_link **pp = &p->busy; *pp; pp = &(*pp)->next)
    if (*pp == l) {
      *pp = l->next;
      break;
    }
  l->next = NULL;
}

int weft__h1c_pool_take(h1c_pool *p, h1c_waiter *w, h1c_link **out) {
  for (;;) {
    pthread_mutex_lock(&p->mu);
    if (p->closed) {
      pthread_mutex_unlock(&p->mu);
      return WEFT_ERR_CLOSED;
    }
    h1c_link *l = p->idle;
    if (l) {
      p->idle = l->next;
      p->nidle--;
      busy_add(p, l);
      pthread_mutex_unlock(&p->mu);
      if (!link_stale(l)) {
        *out = l;
        return H1C_TAKE_LINK;
      }
      /* Its slot is ours: a new connection instead. */
      pthread_mutex_lock(&p->mu);
      busy_remove(p, l);
      pthread_mutex_unlock(&p->mu);
      weft__h1c_link_free(l);
      return H1C_TAKE_OPEN;
    }
    if (p->nopen < p->max_conns) {
      p->nopen++;
      pthread_mutex_unlock(&p->mu);
      return H1C_TAKE_OPEN;
    }
    w->next = NULL;
    w->link = NULL;
    w->slot = w->granted = false;
    w->queued = true;
    if (p->wq_tail)
      p->wq_tail->next = w;
    else
      p->wq_head = w;
    p->wq_tail = w;
    pthread_mutex_unlock(&p->mu);
    return H1C_TAKE_WAIT;
  }
}

bool weft__h1c_pool_unwait(h1c_pool *p, h1c_waiter *w) {
  pthread_mutex_lock(&p->mu);
  bool was = w->queued;
  if (was) {
    h1c_waiter *prev = NULL;
    for (h1c_waiter *x = p->wq_head; x; prev = x, x = x->next)
      if (x == w) {
        if (prev)
          prev->next = w->next;
        else
          p->wq_head = w->next;
        if (p->wq_tail == w)
          p->wq_tail = prev;
        break;
      }
    w->queued = false;
  }
  pthread_mutex_unlock(&p->mu);
  return was;
}

void weft__h1c_pool_unopen(h1c_pool *p) {
  pthread_mutex_lock(&p->mu);
  h1c_waiter *w = p->closed ? NULL : first_waiter(p);
  if (w)
    grant(p, w, NULL, true); /* the slot changes hands */
  else
    p->nopen--;
  pthread_mutex_unlock(&p->mu);
}

int weft__h1c_pool_connect_ms(h1c_pool *p, int64_t deadline_ns, int64_t *ms_out,
                              weft_error *err) {
  pthread_mutex_lock(&p->mu);
  bool closed = p->closed;
  pthread_mutex_unlock(&p->mu);
  if (closed)
    return weft_error_set(err, WEFT_ERR_CLOSED, "client is closed");
  int64_t ms = p->connect_timeout_ms;
  if (deadline_ns != INT64_MAX) {
    int64_t left = (deadline_ns - weft_now_ns()) / 1000000;
    if (left < 1)
      return weft_error_set(err, WEFT_ERR_TIMEOUT,
                            "deadline exceeded before connecting to %s",
                            p->authority);
    if (left < ms)
      ms = left;
  }
  *ms_out = ms;
  return 0;
}

int weft__h1c_pool_adopt(h1c_pool *p, weft__conn *sock, h1c_link **out,
                         weft_error *err) {
  /* https:// pool connections: the first one settled the protocol. */
  const char *alpn = weft__conn_alpn(sock);
  if (*alpn && strcmp(alpn, "http/1.1") != 0) {
    weft_error_set(err, WEFT_ERR_HANDSHAKE,
                   "%s negotiated ALPN \"%s\" on a new connection after "
                   "\"http/1.1\"",
                   p->authority, alpn);
    weft__conn_close(sock);
    return WEFT_ERR_HANDSHAKE;
  }
  h1c_link *l = NULL;
  int rv = link_new(&l, sock, err);
  if (rv < 0)
    return rv;
  pthread_mutex_lock(&p->mu);
  busy_add(p, l);
  pthread_mutex_unlock(&p->mu);
  *out = l;
  return 0;
}

int weft__h1c_pool_connect(h1c_pool *p, int64_t deadline_ns, h1c_link **out,
                           weft_error *err) {
  int64_t ms;
  int rv = weft__h1c_pool_connect_ms(p, deadline_ns, &ms, err);
  if (rv < 0)
    return rv;
  weft__conn *sock = NULL;
  rv = weft__conn_connect(&sock, p->host, p->port, p->tls, p->server_name, ms,
                          err);
  if (rv < 0)
    return rv;
  return weft__h1c_pool_adopt(p, sock, out, err);
}

/* w->cv runs on CLOCK_MONOTONIC (h1c_call.c); INT64_MAX: a wait of 1 s,
 * re-checked. */
static void mono_timespec(struct timespec *ts, int64_t deadline_ns) {
  int64_t t = deadline_ns;
  if (t == INT64_MAX)
    t = weft_now_ns() + 1000000000;
  ts->tv_sec = (time_t)(t / 1000000000);
  ts->tv_nsec = (long)(t % 1000000000);
}

static bool call_cancelled(const h1c_call *k) {
  return __atomic_load_n(&k->cancelled, __ATOMIC_ACQUIRE);
}

int weft__h1c_pool_get(h1c_pool *p, h1c_call *k, h1c_link **out, bool *reused,
                       weft_error *err) {
  h1c_waiter *w = &k->w;
  h1c_link *l = NULL;
  int r = weft__h1c_pool_take(p, w, &l);
  if (r == WEFT_ERR_CLOSED)
    return weft_error_set(err, WEFT_ERR_CLOSED, "client is closed");
  if (r == H1C_TAKE_WAIT) {
    pthread_mutex_lock(&p->mu);
    while (w->queued && !p->closed && !call_cancelled(k) &&
           weft_now_ns() < k->deadline_ns) {
      struct timespec ts;
      mono_timespec(&ts, k->deadline_ns);
      pthread_cond_timedwait(&w->cv, &p->mu, &ts);
    }
    pthread_mutex_unlock(&p->mu);
    if (weft__h1c_pool_unwait(p, w) || (!w->link && !w->slot)) {
      if (call_cancelled(k))
        return weft_error_set(err, WEFT_ERR_CANCELLED, "cancelled");
      if (w->granted || p->closed)
        return weft_error_set(err, WEFT_ERR_CLOSED, "client is closed");
      return weft_error_set(err, WEFT_ERR_TIMEOUT,
                            "deadline exceeded waiting for one of the %d "
                            "connections to %s",
                            p->max_conns, p->authority);
    }
    l = w->link;
    r = l ? H1C_TAKE_LINK : H1C_TAKE_OPEN;
  }
  if (r == H1C_TAKE_LINK) {
    *reused = l->eng != NULL;
    *out = l;
    return 0;
  }
  *reused = false;
  int rv = weft__h1c_pool_connect(p, k->deadline_ns, out, err);
  if (rv < 0)
    weft__h1c_pool_unopen(p);
  return rv;
}

void weft__h1c_pool_put(h1c_pool *p, h1c_link *l, bool reusable) {
  pthread_mutex_lock(&p->mu);
  busy_remove(p, l);
  l->call = NULL;
  bool keep = reusable && !p->closed;
  h1c_waiter *w = p->closed ? NULL : first_waiter(p);
  if (w) {
    if (keep) {
      busy_add(p, l);
      grant(p, w, l, false);
    } else {
      grant(p, w, NULL, true); /* l's slot changes hands */
    }
  } else if (keep && p->nidle < p->max_idle) {
    l->next = p->idle;
    p->idle = l;
    p->nidle++;
  } else {
    keep = false;
    p->nopen--;
  }
  pthread_mutex_unlock(&p->mu);
  if (!keep)
    weft__h1c_link_free(l);
}

void weft__h1c_pool_discard(h1c_pool *p, h1c_link *l) {
  pthread_mutex_lock(&p->mu);
  busy_remove(p, l);
  pthread_mutex_unlock(&p->mu);
  weft__h1c_link_free(l);
}
/* Waits until the socket can make progress in the direction TLS or the
 * caller needs. 0, or WEFT_ERR_TIMEOUT. */
static int wait_io(h1c_link *l, bool write, int64_t deadline_ns) {
  struct pollfd pfd = {.fd = weft__conn_fd(l->sock),
                       .events = write ? POLLOUT : POLLIN};
  for (;;) {
    int ms = -1;
    if (deadline_ns != INT64_MAX) {
      int64_t left = deadline_ns - weft_now_ns();
      if (left <= 0)
        return WEFT_ERR_TIMEOUT;
      int64_t m = (left + 999999) / 1000000;
      ms = m > 60000 ? 60000 : (int)m;
    }
    int n = poll(&pfd, 1, ms);
    if (n > 0)
      return 0;
    if (n < 0 && errno != EINTR)
      return WEFT_ERR_IO;
  }
}

int weft__h1c_sock_error(h1c_link *l, ssize_t rv, const char *what,
                         weft_error *err) {
  const char *why = weft__conn_error(l->sock);
  return weft_error_set(err, rv == WEFT_ERR_CLOSED ? WEFT_ERR_CLOSED : (int)rv,
                        "%s %s: %s", what, weft__conn_peer(l->sock),
                        *why ? why : weft_strerror((int)rv));
}

int weft__h1c_link_flush(h1c_link *l, int64_t deadline_ns, weft_error *err) {
  for (;;) {
    const uint8_t *data;
    size_t n = weft__h1c_output(l->eng, &data);
    if (n == 0)
      return 0;
    ssize_t w = weft__conn_write(l->sock, data, n);
    if (w > 0) {
      weft__h1c_consume(l->eng, (size_t)w);
      continue;
    }
    if (w != WEFT_ERR_AGAIN)
      return weft__h1c_sock_error(l, w, "writing to", err);
    if (wait_io(l, weft__conn_wants_write(l->sock), deadline_ns) < 0)
      return weft_error_set(err, WEFT_ERR_TIMEOUT, "deadline exceeded");
  }
}

int weft__h1c_link_read(h1c_link *l, int64_t deadline_ns, weft_error *err) {
  uint8_t buf[16384];
  for (;;) {
    ssize_t r = weft__conn_read(l->sock, buf, sizeof buf);
    if (r == 0) {
      l->eof = true;
      return weft__h1c_feed_eof(l->eng, err);
    }
    if (r > 0) {
      ssize_t used = weft__h1c_feed(l->eng, buf, (size_t)r, err);
      if (used < 0)
        return (int)used;
      if ((size_t)used < (size_t)r)
        return weft_error_set(err, WEFT_ERR_PROTOCOL,
                              "HTTP/1.1 response: %zd bytes from %s after the "
                              "end of the response",
                              r - used, weft__conn_peer(l->sock));
      return 0;
    }
    if (r != WEFT_ERR_AGAIN)
      return weft__h1c_sock_error(l, r, "reading from", err);
    if (wait_io(l, weft__conn_wants_write(l->sock), deadline_ns) < 0)
      return weft_error_set(err, WEFT_ERR_TIMEOUT, "deadline exceeded");
  }
}
