/* The broker's refusals of system-topic payloads, worded as it words them
 * (message and details), shared by the payload codecs (mb_system.c) and the
 * broker engine. Internal to weft_compat. */
#ifndef WEFT_MB_SYSTEM_INT_H
#define WEFT_MB_SYSTEM_INT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "weft/mb.h"

typedef struct weft__mb_refusal {
  weft_mb_code code;
  int wcode;         /* the WEFT_ERR_* for a weft_error */
  char message[320]; /* as the broker words it */
  cJSON *details;    /* NULL: none */
  /* A payload marked "error:" carrying an error object: the broker answers
   * with that error's own code, message and details (any JSON values),
   * stamped now. NULL otherwise. */
  cJSON *echo_code, *echo_message, *echo_details;
} weft__mb_refusal;

void weft__mb_refusal_clear(weft__mb_refusal *r);
/* Sets r (code, wire message, details: consumed) and returns wcode. */
int weft__mb_refuse(weft__mb_refusal *r, weft_mb_code code, int wcode,
                    cJSON *details, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* UTF-8 text as a JavaScript string holds it (invalid sequences become
 * U+FFFD); malloc'd, NUL-terminated. */
char *weft__mb_js_text(const char *raw, size_t len);

/* JSON as the broker's JSON.parse reads it: its syntax (json_strict.h),
 * and a name given twice in an object keeps the last value, at the first
 * one's place (cJSON's lookups found the first). NULL: not one JSON value,
 * or out of memory. */
cJSON *weft__mb_json_parse(const char *text, size_t len);

/* The payload of a system topic as the broker reads it (at most 16,384
 * bytes, JSON, not empty or null). NULL with r set on refusal. */
cJSON *weft__mb_payload_json(const char *payload, size_t len,
                             weft__mb_refusal *r);
int weft__mb_register_check(const char *payload, size_t len,
                            weft_mb_register *out, weft__mb_refusal *r);
int weft__mb_subscription_check(const char *payload, size_t len,
                                bool unsubscribe, weft_mb_subscription *out,
                                weft__mb_refusal *r);

#endif
