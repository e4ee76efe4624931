/* The model: every message, enum and service of the request (dependencies
 * included) indexed by full name, with C names assigned and field types
 * resolved. Built once; the emitters only read it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"

/* ---- a small string-keyed hash table ---- */
typedef struct slot {
  const char *key;
  void *val;
} slot;
typedef struct table {
  slot *slots;
  size_t cap, n;
} table;

static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static void *table_get(const table *t, const char *key) {
  if (t->cap == 0)
    return NULL;
  for (size_t i = hash_str(key) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
    if (t->slots[i].key == NULL)
      return NULL;
    if (strcmp(t->slots[i].key, key) == 0)
      return t->slots[i].val;
  }
}

/* Returns the value already stored under key, or stores val and returns
 * NULL. */
static void *table_put(table *t, const char *key, void *val) {
  if ((t->n + 1) * 2 > t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 256;
    slot *s = gen_alloc(cap * sizeof(*s));
    for (size_t i = 0; i < t->cap; i++) {
      if (t->slots[i].key == NULL)
        continue;
      size_t j = hash_str(t->slots[i].key) & (cap - 1);
      while (s[j].key != NULL)
        j = (j + 1) & (cap - 1);
      s[j] = t->slots[i];
    }
    t->slots = s;
    t->cap = cap;
  }
  size_t i = hash_str(key) & (t->cap - 1);
  for (; t->slots[i].key != NULL; i = (i + 1) & (t->cap - 1))
    if (strcmp(t->slots[i].key, key) == 0)
      return t->slots[i].val;
  t->slots[i].key = key;
  t->slots[i].val = val;
  t->n++;
  return NULL;
}

static table msgs_by_name, enums_by_name, files_by_name;
/* Every file-scope C identifier of the request, mapped to what made it: the
 * backstop that turns any naming clash into an error instead of bad C. */
static table c_names;

static void claim(const char *cname, const char *what) {
  const char *prev = table_put(&c_names, cname, (void *)what);
  if (prev != NULL)
    gen_fail("C name clash: %s and %s both map to \"%s\"", prev, what, cname);
  else if (name_is_reserved(cname) || strcmp(cname, "FILE") == 0 ||
           strcmp(cname, "DIR") == 0 || strncmp(cname, "ProtobufC", 9) == 0)
    gen_fail("%s maps to \"%s\", a C/C++ keyword or a name the headers "
             "already use; give the file a package",
             what, cname);
}

/* ---- pass 1: register types ---- */
typedef struct vec {
  void **v;
  size_t n, cap;
} vec;
static void vec_push(vec *v, void *p) {
  if (v->n == v->cap) {
    size_t cap = v->cap ? v->cap * 2 : 16;
    void **nv = gen_alloc(cap * sizeof(void *));
    if (v->n)
      memcpy(nv, v->v, v->n * sizeof(void *));
    v->v = nv;
    v->cap = cap;
  }
  v->v[v->n++] = p;
}

static const char *const wkt_names[] = {
    "google.protobuf.Any",         "google.protobuf.Timestamp",
    "google.protobuf.Duration",    "google.protobuf.FieldMask",
    "google.protobuf.Struct",      "google.protobuf.Value",
    "google.protobuf.ListValue",   "google.protobuf.Empty",
    "google.protobuf.DoubleValue", "google.protobuf.FloatValue",
    "google.protobuf.Int64Value",  "google.protobuf.UInt64Value",
    "google.protobuf.Int32Value",  "google.protobuf.UInt32Value",
    "google.protobuf.BoolValue",   "google.protobuf.StringValue",
    "google.protobuf.BytesValue",
};

static void add_enum(gen_file *f, vec *enums, const gen_enum_proto *p,
                     const char *scope) {
  gen_enum *e = gen_alloc(sizeof(*e));
  e->p = p;
  e->full = *scope ? gen_fmt("%s.%s", scope, p->name) : gen_strdup(p->name);
  e->cname = name_type(e->full);
  e->file = f;
  e->closed = f->syntax == 2;
  vec_push(enums, e);
  if (table_put(&enums_by_name, e->full, e) != NULL)
    gen_fail("enum %s defined twice", e->full);
  claim(e->cname, gen_fmt("enum %s", e->full));
  for (size_t i = 0; i < p->n_value; i++)
    claim(gen_fmt("%s__%s", e->cname, p->value[i]->name),
          gen_fmt("enum value %s.%s", e->full, p->value[i]->name));
}

static void add_msg(gen_file *f, vec *msgs, vec *enums, const gen_msg_proto *p,
                    const char *scope) {
  gen_msg *m = gen_alloc(sizeof(*m));
  m->p = p;
  m->full = *scope ? gen_fmt("%s.%s", scope, p->name) : gen_strdup(p->name);
  m->cname = name_type(m->full);
  m->package = f->p->package ? f->p->package : "";
  m->file = f;
  m->map_entry = p->options != NULL && p->options->map_entry;
  for (size_t i = 0; i < sizeof(wkt_names) / sizeof(wkt_names[0]); i++)
    if (strcmp(m->full, wkt_names[i]) == 0)
      m->wkt = (int)i + 1;
  vec_push(msgs, m);
  if (table_put(&msgs_by_name, m->full, m) != NULL)
    gen_fail("message %s defined twice", m->full);
  claim(m->cname, gen_fmt("message %s", m->full));
  for (size_t i = 0; i < p->n_enum_type; i++)
    add_enum(f, enums, p->enum_type[i], m->full);
  for (size_t i = 0; i < p->n_nested_type; i++)
    add_msg(f, msgs, enums, p->nested_type[i], m->full);
}

/* ---- pass 2: fields, oneofs, services ---- */
static void member_claim(table *t, const char *name, const gen_msg *m,
                         const char *what) {
  const char *prev = table_put(t, name, (void *)what);
  if (prev != NULL)
    gen_fail("message %s: %s and %s both need the C member \"%s\"; rename "
             "one of the fields (see docs/NAMING.md)",
             m->full, prev, what, name);
}

static void resolve_msg(gen_msg *m) {
  const gen_msg_proto *p = m->p;
  int *real = gen_alloc((p->n_oneof_decl + 1) * sizeof(int));
  for (size_t i = 0; i < p->n_oneof_decl; i++)
    real[i] = -1;
  /* A oneof is real if one of its members is not a proto3 `optional`. */
  for (size_t i = 0; i < p->n_field; i++) {
    const gen_field_proto *fp = p->field[i];
    if (fp->has_oneof_index && !fp->proto3_optional && fp->oneof_index >= 0 &&
        (size_t)fp->oneof_index < p->n_oneof_decl)
      real[fp->oneof_index] = 0;
  }
  m->oneofs = gen_alloc((p->n_oneof_decl + 1) * sizeof(gen_oneof));
  for (size_t i = 0; i < p->n_oneof_decl; i++) {
    if (real[i] < 0)
      continue;
    real[i] = (int)m->n_oneofs;
    gen_oneof *o = &m->oneofs[m->n_oneofs++];
    o->name = p->oneof_decl[i]->name;
    o->member = name_member(o->name);
    o->first_field = -1;
  }

  table members = {0};
  member_claim(&members, "base", m, "the ProtobufCMessage header");
  m->fields = gen_alloc((p->n_field + 1) * sizeof(gen_field));
  m->n_fields = p->n_field;
  for (size_t i = 0; i < p->n_field; i++) {
    const gen_field_proto *fp = p->field[i];
    gen_field *fd = &m->fields[i];
    fd->p = fp;
    fd->member = name_member(fp->name);
    fd->proto3_optional = fp->proto3_optional;
    fd->oneof = (fp->has_oneof_index && !fp->proto3_optional)
                    ? real[fp->oneof_index]
                    : -1;
    if (fd->oneof >= 0 && m->oneofs[fd->oneof].first_field < 0)
      m->oneofs[fd->oneof].first_field = (int)i;
    fd->group =
        fp->type == GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_GROUP;
    if (fp->type ==
            GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_MESSAGE ||
        fd->group) {
      fd->msg_type = model_msg(fp->type_name);
      if (fd->msg_type == NULL)
        gen_fail("%s.%s: unknown message type %s", m->full, fp->name,
                 fp->type_name ? fp->type_name : "(none)");
      else
        fd->map =
            fd->msg_type->map_entry &&
            fp->label ==
                GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED;
    } else if (fp->type ==
               GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_ENUM) {
      fd->enum_type = model_enum(fp->type_name);
      if (fd->enum_type == NULL)
        gen_fail("%s.%s: unknown enum type %s", m->full, fp->name,
                 fp->type_name ? fp->type_name : "(none)");
    }
    const char *what = gen_fmt("field \"%s\"", fp->name);
    member_claim(&members, fd->member, m, what);
  }
  /* Quantifiers, after every field member is known. */
  for (size_t i = 0; i < m->n_fields; i++) {
    gen_field *fd = &m->fields[i];
    const char *what = gen_fmt("the quantifier of field \"%s\"", fd->p->name);
    if (fd->oneof >= 0)
      continue;
    if (fd->p->label ==
        GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED)
      member_claim(&members, gen_fmt("n_%s", fd->member), m, what);
    else
      member_claim(&members, gen_fmt("has_%s", fd->member), m, what);
  }
  for (size_t i = 0; i < m->n_oneofs; i++)
    member_claim(&members, gen_fmt("%s_case", m->oneofs[i].member), m,
                 gen_fmt("the case of oneof \"%s\"", m->oneofs[i].name));
}

static const gen_msg *method_type(const char *name, const char *svc,
                                  const char *method) {
  const gen_msg *t = model_msg(name ? name : "");
  if (t == NULL)
    gen_fail("%s.%s: unknown message type %s", svc, method,
             name ? name : "(none)");
  return t;
}

static void resolve_svc(gen_file *f, gen_svc *s, const gen_svc_proto *p) {
  const char *pkg = f->p->package ? f->p->package : "";
  s->p = p;
  s->file = f;
  s->full = *pkg ? gen_fmt("%s.%s", pkg, p->name) : gen_strdup(p->name);
  s->cname = name_type(s->full);
  claim(s->cname, gen_fmt("service %s", s->full));
  s->n_methods = p->n_method;
  s->methods = gen_alloc((p->n_method + 1) * sizeof(gen_method));
  table snakes = {0};
  for (size_t i = 0; i < p->n_method; i++) {
    const gen_method_proto *mp = p->method[i];
    gen_method *me = &s->methods[i];
    me->p = mp;
    me->snake = name_member(name_snake(mp->name));
    const char *prev = table_put(&snakes, me->snake, (void *)mp->name);
    if (prev != NULL)
      gen_fail("service %s: methods %s and %s both map to the C name \"%s\"; "
               "rename one (see docs/NAMING.md)",
               s->full, prev, mp->name, me->snake);
    claim(gen_fmt("%s_%s", s->cname, me->snake),
          gen_fmt("client stub of %s.%s", s->full, mp->name));
    me->in = method_type(mp->input_type, s->full, mp->name);
    me->out = method_type(mp->output_type, s->full, mp->name);
    me->kind = (mp->client_streaming ? 2 : 0) | (mp->server_streaming ? 1 : 0);
    /* weft_rpc_kind: 0 unary, 1 server, 2 client, 3 bidi. */
    me->idempotent = mp->options != NULL &&
                             mp->options->has_idempotency_level &&
                             (int)mp->options->idempotency_level >= 0 &&
                             (int)mp->options->idempotency_level <= 2
                         ? (uint8_t)mp->options->idempotency_level
                         : 0;
    http_rules_read(me, s->full);
  }
}

static gen_file **all_files;
static size_t n_all_files;

int model_build(const Google__Protobuf__Compiler__CodeGeneratorRequest *req) {
  n_all_files = req->n_proto_file;
  all_files = gen_alloc((n_all_files + 1) * sizeof(*all_files));
  for (size_t i = 0; i < req->n_proto_file; i++) {
    const gen_file_proto *p = req->proto_file[i];
    gen_file *f = gen_alloc(sizeof(*f));
    all_files[i] = f;
    f->p = p;
    f->syntax = p->syntax != NULL && strcmp(p->syntax, "proto3") == 0 ? 3 : 2;
    if (p->syntax != NULL && *p->syntax && strcmp(p->syntax, "proto2") != 0 &&
        strcmp(p->syntax, "proto3") != 0)
      gen_fail("%s: syntax \"%s\" is not supported", p->name, p->syntax);
    f->ident = name_file_ident(p->name);
    f->stem = name_file_stem(p->name);
    table_put(&files_by_name, p->name, f);
    claim(f->ident, gen_fmt("the file descriptor of %s", p->name));
    claim(gen_fmt("%s_register", f->ident),
          gen_fmt("the register function of %s", p->name));
    const char *pkg = p->package ? p->package : "";
    vec msgs = {0}, enums = {0};
    for (size_t j = 0; j < p->n_enum_type; j++)
      add_enum(f, &enums, p->enum_type[j], pkg);
    for (size_t j = 0; j < p->n_message_type; j++)
      add_msg(f, &msgs, &enums, p->message_type[j], pkg);
    f->msgs = (gen_msg **)msgs.v;
    f->n_msgs = msgs.n;
    f->enums = (gen_enum **)enums.v;
    f->n_enums = enums.n;
  }
  for (size_t i = 0; i < n_all_files; i++) {
    gen_file *f = all_files[i];
    for (size_t j = 0; j < f->n_msgs; j++)
      resolve_msg(f->msgs[j]);
    f->n_svcs = f->p->n_service;
    f->svcs = gen_alloc((f->n_svcs + 1) * sizeof(gen_svc));
    for (size_t j = 0; j < f->n_svcs; j++)
      resolve_svc(f, &f->svcs[j], f->p->service[j]);
    f->n_deps = f->p->n_dependency;
    f->deps = gen_alloc((f->n_deps + 1) * sizeof(gen_file *));
    for (size_t j = 0; j < f->n_deps; j++) {
      f->deps[j] = model_file(f->p->dependency[j]);
      if (f->deps[j] == NULL)
        gen_fail("%s: dependency %s missing from the request", f->p->name,
                 f->p->dependency[j]);
    }
  }
  return gen_error() != NULL ? -1 : 0;
}

const gen_file *model_file(const char *name) {
  return table_get(&files_by_name, name);
}
const gen_msg *model_msg(const char *full) {
  return table_get(&msgs_by_name, *full == '.' ? full + 1 : full);
}
const gen_enum *model_enum(const char *full) {
  return table_get(&enums_by_name, *full == '.' ? full + 1 : full);
}
