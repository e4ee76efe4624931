/* Cross-chain settlements in KV (weft serve --nats): any node creates,
 * reads, refunds and watches them; the leader steps them.
 *
 * A settlement is a nodekv.v1.SettlementRecord in weft_settlements (key:
 * its message id). A job's receipt is paid once: the job's claim in
 * weft_settled names the settlement paying it, taken by a create or, when
 * the settlement it names failed or was refunded, by a revision-checked
 * update. A claim whose settlement does not exist is one being written
 * (its node claims first, then writes), so it holds the job for
 * CLAIM_GRACE_MS: taking it over at once let two nodes settling one job
 * at the same moment both win, paying the receipt twice. Past the grace
 * the claim is taken as left by a node that died in between; a node whose
 * write failed releases its claim itself. The leader moves
 * each settlement one step per --job-step-ms (pending -> in_progress ->
 * completed or failed); completion credits the cluster's wallet once
 * (wallet_kv.c, by the settlement's transaction hash) before the status
 * says so. Every node's watcher applies each record to its in-memory
 * mirror (nd_settle_apply), which drives WatchSettlement streams. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodekv/v1/settlement_record.weft.h"
#include "state.h"

#define GAS_BASE 180000ull
#define GWEI 30ull

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* How long a claim naming a settlement not written yet holds the job.
 * Far above the time from a claim to its write (two KV round trips), and
 * above the clock skew between nodes. */
#define CLAIM_GRACE_MS 30000

static bool live(int status) {
  return status != aitbc__v1__BridgeStatus__Value__failed &&
         status != aitbc__v1__BridgeStatus__Value__refunded;
}

/* The amount a completed job's receipt pays (state.c's rule). */
int nd_settle_kv_amount(weft_server_call *call, const char *job_id,
                        uint64_t *amount) {
  if (!job_id || !*job_id)
    return nd_fail(call, WEFT_STATUS_INVALID_ARGUMENT, "job_id is required");
  weft_arena *a = weft_server_call_arena(call);
  aitbc__v1__Job *j = NULL;
  int code = nd_kv_get(call, a, ND_KV_JOBS, job_id, &aitbc__v1__Job_desc,
                       (void **)&j, NULL);
  if (code == WEFT_STATUS_NOT_FOUND)
    return nd_fail(call, code, "job %s not found", job_id);
  if (code)
    return code;
  aitbc__v1__Receipt *r = NULL;
  if (j->state == aitbc__v1__JobState__COMPLETED)
    code = nd_kv_get(call, a, ND_KV_RECEIPTS, job_id, &aitbc__v1__Receipt_desc,
                     (void **)&r, NULL);
  if (code && code != WEFT_STATUS_NOT_FOUND)
    return code;
  if (!r)
    return nd_fail(call, WEFT_STATUS_FAILED_PRECONDITION,
                   "job %s is not completed: only completed jobs settle",
                   job_id);
  *amount = (uint64_t)(r->units * 1e6 + 0.5) * 500;
  return 0;
}

typedef struct claim_arg {
  weft_arena *a;
  const char *job_id, *msg_id;
} claim_arg;

/* Takes the claim unless a live settlement holds it. */
static int claim_mut(weft_server_call *call, void *msg, void *arg) {
  nodekv__v1__SettlementClaim *c = msg;
  const claim_arg *x = arg;
  if (c->message_id && *c->message_id) {
    nodekv__v1__SettlementRecord *s = NULL;
    int code = nd_kv_get(call, x->a, ND_KV_SETTLES, c->message_id,
                         &nodekv__v1__SettlementRecord_desc, (void **)&s, NULL);
    if (code && code != WEFT_STATUS_NOT_FOUND)
      return code;
    if (s && s->result && live(s->result->status))
      return nd_fail(call, WEFT_STATUS_ALREADY_EXISTS,
                     "job %s is already settled by %s", x->job_id,
                     c->message_id);
    if (!s && now_ms() - c->claimed_unix_ms < CLAIM_GRACE_MS)
      return nd_fail(call, WEFT_STATUS_ALREADY_EXISTS,
                     "job %s is being settled by %s", x->job_id, c->message_id);
  }
  c->message_id = (char *)x->msg_id;
  c->claimed_unix_ms = now_ms();
  return 0;
}

static int claim(weft_server_call *call, const char *job_id,
                 const char *msg_id) {
  nodekv__v1__SettlementClaim c = nodekv__v1__SettlementClaim_INIT;
  c.message_id = (char *)msg_id;
  c.claimed_unix_ms = now_ms();
  int code = nd_kv_create(call, ND_KV_SETTLED, job_id, &c);
  if (code != WEFT_STATUS_ALREADY_EXISTS)
    return code;
  claim_arg x = {weft_server_call_arena(call), job_id, msg_id};
  return nd_kv_update(call, x.a, ND_KV_SETTLED, job_id,
                      &nodekv__v1__SettlementClaim_desc, claim_mut, &x, NULL);
}

static int release_mut(weft_server_call *call, void *msg, void *arg) {
  (void)call;
  nodekv__v1__SettlementClaim *c = msg;
  if (strcmp(c->message_id, arg))
    return ND_KV_KEEP;
  c->message_id = "";
  return 0;
}

/* Checks job_ids[0..n) all settle (amounts[i] gets each amount) and claims
 * them for msg_ids[i]; all or none (the ones taken are released). */
int nd_settle_kv_claim(weft_server_call *call, char **job_ids, size_t n,
                       char **msg_ids, uint64_t *amounts) {
  int code = 0;
  for (size_t i = 0; !code && i < n; i++)
    code = nd_settle_kv_amount(call, job_ids[i], &amounts[i]);
  size_t taken = 0;
  for (; !code && taken < n; taken++) {
    nd_kv_new_id("msg", msg_ids[taken], 96);
    code = claim(call, job_ids[taken], msg_ids[taken]);
  }
  if (code && taken > 1) /* the last one taken is the one that failed */
    nd_settle_kv_release(call, job_ids, msg_ids, taken - 1);
  return code;
}

void nd_settle_kv_release(weft_server_call *call, char **job_ids,
                          char **msg_ids, size_t n) {
  for (size_t i = 0; i < n; i++)
    nd_kv_update(NULL, weft_server_call_arena(call), ND_KV_SETTLED, job_ids[i],
                 &nodekv__v1__SettlementClaim_desc, release_mut, msg_ids[i],
                 NULL);
}

int nd_settle_kv_create(weft_server_call *call, const char *msg_id,
                        const char *job_id, const nd_bridge *b, uint32_t chain,
                        uint64_t amount, bool fail,
                        aitbc__v1__SettlementResult *out) {
  weft_arena *a = weft_server_call_arena(call);
  char ts[40];
  nd_now_text(ts);
  nodekv__v1__SettlementRecord rec = nodekv__v1__SettlementRecord_INIT;
  *out = (aitbc__v1__SettlementResult)aitbc__v1__SettlementResult_INIT;
  out->message_id = nd_adup(a, msg_id);
  out->status = aitbc__v1__BridgeStatus__Value__pending;
  out->created_at = nd_adup(a, ts);
  rec.result = out;
  rec.job_id = (char *)(job_id ? job_id : "");
  rec.bridge = (char *)b->name;
  rec.target_chain = chain;
  rec.amount = amount;
  rec.fail = fail;
  rec.next_step_unix_ms = now_ms() + nd_st.cfg.job_step_ms;
  int code = nd_kv_create(call, ND_KV_SETTLES, msg_id, &rec);
  if (code == WEFT_STATUS_ALREADY_EXISTS)
    code = nd_fail(call, WEFT_STATUS_INTERNAL, "settlement id %s is taken",
                   msg_id);
  return code;
}

static int get(weft_server_call *call, const char *id,
               nodekv__v1__SettlementRecord **out) {
  if (!id || !*id)
    return nd_fail(call, WEFT_STATUS_INVALID_ARGUMENT,
                   "message_id is required");
  int code = nd_kv_get(call, weft_server_call_arena(call), ND_KV_SETTLES, id,
                       &nodekv__v1__SettlementRecord_desc, (void **)out, NULL);
  if (code == WEFT_STATUS_NOT_FOUND)
    return nd_fail(call, code, "settlement %s not found", id);
  if (!code && !(*out)->result)
    return nd_fail(call, WEFT_STATUS_DATA_LOSS, "settlement %s is empty", id);
  return code;
}

int nd_settle_kv_status(weft_server_call *call, const char *id,
                        aitbc__v1__SettlementResult *out) {
  nodekv__v1__SettlementRecord *s = NULL;
  int code = get(call, id, &s);
  if (!code)
    *out = *s->result;
  return code;
}

static int refund_mut(weft_server_call *call, void *msg, void *arg) {
  nodekv__v1__SettlementRecord *s = msg;
  aitbc__v1__SettlementResult *r = s->result;
  (void)arg;
  if (!r)
    return WEFT_STATUS_DATA_LOSS;
  if (r->status == aitbc__v1__BridgeStatus__Value__refunded)
    return ND_KV_KEEP;
  if (r->status != aitbc__v1__BridgeStatus__Value__failed &&
      r->status != aitbc__v1__BridgeStatus__Value__pending)
    return nd_fail(call, WEFT_STATUS_FAILED_PRECONDITION,
                   "settlement %s is %s: only pending or failed settlements "
                   "can be refunded",
                   r->message_id,
                   r->status == aitbc__v1__BridgeStatus__Value__completed
                       ? "completed"
                       : "in_progress");
  char ts[40];
  nd_now_text(ts);
  r->status = aitbc__v1__BridgeStatus__Value__refunded;
  r->completed_at = nd_adup(weft_server_call_arena(call), ts);
  return 0;
}

int nd_settle_kv_refund(weft_server_call *call, const char *id,
                        aitbc__v1__SettlementResult *out) {
  if (!id || !*id)
    return nd_fail(call, WEFT_STATUS_INVALID_ARGUMENT,
                   "message_id is required");
  nodekv__v1__SettlementRecord *s = NULL;
  int code = nd_kv_update(call, weft_server_call_arena(call), ND_KV_SETTLES, id,
                          &nodekv__v1__SettlementRecord_desc, refund_mut, NULL,
                          (void **)&s);
  if (code == WEFT_STATUS_NOT_FOUND)
    return nd_fail(call, code, "settlement %s not found", id);
  if (!code)
    *out = *s->result;
  return code;
}

/* Lock held: the mirror entry of a stored record (new or changed). */
nd_settle *nd_settle_apply(const void *msg, uint64_t rev) {
  const nodekv__v1__SettlementRecord *m = msg;
  const aitbc__v1__SettlementResult *r = m->result;
  if (!r || !r->message_id || !*r->message_id)
    return NULL;
  nd_settle *s = nd_find_settle(r->message_id);
  if (!s) {
    s = nd_xcalloc(sizeof *s);
    snprintf(s->id, sizeof s->id, "%s", r->message_id);
    ND_PUSH(nd_st.settles, s);
  } else if (rev <= s->kv_rev) {
    return s; /* already seen (WatchSettlement applies too) */
  }
  s->kv_rev = rev;
  s->status = r->status;
  snprintf(s->job_id, sizeof s->job_id, "%s", m->job_id);
  snprintf(s->bridge, sizeof s->bridge, "%s", m->bridge);
  s->target_chain = m->target_chain;
  s->amount = m->amount;
  free(s->tx_hash);
  s->tx_hash = r->transaction_hash ? nd_strdup(r->transaction_hash) : NULL;
  free(s->error);
  s->error = r->error_message ? nd_strdup(r->error_message) : NULL;
  s->has_gas = r->has_gas_used;
  s->gas_used = r->gas_used;
  s->fee_paid = r->fee_paid;
  snprintf(s->created_at, sizeof s->created_at, "%s", r->created_at);
  snprintf(s->completed_at, sizeof s->completed_at, "%s", r->completed_at);
  s->rev++;
  nd_changed();
  return s;
}

/* Lock not held: reads the record and applies it, so a watch started on
 * this node right after a create on another one finds it. */
int nd_settle_kv_fetch(weft_server_call *call, const char *id) {
  nodekv__v1__SettlementRecord *s = NULL;
  uint64_t rev = 0;
  if (!id || !*id)
    return nd_fail(call, WEFT_STATUS_INVALID_ARGUMENT,
                   "message_id is required");
  int code = nd_kv_get(call, weft_server_call_arena(call), ND_KV_SETTLES, id,
                       &nodekv__v1__SettlementRecord_desc, (void **)&s, &rev);
  if (code == WEFT_STATUS_NOT_FOUND)
    return nd_fail(call, code, "settlement %s not found", id);
  if (code)
    return code;
  pthread_mutex_lock(&nd_st.mu);
  nd_settle_apply(s, rev);
  pthread_mutex_unlock(&nd_st.mu);
  return 0;
}

/* ---- the leader's steps ---- */

typedef struct step_arg {
  weft_arena *a;
  int64_t now;
  bool credit; /* set by step_mut: the step completes it */
} step_arg;

static int step_mut(weft_server_call *call, void *msg, void *arg) {
  (void)call;
  nodekv__v1__SettlementRecord *s = msg;
  step_arg *x = arg;
  aitbc__v1__SettlementResult *r = s->result;
  if (!r || nd_settle_terminal(r->status) || s->next_step_unix_ms > x->now)
    return ND_KV_KEEP; /* another leader got there first */
  s->next_step_unix_ms = x->now + nd_st.cfg.job_step_ms;
  char ts[40];
  nd_now_text(ts);
  if (r->status == aitbc__v1__BridgeStatus__Value__pending) {
    char hash[67];
    nd_kv_tx_hash("settlement", s->bridge, s->amount, hash);
    r->transaction_hash = nd_adup(x->a, hash);
    r->status = aitbc__v1__BridgeStatus__Value__in_progress;
  } else if (s->fail) {
    r->status = aitbc__v1__BridgeStatus__Value__failed;
    r->error_message = "bridge rejected the message: no signature";
    r->completed_at = nd_adup(x->a, ts);
  } else {
    r->status = aitbc__v1__BridgeStatus__Value__completed;
    r->has_gas_used = r->has_fee_paid = true;
    r->gas_used = GAS_BASE + 1234;
    r->fee_paid = r->gas_used * GWEI;
    r->completed_at = nd_adup(x->a, ts);
    x->credit = true;
  }
  return 0;
}

/* Leader: one step of every settlement that is due. */
void nd_settle_kv_tick(int64_t now_ns, weft_arena *a) {
  (void)now_ns;
  /* The open ones, from this node's mirror (which the watcher fills with
   * every settlement): one KV read per open settlement and round, not one
   * per settlement ever made. */
  pthread_mutex_lock(&nd_st.mu);
  size_t n = 0;
  char **ids = weft_arena_calloc(a, (nd_st.settles.n + 1) * sizeof *ids);
  for (size_t i = 0; ids && i < nd_st.settles.n; i++) {
    const nd_settle *m = nd_st.settles.v[i];
    if (m->kv_rev && !nd_settle_terminal(m->status))
      ids[n++] = nd_adup(a, m->id);
  }
  pthread_mutex_unlock(&nd_st.mu);
  int64_t now = now_ms();
  for (size_t i = 0; i < n; i++) {
    nodekv__v1__SettlementRecord *s = NULL;
    if (nd_kv_get(NULL, a, ND_KV_SETTLES, ids[i],
                  &nodekv__v1__SettlementRecord_desc, (void **)&s, NULL))
      continue;
    if (!s->result || nd_settle_terminal(s->result->status) ||
        s->next_step_unix_ms > now)
      continue;
    /* Completion pays first (once, by the transaction hash), then says so:
     * a leader dying in between leaves it in_progress, and the next one
     * pays again, which the wallet ignores. */
    if (s->result->status == aitbc__v1__BridgeStatus__Value__in_progress &&
        !s->fail) {
      char from[64];
      snprintf(from, sizeof from, "bridge:%s", s->bridge);
      if (nd_wallet_kv_credit(a, from, nd_st.me->address,
                              s->result->transaction_hash, s->amount,
                              s->result->message_id))
        continue; /* NATS trouble: the next round tries again */
    }
    step_arg x = {a, now, false};
    nd_kv_update(NULL, a, ND_KV_SETTLES, s->result->message_id,
                 &nodekv__v1__SettlementRecord_desc, step_mut, &x, NULL);
  }
}
