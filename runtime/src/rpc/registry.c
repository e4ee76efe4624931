/* The transport registry: URL scheme -> transport vtable. Small and fixed:
 * a handful of schemes, looked up once per client open or listen. */
#include <pthread.h>
#include <string.h>
#include <strings.h>

#include "weft/transport.h"
#include "rpc_internal.h"

#define MAX_TRANSPORTS 32

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static const weft_client_transport *clients[MAX_TRANSPORTS];
static const weft_server_transport *servers[MAX_TRANSPORTS];

/* Replaces an entry with the same scheme, else appends. */
static int put(const void **table, const char *(*scheme_of)(const void *),
               const void *t) {
  const char *scheme = scheme_of(t);
  if (!scheme || !*scheme)
    return WEFT_ERR_INVAL;
  int rv = WEFT_ERR_LIMIT;
  pthread_mutex_lock(&reg_mu);
  for (int i = 0; i < MAX_TRANSPORTS; i++) {
    if (!table[i] || strcasecmp(scheme_of(table[i]), scheme) == 0) {
      table[i] = t;
      rv = 0;
      break;
    }
  }
  pthread_mutex_unlock(&reg_mu);
  return rv;
}

static const void *get(const void **table,
                       const char *(*scheme_of)(const void *),
                       const char *scheme) {
  if (!scheme)
    return NULL;
  const void *r = NULL;
  pthread_mutex_lock(&reg_mu);
  for (int i = 0; i < MAX_TRANSPORTS && table[i]; i++) {
    if (strcasecmp(scheme_of(table[i]), scheme) == 0) {
      r = table[i];
      break;
    }
  }
  pthread_mutex_unlock(&reg_mu);
  return r;
}

static const char *client_scheme(const void *t) {
  return ((const weft_client_transport *)t)->scheme;
}
static const char *server_scheme(const void *t) {
  return ((const weft_server_transport *)t)->scheme;
}

/* Built-in registration (transports/init.c), without the init call. */
int weft__register_client_transport(const weft_client_transport *t) {
  if (!t || !t->connect || !t->call_start || !t->call_finish)
    return WEFT_ERR_INVAL;
  return put((const void **)clients, client_scheme, t);
}

int weft__register_server_transport(const weft_server_transport *t) {
  if (!t || !t->listen || !t->close)
    return WEFT_ERR_INVAL;
  return put((const void **)servers, server_scheme, t);
}

/* Built-ins go in first, so a user transport registered for a built-in
 * scheme always replaces it, whatever the order of calls. */
int weft_register_client_transport(const weft_client_transport *t) {
  weft_transports_init();
  return weft__register_client_transport(t);
}

int weft_register_server_transport(const weft_server_transport *t) {
  weft_transports_init();
  return weft__register_server_transport(t);
}

const weft_client_transport *weft_find_client_transport(const char *scheme) {
  return get((const void **)clients, client_scheme, scheme);
}

const weft_server_transport *weft_find_server_transport(const char *scheme) {
  return get((const void **)servers, server_scheme, scheme);
}
