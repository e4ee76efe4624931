/* Fuzzes weft__json_strict_valid (the MB payload check, as JSON.parse).
 * Invariants: the offset it gives for a refusal lies inside the input (or
 * at its end); and what it accepts is JSON cJSON parses too, to the end,
 * when nested less deep than cJSON's limit and free of escapes cJSON
 * refuses or cuts (\u0000; surrogates, which JSON.parse takes alone and
 * cJSON does not). */
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_strict.h"

/* A \u escape of NUL or of a surrogate (D800-DFFF). */
static bool odd_escape(const uint8_t *d, size_t n) {
  for (size_t i = 0; i + 5 < n; i++)
    if (d[i] == '\\' && d[i + 1] == 'u' &&
        ((d[i + 2] == 'd' || d[i + 2] == 'D') || !memcmp(d + i + 2, "0000", 4)))
      return true;
  return false;
}

static size_t depth(const uint8_t *d, size_t n) {
  size_t cur = 0, max = 0;
  for (size_t i = 0; i < n; i++) {
    if (d[i] == '[' || d[i] == '{')
      max = ++cur > max ? cur : max;
    else if ((d[i] == ']' || d[i] == '}') && cur)
      cur--;
  }
  return max;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t at = (size_t)-1;
  if (!weft__json_strict_valid((const char *)data, size, &at)) {
    if (at > size)
      abort();
    return 0;
  }
  /* Brackets inside strings count too: an over-estimate, which only
   * skips the comparison. */
  if (depth(data, size) >= CJSON_NESTING_LIMIT || odd_escape(data, size))
    return 0;
  const char *end = NULL;
  cJSON *j = cJSON_ParseWithLengthOpts((const char *)data, size, &end, 0);
  if (!j)
    abort();
  cJSON_Delete(j);
  return 0;
}
