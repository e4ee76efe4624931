/* Blocking client: poll() bounds every wait; the frame engine does the
 * rest. Written for clarity over speed except on the hot path (recv reads
 * into a 64 KiB buffer, send writes header and payload in one call). */
#define _GNU_SOURCE
#include "ws_sync.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "ws_handshake.h"

struct weft__ws_sync {
  int fd;
  weft__ws_rx rx;
  weft__ws_tx tx;
  uint8_t *in;
  size_t in_off, in_len, in_cap;
  char proto[64];
  int close_code;
  char close_reason[124];
  int pongs;
  int64_t rcvtimeo_ms; /* SO_RCVTIMEO now set, -1: never set */
};

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for `events` until the absolute deadline (ms, <= 0: forever). */
static int wait_fd(int fd, short events, int64_t deadline) {
  for (;;) {
    int t = -1;
    if (deadline > 0) {
      int64_t left = deadline - now_ms();
      if (left <= 0)
        return WEFT_ERR_TIMEOUT;
      t = left > 1000000 ? 1000000 : (int)left;
    }
    struct pollfd p = {fd, events, 0};
    int n = poll(&p, 1, t);
    if (n > 0)
      return 0;
    if (n == 0)
      continue; /* re-check the deadline */
    if (errno != EINTR)
      return WEFT_ERR_IO;
  }
}

static int write_all(int fd, const void *data, size_t len) {
  const uint8_t *p = data;
  while (len) {
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
    if (n > 0) {
      p += n;
      len -= (size_t)n;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (wait_fd(fd, POLLOUT, 0) < 0)
        return WEFT_ERR_IO;
    } else {
      return n < 0 && errno == EPIPE ? WEFT_ERR_CLOSED : WEFT_ERR_IO;
    }
  }
  return 0;
}

static int flush_tx(weft__ws_sync *s) {
  size_t len;
  const uint8_t *d = weft__ws_tx_data(&s->tx, &len);
  int rv = len ? write_all(s->fd, d, len) : 0;
  weft__ws_tx_consume(&s->tx, len);
  return rv;
}

static int dial(const char *host, int port, int64_t deadline, weft_error *err) {
  char ps[16];
  snprintf(ps, sizeof ps, "%d", port);
  struct addrinfo hints = {0}, *res = NULL;
  hints.ai_socktype = SOCK_STREAM;
  int g = getaddrinfo(host, ps, &hints, &res);
  if (g != 0)
    return weft_error_set(err, WEFT_ERR_RESOLVE, "ws: resolving %s: %s", host,
                          gai_strerror(g));
  int fd = -1, last = 0;
  for (struct addrinfo *a = res; a; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                a->ai_protocol);
    if (fd < 0)
      continue;
    if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
      break;
    if (errno == EINPROGRESS && wait_fd(fd, POLLOUT, deadline) == 0) {
      int e = 0;
      socklen_t el = sizeof e;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el);
      if (e == 0)
        break;
      errno = e;
    }
    last = errno;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0)
    return weft_error_set(err, WEFT_ERR_CONNECT, "ws: connect %s:%d: %s", host,
                          port, strerror(last ? last : ETIMEDOUT));
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

int weft__ws_sync_connect(weft__ws_sync **out, const char *host, int port,
                          weft__ws_sync_opts *o, weft_error *err) {
  weft__ws_sync_opts def = {0};
  if (!o)
    o = &def;
  o->http_status = 0;
  int64_t deadline = now_ms() + (o->timeout_ms > 0 ? o->timeout_ms : 10000);
  weft__ws_sync *s = calloc(1, sizeof *s);
  if (!s)
    return weft_error_set(err, WEFT_ERR_NOMEM, "ws: out of memory");
  s->fd = -1;
  s->in_cap = 65536;
  s->in = malloc(s->in_cap);
  weft__ws_rx_init(&s->rx, false, o->max_size);
  weft__ws_tx_init(&s->tx, true, NULL, NULL);
  int rv;
  if (!s->in) {
    rv = weft_error_set(err, WEFT_ERR_NOMEM, "ws: out of memory");
    goto fail;
  }
  rv = dial(host, port, deadline, err);
  if (rv < 0)
    goto fail;
  s->fd = rv;
  char key[25], hostport[300], req[4096];
  if ((rv = weft__ws_make_key(key)) < 0)
    goto fail;
  snprintf(hostport, sizeof hostport, strchr(host, ':') ? "[%s]:%d" : "%s:%d",
           host, port);
  int n = weft__ws_hs_client_request(req, sizeof req, hostport, o->target, key,
                                     o->protocols, o->origin, o->extra_headers);
  if (n < 0 || (size_t)n >= sizeof req) {
    rv = weft_error_set(err, WEFT_ERR_INVAL, "ws: request too long");
    goto fail;
  }
  if ((rv = write_all(s->fd, req, (size_t)n)) < 0) {
    weft_error_set(err, rv, "ws: sending the handshake failed");
    goto fail;
  }
  /* Read until the header block ends; frames may follow it. */
  ssize_t end = 0;
  while (end == 0) {
    if ((rv = wait_fd(s->fd, POLLIN, deadline)) < 0) {
      weft_error_set(err, rv, "ws: no handshake response from %s", hostport);
      goto fail;
    }
    ssize_t r = recv(s->fd, s->in + s->in_len, s->in_cap - s->in_len, 0);
    if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) {
      rv = weft_error_set(err, WEFT_ERR_HANDSHAKE,
                          "ws: %s closed the connection during the "
                          "handshake",
                          hostport);
      goto fail;
    }
    if (r > 0)
      s->in_len += (size_t)r;
    end = weft__ws_hs_find_end((char *)s->in, s->in_len, WEFT__WS_HS_LIMIT);
  }
  if (end < 0) {
    rv =
        weft_error_set(err, WEFT_ERR_HANDSHAKE,
                       "ws: response headers over %d bytes", WEFT__WS_HS_LIMIT);
    goto fail;
  }
  weft__ws_http resp;
  rv = weft__ws_hs_parse_response(&resp, (char *)s->in, (size_t)end, err);
  if (rv == 0) {
    o->http_status = resp.status;
    rv = weft__ws_hs_check_response(&resp, key, o->protocols, s->proto,
                                    sizeof s->proto, err);
  }
  weft__ws_http_free(&resp);
  if (rv < 0)
    goto fail;
  s->in_off = (size_t)end;
  /* From here the socket blocks (with SO_RCVTIMEO for deadlines): one
   * syscall per receive instead of poll + recv. */
  int fl = fcntl(s->fd, F_GETFL);
  fcntl(s->fd, F_SETFL, fl & ~O_NONBLOCK);
  s->rcvtimeo_ms = -1;
  *out = s;
  return 0;
fail:
  weft__ws_sync_free(s);
  return rv;
}

void weft__ws_sync_free(weft__ws_sync *s) {
  if (!s)
    return;
  if (s->fd >= 0)
    close(s->fd);
  weft__ws_rx_free(&s->rx);
  weft__ws_tx_free(&s->tx);
  free(s->in);
  free(s);
}

int weft__ws_sync_fd(const weft__ws_sync *s) {
  return s->fd;
}

const char *weft__ws_sync_protocol(const weft__ws_sync *s) {
  return s->proto;
}

int weft__ws_sync_send_frame(weft__ws_sync *s, int opcode, int fin,
                             const void *data, size_t len) {
  int rv = weft__ws_tx_frame(&s->tx, opcode, fin != 0, data, len);
  return rv < 0 ? rv : flush_tx(s);
}

int weft__ws_sync_send(weft__ws_sync *s, int opcode, const void *data,
                       size_t len) {
  return weft__ws_sync_send_frame(s, opcode, 1, data, len);
}

int weft__ws_sync_send_raw(weft__ws_sync *s, const void *data, size_t len) {
  return write_all(s->fd, data, len);
}

int weft__ws_sync_pongs(const weft__ws_sync *s) {
  return s->pongs;
}

int weft__ws_sync_close_code(const weft__ws_sync *s) {
  return s->close_code;
}

const char *weft__ws_sync_close_reason(const weft__ws_sync *s) {
  return s->close_reason;
}

int weft__ws_sync_recv(weft__ws_sync *s, int *opcode, const uint8_t **data,
                       size_t *len, int64_t timeout_ms) {
  int64_t deadline = timeout_ms > 0 ? now_ms() + timeout_ms : 0;
  for (;;) {
    if (s->close_code)
      return 0;
    while (s->in_off < s->in_len) {
      weft__ws_event ev;
      s->in_off += weft__ws_rx_parse(&s->rx, s->in + s->in_off,
                                     s->in_len - s->in_off, &ev);
      switch (ev.type) {
      case WEFT__WS_EV_MESSAGE:
        *opcode = ev.opcode;
        *data = ev.data;
        *len = ev.len;
        return 1;
      case WEFT__WS_EV_PING:
        weft__ws_tx_pong(&s->tx, ev.data, ev.len);
        flush_tx(s);
        break;
      case WEFT__WS_EV_PONG:
        s->pongs++;
        break;
      case WEFT__WS_EV_CLOSE:
        s->close_code = ev.code;
        snprintf(s->close_reason, sizeof s->close_reason, "%.*s", (int)ev.len,
                 (const char *)ev.data);
        /* Echo the code (RFC 6455 5.5.1), then the server closes TCP. */
        weft__ws_tx_close(
            &s->tx, ev.code == WEFT__WS_CLOSE_NO_STATUS ? 0 : ev.code, NULL);
        flush_tx(s);
        return 0;
      case WEFT__WS_EV_ERROR:
        weft__ws_tx_close(&s->tx, ev.code, ev.what);
        flush_tx(s);
        s->close_code = ev.code;
        snprintf(s->close_reason, sizeof s->close_reason, "%s", ev.what);
        return 0;
      default:
        break;
      }
    }
    s->in_off = s->in_len = 0;
    int64_t left = 0; /* 0: wait forever */
    if (deadline > 0) {
      left = deadline - now_ms();
      if (left <= 0)
        return WEFT_ERR_TIMEOUT;
    }
    /* Reset the timeout only when it matters (up to 10 ms late). */
    if (s->rcvtimeo_ms < 0 || (left == 0) != (s->rcvtimeo_ms == 0) ||
        left + 10 < s->rcvtimeo_ms || left > s->rcvtimeo_ms + 1000) {
      struct timeval tv = {(time_t)(left / 1000),
                           (suseconds_t)(left % 1000) * 1000};
      setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      s->rcvtimeo_ms = left;
    }
    ssize_t r = recv(s->fd, s->in, s->in_cap, 0);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      continue; /* the timeout: the deadline check above decides */
    if (r > 0) {
      s->in_len = (size_t)r;
    } else if (r == 0) {
      s->close_code = WEFT__WS_CLOSE_ABNORMAL;
      return WEFT_ERR_CLOSED;
    } else if (errno != EINTR && errno != EAGAIN) {
      s->close_code = WEFT__WS_CLOSE_ABNORMAL;
      return WEFT_ERR_IO;
    }
  }
}

int weft__ws_sync_close(weft__ws_sync *s, uint16_t code, const char *reason,
                        int64_t timeout_ms) {
  int rv = weft__ws_tx_close(&s->tx, code, reason);
  if (rv == 0)
    rv = flush_tx(s);
  if (rv < 0)
    return rv;
  int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 5000);
  int op;
  const uint8_t *d;
  size_t n;
  while (!s->close_code) {
    int64_t left = deadline - now_ms();
    if (left <= 0)
      return WEFT_ERR_TIMEOUT;
    rv = weft__ws_sync_recv(s, &op, &d, &n, left);
    if (rv < 0)
      return rv;
  }
  /* Wait for the server to end the TCP stream (it closes first). */
  shutdown(s->fd, SHUT_WR);
  char buf[256];
  while (wait_fd(s->fd, POLLIN, deadline) == 0) {
    ssize_t r = recv(s->fd, buf, sizeof buf, 0);
    if (r <= 0 && !(r < 0 && errno == EINTR))
      return 0;
  }
  return WEFT_ERR_TIMEOUT;
}
