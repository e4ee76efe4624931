/* The send half of the frame engine: frames appended to an output buffer.
 * Client frames are masked with keys drawn in batches from the random
 * source (RFC 6455 10.3: unpredictable keys), so the cost of the CSPRNG is
 * paid once per 64 frames. */
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "weft/error.h"
#include "ws_frame.h"

static int openssl_rand(void *ud, uint8_t *buf, size_t len) {
  (void)ud;
  return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

void weft__ws_tx_init(weft__ws_tx *tx, bool client, weft__ws_rand_fn rand,
                      void *rand_ud) {
  memset(tx, 0, sizeof *tx);
  tx->client = client;
  tx->rand = rand ? rand : openssl_rand;
  tx->rand_ud = rand_ud;
  tx->keys_pos = sizeof tx->keys; /* empty: fetch on first use */
}

void weft__ws_tx_free(weft__ws_tx *tx) {
  free(tx->buf);
  tx->buf = NULL;
  tx->off = tx->len = tx->cap = 0;
}

bool weft__ws_close_code_valid(unsigned code) {
  if (code >= 3000 && code <= 4999)
    return true; /* registered (3xxx) and private (4xxx) */
  switch (code) {
  case 1000:
  case 1001:
  case 1002:
  case 1003:
  case 1007:
  case 1008:
  case 1009:
  case 1010:
  case 1011:
  case 1012:
  case 1013:
  case 1014:
    return true;
  default:
    return false; /* 1004-1006 and 1015 are reserved, never sent */
  }
}

size_t weft__ws_frame_header(uint8_t out[14], bool fin, int opcode,
                             uint64_t len, const uint8_t *mask) {
  size_t p = 2;
  out[0] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0F));
  uint8_t m = mask ? 0x80 : 0;
  if (len < 126) {
    out[1] = (uint8_t)(m | len);
  } else if (len <= 0xFFFF) {
    out[1] = m | 126;
    out[2] = (uint8_t)(len >> 8);
    out[3] = (uint8_t)len;
    p = 4;
  } else {
    out[1] = m | 127;
    for (int i = 0; i < 8; i++)
      out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    p = 10;
  }
  if (mask) {
    memcpy(out + p, mask, 4);
    p += 4;
  }
  return p;
}

void weft__ws_mask(uint8_t *data, size_t len, const uint8_t mask[4],
                   size_t pos) {
  size_t i = 0;
  /* Align the key to the data so whole words can be XORed. */
  uint8_t k[8];
  for (int j = 0; j < 8; j++)
    k[j] = mask[(pos + (size_t)j) & 3];
  uint64_t w;
  memcpy(&w, k, 8);
  for (; i + 8 <= len; i += 8) {
    uint64_t d;
    memcpy(&d, data + i, 8);
    d ^= w;
    memcpy(data + i, &d, 8);
  }
  for (; i < len; i++)
    data[i] ^= k[i & 7];
}

static int reserve(weft__ws_tx *tx, size_t n) {
  if (tx->off == tx->len)
    tx->off = tx->len = 0;
  if (tx->len + n <= tx->cap)
    return 0;
  if (tx->off > 0) { /* compact before growing */
    memmove(tx->buf, tx->buf + tx->off, tx->len - tx->off);
    tx->len -= tx->off;
    tx->off = 0;
    if (tx->len + n <= tx->cap)
      return 0;
  }
  size_t cap = tx->cap ? tx->cap : 1024;
  while (cap < tx->len + n)
    cap *= 2;
  uint8_t *b = realloc(tx->buf, cap);
  if (!b)
    return WEFT_ERR_NOMEM;
  tx->buf = b;
  tx->cap = cap;
  return 0;
}

static int put_frame(weft__ws_tx *tx, int opcode, bool fin, const uint8_t *data,
                     size_t len) {
  uint8_t key[4], *mask = NULL;
  if (tx->client) {
    if (tx->keys_pos + 4 > sizeof tx->keys) {
      if (tx->rand(tx->rand_ud, tx->keys, sizeof tx->keys) != 0)
        return WEFT_ERR_INTERNAL;
      tx->keys_pos = 0;
    }
    memcpy(key, tx->keys + tx->keys_pos, 4);
    tx->keys_pos += 4;
    mask = key;
  }
  if (reserve(tx, 14 + len) != 0)
    return WEFT_ERR_NOMEM;
  size_t h = weft__ws_frame_header(tx->buf + tx->len, fin, opcode, len, mask);
  uint8_t *p = tx->buf + tx->len + h;
  if (len)
    memcpy(p, data, len);
  if (mask)
    weft__ws_mask(p, len, mask, 0);
  tx->len += h + len;
  return 0;
}

int weft__ws_tx_frame(weft__ws_tx *tx, int opcode, bool fin,
                      const uint8_t *data, size_t len) {
  if (tx->close_sent)
    return WEFT_ERR_CLOSED;
  switch (opcode) {
  case WEFT__WS_OP_CONT:
    if (!tx->frag_open)
      return WEFT_ERR_INVAL;
    break;
  case WEFT__WS_OP_TEXT:
  case WEFT__WS_OP_BINARY:
    if (tx->frag_open)
      return WEFT_ERR_INVAL;
    break;
  case WEFT__WS_OP_PING:
  case WEFT__WS_OP_PONG:
    if (!fin || len > 125)
      return WEFT_ERR_INVAL;
    break;
  default:
    return WEFT_ERR_INVAL; /* close goes through weft__ws_tx_close */
  }
  int rv = put_frame(tx, opcode, fin, data, len);
  if (rv == 0 && opcode < 0x8)
    tx->frag_open = !fin;
  return rv;
}

int weft__ws_tx_ping(weft__ws_tx *tx, const uint8_t *data, size_t len) {
  return weft__ws_tx_frame(tx, WEFT__WS_OP_PING, true, data, len);
}

int weft__ws_tx_pong(weft__ws_tx *tx, const uint8_t *data, size_t len) {
  return weft__ws_tx_frame(tx, WEFT__WS_OP_PONG, true, data, len);
}

int weft__ws_tx_close(weft__ws_tx *tx, uint16_t code, const char *reason) {
  if (tx->close_sent)
    return 0;
  uint8_t body[125] = {0};
  size_t n = 0;
  if (code) {
    if (!weft__ws_close_code_valid(code))
      return WEFT_ERR_INVAL;
    body[0] = (uint8_t)(code >> 8);
    body[1] = (uint8_t)code;
    n = 2;
    size_t r = reason ? strlen(reason) : 0;
    if (r > sizeof body - 2) {
      r = sizeof body - 2;
      while (r > 0 && ((uint8_t)reason[r] & 0xC0) == 0x80)
        r--; /* do not split a character */
    }
    if (r)
      memcpy(body + 2, reason, r);
    n += r;
  }
  int rv = put_frame(tx, WEFT__WS_OP_CLOSE, true, body, n);
  if (rv == 0) {
    tx->close_sent = true;
    tx->close_code = code ? code : WEFT__WS_CLOSE_NO_STATUS;
  }
  return rv;
}

void weft__ws_tx_consume(weft__ws_tx *tx, size_t n) {
  tx->off += n;
  if (tx->off >= tx->len)
    tx->off = tx->len = 0;
}

int weft__ws_tx_raw(weft__ws_tx *tx, const void *data, size_t len) {
  if (reserve(tx, len) != 0)
    return WEFT_ERR_NOMEM;
  memcpy(tx->buf + tx->len, data, len);
  tx->len += len;
  return 0;
}
