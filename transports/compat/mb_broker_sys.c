/* The MB broker engine's system topics: heartbeat, service registration and
 * listing, subscriptions and their listing, logs and metrics. Each answers
 * as the broker does (docs/COMPAT.md lists the few differences). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mb_broker_int.h"
#include "mb_system_int.h"

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

/* The other nodes' registries (remote_registries), parsed: an array, or
 * NULL when there are none. */
static cJSON *remote(const weft_mb_broker *b) {
  char *s = b->o.remote_registries ? b->o.remote_registries(b->o.ud) : NULL;
  cJSON *r = s ? cJSON_Parse(s) : NULL;
  free(s);
  if (r && !cJSON_IsArray(r)) {
    cJSON_Delete(r);
    r = NULL;
  }
  return r;
}

static const char *str_of(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static cJSON *local_services(const weft_mb_broker *b) {
  cJSON *arr = cJSON_CreateArray();
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
  return arr;
}

static void service_list(weft_mb_broker *b, weft__mb_conn_rec *c,
                         const weft_mb_header *h, int64_t now_ms) {
  cJSON *o = cJSON_CreateObject();
  cJSON *arr = local_services(b);
  cJSON *rem = remote(b), *reg;
  cJSON_ArrayForEach(reg, rem) {
    const cJSON *e, *svcs = cJSON_GetObjectItemCaseSensitive(reg, "services");
    cJSON_ArrayForEach(e, svcs) {
      if (cJSON_IsObject(e))
        cJSON_AddItemToArray(arr, cJSON_Duplicate(e, true));
    }
  }
  cJSON_Delete(rem);
  if (o && arr)
    cJSON_AddItemToObject(o, "services", arr);
  else
    cJSON_Delete(arr);
  reply_json(b, c->id, h, o, now_ms);
}

/* One subscription, this broker's or another node's, as the lists show
 * it. Sorted as the broker lists them: by topic, then action ("publish"
 * before "request"); within a request topic by priority (highest first),
 * then by order of subscription (other nodes' after this one's). */
typedef struct listed {
  weft_mb_action action;
  const char *topic, *service_id;
  double priority;
  uint64_t seq;
} listed;

static int listed_cmp(const void *x, const void *y) {
  const listed *a = x, *b = y;
  int c = strcmp(a->topic, b->topic);
  if (c)
    return c;
  if (a->action != b->action)
    return a->action == WEFT_MB_PUBLISH ? -1 : 1;
  if (a->priority != b->priority)
    return a->priority > b->priority ? -1 : 1;
  return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Every subscription, this broker's and those in rem (may be NULL);
 * *n gets the count. Strings point into b and rem. */
static listed *all_listed(const weft_mb_broker *b, const cJSON *rem,
                          size_t *n) {
  size_t cap = b->n_subs + 1;
  const cJSON *reg, *e;
  cJSON_ArrayForEach(reg, rem) {
    cap += (size_t)cJSON_GetArraySize(
        cJSON_GetObjectItemCaseSensitive(reg, "subscriptions"));
  }
  listed *v = malloc(cap * sizeof *v);
  if (!v)
    return NULL;
  size_t k = 0;
  for (size_t i = 0; i < b->n_subs; i++) {
    const weft__mb_conn_rec *c = weft__mb_find_conn(b, b->subs[i].conn);
    v[k++] =
        (listed){b->subs[i].action, b->subs[i].topic, c ? c->service_id : "",
                 b->subs[i].priority, b->subs[i].seq};
  }
  uint64_t seq = UINT64_MAX / 2;
  cJSON_ArrayForEach(reg, rem) {
    cJSON_ArrayForEach(e,
                       cJSON_GetObjectItemCaseSensitive(reg, "subscriptions")) {
      const char *act = str_of(e, "action"), *topic = str_of(e, "topic");
      const char *sid = str_of(e, "serviceId");
      const cJSON *pr = cJSON_GetObjectItemCaseSensitive(e, "priority");
      if (!act || !topic || !sid ||
          (strcmp(act, "publish") && strcmp(act, "request")))
        continue;
      v[k++] =
          (listed){strcmp(act, "publish") ? WEFT_MB_REQUEST : WEFT_MB_PUBLISH,
                   topic, sid, cJSON_IsNumber(pr) ? pr->valuedouble : 0, seq++};
    }
  }
  qsort(v, k, sizeof *v, listed_cmp);
  *n = k;
  return v;
}

/* {action, topic, subscribers: [{serviceId[, priority]}]} per topic. */
static cJSON *all_topics(const weft_mb_broker *b) {
  cJSON *rem = remote(b);
  size_t n = 0;
  listed *v = all_listed(b, rem, &n);
  cJSON *arr = v ? cJSON_CreateArray() : NULL;
  cJSON *subs = NULL;
  for (size_t i = 0; arr && i < n; i++) {
    const listed *s = &v[i];
    if (i == 0 || s->action != v[i - 1].action ||
        strcmp(s->topic, v[i - 1].topic) != 0) {
      cJSON *e = cJSON_CreateObject();
      cJSON_AddStringToObject(e, "action", weft_mb_action_name(s->action));
      cJSON_AddStringToObject(e, "topic", s->topic);
      subs = cJSON_AddArrayToObject(e, "subscribers");
      cJSON_AddItemToArray(arr, e);
    }
    cJSON *who = cJSON_CreateObject();
    cJSON_AddStringToObject(who, "serviceId", s->service_id);
    if (s->action == WEFT_MB_REQUEST)
      cJSON_AddNumberToObject(who, "priority", s->priority);
    cJSON_AddItemToArray(subs, who);
  }
  free(v);
  cJSON_Delete(rem);
  return arr;
}

/* The subscriptions of service sid, in list order, from v[0..n). */
static cJSON *subscriptions_of(const listed *v, size_t n, const char *sid) {
  cJSON *arr = cJSON_CreateArray();
  for (size_t i = 0; arr && i < n; i++) {
    if (strcmp(v[i].service_id, sid) != 0)
      continue;
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "action", weft_mb_action_name(v[i].action));
    cJSON_AddStringToObject(e, "topic", v[i].topic);
    if (v[i].action == WEFT_MB_REQUEST)
      cJSON_AddNumberToObject(e, "priority", v[i].priority);
    cJSON_AddItemToArray(arr, e);
  }
  return arr;
}

char *weft_mb_broker_registry(const weft_mb_broker *b) {
  size_t n = 0;
  listed *v = all_listed(b, NULL, &n);
  cJSON *o = v ? cJSON_CreateObject() : NULL;
  if (o) {
    cJSON_AddItemToObject(o, "services", local_services(b));
    cJSON *arr = cJSON_AddArrayToObject(o, "subscriptions");
    for (size_t i = 0; arr && i < n; i++) {
      cJSON *e = cJSON_CreateObject();
      cJSON_AddStringToObject(e, "action", weft_mb_action_name(v[i].action));
      cJSON_AddStringToObject(e, "topic", v[i].topic);
      cJSON_AddStringToObject(e, "serviceId", v[i].service_id);
      if (v[i].action == WEFT_MB_REQUEST)
        cJSON_AddNumberToObject(e, "priority", v[i].priority);
      cJSON_AddItemToArray(arr, e);
    }
  }
  free(v);
  char *s = o ? cJSON_PrintUnformatted(o) : NULL;
  cJSON_Delete(o);
  return s;
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

/* Answers a refusal as the broker words it, and clears it. */
static void refuse(weft_mb_broker *b, weft__mb_conn_rec *c,
                   const weft_mb_header *h, weft__mb_refusal *r,
                   int64_t now_ms) {
  if (r->echo_code) {
    /* An error object sent to it comes back as its own error. */
    char ts[25];
    weft_mb_format_timestamp(now_ms, ts);
    cJSON *o = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(o, "error");
    cJSON_AddItemToObject(e, "code", r->echo_code);
    cJSON_AddItemToObject(e, "message", r->echo_message);
    cJSON_AddStringToObject(e, "timestamp", ts);
    if (r->echo_details)
      cJSON_AddItemToObject(e, "details", r->echo_details);
    r->echo_code = r->echo_message = r->echo_details = NULL;
    reply_json(b, c->id, h, o, now_ms);
    weft__mb_refusal_clear(r);
    return;
  }
  char *details = r->details ? cJSON_PrintUnformatted(r->details) : NULL;
  weft__mb_reply_error(b, c->id, h, r->code, r->message, details, now_ms);
  free(details);
  weft__mb_refusal_clear(r);
}

/* An INVALID_REQUEST worded `why`, with details {key: v, key2: v2} (absent
 * values left out, as JSON.stringify leaves out undefined). */
static void invalid(weft_mb_broker *b, weft__mb_conn_rec *c,
                    const weft_mb_header *h, const char *why, const char *key,
                    const cJSON *v, const char *key2, const cJSON *v2,
                    int64_t now_ms) {
  weft__mb_refusal r = {0};
  cJSON *d = cJSON_CreateObject();
  if (d && v)
    cJSON_AddItemToObject(d, key, cJSON_Duplicate(v, true));
  if (d && v2)
    cJSON_AddItemToObject(d, key2, cJSON_Duplicate(v2, true));
  weft__mb_refuse(&r, WEFT_MB_INVALID_REQUEST, WEFT_ERR_MALFORMED, d, "%s",
                  why);
  refuse(b, c, h, &r, now_ms);
}

/* The payload as the broker reads it; answers the refusal itself. */
static cJSON *read_payload(weft_mb_broker *b, weft__mb_conn_rec *c,
                           const weft_mb_message *m, int64_t now_ms) {
  weft__mb_refusal r;
  cJSON *o = weft__mb_payload_json(m->payload, m->payload_len, &r);
  if (!o)
    refuse(b, c, &m->header, &r, now_ms);
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
      invalid(b, c, h, "Invalid serviceId", "serviceId", sid, NULL, NULL,
              now_ms);
      cJSON_Delete(o);
      return;
    }
    want = sid->valuestring;
  }
  const weft__mb_conn_rec *t = NULL;
  for (size_t i = 0; i < b->n_conns && !t; i++)
    if (b->conns[i].registered && strcmp(b->conns[i].service_id, want) == 0)
      t = &b->conns[i];
  cJSON *rem = remote(b);
  bool elsewhere = false; /* a service of another node */
  const cJSON *reg, *e;
  cJSON *look = t ? NULL : rem;
  cJSON_ArrayForEach(reg, look) {
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(reg, "services")) {
      const char *id = str_of(e, "id");
      elsewhere = elsewhere || (id && strcmp(id, want) == 0);
    }
  }
  if (!t && !elsewhere) {
    char why[64];
    snprintf(why, sizeof why, "Service %.36s not found", want);
    cJSON_Delete(o);
    cJSON_Delete(rem);
    weft__mb_reply_error(b, c->id, h, WEFT_MB_SERVICE_UNAVAILABLE, why, NULL,
                         now_ms);
    return;
  }
  size_t n = 0;
  listed *v = all_listed(b, t ? NULL : rem, &n);
  cJSON *out = v ? cJSON_CreateObject() : NULL;
  cJSON *arr = out ? subscriptions_of(v, n, t ? t->service_id : want) : NULL;
  if (out && arr)
    cJSON_AddItemToObject(out, "subscriptions", arr);
  else {
    cJSON_Delete(out);
    out = NULL;
  }
  free(v);
  cJSON_Delete(o); /* want may point into it: freed last */
  cJSON_Delete(rem);
  reply_json(b, c->id, h, out, now_ms);
}

static void service_register(weft_mb_broker *b, weft__mb_conn_rec *c,
                             const weft_mb_message *m, int64_t now_ms) {
  weft_mb_register r;
  weft__mb_refusal why;
  if (weft__mb_register_check(m->payload, m->payload_len, &r, &why) < 0) {
    refuse(b, c, &m->header, &why, now_ms);
    return;
  }
  free(c->name);
  free(c->description);
  c->name = r.name;
  c->description = r.description;
  ack(b, c->id, &m->header, true);
  weft__mb_changed(b);
}

static void topic_subscription(weft_mb_broker *b, weft__mb_conn_rec *c,
                               const weft_mb_message *m, bool unsubscribe,
                               int64_t now_ms) {
  weft_mb_subscription s;
  weft__mb_refusal why;
  if (weft__mb_subscription_check(m->payload, m->payload_len, unsubscribe, &s,
                                  &why) < 0) {
    refuse(b, c, &m->header, &why, now_ms);
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
  const char *why = NULL, *key = NULL;
  const cJSON *bad = NULL;
  if (levels && !cJSON_IsNull(levels) && !cJSON_IsFalse(levels)) {
    if (!cJSON_IsArray(levels)) {
      why = "Invalid log levels", key = "levels", bad = levels;
    } else {
      const cJSON *l;
      cJSON_ArrayForEach(l, levels) {
        if (!cJSON_IsString(l) || (strcmp(l->valuestring, "debug") != 0 &&
                                   strcmp(l->valuestring, "info") != 0 &&
                                   strcmp(l->valuestring, "warn") != 0 &&
                                   strcmp(l->valuestring, "error") != 0)) {
          why = "Invalid log level", key = "level", bad = l;
          break;
        }
      }
    }
  }
  if (!why && regex && !cJSON_IsNull(regex) && !cJSON_IsFalse(regex) &&
      !cJSON_IsString(regex))
    why = "Invalid log regex", key = "regex", bad = regex;
  if (why) {
    invalid(b, c, &m->header, why, key, bad, NULL, NULL, now_ms);
    cJSON_Delete(o);
    return;
  }
  cJSON_Delete(o);
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
    cJSON *action = cJSON_CreateString(weft_mb_action_name(h->action));
    cJSON *topic = cJSON_CreateString(t);
    invalid(b, c, h, why, "action", action, "topic", topic, now_ms);
    cJSON_Delete(action);
    cJSON_Delete(topic);
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
