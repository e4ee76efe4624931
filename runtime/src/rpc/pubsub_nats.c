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
 * [A-Za-z0-9-] stay; '_' becomes "__"; every other byte (the '.' that
 * separates NATS tokens, '*', '>', whitespace, '%', non-ASCII) becomes '_'
 * and two upper-case hex digits. The map is injective (after '_' comes
 * either '_' or a hex digit) and never yields an empty token, so any topic
 * string is safe and no topic can reach another's subject through a
 * wildcard. The same token names a durable topic's JetStream stream
 * ("WEFT_" + token): '%' would do for a subject, but nats-server 2.9 builds
 * a stream's ack subjects with a format string and mangles a '%' in its
 * name. Returns the subject's length, or WEFT_ERR_TOO_BIG if cap is short
 * (cap >= 8 + 3 * strlen(topic) + 1 always suffices). */
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
                 (c >= '0' && c <= '9') || c == '-';
    size_t need = plain ? 1 : c == '_' ? 2 : 3;
    if (n + need >= cap)
      return WEFT_ERR_TOO_BIG;
    if (plain) {
      out[n++] = (char)c;
    } else if (c == '_') {
      out[n++] = '_';
      out[n++] = '_';
    } else {
      out[n++] = '_';
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
  unsigned live;                /* subscriptions whose handler may still run */
  atomic_uint_least64_t rnd;    /* reconnect jitter */
  jsCtx *js;                    /* JetStream, for durable topics */
  struct stream_known *streams; /* durable topics whose stream exists (mu) */
};

struct stream_known {
  char *topic;
  struct stream_known *next;
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
  weft__psnats *n = closure;
  if (natsConnection_IsClosed(nc))
    return; /* our own close, at shutdown */
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
                      const char *node_id, bool need_js,
                      weft__psnats_msg_fn on_msg, void *ud, weft_error *err) {
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
  st = natsConnection_JetStream(&n->js, n->nc, NULL);
  if (st == NATS_OK && need_js) {
    /* Durable topics are JetStream streams: say so now rather than at
     * the first durable publish. */
    jsAccountInfo *ai = NULL;
    jsErrCode jerr = 0;
    st = js_GetAccountInfo(&ai, n->js, NULL, &jerr);
    jsAccountInfo_Destroy(ai);
    if (st != NATS_OK) {
      weft_error_set(err, WEFT_ERR_UNSUPPORTED,
                     "nats %s: durable topics need JetStream, which this "
                     "NATS server does not offer (%s; start it with -js)",
                     url, natsStatus_GetText(st));
      goto fail_conn;
    }
  }
  if (st != NATS_OK) {
    nats_err(err, url, "no JetStream context", st);
    goto fail_conn;
  }
  *out = n;
  return 0;
fail_conn:
  jsCtx_Destroy(n->js);
  natsConnection_Destroy(n->nc);
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
  for (struct stream_known *k = n->streams, *nx; k; k = nx) {
    nx = k->next;
    free(k->topic);
    free(k);
  }
  jsCtx_Destroy(n->js);
  natsConnection_Destroy(n->nc);
  pthread_cond_destroy(&n->cv);
  pthread_mutex_destroy(&n->mu);
  free(n);
}

/* ---- durable topics: one JetStream stream per topic ---- */

/* "WEFT_" + the topic's subject token: names are free of the '.', '*',
 * '>' and whitespace stream names refuse, and a file store may use them
 * as directory names (hence the length bound). */
static int stream_name(const char *topic, char *out, size_t cap) {
  char subj[256];
  ssize_t n = weft__ps_subject(topic, subj, sizeof subj);
  size_t pl = sizeof WEFT__PS_SUBJECT_PREFIX - 1;
  if (n < 0 || (size_t)n - pl + 6 > cap || (size_t)n - pl > 200)
    return WEFT_ERR_TOO_BIG;
  snprintf(out, cap, "WEFT_%s", subj + pl);
  return 0;
}

static int js_status(natsStatus st) {
  if (st == NATS_NO_MEMORY)
    return WEFT_ERR_NOMEM;
  return WEFT_ERR_CONNECT;
}

/* Makes sure topic's stream exists (once per topic and process; a
 * stream deleted behind our back is made again on the next failure). */
static int ensure_stream(weft__psnats *n, const char *topic, char *name,
                         size_t cap) {
  int rv = stream_name(topic, name, cap);
  if (rv < 0)
    return rv;
  pthread_mutex_lock(&n->mu);
  struct stream_known *k = n->streams;
  while (k && strcmp(k->topic, topic))
    k = k->next;
  pthread_mutex_unlock(&n->mu);
  if (k)
    return 0;
  char subj[256];
  weft__ps_subject(topic, subj, sizeof subj);
  const char *subjects[1] = {subj};
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = name;
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_FileStorage;
  cfg.MaxAge = (int64_t)24 * 3600 * 1000000000; /* a day of history */
  jsStreamInfo *si = NULL;
  jsErrCode jerr = 0;
  natsStatus st = js_AddStream(&si, n->js, &cfg, NULL, &jerr);
  jsStreamInfo_Destroy(si);
  if (st != NATS_OK && jerr != JSStreamNameExistErr)
    return js_status(st);
  k = calloc(1, sizeof *k);
  size_t tl = strlen(topic) + 1;
  if (k && (k->topic = malloc(tl))) {
    memcpy(k->topic, topic, tl);
    pthread_mutex_lock(&n->mu);
    k->next = n->streams;
    n->streams = k;
    pthread_mutex_unlock(&n->mu);
  } else {
    free(k);
  }
  return 0;
}

static void forget_stream(weft__psnats *n, const char *topic) {
  pthread_mutex_lock(&n->mu);
  for (struct stream_known **pk = &n->streams; *pk; pk = &(*pk)->next) {
    if (!strcmp((*pk)->topic, topic)) {
      struct stream_known *k = *pk;
      *pk = k->next;
      free(k->topic);
      free(k);
      break;
    }
  }
  pthread_mutex_unlock(&n->mu);
}

int weft__psnats_js_publish(weft__psnats *n, const char *topic,
                            const uint8_t *data, size_t len, uint64_t *seq) {
  if (!weft__psnats_connected(n))
    return WEFT_ERR_CONNECT;
  char name[256], subj[256];
  if (weft__ps_subject(topic, subj, sizeof subj) < 0)
    return WEFT_ERR_TOO_BIG;
  for (int attempt = 0;; attempt++) {
    int rv = ensure_stream(n, topic, name, sizeof name);
    if (rv < 0)
      return rv;
    /* Returns once the stream has stored it (the PubAck): an answered
     * publish survives any node and the NATS server's restart. */
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.ExpectStream = name;
    jsPubAck *pa = NULL;
    jsErrCode jerr = 0;
    natsStatus st = js_Publish(&pa, n->js, subj, data, (int)len, &po, &jerr);
    if (st == NATS_OK) {
      *seq = pa->Sequence;
      jsPubAck_Destroy(pa);
      return 0;
    }
    if (st == NATS_MAX_PAYLOAD)
      return WEFT_ERR_TOO_BIG;
    if (st == NATS_NO_RESPONDERS && attempt == 0) {
      forget_stream(n, topic); /* deleted since: make it again, once */
      continue;
    }
    weft__server_log(n->s, 2, "nats %s: JetStream publish to %s: %s (%d)",
                     n->url, name, natsStatus_GetText(st), (int)jerr);
    return js_status(st);
  }
}

int weft__psnats_js_position(weft__psnats *n, const char *topic,
                             uint64_t *first, uint64_t *last) {
  if (!weft__psnats_connected(n))
    return WEFT_ERR_CONNECT;
  char name[256];
  int rv = ensure_stream(n, topic, name, sizeof name);
  if (rv < 0)
    return rv;
  jsStreamInfo *si = NULL;
  jsErrCode jerr = 0;
  natsStatus st = js_GetStreamInfo(&si, n->js, name, NULL, &jerr);
  if (st != NATS_OK) {
    forget_stream(n, topic);
    return js_status(st);
  }
  *first = si->State.FirstSeq;
  *last = si->State.LastSeq;
  jsStreamInfo_Destroy(si);
  return 0;
}

struct weft__psfollow {
  weft__psnats *n;
  natsSubscription *sub;
  weft__psfollow_fn fn;
  void (*done)(void *ud);
  void *ud;
};

static void on_follow_msg(natsConnection *nc, natsSubscription *sub, natsMsg *m,
                          void *closure) {
  (void)nc, (void)sub;
  weft__psfollow *f = closure;
  jsMsgMetaData *meta = NULL;
  if (natsMsg_GetMetaData(&meta, m) == NATS_OK) {
    f->fn(f->ud, meta->Sequence.Stream, (const uint8_t *)natsMsg_GetData(m),
          (size_t)natsMsg_GetDataLength(m));
    jsMsgMetaData_Destroy(meta);
  }
  natsMsg_Destroy(m);
}

static void on_follow_complete(void *closure) {
  weft__psfollow *f = closure;
  weft__psnats *n = f->n;
  f->done(f->ud);
  free(f);
  on_sub_complete(n);
}

int weft__psnats_js_follow(weft__psnats *n, const char *topic, uint64_t start,
                           weft__psfollow_fn fn, void (*done)(void *ud),
                           void *ud, weft__psfollow **out) {
  *out = NULL;
  if (!weft__psnats_connected(n))
    return WEFT_ERR_CONNECT;
  char name[256], subj[256];
  int rv = ensure_stream(n, topic, name, sizeof name);
  if (rv < 0)
    return rv;
  weft__ps_subject(topic, subj, sizeof subj);
  weft__psfollow *f = calloc(1, sizeof *f);
  if (!f)
    return WEFT_ERR_NOMEM;
  f->n = n;
  f->fn = fn;
  f->done = done;
  f->ud = ud;
  /* An ordered consumer per subscriber: no acks, flow-controlled, and
   * libnats makes it again from the next sequence if it sees a gap, so
   * the subscriber gets every stored event from `start` on, once, in
   * order. */
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = name;
  so.Ordered = true;
  so.Config.DeliverPolicy = js_DeliverByStartSequence;
  so.Config.OptStartSeq = start;
  so.Config.InactiveThreshold = (int64_t)5 * 1000000000;
  jsErrCode jerr = 0;
  natsStatus st =
      js_Subscribe(&f->sub, n->js, subj, on_follow_msg, f, NULL, &so, &jerr);
  if (st == NATS_OK) {
    pthread_mutex_lock(&n->mu);
    st = natsSubscription_SetOnCompleteCB(f->sub, on_follow_complete, f);
    if (st == NATS_OK)
      n->live++;
    pthread_mutex_unlock(&n->mu);
    if (st != NATS_OK)
      natsSubscription_Destroy(f->sub);
  }
  if (st != NATS_OK) {
    free(f);
    return js_status(st);
  }
  *out = f;
  return 0;
}

void weft__psnats_js_unfollow(weft__psfollow *f) {
  if (!f)
    return;
  /* Destroy alone (libnats >= 3.4) ends the subscription without asking
   * the server to delete the consumer, a JetStream API request that would
   * wait out its timeout on this thread (maybe libnats's delivery thread)
   * while NATS is down; the server drops the ephemeral consumer by itself
   * once nobody is listening (InactiveThreshold). done(ud) and the free
   * follow from the completion callback, after the handler's last run. */
  natsSubscription_Destroy(f->sub);
}

#else /* !WEFT_HAVE_NATS */

int weft__psnats_open(weft__psnats **out, const weft_server *s, const char *url,
                      const char *node_id, bool need_js,
                      weft__psnats_msg_fn on_msg, void *ud, weft_error *err) {
  (void)s, (void)node_id, (void)need_js, (void)on_msg, (void)ud;
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
int weft__psnats_js_publish(weft__psnats *n, const char *topic,
                            const uint8_t *data, size_t len, uint64_t *seq) {
  (void)n, (void)topic, (void)data, (void)len, (void)seq;
  return WEFT_ERR_UNSUPPORTED;
}
int weft__psnats_js_position(weft__psnats *n, const char *topic,
                             uint64_t *first, uint64_t *last) {
  (void)n, (void)topic, (void)first, (void)last;
  return WEFT_ERR_UNSUPPORTED;
}
int weft__psnats_js_follow(weft__psnats *n, const char *topic, uint64_t start,
                           weft__psfollow_fn fn, void (*done)(void *ud),
                           void *ud, weft__psfollow **out) {
  (void)n, (void)topic, (void)start, (void)fn, (void)done, (void)ud;
  *out = NULL;
  return WEFT_ERR_UNSUPPORTED;
}
void weft__psnats_js_unfollow(weft__psfollow *f) {
  (void)f;
}
#endif
