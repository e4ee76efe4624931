/* weft_transports_init(): registers every built-in transport that was built.
 * Explicit references (rather than constructors in each transport) keep the
 * linker from dropping transports nobody names; see docs/ARCHITECTURE.md.
 * Each transport target exports weft__<scheme>_client_transport and
 * weft__<scheme>_server_transport for each of its schemes. */
#include <pthread.h>

#include "weft/transport.h"

/* From weft_rpc (registry.c): registration without the init call. */
int weft__register_client_transport(const weft_client_transport *t);
int weft__register_server_transport(const weft_server_transport *t);

#define WEFT__DECLARE(scheme)                                                  \
  extern const weft_client_transport weft__##scheme##_client_transport;        \
  extern const weft_server_transport weft__##scheme##_server_transport;
#define WEFT__REGISTER(scheme)                                                 \
  weft__register_client_transport(&weft__##scheme##_client_transport);         \
  weft__register_server_transport(&weft__##scheme##_server_transport);

#ifdef WEFT_HAVE_TCP
WEFT__DECLARE(tcp)
WEFT__DECLARE(tls)
#endif
#ifdef WEFT_HAVE_WEBSOCKET
WEFT__DECLARE(ws)
WEFT__DECLARE(wss)
#endif
#ifdef WEFT_HAVE_GRPC
WEFT__DECLARE(grpc)
WEFT__DECLARE(grpcs)
#endif
#ifdef WEFT_HAVE_HTTP2
WEFT__DECLARE(h2c)
WEFT__DECLARE(https)
#endif
#ifdef WEFT_HAVE_HTTP1
/* http:// and https:// clients (HTTP/1.1, or HTTP/2 by ALPN); the https
 * server stays the HTTP/2 one. */
extern const weft_client_transport weft__http_client_transport;
extern const weft_client_transport weft__https_h1_client_transport;
#endif

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init_once(void) {
#ifdef WEFT_HAVE_TCP
  WEFT__REGISTER(tcp)
  WEFT__REGISTER(tls)
#endif
#ifdef WEFT_HAVE_WEBSOCKET
  WEFT__REGISTER(ws)
  WEFT__REGISTER(wss)
#endif
#ifdef WEFT_HAVE_GRPC
  WEFT__REGISTER(grpc)
  WEFT__REGISTER(grpcs)
#endif
#ifdef WEFT_HAVE_HTTP2
  WEFT__REGISTER(h2c)
  WEFT__REGISTER(https)
#endif
#ifdef WEFT_HAVE_HTTP1
  /* After https: replaces its HTTP/2-only client. */
  weft__register_client_transport(&weft__http_client_transport);
  weft__register_client_transport(&weft__https_h1_client_transport);
#endif
}

/* Idempotent and thread-safe. weft_register_*_transport() calls it first,
 * so a user transport always replaces a built-in one of the same scheme. */
void weft_transports_init(void) {
  pthread_once(&once, init_once);
}
