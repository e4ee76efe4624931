/* bench_cluster: weft.v1.PubSub fan-out on one node vs three nodes joined
 * through NATS (docs/CLUSTER.md). Prints figures; not a test.
 *
 *   bench_cluster WEFT_CLI [subscribers=1000] [events=200]
 *
 * Three set-ups, each with fresh processes: one `weft serve` alone; one
 * node with --nats (what NATS costs on the same load); three nodes with
 * --nats, the subscribers spread evenly over them. `subscribers` tcp://
 * Subscribe streams (500 per connection), then `events` events published
 * from one client on the first node in bursts of 32 (each burst read by
 * every subscriber before the next: see BURST), each an Int64Value
 * holding its publish time (CLOCK_MONOTONIC, shared by the processes of
 * one machine). Four reader threads drain the streams; each event's
 * latency is the time its reader got it minus its publish time (readers
 * take their streams in turn, so this is an upper bound, as in
 * bench/scale). Reported: delivered events per second (from the first
 * publish to the last delivery), latency p50/p99, and CPU time (user +
 * system of every node and nats-server, from /proc) per delivered event.
 * Everything shares the machine's cores: compare the rows of one run. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#include "google/protobuf/wrappers.weft.h"
#include "weft/client.h"
#include "weft/codec.h"
#include "weft/transport.h"
#include "weft/v1/pubsub.weft.h"

enum { MAXN = 3, PER_CONN = 500, READERS = 4, BURST = 32, NLAT = 20 };

/* Events read by every reader: the publisher keeps at most BURST events
 * in flight per stream, under the client's per-stream receive queue (64
 * messages); beyond it a connection stops reading its socket and a reader
 * waiting on one stream could wait behind another's full queue. */
static atomic_long g_read;

typedef struct proc {
  pid_t pid;
  char url[128];
} proc;

static double now_ms(void) {
  return (double)weft_now_ns() / 1e6;
}

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t l = sizeof a;
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
      getsockname(fd, (struct sockaddr *)&a, &l) < 0) {
    if (fd >= 0)
      close(fd);
    return -1;
  }
  close(fd);
  return ntohs(a.sin_port);
}

/* Starts argv; with want_url, reads stdout until "listening on tcp://". */
static int spawn(proc *p, char *const argv[], bool want_url) {
  int fds[2];
  if (pipe(fds) < 0)
    return -1;
  p->pid = fork();
  if (p->pid == 0) {
    dup2(fds[1], 1);
    int dn = open("/dev/null", O_WRONLY);
    if (dn >= 0)
      dup2(dn, 2);
    close(fds[0]);
    close(fds[1]);
    execvp(argv[0], argv);
    _exit(127);
  }
  close(fds[1]);
  if (!want_url) {
    close(fds[0]);
    return 0;
  }
  FILE *f = fdopen(fds[0], "r");
  char line[512];
  int rv = -1;
  while (fgets(line, sizeof line, f)) {
    char *u = strstr(line, "listening on tcp://");
    if (u) {
      u += strlen("listening on ");
      u[strcspn(u, "\r\n")] = 0;
      snprintf(p->url, sizeof p->url, "%s", u);
      rv = 0;
      break;
    }
  }
  fclose(f);
  return rv;
}

static void stop(proc *p) {
  if (p->pid > 0) {
    kill(p->pid, SIGTERM);
    int st;
    waitpid(p->pid, &st, 0);
    p->pid = 0;
  }
}

static double cpu_s(pid_t pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f)
    return 0;
  char buf[1024];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  char *p = strrchr(buf, ')'); /* comm may hold spaces */
  unsigned long ut = 0, st = 0;
  if (p)
    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
           &st);
  return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

typedef struct reader {
  weft_call **calls;
  int n, events; /* throughput events, then NLAT latency events */
  double *lat;   /* n * NLAT, of the latency events */
  int got, nlat;
  double last_ms; /* the last throughput event read */
} reader;

static void *read_streams(void *arg) {
  reader *r = arg;
  for (int e = 0; e < r->events + NLAT; e++) {
    for (int i = 0; i < r->n; i++) {
      void *m = NULL;
      if (weft_call_recv(r->calls[i], &m) != 1)
        continue;
      weft__v1__Event *ev = m;
      double t = now_ms();
      google__protobuf__Int64Value *v = NULL;
      if (ev->message &&
          weft_decode(&google__protobuf__Int64Value_desc,
                      ev->message->value.data, ev->message->value.len, NULL,
                      (void **)&v, NULL) == 0) {
        if (e < r->events) {
          r->got++;
          r->last_ms = t;
        } else {
          r->lat[r->nlat++] = t - (double)v->value / 1e6;
        }
        weft_message_free(v);
        atomic_fetch_add(&g_read, 1);
      }
      weft_message_free(m);
    }
  }
  return NULL;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void run(const char *weft, const char *label, int nodes, bool nats,
                int nsubs, int nevents) {
  proc np = {0}, node[MAXN] = {{0}};
  char nurl[64] = "";
  char store[] = "/tmp/weft-bench-js-XXXXXX";
  if (nats) {
    int port = free_port();
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    snprintf(nurl, sizeof nurl, "nats://127.0.0.1:%d", port);
    if (!mkdtemp(store))
      return;
    char *argv[] = {"nats-server", "-a",  "127.0.0.1", "-p", ps,
                    "-js",         "-sd", store,       NULL};
    if (spawn(&np, argv, false) < 0)
      return;
    usleep(300000);
  }
  for (int i = 0; i < nodes; i++) {
    char id[8];
    snprintf(id, sizeof id, "n%d", i);
    char *argv[24];
    int a = 0;
    argv[a++] = (char *)weft;
    argv[a++] = "serve";
    argv[a++] = "--grpc-port";
    argv[a++] = "-1";
    argv[a++] = "--h2-port";
    argv[a++] = "-1";
    argv[a++] = "--ws-port";
    argv[a++] = "-1";
    argv[a++] = "--tcp-port";
    argv[a++] = "0";
    argv[a++] = "--workers";
    argv[a++] = "4";
    argv[a++] = "-q";
    if (nats) {
      argv[a++] = "--nats";
      argv[a++] = nurl;
      argv[a++] = "--node-id";
      argv[a++] = id;
    }
    argv[a] = NULL;
    if (spawn(&node[i], argv, true) < 0) {
      fprintf(stderr, "%s: node %d did not start\n", label, i);
      goto out;
    }
  }
  int nconn = (nsubs + PER_CONN - 1) / PER_CONN * nodes;
  weft_client **cs = calloc((size_t)nconn, sizeof *cs);
  weft_call **calls = calloc((size_t)nsubs, sizeof *calls);
  weft_call_opts *os = calloc((size_t)nsubs, sizeof *os);
  int open = 0, nc = 0;
  /* Subscriber i on node i % nodes; per node, PER_CONN per connection. */
  weft_client *cur[MAXN] = {0};
  int on[MAXN] = {0};
  for (int i = 0; i < nsubs; i++) {
    int k = i % nodes;
    if (on[k] % PER_CONN == 0) {
      if (weft_client_open(&cur[k], node[k].url, NULL, NULL) < 0)
        break;
      cs[nc++] = cur[k];
    }
    on[k]++;
    os[i].timeout_ms = 600000;
    weft__v1__SubscribeRequest req = weft__v1__SubscribeRequest_INIT;
    req.topic = (char *)"bench";
    if (weft__v1__PubSub_subscribe(cur[k], &req, &calls[i], &os[i]) < 0)
      break;
    void *m = NULL; /* the acknowledgement */
    if (weft_call_recv(calls[i], &m) != 1)
      break;
    weft_message_free(m);
    open++;
  }
  if (open < nsubs) {
    fprintf(stderr, "%s: only %d of %d subscribers\n", label, open, nsubs);
  } else {
    reader rd[READERS];
    pthread_t th[READERS];
    int per = (open + READERS - 1) / READERS;
    for (int r = 0; r < READERS; r++) {
      rd[r].calls = calls + r * per;
      rd[r].n = r * per + per <= open ? per : open - r * per;
      rd[r].events = nevents;
      rd[r].lat = calloc((size_t)rd[r].n * NLAT + 1, sizeof(double));
      rd[r].got = rd[r].nlat = 0;
      rd[r].last_ms = 0;
      pthread_create(&th[r], NULL, read_streams, &rd[r]);
    }
    weft_client *pub = NULL;
    weft_client_open(&pub, node[0].url, NULL, NULL);
    atomic_store(&g_read, 0);
    double cpu0 = np.pid ? cpu_s(np.pid) : 0;
    for (int i = 0; i < nodes; i++)
      cpu0 += cpu_s(node[i].pid);
    double t0 = now_ms();
    for (int e = 0; e < nevents && pub; e++) {
      google__protobuf__Int64Value v = google__protobuf__Int64Value_INIT;
      v.value = weft_now_ns();
      if (weft_client_publish(pub, "bench", &v) < 0) {
        fprintf(stderr, "%s: publish %d failed\n", label, e);
        break;
      }
      if ((e + 1) % BURST == 0) {
        /* Bounded: a lost event must not hang the bench. */
        double until = now_ms() + 10000;
        while (atomic_load(&g_read) < (long)(e + 1) * open && now_ms() < until)
          usleep(100);
      }
    }
    double t_pub = now_ms() - t0;
    double until = now_ms() + 10000;
    while (atomic_load(&g_read) < (long)nevents * open && now_ms() < until)
      usleep(100);
    double cpu1 = np.pid ? cpu_s(np.pid) : 0;
    for (int i = 0; i < nodes; i++)
      cpu1 += cpu_s(node[i].pid);
    /* Latency: one event at a time, each read by every subscriber before
     * the next is published. */
    for (int j = 0; j < NLAT && pub; j++) {
      google__protobuf__Int64Value v = google__protobuf__Int64Value_INIT;
      v.value = weft_now_ns();
      if (weft_client_publish(pub, "bench", &v) < 0)
        break;
      until = now_ms() + 10000;
      while (atomic_load(&g_read) < (long)(nevents + j + 1) * open &&
             now_ms() < until)
        usleep(100);
    }
    for (int r = 0; r < READERS; r++)
      pthread_join(th[r], NULL);
    weft_client_close(pub);
    int got = 0, nl = 0;
    double last = t0;
    for (int r = 0; r < READERS; r++) {
      got += rd[r].got;
      nl += rd[r].nlat;
      if (rd[r].last_ms > last)
        last = rd[r].last_ms;
    }
    double *all = calloc((size_t)nl + 1, sizeof *all);
    int k = 0;
    for (int r = 0; r < READERS; r++) {
      memcpy(all + k, rd[r].lat, (size_t)rd[r].nlat * sizeof *all);
      k += rd[r].nlat;
      free(rd[r].lat);
    }
    qsort(all, (size_t)nl, sizeof *all, cmp_d);
    double secs = (last - t0) / 1000;
    printf("%-22s %5d subs %4d events: %7d delivered (%s), %8.0f events/s, "
           "publish %5.0f/s | single event to all: p50 %6.1f ms p99 %6.1f ms | "
           "CPU %5.2f "
           "us/event\n",
           label, open, nevents, got, got == open * nevents ? "all" : "MISSING",
           secs > 0 ? got / secs : 0, nevents / (t_pub / 1000),
           nl ? all[nl / 2] : 0, nl ? all[(int)(0.99 * (nl - 1))] : 0,
           got ? (cpu1 - cpu0) * 1e6 / got : 0);
    fflush(stdout);
    free(all);
  }
  for (int i = 0; i < open; i++) {
    weft_call_cancel(calls[i]);
    weft_call_finish(calls[i]);
    weft_status_clear(&os[i].status);
  }
  for (int i = 0; i < nc; i++)
    weft_client_close(cs[i]);
  free(cs);
  free(calls);
  free(os);
out:
  for (int i = 0; i < nodes; i++)
    stop(&node[i]);
  stop(&np);
  if (nats) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", store);
    if (system(cmd) != 0)
      fprintf(stderr, "could not remove %s\n", store);
  }
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: bench_cluster WEFT_CLI [subscribers] [events]\n");
    return 2;
  }
  int nsubs = argc > 2 ? atoi(argv[2]) : 1000;
  int nevents = argc > 3 ? atoi(argv[3]) : 200;
  signal(SIGPIPE, SIG_IGN);
  const char *path = getenv("PATH");
  char np[4096];
  snprintf(np, sizeof np, "%s:/usr/sbin", path ? path : "/usr/bin");
  setenv("PATH", np, 1); /* Debian's nats-server */
  weft_transports_init();
  run(argv[1], "1 node, local", 1, false, nsubs, nevents);
  run(argv[1], "1 node, through NATS", 1, true, nsubs, nevents);
  run(argv[1], "3 nodes, through NATS", 3, true, nsubs, nevents);
  return 0;
}
