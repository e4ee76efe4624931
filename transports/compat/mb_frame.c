/* MB on TCP: 4-byte big-endian length, then the message. An incremental
 * deframer that never reads a socket: bytes in, whole messages out. */
#include <stdlib.h>
#include <string.h>

#include "weft/mb.h"

void weft_mb_frame_prefix(uint8_t out[4], size_t len) {
  out[0] = (uint8_t)(len >> 24);
  out[1] = (uint8_t)(len >> 16);
  out[2] = (uint8_t)(len >> 8);
  out[3] = (uint8_t)len;
}

void weft_mb_deframer_init(weft_mb_deframer *d, size_t max_len) {
  memset(d, 0, sizeof *d);
  d->max_len = max_len ? max_len : WEFT_MB_MAX_MESSAGE;
}

void weft_mb_deframer_free(weft_mb_deframer *d) {
  if (!d)
    return;
  free(d->buf);
  d->buf = NULL;
  d->need = d->have = 0;
  d->prefix_have = 0;
}

ssize_t weft_mb_deframer_feed(weft_mb_deframer *d, const uint8_t *in,
                              size_t len, const uint8_t **msg, size_t *msg_len,
                              weft_error *err) {
  *msg = NULL;
  *msg_len = 0;
  if (d->failed)
    return weft_error_set(err, d->failed,
                          "MB framing: connection already failed");
  size_t used = 0;
  if (d->prefix_have < 4) {
    while (d->prefix_have < 4 && used < len)
      d->prefix[d->prefix_have++] = in[used++];
    if (d->prefix_have < 4)
      return (ssize_t)used;
    d->need = (size_t)d->prefix[0] << 24 | (size_t)d->prefix[1] << 16 |
              (size_t)d->prefix[2] << 8 | (size_t)d->prefix[3];
    d->have = 0;
    if (d->need == 0) {
      /* An empty message, not a framing error: the broker parses it and
       * answers MALFORMED_MESSAGE. */
      *msg = in + used;
      d->prefix_have = 0;
      return (ssize_t)used;
    }
    if (d->need > d->max_len) {
      d->failed = WEFT_ERR_FRAME_TOO_BIG;
      return weft_error_set(err, WEFT_ERR_FRAME_TOO_BIG,
                            "MB framing: message length %zu over the limit "
                            "%zu",
                            d->need, d->max_len);
    }
  }
  size_t avail = len - used;
  /* Zero copy when the whole message is in this chunk. */
  if (d->have == 0 && avail >= d->need) {
    *msg = in + used;
    *msg_len = d->need;
    used += d->need;
    d->prefix_have = 0;
    return (ssize_t)used;
  }
  if (!d->buf) {
    /* At most max_len: allocate the limit once, reuse it. */
    d->buf = malloc(d->max_len);
    if (!d->buf)
      return weft_error_set(err, WEFT_ERR_NOMEM, "MB framing: out of memory");
  }
  size_t take = d->need - d->have;
  if (take > avail)
    take = avail;
  memcpy(d->buf + d->have, in + used, take);
  d->have += take;
  used += take;
  if (d->have == d->need) {
    *msg = d->buf;
    *msg_len = d->need;
    d->prefix_have = 0;
    d->have = 0;
  }
  return (ssize_t)used;
}
