/* The Connect protocol's parsers on arbitrary bytes: the incremental
 * envelope reader (fed in chunks whose sizes come from the input, so every
 * split point is tried), the end-of-stream and error JSON parsers,
 * Connect-Timeout-Ms, the bounded gunzip and the Connect GET query
 * parser. The first byte selects the
 * chunk size; the rest is the stream. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "connect.h"
#include "weft/status.h"

typedef struct {
  size_t msgs, bytes;
} tally;

static int on_msg(void *ud, uint8_t flags, const uint8_t *data, size_t len) {
  tally *t = ud;
  (void)flags;
  t->msgs++;
  t->bytes += len;
  /* Touch every byte so ASan sees a bad pointer or length. */
  volatile uint8_t x = 0;
  for (size_t i = 0; i < len; i++)
    x ^= data[i];
  (void)x;
  return t->msgs > 10000 ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  size_t chunk = (size_t)(data[0] % 17) + 1;
  data++;
  size--;

  /* Envelopes, with a small limit so the too-big path is reached. */
  weft__connect_reader r;
  weft__connect_reader_init(&r, 4096);
  tally t = {0, 0};
  for (size_t off = 0; off < size;) {
    size_t n = size - off < chunk ? size - off : chunk;
    weft_error err = {0};
    if (weft__connect_reader_feed(&r, data + off, n, on_msg, &t, &err) < 0)
      break;
    off += n;
  }
  (void)weft__connect_reader_idle(&r);
  weft__connect_reader_free(&r);

  /* The JSON bodies. */
  weft_status st = {0};
  weft_metadata md = WEFT_METADATA_INIT;
  weft__connect_parse_end_stream((const char *)data, size, &st, &md);
  weft_status_clear(&st);
  weft_metadata_clear(&md);
  weft_status st2 = {0};
  weft__connect_parse_error((const char *)data, size, WEFT_STATUS_UNKNOWN,
                            &st2);
  /* Whatever parsed must serialize again. */
  char *js = NULL;
  size_t jl = 0;
  if (st2.code != 0 && weft__connect_error_json(&st2, &js, &jl) == 0)
    free(js);
  weft_status_clear(&st2);

  (void)weft__connect_parse_timeout((const char *)data, size);

  uint8_t *out = NULL;
  size_t out_len = 0;
  weft_error err = {0};
  if (weft__gunzip(data, size, 1 << 16, &out, &out_len, &err) == 0)
    free(out);

  /* The input as a Connect GET query (NUL-terminated copy). */
  char *q = malloc(size + 1);
  if (q) {
    memcpy(q, data, size);
    q[size] = '\0';
    weft__connect_get g;
    if (weft__connect_get_parse(q, 1 << 16, &g, &err) == 0) {
      volatile uint8_t x = 0;
      for (size_t i = 0; i < g.message_len; i++)
        x ^= g.message[i];
      (void)x;
    }
    weft__connect_get_free(&g);
    free(q);
  }
  return 0;
}
