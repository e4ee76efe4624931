/* google.api.http on a method: `option (google.api.http) = {...}` is the
 * extension field 72295728 of MethodOptions, which libprotobuf-c keeps as
 * an unknown field; its bytes are an HttpRule (google/api/http.proto),
 * decoded with protoc-c's bindings of http.proto. The rule and its
 * additional_bindings become one flat list; every template is parsed with
 * the runtime's parser and every field it names is looked up, so a
 * malformed rule fails generation instead of the server's start. */
#include <string.h>

#include "gen.h"
#include "google/api/http.pb-c.h"
#include "rest_internal.h"

#define HTTP_EXTENSION 72295728u

static const gen_field *field_named(const gen_msg *m, const char *name,
                                    size_t n) {
  for (size_t i = 0; i < m->n_fields; i++) {
    const gen_field_proto *p = m->fields[i].p;
    if ((strlen(p->name) == n && !memcmp(p->name, name, n)) ||
        (p->json_name && strlen(p->json_name) == n &&
         !memcmp(p->json_name, name, n)))
      return &m->fields[i];
  }
  return NULL;
}

static int is_message(const gen_field *f) {
  return f->msg_type != NULL;
}

/* "a.b.c" through singular message fields to a singular non-message leaf
 * (or a well-known type with a string form). Returns NULL or the reason. */
static const char *check_var(const gen_msg *m, const char *path) {
  const char *s = path;
  for (;;) {
    const char *dot = strchr(s, '.');
    size_t n = dot ? (size_t)(dot - s) : strlen(s);
    const gen_field *f = field_named(m, s, n);
    if (!f)
      return gen_fmt("%s has no field %.*s", m->full, (int)n, s);
    int rep = f->p->label ==
              GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED;
    if (!dot) {
      if (rep)
        return gen_fmt("%s is repeated", path);
      if (is_message(f) && (f->msg_type->wkt == 0 || f->msg_type->wkt == 1 ||
                            (f->msg_type->wkt >= 5 && f->msg_type->wkt <= 8)))
        return gen_fmt("%s is a message", path);
      return NULL;
    }
    if (!is_message(f) || rep || f->msg_type->wkt)
      return gen_fmt("%.*s is not a singular message field", (int)(dot - path),
                     path);
    m = f->msg_type;
    s = dot + 1;
  }
}

static void add_rule(gen_method *me, const char *where, size_t k,
                     const Google__Api__HttpRule *r) {
  gen_http *h = &me->http[me->n_http];
  switch (r->pattern_case) {
  case GOOGLE__API__HTTP_RULE__PATTERN_GET:
    h->verb = "GET";
    h->path = r->get;
    break;
  case GOOGLE__API__HTTP_RULE__PATTERN_PUT:
    h->verb = "PUT";
    h->path = r->put;
    break;
  case GOOGLE__API__HTTP_RULE__PATTERN_POST:
    h->verb = "POST";
    h->path = r->post;
    break;
  case GOOGLE__API__HTTP_RULE__PATTERN_DELETE:
    h->verb = "DELETE";
    h->path = r->delete_;
    break;
  case GOOGLE__API__HTTP_RULE__PATTERN_PATCH:
    h->verb = "PATCH";
    h->path = r->patch;
    break;
  case GOOGLE__API__HTTP_RULE__PATTERN_CUSTOM:
    h->verb = r->custom && r->custom->kind ? r->custom->kind : "";
    h->path = r->custom && r->custom->path ? r->custom->path : "";
    break;
  default:
    gen_fail("%s: http rule %zu has no pattern (get, put, post, delete, "
             "patch or custom)",
             where, k);
    return;
  }
  h->verb = gen_strdup(h->verb);
  h->path = gen_strdup(h->path ? h->path : "");
  h->body = r->body && *r->body ? gen_strdup(r->body) : NULL;
  h->response_body = r->response_body && *r->response_body
                         ? gen_strdup(r->response_body)
                         : NULL;
  if (!*h->verb)
    gen_fail("%s: http rule %zu: custom pattern without a kind", where, k);
  weft__tmpl t;
  weft_error e = {0};
  if (weft__tmpl_parse(h->path, &t, &e) < 0) {
    gen_fail("%s: http rule %zu \"%s\": %s", where, k, h->path, e.message);
    return;
  }
  for (unsigned v = 0; v < t.n_vars; v++) {
    const char *why = me->in ? check_var(me->in, t.vars[v].field) : NULL;
    if (why)
      gen_fail("%s: http rule %zu \"%s\": variable %s: %s", where, k, h->path,
               t.vars[v].field, why);
  }
  weft__tmpl_free(&t);
  if (h->body && strcmp(h->body, "*") && me->in &&
      !field_named(me->in, h->body, strlen(h->body)))
    gen_fail("%s: http rule %zu: body \"%s\" is not a field of %s", where, k,
             h->body, me->in->full);
  if (h->response_body && me->out &&
      !field_named(me->out, h->response_body, strlen(h->response_body)))
    gen_fail("%s: http rule %zu: response_body \"%s\" is not a field of %s",
             where, k, h->response_body, me->out->full);
  me->n_http++;
}

void http_rules_read(gen_method *me, const char *svc_full) {
  const Google__Protobuf__MethodOptions *o = me->p->options;
  if (!o)
    return;
  const ProtobufCMessageUnknownField *uf = NULL;
  for (size_t i = 0; i < o->base.n_unknown_fields; i++)
    if (o->base.unknown_fields[i].tag == HTTP_EXTENSION)
      uf = &o->base.unknown_fields[i]; /* the last one wins */
  if (!uf)
    return;
  const char *where = gen_fmt("%s.%s", svc_full, me->p->name);
  if (uf->wire_type != PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED) {
    gen_fail("%s: option (google.api.http) is not a message", where);
    return;
  }
  /* libprotobuf-c keeps a length-delimited unknown field with its length
   * prefix: skip the varint. */
  size_t pre = 0;
  while (pre < uf->len && (uf->data[pre] & 0x80))
    pre++;
  pre++;
  Google__Api__HttpRule *r =
      pre <= uf->len
          ? google__api__http_rule__unpack(NULL, uf->len - pre, uf->data + pre)
          : NULL;
  if (!r) {
    gen_fail("%s: option (google.api.http) does not decode as an HttpRule",
             where);
    return;
  }
  me->http = gen_alloc((r->n_additional_bindings + 1) * sizeof(gen_http));
  add_rule(me, where, 0, r);
  for (size_t i = 0; i < r->n_additional_bindings; i++) {
    if (r->additional_bindings[i]->n_additional_bindings)
      gen_fail("%s: http rule %zu: additional_bindings may not nest", where,
               i + 1);
    add_rule(me, where, i + 1, r->additional_bindings[i]);
  }
  google__api__http_rule__free_unpacked(r, NULL);
}
