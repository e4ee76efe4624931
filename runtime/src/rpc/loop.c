/* The epoll event loop (loop.h).
 *
 * Level-triggered epoll over a per-fd table, timers in a binary min-heap
 * keyed by (due time, insertion sequence) so equal deadlines fire in the
 * order they were set, and an eventfd that wakes the loop for posted work and
 * stop requests. Everything except weft_loop_post/stop/in_thread belongs to
 * the loop thread; before the loop runs, the thread that owns the loop may
 * also add fds and timers (transports set up a listener, then start).
 *
 * With a standby thread (weft_loop_set_standby) "the loop thread" is a
 * role, not a fixed thread. The holder runs deferred work (weft_loop_defer)
 * itself after its round, with the role left "away" and a timerfd armed;
 * the parked standby sleeps in read() on that timerfd. Quick work ends before
 * the timer, the holder disarms it and goes on: no thread was woken at all.
 * Work that runs longer lets the timer wake the standby, which takes the role
 * and runs the loop; the old holder parks when its work ends. Role changes go
 * through l->mu, so everything one holder wrote is visible to the next. */
#include "weft/loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "weft/error.h"
#include "weft/transport.h"

#define MAX_STANDBY 1
/* How long deferred work may keep the loop before the standby takes it:
 * the most a blocking handler delays other connections' events. */
#define TAKEOVER_NS 250000

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

typedef struct loop_fd {
  weft_io_fn fn;
  void *ud;
  unsigned events;
  uint32_t gen; /* bumped on del, so stale events in a batch are dropped */
  bool used;
} loop_fd;

typedef struct post_item {
  struct post_item *next;
  weft_post_fn fn;
  void *ud;
} post_item;

struct weft_loop {
  int epfd;
  int wakefd;
  loop_fd *fds;
  size_t nfds;

  weft_timer **heap;
  size_t heap_len, heap_cap;
  uint64_t timer_seq;

  pthread_mutex_t mu; /* guards the post queue and the thread fields */
  post_item *post_head, *post_tail;
  atomic_bool stop;
  atomic_bool running;
  pthread_t threads[1 + MAX_STANDBY]; /* made by weft_loop_start */
  unsigned nthreads;

  /* Hand-off (loop.h), guarded by mu. */
  int tfd;           /* timerfd the parked standby sleeps on, or -1 */
  unsigned nstandby; /* configured */
  unsigned parked;   /* threads waiting for the role */
  bool away; /* the holder runs deferred work; the role is up for grabs */
  bool halt; /* stopping: parked threads exit */
  /* Loop thread only: work kept for after this round. */
  weft_post_fn deferred_fn;
  void *deferred_ud;
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

/* The loop whose weft_loop_start() made the calling thread, if any. */
static _Thread_local const weft_loop *tl_member;

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
  for (size_t i = 0; i < l->heap_len; i++)
    free(l->heap[i]);
  free(l->heap);
  for (post_item *p = l->post_head, *n; p; p = n) {
    n = p->next;
    free(p);
  }
  free(l->fds);
  close(l->wakefd);
  close(l->epfd);
  if (l->tfd >= 0)
    close(l->tfd);
  pthread_mutex_destroy(&l->mu);
  free(l);
}

/* The loop this thread is running, if any: thread-local, so asking needs no
 * shared state (and no lock) from any thread. */
static _Thread_local const weft_loop *tl_loop;

bool weft_loop_in_thread(const weft_loop *l) {
  return l && tl_loop == l;
}

weft_loop *weft_loop_current(void) {
  return (weft_loop *)tl_loop;
}

static void wake(weft_loop *l) {
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
    loop_fd *t = realloc(l->fds, n * sizeof *t);
    if (!t)
      return WEFT_ERR_NOMEM;
    memset(t + l->nfds, 0, (n - l->nfds) * sizeof *t);
    l->fds = t;
    l->nfds = n;
  }
  loop_fd *e = &l->fds[fd];
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
  loop_fd *e = &l->fds[fd];
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
  loop_fd *e = &l->fds[fd];
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
  if (after_ms < 0)
    after_ms = 0;
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
    t->firing = true;
    t->fn(l, t, t->ud);
    t->firing = false;
    if (t->repeat_ns > 0 && !t->cancelled) {
      /* Next slot after now, not after due: a stalled loop does not make a
       * repeating timer fire a burst of catch-up calls. */
      t->due_ns += t->repeat_ns;
      if (t->due_ns <= now)
        t->due_ns = now + t->repeat_ns;
      if (heap_push(l, t) < 0)
        free(t);
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
  post_item *p = malloc(sizeof *p);
  if (!p)
    return WEFT_ERR_NOMEM;
  p->next = NULL;
  p->fn = fn;
  p->ud = ud;
  pthread_mutex_lock(&l->mu);
  bool was_empty = l->post_head == NULL;
  if (l->post_tail)
    l->post_tail->next = p;
  else
    l->post_head = p;
  l->post_tail = p;
  pthread_mutex_unlock(&l->mu);
  if (was_empty)
    wake(l);
  return 0;
}

/* Runs what was posted before this call; later posts wait for the next
 * round, so a callback that re-posts itself cannot starve I/O. */
static size_t run_posts(weft_loop *l) {
  pthread_mutex_lock(&l->mu);
  post_item *p = l->post_head;
  l->post_head = l->post_tail = NULL;
  pthread_mutex_unlock(&l->mu);
  size_t n = 0;
  while (p) {
    post_item *next = p->next;
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
  loop_fd *f = &l->fds[fd];
  f->fn(l, (int)fd, e, f->ud);
}

static void arm(weft_loop *l, int64_t ns);

/* Runs rounds while this thread holds the loop role. Returns 1 when it
 * gave the role away to run deferred work (which it has run by then), 0 or a
 * negative error when the loop stopped. */
static int rounds(weft_loop *l) {
  const weft_loop *outer = tl_loop;
  tl_loop = l;
  struct epoll_event evs[64];
  int rv = 0;
  while (!atomic_load(&l->stop)) {
    int timeout = run_timers(l);
    if (atomic_load(&l->stop))
      break;
    if (posts_pending(l))
      timeout = 0;
    int n = epoll_wait(l->epfd, evs, 64, timeout);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      rv = WEFT_ERR_IO;
      break;
    }
    for (int i = 0; i < n && !atomic_load(&l->stop); i++)
      dispatch(l, &evs[i]);
    run_posts(l);
    if (l->deferred_fn) {
      weft_post_fn fn = l->deferred_fn;
      void *ud = l->deferred_ud;
      l->deferred_fn = NULL;
      pthread_mutex_lock(&l->mu);
      l->away = true;
      pthread_mutex_unlock(&l->mu);
      arm(l, TAKEOVER_NS);
      tl_loop = outer;
      fn(ud);
      pthread_mutex_lock(&l->mu);
      bool kept = l->away; /* the standby did not take the role */
      l->away = false;
      pthread_mutex_unlock(&l->mu);
      if (!kept)
        return 1;
      arm(l, 0);
      tl_loop = l;
    }
  }
  /* Work posted before the stop still runs (it may own memory that only its
   * callback frees); bounded so a self-re-posting callback cannot hang us. */
  for (int round = 0; round < 1000 && run_posts(l) > 0; round++) {
  }
  /* Deferred work owns a call: it runs too, here, since no one else will. */
  if (l->deferred_fn) {
    weft_post_fn fn = l->deferred_fn;
    l->deferred_fn = NULL;
    tl_loop = outer;
    fn(l->deferred_ud);
  }
  atomic_store(&l->stop, false);
  tl_loop = outer;
  atomic_store(&l->running, false);
  return rv;
}

/* Parks until deferred work outlives the takeover timer (true: this thread
 * holds the role now) or the loop halts (false; a holder that is away takes
 * its role back and drains the posts). */
static bool take_role(weft_loop *l) {
  pthread_mutex_lock(&l->mu);
  l->parked++;
  for (;;) {
    if (l->halt)
      break;
    pthread_mutex_unlock(&l->mu);
    uint64_t expirations;
    ssize_t n = read(l->tfd, &expirations, sizeof expirations);
    pthread_mutex_lock(&l->mu);
    if (n < 0 && errno != EINTR && errno != EAGAIN) {
      l->parked--;
      pthread_mutex_unlock(&l->mu);
      return false; /* cannot happen with a valid timerfd; do not spin */
    }
    if (l->away && !l->halt) {
      l->away = false;
      l->parked--;
      pthread_mutex_unlock(&l->mu);
      return true;
    }
    /* Fired after the holder came back in time: park again. */
  }
  l->parked--;
  pthread_mutex_unlock(&l->mu);
  return false;
}

/* A thread of the loop: holds the role or waits for it, until halt. */
static int serve(weft_loop *l, bool holding) {
  int rv = 0;
  for (;;) {
    if (!holding && !take_role(l))
      return rv;
    rv = rounds(l);
    if (rv != 1)
      return rv; /* stopped (or epoll failed) while holding the role */
    holding = false;
  }
}

int weft_loop_run(weft_loop *l) {
  if (atomic_exchange(&l->running, true))
    return WEFT_ERR_STATE;
  return serve(l, true);
}

static void *loop_thread(void *arg) {
  tl_member = arg;
  weft_loop_run(arg);
  return NULL;
}

static void *standby_thread(void *arg) {
  tl_member = arg;
  serve(arg, false);
  return NULL;
}

/* Arms (ns > 0) or disarms (0) the takeover timer. */
static void arm(weft_loop *l, int64_t ns) {
  struct itimerspec its = {{0, 0}, {ns / 1000000000, ns % 1000000000}};
  timerfd_settime(l->tfd, 0, &its, NULL);
}

int weft_loop_set_standby(weft_loop *l, unsigned n) {
  if (!l || n > MAX_STANDBY)
    return WEFT_ERR_INVAL;
  pthread_mutex_lock(&l->mu);
  bool started = l->nthreads > 0;
  int rv = started ? WEFT_ERR_STATE : 0;
  if (rv == 0 && n > 0 && l->tfd < 0) {
    l->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    if (l->tfd < 0)
      rv = WEFT_ERR_IO;
  }
  if (rv == 0)
    l->nstandby = n;
  pthread_mutex_unlock(&l->mu);
  return rv;
}

int weft_loop_defer(weft_loop *l, weft_post_fn fn, void *ud) {
  if (!l || !fn || tl_loop != l)
    return WEFT_ERR_INVAL;
  if (l->deferred_fn)
    return WEFT_ERR_STATE;
  pthread_mutex_lock(&l->mu);
  bool ok = l->parked > 0 && !l->halt && !l->away;
  pthread_mutex_unlock(&l->mu);
  if (!ok)
    return WEFT_ERR_STATE;
  l->deferred_fn = fn;
  l->deferred_ud = ud;
  return 0;
}

int weft_loop_start(weft_loop *l) {
  pthread_mutex_lock(&l->mu);
  if (l->nthreads > 0) {
    pthread_mutex_unlock(&l->mu);
    return WEFT_ERR_STATE;
  }
  l->halt = false;
  l->away = false;
  int e = pthread_create(&l->threads[0], NULL, loop_thread, l);
  if (e == 0)
    l->nthreads = 1;
  /* A standby that cannot be made only means less hand-off. */
  for (unsigned i = 0; e == 0 && i < l->nstandby; i++)
    if (pthread_create(&l->threads[l->nthreads], NULL, standby_thread, l) == 0)
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
  pthread_t ts[1 + MAX_STANDBY];
  unsigned n = joinable ? l->nthreads : 0;
  for (unsigned i = 0; i < n; i++)
    ts[i] = l->threads[i];
  if (joinable)
    l->nthreads = 0;
  /* Sticky: a stop that races ahead of weft_loop_run (another thread about
   * to run the loop) still stops it; run clears the flag when it returns. */
  atomic_store(&l->stop, true);
  l->halt = true;
  if (l->tfd >= 0)
    arm(l, 1); /* wakes the parked standby, which sees halt */
  pthread_mutex_unlock(&l->mu);
  wake(l);
  for (unsigned i = 0; i < n; i++)
    pthread_join(ts[i], NULL);
}
