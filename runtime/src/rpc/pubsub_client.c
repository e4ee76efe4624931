/* Client side of pub/sub: each subscription runs a background thread that
 * keeps a weft.v1.PubSub/Subscribe stream open, re-subscribing (after a
 * backoff) whenever the stream ends while the client lives: after a
 * reconnect, or after the server dropped a slow subscriber. Events carry a
 * google.protobuf.Any; the type is resolved through the types the runtime
 * has seen (weft__find_message) and, with the JSON codec, through
 * weft_registry_global(). An event of a type that cannot be resolved is
 * handed over as the google.protobuf.Any itself. */
#ifdef WEFT_HAVE_PROTO
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"
#include "weft/codec.h"
#include "weft/v1/pubsub.weft.h"
#ifdef WEFT_HAVE_JSON
#include "weft/json.h"
#endif

#define TYPE_URL_PREFIX "type.googleapis.com/"

struct weft_subscription {
  weft_client *c;
  char *topic;
  weft_event_fn fn;
  void *ud;
  bool reconnect; /* c->opts.reconnect.enabled, read once: a subscription
                     cancelled from its own callback outlives nobody's
                     join, and must not touch c after its last call */
  pthread_t th;
  pthread_mutex_t mu; /* guards call, cancelled, acked, failed */
  pthread_cond_t cv;
  weft_call *call;
  bool cancelled;
  bool acked;  /* the server registered us at least once */
  int failed;  /* the first attempt failed with this (no retrying) */
  bool done;   /* the thread has exited its loop */
  bool detach; /* cancelled from inside its own callback */
  /* Sequence of the last event delivered: re-subscribing (after a lost
   * connection, maybe to another node behind a balancer) resumes after
   * it on durable topics; servers ignore it on the others. */
  uint64_t last_seq; /* under mu */
  bool cursor;       /* send after_sequence even while last_seq is 0 */
  struct weft_subscription *next; /* the client's list (c->mu) */
};

static const weft_msg_desc *resolve(const char *type_url) {
  const char *slash = type_url ? strrchr(type_url, '/') : NULL;
  const char *name = slash ? slash + 1 : type_url;
  if (!name || !*name)
    return NULL;
  const weft_msg_desc *d = weft__find_message(name);
#ifdef WEFT_HAVE_JSON
  if (!d)
    d = weft_registry_find_message(weft_registry_global(), name);
#endif
  return d;
}

static void deliver(weft_subscription *s, const weft__v1__Event *ev) {
  const google__protobuf__Any *any = ev->message;
  const weft_msg_desc *d = resolve(any->type_url);
  void *msg = NULL;
  if (d &&
      weft_decode(d, any->value.data, any->value.len, NULL, &msg, NULL) == 0) {
    s->fn(ev->topic, d, msg, s->ud);
    weft_message_free(msg);
    return;
  }
  s->fn(ev->topic, &google__protobuf__Any_desc, any, s->ud);
}

static bool sub_cancelled(weft_subscription *s) {
  pthread_mutex_lock(&s->mu);
  bool r = s->cancelled;
  pthread_mutex_unlock(&s->mu);
  return r;
}

/* One Subscribe stream, start to end. Returns the finish result. */
static int run_once(weft_subscription *s) {
  weft_client *c = s->c;
  weft_call_opts o;
  memset(&o, 0, sizeof o);
  weft__v1__SubscribeRequest req;
  weft__v1__SubscribeRequest_init(&req);
  req.topic = s->topic;
  pthread_mutex_lock(&s->mu);
  if (s->last_seq || s->cursor) {
    req.has_after_sequence = true;
    req.after_sequence = s->last_seq;
  }
  pthread_mutex_unlock(&s->mu);
  weft_call *call = NULL;
  int rv = weft__call_start(c, &weft__v1__PubSub_service.methods[0], &o,
                            INT64_MAX, &call);
  if (rv < 0) {
    weft_status_clear(&o.status);
    return rv;
  }
  pthread_mutex_lock(&s->mu);
  s->call = call;
  bool cancelled = s->cancelled;
  pthread_mutex_unlock(&s->mu);
  if (cancelled)
    weft_call_cancel(call);
  rv = weft_call_send(call, &req);
  if (rv == 0)
    rv = weft_call_close_send(call);
  void *m;
  while (rv == 0 && weft_call_recv(call, &m) == 1) {
    weft__v1__Event *ev = m;
    if (ev->sequence == 0 && !ev->message) { /* the server's ack */
      pthread_mutex_lock(&s->mu);
      s->acked = true;
      pthread_cond_broadcast(&s->cv);
      pthread_mutex_unlock(&s->mu);
    } else if (ev->message && !sub_cancelled(s)) {
      pthread_mutex_lock(&s->mu);
      s->last_seq = ev->sequence; /* before fn: it may ask for it */
      pthread_mutex_unlock(&s->mu);
      deliver(s, ev);
    }
    weft__v1__Event_free(ev);
  }
  pthread_mutex_lock(&s->mu);
  s->call = NULL; /* no cancel may touch it from here on */
  pthread_mutex_unlock(&s->mu);
  rv = weft_call_finish(call);
  weft_status_clear(&o.status);
  return rv;
}

/* Waits until a connection is up; false if there will be none. */
static bool wait_connected(weft_subscription *s) {
  weft_client *c = s->c;
  bool ok = false;
  pthread_mutex_lock(&c->mu);
  for (;;) {
    if (c->closing || sub_cancelled(s))
      break;
    if (c->cur) {
      ok = true;
      break;
    }
    if (!c->need_connect || c->gave_up)
      break;
    weft__cond_wait_until(&c->cv, &c->mu, weft_now_ns() + 100000000);
  }
  pthread_mutex_unlock(&c->mu);
  return ok;
}

static void *sub_thread(void *arg) {
  weft_subscription *s = arg;
  weft_client *c = s->c;
  int attempt = 0;
  /* Own jitter source: subscriptions cut off together (one slow server)
   * should not all come back in the same millisecond. */
  weft__rng rng = {(uint64_t)weft_now_ns() ^ (uint64_t)(uintptr_t)s};
  while (!sub_cancelled(s)) {
    if (!wait_connected(s)) {
      pthread_mutex_lock(&s->mu);
      if (!s->acked && !s->failed)
        s->failed = WEFT_ERR_CONNECT;
      pthread_cond_broadcast(&s->cv);
      pthread_mutex_unlock(&s->mu);
      break; /* no connection will come (no reconnect, gave up, closing) */
    }
    bool acked_before;
    pthread_mutex_lock(&s->mu);
    acked_before = s->acked;
    pthread_mutex_unlock(&s->mu);
    int rv = run_once(s);
    pthread_mutex_lock(&s->mu);
    bool acked_now = s->acked;
    if (!acked_now && !s->failed && !s->reconnect)
      s->failed = rv < 0 ? rv : WEFT_ERR_RPC; /* first attempt refused */
    pthread_cond_broadcast(&s->cv);
    bool stop = s->cancelled || s->failed;
    pthread_mutex_unlock(&s->mu);
    if (stop)
      break;
    attempt = acked_now && !acked_before ? 0 : attempt + 1;
    /* Back off before re-subscribing, interruptibly. */
    int64_t delay = weft__backoff_ms(
        c->opts.reconnect.base_ms, c->opts.reconnect.factor,
        c->opts.reconnect.cap_ms, c->opts.reconnect.jitter, attempt, &rng);
    int64_t until = weft_now_ns() + delay * 1000000;
    pthread_mutex_lock(&c->mu);
    while (!c->closing && !sub_cancelled(s) && weft_now_ns() < until)
      weft__cond_wait_until(&c->cv, &c->mu, until);
    bool closing = c->closing;
    pthread_mutex_unlock(&c->mu);
    if (closing)
      break;
  }
  pthread_mutex_lock(&s->mu);
  s->done = true;
  bool detach = s->detach;
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
  if (detach) { /* cancelled from its own callback: nobody joins us */
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s->topic);
    free(s);
  }
  return NULL;
}

uint64_t weft_subscription_last_sequence(weft_subscription *s) {
  if (!s)
    return 0;
  pthread_mutex_lock(&s->mu);
  uint64_t v = s->last_seq;
  pthread_mutex_unlock(&s->mu);
  return v;
}

static int subscribe(weft_client *c, const char *topic, bool cursor,
                     uint64_t after, weft_event_fn fn, void *ud,
                     weft_subscription **out);

int weft_client_subscribe(weft_client *c, const char *topic, weft_event_fn fn,
                          void *ud, weft_subscription **out) {
  return subscribe(c, topic, false, 0, fn, ud, out);
}

int weft_client_subscribe_after(weft_client *c, const char *topic,
                                uint64_t after_sequence, weft_event_fn fn,
                                void *ud, weft_subscription **out) {
  return subscribe(c, topic, true, after_sequence, fn, ud, out);
}

static int subscribe(weft_client *c, const char *topic, bool cursor,
                     uint64_t after, weft_event_fn fn, void *ud,
                     weft_subscription **out) {
  if (!c || !topic || !*topic || !fn || !out)
    return WEFT_ERR_INVAL;
  weft_subscription *s = calloc(1, sizeof *s);
  if (!s)
    return WEFT_ERR_NOMEM;
  size_t tl = strlen(topic) + 1;
  if (!(s->topic = malloc(tl))) {
    free(s);
    return WEFT_ERR_NOMEM;
  }
  memcpy(s->topic, topic, tl);
  s->c = c;
  s->fn = fn;
  s->ud = ud;
  s->reconnect = c->opts.reconnect.enabled;
  s->cursor = cursor;
  s->last_seq = after;
  pthread_mutex_init(&s->mu, NULL);
  weft__cond_init(&s->cv);
  pthread_mutex_lock(&c->mu);
  if (c->closing) {
    pthread_mutex_unlock(&c->mu);
    free(s->topic);
    free(s);
    return WEFT_ERR_STATE;
  }
  s->next = c->subs;
  c->subs = s;
  pthread_mutex_unlock(&c->mu);
  if (pthread_create(&s->th, NULL, sub_thread, s) != 0) {
    weft_subscription_cancel(s); /* not started: unlinks and frees */
    return WEFT_ERR_NOMEM;
  }
  /* Return once the server has registered us, so a publish made after this
   * returns reaches us; with reconnect enabled a subscription that cannot
   * get through yet keeps trying in the background. */
  int64_t until = weft_now_ns() + c->opts.connect_timeout_ms * 1000000;
  int rv = 0;
  pthread_mutex_lock(&s->mu);
  while (!s->acked && !s->failed && !s->done && weft_now_ns() < until)
    weft__cond_wait_until(&s->cv, &s->mu, until);
  if (!s->acked && s->failed)
    rv = s->failed;
  else if (!s->acked && !s->reconnect)
    rv = WEFT_ERR_TIMEOUT; /* nothing would retry it */
  pthread_mutex_unlock(&s->mu);
  if (rv < 0) {
    weft_subscription_cancel(s);
    return rv;
  }
  *out = s;
  return 0;
}

/* Unlinks from the client (c->mu not held). */
static void unlink_sub(weft_subscription *s) {
  weft_client *c = s->c;
  pthread_mutex_lock(&c->mu);
  for (weft_subscription **pp = &c->subs; *pp; pp = &(*pp)->next) {
    if (*pp == s) {
      *pp = s->next;
      break;
    }
  }
  pthread_mutex_unlock(&c->mu);
}

static void stop_sub(weft_subscription *s) {
  pthread_mutex_lock(&s->mu);
  s->cancelled = true;
  if (s->call)
    weft_call_cancel(s->call);
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
  pthread_mutex_lock(&s->c->mu);
  pthread_cond_broadcast(&s->c->cv); /* out of backoff / connect waits */
  pthread_mutex_unlock(&s->c->mu);
}

void weft_subscription_cancel(weft_subscription *s) {
  if (!s)
    return;
  unlink_sub(s);
  stop_sub(s);
  if (s->th && pthread_equal(s->th, pthread_self())) {
    pthread_mutex_lock(&s->mu);
    s->detach = true; /* the thread frees itself on its way out */
    pthread_mutex_unlock(&s->mu);
    pthread_detach(s->th);
    return;
  }
  if (s->th)
    pthread_join(s->th, NULL);
  pthread_cond_destroy(&s->cv);
  pthread_mutex_destroy(&s->mu);
  free(s->topic);
  free(s);
}

/* weft_client_close: every subscription ends and is freed; handles the
 * user still holds become invalid. */
void weft__subscriptions_cancel_all(weft_client *c) {
  for (;;) {
    pthread_mutex_lock(&c->mu);
    weft_subscription *s = c->subs;
    pthread_mutex_unlock(&c->mu);
    if (!s)
      break;
    weft_subscription_cancel(s);
  }
}

int weft_client_publish(weft_client *c, const char *topic, const void *msg) {
  if (!c || !topic || !*topic || !msg)
    return WEFT_ERR_INVAL;
  const weft_msg_desc *d = weft_msg_desc_of_msg(msg);
  weft__note_file(d->file);
  google__protobuf__Any any;
  google__protobuf__Any_init(&any);
  int rv = weft_encode_alloc(msg, &any.value.data, &any.value.len);
  if (rv < 0)
    return rv;
  size_t ul = strlen(TYPE_URL_PREFIX) + strlen(d->base.name) + 1;
  char *url = malloc(ul);
  if (!url) {
    free(any.value.data);
    return WEFT_ERR_NOMEM;
  }
  snprintf(url, ul, "%s%s", TYPE_URL_PREFIX, d->base.name);
  any.type_url = url;
  weft__v1__PublishRequest req;
  weft__v1__PublishRequest_init(&req);
  req.topic = (char *)topic;
  req.message = &any;
  weft__v1__PublishResponse *resp = NULL;
  rv = weft__v1__PubSub_publish(c, &req, &resp, NULL);
  weft__v1__PublishResponse_free(resp);
  free(url);
  free(any.value.data);
  return rv;
}
#else
typedef int weft__pubsub_client_unused; /* ISO C: no empty translation unit */
#endif
