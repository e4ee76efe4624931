/* The calling process's threads (entries of /proc/self/task), for tests
 * that check a thread is not started per connection, call or stream: all
 * of them, or those named `name` (their comm). -1 if /proc is unreadable. */
#ifndef WEFT_TEST_THREAD_COUNT_H
#define WEFT_TEST_THREAD_COUNT_H

#include <dirent.h>
#include <stdio.h>
#include <string.h>

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

/* Threads whose name is one of names (NULL-terminated list). */
static inline int weft_test_threads_named_any(const char *const *names) {
  DIR *d = opendir("/proc/self/task");
  if (!d)
    return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    char path[300], comm[64] = "";
    snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
    FILE *f = fopen(path, "r");
    if (f) {
      if (fgets(comm, sizeof comm, f))
        comm[strcspn(comm, "\n")] = 0;
      fclose(f);
    }
    for (const char *const *p = names; *p; p++)
      if (strcmp(comm, *p) == 0) {
        n++;
        break;
      }
  }
  closedir(d);
  return n;
}

static inline int weft_test_threads_named(const char *name) {
  const char *names[] = {name, NULL};
  return weft_test_threads_named_any(names);
}

/* gRPC core's own pools (Debian 12's libgrpc names them so; comm is cut
 * to 15 bytes): they grow with load and shrink when idle, whatever weft
 * does, so thread-count tests of grpc:// leave them out. */
static inline int weft_test_grpc_core_threads(void) {
  static const char *const names[] = {"default-executo", "resolver-execut",
                                      "grpc_global_tim", "timer_manager",
                                      "event_engine",    NULL};
  return weft_test_threads_named_any(names);
}

#endif
