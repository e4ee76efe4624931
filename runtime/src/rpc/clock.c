/* Monotonic time and deadlines. Deadlines are absolute CLOCK_MONOTONIC ns,
 * INT64_MAX meaning none, so comparisons need no special case. */
#include <stdint.h>
#include <time.h>

#include "rpc_internal.h"

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

void weft__cond_init(pthread_cond_t *cv) {
  pthread_condattr_t a;
  pthread_condattr_init(&a);
  pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
  pthread_cond_init(cv, &a);
  pthread_condattr_destroy(&a);
}

void weft__mono_timespec(struct timespec *ts, int64_t deadline_ns) {
  if (deadline_ns < 0)
    deadline_ns = 0;
  ts->tv_sec = (time_t)(deadline_ns / 1000000000);
  ts->tv_nsec = (long)(deadline_ns % 1000000000);
}

void weft__cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu,
                           int64_t deadline_ns) {
  if (deadline_ns == INT64_MAX) {
    pthread_cond_wait(cv, mu);
    return;
  }
  struct timespec ts;
  weft__mono_timespec(&ts, deadline_ns);
  pthread_cond_timedwait(cv, mu, &ts);
}
