/* The reference node's embedded in-memory state, shared by every service.
 *
 * One mutex guards everything (the node serves a demo-sized world, and one
 * lock makes every handler trivially consistent across services). Every
 * change goes through nd_changed(), which runs the open streams' pumps
 * (nd_watch): a stream re-reads what it watches and queues what is new,
 * without a thread of its own. A ticker thread
 * advances time: jobs, blocks, offer expiry, settlements. Entities are never
 * freed before shutdown (deleted offers are only marked), so an index into
 * an array stays valid while the lock is not held. */
#ifndef WEFT_NODE_STATE_H
#define WEFT_NODE_STATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aitbc/v1/blockchain.weft.h"
#include "aitbc/v1/jobs.weft.h"
#include "aitbc/v1/marketplace.weft.h"
#include "aitbc/v1/receipts.weft.h"
#include "aitbc/v1/settlement.weft.h"
#include "aitbc/v1/wallet.weft.h"
#include "weft/server.h"

#define ND_TOKEN "AITBC"
#define ND_CHAIN_ID "ait-devnet"
#define ND_LOCAL_CHAIN 1337u /* the node's chain in settlement chain ids */

typedef struct nd_job {
  char id[96]; /* with --nats: job-<node id>-<run nonce>-<n> */
  int state;   /* aitbc__v1__JobState */
  char miner[64];
  char *payload_json;     /* google.protobuf.Struct as JSON, or NULL */
  char *constraints_json; /* same */
  char *result_json;      /* same */
  char *error;            /* NULL unless FAILED/EXPIRED/CANCELLED */
  uint32_t ttl_seconds;
  char requested_at[40], expires_at[40], started_at[40], updated_at[40];
  char client_id[64];
  char model[64]; /* payload.model, for the receipt */
  double progress;
  int64_t created_ns, expires_ns, next_step_ns, started_ns;
  int sim;      /* 0 normal, 1 fail, 2 hold (never picked up: TTL expiry) */
  uint64_t rev; /* bumped on every change, Watch compares it */
} nd_job;

typedef struct nd_tx {
  char hash[67];
  char type[24]; /* "transfer", "stake", "unstake", "settlement", ... */
  char from[64], to[64];
  uint64_t amount, fee;
  char token[16];
  char *memo;
  char status[16]; /* "pending", "confirmed" */
  uint32_t block_height;
  char timestamp[40];
  bool wallet; /* shown by Wallet.ListTransactions */
} nd_tx;

typedef struct nd_block {
  uint32_t height;
  char hash[67], parent[67], state_root[67];
  char proposer[40]; /* with --nats: the leader's node id */
  char timestamp[40];
  size_t ntx;
  size_t *txs; /* indexes into st.txs */
  /* with --nats: the block as stored (aitbc.v1.Block, its transactions
   * included), what GetBlock answers */
  uint8_t *enc;
  size_t enc_len;
  char (*tx_hash)[67]; /* with --nats: its transactions' hashes (ntx) */
} nd_block;

typedef struct nd_offer {
  char id[96]; /* with --nats: offer-<node id>-<run nonce>-<n> */
  char provider[64], gpu_type[64], currency[16], region[64], status[16];
  uint32_t gpu_memory, gpu_count;
  double price;
  char created_at[40];
  int64_t expires_ns; /* 0: never */
  bool deleted;
  bool kv; /* with --nats: a copy of an offer in the offers bucket */
} nd_offer;

typedef struct nd_settle {
  char id[96]; /* with --nats: msg-<node id>-<run nonce>-<n> */
  int status;  /* aitbc__v1__BridgeStatus__Value */
  char job_id[96];
  char bridge[32];
  uint32_t target_chain;
  char *tx_hash, *error;
  uint64_t gas_used, fee_paid, amount;
  bool has_gas;
  bool fail; /* a SendMessage without signature fails on the bridge */
  char created_at[40], completed_at[40];
  int64_t next_step_ns;
  uint64_t rev;
  uint64_t kv_rev; /* with --nats: the KV revision the mirror holds */
} nd_settle;

typedef struct nd_receipt {
  char id[32], job_id[96], provider[64], client[64], model[64];
  double units, price;
  uint64_t amount; /* price in atomic units (9 decimals), exact */
  char started_at[40], completed_at[40];
  char result_hash[65];
  char sig[65];
} nd_receipt;

typedef struct nd_wallet {
  char address[64], public_key[80], created_at[40];
  uint64_t balance, staked;
} nd_wallet;

enum { ND_EV_CHAIN = 1, ND_EV_MARKET, ND_EV_RECEIPT };

typedef struct nd_event {
  uint64_t seq;
  int kind;
  char type[32];
  size_t ref;    /* block height, offer index, receipt index, tx index */
  size_t sub;    /* with --nats, transaction_confirmed: the tx in block ref */
  char hash[67]; /* with --nats, transaction_pending: the tx hash */
} nd_event;

#define ND_EVENT_RING 4096

typedef struct nd_bridge {
  const char *name;
  bool enabled;
  uint32_t chains[6];
  size_t nchains;
  uint32_t seconds;
  double fee_mult;
} nd_bridge;

typedef struct nd_chain {
  uint32_t id;
  const char *name, *token;
} nd_chain;

extern const nd_bridge nd_bridges[];
extern const size_t nd_nbridges;
extern const nd_chain nd_chains[];
extern const size_t nd_nchains;

typedef struct nd_config {
  int64_t block_interval_ms; /* default 2000 */
  int64_t job_step_ms;       /* default 500 */
  int64_t offer_ttl_ms;      /* default 600000 */
  bool quiet;
} nd_config;

#define ND_ARRAY(T)                                                            \
  struct {                                                                     \
    T **v;                                                                     \
    size_t n, cap;                                                             \
  }

typedef struct nd_state {
  pthread_mutex_t mu;
  pthread_cond_t cv; /* CLOCK_MONOTONIC */
  uint64_t version;
  nd_config cfg;
  ND_ARRAY(nd_job) jobs;
  ND_ARRAY(nd_tx) txs;
  ND_ARRAY(nd_block) blocks;
  ND_ARRAY(nd_offer) offers;
  ND_ARRAY(nd_settle) settles;
  ND_ARRAY(nd_receipt) receipts;
  ND_ARRAY(nd_wallet) wallets; /* [0] is the node's own wallet */
  nd_wallet *me;   /* wallets.v[0], readable without the lock (never moves) */
  size_t *mempool; /* tx indexes waiting for a block */
  size_t nmempool, capmempool;
  nd_event ring[ND_EVENT_RING];
  uint64_t next_seq; /* seq of the next event; events are 1.. */
  int64_t next_block_ns;
  uint64_t counter;      /* id source */
  unsigned char key[32]; /* receipt signing key (random per run) */
  bool stopping;
  struct nd_watch *watches; /* open event streams (nd_watch_start) */
  weft_arena *scratch;      /* for building stream messages (copied) */
} nd_state;

extern nd_state nd_st;

/* Setup/teardown and the ticker thread body. */
int nd_state_init(const nd_config *cfg);
void nd_state_free(void);
void nd_state_tick(void); /* called by the ticker, takes the lock itself */
void nd_state_stop(void); /* wakes every waiting stream */

/* ---- helpers (call with the lock held where they touch state) ---- */
int64_t nd_now_ns(void);
void nd_now_text(char out[40]); /* RFC 3339 UTC with milliseconds */
void nd_changed(void);          /* version++ and broadcast */
void nd_push_event(int kind, const char *type, size_t ref);
/* The same without running the pumps (the caller calls nd_changed()). */
nd_event *nd_put_event(int kind, const char *type, size_t ref, size_t sub);
/* Appends with growth; aborts the process on OOM (demo node). */
void nd_push(void *arr, void *item);
#define ND_PUSH(a, item) nd_push(&(a), (item))
char *nd_strdup(const char *s);
void *nd_xcalloc(size_t n);
void nd_hex_hash(const void *data, size_t len, char out[65]); /* sha256 */
void nd_new_id(const char *prefix, char *out, size_t cap);

nd_job *nd_find_job(const char *id);
nd_offer *nd_find_offer(const char *id);
nd_settle *nd_find_settle(const char *id);
const nd_bridge *nd_find_bridge(const char *name);
const nd_chain *nd_find_chain(uint32_t id);
bool nd_bridge_supports(const nd_bridge *b, uint32_t chain);
bool nd_job_terminal(int state);
bool nd_settle_terminal(int status);
/* Adds a transaction to the mempool; returns its index. */
size_t nd_add_tx(const char *type, const char *from, const char *to,
                 uint64_t amount, uint64_t fee, const char *memo, bool wallet);
void nd_receipt_sign(const nd_receipt *r, char out[65]);
/* Price of a finished job in atomic units (what settlement pays). */
uint64_t nd_job_amount(const nd_receipt *r);

/* ---- for handlers ---- */
/* Logs the call (one line, info) and returns code. */
int nd_done(weft_server_call *call, int code);
/* Sets the status message and returns code, for error returns. */
int nd_fail(weft_server_call *call, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
void nd_log(int level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Copies into the arena (NULL-safe: NULL gives ""). */
char *nd_adup(weft_arena *a, const char *s);
/* JSON text -> google.protobuf.Struct in the arena (NULL json -> NULL). */
void *nd_struct(weft_arena *a, const char *json);
/* Event streams without a thread: the handler fills an nd_watch (in the
 * call's arena: nd_watch_new) with a pump and calls nd_watch_start, which
 * detaches the call (weft/server.h, "Asynchronous handlers") and runs the
 * pump once. Every later nd_changed() runs the pumps, under the lock; a
 * pump sends what is new with nd_watch_send (queued, never blocks) and
 * returns 0 to go on, ND_END_OK or a non-OK status to end the stream. A stream
 * whose send queue is full stops being pumped until the runtime says it is
 * writable again; a client that goes away ends it (on_cancel). */
typedef struct nd_watch nd_watch;
struct nd_watch {
  weft_server_call *call;
  int (*pump)(nd_watch *w);
  const void *req;
  void *target;  /* what it watches (a job, a settlement...) */
  uint64_t next; /* next event sequence to look at */
  uint64_t rev;  /* last revision sent */
  bool first;    /* nothing sent yet */
  bool blocked;  /* send queue full: waiting for on_writable */
  bool linked;   /* in nd_st.watches; whoever unlinks it ends the call */
  nd_watch *prev, *nextw;
};
/* A zeroed nd_watch in the call's arena, or NULL. */
nd_watch *nd_watch_new(weft_server_call *call, const void *req,
                       int (*pump)(nd_watch *w));
/* Lock held. Returns what the handler returns (it is ignored once the call
 * is detached; an error code before that, e.g. shutting down). */
int nd_watch_start(nd_watch *w);
/* Lock held. 0: queued; ND_FULL: the queue is full (the pump must stop
 * and keep its place); > 0: a status to end the stream with. Resets the
 * scratch arena. */
#define ND_FULL (-1)
/* What a pump returns to end its stream with OK (0 means "go on"). */
#define ND_END_OK (-2)
int nd_watch_send(nd_watch *w, const void *msg);
weft_arena *nd_scratch(void);

/* Service registration (one per file). */
int nd_add_jobs(weft_server *s);
int nd_add_chain(weft_server *s);
int nd_add_market(weft_server *s);
int nd_add_settle(weft_server *s);
int nd_add_wallet(weft_server *s);
int nd_add_receipts(weft_server *s);

/* State changes other services trigger (lock held). */
void nd_job_tick(int64_t now);
void nd_chain_tick(int64_t now);
void nd_market_tick(int64_t now);
void nd_settle_tick(int64_t now);
void nd_make_genesis(void);
void nd_seed_offers(void);

/* ---- state backend: memory (default) or NATS JetStream KV (--nats) ----
 *
 * Without --nats everything above is the state. With it, jobs and the
 * chain live in KV buckets shared by every node (state_kv.c): the Jobs and
 * Blockchain handlers read and write them through these calls, and the
 * in-memory jobs become a mirror fed by a KV watcher (for Jobs.Watch).
 * Calls taking a weft_server_call set its status message on failure (call
 * may be NULL: then the failure is logged) and return 0 or a status:
 * UNAVAILABLE when NATS cannot be reached, NOT_FOUND (no message set),
 * ALREADY_EXISTS from a create (no message set). */
enum {
  ND_KV_JOBS,
  ND_KV_CHAIN,
  ND_KV_LEASE,
  ND_KV_OFFERS,
  ND_KV_RECEIPTS, /* key: the job id (one receipt per job) */
  ND_KV_WALLETS,  /* key: the address; value: nodekv.v1.WalletRecord */
  ND_KV_META,     /* the cluster's wallet identity and receipt key */
  ND_KV_TXS,      /* key: the tx hash; value: aitbc.v1.WalletTransaction */
  ND_KV_SETTLES,  /* key: the message id; value: nodekv.v1.SettlementRecord */
  ND_KV_SETTLED,  /* key: the job id; value: nodekv.v1.SettlementClaim */
  ND_KV_MEMPOOL,  /* key: the tx hash of a pending transaction (its copy) */
  ND_KV_N
};
/* Connects, opens (or creates) the buckets and the jobs watcher; no thread
 * yet. -1 with err filled when NATS cannot be reached or used. */
int nd_kv_open(const char *url, const char *node_id, int64_t lease_ms,
               char *err, size_t cap);
int nd_kv_start(void); /* the watcher and leader threads */
void nd_kv_close(void);
bool nd_kv_enabled(void);
bool nd_kv_is_leader(void);
const char *nd_kv_node_id(void);
/* A new entity id no other node (or earlier run) makes:
 * <prefix>-<node id>-<run nonce>-<n>. */
void nd_kv_new_id(const char *prefix, char *out, size_t cap);
/* id -> KV key: bytes KV keys do not allow (and '=') become =XX. false
 * when the key would not fit in cap. */
bool nd_kv_key(const char *id, char *out, size_t cap);
/* Decodes bucket[id] into a (a message of d); *rev gets its revision. */
int nd_kv_get(weft_server_call *call, weft_arena *a, int bucket, const char *id,
              const weft_msg_desc *d, void **out, uint64_t *rev);
int nd_kv_create(weft_server_call *call, int bucket, const char *id,
                 const void *msg);
/* A read-modify-write: fn changes msg in place and returns 0 to write it,
 * ND_KV_KEEP to leave the key as it is, or a status to fail with. Written
 * with the revision read; retried from the read when another writer got
 * there first. *out (may be NULL) gets the message as written. */
#define ND_KV_KEEP (-3)
typedef int (*nd_kv_mutate)(weft_server_call *call, void *msg, void *arg);
int nd_kv_update(weft_server_call *call, weft_arena *a, int bucket,
                 const char *id, const weft_msg_desc *d, nd_kv_mutate fn,
                 void *arg, void **out);
/* Deletes bucket[id] (logged on failure; no call). */
int nd_kv_delete(int bucket, const char *id);
/* Every value of the bucket (one Get per key: O(keys) round trips). */
int nd_kv_list(weft_server_call *call, weft_arena *a, int bucket,
               const weft_msg_desc *d, void ***out, size_t *n);
/* Creates the seed offers once for the whole cluster (no lock held). */
void nd_seed_offers_kv(void);
/* The leader issues (stores) the receipt of a job it completed. */
void nd_receipt_kv_issue(const nd_receipt *r);
/* Lock held: a receipt as stored, into the mirror (StreamReceipts). */
void nd_receipt_apply(const aitbc__v1__Receipt *m);
/* Lock held: a new head block from the chain bucket, as a new_block event
 * (StreamEvents) on this node. */
void nd_chain_apply(const aitbc__v1__Block *m);
/* With --nats: a transaction entered the shared mempool (any node). */
void nd_chain_pending(const char *tx_hash);
/* Lock held: a job as stored at revision rev into the mirror. */
void nd_job_apply(const aitbc__v1__Job *m, uint64_t rev);
/* The leader's job steps through KV (no lock held). */
void nd_job_kv_tick(int64_t now, weft_arena *a);

/* Wallets in KV (wallet_kv.c; no lock held). A Send is journaled in the
 * sender's record and finished idempotently, by the leader if the sending
 * node dies (nd_wallet_kv_recover). */
int nd_wallet_kv_create(weft_server_call *call, const char *addr,
                        uint64_t balance);
int nd_wallet_kv_balance(weft_server_call *call, const char *addr,
                         aitbc__v1__Balance **out);
/* sign 1: stake, -1: unstake; *staked gets the total staked after it. */
int nd_wallet_kv_stake(weft_server_call *call, const char *addr,
                       uint64_t amount, int sign, uint64_t *staked);
int nd_wallet_kv_send(weft_server_call *call, const char *from, const char *to,
                      uint64_t amount, uint64_t fee, const char *memo,
                      char hash[67]);
void nd_wallet_kv_note(weft_server_call *call, const char *type,
                       const char *from, const char *to, uint64_t amount,
                       const char *hash);
int nd_wallet_kv_list(weft_server_call *call, const char *addr, uint32_t limit,
                      uint32_t offset,
                      aitbc__v1__ListTransactionsResponse *resp);
void nd_wallet_kv_recover(weft_arena *a);
/* Credits amount to wallet `to` once per hash (the leader, settlements);
 * lists it in weft_txs. 0, or a status (logged). */
int nd_wallet_kv_credit(weft_arena *a, const char *from, const char *to,
                        const char *hash, uint64_t amount, const char *memo);

/* Settlements in KV (settle_kv.c; no lock held unless said). */
int nd_settle_kv_amount(weft_server_call *call, const char *job_id,
                        uint64_t *amount);
/* Checks that job_ids[0..n) all settle and claims each for a new id
 * (msg_ids[i]: 96 bytes each); all or none. */
int nd_settle_kv_claim(weft_server_call *call, char **job_ids, size_t n,
                       char **msg_ids, uint64_t *amounts);
/* Gives back the claims on job_ids[0..n) still held by msg_ids[i] (their
 * settlements could not be written). */
void nd_settle_kv_release(weft_server_call *call, char **job_ids,
                          char **msg_ids, size_t n);
int nd_settle_kv_create(weft_server_call *call, const char *msg_id,
                        const char *job_id, const nd_bridge *b, uint32_t chain,
                        uint64_t amount, bool fail,
                        aitbc__v1__SettlementResult *out);
int nd_settle_kv_status(weft_server_call *call, const char *id,
                        aitbc__v1__SettlementResult *out);
int nd_settle_kv_refund(weft_server_call *call, const char *id,
                        aitbc__v1__SettlementResult *out);
/* Reads the record into the mirror (before WatchSettlement). */
int nd_settle_kv_fetch(weft_server_call *call, const char *id);
/* Lock held: a nodekv.v1.SettlementRecord as stored at rev, into the
 * mirror. */
nd_settle *nd_settle_apply(const void *rec, uint64_t rev);
/* Lock held: an offer as stored, into the mirror, with its WatchEvents
 * event unless quiet (the watcher's initial values). */
void nd_offer_apply(const aitbc__v1__Offer *m, bool quiet);
/* The leader expires offers (no lock held). */
void nd_market_kv_tick(weft_arena *a);
/* The leader's settlement steps. */
void nd_settle_kv_tick(int64_t now, weft_arena *a);
/* The mempool (wallet_kv.c; leader, no lock held). A transaction enters
 * weft_txs (status "pending") and weft_mempool; the leader seals the
 * pending ones into the next block and then confirms them. */
/* Into blk: the pending transactions, oldest first (at most 1000). */
int nd_tx_kv_gather(aitbc__v1__Block *blk, weft_arena *a);
/* Marks the transactions of a stored block confirmed at its height and
 * takes them out of the mempool; 0, or a status (the round stops). */
int nd_tx_kv_confirm(const aitbc__v1__Block *blk, weft_arena *a);
/* The "tx_hash" of one of a stored block's transactions, or NULL. */
const char *nd_block_tx_hash(const google__protobuf__Struct *s);
/* A transaction as JSON, the shape GetTransaction and blocks show. */
void nd_tx_json(const aitbc__v1__WalletTransaction *t, char *out, size_t cap);
/* A transaction hash no other node makes. */
void nd_kv_tx_hash(const char *type, const char *from, uint64_t amount,
                   char out[67]);

#endif
