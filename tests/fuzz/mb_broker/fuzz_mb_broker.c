/* Fuzzes the MB broker engine with a script read from the input:
 *   0x00 c        connect conn c%4+1
 *   0x01 c        disconnect conn c%4+1
 *   0x02 c n1 n2  conn c%4+1 sends the next (n1<<8|n2) bytes as a message;
 *                 with bit 0x04 set, another node's broker does
 *                 (weft_mb_broker_remote_publish); with bit 0x08 set
 *                 instead, the bytes are the other nodes' registries the
 *                 system lists show from then on (remote_registries)
 *   0x03 s        the clock moves s * 1000 ms, then tick; with bit 0x04
 *                 set, the last request or publish handed to another node
 *                 is answered (0x08 clear) or has no route (0x08 set);
 *                 bit 0x10 flips whether other nodes take what the broker
 *                 hands them (at first they do not, as with no NATS)
 * (opcodes taken mod 4). Invariants (abort on violation): every message the
 * broker sends is a valid MB message; outstanding requests never exceed the
 * cap; nothing is sent to a connection that is not open. The clock
 * steps are seconds against a 3 s heartbeat / 6 s silence, so heartbeats,
 * deregistration and request timeouts all happen. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weft/mb_broker.h"

static bool open_conns[5];
static bool take;            /* remote_request / remote_publish accept */
static char last_remote[64]; /* broker id of the last one taken */
static char *others;         /* remote_registries' answer */

static char *on_registries(void *ud) {
  (void)ud;
  size_t n = others ? strlen(others) + 1 : 0;
  char *copy = n ? malloc(n) : NULL; /* (strdup is not C11) */
  if (copy)
    memcpy(copy, others, n);
  return copy;
}

static bool on_remote_request(void *ud, weft_mb_conn from, const char *id,
                              const weft_mb_header *h, const char *payload,
                              size_t len) {
  (void)ud, (void)from, (void)h, (void)payload, (void)len;
  if (take)
    snprintf(last_remote, sizeof last_remote, "%s", id);
  return take;
}

static bool on_remote_publish(void *ud, const char *id, const char *msg,
                              size_t len, bool delivered) {
  (void)ud;
  /* What other nodes get must be a valid publish. */
  weft_mb_message m;
  if (weft_mb_decode(msg, len, WEFT_MB_NO_JSON_CHECK | WEFT_MB_NO_PAYLOAD_LIMIT,
                     &m, NULL, NULL) != 0 ||
      m.header.action != WEFT_MB_PUBLISH || (delivered != (id == NULL)))
    abort();
  if (take && id)
    snprintf(last_remote, sizeof last_remote, "%s", id);
  return take;
}

static void on_interest(void *ud, const char *topic, bool on) {
  (void)ud, (void)topic, (void)on;
}

static void on_send(void *ud, weft_mb_conn conn, const char *msg, size_t len) {
  (void)ud;
  if (conn < 1 || conn > 4 || !open_conns[conn])
    abort();
  /* Payloads are forwarded as they came (no JSON check, no system-topic
   * limit); the header is always the broker's own. */
  weft_mb_message m;
  if (weft_mb_decode(msg, len, WEFT_MB_NO_JSON_CHECK | WEFT_MB_NO_PAYLOAD_LIMIT,
                     &m, NULL, NULL) != 0)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  memset(open_conns, 0, sizeof open_conns);
  take = false;
  last_remote[0] = '\0';
  weft_mb_broker_opts o = {0};
  o.max_pending = 4;
  o.heartbeat_interval_ms = 3000;
  o.silence_timeout_ms = 6000;
  o.seed = 1;
  o.send = on_send;
  o.remote_request = on_remote_request;
  o.remote_publish = on_remote_publish;
  o.request_interest = on_interest;
  o.publish_interest = on_interest;
  o.remote_registries = on_registries;
  weft_mb_broker *b = NULL;
  if (weft_mb_broker_new(&b, &o) != 0)
    return 0;
  int64_t now = 1795435200000LL;
  size_t i = 0;
  while (i + 1 < size) {
    uint8_t op = data[i] & 3;
    weft_mb_conn c = (weft_mb_conn)(data[i + 1] % 4 + 1);
    i += 2;
    switch (op) {
    case 0: {
      /* Open before the call: the greeting is sent from inside it. */
      bool was = open_conns[c];
      open_conns[c] = true;
      if (weft_mb_broker_connect(b, c, now) != 0)
        open_conns[c] = was;
      break;
    }
    case 1:
      open_conns[c] = false;
      weft_mb_broker_disconnect(b, c);
      break;
    case 2: {
      if (i + 2 > size)
        goto done;
      size_t n = (size_t)data[i] << 8 | data[i + 1];
      i += 2;
      if (n > size - i)
        n = size - i;
      if (data[i - 4] & 8) {
        free(others);
        others = malloc(n + 1);
        if (others) {
          memcpy(others, data + i, n);
          others[n] = '\0';
        }
      } else if (data[i - 4] & 4) {
        int rv =
            weft_mb_broker_remote_publish(b, (const char *)data + i, n, now);
        if (rv < 0 && rv != WEFT_ERR_PROTOCOL)
          abort();
      } else {
        int rv = weft_mb_broker_receive(b, c, (const char *)data + i, n, now);
        if (rv != 0 && (rv != WEFT_ERR_STATE || open_conns[c]))
          abort();
      }
      i += n;
      break;
    }
    default:
      if (data[i - 2] & 0x10)
        take = !take;
      if ((data[i - 2] & 4) && last_remote[0]) {
        static const char ack[] = "{\"status\":\"success\"}";
        if (data[i - 2] & 8)
          weft_mb_broker_remote_no_route(b, last_remote, now);
        else
          weft_mb_broker_remote_answer(b, last_remote, ack, sizeof ack - 1,
                                       now);
      }
      now += (int64_t)data[i - 1] * 1000;
      weft_mb_broker_tick(b, now);
      break;
    }
    if (weft_mb_broker_pending(b) > 4)
      abort();
  }
done:
  weft_mb_broker_free(b);
  free(others);
  others = NULL;
  return 0;
}
