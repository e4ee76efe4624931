/* The HTTP/2 client engine on arbitrary server bytes, in-process. Three
 * requests are open before the input: stream 1 a unary request with its
 * body, stream 3 a streaming request that sends more as responses come,
 * stream 5 a request without a body. The input is fed in pieces whose size
 * the first byte picks, output drained after every piece; response bytes
 * are credited at once except on stream 5, whose window is held. At the
 * end: a PING whose timeout fires, a reset, a GOAWAY, and the free with
 * streams still open. No sockets, no threads, no clock. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h2_client_engine.h"

typedef struct fstream {
  struct fstream *next, *prev; /* open streams: freed at the end */
  int32_t id;
  int sends;
} fstream;

static weft__h2ce *eng;
static fstream *open_streams;

static void on_headers(void *ud, void *st, const weft__h2e_nv *f, size_t n,
                       bool trailers) {
  (void)ud;
  (void)st;
  (void)trailers;
  /* Touch every field: the pointers must be valid here. */
  volatile uint8_t sum = 0;
  for (size_t i = 0; i < n; i++) {
    if (f[i].nlen)
      sum ^= (uint8_t)f[i].name[f[i].nlen - 1];
    if (f[i].vlen)
      sum ^= f[i].value[f[i].vlen - 1];
  }
  (void)sum;
}

static int on_data(void *ud, void *st, const uint8_t *p, size_t n) {
  fstream *s = st;
  (void)ud;
  (void)p;
  if (s->id != 5)
    weft__h2ce_credit(eng, s->id, n);
  if (s->id == 3 && s->sends < 20) {
    s->sends++;
    weft__h2ce_submit_data(eng, s->id, (const uint8_t *)"more", 4,
                           s->sends == 20);
  }
  return n > 0 && p[0] == 0xee ? -1 : 0;
}

static void on_end(void *ud, void *st) {
  (void)ud;
  (void)st;
}

static void on_closed(void *ud, void *st, uint32_t code) {
  fstream *s = st;
  (void)ud;
  (void)code;
  if (s->prev)
    s->prev->next = s->next;
  else
    open_streams = s->next;
  if (s->next)
    s->next->prev = s->prev;
  free(s);
}

static void on_sent(void *ud, void *st, size_t left) {
  (void)ud;
  (void)st;
  (void)left;
}

static void on_goaway(void *ud, int32_t last, uint32_t code) {
  (void)ud;
  (void)last;
  (void)code;
}

static void on_conn_error(void *ud, const weft_error *why) {
  (void)ud;
  if (!why->message[0])
    abort(); /* every connection error says why */
}

static const weft__h2ce_events events = {
    on_headers, on_data, on_end, on_closed, on_sent, on_goaway, on_conn_error};

static void drain(void) {
  for (int i = 0; i < 10000; i++) {
    size_t n;
    const uint8_t *p = weft__h2ce_output(eng, &n, NULL);
    if (!p || n == 0)
      return;
    weft__h2ce_output_done(eng, n);
  }
}

static void request(bool body, bool end) {
  fstream *s = calloc(1, sizeof *s);
  if (!s)
    return;
  static const weft__h2e_nv nv[] = {
      {":method", (const uint8_t *)"POST", 7, 4},
      {":scheme", (const uint8_t *)"http", 7, 4},
      {":authority", (const uint8_t *)"a", 10, 1},
      {":path", (const uint8_t *)"/p.S/M", 5, 6},
      {"content-type", (const uint8_t *)"application/proto", 12, 17}};
  int32_t id = weft__h2ce_submit_request(eng, nv, 5, !body, s);
  if (id < 0) {
    free(s);
    return;
  }
  s->id = id;
  s->next = open_streams;
  if (open_streams)
    open_streams->prev = s;
  open_streams = s;
  if (body)
    weft__h2ce_submit_data(eng, id, (const uint8_t *)"hello", 5, end);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  weft__h2ce_cfg cfg = {.stream_window = 65535,
                        .max_header_bytes = 4096,
                        .ping_timeout_ms = 1000};
  if (weft__h2ce_new(&eng, &cfg, &events, NULL) != 0)
    return 0;
  int64_t now = 1000000000;
  request(true, true);  /* 1 */
  request(true, false); /* 3 */
  request(false, true); /* 5 */
  drain();
  size_t step = size > 0 ? (size_t)(data[0] % 64) + 1 : 1;
  if (size > 0 && data[0] % 2) /* half the inputs in one piece */
    step = size;
  bool ok = true;
  for (size_t off = 0; ok && off < size; off += step) {
    size_t n = size - off < step ? size - off : step;
    now += 1000000;
    ok = weft__h2ce_feed(eng, data + off, n, now, NULL) >= 0;
    drain();
  }
  weft__h2ce_ping(eng, now);
  drain();
  weft__h2ce_submit_rst(eng, 3, WEFT__H2E_CANCEL);
  weft__h2ce_submit_data(eng, 1, (const uint8_t *)"x", 1, true);
  drain();
  if (weft__h2ce_next_timeout(eng) != INT64_MAX)
    weft__h2ce_expire(eng, now + 2000000000LL, NULL);
  weft__h2ce_goaway(eng, WEFT__H2E_NO_ERROR);
  drain();
  (void)weft__h2ce_finished(eng);
  (void)weft__h2ce_going_away(eng);
  /* Freeing the engine reports no close: streams still open are ours. */
  weft__h2ce_free(eng);
  eng = NULL;
  while (open_streams) {
    fstream *s = open_streams;
    open_streams = s->next;
    free(s);
  }
  return 0;
}
