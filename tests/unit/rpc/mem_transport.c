/* The in-memory transport (see mem_transport.h). One global lock and
 * condition variable: simple beats fast in a test double. */
#include "mem_transport.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "weft/codec.h"

typedef struct msgq {
  struct qitem *head, *tail;
  size_t depth;
} msgq;

/* Server -> client messages in flight before a send blocks, like a socket
 * buffer: gives slow readers real backpressure. */
#define MAX_S2C 64
typedef struct qitem {
  struct qitem *next;
  uint8_t *data;
  size_t len;
} qitem;

typedef struct mem_listener mem_listener;
typedef struct mem_conn mem_conn;

typedef struct mem_call {
  const weft_method_desc *m;
  mem_conn *conn; /* NULL once the connection is gone */
  mem_listener *l;
  int refs; /* client + server side */
  msgq c2s, s2c;
  bool c2s_closed;
  bool done; /* server finished */
  bool cancelled;
  bool dead; /* connection lost */
  weft_status st;
  weft_metadata headers, trailers;
  struct mem_call *next; /* the connection's calls */
} mem_call;

struct mem_conn {
  mem_listener *l;
  weft_client *client;
  mem_call *calls;
  bool dead;
  struct mem_conn *next;
};

struct mem_listener {
  char name[256];
  weft_server *srv;
  bool accepting;
  mem_conn *conns;
  int server_calls; /* dispatched and not yet finished */
  struct mem_listener *next;
};

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static mem_listener *g_listeners;
static int g_connects, g_attempts, g_port = 1000;

static void q_push(msgq *q, uint8_t *data, size_t len) {
  qitem *it = malloc(sizeof *it);
  it->next = NULL;
  it->data = data;
  it->len = len;
  if (q->tail)
    q->tail->next = it;
  else
    q->head = it;
  q->tail = it;
  q->depth++;
}

static qitem *q_pop(msgq *q) {
  qitem *it = q->head;
  if (it) {
    q->head = it->next;
    if (!q->head)
      q->tail = NULL;
    q->depth--;
  }
  return it;
}

static void q_clear(msgq *q) {
  qitem *it;
  while ((it = q_pop(q))) {
    free(it->data);
    free(it);
  }
}

/* g_mu held. */
static void call_unref(mem_call *c) {
  if (--c->refs > 0)
    return;
  if (c->conn) {
    mem_call **pp = &c->conn->calls;
    while (*pp && *pp != c)
      pp = &(*pp)->next;
    if (*pp)
      *pp = c->next;
  }
  q_clear(&c->c2s);
  q_clear(&c->s2c);
  weft_status_clear(&c->st);
  weft_metadata_clear(&c->headers);
  weft_metadata_clear(&c->trailers);
  free(c);
}

static mem_listener *find_listener(const char *name) {
  for (mem_listener *l = g_listeners; l; l = l->next)
    if (strcmp(l->name, name) == 0)
      return l;
  return NULL;
}

/* g_mu held: the connection is gone; calls on it fail. */
static void conn_kill(mem_conn *cn) {
  cn->dead = true;
  for (mem_call *c = cn->calls; c; c = c->next)
    c->dead = true;
  pthread_cond_broadcast(&g_cv);
}

/* ---- client side ---- */

static int m_connect(weft_client *client, const weft_url *url,
                     const weft_client_opts *opts, void **conn,
                     weft_error *err) {
  (void)opts;
  pthread_mutex_lock(&g_mu);
  g_attempts++;
  mem_listener *l = find_listener(url->host);
  if (!l || !l->accepting) {
    pthread_mutex_unlock(&g_mu);
    return weft_error_set(err, WEFT_ERR_CONNECT, "mem://%s: nobody listening",
                          url->host);
  }
  mem_conn *cn = calloc(1, sizeof *cn);
  cn->l = l;
  cn->client = client;
  cn->next = l->conns;
  l->conns = cn;
  g_connects++;
  pthread_mutex_unlock(&g_mu);
  *conn = cn;
  return 0;
}

static void m_disconnect(void *conn) {
  mem_conn *cn = conn;
  pthread_mutex_lock(&g_mu);
  conn_kill(cn);
  for (mem_call *c = cn->calls; c; c = c->next)
    c->conn = NULL;
  if (cn->l) {
    mem_conn **pp = &cn->l->conns;
    while (*pp && *pp != cn)
      pp = &(*pp)->next;
    if (*pp)
      *pp = cn->next;
  }
  pthread_mutex_unlock(&g_mu);
  free(cn);
}

static int s_recv(void *tc, weft_arena *arena, void **msg);
static int s_send(void *tc, const void *msg, const weft_metadata *headers);
static int s_finish(void *tc, const weft_status *st,
                    const weft_metadata *headers,
                    const weft_metadata *trailers);
static bool s_cancelled(void *tc);
static const weft_server_call_ops server_ops = {s_recv, s_send, s_finish,
                                                s_cancelled, NULL};

static int m_call_start(void *conn, const weft_method_desc *m,
                        const weft_metadata *md, int64_t deadline_ns,
                        void **tcall, weft_error *err) {
  mem_conn *cn = conn;
  pthread_mutex_lock(&g_mu);
  if (cn->dead || !cn->l) {
    pthread_mutex_unlock(&g_mu);
    return weft_error_set(err, WEFT_ERR_CLOSED, "mem: connection lost");
  }
  mem_call *c = calloc(1, sizeof *c);
  c->m = m;
  c->conn = cn;
  c->l = cn->l;
  c->refs = 2;
  c->next = cn->calls;
  cn->calls = c;
  mem_listener *l = cn->l;
  l->server_calls++;
  weft_server *srv = l->srv;
  pthread_mutex_unlock(&g_mu);
  int rv = weft_server_dispatch(srv, m->path, md, deadline_ns, "mem-peer",
                                &server_ops, c);
  if (rv < 0) { /* not taken: answer it ourselves */
    weft_status st = {WEFT_STATUS_UNAVAILABLE, (char *)"server shutting down",
                      NULL, 0};
    s_finish(c, &st, NULL, NULL);
  }
  *tcall = c;
  return 0;
}

static int m_call_send(void *tcall, const void *msg) {
  mem_call *c = tcall;
  uint8_t *buf;
  size_t len;
  int rv = weft_encode_alloc(msg, &buf, &len);
  if (rv < 0)
    return rv;
  pthread_mutex_lock(&g_mu);
  if (c->dead || c->cancelled || c->done || c->c2s_closed) {
    pthread_mutex_unlock(&g_mu);
    free(buf);
    /* Like a socket transport: after the server finished, sends vanish
     * and the caller learns the status from finish. */
    if (c->done && !c->c2s_closed)
      return 0;
    return c->dead        ? WEFT_ERR_CLOSED
           : c->cancelled ? WEFT_ERR_CANCELLED
                          : WEFT_ERR_STATE;
  }
  q_push(&c->c2s, buf, len);
  pthread_cond_broadcast(&g_cv);
  pthread_mutex_unlock(&g_mu);
  return 0;
}

static int m_call_close_send(void *tcall) {
  mem_call *c = tcall;
  pthread_mutex_lock(&g_mu);
  c->c2s_closed = true;
  pthread_cond_broadcast(&g_cv);
  pthread_mutex_unlock(&g_mu);
  return 0;
}

static int m_call_recv(void *tcall, weft_arena *arena, void **msg) {
  mem_call *c = tcall;
  pthread_mutex_lock(&g_mu);
  for (;;) {
    qitem *it = q_pop(&c->s2c);
    if (it) {
      pthread_cond_broadcast(&g_cv); /* a blocked sender may go on */
      pthread_mutex_unlock(&g_mu);
      weft_decode_opts o = {arena, 0, 0, 0};
      int rv = weft_decode(c->m->output, it->data, it->len, &o, msg, NULL);
      free(it->data);
      free(it);
      return rv < 0 ? rv : 1;
    }
    if (c->cancelled) {
      pthread_mutex_unlock(&g_mu);
      return WEFT_ERR_CANCELLED;
    }
    if (c->dead) {
      pthread_mutex_unlock(&g_mu);
      return WEFT_ERR_CLOSED;
    }
    if (c->done) {
      pthread_mutex_unlock(&g_mu);
      return c->st.code == WEFT_STATUS_OK ? 0 : WEFT_ERR_RPC;
    }
    pthread_cond_wait(&g_cv, &g_mu);
  }
}

static int m_call_finish(void *tcall, weft_status *st, weft_metadata *md) {
  mem_call *c = tcall;
  pthread_mutex_lock(&g_mu);
  while (!c->done && !c->cancelled && !c->dead)
    pthread_cond_wait(&g_cv, &g_mu);
  int rv = 0;
  if (c->done) {
    weft_status_set(st, c->st.code, "%s", c->st.message ? c->st.message : "");
    if (md) {
      weft_metadata_copy(md, &c->headers);
      weft_metadata_copy(md, &c->trailers);
    }
  } else if (c->cancelled) {
    weft_status_set(st, WEFT_STATUS_CANCELLED, "cancelled");
    rv = WEFT_ERR_CANCELLED;
  } else {
    weft_status_set(st, WEFT_STATUS_UNAVAILABLE, "mem: connection lost");
    rv = WEFT_ERR_CLOSED;
  }
  call_unref(c);
  pthread_mutex_unlock(&g_mu);
  return rv;
}

static void m_call_cancel(void *tcall) {
  mem_call *c = tcall;
  pthread_mutex_lock(&g_mu);
  c->cancelled = true;
  pthread_cond_broadcast(&g_cv);
  pthread_mutex_unlock(&g_mu);
}

/* ---- server side ---- */

static int s_recv(void *tc, weft_arena *arena, void **msg) {
  mem_call *c = tc;
  pthread_mutex_lock(&g_mu);
  for (;;) {
    if (c->cancelled || c->dead) {
      pthread_mutex_unlock(&g_mu);
      return WEFT_ERR_CANCELLED;
    }
    qitem *it = q_pop(&c->c2s);
    if (it) {
      pthread_mutex_unlock(&g_mu);
      weft_decode_opts o = {arena, 0, 0, 0};
      int rv = weft_decode(c->m->input, it->data, it->len, &o, msg, NULL);
      free(it->data);
      free(it);
      return rv < 0 ? rv : 1;
    }
    if (c->c2s_closed) {
      pthread_mutex_unlock(&g_mu);
      return 0;
    }
    pthread_cond_wait(&g_cv, &g_mu);
  }
}

static int s_send(void *tc, const void *msg, const weft_metadata *headers) {
  mem_call *c = tc;
  uint8_t *buf;
  size_t len;
  int rv = weft_encode_alloc(msg, &buf, &len);
  if (rv < 0)
    return rv;
  pthread_mutex_lock(&g_mu);
  while (c->s2c.depth >= MAX_S2C && !c->cancelled && !c->dead)
    pthread_cond_wait(&g_cv, &g_mu);
  if (c->cancelled || c->dead) {
    pthread_mutex_unlock(&g_mu);
    free(buf);
    return WEFT_ERR_CANCELLED;
  }
  if (headers)
    weft_metadata_copy(&c->headers, headers);
  q_push(&c->s2c, buf, len);
  pthread_cond_broadcast(&g_cv);
  pthread_mutex_unlock(&g_mu);
  return 0;
}

static int s_finish(void *tc, const weft_status *st,
                    const weft_metadata *headers,
                    const weft_metadata *trailers) {
  mem_call *c = tc;
  pthread_mutex_lock(&g_mu);
  if (headers)
    weft_metadata_copy(&c->headers, headers);
  if (trailers)
    weft_metadata_copy(&c->trailers, trailers);
  weft_status_set(&c->st, st->code, "%s", st->message ? st->message : "");
  c->done = true;
  c->l->server_calls--;
  call_unref(c);
  pthread_cond_broadcast(&g_cv);
  pthread_mutex_unlock(&g_mu);
  return 0;
}

static bool s_cancelled(void *tc) {
  mem_call *c = tc;
  pthread_mutex_lock(&g_mu);
  bool r = c->cancelled || c->dead;
  pthread_mutex_unlock(&g_mu);
  return r;
}

static int m_listen(weft_server *s, const weft_url *url,
                    const weft_server_opts *opts, void **listener, int *port,
                    weft_error *err) {
  (void)opts;
  pthread_mutex_lock(&g_mu);
  if (find_listener(url->host)) {
    pthread_mutex_unlock(&g_mu);
    return weft_error_set(err, WEFT_ERR_STATE, "mem://%s: in use", url->host);
  }
  mem_listener *l = calloc(1, sizeof *l);
  strncpy(l->name, url->host, sizeof l->name - 1);
  l->srv = s;
  l->accepting = true;
  l->next = g_listeners;
  g_listeners = l;
  *port = ++g_port;
  pthread_mutex_unlock(&g_mu);
  *listener = l;
  return 0;
}

static void m_stop_accepting(void *listener) {
  mem_listener *l = listener;
  pthread_mutex_lock(&g_mu);
  l->accepting = false;
  pthread_mutex_unlock(&g_mu);
}

/* Kills the listener's connections and notifies their clients; g_mu is
 * released around the notifications (they take the client's lock). */
static void kill_and_notify(mem_listener *l) {
  pthread_mutex_lock(&g_mu);
  weft_client *clients[256];
  int n = 0;
  for (mem_conn *cn = l->conns; cn; cn = cn->next) {
    if (!cn->dead && n < 256)
      clients[n++] = cn->client;
    conn_kill(cn);
  }
  pthread_mutex_unlock(&g_mu);
  weft_error e;
  weft_error_set(&e, WEFT_ERR_CLOSED, "mem://%s: connection dropped", l->name);
  for (int i = 0; i < n; i++)
    weft_client_notify(clients[i], WEFT_CONN_DISCONNECTED, &e);
}

static void m_close(void *listener) {
  mem_listener *l = listener;
  kill_and_notify(l);
  pthread_mutex_lock(&g_mu);
  /* The runtime finishes every dispatched call: wait for that. */
  while (l->server_calls > 0)
    pthread_cond_wait(&g_cv, &g_mu);
  mem_listener **pp = &g_listeners;
  while (*pp && *pp != l)
    pp = &(*pp)->next;
  if (*pp)
    *pp = l->next;
  for (mem_conn *cn = l->conns; cn; cn = cn->next)
    cn->l = NULL; /* clients disconnect (and free) them later */
  for (mem_conn *cn = l->conns; cn; cn = cn->next)
    for (mem_call *c = cn->calls; c; c = c->next)
      c->dead = true;
  pthread_mutex_unlock(&g_mu);
  free(l);
}

static const weft_client_transport mem_client = {"mem",
                                                 0,
                                                 m_connect,
                                                 m_disconnect,
                                                 m_call_start,
                                                 m_call_send,
                                                 m_call_close_send,
                                                 m_call_recv,
                                                 m_call_finish,
                                                 m_call_cancel};
static const weft_server_transport mem_server = {"mem", 0, m_listen,
                                                 m_stop_accepting, m_close};

void mem_transport_register(void) {
  weft_register_client_transport(&mem_client);
  weft_register_server_transport(&mem_server);
}

void mem_transport_kill(const char *name) {
  pthread_mutex_lock(&g_mu);
  mem_listener *l = find_listener(name);
  pthread_mutex_unlock(&g_mu);
  if (l)
    kill_and_notify(l);
}

int mem_transport_connects(void) {
  pthread_mutex_lock(&g_mu);
  int n = g_connects;
  pthread_mutex_unlock(&g_mu);
  return n;
}

int mem_transport_attempts(void) {
  pthread_mutex_lock(&g_mu);
  int n = g_attempts;
  pthread_mutex_unlock(&g_mu);
  return n;
}
