/* Opening a client connection on the process-wide client loop without
 * blocking it: TCP connect, then the TLS handshake, as a state machine on
 * the loop's events and one timer, where weft__conn_connect blocks a
 * thread with poll(). Both are made of the same pieces (sock.h), so they
 * verify, negotiate ALPN and word every failure alike.
 *
 * Names: an address literal ("127.0.0.1", "::1") is used directly on the
 * loop. A host name goes to the runtime's resolver threads (up to 4,
 * made as lookups wait, apart from the connector thread's blocking
 * attempts) for getaddrinfo, which blocks (no timeout of its own, and
 * glibc's getaddrinfo_a only runs it on a thread of glibc's own, telling
 * by signal or by yet another thread); only the lookup waits there, never
 * the connect or the handshake, so one unreachable server or slow name
 * holds up no other client's connection.
 *
 * Threads: start and cancel on the client loop's thread (a job, timer or
 * socket callback there); done runs there too, never inside start. */
#ifndef WEFT_TRANSPORTS_DIAL_H
#define WEFT_TRANSPORTS_DIAL_H

#include <stdint.h>

#include "sock.h"
#include "weft/loop.h"
#include "weft/transport.h"

typedef struct weft__dial weft__dial;

/* The outcome, exactly once unless cancelled: rv 0 with conn (the
 * caller's, not registered on the loop; TLS finished, weft__conn_alpn
 * set), or rv < 0 with err saying why (WEFT_ERR_RESOLVE, WEFT_ERR_CONNECT,
 * WEFT_ERR_TIMEOUT, WEFT_ERR_TLS, WEFT_ERR_NOMEM; the same messages as
 * weft__conn_connect). The dial is freed once done returns. */
typedef void (*weft__dial_fn)(void *ud, int rv, weft__conn *conn,
                              const weft_error *err);

/* Starts connecting to host:port on loop (the client loop, whose
 * reference the caller holds until done or cancel). tls may be NULL; it
 * is used at once when the TCP connection is up, so it must live until
 * done or cancel. server_name: SNI and the verified name (host if NULL or
 * empty). timeout_ms (<= 0: 10 s) bounds the lookup, the connect and the
 * handshake together. Returns 0 (done will run), or WEFT_ERR_NOMEM /
 * WEFT_ERR_INVAL (host too long) with err set, and done never runs. */
int weft__dial_start(weft__dial **out, weft_loop *loop, const char *host,
                     int port, weft__tls_ctx *tls, const char *server_name,
                     int64_t timeout_ms, weft__dial_fn done, void *ud,
                     weft_error *err);
/* Stops a dial whose done has not run: it never will, and its socket is
 * closed. */
void weft__dial_cancel(weft__dial *d);

/* A transport's connect_async (weft/transport.h) made of a dial: dials
 * host:port with tls (taken: freed on failure, else handed to adopt),
 * then on the loop adopt(client, url, opts, sock, tls, &conn, err) makes
 * the transport's connection of the connected socket (taking sock and tls,
 * also when it fails), and done reports it. Loop thread. */
typedef int (*weft__dial_adopt_fn)(weft_client *client, const weft_url *url,
                                   const weft_client_opts *opts,
                                   weft__conn *sock, weft__tls_ctx *tls,
                                   void **conn, weft_error *err);
int weft__dial_connect_async(weft_client *client, const weft_url *url,
                             const weft_client_opts *opts, int port,
                             weft__tls_ctx *tls, weft__dial_adopt_fn adopt,
                             void (*done)(weft_client *, int, void *,
                                          const weft_error *),
                             weft_error *err);

#endif
