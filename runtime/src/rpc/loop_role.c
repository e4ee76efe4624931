/* Which thread runs a loop's rounds, and when (loop.h).
 *
 * "The loop thread" is a role, held by one thread at a time (l->holder):
 *
 * - Server loops (weft_loop_set_standby) keep a standby thread parked on a
 *   timerfd. The holder defers calls (weft_loop_defer) and, after its
 *   round, runs them itself with the role marked AWAY. Quick work ends and
 *   the holder goes on: no thread was woken. While calls come, the timerfd
 *   ticks (TICK_NS) and the standby looks at each tick: work AWAY for more
 *   than TAKEOVER_NS makes it take the role, hand the calls not started yet
 *   back to their owner (reroute: the worker pool) and run the loop; the old
 *   holder parks when its call returns. A handler that blocks delays the
 *   other connections by TAKEOVER_NS + TICK_NS at most. The tick stops
 *   after IDLE_TICKS without calls, so an idle server does not wake.
 *
 * - Client loops (weft_loop_set_drivable): a caller waiting for its reply
 *   takes the role and runs rounds itself (weft_loop_drive), so the reply
 *   wakes the caller straight from epoll_wait instead of waking the loop
 *   thread, which then wakes the caller. The loop's own thread yields the
 *   role when a caller asks and parks on the ticking timerfd; a caller that
 *   leaves (weft_loop_undrive) just frees the role, so a caller making
 *   calls back to back keeps the loop to itself, and the parked thread
 *   takes a role left free for LINGER_NS, so events nobody waits for are
 *   still handled. Posts to a loop nobody holds kick the parked thread.
 *
 * Nothing on a call's path arms or disarms the timer: that costs ~5 us per
 * syscall on virtual machines, as much as the rest of a round trip.
 *
 * Role changes go through l->mu, so what one holder wrote is visible to the
 * next. Loop-owned state is only touched by the holder, whichever thread
 * that is. */
#include <errno.h>
#include <stdlib.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "loop_internal.h"
#include "weft/error.h"
#include "weft/transport.h"

#define TICK_NS 500000     /* the parked thread looks this often */
#define TAKEOVER_NS 500000 /* deferred work keeps the loop about this long */
#define LINGER_NS 1000000  /* a client loop nobody drives waits this */
#define IDLE_TICKS 200     /* ticks without activity before the tick stops */

/* The loop whose weft_loop_start() made the calling thread, if any. */
static _Thread_local const weft_loop *tl_member;
/* The loop the calling thread drives as a caller, if any. */
static _Thread_local weft_loop *tl_drive;

/* Arms (ns > 0; interval_ns > 0 repeats) or disarms (0) the timerfd. */
static void arm(weft_loop *l, int64_t ns, int64_t interval_ns) {
  struct itimerspec its = {{interval_ns / 1000000000, interval_ns % 1000000000},
                           {ns / 1000000000, ns % 1000000000}};
  timerfd_settime(l->tfd, 0, &its, NULL);
}

static int64_t now_ns(void) {
  return weft_now_ns();
}

/* Makes sure the timer ticks (mu held). */
static void tick(weft_loop *l) {
  l->activity++;
  if (!l->ticking && l->tfd >= 0) {
    l->ticking = true;
    l->idle_ticks = 0;
    arm(l, TICK_NS, TICK_NS);
  }
}

void weft__loop_kick(weft_loop *l) {
  if (l->tfd < 0)
    return;
  pthread_mutex_lock(&l->mu);
  l->kicked = true;
  l->ticking = false; /* the one-shot below replaces the tick */
  pthread_mutex_unlock(&l->mu);
  arm(l, 1, 0);
}

static void hold(weft_loop *l, int who) {
  atomic_store(&l->holder, who);
}

/* Hands deferred work not started yet back to its owner (mu not held). */
static void reroute(weft__deferred *d, size_t n) {
  for (size_t i = 0; i < n; i++)
    d[i].reroute(d[i].ud);
}

/* Takes the deferred work not started yet out of the queue (mu held). */
static size_t take_deferred(weft_loop *l, weft__deferred *out) {
  size_t n = l->dq_n - l->dq_pos;
  for (size_t i = 0; i < n; i++)
    out[i] = l->dq[l->dq_pos + i];
  l->dq_pos = l->dq_n = 0;
  return n;
}

/* Runs the deferred work after a round, the role AWAY. Returns true when
 * this thread still holds the loop afterwards. */
static bool run_deferred(weft_loop *l, const weft_loop *outer) {
  pthread_mutex_lock(&l->mu);
  hold(l, WEFT__HOLD_AWAY);
  l->since = now_ns();
  tick(l);
  pthread_mutex_unlock(&l->mu);
  weft__tl_loop = outer;
  for (;;) {
    pthread_mutex_lock(&l->mu);
    if (atomic_load(&l->holder) != WEFT__HOLD_AWAY || l->dq_pos == l->dq_n) {
      pthread_mutex_unlock(&l->mu);
      break;
    }
    weft__deferred d = l->dq[l->dq_pos++];
    pthread_mutex_unlock(&l->mu);
    d.fn(d.ud);
  }
  pthread_mutex_lock(&l->mu);
  bool kept = atomic_load(&l->holder) == WEFT__HOLD_AWAY;
  if (kept) {
    hold(l, WEFT__HOLD_LOOP);
    l->dq_pos = l->dq_n = 0;
  }
  pthread_mutex_unlock(&l->mu);
  if (kept)
    weft__tl_loop = l;
  return kept;
}

/* Runs rounds while this thread holds the role. Returns 1 when it gave the
 * role up (after running deferred work, or to a caller), 0 or a negative
 * error when the loop stopped. */
static int rounds(weft_loop *l) {
  const weft_loop *outer = weft__tl_loop;
  weft__tl_loop = l;
  int rv = 0;
  while (!atomic_load(&l->stop) && !atomic_load(&l->halt)) {
    if ((rv = weft__loop_round(l, INT64_MAX)) < 0)
      break;
    if (l->dq_n > 0 && !run_deferred(l, outer))
      return 1;
    if (atomic_load(&l->wanted)) {
      pthread_mutex_lock(&l->mu);
      if (l->want > 0) {
        hold(l, WEFT__HOLD_NONE);
        l->since = now_ns();
        tick(l); /* the caller will leave; then this thread looks again */
        pthread_cond_broadcast(&l->role_cv);
        pthread_mutex_unlock(&l->mu);
        weft__tl_loop = outer;
        return 1;
      }
      pthread_mutex_unlock(&l->mu);
    }
  }
  weft__loop_drain(l);
  /* Deferred work owns calls: their owner runs them elsewhere. */
  pthread_mutex_lock(&l->mu);
  weft__deferred left[WEFT__LOOP_MAX_DEFER];
  size_t n = take_deferred(l, left);
  hold(l, WEFT__HOLD_NONE);
  pthread_mutex_unlock(&l->mu);
  weft__tl_loop = outer;
  reroute(left, n);
  atomic_store(&l->stop, false);
  atomic_store(&l->running, false);
  return rv;
}

/* Parks a loop thread until it may take the role (true) or the loop halts
 * (false). It takes it from deferred work AWAY for longer than
 * TAKEOVER_NS, and a role nobody holds once no caller is about to take it
 * and (on client loops) it has been free for LINGER_NS or a post kicked us.
 * When halting, a role nobody holds is still taken: its holder drains the
 * posts. */
static bool take_role(weft_loop *l) {
  weft__deferred left[WEFT__LOOP_MAX_DEFER];
  size_t n = 0;
  bool got = false;
  pthread_mutex_lock(&l->mu);
  l->parked++;
  for (;;) {
    int h = atomic_load(&l->holder);
    int64_t now = now_ns();
    if (atomic_load(&l->halt)) {
      got = h == WEFT__HOLD_NONE;
      break;
    }
    if (h == WEFT__HOLD_AWAY && now - l->since >= TAKEOVER_NS) {
      n = take_deferred(l, left);
      got = true;
      break;
    }
    if (h == WEFT__HOLD_NONE && l->want == 0 &&
        (l->kicked || !l->drivable || now - l->since >= LINGER_NS)) {
      got = true;
      break;
    }
    /* Stop ticking once nothing happens; a holder going AWAY, a caller
     * leaving, or a kick starts it again. */
    if (l->ticking) {
      if (l->activity == l->seen && h != WEFT__HOLD_AWAY &&
          h != WEFT__HOLD_NONE) {
        if (++l->idle_ticks >= IDLE_TICKS) {
          l->ticking = false;
          arm(l, 0, 0);
        }
      } else {
        l->idle_ticks = 0;
      }
      l->seen = l->activity;
    }
    pthread_mutex_unlock(&l->mu);
    uint64_t expirations;
    ssize_t r = read(l->tfd, &expirations, sizeof expirations);
    pthread_mutex_lock(&l->mu);
    if (r < 0 && errno != EINTR && errno != EAGAIN)
      break; /* cannot happen with a valid timerfd; do not spin */
  }
  if (got) {
    hold(l, WEFT__HOLD_LOOP);
    l->kicked = false;
    if (l->ticking && !atomic_load(&l->halt)) {
      /* We hold the loop: nobody needs the tick until it changes hands. */
      l->ticking = false;
      arm(l, 0, 0);
    }
  }
  l->parked--;
  pthread_mutex_unlock(&l->mu);
  reroute(left, n);
  return got;
}

/* A thread of the loop: holds the role or waits for it, until halt. */
static int serve(weft_loop *l, bool holding) {
  int rv = 0;
  for (;;) {
    if (!holding && !take_role(l))
      return rv;
    if (!holding)
      atomic_store(&l->running, true);
    rv = rounds(l);
    if (rv != 1)
      return rv; /* stopped (or epoll failed) while holding the role */
    holding = false;
  }
}

int weft_loop_run(weft_loop *l) {
  if (atomic_exchange(&l->running, true))
    return WEFT_ERR_STATE;
  if (tl_member != l) /* a thread of the caller's own, after a stop */
    atomic_store(&l->halt, false);
  pthread_mutex_lock(&l->mu);
  hold(l, WEFT__HOLD_LOOP);
  pthread_mutex_unlock(&l->mu);
  return serve(l, true);
}

static void *loop_thread(void *arg) {
  tl_member = arg;
  weft_loop_run(arg);
  return NULL;
}

static void *parked_thread(void *arg) {
  tl_member = arg;
  serve(arg, false);
  return NULL;
}

static int make_timer(weft_loop *l) {
  if (l->tfd < 0)
    l->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
  return l->tfd < 0 ? WEFT_ERR_IO : 0;
}

int weft_loop_set_standby(weft_loop *l, unsigned n) {
  if (!l || n > WEFT__LOOP_MAX_STANDBY)
    return WEFT_ERR_INVAL;
  pthread_mutex_lock(&l->mu);
  int rv = l->nthreads > 0 ? WEFT_ERR_STATE : 0;
  if (rv == 0 && n > 0)
    rv = make_timer(l);
  if (rv == 0)
    l->nstandby = n;
  pthread_mutex_unlock(&l->mu);
  return rv;
}

int weft_loop_set_drivable(weft_loop *l) {
  if (!l)
    return WEFT_ERR_INVAL;
  pthread_mutex_lock(&l->mu);
  int rv = l->nthreads > 0 ? WEFT_ERR_STATE : make_timer(l);
  if (rv == 0)
    l->drivable = true;
  pthread_mutex_unlock(&l->mu);
  return rv;
}

int weft_loop_defer(weft_loop *l, weft_post_fn fn, weft_post_fn reroute_fn,
                    void *ud) {
  if (!l || !fn || !reroute_fn || weft__tl_loop != l)
    return WEFT_ERR_INVAL;
  pthread_mutex_lock(&l->mu);
  bool ok = l->parked > 0 && !atomic_load(&l->halt) &&
            atomic_load(&l->holder) == WEFT__HOLD_LOOP &&
            l->dq_n < WEFT__LOOP_MAX_DEFER;
  if (ok)
    l->dq[l->dq_n++] = (weft__deferred){fn, reroute_fn, ud};
  pthread_mutex_unlock(&l->mu);
  return ok ? 0 : WEFT_ERR_STATE;
}

/* ---- callers driving a client loop ---- */

int weft_loop_drive(weft_loop *l, int64_t deadline_ns) {
  if (!l)
    return WEFT_ERR_INVAL;
  if (tl_drive != l) {
    /* Never nested: not from inside a loop callback, not while driving
     * another loop. */
    if (weft__tl_loop || tl_drive)
      return 0;
    pthread_mutex_lock(&l->mu);
    if (!l->drivable || l->nthreads == 0 || atomic_load(&l->halt)) {
      pthread_mutex_unlock(&l->mu);
      return 0;
    }
    if (atomic_load(&l->holder) == WEFT__HOLD_LOOP) {
      /* Ask the loop thread to yield; our request is on its way already,
       * so this wait runs beside the peer's work. */
      l->want++;
      atomic_store(&l->wanted, true);
      pthread_mutex_unlock(&l->mu);
      weft__loop_wake(l);
      pthread_mutex_lock(&l->mu);
      while (atomic_load(&l->holder) == WEFT__HOLD_LOOP &&
             !atomic_load(&l->halt)) {
        if (deadline_ns == INT64_MAX) {
          pthread_cond_wait(&l->role_cv, &l->mu);
        } else {
          struct timespec ts = {.tv_sec = deadline_ns / 1000000000,
                                .tv_nsec = deadline_ns % 1000000000};
          if (pthread_cond_timedwait(&l->role_cv, &l->mu, &ts) == ETIMEDOUT)
            break;
        }
      }
      if (--l->want == 0)
        atomic_store(&l->wanted, false);
    }
    if (atomic_load(&l->holder) != WEFT__HOLD_NONE || atomic_load(&l->halt)) {
      /* Another caller drives it, it stops, or our deadline passed before
       * the loop thread yielded (it then yields to nobody, and its tick
       * takes the loop back after LINGER_NS): wait by other means. */
      pthread_mutex_unlock(&l->mu);
      return 0;
    }
    hold(l, WEFT__HOLD_CALLER);
    l->kicked = false;
    l->activity++;
    pthread_mutex_unlock(&l->mu);
    tl_drive = l;
    /* The last holder may have delivered what we wait for after we looked:
     * look again before waiting in a round. */
    return 1;
  }
  const weft_loop *outer = weft__tl_loop;
  weft__tl_loop = l;
  int rv = weft__loop_round(l, deadline_ns);
  weft__tl_loop = outer;
  return rv < 0 ? rv : 1;
}

void weft_loop_undrive(weft_loop *l, bool others_waiting) {
  if (!l || tl_drive != l)
    return;
  tl_drive = NULL;
  if (atomic_load(&l->halt)) { /* its threads may be gone: drain here */
    const weft_loop *outer = weft__tl_loop;
    weft__tl_loop = l;
    weft__loop_drain(l);
    weft__tl_loop = outer;
  }
  pthread_mutex_lock(&l->mu);
  hold(l, WEFT__HOLD_NONE);
  l->since = now_ns();
  bool soon = others_waiting || l->post_head || l->want > 0;
  bool halting = atomic_load(&l->halt);
  if (!halting && !soon)
    tick(l);
  pthread_mutex_unlock(&l->mu);
  if (!halting && soon)
    weft__loop_kick(l);
}

/* ---- starting and stopping ---- */

int weft_loop_start(weft_loop *l) {
  pthread_mutex_lock(&l->mu);
  if (l->nthreads > 0) {
    pthread_mutex_unlock(&l->mu);
    return WEFT_ERR_STATE;
  }
  atomic_store(&l->halt, false);
  /* The new thread holds the loop from now on, before it even runs: a
   * standby or a caller looking now must not find the role free. */
  hold(l, WEFT__HOLD_LOOP);
  int e = pthread_create(&l->threads[0], NULL, loop_thread, l);
  if (e == 0)
    l->nthreads = 1;
  else
    hold(l, WEFT__HOLD_NONE);
  /* A standby that cannot be made only means no hand-off. */
  for (unsigned i = 0; e == 0 && i < l->nstandby; i++)
    if (pthread_create(&l->threads[l->nthreads], NULL, parked_thread, l) == 0)
      l->nthreads++;
  pthread_mutex_unlock(&l->mu);
  return e == 0 ? 0 : WEFT_ERR_NOMEM;
}

void weft_loop_stop(weft_loop *l) {
  if (!l)
    return;
  pthread_mutex_lock(&l->mu);
  /* One of the loop's own threads cannot join itself (or, while it runs
   * deferred work, the others: they may wait for it); weft_loop_free does. */
  bool joinable = l->nthreads > 0 && tl_member != l;
  pthread_t ts[1 + WEFT__LOOP_MAX_STANDBY];
  unsigned n = joinable ? l->nthreads : 0;
  for (unsigned i = 0; i < n; i++)
    ts[i] = l->threads[i];
  if (joinable)
    l->nthreads = 0;
  /* Sticky: a stop that races ahead of weft_loop_run (another thread about
   * to run the loop) still stops it; run clears the flag when it returns. */
  atomic_store(&l->stop, true);
  if (l->nthreads > 0 || n > 0)
    atomic_store(&l->halt, true);
  pthread_cond_broadcast(&l->role_cv);
  pthread_mutex_unlock(&l->mu);
  weft__loop_wake(l);
  if (l->tfd >= 0)
    arm(l, 1, 1000000); /* every parked thread wakes and sees halt */
  for (unsigned i = 0; i < n; i++)
    pthread_join(ts[i], NULL);
}
