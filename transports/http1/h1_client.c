/* HTTP/1.1 client engine: request framing and response parsing (RFC 9112
 * sections 4-7). See h1_client.h for the contract. */
#include "h1_client.h"

#include "h1_body.h"
#include "h1_lines.h"
#include "h1_out.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum rstate {
  S_IDLE, /* no request submitted: nothing may arrive */
  S_HEAD, /* status line and fields (of 1xx responses too) */
  S_BODY, /* the body (h1_body.c frames it) */
  S_DONE, /* response ended */
  S_FAILED
} rstate;

struct weft__h1c {
  weft__h1c_callbacks cb;
  void *ud;
  weft__h1c_limits lim;
  rstate state;
  int fail_code;

  weft__h1_lines head; /* the response head being gathered */
  weft__h1_field *fields;
  size_t fields_cap;
  weft__h1_body body; /* the response body */

  bool head_req; /* HEAD: the response has no body */
  bool keep_alive;
  uint64_t received;

  /* The request. */
  bool req_open;    /* submitted, not ended */
  bool req_ended;   /* submit_end done */
  weft__h1_out out; /* its bytes, and how its body is framed */
};

static int fail(weft__h1c *h, weft_error *err, int code, const char *fmt, ...) {
  h->state = S_FAILED;
  h->fail_code = code;
  va_list ap;
  va_start(ap, fmt);
  weft__h1_verror(err, code, "HTTP/1.1 response: ", fmt, ap);
  va_end(ap);
  return code;
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
  weft__h1_body_init(&h->body,
                     &(weft__h1_body_limits){h->lim.max_body, h->lim.max_head,
                                             h->lim.max_fields});
  h->state = S_IDLE;
  *out = h;
  return 0;
}

void weft__h1c_free(weft__h1c *h) {
  if (!h)
    return;
  weft__h1_lines_free(&h->head);
  weft__h1_body_free(&h->body);
  free(h->fields);
  weft__h1_out_free(&h->out);
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
  weft__h1_out *o = &h->out;
  int rv = weft__h1_out_str(o, method);
  if (rv == 0)
    rv = weft__h1_out_put(o, " ", 1);
  if (rv == 0)
    rv = weft__h1_out_str(o, target);
  if (rv == 0)
    rv = weft__h1_out_str(o, " HTTP/1.1\r\nHost: ");
  if (rv == 0)
    rv = weft__h1_out_str(o, host);
  if (rv == 0)
    rv = weft__h1_out_put(o, "\r\n", 2);
  if (rv == 0)
    rv = weft__h1_out_fields(o, fields, nfields);
  if (rv == 0 && content_length >= 0)
    rv = weft__h1_out_printf(o, "Content-Length: %lld\r\n\r\n",
                             (long long)content_length);
  else if (rv == 0)
    rv = weft__h1_out_str(o, "Transfer-Encoding: chunked\r\n\r\n");
  if (rv < 0)
    return rv;
  weft__h1_out_body(
      o, content_length >= 0 ? WEFT__H1_BODY_COUNTED : WEFT__H1_BODY_CHUNKED,
      content_length > 0 ? (uint64_t)content_length : 0);
  h->head_req = strcmp(method, "HEAD") == 0;
  h->req_open = true;
  h->req_ended = false;
  h->state = S_HEAD;
  h->received = 0;
  h->keep_alive = false;
  weft__h1_lines_reset(&h->head);
  return 0;
}

int weft__h1c_submit_data(weft__h1c *h, const uint8_t *data, size_t len) {
  if (!h || !h->req_open)
    return WEFT_ERR_STATE;
  return weft__h1_out_data(&h->out, data, len);
}

int weft__h1c_submit_end(weft__h1c *h, const weft__h1_field *trailers,
                         size_t ntrailers) {
  if (!h || !h->req_open)
    return WEFT_ERR_STATE;
  if (h->out.body == WEFT__H1_BODY_CHUNKED)
    for (size_t i = 0; i < ntrailers; i++)
      if (!weft__h1_field_valid(trailers[i].name, trailers[i].value) ||
          engine_field(trailers[i].name))
        return WEFT_ERR_INVAL;
  int rv = weft__h1_out_end(&h->out, trailers, ntrailers);
  if (rv < 0)
    return rv;
  h->req_open = false;
  h->req_ended = true;
  return 0;
}

size_t weft__h1c_output(const weft__h1c *h, const uint8_t **data) {
  return weft__h1_out_pending(&h->out, data);
}

void weft__h1c_consume(weft__h1c *h, size_t n) {
  weft__h1_out_consume(&h->out, n);
}

/* ---- the response ---- */

static int deliver_end(weft__h1c *h, const weft__h1_field *t, size_t nt,
                       weft_error *err) {
  h->state = S_DONE;
  int rv = h->cb.on_end(h->ud, t, nt);
  if (rv < 0)
    return fail(h, err, rv, "response end refused by the owner");
  return 0;
}

/* The response head is complete in h->head. Returns 0 (an interim 1xx response
 * was skipped, or the final head delivered) or < 0. */
static int parse_head(weft__h1c *h, weft_error *err) {
  char *b = h->head.buf, *end = b + h->head.len;
  char *eol = memchr(b, '\r', h->head.len);
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
    weft__h1_lines_reset(&h->head);
    return 0;
  }

  weft__h1c_response r = {.status = status,
                          .minor = minor,
                          .reason = reason,
                          .fields = h->fields,
                          .nfields = nf,
                          .content_length = -1};
  weft__h1_framing fr;
  int ignored_status;
  rv = weft__h1_framing_parse(h->fields, nf, minor, "response", &fr,
                              &ignored_status, &e);
  if (rv < 0)
    return fail(h, err, rv, "%s", e.message);
  r.content_length = fr.content_length;
  bool no_body = h->head_req || status == 204 || status == 304;
  r.chunked = fr.chunked && !no_body;
  if (no_body)
    r.content_length = -1;
  r.close_delimited = !no_body && !r.chunked && r.content_length < 0;
  weft__h1_body_kind kind = no_body             ? WEFT__H1_BODY_NONE
                            : r.chunked         ? WEFT__H1_BODY_CHUNKED
                            : r.close_delimited ? WEFT__H1_BODY_UNTIL_CLOSE
                                                : WEFT__H1_BODY_COUNTED;
  rv = weft__h1_body_start(
      &h->body, kind, r.content_length > 0 ? (uint64_t)r.content_length : 0,
      &e);
  if (rv < 0)
    return fail(h, err, rv, "%s", e.message);
  r.keep_alive = !r.close_delimited && fr.keep_alive;
  h->keep_alive = r.keep_alive;
  h->state = weft__h1_body_done(&h->body) ? S_DONE : S_BODY;
  rv = h->cb.on_response(h->ud, &r);
  weft__h1_lines_reset(&h->head);
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
      /* Built here, not kept: an idle connection costs the struct. */
      const weft__h1_lines_opts opts = {.what = "response head",
                                        .start_line = "status line",
                                        .fields_what = "fields",
                                        .max_bytes = h->lim.max_head,
                                        .max_fields = h->lim.max_fields};
      size_t used = 0;
      weft_error e; /* filled on failure: no 256-byte zeroing per call */
      e.message[0] = '\0';
      rv = weft__h1_lines_feed(&h->head, &opts, p, n, &used, &e);
      off += used;
      if (rv < 0)
        rv = fail(h, err, rv, "%s", e.message);
      else if (rv == 1)
        rv = parse_head(h, err);
      break;
    }
    case S_BODY: {
      weft__h1_body_event ev;
      weft_error e; /* filled on failure: no 256-byte zeroing per call */
      e.message[0] = '\0';
      ssize_t used = weft__h1_body_feed(&h->body, p, n, &ev, &e);
      if (used < 0)
        return fail(h, err, (int)used, "%s", e.message);
      off += (size_t)used;
      rv = deliver_body(h, ev.data, ev.len, err);
      if (rv == 0 && ev.end && h->state == S_BODY)
        rv = deliver_end(h, ev.trailers, ev.ntrailers, err);
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
  case S_HEAD:
    return fail(h, err, WEFT_ERR_TRUNCATED,
                h->head.len ? "connection closed inside the response head"
                            : "connection closed before any response");
  default:
    if (weft__h1_body_eof(&h->body))
      return deliver_end(h, NULL, 0, err);
    return fail(h, err, WEFT_ERR_TRUNCATED,
                "connection closed inside the response body (after %llu "
                "bytes)",
                (unsigned long long)weft__h1_body_received(&h->body));
  }
}

bool weft__h1c_response_done(const weft__h1c *h) {
  return h->state == S_DONE;
}

bool weft__h1c_reusable(const weft__h1c *h) {
  const uint8_t *pending;
  return h->state == S_DONE && h->keep_alive && h->req_ended &&
         weft__h1_out_pending(&h->out, &pending) == 0;
}

bool weft__h1c_failed(const weft__h1c *h) {
  return h->state == S_FAILED;
}

uint64_t weft__h1c_received(const weft__h1c *h) {
  return h->received;
}
