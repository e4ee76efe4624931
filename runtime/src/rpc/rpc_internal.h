/* Internal to weft_rpc: what the runtime's files share. */
#ifndef WEFT_RPC_INTERNAL_H
#define WEFT_RPC_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "weft/arena.h"
#include "weft/client.h"
#include "weft/server.h"
#include "weft/transport.h"

/* registry.c: registration without triggering weft_transports_init(). */
int weft__register_client_transport(const weft_client_transport *t);
int weft__register_server_transport(const weft_server_transport *t);

/* status_map.c: the status a local error turns into. server_side picks
 * INVALID_ARGUMENT (a request we could not decode) over INTERNAL (a
 * response the client could not decode). */
int weft__status_from_error(int err, bool server_side);

/* clock.c: condition variables on CLOCK_MONOTONIC, and the timespec for
 * an absolute monotonic deadline in ns (INT64_MAX: far future). */
void weft__cond_init(pthread_cond_t *cv);
void weft__mono_timespec(struct timespec *ts, int64_t deadline_ns);
/* Waits until signalled or deadline_ns; deadline INT64_MAX waits forever. */
void weft__cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu,
                           int64_t deadline_ns);

/* pool.c */
typedef struct weft__pool weft__pool;
int weft__pool_new(weft__pool **out, unsigned nthreads, size_t max_queue);
/* The same with no thread at first: one is made whenever a job waits and
 * no worker is idle, up to max_threads (they stay until the pool is freed). */
int weft__pool_new_lazy(weft__pool **out, unsigned max_threads,
                        size_t max_queue);
/* WEFT_ERR_LIMIT: the backlog is full; WEFT_ERR_STATE: stopping. */
int weft__pool_submit(weft__pool *p, void (*fn)(void *), void *ud);
/* The same for a job of `source` (a transport's call ops): once shares are
 * on, one source's backlog is also bounded by the share (WEFT_ERR_LIMIT),
 * so it cannot take the whole queue from the others. */
int weft__pool_submit_from(weft__pool *p, const void *source,
                           void (*fn)(void *), void *ud);
/* Bounds each source's backlog to `share` jobs (0: no bound). */
void weft__pool_set_share(weft__pool *p, size_t share);
/* The same, past the backlog bound: for the runtime's own jobs, which are
 * bounded by the calls in flight (at most one drain per call). */
int weft__pool_post(weft__pool *p, void (*fn)(void *), void *ud);
/* The owner's timers, run by the pool's idle workers instead of a thread
 * of their own: tick(ud) runs on one idle worker at a time once due, and
 * returns the next due time (CLOCK_MONOTONIC ns; INT64_MAX: none until a
 * kick). NULL tick unhooks, after waiting for a tick that is running (so
 * never call it from a worker of p). */
void weft__pool_set_ticker(weft__pool *p, int64_t (*tick)(void *ud), void *ud);
/* tick must run by `due` (earlier than it said): wakes the keeper, or an
 * idle worker to become one. */
void weft__pool_kick(weft__pool *p, int64_t due);
void weft__pool_free(weft__pool *p);

/* client_loop.c: runs fn(ud) on the process-wide connector thread (for
 * blocking reconnect attempts; the caller holds a client loop reference). */
int weft__client_connector_post(void (*fn)(void *), void *ud);

/* backoff.c: a small seeded PRNG (splitmix64) so tests can make jitter
 * deterministic, and the delay before attempt n (0-based):
 *   d = min(cap, base * factor^n); delay uniform in [d * (1 - jitter), d]. */
typedef struct weft__rng {
  uint64_t s;
} weft__rng;
uint64_t weft__rng_next(weft__rng *r);
int64_t weft__backoff_ms(int64_t base_ms, double factor, int64_t cap_ms,
                         double jitter, int attempt, weft__rng *r);

/* breaker.c: a per-endpoint circuit breaker. */
typedef enum {
  WEFT__BREAKER_CLOSED = 0,
  WEFT__BREAKER_OPEN,
  WEFT__BREAKER_HALF_OPEN
} weft__breaker_state;
typedef struct weft__breaker {
  pthread_mutex_t mu;
  int threshold; /* 0: disabled */
  int64_t reset_ns;
  int failures; /* consecutive */
  weft__breaker_state state;
  int64_t opened_at;
  bool probe_out; /* half-open: the one trial call is in flight */
} weft__breaker;
void weft__breaker_init(weft__breaker *b, int threshold, int64_t reset_ms);
void weft__breaker_destroy(weft__breaker *b);
/* 0: go ahead (*probe set if this is the half-open trial call);
 * WEFT_ERR_AGAIN: open, fail fast. */
int weft__breaker_allow(weft__breaker *b, int64_t now, bool *probe);
/* code: the call's final status code. Only endpoint-health codes
 * (UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL, UNKNOWN, DATA_LOSS) count as
 * failures; an application error (NOT_FOUND...) proves the endpoint works. */
void weft__breaker_record(weft__breaker *b, int code, bool probe, int64_t now);
bool weft__breaker_counts_as_failure(int code);

/* files.c: message types the runtime has seen (through services and
 * methods), for resolving Any type URLs without the JSON registry. */
void weft__note_file(const weft_file_desc *f);
const weft_msg_desc *weft__find_message(const char *full_name);

/* server.c <-> pubsub_server.c (struct weft_server_call: server_call.h) */
typedef struct weft__pubsub weft__pubsub;
/* With opts->nats_url, connects to NATS first (err says why not). */
int weft__pubsub_new(weft__pubsub **out, weft_server *s,
                     const weft_server_opts *opts, weft_error *err);
/* Marks every subscription to end (UNAVAILABLE); does not wait. */
void weft__pubsub_shutdown(weft__pubsub *ps);
void weft__pubsub_free(weft__pubsub *ps);
int weft__pubsub_publish(weft__pubsub *ps, const char *topic, const void *msg,
                         unsigned *delivered);
const weft_service_desc *weft__pubsub_service(void);
int weft__pubsub_add(weft_server *s);
weft__pubsub *weft__server_pubsub(weft_server *s);

/* pubsub_nats.c: pub/sub across nodes through NATS (bytes only; the
 * encoding is pubsub_server.c's). on_msg runs on libnats's delivery
 * thread and must not block. Every call but open answers WEFT_ERR_CONNECT
 * while the NATS connection is down. */
#define WEFT__PS_SUBJECT_PREFIX "weft.ps."
ssize_t weft__ps_subject(const char *topic, char *out, size_t cap);
typedef struct weft__psnats weft__psnats;
typedef void (*weft__psnats_msg_fn)(void *ud, const uint8_t *data, size_t len);
/* need_js: durable topics are configured, so JetStream must be there. */
int weft__psnats_open(weft__psnats **out, const weft_server *s, const char *url,
                      const char *node_id, bool need_js,
                      weft__psnats_msg_fn on_msg, void *ud, weft_error *err);
bool weft__psnats_connected(weft__psnats *n);
int weft__psnats_publish(weft__psnats *n, const char *topic,
                         const uint8_t *data, size_t len);
/* Counts a local subscriber of topic; the first one subscribes on NATS.
 * Returns once the NATS server has the subscription. */
int weft__psnats_watch(weft__psnats *n, const char *topic);
void weft__psnats_unwatch(weft__psnats *n, const char *topic);
/* Waits for running handlers (and follows' done); n may be NULL. */
void weft__psnats_close(weft__psnats *n);
/* Durable topics: one JetStream stream per topic, whose sequence numbers
 * are the topic's event sequence on every node. js_publish returns once
 * the stream has stored the event, with its sequence. */
int weft__psnats_js_publish(weft__psnats *n, const char *topic,
                            const uint8_t *data, size_t len, uint64_t *seq);
/* The stream's first and last stored sequences (0 0: empty). */
int weft__psnats_js_position(weft__psnats *n, const char *topic,
                             uint64_t *first, uint64_t *last);
/* Delivers topic's stored events from sequence start on, in order, once
 * each, to fn on libnats's delivery thread (fn must not block), until
 * unfollow; then done(ud) runs once, after fn's last return. */
typedef struct weft__psfollow weft__psfollow;
typedef void (*weft__psfollow_fn)(void *ud, uint64_t seq, const uint8_t *data,
                                  size_t len);
int weft__psnats_js_follow(weft__psnats *n, const char *topic, uint64_t start,
                           weft__psfollow_fn fn, void (*done)(void *ud),
                           void *ud, weft__psfollow **out);
/* Safe from fn itself. */
void weft__psnats_js_unfollow(weft__psfollow *f);

void weft__server_log(const weft_server *s, int level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#endif
