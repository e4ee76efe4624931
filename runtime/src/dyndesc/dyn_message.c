/* The tables of one message or enum, built the way protoc-gen-weft emits
 * them (gen/src/emit_source.c, types.c, defaults.c): fields sorted by
 * number with a name index and number ranges, labels and quantifiers, the
 * member offsets of the struct the generator would have declared (fields
 * outside real oneofs in declaration order, then each oneof's case and
 * union), defaults, flags and JSON names. Any change to the generator's
 * rules must be mirrored here; tests/unit/dyndesc compares the two tables
 * field by field for every test and AITBC message. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dyn_internal.h"

/* In-struct alignment of a type (what the compiler uses for members). */
#define DYN_ALIGNOF(T)                                                         \
  offsetof(                                                                    \
      struct {                                                                 \
        char c;                                                                \
        T t;                                                                   \
      },                                                                       \
      t)

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

/* Number ranges of sorted, distinct numbers, with protobuf-c's {0, n}
 * sentinel. Returns the number of ranges (sentinel excluded). */
static ProtobufCIntRange *make_ranges(weft_dyn_set *s, const int *nums,
                                      size_t n, unsigned *n_ranges) {
  size_t r = 0;
  for (size_t i = 0; i < n; i++)
    if (i == 0 || nums[i] != nums[i - 1] + 1)
      r++;
  ProtobufCIntRange *out = weft__dyn_alloc(s, (r + 1) * sizeof *out);
  if (!out)
    return NULL;
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (i == 0 || nums[i] != nums[i - 1] + 1) {
      out[k].start_value = nums[i];
      out[k].orig_index = (int)i;
      k++;
    }
  out[k].start_value = 0;
  out[k].orig_index = (int)n;
  *n_ranges = (unsigned)r;
  return out;
}

static const char *pkg_of(const dyn_file *f) {
  return f->p && f->p->package ? f->p->package : "";
}

int weft__dyn_build_enum(weft_dyn_set *s, dyn_enum *e, weft_error *err) {
  const dyn_enum_proto *p = e->p;
  size_t n = p->n_value;
  if (n == 0)
    return weft_error_set(err, WEFT_ERR_MALFORMED, "%s: enum %s has no values",
                          e->file->name, e->full);
  sort_item *items = calloc(n, sizeof *items);
  size_t *final = calloc(n, sizeof *final);
  int *nums = calloc(n, sizeof *nums);
  int rv = WEFT_ERR_NOMEM;
  if (!items || !final || !nums)
    goto out;
  for (size_t i = 0; i < n; i++) {
    if (!weft__dyn_ident(p->value[i]->name, 0)) {
      rv = weft_error_set(err, WEFT_ERR_MALFORMED,
                          "%s: enum %s: value %zu has no valid name",
                          e->file->name, e->full, i);
      goto out;
    }
    items[i].key = p->value[i]->number;
    items[i].name = p->value[i]->name;
    items[i].index = i;
  }
  qsort(items, n, sizeof *items, by_key);
  /* Unique numbers: aliases keep the first declared name. */
  ProtobufCEnumValue *values = weft__dyn_alloc(s, n * sizeof *values);
  if (!values)
    goto out;
  size_t u = 0;
  for (size_t i = 0; i < n; i++) {
    if (i == 0 || items[i].key != items[i - 1].key) {
      values[u].name = weft__dyn_strdup(s, items[i].name);
      values[u].c_name = weft__dyn_fmt(s, "%s__%s", e->cname, items[i].name);
      values[u].value = (int)items[i].key;
      if (!values[u].name || !values[u].c_name)
        goto out;
      nums[u++] = (int)items[i].key;
    }
    final[items[i].index] = u - 1;
  }
  unsigned n_ranges = 0;
  ProtobufCIntRange *ranges = make_ranges(s, nums, u, &n_ranges);
  for (size_t i = 0; i < n; i++) {
    items[i].name = p->value[i]->name;
    items[i].index = i;
  }
  qsort(items, n, sizeof *items, by_name);
  ProtobufCEnumValueIndex *by = weft__dyn_alloc(s, n * sizeof *by);
  if (!ranges || !by)
    goto out;
  for (size_t i = 0; i < n; i++) {
    /* the names of values[] are the same strings for non-aliases */
    by[i].name = weft__dyn_strdup(s, items[i].name);
    by[i].index = (unsigned) final[items[i].index];
    if (!by[i].name)
      goto out;
  }
  ProtobufCEnumDescriptor *b = &e->d->base;
  b->magic = PROTOBUF_C__ENUM_DESCRIPTOR_MAGIC;
  b->name = e->full;
  b->short_name = weft__dyn_strdup(s, p->name);
  b->c_name = e->cname;
  b->package_name = weft__dyn_strdup(s, pkg_of(e->file));
  b->n_values = (unsigned)u;
  b->values = values;
  b->n_value_names = (unsigned)n;
  b->values_by_name = by;
  b->n_value_ranges = n_ranges;
  b->value_ranges = ranges;
  e->d->closed = e->file->syntax == 2;
  e->d->file = e->file->d;
  rv = b->short_name && b->package_name ? 0 : WEFT_ERR_NOMEM;
out:
  if (rv == WEFT_ERR_NOMEM)
    weft_error_set(err, rv, "%s: out of memory building enum %s", e->file->name,
                   e->full);
  free(items);
  free(final);
  free(nums);
  return rv;
}

/* ---- messages ---- */

typedef struct dfield {
  const dyn_field_proto *p;
  ProtobufCType type;
  ProtobufCLabel label;
  int oneof; /* real oneof index, -1 */
  int repeated, has_flag, group, map, p3opt;
  size_t size, align; /* of the value member */
  unsigned offset, quant;
  const void *desc; /* message/enum descriptor (the protobuf-c base) */
  const dyn_enum *enum_type;
  const weft_enum_desc *enum_desc;
  const void *def;
} dfield;

static int pbc_type(int t, ProtobufCType *out) {
  static const ProtobufCType map[] = {
      0,
      PROTOBUF_C_TYPE_DOUBLE,
      PROTOBUF_C_TYPE_FLOAT,
      PROTOBUF_C_TYPE_INT64,
      PROTOBUF_C_TYPE_UINT64,
      PROTOBUF_C_TYPE_INT32,
      PROTOBUF_C_TYPE_FIXED64,
      PROTOBUF_C_TYPE_FIXED32,
      PROTOBUF_C_TYPE_BOOL,
      PROTOBUF_C_TYPE_STRING,
      PROTOBUF_C_TYPE_MESSAGE, /* group, + WEFT_FIELD_GROUP */
      PROTOBUF_C_TYPE_MESSAGE,
      PROTOBUF_C_TYPE_BYTES,
      PROTOBUF_C_TYPE_UINT32,
      PROTOBUF_C_TYPE_ENUM,
      PROTOBUF_C_TYPE_SFIXED32,
      PROTOBUF_C_TYPE_SFIXED64,
      PROTOBUF_C_TYPE_SINT32,
      PROTOBUF_C_TYPE_SINT64,
  };
  if (t < 1 || t > 18)
    return -1;
  *out = map[t];
  return 0;
}

/* Size and alignment of the C member protoc-gen-weft declares (types.c
 * field_ctype): enums are int-sized, bool is protobuf_c_boolean. */
static void ctype_size(int t, size_t *size, size_t *align) {
  switch (t) {
  case DYN_T(DOUBLE):
    *size = sizeof(double);
    *align = DYN_ALIGNOF(double);
    return;
  case DYN_T(FLOAT):
    *size = sizeof(float);
    *align = DYN_ALIGNOF(float);
    return;
  case DYN_T(INT64):
  case DYN_T(SFIXED64):
  case DYN_T(SINT64):
  case DYN_T(UINT64):
  case DYN_T(FIXED64):
    *size = sizeof(int64_t);
    *align = DYN_ALIGNOF(int64_t);
    return;
  case DYN_T(BOOL):
    *size = sizeof(protobuf_c_boolean);
    *align = DYN_ALIGNOF(protobuf_c_boolean);
    return;
  case DYN_T(STRING):
  case DYN_T(MESSAGE):
  case DYN_T(GROUP):
    *size = sizeof(void *);
    *align = DYN_ALIGNOF(void *);
    return;
  case DYN_T(BYTES):
    *size = sizeof(ProtobufCBinaryData);
    *align = DYN_ALIGNOF(ProtobufCBinaryData);
    return;
  case DYN_T(ENUM):
    *size = sizeof(int);
    *align = DYN_ALIGNOF(int);
    return;
  default: /* 32-bit integers */
    *size = sizeof(int32_t);
    *align = DYN_ALIGNOF(int32_t);
  }
}

static size_t place(size_t *off, size_t *maxal, size_t size, size_t align) {
  *off = (*off + align - 1) / align * align;
  size_t o = *off;
  *off += size;
  if (align > *maxal)
    *maxal = align;
  return o;
}

/* protoc's json_name rule, for sets written without json_name (gRPC
 * reflection, hand-made sets): drop '_', upper-case the next letter. */
static char *json_default(weft_dyn_set *s, const char *name) {
  char *out = weft__dyn_alloc(s, strlen(name) + 1), *o = out;
  if (!out)
    return NULL;
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
  *o = '\0';
  return out;
}

/* protoc writes bytes defaults C-escaped (CEscape); undo it as the
 * generator does (gen/src/defaults.c). */
static size_t unescape(const char *str, char *out) {
  size_t n = 0;
  while (*str) {
    if (*str != '\\') {
      out[n++] = *str++;
      continue;
    }
    str++;
    switch (*str) {
    case 'n':
      out[n++] = '\n';
      str++;
      break;
    case 'r':
      out[n++] = '\r';
      str++;
      break;
    case 't':
      out[n++] = '\t';
      str++;
      break;
    case 'a':
      out[n++] = '\a';
      str++;
      break;
    case 'b':
      out[n++] = '\b';
      str++;
      break;
    case 'f':
      out[n++] = '\f';
      str++;
      break;
    case 'v':
      out[n++] = '\v';
      str++;
      break;
    case 'x': {
      str++;
      unsigned v = 0;
      for (int k = 0; k < 2; k++, str++) {
        char c = *str;
        if (c >= '0' && c <= '9')
          v = v * 16 + (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
          v = v * 16 + (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
          v = v * 16 + (unsigned)(c - 'A' + 10);
        else
          break;
      }
      out[n++] = (char)v;
      break;
    }
    default:
      if (*str >= '0' && *str <= '7') {
        unsigned v = 0;
        for (int k = 0; k < 3 && *str >= '0' && *str <= '7'; k++, str++)
          v = v * 8 + (unsigned)(*str - '0');
        out[n++] = (char)v;
      } else if (*str) {
        out[n++] = *str++;
      }
    }
  }
  return n;
}

static int parse_int(const char *t, int is_unsigned, int bits, void *out) {
  char *end;
  errno = 0;
  if (is_unsigned) {
    if (strchr(t, '-'))
      return -1;
    unsigned long long v = strtoull(t, &end, 0);
    if (errno || end == t || *end || (bits == 32 && v > UINT32_MAX))
      return -1;
    if (bits == 32) {
      uint32_t x = (uint32_t)v;
      memcpy(out, &x, 4);
    } else {
      uint64_t x = v;
      memcpy(out, &x, 8);
    }
    return 0;
  }
  long long v = strtoll(t, &end, 0);
  if (errno || end == t || *end ||
      (bits == 32 && (v < INT32_MIN || v > INT32_MAX)))
    return -1;
  if (bits == 32) {
    int32_t x = (int32_t)v;
    memcpy(out, &x, 4);
  } else {
    int64_t x = v;
    memcpy(out, &x, 8);
  }
  return 0;
}

static int parse_float(const char *t, int is_float, void *out) {
  char *end;
  /* the generator maps "-nan" to NAN, like "nan" */
  int nan = strcmp(t, "nan") == 0 || strcmp(t, "-nan") == 0;
  if (is_float) {
    float v = nan ? NAN : strtof(t, &end);
    if (!nan && (end == t || *end))
      return -1;
    memcpy(out, &v, sizeof v);
  } else {
    double v = nan ? (double)NAN : strtod(t, &end);
    if (!nan && (end == t || *end))
      return -1;
    memcpy(out, &v, sizeof v);
  }
  return 0;
}

/* The default_value pointer of a singular field outside a real oneof
 * (defaults.c field_default). */
static int field_default(weft_dyn_set *s, const dyn_msg *m, dfield *fd,
                         weft_error *err) {
  const char *ex = fd->p->default_value;
  int implicit3 = fd->label == PROTOBUF_C_LABEL_NONE;
  fd->def = NULL;
  switch (fd->p->type) {
  case DYN_T(MESSAGE):
  case DYN_T(GROUP):
    return 0;
  case DYN_T(STRING):
    if (ex) {
      if (!(fd->def = weft__dyn_strdup(s, ex)))
        return WEFT_ERR_NOMEM;
    } else if (implicit3) {
      fd->def = protobuf_c_empty_string;
    }
    return 0;
  case DYN_T(BYTES): {
    if (!ex)
      return 0;
    char *raw = weft__dyn_alloc(s, strlen(ex) + 1);
    if (!raw)
      return WEFT_ERR_NOMEM;
    size_t n = unescape(ex, raw);
    if (n == 0)
      return 0;
    ProtobufCBinaryData *bd = weft__dyn_alloc(s, sizeof *bd);
    if (!bd)
      return WEFT_ERR_NOMEM;
    bd->len = n;
    bd->data = (uint8_t *)raw;
    fd->def = bd;
    return 0;
  }
  case DYN_T(ENUM): {
    int value = 0, found = 0;
    if (fd->enum_type && fd->enum_type->p) {
      const dyn_enum_proto *ep = fd->enum_type->p;
      if (ep->n_value == 0)
        return 0;
      value = ep->value[0]->number;
      found = 1;
      if (ex) {
        found = 0;
        for (size_t i = 0; i < ep->n_value; i++)
          if (ep->value[i]->name && strcmp(ep->value[i]->name, ex) == 0) {
            value = ep->value[i]->number;
            found = 1;
            break;
          }
      }
    } else if (fd->enum_desc) {
      /* Compiled in: declaration order is not kept, so the implicit
       * default is the value 0 if defined, else the lowest. */
      const ProtobufCEnumDescriptor *ed = &fd->enum_desc->base;
      if (ed->n_values == 0)
        return 0;
      value = ed->values[0].value;
      for (unsigned i = 0; i < ed->n_values; i++)
        if (ed->values[i].value == 0)
          value = 0;
      found = 1;
      if (ex) {
        found = 0;
        for (unsigned i = 0; i < ed->n_value_names; i++)
          if (strcmp(ed->values_by_name[i].name, ex) == 0) {
            value = ed->values[ed->values_by_name[i].index].value;
            found = 1;
          }
      }
    }
    if (!found)
      return weft_error_set(err, WEFT_ERR_MALFORMED,
                            "%s: field %s.%s: default %s is not a value of "
                            "its enum",
                            m->file->name, m->full, fd->p->name, ex);
    if (value != 0 || ex) {
      int *v = weft__dyn_alloc(s, sizeof *v);
      if (!v)
        return WEFT_ERR_NOMEM;
      *v = value;
      fd->def = v;
    }
    return 0;
  }
  default:
    break;
  }
  if (!ex)
    return 0;
  void *v = weft__dyn_alloc(s, 8);
  if (!v)
    return WEFT_ERR_NOMEM;
  int bad = 0;
  switch (fd->p->type) {
  case DYN_T(BOOL): {
    protobuf_c_boolean b = strcmp(ex, "true") == 0;
    memcpy(v, &b, sizeof b);
    break;
  }
  case DYN_T(FLOAT):
    bad = parse_float(ex, 1, v);
    break;
  case DYN_T(DOUBLE):
    bad = parse_float(ex, 0, v);
    break;
  case DYN_T(INT32):
  case DYN_T(SINT32):
  case DYN_T(SFIXED32):
    bad = parse_int(ex, 0, 32, v);
    break;
  case DYN_T(UINT32):
  case DYN_T(FIXED32):
    bad = parse_int(ex, 1, 32, v);
    break;
  case DYN_T(INT64):
  case DYN_T(SINT64):
  case DYN_T(SFIXED64):
    bad = parse_int(ex, 0, 64, v);
    break;
  default:
    bad = parse_int(ex, 1, 64, v);
  }
  if (bad)
    return weft_error_set(err, WEFT_ERR_MALFORMED,
                          "%s: field %s.%s: bad default value \"%s\"",
                          m->file->name, m->full, fd->p->name, ex);
  fd->def = v;
  return 0;
}

static int is_map_key_type(int t) {
  return t != DYN_T(DOUBLE) && t != DYN_T(FLOAT) && t != DYN_T(BYTES) &&
         t != DYN_T(MESSAGE) && t != DYN_T(GROUP) && t != DYN_T(ENUM);
}

/* Resolves, classifies and validates field i. */
static int classify(weft_dyn_set *s, dyn_msg *m, const int *real, dfield *fd,
                    weft_error *err) {
  const dyn_field_proto *fp = fd->p;
  const char *fn = m->file->name;
  if (!weft__dyn_ident(fp->name, 0))
    return weft_error_set(err, WEFT_ERR_MALFORMED,
                          "%s: message %s: a field has no valid name (\"%s\")",
                          fn, m->full, fp->name ? fp->name : "");
  if (!fp->has_number || fp->number < 1 || fp->number > 536870911)
    return weft_error_set(err, WEFT_ERR_MALFORMED,
                          "%s: field %s.%s: bad field number %d", fn, m->full,
                          fp->name, fp->has_number ? fp->number : 0);
  if (!fp->has_label || fp->label < DYN_L(OPTIONAL) ||
      fp->label > DYN_L(REPEATED))
    return weft_error_set(err, WEFT_ERR_MALFORMED,
                          "%s: field %s.%s: bad label %d", fn, m->full,
                          fp->name, fp->has_label ? (int)fp->label : 0);
  int type = fp->has_type ? (int)fp->type : 0;
  dyn_type *t = NULL;
  if (fp->type_name) {
    t = weft__dyn_resolve(s, m->full, fp->type_name);
    if (!t)
      return weft_error_set(err, WEFT_ERR_MALFORMED,
                            "%s: field %s.%s: unknown type %s", fn, m->full,
                            fp->name, fp->type_name);
    if (!fp->has_type)
      type = t->m ? DYN_T(MESSAGE) : DYN_T(ENUM);
  }
  if (pbc_type(type, &fd->type) < 0)
    return weft_error_set(err, WEFT_ERR_MALFORMED,
                          "%s: field %s.%s: bad type %d", fn, m->full, fp->name,
                          type);
  int wants_msg = type == DYN_T(MESSAGE) || type == DYN_T(GROUP);
  if (wants_msg || type == DYN_T(ENUM)) {
    if (!t || (wants_msg && !t->m) || (!wants_msg && !t->e))
      return weft_error_set(
          err, WEFT_ERR_MALFORMED, "%s: field %s.%s: %s is not %s", fn, m->full,
          fp->name, fp->type_name ? fp->type_name : "(no type name)",
          wants_msg ? "a message" : "an enum");
    if (t->m) {
      const weft_msg_desc *td = t->m->cd ? t->m->cd : t->m->d;
      fd->desc = &td->base;
      fd->map = (t->m->cd ? t->m->cd->is_map_entry : t->m->map_entry) &&
                fp->label == DYN_L(REPEATED);
    } else {
      fd->enum_type = t->e;
      fd->enum_desc = t->e->cd ? t->e->cd : t->e->d;
      fd->desc = &fd->enum_desc->base;
    }
  }
  fd->p3opt = fp->has_proto3_optional && fp->proto3_optional;
  fd->oneof = -1;
  if (fp->has_oneof_index) {
    if (fp->oneof_index < 0 || (size_t)fp->oneof_index >= m->p->n_oneof_decl)
      return weft_error_set(err, WEFT_ERR_MALFORMED,
                            "%s: field %s.%s: oneof index %d out of range", fn,
                            m->full, fp->name, fp->oneof_index);
    if (!fd->p3opt)
      fd->oneof = real[fp->oneof_index];
  }
  fd->repeated = fp->label == DYN_L(REPEATED);
  if ((fd->oneof >= 0 || fd->p3opt) && fp->label != DYN_L(OPTIONAL))
    return weft_error_set(err, WEFT_ERR_MALFORMED,
                          "%s: field %s.%s: a %s member must be optional, not "
                          "label %d",
                          fn, m->full, fp->name,
                          fd->p3opt ? "proto3 optional" : "oneof",
                          (int)fp->label);
  if (fp->label == DYN_L(REQUIRED) && m->file->syntax == 3)
    return weft_error_set(err, WEFT_ERR_MALFORMED,
                          "%s: field %s.%s: required fields are not allowed "
                          "in proto3",
                          fn, m->full, fp->name);
  fd->group = type == DYN_T(GROUP);
  /* types.c field_label */
  if (fd->repeated)
    fd->label = PROTOBUF_C_LABEL_REPEATED;
  else if (fp->label == DYN_L(REQUIRED))
    fd->label = PROTOBUF_C_LABEL_REQUIRED;
  else if (fd->p3opt || fd->oneof >= 0 || m->file->syntax == 2)
    fd->label = PROTOBUF_C_LABEL_OPTIONAL;
  else
    fd->label = PROTOBUF_C_LABEL_NONE;
  int is_ptr = type == DYN_T(STRING) || wants_msg;
  fd->has_flag =
      fd->oneof < 0 && !is_ptr && fd->label == PROTOBUF_C_LABEL_OPTIONAL;
  ctype_size(type, &fd->size, &fd->align);
  return 0;
}

int weft__dyn_build_msg(weft_dyn_set *s, dyn_msg *m, weft_error *err) {
  const dyn_msg_proto *p = m->p;
  const char *fn = m->file->name;
  size_t n = p->n_field, no = p->n_oneof_decl;
  int rv = WEFT_ERR_NOMEM;
  int *real = calloc(no + 1, sizeof *real);
  dfield *fs = calloc(n + 1, sizeof *fs);
  sort_item *items = calloc(n + 1, sizeof *items);
  int *nums = calloc(n + 1, sizeof *nums);
  size_t *pos = calloc(n + 1, sizeof *pos);
  if (!real || !fs || !items || !nums || !pos)
    goto out;

  /* A oneof is real if one of its members is not a proto3 `optional`. */
  for (size_t i = 0; i < no; i++) {
    real[i] = -1;
    if (!weft__dyn_ident(p->oneof_decl[i]->name, 0)) {
      rv = weft_error_set(err, WEFT_ERR_MALFORMED,
                          "%s: message %s: oneof %zu has no valid name", fn,
                          m->full, i);
      goto out;
    }
  }
  for (size_t i = 0; i < n; i++) {
    const dyn_field_proto *fp = p->field[i];
    if (fp->has_oneof_index && !fp->proto3_optional && fp->oneof_index >= 0 &&
        (size_t)fp->oneof_index < no)
      real[fp->oneof_index] = 0;
  }
  unsigned n_oneofs = 0;
  const char **oneof_names = weft__dyn_alloc(s, (no + 1) * sizeof(char *));
  if (!oneof_names)
    goto out;
  for (size_t i = 0; i < no; i++) {
    if (real[i] < 0)
      continue;
    oneof_names[n_oneofs] = weft__dyn_strdup(s, p->oneof_decl[i]->name);
    if (!oneof_names[n_oneofs])
      goto out;
    real[i] = (int)n_oneofs++;
  }

  for (size_t i = 0; i < n; i++) {
    fs[i].p = p->field[i];
    if ((rv = classify(s, m, real, &fs[i], err)) < 0)
      goto out;
  }
  rv = WEFT_ERR_NOMEM;

  if (m->map_entry) {
    int ok = n == 2;
    for (size_t i = 0; ok && i < n; i++)
      ok = fs[i].oneof < 0 && !fs[i].repeated && !fs[i].group &&
           fs[i].p->number == (int)i + 1 &&
           (i == 1 || is_map_key_type((int)fs[i].p->type));
    if (!ok) {
      rv = weft_error_set(err, WEFT_ERR_MALFORMED,
                          "%s: message %s is a map entry but is not "
                          "{key = 1; value = 2;} with a valid key type",
                          fn, m->full);
      goto out;
    }
  }

  /* The struct protoc-gen-weft declares (emit_header.c emit_struct). */
  size_t off = sizeof(ProtobufCMessage), maxal = DYN_ALIGNOF(ProtobufCMessage);
  for (size_t i = 0; i < n; i++) {
    dfield *fd = &fs[i];
    if (fd->oneof >= 0)
      continue;
    if (fd->repeated) {
      fd->quant =
          (unsigned)place(&off, &maxal, sizeof(size_t), DYN_ALIGNOF(size_t));
      fd->offset =
          (unsigned)place(&off, &maxal, sizeof(void *), DYN_ALIGNOF(void *));
      continue;
    }
    if (fd->has_flag)
      fd->quant = (unsigned)place(&off, &maxal, sizeof(protobuf_c_boolean),
                                  DYN_ALIGNOF(protobuf_c_boolean));
    fd->offset = (unsigned)place(&off, &maxal, fd->size, fd->align);
  }
  for (unsigned o = 0; o < n_oneofs; o++) {
    size_t c = place(&off, &maxal, sizeof(uint32_t), DYN_ALIGNOF(uint32_t));
    size_t usize = 0, ualign = 1;
    for (size_t i = 0; i < n; i++)
      if (fs[i].oneof == (int)o) {
        if (fs[i].size > usize)
          usize = fs[i].size;
        if (fs[i].align > ualign)
          ualign = fs[i].align;
      }
    usize = (usize + ualign - 1) / ualign * ualign;
    size_t u = place(&off, &maxal, usize, ualign);
    for (size_t i = 0; i < n; i++)
      if (fs[i].oneof == (int)o) {
        fs[i].quant = (unsigned)c;
        fs[i].offset = (unsigned)u;
      }
  }
  size_t sizeof_message = (off + maxal - 1) / maxal * maxal;

  for (size_t i = 0; i < n; i++) {
    if (fs[i].repeated || fs[i].oneof >= 0)
      continue;
    if ((rv = field_default(s, m, &fs[i], err)) < 0)
      goto out;
  }
  rv = WEFT_ERR_NOMEM;

  for (size_t i = 0; i < n; i++) {
    items[i].key = fs[i].p->number;
    items[i].name = fs[i].p->name;
    items[i].index = i;
  }
  qsort(items, n, sizeof *items, by_key);
  for (size_t i = 0; i < n; i++) {
    nums[i] = (int)items[i].key;
    pos[items[i].index] = i;
    if (i > 0 && nums[i] == nums[i - 1]) {
      rv = weft_error_set(err, WEFT_ERR_MALFORMED,
                          "%s: message %s: fields %s and %s both have number "
                          "%d",
                          fn, m->full, fs[items[i - 1].index].p->name,
                          fs[items[i].index].p->name, nums[i]);
      goto out;
    }
  }

  ProtobufCFieldDescriptor *fields =
      n ? weft__dyn_alloc(s, n * sizeof *fields) : NULL;
  weft_field_info *info = n ? weft__dyn_alloc(s, n * sizeof *info) : NULL;
  unsigned *sorted_by_name =
      n ? weft__dyn_alloc(s, n * sizeof(unsigned)) : NULL;
  if (n && (!fields || !info || !sorted_by_name))
    goto out;
  for (size_t k = 0; k < n; k++) {
    const dfield *fd = &fs[items[k].index];
    ProtobufCFieldDescriptor *f = &fields[k];
    memset(f, 0, sizeof *f);
    f->name = weft__dyn_strdup(s, fd->p->name);
    f->id = (uint32_t)fd->p->number;
    f->label = fd->label;
    f->type = fd->type;
    f->quantifier_offset =
        fd->oneof >= 0 || fd->repeated || fd->has_flag ? fd->quant : 0;
    f->offset = fd->offset;
    f->descriptor = fd->desc;
    f->default_value = fd->def;
    unsigned flags = 0;
    int packable = fd->p->type != DYN_T(STRING) &&
                   fd->p->type != DYN_T(MESSAGE) &&
                   fd->p->type != DYN_T(GROUP) && fd->p->type != DYN_T(BYTES);
    if (fd->repeated && packable) {
      const Google__Protobuf__FieldOptions *fo = fd->p->options;
      int packed = fo && fo->has_packed ? fo->packed : m->file->syntax == 3;
      if (packed)
        flags |= PROTOBUF_C_FIELD_FLAG_PACKED;
    }
    if (fd->p->options && fd->p->options->deprecated)
      flags |= PROTOBUF_C_FIELD_FLAG_DEPRECATED;
    if (fd->oneof >= 0)
      flags |= PROTOBUF_C_FIELD_FLAG_ONEOF;
    f->flags = flags;

    weft_field_info *wi = &info[k];
    wi->json_name = fd->p->json_name ? weft__dyn_strdup(s, fd->p->json_name)
                                     : json_default(s, fd->p->name);
    wi->oneof_index = fd->oneof;
    wi->flags = 0;
    if (fd->map)
      wi->flags |= WEFT_FIELD_MAP;
    if (fd->p3opt)
      wi->flags |= WEFT_FIELD_PROTO3_OPTIONAL;
    if (fd->p->type == DYN_T(STRING) && m->file->syntax == 3)
      wi->flags |= WEFT_FIELD_CHECK_UTF8;
    if (fd->p->default_value)
      wi->flags |= WEFT_FIELD_HAS_DEFAULT;
    if (fd->group)
      wi->flags |= WEFT_FIELD_GROUP;
    if (!f->name || !wi->json_name)
      goto out;
  }
  for (size_t i = 0; i < n; i++) {
    items[i].name = fs[i].p->name;
    items[i].index = pos[i];
  }
  qsort(items, n, sizeof *items, by_name);
  for (size_t k = 0; k < n; k++)
    sorted_by_name[k] = (unsigned)items[k].index;
  unsigned n_ranges = 0;
  ProtobufCIntRange *ranges = make_ranges(s, nums, n, &n_ranges);
  if (!ranges)
    goto out;

  weft_msg_desc *d = m->d;
  ProtobufCMessageDescriptor *b = &d->base;
  b->magic = PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC;
  b->name = m->full;
  b->short_name = weft__dyn_strdup(s, p->name);
  b->c_name = m->cname;
  b->package_name = weft__dyn_strdup(s, pkg_of(m->file));
  b->sizeof_message = sizeof_message;
  b->n_fields = (unsigned)n;
  b->fields = fields;
  b->fields_sorted_by_name = sorted_by_name;
  b->n_field_ranges = n_ranges;
  b->field_ranges = ranges;
  b->message_init = NULL; /* weft_message_init then uses default_value */
  d->field_info = info;
  d->n_oneofs = n_oneofs;
  d->oneof_names = n_oneofs ? oneof_names : NULL;
  d->syntax = (uint8_t)m->file->syntax;
  d->wkt = WEFT_WKT_NONE; /* weft__dyn_set_wkt, once every type is built */
  d->is_map_entry = (uint8_t)m->map_entry;
  d->file = m->file->d;
  d->cache = weft__dyn_alloc(s, sizeof *d->cache); /* zeroed: empty */
  rv = b->short_name && b->package_name && d->cache ? 0 : WEFT_ERR_NOMEM;
out:
  if (rv == WEFT_ERR_NOMEM)
    weft_error_set(err, rv, "%s: out of memory building message %s", fn,
                   m->full);
  free(real);
  free(fs);
  free(items);
  free(nums);
  free(pos);
  return rv;
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

/* Same fields (numbers, types, labels, oneof membership, types of
 * sub-messages) as the compiled-in descriptor. */
static int same_shape(const weft_msg_desc *a, const weft_msg_desc *b) {
  if (a->base.n_fields != b->base.n_fields || a->n_oneofs != b->n_oneofs)
    return 0;
  for (unsigned i = 0; i < a->base.n_fields; i++) {
    const ProtobufCFieldDescriptor *x = &a->base.fields[i],
                                   *y = &b->base.fields[i];
    if (x->id != y->id || x->type != y->type || x->label != y->label ||
        (x->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) !=
            (y->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
      return 0;
    if (x->type == PROTOBUF_C_TYPE_MESSAGE || x->type == PROTOBUF_C_TYPE_ENUM) {
      const char *xn =
          ((const ProtobufCMessageDescriptor *)x->descriptor)->name;
      const char *yn =
          ((const ProtobufCMessageDescriptor *)y->descriptor)->name;
      if (x->type == PROTOBUF_C_TYPE_ENUM) {
        xn = ((const ProtobufCEnumDescriptor *)x->descriptor)->name;
        yn = ((const ProtobufCEnumDescriptor *)y->descriptor)->name;
      }
      if (strcmp(xn, yn) != 0)
        return 0;
    }
  }
  return 1;
}

void weft__dyn_set_wkt(dyn_msg *m) {
  if (!m->d)
    return;
  for (size_t i = 0; i < sizeof wkt_names / sizeof wkt_names[0]; i++)
    if (strcmp(m->full, wkt_names[i]) == 0) {
      /* The JSON codec reads WKT fields by position: only trust the flag
       * if the shape is the one weft was compiled with. */
      const weft_msg_desc *c =
          weft_registry_find_message(weft_registry_global(), m->full);
      if (c && c->wkt == (int)i + 1 && same_shape(m->d, c))
        m->d->wkt = (uint8_t)(i + 1);
      return;
    }
}
