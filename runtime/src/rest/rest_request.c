/* Building a method's request from a REST call: path variables, query
 * parameters and the body (weft_rest_prepare).
 *
 * The parameters are typed by the request's descriptor and written as one
 * proto3 JSON object, which the JSON decoder turns into the message; the
 * body is decoded on its own. Both are encoded to protobuf binary and
 * concatenated: protobuf's merge, so a path variable overrides the same
 * field in the body (it comes later) and nothing is re-printed (a body's
 * 64-bit numbers stay exact). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rest_resolve.h"
#include "weft/codec.h"
#include "weft/json.h"
#include "weft/rest.h"
#include "weft/status.h"
#include "weft/utf8.h"

/* Query parameters at most; more is a 400 rather than quadratic work. */
#define MAX_PARAMS 256

typedef struct sbuf {
  char *p;
  size_t len, cap;
  int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
  if (b->oom)
    return;
  if (b->cap - b->len < n + 1) {
    size_t cap = b->cap ? b->cap * 2 : 256;
    while (cap - b->len < n + 1)
      cap *= 2;
    char *np = realloc(b->p, cap);
    if (!np) {
      b->oom = 1;
      return;
    }
    b->p = np;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}
static void sb_puts(sbuf *b, const char *s) {
  sb_put(b, s, strlen(s));
}

static void sb_jstring(sbuf *b, const char *s) {
  sb_put(b, "\"", 1);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    char esc[8];
    if (c == '"' || c == '\\') {
      esc[0] = '\\';
      esc[1] = (char)c;
      sb_put(b, esc, 2);
    } else if (c < 0x20) {
      snprintf(esc, sizeof esc, "\\u%04x", c);
      sb_put(b, esc, 6);
    } else {
      sb_put(b, (const char *)&c, 1);
    }
  }
  sb_put(b, "\"", 1);
}

/* One value for one field path. */
typedef struct param {
  weft__rest_fpath fp;
  char *json;       /* the value as JSON text */
  const char *name; /* for messages: the parameter as given */
} param;

typedef struct params {
  param v[MAX_PARAMS];
  unsigned n;
} params;

static void params_free(params *ps) {
  for (unsigned i = 0; i < ps->n; i++)
    free(ps->v[i].json);
  ps->n = 0;
}

/* Bytes of a value quoted in an error message at most. */
#define SHOW_MAX 64

/* s[0..n) for an error message: at most SHOW_MAX bytes, cut at a character
 * boundary ("..." when cut), bytes that are not UTF-8 shown as '?'. The
 * message goes into a JSON error body, which must stay valid UTF-8. */
static const char *show(const char *s, size_t n, char buf[SHOW_MAX + 4]) {
  size_t o = 0;
  for (size_t i = 0; i < n;) {
    unsigned char c = (unsigned char)s[i];
    size_t len = c < 0x80                 ? 1
                 : c >= 0xC2 && c <= 0xDF ? 2
                 : c >= 0xE0 && c <= 0xEF ? 3
                 : c >= 0xF0 && c <= 0xF4 ? 4
                                          : 0;
    int ok = len && len <= n - i && weft_utf8_valid(s + i, len);
    if (!ok)
      len = 1;
    if (o + len > SHOW_MAX) {
      memcpy(buf + o, "...", 3);
      o += 3;
      break;
    }
    memcpy(buf + o, ok ? s + i : "?", len);
    o += len;
    i += len;
  }
  buf[o] = '\0';
  return buf;
}

/* `<what> <name>: "<val>" <why><type>`, val shown as show() does. */
static int bad_value(weft_error *err, const char *what, const char *name,
                     const char *val, const char *why, const char *type) {
  char shown[SHOW_MAX + 4];
  return weft_error_set(err, WEFT_ERR_INVAL, "%s %s: \"%s\" %s%s", what, name,
                        show(val, strlen(val), shown), why, type);
}

/* Whether s is an integer as the proto3 JSON decoder takes one quoted
 * ("5", "+5", and "-5" when is_signed): strtoll/strtoull alone skip
 * leading whitespace and read a '-' after it, so " -1" became 2^64 - 1 in
 * a uint64. Range is strto*'s errno, checked by the caller. */
static int int_syntax(const char *s, int is_signed) {
  if (*s == '+' || (is_signed && *s == '-'))
    s++;
  if (!*s)
    return 0;
  for (; *s; s++)
    if (*s < '0' || *s > '9')
      return 0;
  return 1;
}

static const char *int_type_name(ProtobufCType t) {
  switch (t) {
  case PROTOBUF_C_TYPE_INT32:
    return "int32";
  case PROTOBUF_C_TYPE_SINT32:
    return "sint32";
  case PROTOBUF_C_TYPE_SFIXED32:
    return "sfixed32";
  case PROTOBUF_C_TYPE_INT64:
    return "int64";
  case PROTOBUF_C_TYPE_SINT64:
    return "sint64";
  case PROTOBUF_C_TYPE_SFIXED64:
    return "sfixed64";
  case PROTOBUF_C_TYPE_UINT32:
    return "uint32";
  case PROTOBUF_C_TYPE_FIXED32:
    return "fixed32";
  case PROTOBUF_C_TYPE_UINT64:
    return "uint64";
  default:
    return "fixed64";
  }
}

/* Writes val as the JSON of a value of field f (scalar, enum or a
 * well-known type with a string form). Returns 0 or WEFT_ERR_INVAL with
 * err naming the parameter. */
static int scalar_json(const ProtobufCFieldDescriptor *f, const char *val,
                       const char *what, const char *name, sbuf *out,
                       weft_error *err) {
  char num[64];
  char *end;
  ProtobufCType type = f->type;
  if (type == PROTOBUF_C_TYPE_MESSAGE) {
    const weft_msg_desc *d = weft_msg_desc_of(f->descriptor);
    if (d->wkt == WEFT_WKT_TIMESTAMP || d->wkt == WEFT_WKT_DURATION ||
        d->wkt == WEFT_WKT_FIELD_MASK) {
      sb_jstring(out, val);
      return 0;
    }
    /* A wrapper: its "value" field's type. */
    return scalar_json(&d->base.fields[0], val, what, name, out, err);
  }
  errno = 0;
  switch (type) {
  case PROTOBUF_C_TYPE_STRING:
  case PROTOBUF_C_TYPE_BYTES: /* base64, checked by the decoder */
    sb_jstring(out, val);
    return 0;
  case PROTOBUF_C_TYPE_BOOL:
    if (!strcmp(val, "true") || !strcmp(val, "1"))
      sb_puts(out, "true");
    else if (!strcmp(val, "false") || !strcmp(val, "0"))
      sb_puts(out, "false");
    else
      return bad_value(err, what, name, val, "is not a boolean (true, false)",
                       "");
    return 0;
  case PROTOBUF_C_TYPE_INT32:
  case PROTOBUF_C_TYPE_SINT32:
  case PROTOBUF_C_TYPE_SFIXED32:
  case PROTOBUF_C_TYPE_INT64:
  case PROTOBUF_C_TYPE_SINT64:
  case PROTOBUF_C_TYPE_SFIXED64: {
    int is32 = type == PROTOBUF_C_TYPE_INT32 ||
               type == PROTOBUF_C_TYPE_SINT32 ||
               type == PROTOBUF_C_TYPE_SFIXED32;
    if (!int_syntax(val, 1))
      return bad_value(err, what, name, val, "is not an ", int_type_name(type));
    long long v = strtoll(val, &end, 10);
    if (errno || (is32 && (v < INT32_MIN || v > INT32_MAX)))
      return bad_value(err, what, name, val, "is out of range for ",
                       int_type_name(type));
    snprintf(num, sizeof num, is32 ? "%lld" : "\"%lld\"", v);
    sb_puts(out, num);
    return 0;
  }
  case PROTOBUF_C_TYPE_UINT32:
  case PROTOBUF_C_TYPE_FIXED32:
  case PROTOBUF_C_TYPE_UINT64:
  case PROTOBUF_C_TYPE_FIXED64: {
    int is32 =
        type == PROTOBUF_C_TYPE_UINT32 || type == PROTOBUF_C_TYPE_FIXED32;
    if (!int_syntax(val, 0))
      return bad_value(err, what, name, val, "is not a ", int_type_name(type));
    unsigned long long v = strtoull(val, &end, 10);
    if (errno || (is32 && v > UINT32_MAX))
      return bad_value(err, what, name, val, "is out of range for ",
                       int_type_name(type));
    snprintf(num, sizeof num, is32 ? "%llu" : "\"%llu\"", v);
    sb_puts(out, num);
    return 0;
  }
  case PROTOBUF_C_TYPE_FLOAT:
  case PROTOBUF_C_TYPE_DOUBLE: {
    if (!strcmp(val, "NaN") || !strcmp(val, "Infinity") ||
        !strcmp(val, "-Infinity")) {
      sb_jstring(out, val);
      return 0;
    }
    /* strtod alone would take "inf", "nan" and hex floats. */
    const char *c = val;
    if (*c == '-')
      c++;
    int ok = *c >= '0' && *c <= '9';
    for (const char *q = c; *q && ok; q++)
      ok = strchr("0123456789.eE+-", *q) != NULL;
    double v = ok ? strtod(val, &end) : 0;
    const char *tn = type == PROTOBUF_C_TYPE_FLOAT ? "float" : "double";
    if (!ok || *end)
      return bad_value(err, what, name, val, "is not a ", tn);
    /* The JSON decoder's range (json_decode.c, to_float): a value that
     * rounds to a finite float is a float. Go and Java print FLT_MAX as
     * 3.4028235e38, a little above it, which rounds to it. */
    if (!isfinite(v) || (type == PROTOBUF_C_TYPE_FLOAT && isinf((float)v)))
      return bad_value(err, what, name, val, "is out of range for ", tn);
    snprintf(num, sizeof num, "%.17g", v);
    sb_puts(out, num);
    return 0;
  }
  case PROTOBUF_C_TYPE_ENUM: {
    const ProtobufCEnumDescriptor *ed = f->descriptor;
    if (protobuf_c_enum_descriptor_get_value_by_name(ed, val)) {
      sb_jstring(out, val);
      return 0;
    }
    int isint = int_syntax(val, 1);
    long long v = isint ? strtoll(val, &end, 10) : 0;
    if (isint && !errno && v >= INT32_MIN && v <= INT32_MAX &&
        protobuf_c_enum_descriptor_get_value(ed, (int)v)) {
      snprintf(num, sizeof num, "%lld", v);
      sb_puts(out, num);
      return 0;
    }
    return bad_value(err, what, name, val, "is not a value of ", ed->name);
  }
  default:
    return weft_error_set(err, WEFT_ERR_INVAL, "%s %s: unsupported field type",
                          what, name);
  }
}

/* Adds name=val. bound: the path variables' and body field's paths, which
 * query parameters do not override (grpc-gateway filters them). */
static int add_param(params *ps, const weft_msg_desc *in, const char *what,
                     const char *name, const char *val, int from_query,
                     const weft_rest_match *m, const char *body_field,
                     weft_error *err) {
  size_t nlen = strlen(name);
  if (from_query) {
    for (unsigned v = 0; v < m->n_vars; v++) {
      size_t fl = strlen(m->vars[v].field);
      if (fl == nlen && !memcmp(m->vars[v].field, name, nlen))
        return 0;
    }
    if (body_field) {
      size_t bl = strlen(body_field);
      if (nlen >= bl && !memcmp(name, body_field, bl) &&
          (name[bl] == '\0' || name[bl] == '.'))
        return 0;
    }
  }
  if (ps->n == MAX_PARAMS)
    return weft_error_set(err, WEFT_ERR_INVAL, "more than %d query parameters",
                          MAX_PARAMS);
  param *p = &ps->v[ps->n];
  memset(p, 0, sizeof *p);
  if (weft__rest_resolve(in, name, nlen, what, &p->fp, err) < 0)
    return WEFT_ERR_INVAL;
  const ProtobufCFieldDescriptor *leaf = p->fp.f[p->fp.n - 1];
  if (!weft__rest_leaf_ok(leaf, p->fp.msg[p->fp.n - 1]))
    return weft_error_set(err, WEFT_ERR_INVAL,
                          "%s %s: a message or map field; set its fields "
                          "(%s.name=...)",
                          what, name, name);
  if (leaf->label != PROTOBUF_C_LABEL_REPEATED)
    for (unsigned i = 0; i < ps->n; i++)
      if (ps->v[i].fp.n == p->fp.n &&
          !memcmp(ps->v[i].fp.f, p->fp.f, p->fp.n * sizeof p->fp.f[0]))
        return weft_error_set(err, WEFT_ERR_INVAL,
                              "%s %s: given more than once for a singular "
                              "field",
                              what, name);
  /* Checked here rather than left to the decoder, which would give an
   * offset into the JSON written from the parameters. */
  if (!weft_utf8_valid(val, strlen(val)))
    return weft_error_set(err, WEFT_ERR_INVAL, "%s %s: invalid UTF-8", what,
                          name);
  sbuf b = {0};
  int rv = scalar_json(leaf, val, what, name, &b, err);
  if (rv < 0 || b.oom) {
    free(b.p);
    return rv < 0 ? rv : weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
  }
  p->json = b.p;
  ps->n++;
  return 0;
}

/* Writes the params whose paths share fp[0..depth) with `like` (all of
 * them at depth 0) as one JSON object. */
static void write_object(sbuf *b, const params *ps, unsigned depth,
                         const param *like, char *done) {
  sb_put(b, "{", 1);
  int first = 1;
  for (unsigned i = 0; i < ps->n; i++) {
    const param *p = &ps->v[i];
    if (done[i] || p->fp.n <= depth ||
        (like && memcmp(p->fp.f, like->fp.f, depth * sizeof p->fp.f[0])))
      continue;
    const ProtobufCFieldDescriptor *f = p->fp.f[depth];
    if (!first)
      sb_put(b, ",", 1);
    first = 0;
    sb_jstring(b, f->name);
    sb_put(b, ":", 1);
    if (p->fp.n > depth + 1) {
      write_object(b, ps, depth + 1, p, done);
      continue;
    }
    int rep = f->label == PROTOBUF_C_LABEL_REPEATED;
    if (rep)
      sb_put(b, "[", 1);
    int n = 0;
    for (unsigned j = i; j < ps->n; j++) {
      const param *q = &ps->v[j];
      if (done[j] || q->fp.n != depth + 1 || q->fp.f[depth] != f ||
          memcmp(q->fp.f, p->fp.f, depth * sizeof p->fp.f[0]))
        continue;
      if (n++)
        sb_put(b, ",", 1);
      sb_puts(b, q->json);
      done[j] = 1;
    }
    if (rep)
      sb_put(b, "]", 1);
  }
  /* Mark the nested ones written by the recursion above. */
  for (unsigned i = 0; i < ps->n; i++)
    if (!done[i] && ps->v[i].fp.n > depth &&
        (!like ||
         !memcmp(ps->v[i].fp.f, like->fp.f, depth * sizeof like->fp.f[0])))
      done[i] = 1;
  sb_put(b, "}", 1);
}

static int parse_query(params *ps, const weft_msg_desc *in, const char *q,
                       const weft_rest_match *m, const char *body_field,
                       weft_error *err) {
  while (q && *q) {
    const char *amp = strchr(q, '&');
    size_t n = amp ? (size_t)(amp - q) : strlen(q);
    const char *eq = memchr(q, '=', n);
    size_t kn = eq ? (size_t)(eq - q) : n;
    if (n) {
      char *k = NULL, *v = NULL;
      int rv = weft__pct_decode(q, kn, false, true, &k, NULL);
      if (rv == 0)
        rv = eq ? weft__pct_decode(eq + 1, n - kn - 1, false, true, &v, NULL)
                : weft__pct_decode("", 0, false, true, &v, NULL);
      char shown[SHOW_MAX + 4];
      if (rv < 0) {
        free(k);
        free(v);
        if (rv == WEFT_ERR_NOMEM)
          return weft_error_set(err, rv, "out of memory");
        return weft_error_set(err, rv, "query parameter %s: bad percent-escape",
                              show(q, kn, shown));
      }
      /* Every other message names the parameter as decoded. */
      if (!weft_utf8_valid(k, strlen(k))) {
        free(k);
        free(v);
        return weft_error_set(err, WEFT_ERR_INVAL,
                              "query parameter %s: invalid UTF-8 in the name",
                              show(q, kn, shown));
      }
      rv = add_param(ps, in, "query parameter", k, v, 1, m, body_field, err);
      free(k);
      free(v);
      if (rv < 0)
        return rv;
    }
    q = amp ? amp + 1 : NULL;
  }
  return 0;
}

/* The decoder counts "at offset N" from the start of the text it was
 * given; a body field's text starts after the {"field": it is wrapped in,
 * which the client never sent, so that prefix comes off. */
static void unshift_offset(char *msg, size_t cap, size_t shift) {
  char *num = strstr(msg, "at offset ");
  if (!num)
    return;
  num += sizeof "at offset " - 1;
  char *end;
  errno = 0;
  unsigned long long off = strtoull(num, &end, 10);
  if (end == num || errno || off < shift)
    return;
  char tail[WEFT_ERROR_MSG_MAX];
  snprintf(tail, sizeof tail, "%s", end);
  snprintf(num, cap - (size_t)(num - msg), "%llu%s", off - shift, tail);
}

/* shift: bytes of json before the client's text (see unshift_offset). */
static int to_binary(const weft_msg_desc *d, const char *json, size_t len,
                     unsigned flags, const char *what, size_t shift,
                     uint8_t **out, size_t *out_len, weft_error *err) {
  weft_json_opts jo = {0};
  jo.flags = flags;
  void *msg = NULL;
  weft_error e = {0};
  int rv = weft_json_decode(d, json, len, &jo, &msg, &e);
  if (rv < 0) {
    if (shift)
      unshift_offset(e.message, sizeof e.message, shift);
    return weft_error_set(err, rv == WEFT_ERR_NOMEM ? rv : WEFT_ERR_INVAL,
                          "%s: %s", what, e.message);
  }
  rv = weft_encode_alloc(msg, out, out_len);
  weft_message_free(msg);
  if (rv < 0)
    return weft_error_set(err, rv, "out of memory");
  return 0;
}

static int json_ws(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Where a bare scalar (number, true, false, null, or a typo) ends. */
static int json_delim(char c) {
  switch (c) {
  case ',':
  case ':':
  case '[':
  case ']':
  case '{':
  case '}':
  case '"':
    return 1;
  default:
    return json_ws(c);
  }
}

/* Just past the string whose opening quote is s[i]; n + 1 if it is
 * unterminated. */
static size_t string_end(const char *s, size_t n, size_t i) {
  for (i++; i < n; i++) {
    if (s[i] == '\\')
      i++;
    else if (s[i] == '"')
      return i + 1;
  }
  return n + 1;
}

/* Checks that a body field's body s[0..n) is one JSON value with only
 * whitespace around it. It is decoded wrapped as {"field":<body>}, and
 * google.api.http maps the body to that field only: {"a":1},"i32":9 would
 * otherwise close the value early and set i32. This finds where the first
 * value ends (brackets counted outside strings, a scalar up to the next
 * delimiter) and refuses anything after it; the decoder checks the value
 * itself, within the body, as brackets of the wrong kind fail there.
 * Returns 0 or WEFT_ERR_INVAL with err saying where, as the decoder would. */
static int one_value(const char *s, size_t n, weft_error *err) {
  size_t i = 0;
  const char *why = NULL;
  while (i < n && json_ws(s[i]))
    i++;
  if (i == n) {
    why = "unexpected end of the body";
  } else if (s[i] == '{' || s[i] == '[') {
    size_t depth = 0;
    while (i < n) {
      char c = s[i];
      if (c == '"') {
        size_t e = string_end(s, n, i);
        if (e > n) {
          i++;
          why = "unterminated string";
          break;
        }
        i = e;
        continue;
      }
      i++;
      if (c == '{' || c == '[')
        depth++;
      else if ((c == '}' || c == ']') && --depth == 0)
        break;
    }
    if (!why && depth)
      why = "unexpected end of the body";
  } else if (s[i] == '"') {
    size_t e = string_end(s, n, i);
    if (e > n) {
      i++;
      why = "unterminated string";
    } else {
      i = e;
    }
  } else if (json_delim(s[i])) {
    why = "unexpected character";
  } else {
    while (i < n && !json_delim(s[i]))
      i++;
  }
  if (!why) {
    while (i < n && json_ws(s[i]))
      i++;
    if (i == n)
      return 0;
    why = "trailing characters after the value";
  }
  return weft_error_set(err, WEFT_ERR_INVAL,
                        "body: invalid JSON at offset %zu: %s", i, why);
}

static int fail_with(weft_rest_call *out, int rv, weft_error *err) {
  int code;
  switch (rv) {
  case WEFT_ERR_UNSUPPORTED:
    code = WEFT_STATUS_NOT_FOUND;
    out->http_status = 404;
    break;
  case WEFT_ERR_STATE:
    code = WEFT_STATUS_UNIMPLEMENTED;
    out->http_status = 405;
    break;
  case WEFT_ERR_NOMEM:
    code = WEFT_STATUS_RESOURCE_EXHAUSTED;
    out->http_status = 503;
    break;
  default:
    code = WEFT_STATUS_INVALID_ARGUMENT;
    out->http_status = 400;
    break;
  }
  out->code = code;
  if (err && !err->code)
    err->code = rv;
  return rv;
}

int weft_rest_prepare(const weft_rest_router *r, const weft_rest_request *req,
                      weft_rest_call *out, weft_error *err) {
  memset(out, 0, sizeof *out);
  weft_rest_match m;
  int rv = weft_rest_route(r, req->method ? req->method : "GET",
                           req->path ? req->path : "", &m, err);
  if (rv < 0)
    return fail_with(out, rv, err);
  const weft_msg_desc *in = m.method->input;
  const char *body = m.rule->body && *m.rule->body ? m.rule->body : NULL;
  int body_all = body && !strcmp(body, "*");
  params *ps = calloc(1, sizeof *ps);
  char *done = NULL;
  sbuf js = {0};
  uint8_t *b1 = NULL, *b2 = NULL;
  size_t l1 = 0, l2 = 0;
  if (!ps) {
    rv = weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
    goto out;
  }
  for (unsigned v = 0; v < m.n_vars && rv == 0; v++)
    rv = add_param(ps, in, "path variable", m.vars[v].field, m.vars[v].value, 0,
                   &m, NULL, err);
  if (rv == 0 && !body_all)
    rv = parse_query(ps, in, req->query, &m, body, err);
  if (rv < 0)
    goto out;
  done = calloc(ps->n + 1, 1);
  if (!done) {
    rv = weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
    goto out;
  }
  write_object(&js, ps, 0, NULL, done);
  if (js.oom) {
    rv = weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
    goto out;
  }
  rv = to_binary(in, js.p, js.len, 0, "parameters", 0, &b2, &l2, err);
  if (rv < 0)
    goto out;
  /* The body, when the rule takes one and one came. */
  size_t blen = req->body ? req->body_len : 0;
  while (blen && strchr(" \t\r\n", req->body[blen - 1]))
    blen--;
  if (body && blen) {
    if (body_all) {
      rv = to_binary(in, req->body, req->body_len, WEFT_JSON_IGNORE_UNKNOWN,
                     "body", 0, &b1, &l1, err);
    } else if ((rv = one_value(req->body, req->body_len, err)) == 0) {
      sbuf w = {0};
      int idx = weft_field_index_by_name(in, body, strlen(body));
      sb_put(&w, "{", 1);
      sb_jstring(&w, in->base.fields[idx].name);
      sb_put(&w, ":", 1);
      size_t shift = w.len;
      sb_put(&w, req->body, req->body_len);
      sb_put(&w, "}", 1);
      rv = w.oom ? weft_error_set(err, WEFT_ERR_NOMEM, "out of memory")
                 : to_binary(in, w.p, w.len, WEFT_JSON_IGNORE_UNKNOWN, "body",
                             shift, &b1, &l1, err);
      free(w.p);
    }
    if (rv < 0)
      goto out;
  }
  out->request = malloc(l1 + l2 + 1);
  if (!out->request) {
    rv = weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
    goto out;
  }
  if (l1)
    memcpy(out->request, b1, l1);
  if (l2)
    memcpy(out->request + l1, b2, l2);
  out->request_len = l1 + l2;
  out->method = m.method;
  out->rule = m.rule;
out:
  free(b1);
  free(b2);
  free(js.p);
  free(done);
  if (ps)
    params_free(ps);
  free(ps);
  weft_rest_match_clear(&m);
  if (rv < 0)
    return fail_with(out, rv, err);
  return 0;
}

void weft_rest_call_clear(weft_rest_call *c) {
  if (!c)
    return;
  free(c->request);
  memset(c, 0, sizeof *c);
}
