/* Internal to the event loop: its state, shared by loop.c (the machinery
 * of one round: timers, fds, posts) and loop_role.c (which thread runs the
 * rounds, and when). */
#ifndef WEFT_RPC_LOOP_INTERNAL_H
#define WEFT_RPC_LOOP_INTERNAL_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weft/loop.h"

#define WEFT__LOOP_MAX_STANDBY 1
#define WEFT__LOOP_MAX_DEFER 64

/* Who holds the loop (runs its rounds) right now. */
enum {
  WEFT__HOLD_NONE,   /* nobody: a parked loop thread or a caller may take it */
  WEFT__HOLD_LOOP,   /* one of the loop's own threads */
  WEFT__HOLD_AWAY,   /* a loop thread running deferred work; a standby may
                        take the loop from it */
  WEFT__HOLD_CALLER, /* a caller driving the loop while it waits */
};

typedef struct weft__loop_fd {
  weft_io_fn fn;
  void *ud;
  unsigned events;
  uint32_t gen; /* bumped on del, so stale events in a batch are dropped */
  bool used;
} weft__loop_fd;

typedef struct weft__post_item {
  struct weft__post_item *next;
  weft_post_fn fn;
  void *ud;
} weft__post_item;

typedef struct weft__deferred {
  weft_post_fn fn, reroute;
  void *ud;
} weft__deferred;

struct weft_loop {
  int epfd;
  int wakefd;
  weft__loop_fd *fds;
  size_t nfds;

  weft_timer **heap;
  size_t heap_len, heap_cap;
  uint64_t timer_seq;
  uint64_t fired; /* timer callbacks run */

  pthread_mutex_t mu; /* guards the post queue and the fields below */
  weft__post_item *post_head, *post_tail;
  bool closed; /* weft_loop_free ran the posts: later ones are refused */
  atomic_bool stop;
  atomic_bool running;
  pthread_t threads[1 + WEFT__LOOP_MAX_STANDBY]; /* made by weft_loop_start */
  unsigned nthreads;

  /* The role (loop_role.c). */
  int tfd;           /* timerfd parked loop threads sleep on, or -1 */
  unsigned nstandby; /* configured (server loops) */
  bool drivable;     /* callers may drive it (client loops) */
  unsigned parked;   /* loop threads waiting for the role */
  atomic_int holder; /* WEFT__HOLD_*; written under mu */
  atomic_bool halt;  /* stopping: the loop's threads exit */
  unsigned want;     /* callers waiting for a loop thread to yield */
  /* The timerfd ticks (periodic) while the role changes hands often, so
   * that going AWAY or leaving a client loop costs no syscall (arming a
   * timer costs microseconds on virtual machines); it stops after a while
   * without activity. */
  bool ticking;
  bool kicked;         /* take a free role now, not after LINGER */
  int64_t since;       /* when the holder went AWAY or a caller left */
  uint64_t activity;   /* deferrals and drives, to see idleness */
  uint64_t seen;       /* activity at the last tick */
  unsigned idle_ticks; /* ticks without activity */
  atomic_bool wanted;
  pthread_cond_t role_cv; /* those callers wait here */
  /* Work a loop thread keeps for after its round; under mu. */
  weft__deferred dq[WEFT__LOOP_MAX_DEFER];
  size_t dq_pos, dq_n;
};

/* The loop whose rounds this thread is running, if any. */
extern _Thread_local const weft_loop *weft__tl_loop;

int weft__loop_round(weft_loop *l, int64_t deadline_ns);
void weft__loop_drain(weft_loop *l);
void weft__loop_wake(weft_loop *l);
/* Wakes a parked loop thread now (loop_role.c). */
void weft__loop_kick(weft_loop *l);

#endif
