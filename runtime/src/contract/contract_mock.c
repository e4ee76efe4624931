/* The mock provider: contracts served by a weft_server with one generic
 * handler (weft_server_add_generic_service) per service they name.
 *
 * Each interaction's answer is prepared at start as JSON texts (the
 * expected responses in canonical form, lists grown to the `min` of their
 * eachLike matchers so the mock satisfies what it promises), checked
 * against the interaction itself, and decoded per call into the call's
 * arena. A call is matched by weft__ct_match_requests against every
 * interaction of its method; the one with no differences that names the
 * most wins, and with none the nearest one's differences go back as a
 * FAILED_PRECONDITION message. A bidi interaction with `steps` is chosen
 * at its first step instead and then played turn by turn (scripted,
 * play). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json_exact.h"
#include "contract_internal.h"
#include "weft/codec.h"
#include "weft/status.h"

typedef struct answer {
  const weft_contract *c;
  size_t i;     /* interaction in c */
  char **texts; /* responses as JSON */
  size_t n_texts;
  char *status_msg; /* "" when the contract says nothing */
  size_t specificity;
} answer;

struct weft_contract_mock {
  weft_server *srv;
  answer *ans;
  size_t n_ans;
  char **states; /* in force for calls that name none */
  size_t n_states;
  bool immediate;
  char **urls;
  size_t n_urls;
  const weft_service_desc **svcs;
  size_t n_svcs;

  pthread_mutex_t mu;
  uint64_t *calls;
  char **unmatched;
  size_t n_unmatched;
  char **warnings;
  size_t n_warnings;
};

static char *dupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *dupf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = NULL;
  if (vasprintf(&s, fmt, ap) < 0)
    s = NULL;
  va_end(ap);
  return s;
}

static bool push_str(char ***v, size_t *n, char *s) {
  if (!s)
    return false;
  char **nv = realloc(*v, (*n + 1) * sizeof *nv);
  if (!nv) {
    free(s);
    return false;
  }
  nv[(*n)++] = s;
  *v = nv;
  return true;
}

static void free_strs(char **v, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(v[i]);
  free(v);
}

/* Grows the list at a matcher's path (every list the path reaches through
 * [*]) to its `min` by repeating its first element. */
static bool pad(cJSON *v, const weft__ct_matcher *mt, size_t seg) {
  if (!v)
    return true;
  if (seg == mt->n_segs) {
    if (!cJSON_IsArray(v) || !v->child)
      return true;
    while (cJSON_GetArraySize(v) < (int)mt->min) {
      cJSON *dup = cJSON_Duplicate(v->child, 1);
      if (!dup || !cJSON_AddItemToArray(v, dup)) {
        cJSON_Delete(dup);
        return false;
      }
    }
    return true;
  }
  const weft__ct_seg *s = &mt->segs[seg];
  if (s->name)
    return pad(cJSON_GetObjectItemCaseSensitive(v, s->name), mt, seg + 1);
  if (s->index >= 0)
    return pad(cJSON_GetArrayItem(v, (int)s->index), mt, seg + 1);
  for (cJSON *e = cJSON_IsArray(v) ? v->child : NULL; e; e = e->next)
    if (!pad(e, mt, seg + 1))
      return false;
  return true;
}

static size_t leaves(const cJSON *v) {
  if (!cJSON_IsObject(v) && !cJSON_IsArray(v))
    return 1;
  size_t n = 0;
  for (const cJSON *e = v->child; e; e = e->next)
    n += leaves(e);
  return n;
}

/* A status message for `messageMatches` without `message`: the pattern
 * itself without its anchors, when that matches it ("nope", "^job"). */
static char *status_text(const weft__ct_inter *it) {
  if (it->status_message)
    return strdup(it->status_message);
  if (!it->status_re_text)
    return strdup("");
  const char *p = it->status_re_text;
  size_t len = strlen(p);
  if (*p == '^')
    p++, len--;
  if (len && p[len - 1] == '$')
    len--;
  char *s = strndup(p, len);
  if (s && regexec(&it->status_re, s, 0, NULL, 0) != 0)
    *s = 0; /* the self-check names it */
  return s;
}

static int build_answer(weft_contract_mock *m, answer *a, weft_error *err) {
  const weft__ct_inter *it = &a->c->inters[a->i];
  cJSON *tree = cJSON_Duplicate(it->expected, 1);
  if (!tree)
    return weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
  /* Shallow paths first, so copies made for an outer list get their own
   * inner lists grown too. */
  size_t maxd = 0;
  for (size_t k = 0; k < it->n_matchers; k++)
    if (it->matchers[k].n_segs > maxd)
      maxd = it->matchers[k].n_segs;
  for (size_t d = 1; d <= maxd; d++)
    for (size_t k = 0; k < it->n_matchers; k++) {
      const weft__ct_matcher *mt = &it->matchers[k];
      if (!mt->request && mt->kind == WEFT__CT_EACH_LIKE && mt->has_min &&
          mt->n_segs == d && !pad(tree, mt, 0)) {
        cJSON_Delete(tree);
        return weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
      }
    }
  const cJSON *list = cJSON_GetObjectItemCaseSensitive(tree, "responses");
  for (const cJSON *e = list->child; e; e = e->next) {
    if (!push_str(&a->texts, &a->n_texts, weft__jx_print(e, false))) {
      cJSON_Delete(tree);
      return weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
    }
  }
  cJSON_Delete(tree);
  if (!(a->status_msg = status_text(it)))
    return weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
  const cJSON *reqs =
      cJSON_GetObjectItemCaseSensitive(it->req_expected, "requests");
  a->specificity = leaves(reqs) + it->metadata.count + it->n_states;

  /* Does the answer satisfy the interaction itself? */
  weft_json_opts jo = {0};
  jo.registry = weft__ct_registry(a->c, a->i);
  void **msgs = calloc(a->n_texts ? a->n_texts : 1, sizeof *msgs);
  if (!msgs)
    return weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
  int rv = 0;
  for (size_t k = 0; k < a->n_texts && rv == 0; k++) {
    weft_error e = {0};
    if (weft_json_decode(it->method->output, a->texts[k], strlen(a->texts[k]),
                         &jo, &msgs[k], &e) < 0)
      rv = weft_error_set(err, WEFT_ERR_MALFORMED,
                          "interaction \"%s\": responses[%zu]: %s", it->name, k,
                          e.message);
  }
  weft_status st = {0};
  st.code = it->status_code;
  st.message = a->status_msg;
  weft_contract_outcome o = {msgs, a->n_texts, &st, &it->expect_md};
  weft_contract_report r = {0};
  if (rv == 0 && weft_contract_match(a->c, a->i, &o, &r) < 0)
    rv = weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
  for (size_t d = 0; rv == 0 && r.n_results && d < r.results[0].n_diffs; d++)
    if (!push_str(&m->warnings, &m->n_warnings,
                  dupf("interaction \"%s\": the mock's answer fails it: %s: %s",
                       it->name, r.results[0].diffs[d].path,
                       r.results[0].diffs[d].message)))
      rv = weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
  weft_contract_report_clear(&r);
  for (size_t k = 0; k < a->n_texts; k++)
    weft_message_free(msgs[k]);
  free(msgs);
  return rv;
}

/* The provider states a call asks for: its metadata, else the mock's. */
static bool state_in_force(const weft_contract_mock *m, const weft_metadata *md,
                           bool from_md, const char *state) {
  if (from_md) {
    for (size_t k = 0; k < md->count; k++)
      if (!strcmp(md->entries[k].key, WEFT_CONTRACT_STATE_KEY) &&
          strlen(state) == md->entries[k].value_len &&
          !memcmp(state, md->entries[k].value, md->entries[k].value_len))
        return true;
    return false;
  }
  for (size_t k = 0; k < m->n_states; k++)
    if (!strcmp(m->states[k], state))
      return true;
  return false;
}

static void sleep_ms(weft_server_call *call, int64_t ms) {
  /* In slices, so a cancelled call does not hold its worker. */
  while (ms > 0 && !weft_server_call_cancelled(call)) {
    int64_t step = ms < 20 ? ms : 20;
    struct timespec ts = {0, (long)step * 1000000L};
    nanosleep(&ts, NULL);
    ms -= step;
  }
}

static int answer_call(weft_contract_mock *m, const answer *a,
                       weft_server_call *call, void *resp) {
  const weft__ct_inter *it = &a->c->inters[a->i];
  /* The call's descriptors, not the interaction's: several contracts may
   * each bring their own copy of a schema, and the server sends only
   * messages of the type it serves. */
  const weft_method_desc *md = weft_server_call_method(call);
  bool ok = it->status_code == WEFT_STATUS_OK;
  for (size_t k = 0; k < it->expect_md.count; k++) {
    const weft_metadata_entry *e = &it->expect_md.entries[k];
    /* Both: tcp:// and ws:// carry a unary answer's metadata in its
     * STATUS frame (trailers), the others may show either. */
    if (ok)
      weft_server_call_add_header(call, e->key, e->value, e->value_len);
    weft_server_call_add_trailer(call, e->key, e->value, e->value_len);
  }
  if (*a->status_msg)
    weft_server_call_set_message(call, "%s", a->status_msg);
  if (!ok)
    return it->status_code;
  weft_json_opts jo = {0};
  jo.registry = weft__ct_registry(a->c, a->i);
  jo.arena = weft_server_call_arena(call);
  bool streams =
      md->kind == WEFT_RPC_SERVER_STREAM || md->kind == WEFT_RPC_BIDI;
  for (size_t k = 0; k < a->n_texts; k++) {
    void *msg = NULL;
    weft_error e = {0};
    if (weft_json_decode(md->output, a->texts[k], strlen(a->texts[k]), &jo,
                         &msg, &e) < 0) {
      weft_server_call_set_message(call, "mock: responses[%zu]: %s", k,
                                   e.message);
      return WEFT_STATUS_INTERNAL;
    }
    if (!streams) {
      /* Both live in the call's arena: a shallow copy is the message. */
      memcpy(resp, msg, md->output->base.sizeof_message);
      break;
    }
    if (!m->immediate && k < it->n_delays)
      sleep_ms(call, it->delays_ms[k]);
    if (weft_server_call_send(call, msg) < 0)
      return WEFT_STATUS_CANCELLED;
  }
  return WEFT_STATUS_OK;
}

static bool states_fit(const weft_contract_mock *m, const weft__ct_inter *it,
                       const weft_metadata *meta, const char **missing) {
  bool from_md = meta && weft_metadata_get(meta, WEFT_CONTRACT_STATE_KEY);
  *missing = NULL;
  if (!from_md && m->n_states == 0)
    return true; /* no state in force: `given` is not checked */
  for (size_t s = 0; s < it->n_states; s++)
    if (!state_in_force(m, meta, from_md, it->states[s])) {
      *missing = it->states[s];
      return false;
    }
  return true;
}

/* Does interaction k fit the first n messages of a call still open? */
static bool fits_prefix(const answer *a, void *const *reqs, size_t n,
                        const weft_metadata *meta, bool *oom) {
  weft_contract_report r = {0};
  bool ok = false;
  if (weft__ct_match_requests(a->c, a->i, reqs, n, meta, true, &r) < 0)
    *oom = true;
  else
    ok = r.results[0].n_diffs == 0;
  weft_contract_report_clear(&r);
  return ok;
}

static void note_unmatched(weft_contract_mock *m, weft_server_call *call,
                           char *why) {
  weft_server_call_set_message(call, "%s", why ? why : "no interaction");
  pthread_mutex_lock(&m->mu);
  push_str(&m->unmatched, &m->n_unmatched, why);
  pthread_mutex_unlock(&m->mu);
}

/* Plays a bidi interaction's `steps` from the point where got requests
 * have been read: each expected response goes out before the next
 * request is read, and each request read must fit its step. */
static int play(weft_contract_mock *m, size_t k, weft_server_call *call,
                void ***reqs, size_t *n, size_t *cap,
                const weft_metadata *meta) {
  const answer *a = &m->ans[k];
  const weft__ct_inter *it = &a->c->inters[a->i];
  const weft_method_desc *md = weft_server_call_method(call);
  pthread_mutex_lock(&m->mu);
  m->calls[k]++;
  pthread_mutex_unlock(&m->mu);
  bool ok = it->status_code == WEFT_STATUS_OK;
  for (size_t j = 0; ok && j < it->expect_md.count; j++) {
    const weft_metadata_entry *e = &it->expect_md.entries[j];
    weft_server_call_add_header(call, e->key, e->value, e->value_len);
  }
  weft_json_opts jo = {0};
  jo.registry = weft__ct_registry(a->c, a->i);
  jo.arena = weft_server_call_arena(call);
  size_t ks = 0, ke = 0;
  bool oom = false;
  for (size_t st = 0; st < it->n_steps; st++) {
    if (it->steps[st] == 'e') {
      void *msg = NULL;
      weft_error e = {0};
      if (ke >= a->n_texts ||
          weft_json_decode(md->output, a->texts[ke], strlen(a->texts[ke]), &jo,
                           &msg, &e) < 0) {
        weft_server_call_set_message(call, "mock: steps[%zu]: %s", st,
                                     e.message);
        return WEFT_STATUS_INTERNAL;
      }
      ke++;
      if (weft_server_call_send(call, msg) < 0)
        return WEFT_STATUS_CANCELLED;
      continue;
    }
    if (ks++ < *n)
      continue; /* read before the interaction was chosen */
    void *msg;
    int r = weft_server_call_recv(call, &msg);
    if (r < 0)
      return WEFT_STATUS_CANCELLED;
    if (r == 0) {
      note_unmatched(m, call,
                     dupf("%s: \"%s\": steps[%zu]: expected a message, the "
                          "client half-closed",
                          md->path, it->name, st));
      return WEFT_STATUS_FAILED_PRECONDITION;
    }
    if (*n == *cap) {
      void **nr = realloc(*reqs, (*cap ? *cap * 2 : 8) * sizeof *nr);
      if (!nr)
        return WEFT_STATUS_RESOURCE_EXHAUSTED;
      *reqs = nr;
      *cap = *cap ? *cap * 2 : 8;
    }
    (*reqs)[(*n)++] = msg;
    weft_contract_report rep = {0};
    if (weft__ct_match_requests(a->c, a->i, *reqs, *n, meta, true, &rep) < 0)
      oom = true;
    else if (rep.results[0].n_diffs) {
      const weft_contract_diff *d = &rep.results[0].diffs[0];
      note_unmatched(m, call,
                     dupf("%s: \"%s\": steps[%zu]: %s: %s", md->path, it->name,
                          st, d->path, d->message));
      weft_contract_report_clear(&rep);
      return WEFT_STATUS_FAILED_PRECONDITION;
    }
    weft_contract_report_clear(&rep);
    if (oom)
      return WEFT_STATUS_RESOURCE_EXHAUSTED;
  }
  void *extra;
  int r = weft_server_call_recv(call, &extra);
  if (r < 0)
    return WEFT_STATUS_CANCELLED;
  if (r == 1) {
    note_unmatched(m, call,
                   dupf("%s: \"%s\": requests: expected %zu messages, got "
                        "more",
                        md->path, it->name, it->n_requests));
    return WEFT_STATUS_FAILED_PRECONDITION;
  }
  for (size_t j = 0; j < it->expect_md.count; j++) {
    const weft_metadata_entry *e = &it->expect_md.entries[j];
    weft_server_call_add_trailer(call, e->key, e->value, e->value_len);
  }
  if (*a->status_msg)
    weft_server_call_set_message(call, "%s", a->status_msg);
  return it->status_code;
}

/* Bidi calls when some interaction of the method has `steps`: the
 * interaction is chosen at its first step (before any message if it
 * starts with expect, else on the first message), then played. Returns
 * -1 when none was chosen: the caller matches the whole stream as usual,
 * with the messages read so far in *reqs (-2: and the stream has ended). */
static int scripted(weft_contract_mock *m, weft_server_call *call, void ***reqs,
                    size_t *n, size_t *cap) {
  const weft_method_desc *md = weft_server_call_method(call);
  const weft_metadata *meta = weft_server_call_metadata(call);
  bool any = false, oom = false;
  for (int pass = 0; pass < 2; pass++) {
    size_t best = (size_t)-1;
    for (size_t k = 0; k < m->n_ans; k++) {
      const answer *a = &m->ans[k];
      const weft__ct_inter *it = &a->c->inters[a->i];
      const char *missing;
      if (!it->n_steps || strcmp(it->method->path, md->path))
        continue;
      any = true;
      /* pass 0: those that speak first; pass 1: on the first message */
      if ((it->steps[0] == 'e') != (pass == 0) ||
          !states_fit(m, it, meta, &missing) ||
          !fits_prefix(a, *reqs, *n, meta, &oom))
        continue;
      if (best == (size_t)-1 || a->specificity > m->ans[best].specificity)
        best = k;
    }
    if (oom)
      return WEFT_STATUS_RESOURCE_EXHAUSTED;
    if (best != (size_t)-1)
      return play(m, best, call, reqs, n, cap, meta);
    if (!any || pass == 1)
      return -1;
    void *msg;
    int r = weft_server_call_recv(call, &msg);
    if (r < 0)
      return WEFT_STATUS_CANCELLED;
    if (r == 0)
      return -2;
    if (!(*reqs = malloc(8 * sizeof **reqs)))
      return WEFT_STATUS_RESOURCE_EXHAUSTED;
    *cap = 8;
    (*reqs)[(*n)++] = msg;
  }
  return -1;
}

static int handle(weft_server_call *call, const void *req, void *resp,
                  void *ud) {
  weft_contract_mock *m = ud;
  const weft_method_desc *md = weft_server_call_method(call);
  const weft_metadata *meta = weft_server_call_metadata(call);
  void **reqs = NULL;
  size_t n = 0, cap = 0;
  int code = WEFT_STATUS_OK;
  if (md->kind == WEFT_RPC_UNARY || md->kind == WEFT_RPC_SERVER_STREAM) {
    reqs = malloc(sizeof *reqs);
    if (!reqs)
      return WEFT_STATUS_RESOURCE_EXHAUSTED;
    reqs[n++] = (void *)req;
  } else {
    void *msg;
    int r = 1;
    if (md->kind == WEFT_RPC_BIDI &&
        (code = scripted(m, call, &reqs, &n, &cap)) >= 0) {
      free(reqs);
      return code;
    }
    if (code == -2)
      r = 0;
    code = WEFT_STATUS_OK;
    while (r == 1 && (r = weft_server_call_recv(call, &msg)) == 1) {
      if (n == cap) {
        void **nr = cap < 65536
                        ? realloc(reqs, (cap ? cap * 2 : 8) * sizeof *nr)
                        : NULL;
        if (!nr) {
          free(reqs);
          weft_server_call_set_message(call, "mock: too many messages");
          return WEFT_STATUS_RESOURCE_EXHAUSTED;
        }
        reqs = nr;
        cap = cap ? cap * 2 : 8;
      }
      reqs[n++] = msg;
    }
    if (r < 0) {
      free(reqs);
      return WEFT_STATUS_CANCELLED;
    }
  }
  bool from_md = meta && weft_metadata_get(meta, WEFT_CONTRACT_STATE_KEY);
  bool any_state = from_md || m->n_states > 0;
  const answer *best = NULL;
  size_t best_k = 0, near_k = 0, near_diffs = (size_t)-1;
  weft_contract_report near = {0};
  char *near_state = NULL;
  for (size_t k = 0; k < m->n_ans; k++) {
    const answer *a = &m->ans[k];
    const weft__ct_inter *it = &a->c->inters[a->i];
    if (strcmp(it->method->path, md->path))
      continue;
    const char *missing = NULL;
    for (size_t s = 0; any_state && !missing && s < it->n_states; s++)
      if (!state_in_force(m, meta, from_md, it->states[s]))
        missing = it->states[s];
    weft_contract_report r = {0};
    if (weft__ct_match_requests(a->c, a->i, reqs, n, meta, false, &r) < 0) {
      weft_contract_report_clear(&r);
      weft_contract_report_clear(&near);
      free(reqs);
      return WEFT_STATUS_RESOURCE_EXHAUSTED;
    }
    size_t nd = r.results[0].n_diffs + (missing ? 1 : 0);
    if (nd == 0) {
      if (!best || a->specificity > best->specificity) {
        best = a;
        best_k = k;
      }
    } else if (nd < near_diffs) {
      near_diffs = nd;
      near_k = k;
      weft_contract_report_clear(&near);
      near = r;
      r = (weft_contract_report){0};
      free(near_state);
      near_state =
          missing ? dupf("given: \"%s\" is not in force", missing) : NULL;
    }
    weft_contract_report_clear(&r);
  }
  free(reqs);
  if (best) {
    pthread_mutex_lock(&m->mu);
    m->calls[best_k]++;
    pthread_mutex_unlock(&m->mu);
    code = answer_call(m, best, call, resp);
  } else {
    /* The nearest interaction's differences, one clause each. */
    char *why = NULL;
    if (near_diffs == (size_t)-1) {
      why = dupf("%s: no interaction of the contracts calls it", md->path);
    } else {
      const answer *a = &m->ans[near_k];
      size_t len = 0, cap = 1024;
      char *list = malloc(cap);
      if (list) {
        list[0] = 0;
        if (near_state)
          len += (size_t)snprintf(list, cap, "%s", near_state);
        const weft_contract_result *res = &near.results[0];
        for (size_t d = 0; d < res->n_diffs && len < cap; d++)
          len += (size_t)snprintf(list + len, cap - len, "%s%s: %s",
                                  len ? "; " : "", res->diffs[d].path,
                                  res->diffs[d].message);
      }
      why = dupf("%s: no interaction matches; nearest \"%s\": %s", md->path,
                 a->c->inters[a->i].name, list ? list : "");
      free(list);
    }
    weft_server_call_set_message(call, "%s", why ? why : "no interaction");
    pthread_mutex_lock(&m->mu);
    push_str(&m->unmatched, &m->n_unmatched, why);
    pthread_mutex_unlock(&m->mu);
    code = WEFT_STATUS_FAILED_PRECONDITION;
  }
  weft_contract_report_clear(&near);
  free(near_state);
  return code;
}

/* "scheme://host:0/x" with the bound port. */
static char *bound_url(const char *url, int port) {
  const char *hp = strstr(url, "://");
  if (!hp || port < 0)
    return strdup(url);
  hp += 3;
  const char *end = hp + strcspn(hp, "/?");
  const char *colon = NULL;
  if (*hp == '[') {
    const char *rb = memchr(hp, ']', (size_t)(end - hp));
    if (rb && rb + 1 < end && rb[1] == ':')
      colon = rb + 1;
  } else {
    colon = memchr(hp, ':', (size_t)(end - hp));
  }
  if (!colon)
    colon = end;
  return dupf("%.*s:%d%s", (int)(colon - url), url, port, end);
}

void weft_contract_mock_stop(weft_contract_mock *m) {
  if (!m)
    return;
  weft_server_free(m->srv);
  for (size_t k = 0; k < m->n_ans; k++) {
    free_strs(m->ans[k].texts, m->ans[k].n_texts);
    free(m->ans[k].status_msg);
  }
  free(m->ans);
  free_strs(m->states, m->n_states);
  free_strs(m->urls, m->n_urls);
  free(m->svcs);
  free(m->calls);
  free_strs(m->unmatched, m->n_unmatched);
  free_strs(m->warnings, m->n_warnings);
  pthread_mutex_destroy(&m->mu);
  free(m);
}

static int add_svc(weft_contract_mock *m, const weft_service_desc *svc) {
  for (size_t k = 0; k < m->n_svcs; k++)
    if (!strcmp(m->svcs[k]->name, svc->name))
      return 0; /* served already; calls are matched by path */
  const weft_service_desc **v = realloc(m->svcs, (m->n_svcs + 1) * sizeof *v);
  if (!v)
    return WEFT_ERR_NOMEM;
  m->svcs = v;
  v[m->n_svcs++] = svc;
  return weft_server_add_generic_service(m->srv, svc, handle, m);
}

int weft_contract_mock_start(weft_contract_mock **out,
                             const weft_contract *const *cs, size_t n,
                             const weft_contract_mock_opts *opts,
                             weft_error *err) {
  static const char *const def_listen[] = {"tcp://127.0.0.1:0", NULL};
  *out = NULL;
  if (!cs || n == 0)
    return weft_error_set(err, WEFT_ERR_INVAL, "mock: no contracts");
  weft_contract_mock_opts none = {0};
  if (!opts)
    opts = &none;
  weft_contract_mock *m = calloc(1, sizeof *m);
  if (!m)
    return weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
  pthread_mutex_init(&m->mu, NULL);
  m->immediate = opts->immediate;
  int rv = WEFT_ERR_NOMEM;
  for (const char *const *s = opts->states; s && *s; s++)
    if (!push_str(&m->states, &m->n_states, strdup(*s)))
      goto nomem;
  size_t total = 0;
  for (size_t k = 0; k < n; k++)
    total += cs[k]->n_inters;
  if (!(m->ans = calloc(total, sizeof *m->ans)) ||
      !(m->calls = calloc(total, sizeof *m->calls)))
    goto nomem;
  if ((rv = weft_server_new(&m->srv, opts->server)) < 0)
    goto nomem;
  for (size_t k = 0; k < n; k++)
    for (size_t i = 0; i < cs[k]->n_inters; i++) {
      answer *a = &m->ans[m->n_ans++];
      a->c = cs[k];
      a->i = i;
      if ((rv = build_answer(m, a, err)) < 0)
        goto fail;
      if ((rv = add_svc(m, cs[k]->inters[i].method->service)) < 0) {
        weft_error_set(err, rv, "mock: cannot serve %s: %s",
                       cs[k]->inters[i].method->service->name,
                       weft_strerror(rv));
        goto fail;
      }
    }
  const char *const *ls = opts->listen ? opts->listen : def_listen;
  for (size_t k = 0; ls[k]; k++) {
    weft_error e = {0};
    if ((rv = weft_server_listen(m->srv, ls[k], &e)) < 0) {
      weft_error_set(err, rv, "mock: %s: %s", ls[k], e.message);
      goto fail;
    }
    if (!push_str(&m->urls, &m->n_urls,
                  bound_url(ls[k], weft_server_port(m->srv, (unsigned)k))))
      goto nomem;
  }
  *out = m;
  return 0;
nomem:
  rv = weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
fail:
  weft_contract_mock_stop(m);
  return rv;
}

const char *weft_contract_mock_url(const weft_contract_mock *m, size_t i) {
  return i < m->n_urls ? m->urls[i] : NULL;
}

void weft_contract_mock_report_clear(weft_contract_mock_report *r) {
  free(r->calls);
  free_strs(r->unmatched, r->n_unmatched);
  free_strs(r->warnings, r->n_warnings);
  memset(r, 0, sizeof *r);
}

int weft_contract_mock_get_report(weft_contract_mock *m,
                                  weft_contract_mock_report *r) {
  memset(r, 0, sizeof *r);
  int rv = 0;
  pthread_mutex_lock(&m->mu);
  r->n_interactions = m->n_ans;
  if (!(r->calls = calloc(m->n_ans ? m->n_ans : 1, sizeof *r->calls)))
    rv = WEFT_ERR_NOMEM;
  for (size_t k = 0; rv == 0 && k < m->n_ans; k++) {
    r->calls[k] = m->calls[k];
    r->n_unexercised += m->calls[k] == 0;
  }
  for (size_t k = 0; rv == 0 && k < m->n_unmatched; k++)
    if (!push_str(&r->unmatched, &r->n_unmatched, strdup(m->unmatched[k])))
      rv = WEFT_ERR_NOMEM;
  for (size_t k = 0; rv == 0 && k < m->n_warnings; k++)
    if (!push_str(&r->warnings, &r->n_warnings, strdup(m->warnings[k])))
      rv = WEFT_ERR_NOMEM;
  pthread_mutex_unlock(&m->mu);
  if (rv < 0)
    weft_contract_mock_report_clear(r);
  return rv;
}

static int add_result(weft_contract_report *r, const char *name,
                      const char *method, const char *path, char *msg) {
  weft_contract_result *res =
      realloc(r->results, (r->n_results + 1) * sizeof *res);
  if (!res) {
    free(msg);
    return WEFT_ERR_NOMEM;
  }
  r->results = res;
  res = &res[r->n_results];
  memset(res, 0, sizeof *res);
  res->name = name;
  res->method = method;
  res->passed = msg == NULL;
  if (msg) {
    char *p = strdup(path);
    if (!p || !(res->diffs = malloc(sizeof *res->diffs))) {
      free(p);
      free(msg);
      return WEFT_ERR_NOMEM;
    }
    res->diffs[0].path = p;
    res->diffs[0].message = msg;
    res->n_diffs = 1;
    r->n_failed++;
  }
  r->n_results++;
  return 0;
}

int weft_contract_mock_verify(weft_contract_mock *m, weft_contract_report *r) {
  weft_contract_mock_report mr;
  int rv = weft_contract_mock_get_report(m, &mr);
  for (size_t k = 0; rv == 0 && k < m->n_ans; k++) {
    const weft__ct_inter *it = &m->ans[k].c->inters[m->ans[k].i];
    char *msg = NULL;
    if (mr.calls[k] == 0 && !(msg = strdup("expected at least 1, got 0"))) {
      rv = WEFT_ERR_NOMEM;
      break;
    }
    rv = add_result(r, it->name, it->method->path, "calls", msg);
  }
  for (size_t k = 0; rv == 0 && k < mr.n_unmatched; k++) {
    char *msg = strdup(mr.unmatched[k]);
    rv = msg ? add_result(r, "unmatched call", "", "request", msg)
             : WEFT_ERR_NOMEM;
  }
  weft_contract_mock_report_clear(&mr);
  return rv;
}
