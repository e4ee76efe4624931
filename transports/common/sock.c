/* Sockets and TLS for weft's own transports; see sock.h.
 *
 * The fd is always non-blocking once a weft__conn owns it. Only
 * weft__conn_connect (and the client-side TLS handshake inside it) blocks,
 * with poll() and a deadline, because weft_client_transport.connect is
 * specified blocking; dial.c opens connections on a loop from the same
 * pieces (weft__conn_client, weft__conn_handshake).
 * Accepted TLS connections handshake lazily inside read/write, so a slow
 * peer never blocks the server's loop thread. */
#define _GNU_SOURCE
#include "sock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

struct weft__tls_ctx {
  SSL_CTX *ctx;
  bool server;
  unsigned char *alpn_wire; /* length-prefixed list (RFC 7301 wire form) */
  size_t alpn_wire_len;
};

struct weft__conn {
  int fd;
  SSL *ssl;
  bool wants_write;
  char peer[64];
  char ip[48];
  char alpn[32];
  char errmsg[256];
};

/* ---- errors ---------------------------------------------------------- */

/* Drains OpenSSL's error queue into buf (the first, most specific entry
 * first), so a later call on the same thread does not see stale entries. */
static void ssl_errstr(char *buf, size_t cap) {
  unsigned long e = ERR_get_error();
  if (!e) {
    snprintf(buf, cap, "%s", errno ? strerror(errno) : "unknown error");
    return;
  }
  ERR_error_string_n(e, buf, cap);
  ERR_clear_error();
}

static int tls_fail(weft_error *err, const char *what, const char *arg) {
  char e[200];
  ssl_errstr(e, sizeof e);
  return weft_error_set(err, WEFT_ERR_TLS, "%s%s%s: %s", what, arg ? " " : "",
                        arg ? arg : "", e);
}

/* ---- a socket BIO that never raises SIGPIPE ---------------------------- */

/* OpenSSL's socket BIO writes with write(2): a peer that has gone away
 * would kill the process with SIGPIPE. A library must not touch the
 * process's signal disposition, so we write with send(MSG_NOSIGNAL) and
 * reuse the stock socket BIO for everything else. */
static BIO_METHOD *g_bio_method;
static pthread_once_t g_bio_once = PTHREAD_ONCE_INIT;

static int nosig_write(BIO *b, const char *data, int len) {
  int fd = -1;
  BIO_get_fd(b, &fd);
  BIO_clear_retry_flags(b);
  ssize_t n;
  do
    n = send(fd, data, (size_t)len, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
    BIO_set_retry_write(b);
  return (int)n;
}

static int nosig_puts(BIO *b, const char *str) {
  return nosig_write(b, str, (int)strlen(str));
}

static void bio_init(void) {
  const BIO_METHOD *sock = BIO_s_socket();
  BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK |
                                   BIO_TYPE_DESCRIPTOR,
                               "weft socket");
  if (!m)
    return;
  BIO_meth_set_write(m, nosig_write);
  BIO_meth_set_puts(m, nosig_puts);
  BIO_meth_set_read(m, BIO_meth_get_read(sock));
  BIO_meth_set_gets(m, BIO_meth_get_gets(sock));
  BIO_meth_set_ctrl(m, BIO_meth_get_ctrl(sock));
  BIO_meth_set_create(m, BIO_meth_get_create(sock));
  BIO_meth_set_destroy(m, BIO_meth_get_destroy(sock));
  g_bio_method = m;
}

/* Attaches fd to ssl through the SIGPIPE-free BIO. */
static int ssl_set_socket(SSL *ssl, int fd) {
  pthread_once(&g_bio_once, bio_init);
  if (!g_bio_method)
    return SSL_set_fd(ssl, fd); /* out of memory at init: stock BIO */
  BIO *b = BIO_new(g_bio_method);
  if (!b)
    return 0;
  BIO_set_fd(b, fd, BIO_NOCLOSE);
  SSL_set_bio(ssl, b, b);
  return 1;
}

/* ---- TLS context ------------------------------------------------------ */

static int alpn_select(SSL *ssl, const unsigned char **out,
                       unsigned char *outlen, const unsigned char *in,
                       unsigned inlen, void *arg) {
  weft__tls_ctx *t = arg;
  (void)ssl;
  /* Called only when the client offers ALPN. Offering none of ours (e.g.
   * only http/1.1 to the HTTP/2 listener) ends the handshake with the
   * no_application_protocol alert (RFC 7301 3.2): carrying on would answer
   * a client that expects HTTP/1.1 with HTTP/2 frames. */
  if (SSL_select_next_proto((unsigned char **)out, outlen, t->alpn_wire,
                            (unsigned)t->alpn_wire_len, in,
                            inlen) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  return SSL_TLSEXT_ERR_OK;
}

int weft__tls_ctx_new(weft__tls_ctx **out, bool server, const weft_tls_opts *o,
                      const char *const *alpn, weft_error *err) {
  static const weft_tls_opts none;
  weft__tls_ctx *t;
  if (!o)
    o = &none;
  *out = NULL;
  if (server && (!o->cert_file || !o->key_file))
    return weft_error_set(err, WEFT_ERR_INVAL,
                          "TLS server needs tls.cert_file and tls.key_file");
  if ((o->cert_file != NULL) != (o->key_file != NULL))
    return weft_error_set(err, WEFT_ERR_INVAL,
                          "tls.cert_file and tls.key_file go together");
  t = calloc(1, sizeof *t);
  if (!t)
    return weft_error_set(err, WEFT_ERR_NOMEM, "TLS context");
  t->server = server;
  ERR_clear_error();
  t->ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  if (!t->ctx) {
    tls_fail(err, "SSL_CTX_new", NULL);
    goto fail;
  }
  SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
  /* Partial writes keep the write path like send(); released buffers keep
   * an idle TLS connection small (OpenSSL otherwise holds ~34 KB each). */
  SSL_CTX_set_mode(t->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                               SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                               SSL_MODE_RELEASE_BUFFERS);
  /* A peer that closes without close_notify reads as EOF; the length
   * prefix already detects a truncated frame. */
  SSL_CTX_set_options(t->ctx,
                      SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
  if (o->cert_file) {
    if (SSL_CTX_use_certificate_chain_file(t->ctx, o->cert_file) != 1) {
      tls_fail(err, "loading certificate", o->cert_file);
      goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(t->ctx, o->key_file, SSL_FILETYPE_PEM) !=
        1) {
      tls_fail(err, "loading private key", o->key_file);
      goto fail;
    }
    if (SSL_CTX_check_private_key(t->ctx) != 1) {
      tls_fail(err, "private key does not match certificate", o->cert_file);
      goto fail;
    }
  }
  if (server) {
    if (o->ca_file) { /* client certificates required and verified */
      STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(o->ca_file);
      if (SSL_CTX_load_verify_locations(t->ctx, o->ca_file, NULL) != 1 ||
          !names) {
        sk_X509_NAME_pop_free(names, X509_NAME_free);
        tls_fail(err, "loading client CA file", o->ca_file);
        goto fail;
      }
      SSL_CTX_set_client_CA_list(t->ctx, names);
      SSL_CTX_set_verify(
          t->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    }
  } else if (o->insecure) {
    SSL_CTX_set_verify(t->ctx, SSL_VERIFY_NONE, NULL);
  } else {
    int ok = o->ca_file
                 ? SSL_CTX_load_verify_locations(t->ctx, o->ca_file, NULL)
                 : SSL_CTX_set_default_verify_paths(t->ctx);
    if (ok != 1) {
      tls_fail(err, "loading CA file", o->ca_file ? o->ca_file : "(system)");
      goto fail;
    }
    SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
  }
  if (alpn && alpn[0]) {
    size_t n = 0;
    for (size_t i = 0; alpn[i]; i++)
      n += 1 + strlen(alpn[i]);
    t->alpn_wire = malloc(n);
    if (!t->alpn_wire) {
      weft_error_set(err, WEFT_ERR_NOMEM, "ALPN list");
      goto fail;
    }
    for (size_t i = 0, p = 0; alpn[i]; i++) {
      size_t l = strlen(alpn[i]);
      if (l == 0 || l > 255) {
        weft_error_set(err, WEFT_ERR_INVAL, "bad ALPN protocol name");
        goto fail;
      }
      t->alpn_wire[p++] = (unsigned char)l;
      memcpy(t->alpn_wire + p, alpn[i], l);
      p += l;
    }
    t->alpn_wire_len = n;
    if (server) {
      SSL_CTX_set_alpn_select_cb(t->ctx, alpn_select, t);
    } else if (SSL_CTX_set_alpn_protos(t->ctx, t->alpn_wire, (unsigned)n) !=
               0) {
      tls_fail(err, "setting ALPN", NULL);
      goto fail;
    }
  }
  *out = t;
  return 0;
fail:
  weft__tls_ctx_free(t);
  return err ? err->code : WEFT_ERR_TLS;
}

void weft__tls_ctx_free(weft__tls_ctx *t) {
  if (!t)
    return;
  SSL_CTX_free(t->ctx);
  free(t->alpn_wire);
  free(t);
}

/* ---- sockets --------------------------------------------------------- */

static int set_nonblock(int fd) {
  int fl = fcntl(fd, F_GETFL);
  return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void format_addr(const struct sockaddr *sa, char *buf, size_t cap,
                        char *ip, size_t ipcap) {
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *s = (const void *)sa;
    inet_ntop(AF_INET, &s->sin_addr, host, sizeof host);
    port = ntohs(s->sin_port);
    snprintf(buf, cap, "%s:%d", host, port);
  } else if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *s = (const void *)sa;
    inet_ntop(AF_INET6, &s->sin6_addr, host, sizeof host);
    port = ntohs(s->sin6_port);
    snprintf(buf, cap, "[%s]:%d", host, port);
  } else {
    snprintf(buf, cap, "?");
  }
  if (ip)
    snprintf(ip, ipcap, "%s", host);
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int poll_until(int fd, short ev, int64_t deadline_ms) {
  for (;;) {
    int64_t left = deadline_ms - now_ms();
    if (left <= 0)
      return 0;
    struct pollfd p = {.fd = fd, .events = ev};
    int r = poll(&p, 1, left > 1000000 ? 1000000 : (int)left);
    if (r < 0 && errno == EINTR)
      continue;
    return r;
  }
}

static bool is_ip_literal(const char *h) {
  unsigned char b[16];
  return inet_pton(AF_INET, h, b) == 1 || inet_pton(AF_INET6, h, b) == 1;
}

static int tcp_connect(const char *host, int port, int64_t deadline,
                       int *fd_out, weft_error *err) {
  struct addrinfo hints = {0}, *res = NULL, *ai;
  char ports[16];
  int rc, fd = -1, last = 0;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  snprintf(ports, sizeof ports, "%d", port);
  rc = getaddrinfo(host, ports, &hints, &res);
  if (rc != 0)
    return weft__resolve_failed(host, rc, err);
  for (ai = res; ai; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                ai->ai_protocol);
    if (fd < 0) {
      last = errno;
      continue;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
      break;
    if (errno == EINPROGRESS) {
      int r = poll_until(fd, POLLOUT, deadline);
      if (r == 0) {
        close(fd);
        freeaddrinfo(res);
        return weft__connect_timeout(host, port, err);
      }
      int soerr = 0;
      socklen_t sl = sizeof soerr;
      if (r > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 &&
          soerr == 0)
        break;
      last = soerr ? soerr : errno;
    } else {
      last = errno;
    }
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0)
    return weft__connect_failed(host, port, last, err);
  *fd_out = fd;
  return 0;
}

static weft__conn *conn_new(int fd) {
  weft__conn *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->fd = fd;
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
    format_addr((struct sockaddr *)&ss, c->peer, sizeof c->peer, c->ip,
                sizeof c->ip);
  else
    snprintf(c->peer, sizeof c->peer, "?");
  if (!c->ip[0])
    snprintf(c->ip, sizeof c->ip, "?");
  return c;
}

static void note_alpn(weft__conn *c) {
  const unsigned char *p = NULL;
  unsigned l = 0;
  SSL_get0_alpn_selected(c->ssl, &p, &l);
  if (p && l < sizeof c->alpn) {
    memcpy(c->alpn, p, l);
    c->alpn[l] = 0;
  }
}

/* A handshake failure with the reason that helps most: the certificate
 * verification result when that is what failed. */
static int handshake_error(weft__conn *c, const char *host, weft_error *err) {
  long vr = SSL_get_verify_result(c->ssl);
  char e[200];
  ssl_errstr(e, sizeof e);
  if (vr != X509_V_OK)
    return weft_error_set(err, WEFT_ERR_TLS,
                          "TLS handshake with %s (%s): certificate "
                          "verification failed: %s",
                          host, c->peer, X509_verify_cert_error_string(vr));
  return weft_error_set(err, WEFT_ERR_TLS, "TLS handshake with %s (%s): %s",
                        host, c->peer, e);
}

int weft__conn_client(weft__conn **out, int fd, weft__tls_ctx *tls,
                      const char *name, weft_error *err) {
  int one = 1;
  *out = NULL;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  weft__conn *c = conn_new(fd);
  if (!c) {
    close(fd);
    return weft_error_set(err, WEFT_ERR_NOMEM, "connection");
  }
  if (!tls) {
    *out = c;
    return 0;
  }
  int rc;
  ERR_clear_error();
  c->ssl = SSL_new(tls->ctx);
  if (!c->ssl || ssl_set_socket(c->ssl, fd) != 1) {
    rc = tls_fail(err, "SSL_new for", c->peer);
    goto fail;
  }
  if (SSL_get_verify_mode(c->ssl) != SSL_VERIFY_NONE) {
    X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);
    int ok;
    if (is_ip_literal(name)) {
      ok = X509_VERIFY_PARAM_set1_ip_asc(vp, name);
    } else {
      X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      ok = X509_VERIFY_PARAM_set1_host(vp, name, 0);
    }
    if (ok != 1) {
      rc = tls_fail(err, "setting the name to verify", name);
      goto fail;
    }
  }
  if (!is_ip_literal(name)) /* SNI carries host names only (RFC 6066) */
    SSL_set_tlsext_host_name(c->ssl, name);
  SSL_set_connect_state(c->ssl);
  *out = c;
  return 0;
fail:
  weft__conn_close(c);
  return rc;
}

int weft__conn_handshake(weft__conn *c, const char *name, weft_error *err) {
  if (!c->ssl)
    return 0;
  ERR_clear_error();
  int r = SSL_do_handshake(c->ssl);
  if (r == 1) {
    c->wants_write = false;
    note_alpn(c);
    return 0;
  }
  int e = SSL_get_error(c->ssl, r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
    c->wants_write = e == SSL_ERROR_WANT_WRITE;
    return WEFT_ERR_AGAIN;
  }
  return handshake_error(c, name, err);
}

int weft__conn_connect(weft__conn **out, const char *host, int port,
                       weft__tls_ctx *tls, const char *server_name,
                       int64_t timeout_ms, weft_error *err) {
  int fd = -1, rc;
  int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 10000);
  weft__conn *c;
  *out = NULL;
  rc = tcp_connect(host, port, deadline, &fd, err);
  if (rc < 0)
    return rc;
  const char *name = server_name && *server_name ? server_name : host;
  if ((rc = weft__conn_client(&c, fd, tls, name, err)) < 0)
    return rc;
  while ((rc = weft__conn_handshake(c, name, err)) == WEFT_ERR_AGAIN) {
    if (poll_until(c->fd, c->wants_write ? POLLOUT : POLLIN, deadline) == 0) {
      rc = weft__conn_handshake_timeout(c, name, err);
      break;
    }
  }
  if (rc < 0) {
    weft__conn_close(c);
    return rc;
  }
  *out = c;
  return 0;
}

int weft__conn_handshake_timeout(const weft__conn *c, const char *name,
                                 weft_error *err) {
  return weft_error_set(err, WEFT_ERR_TIMEOUT,
                        "TLS handshake with %s (%s) timed out", name, c->peer);
}

int weft__connect_timeout(const char *host, int port, weft_error *err) {
  return weft_error_set(err, WEFT_ERR_TIMEOUT, "connecting to %s:%d timed out",
                        host, port);
}

int weft__connect_failed(const char *host, int port, int errnum,
                         weft_error *err) {
  return weft_error_set(err, WEFT_ERR_CONNECT, "connecting to %s:%d: %s", host,
                        port, strerror(errnum ? errnum : ECONNREFUSED));
}

int weft__resolve_failed(const char *host, int gai_rc, weft_error *err) {
  return weft_error_set(err, WEFT_ERR_RESOLVE, "resolving %s: %s", host,
                        gai_strerror(gai_rc));
}

int weft__listen(const char *host, int port, int backlog, int *fd_out,
                 int *port_out, weft_error *err) {
  struct addrinfo hints = {0}, *res = NULL, *ai;
  char ports[16];
  int rc, fd = -1, last = 0, one = 1;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  snprintf(ports, sizeof ports, "%d", port < 0 ? 0 : port);
  rc = getaddrinfo(host && *host ? host : NULL, ports, &hints, &res);
  if (rc != 0)
    return weft_error_set(err, WEFT_ERR_RESOLVE, "resolving %s: %s",
                          host ? host : "*", gai_strerror(rc));
  for (ai = res; ai; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                ai->ai_protocol);
    if (fd < 0) {
      last = errno;
      continue;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
        listen(fd, backlog > 0 ? backlog : 1024) == 0)
      break;
    last = errno;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0)
    return weft_error_set(err, WEFT_ERR_IO, "listening on %s:%d: %s",
                          host ? host : "*", port, strerror(last));
  if (port_out) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *port_out = ss.ss_family == AF_INET6
                    ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                    : ntohs(((struct sockaddr_in *)&ss)->sin_port);
  }
  *fd_out = fd;
  return 0;
}

int weft__conn_accept(weft__conn **out, int fd, weft__tls_ctx *tls,
                      weft_error *err) {
  weft__conn *c;
  int one = 1;
  *out = NULL;
  if (set_nonblock(fd) < 0) {
    int e = errno;
    close(fd);
    return weft_error_set(err, WEFT_ERR_IO, "fcntl: %s", strerror(e));
  }
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c = conn_new(fd);
  if (!c) {
    close(fd);
    return weft_error_set(err, WEFT_ERR_NOMEM, "connection");
  }
  if (tls) {
    ERR_clear_error();
    c->ssl = SSL_new(tls->ctx);
    if (!c->ssl || ssl_set_socket(c->ssl, fd) != 1) {
      int rc = tls_fail(err, "SSL_new for", c->peer);
      weft__conn_close(c);
      return rc;
    }
    SSL_set_accept_state(c->ssl);
  }
  *out = c;
  return 0;
}

void weft__conn_set_peer(weft__conn *c, const struct sockaddr *sa) {
  if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6)
    format_addr(sa, c->peer, sizeof c->peer, c->ip, sizeof c->ip);
}

int weft__conn_fd(const weft__conn *c) {
  return c->fd;
}

/* Maps an SSL_read/SSL_write result to the sock.h convention. A write
 * never returns 0: with SSL_OP_IGNORE_UNEXPECTED_EOF a peer that closes
 * during the handshake (a port scanner, a load balancer's TCP check) makes
 * SSL_write report SSL_ERROR_ZERO_RETURN, and a write loop taking 0 for
 * progress would spin on it forever. */
static ssize_t ssl_result(weft__conn *c, int r, bool writing) {
  int e = SSL_get_error(c->ssl, r);
  switch (e) {
  case SSL_ERROR_WANT_READ:
    c->wants_write = false;
    return WEFT_ERR_AGAIN;
  case SSL_ERROR_WANT_WRITE:
    c->wants_write = true;
    return WEFT_ERR_AGAIN;
  case SSL_ERROR_ZERO_RETURN:
    if (!writing)
      return 0;
    snprintf(c->errmsg, sizeof c->errmsg, "write to %s: %s", c->peer,
             SSL_is_init_finished(c->ssl)
                 ? "the peer closed the connection"
                 : "the peer closed the connection during the TLS handshake");
    return WEFT_ERR_CLOSED;
  case SSL_ERROR_SYSCALL:
    if (errno == EAGAIN || errno == EINTR)
      return WEFT_ERR_AGAIN;
    snprintf(c->errmsg, sizeof c->errmsg, "%s: %s", c->peer,
             errno ? strerror(errno) : "connection reset");
    ERR_clear_error();
    return WEFT_ERR_IO;
  default: {
    char m[120];
    long vr = SSL_get_verify_result(c->ssl);
    ssl_errstr(m, sizeof m);
    if (vr != X509_V_OK)
      snprintf(c->errmsg, sizeof c->errmsg, "TLS with %s: peer certificate: %s",
               c->peer, X509_verify_cert_error_string(vr));
    else
      snprintf(c->errmsg, sizeof c->errmsg, "TLS with %s: %s", c->peer, m);
    return WEFT_ERR_TLS;
  }
  }
}

ssize_t weft__conn_read(weft__conn *c, void *buf, size_t len) {
  if (c->ssl) {
    ERR_clear_error();
    int r = SSL_read(c->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
    if (r > 0) {
      c->wants_write = false;
      if (!c->alpn[0])
        note_alpn(c);
      return r;
    }
    return ssl_result(c, r, false);
  }
  for (;;) {
    ssize_t n = recv(c->fd, buf, len, 0);
    if (n >= 0)
      return n;
    if (errno == EINTR)
      continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      c->wants_write = false;
      return WEFT_ERR_AGAIN;
    }
    snprintf(c->errmsg, sizeof c->errmsg, "read from %s: %s", c->peer,
             strerror(errno));
    return WEFT_ERR_IO;
  }
}

ssize_t weft__conn_write(weft__conn *c, const void *buf, size_t len) {
  if (c->ssl) {
    ERR_clear_error();
    int r = SSL_write(c->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
    if (r > 0) {
      c->wants_write = false;
      return r;
    }
    if (len == 0)
      return 0;
    return ssl_result(c, r, true);
  }
  for (;;) {
    ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
    if (n > 0 || len == 0)
      return n;
    if (n == 0) { /* send(2) does not do this for len > 0; never spin */
      snprintf(c->errmsg, sizeof c->errmsg, "write to %s: wrote nothing",
               c->peer);
      return WEFT_ERR_IO;
    }
    if (errno == EINTR)
      continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      c->wants_write = true;
      return WEFT_ERR_AGAIN;
    }
    snprintf(c->errmsg, sizeof c->errmsg, "write to %s: %s", c->peer,
             strerror(errno));
    return WEFT_ERR_IO;
  }
}

bool weft__conn_wants_write(const weft__conn *c) {
  return c->wants_write;
}

const char *weft__conn_alpn(const weft__conn *c) {
  return c->alpn;
}

const char *weft__conn_peer(const weft__conn *c) {
  return c->peer;
}

const char *weft__conn_ip(const weft__conn *c) {
  return c->ip;
}

const char *weft__conn_error(const weft__conn *c) {
  return c->errmsg[0] ? c->errmsg : "";
}

bool weft__conn_is_tls(const weft__conn *c) {
  return c->ssl != NULL;
}

size_t weft__conn_pending(const weft__conn *c) {
  return c->ssl ? (size_t)SSL_pending(c->ssl) : 0;
}

void weft__conn_close(weft__conn *c) {
  if (!c)
    return;
  if (c->ssl) {
    /* Best effort close_notify; never blocks (the fd is non-blocking). */
    if (SSL_is_init_finished(c->ssl))
      SSL_shutdown(c->ssl);
    SSL_free(c->ssl);
    ERR_clear_error();
  }
  if (c->fd >= 0)
    close(c->fd);
  free(c);
}
