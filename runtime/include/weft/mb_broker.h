/* An MB-compatible broker as an I/O-free engine.
 *
 * weft's server can stand in for an MB broker; this is its core, with no
 * sockets, threads or clocks: the server feeds it each connection's arrival,
 * every MB message received (already deframed) and the current time, and it
 * answers through a send callback. So routing, id rewriting, heartbeats and
 * limits are tested with plain function calls, and the same engine serves
 * MB on TCP and on WebSocket.
 *
 * Behaviour:
 *  - every new connection is greeted with `publish:system.initialize:1.0.0`
 *    and `{}`;
 *  - system.service.register / system.topic.subscribe /
 *    system.topic.unsubscribe are applied and acknowledged with
 *    {"status":"success"} when they carry a request id;
 *  - a request goes to the highest-priority subscriber of its topic (random
 *    among equals) under a new broker-generated request id; the response is
 *    rewritten back to the caller's id. No subscriber: NO_ROUTE_FOUND. No
 *    response within the request's timeout: TIMEOUT;
 *  - a publish reaches every subscriber of its topic, and is acknowledged
 *    with {"status":"success"} when it carried a request id;
 *  - the broker sends `request:system.heartbeat` to a connection 30 s after
 *    the last one, and deregisters it (subscriptions and registration gone)
 *    after 60 s in which it sent nothing;
 *  - at most 10,000 requests are outstanding: beyond that the oldest fails
 *    with SERVICE_UNAVAILABLE.
 * Messages that break the format get an MB error response (weft/mb.h).
 *
 * Not thread-safe: call it from one thread (the connection's event loop). */
#ifndef WEFT_MB_BROKER_H
#define WEFT_MB_BROKER_H

#include <stddef.h>
#include <stdint.h>

#include "weft/error.h"
#include "weft/mb.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_mb_broker weft_mb_broker;
/* The server's name for a connection (any value but 0). */
typedef uint64_t weft_mb_conn;

typedef struct weft_mb_broker_opts {
  size_t max_pending;            /* 0: 10000 */
  int64_t heartbeat_interval_ms; /* 0: 30000 */
  int64_t silence_timeout_ms;    /* 0: 60000 */
  uint64_t seed; /* PRNG seed for request ids and ties; 0: from the clock */
  /* One whole MB message (header, '\n', payload) to write to conn; the
   * transport frames it (TCP length prefix, or one WebSocket text message).
   * msg is only valid during the call. */
  void (*send)(void *ud, weft_mb_conn conn, const char *msg, size_t len);
  /* Optional: conn went silent past silence_timeout_ms and was
   * deregistered; the server may close it. */
  void (*deregistered)(void *ud, weft_mb_conn conn);
  void *ud;
} weft_mb_broker_opts;

int weft_mb_broker_new(weft_mb_broker **out, const weft_mb_broker_opts *opts);
/* Accepts NULL. */
void weft_mb_broker_free(weft_mb_broker *b);

/* A connection opened: registers it and sends the greeting. */
int weft_mb_broker_connect(weft_mb_broker *b, weft_mb_conn conn,
                           int64_t now_ms);
/* A connection closed: drops its registration and subscriptions; requests
 * it was serving fail with SERVICE_UNAVAILABLE; its own outstanding requests
 * are forgotten. */
void weft_mb_broker_disconnect(weft_mb_broker *b, weft_mb_conn conn);

/* One MB message received on conn. Returns 0 when handled (including
 * when it was answered with an MB error response), WEFT_ERR_STATE for an
 * unknown conn, WEFT_ERR_NOMEM. */
int weft_mb_broker_receive(weft_mb_broker *b, weft_mb_conn conn,
                           const char *msg, size_t len, int64_t now_ms);

/* Runs what is due at now_ms: request timeouts, heartbeats, deregistration.
 * Returns the milliseconds until the next thing is due (-1: nothing). */
int64_t weft_mb_broker_tick(weft_mb_broker *b, int64_t now_ms);

/* Introspection for tests and metrics. */
size_t weft_mb_broker_pending(const weft_mb_broker *b);
size_t weft_mb_broker_subscribers(const weft_mb_broker *b, weft_mb_action a,
                                  const char *topic);
/* The name conn registered with, or NULL. */
const char *weft_mb_broker_service_name(const weft_mb_broker *b,
                                        weft_mb_conn conn);

#ifdef __cplusplus
}
#endif
#endif
