/* See split_check.h. */
#include "split_check.h"

#include <stdlib.h>
#include <string.h>

void weft_fuzz_log_put(weft_fuzz_log *l, const void *p, size_t n) {
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

void weft_fuzz_log_str(weft_fuzz_log *l, const char *s) {
  weft_fuzz_log_put(l, s, strlen(s) + 1);
}

void weft_fuzz_log_mark(weft_fuzz_log *l, char tag) {
  l->in_body = false;
  weft_fuzz_log_put(l, &tag, 1);
}

void weft_fuzz_log_body(weft_fuzz_log *l, const uint8_t *p, size_t n) {
  if (n == 0)
    return;
  if (!l->in_body)
    weft_fuzz_log_mark(l, 'B');
  l->in_body = true;
  weft_fuzz_log_put(l, p, n);
}

void weft_fuzz_split_check(const uint8_t *data, size_t size, size_t chunk,
                           unsigned mode, weft_fuzz_run_fn run) {
  weft_fuzz_log whole = {.mode = mode}, split = {.mode = mode};
  run(data, size, size ? size : 1, &whole);
  run(data, size, chunk ? chunk : 1, &split);
  if (whole.len != split.len ||
      (whole.len && memcmp(whole.buf, split.buf, whole.len) != 0))
    abort(); /* the parse depended on the chunking */
  free(whole.buf);
  free(split.buf);
}
