/* weft_node_main: flags, the server, listeners, the ticker thread and a
 * signal thread that turns SIGINT/SIGTERM into weft_server_shutdown(). */
#define _POSIX_C_SOURCE 200809L
#include "node.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <time.h>
#include <unistd.h>

#include "aitbc/v1/node.weft.h"
#include "state.h"
#include "weft/grpc_transport.h"
#include "weft/http2.h"

#ifdef WEFT_NODE_AITBC_WS
#include "weft/aitbc_endpoint.h"
#include "weft/mb_net.h"
#include "weft/websocket.h"
#endif

static const char usage[] =
    "usage: weft serve [options]\n"
    "Runs the AITBC reference node: every aitbc.v1 service with in-memory\n"
    "state, on gRPC, HTTP (the Connect protocol over HTTP/2 and HTTP/1.1,\n"
    "JSON or protobuf; GET for read methods), WebSocket and TCP.\n"
    "options:\n"
    "  --host H              address to bind (default 127.0.0.1)\n"
    "  --grpc-port P         gRPC port (default 50051)\n"
    "  --h2-port P           HTTP port, HTTP/2 and HTTP/1.1 (default 8080)\n"
    "  --ws-port P           WebSocket port (default 8081)\n"
    "  --tcp-port P          TCP port (default 9090)\n"
    "                        (0 picks a free port, -1 turns the listener off)\n"
    "  --mb-port P           also run an MB broker: MB over TCP on P, and MB\n"
    "                        over WebSocket on the ws:// port at / (default\n"
    "                        -1: off); with --tls-cert both over TLS\n"
    "  --nats URL            join a cluster on this NATS server (JetStream,\n"
    "                        e.g. nats://127.0.0.1:4222): weft.v1.PubSub\n"
    "                        topics go through it, so a subscriber on any\n"
    "                        node sees every node's publishes; MB requests\n"
    "                        (--mb-port) reach a service on any node\n"
    "                        (docs/CLUSTER.md); jobs, offers, receipts, the\n"
    "                        wallet and the chain are shared in KV buckets,\n"
    "                        and one node, the leader, seals blocks and runs\n"
    "                        jobs. Exits 1 if NATS is unreachable at start\n"
    "  --node-id ID          this node's name with --nats: 1 to 32 of\n"
    "                        A-Z a-z 0-9 _ - (default: host-pid)\n"
    "  --lease-ms N          leader lease with --nats: another node takes\n"
    "                        over about N ms after the leader dies (default\n"
    "                        3000)\n"
    "  --durable-topic P     with --nats: topics starting with P are durable\n"
    "                        (JetStream: stored, and a subscriber resumes\n"
    "                        after its last sequence on any node);\n"
    "                        repeatable, \"\" for every topic\n"
    "  --tls-cert FILE       serve TLS (grpcs/https/wss/tls) with this PEM\n"
    "  --tls-key FILE        certificate and key\n"
    "  --api-key K           require this key (x-api-key or Authorization:\n"
    "                        Bearer; on WebSocket also ?api_key= or ?token=\n"
    "                        at the upgrade); repeatable\n"
    "  --allowed-origin O    WebSocket: accept only these Origins (others\n"
    "                        get 403; requests without Origin pass);\n"
    "                        HTTP port: answer CORS for them (off without\n"
    "                        this flag); repeatable, * for any\n"
    "  --block-interval-ms N one block every N ms (default 2000)\n"
    "  --job-step-ms N       job/settlement state step (default 500)\n"
    "  --offer-ttl-ms N      created offers expire after N ms (default "
    "600000)\n"
    "  --workers N           worker threads per server (default 32; open\n"
    "                        streams hold none)\n"
    "  --max-message-size B  largest request/response (default 4 MiB)\n"
    "  --max-conns-per-ip N  connections per client IP on each listener but\n"
    "                        gRPC (default 64); over it tcp/h2 close the new\n"
    "                        connection, ws answers 429\n"
    "  --header-timeout-ms N a new connection must deliver its first request\n"
    "                        (TLS handshake, TCP frame, HTTP/2 preface, ws\n"
    "                        upgrade, gRPC handshake) within N ms, and each\n"
    "                        HTTP/2 request its headers (default 10000)\n"
    "  --idle-timeout-ms N   close connections with no call in flight for N "
    "ms\n"
    "                        (default 300000; 0: never)\n"
    "  --shutdown-grace-ms N on SIGTERM, calls in flight and WebSocket close\n"
    "                        handshakes get N ms (default 2000), then are cut\n"

    "  -q, --quiet           no per-call and per-connection log lines\n"
    "  -h, --help            this text\n"
    "Prints `listening on URL` on stdout per listener. Logs to stderr.\n"
    "Listeners accept with accept4(CLOEXEC); out of file descriptors the\n"
    "h2, ws and tcp listeners pause accepting for 100 ms at a time (one\n"
    "log line, not one per try) and resume by themselves (gRPC core's does\n"
    "not: the soft descriptor limit is raised to the hard one at start).\n"
    "TLS handshakes run inside the connection, so a peer that connects and\n"
    "goes silent costs a socket, not a thread.\n"
    "Simulation: a job payload {\"simulate\":\"fail\"} fails, {\"simulate\":\n"
    "\"hold\"} is never run (its ttl_seconds expires it). Exit codes: 0 clean\n"
    "shutdown, 1 cannot start, 2 bad flags.\n";

enum { T_GRPC, T_H2, T_WS, T_TCP, T_N };
static const char *const plain_scheme[T_N] = {"grpc", "h2c", "ws", "tcp"};
static const char *const tls_scheme[T_N] = {"grpcs", "https", "wss", "tls"};

typedef struct opts {
  const char *host;
  long port[T_N];
  const char *cert, *key;
  const char **keys, **origins;
  size_t nkeys, norigins;
  unsigned workers;
  long max_msg, max_conns;           /* 0: defaults */
  long header_ms, idle_ms, grace_ms; /* -1: defaults */
  long mb_port;                      /* -1: no MB broker */
  const char *nats, *node_id;
  const char **durable;
  size_t ndurable;
  nd_config cfg;
  weft_node_opts node;
} opts;

static int parse_num(const char *flag, const char *v, long lo, long hi,
                     long *out) {
  char *end;
  errno = 0;
  long n = v ? strtol(v, &end, 10) : 0;
  if (!v || !*v || *end || errno || n < lo || n > hi) {
    fprintf(stderr, "weft serve: %s needs a number in %ld..%ld, not '%s'\n",
            flag, lo, hi, v ? v : "");
    return -1;
  }
  *out = n;
  return 0;
}

/* Returns 0, 1 for --help, -1 for a usage error (already reported). */
static int parse(int argc, char **argv, opts *o) {
  static const char *const port_flags[T_N] = {"--grpc-port", "--h2-port",
                                              "--ws-port", "--tcp-port"};
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    long n;
    int t;
    if (!strcmp(a, "-h") || !strcmp(a, "--help"))
      return 1;
    if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
      o->cfg.quiet = true;
      continue;
    }
    for (t = 0; t < T_N; t++)
      if (!strcmp(a, port_flags[t]))
        break;
    if (t < T_N) {
      if (parse_num(a, v, -1, 65535, &o->port[t]))
        return -1;
    } else if (!strcmp(a, "--mb-port")) {
      if (parse_num(a, v, -1, 65535, &o->mb_port))
        return -1;
    } else if (!strcmp(a, "--nats") && v) {
      if (strncmp(v, "nats://", 7) && strncmp(v, "tls://", 6)) {
        fprintf(stderr,
                "weft serve: --nats needs a nats:// (or tls://) URL, not "
                "'%s'\n",
                v);
        return -1;
      }
      o->nats = v;
      o->node.nats_url = v;
    } else if (!strcmp(a, "--node-id") && v) {
      /* It names the node on NATS and goes into KV keys and ids. */
      size_t len = strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU"
                             "VWXYZ0123456789_-");
      if (!*v || v[len] || len > 32) {
        fprintf(stderr,
                "weft serve: --node-id '%s': use 1 to 32 of A-Z a-z 0-9 _ -\n",
                v);
        return -1;
      }
      o->node_id = v;
      o->node.node_id = v;
    } else if (!strcmp(a, "--durable-topic") && v) {
      o->durable[o->ndurable++] = v;
    } else if (!strcmp(a, "--host") && v) {
      o->host = v;
    } else if (!strcmp(a, "--tls-cert") && v) {
      o->cert = v;
    } else if (!strcmp(a, "--tls-key") && v) {
      o->key = v;
    } else if (!strcmp(a, "--api-key") && v) {
      if (!*v) {
        fprintf(stderr, "weft serve: --api-key needs a non-empty key\n");
        return -1;
      }
      o->keys[o->nkeys++] = v;
    } else if (!strcmp(a, "--allowed-origin") && v) {
      o->origins[o->norigins++] = v;
    } else if (!strcmp(a, "--block-interval-ms")) {
      if (parse_num(a, v, 10, 3600000, &n))
        return -1;
      o->cfg.block_interval_ms = n;
    } else if (!strcmp(a, "--job-step-ms")) {
      if (parse_num(a, v, 1, 3600000, &n))
        return -1;
      o->cfg.job_step_ms = n;
    } else if (!strcmp(a, "--offer-ttl-ms")) {
      if (parse_num(a, v, 1, 86400000L * 30, &n))
        return -1;
      o->cfg.offer_ttl_ms = n;
    } else if (!strcmp(a, "--max-message-size")) {
      if (parse_num(a, v, 1024, 1L << 30, &o->max_msg))
        return -1;
    } else if (!strcmp(a, "--max-conns-per-ip")) {
      if (parse_num(a, v, 1, 100000, &o->max_conns))
        return -1;
    } else if (!strcmp(a, "--header-timeout-ms")) {
      if (parse_num(a, v, 1, 3600000, &o->header_ms))
        return -1;
    } else if (!strcmp(a, "--idle-timeout-ms")) {
      if (parse_num(a, v, 0, 86400000L * 30, &o->idle_ms))
        return -1;
    } else if (!strcmp(a, "--shutdown-grace-ms")) {
      if (parse_num(a, v, 1, 3600000, &o->grace_ms))
        return -1;
    } else if (!strcmp(a, "--workers")) {
      if (parse_num(a, v, 1, 1024, &n))
        return -1;
      o->workers = (unsigned)n;
    } else if (!strcmp(a, "--lease-ms")) {
      if (parse_num(a, v, 300, 600000, &o->node.lease_ms))
        return -1;
    } else {
      fprintf(stderr, "weft serve: unknown option or missing value: %s\n%s", a,
              usage);
      return -1;
    }
    i++; /* every remaining flag took a value */
  }
  if (o->ndurable && !o->nats) {
    fprintf(stderr, "weft serve: --durable-topic needs --nats\n");
    return -1;
  }
  if (!o->cert != !o->key) {
    fprintf(stderr, "weft serve: --tls-cert and --tls-key go together\n");
    return -1;
  }
  if ((o->node.node_id || o->node.lease_ms) && !o->node.nats_url) {
    fprintf(stderr, "weft serve: --node-id and --lease-ms need --nats\n");
    return -1;
  }
  return 0;
}

static void log_hook(int level, const char *line, void *ud) {
  (void)ud;
  nd_log(level, "%s", line);
}

/* One info line per connection opened and closed, in the style of the
 * per-call lines. Runs on a listener's I/O thread: it only
 * formats and writes a line. gRPC connections are not reported (gRPC
 * core has no accept hook); their calls are. */
static void conn_hook(void *ud, const weft_conn_event *ev) {
  (void)ud;
  if (nd_st.cfg.quiet)
    return;
  if (ev->kind == WEFT_CONN_EVENT_OPENED) {
    nd_log(1, "%s connection from %s opened on %s", ev->scheme, ev->peer,
           ev->listener);
    return;
  }
  nd_log(1, "%s connection from %s closed after %llu call%s: %s%s%s%s",
         ev->scheme, ev->peer, (unsigned long long)ev->calls,
         ev->calls == 1 ? "" : "s", ev->reason, ev->error ? " (" : "",
         ev->error ? weft_errname(ev->error) : "", ev->error ? ")" : "");
}

/* ---- threads ---- */

typedef struct runtime {
  weft_server *srv;
  sigset_t sigs;
  pthread_mutex_t mu;
  bool done; /* main is exiting: the signal thread must just return */
} runtime;

static void stop_all(runtime *rt) {
  nd_state_stop();
  if (rt->srv)
    weft_server_shutdown(rt->srv);
}

static void *signal_thread(void *arg) {
  runtime *rt = arg;
  int sig = 0;
  sigwait(&rt->sigs, &sig);
  pthread_mutex_lock(&rt->mu);
  bool done = rt->done;
  pthread_mutex_unlock(&rt->mu);
  if (!done) {
    nd_log(1, "%s: shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
    stop_all(rt);
  }
  return NULL;
}

static void *ticker_thread(void *arg) {
  (void)arg;
  for (;;) {
    pthread_mutex_lock(&nd_st.mu);
    bool stop = nd_st.stopping;
    pthread_mutex_unlock(&nd_st.mu);
    if (stop)
      return NULL;
    nd_state_tick();
    struct timespec ts = {0, 10 * 1000000L};
    nanosleep(&ts, NULL);
  }
}

/* GET /health (aitbc.v1.Node/Health): the node answers while it runs. */
static int health(weft_server_call *call, const aitbc__v1__HealthRequest *req,
                  aitbc__v1__HealthResponse *resp, void *ctx) {
  (void)call;
  (void)req;
  (void)ctx;
  resp->status = "ok";
  return 0;
}

static const aitbc__v1__Node_impl node_impl = {.health = health};

/* The flag's value, or host-pid cut to what --node-id accepts (KV keys and
 * ids carry it). */
static void default_node_id(const char *flag, char *out, size_t cap) {
  if (flag) {
    snprintf(out, cap, "%s", flag);
    return;
  }
  char host[64] = "node";
  gethostname(host, sizeof host);
  host[sizeof host - 1] = '\0';
  for (char *p = host; *p; p++)
    if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
      *p = '-';
  char pid[24];
  int pl = snprintf(pid, sizeof pid, "-%ld", (long)getpid());
  size_t room = 32 - (size_t)pl;
  if (strlen(host) > room)
    host[room] = '\0';
  snprintf(out, cap, "%s%s", host, pid);
}

/* --nats: connect before any listener, so a node that cannot share state
 * never serves (exit 1 with the reason). */
static int open_shared(const weft_node_opts *no) {
  char id[40], err[512];
  if (no->node_id)
    snprintf(id, sizeof id, "%s", no->node_id);
  else
    snprintf(id, sizeof id, "node-%ld", (long)getpid());
  if (nd_kv_open(no->nats_url, id, no->lease_ms, err, sizeof err) < 0) {
    fprintf(stderr, "weft serve: --nats: %s\n", err);
    return -1;
  }
  nd_log(1, "shared state in NATS JetStream KV at %s as node %s", no->nats_url,
         id);
  return 0;
}

static int add_services(weft_server *s) {
  int rv =
      weft_server_add_service(s, &aitbc__v1__Node_service, &node_impl, NULL);
  if (!rv)
    rv = nd_add_jobs(s);
  if (!rv)
    rv = nd_add_chain(s);
  if (!rv)
    rv = nd_add_market(s);
  if (!rv)
    rv = nd_add_settle(s);
  if (!rv)
    rv = nd_add_wallet(s);
  if (!rv)
    rv = nd_add_receipts(s);
  return rv;
}

static int listen_on(weft_server *s, unsigned *nth, const opts *o, int t) {
  char url[300];
  bool v6 = strchr(o->host, ':') != NULL;
  const char *scheme = o->cert ? tls_scheme[t] : plain_scheme[t];
  snprintf(url, sizeof url, v6 ? "%s://[%s]:%ld" : "%s://%s:%ld", scheme,
           o->host, o->port[t]);
  weft_error err = {0};
  int rv = weft_server_listen(s, url, &err);
  if (rv < 0) {
    fprintf(stderr, "weft serve: cannot listen on %s: %s\n", url,
            err.message[0] ? err.message : weft_strerror(rv));
    return -1;
  }
  int port = weft_server_port(s, (*nth)++);
  printf(v6 ? "listening on %s://[%s]:%d\n" : "listening on %s://%s:%d\n",
         scheme, o->host, port);
  fflush(stdout);
  return 0;
}

int weft_node_main(int argc, char **argv) {
  opts o;
  memset(&o, 0, sizeof o);
  o.host = "127.0.0.1";
  o.port[T_GRPC] = 50051;
  o.port[T_H2] = 8080;
  o.port[T_WS] = 8081;
  o.port[T_TCP] = 9090;
  o.mb_port = -1;
  o.cfg.block_interval_ms = 2000;
  o.cfg.job_step_ms = 500;
  o.cfg.offer_ttl_ms = 600000;
  o.header_ms = o.idle_ms = o.grace_ms = -1;
  o.keys = calloc((size_t)argc + 1, sizeof *o.keys);
  o.origins = calloc((size_t)argc + 1, sizeof *o.origins);
  o.durable = calloc((size_t)argc + 1, sizeof *o.durable);
  if (!o.keys || !o.origins || !o.durable) {
    free(o.keys);
    free(o.origins);
    free(o.durable);
    return 1;
  }
  int pr = parse(argc, argv, &o);
  if (pr) {
    free(o.keys);
    free(o.origins);
    free(o.durable);
    if (pr > 0)
      fputs(usage, stdout);
    return pr > 0 ? 0 : 2;
  }

  /* Block the signals before any thread exists so every thread inherits
   * the mask and only the signal thread receives them. */
  runtime rt;
  memset(&rt, 0, sizeof rt);
  sigemptyset(&rt.sigs);
  sigaddset(&rt.sigs, SIGINT);
  sigaddset(&rt.sigs, SIGTERM);
  /* Left blocked on return: the process is about to exit, and unblocking
   * a second pending SIGTERM would kill it with the wrong exit code. */
  sigset_t block = rt.sigs;
  sigaddset(&block, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &block, NULL);
  /* A shell starts background jobs with SIGINT ignored, and an ignored
   * signal is discarded, never seen by sigwait: take it back. */
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  pthread_mutex_init(&rt.mu, NULL);

  /* Descriptors: the soft limit up to the hard one (as Go's runtime and
   * nginx do). weft's listeners pause and recover when they run out, but
   * gRPC core's stops accepting for good (docs/ARCHITECTURE.md). */
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }

  int exit_code = 1;
#ifndef WEFT_NODE_AITBC_WS
  if (o.mb_port >= 0) {
    fprintf(stderr, "weft serve: this build has no MB broker (--mb-port)\n");
    exit_code = 2;
    goto out_sig;
  }
#endif
  if (nd_state_init(&o.cfg) < 0) {
    fprintf(stderr, "weft serve: cannot initialise state\n");
    goto out_sig;
  }
  /* One name on NATS for pub/sub, MB and the shared state. */
  char node_id[40];
  default_node_id(o.node_id, node_id, sizeof node_id);
  o.node.node_id = node_id;
  if (o.node.nats_url && open_shared(&o.node) < 0)
    goto out_state;
  if (nd_kv_start() < 0) {
    fprintf(stderr, "weft serve: --nats: cannot start sharing state (see "
                    "the log above)\n");
    nd_kv_close();
    goto out_state;
  }
  weft_server_opts so = {0};
  /* Open streams hold no worker (they are asynchronous): workers only
   * bound how many unary calls run at once. */
  so.worker_threads = o.workers ? o.workers : 32;
  so.api_keys = o.nkeys ? o.keys : NULL;
  so.allowed_origins = o.norigins ? o.origins : NULL;
  so.tls.cert_file = o.cert;
  so.tls.key_file = o.key;
  so.log = log_hook;
  so.on_connection = conn_hook;
  /* Demo clients all come from one IP. */
  so.max_conns_per_ip = o.max_conns ? (unsigned)o.max_conns : 64;
  so.max_message_size = (size_t)o.max_msg; /* 0: the runtime's 4 MiB */
  so.shutdown_grace_ms = o.grace_ms > 0 ? o.grace_ms : 2000;
  /* Every listener gets the same timeouts (see --help). */
  so.header_timeout_ms = o.header_ms > 0 ? o.header_ms : 10000;
  so.idle_timeout_ms = o.idle_ms >= 0 ? o.idle_ms : 300000;
  so.nats_url = o.nats;
  so.node_id = node_id;
  so.durable_topics = o.ndurable ? o.durable : NULL;
  /* One options chain for every listener: each transport takes its own
   * struct (by tag) and ignores the others. */
  weft_grpc_opts go = WEFT_GRPC_OPTS_INIT;
  weft_http2_opts ho = WEFT_HTTP2_OPTS_INIT;
  go.hdr.next = &ho.hdr;
  so.transport_opts = &go;
#ifdef WEFT_NODE_AITBC_WS
  /* ws:// also serves AITBC's WebSocket API (/v1/jobs/{id}/ws,
   * /v1/events, and /ws for AIP clients) through a route in front of the
   * envelope endpoint. */
  weft_aitbc_endpoint *ep = NULL;
  weft_ws_opts wo = WEFT_WS_OPTS_INIT;
  if (o.port[T_WS] >= 0 && weft_aitbc_endpoint_new(&ep, NULL) < 0) {
    fprintf(stderr, "weft serve: cannot create the AITBC WebSocket route\n");
    goto out_kv;
  }
  wo.auth_after_upgrade = true;
  wo.route = weft_aitbc_ws_route;
  wo.route_ud = ep;
  ho.hdr.next = &wo.hdr;
  /* The MB broker: its own TCP listener, and on ws:// the path "/" for MB
   * clients (they offer no weft subprotocol), in front of the AITBC
   * routes. */
  weft_mb_hub *hub = NULL;
  if (o.mb_port >= 0) {
    weft_mb_hub_opts mo = {0};
    mo.next = weft_aitbc_ws_route;
    mo.next_ud = ep;
    mo.nats_url = o.nats; /* requests across nodes */
    mo.node_id = node_id;
    /* With --tls-cert every port speaks TLS, the MB port too (mbs://). */
    mo.tls = o.cert ? &so.tls : NULL;
    weft_error err = {0};
    int bound = 0;
    if (weft_mb_hub_new(&hub, &mo) < 0 ||
        weft_mb_hub_listen(hub, o.host, (int)o.mb_port, &bound, &err) < 0) {
      fprintf(stderr, "weft serve: cannot start the MB broker on %s:%ld: %s\n",
              o.host, o.mb_port, err.message[0] ? err.message : "no memory");
      goto out_hub;
    }
    printf(strchr(o.host, ':') ? "listening on %s://[%s]:%d\n"
                               : "listening on %s://%s:%d\n",
           o.cert ? "mbs" : "mb", o.host, bound);
    fflush(stdout);
    wo.route = weft_mb_ws_route;
    wo.route_ud = hub;
  }
#endif
  int srv_rv = weft_server_new(&rt.srv, &so);
  if (srv_rv < 0 && o.nats) {
    /* The reason (which URL, what NATS said) is already logged. */
    fprintf(stderr, "weft serve: cannot join the cluster through %s: %s\n",
            o.nats, weft_strerror(srv_rv));
    goto out_srv;
  }
  if (srv_rv < 0 || add_services(rt.srv) < 0) {
    fprintf(stderr, "weft serve: cannot create the server\n");
    goto out_srv;
  }
  if (o.nats)
    nd_log(1, "node %s: pub/sub through %s", node_id, o.nats);
  unsigned nth = 0;
  for (int t = 0; t < T_N; t++) {
    if (o.port[t] < 0)
      continue;
    if (listen_on(rt.srv, &nth, &o, t) < 0)
      goto out_srv;
  }
  if (nth == 0) {
    fprintf(stderr, "weft serve: every listener is off (-1)\n");
    exit_code = 2;
    goto out_srv;
  }
  nd_log(1, "node up: chain %s, block every %lld ms, job step %lld ms%s",
         ND_CHAIN_ID, (long long)o.cfg.block_interval_ms,
         (long long)o.cfg.job_step_ms, o.nkeys ? ", API key required" : "");

  pthread_t sig_t, tick_t;
  pthread_create(&sig_t, NULL, signal_thread, &rt);
  pthread_create(&tick_t, NULL, ticker_thread, NULL);
  weft_server_run(rt.srv);
  /* run returns after a shutdown (from the signal thread) */
  nd_state_stop();
  pthread_join(tick_t, NULL);
  pthread_mutex_lock(&rt.mu);
  rt.done = true;
  pthread_mutex_unlock(&rt.mu);
  pthread_kill(sig_t, SIGTERM); /* harmless if it already returned */
  pthread_join(sig_t, NULL);
  nd_log(1, "node stopped");
  exit_code = 0;
out_srv:
  weft_server_free(rt.srv);
#ifdef WEFT_NODE_AITBC_WS
out_hub:
  weft_mb_hub_free(hub); /* after the server: it owns the WebSocket conns */
  weft_aitbc_endpoint_free(ep);
out_kv:
#endif
  /* After the server: no handler is in a KV call any more. A leader hands
   * its lease over here. No-op without --nats. */
  nd_kv_close();
out_state:
  nd_state_free();
out_sig:
  pthread_mutex_destroy(&rt.mu);
  free(o.keys);
  free(o.origins);
  free(o.durable);
  return exit_code;
}
