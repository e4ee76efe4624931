/* AITBC WebSocket / SDK JSON messages: parser and encoder. See
 * weft/aitbc_ws.h. cJSON does the JSON; this file knows the shapes. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_exact.h"
#include "weft/aitbc_ws.h"

static const char *const kind_names[] = {"unknown",
                                         "job_status",
                                         "blockchain_event",
                                         "marketplace_event",
                                         "ping",
                                         "pong",
                                         "request",
                                         "response",
                                         "subscribe",
                                         "subscription",
                                         "event",
                                         "unsubscribe",
                                         "error"};

const char *weft_aitbc_ws_kind_name(weft_aitbc_ws_kind k) {
  if ((int)k < 0 || (size_t)k >= sizeof kind_names / sizeof kind_names[0])
    return "unknown";
  return kind_names[k];
}

static const char *const chain_events[] = {"new_block", "transaction_confirmed",
                                           "transaction_pending",
                                           "fork_detected", "sync_status"};
static const char *const market_events[] = {"new_offer", "offer_matched",
                                            "offer_expired", "offer_cancelled",
                                            "price_update"};

static bool in_list(const char *s, const char *const *list, size_t n) {
  if (!s)
    return false;
  for (size_t i = 0; i < n; i++)
    if (strcmp(s, list[i]) == 0)
      return true;
  return false;
}

bool weft_aitbc_ws_is_blockchain_event(const char *type) {
  return in_list(type, chain_events,
                 sizeof chain_events / sizeof *chain_events);
}

bool weft_aitbc_ws_is_marketplace_event(const char *type) {
  return in_list(type, market_events,
                 sizeof market_events / sizeof *market_events);
}

bool weft_aitbc_job_state_terminal(const char *state) {
  static const char *const terminal[] = {"COMPLETED", "FAILED", "CANCELLED",
                                         "EXPIRED"};
  return in_list(state, terminal, 4);
}

void weft_aitbc_ws_msg_clear(weft_aitbc_ws_msg *m) {
  if (!m)
    return;
  char **strs[] = {&m->type,   &m->id,      &m->method,
                   &m->path,   &m->event,   &m->subscription_id,
                   &m->status, &m->message, &m->timestamp,
                   &m->data,   &m->params,  &m->block,
                   &m->offer,  &m->body,    &m->tx_hash,
                   &m->job_id, &m->state,   &m->assigned_miner_id};
  for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
    free(*strs[i]);
  memset(m, 0, sizeof *m);
}

/* ---- parsing ---- */

typedef struct pctx {
  const cJSON *obj;
  const char *what; /* kind name, for messages */
  weft_error *err;
} pctx;

enum { OPT = 0, REQ = 1 };

static int nomem(weft_error *err) {
  return weft_error_set(err, WEFT_ERR_NOMEM, "AITBC message: out of memory");
}

/* No C string holds it: cut there, a path or an id would name another. */
static int nul_string(pctx *c, const char *key) {
  return weft_error_set(c->err, WEFT_ERR_MALFORMED,
                        "AITBC %s message: \"%s\" holds \\u0000", c->what, key);
}

static int missing(pctx *c, const char *key) {
  return weft_error_set(c->err, WEFT_ERR_MALFORMED,
                        "AITBC %s message: \"%s\" is missing", c->what, key);
}

/* A string member (null = absent). */
static int get_str(pctx *c, const char *key, int required, char **out) {
  const cJSON *j = cJSON_GetObjectItemCaseSensitive(c->obj, key);
  if (!j || cJSON_IsNull(j))
    return required ? missing(c, key) : 0;
  if (weft__jx_is_nul_string(j))
    return nul_string(c, key);
  if (!cJSON_IsString(j))
    return weft_error_set(c->err, WEFT_ERR_JSON_TYPE,
                          "AITBC %s message: \"%s\" must be a string", c->what,
                          key);
  if (required && !*j->valuestring)
    return weft_error_set(c->err, WEFT_ERR_MALFORMED,
                          "AITBC %s message: \"%s\" is empty", c->what, key);
  *out = strdup(j->valuestring);
  return *out ? 0 : nomem(c->err);
}

/* A number beyond a double's range (1e999) reads as infinity, which has
 * no JSON text to send on: refused like any other bad value. */
static int out_of_range(pctx *c, const char *key) {
  return weft_error_set(c->err, WEFT_ERR_MALFORMED,
                        "AITBC %s message: \"%s\" is out of range (not a "
                        "finite number)",
                        c->what, key);
}

/* A string or a number, kept as text (ids, timestamps). */
static int get_text(pctx *c, const char *key, int required, char **out,
                    bool *is_number) {
  const cJSON *j = cJSON_GetObjectItemCaseSensitive(c->obj, key);
  if (j && cJSON_IsNumber(j)) {
    if (!isfinite(j->valuedouble))
      return out_of_range(c, key);
    if (is_number)
      *is_number = true;
    char buf[32];
    if (!j->valuestring) /* not from weft__jx_parse: no token kept */
      snprintf(buf, sizeof buf, "%.17g", j->valuedouble);
    /* The number as it was written. */
    *out = strdup(j->valuestring ? j->valuestring : buf);
    return *out ? 0 : nomem(c->err);
  }
  if (j && !cJSON_IsNull(j) && !cJSON_IsString(j) && !weft__jx_is_nul_string(j))
    return weft_error_set(c->err, WEFT_ERR_JSON_TYPE,
                          "AITBC %s message: \"%s\" must be a string or a "
                          "number",
                          c->what, key);
  return get_str(c, key, required, out);
}

/* Any JSON value (null = absent) as compact text; want_object demands an
 * object. */
static int get_json(pctx *c, const char *key, int required, bool want_object,
                    char **out) {
  const cJSON *j = cJSON_GetObjectItemCaseSensitive(c->obj, key);
  if (!j || cJSON_IsNull(j))
    return required ? missing(c, key) : 0;
  if (want_object && !cJSON_IsObject(j))
    return weft_error_set(c->err, WEFT_ERR_JSON_TYPE,
                          "AITBC %s message: \"%s\" must be an object", c->what,
                          key);
  /* Numbers and strings holding \u0000 print as they were written
   * (json_exact.h): a relayed amount keeps every digit. */
  *out = weft__jx_print(j, false);
  return *out ? 0 : nomem(c->err);
}

static int parse_job_status(pctx *c, weft_aitbc_ws_msg *m) {
  int rv;
  if ((rv = get_str(c, "job_id", REQ, &m->job_id)) < 0 ||
      (rv = get_str(c, "state", REQ, &m->state)) < 0 ||
      (rv = get_str(c, "assigned_miner_id", OPT, &m->assigned_miner_id)) < 0 ||
      (rv = get_text(c, "timestamp", OPT, &m->timestamp, NULL)) < 0)
    return rv;
  const cJSON *p = cJSON_GetObjectItemCaseSensitive(c->obj, "progress");
  if (p && !cJSON_IsNull(p)) {
    if (!cJSON_IsNumber(p))
      return weft_error_set(c->err, WEFT_ERR_JSON_TYPE,
                            "AITBC job_status message: \"progress\" must be a "
                            "number");
    if (!isfinite(p->valuedouble))
      return out_of_range(c, "progress");
    m->progress = p->valuedouble;
    m->has_progress = true;
  }
  return 0;
}

static int parse_typed(pctx *c, weft_aitbc_ws_msg *m) {
  const char *t = m->type;
  int rv = 0;
  if (weft_aitbc_ws_is_blockchain_event(t)) {
    m->kind = WEFT_AITBC_WS_BLOCKCHAIN_EVENT;
    c->what = t;
    if (strcmp(t, "new_block") == 0)
      return get_json(c, "block", REQ, true, &m->block);
    if (strncmp(t, "transaction_", 12) == 0)
      return get_str(c, "tx_hash", REQ, &m->tx_hash);
    return get_json(c, strcmp(t, "fork_detected") == 0 ? "fork" : "sync_status",
                    OPT, false, &m->body);
  }
  if (weft_aitbc_ws_is_marketplace_event(t)) {
    m->kind = WEFT_AITBC_WS_MARKETPLACE_EVENT;
    c->what = t;
    return get_json(c, "offer", REQ, true, &m->offer);
  }
  static const struct {
    const char *type;
    weft_aitbc_ws_kind kind;
  } kinds[] = {{"ping", WEFT_AITBC_WS_PING},
               {"pong", WEFT_AITBC_WS_PONG},
               {"request", WEFT_AITBC_WS_REQUEST},
               {"response", WEFT_AITBC_WS_RESPONSE},
               {"subscribe", WEFT_AITBC_WS_SUBSCRIBE},
               {"subscription", WEFT_AITBC_WS_SUBSCRIPTION},
               {"event", WEFT_AITBC_WS_EVENT},
               {"unsubscribe", WEFT_AITBC_WS_UNSUBSCRIBE},
               {"error", WEFT_AITBC_WS_ERROR}};
  m->kind = WEFT_AITBC_WS_UNKNOWN;
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
    if (strcmp(t, kinds[i].type) == 0)
      m->kind = kinds[i].kind;
  c->what = weft_aitbc_ws_kind_name(m->kind);
  bool *idnum = &m->id_is_number;
  switch (m->kind) {
  case WEFT_AITBC_WS_PING:
  case WEFT_AITBC_WS_PONG:
    return get_text(c, "timestamp", OPT, &m->timestamp, NULL);
  case WEFT_AITBC_WS_REQUEST:
    if ((rv = get_text(c, "id", REQ, &m->id, idnum)) < 0 ||
        (rv = get_str(c, "method", REQ, &m->method)) < 0 ||
        (rv = get_str(c, "path", REQ, &m->path)) < 0 ||
        (rv = get_json(c, "data", OPT, false, &m->data)) < 0 ||
        (rv = get_json(c, "params", OPT, false, &m->params)) < 0)
      return rv;
    return get_text(c, "timestamp", OPT, &m->timestamp, NULL);
  case WEFT_AITBC_WS_RESPONSE: {
    if ((rv = get_text(c, "id", REQ, &m->id, idnum)) < 0 ||
        (rv = get_json(c, "data", OPT, false, &m->data)) < 0 ||
        (rv = get_str(c, "message", OPT, &m->message)) < 0)
      return rv;
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(c->obj, "status");
    if (cJSON_IsNumber(s)) {
      /* An HTTP status: 1e10 or 200.7 is not one, and would be cut. */
      if (!(s->valuedouble >= 0 && s->valuedouble <= 999 &&
            s->valuedouble == (int)s->valuedouble))
        return weft_error_set(c->err, WEFT_ERR_MALFORMED,
                              "AITBC response message: \"status\" %s is not "
                              "an HTTP status",
                              s->valuestring);
      m->status_code = (int)s->valuedouble;
      m->has_status_code = true;
      return 0;
    }
    return get_str(c, "status", OPT, &m->status);
  }
  case WEFT_AITBC_WS_SUBSCRIBE:
    if ((rv = get_text(c, "id", REQ, &m->id, idnum)) < 0 ||
        (rv = get_str(c, "event", OPT, &m->event)) < 0 ||
        (rv = get_str(c, "method", OPT, &m->method)) < 0 ||
        (rv = get_str(c, "path", OPT, &m->path)) < 0 ||
        (rv = get_json(c, "data", OPT, false, &m->data)) < 0 ||
        (rv = get_text(c, "timestamp", OPT, &m->timestamp, NULL)) < 0)
      return rv;
    if (!m->event && !m->path)
      return weft_error_set(c->err, WEFT_ERR_MALFORMED,
                            "AITBC subscribe message: needs \"event\" or "
                            "\"path\"");
    return 0;
  case WEFT_AITBC_WS_SUBSCRIPTION:
    if ((rv = get_text(c, "subscription_id", REQ, &m->subscription_id, NULL)) <
        0)
      return rv;
    return get_str(c, "status", REQ, &m->status);
  case WEFT_AITBC_WS_EVENT:
    if ((rv = get_str(c, "event", REQ, &m->event)) < 0 ||
        (rv = get_text(c, "subscription_id", OPT, &m->subscription_id, NULL)) <
            0 ||
        (rv = get_json(c, "data", OPT, false, &m->data)) < 0)
      return rv;
    return get_text(c, "timestamp", OPT, &m->timestamp, NULL);
  case WEFT_AITBC_WS_UNSUBSCRIBE:
    if ((rv = get_text(c, "id", REQ, &m->id, idnum)) < 0)
      return rv;
    return get_text(c, "timestamp", OPT, &m->timestamp, NULL);
  case WEFT_AITBC_WS_ERROR:
    if ((rv = get_str(c, "message", REQ, &m->message)) < 0)
      return rv;
    return get_text(c, "id", OPT, &m->id, idnum);
  default:
    return 0;
  }
}

int weft_aitbc_ws_parse(const char *text, size_t len, weft_aitbc_ws_msg *m,
                        weft_error *err) {
  memset(m, 0, sizeof *m);
  cJSON *root;
  int rv = weft__jx_parse(&root, text, len, "AITBC message", err);
  if (rv < 0)
    return rv;
  if (!cJSON_IsObject(root)) {
    rv = weft_error_set(err, WEFT_ERR_JSON_TYPE,
                        "AITBC message: not a JSON object");
  } else {
    pctx c = {root, "AITBC", err};
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "type");
    if (type && !cJSON_IsNull(type)) {
      if (!cJSON_IsString(type)) {
        rv = weft_error_set(err, WEFT_ERR_JSON_TYPE,
                            "AITBC message: \"type\" must be a string");
      } else if (!(m->type = strdup(type->valuestring))) {
        rv = nomem(err);
      } else {
        rv = parse_typed(&c, m);
      }
    } else if (cJSON_GetObjectItemCaseSensitive(root, "job_id") &&
               cJSON_GetObjectItemCaseSensitive(root, "state")) {
      m->kind = WEFT_AITBC_WS_JOB_STATUS;
      c.what = "job_status";
      rv = parse_job_status(&c, m);
    } else {
      rv = weft_error_set(err, WEFT_ERR_MALFORMED,
                          "AITBC message: no \"type\", and not a job status "
                          "(needs \"job_id\" and \"state\")");
    }
  }
  cJSON_Delete(root);
  if (rv < 0)
    weft_aitbc_ws_msg_clear(m);
  return rv;
}

/* ---- encoding ---- */

typedef struct ectx {
  cJSON *obj;
  const char *what;
  weft_error *err;
  int rv;
} ectx;

static void e_fail(ectx *e, int code, const char *fmt, const char *key) {
  if (e->rv == 0)
    e->rv = weft_error_set(e->err, code, fmt, e->what, key);
}

static void put_str(ectx *e, const char *key, const char *v, int required) {
  if (e->rv)
    return;
  if (!v) {
    if (required)
      e_fail(e, WEFT_ERR_INVAL, "AITBC %s message: \"%s\" is required", key);
    return;
  }
  if (!cJSON_AddStringToObject(e->obj, key, v))
    e_fail(e, WEFT_ERR_NOMEM, "AITBC %s message: out of memory at \"%s\"", key);
}

static void put_null(ectx *e, const char *key) {
  if (!e->rv && !cJSON_AddNullToObject(e->obj, key))
    e_fail(e, WEFT_ERR_NOMEM, "AITBC %s message: out of memory at \"%s\"", key);
}

/* JSON text inserted verbatim after checking it is one JSON value. NULL:
 * omitted, or null when null_if_absent. */
static void put_raw(ectx *e, const char *key, const char *json, int required,
                    bool null_if_absent) {
  if (e->rv)
    return;
  if (!json) {
    if (required)
      e_fail(e, WEFT_ERR_INVAL, "AITBC %s message: \"%s\" is required", key);
    else if (null_if_absent)
      put_null(e, key);
    return;
  }
  const char *end = NULL;
  cJSON *chk = cJSON_ParseWithOpts(json, &end, 1);
  cJSON_Delete(chk);
  if (!chk) {
    e_fail(e, WEFT_ERR_JSON_SYNTAX, "AITBC %s message: \"%s\" is not JSON",
           key);
    return;
  }
  if (!cJSON_AddRawToObject(e->obj, key, json))
    e_fail(e, WEFT_ERR_NOMEM, "AITBC %s message: out of memory at \"%s\"", key);
}

static void put_id(ectx *e, const char *key, const char *id, bool is_number,
                   int required) {
  if (id && is_number)
    put_raw(e, key, id, required, false);
  else
    put_str(e, key, id, required);
}

static void put_num(ectx *e, const char *key, double v) {
  if (!e->rv && !cJSON_AddNumberToObject(e->obj, key, v))
    e_fail(e, WEFT_ERR_NOMEM, "AITBC %s message: out of memory at \"%s\"", key);
}

static const char *kind_type(const weft_aitbc_ws_msg *m) {
  switch (m->kind) {
  case WEFT_AITBC_WS_PING:
    return "ping";
  case WEFT_AITBC_WS_PONG:
    return "pong";
  case WEFT_AITBC_WS_REQUEST:
    return "request";
  case WEFT_AITBC_WS_RESPONSE:
    return "response";
  case WEFT_AITBC_WS_SUBSCRIBE:
    return "subscribe";
  case WEFT_AITBC_WS_SUBSCRIPTION:
    return "subscription";
  case WEFT_AITBC_WS_EVENT:
    return "event";
  case WEFT_AITBC_WS_UNSUBSCRIBE:
    return "unsubscribe";
  case WEFT_AITBC_WS_ERROR:
    return "error";
  default:
    return m->type;
  }
}

int weft_aitbc_ws_encode(const weft_aitbc_ws_msg *m, char **out,
                         size_t *out_len, weft_error *err) {
  *out = NULL;
  const char *type = kind_type(m);
  ectx e = {cJSON_CreateObject(), weft_aitbc_ws_kind_name(m->kind), err, 0};
  if (!e.obj)
    return nomem(err);
  switch (m->kind) {
  case WEFT_AITBC_WS_JOB_STATUS:
    put_str(&e, "job_id", m->job_id, REQ);
    put_str(&e, "state", m->state, REQ);
    if (m->assigned_miner_id)
      put_str(&e, "assigned_miner_id", m->assigned_miner_id, REQ);
    else
      put_null(&e, "assigned_miner_id");
    put_str(&e, "timestamp", m->timestamp, OPT);
    put_num(&e, "progress", m->has_progress ? m->progress : 0.0);
    break;
  case WEFT_AITBC_WS_BLOCKCHAIN_EVENT:
    if (!weft_aitbc_ws_is_blockchain_event(type)) {
      e_fail(&e, WEFT_ERR_INVAL,
             "AITBC %s message: \"%s\" is not a known "
             "blockchain event type",
             "type");
      break;
    }
    put_str(&e, "type", type, REQ);
    if (strcmp(type, "new_block") == 0)
      put_raw(&e, "block", m->block, REQ, false);
    else if (strncmp(type, "transaction_", 12) == 0)
      put_str(&e, "tx_hash", m->tx_hash, REQ);
    else
      put_raw(&e, strcmp(type, "fork_detected") == 0 ? "fork" : "sync_status",
              m->body, OPT, false);
    break;
  case WEFT_AITBC_WS_MARKETPLACE_EVENT:
    if (!weft_aitbc_ws_is_marketplace_event(type)) {
      e_fail(&e, WEFT_ERR_INVAL,
             "AITBC %s message: \"%s\" is not a known "
             "marketplace event type",
             "type");
      break;
    }
    put_str(&e, "type", type, REQ);
    put_raw(&e, "offer", m->offer, REQ, false);
    break;
  case WEFT_AITBC_WS_PING:
  case WEFT_AITBC_WS_PONG:
    put_str(&e, "type", type, REQ);
    put_str(&e, "timestamp", m->timestamp, OPT);
    break;
  case WEFT_AITBC_WS_REQUEST:
    put_id(&e, "id", m->id, m->id_is_number, REQ);
    put_str(&e, "type", type, REQ);
    put_str(&e, "method", m->method, REQ);
    put_str(&e, "path", m->path, REQ);
    put_raw(&e, "data", m->data, OPT, true);
    put_raw(&e, "params", m->params, OPT, true);
    put_str(&e, "timestamp", m->timestamp, OPT);
    break;
  case WEFT_AITBC_WS_RESPONSE:
    put_str(&e, "type", type, REQ);
    put_id(&e, "id", m->id, m->id_is_number, REQ);
    if (m->has_status_code)
      put_num(&e, "status", m->status_code);
    else
      put_str(&e, "status", m->status, OPT);
    put_raw(&e, "data", m->data, OPT, false);
    put_str(&e, "message", m->message, OPT);
    break;
  case WEFT_AITBC_WS_SUBSCRIBE:
    if (!m->event && !m->path) {
      e_fail(&e, WEFT_ERR_INVAL, "AITBC %s message: needs \"%s\" or \"path\"",
             "event");
      break;
    }
    put_id(&e, "id", m->id, m->id_is_number, REQ);
    put_str(&e, "type", type, REQ);
    put_str(&e, "event", m->event, OPT);
    put_str(&e, "method", m->method, OPT);
    put_str(&e, "path", m->path, OPT);
    put_raw(&e, "data", m->data, OPT, true);
    put_str(&e, "timestamp", m->timestamp, OPT);
    break;
  case WEFT_AITBC_WS_SUBSCRIPTION:
    put_str(&e, "type", type, REQ);
    put_str(&e, "subscription_id", m->subscription_id, REQ);
    put_str(&e, "status", m->status ? m->status : "confirmed", REQ);
    break;
  case WEFT_AITBC_WS_EVENT:
    put_str(&e, "type", type, REQ);
    put_str(&e, "event", m->event, REQ);
    put_str(&e, "subscription_id", m->subscription_id, OPT);
    put_raw(&e, "data", m->data, OPT, true);
    put_str(&e, "timestamp", m->timestamp, OPT);
    break;
  case WEFT_AITBC_WS_UNSUBSCRIBE:
    put_id(&e, "id", m->id, m->id_is_number, REQ);
    put_str(&e, "type", type, REQ);
    put_str(&e, "timestamp", m->timestamp, OPT);
    break;
  case WEFT_AITBC_WS_ERROR:
    put_str(&e, "type", type, REQ);
    put_id(&e, "id", m->id, m->id_is_number, OPT);
    put_str(&e, "message", m->message, REQ);
    break;
  default:
    e_fail(&e, WEFT_ERR_INVAL, "AITBC %s message: cannot encode kind%s", "");
    break;
  }
  /* progress as the shortest text of its double (cJSON's own printing
   * rounds to 15 digits); the raw parts go as they are. */
  char *text = e.rv == 0 ? weft__jx_print(e.obj, false) : NULL;
  cJSON_Delete(e.obj);
  if (e.rv)
    return e.rv;
  if (!text)
    return nomem(err);
  *out = text;
  if (out_len)
    *out_len = strlen(text);
  return 0;
}
