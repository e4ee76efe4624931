/* The REST router: every google.api.http rule of the services added,
 * compiled, and matched against request paths (weft/rest.h). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rest_resolve.h"
#include "weft/rest.h"
#include "weft/server.h"

typedef struct route {
  const weft_method_desc *m;
  const weft_http_rule *rule;
  weft__tmpl t;
} route;

struct weft_rest_router {
  route *routes;
  size_t n, cap;
};

int weft_rest_router_new(weft_rest_router **out, weft_error *err) {
  weft_rest_router *r = calloc(1, sizeof *r);
  if (!r)
    return weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
  *out = r;
  return 0;
}

void weft_rest_router_free(weft_rest_router *r) {
  if (!r)
    return;
  for (size_t i = 0; i < r->n; i++)
    weft__tmpl_free(&r->routes[i].t);
  free(r->routes);
  free(r);
}

size_t weft_rest_router_size(const weft_rest_router *r) {
  return r ? r->n : 0;
}

static int is_wkt_string_form(const weft_msg_desc *d) {
  switch (d->wkt) {
  case WEFT_WKT_TIMESTAMP:
  case WEFT_WKT_DURATION:
  case WEFT_WKT_FIELD_MASK:
  case WEFT_WKT_DOUBLE_VALUE:
  case WEFT_WKT_FLOAT_VALUE:
  case WEFT_WKT_INT64_VALUE:
  case WEFT_WKT_UINT64_VALUE:
  case WEFT_WKT_INT32_VALUE:
  case WEFT_WKT_UINT32_VALUE:
  case WEFT_WKT_BOOL_VALUE:
  case WEFT_WKT_STRING_VALUE:
  case WEFT_WKT_BYTES_VALUE:
    return 1;
  default:
    return 0;
  }
}

int weft__rest_leaf_ok(const ProtobufCFieldDescriptor *f,
                       const weft_msg_desc *owner) {
  int idx = (int)(f - owner->base.fields);
  if (owner->field_info && (owner->field_info[idx].flags & WEFT_FIELD_MAP))
    return 0;
  if (f->type != PROTOBUF_C_TYPE_MESSAGE)
    return 1;
  return is_wkt_string_form(weft_msg_desc_of(f->descriptor));
}

int weft__rest_resolve(const weft_msg_desc *d, const char *path, size_t len,
                       const char *what, weft__rest_fpath *out,
                       weft_error *err) {
  out->n = 0;
  size_t i = 0;
  while (i <= len) {
    size_t st = i;
    while (i < len && path[i] != '.')
      i++;
    if (out->n == WEFT__REST_MAX_DEPTH)
      return weft_error_set(err, WEFT_ERR_INVAL, "%s %.*s: nested too deep",
                            what, (int)len, path);
    if (out->n > 0) {
      const ProtobufCFieldDescriptor *pf = out->f[out->n - 1];
      const weft_msg_desc *pm = out->msg[out->n - 1];
      int pidx = (int)(pf - pm->base.fields);
      if (pf->type != PROTOBUF_C_TYPE_MESSAGE ||
          pf->label == PROTOBUF_C_LABEL_REPEATED ||
          (pm->field_info && (pm->field_info[pidx].flags & WEFT_FIELD_MAP)) ||
          weft_msg_desc_of(pf->descriptor)->wkt != WEFT_WKT_NONE)
        return weft_error_set(err, WEFT_ERR_INVAL,
                              "%s %.*s: %.*s is not a singular message field",
                              what, (int)len, path, (int)(st - 1), path);
      d = weft_msg_desc_of(pf->descriptor);
    }
    int idx = st < i ? weft_field_index_by_name(d, path + st, i - st) : -1;
    if (idx < 0)
      return weft_error_set(err, WEFT_ERR_INVAL,
                            "%s %.*s: %s has no field %.*s", what, (int)len,
                            path, d->base.name, (int)(i - st), path + st);
    out->msg[out->n] = d;
    out->f[out->n] = &d->base.fields[idx];
    out->n++;
    i++;
  }
  return 0;
}

static int check_rule(const weft_method_desc *m, unsigned k,
                      const weft_http_rule *hr, weft__tmpl *t,
                      weft_error *err) {
  weft_error e = {0};
  const char *mname = m->path ? m->path + 1 : m->name;
  if (!hr->verb || !*hr->verb || !hr->path)
    return weft_error_set(err, WEFT_ERR_INVAL,
                          "%s: http rule %u has no verb or path", mname, k);
  int rv = weft__tmpl_parse(hr->path, t, &e);
  if (rv < 0)
    return weft_error_set(err, rv, "%s: http rule %u \"%s\": %s", mname, k,
                          hr->path, e.message);
  if (t->n_vars > WEFT_REST_MAX_VARS)
    return weft_error_set(err, WEFT_ERR_INVAL,
                          "%s: http rule %u \"%s\": more than %d variables",
                          mname, k, hr->path, WEFT_REST_MAX_VARS);
  weft__rest_fpath fp;
  for (unsigned v = 0; v < t->n_vars; v++) {
    const char *f = t->vars[v].field;
    if (weft__rest_resolve(m->input, f, strlen(f), "variable", &fp, &e) < 0)
      return weft_error_set(err, WEFT_ERR_INVAL, "%s: http rule %u \"%s\": %s",
                            mname, k, hr->path, e.message);
    const ProtobufCFieldDescriptor *leaf = fp.f[fp.n - 1];
    if (leaf->label == PROTOBUF_C_LABEL_REPEATED ||
        !weft__rest_leaf_ok(leaf, fp.msg[fp.n - 1]))
      return weft_error_set(
          err, WEFT_ERR_INVAL,
          "%s: http rule %u \"%s\": variable %s must be a singular scalar, "
          "enum or well-known scalar field",
          mname, k, hr->path, f);
  }
  if (hr->body && *hr->body && strcmp(hr->body, "*") != 0) {
    int idx = weft_field_index_by_name(m->input, hr->body, strlen(hr->body));
    if (idx < 0)
      return weft_error_set(err, WEFT_ERR_INVAL,
                            "%s: http rule %u: body \"%s\" is not a field of "
                            "%s",
                            mname, k, hr->body, m->input->base.name);
  }
  if (hr->response_body && *hr->response_body &&
      weft_field_index_by_name(m->output, hr->response_body,
                               strlen(hr->response_body)) < 0)
    return weft_error_set(err, WEFT_ERR_INVAL,
                          "%s: http rule %u: response_body \"%s\" is not a "
                          "field of %s",
                          mname, k, hr->response_body, m->output->base.name);
  return 0;
}

int weft_rest_router_add_service(weft_rest_router *r,
                                 const weft_service_desc *svc,
                                 weft_error *err) {
  size_t start = r->n;
  int rv = 0;
  for (unsigned i = 0; i < svc->n_methods; i++) {
    const weft_method_desc *m = &svc->methods[i];
    for (unsigned k = 0; k < m->n_http_rules; k++) {
      if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 32;
        route *nr = realloc(r->routes, cap * sizeof *nr);
        if (!nr) {
          rv = weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
          goto fail;
        }
        r->routes = nr;
        r->cap = cap;
      }
      route *rt = &r->routes[r->n];
      rt->m = m;
      rt->rule = &m->http_rules[k];
      memset(&rt->t, 0, sizeof rt->t);
      rv = check_rule(m, k, rt->rule, &rt->t, err);
      if (rv < 0) {
        weft__tmpl_free(&rt->t);
        goto fail;
      }
      r->n++;
    }
  }
  return 0;
fail:
  while (r->n > start)
    weft__tmpl_free(&r->routes[--r->n].t);
  return rv;
}

typedef struct add_ctx {
  weft_rest_router *r;
  weft_error *err;
  int rv;
} add_ctx;

static void add_one(const weft_service_desc *svc, void *ud) {
  add_ctx *c = ud;
  if (c->rv == 0)
    c->rv = weft_rest_router_add_service(c->r, svc, c->err);
}

int weft_rest_router_add_server(weft_rest_router *r, const weft_server *s,
                                weft_error *err) {
  add_ctx c = {r, err, 0};
  weft_server_each_service(s, add_one, &c);
  return c.rv;
}

void weft_rest_match_clear(weft_rest_match *m) {
  if (!m)
    return;
  for (unsigned i = 0; i < m->n_vars; i++)
    free(m->vars[i].value);
  memset(m, 0, sizeof *m);
}

int weft_rest_route(const weft_rest_router *r, const char *verb,
                    const char *path, weft_rest_match *m, weft_error *err) {
  memset(m, 0, sizeof *m);
  weft__rpath rp;
  int rv = weft__rpath_split(path, strlen(path), &rp, err);
  if (rv < 0)
    return rv;
  const route *best = NULL;
  weft__tcap caps[WEFT_REST_MAX_VARS], best_caps[WEFT_REST_MAX_VARS];
  int path_seen = 0;
  for (size_t i = 0; i < r->n; i++) {
    const route *rt = &r->routes[i];
    if (!weft__tmpl_match(&rt->t, &rp, caps))
      continue;
    path_seen = 1;
    if (strcasecmp(rt->rule->verb, verb) != 0)
      continue;
    if (best && weft__tmpl_cmp(&rt->t, &best->t) <= 0)
      continue;
    best = rt;
    memcpy(best_caps, caps, rt->t.n_vars * sizeof caps[0]);
  }
  if (!best) {
    if (path_seen)
      return weft_error_set(err, WEFT_ERR_STATE, "%s %s: method not allowed",
                            verb, path);
    return weft_error_set(err, WEFT_ERR_UNSUPPORTED, "%s %s: no such route",
                          verb, path);
  }
  m->method = best->m;
  m->rule = best->rule;
  for (unsigned v = 0; v < best->t.n_vars; v++) {
    const weft__tvar *tv = &best->t.vars[v];
    m->vars[v].field = tv->field;
    rv = weft__pct_decode(best_caps[v].p, best_caps[v].len, tv->multi, false,
                          &m->vars[v].value, NULL);
    if (rv < 0) {
      weft_rest_match_clear(m);
      if (rv == WEFT_ERR_NOMEM)
        return weft_error_set(err, rv, "out of memory");
      return weft_error_set(err, rv, "%s: path variable %s: bad percent-escape",
                            path, tv->field);
    }
    m->n_vars = v + 1;
  }
  return 0;
}
