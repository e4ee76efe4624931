/* A listener's queue of dead connections that may be ready to free,
 * emptied on the listener's loop (tcp:// and ws:// server connections).
 *
 * A connection that dies while something still holds it (a handler still
 * running, work posted for it) stays with its listener. Whoever ends a
 * hold pushes it here, from any thread; the first push posts one drain to
 * the loop, which pops connections one at a time and hands each to the
 * owner's reap function (loop thread), which frees it if nothing holds it
 * any more. Nothing polls, and each ended hold costs O(1).
 *
 * The owner takes a connection off the queue (weft__reapq_remove) before
 * freeing it, once nothing can push it again. After weft__reapq_close
 * nothing is pushed or posted: the owner frees what is left itself.
 * Internal to weft. */
#ifndef WEFT_TRANSPORTS_REAPQ_H
#define WEFT_TRANSPORTS_REAPQ_H

#include <pthread.h>
#include <stdbool.h>

#include "weft/loop.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Embedded in each connection; under the queue's lock. */
typedef struct weft__reapq_link {
  struct weft__reapq_link *next;
  bool queued;
} weft__reapq_link;

typedef struct weft__reapq {
  pthread_mutex_t mu;
  weft__reapq_link *head;
  bool posted;  /* a drain is on its way to the loop */
  bool closing; /* weft__reapq_close ran */
  void (*reap)(void *owner, weft__reapq_link *link);
  void *owner;
} weft__reapq;

void weft__reapq_init(weft__reapq *q,
                      void (*reap)(void *owner, weft__reapq_link *link),
                      void *owner);
void weft__reapq_destroy(weft__reapq *q);
/* Any thread: queues link (once) and posts a drain to loop unless one is
 * on its way. Nothing after weft__reapq_close. A failed post leaves the
 * link to the next push's drain or to the owner's close. */
void weft__reapq_push(weft__reapq *q, weft_loop *loop, weft__reapq_link *link);
/* Takes link off the queue if it is on it. */
void weft__reapq_remove(weft__reapq *q, weft__reapq_link *link);
/* From now on nothing is pushed or posted; the queue is emptied (a drain
 * still on its way finds nothing). */
void weft__reapq_close(weft__reapq *q);

#ifdef __cplusplus
}
#endif
#endif
