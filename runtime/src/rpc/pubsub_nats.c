/* Pub/sub across nodes: the NATS side of weft.v1.PubSub
 * (weft_server_opts.nats_url; docs/CLUSTER.md).
 *
 * This file knows NATS and nothing of protobuf: pubsub_server.c hands it
 * encoded bytes and gets bytes back. A node keeps one NATS subscription per
 * topic that has a local subscriber (counted here), so a node only receives
 * the topics its clients asked for. Messages arrive on libnats's delivery
 * thread (one shared thread, UseGlobalMessageDelivery, so a thousand topics
 * are not a thousand threads); per subscription libnats keeps the order the
 * NATS server sent, which is the order a publisher published in.
 *
 * Reconnects are libnats's own: endless, with an exponential backoff
 * (custom reconnect delay, 50 ms doubling to 2 s, plus jitter), and
 * libnats re-sends every SUB on the new connection. While the connection
 * is down, publish and subscribe answer WEFT_ERR_CONNECT (the handlers turn
 * that into UNAVAILABLE) instead of letting libnats buffer publishes for a
 * server that may never come back. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc_internal.h"

/* Subject of a topic: "weft.ps." + the topic as ONE subject token. Bytes in
 * [A-Za-z0-9_-] stay, every other byte (the '.' that separates NATS
 * tokens, '*', '>', whitespace, '%' itself, non-ASCII) becomes %HH in upper
 * case hex. The map is injective and never yields an empty token, so any
 * topic string is safe, and no topic can subscribe to another's subject
 * through a wildcard. Returns the subject's length, or WEFT_ERR_TOO_BIG if
 * cap is short (cap >= 8 + 3 * strlen(topic) + 1 always suffices). */
ssize_t weft__ps_subject(const char *topic, char *out, size_t cap) {
  static const char hex[] = "0123456789ABCDEF";
  static const char prefix[] = WEFT__PS_SUBJECT_PREFIX;
  size_t n = sizeof prefix - 1;
  if (cap <= n)
    return WEFT_ERR_TOO_BIG;
  memcpy(out, prefix, n);
  for (const unsigned char *p = (const unsigned char *)topic; *p; p++) {
    unsigned char c = *p;
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (n + (plain ? 1 : 3) >= cap)
      return WEFT_ERR_TOO_BIG;
    if (plain) {
      out[n++] = (char)c;
    } else {
      out[n++] = '%';
      out[n++] = hex[c >> 4];
      out[n++] = hex[c & 15];
    }
  }
  out[n] = '\0';
  return (ssize_t)n;
}

#ifdef WEFT_HAVE_NATS
#include <nats/nats.h>

/* A topic some local subscriber needs: its NATS subscription, shared. */
typedef struct watch {
  char *topic;
  natsSubscription *sub;
  unsigned refs;
  struct watch *next;
} watch;

struct weft__psnats {
  const weft_server *s; /* for its log only */
  natsConnection *nc;
  weft__psnats_msg_fn on_msg;
  void *ud;
  char url[256];
  pthread_mutex_t mu; /* watches, live */
  pthread_cond_t cv;
  watch *watches;
  unsigned live;             /* subscriptions whose handler may still run */
  atomic_uint_least64_t rnd; /* reconnect jitter */
};

static void on_nats_msg(natsConnection *nc, natsSubscription *sub, natsMsg *m,
                        void *closure) {
  (void)nc, (void)sub;
  weft__psnats *n = closure;
  /* Runs on libnats's delivery thread: on_msg only queues the event on
   * each local subscriber's call (never blocks on a client). */
  n->on_msg(n->ud, (const uint8_t *)natsMsg_GetData(m),
            (size_t)natsMsg_GetDataLength(m));
  natsMsg_Destroy(m);
}

/* After the subscription is closed and its handler has returned for the
 * last time: only then may close() free what the handler uses. */
static void on_sub_complete(void *closure) {
  weft__psnats *n = closure;
  pthread_mutex_lock(&n->mu);
  n->live--;
  pthread_cond_broadcast(&n->cv);
  pthread_mutex_unlock(&n->mu);
}

static int64_t reconnect_delay(natsConnection *nc, int attempts,
                               void *closure) {
  (void)nc;
  weft__psnats *n = closure;
  int64_t ms = 50;
  for (int i = 1; i < attempts && ms < 2000; i++)
    ms *= 2;
  if (ms > 2000)
    ms = 2000;
  /* xorshift jitter up to 20 %: nodes that lost the same server do not
   * come back in lockstep. */
  uint64_t x = atomic_load(&n->rnd);
  x ^= x << 13, x ^= x >> 7, x ^= x << 17;
  atomic_store(&n->rnd, x);
  return ms + (int64_t)(x % (uint64_t)(ms / 5 + 1));
}

static void on_disconnected(natsConnection *nc, void *closure) {
  (void)nc;
  weft__psnats *n = closure;
  weft__server_log(n->s, 2,
                   "nats %s: connection lost; reconnecting (publish and "
                   "subscribe answer UNAVAILABLE meanwhile)",
                   n->url);
}

static void on_reconnected(natsConnection *nc, void *closure) {
  (void)nc;
  weft__psnats *n = closure;
  weft__server_log(n->s, 1, "nats %s: reconnected, subscriptions restored",
                   n->url);
}

static int nats_err(weft_error *err, const char *url, const char *what,
                    natsStatus st) {
  /* libnats's last error repeats the status text, after a source
   * position: the status alone says it. */
  return weft_error_set(err, WEFT_ERR_CONNECT, "nats %s: %s: %s", url, what,
                        natsStatus_GetText(st));
}

int weft__psnats_open(weft__psnats **out, const weft_server *s, const char *url,
                      const char *node_id, weft__psnats_msg_fn on_msg, void *ud,
                      weft_error *err) {
  *out = NULL;
  if (strlen(url) >= sizeof((weft__psnats *)0)->url)
    return weft_error_set(err, WEFT_ERR_INVAL, "nats URL too long: %.64s...",
                          url);
  weft__psnats *n = calloc(1, sizeof *n);
  if (!n)
    return weft_error_set(err, WEFT_ERR_NOMEM, "nats: out of memory");
  n->s = s;
  n->on_msg = on_msg;
  n->ud = ud;
  snprintf(n->url, sizeof n->url, "%s", url);
  atomic_init(&n->rnd, (uint64_t)(uintptr_t)n | 1);
  pthread_mutex_init(&n->mu, NULL);
  weft__cond_init(&n->cv);
  char name[128];
  snprintf(name, sizeof name, "weft-%s",
           node_id && *node_id ? node_id : "node");
  natsOptions *o = NULL;
  natsStatus st = natsOptions_Create(&o);
  if (st == NATS_OK)
    st = natsOptions_SetURL(o, url);
  if (st == NATS_OK)
    st = natsOptions_SetName(o, name);
  if (st == NATS_OK)
    st = natsOptions_SetTimeout(o, 2000); /* the first connect */
  if (st == NATS_OK)
    st = natsOptions_SetMaxReconnect(o, -1);
  if (st == NATS_OK)
    st = natsOptions_SetCustomReconnectDelay(o, reconnect_delay, n);
  if (st == NATS_OK)
    st = natsOptions_SetDisconnectedCB(o, on_disconnected, n);
  if (st == NATS_OK)
    st = natsOptions_SetReconnectedCB(o, on_reconnected, n);
  if (st == NATS_OK)
    st = natsOptions_UseGlobalMessageDelivery(o, true);
  if (st != NATS_OK) {
    natsOptions_Destroy(o);
    nats_err(err, url, "bad options", st);
    goto fail;
  }
  st = natsConnection_Connect(&n->nc, o);
  natsOptions_Destroy(o);
  if (st != NATS_OK) {
    nats_err(err, url, "cannot connect", st);
    goto fail;
  }
  *out = n;
  return 0;
fail:
  pthread_cond_destroy(&n->cv);
  pthread_mutex_destroy(&n->mu);
  free(n);
  return err ? err->code : WEFT_ERR_CONNECT;
}

bool weft__psnats_connected(weft__psnats *n) {
  return natsConnection_Status(n->nc) == NATS_CONN_STATUS_CONNECTED;
}

int weft__psnats_publish(weft__psnats *n, const char *topic,
                         const uint8_t *data, size_t len) {
  if (!weft__psnats_connected(n))
    return WEFT_ERR_CONNECT;
  size_t cap = sizeof WEFT__PS_SUBJECT_PREFIX + 3 * strlen(topic) + 1;
  char *subj = malloc(cap);
  if (!subj)
    return WEFT_ERR_NOMEM;
  weft__ps_subject(topic, subj, cap);
  natsStatus st = natsConnection_Publish(n->nc, subj, data, (int)len);
  free(subj);
  /* Answer only once the NATS server has the event (a PING/PONG after it
   * on the same connection): a client whose successive publishes a
   * balancer sends to different nodes then has them ordered as it made
   * them, and an acknowledged publish is not lost in our socket buffer
   * if the NATS server goes away. A failed flush is ambiguous (the event
   * may still be delivered); the caller hears UNAVAILABLE. */
  if (st == NATS_OK)
    st = natsConnection_FlushTimeout(n->nc, 2000);
  if (st == NATS_OK)
    return 0;
  if (st == NATS_MAX_PAYLOAD)
    return WEFT_ERR_TOO_BIG;
  if (st == NATS_NO_MEMORY)
    return WEFT_ERR_NOMEM;
  return WEFT_ERR_CONNECT;
}

int weft__psnats_watch(weft__psnats *n, const char *topic) {
  if (!weft__psnats_connected(n))
    return WEFT_ERR_CONNECT;
  pthread_mutex_lock(&n->mu);
  watch *w = n->watches;
  while (w && strcmp(w->topic, topic))
    w = w->next;
  int rv = 0;
  if (!w) {
    size_t cap = sizeof WEFT__PS_SUBJECT_PREFIX + 3 * strlen(topic) + 1;
    char *subj = malloc(cap);
    w = calloc(1, sizeof *w);
    size_t tl = strlen(topic) + 1;
    if (w)
      w->topic = malloc(tl);
    if (!subj || !w || !w->topic) {
      free(subj);
      if (w)
        free(w->topic);
      free(w);
      pthread_mutex_unlock(&n->mu);
      return WEFT_ERR_NOMEM;
    }
    memcpy(w->topic, topic, tl);
    weft__ps_subject(topic, subj, cap);
    natsStatus st =
        natsConnection_Subscribe(&w->sub, n->nc, subj, on_nats_msg, n);
    free(subj);
    if (st == NATS_OK) {
      st = natsSubscription_SetOnCompleteCB(w->sub, on_sub_complete, n);
      if (st == NATS_OK)
        n->live++;
      else
        natsSubscription_Destroy(w->sub);
    }
    if (st != NATS_OK) {
      free(w->topic);
      free(w);
      pthread_mutex_unlock(&n->mu);
      return st == NATS_NO_MEMORY ? WEFT_ERR_NOMEM : WEFT_ERR_CONNECT;
    }
    /* A topic is a stream of events a client may not lose by being slow
     * for a moment: no message-count limit, 64 MiB per topic. */
    natsSubscription_SetPendingLimits(w->sub, -1, 64 << 20);
    w->next = n->watches;
    n->watches = w;
  }
  w->refs++;
  pthread_mutex_unlock(&n->mu);
  /* One round trip: once the server answered our PING, it has our SUB, so
   * every publish the client makes after its acknowledgement (on any
   * node) reaches us. A second subscriber of a known topic flushes too:
   * the first one's SUB may still be in flight. */
  natsStatus st = natsConnection_FlushTimeout(n->nc, 2000);
  if (st != NATS_OK) {
    weft__psnats_unwatch(n, topic);
    rv = WEFT_ERR_CONNECT;
  }
  return rv;
}

void weft__psnats_unwatch(weft__psnats *n, const char *topic) {
  pthread_mutex_lock(&n->mu);
  watch **pw = &n->watches;
  while (*pw && strcmp((*pw)->topic, topic))
    pw = &(*pw)->next;
  watch *w = *pw;
  if (w && --w->refs == 0) {
    *pw = w->next;
  } else {
    w = NULL;
  }
  pthread_mutex_unlock(&n->mu);
  if (w) {
    /* Safe from the delivery thread too (libnats holds a reference while
     * a handler runs); messages still queued for the subscription are
     * dropped: nobody here wants them any more. */
    natsSubscription_Unsubscribe(w->sub);
    natsSubscription_Destroy(w->sub);
    free(w->topic);
    free(w);
  }
}

void weft__psnats_close(weft__psnats *n) {
  if (!n)
    return;
  for (watch *w = n->watches, *nx; w; w = nx) {
    nx = w->next;
    natsSubscription_Unsubscribe(w->sub);
    natsSubscription_Destroy(w->sub);
    free(w->topic);
    free(w);
  }
  n->watches = NULL;
  /* A handler may still be running (or about to run once more) on the
   * delivery thread: wait for every subscription's completion callback
   * before freeing what the handlers use. */
  pthread_mutex_lock(&n->mu);
  while (n->live)
    pthread_cond_wait(&n->cv, &n->mu);
  pthread_mutex_unlock(&n->mu);
  natsConnection_Close(n->nc);
  natsConnection_Destroy(n->nc);
  pthread_cond_destroy(&n->cv);
  pthread_mutex_destroy(&n->mu);
  free(n);
}

#else /* !WEFT_HAVE_NATS */

int weft__psnats_open(weft__psnats **out, const weft_server *s, const char *url,
                      const char *node_id, weft__psnats_msg_fn on_msg, void *ud,
                      weft_error *err) {
  (void)s, (void)node_id, (void)on_msg, (void)ud;
  *out = NULL;
  return weft_error_set(err, WEFT_ERR_UNSUPPORTED,
                        "nats %s: this weft was built without libnats "
                        "(install libnats-dev and reconfigure)",
                        url);
}
bool weft__psnats_connected(weft__psnats *n) {
  (void)n;
  return false;
}
int weft__psnats_publish(weft__psnats *n, const char *topic,
                         const uint8_t *data, size_t len) {
  (void)n, (void)topic, (void)data, (void)len;
  return WEFT_ERR_UNSUPPORTED;
}
int weft__psnats_watch(weft__psnats *n, const char *topic) {
  (void)n, (void)topic;
  return WEFT_ERR_UNSUPPORTED;
}
void weft__psnats_unwatch(weft__psnats *n, const char *topic) {
  (void)n, (void)topic;
}
void weft__psnats_close(weft__psnats *n) {
  (void)n;
}
#endif
