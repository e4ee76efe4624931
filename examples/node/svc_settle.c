/* aitbc.v1.Settlement: cross-chain settlement of completed jobs' receipts.
 * A request goes pending -> in_progress (its bridge transaction enters the
 * mempool) -> completed (the receipt's price is paid into the node's
 * wallet) one --job-step-ms apart. A SendMessage without a signature is
 * rejected by the simulated bridge: in_progress -> failed; a failed (or
 * still pending) settlement can be refunded. With --nats the settlements
 * live in KV and the leader steps them (settle_kv.c); the mirror of every
 * node drives WatchSettlement. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state.h"

#define GAS_BASE 180000ull
#define GWEI 30ull /* fee per gas unit, atomic units */

static void touch(nd_settle *s) {
  s->rev++;
  nd_changed();
}

static nd_receipt *receipt_of(const char *job_id) {
  for (size_t i = 0; i < nd_st.receipts.n; i++)
    if (!strcmp(nd_st.receipts.v[i]->job_id, job_id))
      return nd_st.receipts.v[i];
  return NULL;
}

void nd_settle_tick(int64_t now) {
  int64_t step = nd_st.cfg.job_step_ms * 1000000;
  for (size_t i = 0; i < nd_st.settles.n; i++) {
    nd_settle *s = nd_st.settles.v[i];
    if (nd_settle_terminal(s->status) || now < s->next_step_ns)
      continue;
    s->next_step_ns = now + step;
    nd_wallet *w = nd_st.wallets.v[0];
    if (s->status == aitbc__v1__BridgeStatus__Value__pending) {
      char from[64];
      snprintf(from, sizeof from, "bridge:%s", s->bridge);
      size_t t =
          nd_add_tx("settlement", from, w->address, s->amount, 0, s->id, true);
      s->tx_hash = nd_strdup(nd_st.txs.v[t]->hash);
      s->status = aitbc__v1__BridgeStatus__Value__in_progress;
    } else if (s->fail) {
      s->status = aitbc__v1__BridgeStatus__Value__failed;
      s->error = nd_strdup("bridge rejected the message: no signature");
      nd_now_text(s->completed_at);
    } else {
      s->status = aitbc__v1__BridgeStatus__Value__completed;
      s->has_gas = true;
      s->gas_used = GAS_BASE + 1234;
      s->fee_paid = s->gas_used * GWEI;
      w->balance += s->amount;
      nd_now_text(s->completed_at);
    }
    touch(s);
  }
}

static void fill(weft_arena *a, const nd_settle *s,
                 aitbc__v1__SettlementResult *o) {
  o->message_id = nd_adup(a, s->id);
  o->status = s->status;
  o->transaction_hash = s->tx_hash ? nd_adup(a, s->tx_hash) : NULL;
  o->error_message = s->error ? nd_adup(a, s->error) : NULL;
  o->has_gas_used = o->has_fee_paid = s->has_gas;
  o->gas_used = s->gas_used;
  o->fee_paid = s->fee_paid;
  o->created_at = nd_adup(a, s->created_at);
  o->completed_at = nd_adup(a, s->completed_at);
}

/* Picks the bridge: the named one, or the cheapest (cost) / fastest (speed)
 * enabled bridge that reaches chain. Returns a status code (message set). */
static int pick_bridge(weft_server_call *call, const char *name, uint32_t chain,
                       int priority, const nd_bridge **out) {
  if (!nd_find_chain(chain))
    return nd_fail(call, WEFT_STATUS_INVALID_ARGUMENT,
                   "unknown target_chain_id %u (see ListChains)", chain);
  if (name && *name) {
    const nd_bridge *b = nd_find_bridge(name);
    if (!b)
      return nd_fail(call, WEFT_STATUS_INVALID_ARGUMENT,
                     "unknown bridge \"%s\" (see ListBridges)", name);
    if (!b->enabled)
      return nd_fail(call, WEFT_STATUS_FAILED_PRECONDITION,
                     "bridge %s is disabled", name);
    if (!nd_bridge_supports(b, chain))
      return nd_fail(call, WEFT_STATUS_INVALID_ARGUMENT,
                     "bridge %s does not reach chain %u", name, chain);
    *out = b;
    return 0;
  }
  const nd_bridge *best = NULL;
  for (size_t i = 0; i < nd_nbridges; i++) {
    const nd_bridge *b = &nd_bridges[i];
    if (!b->enabled || !nd_bridge_supports(b, chain))
      continue;
    if (!best || (priority == aitbc__v1__SettlementPriority__Value__speed
                      ? b->seconds < best->seconds
                      : b->fee_mult < best->fee_mult))
      best = b;
  }
  if (!best)
    return nd_fail(call, WEFT_STATUS_FAILED_PRECONDITION,
                   "no enabled bridge reaches chain %u", chain);
  *out = best;
  return 0;
}

/* Checks that job_id names a completed job; sets *r to its receipt. */
static int settleable(weft_server_call *call, const char *job_id,
                      nd_receipt **r) {
  if (!job_id || !*job_id)
    return nd_fail(call, WEFT_STATUS_INVALID_ARGUMENT, "job_id is required");
  nd_job *j = nd_find_job(job_id);
  if (!j)
    return nd_fail(call, WEFT_STATUS_NOT_FOUND, "job %s not found", job_id);
  if (j->state != aitbc__v1__JobState__COMPLETED || !(*r = receipt_of(job_id)))
    return nd_fail(call, WEFT_STATUS_FAILED_PRECONDITION,
                   "job %s is not completed: only completed jobs settle",
                   job_id);
  /* A receipt is paid once: refused while another settlement of the job
   * is live or completed (a failed or refunded one may be retried). */
  for (size_t i = 0; i < nd_st.settles.n; i++) {
    const nd_settle *s = nd_st.settles.v[i];
    if (!strcmp(s->job_id, job_id) &&
        s->status != aitbc__v1__BridgeStatus__Value__failed &&
        s->status != aitbc__v1__BridgeStatus__Value__refunded)
      return nd_fail(call, WEFT_STATUS_ALREADY_EXISTS,
                     "job %s is already settled by %s", job_id, s->id);
  }
  return 0;
}

static nd_settle *new_settle(const char *job_id, const nd_bridge *b,
                             uint32_t chain, uint64_t amount) {
  nd_settle *s = nd_xcalloc(sizeof *s);
  nd_new_id("msg", s->id, sizeof s->id);
  s->status = aitbc__v1__BridgeStatus__Value__pending;
  snprintf(s->job_id, sizeof s->job_id, "%s", job_id ? job_id : "");
  snprintf(s->bridge, sizeof s->bridge, "%s", b->name);
  s->target_chain = chain;
  s->amount = amount;
  nd_now_text(s->created_at);
  s->next_step_ns = nd_now_ns() + nd_st.cfg.job_step_ms * 1000000;
  ND_PUSH(nd_st.settles, s);
  touch(s);
  return s;
}

static int settle_cross_chain(weft_server_call *call,
                              const aitbc__v1__CrossChainSettlementRequest *req,
                              aitbc__v1__SettlementResult *resp, void *ctx) {
  (void)ctx;
  const nd_bridge *b = NULL;
  nd_receipt *r = NULL;
  if (nd_kv_enabled()) {
    char id[96], *ids[1] = {id}, *jobs[1] = {req->job_id};
    uint64_t amount = 0;
    int code = pick_bridge(call, req->bridge_name, req->target_chain_id,
                           req->priority, &b);
    if (!code)
      code = nd_settle_kv_claim(call, jobs, 1, ids, &amount);
    if (!code) {
      code = nd_settle_kv_create(call, id, req->job_id, b, req->target_chain_id,
                                 amount, false, resp);
      if (code)
        nd_settle_kv_release(call, jobs, ids, 1);
    }
    return nd_done(call, code);
  }
  pthread_mutex_lock(&nd_st.mu);
  /* Arguments first (INVALID_ARGUMENT), then state. */
  int code = pick_bridge(call, req->bridge_name, req->target_chain_id,
                         req->priority, &b);
  if (!code)
    code = settleable(call, req->job_id, &r);
  if (!code) {
    nd_settle *s =
        new_settle(req->job_id, b, req->target_chain_id, nd_job_amount(r));
    fill(weft_server_call_arena(call), s, resp);
  }
  pthread_mutex_unlock(&nd_st.mu);
  return nd_done(call, code);
}

static int batch_kv(weft_server_call *call,
                    const aitbc__v1__BatchSettlementRequest *req,
                    aitbc__v1__BatchSettlementResponse *resp) {
  weft_arena *a = weft_server_call_arena(call);
  const nd_bridge *b = NULL;
  size_t n = req->n_job_ids;
  char **ids = weft_arena_calloc(a, n * sizeof *ids);
  uint64_t *amounts = weft_arena_calloc(a, n * sizeof *amounts);
  resp->results = weft_arena_calloc(a, n * sizeof(void *));
  for (size_t i = 0; ids && i < n; i++)
    ids[i] = weft_arena_calloc(a, 96);
  if (!ids || !amounts || !resp->results || (n && !ids[n - 1]))
    return nd_fail(call, WEFT_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  int code = pick_bridge(call, req->bridge_name, req->target_chain_id, 0, &b);
  if (!code)
    code = nd_settle_kv_claim(call, req->job_ids, n, ids, amounts);
  size_t made = 0;
  for (; !code && made < n; made++) {
    aitbc__v1__SettlementResult *o = aitbc__v1__SettlementResult_new(a);
    code =
        o ? nd_settle_kv_create(call, ids[made], req->job_ids[made], b,
                                req->target_chain_id, amounts[made], false, o)
          : nd_fail(call, WEFT_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    if (o)
      resp->results[resp->n_results++] = o;
  }
  if (code && made > 0) /* the claims of the ones not written go back */
    nd_settle_kv_release(call, req->job_ids + made - 1, ids + made - 1,
                         n - (made - 1));
  return code;
}

static int batch_settle(weft_server_call *call,
                        const aitbc__v1__BatchSettlementRequest *req,
                        aitbc__v1__BatchSettlementResponse *resp, void *ctx) {
  (void)ctx;
  if (!req->n_job_ids)
    return nd_done(
        call, nd_fail(call, WEFT_STATUS_INVALID_ARGUMENT, "job_ids is empty"));
  weft_arena *a = weft_server_call_arena(call);
  const nd_bridge *b = NULL;
  nd_receipt *r = NULL;
  if (nd_kv_enabled())
    return nd_done(call, batch_kv(call, req, resp));
  pthread_mutex_lock(&nd_st.mu);
  int code = pick_bridge(call, req->bridge_name, req->target_chain_id, 0, &b);
  /* All or nothing: validate every job before settling any. */
  for (size_t i = 0; !code && i < req->n_job_ids; i++)
    code = settleable(call, req->job_ids[i], &r);
  if (!code) {
    resp->results = weft_arena_calloc(a, req->n_job_ids * sizeof(void *));
    for (size_t i = 0; i < req->n_job_ids; i++) {
      settleable(call, req->job_ids[i], &r);
      nd_settle *s = new_settle(req->job_ids[i], b, req->target_chain_id,
                                nd_job_amount(r));
      aitbc__v1__SettlementResult *o = aitbc__v1__SettlementResult_new(a);
      fill(a, s, o);
      resp->results[resp->n_results++] = o;
    }
  }
  pthread_mutex_unlock(&nd_st.mu);
  return nd_done(call, code);
}

/* A raw settlement message: no job needed; no signature -> bridge fails. */
static int send_message(weft_server_call *call,
                        const aitbc__v1__SettlementMessage *req,
                        aitbc__v1__SettlementResult *resp, void *ctx) {
  (void)ctx;
  if (req->payment_amount == 0)
    return nd_done(call, nd_fail(call, WEFT_STATUS_INVALID_ARGUMENT,
                                 "payment_amount must be > 0"));
  if (req->source_chain_id && req->source_chain_id != ND_LOCAL_CHAIN &&
      !nd_find_chain(req->source_chain_id))
    return nd_done(call,
                   nd_fail(call, WEFT_STATUS_INVALID_ARGUMENT,
                           "unknown source_chain_id %u", req->source_chain_id));
  const nd_bridge *b = NULL;
  if (nd_kv_enabled()) {
    int code = pick_bridge(call, NULL, req->target_chain_id, 0, &b);
    if (!code && req->job_id && *req->job_id) {
      void *j = NULL;
      code = nd_kv_get(call, weft_server_call_arena(call), ND_KV_JOBS,
                       req->job_id, &aitbc__v1__Job_desc, &j, NULL);
      if (code == WEFT_STATUS_NOT_FOUND)
        code = nd_fail(call, code, "job %s not found", req->job_id);
    }
    if (!code) {
      char id[96];
      nd_kv_new_id("msg", id, sizeof id);
      code = nd_settle_kv_create(call, id, req->job_id, b, req->target_chain_id,
                                 req->payment_amount,
                                 !req->signature || !*req->signature, resp);
    }
    return nd_done(call, code);
  }
  pthread_mutex_lock(&nd_st.mu);
  int code = pick_bridge(call, NULL, req->target_chain_id, 0, &b);
  if (!code && req->job_id && *req->job_id && !nd_find_job(req->job_id))
    code =
        nd_fail(call, WEFT_STATUS_NOT_FOUND, "job %s not found", req->job_id);
  if (!code) {
    nd_settle *s =
        new_settle(req->job_id, b, req->target_chain_id, req->payment_amount);
    s->fail = !req->signature || !*req->signature;
    fill(weft_server_call_arena(call), s, resp);
  }
  pthread_mutex_unlock(&nd_st.mu);
  return nd_done(call, code);
}

static int no_settle(weft_server_call *call, const char *id) {
  if (!id || !*id)
    return nd_fail(call, WEFT_STATUS_INVALID_ARGUMENT,
                   "message_id is required");
  return nd_fail(call, WEFT_STATUS_NOT_FOUND, "settlement %s not found", id);
}

static int get_status(weft_server_call *call,
                      const aitbc__v1__SettlementStatusRequest *req,
                      aitbc__v1__SettlementResult *resp, void *ctx) {
  (void)ctx;
  if (nd_kv_enabled())
    return nd_done(call, nd_settle_kv_status(call, req->message_id, resp));
  pthread_mutex_lock(&nd_st.mu);
  nd_settle *s = nd_find_settle(req->message_id);
  if (s)
    fill(weft_server_call_arena(call), s, resp);
  pthread_mutex_unlock(&nd_st.mu);
  return nd_done(call, s ? 0 : no_settle(call, req->message_id));
}

static int estimate_cost(weft_server_call *call,
                         const aitbc__v1__EstimateCostRequest *req,
                         aitbc__v1__CostEstimate *resp, void *ctx) {
  (void)ctx;
  const nd_bridge *b = NULL;
  pthread_mutex_lock(&nd_st.mu);
  int code = 0;
  if (req->job_id && *req->job_id && !nd_find_job(req->job_id))
    code =
        nd_fail(call, WEFT_STATUS_NOT_FOUND, "job %s not found", req->job_id);
  if (!code)
    code = pick_bridge(call, req->bridge_name, req->target_chain_id, 0, &b);
  pthread_mutex_unlock(&nd_st.mu);
  if (!code) {
    resp->bridge_name = (char *)b->name;
    resp->target_chain_id = req->target_chain_id;
    resp->estimated_gas = GAS_BASE;
    resp->estimated_fee = (uint64_t)((double)(GAS_BASE * GWEI) * b->fee_mult);
    resp->fee_token = (char *)nd_find_chain(req->target_chain_id)->token;
    resp->estimated_time_seconds = b->seconds;
  }
  return nd_done(call, code);
}

static int list_bridges(weft_server_call *call,
                        const aitbc__v1__ListBridgesRequest *req,
                        aitbc__v1__ListBridgesResponse *resp, void *ctx) {
  (void)ctx;
  (void)req;
  weft_arena *a = weft_server_call_arena(call);
  resp->bridges = weft_arena_calloc(a, nd_nbridges * sizeof(void *));
  for (size_t i = 0; i < nd_nbridges; i++) {
    const nd_bridge *b = &nd_bridges[i];
    aitbc__v1__BridgeInfo *o = aitbc__v1__BridgeInfo_new(a);
    o->name = (char *)b->name;
    o->enabled = b->enabled;
    o->supported_chains = (uint32_t *)b->chains;
    o->n_supported_chains = b->nchains;
    o->estimated_time_seconds = b->seconds;
    o->fee_multiplier = b->fee_mult;
    resp->bridges[resp->n_bridges++] = o;
  }
  return nd_done(call, 0);
}

static int list_chains(weft_server_call *call,
                       const aitbc__v1__ListChainsRequest *req,
                       aitbc__v1__ListChainsResponse *resp, void *ctx) {
  (void)ctx;
  (void)req;
  weft_arena *a = weft_server_call_arena(call);
  resp->chains = weft_arena_calloc(a, nd_nchains * sizeof(void *));
  for (size_t i = 0; i < nd_nchains; i++) {
    aitbc__v1__ChainInfo *o = aitbc__v1__ChainInfo_new(a);
    o->chain_id = nd_chains[i].id;
    o->name = (char *)nd_chains[i].name;
    o->native_token = (char *)nd_chains[i].token;
    o->bridges = weft_arena_calloc(a, nd_nbridges * sizeof(char *));
    for (size_t k = 0; k < nd_nbridges; k++)
      if (nd_bridge_supports(&nd_bridges[k], nd_chains[i].id))
        o->bridges[o->n_bridges++] = (char *)nd_bridges[k].name;
    resp->chains[resp->n_chains++] = o;
  }
  return nd_done(call, 0);
}

static int refund(weft_server_call *call,
                  const aitbc__v1__SettlementStatusRequest *req,
                  aitbc__v1__SettlementResult *resp, void *ctx) {
  (void)ctx;
  if (nd_kv_enabled())
    return nd_done(call, nd_settle_kv_refund(call, req->message_id, resp));
  int code = 0;
  pthread_mutex_lock(&nd_st.mu);
  nd_settle *s = nd_find_settle(req->message_id);
  if (!s) {
    code = no_settle(call, req->message_id);
  } else if (s->status == aitbc__v1__BridgeStatus__Value__failed ||
             s->status == aitbc__v1__BridgeStatus__Value__pending) {
    s->status = aitbc__v1__BridgeStatus__Value__refunded;
    nd_now_text(s->completed_at);
    touch(s);
  } else if (s->status != aitbc__v1__BridgeStatus__Value__refunded) {
    code = nd_fail(call, WEFT_STATUS_FAILED_PRECONDITION,
                   "settlement %s is %s: only pending or failed settlements "
                   "can be refunded",
                   s->id,
                   s->status == aitbc__v1__BridgeStatus__Value__completed
                       ? "completed"
                       : "in_progress");
  }
  if (!code)
    fill(weft_server_call_arena(call), s, resp);
  pthread_mutex_unlock(&nd_st.mu);
  return nd_done(call, code);
}

/* Sends the result if it changed since the last one sent; ends the stream
 * (OK) once a terminal status went out (nd_watch pump, lock held). */
static int pump_settle(nd_watch *w) {
  nd_settle *s = w->target;
  if (w->first || s->rev != w->rev) {
    aitbc__v1__SettlementResult r = aitbc__v1__SettlementResult_INIT;
    fill(nd_scratch(), s, &r);
    int rv = nd_watch_send(w, &r);
    if (rv == ND_FULL)
      return 0;
    if (rv)
      return rv;
    w->rev = s->rev;
    w->first = false;
  }
  return nd_settle_terminal(s->status) ? ND_END_OK : 0;
}

/* Sends the current result, then every change, until a terminal status.
 * Asynchronous: the stream holds no thread while it waits. */
static int watch(weft_server_call *call,
                 const aitbc__v1__SettlementStatusRequest *req, void *ctx) {
  (void)ctx;
  if (nd_kv_enabled()) { /* the mirror may not have caught up yet */
    int code = nd_settle_kv_fetch(call, req->message_id);
    if (code)
      return nd_done(call, code);
  }
  pthread_mutex_lock(&nd_st.mu);
  nd_settle *s = nd_find_settle(req->message_id);
  if (!s) {
    int code = no_settle(call, req->message_id);
    pthread_mutex_unlock(&nd_st.mu);
    return nd_done(call, code);
  }
  nd_watch *w = nd_watch_new(call, req, pump_settle);
  int code = WEFT_STATUS_RESOURCE_EXHAUSTED;
  if (w) {
    w->target = s;
    code = nd_watch_start(w);
  }
  pthread_mutex_unlock(&nd_st.mu);
  return code;
}

static const aitbc__v1__Settlement_impl impl = {
    .settle_cross_chain = settle_cross_chain,
    .batch_settle = batch_settle,
    .send_message = send_message,
    .get_settlement_status = get_status,
    .estimate_cost = estimate_cost,
    .list_bridges = list_bridges,
    .list_chains = list_chains,
    .refund_settlement = refund,
    .watch_settlement = watch,
};

int nd_add_settle(weft_server *s) {
  return weft_server_add_service(s, &aitbc__v1__Settlement_service, &impl,
                                 NULL);
}
