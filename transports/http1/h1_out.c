/* Writing HTTP/1.1 messages. See h1_out.h. */
#include "h1_out.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEEP_CAP 65536 /* a drained buffer past this is released */

int weft__h1_out_put(weft__h1_out *o, const void *p, size_t n) {
  if (n == 0)
    return 0;
  if (o->off == o->len)
    o->off = o->len = 0;
  if (o->len + n > o->cap) {
    size_t cap = o->cap ? o->cap : 256;
    while (cap < o->len + n)
      cap *= 2;
    uint8_t *b = realloc(o->buf, cap);
    if (!b)
      return WEFT_ERR_NOMEM;
    o->buf = b;
    o->cap = cap;
  }
  memcpy(o->buf + o->len, p, n);
  o->len += n;
  return 0;
}

int weft__h1_out_str(weft__h1_out *o, const char *s) {
  return weft__h1_out_put(o, s, strlen(s));
}

int weft__h1_out_printf(weft__h1_out *o, const char *fmt, ...) {
  /* Room for the longest canned error head (431's reason phrase is 31
   * characters; 128 bytes cut it off). */
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof buf)
    return WEFT_ERR_INTERNAL;
  return weft__h1_out_put(o, buf, (size_t)n);
}

int weft__h1_out_fields(weft__h1_out *o, const weft__h1_field *f, size_t n) {
  for (size_t i = 0; i < n; i++) {
    int rv = weft__h1_out_str(o, f[i].name);
    if (rv == 0)
      rv = weft__h1_out_put(o, ": ", 2);
    if (rv == 0)
      rv = weft__h1_out_str(o, f[i].value);
    if (rv == 0)
      rv = weft__h1_out_put(o, "\r\n", 2);
    if (rv < 0)
      return rv;
  }
  return 0;
}

void weft__h1_out_body(weft__h1_out *o, weft__h1_body_kind kind,
                       uint64_t length) {
  o->body = kind;
  o->left = kind == WEFT__H1_BODY_COUNTED ? length : 0;
}

int weft__h1_out_data(weft__h1_out *o, const uint8_t *data, size_t len) {
  if (len == 0 || o->body == WEFT__H1_BODY_NONE)
    return 0;
  if (o->body == WEFT__H1_BODY_COUNTED) {
    if ((uint64_t)len > o->left)
      return WEFT_ERR_INVAL;
    o->left -= len;
  }
  if (o->body != WEFT__H1_BODY_CHUNKED)
    return weft__h1_out_put(o, data, len);
  int rv = weft__h1_out_printf(o, "%zx\r\n", len);
  if (rv == 0)
    rv = weft__h1_out_put(o, data, len);
  if (rv == 0)
    rv = weft__h1_out_put(o, "\r\n", 2);
  return rv;
}

int weft__h1_out_end(weft__h1_out *o, const weft__h1_field *trailers,
                     size_t ntrailers) {
  if (o->body == WEFT__H1_BODY_COUNTED && o->left > 0)
    return WEFT_ERR_INVAL;
  int rv = 0;
  if (o->body == WEFT__H1_BODY_CHUNKED) {
    rv = weft__h1_out_put(o, "0\r\n", 3);
    if (rv == 0)
      rv = weft__h1_out_fields(o, trailers, ntrailers);
    if (rv == 0)
      rv = weft__h1_out_put(o, "\r\n", 2);
  }
  if (rv == 0)
    o->body = WEFT__H1_BODY_NONE;
  return rv;
}

size_t weft__h1_out_pending(const weft__h1_out *o, const uint8_t **data) {
  *data = o->buf ? o->buf + o->off : o->buf; /* NULL + 0 is undefined */
  return o->len - o->off;
}

void weft__h1_out_consume(weft__h1_out *o, size_t n) {
  size_t have = o->len - o->off;
  o->off += n < have ? n : have;
  if (o->off == o->len) {
    o->off = o->len = 0;
    if (o->cap > KEEP_CAP) {
      free(o->buf);
      o->buf = NULL;
      o->cap = 0;
    }
  }
}

void weft__h1_out_free(weft__h1_out *o) {
  free(o->buf);
  o->buf = NULL;
  o->off = o->len = o->cap = 0;
}
