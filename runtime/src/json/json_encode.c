/* JSON encoder: walks a generated message through its descriptor tables and
 * writes the proto3 JSON mapping straight into a growable buffer (no
 * intermediate tree). Output matches libprotobuf's MessageToJsonString in
 * compact mode; PRETTY indents by two spaces. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "json_internal.h"
#include "weft/codec.h"

typedef struct enc {
  wj_buf b;
  unsigned flags;
  const weft_registry *reg;
  unsigned depth, max_depth;
  weft_error *err;
} enc;

#define AT(msg, off, T) ((T *)((char *)(msg) + (off)))
#define CAT(msg, off, T) ((const T *)((const char *)(msg) + (off)))

static int enc_message(enc *e, const weft_msg_desc *d, const void *msg,
                       const wj_path *path);

static int fail(enc *e, int code, const wj_path *path, const char *why) {
  char p[160];
  weft__wj_path_format(path, p, sizeof p);
  return weft_error_set(e->err, code, "%s: %s", p, why);
}

static void newline(enc *e) {
  wj_putc(&e->b, '\n');
  for (unsigned i = 0; i < e->depth; i++)
    wj_put(&e->b, "  ", 2);
}

/* Writes the separator and `"key":` of an object member. */
static void member(enc *e, int *first, const char *key, size_t len) {
  if (!*first)
    wj_putc(&e->b, ',');
  *first = 0;
  if (e->flags & WEFT_JSON_PRETTY)
    newline(e);
  if (wj_reserve(&e->b, len + 4) == 0) {
    char *o = e->b.p + e->b.len;
    *o++ = '"';
    memcpy(o, key, len);
    o += len;
    *o++ = '"';
    *o++ = ':';
    e->b.len = (size_t)(o - e->b.p);
  }
  if (e->flags & WEFT_JSON_PRETTY)
    wj_putc(&e->b, ' ');
}

static void elem_sep(enc *e, int *first) {
  if (!*first)
    wj_putc(&e->b, ',');
  *first = 0;
  if (e->flags & WEFT_JSON_PRETTY)
    newline(e);
}

static int open_(enc *e, char c, const wj_path *path) {
  if (++e->depth > e->max_depth)
    return fail(e, WEFT_ERR_DEPTH, path, "nesting too deep");
  wj_putc(&e->b, c);
  return 0;
}

static void close_(enc *e, char c, int first) {
  e->depth--;
  if (!first && (e->flags & WEFT_JSON_PRETTY))
    newline(e);
  wj_putc(&e->b, c);
}

static const ProtobufCFieldDescriptor *field_n(const weft_msg_desc *d,
                                               unsigned i) {
  return i < d->base.n_fields ? &d->base.fields[i] : NULL;
}

/* A google.protobuf.Value with no kind set prints as nothing at all in
 * libprotobuf 3.21: the field, list element or map entry is dropped. */
static int is_empty_value(const ProtobufCFieldDescriptor *f, const void *sub) {
  if (f->type != PROTOBUF_C_TYPE_MESSAGE)
    return 0;
  const weft_msg_desc *d = weft_msg_desc_of(f->descriptor);
  if (d->wkt != WEFT_WKT_VALUE)
    return 0;
  if (!sub)
    return 1;
  return *CAT(sub, d->base.fields[0].quantifier_offset, uint32_t) == 0;
}

static void enc_enum(enc *e, const ProtobufCEnumDescriptor *ed, int v) {
  /* proto3 JSON writes google.protobuf.NullValue as null, whatever the
   * number and the enum flags (libprotobuf does too). */
  if (strcmp(ed->name, "google.protobuf.NullValue") == 0) {
    wj_put(&e->b, "null", 4);
    return;
  }
  if (!(e->flags & WEFT_JSON_ENUMS_AS_INTS)) {
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(ed, v);
    if (ev) {
      weft__wj_string(&e->b, ev->name, strlen(ev->name));
      return;
    }
  }
  weft__wj_i64(&e->b, v);
}

/* One value of field f stored at p (an element for repeated fields). */
static int enc_one(enc *e, const ProtobufCFieldDescriptor *f, const void *p,
                   const wj_path *path) {
  wj_buf *b = &e->b;
  switch (f->type) {
  case PROTOBUF_C_TYPE_INT32:
  case PROTOBUF_C_TYPE_SINT32:
  case PROTOBUF_C_TYPE_SFIXED32:
    weft__wj_i64(b, *(const int32_t *)p);
    return 0;
  case PROTOBUF_C_TYPE_UINT32:
  case PROTOBUF_C_TYPE_FIXED32:
    weft__wj_u64(b, *(const uint32_t *)p);
    return 0;
  case PROTOBUF_C_TYPE_INT64:
  case PROTOBUF_C_TYPE_SINT64:
  case PROTOBUF_C_TYPE_SFIXED64:
    wj_putc(b, '"');
    weft__wj_i64(b, *(const int64_t *)p);
    wj_putc(b, '"');
    return 0;
  case PROTOBUF_C_TYPE_UINT64:
  case PROTOBUF_C_TYPE_FIXED64:
    wj_putc(b, '"');
    weft__wj_u64(b, *(const uint64_t *)p);
    wj_putc(b, '"');
    return 0;
  case PROTOBUF_C_TYPE_FLOAT:
    weft__wj_float(b, *(const float *)p);
    return 0;
  case PROTOBUF_C_TYPE_DOUBLE:
    weft__wj_double(b, *(const double *)p);
    return 0;
  case PROTOBUF_C_TYPE_BOOL:
    if (*(const protobuf_c_boolean *)p)
      wj_put(b, "true", 4);
    else
      wj_put(b, "false", 5);
    return 0;
  case PROTOBUF_C_TYPE_ENUM:
    enc_enum(e, f->descriptor, *(const int *)p);
    return 0;
  case PROTOBUF_C_TYPE_STRING: {
    const char *s = *(char *const *)p;
    if (!s)
      s = "";
    if (weft__wj_string(b, s, strlen(s)) != 0)
      return fail(e, WEFT_ERR_UTF8, path, "string is not valid UTF-8");
    return 0;
  }
  case PROTOBUF_C_TYPE_BYTES: {
    const ProtobufCBinaryData *bd = p;
    weft__wj_base64(b, bd->data, bd->len);
    return 0;
  }
  case PROTOBUF_C_TYPE_MESSAGE: {
    const weft_msg_desc *sd = weft_msg_desc_of(f->descriptor);
    const void *sub = *(void *const *)p;
    if (sub)
      return enc_message(e, sd, sub, path);
    /* An absent map value prints as its type's default. */
    void *tmp = weft_message_new(sd, NULL);
    if (!tmp)
      return fail(e, WEFT_ERR_NOMEM, path, "out of memory");
    int rv = enc_message(e, sd, tmp, path);
    weft_message_free(tmp);
    return rv;
  }
  }
  return fail(e, WEFT_ERR_INTERNAL, path, "unknown field type");
}

static size_t elem_size(ProtobufCType t) {
  switch (t) {
  case PROTOBUF_C_TYPE_INT64:
  case PROTOBUF_C_TYPE_SINT64:
  case PROTOBUF_C_TYPE_SFIXED64:
  case PROTOBUF_C_TYPE_UINT64:
  case PROTOBUF_C_TYPE_FIXED64:
  case PROTOBUF_C_TYPE_DOUBLE:
    return 8;
  case PROTOBUF_C_TYPE_BOOL:
    return sizeof(protobuf_c_boolean);
  case PROTOBUF_C_TYPE_STRING:
  case PROTOBUF_C_TYPE_MESSAGE:
    return sizeof(void *);
  case PROTOBUF_C_TYPE_BYTES:
    return sizeof(ProtobufCBinaryData);
  default:
    return 4;
  }
}

static int enc_array(enc *e, const ProtobufCFieldDescriptor *f, const void *arr,
                     size_t n, const wj_path *path) {
  int rv = open_(e, '[', path);
  if (rv)
    return rv;
  int first = 1;
  size_t sz = elem_size(f->type);
  for (size_t i = 0; i < n; i++) {
    const char *p = (const char *)arr + i * sz;
    if (f->type == PROTOBUF_C_TYPE_MESSAGE &&
        is_empty_value(f, *(void *const *)p))
      continue;
    wj_path ip = {path, NULL, 0, (long)i};
    elem_sep(e, &first);
    if ((rv = enc_one(e, f, p, &ip)) != 0)
      return rv;
  }
  close_(e, ']', first);
  return 0;
}

/* Map keys are always strings: integers in decimal, bools as words. */
static int enc_map_key(enc *e, int *first, const ProtobufCFieldDescriptor *kf,
                       const void *p, const wj_path *path) {
  char t[32];
  wj_buf tb = {t, 0, sizeof t, 0};
  switch (kf->type) {
  case PROTOBUF_C_TYPE_STRING: {
    const char *s = *(char *const *)p;
    if (!s)
      s = "";
    if (!*first)
      wj_putc(&e->b, ',');
    *first = 0;
    if (e->flags & WEFT_JSON_PRETTY)
      newline(e);
    if (weft__wj_string(&e->b, s, strlen(s)) != 0)
      return fail(e, WEFT_ERR_UTF8, path, "map key is not valid UTF-8");
    wj_putc(&e->b, ':');
    if (e->flags & WEFT_JSON_PRETTY)
      wj_putc(&e->b, ' ');
    return 0;
  }
  case PROTOBUF_C_TYPE_BOOL:
    if (*(const protobuf_c_boolean *)p)
      wj_put(&tb, "true", 4);
    else
      wj_put(&tb, "false", 5);
    break;
  case PROTOBUF_C_TYPE_INT64:
  case PROTOBUF_C_TYPE_SINT64:
  case PROTOBUF_C_TYPE_SFIXED64:
    weft__wj_i64(&tb, *(const int64_t *)p);
    break;
  case PROTOBUF_C_TYPE_UINT64:
  case PROTOBUF_C_TYPE_FIXED64:
    weft__wj_u64(&tb, *(const uint64_t *)p);
    break;
  case PROTOBUF_C_TYPE_UINT32:
  case PROTOBUF_C_TYPE_FIXED32:
    weft__wj_u64(&tb, *(const uint32_t *)p);
    break;
  default:
    weft__wj_i64(&tb, *(const int32_t *)p);
    break;
  }
  member(e, first, t, tb.len);
  return 0;
}

static int enc_map(enc *e, const ProtobufCFieldDescriptor *f,
                   void *const *entries, size_t n, const wj_path *path) {
  const weft_msg_desc *ed = weft_msg_desc_of(f->descriptor);
  const ProtobufCFieldDescriptor *kf = field_n(ed, 0), *vf = field_n(ed, 1);
  if (!kf || !vf)
    return fail(e, WEFT_ERR_INTERNAL, path, "malformed map entry descriptor");
  int rv = open_(e, '{', path);
  if (rv)
    return rv;
  int first = 1;
  for (size_t i = 0; i < n; i++) {
    const void *ent = entries[i];
    if (!ent)
      continue;
    const char *vp = (const char *)ent + vf->offset;
    if (vf->type == PROTOBUF_C_TYPE_MESSAGE &&
        is_empty_value(vf, *(void *const *)vp))
      continue;
    wj_path ip = {path, NULL, 0, (long)i};
    if ((rv = enc_map_key(e, &first, kf, (const char *)ent + kf->offset,
                          &ip)) != 0)
      return rv;
    if ((rv = enc_one(e, vf, vp, &ip)) != 0)
      return rv;
  }
  close_(e, '}', first);
  return 0;
}

/* Is a non-repeated, non-oneof field set? */
static int field_present(const weft_msg_desc *d, unsigned i, const void *msg) {
  const ProtobufCFieldDescriptor *f = &d->base.fields[i];
  const void *p = CAT(msg, f->offset, void);
  switch (f->label) {
  case PROTOBUF_C_LABEL_REQUIRED:
    return 1;
  case PROTOBUF_C_LABEL_OPTIONAL:
    if (f->type == PROTOBUF_C_TYPE_MESSAGE)
      return *(void *const *)p != NULL;
    if (f->type == PROTOBUF_C_TYPE_STRING) {
      const char *s = *(char *const *)p;
      return s != NULL && s != (const char *)f->default_value;
    }
    return *CAT(msg, f->quantifier_offset, protobuf_c_boolean) != 0;
  default:
    break;
  }
  switch (f->type) {
  case PROTOBUF_C_TYPE_MESSAGE:
    return *(void *const *)p != NULL;
  case PROTOBUF_C_TYPE_STRING: {
    const char *s = *(char *const *)p;
    return s && *s;
  }
  case PROTOBUF_C_TYPE_BYTES:
    return ((const ProtobufCBinaryData *)p)->len != 0;
  default:
    /* Compare bits, so -0.0 counts as set (as in C++). */
    if (elem_size(f->type) == 8)
      return *(const uint64_t *)p != 0;
    return *(const uint32_t *)p != 0;
  }
}

static int enc_fields(enc *e, const weft_msg_desc *d, const void *msg,
                      int *first, const wj_path *path) {
  const int emit_defaults = (e->flags & WEFT_JSON_EMIT_DEFAULTS) != 0;
  const int proto_names = (e->flags & WEFT_JSON_PROTO_NAMES) != 0;
  for (unsigned i = 0; i < d->base.n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->base.fields[i];
    const weft_field_info *fi = &d->field_info[i];
    const char *name = proto_names ? f->name : fi->json_name;
    const void *p = CAT(msg, f->offset, void);
    int rv;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
      size_t n = *CAT(msg, f->quantifier_offset, size_t);
      if (n == 0 && !emit_defaults)
        continue;
      wj_path fp = {path, name, strlen(name), -1};
      member(e, first, fp.name, fp.len);
      void *const *arr = *(void *const *const *)p;
      rv = (fi->flags & WEFT_FIELD_MAP) ? enc_map(e, f, arr, n, &fp)
                                        : enc_array(e, f, arr, n, &fp);
      if (rv)
        return rv;
      continue;
    }
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
      if (*CAT(msg, f->quantifier_offset, uint32_t) != f->id)
        continue;
    } else if (!field_present(d, i, msg)) {
      /* Unset fields print only with EMIT_DEFAULTS, and never messages or
       * fields with explicit presence in proto3. */
      if (!emit_defaults || f->type == PROTOBUF_C_TYPE_MESSAGE ||
          (fi->flags & WEFT_FIELD_PROTO3_OPTIONAL))
        continue;
    }
    if (f->type == PROTOBUF_C_TYPE_MESSAGE &&
        is_empty_value(f, *(void *const *)p))
      continue;
    wj_path fp = {path, name, strlen(name), -1};
    member(e, first, fp.name, fp.len);
    if ((rv = enc_one(e, f, p, &fp)) != 0)
      return rv;
  }
  return 0;
}

/* ---- well-known types --------------------------------------------------- */

static int enc_any(enc *e, const weft_msg_desc *d, const void *msg,
                   const wj_path *path) {
  const ProtobufCFieldDescriptor *uf = field_n(d, 0), *vf = field_n(d, 1);
  const char *url = *CAT(msg, uf->offset, char *);
  const ProtobufCBinaryData *val = CAT(msg, vf->offset, ProtobufCBinaryData);
  if (!url)
    url = "";
  size_t ulen = strlen(url);
  if (ulen == 0 && val->len == 0) {
    wj_put(&e->b, "{}", 2);
    return 0;
  }
  const weft_msg_desc *td = weft__wj_resolve_any(e->reg, url, ulen);
  if (!td) {
    char why[200];
    snprintf(why, sizeof why, "Any type URL \"%.150s\" is not in the registry",
             url);
    return fail(e, WEFT_ERR_JSON_ANY_TYPE, path, why);
  }
  void *inner = NULL;
  weft_error derr;
  int rv = 0;
  if (val->len != 0) /* an empty payload prints as "@type" alone */
    rv = weft_decode(td, val->data, val->len, NULL, &inner, &derr);
  if (rv)
    return fail(e, rv, path, "Any value does not decode as its type");
  rv = open_(e, '{', path);
  if (rv == 0) {
    int first = 1;
    member(e, &first, "@type", 5);
    weft__wj_string(&e->b, url, ulen);
    if (!inner) {
      /* empty payload: libprotobuf prints no other member either */
    } else if (td->wkt != WEFT_WKT_NONE) {
      wj_path vp = {path, "value", 5, -1};
      member(e, &first, "value", 5);
      rv = enc_message(e, td, inner, &vp);
    } else {
      rv = enc_fields(e, td, inner, &first, path);
    }
    close_(e, '}', first);
  }
  weft_message_free(inner);
  return rv;
}

/* One FieldMask path segment to lowerCamelCase, by libprotobuf's rule:
 * '_' upper-cases the next lower-case letter and is dropped; the first word
 * is lower-cased up to where a capital follows a lower-case letter (or
 * starts a capitalized word); later letters are lower-cased unless a '_'
 * preceded them ("foo_Bar" -> "fooBar", "URL" -> "url", "ab_cD" -> "abCd"). */
static void camel_segment(wj_buf *o, const char *s, size_t n) {
  int capitalize_next = 0, was_cap = 1, first_word = 1;
  size_t start = o->len;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    int is_cap = c >= 'A' && c <= 'Z';
    char lower = is_cap ? (char)(c - 'A' + 'a') : c;
    if (c == '_') {
      capitalize_next = 1;
      if (o->len > start)
        first_word = 0;
    } else if (first_word) {
      if (o->len > start && is_cap &&
          (!was_cap || (i + 1 < n && s[i + 1] >= 'a' && s[i + 1] <= 'z'))) {
        first_word = 0;
        wj_putc(o, c);
      } else {
        wj_putc(o, lower);
      }
    } else if (capitalize_next) {
      capitalize_next = 0;
      wj_putc(o, (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c);
    } else {
      wj_putc(o, lower);
    }
    was_cap = is_cap;
  }
}

static int enc_field_mask(enc *e, const weft_msg_desc *d, const void *msg,
                          const wj_path *path) {
  const ProtobufCFieldDescriptor *pf = field_n(d, 0);
  size_t n = *CAT(msg, pf->quantifier_offset, size_t);
  char *const *paths = *(char *const *const *)CAT(msg, pf->offset, void);
  wj_buf t = {NULL, 0, 0, 0};
  for (size_t i = 0; i < n; i++) {
    if (i)
      wj_putc(&t, ',');
    const char *p = paths[i] ? paths[i] : "";
    for (;;) { /* each '.'-separated segment on its own */
      const char *dot = strchr(p, '.');
      size_t len = dot ? (size_t)(dot - p) : strlen(p);
      camel_segment(&t, p, len);
      if (!dot)
        break;
      wj_putc(&t, '.');
      p = dot + 1;
    }
  }
  int rv = 0;
  if (t.oom)
    rv = fail(e, WEFT_ERR_NOMEM, path, "out of memory");
  else if (weft__wj_string(&e->b, t.p ? t.p : "", t.len) != 0)
    rv = fail(e, WEFT_ERR_UTF8, path, "FieldMask path is not valid UTF-8");
  free(t.p);
  return rv;
}

static int enc_struct(enc *e, const weft_msg_desc *d, const void *msg,
                      const wj_path *path) {
  const ProtobufCFieldDescriptor *f = field_n(d, 0);
  return enc_map(e, f, *(void *const *const *)CAT(msg, f->offset, void),
                 *CAT(msg, f->quantifier_offset, size_t), path);
}

static int enc_value(enc *e, const weft_msg_desc *d, const void *msg,
                     const wj_path *path) {
  uint32_t kind = *CAT(msg, d->base.fields[0].quantifier_offset, uint32_t);
  const ProtobufCFieldDescriptor *f =
      protobuf_c_message_descriptor_get_field(&d->base, kind);
  if (!f || kind == 1) {
    wj_put(&e->b, "null", 4);
    return 0;
  }
  /* A NaN or infinite number_value prints as "NaN"/"Infinity" (a string),
   * as libprotobuf does; it reads back as a string_value. */
  return enc_one(e, f, CAT(msg, f->offset, void), path);
}

static int enc_message(enc *e, const weft_msg_desc *d, const void *msg,
                       const wj_path *path) {
  int rv;
  switch ((weft_wkt)d->wkt) {
  case WEFT_WKT_NONE:
  case WEFT_WKT_EMPTY:
    break;
  case WEFT_WKT_TIMESTAMP:
  case WEFT_WKT_DURATION: {
    char t[48];
    int64_t s = *CAT(msg, field_n(d, 0)->offset, int64_t);
    int32_t ns = *CAT(msg, field_n(d, 1)->offset, int32_t);
    int n = d->wkt == WEFT_WKT_TIMESTAMP ? weft__wj_format_timestamp(t, s, ns)
                                         : weft__wj_format_duration(t, s, ns);
    if (n < 0)
      return fail(e, WEFT_ERR_JSON_RANGE, path,
                  d->wkt == WEFT_WKT_TIMESTAMP
                      ? "Timestamp is outside 0001-01-01..9999-12-31"
                      : "Duration is out of range");
    wj_putc(&e->b, '"');
    wj_put(&e->b, t, (size_t)n);
    wj_putc(&e->b, '"');
    return 0;
  }
  case WEFT_WKT_FIELD_MASK:
    return enc_field_mask(e, d, msg, path);
  case WEFT_WKT_STRUCT:
    return enc_struct(e, d, msg, path);
  case WEFT_WKT_VALUE:
    return enc_value(e, d, msg, path);
  case WEFT_WKT_LIST_VALUE: {
    const ProtobufCFieldDescriptor *f = field_n(d, 0);
    return enc_array(e, f, *(void *const *const *)CAT(msg, f->offset, void),
                     *CAT(msg, f->quantifier_offset, size_t), path);
  }
  case WEFT_WKT_ANY:
    return enc_any(e, d, msg, path);
  default: /* the wrappers: the bare value */
    return enc_one(e, field_n(d, 0), CAT(msg, field_n(d, 0)->offset, void),
                   path);
  }
  if ((rv = open_(e, '{', path)) != 0)
    return rv;
  int first = 1;
  if ((rv = enc_fields(e, d, msg, &first, path)) != 0)
    return rv;
  close_(e, '}', first);
  return 0;
}

int weft_json_encode(const void *msg, const weft_json_opts *opts, char **out,
                     size_t *out_len, weft_error *err) {
  if (!msg || !out)
    return weft_error_set(err, WEFT_ERR_INVAL, "weft_json_encode: NULL");
  enc e = {{NULL, 0, 0, 0}, 0, NULL, 0, WEFT_DEFAULT_MAX_DEPTH, err};
  if (opts) {
    e.flags = opts->flags;
    e.reg = opts->registry;
    if (opts->max_depth)
      e.max_depth = opts->max_depth;
  }
  /* Headroom for typical messages: one allocation in the common case. */
  if (weft__wj_grow(&e.b, 512) != 0)
    return weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
  int rv = enc_message(&e, weft_msg_desc_of_msg(msg), msg, NULL);
  if (rv == 0)
    wj_putc(&e.b, '\0');
  if (rv == 0 && e.b.oom)
    rv = weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
  if (rv) {
    free(e.b.p);
    return rv;
  }
  *out = e.b.p;
  if (out_len)
    *out_len = e.b.len - 1;
  return 0;
}
