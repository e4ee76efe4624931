/* Building a set: files and their dependencies, type names (pass 1, like
 * gen/src/model.c), then the tables of every enum and message
 * (dyn_message.c), services, file descriptors and a registry. Errors stop
 * the build, name the file and the element, and free everything. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "google/api/http.pb-c.h"
#include "dyn_internal.h"

/* ---- string table ---- */

static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

void *weft__dyn_get(const dyn_table *t, const char *key) {
  if (t->cap == 0)
    return NULL;
  for (size_t i = hash_str(key) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
    if (!t->keys[i])
      return NULL;
    if (strcmp(t->keys[i], key) == 0)
      return t->vals[i];
  }
}

void *weft__dyn_put(dyn_table *t, const char *key, void *val, int *nomem) {
  if ((t->n + 1) * 2 > t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 64;
    const char **keys = calloc(cap, sizeof *keys);
    void **vals = calloc(cap, sizeof *vals);
    if (!keys || !vals) {
      free(keys);
      free(vals);
      *nomem = 1;
      return NULL;
    }
    for (size_t i = 0; i < t->cap; i++) {
      if (!t->keys[i])
        continue;
      size_t j = hash_str(t->keys[i]) & (cap - 1);
      while (keys[j])
        j = (j + 1) & (cap - 1);
      keys[j] = t->keys[i];
      vals[j] = t->vals[i];
    }
    free(t->keys);
    free(t->vals);
    t->keys = keys;
    t->vals = vals;
    t->cap = cap;
  }
  size_t i = hash_str(key) & (t->cap - 1);
  for (; t->keys[i]; i = (i + 1) & (t->cap - 1))
    if (strcmp(t->keys[i], key) == 0)
      return t->vals[i];
  t->keys[i] = key;
  t->vals[i] = val;
  t->n++;
  return NULL;
}

void weft__dyn_table_free(dyn_table *t) {
  free(t->keys);
  free(t->vals);
  memset(t, 0, sizeof *t);
}

int weft__dyn_ident(const char *s, int dotted) {
  if (!s || !*s)
    return 0;
  int start = 1;
  for (; *s; s++) {
    char c = *s;
    if (dotted && c == '.' && !start && s[1]) {
      start = 1;
      continue;
    }
    int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!alpha && (start || c < '0' || c > '9'))
      return 0;
    start = 0;
  }
  return 1;
}

/* ---- arena helpers ---- */

void *weft__dyn_alloc(weft_dyn_set *s, size_t n) {
  return weft_arena_calloc(s->a, n ? n : 1);
}

char *weft__dyn_strdup(weft_dyn_set *s, const char *str) {
  if (!str)
    return NULL;
  size_t n = strlen(str);
  char *p = weft_arena_alloc(s->a, n + 1);
  if (p)
    memcpy(p, str, n + 1);
  return p;
}

char *weft__dyn_fmt(weft_dyn_set *s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0)
    return NULL;
  char *p = weft_arena_alloc(s->a, (size_t)n + 1);
  if (!p)
    return NULL;
  va_start(ap, fmt);
  vsnprintf(p, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return p;
}

char *weft__dyn_cname(weft_dyn_set *s, const char *full) {
  size_t n = 0;
  for (const char *p = full; *p; p++)
    n += *p == '.' || *p == '_' ? 2 : 1;
  char *out = weft_arena_alloc(s->a, n + 1), *o = out;
  if (!out)
    return NULL;
  for (const char *p = full; *p; p++) {
    if (*p == '.') {
      *o++ = '_';
      *o++ = '_';
    } else if (*p == '_') {
      *o++ = '_';
      *o++ = '1';
    } else {
      *o++ = *p;
    }
  }
  *o = '\0';
  return out;
}

/* ---- compiled-in well-known types ---- */

static const char *const wkt_files[][2] = {
    {"google/protobuf/any.proto", "google.protobuf.Any"},
    {"google/protobuf/duration.proto", "google.protobuf.Duration"},
    {"google/protobuf/empty.proto", "google.protobuf.Empty"},
    {"google/protobuf/field_mask.proto", "google.protobuf.FieldMask"},
    {"google/protobuf/struct.proto", "google.protobuf.Struct"},
    {"google/protobuf/timestamp.proto", "google.protobuf.Timestamp"},
    {"google/protobuf/wrappers.proto", "google.protobuf.DoubleValue"},
};

static const weft_file_desc *compiled_wkt_file(const char *name) {
  for (size_t i = 0; i < sizeof wkt_files / sizeof wkt_files[0]; i++)
    if (strcmp(name, wkt_files[i][0]) == 0) {
      const weft_msg_desc *m =
          weft_registry_find_message(weft_registry_global(), wkt_files[i][1]);
      if (m && m->file && strcmp(m->file->name, name) == 0)
        return m->file;
    }
  return NULL;
}

static int compiled_has_msg(const weft_file_desc *f, const char *full) {
  for (unsigned i = 0; i < f->n_messages; i++)
    if (strcmp(f->messages[i]->base.name, full) == 0)
      return 1;
  return 0;
}
static int compiled_has_enum(const weft_file_desc *f, const char *full) {
  for (unsigned i = 0; i < f->n_enums; i++)
    if (strcmp(f->enums[i]->base.name, full) == 0)
      return 1;
  return 0;
}

/* Every type of the set's copy of a file exists in the compiled-in one, so
 * the compiled-in file can stand in for it. */
static int subset_msg(weft_dyn_set *s, const weft_file_desc *c,
                      const dyn_msg_proto *m, const char *scope, int depth) {
  if (!m->name || depth > 100)
    return 0;
  char *full = weft__dyn_fmt(s, "%s%s%s", scope, *scope ? "." : "", m->name);
  if (!full || !compiled_has_msg(c, full))
    return 0;
  for (size_t i = 0; i < m->n_enum_type; i++) {
    char *e = m->enum_type[i]->name
                  ? weft__dyn_fmt(s, "%s.%s", full, m->enum_type[i]->name)
                  : NULL;
    if (!e || !compiled_has_enum(c, e))
      return 0;
  }
  for (size_t i = 0; i < m->n_nested_type; i++)
    if (!subset_msg(s, c, m->nested_type[i], full, depth + 1))
      return 0;
  return 1;
}

static int subset_file(weft_dyn_set *s, const weft_file_desc *c,
                       const dyn_file_proto *p) {
  const char *pkg = p->package ? p->package : "";
  if (strcmp(pkg, c->package) != 0 || p->n_service)
    return 0;
  for (size_t i = 0; i < p->n_enum_type; i++) {
    char *e = p->enum_type[i]->name
                  ? weft__dyn_fmt(s, "%s%s%s", pkg, *pkg ? "." : "",
                                  p->enum_type[i]->name)
                  : NULL;
    if (!e || !compiled_has_enum(c, e))
      return 0;
  }
  for (size_t i = 0; i < p->n_message_type; i++)
    if (!subset_msg(s, c, p->message_type[i], pkg, 0))
      return 0;
  return 1;
}

/* ---- pass 1: files and type names ---- */

static int push(void ***arr, size_t *n, size_t *cap, void *v) {
  if (*n == *cap) {
    size_t c = *cap ? *cap * 2 : 16;
    void **p = realloc(*arr, c * sizeof *p);
    if (!p)
      return WEFT_ERR_NOMEM;
    *arr = p;
    *cap = c;
  }
  (*arr)[(*n)++] = v;
  return 0;
}

static int nomem(weft_error *err) {
  return weft_error_set(err, WEFT_ERR_NOMEM,
                        "out of memory building "
                        "descriptors");
}

static int register_type(weft_dyn_set *s, dyn_file *f, const char *full,
                         dyn_msg *m, dyn_enum *e, weft_error *err) {
  dyn_type *t = weft__dyn_alloc(s, sizeof *t);
  if (!t)
    return nomem(err);
  t->m = m;
  t->e = e;
  int oom = 0;
  dyn_type *prev = weft__dyn_put(&s->types, full, t, &oom);
  if (oom)
    return nomem(err);
  if (prev)
    return weft_error_set(err, WEFT_ERR_MALFORMED,
                          "%s: %s %s is defined twice (again in %s)", f->name,
                          e ? "enum" : "message", full,
                          prev->m ? prev->m->file->name : prev->e->file->name);
  return 0;
}

static int add_enum(weft_dyn_set *s, dyn_file *f, const dyn_enum_proto *p,
                    const char *scope, weft_error *err) {
  if (!weft__dyn_ident(p->name, 0))
    return weft_error_set(
        err, WEFT_ERR_MALFORMED, "%s: an enum in %s has no valid name (\"%s\")",
        f->name, *scope ? scope : "the file scope", p->name ? p->name : "");
  dyn_enum *e = weft__dyn_alloc(s, sizeof *e);
  if (!e)
    return nomem(err);
  e->p = p;
  e->file = f;
  e->full = *scope ? weft__dyn_fmt(s, "%s.%s", scope, p->name)
                   : weft__dyn_strdup(s, p->name);
  e->d = weft__dyn_alloc(s, sizeof *e->d);
  if (!e->full || !e->d || !(e->cname = weft__dyn_cname(s, e->full)))
    return nomem(err);
  if (push((void ***)&f->enums, &f->n_enums, &f->cap_enums, e) < 0)
    return nomem(err);
  return register_type(s, f, e->full, NULL, e, err);
}

static int add_msg(weft_dyn_set *s, dyn_file *f, const dyn_msg_proto *p,
                   const char *scope, int depth, weft_error *err) {
  if (!weft__dyn_ident(p->name, 0))
    return weft_error_set(err, WEFT_ERR_MALFORMED,
                          "%s: a message in %s has no valid name (\"%s\")",
                          f->name, *scope ? scope : "the file scope",
                          p->name ? p->name : "");
  if (depth > 100)
    return weft_error_set(err, WEFT_ERR_DEPTH,
                          "%s: messages nested more than 100 deep in %s",
                          f->name, scope);
  dyn_msg *m = weft__dyn_alloc(s, sizeof *m);
  if (!m)
    return nomem(err);
  m->p = p;
  m->file = f;
  m->full = *scope ? weft__dyn_fmt(s, "%s.%s", scope, p->name)
                   : weft__dyn_strdup(s, p->name);
  m->d = weft__dyn_alloc(s, sizeof *m->d);
  if (!m->full || !m->d || !(m->cname = weft__dyn_cname(s, m->full)))
    return nomem(err);
  m->map_entry =
      p->options && p->options->has_map_entry && p->options->map_entry;
  if (push((void ***)&f->msgs, &f->n_msgs, &f->cap_msgs, m) < 0)
    return nomem(err);
  int rv = register_type(s, f, m->full, m, NULL, err);
  for (size_t i = 0; rv == 0 && i < p->n_enum_type; i++)
    rv = add_enum(s, f, p->enum_type[i], m->full, err);
  for (size_t i = 0; rv == 0 && i < p->n_nested_type; i++)
    rv = add_msg(s, f, p->nested_type[i], m->full, depth + 1, err);
  return rv;
}

/* A compiled-in file: its types resolve to the compiled-in descriptors. */
static int add_compiled_types(weft_dyn_set *s, dyn_file *f, weft_error *err) {
  const weft_file_desc *c = f->compiled;
  for (unsigned i = 0; i < c->n_messages; i++) {
    dyn_msg *m = weft__dyn_alloc(s, sizeof *m);
    if (!m)
      return nomem(err);
    m->cd = c->messages[i];
    m->full = m->cd->base.name;
    m->file = f;
    int rv = register_type(s, f, m->full, m, NULL, err);
    if (rv < 0)
      return rv;
  }
  for (unsigned i = 0; i < c->n_enums; i++) {
    dyn_enum *e = weft__dyn_alloc(s, sizeof *e);
    if (!e)
      return nomem(err);
    e->cd = c->enums[i];
    e->full = e->cd->base.name;
    e->file = f;
    int rv = register_type(s, f, e->full, NULL, e, err);
    if (rv < 0)
      return rv;
  }
  return 0;
}

static int add_file_entry(weft_dyn_set *s, dyn_file *f, weft_error *err) {
  if (push((void ***)&s->files, &s->n_files, &s->cap_files, f) < 0)
    return nomem(err);
  int oom = 0;
  if (weft__dyn_put(&s->by_file, f->name, f, &oom))
    return weft_error_set(err, WEFT_ERR_MALFORMED,
                          "%s: the file appears twice in the set", f->name);
  return oom ? nomem(err) : 0;
}

/* A compiled-in WKT file the set needs but does not carry. */
static dyn_file *add_compiled_dep(weft_dyn_set *s, const weft_file_desc *c,
                                  weft_error *err) {
  dyn_file *f = weft__dyn_alloc(s, sizeof *f);
  if (!f) {
    nomem(err);
    return NULL;
  }
  f->compiled = c;
  f->name = c->name;
  if (add_file_entry(s, f, err) < 0 || add_compiled_types(s, f, err) < 0)
    return NULL;
  return f;
}

dyn_type *weft__dyn_resolve(weft_dyn_set *s, const char *scope,
                            const char *name) {
  if (!name || !*name)
    return NULL;
  if (name[0] == '.') {
    dyn_type *t = weft__dyn_get(&s->types, name + 1);
    if (t || strncmp(name + 1, "google.protobuf.", 16) != 0)
      return t;
    /* A well-known type whose file the set forgot: weft has it. */
    const weft_msg_desc *m =
        weft_registry_find_message(weft_registry_global(), name + 1);
    const weft_enum_desc *e =
        m ? NULL : weft_registry_find_enum(weft_registry_global(), name + 1);
    const weft_file_desc *file = m ? m->file : e ? e->file : NULL;
    weft_error ignored;
    if (!file || !compiled_wkt_file(file->name) ||
        weft__dyn_get(&s->by_file, file->name) ||
        !add_compiled_dep(s, compiled_wkt_file(file->name), &ignored))
      return NULL;
    return weft__dyn_get(&s->types, name + 1);
  }
  /* Relative name: innermost scope first, as protoc resolves. */
  size_t sl = strlen(scope), nl = strlen(name);
  char *buf = malloc(sl + nl + 3);
  if (!buf)
    return NULL;
  dyn_type *t = NULL;
  for (;;) {
    int len = snprintf(buf, sl + nl + 3, ".%.*s%s%s", (int)sl, scope,
                       sl ? "." : "", name);
    (void)len;
    if ((t = weft__dyn_resolve(s, "", buf)) != NULL || sl == 0)
      break;
    while (sl > 0 && scope[sl - 1] != '.')
      sl--;
    if (sl > 0)
      sl--;
  }
  free(buf);
  return t;
}

/* ---- services and files ---- */

/* google.api.http, as protoc-gen-weft reads it (gen/src/http.c): the
 * extension 72295728 of MethodOptions stays an unknown field in
 * libprotobuf-c (kept with its length prefix); the rule and its
 * additional_bindings become one flat list. Templates are not checked
 * here: weft_rest_router_add_service() does when a router takes them. */
static const char *http_verb(const Google__Api__HttpRule *r,
                             const char **path) {
  switch (r->pattern_case) {
  case GOOGLE__API__HTTP_RULE__PATTERN_GET:
    *path = r->get;
    return "GET";
  case GOOGLE__API__HTTP_RULE__PATTERN_PUT:
    *path = r->put;
    return "PUT";
  case GOOGLE__API__HTTP_RULE__PATTERN_POST:
    *path = r->post;
    return "POST";
  case GOOGLE__API__HTTP_RULE__PATTERN_DELETE:
    *path = r->delete_;
    return "DELETE";
  case GOOGLE__API__HTTP_RULE__PATTERN_PATCH:
    *path = r->patch;
    return "PATCH";
  case GOOGLE__API__HTTP_RULE__PATTERN_CUSTOM:
    *path = r->custom ? r->custom->path : NULL;
    return r->custom ? r->custom->kind : NULL;
  default:
    return NULL;
  }
}

static int read_http_rules(weft_dyn_set *s,
                           const Google__Protobuf__MethodDescriptorProto *mp,
                           weft_method_desc *me, weft_error *err) {
  me->n_http_rules = 0;
  me->http_rules = NULL;
  const Google__Protobuf__MethodOptions *o = mp->options;
  const ProtobufCMessageUnknownField *uf = NULL;
  for (size_t i = 0; o && i < o->base.n_unknown_fields; i++)
    if (o->base.unknown_fields[i].tag == 72295728u &&
        o->base.unknown_fields[i].wire_type ==
            PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED)
      uf = &o->base.unknown_fields[i];
  if (!uf)
    return 0;
  size_t pre = 0;
  while (pre < uf->len && (uf->data[pre] & 0x80))
    pre++;
  pre++;
  Google__Api__HttpRule *r =
      pre <= uf->len
          ? google__api__http_rule__unpack(NULL, uf->len - pre, uf->data + pre)
          : NULL;
  if (!r)
    return weft_error_set(err, WEFT_ERR_MALFORMED,
                          "%s: option (google.api.http) does not decode as "
                          "an HttpRule",
                          me->path);
  size_t n = 1 + r->n_additional_bindings;
  weft_http_rule *hr = weft__dyn_alloc(s, n * sizeof *hr);
  int rv = hr ? 0 : nomem(err);
  for (size_t k = 0; k < n && rv == 0; k++) {
    const Google__Api__HttpRule *x = k ? r->additional_bindings[k - 1] : r;
    const char *path = NULL;
    const char *verb = http_verb(x, &path);
    if (!verb || !path) {
      rv = weft_error_set(err, WEFT_ERR_MALFORMED,
                          "%s: http rule %zu has no pattern", me->path, k);
      break;
    }
    hr[k].verb = weft__dyn_strdup(s, verb);
    hr[k].path = weft__dyn_strdup(s, path);
    hr[k].body = x->body && *x->body ? weft__dyn_strdup(s, x->body) : NULL;
    hr[k].response_body = x->response_body && *x->response_body
                              ? weft__dyn_strdup(s, x->response_body)
                              : NULL;
    if (!hr[k].verb || !hr[k].path || (x->body && *x->body && !hr[k].body) ||
        (x->response_body && *x->response_body && !hr[k].response_body))
      rv = nomem(err);
  }
  google__api__http_rule__free_unpacked(r, NULL);
  if (rv < 0)
    return rv;
  me->n_http_rules = (unsigned)n;
  me->http_rules = hr;
  return 0;
}

static int build_service(weft_dyn_set *s, dyn_file *f,
                         const Google__Protobuf__ServiceDescriptorProto *p,
                         weft_service_desc *sd, weft_error *err) {
  const char *pkg = f->p->package ? f->p->package : "";
  if (!p->name || !*p->name)
    return weft_error_set(err, WEFT_ERR_MALFORMED, "%s: a service has no name",
                          f->name);
  sd->name = *pkg ? weft__dyn_fmt(s, "%s.%s", pkg, p->name)
                  : weft__dyn_strdup(s, p->name);
  sd->short_name = weft__dyn_strdup(s, p->name);
  sd->n_methods = (unsigned)p->n_method;
  weft_method_desc *ms =
      weft__dyn_alloc(s, (p->n_method + 1) * sizeof(weft_method_desc));
  if (!sd->name || !sd->short_name || !ms)
    return nomem(err);
  sd->methods = p->n_method ? ms : NULL;
  sd->file = f->d;
  int oom = 0;
  if (weft__dyn_put(&s->services, sd->name, sd, &oom))
    return weft_error_set(err, WEFT_ERR_MALFORMED,
                          "%s: service %s is defined twice", f->name, sd->name);
  if (oom)
    return nomem(err);
  for (size_t i = 0; i < p->n_method; i++) {
    const Google__Protobuf__MethodDescriptorProto *mp = p->method[i];
    weft_method_desc *me = &ms[i];
    if (!weft__dyn_ident(mp->name, 0))
      return weft_error_set(err, WEFT_ERR_MALFORMED,
                            "%s: service %s: method %zu has no valid name "
                            "(\"%s\")",
                            f->name, sd->name, i, mp->name ? mp->name : "");
    for (size_t j = 0; j < i; j++)
      if (strcmp(ms[j].name, mp->name) == 0)
        return weft_error_set(err, WEFT_ERR_MALFORMED,
                              "%s: service %s: method %s is defined twice",
                              f->name, sd->name, mp->name);
    const char *types[2] = {mp->input_type, mp->output_type};
    const weft_msg_desc *io[2];
    for (int k = 0; k < 2; k++) {
      dyn_type *t = weft__dyn_resolve(s, sd->name, types[k]);
      if (!t || !t->m)
        return weft_error_set(
            err, WEFT_ERR_MALFORMED, "%s: method %s.%s: %s type %s is %s",
            f->name, sd->name, mp->name, k ? "output" : "input",
            types[k] ? types[k] : "(none)", t ? "not a message" : "unknown");
      io[k] = t->m->cd ? t->m->cd : t->m->d;
    }
    me->name = weft__dyn_strdup(s, mp->name);
    me->path = weft__dyn_fmt(s, "/%s/%s", sd->name, mp->name);
    if (!me->name || !me->path)
      return nomem(err);
    me->input = io[0];
    me->output = io[1];
    me->kind = (uint8_t)((mp->has_client_streaming && mp->client_streaming
                              ? WEFT_RPC_CLIENT_STREAM
                              : 0) |
                         (mp->has_server_streaming && mp->server_streaming
                              ? WEFT_RPC_SERVER_STREAM
                              : 0));
    me->idempotent = mp->options != NULL &&
                             mp->options->has_idempotency_level &&
                             (int)mp->options->idempotency_level >= 0 &&
                             (int)mp->options->idempotency_level <= 2
                         ? (uint8_t)mp->options->idempotency_level
                         : 0;
    me->index = (unsigned)i;
    me->service = sd;
    me->invoke = NULL;
    int rv = read_http_rules(s, mp, me, err);
    if (rv < 0)
      return rv;
  }
  return 0;
}

static int finish_file(weft_dyn_set *s, dyn_file *f, weft_error *err) {
  const dyn_file_proto *p = f->p;
  weft_file_desc *d = f->d;
  d->name = f->name;
  d->package = weft__dyn_strdup(s, p->package ? p->package : "");
  /* The descriptor without source info, as the generator embeds it. */
  Google__Protobuf__FileDescriptorProto copy = *p;
  copy.source_code_info = NULL;
  size_t len = protobuf_c_message_get_packed_size(&copy.base);
  uint8_t *bytes = weft__dyn_alloc(s, len);
  if (!d->package || !bytes)
    return nomem(err);
  protobuf_c_message_pack(&copy.base, bytes);
  d->serialized = bytes;
  d->serialized_len = len;

  const weft_file_desc **deps =
      weft__dyn_alloc(s, (p->n_dependency + 1) * sizeof *deps);
  const weft_msg_desc **msgs =
      weft__dyn_alloc(s, (f->n_msgs + 1) * sizeof *msgs);
  const weft_enum_desc **enums =
      weft__dyn_alloc(s, (f->n_enums + 1) * sizeof *enums);
  const weft_service_desc **svcs =
      weft__dyn_alloc(s, (p->n_service + 1) * sizeof *svcs);
  weft_service_desc *sds = weft__dyn_alloc(s, (p->n_service + 1) * sizeof *sds);
  if (!deps || !msgs || !enums || !svcs || !sds)
    return nomem(err);
  for (size_t i = 0; i < p->n_dependency; i++) {
    dyn_file *df = weft__dyn_get(&s->by_file, p->dependency[i]);
    deps[i] = df->compiled ? df->compiled : df->d;
  }
  for (size_t i = 0; i < f->n_msgs; i++)
    msgs[i] = f->msgs[i]->d;
  for (size_t i = 0; i < f->n_enums; i++)
    enums[i] = f->enums[i]->d;
  for (size_t i = 0; i < p->n_service; i++) {
    int rv = build_service(s, f, p->service[i], &sds[i], err);
    if (rv < 0)
      return rv;
    svcs[i] = &sds[i];
  }
  d->n_deps = (unsigned)p->n_dependency;
  d->deps = p->n_dependency ? deps : NULL;
  d->n_messages = (unsigned)f->n_msgs;
  d->messages = f->n_msgs ? msgs : NULL;
  d->n_enums = (unsigned)f->n_enums;
  d->enums = f->n_enums ? enums : NULL;
  d->n_services = (unsigned)p->n_service;
  d->services = p->n_service ? svcs : NULL;
  return 0;
}

/* ---- the public API ---- */

void weft_dyn_free(weft_dyn_set *s) {
  if (!s)
    return;
  for (size_t i = 0; i < s->n_files; i++) {
    /* the codec's tables for the types built here */
    for (size_t j = 0; j < s->files[i]->n_msgs; j++)
      if (s->files[i]->msgs[j]->d)
        weft_msg_cache_release(s->files[i]->msgs[j]->d->cache);
    free(s->files[i]->msgs);
    free(s->files[i]->enums);
  }
  free(s->files);
  weft__dyn_table_free(&s->types);
  weft__dyn_table_free(&s->by_file);
  weft__dyn_table_free(&s->services);
  weft_registry_free(s->reg);
  weft_arena_free(s->a);
  free(s);
}

static int build(weft_dyn_set *s, const dyn_file_proto *const *files, size_t n,
                 weft_error *err) {
  int rv;
  /* Files, and which of them weft has compiled in. */
  for (size_t i = 0; i < n; i++) {
    const dyn_file_proto *p = files[i];
    if (!p || !p->name || !*p->name)
      return weft_error_set(err, WEFT_ERR_MALFORMED,
                            "file %zu of the set has no name", i);
    dyn_file *f = weft__dyn_alloc(s, sizeof *f);
    if (!f || !(f->name = weft__dyn_strdup(s, p->name)))
      return nomem(err);
    f->p = p;
    if (p->syntax && *p->syntax && strcmp(p->syntax, "proto2") != 0 &&
        strcmp(p->syntax, "proto3") != 0)
      return weft_error_set(err, WEFT_ERR_UNSUPPORTED,
                            "%s: syntax \"%s\" is not supported", f->name,
                            p->syntax);
    f->syntax = p->syntax && strcmp(p->syntax, "proto3") == 0 ? 3 : 2;
    if (p->package && *p->package && !weft__dyn_ident(p->package, 1))
      return weft_error_set(err, WEFT_ERR_MALFORMED,
                            "%s: package \"%s\" is not a valid name", f->name,
                            p->package);
    const weft_file_desc *c = compiled_wkt_file(p->name);
    if (c && subset_file(s, c, p))
      f->compiled = c;
    else if (!(f->d = weft__dyn_alloc(s, sizeof *f->d)))
      return nomem(err);
    if ((rv = add_file_entry(s, f, err)) < 0)
      return rv;
  }
  s->n_input = s->n_files;
  /* Pass 1: every type name (as gen/src/model.c). */
  for (size_t i = 0; i < s->n_input; i++) {
    dyn_file *f = s->files[i];
    if (f->compiled) {
      if ((rv = add_compiled_types(s, f, err)) < 0)
        return rv;
      continue;
    }
    const char *pkg = f->p->package ? f->p->package : "";
    for (size_t j = 0; j < f->p->n_enum_type; j++)
      if ((rv = add_enum(s, f, f->p->enum_type[j], pkg, err)) < 0)
        return rv;
    for (size_t j = 0; j < f->p->n_message_type; j++)
      if ((rv = add_msg(s, f, f->p->message_type[j], pkg, 0, err)) < 0)
        return rv;
  }
  /* Dependencies: in the set, or compiled in. */
  for (size_t i = 0; i < s->n_input; i++) {
    dyn_file *f = s->files[i];
    if (f->compiled)
      continue;
    for (size_t j = 0; j < f->p->n_dependency; j++) {
      const char *dep = f->p->dependency[j];
      if (!dep || weft__dyn_get(&s->by_file, dep))
        continue;
      const weft_file_desc *c = compiled_wkt_file(dep);
      if (!c)
        return weft_error_set(err, WEFT_ERR_MALFORMED,
                              "%s: imports %s, which is not in the set",
                              f->name, dep);
      if (!add_compiled_dep(s, c, err))
        return err && err->code ? err->code : WEFT_ERR_NOMEM;
    }
  }
  /* Tables. Every descriptor already has its address, so recursive and
   * mutually recursive types need no ordering. */
  for (size_t i = 0; i < s->n_input; i++) {
    dyn_file *f = s->files[i];
    for (size_t j = 0; j < f->n_enums; j++)
      if ((rv = weft__dyn_build_enum(s, f->enums[j], err)) < 0)
        return rv;
  }
  for (size_t i = 0; i < s->n_input; i++) {
    dyn_file *f = s->files[i];
    for (size_t j = 0; j < f->n_msgs; j++)
      if ((rv = weft__dyn_build_msg(s, f->msgs[j], err)) < 0)
        return rv;
  }
  for (size_t i = 0; i < s->n_input; i++) {
    dyn_file *f = s->files[i];
    for (size_t j = 0; j < f->n_msgs; j++)
      weft__dyn_set_wkt(f->msgs[j]);
  }
  for (size_t i = 0; i < s->n_input; i++)
    if (!s->files[i]->compiled && (rv = finish_file(s, s->files[i], err)) < 0)
      return rv;
  if ((rv = weft_registry_new(&s->reg)) < 0)
    return nomem(err);
  for (size_t i = 0; i < s->n_files; i++) {
    const weft_file_desc *d = weft_dyn_file(s, i);
    if ((rv = weft_registry_add_file(s->reg, d)) < 0)
      return weft_error_set(err, rv, "%s: cannot register the file: %s",
                            d->name, weft_strerror(rv));
  }
  return 0;
}

int weft_dyn_build_files(
    const struct Google__Protobuf__FileDescriptorProto *const *files, size_t n,
    weft_dyn_set **out, weft_error *err) {
  *out = NULL;
  if (n && !files)
    return weft_error_set(err, WEFT_ERR_INVAL, "no files");
  weft_dyn_set *s = calloc(1, sizeof *s);
  if (!s || weft_arena_new(&s->a, 0) < 0) {
    free(s);
    return nomem(err);
  }
  int rv = build(s, files, n, err);
  if (rv < 0) {
    weft_dyn_free(s);
    return rv;
  }
  *out = s;
  return 0;
}

int weft_dyn_build_set(const struct Google__Protobuf__FileDescriptorSet *set,
                       weft_dyn_set **out, weft_error *err) {
  if (!set) {
    *out = NULL;
    return weft_error_set(err, WEFT_ERR_INVAL, "no FileDescriptorSet");
  }
  return weft_dyn_build_files(
      (const struct Google__Protobuf__FileDescriptorProto *const *)set->file,
      set->n_file, out, err);
}

int weft_dyn_build(const uint8_t *data, size_t len, weft_dyn_set **out,
                   weft_error *err) {
  *out = NULL;
  Google__Protobuf__FileDescriptorSet *set =
      google__protobuf__file_descriptor_set__unpack(NULL, len, data);
  if (!set)
    return weft_error_set(err, WEFT_ERR_MALFORMED,
                          "not a binary google.protobuf.FileDescriptorSet "
                          "(%zu bytes)",
                          len);
  int rv = weft_dyn_build_set(set, out, err);
  google__protobuf__file_descriptor_set__free_unpacked(set, NULL);
  return rv;
}

size_t weft_dyn_n_files(const weft_dyn_set *s) {
  return s ? s->n_files : 0;
}

const weft_file_desc *weft_dyn_file(const weft_dyn_set *s, size_t i) {
  if (!s || i >= s->n_files)
    return NULL;
  const dyn_file *f = s->files[i];
  return f->compiled ? f->compiled : f->d;
}

const weft_file_desc *weft_dyn_find_file(const weft_dyn_set *s,
                                         const char *name) {
  if (!s || !name)
    return NULL;
  const dyn_file *f = weft__dyn_get(&s->by_file, name);
  return f ? (f->compiled ? f->compiled : f->d) : NULL;
}

static const dyn_type *find_type(const weft_dyn_set *s, const char *full) {
  if (!s || !full)
    return NULL;
  return weft__dyn_get(&s->types, full[0] == '.' ? full + 1 : full);
}

const weft_msg_desc *weft_dyn_find_message(const weft_dyn_set *s,
                                           const char *full_name) {
  const dyn_type *t = find_type(s, full_name);
  return t && t->m ? (t->m->cd ? t->m->cd : t->m->d) : NULL;
}

const weft_enum_desc *weft_dyn_find_enum(const weft_dyn_set *s,
                                         const char *full_name) {
  const dyn_type *t = find_type(s, full_name);
  return t && t->e ? (t->e->cd ? t->e->cd : t->e->d) : NULL;
}

const weft_service_desc *weft_dyn_find_service(const weft_dyn_set *s,
                                               const char *full_name) {
  if (!s || !full_name)
    return NULL;
  return weft__dyn_get(&s->services,
                       full_name[0] == '.' ? full_name + 1 : full_name);
}

const weft_method_desc *weft_dyn_find_method(const weft_dyn_set *s,
                                             const char *name) {
  if (!s || !name)
    return NULL;
  if (name[0] == '/')
    name++;
  const char *sep = strrchr(name, '/');
  if (!sep)
    sep = strrchr(name, '.');
  if (!sep)
    return NULL;
  size_t n = (size_t)(sep - name);
  char *svc = malloc(n + 1);
  if (!svc)
    return NULL;
  memcpy(svc, name, n);
  svc[n] = '\0';
  const weft_service_desc *sd = weft_dyn_find_service(s, svc);
  free(svc);
  return sd ? weft_service_method(sd, sep + 1) : NULL;
}

const weft_registry *weft_dyn_registry(const weft_dyn_set *s) {
  return s ? s->reg : NULL;
}
