/* aitbc.v1.Jobs: QUEUED -> RUNNING -> COMPLETED with progress steps every
 * --job-step-ms. A payload {"simulate":"fail"} ends FAILED after the first
 * step; {"simulate":"hold"} is never picked up, so its TTL expires it. A
 * completed job yields a receipt (Receipts) the node's wallet can settle. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "google/protobuf/struct.weft.h"
#include "state.h"
#include "weft/json.h"

#define DEFAULT_TTL 900u
#define STEP 0.25 /* progress per step */

static const char *state_name(int s) {
  static const char *names[] = {"JOB_STATE_UNSPECIFIED",
                                "QUEUED",
                                "RUNNING",
                                "COMPLETED",
                                "FAILED",
                                "CANCELLED",
                                "EXPIRED"};
  return s >= 0 && s <= 6 ? names[s] : "?";
}

static void touch(nd_job *j) {
  nd_now_text(j->updated_at);
  j->rev++;
  nd_changed();
}

static const char *str_field(const google__protobuf__Struct *s,
                             const char *key) {
  for (size_t i = 0; s && i < s->n_fields; i++) {
    google__protobuf__Struct__FieldsEntry *e = s->fields[i];
    if (e->key && !strcmp(e->key, key) && e->value &&
        e->value->kind_case == 3 /* string_value */)
      return e->value->string_value;
  }
  return NULL;
}

static void finish(nd_job *j, int state, const char *error) {
  j->state = state;
  free(j->error);
  j->error = nd_strdup(error);
  touch(j);
}

static void complete(nd_job *j, int64_t now) {
  nd_receipt *r = nd_xcalloc(sizeof *r);
  nd_new_id("rcpt", r->id, sizeof r->id);
  snprintf(r->job_id, sizeof r->job_id, "%s", j->id);
  snprintf(r->provider, sizeof r->provider, "%s", j->miner);
  snprintf(r->client, sizeof r->client, "%s", j->client_id);
  snprintf(r->model, sizeof r->model, "%s", j->model[0] ? j->model : "unknown");
  /* Whole microseconds, so units, price and the atomic amount agree
   * exactly (0.5 AITBC per GPU second, 9 decimals). */
  int64_t us = (now - j->started_ns) / 1000;
  r->units = (double)us / 1e6;
  r->price = r->units * 0.5;
  r->amount = (uint64_t)us * 500;
  snprintf(r->started_at, sizeof r->started_at, "%s", j->started_at);
  nd_now_text(r->completed_at);
  char buf[192];
  snprintf(buf, sizeof buf, "%s|%s", j->id, r->completed_at);
  nd_hex_hash(buf, strlen(buf), r->result_hash);
  nd_receipt_sign(r, r->sig);
  char res[256];
  snprintf(res, sizeof res,
           "{\"status\":\"ok\",\"output\":\"simulated result of %s\","
           "\"result_hash\":\"%s\"}",
           j->id, r->result_hash);
  j->result_json = nd_strdup(res);
  j->progress = 1.0;
  ND_PUSH(nd_st.receipts, r);
  finish(j, aitbc__v1__JobState__COMPLETED, NULL);
  nd_push_event(ND_EV_RECEIPT, "receipt", nd_st.receipts.n - 1);
}

void nd_job_tick(int64_t now) {
  int64_t step = nd_st.cfg.job_step_ms * 1000000;
  for (size_t i = 0; i < nd_st.jobs.n; i++) {
    nd_job *j = nd_st.jobs.v[i];
    if (nd_job_terminal(j->state))
      continue;
    if (now >= j->expires_ns) {
      finish(j, aitbc__v1__JobState__EXPIRED, "ttl expired");
      continue;
    }
    if (j->sim == 2 || now < j->next_step_ns)
      continue;
    j->next_step_ns = now + step;
    if (j->state == aitbc__v1__JobState__QUEUED) {
      j->state = aitbc__v1__JobState__RUNNING;
      snprintf(j->miner, sizeof j->miner, "%s", nd_st.wallets.v[0]->address);
      j->started_ns = now;
      nd_now_text(j->started_at);
      touch(j);
    } else if (j->sim == 1) {
      finish(j, aitbc__v1__JobState__FAILED, "simulated failure");
    } else if (j->progress + STEP < 0.999) {
      j->progress += STEP;
      touch(j);
    } else {
      complete(j, now);
    }
  }
}

/* Fills a Job from state; strings and structs go into the call's arena. */
static void fill_job(weft_arena *a, const nd_job *j, aitbc__v1__Job *out) {
  out->job_id = nd_adup(a, j->id);
  out->state = j->state;
  out->assigned_miner_id = nd_adup(a, j->miner);
  out->payload = nd_struct(a, j->payload_json);
  out->constraints = nd_struct(a, j->constraints_json);
  out->ttl_seconds = j->ttl_seconds;
  out->requested_at = nd_adup(a, j->requested_at);
  out->expires_at = nd_adup(a, j->expires_at);
  out->progress = j->progress;
  out->result = nd_struct(a, j->result_json);
  out->error = j->error ? nd_adup(a, j->error) : NULL;
  out->client_id = nd_adup(a, j->client_id);
}

static char *to_json(const void *msg) {
  if (!msg)
    return NULL;
  char *out = NULL;
  size_t len;
  weft_error err = {0};
  if (weft_json_encode(msg, NULL, &out, &len, &err) < 0)
    return NULL;
  return out;
}

static int no_job(weft_server_call *call, const char *id);
static int pump_job(nd_watch *w);

static void free_job(nd_job *j) {
  free(j->payload_json);
  free(j->constraints_json);
  free(j->result_json);
  free(j->error);
  free(j);
}

/* ---- with --nats: the jobs bucket is the state (state_kv.c) ---- */

static int kv_create(weft_server_call *call, nd_job *j, aitbc__v1__Job *resp) {
  int code = WEFT_STATUS_ALREADY_EXISTS;
  for (int i = 0; i < 4 && code == WEFT_STATUS_ALREADY_EXISTS; i++) {
    nd_kv_new_id("job", j->id, sizeof j->id);
    fill_job(weft_server_call_arena(call), j, resp);
    code = nd_kv_create(call, ND_KV_JOBS, j->id, resp);
  }
  if (code == WEFT_STATUS_ALREADY_EXISTS)
    code = nd_fail(call, WEFT_STATUS_INTERNAL, "job id %s is taken", j->id);
  free_job(j);
  return nd_done(call, code);
}

static int kv_get(weft_server_call *call, const char *id, aitbc__v1__Job *resp,
                  uint64_t *rev) {
  if (!id || !*id)
    return no_job(call, id);
  void *m = NULL;
  int code = nd_kv_get(call, weft_server_call_arena(call), ND_KV_JOBS, id,
                       &aitbc__v1__Job_desc, &m, rev);
  if (code == WEFT_STATUS_NOT_FOUND)
    return no_job(call, id);
  if (!code)
    *resp = *(aitbc__v1__Job *)m; /* both in the call's arena */
  return code;
}

static int newest_first(const void *pa, const void *pb) {
  const aitbc__v1__Job *a = *(aitbc__v1__Job *const *)pa;
  const aitbc__v1__Job *b = *(aitbc__v1__Job *const *)pb;
  int c = strcmp(b->requested_at ? b->requested_at : "",
                 a->requested_at ? a->requested_at : "");
  return c ? c : strcmp(b->job_id ? b->job_id : "", a->job_id ? a->job_id : "");
}

static int kv_list(weft_server_call *call,
                   const aitbc__v1__ListJobsRequest *req,
                   aitbc__v1__ListJobsResponse *resp) {
  weft_arena *a = weft_server_call_arena(call);
  void **v;
  size_t n;
  int code = nd_kv_list(call, a, ND_KV_JOBS, &aitbc__v1__Job_desc, &v, &n);
  if (code)
    return nd_done(call, code);
  qsort(v, n, sizeof *v, newest_first);
  uint32_t limit = req->limit ? req->limit : 100, skipped = 0;
  resp->jobs = (aitbc__v1__Job **)v; /* filtered in place */
  for (size_t i = 0; i < n && resp->n_jobs < limit; i++) {
    aitbc__v1__Job *j = v[i];
    if (req->state && j->state != req->state)
      continue;
    if (skipped++ < req->offset)
      continue;
    resp->jobs[resp->n_jobs++] = j;
  }
  return nd_done(call, 0);
}

static int cancel_mut(weft_server_call *call, void *msg, void *arg) {
  (void)arg;
  aitbc__v1__Job *j = msg;
  if (j->state == aitbc__v1__JobState__CANCELLED)
    return ND_KV_KEEP; /* idempotent */
  if (nd_job_terminal(j->state))
    return nd_fail(call, WEFT_STATUS_FAILED_PRECONDITION,
                   "job %s already ended (%s)", j->job_id,
                   state_name(j->state));
  j->state = aitbc__v1__JobState__CANCELLED;
  j->error = "cancelled by client";
  return 0;
}

static int kv_cancel(weft_server_call *call, const char *id,
                     aitbc__v1__Job *resp) {
  if (!id || !*id)
    return nd_done(call, no_job(call, id));
  void *m = NULL;
  int code = nd_kv_update(call, weft_server_call_arena(call), ND_KV_JOBS, id,
                          &aitbc__v1__Job_desc, cancel_mut, NULL, &m);
  if (code == WEFT_STATUS_NOT_FOUND)
    code = no_job(call, id);
  if (!code)
    *resp = *(aitbc__v1__Job *)m;
  return nd_done(call, code);
}

void nd_job_apply(const aitbc__v1__Job *m, uint64_t rev) {
  if (!m->job_id || !*m->job_id)
    return;
  nd_job *j = nd_find_job(m->job_id);
  int64_t now = nd_now_ns();
  if (!j) {
    j = nd_xcalloc(sizeof *j);
    snprintf(j->id, sizeof j->id, "%s", m->job_id);
    j->payload_json = to_json(m->payload);
    j->constraints_json = to_json(m->constraints);
    const char *sim = str_field(m->payload, "simulate");
    j->sim = !sim ? 0 : !strcmp(sim, "fail") ? 1 : !strcmp(sim, "hold") ? 2 : 0;
    j->ttl_seconds = m->ttl_seconds;
    /* The leader steps and expires jobs by its own clock from when its
     * mirror first saw them (README: clocks). */
    j->created_ns = now;
    j->expires_ns = now + (int64_t)m->ttl_seconds * 1000000000;
    j->next_step_ns = now + nd_st.cfg.job_step_ms * 1000000;
    ND_PUSH(nd_st.jobs, j);
  } else if (rev <= j->rev) {
    return; /* already seen (the watch handler applies too) */
  }
  j->state = m->state;
  snprintf(j->miner, sizeof j->miner, "%s",
           m->assigned_miner_id ? m->assigned_miner_id : "");
  snprintf(j->requested_at, sizeof j->requested_at, "%s",
           m->requested_at ? m->requested_at : "");
  snprintf(j->expires_at, sizeof j->expires_at, "%s",
           m->expires_at ? m->expires_at : "");
  snprintf(j->client_id, sizeof j->client_id, "%s",
           m->client_id ? m->client_id : "");
  if (m->state == aitbc__v1__JobState__RUNNING && !j->started_ns) {
    j->started_ns = now; /* for the receipt the leader issues */
    nd_now_text(j->started_at);
  }
  j->progress = m->progress;
  free(j->error);
  j->error = nd_strdup(m->error && *m->error ? m->error : NULL);
  if (m->result && !j->result_json)
    j->result_json = to_json(m->result);
  nd_now_text(j->updated_at);
  j->rev = rev;
  nd_changed();
}

typedef struct step_arg {
  weft_arena *a;
  bool expire;
  int sim;
  const char *miner;
  bool completed; /* this step completed the job: issue its receipt */
  char completed_at[40], result_hash[65];
} step_arg;

static int step_mut(weft_server_call *call, void *msg, void *arg) {
  (void)call;
  aitbc__v1__Job *j = msg;
  step_arg *s = arg;
  if (nd_job_terminal(j->state))
    return ND_KV_KEEP;
  if (s->expire) {
    j->state = aitbc__v1__JobState__EXPIRED;
    j->error = "ttl expired";
  } else if (j->state == aitbc__v1__JobState__QUEUED) {
    j->state = aitbc__v1__JobState__RUNNING;
    j->assigned_miner_id = (char *)s->miner;
  } else if (s->sim == 1) {
    j->state = aitbc__v1__JobState__FAILED;
    j->error = "simulated failure";
  } else if (j->progress + STEP < 0.999) {
    j->progress += STEP;
  } else {
    char res[256], buf[192];
    nd_now_text(s->completed_at);
    snprintf(buf, sizeof buf, "%s|%s", j->job_id, s->completed_at);
    nd_hex_hash(buf, strlen(buf), s->result_hash);
    snprintf(res, sizeof res,
             "{\"status\":\"ok\",\"output\":\"simulated result of %s\","
             "\"result_hash\":\"%s\"}",
             j->job_id, s->result_hash);
    j->result = nd_struct(s->a, res);
    s->completed = true;
    j->progress = 1.0;
    j->state = aitbc__v1__JobState__COMPLETED;
  }
  return 0;
}

/* The receipt of a job this leader completed, as complete() makes it. */
static void kv_receipt(const aitbc__v1__Job *j, const step_arg *s) {
  nd_receipt r;
  memset(&r, 0, sizeof r);
  int64_t started = 0;
  pthread_mutex_lock(&nd_st.mu);
  nd_job *mj = nd_find_job(j->job_id);
  if (mj) {
    started = mj->started_ns;
    snprintf(r.started_at, sizeof r.started_at, "%s", mj->started_at);
  }
  pthread_mutex_unlock(&nd_st.mu);
  nd_kv_new_id("rcpt", r.id, sizeof r.id);
  snprintf(r.job_id, sizeof r.job_id, "%s", j->job_id);
  snprintf(r.provider, sizeof r.provider, "%s",
           j->assigned_miner_id ? j->assigned_miner_id : "");
  snprintf(r.client, sizeof r.client, "%s", j->client_id ? j->client_id : "");
  const char *model = str_field(j->payload, "model");
  snprintf(r.model, sizeof r.model, "%s", model ? model : "unknown");
  int64_t us = started ? (nd_now_ns() - started) / 1000 : 0;
  r.units = (double)us / 1e6;
  r.price = r.units * 0.5;
  r.amount = (uint64_t)us * 500;
  snprintf(r.completed_at, sizeof r.completed_at, "%s", s->completed_at);
  snprintf(r.result_hash, sizeof r.result_hash, "%s", s->result_hash);
  nd_receipt_sign(&r, r.sig);
  nd_receipt_kv_issue(&r);
}

void nd_job_kv_tick(int64_t now, weft_arena *a) {
  int64_t step = nd_st.cfg.job_step_ms * 1000000;
  for (size_t i = 0;; i++) {
    char id[96], miner[64];
    step_arg s = {.a = a, .miner = miner};
    pthread_mutex_lock(&nd_st.mu);
    if (i >= nd_st.jobs.n) {
      pthread_mutex_unlock(&nd_st.mu);
      return;
    }
    nd_job *j = nd_st.jobs.v[i];
    bool due =
        !nd_job_terminal(j->state) &&
        (now >= j->expires_ns || (j->sim != 2 && now >= j->next_step_ns));
    if (due) {
      j->next_step_ns = now + step;
      s.expire = now >= j->expires_ns;
      s.sim = j->sim;
      snprintf(id, sizeof id, "%s", j->id);
      snprintf(miner, sizeof miner, "%s", nd_st.wallets.v[0]->address);
    }
    pthread_mutex_unlock(&nd_st.mu);
    void *out = NULL;
    if (due &&
        !nd_kv_update(NULL, a, ND_KV_JOBS, id, &aitbc__v1__Job_desc, step_mut,
                      &s, &out) &&
        s.completed)
      kv_receipt(out, &s);
  }
}

static int kv_watch(weft_server_call *call,
                    const aitbc__v1__WatchJobRequest *req) {
  aitbc__v1__Job m = aitbc__v1__Job_INIT;
  uint64_t rev = 0;
  int code = kv_get(call, req->job_id, &m, &rev);
  if (code)
    return nd_done(call, code);
  pthread_mutex_lock(&nd_st.mu);
  nd_job_apply(&m, rev); /* the mirror may not have caught up yet */
  nd_job *j = nd_find_job(req->job_id);
  nd_watch *w = j ? nd_watch_new(call, req, pump_job) : NULL;
  code = WEFT_STATUS_RESOURCE_EXHAUSTED;
  if (w) {
    w->target = j;
    code = nd_watch_start(w);
  }
  pthread_mutex_unlock(&nd_st.mu);
  return code;
}

/* expires_at in wall-clock text: now + ttl. */
static void set_expires_at(nd_job *j) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  time_t exp = ts.tv_sec + (time_t)j->ttl_seconds;
  struct tm tm;
  gmtime_r(&exp, &tm);
  size_t n =
      strftime(j->expires_at, sizeof j->expires_at, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(j->expires_at + n, sizeof j->expires_at - n, ".%03ldZ",
           ts.tv_nsec / 1000000);
}

static int create_job(weft_server_call *call,
                      const aitbc__v1__CreateJobRequest *req,
                      aitbc__v1__Job *resp, void *ctx) {
  (void)ctx;
  if (!req->payload)
    return nd_done(call, nd_fail(call, WEFT_STATUS_INVALID_ARGUMENT,
                                 "payload is required (a JSON object)"));
  if (req->ttl_seconds > 7 * 86400)
    return nd_done(call, nd_fail(call, WEFT_STATUS_INVALID_ARGUMENT,
                                 "ttl_seconds %u is over the 7 day limit",
                                 req->ttl_seconds));
  const char *sim = str_field(req->payload, "simulate");
  if (sim && strcmp(sim, "fail") && strcmp(sim, "hold"))
    return nd_done(call, nd_fail(call, WEFT_STATUS_INVALID_ARGUMENT,
                                 "payload.simulate must be \"fail\" or "
                                 "\"hold\", not \"%s\"",
                                 sim));
  nd_job *j = nd_xcalloc(sizeof *j);
  j->payload_json = to_json(req->payload);
  j->constraints_json = to_json(req->constraints);
  j->ttl_seconds = req->ttl_seconds ? req->ttl_seconds : DEFAULT_TTL;
  j->sim = !sim ? 0 : !strcmp(sim, "fail") ? 1 : 2;
  const char *model = str_field(req->payload, "model");
  snprintf(j->model, sizeof j->model, "%s", model ? model : "");
  j->state = aitbc__v1__JobState__QUEUED;
  const weft_metadata_entry *cid =
      weft_metadata_get(weft_server_call_metadata(call), "x-client-id");
  snprintf(j->client_id, sizeof j->client_id, "%.*s",
           cid ? (int)(cid->value_len < 63 ? cid->value_len : 63) : 9,
           cid ? (const char *)cid->value : "anonymous");
  int64_t now = nd_now_ns();
  j->created_ns = now;
  j->expires_ns = now + (int64_t)j->ttl_seconds * 1000000000;
  j->next_step_ns = now + nd_st.cfg.job_step_ms * 1000000;
  nd_now_text(j->requested_at);
  set_expires_at(j);
  if (nd_kv_enabled())
    return kv_create(call, j, resp);
  pthread_mutex_lock(&nd_st.mu);
  nd_new_id("job", j->id, sizeof j->id);
  ND_PUSH(nd_st.jobs, j);
  touch(j);
  fill_job(weft_server_call_arena(call), j, resp);
  pthread_mutex_unlock(&nd_st.mu);
  return nd_done(call, 0);
}

static int no_job(weft_server_call *call, const char *id) {
  if (!id || !*id)
    return nd_fail(call, WEFT_STATUS_INVALID_ARGUMENT, "job_id is required");
  return nd_fail(call, WEFT_STATUS_NOT_FOUND, "job %s not found", id);
}

static int get_job(weft_server_call *call, const aitbc__v1__GetJobRequest *req,
                   aitbc__v1__Job *resp, void *ctx) {
  (void)ctx;
  if (nd_kv_enabled())
    return nd_done(call, kv_get(call, req->job_id, resp, NULL));
  pthread_mutex_lock(&nd_st.mu);
  nd_job *j = nd_find_job(req->job_id);
  if (j)
    fill_job(weft_server_call_arena(call), j, resp);
  pthread_mutex_unlock(&nd_st.mu);
  return nd_done(call, j ? 0 : no_job(call, req->job_id));
}

static int list_jobs(weft_server_call *call,
                     const aitbc__v1__ListJobsRequest *req,
                     aitbc__v1__ListJobsResponse *resp, void *ctx) {
  (void)ctx;
  if (nd_kv_enabled())
    return kv_list(call, req, resp);
  weft_arena *a = weft_server_call_arena(call);
  uint32_t limit = req->limit ? req->limit : 100;
  pthread_mutex_lock(&nd_st.mu);
  resp->jobs = weft_arena_calloc(a, (nd_st.jobs.n + 1) * sizeof *resp->jobs);
  uint32_t skipped = 0;
  /* Newest first, as AITBC lists them. */
  for (size_t i = nd_st.jobs.n; i-- > 0 && resp->n_jobs < limit;) {
    nd_job *j = nd_st.jobs.v[i];
    if (req->state && j->state != (int)req->state)
      continue;
    if (skipped++ < req->offset)
      continue;
    aitbc__v1__Job *o = aitbc__v1__Job_new(a);
    fill_job(a, j, o);
    resp->jobs[resp->n_jobs++] = o;
  }
  pthread_mutex_unlock(&nd_st.mu);
  return nd_done(call, 0);
}

static int cancel_job(weft_server_call *call,
                      const aitbc__v1__CancelJobRequest *req,
                      aitbc__v1__Job *resp, void *ctx) {
  (void)ctx;
  if (nd_kv_enabled())
    return kv_cancel(call, req->job_id, resp);
  int code = 0;
  pthread_mutex_lock(&nd_st.mu);
  nd_job *j = nd_find_job(req->job_id);
  if (!j)
    code = no_job(call, req->job_id);
  else if (j->state == aitbc__v1__JobState__CANCELLED)
    ; /* idempotent */
  else if (nd_job_terminal(j->state))
    code = nd_fail(call, WEFT_STATUS_FAILED_PRECONDITION,
                   "job %s already ended (%s)", j->id, state_name(j->state));
  else
    finish(j, aitbc__v1__JobState__CANCELLED, "cancelled by client");
  if (!code)
    fill_job(weft_server_call_arena(call), j, resp);
  pthread_mutex_unlock(&nd_st.mu);
  return nd_done(call, code);
}

/* Sends the job's status if it changed since the last one sent; ends the
 * stream (OK) once a terminal state went out (nd_watch pump, lock held). */
static int pump_job(nd_watch *w) {
  nd_job *j = w->target;
  if (w->first || j->rev != w->rev) {
    weft_arena *a = nd_scratch();
    aitbc__v1__JobStatus s = aitbc__v1__JobStatus_INIT;
    s.job_id = nd_adup(a, j->id);
    s.state = j->state;
    s.assigned_miner_id = nd_adup(a, j->miner);
    s.timestamp = nd_adup(a, j->updated_at);
    s.progress = j->progress;
    int r = nd_watch_send(w, &s);
    if (r == ND_FULL)
      return 0;
    if (r)
      return r;
    w->rev = j->rev;
    w->first = false;
  }
  return nd_job_terminal(j->state) ? ND_END_OK : 0;
}

/* Sends the current status, then every change, until a terminal state.
 * Asynchronous: the stream holds no thread while it waits. */
static int watch(weft_server_call *call, const aitbc__v1__WatchJobRequest *req,
                 void *ctx) {
  (void)ctx;
  if (nd_kv_enabled())
    return kv_watch(call, req);
  pthread_mutex_lock(&nd_st.mu);
  nd_job *j = nd_find_job(req->job_id);
  if (!j) {
    pthread_mutex_unlock(&nd_st.mu);
    return nd_done(call, no_job(call, req->job_id));
  }
  nd_watch *w = nd_watch_new(call, req, pump_job);
  int code = WEFT_STATUS_RESOURCE_EXHAUSTED;
  if (w) {
    w->target = j;
    code = nd_watch_start(w);
  }
  pthread_mutex_unlock(&nd_st.mu);
  return code;
}

/* UpdateJob (PUT /v1/jobs/{job_id}): a job still QUEUED takes new
 * constraints and/or ttl_seconds (counted from now); the other fields of
 * `job` are ignored. */
static int update_mut(weft_server_call *call, void *msg, void *arg) {
  const aitbc__v1__Job *u = arg;
  aitbc__v1__Job *j = msg;
  if (j->state != aitbc__v1__JobState__QUEUED)
    return nd_fail(call, WEFT_STATUS_FAILED_PRECONDITION,
                   "job %s is %s: only a queued job can change", j->job_id,
                   state_name(j->state));
  if (u->constraints)
    j->constraints = u->constraints;
  if (u->ttl_seconds)
    j->ttl_seconds = u->ttl_seconds;
  return 0;
}

static int update_job(weft_server_call *call,
                      const aitbc__v1__UpdateJobRequest *req,
                      aitbc__v1__Job *resp, void *ctx) {
  (void)ctx;
  const aitbc__v1__Job *u = req->job;
  if (!u || (!u->constraints && !u->ttl_seconds))
    return nd_done(call, nd_fail(call, WEFT_STATUS_INVALID_ARGUMENT,
                                 "job.constraints or job.ttl_seconds is "
                                 "required"));
  if (u->ttl_seconds > 7 * 86400)
    return nd_done(call, nd_fail(call, WEFT_STATUS_INVALID_ARGUMENT,
                                 "ttl_seconds %u is over the 7 day limit",
                                 u->ttl_seconds));
  if (!req->job_id || !*req->job_id)
    return nd_done(call, no_job(call, req->job_id));
  if (nd_kv_enabled()) {
    void *m = NULL;
    int code = nd_kv_update(call, weft_server_call_arena(call), ND_KV_JOBS,
                            req->job_id, &aitbc__v1__Job_desc, update_mut,
                            (void *)u, &m);
    if (code == WEFT_STATUS_NOT_FOUND)
      code = no_job(call, req->job_id);
    if (!code)
      *resp = *(aitbc__v1__Job *)m;
    return nd_done(call, code);
  }
  int code = 0;
  pthread_mutex_lock(&nd_st.mu);
  nd_job *j = nd_find_job(req->job_id);
  if (!j) {
    code = no_job(call, req->job_id);
  } else if (j->state != aitbc__v1__JobState__QUEUED) {
    code = nd_fail(call, WEFT_STATUS_FAILED_PRECONDITION,
                   "job %s is %s: only a queued job can change", j->id,
                   state_name(j->state));
  } else {
    if (u->constraints) {
      free(j->constraints_json);
      j->constraints_json = to_json(u->constraints);
    }
    if (u->ttl_seconds) {
      j->ttl_seconds = u->ttl_seconds;
      j->expires_ns = nd_now_ns() + (int64_t)j->ttl_seconds * 1000000000;
      set_expires_at(j);
    }
    touch(j);
    fill_job(weft_server_call_arena(call), j, resp);
  }
  pthread_mutex_unlock(&nd_st.mu);
  return nd_done(call, code);
}

static const aitbc__v1__Jobs_impl impl = {
    .create_job = create_job,
    .get_job = get_job,
    .list_jobs = list_jobs,
    .cancel_job = cancel_job,
    .update_job = update_job,
    .watch = watch,
};

int nd_add_jobs(weft_server *s) {
  return weft_server_add_service(s, &aitbc__v1__Jobs_service, &impl, NULL);
}
