/* The server-side receive queue (internal/rxq.h). */
#include "internal/rxq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc_internal.h"
#include "weft/transport.h"

weft__rxq_msg *weft__rxq_msg_new(const void *p, size_t len, uint8_t flags) {
  weft__rxq_msg *m = malloc(sizeof *m + len);
  if (!m)
    return NULL;
  m->next = NULL;
  m->len = len;
  m->flags = flags;
  if (len)
    memcpy(m->data, p, len);
  return m;
}

int weft__rxq_init(weft__rxq *q, const weft__rxq_cfg *cfg) {
  memset(q, 0, sizeof *q);
  if (cfg)
    q->cfg = *cfg;
  if (pthread_mutex_init(&q->mu, NULL) != 0)
    return WEFT_ERR_NOMEM;
  weft__cond_init(&q->cv);
  return 0;
}

/* A queue with cfg.caller_locks is only touched under its caller's lock. */
static void lock(weft__rxq *q) {
  if (!q->cfg.caller_locks)
    pthread_mutex_lock(&q->mu);
}

static void unlock(weft__rxq *q) {
  if (!q->cfg.caller_locks)
    pthread_mutex_unlock(&q->mu);
}

static void free_list(weft__rxq_msg *m) {
  while (m) {
    weft__rxq_msg *n = m->next;
    free(m);
    m = n;
  }
}

void weft__rxq_destroy(weft__rxq *q) {
  free_list(q->head);
  q->head = q->tail = NULL;
  pthread_cond_destroy(&q->cv);
  pthread_mutex_destroy(&q->mu);
}

static bool over_high(const weft__rxq *q) {
  return (q->cfg.high_msgs && q->n >= q->cfg.high_msgs) ||
         (q->cfg.high_bytes && q->bytes >= q->cfg.high_bytes);
}

static bool at_low(const weft__rxq *q) {
  return q->n <= q->cfg.high_msgs / 2 && q->bytes <= q->cfg.high_bytes / 2;
}

/* mu held: the reader may go on; wake a blocked one, or notify an armed
 * one (which only posts to the pool: safe under every lock). */
static void readable(weft__rxq *q) {
  if (q->cfg.caller_locks)
    return; /* nobody waits in pop nor arms such a queue */
  pthread_cond_broadcast(&q->cv);
  weft_server_call *call = q->armed;
  q->armed = NULL;
  if (call)
    weft_server_notify_readable(call);
}

int weft__rxq_push(weft__rxq *q, weft__rxq_msg *m) {
  m->next = NULL;
  lock(q);
  if (q->ended || q->gone) {
    unlock(q);
    free(m);
    return 0;
  }
  if (q->tail)
    q->tail->next = m;
  else
    q->head = m;
  q->tail = m;
  q->n++;
  q->bytes += m->len;
  if (!q->above && over_high(q))
    q->above = true;
  int rv = q->above ? 1 : 0;
  readable(q);
  unlock(q);
  return rv;
}

int weft__rxq_push_copy(weft__rxq *q, const void *p, size_t len,
                        uint8_t flags) {
  weft__rxq_msg *m = weft__rxq_msg_new(p, len, flags);
  return m ? weft__rxq_push(q, m) : WEFT_ERR_NOMEM;
}

void weft__rxq_end(weft__rxq *q, int err, const char *why) {
  lock(q);
  if (!q->ended && !q->gone) {
    q->ended = true;
    q->end_err = err > 0 ? 0 : err;
    snprintf(q->why, sizeof q->why, "%s", why ? why : "");
    readable(q);
  }
  unlock(q);
}

void weft__rxq_cancel(weft__rxq *q, int err) {
  weft__rxq_msg *drop = NULL;
  lock(q);
  if (!q->gone) {
    q->gone = true;
    /* A clean end becomes the cancel's error; a failed one keeps its own
     * (the reader learns the first reason). */
    if (!q->ended || q->end_err == 0) {
      q->end_err = err < 0 ? err : WEFT_ERR_CANCELLED;
      q->why[0] = 0;
    }
    q->ended = true;
    drop = q->head;
    q->head = q->tail = NULL;
    q->n = q->bytes = 0;
    q->above = false;
    readable(q);
  }
  unlock(q);
  free_list(drop);
}

bool weft__rxq_clear(weft__rxq *q) {
  lock(q);
  weft__rxq_msg *drop = q->head;
  bool was = q->above;
  q->head = q->tail = NULL;
  q->n = q->bytes = 0;
  q->above = false;
  unlock(q);
  free_list(drop);
  return was;
}

int weft__rxq_pop(weft__rxq *q, bool wait, int64_t deadline_ns,
                  weft__rxq_msg **out) {
  *out = NULL;
  if (wait && q->cfg.caller_locks)
    return WEFT_ERR_STATE; /* the wait would drop a mutex not held */
  lock(q);
  for (;;) {
    if (q->gone || (q->ended && !q->head)) {
      int rv = q->end_err;
      unlock(q);
      return rv;
    }
    if (q->head)
      break;
    if (!wait) {
      unlock(q);
      return WEFT_ERR_AGAIN;
    }
    if (deadline_ns != INT64_MAX && weft_now_ns() >= deadline_ns) {
      unlock(q);
      return WEFT_ERR_TIMEOUT;
    }
    weft__cond_wait_until(&q->cv, &q->mu, deadline_ns);
  }
  weft__rxq_msg *m = q->head;
  q->head = m->next;
  if (!q->head)
    q->tail = NULL;
  q->n--;
  q->bytes -= m->len;
  m->next = NULL;
  bool low = q->above && at_low(q);
  if (low)
    q->above = false;
  unlock(q);
  if (low && q->cfg.on_low)
    q->cfg.on_low(q->cfg.ud);
  *out = m;
  return 1;
}

void weft__rxq_arm(weft__rxq *q, weft_server_call *call) {
  if (q->cfg.caller_locks)
    return;
  lock(q);
  q->armed = call;
  if (q->head || q->ended)
    readable(q);
  unlock(q);
}

void weft__rxq_disarm(weft__rxq *q) {
  lock(q);
  q->armed = NULL;
  unlock(q);
}

bool weft__rxq_above(weft__rxq *q) {
  lock(q);
  bool a = q->above;
  unlock(q);
  return a;
}

size_t weft__rxq_len(weft__rxq *q) {
  lock(q);
  size_t n = q->n;
  unlock(q);
  return n;
}

const char *weft__rxq_why(weft__rxq *q) {
  return q->why;
}
