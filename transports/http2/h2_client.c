/* The h2c:// and https:// client: Connect calls over one HTTP/2 connection.
 *
 * The runtime glue over the I/O-free client engine (h2_client_engine.h):
 * the connection's socket lives on the process-wide client loop
 * (h2_io.c), which alone touches the engine. User threads build requests
 * and hand work to the loop with posts (submit the request, move request
 * bytes into the engine, return receive window, reset the stream).
 *
 * Blocking calls wait on the call's condition variable. Asynchronous calls
 * (call_start_async) hear their events on the loop thread: what a read
 * brought is noted per call during the engine's events and delivered once
 * the engine is out of them (after_flush), so a callback never runs inside
 * the engine. Sends never wait on the loop thread; elsewhere they wait
 * while a call has more than H2C_OUT_HIGH_WATER bytes not yet sent.
 *
 * Keepalive: with keepalive_ms > 0 a repeating loop timer sends a PING
 * on every tick that saw no response frame since the one before, and a
 * one-shot timer checks its ACK (weft__h2ce_expire) ping_timeout_ms later;
 * without one the connection is closed and its calls fail UNAVAILABLE
 * with the engine's reason, so a server that went silent (a dead peer, a
 * dropped NAT mapping) ends calls that would otherwise wait forever. The
 * ACK gets keepalive_ms, at least 1 s and at most 20 s (gRPC's default
 * keepalive timeout). There is no default interval: 0 sends no PINGs, as
 * gRPC's clients do.
 *
 * Unary calls are sent whole (headers + body) when the caller half-closes;
 * streaming calls open the stream at start and send enveloped messages as
 * the caller produces them. Lifetimes: a call is referenced by the user
 * (until finish), by the engine (until the stream closes), by pending posts
 * and by a pending delivery; the connection by its socket and its calls.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/dial.h"
#include "connect.h"
#include "connect_client.h"
#include "grpc_wire.h"
#include "h2_client.h"
#include "h2_client_engine.h"
#include "h2_io.h"
#include "h2_msg.h"
#include "weft/http.h"
#include "weft/transport.h"

#define H2C_OUT_HIGH_WATER (256 * 1024)
/* Response messages waiting for the caller's recv() beyond which the
 * stream's window is no longer returned (the server stops sending). */
#define H2C_QUEUE_HIGH_WATER (1024 * 1024)

typedef struct h2c_conn h2c_conn;
typedef struct h2c_call h2c_call;

struct h2c_conn {
  weft__h2io io; /* io.client is the engine */
  weft_client *client;
  weft_loop *loop;
  weft__tls_ctx *tls;
  pthread_mutex_t mu;
  int refs;    /* 1 for the user's connection handle + 1 per call */
  bool closed; /* socket gone */
  bool loop_gone;
  weft_codec_kind codec;
  bool grpc; /* gRPC instead of Connect (h2c:// only) */
  size_t max_msg;
  char authority[300];
  const char *scheme;
  h2c_call *calls;
  /* Loop thread: asynchronous calls with events to deliver, and window
   * returned while delivering them (a WINDOW_UPDATE to write). */
  h2c_call *noted;
  bool reflush;
  /* Keepalive (loop thread): a PING every keepalive_ms while nothing
   * arrives, failing the connection when its ACK is ping_timeout_ms late. */
  int64_t keepalive_ms, ping_timeout_ms;
  weft_timer *ka_timer, *ping_timer;
  bool rx_seen; /* a response frame since the last tick */
};

struct h2c_call {
  h2c_conn *c;
  int32_t id; /* 0 until submitted */
  int refs;
  h2c_call *next, *prev;
  const weft_method_desc *m;
  bool stream_kind, json;
  bool grpc; /* c->grpc: every body is enveloped, the status in trailers */
  int64_t deadline_ns;
  weft_metadata req_md;
  pthread_cond_t cv;

  /* Request body not yet in the engine (under c->mu). */
  uint8_t *out;
  size_t out_len, out_cap;
  size_t in_engine; /* bytes the engine still buffers (its `sent` event) */
  bool out_end;
  bool submitted, in_session;

  /* Response (under c->mu; connect_client.h: status, metadata, the
   * messages waiting for recv). */
  weft__connect_resp resp;
  size_t held; /* loop thread: bytes received, window not returned */
  bool done;   /* stream closed, or the call cancelled or failed */
  bool cancelled;
  bool head_seen;
  bool unary_given;
  /* gRPC: the status fields as they came, whether trailers did, whether
   * the body had any bytes (a head that ended the stream is trailers). */
  weft__grpc_trailers gt;
  bool got_trailers, got_data;

  /* Asynchronous calls: events instead of recv (under c->mu). One thread
   * at a time delivers them (as_busy); nothing after on_end. */
  const weft_call_events *as;
  void *as_ud;
  weft_arena *as_arena;
  bool as_busy, as_ended, as_headers;
  bool as_noted; /* loop thread: on c->noted */
  h2c_call *as_next;
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
  weft__grpc_trailers_free(&k->gt);
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

/* ---- asynchronous delivery ------------------------------------------ */

/* c->mu held: takes the right to deliver k's events, if it is
 * asynchronous, nobody delivers them now and the end was not delivered. */
static bool as_claim(h2c_call *k) {
  if (!k->as || k->as_busy || k->as_ended)
    return false;
  k->as_busy = true;
  return true;
}

static void release_credit(h2c_call *k);
static void cancel_on_loop(void *ud);

/* Decodes a unary response: Connect's body, or gRPC's one message, which
 * must be there when the status is OK (gRPC's clients answer INTERNAL).
 * c->mu held. */
static int decode_unary(h2c_call *k, weft_arena *arena, void **msg,
                        weft_error *err) {
  if (!k->grpc)
    return weft__connect_decode(k->m->output, k->json, k->resp.body,
                                k->resp.body_len, k->resp.gzip, k->c->max_msg,
                                arena, msg, err);
  weft__connect_msg *n = weft__connect_resp_pop(&k->resp);
  if (!n)
    return weft_error_set(err, WEFT_ERR_MALFORMED,
                          "no message in a unary gRPC response");
  int rv = weft__connect_decode(k->m->output, k->json, n->data, n->len,
                                (n->flags & WEFT__CONNECT_FLAG_COMPRESSED) != 0,
                                k->c->max_msg, arena, msg, err);
  free(n);
  return rv;
}

/* Decodes a unary response's body into a message for on_message (NULL:
 * none, the status says why). c->mu held. */
static void *unary_message(h2c_call *k) {
  if (!k->resp.have_status || k->resp.st.code != WEFT_STATUS_OK)
    return NULL;
  void *msg = NULL;
  weft_error err = {0};
  if (decode_unary(k, k->as_arena, &msg, &err) < 0) {
    weft_status_set(&k->resp.st, WEFT_STATUS_INTERNAL,
                    "cannot decode the response: %s", err.message);
    return NULL;
  }
  return msg;
}

/* Delivers what k has (headers, messages in order, then the end) with
 * c->mu free during the callbacks; the caller claimed k (as_claim). Runs
 * on the loop thread, or on the thread that cancels the call (then no
 * message is delivered: cancelled is set). Nothing touches the runtime's
 * call after on_end (k itself lives on: the caller holds a reference). */
static void as_deliver(h2c_call *k) {
  h2c_conn *c = k->c;
  const weft_call_events *ev = k->as;
  void *ud = k->as_ud;
  pthread_mutex_lock(&c->mu);
  for (;;) {
    if (!k->as_headers && k->stream_kind && (k->head_seen || k->done)) {
      k->as_headers = true;
      weft_metadata h = WEFT_METADATA_INIT;
      (void)weft_metadata_copy(&h, &k->resp.md); /* NOMEM: fewer headers */
      pthread_mutex_unlock(&c->mu);
      if (ev->on_headers)
        ev->on_headers(ud, &h);
      weft_metadata_clear(&h);
      pthread_mutex_lock(&c->mu);
      continue;
    }
    weft__connect_msg *n = k->stream_kind && !k->cancelled
                               ? weft__connect_resp_pop(&k->resp)
                               : NULL;
    if (n) {
      bool release = k->in_session && weft_loop_in_thread(c->loop);
      pthread_mutex_unlock(&c->mu);
      if (release && k->held > 0) {
        release_credit(k); /* the server may send more now */
        c->reflush = true;
      }
      void *msg = NULL;
      weft_error err = {0};
      int rv =
          weft__connect_decode(k->m->output, k->json, n->data, n->len,
                               (n->flags & WEFT__CONNECT_FLAG_COMPRESSED) != 0,
                               c->max_msg, k->as_arena, &msg, &err);
      free(n);
      if (rv >= 0) {
        ev->on_message(ud, msg);
        pthread_mutex_lock(&c->mu);
        continue;
      }
      pthread_mutex_lock(&c->mu);
      weft__connect_resp_status(&k->resp, WEFT_STATUS_INTERNAL,
                                "cannot decode the response: %s", err.message);
      k->cancelled = k->done = true;
      pthread_mutex_unlock(&c->mu);
      post(c, cancel_on_loop, k);
      pthread_mutex_lock(&c->mu);
      continue;
    }
    if (k->done) {
      void *msg = !k->stream_kind && !k->cancelled ? unary_message(k) : NULL;
      k->as_ended = true;
      k->as_busy = false;
      pthread_mutex_unlock(&c->mu);
      if (msg)
        ev->on_message(ud, msg);
      ev->on_end(ud);
      return;
    }
    k->as_busy = false;
    pthread_mutex_unlock(&c->mu);
    return;
  }
}

/* Loop thread, from the engine's events: k has something to deliver once
 * the engine is out of its events (deliver_noted). */
static void note(h2c_call *k) {
  if (!k->as || k->as_noted)
    return;
  h2c_conn *c = k->c;
  pthread_mutex_lock(&c->mu);
  k->refs++;
  pthread_mutex_unlock(&c->mu);
  k->as_noted = true;
  k->as_next = c->noted;
  c->noted = k;
}

static void deliver_noted(h2c_conn *c) {
  while (c->noted) {
    h2c_call *k = c->noted;
    c->noted = k->as_next;
    k->as_noted = false;
    pthread_mutex_lock(&c->mu);
    bool go = as_claim(k);
    pthread_mutex_unlock(&c->mu);
    if (go)
      as_deliver(k);
    call_unref(k);
  }
}

static void after_flush(weft__h2io *io, void *ud) {
  h2c_conn *c = ud;
  deliver_noted(c);
  if (c->reflush && !io->closed) {
    c->reflush = false;
    weft__h2io_flush(io);
  }
}

/* ---- loop thread --------------------------------------------------- */

/* Moves the request bytes the user queued into the engine. */
static void move_out(h2c_call *k) {
  h2c_conn *c = k->c;
  pthread_mutex_lock(&c->mu);
  uint8_t *buf = k->out;
  size_t len = k->out_len;
  bool end = k->out_end;
  k->out = NULL;
  k->out_len = k->out_cap = 0;
  pthread_mutex_unlock(&c->mu);
  if (len || end) {
    if (weft__h2ce_submit_data(c->io.client, k->id, buf, len, end) < 0 && !end)
      weft__h2ce_submit_rst(c->io.client, k->id, WEFT__H2E_INTERNAL_ERROR);
    size_t left = weft__h2ce_buffered(c->io.client, k->id);
    pthread_mutex_lock(&c->mu);
    k->in_engine = left;
    pthread_cond_broadcast(&k->cv);
    pthread_mutex_unlock(&c->mu);
  }
  free(buf);
}

/* The call ended before its stream: status and waiters (c->mu free). */
static void fail_call(h2c_call *k, const char *msg) {
  h2c_conn *c = k->c;
  pthread_mutex_lock(&c->mu);
  set_status_locked(k, WEFT_STATUS_UNAVAILABLE, msg);
  k->done = true;
  pthread_cond_broadcast(&k->cv);
  bool go = as_claim(k);
  pthread_mutex_unlock(&c->mu);
  if (go)
    as_deliver(k);
}

static void submit_on_loop(void *ud) {
  h2c_call *k = ud;
  h2c_conn *c = k->c;
  if (c->io.closed) {
    fail_call(k, "connection closed");
    call_unref(k);
    return;
  }
  pthread_mutex_lock(&c->mu);
  bool cancelled = k->done;
  pthread_mutex_unlock(&c->mu);
  if (cancelled) { /* before its stream opened */
    call_unref(k);
    return;
  }
  weft__h2_ctype ct =
      k->stream_kind ? (k->json ? WEFT__CT_STREAM_JSON : WEFT__CT_STREAM_PROTO)
                     : (k->json ? WEFT__CT_JSON : WEFT__CT_PROTO);
  char timeout[24];
  int64_t timeout_ms = weft__connect_timeout_ms(k->deadline_ns);
  size_t n = 0;
  weft__h2e_nv small[24];
  /* gRPC's "-bin" values go out as base64; these hold the encodings. */
  char *bin_small[8] = {0}, **bin = bin_small;
  size_t need = 10 + k->req_md.count;
  weft__h2e_nv *nv = need <= 24 ? small : calloc(need, sizeof *nv);
  if (nv && k->grpc && k->req_md.count > 8)
    bin = calloc(k->req_md.count, sizeof *bin);
  if (!nv || !bin) {
    if (nv != small)
      free(nv);
    fail_call(k, "out of memory");
    call_unref(k);
    return;
  }
#define NV(n, v) (weft__h2e_nv){(n), (const uint8_t *)(v), strlen(n), strlen(v)}
  nv[n++] = NV(":method", "POST");
  nv[n++] = NV(":scheme", c->scheme);
  nv[n++] = NV(":authority", c->authority);
  nv[n++] = NV(":path", k->m->path);
  if (k->grpc) {
    /* PROTOCOL-HTTP2.md: te before the rest, as proxies look for it. */
    nv[n++] = NV("te", "trailers");
    nv[n++] = NV("content-type", weft__grpc_ctype_str(WEFT__GRPC_H2, k->json));
    nv[n++] = NV("grpc-accept-encoding", "identity,gzip");
    if (k->deadline_ns != INT64_MAX) {
      int64_t left = k->deadline_ns - weft_now_ns();
      weft__grpc_format_timeout(left < 1 ? 1 : left, timeout);
      nv[n++] = NV("grpc-timeout", timeout);
    }
  } else {
    nv[n++] = NV("content-type", weft__h2_ctype_str(ct));
    nv[n++] = NV("connect-protocol-version", "1");
    nv[n++] = NV(k->stream_kind ? "connect-accept-encoding" : "accept-encoding",
                 "gzip");
    if (timeout_ms > 0) {
      snprintf(timeout, sizeof timeout, "%lld", (long long)timeout_ms);
      nv[n++] = NV("connect-timeout-ms", timeout);
    }
  }
#undef NV
  bool nomem = false;
  for (size_t i = 0; i < k->req_md.count; i++) {
    weft_metadata_entry *e = &k->req_md.entries[i];
    size_t klen = strlen(e->key);
    if (k->grpc && weft__grpc_bin_key(e->key, klen)) {
      size_t blen = 0;
      if (weft__grpc_bin_encode(e->value, e->value_len, &bin[i], &blen) < 0) {
        nomem = true;
        break;
      }
      nv[n++] = (weft__h2e_nv){e->key, (const uint8_t *)bin[i], klen, blen};
      continue;
    }
    nv[n++] = (weft__h2e_nv){e->key, e->value, klen, e->value_len};
  }
  int32_t id = nomem ? WEFT_ERR_NOMEM
                     : weft__h2ce_submit_request(c->io.client, nv, n, false, k);
  if (nv != small)
    free(nv);
  if (k->grpc)
    for (size_t i = 0; i < k->req_md.count; i++) /* bin has count slots */
      free(bin[i]);
  if (bin != bin_small)
    free(bin);
  if (id < 0) {
    fail_call(k, id == WEFT_ERR_NOMEM
                     ? "cannot open an HTTP/2 stream: out of memory"
                     : "cannot open an HTTP/2 stream: the connection is "
                       "going away");
    call_unref(k);
    return;
  }
  pthread_mutex_lock(&c->mu);
  k->id = id;
  k->in_session = true; /* keeps the post's reference until closed */
  pthread_mutex_unlock(&c->mu);
  move_out(k);
  weft__h2io_flush(&c->io);
}

static void resume_on_loop(void *ud) {
  h2c_call *k = ud;
  if (!k->c->io.closed && k->in_session) {
    move_out(k);
    weft__h2io_flush(&k->c->io);
  }
  call_unref(k);
}

static void cancel_on_loop(void *ud) {
  h2c_call *k = ud;
  if (!k->c->io.closed && k->in_session) {
    weft__h2ce_submit_rst(k->c->io.client, k->id, WEFT__H2E_CANCEL);
    weft__h2io_flush(&k->c->io);
  }
  call_unref(k);
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
  weft__h2ce_credit(c->io.client, k->id, k->held);
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

/* ---- engine events (loop thread) -------------------------------------- */

/* A gRPC response field other than :status (c->mu held): the status keys
 * are kept for the end, grpc-encoding says whether compressed frames are
 * gzip, "-bin" values are base64 on the wire; the protocol's other headers
 * are not metadata. */
static void grpc_field(h2c_call *k, const weft__h2e_nv *f) {
  const char *name = f->name, *v = (const char *)f->value;
  int rv = weft__grpc_trailers_field(&k->gt, name, f->nlen, v, f->vlen);
  if (rv != 0) {
    if (rv < 0)
      weft__connect_resp_status(&k->resp, WEFT_STATUS_RESOURCE_EXHAUSTED,
                                "out of memory");
    return;
  }
  if (f->nlen == 12 && memcmp(name, "content-type", 12) == 0) {
    if (k->resp.http_status == 200 && !weft__grpc_response_ctype_ok(v, f->vlen))
      weft__connect_resp_status(&k->resp, WEFT_STATUS_INTERNAL,
                                "the response's content-type is '%.*s', not "
                                "application/grpc",
                                (int)(f->vlen < 64 ? f->vlen : 64), v);
    return;
  }
  if (f->nlen == 13 && memcmp(name, "grpc-encoding", 13) == 0) {
    k->resp.gzip = weft__grpc_parse_encoding(v, f->vlen) == WEFT__GRPC_ENC_GZIP;
    return;
  }
  if (weft__h2_reserved_header(name, f->nlen) || f->nlen >= 256)
    return;
  char key[256];
  memcpy(key, name, f->nlen); /* HTTP/2 field names are lower case */
  key[f->nlen] = '\0';
  if (!weft__grpc_bin_key(name, f->nlen)) {
    weft_metadata_add(&k->resp.md, key, v, f->vlen);
    return;
  }
  uint8_t *d = NULL;
  size_t dl = 0;
  if (weft__grpc_bin_decode(v, f->vlen, &d, &dl) == 0) /* else dropped */
    weft_metadata_add(&k->resp.md, key, d, dl);
  free(d);
}

/* The gRPC status once the response is over (c->mu held): from the
 * trailers, or what their absence means (weft__grpc_client_status). A
 * stream cut inside a message is INTERNAL even with an OK status. */
static void grpc_status_locked(h2c_call *k, bool ended) {
  if (k->resp.have_status)
    return;
  weft_status st = {0};
  /* A head that ended the stream with no body is a trailers-only
   * response, with or without grpc-status. */
  bool trailers = k->got_trailers || (ended && !k->got_data);
  if (weft__grpc_client_status(&k->gt, k->resp.http_status, trailers, &st) < 0)
    weft_status_set(&st, WEFT_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  /* Unary and client-streaming methods answer exactly one message: none,
   * or more, is INTERNAL, as gRPC's clients say. */
  bool single =
      k->m->kind == WEFT_RPC_UNARY || k->m->kind == WEFT_RPC_CLIENT_STREAM;
  if (st.code == WEFT_STATUS_OK && k->resp.http_status == 200 &&
      !weft__connect_reader_idle(&k->resp.reader))
    weft_status_set(&st, WEFT_STATUS_INTERNAL,
                    "the gRPC response ended inside a message");
  else if (st.code == WEFT_STATUS_OK && single && k->resp.received != 1)
    weft_status_set(&st, WEFT_STATUS_INTERNAL,
                    "%zu messages in the response of %s (one expected)",
                    k->resp.received, k->m->path);
  weft__connect_resp_take_status(&k->resp, &st);
}

static void ev_headers(void *ud, void *st, const weft__h2e_nv *f, size_t n,
                       bool trailers) {
  h2c_conn *c = ud;
  h2c_call *k = st;
  c->rx_seen = true;
  pthread_mutex_lock(&c->mu);
  for (size_t i = 0; i < n; i++) {
    const char *v = (const char *)f[i].value;
    if (f[i].nlen == 7 && memcmp(f[i].name, ":status", 7) == 0) {
      char code[4] = {0};
      memcpy(code, v, f[i].vlen < 3 ? f[i].vlen : 3);
      k->resp.http_status = atoi(code);
    } else if (k->grpc) {
      grpc_field(k, &f[i]);
    } else {
      weft__connect_resp_header(&k->resp, f[i].name, f[i].nlen, v, f[i].vlen);
    }
  }
  if (trailers)
    k->got_trailers = true;
  if (!trailers)
    k->head_seen = true;
  pthread_mutex_unlock(&c->mu);
  note(k);
}

static int ev_data(void *ud, void *st, const uint8_t *data, size_t len) {
  h2c_conn *c = ud;
  h2c_call *k = st;
  c->rx_seen = true;
  weft_error err = {0};
  pthread_mutex_lock(&c->mu);
  /* A streaming response's window is returned as recv() keeps up
   * (release_credit); a unary body is bounded by the size limit, so its
   * window is returned as it comes. */
  bool stream = k->stream_kind && k->resp.http_status == 200;
  k->got_data = k->got_data || len > 0;
  int rv = weft__connect_resp_data(&k->resp, data, len, &err);
  pthread_cond_broadcast(&k->cv);
  pthread_mutex_unlock(&c->mu);
  note(k);
  if (stream) {
    k->held += len;
    if (rv >= 0) {
      release_credit(k);
      return 0;
    }
    weft__h2ce_credit(c->io.client, k->id, k->held);
    k->held = 0;
  } else {
    weft__h2ce_credit(c->io.client, k->id, len);
  }
  if (rv == WEFT_ERR_NOMEM)
    return -1; /* reset: INTERNAL_ERROR */
  if (rv < 0)
    weft__h2ce_submit_rst(c->io.client, k->id,
                          rv == WEFT_ERR_TOO_BIG ? WEFT__H2E_CANCEL
                                                 : WEFT__H2E_PROTOCOL_ERROR);
  return 0;
}

/* The response ended. A stream whose request side is still open (a
 * bidi call the server finished first) is done once its end-of-stream
 * message is in: finish resets the rest, instead of waiting for a close
 * the caller may be waiting for us to report. */
static void ev_end(void *ud, void *st) {
  h2c_conn *c = ud;
  h2c_call *k = st;
  pthread_mutex_lock(&c->mu);
  if (k->grpc)
    grpc_status_locked(k, true);
  bool over = (k->stream_kind || k->grpc) && k->resp.have_status && !k->done;
  if (over) {
    k->done = true;
    pthread_cond_broadcast(&k->cv);
  }
  pthread_mutex_unlock(&c->mu);
  if (over)
    note(k);
}

static void ev_closed(void *ud, void *st, uint32_t code) {
  h2c_conn *c = ud;
  h2c_call *k = st;
  k->held = 0; /* the engine gave the connection its window back */
  pthread_mutex_lock(&c->mu);
  k->in_session = false;
  k->done = true;
  k->in_engine = 0;
  if (k->grpc && code != WEFT__H2E_NO_ERROR &&
      !(k->resp.http_status == 0 && code == WEFT__H2E_REFUSED_STREAM)) {
    char msg[64];
    snprintf(msg, sizeof msg, "stream reset by the server (%s)",
             weft__h2e_code_name(code));
    set_status_locked(k, weft__grpc_status_from_rst(code), msg);
  } else if (k->resp.http_status == 200 && code != WEFT__H2E_NO_ERROR)
    set_status_locked(k,
                      code == WEFT__H2E_CANCEL ? WEFT_STATUS_CANCELLED
                                               : WEFT_STATUS_UNAVAILABLE,
                      "stream reset by the server");
  else if (k->resp.http_status == 0 && code == WEFT__H2E_REFUSED_STREAM)
    set_status_locked(k, WEFT_STATUS_UNAVAILABLE,
                      "the server refused the stream (GOAWAY)");
  if (k->grpc)
    grpc_status_locked(k, false);
  else
    weft__connect_resp_end(&k->resp);
  pthread_cond_broadcast(&k->cv);
  pthread_mutex_unlock(&c->mu);
  note(k);
  call_unref(k); /* the engine's reference */
}

static void ev_sent(void *ud, void *st, size_t left) {
  h2c_conn *c = ud;
  h2c_call *k = st;
  pthread_mutex_lock(&c->mu);
  k->in_engine = left;
  pthread_cond_broadcast(&k->cv);
  pthread_mutex_unlock(&c->mu);
}

static const weft__h2ce_events engine_events = {
    ev_headers, ev_data, ev_end, ev_closed, ev_sent, NULL, NULL};

static void on_conn_closed(weft__h2io *io, const weft_error *why, void *ud) {
  h2c_conn *c = ud;
  (void)io;
  /* Also from inside the timers' own callbacks, which is allowed. */
  weft_timer_cancel(c->loop, c->ka_timer);
  c->ka_timer = NULL;
  weft_timer_cancel(c->loop, c->ping_timer);
  c->ping_timer = NULL;
  char msg[WEFT_ERROR_MSG_MAX + 32];
  snprintf(msg, sizeof msg, "connection lost%s%s", why ? ": " : "",
           why ? why->message : "");
  /* Deliveries noted but not made: the end comes below. */
  while (c->noted) {
    h2c_call *k = c->noted;
    c->noted = k->as_next;
    k->as_noted = false;
    call_unref(k);
  }
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
      if (k->in_session || (k->as && !k->as_ended && !k->as_busy)) {
        victim = k;
        k->refs++;
        break;
      }
    }
    pthread_mutex_unlock(&c->mu);
    if (!victim)
      break;
    pthread_mutex_lock(&c->mu);
    bool engine_ref = victim->in_session;
    victim->in_session = false;
    bool go = as_claim(victim);
    pthread_mutex_unlock(&c->mu);
    if (go)
      as_deliver(victim);
    if (engine_ref)
      call_unref(victim);
    call_unref(victim);
  }
  weft_client_notify(c->client, WEFT_CONN_DISCONNECTED, why);
}

/* ---- weft_client_transport ------------------------------------------ */

static void ping_check(weft_loop *l, weft_timer *t, void *ud) {
  h2c_conn *c = ud;
  (void)t;
  c->ping_timer = NULL; /* a one-shot: the loop frees it */
  if (c->io.closed)
    return;
  weft_error e;
  int64_t now = weft_now_ns();
  if (weft__h2ce_expire(c->io.client, now, &e) == 0) {
    int64_t due = weft__h2ce_next_timeout(c->io.client);
    if (due != INT64_MAX) /* not acknowledged, not late yet: a timer tick */
      c->ping_timer =
          weft_loop_timer(l, (due - now + 999999) / 1000000, 0, ping_check, c);
    return;
  }
  /* The GOAWAY the engine queued goes out if the socket takes it; a peer
   * that stopped reading must not keep the connection open either. */
  weft__h2io_flush(&c->io);
  if (!c->io.closed)
    weft__h2io_close(&c->io, &e);
}

static void ka_tick(weft_loop *l, weft_timer *t, void *ud) {
  h2c_conn *c = ud;
  (void)t;
  if (c->io.closed || c->ping_timer)
    return;
  if (c->rx_seen) { /* the connection is alive: no PING needed */
    c->rx_seen = false;
    return;
  }
  if (weft__h2ce_ping(c->io.client, weft_now_ns()) < 0)
    return; /* out of memory: the next tick tries again */
  c->ping_timer = weft_loop_timer(l, c->ping_timeout_ms, 0, ping_check, c);
  weft__h2io_flush(&c->io);
}

static void start_on_loop(void *ud) {
  h2c_conn *c = ud;
  weft__h2io_start(&c->io);
  weft__h2io_flush(&c->io);
  if (c->keepalive_ms > 0 && !c->io.closed)
    c->ka_timer =
        weft_loop_timer(c->loop, c->keepalive_ms, c->keepalive_ms, ka_tick, c);
}

/* Connects, or with `adopt` set takes over a connection another transport
 * opened (https:// whose ALPN picked h2): adopt and adopt_tls then belong
 * to this connection, also when it fails. */
static int h2_connect_conn(weft_client *client, const weft_url *url,
                           const weft_client_opts *o, void **out,
                           weft_error *err, bool tls, weft__conn *adopt,
                           weft__tls_ctx *adopt_tls) {
  /* The protocol from weft_http_client_opts: Connect or gRPC. (https://
   * hands a connection over only when ALPN picked h2, and never one for
   * gRPC-Web, an HTTP/1.1 protocol here.) */
  const weft_http_client_opts *ho = NULL;
  int rv = weft_opts_get(o ? o->transport_opts : NULL,
                         WEFT_HTTP_CLIENT_OPTS_TAG, (const void **)&ho, err);
  weft_http_protocol proto = ho ? ho->protocol : WEFT_HTTP_CONNECT;
  if (rv == 0 && proto != WEFT_HTTP_CONNECT && proto != WEFT_HTTP_GRPC)
    rv = weft_error_set(err, WEFT_ERR_UNSUPPORTED,
                        "weft_http_client_opts.protocol: %s:// over HTTP/2 "
                        "speaks connect or grpc, not %s",
                        tls ? "https" : "h2c", weft_http_protocol_name(proto));
  if (rv < 0) {
    weft__conn_close(adopt);
    weft__tls_ctx_free(adopt_tls);
    return rv;
  }
  h2c_conn *c = calloc(1, sizeof *c);
  if (!c) {
    weft__conn_close(adopt);
    weft__tls_ctx_free(adopt_tls);
    return weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
  }
  c->grpc = proto == WEFT_HTTP_GRPC;
  pthread_mutex_init(&c->mu, NULL);
  c->refs = 1;
  c->client = client;
  c->codec = o ? o->codec : WEFT_CODEC_PROTO;
  c->max_msg = o && o->max_message_size ? o->max_message_size : 4u << 20;
  c->scheme = tls ? "https" : "http";
  int port = url->port > 0 ? url->port : (tls ? 443 : 80);
  snprintf(c->authority, sizeof c->authority, "%s:%d", url->host, port);
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
  /* Windows: 1 MiB per stream, 4 MiB for the connection; ours to return
   * (release_credit). */
  weft__h2ce_cfg cfg;
  memset(&cfg, 0, sizeof cfg);
  c->keepalive_ms = o && o->keepalive_ms > 0 ? o->keepalive_ms : 0;
  c->ping_timeout_ms = c->keepalive_ms < 1000    ? 1000
                       : c->keepalive_ms > 20000 ? 20000
                                                 : c->keepalive_ms;
  cfg.ping_timeout_ms = c->ping_timeout_ms;
  if (rv == 0 && weft__h2ce_new(&c->io.client, &cfg, &engine_events, c) < 0)
    rv = weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
  /* The process-wide client loop, shared with every other client. */
  if (rv == 0)
    rv = weft_client_loop_acquire(&c->loop, err);
  if (rv < 0) {
    weft__h2ce_free(c->io.client);
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
  c->io.after_flush = after_flush;
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

/* A reconnect attempt on the loop (connect_async): the connection is
 * dialled there (transports/common/dial.h), then set up as connect does. */
static int h2_adopt(weft_client *client, const weft_url *url,
                    const weft_client_opts *o, weft__conn *sock,
                    weft__tls_ctx *tls, void **out, weft_error *err) {
  return h2_connect_conn(client, url, o, out, err, tls != NULL, sock, tls);
}

static int h2_connect_async(weft_client *client, const weft_url *url,
                            const weft_client_opts *o,
                            void (*done)(weft_client *, int, void *,
                                         const weft_error *),
                            weft_error *err, bool tls) {
  static const char *const alpn[] = {"h2", NULL};
  weft__tls_ctx *ctx = NULL;
  int rv =
      tls ? weft__tls_ctx_new(&ctx, false, o ? &o->tls : NULL, alpn, err) : 0;
  if (rv < 0)
    return rv;
  int port = url->port > 0 ? url->port : (tls ? 443 : 80);
  return weft__dial_connect_async(client, url, o, port, ctx, h2_adopt, done,
                                  err);
}

static int h2c_connect_async(weft_client *client, const weft_url *url,
                             const weft_client_opts *o,
                             void (*done)(weft_client *, int, void *,
                                          const weft_error *),
                             weft_error *err) {
  return h2_connect_async(client, url, o, done, err, false);
}

static int https_connect_async(weft_client *client, const weft_url *url,
                               const weft_client_opts *o,
                               void (*done)(weft_client *, int, void *,
                                            const weft_error *),
                               weft_error *err) {
  return h2_connect_async(client, url, o, done, err, true);
}

static void close_on_loop(void *ud) {
  h2c_conn *c = ud;
  if (!c->io.closed) {
    weft__h2ce_goaway(c->io.client, WEFT__H2E_NO_ERROR);
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

static int new_call(h2c_conn *c, const weft_method_desc *m,
                    const weft_metadata *md, int64_t deadline_ns,
                    const weft_call_events *ev, void *ud, weft_arena *arena,
                    h2c_call **out, weft_error *err) {
  h2c_call *k = calloc(1, sizeof *k);
  if (!k)
    return weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
  k->c = c;
  k->m = m;
  k->refs = 1; /* the user's */
  k->stream_kind = m->kind != WEFT_RPC_UNARY;
  k->json = c->codec == WEFT_CODEC_JSON;
  k->deadline_ns = deadline_ns;
  k->as = ev;
  k->as_ud = ud;
  k->as_arena = arena;
  pthread_cond_init(&k->cv, NULL);
  k->grpc = c->grpc;
  weft__connect_resp_init(&k->resp, c->max_msg, k->stream_kind || k->grpc);
  k->resp.grpc = k->grpc;
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
    if (!post(c, submit_on_loop, k))
      fail_call(k, "connection closed");
  }
  *out = k;
  return 0;
}

static int h2_call_start(void *ud, const weft_method_desc *m,
                         const weft_metadata *md, int64_t deadline_ns,
                         void **tcall, weft_error *err) {
  return new_call(ud, m, md, deadline_ns, NULL, NULL, NULL, (h2c_call **)tcall,
                  err);
}

/* The events go to ev on the client loop (see the top of the file). */
static int h2_call_start_async(void *ud, const weft_method_desc *m,
                               const weft_metadata *md, int64_t deadline_ns,
                               weft_arena *arena, const weft_call_events *ev,
                               void *evud, void **tcall, weft_error *err) {
  if (!ev || !ev->on_message || !ev->on_end)
    return weft_error_set(err, WEFT_ERR_INVAL, "call_start_async: %s",
                          "on_message and on_end are required");
  return new_call(ud, m, md, deadline_ns, ev, evud, arena, (h2c_call **)tcall,
                  err);
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
    uint8_t hdr[5];
    weft__grpc_frame_header(hdr, 0, (uint32_t)len);
    rv = k->grpc ? append_out(k, hdr, 5) : 0; /* gRPC frames unary too */
    if (rv == 0)
      rv = append_out(k, buf, len);
    pthread_mutex_unlock(&k->c->mu);
    free(buf);
    return rv;
  }
  /* Backpressure, but never on the loop thread: it is the one that sends
   * (an asynchronous call's callback just queues). */
  if (!weft_loop_in_thread(k->c->loop))
    while (k->out_len + k->in_engine > H2C_OUT_HIGH_WATER && !k->done)
      pthread_cond_wait(&k->cv, &k->c->mu);
  uint8_t hdr[5];
  weft__connect_envelope_header(hdr, 0, (uint32_t)len);
  rv = append_out(k, hdr, 5);
  if (rv == 0)
    rv = append_out(k, buf, len);
  /* One post moves everything queued meanwhile. */
  bool kick = rv == 0 && k->out_len == 5 + len;
  pthread_mutex_unlock(&k->c->mu);
  free(buf);
  if (kick)
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
  if (!post(k->c, submit ? submit_on_loop : resume_on_loop, k) && submit)
    fail_call(k, "connection closed");
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
    /* gRPC's one message leaves the queue here, decoded unlocked below. */
    weft__connect_msg *n =
        k->grpc && good && !given ? weft__connect_resp_pop(&k->resp) : NULL;
    pthread_mutex_unlock(&c->mu);
    if (!good)
      return WEFT_ERR_RPC;
    if (given)
      return 0;
    int rv;
    if (!k->grpc)
      rv = weft__connect_decode(k->m->output, k->json, k->resp.body,
                                k->resp.body_len, k->resp.gzip, c->max_msg,
                                arena, msg, &err);
    else if (!n)
      rv = weft_error_set(&err, WEFT_ERR_MALFORMED,
                          "no message in a unary gRPC response");
    else
      rv = weft__connect_decode(k->m->output, k->json, n->data, n->len,
                                (n->flags & WEFT__CONNECT_FLAG_COMPRESSED) != 0,
                                c->max_msg, arena, msg, &err);
    free(n);
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

/* Blocking calls wait for the end here; an asynchronous call is finished
 * by the runtime after its on_end, so it is done and nothing waits. */
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

/* Any thread. An asynchronous call's end is delivered here unless the
 * loop thread is delivering its events right now (it then sees `done`). */
static void h2_call_cancel(void *tcall) {
  h2c_call *k = tcall;
  pthread_mutex_lock(&k->c->mu);
  set_status_locked(k, WEFT_STATUS_CANCELLED, "cancelled by the client");
  k->done = k->cancelled = true;
  pthread_cond_broadcast(&k->cv);
  bool go = as_claim(k);
  pthread_mutex_unlock(&k->c->mu);
  post(k->c, cancel_on_loop, k);
  if (go)
    as_deliver(k);
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
                                                          h2_call_cancel,
                                                          h2_call_start_async,
                                                          h2c_connect_async};
const weft_client_transport weft__https_client_transport = {
    "https",
    443,
    https_connect,
    h2_disconnect,
    h2_call_start,
    h2_call_send,
    h2_call_close_send,
    h2_call_recv,
    h2_call_finish,
    h2_call_cancel,
    h2_call_start_async,
    https_connect_async};
