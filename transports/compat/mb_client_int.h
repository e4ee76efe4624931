/* The MB client's internals (transports/compat): its I/O-free receive
 * side (mb_client_rx.c), and the links that carry MB messages to a broker
 * on the process-wide client loop: MB over TCP or TLS (mb_link_tcp.c) and
 * MB over WebSocket, ws or wss (mb_link_ws.c). Internal to weft. */
#ifndef WEFT_COMPAT_MB_CLIENT_INT_H
#define WEFT_COMPAT_MB_CLIENT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weft/client.h"
#include "weft/error.h"
#include "weft/loop.h"
#include "weft/mb.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The broker forwards payloads as they came (no JSON check, no system-topic
 * limit) under headers it rewrote, which can be longer than the sender's:
 * a message from it can exceed the frame limit by up to one header. */
#define WEFT__MBC_DECODE_FLAGS                                                 \
  (WEFT_MB_NO_JSON_CHECK | WEFT_MB_NO_PAYLOAD_LIMIT)
#define WEFT__MBC_MAX_FROM_BROKER (WEFT_MB_MAX_MESSAGE + WEFT_MB_MAX_HEADER)

/* ---- receive side, no I/O (mb_client_rx.c) ---- */

typedef enum weft__mbc_kind {
  WEFT__MBC_GREETING,  /* publish:system.initialize */
  WEFT__MBC_HEARTBEAT, /* request:system.heartbeat: answer it */
  WEFT__MBC_RESPONSE,  /* to a request or acknowledged publish of ours */
  WEFT__MBC_REQUEST,   /* routed to us (on_request) */
  WEFT__MBC_PUBLISH    /* on a topic we subscribe to (on_publish) */
} weft__mbc_kind;

/* Decodes one message from the broker and says what it is. m's strings
 * point into msg. Returns 0, or WEFT_ERR_PROTOCOL with err naming the
 * broken rule: a broker never sends a message its own parser refuses, so
 * one that does not decode means the peer is not an MB broker (or the
 * stream is corrupt) and the connection is given up. */
int weft__mbc_classify(const char *msg, size_t len, weft_mb_message *m,
                       weft__mbc_kind *kind, weft_error *err);

/* The answer to a heartbeat, as the reference client writes it: the same
 * header as a response (its id, if any), no parent, no timeout. */
void weft__mbc_heartbeat_answer(const weft_mb_header *req, weft_mb_header *out);

/* Feeds bytes of MB over TCP to d (initialized with max_len
 * WEFT__MBC_MAX_FROM_BROKER) and calls fn for each whole message, which
 * stops the feed when it returns false (the owner went away). Returns 0,
 * or a negative code with err saying what: WEFT_ERR_FRAME_TOO_BIG (sticky;
 * the connection must end) or WEFT_ERR_NOMEM. */
int weft__mbc_rx_feed(weft_mb_deframer *d, const uint8_t *in, size_t len,
                      bool (*fn)(void *ud, const char *msg, size_t len),
                      void *ud, weft_error *err);

/* At end of stream: true if a frame was cut short (why says how much of
 * it had arrived). */
bool weft__mbc_rx_mid_frame(const weft_mb_deframer *d, char *why, size_t n);

/* ---- links (mb_link_tcp.c, mb_link_ws.c) ---- */

typedef struct weft__mb_link weft__mb_link;

typedef struct weft__mb_link_cbs {
  /* Loop thread: one whole MB message, bytes valid during the call.
   * Returns false when the message shows the peer is broken: the link then
   * ends the connection (and still calls on_closed). */
  bool (*on_message)(void *ud, const char *msg, size_t len);
  /* Loop thread, at most once: the connection ended (code: WEFT_ERR_*,
   * why: what happened, naming the broker). Not after weft__mb_link_close. */
  void (*on_closed)(void *ud, int code, const char *why);
} weft__mb_link_cbs;

typedef struct weft__mb_link_args {
  const char *host;
  int port;
  const char *where; /* "host:port" for messages */
  bool tls;
  const weft_tls_opts *tls_opts;
  const char *target;        /* WebSocket: path?query */
  const char *extra_headers; /* WebSocket: header lines ending in CRLF */
  int64_t timeout_ms;        /* connect (and TLS / WebSocket handshake) */
  const weft__mb_link_cbs *cb;
  void *ud; /* must outlive the link */
} weft__mb_link_args;

typedef struct weft__mb_link_ops {
  int (*send)(weft__mb_link *l, const char *msg, size_t len);
  void (*close)(weft__mb_link *l);
} weft__mb_link_ops;

struct weft__mb_link {
  const weft__mb_link_ops *ops;
  weft_loop *loop; /* the shared client loop the link runs on */
};

/* Connects (blocking, bounded by timeout_ms, on the caller's thread) and
 * runs the connection on the shared client loop; callbacks may run before
 * this returns. Errors: WEFT_ERR_RESOLVE, _CONNECT, _TIMEOUT, _TLS,
 * _HANDSHAKE (WebSocket refused), _NOMEM, _IO. */
int weft__mb_link_tcp_open(weft__mb_link **out, const weft__mb_link_args *a,
                           weft_error *err);
int weft__mb_link_ws_open(weft__mb_link **out, const weft__mb_link_args *a,
                          weft_error *err);

/* Any thread: queues or writes one MB message (framed as the link frames
 * it). Off the loop it waits while more than a few MiB are queued for a
 * broker that does not read. 0, WEFT_ERR_CLOSED (the connection is gone),
 * WEFT_ERR_NOMEM. */
static inline int weft__mb_link_send(weft__mb_link *l, const char *msg,
                                     size_t len) {
  return l->ops->send(l, msg, len);
}
/* Any thread, also a link callback: no callback runs after it returns;
 * the memory goes when nothing on the loop refers to it any more. */
static inline void weft__mb_link_close(weft__mb_link *l) {
  if (l)
    l->ops->close(l);
}

#ifdef __cplusplus
}
#endif
#endif
