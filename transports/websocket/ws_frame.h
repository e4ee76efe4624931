/* The WebSocket frame engine (RFC 6455 section 5), with no I/O.
 *
 * Two halves with disjoint state, so an owner can run them on different
 * threads (the transport receives on its loop thread and sends from any
 * thread under its own lock):
 *
 *  - weft__ws_rx: an incremental parser. Feed it bytes in chunks of any size
 *    (down to one byte); it validates every frame (reserved bits and
 *    opcodes, masking direction, control-frame rules, fragmentation order,
 *    max_size before anything is allocated, UTF-8 of text messages across
 *    fragments, close codes), reassembles messages and hands back one event
 *    at a time. It never writes: replying to a ping or a close is the
 *    owner's decision (weft__ws_tx_pong / weft__ws_tx_close).
 *  - weft__ws_tx: the encoder. Frames (masked with fresh random keys on the
 *    client side) are appended to an output buffer the owner drains to its
 *    socket; it remembers whether a close frame went out.
 *
 * A protocol violation is reported as WEFT__WS_EV_ERROR carrying the close
 * code to send (1002, 1007, 1009, 1011); the parser then refuses further
 * input and the owner must send that close and drop the connection.
 */
#ifndef WEFT_TRANSPORTS_WS_FRAME_H
#define WEFT_TRANSPORTS_WS_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
  WEFT__WS_OP_CONT = 0x0,
  WEFT__WS_OP_TEXT = 0x1,
  WEFT__WS_OP_BINARY = 0x2,
  WEFT__WS_OP_CLOSE = 0x8,
  WEFT__WS_OP_PING = 0x9,
  WEFT__WS_OP_PONG = 0xA
};

/* Close codes (RFC 6455 section 7.4.1). */
enum {
  WEFT__WS_CLOSE_NORMAL = 1000,
  WEFT__WS_CLOSE_GOING_AWAY = 1001,
  WEFT__WS_CLOSE_PROTOCOL = 1002,
  WEFT__WS_CLOSE_UNSUPPORTED = 1003,
  WEFT__WS_CLOSE_NO_STATUS = 1005, /* never on the wire */
  WEFT__WS_CLOSE_ABNORMAL = 1006,  /* never on the wire */
  WEFT__WS_CLOSE_INVALID_DATA = 1007,
  WEFT__WS_CLOSE_POLICY = 1008,
  WEFT__WS_CLOSE_TOO_BIG = 1009,
  WEFT__WS_CLOSE_INTERNAL = 1011
};

/* ---- UTF-8 (incremental, so a code point may straddle fragments) ---- */

typedef struct weft__ws_utf8 {
  uint8_t need;   /* continuation bytes still expected */
  uint8_t lo, hi; /* allowed range of the next continuation byte */
} weft__ws_utf8;

/* Validates more bytes. Returns false at the first byte that can never be
 * part of valid UTF-8 (overlong forms, surrogates, > U+10FFFF), so a bad
 * text message is rejected as soon as the offending byte arrives. */
bool weft__ws_utf8_feed(weft__ws_utf8 *u, const uint8_t *p, size_t n);
/* True if the input so far ends on a code point boundary. */
static inline bool weft__ws_utf8_complete(const weft__ws_utf8 *u) {
  return u->need == 0;
}
/* Whole buffers: weft_utf8_valid (one validator for all of weft). */
#include "weft/utf8.h"

/* ---- receive side ---- */

typedef enum weft__ws_ev_type {
  WEFT__WS_EV_NONE = 0, /* input exhausted, nothing complete yet */
  WEFT__WS_EV_MESSAGE,  /* a whole text or binary message */
  WEFT__WS_EV_PING,
  WEFT__WS_EV_PONG,
  WEFT__WS_EV_CLOSE, /* the peer's close frame; input after it is ignored */
  WEFT__WS_EV_ERROR  /* protocol violation: send close `code`, drop */
} weft__ws_ev_type;

typedef struct weft__ws_event {
  weft__ws_ev_type type;
  int opcode; /* MESSAGE: WEFT__WS_OP_TEXT or _BINARY */
  /* MESSAGE/PING/PONG payload, CLOSE reason. Valid until the next call to
   * weft__ws_rx_parse (it may point into the caller's input buffer). */
  const uint8_t *data;
  size_t len;
  /* CLOSE: the peer's code (1005 if its frame had none). ERROR: the code
   * to close with. */
  uint16_t code;
  const char *what; /* ERROR: what was wrong, for logs and weft_error */
} weft__ws_event;

typedef struct weft__ws_rx {
  bool server;     /* a server expects masked frames, a client unmasked */
  size_t max_size; /* per message */
  int state;
  /* frame header being collected */
  uint8_t hdr[14];
  uint8_t hdr_len, hdr_need;
  /* frame being read */
  uint8_t opcode;
  bool fin;
  uint8_t mask[4];
  bool masked;
  uint64_t remaining;
  size_t mask_pos;
  /* message being reassembled */
  uint8_t msg_opcode; /* 0: none in progress */
  bool msg_direct;    /* whole single-frame message delivered in place */
  uint8_t *buf;
  size_t len, cap;
  weft__ws_utf8 utf8;
  /* control frame payload (<= 125 bytes) */
  uint8_t ctl[125];
  size_t ctl_len;
  bool release; /* drop the reassembly buffer at the next call */
} weft__ws_rx;

/* max_size 0: 4 MiB. */
void weft__ws_rx_init(weft__ws_rx *rx, bool server, size_t max_size);
void weft__ws_rx_free(weft__ws_rx *rx);
/* Consumes input up to and including the next complete event and returns
 * the number of bytes used (the rest must be passed again). `in` is
 * modified: masked payloads are unmasked in place so single-frame messages
 * need no copy. ev->type is NONE when all of `in` was used without
 * completing an event. After CLOSE or ERROR every further byte is ignored
 * (consumed, NONE). */
size_t weft__ws_rx_parse(weft__ws_rx *rx, uint8_t *in, size_t len,
                         weft__ws_event *ev);
/* True after CLOSE or ERROR. */
bool weft__ws_rx_done(const weft__ws_rx *rx);
/* Bytes held for a message or frame in progress (for memory accounting). */
size_t weft__ws_rx_buffered(const weft__ws_rx *rx);

/* ---- send side ---- */

/* Fills buf with len random bytes; 0 on success. */
typedef int (*weft__ws_rand_fn)(void *ud, uint8_t *buf, size_t len);

typedef struct weft__ws_tx {
  bool client; /* clients mask every frame */
  weft__ws_rand_fn rand;
  void *rand_ud;
  uint8_t keys[256]; /* masking keys fetched in batches */
  size_t keys_pos;
  uint8_t *buf; /* pending output is buf[off, len) */
  size_t off, len, cap;
  bool close_sent;
  uint16_t close_code;
  bool frag_open; /* a fragmented message was started and not finished */
} weft__ws_tx;

/* rand NULL: OpenSSL RAND_bytes. */
void weft__ws_tx_init(weft__ws_tx *tx, bool client, weft__ws_rand_fn rand,
                      void *rand_ud);
void weft__ws_tx_free(weft__ws_tx *tx);
/* One frame. Errors: WEFT_ERR_INVAL (control frame over 125 bytes or not
 * final, bad opcode, continuation order), WEFT_ERR_CLOSED (close already
 * sent), WEFT_ERR_NOMEM, WEFT_ERR_INTERNAL (no randomness). */
int weft__ws_tx_frame(weft__ws_tx *tx, int opcode, bool fin,
                      const uint8_t *data, size_t len);
static inline int weft__ws_tx_message(weft__ws_tx *tx, int opcode,
                                      const uint8_t *data, size_t len) {
  return weft__ws_tx_frame(tx, opcode, true, data, len);
}
int weft__ws_tx_ping(weft__ws_tx *tx, const uint8_t *data, size_t len);
int weft__ws_tx_pong(weft__ws_tx *tx, const uint8_t *data, size_t len);
/* code 0 sends an empty close frame (peer sees 1005). reason is cut at 123
 * bytes on a UTF-8 boundary. A second close is a no-op (returns 0). */
int weft__ws_tx_close(weft__ws_tx *tx, uint16_t code, const char *reason);
/* Pending output. */
static inline const uint8_t *weft__ws_tx_data(const weft__ws_tx *tx,
                                              size_t *len) {
  *len = tx->len - tx->off;
  return tx->buf + tx->off;
}
void weft__ws_tx_consume(weft__ws_tx *tx, size_t n);
/* Bytes queued as they are (the handshake response shares the buffer). */
int weft__ws_tx_raw(weft__ws_tx *tx, const void *data, size_t len);

/* Low level, used by the above and by tests. Writes a frame header into out
 * and returns its length (2..14). mask NULL: unmasked. */
size_t weft__ws_frame_header(uint8_t out[14], bool fin, int opcode,
                             uint64_t len, const uint8_t *mask);
/* XORs data with the key, starting at key offset `pos`. */
void weft__ws_mask(uint8_t *data, size_t len, const uint8_t mask[4],
                   size_t pos);
/* Is `code` allowed in a close frame on the wire? */
bool weft__ws_close_code_valid(unsigned code);

#ifdef __cplusplus
}
#endif
#endif
