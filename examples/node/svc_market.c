/* aitbc.v1.Marketplace: GPU offers. Status "open" -> "matched"
 * (AcceptOffer), "expired" (after --offer-ttl-ms; seeded offers never
 * expire) or "cancelled" (DeleteOffer, after which the offer is gone).
 * Events: new_offer, offer_matched, offer_expired, offer_cancelled,
 * price_update. */
#define _DEFAULT_SOURCE /* timegm */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "state.h"

static nd_offer *add_offer(const char *provider, const char *gpu, uint32_t mem,
                           uint32_t count, double price, const char *currency,
                           const char *region, int64_t ttl_ms) {
  nd_offer *o = nd_xcalloc(sizeof *o);
  nd_new_id("offer", o->id, sizeof o->id);
  snprintf(o->provider, sizeof o->provider, "%s", provider);
  snprintf(o->gpu_type, sizeof o->gpu_type, "%s", gpu);
  snprintf(o->currency, sizeof o->currency, "%s", currency);
  snprintf(o->region, sizeof o->region, "%s", region);
  snprintf(o->status, sizeof o->status, "open");
  o->gpu_memory = mem;
  o->gpu_count = count;
  o->price = price;
  nd_now_text(o->created_at);
  o->expires_ns = ttl_ms > 0 ? nd_now_ns() + ttl_ms * 1000000 : 0;
  ND_PUSH(nd_st.offers, o);
  nd_push_event(ND_EV_MARKET, "new_offer", nd_st.offers.n - 1);
  return o;
}

void nd_seed_offers(void) {
  const char *me = nd_st.wallets.v[0]->address;
  add_offer(me, "RTX 4090", 24, 2, 0.45, ND_TOKEN, "eu-west", 0);
  add_offer("aitbc1provider0002", "A100", 80, 8, 1.9, ND_TOKEN, "us-east", 0);
  add_offer("aitbc1provider0003", "H100", 80, 4, 2.6, ND_TOKEN, "ap-south", 0);
}

void nd_market_tick(int64_t now) {
  for (size_t i = 0; i < nd_st.offers.n; i++) {
    nd_offer *o = nd_st.offers.v[i];
    if (!o->deleted && o->expires_ns && now >= o->expires_ns &&
        !strcmp(o->status, "open")) {
      snprintf(o->status, sizeof o->status, "expired");
      nd_push_event(ND_EV_MARKET, "offer_expired", i);
    }
  }
}

static void fill(weft_arena *a, const nd_offer *o, aitbc__v1__Offer *out) {
  out->id = nd_adup(a, o->id);
  out->provider = nd_adup(a, o->provider);
  out->gpu_type = nd_adup(a, o->gpu_type);
  out->gpu_memory = o->gpu_memory;
  out->gpu_count = o->gpu_count;
  out->price_per_hour = o->price;
  out->currency = nd_adup(a, o->currency);
  out->region = nd_adup(a, o->region);
  out->status = nd_adup(a, o->status);
  out->created_at = nd_adup(a, o->created_at);
}

static int no_offer(weft_server_call *call, const char *id) {
  if (!id || !*id)
    return nd_fail(call, WEFT_STATUS_INVALID_ARGUMENT, "offer_id is required");
  return nd_fail(call, WEFT_STATUS_NOT_FOUND, "offer %s not found", id);
}

static bool empty(const char *s) {
  return !s || !*s;
}

static size_t index_of_any(const nd_offer *o) {
  for (size_t i = 0; i < nd_st.offers.n; i++)
    if (nd_st.offers.v[i] == o)
      return i;
  return 0;
}

/* ---- with --nats: the offers bucket is the state (state_kv.c) ----
 * A deleted offer stays in the bucket as "cancelled" and is not found.
 * The leader expires open offers --offer-ttl-ms after their created_at
 * (its own --offer-ttl-ms; seeds never expire). Every node's watcher
 * applies each change to its mirror (nd_offer_apply), which turns it into
 * the WatchEvents event, so a watch on any node sees every node's
 * changes. */

static nd_offer *find_any(const char *id) {
  for (size_t i = 0; i < nd_st.offers.n; i++)
    if (!strcmp(nd_st.offers.v[i]->id, id))
      return nd_st.offers.v[i];
  return NULL;
}

void nd_offer_apply(const aitbc__v1__Offer *m, bool quiet) {
  if (empty(m->id))
    return;
  nd_offer *o = find_any(m->id);
  const char *type = "offer_updated", *status = m->status ? m->status : "";
  if (!o) {
    o = nd_xcalloc(sizeof *o);
    snprintf(o->id, sizeof o->id, "%s", m->id);
    o->kv = true;
    ND_PUSH(nd_st.offers, o);
    type = "new_offer";
  } else if (strcmp(o->status, status)) {
    type = !strcmp(status, "matched")     ? "offer_matched"
           : !strcmp(status, "expired")   ? "offer_expired"
           : !strcmp(status, "cancelled") ? "offer_cancelled"
                                          : "offer_updated";
  } else if (o->price != m->price_per_hour) {
    type = "price_update";
  }
  snprintf(o->provider, sizeof o->provider, "%s", m->provider);
  snprintf(o->gpu_type, sizeof o->gpu_type, "%s", m->gpu_type);
  snprintf(o->currency, sizeof o->currency, "%s", m->currency);
  snprintf(o->region, sizeof o->region, "%s", m->region);
  snprintf(o->status, sizeof o->status, "%s", status);
  snprintf(o->created_at, sizeof o->created_at, "%s", m->created_at);
  o->gpu_memory = m->gpu_memory;
  o->gpu_count = m->gpu_count;
  o->price = m->price_per_hour;
  o->deleted = !strcmp(status, "cancelled");
  if (!quiet)
    nd_push_event(ND_EV_MARKET, type, index_of_any(o));
}

/* created_at (RFC 3339 UTC, as nd_now_text writes it) in Unix ms; -1 when
 * it is not that. */
static int64_t created_ms(const char *t) {
  struct tm tm = {0};
  int ms = 0, n = 0;
  if (!t ||
      sscanf(t, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &tm.tm_year, &tm.tm_mon,
             &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms, &n) != 7 ||
      !n)
    return -1;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return (int64_t)timegm(&tm) * 1000 + ms;
}

static int expire_mut(weft_server_call *call, void *msg, void *arg) {
  (void)call;
  aitbc__v1__Offer *o = msg;
  int64_t now = *(const int64_t *)arg, at = created_ms(o->created_at);
  if (strcmp(o->status ? o->status : "", "open") || at < 0 ||
      now < at + nd_st.cfg.offer_ttl_ms)
    return ND_KV_KEEP; /* changed since the list was read */
  o->status = "expired";
  return 0;
}

void nd_market_kv_tick(weft_arena *a) {
  if (nd_st.cfg.offer_ttl_ms <= 0)
    return;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
  /* The due ones, from this node's mirror of the bucket (no KV read for
   * offers that are not due); expire_mut checks again on the stored one. */
  pthread_mutex_lock(&nd_st.mu);
  size_t n = 0;
  char **ids = weft_arena_calloc(a, (nd_st.offers.n + 1) * sizeof *ids);
  for (size_t i = 0; ids && i < nd_st.offers.n; i++) {
    const nd_offer *o = nd_st.offers.v[i];
    int64_t at = created_ms(o->created_at);
    if (o->kv && !strcmp(o->status, "open") &&
        strncmp(o->id, "offer-seed-", 11) && at >= 0 &&
        now >= at + nd_st.cfg.offer_ttl_ms)
      ids[n++] = nd_adup(a, o->id);
  }
  pthread_mutex_unlock(&nd_st.mu);
  for (size_t i = 0; i < n; i++)
    nd_kv_update(NULL, a, ND_KV_OFFERS, ids[i], &aitbc__v1__Offer_desc,
                 expire_mut, &now, NULL);
}

void nd_seed_offers_kv(void) {
  static const struct {
    const char *id, *provider, *gpu, *region;
    uint32_t mem, count;
    double price;
  } seeds[] = {
      {"offer-seed-1", NULL, "RTX 4090", "eu-west", 24, 2, 0.45},
      {"offer-seed-2", "aitbc1provider0002", "A100", "us-east", 80, 8, 1.9},
      {"offer-seed-3", "aitbc1provider0003", "H100", "ap-south", 80, 4, 2.6},
  };
  char now[40];
  nd_now_text(now);
  for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
    aitbc__v1__Offer o = aitbc__v1__Offer_INIT;
    o.id = (char *)seeds[i].id;
    o.provider = (char *)(seeds[i].provider ? seeds[i].provider
                                            : nd_st.wallets.v[0]->address);
    o.gpu_type = (char *)seeds[i].gpu;
    o.gpu_memory = seeds[i].mem;
    o.gpu_count = seeds[i].count;
    o.price_per_hour = seeds[i].price;
    o.currency = ND_TOKEN;
    o.region = (char *)seeds[i].region;
    o.status = "open";
    o.created_at = now;
    /* The first node to start creates them; the others find them there. */
    nd_kv_create(NULL, ND_KV_OFFERS, o.id, &o);
  }
}

static bool gone(const aitbc__v1__Offer *o) {
  return o->status && !strcmp(o->status, "cancelled");
}

static int kv_get(weft_server_call *call, const char *id,
                  aitbc__v1__Offer *resp) {
  if (empty(id))
    return no_offer(call, id);
  void *m = NULL;
  int code = nd_kv_get(call, weft_server_call_arena(call), ND_KV_OFFERS, id,
                       &aitbc__v1__Offer_desc, &m, NULL);
  if (code == WEFT_STATUS_NOT_FOUND || (!code && gone(m)))
    return no_offer(call, id);
  if (!code)
    *resp = *(aitbc__v1__Offer *)m; /* both in the call's arena */
  return code;
}

static int oldest_first(const void *pa, const void *pb) {
  const aitbc__v1__Offer *a = *(aitbc__v1__Offer *const *)pa;
  const aitbc__v1__Offer *b = *(aitbc__v1__Offer *const *)pb;
  int c = strcmp(a->created_at ? a->created_at : "",
                 b->created_at ? b->created_at : "");
  return c ? c : strcmp(a->id ? a->id : "", b->id ? b->id : "");
}

static int kv_all(weft_server_call *call, aitbc__v1__Offer ***v, size_t *n) {
  int code = nd_kv_list(call, weft_server_call_arena(call), ND_KV_OFFERS,
                        &aitbc__v1__Offer_desc, (void ***)v, n);
  if (!code)
    qsort(*v, *n, sizeof **v, oldest_first);
  return code;
}

static int kv_list(weft_server_call *call,
                   const aitbc__v1__ListOffersRequest *req,
                   aitbc__v1__ListOffersResponse *resp) {
  aitbc__v1__Offer **v;
  size_t n;
  int code = kv_all(call, &v, &n);
  if (code)
    return nd_done(call, code);
  uint32_t limit = req->limit ? req->limit : 100, skipped = 0;
  resp->offers = v; /* filtered in place */
  for (size_t i = 0; i < n && resp->n_offers < limit; i++) {
    aitbc__v1__Offer *o = v[i];
    if (gone(o) ||
        (!empty(req->gpu_type) && strcmp(req->gpu_type, o->gpu_type)) ||
        (!empty(req->region) && strcmp(req->region, o->region)) ||
        (!empty(req->status) && strcmp(req->status, o->status)))
      continue;
    if (skipped++ < req->offset)
      continue;
    resp->offers[resp->n_offers++] = o;
  }
  return nd_done(call, 0);
}

static int kv_create(weft_server_call *call, const aitbc__v1__Offer *req,
                     aitbc__v1__Offer *resp) {
  char id[96], now[40];
  weft_arena *a = weft_server_call_arena(call);
  nd_kv_new_id("offer", id, sizeof id);
  nd_now_text(now);
  *resp = *req;
  resp->id = nd_adup(a, id);
  resp->provider =
      nd_adup(a, empty(req->provider) ? nd_st.me->address : req->provider);
  resp->gpu_count = req->gpu_count ? req->gpu_count : 1;
  resp->currency = nd_adup(a, empty(req->currency) ? ND_TOKEN : req->currency);
  resp->region = nd_adup(a, empty(req->region) ? "local" : req->region);
  resp->status = "open";
  resp->created_at = nd_adup(a, now);
  int code = nd_kv_create(call, ND_KV_OFFERS, id, resp);
  if (code == WEFT_STATUS_ALREADY_EXISTS)
    code = nd_fail(call, WEFT_STATUS_INTERNAL, "offer id %s is taken", id);
  return nd_done(call, code);
}

typedef struct mut_arg {
  weft_arena *a;
  const aitbc__v1__Offer *upd;
  const char *id;
} mut_arg;

static int update_mut(weft_server_call *call, void *msg, void *arg) {
  aitbc__v1__Offer *o = msg;
  const mut_arg *m = arg;
  const aitbc__v1__Offer *r = m->upd;
  if (gone(o))
    return no_offer(call, m->id);
  if (r->price_per_hour > 0)
    o->price_per_hour = r->price_per_hour;
  if (!empty(r->gpu_type))
    o->gpu_type = r->gpu_type;
  if (!empty(r->region))
    o->region = r->region;
  if (!empty(r->currency))
    o->currency = r->currency;
  if (r->gpu_memory)
    o->gpu_memory = r->gpu_memory;
  if (r->gpu_count)
    o->gpu_count = r->gpu_count;
  return 0;
}

static int delete_mut(weft_server_call *call, void *msg, void *arg) {
  aitbc__v1__Offer *o = msg;
  const mut_arg *m = arg;
  if (gone(o))
    return no_offer(call, m->id);
  o->status = "cancelled";
  return 0;
}

static int accept_mut(weft_server_call *call, void *msg, void *arg) {
  aitbc__v1__Offer *o = msg;
  const mut_arg *m = arg;
  if (gone(o))
    return no_offer(call, m->id);
  if (strcmp(o->status ? o->status : "", "open"))
    return nd_fail(call, WEFT_STATUS_FAILED_PRECONDITION,
                   "offer %s is %s, not open", o->id, o->status);
  o->status = "matched";
  return 0;
}

static int kv_change(weft_server_call *call, const char *id, nd_kv_mutate fn,
                     const aitbc__v1__Offer *upd, aitbc__v1__Offer *resp) {
  if (empty(id))
    return no_offer(call, id);
  mut_arg m = {weft_server_call_arena(call), upd, id};
  void *out = NULL;
  int code = nd_kv_update(call, m.a, ND_KV_OFFERS, id, &aitbc__v1__Offer_desc,
                          fn, &m, &out);
  if (code == WEFT_STATUS_NOT_FOUND)
    return no_offer(call, id);
  if (!code && resp)
    *resp = *(aitbc__v1__Offer *)out;
  return code;
}

static int kv_stats(weft_server_call *call, aitbc__v1__MarketplaceStats *resp) {
  aitbc__v1__Offer **v;
  size_t n;
  int code = kv_all(call, &v, &n);
  if (code)
    return nd_done(call, code);
  double sum = 0;
  for (size_t i = 0; i < n; i++) {
    if (gone(v[i]))
      continue;
    resp->total_offers++;
    sum += v[i]->price_per_hour;
    resp->total_gpus += v[i]->gpu_count;
    if (!strcmp(v[i]->status, "open"))
      resp->active_offers++;
    else if (!strcmp(v[i]->status, "matched"))
      resp->matched_offers++;
  }
  resp->average_price_per_hour =
      resp->total_offers ? sum / resp->total_offers : 0;
  return nd_done(call, 0);
}

static int list_offers(weft_server_call *call,
                       const aitbc__v1__ListOffersRequest *req,
                       aitbc__v1__ListOffersResponse *resp, void *ctx) {
  (void)ctx;
  if (nd_kv_enabled())
    return kv_list(call, req, resp);
  weft_arena *a = weft_server_call_arena(call);
  uint32_t limit = req->limit ? req->limit : 100, skipped = 0;
  pthread_mutex_lock(&nd_st.mu);
  resp->offers = weft_arena_calloc(a, (nd_st.offers.n + 1) * sizeof(void *));
  for (size_t i = 0; i < nd_st.offers.n && resp->n_offers < limit; i++) {
    nd_offer *o = nd_st.offers.v[i];
    if (o->deleted ||
        (!empty(req->gpu_type) && strcmp(req->gpu_type, o->gpu_type)) ||
        (!empty(req->region) && strcmp(req->region, o->region)) ||
        (!empty(req->status) && strcmp(req->status, o->status)))
      continue;
    if (skipped++ < req->offset)
      continue;
    aitbc__v1__Offer *out = aitbc__v1__Offer_new(a);
    fill(a, o, out);
    resp->offers[resp->n_offers++] = out;
  }
  pthread_mutex_unlock(&nd_st.mu);
  return nd_done(call, 0);
}

static int create_offer(weft_server_call *call, const aitbc__v1__Offer *req,
                        aitbc__v1__Offer *resp, void *ctx) {
  (void)ctx;
  if (empty(req->gpu_type))
    return nd_done(call, nd_fail(call, WEFT_STATUS_INVALID_ARGUMENT,
                                 "gpu_type is required"));
  if (!(req->price_per_hour > 0))
    return nd_done(call, nd_fail(call, WEFT_STATUS_INVALID_ARGUMENT,
                                 "price_per_hour must be > 0"));
  if (!empty(req->id))
    return nd_done(call, nd_fail(call, WEFT_STATUS_INVALID_ARGUMENT,
                                 "id is assigned by the node; leave it out"));
  if (nd_kv_enabled())
    return kv_create(call, req, resp);
  pthread_mutex_lock(&nd_st.mu);
  nd_offer *o = add_offer(
      empty(req->provider) ? nd_st.wallets.v[0]->address : req->provider,
      req->gpu_type, req->gpu_memory, req->gpu_count ? req->gpu_count : 1,
      req->price_per_hour, empty(req->currency) ? ND_TOKEN : req->currency,
      empty(req->region) ? "local" : req->region, nd_st.cfg.offer_ttl_ms);
  fill(weft_server_call_arena(call), o, resp);
  pthread_mutex_unlock(&nd_st.mu);
  return nd_done(call, 0);
}

static int get_offer(weft_server_call *call,
                     const aitbc__v1__GetOfferRequest *req,
                     aitbc__v1__Offer *resp, void *ctx) {
  (void)ctx;
  if (nd_kv_enabled())
    return nd_done(call, kv_get(call, req->offer_id, resp));
  pthread_mutex_lock(&nd_st.mu);
  nd_offer *o = nd_find_offer(req->offer_id);
  if (o)
    fill(weft_server_call_arena(call), o, resp);
  pthread_mutex_unlock(&nd_st.mu);
  return nd_done(call, o ? 0 : no_offer(call, req->offer_id));
}

static size_t index_of(const nd_offer *o) {
  for (size_t i = 0; i < nd_st.offers.n; i++)
    if (nd_st.offers.v[i] == o)
      return i;
  return 0;
}

/* Changes the fields that are set; provider, status and id stay. */
static int update_offer(weft_server_call *call, const aitbc__v1__Offer *req,
                        aitbc__v1__Offer *resp, void *ctx) {
  (void)ctx;
  if (req->price_per_hour < 0)
    return nd_done(call, nd_fail(call, WEFT_STATUS_INVALID_ARGUMENT,
                                 "price_per_hour must be > 0"));
  if (nd_kv_enabled())
    return nd_done(call, kv_change(call, req->id, update_mut, req, resp));
  int code = 0;
  pthread_mutex_lock(&nd_st.mu);
  nd_offer *o = nd_find_offer(req->id);
  if (!o) {
    code = no_offer(call, req->id);
  } else {
    bool price = req->price_per_hour > 0 && req->price_per_hour != o->price;
    if (price)
      o->price = req->price_per_hour;
    if (!empty(req->gpu_type))
      snprintf(o->gpu_type, sizeof o->gpu_type, "%s", req->gpu_type);
    if (!empty(req->region))
      snprintf(o->region, sizeof o->region, "%s", req->region);
    if (!empty(req->currency))
      snprintf(o->currency, sizeof o->currency, "%s", req->currency);
    if (req->gpu_memory)
      o->gpu_memory = req->gpu_memory;
    if (req->gpu_count)
      o->gpu_count = req->gpu_count;
    nd_push_event(ND_EV_MARKET, price ? "price_update" : "offer_updated",
                  index_of(o));
    fill(weft_server_call_arena(call), o, resp);
  }
  pthread_mutex_unlock(&nd_st.mu);
  return nd_done(call, code);
}

static int delete_offer(weft_server_call *call,
                        const aitbc__v1__DeleteOfferRequest *req,
                        google__protobuf__Empty *resp, void *ctx) {
  (void)ctx;
  (void)resp;
  if (nd_kv_enabled())
    return nd_done(call,
                   kv_change(call, req->offer_id, delete_mut, NULL, NULL));
  pthread_mutex_lock(&nd_st.mu);
  nd_offer *o = nd_find_offer(req->offer_id);
  if (o) {
    o->deleted = true;
    snprintf(o->status, sizeof o->status, "cancelled");
    nd_push_event(ND_EV_MARKET, "offer_cancelled", index_of(o));
  }
  pthread_mutex_unlock(&nd_st.mu);
  return nd_done(call, o ? 0 : no_offer(call, req->offer_id));
}

static int accept_offer(weft_server_call *call,
                        const aitbc__v1__AcceptOfferRequest *req,
                        aitbc__v1__Offer *resp, void *ctx) {
  (void)ctx;
  int code = 0;
  if (nd_kv_enabled()) {
    if (!empty(req->job_id)) {
      void *job = NULL;
      code = nd_kv_get(call, weft_server_call_arena(call), ND_KV_JOBS,
                       req->job_id, &aitbc__v1__Job_desc, &job, NULL);
      if (code == WEFT_STATUS_NOT_FOUND)
        code = nd_fail(call, code, "job %s not found", req->job_id);
      if (code)
        return nd_done(call, code);
    }
    return nd_done(call,
                   kv_change(call, req->offer_id, accept_mut, NULL, resp));
  }
  pthread_mutex_lock(&nd_st.mu);
  nd_offer *o = nd_find_offer(req->offer_id);
  if (!o)
    code = no_offer(call, req->offer_id);
  else if (!empty(req->job_id) && !nd_find_job(req->job_id))
    code =
        nd_fail(call, WEFT_STATUS_NOT_FOUND, "job %s not found", req->job_id);
  else if (strcmp(o->status, "open"))
    code = nd_fail(call, WEFT_STATUS_FAILED_PRECONDITION,
                   "offer %s is %s, not open", o->id, o->status);
  if (!code) {
    snprintf(o->status, sizeof o->status, "matched");
    nd_push_event(ND_EV_MARKET, "offer_matched", index_of(o));
    fill(weft_server_call_arena(call), o, resp);
  }
  pthread_mutex_unlock(&nd_st.mu);
  return nd_done(call, code);
}

static int get_stats(weft_server_call *call,
                     const aitbc__v1__GetStatsRequest *req,
                     aitbc__v1__MarketplaceStats *resp, void *ctx) {
  (void)ctx;
  (void)req;
  if (nd_kv_enabled())
    return kv_stats(call, resp);
  double sum = 0;
  pthread_mutex_lock(&nd_st.mu);
  for (size_t i = 0; i < nd_st.offers.n; i++) {
    nd_offer *o = nd_st.offers.v[i];
    if (o->deleted)
      continue;
    resp->total_offers++;
    sum += o->price;
    resp->total_gpus += o->gpu_count;
    if (!strcmp(o->status, "open"))
      resp->active_offers++;
    else if (!strcmp(o->status, "matched"))
      resp->matched_offers++;
  }
  pthread_mutex_unlock(&nd_st.mu);
  resp->average_price_per_hour =
      resp->total_offers ? sum / resp->total_offers : 0;
  return nd_done(call, 0);
}

static bool wanted(const aitbc__v1__WatchMarketplaceRequest *req,
                   const char *type) {
  if (!req->n_types)
    return true;
  for (size_t i = 0; i < req->n_types; i++)
    if (!strcmp(req->types[i], type))
      return true;
  return false;
}

/* Marketplace events since w->next (nd_watch pump, lock held). */
static int pump_market(nd_watch *w) {
  const aitbc__v1__WatchMarketplaceRequest *req = w->req;
  while (w->next <= nd_st.next_seq) {
    if (nd_st.next_seq - w->next >= ND_EVENT_RING)
      w->next = nd_st.next_seq - ND_EVENT_RING + 1;
    nd_event *e = &nd_st.ring[w->next % ND_EVENT_RING];
    if (e->kind != ND_EV_MARKET || !wanted(req, e->type)) {
      w->next++;
      continue;
    }
    weft_arena *a = nd_scratch();
    aitbc__v1__MarketplaceEvent ev = aitbc__v1__MarketplaceEvent_INIT;
    ev.type = nd_adup(a, e->type);
    ev.offer = aitbc__v1__Offer_new(a);
    fill(a, nd_st.offers.v[e->ref], ev.offer);
    int r = nd_watch_send(w, &ev);
    if (r == ND_FULL)
      return 0;
    if (r)
      return r;
    w->next++;
  }
  return 0;
}

/* Asynchronous: the stream holds no thread while it waits. */
static int watch_events(weft_server_call *call,
                        const aitbc__v1__WatchMarketplaceRequest *req,
                        void *ctx) {
  (void)ctx;
  nd_watch *w = nd_watch_new(call, req, pump_market);
  if (!w)
    return nd_done(call, WEFT_STATUS_RESOURCE_EXHAUSTED);
  pthread_mutex_lock(&nd_st.mu);
  w->next = nd_st.next_seq + 1;
  int code = nd_watch_start(w);
  pthread_mutex_unlock(&nd_st.mu);
  return code;
}

static const aitbc__v1__Marketplace_impl impl = {
    .list_offers = list_offers,
    .create_offer = create_offer,
    .get_offer = get_offer,
    .update_offer = update_offer,
    .delete_offer = delete_offer,
    .accept_offer = accept_offer,
    .get_stats = get_stats,
    .watch_events = watch_events,
};

int nd_add_market(weft_server *s) {
  return weft_server_add_service(s, &aitbc__v1__Marketplace_service, &impl,
                                 NULL);
}
