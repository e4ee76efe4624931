/* <path>.weft.c: descriptor tables (protobuf-c's, then weft's additions),
 * default values, init functions, service tables and invoke thunks, and the
 * file descriptor with the serialized FileDescriptorProto, and per-type
 * encoders for the types they cover (emit_encode.c). No
 * runtime symbol is referenced here; only libprotobuf-c's
 * protobuf_c_empty_string. */
#include <stdlib.h>
#include <string.h>

#include "gen.h"
#include "types.h"

/* Sorting helpers with a total order (ties broken by original index) so the
 * output never depends on qsort's instability. */
typedef struct sort_item {
  long long key;
  const char *name;
  size_t index;
} sort_item;

static int by_key(const void *a, const void *b) {
  const sort_item *x = a, *y = b;
  if (x->key != y->key)
    return x->key < y->key ? -1 : 1;
  return x->index < y->index ? -1 : x->index > y->index;
}
static int by_name(const void *a, const void *b) {
  const sort_item *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  if (c)
    return c;
  return x->index < y->index ? -1 : x->index > y->index;
}

/* protoc fills json_name for plugins; this is its rule (drop '_', upper-case
 * the next letter) for requests built by other tools. */
static const char *json_default(const char *name) {
  char *out = gen_alloc(strlen(name) + 1), *o = out;
  int up = 0;
  for (; *name; name++) {
    if (*name == '_') {
      up = 1;
    } else {
      *o++ = up && *name >= 'a' && *name <= 'z' ? (char)(*name - 'a' + 'A')
                                                : *name;
      up = 0;
    }
  }
  return out;
}

static void emit_ranges(gen_buf *b, const char *sym, const int *nums,
                        size_t n) {
  size_t r = 0;
  gen_buf body = {0};
  for (size_t i = 0; i < n; i++) {
    if (i == 0 || nums[i] != nums[i - 1] + 1) {
      buf_printf(&body, "  {%d, %zu},\n", nums[i], i);
      r++;
    }
  }
  buf_printf(&body, "  {0, %zu}\n", n);
  buf_printf(b, "static const ProtobufCIntRange %s[%zu] = {\n%s};\n", sym,
             r + 1, body.data);
  buf_free(&body);
}

static size_t count_ranges(const int *nums, size_t n) {
  size_t r = 0;
  for (size_t i = 0; i < n; i++)
    if (i == 0 || nums[i] != nums[i - 1] + 1)
      r++;
  return r;
}

static void emit_enum(gen_buf *b, const gen_enum *e) {
  const gen_enum_proto *p = e->p;
  size_t n = p->n_value;
  sort_item *items = gen_alloc((n + 1) * sizeof(*items));
  for (size_t i = 0; i < n; i++) {
    items[i].key = p->value[i]->number;
    items[i].name = p->value[i]->name;
    items[i].index = i;
  }
  qsort(items, n, sizeof(*items), by_key);
  /* Unique numbers: aliases keep the first declared name. */
  size_t *final = gen_alloc((n + 1) * sizeof(size_t)); /* by decl index */
  int *nums = gen_alloc((n + 1) * sizeof(int));
  size_t u = 0;
  buf_printf(b,
             "/* enum %s */\nstatic const ProtobufCEnumValue %s_values[] = {\n",
             e->full, e->cname);
  for (size_t i = 0; i < n; i++) {
    if (i == 0 || items[i].key != items[i - 1].key) {
      buf_printf(b, "  {\"%s\", \"%s__%s\", %lld},\n", items[i].name, e->cname,
                 items[i].name, items[i].key);
      nums[u++] = (int)items[i].key;
    }
    final[items[i].index] = u - 1;
  }
  buf_put(b, "};\n");
  emit_ranges(b, gen_fmt("%s_ranges", e->cname), nums, u);
  for (size_t i = 0; i < n; i++) {
    items[i].name = p->value[i]->name;
    items[i].index = i;
  }
  qsort(items, n, sizeof(*items), by_name);
  buf_printf(b, "static const ProtobufCEnumValueIndex %s_by_name[] = {\n",
             e->cname);
  for (size_t i = 0; i < n; i++)
    buf_printf(b, "  {\"%s\", %zu},\n", items[i].name, final[items[i].index]);
  buf_put(b, "};\n");
  buf_printf(b,
             "const weft_enum_desc %s_desc = {\n"
             "  {PROTOBUF_C__ENUM_DESCRIPTOR_MAGIC, \"%s\", \"%s\", \"%s\", "
             "\"%s\",\n"
             "   %zu, %s_values, %zu, %s_by_name, %zu, %s_ranges,\n"
             "   NULL, NULL, NULL, NULL},\n"
             "  %d, &%s};\n\n",
             e->cname, e->full, p->name, e->cname,
             e->file->p->package ? e->file->p->package : "", u, e->cname, n,
             e->cname, count_ranges(nums, u), e->cname, e->closed,
             e->file->ident);
}

static const char *quant_offset(const gen_msg *m, const gen_field *fd) {
  if (fd->oneof >= 0)
    return gen_fmt("offsetof(%s, %s_case)", m->cname,
                   m->oneofs[fd->oneof].member);
  if (field_is_repeated(fd))
    return gen_fmt("offsetof(%s, n_%s)", m->cname, fd->member);
  if (field_has_flag(m, fd))
    return gen_fmt("offsetof(%s, has_%s)", m->cname, fd->member);
  return "0";
}

static void emit_message(gen_buf *b, const gen_msg *m) {
  size_t n = m->n_fields;
  const char *c = m->cname;
  buf_printf(b, "/* message %s */\n", m->full);

  /* Defaults first: the field table points at them. */
  gen_default *defs = gen_alloc((n + 1) * sizeof(*defs));
  for (size_t i = 0; i < n; i++) {
    const gen_field *fd = &m->fields[i];
    defs[i].ptr = "NULL";
    if (field_is_repeated(fd) || fd->oneof >= 0)
      continue;
    field_default(m, fd, &defs[i]);
    if (defs[i].object)
      buf_put(b, defs[i].object);
  }

  buf_printf(b,
             "void %s_init(%s *m) {\n"
             "  static const %s v = %s_INIT;\n"
             "  *m = v;\n}\n"
             "static void %s_init_pbc(ProtobufCMessage *m) {\n"
             "  %s_init((%s *)m);\n}\n",
             c, c, c, c, c, c, c);

  sort_item *items = gen_alloc((n + 1) * sizeof(*items));
  for (size_t i = 0; i < n; i++) {
    items[i].key = m->fields[i].p->number;
    items[i].name = m->fields[i].p->name;
    items[i].index = i;
  }
  qsort(items, n, sizeof(*items), by_key);
  int *nums = gen_alloc((n + 1) * sizeof(int));
  size_t *pos = gen_alloc((n + 1) * sizeof(size_t)); /* decl -> sorted */
  for (size_t i = 0; i < n; i++) {
    nums[i] = (int)items[i].key;
    pos[items[i].index] = i;
  }

  if (n) {
    buf_printf(b, "static const ProtobufCFieldDescriptor %s_fields[%zu] = {\n",
               c, n);
    for (size_t k = 0; k < n; k++) {
      const gen_field *fd = &m->fields[items[k].index];
      const char *desc = "NULL";
      if (fd->msg_type)
        desc = gen_fmt("&%s_desc.base", fd->msg_type->cname);
      else if (fd->enum_type)
        desc = gen_fmt("&%s_desc.base", fd->enum_type->cname);
      gen_buf flags = {0};
      buf_put(&flags, "0");
      if (field_packed(m, fd))
        buf_put(&flags, " | PROTOBUF_C_FIELD_FLAG_PACKED");
      if (fd->p->options && fd->p->options->deprecated)
        buf_put(&flags, " | PROTOBUF_C_FIELD_FLAG_DEPRECATED");
      if (fd->oneof >= 0)
        buf_put(&flags, " | PROTOBUF_C_FIELD_FLAG_ONEOF");
      buf_printf(b,
                 "  {\"%s\", %d, %s, %s,\n   %s, offsetof(%s, %s),\n"
                 "   %s, %s, %s, 0, NULL, NULL},\n",
                 fd->p->name, fd->p->number, field_label(m, fd),
                 field_pbc_type(fd), quant_offset(m, fd), c, fd->member, desc,
                 defs[items[k].index].ptr, flags.data);
      buf_free(&flags);
    }
    buf_put(b, "};\n");

    buf_printf(b, "static const weft_field_info %s_field_info[%zu] = {\n", c,
               n);
    for (size_t k = 0; k < n; k++) {
      const gen_field *fd = &m->fields[items[k].index];
      gen_buf flags = {0};
      buf_put(&flags, "0");
      if (fd->map)
        buf_put(&flags, " | WEFT_FIELD_MAP");
      if (fd->proto3_optional)
        buf_put(&flags, " | WEFT_FIELD_PROTO3_OPTIONAL");
      if (fd->p->type == GEN_T(STRING) && m->file->syntax == 3)
        buf_put(&flags, " | WEFT_FIELD_CHECK_UTF8");
      if (fd->p->default_value != NULL)
        buf_put(&flags, " | WEFT_FIELD_HAS_DEFAULT");
      if (fd->group)
        buf_put(&flags, " | WEFT_FIELD_GROUP");
      const char *json =
          fd->p->json_name ? fd->p->json_name : json_default(fd->p->name);
      buf_put(b, "  {");
      buf_cstring(b, json, strlen(json));
      buf_printf(b, ", %d, %s},\n", fd->oneof, flags.data);
      buf_free(&flags);
    }
    buf_put(b, "};\n");

    for (size_t i = 0; i < n; i++) {
      items[i].name = m->fields[i].p->name;
      items[i].index = pos[i];
    }
    qsort(items, n, sizeof(*items), by_name);
    buf_printf(b, "static const unsigned %s_fields_by_name[%zu] = {", c, n);
    for (size_t k = 0; k < n; k++)
      buf_printf(b, "%s%zu", k ? ", " : "", items[k].index);
    buf_put(b, "};\n");
  }
  emit_ranges(b, gen_fmt("%s_ranges", c), nums, n);
  if (m->n_oneofs) {
    buf_printf(b, "static const char *const %s_oneof_names[%zu] = {", c,
               m->n_oneofs);
    for (size_t o = 0; o < m->n_oneofs; o++)
      buf_printf(b, "%s\"%s\"", o ? ", " : "", m->oneofs[o].name);
    buf_put(b, "};\n");
  }
  buf_printf(b, "static weft_msg_cache %s_cache;\n", c);
  buf_printf(b,
             "const weft_msg_desc %s_desc = {\n"
             "  {PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC, \"%s\", \"%s\", \"%s\", "
             "\"%s\",\n"
             "   sizeof(%s), %zu, %s, %s,\n"
             "   %zu, %s_ranges, %s_init_pbc, NULL, NULL, NULL},\n"
             "  %s, %zu, %s, %d, %d, %d, &%s, &%s_cache, %s, %s, %s};\n\n",
             c, m->full, m->p->name, c, m->package, c, n,
             n ? gen_fmt("%s_fields", c) : "NULL",
             n ? gen_fmt("%s_fields_by_name", c) : "NULL",
             count_ranges(nums, n), c, c,
             n ? gen_fmt("%s_field_info", c) : "NULL", m->n_oneofs,
             m->n_oneofs ? gen_fmt("%s_oneof_names", c) : "NULL",
             m->file->syntax, m->wkt, m->map_entry, m->file->ident, c,
             enc_desc_encode(m), dec_fn(m), enc_desc_encode_alloc(m));
}

static void emit_service(gen_buf *b, const gen_svc *s) {
  const char *c = s->cname;
  buf_printf(b, "/* service %s */\n", s->full);
  for (size_t i = 0; i < s->n_methods; i++) {
    const gen_method *me = &s->methods[i];
    buf_printf(b,
               "static int %s__invoke__%s(const void *impl, "
               "weft_server_call *call,\n"
               "    const void *req, void *resp, void *ctx) {\n"
               "  const %s_impl *s = (const %s_impl *)impl;\n",
               c, me->snake, c, c);
    if (me->kind != 0 && me->kind != 1)
      buf_put(b, "  (void)req;\n");
    if (me->kind != 0 && me->kind != 2)
      buf_put(b, "  (void)resp;\n");
    buf_printf(b,
               "  if (s->%s == NULL)\n    return WEFT_STATUS_UNIMPLEMENTED;\n",
               me->snake);
    switch (me->kind) {
    case 0:
      buf_printf(b,
                 "  return s->%s(call, (const %s *)req, (%s *)resp, ctx);\n}\n",
                 me->snake, me->in->cname, me->out->cname);
      break;
    case 1:
      buf_printf(b, "  return s->%s(call, (const %s *)req, ctx);\n}\n",
                 me->snake, me->in->cname);
      break;
    case 2:
      buf_printf(b, "  return s->%s(call, (%s *)resp, ctx);\n}\n", me->snake,
                 me->out->cname);
      break;
    default:
      buf_printf(b, "  return s->%s(call, ctx);\n}\n", me->snake);
    }
  }
  for (size_t i = 0; i < s->n_methods; i++) {
    const gen_method *me = &s->methods[i];
    if (!me->n_http)
      continue;
    buf_printf(b, "static const weft_http_rule %s__http__%s[%zu] = {\n", c,
               me->snake, me->n_http);
    for (size_t k = 0; k < me->n_http; k++) {
      const gen_http *h = &me->http[k];
      buf_put(b, "  {");
      buf_cstring(b, h->verb, strlen(h->verb));
      buf_put(b, ", ");
      buf_cstring(b, h->path, strlen(h->path));
      buf_put(b, ", ");
      if (h->body)
        buf_cstring(b, h->body, strlen(h->body));
      else
        buf_put(b, "NULL");
      buf_put(b, ", ");
      if (h->response_body)
        buf_cstring(b, h->response_body, strlen(h->response_body));
      else
        buf_put(b, "NULL");
      buf_put(b, "},\n");
    }
    buf_put(b, "};\n");
  }
  if (s->n_methods) {
    buf_printf(b, "static const weft_method_desc %s__methods[%zu] = {\n", c,
               s->n_methods);
    for (size_t i = 0; i < s->n_methods; i++) {
      const gen_method *me = &s->methods[i];
      buf_printf(b,
                 "  {\"%s\", \"/%s/%s\", &%s_desc, &%s_desc, %d, %d, %zu,\n"
                 "   &%s_service, %s__invoke__%s, %zu, %s},\n",
                 me->p->name, s->full, me->p->name, me->in->cname,
                 me->out->cname, me->kind, me->idempotent, i, c, c, me->snake,
                 me->n_http,
                 me->n_http ? gen_fmt("%s__http__%s", c, me->snake) : "NULL");
    }
    buf_put(b, "};\n");
  }
  buf_printf(b,
             "const weft_service_desc %s_service = {\"%s\", \"%s\", %zu, %s, "
             "&%s};\n\n",
             c, s->full, s->p->name, s->n_methods,
             s->n_methods ? gen_fmt("%s__methods", c) : "NULL", s->file->ident);
}

static void emit_file_desc(gen_buf *b, const gen_file *f) {
  /* The descriptor without source info: what reflection and Any need. */
  gen_file_proto *p = (gen_file_proto *)f->p;
  Google__Protobuf__SourceCodeInfo *sci = p->source_code_info;
  p->source_code_info = NULL;
  size_t len = protobuf_c_message_get_packed_size(&p->base);
  uint8_t *bytes = malloc(len ? len : 1);
  protobuf_c_message_pack(&p->base, bytes);
  p->source_code_info = sci;

  const char *id = f->ident;
  buf_printf(b, "/* file %s */\nstatic const uint8_t %s_bytes[%zu] = {",
             f->p->name, id, len ? len : 1);
  for (size_t i = 0; i < len; i++)
    buf_printf(b, "%s0x%02x,", i % 16 ? " " : "\n  ", bytes[i]);
  if (len == 0)
    buf_put(b, "0");
  buf_put(b, "\n};\n");
  free(bytes);
  if (f->n_deps) {
    buf_printf(b, "static const weft_file_desc *const %s_deps[%zu] = {\n", id,
               f->n_deps);
    for (size_t i = 0; i < f->n_deps; i++)
      buf_printf(b, "  &%s,\n", f->deps[i]->ident);
    buf_put(b, "};\n");
  }
  if (f->n_msgs) {
    buf_printf(b, "static const weft_msg_desc *const %s_messages[%zu] = {\n",
               id, f->n_msgs);
    for (size_t i = 0; i < f->n_msgs; i++)
      buf_printf(b, "  &%s_desc,\n", f->msgs[i]->cname);
    buf_put(b, "};\n");
  }
  if (f->n_enums) {
    buf_printf(b, "static const weft_enum_desc *const %s_enums[%zu] = {\n", id,
               f->n_enums);
    for (size_t i = 0; i < f->n_enums; i++)
      buf_printf(b, "  &%s_desc,\n", f->enums[i]->cname);
    buf_put(b, "};\n");
  }
  if (f->n_svcs) {
    buf_printf(b,
               "static const weft_service_desc *const %s_services[%zu] = {\n",
               id, f->n_svcs);
    for (size_t i = 0; i < f->n_svcs; i++)
      buf_printf(b, "  &%s_service,\n", f->svcs[i].cname);
    buf_put(b, "};\n");
  }
  buf_printf(b,
             "const weft_file_desc %s = {\n  \"%s\", \"%s\", %s_bytes, %zu,\n"
             "  %zu, %s,\n  %zu, %s,\n  %zu, %s,\n  %zu, %s};\n",
             id, f->p->name, f->p->package ? f->p->package : "", id, len,
             f->n_deps, f->n_deps ? gen_fmt("%s_deps", id) : "NULL", f->n_msgs,
             f->n_msgs ? gen_fmt("%s_messages", id) : "NULL", f->n_enums,
             f->n_enums ? gen_fmt("%s_enums", id) : "NULL", f->n_svcs,
             f->n_svcs ? gen_fmt("%s_services", id) : "NULL");
}

char *emit_source(const gen_file *f) {
  gen_buf b = {0};
  buf_printf(&b,
             "/* Generated by protoc-gen-weft from %s. Do not edit. */\n"
             "#include \"%s.weft.h\"\n\n",
             f->p->name, f->stem);
  enc_emit_decls(&b, f);
  emit_dec_decls(&b, f);
  for (size_t i = 0; i < f->n_enums; i++)
    emit_enum(&b, f->enums[i]);
  for (size_t i = 0; i < f->n_msgs; i++)
    emit_message(&b, f->msgs[i]);
  for (size_t i = 0; i < f->n_msgs; i++)
    enc_emit(&b, f->msgs[i]);
  for (size_t i = 0; i < f->n_msgs; i++)
    emit_dec(&b, f->msgs[i]);
  for (size_t i = 0; i < f->n_svcs; i++)
    emit_service(&b, &f->svcs[i]);
  emit_file_desc(&b, f);
  char *r = gen_strdup(b.data);
  buf_free(&b);
  return r;
}
