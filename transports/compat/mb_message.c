/* MB messages: header + '\n' + JSON payload, and error responses. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json_strict.h"
#include "mb_system_int.h"
#include "weft/mb.h"

int weft_mb_decode(const char *data, size_t len, unsigned flags,
                   weft_mb_message *out, weft_mb_code *code, weft_error *err) {
  memset(out, 0, sizeof *out);
  weft_mb_header_init(&out->header, WEFT_MB_ACTION_NONE, NULL, NULL);
  if (code)
    *code = WEFT_MB_OK;
  /* The newline must come within the header limit: look no further. */
  size_t scan = len < WEFT_MB_MAX_HEADER ? len : WEFT_MB_MAX_HEADER;
  const char *nl = memchr(data, '\n', scan);
  if (!nl) {
    if (code)
      *code = WEFT_MB_MALFORMED_MESSAGE;
    if (len >= WEFT_MB_MAX_HEADER)
      return weft_error_set(err, WEFT_ERR_TOO_BIG,
                            "MB message: no newline within the first %d "
                            "bytes (header too long)",
                            WEFT_MB_MAX_HEADER);
    return weft_error_set(err, WEFT_ERR_MALFORMED,
                          "MB message: no newline after the header");
  }
  size_t hlen = (size_t)(nl - data);
  int rv = weft_mb_header_parse(data, hlen, &out->header, code, err);
  if (rv < 0)
    return rv;
  out->payload = nl + 1;
  out->payload_len = len - hlen - 1;
  if (out->payload_len > WEFT_MB_MAX_PAYLOAD &&
      !(flags & WEFT_MB_NO_PAYLOAD_LIMIT)) {
    if (code)
      *code = WEFT_MB_MALFORMED_MESSAGE;
    return weft_error_set(err, WEFT_ERR_TOO_BIG,
                          "MB message: payload of %zu bytes, over the %d-byte "
                          "limit",
                          out->payload_len, WEFT_MB_MAX_PAYLOAD);
  }
  size_t bad_at = 0;
  if (!(flags & WEFT_MB_NO_JSON_CHECK) &&
      !weft__json_strict_valid(out->payload, out->payload_len, &bad_at)) {
    /* As the broker's JSON.parse: cJSON took [01], a raw TAB in a string
     * and \f as white space, which the broker refuses. */
    if (code)
      *code = WEFT_MB_MALFORMED_MESSAGE;
    return weft_error_set(err, WEFT_ERR_JSON_SYNTAX,
                          "MB message: payload is not one JSON value (at "
                          "byte %zu of the payload)",
                          bad_at);
  }
  return 0;
}

int weft_mb_encode(const weft_mb_header *h, const char *payload,
                   size_t payload_len, char **out, size_t *out_len,
                   weft_error *err) {
  char line[WEFT_MB_MAX_HEADER];
  ssize_t hl = weft_mb_header_encode(h, line, sizeof line, err);
  if (hl < 0)
    return (int)hl;
  if (!payload) {
    payload = "{}";
    payload_len = 2;
  }
  size_t total = (size_t)hl + 1 + payload_len;
  if (total > WEFT_MB_MAX_MESSAGE)
    return weft_error_set(err, WEFT_ERR_TOO_BIG,
                          "MB message: %zu bytes, over the %d-byte frame limit",
                          total, WEFT_MB_MAX_MESSAGE);
  char *buf = malloc(total + 1);
  if (!buf)
    return weft_error_set(err, WEFT_ERR_NOMEM, "MB message: out of memory");
  memcpy(buf, line, (size_t)hl);
  buf[hl] = '\n';
  memcpy(buf + hl + 1, payload, payload_len);
  buf[total] = '\0';
  *out = buf;
  if (out_len)
    *out_len = total;
  return 0;
}

void weft_mb_format_timestamp(int64_t unix_ms, char buf[25]) {
  int64_t secs = unix_ms / 1000;
  int ms = (int)(unix_ms % 1000);
  if (ms < 0) {
    ms += 1000;
    secs -= 1;
  }
  time_t t = (time_t)secs;
  struct tm tm;
  gmtime_r(&t, &tm);
  /* Years outside 0..9999 cannot be written in RFC 3339: clamp. */
  if (tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0) {
    memcpy(buf, "1970-01-01T00:00:00.000Z", 25);
    return;
  }
  /* Formatted wide, then copied: the fields are in range, but the compiler
   * cannot prove that the 24 characters fit. */
  char tmp[96];
  snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
           tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
           tm.tm_sec, ms);
  memcpy(buf, tmp, 24);
  buf[24] = '\0';
}

int weft_mb_error_encode(const char *topic, const char *version,
                         const char *request_id, weft_mb_code code,
                         const char *message, int64_t unix_ms,
                         const char *details_json, char **out, size_t *out_len,
                         weft_error *err) {
  if (code <= WEFT_MB_OK || code >= WEFT_MB_CODE_COUNT)
    return weft_error_set(err, WEFT_ERR_INVAL, "MB error: no error code");
  weft_mb_header h;
  weft_mb_header_init(&h, WEFT_MB_RESPONSE, topic, version);
  if (request_id && *request_id) {
    if (strlen(request_id) != WEFT_MB_UUID_LEN)
      return weft_error_set(err, WEFT_ERR_INVAL,
                            "MB error: request id \"%.64s\" is not a UUID",
                            request_id);
    memcpy(h.request_id, request_id, WEFT_MB_UUID_LEN + 1);
  }
  cJSON *details = NULL;
  if (details_json) {
    details = cJSON_Parse(details_json);
    if (!details)
      return weft_error_set(err, WEFT_ERR_JSON_SYNTAX,
                            "MB error: details are not JSON");
  }
  char ts[25];
  weft_mb_format_timestamp(unix_ms, ts);
  cJSON *root = cJSON_CreateObject();
  cJSON *e = cJSON_AddObjectToObject(root, "error");
  int rv = 0;
  if (!e || !cJSON_AddStringToObject(e, "code", weft_mb_code_name(code)) ||
      !cJSON_AddStringToObject(e, "message", message ? message : "") ||
      !cJSON_AddStringToObject(e, "timestamp", ts)) {
    rv = weft_error_set(err, WEFT_ERR_NOMEM, "MB error: out of memory");
    cJSON_Delete(details);
  } else if (details) {
    cJSON_AddItemToObject(e, "details", details);
  }
  char *payload = rv == 0 ? cJSON_PrintUnformatted(root) : NULL;
  cJSON_Delete(root);
  if (rv == 0 && !payload)
    rv = weft_error_set(err, WEFT_ERR_NOMEM, "MB error: out of memory");
  if (rv == 0)
    rv = weft_mb_encode(&h, payload, strlen(payload), out, out_len, err);
  free(payload);
  return rv;
}

static char *dup_str(const cJSON *j) {
  if (!cJSON_IsString(j))
    return NULL;
  return strdup(j->valuestring);
}

int weft_mb_error_parse(const char *payload, size_t len,
                        weft_mb_error_info *out, weft_error *err) {
  memset(out, 0, sizeof *out);
  cJSON *root = weft__mb_json_parse(payload, len);
  if (!root)
    return weft_error_set(err, WEFT_ERR_JSON_SYNTAX, "MB payload: not JSON");
  const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "code");
  if (!cJSON_IsObject(e) || !cJSON_IsString(c)) {
    cJSON_Delete(root);
    return 0;
  }
  int code = weft_mb_code_from_name(c->valuestring, strlen(c->valuestring));
  out->code = code < 0 ? WEFT_MB_INTERNAL_ERROR : (weft_mb_code)code;
  out->code_name = dup_str(c);
  out->message = dup_str(cJSON_GetObjectItemCaseSensitive(e, "message"));
  out->timestamp = dup_str(cJSON_GetObjectItemCaseSensitive(e, "timestamp"));
  const cJSON *d = cJSON_GetObjectItemCaseSensitive(e, "details");
  if (d)
    out->details_json = cJSON_PrintUnformatted(d);
  cJSON_Delete(root);
  if (!out->code_name) {
    weft_mb_error_info_clear(out);
    return weft_error_set(err, WEFT_ERR_NOMEM, "MB payload: out of memory");
  }
  return 1;
}

void weft_mb_error_info_clear(weft_mb_error_info *e) {
  if (!e)
    return;
  free(e->code_name);
  free(e->message);
  free(e->timestamp);
  free(e->details_json);
  memset(e, 0, sizeof *e);
}
