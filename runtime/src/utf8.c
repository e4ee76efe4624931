/* UTF-8 validation (proto3 strings, WebSocket text, envelope fields), as
 * Google's parsers do it:
 * well-formed per RFC 3629 (no overlong forms, no surrogates, nothing past
 * U+10FFFF). ASCII runs are skipped eight bytes at a time. */
#include <stdint.h>
#include <string.h>

#include "weft/utf8.h"

bool weft_utf8_valid(const void *p, size_t n) {
  const uint8_t *s = p;
  const uint8_t *end = s + n;
  while (s < end) {
    uint8_t c;
    while (end - s >= 16) {
      uint64_t w, x;
      memcpy(&w, s, 8);
      memcpy(&x, s + 8, 8);
      if ((w | x) & 0x8080808080808080ull)
        break;
      s += 16;
    }
    while (end - s >= 8) {
      uint64_t w;
      memcpy(&w, s, 8);
      if (w & 0x8080808080808080ull)
        break;
      s += 8;
    }
    if (s >= end)
      break;
    c = *s;
    if (c < 0x80) {
      s++;
    } else if (c < 0xC2) {
      return false; /* continuation byte or overlong 2-byte lead */
    } else if (c < 0xE0) {
      if (end - s < 2 || (s[1] & 0xC0) != 0x80)
        return false;
      s += 2;
    } else if (c < 0xF0) {
      if (end - s < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
        return false;
      if (c == 0xE0 && s[1] < 0xA0)
        return false; /* overlong */
      if (c == 0xED && s[1] > 0x9F)
        return false; /* surrogate */
      s += 3;
    } else if (c < 0xF5) {
      if (end - s < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 ||
          (s[3] & 0xC0) != 0x80)
        return false;
      if (c == 0xF0 && s[1] < 0x90)
        return false; /* overlong */
      if (c == 0xF4 && s[1] > 0x8F)
        return false; /* > U+10FFFF */
      s += 4;
    } else {
      return false;
    }
  }
  return true;
}

size_t weft_utf8_prefix(const char *s, size_t max) {
  size_t n = 0;
  while (n < max && s[n])
    n++;
  if (n < max || !s[n])
    return n; /* all of it */
  /* s[n] is the first byte left out: back off while it continues a
   * character begun before the cut. */
  while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
    n--;
  return n;
}
