/* weft subscribe URL TOPIC / weft publish URL TOPIC -d JSON: topics through
 * the built-in weft.v1.PubSub service, on any transport. Events print as
 * one JSON document per line; -d for publish is a JSON Any
 * ({"@type":"type.googleapis.com/aitbc.v1.JobStatus", ...}). */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "google/protobuf/any.weft.h"
#include "weft/codec.h"

static const char sub_usage[] =
    "usage: weft subscribe URL TOPIC [--max-time S] [options]\n"
    "  Prints each event published to TOPIC as a JSON line until interrupted\n"
    "  (or for --max-time seconds).\n";
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
} sub_ctx;

static void on_event(const char *topic, const weft_msg_desc *type,
                     const void *msg, void *ud) {
  sub_ctx *c = ud;
  (void)topic;
  (void)type;
  cli_print_json(stdout, msg, c->o);
}

int cli_subscribe(int argc, char **argv) {
  cli_opts o;
  char *pos[2];
  int npos;
  if (cli_parse(argc, argv, &o, &npos, pos, 2, sub_usage) < 0)
    return CLI_USAGE;
  if (npos != 2) {
    fputs(sub_usage, stderr);
    cli_free(&o);
    return CLI_USAGE;
  }
  o.url = pos[0];
  cli_registry();
  weft_client *c = NULL;
  int rc = cli_open(&o, &c);
  if (rc != CLI_OK) {
    cli_free(&o);
    return rc;
  }
  sub_ctx ctx = {&o};
  weft_subscription *s = NULL;
  int rv = weft_client_subscribe(c, pos[1], on_event, &ctx, &s);
  if (rv < 0) {
    fprintf(stderr, "weft: cannot subscribe to %s: %s\n", pos[1],
            weft_strerror(rv));
    rc = CLI_LOCAL;
  } else {
    signal(SIGINT, on_sig);
    signal(SIGTERM, on_sig);
    int64_t end = o.max_time > 0 ? weft_now_ns() + (int64_t)(o.max_time * 1e9)
                                 : INT64_MAX;
    while (!stop && weft_now_ns() < end) {
      struct timespec ts = {0, 50 * 1000000L};
      nanosleep(&ts, NULL);
    }
    weft_subscription_cancel(s);
  }
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
