/* The generated encoders of <path>.weft.c (runtime/include/weft/gen_encode.h
 * holds the helpers they call; docs/NAMING.md "Generated encoders" the
 * rules). Two kinds, both straight-line code per field with the tag bytes
 * as constants, written front to back:
 *
 *  - <type>_enc_put: proto3 messages whose fields are implicit-presence
 *    scalars, strings and bytes, repeated strings and bytes,
 *    map<string, string>, and sub-messages (one or repeated) of flat types
 *    of the same file. A sub-message gets a guessed length slot, moved once
 *    when the guess was wrong; no size pass.
 *  - <type>_enc_size and <type>_enc_write: proto3 messages of those fields,
 *    packed repeated scalars, and sub-messages of any such type of the same
 *    file, at any depth (recursive types included). The size pass records
 *    each sub-message's length and each string's strlen, the write pass
 *    consumes them in the same order. */
#include <stdlib.h>
#include <string.h>

#include "gen.h"
#include "types.h"

/* The fields in number order (the order they are written in). */
static const gen_field **by_number(const gen_msg *m, int *loops, int *subs) {
  size_t n = m->n_fields;
  const gen_field **byn = gen_alloc((n + 1) * sizeof(*byn));
  for (size_t i = 0; i < n; i++) {
    const gen_field *fd = &m->fields[i];
    size_t k = i;
    while (k > 0 && byn[k - 1]->p->number > fd->p->number) {
      byn[k] = byn[k - 1];
      k--;
    }
    byn[k] = fd;
    if (field_is_repeated(fd))
      *loops = 1;
    if (fd->p->type == GEN_T(MESSAGE))
      *subs = 1;
  }
  return byn;
}

/* A field of a flat type: no sub-message but map<string, string>. */
static int enc_flat_field(const gen_field *fd) {
  int t = fd->p->type;
  if (!field_plain(fd))
    return 0;
  if (field_is_repeated(fd))
    return t == GEN_T(STRING) || t == GEN_T(BYTES) || field_ss_map(fd);
  return t != GEN_T(MESSAGE) && t != GEN_T(GROUP);
}

static int enc_flat(const gen_msg *m) {
  if (m->file->syntax != 3 || m->map_entry)
    return 0;
  for (size_t i = 0; i < m->n_fields; i++)
    if (!enc_flat_field(&m->fields[i]))
      return 0;
  return 1;
}

/* The types with a generated encoder (<type>_enc_fwd). */
static int enc_covered(const gen_msg *m) {
  if (m->file->syntax != 3 || m->map_entry)
    return 0;
  for (size_t i = 0; i < m->n_fields; i++) {
    const gen_field *fd = &m->fields[i];
    if (enc_flat_field(fd))
      continue;
    if (!field_plain(fd) || fd->map || fd->p->type != GEN_T(MESSAGE) ||
        !enc_flat(fd->msg_type) || fd->msg_type->file != m->file)
      return 0;
  }
  return 1;
}

/* Map entries of map<string, string> fields of covered types get a writer
 * too: an entry with unknown fields goes through it. */
static int enc_ss_entry(const gen_msg *m) {
  const gen_file *f = m->file;
  if (!m->map_entry)
    return 0;
  for (size_t i = 0; i < f->n_msgs; i++) {
    const gen_msg *o = f->msgs[i];
    for (size_t k = 0; k < o->n_fields; k++)
      if (o->fields[k].msg_type == m && field_ss_map(&o->fields[k]) &&
          enc_covered(o))
        return 1;
  }
  return 0;
}

static int enc_has_put(const gen_msg *m) {
  return enc_covered(m) || enc_ss_entry(m);
}

/* Tag bytes, first byte lowest, as a literal; *n gets their count. */
static const char *enc_tag_wt(const gen_field *fd, int wt, unsigned *n) {
  uint64_t v = ((uint64_t)(uint32_t)fd->p->number << 3) | (unsigned)wt,
           bytes = 0;
  *n = 0;
  do {
    uint64_t b = v & 0x7f;
    v >>= 7;
    bytes |= (b | (v ? 0x80 : 0)) << (8 * (*n)++);
  } while (v);
  return gen_fmt("0x%llxu, %u", (unsigned long long)bytes, *n);
}

static const char *enc_tag(const gen_field *fd, unsigned *n) {
  return enc_tag_wt(fd, gen_wire_type(fd->p->type), n);
}

static void emit_enc_field(gen_buf *b, const gen_msg *m, const gen_field *fd) {
  unsigned tn;
  const char *tag = enc_tag(fd, &tn), *f = fd->member;
  /* map entry fields are always written, as Google's encoders do */
  int always = m->map_entry;
  const char *cond = always ? "1" : NULL;
  if (field_is_repeated(fd)) {
    buf_printf(b, "  for (i = 0; i < m->n_%s; i++) {\n", f);
    if (fd->p->type == GEN_T(STRING))
      buf_printf(b, "    p = weft__g_str(p, end, %s, m->%s[i]);\n", tag, f);
    else if (fd->p->type == GEN_T(BYTES))
      buf_printf(b,
                 "    p = weft__g_lfield(p, end, %s, m->%s[i].data, "
                 "m->%s[i].len);\n",
                 tag, f, f);
    else if (field_ss_map(fd))
      buf_printf(b,
                 "    const %s *e = m->%s[i];\n"
                 "    if (e && !e->base.n_unknown_fields)\n"
                 "      p = weft__g_ssentry(p, end, %s, e->%s, e->%s);\n"
                 "    else\n"
                 "      p = weft__g_sub(p, end, %s, e, %s_enc_put, &g);\n",
                 fd->msg_type->cname, f, tag, fd->msg_type->fields[0].member,
                 fd->msg_type->fields[1].member, tag, fd->msg_type->cname);
    else
      buf_printf(b,
                 "    p = weft__g_sub(p, end, %s, m->%s[i], %s_enc_put, &g);\n",
                 tag, f, fd->msg_type->cname);
    buf_put(b, "    if (!p)\n      return NULL;\n  }\n");
    return;
  }
  switch (fd->p->type) {
  case GEN_T(STRING):
    buf_printf(b, "  if (%s%s(m->%s && m->%s[0]))\n", cond ? cond : "",
               cond ? " || " : "", f, f);
    buf_printf(b,
               "    if (!(p = weft__g_str(p, end, %s, m->%s)))\n"
               "      return NULL;\n",
               tag, f);
    return;
  case GEN_T(BYTES):
    buf_printf(b, "  if (%sm->%s.len)\n", cond ? "1 || " : "", f);
    buf_printf(b,
               "    if (!(p = weft__g_lfield(p, end, %s, m->%s.data, "
               "m->%s.len)))\n      return NULL;\n",
               tag, f, f);
    return;
  case GEN_T(MESSAGE):
    buf_printf(b,
               "  if (m->%s)\n"
               "    if (!(p = weft__g_sub(p, end, %s, m->%s, %s_enc_put, "
               "&g)))\n      return NULL;\n",
               f, tag, f, fd->msg_type->cname);
    return;
  case GEN_T(FLOAT):
  case GEN_T(FIXED32):
  case GEN_T(SFIXED32):
  case GEN_T(DOUBLE):
  case GEN_T(FIXED64):
  case GEN_T(SFIXED64): {
    /* presence is bitwise: -0.0 is written */
    int w = gen_wire_type(fd->p->type) == 1 ? 64 : 32;
    buf_printf(b,
               "  {\n    uint%d_t u;\n    memcpy(&u, &m->%s, %d);\n"
               "    if (%su && !(p = weft__g_fixed(p, end, %s, &u, %d)))\n"
               "      return NULL;\n  }\n",
               w, f, w / 8, always ? "1 && " : "", tag, w / 8);
    return;
  }
  default: {
    const char *v;
    switch (fd->p->type) {
    case GEN_T(INT32):
    case GEN_T(ENUM): /* negative: 10 bytes */
      v = gen_fmt("(uint64_t)(int64_t)(int32_t)m->%s", f);
      break;
    case GEN_T(SINT32):
      v = gen_fmt("weft__g_zz32(m->%s)", f);
      break;
    case GEN_T(SINT64):
      v = gen_fmt("weft__g_zz64(m->%s)", f);
      break;
    case GEN_T(BOOL):
      v = gen_fmt("(uint64_t)(m->%s != 0)", f);
      break;
    default:
      v = gen_fmt("(uint64_t)m->%s", f);
    }
    buf_printf(b,
               "  if ((%sm->%s) && !(p = weft__g_vfield(p, end, %s, %s)))\n"
               "    return NULL;\n",
               always ? "1 || " : "", f, tag, v);
  }
  }
}

static void emit_put_decls(gen_buf *b, const gen_file *f, int *any) {
  for (size_t i = 0; i < f->n_msgs; i++) {
    const gen_msg *m = f->msgs[i];
    if (!enc_has_put(m))
      continue;
    if (!*any)
      buf_put(b, "#include \"weft/gen_encode.h\"\n\n");
    *any = 1;
    buf_printf(b,
               "static uint8_t *%s_enc_put(const void *msg, uint8_t *p, "
               "const uint8_t *end);\n",
               m->cname);
    if (enc_covered(m))
      buf_printf(b,
                 "static ssize_t %s_enc_fwd(const void *msg, uint8_t *buf, "
                 "size_t cap);\n",
                 m->cname);
  }
}

static void emit_put(gen_buf *b, const gen_msg *m) {
  size_t n = m->n_fields;
  int loops = 0, subs = 0;
  const gen_field **byn;
  if (!enc_has_put(m))
    return;
  byn = by_number(m, &loops, &subs);
  buf_printf(b,
             "/* %s, front to back: NULL when it does not fit */\n"
             "static uint8_t *%s_enc_put(const void *msg, uint8_t *p, "
             "const uint8_t *end) {\n"
             "  const %s *m = (const %s *)msg;\n",
             m->full, m->cname, m->cname, m->cname);
  if (loops)
    buf_put(b, "  size_t i;\n");
  if (subs)
    buf_put(b, "  unsigned g = 2; /* a sub-message's length slot */\n");
  for (size_t i = 0; i < n; i++)
    emit_enc_field(b, m, byn[i]);
  buf_put(b, "  if (m->base.n_unknown_fields)\n"
             "    p = weft__g_unknown(p, end, &m->base);\n"
             "  return p;\n}\n");
  if (enc_covered(m))
    buf_printf(b,
               "static ssize_t %s_enc_fwd(const void *msg, uint8_t *buf, "
               "size_t cap) {\n"
               "  uint8_t *p = %s_enc_put(msg, buf, buf + cap);\n"
               "  return p ? (ssize_t)(p - buf) : WEFT_ERR_TOO_BIG;\n}\n",
               m->cname, m->cname);
  buf_put(b, "\n");
}
/* ---- sized encoders: <type>_enc_size, <type>_enc_write ---- */

/* A packed repeated scalar (proto3's default for repeated numbers). */
static int sz_packed(const gen_msg *m, const gen_field *fd) {
  return field_plain(fd) && field_packed(m, fd);
}

/* A singular or repeated sub-message of a type of the same file (not a
 * map): covered when that type is. */
static int sz_sub(const gen_msg *m, const gen_field *fd) {
  return field_plain(fd) && !fd->map && fd->p->type == GEN_T(MESSAGE) &&
         fd->msg_type && fd->msg_type->file == m->file;
}

static int sz_candidate(const gen_msg *m) {
  if (m->file->syntax != 3 || m->map_entry)
    return 0;
  for (size_t i = 0; i < m->n_fields; i++) {
    const gen_field *fd = &m->fields[i];
    if (!enc_flat_field(fd) && !sz_packed(m, fd) && !sz_sub(m, fd))
      return 0;
  }
  return 1;
}

/* Which types of a file are covered: the largest set of candidates whose
 * sub-messages are all in the set (a recursive type holds itself, so this
 * is a fixpoint, not a recursion). Kept for the file being emitted. */
static const gen_file *cov_file;
static int *cov;

static size_t msg_index(const gen_file *f, const gen_msg *m) {
  size_t i;
  for (i = 0; i < f->n_msgs && f->msgs[i] != m; i++)
    ;
  return i;
}

static int enc_sized(const gen_msg *m) {
  const gen_file *f = m->file;
  size_t i, k;
  int changed = 1;
  if (cov_file != f) {
    cov = gen_alloc((f->n_msgs + 1) * sizeof(*cov));
    for (i = 0; i < f->n_msgs; i++)
      cov[i] = sz_candidate(f->msgs[i]);
    while (changed) {
      changed = 0;
      for (i = 0; i < f->n_msgs; i++) {
        const gen_msg *o = f->msgs[i];
        for (k = 0; cov[i] && k < o->n_fields; k++)
          if (sz_sub(o, &o->fields[k]) &&
              !cov[msg_index(f, o->fields[k].msg_type)]) {
            cov[i] = 0;
            changed = 1;
          }
      }
    }
    cov_file = f;
  }
  i = msg_index(f, m);
  return i < f->n_msgs && cov[i];
}

/* Bytes per element of a packed fixed-width field; 0 for varints. */
static int sz_fixed(const gen_field *fd) {
  switch (gen_wire_type(fd->p->type)) {
  case 1:
    return 8;
  case 5:
    return 4;
  default:
    return 0;
  }
}

/* Whether the passes loop over a repeated field (a packed fixed-width
 * one is one length and one copy). */
static int sz_loops(const gen_msg *m) {
  for (size_t i = 0; i < m->n_fields; i++)
    if (field_is_repeated(&m->fields[i]) &&
        !(sz_packed(m, &m->fields[i]) && sz_fixed(&m->fields[i])))
      return 1;
  return 0;
}

/* The varint a scalar element x is written as. */
static const char *sz_conv(const gen_field *fd, const char *x) {
  switch (fd->p->type) {
  case GEN_T(INT32):
  case GEN_T(ENUM): /* negative: 10 bytes */
    return gen_fmt("(uint64_t)(int64_t)(int32_t)%s", x);
  case GEN_T(SINT32):
    return gen_fmt("weft__g_zz32(%s)", x);
  case GEN_T(SINT64):
    return gen_fmt("weft__g_zz64(%s)", x);
  case GEN_T(BOOL):
    return gen_fmt("(uint64_t)(%s != 0)", x);
  default:
    return gen_fmt("(uint64_t)%s", x);
  }
}

static void emit_sz_size_field(gen_buf *b, const gen_msg *m,
                               const gen_field *fd) {
  unsigned tn;
  const char *f = fd->member;
  (void)enc_tag(fd, &tn);
  if (field_is_repeated(fd)) {
    if (sz_packed(m, fd)) {
      int w = sz_fixed(fd);
      if (w)
        buf_printf(
            b, "  if (m->n_%s)\n    s += weft__g_lsize(%u, m->n_%s * %d);\n", f,
            tn, f, w);
      else
        buf_printf(b,
                   "  if (m->n_%s) {\n    size_t z = 0;\n"
                   "    for (i = 0; i < m->n_%s; i++)\n"
                   "      z += weft__g_vsize(%s);\n"
                   "    weft__g_rec(L, z);\n"
                   "    s += weft__g_lsize(%u, z);\n  }\n",
                   f, f, sz_conv(fd, gen_fmt("m->%s[i]", f)), tn);
      return;
    }
    buf_printf(b, "  for (i = 0; i < m->n_%s; i++) {\n", f);
    if (fd->p->type == GEN_T(STRING))
      buf_printf(b, "    s += weft__g_str_size(L, %u, m->%s[i]);\n", tn, f);
    else if (fd->p->type == GEN_T(BYTES))
      buf_printf(b, "    s += weft__g_lsize(%u, m->%s[i].len);\n", tn, f);
    else if (field_ss_map(fd))
      buf_printf(b,
                 "    const %s *e = m->%s[i];\n"
                 "    s += e ? weft__g_ss_size(L, %u, &e->base, e->%s, e->%s)"
                 " : %uu + 1u;\n",
                 fd->msg_type->cname, f, tn, fd->msg_type->fields[0].member,
                 fd->msg_type->fields[1].member, tn);
    else
      buf_printf(b,
                 "    const %s *e = m->%s[i];\n"
                 "    if (e) {\n"
                 "      size_t k = weft__g_slot(L), z = %s_enc_size(e, L);\n"
                 "      L->v[k] = (uint32_t)z;\n"
                 "      s += weft__g_lsize(%u, z);\n"
                 "    } else {\n      s += %uu + 1u;\n    }\n",
                 fd->msg_type->cname, f, fd->msg_type->cname, tn, tn);
    buf_put(b, "  }\n");
    return;
  }
  switch (fd->p->type) {
  case GEN_T(STRING):
    buf_printf(b,
               "  if (m->%s && m->%s[0])\n"
               "    s += weft__g_str_size(L, %u, m->%s);\n",
               f, f, tn, f);
    return;
  case GEN_T(BYTES):
    buf_printf(b, "  if (m->%s.len)\n    s += weft__g_lsize(%u, m->%s.len);\n",
               f, tn, f);
    return;
  case GEN_T(MESSAGE):
    buf_printf(b,
               "  if (m->%s) {\n"
               "    size_t k = weft__g_slot(L), z = %s_enc_size(m->%s, L);\n"
               "    L->v[k] = (uint32_t)z;\n"
               "    s += weft__g_lsize(%u, z);\n  }\n",
               f, fd->msg_type->cname, f, tn);
    return;
  default:
    if (sz_fixed(fd)) {
      int w = sz_fixed(fd);
      buf_printf(b,
                 "  {\n    uint%d_t u;\n    memcpy(&u, &m->%s, %d);\n"
                 "    if (u)\n      s += %uu + %du;\n  }\n",
                 w * 8, f, w, tn, w);
      return;
    }
    buf_printf(b, "  if (m->%s)\n    s += %uu + weft__g_vsize(%s);\n", f, tn,
               sz_conv(fd, gen_fmt("m->%s", f)));
  }
}

static void emit_sz_write_field(gen_buf *b, const gen_msg *m,
                                const gen_field *fd) {
  unsigned tn;
  const char *tag = enc_tag(fd, &tn), *f = fd->member;
  if (field_is_repeated(fd)) {
    if (sz_packed(m, fd)) {
      tag = enc_tag_wt(fd, 2, &tn); /* one length-delimited run */
      int w = sz_fixed(fd);
      if (w)
        buf_printf(b,
                   "  if (m->n_%s &&\n"
                   "      !(p = weft__g_lfield(p, end, %s, m->%s, m->n_%s * "
                   "%d)))\n    return NULL;\n",
                   f, tag, f, f, w);
      else
        buf_printf(b,
                   "  if (m->n_%s) {\n"
                   "    if (!(p = weft__g_subhead(p, end, %s, *r++)))\n"
                   "      return NULL;\n"
                   "    for (i = 0; i < m->n_%s; i++)\n"
                   "      p = weft__g_varint(p, %s);\n  }\n",
                   f, tag, f, sz_conv(fd, gen_fmt("m->%s[i]", f)));
      return;
    }
    buf_printf(b, "  for (i = 0; i < m->n_%s; i++) {\n", f);
    if (fd->p->type == GEN_T(STRING))
      buf_printf(b, "    p = weft__g_lfield(p, end, %s, m->%s[i], *r++);\n",
                 tag, f);
    else if (fd->p->type == GEN_T(BYTES))
      buf_printf(b,
                 "    p = weft__g_lfield(p, end, %s, m->%s[i].data, "
                 "m->%s[i].len);\n",
                 tag, f, f);
    else if (field_ss_map(fd))
      buf_printf(b,
                 "    const %s *e = m->%s[i];\n"
                 "    if (e) {\n"
                 "      p = weft__g_ss_put(p, end, %s, &e->base, e->%s, r[0], "
                 "e->%s, r[1]);\n"
                 "      r += 2;\n"
                 "    } else {\n"
                 "      p = weft__g_lfield(p, end, %s, \"\", 0);\n    }\n",
                 fd->msg_type->cname, f, tag, fd->msg_type->fields[0].member,
                 fd->msg_type->fields[1].member, tag);
    else
      buf_printf(b,
                 "    const %s *e = m->%s[i];\n"
                 "    if (e) {\n"
                 "      if ((p = weft__g_subhead(p, end, %s, *r++)) != NULL) "
                 "{\n"
                 "        *rp = r;\n"
                 "        p = %s_enc_write(e, p, end, rp);\n"
                 "        r = *rp;\n      }\n"
                 "    } else {\n"
                 "      p = weft__g_lfield(p, end, %s, \"\", 0);\n    }\n",
                 fd->msg_type->cname, f, tag, fd->msg_type->cname, tag);
    buf_put(b, "    if (!p)\n      return NULL;\n  }\n");
    return;
  }
  switch (fd->p->type) {
  case GEN_T(STRING):
    buf_printf(b,
               "  if (m->%s && m->%s[0] &&\n"
               "      !(p = weft__g_lfield(p, end, %s, m->%s, *r++)))\n"
               "    return NULL;\n",
               f, f, tag, f);
    return;
  case GEN_T(MESSAGE):
    buf_printf(b,
               "  if (m->%s) {\n"
               "    if (!(p = weft__g_subhead(p, end, %s, *r++)))\n"
               "      return NULL;\n"
               "    *rp = r;\n"
               "    if (!(p = %s_enc_write(m->%s, p, end, rp)))\n"
               "      return NULL;\n"
               "    r = *rp;\n  }\n",
               f, tag, fd->msg_type->cname, f);
    return;
  default:
    emit_enc_field(b, m, fd); /* scalars and bytes: as the put writers */
  }
}

static void emit_sized(gen_buf *b, const gen_msg *m) {
  int loops = 0, subs = 0;
  const gen_field **byn;
  const char *c = m->cname;
  size_t n = m->n_fields;
  if (!enc_sized(m))
    return;
  byn = by_number(m, &loops, &subs);
  loops = sz_loops(m);
  buf_printf(b,
             "/* %s: the size pass, recording what the write pass needs */\n"
             "static size_t %s_enc_size(const void *msg, weft__g_lens *L) {\n"
             "  const %s *m = (const %s *)msg;\n  size_t s = 0;\n",
             m->full, c, c, c);
  if (loops)
    buf_put(b, "  size_t i;\n");
  for (size_t i = 0; i < n; i++)
    emit_sz_size_field(b, m, byn[i]);
  buf_put(b, "  (void)L;\n"
             "  if (m->base.n_unknown_fields)\n"
             "    s += weft__g_unknown_size(&m->base);\n"
             "  return s;\n}\n");
  buf_printf(b,
             "/* %s: the write pass, front to back, taking the records */\n"
             "static uint8_t *%s_enc_write(const void *msg, uint8_t *p,\n"
             "    const uint8_t *end, const uint32_t **rp) {\n"
             "  const %s *m = (const %s *)msg;\n"
             "  const uint32_t *r = *rp;\n",
             m->full, c, c, c);
  if (loops)
    buf_put(b, "  size_t i;\n");
  for (size_t i = 0; i < n; i++)
    emit_sz_write_field(b, m, byn[i]);
  buf_put(b, "  if (m->base.n_unknown_fields)\n"
             "    p = weft__g_unknown(p, end, &m->base);\n"
             "  *rp = r;\n  return p;\n}\n");
  if (!enc_covered(m))
    buf_printf(b,
               "static ssize_t %s_enc_sized(const void *msg, uint8_t *buf, "
               "size_t cap) {\n"
               "  return weft__g_sized(msg, buf, cap, %s_enc_size, "
               "%s_enc_write);\n}\n",
               c, c, c);
  buf_printf(b,
             "static int %s_enc_alloc(const void *msg, uint8_t **out, "
             "size_t *out_len) {\n"
             "  return weft__g_sized_alloc(msg, out, out_len, %s_enc_size, "
             "%s_enc_write);\n}\n\n",
             c, c, c);
}

/* ---- what emit_source.c calls ---- */

void enc_emit_decls(gen_buf *b, const gen_file *f) {
  int any = 0;
  emit_put_decls(b, f, &any);
  for (size_t i = 0; i < f->n_msgs; i++) {
    const gen_msg *m = f->msgs[i];
    const char *c = m->cname;
    if (!enc_sized(m))
      continue;
    if (!any)
      buf_put(b, "#include \"weft/gen_encode.h\"\n\n");
    any = 1;
    buf_printf(b,
               "static size_t %s_enc_size(const void *msg, weft__g_lens *L);\n"
               "static uint8_t *%s_enc_write(const void *msg, uint8_t *p,\n"
               "    const uint8_t *end, const uint32_t **rp);\n"
               "static int %s_enc_alloc(const void *msg, uint8_t **out, "
               "size_t *out_len);\n",
               c, c, c);
    if (!enc_covered(m))
      buf_printf(b,
                 "static ssize_t %s_enc_sized(const void *msg, uint8_t *buf, "
                 "size_t cap);\n",
                 c);
  }
  if (any)
    buf_put(b, "\n");
}

void enc_emit(gen_buf *b, const gen_msg *m) {
  emit_put(b, m);
  emit_sized(b, m);
}

const char *enc_desc_encode(const gen_msg *m) {
  if (enc_covered(m))
    return gen_fmt("%s_enc_fwd", m->cname);
  return enc_sized(m) ? gen_fmt("%s_enc_sized", m->cname) : "NULL";
}

const char *enc_desc_encode_alloc(const gen_msg *m) {
  return enc_sized(m) ? gen_fmt("%s_enc_alloc", m->cname) : "NULL";
}
