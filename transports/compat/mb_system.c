/* Payloads of the MB system topics (register, subscribe, unsubscribe). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_strict.h"
#include "mb_system_int.h"
#include "weft/mb.h"
#include "weft/utf8.h"

static int print_obj(cJSON *o, char **out, size_t *out_len, weft_error *err) {
  char *s = o ? cJSON_PrintUnformatted(o) : NULL;
  cJSON_Delete(o);
  if (!s)
    return weft_error_set(err, WEFT_ERR_NOMEM, "MB payload: out of memory");
  *out = s;
  if (out_len)
    *out_len = strlen(s);
  return 0;
}

/* UTF-16 code units of UTF-8 text: the broker's (JavaScript's) length. */
static size_t utf16_len(const char *s) {
  size_t n = 0;
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if ((c & 0xc0) != 0x80)
      n += c >= 0xf0 ? 2 : 1;
  }
  return n;
}

int weft_mb_register_encode(const char *name, const char *description,
                            char **out, size_t *out_len, weft_error *err) {
  if (!name || !*name)
    return weft_error_set(err, WEFT_ERR_INVAL, "MB register: no name");
  /* The broker refuses an empty description. */
  if (!description || !*description)
    description = name;
  if (utf16_len(name) > WEFT_MB_MAX_NAME)
    return weft_error_set(err, WEFT_ERR_INVAL,
                          "MB register: name \"%.40s...\" is over the "
                          "broker's %d-character limit",
                          name, WEFT_MB_MAX_NAME);
  if (utf16_len(description) > WEFT_MB_MAX_DESCRIPTION)
    return weft_error_set(err, WEFT_ERR_INVAL,
                          "MB register: description of %zu characters is "
                          "over the broker's %d-character limit",
                          utf16_len(description), WEFT_MB_MAX_DESCRIPTION);
  cJSON *o = cJSON_CreateObject();
  if (o && (!cJSON_AddStringToObject(o, "name", name) ||
            !cJSON_AddStringToObject(o, "description", description))) {
    cJSON_Delete(o);
    o = NULL;
  }
  return print_obj(o, out, out_len, err);
}

int weft_mb_subscription_encode(const weft_mb_subscription *s, bool unsubscribe,
                                char **out, size_t *out_len, weft_error *err) {
  if (s->action != WEFT_MB_PUBLISH && s->action != WEFT_MB_REQUEST)
    return weft_error_set(err, WEFT_ERR_INVAL,
                          "MB subscription: action must be publish or "
                          "request");
  if (!weft_mb_topic_valid(s->topic, strnlen(s->topic, sizeof s->topic)))
    return weft_error_set(err, WEFT_ERR_INVAL,
                          "MB subscription: invalid topic \"%.64s\"", s->topic);
  cJSON *o = cJSON_CreateObject();
  if (o &&
      (!cJSON_AddStringToObject(o, "action", weft_mb_action_name(s->action)) ||
       !cJSON_AddStringToObject(o, "topic", s->topic) ||
       (!unsubscribe &&
        !cJSON_AddNumberToObject(o, "priority", s->priority)))) {
    cJSON_Delete(o);
    o = NULL;
  }
  return print_obj(o, out, out_len, err);
}

void weft__mb_refusal_clear(weft__mb_refusal *r) {
  if (!r)
    return;
  cJSON_Delete(r->details);
  cJSON_Delete(r->echo_code);
  cJSON_Delete(r->echo_message);
  cJSON_Delete(r->echo_details);
  memset(r, 0, sizeof *r);
}

int weft__mb_refuse(weft__mb_refusal *r, weft_mb_code code, int wcode,
                    cJSON *details, const char *fmt, ...) {
  r->code = code;
  r->wcode = wcode;
  cJSON_Delete(r->details);
  r->details = details;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->message, sizeof r->message, fmt, ap);
  va_end(ap);
  return wcode;
}

char *weft__mb_js_text(const char *raw, size_t len) {
  char *out = malloc(len * 3 + 1);
  if (!out)
    return NULL;
  size_t o = 0;
  for (size_t i = 0; i < len;) {
    size_t n = 0;
    for (size_t k = 1; k <= 4 && i + k <= len && !n; k++)
      if (raw[i] != '\0' && weft_utf8_valid(raw + i, k))
        n = k;
    if (n) {
      memcpy(out + o, raw + i, n);
      o += n;
      i += n;
    } else {
      memcpy(out + o, "\xef\xbf\xbd", 3);
      o += 3;
      i++;
    }
  }
  out[o] = '\0';
  return out;
}

/* {key: a copy of v} (v absent: {}), for details. */
static cJSON *detail(const char *key, const cJSON *v) {
  cJSON *d = cJSON_CreateObject();
  if (d && v)
    cJSON_AddItemToObject(d, key, cJSON_Duplicate(v, true));
  return d;
}

/* The broker reads a system payload as JSON.parse would: over the payload
 * limit or not JSON is MALFORMED_MESSAGE; empty or null breaks its
 * destructuring (INTERNAL_ERROR); any other value is read for keys (a
 * non-object simply has none). */
static const cJSON *member(const cJSON *o, const char *key);

/* JavaScript truthiness of a JSON value (absent: false). */
static bool truthy(const cJSON *v) {
  if (!v || cJSON_IsNull(v) || cJSON_IsFalse(v))
    return false;
  if (cJSON_IsNumber(v))
    return v->valuedouble != 0 && !isnan(v->valuedouble);
  if (cJSON_IsString(v))
    return v->valuestring[0] != '\0';
  return true;
}

/* Object members named twice: the last value takes the first's place, as
 * JSON.parse assigns them. Quadratic in an object's members, which a
 * 16 KiB payload bounds. */
static void dedup(cJSON *o) {
  for (cJSON *c = o->child; c; c = c->next) {
    if (cJSON_IsObject(o))
      for (cJSON *d = c->next, *dn; d; d = dn) {
        dn = d->next;
        if (c->string && d->string && strcmp(c->string, d->string) == 0) {
          cJSON_DetachItemViaPointer(o, d);
          cJSON_ReplaceItemViaPointer(o, c, d);
          c = d;
        }
      }
    if (cJSON_IsObject(c) || cJSON_IsArray(c))
      dedup(c);
  }
}

cJSON *weft__mb_json_parse(const char *text, size_t len) {
  if (!weft__json_strict_valid(text, len, NULL))
    return NULL;
  cJSON *o = cJSON_ParseWithLength(text, len);
  if (o && (cJSON_IsObject(o) || cJSON_IsArray(o)))
    dedup(o);
  return o;
}

cJSON *weft__mb_payload_json(const char *payload, size_t len,
                             weft__mb_refusal *r) {
  memset(r, 0, sizeof *r);
  /* "error:" before the JSON marks an error object (the broker's parser
   * looks for it on every payload it reads). */
  bool marked = len >= 6 && memcmp(payload, "error:", 6) == 0;
  if (marked) {
    payload += 6;
    len -= 6;
  }
  if (len > WEFT_MB_MAX_PAYLOAD) {
    /* Its size as the broker prints it: KB with the exact fraction. */
    char kb[32];
    snprintf(kb, sizeof kb, "%.10f", (double)len / 1024);
    size_t n = strlen(kb);
    while (n > 0 && kb[n - 1] == '0')
      kb[--n] = '\0';
    if (n > 0 && kb[n - 1] == '.')
      kb[--n] = '\0';
    cJSON *d = cJSON_CreateObject();
    cJSON_AddNumberToObject(d, "payloadLength", (double)len);
    weft__mb_refuse(r, WEFT_MB_MALFORMED_MESSAGE, WEFT_ERR_TOO_BIG, d,
                    "Payload exceeds maximum length of %sKB", kb);
    return NULL;
  }
  if (len == 0) {
    weft__mb_refuse(r, WEFT_MB_INTERNAL_ERROR, WEFT_ERR_MALFORMED, NULL,
                    "An unexpected error while routing the message");
    return NULL;
  }
  cJSON *o = weft__mb_json_parse(payload, len);
  if (!o) {
    char *text = weft__mb_js_text(payload, len);
    cJSON *d = cJSON_CreateObject();
    if (text)
      cJSON_AddStringToObject(d, "payload", text);
    free(text);
    weft__mb_refuse(r, WEFT_MB_MALFORMED_MESSAGE, WEFT_ERR_JSON_SYNTAX, d,
                    "Invalid JSON payload");
  } else if (cJSON_IsNull(o)) {
    cJSON_Delete(o);
    o = NULL;
    weft__mb_refuse(r, WEFT_MB_INTERNAL_ERROR, WEFT_ERR_JSON_TYPE, NULL,
                    "An unexpected error while routing the message");
  } else if (marked) {
    const cJSON *c = member(o, "code"), *m = member(o, "message");
    const cJSON *t = member(o, "timestamp"), *d = member(o, "details");
    if (!truthy(c) || !truthy(m) || !truthy(t)) {
      cJSON *det = cJSON_CreateObject();
      cJSON_AddItemToObject(det, "error", cJSON_Duplicate(o, true));
      weft__mb_refuse(r, WEFT_MB_MALFORMED_MESSAGE, WEFT_ERR_MALFORMED, det,
                      "Invalid error object in payload");
    } else {
      /* Thrown back as an error of its own code. */
      int known =
          cJSON_IsString(c)
              ? weft_mb_code_from_name(c->valuestring, strlen(c->valuestring))
              : -1;
      weft__mb_refuse(r,
                      known > 0 ? (weft_mb_code)known : WEFT_MB_INTERNAL_ERROR,
                      WEFT_ERR_RPC, NULL, "%s",
                      cJSON_IsString(m) ? m->valuestring : "an error object");
      r->echo_code = cJSON_Duplicate(c, true);
      r->echo_message = cJSON_Duplicate(m, true);
      r->echo_details = d ? cJSON_Duplicate(d, true) : NULL;
    }
    cJSON_Delete(o);
    o = NULL;
  }
  return o;
}

static const cJSON *member(const cJSON *o, const char *key) {
  return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
}

static bool nonempty_string(const cJSON *v) {
  return cJSON_IsString(v) && v->valuestring[0];
}

int weft__mb_register_check(const char *payload, size_t len,
                            weft_mb_register *out, weft__mb_refusal *r) {
  memset(out, 0, sizeof *out);
  cJSON *o = weft__mb_payload_json(payload, len, r);
  if (!o)
    return r->wcode;
  const cJSON *n = member(o, "name");
  const cJSON *d = member(o, "description");
  int rv = 0;
  if (!nonempty_string(n) || !nonempty_string(d)) {
    cJSON *det = detail("name", n);
    if (det && d)
      cJSON_AddItemToObject(det, "description", cJSON_Duplicate(d, true));
    rv = weft__mb_refuse(r, WEFT_MB_INVALID_REQUEST, WEFT_ERR_MALFORMED, det,
                         "Missing or invalid name or description");
  } else if (utf16_len(n->valuestring) > WEFT_MB_MAX_NAME) {
    rv = weft__mb_refuse(r, WEFT_MB_INVALID_REQUEST, WEFT_ERR_TOO_BIG,
                         detail("name", n), "Name of service is too long");
  } else if (utf16_len(d->valuestring) > WEFT_MB_MAX_DESCRIPTION) {
    rv = weft__mb_refuse(r, WEFT_MB_INVALID_REQUEST, WEFT_ERR_TOO_BIG,
                         detail("description", d),
                         "Description of service is too long");
  } else {
    out->name = strdup(n->valuestring);
    out->description = strdup(d->valuestring);
    if (!out->name || !out->description) {
      weft_mb_register_clear(out);
      rv = weft__mb_refuse(r, WEFT_MB_INTERNAL_ERROR, WEFT_ERR_NOMEM, NULL,
                           "An unexpected error while routing the message");
    }
  }
  cJSON_Delete(o);
  return rv;
}

/* A refusal as a weft_error: "MB <what>: <the broker's words>". */
static int as_error(weft__mb_refusal *r, const char *what, weft_mb_code *code,
                    weft_error *err) {
  if (code)
    *code = r->code;
  int rv = weft_error_set(err, r->wcode, "MB %s: %s", what, r->message);
  weft__mb_refusal_clear(r);
  return rv;
}

int weft_mb_register_parse(const char *payload, size_t len,
                           weft_mb_register *out, weft_mb_code *code,
                           weft_error *err) {
  weft__mb_refusal r;
  if (code)
    *code = WEFT_MB_OK;
  if (weft__mb_register_check(payload, len, out, &r) < 0)
    return as_error(&r, "register", code, err);
  return 0;
}

void weft_mb_register_clear(weft_mb_register *r) {
  if (!r)
    return;
  free(r->name);
  free(r->description);
  r->name = r->description = NULL;
}

/* Which system topics a service may subscribe to (the broker publishes on
 * some of them) or unsubscribe from. */
static bool system_topic_allowed(const char *t, bool unsubscribe) {
  static const char *const sub_ok[] = {
      "system.log", "system.message", WEFT_MB_TOPIC_REGISTER,
      WEFT_MB_TOPIC_SUBSCRIBE, WEFT_MB_TOPIC_UNSUBSCRIBE};
  if (strncmp(t, "system.", 7) != 0)
    return true;
  size_t n = unsubscribe ? 2 : sizeof sub_ok / sizeof sub_ok[0];
  const char *const *list = sub_ok + (unsubscribe ? 2 : 0);
  for (size_t i = 0; i < n; i++)
    if (strcmp(t, list[i]) == 0)
      return true;
  return false;
}

int weft__mb_subscription_check(const char *payload, size_t len,
                                bool unsubscribe, weft_mb_subscription *out,
                                weft__mb_refusal *r) {
  memset(out, 0, sizeof *out);
  cJSON *o = weft__mb_payload_json(payload, len, r);
  if (!o)
    return r->wcode;
  const cJSON *a = member(o, "action");
  const cJSON *t = member(o, "topic");
  const cJSON *p = member(o, "priority");
  if (cJSON_IsString(a) && strcmp(a->valuestring, "publish") == 0)
    out->action = WEFT_MB_PUBLISH;
  else if (cJSON_IsString(a) && strcmp(a->valuestring, "request") == 0)
    out->action = WEFT_MB_REQUEST;
  else if (cJSON_IsString(a) && strcmp(a->valuestring, "response") == 0)
    out->action = WEFT_MB_RESPONSE;
  int rv = 0;
  if (out->action == WEFT_MB_ACTION_NONE)
    rv = weft__mb_refuse(r, WEFT_MB_INVALID_REQUEST, WEFT_ERR_MALFORMED,
                         detail("action", a), "Missing or invalid action");
  else if (!cJSON_IsString(t) ||
           !weft_mb_topic_valid(t->valuestring, strlen(t->valuestring)))
    rv = weft__mb_refuse(r, WEFT_MB_INVALID_REQUEST, WEFT_ERR_MALFORMED,
                         detail("topic", t), "Missing or invalid topic");
  else if (!system_topic_allowed(t->valuestring, unsubscribe))
    rv = weft__mb_refuse(r, WEFT_MB_INVALID_REQUEST, WEFT_ERR_MALFORMED,
                         detail("topic", t), "Unable to %s restricted topic",
                         unsubscribe ? "unsubscribe from" : "subscribe to");
  else if (!unsubscribe && p &&
           (!cJSON_IsNumber(p) || !isfinite(p->valuedouble)))
    rv = weft__mb_refuse(r, WEFT_MB_INVALID_REQUEST, WEFT_ERR_JSON_TYPE,
                         detail("priority", p), "Invalid priority");
  else {
    snprintf(out->topic, sizeof out->topic, "%s", t->valuestring);
    out->priority = !unsubscribe && cJSON_IsNumber(p) ? p->valuedouble : 0;
  }
  cJSON_Delete(o);
  return rv;
}

int weft_mb_subscription_parse(const char *payload, size_t len,
                               bool unsubscribe, weft_mb_subscription *out,
                               weft_mb_code *code, weft_error *err) {
  weft__mb_refusal r;
  if (code)
    *code = WEFT_MB_OK;
  if (weft__mb_subscription_check(payload, len, unsubscribe, out, &r) < 0)
    return as_error(&r, unsubscribe ? "unsubscribe" : "subscribe", code, err);
  return 0;
}

void weft_mb_uuid_format(uint8_t r[16], char out[WEFT_MB_UUID_LEN + 1]) {
  static const char hex[] = "0123456789abcdef";
  r[6] = (uint8_t)((r[6] & 0x0f) | 0x40); /* version 4 */
  r[8] = (uint8_t)((r[8] & 0x3f) | 0x80); /* variant 10xx */
  size_t o = 0;
  for (int i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10)
      out[o++] = '-';
    out[o++] = hex[r[i] >> 4];
    out[o++] = hex[r[i] & 15];
  }
  out[o] = '\0';
}
