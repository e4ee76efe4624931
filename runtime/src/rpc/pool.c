/* A bounded worker pool: N threads (or, lazy, up to N made as jobs wait), a
 * FIFO of at most max_queue jobs waiting for a free worker. Submitting beyond
 * that fails at once (the server turns it into RESOURCE_EXHAUSTED) instead of
 * letting a backlog grow without bound behind slow handlers. Jobs may name
 * their source (a transport); with a share set, no source's backlog may pass
 * it, so a flood through one transport leaves room in the queue for the others.
 *
 * The pool also runs its owner's timers (weft__pool_set_ticker: the server's
 * call deadlines and weft_server_call_after), without a thread of their own:
 * one idle worker at a time, the keeper, waits on its own condition variable
 * until the next due time and runs the owner's tick; the others wait for jobs.
 * A job is handed to a worker waiting for jobs when there is one, so the
 * keeper keeps waiting; when it takes a job itself, another idle worker (if
 * any) becomes the keeper. Timer callbacks need a worker anyway: with every
 * worker busy, they wait for the first one free, as jobs do.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "rpc_internal.h"

/* Sources tracked for shares; a server has a handful of transports, and a
 * source beyond these goes unbounded by its share (the total bound holds). */
#define POOL_SOURCES 8

typedef struct job {
  struct job *next;
  void (*fn)(void *);
  void *ud;
  int src;     /* index in sources, -1: none */
  bool posted; /* weft__pool_post: not counted against max_queue */
} job;

struct weft__pool {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  job *head, *tail;
  size_t queued, max_queue;
  size_t share; /* per-source backlog bound; 0: none */
  struct {
    const void *id;
    size_t queued;
  } sources[POOL_SOURCES];
  size_t posted; /* of queued, how many came through weft__pool_post */
  unsigned busy;
  bool stopping;
  unsigned nthreads;
  unsigned cap; /* lazy pools: threads are made as jobs wait, up to cap */
  pthread_t *threads;
  /* The owner's timers (weft__pool_set_ticker). */
  int64_t (*tick)(void *ud);
  void *tick_ud;
  int64_t due;        /* when tick wants to run next; INT64_MAX: never */
  bool keeper;        /* an idle worker waits on tcv for due (or ticks) */
  bool ticking;       /* tick is running (set_ticker waits for its end) */
  unsigned sleepers;  /* idle workers waiting on cv for jobs */
  unsigned signals;   /* of them, signalled and not yet awake */
  pthread_cond_t tcv; /* CLOCK_MONOTONIC: the keeper, set_ticker */
};

/* p->mu held: wakes a worker waiting for jobs that no signal is on its
 * way to already; false when there is none. Counting the signals keeps
 * two jobs queued back to back from both going to one sleeper while the
 * keeper, which could take the second, sleeps on. */
static bool wake_sleeper(weft__pool *p) {
  if (p->sleepers <= p->signals)
    return false;
  p->signals++;
  pthread_cond_signal(&p->cv);
  return true;
}

/* p->mu held, a job queued: a worker waiting for jobs takes it, else the
 * keeper (waiting on tcv) must look. */
static void wake_for_job(weft__pool *p) {
  if (!wake_sleeper(p) && p->keeper)
    pthread_cond_broadcast(&p->tcv);
}

/* p->mu held, no job queued: this worker keeps the owner's timers until a
 * job comes or the pool stops. */
static void keep_timers(weft__pool *p) {
  p->keeper = true;
  while (!p->head && !p->stopping && p->tick) {
    if (p->due > weft_now_ns()) {
      weft__cond_wait_until(&p->tcv, &p->mu, p->due);
      continue;
    }
    p->due = INT64_MAX; /* a kick during tick lowers it again */
    p->ticking = true;
    int64_t (*fn)(void *) = p->tick;
    void *ud = p->tick_ud;
    pthread_mutex_unlock(&p->mu);
    int64_t next = fn(ud);
    pthread_mutex_lock(&p->mu);
    p->ticking = false;
    pthread_cond_broadcast(&p->tcv); /* weft__pool_set_ticker may wait */
    if (next < p->due)
      p->due = next;
  }
  p->keeper = false;
  /* Called away by a job: another idle worker keeps the timers. */
  if (p->tick && p->due != INT64_MAX)
    wake_sleeper(p);
}

static void *worker(void *arg) {
  weft__pool *p = arg;
  pthread_mutex_lock(&p->mu);
  for (;;) {
    if (!p->head) {
      if (p->stopping)
        break; /* drained */
      if (p->tick && !p->keeper) {
        keep_timers(p);
        continue;
      }
      p->sleepers++;
      pthread_cond_wait(&p->cv, &p->mu);
      p->sleepers--;
      if (p->signals > 0)
        p->signals--;
      continue;
    }
    job *j = p->head;
    p->head = j->next;
    if (!p->head)
      p->tail = NULL;
    p->queued--;
    if (j->src >= 0)
      p->sources[j->src].queued--;
    if (j->posted)
      p->posted--;
    p->busy++;
    pthread_mutex_unlock(&p->mu);
    j->fn(j->ud);
    free(j);
    pthread_mutex_lock(&p->mu);
    p->busy--;
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

static int pool_make(weft__pool **out, unsigned nthreads, unsigned cap,
                     size_t max_queue) {
  weft__pool *p = calloc(1, sizeof *p);
  if (!p)
    return WEFT_ERR_NOMEM;
  p->cap = cap;
  p->threads = calloc(cap, sizeof *p->threads);
  if (!p->threads) {
    free(p);
    return WEFT_ERR_NOMEM;
  }
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->cv, NULL);
  weft__cond_init(&p->tcv);
  p->due = INT64_MAX;
  p->max_queue = max_queue;
  for (unsigned i = 0; i < nthreads; i++) {
    if (pthread_create(&p->threads[i], NULL, worker, p) != 0)
      break;
    p->nthreads++;
  }
  if (p->nthreads < nthreads && p->nthreads == 0) {
    weft__pool_free(p);
    return WEFT_ERR_NOMEM;
  }
  *out = p;
  return 0;
}

int weft__pool_new(weft__pool **out, unsigned nthreads, size_t max_queue) {
  if (nthreads == 0)
    return WEFT_ERR_INVAL;
  return pool_make(out, nthreads, nthreads, max_queue);
}

int weft__pool_new_lazy(weft__pool **out, unsigned max_threads,
                        size_t max_queue) {
  if (max_threads == 0)
    return WEFT_ERR_INVAL;
  return pool_make(out, 0, max_threads, max_queue);
}

/* p->mu held, a job just queued: a lazy pool adds a worker when the jobs
 * waiting outnumber the idle ones (a failed pthread_create leaves the job
 * to the workers there are; with none, the caller hears WEFT_ERR_NOMEM). */
static int grow(weft__pool *p) {
  if (p->nthreads < p->cap && p->queued > p->nthreads - p->busy &&
      pthread_create(&p->threads[p->nthreads], NULL, worker, p) == 0)
    p->nthreads++;
  return p->nthreads > 0 ? 0 : WEFT_ERR_NOMEM;
}

/* p->mu held: takes back the job just queued at the tail. */
static void unqueue_tail(weft__pool *p, job *j) {
  job **pp = &p->head;
  job *prev = NULL;
  while (*pp != j) {
    prev = *pp;
    pp = &(*pp)->next;
  }
  *pp = NULL;
  p->tail = prev;
  p->queued--;
  if (j->posted)
    p->posted--;
  if (j->src >= 0)
    p->sources[j->src].queued--;
}

/* The slot of source id (claimed on first use), -1 when untracked. Called
 * with p->mu held. */
static int source_slot(weft__pool *p, const void *id) {
  if (!id)
    return -1;
  int free_slot = -1;
  for (int i = 0; i < POOL_SOURCES; i++) {
    if (p->sources[i].id == id)
      return i;
    if (free_slot < 0 && !p->sources[i].id)
      free_slot = i;
  }
  if (free_slot >= 0)
    p->sources[free_slot].id = id;
  return free_slot;
}

int weft__pool_submit_from(weft__pool *p, const void *source,
                           void (*fn)(void *), void *ud) {
  job *j = malloc(sizeof *j);
  if (!j)
    return WEFT_ERR_NOMEM;
  j->next = NULL;
  j->fn = fn;
  j->ud = ud;
  j->posted = false;
  pthread_mutex_lock(&p->mu);
  /* Jobs that an idle worker will pick up at once do not count against the
   * queue bound: only a real backlog does. The runtime's own jobs (a
   * publish fanned out to thousands of streams) do not either. */
  size_t idle = p->nthreads - p->busy;
  size_t calls = p->queued - p->posted;
  size_t backlog = calls >= idle ? calls - idle : 0;
  j->src = source_slot(p, source);
  bool over = backlog >= p->max_queue;
  if (!over && p->share && j->src >= 0) {
    size_t mine = p->sources[j->src].queued;
    over = (mine >= idle ? mine - idle : 0) >= p->share;
  }
  if (p->stopping || over) {
    pthread_mutex_unlock(&p->mu);
    free(j);
    return p->stopping ? WEFT_ERR_STATE : WEFT_ERR_LIMIT;
  }
  if (p->tail)
    p->tail->next = j;
  else
    p->head = j;
  p->tail = j;
  p->queued++;
  if (j->src >= 0)
    p->sources[j->src].queued++;
  if (grow(p) < 0) {
    unqueue_tail(p, j);
    pthread_mutex_unlock(&p->mu);
    free(j);
    return WEFT_ERR_NOMEM;
  }
  wake_for_job(p);
  pthread_mutex_unlock(&p->mu);
  return 0;
}

int weft__pool_submit(weft__pool *p, void (*fn)(void *), void *ud) {
  return weft__pool_submit_from(p, NULL, fn, ud);
}

void weft__pool_set_share(weft__pool *p, size_t share) {
  pthread_mutex_lock(&p->mu);
  p->share = share;
  pthread_mutex_unlock(&p->mu);
}

int weft__pool_post(weft__pool *p, void (*fn)(void *), void *ud) {
  job *j = malloc(sizeof *j);
  if (!j)
    return WEFT_ERR_NOMEM;
  j->next = NULL;
  j->fn = fn;
  j->ud = ud;
  j->posted = true;
  j->src = -1;
  pthread_mutex_lock(&p->mu);
  if (p->stopping) {
    pthread_mutex_unlock(&p->mu);
    free(j);
    return WEFT_ERR_STATE;
  }
  if (p->tail)
    p->tail->next = j;
  else
    p->head = j;
  p->tail = j;
  p->queued++;
  p->posted++;
  if (grow(p) < 0) {
    unqueue_tail(p, j);
    pthread_mutex_unlock(&p->mu);
    free(j);
    return WEFT_ERR_NOMEM;
  }
  wake_for_job(p);
  pthread_mutex_unlock(&p->mu);
  return 0;
}

void weft__pool_set_ticker(weft__pool *p, int64_t (*tick)(void *ud), void *ud) {
  pthread_mutex_lock(&p->mu);
  while (p->ticking) /* the old owner's tick must not outlive it */
    weft__cond_wait_until(&p->tcv, &p->mu, INT64_MAX);
  p->tick = tick;
  p->tick_ud = ud;
  p->due = INT64_MAX;
  /* An idle worker becomes the keeper (or sees there is nothing to keep). */
  pthread_cond_broadcast(&p->tcv);
  if (tick && !p->keeper)
    wake_sleeper(p);
  pthread_mutex_unlock(&p->mu);
}

void weft__pool_kick(weft__pool *p, int64_t due) {
  pthread_mutex_lock(&p->mu);
  if (p->tick && due < p->due) {
    p->due = due;
    if (p->keeper)
      pthread_cond_broadcast(&p->tcv);
    else
      wake_sleeper(p); /* it becomes the keeper */
    /* else every worker is busy: the first one done keeps the timers */
  }
  pthread_mutex_unlock(&p->mu);
}

/* Runs what is queued, then joins every worker. */
void weft__pool_free(weft__pool *p) {
  if (!p)
    return;
  pthread_mutex_lock(&p->mu);
  p->stopping = true;
  pthread_cond_broadcast(&p->cv);
  pthread_cond_broadcast(&p->tcv);
  pthread_mutex_unlock(&p->mu);
  for (unsigned i = 0; i < p->nthreads; i++)
    pthread_join(p->threads[i], NULL);
  free(p->threads);
  pthread_cond_destroy(&p->tcv);
  pthread_cond_destroy(&p->cv);
  pthread_mutex_destroy(&p->mu);
  free(p);
}
