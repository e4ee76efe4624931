/* Internal: the one per-stream send queue of weft's server side: the
 * runtime's queue of a detached call (server_async.c: messages waiting for
 * the call's drain job) and the HTTP port's response queue (h2_server.c:
 * framed bytes waiting for nghttp2's DATA frames or the HTTP/1.1 writer).
 * Not installed; transports reach it through weft_rpc's build include path.
 *
 * An item is what the writer queued: a message (msg, and enc when its
 * protobuf encoding is shared with other calls) for a consumer that sends
 * whole messages, and/or bytes for a consumer that reads a byte stream in
 * chunks of its own size. Bytes are either copied into the item (a small
 * prefix such as an envelope header, or the whole payload) or referenced:
 * a shared, reference-counted encoding stays where it is and release(ud)
 * drops the item's reference once the bytes are out or dropped.
 *
 * Bound and backpressure: a queue takes another item while it holds fewer
 * than high_msgs items and at most high_bytes bytes (so one item larger
 * than the byte bound still goes through). A full queue refuses a push with
 * WEFT_ERR_AGAIN and arms the writable edge: the first take that brings
 * the queue down to half of both bounds reports it once
 * (weft__txq_take_writable), which the owner turns into on_writable or a
 * wake-up of a blocked sender.
 *
 * The queue ends in one of two ways: end (the final status is queued: no
 * more pushes, the queued items still go out, weft__txq_done once taken)
 * or cancel (the stream is gone or a write failed: the queued items are
 * handed back for release and every later push answers the error).
 *
 * Threads: none of its own and no lock: the owner's lock guards the queue
 * (the call's amu, the HTTP/2 connection's mutex). What the queue hands
 * back for release is released by the owner after dropping that lock
 * (weft__txq_items_done), since a release may take other locks (a
 * published event's count). Nothing here allocates except the items. */
#ifndef WEFT_RPC_TXQ_H
#define WEFT_RPC_TXQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weft/transport.h"

typedef struct weft__txq_item {
  struct weft__txq_item *next;
  const void *msg;             /* the message, for whole-message consumers */
  const weft_encoded_msg *enc; /* msg's shared encoding, or NULL */
  const uint8_t *data;         /* referenced bytes after the copied ones */
  size_t len;                  /* of data */
  size_t plen;                 /* bytes copied into pre[] (go first) */
  size_t off;                  /* bytes of pre + data already read */
  void (*release)(void *ud);   /* once consumed or dropped; may be NULL */
  void *ud;
  uint8_t pre[]; /* copied bytes */
} weft__txq_item;

typedef struct weft__txq_cfg {
  unsigned high_msgs; /* 0: no bound on the count */
  size_t high_bytes;  /* 0: no bound on the bytes */
} weft__txq_cfg;

typedef struct weft__txq {
  weft__txq_cfg cfg;
  weft__txq_item *head, *tail;
  size_t n, bytes;    /* items and unread bytes queued */
  bool want_writable; /* a push was refused; edge not reported yet */
  bool ended;         /* end: no more pushes */
  bool gone;          /* cancelled: pushes answer err */
  int err;
} weft__txq;

/* A message item (no bytes): msg (and enc) for the consumer, release(ud)
 * when done. NULL: out of memory. */
weft__txq_item *weft__txq_item_msg(const void *msg, const weft_encoded_msg *enc,
                                   void (*release)(void *ud), void *ud);
/* A bytes item: plen bytes copied from pre (NULL: left for the caller to
 * fill in it->pre), then len bytes referenced at data (NULL/0: none),
 * released with release(ud). NULL: out of memory. */
weft__txq_item *weft__txq_item_bytes(const void *pre, size_t plen,
                                     const uint8_t *data, size_t len,
                                     void (*release)(void *ud), void *ud);
/* Frees an item the queue never took (a refused push), without release:
 * what it refers to is still the caller's. */
void weft__txq_item_free(weft__txq_item *it);
/* Runs release and frees, for a list linked by next (the items pop, read
 * or cancel handed back). NULL is fine. */
void weft__txq_items_done(weft__txq_item *list);

/* cfg may be NULL (no bounds). A zeroed queue is an empty, unbounded one. */
void weft__txq_init(weft__txq *q, const weft__txq_cfg *cfg);
/* Frees the items still queued, with their release. */
void weft__txq_destroy(weft__txq *q);

/* Appends it (the queue takes it) and returns 0; or refuses it (the caller
 * keeps it): the cancel's error once cancelled, WEFT_ERR_STATE once ended,
 * WEFT_ERR_AGAIN when full (which arms the writable edge). */
int weft__txq_push(weft__txq *q, weft__txq_item *it);
/* Appends it whatever the bound (what finishes a stream must not wait
 * behind it): 0, or the push's refusals other than WEFT_ERR_AGAIN. */
int weft__txq_append(weft__txq *q, weft__txq_item *it);
/* Whether a push would answer WEFT_ERR_AGAIN now. */
bool weft__txq_full(const weft__txq *q);

/* Takes the oldest item whole (NULL: empty); the caller sends it and then
 * hands it to weft__txq_items_done. */
weft__txq_item *weft__txq_pop(weft__txq *q);
/* Copies up to cap bytes of the byte stream the items make, in order, into
 * buf and returns how many. Items read to their end are unlinked onto
 * *done (appended; may stay NULL) for weft__txq_items_done. */
size_t weft__txq_read(weft__txq *q, uint8_t *buf, size_t cap,
                      weft__txq_item **done);
/* The writable edge: true once after a refused push, when the queue has
 * come down to half of both bounds (then disarmed). */
bool weft__txq_take_writable(weft__txq *q);

/* The final status is queued: no more pushes. */
void weft__txq_end(weft__txq *q);
/* Ended and everything read or taken. */
bool weft__txq_done(const weft__txq *q);
/* The stream is gone (err < 0, else WEFT_ERR_CANCELLED): later pushes
 * answer err, and the queued items are unlinked and returned for
 * weft__txq_items_done. A second cancel keeps the first error. */
weft__txq_item *weft__txq_cancel(weft__txq *q, int err);

static inline size_t weft__txq_len(const weft__txq *q) {
  return q->n;
}
static inline size_t weft__txq_bytes(const weft__txq *q) {
  return q->bytes;
}
static inline bool weft__txq_ended(const weft__txq *q) {
  return q->ended;
}

#endif
