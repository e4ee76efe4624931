/* Fuzzes what the MB client makes of a broker's TCP bytes: the deframer
 * with the client's limit (16,751 + 367), then each message classified
 * (greeting, heartbeat, response, request, publish) or refused. The first
 * input byte picks a chunk size; the rest is the stream. Invariants (abort
 * on violation):
 *  - fed in chunks or whole, the stream yields the same messages, the same
 *    classifications and the same outcome (error or not);
 *  - every refusal carries a message (the caller is told what and where);
 *  - a heartbeat's answer encodes and decodes back to a response with the
 *    heartbeat's id. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mb_client_int.h"

typedef struct trace {
  uint64_t hash; /* over every message and its kind */
  size_t n;
  bool refused; /* a message was not MB: the client ends there */
} trace;

static void mix(trace *t, const void *p, size_t len) {
  const uint8_t *b = p;
  for (size_t i = 0; i < len; i++)
    t->hash = (t->hash ^ b[i]) * 1099511628211ull;
}

static bool on_msg(void *ud, const char *msg, size_t len) {
  trace *t = ud;
  weft_mb_message m;
  weft__mbc_kind kind;
  weft_error err;
  weft_error_clear(&err);
  mix(t, msg, len);
  t->n++;
  if (weft__mbc_classify(msg, len, &m, &kind, &err) < 0) {
    if (err.code != WEFT_ERR_PROTOCOL || err.message[0] == '\0')
      abort();
    t->refused = true;
    return false; /* as the client does: the link ends */
  }
  mix(t, &kind, sizeof kind);
  if (kind == WEFT__MBC_HEARTBEAT) {
    weft_mb_header r;
    weft__mbc_heartbeat_answer(&m.header, &r);
    char *out = NULL;
    size_t out_len = 0;
    if (weft_mb_encode(&r, "{}", 2, &out, &out_len, &err) != 0)
      abort();
    weft_mb_message back;
    if (weft_mb_decode(out, out_len, 0, &back, NULL, &err) != 0 ||
        back.header.action != WEFT_MB_RESPONSE ||
        strcmp(back.header.request_id, m.header.request_id) != 0)
      abort();
    free(out);
  }
  return true;
}

static int run(const uint8_t *data, size_t size, size_t chunk, trace *t) {
  weft_mb_deframer d;
  weft_mb_deframer_init(&d, WEFT__MBC_MAX_FROM_BROKER);
  int rv = 0;
  for (size_t off = 0; off < size && rv == 0 && !t->refused;) {
    size_t n = size - off < chunk ? size - off : chunk;
    weft_error err;
    weft_error_clear(&err);
    rv = weft__mbc_rx_feed(&d, data + off, n, on_msg, t, &err);
    if (rv < 0 && err.message[0] == '\0')
      abort();
    off += n;
  }
  char why[80];
  if (rv == 0 && !t->refused && weft__mbc_rx_mid_frame(&d, why, sizeof why) &&
      why[0] == '\0')
    abort();
  weft_mb_deframer_free(&d);
  return rv;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  size_t chunk = (size_t)data[0] % 17 + 1;
  data++;
  size--;
  trace whole = {1469598103934665603ull, 0, false};
  trace parts = whole;
  int a = run(data, size, size ? size : 1, &whole);
  int b = run(data, size, chunk, &parts);
  if (a != b || whole.hash != parts.hash || whole.n != parts.n ||
      whole.refused != parts.refused)
    abort();
  return 0;
}
