/* Client side of pub/sub: each subscription keeps an asynchronous
 * weft.v1.PubSub/Subscribe call open, fed by events on the process-wide
 * client loop, and re-subscribes (a timer on that loop, after a backoff)
 * whenever the stream ends while the client lives: after a reconnect, or
 * after the server dropped a slow subscriber. No thread of its own. Events
 * carry a google.protobuf.Any; the type is resolved through the types the
 * runtime has seen (weft__find_message) and, with the JSON codec, through
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
  weft_loop *loop; /* c->loop */
  char *topic;
  weft_event_fn fn;
  void *ud;
  bool reconnect;     /* c->opts.reconnect.enabled, read once */
  pthread_mutex_t mu; /* guards the fields below but timer */
  pthread_cond_t cv;
  /* What keeps s alive: the user's handle (until cancel), the call in
   * flight (until its on_done), a posted start or a retry timer. The last
   * one to go frees s. */
  int refs;
  weft_call *call; /* in flight, once started and until on_done */
  bool live;       /* a call was started and its on_done has not run */
  bool cancelled;
  bool acked;        /* the server registered us at least once */
  bool acked_before; /* acked when the current attempt started */
  int failed;        /* the first attempt failed with this (no retrying) */
  int attempt;       /* re-subscriptions since the last acknowledged one */
  /* Own jitter source: subscriptions cut off together (one slow server)
   * should not all come back in the same millisecond. */
  weft__rng rng;
  weft_timer *timer; /* the retry timer; loop thread only */
  /* Sequence of the last event delivered: re-subscribing (after a lost
   * connection, maybe to another node behind a balancer) resumes after
   * it on durable topics; servers ignore it on the others. */
  uint64_t last_seq;
  bool cursor; /* send after_sequence even while last_seq is 0 */
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

/* The subscription whose event the calling thread is delivering: events
 * run on the loop, or on a worker of the client for transports without
 * asynchronous calls. */
static _Thread_local weft_subscription *tl_delivering;

static void sub_free(weft_subscription *s) {
  pthread_cond_destroy(&s->cv);
  pthread_mutex_destroy(&s->mu);
  free(s->topic);
  free(s);
}

/* s->mu held; returns true when that was the last reference (then the
 * caller frees s once it let go of mu). */
static bool unref_locked(weft_subscription *s) {
  pthread_cond_broadcast(&s->cv);
  return --s->refs == 0;
}

static void unref(weft_subscription *s) {
  pthread_mutex_lock(&s->mu);
  bool last = unref_locked(s);
  pthread_mutex_unlock(&s->mu);
  if (last)
    sub_free(s);
}

static void start_attempt(weft_subscription *s);

static void retry_fired(weft_loop *l, weft_timer *t, void *ud) {
  (void)l;
  (void)t;
  weft_subscription *s = ud;
  s->timer = NULL; /* a one-shot: the loop frees it */
  start_attempt(s);
}

/* Loop thread; holds a reference, which the timer takes over. */
static void arm_retry(weft_subscription *s) {
  weft_client *c = s->c;
  pthread_mutex_lock(&s->mu);
  bool stop = s->cancelled || s->failed;
  int64_t delay = weft__backoff_ms(
      c->opts.reconnect.base_ms, c->opts.reconnect.factor,
      c->opts.reconnect.cap_ms, c->opts.reconnect.jitter, s->attempt, &s->rng);
  pthread_mutex_unlock(&s->mu);
  if (!stop && (s->timer = weft_loop_timer(s->loop, delay, 0, retry_fired, s)))
    return;
  if (!stop) { /* out of memory: give up rather than spin */
    pthread_mutex_lock(&s->mu);
    if (!s->acked && !s->failed)
      s->failed = WEFT_ERR_NOMEM;
    pthread_mutex_unlock(&s->mu);
  }
  unref(s);
}

static void arm_retry_post(void *ud) {
  arm_retry(ud);
}

static void on_event(weft_call *call, void *msg, void *ud) {
  (void)call;
  weft_subscription *s = ud;
  weft__v1__Event *ev = msg;
  if (!ev->message) { /* the server's ack */
    pthread_mutex_lock(&s->mu);
    s->acked = true;
    /* From here on every attempt resumes from a cursor: the position this
     * one started at (a durable topic's; 0 otherwise, and servers ignore
     * it there) until an event moves it. Without one, an attempt made
     * before the first event would start at the stream's end again and
     * skip what was published in between. */
    s->cursor = true;
    if (ev->sequence > s->last_seq)
      s->last_seq = ev->sequence;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
  } else if (ev->message) {
    pthread_mutex_lock(&s->mu);
    bool cancelled = s->cancelled;
    if (!cancelled)
      s->last_seq = ev->sequence; /* before fn: it may ask for it */
    pthread_mutex_unlock(&s->mu);
    if (!cancelled) {
      /* fn may cancel s (the call's reference keeps it): then it must not
       * wait for this call to end. */
      weft_subscription *outer = tl_delivering;
      tl_delivering = s;
      deliver(s, ev);
      tl_delivering = outer;
    }
  }
  weft__v1__Event_free(ev);
}

/* Any thread (the loop, or a canceller's): the stream ended. The call's
 * reference becomes the retry's, or goes. */
static void on_done(weft_call *call, const weft_status *st,
                    const weft_metadata *trailers, void *ud) {
  (void)call;
  (void)trailers;
  weft_subscription *s = ud;
  pthread_mutex_lock(&s->mu);
  s->call = NULL;
  s->live = false;
  if (!s->acked && !s->failed && !s->reconnect)
    s->failed =
        st->code == WEFT_STATUS_UNAUTHENTICATED ? WEFT_ERR_AUTH : WEFT_ERR_RPC;
  bool stop = s->cancelled || s->failed;
  if (!stop)
    s->attempt = s->acked && !s->acked_before ? 0 : s->attempt + 1;
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
  if (stop)
    unref(s);
  else if (weft_loop_in_thread(s->loop))
    arm_retry(s);
  else if (weft_loop_post(s->loop, arm_retry_post, s) < 0)
    unref(s); /* out of memory: the subscription ends */
}

static const weft_call_callbacks sub_callbacks = {NULL, on_event, on_done};

/* Loop thread, holding a reference (a posted start or the retry timer's):
 * one Subscribe stream, if there is a connection to open it on. */
static void start_attempt(weft_subscription *s) {
  weft_client *c = s->c;
  pthread_mutex_lock(&s->mu);
  bool stop = s->cancelled || s->failed;
  pthread_mutex_unlock(&s->mu);
  if (stop) {
    unref(s);
    return;
  }
  /* Never wait for a connection here (the loop runs the reconnect's
   * registration): without one, look again after a backoff. */
  pthread_mutex_lock(&c->mu);
  bool up = c->cur && !c->closing;
  bool coming = !c->closing && c->need_connect && !c->gave_up;
  pthread_mutex_unlock(&c->mu);
  if (!up) {
    pthread_mutex_lock(&s->mu);
    if (!coming && !s->failed) /* no connection will come: it ends */
      s->failed = WEFT_ERR_CONNECT;
    s->attempt++;
    pthread_mutex_unlock(&s->mu);
    arm_retry(s); /* or, failed, drops the reference */
    return;
  }
  weft__v1__SubscribeRequest req;
  weft__v1__SubscribeRequest_init(&req);
  req.topic = s->topic;
  pthread_mutex_lock(&s->mu);
  if (s->last_seq || s->cursor) {
    req.has_after_sequence = true;
    req.after_sequence = s->last_seq;
  }
  s->live = true; /* our reference is the call's now */
  /* And one of our own until we are out: the call may end and drop its
   * reference on another thread before weft_call_start_async returns. */
  s->refs++;
  s->acked_before = s->acked;
  pthread_mutex_unlock(&s->mu);
  weft_call_opts o;
  memset(&o, 0, sizeof o);
  weft_call *call = NULL;
  int rv = weft_call_start_async(c, &weft__v1__PubSub_service.methods[0], &req,
                                 &o, &sub_callbacks, s, &call);
  weft_status_clear(&o.status);
  pthread_mutex_lock(&s->mu);
  bool cancel = false;
  if (rv == 0 && s->live) {
    s->call = call;
    if ((cancel = s->cancelled)) /* cancelled while we started it */
      weft__call_pin(call);
  }
  if (rv < 0) {
    s->live = false;
    if (!s->acked && !s->failed && !s->reconnect)
      s->failed = rv;
    s->attempt++;
  }
  /* Only when the call already ended and the handle went: then cancel is
   * false and rv 0. */
  bool last = unref_locked(s);
  pthread_mutex_unlock(&s->mu);
  if (cancel)
    weft__call_cancel_pinned(call);
  if (rv < 0)
    arm_retry(s); /* the start's reference, which no call took */
  if (last)
    sub_free(s);
}

static void start_post(void *ud) {
  start_attempt(ud);
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
static bool claim_sub(weft_client *c, weft_subscription *s);
static void cancel_unlinked(weft_subscription *s);

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
  s->loop = c->loop;
  s->fn = fn;
  s->ud = ud;
  s->reconnect = c->opts.reconnect.enabled;
  s->cursor = cursor;
  s->last_seq = after;
  s->rng.s = (uint64_t)weft_now_ns() ^ (uint64_t)(uintptr_t)s;
  /* Off the loop this call waits for the acknowledgement below, holding
   * a reference of its own, and counted in c->subscribing: a
   * weft_client_close meanwhile cancels the subscription, which wakes it,
   * and waits until it is out. On the loop it must not wait (the loop
   * runs the subscription): it returns, and the stream is registered soon
   * after the callback it runs in returns. */
  bool waits = !weft_loop_in_thread(s->loop);
  s->refs = waits ? 3 : 2; /* the handle, the posted start, the waiter */
  pthread_mutex_init(&s->mu, NULL);
  weft__cond_init(&s->cv);
  pthread_mutex_lock(&c->mu);
  if (c->closing) {
    pthread_mutex_unlock(&c->mu);
    sub_free(s);
    return WEFT_ERR_STATE;
  }
  s->next = c->subs;
  c->subs = s;
  if (waits)
    c->subscribing++;
  pthread_mutex_unlock(&c->mu);
  int rv = 0;
  if (weft_loop_post(s->loop, start_post, s) < 0) {
    pthread_mutex_lock(&s->mu);
    (void)unref_locked(s); /* the start's, never posted; never the last */
    pthread_mutex_unlock(&s->mu);
    rv = WEFT_ERR_NOMEM;
  }
  if (waits) {
    /* Return once the server has registered us, so a publish made after
     * this returns reaches us; with reconnect enabled a subscription that
     * cannot get through yet keeps trying in the background. */
    int64_t until = weft_now_ns() + c->opts.connect_timeout_ms * 1000000;
    pthread_mutex_lock(&s->mu);
    while (rv == 0 && !s->acked && !s->failed && !s->cancelled &&
           weft_now_ns() < until)
      weft__cond_wait_until(&s->cv, &s->mu, until);
    if (rv < 0)
      ;
    else if (s->cancelled)
      rv = WEFT_ERR_STATE; /* the client is closing: the close frees s */
    else if (!s->acked && s->failed)
      rv = s->failed;
    else if (!s->acked && !s->reconnect)
      rv = WEFT_ERR_TIMEOUT; /* nothing would retry it */
    /* Never the last: the handle's stays, with us or with the close. */
    (void)unref_locked(s);
    pthread_mutex_unlock(&s->mu);
  }
  /* Failed: ours to end, unless a close took it from the list first. */
  if (rv < 0 && claim_sub(c, s))
    cancel_unlinked(s);
  if (waits) { /* s may be gone: only c from here */
    pthread_mutex_lock(&c->mu);
    c->subscribing--;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
  }
  if (rv < 0)
    return rv;
  *out = s;
  return 0;
}

/* Unlinks s from c (c->mu not held): true if it was linked. Whoever
 * unlinks a subscription ends it (cancel_unlinked), so a close and a
 * failing subscribe never both free it; s is not read unless found (a
 * close may have freed it). */
static bool claim_sub(weft_client *c, weft_subscription *s) {
  bool found = false;
  pthread_mutex_lock(&c->mu);
  for (weft_subscription **pp = &c->subs; *pp; pp = &(*pp)->next) {
    if (*pp == s) {
      *pp = s->next;
      found = true;
      break;
    }
  }
  pthread_mutex_unlock(&c->mu);
  return found;
}

/* Loop thread: a pending retry will not run; its reference goes. */
static void drop_timer(void *ud) {
  weft_subscription *s = ud;
  if (!s->timer)
    return;
  weft_timer_cancel(s->loop, s->timer);
  s->timer = NULL;
  pthread_mutex_lock(&s->mu);
  bool last = unref_locked(s); /* never: the handle is still held */
  pthread_mutex_unlock(&s->mu);
  (void)last;
}

/* Ends a subscription its caller unlinked (claim_sub). */
static void cancel_unlinked(weft_subscription *s) {
  pthread_mutex_lock(&s->mu);
  s->cancelled = true;
  pthread_cond_broadcast(&s->cv); /* a subscribe waiting for its ack */
  weft_call *call = s->call;
  if (call) /* pinned under mu: its on_done cannot have freed it */
    weft__call_pin(call);
  pthread_mutex_unlock(&s->mu);
  if (call)
    weft__call_cancel_pinned(call); /* its on_done may run in here */
  if (weft_loop_in_thread(s->loop) || tl_delivering == s) {
    /* From a callback on the loop (its own event, an on_disconnect closing
     * the client) or from its own event: nothing may wait here, the last
     * reference frees s. */
    /* Its call, its start and its timer come one at a time: inside an
     * event there is no timer, and none will be armed once cancelled. */
    if (weft_loop_in_thread(s->loop))
      drop_timer(s);
    unref(s);
    return;
  }
  weft_loop_run_sync(s->loop, drop_timer, s);
  /* After this no callback of ours runs: a posted start sees cancelled,
   * the call's on_done comes from the loop or the cancel above. */
  pthread_mutex_lock(&s->mu);
  while (s->refs > 1)
    pthread_cond_wait(&s->cv, &s->mu);
  pthread_mutex_unlock(&s->mu);
  sub_free(s);
}

void weft_subscription_cancel(weft_subscription *s) {
  if (!s)
    return;
  (void)claim_sub(s->c, s);
  cancel_unlinked(s);
}

/* weft_client_close: every subscription ends and is freed; handles the
 * user still holds become invalid. */
void weft__subscriptions_cancel_all(weft_client *c) {
  for (;;) {
    pthread_mutex_lock(&c->mu);
    weft_subscription *s = c->subs;
    if (s) /* claimed here, under the lock that a failing subscribe's
            * claim takes too */
      c->subs = s->next;
    pthread_mutex_unlock(&c->mu);
    if (!s)
      break;
    cancel_unlinked(s);
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
