/* The receive half of the frame engine: an incremental frame parser and
 * message reassembler. Every check happens as soon as the bytes that decide
 * it arrive, so a bad or oversized frame is refused before its payload is
 * read or any memory is reserved for it. */
#include <stdlib.h>
#include <string.h>

#include "ws_frame.h"

enum { RX_HDR = 0, RX_PAYLOAD, RX_DONE };

#define WEFT__WS_DEFAULT_MAX (4u << 20)
/* A reassembly buffer larger than this is freed after its message, so an
 * idle connection does not keep the memory of its biggest message. */
#define WEFT__WS_KEEP_BUF 16384

void weft__ws_rx_init(weft__ws_rx *rx, bool server, size_t max_size) {
  memset(rx, 0, sizeof *rx);
  rx->server = server;
  rx->max_size = max_size ? max_size : WEFT__WS_DEFAULT_MAX;
  rx->state = RX_HDR;
  rx->hdr_need = 2;
}

void weft__ws_rx_free(weft__ws_rx *rx) {
  free(rx->buf);
  rx->buf = NULL;
  rx->cap = rx->len = 0;
}

bool weft__ws_rx_done(const weft__ws_rx *rx) {
  return rx->state == RX_DONE;
}

size_t weft__ws_rx_buffered(const weft__ws_rx *rx) {
  return rx->cap + (rx->state == RX_HDR ? rx->hdr_len : 0);
}

static bool is_control(int op) {
  return op >= 0x8;
}

static void fail(weft__ws_rx *rx, weft__ws_event *ev, uint16_t code,
                 const char *what) {
  rx->state = RX_DONE;
  ev->type = WEFT__WS_EV_ERROR;
  ev->code = code;
  ev->what = what;
  ev->data = NULL;
  ev->len = 0;
}

/* Checks the first two header bytes; sets hdr_need to the full header size.
 * Returns false (ev set) on a violation. */
static bool check_start(weft__ws_rx *rx, weft__ws_event *ev) {
  uint8_t b0 = rx->hdr[0], b1 = rx->hdr[1];
  int op = b0 & 0x0F;
  rx->fin = (b0 & 0x80) != 0;
  rx->opcode = (uint8_t)op;
  rx->masked = (b1 & 0x80) != 0;
  unsigned len7 = b1 & 0x7F;
  if (b0 & 0x70) {
    fail(rx, ev, WEFT__WS_CLOSE_PROTOCOL, "reserved bits set (no extension)");
    return false;
  }
  switch (op) {
  case WEFT__WS_OP_CONT:
    if (!rx->msg_opcode) {
      fail(rx, ev, WEFT__WS_CLOSE_PROTOCOL, "continuation without a message");
      return false;
    }
    break;
  case WEFT__WS_OP_TEXT:
  case WEFT__WS_OP_BINARY:
    if (rx->msg_opcode) {
      fail(rx, ev, WEFT__WS_CLOSE_PROTOCOL,
           "new message inside a fragmented one");
      return false;
    }
    break;
  case WEFT__WS_OP_CLOSE:
  case WEFT__WS_OP_PING:
  case WEFT__WS_OP_PONG:
    if (!rx->fin) {
      fail(rx, ev, WEFT__WS_CLOSE_PROTOCOL, "fragmented control frame");
      return false;
    }
    if (len7 > 125) {
      fail(rx, ev, WEFT__WS_CLOSE_PROTOCOL, "control frame over 125 bytes");
      return false;
    }
    break;
  default:
    fail(rx, ev, WEFT__WS_CLOSE_PROTOCOL, "reserved opcode");
    return false;
  }
  if (rx->server && !rx->masked) {
    fail(rx, ev, WEFT__WS_CLOSE_PROTOCOL, "unmasked frame from a client");
    return false;
  }
  if (!rx->server && rx->masked) {
    fail(rx, ev, WEFT__WS_CLOSE_PROTOCOL, "masked frame from a server");
    return false;
  }
  rx->hdr_need = (uint8_t)(2 +
                           (len7 == 126   ? 2
                            : len7 == 127 ? 8
                                          : 0) +
                           (rx->masked ? 4 : 0));
  return true;
}

/* The whole header is in; decode the length and check the size limit. */
static bool finish_header(weft__ws_rx *rx, weft__ws_event *ev) {
  unsigned len7 = rx->hdr[1] & 0x7F;
  uint64_t len = len7;
  size_t p = 2;
  if (len7 == 126) {
    len = (uint64_t)rx->hdr[2] << 8 | rx->hdr[3];
    p = 4;
    if (len < 126) {
      fail(rx, ev, WEFT__WS_CLOSE_PROTOCOL, "length not minimally encoded");
      return false;
    }
  } else if (len7 == 127) {
    len = 0;
    for (int i = 0; i < 8; i++)
      len = len << 8 | rx->hdr[2 + i];
    p = 10;
    if (len >> 63) {
      fail(rx, ev, WEFT__WS_CLOSE_PROTOCOL, "64-bit length with the top bit");
      return false;
    }
    if (len < 65536) {
      fail(rx, ev, WEFT__WS_CLOSE_PROTOCOL, "length not minimally encoded");
      return false;
    }
  }
  if (rx->masked)
    memcpy(rx->mask, rx->hdr + p, 4);
  rx->remaining = len;
  rx->mask_pos = 0;
  if (is_control(rx->opcode)) {
    rx->ctl_len = 0;
  } else {
    /* Checked against what is already buffered, before reading a byte of
     * the payload: an oversized message costs nothing. */
    size_t have = rx->opcode == WEFT__WS_OP_CONT ? rx->len : 0;
    if (len > rx->max_size || have + len > rx->max_size) {
      fail(rx, ev, WEFT__WS_CLOSE_TOO_BIG, "message over max_size");
      return false;
    }
    if (rx->opcode != WEFT__WS_OP_CONT) {
      rx->msg_opcode = rx->opcode;
      rx->len = 0;
      memset(&rx->utf8, 0, sizeof rx->utf8);
    }
  }
  rx->state = RX_PAYLOAD;
  return true;
}

static bool append(weft__ws_rx *rx, const uint8_t *p, size_t n) {
  if (rx->len + n > rx->cap) {
    size_t cap = rx->cap ? rx->cap : 256;
    while (cap < rx->len + n)
      cap *= 2;
    if (cap > rx->max_size && rx->len + n <= rx->max_size)
      cap = rx->max_size;
    uint8_t *b = realloc(rx->buf, cap);
    if (!b)
      return false;
    rx->buf = b;
    rx->cap = cap;
  }
  memcpy(rx->buf + rx->len, p, n);
  rx->len += n;
  return true;
}

/* A frame's payload is complete: produce its event, if any. */
static void frame_end(weft__ws_rx *rx, weft__ws_event *ev) {
  rx->state = RX_HDR;
  rx->hdr_len = 0;
  rx->hdr_need = 2;
  switch (rx->opcode) {
  case WEFT__WS_OP_PING:
  case WEFT__WS_OP_PONG:
    ev->type =
        rx->opcode == WEFT__WS_OP_PING ? WEFT__WS_EV_PING : WEFT__WS_EV_PONG;
    ev->data = rx->ctl;
    ev->len = rx->ctl_len;
    return;
  case WEFT__WS_OP_CLOSE:
    if (rx->ctl_len == 1) {
      fail(rx, ev, WEFT__WS_CLOSE_PROTOCOL, "close frame with 1-byte body");
      return;
    }
    if (rx->ctl_len >= 2) {
      unsigned code = (unsigned)rx->ctl[0] << 8 | rx->ctl[1];
      if (!weft__ws_close_code_valid(code)) {
        fail(rx, ev, WEFT__WS_CLOSE_PROTOCOL, "invalid close code");
        return;
      }
      if (!weft_utf8_valid(rx->ctl + 2, rx->ctl_len - 2)) {
        fail(rx, ev, WEFT__WS_CLOSE_INVALID_DATA, "close reason not UTF-8");
        return;
      }
      ev->code = (uint16_t)code;
      ev->data = rx->ctl + 2;
      ev->len = rx->ctl_len - 2;
    } else {
      ev->code = WEFT__WS_CLOSE_NO_STATUS;
      ev->data = rx->ctl;
      ev->len = 0;
    }
    ev->type = WEFT__WS_EV_CLOSE;
    rx->state = RX_DONE;
    return;
  default:
    break;
  }
  if (!rx->fin)
    return;
  if (rx->msg_opcode == WEFT__WS_OP_TEXT &&
      !weft__ws_utf8_complete(&rx->utf8)) {
    fail(rx, ev, WEFT__WS_CLOSE_INVALID_DATA, "text ends inside a character");
    return;
  }
  ev->type = WEFT__WS_EV_MESSAGE;
  ev->opcode = rx->msg_opcode;
  if (!rx->msg_direct) {
    ev->data = rx->buf ? rx->buf : (const uint8_t *)"";
    ev->len = rx->len;
    rx->release = true;
  }
  rx->msg_opcode = 0;
  rx->msg_direct = false;
}

size_t weft__ws_rx_parse(weft__ws_rx *rx, uint8_t *in, size_t len,
                         weft__ws_event *ev) {
  memset(ev, 0, sizeof *ev);
  if (rx->release) {
    rx->len = 0;
    if (rx->cap > WEFT__WS_KEEP_BUF) {
      free(rx->buf);
      rx->buf = NULL;
      rx->cap = 0;
    }
    rx->release = false;
  }
  size_t pos = 0;
  while (pos < len && rx->state != RX_DONE) {
    if (rx->state == RX_HDR) {
      size_t take = rx->hdr_need - rx->hdr_len;
      if (take > len - pos)
        take = len - pos;
      memcpy(rx->hdr + rx->hdr_len, in + pos, take);
      rx->hdr_len = (uint8_t)(rx->hdr_len + take);
      pos += take;
      if (rx->hdr_len < rx->hdr_need)
        break;
      if (rx->hdr_len == 2) {
        if (!check_start(rx, ev))
          return pos;
        if (rx->hdr_need > 2)
          continue;
      }
      if (!finish_header(rx, ev))
        return pos;
      if (rx->remaining == 0) {
        frame_end(rx, ev);
        if (ev->type != WEFT__WS_EV_NONE)
          return pos;
      }
      continue;
    }
    /* RX_PAYLOAD */
    size_t n = len - pos;
    if (n > rx->remaining)
      n = (size_t)rx->remaining;
    uint8_t *p = in + pos;
    if (rx->masked) {
      weft__ws_mask(p, n, rx->mask, rx->mask_pos);
      rx->mask_pos += n;
    }
    if (is_control(rx->opcode)) {
      memcpy(rx->ctl + rx->ctl_len, p, n);
      rx->ctl_len += n;
    } else {
      if (rx->msg_opcode == WEFT__WS_OP_TEXT &&
          !weft__ws_utf8_feed(&rx->utf8, p, n)) {
        fail(rx, ev, WEFT__WS_CLOSE_INVALID_DATA, "text message not UTF-8");
        return pos + n;
      }
      if (rx->fin && rx->opcode != WEFT__WS_OP_CONT && rx->len == 0 &&
          n == rx->remaining) {
        /* A whole single-frame message in this chunk: no copy. */
        rx->msg_direct = true;
        ev->data = p;
        ev->len = n;
      } else if (!append(rx, p, n)) {
        fail(rx, ev, WEFT__WS_CLOSE_INTERNAL, "out of memory");
        return pos + n;
      }
    }
    rx->remaining -= n;
    pos += n;
    if (rx->remaining == 0) {
      frame_end(rx, ev);
      if (ev->type != WEFT__WS_EV_NONE)
        return pos;
    }
  }
  if (rx->state == RX_DONE && ev->type == WEFT__WS_EV_NONE)
    return len; /* after close/error: ignore the rest */
  return pos;
}
