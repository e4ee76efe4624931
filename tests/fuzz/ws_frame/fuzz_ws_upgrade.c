/* libFuzzer target for the client's incremental handshake (ws_upgrade.h):
 * the input's first byte picks the piece size, the rest is fed as the
 * server's response in pieces of that size. The key is fixed to RFC
 * 6455's example so that a valid 101 can get past the Accept check. */
#include <stdint.h>
#include <string.h>

#include "ws_upgrade.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  size_t chunk = data[0] % 32 + 1;
  data++;
  size--;
  weft__ws_upgrade u;
  weft_error err;
  if (weft__ws_upgrade_init(&u, "example.com", 80, "/chat", "weft.proto.v1",
                            NULL, NULL, 1024, &err) != 0)
    return 0;
  memcpy(u.key, "dGhlIHNhbXBsZSBub25jZQ==", sizeof u.key);
  size_t len;
  weft__ws_upgrade_out(&u, &len);
  weft__ws_upgrade_wrote(&u, len);
  int rv = 0;
  for (size_t off = 0; rv == 0 && off < size; off += chunk) {
    size_t n = size - off < chunk ? size - off : chunk;
    rv = weft__ws_upgrade_feed(&u, data + off, n, &err);
  }
  if (rv == 1) {
    size_t nrest;
    const unsigned char *rest = weft__ws_upgrade_rest(&u, &nrest);
    if (u.status != 101 || nrest > size || (nrest && !rest))
      __builtin_trap();
  }
  weft__ws_upgrade_free(&u);
  return 0;
}
