/* The server core: services, listeners, dispatch onto the worker pool, API
 * keys, graceful shutdown. Transports hand every incoming call to
 * weft_server_dispatch(); from there the call's life is:
 *   dispatch (transport thread): resolve method, check key, queue on pool
 *   run_call (worker): recv request, new response, invoke, send, finish
 * and ops->finish is called exactly once on every path. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "server_call.h"
#include "weft/base64.h"
#include "weft/loop.h"
#include "weft/codec.h"

typedef struct svc_entry {
  const weft_service_desc *desc;
  const void *impl;
  void *ctx;
  weft_server_generic_fn generic; /* instead of desc's invoke thunks */
} svc_entry;

typedef struct listener {
  const weft_server_transport *t;
  void *l;
  int port;
} listener;

enum { SRV_RUNNING = 0, SRV_DRAINING, SRV_DONE };

struct weft_server {
  weft_server_opts opts;
  char **keys; /* deep copy of opts.api_keys */
  pthread_rwlock_t svc_lock;
  svc_entry *svcs;
  size_t nsvcs, capsvcs;

  pthread_mutex_t mu;
  pthread_cond_t cv;
  listener *ls;
  size_t nls, capls;
  int state;
  size_t inflight;
  weft_server_call *calls;
  bool shutting; /* someone runs weft_server_shutdown */

  weft__pool *pool;
  weft__async *as;
  weft__pubsub *ps;
  uint64_t id; /* weft_server_id(): never reused in the process */
};

/* ---- logging ---- */

void weft__server_log(const weft_server *s, int level, const char *fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (s && s->opts.log) {
    s->opts.log(level, line, s->opts.log_ud);
  } else if (level >= 1) { /* 0 debug, 1 info, 2 warning, 3 error */
    fprintf(stderr, "weft: %s\n", line);
  }
}

/* ---- construction ---- */

static char *dupstr(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d)
    memcpy(d, s, n);
  return d;
}

int weft_server_new(weft_server **out, const weft_server_opts *opts) {
  static _Atomic uint64_t next_id;
  weft_server *s = calloc(1, sizeof *s);
  if (!s)
    return WEFT_ERR_NOMEM;
  s->id = atomic_fetch_add(&next_id, 1) + 1;
  if (opts)
    s->opts = *opts;
  if (s->opts.worker_threads == 0) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    s->opts.worker_threads = n > 2 ? (unsigned)(2 * n) : 4;
  }
  if (s->opts.max_pending_calls == 0)
    s->opts.max_pending_calls = 1024;
  if (s->opts.max_message_size == 0)
    s->opts.max_message_size = 4u << 20;
  if (s->opts.shutdown_grace_ms <= 0)
    s->opts.shutdown_grace_ms = 5000;
  int rv = WEFT_ERR_NOMEM;
  if (opts && opts->api_keys) {
    size_t n = 0;
    while (opts->api_keys[n])
      n++;
    s->keys = calloc(n + 1, sizeof *s->keys);
    if (!s->keys)
      goto fail;
    for (size_t i = 0; i < n; i++)
      if (!(s->keys[i] = dupstr(opts->api_keys[i])))
        goto fail;
    s->opts.api_keys = (const char *const *)s->keys;
  }
  pthread_rwlock_init(&s->svc_lock, NULL);
  pthread_mutex_init(&s->mu, NULL);
  weft__cond_init(&s->cv);
  rv = weft__pool_new(&s->pool, s->opts.worker_threads,
                      s->opts.max_pending_calls);
  if (rv < 0)
    goto fail_sync;
  rv = weft__async_new(&s->as, s, s->pool);
  if (rv < 0)
    goto fail_pool;
#ifdef WEFT_HAVE_PROTO
  weft_error e;
  weft_error_clear(&e);
  rv = weft__pubsub_new(&s->ps, s, opts, &e);
  if (rv < 0) {
    weft__server_log(s, 3, "%s", e.message[0] ? e.message : weft_strerror(rv));
    goto fail_async;
  }
  rv = weft__pubsub_add(s);
  if (rv < 0)
    goto fail_pubsub;
#endif
  *out = s;
  return 0;

#ifdef WEFT_HAVE_PROTO
fail_pubsub:
  weft__pubsub_free(s->ps);
fail_async:
#endif
  weft__async_free(s->as);
fail_pool:
  weft__pool_free(s->pool);
fail_sync:
  pthread_cond_destroy(&s->cv);
  pthread_mutex_destroy(&s->mu);
  pthread_rwlock_destroy(&s->svc_lock);
fail:
  if (s->keys)
    for (size_t i = 0; s->keys[i]; i++)
      free(s->keys[i]);
  free(s->keys);
  free(s);
  return rv;
}

weft__pubsub *weft__server_pubsub(weft_server *s) {
  return s->ps;
}

weft__async *weft__server_async(weft_server *s) {
  return s->as;
}

weft__pool *weft__server_pool(weft_server *s) {
  return s->pool;
}

static int add_service(weft_server *s, const weft_service_desc *svc,
                       const void *impl, void *ctx,
                       weft_server_generic_fn generic) {
  if (!s || !svc || !svc->name)
    return WEFT_ERR_INVAL;
  int rv = 0;
  pthread_rwlock_wrlock(&s->svc_lock);
  for (size_t i = 0; i < s->nsvcs; i++) {
    if (strcmp(s->svcs[i].desc->name, svc->name) == 0) {
      rv = WEFT_ERR_STATE; /* one implementation per service name */
      goto out;
    }
  }
  if (s->nsvcs == s->capsvcs) {
    size_t cap = s->capsvcs ? s->capsvcs * 2 : 8;
    svc_entry *n = realloc(s->svcs, cap * sizeof *n);
    if (!n) {
      rv = WEFT_ERR_NOMEM;
      goto out;
    }
    s->svcs = n;
    s->capsvcs = cap;
  }
  s->svcs[s->nsvcs++] = (svc_entry){svc, impl, ctx, generic};
out:
  pthread_rwlock_unlock(&s->svc_lock);
  /* Run-time descriptors may be freed after the server: the process-wide
   * list of files (Any resolution in pub/sub) must not keep them. */
  if (rv == 0 && !generic)
    weft__note_file(svc->file);
  return rv;
}

int weft_server_add_service(weft_server *s, const weft_service_desc *svc,
                            const void *impl, void *ctx) {
  return add_service(s, svc, impl, ctx, NULL);
}

int weft_server_add_generic_service(weft_server *s,
                                    const weft_service_desc *svc,
                                    weft_server_generic_fn fn, void *ud) {
  if (!fn)
    return WEFT_ERR_INVAL;
  return add_service(s, svc, NULL, ud, fn);
}

/* Looks the method up; also yields its service's impl and ctx. */
static const weft_method_desc *find_method(weft_server *s, const char *path,
                                           const void **impl, void **ctx,
                                           weft_server_generic_fn *generic) {
  const weft_method_desc *r = NULL;
  if (!path || path[0] != '/')
    return NULL;
  const char *slash = strchr(path + 1, '/');
  if (!slash)
    return NULL;
  size_t svc_len = (size_t)(slash - path - 1);
  pthread_rwlock_rdlock(&s->svc_lock);
  for (size_t i = 0; i < s->nsvcs && !r; i++) {
    const weft_service_desc *d = s->svcs[i].desc;
    if (strncmp(d->name, path + 1, svc_len) != 0 || d->name[svc_len])
      continue;
    for (unsigned j = 0; j < d->n_methods; j++) {
      if (strcmp(d->methods[j].name, slash + 1) == 0) {
        r = &d->methods[j];
        if (impl)
          *impl = s->svcs[i].impl;
        if (ctx)
          *ctx = s->svcs[i].ctx;
        if (generic)
          *generic = s->svcs[i].generic;
        break;
      }
    }
  }
  pthread_rwlock_unlock(&s->svc_lock);
  return r;
}

const weft_method_desc *weft_server_find_method(const weft_server *s,
                                                const char *path) {
  return find_method((weft_server *)s, path, NULL, NULL, NULL);
}

const weft_server_opts *weft_server_get_opts(const weft_server *s) {
  return &s->opts;
}

uint64_t weft_server_id(const weft_server *s) {
  return s ? s->id : 0;
}

/* ---- listening ---- */

int weft_server_listen(weft_server *s, const char *url, weft_error *err) {
  if (!s || !url)
    return weft_error_set(err, WEFT_ERR_INVAL, "weft_server_listen: NULL");
  weft_transports_init();
  weft_url u;
  int rv = weft_url_parse(url, &u, err);
  if (rv < 0)
    return rv;
  const weft_server_transport *t = weft_find_server_transport(u.scheme);
  if (!t)
    return weft_error_set(err, WEFT_ERR_UNKNOWN_SCHEME,
                          "listen %s: no transport for scheme \"%s\"", url,
                          u.scheme);
  if (u.port < 0)
    u.port = t->default_port;
  /* A struct without a tag in transport_opts would be misread by the
   * transport it is not meant for: refuse it here, for every transport. */
  char what[300];
  snprintf(what, sizeof what, "listen %.200s: transport_opts", url);
  rv = weft_opts_check(s->opts.transport_opts, what, err);
  if (rv < 0)
    return rv;
  pthread_mutex_lock(&s->mu);
  bool ok = s->state == SRV_RUNNING && !s->shutting;
  pthread_mutex_unlock(&s->mu);
  if (!ok)
    return weft_error_set(err, WEFT_ERR_STATE, "listen %s: server is shut down",
                          url);
  void *l = NULL;
  int port = -1;
  weft_error e2;
  weft_error_clear(&e2);
  rv = t->listen(s, &u, &s->opts, &l, &port, err ? err : &e2);
  if (rv < 0)
    return rv;
  pthread_mutex_lock(&s->mu);
  if (s->nls == s->capls) {
    size_t cap = s->capls ? s->capls * 2 : 4;
    listener *n = realloc(s->ls, cap * sizeof *n);
    if (!n) {
      pthread_mutex_unlock(&s->mu);
      t->stop_accepting(l);
      t->close(l);
      return weft_error_set(err, WEFT_ERR_NOMEM, "listen %s: out of memory",
                            url);
    }
    s->ls = n;
    s->capls = cap;
  }
  s->ls[s->nls++] = (listener){t, l, port};
  /* Listeners share the worker pool's queue: from the second one on, calls
   * of one transport may hold at most 3/4 of max_pending_calls, so a flood
   * on one cannot starve the others (docs/ARCHITECTURE.md). */
  if (s->nls == 2) {
    size_t q = s->opts.max_pending_calls;
    weft__pool_set_share(s->pool, q - q / 4);
  }
  pthread_mutex_unlock(&s->mu);
  /* The URL a client can dial: the bound port, not the ":0" asked for. */
  bool v6 = strchr(u.host, ':') != NULL;
  weft__server_log(
      s, 1, v6 ? "listening on %s://[%s]:%d%s" : "listening on %s://%s:%d%s",
      u.scheme, u.host[0] ? u.host : "0.0.0.0", port, u.path);
  return 0;
}

int weft_server_port(const weft_server *s, unsigned n) {
  weft_server *m = (weft_server *)s;
  pthread_mutex_lock(&m->mu);
  int p = n < m->nls ? m->ls[n].port : -1;
  pthread_mutex_unlock(&m->mu);
  return p;
}

/* ---- calls ---- */

static void call_free(weft_server_call *call) {
  pthread_mutex_destroy(&call->amu);
  weft_metadata_clear(&call->md);
  weft_metadata_clear(&call->headers);
  weft_metadata_clear(&call->trailers);
  weft_arena_free(call->arena);
  free(call->peer);
  free(call->status_msg);
  free(call);
}

/* Sends the final status, unlinks and frees the call. */
static void complete(weft_server_call *call, int code, const char *msg) {
  weft_server *s = call->srv;
  weft_status st = {code, (char *)(msg ? msg : call->status_msg), NULL, 0};
  if (code != WEFT_STATUS_OK && call->details) {
    st.details = call->details;
    st.details_len = call->details_len;
  }
  call->ops->finish(call->tc, &st, call->headers_sent ? NULL : &call->headers,
                    &call->trailers);
  pthread_mutex_lock(&s->mu);
  if (call->prev)
    call->prev->next = call->next;
  else
    s->calls = call->next;
  if (call->next)
    call->next->prev = call->prev;
  s->inflight--;
  /* Only shutdown waits for inflight to drop (it sets shutting under mu
   * first); waking weft_server_run's thread on every call cost a context
   * switch per call. */
  if (s->shutting)
    pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
  call_free(call);
}

/* Rejects a call that never got a weft_server_call object. */
static void reject(const weft_server_call_ops *ops, void *tc, int code,
                   const char *msg) {
  weft_status st = {code, (char *)msg, NULL, 0};
  ops->finish(tc, &st, NULL, NULL);
}

static bool deadline_passed(const weft_server_call *call) {
  return call->deadline_ns != INT64_MAX && weft_now_ns() >= call->deadline_ns;
}

static void run_call(void *arg) {
  weft_server_call *call = arg;
  const weft_method_desc *m = call->method;
  void *req = NULL, *resp = NULL;
  int code;
  char buf[200];

  if (atomic_load(&call->rt_cancelled) || atomic_load(&call->peer_cancelled) ||
      call->ops->cancelled(call->tc)) {
    complete(call, WEFT_STATUS_CANCELLED, "call cancelled before it ran");
    return;
  }
  if (deadline_passed(call)) {
    complete(call, WEFT_STATUS_DEADLINE_EXCEEDED,
             "deadline passed while the call waited for a worker");
    return;
  }
  if (m->kind == WEFT_RPC_UNARY || m->kind == WEFT_RPC_SERVER_STREAM) {
    int r = call->ops->recv(call->tc, call->arena, &req);
    if (r == 0) {
      complete(call, WEFT_STATUS_INVALID_ARGUMENT,
               "the client sent no request message");
      return;
    }
    if (r < 0) {
      code = weft__status_from_error(r, true);
      if (call->ops->cancelled(call->tc))
        code = WEFT_STATUS_CANCELLED;
      const char *why =
          call->ops->recv_error ? call->ops->recv_error(call->tc) : NULL;
      snprintf(buf, sizeof buf, "%s: request: %s", m->path,
               why && *why ? why : weft_strerror(r));
      complete(call, code, buf);
      return;
    }
  }
  if (m->kind == WEFT_RPC_UNARY || m->kind == WEFT_RPC_CLIENT_STREAM) {
    resp = weft_message_new(m->output, call->arena);
    if (!resp) {
      complete(call, WEFT_STATUS_RESOURCE_EXHAUSTED,
               "out of memory for the response");
      return;
    }
  }
  call->resp = resp;
  if (call->generic)
    code = call->generic(call, req, resp, call->ctx);
  else
    code = m->invoke ? m->invoke(call->impl, call, req, resp, call->ctx)
                     : WEFT_STATUS_UNIMPLEMENTED;
  if (call->detached) {
    weft__async_handler_returned(call); /* the call ends later */
    return;
  }
  weft__server_call_end(call, code);
}

/* The end of every call that got a handler, blocking or detached. */
void weft__server_call_end(weft_server_call *call, int code) {
  const weft_method_desc *m = call->method;
  char buf[160];
  if (code < 0 || code > WEFT_STATUS_UNAUTHENTICATED)
    code = WEFT_STATUS_UNKNOWN;
  /* A handler that gave up because cancelled() turned true at the deadline
   * reports CANCELLED; the client must still see DEADLINE_EXCEEDED. */
  if ((code == WEFT_STATUS_OK || code == WEFT_STATUS_CANCELLED) &&
      deadline_passed(call)) {
    complete(call, WEFT_STATUS_DEADLINE_EXCEEDED,
             code == WEFT_STATUS_OK ? "the handler finished after the deadline"
                                    : "deadline exceeded");
    return;
  }
  if (code == WEFT_STATUS_OK && atomic_load(&call->rt_cancelled)) {
    complete(call, WEFT_STATUS_CANCELLED, "server shutting down");
    return;
  }
  if (code == WEFT_STATUS_OK && call->resp) {
    int r = call->ops->send(call->tc, call->resp,
                            call->headers_sent ? NULL : &call->headers);
    call->headers_sent = true;
    if (r < 0) {
      snprintf(buf, sizeof buf, "%s: sending the response: %s", m->path,
               weft_strerror(r));
      complete(call, weft__status_from_error(r, true), buf);
      return;
    }
  }
  if (code == WEFT_STATUS_UNIMPLEMENTED &&
      (!call->status_msg || !*call->status_msg)) {
    /* The generated thunk answers this for a method the service's impl
     * table leaves NULL: say which, rather than an empty message. */
    snprintf(buf, sizeof buf, "%s is not implemented by this server", m->path);
    complete(call, code, buf);
    return;
  }
  complete(call, code, NULL);
}

/* Puts a call on the worker pool, or answers it when the pool is full. */
static void queue_call(void *arg) {
  weft_server_call *call = arg;
  weft_server *s = call->srv;
  if (weft__pool_submit_from(s->pool, call->ops, run_call, call) < 0) {
    weft__server_log(s, 2, "%s from %s rejected: all workers busy",
                     call->method->path, call->peer ? call->peer : "?");
    complete(call, WEFT_STATUS_RESOURCE_EXHAUSTED,
             "server overloaded: every worker is busy and the queue is full");
  }
}

/* Constant time in the key's length, so timing tells nothing about it. */
static bool key_equal(const char *key, const uint8_t *v, size_t len) {
  size_t kl = strlen(key);
  unsigned char diff = kl != len;
  for (size_t i = 0; i < kl; i++)
    diff |= (unsigned char)key[i] ^ (i < len ? v[i] : 0);
  return diff == 0;
}

static bool key_ok(const weft_server *s, const weft_metadata *md) {
  if (!s->keys)
    return true;
  const uint8_t *v = NULL;
  size_t len = 0;
  const weft_metadata_entry *e = weft_metadata_get(md, "x-api-key");
  if (e) {
    v = e->value;
    len = e->value_len;
  } else if ((e = weft_metadata_get(md, "authorization")) && e->value_len > 7 &&
             strncasecmp((char *)e->value, "Bearer ", 7) == 0) {
    v = e->value + 7;
    len = e->value_len - 7;
  }
  if (v) {
    bool ok = false;
    for (size_t i = 0; s->keys[i]; i++)
      ok |= key_equal(s->keys[i], v, len);
    return ok;
  }
  /* HTTP basic auth (RFC 7617), as the AITBC SDK can send it: the key is
   * the password, or the user name with an empty password. */
  if (!e || e->value_len <= 6 || e->value_len > 1024 ||
      strncasecmp((char *)e->value, "Basic ", 6) != 0)
    return false;
  uint8_t dec[WEFT_BASE64_DECODED_MAX(1024)];
  long n =
      weft_base64_decode((const char *)e->value + 6, e->value_len - 6, dec);
  const uint8_t *colon = n > 0 ? memchr(dec, ':', (size_t)n) : NULL;
  if (!colon)
    return false;
  size_t ul = (size_t)(colon - dec), pl = (size_t)n - ul - 1;
  bool ok = false;
  for (size_t i = 0; s->keys[i]; i++)
    ok |= pl ? key_equal(s->keys[i], colon + 1, pl)
             : key_equal(s->keys[i], dec, ul);
  return ok;
}

/* Takes ownership of (ops, tc): ops->finish will have been called exactly
 * once by the time the call is over, possibly before this returns (unknown
 * method, bad key, overload). Returns < 0 without calling finish for bad
 * arguments and while shutting down. */
static int dispatch(weft_server *s, const char *path, const weft_metadata *md,
                    int64_t deadline_ns, const char *peer,
                    const weft_server_call_ops *ops, void *tc, bool now);

int weft_server_dispatch(weft_server *s, const char *path,
                         const weft_metadata *md, int64_t deadline_ns,
                         const char *peer, const weft_server_call_ops *ops,
                         void *tc) {
  return dispatch(s, path, md, deadline_ns, peer, ops, tc, false);
}

/* The same, but the handler runs on the calling thread. */
int weft_server_dispatch_inline(weft_server *s, const char *path,
                                const weft_metadata *md, int64_t deadline_ns,
                                const char *peer,
                                const weft_server_call_ops *ops, void *tc) {
  return dispatch(s, path, md, deadline_ns, peer, ops, tc, true);
}

static int dispatch(weft_server *s, const char *path, const weft_metadata *md,
                    int64_t deadline_ns, const char *peer,
                    const weft_server_call_ops *ops, void *tc, bool now) {
  if (!s || !ops || !ops->recv || !ops->send || !ops->finish || !ops->cancelled)
    return WEFT_ERR_INVAL;
  char buf[320];
  const void *impl = NULL;
  void *ctx = NULL;
  weft_server_generic_fn generic = NULL;
  const weft_method_desc *m = find_method(s, path, &impl, &ctx, &generic);
  if (!m) {
    snprintf(buf, sizeof buf, "unknown method %.256s", path ? path : "(null)");
    reject(ops, tc, WEFT_STATUS_UNIMPLEMENTED, buf);
    return 0;
  }
  if (!key_ok(s, md)) {
    reject(
        ops, tc, WEFT_STATUS_UNAUTHENTICATED,
        "missing or wrong API key (x-api-key, authorization: Bearer, or basic "
        "auth with the key as password)");
    return 0;
  }
  /* A small first arena block: an open stream keeps its call, and most
   * requests are small (larger allocations get blocks of their own). */
  weft_server_call *call = calloc(1, sizeof *call);
  if (call)
    pthread_mutex_init(&call->amu, NULL);
  if (!call || weft_arena_new(&call->arena, 2048) < 0 ||
      (peer && !(call->peer = dupstr(peer))) ||
      weft_metadata_copy(&call->md, md) < 0) {
    if (call)
      call_free(call);
    reject(ops, tc, WEFT_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    return 0;
  }
  call->srv = s;
  call->method = m;
  call->impl = impl;
  call->ctx = ctx;
  call->generic = generic;
  call->deadline_ns = deadline_ns > 0 ? deadline_ns : INT64_MAX;
  call->ops = ops;
  call->tc = tc;
  atomic_init(&call->rt_cancelled, false);
  atomic_init(&call->peer_cancelled, false);
  atomic_init(&call->read_end, 0);

  pthread_mutex_lock(&s->mu);
  if (s->state != SRV_RUNNING || s->shutting) {
    pthread_mutex_unlock(&s->mu);
    call_free(call);
    return WEFT_ERR_STATE; /* the transport answers it (UNAVAILABLE) */
  }
  call->next = s->calls;
  if (s->calls)
    s->calls->prev = call;
  s->calls = call;
  s->inflight++;
  pthread_mutex_unlock(&s->mu);
  if (ops->bind) { /* from here on the transport may push cancellation */
    call->can_push = true;
    ops->bind(tc, call);
  }

  if (now) {
    run_call(call);
    return 0;
  }
  /* On a loop with a parked standby, this thread runs the call itself after
   * the loop round and a standby takes the loop: one thread wake-up fewer
   * on the call's path than a hand-off to a worker (loop.h). */
  weft_loop *lp = weft_loop_current();
  if (lp && weft_loop_defer(lp, run_call, queue_call, call) == 0)
    return 0;
  queue_call(call);
  return 0;
}

/* ---- running and shutdown ---- */

int weft_server_run(weft_server *s) {
  pthread_mutex_lock(&s->mu);
  while (s->state != SRV_DONE)
    pthread_cond_wait(&s->cv, &s->mu);
  pthread_mutex_unlock(&s->mu);
  return 0;
}

void weft_server_shutdown(weft_server *s) {
  if (!s)
    return;
  pthread_mutex_lock(&s->mu);
  if (s->shutting) {
    /* Someone else is shutting down: wait for them, like they do. */
    while (s->state != SRV_DONE)
      pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
    return;
  }
  s->shutting = true;
  s->state = SRV_DRAINING;
  size_t nls = s->nls;
  pthread_mutex_unlock(&s->mu);

  /* 1. No new connections anywhere (s->ls only grows under listen, which
   *    refuses once shutting is set). */
  for (size_t i = 0; i < nls; i++)
    if (s->ls[i].t->stop_accepting)
      s->ls[i].t->stop_accepting(s->ls[i].l);
  /* 2. Subscriptions never end by themselves: end them now. */
  if (s->ps)
    weft__pubsub_shutdown(s->ps);
  /* 3. In-flight calls get the grace period. */
  int64_t until = weft_now_ns() + s->opts.shutdown_grace_ms * 1000000;
  pthread_mutex_lock(&s->mu);
  while (s->inflight > 0 && weft_now_ns() < until)
    weft__cond_wait_until(&s->cv, &s->mu, until);
  /* 4. Then they are cancelled: handlers polling
   *    weft_server_call_cancelled() see it, blocked ones are woken by the
   *    transports closing their connections below. */
  size_t left = s->inflight;
  for (weft_server_call *c = s->calls; c; c = c->next)
    atomic_store(&c->rt_cancelled, true);
  pthread_mutex_unlock(&s->mu);
  weft__async_cancel_all(s->as); /* on_cancel for the detached ones */
  if (left)
    weft__server_log(s, 2, "shutdown: cancelling %zu calls still running",
                     left);
  for (size_t i = 0; i < nls; i++)
    s->ls[i].t->close(s->ls[i].l);
  /* 5. Transports have let go of every call; wait for the handlers that
   *    were still unwinding, then stop the workers. */
  pthread_mutex_lock(&s->mu);
  while (s->inflight > 0)
    pthread_cond_wait(&s->cv, &s->mu);
  pthread_mutex_unlock(&s->mu);
  weft__async_free(s->as);
  s->as = NULL;
  weft__pool_free(s->pool);
  s->pool = NULL;
  pthread_mutex_lock(&s->mu);
  s->state = SRV_DONE;
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
}

void weft_server_free(weft_server *s) {
  if (!s)
    return;
  weft_server_shutdown(s);
  weft__pubsub_free(s->ps);
  free(s->ls);
  free(s->svcs);
  if (s->keys)
    for (size_t i = 0; s->keys[i]; i++)
      free(s->keys[i]);
  free(s->keys);
  pthread_rwlock_destroy(&s->svc_lock);
  pthread_cond_destroy(&s->cv);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

int weft_server_publish(weft_server *s, const char *topic, const void *msg) {
  if (!s || !topic || !msg)
    return WEFT_ERR_INVAL;
  if (!s->ps)
    return WEFT_ERR_UNSUPPORTED;
  return weft__pubsub_publish(s->ps, topic, msg, NULL);
}

/* ---- handler-side accessors ---- */

const weft_method_desc *weft_server_call_method(const weft_server_call *call) {
  return call->method;
}
const weft_metadata *weft_server_call_metadata(const weft_server_call *call) {
  return &call->md;
}
const char *weft_server_call_peer(const weft_server_call *call) {
  return call->peer ? call->peer : "";
}
int64_t weft_server_call_deadline(const weft_server_call *call) {
  return call->deadline_ns;
}
bool weft_server_call_cancelled(const weft_server_call *call) {
  return atomic_load(&call->rt_cancelled) ||
         atomic_load(&call->peer_cancelled) || deadline_passed(call) ||
         call->ops->cancelled(call->tc);
}

int weft_server_call_recv(weft_server_call *call, void **msg) {
  if (!call || !msg)
    return WEFT_ERR_INVAL;
  if (atomic_load(&call->rt_cancelled))
    return WEFT_ERR_CANCELLED;
  return call->ops->recv(call->tc, call->arena, msg);
}

int weft_server_call_recv_owned(weft_server_call *call, void **msg) {
  if (!call || !msg)
    return WEFT_ERR_INVAL;
  if (atomic_load(&call->rt_cancelled))
    return WEFT_ERR_CANCELLED;
  return call->ops->recv(call->tc, NULL, msg); /* NULL arena: malloc */
}

int weft_server_call_send(weft_server_call *call, const void *msg) {
  if (!call || !msg)
    return WEFT_ERR_INVAL;
  /* Every weft message starts with protobuf-c's base, which names its
   * type: another type than the method's would reach the client as
   * garbage. */
  if (call->method->output && ((const ProtobufCMessage *)msg)->descriptor !=
                                  &call->method->output->base)
    return WEFT_ERR_INVAL;
  if (call->detached)
    return weft__async_send(call, msg);
  if (atomic_load(&call->rt_cancelled) || atomic_load(&call->peer_cancelled))
    return WEFT_ERR_CANCELLED;
  int r = call->ops->send(call->tc, msg,
                          call->headers_sent ? NULL : &call->headers);
  call->headers_sent = true;
  return r;
}

int weft_server_call_add_header(weft_server_call *call, const char *key,
                                const void *value, size_t len) {
  if (call->detached) {
    /* The drain job reads the headers once it writes the first message. */
    pthread_mutex_lock(&call->amu);
    int rv =
        call->headers_sent || weft__txq_len(&call->sendq) || call->finishing
            ? WEFT_ERR_STATE
            : weft_metadata_add(&call->headers, key, value, len);
    pthread_mutex_unlock(&call->amu);
    return rv;
  }
  if (call->headers_sent)
    return WEFT_ERR_STATE; /* already on the wire */
  return weft_metadata_add(&call->headers, key, value, len);
}

int weft_server_call_add_trailer(weft_server_call *call, const char *key,
                                 const void *value, size_t len) {
  return weft_metadata_add(&call->trailers, key, value, len);
}

int weft_server_call_set_compression(weft_server_call *call,
                                     weft_compression mode) {
  if (!call || (mode != WEFT_COMPRESSION_DEFAULT &&
                mode != WEFT_COMPRESSION_OFF && mode != WEFT_COMPRESSION_ON))
    return WEFT_ERR_INVAL;
  if (!call->ops->set_compression)
    return WEFT_ERR_UNSUPPORTED;
  return call->ops->set_compression(call->tc, mode);
}

int weft_server_call_set_details(weft_server_call *call, const void *details,
                                 size_t len) {
  if (!call || (!details && len))
    return WEFT_ERR_INVAL;
  uint8_t *copy = len ? weft_arena_alloc(call->arena, len) : NULL;
  if (len && !copy)
    return WEFT_ERR_NOMEM;
  if (len)
    memcpy(copy, details, len);
  call->details = copy;
  call->details_len = len;
  return 0;
}

void weft_server_call_set_message(weft_server_call *call, const char *fmt,
                                  ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  char *m = malloc((size_t)n + 1);
  if (!m)
    return;
  va_start(ap, fmt);
  vsnprintf(m, (size_t)n + 1, fmt, ap);
  va_end(ap);
  free(call->status_msg);
  call->status_msg = m;
}

weft_arena *weft_server_call_arena(weft_server_call *call) {
  return call->arena;
}

weft_server *weft_server_call_server(weft_server_call *call) {
  return call->srv;
}

/* Health and reflection list the services a server serves. */
void weft_server_each_service(const weft_server *s,
                              void (*fn)(const weft_service_desc *, void *),
                              void *ud) {
  if (!s || !fn)
    return;
  weft_server *w = (weft_server *)s; /* the lock is not part of the value */
  pthread_rwlock_rdlock(&w->svc_lock);
  for (size_t i = 0; i < w->nsvcs; i++)
    fn(w->svcs[i].desc, ud);
  pthread_rwlock_unlock(&w->svc_lock);
}
