/* aitbc.v1.Blockchain: a simulated single-proposer chain. Every
 * --block-interval-ms a block is sealed with the mempool's transactions
 * (wallet sends, stakes, settlements) plus one synthetic transfer, so every
 * block carries transactions. Events: new_block, transaction_pending,
 * transaction_confirmed. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "google/protobuf/struct.weft.h"
#include "state.h"

static void seal_block(void) {
  nd_block *b = nd_xcalloc(sizeof *b);
  b->height = (uint32_t)nd_st.blocks.n;
  nd_now_text(b->timestamp);
  if (b->height)
    snprintf(b->parent, sizeof b->parent, "%s",
             nd_st.blocks.v[b->height - 1]->hash);
  else
    snprintf(b->parent, sizeof b->parent, "0x%064d", 0);
  b->ntx = nd_st.nmempool;
  b->txs = nd_xcalloc((b->ntx + 1) * sizeof *b->txs);
  char root_src[80 * 64 + 80];
  size_t rl = 0;
  for (size_t i = 0; i < b->ntx; i++) {
    nd_tx *t = nd_st.txs.v[nd_st.mempool[i]];
    b->txs[i] = nd_st.mempool[i];
    snprintf(t->status, sizeof t->status, "confirmed");
    t->block_height = b->height;
    if (i < 64)
      rl +=
          (size_t)snprintf(root_src + rl, sizeof root_src - rl, "%s", t->hash);
  }
  nd_st.nmempool = 0;
  char h[65], src[256];
  snprintf(root_src + rl, sizeof root_src - rl, "|%u", b->height);
  nd_hex_hash(root_src, strlen(root_src), h);
  snprintf(b->state_root, sizeof b->state_root, "0x%s", h);
  snprintf(src, sizeof src, "%u|%s|%s|%s", b->height, b->parent, b->state_root,
           b->timestamp);
  nd_hex_hash(src, strlen(src), h);
  snprintf(b->hash, sizeof b->hash, "0x%s", h);
  ND_PUSH(nd_st.blocks, b);
  nd_push_event(ND_EV_CHAIN, "new_block", b->height);
  for (size_t i = 0; i < b->ntx; i++)
    nd_push_event(ND_EV_CHAIN, "transaction_confirmed", b->txs[i]);
}

void nd_make_genesis(void) {
  seal_block();
}

void nd_chain_tick(int64_t now) {
  if (now < nd_st.next_block_ns)
    return;
  nd_st.next_block_ns = now + nd_st.cfg.block_interval_ms * 1000000;
  /* Background traffic: one faucet transfer per block (not the wallet's). */
  char to[64];
  snprintf(to, sizeof to, "aitbc1miner%04llu",
           (unsigned long long)(nd_st.blocks.n % 7));
  nd_add_tx("transfer", "aitbc1faucet", to, 1000000000ull, 1000, NULL, false);
  seal_block();
}

/* JSON of a transaction, the shape AITBC prints (payload + tx_hash). */
static void tx_json(const nd_tx *t, char *out, size_t cap) {
  snprintf(out, cap,
           "{\"tx_hash\":\"%s\",\"type\":\"%s\",\"from\":\"%s\",\"to\":\"%s\","
           "\"amount\":\"%llu\",\"fee\":\"%llu\",\"token\":\"%s\","
           "\"status\":\"%s\",\"block_height\":%u,\"timestamp\":\"%s\"}",
           t->hash, t->type, t->from, t->to, (unsigned long long)t->amount,
           (unsigned long long)t->fee, t->token, t->status, t->block_height,
           t->timestamp);
}

static void fill_block(weft_arena *a, const nd_block *b, aitbc__v1__Block *o) {
  o->chain_id = nd_adup(a, ND_CHAIN_ID);
  o->height = b->height;
  o->hash = nd_adup(a, b->hash);
  o->parent_hash = nd_adup(a, b->parent);
  o->proposer = nd_adup(a, b->proposer[0] ? b->proposer : "weft-node");
  o->timestamp = nd_adup(a, b->timestamp);
  o->tx_count = (uint32_t)b->ntx;
  o->state_root = nd_adup(a, b->state_root);
  o->transactions =
      weft_arena_calloc(a, (b->ntx + 1) * sizeof *o->transactions);
  for (size_t i = 0; i < b->ntx; i++) {
    char js[1024];
    tx_json(nd_st.txs.v[b->txs[i]], js, sizeof js);
    google__protobuf__Struct *s = nd_struct(a, js);
    if (s)
      o->transactions[o->n_transactions++] = s;
  }
}

static int check_chain(weft_server_call *call, const char *chain) {
  if (chain && *chain && strcmp(chain, ND_CHAIN_ID))
    return nd_fail(call, WEFT_STATUS_NOT_FOUND,
                   "unknown chain_id \"%s\" (this node serves \"%s\")", chain,
                   ND_CHAIN_ID);
  return 0;
}

/* With --nats the event ring's new_block events point at these copies of
 * the blocks the leader sealed (appended as the head moves, so an index,
 * not a height). */
void nd_chain_apply(const aitbc__v1__Block *m) {
  nd_block *b = nd_xcalloc(sizeof *b);
  b->height = m->height;
  snprintf(b->hash, sizeof b->hash, "%s", m->hash ? m->hash : "");
  snprintf(b->parent, sizeof b->parent, "%s",
           m->parent_hash ? m->parent_hash : "");
  snprintf(b->state_root, sizeof b->state_root, "%s",
           m->state_root ? m->state_root : "");
  snprintf(b->timestamp, sizeof b->timestamp, "%s",
           m->timestamp ? m->timestamp : "");
  snprintf(b->proposer, sizeof b->proposer, "%s",
           m->proposer ? m->proposer : "");
  ND_PUSH(nd_st.blocks, b);
  nd_push_event(ND_EV_CHAIN, "new_block", nd_st.blocks.n - 1);
  nd_changed();
}

/* With --nats: blocks are in the chain bucket under "h.<height>", and
 * "head" holds the newest (the leader writes both, state_kv.c). */
static int kv_block(weft_server_call *call, const char *id,
                    aitbc__v1__Block *resp) {
  void *m = NULL;
  int code = nd_kv_get(call, weft_server_call_arena(call), ND_KV_CHAIN, id,
                       &aitbc__v1__Block_desc, &m, NULL);
  if (code == WEFT_STATUS_NOT_FOUND)
    return strcmp(id, "head")
               ? nd_fail(call, code, "block %s not found (not sealed yet)",
                         id + 2)
               : nd_fail(call, code, "no block sealed yet (no leader yet?)");
  if (!code)
    *resp = *(aitbc__v1__Block *)m;
  return code;
}

static int get_head(weft_server_call *call,
                    const aitbc__v1__GetHeadRequest *req,
                    aitbc__v1__Block *resp, void *ctx) {
  (void)ctx;
  int code = check_chain(call, req->chain_id);
  if (code)
    return nd_done(call, code);
  if (nd_kv_enabled())
    return nd_done(call, kv_block(call, "head", resp));
  pthread_mutex_lock(&nd_st.mu);
  fill_block(weft_server_call_arena(call), nd_st.blocks.v[nd_st.blocks.n - 1],
             resp);
  pthread_mutex_unlock(&nd_st.mu);
  return nd_done(call, 0);
}

static int get_block(weft_server_call *call,
                     const aitbc__v1__GetBlockRequest *req,
                     aitbc__v1__Block *resp, void *ctx) {
  (void)ctx;
  int code = check_chain(call, req->chain_id);
  if (code)
    return nd_done(call, code);
  if (nd_kv_enabled()) {
    char id[32];
    snprintf(id, sizeof id, "h.%u", req->height);
    return nd_done(call, kv_block(call, id, resp));
  }
  pthread_mutex_lock(&nd_st.mu);
  size_t n = nd_st.blocks.n;
  if (req->height < n)
    fill_block(weft_server_call_arena(call), nd_st.blocks.v[req->height], resp);
  else
    code = nd_fail(call, WEFT_STATUS_NOT_FOUND,
                   "block %u not found (head is %zu)", req->height, n - 1);
  pthread_mutex_unlock(&nd_st.mu);
  return nd_done(call, code);
}

static int get_transaction(weft_server_call *call,
                           const aitbc__v1__GetTransactionRequest *req,
                           google__protobuf__Struct *resp, void *ctx) {
  (void)ctx;
  int code = check_chain(call, req->chain_id);
  if (code)
    return nd_done(call, code);
  if (!req->tx_hash || !*req->tx_hash)
    return nd_done(call, nd_fail(call, WEFT_STATUS_INVALID_ARGUMENT,
                                 "tx_hash is required"));
  char js[1024];
  bool found = false;
  pthread_mutex_lock(&nd_st.mu);
  for (size_t i = nd_st.txs.n; i-- > 0;)
    if (!strcmp(nd_st.txs.v[i]->hash, req->tx_hash)) {
      tx_json(nd_st.txs.v[i], js, sizeof js);
      found = true;
      break;
    }
  pthread_mutex_unlock(&nd_st.mu);
  if (!found)
    return nd_done(call, nd_fail(call, WEFT_STATUS_NOT_FOUND,
                                 "transaction %s not found", req->tx_hash));
  google__protobuf__Struct *s = nd_struct(weft_server_call_arena(call), js);
  if (!s)
    return nd_done(call, WEFT_STATUS_INTERNAL);
  *resp = *s;
  return nd_done(call, 0);
}

static int get_sync_status(weft_server_call *call,
                           const aitbc__v1__GetSyncStatusRequest *req,
                           aitbc__v1__SyncStatus *resp, void *ctx) {
  (void)ctx;
  int code = check_chain(call, req->chain_id);
  if (code)
    return nd_done(call, code);
  pthread_mutex_lock(&nd_st.mu);
  uint32_t head = (uint32_t)nd_st.blocks.n - 1;
  pthread_mutex_unlock(&nd_st.mu);
  resp->chain_id = ND_CHAIN_ID;
  resp->syncing = false;
  resp->current_height = head;
  resp->target_height = head;
  resp->peer_count = 0;
  return nd_done(call, 0);
}

static bool wanted(const aitbc__v1__StreamEventsRequest *req,
                   const char *type) {
  if (!req->n_types)
    return true;
  for (size_t i = 0; i < req->n_types; i++)
    if (!strcmp(req->types[i], type))
      return true;
  return false;
}

/* Sends the chain events since w->next (nd_watch pump, lock held). */
static int pump_events(nd_watch *w) {
  const aitbc__v1__StreamEventsRequest *req = w->req;
  while (w->next <= nd_st.next_seq) {
    if (nd_st.next_seq - w->next >= ND_EVENT_RING)
      w->next = nd_st.next_seq - ND_EVENT_RING + 1; /* fell behind: skip */
    nd_event *e = &nd_st.ring[w->next % ND_EVENT_RING];
    if (e->kind != ND_EV_CHAIN || !wanted(req, e->type)) {
      w->next++;
      continue;
    }
    weft_arena *a = nd_scratch();
    aitbc__v1__BlockchainEvent ev = aitbc__v1__BlockchainEvent_INIT;
    ev.type = nd_adup(a, e->type);
    if (!strcmp(e->type, "new_block")) {
      aitbc__v1__Block *b = aitbc__v1__Block_new(a);
      fill_block(a, nd_st.blocks.v[e->ref], b);
      ev.payload_case = 2;
      ev.block = b;
    } else {
      ev.payload_case = 3;
      ev.tx_hash = nd_adup(a, nd_st.txs.v[e->ref]->hash);
    }
    int r = nd_watch_send(w, &ev);
    if (r == ND_FULL)
      return 0; /* resumed when writable, from this event */
    if (r)
      return r;
    w->next++;
  }
  return 0;
}

/* Pushes chain events from the moment of the call; never ends on its own.
 * Asynchronous: the stream holds no thread while it waits. */
static int stream_events(weft_server_call *call,
                         const aitbc__v1__StreamEventsRequest *req, void *ctx) {
  (void)ctx;
  int code = check_chain(call, req->chain_id);
  if (code)
    return nd_done(call, code);
  nd_watch *w = nd_watch_new(call, req, pump_events);
  if (!w)
    return nd_done(call, WEFT_STATUS_RESOURCE_EXHAUSTED);
  pthread_mutex_lock(&nd_st.mu);
  w->next = nd_st.next_seq + 1;
  code = nd_watch_start(w);
  pthread_mutex_unlock(&nd_st.mu);
  return code;
}

static const aitbc__v1__Blockchain_impl impl = {
    .get_head = get_head,
    .get_block = get_block,
    .get_transaction = get_transaction,
    .get_sync_status = get_sync_status,
    .stream_events = stream_events,
};

int nd_add_chain(weft_server *s) {
  return weft_server_add_service(s, &aitbc__v1__Blockchain_service, &impl,
                                 NULL);
}
