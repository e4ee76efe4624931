/* WebSocket echo benchmark: weft's server against independent WebSocket
 * echo servers (npm `ws` on node, python3-websockets), in one run, driven
 * by the same client (weft's blocking client, so the client's cost is the
 * same for every server and the ratios compare the servers). A floor
 * server (ws_floor.c: one blocking recv and one send per batch of frames,
 * nothing else) shows how much of a round trip no server can remove.
 *
 * For 64 B and 16 KiB binary messages: sequential round trips (latency)
 * and pipelined echo throughput (64 messages in flight), in interleaved
 * rounds (medians reported), and each server process's CPU time per echoed
 * message (from each thread's /proc/PID/task/TID/schedstat: the server's own
 * cost, whatever the client's). Then memory per idle connection of each server
 * process, holding N idle connections (default 10000; WEFT_BENCH_IDLE=0 skips).
 *
 * Each server runs in its own process; the machine's cores are shared by
 * client and server, so compare ratios within one run.
 * Usage: bench_ws [quick]   (quick: fewer iterations, 1000 idle conns) */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "weft/websocket.h"
#include "ws_floor.h"
#include "ws_net.h"
#include "ws_sync.h"

typedef struct peer {
  const char *name;
  pid_t pid;
  int in_fd; /* its stdin: closing it stops the server */
  int port;
  /* results */
  double rtt_us[2], rtt_mps[2], tput_mps[2], tput_mbs[2];
  double rtt_cpu_us[2], tput_cpu_us[2]; /* server CPU per echoed message */
  double rtt_ratio[2], tput_ratio[2];   /* weft's, median per-round ratio */
  double idle_kb;
  int idle_held;
  bool ok;
} peer;

static const size_t kSizes[2] = {64, 16384};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the weft server, in a child process ---- */

static void echo_msg(weft_ws_conn *c, bool text, const uint8_t *d, size_t n,
                     void *ud) {
  (void)ud;
  weft_ws_conn_send(c, text, d, n);
}

static const weft_ws_handler echo_handler = {NULL, echo_msg, NULL};

static int route(void *ud, const weft_ws_request *req, weft_ws_accept *acc) {
  (void)ud, (void)req;
  acc->handler = &echo_handler;
  return 1;
}

static void weft_server_child(int port_fd) {
  weft_ws_opts wo = WEFT_WS_OPTS_INIT;
  wo.route = route;
  wo.max_size = 64u << 20;
  weft_server_opts so = {0};
  so.max_conns_per_ip = 1000000;
  so.max_msgs_per_sec = 4000000000u;
  weft__ws_listen_args a = {0};
  a.host = "127.0.0.1";
  weft__ws_cfg_init(&a.cfg, &wo, &so, 0, 0);
  a.cfg.ping_interval_ms = 0; /* like the peers: no keepalive traffic */
  weft__ws_listener *l;
  weft_error err;
  int port = 0;
  if (weft__ws_listen(&l, &a, &port, &err) < 0) {
    fprintf(stderr, "weft server: %s\n", err.message);
    _exit(1);
  }
  dprintf(port_fd, "%d\n", port);
  close(port_fd);
  char buf[64];
  while (read(0, buf, sizeof buf) > 0)
    ;
  weft__ws_listener_close(l);
  _exit(0);
}

/* ---- the floor server, in a child process ---- */

static void floor_server_child(int port_fd) {
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {0};
  socklen_t al = sizeof a;
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 ||
      listen(lfd, 16) < 0 || getsockname(lfd, (struct sockaddr *)&a, &al) < 0)
    _exit(1);
  dprintf(port_fd, "%d\n", ntohs(a.sin_port));
  close(port_fd);
  ws_floor_serve(lfd);
  _exit(0);
}

static char kFloor[] = "floor";

/* Starts a server process; its first stdout line is the port. argv NULL:
 * the weft server, argv[0] kFloor: the floor server (both forked, not
 * exec'd). */
static int spawn(peer *p, char *const argv[]) {
  int in[2], out[2];
  if (pipe(in) || pipe(out))
    return -1;
  p->pid = fork();
  if (p->pid < 0)
    return -1;
  if (p->pid == 0) {
    dup2(in[0], 0);
    close(in[1]);
    close(out[0]);
    if (!argv)
      weft_server_child(out[1]);
    if (argv[0] == kFloor)
      floor_server_child(out[1]);
    dup2(out[1], 1);
    execv(argv[0], argv);
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  p->in_fd = in[1];
  FILE *f = fdopen(out[0], "r");
  if (!f || fscanf(f, "%d", &p->port) != 1)
    p->port = 0;
  if (f)
    fclose(f);
  return p->port > 0 ? 0 : -1;
}

static void stop(peer *p) {
  if (p->pid <= 0)
    return;
  close(p->in_fd);
  for (int i = 0; i < 300; i++) {
    if (waitpid(p->pid, NULL, WNOHANG) == p->pid)
      return;
    usleep(10000);
  }
  kill(p->pid, SIGKILL);
  waitpid(p->pid, NULL, 0);
}

/* ---- measurements ---- */

/* CPU time process pid's threads have run so far, in microseconds: the
 * sum of their /proc/PID/task/TID/schedstat run times (nanoseconds, where
 * /proc/PID/stat counts 10 ms ticks). A thread that exited is not counted;
 * the servers here keep theirs. */
static double proc_cpu_us(pid_t pid) {
  char path[96];
  snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
  DIR *d = opendir(path);
  if (!d)
    return 0;
  double ns = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.')
      continue;
    snprintf(path, sizeof path, "/proc/%d/task/%.16s/schedstat", (int)pid,
             e->d_name);
    FILE *f = fopen(path, "r");
    unsigned long long run = 0;
    if (f && fscanf(f, "%llu", &run) == 1)
      ns += (double)run;
    if (f)
      fclose(f);
  }
  closedir(d);
  return ns / 1e3;
}

static int echo_once(weft__ws_sync *s, const uint8_t *m, size_t n) {
  int op;
  const uint8_t *d;
  size_t len;
  if (weft__ws_sync_send(s, WEFT__WS_OP_BINARY, m, n) < 0 ||
      weft__ws_sync_recv(s, &op, &d, &len, 10000) != 1 || len != n)
    return -1;
  return 0;
}

static weft__ws_sync *connect_peer(peer *p) {
  weft__ws_sync *s;
  weft__ws_sync_opts o = {0};
  o.target = "/echo";
  o.max_size = 64u << 20;
  weft_error err;
  if (weft__ws_sync_connect(&s, "127.0.0.1", p->port, &o, &err) < 0) {
    fprintf(stderr, "%s: %s\n", p->name, err.message);
    return NULL;
  }
  return s;
}

typedef struct sample {
  double rtt_us, tput_mps;
  double rtt_cpu_us, tput_cpu_us; /* server CPU per message */
} sample;

/* One round on the server in process pid: round trips, then pipelined echo
 * (64 messages in flight), for size kSizes[k]. */
static int round_once(weft__ws_sync *s, pid_t pid, const uint8_t *m, int k,
                      int quick, sample *out) {
  size_t n = kSizes[k];
  int rv = 0;
  int iters = (k == 0 ? 10000 : 2000) / (quick ? 4 : 1);
  for (int i = 0; i < iters / 10 && rv == 0; i++) /* warm up */
    rv = echo_once(s, m, n);
  double c0 = proc_cpu_us(pid);
  double t0 = now_s();
  for (int i = 0; i < iters && rv == 0; i++)
    rv = echo_once(s, m, n);
  out->rtt_us = (now_s() - t0) / iters * 1e6;
  out->rtt_cpu_us = (proc_cpu_us(pid) - c0) / iters;
  int total = (k == 0 ? 80000 : 8000) / (quick ? 4 : 1);
  int sent = 0, got = 0;
  c0 = proc_cpu_us(pid);
  t0 = now_s();
  while (got < total && rv == 0) {
    while (sent < total && sent - got < 64 && rv == 0) {
      rv = weft__ws_sync_send(s, WEFT__WS_OP_BINARY, m, n);
      sent++;
    }
    int op;
    const uint8_t *d;
    size_t len;
    if (rv == 0 &&
        (weft__ws_sync_recv(s, &op, &d, &len, 10000) != 1 || len != n))
      rv = -1;
    got++;
  }
  out->tput_mps = total / (now_s() - t0);
  out->tput_cpu_us = (proc_cpu_us(pid) - c0) / total;
  return rv;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

#define ROUNDS 5

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return v[n / 2];
}

/* Interleaves the servers round by round so load changes on the shared
 * machine hit all of them alike; reports each server's median round, and
 * weft's ratio to each server as the median of the per-round ratios. */
static void measure_all(peer *peers, int np, int quick) {
  weft__ws_sync *conns[8] = {0};
  uint8_t *m = malloc(kSizes[1]);
  for (size_t i = 0; i < kSizes[1]; i++)
    m[i] = (uint8_t)(i * 7);
  for (int i = 0; i < np; i++)
    if (peers[i].port > 0 && (conns[i] = connect_peer(&peers[i])))
      peers[i].ok = true;
  static sample smp[8][2][ROUNDS];
  for (int r = 0; r < ROUNDS; r++)
    for (int k = 0; k < 2; k++)
      for (int i = 0; i < np; i++) {
        if (!peers[i].ok)
          continue;
        if (round_once(conns[i], peers[i].pid, m, k, quick, &smp[i][k][r]) <
            0) {
          fprintf(stderr, "%s: echo failed\n", peers[i].name);
          peers[i].ok = false;
        }
      }
  for (int i = 0; i < np; i++) {
    if (peers[i].ok)
      for (int k = 0; k < 2; k++) {
        double v[4][ROUNDS], ratio[2][ROUNDS];
        for (int r = 0; r < ROUNDS; r++) {
          const sample *x = &smp[i][k][r], *w = &smp[0][k][r];
          v[0][r] = x->rtt_us, v[1][r] = x->tput_mps;
          v[2][r] = x->rtt_cpu_us, v[3][r] = x->tput_cpu_us;
          ratio[0][r] = x->rtt_us / w->rtt_us;
          ratio[1][r] = w->tput_mps / x->tput_mps;
        }
        peers[i].rtt_us[k] = median(v[0], ROUNDS);
        peers[i].rtt_mps[k] = 1e6 / peers[i].rtt_us[k];
        peers[i].tput_mps[k] = median(v[1], ROUNDS);
        peers[i].tput_mbs[k] = peers[i].tput_mps[k] * (double)kSizes[k] / 1e6;
        peers[i].rtt_cpu_us[k] = median(v[2], ROUNDS);
        peers[i].tput_cpu_us[k] = median(v[3], ROUNDS);
        peers[i].rtt_ratio[k] = median(ratio[0], ROUNDS);
        peers[i].tput_ratio[k] = median(ratio[1], ROUNDS);
      }
    if (conns[i]) {
      weft__ws_sync_close(conns[i], 1000, "", 2000);
      weft__ws_sync_free(conns[i]);
    }
  }
  free(m);
}

static long rss_kb(pid_t pid) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "r");
  long kb = -1;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
      break;
  if (f)
    fclose(f);
  return kb;
}

/* A minimal upgrade on a raw socket: idle connections cost the client one
 * fd and nothing else. */
static int raw_ws(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
    goto fail;
  static const char req[] = "GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                            "Sec-WebSocket-Version: 13\r\n\r\n";
  if (write(fd, req, sizeof req - 1) != (ssize_t)(sizeof req - 1))
    goto fail;
  char buf[1024];
  size_t have = 0;
  while (have < sizeof buf - 1) {
    ssize_t n = read(fd, buf + have, sizeof buf - 1 - have);
    if (n <= 0)
      goto fail;
    have += (size_t)n;
    buf[have] = 0;
    if (strstr(buf, "\r\n\r\n"))
      return strncmp(buf, "HTTP/1.1 101", 12) == 0 ? fd : (close(fd), -1);
  }
fail:
  if (fd >= 0)
    close(fd);
  return -1;
}

static void idle(peer *p, int n) {
  int *fds = calloc((size_t)n, sizeof *fds);
  usleep(200000);
  long before = rss_kb(p->pid);
  int held = 0;
  for (int i = 0; i < n; i++)
    if ((fds[i] = raw_ws(p->port)) >= 0)
      held++;
  usleep(500000); /* let the server settle */
  long after = rss_kb(p->pid);
  p->idle_held = held;
  p->idle_kb = held ? (double)(after - before) / held : 0;
  for (int i = 0; i < n; i++)
    if (fds[i] >= 0)
      close(fds[i]);
  free(fds);
}

int main(int argc, char **argv) {
  int quick = argc > 1 && strcmp(argv[1], "quick") == 0;
  const char *idle_env = getenv("WEFT_BENCH_IDLE");
  int nidle = idle_env ? atoi(idle_env) : (quick ? 1000 : 10000);
  signal(SIGPIPE, SIG_IGN);
  /* Client and servers share one CPU (inherited by the children): every
   * server gets the same conditions, and round trips measure CPU cost
   * rather than cross-CPU wake-up latency, which on a shared VM swings
   * more than the servers differ. WEFT_BENCH_CPU=-1: no pinning. */
  const char *cpu_env = getenv("WEFT_BENCH_CPU");
  int cpu = cpu_env ? atoi(cpu_env) : 0;
  if (cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0)
      perror("sched_setaffinity");
  }
  char js[1024], py[1024], mods[1024];
  snprintf(js, sizeof js, "%s/ws_echo_server.js", WEFT_BENCH_DIR);
  snprintf(py, sizeof py, "%s/ws_echo_server.py", WEFT_BENCH_DIR);
  snprintf(mods, sizeof mods, "%s/node_modules/ws", WEFT_BENCH_DIR);
  enum { NP = 4 };
  peer peers[NP] = {{.name = "weft"},
                    {.name = "npm ws (node)"},
                    {.name = "python3-websockets"},
                    {.name = "floor (blocking C)"}};
  char *node_argv[] = {"/usr/bin/node", js, NULL};
  char *py_argv[] = {"/usr/bin/python3", py, NULL};
  char *floor_argv[] = {kFloor, NULL};
  if (spawn(&peers[0], NULL) < 0)
    return fprintf(stderr, "cannot start the weft server\n"), 1;
  /* WEFT_BENCH_ONLY_WEFT=1: no peers (for profiling the weft server). */
  int only_weft = getenv("WEFT_BENCH_ONLY_WEFT") != NULL;
  if (only_weft)
    ;
  else if (access(mods, F_OK) != 0)
    fprintf(stderr, "npm ws not installed: cd %s && npm install\n",
            WEFT_BENCH_DIR);
  else if (spawn(&peers[1], node_argv) < 0)
    fprintf(stderr, "cannot start node ws\n");
  if (!only_weft && spawn(&peers[2], py_argv) < 0)
    fprintf(stderr, "cannot start python3-websockets\n");
  if (!only_weft && spawn(&peers[3], floor_argv) < 0)
    fprintf(stderr, "cannot start the floor server\n");

  fprintf(stderr, "measuring (%d interleaved rounds)...\n", ROUNDS);
  measure_all(peers, NP, quick);
  for (int i = 0; i < 2; i++)
    if (peers[i].ok && nidle > 0) {
      fprintf(stderr, "idle connections on %s...\n", peers[i].name);
      idle(&peers[i], nidle);
    }
  for (int i = 0; i < NP; i++)
    stop(&peers[i]);

  printf("\nWebSocket echo, loopback, same client for every server "
         "(binary messages; median of %d interleaved rounds; %s)\n",
         ROUNDS,
         cpu >= 0 ? "client and server pinned to one CPU" : "not pinned");
  printf("%-20s %6s %9s %11s %12s %10s %11s %11s\n", "server", "size", "rtt us",
         "rtt msg/s", "pipelined/s", "MB/s", "cpu us/rtt", "cpu us/pip");
  for (int k = 0; k < 2; k++)
    for (int i = 0; i < NP; i++)
      if (peers[i].ok)
        printf("%-20s %6zu %9.1f %11.0f %12.0f %10.1f %11.2f %11.2f\n",
               peers[i].name, kSizes[k], peers[i].rtt_us[k],
               peers[i].rtt_mps[k], peers[i].tput_mps[k], peers[i].tput_mbs[k],
               peers[i].rtt_cpu_us[k], peers[i].tput_cpu_us[k]);
  printf("\n(cpu us/...: the server process's CPU time per echoed message, "
         "in the round-trip and the pipelined phase)\n");
  printf("\nweft / other (higher is better for weft; median of per-round "
         "ratios)\n");
  for (int i = 1; i < NP; i++) {
    if (!peers[0].ok || !peers[i].ok)
      continue;
    for (int k = 0; k < 2; k++)
      printf("vs %-20s %6zu B: round trips %.2fx, pipelined %.2fx; server "
             "CPU per message %.2fx (round trips), %.2fx (pipelined)\n",
             peers[i].name, kSizes[k], peers[i].rtt_ratio[k],
             peers[i].tput_ratio[k],
             peers[i].rtt_cpu_us[k] / peers[0].rtt_cpu_us[k],
             peers[i].tput_cpu_us[k] / peers[0].tput_cpu_us[k]);
  }
  if (peers[1].ok && peers[3].ok) {
    /* What no server can remove: the floor's round trip is the client's
     * and the kernel's share. The best ratio any server could reach
     * against ws is ws's round trip over the floor's. */
    for (int k = 0; k < 2; k++)
      printf("round trips: the floor reaches %.2fx npm ws at %zu B; weft "
             "adds %.1f us to the floor, npm ws %.1f us\n",
             peers[1].rtt_us[k] / peers[3].rtt_us[k], kSizes[k],
             peers[0].rtt_us[k] - peers[3].rtt_us[k],
             peers[1].rtt_us[k] - peers[3].rtt_us[k]);
  }
  if (nidle > 0) {
    printf("\nIdle connections (server process RSS growth)\n");
    for (int i = 0; i < 2; i++)
      if (peers[i].ok)
        printf("%-20s held %d of %d, %.2f KB per connection\n", peers[i].name,
               peers[i].idle_held, nidle, peers[i].idle_kb);
  }
  return peers[0].ok ? 0 : 1;
}
