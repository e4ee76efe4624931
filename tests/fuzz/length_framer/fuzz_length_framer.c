/* libFuzzer target: the length-prefix framer. The first byte picks the
 * chunk size and the size limit; the rest is the byte stream. Checks that
 * chunked feeding yields exactly the frames of a one-shot reference parse. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "framer.h"

typedef struct sink {
  uint8_t *buf; /* concatenation of frames, each prefixed by its length */
  size_t len, cap;
  size_t frames;
} sink;

static int collect(void *ud, const uint8_t *f, size_t n) {
  sink *s = ud;
  if (s->len + n + 8 > s->cap) {
    size_t cap = (s->len + n + 8) * 2;
    uint8_t *b = realloc(s->buf, cap);
    if (!b)
      return WEFT_ERR_NOMEM;
    s->buf = b;
    s->cap = cap;
  }
  memcpy(s->buf + s->len, &n, sizeof n);
  s->len += sizeof n;
  if (n)
    memcpy(s->buf + s->len, f, n);
  s->len += n;
  s->frames++;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  size_t chunk = (data[0] & 0x1f) + 1;
  size_t limit = (size_t)(data[0] >> 5) * 64; /* 0: default 4 MiB */
  data++;
  size--;

  weft__lpf ref, f;
  sink a = {0}, b = {0};
  weft__lpf_init(&ref, limit);
  ssize_t rr = weft__lpf_feed(&ref, data, size, collect, &a, NULL);
  weft__lpf_init(&f, limit);
  ssize_t rc = 0;
  for (size_t off = 0; off < size && rc >= 0; off += chunk) {
    size_t n = size - off < chunk ? size - off : chunk;
    rc = weft__lpf_feed(&f, data + off, n, collect, &b, NULL);
    if (rc >= 0 && (size_t)rc != n)
      abort(); /* nothing pauses here: all bytes must be consumed */
  }
  if ((rr < 0) != (rc < 0))
    abort();
  if (a.frames != b.frames || a.len != b.len ||
      (a.len && memcmp(a.buf, b.buf, a.len) != 0))
    abort();
  if (rr >= 0 && weft__lpf_idle(&ref) != weft__lpf_idle(&f))
    abort();
  weft__lpf_free(&ref);
  weft__lpf_free(&f);
  free(a.buf);
  free(b.buf);
  return 0;
}
