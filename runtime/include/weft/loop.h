/* An epoll event loop with timers and thread-safe posting, shared by the
 * transports that do their own I/O (tcp, ws, h2). gRPC core has its own.
 *
 * Ownership, in short: the loop never takes ownership of what callers hand
 * it. File descriptors stay the caller's (the loop neither closes them nor
 * keeps them open); every `ud` is passed back as is and must live until its
 * callback has run or been removed. The loop owns its timers (weft_timer
 * handles) and the queue entries of posted work. */
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

/* On success *out is a new, not yet running loop, freed with
 * weft_loop_free(). Returns 0, WEFT_ERR_NOMEM, or WEFT_ERR_IO (epoll or
 * eventfd could not be created, e.g. out of descriptors); on failure *out
 * is left untouched. */
int weft_loop_new(weft_loop **out);
/* Stops the threads if started (as weft_loop_stop), frees. Accepts NULL.
 * Called from one of the loop's own threads it detaches that thread instead
 * of joining it. Timers not fired yet are freed without running. Work
 * posted but never run (the loop never ran, or it was posted after the
 * stop's final drain) runs here, on the calling thread as if it were the
 * loop's (weft_loop_in_thread is true), so its fn still releases its ud:
 * whatever a posted fn uses must live until weft_loop_free. Posts made
 * while it runs run too (bounded); past that, weft_loop_post answers
 * WEFT_ERR_STATE. */
void weft_loop_free(weft_loop *l);
/* Runs on the calling thread until weft_loop_stop(). Before it returns it
 * runs the work posted before the stop (bounded) and reroutes deferred work
 * not started. Returns 0 after a stop, WEFT_ERR_STATE if the loop is
 * already running, or WEFT_ERR_IO if epoll_wait failed. */
int weft_loop_run(weft_loop *l);
/* Runs in a new thread (plus the standby threads set with
 * weft_loop_set_standby; one that cannot be created only means no
 * hand-off). Returns 0, WEFT_ERR_STATE if weft_loop_start already started
 * threads that were not stopped, or WEFT_ERR_NOMEM if the loop thread
 * could not be created. */
int weft_loop_start(weft_loop *l);
/* Thread-safe; joins the threads weft_loop_start() made (the loop thread
 * and its standbys, including one running deferred work: that work must
 * end, e.g. because stopping closed what it waits on). Called from one of
 * the loop's own threads it cannot join: weft_loop_free joins later. Work
 * posted before the stop still runs (the thread holding the loop drains it
 * before it exits). Accepts NULL. */
void weft_loop_stop(weft_loop *l);
/* True if the calling thread is running l right now (false for NULL). */
bool weft_loop_in_thread(const weft_loop *l);

/* Loop thread only. events: WEFT_IO_READ|WEFT_IO_WRITE (edge: no; level).
 * fn(l, fd, events, ud) runs on the loop thread; a hang-up is reported as
 * WEFT_IO_READ (reads EOF) with WEFT_IO_ERROR. fd and ud stay the caller's
 * and must stay valid until weft_loop_del_fd.
 * add: 0, WEFT_ERR_INVAL (fd < 0 or fn NULL), WEFT_ERR_STATE (fd already
 * added), WEFT_ERR_NOMEM, or WEFT_ERR_IO (epoll refused the fd, e.g. a
 * regular file; errno tells why).
 * mod: 0, WEFT_ERR_INVAL (fd not added), or WEFT_ERR_IO.
 * del: forgets fd (unknown fds are ignored); events already fetched for it
 * in the current round are dropped, fn is not called again. It does not
 * close fd: close it after the del. */
int weft_loop_add_fd(weft_loop *l, int fd, unsigned events, weft_io_fn fn,
                     void *ud);
int weft_loop_mod_fd(weft_loop *l, int fd, unsigned events);
void weft_loop_del_fd(weft_loop *l, int fd);

/* Loop thread only. repeat_ms 0: one-shot; after_ms < 0 counts as 0.
 * fn(l, t, ud) runs on the loop thread. Returns a handle owned by the loop,
 * or NULL if fn is NULL or memory ran out (no code). The timer is freed
 * after a one-shot fires or when cancelled: the handle of a one-shot is
 * dangling once fn has returned, so cancel it only before it fires (or from
 * inside fn, which is allowed: the loop frees it when fn returns). ud must
 * live until then. Timers still pending at weft_loop_free are freed without
 * running. weft_timer_cancel accepts NULL. */
weft_timer *weft_loop_timer(weft_loop *l, int64_t after_ms, int64_t repeat_ms,
                            weft_timer_fn fn, void *ud);
void weft_timer_cancel(weft_loop *l, weft_timer *t);

/* Any thread: runs fn(ud) on the loop thread soon, once, in posting order.
 * Returns 0, WEFT_ERR_INVAL (l or fn NULL), WEFT_ERR_NOMEM, or
 * WEFT_ERR_STATE (from work weft_loop_free runs, past its last round);
 * on an error fn will not run and the caller still owns ud. After 0, fn
 * runs exactly once, at the latest in weft_loop_free. */
int weft_loop_post(weft_loop *l, weft_post_fn fn, void *ud);

/* Any thread: runs fn(ud) on the loop thread and waits until it returned
 * (on the loop thread itself: runs it at once). The loop must be running
 * (or driven) by another thread. 0, WEFT_ERR_INVAL or WEFT_ERR_NOMEM (then
 * fn did not run). */
int weft_loop_run_sync(weft_loop *l, weft_post_fn fn, void *ud);

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
 * driver waits for calls weft_loop_wake().
 *
 * Codes: set_standby returns WEFT_ERR_INVAL (NULL, or n above 1, the
 * standby limit), WEFT_ERR_STATE once started, WEFT_ERR_IO (no timerfd).
 * defer returns WEFT_ERR_INVAL (NULL argument, or not on l's loop thread)
 * or WEFT_ERR_STATE as above; on 0, exactly one of fn(ud) or reroute(ud)
 * runs, also when the loop stops first. set_drivable returns
 * WEFT_ERR_INVAL, WEFT_ERR_STATE once started, or WEFT_ERR_IO. drive
 * returns WEFT_ERR_INVAL for NULL, 0 also when called from inside a loop
 * callback or while driving another loop, and WEFT_ERR_IO if epoll_wait
 * failed in the round (the caller still holds the loop: undrive). undrive
 * is ignored when the calling thread does not hold l. */
int weft_loop_set_standby(weft_loop *l, unsigned n);
int weft_loop_defer(weft_loop *l, weft_post_fn fn, weft_post_fn reroute,
                    void *ud);
int weft_loop_set_drivable(weft_loop *l);
int weft_loop_drive(weft_loop *l, int64_t deadline_ns);
void weft_loop_undrive(weft_loop *l, bool others_waiting);
/* Any thread: whoever runs the loop returns from its wait now. */
void weft_loop_wake(weft_loop *l);
/* The loop the calling thread is running right now, or NULL (thread-local,
 * no lock). */
weft_loop *weft_loop_current(void);

#ifdef __cplusplus
}
#endif
#endif
