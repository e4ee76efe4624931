/* The calling process's thread count (entries of /proc/self/task), for
 * tests that check a thread is not started per connection, call or stream.
 * -1 if /proc is unreadable. */
#ifndef WEFT_TEST_THREAD_COUNT_H
#define WEFT_TEST_THREAD_COUNT_H

#include <dirent.h>

static inline int weft_test_thread_count(void) {
  DIR *d = opendir("/proc/self/task");
  if (!d)
    return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

#endif
