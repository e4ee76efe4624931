/* Internal: the runtime's threads. Protocol engines and transports start
 * no threads of their own (docs/ARCHITECTURE.md, "Threads and calls"); a
 * transport whose library hands it blocking waits (gRPC core's completion
 * queues) asks the runtime for a thread to run them on. Not installed;
 * transports reach it through weft_rpc's build include path.
 *
 * Every thread started here carries a name (pthread_setname_np, at most 15
 * characters: it shows in top -H, gdb and /proc/PID/task/TID/comm, where
 * tests find it) and is counted while it runs (weft__threads_live), so the
 * runtime can say how many threads it holds and tests can check that a
 * count stays bounded by configuration, not by load.
 *
 * Threads: every function may be called from any thread. */
#ifndef WEFT_RT_THREAD_H
#define WEFT_RT_THREAD_H

#include <stdbool.h>

typedef struct weft__thread weft__thread;

/* Starts a thread named `name` (longer names are cut to 15 characters)
 * that runs fn(arg). *out is joined and freed by weft__thread_join, which
 * must be called exactly once. Returns 0, WEFT_ERR_NOMEM (no memory or no
 * thread: *out is then untouched), or WEFT_ERR_INVAL (fn NULL). */
int weft__thread_start(weft__thread **out, const char *name, void (*fn)(void *),
                       void *arg);

/* Starts a thread nobody joins (for a set of threads that grows and
 * shrinks with load; whoever waits for them counts them itself). It is
 * freed when fn returns. Returns 0, WEFT_ERR_NOMEM or WEFT_ERR_INVAL. */
int weft__thread_spawn(const char *name, void (*fn)(void *), void *arg);

/* Waits until t's function returned, then frees t. Not from t itself
 * (WEFT_ERR_STATE, and t stays: join it from another thread). NULL: 0. */
int weft__thread_join(weft__thread *t);

/* Threads started here whose function has not returned yet. */
unsigned weft__threads_live(void);

#endif
