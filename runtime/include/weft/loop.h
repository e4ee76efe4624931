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
/* Thread-safe; joins the loop thread if weft_loop_start() made one. */
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

#ifdef __cplusplus
}
#endif
#endif
