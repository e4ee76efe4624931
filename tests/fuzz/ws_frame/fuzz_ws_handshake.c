/* libFuzzer target for the opening handshake parsers. The input is tried
 * as a request (then checked as an upgrade, and answered with a 101 that
 * must verify on the client side) and as a response. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ws_handshake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *buf = (const char *)data;
  ssize_t end = weft__ws_hs_find_end(buf, size, 8192);
  if (end <= 0)
    return 0;
  weft__ws_http r;
  weft_error err;
  if (weft__ws_hs_parse_request(&r, buf, (size_t)end, &err) == 0) {
    if (weft__ws_hs_check_upgrade(&r, &err) == 0) {
      const char *key = weft__ws_http_get(&r, "Sec-WebSocket-Key");
      static const char *const protos[] = {"weft.proto.v1", "weft.json.v1",
                                           NULL};
      int pick = weft__ws_hs_pick_protocol(&r, protos);
      char resp[512];
      int n = weft__ws_hs_response_101(resp, sizeof resp, key,
                                       pick >= 0 ? protos[pick] : NULL);
      weft__ws_http s;
      char proto[32];
      if (n <= 0 || (size_t)n >= sizeof resp ||
          weft__ws_hs_parse_response(&s, resp, (size_t)n, &err) != 0 ||
          weft__ws_hs_check_response(&s, key, "weft.proto.v1, weft.json.v1",
                                     proto, sizeof proto, &err) != 0)
        abort();
      weft__ws_http_free(&s);
    }
  }
  weft__ws_http_free(&r);
  if (weft__ws_hs_parse_response(&r, buf, (size_t)end, &err) == 0) {
    char proto[32];
    weft__ws_hs_check_response(&r, "dGhlIHNhbXBsZSBub25jZQ==", "chat", proto,
                               sizeof proto, &err);
  }
  weft__ws_http_free(&r);
  return 0;
}
