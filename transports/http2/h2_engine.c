/* The HTTP/2 server engine (h2_engine.h): nghttp2's callbacks turned into
 * weft__h2e_events, plus what nghttp2 leaves to its user: collecting a
 * request's header block, frames on streams it has forgotten, the header
 * timeout and a reason for every connection error. */
#include "h2_engine.h"
#include "h2_session.h"

#include <nghttp2/nghttp2.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Recently closed streams remembered (RFC 9113 5.1 lets an endpoint limit
 * how long it remembers them). */
#define H2E_CLOSED_RING 128
/* Closed stream records kept for reuse: glibc's malloc and free of one
 * cost ~500 instructions per request when its thread cache is empty, as
 * it is with many streams open at once. */
#define H2E_SPARE_MAX 16
/* Per-field overhead in the header list size (RFC 9113 6.5.2). */
#define H2E_FIELD_OVERHEAD 32

typedef struct h2e_stream {
  struct h2e_stream *next, *prev; /* every stream the engine holds */
  int32_t id;
  void *st;    /* the caller's, once stream_open accepted it */
  bool opened; /* stream_open was called */
  /* Request body bytes whose window the caller has not returned: given
   * back to the connection when the stream closes. */
  size_t uncredited;
  /* The header block being received: the fields (nv) point into buf, where
   * their bytes are copied. Holding nghttp2's reference-counted buffers
   * instead (incref, get_buf and decref per name and value) cost ~300
   * instructions per request. Both live in inl_nv / inl_buf while they fit
   * (a typical request), saving allocations. */
  weft__h2e_nv *nv;
  size_t nnv, capnv;
  char *buf;
  size_t buflen, bufcap;
  size_t hdr_bytes;
  bool too_large;
  /* We sent it a RST_STREAM: its id is in the closed ring already (see
   * on_stream_close). */
  bool reset_noted;
  /* Not cleared when a record is reused (stream_alloc): last, large. */
  weft__h2e_nv inl_nv[12];
  char inl_buf[384];
} h2e_stream;

struct weft__h2e {
  /* First member: nghttp2's error callback (weft__h2sess_on_error) gets
   * the engine as its user data. */
  weft__h2sess core; /* the session, its output and connection error */
  const weft__h2e_events *ev;
  void *ud;
  weft__h2e_cfg cfg;
  int64_t now_ns; /* of the feed in progress */
  h2e_stream *streams;
  h2e_stream *spare;   /* closed records for reuse, linked by next */
  unsigned nspare;     /* at most H2E_SPARE_MAX */
  h2e_stream *hdr_cur; /* its header block is not complete yet */
  int64_t hdr_begun_ns;
  bool ready; /* preface and SETTINGS received */
  struct {
    int32_t id;
    bool we_reset;
  } closed[H2E_CLOSED_RING];
  unsigned closed_next;
};

const char *weft__h2e_code_name(uint32_t code) {
  switch (code) {
  case NGHTTP2_NO_ERROR:
    return "NO_ERROR";
  case NGHTTP2_PROTOCOL_ERROR:
    return "PROTOCOL_ERROR";
  case NGHTTP2_INTERNAL_ERROR:
    return "INTERNAL_ERROR";
  case NGHTTP2_FLOW_CONTROL_ERROR:
    return "FLOW_CONTROL_ERROR";
  case NGHTTP2_SETTINGS_TIMEOUT:
    return "SETTINGS_TIMEOUT";
  case NGHTTP2_STREAM_CLOSED:
    return "STREAM_CLOSED";
  case NGHTTP2_FRAME_SIZE_ERROR:
    return "FRAME_SIZE_ERROR";
  case NGHTTP2_REFUSED_STREAM:
    return "REFUSED_STREAM";
  case NGHTTP2_CANCEL:
    return "CANCEL";
  case NGHTTP2_COMPRESSION_ERROR:
    return "COMPRESSION_ERROR";
  case NGHTTP2_CONNECT_ERROR:
    return "CONNECT_ERROR";
  case NGHTTP2_ENHANCE_YOUR_CALM:
    return "ENHANCE_YOUR_CALM";
  case NGHTTP2_INADEQUATE_SECURITY:
    return "INADEQUATE_SECURITY";
  case NGHTTP2_HTTP_1_1_REQUIRED:
    return "HTTP_1_1_REQUIRED";
  default:
    return "unknown error code";
  }
}

/* The connection failed: remember why (the first reason wins) and tell the
 * caller once. */
static void fail(weft__h2e *e, int code, const char *prefix, const char *msg) {
  weft__h2sess_fail(&e->core, code, prefix, msg);
}

static void copy_err(const weft__h2e *e, weft_error *err) {
  weft__h2sess_copy_err(&e->core, err);
}

/* ---- streams ------------------------------------------------------------ */

static h2e_stream *stream_of(weft__h2e *e, int32_t id) {
  return id > 0 ? nghttp2_session_get_stream_user_data(e->core.ses, id) : NULL;
}

static void stream_unlink(weft__h2e *e, h2e_stream *s) {
  if (s->prev)
    s->prev->next = s->next;
  else
    e->streams = s->next;
  if (s->next)
    s->next->prev = s->prev;
}

static void drop_headers(h2e_stream *s) {
  if (s->nv != s->inl_nv)
    free(s->nv);
  if (s->buf != s->inl_buf)
    free(s->buf);
  s->nv = NULL;
  s->buf = NULL;
  s->nnv = s->capnv = s->buflen = s->bufcap = 0;
}

/* A stream record with its fields zeroed (a spare one if any) and the
 * inline header storage in place. */
static h2e_stream *stream_alloc(weft__h2e *e) {
  h2e_stream *s = e->spare;
  if (!s) {
    s = malloc(sizeof *s);
    if (!s)
      return NULL;
  } else {
    e->spare = s->next;
    e->nspare--;
  }
  /* The inline arrays are written before they are read. */
  memset(s, 0, offsetof(h2e_stream, inl_nv));
  s->nv = s->inl_nv;
  s->capnv = sizeof s->inl_nv / sizeof s->inl_nv[0];
  s->buf = s->inl_buf;
  s->bufcap = sizeof s->inl_buf;
  return s;
}

/* s is unlinked and holds no headers. */
static void stream_release(weft__h2e *e, h2e_stream *s) {
  if (e->nspare >= H2E_SPARE_MAX) {
    free(s);
    return;
  }
  s->next = e->spare;
  e->spare = s;
  e->nspare++;
}

static int closed_find(const weft__h2e *e, int32_t id) {
  for (int i = 0; i < H2E_CLOSED_RING; i++)
    if (e->closed[i].id == id)
      return i;
  return -1;
}

/* known_new: the caller knows id is not in the ring, which spares the
 * scan of all of it (~640 instructions, a few % of a unary request). */
static void closed_note(weft__h2e *e, int32_t id, bool we_reset,
                        bool known_new) {
  int i = known_new ? -1 : closed_find(e, id);
  if (i < 0) {
    i = (int)(e->closed_next++ % H2E_CLOSED_RING);
    e->closed[i].id = id;
    e->closed[i].we_reset = false;
  }
  e->closed[i].we_reset |= we_reset;
}

/* ---- nghttp2 callbacks ----------------------------------------------------
 */

static int on_begin_headers(nghttp2_session *ses, const nghttp2_frame *f,
                            void *ud) {
  weft__h2e *e = ud;
  if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
    return 0;
  h2e_stream *s = stream_alloc(e);
  if (!s)
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  s->id = f->hd.stream_id;
  if (nghttp2_session_set_stream_user_data(ses, s->id, s) != 0) {
    stream_release(e, s);
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  }
  s->next = e->streams;
  if (e->streams)
    e->streams->prev = s;
  e->streams = s;
  e->hdr_cur = s;
  e->hdr_begun_ns = e->now_ns;
  return 0;
}

/* Room for one more field of need bytes; the fields move with buf. */
static int hdr_room(h2e_stream *s, size_t need) {
  if (s->nnv == s->capnv) {
    size_t cap = s->capnv * 2;
    weft__h2e_nv *nv = malloc(cap * sizeof *nv);
    if (!nv)
      return -1;
    memcpy(nv, s->nv, s->nnv * sizeof *nv);
    if (s->nv != s->inl_nv)
      free(s->nv);
    s->nv = nv;
    s->capnv = cap;
  }
  if (s->buflen + need > s->bufcap) {
    size_t cap = s->bufcap * 2;
    while (cap < s->buflen + need)
      cap *= 2;
    char *b = malloc(cap);
    if (!b)
      return -1;
    memcpy(b, s->buf, s->buflen);
    for (size_t i = 0; i < s->nnv; i++) {
      s->nv[i].name = b + (s->nv[i].name - s->buf);
      s->nv[i].value =
          (const uint8_t *)b + (s->nv[i].value - (const uint8_t *)s->buf);
    }
    if (s->buf != s->inl_buf)
      free(s->buf);
    s->buf = b;
    s->bufcap = cap;
  }
  return 0;
}

static int on_header(nghttp2_session *ses, const nghttp2_frame *f,
                     nghttp2_rcbuf *name, nghttp2_rcbuf *value, uint8_t flags,
                     void *ud) {
  weft__h2e *e = ud;
  (void)ses;
  (void)flags;
  /* Only a request's header block is collected, and header blocks do not
   * interleave (RFC 9113 4.3): it is hdr_cur's, found without nghttp2's
   * stream lookup. Trailers of a request carry nothing a call uses. */
  h2e_stream *s = e->hdr_cur;
  if (!s || s->id != f->hd.stream_id || f->hd.type != NGHTTP2_HEADERS ||
      f->headers.cat != NGHTTP2_HCAT_REQUEST)
    return 0;
  nghttp2_vec n = nghttp2_rcbuf_get_buf(name);
  nghttp2_vec v = nghttp2_rcbuf_get_buf(value);
  s->hdr_bytes += n.len + v.len + H2E_FIELD_OVERHEAD;
  if (s->too_large || s->hdr_bytes > e->cfg.max_header_bytes) {
    s->too_large = true;
    return 0;
  }
  if (hdr_room(s, n.len + v.len) < 0)
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  char *p = s->buf + s->buflen;
  memcpy(p, n.base, n.len);
  memcpy(p + n.len, v.base, v.len);
  s->buflen += n.len + v.len;
  s->nv[s->nnv++] = (weft__h2e_nv){p, (const uint8_t *)p + n.len, n.len, v.len};
  return 0;
}

/* The header block is whole: hand it over. */
static void open_stream(weft__h2e *e, h2e_stream *s, bool end_stream) {
  e->hdr_cur = NULL;
  s->opened = true;
  weft__h2e_request rq = {s->id, s->nv, s->nnv, s->too_large, end_stream};
  s->st = e->ev->stream_open(e->ud, &rq);
  drop_headers(s);
  if (!s->st)
    nghttp2_submit_rst_stream(e->core.ses, NGHTTP2_FLAG_NONE, s->id,
                              NGHTTP2_INTERNAL_ERROR);
}

static int on_frame_recv(nghttp2_session *ses, const nghttp2_frame *f,
                         void *ud) {
  weft__h2e *e = ud;
  (void)ses;
  switch (f->hd.type) {
  case NGHTTP2_SETTINGS:
    if (!(f->hd.flags & NGHTTP2_FLAG_ACK))
      e->ready = true;
    return 0;
  case NGHTTP2_GOAWAY:
    e->core.goaway_seen = true;
    if (e->ev->goaway)
      e->ev->goaway(e->ud, f->goaway.last_stream_id, f->goaway.error_code);
    return 0;
  case NGHTTP2_HEADERS:
  case NGHTTP2_DATA:
    break;
  default:
    return 0;
  }
  h2e_stream *s = stream_of(e, f->hd.stream_id);
  if (!s)
    return 0;
  if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST)
    open_stream(e, s, f->hd.flags & NGHTTP2_FLAG_END_STREAM);
  if ((f->hd.flags & NGHTTP2_FLAG_END_STREAM) && s->st && e->ev->end)
    e->ev->end(e->ud, s->st);
  return 0;
}

static int on_data_chunk(nghttp2_session *ses, uint8_t flags, int32_t id,
                         const uint8_t *data, size_t len, void *ud) {
  weft__h2e *e = ud;
  (void)flags;
  h2e_stream *s = stream_of(e, id);
  if (!s || !s->st) {
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
  weft__h2e *e = ud;
  h2e_stream *s = stream_of(e, id);
  /* Only a stream we reset can be in the ring before it closes (noted when
   * the RST_STREAM went out); ids are never reused. */
  closed_note(e, id, false, s && !s->reset_noted);
  if (!s)
    return 0;
  nghttp2_session_set_stream_user_data(ses, id, NULL);
  if (e->hdr_cur == s)
    e->hdr_cur = NULL;
  /* Window the caller never returned (a reset stream's unread body): the
   * connection gets it back, or it would shrink with every such stream. */
  if (s->uncredited > 0)
    nghttp2_session_consume_connection(ses, s->uncredited);
  drop_headers(s);
  stream_unlink(e, s);
  if (s->st && e->ev->closed)
    e->ev->closed(e->ud, s->st, code);
  stream_release(e, s);
  return 0;
}

static int on_frame_send(nghttp2_session *ses, const nghttp2_frame *f,
                         void *ud) {
  weft__h2e *e = ud;
  (void)ses;
  if (f->hd.type == NGHTTP2_RST_STREAM) {
    h2e_stream *s = stream_of(e, f->hd.stream_id);
    if (s)
      s->reset_noted = true;
    closed_note(e, f->hd.stream_id, true, false);
  } else if (f->hd.type == NGHTTP2_GOAWAY &&
             f->goaway.error_code != NGHTTP2_NO_ERROR) {
    /* nghttp2 found a connection error in a frame: it stops parsing and
     * queues this GOAWAY, whose debug data is its reason, naming the frame
     * type ("DATA: stream_id == 0"). Which frame it was nghttp2 does not
     * say (some checks run before on_begin_frame), so we add nothing.
     * Connection errors we raise ourselves were reported already (fail
     * keeps the first). */
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
  }
  return 0;
}

/* nghttp2 keeps no state for most closed streams, and it silently ignores a
 * HEADERS (or DATA) frame on a stream id it no longer knows. RFC 9113
 * wants errors there, so we check before nghttp2 parses the frame:
 * - 5.1.1: "The identifier of a newly established stream MUST be
 *   numerically greater than all streams that the initiating endpoint has
 *   opened or reserved ... An endpoint that receives an unexpected stream
 *   identifier MUST respond with a connection error of type
 *   PROTOCOL_ERROR": a HEADERS on an old id we never saw close (skipped
 *   ids are implicitly closed, or it closed too long ago).
 * - 5.1, closed: "An endpoint that receives any frame other than PRIORITY
 *   after receiving a RST_STREAM MUST treat that as a stream error of type
 *   STREAM_CLOSED ... any frames after receiving a frame with the
 *   END_STREAM flag set MUST [be treated] as a connection error of type
 *   STREAM_CLOSED": HEADERS or DATA on a stream that closed recently.
 * - 5.1, closed: "An endpoint MUST ignore frames that it receives on closed
 *   streams after it has sent a RST_STREAM frame": those we leave alone
 *   (the peer may not have seen our reset yet). */
static int on_begin_frame(nghttp2_session *ses, const nghttp2_frame_hd *hd,
                          void *ud) {
  weft__h2e *e = ud;
  int32_t id = hd->stream_id;
  if ((hd->type != NGHTTP2_HEADERS && hd->type != NGHTTP2_DATA) || id <= 0 ||
      !(id & 1) || id > nghttp2_session_get_last_proc_stream_id(ses) ||
      nghttp2_session_find_stream(ses, id))
    return 0; /* new or open streams, and nghttp2's own checks */
  int i = closed_find(e, id);
  char msg[128];
  const char *type = hd->type == NGHTTP2_HEADERS ? "HEADERS" : "DATA";
  if (i >= 0 && e->closed[i].we_reset)
    return 0;
  if (i >= 0) {
    snprintf(msg, sizeof msg, "%s on stream %d, which is closed (RFC 9113 5.1)",
             type, (int)id);
    weft__h2e_terminate(e, NGHTTP2_STREAM_CLOSED, msg);
  } else if (hd->type == NGHTTP2_HEADERS) {
    snprintf(msg, sizeof msg,
             "HEADERS on stream %d, below the last stream opened (RFC 9113 "
             "5.1.1)",
             (int)id);
    weft__h2e_terminate(e, NGHTTP2_PROTOCOL_ERROR, msg);
  }
  /* DATA on a stream closed long ago: nghttp2 ignores it (and counts it
   * against the connection window), which 5.1 allows. */
  return 0;
}

static ssize_t data_read(nghttp2_session *ses, int32_t id, uint8_t *buf,
                         size_t len, uint32_t *flags, nghttp2_data_source *src,
                         void *ud) {
  weft__h2e *e = ud;
  h2e_stream *s = src->ptr;
  (void)ses;
  (void)id;
  uint32_t f = 0;
  if (!s->st) /* refused after submitting: the stream is being reset */
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  ssize_t n = e->ev->read_data(e->ud, s->st, buf, len, &f);
  if (n == WEFT__H2E_DEFER)
    return NGHTTP2_ERR_DEFERRED;
  if (n < 0 || (size_t)n > len)
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  if (f & WEFT__H2E_EOF)
    *flags |= NGHTTP2_DATA_FLAG_EOF;
  if (f & WEFT__H2E_NO_END_STREAM)
    *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
  return n;
}

/* ---- life -----------------------------------------------------------------
 */

int weft__h2e_new(weft__h2e **out, const weft__h2e_cfg *cfg,
                  const weft__h2e_events *ev, void *ud) {
  *out = NULL;
  weft__h2e *e = calloc(1, sizeof *e);
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
    e->cfg.stream_window = 256 * 1024;
  if (!e->cfg.conn_window)
    e->cfg.conn_window = 1024 * 1024;
  if (!e->cfg.max_header_bytes)
    e->cfg.max_header_bytes = 16384;
  e->now_ns = e->cfg.start_ns;
  if (nghttp2_session_callbacks_new(&cb) != 0 || nghttp2_option_new(&opt) != 0)
    goto nomem;
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback2(cb, on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
  nghttp2_session_callbacks_set_on_begin_frame_callback(cb, on_begin_frame);
  nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
  nghttp2_session_callbacks_set_error_callback2(cb, weft__h2sess_on_error);
  /* The caller returns receive window (weft__h2e_credit) when it has taken
   * the data: a slow consumer slows its client instead of growing memory. */
  nghttp2_option_set_no_auto_window_update(opt, 1);
  if (nghttp2_session_server_new2(&e->core.ses, cb, e, opt) != 0)
    goto nomem;
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cb);
  nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, e->cfg.max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, e->cfg.stream_window},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
       (uint32_t)e->cfg.max_header_bytes}};
  if (nghttp2_submit_settings(e->core.ses, NGHTTP2_FLAG_NONE, iv, 3) != 0 ||
      nghttp2_session_set_local_window_size(e->core.ses, NGHTTP2_FLAG_NONE, 0,
                                            (int32_t)e->cfg.conn_window) != 0) {
    weft__h2e_free(e);
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

void weft__h2e_free(weft__h2e *e) {
  if (!e)
    return;
  /* nghttp2_session_del reports no stream closes: free our records. */
  while (e->streams) {
    h2e_stream *s = e->streams;
    e->streams = s->next;
    drop_headers(s);
    free(s);
  }
  while (e->spare) {
    h2e_stream *s = e->spare;
    e->spare = s->next;
    free(s);
  }
  nghttp2_session_del(e->core.ses);
  free(e);
}

/* ---- bytes ----------------------------------------------------------------
 */

uint32_t weft__h2e_goaway_code(int rv) {
  switch (rv) {
  case NGHTTP2_ERR_TOO_MANY_CONTINUATIONS:
  case NGHTTP2_ERR_FLOODED:
    /* "The endpoint detected that its peer is exhibiting a behavior that
     * might be generating excessive load." */
    return NGHTTP2_ENHANCE_YOUR_CALM;
  case NGHTTP2_ERR_NOMEM:
  case NGHTTP2_ERR_CALLBACK_FAILURE:
    return NGHTTP2_INTERNAL_ERROR;
  default: /* NGHTTP2_ERR_BAD_CLIENT_MAGIC (3.4) and the rest */
    return NGHTTP2_PROTOCOL_ERROR;
  }
}

ssize_t weft__h2e_feed(weft__h2e *e, const uint8_t *in, size_t len,
                       int64_t now_ns, weft_error *err) {
  e->now_ns = now_ns;
  return weft__h2sess_feed(&e->core, in, len, err);
}

const uint8_t *weft__h2e_output(weft__h2e *e, size_t *len, weft_error *err) {
  return weft__h2sess_output(&e->core, len, err);
}

void weft__h2e_output_done(weft__h2e *e, size_t n) {
  weft__h2sess_output_done(&e->core, n);
}

bool weft__h2e_finished(const weft__h2e *e) {
  return weft__h2sess_finished(&e->core);
}

/* ---- time -----------------------------------------------------------------
 */

const weft_error *weft__h2e_error(const weft__h2e *e) {
  return e->core.failed ? &e->core.why : NULL;
}

bool weft__h2e_ready(const weft__h2e *e) {
  return e->ready;
}

bool weft__h2e_busy(const weft__h2e *e) {
  return e->hdr_cur != NULL;
}

int64_t weft__h2e_next_timeout(const weft__h2e *e) {
  int64_t t = e->cfg.header_timeout_ms * 1000000;
  if (t <= 0 || e->core.failed)
    return INT64_MAX;
  if (!e->ready)
    return e->cfg.start_ns + t;
  if (e->hdr_cur)
    return e->hdr_begun_ns + t;
  return INT64_MAX;
}

int weft__h2e_expire(weft__h2e *e, int64_t now_ns, weft_error *err) {
  if (now_ns < weft__h2e_next_timeout(e))
    return 0;
  char msg[160];
  snprintf(msg, sizeof msg,
           e->ready ? "request headers not complete within %lld ms (header "
                      "timeout)"
                    : "no HTTP/2 preface and SETTINGS within %lld ms of "
                      "connecting (header timeout)",
           (long long)e->cfg.header_timeout_ms);
  nghttp2_session_terminate_session(e->core.ses, NGHTTP2_ENHANCE_YOUR_CALM);
  fail(e, WEFT_ERR_TIMEOUT, "", msg);
  copy_err(e, err);
  return WEFT_ERR_TIMEOUT;
}

/* ---- calls in -------------------------------------------------------------
 */

static int rv_of(int rv) {
  return rv == 0                   ? 0
         : rv == NGHTTP2_ERR_NOMEM ? WEFT_ERR_NOMEM
                                   : WEFT_ERR_INVAL;
}

/* nghttp2_nv copies of nv (nghttp2 copies the strings on submit). */
static nghttp2_nv *to_nghttp2(const weft__h2e_nv *nv, size_t n,
                              nghttp2_nv *small, size_t nsmall) {
  nghttp2_nv *a = n <= nsmall ? small : calloc(n, sizeof *a);
  if (!a)
    return NULL;
  for (size_t i = 0; i < n; i++)
    a[i] = (nghttp2_nv){(uint8_t *)nv[i].name, (uint8_t *)nv[i].value,
                        nv[i].nlen, nv[i].vlen, NGHTTP2_NV_FLAG_NONE};
  return a;
}

int weft__h2e_submit_response(weft__h2e *e, int32_t id, const weft__h2e_nv *nv,
                              size_t n, bool body) {
  h2e_stream *s = stream_of(e, id);
  /* From stream_open on (an early answer is submitted from inside it). */
  if (!s || !s->opened)
    return WEFT_ERR_INVAL;
  nghttp2_nv small[32];
  nghttp2_nv *a = to_nghttp2(nv, n, small, 32);
  if (!a)
    return WEFT_ERR_NOMEM;
  nghttp2_data_provider dp = {.source.ptr = s, .read_callback = data_read};
  int rv = nghttp2_submit_response(e->core.ses, id, a, n, body ? &dp : NULL);
  if (a != small)
    free(a);
  return rv_of(rv);
}

int weft__h2e_submit_trailers(weft__h2e *e, int32_t id, const weft__h2e_nv *nv,
                              size_t n) {
  /* Zeroed: gcc -O3 cannot see that to_nghttp2 writes the n entries read. */
  nghttp2_nv small[32] = {{0}};
  nghttp2_nv *a = to_nghttp2(nv, n, small, 32);
  if (!a)
    return WEFT_ERR_NOMEM;
  int rv = nghttp2_submit_trailer(e->core.ses, id, a, n);
  if (a != small)
    free(a);
  return rv_of(rv);
}

int weft__h2e_resume(weft__h2e *e, int32_t id) {
  return rv_of(nghttp2_session_resume_data(e->core.ses, id));
}

int weft__h2e_submit_rst(weft__h2e *e, int32_t id, uint32_t code) {
  return rv_of(
      nghttp2_submit_rst_stream(e->core.ses, NGHTTP2_FLAG_NONE, id, code));
}

void weft__h2e_credit(weft__h2e *e, int32_t id, size_t n) {
  h2e_stream *s = stream_of(e, id);
  if (!s) /* closed: its window went back to the connection then */
    return;
  if (n > s->uncredited)
    n = s->uncredited;
  s->uncredited -= n;
  if (n)
    nghttp2_session_consume(e->core.ses, id, n);
}

int weft__h2e_goaway(weft__h2e *e, uint32_t code) {
  if (code == NGHTTP2_NO_ERROR)
    e->core.goaway_seen = true;
  return rv_of(nghttp2_submit_goaway(
      e->core.ses, NGHTTP2_FLAG_NONE,
      nghttp2_session_get_last_proc_stream_id(e->core.ses), code, NULL, 0));
}

int weft__h2e_shutdown_notice(weft__h2e *e) {
  e->core.goaway_seen = true;
  return rv_of(nghttp2_submit_shutdown_notice(e->core.ses));
}

void weft__h2e_terminate(weft__h2e *e, uint32_t code, const char *why) {
  char msg[200];
  snprintf(msg, sizeof msg, "(%s): %s", weft__h2e_code_name(code), why);
  fail(e, WEFT_ERR_PROTOCOL, "HTTP/2 connection error ", msg);
  nghttp2_session_terminate_session(e->core.ses, code);
}
