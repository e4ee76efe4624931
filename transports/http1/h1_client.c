/* HTTP/1.1 client engine: request framing and response parsing (RFC 9112
 * sections 4-7). See h1_client.h for the contract. */
#include "h1_client.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum rstate {
  S_IDLE,       /* no request submitted: nothing may arrive */
  S_HEAD,       /* status line and fields (of 1xx responses too) */
  S_BODY,       /* Content-Length body */
  S_CLOSE_BODY, /* body delimited by the server's close */
  S_CHUNK_LINE,
  S_CHUNK_DATA,
  S_CHUNK_CRLF,
  S_TRAILERS,
  S_DONE, /* response ended */
  S_FAILED
} rstate;

#define MAX_CHUNK_LINE 1024 /* chunk-size line with its extensions */

struct weft__h1c {
  weft__h1c_callbacks cb;
  void *ud;
  weft__h1c_limits lim;
  rstate state;
  int fail_code;

  char *hb; /* head, trailer block or chunk-size line being gathered */
  size_t hb_len, hb_cap, line_start, nlines;
  weft__h1_field *fields;
  size_t fields_cap;

  bool head_req; /* HEAD: the response has no body */
  bool keep_alive;
  uint64_t body_left, body_total, received;
  unsigned crlf_have;

  /* The request. */
  bool req_open;  /* submitted, not ended */
  bool req_ended; /* submit_end done */
  bool req_chunked;
  int64_t req_left; /* Content-Length still owed; -1 if chunked */

  uint8_t *out;
  size_t out_off, out_len, out_cap;
};

static int fail(weft__h1c *h, weft_error *err, int code, const char *fmt, ...) {
  h->state = S_FAILED;
  h->fail_code = code;
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    char msg[sizeof err->message];
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    weft_error_set(err, code, "HTTP/1.1 response: %s", msg);
  }
  return code;
}

static int out_put(weft__h1c *h, const void *p, size_t n) {
  if (n == 0)
    return 0;
  if (h->out_off == h->out_len)
    h->out_off = h->out_len = 0;
  if (h->out_len + n > h->out_cap) {
    size_t cap = h->out_cap ? h->out_cap : 256;
    while (cap < h->out_len + n)
      cap *= 2;
    uint8_t *b = realloc(h->out, cap);
    if (!b)
      return WEFT_ERR_NOMEM;
    h->out = b;
    h->out_cap = cap;
  }
  memcpy(h->out + h->out_len, p, n);
  h->out_len += n;
  return 0;
}

static int out_str(weft__h1c *h, const char *s) {
  return out_put(h, s, strlen(s));
}

static int hb_append(weft__h1c *h, const uint8_t *p, size_t n) {
  if (h->hb_len + n + 1 > h->hb_cap) {
    size_t cap = h->hb_cap ? h->hb_cap : 512;
    while (cap < h->hb_len + n + 1)
      cap *= 2;
    char *b = realloc(h->hb, cap);
    if (!b)
      return WEFT_ERR_NOMEM;
    h->hb = b;
    h->hb_cap = cap;
  }
  memcpy(h->hb + h->hb_len, p, n);
  h->hb_len += n;
  return 0;
}

static void hb_reset(weft__h1c *h) {
  h->hb_len = h->line_start = h->nlines = 0;
  if (h->hb_cap > 4096) { /* an idle connection should cost little */
    free(h->hb);
    h->hb = NULL;
    h->hb_cap = 0;
  }
}

int weft__h1c_new(weft__h1c **out, const weft__h1c_callbacks *cb, void *ud,
                  const weft__h1c_limits *limits) {
  if (!out || !cb || !cb->on_response || !cb->on_end)
    return WEFT_ERR_INVAL;
  *out = NULL;
  weft__h1c *h = calloc(1, sizeof *h);
  if (!h)
    return WEFT_ERR_NOMEM;
  h->cb = *cb;
  h->ud = ud;
  if (limits)
    h->lim = *limits;
  if (!h->lim.max_head)
    h->lim.max_head = 65536;
  if (!h->lim.max_fields)
    h->lim.max_fields = 100;
  if (!h->lim.max_body)
    h->lim.max_body = UINT64_MAX;
  h->state = S_IDLE;
  h->req_left = -1;
  *out = h;
  return 0;
}

void weft__h1c_free(weft__h1c *h) {
  if (!h)
    return;
  free(h->hb);
  free(h->fields);
  free(h->out);
  free(h);
}

const weft__h1_field *weft__h1c_find(const weft__h1c_response *r,
                                     const char *name) {
  for (size_t i = 0; i < r->nfields; i++)
    if (strcasecmp(r->fields[i].name, name) == 0)
      return &r->fields[i];
  return NULL;
}

/* ---- the request ---- */

static bool engine_field(const char *name) {
  return strcasecmp(name, "host") == 0 ||
         strcasecmp(name, "content-length") == 0 ||
         strcasecmp(name, "transfer-encoding") == 0 ||
         strcasecmp(name, "connection") == 0;
}

static int put_fields(weft__h1c *h, const weft__h1_field *f, size_t n) {
  for (size_t i = 0; i < n; i++) {
    int rv = out_str(h, f[i].name);
    if (rv == 0)
      rv = out_put(h, ": ", 2);
    if (rv == 0)
      rv = out_str(h, f[i].value);
    if (rv == 0)
      rv = out_put(h, "\r\n", 2);
    if (rv < 0)
      return rv;
  }
  return 0;
}

int weft__h1c_submit_request(weft__h1c *h, const char *method,
                             const char *target, const char *host,
                             const weft__h1_field *fields, size_t nfields,
                             int64_t content_length) {
  if (!h || !method || !target || !host || (nfields && !fields))
    return WEFT_ERR_INVAL;
  if (h->state != S_IDLE && !(h->state == S_DONE && weft__h1c_reusable(h)))
    return WEFT_ERR_STATE;
  if (!*method || !*target || !weft__h1_field_valid("Host", host))
    return WEFT_ERR_INVAL;
  for (const char *c = method; *c; c++)
    if (!weft__h1_is_tchar((unsigned char)*c))
      return WEFT_ERR_INVAL;
  for (const char *c = target; *c; c++)
    if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
      return WEFT_ERR_INVAL;
  for (size_t i = 0; i < nfields; i++)
    if (!weft__h1_field_valid(fields[i].name, fields[i].value) ||
        engine_field(fields[i].name))
      return WEFT_ERR_INVAL;
  int rv = out_str(h, method);
  if (rv == 0)
    rv = out_put(h, " ", 1);
  if (rv == 0)
    rv = out_str(h, target);
  if (rv == 0)
    rv = out_str(h, " HTTP/1.1\r\nHost: ");
  if (rv == 0)
    rv = out_str(h, host);
  if (rv == 0)
    rv = out_put(h, "\r\n", 2);
  if (rv == 0)
    rv = put_fields(h, fields, nfields);
  if (rv == 0) {
    char cl[48];
    if (content_length >= 0)
      snprintf(cl, sizeof cl, "Content-Length: %lld\r\n\r\n",
               (long long)content_length);
    else
      snprintf(cl, sizeof cl, "Transfer-Encoding: chunked\r\n\r\n");
    rv = out_str(h, cl);
  }
  if (rv < 0)
    return rv;
  h->head_req = strcmp(method, "HEAD") == 0;
  h->req_open = true;
  h->req_ended = false;
  h->req_chunked = content_length < 0;
  h->req_left = content_length;
  h->state = S_HEAD;
  h->received = h->body_total = 0;
  h->keep_alive = false;
  hb_reset(h);
  return 0;
}

int weft__h1c_submit_data(weft__h1c *h, const uint8_t *data, size_t len) {
  if (!h || !h->req_open)
    return WEFT_ERR_STATE;
  if (len == 0)
    return 0;
  if (!h->req_chunked) {
    if ((uint64_t)len > (uint64_t)h->req_left)
      return WEFT_ERR_INVAL;
    h->req_left -= (int64_t)len;
    return out_put(h, data, len);
  }
  char line[24];
  snprintf(line, sizeof line, "%zx\r\n", len);
  int rv = out_str(h, line);
  if (rv == 0)
    rv = out_put(h, data, len);
  if (rv == 0)
    rv = out_put(h, "\r\n", 2);
  return rv;
}

int weft__h1c_submit_end(weft__h1c *h, const weft__h1_field *trailers,
                         size_t ntrailers) {
  if (!h || !h->req_open)
    return WEFT_ERR_STATE;
  if (!h->req_chunked && h->req_left > 0)
    return WEFT_ERR_INVAL;
  if (h->req_chunked) {
    for (size_t i = 0; i < ntrailers; i++)
      if (!weft__h1_field_valid(trailers[i].name, trailers[i].value) ||
          engine_field(trailers[i].name))
        return WEFT_ERR_INVAL;
    int rv = out_put(h, "0\r\n", 3);
    if (rv == 0)
      rv = put_fields(h, trailers, ntrailers);
    if (rv == 0)
      rv = out_put(h, "\r\n", 2);
    if (rv < 0)
      return rv;
  }
  h->req_open = false;
  h->req_ended = true;
  return 0;
}

size_t weft__h1c_output(const weft__h1c *h, const uint8_t **data) {
  *data = h->out + h->out_off;
  return h->out_len - h->out_off;
}

void weft__h1c_consume(weft__h1c *h, size_t n) {
  size_t have = h->out_len - h->out_off;
  h->out_off += n < have ? n : have;
  if (h->out_off == h->out_len) {
    h->out_off = h->out_len = 0;
    if (h->out_cap > 65536) { /* a large body went through */
      free(h->out);
      h->out = NULL;
      h->out_cap = 0;
    }
  }
}

/* ---- the response ---- */

/* Gathers CRLF-terminated lines into hb until the empty line. Returns 1
 * when the block is complete (*used bytes taken), 0 when more input is
 * needed, < 0 failed. */
static int gather_lines(weft__h1c *h, const uint8_t *p, size_t n, size_t *used,
                        bool trailers, weft_error *err) {
  const char *what = trailers ? "trailer" : "response head";
  size_t i = 0;
  while (i < n) {
    const uint8_t *lf = memchr(p + i, '\n', n - i);
    size_t take = lf ? (size_t)(lf - (p + i)) + 1 : n - i;
    if (h->hb_len + take > h->lim.max_head + 2)
      return fail(h, err, WEFT_ERR_TOO_BIG, "%s longer than %zu bytes",
                  trailers ? "trailer section" : "response head",
                  h->lim.max_head);
    if (hb_append(h, p + i, take) < 0)
      return fail(h, err, WEFT_ERR_NOMEM, "out of memory");
    i += take;
    if (!lf)
      break;
    size_t len = h->hb_len - h->line_start;
    if (len < 2 || h->hb[h->hb_len - 2] != '\r')
      return fail(h, err, WEFT_ERR_PROTOCOL,
                  "%s line %zu ends with a bare LF (CRLF required)", what,
                  h->nlines + 1);
    if (memchr(h->hb + h->line_start, '\0', len))
      return fail(h, err, WEFT_ERR_PROTOCOL, "NUL byte in %s line %zu", what,
                  h->nlines + 1);
    if (len == 2) {
      if (!trailers && h->nlines == 0)
        return fail(h, err, WEFT_ERR_PROTOCOL,
                    "empty line instead of a status line");
      *used = i;
      return 1;
    }
    if (++h->nlines > h->lim.max_fields + (trailers ? 0 : 1))
      return fail(h, err, WEFT_ERR_LIMIT, "more than %zu %s", h->lim.max_fields,
                  trailers ? "trailer fields" : "fields");
    h->line_start = h->hb_len;
  }
  *used = i;
  return 0;
}

static int deliver_end(weft__h1c *h, const weft__h1_field *t, size_t nt,
                       weft_error *err) {
  h->state = S_DONE;
  int rv = h->cb.on_end(h->ud, t, nt);
  if (rv < 0)
    return fail(h, err, rv, "response end refused by the owner");
  return 0;
}

/* The response head is complete in hb. Returns 0 (an interim 1xx response
 * was skipped, or the final head delivered) or < 0. */
static int parse_head(weft__h1c *h, weft_error *err) {
  char *b = h->hb, *end = h->hb + h->hb_len;
  char *eol = memchr(b, '\r', h->hb_len);
  if (!eol || eol[1] != '\n')
    return fail(h, err, WEFT_ERR_PROTOCOL, "bare CR in the status line");
  *eol = '\0';
  /* status-line = HTTP-version SP status-code SP [ reason-phrase ] */
  if (strncmp(b, "HTTP/", 5) != 0 || !(b[5] >= '0' && b[5] <= '9') ||
      b[6] != '.' || !(b[7] >= '0' && b[7] <= '9') || b[8] != ' ')
    return fail(h, err, WEFT_ERR_PROTOCOL,
                "status line is not \"HTTP/1.1 code reason\"");
  if (b[5] != '1')
    return fail(h, err, WEFT_ERR_UNSUPPORTED,
                "HTTP version %c.%c is not spoken here", b[5], b[7]);
  int minor = b[7] - '0';
  const char *c = b + 9;
  if (!(c[0] >= '1' && c[0] <= '9') || !(c[1] >= '0' && c[1] <= '9') ||
      !(c[2] >= '0' && c[2] <= '9') || (c[3] != ' ' && c[3] != '\0'))
    return fail(h, err, WEFT_ERR_PROTOCOL,
                "status code is not three digits in the status line");
  int status = (c[0] - '0') * 100 + (c[1] - '0') * 10 + (c[2] - '0');
  const char *reason = c[3] ? c + 4 : "";
  for (const char *r = reason; *r; r++) {
    unsigned char ch = (unsigned char)*r;
    if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
      return fail(h, err, WEFT_ERR_PROTOCOL,
                  "control character 0x%02x in the reason phrase", ch);
  }
  size_t nf = 0;
  weft_error e = {0};
  int rv = weft__h1_parse_fields(eol + 2, end, &h->fields, &h->fields_cap, &nf,
                                 "field", &e);
  if (rv < 0)
    return fail(h, err, rv, "%s", e.message);
  if (status < 200) {
    /* 101 would hand the connection to another protocol nobody asked
     * for; other 1xx (100 Continue, 103 Early Hints) are skipped. */
    if (status == 101)
      return fail(h, err, WEFT_ERR_UNSUPPORTED,
                  "101 Switching Protocols to a request without Upgrade");
    hb_reset(h);
    return 0;
  }

  weft__h1c_response r = {.status = status,
                          .minor = minor,
                          .reason = reason,
                          .fields = h->fields,
                          .nfields = nf,
                          .content_length = -1};
  weft__h1_conn_opts co = {0};
  weft__h1_te te = {0};
  unsigned n_cl = 0;
  for (size_t i = 0; i < nf; i++) {
    const weft__h1_field *f = &h->fields[i];
    if (strcasecmp(f->name, "content-length") == 0) {
      if (++n_cl > 1)
        return fail(h, err, WEFT_ERR_PROTOCOL, "more than one Content-Length");
      r.content_length = weft__h1_parse_content_length(f->value, f->value_len);
      if (r.content_length < 0)
        return fail(h, err, WEFT_ERR_PROTOCOL,
                    "Content-Length \"%s\" is not a length", f->value);
    } else if (strcasecmp(f->name, "transfer-encoding") == 0) {
      weft__h1_te_add(&te, f->value);
    } else if (strcasecmp(f->name, "connection") == 0) {
      weft__h1_conn_add(&co, f->value);
    }
  }
  bool no_body = h->head_req || status == 204 || status == 304;
  if (te.n) {
    if (minor == 0)
      return fail(h, err, WEFT_ERR_PROTOCOL,
                  "Transfer-Encoding in an HTTP/1.0 response");
    if (n_cl)
      return fail(h, err, WEFT_ERR_PROTOCOL,
                  "both Content-Length and Transfer-Encoding");
    if (!te.last_chunked || te.chunked > 1)
      return fail(h, err, WEFT_ERR_PROTOCOL,
                  "Transfer-Encoding does not end with one \"chunked\"");
    if (te.n > 1)
      return fail(h, err, WEFT_ERR_UNSUPPORTED,
                  "transfer codings other than chunked were not asked for");
    r.chunked = !no_body;
  }
  if (no_body) {
    r.content_length = -1;
  } else if (r.content_length > 0 &&
             (uint64_t)r.content_length > h->lim.max_body) {
    return fail(h, err, WEFT_ERR_TOO_BIG,
                "body of %lld bytes is over the limit of %llu",
                (long long)r.content_length,
                (unsigned long long)h->lim.max_body);
  }
  r.close_delimited = !no_body && !r.chunked && r.content_length < 0;
  r.keep_alive = !r.close_delimited &&
                 (minor == 1 ? !co.close : (co.keep_alive && !co.close));
  h->keep_alive = r.keep_alive;
  if (no_body || r.content_length == 0) {
    h->state = S_DONE;
  } else if (r.chunked) {
    h->state = S_CHUNK_LINE;
  } else if (r.content_length > 0) {
    h->state = S_BODY;
    h->body_left = (uint64_t)r.content_length;
  } else {
    h->state = S_CLOSE_BODY;
  }
  rv = h->cb.on_response(h->ud, &r);
  hb_reset(h);
  if (rv < 0)
    return fail(h, err, rv, "response refused by the owner");
  if (h->state == S_DONE)
    return deliver_end(h, NULL, 0, err);
  return 0;
}

static int deliver_body(weft__h1c *h, const uint8_t *p, size_t n,
                        weft_error *err) {
  if (!h->cb.on_body || n == 0)
    return 0;
  int rv = h->cb.on_body(h->ud, p, n);
  if (rv < 0)
    return fail(h, err, rv, "response body refused by the owner");
  return 0;
}

static ssize_t feed_chunk_line(weft__h1c *h, const uint8_t *p, size_t n,
                               weft_error *err) {
  const uint8_t *lf = memchr(p, '\n', n);
  size_t take = lf ? (size_t)(lf - p) + 1 : n;
  if (h->hb_len + take > MAX_CHUNK_LINE)
    return fail(h, err, WEFT_ERR_PROTOCOL,
                "chunk-size line longer than %d bytes", MAX_CHUNK_LINE);
  if (hb_append(h, p, take) < 0)
    return fail(h, err, WEFT_ERR_NOMEM, "out of memory");
  if (!lf)
    return (ssize_t)take;
  if (h->hb_len < 2 || h->hb[h->hb_len - 2] != '\r')
    return fail(h, err, WEFT_ERR_PROTOCOL,
                "chunk-size line ends with a bare LF");
  if (memchr(h->hb, '\r', h->hb_len - 2) || memchr(h->hb, '\0', h->hb_len))
    return fail(h, err, WEFT_ERR_PROTOCOL,
                "bare CR or NUL in a chunk-size line");
  uint64_t size = 0;
  weft_error e = {0};
  int rv = weft__h1_parse_chunk_size(h->hb, h->hb_len - 2, &size, &e);
  if (rv < 0)
    return fail(h, err, rv, "%s (after %llu body bytes)", e.message,
                (unsigned long long)h->body_total);
  if (size > h->lim.max_body - h->body_total)
    return fail(h, err, WEFT_ERR_TOO_BIG, "body over the limit of %llu",
                (unsigned long long)h->lim.max_body);
  hb_reset(h);
  if (size == 0) {
    h->state = S_TRAILERS;
  } else {
    h->body_left = size;
    h->body_total += size;
    h->state = S_CHUNK_DATA;
  }
  return (ssize_t)take;
}

ssize_t weft__h1c_feed(weft__h1c *h, const uint8_t *in, size_t len,
                       weft_error *err) {
  if (h->state == S_FAILED)
    return h->fail_code;
  if (h->state == S_IDLE && len > 0)
    return fail(h, err, WEFT_ERR_PROTOCOL,
                "%zu bytes arrived with no request outstanding", len);
  size_t off = 0;
  while (off < len) {
    const uint8_t *p = in + off;
    size_t n = len - off;
    int rv = 0;
    size_t before = off;
    switch (h->state) {
    case S_IDLE:
    case S_DONE:
      return (ssize_t)off;
    case S_FAILED:
      return h->fail_code;
    case S_HEAD: {
      size_t used = 0;
      rv = gather_lines(h, p, n, &used, false, err);
      off += used;
      if (rv == 1)
        rv = parse_head(h, err);
      break;
    }
    case S_BODY: {
      size_t take = n < h->body_left ? n : (size_t)h->body_left;
      h->body_left -= take;
      off += take;
      rv = deliver_body(h, p, take, err);
      if (rv == 0 && h->body_left == 0 && h->state == S_BODY)
        rv = deliver_end(h, NULL, 0, err);
      break;
    }
    case S_CLOSE_BODY:
      if (n > h->lim.max_body - h->body_total)
        return fail(h, err, WEFT_ERR_TOO_BIG, "body over the limit of %llu",
                    (unsigned long long)h->lim.max_body);
      h->body_total += n;
      off += n;
      rv = deliver_body(h, p, n, err);
      break;
    case S_CHUNK_LINE: {
      ssize_t used = feed_chunk_line(h, p, n, err);
      if (used < 0)
        return used;
      off += (size_t)used;
      break;
    }
    case S_CHUNK_DATA: {
      size_t take = n < h->body_left ? n : (size_t)h->body_left;
      h->body_left -= take;
      off += take;
      if (h->body_left == 0) {
        h->state = S_CHUNK_CRLF;
        h->crlf_have = 0;
      }
      rv = deliver_body(h, p, take, err);
      break;
    }
    case S_CHUNK_CRLF:
      if (p[0] != (h->crlf_have ? '\n' : '\r'))
        return fail(h, err, WEFT_ERR_PROTOCOL,
                    "chunk data not followed by CRLF (after %llu body bytes)",
                    (unsigned long long)h->body_total);
      off++;
      if (++h->crlf_have == 2)
        h->state = S_CHUNK_LINE;
      break;
    case S_TRAILERS: {
      size_t used = 0;
      rv = gather_lines(h, p, n, &used, true, err);
      off += used;
      if (rv == 1) {
        size_t nt = 0;
        weft_error e = {0};
        rv = weft__h1_parse_fields(h->hb, h->hb + h->hb_len, &h->fields,
                                   &h->fields_cap, &nt, "trailer", &e);
        if (rv < 0)
          rv = fail(h, err, rv, "%s", e.message);
        else
          rv = deliver_end(h, h->fields, nt, err);
        hb_reset(h);
      }
      break;
    }
    }
    h->received += off - before;
    if (rv < 0)
      return h->state == S_FAILED ? h->fail_code : rv;
  }
  return (ssize_t)off;
}

int weft__h1c_feed_eof(weft__h1c *h, weft_error *err) {
  switch (h->state) {
  case S_IDLE:
  case S_DONE:
    return 0;
  case S_FAILED:
    return h->fail_code;
  case S_CLOSE_BODY:
    return deliver_end(h, NULL, 0, err);
  case S_HEAD:
    return fail(h, err, WEFT_ERR_TRUNCATED,
                h->hb_len ? "connection closed inside the response head"
                          : "connection closed before any response");
  default:
    return fail(h, err, WEFT_ERR_TRUNCATED,
                "connection closed inside the response body (after %llu "
                "bytes)",
                (unsigned long long)h->body_total);
  }
}

bool weft__h1c_response_done(const weft__h1c *h) {
  return h->state == S_DONE;
}

bool weft__h1c_reusable(const weft__h1c *h) {
  return h->state == S_DONE && h->keep_alive && h->req_ended &&
         h->out_len == h->out_off;
}

bool weft__h1c_failed(const weft__h1c *h) {
  return h->state == S_FAILED;
}

uint64_t weft__h1c_received(const weft__h1c *h) {
  return h->received;
}
