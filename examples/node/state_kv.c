/* The node's shared state in NATS JetStream key-value buckets (--nats URL).
 *
 * One bucket per entity kind; a value is the entity's protobuf binary (the
 * generated codec), its key the entity id with the characters KV keys do not
 * allow escaped. Every change is a read-modify-write checked by revision
 * (kvStore_Update with the revision read), retried on a conflict, so the
 * changes to one key are linearizable; a create is kvStore_Create, which
 * fails when the key exists. One watcher thread per node follows the jobs
 * bucket and applies every change to the node's in-memory mirror, which
 * drives the Jobs.Watch streams (nd_watch pumps) without a thread per stream.
 *
 * One node at a time is the leader: it holds the "lease" key of the leader
 * bucket, whose values expire after the lease time (bucket max-age), by
 * refreshing it with revision-checked updates. Only the leader produces
 * blocks and steps jobs. README.md ("Several nodes: NATS") describes the
 * algorithm and its failure cases. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <nats/nats.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nodekv/v1/settlement_record.weft.h"
#include "state.h"
#include "weft/codec.h"

static const char *const bucket_name[] = {
    "weft_jobs",        "weft_chain",   "weft_leader", "weft_offers",
    "weft_receipts",    "weft_wallets", "weft_meta",   "weft_txs",
    "weft_settlements", "weft_settled", "weft_mempool"};
_Static_assert(sizeof bucket_name / sizeof bucket_name[0] == ND_KV_N,
               "one name per bucket");

static struct {
  natsOptions *opts;
  natsConnection *nc;
  jsCtx *js;
  kvStore *kv[ND_KV_N];
  kvWatcher *jobs_w, *rcpt_w, *head_w, *settle_w, *offer_w, *pool_w;
  int64_t last_height; /* of the last head applied; -1: none yet */
  bool offers_seen;    /* the offers watch's initial values are all in */
  bool pool_seen;      /* the mempool watch's initial values are all in */
  bool got;            /* watch_one applied an entry */
  pthread_t watch_t, lead_t;
  bool threads;
  char url[256];
  char node_id[64];
  int64_t lease_ms;
  atomic_bool stop, leader, on, rewatch;
} K;

bool nd_kv_enabled(void) {
  return atomic_load(&K.on);
}
const char *nd_kv_node_id(void) {
  return K.node_id;
}
bool nd_kv_is_leader(void) {
  return atomic_load(&K.leader);
}

void nd_kv_new_id(const char *prefix, char *out, size_t cap) {
  static unsigned nonce;
  static unsigned long long n;
  pthread_mutex_lock(&nd_st.mu);
  if (!nonce) /* differs between runs: the counter starts again at 1 */
    nonce = ((unsigned)nd_now_ns() ^ ((unsigned)getpid() << 12)) | 1u;
  unsigned long long k = ++n;
  pthread_mutex_unlock(&nd_st.mu);
  snprintf(out, cap, "%s-%s-%06x-%llu", prefix, K.node_id, nonce & 0xffffff, k);
}

/* KV keys allow [-/_=.a-zA-Z0-9] and no leading or trailing '.'; every
 * other byte (and '=' itself, the escape) becomes =XX. */
bool nd_kv_key(const char *id, char *out, size_t cap) {
  static const char hex[] = "0123456789ABCDEF";
  size_t n = 0;
  for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
    if (n + 4 > cap)
      return false;
    unsigned char c = *p;
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              (c == '.' && p != (const unsigned char *)id && p[1]);
    if (ok) {
      out[n++] = (char)c;
    } else {
      out[n++] = '=';
      out[n++] = hex[c >> 4];
      out[n++] = hex[c & 15];
    }
  }
  if (n == 0 && cap > 3) /* the empty id: a key of its own */
    out[n++] = '=', out[n++] = '0', out[n++] = '0';
  out[n] = 0;
  return true;
}

static bool conn_lost(natsStatus s) {
  return s == NATS_CONNECTION_CLOSED || s == NATS_NO_SERVER ||
         s == NATS_TIMEOUT || s == NATS_CONNECTION_DISCONNECTED ||
         s == NATS_NO_RESPONDERS || s == NATS_STALE_CONNECTION ||
         natsConnection_Status(K.nc) != NATS_CONN_STATUS_CONNECTED;
}

/* kvStore_Create/Update refused because of the revision (JetStream's
 * "wrong last sequence"): the key exists, or changed since it was read. */
static bool conflict(natsStatus s) {
  const char *last = nats_GetLastError(NULL);
  return s == NATS_ERR && last && strstr(last, "wrong last sequence");
}

/* A NATS failure as a call status (with its message), or logged when there
 * is no call (leader thread). */
static int fail(weft_server_call *call, natsStatus s, const char *what,
                const char *key) {
  int code = conn_lost(s)            ? WEFT_STATUS_UNAVAILABLE
             : s == NATS_MAX_PAYLOAD ? WEFT_STATUS_RESOURCE_EXHAUSTED
                                     : WEFT_STATUS_INTERNAL;
  const char *why = natsConnection_Status(K.nc) != NATS_CONN_STATUS_CONNECTED
                        ? "not connected"
                        : natsStatus_GetText(s);
  if (code == WEFT_STATUS_UNAVAILABLE) {
    if (call)
      return nd_fail(call, code,
                     "shared state unavailable: NATS at %s (%s, on %s %s); "
                     "the node keeps reconnecting",
                     K.url, why, what, key);
    nd_log(2, "nats: %s %s: %s", what, key, why);
    return code;
  }
  const char *last = nats_GetLastError(NULL);
  if (last && *last) /* e.g. "Payload 2097152 greater than maximum ..." */
    why = last;
  if (call)
    return nd_fail(call, code, "shared state: %s %s failed: %s", what, key,
                   why);
  nd_log(2, "nats: %s %s: %s", what, key, why);
  return code;
}

int nd_kv_get(weft_server_call *call, weft_arena *a, int bucket, const char *id,
              const weft_msg_desc *d, void **out, uint64_t *rev) {
  char key[256];
  if (!nd_kv_key(id, key, sizeof key))
    return call ? nd_fail(call, WEFT_STATUS_INVALID_ARGUMENT,
                          "id of %zu bytes is too long (KV key)", strlen(id))
                : WEFT_STATUS_INVALID_ARGUMENT;
  kvEntry *e = NULL;
  natsStatus s = kvStore_Get(&e, K.kv[bucket], key);
  if (s == NATS_NOT_FOUND)
    return WEFT_STATUS_NOT_FOUND;
  if (s != NATS_OK)
    return fail(call, s, "get", key);
  weft_decode_opts o = {.arena = a};
  weft_error err = {0};
  int rv = weft_decode(d, kvEntry_Value(e), (size_t)kvEntry_ValueLen(e), &o,
                       out, &err);
  if (rev)
    *rev = kvEntry_Revision(e);
  kvEntry_Destroy(e);
  if (rv < 0) {
    if (call)
      return nd_fail(call, WEFT_STATUS_DATA_LOSS,
                     "shared state: %s/%s does not decode: %s",
                     bucket_name[bucket], key, err.message);
    return WEFT_STATUS_DATA_LOSS;
  }
  return 0;
}

static int encode(weft_server_call *call, const void *msg, uint8_t **buf,
                  size_t *len) {
  if (weft_encode_alloc(msg, buf, len) < 0)
    return call ? nd_fail(call, WEFT_STATUS_RESOURCE_EXHAUSTED, "out of memory")
                : WEFT_STATUS_RESOURCE_EXHAUSTED;
  return 0;
}

int nd_kv_create(weft_server_call *call, int bucket, const char *id,
                 const void *msg) {
  char key[256];
  if (!nd_kv_key(id, key, sizeof key))
    return call ? nd_fail(call, WEFT_STATUS_INVALID_ARGUMENT,
                          "id of %zu bytes is too long (KV key)", strlen(id))
                : WEFT_STATUS_INVALID_ARGUMENT;
  uint8_t *buf;
  size_t len;
  int code = encode(call, msg, &buf, &len);
  if (code)
    return code;
  uint64_t rev;
  natsStatus s = kvStore_Create(&rev, K.kv[bucket], key, buf, (int)len);
  free(buf);
  if (s == NATS_OK)
    return 0;
  if (conflict(s))
    return WEFT_STATUS_ALREADY_EXISTS;
  return fail(call, s, "create", key);
}

/* A revision conflict means someone wrote the key between our read and our
 * write: read again and redo the change. Anything else is reported. */
#define MAX_RETRIES 64

int nd_kv_update(weft_server_call *call, weft_arena *a, int bucket,
                 const char *id, const weft_msg_desc *d, nd_kv_mutate fn,
                 void *arg, void **out) {
  char key[256];
  if (!nd_kv_key(id, key, sizeof key))
    return call ? nd_fail(call, WEFT_STATUS_INVALID_ARGUMENT,
                          "id of %zu bytes is too long (KV key)", strlen(id))
                : WEFT_STATUS_INVALID_ARGUMENT;
  for (int attempt = 0; attempt < MAX_RETRIES; attempt++) {
    void *msg = NULL;
    uint64_t rev = 0;
    int code = nd_kv_get(call, a, bucket, id, d, &msg, &rev);
    if (code)
      return code;
    code = fn(call, msg, arg);
    if (code == ND_KV_KEEP) {
      if (out)
        *out = msg;
      return 0;
    }
    if (code)
      return code;
    uint8_t *buf;
    size_t len;
    if ((code = encode(call, msg, &buf, &len)))
      return code;
    uint64_t nrev;
    natsStatus s = kvStore_Update(&nrev, K.kv[bucket], key, buf, (int)len, rev);
    free(buf);
    if (s == NATS_OK) {
      if (out)
        *out = msg;
      return 0;
    }
    if (!conflict(s))
      return fail(call, s, "update", key);
    /* lost the race to another writer: read again */
  }
  if (call)
    return nd_fail(call, WEFT_STATUS_ABORTED,
                   "shared state: %s/%s changed %d times while updating it",
                   bucket_name[bucket], key, MAX_RETRIES);
  return WEFT_STATUS_ABORTED;
}

int nd_kv_list(weft_server_call *call, weft_arena *a, int bucket,
               const weft_msg_desc *d, void ***out, size_t *n) {
  kvKeysList keys = {0};
  *out = NULL;
  *n = 0;
  natsStatus s = kvStore_Keys(&keys, K.kv[bucket], NULL);
  if (s == NATS_NOT_FOUND)
    return 0;
  if (s != NATS_OK)
    return fail(call, s, "list", bucket_name[bucket]);
  void **v = weft_arena_calloc(a, ((size_t)keys.Count + 1) * sizeof *v);
  for (int i = 0; v && i < keys.Count; i++) {
    kvEntry *e = NULL;
    s = kvStore_Get(&e, K.kv[bucket], keys.Keys[i]);
    if (s == NATS_NOT_FOUND)
      continue; /* deleted since the key list was taken */
    if (s != NATS_OK) {
      int code = fail(call, s, "get", keys.Keys[i]);
      kvKeysList_Destroy(&keys);
      return code;
    }
    weft_decode_opts o = {.arena = a};
    void *msg = NULL;
    if (weft_decode(d, kvEntry_Value(e), (size_t)kvEntry_ValueLen(e), &o, &msg,
                    NULL) == 0)
      v[(*n)++] = msg;
    kvEntry_Destroy(e);
  }
  kvKeysList_Destroy(&keys);
  *out = v;
  return 0;
}

int nd_kv_delete(int bucket, const char *id) {
  char key[256];
  if (!nd_kv_key(id, key, sizeof key))
    return WEFT_STATUS_INVALID_ARGUMENT;
  natsStatus s = kvStore_Delete(K.kv[bucket], key);
  return s == NATS_OK ? 0 : fail(NULL, s, "delete", key);
}

/* Delete markers stay in a bucket's stream (and in every key listing's
 * walk) until purged; the leader does it for the mempool now and then. */
static void purge_deletes(int bucket) {
  kvPurgeOptions o;
  kvPurgeOptions_Init(&o);
  o.DeleteMarkersOlderThan = -1; /* all of them */
  kvStore_PurgeDeletes(K.kv[bucket], &o);
}

/* ---- the jobs watcher: every change, from any node, into the mirror ---- */

static void sleep_ms(int64_t ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
    ;
}

/* The head moved to m: new_block events for every block since the last
 * head applied, in order. The head key keeps one revision, so a watcher
 * that lags (or was reconnecting) may not see each one; the blocks in
 * between are read from their own keys. The first head seen is the chain
 * as it was at start: no event. */
static void head_moved(const aitbc__v1__Block *m, weft_arena *a) {
  int64_t h = m->height;
  if (K.last_height < 0 || h <= K.last_height) {
    if (K.last_height < 0)
      K.last_height = h;
    return; /* the start, or a replay after a reconnect */
  }
  for (int64_t k = K.last_height + 1; k < h; k++) {
    char id[32];
    aitbc__v1__Block *b = NULL;
    snprintf(id, sizeof id, "h.%lld", (long long)k);
    if (nd_kv_get(NULL, a, ND_KV_CHAIN, id, &aitbc__v1__Block_desc, (void **)&b,
                  NULL))
      return; /* NATS trouble: the next head fills the gap */
    pthread_mutex_lock(&nd_st.mu);
    nd_chain_apply(b);
    pthread_mutex_unlock(&nd_st.mu);
  }
  pthread_mutex_lock(&nd_st.mu);
  nd_chain_apply(m);
  pthread_mutex_unlock(&nd_st.mu);
  K.last_height = h;
}

/* One entry from w, if any within timeout_ms; applies it to the mirror.
 * false when the watcher is stopped. */
static bool watch_one(kvWatcher *w, const weft_msg_desc *d, weft_arena *a,
                      int64_t timeout_ms) {
  kvEntry *e = NULL;
  natsStatus s = kvWatcher_Next(&e, w, timeout_ms);
  if (s == NATS_OK && !e) { /* NULL: the initial values are all in */
    if (w == K.offer_w)
      K.offers_seen = true; /* (only this thread reads it) */
    if (w == K.pool_w)
      K.pool_seen = true;
    return true;
  }
  if (s == NATS_TIMEOUT)
    return true;
  if (s != NATS_OK) {
    if (s == NATS_ILLEGAL_STATE || s == NATS_INVALID_SUBSCRIPTION)
      return false;
    sleep_ms(100); /* disconnected: the client resubscribes on reconnect */
    return true;
  }
  K.got = true;
  if (kvEntry_Operation(e) == kvOp_Put) {
    void *m = NULL;
    weft_decode_opts o = {.arena = a};
    if (weft_decode(d, kvEntry_Value(e), (size_t)kvEntry_ValueLen(e), &o, &m,
                    NULL) == 0) {
      pthread_mutex_lock(&nd_st.mu);
      if (d == &aitbc__v1__Job_desc)
        nd_job_apply(m, kvEntry_Revision(e));
      else if (d == &aitbc__v1__Receipt_desc)
        nd_receipt_apply(m);
      else if (d == &nodekv__v1__SettlementRecord_desc)
        nd_settle_apply(m, kvEntry_Revision(e));
      else if (d == &aitbc__v1__Offer_desc)
        nd_offer_apply(m, !K.offers_seen);
      else if (d == &aitbc__v1__WalletTransaction_desc && K.pool_seen &&
               ((aitbc__v1__WalletTransaction *)m)->tx_hash)
        /* (the initial values were pending before this node watched) */
        nd_chain_pending(((aitbc__v1__WalletTransaction *)m)->tx_hash);
      pthread_mutex_unlock(&nd_st.mu);
      if (d == &aitbc__v1__Block_desc)
        head_moved(m, a);
    }
    weft_arena_reset(a);
  }
  kvEntry_Destroy(e);
  return true;
}

/* The mempool's new entries (transaction_pending events); its deletes
 * (sealed transactions) are not events. */
static natsStatus watch_pool(kvWatcher **w) {
  kvWatchOptions o;
  kvWatchOptions_Init(&o);
  o.IgnoreDeletes = true;
  return kvStore_WatchAll(w, K.kv[ND_KV_MEMPOOL], &o);
}

/* The mempool takes every transaction, so its entries are drained in
 * batches rather than one per round of the watchers. */
static bool watch_pool_batch(weft_arena *a) {
  for (int i = 0; i < 256; i++) {
    K.got = false;
    if (!watch_one(K.pool_w, &aitbc__v1__WalletTransaction_desc, a, i ? 1 : 20))
      return false;
    if (!K.got)
      break;
  }
  return true;
}

/* Follows the jobs and receipts buckets and the chain's head: every change,
 * from any node, into this node's mirror, which runs the open streams'
 * pumps. */
static void *watch_thread(void *arg) {
  (void)arg;
  weft_arena *a = NULL;
  if (weft_arena_new(&a, 4096) < 0)
    return NULL;
  while (!atomic_load(&K.stop)) {
    if (atomic_exchange(&K.rewatch, false)) {
      kvWatcher *jw = NULL, *rw = NULL, *hw = NULL, *sw = NULL, *ow = NULL,
                *pw = NULL;
      if (kvStore_WatchAll(&jw, K.kv[ND_KV_JOBS], NULL) != NATS_OK ||
          kvStore_WatchAll(&rw, K.kv[ND_KV_RECEIPTS], NULL) != NATS_OK ||
          kvStore_Watch(&hw, K.kv[ND_KV_CHAIN], "head", NULL) != NATS_OK ||
          kvStore_WatchAll(&sw, K.kv[ND_KV_SETTLES], NULL) != NATS_OK ||
          kvStore_WatchAll(&ow, K.kv[ND_KV_OFFERS], NULL) != NATS_OK ||
          watch_pool(&pw) != NATS_OK) {
        kvWatcher *v[] = {jw, rw, hw, sw, ow, pw};
        for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
          if (v[i])
            kvWatcher_Destroy(v[i]);
        atomic_store(&K.rewatch, true);
        sleep_ms(200);
        continue;
      }
      kvWatcher_Destroy(K.jobs_w);
      kvWatcher_Destroy(K.rcpt_w);
      kvWatcher_Destroy(K.head_w);
      kvWatcher_Destroy(K.settle_w);
      kvWatcher_Destroy(K.offer_w);
      kvWatcher_Destroy(K.pool_w);
      K.settle_w = sw;
      K.offer_w = ow;
      K.offers_seen = false;
      K.pool_w = pw;
      K.pool_seen = false;
      K.jobs_w = jw;
      K.rcpt_w = rw;
      K.head_w = hw;
      nd_log(1, "nats: watching the buckets again");
    }
    if (!watch_one(K.jobs_w, &aitbc__v1__Job_desc, a, 20) ||
        !watch_one(K.rcpt_w, &aitbc__v1__Receipt_desc, a, 20) ||
        /* (the mempool before the head: a transaction's pending event
         * comes before its confirmation when both are waiting) */
        !watch_pool_batch(a) ||
        !watch_one(K.head_w, &aitbc__v1__Block_desc, a, 20) ||
        !watch_one(K.settle_w, &nodekv__v1__SettlementRecord_desc, a, 20) ||
        !watch_one(K.offer_w, &aitbc__v1__Offer_desc, a, 20))
      break;
  }
  weft_arena_free(a);
  return NULL;
}

/* ---- leader lease and block production ---- */

/* One round of the lease: refresh it when held, take it when free. */
static void lease_round(uint64_t *rev) {
  kvStore *kv = K.kv[ND_KV_LEASE];
  size_t len = strlen(K.node_id);
  natsStatus s;
  if (atomic_load(&K.leader)) {
    s = kvStore_Update(rev, kv, "lease", K.node_id, (int)len, *rev);
    if (s != NATS_OK) {
      /* Someone took it after it expired, or NATS is gone: in both cases
       * this node cannot know it is alone, so it stops producing. */
      atomic_store(&K.leader, false);
      nd_log(1, "node %s: lost the leader lease (%s)", K.node_id,
             natsStatus_GetText(s));
    }
    return;
  }
  s = kvStore_Create(rev, kv, "lease", K.node_id, (int)len);
  if (s == NATS_OK) {
    atomic_store(&K.leader, true);
    nd_log(1, "node %s: leader (lease %lld ms)", K.node_id,
           (long long)K.lease_ms);
    return;
  }
  /* Our own lease from before a restart with the same --node-id: take it
   * back by revision instead of waiting for it to expire. */
  kvEntry *e = NULL;
  if (kvStore_Get(&e, kv, "lease") == NATS_OK) {
    if ((size_t)kvEntry_ValueLen(e) == len &&
        !memcmp(kvEntry_Value(e), K.node_id, len) &&
        kvStore_Update(rev, kv, "lease", K.node_id, (int)len,
                       kvEntry_Revision(e)) == NATS_OK) {
      atomic_store(&K.leader, true);
      nd_log(1, "node %s: leader again", K.node_id);
    }
    kvEntry_Destroy(e);
  }
}

/* Seals block head+1 into the chain bucket ("h.<height>"), then moves
 * "head" to it. If the block exists already (a leader died between the two
 * writes, or two leaders overlap), "head" is moved to the stored block, so
 * every height is written once and the chain never forks. */
static void produce_block(weft_arena *a) {
  aitbc__v1__Block *head = NULL, *blk;
  uint64_t head_rev = 0;
  int code = nd_kv_get(NULL, a, ND_KV_CHAIN, "head", &aitbc__v1__Block_desc,
                       (void **)&head, &head_rev);
  if (code && code != WEFT_STATUS_NOT_FOUND)
    return;
  blk = aitbc__v1__Block_new(a);
  if (!blk)
    return;
  blk->chain_id = ND_CHAIN_ID;
  blk->height = head ? head->height + 1 : 0;
  char ts[40], src[256], h[65];
  nd_now_text(ts);
  blk->timestamp = nd_adup(a, ts);
  blk->proposer = nd_adup(a, K.node_id);
  /* The head's transactions are confirmed before new ones are gathered,
   * so none is sealed twice (a leader may have died in between). */
  if (head && nd_tx_kv_confirm(head, a))
    return;
  if (nd_tx_kv_gather(blk, a))
    return;
  blk->parent_hash =
      nd_adup(a, head ? head->hash
                      : "0x0000000000000000000000000000000000000000000000000000"
                        "000000000000");
  snprintf(src, sizeof src, "%u|%s|%s|%s", blk->height, blk->parent_hash,
           blk->proposer, ts);
  nd_hex_hash(src, strlen(src), h);
  char hash[68];
  snprintf(hash, sizeof hash, "0x%s", h);
  blk->hash = nd_adup(a, hash);
  blk->state_root = blk->hash;
  char id[32];
  snprintf(id, sizeof id, "h.%u", blk->height);
  code = nd_kv_create(NULL, ND_KV_CHAIN, id, blk);
  if (code == WEFT_STATUS_ALREADY_EXISTS) {
    blk = NULL;
    if (nd_kv_get(NULL, a, ND_KV_CHAIN, id, &aitbc__v1__Block_desc,
                  (void **)&blk, NULL))
      return;
  } else if (code) {
    return;
  }
  uint8_t *buf;
  size_t len;
  if (weft_encode_alloc(blk, &buf, &len) < 0)
    return;
  uint64_t rev;
  natsStatus s =
      head ? kvStore_Update(&rev, K.kv[ND_KV_CHAIN], "head", buf, (int)len,
                            head_rev)
           : kvStore_Create(&rev, K.kv[ND_KV_CHAIN], "head", buf, (int)len);
  free(buf);
  if (s != NATS_OK) {
    nd_log(2, "nats: head not moved (%s): next round reads it",
           natsStatus_GetText(s));
    return;
  }
  nd_tx_kv_confirm(blk, a); /* else the next round does it */
  if (blk->height % 64 == 0)
    purge_deletes(ND_KV_MEMPOOL);
}

static void *lead_thread(void *arg) {
  (void)arg;
  weft_arena *a = NULL;
  if (weft_arena_new(&a, 4096) < 0)
    return NULL;
  uint64_t rev = 0;
  int64_t next_lease = 0, next_block = 0, next_jobs = 0, next_wallets = 0,
          next_offers = 0;
  const int64_t ms = 1000000;
  while (!atomic_load(&K.stop)) {
    int64_t now = nd_now_ns();
    if (now >= next_lease) {
      bool was = atomic_load(&K.leader);
      lease_round(&rev);
      next_lease = now + K.lease_ms / 3 * ms;
      if (!was && atomic_load(&K.leader))
        next_block = now; /* a new leader seals at once */
    }
    if (atomic_load(&K.leader) && now >= next_block) {
      produce_block(a);
      weft_arena_reset(a);
      next_block = now + nd_st.cfg.block_interval_ms * ms;
    }
    if (atomic_load(&K.leader) && now >= next_jobs) {
      nd_job_kv_tick(now, a);
      weft_arena_reset(a);
      nd_settle_kv_tick(now, a);
      weft_arena_reset(a);
      next_jobs = now + 50 * ms;
    }
    if (atomic_load(&K.leader) && now >= next_wallets) {
      nd_wallet_kv_recover(a);
      weft_arena_reset(a);
      next_wallets = now + 1000 * ms;
    }
    if (atomic_load(&K.leader) && now >= next_offers) {
      nd_market_kv_tick(a);
      weft_arena_reset(a);
      next_offers = now + 200 * ms;
    }
    sleep_ms(20);
  }
  weft_arena_free(a);
  return NULL;
}

/* ---- connection ---- */

static void on_disconnected(natsConnection *nc, void *closure) {
  (void)nc;
  (void)closure;
  if (!atomic_load(&K.stop))
    nd_log(2, "nats: disconnected from %s, reconnecting", K.url);
}

static void on_reconnected(natsConnection *nc, void *closure) {
  (void)nc;
  (void)closure;
  /* A restarted server may have lost the watchers' consumers: start them
   * again (they replay the last values; the mirror skips old revisions). */
  atomic_store(&K.rewatch, true);
  nd_log(1, "nats: reconnected to %s", K.url);
}

static int open_bucket(int i, char *err, size_t cap) {
  natsStatus s = js_KeyValue(&K.kv[i], K.js, bucket_name[i]);
  if (s == NATS_OK)
    return 0;
  kvConfig c;
  kvConfig_Init(&c);
  c.Bucket = bucket_name[i];
  c.History = 1;
  if (i == ND_KV_LEASE)
    c.TTL = K.lease_ms * 1000000; /* ns: the lease expires unless refreshed */
  s = js_CreateKeyValue(&K.kv[i], K.js, &c);
  if (s != NATS_OK) {
    char why[256];
    const char *last = nats_GetLastError(NULL);
    snprintf(why, sizeof why, "%s", last ? last : natsStatus_GetText(s));
    /* another node may have created it at the same moment */
    if (js_KeyValue(&K.kv[i], K.js, bucket_name[i]) == NATS_OK)
      return 0;
    snprintf(err, cap, "cannot open or create KV bucket %s: %s%s",
             bucket_name[i], why,
             s == NATS_NO_RESPONDERS
                 ? " (is JetStream enabled? nats-server -js)"
                 : "");
    return -1;
  }
  return 0;
}

int nd_kv_open(const char *url, const char *node_id, int64_t lease_ms,
               char *err, size_t cap) {
  atomic_store(&K.stop, false);
  K.last_height = -1;
  snprintf(K.url, sizeof K.url, "%s", url);
  snprintf(K.node_id, sizeof K.node_id, "%s", node_id);
  K.lease_ms = lease_ms > 0 ? lease_ms : 3000;
  natsStatus s = natsOptions_Create(&K.opts);
  if (s == NATS_OK)
    s = natsOptions_SetURL(K.opts, url);
  if (s == NATS_OK)
    s = natsOptions_SetTimeout(K.opts, 2000);
  /* Reconnect forever, 250 ms apart plus up to 250 ms of jitter, and do not
   * buffer while disconnected: a call fails (UNAVAILABLE) instead. */
  if (s == NATS_OK)
    s = natsOptions_SetMaxReconnect(K.opts, -1);
  if (s == NATS_OK)
    s = natsOptions_SetReconnectWait(K.opts, 250);
  if (s == NATS_OK)
    s = natsOptions_SetReconnectJitter(K.opts, 250, 250);
  if (s == NATS_OK)
    s = natsOptions_SetReconnectBufSize(K.opts, 0);
  if (s == NATS_OK)
    s = natsOptions_SetDisconnectedCB(K.opts, on_disconnected, NULL);
  if (s == NATS_OK)
    s = natsOptions_SetReconnectedCB(K.opts, on_reconnected, NULL);
  if (s != NATS_OK) {
    snprintf(err, cap, "NATS URL %s: %s", url, natsStatus_GetText(s));
    goto fail;
  }
  s = natsConnection_Connect(&K.nc, K.opts);
  if (s != NATS_OK) {
    snprintf(err, cap, "cannot connect to NATS at %s: %s", url,
             natsStatus_GetText(s));
    goto fail;
  }
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = 2000;
  s = natsConnection_JetStream(&K.js, K.nc, &jo);
  if (s != NATS_OK) {
    snprintf(err, cap, "NATS at %s: no JetStream context: %s", url,
             natsStatus_GetText(s));
    goto fail;
  }
  for (int i = 0; i < ND_KV_N; i++)
    if (open_bucket(i, err, cap) < 0)
      goto fail;
  /* The first node made the lease bucket with its --lease-ms; refreshing
   * at another node's pace could let the lease lapse, so follow it. */
  kvStatus *st = NULL;
  if (kvStore_Status(&st, K.kv[ND_KV_LEASE]) == NATS_OK) {
    int64_t ttl_ms = kvStatus_TTL(st) / 1000000;
    if (ttl_ms > 0 && ttl_ms != K.lease_ms) {
      nd_log(2,
             "nats: the leader lease is %lld ms (set by the first node), "
             "not --lease-ms %lld",
             (long long)ttl_ms, (long long)K.lease_ms);
      K.lease_ms = ttl_ms;
    }
    kvStatus_Destroy(st);
  }
  s = kvStore_WatchAll(&K.jobs_w, K.kv[ND_KV_JOBS], NULL);
  if (s == NATS_OK)
    s = kvStore_WatchAll(&K.rcpt_w, K.kv[ND_KV_RECEIPTS], NULL);
  if (s == NATS_OK)
    s = kvStore_Watch(&K.head_w, K.kv[ND_KV_CHAIN], "head", NULL);
  if (s == NATS_OK)
    s = kvStore_WatchAll(&K.settle_w, K.kv[ND_KV_SETTLES], NULL);
  if (s == NATS_OK)
    s = kvStore_WatchAll(&K.offer_w, K.kv[ND_KV_OFFERS], NULL);
  if (s == NATS_OK)
    s = watch_pool(&K.pool_w);
  if (s != NATS_OK) {
    snprintf(err, cap,
             "cannot watch the jobs, receipts, chain, settlements, offers "
             "and mempool buckets: %s",
             natsStatus_GetText(s));
    goto fail;
  }
  atomic_store(&K.on, true);
  return 0;
fail:
  nd_kv_close();
  return -1;
}

/* The cluster acts as one node with one wallet and one receipt key: the
 * first node to start stores its own, the others adopt them. The receipt
 * HMAC key is in the meta bucket in the clear (README: whoever can read
 * the bucket can sign receipts). */
static int share_identity(char *err, size_t cap) {
  nd_wallet *w = nd_st.wallets.v[0];
  aitbc__v1__WalletInfo wi = aitbc__v1__WalletInfo_INIT;
  wi.address = w->address;
  wi.public_key = w->public_key;
  wi.created_at = w->created_at;
  int code = nd_kv_create(NULL, ND_KV_META, "wallet", &wi);
  weft_arena *a = NULL;
  if (weft_arena_new(&a, 1024) < 0)
    return -1;
  if (code == WEFT_STATUS_ALREADY_EXISTS) {
    aitbc__v1__WalletInfo *got = NULL;
    code = nd_kv_get(NULL, a, ND_KV_META, "wallet", &aitbc__v1__WalletInfo_desc,
                     (void **)&got, NULL);
    if (!code) {
      snprintf(w->address, sizeof w->address, "%s", got->address);
      snprintf(w->public_key, sizeof w->public_key, "%s", got->public_key);
      snprintf(w->created_at, sizeof w->created_at, "%s", got->created_at);
    }
  }
  if (!code) {
    code = nd_wallet_kv_create(NULL, w->address, w->balance);
    if (code == WEFT_STATUS_ALREADY_EXISTS)
      code = 0;
  }
  weft_arena_free(a);
  if (code) {
    snprintf(err, cap, "cannot store or read the cluster's wallet");
    return -1;
  }
  uint64_t rev;
  natsStatus s = kvStore_Create(&rev, K.kv[ND_KV_META], "receipt-key",
                                nd_st.key, (int)sizeof nd_st.key);
  if (s == NATS_OK)
    return 0;
  kvEntry *e = NULL;
  s = kvStore_Get(&e, K.kv[ND_KV_META], "receipt-key");
  if (s == NATS_OK && kvEntry_ValueLen(e) == (int)sizeof nd_st.key)
    memcpy(nd_st.key, kvEntry_Value(e), sizeof nd_st.key);
  else if (s == NATS_OK)
    s = NATS_ERR;
  kvEntry_Destroy(e);
  if (s != NATS_OK) {
    snprintf(err, cap, "cannot read the cluster's receipt key: %s",
             natsStatus_GetText(s));
    return -1;
  }
  return 0;
}

int nd_kv_start(void) {
  if (!atomic_load(&K.on))
    return 0;
  char err[256];
  if (share_identity(err, sizeof err) < 0) {
    nd_log(3, "nats: %s", err);
    return -1;
  }
  nd_seed_offers_kv();
  if (pthread_create(&K.watch_t, NULL, watch_thread, NULL))
    return -1;
  if (pthread_create(&K.lead_t, NULL, lead_thread, NULL)) {
    atomic_store(&K.stop, true);
    pthread_join(K.watch_t, NULL);
    return -1;
  }
  K.threads = true;
  return 0;
}

void nd_kv_close(void) {
  atomic_store(&K.stop, true);
  if (K.threads) {
    pthread_join(K.lead_t, NULL);
    pthread_join(K.watch_t, NULL);
    K.threads = false;
  }
  if (atomic_load(&K.leader) && K.kv[ND_KV_LEASE]) {
    /* Hand over at once instead of after the lease time. */
    kvStore_Delete(K.kv[ND_KV_LEASE], "lease");
    atomic_store(&K.leader, false);
  }
  if (!K.opts)
    return; /* never opened, or closed already */
  if (K.jobs_w)
    kvWatcher_Destroy(K.jobs_w);
  if (K.rcpt_w)
    kvWatcher_Destroy(K.rcpt_w);
  if (K.head_w)
    kvWatcher_Destroy(K.head_w);
  if (K.settle_w)
    kvWatcher_Destroy(K.settle_w);
  if (K.offer_w)
    kvWatcher_Destroy(K.offer_w);
  if (K.pool_w)
    kvWatcher_Destroy(K.pool_w);
  K.jobs_w = K.rcpt_w = K.head_w = K.settle_w = K.offer_w = K.pool_w = NULL;
  for (int i = 0; i < ND_KV_N; i++) {
    if (K.kv[i])
      kvStore_Destroy(K.kv[i]);
    K.kv[i] = NULL;
  }
  if (K.js)
    jsCtx_Destroy(K.js);
  K.js = NULL;
  if (K.nc)
    natsConnection_Destroy(K.nc);
  K.nc = NULL;
  natsOptions_Destroy(K.opts);
  K.opts = NULL;
  atomic_store(&K.on, false);
}
