/* weft-grpc-aitbc-server --port=N: AITBC services on grpc:// for the
 * cross-language tests. Marketplace.CreateOffer/UpdateOffer echo what weft
 * decoded (so the Python client compares its message with weft's
 * decode + encode), GetOffer/ListOffers/WatchEvents return offers built
 * here from a documented pattern, Settlement.SendMessage maps the request's
 * fields into the result (so optional presence is checked field by field).
 * Blockchain and Jobs are served unimplemented, for reflection. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aitbc/v1/blockchain.weft.h"
#include "aitbc/v1/jobs.weft.h"
#include "aitbc/v1/marketplace.weft.h"
#include "aitbc/v1/settlement.weft.h"
#include "weft/server.h"

static char *arena_str(weft_arena *a, const char *s) {
  size_t n = strlen(s) + 1;
  char *p = weft_arena_alloc(a, n);
  if (p)
    memcpy(p, s, n);
  return p;
}

/* Offer number i: id "offer-<i>", gpu_count i, price i * 1.25, ... */
static void fill_offer(weft_arena *a, aitbc__v1__Offer *o, unsigned i) {
  char buf[64];
  snprintf(buf, sizeof buf, "offer-%u", i);
  o->id = arena_str(a, buf);
  o->provider = arena_str(a, "provider-\xc3\xa9");
  o->gpu_type = arena_str(a, i % 2 ? "A100" : "RTX 4090");
  o->gpu_memory = 24 + i;
  o->gpu_count = i;
  o->price_per_hour = i * 1.25;
  o->currency = arena_str(a, "AITBC");
  o->region = arena_str(a, "eu-west");
  o->status = arena_str(a, "active");
  o->created_at = arena_str(a, "2026-01-02T03:04:05Z");
}

static int echo_offer(weft_server_call *call, const aitbc__v1__Offer *req,
                      aitbc__v1__Offer *resp, void *ctx) {
  (void)ctx;
  void *copy = NULL;
  if (weft_message_copy(req, weft_server_call_arena(call), &copy) < 0)
    return WEFT_STATUS_INTERNAL;
  *resp = *(aitbc__v1__Offer *)copy;
  return WEFT_STATUS_OK;
}

static int get_offer(weft_server_call *call,
                     const aitbc__v1__GetOfferRequest *req,
                     aitbc__v1__Offer *resp, void *ctx) {
  (void)ctx;
  unsigned i;
  if (!req->offer_id || sscanf(req->offer_id, "offer-%u", &i) != 1) {
    weft_server_call_set_message(call, "no offer %s", req->offer_id);
    return WEFT_STATUS_NOT_FOUND;
  }
  fill_offer(weft_server_call_arena(call), resp, i);
  return WEFT_STATUS_OK;
}

static int list_offers(weft_server_call *call,
                       const aitbc__v1__ListOffersRequest *req,
                       aitbc__v1__ListOffersResponse *resp, void *ctx) {
  (void)ctx;
  weft_arena *a = weft_server_call_arena(call);
  unsigned n = req->limit > 1000 ? 1000 : req->limit;
  resp->offers = weft_arena_alloc(a, (n ? n : 1) * sizeof *resp->offers);
  for (unsigned k = 0; k < n; k++) {
    resp->offers[k] = aitbc__v1__Offer_new(a);
    fill_offer(a, resp->offers[k], req->offset + k);
  }
  resp->n_offers = n;
  return WEFT_STATUS_OK;
}

static int watch_events(weft_server_call *call,
                        const aitbc__v1__WatchMarketplaceRequest *req,
                        void *ctx) {
  (void)ctx;
  weft_arena *a = weft_server_call_arena(call);
  for (size_t k = 0; k < req->n_types; k++) {
    aitbc__v1__MarketplaceEvent ev = aitbc__v1__MarketplaceEvent_INIT;
    aitbc__v1__Offer o = aitbc__v1__Offer_INIT;
    fill_offer(a, &o, (unsigned)k);
    ev.type = req->types[k];
    ev.offer = &o;
    if (weft_server_call_send(call, &ev) < 0)
      return WEFT_STATUS_CANCELLED;
  }
  return WEFT_STATUS_OK;
}

static int send_message(weft_server_call *call,
                        const aitbc__v1__SettlementMessage *req,
                        aitbc__v1__SettlementResult *resp, void *ctx) {
  (void)ctx;
  weft_arena *a = weft_server_call_arena(call);
  resp->message_id = req->job_id;
  resp->status = aitbc__v1__BridgeStatus__Value__completed;
  resp->transaction_hash = req->receipt_hash;
  resp->error_message = req->privacy_level; /* NULL if absent */
  resp->has_gas_used = req->has_gas_limit;
  resp->gas_used = req->gas_limit;
  resp->has_fee_paid = 1;
  resp->fee_paid = req->payment_amount + req->nonce;
  resp->created_at = req->created_at;
  /* How many proof_data fields and whether zk_proof was set, as text. */
  char buf[64];
  snprintf(buf, sizeof buf, "fields=%zu zk=%d",
           req->proof_data ? req->proof_data->n_fields : (size_t)0,
           req->zk_proof != NULL);
  resp->completed_at = arena_str(a, buf);
  return WEFT_STATUS_OK;
}

static const aitbc__v1__Marketplace_impl marketplace = {
    .list_offers = list_offers,
    .create_offer = echo_offer,
    .get_offer = get_offer,
    .update_offer = echo_offer,
    .watch_events = watch_events,
};

static const aitbc__v1__Settlement_impl settlement = {
    .send_message = send_message,
};

int main(int argc, char **argv) {
  if (argc != 2 || strncmp(argv[1], "--port=", 7) != 0) {
    fprintf(stderr, "usage: weft-grpc-aitbc-server --port=N\n");
    return 2;
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  char url[64];
  snprintf(url, sizeof url, "grpc://127.0.0.1:%s", argv[1] + 7);
  weft_server *s = NULL;
  weft_error err = {0};
  int rc = weft_server_new(&s, NULL);
  if (rc == 0)
    rc = weft_server_add_service(s, &aitbc__v1__Marketplace_service,
                                 &marketplace, NULL);
  if (rc == 0)
    rc = weft_server_add_service(s, &aitbc__v1__Settlement_service, &settlement,
                                 NULL);
  /* Served for reflection only: their methods answer UNIMPLEMENTED. */
  static const aitbc__v1__Blockchain_impl blockchain = {0};
  static const aitbc__v1__Jobs_impl jobs = {0};
  if (rc == 0)
    rc = weft_server_add_service(s, &aitbc__v1__Blockchain_service, &blockchain,
                                 NULL);
  if (rc == 0)
    rc = weft_server_add_service(s, &aitbc__v1__Jobs_service, &jobs, NULL);
  if (rc == 0)
    rc = weft_server_listen(s, url, &err);
  if (rc < 0) {
    fprintf(stderr, "weft-grpc-aitbc-server: %s\n", err.message);
    weft_server_free(s);
    return 1;
  }
  int sig;
  sigwait(&set, &sig);
  weft_server_shutdown(s);
  weft_server_free(s);
  return 0;
}
