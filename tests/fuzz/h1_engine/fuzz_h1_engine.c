/* libFuzzer target: the HTTP/1.1 server engine. The first byte picks the
 * chunk size and how requests are answered; the rest is what a client
 * sent. Each run drives the engine the way a connection does (answering
 * every request, re-feeding what a pause left unconsumed) once in one
 * piece and once in chunks, and checks both see the same events: the
 * parse must not depend on how the bytes were split. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h1_engine.h"

typedef struct logbuf {
  uint8_t *buf;
  size_t len, cap;
  weft__h1 *h;
  unsigned mode;
  bool in_body; /* the last event was body bytes: chunkings may differ in
                   how they split a body, so runs of bytes are merged */
} logbuf;

static void put(logbuf *l, const void *p, size_t n) {
  if (l->len + n > l->cap) {
    size_t cap = (l->len + n) * 2 + 64;
    uint8_t *b = realloc(l->buf, cap);
    if (!b)
      abort();
    l->buf = b;
    l->cap = cap;
  }
  if (n)
    memcpy(l->buf + l->len, p, n);
  l->len += n;
}

static void put_str(logbuf *l, const char *s) {
  put(l, s, strlen(s) + 1);
}

static void mark(logbuf *l, const char *m) {
  l->in_body = false;
  put(l, m, 1);
}

static int on_request(void *ud, const weft__h1_request *rq) {
  logbuf *l = ud;
  mark(l, "R");
  put_str(l, rq->method);
  put_str(l, rq->target);
  for (size_t i = 0; i < rq->nfields; i++) {
    put_str(l, rq->fields[i].name);
    put_str(l, rq->fields[i].value);
  }
  put(l, &rq->content_length, sizeof rq->content_length);
  if (rq->expect_continue && (l->mode & 1))
    weft__h1_submit_continue(l->h);
  if (l->mode & 2) { /* answer early, before the body */
    static const weft__h1_field f = {"content-type", "text/plain", 12, 10};
    weft__h1_submit_head(l->h, 404, &f, 1, 3);
    weft__h1_submit_data(l->h, (const uint8_t *)"no\n", 3);
    weft__h1_submit_end(l->h, NULL, 0);
  }
  return 0;
}

static int on_body(void *ud, const uint8_t *p, size_t n) {
  logbuf *l = ud;
  if (!l->in_body)
    mark(l, "B");
  l->in_body = true;
  put(l, p, n);
  return 0;
}

static int on_end(void *ud, const weft__h1_field *t, size_t nt) {
  logbuf *l = ud;
  mark(l, "E");
  for (size_t i = 0; i < nt; i++) {
    put_str(l, t[i].name);
    put_str(l, t[i].value);
  }
  if (!(l->mode & 2)) {
    weft__h1_submit_head(l->h, 200, NULL, 0, -1);
    weft__h1_submit_data(l->h, (const uint8_t *)"ok", 2);
    static const weft__h1_field tr = {"grpc-status", "0", 11, 1};
    weft__h1_submit_end(l->h, &tr, 1);
  }
  return 0;
}

static void run(const uint8_t *data, size_t size, size_t chunk, unsigned mode,
                logbuf *l) {
  static const weft__h1_callbacks cb = {on_request, on_body, on_end};
  weft__h1_limits lim = {
      .max_line = 256, .max_head = 1024, .max_fields = 16, .max_body = 4096};
  l->mode = mode;
  if (weft__h1_new(&l->h, &cb, l, &lim) < 0)
    abort();
  size_t off = 0;
  while (off < size) {
    size_t n = size - off < chunk ? size - off : chunk;
    ssize_t used = weft__h1_feed(l->h, data + off, n, NULL);
    if (used < 0) {
      int st = weft__h1_error_status(l->h);
      mark(l, "X");
      put(l, &st, sizeof st);
      weft__h1_submit_error(l->h, 0, NULL);
      break;
    }
    off += (size_t)used;
    const uint8_t *o;
    size_t olen = weft__h1_output(l->h, &o);
    weft__h1_consume(l->h, olen);
    weft__h1_trim(
        l->h); /* as the HTTP port does when idle: a no-op mid-request */
    if (weft__h1_should_close(l->h))
      break;
    if (used == 0 && !weft__h1_want_read(l->h))
      break; /* paused with nobody to answer: a real owner waits */
  }
  if (off >= size)
    mark(l, weft__h1_feed_eof(l->h, NULL) == 0 ? "." : "T");
  weft__h1_free(l->h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  size_t chunk = (data[0] & 0x1f) + 1;
  unsigned mode = data[0] >> 5;
  data++;
  size--;
  logbuf a = {0}, b = {0};
  run(data, size, size ? size : 1, mode, &a);
  run(data, size, chunk, mode, &b);
  if (a.len != b.len || (a.len && memcmp(a.buf, b.buf, a.len) != 0))
    abort(); /* the parse depended on the chunking */
  free(a.buf);
  free(b.buf);
  return 0;
}
