/* The h2c:// and https:// server: Connect, gRPC and gRPC-Web on HTTP/2
 * (the I/O-free engine in h2_engine.c) and HTTP/1.1 (h1_conn.c). This file
 * is the runtime glue: sockets (h2_io.c), the loop, timers, the worker
 * pool, and what a request means (routing, validation, the call ops).
 *
 * Protocols: a request's content-type picks one (request_protocol). gRPC
 * and gRPC-Web frame messages with the same 5-byte prefix as Connect
 * streams, so they run on the Connect streaming path (ct is set to a
 * Connect stream type) and differ only where the stream's `proto` field is
 * tested: request headers, the request reader, finishing (status in HTTP/2
 * trailers, or in gRPC-Web's trailers frame) and the response headers. The
 * wire details themselves are in grpc_wire.c.
 *
 * Threads: the engine and its events run on the listener's loop thread.
 * Handlers run on the runtime's worker pool and talk to a stream through the
 * weft_server_call_ops below, under the connection mutex; whenever a worker
 * produces output it posts a "kick" to the loop, which submits the response
 * or resumes the deferred data provider.
 *
 * Lifetimes: a stream is referenced by the engine (until the stream closes or
 * the connection dies), by the runtime (from dispatch until ops->finish) and
 * by each pending kick. A connection is referenced by its socket and by each
 * of its streams, so a worker finishing late never touches freed memory.
 *
 * Flow control: request bodies are consumed (WINDOW_UPDATE) only when a
 * worker takes a message, so a slow handler slows its client instead of
 * growing memory; responses block the handler in send() above a high-water
 * mark until the engine has written them out.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "accept.h"
#include "connect.h"
#include "grpc_wire.h"
#include "h2_call.h"
#include "h2_engine.h"
#include "h2_io.h"
#include "h2_msg.h"
#include "rxq.h"
#include "txq.h"
#include "weft/base64.h"
#include "weft/http2.h"
#include "weft/json.h"
#include "weft/rest.h"
#include "weft/transport.h"

#define H2S_MAX_HEADER_BYTES 16384
#define H2S_MAX_CONCURRENT 100
#define H2S_OUT_HIGH_WATER (256 * 1024)
/* A shared encoding from this size on is referenced until it is written,
 * not copied: below it a copy next to the envelope header (one allocation)
 * costs less than two atomic operations on a count that every subscriber's
 * thread touches. */
#define H2S_REF_MIN 1024
#define H2S_STREAM_WINDOW (256 * 1024)
#define H2S_CONN_WINDOW (1024 * 1024)
/* Request messages waiting for their handler beyond which the stream's
 * window is no longer returned. */
#define H2S_QUEUE_HIGH_WATER (256 * 1024)
#define H2S_GZIP_MIN 1024
/* Request encodings: identity (or none), gzip, anything else. */
enum { H2S_ENC_IDENTITY, H2S_ENC_GZIP, H2S_ENC_UNSUPPORTED };

enum { HS_M_OTHER, HS_M_POST, HS_M_GET, HS_M_OPTIONS };

typedef struct h2s_listener h2s_listener;
typedef struct h2s_conn h2s_conn;
typedef struct h2s_stream h2s_stream;

struct h2s_listener {
  weft_server *srv;
  weft_loop *loop;
  int fd;              /* until the acceptor takes it */
  weft__acceptor *acc; /* loop thread */
  weft__tls_ctx *tls;
  size_t max_msg;
  int64_t header_ms, idle_ms; /* 0: none */
  unsigned max_per_ip;
  void (*log)(int level, const char *line, void *ud);
  void *log_ud;
  bool inline_unary;          /* weft_http2_opts.inline_handlers */
  const char *const *origins; /* CORS allow-list; NULL: CORS off */
  /* REST routes of the server's services, built on the loop thread at the
   * first request that is no RPC path (services are added before serving). */
  weft_rest_router *rest;
  bool rest_built;
  pthread_mutex_t mu; /* conns list, refs, closed */
  h2s_conn *conns;
  int refs;    /* 1 for the server + 1 per connection */
  bool closed; /* the loop is gone: post() fails from now on */
  bool stopping;
  const char *scheme; /* "h2c" or "https", for connection events */
  char url[300];
};

struct h2s_conn {
  weft__h2io io; /* io.engine is NULL on an HTTP/1.1 connection */
  h2s_listener *lis;
  weft__h1sc *h1; /* HTTP/1.1 (or not yet known): h1_conn.c */
  pthread_mutex_t mu;
  int refs; /* under mu: 1 while the socket is open + 1 per stream */
  h2s_stream *streams;
  h2s_conn *next, *prev; /* in lis->conns */
  char peer[64];
  bool flush_posted; /* loop thread: a flush_on_loop is queued */
  /* Streams with output for the loop (c->mu), oldest first: one post per
   * connection takes them all, not one per stream (an event to many
   * subscribers). */
  h2s_stream *kicks, *kicks_tail;
  bool kicks_posted;
  uint64_t calls; /* loop thread: calls dispatched (connection events) */
  const char *close_note; /* loop thread: why this side closed it */
  /* Loop thread: header and idle timeouts (see on_tick). */
  char ip[48];
  weft_timer *tick;
  int64_t accepted_ns, last_busy_ns;
  char note[96]; /* close_note's storage when it is formatted */
};

struct h2s_stream {
  h2s_conn *c;
  int32_t id;
  int refs; /* under c->mu */
  h2s_stream *next, *prev;
  /* c->kicks, or the list kicks_on_loop took, while kick_queued (c->mu):
   * a stream stays queued until the loop looks at it, so kick_next is not
   * rewritten while that list is walked. */
  h2s_stream *kick_next;
  bool kick_queued;
  bool in_session; /* the engine (or h1_conn.c) still knows the stream */

  /* Request headers (loop thread until dispatch). */
  char *path;
  char *query;    /* after the '?' of the target, or NULL */
  char *origin;   /* the Origin field, or NULL */
  uint8_t method; /* HS_M_* */
  char verb[12];  /* the request method as sent, for REST routes */
  bool rest;      /* a REST route (google.api.http) serves this request */
  weft_rest_call rest_call; /* its method, request and response_body */
  /* A server-streaming route: replies go out as JSON lines (weft/rest.h);
   * rest_started (under c->mu) once the first one is queued, after which
   * the HTTP status is out and an error becomes the stream's last line. */
  bool rest_stream, rest_started;
  bool acrm;      /* Access-Control-Request-Method: a CORS preflight */
  bool cors;      /* origin is allowed: CORS fields on the response */
  bool preflight; /* the answer is a preflight's */
  weft__h2_ctype ct;
  bool req_gzip, accept_gzip, hdr_overflow, bad_timeout, bad_version;
  /* content-encoding (unary) and connect-content-encoding (streams), as
   * H2S_ENC_*; the request's kind picks one once the headers are in. */
  uint8_t enc_unary, enc_stream;
  char bad_enc[32];     /* the unsupported encoding's name, for the error */
  const char *push_err; /* loop thread: why an envelope was refused */
  int64_t timeout_ms;
  /* gRPC and gRPC-Web (proto != WEFT__GRPC_NONE, which is Connect). */
  weft__grpc_proto proto;
  uint8_t grpc_enc; /* grpc-encoding, as weft__grpc_enc */
  bool grpc_accept_gzip, has_grpc_timeout, bad_grpc_timeout;
  int64_t grpc_timeout_ns;
  weft__grpc_reader greader;
  weft_metadata grpc_trailers; /* gRPC: the HTTP/2 trailers, set at finish */
  weft_metadata md;
  size_t hdr_bytes;
  const weft_method_desc *m;

  /* Request body: unary bodies are buffered whole; streams are split into
   * messages by the envelope reader and queued for the worker. */
  uint8_t *body;
  size_t body_len, body_cap;
  /* A small body's storage (body points here): its realloc from nothing
   * cost ~480 instructions per unary request. */
  uint8_t body_inl[256];
  bool body_overflow;
  weft__connect_reader reader;
  size_t held; /* loop thread: bytes received, window not yet returned */

  /* Streams' request messages for the handler, as the envelope reader cut
   * them (flags: compressed); it ends with the body (or a framing error)
   * and is cancelled with the stream. Above its high-water mark the
   * stream's window is no longer returned (release_credit). */
  weft__rxq rxq;
  /* rxq is set up (on_request_headers): only for streaming content types.
   * A unary request never uses it, and its mutex and condition variable
   * cost ~250 instructions per request. Set on the loop thread before
   * dispatch and never changed: workers read it without the lock. */
  bool rxq_on;
  /* Loop thread: handed to the runtime. Until then no other thread sees
   * the stream, and its flags are read without the lock. */
  bool dispatched;
  /* Shared with the worker (under c->mu). */
  pthread_cond_t cv;                 /* room for a blocked send() */
  bool unary_taken;                  /* the unary request was handed out */
  bool finished;                     /* a final response was produced */
  char recv_err[WEFT_ERROR_MSG_MAX]; /* why the last recv failed */
  bool cancelled;                    /* peer reset or connection gone */
  weft_server_call *rt; /* the runtime's call until finish: told of cancels */
  bool resp_submitted;
  bool running_inline; /* its handler runs on the loop thread right now */
  int64_t deadline_ns;
  weft_timer *timer; /* deadline; loop thread */

  /* Response. */
  int http_status;
  weft__h2_ctype resp_ct;
  bool resp_gzip;
  bool enc_decided; /* streams: resp_gzip is fixed (headers may be out) */
  weft_compression compression; /* the handler's; under c->mu */
  weft_metadata resp_headers;
  uint8_t *unary_body; /* what send() gave for a unary call */
  size_t unary_len;
  /* The response's bytes for the engine's DATA frames or the HTTP/1.1
   * writer (runtime/src/rpc/internal/txq.h, under c->mu): envelopes whose
   * payload is referenced where it was encoded, ended by the final status.
   * A streaming send blocks on cv while it is full (H2S_OUT_HIGH_WATER). */
  weft__txq out;
};

static const weft_server_call_ops h2s_ops;
static void kick(h2s_stream *s);

/* weft_loop_post unless the listener has shut its loop down; false means
 * fn will not run and the caller must undo what it prepared for it. */
static bool post(h2s_listener *l, weft_post_fn fn, void *ud) {
  pthread_mutex_lock(&l->mu);
  bool ok = !l->closed && weft_loop_post(l->loop, fn, ud) == 0;
  pthread_mutex_unlock(&l->mu);
  return ok;
}

static void listener_unref(h2s_listener *l) {
  pthread_mutex_lock(&l->mu);
  bool last = --l->refs == 0;
  pthread_mutex_unlock(&l->mu);
  if (!last)
    return;
  weft_loop_free(l->loop);
  weft_rest_router_free(l->rest);
  weft__acceptor_free(l->acc); /* stopped on the loop: only frees */
  weft__tls_ctx_free(l->tls);
  pthread_mutex_destroy(&l->mu);
  free(l);
}

/* ---- references ---------------------------------------------------- */

static void conn_free(h2s_conn *c) {
  h2s_listener *l = c->lis;
  pthread_mutex_lock(&l->mu);
  if (c->prev)
    c->prev->next = c->next;
  else if (l->conns == c)
    l->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  pthread_mutex_unlock(&l->mu);
  pthread_mutex_destroy(&c->mu);
  free(c);
  listener_unref(l);
}

/* Called with c->mu held; returns true if the caller must free c after
 * unlocking. */
static bool conn_unref_locked(h2s_conn *c) {
  return --c->refs == 0;
}

/* The receive queue's operations for a stream that may have none. */
static bool rxq_above(h2s_stream *s) {
  return s->rxq_on && weft__rxq_above(&s->rxq);
}

static void rxq_cancel(h2s_stream *s) {
  if (s->rxq_on)
    weft__rxq_cancel(&s->rxq, WEFT_ERR_CANCELLED);
}

static void rxq_end(h2s_stream *s, int err, const char *why) {
  if (s->rxq_on)
    weft__rxq_end(&s->rxq, err, why);
}

static void body_free(h2s_stream *s) {
  if (s->body != s->body_inl)
    free(s->body);
  s->body = NULL;
  s->body_len = s->body_cap = 0;
}

static void stream_destroy(h2s_stream *s) {
  if (s->rxq_on)
    weft__rxq_destroy(&s->rxq);
  free(s->path);
  free(s->query);
  free(s->origin);
  body_free(s);
  free(s->unary_body);
  weft_rest_call_clear(&s->rest_call);
  weft__txq_destroy(&s->out);
  weft_metadata_clear(&s->md);
  weft_metadata_clear(&s->resp_headers);
  weft__connect_reader_free(&s->reader);
  weft__grpc_reader_free(&s->greader);
  weft_metadata_clear(&s->grpc_trailers);
  pthread_cond_destroy(&s->cv);
  free(s);
}

static void stream_unref(h2s_stream *s) {
  h2s_conn *c = s->c;
  bool free_conn = false, free_stream = false;
  pthread_mutex_lock(&c->mu);
  if (--s->refs == 0) {
    free_stream = true;
    if (s->prev)
      s->prev->next = s->next;
    else if (c->streams == s)
      c->streams = s->next;
    if (s->next)
      s->next->prev = s->prev;
    free_conn = conn_unref_locked(c);
  }
  pthread_mutex_unlock(&c->mu);
  if (free_stream)
    stream_destroy(s);
  if (free_conn)
    conn_free(c);
}

/* ---- building responses (c->mu held) --------------------------------- */

/* Queues response bytes, copied (c->mu held). What finishes the stream
 * is appended whatever the bound; a streaming send waited for room. */
static int out_append(h2s_stream *s, const uint8_t *p, size_t n) {
  weft__txq_item *it = weft__txq_item_bytes(p, n, NULL, 0, NULL, NULL);
  if (!it)
    return WEFT_ERR_NOMEM;
  int rv = weft__txq_append(&s->out, it);
  if (rv < 0)
    weft__txq_item_free(it);
  return rv;
}

/* Unread response bytes (c->mu held). */
static size_t out_pending(const h2s_stream *s) {
  return weft__txq_bytes(&s->out);
}

/* grpc-web-text: bytes go out as base64, one padded segment per frame
 * (PROTOCOL-WEB.md: messages are encoded and flushed atomically). */
static int out_text(h2s_stream *s, const uint8_t *p, size_t n) {
  char *t = malloc(weft_base64_encoded_len(n, 0) + 1);
  if (!t)
    return WEFT_ERR_NOMEM;
  int rv = out_append(s, (const uint8_t *)t, weft__grpc_text_encode(p, n, t));
  free(t);
  return rv;
}

/* One enveloped message (c->mu held). With release, the payload is not
 * copied: the queue keeps p until the bytes are out and then runs
 * release(ud), which the call passes to it (also when this fails). */
static int out_envelope_ref(h2s_stream *s, uint8_t flags, const uint8_t *p,
                            size_t n, void (*release)(void *ud), void *ud) {
  if (s->proto == WEFT__GRPC_WEB_TEXT) {
    uint8_t *f;
    size_t fl;
    int rv = weft__grpc_frame_alloc(flags, p, n, true, &f, &fl);
    if (rv == 0) {
      rv = out_append(s, f, fl);
      free(f);
    }
    if (release)
      release(ud);
    return rv;
  }
  weft__txq_item *it =
      release ? weft__txq_item_bytes(NULL, 5, p, n, release, ud)
              : weft__txq_item_bytes(NULL, 5 + n, NULL, 0, NULL, NULL);
  if (!it) {
    if (release)
      release(ud);
    return WEFT_ERR_NOMEM;
  }
  weft__connect_envelope_header(it->pre, flags, (uint32_t)n);
  if (!release && n) /* p may be NULL for an empty message */
    memcpy(it->pre + 5, p, n);
  int rv = weft__txq_append(&s->out, it);
  if (rv < 0)
    weft__txq_items_done(it); /* runs release */
  return rv;
}

static int out_envelope(h2s_stream *s, uint8_t flags, const uint8_t *p,
                        size_t n) {
  return out_envelope_ref(s, flags, p, n, NULL, NULL);
}

static void add_trailers_as_headers(weft_metadata *dst,
                                    const weft_metadata *tr) {
  if (!tr)
    return;
  for (size_t i = 0; i < tr->count; i++) {
    char key[256];
    snprintf(key, sizeof key, "trailer-%s", tr->entries[i].key);
    weft_metadata_add(dst, key, tr->entries[i].value, tr->entries[i].value_len);
  }
}

/* Produces the final response of the stream. Runs on a worker (finish) or
 * on the loop thread (early errors, deadline). */
/* Whether a response message of len bytes goes gzip'd: only if the client
 * accepts gzip; by default from H2S_GZIP_MIN bytes on (smaller ones barely
 * shrink), always or never as the handler asked. */
static bool want_gzip(const h2s_stream *s, size_t len) {
  if (!s->accept_gzip || s->compression == WEFT_COMPRESSION_OFF)
    return false;
  return s->compression == WEFT_COMPRESSION_ON ? len > 0 : len >= H2S_GZIP_MIN;
}

/* A stream's response encoding is announced once, in its headers, which go
 * out with its first envelope: decide it before the first one is queued
 * (gzip whenever the client accepts it and the handler did not turn
 * compression off), and compress later envelopes only under it. Small
 * envelopes still go uncompressed (flag 0), which a gzip stream allows.
 * Called with c->mu held. */
static void decide_stream_encoding(h2s_stream *s) {
  if (s->enc_decided)
    return;
  s->enc_decided = true;
  s->resp_gzip = s->accept_gzip && s->compression != WEFT_COMPRESSION_OFF;
}

/* "-bin" metadata travels base64 in gRPC headers and trailers. */
static bool is_bin_key(const char *k) {
  size_t n = strlen(k);
  return n > 4 && strcmp(k + n - 4, "-bin") == 0;
}

static void add_b64(weft_metadata *md, const char *key, const uint8_t *p,
                    size_t n) {
  char *t = malloc(weft_base64_encoded_len(n, WEFT_BASE64_NOPAD) + 1);
  if (!t)
    return;
  size_t tl = weft_base64_encode(p, n, t, WEFT_BASE64_NOPAD);
  weft_metadata_add(md, key, t, tl);
  free(t);
}

/* gRPC: the status goes into the HTTP/2 trailers (grpc_trailers, sent by
 * data_read at the end of the body, or with the headers as a trailers-only
 * response); gRPC-Web: into a trailers frame at the end of the body. */
static void grpc_finish_locked(h2s_stream *s, const weft_status *st,
                               const weft_metadata *trailers) {
  s->http_status = 200;
  decide_stream_encoding(s);
  if (s->proto != WEFT__GRPC_H2) {
    uint8_t *f = NULL;
    size_t fl = 0;
    if (weft__grpc_web_trailers_frame(st, trailers, &f, &fl) == 0) {
      if (s->proto == WEFT__GRPC_WEB_TEXT)
        out_text(s, f, fl);
      else
        out_append(s, f, fl);
      free(f);
    }
    return;
  }
  weft_metadata *t = &s->grpc_trailers;
  char code[16];
  snprintf(code, sizeof code, "%d", st->code);
  weft_metadata_add_str(t, "grpc-status", code);
  char *m = NULL;
  if (st->message && st->message[0] &&
      weft__grpc_percent_encode(st->message, &m) == 0) {
    weft_metadata_add_str(t, "grpc-message", m);
    free(m);
  }
  if (st->details && st->details_len)
    add_b64(t, "grpc-status-details-bin", st->details, st->details_len);
  for (size_t i = 0; trailers && i < trailers->count; i++) {
    const weft_metadata_entry *e = &trailers->entries[i];
    if (weft__grpc_status_key(e->key))
      continue;
    if (is_bin_key(e->key))
      add_b64(t, e->key, e->value, e->value_len);
    else
      weft_metadata_add(t, e->key, e->value, e->value_len);
  }
}

static void finish_locked(h2s_stream *s, const weft_status *st,
                          const weft_metadata *headers,
                          const weft_metadata *trailers) {
  if (s->finished)
    return;
  s->finished = true;
  if (headers && !s->resp_submitted && s->resp_headers.count == 0)
    weft_metadata_copy(&s->resp_headers, headers);
  if (s->proto != WEFT__GRPC_NONE) {
    grpc_finish_locked(s, st, trailers);
    weft__txq_end(&s->out);
    return;
  }
  if (s->rest_stream && s->rest_started) {
    /* The 200 and earlier lines are out: the status becomes a last line. */
    char *line = NULL;
    size_t ll = 0;
    /* A status without a message (a handler's bare code) says its name. */
    const char *m = st->message && st->message[0] ? st->message
                                                  : weft_status_name(st->code);
    if (st->code != WEFT_STATUS_OK &&
        weft_rest_render_stream_error(st->code, m, &line, &ll) == 0) {
      out_append(s, (const uint8_t *)line, ll);
      free(line);
    }
  } else if (weft__h2_ctype_stream(s->ct) && s->ct == s->resp_ct) {
    /* Streaming: the status travels in the end-of-stream message. */
    decide_stream_encoding(s);
    char *js = NULL;
    size_t jl = 0;
    if (weft__connect_end_stream_json(st, trailers, &js, &jl) == 0) {
      out_envelope(s, WEFT__CONNECT_FLAG_END_STREAM, (const uint8_t *)js, jl);
      free(js);
    }
    s->http_status = 200;
  } else if (st->code == WEFT_STATUS_OK) {
    s->http_status = 200;
    add_trailers_as_headers(&s->resp_headers, trailers);
    if (s->unary_body) {
      if (want_gzip(s, s->unary_len)) {
        uint8_t *z;
        size_t zl;
        if (weft__gzip(s->unary_body, s->unary_len, &z, &zl) == 0) {
          free(s->unary_body);
          s->unary_body = z;
          s->unary_len = zl;
          s->resp_gzip = true;
        }
      }
      out_append(s, s->unary_body, s->unary_len);
    }
  } else {
    char *js = NULL;
    size_t jl = 0;
    s->http_status = s->rest ? weft_rest_http_status(st->code)
                             : weft__connect_http_status(st->code);
    s->resp_ct = WEFT__CT_JSON;
    s->resp_gzip = false;
    add_trailers_as_headers(&s->resp_headers, trailers);
    if ((s->rest ? weft_rest_render_error(
                       st->code, st->message ? st->message : "", &js, &jl)
                 : weft__connect_error_json(st, &js, &jl)) == 0) {
      out_append(s, (const uint8_t *)js, jl);
      free(js);
    }
  }
  weft__txq_end(&s->out);
}

/* ---- loop-thread side ----------------------------------------------- */

/* Once dispatched, a worker may finish the stream at any time: read the
 * flag under the lock. Loop thread. */
static bool is_finished(h2s_stream *s) {
  if (!s->dispatched)
    return s->finished;
  pthread_mutex_lock(&s->c->mu);
  bool f = s->finished;
  pthread_mutex_unlock(&s->c->mu);
  return f;
}

/* Header fields pointing into md (valid while md is). */
static size_t add_nv(weft__h2e_nv *nva, size_t n, const weft_metadata *md) {
  for (size_t i = 0; i < md->count; i++) {
    const weft_metadata_entry *e = &md->entries[i];
    nva[n++] = (weft__h2e_nv){e->key, e->value, strlen(e->key), e->value_len};
  }
  return n;
}

/* From read_data, once the body is out. grpc_trailers no longer changes
 * once the stream is finished (its queue ended), so no lock is needed to
 * read it. */
static int submit_grpc_trailers(h2s_stream *s) {
  weft__h2e_nv *nva = calloc(s->grpc_trailers.count + 1, sizeof *nva);
  if (!nva)
    return -1;
  size_t n = add_nv(nva, 0, &s->grpc_trailers);
  int rv = weft__h2e_submit_trailers(s->c->io.engine, s->id, nva, n);
  free(nva);
  return rv;
}

/* The engine's read_data event: response body bytes, as flow control
 * lets them out. */
static ssize_t data_read(void *ud, void *st, uint8_t *buf, size_t len,
                         uint32_t *flags) {
  h2s_stream *s = st;
  (void)ud;
  pthread_mutex_lock(&s->c->mu);
  if (out_pending(s) == 0 && !weft__txq_ended(&s->out)) {
    pthread_mutex_unlock(&s->c->mu);
    return WEFT__H2E_DEFER;
  }
  weft__txq_item *done = NULL;
  size_t n = weft__txq_read(&s->out, buf, len, &done);
  bool trailers = false;
  if (weft__txq_done(&s->out)) {
    *flags |= WEFT__H2E_EOF;
    /* gRPC: the body ends, the stream ends with the status trailers. */
    if (s->proto == WEFT__GRPC_H2) {
      *flags |= WEFT__H2E_NO_END_STREAM;
      trailers = true;
    }
  }
  pthread_cond_broadcast(&s->cv); /* room for a blocked send() */
  pthread_mutex_unlock(&s->c->mu);
  weft__txq_items_done(done); /* drops shared encodings: no lock held */
  if (trailers && submit_grpc_trailers(s) != 0)
    return -2; /* the engine resets the stream */
  return (ssize_t)n;
}

#define NV(n, v)                                                               \
  { (n), (const uint8_t *)(v), strlen(n), strlen(v) }

/* An HTTP status as text: three digits without snprintf, whose formatting
 * cost ~250 instructions per response. */
static void status_str(char *buf, size_t size, int status) {
  if (status >= 100 && status <= 999) {
    buf[0] = (char)('0' + status / 100);
    buf[1] = (char)('0' + status / 10 % 10);
    buf[2] = (char)('0' + status % 10);
    buf[3] = '\0';
  } else {
    snprintf(buf, size, "%d", status);
  }
}

/* Submits the response headers, the body to follow through data_read.
 * Loop thread, no lock held (the engine may call data_read from inside). */
static void submit_response(h2s_stream *s) {
  h2s_conn *c = s->c;
  char status[8];
  /* A typical response's fields fit here, saving a calloc per response
   * (glibc's calloc bypasses its thread cache). */
  weft__h2e_nv small[32];
  weft__h2e_nv *nva;
  size_t n = 0;

  /* gRPC and gRPC-Web: "-bin" header values go out base64. */
  weft_metadata grpc_hdrs = WEFT_METADATA_INIT;
  pthread_mutex_lock(&c->mu);
  const weft_metadata *hdrs = &s->resp_headers;
  if (s->proto != WEFT__GRPC_NONE) {
    for (size_t i = 0; i < s->resp_headers.count; i++) {
      const weft_metadata_entry *e = &s->resp_headers.entries[i];
      if (is_bin_key(e->key))
        add_b64(&grpc_hdrs, e->key, e->value, e->value_len);
      else
        weft_metadata_add(&grpc_hdrs, e->key, e->value, e->value_len);
    }
    hdrs = &grpc_hdrs;
  }
  /* gRPC with no message to send (an early error, an empty stream): one
   * HEADERS frame carries the status and ends the stream (trailers-only). */
  bool trailers_only = s->proto == WEFT__GRPC_H2 && weft__txq_done(&s->out);
  size_t cap = 10 + hdrs->count + (trailers_only ? s->grpc_trailers.count : 0);
  nva =
      cap <= sizeof small / sizeof small[0] ? small : calloc(cap, sizeof *nva);
  if (!nva) {
    pthread_mutex_unlock(&c->mu);
    weft_metadata_clear(&grpc_hdrs);
    return;
  }
  status_str(status, sizeof status, s->http_status ? s->http_status : 200);
  const char *ct =
      s->proto != WEFT__GRPC_NONE
          ? weft__grpc_ctype_str(s->proto, weft__h2_ctype_json(s->resp_ct))
          : weft__h2_ctype_str(s->resp_ct);
  nva[n++] = (weft__h2e_nv)NV(":status", status);
  if (!s->preflight)
    nva[n++] = (weft__h2e_nv)NV("content-type", ct);
  if (s->cors) {
    nva[n++] = (weft__h2e_nv)NV("access-control-allow-origin", s->origin);
    nva[n++] = (weft__h2e_nv)NV("vary", "Origin");
    if (s->preflight) {
      nva[n++] = (weft__h2e_nv)NV("access-control-allow-methods",
                                  WEFT__CORS_ALLOW_METHODS);
      nva[n++] = (weft__h2e_nv)NV("access-control-allow-headers",
                                  WEFT__CORS_ALLOW_HEADERS);
      nva[n++] = (weft__h2e_nv)NV("access-control-max-age", WEFT__CORS_MAX_AGE);
    } else {
      nva[n++] = (weft__h2e_nv)NV("access-control-expose-headers",
                                  WEFT__CORS_EXPOSE_HEADERS);
    }
  }
  if (s->resp_gzip)
    nva[n++] = (weft__h2e_nv)NV(s->proto != WEFT__GRPC_NONE ? "grpc-encoding"
                                : weft__h2_ctype_stream(s->resp_ct)
                                    ? "connect-content-encoding"
                                    : "content-encoding",
                                "gzip");
  n = add_nv(nva, n, hdrs);
  if (trailers_only)
    n = add_nv(nva, n, &s->grpc_trailers);
  s->resp_submitted = true;
  pthread_mutex_unlock(&c->mu);

  int rv =
      weft__h2e_submit_response(c->io.engine, s->id, nva, n, !trailers_only);
  if (nva != small)
    free(nva);
  weft_metadata_clear(&grpc_hdrs);
  if (rv != 0)
    weft__h2e_submit_rst(c->io.engine, s->id, WEFT__H2E_INTERNAL_ERROR);
}

static void conn_io_release(void *ud) {
  h2s_conn *c = ud;
  bool free_conn;
  pthread_mutex_lock(&c->mu);
  free_conn = conn_unref_locked(c);
  pthread_mutex_unlock(&c->mu);
  if (free_conn)
    conn_free(c);
}

static void flush_on_loop(void *ud) {
  h2s_conn *c = ud;
  c->flush_posted = false;
  if (!c->io.closed)
    weft__h2io_flush(&c->io);
  conn_io_release(c);
}

/* Responses finished by workers arrive as a burst of kicks; writing once
 * after the burst instead of once per kick saves a syscall per response. */
static void schedule_flush(h2s_conn *c) {
  if (c->flush_posted)
    return;
  pthread_mutex_lock(&c->mu);
  c->refs++;
  pthread_mutex_unlock(&c->mu);
  c->flush_posted = true;
  if (!post(c->lis, flush_on_loop, c)) {
    c->flush_posted = false;
    weft__h2io_flush(&c->io);
    conn_io_release(c);
  }
}

/* Takes s off the list being walked (returns the next one) and hands its
 * output to the engine. One lock for both: a send after it kicks s again. */
static h2s_stream *kick_one(h2s_stream *s) {
  h2s_conn *c = s->c;
  pthread_mutex_lock(&c->mu);
  h2s_stream *next = s->kick_next;
  s->kick_queued = false;
  bool live = !c->io.closed && s->in_session;
  bool submit =
      !s->resp_submitted && (out_pending(s) || weft__txq_ended(&s->out));
  bool resume = s->resp_submitted;
  pthread_mutex_unlock(&c->mu);
  if (next) /* cold: its fetch overlaps this stream's work */
    __builtin_prefetch(next);
  if (live && c->h1) {
    weft__h1sc_output(c->h1);
  } else if (live) {
    if (submit)
      submit_response(s);
    else if (resume)
      weft__h2e_resume(c->io.engine, s->id);
    schedule_flush(c);
  }
  return next;
}

/* c->mu held: takes the streams kicked so far, oldest first. They stay
 * kick_queued until kick_one (or drop_kicks) looks at each: no walk here
 * over streams whose memory is cold. */
static h2s_stream *take_kicks(h2s_conn *c) {
  h2s_stream *list = c->kicks;
  c->kicks = c->kicks_tail = NULL;
  c->kicks_posted = false;
  return list;
}

static void kicks_on_loop(void *ud) {
  h2s_conn *c = ud;
  pthread_mutex_lock(&c->mu);
  h2s_stream *list = take_kicks(c);
  pthread_mutex_unlock(&c->mu);
  for (h2s_stream *s = list, *n; s; s = n) {
    n = kick_one(s);
    stream_unref(s);
  }
  conn_io_release(c);
}

/* The loop is gone: lets go of the taken streams without output. */
static void drop_kicks(h2s_conn *c, h2s_stream *list) {
  while (list) {
    h2s_stream *s = list;
    pthread_mutex_lock(&c->mu);
    list = s->kick_next;
    s->kick_queued = false;
    pthread_mutex_unlock(&c->mu);
    stream_unref(s);
  }
}

/* The stream has output (or its end) for the loop. A stream already
 * waiting for the loop is not queued twice: the loop looks at its state,
 * not at how many sends there were. */
static void kick(h2s_stream *s) {
  h2s_conn *c = s->c;
  pthread_mutex_lock(&c->mu);
  if (s->running_inline || s->kick_queued) {
    /* Inline: on the loop thread, dispatch() submits when the handler
     * returns. */
    pthread_mutex_unlock(&c->mu);
    return;
  }
  s->refs++;
  s->kick_queued = true;
  s->kick_next = NULL;
  if (c->kicks_tail)
    c->kicks_tail->kick_next = s;
  else
    c->kicks = s;
  c->kicks_tail = s;
  bool post_now = !c->kicks_posted;
  if (post_now) {
    c->kicks_posted = true;
    c->refs++;
  }
  pthread_mutex_unlock(&c->mu);
  if (post_now && !post(c->lis, kicks_on_loop, c)) {
    pthread_mutex_lock(&c->mu);
    h2s_stream *list = take_kicks(c);
    pthread_mutex_unlock(&c->mu);
    drop_kicks(c, list);
    conn_io_release(c);
  }
}

/* Returns the window for what a streaming request has sent, unless the
 * handler is behind by more than the high-water mark: then the client stops
 * until the handler catches up (release_on_loop). Bytes of a message still
 * being assembled are returned too, so a message larger than the window
 * (up to max_message_size) gets through. Loop thread. */
static void release_credit(h2s_stream *s) {
  h2s_conn *c = s->c;
  if (c->h1 && !c->io.closed) {
    weft__h1sc_resume(c->h1); /* it reads again unless still behind */
    return;
  }
  if (s->held == 0 || c->io.closed || !s->in_session)
    return;
  pthread_mutex_lock(&c->mu);
  /* A gRPC unary request is taken only once it is whole (and push_msg
   * allows it one message): holding its window back would stall it. */
  bool grpc_unary = s->proto != WEFT__GRPC_NONE && s->m->kind == WEFT_RPC_UNARY;
  pthread_mutex_unlock(&c->mu);
  bool behind = !grpc_unary && rxq_above(s);
  if (behind)
    return;
  weft__h2e_credit(c->io.engine, s->id, s->held);
  s->held = 0;
}

/* The handler took the queue down to its low-water mark: room again. */
static void release_on_loop(void *ud) {
  h2s_stream *s = ud;
  if (s->c->h1 && !s->c->io.closed) {
    release_credit(s);
  } else if (s->held > 0 && !s->c->io.closed && s->in_session) {
    release_credit(s);
    schedule_flush(s->c);
  }
  stream_unref(s);
}

/* rxq's on_low, on the worker that popped (it holds the runtime's
 * reference, so s is alive). */
static void rx_low(void *ud) {
  h2s_stream *s = ud;
  pthread_mutex_lock(&s->c->mu);
  s->refs++;
  pthread_mutex_unlock(&s->c->mu);
  if (!post(s->c->lis, release_on_loop, s))
    stream_unref(s);
}

/* The stream's response has bytes or its end ready: hand them to the
 * connection's protocol. Loop thread. */
static void stream_output(h2s_stream *s, bool submitted) {
  if (s->c->io.closed)
    return;
  if (s->c->h1)
    weft__h1sc_output(s->c->h1);
  else if (submitted)
    weft__h2e_resume(s->c->io.engine, s->id);
  else
    submit_response(s);
}

/* Early errors, on the loop thread, before or instead of dispatch. */
static void respond_error(h2s_stream *s, int http_override, int code,
                          const char *msg) {
  weft_status st = {0};
  weft_status_set(&st, code, "%s", msg);
  pthread_mutex_lock(&s->c->mu);
  finish_locked(s, &st, NULL, NULL);
  if (http_override && !s->resp_submitted)
    s->http_status = http_override;
  bool submitted = s->resp_submitted;
  pthread_mutex_unlock(&s->c->mu);
  weft_status_clear(&st);
  stream_output(s, submitted);
}

static void on_deadline(weft_loop *l, weft_timer *t, void *ud) {
  h2s_stream *s = ud;
  (void)l;
  (void)t;
  s->timer = NULL;
  pthread_mutex_lock(&s->c->mu);
  bool live = !s->finished && s->in_session;
  /* Held until we are done with s: on HTTP/1.1 respond_error can write the
   * answer out and close the stream at once, and the handler (on a worker)
   * may then drop the last other reference. */
  if (live)
    s->refs++;
  pthread_mutex_unlock(&s->c->mu);
  if (!live)
    return;
  /* The handler may still be running; the client gets its answer now and
   * the handler sees cancelled() from here on. */
  respond_error(s, 0, WEFT_STATUS_DEADLINE_EXCEEDED, "deadline exceeded");
  pthread_mutex_lock(&s->c->mu);
  s->cancelled = true;
  rxq_cancel(s);
  weft_server_notify_cancel(s->rt);
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->c->mu);
  if (!s->c->h1)
    weft__h2io_flush(&s->c->io);
  stream_unref(s);
}

static void dispatch(h2s_stream *s) {
  h2s_conn *c = s->c;
  bool inl = c->lis->inline_unary && s->m->kind == WEFT_RPC_UNARY;
  /* A REST request's path is its route; the call is the route's method. */
  const char *path = s->rest ? s->m->path : s->path;
  c->calls++;
  s->dispatched = true;
  pthread_mutex_lock(&c->mu);
  s->refs++; /* the runtime's, released in ops_finish */
  s->running_inline = inl;
  pthread_mutex_unlock(&c->mu);
  if (inl) {
    /* The whole request is here; the handler runs now, on this thread.
     * the engine's reference keeps s alive: the stream cannot close while we
     * are inside its callback. */
    int rv = weft_server_dispatch_inline(c->lis->srv, path, &s->md,
                                         s->deadline_ns, c->peer, &h2s_ops, s);
    pthread_mutex_lock(&c->mu);
    s->running_inline = false;
    bool done = s->finished;
    pthread_mutex_unlock(&c->mu);
    if (rv < 0) {
      respond_error(s, 0, WEFT_STATUS_UNAVAILABLE,
                    "server is not accepting calls");
      stream_unref(s);
    } else if (done) {
      stream_output(s, false); /* h2: written when on_io flushes */
    }
    return;
  }
  int rv = weft_server_dispatch(c->lis->srv, path, &s->md, s->deadline_ns,
                                c->peer, &h2s_ops, s);
  if (rv < 0) {
    respond_error(s, 0, WEFT_STATUS_UNAVAILABLE,
                  "server is not accepting calls");
    stream_unref(s);
  } else if (s->timeout_ms > 0) {
    s->timer = weft_loop_timer(c->lis->loop, s->timeout_ms, 0, on_deadline, s);
  }
}

static int push_msg(void *ud, uint8_t flags, const uint8_t *data, size_t len) {
  h2s_stream *s = ud;
  /* connect-go answers this with invalid_argument too; an empty envelope
   * is an empty message whatever its flag says. */
  if ((flags & WEFT__CONNECT_FLAG_COMPRESSED) && len > 0 && !s->req_gzip) {
    s->push_err = "protocol error: compressed message (flag 0x01) without a "
                  "connect-content-encoding";
    return WEFT_ERR_MALFORMED;
  }
  /* gRPC unary calls are dispatched when the request ends: a second message
   * would only pile up. Loop thread, like every push. */
  if (s->proto != WEFT__GRPC_NONE && s->m->kind == WEFT_RPC_UNARY &&
      weft__rxq_len(&s->rxq) > 0) {
    s->push_err = "a unary call sent more than one request message";
    return WEFT_ERR_PROTOCOL;
  }
  /* The backpressure answer is read back by release_credit. */
  int rv = weft__rxq_push_copy(&s->rxq, data, len, flags);
  return rv < 0 ? rv : 0;
}

/* gRPC's request metadata carries "-bin" values base64 (padded or not):
 * handlers see the bytes, as on the grpc:// transport. A value that is not
 * base64 is left as it came. */
static void grpc_decode_bin_md(weft_metadata *md) {
  for (size_t i = 0; i < md->count; i++) {
    weft_metadata_entry *e = &md->entries[i];
    if (!is_bin_key(e->key))
      continue;
    uint8_t *d = malloc(WEFT_BASE64_DECODED_MAX(e->value_len) + 1);
    long r =
        d ? weft_base64_decode((const char *)e->value, e->value_len, d) : -1;
    if (r < 0) {
      free(d);
      continue;
    }
    d[r] = '\0'; /* values keep a NUL after them (status.h) */
    free(e->value);
    e->value = d;
    e->value_len = (size_t)r;
  }
}

/* on_request_headers for gRPC and gRPC-Web: errors are answered with a
 * grpc-status (HTTP 200), never an HTTP error; streaming kinds are
 * dispatched now, unary calls when their request ends (on_frame_recv). */
static bool grpc_request_headers(h2s_stream *s) {
  h2s_conn *c = s->c;
  char msg[320];
  s->resp_ct = s->ct;
  if (s->bad_grpc_timeout) {
    respond_error(s, 0, WEFT_STATUS_INVALID_ARGUMENT,
                  "grpc-timeout must be 1 to 8 digits and a unit (H, M, S, "
                  "m, u or n)");
    return false;
  }
  if (s->grpc_enc == WEFT__GRPC_ENC_UNSUPPORTED) {
    snprintf(msg, sizeof msg,
             "grpc-encoding \"%s\" is not supported: use identity or gzip",
             s->bad_enc);
    pthread_mutex_lock(&c->mu);
    weft_metadata_add_str(&s->resp_headers, "grpc-accept-encoding",
                          "identity,gzip");
    pthread_mutex_unlock(&c->mu);
    respond_error(s, 0, WEFT_STATUS_UNIMPLEMENTED, msg);
    return false;
  }
  s->req_gzip = s->grpc_enc == WEFT__GRPC_ENC_GZIP;
  s->accept_gzip = s->grpc_accept_gzip;
  grpc_decode_bin_md(&s->md);
  s->m = weft_server_find_method(c->lis->srv, s->path);
  if (!s->m) {
    snprintf(msg, sizeof msg, "%s is not a known method", s->path);
    respond_error(s, 0, WEFT_STATUS_UNIMPLEMENTED, msg);
    return false;
  }
  if (s->proto != WEFT__GRPC_H2 &&
      (s->m->kind == WEFT_RPC_CLIENT_STREAM || s->m->kind == WEFT_RPC_BIDI)) {
    snprintf(msg, sizeof msg,
             "%s is a %s method: gRPC-Web carries unary and "
             "server-streaming calls only",
             s->path,
             s->m->kind == WEFT_RPC_BIDI ? "bidi-streaming"
                                         : "client-streaming");
    respond_error(s, 0, WEFT_STATUS_UNIMPLEMENTED, msg);
    return false;
  }
  weft__grpc_reader_init(&s->greader, c->lis->max_msg,
                         s->proto == WEFT__GRPC_WEB_TEXT, s->req_gzip);
  if (s->has_grpc_timeout) {
    /* Milliseconds, rounded up (a 1 ns budget still expires). */
    int64_t ms =
        s->grpc_timeout_ns / 1000000 + (s->grpc_timeout_ns % 1000000 != 0);
    s->timeout_ms = ms < 1 ? 1 : ms;
  }
  s->deadline_ns = weft_deadline_from_timeout_ms(s->timeout_ms);
  if (s->m->kind != WEFT_RPC_UNARY)
    dispatch(s);
  return true;
}

/* ---- requests: head, routing, body (both HTTP versions) -------------- */

static uint8_t parse_encoding(h2s_stream *s, const char *v, size_t vlen);

/* Whether the CORS allow-list takes origin ("*" takes any). */
static bool origin_allowed(const h2s_listener *l, const char *origin) {
  if (!l->origins || !origin)
    return false;
  for (size_t i = 0; l->origins[i]; i++)
    if (!strcmp(l->origins[i], "*") || !strcmp(l->origins[i], origin))
      return true;
  return false;
}

/* An answer without a call (a preflight): status, no body. */
static void respond_empty(h2s_stream *s, int status) {
  pthread_mutex_lock(&s->c->mu);
  s->finished = true;
  weft__txq_end(&s->out);
  s->http_status = status;
  s->preflight = true;
  pthread_mutex_unlock(&s->c->mu);
  stream_output(s, false);
}

/* Connect GET: the message and its codec travel in the query (connect.h),
 * so the request is cacheable. Sets the stream up as a unary POST with
 * that body. Returns false after answering an error. */
static bool connect_get(h2s_stream *s) {
  weft__connect_get g;
  weft_error err = {0};
  int rv = weft__connect_get_parse(s->query, s->c->lis->max_msg, &g, &err);
  if (rv < 0) {
    weft__connect_get_free(&g);
    respond_error(s, rv == WEFT_ERR_UNSUPPORTED ? 415 : 0,
                  rv == WEFT_ERR_TOO_BIG || rv == WEFT_ERR_NOMEM
                      ? WEFT_STATUS_RESOURCE_EXHAUSTED
                      : WEFT_STATUS_INVALID_ARGUMENT,
                  err.message);
    return false;
  }
  s->ct = g.json ? WEFT__CT_JSON : WEFT__CT_PROTO;
  s->enc_unary = g.compression
                     ? parse_encoding(s, g.compression, strlen(g.compression))
                     : H2S_ENC_IDENTITY;
  s->body = g.message; /* the stream owns it now */
  s->body_len = s->body_cap = g.message_len;
  g.message = NULL;
  weft__connect_get_free(&g);
  return true;
}

/* What serves a request, by its content type and path. The Connect
 * protocol is the only one today; gRPC, gRPC-Web and REST plug in here. */
typedef enum { HS_ROUTE_CONNECT, HS_ROUTE_NONE } hs_route;

static hs_route route_request(h2s_stream *s) {
  if (s->ct != WEFT__CT_UNKNOWN)
    return HS_ROUTE_CONNECT;
  /* A known /pkg.Service/Method path with another content type is a
   * Connect call with a bad content type (415); anything else would be a
   * REST route (google.api.http), which has no matcher yet. */
  if (s->path && weft_server_find_method(s->c->lis->srv, s->path))
    return HS_ROUTE_CONNECT;
  return HS_ROUTE_NONE;
}

/* ---- REST routes (google.api.http; weft/rest.h, docs/REST.md) ------- */

/* The listener's router, built on first use from the server's services;
 * NULL when they declare no route (or a rule is malformed: logged). */
static weft_rest_router *rest_router(h2s_listener *l) {
  if (l->rest_built)
    return l->rest;
  l->rest_built = true;
  weft_error err = {0};
  if (weft_rest_router_new(&l->rest, &err) < 0 ||
      weft_rest_router_add_server(l->rest, l->srv, &err) < 0) {
    if (l->log) {
      char line[WEFT_ERROR_MSG_MAX + 64];
      snprintf(line, sizeof line, "REST routes not served: %s", err.message);
      l->log(1, line, l->log_ud);
    }
    weft_rest_router_free(l->rest);
    l->rest = NULL;
  } else if (weft_rest_router_size(l->rest) == 0) {
    weft_rest_router_free(l->rest);
    l->rest = NULL;
  }
  return l->rest;
}

/* A request for no RPC path: 1 if a REST route takes it (its body is then
 * buffered like a unary call's), -1 if it was answered (404, 405, 400,
 * 501), 0 if it is not REST's (no routes, or no route for the path while
 * the content type is Connect's: Connect answers it). */
static int rest_begin(h2s_stream *s) {
  weft_rest_router *r = rest_router(s->c->lis);
  if (!r)
    return 0;
  weft_rest_match m = {0};
  weft_error err = {0};
  int rv = weft_rest_route(r, s->verb, s->path, &m, &err);
  if (rv == WEFT_ERR_UNSUPPORTED && s->ct != WEFT__CT_UNKNOWN)
    return 0;
  s->rest = true;
  s->ct = WEFT__CT_JSON; /* the body is buffered whole */
  s->resp_ct = WEFT__CT_JSON;
  if (rv < 0) {
    int http = rv == WEFT_ERR_UNSUPPORTED ? 404
               : rv == WEFT_ERR_STATE     ? 405
               : rv == WEFT_ERR_INVAL     ? 400
                                          : 500;
    int code = http == 404   ? WEFT_STATUS_NOT_FOUND
               : http == 405 ? WEFT_STATUS_UNIMPLEMENTED
               : http == 400 ? WEFT_STATUS_INVALID_ARGUMENT
                             : WEFT_STATUS_RESOURCE_EXHAUSTED;
    respond_error(s, http, code, err.message);
    return -1;
  }
  s->m = m.method;
  weft_rest_match_clear(&m);
  if (s->m->kind != WEFT_RPC_UNARY && s->m->kind != WEFT_RPC_SERVER_STREAM) {
    char msg[320];
    snprintf(msg, sizeof msg,
             "%s is a %s method: REST serves unary and server-streaming "
             "methods only (call it over Connect, gRPC or WebSocket)",
             s->m->path,
             s->m->kind == WEFT_RPC_BIDI ? "bidi-streaming"
                                         : "client-streaming");
    respond_error(s, 501, WEFT_STATUS_UNIMPLEMENTED, msg);
    return -1;
  }
  s->rest_stream = s->m->kind == WEFT_RPC_SERVER_STREAM;
  /* A deadline from grpc-gateway's Grpc-Timeout (or Connect's header). */
  if (s->bad_grpc_timeout) {
    respond_error(s, 400, WEFT_STATUS_INVALID_ARGUMENT,
                  "grpc-timeout must be 1 to 8 digits and a unit (H, M, S, "
                  "m, u, n)");
    return -1;
  }
  if (s->has_grpc_timeout) {
    int64_t ms =
        s->grpc_timeout_ns / 1000000 + (s->grpc_timeout_ns % 1000000 != 0);
    s->timeout_ms = ms < 1 ? 1 : ms;
  }
  if (s->timeout_ms > 0)
    s->deadline_ns = weft_deadline_from_timeout_ms(s->timeout_ms);
  return 1;
}

/* The whole body is here: build the request message and call. */
static void rest_dispatch(h2s_stream *s) {
  weft_error err = {0};
  if (s->enc_unary == H2S_ENC_UNSUPPORTED) {
    char msg[160];
    snprintf(msg, sizeof msg,
             "content-encoding \"%s\" is not supported: use gzip or identity",
             s->bad_enc);
    respond_error(s, 415, WEFT_STATUS_UNIMPLEMENTED, msg);
    return;
  }
  if (s->enc_unary == H2S_ENC_GZIP && s->body_len > 0) {
    /* Inflated within the same message size limit as Connect bodies. */
    uint8_t *plain = NULL;
    size_t plen = 0;
    int rv = weft__gunzip(s->body, s->body_len, s->c->lis->max_msg, &plain,
                          &plen, &err);
    if (rv < 0) {
      respond_error(s, rv == WEFT_ERR_TOO_BIG ? 413 : 400,
                    rv == WEFT_ERR_TOO_BIG ? WEFT_STATUS_RESOURCE_EXHAUSTED
                                           : WEFT_STATUS_INVALID_ARGUMENT,
                    err.message);
      return;
    }
    body_free(s);
    s->body = plain;
    s->body_len = s->body_cap = plen;
  }
  weft_rest_request rq = {s->verb, s->path, s->query, (const char *)s->body,
                          s->body_len};
  if (weft_rest_prepare(s->c->lis->rest, &rq, &s->rest_call, &err) < 0) {
    respond_error(s, s->rest_call.http_status ? s->rest_call.http_status : 400,
                  s->rest_call.code ? s->rest_call.code
                                    : WEFT_STATUS_INVALID_ARGUMENT,
                  err.message);
    return;
  }
  /* The call reads the binary request prepare built. */
  s->m = s->rest_call.method;
  body_free(s);
  s->body = s->rest_call.request;
  s->body_len = s->body_cap = s->rest_call.request_len;
  s->rest_call.request = NULL;
  s->rest_call.request_len = 0;
  s->ct = WEFT__CT_PROTO;
  dispatch(s);
}

/* The request headers are complete: validate, then dispatch streaming calls
 * at once (their handler consumes messages as they come) or wait for the
 * body of unary ones. Returns false if the stream got an error response. */
static bool on_request_headers(h2s_stream *s) {
  h2s_conn *c = s->c;
  char msg[320];
  if (weft__h2_ctype_stream(s->ct)) {
    weft__rxq_cfg rq = {
        .high_bytes = H2S_QUEUE_HIGH_WATER, .on_low = rx_low, .ud = s};
    if (weft__rxq_init(&s->rxq, &rq) < 0) {
      respond_error(s, 0, WEFT_STATUS_RESOURCE_EXHAUSTED, "out of memory");
      return false;
    }
    s->rxq_on = true;
  }
  s->cors = origin_allowed(c->lis, s->origin);
  if (s->hdr_overflow) {
    respond_error(s, 431, WEFT_STATUS_RESOURCE_EXHAUSTED,
                  "request headers over the 16 KiB limit");
    return false;
  }
  if (s->method == HS_M_OPTIONS && s->origin && s->acrm) {
    /* A CORS preflight: allowed origins get the Allow-* fields, others a
     * bare 403 (the browser then refuses the call). */
    respond_empty(s, s->cors ? 204 : 403);
    return false;
  }
  if (!s->path) {
    respond_error(s, 400, WEFT_STATUS_INVALID_ARGUMENT, "no request path");
    return false;
  }
  /* Looked up once: the Connect path below uses it too. */
  const weft_method_desc *known =
      s->proto == WEFT__GRPC_NONE
          ? weft_server_find_method(c->lis->srv, s->path)
          : NULL;
  if (s->proto == WEFT__GRPC_NONE && !known) {
    int r = rest_begin(s);
    if (r != 0)
      return r > 0;
  }
  if (s->method == HS_M_GET) {
    s->m = known ? known : weft_server_find_method(c->lis->srv, s->path);
    if (!s->m) {
      snprintf(msg, sizeof msg, "no route for GET %s", s->path);
      respond_error(s, 404, WEFT_STATUS_NOT_FOUND, msg);
      return false;
    }
    if (s->m->kind != WEFT_RPC_UNARY ||
        s->m->idempotent != WEFT_IDEMPOTENCY_NO_SIDE_EFFECTS) {
      snprintf(msg, sizeof msg,
               "%s has side effects: call it with POST (only methods with "
               "idempotency_level NO_SIDE_EFFECTS take GET)",
               s->path);
      respond_error(s, 405, WEFT_STATUS_UNIMPLEMENTED, msg);
      return false;
    }
    if (!connect_get(s))
      return false;
  } else if (route_request(s) == HS_ROUTE_NONE) {
    /* The hook for routes outside the Connect protocol (REST). */
    snprintf(msg, sizeof msg, "no route for %s %s",
             s->method == HS_M_POST ? "POST" : "this method on", s->path);
    respond_error(s, 404, WEFT_STATUS_NOT_FOUND, msg);
    return false;
  } else if (s->method != HS_M_POST) {
    respond_error(s, 405, WEFT_STATUS_UNIMPLEMENTED,
                  "only POST (and GET for Connect methods without side "
                  "effects) is supported for Connect and gRPC calls");
    return false;
  }
  if (s->proto == WEFT__GRPC_H2 && c->h1) {
    /* gRPC's status travels in HTTP trailers, which HTTP/1.1 clients do
     * not read; gRPC-Web carries it in the body instead. */
    s->proto = WEFT__GRPC_NONE;
    s->ct = WEFT__CT_JSON;
    respond_error(s, 415, WEFT_STATUS_UNIMPLEMENTED,
                  "application/grpc needs HTTP/2: use HTTP/2, or "
                  "application/grpc-web on HTTP/1.1");
    return false;
  }
  if (s->proto != WEFT__GRPC_NONE)
    return grpc_request_headers(s);
  if (s->ct == WEFT__CT_UNKNOWN) {
    respond_error(s, 415, WEFT_STATUS_INVALID_ARGUMENT,
                  "content-type must be application/json, application/proto, "
                  "application/connect+json, application/connect+proto, "
                  "application/grpc[+proto|+json], "
                  "application/grpc-web[+proto|+json] or "
                  "application/grpc-web-text[+proto]");
    return false;
  }
  if (s->bad_version) {
    respond_error(s, 0, WEFT_STATUS_INVALID_ARGUMENT,
                  "connect-protocol-version must be 1");
    return false;
  }
  if (s->bad_timeout) {
    respond_error(s, 0, WEFT_STATUS_INVALID_ARGUMENT,
                  "connect-timeout-ms must be a positive number of 1 to 10 "
                  "digits");
    return false;
  }
  s->resp_ct = s->ct;
  /* Unary bodies are compressed as HTTP content (content-encoding),
   * stream envelopes one by one (connect-content-encoding). An encoding
   * we do not speak is UNIMPLEMENTED, naming what we do speak in the
   * message and in the matching accept header, as connect-go answers. */
  bool streaming = weft__h2_ctype_stream(s->ct);
  uint8_t enc = streaming ? s->enc_stream : s->enc_unary;
  if (enc == H2S_ENC_UNSUPPORTED) {
    snprintf(msg, sizeof msg,
             "unknown compression \"%s\": supported encodings are gzip",
             s->bad_enc);
    pthread_mutex_lock(&c->mu);
    weft_metadata_add_str(
        &s->resp_headers,
        streaming ? "connect-accept-encoding" : "accept-encoding", "gzip");
    pthread_mutex_unlock(&c->mu);
    respond_error(s, 0, WEFT_STATUS_UNIMPLEMENTED, msg);
    return false;
  }
  s->req_gzip = enc == H2S_ENC_GZIP;
  s->m = known ? known : weft_server_find_method(c->lis->srv, s->path);
  if (!s->m) {
    snprintf(msg, sizeof msg, "%s is not a known method", s->path);
    respond_error(s, 0, WEFT_STATUS_UNIMPLEMENTED, msg);
    return false;
  }
  bool stream_kind = s->m->kind != WEFT_RPC_UNARY;
  if (stream_kind != weft__h2_ctype_stream(s->ct)) {
    snprintf(msg, sizeof msg, "%s is a %s method: use content-type %s", s->path,
             stream_kind ? "streaming" : "unary",
             stream_kind ? "application/connect+json or +proto"
                         : "application/json or application/proto");
    s->resp_ct = stream_kind ? WEFT__CT_JSON : s->ct;
    respond_error(s, 415, WEFT_STATUS_INVALID_ARGUMENT, msg);
    return false;
  }
  if (c->h1 && s->m->kind == WEFT_RPC_BIDI) {
    /* HTTP/1.1 is half-duplex here: the request body is read before the
     * response starts, which a bidi handler may never allow. */
    respond_error(s, 0, WEFT_STATUS_UNIMPLEMENTED,
                  "bidi streaming requires HTTP/2");
    return false;
  }
  s->deadline_ns = weft_deadline_from_timeout_ms(s->timeout_ms);
  if (stream_kind)
    dispatch(s);
  return true;
}

/* A new stream (an HTTP/2 stream or an HTTP/1.1 request) with one
 * reference, its transport's. */
static h2s_stream *stream_new(h2s_conn *c, int32_t id) {
  h2s_stream *s = calloc(1, sizeof *s);
  if (!s)
    return NULL;
  s->c = c;
  s->id = id;
  s->refs = 1;
  s->in_session = true;
  s->deadline_ns = INT64_MAX;
  weft__txq_cfg tq = {.high_bytes = H2S_OUT_HIGH_WATER};
  weft__txq_init(&s->out, &tq);
  pthread_cond_init(&s->cv, NULL);
  weft__connect_reader_init(&s->reader, c->lis->max_msg);
  pthread_mutex_lock(&c->mu);
  c->refs++;
  s->next = c->streams;
  if (c->streams)
    c->streams->prev = s;
  c->streams = s;
  pthread_mutex_unlock(&c->mu);
  return s;
}

/* A request's content coding: empty or identity, gzip, or one we do not
 * speak (remembered by name for the UNIMPLEMENTED answer). Codings are
 * case-insensitive (RFC 9110 8.4.1). */
static uint8_t parse_encoding(h2s_stream *s, const char *v, size_t vlen) {
  if (vlen == 0 || (vlen == 8 && strncasecmp(v, "identity", 8) == 0))
    return H2S_ENC_IDENTITY;
  if (vlen == 4 && strncasecmp(v, "gzip", 4) == 0)
    return H2S_ENC_GZIP;
  snprintf(s->bad_enc, sizeof s->bad_enc, "%.*s", (int)vlen, v);
  return H2S_ENC_UNSUPPORTED;
}

/* The one place a request's protocol is chosen, by its content-type:
 * Connect's four types, else gRPC / gRPC-Web (which then run on the Connect
 * streaming path: see the top of this file), else unknown (415). */
static void request_protocol(h2s_stream *s, const char *v, size_t vlen) {
  bool json = false;
  s->ct = weft__h2_parse_ctype(v, vlen);
  s->proto = s->ct == WEFT__CT_UNKNOWN ? weft__grpc_parse_ctype(v, vlen, &json)
                                       : WEFT__GRPC_NONE;
  if (s->proto != WEFT__GRPC_NONE)
    s->ct = json ? WEFT__CT_STREAM_JSON : WEFT__CT_STREAM_PROTO;
}

/* One request header; names in lower case (HTTP/2 requires it; h1_conn.c
 * folds them). */
static void stream_header(h2s_stream *s, const char *n, size_t nlen,
                          const char *v, size_t vlen) {
  s->hdr_bytes += nlen + vlen + 32;
  if (s->hdr_bytes > H2S_MAX_HEADER_BYTES) {
    s->hdr_overflow = true;
    return;
  }
  if (nlen == 5 && memcmp(n, ":path", 5) == 0) {
    free(s->path);
    free(s->query);
    s->query = NULL;
    s->path = strndup(v, vlen);
    char *q = s->path ? strchr(s->path, '?') : NULL;
    if (q) {
      *q = '\0';
      s->query = strdup(q + 1);
    }
  } else if (nlen == 7 && memcmp(n, ":method", 7) == 0) {
    /* Not snprintf, whose formatting cost ~600 instructions per request
     * (2% of a unary call's on the loop thread). */
    size_t k = vlen < sizeof s->verb - 1 ? vlen : sizeof s->verb - 1;
    memcpy(s->verb, v, k);
    s->verb[k] = '\0';
    s->method = vlen == 4 && memcmp(v, "POST", 4) == 0      ? HS_M_POST
                : vlen == 3 && memcmp(v, "GET", 3) == 0     ? HS_M_GET
                : vlen == 7 && memcmp(v, "OPTIONS", 7) == 0 ? HS_M_OPTIONS
                                                            : HS_M_OTHER;
  } else if (nlen == 12 && memcmp(n, "content-type", 12) == 0) {
    request_protocol(s, v, vlen);
  } else if (nlen == 12 && memcmp(n, "grpc-timeout", 12) == 0) {
    s->grpc_timeout_ns = weft__grpc_parse_timeout(v, vlen);
    s->has_grpc_timeout = s->grpc_timeout_ns >= 0;
    s->bad_grpc_timeout = !s->has_grpc_timeout;
  } else if (nlen == 13 && memcmp(n, "grpc-encoding", 13) == 0) {
    s->grpc_enc = (uint8_t)weft__grpc_parse_encoding(v, vlen);
    if (s->grpc_enc == WEFT__GRPC_ENC_UNSUPPORTED)
      snprintf(s->bad_enc, sizeof s->bad_enc, "%.*s", (int)vlen, v);
  } else if (nlen == 20 && memcmp(n, "grpc-accept-encoding", 20) == 0) {
    s->grpc_accept_gzip = weft__grpc_accepts_gzip(v, vlen);
  } else if (nlen == 16 && memcmp(n, "content-encoding", 16) == 0) {
    s->enc_unary = parse_encoding(s, v, vlen);
  } else if (nlen == 24 && memcmp(n, "connect-content-encoding", 24) == 0) {
    s->enc_stream = parse_encoding(s, v, vlen);
  } else if ((nlen == 15 && memcmp(n, "accept-encoding", 15) == 0) ||
             (nlen == 23 && memcmp(n, "connect-accept-encoding", 23) == 0)) {
    s->accept_gzip = memmem(v, vlen, "gzip", 4) != NULL;
  } else if (nlen == 18 && memcmp(n, "connect-timeout-ms", 18) == 0) {
    s->timeout_ms = weft__connect_parse_timeout(v, vlen);
    s->bad_timeout = s->timeout_ms < 0;
  } else if (nlen == 24 && memcmp(n, "connect-protocol-version", 24) == 0) {
    s->bad_version = !(vlen == 1 && v[0] == '1');
  } else if (nlen == 6 && memcmp(n, "origin", 6) == 0) {
    free(s->origin);
    s->origin = strndup(v, vlen);
  } else if (nlen == 29 &&
             memcmp(n, "access-control-request-method", 29) == 0) {
    s->acrm = true;
  } else if (!weft__h2_reserved_header(n, nlen)) {
    char key[256];
    if (nlen < sizeof key) {
      memcpy(key, n, nlen);
      key[nlen] = '\0';
      weft_metadata_add(&s->md, key, v, vlen);
    }
  }
}

/* Request body bytes of a stream whose call was set up and not answered
 * yet. Unary bodies are buffered; streams are cut into messages. Returns
 * < 0 when the request got an error answer. */
static int stream_body(h2s_stream *s, const uint8_t *data, size_t len) {
  h2s_conn *c = s->c;
  if (!weft__h2_ctype_stream(s->ct)) {
    /* Unary: buffer the body, bounded by the message size limit (a gzip
     * body is bounded again after inflating). */
    if (s->body_overflow)
      return 0;
    if (s->body_len + len > c->lis->max_msg) {
      char msg[128];
      s->body_overflow = true;
      snprintf(msg, sizeof msg, "request body over the %zu-byte limit",
               c->lis->max_msg);
      /* Answer now; the rest of the body is consumed and dropped (a
       * RST_STREAM here would overtake the response's DATA frames). */
      respond_error(s, 0, WEFT_STATUS_RESOURCE_EXHAUSTED, msg);
      return WEFT_ERR_TOO_BIG;
    }
    if (!s->body && len <= sizeof s->body_inl) {
      s->body = s->body_inl;
      s->body_cap = sizeof s->body_inl;
    } else if (s->body_len + len > s->body_cap) {
      size_t cap = s->body_cap ? s->body_cap * 2 : 1024;
      while (cap < s->body_len + len)
        cap *= 2;
      bool inl = s->body == s->body_inl;
      uint8_t *b = inl ? malloc(cap) : realloc(s->body, cap);
      if (!b)
        return WEFT_ERR_NOMEM;
      if (inl)
        memcpy(b, s->body_inl, s->body_len);
      s->body = b;
      s->body_cap = cap;
    }
    memcpy(s->body + s->body_len, data, len);
    s->body_len += len;
    return 0;
  }
  weft_error err = {0};
  int rv =
      s->proto != WEFT__GRPC_NONE
          ? weft__grpc_reader_feed(&s->greader, data, len, push_msg, s, &err)
          : weft__connect_reader_feed(&s->reader, data, len, push_msg, s, &err);
  if (rv < 0) {
    /* Answer with a Connect error in the end-of-stream message (an
     * RST_STREAM would tell the client nothing); whatever the client still
     * sends is consumed and dropped. The answer is produced before the
     * handler's recv() is woken to fail, so the handler's own (CANCELLED)
     * finish cannot overtake it. */
    int code = s->proto != WEFT__GRPC_NONE    ? weft__grpc_error_status(rv)
               : rv == WEFT_ERR_FRAME_TOO_BIG ? WEFT_STATUS_RESOURCE_EXHAUSTED
                                              : WEFT_STATUS_INVALID_ARGUMENT;
    respond_error(s, 0, code,
                  s->push_err      ? s->push_err
                  : err.message[0] ? err.message
                                   : "malformed enveloped message");
    rxq_end(s, rv, err.message);
  }
  return rv;
}

/* The request body ended: unary calls are dispatched now, streams see the
 * end of their messages. */
static void stream_end(h2s_stream *s) {
  if (is_finished(s))
    return;
  if (s->rest) {
    if (!s->body_overflow)
      rest_dispatch(s);
    return;
  }
  if (!weft__h2_ctype_stream(s->ct)) {
    if (!s->body_overflow && s->m)
      dispatch(s);
    return;
  }
  bool idle = s->proto != WEFT__GRPC_NONE
                  ? weft__grpc_reader_idle(&s->greader)
                  : weft__connect_reader_idle(&s->reader);
  /* After a framing error the queue has ended already: that reason stays. */
  if (idle)
    rxq_end(s, 0, NULL);
  else
    rxq_end(s, WEFT_ERR_TRUNCATED, "the request ended inside a message");
  /* gRPC unary: the whole request is here, as for a Connect unary call. */
  if (s->proto != WEFT__GRPC_NONE && s->m && s->m->kind == WEFT_RPC_UNARY)
    dispatch(s);
}

/* ---- the engine's events (h2_engine.h), loop thread ----------------- */

static void *ev_stream_open(void *ud, const weft__h2e_request *rq) {
  h2s_conn *c = ud;
  h2s_stream *s = stream_new(c, rq->id);
  if (!s)
    return NULL;
  for (size_t i = 0; i < rq->nfields; i++)
    stream_header(s, rq->fields[i].name, rq->fields[i].nlen,
                  (const char *)rq->fields[i].value, rq->fields[i].vlen);
  if (rq->too_large)
    s->hdr_overflow = true;
  /* An answered request (an error, a preflight) is finished: its body and
   * end are dropped (ev_data, stream_end). */
  on_request_headers(s);
  return s;
}

static int ev_data(void *ud, void *st, const uint8_t *data, size_t len) {
  h2s_conn *c = ud;
  h2s_stream *s = st;
  if (!s->m || is_finished(s)) {
    weft__h2e_credit(c->io.engine, s->id, len);
    return 0;
  }
  if (!weft__h2_ctype_stream(s->ct)) {
    weft__h2e_credit(c->io.engine, s->id, len);
    return stream_body(s, data, len) == WEFT_ERR_NOMEM ? -1 : 0;
  }
  /* Streaming: see release_credit. */
  s->held += len;
  if (stream_body(s, data, len) >= 0) {
    release_credit(s);
  } else {
    weft__h2e_credit(c->io.engine, s->id, s->held);
    s->held = 0;
  }
  return 0;
}

static void ev_end(void *ud, void *st) {
  (void)ud;
  stream_end(st);
}

/* ---- the seam to h1_conn.c (h2_call.h) ------------------------------ */

weft__hs_stream *weft__hs_stream_new(weft__hs_conn *c) {
  return stream_new(c, 1); /* the id is the engine's business only */
}

void weft__hs_header(weft__hs_stream *s, const char *name, size_t nlen,
                     const char *value, size_t vlen) {
  stream_header(s, name, nlen, value, vlen);
}

bool weft__hs_headers_done(weft__hs_stream *s) {
  return on_request_headers(s);
}

int weft__hs_body(weft__hs_stream *s, const uint8_t *data, size_t len) {
  if (!s->m || is_finished(s))
    return 0;
  return stream_body(s, data, len);
}

void weft__hs_end(weft__hs_stream *s) {
  stream_end(s);
}

bool weft__hs_behind(weft__hs_stream *s) {
  pthread_mutex_lock(&s->c->mu);
  /* A finished call takes no more: what it left queued must not stop
   * the connection from reading the rest of the request. */
  bool finished = s->finished;
  pthread_mutex_unlock(&s->c->mu);
  return !finished && rxq_above(s);
}

bool weft__hs_response_head(weft__hs_stream *s, weft__hs_head *h) {
  pthread_mutex_lock(&s->c->mu);
  bool ready =
      !s->resp_submitted && (out_pending(s) || weft__txq_ended(&s->out));
  if (ready) {
    s->resp_submitted = true;
    h->status = s->http_status ? s->http_status : 200;
    h->ctype =
        s->preflight ? NULL
        : s->proto != WEFT__GRPC_NONE
            ? weft__grpc_ctype_str(s->proto, weft__h2_ctype_json(s->resp_ct))
            : weft__h2_ctype_str(s->resp_ct);
    h->encoding = s->resp_gzip ? "gzip" : NULL;
    h->encoding_field = s->proto != WEFT__GRPC_NONE ? "grpc-encoding"
                        : weft__h2_ctype_stream(s->resp_ct)
                            ? "connect-content-encoding"
                            : "content-encoding";
    h->cors_origin = s->cors ? s->origin : NULL;
    h->preflight = s->preflight;
    h->headers = &s->resp_headers;
    h->content_length =
        weft__txq_ended(&s->out) ? (int64_t)out_pending(s) : (int64_t)-1;
  }
  pthread_mutex_unlock(&s->c->mu);
  return ready;
}

size_t weft__hs_response_read(weft__hs_stream *s, uint8_t *buf, size_t cap,
                              bool *end) {
  pthread_mutex_lock(&s->c->mu);
  weft__txq_item *done = NULL;
  size_t n = weft__txq_read(&s->out, buf, cap, &done);
  *end = weft__txq_done(&s->out);
  pthread_cond_broadcast(&s->cv); /* room for a blocked send() */
  pthread_mutex_unlock(&s->c->mu);
  weft__txq_items_done(done);
  return n;
}

/* The transport is done with s (its response went out, or the peer left):
 * drops the transport's reference; an unfinished call is cancelled. */
static void stream_closed(h2s_stream *s) {
  if (s->timer) {
    weft_timer_cancel(s->c->lis->loop, s->timer);
    s->timer = NULL;
  }
  pthread_mutex_lock(&s->c->mu);
  s->in_session = false;
  if (!s->finished || out_pending(s)) {
    s->cancelled = true;
    rxq_cancel(s);
    weft_server_notify_cancel(s->rt);
  }
  /* Nobody reads the response any more: what it still holds goes now. */
  weft__txq_item *dropped = weft__txq_cancel(&s->out, WEFT_ERR_CANCELLED);
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->c->mu);
  weft__txq_items_done(dropped);
  stream_unref(s);
}

void weft__hs_stream_close(weft__hs_stream *s) {
  stream_closed(s);
}

/* The engine itself gives the connection back the window of data the
 * handler never took (a reset stream). */
static void ev_closed(void *ud, void *st, uint32_t code) {
  h2s_stream *s = st;
  (void)ud;
  (void)code;
  s->held = 0;
  stream_closed(s);
}

static void on_conn_closed(weft__h2io *io, const weft_error *why, void *ud) {
  h2s_conn *c = ud;
  (void)io;
  /* The CLOSED event: an orderly close (why NULL: EOF between calls, both
   * sides done, or our shutdown) unless calls were still in flight. */
  unsigned live = 0;
  pthread_mutex_lock(&c->mu);
  for (h2s_stream *s = c->streams; s; s = s->next)
    if (s->in_session && !s->finished)
      live++;
  pthread_mutex_unlock(&c->mu);
  char reason[WEFT_ERROR_MSG_MAX + 64];
  int code = why ? why->code : 0;
  snprintf(reason, sizeof reason, "%s",
           why             ? why->message
           : c->close_note ? c->close_note
                           : "closed the connection");
  if (live && (!code || code == WEFT_ERR_CLOSED)) {
    code = WEFT_ERR_CLOSED;
    size_t n = strlen(reason);
    snprintf(reason + n, sizeof reason - n, " with %u call%s in flight", live,
             live == 1 ? "" : "s");
  }
  weft_server_conn_event(c->lis->srv, WEFT_CONN_EVENT_CLOSED, c->lis->scheme,
                         c->lis->url, c->peer, code, reason, c->calls);
  if (c->tick) {
    weft_timer_cancel(c->lis->loop, c->tick);
    c->tick = NULL;
  }
  weft__acceptor_release(c->lis->acc, c->ip);
  /* Freeing the engine reports no stream closes: drop its refs. */
  for (;;) {
    h2s_stream *victim = NULL;
    weft__txq_item *dropped = NULL;
    pthread_mutex_lock(&c->mu);
    for (h2s_stream *s = c->streams; s; s = s->next) {
      if (s->in_session) {
        s->in_session = false;
        s->cancelled = true;
        rxq_cancel(s);
        dropped = weft__txq_cancel(&s->out, WEFT_ERR_CANCELLED);
        weft_server_notify_cancel(s->rt);
        pthread_cond_broadcast(&s->cv);
        victim = s;
        break;
      }
    }
    pthread_mutex_unlock(&c->mu);
    weft__txq_items_done(dropped);
    if (!victim)
      break;
    if (victim->timer) {
      weft_timer_cancel(c->lis->loop, victim->timer);
      victim->timer = NULL;
    }
    stream_unref(victim);
  }
  c->h1 = NULL;
  /* Not freed here: on_io is still on the stack. */
  if (!post(c->lis, conn_io_release, c))
    conn_io_release(c);
}

void weft__hs_conn_closed(weft__hs_conn *c, const weft_error *why,
                          const char *note) {
  if (note) {
    snprintf(c->note, sizeof c->note, "%s", note);
    c->close_note = c->note;
  }
  c->io.closed = true;
  c->io.conn = NULL;
  on_conn_closed(&c->io, why, c);
}

static const weft__h2e_events h2s_events = {
    .stream_open = ev_stream_open,
    .data = ev_data,
    .end = ev_end,
    .closed = ev_closed,
    .read_data = data_read,
};

static int new_session(h2s_conn *c) {
  weft__h2e_cfg cfg = {.max_concurrent_streams = H2S_MAX_CONCURRENT,
                       .stream_window = H2S_STREAM_WINDOW,
                       .conn_window = H2S_CONN_WINDOW,
                       .max_header_bytes = H2S_MAX_HEADER_BYTES,
                       .header_timeout_ms = c->lis->header_ms,
                       .start_ns = c->accepted_ns};
  return weft__h2e_new(&c->io.engine, &cfg, &h2s_events, c);
}

/* Header and idle timeouts: a peer that has not finished its preface, or
 * a request's headers, within header_ms is closed (a slow-loris holding the
 * connection open a byte at a time); a connection with no stream open for
 * idle_ms gets a GOAWAY and is closed. */
static void on_tick(weft_loop *lp, weft_timer *t, void *ud) {
  h2s_conn *c = ud;
  h2s_listener *l = c->lis;
  (void)lp;
  (void)t;
  if (c->io.closed)
    return;
  int64_t now = weft_now_ns();
  if (c->h1) {
    weft__h1sc_tick(c->h1, now);
    return;
  }
  weft_error e;
  if (weft__h2e_expire(c->io.engine, now, &e) < 0) {
    weft__h2io_flush(&c->io); /* its GOAWAY */
    weft__h2io_close(&c->io, &e);
    return;
  }
  bool busy = weft__h2e_busy(c->io.engine);
  pthread_mutex_lock(&c->mu);
  for (h2s_stream *s = c->streams; s && !busy; s = s->next)
    busy = s->in_session;
  pthread_mutex_unlock(&c->mu);
  if (busy || c->flush_posted || !weft__h2e_ready(c->io.engine)) {
    c->last_busy_ns = now;
    return;
  }
  if (l->idle_ms && now - c->last_busy_ns >= l->idle_ms * 1000000) {
    weft__h2e_goaway(c->io.engine, WEFT__H2E_NO_ERROR);
    weft__h2io_flush(&c->io);
    snprintf(c->note, sizeof c->note, "idle for %lld ms, closed",
             (long long)l->idle_ms);
    c->close_note = c->note;
    weft__h2io_close(&c->io, NULL);
  }
}

/* A socket from the shared accept loop (accept.h). */
static void on_conn(void *ud, weft__conn *conn, bool over_limit) {
  h2s_listener *l = ud;
  (void)over_limit; /* the acceptor closes those itself */
  if (l->stopping) {
    weft__acceptor_release(l->acc, weft__conn_ip(conn));
    weft__conn_close(conn);
    return;
  }
  h2s_conn *c = calloc(1, sizeof *c);
  if (!c) {
    weft__acceptor_release(l->acc, weft__conn_ip(conn));
    weft__conn_close(conn);
    return;
  }
  pthread_mutex_init(&c->mu, NULL);
  c->lis = l;
  c->refs = 1;
  c->accepted_ns = c->last_busy_ns = weft_now_ns();
  c->io.loop = l->loop;
  c->io.conn = conn;
  c->io.on_closed = on_conn_closed;
  c->io.ud = c;
  snprintf(c->peer, sizeof c->peer, "%s", weft__conn_peer(conn));
  snprintf(c->ip, sizeof c->ip, "%s", weft__conn_ip(conn));
  /* h1_conn.c reads the first bytes: HTTP/2 when TLS negotiated it (ALPN
   * h2) or they are its preface, otherwise HTTP/1.1. */
  weft__h1sc_cfg hc = {.loop = l->loop,
                       .conn = conn,
                       .owner = c,
                       .max_body = l->max_msg,
                       .header_ms = l->header_ms,
                       .idle_ms = l->idle_ms};
  if (weft__h1sc_new(&c->h1, &hc) < 0) {
    weft__h2e_free(c->io.engine);
    weft__acceptor_release(l->acc, c->ip);
    weft__conn_close(conn);
    pthread_mutex_destroy(&c->mu);
    free(c);
    return;
  }
  pthread_mutex_lock(&l->mu);
  l->refs++;
  c->next = l->conns;
  if (l->conns)
    l->conns->prev = c;
  l->conns = c;
  pthread_mutex_unlock(&l->mu);
  int64_t period = 0;
  if (l->header_ms)
    period = l->header_ms / 4;
  if (l->idle_ms && (!period || l->idle_ms / 4 < period))
    period = l->idle_ms / 4;
  if (period) {
    if (period < 10)
      period = 10;
    if (period > 1000)
      period = 1000;
    c->tick = weft_loop_timer(l->loop, period, period, on_tick, c);
  }
  weft_server_conn_event(l->srv, WEFT_CONN_EVENT_OPENED, l->scheme, l->url,
                         c->peer, 0, NULL, 0);
  if (!c->h1) /* our SETTINGS (may close c: see on_conn_closed) */
    weft__h2io_flush(&c->io);
}

void weft__hs_start_h2(weft__hs_conn *c, const uint8_t *pre, size_t len) {
  weft_error e;
  c->h1 = NULL;
  if (new_session(c) < 0 || weft__h2io_start(&c->io) < 0) {
    weft_error_set(&e, WEFT_ERR_NOMEM, "cannot start an HTTP/2 session");
    weft__h2io_close(&c->io, &e);
    return;
  }
  if (weft__h2e_feed(c->io.engine, pre, len, weft_now_ns(), &e) < 0) {
    weft__h2io_flush(&c->io); /* its GOAWAY */
    weft__h2io_close(&c->io, &e);
    return;
  }
  weft__h2io_flush(&c->io);
}

/* ---- weft_server_call_ops (worker threads) --------------------------- */

static int ops_recv(void *tc, weft_arena *arena, void **msg) {
  h2s_stream *s = tc;
  weft_error err = {0};
  pthread_mutex_lock(&s->c->mu);
  if (!weft__h2_ctype_stream(s->ct)) {
    bool taken = s->unary_taken;
    s->unary_taken = true;
    pthread_mutex_unlock(&s->c->mu);
    if (taken)
      return 0;
    const uint8_t *body = s->body;
    size_t len = s->body_len;
    uint8_t *plain = NULL;
    if (s->req_gzip && len > 0) { /* an empty body is an empty message */
      int rv = weft__gunzip(body, len, s->c->lis->max_msg, &plain, &len, &err);
      if (rv < 0) {
        snprintf(s->recv_err, sizeof s->recv_err, "%s", err.message);
        return rv;
      }
      body = plain;
    }
    int rv = weft__h2_decode(s->m->input, weft__h2_ctype_json(s->ct), body, len,
                             arena, s->c->lis->max_msg, msg, &err);
    free(plain);
    if (rv < 0)
      snprintf(s->recv_err, sizeof s->recv_err, "%s", err.message);
    return rv < 0 ? rv : 1;
  }
  pthread_mutex_unlock(&s->c->mu);
  /* The deadline needs no wait here: on_deadline cancels the queue. */
  weft__rxq_msg *n = NULL;
  int rv = weft__rxq_pop(&s->rxq, true, INT64_MAX, &n);
  if (rv <= 0) {
    if (rv < 0 && weft__rxq_why(&s->rxq)[0])
      snprintf(s->recv_err, sizeof s->recv_err, "%s", weft__rxq_why(&s->rxq));
    return rv;
  }
  const uint8_t *data = n->data;
  size_t len = n->len;
  uint8_t *plain = NULL;
  if ((n->flags & WEFT__CONNECT_FLAG_COMPRESSED) && len > 0) {
    rv = weft__gunzip(data, len, s->c->lis->max_msg, &plain, &len, &err);
    if (rv < 0)
      goto out;
    data = plain;
  }
  rv = weft__h2_decode(s->m->input, weft__h2_ctype_json(s->ct), data, len,
                       arena, s->c->lis->max_msg, msg, &err);
  if (rv >= 0)
    rv = 1;
out:
  if (rv < 0)
    snprintf(s->recv_err, sizeof s->recv_err, "%s", err.message);
  free(plain);
  free(n);
  return rv;
}

/* A server-streaming route's reply line: queued like a stream message
 * (same backpressure), never compressed. Takes buf. */
static int rest_send_line(h2s_stream *s, uint8_t *buf, size_t len,
                          const weft_metadata *headers) {
  pthread_mutex_lock(&s->c->mu);
  if (headers && !s->resp_submitted && s->resp_headers.count == 0)
    weft_metadata_copy(&s->resp_headers, headers);
  while (weft__txq_full(&s->out) && !s->cancelled && !s->finished)
    pthread_cond_wait(&s->cv, &s->c->mu);
  int rv = WEFT_ERR_CANCELLED;
  if (!s->cancelled && !s->finished) {
    rv = out_append(s, buf, len);
    if (rv == 0)
      s->rest_started = true;
  }
  pthread_mutex_unlock(&s->c->mu);
  free(buf);
  if (rv == 0)
    kick(s);
  return rv;
}

static int send_bytes(h2s_stream *s, uint8_t *buf, size_t len,
                      const weft_encoded_msg *pb, const weft_metadata *headers);

static int ops_send(void *tc, const void *msg, const weft_metadata *headers) {
  h2s_stream *s = tc;
  weft_error err = {0};
  uint8_t *buf = NULL;
  size_t len = 0;
  /* REST answers are the route's response (or its response_body field)
   * in proto3 JSON with proto names, as the AITBC WebSocket API answers. */
  const unsigned jf = WEFT_JSON_PROTO_NAMES | WEFT_JSON_EMIT_DEFAULTS;
  int rv = s->rest_stream
               ? weft_rest_render_stream_result(&s->rest_call, msg, jf,
                                                (char **)&buf, &len, &err)
           : s->rest ? weft_rest_render_response(&s->rest_call, msg, jf,
                                                 (char **)&buf, &len, &err)
                     : weft__h2_encode(msg, weft__h2_ctype_json(s->resp_ct),
                                       &buf, &len, &err);
  if (rv < 0)
    return rv;
  if (s->rest_stream)
    return rest_send_line(s, buf, len, headers);
  return send_bytes(s, buf, len, NULL, headers);
}

/* A message already encoded in protobuf binary (shared with other calls):
 * a Connect, gRPC or gRPC-Web stream with a binary content-type frames
 * those bytes; JSON and REST encode msg. */
static int ops_send_encoded(void *tc, const void *msg,
                            const weft_encoded_msg *pb,
                            const weft_metadata *headers) {
  h2s_stream *s = tc;
  if (s->rest || s->rest_stream || weft__h2_ctype_json(s->resp_ct) ||
      !weft__h2_ctype_stream(s->ct))
    return ops_send(tc, msg, headers);
  return send_bytes(s, (uint8_t *)pb->data, pb->len, pb, headers);
}

/* Queues one encoded message (or a unary call's response) on the stream:
 * buf is malloc'd and taken, or (pb) the shared encoding pb->data, which
 * the queue references (pb->ref) until its bytes are out. */
static int send_bytes(h2s_stream *s, uint8_t *buf, size_t len,
                      const weft_encoded_msg *pb,
                      const weft_metadata *headers) {
  bool owned = !pb;
  int rv;
  pthread_mutex_lock(&s->c->mu);
  if (s->cancelled || s->finished) {
    pthread_mutex_unlock(&s->c->mu);
    if (owned)
      free(buf);
    return WEFT_ERR_CANCELLED;
  }
  if (headers && !s->resp_submitted && s->resp_headers.count == 0)
    weft_metadata_copy(&s->resp_headers, headers);
  if (!weft__h2_ctype_stream(s->ct)) { /* always owned (ops_send) */
    free(s->unary_body);
    s->unary_body = buf;
    s->unary_len = len;
    pthread_mutex_unlock(&s->c->mu);
    return 0;
  }
  /* Backpressure: a client that stops reading blocks this handler, not
   * the server's memory. */
  while (weft__txq_full(&s->out) && !s->cancelled)
    pthread_cond_wait(&s->cv, &s->c->mu);
  if (s->cancelled) {
    pthread_mutex_unlock(&s->c->mu);
    if (owned)
      free(buf);
    return WEFT_ERR_CANCELLED;
  }
  uint8_t flags = 0;
  decide_stream_encoding(s);
  if (s->resp_gzip && want_gzip(s, len)) {
    uint8_t *z;
    size_t zl;
    if (weft__gzip(buf, len, &z, &zl) == 0) {
      if (owned)
        free(buf);
      buf = z;
      len = zl;
      owned = true;
      flags = WEFT__CONNECT_FLAG_COMPRESSED;
    }
  }
  if (s->proto == WEFT__GRPC_WEB_TEXT) { /* re-encoded: copied anyway */
    rv = out_envelope(s, flags, buf, len);
    if (owned)
      free(buf);
  } else if (owned) {
    rv = out_envelope_ref(s, flags, buf, len, free, buf);
  } else if (len >= H2S_REF_MIN && pb->ref && pb->unref) {
    pb->ref(pb->ud); /* the runtime's own reference outlives this call */
    rv = out_envelope_ref(s, flags, buf, len, pb->unref, pb->ud);
  } else {
    rv = out_envelope(s, flags, buf, len);
  }
  pthread_mutex_unlock(&s->c->mu);
  if (rv == 0)
    kick(s);
  return rv;
}

static int ops_finish(void *tc, const weft_status *st,
                      const weft_metadata *headers,
                      const weft_metadata *trailers) {
  h2s_stream *s = tc;
  if (s->rxq_on)
    weft__rxq_disarm(&s->rxq);
  pthread_mutex_lock(&s->c->mu);
  bool was = s->finished;
  s->rt = NULL; /* the runtime frees its call once this returns */
  finish_locked(s, st, headers, trailers);
  pthread_mutex_unlock(&s->c->mu);
  if (!was)
    kick(s);
  stream_unref(s); /* the runtime's reference */
  return 0;
}

static bool ops_cancelled(void *tc) {
  h2s_stream *s = tc;
  pthread_mutex_lock(&s->c->mu);
  bool c = s->cancelled;
  pthread_mutex_unlock(&s->c->mu);
  return c;
}

static const char *ops_recv_error(void *tc) {
  h2s_stream *s = tc;
  return s->recv_err;
}

static void ops_bind(void *tc, weft_server_call *call) {
  h2s_stream *s = tc;
  pthread_mutex_lock(&s->c->mu);
  s->rt = call;
  if (s->cancelled)
    weft_server_notify_cancel(call);
  pthread_mutex_unlock(&s->c->mu);
}

/* A unary request is whole before dispatch: readable at once. */
static int ops_want_read(void *tc, weft_server_call *call) {
  h2s_stream *s = tc;
  if (weft__h2_ctype_stream(s->ct))
    weft__rxq_arm(&s->rxq, call);
  else
    weft_server_notify_readable(call);
  return 0;
}

static int ops_set_compression(void *tc, weft_compression mode) {
  h2s_stream *s = tc;
  /* under the lock: a deadline may finish the stream on the loop thread,
   * which reads it to decide the stream's encoding */
  pthread_mutex_lock(&s->c->mu);
  s->compression = mode;
  pthread_mutex_unlock(&s->c->mu);
  return 0;
}

static const weft_server_call_ops h2s_ops = {
    .recv = ops_recv,
    .send = ops_send,
    .finish = ops_finish,
    .cancelled = ops_cancelled,
    .recv_error = ops_recv_error,
    .set_compression = ops_set_compression,
    .bind = ops_bind,
    .send_encoded = ops_send_encoded,
    .want_read = ops_want_read,
};

/* ---- weft_server_transport ------------------------------------------ */

static void register_listener(void *ud) {
  h2s_listener *l = ud;
  weft__acceptor_opts ao = {.loop = l->loop,
                            .lfd = l->fd,
                            .tls = l->tls,
                            .name = l->scheme,
                            .max_per_ip = l->max_per_ip,
                            .on_conn = on_conn,
                            .ud = l,
                            .log = l->log,
                            .log_ud = l->log_ud};
  l->fd = -1; /* the acceptor has it, even if it fails */
  if (weft__acceptor_new(&l->acc, &ao) < 0) {
    char line[200];
    snprintf(line, sizeof line, "%s: cannot watch the listening socket",
             l->scheme);
    if (l->log)
      l->log(3, line, l->log_ud);
  }
}

static int h2s_listen(weft_server *srv, const weft_url *url,
                      const weft_server_opts *o, void **out, int *port,
                      weft_error *err, bool tls) {
  h2s_listener *l = calloc(1, sizeof *l);
  if (!l)
    return weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
  l->srv = srv;
  l->fd = -1;
  l->refs = 1;
  l->max_msg = o && o->max_message_size ? o->max_message_size : 4u << 20;
  int64_t hdr = o ? o->header_timeout_ms : 0;
  l->header_ms = hdr == 0 ? WEFT__DEFAULT_HEADER_TIMEOUT_MS : hdr < 0 ? 0 : hdr;
  l->idle_ms = o && o->idle_timeout_ms > 0 ? o->idle_timeout_ms : 0;
  l->max_per_ip = o && o->max_conns_per_ip ? o->max_conns_per_ip
                                           : WEFT__DEFAULT_MAX_CONNS_PER_IP;
  l->log = o ? o->log : NULL;
  l->log_ud = o ? o->log_ud : NULL;
  const weft_http2_opts *h2o =
      o ? weft_opts_find(o->transport_opts, WEFT_HTTP2_OPTS_TAG) : NULL;
  if (h2o)
    l->inline_unary = h2o->inline_handlers;
  l->origins = o ? o->allowed_origins : NULL;
  pthread_mutex_init(&l->mu, NULL);
  int rv;
  if (tls) {
    static const char *const alpn[] = {"h2", "http/1.1", NULL};
    rv = weft__tls_ctx_new(&l->tls, true, o ? &o->tls : NULL, alpn, err);
    if (rv < 0)
      goto fail;
  }
  rv = weft__listen(url->host[0] ? url->host : "0.0.0.0",
                    url->port < 0 ? 0 : url->port, 512, &l->fd, port, err);
  if (rv < 0)
    goto fail;
  l->scheme = tls ? "https" : "h2c";
  weft_format_listen_url(l->url, sizeof l->url, l->scheme, url->host, *port);
  rv = weft_loop_new(&l->loop);
  /* A standby thread lets the loop thread run a call itself (loop.h). */
  if (rv == 0)
    weft_loop_set_standby(l->loop, 1);
  if (rv == 0)
    rv = weft_loop_start(l->loop);
  if (rv == 0)
    rv = weft_loop_post(l->loop, register_listener, l);
  if (rv < 0) {
    weft_error_set(err, rv, "cannot start the HTTP/2 event loop");
    goto fail;
  }
  *out = l;
  return 0;
fail:
  weft_loop_free(l->loop);
  if (l->fd >= 0)
    close(l->fd);
  weft__tls_ctx_free(l->tls);
  pthread_mutex_destroy(&l->mu);
  free(l);
  return rv;
}

static int h2c_listen(weft_server *srv, const weft_url *url,
                      const weft_server_opts *o, void **out, int *port,
                      weft_error *err) {
  return h2s_listen(srv, url, o, out, port, err, false);
}

static int https_listen(weft_server *srv, const weft_url *url,
                        const weft_server_opts *o, void **out, int *port,
                        weft_error *err) {
  return h2s_listen(srv, url, o, out, port, err, true);
}

typedef struct sync_rec {
  h2s_listener *l;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool done;
} sync_rec;

static void sync_done(void *ud) {
  sync_rec *r = ud;
  pthread_mutex_lock(&r->mu);
  r->done = true;
  pthread_cond_signal(&r->cv);
  pthread_mutex_unlock(&r->mu);
}

/* Runs fn on the loop thread, then waits until everything it posted in
 * turn has run too (posts are FIFO). */
static void run_on_loop(h2s_listener *l, weft_post_fn fn) {
  sync_rec r = {l, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false};
  if (!post(l, fn, &r))
    return;
  pthread_mutex_lock(&r.mu);
  while (!r.done)
    pthread_cond_wait(&r.cv, &r.mu);
  pthread_mutex_unlock(&r.mu);
}

static void stop_on_loop(void *ud) {
  sync_rec *r = ud;
  h2s_listener *l = r->l;
  weft__acceptor_stop(l->acc);
  /* Tell every client: no new streams (GOAWAY), finish what you have. */
  pthread_mutex_lock(&l->mu);
  l->stopping = true;
  h2s_conn *c = l->conns;
  pthread_mutex_unlock(&l->mu);
  for (; c; c = c->next) {
    if (!c->io.closed && c->io.engine) {
      weft__h2e_shutdown_notice(c->io.engine);
      weft__h2io_flush(&c->io);
    }
  }
  if (!post(l, sync_done, r))
    sync_done(r);
}

static void h2s_stop_accepting(void *ud) {
  run_on_loop(ud, stop_on_loop);
}

static void close_on_loop(void *ud) {
  sync_rec *r = ud;
  h2s_listener *l = r->l;
  for (;;) {
    h2s_conn *victim = NULL;
    pthread_mutex_lock(&l->mu);
    for (h2s_conn *c = l->conns; c; c = c->next)
      if (!c->io.closed) {
        victim = c;
        break;
      }
    pthread_mutex_unlock(&l->mu);
    if (!victim)
      break;
    if (victim->h1) {
      weft__h1sc_close(victim->h1, "server shutting down");
      continue;
    }
    /* A call that finished in the grace period has its response submitted
     * (kicks_on_loop ran before us: posts are FIFO) but its write is a
     * flush_on_loop queued behind us. Write what the socket takes now,
     * ending with a GOAWAY that names the last stream we processed: the
     * graceful shutdown started with GOAWAY(2^31-1, NO_ERROR), and RFC 9113
     * 6.8 has the final one carry the real last stream id. Without this
     * the peer lost answers the server had produced. */
    weft__h2e_goaway(victim->io.engine, WEFT__H2E_NO_ERROR);
    weft__h2io_flush(&victim->io);
    victim->close_note = "server shutting down";
    weft__h2io_close(&victim->io, NULL);
  }
  if (!post(l, sync_done, r))
    sync_done(r);
}

static void h2s_close(void *ud) {
  h2s_listener *l = ud;
  pthread_mutex_lock(&l->mu);
  bool stopped = l->stopping;
  pthread_mutex_unlock(&l->mu);
  if (!stopped)
    h2s_stop_accepting(l);
  run_on_loop(l, close_on_loop);
  pthread_mutex_lock(&l->mu);
  l->closed = true;
  pthread_mutex_unlock(&l->mu);
  weft_loop_stop(l->loop);
  /* Connections still referenced by running handlers free themselves (and
   * finally the listener) when those handlers finish. */
  listener_unref(l);
}

const weft_server_transport weft__h2c_server_transport = {
    "h2c", 80, h2c_listen, h2s_stop_accepting, h2s_close};
const weft_server_transport weft__https_server_transport = {
    "https", 443, https_listen, h2s_stop_accepting, h2s_close};
