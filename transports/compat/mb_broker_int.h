/* The MB broker engine's state, shared by its routing core (mb_broker.c)
 * and its system topics (mb_broker_sys.c). Internal to weft_compat. */
#ifndef WEFT_MB_BROKER_INT_H
#define WEFT_MB_BROKER_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "weft/mb_broker.h"

#define WEFT__MB_NBUCKETS 4096u

typedef struct weft__mb_conn_rec {
  weft_mb_conn id;
  char service_id[WEFT_MB_UUID_LEN + 1]; /* the broker's name for it */
  int64_t connected_at;
  int64_t last_heartbeat; /* its last message that parsed */
  int64_t hb_due;         /* heartbeat request due; -1: sent, waiting */
  int64_t dereg_due;      /* silence past this: deregistered */
  bool registered;        /* false once deregistered */
  char *name;             /* "" until it registers */
  char *description;
} weft__mb_conn_rec;

typedef struct weft__mb_sub {
  weft_mb_conn conn;
  weft_mb_action action;
  double priority;
  uint64_t seq; /* order of (re)subscription: ties keep it */
  char topic[WEFT_MB_MAX_TOPIC + 1]; /* canonical: lowercase */
} weft__mb_sub;

typedef struct weft__mb_pending {
  char broker_id[WEFT_MB_UUID_LEN + 1];
  char caller_id[WEFT_MB_UUID_LEN + 1]; /* "" for fire-and-forget */
  char target_service[WEFT_MB_UUID_LEN + 1];
  weft_mb_conn caller;
  weft_mb_conn target;
  int64_t deadline;
  char *topic; /* the caller's header, for the answer */
  char *version;
  struct weft__mb_pending *older, *newer; /* creation order */
  struct weft__mb_pending *hnext;         /* hash chain by broker_id */
} weft__mb_pending;

struct weft_mb_broker {
  weft_mb_broker_opts o;
  uint64_t rng;
  weft__mb_conn_rec *conns; /* in connection order */
  size_t n_conns, cap_conns;
  weft__mb_sub *subs;
  size_t n_subs, cap_subs;
  uint64_t sub_seq;
  weft__mb_pending *oldest, *newest;
  size_t n_pending;
  weft__mb_pending *buckets[WEFT__MB_NBUCKETS];
  int64_t now_ms; /* the latest time a caller passed (audit timestamps) */
};

/* A fresh lowercase UUIDv4 from the engine's PRNG. */
void weft__mb_new_uuid(weft_mb_broker *b, char out[WEFT_MB_UUID_LEN + 1]);
weft__mb_conn_rec *weft__mb_find_conn(const weft_mb_broker *b, weft_mb_conn id);
/* Sends `action:topic:version[:id]\n` + payload (no size limit: forwarded
 * payloads are as large as the frame allowed). */
void weft__mb_send(weft_mb_broker *b, weft_mb_conn conn, weft_mb_action action,
                   const char *topic, const char *version, const char *id,
                   const char *payload, size_t payload_len);
/* An answer to h on conn: `response:<topic>:<version>:<id>`, with h's id or,
 * as the broker does when h has none, a fresh one. */
void weft__mb_reply(weft_mb_broker *b, weft_mb_conn conn,
                    const weft_mb_header *h, const char *payload, size_t len);
void weft__mb_reply_error(weft_mb_broker *b, weft_mb_conn conn,
                          const weft_mb_header *h, weft_mb_code code,
                          const char *message, const char *details_json,
                          int64_t now_ms);
int weft__mb_subscribe(weft_mb_broker *b, weft_mb_conn conn,
                       weft_mb_action action, const char *topic,
                       double priority);
bool weft__mb_unsubscribe(weft_mb_broker *b, weft_mb_conn conn,
                          weft_mb_action action, const char *topic);

/* A message on a `system.` topic, from a registered connection. */
void weft__mb_system(weft_mb_broker *b, weft__mb_conn_rec *c,
                     const weft_mb_message *m, int64_t now_ms);

/* The registry changed: tells registry_changed (mb_broker.c). */
void weft__mb_changed(weft_mb_broker *b);

#endif
