/* Status codes, names in gRPC and Connect form, and owned status values. */
#include "weft/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const grpc_names[] = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
};

/* Connect spells code 1 "canceled" (one l) and has no name for OK. */
static const char *const connect_names[] = {
    "ok",
    "canceled",
    "unknown",
    "invalid_argument",
    "deadline_exceeded",
    "not_found",
    "already_exists",
    "permission_denied",
    "resource_exhausted",
    "failed_precondition",
    "aborted",
    "out_of_range",
    "unimplemented",
    "internal",
    "unavailable",
    "data_loss",
    "unauthenticated",
};

#define N_CODES ((int)(sizeof grpc_names / sizeof grpc_names[0]))

const char *weft_status_name(int code) {
  return code >= 0 && code < N_CODES ? grpc_names[code] : "UNKNOWN";
}

const char *weft_status_connect_name(int code) {
  return code >= 0 && code < N_CODES ? connect_names[code] : "unknown";
}

int weft_status_from_name(const char *name) {
  if (!name)
    return -1;
  for (int i = 0; i < N_CODES; i++) {
    if (strcasecmp(name, grpc_names[i]) == 0 ||
        strcasecmp(name, connect_names[i]) == 0)
      return i;
  }
  return -1;
}

void weft_status_set(weft_status *st, int code, const char *fmt, ...) {
  if (!st)
    return;
  weft_status_clear(st);
  st->code = code;
  if (!fmt || !*fmt)
    return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  char *m = malloc((size_t)n + 1);
  if (!m)
    return; /* the code alone still tells what happened */
  va_start(ap, fmt);
  vsnprintf(m, (size_t)n + 1, fmt, ap);
  va_end(ap);
  st->message = m;
}

void weft_status_clear(weft_status *st) {
  if (!st)
    return;
  free(st->message);
  free(st->details);
  st->code = 0;
  st->message = NULL;
  st->details = NULL;
  st->details_len = 0;
}

void weft_status_move(weft_status *dst, weft_status *src) {
  if (dst == src)
    return;
  weft_status_clear(dst);
  *dst = *src;
  src->code = 0;
  src->message = NULL;
  src->details = NULL;
  src->details_len = 0;
}
