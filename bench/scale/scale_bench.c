/* bench_scale: what an open stream costs a weft server, on grpc://, h2c://,
 * ws:// and tcp://. Prints figures; not a test.
 *
 *   bench_scale WEFT_CLI [streams] [events] [calls] [schemes]
 *
 * schemes (default all: grpc,h2c,ws,tcp) picks the transports to run;
 * grpc-h2 (not in the default) is a client mode: weft's own HTTP/2 client
 * speaking gRPC (h2c:// with protocol grpc) to the grpc:// server, to
 * compare with the gRPC-core client (grpc) in the same run.
 *
 * 1. Against `weft serve` (a child process, 4 workers): `streams` (default
 *    10000) concurrent weft.v1.PubSub/Subscribe streams held open at once;
 *    the server's thread count and RSS idle vs with them open, RSS per
 *    stream. Then `events` (default 20) events published to all of them:
 *    for each, the time until the last subscriber has it, p50/p99. The
 *    client reads every stream concurrently with asynchronous calls
 *    (weft_call_start_async, native on every transport); its own work on
 *    10,000 streams, on the same cores, is part of the figure, and its CPU
 *    per event is printed beside the server's.
 * 2. Against this program in server mode (`bench_scale serve`, 4 workers,
 *    an Echo.Unary that waits delay_ms on weft_server_call_after):
 *    `calls` (default 1000) concurrent unary calls that each wait 1 s, all
 *    started from one client thread; the time until all finished.
 *
 * The client and the server are separate processes (each under the
 * container's open-file limit) sharing the machine's cores. */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "echo.weft.h"
#include "google/protobuf/wrappers.weft.h"
#include "weft/client.h"
#include "weft/codec.h"
#include "weft/grpc_transport.h"
#include "weft/http.h"
#include "weft/server.h"
#include "weft/transport.h"
#include "weft/v1/pubsub.weft.h"

enum { NT = 4, NM = 5 };
static const char *const kSchemes[NT] = {"grpc", "h2c", "ws", "tcp"};
/* Client modes: one per server transport, and grpc-h2 (the grpc:// server,
 * read by weft's HTTP/2 client speaking gRPC). */
static const char *const kModes[NM] = {"grpc", "h2c", "ws", "tcp", "grpc-h2"};
static const int kServerOf[NM] = {0, 1, 2, 3, 0};
/* Streams per client connection: the grpc and h2c servers allow 100
 * concurrent streams (SETTINGS_MAX_CONCURRENT_STREAMS; beyond that a
 * client queues new streams until one ends); WebSocket connections are
 * rate-limited per message. */
static const int kPerConn[NM] = {100, 100, 50, 500, 100};

/* Opens a client of mode t on the server's url of that transport. */
static int open_client(int t, const char *url, weft_client **c,
                       weft_error *err) {
  if (t != 4)
    return weft_client_open(c, url, NULL, err);
  static weft_http_client_opts http = WEFT_HTTP_CLIENT_OPTS_INIT;
  http.protocol = WEFT_HTTP_GRPC;
  weft_client_opts o;
  memset(&o, 0, sizeof o);
  o.transport_opts = &http;
  char h2[160];
  snprintf(h2, sizeof h2, "h2c://%s", strstr(url, "://") + 3);
  return weft_client_open(c, h2, &o, err);
}

static double now_ms(void) {
  return (double)weft_now_ns() / 1e6;
}

/* ---- server mode ---- */

static void unary_done(weft_server_call *call, void *ud) {
  (void)ud;
  weft_server_call_finish(call, WEFT_STATUS_OK);
}

static int srv_unary(weft_server_call *call, const weft__test__EchoRequest *req,
                     weft__test__EchoResponse *resp, void *ctx) {
  (void)ctx;
  resp->index = req->delay_ms;
  weft_server_call_detach(call);
  weft_server_call_after(call, req->delay_ms, unary_done, NULL);
  return WEFT_STATUS_OK;
}

static int srv_unimpl_ss(weft_server_call *call,
                         const weft__test__EchoRequest *req, void *ctx) {
  (void)call, (void)req, (void)ctx;
  return WEFT_STATUS_UNIMPLEMENTED;
}
static int srv_unimpl_cs(weft_server_call *call, weft__test__EchoResponse *r,
                         void *ctx) {
  (void)call, (void)r, (void)ctx;
  return WEFT_STATUS_UNIMPLEMENTED;
}
static int srv_unimpl_bidi(weft_server_call *call, void *ctx) {
  (void)call, (void)ctx;
  return WEFT_STATUS_UNIMPLEMENTED;
}

static const weft__test__Echo_impl srv_impl = {srv_unary, srv_unimpl_ss,
                                               srv_unimpl_cs, srv_unimpl_bidi};

static weft_server *g_srv;

static int serve(void) {
  /* SIGTERM is taken by sigwait on this thread (weft_server_shutdown is
   * not async-signal-safe: called from a handler that interrupted a thread
   * waiting on the server's condition variable, it hung the server for
   * good). Blocked before any thread starts, so every thread inherits it. */
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &term, NULL);
  weft_server_opts so;
  memset(&so, 0, sizeof so);
  so.worker_threads = 4;
  so.max_msgs_per_sec = 1000000;
  so.max_conns_per_ip = 10000;
  /* WEFT_SCALE_GRPC_CQS=N: gRPC calls spread over N completion queues
   * (weft_grpc_opts.cq_threads; 0 or unset: the default, one per core, at
   * least 2); WEFT_SCALE_GRPC_POOL=1: handlers on the worker pool
   * (pool_handlers) instead of the queue threads. */
  weft_grpc_opts go = WEFT_GRPC_OPTS_INIT;
  const char *cqs = getenv("WEFT_SCALE_GRPC_CQS");
  const char *pool = getenv("WEFT_SCALE_GRPC_POOL");
  if (cqs && atoi(cqs) > 0)
    go.cq_threads = (unsigned)atoi(cqs);
  go.pool_handlers = pool && atoi(pool) > 0;
  so.transport_opts = &go;
  if (weft_server_new(&g_srv, &so) < 0 ||
      weft_server_add_service(g_srv, &weft__test__Echo_service, &srv_impl,
                              NULL) < 0)
    return 1;
  for (int t = 0; t < NT; t++) {
    char url[64];
    snprintf(url, sizeof url, "%s://127.0.0.1:0", kSchemes[t]);
    weft_error err;
    weft_error_clear(&err);
    if (weft_server_listen(g_srv, url, &err) < 0) {
      fprintf(stderr, "listen %s: %s\n", url, err.message);
      return 1;
    }
    printf("listening on %s://127.0.0.1:%d\n", kSchemes[t],
           weft_server_port(g_srv, (unsigned)t));
  }
  fflush(stdout);
  int sig;
  sigwait(&term, &sig);
  weft_server_shutdown(g_srv);
  weft_server_free(g_srv);
  return 0;
}

/* ---- child processes ---- */

typedef struct child {
  pid_t pid;
  char urls[NT][128]; /* by kSchemes order */
} child;

static int start_child(child *c, char *const argv[]) {
  int fds[2];
  if (pipe(fds) < 0)
    return -1;
  c->pid = fork();
  if (c->pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    execv(argv[0], argv);
    _exit(127);
  }
  close(fds[1]);
  FILE *f = fdopen(fds[0], "r");
  char line[512];
  int n = 0;
  memset(c->urls, 0, sizeof c->urls);
  while (n < NT && fgets(line, sizeof line, f)) {
    char *p = strstr(line, "listening on ");
    if (!p)
      continue;
    p += strlen("listening on ");
    p[strcspn(p, "\r\n")] = 0;
    char *colon = strrchr(p, ':');
    for (int t = 0; t < NT; t++) {
      size_t sl = strlen(kSchemes[t]);
      if (!strncmp(p, kSchemes[t], sl) && !strncmp(p + sl, "://", 3)) {
        snprintf(c->urls[t], sizeof c->urls[t], "%s://127.0.0.1%s", kSchemes[t],
                 colon);
        n++;
      }
    }
  }
  fclose(f);
  return n == NT ? 0 : -1;
}

static void stop_child(child *c) {
  if (c->pid > 0) {
    kill(c->pid, SIGTERM);
    int st;
    waitpid(c->pid, &st, 0);
  }
}

static int threads_of(pid_t pid) {
  char dir[64];
  snprintf(dir, sizeof dir, "/proc/%d/task", (int)pid);
  DIR *d = opendir(dir);
  if (!d)
    return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

/* The server's threads by name ("weft-grpc-cq x3, grpc_global_tim x1"):
 * printed where the count changed, to tell weft's threads from gRPC
 * core's. */
static void thread_names(pid_t pid, char *out, size_t cap) {
  char names[64][16];
  int counts[64], n = 0;
  char dir[64];
  snprintf(dir, sizeof dir, "/proc/%d/task", (int)pid);
  DIR *d = opendir(dir);
  struct dirent *e;
  while (d && (e = readdir(d))) {
    if (e->d_name[0] == '.')
      continue;
    char path[128], name[16] = "?";
    snprintf(path, sizeof path, "%s/%.32s/comm", dir, e->d_name);
    FILE *f = fopen(path, "r");
    if (f) {
      if (fgets(name, sizeof name, f))
        name[strcspn(name, "\n")] = 0;
      fclose(f);
    }
    int i = 0;
    while (i < n && strcmp(names[i], name))
      i++;
    if (i == n && n < 64) {
      snprintf(names[n], sizeof names[n], "%s", name);
      counts[n++] = 0;
    }
    if (i < n)
      counts[i]++;
  }
  if (d)
    closedir(d);
  size_t len = 0;
  out[0] = 0;
  for (int i = 0; i < n && len < cap; i++)
    len += (size_t)snprintf(out + len, cap - len, "%s%s x%d", i ? ", " : "",
                            names[i], counts[i]);
}

static long rss_kb(pid_t pid) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "r");
  long kb = -1;
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, "VmRSS:", 6))
      kb = atol(line + 6);
  if (f)
    fclose(f);
  return kb;
}

/* CPU time (user + system) the process has used, in ms: a figure the
 * machine's load hardly changes, unlike latencies. */
static double cpu_ms(pid_t pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f)
    return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  const char *p = strrchr(buf, ')'); /* the name may hold spaces */
  unsigned long ut = 0, st = 0;
  if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
                   &ut, &st) != 2)
    return 0;
  return (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double pct(double *v, int n, double p) {
  qsort(v, (size_t)n, sizeof *v, cmp_d);
  int i = (int)(p * (n - 1) + 0.5);
  return v[i];
}

/* ---- 1. open streams and fan-out ---- */

/* What the subscribers have seen, counted by the callbacks of their
 * asynchronous calls. */
typedef struct fan {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int acked;     /* acknowledgements (Event without a message) */
  int ack_want;  /* acknowledgements the opener waits for */
  int failed;    /* streams that ended early */
  int want;      /* subscribers that must have the current event */
  int got;       /* of them, how many have it */
  double t_last; /* when got reached want */
  bool quit;
} fan;

/* Wakes the waiter only when what it waits for is reached: a wake-up per
 * message (10,000 per event) was a quarter of this client's CPU on grpc,
 * the harness's cost, not the transport's. */
static void fan_count(fan *f, bool ack) {
  bool wake = false;
  pthread_mutex_lock(&f->mu);
  if (ack) {
    wake = ++f->acked >= f->ack_want;
  } else if (++f->got == f->want) {
    f->t_last = now_ms();
    wake = true;
  }
  if (wake)
    pthread_cond_broadcast(&f->cv);
  pthread_mutex_unlock(&f->mu);
}

/* Waits (at most 60 s) until *v >= n; returns whether it got there. */
static bool fan_wait(fan *f, const int *v, int n) {
  int64_t until = weft_now_ns() + 60 * 1000000000LL;
  pthread_mutex_lock(&f->mu);
  while (*v < n && f->failed == 0 && weft_now_ns() < until) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 100 * 1000000;
    if (ts.tv_nsec >= 1000000000) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&f->cv, &f->mu, &ts);
  }
  bool ok = *v >= n;
  pthread_mutex_unlock(&f->mu);
  return ok;
}

static void on_event(weft_call *call, void *msg, void *ud) {
  (void)call;
  const weft__v1__Event *e = msg;
  fan_count(ud, !e->message); /* the acknowledgement has no message */
  weft_message_free(msg);
}

static void on_sub_done(weft_call *call, const weft_status *st,
                        const weft_metadata *md, void *ud) {
  (void)call, (void)md;
  fan *f = ud;
  pthread_mutex_lock(&f->mu);
  if (!f->quit && st->code != WEFT_STATUS_OK) {
    if (f->failed++ == 0)
      fprintf(stderr, "a subscription ended: %d %s\n", st->code,
              st->message ? st->message : "");
  }
  pthread_cond_broadcast(&f->cv);
  pthread_mutex_unlock(&f->mu);
}

static const weft_call_callbacks sub_cb = {NULL, on_event, on_sub_done};

static void streams_bench(const child *node, int t, int nstreams, int nevents) {
  const char *url = node->urls[kServerOf[t]];
  int per = kPerConn[t];
  int nconn = (nstreams + per - 1) / per;
  weft_client **cs = calloc((size_t)nconn, sizeof *cs);
  weft_call **calls = calloc((size_t)nstreams, sizeof *calls);
  weft_call_opts *os = calloc((size_t)nstreams, sizeof *os);
  double *lat = calloc((size_t)nevents, sizeof *lat);
  fan f;
  memset(&f, 0, sizeof f);
  pthread_mutex_init(&f.mu, NULL);
  pthread_cond_init(&f.cv, NULL);
  usleep(500000); /* the previous transport's connections wind down */
  long rss0 = rss_kb(node->pid);
  int th0 = threads_of(node->pid);
  char names0[1024];
  thread_names(node->pid, names0, sizeof names0);
  /* Opened in batches, each acknowledged before the next: a burst of
   * thousands of new calls at once would exceed the server's queue of
   * calls waiting for a worker (max_pending_calls) and be refused with
   * RESOURCE_EXHAUSTED, which is overload protection, not what this
   * measures. */
  const int batch = 500;
  int open = 0, acked = 0;
  double t0 = now_ms();
  while (open < nstreams && acked == open) {
    int end = open + batch < nstreams ? open + batch : nstreams;
    pthread_mutex_lock(&f.mu);
    f.ack_want = end;
    pthread_mutex_unlock(&f.mu);
    for (int i = open; i < end; i++) {
      if (i % per == 0) {
        weft_error err;
        weft_error_clear(&err);
        if (open_client(t, url, &cs[i / per], &err) < 0) {
          fprintf(stderr, "%s: connect: %s\n", url, err.message);
          break;
        }
      }
      os[i].timeout_ms = 600000;
      weft__v1__SubscribeRequest req = weft__v1__SubscribeRequest_INIT;
      req.topic = (char *)"scale";
      int rv = weft_call_start_async(cs[i / per],
                                     &weft__v1__PubSub_service.methods[0], &req,
                                     &os[i], &sub_cb, &f, &calls[i]);
      if (rv < 0)
        break;
      open++;
    }
    fan_wait(&f, &f.acked, open);
    pthread_mutex_lock(&f.mu);
    acked = f.acked;
    pthread_mutex_unlock(&f.mu);
    if (open < end || acked < open) {
      fprintf(stderr, "%s: %d of %d streams acknowledged\n", url, acked, open);
      break;
    }
  }
  double t_open = now_ms() - t0;
  usleep(500000);
  long rss1 = rss_kb(node->pid);
  int th1 = threads_of(node->pid);
  if (th1 != th0) {
    char names1[1024];
    thread_names(node->pid, names1, sizeof names1);
    printf("      server threads idle: %s\n      with the streams: %s\n",
           names0, names1);
  }
  printf("%-5s %6d streams open (%d acknowledged) in %6.0f ms | server "
         "threads %d idle -> %d | RSS %ld -> %ld KiB, %.2f KiB/stream\n",
         kModes[t], open, acked, t_open, th0, th1, rss0, rss1,
         acked ? (double)(rss1 - rss0) / acked : 0.0);
  fflush(stdout);

  /* Fan-out: publish, then wait until every stream has read the event. */
  weft_client *pub = NULL;
  int nlat = 0;
  double cpu0 = cpu_ms(node->pid), mine0 = cpu_ms(getpid());
  if (acked == open && open_client(t, url, &pub, NULL) == 0) {
    for (int e = 0; e < nevents; e++) {
      google__protobuf__StringValue v = google__protobuf__StringValue_INIT;
      v.value = (char *)"tick";
      pthread_mutex_lock(&f.mu);
      f.want = acked;
      f.got = 0;
      pthread_cond_broadcast(&f.cv);
      pthread_mutex_unlock(&f.mu);
      double p0 = now_ms();
      if (weft_client_publish(pub, "scale", &v) < 0) {
        fprintf(stderr, "%s: publish failed\n", url);
        break;
      }
      if (!fan_wait(&f, &f.got, acked)) {
        fprintf(stderr, "%s: event %d reached %d of %d\n", url, e, f.got,
                acked);
        break;
      }
      lat[nlat++] = f.t_last - p0;
    }
    weft_client_close(pub);
  }
  double cpu = cpu_ms(node->pid) - cpu0, mine = cpu_ms(getpid()) - mine0;
  if (nlat)
    printf("%-5s one event to %d subscribers, until the last has it: p50 "
           "%.1f ms, p99 %.1f ms (%d events) | CPU per event: server %.1f "
           "ms, this client %.1f ms\n",
           kModes[t], acked, pct(lat, nlat, 0.5), pct(lat, nlat, 0.99), nlat,
           cpu / nlat, mine / nlat);
  fflush(stdout);
  pthread_mutex_lock(&f.mu);
  f.quit = true;
  pthread_cond_broadcast(&f.cv);
  pthread_mutex_unlock(&f.mu);
  /* Asynchronous calls still open are cancelled by the close, which waits
   * for their on_done. */
  for (int i = 0; i < nconn; i++)
    weft_client_close(cs[i]);
  pthread_cond_destroy(&f.cv);
  pthread_mutex_destroy(&f.mu);
  free(lat);
  free(os);
  free(calls);
  free(cs);
}

/* ---- 2. unary calls that wait 1 s without a thread ---- */

static void wait_bench(const child *srv, int t, int ncalls) {
  const char *url = srv->urls[kServerOf[t]];
  int per = kPerConn[t] < 200 ? kPerConn[t] : 200;
  int nconn = (ncalls + per - 1) / per;
  weft_client **cs = calloc((size_t)nconn, sizeof *cs);
  weft_call **calls = calloc((size_t)ncalls, sizeof *calls);
  weft_call_opts *os = calloc((size_t)ncalls, sizeof *os);
  int th0 = threads_of(srv->pid), started = 0, ok = 0;
  for (int i = 0; i < nconn; i++)
    if (open_client(t, url, &cs[i], NULL) < 0)
      goto out;
  double t0 = now_ms();
  for (int i = 0; i < ncalls; i++) {
    os[i].timeout_ms = 30000;
    weft__test__EchoRequest req = weft__test__EchoRequest_INIT;
    req.delay_ms = 1000;
    if (weft_call_start(cs[i / per], &weft__test__Echo_service.methods[0],
                        &os[i], &calls[i]) < 0)
      break;
    weft_call_send(calls[i], &req);
    weft_call_close_send(calls[i]);
    started++;
  }
  int th1 = threads_of(srv->pid);
  for (int i = 0; i < started; i++) {
    void *m = NULL;
    if (weft_call_recv(calls[i], &m) == 1) {
      weft_message_free(m);
      if (weft_call_finish(calls[i]) == 0)
        ok++;
    } else {
      weft_call_finish(calls[i]);
    }
    weft_status_clear(&os[i].status);
  }
  printf("%-5s %d concurrent unary calls waiting 1 s (4 workers): %d OK, "
         "all done in %.0f ms | server threads %d -> %d\n",
         kModes[t], started, ok, now_ms() - t0, th0, th1);
  fflush(stdout);
out:
  for (int i = 0; i < nconn; i++)
    weft_client_close(cs[i]);
  free(os);
  free(calls);
  free(cs);
}

int main(int argc, char **argv) {
  if (argc >= 2 && !strcmp(argv[1], "serve"))
    return serve();
  if (argc < 2) {
    fprintf(stderr, "usage: %s WEFT_CLI [streams] [events] [calls] [schemes]\n",
            argv[0]);
    return 2;
  }
  int nstreams = argc > 2 ? atoi(argv[2]) : 10000;
  int nevents = argc > 3 ? atoi(argv[3]) : 20;
  int ncalls = argc > 4 ? atoi(argv[4]) : 1000;
  const char *only = argc > 5 ? argv[5] : "grpc,h2c,ws,tcp";
  bool run[NM];
  for (int t = 0; t < NM; t++) {
    size_t sl = strlen(kModes[t]);
    run[t] = false;
    for (const char *p = only; *p; p += strcspn(p, ","), p += *p == ',')
      if (!strncmp(p, kModes[t], sl) && (p[sl] == ',' || !p[sl]))
        run[t] = true;
  }
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max; /* children inherit it */
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  signal(SIGPIPE, SIG_IGN);

  /* A fresh `weft serve` per transport: memory freed by the previous
   * transport's streams stays resident and would hide the next one's. */
  printf("== weft serve (4 workers), %d Subscribe streams per transport\n",
         nstreams);
  for (int t = 0; t < NM; t++) {
    if (!run[t])
      continue;
    child node = {0};
    /* WEFT_SCALE_SELF=1: the streams against this program's own server
     * (`bench_scale serve`: the same built-in PubSub, 4 workers, and the
     * gRPC options above) instead of `weft serve`. */
    char *self_argv[] = {argv[0], (char *)"serve", NULL};
    bool self = getenv("WEFT_SCALE_SELF") && atoi(getenv("WEFT_SCALE_SELF"));
    char *node_argv[] = {argv[1],           (char *)"serve",
                         (char *)"--quiet", (char *)"--workers",
                         (char *)"4",       (char *)"--block-interval-ms",
                         (char *)"3600000", (char *)"--max-conns-per-ip",
                         (char *)"10000",   (char *)"--grpc-port",
                         (char *)"0",       (char *)"--h2-port",
                         (char *)"0",       (char *)"--ws-port",
                         (char *)"0",       (char *)"--tcp-port",
                         (char *)"0",       NULL};
    if (start_child(&node, self ? self_argv : node_argv) < 0) {
      fprintf(stderr, "cannot start %s serve\n", argv[1]);
      stop_child(&node);
      return 1;
    }
    streams_bench(&node, t, nstreams, nevents);
    stop_child(&node);
  }

  if (ncalls <= 0)
    return 0;
  child srv = {0};
  char *srv_argv[] = {argv[0], (char *)"serve", NULL};
  if (start_child(&srv, srv_argv) < 0) {
    fprintf(stderr, "cannot start the wait server\n");
    stop_child(&srv);
    return 1;
  }
  printf("== asynchronous waits (bench_scale serve, 4 workers)\n");
  for (int t = 0; t < NM; t++)
    if (run[t])
      wait_bench(&srv, t, ncalls);
  stop_child(&srv);
  return 0;
}
