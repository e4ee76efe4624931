/* Incremental UTF-8 validation (RFC 3629). The state carries how many
 * continuation bytes are still due and the range the next one must fall in,
 * which is what rejects overlong forms, surrogates and code points past
 * U+10FFFF at the first offending byte. */
#include <string.h>

#include "ws_frame.h"

bool weft__ws_utf8_feed(weft__ws_utf8 *u, const uint8_t *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    if (u->need == 0) {
      /* ASCII fast path: eight bytes at a time. */
      while (i + 8 <= n) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        if (w & 0x8080808080808080ull)
          break;
        i += 8;
      }
      if (i >= n)
        break;
      uint8_t c = p[i++];
      if (c < 0x80)
        continue;
      if (c >= 0xC2 && c <= 0xDF) {
        u->need = 1, u->lo = 0x80, u->hi = 0xBF;
      } else if (c == 0xE0) {
        u->need = 2, u->lo = 0xA0, u->hi = 0xBF;
      } else if (c == 0xED) {
        u->need = 2, u->lo = 0x80, u->hi = 0x9F; /* no surrogates */
      } else if (c >= 0xE1 && c <= 0xEF) {
        u->need = 2, u->lo = 0x80, u->hi = 0xBF;
      } else if (c == 0xF0) {
        u->need = 3, u->lo = 0x90, u->hi = 0xBF;
      } else if (c >= 0xF1 && c <= 0xF3) {
        u->need = 3, u->lo = 0x80, u->hi = 0xBF;
      } else if (c == 0xF4) {
        u->need = 3, u->lo = 0x80, u->hi = 0x8F; /* <= U+10FFFF */
      } else {
        return false;
      }
    } else {
      uint8_t c = p[i++];
      if (c < u->lo || c > u->hi)
        return false;
      u->need--;
      u->lo = 0x80, u->hi = 0xBF;
    }
  }
  return true;
}
