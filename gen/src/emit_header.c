/* <path>.weft.h: types, descriptor declarations, typed inline wrappers over
 * the runtime, service implementation structs and client stubs.
 *
 * The wrappers are `static inline` on purpose: the runtime itself is built
 * on generated code (the well-known types, weft's envelope), so generated
 * .c files must not reference runtime symbols or the static libraries
 * would need each other. Inline wrappers only pull in the runtime where an
 * application calls them. */
#include <stdbool.h>
#include <string.h>

#include "gen.h"
#include "types.h"

static void emit_enum_type(gen_buf *b, const gen_enum *e) {
  buf_printf(b, "/* enum %s */\ntypedef enum %s {\n", e->full, e->cname);
  for (size_t i = 0; i < e->p->n_value; i++)
    buf_printf(b, "  %s__%s = %d,\n", e->cname, e->p->value[i]->name,
               e->p->value[i]->number);
  /* Forces int size, as protobuf-c's PROTOBUF_C__FORCE_ENUM_TO_BE_INT_SIZE. */
  buf_printf(b, "  %s_int_size_ = INT_MAX\n} %s;\n", e->cname, e->cname);
  buf_printf(b, "extern const weft_enum_desc %s_desc;\n\n", e->cname);
}

static void emit_member(gen_buf *b, const gen_msg *m, const gen_field *fd,
                        const char *indent) {
  const char *t = field_ctype(fd);
  if (field_is_repeated(fd)) {
    buf_printf(b, "%ssize_t n_%s;\n", indent, fd->member);
    buf_printf(b, "%s%s;\n", indent, c_decl(t, "*", fd->member));
    return;
  }
  if (field_has_flag(m, fd))
    buf_printf(b, "%sprotobuf_c_boolean has_%s;\n", indent, fd->member);
  buf_printf(b, "%s%s;\n", indent, c_decl(t, "", fd->member));
}

static void emit_struct(gen_buf *b, const gen_msg *m) {
  buf_printf(b, "/* message %s */\nstruct %s {\n  ProtobufCMessage base;\n",
             m->full, m->cname);
  for (size_t i = 0; i < m->n_fields; i++)
    if (m->fields[i].oneof < 0)
      emit_member(b, m, &m->fields[i], "  ");
  for (size_t o = 0; o < m->n_oneofs; o++) {
    buf_printf(b,
               "  uint32_t %s_case; /* field number, 0 = none */\n  union {\n",
               m->oneofs[o].member);
    for (size_t i = 0; i < m->n_fields; i++)
      if (m->fields[i].oneof == (int)o)
        emit_member(b, m, &m->fields[i], "    ");
    buf_put(b, "  };\n");
  }
  buf_put(b, "};\n");

  /* The INIT macro: values in struct order. */
  gen_buf defs = {0};
  buf_printf(b,
             "#define %s_INIT \\\n  { PROTOBUF_C_MESSAGE_INIT(&%s_desc.base)",
             m->cname, m->cname);
  for (size_t i = 0; i < m->n_fields; i++) {
    const gen_field *fd = &m->fields[i];
    if (fd->oneof >= 0)
      continue;
    if (field_is_repeated(fd)) {
      buf_put(b, ", 0, NULL");
      continue;
    }
    gen_default d;
    field_default(m, fd, &d);
    if (d.header)
      buf_put(&defs, d.header);
    if (field_has_flag(m, fd))
      buf_put(b, ", 0");
    buf_printf(b, ", %s", d.init);
  }
  for (size_t o = 0; o < m->n_oneofs; o++) {
    const gen_field *first = &m->fields[m->oneofs[o].first_field];
    buf_printf(b, ", 0, {%s}",
               first->p->type == GEN_T(BYTES) ? "{0, NULL}" : "0");
  }
  buf_put(b, " }\n");
  if (defs.data)
    buf_put(b, defs.data);
  buf_free(&defs);
  buf_printf(b, "extern const weft_msg_desc %s_desc;\n", m->cname);
  buf_printf(b, "void %s_init(%s *m);\n", m->cname, m->cname);
  /* Field numbers by member name: what a oneof's <name>_case holds. */
  if (m->n_fields) {
    buf_put(b, "enum {");
    for (size_t i = 0; i < m->n_fields; i++)
      buf_printf(b, "%s\n  %s_FIELD_%s = %d", i ? "," : "", m->cname,
                 m->fields[i].member, m->fields[i].p->number);
    buf_put(b, "\n};\n");
  }

  const char *c = m->cname;
  buf_printf(b,
             "static inline %s *%s_new(weft_arena *arena) {\n"
             "  return (%s *)weft_message_new(&%s_desc, arena);\n}\n",
             c, c, c, c);
  buf_printf(b,
             "static inline int %s_decode(const uint8_t *data, size_t len,\n"
             "    const weft_decode_opts *opts, %s **out, weft_error *err) {\n"
             "  void *m = NULL;\n"
             "  int rv = weft_decode(&%s_desc, data, len, opts, &m, err);\n"
             "  *out = (%s *)m;\n  return rv;\n}\n",
             c, c, c, c);
  buf_printf(b,
             "static inline ssize_t %s_encode(const %s *m, uint8_t *buf, "
             "size_t cap) {\n  return weft_encode(m, buf, cap);\n}\n",
             c, c);
  buf_printf(b,
             "static inline int %s_encode_alloc(const %s *m, uint8_t **out,\n"
             "    size_t *out_len) {\n"
             "  return weft_encode_alloc(m, out, out_len);\n}\n",
             c, c);
  buf_printf(b,
             "static inline size_t %s_size(const %s *m) {\n"
             "  return weft_encoded_size(m);\n}\n",
             c, c);
  buf_printf(b,
             "static inline void %s_free(%s *m) {\n"
             "  weft_message_free(m);\n}\n",
             c, c);
  buf_printf(b,
             "static inline void %s_clear(%s *m) {\n"
             "  weft_message_clear(m);\n}\n",
             c, c);
  buf_printf(b,
             "static inline int %s_to_json(const %s *m, const weft_json_opts "
             "*opts,\n    char **out, size_t *out_len, weft_error *err) {\n"
             "  return weft_json_encode(m, opts, out, out_len, err);\n}\n",
             c, c);
  buf_printf(
      b,
      "static inline int %s_from_json(const char *json, size_t len,\n"
      "    const weft_json_opts *opts, %s **out, weft_error *err) {\n"
      "  void *m = NULL;\n"
      "  int rv = weft_json_decode(&%s_desc, json, len, opts, &m, err);\n"
      "  *out = (%s *)m;\n  return rv;\n}\n\n",
      c, c, c, c);
}

/* Typed stream messages, so a message of the wrong type does not compile:
 * server side <svc>_<method>_send (a response) and _recv / _recv_owned
 * (a request); client side <svc>_<method>_write (a request) and _read (a
 * response). Only the directions the method streams in. */
static void emit_typed_stream(gen_buf *b, const char *c, const gen_method *me) {
  bool server_streams = me->kind == 1 || me->kind == 3;
  bool client_streams = me->kind == 2 || me->kind == 3;
  const char *in = me->in->cname, *out = me->out->cname;
  if (server_streams) {
    buf_printf(b,
               "static inline int %s_%s_send(weft_server_call *call, "
               "const %s *msg) {\n"
               "  return weft_server_call_send(call, msg);\n}\n"
               "static inline int %s_%s_read(weft_call *call, %s **msg) {\n"
               "  void *m = NULL;\n"
               "  int rv = weft_call_recv(call, &m);\n"
               "  *msg = (%s *)m;\n  return rv;\n}\n",
               c, me->snake, out, c, me->snake, out, out);
  }
  if (client_streams) {
    buf_printf(b,
               "static inline int %s_%s_recv(weft_server_call *call, "
               "%s **msg) {\n"
               "  void *m = NULL;\n"
               "  int rv = weft_server_call_recv(call, &m);\n"
               "  *msg = (%s *)m;\n  return rv;\n}\n"
               "static inline int %s_%s_recv_owned(weft_server_call *call, "
               "%s **msg) {\n"
               "  void *m = NULL;\n"
               "  int rv = weft_server_call_recv_owned(call, &m);\n"
               "  *msg = (%s *)m;\n  return rv;\n}\n"
               "static inline int %s_%s_write(weft_call *call, "
               "const %s *msg) {\n"
               "  return weft_call_send(call, msg);\n}\n",
               c, me->snake, in, in, c, me->snake, in, in, c, me->snake, in);
  }
}

static void emit_service(gen_buf *b, const gen_svc *s) {
  const char *c = s->cname;
  buf_printf(b, "/* service %s */\ntypedef struct %s_impl {\n", s->full, c);
  for (size_t i = 0; i < s->n_methods; i++) {
    const gen_method *me = &s->methods[i];
    switch (me->kind) {
    case 0:
      buf_printf(b,
                 "  int (*%s)(weft_server_call *call, const %s *req, %s *resp,"
                 " void *ctx);\n",
                 me->snake, me->in->cname, me->out->cname);
      break;
    case 1:
      buf_printf(b,
                 "  int (*%s)(weft_server_call *call, const %s *req, "
                 "void *ctx);\n",
                 me->snake, me->in->cname);
      break;
    case 2:
      buf_printf(b,
                 "  int (*%s)(weft_server_call *call, %s *resp, void *ctx);\n",
                 me->snake, me->out->cname);
      break;
    default:
      buf_printf(b, "  int (*%s)(weft_server_call *call, void *ctx);\n",
                 me->snake);
    }
  }
  if (s->n_methods == 0)
    buf_put(b, "  int unused_;\n");
  buf_printf(b, "} %s_impl;\nextern const weft_service_desc %s_service;\n", c,
             c);
  for (size_t i = 0; i < s->n_methods; i++) {
    const gen_method *me = &s->methods[i];
    buf_printf(b, "/* %s: %s */\n", me->p->name,
               me->kind == 0   ? "unary"
               : me->kind == 1 ? "server streaming"
               : me->kind == 2 ? "client streaming"
                               : "bidirectional streaming");
    if (me->kind == 0) {
      buf_printf(b,
                 "static inline int %s_%s(weft_client *c, const %s *req, "
                 "%s **resp,\n    weft_call_opts *opts) {\n"
                 "  void *r = NULL;\n"
                 "  int rv = weft_call_unary(c, &%s_service.methods[%zu], req, "
                 "&r, opts);\n"
                 "  *resp = (%s *)r;\n  return rv;\n}\n",
                 c, me->snake, me->in->cname, me->out->cname, c, i,
                 me->out->cname);
    } else if (me->kind == 1) {
      buf_printf(b,
                 "static inline int %s_%s(weft_client *c, const %s *req,\n"
                 "    weft_call **call, weft_call_opts *opts) {\n"
                 "  weft_call *k = NULL;\n"
                 "  int rv = weft_call_start(c, &%s_service.methods[%zu], "
                 "opts, &k);\n"
                 "  if (rv < 0)\n    return rv;\n"
                 "  rv = weft_call_send(k, req);\n"
                 "  if (rv >= 0)\n    rv = weft_call_close_send(k);\n"
                 "  if (rv < 0) {\n    weft_call_cancel(k);\n"
                 "    (void)weft_call_finish(k);\n    return rv;\n  }\n"
                 "  *call = k;\n  return 0;\n}\n",
                 c, me->snake, me->in->cname, c, i);
    } else {
      buf_printf(b,
                 "static inline int %s_%s(weft_client *c, weft_call **call,\n"
                 "    weft_call_opts *opts) {\n"
                 "  return weft_call_start(c, &%s_service.methods[%zu], opts, "
                 "call);\n}\n",
                 c, me->snake, c, i);
    }
    emit_typed_stream(b, c, me);
  }
  buf_put(b, "\n");
}

char *emit_header(const gen_file *f) {
  gen_buf b = {0};
  const char *guard = gen_fmt("%s_WEFT_H", f->ident);
  buf_printf(&b,
             "/* Generated by protoc-gen-weft from %s. Do not edit. */\n"
             "#ifndef %s\n#define %s\n\n",
             f->p->name, guard, guard);
  buf_put(&b, "#include <limits.h>\n#include <math.h>\n#include <stddef.h>\n"
              "#include <stdint.h>\n#include <sys/types.h>\n\n"
              "#include <protobuf-c/protobuf-c.h>\n\n"
              "#include \"weft/codec.h\"\n#include \"weft/desc.h\"\n"
              "#include \"weft/json.h\"\n");
  if (f->n_svcs)
    buf_put(&b, "#include \"weft/client.h\"\n#include \"weft/server.h\"\n");
  for (size_t i = 0; i < f->n_deps; i++)
    buf_printf(&b, "#include \"%s.weft.h\"\n", f->deps[i]->stem);
  buf_put(&b, "\n#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n");

  for (size_t i = 0; i < f->n_msgs; i++)
    buf_printf(&b, "typedef struct %s %s;\n", f->msgs[i]->cname,
               f->msgs[i]->cname);
  if (f->n_msgs)
    buf_put(&b, "\n");
  for (size_t i = 0; i < f->n_enums; i++)
    emit_enum_type(&b, f->enums[i]);
  for (size_t i = 0; i < f->n_msgs; i++)
    emit_struct(&b, f->msgs[i]);
  for (size_t i = 0; i < f->n_svcs; i++)
    emit_service(&b, &f->svcs[i]);

  buf_printf(&b,
             "/* The file: serialized descriptor, dependencies, contents. */\n"
             "extern const weft_file_desc %s;\n"
             "/* Adds this file (and its imports) to weft_registry_global(), "
             "for Any and\n   reflection. */\n"
             "static inline int %s_register(void) {\n"
             "  return weft_registry_add_file(weft_registry_global(), &%s);\n"
             "}\n\n",
             f->ident, f->ident, f->ident);
  buf_printf(&b, "#ifdef __cplusplus\n}\n#endif\n#endif /* %s */\n", guard);
  char *r = gen_strdup(b.data);
  buf_free(&b);
  return r;
}
