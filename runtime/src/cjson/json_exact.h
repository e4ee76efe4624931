/* cJSON trees that print back what was sent.
 *
 * cJSON keeps a number as a double and a string as a C string, and prints
 * a double with 15 significant digits whenever that reads back close
 * enough: a tree printed again changes values. 9007199254740993 prints as
 * 9007199254740992, 0.30000000000000004 as 0.3, the largest double as a
 * text that reads back as infinity, 1e999 as null, and "a\u0000b" as "a".
 * weft relays JSON it reads this way (AITBC `data`, amounts in wei) and
 * compares contract examples with it: what goes on must be what came in.
 *
 * weft__jx_parse parses as cJSON does, then gives every number its token
 * as written (in valuestring; the item stays a cJSON number with its
 * valuedouble), and turns every string holding \u0000 into a cJSON_Raw
 * item holding its token. weft__jx_print writes numbers from their tokens
 * (or, for numbers made from a double, the shortest text that reads back
 * the same double) and raw items as they are. cJSON_Print* on such a tree
 * still loses digits: print it with weft__jx_print.
 *
 * Internal to weft (weft_cjson); not installed. */
#ifndef WEFT_CJSON_JSON_EXACT_H
#define WEFT_CJSON_JSON_EXACT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "weft/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Parses text[0..len) (one JSON value, white space around it allowed)
 * into *out. < 0 with err set: invalid JSON (at byte N), junk after the
 * value, a member name holding \u0000, out of memory. `what` starts the
 * messages ("AITBC message"). */
int weft__jx_parse(cJSON **out, const char *text, size_t len, const char *what,
                   weft_error *err);

/* j as JSON text (malloc'd; NULL: out of memory), compact or as
 * cJSON_Print indents it; numbers exact as above. */
char *weft__jx_print(const cJSON *j, bool pretty);

/* A string that holds \u0000 (kept raw: no C string can hold it). */
bool weft__jx_is_nul_string(const cJSON *j);

#ifdef __cplusplus
}
#endif
#endif
