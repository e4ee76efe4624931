/* Fuzzes the AITBC WebSocket JSON message parser. Invariant: for anything
 * that parses to a known kind, encode(parse(x)) encodes, parses again to the
 * same kind, and re-encodes to the same bytes (a fixed point). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "weft/aitbc_ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  weft_aitbc_ws_msg m;
  weft_error err;
  if (weft_aitbc_ws_parse((const char *)data, size, &m, &err) != 0) {
    if (err.message[0] == '\0')
      abort();
    return 0;
  }
  if (m.kind == WEFT_AITBC_WS_UNKNOWN) {
    weft_aitbc_ws_msg_clear(&m);
    return 0;
  }
  char *one = NULL, *two = NULL;
  size_t n1 = 0, n2 = 0;
  if (weft_aitbc_ws_encode(&m, &one, &n1, &err) != 0)
    abort();
  weft_aitbc_ws_msg again;
  if (weft_aitbc_ws_parse(one, n1, &again, &err) != 0 || again.kind != m.kind)
    abort();
  if (weft_aitbc_ws_encode(&again, &two, &n2, &err) != 0)
    abort();
  if (n1 != n2 || memcmp(one, two, n1) != 0)
    abort();
  free(one);
  free(two);
  weft_aitbc_ws_msg_clear(&m);
  weft_aitbc_ws_msg_clear(&again);
  return 0;
}
