/* The one accept loop of every listener that does its own I/O (tcp, tls,
 * ws, wss, h2c, https, mb): accept4 with CLOEXEC and NONBLOCK in batches,
 * the per-IP connection count, and a pause instead of a spin when the
 * process is out of descriptors (EMFILE, ENFILE) or memory, logged once per
 * pause. Each accepted socket is wrapped in a weft__conn (TLS handshakes
 * lazily inside its first read/write) and handed to the listener.
 *
 * Loop thread only, except where a function says otherwise. Internal to
 * weft. */
#ifndef WEFT_TRANSPORTS_ACCEPT_H
#define WEFT_TRANSPORTS_ACCEPT_H

#include <stdbool.h>
#include <stdint.h>

#include "sock.h"
#include "weft/loop.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Defaults shared by every listener (weft_server_opts documents them). */
#define WEFT__DEFAULT_HEADER_TIMEOUT_MS 10000
#define WEFT__DEFAULT_MAX_CONNS_PER_IP 64
/* How long accepting pauses when out of descriptors. */
#define WEFT__ACCEPT_PAUSE_MS 100

typedef struct weft__acceptor weft__acceptor;

typedef struct weft__acceptor_opts {
  weft_loop *loop;
  int lfd;             /* listening socket: taken (closed by stop/free) */
  weft__tls_ctx *tls;  /* NULL: plain; not taken */
  const char *name;    /* "tcp", "ws", ...: prefixes log lines */
  unsigned max_per_ip; /* 0: no limit */
  /* Over max_per_ip: false closes the socket at once (logged), true hands
   * it on with over_limit set so the protocol can say why (ws: 429). */
  bool deliver_over_limit;
  /* Takes conn (the listener closes it). over_limit: see above. When the
   * connection ends the listener calls weft__acceptor_release(ip). */
  void (*on_conn)(void *ud, weft__conn *conn, bool over_limit);
  void *ud;
  void (*log)(int level, const char *line, void *ud); /* may be NULL */
  void *log_ud;
} weft__acceptor_opts;

/* Registers the listening socket on the loop. On failure the socket is
 * closed. */
int weft__acceptor_new(weft__acceptor **out, const weft__acceptor_opts *o);
/* Stops accepting and closes the listening socket; the per-IP counts stay
 * until free (connections still release). Idempotent. */
void weft__acceptor_stop(weft__acceptor *a);
/* Stops, frees. Accepts NULL. */
void weft__acceptor_free(weft__acceptor *a);
/* A connection handed out by on_conn has ended: its address counts one
 * less. ip as weft__conn_ip() gave it. */
void weft__acceptor_release(weft__acceptor *a, const char *ip);
/* Connections counted for ip right now (tests, logs). */
unsigned weft__acceptor_count(const weft__acceptor *a, const char *ip);
/* True while accepting is paused for lack of descriptors. */
bool weft__acceptor_paused(const weft__acceptor *a);

#ifdef __cplusplus
}
#endif
#endif
