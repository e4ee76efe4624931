/* The MB broker engine. See weft/mb_broker.h. Connections, subscriptions and
 * outstanding requests live in plain arrays and a hashed list: a stand-in
 * broker serves tens of services, and the 10,000-request cap bounds the
 * rest. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "weft/mb_broker.h"

#define DEFAULT_MAX_PENDING 10000
#define DEFAULT_HEARTBEAT_MS 30000
#define DEFAULT_SILENCE_MS 60000
#define NBUCKETS 4096u

typedef struct conn_rec {
  weft_mb_conn id;
  int64_t last_seen;
  int64_t next_heartbeat;
  bool deregistered;
  char *name;
  char *description;
} conn_rec;

typedef struct sub_rec {
  weft_mb_conn conn;
  weft_mb_action action;
  int32_t priority;
  char topic[WEFT_MB_MAX_TOPIC + 1];
} sub_rec;

typedef struct pending {
  char broker_id[WEFT_MB_UUID_LEN + 1];
  char caller_id[WEFT_MB_UUID_LEN + 1];
  weft_mb_conn caller;
  weft_mb_conn target;
  int64_t deadline;
  char *topic;
  char *version;
  struct pending *older, *newer; /* creation order */
  struct pending *hnext;         /* hash chain by broker_id */
} pending;

struct weft_mb_broker {
  weft_mb_broker_opts o;
  uint64_t rng;
  conn_rec *conns;
  size_t n_conns, cap_conns;
  sub_rec *subs;
  size_t n_subs, cap_subs;
  pending *oldest, *newest;
  size_t n_pending;
  pending *buckets[NBUCKETS];
};

/* ---- helpers ---- */

static uint64_t next_rand(weft_mb_broker *b) {
  /* splitmix64 */
  uint64_t z = (b->rng += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static void new_uuid(weft_mb_broker *b, char out[WEFT_MB_UUID_LEN + 1]) {
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
  return h & (NBUCKETS - 1);
}

static conn_rec *find_conn(const weft_mb_broker *b, weft_mb_conn id) {
  for (size_t i = 0; i < b->n_conns; i++)
    if (b->conns[i].id == id)
      return &b->conns[i];
  return NULL;
}

static void send_raw(weft_mb_broker *b, weft_mb_conn conn, const char *msg,
                     size_t len) {
  if (b->o.send)
    b->o.send(b->o.ud, conn, msg, len);
}

/* Sends header + payload; the header was built by the broker, so a failure
 * here is a bug or OOM, and the message is dropped. */
static void send_msg(weft_mb_broker *b, weft_mb_conn conn,
                     const weft_mb_header *h, const char *payload,
                     size_t payload_len) {
  char *out = NULL;
  size_t len = 0;
  if (weft_mb_encode(h, payload, payload_len, &out, &len, NULL) == 0)
    send_raw(b, conn, out, len);
  free(out);
}

static void send_error(weft_mb_broker *b, weft_mb_conn conn, const char *topic,
                       const char *version, const char *id, weft_mb_code code,
                       const char *message, int64_t now_ms) {
  if (!topic || !weft_mb_topic_valid(topic, strlen(topic)))
    topic = "system.error";
  if (!version || !weft_mb_semver_valid(version, strlen(version)))
    version = WEFT_MB_SYSTEM_VERSION;
  char *out = NULL;
  size_t len = 0;
  if (weft_mb_error_encode(topic, version, id, code, message, now_ms, NULL,
                           &out, &len, NULL) == 0)
    send_raw(b, conn, out, len);
  free(out);
}

static void send_ack(weft_mb_broker *b, weft_mb_conn conn,
                     const weft_mb_header *req) {
  if (!req->request_id[0])
    return;
  weft_mb_header h;
  weft_mb_header_init(&h, WEFT_MB_RESPONSE, req->topic, req->version);
  memcpy(h.request_id, req->request_id, sizeof h.request_id);
  send_msg(b, conn, &h, WEFT_MB_ACK_PAYLOAD, strlen(WEFT_MB_ACK_PAYLOAD));
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

/* Fails p back to its caller and forgets it. */
static void pending_fail(weft_mb_broker *b, pending *p, weft_mb_code code,
                         const char *why, int64_t now_ms) {
  send_error(b, p->caller, p->topic, p->version, p->caller_id, code, why,
             now_ms);
  pending_unlink(b, p);
}

/* ---- subscriptions ---- */

static void drop_subs_of(weft_mb_broker *b, weft_mb_conn conn) {
  size_t w = 0;
  for (size_t i = 0; i < b->n_subs; i++)
    if (b->subs[i].conn != conn)
      b->subs[w++] = b->subs[i];
  b->n_subs = w;
}

static int subscribe(weft_mb_broker *b, weft_mb_conn conn,
                     const weft_mb_subscription *s) {
  for (size_t i = 0; i < b->n_subs; i++) {
    sub_rec *r = &b->subs[i];
    if (r->conn == conn && r->action == s->action &&
        strcmp(r->topic, s->topic) == 0) {
      r->priority = s->priority; /* re-subscribing updates the priority */
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
  r->action = s->action;
  r->priority = s->priority;
  memcpy(r->topic, s->topic, sizeof r->topic);
  return 0;
}

static void unsubscribe(weft_mb_broker *b, weft_mb_conn conn,
                        const weft_mb_subscription *s) {
  size_t w = 0;
  for (size_t i = 0; i < b->n_subs; i++) {
    sub_rec *r = &b->subs[i];
    if (!(r->conn == conn && r->action == s->action &&
          strcmp(r->topic, s->topic) == 0))
      b->subs[w++] = *r;
  }
  b->n_subs = w;
}

size_t weft_mb_broker_subscribers(const weft_mb_broker *b, weft_mb_action a,
                                  const char *topic) {
  size_t n = 0;
  for (size_t i = 0; i < b->n_subs; i++)
    n += b->subs[i].action == a && strcmp(b->subs[i].topic, topic) == 0;
  return n;
}

/* ---- lifecycle ---- */

int weft_mb_broker_new(weft_mb_broker **out, const weft_mb_broker_opts *opts) {
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

int weft_mb_broker_connect(weft_mb_broker *b, weft_mb_conn conn,
                           int64_t now_ms) {
  if (conn == 0 || find_conn(b, conn))
    return WEFT_ERR_INVAL;
  if (b->n_conns == b->cap_conns) {
    size_t cap = b->cap_conns ? b->cap_conns * 2 : 8;
    conn_rec *n = realloc(b->conns, cap * sizeof *n);
    if (!n)
      return WEFT_ERR_NOMEM;
    b->conns = n;
    b->cap_conns = cap;
  }
  conn_rec *c = &b->conns[b->n_conns++];
  memset(c, 0, sizeof *c);
  c->id = conn;
  c->last_seen = now_ms;
  c->next_heartbeat = now_ms + b->o.heartbeat_interval_ms;
  weft_mb_header h;
  weft_mb_header_init(&h, WEFT_MB_PUBLISH, WEFT_MB_TOPIC_INITIALIZE,
                      WEFT_MB_SYSTEM_VERSION);
  send_msg(b, conn, &h, "{}", 2);
  return 0;
}

/* Requests that `conn` was serving fail; its own requests are forgotten. */
static void drop_pending_of(weft_mb_broker *b, weft_mb_conn conn,
                            int64_t now_ms) {
  pending *p = b->oldest;
  while (p) {
    pending *next = p->newer;
    if (p->caller == conn)
      pending_unlink(b, p);
    else if (p->target == conn)
      pending_fail(b, p, WEFT_MB_SERVICE_UNAVAILABLE,
                   "the service handling the request went away", now_ms);
    p = next;
  }
}

void weft_mb_broker_disconnect(weft_mb_broker *b, weft_mb_conn conn) {
  conn_rec *c = find_conn(b, conn);
  if (!c)
    return;
  drop_subs_of(b, conn);
  /* The caller's clock is unknown here; the error timestamp uses the
   * latest time the broker saw. */
  int64_t now = c->last_seen;
  for (size_t i = 0; i < b->n_conns; i++)
    if (b->conns[i].last_seen > now)
      now = b->conns[i].last_seen;
  conn_clear(c);
  *c = b->conns[--b->n_conns];
  drop_pending_of(b, conn, now);
}

static void deregister(weft_mb_broker *b, conn_rec *c, int64_t now_ms) {
  weft_mb_conn id = c->id;
  c->deregistered = true;
  free(c->name);
  free(c->description);
  c->name = c->description = NULL;
  drop_subs_of(b, id);
  drop_pending_of(b, id, now_ms);
  if (b->o.deregistered)
    b->o.deregistered(b->o.ud, id);
}

/* ---- receiving ---- */

static int handle_system(weft_mb_broker *b, conn_rec *c,
                         const weft_mb_message *m, int64_t now_ms) {
  const weft_mb_header *h = &m->header;
  weft_mb_code code = WEFT_MB_OK;
  weft_error err = {0};
  if (strcmp(h->topic, WEFT_MB_TOPIC_HEARTBEAT) == 0) {
    /* A response to the broker's heartbeat only refreshes last_seen (done
     * by the caller); a client asking the broker is answered. */
    if (h->action == WEFT_MB_REQUEST)
      send_ack(b, c->id, h);
    return 0;
  }
  if (h->action == WEFT_MB_RESPONSE)
    return 0;
  if (strcmp(h->topic, WEFT_MB_TOPIC_REGISTER) == 0) {
    weft_mb_register r;
    if (weft_mb_register_parse(m->payload, m->payload_len, &r, &code, &err) <
        0) {
      send_error(b, c->id, h->topic, h->version, h->request_id, code,
                 err.message, now_ms);
      return 0;
    }
    free(c->name);
    free(c->description);
    c->name = r.name;
    c->description = r.description;
    send_ack(b, c->id, h);
    return 0;
  }
  bool sub = strcmp(h->topic, WEFT_MB_TOPIC_SUBSCRIBE) == 0;
  if (sub || strcmp(h->topic, WEFT_MB_TOPIC_UNSUBSCRIBE) == 0) {
    weft_mb_subscription s;
    if (weft_mb_subscription_parse(m->payload, m->payload_len, &s, &code,
                                   &err) < 0) {
      send_error(b, c->id, h->topic, h->version, h->request_id, code,
                 err.message, now_ms);
      return 0;
    }
    if (sub) {
      int rv = subscribe(b, c->id, &s);
      if (rv < 0) {
        send_error(b, c->id, h->topic, h->version, h->request_id,
                   WEFT_MB_INTERNAL_ERROR, "out of memory", now_ms);
        return rv;
      }
    } else {
      unsubscribe(b, c->id, &s);
    }
    send_ack(b, c->id, h);
    return 0;
  }
  char why[WEFT_MB_MAX_TOPIC + 48];
  snprintf(why, sizeof why, "system topic %s is not supported", h->topic);
  send_error(b, c->id, h->topic, h->version, h->request_id,
             WEFT_MB_TOPIC_NOT_SUPPORTED, why, now_ms);
  return 0;
}

static void handle_publish(weft_mb_broker *b, conn_rec *c, const char *msg,
                           size_t len, const weft_mb_header *h) {
  for (size_t i = 0; i < b->n_subs; i++) {
    const sub_rec *s = &b->subs[i];
    if (s->action == WEFT_MB_PUBLISH && strcmp(s->topic, h->topic) == 0)
      send_raw(b, s->conn, msg, len);
  }
  send_ack(b, c->id, h);
}

static int handle_request(weft_mb_broker *b, conn_rec *c,
                          const weft_mb_message *m, int64_t now_ms) {
  const weft_mb_header *h = &m->header;
  /* Highest priority wins; ties are broken at random (reservoir sampling
   * over the best so far, so one pass suffices). */
  const sub_rec *best = NULL;
  uint64_t ties = 0;
  for (size_t i = 0; i < b->n_subs; i++) {
    const sub_rec *s = &b->subs[i];
    if (s->action != WEFT_MB_REQUEST || strcmp(s->topic, h->topic) != 0)
      continue;
    if (!best || s->priority > best->priority) {
      best = s;
      ties = 1;
    } else if (s->priority == best->priority && next_rand(b) % ++ties == 0) {
      best = s;
    }
  }
  if (!best) {
    char why[WEFT_MB_MAX_TOPIC + 40];
    snprintf(why, sizeof why, "no service handles %s", h->topic);
    send_error(b, c->id, h->topic, h->version, h->request_id,
               WEFT_MB_NO_ROUTE_FOUND, why, now_ms);
    return 0;
  }
  if (b->n_pending >= b->o.max_pending)
    pending_fail(b, b->oldest, WEFT_MB_SERVICE_UNAVAILABLE,
                 "too many outstanding requests", now_ms);
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
    send_error(b, c->id, h->topic, h->version, h->request_id,
               WEFT_MB_INTERNAL_ERROR, "out of memory", now_ms);
    return WEFT_ERR_NOMEM;
  }
  do
    new_uuid(b, p->broker_id);
  while (pending_find(b, p->broker_id));
  memcpy(p->caller_id, h->request_id, sizeof p->caller_id);
  p->caller = c->id;
  p->target = best->conn;
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

  weft_mb_header fwd = *h;
  memcpy(fwd.request_id, p->broker_id, sizeof fwd.request_id);
  send_msg(b, p->target, &fwd, m->payload, m->payload_len);
  return 0;
}

static void handle_response(weft_mb_broker *b, conn_rec *c,
                            const weft_mb_message *m) {
  const weft_mb_header *h = &m->header;
  pending *p = h->request_id[0] ? pending_find(b, h->request_id) : NULL;
  /* Only the service the request went to may answer it; anything else is
   * a stray (late, duplicate or forged) and is dropped. */
  if (!p || p->target != c->id)
    return;
  weft_mb_header back = *h;
  memcpy(back.request_id, p->caller_id, sizeof back.request_id);
  weft_mb_conn caller = p->caller;
  pending_unlink(b, p);
  send_msg(b, caller, &back, m->payload, m->payload_len);
}

int weft_mb_broker_receive(weft_mb_broker *b, weft_mb_conn conn,
                           const char *msg, size_t len, int64_t now_ms) {
  conn_rec *c = find_conn(b, conn);
  if (!c)
    return WEFT_ERR_STATE;
  c->last_seen = now_ms;
  if (c->deregistered) {
    /* It speaks again: treat it as alive (it must re-register). */
    c->deregistered = false;
    c->next_heartbeat = now_ms + b->o.heartbeat_interval_ms;
  }
  weft_mb_message m;
  weft_mb_code code = WEFT_MB_OK;
  weft_error err = {0};
  if (weft_mb_decode(msg, len, 0, &m, &code, &err) < 0) {
    /* Never answer a response with an error: that could ping-pong. */
    if (m.header.action != WEFT_MB_RESPONSE)
      send_error(b, conn, m.header.topic, m.header.version, m.header.request_id,
                 code, err.message, now_ms);
    return 0;
  }
  if (strncmp(m.header.topic, "system.", 7) == 0)
    return handle_system(b, c, &m, now_ms);
  switch (m.header.action) {
  case WEFT_MB_PUBLISH:
    handle_publish(b, c, msg, len, &m.header);
    return 0;
  case WEFT_MB_REQUEST:
    return handle_request(b, c, &m, now_ms);
  default:
    handle_response(b, c, &m);
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
  /* Timeouts: the list is in creation order, not deadline order (timeouts
   * differ per request), so walk it all. */
  pending *p = b->oldest;
  while (p) {
    pending *next = p->newer;
    if (p->deadline <= now_ms)
      pending_fail(b, p, WEFT_MB_TIMEOUT,
                   "no response within the request's timeout", now_ms);
    p = next;
  }
  for (size_t i = 0; i < b->n_conns; i++) {
    conn_rec *c = &b->conns[i];
    if (c->deregistered)
      continue;
    if (now_ms - c->last_seen >= b->o.silence_timeout_ms) {
      deregister(b, c, now_ms);
      continue;
    }
    if (now_ms >= c->next_heartbeat) {
      weft_mb_header h;
      weft_mb_header_init(&h, WEFT_MB_REQUEST, WEFT_MB_TOPIC_HEARTBEAT,
                          WEFT_MB_SYSTEM_VERSION);
      new_uuid(b, h.request_id);
      c->next_heartbeat = now_ms + b->o.heartbeat_interval_ms;
      send_msg(b, c->id, &h, "{}", 2);
    }
  }
  int64_t next = -1;
  for (p = b->oldest; p; p = p->newer)
    consider(&next, p->deadline, now_ms);
  for (size_t i = 0; i < b->n_conns; i++) {
    const conn_rec *c = &b->conns[i];
    if (c->deregistered)
      continue;
    consider(&next, c->next_heartbeat, now_ms);
    consider(&next, c->last_seen + b->o.silence_timeout_ms, now_ms);
  }
  return next;
}

size_t weft_mb_broker_pending(const weft_mb_broker *b) {
  return b->n_pending;
}

const char *weft_mb_broker_service_name(const weft_mb_broker *b,
                                        weft_mb_conn conn) {
  const conn_rec *c = find_conn(b, conn);
  return c ? c->name : NULL;
}
