/* The node's shared state: lifetime, helpers, the ticker, call logging. */
#define _POSIX_C_SOURCE 200809L
#include "state.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "google/protobuf/struct.weft.h"
#include "weft/json.h"

nd_state nd_st;

const nd_bridge nd_bridges[] = {
    {"layerzero", true, {1, 10, 137, 42161}, 4, 60, 1.0},
    {"chainlink_ccip", true, {1, 137, 43114}, 3, 900, 1.2},
    {"wormhole", false, {1, 137, 43114}, 3, 300, 1.1},
};
const size_t nd_nbridges = sizeof nd_bridges / sizeof nd_bridges[0];

const nd_chain nd_chains[] = {
    {1, "ethereum", "ETH"},       {10, "optimism", "ETH"},
    {137, "polygon", "MATIC"},    {42161, "arbitrum", "ETH"},
    {43114, "avalanche", "AVAX"},
};
const size_t nd_nchains = sizeof nd_chains / sizeof nd_chains[0];

/* ---- small helpers ---- */

int64_t nd_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void nd_now_text(char out[40]) {
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + n, 40 - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

void *nd_xcalloc(size_t n) {
  void *p = calloc(1, n ? n : 1);
  if (!p) {
    fputs("weft-node: out of memory\n", stderr);
    abort();
  }
  return p;
}

char *nd_strdup(const char *s) {
  if (!s)
    return NULL;
  size_t n = strlen(s) + 1;
  char *d = nd_xcalloc(n);
  memcpy(d, s, n);
  return d;
}

typedef struct {
  void **v;
  size_t n, cap;
} any_array;

void nd_push(void *arr, void *item) {
  any_array *a = arr;
  if (a->n == a->cap) {
    size_t cap = a->cap ? a->cap * 2 : 16;
    void **v = realloc(a->v, cap * sizeof *v);
    if (!v) {
      fputs("weft-node: out of memory\n", stderr);
      abort();
    }
    a->v = v;
    a->cap = cap;
  }
  a->v[a->n++] = item;
}

void nd_hex_hash(const void *data, size_t len, char out[65]) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(data, len, md);
  for (int i = 0; i < 32; i++)
    snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* One counter per prefix ("job-1", "offer-1", ...), under the lock. */
void nd_new_id(const char *prefix, char *out, size_t cap) {
  static struct {
    const char *prefix;
    unsigned long long n;
  } seq[8];
  size_t i = 0;
  while (i < 8 && seq[i].prefix && strcmp(seq[i].prefix, prefix))
    i++;
  if (i == 8) { /* more prefixes than the table holds: shared counter */
    snprintf(out, cap, "%s-%llu", prefix, (unsigned long long)++nd_st.counter);
    return;
  }
  seq[i].prefix = prefix;
  snprintf(out, cap, "%s-%llu", prefix, ++seq[i].n);
}

static void watch_end(nd_watch *w, int code);

void nd_changed(void) {
  nd_st.version++;
  pthread_cond_broadcast(&nd_st.cv);
  for (nd_watch *w = nd_st.watches, *nx; w; w = nx) {
    nx = w->nextw;
    if (w->blocked)
      continue;
    int code = nd_st.stopping ? WEFT_STATUS_UNAVAILABLE : w->pump(w);
    if (code) {
      if (code == WEFT_STATUS_UNAVAILABLE)
        weft_server_call_set_message(w->call, "node shutting down");
      watch_end(w, code);
    }
  }
}

nd_event *nd_put_event(int kind, const char *type, size_t ref, size_t sub) {
  uint64_t seq = ++nd_st.next_seq;
  nd_event *e = &nd_st.ring[seq % ND_EVENT_RING];
  e->seq = seq;
  e->kind = kind;
  snprintf(e->type, sizeof e->type, "%s", type);
  e->ref = ref;
  e->sub = sub;
  e->hash[0] = 0;
  return e;
}

void nd_push_event(int kind, const char *type, size_t ref) {
  nd_put_event(kind, type, ref, 0);
  nd_changed();
}

/* ---- lookups ---- */

nd_job *nd_find_job(const char *id) {
  for (size_t i = 0; id && i < nd_st.jobs.n; i++)
    if (!strcmp(nd_st.jobs.v[i]->id, id))
      return nd_st.jobs.v[i];
  return NULL;
}

nd_offer *nd_find_offer(const char *id) {
  for (size_t i = 0; id && i < nd_st.offers.n; i++)
    if (!strcmp(nd_st.offers.v[i]->id, id) && !nd_st.offers.v[i]->deleted)
      return nd_st.offers.v[i];
  return NULL;
}

nd_settle *nd_find_settle(const char *id) {
  for (size_t i = 0; id && i < nd_st.settles.n; i++)
    if (!strcmp(nd_st.settles.v[i]->id, id))
      return nd_st.settles.v[i];
  return NULL;
}

const nd_bridge *nd_find_bridge(const char *name) {
  for (size_t i = 0; name && i < nd_nbridges; i++)
    if (!strcmp(nd_bridges[i].name, name))
      return &nd_bridges[i];
  return NULL;
}

const nd_chain *nd_find_chain(uint32_t id) {
  for (size_t i = 0; i < nd_nchains; i++)
    if (nd_chains[i].id == id)
      return &nd_chains[i];
  return NULL;
}

bool nd_bridge_supports(const nd_bridge *b, uint32_t chain) {
  for (size_t i = 0; i < b->nchains; i++)
    if (b->chains[i] == chain)
      return true;
  return false;
}

bool nd_job_terminal(int s) {
  return s == aitbc__v1__JobState__COMPLETED ||
         s == aitbc__v1__JobState__FAILED ||
         s == aitbc__v1__JobState__CANCELLED ||
         s == aitbc__v1__JobState__EXPIRED;
}

bool nd_settle_terminal(int s) {
  return s == aitbc__v1__BridgeStatus__Value__completed ||
         s == aitbc__v1__BridgeStatus__Value__failed ||
         s == aitbc__v1__BridgeStatus__Value__refunded;
}

size_t nd_add_tx(const char *type, const char *from, const char *to,
                 uint64_t amount, uint64_t fee, const char *memo, bool wallet) {
  nd_tx *t = nd_xcalloc(sizeof *t);
  char seed[256];
  snprintf(seed, sizeof seed, "%s|%s|%s|%llu|%llu", type, from, to,
           (unsigned long long)amount, (unsigned long long)++nd_st.counter);
  t->hash[0] = '0';
  t->hash[1] = 'x';
  nd_hex_hash(seed, strlen(seed), t->hash + 2);
  snprintf(t->type, sizeof t->type, "%s", type);
  snprintf(t->from, sizeof t->from, "%s", from);
  snprintf(t->to, sizeof t->to, "%s", to);
  t->amount = amount;
  t->fee = fee;
  snprintf(t->token, sizeof t->token, "%s", ND_TOKEN);
  t->memo = nd_strdup(memo);
  snprintf(t->status, sizeof t->status, "pending");
  nd_now_text(t->timestamp);
  t->wallet = wallet;
  ND_PUSH(nd_st.txs, t);
  size_t idx = nd_st.txs.n - 1;
  if (nd_st.nmempool == nd_st.capmempool) {
    size_t cap = nd_st.capmempool ? 2 * nd_st.capmempool : 16;
    size_t *m = realloc(nd_st.mempool, cap * sizeof *m);
    if (!m)
      abort();
    nd_st.mempool = m;
    nd_st.capmempool = cap;
  }
  nd_st.mempool[nd_st.nmempool++] = idx;
  nd_push_event(ND_EV_CHAIN, "transaction_pending", idx);
  return idx;
}

void nd_receipt_sign(const nd_receipt *r, char out[65]) {
  char text[512];
  int n = snprintf(text, sizeof text, "%s|%s|%s|%s|%.6f|%.6f|%s|%s|%s", r->id,
                   r->job_id, r->provider, r->client, r->units, r->price,
                   r->started_at, r->completed_at, r->result_hash);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  HMAC(EVP_sha256(), nd_st.key, sizeof nd_st.key, (unsigned char *)text,
       (size_t)n < sizeof text ? (size_t)n : sizeof text - 1, md, &mdlen);
  for (unsigned i = 0; i < 32 && i < mdlen; i++)
    snprintf(out + 2 * i, 3, "%02x", md[i]);
}

uint64_t nd_job_amount(const nd_receipt *r) {
  return r->amount;
}

/* ---- logging and handler helpers ---- */

void nd_log(int level, const char *fmt, ...) {
  if (level < 1)
    return;
  static const char *names[] = {"debug", "info", "warn", "error"};
  char ts[40];
  nd_now_text(ts);
  char line[600];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  fprintf(stderr, "%s %s %s\n", ts, names[level > 3 ? 3 : level], line);
}

int nd_done(weft_server_call *call, int code) {
  if (nd_st.cfg.quiet)
    return code;
  const weft_method_desc *m = weft_server_call_method(call);
  const char *peer = weft_server_call_peer(call);
  nd_log(1, "%s from %s: %s", m ? m->path : "?", peer ? peer : "?",
         weft_status_name(code));
  return code;
}

int nd_fail(weft_server_call *call, int code, const char *fmt, ...) {
  char msg[300];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  weft_server_call_set_message(call, "%s", msg);
  return code;
}

char *nd_adup(weft_arena *a, const char *s) {
  if (!s)
    s = "";
  size_t n = strlen(s) + 1;
  char *d = weft_arena_alloc(a, n);
  if (d)
    memcpy(d, s, n);
  return d;
}

void *nd_struct(weft_arena *a, const char *json) {
  if (!json)
    return NULL;
  weft_json_opts o = {0};
  o.arena = a;
  void *out = NULL;
  weft_error err = {0};
  if (weft_json_decode(&google__protobuf__Struct_desc, json, strlen(json), &o,
                       &out, &err) < 0)
    return NULL;
  return out;
}

/* ---- event streams (nd_watch) ---- */

weft_arena *nd_scratch(void) {
  if (!nd_st.scratch && weft_arena_new(&nd_st.scratch, 0) < 0)
    abort(); /* demo node: no memory */
  return nd_st.scratch;
}

nd_watch *nd_watch_new(weft_server_call *call, const void *req,
                       int (*pump)(nd_watch *w)) {
  nd_watch *w = weft_arena_alloc(weft_server_call_arena(call), sizeof *w);
  if (!w)
    return NULL;
  memset(w, 0, sizeof *w);
  w->call = call;
  w->req = req;
  w->pump = pump;
  w->first = true;
  return w;
}

/* Lock held. Unlinks and finishes: the call (and w, in its arena) may be
 * gone as soon as finish returns. */
static void watch_end(nd_watch *w, int code) {
  if (code == ND_END_OK)
    code = WEFT_STATUS_OK;
  if (w->prev)
    w->prev->nextw = w->nextw;
  else
    nd_st.watches = w->nextw;
  if (w->nextw)
    w->nextw->prev = w->prev;
  w->linked = false;
  nd_done(w->call, code);
  weft_server_call_finish(w->call, code);
}

/* Runtime callbacks: w lives in the call's arena, and the call outlives
 * its callbacks, so w->linked can be read even if the stream ended. */
static void watch_cancelled(weft_server_call *call, void *ud) {
  nd_watch *w = ud;
  pthread_mutex_lock(&nd_st.mu);
  if (w->linked) {
    int code = WEFT_STATUS_CANCELLED;
    int64_t dl = weft_server_call_deadline(call);
    if (dl != INT64_MAX && nd_now_ns() >= dl)
      code = WEFT_STATUS_DEADLINE_EXCEEDED;
    watch_end(w, code);
  }
  pthread_mutex_unlock(&nd_st.mu);
}

static void watch_writable(weft_server_call *call, void *ud) {
  (void)call;
  nd_watch *w = ud;
  pthread_mutex_lock(&nd_st.mu);
  if (w->linked && w->blocked) {
    w->blocked = false;
    int code = w->pump(w);
    if (code)
      watch_end(w, code);
  }
  pthread_mutex_unlock(&nd_st.mu);
}

int nd_watch_start(nd_watch *w) {
  if (nd_st.stopping)
    return nd_fail(w->call, WEFT_STATUS_UNAVAILABLE, "node shutting down");
  weft_server_call_detach(w->call);
  weft_server_call_on_cancel(w->call, watch_cancelled, w);
  weft_server_call_on_writable(w->call, watch_writable, w);
  w->linked = true;
  w->nextw = nd_st.watches;
  if (nd_st.watches)
    nd_st.watches->prev = w;
  nd_st.watches = w;
  int code = w->pump(w);
  if (code)
    watch_end(w, code);
  return WEFT_STATUS_OK; /* ignored: the call is detached */
}

int nd_watch_send(nd_watch *w, const void *msg) {
  int rv = weft_server_call_send(w->call, msg);
  weft_arena_reset(nd_scratch());
  if (rv == WEFT_ERR_AGAIN) {
    w->blocked = true;
    return ND_FULL;
  }
  return rv < 0 ? WEFT_STATUS_CANCELLED : 0;
}

/* ---- lifetime ---- */

int nd_state_init(const nd_config *cfg) {
  memset(&nd_st, 0, sizeof nd_st);
  nd_st.cfg = *cfg;
  pthread_mutex_init(&nd_st.mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&nd_st.cv, &ca);
  pthread_condattr_destroy(&ca);
  if (RAND_bytes(nd_st.key, sizeof nd_st.key) != 1)
    return -1;
  /* The node's own wallet: it is also the miner that runs jobs, so
   * settlements of its receipts pay into it. */
  nd_wallet *w = nd_xcalloc(sizeof *w);
  unsigned char pk[20];
  RAND_bytes(pk, sizeof pk);
  char hex[65];
  nd_hex_hash(pk, sizeof pk, hex);
  snprintf(w->address, sizeof w->address, "aitbc1%.38s", hex);
  snprintf(w->public_key, sizeof w->public_key, "ed25519:%s", hex);
  nd_now_text(w->created_at);
  w->balance = 1000000000000ull; /* 1000 AITBC at 9 decimals */
  ND_PUSH(nd_st.wallets, w);
  nd_st.me = w;
  pthread_mutex_lock(&nd_st.mu);
  nd_make_genesis();
  nd_seed_offers();
  nd_st.next_block_ns = nd_now_ns() + cfg->block_interval_ms * 1000000;
  pthread_mutex_unlock(&nd_st.mu);
  return 0;
}

void nd_state_tick(void) {
  pthread_mutex_lock(&nd_st.mu);
  int64_t now = nd_now_ns();
  if (!nd_kv_enabled()) /* with --nats the leader does both (state_kv.c) */
    nd_job_tick(now);
  if (!nd_kv_enabled()) /* with --nats the leader steps them (settle_kv.c) */
    nd_settle_tick(now);
  if (!nd_kv_enabled()) /* with --nats the leader expires them */
    nd_market_tick(now);
  if (!nd_kv_enabled())
    nd_chain_tick(now);
  pthread_mutex_unlock(&nd_st.mu);
}

void nd_state_stop(void) {
  pthread_mutex_lock(&nd_st.mu);
  nd_st.stopping = true;
  nd_changed();
  pthread_mutex_unlock(&nd_st.mu);
}

void nd_state_free(void) {
  weft_arena_free(nd_st.scratch);
  for (size_t i = 0; i < nd_st.jobs.n; i++) {
    nd_job *j = nd_st.jobs.v[i];
    free(j->payload_json);
    free(j->constraints_json);
    free(j->result_json);
    free(j->error);
    free(j);
  }
  for (size_t i = 0; i < nd_st.txs.n; i++) {
    free(nd_st.txs.v[i]->memo);
    free(nd_st.txs.v[i]);
  }
  for (size_t i = 0; i < nd_st.blocks.n; i++) {
    free(nd_st.blocks.v[i]->txs);
    free(nd_st.blocks.v[i]->enc);
    free(nd_st.blocks.v[i]->tx_hash);
    free(nd_st.blocks.v[i]);
  }
  for (size_t i = 0; i < nd_st.offers.n; i++)
    free(nd_st.offers.v[i]);
  for (size_t i = 0; i < nd_st.settles.n; i++) {
    free(nd_st.settles.v[i]->tx_hash);
    free(nd_st.settles.v[i]->error);
    free(nd_st.settles.v[i]);
  }
  for (size_t i = 0; i < nd_st.receipts.n; i++)
    free(nd_st.receipts.v[i]);
  for (size_t i = 0; i < nd_st.wallets.n; i++)
    free(nd_st.wallets.v[i]);
  free(nd_st.jobs.v);
  free(nd_st.txs.v);
  free(nd_st.blocks.v);
  free(nd_st.offers.v);
  free(nd_st.settles.v);
  free(nd_st.receipts.v);
  free(nd_st.wallets.v);
  free(nd_st.mempool);
  pthread_cond_destroy(&nd_st.cv);
  pthread_mutex_destroy(&nd_st.mu);
}
