/* An MB client over TCP (length-prefixed) or WebSocket (one text message
 * per MB message), plain or TLS. The connection is a link on the
 * process-wide client loop (mb_link_tcp.c, mb_link_ws.c), so a client
 * costs a socket and memory, not a thread. On the loop the client answers
 * heartbeats, wakes callers waiting for their responses (each waits on the
 * client's condition variable) and hands requests and publishes to the
 * user's callbacks. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "mb_client_int.h"
#include "weft/mb_net.h"
#include "weft/transport.h"

typedef struct waiter {
  char id[WEFT_MB_UUID_LEN + 1];
  bool done;
  char *payload;
  size_t len;
  struct waiter *next;
} waiter;

struct weft_mb_client {
  weft_mb_client_opts o;
  char where[300]; /* "host:port" */
  weft__mb_link *link;
  pthread_mutex_t mu;
  /* under mu */
  pthread_cond_t cv;
  bool greeted;
  bool closed;     /* the connection is gone */
  int closed_code; /* WEFT_ERR_* */
  char why[700];   /* how it ended */
  waiter *waiters;
};

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void new_id(char out[WEFT_MB_UUID_LEN + 1]) {
  uint8_t r[16];
  if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
    /* No entropy source: time and address still make ids unique enough
     * for correlation within one connection. */
    uint64_t t = (uint64_t)now_ms() ^ (uint64_t)(uintptr_t)out;
    memcpy(r, &t, 8);
    memcpy(r + 8, &t, 8);
  }
  weft_mb_uuid_format(r, out);
}

/* The error of a call on a connection that has ended (mu held). */
static int gone_error(weft_mb_client *c, const char *what, weft_error *err) {
  return weft_error_set(err, c->closed_code ? c->closed_code : WEFT_ERR_CLOSED,
                        "MB client: %s: %s", what,
                        c->why[0] ? c->why : "the connection is closed");
}

static int send_message(weft_mb_client *c, const weft_mb_header *h,
                        const char *json, weft_error *err) {
  char *msg = NULL;
  size_t len = 0;
  int rv = weft_mb_encode(h, json, json ? strlen(json) : 0, &msg, &len, err);
  if (rv < 0)
    return rv;
  /* Given up (the broker sent what no broker sends) before the link has
   * dropped the socket: nothing more goes out. */
  pthread_mutex_lock(&c->mu);
  bool closed = c->closed;
  pthread_mutex_unlock(&c->mu);
  rv = closed ? WEFT_ERR_CLOSED : weft__mb_link_send(c->link, msg, len);
  free(msg);
  if (rv == WEFT_ERR_NOMEM)
    return weft_error_set(err, rv, "MB client: out of memory");
  if (rv < 0) {
    pthread_mutex_lock(&c->mu);
    rv = gone_error(c, h->topic, err);
    pthread_mutex_unlock(&c->mu);
  }
  return rv;
}

/* ---- on the client loop: what the link delivers ---- */

static bool link_message(void *ud, const char *msg, size_t len) {
  weft_mb_client *c = ud;
  weft_mb_message m;
  weft__mbc_kind kind;
  weft_error e;
  weft_error_clear(&e);
  if (weft__mbc_classify(msg, len, &m, &kind, &e) < 0) {
    /* Not an MB message: the peer is not a broker, or the stream is
     * corrupt. Waiting callers learn why; the link is given up. */
    pthread_mutex_lock(&c->mu);
    bool report = !c->closed;
    if (report) {
      c->closed = true;
      c->closed_code = WEFT_ERR_PROTOCOL;
      snprintf(c->why, sizeof c->why, "the MB broker at %s sent %s", c->where,
               e.message);
      pthread_cond_broadcast(&c->cv);
    }
    pthread_mutex_unlock(&c->mu);
    return false;
  }
  const weft_mb_header *h = &m.header;
  switch (kind) {
  case WEFT__MBC_GREETING:
    pthread_mutex_lock(&c->mu);
    c->greeted = true;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return true;
  case WEFT__MBC_HEARTBEAT: {
    /* The broker sends it without an id and wants any message back within
     * its deregistration period. */
    weft_mb_header r;
    weft__mbc_heartbeat_answer(h, &r);
    send_message(c, &r, "{}", NULL);
    return true;
  }
  case WEFT__MBC_RESPONSE:
    pthread_mutex_lock(&c->mu);
    for (waiter *w = c->waiters; w; w = w->next)
      if (!w->done && strcmp(w->id, h->request_id) == 0) {
        w->payload = malloc(m.payload_len + 1);
        if (w->payload) {
          memcpy(w->payload, m.payload, m.payload_len);
          w->payload[m.payload_len] = '\0';
          w->len = m.payload_len;
        }
        w->done = true;
        pthread_cond_broadcast(&c->cv);
        break;
      }
    pthread_mutex_unlock(&c->mu);
    return true;
  case WEFT__MBC_REQUEST:
    if (c->o.on_request)
      c->o.on_request(c, &m, c->o.ud);
    return true;
  case WEFT__MBC_PUBLISH:
    if (c->o.on_publish)
      c->o.on_publish(c, &m, c->o.ud);
    return true;
  }
  return true;
}

static void link_closed(void *ud, int code, const char *why) {
  weft_mb_client *c = ud;
  pthread_mutex_lock(&c->mu);
  if (!c->closed) {
    c->closed = true;
    c->closed_code = code;
    snprintf(c->why, sizeof c->why, "%s", why);
  }
  pthread_cond_broadcast(&c->cv);
  pthread_mutex_unlock(&c->mu);
}

static const weft__mb_link_cbs link_cbs = {link_message, link_closed};

/* A blocking call from a callback would wait on the loop that delivers its
 * answer, and stall every other client of the process meanwhile. */
static int refuse_on_loop(weft_mb_client *c, const char *what,
                          weft_error *err) {
  if (!weft_loop_in_thread(c->link->loop))
    return 0;
  return weft_error_set(err, WEFT_ERR_STATE,
                        "MB client: %s waits for the broker and cannot be "
                        "called from a handler (it runs on the loop that "
                        "delivers the answer)",
                        what);
}

/* ---- requests and acknowledgements ---- */

/* An absolute CLOCK_MONOTONIC time (the clock of the client's cv). */
static struct timespec deadline_in(int64_t ms) {
  struct timespec dl;
  clock_gettime(CLOCK_MONOTONIC, &dl);
  dl.tv_sec += ms / 1000;
  dl.tv_nsec += (ms % 1000) * 1000000L;
  if (dl.tv_nsec >= 1000000000L) {
    dl.tv_sec++;
    dl.tv_nsec -= 1000000000L;
  }
  return dl;
}

/* Sends h (which must carry a request id) and waits for the response. */
static int exchange(weft_mb_client *c, const weft_mb_header *h,
                    const char *json, int64_t timeout_ms, char **payload,
                    size_t *len, weft_error *err) {
  int rv = refuse_on_loop(c, h->topic, err);
  if (rv < 0)
    return rv;
  waiter w = {0};
  memcpy(w.id, h->request_id, sizeof w.id);
  pthread_mutex_lock(&c->mu);
  w.next = c->waiters;
  c->waiters = &w;
  pthread_mutex_unlock(&c->mu);
  rv = send_message(c, h, json, err);
  pthread_mutex_lock(&c->mu);
  if (rv == 0) {
    struct timespec dl = deadline_in(timeout_ms);
    while (!w.done && !c->closed)
      if (pthread_cond_timedwait(&c->cv, &c->mu, &dl) != 0)
        break;
    if (!w.done) {
      char what[WEFT_MB_MAX_TOPIC + 40];
      snprintf(what, sizeof what, "waiting for the answer to %s", h->topic);
      rv = c->closed
               ? gone_error(c, what, err)
               : weft_error_set(err, WEFT_ERR_TIMEOUT,
                                "MB client: no response to %s from %s "
                                "within %lld ms",
                                h->topic, c->where, (long long)timeout_ms);
    }
  }
  for (waiter **pp = &c->waiters; *pp; pp = &(*pp)->next)
    if (*pp == &w) {
      *pp = w.next;
      break;
    }
  pthread_mutex_unlock(&c->mu);
  if (rv == 0 && !w.payload)
    rv = weft_error_set(err, WEFT_ERR_NOMEM, "MB client: out of memory");
  if (rv < 0) {
    free(w.payload);
    return rv;
  }
  *payload = w.payload;
  *len = w.len;
  return 0;
}

/* An exchange whose answer must be {"status":"success"} (system topics). */
static int acked(weft_mb_client *c, const char *topic, const char *json,
                 weft_error *err) {
  weft_mb_header h;
  weft_mb_header_init(&h, WEFT_MB_REQUEST, topic, WEFT_MB_SYSTEM_VERSION);
  new_id(h.request_id);
  char *resp = NULL;
  size_t len = 0;
  int rv = exchange(c, &h, json, c->o.timeout_ms, &resp, &len, err);
  if (rv < 0)
    return rv;
  weft_mb_error_info e;
  if (weft_mb_error_parse(resp, len, &e, NULL) == 1) {
    rv = weft_error_set(err, WEFT_ERR_RPC, "MB %s refused: %s: %s", topic,
                        e.code_name, e.message ? e.message : "");
    weft_mb_error_info_clear(&e);
  } else if (strstr(resp, "\"status\":\"failure\"")) {
    /* e.g. unsubscribing from a topic not subscribed */
    rv = weft_error_set(err, WEFT_ERR_RPC,
                        "MB %s: the broker answered failure (%s)", topic,
                        json ? json : "");
  }
  free(resp);
  return rv;
}

/* ---- public ---- */

static int parse_url(const char *url, weft_url *u, bool *ws, bool *tls,
                     weft_error *err) {
  int rv = weft_url_parse(url, u, err);
  if (rv < 0)
    return rv;
  static const struct {
    const char *scheme;
    bool ws, tls;
  } schemes[] = {{"mb", false, false},    {"mb+tcp", false, false},
                 {"tcp", false, false},   {"mbs", false, true},
                 {"mb+tls", false, true}, {"tls", false, true},
                 {"mb+ws", true, false},  {"ws", true, false},
                 {"mb+wss", true, true},  {"wss", true, true}};
  for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
    if (strcmp(u->scheme, schemes[i].scheme) == 0) {
      *ws = schemes[i].ws;
      *tls = schemes[i].tls;
      if (u->port <= 0)
        return weft_error_set(err, WEFT_ERR_BAD_URL, "MB client: %s: no port",
                              url);
      return 0;
    }
  return weft_error_set(err, WEFT_ERR_UNKNOWN_SCHEME,
                        "MB client: %s: use mb:// or mb+tcp:// (TCP), mbs:// "
                        "or mb+tls:// (TCP over TLS), mb+ws:// or ws:// "
                        "(WebSocket), mb+wss:// or wss:// (WebSocket over TLS)",
                        url);
}

/* Waits for the broker's greeting, which it sends first. */
static int await_greeting(weft_mb_client *c, const char *url, weft_error *err) {
  pthread_mutex_lock(&c->mu);
  struct timespec dl = deadline_in(c->o.timeout_ms);
  while (!c->greeted && !c->closed)
    if (pthread_cond_timedwait(&c->cv, &c->mu, &dl) != 0)
      break;
  int rv = 0;
  if (c->greeted)
    rv = 0;
  else if (c->closed)
    rv = gone_error(c, "waiting for the greeting", err);
  else
    rv = weft_error_set(err, WEFT_ERR_HANDSHAKE,
                        "MB client: %s sent no system.initialize greeting "
                        "within %lld ms",
                        url, (long long)c->o.timeout_ms);
  pthread_mutex_unlock(&c->mu);
  return rv;
}

int weft_mb_client_open(weft_mb_client **out, const char *url,
                        const weft_mb_client_opts *opts, weft_error *err) {
  weft_url u;
  bool ws = false, tls = false;
  int rv = parse_url(url, &u, &ws, &tls, err);
  if (rv < 0)
    return rv;
  /* From a client callback: the greeting would have to arrive on the loop
   * this thread is blocking. */
  weft_loop *cur = weft_loop_current(), *cl = NULL;
  if (cur && weft_client_loop_acquire(&cl, NULL) == 0) {
    bool same = cl == cur;
    weft_client_loop_release(cl);
    if (same)
      return weft_error_set(err, WEFT_ERR_STATE,
                            "MB client: %s: cannot be opened from a client "
                            "callback (it runs on the loop that would "
                            "deliver the greeting)",
                            url);
  }
  char headers[600] = "";
  if (opts && opts->api_key) {
    /* MB has no credentials of its own; a weft broker's WebSocket route
     * takes the server's API key at the upgrade, as every ws:// endpoint
     * of weft does. MB over TCP has nowhere to carry one. */
    if (!ws)
      return weft_error_set(err, WEFT_ERR_UNSUPPORTED,
                            "MB client: %s: MB over TCP carries no API key "
                            "(the MB protocol has no credentials); use "
                            "mb+wss:// for a key, or a TLS client "
                            "certificate (tls.cert_file) with mbs://",
                            url);
    size_t n = strlen(opts->api_key);
    if (n == 0 || n > 512 || strpbrk(opts->api_key, "\r\n"))
      return weft_error_set(err, WEFT_ERR_INVAL,
                            "MB client: api_key must be 1..512 characters "
                            "without CR or LF");
    snprintf(headers, sizeof headers, "X-Api-Key: %s\r\n", opts->api_key);
  }
  /* The registration is checked against the broker's limits before any
   * connection is made. */
  char *reg = NULL;
  if (opts && opts->name) {
    rv =
        weft_mb_register_encode(opts->name, opts->description, &reg, NULL, err);
    if (rv < 0)
      return rv;
  }
  weft_mb_client *c = calloc(1, sizeof *c);
  if (!c) {
    free(reg);
    return weft_error_set(err, WEFT_ERR_NOMEM, "MB client: out of memory");
  }
  if (opts)
    c->o = *opts;
  c->o.api_key = NULL; /* used during the call only */
  if (c->o.timeout_ms <= 0)
    c->o.timeout_ms = 10000;
  snprintf(c->where, sizeof c->where, strchr(u.host, ':') ? "[%s]:%d" : "%s:%d",
           u.host, u.port);
  pthread_mutex_init(&c->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&c->cv, &ca);
  pthread_condattr_destroy(&ca);
  char target[sizeof u.path + sizeof u.query + 2];
  snprintf(target, sizeof target, "%s%s%s", u.path[0] ? u.path : "/",
           u.query[0] ? "?" : "", u.query);
  weft__mb_link_args la = {.host = u.host,
                           .port = u.port,
                           .where = c->where,
                           .tls = tls,
                           .tls_opts = &c->o.tls,
                           .target = target,
                           .extra_headers = headers[0] ? headers : NULL,
                           .timeout_ms = c->o.timeout_ms,
                           .cb = &link_cbs,
                           .ud = c};
  rv = ws ? weft__mb_link_ws_open(&c->link, &la, err)
          : weft__mb_link_tcp_open(&c->link, &la, err);
  if (rv == 0)
    rv = await_greeting(c, url, err);
  if (rv == 0 && reg)
    rv = acked(c, WEFT_MB_TOPIC_REGISTER, reg, err);
  free(reg);
  if (rv < 0) {
    weft_mb_client_close(c);
    return rv;
  }
  *out = c;
  return 0;
}

static void free_client(weft_mb_client *c) {
  pthread_cond_destroy(&c->cv);
  pthread_mutex_destroy(&c->mu);
  free(c);
}

static void free_post(void *ud) {
  free_client(ud);
}

void weft_mb_client_close(weft_mb_client *c) {
  if (!c)
    return;
  weft_loop *loop = c->link ? c->link->loop : NULL;
  weft__mb_link_close(c->link); /* no callback runs after this */
  /* From a handler the client's callback frames are still on the loop's
   * stack: the memory goes after they returned. (A release on the loop
   * thread never stops it, so the loop is still there to post to.) */
  if (weft_loop_in_thread(loop) && weft_loop_post(loop, free_post, c) == 0)
    return;
  free_client(c);
}

/* A topic too long for the header would be cut by weft_mb_header_init,
 * and the cut one is still a valid topic: another one. */
static int topic_fits(const char *topic, weft_error *err) {
  size_t n = topic ? strlen(topic) : 0;
  if (n > WEFT_MB_MAX_TOPIC)
    return weft_error_set(err, WEFT_ERR_TOO_BIG,
                          "MB topic of %zu bytes is over the limit of %d", n,
                          WEFT_MB_MAX_TOPIC);
  return 0;
}

static int sub(weft_mb_client *c, weft_mb_action action, const char *topic,
               int32_t priority, bool unsubscribe, weft_error *err) {
  int rv = topic_fits(topic, err);
  if (rv < 0)
    return rv;
  weft_mb_subscription s = {0};
  s.action = action;
  snprintf(s.topic, sizeof s.topic, "%s", topic);
  s.priority = priority;
  char *json = NULL;
  rv = weft_mb_subscription_encode(&s, unsubscribe, &json, NULL, err);
  if (rv == 0)
    rv = acked(
        c, unsubscribe ? WEFT_MB_TOPIC_UNSUBSCRIBE : WEFT_MB_TOPIC_SUBSCRIBE,
        json, err);
  free(json);
  return rv;
}

int weft_mb_client_subscribe(weft_mb_client *c, weft_mb_action action,
                             const char *topic, int32_t priority,
                             weft_error *err) {
  return sub(c, action, topic, priority, false, err);
}

int weft_mb_client_unsubscribe(weft_mb_client *c, weft_mb_action action,
                               const char *topic, weft_error *err) {
  return sub(c, action, topic, 0, true, err);
}

int weft_mb_client_publish(weft_mb_client *c, const char *topic,
                           const char *version, const char *json,
                           weft_error *err) {
  int rv = topic_fits(topic, err);
  if (rv < 0)
    return rv;
  weft_mb_header h;
  weft_mb_header_init(&h, WEFT_MB_PUBLISH, topic, version);
  return send_message(c, &h, json, err);
}

int weft_mb_client_publish_wait(weft_mb_client *c, const char *topic,
                                const char *version, const char *json,
                                weft_mb_error_info *mb_error, weft_error *err) {
  int rv = topic_fits(topic, err);
  if (rv < 0)
    return rv;
  weft_mb_header h;
  weft_mb_header_init(&h, WEFT_MB_PUBLISH, topic, version);
  new_id(h.request_id);
  char *resp = NULL;
  size_t len = 0;
  rv = exchange(c, &h, json, c->o.timeout_ms, &resp, &len, err);
  if (rv < 0)
    return rv;
  weft_mb_error_info e;
  if (weft_mb_error_parse(resp, len, &e, NULL) == 1) {
    rv = weft_error_set(err, WEFT_ERR_RPC, "MB publish to %s: %s: %s", topic,
                        e.code_name, e.message ? e.message : "");
    if (mb_error)
      *mb_error = e;
    else
      weft_mb_error_info_clear(&e);
  }
  free(resp);
  return rv;
}

int weft_mb_client_request(weft_mb_client *c, const char *topic,
                           const char *version, const char *json,
                           uint32_t timeout_ms, char **response,
                           weft_mb_error_info *mb_error, weft_error *err) {
  int rv = topic_fits(topic, err);
  if (rv < 0)
    return rv;
  weft_mb_header h;
  weft_mb_header_init(&h, WEFT_MB_REQUEST, topic, version);
  new_id(h.request_id);
  if (timeout_ms) {
    h.has_timeout = true;
    h.timeout_ms = timeout_ms;
  }
  char *resp = NULL;
  size_t len = 0;
  /* Wait a little longer than the broker, so its TIMEOUT error arrives. */
  rv = exchange(c, &h, json, (int64_t)h.timeout_ms + 1000, &resp, &len, err);
  if (rv < 0)
    return rv;
  weft_mb_error_info e;
  if (weft_mb_error_parse(resp, len, &e, NULL) == 1) {
    rv = weft_error_set(err, WEFT_ERR_RPC, "MB %s: %s: %s", topic, e.code_name,
                        e.message ? e.message : "");
    if (mb_error)
      *mb_error = e;
    else
      weft_mb_error_info_clear(&e);
  }
  *response = resp;
  return rv;
}

int weft_mb_client_respond(weft_mb_client *c, const weft_mb_header *request,
                           const char *json, weft_error *err) {
  weft_mb_header h = *request;
  h.action = WEFT_MB_RESPONSE;
  h.has_timeout = false;
  h.parent_request_id[0] = '\0';
  return send_message(c, &h, json, err);
}
