/* Matching what a call brought back against an interaction (no I/O).
 *
 * The answer is encoded to JSON the way the expected messages were
 * canonicalized (defaults emitted), then two passes: a structural
 * comparison where the expectation is a subset of the answer (extra fields
 * are fine, named ones must be equal), skipping every path a matcher
 * covers; then each matcher on its own paths of the answer. */
#define _GNU_SOURCE
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_exact.h"
#include "contract_internal.h"
#include "weft/codec.h"
#include "weft/status.h"

typedef struct mctx {
  const weft__ct_inter *it;
  weft_contract_result *res;
  bool oom;
  bool req;        /* matching requests (the mock), not responses */
  bool single_req; /* report requests[0].x as request.x */
} mctx;

static void diff(mctx *m, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void diff(mctx *m, const char *path, const char *fmt, ...) {
  weft_contract_result *r = m->res;
  r->passed = false;
  weft_contract_diff *d = realloc(r->diffs, (r->n_diffs + 1) * sizeof *d);
  if (!d) {
    m->oom = true;
    return;
  }
  r->diffs = d;
  va_list ap;
  va_start(ap, fmt);
  char *msg = NULL;
  int n = vasprintf(&msg, fmt, ap);
  va_end(ap);
  char *p = NULL;
  if (m->single_req && !strncmp(path, "requests[0]", 11)) {
    if (asprintf(&p, "request%s", path + 11) < 0)
      p = NULL;
  } else {
    p = strdup(path);
  }
  if (n < 0 || !p) {
    free(p);
    if (n >= 0)
      free(msg);
    m->oom = true;
    return;
  }
  d[r->n_diffs].path = p;
  d[r->n_diffs].message = msg;
  r->n_diffs++;
}

/* A short rendering of a JSON value for messages. */
static void show(const cJSON *v, char *buf, size_t cap) {
  if (!v) {
    snprintf(buf, cap, "nothing");
    return;
  }
  char *s = weft__jx_print(v, false); /* numbers as written */
  if (!s) {
    snprintf(buf, cap, "?");
    return;
  }
  if (strlen(s) + 1 > cap && cap > 4)
    snprintf(buf, cap, "%.*s...", (int)(cap - 4), s);
  else
    snprintf(buf, cap, "%s", s);
  free(s);
}

static const char *type_name(const cJSON *v) {
  if (cJSON_IsObject(v))
    return "an object";
  if (cJSON_IsArray(v))
    return "a list";
  if (cJSON_IsString(v))
    return "a string";
  if (cJSON_IsNumber(v))
    return "a number";
  if (cJSON_IsBool(v))
    return "a boolean";
  return "null";
}

/* Does a concrete path ("responses[2].items[0].id") fall under a matcher's
 * segments ("responses", [*], "items", [*], "id")? Exactly, not a prefix. */
static bool seg_match(const weft__ct_matcher *mt, const char *path) {
  const char *p = path;
  for (size_t i = 0; i < mt->n_segs; i++) {
    const weft__ct_seg *s = &mt->segs[i];
    if (s->name) {
      if (i > 0) {
        if (*p != '.')
          return false;
        p++;
      }
      size_t n = strlen(s->name);
      if (strncmp(p, s->name, n))
        return false;
      p += n;
    } else {
      if (*p != '[')
        return false;
      char *end;
      long idx = strtol(p + 1, &end, 10);
      if (*end != ']' || (s->index >= 0 && idx != s->index))
        return false;
      p = end + 1;
    }
  }
  return *p == 0;
}

static bool covered(const mctx *m, const char *path) {
  for (size_t i = 0; i < m->it->n_matchers; i++)
    if (m->it->matchers[i].request == m->req &&
        seg_match(&m->it->matchers[i], path))
      return true;
  return false;
}

static void compare(mctx *m, const cJSON *exp, const cJSON *act,
                    const char *path, bool check_top) {
  if (!check_top && covered(m, path))
    return;
  char e[160], a[160];
  if (!act) {
    show(exp, e, sizeof e);
    diff(m, path, "expected %s, got nothing", e);
    return;
  }
  bool same_type = (cJSON_IsObject(exp) && cJSON_IsObject(act)) ||
                   (cJSON_IsArray(exp) && cJSON_IsArray(act)) ||
                   (cJSON_IsString(exp) && cJSON_IsString(act)) ||
                   (cJSON_IsNumber(exp) && cJSON_IsNumber(act)) ||
                   (cJSON_IsBool(exp) && cJSON_IsBool(act)) ||
                   (cJSON_IsNull(exp) && cJSON_IsNull(act));
  if (!same_type || (cJSON_IsBool(exp) && exp->type != act->type) ||
      (cJSON_IsString(exp) && strcmp(exp->valuestring, act->valuestring)) ||
      (cJSON_IsNumber(exp) && exp->valuedouble != act->valuedouble)) {
    show(exp, e, sizeof e);
    show(act, a, sizeof a);
    diff(m, path, "expected %s, got %s", e, a);
    return;
  }
  if (cJSON_IsObject(exp)) {
    for (const cJSON *c = exp->child; c; c = c->next) {
      char *sub = NULL;
      if (asprintf(&sub, "%s.%s", path, c->string) < 0) {
        m->oom = true;
        return;
      }
      compare(m, c, cJSON_GetObjectItemCaseSensitive(act, c->string), sub,
              false);
      free(sub);
    }
  } else if (cJSON_IsArray(exp)) {
    int ne = cJSON_GetArraySize(exp), na = cJSON_GetArraySize(act);
    if (ne != na)
      diff(m, path, "expected %d element%s, got %d", ne, ne == 1 ? "" : "s",
           na);
    const cJSON *x = exp->child, *y = act->child;
    for (int i = 0; x && y; i++, x = x->next, y = y->next) {
      char *sub = NULL;
      if (asprintf(&sub, "%s[%d]", path, i) < 0) {
        m->oom = true;
        return;
      }
      compare(m, x, y, sub, false);
      free(sub);
    }
  }
}

/* The expected value at a matcher's path, any index read as [0]. */
static const cJSON *expected_at(const cJSON *root, const weft__ct_matcher *mt,
                                size_t upto) {
  const cJSON *v = root;
  for (size_t i = 0; v && i < upto; i++) {
    const weft__ct_seg *s = &mt->segs[i];
    v = s->name ? cJSON_GetObjectItemCaseSensitive(v, s->name)
                : cJSON_GetArrayItem(v, s->index < 0 ? 0 : (int)s->index);
  }
  return v;
}

static bool as_number(const cJSON *v, double *out) {
  if (cJSON_IsNumber(v)) {
    *out = v->valuedouble;
    return true;
  }
  if (cJSON_IsString(v) && *v->valuestring) { /* int64 travel as strings */
    char *end;
    *out = strtod(v->valuestring, &end);
    return *end == 0;
  }
  return false;
}

static void apply(mctx *m, const weft__ct_matcher *mt, const cJSON *act,
                  const char *path, const cJSON *root_exp) {
  char a[160], e[160];
  const cJSON *exp = expected_at(root_exp, mt, mt->n_segs);
  switch (mt->kind) {
  case WEFT__CT_ABSENT:
    show(act, a, sizeof a);
    diff(m, path, "expected to be absent, got %s", a);
    return;
  case WEFT__CT_PRESENT:
    return;
  case WEFT__CT_EXACT:
    if (exp)
      compare(m, exp, act, path, true);
    return;
  case WEFT__CT_TYPE:
    if (exp && strcmp(type_name(exp), type_name(act))) {
      show(act, a, sizeof a);
      diff(m, path, "expected %s, got %s", type_name(exp), a);
    }
    return;
  case WEFT__CT_REGEX:
    if (!cJSON_IsString(act) ||
        regexec(&mt->re, act->valuestring, 0, NULL, 0)) {
      show(act, a, sizeof a);
      diff(m, path, "expected a string matching /%s/, got %s", mt->re_text, a);
    }
    return;
  case WEFT__CT_RANGE: {
    double x;
    show(act, a, sizeof a);
    if (!as_number(act, &x))
      diff(m, path, "expected a number, got %s", a);
    else if ((mt->has_min && x < mt->min) || (mt->has_max && x > mt->max))
      diff(m, path, "expected a number in [%g, %g], got %s",
           mt->has_min ? mt->min : -INFINITY, mt->has_max ? mt->max : INFINITY,
           a);
    return;
  }
  case WEFT__CT_EACH_LIKE: {
    if (!cJSON_IsArray(act)) {
      show(act, a, sizeof a);
      diff(m, path, "expected a list, got %s", a);
      return;
    }
    int n = cJSON_GetArraySize(act);
    if ((mt->has_min && n < mt->min) || (mt->has_max && n > mt->max)) {
      if (mt->has_max)
        diff(m, path, "expected %g to %g elements, got %d",
             mt->has_min ? mt->min : 0, mt->max, n);
      else
        diff(m, path, "expected at least %g element%s, got %d", mt->min,
             mt->min == 1 ? "" : "s", n);
    }
    const cJSON *like = cJSON_GetArrayItem(exp, 0);
    if (!like)
      return;
    int i = 0;
    for (const cJSON *y = act->child; y; y = y->next, i++) {
      char *sub = NULL;
      if (asprintf(&sub, "%s[%d]", path, i) < 0) {
        m->oom = true;
        return;
      }
      compare(m, like, y, sub, false);
      free(sub);
    }
    (void)e;
    return;
  }
  }
}

static void resolve(mctx *m, const weft__ct_matcher *mt, size_t i,
                    const cJSON *act, const char *path, const cJSON *exp) {
  if (i == mt->n_segs) {
    apply(m, mt, act, path, exp);
    return;
  }
  const weft__ct_seg *s = &mt->segs[i];
  if (!s->name && s->index < 0) {
    if (!cJSON_IsArray(act)) {
      char a[160];
      show(act, a, sizeof a);
      diff(m, path, "expected a list, got %s", a);
      return;
    }
    int k = 0;
    for (const cJSON *y = act->child; y; y = y->next, k++) {
      char *sub = NULL;
      if (asprintf(&sub, "%s[%d]", path, k) < 0) {
        m->oom = true;
        return;
      }
      resolve(m, mt, i + 1, y, sub, exp);
      free(sub);
    }
    return;
  }
  char *sub = NULL;
  int rv = s->name ? asprintf(&sub, "%s%s%s", path, *path ? "." : "", s->name)
                   : asprintf(&sub, "%s[%ld]", path, s->index);
  if (rv < 0) {
    m->oom = true;
    return;
  }
  const cJSON *next = s->name ? cJSON_GetObjectItemCaseSensitive(act, s->name)
                              : cJSON_GetArrayItem(act, (int)s->index);
  if (next)
    resolve(m, mt, i + 1, next, sub, exp);
  else if (mt->kind != WEFT__CT_ABSENT)
    diff(m, sub, "expected to be present, got nothing");
  free(sub);
}

void weft_contract_report_clear(weft_contract_report *r) {
  for (size_t i = 0; i < r->n_results; i++) {
    for (size_t d = 0; d < r->results[i].n_diffs; d++) {
      free(r->results[i].diffs[d].path);
      free(r->results[i].diffs[d].message);
    }
    free(r->results[i].diffs);
  }
  free(r->results);
  memset(r, 0, sizeof *r);
}

static cJSON *encode_all(const weft__ct_inter *it, const weft_contract *c,
                         const weft_contract_outcome *o) {
  cJSON *list = cJSON_CreateArray();
  weft_json_opts jo = {0};
  jo.flags = WEFT_JSON_EMIT_DEFAULTS;
  if (c->schema &&
      weft_dyn_find_file(c->schema, it->method->service->file->name) ==
          it->method->service->file)
    jo.registry = weft_dyn_registry(c->schema);
  for (size_t i = 0; list && i < o->n_responses; i++) {
    char *text = NULL;
    size_t len;
    cJSON *v = NULL;
    if (weft_json_encode(o->responses[i], &jo, &text, &len, NULL) == 0)
      v = cJSON_Parse(text);
    free(text);
    if (!v)
      v = cJSON_CreateNull(); /* unencodable: shown as null in diffs */
    if (!v || !cJSON_AddItemToArray(list, v)) {
      cJSON_Delete(v);
      cJSON_Delete(list);
      return NULL;
    }
  }
  return list;
}

int weft_contract_match(const weft_contract *c, size_t i,
                        const weft_contract_outcome *o,
                        weft_contract_report *r) {
  if (i >= c->n_inters)
    return WEFT_ERR_INVAL;
  const weft__ct_inter *it = &c->inters[i];
  weft_contract_result *res =
      realloc(r->results, (r->n_results + 1) * sizeof *res);
  if (!res)
    return WEFT_ERR_NOMEM;
  r->results = res;
  res = &res[r->n_results++];
  memset(res, 0, sizeof *res);
  res->name = it->name;
  res->method = it->method->path;
  res->passed = true;
  mctx m = {it, res, false, false, false};

  int code = o->status ? o->status->code : WEFT_STATUS_UNKNOWN;
  const char *msg = o->status && o->status->message ? o->status->message : "";
  if (code != it->status_code)
    diff(&m, "status.code", "expected %s, got %s%s%s",
         weft_status_name(it->status_code), weft_status_name(code),
         *msg ? ": " : "", msg);
  if (it->status_message && strcmp(it->status_message, msg))
    diff(&m, "status.message", "expected \"%s\", got \"%s\"",
         it->status_message, msg);
  if (it->has_status_re && regexec(&it->status_re, msg, 0, NULL, 0))
    diff(&m, "status.message", "\"%s\" does not match the pattern", msg);
  for (size_t k = 0; k < it->expect_md.count; k++) {
    const weft_metadata_entry *want = &it->expect_md.entries[k];
    const weft_metadata_entry *got =
        o->metadata ? weft_metadata_get(o->metadata, want->key) : NULL;
    char path[300];
    snprintf(path, sizeof path, "responseMetadata.%s", want->key);
    if (!got)
      diff(&m, path, "expected \"%.*s\", got nothing", (int)want->value_len,
           (const char *)want->value);
    else if (got->value_len != want->value_len ||
             memcmp(got->value, want->value, want->value_len))
      diff(&m, path, "expected \"%.*s\", got \"%.*s\"", (int)want->value_len,
           (const char *)want->value, (int)got->value_len,
           (const char *)got->value);
  }

  cJSON *list = encode_all(it, c, o);
  cJSON *act = cJSON_CreateObject();
  if (!list || !act || !cJSON_AddItemToObject(act, "responses", list)) {
    cJSON_Delete(list);
    cJSON_Delete(act);
    return WEFT_ERR_NOMEM;
  }
  const cJSON *exp =
      cJSON_GetObjectItemCaseSensitive(it->expected, "responses");
  int ne = cJSON_GetArraySize(exp), na = cJSON_GetArraySize(list);
  /* A failed call has no answer to compare; its status says it all. */
  bool compare_msgs = code == WEFT_STATUS_OK || na > 0;
  if (compare_msgs && it->check_count && ne != na)
    diff(&m, "responses", "expected %d message%s, got %d", ne,
         ne == 1 ? "" : "s", na);
  bool list_matcher = false;
  for (size_t k = 0; k < it->n_matchers; k++)
    list_matcher |= it->matchers[k].n_segs == 1 && !it->matchers[k].request;
  if (compare_msgs && !list_matcher) {
    const cJSON *x = exp->child, *y = list->child;
    for (int k = 0; x && y; k++, x = x->next, y = y->next) {
      char path[32];
      snprintf(path, sizeof path, "responses[%d]", k);
      compare(&m, x, y, path, false);
    }
  }
  for (size_t k = 0; compare_msgs && k < it->n_matchers; k++)
    if (!it->matchers[k].request)
      resolve(&m, &it->matchers[k], 0, act, "", it->expected);
  cJSON_Delete(act);
  return m.oom ? WEFT_ERR_NOMEM : 0;
}

const weft_registry *weft__ct_registry(const weft_contract *c, size_t i) {
  const weft_method_desc *md = c->inters[i].method;
  if (c->schema && weft_dyn_find_file(c->schema, md->service->file->name) ==
                       md->service->file)
    return weft_dyn_registry(c->schema);
  return NULL;
}

int weft__ct_match_requests(const weft_contract *c, size_t i, void *const *reqs,
                            size_t n, const weft_metadata *md, bool prefix,
                            weft_contract_report *r) {
  if (i >= c->n_inters)
    return WEFT_ERR_INVAL;
  const weft__ct_inter *it = &c->inters[i];
  weft_contract_result *res =
      realloc(r->results, (r->n_results + 1) * sizeof *res);
  if (!res)
    return WEFT_ERR_NOMEM;
  r->results = res;
  res = &res[r->n_results++];
  memset(res, 0, sizeof *res);
  res->name = it->name;
  res->method = it->method->path;
  res->passed = true;
  bool streams = it->method->kind == WEFT_RPC_CLIENT_STREAM ||
                 it->method->kind == WEFT_RPC_BIDI;
  mctx m = {it, res, false, true, !streams};
  for (size_t k = 0; k < it->metadata.count; k++) {
    const weft_metadata_entry *want = &it->metadata.entries[k];
    const weft_metadata_entry *got = md ? weft_metadata_get(md, want->key) : 0;
    char path[300];
    snprintf(path, sizeof path, "metadata.%s", want->key);
    if (!got)
      diff(&m, path, "expected \"%.*s\", got nothing", (int)want->value_len,
           (const char *)want->value);
    else if (got->value_len != want->value_len ||
             memcmp(got->value, want->value, want->value_len))
      diff(&m, path, "expected \"%.*s\", got \"%.*s\"", (int)want->value_len,
           (const char *)want->value, (int)got->value_len,
           (const char *)got->value);
  }
  weft_json_opts jo = {0};
  jo.flags = WEFT_JSON_EMIT_DEFAULTS;
  jo.registry = weft__ct_registry(c, i);
  cJSON *list = cJSON_CreateArray();
  cJSON *act = cJSON_CreateObject();
  if (!list || !act || !cJSON_AddItemToObject(act, "requests", list)) {
    cJSON_Delete(list);
    cJSON_Delete(act);
    return WEFT_ERR_NOMEM;
  }
  for (size_t k = 0; k < n; k++) {
    char *text = NULL;
    cJSON *v = NULL;
    if (weft_json_encode(reqs[k], &jo, &text, NULL, NULL) == 0)
      v = cJSON_Parse(text);
    free(text);
    if (!v)
      v = cJSON_CreateNull();
    if (!v || !cJSON_AddItemToArray(list, v)) {
      cJSON_Delete(v);
      cJSON_Delete(act);
      return WEFT_ERR_NOMEM;
    }
  }
  const cJSON *exp =
      cJSON_GetObjectItemCaseSensitive(it->req_expected, "requests");
  int ne = cJSON_GetArraySize(exp), na = (int)n;
  bool list_matcher = false;
  for (size_t k = 0; k < it->n_matchers; k++)
    list_matcher |= it->matchers[k].n_segs == 1 && it->matchers[k].request;
  if (!list_matcher) {
    if (ne != na && !(prefix && na < ne))
      diff(&m, "requests", "expected %d message%s, got %d", ne,
           ne == 1 ? "" : "s", na);
    const cJSON *x = exp->child, *y = list->child;
    for (int k = 0; x && y; k++, x = x->next, y = y->next) {
      char path[32];
      snprintf(path, sizeof path, "requests[%d]", k);
      compare(&m, x, y, path, false);
    }
  }
  for (size_t k = 0; k < it->n_matchers; k++)
    if (it->matchers[k].request)
      resolve(&m, &it->matchers[k], 0, act, "", it->req_expected);
  cJSON_Delete(act);
  return m.oom ? WEFT_ERR_NOMEM : 0;
}
