/* Allocation failure on demand, for tests that fail every allocation of a
 * parser in turn (the nghttp2 habit). A test binary linked with
 * -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc (and fail_alloc.c) routes
 * the allocations of every object it links statically (weft's libraries)
 * through here; shared libraries (libc's own strdup, cJSON) allocate as
 * usual. Thread-local: only the arming thread's allocations fail. */
#ifndef WEFT_TEST_FAIL_ALLOC_H
#define WEFT_TEST_FAIL_ALLOC_H

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The n-th allocation from now on this thread (0: the next) returns NULL;
 * the ones before and after it succeed. */
void weft_test_fail_alloc(long n);
/* Disarms; true when the armed allocation was reached (and failed). */
bool weft_test_fail_alloc_done(void);

#ifdef __cplusplus
}
#endif
#endif
