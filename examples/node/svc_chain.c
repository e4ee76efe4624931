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
#include "weft/codec.h"

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
  if (b->enc) { /* --nats: as the leader stored it */
    void *m = NULL;
    weft_decode_opts d = {.arena = a};
    if (weft_decode(&aitbc__v1__Block_desc, b->enc, b->enc_len, &d, &m, NULL) ==
        0) {
      *o = *(aitbc__v1__Block *)m;
      return;
    }
  }
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
 * not a height); each is followed by one transaction_confirmed event per
 * transaction of the block (ref: the same index, sub: the transaction). */
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
  if (weft_encode_alloc(m, &b->enc, &b->enc_len) < 0)
    b->enc = NULL; /* then shown without its transactions */
  b->tx_hash = nd_xcalloc((m->n_transactions + 1) * sizeof *b->tx_hash);
  for (size_t i = 0; i < m->n_transactions; i++) {
    const char *h = nd_block_tx_hash(m->transactions[i]);
    if (h) /* (every stored transaction has one; others are not events) */
      snprintf(b->tx_hash[b->ntx++], sizeof *b->tx_hash, "%s", h);
  }
  ND_PUSH(nd_st.blocks, b);
  size_t idx = nd_st.blocks.n - 1;
  nd_put_event(ND_EV_CHAIN, "new_block", idx, 0);
  for (size_t i = 0; i < b->ntx; i++)
    nd_put_event(ND_EV_CHAIN, "transaction_confirmed", idx, i);
  nd_changed();
}

/* transaction_pending events are live only with --nats: the mempool is
 * not a log, so they carry no sequence (0: not a position) and a resume
 * does not replay them (their transaction_confirmed events it does). */
void nd_chain_pending(const char *tx_hash) {
  nd_event *e = nd_put_event(ND_EV_CHAIN, "transaction_pending", 0, 0);
  snprintf(e->hash, sizeof e->hash, "%s", tx_hash);
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
  char js[1600];
  bool found = false;
  if (nd_kv_enabled()) {
    aitbc__v1__WalletTransaction *t = NULL;
    code =
        nd_kv_get(call, weft_server_call_arena(call), ND_KV_TXS, req->tx_hash,
                  &aitbc__v1__WalletTransaction_desc, (void **)&t, NULL);
    if (code && code != WEFT_STATUS_NOT_FOUND)
      return nd_done(call, code);
    if (!code) {
      nd_tx_json(t, js, sizeof js);
      found = true;
    }
  } else {
    pthread_mutex_lock(&nd_st.mu);
    for (size_t i = nd_st.txs.n; i-- > 0;)
      if (!strcmp(nd_st.txs.v[i]->hash, req->tx_hash)) {
        tx_json(nd_st.txs.v[i], js, sizeof js);
        found = true;
        break;
      }
    pthread_mutex_unlock(&nd_st.mu);
  }
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

/* Where a StreamEvents call is. With --nats, chain events are numbered by
 * block (sequence = height + 1): a block's new_block event and then its
 * transaction_confirmed events all carry its sequence. The stored blocks
 * after the cursor are read first (catch-up, from the chain bucket), then
 * the ring's events for heights not sent yet. */
typedef struct ev_cursor {
  bool kv;
  aitbc__v1__Block **v; /* catch-up, in the call's arena */
  size_t n, i;
  size_t j;        /* catch-up: the next event within block v[i] (0: block) */
  uint64_t expect; /* --nats: the next height to send */
  uint64_t live;   /* --nats: the ring's block whose events are being sent,
                      + 1 (0: none) */
} ev_cursor;

/* At most this many stored blocks are sent before going live; a client
 * further behind reads them with GetBlock (OUT_OF_RANGE says so). */
#define ND_CATCHUP_MAX 4096

static int send_block(nd_watch *w, aitbc__v1__Block *b, uint64_t seq) {
  aitbc__v1__BlockchainEvent ev = aitbc__v1__BlockchainEvent_INIT;
  ev.type = "new_block";
  ev.payload_case = 2;
  ev.block = b;
  ev.sequence = seq;
  return nd_watch_send(w, &ev);
}

static int send_tx(nd_watch *w, const char *type, const char *hash,
                   uint64_t seq) {
  aitbc__v1__BlockchainEvent ev = aitbc__v1__BlockchainEvent_INIT;
  ev.type = (char *)type;
  ev.payload_case = 3;
  ev.tx_hash = (char *)hash;
  ev.sequence = seq;
  return nd_watch_send(w, &ev);
}

/* --nats: the catch-up blocks' events, from (c->i, c->j). */
static int pump_stored(nd_watch *w, ev_cursor *c) {
  const aitbc__v1__StreamEventsRequest *req = w->req;
  bool blocks = wanted(req, "new_block"),
       txs = wanted(req, "transaction_confirmed");
  for (; c->i < c->n; c->i++, c->j = 0) {
    aitbc__v1__Block *b = c->v[c->i];
    uint64_t seq = (uint64_t)b->height + 1;
    for (; c->j <= b->n_transactions; c->j++) {
      const char *h = c->j ? nd_block_tx_hash(b->transactions[c->j - 1]) : 0;
      if (c->j ? !txs || !h : !blocks)
        continue;
      int r = c->j ? send_tx(w, "transaction_confirmed", h, seq)
                   : send_block(w, b, seq);
      if (r)
        return r; /* ND_FULL: resumed from this event */
    }
    c->expect = seq;
  }
  return 0;
}

/* Sends the chain events since w->next (nd_watch pump, lock held). */
static int pump_events(nd_watch *w) {
  const aitbc__v1__StreamEventsRequest *req = w->req;
  ev_cursor *c = w->target;
  int r = pump_stored(w, c);
  if (r)
    return r == ND_FULL ? 0 : r;
  while (w->next <= nd_st.next_seq) {
    if (nd_st.next_seq - w->next >= ND_EVENT_RING)
      w->next = nd_st.next_seq - ND_EVENT_RING + 1; /* fell behind: skip */
    nd_event *e = &nd_st.ring[w->next % ND_EVENT_RING];
    if (e->kind != ND_EV_CHAIN) {
      w->next++;
      continue;
    }
    bool block = !strcmp(e->type, "new_block");
    /* --nats: the events of a block the mirror applied (not pending) */
    const nd_block *nb =
        c->kv && (block || !strcmp(e->type, "transaction_confirmed"))
            ? nd_st.blocks.v[e->ref]
            : NULL;
    if (nb && block && c->live != (uint64_t)nb->height + 1) {
      /* A block sent already (catch-up, or a replayed head): its
       * transactions' events are skipped with it. (live equal: this event
       * again, after a full send queue.) */
      c->live = nb->height < c->expect ? 0 : (uint64_t)nb->height + 1;
      if (c->live)
        c->expect = (uint64_t)nb->height + 1;
    }
    if (!wanted(req, e->type) || (nb && c->live != (uint64_t)nb->height + 1)) {
      w->next++;
      continue;
    }
    weft_arena *a = nd_scratch();
    if (block) {
      aitbc__v1__Block *b = aitbc__v1__Block_new(a);
      fill_block(a, nb ? nb : nd_st.blocks.v[e->ref], b);
      r = send_block(w, b, nb ? (uint64_t)nb->height + 1 : e->seq);
    } else if (nb) {
      r = send_tx(w, e->type, nb->tx_hash[e->sub], (uint64_t)nb->height + 1);
    } else if (c->kv) {
      r = send_tx(w, e->type, e->hash, 0); /* pending: not a position */
    } else {
      r = send_tx(w, nd_adup(a, e->type), nd_st.txs.v[e->ref]->hash, e->seq);
    }
    if (r == ND_FULL)
      return 0; /* resumed when writable, from this event */
    if (r)
      return r;
    w->next++;
  }
  return 0;
}

/* --nats: the stored blocks after the cursor (no lock held). */
static int kv_catch_up(weft_server_call *call, uint64_t after, ev_cursor *c) {
  weft_arena *a = weft_server_call_arena(call);
  aitbc__v1__Block *head = NULL;
  int code = nd_kv_get(call, a, ND_KV_CHAIN, "head", &aitbc__v1__Block_desc,
                       (void **)&head, NULL);
  if (code && code != WEFT_STATUS_NOT_FOUND)
    return code;
  uint64_t top = head ? (uint64_t)head->height + 1 : 0; /* its sequence */
  c->expect = after;
  if (after > top)
    return nd_fail(call, WEFT_STATUS_OUT_OF_RANGE,
                   "after_sequence %llu is past the chain's newest event "
                   "(sequence %llu)",
                   (unsigned long long)after, (unsigned long long)top);
  if (top - after > ND_CATCHUP_MAX)
    return nd_fail(call, WEFT_STATUS_OUT_OF_RANGE,
                   "after_sequence %llu is %llu events behind the chain "
                   "(at most %d are replayed): read blocks %llu.. with "
                   "GetBlock, then resume after sequence %llu",
                   (unsigned long long)after, (unsigned long long)(top - after),
                   ND_CATCHUP_MAX, (unsigned long long)after,
                   (unsigned long long)top);
  c->v = weft_arena_calloc(a, (size_t)(top - after + 1) * sizeof *c->v);
  if (!c->v)
    return nd_fail(call, WEFT_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  for (uint64_t h = after; h < top; h++) {
    char id[32];
    snprintf(id, sizeof id, "h.%llu", (unsigned long long)h);
    void *b = NULL;
    code =
        nd_kv_get(call, a, ND_KV_CHAIN, id, &aitbc__v1__Block_desc, &b, NULL);
    if (code == WEFT_STATUS_NOT_FOUND)
      return nd_fail(call, WEFT_STATUS_DATA_LOSS,
                     "block %llu is missing from the chain bucket",
                     (unsigned long long)h);
    if (code)
      return code;
    c->v[c->n++] = b;
  }
  return 0;
}

/* Pushes chain events from the moment of the call, or from after a cursor
 * (after_sequence); never ends on its own. Asynchronous: the stream holds
 * no thread while it waits. */
static int stream_events(weft_server_call *call,
                         const aitbc__v1__StreamEventsRequest *req, void *ctx) {
  (void)ctx;
  int code = check_chain(call, req->chain_id);
  if (code)
    return nd_done(call, code);
  nd_watch *w = nd_watch_new(call, req, pump_events);
  ev_cursor *c = weft_arena_calloc(weft_server_call_arena(call), sizeof *c);
  if (!w || !c)
    return nd_done(call, WEFT_STATUS_RESOURCE_EXHAUSTED);
  w->target = c;
  c->kv = nd_kv_enabled();
  pthread_mutex_lock(&nd_st.mu);
  uint64_t pos = nd_st.next_seq + 1; /* the ring from here on is live */
  pthread_mutex_unlock(&nd_st.mu);
  if (c->kv && req->has_after_sequence) {
    /* Blocks the mirror applies from pos on come through the ring too;
     * those read here as well are skipped by height (expect). */
    if ((code = kv_catch_up(call, req->after_sequence, c)))
      return nd_done(call, code);
  } else if (req->has_after_sequence) {
    uint64_t after = req->after_sequence, last = pos - 1;
    uint64_t oldest = last >= ND_EVENT_RING ? last - ND_EVENT_RING + 1 : 1;
    if (after > last)
      code = nd_fail(call, WEFT_STATUS_OUT_OF_RANGE,
                     "after_sequence %llu is past this node's newest event "
                     "(sequence %llu)",
                     (unsigned long long)after, (unsigned long long)last);
    else if (after + 1 < oldest)
      code = nd_fail(call, WEFT_STATUS_OUT_OF_RANGE,
                     "events after sequence %llu are no longer held (the "
                     "oldest is %llu)",
                     (unsigned long long)after, (unsigned long long)oldest);
    if (code)
      return nd_done(call, code);
    pos = after + 1;
  }
  pthread_mutex_lock(&nd_st.mu);
  w->next = pos;
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
