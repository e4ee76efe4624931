/* The built-in weft.v1.PubSub service, added to every server.
 *
 * Subscribe is an asynchronous handler (weft/server.h): it detaches its
 * call, registers the subscriber, queues an acknowledgement (an Event with
 * no message, so a client knows when publishes start reaching it; its
 * sequence is 0 except on a durable topic subscribed without a cursor,
 * see ack_and_link) and returns. A publish encodes the event once and queues
 * it, shared by reference, on each subscriber's call; the runtime's drain jobs
 * write it, a batch of subscribers per pool job (not a job per
 * subscriber: that cost a wake-up and the pool's lock each), so an open
 * subscription holds no thread. A subscriber whose connection's write
 * buffer is full blocks its job, and so delays the others of its batch
 * (at most 31, mostly of the same connection, which waits anyway) until
 * the buffer drains or the connection closes. A subscription ends when the
 * client goes (on_cancel), when it falls behind, or at shutdown.
 *
 * Slow subscribers: a call's send queue holds WEFT_SERVER_SEND_QUEUE
 * events; a publish that finds it full ends that subscription with
 * RESOURCE_EXHAUSTED (the weft client re-subscribes after a backoff) rather
 * than dropping events silently or letting memory grow.
 *
 * Across nodes (weft_server_opts.nats_url; pubsub_nats.c, docs/CLUSTER.md):
 * a publish goes to NATS only, as an encoded weft.v1.PublishRequest, and
 * deliver() runs for what comes back from NATS, on libnats's delivery
 * thread, for this node's own publishes too. Delivering only from NATS
 * (rather than locally at once plus from NATS for other nodes' events,
 * skipping our own echo by node id) costs a local publish one round trip
 * to the NATS server, and buys one order: every node's subscribers see a
 * topic's events in the order NATS does, whoever published them, and
 * there is one delivery path to get right, so nothing can arrive twice.
 * deliver() never blocks (it queues on each subscriber's call, and the
 * runtime's drain jobs write), which is what a libnats thread needs.
 *
 * Durable topics (weft_server_opts.durable_topics) are JetStream streams,
 * one per topic: a publish is stored before it is answered, and each
 * subscriber has its own ordered consumer starting after its cursor
 * (SubscribeRequest.after_sequence) or, without one, after the stream's
 * last event at subscribe time (so every publish after the
 * acknowledgement reaches it). Its events carry the stream's sequence,
 * the same on every node: the cursor a client resumes from elsewhere. */
#ifdef WEFT_HAVE_PROTO
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server_call.h"
#include "weft/codec.h"
#include "weft/v1/pubsub.weft.h"

#define TYPE_URL_PREFIX "type.googleapis.com/"

/* One published event, shared by every subscriber queue it sits in, and
 * its encoding (pb), made once for all of them: transports that write
 * protobuf binary send those bytes (ops->send_encoded), gRPC without a
 * copy (a slice that holds a reference to the event). */
typedef struct event {
  atomic_int refs;
  weft__v1__Event ev;
  google__protobuf__Any any;
  uint8_t *pb;
  weft_encoded_msg enc;
} event;

/* In its call's arena: a callback that still runs for the call after
 * another thread ended it can look at it safely (the call outlives its
 * callbacks). */
typedef struct dsub dsub;
typedef struct sub {
  weft_server_call *call;
  weft__pubsub *ps;
  const char *topic;
  size_t idx;       /* in ps->subs while linked (ps->mu) */
  struct sub *next; /* a local list of subscribers to end */
  bool linked;      /* unlinked: whoever unlinked it ends it */
  bool slow;
  bool durable;             /* served by its own JetStream consumer, d */
  dsub *d;                  /* ps->mu; not touched after unlinking */
  weft__psfollow *unfollow; /* taken from d at unlinking: end_sub's */
} sub;

/* A durable subscriber's side of its JetStream consumer. Malloc'd: the
 * consumer's last callback may come after the call (and s) are gone, so
 * it finds s only through here, under ps->mu. Freed by the consumer's
 * done callback, or by ps_subscribe if no consumer was made. */
struct dsub {
  weft__pubsub *ps;
  sub *s;            /* ps->mu; NULL once the subscription ended */
  weft__psfollow *f; /* ps->mu */
  bool ended;        /* ps->mu */
};

typedef struct topic_seq {
  char *topic;
  uint64_t seq;
  struct topic_seq *next;
} topic_seq;

struct weft__pubsub {
  weft_server *s;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  /* The linked subscribers: an array, not a list, so a publish walking
   * 10,000 of them can fetch ahead instead of chasing cold pointers. */
  sub **subs;
  size_t nlinked, cap;
  size_t nsubs; /* linked, plus those being finished */
  topic_seq *seqs;
  bool stopping;      /* shutdown: no new subscribers */
  weft__psnats *nats; /* NULL: topics are this server's own */
  char **durable;     /* NULL-terminated topic prefixes, or NULL */
};

static bool is_durable(const weft__pubsub *ps, const char *topic) {
  for (char **p = ps->durable; p && *p; p++)
    if (!strncmp(topic, *p, strlen(*p)))
      return true;
  return false;
}

static char *dupstr(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d)
    memcpy(d, s, n);
  return d;
}

static void event_ref(void *ud) {
  event *e = ud;
  atomic_fetch_add(&e->refs, 1);
}

static void event_unref(void *ud) {
  event *e = ud;
  if (atomic_fetch_sub(&e->refs, 1) > 1)
    return;
  free(e->pb);
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

/* ps->mu held: takes s out of ps->subs (the last one fills its place).
 * Whoever unlinks a subscriber finishes its call (exactly once) and frees
 * it, after dropping the lock. */
static void unlink_sub(weft__pubsub *ps, sub *s) {
  sub *last = ps->subs[--ps->nlinked];
  ps->subs[s->idx] = last;
  last->idx = s->idx;
  s->linked = false;
  s->next = NULL;
  if (s->d) {
    s->d->s = NULL;
    s->d->ended = true;
    s->unfollow = s->d->f;
    s->d = NULL;
  }
}

static void end_sub(weft__pubsub *ps, sub *s, int code, const char *msg) {
  if (s->durable)
    weft__psnats_js_unfollow(s->unfollow); /* NULL-safe */
  else if (ps->nats)
    weft__psnats_unwatch(ps->nats, s->topic); /* s->topic: the call's */
  weft_server_call_set_message(s->call, "%s", msg);
  weft_server_call_finish(s->call, code); /* s is gone with the call */
  pthread_mutex_lock(&ps->mu);
  ps->nsubs--;
  pthread_cond_broadcast(&ps->cv);
  pthread_mutex_unlock(&ps->mu);
}

/* Takes ownership of type_url and value (freed on failure too). */
static event *event_new(const char *topic, char *type_url, uint8_t *value,
                        size_t len) {
  event *e = calloc(1, sizeof *e);
  char *t = dupstr(topic);
  if (!e || !t) {
    free(e);
    free(t);
    free(type_url);
    free(value);
    return NULL;
  }
  weft__v1__Event_init(&e->ev);
  google__protobuf__Any_init(&e->any);
  e->ev.topic = t;
  e->any.type_url = type_url;
  e->any.value.data = value;
  e->any.value.len = len;
  e->ev.message = &e->any;
  atomic_init(&e->refs, 1); /* the creator's */
  return e;
}

/* Encodes e once its sequence is set. Without memory the transports
 * encode it themselves, per subscriber. */
static void event_encode(event *e) {
  size_t n = 0;
  if (weft_encode_alloc(&e->ev, &e->pb, &n) < 0) {
    e->pb = NULL;
    return;
  }
  e->enc = (weft_encoded_msg){e->pb, n, event_ref, event_unref, e};
}

/* ps->mu held: queues e on s's call. With claimed, no drain job is
 * started: *claimed says whether the caller must drain the call
 * (weft__server_drain_calls). 0; WEFT_ERR_NOMEM; or WEFT_ERR_CLOSED: the
 * subscription is over, s is unlinked and must be ended (end_unlinked)
 * after the lock. */
static int queue_on(weft__pubsub *ps, sub *s, event *e, bool *claimed) {
  atomic_fetch_add(&e->refs, 1);
  int r = claimed
              ? weft__server_call_queue(s->call, &e->ev, e->pb ? &e->enc : NULL,
                                        event_unref, e, claimed)
              : weft__server_call_send_ref(s->call, &e->ev, event_unref, e);
  if (r == 0)
    return 0;
  atomic_fetch_sub(&e->refs, 1); /* not taken */
  if (r == WEFT_ERR_NOMEM)
    return r;
  /* AGAIN: the queue is full. Anything else: the client is gone. */
  unlink_sub(ps, s);
  s->slow = r == WEFT_ERR_AGAIN;
  return WEFT_ERR_CLOSED;
}

static void end_unlinked(weft__pubsub *ps, sub *s) {
  if (s->slow)
    end_sub(ps, s, WEFT_STATUS_RESOURCE_EXHAUSTED,
            "subscriber too slow: event queue full");
  else
    end_sub(ps, s, WEFT_STATUS_CANCELLED, "subscriber went away");
}

/* Takes ownership of type_url and value. */
static int deliver(weft__pubsub *ps, const char *topic, char *type_url,
                   uint8_t *value, size_t len, unsigned *delivered) {
  event *e = event_new(topic, type_url, value, len);
  if (!e)
    return WEFT_ERR_NOMEM;
  unsigned n = 0;
  int rv = 0;
  sub *ended = NULL; /* unlinked here, finished after the lock */
  pthread_mutex_lock(&ps->mu);
  e->ev.sequence = next_seq(ps, topic);
  event_encode(e);
  /* The calls whose drain is ours to start: a batch of them per pool job,
   * after the lock (without memory for the list, a job per call). */
  weft_server_call **todo = ps->nsubs ? malloc(ps->nsubs * sizeof *todo) : NULL;
  size_t ntodo = 0;
  /* Backwards: a subscriber unlinked here (swapped with the last one)
   * was the last one not yet looked at, or is this one. */
  for (size_t i = ps->nlinked; i-- > 0;) {
    /* Each subscriber's memory is cold (10,000 of them, touched once an
     * event): fetch some ahead, and their calls, rather than stall on each
     * in turn. */
    if (i >= 8)
      __builtin_prefetch(ps->subs[i - 8]);
    if (i >= 4) {
      sub *a = ps->subs[i - 4];
      __builtin_prefetch(a->topic);
      __builtin_prefetch(&a->call->amu);
      __builtin_prefetch(&a->call->sendq);
    }
    sub *s = ps->subs[i];
    if (s->durable || strcmp(s->topic, topic) != 0)
      continue;
    bool claimed = false;
    int r = queue_on(ps, s, e, todo ? &claimed : NULL);
    if (claimed)
      todo[ntodo++] = s->call;
    if (r == 0) {
      n++;
    } else if (r == WEFT_ERR_NOMEM) {
      rv = r;
    } else {
      s->next = ended;
      ended = s;
    }
  }
  pthread_mutex_unlock(&ps->mu);
  weft__server_drain_calls(todo, ntodo);
  free(todo);
  event_unref(e);
  for (sub *s = ended, *nx; s; s = nx) {
    nx = s->next;
    end_unlinked(ps, s);
  }
  if (delivered)
    *delivered = n;
  return rv;
}

/* The NATS message of a publish: a weft.v1.PublishRequest. */
static int nats_publish(weft__pubsub *ps, const char *topic,
                        const char *type_url, const uint8_t *value, size_t len,
                        uint64_t *seq) {
  google__protobuf__Any any;
  google__protobuf__Any_init(&any);
  any.type_url = (char *)type_url;
  any.value.data = (uint8_t *)value;
  any.value.len = len;
  weft__v1__PublishRequest pr;
  weft__v1__PublishRequest_init(&pr);
  pr.topic = (char *)topic;
  pr.message = &any;
  uint8_t *buf = NULL;
  size_t n = 0;
  int rv = weft_encode_alloc(&pr, &buf, &n);
  if (rv < 0)
    return rv;
  *seq = 0;
  if (is_durable(ps, topic))
    rv = weft__psnats_js_publish(ps->nats, topic, buf, n, seq);
  else
    rv = weft__psnats_publish(ps->nats, topic, buf, n);
  free(buf);
  return rv;
}

/* A NATS message's event (NULL: malformed, logged; or no memory). */
static event *event_from(weft__pubsub *ps, const uint8_t *data, size_t len) {
  void *m = NULL;
  weft_error err;
  weft_error_clear(&err);
  if (weft_decode(&weft__v1__PublishRequest_desc, data, len, NULL, &m, &err) <
      0) {
    weft__server_log(ps->s, 2, "nats: dropped a malformed event (%s)",
                     err.message);
    return NULL;
  }
  weft__v1__PublishRequest *pr = m;
  event *e = NULL;
  if (pr->topic && *pr->topic && pr->message && pr->message->type_url) {
    /* The event owns its buffers; the decoded tree is one block. */
    char *url = dupstr(pr->message->type_url);
    size_t vl = pr->message->value.len;
    uint8_t *v = malloc(vl ? vl : 1);
    if (url && v) {
      if (vl)
        memcpy(v, pr->message->value.data, vl);
      e = event_new(pr->topic, url, v, vl);
    } else {
      free(url);
      free(v);
    }
  }
  weft_message_free(m);
  return e;
}

/* The next stored event of a durable subscriber's stream (libnats's
 * delivery thread). */
static void from_stream(void *ud, uint64_t seq, const uint8_t *data,
                        size_t len) {
  dsub *d = ud;
  weft__pubsub *ps = d->ps;
  event *e = event_from(ps, data, len);
  pthread_mutex_lock(&ps->mu);
  sub *s = d->s;
  int r = 0;
  if (s && e) {
    e->ev.sequence = seq;
    r = queue_on(ps, s, e, NULL);
  }
  if (r == WEFT_ERR_NOMEM) {
    /* The subscriber would miss this event: end the stream instead, so
     * the client resumes from its last one (what a cursor is for). A
     * malformed event (logged by event_from) is skipped: resuming would
     * only meet it again. */
    unlink_sub(ps, s);
  }
  pthread_mutex_unlock(&ps->mu);
  if (e)
    event_unref(e);
  if (r == WEFT_ERR_CLOSED)
    end_unlinked(ps, s);
  else if (r == WEFT_ERR_NOMEM)
    end_sub(ps, s, WEFT_STATUS_RESOURCE_EXHAUSTED,
            "out of memory: resume from the last sequence");
}

static void follow_done(void *ud) {
  free(ud);
}

/* A publish from NATS (any node's, ours included): libnats's delivery
 * thread. */
static void from_nats(void *ud, const uint8_t *data, size_t len) {
  weft__pubsub *ps = ud;
  event *e = event_from(ps, data, len);
  if (!e)
    return;
  /* deliver() makes its own event: hand it e's buffers. */
  char *topic = e->ev.topic;
  deliver(ps, topic, e->any.type_url, e->any.value.data, e->any.value.len,
          NULL);
  free(topic);
  free(e);
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
  if (ps->nats) {
    uint64_t seq;
    rv = nats_publish(ps, topic, url, buf, len, &seq);
    free(url);
    free(buf);
    if (delivered)
      *delivered = 0;
    return rv;
  }
  return deliver(ps, topic, url, buf, len, delivered);
}

/* ---- handlers ---- */

/* on_cancel: the client went away (or the server is shutting down). */
static void sub_cancelled(weft_server_call *call, void *ud) {
  (void)call;
  sub *s = ud;
  weft__pubsub *ps = s->ps;
  pthread_mutex_lock(&ps->mu);
  bool mine = s->linked;
  if (mine)
    unlink_sub(ps, s);
  pthread_mutex_unlock(&ps->mu);
  if (mine)
    end_sub(ps, s, WEFT_STATUS_CANCELLED, "subscriber went away");
}

/* The status of a NATS failure, with a message naming the topic. */
static int nats_refused(weft_server_call *call, const char *topic,
                        const char *what, int rv) {
  switch (rv) {
  case WEFT_ERR_NOMEM:
    weft_server_call_set_message(call, "%s %s: out of memory", what, topic);
    return WEFT_STATUS_RESOURCE_EXHAUSTED;
  case WEFT_ERR_TOO_BIG:
    weft_server_call_set_message(
        call,
        "%s %s: too large for NATS (event over max_payload, or a "
        "durable topic name over 200 bytes once escaped)",
        what, topic);
    return WEFT_STATUS_INVALID_ARGUMENT;
  default:
    weft_server_call_set_message(
        call, "%s %s: the cluster's NATS server is unreachable", what, topic);
    return WEFT_STATUS_UNAVAILABLE;
  }
}

/* ps->mu held, call detached: queues the acknowledgement and links s.
 * The acknowledgement's sequence is the one a durable subscription made
 * without a cursor starts after (0 otherwise): a client that must
 * subscribe again before it saw an event passes it as its cursor, so the
 * events published meanwhile are not skipped. false: the client is gone, or no
 * memory (s is counted, not linked: end_sub it). */
static bool ack_and_link(weft__pubsub *ps, sub *s, uint64_t after) {
  ps->nsubs++; /* end_sub counts it down */
  if (ps->nlinked == ps->cap) {
    size_t cap = ps->cap ? ps->cap * 2 : 64;
    sub **a = realloc(ps->subs, cap * sizeof *a);
    if (!a)
      return false;
    ps->subs = a;
    ps->cap = cap;
  }
  weft__v1__Event *ack = weft__v1__Event_new(weft_server_call_arena(s->call));
  if (ack) {
    ack->topic = (char *)s->topic;
    ack->sequence = after;
  }
  if (!ack || weft__server_call_send_ref(s->call, ack, NULL, NULL) < 0)
    return false;
  s->linked = true;
  s->idx = ps->nlinked;
  ps->subs[ps->nlinked++] = s;
  return true;
}

/* A durable topic: its own JetStream consumer, from the client's cursor
 * or from the end of the stream as it is now. */
static int subscribe_durable(weft__pubsub *ps, sub *s,
                             const weft__v1__SubscribeRequest *req) {
  weft_server_call *call = s->call;
  uint64_t first = 0, last = 0;
  int rv = weft__psnats_js_position(ps->nats, req->topic, &first, &last);
  if (rv < 0)
    return nats_refused(call, req->topic, "Subscribe", rv);
  uint64_t start = last + 1;
  if (req->has_after_sequence) {
    start = req->after_sequence + 1;
    /* Events after the cursor that retention has dropped: say so rather
     * than resume with a silent gap. */
    if (last > 0 && first > start) {
      weft_server_call_set_message(
          call,
          "Subscribe %s: events %llu..%llu are no longer stored (the "
          "stream starts at %llu)",
          req->topic, (unsigned long long)start,
          (unsigned long long)(first - 1), (unsigned long long)first);
      return WEFT_STATUS_OUT_OF_RANGE;
    }
  }
  dsub *d = calloc(1, sizeof *d);
  if (!d)
    return WEFT_STATUS_RESOURCE_EXHAUSTED;
  d->ps = ps;
  s->durable = true;
  pthread_mutex_lock(&ps->mu);
  if (ps->stopping) {
    pthread_mutex_unlock(&ps->mu);
    free(d);
    weft_server_call_set_message(call, "server shutting down");
    return WEFT_STATUS_UNAVAILABLE;
  }
  weft_server_call_detach(call);
  weft_server_call_on_cancel(call, sub_cancelled, s);
  /* Acknowledged before the consumer exists: it starts at `start`
   * whenever it is made, so nothing published after the position above
   * is missed, and its first event queues behind the acknowledgement. */
  /* The position goes in the acknowledgement only when the client has no
   * cursor of its own: a resuming client knows where it is, and older
   * clients may still look for sequence 0 there. */
  if (!ack_and_link(ps, s, req->has_after_sequence ? 0 : start - 1)) {
    pthread_mutex_unlock(&ps->mu);
    free(d);
    end_sub(ps, s, WEFT_STATUS_CANCELLED, "subscriber went away");
    return WEFT_STATUS_OK;
  }
  s->d = d;
  d->s = s;
  pthread_mutex_unlock(&ps->mu);
  weft__psfollow *f = NULL;
  rv = weft__psnats_js_follow(ps->nats, req->topic, start, from_stream,
                              follow_done, d, &f);
  pthread_mutex_lock(&ps->mu);
  if (d->ended) { /* the client went meanwhile; its end_sub had no f */
    pthread_mutex_unlock(&ps->mu);
    if (f)
      weft__psnats_js_unfollow(f); /* follow_done frees d */
    else
      free(d);
  } else if (!f) {
    unlink_sub(ps, s);
    pthread_mutex_unlock(&ps->mu);
    free(d);
    end_sub(ps, s, WEFT_STATUS_UNAVAILABLE,
            "the cluster's NATS server is unreachable (JetStream consumer)");
  } else {
    d->f = f;
    pthread_mutex_unlock(&ps->mu);
  }
  (void)rv;
  return WEFT_STATUS_OK; /* ignored: the call is detached */
}

static int ps_subscribe(weft_server_call *call,
                        const weft__v1__SubscribeRequest *req, void *ctx) {
  weft__pubsub *ps = ctx;
  if (!req->topic || !*req->topic) {
    weft_server_call_set_message(call, "Subscribe: topic is required");
    return WEFT_STATUS_INVALID_ARGUMENT;
  }
  weft_arena *a = weft_server_call_arena(call);
  sub *s = weft_arena_alloc(a, sizeof *s);
  if (!s)
    return WEFT_STATUS_RESOURCE_EXHAUSTED;
  memset(s, 0, sizeof *s);
  s->topic = req->topic; /* in the call's arena too */
  s->call = call;
  s->ps = ps;
  if (ps->nats && is_durable(ps, req->topic))
    return subscribe_durable(ps, s, req);
  /* Before the acknowledgement: once the client has it, the NATS server
   * has our subscription, so no later publish on any node is missed. */
  if (ps->nats) {
    int rv = weft__psnats_watch(ps->nats, req->topic);
    if (rv < 0)
      return nats_refused(call, req->topic, "Subscribe", rv);
  }
  pthread_mutex_lock(&ps->mu);
  if (ps->stopping) {
    pthread_mutex_unlock(&ps->mu);
    if (ps->nats)
      weft__psnats_unwatch(ps->nats, req->topic);
    weft_server_call_set_message(call, "server shutting down");
    return WEFT_STATUS_UNAVAILABLE;
  }
  weft_server_call_detach(call);
  weft_server_call_on_cancel(call, sub_cancelled, s);
  /* The acknowledgement is queued under the lock publishes take, so every
   * publish after the client saw it is queued behind it for us. */
  if (!ack_and_link(ps, s, 0)) {
    pthread_mutex_unlock(&ps->mu);
    end_sub(ps, s, WEFT_STATUS_CANCELLED, "subscriber went away");
    return WEFT_STATUS_OK;
  }
  pthread_mutex_unlock(&ps->mu);
  return WEFT_STATUS_OK; /* ignored: the call is detached */
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
  if (ps->nats) {
    /* Delivered later, from NATS, on every node: not counted here. */
    uint64_t seq = 0;
    int rv = nats_publish(ps, req->topic, url, v, len, &seq);
    free(url);
    free(v);
    if (rv < 0)
      return nats_refused(call, req->topic, "Publish", rv);
    resp->delivered = 0;
    resp->sequence = seq;
    return WEFT_STATUS_OK;
  }
  if (deliver(ps, req->topic, url, v, len, &n) < 0)
    return WEFT_STATUS_RESOURCE_EXHAUSTED;
  resp->delivered = n;
  return WEFT_STATUS_OK;
}

static const weft__v1__PubSub_impl ps_impl = {ps_subscribe, ps_publish};

static void free_durable(char **d) {
  for (char **p = d; p && *p; p++)
    free(*p);
  free(d);
}

int weft__pubsub_new(weft__pubsub **out, weft_server *s,
                     const weft_server_opts *opts, weft_error *err) {
  weft__pubsub *ps = calloc(1, sizeof *ps);
  if (!ps)
    return weft_error_set(err, WEFT_ERR_NOMEM, "pubsub: out of memory");
  ps->s = s;
  pthread_mutex_init(&ps->mu, NULL);
  weft__cond_init(&ps->cv);
  if (opts && opts->nats_url) {
    size_t nd = 0;
    while (opts->durable_topics && opts->durable_topics[nd])
      nd++;
    int rv = WEFT_ERR_NOMEM;
    if (nd) {
      if (!(ps->durable = calloc(nd + 1, sizeof *ps->durable)))
        goto fail;
      for (size_t i = 0; i < nd; i++)
        if (!(ps->durable[i] = dupstr(opts->durable_topics[i])))
          goto fail;
    }
    rv = weft__psnats_open(&ps->nats, s, opts->nats_url, opts->node_id, nd > 0,
                           from_nats, ps, err);
    if (rv < 0)
      goto fail;
  }
  *out = ps;
  return 0;
fail:
  if (err && !err->message[0])
    weft_error_set(err, WEFT_ERR_NOMEM, "pubsub: out of memory");
  free_durable(ps->durable);
  pthread_cond_destroy(&ps->cv);
  pthread_mutex_destroy(&ps->mu);
  free(ps);
  return err ? err->code : WEFT_ERR_NOMEM;
}

int weft__pubsub_add(weft_server *s) {
  return weft_server_add_service(s, &weft__v1__PubSub_service, &ps_impl,
                                 weft__server_pubsub(s));
}

/* Ends every subscription (UNAVAILABLE) and refuses new ones. Does not wait
 * for the calls to be written out: they are in-flight calls, so the
 * server's shutdown waits for them with the others. */
void weft__pubsub_shutdown(weft__pubsub *ps) {
  if (!ps)
    return;
  pthread_mutex_lock(&ps->mu);
  ps->stopping = true;
  sub *all = NULL;
  while (ps->nlinked) {
    sub *s = ps->subs[ps->nlinked - 1];
    unlink_sub(ps, s);
    s->next = all;
    all = s;
  }
  pthread_mutex_unlock(&ps->mu);
  for (sub *s = all, *nx; s; s = nx) {
    nx = s->next;
    end_sub(ps, s, WEFT_STATUS_UNAVAILABLE, "server shutting down");
  }
}

/* After the server's shutdown: every subscription has ended by now. */
void weft__pubsub_free(weft__pubsub *ps) {
  if (!ps)
    return;
  weft__pubsub_shutdown(ps);
  pthread_mutex_lock(&ps->mu);
  while (ps->nsubs)
    pthread_cond_wait(&ps->cv, &ps->mu);
  pthread_mutex_unlock(&ps->mu);
  weft__psnats_close(ps->nats); /* waits for a delivery still running */
  free_durable(ps->durable);
  free(ps->subs);
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
