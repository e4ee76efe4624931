/* MB requests across nodes: the NATS side of weft's MB broker mode
 * (weft_mb_hub_opts.nats_url; docs/CLUSTER.md).
 *
 * Serving: a node whose broker has a request-subscriber for topic T keeps a
 * NATS queue subscription on "weft.mb.req.<t>" (t: T lowercase, as the
 * broker matches topics; MB topics are dot-separated alphanumeric words,
 * so they are valid NATS subject tokens as they are) in the queue group
 * "weft-mb", so each request reaches one node. A request arriving there is
 * fed to the broker as if sent by a virtual connection of the hub
 * (WEFT__MB_VCONN) under an id of ours; the broker routes it to a local
 * service as it does any request (priorities, TIMEOUT, NO_ROUTE_FOUND if
 * the service left meanwhile), and whatever it answers the virtual
 * connection goes back to the NATS reply subject.
 *
 * Calling: a request whose topic has no local subscriber is offered by the
 * broker (remote_request) and published on that subject with a reply
 * subject of this hub's inbox plus the broker's id for it. The answer (or
 * NATS's "no responders", which becomes NO_ROUTE_FOUND) is handed back to
 * the broker, which still owns the deadline: a node that never answers is
 * a TIMEOUT, as a local service would be.
 *
 * Publishing: a node whose broker has a publish-subscriber for topic T
 * keeps a plain subscription on "weft.mb.pub.<t>" (every such node gets
 * every publish). A publish is delivered to the local subscribers by the
 * broker and then published there (the connection does not echo its own
 * messages back). When no local subscriber got it, it goes as a request
 * instead: each node that delivers it answers the ACK payload, the first
 * answer acknowledges the publisher, and NATS's "no responders" (no node
 * subscribes) is NO_ROUTE_FOUND, as on one broker.
 *
 * Lists: each hub sends its registry (its services and subscriptions,
 * weft_mb_broker_registry) on "weft.mb.reg.n.<node>" when it changes and
 * every WEFT__MB_REGISTRY_MS, and keeps the others' last ones; the
 * system.* lists show them after the local ones. A registry not heard
 * again for three periods (a node killed) is dropped; a node that stops
 * sends an empty one; a node that starts asks on "weft.mb.reg.hello", and
 * every node answers with its registry.
 *
 * Threads: NATS messages arrive on libnats threads and call into the hub
 * (which takes its mutex, as its WebSocket connections' threads do);
 * the broker's callbacks into this file run with the hub's mutex held and
 * only queue NATS messages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mb_nats_int.h"

#ifdef WEFT_HAVE_NATS
#include <nats/nats.h>

typedef struct tsub {
  char topic[WEFT_MB_MAX_TOPIC + 1];
  natsSubscription *sub;
  struct tsub *next;
} tsub;

/* Another node's last registry. */
typedef struct nreg {
  char node[64];
  char *json;
  int64_t at_ms;
  struct nreg *next;
} nreg;

/* A request from another node, in our broker under vid. */
typedef struct vreq {
  char vid[WEFT_MB_UUID_LEN + 1];
  char *reply;
  struct vreq *next;
} vreq;

struct weft__mbnats {
  weft_mb_hub *hub;
  natsConnection *nc;
  natsInbox *inbox;
  natsSubscription *rep;
  char url[256];
  pthread_mutex_t mu; /* everything below */
  pthread_cond_t cv;
  unsigned live; /* subscriptions whose handler may still run */
  tsub *topics;  /* request topics */
  tsub *ptopics; /* publish topics */
  natsSubscription *regsub;
  char node[64]; /* node id as a subject token */
  char *mine;    /* our registry, last sent */
  nreg *regs;
  vreq *vreqs;
  uint64_t counter;
};

static void on_complete(void *closure) {
  weft__mbnats *n = closure;
  pthread_mutex_lock(&n->mu);
  n->live--;
  pthread_cond_broadcast(&n->cv);
  pthread_mutex_unlock(&n->mu);
}

/* The subject of a topic's requests ("req") or publishes ("pub"), or
 * false if it does not fit. */
static bool subject(const char *kind, const char *topic, char *out,
                    size_t cap) {
  int k = snprintf(out, cap, "weft.mb.%s.%s", kind, topic);
  if (k < 0 || (size_t)k >= cap)
    return false;
  for (char *p = out; *p; p++)
    if (*p >= 'A' && *p <= 'Z')
      *p = (char)(*p - 'A' + 'a');
  return true;
}

/* A request from another node (libnats thread). */
static void on_request(natsConnection *nc, natsSubscription *sub, natsMsg *m,
                       void *closure) {
  (void)nc, (void)sub;
  weft__mbnats *n = closure;
  const char *data = natsMsg_GetData(m);
  int len = natsMsg_GetDataLength(m);
  const char *reply = natsMsg_GetReply(m);
  const char *nl = data ? memchr(data, '\n', (size_t)len) : NULL;
  weft_mb_header h;
  weft_mb_code code;
  if (!reply || !nl ||
      weft_mb_header_parse(data, (size_t)(nl - data), &h, &code, NULL) < 0 ||
      h.action != WEFT_MB_REQUEST) {
    natsMsg_Destroy(m);
    return; /* not ours; the caller times out */
  }
  vreq *v = calloc(1, sizeof *v);
  size_t rl = strlen(reply) + 1;
  if (v && (v->reply = malloc(rl))) {
    memcpy(v->reply, reply, rl);
  } else {
    free(v);
    natsMsg_Destroy(m);
    return;
  }
  pthread_mutex_lock(&n->mu);
  uint64_t k = ++n->counter;
  pthread_mutex_unlock(&n->mu);
  /* A request id must look like a UUID (8-4-4-4-12 lowercase hex). */
  snprintf(v->vid, sizeof v->vid, "%08x-%04x-4%03x-8%03x-%012llx",
           (unsigned)((uintptr_t)n >> 4), (unsigned)(k >> 48) & 0xffff,
           (unsigned)(k >> 36) & 0xfff, (unsigned)(k >> 24) & 0xfff,
           (unsigned long long)(k & 0xffffffffffffull));
  memcpy(h.request_id, v->vid, sizeof h.request_id);
  h.parent_request_id[0] = '\0';
  char line[WEFT_MB_MAX_HEADER + 1];
  ssize_t hl = weft_mb_header_encode(&h, line, sizeof line, NULL);
  size_t plen = (size_t)len - (size_t)(nl + 1 - data);
  char *msg = hl > 0 ? malloc((size_t)hl + 1 + plen) : NULL;
  if (!msg) {
    free(v->reply);
    free(v);
    natsMsg_Destroy(m);
    return;
  }
  memcpy(msg, line, (size_t)hl);
  msg[hl] = '\n';
  memcpy(msg + hl + 1, nl + 1, plen);
  pthread_mutex_lock(&n->mu);
  v->next = n->vreqs;
  n->vreqs = v;
  pthread_mutex_unlock(&n->mu);
  weft__mbhub_inject(n->hub, msg, (size_t)hl + 1 + plen);
  free(msg);
  natsMsg_Destroy(m);
}

/* A publish from another node (libnats thread): to the local subscribers;
 * acknowledged when the sender waits for it and someone here got it. */
static void on_publish(natsConnection *nc, natsSubscription *sub, natsMsg *m,
                       void *closure) {
  (void)sub;
  weft__mbnats *n = closure;
  int got = weft__mbhub_remote_publish(n->hub, natsMsg_GetData(m),
                                       (size_t)natsMsg_GetDataLength(m));
  const char *reply = natsMsg_GetReply(m);
  if (got > 0 && reply)
    natsConnection_Publish(nc, reply, WEFT_MB_ACK_PAYLOAD,
                           (int)strlen(WEFT_MB_ACK_PAYLOAD));
  natsMsg_Destroy(m);
}

static int64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void send_mine(weft__mbnats *n) {
  char subj[128];
  snprintf(subj, sizeof subj, "weft.mb.reg.n.%s", n->node);
  pthread_mutex_lock(&n->mu);
  char *copy = n->mine ? strdup(n->mine) : NULL;
  pthread_mutex_unlock(&n->mu);
  if (copy)
    natsConnection_Publish(n->nc, subj, copy, (int)strlen(copy));
  free(copy);
}

/* A registry, a goodbye (empty) or a hello from another node (libnats
 * thread). */
static void on_registry(natsConnection *nc, natsSubscription *sub, natsMsg *m,
                        void *closure) {
  (void)nc, (void)sub;
  weft__mbnats *n = closure;
  const char *subj = natsMsg_GetSubject(m);
  static const char pre[] = "weft.mb.reg.n.";
  if (subj && !strcmp(subj, "weft.mb.reg.hello")) {
    send_mine(n);
  } else if (subj && !strncmp(subj, pre, sizeof pre - 1) &&
             strlen(subj + sizeof pre - 1) < sizeof n->regs->node) {
    const char *node = subj + sizeof pre - 1;
    int len = natsMsg_GetDataLength(m);
    char *json = len > 0 ? malloc((size_t)len + 1) : NULL;
    if (json) {
      memcpy(json, natsMsg_GetData(m), (size_t)len);
      json[len] = 0;
    }
    pthread_mutex_lock(&n->mu);
    nreg **pr = &n->regs;
    while (*pr && strcmp((*pr)->node, node))
      pr = &(*pr)->next;
    nreg *r = *pr;
    if (!json && r) { /* goodbye */
      *pr = r->next;
      free(r->json);
      free(r);
    } else if (json && (r || (r = calloc(1, sizeof *r)))) {
      if (!*pr) {
        snprintf(r->node, sizeof r->node, "%s", node);
        r->next = n->regs;
        n->regs = r;
      }
      free(r->json);
      r->json = json;
      r->at_ms = wall_ms();
      json = NULL;
    }
    pthread_mutex_unlock(&n->mu);
    free(json);
  }
  natsMsg_Destroy(m);
}

void weft__mbnats_registry(weft__mbnats *n, const char *json) {
  char *copy = strdup(json);
  if (!copy)
    return;
  pthread_mutex_lock(&n->mu);
  free(n->mine);
  n->mine = copy;
  pthread_mutex_unlock(&n->mu);
  send_mine(n);
}

char *weft__mbnats_registries(weft__mbnats *n, int64_t now_ms) {
  int64_t old = now_ms - 3 * WEFT__MB_REGISTRY_MS;
  pthread_mutex_lock(&n->mu);
  size_t len = 3;
  for (nreg **pr = &n->regs; *pr;) {
    nreg *r = *pr;
    if (r->at_ms < old) { /* not heard of for too long: gone */
      *pr = r->next;
      free(r->json);
      free(r);
      continue;
    }
    len += strlen(r->json) + 1;
    pr = &r->next;
  }
  char *out = n->regs ? malloc(len) : NULL;
  if (out) {
    size_t k = 0;
    out[k++] = '[';
    for (nreg *r = n->regs; r; r = r->next) {
      size_t l = strlen(r->json);
      memcpy(out + k, r->json, l);
      k += l;
      if (r->next)
        out[k++] = ',';
    }
    out[k++] = ']';
    out[k] = 0;
  }
  pthread_mutex_unlock(&n->mu);
  return out;
}

/* The answer to one of our requests (libnats thread). */
static void on_reply(natsConnection *nc, natsSubscription *sub, natsMsg *m,
                     void *closure) {
  (void)nc, (void)sub;
  weft__mbnats *n = closure;
  const char *subj = natsMsg_GetSubject(m);
  const char *dot = subj ? strrchr(subj, '.') : NULL;
  if (dot) {
    if (natsMsg_IsNoResponders(m))
      weft__mbhub_remote_no_route(n->hub, dot + 1);
    else
      weft__mbhub_remote_answer(n->hub, dot + 1, natsMsg_GetData(m),
                                (size_t)natsMsg_GetDataLength(m));
  }
  natsMsg_Destroy(m);
}

int weft__mbnats_open(weft__mbnats **out, weft_mb_hub *hub, const char *url,
                      const char *node_id, weft_error *err) {
  *out = NULL;
  weft__mbnats *n = calloc(1, sizeof *n);
  if (!n)
    return weft_error_set(err, WEFT_ERR_NOMEM, "mb nats: out of memory");
  n->hub = hub;
  snprintf(n->url, sizeof n->url, "%s", url);
  /* A subject token: the node id's [A-Za-z0-9_-], anything else '_'. */
  snprintf(n->node, sizeof n->node, "%s",
           node_id && *node_id ? node_id : "node");
  for (char *p = n->node; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
          (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
      *p = '_';
  pthread_mutex_init(&n->mu, NULL);
  pthread_cond_init(&n->cv, NULL);
  char name[128];
  snprintf(name, sizeof name, "weft-mb-%s",
           node_id && *node_id ? node_id : "node");
  natsOptions *o = NULL;
  natsStatus st = natsOptions_Create(&o);
  if (st == NATS_OK)
    st = natsOptions_SetURL(o, url);
  if (st == NATS_OK)
    st = natsOptions_SetName(o, name);
  if (st == NATS_OK)
    st = natsOptions_SetTimeout(o, 2000);
  if (st == NATS_OK)
    st = natsOptions_SetMaxReconnect(o, -1);
  if (st == NATS_OK)
    st = natsOptions_UseGlobalMessageDelivery(o, true);
  /* Our own publishes are delivered here by the broker already. */
  if (st == NATS_OK)
    st = natsOptions_SetNoEcho(o, true);
  if (st == NATS_OK)
    st = natsConnection_Connect(&n->nc, o);
  natsOptions_Destroy(o);
  char inbox_sub[128] = "";
  if (st == NATS_OK)
    st = natsInbox_Create(&n->inbox);
  if (st == NATS_OK) {
    snprintf(inbox_sub, sizeof inbox_sub, "%s.*", (const char *)n->inbox);
    st = natsConnection_Subscribe(&n->rep, n->nc, inbox_sub, on_reply, n);
  }
  if (st == NATS_OK) {
    st = natsSubscription_SetOnCompleteCB(n->rep, on_complete, n);
    if (st == NATS_OK)
      n->live++;
  }
  if (st == NATS_OK)
    st = natsConnection_Subscribe(&n->regsub, n->nc, "weft.mb.reg.>",
                                  on_registry, n);
  if (st == NATS_OK) {
    st = natsSubscription_SetOnCompleteCB(n->regsub, on_complete, n);
    if (st == NATS_OK)
      n->live++;
  }
  /* The others answer with their registries. */
  if (st == NATS_OK)
    st = natsConnection_PublishString(n->nc, "weft.mb.reg.hello", "");
  if (st != NATS_OK) {
    weft_error_set(err, WEFT_ERR_CONNECT, "nats %s: MB broker: %s", url,
                   natsStatus_GetText(st));
    natsSubscription_Destroy(n->regsub);
    natsSubscription_Destroy(n->rep);
    natsInbox_Destroy(n->inbox);
    natsConnection_Destroy(n->nc);
    pthread_cond_destroy(&n->cv);
    pthread_mutex_destroy(&n->mu);
    free(n);
    return WEFT_ERR_CONNECT;
  }
  *out = n;
  return 0;
}

void weft__mbnats_close(weft__mbnats *n) {
  if (!n)
    return;
  pthread_mutex_lock(&n->mu);
  tsub *lists[2] = {n->topics, n->ptopics};
  n->topics = n->ptopics = NULL;
  pthread_mutex_unlock(&n->mu);
  for (int i = 0; i < 2; i++)
    for (tsub *t = lists[i], *nx; t; t = nx) {
      nx = t->next;
      natsSubscription_Unsubscribe(t->sub);
      natsSubscription_Destroy(t->sub);
      free(t);
    }
  natsSubscription_Unsubscribe(n->rep);
  natsSubscription_Destroy(n->rep);
  natsSubscription_Unsubscribe(n->regsub);
  natsSubscription_Destroy(n->regsub);
  /* Goodbye: the others drop our services now, not in three periods. */
  char subj[128];
  snprintf(subj, sizeof subj, "weft.mb.reg.n.%s", n->node);
  natsConnection_Publish(n->nc, subj, NULL, 0);
  natsConnection_Flush(n->nc);
  /* Handlers call into the hub: wait until none can run any more. */
  pthread_mutex_lock(&n->mu);
  while (n->live)
    pthread_cond_wait(&n->cv, &n->mu);
  pthread_mutex_unlock(&n->mu);
  natsConnection_Close(n->nc);
  natsConnection_Destroy(n->nc);
  natsInbox_Destroy(n->inbox);
  for (vreq *v = n->vreqs, *nx; v; v = nx) {
    nx = v->next;
    free(v->reply);
    free(v);
  }
  for (nreg *r = n->regs, *nx; r; r = nx) {
    nx = r->next;
    free(r->json);
    free(r);
  }
  free(n->mine);
  pthread_cond_destroy(&n->cv);
  pthread_mutex_destroy(&n->mu);
  free(n);
}

int weft__mbnats_request(weft__mbnats *n, const char *broker_id,
                         const weft_mb_header *h, const char *payload,
                         size_t len) {
  if (natsConnection_Status(n->nc) != NATS_CONN_STATUS_CONNECTED)
    return WEFT_ERR_CONNECT;
  char subj[WEFT_MB_MAX_TOPIC + 32], reply[160];
  if (!subject("req", h->topic, subj, sizeof subj))
    return WEFT_ERR_TOO_BIG;
  snprintf(reply, sizeof reply, "%s.%s", (const char *)n->inbox, broker_id);
  /* The caller's topic, version and deadline, under the broker's id. */
  weft_mb_header fh = *h;
  memcpy(fh.request_id, broker_id, sizeof fh.request_id);
  fh.parent_request_id[0] = '\0';
  fh.has_timeout = true;
  char line[WEFT_MB_MAX_HEADER + 1];
  ssize_t hl = weft_mb_header_encode(&fh, line, sizeof line, NULL);
  if (hl < 0)
    return (int)hl;
  char *msg = malloc((size_t)hl + 1 + len);
  if (!msg)
    return WEFT_ERR_NOMEM;
  memcpy(msg, line, (size_t)hl);
  msg[hl] = '\n';
  memcpy(msg + hl + 1, payload, len);
  natsStatus st = natsConnection_PublishRequest(n->nc, subj, reply, msg,
                                                (int)((size_t)hl + 1 + len));
  free(msg);
  return st == NATS_OK ? 0 : WEFT_ERR_CONNECT;
}

/* Subscribes to (on) or leaves (off) a topic's subject of kind; requests
 * in a queue group (one node serves each), publishes not (every node
 * delivers each). */
static void follow(weft__mbnats *n, tsub **list, const char *kind,
                   const char *topic, bool on) {
  if (on) {
    char subj[WEFT_MB_MAX_TOPIC + 32];
    tsub *t = calloc(1, sizeof *t);
    if (!t || !subject(kind, topic, subj, sizeof subj)) {
      free(t);
      return;
    }
    snprintf(t->topic, sizeof t->topic, "%s", topic);
    /* Queued on the connection (no round trip under the hub's lock):
     * other nodes see the route once the NATS server has read it. */
    natsStatus st =
        list == &n->topics
            ? natsConnection_QueueSubscribe(&t->sub, n->nc, subj, "weft-mb",
                                            on_request, n)
            : natsConnection_Subscribe(&t->sub, n->nc, subj, on_publish, n);
    if (st != NATS_OK) {
      free(t);
      return;
    }
    pthread_mutex_lock(&n->mu);
    if (natsSubscription_SetOnCompleteCB(t->sub, on_complete, n) == NATS_OK)
      n->live++;
    t->next = *list;
    *list = t;
    pthread_mutex_unlock(&n->mu);
    return;
  }
  pthread_mutex_lock(&n->mu);
  tsub **pt = list;
  while (*pt && strcmp((*pt)->topic, topic))
    pt = &(*pt)->next;
  tsub *t = *pt;
  if (t)
    *pt = t->next;
  pthread_mutex_unlock(&n->mu);
  if (t) {
    natsSubscription_Unsubscribe(t->sub);
    natsSubscription_Destroy(t->sub);
    free(t);
  }
}

void weft__mbnats_interest(weft__mbnats *n, const char *topic, bool on) {
  follow(n, &n->topics, "req", topic, on);
}

void weft__mbnats_publish_interest(weft__mbnats *n, const char *topic,
                                   bool on) {
  follow(n, &n->ptopics, "pub", topic, on);
}

int weft__mbnats_publish(weft__mbnats *n, const char *broker_id,
                         const char *msg, size_t len, bool delivered) {
  if (natsConnection_Status(n->nc) != NATS_CONN_STATUS_CONNECTED)
    return WEFT_ERR_CONNECT;
  const char *nl = memchr(msg, '\n', len);
  weft_mb_header h;
  weft_mb_code code;
  char subj[WEFT_MB_MAX_TOPIC + 32], reply[160];
  if (!nl ||
      weft_mb_header_parse(msg, (size_t)(nl - msg), &h, &code, NULL) < 0 ||
      !subject("pub", h.topic, subj, sizeof subj))
    return WEFT_ERR_INVAL;
  natsStatus st;
  if (delivered || !broker_id) {
    st = natsConnection_Publish(n->nc, subj, msg, (int)len);
  } else {
    snprintf(reply, sizeof reply, "%s.%s", (const char *)n->inbox, broker_id);
    st = natsConnection_PublishRequest(n->nc, subj, reply, msg, (int)len);
  }
  return st == NATS_OK ? 0 : WEFT_ERR_CONNECT;
}

void weft__mbnats_from_broker(weft__mbnats *n, const char *msg, size_t len) {
  const char *nl = memchr(msg, '\n', len);
  weft_mb_header h;
  weft_mb_code code;
  if (!nl ||
      weft_mb_header_parse(msg, (size_t)(nl - msg), &h, &code, NULL) < 0 ||
      h.action != WEFT_MB_RESPONSE || !h.request_id[0])
    return; /* the greeting, heartbeats, answers to our keep-alives */
  pthread_mutex_lock(&n->mu);
  vreq **pv = &n->vreqs;
  while (*pv && strcmp((*pv)->vid, h.request_id))
    pv = &(*pv)->next;
  vreq *v = *pv;
  if (v)
    *pv = v->next;
  pthread_mutex_unlock(&n->mu);
  if (!v)
    return;
  /* The body only: the caller's broker writes its own header. */
  natsConnection_Publish(n->nc, v->reply, nl + 1,
                         (int)(len - (size_t)(nl + 1 - msg)));
  free(v->reply);
  free(v);
}

#else /* !WEFT_HAVE_NATS */

int weft__mbnats_open(weft__mbnats **out, weft_mb_hub *hub, const char *url,
                      const char *node_id, weft_error *err) {
  (void)hub, (void)node_id;
  *out = NULL;
  return weft_error_set(err, WEFT_ERR_UNSUPPORTED,
                        "nats %s: this weft was built without libnats", url);
}
void weft__mbnats_close(weft__mbnats *n) {
  (void)n;
}
int weft__mbnats_request(weft__mbnats *n, const char *broker_id,
                         const weft_mb_header *h, const char *payload,
                         size_t len) {
  (void)n, (void)broker_id, (void)h, (void)payload, (void)len;
  return WEFT_ERR_UNSUPPORTED;
}
void weft__mbnats_interest(weft__mbnats *n, const char *topic, bool on) {
  (void)n, (void)topic, (void)on;
}
int weft__mbnats_publish(weft__mbnats *n, const char *broker_id,
                         const char *msg, size_t len, bool delivered) {
  (void)n, (void)broker_id, (void)msg, (void)len, (void)delivered;
  return WEFT_ERR_UNSUPPORTED;
}
void weft__mbnats_publish_interest(weft__mbnats *n, const char *topic,
                                   bool on) {
  (void)n, (void)topic, (void)on;
}
void weft__mbnats_registry(weft__mbnats *n, const char *json) {
  (void)n, (void)json;
}
char *weft__mbnats_registries(weft__mbnats *n, int64_t now_ms) {
  (void)n, (void)now_ms;
  return NULL;
}
void weft__mbnats_from_broker(weft__mbnats *n, const char *msg, size_t len) {
  (void)n, (void)msg, (void)len;
}
#endif
