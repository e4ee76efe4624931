/* aitbc.v1.Receipts: one receipt per completed job, signed with HMAC-SHA256
 * under a key the node draws at start (key_id "node-hmac-1"), so
 * VerifyReceipt accepts exactly the receipts this node run issued,
 * unmodified. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state.h"

#define KEY_ID "node-hmac-1"
#define ALG "HMAC-SHA256"

static void fill(weft_arena *a, const nd_receipt *r, aitbc__v1__Receipt *o) {
  o->receipt_id = nd_adup(a, r->id);
  o->job_id = nd_adup(a, r->job_id);
  o->provider = nd_adup(a, r->provider);
  o->client = nd_adup(a, r->client);
  o->units = r->units;
  o->unit_type = "gpu_seconds";
  o->price = r->price;
  o->model = nd_adup(a, r->model);
  o->started_at = nd_adup(a, r->started_at);
  o->completed_at = nd_adup(a, r->completed_at);
  o->result_hash = nd_adup(a, r->result_hash);
  o->signature = aitbc__v1__ReceiptSignature_new(a);
  o->signature->alg = ALG;
  o->signature->key_id = KEY_ID;
  o->signature->sig = nd_adup(a, r->sig);
}

static int kv_get(weft_server_call *call, const char *job_id,
                  aitbc__v1__Receipt *resp);

static int get_receipt(weft_server_call *call,
                       const aitbc__v1__GetReceiptRequest *req,
                       aitbc__v1__Receipt *resp, void *ctx) {
  (void)ctx;
  if (!req->job_id || !*req->job_id)
    return nd_done(call, nd_fail(call, WEFT_STATUS_INVALID_ARGUMENT,
                                 "job_id is required"));
  if (nd_kv_enabled())
    return nd_done(call, kv_get(call, req->job_id, resp));
  int code = 0;
  pthread_mutex_lock(&nd_st.mu);
  const nd_receipt *r = NULL;
  for (size_t i = 0; i < nd_st.receipts.n && !r; i++)
    if (!strcmp(nd_st.receipts.v[i]->job_id, req->job_id))
      r = nd_st.receipts.v[i];
  if (r)
    fill(weft_server_call_arena(call), r, resp);
  else if (nd_find_job(req->job_id))
    code = nd_fail(call, WEFT_STATUS_NOT_FOUND,
                   "job %s has no receipt yet (receipts come with COMPLETED)",
                   req->job_id);
  else
    code =
        nd_fail(call, WEFT_STATUS_NOT_FOUND, "job %s not found", req->job_id);
  pthread_mutex_unlock(&nd_st.mu);
  return nd_done(call, code);
}

static void copy_field(char *dst, size_t cap, const char *src) {
  snprintf(dst, cap, "%s", src ? src : "");
}

static int verify_receipt(weft_server_call *call, const aitbc__v1__Receipt *req,
                          aitbc__v1__VerifyReceiptResponse *resp, void *ctx) {
  (void)ctx;
  resp->key_id = KEY_ID;
  const char *why = NULL;
  if (!req->signature || !req->signature->sig || !*req->signature->sig) {
    why = "receipt has no signature";
  } else if (strcmp(req->signature->alg, ALG)) {
    why = "unsupported signature algorithm (this node signs HMAC-SHA256)";
  } else if (strcmp(req->signature->key_id, KEY_ID)) {
    why = "unknown key_id";
  } else {
    nd_receipt r;
    memset(&r, 0, sizeof r);
    copy_field(r.id, sizeof r.id, req->receipt_id);
    copy_field(r.job_id, sizeof r.job_id, req->job_id);
    copy_field(r.provider, sizeof r.provider, req->provider);
    copy_field(r.client, sizeof r.client, req->client);
    r.units = req->units;
    r.price = req->price;
    copy_field(r.started_at, sizeof r.started_at, req->started_at);
    copy_field(r.completed_at, sizeof r.completed_at, req->completed_at);
    copy_field(r.result_hash, sizeof r.result_hash, req->result_hash);
    char sig[65];
    nd_receipt_sign(&r, sig);
    if (strcmp(sig, req->signature->sig))
      why = "signature does not match the receipt";
  }
  resp->valid = why == NULL;
  resp->reason = (char *)why;
  return nd_done(call, 0);
}

/* ---- with --nats: the receipts bucket, keyed by job id ---- */

void nd_receipt_kv_issue(const nd_receipt *r) {
  weft_arena *a = NULL;
  if (weft_arena_new(&a, 1024) < 0)
    return;
  aitbc__v1__Receipt o = aitbc__v1__Receipt_INIT;
  fill(a, r, &o);
  /* ALREADY_EXISTS: an earlier leader issued it before dying. */
  nd_kv_create(NULL, ND_KV_RECEIPTS, r->job_id, &o);
  weft_arena_free(a);
}

void nd_receipt_apply(const aitbc__v1__Receipt *m) {
  for (size_t i = 0; i < nd_st.receipts.n; i++)
    if (!strcmp(nd_st.receipts.v[i]->job_id, m->job_id ? m->job_id : ""))
      return; /* receipts never change */
  nd_receipt *r = nd_xcalloc(sizeof *r);
  copy_field(r->id, sizeof r->id, m->receipt_id);
  copy_field(r->job_id, sizeof r->job_id, m->job_id);
  copy_field(r->provider, sizeof r->provider, m->provider);
  copy_field(r->client, sizeof r->client, m->client);
  copy_field(r->model, sizeof r->model, m->model);
  r->units = m->units;
  r->price = m->price;
  copy_field(r->started_at, sizeof r->started_at, m->started_at);
  copy_field(r->completed_at, sizeof r->completed_at, m->completed_at);
  copy_field(r->result_hash, sizeof r->result_hash, m->result_hash);
  copy_field(r->sig, sizeof r->sig, m->signature ? m->signature->sig : NULL);
  r->amount = (uint64_t)(r->units * 1e6 + 0.5) * 500;
  ND_PUSH(nd_st.receipts, r);
  nd_push_event(ND_EV_RECEIPT, "receipt", nd_st.receipts.n - 1);
  nd_changed();
}

static int kv_get(weft_server_call *call, const char *job_id,
                  aitbc__v1__Receipt *resp) {
  weft_arena *a = weft_server_call_arena(call);
  void *m = NULL;
  int code = nd_kv_get(call, a, ND_KV_RECEIPTS, job_id,
                       &aitbc__v1__Receipt_desc, &m, NULL);
  if (!code) {
    *resp = *(aitbc__v1__Receipt *)m; /* both in the call's arena */
    return 0;
  }
  if (code != WEFT_STATUS_NOT_FOUND)
    return code;
  code = nd_kv_get(call, a, ND_KV_JOBS, job_id, &aitbc__v1__Job_desc, &m, NULL);
  if (code == WEFT_STATUS_NOT_FOUND)
    return nd_fail(call, code, "job %s not found", job_id);
  if (code)
    return code;
  return nd_fail(call, WEFT_STATUS_NOT_FOUND,
                 "job %s has no receipt yet (receipts come with COMPLETED)",
                 job_id);
}

static int newest_first(const void *pa, const void *pb) {
  const aitbc__v1__Receipt *a = *(aitbc__v1__Receipt *const *)pa;
  const aitbc__v1__Receipt *b = *(aitbc__v1__Receipt *const *)pb;
  int c = strcmp(b->completed_at ? b->completed_at : "",
                 a->completed_at ? a->completed_at : "");
  return c ? c : strcmp(b->job_id ? b->job_id : "", a->job_id ? a->job_id : "");
}

static bool has(const char *want, const char *v) {
  return !want || !*want || !strcmp(want, v ? v : "");
}

static int kv_list(weft_server_call *call,
                   const aitbc__v1__ListReceiptsRequest *req,
                   aitbc__v1__ListReceiptsResponse *resp) {
  void **v;
  size_t n;
  int code = nd_kv_list(call, weft_server_call_arena(call), ND_KV_RECEIPTS,
                        &aitbc__v1__Receipt_desc, &v, &n);
  if (code)
    return code;
  qsort(v, n, sizeof *v, newest_first);
  uint32_t limit = req->limit ? req->limit : 100, skipped = 0;
  resp->receipts = (aitbc__v1__Receipt **)v; /* filtered in place */
  for (size_t i = 0; i < n && resp->n_receipts < limit; i++) {
    aitbc__v1__Receipt *r = v[i];
    if (!has(req->job_id, r->job_id) || !has(req->provider, r->provider) ||
        skipped++ < req->offset)
      continue;
    resp->receipts[resp->n_receipts++] = r;
  }
  return 0;
}

static bool matches(const nd_receipt *r, const char *job, const char *prov,
                    const char *client) {
  return (!job || !*job || !strcmp(job, r->job_id)) &&
         (!prov || !*prov || !strcmp(prov, r->provider)) &&
         (!client || !*client || !strcmp(client, r->client));
}

static int list_receipts(weft_server_call *call,
                         const aitbc__v1__ListReceiptsRequest *req,
                         aitbc__v1__ListReceiptsResponse *resp, void *ctx) {
  (void)ctx;
  if (nd_kv_enabled())
    return nd_done(call, kv_list(call, req, resp));
  weft_arena *a = weft_server_call_arena(call);
  uint32_t limit = req->limit ? req->limit : 100, skipped = 0;
  pthread_mutex_lock(&nd_st.mu);
  resp->receipts =
      weft_arena_calloc(a, (nd_st.receipts.n + 1) * sizeof(void *));
  for (size_t i = nd_st.receipts.n; i-- > 0 && resp->n_receipts < limit;) {
    const nd_receipt *r = nd_st.receipts.v[i];
    if (!matches(r, req->job_id, req->provider, NULL) ||
        skipped++ < req->offset)
      continue;
    aitbc__v1__Receipt *o = aitbc__v1__Receipt_new(a);
    fill(a, r, o);
    resp->receipts[resp->n_receipts++] = o;
  }
  pthread_mutex_unlock(&nd_st.mu);
  return nd_done(call, 0);
}

/* Receipts since w->next (nd_watch pump, lock held). */
static int pump_receipts(nd_watch *w) {
  const aitbc__v1__StreamReceiptsRequest *req = w->req;
  while (w->next <= nd_st.next_seq) {
    if (nd_st.next_seq - w->next >= ND_EVENT_RING)
      w->next = nd_st.next_seq - ND_EVENT_RING + 1;
    nd_event *e = &nd_st.ring[w->next % ND_EVENT_RING];
    const nd_receipt *r =
        e->kind == ND_EV_RECEIPT ? nd_st.receipts.v[e->ref] : NULL;
    if (!r || !matches(r, NULL, req->provider, req->client)) {
      w->next++;
      continue;
    }
    aitbc__v1__Receipt o = aitbc__v1__Receipt_INIT;
    fill(nd_scratch(), r, &o);
    int rv = nd_watch_send(w, &o);
    if (rv == ND_FULL)
      return 0;
    if (rv)
      return rv;
    w->next++;
  }
  return 0;
}

/* New receipts from the moment of the call; never ends on its own.
 * Asynchronous: the stream holds no thread while it waits. */
static int stream_receipts(weft_server_call *call,
                           const aitbc__v1__StreamReceiptsRequest *req,
                           void *ctx) {
  (void)ctx;
  nd_watch *w = nd_watch_new(call, req, pump_receipts);
  if (!w)
    return nd_done(call, WEFT_STATUS_RESOURCE_EXHAUSTED);
  pthread_mutex_lock(&nd_st.mu);
  w->next = nd_st.next_seq + 1;
  int code = nd_watch_start(w);
  pthread_mutex_unlock(&nd_st.mu);
  return code;
}

static const aitbc__v1__Receipts_impl impl = {
    .get_receipt = get_receipt,
    .verify_receipt = verify_receipt,
    .list_receipts = list_receipts,
    .stream_receipts = stream_receipts,
};

int nd_add_receipts(weft_server *s) {
  return weft_server_add_service(s, &aitbc__v1__Receipts_service, &impl, NULL);
}
