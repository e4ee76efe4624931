/* An epoll event loop with timers and thread-safe posting, shared by the
 * transports that do their own I/O (tcp, ws, h2). gRPC core has its own. */
#ifndef WEFT_LOOP_H
#define WEFT_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_loop weft_loop;
typedef struct weft_timer weft_timer;

enum { WEFT_IO_READ = 1u, WEFT_IO_WRITE = 2u, WEFT_IO_ERROR = 4u };

typedef void (*weft_io_fn)(weft_loop *l, int fd, unsigned events, void *ud);
typedef void (*weft_timer_fn)(weft_loop *l, weft_timer *t, void *ud);
typedef void (*weft_post_fn)(void *ud);

int weft_loop_new(weft_loop **out);
/* Stops the thread if started, frees. Accepts NULL. */
void weft_loop_free(weft_loop *l);
/* Runs on the calling thread until weft_loop_stop(). */
int weft_loop_run(weft_loop *l);
/* Runs in a new thread. */
int weft_loop_start(weft_loop *l);
/* Thread-safe; joins the threads weft_loop_start() made (the loop thread
 * and its standbys, including one running deferred work: that work must
 * end, e.g. because stopping closed what it waits on). */
void weft_loop_stop(weft_loop *l);
bool weft_loop_in_thread(const weft_loop *l);

/* Loop thread only. events: WEFT_IO_READ|WEFT_IO_WRITE (edge: no; level). */
int weft_loop_add_fd(weft_loop *l, int fd, unsigned events, weft_io_fn fn,
                     void *ud);
int weft_loop_mod_fd(weft_loop *l, int fd, unsigned events);
void weft_loop_del_fd(weft_loop *l, int fd);

/* Loop thread only. repeat_ms 0: one-shot. The timer is freed after a
 * one-shot fires or when cancelled. */
weft_timer *weft_loop_timer(weft_loop *l, int64_t after_ms, int64_t repeat_ms,
                            weft_timer_fn fn, void *ud);
void weft_timer_cancel(weft_loop *l, weft_timer *t);

/* Any thread: runs fn(ud) on the loop thread soon. */
int weft_loop_post(weft_loop *l, weft_post_fn fn, void *ud);

/* Leader/follower hand-off, for server loops whose events start handlers.
 *
 * Passing work from the loop thread to a worker costs a thread wake-up on
 * the critical path of every call. With standby threads, the loop thread
 * can instead keep the work and give the loop away: weft_loop_defer() (loop
 * thread only) parks fn(ud) until the end of the current round; then a
 * parked standby thread takes over the loop while this thread, now outside
 * the loop, runs fn(ud), and parks itself as the next standby when fn
 * returns. The standby's wake-up happens beside the work, not before it.
 *
 * weft_loop_set_standby(l, n) before weft_loop_start() makes n standby
 * threads (n <= 4; 0, the default, disables hand-off). weft_loop_defer()
 * returns WEFT_ERR_STATE when no standby is parked or work is already
 * deferred this round: the caller then queues the work elsewhere, so the
 * loop never waits for a thread. fn may block; the loop keeps running. */
int weft_loop_set_standby(weft_loop *l, unsigned n);
int weft_loop_defer(weft_loop *l, weft_post_fn fn, void *ud);
/* The loop the calling thread is running right now, or NULL. */
weft_loop *weft_loop_current(void);

#ifdef __cplusplus
}
#endif
#endif
