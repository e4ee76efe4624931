/* The circuit breaker: CLOSED counts consecutive failures; at the threshold
 * it OPENs and calls fail fast; after reset_timeout one trial call goes
 * through (HALF_OPEN): success closes the circuit, failure reopens it. */
#include "rpc_internal.h"

void weft__breaker_init(weft__breaker *b, int threshold, int64_t reset_ms) {
  pthread_mutex_init(&b->mu, NULL);
  b->threshold = threshold > 0 ? threshold : 0;
  b->reset_ns = (reset_ms > 0 ? reset_ms : 5000) * 1000000;
  b->failures = 0;
  b->state = WEFT__BREAKER_CLOSED;
  b->opened_at = 0;
  b->probe_out = false;
}

void weft__breaker_destroy(weft__breaker *b) {
  pthread_mutex_destroy(&b->mu);
}

bool weft__breaker_counts_as_failure(int code) {
  return code == WEFT_STATUS_UNAVAILABLE ||
         code == WEFT_STATUS_DEADLINE_EXCEEDED ||
         code == WEFT_STATUS_INTERNAL || code == WEFT_STATUS_UNKNOWN ||
         code == WEFT_STATUS_DATA_LOSS;
}

int weft__breaker_allow(weft__breaker *b, int64_t now, bool *probe) {
  *probe = false;
  if (b->threshold == 0)
    return 0;
  int rv = 0;
  pthread_mutex_lock(&b->mu);
  switch (b->state) {
  case WEFT__BREAKER_CLOSED:
    break;
  case WEFT__BREAKER_OPEN:
    if (now - b->opened_at >= b->reset_ns) {
      b->state = WEFT__BREAKER_HALF_OPEN;
      b->probe_out = true;
      *probe = true;
    } else {
      rv = WEFT_ERR_AGAIN;
    }
    break;
  case WEFT__BREAKER_HALF_OPEN:
    if (b->probe_out) {
      rv = WEFT_ERR_AGAIN; /* one trial at a time */
    } else {
      b->probe_out = true;
      *probe = true;
    }
    break;
  }
  pthread_mutex_unlock(&b->mu);
  return rv;
}

void weft__breaker_record(weft__breaker *b, int code, bool probe, int64_t now) {
  if (b->threshold == 0)
    return;
  bool failed = weft__breaker_counts_as_failure(code);
  pthread_mutex_lock(&b->mu);
  if (probe)
    b->probe_out = false;
  if (!failed) {
    b->failures = 0;
    if (probe || b->state == WEFT__BREAKER_HALF_OPEN)
      b->state = WEFT__BREAKER_CLOSED;
  } else if (probe || b->state == WEFT__BREAKER_HALF_OPEN) {
    b->state = WEFT__BREAKER_OPEN;
    b->opened_at = now;
  } else if (b->state == WEFT__BREAKER_CLOSED &&
             ++b->failures >= b->threshold) {
    b->state = WEFT__BREAKER_OPEN;
    b->opened_at = now;
  }
  pthread_mutex_unlock(&b->mu);
}
