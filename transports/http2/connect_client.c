/* The client side of a Connect response. See connect_client.h. */
#include "connect_client.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "h2_msg.h"
#include "weft/transport.h"

#define WEB_FLAG_TRAILERS 0x80
/* An error body's room beyond a message (its JSON wraps a message). */
#define BODY_SLACK 65536

void weft__connect_resp_init(weft__connect_resp *r, size_t max_msg,
                             bool stream) {
  r->max_msg = max_msg;
  r->stream = stream;
  weft__connect_reader_init(&r->reader, max_msg);
}

void weft__connect_resp_free(weft__connect_resp *r) {
  weft__connect_resp_drop(r);
  free(r->body);
  r->body = NULL;
  weft_metadata_clear(&r->md);
  weft_status_clear(&r->st);
  weft__connect_reader_free(&r->reader);
}

void weft__connect_resp_status(weft__connect_resp *r, int code, const char *fmt,
                               ...) {
  if (r->have_status)
    return;
  char msg[WEFT_ERROR_MSG_MAX + 64];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  r->have_status = true;
  weft_status_set(&r->st, code, "%s", msg);
}

void weft__connect_resp_take_status(weft__connect_resp *r, weft_status *st) {
  if (!r->have_status) {
    r->have_status = true;
    weft_status_move(&r->st, st);
  }
  weft_status_clear(st);
}

static bool name_is(const char *n, size_t nlen, const char *word) {
  return nlen == strlen(word) && strncasecmp(n, word, nlen) == 0;
}

void weft__connect_resp_header(weft__connect_resp *r, const char *name,
                               size_t nlen, const char *value, size_t vlen) {
  if (name_is(name, nlen, "content-encoding") ||
      name_is(name, nlen, "connect-content-encoding")) {
    r->gzip = vlen == 4 && strncasecmp(value, "gzip", 4) == 0;
    return;
  }
  if (weft__h2_reserved_header(name, nlen))
    return;
  /* A unary call's trailers travel as "trailer-" headers. */
  if (!r->stream && nlen > 8 && strncasecmp(name, "trailer-", 8) == 0) {
    name += 8;
    nlen -= 8;
  }
  char key[256];
  if (nlen >= sizeof key)
    return;
  for (size_t i = 0; i < nlen; i++)
    key[i] = (char)tolower((unsigned char)name[i]);
  key[nlen] = '\0';
  weft_metadata_add(&r->md, key, value, vlen);
}

int weft__connect_resp_push(void *ud, uint8_t flags, const uint8_t *data,
                            size_t len) {
  weft__connect_resp *r = ud;
  if (r->grpc && (flags & ~WEFT__CONNECT_FLAG_COMPRESSED)) {
    weft__connect_resp_status(r, WEFT_STATUS_INTERNAL,
                              "a gRPC message frame with flags 0x%02x", flags);
    return WEFT_ERR_PROTOCOL;
  }
  if (r->grpc && (flags & WEFT__CONNECT_FLAG_COMPRESSED) && !r->gzip) {
    weft__connect_resp_status(r, WEFT_STATUS_INTERNAL,
                              "a compressed gRPC message, but the response "
                              "has no grpc-encoding this client speaks");
    return WEFT_ERR_PROTOCOL;
  }
  if (r->on_web_trailers && (flags & WEB_FLAG_TRAILERS))
    return r->on_web_trailers(r->web_ud, flags, data, len);
  if (!r->on_web_trailers && !r->grpc &&
      (flags & WEFT__CONNECT_FLAG_END_STREAM)) {
    weft_status st = {0};
    if (weft__connect_parse_end_stream((const char *)data, len, &st, &r->md) <
        0)
      weft__connect_resp_status(r, WEFT_STATUS_INTERNAL,
                                "malformed Connect end-of-stream message");
    else
      weft__connect_resp_take_status(r, &st);
    weft_status_clear(&st);
    r->ended = true;
    return 0;
  }
  if (r->ended)
    return WEFT_ERR_PROTOCOL; /* a message after the end of the stream */
  r->received++;
  if (r->discard)
    return 0;
  weft__connect_msg *n = malloc(sizeof *n + len);
  if (!n)
    return WEFT_ERR_NOMEM;
  n->next = NULL;
  n->flags = flags;
  n->len = len;
  if (len)
    memcpy(n->data, data, len);
  if (r->tail)
    r->tail->next = n;
  else
    r->head = n;
  r->tail = n;
  r->queued += len + 5;
  return 0;
}

int weft__connect_resp_data(weft__connect_resp *r, const uint8_t *data,
                            size_t len, weft_error *err) {
  if (r->stream && r->http_status == 200) {
    weft_error e; /* filled on failure: no 256-byte zeroing per call */
    e.message[0] = '\0';
    int rv = weft__connect_reader_feed(&r->reader, data, len,
                                       weft__connect_resp_push, r, &e);
    if (rv < 0) {
      weft__connect_resp_status(r, WEFT_STATUS_INTERNAL, "%s",
                                e.message[0] ? e.message
                                             : "malformed response stream");
      return weft_error_set(err, rv, "%s", r->st.message ? r->st.message : "");
    }
    return 0;
  }
  if (r->body_len + len > r->max_msg + BODY_SLACK) {
    weft__connect_resp_status(r, WEFT_STATUS_RESOURCE_EXHAUSTED,
                              "response over the message size limit");
    return weft_error_set(err, WEFT_ERR_TOO_BIG,
                          "response over the message size limit");
  }
  if (r->body_len + len > r->body_cap) {
    size_t cap = r->body_cap ? r->body_cap * 2 : 1024;
    while (cap < r->body_len + len)
      cap *= 2;
    uint8_t *b = realloc(r->body, cap);
    if (!b)
      return weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
    r->body = b;
    r->body_cap = cap;
  }
  if (len)
    memcpy(r->body + r->body_len, data, len);
  r->body_len += len;
  return 0;
}

weft__connect_msg *weft__connect_resp_pop(weft__connect_resp *r) {
  weft__connect_msg *n = r->head;
  if (!n)
    return NULL;
  r->head = n->next;
  if (!r->head)
    r->tail = NULL;
  r->queued -= n->len + 5;
  return n;
}

void weft__connect_resp_drop(weft__connect_resp *r) {
  for (weft__connect_msg *n = r->head; n;) {
    weft__connect_msg *next = n->next;
    free(n);
    n = next;
  }
  r->head = r->tail = NULL;
  r->queued = 0;
  r->discard = true;
}

void weft__connect_resp_end(weft__connect_resp *r) {
  if (r->have_status)
    return;
  if (r->http_status != 200) {
    int fallback = r->http_status ? weft__connect_code_from_http(r->http_status)
                                  : WEFT_STATUS_UNAVAILABLE;
    const uint8_t *b = r->body;
    size_t len = r->body_len;
    uint8_t *plain = NULL;
    weft_error e = {0};
    if (r->gzip && weft__gunzip(b, len, BODY_SLACK, &plain, &len, &e) == 0)
      b = plain;
    weft_status st = {0};
    weft__connect_parse_error((const char *)b, len, fallback, &st);
    /* Not a Connect error (a proxy's page, nothing at all): say which
     * HTTP status came instead. */
    bool generic = !st.message || !*st.message ||
                   strcmp(st.message, "HTTP error without a Connect body") == 0;
    if (generic && r->http_status)
      weft_status_set(&st, st.code, "HTTP status %d without a Connect error",
                      r->http_status);
    else if (generic)
      weft_status_set(&st, st.code, "the stream closed before a response");
    weft__connect_resp_take_status(r, &st);
    free(plain);
  } else if (r->stream) {
    weft__connect_resp_status(
        r, WEFT_STATUS_INTERNAL, "%s",
        weft__connect_reader_idle(&r->reader)
            ? "stream ended without a Connect end-of-stream message"
            : "stream ended inside a message");
  } else {
    weft__connect_resp_status(r, WEFT_STATUS_OK, "%s", "");
  }
}

int weft__connect_decode(const weft_msg_desc *d, bool json, const uint8_t *data,
                         size_t len, bool gz, size_t max_msg, weft_arena *arena,
                         void **out, weft_error *err) {
  uint8_t *plain = NULL;
  int rv = 0;
  if (gz) {
    rv = weft__gunzip(data, len, max_msg, &plain, &len, err);
    data = plain;
  }
  if (rv == 0)
    rv = weft__h2_decode(d, json, data, len, arena, max_msg, out, err);
  free(plain);
  return rv;
}

int64_t weft__connect_timeout_ms(int64_t deadline_ns) {
  if (deadline_ns == INT64_MAX)
    return -1;
  int64_t ms = (deadline_ns - weft_now_ns()) / 1000000;
  return ms < 1 ? 1 : ms;
}
