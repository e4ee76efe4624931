/* The HTTP/2 server engine on arbitrary bytes, in-process: the input
 * follows the client preface (an input starting with an ASCII capital
 * letter is fed as it is, which exercises the preface check), in pieces
 * whose size the first byte picks, with the clock moving between pieces.
 * The events answer like a server would, so the response path runs too:
 * every request gets a response when it ends, whose size (empty, small,
 * past the window) and trailers depend on its stream id; request bodies
 * are credited at once except on every fifth stream, whose window is held
 * until it closes. Output is drained after every piece, and the header
 * timeout is fired at the end. No sockets, no threads, no clock. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h2_engine.h"

typedef struct fstream {
  struct fstream *next, *prev; /* open streams: freed at the end */
  int32_t id;
  size_t out_total, out_off;
  bool responded;
} fstream;

static weft__h2e *eng;
static fstream *open_streams;

static void *on_open(void *ud, const weft__h2e_request *rq) {
  (void)ud;
  /* Touch every field: the pointers must be valid here. */
  volatile uint8_t sum = 0;
  for (size_t i = 0; i < rq->nfields; i++) {
    if (rq->fields[i].nlen)
      sum ^= (uint8_t)rq->fields[i].name[rq->fields[i].nlen - 1];
    if (rq->fields[i].vlen)
      sum ^= rq->fields[i].value[rq->fields[i].vlen - 1];
  }
  (void)sum;
  if (rq->id % 11 == 0)
    return NULL; /* refused: RST_STREAM */
  fstream *s = calloc(1, sizeof *s);
  if (!s)
    return NULL;
  s->id = rq->id;
  s->next = open_streams;
  if (open_streams)
    open_streams->prev = s;
  open_streams = s;
  s->out_total = rq->id % 3 == 0 ? 0 : rq->id % 3 == 1 ? 100 : 300000;
  return s;
}

static int on_data(void *ud, void *st, const uint8_t *p, size_t n) {
  fstream *s = st;
  (void)ud;
  (void)p;
  if (s->id % 5 != 0)
    weft__h2e_credit(eng, s->id, n);
  return s->id % 13 == 0 ? -1 : 0;
}

static void on_end(void *ud, void *st) {
  fstream *s = st;
  (void)ud;
  if (s->responded)
    return;
  s->responded = true;
  weft__h2e_nv nv[] = {
      {":status", (const uint8_t *)"200", 7, 3},
      {"content-type", (const uint8_t *)"application/grpc", 12, 16}};
  weft__h2e_submit_response(eng, s->id, nv, 2, s->id % 7 != 0);
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

static ssize_t read_data(void *ud, void *st, uint8_t *buf, size_t cap,
                         uint32_t *flags) {
  fstream *s = st;
  (void)ud;
  size_t n = s->out_total - s->out_off;
  if (n > cap)
    n = cap;
  memset(buf, 'r', n);
  s->out_off += n;
  if (s->out_off == s->out_total) {
    *flags |= WEFT__H2E_EOF;
    if (s->id % 4 == 1) {
      *flags |= WEFT__H2E_NO_END_STREAM;
      weft__h2e_nv tr[] = {{"grpc-status", (const uint8_t *)"0", 11, 1}};
      weft__h2e_submit_trailers(eng, s->id, tr, 1);
    }
  }
  return (ssize_t)n;
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

static const weft__h2e_events events = {
    on_open, on_data, on_end, on_closed, read_data, on_goaway, on_conn_error};

static void drain(void) {
  for (int i = 0; i < 10000; i++) {
    size_t n;
    const uint8_t *p = weft__h2e_output(eng, &n, NULL);
    if (!p || n == 0)
      return;
    weft__h2e_output_done(eng, n);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  const int64_t start = 1000000000;
  weft__h2e_cfg cfg = {.header_timeout_ms = 1000, .start_ns = start};
  if (weft__h2e_new(&eng, &cfg, &events, NULL) != 0)
    return 0;
  int64_t now = start;
  bool raw = size > 0 && data[0] >= 'A' && data[0] <= 'Z';
  bool ok = true;
  if (!raw)
    ok = weft__h2e_feed(eng, (const uint8_t *)preface, sizeof preface - 1, now,
                        NULL) >= 0;
  size_t step = size > 0 ? (size_t)(data[0] % 64) + 1 : 1;
  if (size > 0 && data[0] % 2) /* half the inputs in one piece */
    step = size;
  for (size_t off = 0; ok && off < size; off += step) {
    size_t n = size - off < step ? size - off : step;
    now += 1000000;
    ok = weft__h2e_feed(eng, data + off, n, now, NULL) >= 0;
    drain();
  }
  drain();
  if (weft__h2e_next_timeout(eng) != INT64_MAX)
    weft__h2e_expire(eng, now + 2000000000LL, NULL);
  drain();
  (void)weft__h2e_finished(eng);
  /* Freeing the engine reports no close: streams still open are ours to
   * free, as a connection's glue drops its streams itself. */
  weft__h2e_free(eng);
  eng = NULL;
  while (open_streams) {
    fstream *s = open_streams;
    open_streams = s->next;
    free(s);
  }
  return 0;
}
