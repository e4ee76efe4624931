/* libFuzzer target: the HTTP/1.1 body framer (h1_body.c) alone. The first
 * byte picks the framing (low 2 bits: Content-Length, chunked, until
 * close, chunked) and the chunk size (the rest); the second byte is the
 * Content-Length; the rest is the body as it arrives, with whatever
 * follows it. Small limits so the fuzzer reaches them. Each input is fed
 * whole and in chunks (tests/fuzz/support/split_check.h): the events, the
 * failure and where the body ended must not depend on the split. */
#include <stdint.h>
#include <stdlib.h>

#include "../support/split_check.h"
#include "h1_body.h"

static void run(const uint8_t *data, size_t size, size_t chunk,
                weft_fuzz_log *l) {
  static const weft__h1_body_kind kinds[4] = {
      WEFT__H1_BODY_COUNTED, WEFT__H1_BODY_CHUNKED, WEFT__H1_BODY_UNTIL_CLOSE,
      WEFT__H1_BODY_CHUNKED};
  weft__h1_body_limits lim = {
      .max_body = 512, .max_trailer_bytes = 128, .max_trailers = 4};
  weft__h1_body b = {0};
  weft__h1_body_init(&b, &lim);
  uint64_t length = size ? data[0] : 0;
  if (size) {
    data++;
    size--;
  }
  int rv = weft__h1_body_start(&b, kinds[l->mode & 3], length * 3, NULL);
  weft_fuzz_log_put(l, &rv, sizeof rv);
  size_t off = 0;
  bool failed = rv < 0;
  while (!failed && off < size && !weft__h1_body_done(&b)) {
    size_t n = size - off < chunk ? size - off : chunk;
    size_t fed = 0;
    while (fed < n && !weft__h1_body_done(&b)) {
      weft__h1_body_event ev;
      ssize_t used =
          weft__h1_body_feed(&b, data + off + fed, n - fed, &ev, NULL);
      if (used < 0) {
        int st = weft__h1_body_error_status(&b);
        weft_fuzz_log_mark(l, 'X');
        weft_fuzz_log_put(l, &used, sizeof used);
        weft_fuzz_log_put(l, &st, sizeof st);
        failed = true;
        break;
      }
      if (used == 0 && !ev.end)
        abort(); /* no progress and no event: a hang in a real owner */
      if (ev.len && (ev.data < data + off + fed ||
                     ev.data + ev.len > data + off + fed + (size_t)used))
        abort(); /* body bytes must lie in what was consumed */
      weft_fuzz_log_body(l, ev.data, ev.len);
      if (ev.end) {
        weft_fuzz_log_mark(l, 'E');
        for (size_t i = 0; i < ev.ntrailers; i++) {
          weft_fuzz_log_str(l, ev.trailers[i].name);
          weft_fuzz_log_str(l, ev.trailers[i].value);
        }
      }
      fed += (size_t)used;
    }
    off += fed;
  }
  if (!failed) {
    /* Where the body ended (the rest is the next message's). */
    weft_fuzz_log_mark(l, 'Z');
    weft_fuzz_log_put(l, &off, sizeof off);
    bool closed = weft__h1_body_eof(&b);
    weft_fuzz_log_mark(l, closed ? 'C' : weft__h1_body_done(&b) ? '.' : 'T');
    uint64_t got = weft__h1_body_received(&b);
    weft_fuzz_log_put(l, &got, sizeof got);
  }
  weft__h1_body_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  weft_fuzz_split_check(data + 1, size - 1, (size_t)(data[0] >> 2) + 1,
                        data[0] & 3, run);
  return 0;
}
