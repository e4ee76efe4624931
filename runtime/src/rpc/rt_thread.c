/* The runtime's threads (internal/rt_thread.h): named, counted, joinable or
 * detached. The one place outside the worker pool and the loops where the
 * runtime calls pthread_create for a transport. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "rt_thread.h"
#include "weft/error.h"

struct weft__thread {
  pthread_t tid;
  void (*fn)(void *);
  void *arg;
  bool detached;
  char name[16]; /* the kernel's limit, with the terminator */
};

static atomic_uint g_live;

static void *trampoline(void *p) {
  weft__thread *t = p;
  pthread_setname_np(pthread_self(), t->name);
  t->fn(t->arg);
  bool detached = t->detached;
  atomic_fetch_sub(&g_live, 1);
  if (detached) /* nobody else holds t */
    free(t);
  return NULL;
}

static int start(weft__thread **out, const char *name, void (*fn)(void *),
                 void *arg, bool detached) {
  if (!fn)
    return WEFT_ERR_INVAL;
  weft__thread *t = calloc(1, sizeof *t);
  if (!t)
    return WEFT_ERR_NOMEM;
  t->fn = fn;
  t->arg = arg;
  t->detached = detached;
  if (name) {
    strncpy(t->name, name, sizeof t->name - 1);
  } else {
    memcpy(t->name, "weft", 5);
  }
  pthread_attr_t at;
  pthread_attr_init(&at);
  if (detached)
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
  atomic_fetch_add(&g_live, 1);
  /* A detached thread owns t from its first instruction (it may have freed
   * it before pthread_create returns), so its id goes to a local. */
  pthread_t tid;
  int e = pthread_create(detached ? &tid : &t->tid, &at, trampoline, t);
  pthread_attr_destroy(&at);
  if (e != 0) {
    atomic_fetch_sub(&g_live, 1);
    free(t);
    return WEFT_ERR_NOMEM;
  }
  if (out)
    *out = t;
  return 0;
}

int weft__thread_start(weft__thread **out, const char *name, void (*fn)(void *),
                       void *arg) {
  if (!out)
    return WEFT_ERR_INVAL;
  weft__thread *t = NULL;
  int rc = start(&t, name, fn, arg, false);
  if (rc == 0)
    *out = t;
  return rc;
}

int weft__thread_spawn(const char *name, void (*fn)(void *), void *arg) {
  return start(NULL, name, fn, arg, true);
}

int weft__thread_join(weft__thread *t) {
  if (!t)
    return 0;
  if (pthread_equal(t->tid, pthread_self()))
    return WEFT_ERR_STATE;
  pthread_join(t->tid, NULL);
  free(t);
  return 0;
}

unsigned weft__threads_live(void) {
  return atomic_load(&g_live);
}
