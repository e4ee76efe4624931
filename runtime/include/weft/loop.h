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

/* Leader/follower: which thread runs the loop (loop_role.c has the whole
 * story). Every hand-off between threads costs a wake-up on some call's
 * path; these let the thread that is woken anyway do the work.
 *
 * Server loops: weft_loop_set_standby(l, 1) before weft_loop_start() parks
 * a standby thread. weft_loop_defer() (loop thread only) keeps fn(ud) for
 * this thread to run after the current round, outside the loop; if the
 * deferred work outlasts a short takeover time (500 us) the standby takes
 * the loop and hands the work not started yet to reroute(ud), which must
 * not block (e.g. queue it on a worker pool). It returns WEFT_ERR_STATE
 * when no standby is parked or the round's queue (64) is full: queue the
 * work elsewhere, so the loop never waits for a thread.
 *
 * Client loops: weft_loop_set_drivable() before weft_loop_start() lets a
 * caller that waits for something the loop delivers run rounds itself:
 * weft_loop_drive() returns 1 after one round (at most until deadline_ns,
 * CLOCK_MONOTONIC, INT64_MAX for none) with this thread holding the loop;
 * check what you wait for and drive again, or weft_loop_undrive() (with
 * others_waiting true when other threads wait for the loop's events). It
 * returns 0 when another caller holds the loop (or it is stopping): wait
 * by other means, that holder delivers. Another thread that changes what a
 * driver waits for calls weft_loop_wake(). */
int weft_loop_set_standby(weft_loop *l, unsigned n);
int weft_loop_defer(weft_loop *l, weft_post_fn fn, weft_post_fn reroute,
                    void *ud);
int weft_loop_set_drivable(weft_loop *l);
int weft_loop_drive(weft_loop *l, int64_t deadline_ns);
void weft_loop_undrive(weft_loop *l, bool others_waiting);
/* Any thread: whoever runs the loop returns from its wait now. */
void weft_loop_wake(weft_loop *l);
/* The loop the calling thread is running right now, or NULL. */
weft_loop *weft_loop_current(void);

#ifdef __cplusplus
}
#endif
#endif
