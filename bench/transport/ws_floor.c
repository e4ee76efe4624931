/* The floor for bench_ws: the least work a WebSocket echo server can do.
 *
 * One blocking thread, one connection at a time: after the opening
 * handshake it reads whatever has arrived into one buffer, answers every
 * complete frame in it with one send, and reads again. No event loop, no
 * limits, no UTF-8 checks, no fragmentation, no close handshake: nothing a
 * real server may skip. It is not a server to use; it shows how much of a
 * loopback round trip is the kernel's and the client's, which no server can
 * make faster, so a ratio to it says how close to that floor a server is. */
#define _GNU_SOURCE /* strcasestr */
#include "ws_floor.h"

#include <openssl/evp.h>
#include <poll.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static const char kGuid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

static int send_all(int fd, const uint8_t *p, size_t n) {
  while (n) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0)
      return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Reads the upgrade request and answers 101. Returns bytes of frame data
 * already read past the request (moved to the start of buf), or -1. */
static ssize_t handshake(int fd, uint8_t *buf, size_t cap) {
  size_t have = 0;
  char *end = NULL;
  while (!end) {
    if (have + 1 >= cap)
      return -1;
    ssize_t n = recv(fd, buf + have, cap - 1 - have, 0);
    if (n <= 0)
      return -1;
    have += (size_t)n;
    buf[have] = 0;
    end = strstr((char *)buf, "\r\n\r\n");
  }
  const char *k = strcasestr((char *)buf, "\r\nSec-WebSocket-Key:");
  if (!k || k > end)
    return -1;
  k += 20;
  while (*k == ' ')
    k++;
  size_t klen = strcspn(k, "\r ");
  char cat[128];
  if (klen + sizeof kGuid > sizeof cat)
    return -1;
  memcpy(cat, k, klen);
  memcpy(cat + klen, kGuid, sizeof kGuid);
  uint8_t sha[SHA_DIGEST_LENGTH];
  SHA1((const uint8_t *)cat, strlen(cat), sha);
  char acc[64];
  EVP_EncodeBlock((uint8_t *)acc, sha, sizeof sha);
  char resp[256];
  int rn = snprintf(resp, sizeof resp,
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                    "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                    acc);
  if (send_all(fd, (const uint8_t *)resp, (size_t)rn) < 0)
    return -1;
  size_t used = (size_t)(end + 4 - (char *)buf);
  memmove(buf, buf + used, have - used);
  return (ssize_t)(have - used);
}

/* Echoes frames until the peer closes or sends something this floor does
 * not handle (it is only ever driven by bench_ws's client). */
static void echo(int fd, uint8_t *in, size_t cap, size_t have, uint8_t *out) {
  for (;;) {
    size_t pos = 0, olen = 0;
    for (;;) {
      if (have - pos < 2)
        break;
      const uint8_t *h = in + pos;
      uint64_t len = h[1] & 0x7f;
      size_t hl = 2;
      if (len == 126) {
        if (have - pos < 4)
          break;
        len = (uint64_t)h[2] << 8 | h[3];
        hl = 4;
      } else if (len == 127) {
        if (have - pos < 10)
          break;
        len = 0;
        for (int i = 0; i < 8; i++)
          len = len << 8 | h[2 + i];
        hl = 10;
      }
      if (!(h[1] & 0x80) || len > cap / 2)
        return; /* unmasked or too big for this floor */
      if (have - pos < hl + 4 + len)
        break;
      const uint8_t *mask = h + hl;
      const uint8_t *p = mask + 4;
      if ((h[0] & 0x0f) == 0x8)
        return; /* close */
      uint8_t *o = out + olen;
      o[0] = h[0];
      size_t oh = 2;
      if (len < 126) {
        o[1] = (uint8_t)len;
      } else if (len < 65536) {
        o[1] = 126, o[2] = (uint8_t)(len >> 8), o[3] = (uint8_t)len;
        oh = 4;
      } else {
        o[1] = 127;
        for (int i = 0; i < 8; i++)
          o[2 + i] = (uint8_t)(len >> (56 - 8 * i));
        oh = 10;
      }
      for (uint64_t i = 0; i < len; i++)
        o[oh + i] = p[i] ^ mask[i & 3];
      olen += oh + len;
      pos += hl + 4 + len;
      if (olen + cap / 2 + 16 > 2 * cap) {
        if (send_all(fd, out, olen) < 0)
          return;
        olen = 0;
      }
    }
    if (olen && send_all(fd, out, olen) < 0)
      return;
    memmove(in, in + pos, have - pos);
    have -= pos;
    ssize_t n = recv(fd, in + have, cap - have, 0);
    if (n <= 0)
      return;
    have += (size_t)n;
  }
}

void ws_floor_serve(int lfd) {
  size_t cap = (size_t)1 << 20;
  uint8_t *in = malloc(cap + 1), *out = malloc(2 * cap + 64);
  if (!in || !out)
    _exit(1);
  for (;;) {
    /* stdin closing (bench_ws is done) ends the server. */
    struct pollfd pf[2] = {{.fd = lfd, .events = POLLIN},
                           {.fd = 0, .events = POLLIN}};
    if (poll(pf, 2, -1) < 0)
      continue;
    if (pf[1].revents)
      _exit(0);
    int fd = accept(lfd, NULL, NULL);
    if (fd < 0)
      continue;
    ssize_t have = handshake(fd, in, cap);
    if (have >= 0)
      echo(fd, in, cap, (size_t)have, out);
    close(fd);
  }
}
