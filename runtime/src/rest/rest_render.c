/* REST responses: the reply (or its response_body field) and errors as
 * JSON, and the HTTP status of a gRPC code (weft/rest.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weft/json.h"
#include "weft/rest.h"
#include "weft/status.h"

int weft_rest_http_status(int code) {
  switch (code) {
  case WEFT_STATUS_OK:
    return 200;
  case WEFT_STATUS_INVALID_ARGUMENT:
  case WEFT_STATUS_FAILED_PRECONDITION:
  case WEFT_STATUS_OUT_OF_RANGE:
    return 400;
  case WEFT_STATUS_UNAUTHENTICATED:
    return 401;
  case WEFT_STATUS_PERMISSION_DENIED:
    return 403;
  case WEFT_STATUS_NOT_FOUND:
    return 404;
  case WEFT_STATUS_ALREADY_EXISTS:
  case WEFT_STATUS_ABORTED:
    return 409;
  case WEFT_STATUS_RESOURCE_EXHAUSTED:
    return 429;
  case WEFT_STATUS_CANCELLED:
    return 499;
  case WEFT_STATUS_UNIMPLEMENTED:
    return 501;
  case WEFT_STATUS_UNAVAILABLE:
    return 503;
  case WEFT_STATUS_DEADLINE_EXCEEDED:
    return 504;
  default:
    return 500;
  }
}

/* Skips one JSON value of well-formed text (the encoder's own output). */
static const char *skip_value(const char *s) {
  int depth = 0;
  do {
    char c = *s;
    if (!c)
      return s;
    if (c == '"') {
      for (s++; *s && *s != '"'; s++)
        if (*s == '\\' && s[1])
          s++;
      if (*s)
        s++;
    } else if (c == '{' || c == '[') {
      depth++;
      s++;
    } else if (c == '}' || c == ']') {
      if (depth == 0)
        return s;
      depth--;
      s++;
    } else if (c == ',' && depth == 0) {
      return s;
    } else {
      s++;
    }
  } while (depth > 0 || (*s && *s != ',' && *s != '}' && *s != ']'));
  return s;
}

static int dup_out(const char *s, size_t n, char **json, size_t *len,
                   weft_error *err) {
  char *o = malloc(n + 1);
  if (!o)
    return weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
  memcpy(o, s, n);
  o[n] = '\0';
  *json = o;
  if (len)
    *len = n;
  return 0;
}

int weft_rest_render_response(const weft_rest_call *c, const void *msg,
                              unsigned json_flags, char **json, size_t *len,
                              weft_error *err) {
  weft_json_opts jo = {0};
  const char *field = c && c->rule ? c->rule->response_body : NULL;
  if (field && !*field)
    field = NULL;
  jo.flags = json_flags | (field ? WEFT_JSON_EMIT_DEFAULTS : 0);
  char *whole = NULL;
  size_t wl = 0;
  int rv = weft_json_encode(msg, &jo, &whole, &wl, err);
  if (rv < 0 || !field) {
    if (rv == 0) {
      *json = whole;
      if (len)
        *len = wl;
    }
    return rv;
  }
  const weft_msg_desc *d = weft_msg_desc_of_msg(msg);
  int idx = weft_field_index_by_name(d, field, strlen(field));
  if (idx < 0) {
    free(whole);
    return weft_error_set(err, WEFT_ERR_INVAL,
                          "response_body %s: not a field of %s", field,
                          d->base.name);
  }
  const char *key = (json_flags & WEFT_JSON_PROTO_NAMES)
                        ? d->base.fields[idx].name
                        : d->field_info[idx].json_name;
  size_t kl = strlen(key);
  /* The encoder's output is {"k":v,...}: find the key at the top level. */
  const char *s = whole + 1;
  while (*s == '"') {
    const char *k = s + 1;
    const char *ke = k;
    while (*ke && *ke != '"')
      ke += (*ke == '\\' && ke[1]) ? 2 : 1;
    const char *v = ke + 1;
    while (*v == ':' || *v == ' ' || *v == '\n')
      v++;
    const char *ve = skip_value(v);
    if ((size_t)(ke - k) == kl && !memcmp(k, key, kl)) {
      rv = dup_out(v, (size_t)(ve - v), json, len, err);
      free(whole);
      return rv;
    }
    s = ve;
    while (*s == ',' || *s == ' ' || *s == '\n')
      s++;
  }
  free(whole);
  /* Not printed: an unset message (or oneof member) field. */
  const ProtobufCFieldDescriptor *f = &d->base.fields[idx];
  return dup_out(f->type == PROTOBUF_C_TYPE_MESSAGE ? "{}" : "null",
                 f->type == PROTOBUF_C_TYPE_MESSAGE ? 2 : 4, json, len, err);
}

/* A JSON string for message: quotes, backslashes and control bytes
 * escaped. malloc'd; NULL when out of memory. */
static char *json_quote(const char *m) {
  /* Each byte escapes to at most 6 ("\u00XX"). */
  char *esc = malloc(strlen(m) * 6 + 3);
  if (!esc)
    return NULL;
  char *e = esc;
  *e++ = '"';
  for (const unsigned char *p = (const unsigned char *)m; *p; p++) {
    if (*p == '"' || *p == '\\') {
      *e++ = '\\';
      *e++ = (char)*p;
    } else if (*p < 0x20) {
      e += sprintf(e, "\\u%04x", *p);
    } else {
      *e++ = (char)*p;
    }
  }
  *e++ = '"';
  *e = '\0';
  return esc;
}

int weft_rest_render_error(int code, const char *message, char **json,
                           size_t *len) {
  char *esc = json_quote(message ? message : "");
  size_t cap = esc ? 2 * strlen(esc) + 64 : 0;
  char *o = esc ? malloc(cap) : NULL;
  if (!o) {
    free(esc);
    return WEFT_ERR_NOMEM;
  }
  int n = snprintf(o, cap, "{\"error\":%s,\"code\":%d,\"message\":%s}", esc,
                   code, esc);
  free(esc);
  *json = o;
  if (len)
    *len = (size_t)n;
  return 0;
}

int weft_rest_render_stream_result(const weft_rest_call *c, const void *msg,
                                   unsigned json_flags, char **line,
                                   size_t *len, weft_error *err) {
  char *js = NULL;
  size_t jl = 0;
  int rv = weft_rest_render_response(c, msg, json_flags, &js, &jl, err);
  if (rv < 0)
    return rv;
  /* The encoder escapes control bytes inside strings and prints no
   * newline between tokens, so the object stays on one line. */
  static const char head[] = "{\"result\":";
  char *o = malloc(sizeof head - 1 + jl + 3);
  if (!o) {
    free(js);
    return weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
  }
  memcpy(o, head, sizeof head - 1);
  memcpy(o + sizeof head - 1, js, jl);
  size_t n = sizeof head - 1 + jl;
  o[n++] = '}';
  o[n++] = '\n';
  o[n] = '\0';
  free(js);
  *line = o;
  if (len)
    *len = n;
  return 0;
}

int weft_rest_render_stream_error(int code, const char *message, char **line,
                                  size_t *len) {
  char *esc = json_quote(message ? message : "");
  size_t cap = esc ? strlen(esc) + 80 : 0;
  char *o = esc ? malloc(cap) : NULL;
  if (!o) {
    free(esc);
    return WEFT_ERR_NOMEM;
  }
  int n = snprintf(o, cap,
                   "{\"error\":{\"code\":%d,\"message\":%s,\"details\":[]}}\n",
                   code, esc);
  free(esc);
  *line = o;
  if (len)
    *len = (size_t)n;
  return 0;
}
