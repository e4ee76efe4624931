/* HTTP/1.1 connections of the h2c:// and https:// port.
 *
 * A connection starts here: its first bytes say which HTTP it speaks (the
 * HTTP/2 preface, or ALPN h2 under TLS, hands it to nghttp2 through
 * weft__hs_start_h2; anything else is HTTP/1.1). HTTP/1.1 bytes go through
 * the I/O-free engine (transports/http1/h1_engine.h), and each request
 * becomes a stream of h2_server.c (h2_call.h), which routes it, runs its
 * call and buffers its response; this file only moves bytes between the
 * socket, the engine and that stream.
 *
 * One request at a time: the engine pauses after a whole request until its
 * response has ended, so pipelined requests are answered in order. While
 * paused we keep reading (up to H1C_MAX_STASH bytes) so that a client
 * that goes away is noticed and its call cancelled.
 *
 * Loop thread only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "h1_engine.h"
#include "h2_call.h"
#include "weft/transport.h"

/* Bytes read ahead of the engine (pipelined requests, or a request body
 * while its handler is behind) beyond which we stop reading. */
#define H1C_MAX_STASH (64 * 1024)
/* Response bytes waiting in the engine beyond which we stop pulling from
 * the stream (whose handler then blocks in send()). */
#define H1C_OUT_HIGH_WATER (64 * 1024)
#define H1C_READ_CHUNK 16384
/* After a response that closes the connection: how long, and how many
 * bytes, we drain input before closing. */
#define H1C_LINGER_MS 2000
#define H1C_LINGER_MAX (1u << 20)

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
#define PREFACE_LEN 24
#define PREFACE_LINE 16 /* "PRI * HTTP/2.0\r\n" */

struct weft__h1sc {
  weft_loop *loop;
  weft__conn *conn;
  weft__hs_conn *owner;
  int fd;
  weft__h1 *eng; /* NULL while sniffing */
  int64_t header_ms, idle_ms;
  uint64_t max_body;
  unsigned events;
  int depth;   /* entries on the stack: free only at the outermost */
  bool closed; /* the socket is closed; freed when depth drops to 0 */
  bool in_feed;
  int64_t linger_ns; /* write side shut: draining input until then */
  uint64_t lingered; /* bytes drained meanwhile */
  bool pump_wanted;  /* output arrived during a feed */
  /* Bytes read but not consumed by the engine. */
  uint8_t *stash;
  size_t stash_off, stash_len;
  /* The request being served. */
  weft__hs_stream *cur;
  bool refused;          /* answered at its head: its body is dropped */
  bool head_sent;        /* its response head is in the engine */
  bool req_ended;        /* its body was read to the end */
  int64_t head_start_ns; /* a request head began (0: none under way) */
  int64_t idle_since_ns;
  /* The last read of a request body, or the last tick that found reading
   * paused by us (a busy handler): the body timeout counts from it. */
  int64_t body_rx_ns;
};

/* A request body with no byte for this many header timeouts (60 s by
 * default, as nginx's client_body_timeout) is a slow-loris on the body:
 * the connection is closed. */
#define BODY_TIMEOUT_HEADER_TIMEOUTS 6

static void close_now(weft__h1sc *h, const weft_error *why, const char *note);
static void pump(weft__h1sc *h);
static void on_io(weft_loop *l, int fd, unsigned events, void *ud);
static void drive(weft__h1sc *h);

static void enter(weft__h1sc *h) {
  h->depth++;
}

static void leave(weft__h1sc *h) {
  if (--h->depth > 0 || !h->closed)
    return;
  weft__h1_free(h->eng);
  free(h->stash);
  free(h);
}

/* ---- engine callbacks ------------------------------------------------ */

/* Fields that belong to the HTTP/1.1 connection, not to the call. */
static bool hop_by_hop(const char *n, size_t len) {
  static const char *const hop[] = {
      "connection", "keep-alive",     "transfer-encoding", "upgrade",
      "expect",     "content-length", "proxy-connection",  "http2-settings",
      "te",         "host",           "trailer",           NULL};
  for (int i = 0; hop[i]; i++)
    if (strlen(hop[i]) == len && !memcmp(hop[i], n, len))
      return true;
  return false;
}

/* The path of an http(s) absolute-form target (RFC 9112 section 3.2.2), or
 * NULL for any other target. The authority ends at the first "/", "?" or
 * "#" (RFC 3986 section 3.2): "http://h?x=/a" is the path "/?x=/a", not
 * "/a", which a proxy that checked the path would not have seen. */
static char *absolute_form_path(const char *t) {
  size_t sl = strncasecmp(t, "http://", 7) == 0    ? 7
              : strncasecmp(t, "https://", 8) == 0 ? 8
                                                   : 0;
  if (!sl)
    return NULL;
  const char *rest = t + sl + strcspn(t + sl, "/?#");
  size_t n = strlen(rest);
  char *p = malloc(n + 2);
  if (p)
    snprintf(p, n + 2, "%s%s", *rest == '/' ? "" : "/", rest);
  return p;
}

static int on_request(void *ud, const weft__h1_request *rq) {
  weft__h1sc *h = ud;
  h->cur = weft__hs_stream_new(h->owner);
  if (!h->cur)
    return WEFT_ERR_NOMEM;
  h->refused = false;
  h->head_sent = false;
  h->req_ended = false;
  h->head_start_ns = 0;
  weft__hs_header(h->cur, ":method", 7, rq->method, strlen(rq->method));
  /* origin-form as sent; absolute-form (to a proxy) without its scheme
   * and authority; "*" and other schemes have no path (refused as such). */
  char *abs = absolute_form_path(rq->target);
  const char *t = abs ? abs : rq->target;
  if (t[0] == '/')
    weft__hs_header(h->cur, ":path", 5, t, strlen(t));
  free(abs);
  for (size_t i = 0; i < rq->nfields; i++) {
    const weft__h1_field *f = &rq->fields[i];
    char name[256];
    if (f->name_len >= sizeof name)
      continue;
    for (size_t k = 0; k < f->name_len; k++) {
      char ch = f->name[k];
      name[k] = ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch;
    }
    name[f->name_len] = '\0';
    /* Upgrade: h2c is ignored (RFC 9113 3.1): we answer in HTTP/1.1. */
    if (hop_by_hop(name, f->name_len))
      continue;
    weft__hs_header(h->cur, name, f->name_len, f->value, f->value_len);
  }
  h->refused = !weft__hs_headers_done(h->cur);
  if (!h->refused && rq->expect_continue)
    return weft__h1_submit_continue(h->eng);
  return 0;
}

static int on_body(void *ud, const uint8_t *data, size_t len) {
  weft__h1sc *h = ud;
  if (h->cur && !h->refused && weft__hs_body(h->cur, data, len) < 0)
    h->refused = true; /* answered; the rest is dropped */
  return 0;
}

static int on_end(void *ud, const weft__h1_field *tr, size_t ntr) {
  weft__h1sc *h = ud;
  (void)tr;
  (void)ntr;
  h->req_ended = true;
  if (h->cur && !h->refused)
    weft__hs_end(h->cur);
  if (h->cur)
    h->pump_wanted = true; /* a response may be waiting for this */
  return 0;
}

static const weft__h1_callbacks h1c_cb = {on_request, on_body, on_end};

/* ---- socket ---------------------------------------------------------- */

static void set_events(weft__h1sc *h, unsigned ev) {
  if (ev != h->events && !h->closed) {
    h->events = ev;
    weft_loop_mod_fd(h->loop, h->fd, ev);
  }
}

static bool behind(weft__h1sc *h) {
  return h->cur && !h->refused && weft__hs_behind(h->cur);
}

static bool can_read(weft__h1sc *h) {
  if (h->linger_ns)
    return !h->closed;
  return !h->closed && h->stash_len - h->stash_off < H1C_MAX_STASH &&
         !(h->eng && weft__h1_should_close(h->eng)) && !behind(h);
}

static void close_now(weft__h1sc *h, const weft_error *why, const char *note) {
  if (h->closed)
    return;
  h->closed = true;
  weft_loop_del_fd(h->loop, h->fd);
  weft__conn_close(h->conn);
  h->conn = NULL;
  h->cur = NULL; /* its transport reference goes with the connection */
  weft__hs_conn_closed(h->owner, why, note);
}

/* Writes what the engine has; closes when the engine says so and all is
 * out. */
static void flush(weft__h1sc *h) {
  const uint8_t *p;
  size_t n;
  while (!h->closed && (n = weft__h1_output(h->eng, &p)) > 0) {
    ssize_t w = weft__conn_write(h->conn, p, n);
    if (w == WEFT_ERR_AGAIN) {
      set_events(h, (can_read(h) ? WEFT_IO_READ : 0) | WEFT_IO_WRITE);
      return;
    }
    if (w <= 0) {
      weft_error e;
      const char *why = weft__conn_error(h->conn);
      weft_error_set(&e, w < 0 ? (int)w : WEFT_ERR_IO, "write failed: %s",
                     why[0] ? why
                            : weft_strerror(w < 0 ? (int)w : WEFT_ERR_IO));
      close_now(h, &e, NULL);
      return;
    }
    weft__h1_consume(h->eng, (size_t)w);
  }
  if (h->closed)
    return;
  if (!h->cur && h->stash_len == h->stash_off)
    weft__h1_trim(h->eng); /* idle keep-alive: hold no buffers */
  if (weft__h1_should_close(h->eng) && !h->cur) {
    /* Closing with unread input in the socket makes the kernel send a
     * RST, which can destroy the response before the client reads it (a
     * 413 or 431 to a client still sending). Shut the write side and
     * drain the input for a while first, as web servers do. */
    if (!h->linger_ns && !weft__conn_is_tls(h->conn) &&
        shutdown(h->fd, SHUT_WR) == 0) {
      h->linger_ns = weft_now_ns() + H1C_LINGER_MS * 1000000;
      set_events(h, WEFT_IO_READ);
      return;
    }
    if (!h->linger_ns)
      close_now(h, NULL, "closed the connection after the response");
    return;
  }
  set_events(h, can_read(h) ? WEFT_IO_READ : 0);
}

static int stash(weft__h1sc *h, const uint8_t *p, size_t n) {
  if (h->stash_off > 0) {
    memmove(h->stash, h->stash + h->stash_off, h->stash_len - h->stash_off);
    h->stash_len -= h->stash_off;
    h->stash_off = 0;
  }
  uint8_t *b = realloc(h->stash, h->stash_len + n);
  if (!b)
    return WEFT_ERR_NOMEM;
  memcpy(b + h->stash_len, p, n);
  h->stash = b;
  h->stash_len += n;
  return 0;
}

/* Feeds p[0..n) to the engine; returns the bytes consumed, or -1 when the
 * connection failed (an error answer is queued). */
static ssize_t feed(weft__h1sc *h, const uint8_t *p, size_t n) {
  weft_error err = {0};
  h->in_feed = true;
  ssize_t c = weft__h1_feed(h->eng, p, n, &err);
  h->in_feed = false;
  if (c >= 0)
    return c;
  /* A framing error mid-request (a bad chunk) ends its call too. */
  if (h->cur) {
    weft__hs_stream_close(h->cur);
    h->cur = NULL;
  }
  int status = weft__h1_error_status(h->eng);
  if (status) {
    weft__h1_submit_error(h->eng, status, err.message);
  } else {
    close_now(h, &err, NULL);
  }
  return -1;
}

/* Gives the engine the bytes it will take now: the stash first, then
 * p[0..n) (stashing what it does not take). */
static void process(weft__h1sc *h, const uint8_t *p, size_t n) {
  while (!h->closed && h->stash_off < h->stash_len &&
         weft__h1_want_read(h->eng)) {
    ssize_t c = feed(h, h->stash + h->stash_off, h->stash_len - h->stash_off);
    if (c < 0)
      return;
    h->stash_off += (size_t)c;
    if (h->pump_wanted)
      pump(h);
    if (c == 0)
      break;
  }
  if (h->stash_off == h->stash_len) {
    free(h->stash);
    h->stash = NULL;
    h->stash_off = h->stash_len = 0;
  }
  while (!h->closed && n > 0 && h->stash_len == 0 &&
         weft__h1_want_read(h->eng)) {
    ssize_t c = feed(h, p, n);
    if (c < 0)
      return;
    p += c;
    n -= (size_t)c;
    if (h->pump_wanted)
      pump(h);
    if (c == 0)
      break;
  }
  if (!h->closed && n > 0 && stash(h, p, n) < 0) {
    weft_error e;
    weft_error_set(&e, WEFT_ERR_NOMEM, "out of memory");
    close_now(h, &e, NULL);
  }
}

/* The first bytes decide: HTTP/2 (preface, or ALPN h2) or HTTP/1.1.
 * Returns false when the connection left this file (or failed). */
static bool sniff(weft__h1sc *h) {
  const char *alpn = weft__conn_alpn(h->conn);
  size_t have = h->stash_len - h->stash_off;
  size_t cmp = have < PREFACE_LEN ? have : PREFACE_LEN;
  bool h2 = alpn && !strcmp(alpn, "h2");
  bool h1 = alpn && !strcmp(alpn, "http/1.1"); /* agreed: no preface then */
  /* The preface's first line decides; nghttp2 checks the rest (an
   * invalid preface is its connection error, not an HTTP/1.1 request). */
  if (cmp > PREFACE_LINE)
    cmp = PREFACE_LINE;
  if (!h2 && !h1 && memcmp(h->stash + h->stash_off, preface, cmp) == 0) {
    if (cmp < PREFACE_LINE)
      return false; /* not decided yet: read more */
    h2 = true;
  }
  if (h2) {
    weft_loop_del_fd(h->loop, h->fd);
    uint8_t *pre = h->stash;
    size_t off = h->stash_off, len = h->stash_len;
    h->stash = NULL;
    h->closed = true; /* the connection is nghttp2's now: free h on leave */
    weft__hs_start_h2(h->owner, pre + off, len - off);
    free(pre);
    return false;
  }
  weft__h1_limits lim = {.max_body = h->max_body};
  if (weft__h1_new(&h->eng, &h1c_cb, h, &lim) < 0) {
    weft_error e;
    weft_error_set(&e, WEFT_ERR_NOMEM, "out of memory");
    close_now(h, &e, NULL);
    return false;
  }
  return true;
}

static void on_eof(weft__h1sc *h) {
  weft_error e = {0};
  if (!h->eng) {
    close_now(h, NULL, NULL);
    return;
  }
  if (h->cur) {
    /* The client left with its call in flight: cancel it. */
    weft_error_set(&e, WEFT_ERR_CLOSED,
                   "peer closed the connection before its response ended");
    close_now(h, &e, NULL);
    return;
  }
  if (weft__h1_feed_eof(h->eng, &e) < 0 && h->stash_len > h->stash_off)
    close_now(h, &e, NULL);
  else
    close_now(h, NULL, NULL);
}

static void on_io(weft_loop *l, int fd, unsigned events, void *ud) {
  weft__h1sc *h = ud;
  uint8_t buf[H1C_READ_CHUNK];
  (void)l;
  (void)fd;
  (void)events;
  enter(h);
  if (h->linger_ns) {
    ssize_t n;
    while ((n = weft__conn_read(h->conn, buf, sizeof buf)) > 0 &&
           (h->lingered += (uint64_t)n) < H1C_LINGER_MAX)
      ;
    if (n != WEFT_ERR_AGAIN || h->lingered >= H1C_LINGER_MAX)
      close_now(h, NULL, "closed the connection after the response");
    leave(h);
    return;
  }
  for (int i = 0; i < 8 && can_read(h); i++) {
    ssize_t n = weft__conn_read(h->conn, buf, sizeof buf);
    if (n == WEFT_ERR_AGAIN)
      break;
    if (n == 0) {
      on_eof(h);
      break;
    }
    if (n < 0) {
      weft_error e;
      weft_error_set(&e, (int)n, "read failed: %s", weft_strerror((int)n));
      close_now(h, &e, NULL);
      break;
    }
    if (!h->cur && !h->head_start_ns)
      h->head_start_ns = weft_now_ns();
    h->body_rx_ns = weft_now_ns();
    if (!h->eng) {
      if (stash(h, buf, (size_t)n) < 0 || !sniff(h))
        break;
      process(h, NULL, 0);
    } else {
      process(h, buf, (size_t)n);
    }
    if ((size_t)n < sizeof buf)
      break;
  }
  if (!h->closed && h->eng)
    drive(h);
  leave(h);
}

/* ---- responses ------------------------------------------------------- */

/* The Date field, formatted once a second (per loop thread). */
static const char *http_date(void) {
  static _Thread_local time_t last;
  static _Thread_local char buf[40];
  time_t now = time(NULL);
  if (now != last) {
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    last = now;
  }
  return buf;
}

static bool field_ok(const char *v, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (v[i] == '\r' || v[i] == '\n' || v[i] == '\0')
      return false;
  return true;
}

static int submit_head(weft__h1sc *h, const weft__hs_head *hd) {
  weft__h1_field small[24];
  size_t cap = 12 + (hd->headers ? hd->headers->count : 0);
  weft__h1_field *f = cap <= 24 ? small : calloc(cap, sizeof *f);
  size_t n = 0;
  if (!f)
    return WEFT_ERR_NOMEM;
#define ADD(nm, v) f[n++] = (weft__h1_field){(nm), (v), strlen(nm), strlen(v)}
  ADD("Date", http_date());
  if (hd->ctype)
    ADD("Content-Type", hd->ctype);
  if (hd->encoding)
    ADD(hd->encoding_field, hd->encoding);
  if (hd->cors_origin && field_ok(hd->cors_origin, strlen(hd->cors_origin))) {
    ADD("Access-Control-Allow-Origin", hd->cors_origin);
    ADD("Vary", "Origin");
    if (hd->preflight) {
      ADD("Access-Control-Allow-Methods", WEFT__CORS_ALLOW_METHODS);
      ADD("Access-Control-Allow-Headers", WEFT__CORS_ALLOW_HEADERS);
      ADD("Access-Control-Max-Age", WEFT__CORS_MAX_AGE);
    } else {
      ADD("Access-Control-Expose-Headers", WEFT__CORS_EXPOSE_HEADERS);
    }
  }
#undef ADD
  for (size_t i = 0; hd->headers && i < hd->headers->count; i++) {
    const weft_metadata_entry *e = &hd->headers->entries[i];
    const char *k = e->key;
    if (!field_ok((const char *)e->value, e->value_len) ||
        hop_by_hop(k, strlen(k)) || !strcmp(k, "content-type"))
      continue;
    f[n++] =
        (weft__h1_field){k, (const char *)e->value, strlen(k), e->value_len};
  }
  int rv = weft__h1_submit_head(h->eng, hd->status, f, n, hd->content_length);
  if (f != small)
    free(f);
  return rv;
}

/* Moves the current stream's response into the engine (up to the
 * high-water mark), and goes on with the next request once it ended. */
static void pump(weft__h1sc *h) {
  if (h->in_feed) {
    h->pump_wanted = true; /* the engine is mid-feed: after it returns */
    return;
  }
  h->pump_wanted = false;
  while (!h->closed && h->cur) {
    if (!h->head_sent) {
      weft__hs_head hd = {0};
      if (!weft__hs_response_head(h->cur, &hd))
        return;
      h->head_sent = true;
      if (submit_head(h, &hd) < 0) {
        weft_error e;
        weft_error_set(&e, WEFT_ERR_INTERNAL,
                       "cannot frame the HTTP/1.1 response head");
        close_now(h, &e, NULL);
        return;
      }
    }
    bool end = false;
    const uint8_t *p;
    while (!end && weft__h1_output(h->eng, &p) < H1C_OUT_HIGH_WATER) {
      uint8_t buf[H1C_READ_CHUNK];
      size_t n = weft__hs_response_read(h->cur, buf, sizeof buf, &end);
      if (n && weft__h1_submit_data(h->eng, buf, n) < 0)
        end = true; /* HEAD: the engine drops it; else a framing bug */
      if (n == 0)
        break;
    }
    if (!end)
      return;
    /* A call may end before its request body did (a server stream
     * answers after one message; the final chunk may still be on the
     * way). Ending the response now would make the engine close the
     * connection (the body cannot be skipped), which a client reusing
     * the connection sees as a hang-up: read the body to its end first
     * (it is bounded by the body limit). */
    if (!h->req_ended)
      return;
    weft__h1_submit_end(h->eng, NULL, 0);
    weft__hs_stream_close(h->cur);
    h->cur = NULL;
    h->idle_since_ns = weft_now_ns();
    if (h->stash_len > h->stash_off)
      h->head_start_ns = h->idle_since_ns; /* a pipelined request */
  }
}

/* Output, then the next pipelined requests while their answers are
 * immediate (process pumps after each). */
static void drive(weft__h1sc *h) {
  pump(h);
  if (!h->closed && !h->cur && h->stash_len > h->stash_off)
    process(h, NULL, 0);
  if (!h->closed)
    flush(h);
}

/* ---- the seam (h2_call.h) -------------------------------------------- */

int weft__h1sc_new(weft__h1sc **out, const weft__h1sc_cfg *cfg) {
  weft__h1sc *h = calloc(1, sizeof *h);
  if (!h)
    return WEFT_ERR_NOMEM;
  h->loop = cfg->loop;
  h->conn = cfg->conn;
  h->owner = cfg->owner;
  h->fd = weft__conn_fd(cfg->conn);
  h->max_body = cfg->max_body;
  h->header_ms = cfg->header_ms;
  h->idle_ms = cfg->idle_ms;
  h->events = WEFT_IO_READ;
  h->head_start_ns = h->idle_since_ns = weft_now_ns();
  int rv = weft_loop_add_fd(h->loop, h->fd, h->events, on_io, h);
  if (rv < 0) {
    free(h);
    return rv;
  }
  *out = h;
  return 0;
}

void weft__h1sc_output(weft__h1sc *h) {
  if (h->closed || !h->eng)
    return;
  enter(h);
  if (h->in_feed)
    pump(h); /* only notes it: process() pumps after the feed */
  else
    drive(h);
  leave(h);
}

void weft__h1sc_resume(weft__h1sc *h) {
  if (h->closed || !h->eng)
    return;
  enter(h);
  if (h->in_feed) {
    leave(h);
    return;
  }
  if (h->stash_len > h->stash_off && weft__h1_want_read(h->eng) && !behind(h))
    process(h, NULL, 0);
  drive(h);
  /* TLS may hold decrypted bytes the socket will not signal again. */
  if (!h->closed && can_read(h) && weft__conn_pending(h->conn) > 0)
    on_io(h->loop, h->fd, WEFT_IO_READ, h);
  leave(h);
}

void weft__h1sc_tick(weft__h1sc *h, int64_t now) {
  if (h->closed)
    return;
  enter(h);
  weft_error e;
  char note[96];
  bool out_idle =
      !h->eng || weft__h1_output(h->eng, &(const uint8_t *){0}) == 0;
  if (h->linger_ns) {
    if (now >= h->linger_ns)
      close_now(h, NULL, "closed the connection after the response");
  } else if (h->header_ms && !h->cur && h->head_start_ns &&
             now - h->head_start_ns >= h->header_ms * 1000000) {
    weft_error_set(&e, WEFT_ERR_TIMEOUT,
                   "request head not complete within %lld ms (header "
                   "timeout)",
                   (long long)h->header_ms);
    close_now(h, &e, NULL);
  } else if (h->header_ms && h->cur && !h->req_ended) {
    if (!can_read(h))
      h->body_rx_ns = now; /* we are not reading: the client is not late */
    else if (now - h->body_rx_ns >=
             h->header_ms * BODY_TIMEOUT_HEADER_TIMEOUTS * 1000000) {
      weft_error_set(&e, WEFT_ERR_TIMEOUT,
                     "no request body byte for %lld ms (body timeout: %d "
                     "header timeouts)",
                     (long long)(h->header_ms * BODY_TIMEOUT_HEADER_TIMEOUTS),
                     BODY_TIMEOUT_HEADER_TIMEOUTS);
      close_now(h, &e, NULL);
    }
  } else if (h->idle_ms && !h->cur && !h->head_start_ns && out_idle &&
             now - h->idle_since_ns >= h->idle_ms * 1000000) {
    snprintf(note, sizeof note, "idle for %lld ms, closed",
             (long long)h->idle_ms);
    close_now(h, NULL, note);
  }
  leave(h);
}

void weft__h1sc_close(weft__h1sc *h, const char *note) {
  if (h->closed)
    return;
  enter(h);
  if (h->eng)
    flush(h); /* what the socket takes now */
  close_now(h, NULL, note);
  leave(h);
}
