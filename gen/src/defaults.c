/* Initial values of singular fields: proto2 [default = ...], the first
 * value of a closed enum, "" for proto3 strings. A default that is not all
 * zero bits also gets an object the descriptor's default_value points at,
 * so table-driven init (protobuf-c's or weft's) finds it. */
#include <ctype.h>
#include <string.h>

#include "gen.h"
#include "types.h"

static const char *float_lit(const char *t, int is_float) {
  if (strcmp(t, "inf") == 0)
    return is_float ? "INFINITY" : "(double)INFINITY";
  if (strcmp(t, "-inf") == 0)
    return is_float ? "(-INFINITY)" : "(-(double)INFINITY)";
  if (strcmp(t, "nan") == 0 || strcmp(t, "-nan") == 0)
    return is_float ? "NAN" : "(double)NAN";
  int frac = strpbrk(t, ".eE") != NULL;
  return gen_fmt("%s%s%s", t, frac ? "" : ".0", is_float ? "f" : "");
}

static const char *int_lit(const gen_field *fd, const char *t) {
  switch (fd->p->type) {
  case GEN_T(INT32):
  case GEN_T(SINT32):
  case GEN_T(SFIXED32):
    return strcmp(t, "-2147483648") == 0 ? "(-2147483647 - 1)" : t;
  case GEN_T(UINT32):
  case GEN_T(FIXED32):
    return gen_fmt("%su", t);
  case GEN_T(INT64):
  case GEN_T(SINT64):
  case GEN_T(SFIXED64):
    return strcmp(t, "-9223372036854775808") == 0 ? "INT64_MIN"
                                                  : gen_fmt("INT64_C(%s)", t);
  case GEN_T(UINT64):
  case GEN_T(FIXED64):
    return gen_fmt("UINT64_C(%s)", t);
  default:
    return t;
  }
}

/* protoc gives bytes defaults C-escaped (CEscape); undo it. */
static size_t unescape(const char *s, char *out) {
  size_t n = 0;
  while (*s) {
    if (*s != '\\') {
      out[n++] = *s++;
      continue;
    }
    s++;
    switch (*s) {
    case 'n':
      out[n++] = '\n';
      s++;
      break;
    case 'r':
      out[n++] = '\r';
      s++;
      break;
    case 't':
      out[n++] = '\t';
      s++;
      break;
    case 'a':
      out[n++] = '\a';
      s++;
      break;
    case 'b':
      out[n++] = '\b';
      s++;
      break;
    case 'f':
      out[n++] = '\f';
      s++;
      break;
    case 'v':
      out[n++] = '\v';
      s++;
      break;
    case 'x': {
      s++;
      unsigned v = 0;
      for (int k = 0; k < 2 && isxdigit((unsigned char)*s); k++, s++)
        v = v * 16 + (unsigned)(isdigit((unsigned char)*s)
                                    ? *s - '0'
                                    : tolower((unsigned char)*s) - 'a' + 10);
      out[n++] = (char)v;
      break;
    }
    default:
      if (*s >= '0' && *s <= '7') {
        unsigned v = 0;
        for (int k = 0; k < 3 && *s >= '0' && *s <= '7'; k++, s++)
          v = v * 8 + (unsigned)(*s - '0');
        out[n++] = (char)v;
      } else if (*s) {
        out[n++] = *s++;
      }
    }
  }
  return n;
}

void field_default(const gen_msg *m, const gen_field *fd, gen_default *d) {
  const char *explicit_ = fd->p->default_value;
  const char *obj = gen_fmt("%s_default_%s", m->cname, fd->member);
  int implicit3 = strcmp(field_label(m, fd), "PROTOBUF_C_LABEL_NONE") == 0;
  memset(d, 0, sizeof(*d));
  d->ptr = "NULL";
  switch (fd->p->type) {
  case GEN_T(MESSAGE):
  case GEN_T(GROUP):
    d->init = "NULL";
    return;
  case GEN_T(STRING):
    if (explicit_ != NULL) {
      gen_buf b = {0};
      buf_printf(&b, "const char %s[] = ", obj);
      buf_cstring(&b, explicit_, strlen(explicit_));
      buf_put(&b, ";\n");
      d->object = gen_strdup(b.data);
      buf_free(&b);
      d->header = gen_fmt("extern const char %s[];\n", obj);
      d->init = gen_fmt("(char *)%s", obj);
      d->ptr = obj;
    } else if (implicit3) {
      d->init = "(char *)protobuf_c_empty_string";
      d->ptr = "protobuf_c_empty_string";
    } else {
      d->init = "NULL";
    }
    return;
  case GEN_T(BYTES): {
    char *raw = explicit_ ? gen_alloc(strlen(explicit_) + 1) : NULL;
    size_t n = explicit_ ? unescape(explicit_, raw) : 0;
    if (n == 0) {
      d->init = "{0, NULL}";
      return;
    }
    const char *data = gen_fmt("%s_defbytes_%s", m->cname, fd->member);
    gen_buf b = {0};
    buf_printf(&b, "const uint8_t %s[%zu] = {", data, n);
    for (size_t i = 0; i < n; i++)
      buf_printf(&b, "%s0x%02x", i ? ", " : "", (unsigned char)raw[i]);
    buf_printf(&b,
               "};\nstatic const ProtobufCBinaryData %s = {%zu, "
               "(uint8_t *)%s};\n",
               obj, n, data);
    d->object = gen_strdup(b.data);
    buf_free(&b);
    d->header = gen_fmt("extern const uint8_t %s[];\n", data);
    d->init = gen_fmt("{%zu, (uint8_t *)%s}", n, data);
    d->ptr = gen_fmt("&%s", obj);
    return;
  }
  case GEN_T(ENUM): {
    const gen_enum *e = fd->enum_type;
    if (e == NULL || e->p->n_value == 0) {
      d->init = "0";
      return;
    }
    const Google__Protobuf__EnumValueDescriptorProto *v = e->p->value[0];
    if (explicit_ != NULL)
      for (size_t i = 0; i < e->p->n_value; i++)
        if (strcmp(e->p->value[i]->name, explicit_) == 0) {
          v = e->p->value[i];
          break;
        }
    d->init = gen_fmt("%s__%s", e->cname, v->name);
    if (v->number != 0 || explicit_ != NULL) {
      d->object = gen_fmt("static const %s %s = %s;\n", e->cname, obj, d->init);
      d->ptr = gen_fmt("&%s", obj);
    }
    return;
  }
  default:
    break;
  }
  if (explicit_ == NULL) {
    d->init = "0";
    return;
  }
  if (fd->p->type == GEN_T(BOOL))
    d->init = strcmp(explicit_, "true") == 0 ? "1" : "0";
  else if (fd->p->type == GEN_T(FLOAT))
    d->init = float_lit(explicit_, 1);
  else if (fd->p->type == GEN_T(DOUBLE))
    d->init = float_lit(explicit_, 0);
  else
    d->init = int_lit(fd, explicit_);
  d->object =
      gen_fmt("static const %s %s = %s;\n", field_ctype(fd), obj, d->init);
  d->ptr = gen_fmt("&%s", obj);
}
