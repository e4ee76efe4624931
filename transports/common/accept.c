/* The shared accept loop; see accept.h.
 *
 * The listening socket is level-triggered: an accept error that is not
 * EAGAIN leaves it readable, so returning to epoll would spin at 100% CPU.
 * Errors that depend on the process (EMFILE, ENFILE, ENOBUFS, ENOMEM) and
 * unknown ones take the socket off the loop for WEFT__ACCEPT_PAUSE_MS;
 * pending clients wait in the kernel's backlog meanwhile. One log line says
 * a pause began and one says accepting resumed, however long it lasts. */
#define _GNU_SOURCE
#include "accept.h"

#include "weft/transport.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define IP_BUCKETS 256
#define ACCEPT_BATCH 64

typedef struct ip_count {
  struct ip_count *next;
  unsigned n;
  char ip[48];
} ip_count;

struct weft__acceptor {
  weft__acceptor_opts o;
  int lfd;
  bool registered;
  weft_timer *retry;
  int64_t paused_ns; /* when the current pause began; 0: not paused */
  unsigned long refused_per_ip;
  ip_count *ips[IP_BUCKETS];
};

static void alog(weft__acceptor *a, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void alog(weft__acceptor *a, int level, const char *fmt, ...) {
  char line[400];
  int n = snprintf(line, sizeof line, "%s: ", a->o.name ? a->o.name : "listen");
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
  va_end(ap);
  if (a->o.log)
    a->o.log(level, line, a->o.log_ud);
  else if (level >= 1) /* as weft_server_opts.log NULL does */
    fprintf(stderr, "weft: %s\n", line);
}

static unsigned ip_hash(const char *s) {
  unsigned h = 2166136261u;
  while (*s)
    h = (h ^ (unsigned char)*s++) * 16777619u;
  return h % IP_BUCKETS;
}

static ip_count *ip_find(const weft__acceptor *a, const char *ip,
                         ip_count ***pp_out) {
  ip_count *const *pp = &a->ips[ip_hash(ip)];
  for (; *pp; pp = &(*pp)->next)
    if (strcmp((*pp)->ip, ip) == 0)
      break;
  if (pp_out)
    *pp_out = (ip_count **)pp;
  return *pp;
}

/* Counts one more for ip; returns the new count (UINT32_MAX when out of
 * memory, which counts as over any limit). */
static unsigned ip_inc(weft__acceptor *a, const char *ip) {
  ip_count *e = ip_find(a, ip, NULL);
  if (e)
    return ++e->n;
  e = calloc(1, sizeof *e);
  if (!e)
    return UINT32_MAX;
  snprintf(e->ip, sizeof e->ip, "%s", ip);
  e->n = 1;
  unsigned b = ip_hash(ip);
  e->next = a->ips[b];
  a->ips[b] = e;
  return 1;
}

void weft__acceptor_release(weft__acceptor *a, const char *ip) {
  ip_count **pp;
  ip_count *e;
  if (!a || !ip || !(e = ip_find(a, ip, &pp)))
    return;
  if (--e->n == 0) {
    *pp = e->next;
    free(e);
  }
}

unsigned weft__acceptor_count(const weft__acceptor *a, const char *ip) {
  ip_count *e = ip_find(a, ip, NULL);
  return e ? e->n : 0;
}

bool weft__acceptor_paused(const weft__acceptor *a) {
  return a->paused_ns != 0;
}

static void on_accept(weft_loop *lp, int lfd, unsigned events, void *ud);

static void on_retry(weft_loop *lp, weft_timer *t, void *ud) {
  weft__acceptor *a = ud;
  (void)t;
  a->retry = NULL;
  if (a->lfd < 0)
    return;
  if (weft_loop_add_fd(lp, a->lfd, WEFT_IO_READ, on_accept, a) == 0) {
    a->registered = true;
    on_accept(lp, a->lfd, WEFT_IO_READ, a); /* resumes or pauses again */
  } else {
    a->retry = weft_loop_timer(lp, WEFT__ACCEPT_PAUSE_MS, 0, on_retry, a);
  }
}

static void pause_accepting(weft__acceptor *a, int err) {
  if (a->registered) {
    weft_loop_del_fd(a->o.loop, a->lfd);
    a->registered = false;
  }
  if (!a->paused_ns) {
    a->paused_ns = weft_now_ns();
    alog(a, 3,
         "accept: %s; pausing accepts (retrying every %d ms, logged once)",
         strerror(err), WEFT__ACCEPT_PAUSE_MS);
  }
  if (!a->retry)
    a->retry =
        weft_loop_timer(a->o.loop, WEFT__ACCEPT_PAUSE_MS, 0, on_retry, a);
}

static void resumed(weft__acceptor *a) {
  if (!a->paused_ns)
    return;
  alog(a, 1, "accepting again after a %lld ms pause",
       (long long)((weft_now_ns() - a->paused_ns) / 1000000));
  a->paused_ns = 0;
}

static void on_accept(weft_loop *lp, int lfd, unsigned events, void *ud) {
  weft__acceptor *a = ud;
  (void)lp;
  (void)events;
  for (int i = 0; i < ACCEPT_BATCH && a->lfd >= 0; i++) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    ss.ss_family = AF_UNSPEC;
    int fd =
        accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      int e = errno;
      if (e == EAGAIN || e == EWOULDBLOCK) {
        resumed(a);
        return;
      }
      /* The connection died in the backlog (accept(2) lists the network
       * errors Linux passes on): the next one may be fine. */
      if (e == EINTR || e == ECONNABORTED || e == EPROTO || e == ENETDOWN ||
          e == ENOPROTOOPT || e == EHOSTDOWN || e == ENONET ||
          e == EHOSTUNREACH || e == EOPNOTSUPP || e == ENETUNREACH ||
          e == EPERM)
        continue;
      pause_accepting(a, e);
      return;
    }
    resumed(a);
    weft__conn *c;
    weft_error err;
    /* weft__conn_accept owns fd from here: it closes it on failure. */
    if (weft__conn_accept(&c, fd, a->o.tls, &err) < 0) {
      alog(a, 2, "accept: %s", err.message);
      continue;
    }
    weft__conn_set_peer(c, (const struct sockaddr *)&ss);
    bool over = false;
    if (a->o.max_per_ip) {
      over = ip_inc(a, weft__conn_ip(c)) > a->o.max_per_ip;
      if (over && !a->o.deliver_over_limit) {
        /* Logged on the first refusal and then every 1000th, so a flood
         * from one address cannot flood the log too. */
        if (a->refused_per_ip++ % 1000 == 0)
          alog(a, 2,
               "%s: refused: over %u connections from this address "
               "(%lu refused so far)",
               weft__conn_peer(c), a->o.max_per_ip, a->refused_per_ip);
        weft__acceptor_release(a, weft__conn_ip(c));
        weft__conn_close(c);
        continue;
      }
    }
    a->o.on_conn(a->o.ud, c, over);
  }
}

int weft__acceptor_new(weft__acceptor **out, const weft__acceptor_opts *o) {
  *out = NULL;
  weft__acceptor *a = calloc(1, sizeof *a);
  if (!a) {
    close(o->lfd);
    return WEFT_ERR_NOMEM;
  }
  a->o = *o;
  a->lfd = o->lfd;
  int rc = weft_loop_add_fd(o->loop, a->lfd, WEFT_IO_READ, on_accept, a);
  if (rc < 0) {
    close(a->lfd);
    free(a);
    return rc;
  }
  a->registered = true;
  *out = a;
  return 0;
}

void weft__acceptor_stop(weft__acceptor *a) {
  if (!a || a->lfd < 0)
    return;
  if (a->registered)
    weft_loop_del_fd(a->o.loop, a->lfd);
  a->registered = false;
  if (a->retry)
    weft_timer_cancel(a->o.loop, a->retry);
  a->retry = NULL;
  close(a->lfd);
  a->lfd = -1;
}

void weft__acceptor_free(weft__acceptor *a) {
  if (!a)
    return;
  weft__acceptor_stop(a);
  for (int i = 0; i < IP_BUCKETS; i++)
    for (ip_count *e = a->ips[i], *n; e; e = n) {
      n = e->next;
      free(e);
    }
  free(a);
}
