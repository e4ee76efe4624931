/* The epoll event loop (loop.h).
 *
 * Level-triggered epoll over a per-fd table, timers in a binary min-heap
 * keyed by (due time, insertion sequence) so equal deadlines fire in the
 * order they were set, and an eventfd that wakes the loop for posted work and
 * stop requests. Everything except weft_loop_post/stop/in_thread belongs to
 * the loop thread; before the loop runs, the thread that owns the loop may
 * also add fds and timers (transports set up a listener, then start).
 *
 * Who runs the loop, and when ("the role": a server loop's standby, a client
 * loop's callers) is loop_role.c's job; this file is the machinery one
 * round uses: timers, fds, posts and dispatch. */
#include "weft/loop.h"
#include "loop_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "weft/error.h"
#include "weft/transport.h"

struct weft_timer {
  int64_t due_ns;
  int64_t repeat_ns;
  uint64_t seq;
  size_t heap_idx; /* SIZE_MAX while not in the heap */
  weft_timer_fn fn;
  void *ud;
  bool firing;    /* its callback is running right now */
  bool cancelled; /* cancelled from inside its own callback */
};

#define WAKE_TAG UINT64_MAX

static int64_t now_ns(void) {
  return weft_now_ns();
}

/* ---- timer heap ---- */

static bool timer_less(const weft_timer *a, const weft_timer *b) {
  if (a->due_ns != b->due_ns)
    return a->due_ns < b->due_ns;
  return a->seq < b->seq;
}

static void heap_set(weft_loop *l, size_t i, weft_timer *t) {
  l->heap[i] = t;
  t->heap_idx = i;
}

static void heap_up(weft_loop *l, size_t i) {
  weft_timer *t = l->heap[i];
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!timer_less(t, l->heap[p]))
      break;
    heap_set(l, i, l->heap[p]);
    i = p;
  }
  heap_set(l, i, t);
}

static void heap_down(weft_loop *l, size_t i) {
  weft_timer *t = l->heap[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= l->heap_len)
      break;
    if (c + 1 < l->heap_len && timer_less(l->heap[c + 1], l->heap[c]))
      c++;
    if (!timer_less(l->heap[c], t))
      break;
    heap_set(l, i, l->heap[c]);
    i = c;
  }
  heap_set(l, i, t);
}

static int heap_push(weft_loop *l, weft_timer *t) {
  if (l->heap_len == l->heap_cap) {
    size_t cap = l->heap_cap ? l->heap_cap * 2 : 16;
    weft_timer **h = realloc(l->heap, cap * sizeof *h);
    if (!h)
      return WEFT_ERR_NOMEM;
    l->heap = h;
    l->heap_cap = cap;
  }
  t->seq = l->timer_seq++;
  heap_set(l, l->heap_len++, t);
  heap_up(l, t->heap_idx);
  return 0;
}

static void heap_remove(weft_loop *l, weft_timer *t) {
  size_t i = t->heap_idx;
  if (i == SIZE_MAX)
    return;
  t->heap_idx = SIZE_MAX;
  l->heap_len--;
  if (i == l->heap_len)
    return;
  heap_set(l, i, l->heap[l->heap_len]);
  heap_down(l, i);
  heap_up(l, l->heap[i]->heap_idx);
}

/* ---- construction ---- */

static size_t run_posts(weft_loop *l);

int weft_loop_new(weft_loop **out) {
  weft_loop *l = calloc(1, sizeof *l);
  if (!l)
    return WEFT_ERR_NOMEM;
  l->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (l->epfd < 0)
    goto fail_epoll;
  l->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (l->wakefd < 0)
    goto fail_eventfd;
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = WAKE_TAG};
  if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wakefd, &ev) < 0)
    goto fail_ctl;
  pthread_mutex_init(&l->mu, NULL);
  l->tfd = -1;
  /* Callers wait on it with CLOCK_MONOTONIC deadlines. */
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&l->role_cv, &ca);
  pthread_condattr_destroy(&ca);
  atomic_init(&l->holder, WEFT__HOLD_NONE);
  atomic_init(&l->halt, false);
  atomic_init(&l->wanted, false);
  atomic_init(&l->stop, false);
  atomic_init(&l->running, false);
  *out = l;
  return 0;

fail_ctl:
  close(l->wakefd);
fail_eventfd:
  close(l->epfd);
fail_epoll:
  free(l);
  return WEFT_ERR_IO;
}

void weft_loop_free(weft_loop *l) {
  if (!l)
    return;
  weft_loop_stop(l);
  pthread_mutex_lock(&l->mu);
  unsigned n = l->nthreads;
  l->nthreads = 0;
  pthread_mutex_unlock(&l->mu);
  /* weft_loop_stop from one of the loop's own threads could not join; the
   * others have exited or are about to, unless we *are* one of them. */
  for (unsigned i = 0; i < n; i++) {
    if (pthread_equal(l->threads[i], pthread_self()))
      pthread_detach(l->threads[i]);
    else
      pthread_join(l->threads[i], NULL);
  }
  /* Work posted and not run (the loop never ran, or it came after the
   * stop's drain) runs now, on this thread standing in for the loop's: a
   * posted fn is what releases its ud, so dropping it would leak that or
   * leave someone waiting for it. Posts made by that work run too (the
   * drain is bounded); after it, weft_loop_post refuses, so the last
   * round's own posts fail at the poster, who still owns their ud. */
  const weft_loop *outer = weft__tl_loop;
  weft__tl_loop = l;
  weft__loop_drain(l);
  pthread_mutex_lock(&l->mu);
  l->closed = true;
  pthread_mutex_unlock(&l->mu);
  run_posts(l);
  weft__tl_loop = outer;
  for (size_t i = 0; i < l->heap_len; i++)
    free(l->heap[i]);
  free(l->heap);
  free(l->fds);
  close(l->wakefd);
  close(l->epfd);
  if (l->tfd >= 0)
    close(l->tfd);
  pthread_cond_destroy(&l->role_cv);
  pthread_mutex_destroy(&l->mu);
  free(l);
}

/* The loop this thread is running, if any: thread-local, so asking needs no
 * shared state (and no lock) from any thread. */
_Thread_local const weft_loop *weft__tl_loop;

bool weft_loop_in_thread(const weft_loop *l) {
  return l && weft__tl_loop == l;
}

weft_loop *weft_loop_current(void) {
  return (weft_loop *)weft__tl_loop;
}

void weft_loop_wake(weft_loop *l) {
  if (l)
    weft__loop_wake(l);
}

void weft__loop_wake(weft_loop *l) {
  uint64_t one = 1;
  ssize_t n;
  do {
    n = write(l->wakefd, &one, sizeof one);
  } while (n < 0 && errno == EINTR);
  /* EAGAIN means the counter is already huge: the loop is awake anyway. */
}

/* ---- fds ---- */

static uint32_t to_epoll(unsigned events) {
  uint32_t e = 0;
  if (events & WEFT_IO_READ)
    e |= EPOLLIN | EPOLLRDHUP;
  if (events & WEFT_IO_WRITE)
    e |= EPOLLOUT;
  return e;
}

int weft_loop_add_fd(weft_loop *l, int fd, unsigned events, weft_io_fn fn,
                     void *ud) {
  if (fd < 0 || !fn)
    return WEFT_ERR_INVAL;
  if ((size_t)fd >= l->nfds) {
    size_t n = l->nfds ? l->nfds : 64;
    while (n <= (size_t)fd)
      n *= 2;
    weft__loop_fd *t = realloc(l->fds, n * sizeof *t);
    if (!t)
      return WEFT_ERR_NOMEM;
    memset(t + l->nfds, 0, (n - l->nfds) * sizeof *t);
    l->fds = t;
    l->nfds = n;
  }
  weft__loop_fd *e = &l->fds[fd];
  if (e->used)
    return WEFT_ERR_STATE;
  struct epoll_event ev = {.events = to_epoll(events),
                           .data.u64 = ((uint64_t)e->gen << 32) | (uint32_t)fd};
  if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
    return errno == ENOMEM ? WEFT_ERR_NOMEM : WEFT_ERR_IO;
  e->fn = fn;
  e->ud = ud;
  e->events = events;
  e->used = true;
  return 0;
}

int weft_loop_mod_fd(weft_loop *l, int fd, unsigned events) {
  if (fd < 0 || (size_t)fd >= l->nfds || !l->fds[fd].used)
    return WEFT_ERR_INVAL;
  weft__loop_fd *e = &l->fds[fd];
  if (e->events == events)
    return 0;
  struct epoll_event ev = {.events = to_epoll(events),
                           .data.u64 = ((uint64_t)e->gen << 32) | (uint32_t)fd};
  if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
    return WEFT_ERR_IO;
  e->events = events;
  return 0;
}

void weft_loop_del_fd(weft_loop *l, int fd) {
  if (fd < 0 || (size_t)fd >= l->nfds || !l->fds[fd].used)
    return;
  epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
  weft__loop_fd *e = &l->fds[fd];
  e->used = false;
  e->fn = NULL;
  e->ud = NULL;
  e->gen++;
}

/* ---- timers ---- */

weft_timer *weft_loop_timer(weft_loop *l, int64_t after_ms, int64_t repeat_ms,
                            weft_timer_fn fn, void *ud) {
  if (!fn)
    return NULL;
  weft_timer *t = calloc(1, sizeof *t);
  if (!t)
    return NULL;
  /* Delays are clamped so that due and repeat times in ns cannot
   * overflow: 2^42 ms is over a century. */
  const int64_t max_ms = INT64_C(1) << 42;
  if (after_ms < 0)
    after_ms = 0;
  if (after_ms > max_ms)
    after_ms = max_ms;
  if (repeat_ms > max_ms)
    repeat_ms = max_ms;
  t->due_ns = now_ns() + after_ms * 1000000;
  t->repeat_ns = repeat_ms > 0 ? repeat_ms * 1000000 : 0;
  t->fn = fn;
  t->ud = ud;
  t->heap_idx = SIZE_MAX;
  if (heap_push(l, t) < 0) {
    free(t);
    return NULL;
  }
  return t;
}

void weft_timer_cancel(weft_loop *l, weft_timer *t) {
  if (!t)
    return;
  if (t->firing) {
    /* Inside its own callback: run_timers frees it when the callback ends. */
    t->cancelled = true;
    return;
  }
  heap_remove(l, t);
  free(t);
}

/* Fires due timers; returns the epoll timeout (ms) until the next one. */
static int run_timers(weft_loop *l) {
  int64_t now = now_ns();
  /* Bound the batch so a 0 ms repeating timer cannot starve I/O. */
  size_t budget = l->heap_len + 1;
  while (l->heap_len > 0 && budget-- > 0 && !atomic_load(&l->stop)) {
    weft_timer *t = l->heap[0];
    if (t->due_ns > now)
      break;
    heap_remove(l, t);
    l->fired++;
    t->firing = true;
    t->fn(l, t, t->ud);
    t->firing = false;
    if (t->repeat_ns > 0 && !t->cancelled) {
      /* Next slot after now, not after due: a stalled loop does not make a
       * repeating timer fire a burst of catch-up calls. */
      t->due_ns += t->repeat_ns;
      if (t->due_ns <= now)
        t->due_ns = now + t->repeat_ns;
      /* Out of memory for the heap: the timer stops firing but stays
       * allocated, since its owner still holds it and may cancel it. */
      (void)heap_push(l, t);
    } else {
      free(t);
    }
    now = now_ns();
  }
  if (l->heap_len == 0)
    return -1;
  int64_t wait = l->heap[0]->due_ns - now;
  if (wait <= 0)
    return 0;
  wait = (wait + 999999) / 1000000; /* round up: never wake early */
  return wait > 60000 ? 60000 : (int)wait;
}

/* ---- posting ---- */

int weft_loop_post(weft_loop *l, weft_post_fn fn, void *ud) {
  if (!l || !fn)
    return WEFT_ERR_INVAL;
  weft__post_item *p = malloc(sizeof *p);
  if (!p)
    return WEFT_ERR_NOMEM;
  p->next = NULL;
  p->fn = fn;
  p->ud = ud;
  pthread_mutex_lock(&l->mu);
  if (l->closed) { /* weft_loop_free ran the last posts */
    pthread_mutex_unlock(&l->mu);
    free(p);
    return WEFT_ERR_STATE;
  }
  bool was_empty = l->post_head == NULL;
  if (l->post_tail)
    l->post_tail->next = p;
  else
    l->post_head = p;
  l->post_tail = p;
  /* A client loop nobody runs (its caller left, its thread is parked)
   * must still run this soon. */
  bool idle = l->drivable && atomic_load(&l->holder) == WEFT__HOLD_NONE;
  pthread_mutex_unlock(&l->mu);
  if (was_empty)
    weft__loop_wake(l);
  if (idle)
    weft__loop_kick(l);
  return 0;
}

/* Runs what was posted before this call; later posts wait for the next
 * round, so a callback that re-posts itself cannot starve I/O. */
static size_t run_posts(weft_loop *l) {
  pthread_mutex_lock(&l->mu);
  weft__post_item *p = l->post_head;
  l->post_head = l->post_tail = NULL;
  pthread_mutex_unlock(&l->mu);
  size_t n = 0;
  while (p) {
    weft__post_item *next = p->next;
    p->fn(p->ud);
    free(p);
    p = next;
    n++;
  }
  return n;
}

static bool posts_pending(weft_loop *l) {
  pthread_mutex_lock(&l->mu);
  bool r = l->post_head != NULL;
  pthread_mutex_unlock(&l->mu);
  return r;
}

/* ---- running ---- */

static void dispatch(weft_loop *l, const struct epoll_event *ev) {
  if (ev->data.u64 == WAKE_TAG) {
    uint64_t v;
    while (read(l->wakefd, &v, sizeof v) > 0) {
    }
    return;
  }
  uint32_t fd = (uint32_t)ev->data.u64;
  uint32_t gen = (uint32_t)(ev->data.u64 >> 32);
  if (fd >= l->nfds || !l->fds[fd].used || l->fds[fd].gen != gen)
    return; /* deleted (and maybe re-added) earlier in this batch */
  unsigned e = 0;
  if (ev->events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP))
    e |= WEFT_IO_READ; /* a hang-up reads as EOF */
  if (ev->events & EPOLLOUT)
    e |= WEFT_IO_WRITE;
  if (ev->events & (EPOLLERR | EPOLLHUP))
    e |= WEFT_IO_ERROR;
  weft__loop_fd *f = &l->fds[fd];
  f->fn(l, (int)fd, e, f->ud);
}

/* One round: due timers, one epoll_wait (no longer than deadline_ns, an
 * absolute CLOCK_MONOTONIC time or INT64_MAX), the events, then the posts
 * made before it. */
int weft__loop_round(weft_loop *l, int64_t deadline_ns) {
  uint64_t fired = l->fired;
  int timeout = run_timers(l);
  if (atomic_load(&l->stop))
    return 0;
  /* A timer that fired may have changed what a driving caller waits for
   * (a keepalive closing the connection): do not block before it looks. */
  if (posts_pending(l) || l->fired != fired)
    timeout = 0;
  if (deadline_ns != INT64_MAX && timeout != 0) {
    int64_t left = deadline_ns - now_ns();
    int ms = left <= 0            ? 0
             : left > 60000000000 ? 60000
                                  : (int)((left + 999999) / 1000000);
    if (timeout < 0 || ms < timeout)
      timeout = ms;
  }
  struct epoll_event evs[64];
  int n = epoll_wait(l->epfd, evs, 64, timeout);
  if (n < 0)
    return errno == EINTR ? 0 : WEFT_ERR_IO;
  for (int i = 0; i < n && !atomic_load(&l->stop); i++)
    dispatch(l, &evs[i]);
  run_posts(l);
  return 0;
}

/* Work posted before a stop still runs (it may own memory that only its
 * callback frees); bounded so a self-re-posting callback cannot hang us. */
void weft__loop_drain(weft_loop *l) {
  for (int round = 0; round < 1000 && run_posts(l) > 0; round++) {
  }
}
