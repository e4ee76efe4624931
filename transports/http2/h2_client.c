/* The h2c:// and https:// client: Connect calls over one HTTP/2 connection.
 *
 * Each client connection owns a weft_loop thread that alone touches the
 * nghttp2 session. User threads build requests and wait on a call's
 * condition variable; they hand work to the loop with posts (submit the
 * request, resume the request body, reset the stream).
 *
 * Unary calls are sent whole (headers + body) when the caller half-closes;
 * streaming calls open the stream at start and send enveloped messages as
 * the caller produces them. Lifetimes follow the server: a call is
 * referenced by the user (until finish), by nghttp2 (until the stream
 * closes) and by pending posts; the connection by its socket and its calls.
 */
#include <nghttp2/nghttp2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "connect.h"
#include "connect_client.h"
#include "h2_client.h"
#include "h2_io.h"
#include "h2_msg.h"
#include "weft/transport.h"

#define H2C_OUT_HIGH_WATER (256 * 1024)
/* Response messages waiting for the caller's recv() beyond which the
 * stream's window is no longer returned (the server stops sending). */
#define H2C_QUEUE_HIGH_WATER (1024 * 1024)

typedef struct h2c_conn h2c_conn;
typedef struct h2c_call h2c_call;

struct h2c_conn {
  weft__h2io io;
  weft_client *client;
  weft_loop *loop;
  weft__tls_ctx *tls;
  pthread_mutex_t mu;
  int refs;    /* 1 for the user's connection handle + 1 per call */
  bool closed; /* socket gone */
  bool loop_gone;
  weft_codec_kind codec;
  size_t max_msg;
  char authority[300];
  const char *scheme;
  h2c_call *calls;
};

struct h2c_call {
  h2c_conn *c;
  int32_t id; /* 0 until submitted */
  int refs;
  h2c_call *next, *prev;
  const weft_method_desc *m;
  bool stream_kind, json;
  int64_t deadline_ns;
  weft_metadata req_md;
  pthread_cond_t cv;

  /* Request body (under c->mu). */
  uint8_t *out;
  size_t out_off, out_len, out_cap;
  bool out_end;
  bool submitted, in_session;

  /* Response (under c->mu; connect_client.h: status, metadata, the
   * messages waiting for recv). */
  weft__connect_resp resp;
  size_t held; /* loop thread: bytes received, window not returned */
  bool done;   /* stream closed */
  bool unary_given;
};

/* ---- references ---------------------------------------------------- */

static void conn_unref(h2c_conn *c) {
  pthread_mutex_lock(&c->mu);
  bool last = --c->refs == 0;
  pthread_mutex_unlock(&c->mu);
  if (!last)
    return;
  weft_client_loop_release(c->loop);
  weft__tls_ctx_free(c->tls);
  pthread_mutex_destroy(&c->mu);
  free(c);
}

static void call_unref(h2c_call *k) {
  h2c_conn *c = k->c;
  pthread_mutex_lock(&c->mu);
  bool last = --k->refs == 0;
  if (last) {
    if (k->prev)
      k->prev->next = k->next;
    else if (c->calls == k)
      c->calls = k->next;
    if (k->next)
      k->next->prev = k->prev;
  }
  pthread_mutex_unlock(&c->mu);
  if (!last)
    return;
  free(k->out);
  weft_metadata_clear(&k->req_md);
  weft__connect_resp_free(&k->resp);
  pthread_cond_destroy(&k->cv);
  free(k);
  conn_unref(c);
}

static bool post(h2c_conn *c, weft_post_fn fn, h2c_call *k) {
  pthread_mutex_lock(&c->mu);
  bool ok = !c->loop_gone;
  if (ok && k)
    k->refs++;
  pthread_mutex_unlock(&c->mu);
  if (ok && weft_loop_post(c->loop, fn, k ? (void *)k : (void *)c) < 0) {
    ok = false;
    if (k)
      call_unref(k);
  }
  return ok;
}

/* Sets the final status once (c->mu held). */
static void set_status_locked(h2c_call *k, int code, const char *msg) {
  weft__connect_resp_status(&k->resp, code, "%s", msg);
}

/* ---- loop thread --------------------------------------------------- */

static ssize_t body_read(nghttp2_session *ses, int32_t id, uint8_t *buf,
                         size_t len, uint32_t *flags, nghttp2_data_source *src,
                         void *ud) {
  h2c_call *k = src->ptr;
  (void)ses;
  (void)id;
  (void)ud;
  pthread_mutex_lock(&k->c->mu);
  size_t avail = k->out_len - k->out_off;
  if (avail == 0 && !k->out_end) {
    pthread_mutex_unlock(&k->c->mu);
    return NGHTTP2_ERR_DEFERRED;
  }
  size_t n = avail < len ? avail : len;
  if (n)
    memcpy(buf, k->out + k->out_off, n);
  k->out_off += n;
  if (k->out_off == k->out_len) {
    k->out_off = k->out_len = 0;
    if (k->out_end)
      *flags |= NGHTTP2_DATA_FLAG_EOF;
  }
  pthread_cond_broadcast(&k->cv);
  pthread_mutex_unlock(&k->c->mu);
  return (ssize_t)n;
}

#define NV(n, v)                                                               \
  (nghttp2_nv) {                                                               \
    (uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE \
  }

static void submit_on_loop(void *ud) {
  h2c_call *k = ud;
  h2c_conn *c = k->c;
  if (c->io.closed) {
    pthread_mutex_lock(&c->mu);
    set_status_locked(k, WEFT_STATUS_UNAVAILABLE, "connection closed");
    k->done = true;
    pthread_cond_broadcast(&k->cv);
    pthread_mutex_unlock(&c->mu);
    call_unref(k);
    return;
  }
  weft__h2_ctype ct =
      k->stream_kind ? (k->json ? WEFT__CT_STREAM_JSON : WEFT__CT_STREAM_PROTO)
                     : (k->json ? WEFT__CT_JSON : WEFT__CT_PROTO);
  char timeout[24];
  int64_t timeout_ms = weft__connect_timeout_ms(k->deadline_ns);
  size_t n = 0;
  nghttp2_nv *nva = calloc(10 + k->req_md.count, sizeof *nva);
  if (!nva) {
    call_unref(k);
    return;
  }
  nva[n++] = NV(":method", "POST");
  nva[n++] = NV(":scheme", c->scheme);
  nva[n++] = NV(":authority", c->authority);
  nva[n++] = NV(":path", k->m->path);
  nva[n++] = NV("content-type", weft__h2_ctype_str(ct));
  nva[n++] = NV("connect-protocol-version", "1");
  nva[n++] = NV(k->stream_kind ? "connect-accept-encoding" : "accept-encoding",
                "gzip");
  if (timeout_ms > 0) {
    snprintf(timeout, sizeof timeout, "%lld", (long long)timeout_ms);
    nva[n++] = NV("connect-timeout-ms", timeout);
  }
  for (size_t i = 0; i < k->req_md.count; i++) {
    weft_metadata_entry *e = &k->req_md.entries[i];
    nva[n++] = (nghttp2_nv){(uint8_t *)e->key, e->value, strlen(e->key),
                            e->value_len, NGHTTP2_NV_FLAG_NONE};
  }
  nghttp2_data_provider dp;
  dp.source.ptr = k;
  dp.read_callback = body_read;
  int32_t id = nghttp2_submit_request(c->io.session, NULL, nva, n, &dp, k);
  free(nva);
  pthread_mutex_lock(&c->mu);
  if (id < 0) {
    char msg[128];
    snprintf(msg, sizeof msg, "cannot open an HTTP/2 stream: %s",
             nghttp2_strerror(id));
    set_status_locked(k, WEFT_STATUS_UNAVAILABLE, msg);
    k->done = true;
    pthread_cond_broadcast(&k->cv);
    pthread_mutex_unlock(&c->mu);
    call_unref(k);
    return;
  }
  k->id = id;
  k->in_session = true; /* keeps the post's reference until close */
  pthread_mutex_unlock(&c->mu);
  weft__h2io_flush(&c->io);
}

static void resume_on_loop(void *ud) {
  h2c_call *k = ud;
  if (!k->c->io.closed && k->in_session) {
    nghttp2_session_resume_data(k->c->io.session, k->id);
    weft__h2io_flush(&k->c->io);
  }
  call_unref(k);
}

static void cancel_on_loop(void *ud) {
  h2c_call *k = ud;
  if (!k->c->io.closed && k->in_session) {
    nghttp2_submit_rst_stream(k->c->io.session, NGHTTP2_FLAG_NONE, k->id,
                              NGHTTP2_CANCEL);
    weft__h2io_flush(&k->c->io);
  }
  call_unref(k);
}

static int on_header(nghttp2_session *ses, const nghttp2_frame *f,
                     const uint8_t *name, size_t nlen, const uint8_t *value,
                     size_t vlen, uint8_t flags, void *ud) {
  (void)flags;
  (void)ud;
  h2c_call *k = nghttp2_session_get_stream_user_data(ses, f->hd.stream_id);
  if (!k || f->hd.type != NGHTTP2_HEADERS)
    return 0;
  const char *n = (const char *)name, *v = (const char *)value;
  pthread_mutex_lock(&k->c->mu);
  if (nlen == 7 && memcmp(n, ":status", 7) == 0)
    k->resp.http_status = atoi(v);
  else
    weft__connect_resp_header(&k->resp, n, nlen, v, vlen);
  pthread_mutex_unlock(&k->c->mu);
  return 0;
}

/* Returns the window for what a streaming response has sent, unless the
 * caller is behind by more than the high-water mark (then the server stops
 * until recv() catches up: release_on_loop). Bytes of a message still being
 * assembled are returned too, so messages larger than the window get
 * through. Loop thread. */
static void release_credit(h2c_call *k) {
  h2c_conn *c = k->c;
  if (k->held == 0 || c->io.closed || !k->in_session)
    return;
  pthread_mutex_lock(&c->mu);
  bool behind = k->resp.queued > H2C_QUEUE_HIGH_WATER;
  pthread_mutex_unlock(&c->mu);
  if (behind)
    return;
  nghttp2_session_consume(c->io.session, k->id, k->held);
  k->held = 0;
}

static void release_on_loop(void *ud) {
  h2c_call *k = ud;
  if (k->held > 0 && !k->c->io.closed && k->in_session) {
    release_credit(k);
    weft__h2io_flush(&k->c->io);
  }
  call_unref(k);
}

static int on_data_chunk(nghttp2_session *ses, uint8_t flags, int32_t id,
                         const uint8_t *data, size_t len, void *ud) {
  h2c_conn *c = ud;
  (void)flags;
  h2c_call *k = nghttp2_session_get_stream_user_data(ses, id);
  if (!k) {
    nghttp2_session_consume(ses, id, len);
    return 0;
  }
  weft_error err = {0};
  pthread_mutex_lock(&c->mu);
  /* A streaming response's window is returned as recv() keeps up
   * (release_credit); a unary body is bounded by the size limit, so its
   * window is returned as it comes. */
  bool stream = k->stream_kind && k->resp.http_status == 200;
  int rv = weft__connect_resp_data(&k->resp, data, len, &err);
  pthread_cond_broadcast(&k->cv);
  pthread_mutex_unlock(&c->mu);
  if (stream) {
    k->held += len;
    if (rv >= 0) {
      release_credit(k);
      return 0;
    }
    nghttp2_session_consume(ses, id, k->held);
    k->held = 0;
  } else {
    nghttp2_session_consume(ses, id, len);
  }
  if (rv == WEFT_ERR_NOMEM)
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  if (rv < 0)
    nghttp2_submit_rst_stream(ses, NGHTTP2_FLAG_NONE, id,
                              rv == WEFT_ERR_TOO_BIG ? NGHTTP2_CANCEL
                                                     : NGHTTP2_PROTOCOL_ERROR);
  return 0;
}

static int on_stream_close(nghttp2_session *ses, int32_t id, uint32_t code,
                           void *ud) {
  h2c_conn *c = ud;
  h2c_call *k = nghttp2_session_get_stream_user_data(ses, id);
  if (!k)
    return 0;
  /* Messages the caller never took (and the end-of-stream message): give
   * the connection its window back. */
  if (k->held > 0) {
    nghttp2_session_consume_connection(ses, k->held);
    k->held = 0;
  }
  pthread_mutex_lock(&c->mu);
  k->in_session = false;
  k->done = true;
  if (k->resp.http_status == 200 && code != NGHTTP2_NO_ERROR)
    set_status_locked(k,
                      code == NGHTTP2_CANCEL ? WEFT_STATUS_CANCELLED
                                             : WEFT_STATUS_UNAVAILABLE,
                      "stream reset by the server");
  weft__connect_resp_end(&k->resp);
  pthread_cond_broadcast(&k->cv);
  pthread_mutex_unlock(&c->mu);
  nghttp2_session_set_stream_user_data(ses, id, NULL);
  call_unref(k); /* nghttp2's reference */
  return 0;
}

static void on_conn_closed(weft__h2io *io, const weft_error *why, void *ud) {
  h2c_conn *c = ud;
  (void)io;
  char msg[WEFT_ERROR_MSG_MAX + 32];
  snprintf(msg, sizeof msg, "connection lost%s%s", why ? ": " : "",
           why ? why->message : "");
  for (;;) {
    h2c_call *victim = NULL;
    pthread_mutex_lock(&c->mu);
    c->closed = true;
    for (h2c_call *k = c->calls; k; k = k->next) {
      if (!k->done) {
        k->done = true;
        set_status_locked(k, WEFT_STATUS_UNAVAILABLE, msg);
        pthread_cond_broadcast(&k->cv);
      }
      if (k->in_session) {
        k->in_session = false;
        victim = k;
        break;
      }
    }
    pthread_mutex_unlock(&c->mu);
    if (!victim)
      break;
    call_unref(victim);
  }
  weft_client_notify(c->client, WEFT_CONN_DISCONNECTED, why);
}

/* ---- weft_client_transport ------------------------------------------ */

static void start_on_loop(void *ud) {
  h2c_conn *c = ud;
  weft__h2io_start(&c->io);
  weft__h2io_flush(&c->io);
}

/* Connects, or with `adopt` set takes over a connection another transport
 * opened (https:// whose ALPN picked h2): adopt and adopt_tls then belong
 * to this connection, also when it fails. */
static int h2_connect_conn(weft_client *client, const weft_url *url,
                           const weft_client_opts *o, void **out,
                           weft_error *err, bool tls, weft__conn *adopt,
                           weft__tls_ctx *adopt_tls) {
  h2c_conn *c = calloc(1, sizeof *c);
  if (!c)
    return weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
  pthread_mutex_init(&c->mu, NULL);
  c->refs = 1;
  c->client = client;
  c->codec = o ? o->codec : WEFT_CODEC_PROTO;
  c->max_msg = o && o->max_message_size ? o->max_message_size : 4u << 20;
  c->scheme = tls ? "https" : "http";
  int port = url->port > 0 ? url->port : (tls ? 443 : 80);
  snprintf(c->authority, sizeof c->authority, "%s:%d", url->host, port);
  int rv = 0;
  c->tls = adopt_tls;
  if (tls && !adopt) {
    static const char *const alpn[] = {"h2", NULL};
    rv = weft__tls_ctx_new(&c->tls, false, o ? &o->tls : NULL, alpn, err);
  }
  weft__conn *conn = adopt;
  if (rv == 0 && !adopt)
    rv = weft__conn_connect(
        &conn, url->host, port, c->tls, o ? o->tls.server_name : NULL,
        o && o->connect_timeout_ms ? o->connect_timeout_ms : 10000, err);
  if (rv == 0 && tls && strcmp(weft__conn_alpn(conn), "h2") != 0)
    rv = weft_error_set(err, WEFT_ERR_HANDSHAKE,
                        "%s did not negotiate HTTP/2 (ALPN h2)", c->authority);
  nghttp2_session_callbacks *cb = NULL;
  if (rv == 0 && nghttp2_session_callbacks_new(&cb) != 0)
    rv = weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
  if (rv == 0) {
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb,
                                                              on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    /* Window updates are ours: see release_credit. */
    nghttp2_option *opt = NULL;
    if (nghttp2_option_new(&opt) == 0)
      nghttp2_option_set_no_auto_window_update(opt, 1);
    if (!opt || nghttp2_session_client_new2(&c->io.session, cb, c, opt) != 0)
      rv = weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
  }
  if (rv == 0) {
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20}};
    nghttp2_submit_settings(c->io.session, NGHTTP2_FLAG_NONE, iv, 2);
    nghttp2_session_set_local_window_size(c->io.session, NGHTTP2_FLAG_NONE, 0,
                                          4 << 20);
    /* The process-wide client loop, shared with every other client. */
    rv = weft_client_loop_acquire(&c->loop, err);
  }
  if (rv < 0) {
    if (c->io.session)
      nghttp2_session_del(c->io.session);
    weft__conn_close(conn);
    weft_client_loop_release(c->loop);
    weft__tls_ctx_free(c->tls);
    pthread_mutex_destroy(&c->mu);
    free(c);
    return rv;
  }
  c->io.loop = c->loop;
  c->io.conn = conn;
  c->io.on_closed = on_conn_closed;
  c->io.ud = c;
  weft_loop_post(c->loop, start_on_loop, c);
  weft_client_notify(client, WEFT_CONN_CONNECTED, NULL);
  *out = c;
  return 0;
}

static int h2_connect(weft_client *client, const weft_url *url,
                      const weft_client_opts *o, void **out, weft_error *err,
                      bool tls) {
  return h2_connect_conn(client, url, o, out, err, tls, NULL, NULL);
}

int weft__h2_client_adopt(weft_client *client, const weft_url *url,
                          const weft_client_opts *o, weft__conn *conn,
                          weft__tls_ctx *tls, void **out, weft_error *err) {
  return h2_connect_conn(client, url, o, out, err, true, conn, tls);
}

static int h2c_connect(weft_client *client, const weft_url *url,
                       const weft_client_opts *o, void **out, weft_error *err) {
  return h2_connect(client, url, o, out, err, false);
}

static int https_connect(weft_client *client, const weft_url *url,
                         const weft_client_opts *o, void **out,
                         weft_error *err) {
  return h2_connect(client, url, o, out, err, true);
}

static void close_on_loop(void *ud) {
  h2c_conn *c = ud;
  if (!c->io.closed) {
    nghttp2_session_terminate_session(c->io.session, NGHTTP2_NO_ERROR);
    weft__h2io_flush(&c->io);
    weft__h2io_close(&c->io, NULL);
  }
}

static void unref_on_loop(void *ud) {
  conn_unref(ud);
}

static void h2_disconnect(void *ud) {
  h2c_conn *c = ud;
  /* From here on user threads stop posting; close on the loop (which fails
   * every call in flight through on_conn_closed). What was posted for c
   * before runs first (posts run in order), so the reference goes after. */
  pthread_mutex_lock(&c->mu);
  c->loop_gone = true;
  pthread_mutex_unlock(&c->mu);
  if (weft_loop_in_thread(c->loop)) {
    /* From a callback on the loop: the caller may still use c. */
    close_on_loop(c);
    if (weft_loop_post(c->loop, unref_on_loop, c) < 0)
      conn_unref(c);
    return;
  }
  if (weft_loop_run_sync(c->loop, close_on_loop, c) < 0 && !c->io.closed)
    close_on_loop(c); /* out of memory: better a race than a leak */
  conn_unref(c);
}

static int h2_call_start(void *ud, const weft_method_desc *m,
                         const weft_metadata *md, int64_t deadline_ns,
                         void **tcall, weft_error *err) {
  h2c_conn *c = ud;
  h2c_call *k = calloc(1, sizeof *k);
  if (!k)
    return weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
  k->c = c;
  k->m = m;
  k->refs = 1; /* the user's */
  k->stream_kind = m->kind != WEFT_RPC_UNARY;
  k->json = c->codec == WEFT_CODEC_JSON;
  k->deadline_ns = deadline_ns;
  pthread_cond_init(&k->cv, NULL);
  weft__connect_resp_init(&k->resp, c->max_msg, k->stream_kind);
  if (md)
    weft_metadata_copy(&k->req_md, md);
  pthread_mutex_lock(&c->mu);
  if (c->closed || c->loop_gone) {
    pthread_mutex_unlock(&c->mu);
    weft_metadata_clear(&k->req_md);
    weft__connect_resp_free(&k->resp);
    pthread_cond_destroy(&k->cv);
    free(k);
    return weft_error_set(err, WEFT_ERR_CLOSED, "connection is closed");
  }
  c->refs++;
  k->next = c->calls;
  if (c->calls)
    c->calls->prev = k;
  c->calls = k;
  pthread_mutex_unlock(&c->mu);
  /* Streams open at once; unary calls wait for their single message. */
  if (k->stream_kind) {
    k->submitted = true;
    post(c, submit_on_loop, k);
  }
  *tcall = k;
  return 0;
}

static int append_out(h2c_call *k, const uint8_t *p, size_t n) {
  if (k->out_len + n > k->out_cap) {
    size_t cap = k->out_cap ? k->out_cap * 2 : 1024;
    while (cap < k->out_len + n)
      cap *= 2;
    uint8_t *b = realloc(k->out, cap);
    if (!b)
      return WEFT_ERR_NOMEM;
    k->out = b;
    k->out_cap = cap;
  }
  if (n) /* p may be NULL for an empty message */
    memcpy(k->out + k->out_len, p, n);
  k->out_len += n;
  return 0;
}

static int h2_call_send(void *tcall, const void *msg) {
  h2c_call *k = tcall;
  weft_error err = {0};
  uint8_t *buf;
  size_t len;
  int rv = weft__h2_encode(msg, k->json, &buf, &len, &err);
  if (rv < 0)
    return rv;
  pthread_mutex_lock(&k->c->mu);
  if (k->out_end || k->done) {
    pthread_mutex_unlock(&k->c->mu);
    free(buf);
    return k->out_end ? WEFT_ERR_STATE : WEFT_ERR_CLOSED;
  }
  if (!k->stream_kind) {
    k->out_len = 0;
    rv = append_out(k, buf, len);
    pthread_mutex_unlock(&k->c->mu);
    free(buf);
    return rv;
  }
  while (k->out_len - k->out_off > H2C_OUT_HIGH_WATER && !k->done)
    pthread_cond_wait(&k->cv, &k->c->mu);
  uint8_t hdr[5];
  weft__connect_envelope_header(hdr, 0, (uint32_t)len);
  rv = append_out(k, hdr, 5);
  if (rv == 0)
    rv = append_out(k, buf, len);
  pthread_mutex_unlock(&k->c->mu);
  free(buf);
  if (rv == 0)
    post(k->c, resume_on_loop, k);
  return rv;
}

static int h2_call_close_send(void *tcall) {
  h2c_call *k = tcall;
  pthread_mutex_lock(&k->c->mu);
  k->out_end = true;
  bool submit = !k->submitted;
  k->submitted = true;
  pthread_mutex_unlock(&k->c->mu);
  post(k->c, submit ? submit_on_loop : resume_on_loop, k);
  return 0;
}

/* Waits on the call until pred holds or the deadline passes. c->mu held. */
static bool wait_until(h2c_call *k, bool (*pred)(const h2c_call *)) {
  while (!pred(k)) {
    if (k->deadline_ns == INT64_MAX) {
      pthread_cond_wait(&k->cv, &k->c->mu);
      continue;
    }
    /* The deadline is CLOCK_MONOTONIC; pthread_cond_timedwait wants
     * CLOCK_REALTIME unless the condattr says otherwise: convert. */
    int64_t left = k->deadline_ns - weft_now_ns();
    if (left <= 0)
      return false;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ns = (int64_t)ts.tv_nsec + (left < 50000000 ? left : 50000000);
    ts.tv_sec += ns / 1000000000;
    ts.tv_nsec = ns % 1000000000;
    pthread_cond_timedwait(&k->cv, &k->c->mu, &ts);
  }
  return true;
}

static bool has_msg_or_done(const h2c_call *k) {
  return k->resp.head || k->done || (k->stream_kind && k->resp.have_status);
}
static bool is_done(const h2c_call *k) {
  return k->done;
}

static void expire(h2c_call *k) {
  set_status_locked(k, WEFT_STATUS_DEADLINE_EXCEEDED, "deadline exceeded");
  k->done = true;
}

static int h2_call_recv(void *tcall, weft_arena *arena, void **msg) {
  h2c_call *k = tcall;
  h2c_conn *c = k->c;
  weft_error err = {0};
  pthread_mutex_lock(&c->mu);
  bool ok = wait_until(k, k->stream_kind ? has_msg_or_done : is_done);
  if (!ok) {
    expire(k);
    pthread_mutex_unlock(&c->mu);
    post(c, cancel_on_loop, k);
    return WEFT_ERR_TIMEOUT;
  }
  if (!k->stream_kind) {
    bool given = k->unary_given;
    k->unary_given = true;
    bool good = k->resp.have_status && k->resp.st.code == WEFT_STATUS_OK;
    pthread_mutex_unlock(&c->mu);
    if (!good)
      return WEFT_ERR_RPC;
    if (given)
      return 0;
    int rv = weft__connect_decode(k->m->output, k->json, k->resp.body,
                                  k->resp.body_len, k->resp.gzip, c->max_msg,
                                  arena, msg, &err);
    if (rv < 0) {
      pthread_mutex_lock(&c->mu);
      weft_status_set(&k->resp.st, WEFT_STATUS_INTERNAL,
                      "cannot decode the response: %s", err.message);
      pthread_mutex_unlock(&c->mu);
      return rv;
    }
    return 1;
  }
  weft__connect_msg *n = weft__connect_resp_pop(&k->resp);
  if (!n) {
    bool good = !k->resp.have_status || k->resp.st.code == WEFT_STATUS_OK;
    pthread_mutex_unlock(&c->mu);
    return good ? 0 : WEFT_ERR_RPC;
  }
  bool release = k->in_session;
  pthread_mutex_unlock(&c->mu);
  if (release)
    post(c, release_on_loop, k); /* the server may send more now */
  int rv = weft__connect_decode(k->m->output, k->json, n->data, n->len,
                                (n->flags & WEFT__CONNECT_FLAG_COMPRESSED) != 0,
                                c->max_msg, arena, msg, &err);
  free(n);
  return rv < 0 ? rv : 1;
}

static int h2_call_finish(void *tcall, weft_status *st, weft_metadata *md) {
  h2c_call *k = tcall;
  h2c_conn *c = k->c;
  pthread_mutex_lock(&c->mu);
  bool ok = wait_until(k, is_done);
  if (!ok)
    expire(k);
  if (st)
    weft_status_move(st, &k->resp.st);
  if (md)
    weft_metadata_copy(md, &k->resp.md);
  bool reset = !ok || k->in_session;
  pthread_mutex_unlock(&c->mu);
  if (reset)
    post(c, cancel_on_loop, k);
  call_unref(k);
  return 0;
}

static void h2_call_cancel(void *tcall) {
  h2c_call *k = tcall;
  pthread_mutex_lock(&k->c->mu);
  set_status_locked(k, WEFT_STATUS_CANCELLED, "cancelled by the client");
  k->done = true;
  pthread_cond_broadcast(&k->cv);
  pthread_mutex_unlock(&k->c->mu);
  post(k->c, cancel_on_loop, k);
}

const weft_client_transport weft__h2c_client_transport = {"h2c",
                                                          80,
                                                          h2c_connect,
                                                          h2_disconnect,
                                                          h2_call_start,
                                                          h2_call_send,
                                                          h2_call_close_send,
                                                          h2_call_recv,
                                                          h2_call_finish,
                                                          h2_call_cancel};
const weft_client_transport weft__https_client_transport = {
    "https",        443,           https_connect,      h2_disconnect,
    h2_call_start,  h2_call_send,  h2_call_close_send, h2_call_recv,
    h2_call_finish, h2_call_cancel};
