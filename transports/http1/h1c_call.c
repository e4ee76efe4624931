/* Calls of the http:// and https:// client over HTTP/1.1: the Connect
 * protocol (unary POST, enveloped streams) and gRPC-Web, one exchange per
 * pooled connection, I/O on the caller's thread (h1c_internal.h).
 *
 * Unary and server-streaming requests are sent whole at close_send with a
 * Content-Length; client streams go out as a chunked body, one chunk per
 * message, as the caller sends them (half-duplex: the response is read
 * after the request ended, which is all Connect and gRPC-Web allow over
 * HTTP/1.1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../http2/connect.h"
#include "../http2/connect_client.h"
#include "../http2/grpc_wire.h"
#include "../http2/h2_msg.h"
#include "h1c_internal.h"
#include "weft/base64.h"

/* The call's status, once (connect_client.h). */
#define set_status(k, ...) weft__connect_resp_status(&(k)->resp, __VA_ARGS__)

static bool is_cancelled(const h1c_call *k) {
  return __atomic_load_n(&k->cancelled, __ATOMIC_ACQUIRE);
}

/* ---- the response, through the engine's callbacks ---------------------- */

/* grpc-status: 1..2 digits, 0..16 in practice; anything else is not a
 * status. */
static int parse_grpc_status(const char *v, size_t len) {
  if (len == 0 || len > 2)
    return -1;
  int code = 0;
  for (size_t i = 0; i < len; i++) {
    if (v[i] < '0' || v[i] > '9')
      return -1;
    code = code * 10 + (v[i] - '0');
  }
  return code;
}

/* gRPC-Web's trailers frame (grpc_wire.c parses it as the server wrote
 * it): the status, and metadata but the protocol's own names. */
static int web_trailers(void *ud, uint8_t flags, const uint8_t *data,
                        size_t len) {
  h1c_call *k = ud;
  (void)flags;
  k->resp.ended = true;
  weft_status st = {0};
  weft_metadata md = {0};
  weft_error e = {0};
  if (weft__grpc_web_parse_trailers(data, len, &st, &md, &e) < 0)
    set_status(k, WEFT_STATUS_INTERNAL, "%s", e.message);
  else
    weft__connect_resp_take_status(&k->resp, &st);
  for (size_t i = 0; i < md.count; i++)
    weft__connect_resp_header(
        &k->resp, md.entries[i].key, strlen(md.entries[i].key),
        (const char *)md.entries[i].value, md.entries[i].value_len);
  weft_metadata_clear(&md);
  weft_status_clear(&st);
  return 0;
}

static int on_response(void *ud, const weft__h1c_response *r) {
  h1c_call *k = ((h1c_link *)ud)->call;
  if (!k)
    return WEFT_ERR_PROTOCOL;
  k->resp.http_status = r->status;
  for (size_t i = 0; i < r->nfields; i++) {
    const weft__h1_field *f = &r->fields[i];
    const char *n = f->name;
    size_t nl = f->name_len;
    if (nl == 13 && strcasecmp(n, "grpc-encoding") == 0) {
      k->resp.gzip = strcasecmp(f->value, "gzip") == 0;
    } else if (k->web && nl == 11 && strcasecmp(n, "grpc-status") == 0) {
      k->head_grpc_status = parse_grpc_status(f->value, f->value_len);
    } else if (k->web && nl == 12 && strcasecmp(n, "grpc-message") == 0) {
      free(k->head_grpc_message);
      k->head_grpc_message = NULL;
      weft__grpc_percent_decode(f->value, f->value_len, &k->head_grpc_message);
    } else {
      weft__connect_resp_header(&k->resp, n, nl, f->value, f->value_len);
    }
  }
  return 0;
}

static int on_body(void *ud, const uint8_t *data, size_t len) {
  h1c_call *k = ((h1c_link *)ud)->call;
  if (!k)
    return WEFT_ERR_PROTOCOL;
  weft_error e; /* filled on failure: no 256-byte zeroing per call */
  e.message[0] = '\0';
  return weft__connect_resp_data(&k->resp, data, len, &e);
}

/* The status of a response that ended without one in its body. */
static void final_status(h1c_call *k) {
  if (k->resp.have_status)
    return;
  if (k->web) {
    if (k->head_grpc_status >= 0)
      set_status(k, k->head_grpc_status, "%s",
                 k->head_grpc_message ? k->head_grpc_message : "");
    else if (k->resp.http_status != 200)
      set_status(k, weft__connect_code_from_http(k->resp.http_status),
                 "HTTP status %d without grpc-status", k->resp.http_status);
    else
      set_status(k, WEFT_STATUS_INTERNAL,
                 "gRPC-Web response ended without grpc-status");
    return;
  }
  weft__connect_resp_end(&k->resp);
}

static int on_end(void *ud, const weft__h1_field *t, size_t nt) {
  h1c_call *k = ((h1c_link *)ud)->call;
  if (!k)
    return WEFT_ERR_PROTOCOL;
  for (size_t i = 0; i < nt; i++)
    weft__connect_resp_header(&k->resp, t[i].name, t[i].name_len, t[i].value,
                              t[i].value_len);
  final_status(k);
  k->done = true;
  return 0;
}

static const weft__h1c_callbacks engine_cb = {on_response, on_body, on_end};

/* ---- the request ------------------------------------------------------- */

typedef struct hdrs {
  weft__h1_field f[16];
  size_t n;
  char *own[64]; /* values built here (base64, numbers) */
  size_t nown;
} hdrs;

static void hdr(hdrs *h, const char *name, const char *value) {
  if (h->n < sizeof h->f / sizeof h->f[0])
    h->f[h->n++] = (weft__h1_field){name, value, strlen(name), strlen(value)};
}

static const char *content_type(const h1c_call *k) {
  if (k->web)
    return k->json ? "application/grpc-web+json" : "application/grpc-web+proto";
  if (k->enveloped)
    return weft__h2_ctype_str(k->json ? WEFT__CT_STREAM_JSON
                                      : WEFT__CT_STREAM_PROTO);
  return weft__h2_ctype_str(k->json ? WEFT__CT_JSON : WEFT__CT_PROTO);
}

/* Starts the request on k->link: head and, for whole requests, the body. */
int weft__h1c_submit(h1c_call *k, weft_error *err) {
  h1c_link *l = k->link;
  if (!l->eng) {
    int rv = weft__h1c_new(&l->eng, &engine_cb, l, NULL);
    if (rv < 0)
      return weft_error_set(err, rv, "out of memory");
  }
  l->call = k;
  hdrs h = {0};
  char timeout[32];
  hdr(&h, "User-Agent", "weft");
  hdr(&h, "Content-Type", content_type(k));
  if (k->web) {
    hdr(&h, "X-Grpc-Web", "1");
    hdr(&h, "Grpc-Accept-Encoding", "gzip");
  } else {
    hdr(&h, "Connect-Protocol-Version", "1");
    hdr(&h, k->enveloped ? "Connect-Accept-Encoding" : "Accept-Encoding",
        "gzip");
  }
  int64_t ms = weft__connect_timeout_ms(k->deadline_ns);
  if (ms > 0) {
    if (k->web) /* grpc-timeout: at most 8 digits */
      snprintf(timeout, sizeof timeout, "%lldm",
               (long long)(ms > 99999999 ? 99999999 : ms));
    else
      snprintf(timeout, sizeof timeout, "%lld", (long long)ms);
    hdr(&h, k->web ? "Grpc-Timeout" : "Connect-Timeout-Ms", timeout);
  }
  int rv = 0;
  weft__h1_field *all = NULL;
  size_t nall = h.n + k->req_md.count;
  char **vals = calloc(k->req_md.count + 1, sizeof *vals);
  all = calloc(nall + 1, sizeof *all);
  if (!vals || !all)
    rv = weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
  size_t n = 0;
  for (size_t i = 0; rv == 0 && i < h.n; i++)
    all[n++] = h.f[i];
  for (size_t i = 0; rv == 0 && i < k->req_md.count; i++) {
    const weft_metadata_entry *e = &k->req_md.entries[i];
    size_t kl = strlen(e->key);
    /* Binary metadata travels base64-encoded in HTTP/1.1 fields. */
    if (kl > 4 && strcasecmp(e->key + kl - 4, "-bin") == 0) {
      vals[i] = malloc(weft_base64_encoded_len(e->value_len, 0) + 1);
      if (vals[i])
        vals[i][weft_base64_encode(e->value, e->value_len, vals[i], 0)] = 0;
    } else {
      vals[i] = strndup((const char *)e->value, e->value_len);
    }
    if (!vals[i]) {
      rv = weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
      break;
    }
    if (!weft__h1_field_valid(e->key, vals[i]) ||
        weft__h2_reserved_header(e->key, kl)) {
      rv = weft_error_set(err, WEFT_ERR_INVAL,
                          "metadata \"%s\" cannot be sent as an HTTP/1.1 "
                          "field (reserved name, or CR/LF in the value)",
                          e->key);
      break;
    }
    all[n++] = (weft__h1_field){e->key, vals[i], kl, strlen(vals[i])};
  }
  if (rv == 0) {
    rv = weft__h1c_submit_request(l->eng, "POST", k->m->path, k->p->authority,
                                  all, n,
                                  k->chunked ? -1 : (int64_t)k->body_len);
    if (rv < 0)
      weft_error_set(err, rv, "cannot frame the HTTP/1.1 request for %s",
                     k->m->path);
  }
  if (rv == 0 && !k->chunked) {
    rv = weft__h1c_submit_data(l->eng, k->body, k->body_len);
    if (rv == 0)
      rv = weft__h1c_submit_end(l->eng, NULL, 0);
    if (rv < 0)
      weft_error_set(err, rv, "out of memory");
  }
  for (size_t i = 0; vals && i < k->req_md.count; i++)
    free(vals[i]);
  free(vals);
  free(all);
  if (rv == 0)
    k->req_started = true;
  return rv;
}

static void release_link(h1c_call *k, bool reusable) {
  pthread_mutex_lock(&k->p->mu);
  h1c_link *l = k->link;
  k->link = NULL;
  pthread_mutex_unlock(&k->p->mu);
  if (l)
    weft__h1c_pool_put(k->p, l, reusable);
}

/* Takes a connection and sends the request head (and a whole body). */
static int open_exchange(h1c_call *k, weft_error *err) {
  h1c_link *l;
  bool reused;
  int rv = weft__h1c_pool_get(k->p, k, &l, &reused, err);
  if (rv < 0)
    return rv;
  pthread_mutex_lock(&k->p->mu);
  k->link = l;
  bool cancelled = is_cancelled(k);
  pthread_mutex_unlock(&k->p->mu);
  if (cancelled)
    return weft_error_set(err, WEFT_ERR_CANCELLED, "cancelled");
  k->reused = reused;
  k->attempts++;
  rv = weft__h1c_submit(k, err);
  if (rv == 0)
    rv = weft__h1c_link_flush(l, k->deadline_ns, err);
  return rv;
}

/* Whether a failure may be repeated on a new connection: a whole request
 * on a reused keep-alive connection that the server closed before any
 * byte of a response (it timed the idle connection out as we sent), of a
 * method marked idempotent. Any other may have been carried out before
 * the close (RFC 9112 section 9.3.1: a client MUST NOT retry it by
 * itself): a CreateJob or a payment is not sent twice. The pool drops
 * idle connections the server already closed, so the race is narrow. */
bool weft__h1c_retryable(const h1c_call *k) {
  return !k->chunked && k->reused && k->attempts < 3 && k->link &&
         k->link->eng && weft__h1c_received(k->link->eng) == 0 && k->m &&
         k->m->idempotent != WEFT_IDEMPOTENCY_UNKNOWN && !is_cancelled(k);
}

void weft__h1c_fail_status(h1c_call *k, int rv, const weft_error *e) {
  if (is_cancelled(k))
    set_status(k, WEFT_STATUS_CANCELLED, "cancelled by the client");
  else if (rv == WEFT_ERR_TIMEOUT)
    set_status(k, WEFT_STATUS_DEADLINE_EXCEEDED, "deadline exceeded");
  else if (rv == WEFT_ERR_PROTOCOL || rv == WEFT_ERR_TOO_BIG ||
           rv == WEFT_ERR_LIMIT || rv == WEFT_ERR_UNSUPPORTED ||
           rv == WEFT_ERR_FRAME_TOO_BIG)
    set_status(k, WEFT_STATUS_INTERNAL, "%s", e->message);
  else
    set_status(k, WEFT_STATUS_UNAVAILABLE, "%s",
               e->message[0] ? e->message : weft_strerror(rv));
}

/* A local failure becomes the call's status, and the connection goes. */
static void fail_io(h1c_call *k, int rv, const weft_error *e) {
  weft__h1c_fail_status(k, rv, e);
  k->done = true;
  release_link(k, false);
}

/* Sends a whole request (retrying on a fresh connection as above). */
static int send_whole(h1c_call *k) {
  for (;;) {
    weft_error e = {0};
    int rv = open_exchange(k, &e);
    if (rv == 0)
      return 0;
    if (weft__h1c_retryable(k)) {
      release_link(k, false);
      continue;
    }
    fail_io(k, rv, &e);
    return rv;
  }
}

/* Reads until pred holds or the response ended. */
static void pump(h1c_call *k, bool (*pred)(const h1c_call *)) {
  while (!k->done && !pred(k)) {
    if (!k->link)
      return;
    weft_error e = {0};
    int rv = is_cancelled(k)
                 ? weft_error_set(&e, WEFT_ERR_CANCELLED, "cancelled")
                 : weft__h1c_link_read(k->link, k->deadline_ns, &e);
    if (rv == 0 && k->link->eof && !k->done)
      rv = weft_error_set(&e, WEFT_ERR_TRUNCATED, "connection closed");
    if (rv == 0)
      continue;
    if (weft__h1c_retryable(k) && rv != WEFT_ERR_TIMEOUT) {
      release_link(k, false);
      if (send_whole(k) < 0)
        return;
      continue;
    }
    fail_io(k, rv, &e);
  }
}

/* ---- weft_client_transport --------------------------------------------- */

int weft__h1c_call_new(h1c_pool *p, const weft_method_desc *m,
                       const weft_metadata *md, int64_t deadline_ns,
                       h1c_call **out, weft_error *err) {
  if (m->kind == WEFT_RPC_BIDI)
    return weft_error_set(err, WEFT_ERR_UNSUPPORTED,
                          "%s: bidi streaming needs HTTP/2; use h2c:// or "
                          "https:// with h2",
                          m->path);
  h1c_call *k = calloc(1, sizeof *k);
  if (!k)
    return weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
  k->p = p;
  k->m = m;
  k->web = p->protocol == WEFT_HTTP_GRPC_WEB;
  k->json = p->json;
  k->chunked = m->kind == WEFT_RPC_CLIENT_STREAM;
  k->enveloped = k->web || m->kind != WEFT_RPC_UNARY;
  k->deadline_ns = deadline_ns;
  k->head_grpc_status = -1;
  k->refs = 1;
  weft__connect_resp_init(&k->resp, p->max_msg, k->enveloped);
  if (k->web) {
    k->resp.on_web_trailers = web_trailers;
    k->resp.web_ud = k;
  }
  if (md && weft_metadata_copy(&k->req_md, md) < 0) {
    weft__connect_resp_free(&k->resp);
    free(k);
    return weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
  }
  pthread_mutex_lock(&p->mu);
  bool closed = p->closed;
  if (!closed)
    p->refs++;
  pthread_mutex_unlock(&p->mu);
  if (closed) {
    weft_metadata_clear(&k->req_md);
    weft__connect_resp_free(&k->resp);
    free(k);
    return weft_error_set(err, WEFT_ERR_CLOSED, "client is closed");
  }
  /* A blocking caller waiting for a connection waits until its deadline,
   * which is on CLOCK_MONOTONIC. */
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&k->w.cv, &ca);
  pthread_cond_init(&k->q_cv, &ca);
  pthread_condattr_destroy(&ca);
  *out = k;
  return 0;
}

int weft__h1c_call_start(h1c_pool *p, const weft_method_desc *m,
                         const weft_metadata *md, int64_t deadline_ns,
                         void **tcall, weft_error *err) {
  h1c_call *k = NULL;
  int rv = weft__h1c_call_new(p, m, md, deadline_ns, &k, err);
  if (rv == 0)
    *tcall = k;
  return rv;
}

void weft__h1c_call_free(h1c_call *k) {
  h1c_pool *p = k->p;
  free(k->body);
  free(k->head_grpc_message);
  for (h1c_qmsg *q = k->q_head; q;) {
    h1c_qmsg *next = q->next;
    free(q);
    q = next;
  }
  weft_metadata_clear(&k->req_md);
  weft__connect_resp_free(&k->resp);
  pthread_cond_destroy(&k->w.cv);
  pthread_cond_destroy(&k->q_cv);
  free(k);
  weft__h1c_pool_unref(p);
}

/* The message as it goes on the wire: bare for unary Connect, else in an
 * envelope (same 5-byte prefix for Connect streams and gRPC-Web). */
int weft__h1c_encode(h1c_call *k, const void *msg, uint8_t **out, size_t *len) {
  weft_error e = {0};
  uint8_t *buf;
  size_t n;
  int rv = weft__h2_encode(msg, k->json, &buf, &n, &e);
  if (rv < 0)
    return rv;
  if (n > k->p->max_msg) {
    free(buf);
    return WEFT_ERR_TOO_BIG;
  }
  if (!k->enveloped) {
    *out = buf;
    *len = n;
    return 0;
  }
  uint8_t *env = malloc(n + 5);
  if (!env) {
    free(buf);
    return WEFT_ERR_NOMEM;
  }
  weft__connect_envelope_header(env, 0, (uint32_t)n);
  if (n)
    memcpy(env + 5, buf, n);
  free(buf);
  *out = env;
  *len = n + 5;
  return 0;
}

int weft__h1c_call_send(void *tcall, const void *msg) {
  h1c_call *k = tcall;
  if (k->async)
    return weft__h1c_async_send(k, msg);
  if (k->req_ended)
    return WEFT_ERR_STATE;
  if (k->done)
    return is_cancelled(k) ? WEFT_ERR_CANCELLED : WEFT_ERR_CLOSED;
  uint8_t *buf;
  size_t len;
  int rv = weft__h1c_encode(k, msg, &buf, &len);
  if (rv < 0)
    return rv;
  if (!k->chunked) { /* one message: sent at close_send */
    free(k->body);
    k->body = buf;
    k->body_len = len;
    k->have_body = true;
    return 0;
  }
  weft_error e = {0};
  if (!k->req_started && (rv = open_exchange(k, &e)) < 0) {
    free(buf);
    fail_io(k, rv, &e);
    return rv == WEFT_ERR_TIMEOUT ? rv : WEFT_ERR_CLOSED;
  }
  rv = weft__h1c_submit_data(k->link->eng, buf, len);
  free(buf);
  if (rv == 0)
    rv = weft__h1c_link_flush(k->link, k->deadline_ns, &e);
  if (rv < 0) {
    /* The server may have answered (and closed) early: its status is
     * read at finish. */
    if (rv == WEFT_ERR_TIMEOUT)
      fail_io(k, rv, &e);
    return rv == WEFT_ERR_TIMEOUT ? rv : WEFT_ERR_CLOSED;
  }
  return 0;
}

int weft__h1c_call_close_send(void *tcall) {
  h1c_call *k = tcall;
  if (k->async)
    return weft__h1c_async_close_send(k);
  if (k->req_ended)
    return 0;
  k->req_ended = true;
  if (k->done)
    return 0;
  if (!k->chunked) {
    if (!k->have_body) {
      set_status(k, WEFT_STATUS_INTERNAL, "no request message was sent");
      k->done = true;
      return WEFT_ERR_STATE;
    }
    return send_whole(k) < 0 ? 0 : 0; /* a failure is the call's status */
  }
  weft_error e = {0};
  int rv = 0;
  if (!k->req_started)
    rv = open_exchange(k, &e);
  if (rv == 0)
    rv = weft__h1c_submit_end(k->link->eng, NULL, 0);
  if (rv == 0)
    rv = weft__h1c_link_flush(k->link, k->deadline_ns, &e);
  if (rv < 0 && (rv == WEFT_ERR_TIMEOUT || !k->link))
    fail_io(k, rv, &e);
  return 0;
}

static bool has_msg(const h1c_call *k) {
  return k->resp.head != NULL;
}
static bool never(const h1c_call *k) {
  (void)k;
  return false;
}

int weft__h1c_decode(h1c_call *k, const uint8_t *data, size_t len, bool gz,
                     weft_arena *arena, void **msg) {
  weft_error e = {0};
  int rv = weft__connect_decode(k->m->output, k->json, data, len, gz,
                                k->p->max_msg, arena, msg, &e);
  if (rv < 0) {
    k->resp.have_status = false;
    weft_status_clear(&k->resp.st);
    set_status(k, WEFT_STATUS_INTERNAL, "cannot decode the response: %s",
               e.message);
  }
  return rv;
}

int weft__h1c_call_recv(void *tcall, weft_arena *arena, void **msg) {
  h1c_call *k = tcall;
  if (!k->req_ended && !k->done)
    return WEFT_ERR_STATE; /* half-duplex: the request must end first */
  if (!k->enveloped) {
    pump(k, never);
    bool given = k->unary_given;
    k->unary_given = true;
    if (!k->resp.have_status || k->resp.st.code != WEFT_STATUS_OK)
      return WEFT_ERR_RPC;
    if (given)
      return 0;
    int rv = weft__h1c_decode(k, k->resp.body, k->resp.body_len, k->resp.gzip,
                              arena, msg);
    return rv < 0 ? rv : 1;
  }
  pump(k, has_msg);
  weft__connect_msg *n = weft__connect_resp_pop(&k->resp);
  if (!n) {
    bool good = k->resp.have_status && k->resp.st.code == WEFT_STATUS_OK;
    return good ? 0 : WEFT_ERR_RPC;
  }
  int rv = weft__h1c_decode(k, n->data, n->len,
                            (n->flags & WEFT__CONNECT_FLAG_COMPRESSED) != 0,
                            arena, msg);
  free(n);
  return rv < 0 ? rv : 1;
}

int weft__h1c_call_finish(void *tcall, weft_status *st, weft_metadata *md) {
  h1c_call *k = tcall;
  if (k->async)
    return weft__h1c_async_finish(k, st, md);
  weft__connect_resp_drop(&k->resp);
  if (!k->done) {
    if (!k->req_ended || is_cancelled(k)) {
      /* The caller gave up before the end: the connection cannot carry
       * another request. */
      set_status(k, WEFT_STATUS_CANCELLED,
                 is_cancelled(k) ? "cancelled by the client"
                                 : "call finished before its request ended");
      k->done = true;
    } else {
      pump(k, never);
    }
  }
  bool reusable = k->link && k->link->eng && !is_cancelled(k) &&
                  weft__h1c_reusable(k->link->eng);
  release_link(k, reusable);
  if (st)
    weft_status_move(st, &k->resp.st);
  if (md)
    weft_metadata_copy(md, &k->resp.md);
  weft__h1c_call_free(k);
  return 0;
}

void weft__h1c_call_cancel(void *tcall) {
  h1c_call *k = tcall;
  if (k->async) {
    weft__h1c_async_cancel(k);
    return;
  }
  pthread_mutex_lock(&k->p->mu);
  __atomic_store_n(&k->cancelled, true, __ATOMIC_RELEASE);
  if (k->link)
    weft__h1c_link_abort(k->link);
  if (k->w.queued) /* waiting for a connection */
    pthread_cond_signal(&k->w.cv);
  pthread_mutex_unlock(&k->p->mu);
}
