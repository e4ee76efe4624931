/* An MB client over TCP (length-prefixed) or WebSocket (one text message
 * per MB message): blocking calls from any thread, one reader thread that
 * answers heartbeats, wakes callers waiting for their responses, and hands
 * requests and publishes to the user's callbacks. */
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "sock.h"
#include "weft/mb_net.h"
#include "ws_sync.h"
#include "weft/transport.h"

/* The broker forwards payloads as they came (no JSON check, no system-topic
 * limit) under headers it rewrote, which can be longer than the sender's:
 * a message from it can exceed the frame limit by up to one header. */
#define DECODE_FLAGS (WEFT_MB_NO_JSON_CHECK | WEFT_MB_NO_PAYLOAD_LIMIT)
#define MAX_FROM_BROKER (WEFT_MB_MAX_MESSAGE + WEFT_MB_MAX_HEADER)

typedef struct waiter {
  char id[WEFT_MB_UUID_LEN + 1];
  bool done;
  char *payload;
  size_t len;
  struct waiter *next;
} waiter;

struct weft_mb_client {
  weft_mb_client_opts o;
  weft__conn *io;    /* TCP */
  weft__ws_sync *ws; /* WebSocket: every use under wmu */
  int fd;
  pthread_t reader;
  bool reader_started;
  pthread_mutex_t wmu; /* writes */
  pthread_mutex_t mu;  /* the rest */
  pthread_cond_t cv;
  bool greeted;
  bool closed; /* the connection is gone */
  bool stopping;
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

/* Writes all of buf (the fd is non-blocking: wait for POLLOUT). */
static int write_all(weft_mb_client *c, const uint8_t *buf, size_t len) {
  while (len) {
    ssize_t n = weft__conn_write(c->io, buf, len);
    if (n == WEFT_ERR_AGAIN) {
      struct pollfd p = {c->fd, POLLOUT, 0};
      poll(&p, 1, 1000);
      continue;
    }
    if (n <= 0)
      return WEFT_ERR_IO;
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}

static int send_message(weft_mb_client *c, const weft_mb_header *h,
                        const char *json, weft_error *err) {
  char *msg = NULL;
  size_t len = 0;
  int rv = weft_mb_encode(h, json, json ? strlen(json) : 0, &msg, &len, err);
  if (rv < 0)
    return rv;
  pthread_mutex_lock(&c->wmu);
  if (c->ws) {
    rv = weft__ws_sync_send(c->ws, WEFT__WS_OP_TEXT, msg, len);
  } else {
    uint8_t prefix[4];
    weft_mb_frame_prefix(prefix, len);
    rv = write_all(c, prefix, 4);
    if (rv == 0)
      rv = write_all(c, (const uint8_t *)msg, len);
  }
  pthread_mutex_unlock(&c->wmu);
  free(msg);
  if (rv < 0)
    return weft_error_set(err, WEFT_ERR_CLOSED,
                          "MB client: the broker connection is gone");
  return 0;
}

/* ---- the reader thread ---- */

static void handle(weft_mb_client *c, const weft_mb_message *m) {
  const weft_mb_header *h = &m->header;
  if (h->action == WEFT_MB_PUBLISH &&
      strcmp(h->topic, WEFT_MB_TOPIC_INITIALIZE) == 0) {
    pthread_mutex_lock(&c->mu);
    c->greeted = true;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return;
  }
  if (h->action == WEFT_MB_REQUEST &&
      strcmp(h->topic, WEFT_MB_TOPIC_HEARTBEAT) == 0) {
    /* The broker sends it without an id and wants any message back within
     * its deregistration period; answered as the reference client does:
     * the same header as a response, and {}. */
    weft_mb_header r = *h;
    r.action = WEFT_MB_RESPONSE;
    r.has_timeout = false;
    r.parent_request_id[0] = '\0';
    send_message(c, &r, "{}", NULL);
    return;
  }
  if (h->action == WEFT_MB_RESPONSE) {
    pthread_mutex_lock(&c->mu);
    for (waiter *w = c->waiters; w; w = w->next)
      if (!w->done && strcmp(w->id, h->request_id) == 0) {
        w->payload = malloc(m->payload_len + 1);
        if (w->payload) {
          memcpy(w->payload, m->payload, m->payload_len);
          w->payload[m->payload_len] = '\0';
          w->len = m->payload_len;
        }
        w->done = true;
        pthread_cond_broadcast(&c->cv);
        break;
      }
    pthread_mutex_unlock(&c->mu);
    return;
  }
  if (h->action == WEFT_MB_REQUEST && c->o.on_request)
    c->o.on_request(c, m, c->o.ud);
  else if (h->action == WEFT_MB_PUBLISH && c->o.on_publish)
    c->o.on_publish(c, m, c->o.ud);
}

static bool stopping(weft_mb_client *c) {
  pthread_mutex_lock(&c->mu);
  bool stop = c->stopping;
  pthread_mutex_unlock(&c->mu);
  return stop;
}

/* WebSocket: the sync client is not thread-safe, so each receive holds wmu
 * briefly; poll() first so senders are not held while nothing arrives (and
 * skip it while the client may still have buffered messages). */
static void ws_reader(weft_mb_client *c) {
  bool more = true; /* the handshake may have brought messages along */
  while (!stopping(c)) {
    if (!more) {
      struct pollfd p = {c->fd, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0)
        continue;
    }
    int op = 0;
    const uint8_t *data;
    size_t len = 0;
    char *copy = NULL;
    pthread_mutex_lock(&c->wmu);
    int rv = weft__ws_sync_recv(c->ws, &op, &data, &len, 20);
    if (rv == 1 && (copy = malloc(len + 1)) != NULL)
      memcpy(copy, data, len);
    pthread_mutex_unlock(&c->wmu);
    if (rv == WEFT_ERR_TIMEOUT) {
      more = false;
      continue;
    }
    if (rv != 1)
      break;
    more = true;
    weft_mb_message m;
    if (copy && op == WEFT__WS_OP_TEXT &&
        weft_mb_decode(copy, len, DECODE_FLAGS, &m, NULL, NULL) == 0)
      handle(c, &m);
    free(copy);
  }
}

static void *reader_main(void *arg) {
  weft_mb_client *c = arg;
  if (c->ws) {
    ws_reader(c);
    pthread_mutex_lock(&c->mu);
    c->closed = true;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return NULL;
  }
  weft_mb_deframer df;
  weft_mb_deframer_init(&df, MAX_FROM_BROKER);
  uint8_t buf[16384];
  for (;;) {
    pthread_mutex_lock(&c->mu);
    bool stop = c->stopping;
    pthread_mutex_unlock(&c->mu);
    if (stop)
      break;
    struct pollfd p = {c->fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0)
      continue;
    ssize_t n = weft__conn_read(c->io, buf, sizeof buf);
    if (n == WEFT_ERR_AGAIN)
      continue;
    if (n <= 0)
      break;
    size_t off = 0;
    bool bad = false;
    while (off < (size_t)n && !bad) {
      const uint8_t *msg;
      size_t len;
      ssize_t used = weft_mb_deframer_feed(&df, buf + off, (size_t)n - off,
                                           &msg, &len, NULL);
      if (used < 0) {
        bad = true;
        break;
      }
      off += (size_t)used;
      weft_mb_message m;
      if (msg && weft_mb_decode((const char *)msg, len, DECODE_FLAGS, &m, NULL,
                                NULL) == 0)
        handle(c, &m);
    }
    if (bad)
      break;
  }
  weft_mb_deframer_free(&df);
  pthread_mutex_lock(&c->mu);
  c->closed = true;
  pthread_cond_broadcast(&c->cv);
  pthread_mutex_unlock(&c->mu);
  return NULL;
}

/* ---- requests and acknowledgements ---- */

/* Sends h (which must carry a request id) and waits for the response. */
static int exchange(weft_mb_client *c, const weft_mb_header *h,
                    const char *json, int64_t timeout_ms, char **payload,
                    size_t *len, weft_error *err) {
  waiter w = {0};
  memcpy(w.id, h->request_id, sizeof w.id);
  pthread_mutex_lock(&c->mu);
  w.next = c->waiters;
  c->waiters = &w;
  pthread_mutex_unlock(&c->mu);
  int rv = send_message(c, h, json, err);
  pthread_mutex_lock(&c->mu);
  if (rv == 0) {
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
      dl.tv_sec++;
      dl.tv_nsec -= 1000000000L;
    }
    while (!w.done && !c->closed)
      if (pthread_cond_timedwait(&c->cv, &c->mu, &dl) != 0)
        break;
    if (!w.done)
      rv = c->closed ? weft_error_set(err, WEFT_ERR_CLOSED,
                                      "MB client: connection lost waiting "
                                      "for %s",
                                      h->topic)
                     : weft_error_set(err, WEFT_ERR_TIMEOUT,
                                      "MB client: no response to %s within "
                                      "%lld ms",
                                      h->topic, (long long)timeout_ms);
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

int weft_mb_client_open(weft_mb_client **out, const char *url,
                        const weft_mb_client_opts *opts, weft_error *err) {
  weft_url u;
  int rv = weft_url_parse(url, &u, err);
  if (rv < 0)
    return rv;
  bool ws = strcmp(u.scheme, "ws") == 0 || strcmp(u.scheme, "mb+ws") == 0;
  if (strcmp(u.scheme, "mb") != 0 && strcmp(u.scheme, "tcp") != 0 &&
      strcmp(u.scheme, "mb+tcp") != 0 && !ws)
    return weft_error_set(err, WEFT_ERR_UNKNOWN_SCHEME,
                          "MB client: %s: use mb:// or mb+tcp:// (TCP), "
                          "mb+ws:// or ws:// (WebSocket)",
                          url);
  if (u.port <= 0)
    return weft_error_set(err, WEFT_ERR_BAD_URL, "MB client: %s: no port", url);
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
  if (c->o.timeout_ms <= 0)
    c->o.timeout_ms = 10000;
  pthread_mutex_init(&c->wmu, NULL);
  pthread_mutex_init(&c->mu, NULL);
  pthread_cond_init(&c->cv, NULL);
  if (ws) {
    char target[sizeof u.path + sizeof u.query + 2];
    snprintf(target, sizeof target, "%s%s%s", u.path[0] ? u.path : "/",
             u.query[0] ? "?" : "", u.query);
    weft__ws_sync_opts wo = {0};
    wo.target = target;
    wo.timeout_ms = c->o.timeout_ms;
    rv = weft__ws_sync_connect(&c->ws, u.host, u.port, &wo, err);
    if (rv == 0)
      c->fd = weft__ws_sync_fd(c->ws);
  } else {
    rv = weft__conn_connect(&c->io, u.host, u.port, NULL, NULL, c->o.timeout_ms,
                            err);
    if (rv == 0)
      c->fd = weft__conn_fd(c->io);
  }
  if (rv < 0) {
    free(reg);
    weft_mb_client_close(c);
    return rv;
  }
  if (pthread_create(&c->reader, NULL, reader_main, c) != 0) {
    free(reg);
    weft_mb_client_close(c);
    return weft_error_set(err, WEFT_ERR_NOMEM, "MB client: no thread");
  }
  c->reader_started = true;
  /* The broker speaks first. */
  pthread_mutex_lock(&c->mu);
  int64_t until = now_ms() + c->o.timeout_ms;
  while (!c->greeted && !c->closed && now_ms() < until) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 50 * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&c->cv, &c->mu, &ts);
  }
  bool greeted = c->greeted;
  pthread_mutex_unlock(&c->mu);
  if (!greeted) {
    free(reg);
    weft_mb_client_close(c);
    return weft_error_set(err, WEFT_ERR_HANDSHAKE,
                          "MB client: %s sent no system.initialize greeting",
                          url);
  }
  if (reg) {
    rv = acked(c, WEFT_MB_TOPIC_REGISTER, reg, err);
    free(reg);
    if (rv < 0) {
      weft_mb_client_close(c);
      return rv;
    }
  }
  *out = c;
  return 0;
}

void weft_mb_client_close(weft_mb_client *c) {
  if (!c)
    return;
  if (c->reader_started) {
    pthread_mutex_lock(&c->mu);
    c->stopping = true;
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->reader, NULL);
  }
  if (c->ws) {
    weft__ws_sync_close(c->ws, 1000, "bye", 1000);
    weft__ws_sync_free(c->ws);
  }
  weft__conn_close(c->io);
  pthread_cond_destroy(&c->cv);
  pthread_mutex_destroy(&c->mu);
  pthread_mutex_destroy(&c->wmu);
  free(c);
}

static int sub(weft_mb_client *c, weft_mb_action action, const char *topic,
               int32_t priority, bool unsubscribe, weft_error *err) {
  weft_mb_subscription s = {0};
  s.action = action;
  snprintf(s.topic, sizeof s.topic, "%s", topic);
  s.priority = priority;
  char *json = NULL;
  int rv = weft_mb_subscription_encode(&s, unsubscribe, &json, NULL, err);
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
  weft_mb_header h;
  weft_mb_header_init(&h, WEFT_MB_PUBLISH, topic, version);
  return send_message(c, &h, json, err);
}

int weft_mb_client_publish_wait(weft_mb_client *c, const char *topic,
                                const char *version, const char *json,
                                weft_mb_error_info *mb_error, weft_error *err) {
  weft_mb_header h;
  weft_mb_header_init(&h, WEFT_MB_PUBLISH, topic, version);
  new_id(h.request_id);
  char *resp = NULL;
  size_t len = 0;
  int rv = exchange(c, &h, json, c->o.timeout_ms, &resp, &len, err);
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
  int rv =
      exchange(c, &h, json, (int64_t)h.timeout_ms + 1000, &resp, &len, err);
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
