/* An MB-compatible broker as an I/O-free engine.
 *
 * weft's server can stand in for an MB broker; this is its core, with no
 * sockets, threads or clocks: the server feeds it each connection's arrival,
 * every MB message received (already deframed) and the current time, and it
 * answers through a send callback. So routing, id rewriting, heartbeats and
 * limits are tested with plain function calls, and the same engine serves
 * MB on TCP and on WebSocket.
 *
 * Behaviour: that of the MB broker (mb-server-node), which weft replaces
 * byte for byte; docs/COMPAT.md lists the rules and the few differences.
 *  - every new connection is greeted with `publish:system.initialize:1.0.0`
 *    and `{}`, and gets a service id (a UUID);
 *  - system topics (`system.heartbeat`, `.service.register`, `.service.list`,
 *    `.service.subscriptions`, `.topic.subscribe`, `.topic.unsubscribe`,
 *    `.topic.list`, `.topic.subscriptions`, `.log.subscribe`,
 *    `.log.unsubscribe`, `.metrics`) take requests only and are answered on
 *    `response:<topic>:<version>:<id>` (a fresh id when the request had
 *    none);
 *  - a publish goes to every publish-subscriber of its topic (matched
 *    lowercase) as `publish:<topic>:<version>:<new id>`; none: NO_ROUTE_FOUND;
 *    a publish with an id is acknowledged {"status":"success"};
 *  - a request goes to one of the highest-priority request-subscribers
 *    (random among equals) as `request:<topic>:<version>:<new id>`; the
 *    response from that subscriber is passed back under the caller's topic,
 *    version and id. None: NO_ROUTE_FOUND. No response within the request's
 *    timeout (default 5000 ms) - also when the service went away: TIMEOUT
 *    with details.targetServiceId. A request without an id is
 *    fire-and-forget: routed, its answer dropped;
 *  - a response to no outstanding request: INVALID_REQUEST_ID;
 *  - a header that does not parse: `response:error:1.0.0`,
 *    MALFORMED_MESSAGE;
 *  - `request:system.heartbeat:1.0.0` (no id) goes to a connection
 *    heartbeat_interval_ms after its last message that parsed; after
 *    silence_timeout_ms it is deregistered (subscriptions dropped,
 *    `deregistered` callback: the transport closes it);
 *  - at most max_pending requests are outstanding: beyond that the oldest
 *    fails with SERVICE_UNAVAILABLE.
 * Not thread-safe: call it from one thread (the connection's event loop).
 *
 * Ownership: the broker copies every message it keeps (msg passed to
 * receive is only read during the call); what it hands to `send` lives
 * only during that call. The callbacks run synchronously inside connect,
 * receive and tick. */
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
  size_t max_pending; /* 0: 10000 */
  /* A heartbeat request goes out this long after a connection's last
   * message; 0: 30000. */
  int64_t heartbeat_interval_ms;
  /* Silent this long: deregistered; 0: 60000. */
  int64_t silence_timeout_ms;
  uint64_t seed; /* PRNG seed for request ids and ties; 0: from the clock */
  /* One whole MB message (header, '\n', payload) to write to conn; the
   * transport frames it (TCP length prefix, or one WebSocket text message).
   * msg is only valid during the call. */
  void (*send)(void *ud, weft_mb_conn conn, const char *msg, size_t len);
  /* Optional: conn went silent past silence_timeout_ms and was
   * deregistered; the server may close it. */
  void (*deregistered)(void *ud, weft_mb_conn conn);
  void *ud;
  /* Optional, for brokers of several nodes (docs/CLUSTER.md): a request
   * (not system.) whose topic has no request-subscriber here is offered to
   * remote_request before NO_ROUTE_FOUND; returning true takes it. The
   * broker then waits for weft_mb_broker_remote_answer (or _no_route) for
   * broker_id until the request's deadline, and answers TIMEOUT after it,
   * as for a local service (details.targetServiceId is ""). h and payload
   * are valid during the call only; from is the caller. */
  bool (*remote_request)(void *ud, weft_mb_conn from, const char *broker_id,
                         const weft_mb_header *h, const char *payload,
                         size_t len);
  /* Optional: the first request-subscriber of a topic (lowercase) came
   * (on) or the last one left (off): a node serves that topic for the
   * others from now on, or no longer. */
  void (*request_interest)(void *ud, const char *topic, bool on);
  /* Optional, for brokers of several nodes: a publish (not system.) from
   * a connection of this broker, handed on for the other nodes after the
   * local subscribers got it. msg (len bytes, valid during the call only)
   * is the message as other brokers take it (weft_mb_broker_remote_publish):
   * the id of this publish's copies, the publisher's request id as parent.
   * delivered: a local subscriber got it (the publisher is acknowledged
   * now, and the return value is ignored). When none did, returning true
   * makes the broker wait under broker_id, as for a request, for
   * weft_mb_broker_remote_answer (a node that delivered it acknowledges)
   * or _no_route (no node has a subscriber) before it answers the
   * publisher; false answers NO_ROUTE_FOUND at once. broker_id is NULL
   * when delivered. */
  bool (*remote_publish)(void *ud, const char *broker_id, const char *msg,
                         size_t len, bool delivered);
  /* Optional: the first publish-subscriber of a topic (lowercase) came
   * (on) or the last one left (off). */
  void (*publish_interest)(void *ud, const char *topic, bool on);
  /* Optional, for brokers of several nodes: the other nodes' services and
   * subscriptions, which system.service.list, system.topic.list,
   * system.topic.subscriptions and system.service.subscriptions show after
   * this broker's own. Returns a malloc'd JSON array of registries as
   * weft_mb_broker_registry writes them, or NULL (none); the broker frees
   * it. */
  char *(*remote_registries)(void *ud);
  /* Optional: this broker's services or subscriptions changed (a
   * connection came, went or was deregistered, a service registered, a
   * subscription came or went): weft_mb_broker_registry has news. */
  void (*registry_changed)(void *ud);
} weft_mb_broker_opts;

/* opts is copied; ud must live as long as the broker. opts->send is
 * required. Messages that cannot be allocated are dropped, not reported.
 * On success *out is a new broker that the caller frees with
 * weft_mb_broker_free(). Returns 0, WEFT_ERR_INVAL (out or opts NULL, or
 * no opts->send) or WEFT_ERR_NOMEM; *out is untouched on failure. */
int weft_mb_broker_new(weft_mb_broker **out, const weft_mb_broker_opts *opts);
/* Frees the broker, its connections' records and pending requests (no
 * callback runs). Accepts NULL. */
void weft_mb_broker_free(weft_mb_broker *b);

/* A connection opened: registers it and sends the greeting (through
 * `send`, before this returns). Returns 0, WEFT_ERR_INVAL (conn is 0 or
 * already connected) or WEFT_ERR_NOMEM. */
int weft_mb_broker_connect(weft_mb_broker *b, weft_mb_conn conn,
                           int64_t now_ms);
/* A connection closed: drops its registration and subscriptions; requests
 * it was serving stay until their deadline (then TIMEOUT, as the broker
 * does); its own outstanding requests are forgotten. An unknown conn is
 * ignored. Sends nothing. */
void weft_mb_broker_disconnect(weft_mb_broker *b, weft_mb_conn conn);

/* One MB message received on conn. Returns 0 when handled (including
 * when it was answered with an MB error response), WEFT_ERR_STATE for an
 * unknown conn, WEFT_ERR_NOMEM (a request could not be recorded). A
 * message from a deregistered connection is ignored (0). */
int weft_mb_broker_receive(weft_mb_broker *b, weft_mb_conn conn,
                           const char *msg, size_t len, int64_t now_ms);

/* A remote node's answer to a request remote_request took: payload is
 * the body of the response its broker sent (a service's answer or an MB
 * error object), passed to the caller as a local service's would be (the
 * fire-and-forget rule included). WEFT_ERR_STATE: no such request any more
 * (it timed out meanwhile); nothing is sent then. */
int weft_mb_broker_remote_answer(weft_mb_broker *b, const char *broker_id,
                                 const char *payload, size_t len,
                                 int64_t now_ms);
/* No node serves the request's topic after all: NO_ROUTE_FOUND to its
 * caller. WEFT_ERR_STATE as above. */
int weft_mb_broker_remote_no_route(weft_mb_broker *b, const char *broker_id,
                                   int64_t now_ms);

/* A publish another node's broker handed to its remote_publish (msg as it
 * was given there): sent to this broker's subscribers of its topic under
 * its id. Returns how many got it (0: none), or WEFT_ERR_PROTOCOL when msg is
 * not a publish message. */
int weft_mb_broker_remote_publish(weft_mb_broker *b, const char *msg,
                                  size_t len, int64_t now_ms);

/* This broker's registered services and their subscriptions, for other
 * nodes (remote_registries): {"services": [{"id", "name", "description",
 * "connectedAt", "lastHeartbeat"}], "subscriptions": [{"action", "topic",
 * "serviceId"[, "priority"]}]}, subscriptions in the order the lists show
 * them. malloc'd (the caller frees it); NULL when out of memory. */
char *weft_mb_broker_registry(const weft_mb_broker *b);

/* Runs what is due at now_ms: request timeouts, heartbeats, deregistration.
 * Returns the milliseconds until the next thing is due (-1: nothing; 0:
 * already due). Cannot fail: a reply that cannot be built is dropped. */
int64_t weft_mb_broker_tick(weft_mb_broker *b, int64_t now_ms);

/* Introspection for tests and metrics (no error codes). subscribers
 * matches topic lowercase, as routing does. */
size_t weft_mb_broker_pending(const weft_mb_broker *b);
size_t weft_mb_broker_subscribers(const weft_mb_broker *b, weft_mb_action a,
                                  const char *topic);
/* The name conn registered with, or NULL (none yet, unknown or
 * deregistered conn). Like service_id below, the string belongs to the
 * broker: valid until the next call into the broker. */
const char *weft_mb_broker_service_name(const weft_mb_broker *b,
                                        weft_mb_conn conn);
/* The service id the broker gave conn (a UUID), or NULL. */
const char *weft_mb_broker_service_id(const weft_mb_broker *b,
                                      weft_mb_conn conn);

#ifdef __cplusplus
}
#endif
#endif
