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
#include "../support/split_check.h"

static int on_request(void *ud, const weft__h1_request *rq) {
  weft_fuzz_log *l = ud;
  weft__h1 *h = l->engine;
  weft_fuzz_log_mark(l, 'R');
  weft_fuzz_log_str(l, rq->method);
  weft_fuzz_log_str(l, rq->target);
  for (size_t i = 0; i < rq->nfields; i++) {
    weft_fuzz_log_str(l, rq->fields[i].name);
    weft_fuzz_log_str(l, rq->fields[i].value);
  }
  weft_fuzz_log_put(l, &rq->content_length, sizeof rq->content_length);
  if (rq->expect_continue && (l->mode & 1))
    weft__h1_submit_continue(h);
  if (l->mode & 2) { /* answer early, before the body */
    static const weft__h1_field f = {"content-type", "text/plain", 12, 10};
    weft__h1_submit_head(h, 404, &f, 1, 3);
    weft__h1_submit_data(h, (const uint8_t *)"no\n", 3);
    weft__h1_submit_end(h, NULL, 0);
  }
  return 0;
}

static int on_body(void *ud, const uint8_t *p, size_t n) {
  weft_fuzz_log_body(ud, p, n);
  return 0;
}

static int on_end(void *ud, const weft__h1_field *t, size_t nt) {
  weft_fuzz_log *l = ud;
  weft__h1 *h = l->engine;
  weft_fuzz_log_mark(l, 'E');
  for (size_t i = 0; i < nt; i++) {
    weft_fuzz_log_str(l, t[i].name);
    weft_fuzz_log_str(l, t[i].value);
  }
  if (!(l->mode & 2)) {
    weft__h1_submit_head(h, 200, NULL, 0, -1);
    weft__h1_submit_data(h, (const uint8_t *)"ok", 2);
    static const weft__h1_field tr = {"grpc-status", "0", 11, 1};
    weft__h1_submit_end(h, &tr, 1);
  }
  return 0;
}

static void run(const uint8_t *data, size_t size, size_t chunk,
                weft_fuzz_log *l) {
  static const weft__h1_callbacks cb = {on_request, on_body, on_end};
  weft__h1_limits lim = {
      .max_line = 256, .max_head = 1024, .max_fields = 16, .max_body = 4096};
  weft__h1 *h;
  if (weft__h1_new(&h, &cb, l, &lim) < 0)
    abort();
  l->engine = h;
  size_t off = 0;
  while (off < size) {
    size_t n = size - off < chunk ? size - off : chunk;
    ssize_t used = weft__h1_feed(h, data + off, n, NULL);
    if (used < 0) {
      int st = weft__h1_error_status(h);
      weft_fuzz_log_mark(l, 'X');
      weft_fuzz_log_put(l, &st, sizeof st);
      weft__h1_submit_error(h, 0, NULL);
      break;
    }
    off += (size_t)used;
    const uint8_t *o;
    size_t olen = weft__h1_output(h, &o);
    weft__h1_consume(h, olen);
    weft__h1_trim(h); /* as the HTTP port does when idle: a no-op mid-request */
    if (weft__h1_should_close(h))
      break;
    if (used == 0 && !weft__h1_want_read(h))
      break; /* paused with nobody to answer: a real owner waits */
  }
  if (off >= size)
    weft_fuzz_log_mark(l, weft__h1_feed_eof(h, NULL) == 0 ? '.' : 'T');
  weft__h1_free(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  size_t chunk = (data[0] & 0x1f) + 1;
  unsigned mode = data[0] >> 5;
  weft_fuzz_split_check(data + 1, size - 1, chunk, mode, run);
  return 0;
}
