/* The envelope mux protocol engine; see mux_engine.h for the contract.
 *
 * State per stream is three facts: whether OPEN went out or came in,
 * whether the client half-closed, and a deadline. Everything a call needs
 * beyond that (queues, the method's shape, the final status) belongs to the
 * owner, which hangs it on the stream's user pointer. A stream is dropped
 * from the table the moment it ends, so "late frame for a finished stream"
 * and "frame for a stream never seen" are the same case: dropped. */
#include "mux_engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mux_internal.h"

#define DEFAULT_MAX_MSG (4u * 1024u * 1024u)

typedef struct mxs {
  struct mxs *next;
  uint64_t id;
  void *su;
  bool opened;      /* OPEN sent (client) or received (server) */
  bool half_closed; /* client: HALF_CLOSE sent / server: received */
  int64_t deadline; /* INT64_MAX: none */
} mxs;

struct weft__mxe {
  weft__mxe_opts o;
  weft__mxe_callbacks cb;
  size_t max_msg;
  mxs **buckets;
  size_t nbuckets, nstreams;
  uint64_t next_id;
  bool dead; /* a connection error happened */
  bool goaway_rx, goaway_tx;
  weft__mxe_chunk *out_head, *out_tail;
  weft__mxe_chunk *spare; /* recycled small chunks, at most kMaxSpare */
  unsigned nspare;
};

/* Envelopes up to kSmallChunk bytes (a header and a small message) get a
 * chunk of exactly that capacity, so any recycled one fits the next. A
 * few spares cover what one flush carries in the streaming case. */
enum { kSmallChunk = 256, kMaxSpare = 16 };

static const weft__bytes no_bytes = {NULL, 0};

/* ---- the stream table -------------------------------------------------- */

static size_t hash_id(const weft__mxe *e, uint64_t id) {
  return (size_t)((id * 0x9e3779b97f4a7c15ull) >> 32) & (e->nbuckets - 1);
}

static mxs *find(const weft__mxe *e, uint64_t id) {
  for (mxs *s = e->buckets[hash_id(e, id)]; s; s = s->next)
    if (s->id == id)
      return s;
  return NULL;
}

static int grow(weft__mxe *e) {
  size_t nb = e->nbuckets * 2;
  mxs **b = calloc(nb, sizeof *b);
  if (!b)
    return WEFT_ERR_NOMEM;
  for (size_t i = 0; i < e->nbuckets; i++) {
    for (mxs *x = e->buckets[i], *n; x; x = n) {
      n = x->next;
      size_t h = (size_t)((x->id * 0x9e3779b97f4a7c15ull) >> 32) & (nb - 1);
      x->next = b[h];
      b[h] = x;
    }
  }
  free(e->buckets);
  e->buckets = b;
  e->nbuckets = nb;
  return 0;
}

static mxs *add(weft__mxe *e, uint64_t id) {
  if (e->nstreams >= e->nbuckets && grow(e) < 0) /* keep chains short */
    return NULL;
  mxs *s = calloc(1, sizeof *s);
  if (!s)
    return NULL;
  s->id = id;
  s->deadline = INT64_MAX;
  size_t h = hash_id(e, id);
  s->next = e->buckets[h];
  e->buckets[h] = s;
  e->nstreams++;
  return s;
}

static void drop(weft__mxe *e, uint64_t id) {
  for (mxs **pp = &e->buckets[hash_id(e, id)]; *pp; pp = &(*pp)->next) {
    if ((*pp)->id == id) {
      mxs *s = *pp;
      *pp = s->next;
      free(s);
      e->nstreams--;
      return;
    }
  }
}

/* ---- output ------------------------------------------------------------ */

static void md_out(weft__env_out *o, const weft_metadata *md) {
  if (!md || !md->count)
    return;
  o->n_md = md->count;
  o->md_keys = (const char *const *)(const void *)&md->entries[0].key;
  o->md_values = (const uint8_t *const *)(const void *)&md->entries[0].value;
  o->md_value_lens = &md->entries[0].value_len;
  o->md_stride = sizeof md->entries[0];
}

static void msg_out(weft__env_out *o, const weft__mxe_msg *msg) {
  if (!msg)
    return;
  o->has_payload = true;
  o->payload = msg->data;
  o->payload_len = msg->len;
  o->payload_write = msg->write;
  o->payload_ud = msg->wud;
}

static void push_chunk(weft__mxe *e, weft__mxe_chunk *c) {
  c->next = NULL;
  if (e->out_tail)
    e->out_tail->next = c;
  else
    e->out_head = c;
  e->out_tail = c;
}

static weft__mxe_chunk *chunk_new(weft__mxe *e, size_t n) {
  weft__mxe_chunk *c;
  if (n <= kSmallChunk && e->spare) {
    c = e->spare;
    e->spare = c->next;
    e->nspare--;
    c->next = NULL;
    return c;
  }
  size_t cap = n <= kSmallChunk ? kSmallChunk : n;
  c = malloc(sizeof *c + cap);
  if (c) {
    c->next = NULL;
    c->cap = cap;
  }
  return c;
}

void weft__mxe_recycle(weft__mxe *e, weft__mxe_chunk *c) {
  for (weft__mxe_chunk *n; c; c = n) {
    n = c->next;
    if (c->cap == kSmallChunk && e->nspare < kMaxSpare) {
      c->next = e->spare;
      e->spare = c;
      e->nspare++;
    } else {
      free(c);
    }
  }
}

/* Encodes o in the connection's codec onto the output queue. Nothing is
 * queued on failure. */
static int queue_env(weft__mxe *e, const weft__env_out *o) {
  weft__mxe_chunk *c;
  if (o->has_payload && o->payload_len > e->max_msg)
    return WEFT_ERR_TOO_BIG;
  if (e->o.text) {
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = weft__env_json_encode(o, &buf, &len);
    if (rc < 0)
      return rc;
    c = chunk_new(e, len);
    if (!c) {
      free(buf);
      return WEFT_ERR_NOMEM;
    }
    memcpy(c->data, buf, len);
    free(buf);
    c->len = len;
  } else {
    size_t n = weft__env_size(o);
    c = chunk_new(e, n);
    if (!c)
      return WEFT_ERR_NOMEM;
    ssize_t w = weft__env_encode(o, c->data, n);
    if (w < 0) {
      weft__mxe_recycle(e, c);
      return (int)w;
    }
    c->len = (size_t)w;
  }
  c->text = e->o.text;
  push_chunk(e, c);
  return 0;
}

static int queue_status(weft__mxe *e, uint64_t id, int code, const char *msg) {
  weft__env_out o = {.stream_id = id,
                     .kind = WEFT__FK_STATUS,
                     .has_status = true,
                     .status_code = code,
                     .status_message = msg};
  return queue_env(e, &o);
}

static int queue_cancel(weft__mxe *e, uint64_t id, int code, const char *msg) {
  weft__env_out o = {.stream_id = id,
                     .kind = WEFT__FK_CANCEL,
                     .has_status = true,
                     .status_code = code,
                     .status_message = msg};
  return queue_env(e, &o);
}

weft__mxe_chunk *weft__mxe_take_output(weft__mxe *e) {
  weft__mxe_chunk *c = e->out_head;
  e->out_head = e->out_tail = NULL;
  return c;
}

bool weft__mxe_want_write(const weft__mxe *e) {
  return e->out_head != NULL;
}

/* ---- lifecycle --------------------------------------------------------- */

int weft__mxe_new(weft__mxe **out, const weft__mxe_opts *o) {
  *out = NULL;
  if (!o)
    return WEFT_ERR_INVAL;
  weft__mxe *e = calloc(1, sizeof *e);
  if (!e)
    return WEFT_ERR_NOMEM;
  e->o = *o;
  if (o->cb)
    e->cb = *o->cb;
  e->max_msg = o->max_message_size ? o->max_message_size : DEFAULT_MAX_MSG;
  e->next_id = 1;
  e->nbuckets = 16;
  e->buckets = calloc(e->nbuckets, sizeof *e->buckets);
  if (!e->buckets) {
    free(e);
    return WEFT_ERR_NOMEM;
  }
  *out = e;
  return 0;
}

void weft__mxe_free(weft__mxe *e) {
  if (!e)
    return;
  for (size_t i = 0; i < e->nbuckets; i++) {
    for (mxs *s = e->buckets[i], *n; s; s = n) {
      n = s->next;
      free(s);
    }
  }
  free(e->buckets);
  for (weft__mxe_chunk *c = e->out_head, *n; c; c = n) {
    n = c->next;
    free(c);
  }
  for (weft__mxe_chunk *c = e->spare, *n; c; c = n) {
    n = c->next;
    free(c);
  }
  free(e);
}

void weft__mxe_set_text(weft__mxe *e, bool text) {
  e->o.text = text;
}

bool weft__mxe_text(const weft__mxe *e) {
  return e->o.text;
}

bool weft__mxe_goaway_received(const weft__mxe *e) {
  return e->goaway_rx;
}

bool weft__mxe_goaway_sent(const weft__mxe *e) {
  return e->goaway_tx;
}

size_t weft__mxe_count(const weft__mxe *e) {
  return e->nstreams;
}

void weft__mxe_each(weft__mxe *e, void (*fn)(void *arg, uint64_t id, void *su),
                    void *arg) {
  for (size_t i = 0; i < e->nbuckets; i++)
    for (mxs *s = e->buckets[i]; s; s = s->next)
      fn(arg, s->id, s->su);
}

int weft__mxe_stream_new(weft__mxe *e, void *su, uint64_t *id) {
  if (e->o.server)
    return WEFT_ERR_STATE;
  if (e->dead || e->goaway_rx)
    return WEFT_ERR_CLOSED;
  mxs *s = add(e, e->next_id);
  if (!s)
    return WEFT_ERR_NOMEM;
  s->su = su;
  *id = e->next_id;
  e->next_id += 2;
  return 0;
}

int weft__mxe_set_user(weft__mxe *e, uint64_t id, void *su) {
  mxs *s = find(e, id);
  if (!s)
    return WEFT_ERR_STATE;
  s->su = su;
  return 0;
}

void *weft__mxe_user(const weft__mxe *e, uint64_t id) {
  mxs *s = find(e, id);
  return s ? s->su : NULL;
}

void weft__mxe_forget(weft__mxe *e, uint64_t id) {
  drop(e, id);
}

/* ---- submissions -------------------------------------------------------- */

/* The stream id names an open stream this side may send on. */
static mxs *sendable(weft__mxe *e, uint64_t id, int *rc) {
  mxs *s = e->dead ? NULL : find(e, id);
  *rc = e->dead ? WEFT_ERR_CLOSED : s ? 0 : WEFT_ERR_STATE;
  return s;
}

int weft__mxe_submit_open(weft__mxe *e, uint64_t id, const char *method,
                          const weft_metadata *md, int64_t deadline_ns,
                          int64_t now_ns, const weft__mxe_msg *msg) {
  int rc;
  mxs *s = sendable(e, id, &rc);
  if (!s)
    return rc;
  if (e->o.server || s->opened || !method)
    return WEFT_ERR_STATE;
  weft__env_out o = {.stream_id = id, .kind = WEFT__FK_OPEN, .method = method};
  md_out(&o, md);
  msg_out(&o, msg);
  if (deadline_ns > 0 && deadline_ns != INT64_MAX) {
    int64_t left = (deadline_ns - now_ns) / 1000000;
    o.timeout_ms = left > 0 ? left : 1;
  }
  if ((rc = queue_env(e, &o)) < 0)
    return rc;
  s->opened = true;
  s->deadline = deadline_ns > 0 ? deadline_ns : INT64_MAX;
  return 0;
}

int weft__mxe_submit_message(weft__mxe *e, uint64_t id,
                             const weft__mxe_msg *msg) {
  int rc;
  mxs *s = sendable(e, id, &rc);
  if (!s)
    return rc;
  if (!s->opened || (!e->o.server && s->half_closed) || !msg)
    return WEFT_ERR_STATE;
  weft__env_out o = {.stream_id = id, .kind = WEFT__FK_MESSAGE};
  msg_out(&o, msg);
  return queue_env(e, &o);
}

int weft__mxe_submit_half_close(weft__mxe *e, uint64_t id) {
  int rc;
  mxs *s = sendable(e, id, &rc);
  if (!s)
    return rc;
  if (e->o.server || !s->opened || s->half_closed)
    return WEFT_ERR_STATE;
  weft__env_out o = {.stream_id = id, .kind = WEFT__FK_HALF_CLOSE};
  if ((rc = queue_env(e, &o)) < 0)
    return rc;
  s->half_closed = true;
  return 0;
}

int weft__mxe_submit_headers(weft__mxe *e, uint64_t id,
                             const weft_metadata *md) {
  int rc;
  if (!sendable(e, id, &rc))
    return rc;
  if (!e->o.server)
    return WEFT_ERR_STATE;
  weft__env_out o = {.stream_id = id, .kind = WEFT__FK_HEADERS};
  md_out(&o, md);
  return queue_env(e, &o);
}

int weft__mxe_submit_status(weft__mxe *e, uint64_t id, int code,
                            const char *msg, const uint8_t *details,
                            size_t details_len, const weft_metadata *trailers,
                            const weft__mxe_msg *reply) {
  int rc;
  if (!sendable(e, id, &rc))
    return rc;
  if (!e->o.server)
    return WEFT_ERR_STATE;
  weft__env_out o = {.stream_id = id,
                     .kind = WEFT__FK_STATUS,
                     .has_status = true,
                     .status_code = code,
                     .status_message = msg,
                     .status_details = details,
                     .status_details_len = details_len};
  md_out(&o, trailers);
  msg_out(&o, reply);
  if ((rc = queue_env(e, &o)) < 0)
    return rc;
  drop(e, id);
  return 0;
}

int weft__mxe_submit_cancel(weft__mxe *e, uint64_t id, int code,
                            const char *msg) {
  int rc;
  mxs *s = sendable(e, id, &rc);
  if (!s)
    return rc;
  if (s->opened && (rc = queue_cancel(e, id, code, msg)) < 0)
    return rc;
  drop(e, id); /* never opened: nothing to tell the peer */
  return 0;
}

int weft__mxe_submit_ping(weft__mxe *e, const uint8_t *payload, size_t len) {
  if (e->dead)
    return WEFT_ERR_CLOSED;
  weft__env_out o = {.kind = WEFT__FK_PING,
                     .has_payload = true,
                     .payload = payload,
                     .payload_len = len};
  return queue_env(e, &o);
}

int weft__mxe_submit_goaway(weft__mxe *e, int code, const char *msg) {
  if (e->dead)
    return WEFT_ERR_CLOSED;
  weft__env_out o = {.kind = WEFT__FK_GOAWAY,
                     .has_status = code != 0,
                     .status_code = code,
                     .status_message = msg};
  int rc = queue_env(e, &o);
  if (rc == 0)
    e->goaway_tx = true;
  return rc;
}

/* ---- timeouts ----------------------------------------------------------- */

int64_t weft__mxe_next_deadline(const weft__mxe *e) {
  int64_t d = INT64_MAX;
  for (size_t i = 0; i < e->nbuckets; i++)
    for (mxs *s = e->buckets[i]; s; s = s->next)
      if (s->opened && s->deadline < d)
        d = s->deadline;
  return d;
}

int weft__mxe_expire(weft__mxe *e, int64_t now_ns) {
  static const char why[] = "deadline exceeded";
  const weft__bytes msg = {(const uint8_t *)why, sizeof why - 1};
  int n = 0;
  if (e->dead)
    return 0;
  /* One at a time: a callback may end other streams. */
  for (;;) {
    mxs *due = NULL;
    for (size_t i = 0; i < e->nbuckets && !due; i++)
      for (mxs *s = e->buckets[i]; s && !due; s = s->next)
        if (s->opened && s->deadline <= now_ns)
          due = s;
    if (!due)
      return n;
    uint64_t id = due->id;
    void *su = due->su;
    int rc = e->o.server
                 ? queue_status(e, id, WEFT_STATUS_DEADLINE_EXCEEDED, why)
                 : queue_cancel(e, id, WEFT_STATUS_DEADLINE_EXCEEDED, why);
    drop(e, id);
    if (rc < 0)
      return rc;
    n++;
    if (e->cb.on_reset &&
        (rc = e->cb.on_reset(e->o.ud, id, su, WEFT_STATUS_DEADLINE_EXCEEDED,
                             &msg, false)) < 0)
      return rc;
  }
}

/* ---- receiving ---------------------------------------------------------- */

static const char *kind_name(int32_t k) {
  static const char *const names[] = {
      "UNSPECIFIED", "OPEN",   "MESSAGE", "HALF_CLOSE", "HEADERS",
      "STATUS",      "CANCEL", "PING",    "PONG",       "GOAWAY"};
  return k >= 0 && k <= WEFT__FK_GOAWAY ? names[k] : "unknown";
}

/* A payload over the limit ends its stream (not the connection): the peer
 * hears RESOURCE_EXHAUSTED (a server in a STATUS, a client in a CANCEL),
 * the owner an on_reset. */
static int oversize(weft__mxe *e, mxs *s, size_t n) {
  char why[128];
  uint64_t id = s->id;
  void *su = s->su;
  int rc;
  if (e->o.server) {
    snprintf(why, sizeof why,
             "request message of %zu bytes is over the "
             "server's limit of %zu",
             n, e->max_msg);
    rc = queue_status(e, id, WEFT_STATUS_RESOURCE_EXHAUSTED, why);
  } else {
    snprintf(why, sizeof why,
             "response message of %zu bytes is over the "
             "limit of %zu",
             n, e->max_msg);
    rc = queue_cancel(e, id, WEFT_STATUS_RESOURCE_EXHAUSTED, why);
  }
  drop(e, id);
  if (rc < 0)
    return rc;
  const weft__bytes m = {(const uint8_t *)why, strlen(why)};
  return e->cb.on_reset
             ? e->cb.on_reset(e->o.ud, id, su, WEFT_STATUS_RESOURCE_EXHAUSTED,
                              &m, false)
             : 0;
}

static int on_open(weft__mxe *e, const weft__env *env, int64_t now,
                   weft_error *err) {
  uint64_t id = env->stream_id;
  if (!e->o.server)
    return weft_error_set(err, WEFT_ERR_PROTOCOL,
                          "OPEN from the server (stream %llu)",
                          (unsigned long long)id);
  if (!(id & 1))
    return weft_error_set(err, WEFT_ERR_PROTOCOL,
                          "OPEN on stream %llu: client streams are odd",
                          (unsigned long long)id);
  if (find(e, id))
    return weft_error_set(err, WEFT_ERR_PROTOCOL,
                          "OPEN on stream %llu, which is already open",
                          (unsigned long long)id);
  if (e->goaway_tx) /* refused, not an error: the client may retry */
    return queue_status(e, id, WEFT_STATUS_UNAVAILABLE,
                        "server is shutting down");
  if (env->has_payload && env->payload.n > e->max_msg) {
    char why[128];
    snprintf(why, sizeof why,
             "request message of %zu bytes is over the "
             "server's limit of %zu",
             env->payload.n, e->max_msg);
    return queue_status(e, id, WEFT_STATUS_RESOURCE_EXHAUSTED, why);
  }
  mxs *s = add(e, id);
  if (!s)
    return WEFT_ERR_NOMEM;
  s->opened = true;
  if (env->timeout_ms > 0)
    s->deadline = env->timeout_ms > (INT64_MAX - now) / 1000000
                      ? INT64_MAX
                      : now + env->timeout_ms * 1000000;
  return e->cb.on_open ? e->cb.on_open(e->o.ud, id, env) : 0;
}

static int on_stream(weft__mxe *e, const weft__env *env, weft_error *err) {
  uint64_t id = env->stream_id;
  int32_t k = env->kind;
  bool server = e->o.server;
  if ((server && (k == WEFT__FK_HEADERS || k == WEFT__FK_STATUS)) ||
      (!server && k == WEFT__FK_HALF_CLOSE))
    return weft_error_set(err, WEFT_ERR_PROTOCOL,
                          "%s from the %s on stream %llu", kind_name(k),
                          server ? "client" : "server", (unsigned long long)id);
  mxs *s = find(e, id);
  if (!s)
    return 0;     /* ended here already: a late frame (or a stray one) */
  if (!s->opened) /* only a client has streams it has not opened */
    return weft_error_set(err, WEFT_ERR_PROTOCOL,
                          "%s on stream %llu, which the client has not opened",
                          kind_name(k), (unsigned long long)id);
  void *su = s->su;
  switch (k) {
  case WEFT__FK_MESSAGE:
    if (server && s->half_closed)
      return weft_error_set(err, WEFT_ERR_PROTOCOL,
                            "MESSAGE on stream %llu after its HALF_CLOSE",
                            (unsigned long long)id);
    if (env->payload.n > e->max_msg)
      return oversize(e, s, env->payload.n);
    return e->cb.on_message ? e->cb.on_message(e->o.ud, id, su, &env->payload)
                            : 0;
  case WEFT__FK_HALF_CLOSE:
    if (s->half_closed)
      return weft_error_set(err, WEFT_ERR_PROTOCOL,
                            "second HALF_CLOSE on stream %llu",
                            (unsigned long long)id);
    s->half_closed = true;
    return e->cb.on_half_close ? e->cb.on_half_close(e->o.ud, id, su) : 0;
  case WEFT__FK_HEADERS:
    return e->cb.on_headers ? e->cb.on_headers(e->o.ud, id, su, env) : 0;
  case WEFT__FK_STATUS:
    if (env->has_payload && env->payload.n > e->max_msg) {
      /* The stream is over anyway: the call fails, nothing is sent. */
      char why[128];
      snprintf(why, sizeof why,
               "response message of %zu bytes is over the "
               "limit of %zu",
               env->payload.n, e->max_msg);
      drop(e, id);
      const weft__bytes m = {(const uint8_t *)why, strlen(why)};
      return e->cb.on_reset
                 ? e->cb.on_reset(e->o.ud, id, su,
                                  WEFT_STATUS_RESOURCE_EXHAUSTED, &m, false)
                 : 0;
    }
    drop(e, id);
    return e->cb.on_status ? e->cb.on_status(e->o.ud, id, su, env) : 0;
  case WEFT__FK_CANCEL:
    drop(e, id);
    return e->cb.on_reset
               ? e->cb.on_reset(e->o.ud, id, su,
                                env->status_code ? env->status_code
                                                 : WEFT_STATUS_CANCELLED,
                                &env->status_message, true)
               : 0;
  default:
    return 0; /* unknown kinds: forward compatibility */
  }
}

static int on_conn(weft__mxe *e, const weft__env *env, weft_error *err) {
  switch (env->kind) {
  case WEFT__FK_PING: {
    weft__env_out o = {.kind = WEFT__FK_PONG,
                       .has_payload = true,
                       .payload = env->payload.p,
                       .payload_len = env->payload.n};
    int rc = queue_env(e, &o);
    if (rc < 0)
      return rc == WEFT_ERR_TOO_BIG
                 ? weft_error_set(err, WEFT_ERR_PROTOCOL,
                                  "PING payload of %zu bytes", env->payload.n)
                 : rc;
    if (e->cb.on_ping)
      e->cb.on_ping(e->o.ud, &env->payload);
    return 0;
  }
  case WEFT__FK_PONG:
    if (e->cb.on_pong)
      e->cb.on_pong(e->o.ud, &env->payload);
    return 0;
  case WEFT__FK_GOAWAY:
    e->goaway_rx = true;
    if (e->cb.on_goaway)
      e->cb.on_goaway(e->o.ud, env->has_status ? env->status_code : 0,
                      env->has_status ? &env->status_message : &no_bytes);
    return 0;
  case WEFT__FK_OPEN:
  case WEFT__FK_MESSAGE:
  case WEFT__FK_HALF_CLOSE:
  case WEFT__FK_HEADERS:
  case WEFT__FK_STATUS:
  case WEFT__FK_CANCEL:
    return weft_error_set(err, WEFT_ERR_PROTOCOL,
                          "%s on stream 0, which is the connection",
                          kind_name(env->kind));
  default:
    return 0;
  }
}

int weft__mxe_feed(weft__mxe *e, const uint8_t *data, size_t len, bool text,
                   int64_t now_ns, weft_error *err) {
  weft_error local;
  weft__env env;
  uint8_t *scratch = NULL;
  int rc;
  if (!err)
    err = &local;
  err->code = 0;
  if (e->dead)
    return weft_error_set(err, WEFT_ERR_CLOSED,
                          "envelope after a connection error");
  if (text != e->o.text) {
    rc = weft_error_set(err, WEFT_ERR_PROTOCOL, "%s frame on a %s connection",
                        text ? "text" : "binary", text ? "binary" : "JSON");
    goto out;
  }
  rc = text ? weft__env_json_decode(&env, data, len, &scratch, err)
            : weft__env_decode(&env, data, len, err);
  if (rc < 0)
    goto out;
  if (env.stream_id == 0)
    rc = on_conn(e, &env, err);
  else if (env.kind == WEFT__FK_OPEN)
    rc = on_open(e, &env, now_ns, err);
  else if (env.kind == WEFT__FK_PING || env.kind == WEFT__FK_PONG ||
           env.kind == WEFT__FK_GOAWAY)
    rc = 0; /* connection frames on a stream: nothing to do */
  else
    rc = on_stream(e, &env, err);
out:
  free(scratch);
  if (rc < 0) {
    e->dead = true;
    if (err->code != rc) /* a code without a message (NOMEM, a callback) */
      weft_error_set(err, rc, "envelope: %s", weft_strerror(rc));
  }
  return rc < 0 ? rc : 0;
}
