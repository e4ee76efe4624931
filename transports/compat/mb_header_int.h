/* Which header rule failed, for an answer worded as the broker words it.
 * Internal to weft_compat. */
#ifndef WEFT_MB_HEADER_INT_H
#define WEFT_MB_HEADER_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "weft/mb.h"

typedef enum weft__mb_fault_kind {
  WEFT__MB_FAULT_NONE = 0,
  WEFT__MB_FAULT_LENGTH, /* no '\n' within WEFT_MB_MAX_HEADER bytes */
  WEFT__MB_FAULT_FIELDS, /* fewer than 3 fields */
  WEFT__MB_FAULT_ACTION,
  WEFT__MB_FAULT_TOPIC,
  WEFT__MB_FAULT_VERSION,
  WEFT__MB_FAULT_ID,
  WEFT__MB_FAULT_PARENT,
  WEFT__MB_FAULT_TIMEOUT_ACTION, /* a timeout off a request */
  WEFT__MB_FAULT_TIMEOUT
} weft__mb_fault_kind;

typedef struct weft__mb_fault {
  weft__mb_fault_kind kind;
  const char *raw; /* the field as sent (points into the line) */
  size_t raw_len;
  /* WEFT__MB_FAULT_TIMEOUT: what JavaScript's parseInt made of it */
  bool timeout_nan;
  double timeout_value;
} weft__mb_fault;

/* weft_mb_header_parse, also saying which rule failed first. */
int weft__mb_header_parse_fault(const char *line, size_t len, weft_mb_header *h,
                                weft_mb_code *code, weft_error *err,
                                weft__mb_fault *fault);

#endif
