/* weft subscribe URL TOPIC / weft publish URL TOPIC -d JSON: topics through
 * the built-in weft.v1.PubSub service, on any transport. Events print as
 * one JSON document per line; -d for publish is a JSON Any
 * ({"@type":"type.googleapis.com/aitbc.v1.JobStatus", ...}). */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "google/protobuf/any.weft.h"
#include "weft/codec.h"

static const char sub_usage[] =
    "usage: weft subscribe URL TOPIC [--max-time S] [--no-reconnect] "
    "[--after SEQ] [options]\n"
    "  Prints each event published to TOPIC as a JSON line until interrupted\n"
    "  (or for --max-time seconds). When the connection is lost it says so\n"
    "  on stderr, reconnects (backing off up to 2 s) and subscribes again,\n"
    "  after the last event's sequence (a durable topic of a NATS cluster\n"
    "  resumes there, on any node: docs/CLUSTER.md); with --no-reconnect it\n"
    "  exits with 24 (UNAVAILABLE) and the reason. --after SEQ starts after\n"
    "  that sequence (durable topics; 0: every stored event).\n";
static const char pub_usage[] =
    "usage: weft publish URL TOPIC -d JSON [options]\n"
    "  JSON is an Any: {\"@type\":\"type.googleapis.com/<full name>\", ...}\n";

static volatile sig_atomic_t stop;
static void on_sig(int s) {
  (void)s;
  stop = 1;
}

typedef struct sub_ctx {
  cli_opts *o;
  pthread_mutex_t mu;
  weft_error last; /* the client's last error: why a connection went */
} sub_ctx;

static void on_event(const char *topic, const weft_msg_desc *type,
                     const void *msg, void *ud) {
  sub_ctx *c = ud;
  (void)topic;
  (void)type;
  cli_print_json(stdout, msg, c->o);
}

static void on_client_error(weft_client *c, const weft_error *err, void *ud) {
  (void)c;
  sub_ctx *x = ud;
  pthread_mutex_lock(&x->mu);
  x->last = *err;
  pthread_mutex_unlock(&x->mu);
}

static void last_error(sub_ctx *x, char *buf, size_t cap) {
  pthread_mutex_lock(&x->mu);
  snprintf(buf, cap, "%s",
           x->last.message[0] ? x->last.message : "connection closed");
  pthread_mutex_unlock(&x->mu);
}

static bool time_left(int64_t end) {
  return !stop && weft_now_ns() < end;
}

static void nap_ms(int64_t ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Connects and subscribes. Returns CLI_OK, or the exit code of a failure
 * (printed unless quiet; o->quiet_connect covers the connect). */
static int connect_and_subscribe(cli_opts *o, sub_ctx *x, const char *topic,
                                 const uint64_t *after, weft_client **c,
                                 weft_subscription **s) {
  int rc = cli_open(o, c);
  if (rc != CLI_OK)
    return rc;
  int rv = after
               ? weft_client_subscribe_after(*c, topic, *after, on_event, x, s)
               : weft_client_subscribe(*c, topic, on_event, x, s);
  if (rv < 0) {
    if (!o->quiet_connect || rv != WEFT_ERR_CONNECT)
      fprintf(stderr, "weft: cannot subscribe to %s: %s\n", topic,
              weft_strerror(rv));
    weft_client_close(*c);
    *c = NULL;
    return rv == WEFT_ERR_CONNECT || rv == WEFT_ERR_TIMEOUT ? CLI_CONNECT
                                                            : CLI_LOCAL;
  }
  return CLI_OK;
}

/* The runtime's own reconnect (weft_client_opts.reconnect) would retry a
 * refused subscription silently: this loop reconnects only after a lost
 * connection, and says on stderr what happened. */
int cli_subscribe(int argc, char **argv) {
  cli_opts o;
  char *pos[2];
  int npos;
  bool reconnect = true;
  uint64_t cursor = 0;
  bool have_cursor = false;
  char **args = calloc((size_t)argc + 1, sizeof *args);
  int nargs = 0;
  if (!args)
    return CLI_LOCAL;
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "--no-reconnect")) {
      reconnect = false;
    } else if (!strcmp(argv[i], "--after")) {
      char *end = NULL;
      const char *v = i + 1 < argc ? argv[++i] : "";
      cursor = strtoull(v, &end, 10);
      if (!*v || *end || *v == '-') {
        fprintf(stderr,
                "weft subscribe: --after needs a sequence number, "
                "not '%s'\n",
                v);
        free(args);
        return CLI_USAGE;
      }
      have_cursor = true;
    } else {
      args[nargs++] = argv[i];
    }
  }
  int prc = cli_parse(nargs, args, &o, &npos, pos, 2, sub_usage);
  free(args);
  if (prc < 0)
    return CLI_USAGE;
  if (npos != 2) {
    fputs(sub_usage, stderr);
    cli_free(&o);
    return CLI_USAGE;
  }
  o.url = pos[0];
  cli_registry();
  sub_ctx ctx = {&o, PTHREAD_MUTEX_INITIALIZER, {0}};
  o.client.on_error = on_client_error;
  o.client.user_data = &ctx;
  signal(SIGINT, on_sig);
  signal(SIGTERM, on_sig);
  int64_t end =
      o.max_time > 0 ? weft_now_ns() + (int64_t)(o.max_time * 1e9) : INT64_MAX;
  weft_client *c = NULL;
  weft_subscription *s = NULL;
  int rc = connect_and_subscribe(&o, &ctx, pos[1], have_cursor ? &cursor : NULL,
                                 &c, &s);
  o.quiet_connect = true; /* from here on this loop tells what happens */
  char why[WEFT_ERROR_MSG_MAX];
  while (rc == CLI_OK && time_left(end)) {
    if (weft_client_state(c) == WEFT_CONN_CONNECTED) {
      nap_ms(50);
      continue;
    }
    last_error(&ctx, why, sizeof why);
    /* Resume after it (servers ignore it on other topics), also before
     * the first event: it is then where the subscription started, and
     * without a cursor the next one would start at the stream's end and
     * skip what was published meanwhile. */
    cursor = weft_subscription_last_sequence(s);
    have_cursor = true;
    weft_subscription_cancel(s);
    weft_client_close(c);
    c = NULL;
    s = NULL;
    if (!reconnect) {
      fprintf(stderr, "UNAVAILABLE: connection to %s lost: %s\n", o.url, why);
      rc = CLI_RPC_BASE + WEFT_STATUS_UNAVAILABLE;
      break;
    }
    fprintf(stderr, "weft: connection to %s lost (%s); reconnecting\n", o.url,
            why);
    for (int64_t delay = 100; time_left(end);
         delay = delay * 2 > 2000 ? 2000 : delay * 2) {
      rc = connect_and_subscribe(&o, &ctx, pos[1], have_cursor ? &cursor : NULL,
                                 &c, &s);
      if (rc != CLI_CONNECT)
        break;
      rc = CLI_OK;
      nap_ms(delay);
    }
    if (rc == CLI_OK && c) {
      fprintf(stderr, "weft: reconnected to %s; subscribed to %s again\n",
              o.url, pos[1]);
      fflush(stderr);
    } else if (rc == CLI_RPC_BASE + WEFT_STATUS_UNAUTHENTICATED) {
      last_error(&ctx, why, sizeof why);
      fprintf(stderr, "UNAUTHENTICATED: %s: %s\n", o.url, why);
    }
  }
  weft_subscription_cancel(s);
  weft_client_close(c);
  cli_free(&o);
  return rc;
}

int cli_publish(int argc, char **argv) {
  cli_opts o;
  char *pos[2];
  int npos;
  if (cli_parse(argc, argv, &o, &npos, pos, 2, pub_usage) < 0)
    return CLI_USAGE;
  if (npos != 2 || !o.data) {
    fputs(pub_usage, stderr);
    cli_free(&o);
    return CLI_USAGE;
  }
  o.url = pos[0];
  size_t len;
  char *data = cli_read_data(o.data, &len);
  if (!data) {
    cli_free(&o);
    return CLI_USAGE;
  }
  /* Decode as Any (resolving @type), then unpack the inner message. */
  weft_json_opts jo = {0};
  jo.registry = cli_registry();
  weft_error err = {0};
  void *any = NULL, *inner = NULL;
  int rc = CLI_USAGE;
  if (weft_json_decode(&google__protobuf__Any_desc, data, len, &jo, &any,
                       &err) < 0) {
    fprintf(stderr, "weft: -d: %s\n", err.message);
    goto out;
  }
  google__protobuf__Any *a = any;
  const char *slash = a->type_url ? strrchr(a->type_url, '/') : NULL;
  const weft_msg_desc *d =
      slash ? weft_registry_find_message(jo.registry, slash + 1) : NULL;
  if (!d) {
    fprintf(stderr, "weft: -d: unknown or missing \"@type\"\n");
    goto out;
  }
  if (weft_decode(d, a->value.data, a->value.len, NULL, &inner, &err) < 0) {
    fprintf(stderr, "weft: -d: %s\n", err.message);
    goto out;
  }
  weft_client *c = NULL;
  if ((rc = cli_open(&o, &c)) != CLI_OK)
    goto out;
  int rv = weft_client_publish(c, pos[1], inner);
  if (rv < 0) {
    fprintf(stderr, "weft: publish to %s failed: %s\n", pos[1],
            weft_strerror(rv));
    rc =
        rv == WEFT_ERR_RPC ? CLI_RPC_BASE + WEFT_STATUS_UNAVAILABLE : CLI_LOCAL;
  }
  weft_client_close(c);
out:
  weft_message_free(inner);
  weft_message_free(any);
  free(data);
  cli_free(&o);
  return rc;
}
