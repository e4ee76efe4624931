/* Sockets and TLS for the transports that do their own I/O (tcp, ws, h2).
 * Non-blocking; TLS through OpenSSL directly on the fd (TLS 1.2+, peer and
 * host-name verification on unless insecure, SNI, optional client certs,
 * ALPN for h2). Internal to weft: names use the weft__ prefix. */
#ifndef WEFT_TRANSPORTS_SOCK_H
#define WEFT_TRANSPORTS_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "weft/client.h"
#include "weft/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft__tls_ctx weft__tls_ctx; /* wraps SSL_CTX */
typedef struct weft__conn weft__conn;       /* fd + optional SSL */

/* alpn: NULL-terminated list ("h2", NULL) or NULL. server: cert/key needed;
 * a ca_file on a server requests and verifies client certificates. */
int weft__tls_ctx_new(weft__tls_ctx **out, bool server, const weft_tls_opts *o,
                      const char *const *alpn, weft_error *err);
void weft__tls_ctx_free(weft__tls_ctx *t);

/* Blocking connect with timeout, then non-blocking fd. tls may be NULL.
 * server_name: SNI + verified name (host if NULL). */
int weft__conn_connect(weft__conn **out, const char *host, int port,
                       weft__tls_ctx *tls, const char *server_name,
                       int64_t timeout_ms, weft_error *err);
/* The pieces of weft__conn_connect for a connect driven by an event loop
 * (dial.h), so both say the same thing on every failure.
 * weft__conn_client wraps a connected non-blocking fd (taken, also on
 * failure) as the client end; with tls, it sets SNI and the name to verify
 * (name) and puts the TLS session in connect state. weft__conn_handshake
 * takes the TLS handshake one step: 0 done (or no TLS), WEFT_ERR_AGAIN
 * (weft__conn_wants_write says whether it waits for writable or readable),
 * else WEFT_ERR_TLS with err saying why (certificate verification first). */
int weft__conn_client(weft__conn **out, int fd, weft__tls_ctx *tls,
                      const char *name, weft_error *err);
int weft__conn_handshake(weft__conn *c, const char *name, weft_error *err);
/* The messages of connect's failures, each returning its code:
 * WEFT_ERR_TIMEOUT (TCP, then TLS), WEFT_ERR_CONNECT (errnum 0: refused),
 * WEFT_ERR_RESOLVE (a getaddrinfo code). */
int weft__connect_timeout(const char *host, int port, weft_error *err);
int weft__conn_handshake_timeout(const weft__conn *c, const char *name,
                                 weft_error *err);
int weft__connect_failed(const char *host, int port, int errnum,
                         weft_error *err);
int weft__resolve_failed(const char *host, int gai_rc, weft_error *err);
/* Listening socket (non-blocking, SO_REUSEADDR); *port gets the bound port. */
int weft__listen(const char *host, int port, int backlog, int *fd_out,
                 int *port_out, weft_error *err);
/* Wraps an accepted fd (made non-blocking); tls may be NULL. The TLS
 * handshake then proceeds inside weft__conn_read/write. */
int weft__conn_accept(weft__conn **out, int fd, weft__tls_ctx *tls,
                      weft_error *err);
/* Sets the peer address from accept's (getpeername fails once the peer
 * has reset the connection, which would leave "?" in every log line). */
struct sockaddr;
void weft__conn_set_peer(weft__conn *c, const struct sockaddr *sa);
int weft__conn_fd(const weft__conn *c);
/* > 0 bytes, 0 EOF, WEFT_ERR_AGAIN (would block), other < 0 fatal. */
ssize_t weft__conn_read(weft__conn *c, void *buf, size_t len);
/* > 0 bytes, WEFT_ERR_AGAIN, other < 0 fatal (WEFT_ERR_CLOSED when the
 * peer has closed, also during a TLS handshake). Never 0 when len > 0, so
 * a write loop can take any return <= 0 that is not AGAIN as the end. */
ssize_t weft__conn_write(weft__conn *c, const void *buf, size_t len);
/* True if the last AGAIN needs a writable (not readable) fd to progress. */
bool weft__conn_wants_write(const weft__conn *c);
/* Negotiated ALPN protocol or "" */
const char *weft__conn_alpn(const weft__conn *c);
const char *weft__conn_peer(const weft__conn *c); /* "127.0.0.1:5555" */
const char *weft__conn_ip(const weft__conn *c);   /* "127.0.0.1", "::1" */
void weft__conn_close(weft__conn *c);
/* Why the last read/write failed fatally ("" if it did not), e.g.
 * "TLS with 127.0.0.1:5555: peer certificate: ...". */
const char *weft__conn_error(const weft__conn *c);
bool weft__conn_is_tls(const weft__conn *c);
/* Decrypted bytes buffered inside TLS (not visible to epoll). */
size_t weft__conn_pending(const weft__conn *c);

#ifdef __cplusplus
}
#endif
#endif
