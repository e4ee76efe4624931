/* Rules on pairs of fields: the same number in messages of the same full
 * name, and extensions of the same extendee and number. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "brk_internal.h"

#define T(x) GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_##x
#define L(x) GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_##x

/* One side of a field pair. */
typedef struct fside {
  const brk_side *s;
  const brk_file *file;
  const brk_msg_pb *msg; /* containing message; NULL for an extension */
  const brk_field_pb *f;
  brk_path path;         /* the field's own path */
  const char *desc_name; /* field name, or the extension's full name */
  const char *owner;     /* message name, or the extendee */
} fside;

enum card { C_EXPLICIT = 1, C_IMPLICIT, C_REQUIRED, C_REPEATED, C_MAP };

static const char *card_name(enum card c) {
  switch (c) {
  case C_EXPLICIT:
    return "optional with explicit presence";
  case C_IMPLICIT:
    return "optional with implicit presence";
  case C_REQUIRED:
    return "required";
  case C_REPEATED:
    return "repeated";
  default:
    return "map";
  }
}

static bool is_msg_kind(int t) {
  return t == T(MESSAGE) || t == T(GROUP);
}

static enum card cardinality(const fside *x) {
  const brk_field_pb *f = x->f;
  if (f->label == L(REPEATED))
    return weft__brk_is_map_field(x->s, f) ? C_MAP : C_REPEATED;
  if (f->label == L(REQUIRED))
    return C_REQUIRED;
  if (!x->file->proto3 || !x->msg || is_msg_kind(f->type) ||
      f->has_oneof_index || f->proto3_optional)
    return C_EXPLICIT;
  return C_IMPLICIT;
}

static const char *kind_name(int t) {
  static const char *const names[] = {
      [T(DOUBLE)] = "double",     [T(FLOAT)] = "float",
      [T(INT64)] = "int64",       [T(UINT64)] = "uint64",
      [T(INT32)] = "int32",       [T(FIXED64)] = "fixed64",
      [T(FIXED32)] = "fixed32",   [T(BOOL)] = "bool",
      [T(STRING)] = "string",     [T(GROUP)] = "group",
      [T(MESSAGE)] = "message",   [T(BYTES)] = "bytes",
      [T(UINT32)] = "uint32",     [T(ENUM)] = "enum",
      [T(SFIXED32)] = "sfixed32", [T(SFIXED64)] = "sfixed64",
      [T(SINT32)] = "sint32",     [T(SINT64)] = "sint64",
  };
  if (t > 0 && (size_t)t < sizeof names / sizeof names[0] && names[t])
    return names[t];
  return "unknown";
}

/* Types that read each other's binary encoding (buf's groups). */
static int wire_group(int t) {
  switch (t) {
  case T(INT32):
  case T(INT64):
  case T(UINT32):
  case T(UINT64):
  case T(BOOL):
    return 1;
  case T(SINT32):
  case T(SINT64):
    return 2;
  case T(STRING):
    return 3;
  case T(BYTES):
    return 4;
  case T(FIXED32):
  case T(SFIXED32):
    return 5;
  case T(FIXED64):
  case T(SFIXED64):
    return 6;
  case T(DOUBLE):
    return 7;
  case T(FLOAT):
    return 8;
  case T(GROUP):
    return 9;
  case T(MESSAGE):
    return 10;
  case T(ENUM):
    return 11;
  default:
    return 100 + t;
  }
}

/* ... and whose JSON forms also agree (64-bit integers are strings). */
static int wire_json_group(int t) {
  switch (t) {
  case T(INT32):
  case T(UINT32):
    return 1;
  case T(INT64):
  case T(UINT64):
    return 2;
  case T(FIXED32):
  case T(SFIXED32):
    return 3;
  case T(FIXED64):
  case T(SFIXED64):
    return 4;
  case T(BOOL):
    return 5;
  case T(SINT32):
    return 6;
  case T(SINT64):
    return 7;
  case T(STRING):
    return 8;
  case T(BYTES):
    return 9;
  case T(DOUBLE):
    return 10;
  case T(FLOAT):
    return 11;
  case T(GROUP):
    return 12;
  case T(MESSAGE):
    return 13;
  case T(ENUM):
    return 14;
  default:
    return 100 + t;
  }
}

static const char *strip_dot(const char *s) {
  s = brk_str(s);
  return *s == '.' ? s + 1 : s;
}

static bool is_64bit(int t) {
  return t == T(INT64) || t == T(SINT64) || t == T(UINT64) || t == T(FIXED64) ||
         t == T(SFIXED64);
}

static void add_at(brk_ctx *c, int rule, const fside *n, const int32_t *extra,
                   size_t n_extra, const char *fmt, const char *a,
                   const char *b) {
  int line = 0, col = 0;
  if (n_extra &&
      !weft__brk_locate(n->file, &n->path, extra, n_extra, &line, &col))
    n_extra = 0; /* the element itself, when the detail has no location */
  weft__brk_add(c, rule, n->file, &n->path, extra, n_extra, fmt,
                n->msg ? "Field" : "Extension", n->f->number, n->desc_name,
                n->owner, a, b);
}

#define DESC "%s \"%d\" with name \"%s\" on message \"%s\""

static void type_name_changed(brk_ctx *c, int rule, const fside *n,
                              const fside *o) {
  static const int32_t at[] = {6};
  add_at(c, rule, n, at, 1, DESC " changed type from \"%s\" to \"%s\".",
         strip_dot(o->f->type_name), strip_dot(n->f->type_name));
}

static void kind_changed(brk_ctx *c, int rule, const fside *n, const fside *o) {
  int32_t at[] = {is_msg_kind(n->f->type) || n->f->type == T(ENUM) ? 6 : 5};
  add_at(c, rule, n, at, 1, DESC " changed type from \"%s\" to \"%s\".",
         kind_name(o->f->type), kind_name(n->f->type));
}

/* An enum field that now names another enum stays compatible only if the
 * enum has the same short name and keeps every old value's name and
 * number. */
static void enum_compatible(brk_ctx *c, int rule, const fside *n,
                            const fside *o) {
  const brk_type *ot = weft__brk_find_enum(o->s, o->f->type_name);
  const brk_type *nt = weft__brk_find_enum(n->s, n->f->type_name);
  /* A set without its imports (a baseline written from the schema's own
   * files) may lack an imported enum; the other side's copy stands in. */
  if (!ot)
    ot = weft__brk_find_enum(n->s, o->f->type_name);
  if (!nt)
    nt = weft__brk_find_enum(o->s, n->f->type_name);
  bool ok = ot && nt;
  if (ok) {
    const brk_enum_pb *oe = ot->d, *ne = nt->d;
    ok = !strcmp(brk_str(oe->name), brk_str(ne->name));
    for (size_t i = 0; ok && i < oe->n_value; i++) {
      bool found = false;
      for (size_t j = 0; j < ne->n_value && !found; j++)
        found =
            !strcmp(brk_str(ne->value[j]->name), brk_str(oe->value[i]->name)) &&
            ne->value[j]->number == oe->value[i]->number;
      ok = found;
    }
  }
  if (!ok)
    type_name_changed(c, rule, n, o);
}

static void compat_type(brk_ctx *c, int rule, const fside *n, const fside *o,
                        int (*group)(int)) {
  int ot = o->f->type, nt = n->f->type;
  if (group(ot) != group(nt)) {
    if (rule == BRK_FIELD_WIRE_COMPATIBLE_TYPE && ot == T(STRING) &&
        nt == T(BYTES))
      return; /* valid UTF-8 is valid bytes */
    kind_changed(c, rule, n, o);
    return;
  }
  if (strcmp(brk_str(o->f->type_name), brk_str(n->f->type_name))) {
    if (nt == T(ENUM))
      enum_compatible(c, rule, n, o);
    else if (is_msg_kind(nt))
      type_name_changed(c, rule, n, o);
  }
}

/* C++ string type: (type, is_piece); STRING_PIECE reads as STRING. */
static int ctype_of(const brk_field_pb *f, bool *piece) {
  int ct = f->options && f->options->has_ctype ? (int)f->options->ctype : 0;
  *piece = ct == GOOGLE__PROTOBUF__FIELD_OPTIONS__CTYPE__STRING_PIECE;
  return ct == GOOGLE__PROTOBUF__FIELD_OPTIONS__CTYPE__CORD ? 1 : 0;
}

static const char *ctype_name(int t, bool piece) {
  return piece ? "STRING_PIECE" : t ? "CORD" : "STRING";
}

static const char *jstype_name(int v) {
  switch (v) {
  case GOOGLE__PROTOBUF__FIELD_OPTIONS__JSTYPE__JS_STRING:
    return "JS_STRING";
  case GOOGLE__PROTOBUF__FIELD_OPTIONS__JSTYPE__JS_NUMBER:
    return "JS_NUMBER";
  default:
    return "JS_NORMAL";
  }
}

static bool java_utf8(const fside *x) {
  const Google__Protobuf__FileOptions *o = x->file->d->options;
  return (o && o->java_string_check_utf8) || x->file->proto3;
}

static const brk_msg_pb *oneof_of(const fside *x, const char **name) {
  const brk_field_pb *f = x->f;
  if (!x->msg || !f->has_oneof_index || f->oneof_index < 0 ||
      (size_t)f->oneof_index >= x->msg->n_oneof_decl ||
      weft__brk_synthetic_oneof(x->msg, (size_t)f->oneof_index))
    return NULL;
  *name = brk_str(x->msg->oneof_decl[f->oneof_index]->name);
  return x->msg;
}

static void field_pair(brk_ctx *c, const fside *n, const fside *o) {
  const brk_field_pb *nf = n->f, *of = o->f;
  bool both_map_entries =
      weft__brk_is_map_entry(n->msg) && weft__brk_is_map_entry(o->msg);

  if (!both_map_entries) {
    enum card oc = cardinality(o), nc = cardinality(n);
    static const int wire[] = {0, 1, 1, 2, 3, 3};
    static const int wire_json[] = {0, 1, 1, 2, 3, 4};
    const char *fmt = DESC " changed cardinality from \"%s\" to \"%s\".";
    if (oc != nc)
      add_at(c, BRK_FIELD_SAME_CARDINALITY, n, NULL, 0, fmt, card_name(oc),
             card_name(nc));
    if (wire[oc] != wire[nc])
      add_at(c, BRK_FIELD_WIRE_COMPATIBLE_CARDINALITY, n, NULL, 0, fmt,
             card_name(oc), card_name(nc));
    if (wire_json[oc] != wire_json[nc])
      add_at(c, BRK_FIELD_WIRE_JSON_COMPATIBLE_CARDINALITY, n, NULL, 0, fmt,
             card_name(oc), card_name(nc));

    bool os = of->type == T(STRING) || of->type == T(BYTES);
    bool ns = nf->type == T(STRING) || nf->type == T(BYTES);
    if (os && ns) {
      bool op, np;
      int ot = ctype_of(of, &op), nt = ctype_of(nf, &np);
      if ((ot != nt || op != np) && !(op && nt == 0)) {
        static const int32_t at[] = {8, 1};
        add_at(c, BRK_FIELD_SAME_CPP_STRING_TYPE, n, at, 2,
               DESC " changed C++ string type from \"%s\" to \"%s\".",
               ctype_name(ot, op), ctype_name(nt, np));
      }
    }
  }

  if (of->type == T(STRING) && nf->type == T(STRING)) {
    bool oj = java_utf8(o), nj = java_utf8(n);
    if (oj != nj) {
      static const int32_t at[] = {8, 27};
      int line, col;
      brk_path root = {.n = 0};
      bool file_opt = weft__brk_locate(n->file, &root, at, 2, &line, &col);
      weft__brk_add(c, BRK_FIELD_SAME_JAVA_UTF8_VALIDATION, n->file,
                    file_opt ? &root : &n->path, file_opt ? at : NULL,
                    file_opt ? 2 : 0,
                    DESC " changed Java string UTF8 validation from \"%s\" "
                         "to \"%s\".",
                    n->msg ? "Field" : "Extension", nf->number, n->desc_name,
                    n->owner, oj ? "VERIFY" : "NONE", nj ? "VERIFY" : "NONE");
    }
    if (o->file->proto3 != n->file->proto3)
      add_at(c, BRK_FIELD_SAME_UTF8_VALIDATION, n, NULL, 0,
             DESC " changed UTF8 validation from %s to %s.",
             o->file->proto3 ? "VERIFY" : "NONE",
             n->file->proto3 ? "VERIFY" : "NONE");
  }

  if (is_64bit(of->type) && is_64bit(nf->type)) {
    int oj = of->options ? (int)of->options->jstype : 0;
    int nj = nf->options ? (int)nf->options->jstype : 0;
    if (oj != nj) {
      static const int32_t at[] = {8, 6};
      add_at(c, BRK_FIELD_SAME_JSTYPE, n, at, 2,
             DESC " changed option \"jstype\" from \"%s\" to \"%s\".",
             jstype_name(oj), jstype_name(nj));
    }
  }

  if (of->type != nf->type)
    kind_changed(c, BRK_FIELD_SAME_TYPE, n, o);
  else if ((nf->type == T(ENUM) || is_msg_kind(nf->type)) &&
           strcmp(brk_str(of->type_name), brk_str(nf->type_name)))
    type_name_changed(c, BRK_FIELD_SAME_TYPE, n, o);
  compat_type(c, BRK_FIELD_WIRE_COMPATIBLE_TYPE, n, o, wire_group);
  compat_type(c, BRK_FIELD_WIRE_JSON_COMPATIBLE_TYPE, n, o, wire_json_group);

  if (strcmp(o->desc_name, n->desc_name)) {
    static const int32_t at[] = {1};
    int line, col;
    size_t ne = weft__brk_locate(n->file, &n->path, at, 1, &line, &col);
    weft__brk_add(c, BRK_FIELD_SAME_NAME, n->file, &n->path, at, ne,
                  "%s \"%d\" on message \"%s\" changed name from \"%s\" to "
                  "\"%s\".",
                  n->msg ? "Field" : "Extension", nf->number, n->owner,
                  o->desc_name, n->desc_name);
  }

  if (!o->msg)
    return; /* extensions have no JSON name or oneof of their own */

  char *oj = of->json_name ? NULL : weft__brk_json_name(brk_str(of->name));
  char *nj = nf->json_name ? NULL : weft__brk_json_name(brk_str(nf->name));
  if ((!of->json_name && !oj) || (!nf->json_name && !nj)) {
    c->rv = WEFT_ERR_NOMEM;
  } else {
    const char *a = of->json_name ? of->json_name : oj;
    const char *b = nf->json_name ? nf->json_name : nj;
    if (strcmp(a, b)) {
      static const int32_t at[] = {10};
      add_at(c, BRK_FIELD_SAME_JSON_NAME, n, at, 1,
             DESC " changed option \"json_name\" from \"%s\" to \"%s\".", a, b);
    }
  }
  free(oj);
  free(nj);

  const char *oon = NULL, *non = NULL;
  bool oin = oneof_of(o, &oon) != NULL, nin = n->msg && oneof_of(n, &non);
  if (oin && nin && strcmp(oon, non))
    add_at(c, BRK_FIELD_SAME_ONEOF, n, NULL, 0,
           DESC " moved from oneof \"%s\" to oneof \"%s\".", oon, non);
  else if (oin != nin)
    add_at(c, BRK_FIELD_SAME_ONEOF, n, NULL, 0,
           DESC " moved from %s to %s a oneof.", oin ? "inside" : "outside",
           nin ? "inside" : "outside");
}

static void message_fields(brk_ctx *c, const brk_type *nt, const brk_type *ot) {
  const brk_msg_pb *nm = nt->d, *om = ot->d;
  for (size_t i = 0; i < om->n_field; i++) {
    const brk_field_pb *of = om->field[i];
    bool dup = false;
    for (size_t k = 0; k < i && !dup; k++)
      dup = om->field[k]->number == of->number;
    if (dup)
      continue;
    for (size_t j = 0; j < nm->n_field; j++) {
      if (nm->field[j]->number != of->number)
        continue;
      fside o = {&c->old_s,         ot->file,         om, of, ot->path,
                 brk_str(of->name), brk_str(om->name)};
      fside n = {&c->new_s,        nt->file, nm,
                 nm->field[j],     nt->path, brk_str(nm->field[j]->name),
                 brk_str(nm->name)};
      if (o.path.n + 2 <= BRK_PATH_MAX) {
        o.path.p[o.path.n++] = 2, o.path.p[o.path.n++] = (int32_t)i;
        n.path.p[n.path.n++] = 2, n.path.p[n.path.n++] = (int32_t)j;
      } else {
        o.path.n = n.path.n = BRK_PATH_MAX + 1;
      }
      weft__brk_map_field_path(&c->new_s, nt, &n.path);
      field_pair(c, &n, &o);
      break;
    }
  }
}

/* Whether exts[i] is the first compared extension of its extendee and
 * number (a second one, which protoc rejects, is not compared again). */
static bool first_ext(const brk_side *s, size_t i) {
  for (size_t k = 0; k < i; k++)
    if (s->exts[k].target && s->exts[k].d->number == s->exts[i].d->number &&
        !strcmp(strip_dot(s->exts[k].d->extendee),
                strip_dot(s->exts[i].d->extendee)))
      return false;
  return true;
}

void weft__brk_fields(brk_ctx *c) {
  const brk_side *ns = &c->new_s, *os = &c->old_s;
  weft__brk_each_pair(c, os->msgs, os->n_msgs, ns->msgs, ns->n_msgs,
                      message_fields);
  for (size_t i = 0; i < os->n_exts; i++) {
    const brk_ext *oe = &os->exts[i];
    if (!oe->target || !first_ext(os, i))
      continue;
    for (size_t j = 0; j < ns->n_exts; j++) {
      const brk_ext *ne = &ns->exts[j];
      if (!ne->target || ne->d->number != oe->d->number ||
          strcmp(strip_dot(ne->d->extendee), strip_dot(oe->d->extendee)))
        continue;
      fside o = {os,
                 oe->file,
                 NULL,
                 oe->d,
                 oe->path,
                 oe->full,
                 strip_dot(oe->d->extendee)};
      fside n = {ns,
                 ne->file,
                 NULL,
                 ne->d,
                 ne->path,
                 ne->full,
                 strip_dot(ne->d->extendee)};
      field_pair(c, &n, &o);
      break;
    }
  }
}
