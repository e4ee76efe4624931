/* Fuzzes the endpoint URL parser and the query-parameter decoder: neither
 * may read or write out of bounds, and a parsed URL's parts must be NUL
 * terminated within their buffers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "weft/transport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (!s)
    return 0;
  memcpy(s, data, size);
  s[size] = '\0';
  weft_url u;
  weft_error err;
  if (weft_url_parse(s, &u, &err) == 0) {
    if (memchr(u.host, 0, sizeof u.host) == NULL ||
        memchr(u.path, 0, sizeof u.path) == NULL ||
        memchr(u.query, 0, sizeof u.query) == NULL || u.port > 65535)
      abort();
    char buf[64];
    weft_url_query_param(u.query, "api_key", buf, sizeof buf);
  }
  /* The raw input as a query string too, with a tiny buffer. */
  char small[4];
  weft_url_query_param(s, "a", small, sizeof small);
  free(s);
  return 0;
}
