/* Fuzzes weft_breaking_check_bytes with two arbitrary FileDescriptorSets:
 * bytes 0-1 (little-endian) say where NEW ends and OLD starts in the rest.
 * Every rule runs. A check either fails with a message or yields a report
 * whose every violation names a known rule, a file and a message; and a
 * set compared with itself reports nothing. Anything else aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "weft/breaking.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const all[] = {"FILE", "PACKAGE", "WIRE_JSON", "WIRE"};

static int run(const uint8_t *n, size_t nn, const uint8_t *o, size_t on,
               size_t *count) {
  weft_breaking_opts opts = {0};
  opts.use = all;
  opts.n_use = 4;
  weft_breaking_report *r = NULL;
  weft_error err = {0};
  int rv = weft_breaking_check_bytes(n, nn, o, on, &opts, &r, &err);
  if (rv < 0) {
    if (r || !err.message[0])
      abort();
    return rv;
  }
  *count = weft_breaking_report_count(r);
  for (size_t i = 0; i < *count; i++) {
    const weft_breaking_violation *v = weft_breaking_report_at(r, i);
    if (!v || !weft_breaking_find_rule(v->rule) || !v->file || !v->message ||
        !v->message[0] || v->line < 0 || v->column < 0)
      abort();
  }
  weft_breaking_report_free(r);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2)
    return 0;
  size_t rest = size - 2;
  size_t split = ((size_t)data[0] | (size_t)data[1] << 8) % (rest + 1);
  const uint8_t *n = data + 2, *o = data + 2 + split;
  size_t nn = split, on = rest - split, count = 0;
  run(n, nn, o, on, &count);
  run(o, on, n, nn, &count);
  /* Nothing changed, nothing breaks. */
  if (run(n, nn, n, nn, &count) == 0 && count)
    abort();
  if (run(o, on, o, on, &count) == 0 && count)
    abort();
  return 0;
}
