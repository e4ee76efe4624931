/* HTTP/1.1 server engine: framing of requests (RFC 9112 sections 2-7) and
 * of responses. See h1_engine.h for the contract and docs/HTTP1.md for the
 * list of refusals. */
#include "h1_engine.h"

#include "h1_body.h"
#include "h1_common.h"
#include "h1_lines.h"
#include "h1_out.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum rstate {
  S_HEAD, /* reading a request line and fields */
  S_BODY, /* the body (h1_body.c frames it) */
  S_WAIT, /* request read whole; waiting for its response to end */
  S_DONE, /* nothing more is read: close after the response */
  S_FAILED
} rstate;

#define MAX_LEADING_BLANKS 4 /* empty lines tolerated before a request */

struct weft__h1 {
  weft__h1_callbacks cb;
  void *ud;
  weft__h1_limits lim;
  rstate state;
  int fail_code;    /* sticky feed result once failed */
  int error_status; /* HTTP status for the failure */

  weft__h1_lines head; /* the request head being gathered */
  weft__h1_field *fields;
  size_t fields_cap;
  weft__h1_body body; /* the request body */

  /* The request being read. */
  int minor;
  bool keep_alive, head_req;
  bool req_active;   /* delivered, and its response not ended */
  bool req_complete; /* its body was read to the end */

  /* The response. */
  bool continue_sent, resp_started, resp_ended;
  bool close_after;
  weft__h1_out out; /* its bytes, and how its body is framed */
};

/* ---- small helpers ---- */

/* Fails the engine: sticky, with the status the owner will answer. */
static int fail(weft__h1 *h, weft_error *err, int code, int status,
                const char *fmt, ...) {
  h->state = S_FAILED;
  h->fail_code = code;
  h->error_status = status;
  va_list ap;
  va_start(ap, fmt);
  weft__h1_verror(err, code, "HTTP/1.1: ", fmt, ap);
  va_end(ap);
  return code;
}

/* ---- public helpers ---- */

const weft__h1_field *weft__h1_find(const weft__h1_request *rq,
                                    const char *name) {
  for (size_t i = 0; i < rq->nfields; i++)
    if (strcasecmp(rq->fields[i].name, name) == 0)
      return &rq->fields[i];
  return NULL;
}

const char *weft__h1_reason(int status) {
  switch (status) {
  case 100:
    return "Continue";
  case 200:
    return "OK";
  case 201:
    return "Created";
  case 202:
    return "Accepted";
  case 204:
    return "No Content";
  case 206:
    return "Partial Content";
  case 301:
    return "Moved Permanently";
  case 302:
    return "Found";
  case 304:
    return "Not Modified";
  case 400:
    return "Bad Request";
  case 401:
    return "Unauthorized";
  case 403:
    return "Forbidden";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 406:
    return "Not Acceptable";
  case 408:
    return "Request Timeout";
  case 409:
    return "Conflict";
  case 411:
    return "Length Required";
  case 412:
    return "Precondition Failed";
  case 413:
    return "Content Too Large";
  case 414:
    return "URI Too Long";
  case 415:
    return "Unsupported Media Type";
  case 417:
    return "Expectation Failed";
  case 429:
    return "Too Many Requests";
  case 431:
    return "Request Header Fields Too Large";
  case 499:
    return "Client Closed Request";
  case 500:
    return "Internal Server Error";
  case 501:
    return "Not Implemented";
  case 502:
    return "Bad Gateway";
  case 503:
    return "Service Unavailable";
  case 504:
    return "Gateway Timeout";
  case 505:
    return "HTTP Version Not Supported";
  default:
    return "";
  }
}

int weft__h1_new(weft__h1 **out, const weft__h1_callbacks *cb, void *ud,
                 const weft__h1_limits *limits) {
  if (!out || !cb || !cb->on_request || !cb->on_end)
    return WEFT_ERR_INVAL;
  *out = NULL;
  weft__h1 *h = calloc(1, sizeof *h);
  if (!h)
    return WEFT_ERR_NOMEM;
  h->cb = *cb;
  h->ud = ud;
  if (limits)
    h->lim = *limits;
  if (!h->lim.max_line)
    h->lim.max_line = 8192;
  if (!h->lim.max_head)
    h->lim.max_head = 16384;
  if (!h->lim.max_fields)
    h->lim.max_fields = 100;
  if (!h->lim.max_body)
    h->lim.max_body = 4u << 20;
  weft__h1_body_init(&h->body,
                     &(weft__h1_body_limits){h->lim.max_body, h->lim.max_head,
                                             h->lim.max_fields});
  h->state = S_HEAD;
  *out = h;
  return 0;
}

void weft__h1_free(weft__h1 *h) {
  if (!h)
    return;
  weft__h1_lines_free(&h->head);
  weft__h1_body_free(&h->body);
  free(h->fields);
  weft__h1_out_free(&h->out);
  free(h);
}

/* ---- reading the head ---- */

/* Parses the field lines from pos on into h->fields (h1_common.c). */
static int parse_fields(weft__h1 *h, char *pos, char *end, size_t *nout,
                        const char *what, weft_error *err) {
  weft_error e = {0};
  int rv = weft__h1_parse_fields(pos, end, &h->fields, &h->fields_cap, nout,
                                 what, &e);
  if (rv < 0)
    return fail(h, err, rv, rv == WEFT_ERR_NOMEM ? 500 : 400, "%s", e.message);
  return 0;
}

static void finish_request_read(weft__h1 *h) {
  h->req_complete = true;
  /* The response may already have ended (an early answer that left the
   * body unread closes the connection, handled in submit_end). */
  h->state = h->resp_ended ? (h->close_after ? S_DONE : S_HEAD) : S_WAIT;
}

static int deliver_end(weft__h1 *h, const weft__h1_field *t, size_t nt,
                       weft_error *err) {
  finish_request_read(h);
  int rv = h->cb.on_end(h->ud, t, nt);
  if (rv < 0)
    return fail(h, err, rv, 500, "request end refused by the owner");
  return 0;
}

/* The request head is complete in h->head: parse and deliver it. */
static int parse_head(weft__h1 *h, weft_error *err) {
  char *b = h->head.buf, *end = b + h->head.len;
  char *eol = memchr(b, '\r', h->head.len);
  if (!eol || eol[1] != '\n')
    return fail(h, err, WEFT_ERR_PROTOCOL, 400, "bare CR in the request line");
  *eol = '\0';
  /* request-line = method SP request-target SP HTTP-version */
  char *m = b, *sp1 = strchr(m, ' ');
  if (!sp1 || sp1 == m)
    return fail(h, err, WEFT_ERR_PROTOCOL, 400,
                "request line is not \"METHOD target HTTP/1.1\"");
  for (char *c = m; c < sp1; c++)
    if (!weft__h1_is_tchar((unsigned char)*c))
      return fail(h, err, WEFT_ERR_PROTOCOL, 400,
                  "invalid character 0x%02x in the method", (unsigned char)*c);
  *sp1 = '\0';
  char *target = sp1 + 1, *sp2 = strchr(target, ' ');
  if (!sp2 || sp2 == target)
    return fail(h, err, WEFT_ERR_PROTOCOL, 400,
                "request line is not \"METHOD target HTTP/1.1\"");
  for (char *c = target; c < sp2; c++) {
    unsigned char ch = (unsigned char)*c;
    if (ch <= 0x20 || ch >= 0x7f)
      return fail(h, err, WEFT_ERR_PROTOCOL, 400,
                  "invalid character 0x%02x in the request target", ch);
  }
  *sp2 = '\0';
  const char *ver = sp2 + 1;
  if (strncmp(ver, "HTTP/", 5) != 0 || !(ver[5] >= '0' && ver[5] <= '9') ||
      ver[6] != '.' || !(ver[7] >= '0' && ver[7] <= '9') || ver[8] != '\0')
    return fail(h, err, WEFT_ERR_PROTOCOL, 400,
                "request line is not \"METHOD target HTTP/1.1\"");
  if (ver[5] != '1')
    return fail(h, err, WEFT_ERR_UNSUPPORTED, 505,
                "HTTP version %s is not served here", ver + 5);
  h->minor = ver[7] - '0';
  if (h->minor > 1) /* HTTP/1.2+: answer as 1.1 (RFC 9110 section 6.2) */
    h->minor = 1;

  size_t nf = 0;
  int rv = parse_fields(h, eol + 2, end, &nf, "field", err);
  if (rv < 0)
    return rv;

  weft__h1_request rq = {.method = m,
                         .target = target,
                         .minor = h->minor,
                         .fields = h->fields,
                         .nfields = nf,
                         .content_length = -1};
  rq.head = strcmp(m, "HEAD") == 0;
  weft__h1_framing fr;
  int status;
  weft_error e = {0};
  rv = weft__h1_framing_parse(h->fields, nf, h->minor, "request", &fr, &status,
                              &e);
  if (rv < 0)
    return fail(h, err, rv, status, "%s", e.message);
  rq.content_length = fr.content_length;
  rq.chunked = fr.chunked;
  rq.keep_alive = fr.keep_alive;
  unsigned n_host = 0;
  for (size_t i = 0; i < nf; i++) {
    const weft__h1_field *f = &h->fields[i];
    if (strcasecmp(f->name, "host") == 0) {
      n_host++;
      if (!weft__h1_host_valid(f->value))
        return fail(h, err, WEFT_ERR_PROTOCOL, 400,
                    "Host \"%s\" is not a host[:port]", f->value);
    } else if (strcasecmp(f->name, "expect") == 0 && h->minor == 1) {
      /* A list (RFC 9110 section 5.6.1: empty elements do not count);
       * 100-continue is the only expectation there is. */
      unsigned other = 0, cont = 0;
      weft__h1_expect_count(f->value, &cont, &other);
      if (other)
        return fail(h, err, WEFT_ERR_UNSUPPORTED, 417,
                    "expectation \"%s\" is not supported", f->value);
      rq.expect_continue = rq.expect_continue || cont;
    }
  }
  if (h->minor == 1 && n_host != 1)
    return fail(h, err, WEFT_ERR_PROTOCOL, 400,
                n_host ? "more than one Host"
                       : "no Host in an HTTP/1.1 request");
  rv = weft__h1_body_start(
      &h->body,
      rq.chunked              ? WEFT__H1_BODY_CHUNKED
      : rq.content_length > 0 ? WEFT__H1_BODY_COUNTED
                              : WEFT__H1_BODY_NONE,
      rq.content_length > 0 ? (uint64_t)rq.content_length : 0, &e);
  if (rv < 0)
    return fail(h, err, rv, weft__h1_body_error_status(&h->body), "%s",
                e.message);

  /* The new request's state, set before the callback so that a response
   * the owner completes inside it finds everything in place. */
  h->keep_alive = rq.keep_alive;
  h->close_after = !rq.keep_alive;
  h->head_req = rq.head;
  h->req_active = true;
  h->req_complete = false;
  h->continue_sent = h->resp_started = h->resp_ended = false;
  bool body = !weft__h1_body_done(&h->body);
  if (body) {
    h->state = S_BODY;
  } else {
    h->state = S_WAIT;
    h->req_complete = true;
  }
  rv = h->cb.on_request(h->ud, &rq);
  weft__h1_lines_reset(&h->head);
  if (rv < 0)
    return fail(h, err, rv, 500, "request refused by the owner");
  if (!body && h->state != S_FAILED)
    return deliver_end(h, NULL, 0, err);
  return 0;
}

static int deliver_body(weft__h1 *h, const uint8_t *p, size_t n,
                        weft_error *err) {
  if (!h->cb.on_body || n == 0)
    return 0;
  int rv = h->cb.on_body(h->ud, p, n);
  if (rv < 0)
    return fail(h, err, rv, 500, "request body refused by the owner");
  return 0;
}

ssize_t weft__h1_feed(weft__h1 *h, const uint8_t *in, size_t len,
                      weft_error *err) {
  if (h->state == S_FAILED)
    return h->fail_code;
  size_t off = 0;
  while (off < len) {
    const uint8_t *p = in + off;
    size_t n = len - off;
    int rv = 0;
    switch (h->state) {
    case S_WAIT:
    case S_DONE:
      return (ssize_t)off;
    case S_FAILED:
      return h->fail_code;
    case S_HEAD: {
      /* Built here, not kept: an idle connection costs the struct. */
      const weft__h1_lines_opts opts = {.what = "request head",
                                        .start_line = "request line",
                                        .fields_what = "fields",
                                        .max_bytes = h->lim.max_head,
                                        .max_fields = h->lim.max_fields,
                                        .max_start_line = h->lim.max_line,
                                        .skip_blanks = MAX_LEADING_BLANKS};
      size_t used = 0;
      weft_error e; /* filled on failure: no 256-byte zeroing per call */
      e.message[0] = '\0';
      rv = weft__h1_lines_feed(&h->head, &opts, p, n, &used, &e);
      off += used;
      if (rv < 0)
        return fail(h, err, rv, h->head.status, "%s", e.message);
      if (rv == 1)
        rv = parse_head(h, err);
      break;
    }
    case S_BODY: {
      weft__h1_body_event ev;
      weft_error e; /* filled on failure: no 256-byte zeroing per call */
      e.message[0] = '\0';
      ssize_t used = weft__h1_body_feed(&h->body, p, n, &ev, &e);
      if (used < 0)
        return fail(h, err, (int)used, weft__h1_body_error_status(&h->body),
                    "%s", e.message);
      off += (size_t)used;
      rv = deliver_body(h, ev.data, ev.len, err);
      /* A response ended from on_body may have stopped the read. */
      if (rv == 0 && ev.end && h->state == S_BODY)
        rv = deliver_end(h, ev.trailers, ev.ntrailers, err);
      break;
    }
    }
    if (rv < 0)
      return h->state == S_FAILED ? h->fail_code : rv;
  }
  return (ssize_t)off;
}

int weft__h1_feed_eof(weft__h1 *h, weft_error *err) {
  switch (h->state) {
  case S_HEAD:
    if (h->head.len == 0)
      return 0;
    return weft_error_set(err, WEFT_ERR_TRUNCATED,
                          "HTTP/1.1: connection closed inside a request head");
  case S_WAIT:
  case S_DONE:
  case S_FAILED:
    return 0;
  default:
    return weft_error_set(err, WEFT_ERR_TRUNCATED,
                          "HTTP/1.1: connection closed inside a request body");
  }
}

bool weft__h1_want_read(const weft__h1 *h) {
  return h->state != S_WAIT && h->state != S_DONE && h->state != S_FAILED;
}

int weft__h1_error_status(const weft__h1 *h) {
  return h->state == S_FAILED ? h->error_status : 0;
}

/* ---- responses ---- */

int weft__h1_submit_continue(weft__h1 *h) {
  if (!h->req_active || h->resp_started || h->continue_sent || h->minor == 0)
    return WEFT_ERR_STATE;
  h->continue_sent = true;
  static const char line[] = "HTTP/1.1 100 Continue\r\n\r\n";
  return weft__h1_out_put(&h->out, line, sizeof line - 1);
}

static bool field_ok(const weft__h1_field *f) {
  return weft__h1_field_valid(f->name, f->value) &&
         strcasecmp(f->name, "content-length") != 0 &&
         strcasecmp(f->name, "transfer-encoding") != 0 &&
         strcasecmp(f->name, "connection") != 0;
}

int weft__h1_submit_head(weft__h1 *h, int status, const weft__h1_field *fields,
                         size_t nfields, int64_t content_length) {
  if (!h->req_active || h->resp_started)
    return WEFT_ERR_STATE;
  if (status < 200 || status > 999)
    return WEFT_ERR_INVAL;
  for (size_t i = 0; i < nfields; i++)
    if (!field_ok(&fields[i]))
      return WEFT_ERR_INVAL;
  h->resp_started = true;
  /* HTTP/1.0 clients know no chunked: a streamed body ends with the
   * connection. */
  weft__h1_body_kind kind = h->head_req || status == 204 || status == 304
                                ? WEFT__H1_BODY_NONE
                            : content_length >= 0 ? WEFT__H1_BODY_COUNTED
                            : h->minor == 1       ? WEFT__H1_BODY_CHUNKED
                                                  : WEFT__H1_BODY_UNTIL_CLOSE;
  if (kind == WEFT__H1_BODY_UNTIL_CLOSE)
    h->close_after = true;
  weft__h1_out *o = &h->out;
  weft__h1_out_body(o, kind, content_length > 0 ? (uint64_t)content_length : 0);
  int rv = weft__h1_out_printf(o, "HTTP/1.1 %d %s\r\n", status,
                               weft__h1_reason(status));
  if (rv == 0)
    rv = weft__h1_out_fields(o, fields, nfields);
  if (rv == 0 && content_length >= 0 && status != 204 && status != 304)
    rv = weft__h1_out_printf(o, "Content-Length: %lld\r\n",
                             (long long)content_length);
  if (rv == 0 && kind == WEFT__H1_BODY_CHUNKED)
    rv = weft__h1_out_str(o, "Transfer-Encoding: chunked\r\n");
  if (rv == 0 && h->close_after)
    rv = weft__h1_out_str(o, "Connection: close\r\n");
  else if (rv == 0 && h->minor == 0)
    rv = weft__h1_out_str(o, "Connection: keep-alive\r\n");
  if (rv == 0)
    rv = weft__h1_out_put(o, "\r\n", 2);
  return rv;
}

int weft__h1_submit_data(weft__h1 *h, const uint8_t *data, size_t len) {
  if (!h->resp_started || h->resp_ended)
    return WEFT_ERR_STATE;
  return weft__h1_out_data(&h->out, data, len);
}

int weft__h1_submit_end(weft__h1 *h, const weft__h1_field *trailers,
                        size_t ntrailers) {
  if (!h->resp_started || h->resp_ended)
    return WEFT_ERR_STATE;
  if (h->out.body == WEFT__H1_BODY_CHUNKED)
    for (size_t i = 0; i < ntrailers; i++)
      if (!field_ok(&trailers[i]))
        return WEFT_ERR_INVAL;
  int rv = weft__h1_out_end(&h->out, trailers, ntrailers);
  if (rv < 0)
    return rv;
  h->resp_ended = true;
  h->req_active = false;
  /* A request body nobody read cannot be skipped reliably: close. */
  if (!h->req_complete)
    h->close_after = true;
  if (h->state == S_FAILED)
    return rv;
  if (h->close_after)
    h->state = S_DONE;
  else if (h->req_complete)
    h->state = S_HEAD;
  return rv;
}

int weft__h1_submit_error(weft__h1 *h, int status, const char *reason) {
  if (status == 0)
    status = h->error_status ? h->error_status : 400;
  h->close_after = true;
  if (h->resp_started && !h->resp_ended) {
    /* Too late for a status: the connection is all that can say it. */
    h->resp_ended = true;
    h->req_active = false;
    if (h->state != S_FAILED)
      h->state = S_DONE;
    return WEFT_ERR_STATE;
  }
  const char *text = reason && *reason ? reason : weft__h1_reason(status);
  size_t tlen = strlen(text);
  int rv = weft__h1_out_printf(&h->out,
                               "HTTP/1.1 %d %s\r\nContent-Type: text/plain; "
                               "charset=utf-8\r\nContent-Length: %zu\r\n"
                               "Connection: close\r\n\r\n",
                               status, weft__h1_reason(status), tlen + 1);
  if (rv == 0)
    rv = weft__h1_out_put(&h->out, text, tlen);
  if (rv == 0)
    rv = weft__h1_out_put(&h->out, "\n", 1);
  h->resp_started = h->resp_ended = true;
  h->req_active = false;
  if (h->state != S_FAILED)
    h->state = S_DONE;
  return rv;
}

size_t weft__h1_output(const weft__h1 *h, const uint8_t **data) {
  return weft__h1_out_pending(&h->out, data);
}

void weft__h1_consume(weft__h1 *h, size_t n) {
  weft__h1_out_consume(&h->out, n);
}

void weft__h1_trim(weft__h1 *h) {
  bool between = h->state == S_HEAD && h->head.len == 0 && !h->req_active;
  const uint8_t *pending;
  if (!between || weft__h1_out_pending(&h->out, &pending))
    return;
  weft__h1_lines_free(&h->head);
  weft__h1_body_free(&h->body);
  free(h->fields);
  h->fields = NULL;
  h->fields_cap = 0;
  weft__h1_out_free(&h->out);
}

bool weft__h1_should_close(const weft__h1 *h) {
  bool responding = h->resp_started && !h->resp_ended;
  return (h->state == S_DONE || h->state == S_FAILED) && !responding;
}
