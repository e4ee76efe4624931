/* Payloads of the MB system topics (register, subscribe, unsubscribe). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weft/mb.h"

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

int weft_mb_register_encode(const char *name, const char *description,
                            char **out, size_t *out_len, weft_error *err) {
  if (!name || !*name)
    return weft_error_set(err, WEFT_ERR_INVAL, "MB register: no name");
  cJSON *o = cJSON_CreateObject();
  if (o && (!cJSON_AddStringToObject(o, "name", name) ||
            !cJSON_AddStringToObject(o, "description",
                                     description ? description : ""))) {
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

static cJSON *parse_object(const char *payload, size_t len, const char *what,
                           weft_mb_code *code, weft_error *err, int *rv) {
  cJSON *o = cJSON_ParseWithLength(payload, len);
  if (!o) {
    if (code)
      *code = WEFT_MB_MALFORMED_MESSAGE;
    *rv = weft_error_set(err, WEFT_ERR_JSON_SYNTAX,
                         "MB %s: payload is not "
                         "JSON",
                         what);
  } else if (!cJSON_IsObject(o)) {
    cJSON_Delete(o);
    o = NULL;
    if (code)
      *code = WEFT_MB_INVALID_REQUEST;
    *rv = weft_error_set(err, WEFT_ERR_JSON_TYPE,
                         "MB %s: payload is not an object", what);
  }
  return o;
}

static int bad(weft_mb_code *code, weft_error *err, int wcode, const char *what,
               const char *key, const char *why) {
  if (code)
    *code = WEFT_MB_INVALID_REQUEST;
  return weft_error_set(err, wcode, "MB %s: \"%s\" %s", what, key, why);
}

int weft_mb_register_parse(const char *payload, size_t len,
                           weft_mb_register *out, weft_mb_code *code,
                           weft_error *err) {
  memset(out, 0, sizeof *out);
  if (code)
    *code = WEFT_MB_OK;
  int rv = 0;
  cJSON *o = parse_object(payload, len, "register", code, err, &rv);
  if (!o)
    return rv;
  const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, "name");
  const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "description");
  if (!cJSON_IsString(n) || !*n->valuestring)
    rv = bad(code, err, n ? WEFT_ERR_JSON_TYPE : WEFT_ERR_MALFORMED, "register",
             "name", "must be a non-empty string");
  else if (d && !cJSON_IsNull(d) && !cJSON_IsString(d))
    rv = bad(code, err, WEFT_ERR_JSON_TYPE, "register", "description",
             "must be a string");
  else {
    out->name = strdup(n->valuestring);
    out->description = strdup(cJSON_IsString(d) ? d->valuestring : "");
    if (!out->name || !out->description) {
      weft_mb_register_clear(out);
      rv = weft_error_set(err, WEFT_ERR_NOMEM, "MB register: out of memory");
      if (code)
        *code = WEFT_MB_INTERNAL_ERROR;
    }
  }
  cJSON_Delete(o);
  return rv;
}

void weft_mb_register_clear(weft_mb_register *r) {
  if (!r)
    return;
  free(r->name);
  free(r->description);
  r->name = r->description = NULL;
}

int weft_mb_subscription_parse(const char *payload, size_t len,
                               weft_mb_subscription *out, weft_mb_code *code,
                               weft_error *err) {
  memset(out, 0, sizeof *out);
  if (code)
    *code = WEFT_MB_OK;
  int rv = 0;
  cJSON *o = parse_object(payload, len, "subscription", code, err, &rv);
  if (!o)
    return rv;
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "action");
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "topic");
  const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "priority");
  if (cJSON_IsString(a) && strcmp(a->valuestring, "publish") == 0)
    out->action = WEFT_MB_PUBLISH;
  else if (cJSON_IsString(a) && strcmp(a->valuestring, "request") == 0)
    out->action = WEFT_MB_REQUEST;
  if (out->action == WEFT_MB_ACTION_NONE)
    rv = bad(code, err, WEFT_ERR_MALFORMED, "subscription", "action",
             "must be \"publish\" or \"request\"");
  else if (!cJSON_IsString(t) ||
           !weft_mb_topic_valid(t->valuestring, strlen(t->valuestring)))
    rv = bad(code, err, WEFT_ERR_MALFORMED, "subscription", "topic",
             "must be a valid topic");
  else if (p && !cJSON_IsNull(p) &&
           (!cJSON_IsNumber(p) || p->valuedouble != (double)p->valueint))
    rv = bad(code, err, WEFT_ERR_JSON_TYPE, "subscription", "priority",
             "must be a 32-bit integer");
  else {
    snprintf(out->topic, sizeof out->topic, "%s", t->valuestring);
    out->priority = cJSON_IsNumber(p) ? p->valueint : 0;
  }
  cJSON_Delete(o);
  return rv;
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
