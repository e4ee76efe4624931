/* The MB broker engine's system topics: heartbeat, service registration and
 * listing, subscriptions and their listing, logs and metrics. Each answers
 * as the broker does (docs/COMPAT.md lists the few differences). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mb_broker_int.h"

static void ack(weft_mb_broker *b, weft_mb_conn conn, const weft_mb_header *h,
                bool success) {
  const char *body = success ? WEFT_MB_ACK_PAYLOAD : "{\"status\":\"failure\"}";
  weft__mb_reply(b, conn, h, body, strlen(body));
}

/* Answers with the JSON tree o (consumed). */
static void reply_json(weft_mb_broker *b, weft_mb_conn conn,
                       const weft_mb_header *h, cJSON *o, int64_t now_ms) {
  char *s = o ? cJSON_PrintUnformatted(o) : NULL;
  cJSON_Delete(o);
  if (!s) {
    weft__mb_reply_error(b, conn, h, WEFT_MB_INTERNAL_ERROR,
                         "An unexpected error while routing the message", NULL,
                         now_ms);
    return;
  }
  weft__mb_reply(b, conn, h, s, strlen(s));
  free(s);
}

static void stamp(cJSON *o, const char *key, int64_t ms) {
  char ts[25];
  weft_mb_format_timestamp(ms, ts);
  cJSON_AddStringToObject(o, key, ts);
}

static void service_list(weft_mb_broker *b, weft__mb_conn_rec *c,
                         const weft_mb_header *h, int64_t now_ms) {
  cJSON *o = cJSON_CreateObject();
  cJSON *arr = cJSON_AddArrayToObject(o, "services");
  for (size_t i = 0; arr && i < b->n_conns; i++) {
    const weft__mb_conn_rec *s = &b->conns[i];
    if (!s->registered)
      continue;
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "id", s->service_id);
    cJSON_AddStringToObject(e, "name", s->name);
    cJSON_AddStringToObject(e, "description", s->description);
    stamp(e, "connectedAt", s->connected_at);
    stamp(e, "lastHeartbeat", s->last_heartbeat);
    cJSON_AddItemToArray(arr, e);
  }
  reply_json(b, c->id, h, o, now_ms);
}

/* Subscriptions sorted as the broker lists them: by topic, then action
 * ("publish" before "request"); within a request topic by priority (highest
 * first), then by order of subscription. */
static int sub_cmp(const void *x, const void *y) {
  const weft__mb_sub *a = *(const weft__mb_sub *const *)x;
  const weft__mb_sub *b = *(const weft__mb_sub *const *)y;
  int c = strcmp(a->topic, b->topic);
  if (c)
    return c;
  if (a->action != b->action)
    return a->action == WEFT_MB_PUBLISH ? -1 : 1;
  if (a->priority != b->priority)
    return a->priority > b->priority ? -1 : 1;
  return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static const weft__mb_sub **sorted_subs(const weft_mb_broker *b) {
  const weft__mb_sub **v = malloc((b->n_subs + 1) * sizeof *v);
  if (!v)
    return NULL;
  for (size_t i = 0; i < b->n_subs; i++)
    v[i] = &b->subs[i];
  qsort(v, b->n_subs, sizeof *v, sub_cmp);
  return v;
}

/* {action, topic, subscribers: [{serviceId[, priority]}]} per topic. */
static cJSON *all_topics(const weft_mb_broker *b) {
  const weft__mb_sub **v = sorted_subs(b);
  cJSON *arr = v ? cJSON_CreateArray() : NULL;
  cJSON *subs = NULL;
  for (size_t i = 0; arr && i < b->n_subs; i++) {
    const weft__mb_sub *s = v[i];
    if (i == 0 || s->action != v[i - 1]->action ||
        strcmp(s->topic, v[i - 1]->topic) != 0) {
      cJSON *e = cJSON_CreateObject();
      cJSON_AddStringToObject(e, "action", weft_mb_action_name(s->action));
      cJSON_AddStringToObject(e, "topic", s->topic);
      subs = cJSON_AddArrayToObject(e, "subscribers");
      cJSON_AddItemToArray(arr, e);
    }
    const weft__mb_conn_rec *c = weft__mb_find_conn(b, s->conn);
    cJSON *who = cJSON_CreateObject();
    cJSON_AddStringToObject(who, "serviceId", c ? c->service_id : "");
    if (s->action == WEFT_MB_REQUEST)
      cJSON_AddNumberToObject(who, "priority", s->priority);
    cJSON_AddItemToArray(subs, who);
  }
  free(v);
  return arr;
}

static void topic_list(weft_mb_broker *b, weft__mb_conn_rec *c,
                       const weft_mb_header *h, const char *key,
                       int64_t now_ms) {
  cJSON *o = cJSON_CreateObject();
  cJSON *arr = all_topics(b);
  if (!o || !arr) {
    cJSON_Delete(arr);
    cJSON_Delete(o);
    o = NULL;
  } else {
    cJSON_AddItemToObject(o, key, arr);
  }
  reply_json(b, c->id, h, o, now_ms);
}

/* The payload as JSON, by the rules of weft_mb_register_parse (too big or
 * not JSON: MALFORMED_MESSAGE; empty or null: INTERNAL_ERROR). Answers the
 * error itself and returns NULL. */
static cJSON *read_payload(weft_mb_broker *b, weft__mb_conn_rec *c,
                           const weft_mb_message *m, int64_t now_ms) {
  const char *p = m->payload;
  size_t n = m->payload_len;
  const char *why = NULL;
  weft_mb_code code = WEFT_MB_MALFORMED_MESSAGE;
  char buf[96];
  cJSON *o = NULL;
  if (n > WEFT_MB_MAX_PAYLOAD) {
    snprintf(buf, sizeof buf, "Payload of %zu bytes exceeds the maximum of %d",
             n, WEFT_MB_MAX_PAYLOAD);
    why = buf;
  } else if (n == 0) {
    code = WEFT_MB_INTERNAL_ERROR;
    why = "An unexpected error while routing the message";
  } else {
    const char *end = NULL;
    o = cJSON_ParseWithLengthOpts(p, n, &end, 0);
    while (o && end < p + n &&
           (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
      end++;
    if (!o || end != p + n) {
      cJSON_Delete(o);
      o = NULL;
      why = "Invalid JSON payload";
    } else if (cJSON_IsNull(o)) {
      cJSON_Delete(o);
      o = NULL;
      code = WEFT_MB_INTERNAL_ERROR;
      why = "An unexpected error while routing the message";
    }
  }
  if (!o)
    weft__mb_reply_error(b, c->id, &m->header, code, why, NULL, now_ms);
  return o;
}

static const cJSON *member(const cJSON *o, const char *key) {
  return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
}

static void service_subscriptions(weft_mb_broker *b, weft__mb_conn_rec *c,
                                  const weft_mb_message *m, int64_t now_ms) {
  const weft_mb_header *h = &m->header;
  cJSON *o = read_payload(b, c, m, now_ms);
  if (!o)
    return;
  const cJSON *sid = member(o, "serviceId");
  const char *want = c->service_id;
  if (sid && !cJSON_IsNull(sid)) {
    if (!cJSON_IsString(sid) ||
        !weft_mb_uuid_valid(sid->valuestring, strlen(sid->valuestring))) {
      cJSON_Delete(o);
      weft__mb_reply_error(b, c->id, h, WEFT_MB_INVALID_REQUEST,
                           "Invalid serviceId", NULL, now_ms);
      return;
    }
    want = sid->valuestring;
  }
  const weft__mb_conn_rec *t = NULL;
  for (size_t i = 0; i < b->n_conns && !t; i++)
    if (b->conns[i].registered && strcmp(b->conns[i].service_id, want) == 0)
      t = &b->conns[i];
  if (!t) {
    char why[64];
    snprintf(why, sizeof why, "Service %.36s not found", want);
    cJSON_Delete(o);
    weft__mb_reply_error(b, c->id, h, WEFT_MB_SERVICE_UNAVAILABLE, why, NULL,
                         now_ms);
    return;
  }
  cJSON_Delete(o);
  const weft__mb_sub **v = sorted_subs(b);
  cJSON *out = v ? cJSON_CreateObject() : NULL;
  cJSON *arr = out ? cJSON_AddArrayToObject(out, "subscriptions") : NULL;
  for (size_t i = 0; arr && i < b->n_subs; i++) {
    if (v[i]->conn != t->id)
      continue;
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "action", weft_mb_action_name(v[i]->action));
    cJSON_AddStringToObject(e, "topic", v[i]->topic);
    if (v[i]->action == WEFT_MB_REQUEST)
      cJSON_AddNumberToObject(e, "priority", v[i]->priority);
    cJSON_AddItemToArray(arr, e);
  }
  free(v);
  reply_json(b, c->id, h, out, now_ms);
}

/* A payload-parse failure of the register / subscription codecs answered
 * as the broker does. */
static void refuse(weft_mb_broker *b, weft__mb_conn_rec *c,
                   const weft_mb_header *h, weft_mb_code code,
                   const weft_error *err, int64_t now_ms) {
  weft__mb_reply_error(b, c->id, h, code, err->message, NULL, now_ms);
}

static void service_register(weft_mb_broker *b, weft__mb_conn_rec *c,
                             const weft_mb_message *m, int64_t now_ms) {
  weft_mb_register r;
  weft_mb_code code = WEFT_MB_OK;
  weft_error err = {0};
  if (weft_mb_register_parse(m->payload, m->payload_len, &r, &code, &err) < 0) {
    refuse(b, c, &m->header, code, &err, now_ms);
    return;
  }
  free(c->name);
  free(c->description);
  c->name = r.name;
  c->description = r.description;
  ack(b, c->id, &m->header, true);
}

static void topic_subscription(weft_mb_broker *b, weft__mb_conn_rec *c,
                               const weft_mb_message *m, bool unsubscribe,
                               int64_t now_ms) {
  weft_mb_subscription s;
  weft_mb_code code = WEFT_MB_OK;
  weft_error err = {0};
  if (weft_mb_subscription_parse(m->payload, m->payload_len, unsubscribe, &s,
                                 &code, &err) < 0) {
    refuse(b, c, &m->header, code, &err, now_ms);
    return;
  }
  bool ok = false;
  if (s.action == WEFT_MB_RESPONSE) {
    ok = false; /* nothing is ever routed to response subscribers */
  } else if (unsubscribe) {
    ok = weft__mb_unsubscribe(b, c->id, s.action, s.topic);
  } else if (weft__mb_subscribe(b, c->id, s.action, s.topic, s.priority) < 0) {
    weft__mb_reply_error(b, c->id, &m->header, WEFT_MB_INTERNAL_ERROR,
                         "An unexpected error while routing the message", NULL,
                         now_ms);
    return;
  } else {
    ok = true;
  }
  ack(b, c->id, &m->header, ok);
}

/* system.log.subscribe: {levels?: [debug|info|warn|error], regex?}. weft's
 * broker has no log stream to send, but keeps the subscription (it shows in
 * the topic list) and answers as the broker does. */
static void log_subscribe(weft_mb_broker *b, weft__mb_conn_rec *c,
                          const weft_mb_message *m, int64_t now_ms) {
  cJSON *o = read_payload(b, c, m, now_ms);
  if (!o)
    return;
  const cJSON *levels = member(o, "levels");
  const cJSON *regex = member(o, "regex");
  const char *why = NULL;
  if (levels && !cJSON_IsNull(levels) && !cJSON_IsFalse(levels)) {
    if (!cJSON_IsArray(levels)) {
      why = "Invalid log levels";
    } else {
      const cJSON *l;
      cJSON_ArrayForEach(l, levels) {
        if (!cJSON_IsString(l) || (strcmp(l->valuestring, "debug") != 0 &&
                                   strcmp(l->valuestring, "info") != 0 &&
                                   strcmp(l->valuestring, "warn") != 0 &&
                                   strcmp(l->valuestring, "error") != 0)) {
          why = "Invalid log level";
          break;
        }
      }
    }
  }
  if (!why && regex && !cJSON_IsNull(regex) && !cJSON_IsFalse(regex) &&
      !cJSON_IsString(regex))
    why = "Invalid log regex";
  cJSON_Delete(o);
  if (why) {
    weft__mb_reply_error(b, c->id, &m->header, WEFT_MB_INVALID_REQUEST, why,
                         NULL, now_ms);
    return;
  }
  if (weft__mb_subscribe(b, c->id, WEFT_MB_PUBLISH, "system.log", 0) < 0) {
    weft__mb_reply_error(b, c->id, &m->header, WEFT_MB_INTERNAL_ERROR,
                         "An unexpected error while routing the message", NULL,
                         now_ms);
    return;
  }
  ack(b, c->id, &m->header, true);
}

void weft__mb_system(weft_mb_broker *b, weft__mb_conn_rec *c,
                     const weft_mb_message *m, int64_t now_ms) {
  const weft_mb_header *h = &m->header;
  const char *t = h->topic;
  bool heartbeat = strcmp(t, WEFT_MB_TOPIC_HEARTBEAT) == 0;
  if (h->action != WEFT_MB_REQUEST &&
      !(heartbeat && h->action == WEFT_MB_RESPONSE)) {
    char why[WEFT_MB_MAX_TOPIC + 64];
    snprintf(why, sizeof why, "Invalid action, expected REQUEST%s for %s",
             heartbeat ? " or RESPONSE" : "", t);
    weft__mb_reply_error(b, c->id, h, WEFT_MB_INVALID_REQUEST, why, NULL,
                         now_ms);
    return;
  }
  if (heartbeat) {
    /* A response only proves it alive (the caller reset its timers). */
    if (h->action == WEFT_MB_REQUEST)
      ack(b, c->id, h, true);
  } else if (strcmp(t, WEFT_MB_TOPIC_REGISTER) == 0) {
    service_register(b, c, m, now_ms);
  } else if (strcmp(t, WEFT_MB_TOPIC_SUBSCRIBE) == 0) {
    topic_subscription(b, c, m, false, now_ms);
  } else if (strcmp(t, WEFT_MB_TOPIC_UNSUBSCRIBE) == 0) {
    topic_subscription(b, c, m, true, now_ms);
  } else if (strcmp(t, WEFT_MB_TOPIC_SERVICE_LIST) == 0) {
    service_list(b, c, h, now_ms);
  } else if (strcmp(t, WEFT_MB_TOPIC_SERVICE_SUBSCRIPTIONS) == 0) {
    service_subscriptions(b, c, m, now_ms);
  } else if (strcmp(t, WEFT_MB_TOPIC_TOPIC_LIST) == 0) {
    topic_list(b, c, h, "topics", now_ms);
  } else if (strcmp(t, WEFT_MB_TOPIC_TOPIC_SUBSCRIPTIONS) == 0) {
    topic_list(b, c, h, "subscriptions", now_ms);
  } else if (strcmp(t, WEFT_MB_TOPIC_LOG_SUBSCRIBE) == 0) {
    log_subscribe(b, c, m, now_ms);
  } else if (strcmp(t, WEFT_MB_TOPIC_LOG_UNSUBSCRIBE) == 0) {
    weft__mb_unsubscribe(b, c->id, WEFT_MB_PUBLISH, "system.log");
    ack(b, c->id, h, true);
  } else if (strcmp(t, WEFT_MB_TOPIC_METRICS) == 0) {
    /* weft keeps no broker metrics: an empty set, in the broker's shape. */
    cJSON *o = read_payload(b, c, m, now_ms);
    if (o) {
      cJSON_Delete(o);
      reply_json(b, c->id, h, cJSON_Parse("{\"metrics\":{}}"), now_ms);
    }
  } else {
    char why[WEFT_MB_MAX_TOPIC + 40];
    snprintf(why, sizeof why, "Unknown system message topic: %s", t);
    weft__mb_reply_error(b, c->id, h, WEFT_MB_TOPIC_NOT_SUPPORTED, why, NULL,
                         now_ms);
  }
}
