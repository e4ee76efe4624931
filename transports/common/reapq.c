/* The listener's queue of dead connections to look at (reapq.h). */
#include "reapq.h"

void weft__reapq_init(weft__reapq *q,
                      void (*reap)(void *owner, weft__reapq_link *link),
                      void *owner) {
  pthread_mutex_init(&q->mu, NULL);
  q->head = NULL;
  q->posted = q->closing = false;
  q->reap = reap;
  q->owner = owner;
}

void weft__reapq_destroy(weft__reapq *q) {
  pthread_mutex_destroy(&q->mu);
}

/* Loop thread. One at a time: a connection taken may be pushed again
 * while its reap runs (a hold ending meanwhile), and is then taken again;
 * a batch taken at once would be walked through links being rewritten. */
static void drain(void *ud) {
  weft__reapq *q = ud;
  for (;;) {
    pthread_mutex_lock(&q->mu);
    weft__reapq_link *l = q->head;
    if (l) {
      q->head = l->next;
      l->queued = false;
    } else {
      q->posted = false;
    }
    pthread_mutex_unlock(&q->mu);
    if (!l)
      return;
    q->reap(q->owner, l);
  }
}

void weft__reapq_push(weft__reapq *q, weft_loop *loop, weft__reapq_link *link) {
  pthread_mutex_lock(&q->mu);
  if (!q->closing) {
    if (!link->queued) {
      link->queued = true;
      link->next = q->head;
      q->head = link;
    }
    if (!q->posted)
      q->posted = weft_loop_post(loop, drain, q) == 0;
  }
  pthread_mutex_unlock(&q->mu);
}

void weft__reapq_remove(weft__reapq *q, weft__reapq_link *link) {
  pthread_mutex_lock(&q->mu);
  if (link->queued) {
    weft__reapq_link **pp = &q->head;
    while (*pp != link)
      pp = &(*pp)->next;
    *pp = link->next;
    link->queued = false;
  }
  pthread_mutex_unlock(&q->mu);
}

void weft__reapq_close(weft__reapq *q) {
  pthread_mutex_lock(&q->mu);
  q->closing = true;
  for (weft__reapq_link *l = q->head; l; l = l->next)
    l->queued = false;
  q->head = NULL;
  pthread_mutex_unlock(&q->mu);
}
