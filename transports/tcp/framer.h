/* The length-prefix framer of tcp:// and tls://: each frame is a 4-byte
 * big-endian length, then that many bytes. No I/O: the transport feeds
 * whatever the socket returned, in chunks of any size, and gets whole frames
 * back through a callback.
 *
 * Frames that arrive whole inside one chunk are handed out in place (no
 * copy); only a frame split across chunks is gathered into a buffer, which
 * is allocated once its header has been read and checked against the size
 * limit: a frame over the limit is an error before anything is allocated. */
#ifndef WEFT_TRANSPORTS_TCP_FRAMER_H
#define WEFT_TRANSPORTS_TCP_FRAMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "weft/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WEFT__LPF_HDR 4u

/* One complete frame. Returns 0 to go on, 1 to pause (the feed returns the
 * bytes consumed so far; feed the rest later), or < 0 to fail the feed with
 * that code. The bytes are valid only during the call. */
typedef int (*weft__lpf_frame_fn)(void *ud, const uint8_t *frame, size_t len);

typedef struct weft__lpf {
  size_t max_frame;           /* frames longer than this are an error */
  uint8_t hdr[WEFT__LPF_HDR]; /* partial header */
  size_t hdr_have;
  uint8_t *body; /* partial body of a frame split across chunks */
  size_t body_len, body_have;
  int failed; /* sticky error */
  /* Allocator for split frames (tests count calls); NULL: malloc/free. */
  void *(*alloc)(size_t n);
  void (*dealloc)(void *p);
} weft__lpf;

/* max_frame 0: 4 MiB. */
void weft__lpf_init(weft__lpf *f, size_t max_frame);
/* Frees a partial frame. The framer can be re-initialized afterwards. */
void weft__lpf_free(weft__lpf *f);

/* Feeds len bytes. Returns the number of bytes consumed (len unless the
 * callback paused), or < 0: WEFT_ERR_FRAME_TOO_BIG (err says the sizes),
 * WEFT_ERR_NOMEM, or the callback's error. After an error the framer stays
 * failed: the connection must be closed. */
ssize_t weft__lpf_feed(weft__lpf *f, const uint8_t *data, size_t len,
                       weft__lpf_frame_fn fn, void *ud, weft_error *err);

/* True when no partial frame is buffered (a clean place for EOF). */
bool weft__lpf_idle(const weft__lpf *f);

/* Writes the 4-byte header for a frame of len bytes. */
static inline void weft__lpf_put_header(uint8_t out[WEFT__LPF_HDR],
                                        uint32_t len) {
  out[0] = (uint8_t)(len >> 24);
  out[1] = (uint8_t)(len >> 16);
  out[2] = (uint8_t)(len >> 8);
  out[3] = (uint8_t)len;
}

#ifdef __cplusplus
}
#endif
#endif
