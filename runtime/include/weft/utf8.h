/* UTF-8 validation shared by every decoder (proto3 strings, JSON,
 * WebSocket text messages, envelope fields): RFC 3629, no overlong forms,
 * no surrogates, nothing past U+10FFFF. */
#ifndef WEFT_UTF8_H
#define WEFT_UTF8_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* True if p[0..n) is valid UTF-8 as above (n == 0 is valid; embedded NULs
 * are valid). Only reads p, allocates nothing; no error code, no message:
 * the caller says where the bad text was. */
bool weft_utf8_valid(const void *p, size_t n);

/* The length of the longest prefix of the NUL-terminated s of at most max
 * bytes that does not end inside a UTF-8 character: where to cut text to
 * fit it in a message ("%.*s") without making it invalid UTF-8. */
size_t weft_utf8_prefix(const char *s, size_t max);

#ifdef __cplusplus
}
#endif
#endif
