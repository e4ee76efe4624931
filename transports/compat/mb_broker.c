/* The MB broker engine's routing core: connections, subscriptions,
 * publishes, requests and their responses, heartbeats. See weft/mb_broker.h;
 * the system topics are in mb_broker_sys.c. Connections, subscriptions and
 * outstanding requests live in plain arrays and a hashed list: a stand-in
 * broker serves tens of services, and the 10,000-request cap bounds the
 * rest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "mb_broker_int.h"
#include "mb_header_int.h"
#include "mb_system_int.h"
#include "weft/utf8.h"

#define DEFAULT_MAX_PENDING 10000
#define DEFAULT_HEARTBEAT_MS 30000
#define DEFAULT_SILENCE_MS 60000

typedef weft__mb_conn_rec conn_rec;
typedef weft__mb_sub sub_rec;
typedef weft__mb_pending pending;

/* ---- helpers ---- */

static uint64_t next_rand(weft_mb_broker *b) {
  /* splitmix64 */
  uint64_t z = (b->rng += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void weft__mb_new_uuid(weft_mb_broker *b, char out[WEFT_MB_UUID_LEN + 1]) {
  uint8_t r[16];
  uint64_t x = next_rand(b), y = next_rand(b);
  memcpy(r, &x, 8);
  memcpy(r + 8, &y, 8);
  weft_mb_uuid_format(r, out);
}

static unsigned hash_id(const char *id) {
  uint32_t h = 2166136261u;
  for (; *id; id++)
    h = (h ^ (uint8_t)*id) * 16777619u;
  return h & (WEFT__MB_NBUCKETS - 1);
}

conn_rec *weft__mb_find_conn(const weft_mb_broker *b, weft_mb_conn id) {
  for (size_t i = 0; i < b->n_conns; i++)
    if (b->conns[i].id == id)
      return &b->conns[i];
  return NULL;
}

/* Topics match as the broker's canonical form: lowercase. */
static void canonical(char out[WEFT_MB_MAX_TOPIC + 1], const char *topic) {
  size_t i = 0;
  for (; topic[i] && i < WEFT_MB_MAX_TOPIC; i++) {
    char ch = topic[i];
    out[i] = ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch;
  }
  out[i] = '\0';
}

/* ---- the system.message audit stream ---- */

static bool audited(const weft_mb_broker *b) {
  for (size_t i = 0; i < b->n_subs; i++)
    if (b->subs[i].action == WEFT_MB_PUBLISH &&
        strcmp(b->subs[i].topic, "system.message") == 0)
      return true;
  return false;
}

/* Sends an audit record to every system.message subscriber, as the broker
 * does: `publish:system.message:1.0.0` (no id), not itself audited. */
static void audit_emit(weft_mb_broker *b, cJSON *record) {
  char *json = record ? cJSON_PrintUnformatted(record) : NULL;
  cJSON_Delete(record);
  if (!json)
    return;
  static const char head[] = "publish:system.message:1.0.0\n";
  size_t hl = sizeof head - 1, jl = strlen(json);
  char *msg = malloc(hl + jl);
  if (msg) {
    memcpy(msg, head, hl);
    memcpy(msg + hl, json, jl);
    for (size_t i = 0; i < b->n_subs; i++)
      if (b->subs[i].action == WEFT_MB_PUBLISH &&
          strcmp(b->subs[i].topic, "system.message") == 0)
        b->o.send(b->o.ud, b->subs[i].conn, msg, hl + jl);
  }
  free(msg);
  free(json);
}

static cJSON *audit_header(const weft_mb_header *h) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "action", weft_mb_action_name(h->action));
  cJSON_AddStringToObject(o, "topic", h->topic);
  cJSON_AddStringToObject(o, "version", h->version);
  if (h->request_id[0])
    cJSON_AddStringToObject(o, "requestId", h->request_id);
  if (h->parent_request_id[0])
    cJSON_AddStringToObject(o, "parentRequestId", h->parent_request_id);
  if (h->has_timeout)
    cJSON_AddNumberToObject(o, "timeout", h->timeout_ms);
  return o;
}

static cJSON *audit_record(int64_t now_ms) {
  char ts[25];
  weft_mb_format_timestamp(now_ms, ts);
  cJSON *r = cJSON_CreateObject();
  cJSON_AddStringToObject(r, "timestamp", ts);
  return r;
}

/* A message the broker sent. A forwarded payload is a byte buffer to the
 * broker, which its JSON writer renders as {"type":"Buffer","data":[...]};
 * its own payloads are JSON objects. */
static void audit_sent(weft_mb_broker *b, const conn_rec *to,
                       const weft_mb_header *h, const char *payload, size_t len,
                       bool forwarded, const char *masked_id, int64_t now_ms) {
  cJSON *r = audit_record(now_ms);
  cJSON_AddStringToObject(r, "to", to->service_id);
  cJSON *m = cJSON_AddObjectToObject(r, "message");
  cJSON_AddItemToObject(m, "header", audit_header(h));
  if (forwarded) {
    cJSON *buf = cJSON_AddObjectToObject(m, "payload");
    cJSON_AddStringToObject(buf, "type", "Buffer");
    cJSON *data = cJSON_AddArrayToObject(buf, "data");
    for (size_t i = 0; data && i < len; i++)
      cJSON_AddItemToArray(data,
                           cJSON_CreateNumber((double)(uint8_t)payload[i]));
  } else {
    char *text = strndup(payload, len);
    if (text)
      cJSON_AddRawToObject(m, "payload", text);
    free(text);
  }
  if (masked_id && *masked_id)
    cJSON_AddStringToObject(r, "maskedId", masked_id);
  audit_emit(b, r);
}

/* A message the broker received (its header parsed): the payload goes in
 * as the bytes came, JSON or not. */
static void audit_received(weft_mb_broker *b, const conn_rec *from,
                           const weft_mb_message *m, int64_t now_ms) {
  cJSON *r = audit_record(now_ms);
  cJSON_AddNumberToObject(r, "timeout", m->header.timeout_ms);
  cJSON_AddStringToObject(r, "from", from->service_id);
  cJSON *msg = cJSON_AddObjectToObject(r, "message");
  cJSON_AddItemToObject(msg, "header", audit_header(&m->header));
  char *text = strndup(m->payload, m->payload_len);
  if (text)
    cJSON_AddRawToObject(msg, "payload", text);
  free(text);
  audit_emit(b, r);
}

/* ---- sending ---- */

static void send_impl(weft_mb_broker *b, weft_mb_conn conn,
                      weft_mb_action action, const char *topic,
                      const char *version, const char *id, const char *payload,
                      size_t payload_len, bool forwarded,
                      const char *masked_id) {
  const conn_rec *c = weft__mb_find_conn(b, conn);
  if (!b->o.send || !c)
    return;
  weft_mb_header h;
  weft_mb_header_init(&h, action, topic, version);
  if (id && *id)
    snprintf(h.request_id, sizeof h.request_id, "%s", id);
  char line[WEFT_MB_MAX_HEADER];
  /* The header is built from fields that parsed, so this fails only on a
   * bug; the message is then dropped. */
  ssize_t hl = weft_mb_header_encode(&h, line, sizeof line, NULL);
  if (hl < 0)
    return;
  char *out = malloc((size_t)hl + 1 + payload_len);
  if (!out)
    return; /* dropped; the peer's own timeout covers it */
  memcpy(out, line, (size_t)hl);
  out[hl] = '\n';
  if (payload_len)
    memcpy(out + hl + 1, payload, payload_len);
  b->o.send(b->o.ud, conn, out, (size_t)hl + 1 + payload_len);
  free(out);
  if (audited(b))
    audit_sent(b, c, &h, payload, payload_len, forwarded, masked_id, b->now_ms);
}

void weft__mb_send(weft_mb_broker *b, weft_mb_conn conn, weft_mb_action action,
                   const char *topic, const char *version, const char *id,
                   const char *payload, size_t payload_len) {
  send_impl(b, conn, action, topic, version, id, payload, payload_len, false,
            NULL);
}

void weft__mb_reply(weft_mb_broker *b, weft_mb_conn conn,
                    const weft_mb_header *h, const char *payload, size_t len) {
  char fresh[WEFT_MB_UUID_LEN + 1];
  const char *id = h->request_id;
  if (!*id) {
    weft__mb_new_uuid(b, fresh);
    id = fresh;
  }
  weft__mb_send(b, conn, WEFT_MB_RESPONSE, h->topic, h->version, id, payload,
                len);
}

/* The error body `{"error":{code,message,timestamp[,details]}}`. */
static char *error_body(weft_mb_code code, const char *message,
                        const char *details_json, int64_t now_ms, size_t *len) {
  char *msg = NULL;
  size_t n = 0;
  /* weft_mb_error_encode writes a whole message; its payload is what
   * follows the first newline. */
  if (weft_mb_error_encode("error", WEFT_MB_SYSTEM_VERSION, NULL, code, message,
                           now_ms, details_json, &msg, &n, NULL) != 0)
    return NULL;
  char *nl = memchr(msg, '\n', n);
  size_t off = nl ? (size_t)(nl - msg) + 1 : 0;
  memmove(msg, msg + off, n - off + 1);
  *len = n - off;
  return msg;
}

void weft__mb_reply_error(weft_mb_broker *b, weft_mb_conn conn,
                          const weft_mb_header *h, weft_mb_code code,
                          const char *message, const char *details_json,
                          int64_t now_ms) {
  size_t len = 0;
  char *body = error_body(code, message, details_json, now_ms, &len);
  if (body)
    weft__mb_reply(b, conn, h, body, len);
  free(body);
}

/* A message whose header did not parse: the broker cannot address it, so it
 * answers on `response:error:1.0.0` with no id, naming the first broken
 * rule as it does (message and details). */
static void reply_malformed(weft_mb_broker *b, weft_mb_conn conn,
                            const char *msg, size_t len, int64_t now_ms) {
  size_t scan = len < WEFT_MB_MAX_HEADER ? len : WEFT_MB_MAX_HEADER;
  const char *nl = memchr(msg, '\n', scan);
  weft__mb_fault f = {0};
  weft_mb_header h;
  if (!nl)
    f.kind = WEFT__MB_FAULT_LENGTH;
  else
    weft__mb_header_parse_fault(msg, (size_t)(nl - msg), &h, NULL, NULL, &f);
  char *raw = f.raw ? weft__mb_js_text(f.raw, f.raw_len) : NULL;
  const char *field = raw ? raw : "";
  cJSON *d = cJSON_CreateObject();
  const char *what = NULL, *key = NULL;
  char *message = NULL;
  switch (f.kind) {
  case WEFT__MB_FAULT_LENGTH:
    message = strdup("Invalid message format: no newline separator found "
                     "within the maximum header length of 367 bytes");
    break;
  case WEFT__MB_FAULT_FIELDS:
    message =
        strdup("Invalid header format: missing action, topic, or version");
    break;
  case WEFT__MB_FAULT_ACTION: {
    for (char *p = raw; p && *p; p++)
      *p = *p >= 'A' && *p <= 'Z' ? (char)(*p + 32) : *p;
    what = "Invalid action: ";
    cJSON *v = cJSON_AddArrayToObject(d, "validActions");
    for (int a = WEFT_MB_PUBLISH; v && a <= WEFT_MB_RESPONSE; a++)
      cJSON_AddItemToArray(
          v, cJSON_CreateString(weft_mb_action_name((weft_mb_action)a)));
    break;
  }
  case WEFT__MB_FAULT_TOPIC:
    what = "Invalid topic name: ", key = "topic";
    break;
  case WEFT__MB_FAULT_VERSION:
    what = "Invalid message version format: ", key = "version";
    break;
  case WEFT__MB_FAULT_ID:
    what = "Invalid request ID format: ", key = "requestId";
    break;
  case WEFT__MB_FAULT_PARENT:
    what = "Invalid parent request ID format: ", key = "parentRequestId";
    break;
  case WEFT__MB_FAULT_TIMEOUT_ACTION:
    message = strdup("Timeout is only allowed for request actions");
    cJSON_AddStringToObject(d, "action", weft_mb_action_name(h.action));
    break;
  case WEFT__MB_FAULT_TIMEOUT:
    message = strdup("Invalid timeout value");
    if (f.timeout_nan)
      cJSON_AddNullToObject(d, "timeout");
    else
      cJSON_AddNumberToObject(d, "timeout", f.timeout_value);
    break;
  default:
    message = strdup("Malformed message");
    break;
  }
  if (what) {
    size_t n = strlen(what) + strlen(field) + 1;
    message = malloc(n);
    if (message)
      snprintf(message, n, "%s%s", what, field);
  }
  if (key)
    cJSON_AddStringToObject(d, key, field);
  char *details =
      d && cJSON_GetArraySize(d) > 0 ? cJSON_PrintUnformatted(d) : NULL;
  size_t blen = 0;
  char *body = message ? error_body(WEFT_MB_MALFORMED_MESSAGE, message, details,
                                    now_ms, &blen)
                       : NULL;
  if (body)
    weft__mb_send(b, conn, WEFT_MB_RESPONSE, "error", WEFT_MB_SYSTEM_VERSION,
                  NULL, body, blen);
  free(body);
  free(details);
  cJSON_Delete(d);
  free(message);
  free(raw);
}

/* ---- pending requests ---- */

static void pending_unlink(weft_mb_broker *b, pending *p) {
  if (p->older)
    p->older->newer = p->newer;
  else
    b->oldest = p->newer;
  if (p->newer)
    p->newer->older = p->older;
  else
    b->newest = p->older;
  pending **pp = &b->buckets[hash_id(p->broker_id)];
  while (*pp && *pp != p)
    pp = &(*pp)->hnext;
  if (*pp)
    *pp = p->hnext;
  b->n_pending--;
  free(p->topic);
  free(p->version);
  free(p);
}

static pending *pending_find(weft_mb_broker *b, const char *broker_id) {
  for (pending *p = b->buckets[hash_id(broker_id)]; p; p = p->hnext)
    if (strcmp(p->broker_id, broker_id) == 0)
      return p;
  return NULL;
}

/* Answers p's caller (addressed as its request was) and forgets p. */
static void pending_fail(weft_mb_broker *b, pending *p, weft_mb_code code,
                         const char *why, const char *details, int64_t now_ms) {
  weft_mb_header h;
  weft_mb_header_init(&h, WEFT_MB_RESPONSE, p->topic, p->version);
  memcpy(h.request_id, p->caller_id, sizeof h.request_id);
  weft__mb_reply_error(b, p->caller, &h, code, why, details, now_ms);
  pending_unlink(b, p);
}

/* ---- subscriptions ---- */

static size_t subs_of(const weft_mb_broker *b, weft_mb_action action,
                      const char *canon) {
  size_t n = 0;
  for (size_t i = 0; i < b->n_subs; i++)
    n += b->subs[i].action == action && strcmp(b->subs[i].topic, canon) == 0;
  return n;
}

static void (*interest_cb(const weft_mb_broker *b,
                          weft_mb_action action))(void *, const char *, bool) {
  return action == WEFT_MB_REQUEST   ? b->o.request_interest
         : action == WEFT_MB_PUBLISH ? b->o.publish_interest
                                     : NULL;
}

/* After a subscription of canon was added or removed. */
static void interest(weft_mb_broker *b, weft_mb_action action,
                     const char *canon, bool added) {
  void (*cb)(void *, const char *, bool) = interest_cb(b, action);
  if (cb && subs_of(b, action, canon) == (added ? 1 : 0))
    cb(b->o.ud, canon, added);
}

static void drop_subs_of(weft_mb_broker *b, weft_mb_conn conn) {
  /* The topics conn leaves, to tell request_interest and publish_interest
   * of those it was the last subscriber of (without memory: not told; a
   * node then still receives requests it answers NO_ROUTE_FOUND, and
   * publishes nobody here gets, which is right). */
  size_t ng = 0;
  sub_rec *gone = NULL;
  if (b->o.request_interest || b->o.publish_interest) {
    for (size_t i = 0; i < b->n_subs; i++)
      ng += b->subs[i].conn == conn && interest_cb(b, b->subs[i].action);
    gone = ng ? malloc(ng * sizeof *gone) : NULL;
    ng = 0;
  }
  size_t w = 0;
  for (size_t i = 0; i < b->n_subs; i++) {
    if (b->subs[i].conn != conn)
      b->subs[w++] = b->subs[i];
    else if (gone && interest_cb(b, b->subs[i].action))
      gone[ng++] = b->subs[i];
  }
  b->n_subs = w;
  for (size_t k = 0; k < ng; k++)
    interest(b, gone[k].action, gone[k].topic, false);
  free(gone);
}

int weft__mb_subscribe(weft_mb_broker *b, weft_mb_conn conn,
                       weft_mb_action action, const char *topic,
                       double priority) {
  char t[WEFT_MB_MAX_TOPIC + 1];
  canonical(t, topic);
  for (size_t i = 0; i < b->n_subs; i++) {
    sub_rec *r = &b->subs[i];
    if (r->conn == conn && r->action == action && strcmp(r->topic, t) == 0) {
      /* A new priority moves it behind the others of that priority. */
      if (r->priority != priority) {
        r->priority = priority;
        r->seq = ++b->sub_seq;
        weft__mb_changed(b);
      }
      return 0;
    }
  }
  if (b->n_subs == b->cap_subs) {
    size_t cap = b->cap_subs ? b->cap_subs * 2 : 16;
    sub_rec *n = realloc(b->subs, cap * sizeof *n);
    if (!n)
      return WEFT_ERR_NOMEM;
    b->subs = n;
    b->cap_subs = cap;
  }
  sub_rec *r = &b->subs[b->n_subs++];
  r->conn = conn;
  r->action = action;
  r->priority = action == WEFT_MB_REQUEST ? priority : 0;
  r->seq = ++b->sub_seq;
  memcpy(r->topic, t, sizeof r->topic);
  interest(b, action, t, true);
  weft__mb_changed(b);
  return 0;
}

bool weft__mb_unsubscribe(weft_mb_broker *b, weft_mb_conn conn,
                          weft_mb_action action, const char *topic) {
  char t[WEFT_MB_MAX_TOPIC + 1];
  canonical(t, topic);
  for (size_t i = 0; i < b->n_subs; i++) {
    sub_rec *r = &b->subs[i];
    if (r->conn == conn && r->action == action && strcmp(r->topic, t) == 0) {
      memmove(r, r + 1, (b->n_subs - i - 1) * sizeof *r);
      b->n_subs--;
      interest(b, action, t, false);
      weft__mb_changed(b);
      return true;
    }
  }
  return false;
}

size_t weft_mb_broker_subscribers(const weft_mb_broker *b, weft_mb_action a,
                                  const char *topic) {
  char t[WEFT_MB_MAX_TOPIC + 1];
  canonical(t, topic);
  size_t n = 0;
  for (size_t i = 0; i < b->n_subs; i++)
    n += b->subs[i].action == a && strcmp(b->subs[i].topic, t) == 0;
  return n;
}

/* ---- lifecycle ---- */

int weft_mb_broker_new(weft_mb_broker **out, const weft_mb_broker_opts *opts) {
  /* Every answer, heartbeat and delivery goes through send: without it the
   * broker could do nothing but fail at its first message. */
  if (!out || !opts || !opts->send)
    return WEFT_ERR_INVAL;
  weft_mb_broker *b = calloc(1, sizeof *b);
  if (!b)
    return WEFT_ERR_NOMEM;
  if (opts)
    b->o = *opts;
  if (!b->o.max_pending)
    b->o.max_pending = DEFAULT_MAX_PENDING;
  if (b->o.heartbeat_interval_ms <= 0)
    b->o.heartbeat_interval_ms = DEFAULT_HEARTBEAT_MS;
  if (b->o.silence_timeout_ms <= 0)
    b->o.silence_timeout_ms = DEFAULT_SILENCE_MS;
  b->rng = b->o.seed;
  if (!b->rng) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    b->rng = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^
             (uint64_t)(uintptr_t)b;
  }
  *out = b;
  return 0;
}

static void conn_clear(conn_rec *c) {
  free(c->name);
  free(c->description);
  c->name = c->description = NULL;
}

void weft_mb_broker_free(weft_mb_broker *b) {
  if (!b)
    return;
  while (b->oldest)
    pending_unlink(b, b->oldest);
  for (size_t i = 0; i < b->n_conns; i++)
    conn_clear(&b->conns[i]);
  free(b->conns);
  free(b->subs);
  free(b);
}

static void reset_heartbeat(weft_mb_broker *b, conn_rec *c, int64_t now_ms) {
  c->last_heartbeat = now_ms;
  c->hb_due = now_ms + b->o.heartbeat_interval_ms;
  c->dereg_due = now_ms + b->o.silence_timeout_ms;
}

int weft_mb_broker_connect(weft_mb_broker *b, weft_mb_conn conn,
                           int64_t now_ms) {
  if (conn == 0 || weft__mb_find_conn(b, conn))
    return WEFT_ERR_INVAL;
  b->now_ms = now_ms;
  if (b->n_conns == b->cap_conns) {
    size_t cap = b->cap_conns ? b->cap_conns * 2 : 8;
    conn_rec *n = realloc(b->conns, cap * sizeof *n);
    if (!n)
      return WEFT_ERR_NOMEM;
    b->conns = n;
    b->cap_conns = cap;
  }
  char *name = strdup(""), *desc = strdup("");
  if (!name || !desc) {
    free(name);
    free(desc);
    return WEFT_ERR_NOMEM;
  }
  conn_rec *c = &b->conns[b->n_conns++];
  memset(c, 0, sizeof *c);
  c->id = conn;
  c->registered = true;
  c->name = name;
  c->description = desc;
  c->connected_at = now_ms;
  weft__mb_new_uuid(b, c->service_id);
  reset_heartbeat(b, c, now_ms);
  weft__mb_send(b, conn, WEFT_MB_PUBLISH, WEFT_MB_TOPIC_INITIALIZE,
                WEFT_MB_SYSTEM_VERSION, NULL, "{}", 2);
  weft__mb_changed(b);
  return 0;
}

void weft__mb_changed(weft_mb_broker *b) {
  if (b->o.registry_changed)
    b->o.registry_changed(b->o.ud);
}

void weft_mb_broker_disconnect(weft_mb_broker *b, weft_mb_conn conn) {
  conn_rec *c = weft__mb_find_conn(b, conn);
  if (!c)
    return;
  drop_subs_of(b, conn);
  conn_clear(c);
  size_t i = (size_t)(c - b->conns);
  memmove(c, c + 1, (b->n_conns - i - 1) * sizeof *c);
  b->n_conns--;
  /* Its own requests can no longer be answered: forgotten. Those it was
   * serving stay until their deadline, when the caller gets TIMEOUT. */
  pending *p = b->oldest;
  while (p) {
    pending *next = p->newer;
    if (p->caller == conn)
      pending_unlink(b, p);
    p = next;
  }
  weft__mb_changed(b);
}

static void deregister(weft_mb_broker *b, conn_rec *c) {
  weft_mb_conn id = c->id;
  c->registered = false;
  drop_subs_of(b, id);
  weft__mb_changed(b);
  if (b->o.deregistered)
    b->o.deregistered(b->o.ud, id);
}

/* ---- routing ---- */

static void no_route(weft_mb_broker *b, conn_rec *c, const weft_mb_header *h,
                     int64_t now_ms) {
  char why[WEFT_MB_MAX_TOPIC + 40];
  snprintf(why, sizeof why, "No subscribers for topic %s", h->topic);
  weft__mb_reply_error(b, c->id, h, WEFT_MB_NO_ROUTE_FOUND, why, NULL, now_ms);
}

/* Sends a publish to every local subscriber of its topic under id; how
 * many got it. */
static size_t deliver(weft_mb_broker *b, const weft_mb_header *h,
                      const char *id, const char *payload, size_t len,
                      const char *parent) {
  char t[WEFT_MB_MAX_TOPIC + 1];
  canonical(t, h->topic);
  size_t n = 0;
  for (size_t i = 0; i < b->n_subs; i++) {
    const sub_rec *s = &b->subs[i];
    if (s->action == WEFT_MB_PUBLISH && strcmp(s->topic, t) == 0) {
      send_impl(b, s->conn, WEFT_MB_PUBLISH, h->topic, h->version, id, payload,
                len, true, parent);
      n++;
    }
  }
  return n;
}

/* The publish as other nodes' brokers take it: the copies' id, the
 * publisher's request id as parent. Malloc'd; NULL on failure. */
static char *remote_form(const weft_mb_header *h, const char *id,
                         const char *payload, size_t len, size_t *out_len) {
  weft_mb_header fh;
  weft_mb_header_init(&fh, WEFT_MB_PUBLISH, h->topic, h->version);
  snprintf(fh.request_id, sizeof fh.request_id, "%s", id);
  memcpy(fh.parent_request_id, h->request_id, sizeof fh.parent_request_id);
  char line[WEFT_MB_MAX_HEADER + 1];
  ssize_t hl = weft_mb_header_encode(&fh, line, sizeof line, NULL);
  char *msg = hl > 0 ? malloc((size_t)hl + 1 + len) : NULL;
  if (!msg)
    return NULL;
  memcpy(msg, line, (size_t)hl);
  msg[hl] = '\n';
  if (len)
    memcpy(msg + hl + 1, payload, len);
  *out_len = (size_t)hl + 1 + len;
  return msg;
}

static pending *pending_new(weft_mb_broker *b, conn_rec *c,
                            const weft_mb_header *h, int64_t now_ms);

static void handle_publish(weft_mb_broker *b, conn_rec *c,
                           const weft_mb_message *m, int64_t now_ms) {
  const weft_mb_header *h = &m->header;
  /* One new id for every copy (on every node); the sender's id, parent
   * and case of the action stay with the sender. */
  char id[WEFT_MB_UUID_LEN + 1];
  weft__mb_new_uuid(b, id);
  size_t n = deliver(b, h, id, m->payload, m->payload_len, h->request_id);
  if (!n && !b->o.remote_publish) {
    no_route(b, c, h, now_ms);
    return;
  }
  if (b->o.remote_publish) {
    size_t len = 0;
    char *msg = remote_form(h, id, m->payload, m->payload_len, &len);
    if (!msg && !n) {
      weft__mb_reply_error(b, c->id, h, WEFT_MB_INTERNAL_ERROR,
                           "An unexpected error while routing the message",
                           NULL, now_ms);
      return;
    }
    if (n) {
      if (msg)
        b->o.remote_publish(b->o.ud, NULL, msg, len, true);
    } else {
      /* Only another node can deliver it: its acknowledgement (or NATS
       * saying nobody listens) decides what the publisher hears. */
      pending *p = pending_new(b, c, h, now_ms);
      if (p && !b->o.remote_publish(b->o.ud, p->broker_id, msg, len, false)) {
        pending_unlink(b, p);
        no_route(b, c, h, now_ms);
      }
      free(msg);
      return;
    }
    free(msg);
  }
  if (h->request_id[0])
    weft__mb_reply(b, c->id, h, WEFT_MB_ACK_PAYLOAD,
                   strlen(WEFT_MB_ACK_PAYLOAD));
}

int weft_mb_broker_remote_publish(weft_mb_broker *b, const char *msg,
                                  size_t len, int64_t now_ms) {
  b->now_ms = now_ms;
  weft_mb_message m;
  weft_mb_code code = WEFT_MB_OK;
  if (weft_mb_decode(msg, len, WEFT_MB_NO_JSON_CHECK | WEFT_MB_NO_PAYLOAD_LIMIT,
                     &m, &code, NULL) < 0 ||
      m.header.action != WEFT_MB_PUBLISH || !m.header.request_id[0] ||
      strncmp(m.header.topic, "system.", 7) == 0)
    return WEFT_ERR_PROTOCOL;
  return (int)deliver(b, &m.header, m.header.request_id, m.payload,
                      m.payload_len, m.header.parent_request_id);
}

static int handle_request(weft_mb_broker *b, conn_rec *c,
                          const weft_mb_message *m, int64_t now_ms) {
  const weft_mb_header *h = &m->header;
  char t[WEFT_MB_MAX_TOPIC + 1];
  canonical(t, h->topic);
  /* Highest priority wins; ties are broken at random (reservoir sampling
   * over the best so far, so one pass suffices). */
  const sub_rec *best = NULL;
  uint64_t ties = 0;
  for (size_t i = 0; i < b->n_subs; i++) {
    const sub_rec *s = &b->subs[i];
    if (s->action != WEFT_MB_REQUEST || strcmp(s->topic, t) != 0)
      continue;
    if (!best || s->priority > best->priority) {
      best = s;
      ties = 1;
    } else if (s->priority == best->priority && next_rand(b) % ++ties == 0) {
      best = s;
    }
  }
  if (!best && !b->o.remote_request) {
    no_route(b, c, h, now_ms);
    return 0;
  }
  const conn_rec *target = best ? weft__mb_find_conn(b, best->conn) : NULL;
  pending *p = pending_new(b, c, h, now_ms);
  if (!p)
    return WEFT_ERR_NOMEM;
  if (target)
    memcpy(p->target_service, target->service_id, sizeof p->target_service);
  p->target = best ? best->conn : 0; /* 0: a remote node's */
  if (!best) {
    if (!b->o.remote_request(b->o.ud, c->id, p->broker_id, h, m->payload,
                             m->payload_len)) {
      pending_unlink(b, p);
      no_route(b, c, h, now_ms);
    }
    return 0;
  }
  /* Forwarded under the broker's id only: no parent, no timeout. */
  send_impl(b, p->target, WEFT_MB_REQUEST, h->topic, h->version, p->broker_id,
            m->payload, m->payload_len, true, h->request_id);
  return 0;
}

/* A pending entry for c's message h, answered to c (as h was addressed)
 * by the deadline at the latest; target 0 until set. NULL: out of memory,
 * and c was told. */
static pending *pending_new(weft_mb_broker *b, conn_rec *c,
                            const weft_mb_header *h, int64_t now_ms) {
  pending *p = calloc(1, sizeof *p);
  if (p) {
    p->topic = strdup(h->topic);
    p->version = strdup(h->version);
  }
  if (!p || !p->topic || !p->version) {
    if (p) {
      free(p->topic);
      free(p->version);
      free(p);
    }
    weft__mb_reply_error(b, c->id, h, WEFT_MB_INTERNAL_ERROR,
                         "An unexpected error while routing the message", NULL,
                         now_ms);
    return NULL;
  }
  if (b->n_pending >= b->o.max_pending)
    pending_fail(b, b->oldest, WEFT_MB_SERVICE_UNAVAILABLE,
                 "Message broker is busy", NULL, now_ms);
  do
    weft__mb_new_uuid(b, p->broker_id);
  while (pending_find(b, p->broker_id));
  memcpy(p->caller_id, h->request_id, sizeof p->caller_id);
  p->caller = c->id;
  p->deadline = now_ms + (int64_t)h->timeout_ms;
  p->older = b->newest;
  if (b->newest)
    b->newest->newer = p;
  else
    b->oldest = p;
  b->newest = p;
  unsigned k = hash_id(p->broker_id);
  p->hnext = b->buckets[k];
  b->buckets[k] = p;
  b->n_pending++;
  return p;
}

/* The service's answer to p (local, or a remote node's): to the caller,
 * and p is done. A fire-and-forget caller hears only of errors the service
 * marks with the "error:" payload prefix. */
static void answer(weft_mb_broker *b, pending *p, const char *payload,
                   size_t len) {
  bool forward =
      p->caller_id[0] || (len >= 6 && memcmp(payload, "error:", 6) == 0);
  if (forward) {
    weft_mb_header back;
    weft_mb_header_init(&back, WEFT_MB_RESPONSE, p->topic, p->version);
    memcpy(back.request_id, p->caller_id, sizeof back.request_id);
    char fresh[WEFT_MB_UUID_LEN + 1];
    if (!back.request_id[0]) {
      weft__mb_new_uuid(b, fresh);
      memcpy(back.request_id, fresh, sizeof back.request_id);
    }
    send_impl(b, p->caller, WEFT_MB_RESPONSE, back.topic, back.version,
              back.request_id, payload, len, true, NULL);
  }
  pending_unlink(b, p);
}

static void handle_response(weft_mb_broker *b, conn_rec *c,
                            const weft_mb_message *m, int64_t now_ms) {
  const weft_mb_header *h = &m->header;
  if (!h->request_id[0]) {
    weft__mb_reply_error(b, c->id, h, WEFT_MB_INVALID_REQUEST_ID,
                         "Received response message without requestId.", NULL,
                         now_ms);
    return;
  }
  pending *p = pending_find(b, h->request_id);
  /* Only the service the request went to may answer it. */
  if (!p || p->target != c->id) {
    char why[96];
    snprintf(why, sizeof why, "No matching request found for requestId: %s",
             h->request_id);
    weft__mb_reply_error(b, c->id, h, WEFT_MB_INVALID_REQUEST_ID, why, NULL,
                         now_ms);
    return;
  }
  answer(b, p, m->payload, m->payload_len);
}

int weft_mb_broker_remote_answer(weft_mb_broker *b, const char *broker_id,
                                 const char *payload, size_t len,
                                 int64_t now_ms) {
  b->now_ms = now_ms;
  pending *p = pending_find(b, broker_id);
  if (!p || p->target != 0)
    return WEFT_ERR_STATE;
  answer(b, p, payload, len);
  return 0;
}

int weft_mb_broker_remote_no_route(weft_mb_broker *b, const char *broker_id,
                                   int64_t now_ms) {
  b->now_ms = now_ms;
  pending *p = pending_find(b, broker_id);
  if (!p || p->target != 0)
    return WEFT_ERR_STATE;
  if (!p->caller_id[0]) { /* fire-and-forget: nobody to tell */
    pending_unlink(b, p);
    return 0;
  }
  char why[WEFT_MB_MAX_TOPIC + 40];
  snprintf(why, sizeof why, "No subscribers for topic %s", p->topic);
  pending_fail(b, p, WEFT_MB_NO_ROUTE_FOUND, why, NULL, now_ms);
  return 0;
}

int weft_mb_broker_receive(weft_mb_broker *b, weft_mb_conn conn,
                           const char *msg, size_t len, int64_t now_ms) {
  conn_rec *c = weft__mb_find_conn(b, conn);
  if (!c)
    return WEFT_ERR_STATE;
  b->now_ms = now_ms;
  /* Deregistered: the broker no longer talks to it (the transport closes
   * it). */
  if (!c->registered)
    return 0;
  weft_mb_message m;
  weft_mb_code code = WEFT_MB_OK;
  weft_error err = {0};
  /* The broker reads only the header here; payloads are forwarded as they
   * are, and read (and limited) only on system topics. */
  if (weft_mb_decode(msg, len, WEFT_MB_NO_JSON_CHECK | WEFT_MB_NO_PAYLOAD_LIMIT,
                     &m, &code, &err) < 0) {
    reply_malformed(b, conn, msg, len, now_ms);
    return 0;
  }
  reset_heartbeat(b, c, now_ms);
  if (audited(b))
    audit_received(b, c, &m, now_ms);
  if (strncmp(m.header.topic, "system.", 7) == 0) {
    weft__mb_system(b, c, &m, now_ms);
    return 0;
  }
  switch (m.header.action) {
  case WEFT_MB_PUBLISH:
    handle_publish(b, c, &m, now_ms);
    return 0;
  case WEFT_MB_REQUEST:
    return handle_request(b, c, &m, now_ms);
  default:
    handle_response(b, c, &m, now_ms);
    return 0;
  }
}

/* ---- time ---- */

static void consider(int64_t *next, int64_t due, int64_t now_ms) {
  int64_t in = due > now_ms ? due - now_ms : 0;
  if (*next < 0 || in < *next)
    *next = in;
}

int64_t weft_mb_broker_tick(weft_mb_broker *b, int64_t now_ms) {
  b->now_ms = now_ms;
  /* Timeouts: the list is in creation order, not deadline order (timeouts
   * differ per request), so walk it all. */
  pending *p = b->oldest;
  while (p) {
    pending *next = p->newer;
    if (p->deadline <= now_ms) {
      if (p->caller_id[0]) {
        char details[80];
        snprintf(details, sizeof details, "{\"targetServiceId\":\"%s\"}",
                 p->target_service);
        pending_fail(b, p, WEFT_MB_TIMEOUT, "Request timed out", details,
                     now_ms);
      } else {
        pending_unlink(b, p); /* fire-and-forget: nobody to tell */
      }
    }
    p = next;
  }
  for (size_t i = 0; i < b->n_conns; i++) {
    conn_rec *c = &b->conns[i];
    if (!c->registered)
      continue;
    if (now_ms >= c->dereg_due) {
      deregister(b, c);
      continue;
    }
    if (c->hb_due >= 0 && now_ms >= c->hb_due) {
      /* One heartbeat per silence, without an id, as the broker sends it. */
      c->hb_due = -1;
      weft__mb_send(b, c->id, WEFT_MB_REQUEST, WEFT_MB_TOPIC_HEARTBEAT,
                    WEFT_MB_SYSTEM_VERSION, NULL, "{}", 2);
    }
  }
  int64_t next = -1;
  for (p = b->oldest; p; p = p->newer)
    consider(&next, p->deadline, now_ms);
  for (size_t i = 0; i < b->n_conns; i++) {
    const conn_rec *c = &b->conns[i];
    if (!c->registered)
      continue;
    if (c->hb_due >= 0)
      consider(&next, c->hb_due, now_ms);
    consider(&next, c->dereg_due, now_ms);
  }
  return next;
}

size_t weft_mb_broker_pending(const weft_mb_broker *b) {
  return b->n_pending;
}

const char *weft_mb_broker_service_name(const weft_mb_broker *b,
                                        weft_mb_conn conn) {
  const conn_rec *c = weft__mb_find_conn(b, conn);
  return c && c->registered && c->name[0] ? c->name : NULL;
}

const char *weft_mb_broker_service_id(const weft_mb_broker *b,
                                      weft_mb_conn conn) {
  const conn_rec *c = weft__mb_find_conn(b, conn);
  return c ? c->service_id : NULL;
}
