/* Generated decoders (runtime/include/weft/gen_decode.h): for the types
 * docs/NAMING.md lists under "Generated decoders", a function that reads
 * the fields of one message with a switch on the tag and straight code per
 * field (constant offsets, no table), calling the decoders of sub-messages
 * of the same file directly. Whatever it does not read itself, from an
 * unknown field to a malformed value, goes with the rest of the message to
 * the codec's table loop, so results and errors are the table loop's. */
#include <string.h>

#include "gen.h"
#include "types.h"

static int dec_field_ok(const gen_field *fd) {
  int t = fd->p->type;
  if (!field_plain(fd) || t == GEN_T(GROUP))
    return 0;
  if (t == GEN_T(ENUM) && (!fd->enum_type || fd->enum_type->closed))
    return 0; /* closed enums keep unknown numbers aside: the table's job */
  if (fd->map)
    return field_ss_map(fd);
  if (t == GEN_T(MESSAGE))
    return fd->msg_type && !fd->msg_type->map_entry;
  return 1;
}

int dec_covered(const gen_msg *m) {
  if (m->file->syntax != 3 || m->map_entry)
    return 0;
  for (size_t i = 0; i < m->n_fields; i++)
    if (!dec_field_ok(&m->fields[i]))
      return 0;
  return 1;
}

const char *dec_fn(const gen_msg *m) {
  return dec_covered(m) ? gen_fmt("%s_dec", m->cname) : "NULL";
}

void emit_dec_decls(gen_buf *b, const gen_file *f) {
  int any = 0;
  for (size_t i = 0; i < f->n_msgs; i++) {
    const gen_msg *m = f->msgs[i];
    if (!dec_covered(m))
      continue;
    if (!any)
      buf_put(b, "#include \"weft/gen_decode.h\"\n\n");
    any = 1;
    buf_printf(b,
               "static int %s_dec(weft__gd *st, void *msg, const uint8_t "
               "**pp,\n    const uint8_t *end, unsigned depth);\n",
               m->cname);
  }
  if (any)
    buf_put(b, "\n");
}

/* The value of a tag of up to two varint bytes as the loop assembles it
 * (first byte's 7 bits, then the second's); 0: a longer tag, which the
 * table loop reads. */
static unsigned dec_case(const gen_field *fd, int wt) {
  uint64_t v = ((uint64_t)(uint32_t)fd->p->number << 3) | (unsigned)wt;
  return v < (1u << 14) ? (unsigned)v : 0;
}

/* Position of the field in the descriptor's fields (sorted by number). */
static size_t dec_index(const gen_msg *m, const gen_field *fd) {
  size_t k = 0;
  for (size_t i = 0; i < m->n_fields; i++)
    if (m->fields[i].p->number < fd->p->number)
      k++;
  return k;
}

/* A varint value v stored into the location `dst` (an lvalue's address). */
static void dec_store_varint(gen_buf *b, int t, const char *dst,
                             const char *ind) {
  switch (t) {
  case GEN_T(INT64):
  case GEN_T(UINT64):
    buf_printf(b, "%smemcpy(%s, &v, 8);\n", ind, dst);
    break;
  case GEN_T(SINT64):
    buf_printf(b,
               "%s{\n%s  int64_t z = (int64_t)((v >> 1) ^ (~(v & 1) + 1));\n"
               "%s  memcpy(%s, &z, 8);\n%s}\n",
               ind, ind, ind, dst, ind);
    break;
  case GEN_T(SINT32):
    buf_printf(b,
               "%s{\n%s  uint32_t u = (uint32_t)v;\n"
               "%s  int32_t z = (int32_t)((u >> 1) ^ (~(u & 1) + 1));\n"
               "%s  memcpy(%s, &z, 4);\n%s}\n",
               ind, ind, ind, ind, dst, ind);
    break;
  case GEN_T(BOOL):
    buf_printf(b,
               "%s{\n%s  protobuf_c_boolean z = v != 0;\n"
               "%s  memcpy(%s, &z, sizeof z);\n%s}\n",
               ind, ind, ind, dst, ind);
    break;
  default: /* int32, uint32, enum: truncated to 32 bits */
    buf_printf(b,
               "%s{\n%s  uint32_t u = (uint32_t)v;\n%s  memcpy(%s, &u, 4);\n"
               "%s}\n",
               ind, ind, ind, dst, ind);
  }
}

static void emit_dec_field(gen_buf *b, const gen_msg *m, const gen_field *fd) {
  const char *f = fd->member, *name = fd->p->name;
  int t = fd->p->type, wt = gen_wire_type(t);
  int utf8 = t == GEN_T(STRING) && m->file->syntax == 3;
  unsigned tag = dec_case(fd, wt);

  if (field_is_repeated(fd) && t != GEN_T(STRING) && t != GEN_T(BYTES) &&
      t != GEN_T(MESSAGE)) {
    /* scalars: a packed run through the codec's reader; an unpacked
     * element goes to the table loop */
    tag = dec_case(fd, 2);
    if (!tag)
      return;
    buf_printf(b,
               "    case %uu: /* %s, packed */\n"
               "      if ((rv = st->ops->packed(st, &%s_desc, msg, %zu, &p, "
               "end)) != 0)\n        return rv;\n      continue;\n",
               tag, name, m->cname, dec_index(m, fd));
    return;
  }
  if (!tag)
    return;
  buf_printf(b, "    case %uu: { /* %s */\n", tag, name);
  if (field_is_repeated(fd)) {
    const gen_msg *s = fd->msg_type;
    if (t == GEN_T(STRING) || t == GEN_T(BYTES)) {
      int str = t == GEN_T(STRING);
      buf_printf(b,
                 "      %s *a;\n      %s\n"
                 "      if (!(a = (%s *)weft__gd_room(st, (void **)&m->%s, "
                 "m->n_%s, sizeof *a)))\n        goto rest;\n",
                 str ? "char *" : "ProtobufCBinaryData",
                 str ? "char *e = NULL;" : "ProtobufCBinaryData e = {0, NULL};",
                 str ? "char *" : "ProtobufCBinaryData", f, f);
      if (str)
        buf_printf(b,
                   "      if (!(q = weft__gd_str(st, p, end, &e, %d)))\n"
                   "        goto rest;\n",
                   utf8);
      else
        buf_put(b, "      if (!(q = weft__gd_bytes(st, p, end, &e)))\n"
                   "        goto rest;\n");
      buf_printf(b, "      a[m->n_%s++] = e;\n", f);
    } else if (fd->map) {
      buf_printf(b,
                 "      void **a;\n      size_t k = m->n_%s;\n"
                 "      if (!(a = (void **)weft__gd_room(st, (void **)&m->%s, "
                 "k, sizeof *a)))\n        goto rest;\n"
                 "      if (!(q = weft__gd_map_ss(st, p, end, depth, &%s_desc, "
                 "sizeof(%s),\n          offsetof(%s, %s), offsetof(%s, %s), "
                 "%d, a, k)))\n        goto rest;\n"
                 "      m->n_%s = k + 1;\n      if (k + 1 > 16)\n"
                 "        mp = 1;\n",
                 f, f, s->cname, s->cname, s->cname, s->fields[0].member,
                 s->cname, s->fields[1].member, m->file->syntax == 3, f);
    } else {
      int direct = s->file == m->file && dec_covered(s);
      buf_printf(b,
                 "      %s **a, *e;\n      size_t n, k = m->n_%s;\n"
                 "      if (!(q = weft__gd_len(st, p, end, &n)) ||\n"
                 "          depth + 1 > st->max_depth)\n        goto rest;\n"
                 "      if (!(a = (%s **)weft__gd_room(st, (void **)&m->%s, "
                 "k, sizeof *a)))\n        goto rest;\n"
                 "      a[k] = NULL;\n      m->n_%s = k + 1;\n"
                 "      if (!(e = (%s *)weft__gd_msg(st, sizeof *e)))\n"
                 "        return st->ops->unwind(st, st->ops->nomem(st, q), "
                 "\"%s\", (long)k);\n"
                 "      %s_init(e);\n      a[k] = e;\n",
                 s->cname, f, s->cname, f, f, s->cname, name, s->cname);
      if (direct)
        buf_printf(b, "      rv = %s_dec(st, e, &q, q + n, depth + 1);\n",
                   s->cname);
      else
        buf_printf(b,
                   "      rv = st->ops->sub(st, &%s_desc, e, &q, q + n, "
                   "depth + 1, 0);\n",
                   s->cname);
      buf_printf(b,
                 "      if (rv)\n        return st->ops->unwind(st, rv, "
                 "\"%s\", (long)k);\n",
                 name);
    }
    buf_put(b, "      p = q;\n      continue;\n    }\n");
    return;
  }
  switch (t) {
  case GEN_T(STRING):
    buf_printf(b,
               "      if (!(q = weft__gd_str(st, p, end, &m->%s, %d)))\n"
               "        goto rest;\n",
               f, utf8);
    break;
  case GEN_T(BYTES):
    buf_printf(b,
               "      if (!(q = weft__gd_bytes(st, p, end, &m->%s)))\n"
               "        goto rest;\n",
               f);
    break;
  case GEN_T(MESSAGE): {
    const gen_msg *s = fd->msg_type;
    int direct = s->file == m->file && dec_covered(s);
    buf_printf(b,
               "      %s *e = m->%s;\n      size_t n;\n"
               "      int merging = e != NULL;\n"
               "      if (!(q = weft__gd_len(st, p, end, &n)) ||\n"
               "          depth + 1 > st->max_depth)\n        goto rest;\n"
               "      if (!e) {\n"
               "        if (!(e = (%s *)weft__gd_msg(st, sizeof *e)))\n"
               "          return st->ops->unwind(st, st->ops->nomem(st, q), "
               "\"%s\", -1);\n"
               "        %s_init(e);\n        m->%s = e;\n      }\n",
               s->cname, f, s->cname, name, s->cname, f);
    if (direct)
      buf_printf(b,
                 "      (void)merging;\n"
                 "      rv = %s_dec(st, e, &q, q + n, depth + 1);\n",
                 s->cname);
    else
      buf_printf(b,
                 "      rv = st->ops->sub(st, &%s_desc, e, &q, q + n, "
                 "depth + 1, merging);\n",
                 s->cname);
    buf_printf(b,
               "      if (rv)\n        return st->ops->unwind(st, rv, "
               "\"%s\", -1);\n",
               name);
    break;
  }
  case GEN_T(FLOAT):
  case GEN_T(FIXED32):
  case GEN_T(SFIXED32):
  case GEN_T(DOUBLE):
  case GEN_T(FIXED64):
  case GEN_T(SFIXED64): {
    int w = wt == 1 ? 8 : 4;
    buf_printf(b,
               "      if (end - p < %d)\n        goto rest;\n"
               "      memcpy(&m->%s, p, %d);\n      q = p + %d;\n",
               w, f, w, w);
    break;
  }
  default:
    buf_put(b, "      if (!(q = weft__gd_varint(st, p, end, &v)))\n"
               "        goto rest;\n");
    dec_store_varint(b, t, gen_fmt("&m->%s", f), "      ");
  }
  buf_put(b, "      p = q;\n      continue;\n    }\n");
}

void emit_dec(gen_buf *b, const gen_msg *m) {
  int maps = 0, varints = 0;
  if (!dec_covered(m))
    return;
  for (size_t i = 0; i < m->n_fields; i++) {
    const gen_field *fd = &m->fields[i];
    if (fd->map)
      maps = 1;
    if (!field_is_repeated(fd) && gen_wire_type(fd->p->type) == 0)
      varints = 1;
  }
  buf_printf(b,
             "/* %s: the fields this decoder reads itself, then the table\n"
             " * loop for anything else (weft/gen_decode.h) */\n"
             "static int %s_dec(weft__gd *st, void *msg, const uint8_t **pp,\n"
             "    const uint8_t *end, unsigned depth) {\n"
             "  %s *m = (%s *)msg;\n"
             "  const uint8_t *p = *pp, *t0 = p, *q;\n"
             "  int rv, mp = 0;\n",
             m->full, m->cname, m->cname, m->cname);
  if (varints)
    buf_put(b, "  uint64_t v;\n");
  buf_put(b, "  (void)m;\n  (void)q;\n  (void)rv;\n  (void)depth;\n");
  buf_put(b, "  while (p < end) {\n"
             "    uint32_t tag = p[0];\n"
             "    t0 = p;\n"
             "    if (WEFT__GD_LIKELY(tag < 0x80)) {\n"
             "      p++;\n"
             "    } else if (end - p >= 2 && p[1] < 0x80) {\n"
             "      tag = (tag & 0x7f) | ((uint32_t)p[1] << 7);\n"
             "      p += 2;\n"
             "    } else {\n"
             "      goto rest;\n"
             "    }\n"
             "    switch (tag) {\n");
  for (size_t i = 0; i < m->n_fields; i++)
    emit_dec_field(b, m, &m->fields[i]);
  buf_put(b, "    default:\n      goto rest;\n    }\n  }\n  *pp = p;\n");
  if (maps)
    buf_printf(b, "  return mp ? st->ops->finish(st, &%s_desc, msg, p) : 0;\n",
               m->cname);
  else
    buf_put(b, "  return 0;\n");
  buf_printf(b,
             "rest:\n  *pp = t0;\n"
             "  return st->ops->rest(st, &%s_desc, msg, pp, end, depth, mp);\n"
             "}\n\n",
             m->cname);
}
