/* The built-in weft.v1.PubSub service, added to every server.
 *
 * Subscribe is a server stream that does not hold a worker: the handler
 * registers the subscriber and returns WEFT__STATUS_DETACHED. A publish
 * queues the event on every subscriber of the topic and, if that
 * subscriber has no sender running, submits a drain job to the server's
 * worker pool; so a subscriber whose transport send blocks stalls only its
 * own drain job. One housekeeping thread per server ends subscriptions
 * (cancelled by the client, cut off, shutdown) and retries drain jobs the
 * pool had no room for. The first message of every subscription is an
 * acknowledgement (an Event with sequence 0 and no message), so a client
 * knows when publishes start reaching it.
 *
 * Slow subscribers: each has a queue of at most MAX_QUEUED events; a
 * publish that finds it full ends that subscription with
 * RESOURCE_EXHAUSTED (the weft client re-subscribes after a backoff) rather
 * than dropping events silently or letting memory grow. */
#ifdef WEFT_HAVE_PROTO
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server_call.h"
#include "weft/codec.h"
#include "weft/v1/pubsub.weft.h"

#define MAX_QUEUED 1024
#define POLL_MS 50 /* how often idle subscribers are checked for cancel */
#define TYPE_URL_PREFIX "type.googleapis.com/"

/* One published event, shared by every subscriber queue it sits in. */
typedef struct event {
  int refs; /* under ps->mu */
  weft__v1__Event ev;
  google__protobuf__Any any;
} event;

typedef struct qnode {
  struct qnode *next;
  event *e;
} qnode;

typedef struct sub {
  weft_server_call *call;
  char *topic;
  qnode *head, *tail;
  size_t queued;
  bool sending; /* a drain job owns the send side */
  int end_code; /* != -1: end the subscription with this status */
  const char *end_msg;
  struct sub *next;
} sub;

typedef struct topic_seq {
  char *topic;
  uint64_t seq;
  struct topic_seq *next;
} topic_seq;

struct weft__pubsub {
  weft_server *s;
  weft__pool *pool;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  sub *subs;
  topic_seq *seqs;
  bool stopping; /* shutdown: no new subscribers */
  bool quit;     /* free: the delivery thread exits */
  pthread_t thread;
};

static char *dupstr(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d)
    memcpy(d, s, n);
  return d;
}

static void event_unref(event *e) {
  if (--e->refs > 0)
    return;
  free(e->ev.topic);
  free(e->any.type_url);
  free(e->any.value.data);
  free(e);
}

/* ps->mu held. */
static uint64_t next_seq(weft__pubsub *ps, const char *topic) {
  for (topic_seq *t = ps->seqs; t; t = t->next)
    if (strcmp(t->topic, topic) == 0)
      return ++t->seq;
  topic_seq *t = calloc(1, sizeof *t);
  if (!t || !(t->topic = dupstr(topic))) {
    free(t);
    return 0;
  }
  t->seq = 1;
  t->next = ps->seqs;
  ps->seqs = t;
  return 1;
}

static void drain(void *arg);

typedef struct drain_job {
  weft__pubsub *ps;
  sub *s;
} drain_job;

/* ps->mu held: makes sure a drain job runs for s if it has events. When the
 * pool is full the housekeeping thread tries again later. */
static void kick(weft__pubsub *ps, sub *s) {
  if (s->sending || !s->head || s->end_code != -1)
    return;
  drain_job *j = malloc(sizeof *j);
  if (!j)
    return;
  j->ps = ps;
  j->s = s;
  s->sending = true;
  if (weft__pool_submit(ps->pool, drain, j) < 0) {
    s->sending = false;
    free(j);
  }
}

/* Takes ownership of type_url and value. */
static int deliver(weft__pubsub *ps, const char *topic, char *type_url,
                   uint8_t *value, size_t len, unsigned *delivered) {
  event *e = calloc(1, sizeof *e);
  char *t = dupstr(topic);
  if (!e || !t) {
    free(e);
    free(t);
    free(type_url);
    free(value);
    return WEFT_ERR_NOMEM;
  }
  weft__v1__Event_init(&e->ev);
  google__protobuf__Any_init(&e->any);
  e->ev.topic = t;
  e->any.type_url = type_url;
  e->any.value.data = value;
  e->any.value.len = len;
  e->ev.message = &e->any;
  e->refs = 1; /* ours, until the loop is done */
  unsigned n = 0;
  int rv = 0;
  pthread_mutex_lock(&ps->mu);
  e->ev.sequence = next_seq(ps, topic);
  for (sub *s = ps->subs; s; s = s->next) {
    if (s->end_code != -1 || strcmp(s->topic, topic) != 0)
      continue;
    if (s->queued >= MAX_QUEUED) {
      s->end_code = WEFT_STATUS_RESOURCE_EXHAUSTED;
      s->end_msg = "subscriber too slow: event queue full";
      continue;
    }
    qnode *q = malloc(sizeof *q);
    if (!q) {
      rv = WEFT_ERR_NOMEM;
      continue;
    }
    q->next = NULL;
    q->e = e;
    e->refs++;
    if (s->tail)
      s->tail->next = q;
    else
      s->head = q;
    s->tail = q;
    s->queued++;
    n++;
    kick(ps, s);
  }
  event_unref(e);
  pthread_cond_signal(&ps->cv);
  pthread_mutex_unlock(&ps->mu);
  if (delivered)
    *delivered = n;
  return rv;
}

int weft__pubsub_publish(weft__pubsub *ps, const char *topic, const void *msg,
                         unsigned *delivered) {
  const weft_msg_desc *d = weft_msg_desc_of_msg(msg);
  uint8_t *buf = NULL;
  size_t len = 0;
  int rv = weft_encode_alloc(msg, &buf, &len);
  if (rv < 0)
    return rv;
  size_t ul = strlen(TYPE_URL_PREFIX) + strlen(d->base.name) + 1;
  char *url = malloc(ul);
  if (!url) {
    free(buf);
    return WEFT_ERR_NOMEM;
  }
  snprintf(url, ul, "%s%s", TYPE_URL_PREFIX, d->base.name);
  return deliver(ps, topic, url, buf, len, delivered);
}

/* ---- handlers ---- */

static int ps_subscribe(weft_server_call *call,
                        const weft__v1__SubscribeRequest *req, void *ctx) {
  weft__pubsub *ps = ctx;
  if (!req->topic || !*req->topic) {
    weft_server_call_set_message(call, "Subscribe: topic is required");
    return WEFT_STATUS_INVALID_ARGUMENT;
  }
  /* The acknowledgement goes out before the subscriber is visible to the
   * delivery thread, so nothing else sends on this call concurrently. */
  weft__v1__Event ack;
  weft__v1__Event_init(&ack);
  ack.topic = req->topic;
  if (weft_server_call_send(call, &ack) < 0)
    return WEFT_STATUS_CANCELLED;
  sub *s = calloc(1, sizeof *s);
  if (!s || !(s->topic = dupstr(req->topic))) {
    free(s);
    return WEFT_STATUS_RESOURCE_EXHAUSTED;
  }
  s->call = call;
  s->end_code = -1;
  pthread_mutex_lock(&ps->mu);
  if (ps->stopping) {
    pthread_mutex_unlock(&ps->mu);
    free(s->topic);
    free(s);
    weft_server_call_set_message(call, "server shutting down");
    return WEFT_STATUS_UNAVAILABLE;
  }
  s->next = ps->subs;
  ps->subs = s;
  pthread_mutex_unlock(&ps->mu);
  return WEFT__STATUS_DETACHED;
}

static int ps_publish(weft_server_call *call,
                      const weft__v1__PublishRequest *req,
                      weft__v1__PublishResponse *resp, void *ctx) {
  weft__pubsub *ps = ctx;
  if (!req->topic || !*req->topic || !req->message || !req->message->type_url) {
    weft_server_call_set_message(call,
                                 "Publish: topic and message are required");
    return WEFT_STATUS_INVALID_ARGUMENT;
  }
  char *url = dupstr(req->message->type_url);
  size_t len = req->message->value.len;
  uint8_t *v = malloc(len ? len : 1);
  if (!url || !v) {
    free(url);
    free(v);
    return WEFT_STATUS_RESOURCE_EXHAUSTED;
  }
  if (len)
    memcpy(v, req->message->value.data, len);
  unsigned n = 0;
  if (deliver(ps, req->topic, url, v, len, &n) < 0)
    return WEFT_STATUS_RESOURCE_EXHAUSTED;
  resp->delivered = n;
  return WEFT_STATUS_OK;
}

static const weft__v1__PubSub_impl ps_impl = {ps_subscribe, ps_publish};

/* ---- delivery ---- */

static void sub_free(sub *s) {
  for (qnode *q = s->head, *n; q; q = n) {
    n = q->next;
    event_unref(q->e);
    free(q);
  }
  free(s->topic);
  free(s);
}

/* A worker sends s's queued events until the queue is empty or the
 * subscription must end; only the drain job sends on a registered
 * subscriber, and the housekeeper never ends one while it runs. */
static void drain(void *arg) {
  drain_job *j = arg;
  weft__pubsub *ps = j->ps;
  sub *s = j->s;
  free(j);
  pthread_mutex_lock(&ps->mu);
  for (;;) {
    qnode *q = s->end_code == -1 ? s->head : NULL;
    if (!q)
      break;
    s->head = q->next;
    if (!s->head)
      s->tail = NULL;
    s->queued--;
    pthread_mutex_unlock(&ps->mu);
    int rv = weft_server_call_send(s->call, &q->e->ev);
    pthread_mutex_lock(&ps->mu);
    event_unref(q->e);
    free(q);
    if (rv < 0 && s->end_code == -1) {
      s->end_code = WEFT_STATUS_CANCELLED;
      s->end_msg = "subscriber went away";
    }
  }
  s->sending = false;
  pthread_cond_broadcast(&ps->cv); /* the housekeeper may end it now */
  pthread_mutex_unlock(&ps->mu);
}

/* One housekeeping pass; ps->mu held (dropped around completions). */
static void housekeep(weft__pubsub *ps, bool check_cancel) {
  sub **pp = &ps->subs;
  while (*pp) {
    sub *s = *pp;
    if (s->end_code == -1 && check_cancel && !s->sending) {
      pthread_mutex_unlock(&ps->mu);
      bool gone = weft_server_call_cancelled(s->call);
      pthread_mutex_lock(&ps->mu);
      if (gone && s->end_code == -1) {
        s->end_code = WEFT_STATUS_CANCELLED;
        s->end_msg = "subscriber went away";
      }
    }
    if (s->end_code != -1 && !s->sending) {
      *pp = s->next;
      pthread_mutex_unlock(&ps->mu);
      weft__server_call_complete(s->call, s->end_code, s->end_msg);
      pthread_mutex_lock(&ps->mu);
      sub_free(s); /* its events: unref under the lock */
      pthread_cond_broadcast(&ps->cv);
      pp = &ps->subs; /* restart: the list may have changed */
      continue;
    }
    kick(ps, s); /* a drain the pool refused earlier */
    pp = &s->next;
  }
}

static void *housekeeper(void *arg) {
  weft__pubsub *ps = arg;
  int64_t next_check = 0;
  pthread_mutex_lock(&ps->mu);
  while (!ps->quit) {
    int64_t now = weft_now_ns();
    bool check = now >= next_check;
    if (check)
      next_check = now + POLL_MS * 1000000;
    housekeep(ps, check);
    if (ps->quit)
      break;
    bool ending = false;
    for (sub *s = ps->subs; s && !ending; s = s->next)
      ending = s->end_code != -1 && !s->sending;
    if (!ending)
      weft__cond_wait_until(&ps->cv, &ps->mu, next_check);
  }
  pthread_mutex_unlock(&ps->mu);
  return NULL;
}

int weft__pubsub_new(weft__pubsub **out, weft_server *s, weft__pool *pool) {
  weft__pubsub *ps = calloc(1, sizeof *ps);
  if (!ps)
    return WEFT_ERR_NOMEM;
  ps->s = s;
  ps->pool = pool;
  pthread_mutex_init(&ps->mu, NULL);
  weft__cond_init(&ps->cv);
  if (pthread_create(&ps->thread, NULL, housekeeper, ps) != 0) {
    pthread_cond_destroy(&ps->cv);
    pthread_mutex_destroy(&ps->mu);
    free(ps);
    return WEFT_ERR_NOMEM;
  }
  *out = ps;
  return 0;
}

int weft__pubsub_add(weft_server *s) {
  return weft_server_add_service(s, &weft__v1__PubSub_service, &ps_impl,
                                 weft__server_pubsub(s));
}

/* Marks every subscription to end (UNAVAILABLE) and refuses new ones. Does
 * not wait: subscriptions are in-flight calls, so the server's shutdown
 * waits for them with the others (a drain blocked in a send is released
 * when the transports close their connections). */
void weft__pubsub_shutdown(weft__pubsub *ps) {
  if (!ps)
    return;
  pthread_mutex_lock(&ps->mu);
  ps->stopping = true;
  for (sub *s = ps->subs; s; s = s->next) {
    if (s->end_code == -1) {
      s->end_code = WEFT_STATUS_UNAVAILABLE;
      s->end_msg = "server shutting down";
    }
  }
  pthread_cond_broadcast(&ps->cv);
  pthread_mutex_unlock(&ps->mu);
}

/* After the server's shutdown: every subscription has ended by now. */
void weft__pubsub_free(weft__pubsub *ps) {
  if (!ps)
    return;
  weft__pubsub_shutdown(ps);
  pthread_mutex_lock(&ps->mu);
  while (ps->subs)
    pthread_cond_wait(&ps->cv, &ps->mu);
  ps->quit = true;
  pthread_cond_broadcast(&ps->cv);
  pthread_mutex_unlock(&ps->mu);
  pthread_join(ps->thread, NULL);
  for (topic_seq *t = ps->seqs, *n; t; t = n) {
    n = t->next;
    free(t->topic);
    free(t);
  }
  pthread_cond_destroy(&ps->cv);
  pthread_mutex_destroy(&ps->mu);
  free(ps);
}
#else
typedef int weft__pubsub_server_unused; /* ISO C: no empty translation unit */
#endif
