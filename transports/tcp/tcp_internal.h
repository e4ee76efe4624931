/* Internal to weft_tcp: one framed connection on a weft_loop, shared by the
 * client and the server side of tcp:// and tls://.
 *
 * Threads: everything named loop-only runs on the loop thread. Sends come
 * from any thread (the mux's io->send): on plain TCP a sender whose queue is
 * empty writes straight to the socket (sendmsg, header and payload in one
 * call), which saves a loop wake-up per message; anything that does not fit
 * is queued and the loop flushes it when the socket is writable. TLS sends
 * always go through the loop thread, because an SSL object must not be used
 * by two threads at once.
 *
 * The write queue is bounded (wlimit): a sender on a user or worker thread
 * blocks while more than wlimit bytes are queued, so a peer that stops
 * reading pushes back on the producer instead of growing memory. The loop
 * thread itself never blocks (it only queues replies such as PONG). */
#ifndef WEFT_TRANSPORTS_TCP_INTERNAL_H
#define WEFT_TRANSPORTS_TCP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "framer.h"
#include "mux.h"
#include "reapq.h"
#include "sock.h"
#include "weft/loop.h"

#define WEFT__TCP_DEFAULT_KEEPALIVE_MS 30000
#define WEFT__TCP_WLIMIT (4u * 1024u * 1024u)
/* Frames carry the envelope around the payload: allow this much on top of
 * max_message_size for method, metadata and status. */
#define WEFT__TCP_FRAME_SLACK (64u * 1024u)

typedef struct weft__tcp_conn weft__tcp_conn;

struct weft__tcp_conn {
  weft_loop *loop;
  weft__conn *sock;
  int fd;
  bool tls;
  weft__lpf framer;
  weft__mux *mux;
  char peer[64];
  char ip[48]; /* the peer's address alone (per-IP counts) */

  /* Loop thread only. */
  unsigned events;
  bool dead;
  bool paused; /* not reading: a stream's receive queue is full */
  bool seen_frame, sniff_codec;
  weft_timer *tick;
  int64_t keepalive_ns, idle_ns, last_busy_ns;
  weft_timer *hdr_timer; /* server: the first frame is due (header timeout) */
  int64_t header_timeout_ms;
  uint8_t *rbuf; /* read buffer shared by the loop's connections */
  size_t rcap;
  /* The owner learns that the connection died (loop thread). */
  void (*on_dead)(weft__tcp_conn *c, const weft_error *why);
  void *owner;
  weft__tcp_conn *prev, *next; /* owner's lists */

  /* Write side: any thread, under wmu. */
  pthread_mutex_t wmu;
  pthread_cond_t wcv;
  uint8_t *wbuf;
  size_t wlen, woff, wcap, wlimit;
  /* wlen > woff, mirrored so the loop can ask without taking wmu (a writer
   * holds wmu across its send() syscall; waiting for it there costs a
   * futex round trip on every reply). */
  atomic_bool wpend;
  bool wclosed;
  bool flush_posted;
  unsigned posts;         /* posted callbacks not yet run (they hold c) */
  weft_error why;         /* the mux's reason for closing (io->close) */
  size_t active_at_close; /* streams in flight when it closed (loop) */

  /* Optional, for an owner that frees dead connections once nothing holds
   * them (weft__tcp_conn_reapable) without polling: the two ways a hold
   * ends after the death. on_idle: the last handler still running at the
   * death finished (any thread; c is alive during the call, but work
   * posted with it may outlive it: post the owner's). on_released: the
   * last callback posted for c ran (loop thread; c may be freed here).
   * Set before the loop runs the connection. */
  void (*on_idle)(weft__tcp_conn *c);
  void (*on_released)(weft__tcp_conn *c);
  weft__reapq_link reap_link; /* owner's queue (reapq.h) */
};

typedef struct weft__tcp_conn_opts {
  const weft__mux_opts *mux;
  bool drivable; /* client: waiting callers drive the loop (loop.h) */
  size_t max_frame;
  int64_t keepalive_ms; /* <0: off; 0: default */
  int64_t idle_timeout_ms;
  /* Server: the first whole frame (and the TLS handshake) must arrive
   * within this long of accept; 0: no limit. */
  int64_t header_timeout_ms;
  uint8_t *rbuf;
  size_t rcap;
} weft__tcp_conn_opts;

/* Creates the connection and its mux and registers the fd; loop thread, or
 * before the loop runs. Takes sock (closed on failure). */
int weft__tcp_conn_new(weft__tcp_conn **out, weft_loop *loop, weft__conn *sock,
                       const weft__tcp_conn_opts *o, weft_error *err);
/* Loop thread: closes the socket, fails calls, tells the owner. Idempotent. */
void weft__tcp_conn_close(weft__tcp_conn *c, const weft_error *why);
/* True once nothing refers to c any more (dead, no handler running, no
 * posted callback pending): weft__tcp_conn_free will not block. */
bool weft__tcp_conn_reapable(weft__tcp_conn *c);
/* Frees (blocks until server handlers of this connection are done).
 * Not on the loop thread unless reapable. */
void weft__tcp_conn_free(weft__tcp_conn *c);
/* The first half of weft__tcp_conn_free: frees the multiplexer, after
 * which no on_idle is under way or to come. */
void weft__tcp_conn_free_mux(weft__tcp_conn *c);

/* Runs fn(ud) on the loop thread and waits for it (any other thread). */
void weft__tcp_run_on_loop(weft_loop *loop, void (*fn)(void *), void *ud);

#endif
