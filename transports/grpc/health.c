/* grpc.health.v1.Health: Check and Watch per service. "" and every service
 * the server serves are SERVING unless weft_grpc_health_set() says
 * otherwise; other names are NOT_FOUND (Check) or SERVICE_UNKNOWN (Watch).
 *
 * The overrides live in a fixed static table, so nothing is allocated that
 * weft_server_free() (which knows nothing of it) would leak. It is keyed by
 * weft_server_id(), not the server's address: an entry left by a server
 * freed without closing a grpc:// listener (overrides set, never served)
 * would otherwise pass to the next server malloc put at that address. */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "builtin.h"

#define MAX_SERVERS 32
#define MAX_OVERRIDES 32
#define NAME_MAX_LEN 200

typedef struct override {
  char name[NAME_MAX_LEN];
  bool serving;
} override;

typedef struct hentry {
  uint64_t id; /* weft_server_id(); 0: free slot */
  bool down;   /* the server stopped accepting: everything NOT_SERVING */
  unsigned n;
  override ov[MAX_OVERRIDES];
} hentry;

static pthread_mutex_t hmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hcv = PTHREAD_COND_INITIALIZER;
static unsigned hversion;
static hentry table[MAX_SERVERS];

typedef grpc__health__v1__HealthCheckResponse__ServingStatus hstatus;

static hentry *entry_locked(const weft_server *s, bool create) {
  uint64_t id = weft_server_id(s);
  hentry *freeslot = NULL;
  if (!id)
    return NULL;
  for (unsigned i = 0; i < MAX_SERVERS; i++) {
    if (table[i].id == id)
      return &table[i];
    if (!table[i].id && !freeslot)
      freeslot = &table[i];
  }
  if (create && freeslot) {
    memset(freeslot, 0, sizeof *freeslot);
    freeslot->id = id;
  }
  return create ? freeslot : NULL;
}

void weft__grpc_health_forget(const weft_server *s) {
  pthread_mutex_lock(&hmu);
  hentry *e = entry_locked(s, false);
  if (e)
    memset(e, 0, sizeof *e);
  hversion++;
  pthread_cond_broadcast(&hcv);
  pthread_mutex_unlock(&hmu);
}

void weft__grpc_health_down(const weft_server *s) {
  pthread_mutex_lock(&hmu);
  hentry *e = entry_locked(s, true);
  if (e)
    e->down = true;
  hversion++;
  pthread_cond_broadcast(&hcv);
  pthread_mutex_unlock(&hmu);
}

int weft_grpc_health_set(weft_server *s, const char *service, bool serving) {
  if (!s || !service || strlen(service) >= NAME_MAX_LEN)
    return WEFT_ERR_INVAL;
  int rc = 0;
  pthread_mutex_lock(&hmu);
  hentry *e = entry_locked(s, true);
  if (!e) {
    rc = WEFT_ERR_LIMIT;
  } else {
    unsigned i = 0;
    while (i < e->n && strcmp(e->ov[i].name, service) != 0)
      i++;
    if (i == e->n && e->n == MAX_OVERRIDES) {
      rc = WEFT_ERR_LIMIT;
    } else {
      if (i == e->n) {
        strcpy(e->ov[i].name, service);
        e->n++;
      }
      e->ov[i].serving = serving;
      hversion++;
      pthread_cond_broadcast(&hcv);
    }
  }
  pthread_mutex_unlock(&hmu);
  return rc;
}

/* With hmu held. */
static hstatus status_of(const weft_server *s, const char *name) {
  hentry *e = entry_locked(s, false);
  if (e && e->down)
    return grpc__health__v1__HealthCheckResponse__ServingStatus__NOT_SERVING;
  for (unsigned i = 0; e && i < e->n; i++)
    if (strcmp(e->ov[i].name, name) == 0)
      return e->ov[i].serving
                 ? grpc__health__v1__HealthCheckResponse__ServingStatus__SERVING
                 : grpc__health__v1__HealthCheckResponse__ServingStatus__NOT_SERVING;
  if (!name[0] || weft__grpc_served(s, name))
    return grpc__health__v1__HealthCheckResponse__ServingStatus__SERVING;
  return grpc__health__v1__HealthCheckResponse__ServingStatus__SERVICE_UNKNOWN;
}

static int check(weft_server_call *call,
                 const grpc__health__v1__HealthCheckRequest *req,
                 grpc__health__v1__HealthCheckResponse *resp, void *ctx) {
  (void)ctx;
  const char *name = req->service ? req->service : "";
  pthread_mutex_lock(&hmu);
  hstatus st = status_of(weft_server_call_server(call), name);
  pthread_mutex_unlock(&hmu);
  if (st ==
      grpc__health__v1__HealthCheckResponse__ServingStatus__SERVICE_UNKNOWN) {
    weft_server_call_set_message(call, "unknown service %s", name);
    return WEFT_STATUS_NOT_FOUND;
  }
  resp->status = st;
  return WEFT_STATUS_OK;
}

/* Sends the status now and whenever it changes, until the client goes
 * away, the deadline passes or the server shuts down. */
static int watch(weft_server_call *call,
                 const grpc__health__v1__HealthCheckRequest *req, void *ctx) {
  (void)ctx;
  const char *name = req->service ? req->service : "";
  const weft_server *s = weft_server_call_server(call);
  int last = -1;
  for (;;) {
    pthread_mutex_lock(&hmu);
    hstatus st = status_of(s, name);
    unsigned ver = hversion;
    pthread_mutex_unlock(&hmu);
    if ((int)st != last) {
      grpc__health__v1__HealthCheckResponse r =
          grpc__health__v1__HealthCheckResponse_INIT;
      r.status = st;
      if (weft_server_call_send(call, &r) < 0)
        return WEFT_STATUS_CANCELLED;
      last = (int)st;
    }
    pthread_mutex_lock(&hmu);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 100 * 1000000;
    if (ts.tv_nsec >= 1000000000) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000;
    }
    if (hversion == ver)
      pthread_cond_timedwait(&hcv, &hmu, &ts);
    pthread_mutex_unlock(&hmu);
    if (weft_server_call_cancelled(call))
      return WEFT_STATUS_CANCELLED;
    if (weft_now_ns() > weft_server_call_deadline(call))
      return WEFT_STATUS_DEADLINE_EXCEEDED;
  }
}

const grpc__health__v1__Health_impl weft__grpc_health_impl = {
    .check = check,
    .watch = watch,
};
