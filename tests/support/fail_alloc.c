/* fail_alloc.h: the --wrap targets. */
#include "fail_alloc.h"

#include <stddef.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);

static _Thread_local long countdown = -1; /* -1: disarmed */
static _Thread_local bool reached;

static bool fail_now(void) {
  if (countdown < 0)
    return false;
  if (countdown-- > 0)
    return false;
  reached = true; /* countdown is -1 again: the rest succeed */
  return true;
}

void *__wrap_malloc(size_t n) {
  return fail_now() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t k, size_t n) {
  return fail_now() ? NULL : __real_calloc(k, n);
}

void *__wrap_realloc(void *p, size_t n) {
  return fail_now() ? NULL : __real_realloc(p, n);
}

void weft_test_fail_alloc(long n) {
  countdown = n;
  reached = false;
}

bool weft_test_fail_alloc_done(void) {
  countdown = -1;
  return reached;
}
