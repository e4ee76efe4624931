/* JSON syntax checked as JavaScript's JSON.parse checks it (ECMA-404,
 * RFC 8259), for the MB broker, whose payload check is JSON.parse.
 *
 * cJSON is more lenient than JSON.parse: it takes `[01]`, `[1.]`, a raw
 * TAB inside a string, and \f, \v or NUL as white space, all of which the
 * Node broker refuses as MALFORMED "Invalid JSON payload"; and it stops at
 * a nesting depth of 1000, which JSON.parse does not. Internal to
 * transports/compat. */
#ifndef WEFT_COMPAT_JSON_STRICT_H
#define WEFT_COMPAT_JSON_STRICT_H

#include <stdbool.h>
#include <stddef.h>

/* True if text[0..len) is exactly one JSON value with white space (space,
 * TAB, CR, LF) around it. Otherwise false, and *at (if not NULL) is the
 * offset of the first byte that does not fit. Bytes above 0x7f inside
 * strings are taken as they are (Node decodes the payload as UTF-8,
 * replacing bad sequences, before it parses). Any nesting depth (memory
 * for it: one byte per level). */
bool weft__json_strict_valid(const char *text, size_t len, size_t *at);

#endif
