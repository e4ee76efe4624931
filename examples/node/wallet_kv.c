/* Wallets in the weft_wallets bucket (weft serve --nats): balances, stakes
 * and transfers between wallets without a transaction across keys.
 *
 * NATS KV writes one key at a time. A Send touches two wallets, so it is a
 * journal kept in the records themselves (proto/nodekv/v1/
 * wallet_record.proto):
 *   1. the sender's record: debit and the transfer into its outbox, in one
 *      revision-checked write (either both happen or neither);
 *   2. the transfer's entry in weft_txs (a create: ListTransactions);
 *   3. the recipient's record: credit, unless its credited list already
 *      names the transfer, and the transfer's hash into that list;
 *   4. the sender's record: the transfer out of its outbox.
 * A node that dies between 1 and 4 leaves the transfer in the outbox; the
 * leader finishes it (steps 2 to 4) once it is ND_XFER_GRACE_MS old. Each
 * step is idempotent, so the sending node and the leader may both run it.
 * A credit is remembered for ND_CREDIT_KEEP_MS, far longer than a transfer
 * stays in an outbox. */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "google/protobuf/struct.weft.h"
#include "nodekv/v1/wallet_record.weft.h"
#include "state.h"

#define ND_XFER_GRACE_MS 2000
#define ND_CREDIT_KEEP_MS (3600 * 1000)

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The test hook of node_cluster.py's wallet case: the node dies right after
 * the named step, as a crash or kill -9 there would. */
static void crash_point(const char *step) {
  const char *want = getenv("WEFT_NODE_CRASH_AFTER");
  if (want && !strcmp(want, step)) {
    nd_log(2, "WEFT_NODE_CRASH_AFTER=%s: dying", step);
    raise(SIGKILL);
  }
}

static aitbc__v1__Balance *balance_of(nodekv__v1__WalletRecord *r,
                                      weft_arena *a) {
  if (!r->balance) /* an all-zero Balance encodes to nothing */
    r->balance = aitbc__v1__Balance_new(a);
  return r->balance;
}

int nd_wallet_kv_create(weft_server_call *call, const char *addr,
                        uint64_t balance) {
  aitbc__v1__Balance b = aitbc__v1__Balance_INIT;
  b.address = (char *)addr;
  b.token = ND_TOKEN;
  b.balance = balance;
  nodekv__v1__WalletRecord r = nodekv__v1__WalletRecord_INIT;
  r.balance = &b;
  return nd_kv_create(call, ND_KV_WALLETS, addr, &r);
}

static int get_record(weft_server_call *call, weft_arena *a, const char *addr,
                      nodekv__v1__WalletRecord **out) {
  int code = nd_kv_get(call, a, ND_KV_WALLETS, addr,
                       &nodekv__v1__WalletRecord_desc, (void **)out, NULL);
  if (code == WEFT_STATUS_NOT_FOUND && call)
    code = nd_fail(call, code, "wallet %s not found", addr);
  return code;
}

int nd_wallet_kv_balance(weft_server_call *call, const char *addr,
                         aitbc__v1__Balance **out) {
  weft_arena *a = weft_server_call_arena(call);
  nodekv__v1__WalletRecord *r = NULL;
  int code = get_record(call, a, addr, &r);
  if (code)
    return code;
  aitbc__v1__Balance *b = balance_of(r, a);
  if (!b)
    return nd_fail(call, WEFT_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  b->pending = 0;
  for (size_t i = 0; i < r->n_outbox; i++) /* debited, not yet credited */
    if (r->outbox[i]->tx)
      b->pending += r->outbox[i]->tx->amount;
  *out = b;
  return 0;
}

typedef struct stake_arg {
  weft_arena *a;
  uint64_t amount;
  int sign; /* 1 stake, -1 unstake */
} stake_arg;

static int stake_mut(weft_server_call *call, void *msg, void *arg) {
  const stake_arg *op = arg;
  aitbc__v1__Balance *b = balance_of(msg, op->a);
  if (!b)
    return WEFT_STATUS_RESOURCE_EXHAUSTED;
  uint64_t have = op->sign > 0 ? b->balance : b->staked;
  if (op->amount > have)
    return nd_fail(call, WEFT_STATUS_FAILED_PRECONDITION,
                   "insufficient %s: %llu available, %llu requested",
                   op->sign > 0 ? "balance" : "stake", (unsigned long long)have,
                   (unsigned long long)op->amount);
  if (op->sign > 0) {
    b->balance -= op->amount;
    b->staked += op->amount;
  } else {
    b->staked -= op->amount;
    b->balance += op->amount;
  }
  return 0;
}

int nd_wallet_kv_stake(weft_server_call *call, const char *addr,
                       uint64_t amount, int sign, uint64_t *staked) {
  weft_arena *a = weft_server_call_arena(call);
  stake_arg op = {a, amount, sign};
  nodekv__v1__WalletRecord *r = NULL;
  int code =
      nd_kv_update(call, a, ND_KV_WALLETS, addr, &nodekv__v1__WalletRecord_desc,
                   stake_mut, &op, (void **)&r);
  if (code == WEFT_STATUS_NOT_FOUND)
    code = nd_fail(call, code, "wallet %s not found", addr);
  if (!code)
    *staked = r->balance ? r->balance->staked : 0;
  return code;
}

/* ---- transfers ---- */

typedef struct xfer_arg {
  weft_arena *a;
  nodekv__v1__Transfer *t;
} xfer_arg;

/* Step 1, on the sender's record. */
static int debit_mut(weft_server_call *call, void *msg, void *arg) {
  const xfer_arg *x = arg;
  nodekv__v1__WalletRecord *r = msg;
  const aitbc__v1__WalletTransaction *tx = x->t->tx;
  aitbc__v1__Balance *b = balance_of(r, x->a);
  if (!b)
    return WEFT_STATUS_RESOURCE_EXHAUSTED;
  if (tx->amount > b->balance || tx->fee > b->balance - tx->amount)
    return nd_fail(call, WEFT_STATUS_FAILED_PRECONDITION,
                   "insufficient balance: %llu available, %llu + fee %llu "
                   "needed",
                   (unsigned long long)b->balance,
                   (unsigned long long)tx->amount, (unsigned long long)tx->fee);
  nodekv__v1__Transfer **v =
      weft_arena_alloc(x->a, (r->n_outbox + 1) * sizeof *v);
  if (!v)
    return WEFT_STATUS_RESOURCE_EXHAUSTED;
  if (r->n_outbox)
    memcpy(v, r->outbox, r->n_outbox * sizeof *v);
  v[r->n_outbox++] = x->t;
  r->outbox = v;
  b->balance -= tx->amount + tx->fee;
  return 0;
}

/* Step 3, on the recipient's record: credits once per transfer, and
 * forgets credits old enough that no outbox can still hold them. */
static int credit_mut(weft_server_call *call, void *msg, void *arg) {
  (void)call;
  const xfer_arg *x = arg;
  nodekv__v1__WalletRecord *r = msg;
  const aitbc__v1__WalletTransaction *tx = x->t->tx;
  int64_t old = now_ms() - ND_CREDIT_KEEP_MS;
  size_t keep = 0;
  bool seen = false, pruned = false;
  for (size_t i = 0; i < r->n_credited; i++) {
    nodekv__v1__Credit *c = r->credited[i];
    if (!strcmp(c->tx_hash, tx->tx_hash))
      seen = true;
    if (c->at_unix_ms < old) {
      pruned = true;
      continue;
    }
    r->credited[keep++] = c;
  }
  r->n_credited = keep;
  if (seen)
    return pruned ? 0 : ND_KV_KEEP;
  aitbc__v1__Balance *b = balance_of(r, x->a);
  nodekv__v1__Credit *c = nodekv__v1__Credit_new(x->a);
  nodekv__v1__Credit **v =
      weft_arena_alloc(x->a, (r->n_credited + 1) * sizeof *v);
  if (!b || !c || !v)
    return WEFT_STATUS_RESOURCE_EXHAUSTED;
  c->tx_hash = tx->tx_hash;
  c->at_unix_ms = now_ms();
  if (r->n_credited)
    memcpy(v, r->credited, r->n_credited * sizeof *v);
  v[r->n_credited++] = c;
  r->credited = v;
  b->balance += tx->amount;
  return 0;
}

/* Step 4, on the sender's record. */
static int done_mut(weft_server_call *call, void *msg, void *arg) {
  (void)call;
  const xfer_arg *x = arg;
  nodekv__v1__WalletRecord *r = msg;
  size_t keep = 0;
  for (size_t i = 0; i < r->n_outbox; i++)
    if (!r->outbox[i]->tx ||
        strcmp(r->outbox[i]->tx->tx_hash, x->t->tx->tx_hash))
      r->outbox[keep++] = r->outbox[i];
  if (keep == r->n_outbox)
    return ND_KV_KEEP;
  r->n_outbox = keep;
  return 0;
}

/* Lists tx in weft_txs and, until it is sealed, in the mempool. A retry
 * that finds it listed stops there, and the sealer skips a mempool entry
 * whose transaction is no longer pending, so none is sealed twice. */
static int enter_tx(weft_arena *a, const aitbc__v1__WalletTransaction *tx) {
  void *old = NULL;
  int code = nd_kv_get(NULL, a, ND_KV_TXS, tx->tx_hash,
                       &aitbc__v1__WalletTransaction_desc, &old, NULL);
  if (code != WEFT_STATUS_NOT_FOUND)
    return code; /* 0: listed already */
  code = nd_kv_create(NULL, ND_KV_MEMPOOL, tx->tx_hash, tx);
  if (code && code != WEFT_STATUS_ALREADY_EXISTS)
    return code;
  code = nd_kv_create(NULL, ND_KV_TXS, tx->tx_hash, tx);
  return code == WEFT_STATUS_ALREADY_EXISTS ? 0 : code;
}

/* Steps 2 to 4. call may be NULL (the leader): failures are then logged. */
static int finish(weft_server_call *call, weft_arena *a,
                  nodekv__v1__Transfer *t) {
  const aitbc__v1__WalletTransaction *tx = t->tx;
  int code = enter_tx(a, tx);
  if (code)
    return code;
  crash_point("send-listed");
  xfer_arg x = {a, t};
  code = nd_kv_update(call, a, ND_KV_WALLETS, tx->to,
                      &nodekv__v1__WalletRecord_desc, credit_mut, &x, NULL);
  /* Not a wallet of this cluster: the amount leaves it (as on one node). */
  if (code && code != WEFT_STATUS_NOT_FOUND)
    return code;
  crash_point("send-credited");
  code = nd_kv_update(call, a, ND_KV_WALLETS, tx->from,
                      &nodekv__v1__WalletRecord_desc, done_mut, &x, NULL);
  return code == WEFT_STATUS_NOT_FOUND ? 0 : code;
}

int nd_wallet_kv_send(weft_server_call *call, const char *from, const char *to,
                      uint64_t amount, uint64_t fee, const char *memo,
                      char hash[67]) {
  weft_arena *a = weft_server_call_arena(call);
  nodekv__v1__Transfer *t = nodekv__v1__Transfer_new(a);
  aitbc__v1__WalletTransaction *tx = aitbc__v1__WalletTransaction_new(a);
  if (!t || !tx)
    return nd_fail(call, WEFT_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  nd_kv_tx_hash("transfer", from, amount, hash);
  char ts[40];
  nd_now_text(ts);
  tx->tx_hash = nd_adup(a, hash);
  tx->type = "transfer";
  tx->from = nd_adup(a, from);
  tx->to = nd_adup(a, to);
  tx->amount = amount;
  tx->fee = fee;
  tx->token = ND_TOKEN;
  tx->status = "pending";
  tx->timestamp = nd_adup(a, ts);
  tx->memo = memo ? nd_adup(a, memo) : NULL;
  t->tx = tx;
  t->at_unix_ms = now_ms();
  xfer_arg x = {a, t};
  int code = nd_kv_update(call, a, ND_KV_WALLETS, from,
                          &nodekv__v1__WalletRecord_desc, debit_mut, &x, NULL);
  if (code == WEFT_STATUS_NOT_FOUND)
    return nd_fail(call, code, "wallet %s not found", from);
  if (code)
    return code;
  crash_point("send-debited");
  /* From here the transfer is committed: if finishing it fails (NATS
   * gone), the leader finishes it later, so the Send still succeeds. */
  if (finish(NULL, a, t))
    nd_log(2, "wallet: transfer %s left for the leader to finish", hash);
  return 0;
}

/* A stake's entry in weft_txs, for ListTransactions (written after the
 * balance: a crash in between loses only the listing). */
void nd_wallet_kv_note(weft_server_call *call, const char *type,
                       const char *from, const char *to, uint64_t amount,
                       const char *hash) {
  weft_arena *a = weft_server_call_arena(call);
  aitbc__v1__WalletTransaction *tx = aitbc__v1__WalletTransaction_new(a);
  if (!tx)
    return;
  char ts[40];
  nd_now_text(ts);
  tx->tx_hash = nd_adup(a, hash);
  tx->type = nd_adup(a, type);
  tx->from = nd_adup(a, from);
  tx->to = nd_adup(a, to);
  tx->amount = amount;
  tx->token = ND_TOKEN;
  tx->status = "pending";
  tx->timestamp = nd_adup(a, ts);
  enter_tx(a, tx);
}

/* Leader: finishes the transfers a dead node left in an outbox. */
void nd_wallet_kv_recover(weft_arena *a) {
  void **v = NULL;
  size_t n = 0;
  if (nd_kv_list(NULL, a, ND_KV_WALLETS, &nodekv__v1__WalletRecord_desc, &v,
                 &n))
    return;
  int64_t before = now_ms() - ND_XFER_GRACE_MS;
  for (size_t i = 0; i < n; i++) {
    nodekv__v1__WalletRecord *r = v[i];
    for (size_t j = 0; j < r->n_outbox; j++) {
      nodekv__v1__Transfer *t = r->outbox[j];
      if (!t->tx || t->at_unix_ms > before)
        continue;
      if (!finish(NULL, a, t))
        nd_log(1, "wallet: finished transfer %s left by another node",
               t->tx->tx_hash);
    }
  }
}

static int newest_first(const void *x, const void *y) {
  const aitbc__v1__WalletTransaction *a = *(void *const *)x,
                                     *b = *(void *const *)y;
  return strcmp(b->timestamp, a->timestamp);
}

int nd_wallet_kv_list(weft_server_call *call, const char *addr, uint32_t limit,
                      uint32_t offset,
                      aitbc__v1__ListTransactionsResponse *resp) {
  weft_arena *a = weft_server_call_arena(call);
  void **v = NULL;
  size_t n = 0, k = 0;
  int code = nd_kv_list(call, a, ND_KV_TXS, &aitbc__v1__WalletTransaction_desc,
                        &v, &n);
  if (code)
    return code;
  for (size_t i = 0; i < n; i++) {
    aitbc__v1__WalletTransaction *t = v[i];
    if (!strcmp(t->from, addr) || !strcmp(t->to, addr))
      v[k++] = t;
  }
  qsort(v, k, sizeof *v, newest_first);
  resp->transactions = (aitbc__v1__WalletTransaction **)v;
  if (offset >= k) {
    resp->n_transactions = 0;
    return 0;
  }
  resp->transactions += offset;
  resp->n_transactions = k - offset < limit ? k - offset : limit;
  return 0;
}

void nd_kv_tx_hash(const char *type, const char *from, uint64_t amount,
                   char out[67]) {
  char id[96], src[256], h[65];
  nd_kv_new_id("tx", id, sizeof id);
  snprintf(src, sizeof src, "%s|%s|%s|%llu", id, type, from,
           (unsigned long long)amount);
  nd_hex_hash(src, strlen(src), h);
  snprintf(out, 67, "0x%s", h);
}

int nd_wallet_kv_credit(weft_arena *a, const char *from, const char *to,
                        const char *hash, uint64_t amount, const char *memo) {
  nodekv__v1__Transfer *t = nodekv__v1__Transfer_new(a);
  aitbc__v1__WalletTransaction *tx = aitbc__v1__WalletTransaction_new(a);
  if (!t || !tx)
    return WEFT_STATUS_RESOURCE_EXHAUSTED;
  char ts[40];
  nd_now_text(ts);
  tx->tx_hash = (char *)hash;
  tx->type = "settlement";
  tx->from = (char *)from;
  tx->to = (char *)to;
  tx->amount = amount;
  tx->token = ND_TOKEN;
  tx->status = "pending";
  tx->timestamp = nd_adup(a, ts);
  tx->memo = (char *)memo;
  t->tx = tx;
  int code = enter_tx(a, tx);
  if (code)
    return code;
  xfer_arg x = {a, t};
  code = nd_kv_update(NULL, a, ND_KV_WALLETS, to,
                      &nodekv__v1__WalletRecord_desc, credit_mut, &x, NULL);
  return code == WEFT_STATUS_NOT_FOUND ? 0 : code;
}

/* ---- the mempool: sealed by the leader (state_kv.c, produce_block) ---- */

/* A block stays well under NATS's 1 MB message limit (a transaction is
 * about 300 bytes of JSON); at the default 2 s blocks that seals up to 500
 * transactions/s. */
#define ND_BLOCK_MAX_TXS 1000

/* s as a JSON string body into out (quotes and controls escaped). */
static size_t json_str(char *out, size_t cap, const char *s) {
  static const char hex[] = "0123456789abcdef";
  size_t n = 0;
  for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
    char e[7];
    size_t k = 0;
    if (*p == '"' || *p == '\\') {
      e[k++] = '\\';
      e[k++] = (char)*p;
    } else if (*p < 0x20) {
      memcpy(e, "\\u00", 4);
      k = 4;
      e[k++] = hex[*p >> 4];
      e[k++] = hex[*p & 15];
    } else {
      e[k++] = (char)*p;
    }
    if (n + k >= cap)
      break;
    memcpy(out + n, e, k);
    n += k;
  }
  out[n] = 0;
  return n;
}

void nd_tx_json(const aitbc__v1__WalletTransaction *t, char *out, size_t cap) {
  char f[6][200];
  json_str(f[0], sizeof f[0], t->tx_hash);
  json_str(f[1], sizeof f[1], t->type);
  json_str(f[2], sizeof f[2], t->from);
  json_str(f[3], sizeof f[3], t->to);
  json_str(f[4], sizeof f[4], t->status);
  json_str(f[5], sizeof f[5], t->timestamp);
  snprintf(out, cap,
           "{\"tx_hash\":\"%s\",\"type\":\"%s\",\"from\":\"%s\",\"to\":\"%s\","
           "\"amount\":\"%llu\",\"fee\":\"%llu\",\"token\":\"%s\","
           "\"status\":\"%s\",\"block_height\":%u,\"timestamp\":\"%s\"}",
           f[0], f[1], f[2], f[3], (unsigned long long)t->amount,
           (unsigned long long)t->fee, ND_TOKEN, f[4], t->block_height, f[5]);
}

static int oldest_tx_first(const void *x, const void *y) {
  const aitbc__v1__WalletTransaction *a = *(void *const *)x,
                                     *b = *(void *const *)y;
  int c = strcmp(a->timestamp, b->timestamp);
  return c ? c : strcmp(a->tx_hash, b->tx_hash);
}

int nd_tx_kv_gather(aitbc__v1__Block *blk, weft_arena *a) {
  void **v = NULL;
  size_t n = 0, k = 0;
  int code = nd_kv_list(NULL, a, ND_KV_MEMPOOL,
                        &aitbc__v1__WalletTransaction_desc, &v, &n);
  if (code)
    return code;
  for (size_t i = 0; i < n; i++) {
    aitbc__v1__WalletTransaction *t = v[i], *cur = NULL;
    code = nd_kv_get(NULL, a, ND_KV_TXS, t->tx_hash,
                     &aitbc__v1__WalletTransaction_desc, (void **)&cur, NULL);
    if (code == WEFT_STATUS_NOT_FOUND)
      continue; /* being listed right now: the next block */
    if (code)
      return code;
    if (strcmp(cur->status, "pending")) {
      nd_kv_delete(ND_KV_MEMPOOL, t->tx_hash); /* sealed already */
      continue;
    }
    v[k++] = cur;
  }
  qsort(v, k, sizeof *v, oldest_tx_first);
  if (k > ND_BLOCK_MAX_TXS)
    k = ND_BLOCK_MAX_TXS;
  blk->transactions = weft_arena_calloc(a, (k + 1) * sizeof(void *));
  if (!blk->transactions)
    return WEFT_STATUS_RESOURCE_EXHAUSTED;
  for (size_t i = 0; i < k; i++) {
    aitbc__v1__WalletTransaction *t = v[i];
    char js[1600];
    t->status = "confirmed";
    t->block_height = blk->height;
    nd_tx_json(t, js, sizeof js);
    google__protobuf__Struct *st = nd_struct(a, js);
    if (st)
      blk->transactions[blk->n_transactions++] = st;
  }
  blk->tx_count = (uint32_t)blk->n_transactions;
  return 0;
}

const char *nd_block_tx_hash(const google__protobuf__Struct *s) {
  for (size_t i = 0; s && i < s->n_fields; i++) {
    google__protobuf__Struct__FieldsEntry *e = s->fields[i];
    if (e->key && !strcmp(e->key, "tx_hash") && e->value &&
        e->value->kind_case == 3 /* string_value */)
      return e->value->string_value;
  }
  return NULL;
}

typedef struct confirm_arg {
  uint32_t height;
  bool changed;
} confirm_arg;

static int confirm_mut(weft_server_call *call, void *msg, void *arg) {
  (void)call;
  aitbc__v1__WalletTransaction *t = msg;
  confirm_arg *x = arg;
  x->changed = false;
  if (strcmp(t->status, "pending"))
    return ND_KV_KEEP;
  t->status = "confirmed";
  t->block_height = x->height;
  x->changed = true;
  return 0;
}

int nd_tx_kv_confirm(const aitbc__v1__Block *blk, weft_arena *a) {
  for (size_t i = 0; i < blk->n_transactions; i++) {
    const char *hash = nd_block_tx_hash(blk->transactions[i]);
    if (!hash)
      continue;
    confirm_arg x = {blk->height, false};
    int code =
        nd_kv_update(NULL, a, ND_KV_TXS, hash,
                     &aitbc__v1__WalletTransaction_desc, confirm_mut, &x, NULL);
    if (code && code != WEFT_STATUS_NOT_FOUND)
      return code;
    /* (A crash right here leaves a mempool entry; gather drops it.) */
    if (x.changed)
      nd_kv_delete(ND_KV_MEMPOOL, hash);
  }
  return 0;
}
