/* Internal: the one server-side receive queue of weft's transports (the
 * envelope mux of tcp:// and ws://, the HTTP port's HTTP/2 and HTTP/1.1
 * streams). Not installed; transports reach it through weft_rpc's build
 * include path.
 *
 * A stream's transport pushes each received message as encoded bytes (as
 * they came off the wire, with a per-message flags byte for the transport,
 * e.g. Connect's "compressed"); the reader pops them and decodes. Encoded,
 * not decoded, because the loop thread that pushes must never run the
 * message decoder (it would stall every other stream of its connection),
 * and because only the reader knows where the message goes (the call's
 * arena for weft_server_call_recv, malloc for _recv_owned and asynchronous
 * reads); the byte count is then also what flow control speaks about.
 *
 * Backpressure: above a high-water mark (messages or bytes) push answers
 * 1, and the transport stops reading its socket or returning flow-control
 * credit; when a pop takes the queue down to half of both marks, on_low
 * runs (on the popping thread, no lock held) and the transport resumes.
 *
 * The queue ends in one of two ways: end (client finished sending, or a
 * framing error: err < 0 with a reason) after the queued messages, or
 * cancel (the stream is gone) at once, dropping what is queued.
 *
 * A reader either blocks in pop (bounded by the call's deadline) or arms
 * the queue with its runtime call (weft_server_call_read): the first push,
 * end or cancel after that runs weft_server_notify_readable(call) once.
 *
 * Threads: every function may be called from any thread; the queue has its
 * own mutex, taken under the transport's lock when the transport holds one
 * (transport lock -> queue lock -> the call's lock -> the pool's). A
 * transport that makes every call on a queue under its own lock anyway (the
 * mux's client streams) sets cfg.caller_locks: the queue then takes no lock
 * of its own, which spares a lock pair per pushed and per popped message.
 * Such a queue is never waited on (pop with wait) nor armed. */
#ifndef WEFT_RPC_RXQ_H
#define WEFT_RPC_RXQ_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weft/error.h"
#include "weft/server.h"

typedef struct weft__rxq_msg {
  struct weft__rxq_msg *next;
  size_t len;
  uint8_t flags; /* the transport's */
  uint8_t data[];
} weft__rxq_msg;

typedef struct weft__rxq_cfg {
  unsigned high_msgs; /* 0: no bound on the count */
  size_t high_bytes;  /* 0: no bound on the bytes */
  /* Optional: the queue drained to half of both marks after push had
   * answered 1. Runs on the popping thread, no queue lock held. */
  void (*on_low)(void *ud);
  void *ud;
  /* Every call on the queue is made under one lock of the caller's: the
   * queue's own mutex is not taken; pop with wait and arm are refused
   * (WEFT_ERR_STATE / ignored), there being nobody to wake them. */
  bool caller_locks;
} weft__rxq_cfg;

typedef struct weft__rxq {
  pthread_mutex_t mu;
  pthread_cond_t cv; /* CLOCK_MONOTONIC */
  weft__rxq_cfg cfg;
  weft__rxq_msg *head, *tail;
  size_t n, bytes;
  bool above;  /* push answered 1 and on_low has not run since */
  bool ended;  /* no more pushes; pop answers end_err once empty */
  bool gone;   /* cancelled: pop answers end_err at once */
  int end_err; /* 0: a clean end */
  char why[WEFT_ERROR_MSG_MAX];
  weft_server_call *armed; /* notify once readable */
} weft__rxq;

/* A message of len bytes (copied from p, which may be NULL when len is 0).
 * NULL: out of memory. Freed with free() by whoever pops it. */
weft__rxq_msg *weft__rxq_msg_new(const void *p, size_t len, uint8_t flags);

/* cfg may be NULL (no bounds). Returns 0 or WEFT_ERR_NOMEM. */
int weft__rxq_init(weft__rxq *q, const weft__rxq_cfg *cfg);
/* Frees what is still queued. */
void weft__rxq_destroy(weft__rxq *q);

/* Appends m (the queue takes it; after an end or cancel m is freed and
 * dropped). Returns 1 when the queue is now above a high-water mark (stop
 * reading), else 0. */
int weft__rxq_push(weft__rxq *q, weft__rxq_msg *m);
/* Copies and appends. Returns 1 / 0 as push, or WEFT_ERR_NOMEM. */
int weft__rxq_push_copy(weft__rxq *q, const void *p, size_t len, uint8_t flags);
/* No more messages: pop answers err (0: end of stream; < 0: the stream
 * failed, why says how, copied) once the queued ones are taken. The first
 * end or cancel wins. */
void weft__rxq_end(weft__rxq *q, int err, const char *why);
/* The stream is gone: queued messages are dropped and pop answers err
 * (< 0) at once. Overrides an earlier end (not an earlier cancel). */
void weft__rxq_cancel(weft__rxq *q, int err);
/* Drops the queued messages (the reader will not take them); on_low is not
 * run. Returns true if the queue was above its mark. */
bool weft__rxq_clear(weft__rxq *q);

/* 1: *out is the next message (the caller frees it); 0: end of stream;
 * < 0: the end's or cancel's error, WEFT_ERR_TIMEOUT once deadline_ns
 * (CLOCK_MONOTONIC ns, INT64_MAX: none) has passed, WEFT_ERR_AGAIN when
 * !wait and nothing is there yet, WEFT_ERR_STATE for wait on a queue with
 * cfg.caller_locks. Runs on_low before returning when this pop took the
 * queue down to its low-water mark. */
int weft__rxq_pop(weft__rxq *q, bool wait, int64_t deadline_ns,
                  weft__rxq_msg **out);

/* Asks for weft_server_notify_readable(call) once pop would not block: at
 * once (before returning) if it would not now, else at the next push, end
 * or cancel. A later arm replaces the earlier one. */
void weft__rxq_arm(weft__rxq *q, weft_server_call *call);
/* Forgets the armed call; once this returns the queue will not touch it
 * (transports call it from ops->finish). */
void weft__rxq_disarm(weft__rxq *q);

bool weft__rxq_above(weft__rxq *q); /* between push's 1 and on_low */
size_t weft__rxq_len(weft__rxq *q); /* messages queued */
/* The reason given to end (empty if none); stable once pop answered the
 * error. */
const char *weft__rxq_why(weft__rxq *q);

#endif
