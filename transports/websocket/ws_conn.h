/* The connection object shared by ws_conn.c (frames, close handshake,
 * keepalive, limits), ws_listen.c (accept and the server handshake) and
 * ws_dial.c (the client). Internal. */
#ifndef WEFT_TRANSPORTS_WS_CONN_H
#define WEFT_TRANSPORTS_WS_CONN_H

#include <pthread.h>
#include <stdatomic.h>

#include "weft/loop.h"
#include "ws_frame.h"
#include "ws_net.h"

enum {
  WEFT__WSC_HANDSHAKE = 0, /* server: reading the upgrade request */
  WEFT__WSC_OPEN,
  WEFT__WSC_CLOSING,  /* our close frame is out; waiting for the peer's */
  WEFT__WSC_WAIT_EOF, /* client: both closes done, the server closes TCP */
  WEFT__WSC_DRAIN,    /* flushing what is queued, then dropping */
  WEFT__WSC_DEAD
};

#define WEFT__WS_RBUF 65536

struct weft_ws_conn {
  atomic_int refs;
  weft_loop *loop;
  weft__ws_listener *ls; /* server side */
  weft_server *srv;
  const weft__ws_cfg *cfg;
  weft__conn *io;
  int fd;
  bool server;
  uint8_t *rbuf; /* the loop's shared read buffer */

  pthread_mutex_t mu;
  /* under mu */
  weft__ws_tx tx;
  bool dead;        /* socket gone: sends fail */
  bool write_armed; /* epoll watches WRITE */
  bool arm_posted;  /* a post will arm it */
  bool fail_posted;
  pthread_cond_t wcv; /* senders waiting for the write queue to drain */
  unsigned wwaiters;
  bool paused; /* receive backpressure: not reading (written under mu) */

  /* loop thread */
  int state;
  weft__ws_rx rx;
  char *hs;
  size_t hs_len;
  int reject_status; /* answer the request with this (per-IP limit) */
  weft_timer *hs_timer, *ping_timer, *pong_timer, *close_timer, *life_timer;
  weft_timer *idle_timer;
  atomic_llong last_msg_ns; /* last message sent or received */
  bool ping_out;
  int64_t rate_win_ns;
  unsigned rate_n;
  const weft_ws_handler *h;
  void *h_ud;
  bool opened, close_reported;
  int cb_depth;         /* inside on_open/on_message */
  bool batching;        /* processing a read: loop-thread sends wait for
                           one flush after it */
  bool destroy_pending; /* destroy asked for inside a callback */
  int close_code;       /* what on_close reports */
  char close_reason[124];
  char peer[64], ip[64];
  char *path;
  char proto[32];
  weft_ws_conn *next, *prev;        /* the listener's list */
  void (*on_dead)(weft_ws_conn *c); /* owner's hook after the socket closed */
  /* Connection events (server side): the refused handshake's answer, and
   * what the envelope endpoint reports at on_close. */
  int refused_status;
  char refused_reason[124];
  bool auth_refused; /* closed 1008 after the upgrade: bad API key */
  uint64_t calls;
  size_t calls_active;
  /* Loop thread: calls in flight right now, so the idle timeout spares a
   * quiet stream (set by the envelope endpoint; NULL: none). */
  size_t (*busy_fn)(void *ud);
  void *busy_ud;
  void *owner;
};

/* ws_conn.c */
weft_ws_conn *weft__ws_conn_new(weft_loop *loop, weft__conn *io,
                                const weft__ws_cfg *cfg, bool server);
/* Start as an open connection (after the handshake): rx, timers,
 * on_open, then any bytes that followed the handshake. */
void weft__ws_conn_start(weft_ws_conn *c, uint8_t *extra, size_t len);
/* Writes what is queued (drops the connection on failure). */
int weft__ws_conn_flush(weft_ws_conn *c);
/* Queue bytes, flush, then drop the connection (error responses). */
void weft__ws_conn_send_and_drop(weft_ws_conn *c, const char *data, size_t len);
/* Loop thread: drop now (no close handshake), reporting code/reason. */
void weft__ws_conn_destroy(weft_ws_conn *c, int code, const char *reason);
/* Loop thread: start the close handshake. */
void weft__ws_conn_close_now(weft_ws_conn *c, int code, const char *reason);
/* The loop's I/O callback for connection fds. */
void weft__ws_conn_io(weft_loop *l, int fd, unsigned events, void *ud);
/* The server handshake (ws_listen.c), called with received bytes while
 * state == HANDSHAKE. */
void weft__ws_server_handshake(weft_ws_conn *c, const uint8_t *data,
                               size_t len);

#endif
