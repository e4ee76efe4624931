/* Payloads of the MB system topics (register, subscribe, unsubscribe). */
#include <cjson/cJSON.h>
#include <math.h>
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

/* The broker reads a system payload as JSON.parse would: over the payload
 * limit or not JSON is MALFORMED_MESSAGE; empty or null breaks its
 * destructuring (INTERNAL_ERROR); any other value is read for keys (a
 * non-object simply has none). Returns the parsed value or NULL with *rv. */
static cJSON *parse_payload(const char *payload, size_t len, const char *what,
                            weft_mb_code *code, weft_error *err, int *rv) {
  if (len > WEFT_MB_MAX_PAYLOAD) {
    if (code)
      *code = WEFT_MB_MALFORMED_MESSAGE;
    *rv = weft_error_set(err, WEFT_ERR_TOO_BIG,
                         "MB %s: payload of %zu bytes exceeds the %d-byte "
                         "limit",
                         what, len, WEFT_MB_MAX_PAYLOAD);
    return NULL;
  }
  if (len == 0) {
    if (code)
      *code = WEFT_MB_INTERNAL_ERROR;
    *rv = weft_error_set(err, WEFT_ERR_MALFORMED,
                         "MB %s: empty payload (an unexpected error while "
                         "routing the message)",
                         what);
    return NULL;
  }
  const char *end = NULL;
  cJSON *o = cJSON_ParseWithLengthOpts(payload, len, &end, 0);
  if (o) {
    const char *stop = payload + len;
    while (end < stop &&
           (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
      end++;
    if (end != stop) {
      cJSON_Delete(o);
      o = NULL;
    }
  }
  if (!o) {
    if (code)
      *code = WEFT_MB_MALFORMED_MESSAGE;
    *rv = weft_error_set(err, WEFT_ERR_JSON_SYNTAX,
                         "MB %s: invalid JSON payload", what);
  } else if (cJSON_IsNull(o)) {
    cJSON_Delete(o);
    o = NULL;
    if (code)
      *code = WEFT_MB_INTERNAL_ERROR;
    *rv = weft_error_set(err, WEFT_ERR_JSON_TYPE,
                         "MB %s: null payload (an unexpected error while "
                         "routing the message)",
                         what);
  }
  return o;
}

static int bad(weft_mb_code *code, weft_error *err, int wcode, const char *what,
               const char *why) {
  if (code)
    *code = WEFT_MB_INVALID_REQUEST;
  return weft_error_set(err, wcode, "MB %s: %s", what, why);
}

static const cJSON *member(const cJSON *o, const char *key) {
  return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
}

int weft_mb_register_parse(const char *payload, size_t len,
                           weft_mb_register *out, weft_mb_code *code,
                           weft_error *err) {
  memset(out, 0, sizeof *out);
  if (code)
    *code = WEFT_MB_OK;
  int rv = 0;
  cJSON *o = parse_payload(payload, len, "register", code, err, &rv);
  if (!o)
    return rv;
  const cJSON *n = member(o, "name");
  const cJSON *d = member(o, "description");
  if (!cJSON_IsString(n) || !*n->valuestring || !cJSON_IsString(d) ||
      !*d->valuestring)
    rv = bad(code, err, WEFT_ERR_MALFORMED, "register",
             "missing or invalid name or description");
  else if (utf16_len(n->valuestring) > WEFT_MB_MAX_NAME)
    rv = bad(code, err, WEFT_ERR_TOO_BIG, "register",
             "name of service is too long (over 36 characters)");
  else if (utf16_len(d->valuestring) > WEFT_MB_MAX_DESCRIPTION)
    rv = bad(code, err, WEFT_ERR_TOO_BIG, "register",
             "description of service is too long (over 1024 characters)");
  else {
    out->name = strdup(n->valuestring);
    out->description = strdup(d->valuestring);
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

int weft_mb_subscription_parse(const char *payload, size_t len,
                               bool unsubscribe, weft_mb_subscription *out,
                               weft_mb_code *code, weft_error *err) {
  memset(out, 0, sizeof *out);
  if (code)
    *code = WEFT_MB_OK;
  int rv = 0;
  const char *what = unsubscribe ? "unsubscribe" : "subscribe";
  cJSON *o = parse_payload(payload, len, what, code, err, &rv);
  if (!o)
    return rv;
  const cJSON *a = member(o, "action");
  const cJSON *t = member(o, "topic");
  const cJSON *p = member(o, "priority");
  if (cJSON_IsString(a) && strcmp(a->valuestring, "publish") == 0)
    out->action = WEFT_MB_PUBLISH;
  else if (cJSON_IsString(a) && strcmp(a->valuestring, "request") == 0)
    out->action = WEFT_MB_REQUEST;
  else if (cJSON_IsString(a) && strcmp(a->valuestring, "response") == 0)
    out->action = WEFT_MB_RESPONSE;
  if (out->action == WEFT_MB_ACTION_NONE)
    rv = bad(code, err, WEFT_ERR_MALFORMED, what,
             "missing or invalid action (want \"publish\" or \"request\")");
  else if (!cJSON_IsString(t) ||
           !weft_mb_topic_valid(t->valuestring, strlen(t->valuestring)))
    rv = bad(code, err, WEFT_ERR_MALFORMED, what, "missing or invalid topic");
  else if (!system_topic_allowed(t->valuestring, unsubscribe))
    rv = bad(code, err, WEFT_ERR_MALFORMED, what,
             unsubscribe ? "unable to unsubscribe from restricted topic"
                         : "unable to subscribe to restricted topic");
  else if (!unsubscribe && p &&
           (!cJSON_IsNumber(p) || !isfinite(p->valuedouble)))
    rv = bad(code, err, WEFT_ERR_JSON_TYPE, what, "invalid priority");
  else {
    snprintf(out->topic, sizeof out->topic, "%s", t->valuestring);
    out->priority = !unsubscribe && cJSON_IsNumber(p) ? p->valuedouble : 0;
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
