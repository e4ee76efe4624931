/* weft contract record --upstream URL --listen URL... --out CONTRACT: a
 * recording proxy. Every service of the schema is served by a generic
 * handler (weft_server_add_generic_service) on each listener; a call is
 * forwarded to the upstream with a weft_client on run-time descriptors,
 * its answer relayed, and the exchange (method, metadata, requests,
 * responses in order with their delays, status) kept as an interaction.
 * At SIGINT/SIGTERM, or after --max-calls calls, the interactions are
 * written as a contract (docs/CONTRACTS.md) that verifies against the same
 * provider. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "json_exact.h"
#include "cli.h"
#include "weft/base64.h"
#include "weft/codec.h"
#include "weft/server.h"
#include "weft/status.h"
#include "weft/transport.h"

static const char usage[] =
    "usage: weft contract record --upstream URL --listen URL... --out FILE\n"
    "                            [options]\n"
    "  A recording proxy: serves every service of the schema on each\n"
    "  --listen URL (grpc:// h2c:// ws:// tcp://, TLS forms with --cert\n"
    "  and --key; port 0: a free port), forwards each call to the upstream\n"
    "  provider, relays its answer, and at SIGINT/SIGTERM (or after\n"
    "  --max-calls) writes the calls as a contract: method, metadata,\n"
    "  request(s), response(s) in order with their delays, status.\n"
    "  Prints the listening URLs on stdout, one a line.\n"
    "  --proto FILE | --descriptor-set FILE   the schema (default: gRPC\n"
    "                            reflection on a grpc:// upstream, else the\n"
    "                            services weft is built with)\n"
    "  --max-calls N             stop after N calls\n"
    "  --consumer NAME --provider NAME   names written in the contract\n"
    "  --cert F --key F          the TLS listeners' certificate and key\n"
    "  --cacert F --insecure     the upstream's TLS\n"
    "exit: 0 written, 2 usage or a schema that does not load, 3 cannot\n"
    "      reach the upstream, 4 cannot listen or write\n";

typedef struct recorder {
  weft_client *up;
  const weft_registry *registry; /* JSON of the schema's types */
  long max_calls;
  pthread_mutex_t mu;
  cJSON *inters;
  long calls;
} recorder;

/* Metadata a transport adds or owns; the rest is the application's. */
static bool own_key(const char *k) {
  static const char *const keys[] = {"content-type",
                                     "user-agent",
                                     "te",
                                     "accept-encoding",
                                     "host",
                                     "content-encoding",
                                     "accept",
                                     "content-length",
                                     "connection",
                                     "upgrade",
                                     "origin",
                                     "grpc-timeout",
                                     "grpc-encoding",
                                     "grpc-accept-encoding",
                                     NULL};
  if (k[0] == ':' || !strncmp(k, "grpc-", 5) || !strncmp(k, "connect-", 8) ||
      !strncmp(k, "sec-websocket", 13))
    return true;
  for (const char *const *p = keys; *p; p++)
    if (!strcmp(k, *p))
      return true;
  return false;
}

static bool printable(const weft_metadata_entry *e) {
  size_t n = strlen(e->key);
  if (n > 4 && !strcmp(e->key + n - 4, "-bin"))
    return false;
  for (size_t i = 0; i < e->value_len; i++)
    if (e->value[i] < 0x20 || e->value[i] > 0x7e)
      return false;
  return true;
}

static cJSON *to_json(const recorder *r, const void *msg) {
  weft_json_opts jo = {0};
  jo.flags = WEFT_JSON_EMIT_DEFAULTS;
  jo.registry = r->registry;
  char *text = NULL;
  cJSON *v = NULL;
  if (weft_json_encode(msg, &jo, &text, NULL, NULL) == 0)
    v = cJSON_Parse(text);
  free(text);
  return v ? v : cJSON_CreateObject();
}

typedef struct exchange {
  cJSON *reqs, *resps, *delays;
  cJSON *steps; /* bidi: sends and expects in the order the proxy saw */
  int64_t last_ns;
} exchange;

static void step(exchange *x, const char *kind, const cJSON *v) {
  cJSON *s = cJSON_CreateObject();
  cJSON_AddItemToObject(s, kind, cJSON_Duplicate(v, 1));
  cJSON_AddItemToArray(x->steps, s);
}

static void got_response(const recorder *r, exchange *x, const void *msg) {
  int64_t now = weft_now_ns();
  cJSON *v = to_json(r, msg);
  step(x, "expect", v);
  cJSON_AddItemToArray(x->resps, v);
  cJSON_AddItemToArray(
      x->delays, cJSON_CreateNumber((double)((now - x->last_ns) / 1000000)));
  x->last_ns = now;
}

/* Bidi: upstream responses relayed downstream while the handler's thread
 * forwards requests upstream. */
typedef struct relay {
  recorder *r;
  exchange *x;
  weft_call *up;
  weft_server_call *down;
  pthread_mutex_t *mu;
} relay;

static void *relay_main(void *arg) {
  relay *rl = arg;
  void *msg;
  while (weft_call_recv(rl->up, &msg) == 1) {
    pthread_mutex_lock(rl->mu);
    got_response(rl->r, rl->x, msg);
    pthread_mutex_unlock(rl->mu);
    int rv = weft_server_call_send(rl->down, msg);
    weft_message_free(msg);
    if (rv < 0) {
      weft_call_cancel(rl->up);
      break;
    }
  }
  return NULL;
}

static int forward(weft_server_call *call, const void *req, void *resp,
                   void *ud) {
  recorder *r = ud;
  const weft_method_desc *m = weft_server_call_method(call);
  const weft_metadata *in = weft_server_call_metadata(call);
  weft_metadata md = WEFT_METADATA_INIT, rmd = WEFT_METADATA_INIT;
  cJSON *jmd = cJSON_CreateObject();
  for (size_t k = 0; in && k < in->count; k++) {
    const weft_metadata_entry *e = &in->entries[k];
    if (own_key(e->key))
      continue;
    weft_metadata_add(&md, e->key, e->value, e->value_len);
    if (printable(e) && !cJSON_GetObjectItemCaseSensitive(jmd, e->key)) {
      char *v = strndup((const char *)e->value, e->value_len);
      if (v)
        cJSON_AddStringToObject(jmd, e->key, v);
      free(v);
    }
  }
  weft_call_opts co = {0};
  co.metadata = &md;
  co.response_metadata = &rmd;
  int64_t dl = weft_server_call_deadline(call);
  if (dl != INT64_MAX) {
    int64_t left = (dl - weft_now_ns()) / 1000000;
    co.timeout_ms = left > 0 ? left : 1;
  }
  exchange x = {cJSON_CreateArray(), cJSON_CreateArray(), cJSON_CreateArray(),
                cJSON_CreateArray(), weft_now_ns()};
  bool cancelled = false;
  pthread_mutex_t xmu = PTHREAD_MUTEX_INITIALIZER;
  if (m->kind == WEFT_RPC_UNARY) {
    cJSON_AddItemToArray(x.reqs, to_json(r, req));
    void *out = NULL;
    weft_call_unary(r->up, m, req, &out, &co);
    if (out) {
      got_response(r, &x, out);
      void *copy = NULL;
      if (weft_message_copy(out, weft_server_call_arena(call), &copy) == 0)
        memcpy(resp, copy, m->output->base.sizeof_message);
      weft_message_free(out);
    }
  } else {
    weft_call *up = NULL;
    if (weft_call_start(r->up, m, &co, &up) < 0) {
      if (co.status.code == WEFT_STATUS_OK)
        weft_status_set(&co.status, WEFT_STATUS_UNAVAILABLE,
                        "upstream: the call could not start");
      goto done;
    }
    pthread_t th;
    relay rl = {r, &x, up, call, &xmu};
    bool threaded = m->kind == WEFT_RPC_BIDI &&
                    pthread_create(&th, NULL, relay_main, &rl) == 0;
    if (req) {
      cJSON_AddItemToArray(x.reqs, to_json(r, req));
      weft_call_send(up, req);
    } else {
      void *msg;
      int rv;
      while ((rv = weft_server_call_recv(call, &msg)) == 1) {
        pthread_mutex_lock(&xmu);
        cJSON *v = to_json(r, msg);
        step(&x, "send", v);
        cJSON_AddItemToArray(x.reqs, v);
        pthread_mutex_unlock(&xmu);
        if (weft_call_send(up, msg) < 0)
          break;
      }
      if (rv < 0) {
        cancelled = true;
        weft_call_cancel(up);
      }
    }
    weft_call_close_send(up);
    if (threaded) {
      pthread_join(th, NULL);
    } else {
      void *msg;
      while (weft_call_recv(up, &msg) == 1) {
        got_response(r, &x, msg);
        if (m->kind == WEFT_RPC_CLIENT_STREAM) {
          void *copy = NULL;
          if (weft_message_copy(msg, weft_server_call_arena(call), &copy) == 0)
            memcpy(resp, copy, m->output->base.sizeof_message);
        } else if (weft_server_call_send(call, msg) < 0) {
          cancelled = true; /* the consumer went away: an endless stream */
          weft_call_cancel(up);
        }
        weft_message_free(msg);
      }
    }
    weft_call_finish(up);
    cancelled |= weft_server_call_cancelled(call);
  }
done:;
  int code = co.status.code;
  for (size_t k = 0; k < rmd.count; k++) {
    const weft_metadata_entry *e = &rmd.entries[k];
    if (own_key(e->key))
      continue;
    if (code == WEFT_STATUS_OK)
      weft_server_call_add_header(call, e->key, e->value, e->value_len);
    weft_server_call_add_trailer(call, e->key, e->value, e->value_len);
  }
  if (co.status.message && *co.status.message)
    weft_server_call_set_message(call, "%s", co.status.message);

  /* The interaction. */
  cJSON *it = cJSON_CreateObject();
  static const char *const kinds[] = {"unary", "server_stream", "client_stream",
                                      "bidi"};
  pthread_mutex_lock(&r->mu);
  long n = ++r->calls;
  char name[64];
  snprintf(name, sizeof name, "#%ld %s", n, m->name);
  cJSON_AddStringToObject(it, "name", name);
  cJSON_AddStringToObject(it, "method", m->path + 1);
  cJSON_AddStringToObject(it, "kind", kinds[m->kind & 3]);
  if (jmd->child)
    cJSON_AddItemToObject(it, "metadata", jmd);
  else
    cJSON_Delete(jmd);
  bool many_req = m->kind == WEFT_RPC_CLIENT_STREAM || m->kind == WEFT_RPC_BIDI;
  bool many_resp =
      m->kind == WEFT_RPC_SERVER_STREAM || m->kind == WEFT_RPC_BIDI;
  int nresp = cJSON_GetArraySize(x.resps);
  if (m->kind == WEFT_RPC_BIDI && !cancelled) {
    /* A bidi exchange keeps its order (docs/CONTRACTS.md, `steps`);
     * one the consumer cut short is written with `take` below. */
    cJSON_AddItemToObject(it, "steps", x.steps);
    cJSON_Delete(x.reqs);
    cJSON_Delete(x.resps);
    cJSON_Delete(x.delays);
  } else {
    cJSON_Delete(x.steps);
    if (many_req)
      cJSON_AddItemToObject(it, "requests", x.reqs);
    else
      cJSON_AddItemToObject(it, "request",
                            cJSON_DetachItemFromArray(x.reqs, 0));
    if (!many_req)
      cJSON_Delete(x.reqs);
    if (many_resp) {
      cJSON_AddItemToObject(it, "responses", x.resps);
      if (nresp)
        cJSON_AddItemToObject(it, "delaysMs", x.delays);
      else
        cJSON_Delete(x.delays);
      if (cancelled && nresp) /* ended by the consumer: read as many */
        cJSON_AddNumberToObject(it, "take", nresp);
    } else {
      if (nresp && code == WEFT_STATUS_OK)
        cJSON_AddItemToObject(it, "response",
                              cJSON_DetachItemFromArray(x.resps, 0));
      cJSON_Delete(x.resps);
      cJSON_Delete(x.delays);
    }
  }
  if (code != WEFT_STATUS_OK && !(cancelled && many_resp && nresp)) {
    cJSON *st = cJSON_AddObjectToObject(it, "status");
    cJSON_AddStringToObject(st, "code", weft_status_name(code));
    if (co.status.message && *co.status.message)
      cJSON_AddStringToObject(st, "message", co.status.message);
  }
  cJSON_AddItemToArray(r->inters, it);
  bool last = r->max_calls > 0 && n == r->max_calls;
  pthread_mutex_unlock(&r->mu);
  if (last)
    kill(getpid(), SIGTERM); /* taken by sigwait in the main thread */
  weft_metadata_clear(&md);
  weft_metadata_clear(&rmd);
  weft_status_clear(&co.status);
  pthread_mutex_destroy(&xmu);
  return code;
}

static bool skip_service(const char *name) {
  /* gRPC listeners add their own health and reflection. */
  return !strncmp(name, "grpc.health.", 12) ||
         !strncmp(name, "grpc.reflection.", 16);
}

typedef struct add_ctx {
  weft_server *srv;
  recorder *r;
  int rv;
} add_ctx;

static void add_one(const weft_service_desc *svc, void *ud) {
  add_ctx *a = ud;
  if (a->rv == 0 && !skip_service(svc->name) &&
      weft_server_find_method(a->srv, svc->methods[0].path) == NULL)
    a->rv = weft_server_add_generic_service(a->srv, svc, forward, a->r);
}

/* The set's files as a base64 FileDescriptorSet (field 1, each file). */
static char *set_base64(const weft_dyn_set *set) {
  size_t cap = 16, n = 0;
  for (size_t i = 0; i < weft_dyn_n_files(set); i++)
    cap += weft_dyn_file(set, i)->serialized_len + 11;
  uint8_t *buf = malloc(cap);
  if (!buf)
    return NULL;
  for (size_t i = 0; i < weft_dyn_n_files(set); i++) {
    const weft_file_desc *f = weft_dyn_file(set, i);
    buf[n++] = 0x0a;
    size_t len = f->serialized_len;
    while (len >= 0x80) {
      buf[n++] = (uint8_t)(0x80 | (len & 0x7f));
      len >>= 7;
    }
    buf[n++] = (uint8_t)len;
    memcpy(buf + n, f->serialized, f->serialized_len);
    n += f->serialized_len;
  }
  char *out = malloc(weft_base64_encoded_len(n, 0) + 1);
  if (out)
    out[weft_base64_encode(buf, n, out, 0)] = 0;
  free(buf);
  return out;
}

int cli_contract_record(int argc, char **argv) {
  const char *upstream = NULL, *out = NULL, *consumer = "recorded";
  const char *provider = NULL, *cert = NULL, *key = NULL;
  const char **listen = calloc((size_t)argc + 1, sizeof *listen);
  size_t nlisten = 0;
  long max_calls = 0;
  cli_opts o;
  memset(&o, 0, sizeof o);
  int rc = CLI_USAGE;
  weft_dyn_set *dyn = NULL;
  weft_server *srv = NULL;
  recorder r = {0};
  pthread_mutex_init(&r.mu, NULL);
  if (!listen)
    return CLI_LOCAL;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      fputs(usage, stdout);
      rc = CLI_OK;
      goto out;
    }
    if (!strcmp(a, "--insecure")) {
      o.client.tls.insecure = true;
      continue;
    }
    if (!v)
      goto bad;
    i++;
    if (!strcmp(a, "--upstream"))
      upstream = v;
    else if (!strcmp(a, "--listen"))
      listen[nlisten++] = v;
    else if (!strcmp(a, "--out"))
      out = v;
    else if (!strcmp(a, "--proto"))
      o.proto_file = v;
    else if (!strcmp(a, "--descriptor-set"))
      o.descriptor_set = v;
    else if (!strcmp(a, "--max-calls"))
      max_calls = strtol(v, NULL, 10);
    else if (!strcmp(a, "--consumer"))
      consumer = v;
    else if (!strcmp(a, "--provider"))
      provider = v;
    else if (!strcmp(a, "--cert"))
      cert = v;
    else if (!strcmp(a, "--key"))
      key = v;
    else if (!strcmp(a, "--cacert"))
      o.client.tls.ca_file = v;
    else
      goto bad;
  }
  if (!upstream || !out || !nlisten || max_calls < 0)
    goto bad;
  o.url = upstream;
  r.max_calls = max_calls;
  r.inters = cJSON_CreateArray();
  if (o.proto_file || o.descriptor_set || !strncmp(upstream, "grpc", 4)) {
    if ((rc = cli_load_dyn(&o, &dyn)) != CLI_OK)
      goto out;
    r.registry = weft_dyn_registry(dyn);
  } else {
    r.registry = cli_registry();
  }
  if ((rc = cli_open(&o, &r.up)) != CLI_OK)
    goto out;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  weft_server_opts so;
  memset(&so, 0, sizeof so);
  so.tls.cert_file = cert;
  so.tls.key_file = key;
  so.shutdown_grace_ms = 2000;
  rc = CLI_LOCAL;
  if (weft_server_new(&srv, &so) < 0)
    goto out;
  add_ctx ac = {srv, &r, 0};
  if (dyn) {
    for (size_t i = 0; i < weft_dyn_n_files(dyn); i++) {
      const weft_file_desc *f = weft_dyn_file(dyn, i);
      for (unsigned s = 0; s < f->n_services; s++)
        add_one(f->services[s], &ac);
    }
  } else {
    weft_registry_each_service(cli_registry(), add_one, &ac);
  }
  if (ac.rv < 0) {
    fprintf(stderr, "weft: %s\n", weft_strerror(ac.rv));
    goto out;
  }
  for (size_t k = 0; k < nlisten; k++) {
    weft_error err = {0};
    if (weft_server_listen(srv, listen[k], &err) < 0) {
      fprintf(stderr, "weft: %s: %s\n", listen[k], err.message);
      goto out;
    }
    /* The URL with the bound port. */
    const char *hp = strstr(listen[k], "://");
    const char *colon = hp ? strrchr(hp + 3, ':') : NULL;
    if (colon)
      printf("%.*s:%d\n", (int)(colon - listen[k]), listen[k],
             weft_server_port(srv, (unsigned)k));
    else
      printf("%s\n", listen[k]);
  }
  fflush(stdout);
  int sig;
  sigwait(&set, &sig);
  /* Let calls in flight finish and be recorded. */
  weft_server_shutdown(srv);

  cJSON *root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "consumer", consumer);
  cJSON_AddStringToObject(root, "provider", provider ? provider : upstream);
  if (dyn) {
    char *b64 = set_base64(dyn);
    if (b64)
      cJSON_AddStringToObject(cJSON_AddObjectToObject(root, "schema"),
                              "descriptorSet", b64);
    free(b64);
  }
  pthread_mutex_lock(&r.mu);
  cJSON_AddItemToObject(root, "interactions", r.inters);
  r.inters = NULL;
  pthread_mutex_unlock(&r.mu);
  /* Numbers as the shortest text of their double: cJSON's own printing
   * rounds to 15 digits, and the recorded 0.3 would not match the live
   * 0.30000000000000004 it was recorded from. */
  char *text = weft__jx_print(root, true);
  cJSON_Delete(root);
  FILE *f = text ? fopen(out, "w") : NULL;
  if (!f || fputs(text, f) < 0 || fputc('\n', f) < 0 || fclose(f) != 0) {
    perror(out);
    free(text);
    goto out;
  }
  free(text);
  fprintf(stderr, "weft: %ld call%s recorded in %s\n", r.calls,
          r.calls == 1 ? "" : "s", out);
  rc = CLI_OK;
  goto out;
bad:
  fputs(usage, stderr);
  rc = CLI_USAGE;
out:
  weft_server_free(srv);
  weft_client_close(r.up);
  cJSON_Delete(r.inters);
  weft_dyn_free(dyn);
  cli_free(&o);
  free(listen);
  pthread_mutex_destroy(&r.mu);
  return rc;
}
