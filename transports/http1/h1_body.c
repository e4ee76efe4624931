/* HTTP/1.1 body framing (RFC 9112 sections 6.3 and 7.1). See h1_body.h. */
#include "h1_body.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum {
  B_DONE,       /* no body under way (ended, or none) */
  B_COUNTED,    /* Content-Length bytes */
  B_CLOSE,      /* until the peer closes */
  B_CHUNK_LINE, /* chunk-size [; ext] CRLF */
  B_CHUNK_DATA,
  B_CHUNK_CRLF, /* the CRLF after chunk data */
  B_TRAILERS,   /* trailer fields after the last chunk */
  B_FAILED
};

#define MAX_CHUNK_LINE 1024 /* chunk-size line with its extensions */

static int fail(weft__h1_body *b, weft_error *err, int code, int status,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int fail(weft__h1_body *b, weft_error *err, int code, int status,
                const char *fmt, ...) {
  b->state = B_FAILED;
  b->status = status;
  va_list ap;
  va_start(ap, fmt);
  weft__h1_verror(err, code, "", fmt, ap);
  va_end(ap);
  return code;
}

int weft__h1_framing_parse(const weft__h1_field *f, size_t n, int minor,
                           const char *what, weft__h1_framing *out, int *status,
                           weft_error *err) {
  weft__h1_conn_opts co = {0};
  weft__h1_te te = {0};
  unsigned n_cl = 0;
  *out = (weft__h1_framing){.content_length = -1};
  *status = 400;
  for (size_t i = 0; i < n; i++) {
    if (strcasecmp(f[i].name, "content-length") == 0) {
      if (++n_cl > 1)
        return weft_error_set(err, WEFT_ERR_PROTOCOL,
                              "more than one Content-Length");
      out->content_length =
          weft__h1_parse_content_length(f[i].value, f[i].value_len);
      if (out->content_length < 0)
        return weft_error_set(err, WEFT_ERR_PROTOCOL,
                              "Content-Length \"%s\" is not a length",
                              f[i].value);
    } else if (strcasecmp(f[i].name, "transfer-encoding") == 0) {
      weft__h1_te_add(&te, f[i].value);
    } else if (strcasecmp(f[i].name, "connection") == 0) {
      weft__h1_conn_add(&co, f[i].value);
    }
  }
  /* Request smuggling lives in the disagreements between these: every
   * ambiguity is refused (RFC 9112 section 6.3). */
  if (te.fields) {
    /* An empty field still says the body is not framed by Content-Length:
     * a peer that reads it so would frame this message differently. */
    if (te.n == 0)
      return weft_error_set(err, WEFT_ERR_PROTOCOL,
                            "Transfer-Encoding is empty");
    if (minor == 0)
      return weft_error_set(err, WEFT_ERR_PROTOCOL,
                            "Transfer-Encoding in an HTTP/1.0 %s", what);
    if (n_cl)
      return weft_error_set(err, WEFT_ERR_PROTOCOL,
                            "both Content-Length and Transfer-Encoding");
    if (!te.last_chunked || te.chunked > 1)
      return weft_error_set(
          err, WEFT_ERR_PROTOCOL,
          "Transfer-Encoding does not end with one \"chunked\"");
    if (te.n > 1) {
      *status = 501;
      return weft_error_set(
          err, WEFT_ERR_UNSUPPORTED,
          "transfer codings other than chunked are not supported");
    }
    out->chunked = true;
  }
  out->keep_alive = minor == 1 ? !co.close : (co.keep_alive && !co.close);
  *status = 0;
  return 0;
}

void weft__h1_body_init(weft__h1_body *b, const weft__h1_body_limits *lim) {
  weft__h1_body_free(b);
  memset(b, 0, sizeof *b);
  if (lim)
    b->lim = *lim;
  if (!b->lim.max_body)
    b->lim.max_body = UINT64_MAX;
  if (!b->lim.max_trailer_bytes)
    b->lim.max_trailer_bytes = 16384;
  if (!b->lim.max_trailers)
    b->lim.max_trailers = 100;
  b->state = B_DONE;
}

void weft__h1_body_free(weft__h1_body *b) {
  weft__h1_lines_free(&b->lines);
  free(b->trailers);
  b->trailers = NULL;
  b->trailers_cap = 0;
}

static int over_limit(weft__h1_body *b, weft_error *err) {
  return fail(b, err, WEFT_ERR_TOO_BIG, 413, "body over the limit of %llu",
              (unsigned long long)b->lim.max_body);
}

int weft__h1_body_start(weft__h1_body *b, weft__h1_body_kind kind,
                        uint64_t length, weft_error *err) {
  weft__h1_lines_reset(&b->lines);
  b->left = b->total = b->received = 0;
  b->crlf_have = 0;
  b->status = 0;
  switch (kind) {
  case WEFT__H1_BODY_COUNTED:
    if (length > b->lim.max_body)
      return fail(b, err, WEFT_ERR_TOO_BIG, 413,
                  "body of %llu bytes is over the limit of %llu",
                  (unsigned long long)length,
                  (unsigned long long)b->lim.max_body);
    b->left = b->total = length;
    b->state = length ? B_COUNTED : B_DONE;
    break;
  case WEFT__H1_BODY_CHUNKED:
    b->state = B_CHUNK_LINE;
    break;
  case WEFT__H1_BODY_UNTIL_CLOSE:
    b->state = B_CLOSE;
    break;
  default:
    b->state = B_DONE;
    break;
  }
  return 0;
}

/* Gathers a chunk-size line; at its LF, parses it. Returns bytes used. */
static ssize_t chunk_line(weft__h1_body *b, const uint8_t *p, size_t n,
                          weft_error *err) {
  weft__h1_lines *g = &b->lines;
  const uint8_t *lf = memchr(p, '\n', n);
  size_t take = lf ? (size_t)(lf - p) + 1 : n;
  if (g->len + take > MAX_CHUNK_LINE)
    return fail(b, err, WEFT_ERR_PROTOCOL, 400,
                "chunk-size line longer than %d bytes (after %llu body bytes)",
                MAX_CHUNK_LINE, (unsigned long long)b->received);
  if (weft__h1_lines_append(g, p, take) < 0)
    return fail(b, err, WEFT_ERR_NOMEM, 500, "out of memory");
  if (!lf)
    return (ssize_t)take;
  if (g->len < 2 || g->buf[g->len - 2] != '\r')
    return fail(b, err, WEFT_ERR_PROTOCOL, 400,
                "chunk-size line ends with a bare LF (after %llu body bytes)",
                (unsigned long long)b->received);
  if (memchr(g->buf, '\r', g->len - 2) || memchr(g->buf, '\0', g->len))
    return fail(b, err, WEFT_ERR_PROTOCOL, 400,
                "bare CR or NUL in a chunk-size line (after %llu body bytes)",
                (unsigned long long)b->received);
  uint64_t size = 0;
  weft_error e; /* filled on failure: no 256-byte zeroing per call */
  e.message[0] = '\0';
  int rv = weft__h1_parse_chunk_size(g->buf, g->len - 2, &size, &e);
  if (rv < 0)
    return fail(b, err, rv, rv == WEFT_ERR_TOO_BIG ? 413 : 400,
                "%s (after %llu body bytes)", e.message,
                (unsigned long long)b->received);
  if (size > b->lim.max_body - b->total)
    return over_limit(b, err);
  weft__h1_lines_reset(g);
  if (size == 0) {
    b->state = B_TRAILERS;
  } else {
    b->left = size;
    b->total += size;
    b->state = B_CHUNK_DATA;
  }
  return (ssize_t)take;
}

/* Gathers the trailer section; at its end, parses it. Returns bytes used. */
static ssize_t trailers(weft__h1_body *b, const uint8_t *p, size_t n,
                        weft__h1_body_event *ev, weft_error *err) {
  const weft__h1_lines_opts o = {.what = "trailer section",
                                 .fields_what = "trailer fields",
                                 .max_bytes = b->lim.max_trailer_bytes,
                                 .max_fields = b->lim.max_trailers};
  size_t used = 0;
  weft_error e; /* filled on failure: no 256-byte zeroing per call */
  e.message[0] = '\0';
  int rv = weft__h1_lines_feed(&b->lines, &o, p, n, &used, &e);
  if (rv < 0)
    return fail(b, err, rv, b->lines.status, "%s", e.message);
  if (rv == 1) {
    size_t nt = 0;
    rv = weft__h1_parse_fields(b->lines.buf, b->lines.buf + b->lines.len,
                               &b->trailers, &b->trailers_cap, &nt, "trailer",
                               &e);
    if (rv < 0)
      return fail(b, err, rv, rv == WEFT_ERR_NOMEM ? 500 : 400, "%s",
                  e.message);
    /* The fields point into the lines' buffer: it is reset at the next
     * start, not here. */
    b->state = B_DONE;
    ev->end = true;
    ev->trailers = b->trailers;
    ev->ntrailers = nt;
  }
  return (ssize_t)used;
}

ssize_t weft__h1_body_feed(weft__h1_body *b, const uint8_t *in, size_t len,
                           weft__h1_body_event *ev, weft_error *err) {
  *ev = (weft__h1_body_event){0};
  size_t off = 0;
  while (off < len) {
    const uint8_t *p = in + off;
    size_t n = len - off;
    ssize_t used = 0;
    switch (b->state) {
    case B_DONE:
      return (ssize_t)off;
    case B_FAILED:
      return weft_error_set(err, WEFT_ERR_STATE, "the body failed already");
    case B_COUNTED:
    case B_CHUNK_DATA: {
      size_t take = n < b->left ? n : (size_t)b->left;
      b->left -= take;
      b->received += take;
      ev->data = p;
      ev->len = take;
      if (b->left == 0) {
        if (b->state == B_COUNTED) {
          b->state = B_DONE;
          ev->end = true;
        } else {
          b->state = B_CHUNK_CRLF;
          b->crlf_have = 0;
        }
      }
      return (ssize_t)(off + take);
    }
    case B_CLOSE: {
      /* Up to the limit, then refuse the first byte past it: where it
       * fails does not depend on how the bytes were split. */
      uint64_t room = b->lim.max_body - b->total;
      if (room == 0)
        return over_limit(b, err);
      size_t take = n < room ? n : (size_t)room;
      b->total += take;
      b->received += take;
      ev->data = p;
      ev->len = take;
      return (ssize_t)(off + take);
    }
    case B_CHUNK_LINE:
      used = chunk_line(b, p, n, err);
      break;
    case B_CHUNK_CRLF:
      if (p[0] != (b->crlf_have ? '\n' : '\r'))
        return fail(b, err, WEFT_ERR_PROTOCOL, 400,
                    "chunk data not followed by CRLF (after %llu body bytes)",
                    (unsigned long long)b->received);
      used = 1;
      if (++b->crlf_have == 2)
        b->state = B_CHUNK_LINE;
      break;
    case B_TRAILERS:
      used = trailers(b, p, n, ev, err);
      if (used >= 0 && ev->end)
        return (ssize_t)(off + (size_t)used);
      break;
    }
    if (used < 0)
      return used;
    off += (size_t)used;
  }
  return (ssize_t)off;
}

bool weft__h1_body_eof(weft__h1_body *b) {
  if (b->state != B_CLOSE)
    return false;
  b->state = B_DONE;
  return true;
}

bool weft__h1_body_done(const weft__h1_body *b) {
  return b->state == B_DONE;
}

uint64_t weft__h1_body_received(const weft__h1_body *b) {
  return b->received;
}

int weft__h1_body_error_status(const weft__h1_body *b) {
  return b->state == B_FAILED ? b->status : 0;
}
