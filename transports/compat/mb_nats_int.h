/* MB requests across nodes through NATS (mb_nats.c), and the hub entry
 * points it calls (mb_hub.c). Internal to weft_compat_ws. */
#ifndef WEFT_MB_NATS_INT_H
#define WEFT_MB_NATS_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "weft/mb.h"
#include "weft/mb_broker.h"
#include "weft/mb_net.h"

/* The hub's virtual connection that requests from other nodes come from
 * (real connections count up from 1). */
#define WEFT__MB_VCONN ((weft_mb_conn)UINT64_MAX)

typedef struct weft__mbnats weft__mbnats;
int weft__mbnats_open(weft__mbnats **out, weft_mb_hub *hub, const char *url,
                      const char *node_id, weft_error *err);
/* Waits for handlers still running (they call into the hub). NULL-safe. */
void weft__mbnats_close(weft__mbnats *n);
/* The broker's callbacks, hub mutex held; they only queue NATS messages. */
int weft__mbnats_request(weft__mbnats *n, const char *broker_id,
                         const weft_mb_header *h, const char *payload,
                         size_t len);
void weft__mbnats_interest(weft__mbnats *n, const char *topic, bool on);
/* A publish for the other nodes (weft_mb_broker_opts.remote_publish). */
int weft__mbnats_publish(weft__mbnats *n, const char *broker_id,
                         const char *msg, size_t len, bool delivered);
void weft__mbnats_publish_interest(weft__mbnats *n, const char *topic, bool on);
/* This node's registry (weft_mb_broker_registry), for the other nodes:
 * sent now, and again whenever a node asks (one that just started). */
void weft__mbnats_registry(weft__mbnats *n, const char *json);
/* The other nodes' registries heard from in the last 3 x
 * WEFT__MB_REGISTRY_MS, as a malloc'd JSON array; NULL if none. */
char *weft__mbnats_registries(weft__mbnats *n, int64_t now_ms);
#define WEFT__MB_REGISTRY_MS 5000
/* A message the broker sent the virtual connection. */
void weft__mbnats_from_broker(weft__mbnats *n, const char *msg, size_t len);

/* mb_hub.c, from libnats threads: take the hub's mutex themselves. */
void weft__mbhub_inject(weft_mb_hub *h, const char *msg, size_t len);
void weft__mbhub_remote_answer(weft_mb_hub *h, const char *broker_id,
                               const char *payload, size_t len);
void weft__mbhub_remote_no_route(weft_mb_hub *h, const char *broker_id);
/* A publish from another node: how many local subscribers got it. */
int weft__mbhub_remote_publish(weft_mb_hub *h, const char *msg, size_t len);

#endif
