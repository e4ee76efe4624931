/* libFuzzer target for the WebSocket frame parser. The first byte picks
 * the side (server or client), a small max_size, and the chunk size the
 * rest is fed in, so one input exercises the incremental paths too. Every
 * event must be well formed; a message must be valid UTF-8 if text and
 * within max_size; an error must carry a sendable close code. Whatever
 * messages come out are re-encoded and must parse back identically. */
#include <stdlib.h>
#include <string.h>

#include "ws_frame.h"

static int fixed_rand(void *ud, uint8_t *b, size_t n) {
  (void)ud;
  for (size_t i = 0; i < n; i++)
    b[i] = (uint8_t)(i * 37 + 11);
  return 0;
}

static void check_roundtrip(bool server, int op, const uint8_t *d, size_t n) {
  /* What the peer of `server` would send: server parses client frames. */
  weft__ws_tx tx;
  weft__ws_tx_init(&tx, server, fixed_rand, NULL);
  if (weft__ws_tx_message(&tx, op, d, n) != 0)
    abort();
  size_t len;
  const uint8_t *w = weft__ws_tx_data(&tx, &len);
  uint8_t *copy = malloc(len ? len : 1);
  memcpy(copy, w, len);
  weft__ws_rx rx;
  weft__ws_rx_init(&rx, server, n + 1);
  weft__ws_event ev;
  size_t used = weft__ws_rx_parse(&rx, copy, len, &ev);
  if (used != len || ev.type != WEFT__WS_EV_MESSAGE || ev.opcode != op ||
      ev.len != n || (n && memcmp(ev.data, d, n) != 0))
    abort();
  weft__ws_rx_free(&rx);
  free(copy);
  weft__ws_tx_free(&tx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  uint8_t ctl = data[0];
  bool server = ctl & 1;
  size_t max = (ctl & 2) ? 64 : 1 << 16;
  size_t chunk = ((ctl >> 2) & 0x3F) + 1;
  size_t len = size - 1;
  uint8_t *in = malloc(len ? len : 1);
  memcpy(in, data + 1, len);
  weft__ws_rx rx;
  weft__ws_rx_init(&rx, server, max);
  size_t pos = 0;
  while (pos < len) {
    size_t end = pos + chunk < len ? pos + chunk : len;
    while (pos < end) {
      weft__ws_event ev;
      size_t n = weft__ws_rx_parse(&rx, in + pos, end - pos, &ev);
      if (n > end - pos)
        abort();
      pos += n;
      switch (ev.type) {
      case WEFT__WS_EV_NONE:
        if (n == 0)
          abort(); /* no progress and no event */
        break;
      case WEFT__WS_EV_MESSAGE:
        if (ev.len > max)
          abort();
        if (ev.opcode == WEFT__WS_OP_TEXT && !weft_utf8_valid(ev.data, ev.len))
          abort();
        if (ev.opcode != WEFT__WS_OP_TEXT && ev.opcode != WEFT__WS_OP_BINARY)
          abort();
        check_roundtrip(server, ev.opcode, ev.data, ev.len);
        break;
      case WEFT__WS_EV_PING:
      case WEFT__WS_EV_PONG:
        if (ev.len > 125)
          abort();
        break;
      case WEFT__WS_EV_CLOSE:
        if (ev.code != WEFT__WS_CLOSE_NO_STATUS &&
            !weft__ws_close_code_valid(ev.code))
          abort();
        break;
      case WEFT__WS_EV_ERROR:
        if (!weft__ws_close_code_valid(ev.code) || !ev.what)
          abort();
        break;
      }
    }
  }
  weft__ws_rx_free(&rx);
  free(in);
  return 0;
}
