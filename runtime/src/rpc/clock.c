/* Monotonic time and deadlines. Deadlines are absolute CLOCK_MONOTONIC ns,
 * INT64_MAX meaning none, so comparisons need no special case. */
#include <stdint.h>
#include <time.h>

#include "weft/transport.h"

int64_t weft_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t weft_deadline_from_timeout_ms(int64_t timeout_ms) {
  if (timeout_ms <= 0)
    return INT64_MAX;
  int64_t now = weft_now_ns();
  if (timeout_ms > (INT64_MAX - now) / 1000000)
    return INT64_MAX;
  return now + timeout_ms * 1000000;
}
