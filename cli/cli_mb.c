/* weft call / subscribe / publish through an MB broker (weft's, or
 * mb-server-node): URLs mb://, mb+tcp:// (TCP framing), mb+ws://
 * (WebSocket), and over TLS mbs://, mb+tls:// and mb+wss://. The METHOD of
 * `weft call` is an MB topic; payloads are the JSON text MB carries, printed as
 * it arrives. */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "weft/mb_net.h"

static const char mb_usage[] =
    "MB broker URLs (mb://h:p or mb+tcp://h:p for TCP, mb+ws://h:p[/path]\n"
    "for WebSocket; over TLS mbs://h:p or mb+tls://h:p, mb+wss://h:p[/path]):\n"
    "  weft call URL TOPIC [-d JSON] [--timeout MS]   a request; prints the\n"
    "                                                  response payload\n"
    "  weft subscribe URL TOPIC [--max-time S]        prints each publish\n"
    "  weft publish URL TOPIC -d JSON                 a publish, acknowledged\n"
    "  options: --name N (register as N; default weft-cli), --version V\n"
    "           (message version, default 1.0.0), -d JSON|@file|-\n"
    "  TLS: --cacert F --cert F --key F --servername N --insecure\n"
    "  --api-key K   sent as X-Api-Key on the WebSocket upgrade (mb+ws://,\n"
    "                mb+wss://); MB itself has no credentials\n"
    "exit: 0 OK, 2 usage/bad input, 3 cannot connect, 4 local failure,\n"
    "      10+N an MB error, as the gRPC code N closest to it (TIMEOUT 14,\n"
    "      NO_ROUTE_FOUND and SERVICE_UNAVAILABLE 24, INVALID_REQUEST and\n"
    "      MALFORMED_MESSAGE 13, TOPIC_NOT_SUPPORTED 22, INTERNAL_ERROR 23)\n";

bool cli_is_mb_url(const char *url) {
  return url &&
         (strncmp(url, "mb://", 5) == 0 || strncmp(url, "mb+tcp://", 9) == 0 ||
          strncmp(url, "mb+ws://", 8) == 0 || strncmp(url, "mbs://", 6) == 0 ||
          strncmp(url, "mb+tls://", 9) == 0 ||
          strncmp(url, "mb+wss://", 9) == 0);
}

typedef struct mb_args {
  const char *url, *topic;
  const char *data;
  const char *name;
  const char *version;
  double max_time;
  long timeout_ms;
  weft_tls_opts tls;
  const char *api_key;
} mb_args;

static int parse(int argc, char **argv, mb_args *a, bool need_data) {
  memset(a, 0, sizeof *a);
  a->name = "weft-cli";
  a->version = "1.0.0";
  int npos = 0;
  for (int i = 0; i < argc; i++) {
    const char *s = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
      fputs(mb_usage, stdout);
      return 1;
    }
    if (!strcmp(s, "--insecure")) {
      a->tls.insecure = true;
      continue;
    }
    if (s[0] == '-' && s[1] && !v) {
      fprintf(stderr, "weft: %s needs a value\n%s", s, mb_usage);
      return -1;
    }
    if (!strcmp(s, "-d") || !strcmp(s, "--data"))
      a->data = argv[++i];
    else if (!strcmp(s, "--name"))
      a->name = argv[++i];
    else if (!strcmp(s, "--version"))
      a->version = argv[++i];
    else if (!strcmp(s, "--cacert"))
      a->tls.ca_file = argv[++i];
    else if (!strcmp(s, "--cert"))
      a->tls.cert_file = argv[++i];
    else if (!strcmp(s, "--key"))
      a->tls.key_file = argv[++i];
    else if (!strcmp(s, "--servername"))
      a->tls.server_name = argv[++i];
    else if (!strcmp(s, "--api-key"))
      a->api_key = argv[++i];
    else if (!strcmp(s, "--max-time") || !strcmp(s, "--timeout")) {
      char *end;
      double d = strtod(v, &end);
      if (*end || d <= 0) {
        fprintf(stderr, "weft: %s needs a positive number, not '%s'\n", s, v);
        return -1;
      }
      if (!strcmp(s, "--max-time"))
        a->max_time = d;
      else
        a->timeout_ms = d > 3600000 ? 3600000 : (long)d;
      i++;
    } else if (s[0] == '-' && s[1]) {
      fprintf(stderr, "weft: unknown option %s for an MB URL\n%s", s, mb_usage);
      return -1;
    } else if (npos == 0) {
      a->url = s;
      npos++;
    } else if (npos == 1) {
      a->topic = s;
      npos++;
    } else {
      fprintf(stderr, "weft: unexpected argument '%s'\n%s", s, mb_usage);
      return -1;
    }
  }
  if (npos != 2 || (need_data && !a->data)) {
    fputs(mb_usage, stderr);
    return -1;
  }
  return 0;
}

static weft_mb_client *open_client(const mb_args *a, weft_mb_handler_fn pub,
                                   void *ud, int *rc) {
  weft_mb_client_opts o = {0};
  o.name = a->name;
  o.on_publish = pub;
  o.ud = ud;
  o.tls = a->tls;
  o.api_key = a->api_key;
  weft_mb_client *c = NULL;
  weft_error err = {0};
  int rv = weft_mb_client_open(&c, a->url, &o, &err);
  if (rv < 0) {
    fprintf(stderr, "weft: %s\n",
            err.message[0] ? err.message : weft_strerror(rv));
    *rc = rv == WEFT_ERR_INVAL || rv == WEFT_ERR_BAD_URL ||
                  rv == WEFT_ERR_UNKNOWN_SCHEME
              ? CLI_USAGE
              : CLI_CONNECT;
    return NULL;
  }
  return c;
}

/* An MB error as an exit code: 10 + the closest gRPC status. */
static int mb_exit(const weft_mb_error_info *e) {
  static const int grpc[WEFT_MB_CODE_COUNT] = {
      [WEFT_MB_INVALID_REQUEST] = 3,      [WEFT_MB_MALFORMED_MESSAGE] = 3,
      [WEFT_MB_INVALID_REQUEST_ID] = 3,   [WEFT_MB_VERSION_NOT_SUPPORTED] = 3,
      [WEFT_MB_UNAUTHORIZED] = 16,        [WEFT_MB_FORBIDDEN] = 7,
      [WEFT_MB_TOPIC_NOT_SUPPORTED] = 12, [WEFT_MB_NO_ROUTE_FOUND] = 14,
      [WEFT_MB_SERVICE_UNAVAILABLE] = 14, [WEFT_MB_TIMEOUT] = 4,
      [WEFT_MB_INTERNAL_ERROR] = 13};
  int n =
      e->code > WEFT_MB_OK && e->code < WEFT_MB_CODE_COUNT ? grpc[e->code] : 13;
  return CLI_RPC_BASE + n;
}

int cli_mb_call(int argc, char **argv) {
  mb_args a;
  int pr = parse(argc, argv, &a, false);
  if (pr)
    return pr > 0 ? CLI_OK : CLI_USAGE;
  size_t len;
  char *data = cli_read_data(a.data, &len);
  if (!data)
    return CLI_USAGE;
  int rc = CLI_OK;
  weft_mb_client *c = open_client(&a, NULL, NULL, &rc);
  if (c) {
    char *resp = NULL;
    weft_mb_error_info e = {0};
    weft_error err = {0};
    int rv = weft_mb_client_request(c, a.topic, a.version, data,
                                    (uint32_t)a.timeout_ms, &resp, &e, &err);
    if (rv == 0) {
      printf("%s\n", resp);
    } else if (rv == WEFT_ERR_RPC) {
      fprintf(stderr, "weft: %s\n", err.message);
      rc = mb_exit(&e);
    } else {
      fprintf(stderr, "weft: %s\n", err.message);
      rc = rv == WEFT_ERR_INVAL     ? CLI_USAGE
           : rv == WEFT_ERR_TIMEOUT ? CLI_RPC_BASE + 4
                                    : CLI_LOCAL;
    }
    weft_mb_error_info_clear(&e);
    free(resp);
    weft_mb_client_close(c);
  }
  free(data);
  return rc;
}

static volatile sig_atomic_t stop;
static void on_sig(int s) {
  (void)s;
  stop = 1;
}

static void on_publish(weft_mb_client *c, const weft_mb_message *m, void *ud) {
  (void)c;
  (void)ud;
  fwrite(m->payload, 1, m->payload_len, stdout);
  fputc('\n', stdout);
  fflush(stdout);
}

int cli_mb_subscribe(int argc, char **argv) {
  mb_args a;
  int pr = parse(argc, argv, &a, false);
  if (pr)
    return pr > 0 ? CLI_OK : CLI_USAGE;
  int rc = CLI_OK;
  weft_mb_client *c = open_client(&a, on_publish, NULL, &rc);
  if (!c)
    return rc;
  weft_error err = {0};
  if (weft_mb_client_subscribe(c, WEFT_MB_PUBLISH, a.topic, 0, &err) < 0) {
    fprintf(stderr, "weft: %s\n", err.message);
    weft_mb_client_close(c);
    return CLI_LOCAL;
  }
  signal(SIGINT, on_sig);
  signal(SIGTERM, on_sig);
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  while (!stop) {
    struct timespec ts = {0, 50 * 1000000L}, now;
    nanosleep(&ts, NULL);
    clock_gettime(CLOCK_MONOTONIC, &now);
    double el = (double)(now.tv_sec - t0.tv_sec) +
                (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
    if (a.max_time > 0 && el >= a.max_time)
      break;
  }
  weft_mb_client_close(c);
  return rc;
}

int cli_mb_publish(int argc, char **argv) {
  mb_args a;
  int pr = parse(argc, argv, &a, true);
  if (pr)
    return pr > 0 ? CLI_OK : CLI_USAGE;
  size_t len;
  char *data = cli_read_data(a.data, &len);
  if (!data)
    return CLI_USAGE;
  int rc = CLI_OK;
  weft_mb_client *c = open_client(&a, NULL, NULL, &rc);
  if (c) {
    weft_mb_error_info e = {0};
    weft_error err = {0};
    int rv = weft_mb_client_publish_wait(c, a.topic, a.version, data, &e, &err);
    if (rv < 0) {
      fprintf(stderr, "weft: %s\n", err.message);
      rc = rv == WEFT_ERR_RPC ? mb_exit(&e) : CLI_LOCAL;
    }
    weft_mb_error_info_clear(&e);
    weft_mb_client_close(c);
  }
  free(data);
  return rc;
}
