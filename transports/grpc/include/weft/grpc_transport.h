/* Options specific to the gRPC transport (grpc:// and grpcs://), which runs
 * weft's client and server interface on gRPC core's C API. Pass a pointer to
 * a weft_grpc_opts, initialized with WEFT_GRPC_OPTS_INIT, as
 * weft_client_opts.transport_opts or weft_server_opts.transport_opts (alone,
 * or chained with other transports' options, weft/opts.h); NULL means the
 * defaults below.
 *
 * Besides the generic options (max_message_size, keepalive_ms, tls) the
 * transport honours:
 *  - compression: gzip is always accepted; `gzip` also compresses what this
 *    side sends (when the peer accepts gzip);
 *  - keepalive: keepalive_ms of the client/server opts is gRPC's keepalive
 *    time; the timeout and "permit without calls" are here;
 *  - server threads: a listener's calls are spread over `cq_threads`
 *    completion queues, each drained by runtime threads that run handlers
 *    themselves, C++ sync server style (or, with `pool_handlers`, on the
 *    runtime's workers).
 *  - the grpc.health.v1.Health and grpc.reflection.v1alpha.ServerReflection
 *    services that a grpc:// listener adds to its server unless disabled;
 *  - the streams a client may open at once on one connection (100).
 *
 * Ownership: the caller owns the struct; its values are read when a client
 * connects (again at each reconnect) or a listener starts, and are not kept
 * after that. Keep it alive as client.h and server.h ask of
 * transport_opts. A malformed chain is refused with WEFT_ERR_INVAL by
 * weft_client_open / weft_server_listen.
 */
#ifndef WEFT_GRPC_TRANSPORT_H
#define WEFT_GRPC_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "weft/opts.h"
#include "weft/server.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_grpc_opts {
  weft_opts_hdr hdr;            /* tag WEFT_GRPC_OPTS_TAG (weft/opts.h) */
  bool gzip;                    /* compress outgoing messages */
  int64_t keepalive_timeout_ms; /* 0: 20000 */
  bool keepalive_permit_without_calls;
  /* Server: completion queues of a listener; 0: one per core, at least 4.
   * A listener's calls are spread over them, and each completion costs
   * gRPC core work in proportion to its queue's open calls (Debian's
   * libgrpc checks every completion against the queue's outstanding
   * operations), so 10,000 open streams are cheaper on several queues. */
  unsigned cq_threads;
  /* Server threads. By default the queue threads run handlers themselves,
   * as gRPC's C++ sync server does: one thread stays polling each queue,
   * and another is started when a call takes a queue's last one (up to
   * weft_server_opts.worker_threads, or 2 per core, and at least one more
   * than the queues); a call that would leave its queue with nobody
   * polling and no thread left to start goes to the runtime's worker pool
   * instead, so a blocking handler never stalls a queue. pool_handlers:
   * one thread per queue, and every call goes to the worker pool (one
   * thread hop per call more; the pool's queue bound then applies to
   * every call). */
  bool pool_handlers;
  unsigned calls_requested_ahead; /* server, per queue: 0: 16 */
  bool no_health;                 /* server: don't add grpc.health.v1 */
  bool no_reflection;             /* server: don't add reflection */
  /* Server: SETTINGS_MAX_CONCURRENT_STREAMS, the streams one connection may
   * have open at once (more are refused); 0: 100, as h2c:// and https://.
   * Without a bound, one connection could open thousands of calls, each
   * costing gRPC core's memory and a place in the worker queue. */
  unsigned max_concurrent_streams;
} weft_grpc_opts;

#define WEFT_GRPC_OPTS_INIT                                                    \
  { WEFT_OPTS_INIT_HDR_MEMBER(WEFT_GRPC_OPTS_TAG) }

/* Health status reported by grpc.health.v1.Health for `service` ("" is the
 * whole server). Services registered with the server start SERVING; this
 * overrides it (serving = false: NOT_SERVING) and wakes Watch streams.
 * service is copied. Any thread; may be called before the grpc:// listener
 * starts. Returns 0, WEFT_ERR_INVAL (s or service NULL, or service 200
 * bytes or longer), or WEFT_ERR_LIMIT (32 overrides for this server, or 32
 * servers with overrides in the process). The overrides are kept in a
 * process-wide table keyed by the server, not in the server: they are
 * dropped when a grpc:// listener of the server closes. */
int weft_grpc_health_set(weft_server *s, const char *service, bool serving);

#ifdef __cplusplus
}
#endif
#endif
