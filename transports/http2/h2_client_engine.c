/* The HTTP/2 client engine (h2_client_engine.h): nghttp2's client callbacks
 * turned into weft__h2ce_events, plus what nghttp2 leaves to its user:
 * collecting a response's header block, buffering a request body until the
 * window lets it out, the PING timeout and a reason for every connection
 * error. */
#include "h2_client_engine.h"
#include "h2_session.h"

#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Per-field overhead in the header list size (RFC 9113 6.5.2). */
#define H2CE_FIELD_OVERHEAD 32

typedef struct h2ce_stream {
  struct h2ce_stream *next, *prev; /* every stream the engine holds */
  int32_t id;
  void *st;
  /* Response bytes whose window the caller has not returned: given back
   * to the connection when the stream closes. */
  size_t uncredited;
  /* The request body not yet handed to nghttp2. */
  uint8_t *out;
  size_t out_off, out_len, out_cap;
  bool out_end;
  /* Closed before nghttp2 opened it (a queued request reset or refused):
   * the caller heard `closed`; nghttp2 still holds its queued HEADERS and
   * reports the stream once it gets to them, then the record is freed. */
  bool gone;
  /* The response header block being received, as nghttp2's buffers
   * (name, value, name, value, ...). */
  nghttp2_rcbuf **hdr;
  size_t nhdr, caphdr, hdr_bytes;
  bool got_head; /* the final (non-1xx) response head was delivered */
} h2ce_stream;

struct weft__h2ce {
  /* First member: nghttp2's error callback (weft__h2sess_on_error) gets
   * the engine as its user data. */
  weft__h2sess core; /* the session, its output and connection error */
  const weft__h2ce_events *ev;
  void *ud;
  weft__h2ce_cfg cfg;
  h2ce_stream *streams;
  bool ping_out;
  int64_t ping_sent_ns;
};

static void fail(weft__h2ce *e, int code, const char *prefix, const char *msg) {
  weft__h2sess_fail(&e->core, code, prefix, msg);
}

static void copy_err(const weft__h2ce *e, weft_error *err) {
  weft__h2sess_copy_err(&e->core, err);
}

/* ---- streams ------------------------------------------------------------ */

/* nghttp2 knows a stream only once its HEADERS went out; a request still
 * queued (the server's concurrency limit) is found in our list, newest
 * first, which is where a body submitted right after its request is. */
static h2ce_stream *stream_of(const weft__h2ce *e, int32_t id) {
  if (id <= 0)
    return NULL;
  h2ce_stream *s = nghttp2_session_get_stream_user_data(e->core.ses, id);
  if (!s)
    for (s = e->streams; s && s->id != id; s = s->next)
      ;
  return s && !s->gone ? s : NULL;
}

static void drop_headers(h2ce_stream *s) {
  for (size_t i = 0; i < s->nhdr; i++)
    nghttp2_rcbuf_decref(s->hdr[i]);
  s->nhdr = 0;
  s->hdr_bytes = 0;
}

static void stream_free(weft__h2ce *e, h2ce_stream *s) {
  if (s->prev)
    s->prev->next = s->next;
  else
    e->streams = s->next;
  if (s->next)
    s->next->prev = s->prev;
  drop_headers(s);
  free(s->hdr);
  free(s->out);
  free(s);
}

/* The stream's last event (none for a record already gone). */
static void stream_closed(weft__h2ce *e, h2ce_stream *s, uint32_t code) {
  void *st = s->st;
  bool tell = !s->gone;
  if (s->uncredited > 0)
    nghttp2_session_consume_connection(e->core.ses, s->uncredited);
  stream_free(e, s);
  if (tell && e->ev->closed)
    e->ev->closed(e->ud, st, code);
}

/* A request nghttp2 has not opened yet ends now: nghttp2 would say so
 * only once a stream slot frees up, maybe never. The record stays (gone)
 * until nghttp2 lets go of it. */
static void close_queued(weft__h2ce *e, h2ce_stream *s, uint32_t code) {
  void *st = s->st;
  s->gone = true;
  s->st = NULL;
  if (e->ev->closed)
    e->ev->closed(e->ud, st, code);
}

/* ---- nghttp2 callbacks ----------------------------------------------------
 */

static int on_begin_headers(nghttp2_session *ses, const nghttp2_frame *f,
                            void *ud) {
  (void)ses;
  h2ce_stream *s = stream_of(ud, f->hd.stream_id);
  if (s)
    drop_headers(s);
  return 0;
}

static int on_header(nghttp2_session *ses, const nghttp2_frame *f,
                     nghttp2_rcbuf *name, nghttp2_rcbuf *value, uint8_t flags,
                     void *ud) {
  weft__h2ce *e = ud;
  (void)ses;
  (void)flags;
  h2ce_stream *s = stream_of(e, f->hd.stream_id);
  if (!s || f->hd.type != NGHTTP2_HEADERS)
    return 0;
  nghttp2_vec n = nghttp2_rcbuf_get_buf(name);
  nghttp2_vec v = nghttp2_rcbuf_get_buf(value);
  s->hdr_bytes += n.len + v.len + H2CE_FIELD_OVERHEAD;
  /* A response head larger than we accept: nghttp2 resets the stream
   * (INTERNAL_ERROR), and the caller hears it as closed. */
  if (s->hdr_bytes > e->cfg.max_header_bytes)
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  if (s->nhdr + 2 > s->caphdr) {
    size_t cap = s->caphdr ? s->caphdr * 2 : 32;
    nghttp2_rcbuf **h = realloc(s->hdr, cap * sizeof *h);
    if (!h)
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    s->hdr = h;
    s->caphdr = cap;
  }
  nghttp2_rcbuf_incref(name);
  nghttp2_rcbuf_incref(value);
  s->hdr[s->nhdr++] = name;
  s->hdr[s->nhdr++] = value;
  return 0;
}

/* A header block is whole: the head (a 1xx is skipped) or the trailers. */
static void deliver_headers(weft__h2ce *e, h2ce_stream *s) {
  weft__h2e_nv small[32];
  size_t n = s->nhdr / 2;
  weft__h2e_nv *nv = n <= 32 ? small : calloc(n, sizeof *nv);
  if (!nv) {
    drop_headers(s);
    nghttp2_submit_rst_stream(e->core.ses, NGHTTP2_FLAG_NONE, s->id,
                              NGHTTP2_INTERNAL_ERROR);
    return;
  }
  for (size_t i = 0; i < n; i++) {
    nghttp2_vec k = nghttp2_rcbuf_get_buf(s->hdr[2 * i]);
    nghttp2_vec v = nghttp2_rcbuf_get_buf(s->hdr[2 * i + 1]);
    nv[i] = (weft__h2e_nv){(const char *)k.base, v.base, k.len, v.len};
  }
  bool trailers = s->got_head;
  /* nghttp2 checked that a head starts with a valid 3-digit :status. */
  bool informational =
      !trailers && n > 0 && nv[0].vlen == 3 && nv[0].value[0] == '1';
  if (!trailers && !informational)
    s->got_head = true;
  if (!informational && e->ev->headers)
    e->ev->headers(e->ud, s->st, nv, n, trailers);
  if (nv != small)
    free(nv);
  drop_headers(s);
}

/* Requests still queued behind the server's concurrency limit, which a
 * GOAWAY says will not be processed: nghttp2 would report them only once
 * a slot frees up (maybe never), so they close now. */
static void refuse_queued(weft__h2ce *e, int32_t last_id) {
  for (h2ce_stream *s = e->streams, *next; s; s = next) {
    next = s->next;
    if (!s->gone && s->id > last_id &&
        !nghttp2_session_find_stream(e->core.ses, s->id))
      close_queued(e, s, NGHTTP2_REFUSED_STREAM);
  }
}

static int on_frame_recv(nghttp2_session *ses, const nghttp2_frame *f,
                         void *ud) {
  weft__h2ce *e = ud;
  (void)ses;
  switch (f->hd.type) {
  case NGHTTP2_GOAWAY:
    e->core.goaway_seen = true;
    if (e->ev->goaway)
      e->ev->goaway(e->ud, f->goaway.last_stream_id, f->goaway.error_code);
    refuse_queued(e, f->goaway.last_stream_id);
    return 0;
  case NGHTTP2_PING:
    if (f->hd.flags & NGHTTP2_FLAG_ACK)
      e->ping_out = false;
    return 0;
  case NGHTTP2_HEADERS:
  case NGHTTP2_DATA:
    break;
  default:
    return 0;
  }
  h2ce_stream *s = stream_of(e, f->hd.stream_id);
  if (!s)
    return 0;
  if (f->hd.type == NGHTTP2_HEADERS)
    deliver_headers(e, s);
  if ((f->hd.flags & NGHTTP2_FLAG_END_STREAM) && e->ev->end)
    e->ev->end(e->ud, s->st);
  return 0;
}

static int on_data_chunk(nghttp2_session *ses, uint8_t flags, int32_t id,
                         const uint8_t *data, size_t len, void *ud) {
  weft__h2ce *e = ud;
  (void)flags;
  h2ce_stream *s = stream_of(e, id);
  if (!s) {
    nghttp2_session_consume(ses, id, len);
    return 0;
  }
  s->uncredited += len;
  if (e->ev->data(e->ud, s->st, data, len) < 0)
    nghttp2_submit_rst_stream(ses, NGHTTP2_FLAG_NONE, id,
                              NGHTTP2_INTERNAL_ERROR);
  return 0;
}

static int on_stream_close(nghttp2_session *ses, int32_t id, uint32_t code,
                           void *ud) {
  weft__h2ce *e = ud;
  h2ce_stream *s = nghttp2_session_get_stream_user_data(ses, id);
  if (!s)
    return 0;
  nghttp2_session_set_stream_user_data(ses, id, NULL);
  stream_closed(e, s, code);
  return 0;
}

static int on_frame_send(nghttp2_session *ses, const nghttp2_frame *f,
                         void *ud) {
  weft__h2ce *e = ud;
  (void)ses;
  if (f->hd.type != NGHTTP2_GOAWAY || f->goaway.error_code == NGHTTP2_NO_ERROR)
    return 0;
  /* nghttp2 found a connection error in a frame and queued this GOAWAY,
   * whose debug data is its reason (as in h2_engine.c). */
  const char *why = e->core.last_err;
  int why_len = (int)strlen(e->core.last_err);
  if (f->goaway.opaque_data_len > 0) {
    why = (const char *)f->goaway.opaque_data;
    why_len = (int)f->goaway.opaque_data_len;
  }
  char msg[240];
  snprintf(msg, sizeof msg, "(%s)%s%.*s",
           weft__h2e_code_name(f->goaway.error_code), why_len ? ": " : "",
           why_len, why);
  fail(e, WEFT_ERR_PROTOCOL, "HTTP/2 connection error ", msg);
  return 0;
}

/* The request body, as flow control lets it out. */
static ssize_t body_read(nghttp2_session *ses, int32_t id, uint8_t *buf,
                         size_t len, uint32_t *flags, nghttp2_data_source *src,
                         void *ud) {
  weft__h2ce *e = ud;
  h2ce_stream *s = src->ptr;
  (void)ses;
  (void)id;
  if (s->gone) /* not sent, but in case: reset it */
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  size_t avail = s->out_len - s->out_off;
  if (avail == 0 && !s->out_end)
    return NGHTTP2_ERR_DEFERRED;
  size_t n = avail < len ? avail : len;
  if (n)
    memcpy(buf, s->out + s->out_off, n);
  s->out_off += n;
  if (s->out_off == s->out_len) {
    s->out_off = s->out_len = 0;
    if (s->out_end)
      *flags |= NGHTTP2_DATA_FLAG_EOF;
  }
  if (n && e->ev->sent)
    e->ev->sent(e->ud, s->st, s->out_len - s->out_off);
  return (ssize_t)n;
}

/* ---- life -----------------------------------------------------------------
 */

int weft__h2ce_new(weft__h2ce **out, const weft__h2ce_cfg *cfg,
                   const weft__h2ce_events *ev, void *ud) {
  *out = NULL;
  weft__h2ce *e = calloc(1, sizeof *e);
  nghttp2_session_callbacks *cb = NULL;
  nghttp2_option *opt = NULL;
  if (!e)
    goto nomem;
  e->ev = ev;
  e->ud = ud;
  e->core.conn_error = ev->conn_error;
  e->core.ud = ud;
  if (cfg)
    e->cfg = *cfg;
  if (!e->cfg.max_concurrent_streams)
    e->cfg.max_concurrent_streams = 100;
  if (!e->cfg.stream_window)
    e->cfg.stream_window = 1u << 20;
  if (!e->cfg.conn_window)
    e->cfg.conn_window = 4u << 20;
  if (!e->cfg.max_header_bytes)
    e->cfg.max_header_bytes = 65536;
  if (!e->cfg.ping_timeout_ms)
    e->cfg.ping_timeout_ms = 20000;
  if (nghttp2_session_callbacks_new(&cb) != 0 || nghttp2_option_new(&opt) != 0)
    goto nomem;
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback2(cb, on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
  nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
  nghttp2_session_callbacks_set_error_callback2(cb, weft__h2sess_on_error);
  /* The caller returns receive window (weft__h2ce_credit) as it takes the
   * responses: a slow reader slows its server instead of growing memory. */
  nghttp2_option_set_no_auto_window_update(opt, 1);
  if (nghttp2_session_client_new2(&e->core.ses, cb, e, opt) != 0)
    goto nomem;
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cb);
  nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, e->cfg.max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, e->cfg.stream_window}};
  if (nghttp2_submit_settings(e->core.ses, NGHTTP2_FLAG_NONE, iv, 3) != 0 ||
      nghttp2_session_set_local_window_size(e->core.ses, NGHTTP2_FLAG_NONE, 0,
                                            (int32_t)e->cfg.conn_window) != 0) {
    weft__h2ce_free(e);
    return WEFT_ERR_NOMEM;
  }
  *out = e;
  return 0;
nomem:
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cb);
  free(e);
  return WEFT_ERR_NOMEM;
}

void weft__h2ce_free(weft__h2ce *e) {
  if (!e)
    return;
  /* nghttp2_session_del reports no stream closes: free our records. */
  while (e->streams)
    stream_free(e, e->streams);
  nghttp2_session_del(e->core.ses);
  free(e);
}

/* ---- bytes ----------------------------------------------------------------
 */

ssize_t weft__h2ce_feed(weft__h2ce *e, const uint8_t *in, size_t len,
                        int64_t now_ns, weft_error *err) {
  (void)now_ns; /* PINGs are timed from weft__h2ce_ping */
  return weft__h2sess_feed(&e->core, in, len, err);
}

const uint8_t *weft__h2ce_output(weft__h2ce *e, size_t *len, weft_error *err) {
  return weft__h2sess_output(&e->core, len, err);
}

void weft__h2ce_output_done(weft__h2ce *e, size_t n) {
  weft__h2sess_output_done(&e->core, n);
}

bool weft__h2ce_finished(const weft__h2ce *e) {
  return weft__h2sess_finished(&e->core);
}

const weft_error *weft__h2ce_error(const weft__h2ce *e) {
  return e->core.failed ? &e->core.why : NULL;
}

bool weft__h2ce_going_away(const weft__h2ce *e) {
  return e->core.goaway_seen || e->core.failed;
}

/* ---- time -----------------------------------------------------------------
 */

int64_t weft__h2ce_next_timeout(const weft__h2ce *e) {
  if (!e->ping_out || e->core.failed)
    return INT64_MAX;
  return e->ping_sent_ns + e->cfg.ping_timeout_ms * 1000000;
}

int weft__h2ce_expire(weft__h2ce *e, int64_t now_ns, weft_error *err) {
  if (now_ns < weft__h2ce_next_timeout(e))
    return 0;
  char msg[120];
  snprintf(msg, sizeof msg, "no PING ACK from the server within %lld ms",
           (long long)e->cfg.ping_timeout_ms);
  nghttp2_session_terminate_session(e->core.ses, NGHTTP2_PROTOCOL_ERROR);
  fail(e, WEFT_ERR_TIMEOUT, "", msg);
  copy_err(e, err);
  return WEFT_ERR_TIMEOUT;
}

/* ---- calls in -------------------------------------------------------------
 */

int32_t weft__h2ce_submit_request(weft__h2ce *e, const weft__h2e_nv *nv,
                                  size_t n, bool end_stream, void *st) {
  if (e->core.failed || e->core.goaway_seen)
    return WEFT_ERR_CLOSED;
  h2ce_stream *s = calloc(1, sizeof *s);
  nghttp2_nv small[32];
  nghttp2_nv *a = n <= 32 ? small : calloc(n, sizeof *a);
  if (!s || !a) {
    free(s);
    return WEFT_ERR_NOMEM;
  }
  for (size_t i = 0; i < n; i++)
    a[i] = (nghttp2_nv){(uint8_t *)nv[i].name, (uint8_t *)nv[i].value,
                        nv[i].nlen, nv[i].vlen, NGHTTP2_NV_FLAG_NONE};
  s->st = st;
  nghttp2_data_provider dp = {.source.ptr = s, .read_callback = body_read};
  int32_t id = nghttp2_submit_request(e->core.ses, NULL, a, n,
                                      end_stream ? NULL : &dp, s);
  if (a != small)
    free(a);
  if (id < 0) {
    free(s);
    return id == NGHTTP2_ERR_NOMEM ? WEFT_ERR_NOMEM : WEFT_ERR_CLOSED;
  }
  s->id = id;
  s->out_end = end_stream;
  s->next = e->streams;
  if (e->streams)
    e->streams->prev = s;
  e->streams = s;
  return id;
}

int weft__h2ce_submit_data(weft__h2ce *e, int32_t id, const uint8_t *p,
                           size_t n, bool end) {
  h2ce_stream *s = stream_of(e, id);
  if (!s || s->out_end)
    return WEFT_ERR_INVAL;
  if (s->out_off > 0 && s->out_off == s->out_len)
    s->out_off = s->out_len = 0;
  if (s->out_len + n > s->out_cap) {
    /* Move the unsent tail down before growing. */
    if (s->out_off > 0) {
      memmove(s->out, s->out + s->out_off, s->out_len - s->out_off);
      s->out_len -= s->out_off;
      s->out_off = 0;
    }
    size_t cap = s->out_cap ? s->out_cap : 1024;
    while (cap < s->out_len + n)
      cap *= 2;
    if (cap != s->out_cap) {
      uint8_t *b = realloc(s->out, cap);
      if (!b)
        return WEFT_ERR_NOMEM;
      s->out = b;
      s->out_cap = cap;
    }
  }
  if (n)
    memcpy(s->out + s->out_len, p, n);
  s->out_len += n;
  s->out_end = end;
  /* Fails harmlessly when the stream is not deferred (or not open yet). */
  nghttp2_session_resume_data(e->core.ses, id);
  return 0;
}

size_t weft__h2ce_buffered(const weft__h2ce *e, int32_t id) {
  h2ce_stream *s = stream_of(e, id);
  return s ? s->out_len - s->out_off : 0;
}

int weft__h2ce_submit_rst(weft__h2ce *e, int32_t id, uint32_t code) {
  h2ce_stream *s = stream_of(e, id);
  if (!s)
    return WEFT_ERR_INVAL;
  int rv = nghttp2_submit_rst_stream(e->core.ses, NGHTTP2_FLAG_NONE, id, code);
  if (rv != 0)
    return rv == NGHTTP2_ERR_NOMEM ? WEFT_ERR_NOMEM : WEFT_ERR_INVAL;
  /* Still queued (its HEADERS not sent): nghttp2 cancels the HEADERS but
   * reports it only once a stream slot frees up. */
  if (!nghttp2_session_find_stream(e->core.ses, id))
    close_queued(e, s, code);
  return 0;
}

void weft__h2ce_credit(weft__h2ce *e, int32_t id, size_t n) {
  h2ce_stream *s = stream_of(e, id);
  if (!s) /* closed: its window went back to the connection then */
    return;
  if (n > s->uncredited)
    n = s->uncredited;
  s->uncredited -= n;
  if (n)
    nghttp2_session_consume(e->core.ses, id, n);
}

int weft__h2ce_goaway(weft__h2ce *e, uint32_t code) {
  e->core.goaway_seen = true;
  int rv = nghttp2_submit_goaway(
      e->core.ses, NGHTTP2_FLAG_NONE,
      nghttp2_session_get_last_proc_stream_id(e->core.ses), code, NULL, 0);
  return rv == NGHTTP2_ERR_NOMEM ? WEFT_ERR_NOMEM : 0;
}

int weft__h2ce_ping(weft__h2ce *e, int64_t now_ns) {
  if (e->ping_out || e->core.failed)
    return 0;
  if (nghttp2_submit_ping(e->core.ses, NGHTTP2_FLAG_NONE, NULL) != 0)
    return WEFT_ERR_NOMEM;
  e->ping_out = true;
  e->ping_sent_ns = now_ns;
  return 0;
}

void weft__h2ce_terminate(weft__h2ce *e, uint32_t code, const char *why) {
  char msg[200];
  snprintf(msg, sizeof msg, "(%s): %s", weft__h2e_code_name(code), why);
  fail(e, WEFT_ERR_PROTOCOL, "HTTP/2 connection error ", msg);
  nghttp2_session_terminate_session(e->core.ses, code);
}
