/* The MB client's receive side without I/O: TCP bytes to whole messages,
 * and each message to what the client does with it. Fuzzed in-process
 * (tests/fuzz/mb_client). */
#include <stdio.h>
#include <string.h>

#include "mb_client_int.h"

int weft__mbc_classify(const char *msg, size_t len, weft_mb_message *m,
                       weft__mbc_kind *kind, weft_error *err) {
  weft_error e;
  weft_error_clear(&e);
  if (weft_mb_decode(msg, len, WEFT__MBC_DECODE_FLAGS, m, NULL, &e) < 0)
    return weft_error_set(err, WEFT_ERR_PROTOCOL,
                          "a message that is not MB (%zu bytes): %s", len,
                          e.message[0] ? e.message : "undecodable");
  const weft_mb_header *h = &m->header;
  switch (h->action) {
  case WEFT_MB_PUBLISH:
    *kind = strcmp(h->topic, WEFT_MB_TOPIC_INITIALIZE) == 0 ? WEFT__MBC_GREETING
                                                            : WEFT__MBC_PUBLISH;
    return 0;
  case WEFT_MB_REQUEST:
    *kind = strcmp(h->topic, WEFT_MB_TOPIC_HEARTBEAT) == 0 ? WEFT__MBC_HEARTBEAT
                                                           : WEFT__MBC_REQUEST;
    return 0;
  case WEFT_MB_RESPONSE:
    *kind = WEFT__MBC_RESPONSE;
    return 0;
  default:
    return weft_error_set(err, WEFT_ERR_PROTOCOL,
                          "MB message with an unknown action");
  }
}

void weft__mbc_heartbeat_answer(const weft_mb_header *req,
                                weft_mb_header *out) {
  *out = *req;
  out->action = WEFT_MB_RESPONSE;
  out->has_timeout = false;
  out->parent_request_id[0] = '\0';
}

int weft__mbc_rx_feed(weft_mb_deframer *d, const uint8_t *in, size_t len,
                      bool (*fn)(void *ud, const char *msg, size_t len),
                      void *ud, weft_error *err) {
  size_t off = 0;
  while (off < len) {
    const uint8_t *msg;
    size_t mlen;
    ssize_t used =
        weft_mb_deframer_feed(d, in + off, len - off, &msg, &mlen, err);
    if (used < 0)
      return (int)used;
    off += (size_t)used;
    if (msg && !fn(ud, (const char *)msg, mlen))
      return 0;
  }
  return 0;
}

bool weft__mbc_rx_mid_frame(const weft_mb_deframer *d, char *why, size_t n) {
  if (d->prefix_have == 0)
    return false;
  if (d->prefix_have < 4)
    snprintf(why, n, "%u of the 4 length bytes", d->prefix_have);
  else
    snprintf(why, n, "%zu of a %zu-byte message", d->have, d->need);
  return true;
}
