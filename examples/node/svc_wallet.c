/* aitbc.v1.Wallet: the node's own wallet (it is also the miner that runs
 * jobs, so completed settlements pay into it). Amounts are atomic units of
 * AITBC (9 decimals). Sends and stakes become chain transactions that the
 * next block confirms. CreateWallet makes another (empty) wallet that can
 * receive sends; the node's wallet stays the one the other methods use. */
#define _POSIX_C_SOURCE 200809L
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state.h"

static int bad_token(weft_server_call *call, const char *token) {
  if (token && *token && strcmp(token, ND_TOKEN))
    return nd_fail(call, WEFT_STATUS_INVALID_ARGUMENT,
                   "unknown token \"%s\" (this node has %s only)", token,
                   ND_TOKEN);
  return 0;
}

static int create_wallet(weft_server_call *call,
                         const aitbc__v1__CreateWalletRequest *req,
                         aitbc__v1__WalletInfo *resp, void *ctx) {
  (void)ctx;
  (void)req;
  nd_wallet *w = nd_xcalloc(sizeof *w);
  unsigned char seed[20];
  RAND_bytes(seed, sizeof seed);
  char hex[65];
  nd_hex_hash(seed, sizeof seed, hex);
  snprintf(w->address, sizeof w->address, "aitbc1%.38s", hex);
  snprintf(w->public_key, sizeof w->public_key, "ed25519:%s", hex);
  nd_now_text(w->created_at);
  weft_arena *a = weft_server_call_arena(call);
  resp->address = nd_adup(a, w->address);
  resp->public_key = nd_adup(a, w->public_key);
  resp->created_at = nd_adup(a, w->created_at);
  if (nd_kv_enabled()) {
    int code = nd_wallet_kv_create(call, w->address, 0);
    if (code == WEFT_STATUS_ALREADY_EXISTS)
      code = nd_fail(call, WEFT_STATUS_INTERNAL, "address %s is taken",
                     w->address);
    if (code) {
      free(w);
      return nd_done(call, code);
    }
  }
  pthread_mutex_lock(&nd_st.mu);
  ND_PUSH(nd_st.wallets, w);
  nd_changed();
  pthread_mutex_unlock(&nd_st.mu);
  return nd_done(call, 0);
}

/* Outgoing amount still waiting for a block. */
static uint64_t pending_out(const nd_wallet *w) {
  uint64_t sum = 0;
  for (size_t i = 0; i < nd_st.nmempool; i++) {
    const nd_tx *t = nd_st.txs.v[nd_st.mempool[i]];
    if (!strcmp(t->from, w->address))
      sum += t->amount + t->fee;
  }
  return sum;
}

/* ---- with --nats: wallets in the wallets bucket (wallet_kv.c) ----
 * The cluster shares one node wallet (wallets.v[0], adopted at start).
 * Its transactions are listed from the weft_txs bucket but not sealed into
 * blocks (README.md, "Several nodes: NATS"). */

static int get_balance(weft_server_call *call,
                       const aitbc__v1__GetBalanceRequest *req,
                       aitbc__v1__Balance *resp, void *ctx) {
  (void)ctx;
  int code = bad_token(call, req->token);
  if (code)
    return nd_done(call, code);
  if (nd_kv_enabled()) {
    aitbc__v1__Balance *b = NULL;
    code = nd_wallet_kv_balance(call, nd_st.me->address, &b);
    if (!code)
      *resp = *b; /* both in the call's arena */
    return nd_done(call, code);
  }
  weft_arena *a = weft_server_call_arena(call);
  pthread_mutex_lock(&nd_st.mu);
  nd_wallet *w = nd_st.wallets.v[0];
  resp->address = nd_adup(a, w->address);
  resp->token = ND_TOKEN;
  resp->balance = w->balance;
  resp->staked = w->staked;
  resp->pending = pending_out(w);
  pthread_mutex_unlock(&nd_st.mu);
  return nd_done(call, 0);
}

static nd_wallet *find_wallet(const char *addr) {
  for (size_t i = 0; i < nd_st.wallets.n; i++)
    if (!strcmp(nd_st.wallets.v[i]->address, addr))
      return nd_st.wallets.v[i];
  return NULL;
}

static int send_(weft_server_call *call, const aitbc__v1__SendRequest *req,
                 aitbc__v1__SendResponse *resp, void *ctx) {
  (void)ctx;
  int code = bad_token(call, req->token);
  if (!code && (!req->to || !*req->to))
    code = nd_fail(call, WEFT_STATUS_INVALID_ARGUMENT, "to is required");
  if (!code && strlen(req->to) >= 64)
    code = nd_fail(call, WEFT_STATUS_INVALID_ARGUMENT,
                   "to is not an address (too long)");
  if (!code && req->amount == 0)
    code = nd_fail(call, WEFT_STATUS_INVALID_ARGUMENT, "amount must be > 0");
  if (code)
    return nd_done(call, code);
  uint64_t fee = req->has_fee ? req->fee : 1000;
  if (nd_kv_enabled()) {
    char hash[67];
    code = nd_wallet_kv_send(call, nd_st.me->address, req->to, req->amount, fee,
                             req->memo, hash);
    if (!code) {
      resp->tx_hash = nd_adup(weft_server_call_arena(call), hash);
      resp->status = "pending";
    }
    return nd_done(call, code);
  }
  pthread_mutex_lock(&nd_st.mu);
  nd_wallet *w = nd_st.wallets.v[0];
  if (req->amount > w->balance || fee > w->balance - req->amount) {
    code = nd_fail(call, WEFT_STATUS_FAILED_PRECONDITION,
                   "insufficient balance: %llu available, %llu + fee %llu "
                   "needed",
                   (unsigned long long)w->balance,
                   (unsigned long long)req->amount, (unsigned long long)fee);
  } else {
    w->balance -= req->amount + fee;
    nd_wallet *to = find_wallet(req->to);
    if (to)
      to->balance += req->amount;
    size_t t = nd_add_tx("transfer", w->address, req->to, req->amount, fee,
                         req->memo, true);
    resp->tx_hash = nd_adup(weft_server_call_arena(call), nd_st.txs.v[t]->hash);
    resp->status = "pending";
  }
  pthread_mutex_unlock(&nd_st.mu);
  return nd_done(call, code);
}

static int get_address(weft_server_call *call,
                       const aitbc__v1__GetAddressRequest *req,
                       aitbc__v1__AddressResponse *resp, void *ctx) {
  (void)ctx;
  (void)req;
  pthread_mutex_lock(&nd_st.mu);
  resp->address =
      nd_adup(weft_server_call_arena(call), nd_st.wallets.v[0]->address);
  pthread_mutex_unlock(&nd_st.mu);
  return nd_done(call, 0);
}

static int list_transactions(weft_server_call *call,
                             const aitbc__v1__ListTransactionsRequest *req,
                             aitbc__v1__ListTransactionsResponse *resp,
                             void *ctx) {
  (void)ctx;
  int code = bad_token(call, req->token);
  if (code)
    return nd_done(call, code);
  weft_arena *a = weft_server_call_arena(call);
  uint32_t limit = req->limit ? req->limit : 100, skipped = 0;
  if (nd_kv_enabled())
    return nd_done(call, nd_wallet_kv_list(call, nd_st.me->address, limit,
                                           req->offset, resp));
  pthread_mutex_lock(&nd_st.mu);
  const char *me = nd_st.wallets.v[0]->address;
  resp->transactions = weft_arena_calloc(a, (nd_st.txs.n + 1) * sizeof(void *));
  for (size_t i = nd_st.txs.n; i-- > 0 && resp->n_transactions < limit;) {
    const nd_tx *t = nd_st.txs.v[i];
    if (!t->wallet || (strcmp(t->from, me) && strcmp(t->to, me)))
      continue;
    if (skipped++ < req->offset)
      continue;
    aitbc__v1__WalletTransaction *o = aitbc__v1__WalletTransaction_new(a);
    o->tx_hash = nd_adup(a, t->hash);
    o->type = nd_adup(a, t->type);
    o->from = nd_adup(a, t->from);
    o->to = nd_adup(a, t->to);
    o->amount = t->amount;
    o->fee = t->fee;
    o->token = nd_adup(a, t->token);
    o->status = nd_adup(a, t->status);
    o->block_height = t->block_height;
    o->timestamp = nd_adup(a, t->timestamp);
    o->memo = t->memo ? nd_adup(a, t->memo) : NULL;
    resp->transactions[resp->n_transactions++] = o;
  }
  pthread_mutex_unlock(&nd_st.mu);
  return nd_done(call, 0);
}

/* Stake (sign 1) or unstake (sign -1) amount. */
static int stake_op(weft_server_call *call, uint64_t amount,
                    const char *validator, int sign,
                    aitbc__v1__StakeResponse *resp) {
  if (amount == 0)
    return nd_fail(call, WEFT_STATUS_INVALID_ARGUMENT, "amount must be > 0");
  if (validator && strlen(validator) >= 64)
    return nd_fail(call, WEFT_STATUS_INVALID_ARGUMENT,
                   "validator is not an address (too long)");
  int code = 0;
  if (nd_kv_enabled()) {
    uint64_t staked = 0;
    const char *me = nd_st.me->address;
    code = nd_wallet_kv_stake(call, me, amount, sign, &staked);
    if (!code) {
      char hash[67];
      const char *v = validator && *validator ? validator : "aitbc1validator0";
      nd_kv_tx_hash(sign > 0 ? "stake" : "unstake", me, amount, hash);
      nd_wallet_kv_note(call, sign > 0 ? "stake" : "unstake", sign > 0 ? me : v,
                        sign > 0 ? v : me, amount, hash);
      resp->tx_hash = nd_adup(weft_server_call_arena(call), hash);
      resp->staked = staked;
      resp->status = "pending";
    }
    return code;
  }
  pthread_mutex_lock(&nd_st.mu);
  nd_wallet *w = nd_st.wallets.v[0];
  uint64_t have = sign > 0 ? w->balance : w->staked;
  if (amount > have) {
    code = nd_fail(call, WEFT_STATUS_FAILED_PRECONDITION,
                   "insufficient %s: %llu available, %llu requested",
                   sign > 0 ? "balance" : "stake", (unsigned long long)have,
                   (unsigned long long)amount);
  } else {
    if (sign > 0) {
      w->balance -= amount;
      w->staked += amount;
    } else {
      w->staked -= amount;
      w->balance += amount;
    }
    const char *v = validator && *validator ? validator : "aitbc1validator0";
    size_t t = sign > 0
                   ? nd_add_tx("stake", w->address, v, amount, 0, NULL, true)
                   : nd_add_tx("unstake", v, w->address, amount, 0, NULL, true);
    weft_arena *a = weft_server_call_arena(call);
    resp->tx_hash = nd_adup(a, nd_st.txs.v[t]->hash);
    resp->staked = w->staked;
    resp->status = "pending";
  }
  pthread_mutex_unlock(&nd_st.mu);
  return code;
}

static int stake(weft_server_call *call, const aitbc__v1__StakeRequest *req,
                 aitbc__v1__StakeResponse *resp, void *ctx) {
  (void)ctx;
  return nd_done(call, stake_op(call, req->amount, req->validator, 1, resp));
}

static int unstake(weft_server_call *call, const aitbc__v1__UnstakeRequest *req,
                   aitbc__v1__StakeResponse *resp, void *ctx) {
  (void)ctx;
  return nd_done(call, stake_op(call, req->amount, req->validator, -1, resp));
}

static const aitbc__v1__Wallet_impl impl = {
    .create_wallet = create_wallet,
    .get_balance = get_balance,
    .send = send_,
    .get_address = get_address,
    .list_transactions = list_transactions,
    .stake = stake,
    .unstake = unstake,
};

int nd_add_wallet(weft_server *s) {
  return weft_server_add_service(s, &aitbc__v1__Wallet_service, &impl, NULL);
}
