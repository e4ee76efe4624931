/* weft-aitbc-ws-server [--key=K]: a weft server with small aitbc.v1 Jobs,
 * Blockchain and Marketplace services, serving the AITBC WebSocket API on
 * ws://127.0.0.1:<free port>. Prints "PORT <n>" on stdout once listening;
 * stops on SIGTERM/SIGINT. Used by test_aitbc_ws.py.
 *
 * Jobs.Watch("j1") goes QUEUED -> RUNNING (0.5, miner m7) -> COMPLETED;
 * "fail" goes QUEUED -> FAILED; any other id is NOT_FOUND. The event
 * streams send one event of each requested type (all types if none) and
 * then wait until cancelled. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aitbc/v1/blockchain.weft.h"
#include "aitbc/v1/jobs.weft.h"
#include "aitbc/v1/marketplace.weft.h"
#include "weft/aitbc_endpoint.h"
#include "weft/server.h"
#include "weft/websocket.h"

static void nap_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static int send_status(weft_server_call *call, const char *id,
                       aitbc__v1__JobState state, const char *miner,
                       double progress, const char *ts) {
  aitbc__v1__JobStatus st = aitbc__v1__JobStatus_INIT;
  st.job_id = (char *)id;
  st.state = state;
  if (miner)
    st.assigned_miner_id = (char *)miner;
  st.timestamp = (char *)ts;
  st.progress = progress;
  return weft_server_call_send(call, &st);
}

static int watch(weft_server_call *call, const aitbc__v1__WatchJobRequest *req,
                 void *ctx) {
  (void)ctx;
  const char *id = req->job_id;
  if (strcmp(id, "j1") != 0 && strcmp(id, "fail") != 0) {
    weft_server_call_set_message(call, "no job %s", id);
    return WEFT_STATUS_NOT_FOUND;
  }
  if (send_status(call, id, aitbc__v1__JobState__QUEUED, NULL, 0,
                  "2026-11-23T12:00:00Z") < 0)
    return WEFT_STATUS_CANCELLED;
  nap_ms(30);
  if (strcmp(id, "fail") == 0)
    return send_status(call, id, aitbc__v1__JobState__FAILED, NULL, 0,
                       "2026-11-23T12:00:01Z") < 0
               ? WEFT_STATUS_CANCELLED
               : WEFT_STATUS_OK;
  if (send_status(call, id, aitbc__v1__JobState__RUNNING, "m7", 0.5,
                  "2026-11-23T12:00:01Z") < 0)
    return WEFT_STATUS_CANCELLED;
  nap_ms(30);
  if (send_status(call, id, aitbc__v1__JobState__COMPLETED, "m7", 1.0,
                  "2026-11-23T12:00:02Z") < 0)
    return WEFT_STATUS_CANCELLED;
  return WEFT_STATUS_OK;
}

static int get_job(weft_server_call *call, const aitbc__v1__GetJobRequest *req,
                   aitbc__v1__Job *resp, void *ctx) {
  (void)ctx;
  if (strcmp(req->job_id, "j1") != 0) {
    weft_server_call_set_message(call, "no job %s", req->job_id);
    return WEFT_STATUS_NOT_FOUND;
  }
  resp->job_id = req->job_id;
  resp->state = aitbc__v1__JobState__COMPLETED;
  resp->assigned_miner_id = "m7";
  resp->progress = 1.0;
  return WEFT_STATUS_OK;
}

static bool wanted(char **types, size_t n, const char *t) {
  if (n == 0)
    return true;
  for (size_t i = 0; i < n; i++)
    if (strcmp(types[i], t) == 0)
      return true;
  return false;
}

static int wait_cancelled(weft_server_call *call) {
  while (!weft_server_call_cancelled(call))
    nap_ms(10);
  return WEFT_STATUS_CANCELLED;
}

static int stream_events(weft_server_call *call,
                         const aitbc__v1__StreamEventsRequest *req, void *ctx) {
  (void)ctx;
  if (wanted(req->types, req->n_types, "new_block")) {
    aitbc__v1__Block b = aitbc__v1__Block_INIT;
    b.chain_id = "ait-devnet";
    b.height = 12;
    b.hash = "0xab";
    b.parent_hash = "0xaa";
    b.proposer = "node-1";
    b.timestamp = "2026-11-23T12:00:00";
    b.tx_count = 0;
    b.state_root = "0x5f";
    aitbc__v1__BlockchainEvent ev = aitbc__v1__BlockchainEvent_INIT;
    ev.type = "new_block";
    ev.payload_case = 2;
    ev.block = &b;
    if (weft_server_call_send(call, &ev) < 0)
      return WEFT_STATUS_CANCELLED;
  }
  if (wanted(req->types, req->n_types, "transaction_confirmed")) {
    aitbc__v1__BlockchainEvent ev = aitbc__v1__BlockchainEvent_INIT;
    ev.type = "transaction_confirmed";
    ev.payload_case = 3;
    ev.tx_hash = "0x01";
    if (weft_server_call_send(call, &ev) < 0)
      return WEFT_STATUS_CANCELLED;
  }
  return wait_cancelled(call);
}

static int watch_offers(weft_server_call *call,
                        const aitbc__v1__WatchMarketplaceRequest *req,
                        void *ctx) {
  (void)ctx;
  if (wanted(req->types, req->n_types, "new_offer")) {
    aitbc__v1__Offer o = aitbc__v1__Offer_INIT;
    o.id = "o1";
    o.provider = "p1";
    o.gpu_type = "A100";
    o.gpu_memory = 80;
    o.gpu_count = 2;
    o.price_per_hour = 1.5;
    o.currency = "AITBC";
    o.region = "eu-west";
    o.status = "open";
    aitbc__v1__MarketplaceEvent ev = aitbc__v1__MarketplaceEvent_INIT;
    ev.type = "new_offer";
    ev.offer = &o;
    if (weft_server_call_send(call, &ev) < 0)
      return WEFT_STATUS_CANCELLED;
  }
  return wait_cancelled(call);
}

static const aitbc__v1__Jobs_impl jobs = {.get_job = get_job, .watch = watch};
static const aitbc__v1__Blockchain_impl chain = {.stream_events =
                                                     stream_events};
static const aitbc__v1__Marketplace_impl market = {.watch_events =
                                                       watch_offers};

int main(int argc, char **argv) {
  const char *keys[2] = {NULL, NULL};
  if (argc == 2 && strncmp(argv[1], "--key=", 6) == 0)
    keys[0] = argv[1] + 6;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, NULL);

  weft_aitbc_endpoint *ep = NULL;
  weft_aitbc_endpoint_new(&ep, NULL);
  weft_ws_opts wo = WEFT_WS_OPTS_INIT;
  wo.route = weft_aitbc_ws_route;
  wo.route_ud = ep;
  weft_server_opts so = {0};
  so.transport_opts = &wo;
  so.api_keys = keys[0] ? keys : NULL;
  weft_server *s = NULL;
  weft_error err = {0};
  int rc = weft_server_new(&s, &so);
  if (rc == 0)
    rc = weft_server_add_service(s, &aitbc__v1__Jobs_service, &jobs, NULL);
  if (rc == 0)
    rc = weft_server_add_service(s, &aitbc__v1__Blockchain_service, &chain,
                                 NULL);
  if (rc == 0)
    rc = weft_server_add_service(s, &aitbc__v1__Marketplace_service, &market,
                                 NULL);
  if (rc == 0)
    rc = weft_server_listen(s, "ws://127.0.0.1:0", &err);
  if (rc < 0) {
    fprintf(stderr, "weft-aitbc-ws-server: %s (%d)\n", err.message, rc);
    weft_server_free(s);
    return 1;
  }
  printf("PORT %d\n", weft_server_port(s, 0));
  fflush(stdout);
  int sig;
  sigwait(&set, &sig);
  weft_server_shutdown(s);
  weft_server_free(s);
  weft_aitbc_endpoint_free(ep);
  return 0;
}
