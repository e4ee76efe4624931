/* cJSON trees that print back what was sent.
 *
 * cJSON keeps a number as a double and a string as a C string, so a tree
 * printed again changes values: 9007199254740993 prints as
 * 9007199254740992, 0.30000000000000004 as 0.3, 1e999 as null, and
 * "a\u0000b" as "a". The AITBC messages carry JSON that weft only relays
 * (`data`, `block`, amounts in wei): what goes out must be what came in.
 *
 * weft__jx_parse parses as cJSON does, then turns every number, and every
 * string holding \u0000, into a cJSON_Raw item whose text is the token as
 * it was written (numbers keep valuedouble too), so cJSON_Print* writes
 * the original token. Internal to transports/compat. */
#ifndef WEFT_COMPAT_JSON_EXACT_H
#define WEFT_COMPAT_JSON_EXACT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "weft/error.h"

/* Parses text[0..len) (one JSON value, white space around it allowed)
 * into *out. < 0 with err set: invalid JSON (at byte N), junk after the
 * value, a member name holding \u0000, out of memory. `what` starts the
 * messages ("AITBC message"). */
int weft__jx_parse(cJSON **out, const char *text, size_t len, const char *what,
                   weft_error *err);

/* A number: raw after weft__jx_parse (valuestring is its token), or a
 * plain cJSON number in a tree built otherwise (valuestring NULL). */
bool weft__jx_is_number(const cJSON *j);
/* A string that holds \u0000 (kept raw: no C string can hold it). */
bool weft__jx_is_nul_string(const cJSON *j);

#endif
