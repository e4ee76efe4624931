/* Contract JSON -> weft_contract, validated against the schema: every
 * example is decoded strictly as its method's type and every matcher path
 * is walked through the output type, so a mistake is reported at load time
 * with the interaction and the path, not as a puzzling failure against a
 * live provider. No I/O: schema files go through opts->schema_fn. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contract_internal.h"
#include "contract_paths.h"
#include "json_exact.h"
#include "weft/base64.h"
#include "weft/codec.h"
#include "weft/status.h"

typedef struct pctx {
  weft_contract *c;
  const weft_contract_opts *o;
  weft_error *err;
  size_t idx;             /* interaction being parsed */
  const char *name;       /* its name */
  cJSON *sends, *expects; /* `steps` split, referencing the contract's */
} pctx;

static int fail(pctx *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int fail(pctx *p, const char *fmt, ...) {
  char msg[WEFT_ERROR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (p->name)
    return weft_error_set(p->err, WEFT_ERR_MALFORMED,
                          "interactions[%zu] \"%s\": %s", p->idx, p->name, msg);
  if (p->idx != (size_t)-1)
    return weft_error_set(p->err, WEFT_ERR_MALFORMED, "interactions[%zu]: %s",
                          p->idx, msg);
  return weft_error_set(p->err, WEFT_ERR_MALFORMED, "%s", msg);
}

static int nomem(pctx *p) {
  return weft_error_set(p->err, WEFT_ERR_NOMEM, "out of memory");
}

static bool key_in(const char *k, const char *const *keys) {
  for (; *keys; keys++)
    if (!strcmp(k, *keys))
      return true;
  return false;
}

static int check_keys(pctx *p, const cJSON *obj, const char *where,
                      const char *const *keys) {
  for (const cJSON *it = obj->child; it; it = it->next)
    if (!key_in(it->string, keys))
      return fail(p, "%s%sunknown key \"%s\"", where, *where ? ": " : "",
                  it->string);
  return 0;
}

void weft_contract_free(weft_contract *c) {
  if (!c)
    return;
  for (size_t i = 0; i < c->n_inters; i++) {
    weft__ct_inter *it = &c->inters[i];
    free(it->name);
    for (size_t s = 0; s < it->n_states; s++)
      free(it->states[s]);
    free(it->states);
    weft_metadata_clear(&it->metadata);
    weft_metadata_clear(&it->expect_md);
    for (size_t r = 0; r < it->n_requests; r++)
      weft_message_free(it->requests[r]);
    free(it->requests);
    cJSON_Delete(it->expected);
    cJSON_Delete(it->req_expected);
    free(it->delays_ms);
    free(it->steps);
    free(it->status_message);
    free(it->status_re_text);
    if (it->has_status_re)
      regfree(&it->status_re);
    for (size_t m = 0; m < it->n_matchers; m++) {
      weft__ct_matcher *mt = &it->matchers[m];
      free(mt->path);
      weft__ct_segs_free(mt->segs, mt->n_segs);
      if (mt->has_re)
        regfree(&mt->re);
      free(mt->re_text);
    }
    free(it->matchers);
  }
  free(c->inters);
  free(c->consumer);
  free(c->provider);
  weft_dyn_free(c->own_schema);
  free(c);
}

/* "pkg.Svc/Method" (or /pkg.Svc/Method, pkg.Svc.Method) in a registry. */
static const weft_method_desc *registry_method(const weft_registry *r,
                                               const char *name) {
  if (*name == '/')
    name++;
  const char *sep = strrchr(name, '/');
  if (!sep)
    sep = strrchr(name, '.');
  if (!sep || sep == name)
    return NULL;
  char *svc = strndup(name, (size_t)(sep - name));
  if (!svc)
    return NULL;
  const weft_service_desc *s = weft_registry_find_service(r, svc);
  free(svc);
  for (unsigned i = 0; s && i < s->n_methods; i++)
    if (!strcmp(s->methods[i].name, sep + 1))
      return &s->methods[i];
  return NULL;
}

static const weft_registry *registry_for(pctx *p, const weft_method_desc *m) {
  if (p->c->schema &&
      weft_dyn_find_file(p->c->schema, m->service->file->name) ==
          m->service->file)
    return weft_dyn_registry(p->c->schema);
  return p->o->fallback;
}

/* Decodes one example strictly; where names it in errors ("request",
 * "responses[1]"). */
static int decode(pctx *p, const weft_method_desc *m, const weft_msg_desc *d,
                  const cJSON *v, const char *where, void **out) {
  if (!cJSON_IsObject(v))
    return fail(p, "%s: a message is a JSON object", where);
  char *text = weft__jx_print(v, false);
  if (!text)
    return nomem(p);
  weft_json_opts jo = {0};
  jo.registry = registry_for(p, m);
  weft_error e = {0};
  int rv = weft_json_decode(d, text, strlen(text), &jo, out, &e);
  free(text);
  if (rv < 0)
    return fail(p, "%s: %s", where, e.message);
  return 0;
}

/* The example (a message of type d) in canonical JSON, pruned to what it
 * names. */
static int canonical(pctx *p, const weft_method_desc *m, const weft_msg_desc *d,
                     const cJSON *v, const char *where, cJSON **out) {
  void *msg = NULL;
  int rv = decode(p, m, d, v, where, &msg);
  if (rv < 0)
    return rv;
  weft_json_opts jo = {0};
  jo.flags = WEFT_JSON_EMIT_DEFAULTS;
  jo.registry = registry_for(p, m);
  char *text = NULL;
  size_t len;
  weft_error e = {0};
  rv = weft_json_encode(msg, &jo, &text, &len, &e);
  weft_message_free(msg);
  if (rv < 0)
    return fail(p, "%s: %s", where, e.message);
  cJSON *canon = cJSON_Parse(text);
  free(text);
  if (!canon)
    return nomem(p);
  *out = weft__ct_prune(canon, v);
  cJSON_Delete(canon);
  return *out ? 0 : nomem(p);
}

static int parse_metadata(pctx *p, const cJSON *v, const char *where,
                          weft_metadata *md) {
  if (!v)
    return 0;
  if (!cJSON_IsObject(v))
    return fail(p, "%s: an object of \"key\": \"value\"", where);
  for (const cJSON *e = v->child; e; e = e->next) {
    if (!cJSON_IsString(e))
      return fail(p, "%s.%s: a string", where, e->string);
    if (weft_metadata_add_str(md, e->string, e->valuestring) < 0)
      return fail(p, "%s.%s: not a valid metadata entry", where, e->string);
  }
  return 0;
}

static int parse_status(pctx *p, weft__ct_inter *it, const cJSON *v) {
  it->status_code = WEFT_STATUS_OK;
  if (!v)
    return 0;
  static const char *const keys[] = {"code", "message", "messageMatches", NULL};
  if (!cJSON_IsObject(v))
    return fail(p, "status: an object {\"code\": ..., \"message\": ...}");
  int rv = check_keys(p, v, "status", keys);
  if (rv < 0)
    return rv;
  const cJSON *code = cJSON_GetObjectItemCaseSensitive(v, "code");
  if (cJSON_IsString(code)) {
    if ((it->status_code = weft_status_from_name(code->valuestring)) < 0)
      return fail(p, "status.code: unknown status \"%s\"", code->valuestring);
  } else if (cJSON_IsNumber(code)) {
    if (code->valuedouble < 0 || code->valuedouble > 16 ||
        code->valuedouble != (int)code->valuedouble)
      return fail(p, "status.code: %g is not a status code", code->valuedouble);
    it->status_code = (int)code->valuedouble;
  } else if (code) {
    return fail(p, "status.code: a name (\"NOT_FOUND\") or a number");
  }
  const cJSON *msg = cJSON_GetObjectItemCaseSensitive(v, "message");
  if (msg) {
    if (!cJSON_IsString(msg))
      return fail(p, "status.message: a string");
    if (!(it->status_message = strdup(msg->valuestring)))
      return nomem(p);
  }
  const cJSON *re = cJSON_GetObjectItemCaseSensitive(v, "messageMatches");
  if (re) {
    if (!cJSON_IsString(re) ||
        regcomp(&it->status_re, re->valuestring, REG_EXTENDED | REG_NOSUB))
      return fail(p, "status.messageMatches: not a valid regular expression");
    it->has_status_re = true;
    if (!(it->status_re_text = strdup(re->valuestring)))
      return nomem(p);
  }
  return 0;
}

static int add_matcher(pctx *p, weft__ct_inter *it, const char *path,
                       const cJSON *spec, bool single, bool single_req) {
  weft__ct_matcher *ms =
      realloc(it->matchers, (it->n_matchers + 1) * sizeof *ms);
  if (!ms)
    return nomem(p);
  it->matchers = ms;
  weft__ct_matcher *m = &ms[it->n_matchers];
  memset(m, 0, sizeof *m);
  if (!(m->path = strdup(path)))
    return nomem(p);
  it->n_matchers++;
  char why[512];
  if (weft__ct_path_parse(path, it->method, single, single_req, &m->request,
                          &m->segs, &m->n_segs, why, sizeof why) < 0)
    return fail(p, "matchers: %s", why);
  if (!spec) { /* the implicit "each like" of `response` on a stream */
    m->kind = WEFT__CT_EACH_LIKE;
    m->has_min = true;
    m->min = 1;
    return 0;
  }
  static const char *const keys[] = {"match", "regex", "min", "max", NULL};
  if (!cJSON_IsObject(spec))
    return fail(p, "matchers.%s: an object {\"match\": ...}", path);
  char where[300];
  snprintf(where, sizeof where, "matchers.%s", path);
  int rv = check_keys(p, spec, where, keys);
  if (rv < 0)
    return rv;
  const cJSON *kind = cJSON_GetObjectItemCaseSensitive(spec, "match");
  static const char *const kinds[] = {"exact",    "type",    "regex",  "range",
                                      "eachLike", "present", "absent", NULL};
  size_t k = 0;
  if (!cJSON_IsString(kind))
    return fail(p,
                "%s.match: one of exact, type, regex, range, eachLike, "
                "present, absent",
                where);
  while (kinds[k] && strcmp(kinds[k], kind->valuestring))
    k++;
  if (!kinds[k])
    return fail(p, "%s.match: unknown matcher \"%s\"", where,
                kind->valuestring);
  m->kind = (weft__ct_kind)k;
  const cJSON *re = cJSON_GetObjectItemCaseSensitive(spec, "regex");
  const cJSON *mn = cJSON_GetObjectItemCaseSensitive(spec, "min");
  const cJSON *mx = cJSON_GetObjectItemCaseSensitive(spec, "max");
  if (m->kind == WEFT__CT_REGEX) {
    if (!cJSON_IsString(re) ||
        regcomp(&m->re, re->valuestring, REG_EXTENDED | REG_NOSUB))
      return fail(p, "%s.regex: missing or not a valid regular expression",
                  where);
    m->has_re = true;
    if (!(m->re_text = strdup(re->valuestring)))
      return nomem(p);
  } else if (re) {
    return fail(p, "%s.regex: only for \"match\": \"regex\"", where);
  }
  if ((mn || mx) && m->kind != WEFT__CT_RANGE && m->kind != WEFT__CT_EACH_LIKE)
    return fail(p, "%s: min/max only for range and eachLike", where);
  if (mn) {
    if (!cJSON_IsNumber(mn))
      return fail(p, "%s.min: a number", where);
    m->has_min = true;
    m->min = mn->valuedouble;
  }
  if (mx) {
    if (!cJSON_IsNumber(mx))
      return fail(p, "%s.max: a number", where);
    m->has_max = true;
    m->max = mx->valuedouble;
  }
  if (m->kind == WEFT__CT_RANGE && !mn && !mx)
    return fail(p, "%s: a range needs min or max", where);
  return 0;
}

/* `steps`: [{"send": MSG} | {"expect": MSG}, ...], a bidi exchange in
 * order. The messages are parsed as `requests` and `responses` would be;
 * the order is kept in it->steps. */
static int parse_steps(pctx *p, weft__ct_inter *it, const cJSON *steps,
                       cJSON **sends, cJSON **expects) {
  static const char *const keys[] = {"send", "expect", NULL};
  if (it->method->kind != WEFT_RPC_BIDI)
    return fail(p, "steps: only for bidi methods (%s is not)",
                it->method->path);
  if (!cJSON_IsArray(steps) || !steps->child)
    return fail(p, "steps: a non-empty list of {\"send\": ...} and "
                   "{\"expect\": ...}");
  int n = cJSON_GetArraySize(steps);
  if (!(it->steps = calloc((size_t)n + 1, 1)) ||
      !(*sends = cJSON_CreateArray()) || !(*expects = cJSON_CreateArray()))
    return nomem(p);
  size_t k = 0;
  for (const cJSON *s = steps->child; s; s = s->next, k++) {
    char where[32];
    snprintf(where, sizeof where, "steps[%zu]", k);
    if (!cJSON_IsObject(s) || !s->child || s->child->next)
      return fail(p, "%s: one of {\"send\": MSG} or {\"expect\": MSG}", where);
    int rv = check_keys(p, s, where, keys);
    if (rv < 0)
      return rv;
    bool send = !strcmp(s->child->string, "send");
    it->steps[it->n_steps++] = send ? 's' : 'e';
    if (!cJSON_AddItemReferenceToArray(send ? *sends : *expects, s->child))
      return nomem(p);
  }
  return 0;
}

static const weft_method_desc *find_method(pctx *p, const char *name) {
  const weft_method_desc *m = NULL;
  if (p->c->schema)
    m = weft_dyn_find_method(p->c->schema, name);
  if (!m && p->o->fallback)
    m = registry_method(p->o->fallback, name);
  return m;
}

static int parse_inter(pctx *p, weft__ct_inter *it, const cJSON *v) {
  static const char *const keys[] = {"name",
                                     "description",
                                     "method",
                                     "kind",
                                     "given",
                                     "metadata",
                                     "request",
                                     "requests",
                                     "response",
                                     "responses",
                                     "responseMetadata",
                                     "status",
                                     "matchers",
                                     "timeoutMs",
                                     "take",
                                     "delaysMs",
                                     "steps",
                                     "reads",
                                     NULL};
  if (!cJSON_IsObject(v))
    return fail(p, "an interaction is a JSON object");
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(v, "name");
  if (name && !cJSON_IsString(name))
    return fail(p, "name: a string");
  char fallback[32];
  snprintf(fallback, sizeof fallback, "#%zu", p->idx);
  if (!(it->name = strdup(name ? name->valuestring : fallback)))
    return nomem(p);
  p->name = it->name;
  int rv = check_keys(p, v, "", keys);
  if (rv < 0)
    return rv;
  const cJSON *method = cJSON_GetObjectItemCaseSensitive(v, "method");
  if (!cJSON_IsString(method))
    return fail(p, "method: required, \"pkg.Service/Method\"");
  if (!(it->method = find_method(p, method->valuestring)))
    return fail(p, "method: no method %s in the schema", method->valuestring);
  const weft_method_desc *m = it->method;
  const cJSON *kind = cJSON_GetObjectItemCaseSensitive(v, "kind");
  static const char *const kinds[] = {"unary", "server_stream", "client_stream",
                                      "bidi"};
  if (kind &&
      (!cJSON_IsString(kind) || strcmp(kind->valuestring, kinds[m->kind])))
    return fail(p, "kind: %s is %s", m->path, kinds[m->kind]);
  bool client_streams =
      m->kind == WEFT_RPC_CLIENT_STREAM || m->kind == WEFT_RPC_BIDI;
  bool server_streams =
      m->kind == WEFT_RPC_SERVER_STREAM || m->kind == WEFT_RPC_BIDI;

  const cJSON *given = cJSON_GetObjectItemCaseSensitive(v, "given");
  if (cJSON_IsString(given) || cJSON_IsArray(given)) {
    size_t n = cJSON_IsString(given) ? 1 : (size_t)cJSON_GetArraySize(given);
    if (!(it->states = calloc(n ? n : 1, sizeof *it->states)))
      return nomem(p);
    const cJSON *s = cJSON_IsString(given) ? given : given->child;
    for (size_t i = 0; i < n; i++, s = s->next) {
      if (!cJSON_IsString(s))
        return fail(p, "given[%zu]: a string (a provider state)", i);
      if (!(it->states[it->n_states++] = strdup(s->valuestring)))
        return nomem(p);
    }
  } else if (given) {
    return fail(p, "given: a provider state or a list of them");
  }
  if ((rv = parse_metadata(p, cJSON_GetObjectItemCaseSensitive(v, "metadata"),
                           "metadata", &it->metadata)) < 0 ||
      (rv = parse_metadata(
           p, cJSON_GetObjectItemCaseSensitive(v, "responseMetadata"),
           "responseMetadata", &it->expect_md)) < 0 ||
      (rv = parse_status(p, it,
                         cJSON_GetObjectItemCaseSensitive(v, "status"))) < 0)
    return rv;

  /* Requests: one message, or a list for client-streaming methods. */
  const cJSON *req = cJSON_GetObjectItemCaseSensitive(v, "request");
  const cJSON *reqs = cJSON_GetObjectItemCaseSensitive(v, "requests");
  const cJSON *resp = cJSON_GetObjectItemCaseSensitive(v, "response");
  const cJSON *resps = cJSON_GetObjectItemCaseSensitive(v, "responses");
  const cJSON *steps = cJSON_GetObjectItemCaseSensitive(v, "steps");
  if (steps && (req || reqs || resp || resps))
    return fail(p, "steps: instead of request(s) and response(s), not with "
                   "them");
  if (steps && (rv = parse_steps(p, it, steps, &p->sends, &p->expects)) < 0)
    return rv;
  if (steps) {
    reqs = p->sends;
    resps = p->expects;
  }
  if (req && reqs)
    return fail(p, "request and requests: give one of them");
  if (reqs && !cJSON_IsArray(reqs))
    return fail(p, "requests: a list of messages");
  if (reqs && !client_streams && cJSON_GetArraySize(reqs) != 1)
    return fail(p, "requests: %s takes one request", m->path);
  size_t nreq = reqs ? (size_t)cJSON_GetArraySize(reqs) : 1;
  if (!(it->requests = calloc(nreq ? nreq : 1, sizeof *it->requests)))
    return nomem(p);
  cJSON *rlist = cJSON_CreateArray();
  if (!rlist || !(it->req_expected = cJSON_CreateObject()) ||
      !cJSON_AddItemToObject(it->req_expected, "requests", rlist)) {
    cJSON_Delete(rlist);
    return nomem(p);
  }
  const cJSON *r = reqs ? reqs->child : req;
  for (size_t i = 0; i < nreq; i++) {
    char where[32];
    snprintf(where, sizeof where, reqs ? "requests[%zu]" : "request", i);
    if (!r) {
      /* No request given: the empty message. */
      if ((rv = weft_json_decode(m->input, "{}", 2, NULL,
                                 &it->requests[it->n_requests], p->err)) < 0)
        return rv;
    } else if ((rv = decode(p, m, m->input, r, where,
                            &it->requests[it->n_requests])) < 0) {
      return rv;
    }
    it->n_requests++;
    /* What the mock compares a received request with: the fields the
     * example names (none for an absent request: any request matches). */
    cJSON *canon = NULL;
    if (r && (rv = canonical(p, m, m->input, r, where, &canon)) < 0)
      return rv;
    if (!canon && !(canon = cJSON_CreateObject()))
      return nomem(p);
    cJSON_AddItemToArray(rlist, canon);
    if (r)
      r = r->next;
  }

  /* Responses: expected messages, kept as canonical JSON trees. */
  if (resp && resps)
    return fail(p, "response and responses: give one of them");
  if (resps && !cJSON_IsArray(resps))
    return fail(p, "responses: a list of messages");
  if (resps && !server_streams && cJSON_GetArraySize(resps) > 1)
    return fail(p, "responses: %s answers with one message", m->path);
  cJSON *list = cJSON_CreateArray();
  if (!list || !(it->expected = cJSON_CreateObject()) ||
      !cJSON_AddItemToObject(it->expected, "responses", list)) {
    cJSON_Delete(list);
    return nomem(p);
  }
  size_t i = 0;
  for (const cJSON *e = resps ? resps->child : resp; e;
       e = resps ? e->next : NULL, i++) {
    char where[32];
    snprintf(where, sizeof where, resps ? "responses[%zu]" : "response", i);
    cJSON *canon = NULL;
    if ((rv = canonical(p, m, m->output, e, where, &canon)) < 0)
      return rv;
    cJSON_AddItemToArray(list, canon);
  }
  it->check_count = resps != NULL || (resp && !server_streams);
  if (resp && server_streams &&
      (rv = add_matcher(p, it, "responses", NULL, false, false)) < 0)
    return rv;

  const cJSON *ms = cJSON_GetObjectItemCaseSensitive(v, "matchers");
  if (ms && !cJSON_IsObject(ms))
    return fail(p, "matchers: an object of \"path\": {\"match\": ...}");
  for (const cJSON *e = ms ? ms->child : NULL; e; e = e->next) {
    if ((rv = add_matcher(p, it, e->string, e, !server_streams,
                          !client_streams)) < 0)
      return rv;
    weft__ct_matcher *mt = &it->matchers[it->n_matchers - 1];
    if (mt->n_segs == 1 && !mt->request) /* on the list of responses */
      it->check_count = false;
  }
  const cJSON *to = cJSON_GetObjectItemCaseSensitive(v, "timeoutMs");
  if (to) {
    if (!cJSON_IsNumber(to) || to->valuedouble < 1 || to->valuedouble > 86400e3)
      return fail(p, "timeoutMs: milliseconds, 1 to 86400000");
    it->timeout_ms = (int64_t)to->valuedouble;
  }
  const cJSON *take = cJSON_GetObjectItemCaseSensitive(v, "take");
  if (take) {
    if (!server_streams || !cJSON_IsNumber(take) || take->valuedouble < 1 ||
        take->valuedouble > 1e6 || take->valuedouble != (int)take->valuedouble)
      return fail(p, "take: a count of responses (1 to 1000000) of a "
                     "server-streaming or bidi method");
    it->take = (size_t)take->valuedouble;
  }
  const cJSON *dl = cJSON_GetObjectItemCaseSensitive(v, "delaysMs");
  if (dl) {
    int nd = cJSON_GetArraySize(dl);
    if (!cJSON_IsArray(dl) || nd > cJSON_GetArraySize(list))
      return fail(p, "delaysMs: a list of milliseconds, at most one per "
                     "response");
    if (nd && !(it->delays_ms = calloc((size_t)nd, sizeof *it->delays_ms)))
      return nomem(p);
    for (const cJSON *d = dl->child; d; d = d->next) {
      if (!cJSON_IsNumber(d) || d->valuedouble < 0 || d->valuedouble > 3600e3)
        return fail(p, "delaysMs[%zu]: milliseconds, 0 to 3600000",
                    it->n_delays);
      it->delays_ms[it->n_delays++] = (int64_t)d->valuedouble;
    }
  }
  return 0;
}

static int load_schema(pctx *p, const cJSON *s) {
  static const char *const keys[] = {"descriptorSet", "descriptorSetFile",
                                     "proto", NULL};
  if (!cJSON_IsObject(s))
    return fail(p, "schema: an object with descriptorSet (base64), "
                   "descriptorSetFile or proto");
  int rv = check_keys(p, s, "schema", keys);
  if (rv < 0)
    return rv;
  const cJSON *b64 = cJSON_GetObjectItemCaseSensitive(s, "descriptorSet");
  if (b64) {
    if (!cJSON_IsString(b64))
      return fail(p, "schema.descriptorSet: a base64 string");
    size_t n = strlen(b64->valuestring);
    uint8_t *buf = malloc(WEFT_BASE64_DECODED_MAX(n) + 1);
    if (!buf)
      return nomem(p);
    long len = weft_base64_decode(b64->valuestring, n, buf);
    if (len < 0) {
      free(buf);
      return fail(p, "schema.descriptorSet: not valid base64");
    }
    weft_error e = {0};
    rv = weft_dyn_build(buf, (size_t)len, &p->c->own_schema, &e);
    free(buf);
    if (rv < 0)
      return fail(p, "schema.descriptorSet: %s", e.message);
    return 0;
  }
  const char *kind = "descriptorSetFile";
  const cJSON *f = cJSON_GetObjectItemCaseSensitive(s, kind);
  if (!f)
    f = cJSON_GetObjectItemCaseSensitive(s, kind = "proto");
  if (!f)
    return 0;
  if (!cJSON_IsString(f) || !*f->valuestring)
    return fail(p, "schema.%s: a file name", kind);
  if (!p->o->schema_fn)
    return fail(p, "schema.%s: schema files cannot be read here", kind);
  const char *base = p->o->base_dir ? p->o->base_dir : "";
  char *path = NULL;
  if (asprintf(&path, "%s%s%s", f->valuestring[0] == '/' ? "" : base,
               f->valuestring[0] != '/' && *base ? "/" : "",
               f->valuestring) < 0)
    return nomem(p);
  weft_error e = {0};
  rv = p->o->schema_fn(p->o->schema_ud, kind, path, &p->c->own_schema, &e);
  if (rv < 0)
    rv = fail(p, "schema.%s: %s: %s", kind, path, e.message);
  free(path);
  return rv;
}

int weft_contract_parse(weft_contract **out, const char *json, size_t len,
                        const weft_contract_opts *opts, weft_error *err) {
  static const weft_contract_opts none = {0};
  static const char *const keys[] = {"consumer",     "provider", "schema",
                                     "interactions", "$comment", NULL};
  *out = NULL;
  pctx p = {0};
  p.o = opts ? opts : &none;
  p.err = err;
  p.idx = (size_t)-1;
  /* Numbers keep their text (json_exact.h): an example's 0.1 + 0.2 or an
   * int64 past 2^53 is compared as written, not as cJSON reprints it. */
  cJSON *root = NULL;
  weft_error pe = {0};
  if (weft__jx_parse(&root, json, len, "contract", &pe) < 0)
    return weft_error_set(
        err, pe.code == WEFT_ERR_NOMEM ? WEFT_ERR_NOMEM : WEFT_ERR_MALFORMED,
        "not valid JSON (%s)", pe.message);
  int rv;
  if (!(p.c = calloc(1, sizeof *p.c))) {
    rv = nomem(&p);
    goto out;
  }
  if (!cJSON_IsObject(root)) {
    rv = fail(&p, "a contract is a JSON object");
    goto out;
  }
  if ((rv = check_keys(&p, root, "", keys)) < 0)
    goto out;
  const char *who[2] = {"consumer", "provider"};
  char **dst[2] = {&p.c->consumer, &p.c->provider};
  for (int i = 0; i < 2; i++) {
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(root, who[i]);
    if (s && !cJSON_IsString(s)) {
      rv = fail(&p, "%s: a string", who[i]);
      goto out;
    }
    if (!(*dst[i] = strdup(s ? s->valuestring : ""))) {
      rv = nomem(&p);
      goto out;
    }
  }
  const cJSON *schema = cJSON_GetObjectItemCaseSensitive(root, "schema");
  if (p.o->schema) {
    p.c->schema = p.o->schema;
  } else if (schema) {
    if ((rv = load_schema(&p, schema)) < 0)
      goto out;
    p.c->schema = p.c->own_schema;
  }
  const cJSON *inters = cJSON_GetObjectItemCaseSensitive(root, "interactions");
  if (!cJSON_IsArray(inters) || !inters->child) {
    rv = fail(&p, "interactions: required, a non-empty list");
    goto out;
  }
  size_t n = (size_t)cJSON_GetArraySize(inters);
  if (!(p.c->inters = calloc(n, sizeof *p.c->inters))) {
    rv = nomem(&p);
    goto out;
  }
  p.idx = 0;
  for (const cJSON *it = inters->child; it; it = it->next, p.idx++) {
    p.name = NULL;
    p.c->n_inters++;
    rv = parse_inter(&p, &p.c->inters[p.idx], it);
    cJSON_Delete(p.sends);
    cJSON_Delete(p.expects);
    p.sends = p.expects = NULL;
    if (rv < 0)
      goto out;
  }
  *out = p.c;
  p.c = NULL;
  rv = 0;
out:
  cJSON_Delete(root);
  weft_contract_free(p.c);
  return rv;
}

const char *weft_contract_consumer(const weft_contract *c) {
  return c->consumer;
}
const char *weft_contract_provider(const weft_contract *c) {
  return c->provider;
}
const weft_dyn_set *weft_contract_schema(const weft_contract *c) {
  return c->own_schema;
}
size_t weft_contract_n_interactions(const weft_contract *c) {
  return c->n_inters;
}
const char *weft_contract_interaction_name(const weft_contract *c, size_t i) {
  return i < c->n_inters ? c->inters[i].name : NULL;
}
const weft_method_desc *weft_contract_interaction_method(const weft_contract *c,
                                                         size_t i) {
  return i < c->n_inters ? c->inters[i].method : NULL;
}
const char *const *weft_contract_interaction_states(const weft_contract *c,
                                                    size_t i, size_t *n) {
  *n = i < c->n_inters ? c->inters[i].n_states : 0;
  return *n ? (const char *const *)c->inters[i].states : NULL;
}
