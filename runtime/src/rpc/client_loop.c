/* The process-wide client loop (transport.h): one weft_loop, one thread,
 * for every client connection of the process, instead of a loop thread (and
 * a supervisor thread, and a thread per subscription) per client.
 *
 * It is started by the first acquire and stopped by the release that drops
 * the count to zero, unless that release runs on the loop itself (a client
 * closed from one of its own callbacks): a thread cannot join itself, so
 * the loop then stays, idle, and the next acquire takes it up again. */
#include <pthread.h>
#include <stdlib.h>

#include "rpc_internal.h"
#include "weft/transport.h"

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static weft_loop *g_loop;
static unsigned g_refs;
/* Runs reconnect attempts, which block (connect, handshake) and so must
 * not run on the loop; made on the first one, freed with the loop. */
static weft__pool *g_connector;
/* Host name lookups of dials (getaddrinfo blocks): apart from the
 * connector, so a blocking attempt there never delays a lookup, and with
 * a thread each up to RESOLVERS, so one slow lookup delays no other. Made
 * on the first lookup (address literals need none), freed with the loop. */
static weft__pool *g_resolver;
#define RESOLVERS 4

static int post_lazy(weft__pool **p, unsigned threads, void (*fn)(void *),
                     void *ud) {
  pthread_mutex_lock(&g_mu);
  int rv = *p ? 0 : weft__pool_new_lazy(p, threads, 0);
  if (rv == 0)
    rv = weft__pool_post(*p, fn, ud);
  pthread_mutex_unlock(&g_mu);
  return rv;
}

int weft__client_connector_post(void (*fn)(void *), void *ud) {
  return post_lazy(&g_connector, 1, fn, ud);
}

int weft__client_resolver_post(void (*fn)(void *), void *ud) {
  return post_lazy(&g_resolver, RESOLVERS, fn, ud);
}

int weft_client_loop_acquire(weft_loop **out, weft_error *err) {
  if (!out)
    return weft_error_set(err, WEFT_ERR_INVAL,
                          "weft_client_loop_acquire: out is required");
  *out = NULL;
  pthread_mutex_lock(&g_mu);
  int rv = 0;
  if (!g_loop) {
    weft_loop *l = NULL;
    if ((rv = weft_loop_new(&l)) == 0 && (rv = weft_loop_set_drivable(l)) == 0)
      rv = weft_loop_start(l);
    if (rv < 0) {
      weft_loop_free(l);
      pthread_mutex_unlock(&g_mu);
      return weft_error_set(err, rv, "starting the client event loop: %s",
                            weft_strerror(rv));
    }
    g_loop = l;
  }
  g_refs++;
  *out = g_loop;
  pthread_mutex_unlock(&g_mu);
  return 0;
}

void weft_client_loop_release(weft_loop *l) {
  if (!l)
    return;
  weft_loop *stop = NULL;
  weft__pool *connector = NULL, *resolver = NULL;
  pthread_mutex_lock(&g_mu);
  if (l == g_loop && g_refs > 0 && --g_refs == 0 && !weft_loop_in_thread(l)) {
    /* No client is left, so no reconnect attempt or lookup (a dial holds
     * a reference while it resolves) is queued or running. */
    stop = g_loop;
    g_loop = NULL;
    connector = g_connector;
    g_connector = NULL;
    resolver = g_resolver;
    g_resolver = NULL;
  }
  pthread_mutex_unlock(&g_mu);
  weft__pool_free(connector);
  weft__pool_free(resolver);
  weft_loop_free(stop); /* joins its thread */
}

/* ---- running work on the loop and waiting for it ---- */

typedef struct sync_run {
  weft_post_fn fn;
  void *ud;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool done;
} sync_run;

static void sync_trampoline(void *p) {
  sync_run *r = p;
  r->fn(r->ud);
  pthread_mutex_lock(&r->mu);
  r->done = true;
  pthread_cond_signal(&r->cv);
  pthread_mutex_unlock(&r->mu);
}

int weft_loop_run_sync(weft_loop *l, weft_post_fn fn, void *ud) {
  if (!l || !fn)
    return WEFT_ERR_INVAL;
  if (weft_loop_in_thread(l)) {
    fn(ud);
    return 0;
  }
  sync_run r = {.fn = fn, .ud = ud, .done = false};
  pthread_mutex_init(&r.mu, NULL);
  pthread_cond_init(&r.cv, NULL);
  int rv = weft_loop_post(l, sync_trampoline, &r);
  if (rv == 0) {
    pthread_mutex_lock(&r.mu);
    while (!r.done)
      pthread_cond_wait(&r.cv, &r.mu);
    pthread_mutex_unlock(&r.mu);
  }
  pthread_mutex_destroy(&r.mu);
  pthread_cond_destroy(&r.cv);
  return rv;
}
