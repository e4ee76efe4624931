#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_files.h"
#include "weft/codec.h"

static void usage_error(const char *usage, const char *fmt, const char *arg) {
  fprintf(stderr, "weft: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n%s", usage);
}

/* Options that take a value. */
static const char *const valued[] = {"-d",
                                     "--data",
                                     "-H",
                                     "--header",
                                     "--max-time",
                                     "--cacert",
                                     "--cert",
                                     "--key",
                                     "--servername",
                                     "--proto",
                                     "--descriptor-set",
                                     "--codec",
                                     "--protocol",
                                     NULL};

static bool takes_value(const char *a) {
  for (int i = 0; valued[i]; i++)
    if (strcmp(a, valued[i]) == 0)
      return true;
  return false;
}

int cli_parse(int argc, char **argv, cli_opts *o, int *npos, char **pos,
              int maxpos, const char *usage) {
  memset(o, 0, sizeof *o);
  o->client.connect_timeout_ms = 10000;
  *npos = 0;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      fputs(usage, stdout);
      exit(CLI_OK);
    }
    if (a[0] != '-' || strcmp(a, "-") == 0) {
      if (*npos >= maxpos) {
        usage_error(usage, "unexpected argument '%s'", a);
        return -1;
      }
      pos[(*npos)++] = argv[i];
      continue;
    }
    if (takes_value(a)) {
      if (i + 1 >= argc) {
        usage_error(usage, "%s needs a value", a);
        return -1;
      }
      const char *v = argv[++i];
      if (!strcmp(a, "-d") || !strcmp(a, "--data")) {
        o->data = v;
      } else if (!strcmp(a, "-H") || !strcmp(a, "--header")) {
        const char *colon = strchr(v, ':');
        if (!colon) {
          usage_error(usage, "header '%s' is not 'key: value'", v);
          return -1;
        }
        char key[256];
        size_t kl = (size_t)(colon - v);
        if (kl == 0 || kl >= sizeof key) {
          usage_error(usage, "header '%s' has a bad key", v);
          return -1;
        }
        for (size_t k = 0; k < kl; k++)
          key[k] = (char)(v[k] >= 'A' && v[k] <= 'Z' ? v[k] + 32 : v[k]);
        key[kl] = '\0';
        const char *val = colon + 1;
        while (*val == ' ')
          val++;
        weft_metadata_add_str(&o->headers, key, val);
      } else if (!strcmp(a, "--max-time")) {
        o->max_time = atof(v);
      } else if (!strcmp(a, "--cacert")) {
        o->client.tls.ca_file = v;
      } else if (!strcmp(a, "--cert")) {
        o->client.tls.cert_file = v;
      } else if (!strcmp(a, "--key")) {
        o->client.tls.key_file = v;
      } else if (!strcmp(a, "--servername")) {
        o->client.tls.server_name = v;
      } else if (!strcmp(a, "--proto")) {
        o->proto_file = v;
      } else if (!strcmp(a, "--descriptor-set")) {
        o->descriptor_set = v;
      } else if (!strcmp(a, "--protocol")) {
        weft_http_client_opts init = WEFT_HTTP_CLIENT_OPTS_INIT;
        o->http = init;
        if (weft_http_protocol_parse(v, &o->http.protocol) < 0) {
          usage_error(usage,
                      "--protocol is connect, grpc or grpc-web, not '%s'", v);
          return -1;
        }
        o->protocol_set = true;
      } else if (!strcmp(a, "--codec")) {
        if (!strcmp(v, "json"))
          o->client.codec = WEFT_CODEC_JSON;
        else if (!strcmp(v, "proto"))
          o->client.codec = WEFT_CODEC_PROTO;
        else {
          usage_error(usage, "--codec is json or proto, not '%s'", v);
          return -1;
        }
      }
    } else if (!strcmp(a, "--insecure") || !strcmp(a, "-k")) {
      o->insecure = true;
      o->client.tls.insecure = true;
    } else if (!strcmp(a, "--plaintext")) {
      o->plaintext = true;
    } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
      o->verbose = true;
    } else if (!strcmp(a, "--camel")) {
      o->camel = true;
    } else if (!strcmp(a, "--emit-defaults")) {
      o->emit_defaults = true;
    } else {
      usage_error(usage, "unknown option '%s'", a);
      return -1;
    }
  }
  if (o->headers.count)
    o->client.metadata = &o->headers;
  if (o->protocol_set)
    o->client.transport_opts = &o->http;
  return 0;
}

void cli_free(cli_opts *o) {
  weft_metadata_clear(&o->headers);
}

void cli_verbose(const cli_opts *o, const char *fmt, ...) {
  if (!o->verbose)
    return;
  va_list ap;
  va_start(ap, fmt);
  fputs("* ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

int cli_open(cli_opts *o, weft_client **out) {
  char url[1100];
  /* A bare host:port is gRPC, TLS unless --plaintext (as grpcurl). */
  if (!strstr(o->url, "://"))
    snprintf(url, sizeof url, "%s://%s", o->plaintext ? "grpc" : "grpcs",
             o->url);
  else
    snprintf(url, sizeof url, "%s", o->url);
  bool h2c = strncmp(url, "h2c://", 6) == 0;
  if (o->protocol_set && strncmp(url, "http://", 7) != 0 &&
      strncmp(url, "https://", 8) != 0 && !h2c) {
    fprintf(stderr,
            "weft: --protocol applies to http://, https:// and h2c:// URLs, "
            "not %s\n",
            url);
    return CLI_USAGE;
  }
  if (o->protocol_set && h2c && o->http.protocol == WEFT_HTTP_GRPC_WEB) {
    fprintf(stderr, "weft: --protocol grpc-web needs http:// or https:// "
                    "(h2c:// speaks connect or grpc)\n");
    return CLI_USAGE;
  }
  cli_verbose(o, "connecting to %s%s%s", url, o->protocol_set ? " with " : "",
              o->protocol_set ? weft_http_protocol_name(o->http.protocol) : "");
  int64_t t0 = weft_now_ns();
  weft_error err;
  int rv = weft_client_open(out, url, &o->client, &err);
  /* The transport's own words (a refused subprotocol, the certificate
   * check that failed) say more than the code's name. */
  const char *why = err.message[0] ? err.message : weft_strerror(rv);
  if (rv < 0 && o->quiet_connect)
    return rv == WEFT_ERR_AUTH ? CLI_RPC_BASE + WEFT_STATUS_UNAUTHENTICATED
                               : CLI_CONNECT;
  if (rv == WEFT_ERR_AUTH) {
    /* e.g. a WebSocket upgrade refused with 401: a wrong API key, which
     * gets UNAUTHENTICATED's exit code on every transport. */
    fprintf(stderr, "UNAUTHENTICATED: %s: %s\n", url, why);
    return CLI_RPC_BASE + WEFT_STATUS_UNAUTHENTICATED;
  }
  if (rv < 0) {
    fprintf(stderr, "weft: cannot connect to %s: %s\n", url, why);
    return CLI_CONNECT;
  }
  cli_verbose(o, "connected in %.1f ms", (weft_now_ns() - t0) / 1e6);
  return CLI_OK;
}

weft_registry *cli_registry(void) {
  static weft_registry *r;
  if (!r) {
    r = weft_registry_global();
    for (const weft_file_desc *const *f = weft_cli_files; *f; f++)
      weft_registry_add_file(r, *f);
  }
  return r;
}

typedef struct find_ctx {
  const char *svc;
  size_t svc_len;
  const char *method;
  const weft_method_desc *found;
} find_ctx;

static void find_in(const weft_service_desc *s, void *ud) {
  find_ctx *f = ud;
  if (f->found || strlen(s->name) != f->svc_len ||
      strncmp(s->name, f->svc, f->svc_len) != 0)
    return;
  f->found = weft_service_method(s, f->method);
}

const weft_method_desc *cli_find_method(const char *name) {
  if (name[0] == '/')
    name++;
  const char *sep = strrchr(name, '/');
  if (!sep)
    sep = strrchr(name, '.');
  if (!sep)
    return NULL;
  find_ctx f = {name, (size_t)(sep - name), sep + 1, NULL};
  weft_registry_each_service(cli_registry(), find_in, &f);
  return f.found;
}

char *cli_read_data(const char *d, size_t *len) {
  if (!d) {
    *len = 2;
    return strdup("{}");
  }
  if (strcmp(d, "-") != 0 && d[0] != '@') {
    *len = strlen(d);
    return strdup(d);
  }
  FILE *f = strcmp(d, "-") == 0 ? stdin : fopen(d + 1, "rb");
  if (!f) {
    fprintf(stderr, "weft: cannot read %s\n", d + 1);
    return NULL;
  }
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap + 1);
  size_t r;
  while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
    n += r;
    if (n == cap) {
      char *nb = realloc(buf, cap * 2 + 1);
      if (!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap *= 2;
    }
  }
  if (f != stdin)
    fclose(f);
  if (buf)
    buf[n] = '\0';
  *len = n;
  return buf;
}

int cli_print_json(FILE *f, const void *msg, const cli_opts *o) {
  weft_json_opts jo = {0};
  jo.flags = (o->camel ? 0 : WEFT_JSON_PROTO_NAMES) |
             (o->emit_defaults ? WEFT_JSON_EMIT_DEFAULTS : 0);
  jo.registry = o->registry ? o->registry : cli_registry();
  char *s = NULL;
  size_t n = 0;
  weft_error err = {0};
  if (weft_json_encode(msg, &jo, &s, &n, &err) < 0) {
    fprintf(stderr, "weft: cannot print the response: %s\n", err.message);
    return CLI_LOCAL;
  }
  fwrite(s, 1, n, f);
  fputc('\n', f);
  fflush(f);
  free(s);
  return CLI_OK;
}

int cli_status_exit(const weft_status *st) {
  if (st->code == WEFT_STATUS_OK)
    return CLI_OK;
  fprintf(stderr, "%s: %s\n", weft_status_name(st->code),
          st->message ? st->message : "");
  return CLI_RPC_BASE + st->code;
}
