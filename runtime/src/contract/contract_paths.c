/* Matcher paths: parsed into segments and checked against the method's
 * output type, field names turned into the JSON names the encoder writes
 * (so `job.created_at` and `job.createdAt` name the same thing). */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contract_internal.h"
#include "contract_paths.h"

static const ProtobufCFieldDescriptor *
find_field(const weft_msg_desc *d, const char *name, size_t len, size_t *idx) {
  for (unsigned i = 0; i < d->base.n_fields; i++) {
    const char *pn = d->base.fields[i].name, *jn = d->field_info[i].json_name;
    if ((strlen(pn) == len && !memcmp(pn, name, len)) ||
        (jn && strlen(jn) == len && !memcmp(jn, name, len))) {
      *idx = i;
      return &d->base.fields[i];
    }
  }
  return NULL;
}

static int push(weft__ct_seg **segs, size_t *n, const char *name, size_t len,
                long index) {
  weft__ct_seg *s = realloc(*segs, (*n + 1) * sizeof **segs);
  if (!s)
    return -1;
  *segs = s;
  s[*n].index = index;
  s[*n].name = NULL;
  if (name && !(s[*n].name = strndup(name, len)))
    return -1;
  (*n)++;
  return 0;
}

void weft__ct_segs_free(weft__ct_seg *segs, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(segs[i].name);
  free(segs);
}

/* What the walk is at: a message, a repeated field before its index, a
 * map before its key, or a JSON value with no schema below (Struct, Value,
 * Any) or none at all (a scalar). */
typedef enum { AT_MSG, AT_LIST, AT_MAP, AT_FREE, AT_SCALAR } at_kind;

int weft__ct_path_parse(const char *path, const weft_method_desc *m,
                        bool single_response, bool single_request,
                        bool *request, weft__ct_seg **segs_out, size_t *n_out,
                        char *why, size_t whylen) {
  weft__ct_seg *segs = NULL;
  size_t n = 0;
  const char *p = path;
  at_kind at;
  bool req = !strncmp(p, "request", 7);
  const char *list = req ? "requests" : "responses";
  size_t ll = strlen(list);
  const weft_msg_desc *top = req ? m->input : m->output;
  const weft_msg_desc *msg = top, *elem_msg = NULL;
  const ProtobufCFieldDescriptor *cur = NULL;
  const char *what = "";
  *request = req;
  if (!strncmp(p, list, ll) && (p[ll] == '[' || !p[ll])) {
    p += ll;
    at = AT_LIST;
    elem_msg = top;
  } else if (!strncmp(p, list, ll - 1) && (p[ll - 1] == '.' || !p[ll - 1])) {
    p += ll - 1;
    bool single = req ? single_request : single_response;
    if (push(&segs, &n, list, ll, -1) < 0 ||
        push(&segs, &n, NULL, 0, single ? 0 : -1) < 0)
      goto nomem;
    at = AT_MSG;
  } else {
    snprintf(why, whylen,
             "%s: a matcher path starts with response, responses[N], "
             "request or requests[N]",
             path);
    goto bad;
  }
  if (n == 0 && push(&segs, &n, list, ll, -1) < 0)
    goto nomem;
  while (*p) {
    const char *seg_start = p;
    if (*p == '[') {
      long index = -1;
      if (p[1] == '*' && p[2] == ']') {
        p += 3;
      } else {
        char *end;
        index = strtol(p + 1, &end, 10);
        if (end == p + 1 || *end != ']' || index < 0) {
          snprintf(why, whylen, "%s: bad index at \"%s\"", path, seg_start);
          goto bad;
        }
        p = end + 1;
      }
      if (at != AT_LIST && at != AT_FREE) {
        snprintf(why, whylen, "%.*s: not a repeated field",
                 (int)(seg_start - path), path);
        goto bad;
      }
      if (push(&segs, &n, NULL, 0, index) < 0)
        goto nomem;
      if (at == AT_LIST) {
        if (elem_msg) {
          msg = elem_msg;
          at = elem_msg->wkt ? AT_FREE : AT_MSG;
          if (elem_msg->wkt && elem_msg->wkt != WEFT_WKT_STRUCT &&
              elem_msg->wkt != WEFT_WKT_VALUE &&
              elem_msg->wkt != WEFT_WKT_LIST_VALUE &&
              elem_msg->wkt != WEFT_WKT_ANY)
            at = AT_SCALAR;
        } else {
          at = AT_SCALAR;
        }
      }
      continue;
    }
    if (*p != '.') {
      snprintf(why, whylen, "%s: expected '.' or '[' at \"%s\"", path, p);
      goto bad;
    }
    p++;
    size_t len = strcspn(p, ".[");
    if (len == 0) {
      snprintf(why, whylen, "%s: empty name at \"%s\"", path, seg_start);
      goto bad;
    }
    switch (at) {
    case AT_MSG: {
      size_t fi;
      cur = find_field(msg, p, len, &fi);
      if (!cur) {
        snprintf(why, whylen, "%.*s: no such field in %s",
                 (int)(p + len - path), path, msg->base.name);
        goto bad;
      }
      const char *jn = msg->field_info[fi].json_name;
      if (!jn)
        jn = cur->name;
      if (push(&segs, &n, jn, strlen(jn), -1) < 0)
        goto nomem;
      const weft_msg_desc *sub = cur->type == PROTOBUF_C_TYPE_MESSAGE
                                     ? (const weft_msg_desc *)cur->descriptor
                                     : NULL;
      if (msg->field_info[fi].flags & WEFT_FIELD_MAP) {
        at = AT_MAP;
        /* The entry's value field (number 2) decides what follows a key. */
        const ProtobufCFieldDescriptor *v = &sub->base.fields[1];
        elem_msg = v->type == PROTOBUF_C_TYPE_MESSAGE
                       ? (const weft_msg_desc *)v->descriptor
                       : NULL;
      } else if (cur->label == PROTOBUF_C_LABEL_REPEATED) {
        at = AT_LIST;
        elem_msg = sub;
      } else if (sub) {
        msg = sub;
        at = AT_MSG;
        if (sub->wkt)
          at = (sub->wkt == WEFT_WKT_STRUCT || sub->wkt == WEFT_WKT_VALUE ||
                sub->wkt == WEFT_WKT_LIST_VALUE || sub->wkt == WEFT_WKT_ANY)
                   ? AT_FREE
                   : AT_SCALAR;
      } else {
        at = AT_SCALAR;
      }
      break;
    }
    case AT_MAP:
      if (push(&segs, &n, p, len, -1) < 0)
        goto nomem;
      if (elem_msg) {
        msg = elem_msg;
        at = elem_msg->wkt ? AT_FREE : AT_MSG;
      } else {
        at = AT_SCALAR;
      }
      break;
    case AT_FREE:
      if (push(&segs, &n, p, len, -1) < 0)
        goto nomem;
      break;
    case AT_LIST:
      what = "a repeated field (index it with [N] or [*])";
      goto not_msg;
    case AT_SCALAR:
      what = "not a message";
    not_msg:
      snprintf(why, whylen, "%.*s: %s", (int)(seg_start - path), path, what);
      goto bad;
    }
    p += len;
  }
  *segs_out = segs;
  *n_out = n;
  return 0;
nomem:
  snprintf(why, whylen, "out of memory");
bad:
  weft__ct_segs_free(segs, n);
  return -1;
}

/* The JSON name protoc derives from a field name: foo_bar -> fooBar. */
static void camel(const char *in, char *out, size_t cap) {
  size_t o = 0;
  bool up = false;
  for (; *in && o + 1 < cap; in++) {
    if (*in == '_') {
      up = true;
      continue;
    }
    out[o++] = up ? (char)toupper((unsigned char)*in) : *in;
    up = false;
  }
  out[o] = 0;
}

cJSON *weft__ct_prune(const cJSON *canon, const cJSON *raw) {
  if (cJSON_IsObject(raw) && cJSON_IsObject(canon)) {
    cJSON *out = cJSON_CreateObject();
    if (!out)
      return NULL;
    for (const cJSON *r = raw->child; r; r = r->next) {
      const cJSON *c = cJSON_GetObjectItemCaseSensitive(canon, r->string);
      const char *key = r->string;
      char buf[256];
      if (!c) {
        camel(r->string, buf, sizeof buf);
        c = cJSON_GetObjectItemCaseSensitive(canon, buf);
        key = buf;
      }
      if (!c)
        continue; /* e.g. "@type" handled inside Any's canonical form */
      cJSON *sub = weft__ct_prune(c, r);
      if (!sub || !cJSON_AddItemToObject(out, key, sub)) {
        cJSON_Delete(sub);
        cJSON_Delete(out);
        return NULL;
      }
    }
    return out;
  }
  if (cJSON_IsArray(raw) && cJSON_IsArray(canon)) {
    cJSON *out = cJSON_CreateArray();
    if (!out)
      return NULL;
    const cJSON *r = raw->child;
    for (const cJSON *c = canon->child; c; c = c->next) {
      cJSON *sub = r ? weft__ct_prune(c, r) : cJSON_Duplicate(c, 1);
      if (!sub || !cJSON_AddItemToArray(out, sub)) {
        cJSON_Delete(sub);
        cJSON_Delete(out);
        return NULL;
      }
      if (r)
        r = r->next;
    }
    return out;
  }
  return cJSON_Duplicate(canon, 1);
}
