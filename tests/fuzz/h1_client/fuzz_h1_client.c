/* libFuzzer target: the HTTP/1.1 client engine. The first byte picks the
 * chunk size and the request (POST with a body, HEAD, chunked with
 * trailers); the rest is what the server sent, possibly several responses
 * for keep-alive exchanges. Each run drives the engine as the transport
 * does (a new request after each reusable response, the end of input as
 * the server's close) once in one piece and once in chunks, and checks
 * both see the same events: the parse must not depend on the split. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h1_client.h"
#include "../support/split_check.h"

static int on_response(void *ud, const weft__h1c_response *r) {
  weft_fuzz_log *l = ud;
  weft_fuzz_log_mark(l, 'R');
  weft_fuzz_log_put(l, &r->status, sizeof r->status);
  weft_fuzz_log_str(l, r->reason);
  for (size_t i = 0; i < r->nfields; i++) {
    weft_fuzz_log_str(l, r->fields[i].name);
    weft_fuzz_log_str(l, r->fields[i].value);
  }
  weft_fuzz_log_put(l, &r->content_length, sizeof r->content_length);
  uint8_t flags =
      (uint8_t)(r->chunked | r->close_delimited << 1 | r->keep_alive << 2);
  weft_fuzz_log_put(l, &flags, 1);
  return 0;
}

static int on_body(void *ud, const uint8_t *p, size_t n) {
  weft_fuzz_log *l = ud;
  weft_fuzz_log_body(l, p, n);
  return 0;
}

static int on_end(void *ud, const weft__h1_field *t, size_t nt) {
  weft_fuzz_log *l = ud;
  weft_fuzz_log_mark(l, 'E');
  for (size_t i = 0; i < nt; i++) {
    weft_fuzz_log_str(l, t[i].name);
    weft_fuzz_log_str(l, t[i].value);
  }
  return 0;
}

static void submit(weft__h1c *h, unsigned mode) {
  static const weft__h1_field f = {"content-type", "application/proto", 12, 17};
  static const weft__h1_field tr = {"x-sum", "1", 5, 1};
  switch (mode % 3) {
  case 0:
    weft__h1c_submit_request(h, "POST", "/a.B/C", "h:1", &f, 1, 3);
    weft__h1c_submit_data(h, (const uint8_t *)"abc", 3);
    weft__h1c_submit_end(h, NULL, 0);
    break;
  case 1:
    weft__h1c_submit_request(h, "HEAD", "/", "h", NULL, 0, 0);
    weft__h1c_submit_end(h, NULL, 0);
    break;
  default:
    weft__h1c_submit_request(h, "POST", "/s", "h", &f, 1, -1);
    weft__h1c_submit_data(h, (const uint8_t *)"xy", 2);
    weft__h1c_submit_end(h, &tr, 1);
    break;
  }
  const uint8_t *o;
  size_t n = weft__h1c_output(h, &o);
  weft__h1c_consume(h, n);
}

static void run(const uint8_t *data, size_t size, size_t chunk,
                weft_fuzz_log *l) {
  unsigned mode = l->mode;
  static const weft__h1c_callbacks cb = {on_response, on_body, on_end};
  weft__h1c_limits lim = {.max_head = 1024, .max_fields = 16, .max_body = 4096};
  weft__h1c *h;
  if (weft__h1c_new(&h, &cb, l, &lim) < 0)
    abort();
  submit(h, mode);
  size_t off = 0;
  bool failed = false;
  while (off < size) {
    size_t n = size - off < chunk ? size - off : chunk;
    ssize_t used = weft__h1c_feed(h, data + off, n, NULL);
    if (used < 0) {
      weft_fuzz_log_mark(l, 'X');
      weft_fuzz_log_put(l, &used, sizeof used);
      failed = true;
      break;
    }
    off += (size_t)used;
    if (weft__h1c_response_done(h)) {
      if (!weft__h1c_reusable(h))
        break; /* the transport closes: the rest is not read */
      submit(h, mode);
    } else if ((size_t)used < n) {
      abort(); /* only a finished response leaves bytes unconsumed */
    }
  }
  if (!failed && off >= size) {
    int rv = weft__h1c_feed_eof(h, NULL);
    weft_fuzz_log_mark(l, 'Z');
    weft_fuzz_log_put(l, &rv, sizeof rv);
  }
  weft__h1c_free(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  unsigned mode = data[0] >> 4;
  size_t chunk = (size_t)(data[0] & 15) + 1;
  weft_fuzz_split_check(data + 1, size - 1, chunk, mode, run);
  return 0;
}
