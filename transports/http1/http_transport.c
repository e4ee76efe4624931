/* The http:// and https:// client transports: one URL scheme, three
 * protocols (weft/http.h), two HTTP versions.
 *
 *   protocol   http://                  https://
 *   connect    Connect over HTTP/1.1    ALPN h2: the h2 client (Connect over
 *                                       HTTP/2); http/1.1 or none: HTTP/1.1
 *   grpc-web   gRPC-Web over HTTP/1.1   gRPC-Web over HTTP/1.1 (TLS)
 *   grpc       grpc:// transport        ALPN h2 only: the h2 client (gRPC
 *                                       over HTTP/2); anything else fails
 *
 * The choice is made at each connect (a reconnect chooses again); each
 * connection handle and call handle carries the vtable that serves it, so
 * the calls below forward without looking anything up again. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../http2/h2_client.h"
#include "attempt.h"
#include "dial.h"
#include "h1c_internal.h"
#include "weft/http.h"

int weft_http_protocol_parse(const char *name, weft_http_protocol *out) {
  if (!name || !out)
    return WEFT_ERR_INVAL;
  if (strcasecmp(name, "connect") == 0)
    *out = WEFT_HTTP_CONNECT;
  else if (strcasecmp(name, "grpc-web") == 0)
    *out = WEFT_HTTP_GRPC_WEB;
  else if (strcasecmp(name, "grpc") == 0)
    *out = WEFT_HTTP_GRPC;
  else
    return WEFT_ERR_INVAL;
  return 0;
}

const char *weft_http_protocol_name(weft_http_protocol p) {
  switch (p) {
  case WEFT_HTTP_CONNECT:
    return "connect";
  case WEFT_HTTP_GRPC_WEB:
    return "grpc-web";
  case WEFT_HTTP_GRPC:
    return "grpc";
  }
  return "?";
}

/* A connection: an HTTP/1.1 pool, or another transport's connection. */
typedef struct hx_conn {
  const weft_client_transport *vt; /* NULL: the pool */
  void *inner;
  h1c_pool *pool;
} hx_conn;

typedef struct hx_call {
  const weft_client_transport *vt; /* NULL: an HTTP/1.1 call */
  void *inner;
} hx_call;

static int hx_protocol(const weft_client_opts *o, weft_http_protocol *proto,
                       weft_error *err) {
  const weft_http_client_opts *ho = NULL;
  int rv = weft_opts_get(o ? o->transport_opts : NULL,
                         WEFT_HTTP_CLIENT_OPTS_TAG, (const void **)&ho, err);
  if (rv < 0)
    return rv;
  *proto = ho ? ho->protocol : WEFT_HTTP_CONNECT;
  if (*proto != WEFT_HTTP_CONNECT && *proto != WEFT_HTTP_GRPC_WEB &&
      *proto != WEFT_HTTP_GRPC)
    return weft_error_set(err, WEFT_ERR_INVAL,
                          "weft_http_client_opts.protocol: %d is not a "
                          "protocol",
                          (int)*proto);
  return 0;
}

/* The TLS context of https:// (NULL for http://): Connect takes h2 if
 * offered, gRPC-Web is an HTTP/1.1 protocol here, gRPC needs HTTP/2 (so
 * offering http/1.1 would only turn a clear error into a confusing one). */
static int hx_tls(weft__tls_ctx **ctx, const weft_client_opts *o,
                  weft_http_protocol proto, bool tls, weft_error *err) {
  static const char *const alpn_both[] = {"h2", "http/1.1", NULL};
  static const char *const alpn_h1[] = {"http/1.1", NULL};
  static const char *const alpn_h2[] = {"h2", NULL};
  *ctx = NULL;
  if (!tls)
    return 0;
  return weft__tls_ctx_new(ctx, false, o ? &o->tls : NULL,
                           proto == WEFT_HTTP_CONNECT ? alpn_both
                           : proto == WEFT_HTTP_GRPC  ? alpn_h2
                                                      : alpn_h1,
                           err);
}

/* A connection over the first socket (taking first and ctx, also on
 * failure): h2 if ALPN picked it, else the HTTP/1.1 pool. */
static int hx_adopt(weft_client *client, const weft_url *url,
                    const weft_client_opts *o, weft__conn *first,
                    weft__tls_ctx *ctx, void **out, weft_error *err) {
  weft_http_protocol proto;
  int rv = hx_protocol(o, &proto, err);
  hx_conn *c = rv < 0 ? NULL : calloc(1, sizeof *c);
  if (!c) {
    weft__conn_close(first);
    weft__tls_ctx_free(ctx);
    return rv < 0 ? rv : weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
  }
  bool h2 = ctx && strcmp(weft__conn_alpn(first), "h2") == 0;
  if (proto == WEFT_HTTP_GRPC && !h2) {
    /* Only https:// gets here with gRPC, which has no HTTP/1.1 form. */
    const char *alpn = weft__conn_alpn(first);
    rv = weft_error_set(err, WEFT_ERR_HANDSHAKE,
                        "https://%s:%d: the server did not pick HTTP/2 "
                        "(ALPN h2; it picked %s), which gRPC needs",
                        url->host, url->port > 0 ? url->port : 443,
                        alpn[0] ? alpn : "none");
    weft__conn_close(first);
    weft__tls_ctx_free(ctx);
  } else if (h2) {
    c->vt = &weft__h2c_client_transport;
    rv = weft__h2_client_adopt(client, url, o, first, ctx, &c->inner, err);
  } else {
    rv = weft__h1c_pool_new(&c->pool, client, url, o, proto, ctx, first, err);
    if (rv == 0)
      weft_client_notify(client, WEFT_CONN_CONNECTED, NULL);
  }
  if (rv < 0) {
    free(c);
    return rv;
  }
  *out = c;
  return 0;
}

/* The gRPC transport (gRPC core) to the same host and port: http:// with
 * protocol grpc (weft's HTTP/1.1 client has no h2c upgrade; h2c:// is
 * weft's own HTTP/2 client). */
static int hx_connect_grpc(weft_client *client, const weft_url *url,
                           const weft_client_opts *o, void **out,
                           weft_error *err) {
  const char *scheme = "grpc";
  const weft_client_transport *vt = weft_find_client_transport(scheme);
  if (!vt)
    return weft_error_set(err, WEFT_ERR_UNSUPPORTED,
                          "--protocol grpc on http:// needs the %s:// "
                          "transport, which this build of weft does not "
                          "have (h2c:// speaks gRPC without it)",
                          scheme);
  hx_conn *c = calloc(1, sizeof *c);
  if (!c)
    return weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
  c->vt = vt;
  weft_url u = *url;
  snprintf(u.scheme, sizeof u.scheme, "%s", scheme);
  int rv = c->vt->connect(client, &u, o, &c->inner, err);
  if (rv < 0) {
    free(c);
    return rv;
  }
  *out = c;
  return 0;
}

static int hx_connect(weft_client *client, const weft_url *url,
                      const weft_client_opts *o, void **out, weft_error *err,
                      bool tls) {
  weft_http_protocol proto;
  int rv = hx_protocol(o, &proto, err);
  if (rv < 0)
    return rv;
  if (proto == WEFT_HTTP_GRPC && !tls)
    return hx_connect_grpc(client, url, o, out, err);
  weft__tls_ctx *ctx;
  if ((rv = hx_tls(&ctx, o, proto, tls, err)) < 0)
    return rv;
  /* The first connection now, so that weft_client_open reports an
   * unreachable server (and, for https://, learns the protocol). */
  weft__conn *first = NULL;
  rv = weft__conn_connect(
      &first, url->host, url->port, ctx, o ? o->tls.server_name : NULL,
      o && o->connect_timeout_ms ? o->connect_timeout_ms : 10000, err);
  if (rv < 0) {
    weft__tls_ctx_free(ctx);
    return rv;
  }
  return hx_adopt(client, url, o, first, ctx, out, err);
}

static int http_connect(weft_client *client, const weft_url *url,
                        const weft_client_opts *o, void **out,
                        weft_error *err) {
  return hx_connect(client, url, o, out, err, false);
}

static int https_connect(weft_client *client, const weft_url *url,
                         const weft_client_opts *o, void **out,
                         weft_error *err) {
  return hx_connect(client, url, o, out, err, true);
}

/* ---- reconnect attempts (connect_async) ----
 *
 * Connect, gRPC-Web and https:// gRPC connections are dialled on the
 * client loop (transports/common/dial.h) and adopted as connect adopts its
 * first socket, ALPN choosing h2 or HTTP/1.1 again. Only https://
 * connections over h2 reconnect at all (an HTTP/1.1 pool opens its
 * connections per call and never reports itself disconnected). http://
 * with protocol grpc rides the grpc:// transport's own connect_async
 * (gRPC core's channel, watched without blocking a thread); its done has
 * no user data, so the attempt is found again by its client (the runtime
 * runs one attempt per client at a time). */

typedef struct hx_grpc_attempt {
  struct hx_grpc_attempt *next;
  weft_client *client;
  weft_url u; /* the grpc:// form of the runtime's URL, for the attempt */
  const weft_client_transport *vt;
  void (*done)(weft_client *, int, void *, const weft_error *);
  /* How to stop the grpc:// attempt inside (attempt.h), if it said. */
  weft__attempt_stop_fn inner_stop;
  void *inner_ud;
} hx_grpc_attempt;

static pthread_mutex_t g_attempts_mu = PTHREAD_MUTEX_INITIALIZER;
static hx_grpc_attempt *g_attempts;

static hx_grpc_attempt *take_attempt(weft_client *client) {
  pthread_mutex_lock(&g_attempts_mu);
  hx_grpc_attempt **pp = &g_attempts;
  while (*pp && (*pp)->client != client)
    pp = &(*pp)->next;
  hx_grpc_attempt *a = *pp;
  if (a)
    *pp = a->next;
  pthread_mutex_unlock(&g_attempts_mu);
  return a;
}

static void hx_grpc_done(weft_client *client, int rv, void *inner,
                         const weft_error *err) {
  hx_grpc_attempt *a = take_attempt(client);
  weft_error e;
  weft_error_clear(&e);
  hx_conn *c = NULL;
  if (rv == 0 && !(c = calloc(1, sizeof *c))) {
    a->vt->disconnect(inner);
    rv = weft_error_set(&e, WEFT_ERR_NOMEM, "out of memory");
    err = &e;
  }
  if (c) {
    c->vt = a->vt;
    c->inner = inner;
  }
  void (*done)(weft_client *, int, void *, const weft_error *) = a->done;
  free(a);
  done(client, rv, c, err);
}

/* Loop thread: the client is closing (attempt.h); done will not run. */
static void hx_grpc_stop(void *ud) {
  hx_grpc_attempt *a = take_attempt(((hx_grpc_attempt *)ud)->client);
  a->inner_stop(a->inner_ud); /* it lets go of a->u */
  free(a);
}

static int hx_grpc_connect_async(weft_client *client, const weft_url *url,
                                 const weft_client_opts *o,
                                 void (*done)(weft_client *, int, void *,
                                              const weft_error *),
                                 weft_error *err) {
  const weft_client_transport *vt = weft_find_client_transport("grpc");
  if (!vt || !vt->connect_async)
    return weft_error_set(err, WEFT_ERR_UNSUPPORTED,
                          "--protocol grpc on http:// needs the grpc:// "
                          "transport, which this build of weft does not "
                          "have (h2c:// speaks gRPC without it)");
  hx_grpc_attempt *a = calloc(1, sizeof *a);
  if (!a)
    return weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
  a->client = client;
  a->u = *url;
  snprintf(a->u.scheme, sizeof a->u.scheme, "%s", "grpc");
  a->vt = vt;
  a->done = done;
  pthread_mutex_lock(&g_attempts_mu);
  a->next = g_attempts;
  g_attempts = a;
  pthread_mutex_unlock(&g_attempts_mu);
  int rv = vt->connect_async(client, &a->u, o, hx_grpc_done, err);
  if (rv < 0) { /* done will not run */
    free(take_attempt(client));
    return rv;
  }
  weft__client_attempt_get(client, &a->inner_stop, &a->inner_ud);
  if (a->inner_stop) /* stopping ours stops it */
    weft__client_attempt_set(client, hx_grpc_stop, a);
  return 0;
}

static int hx_connect_async(weft_client *client, const weft_url *url,
                            const weft_client_opts *o,
                            void (*done)(weft_client *, int, void *,
                                         const weft_error *),
                            weft_error *err, bool tls) {
  weft_http_protocol proto;
  int rv = hx_protocol(o, &proto, err);
  if (rv < 0)
    return rv;
  if (proto == WEFT_HTTP_GRPC && !tls)
    return hx_grpc_connect_async(client, url, o, done, err);
  weft__tls_ctx *ctx;
  if ((rv = hx_tls(&ctx, o, proto, tls, err)) < 0)
    return rv;
  int port = url->port > 0 ? url->port : (tls ? 443 : 80);
  return weft__dial_connect_async(client, url, o, port, ctx, hx_adopt, done,
                                  err);
}

static int http_connect_async(weft_client *client, const weft_url *url,
                              const weft_client_opts *o,
                              void (*done)(weft_client *, int, void *,
                                           const weft_error *),
                              weft_error *err) {
  return hx_connect_async(client, url, o, done, err, false);
}

static int https_connect_async(weft_client *client, const weft_url *url,
                               const weft_client_opts *o,
                               void (*done)(weft_client *, int, void *,
                                            const weft_error *),
                               weft_error *err) {
  return hx_connect_async(client, url, o, done, err, true);
}

static void hx_disconnect(void *ud) {
  hx_conn *c = ud;
  if (c->vt)
    c->vt->disconnect(c->inner);
  else
    weft__h1c_pool_close(c->pool);
  free(c);
}

static int hx_call_start(void *ud, const weft_method_desc *m,
                         const weft_metadata *md, int64_t deadline_ns,
                         void **tcall, weft_error *err) {
  hx_conn *c = ud;
  hx_call *k = calloc(1, sizeof *k);
  if (!k)
    return weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
  k->vt = c->vt;
  int rv =
      c->vt ? c->vt->call_start(c->inner, m, md, deadline_ns, &k->inner, err)
            : weft__h1c_call_start(c->pool, m, md, deadline_ns, &k->inner, err);
  if (rv < 0) {
    free(k);
    return rv;
  }
  *tcall = k;
  return 0;
}

/* Native on HTTP/1.1 (h1c_async.c) and on what the inner transport does
 * natively; 1 tells the runtime to run this connection's asynchronous
 * calls on its own pool (an inner transport without the function). */
static int hx_call_start_async(void *ud, const weft_method_desc *m,
                               const weft_metadata *md, int64_t deadline_ns,
                               weft_arena *arena, const weft_call_events *ev,
                               void *evud, void **tcall, weft_error *err) {
  hx_conn *c = ud;
  if (c->vt && !c->vt->call_start_async)
    return 1;
  hx_call *k = calloc(1, sizeof *k);
  if (!k)
    return weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
  k->vt = c->vt;
  int rv = c->vt ? c->vt->call_start_async(c->inner, m, md, deadline_ns, arena,
                                           ev, evud, &k->inner, err)
                 : weft__h1c_call_start_async(c->pool, m, md, deadline_ns,
                                              arena, ev, evud, &k->inner, err);
  if (rv != 0) {
    free(k);
    return rv;
  }
  *tcall = k;
  return 0;
}

static int hx_call_send(void *tcall, const void *msg) {
  hx_call *k = tcall;
  return k->vt ? k->vt->call_send(k->inner, msg)
               : weft__h1c_call_send(k->inner, msg);
}

static int hx_call_close_send(void *tcall) {
  hx_call *k = tcall;
  return k->vt ? k->vt->call_close_send(k->inner)
               : weft__h1c_call_close_send(k->inner);
}

static int hx_call_recv(void *tcall, weft_arena *arena, void **msg) {
  hx_call *k = tcall;
  return k->vt ? k->vt->call_recv(k->inner, arena, msg)
               : weft__h1c_call_recv(k->inner, arena, msg);
}

static int hx_call_finish(void *tcall, weft_status *st, weft_metadata *md) {
  hx_call *k = tcall;
  int rv = k->vt ? k->vt->call_finish(k->inner, st, md)
                 : weft__h1c_call_finish(k->inner, st, md);
  free(k);
  return rv;
}

static void hx_call_cancel(void *tcall) {
  hx_call *k = tcall;
  if (k->vt) {
    if (k->vt->call_cancel)
      k->vt->call_cancel(k->inner);
  } else {
    weft__h1c_call_cancel(k->inner);
  }
}

const weft_client_transport weft__http_client_transport = {"http",
                                                           80,
                                                           http_connect,
                                                           hx_disconnect,
                                                           hx_call_start,
                                                           hx_call_send,
                                                           hx_call_close_send,
                                                           hx_call_recv,
                                                           hx_call_finish,
                                                           hx_call_cancel,
                                                           hx_call_start_async,
                                                           http_connect_async};
const weft_client_transport weft__https_h1_client_transport = {
    "https",
    443,
    https_connect,
    hx_disconnect,
    hx_call_start,
    hx_call_send,
    hx_call_close_send,
    hx_call_recv,
    hx_call_finish,
    hx_call_cancel,
    hx_call_start_async,
    https_connect_async};
