/* weft call URL METHOD [-d JSON|@file|-] [-H 'k: v'] [--max-time S]
 * Any method on any transport, JSON in and JSON out. Streaming responses
 * print one JSON document per line as they arrive; client-streaming and
 * bidi calls read one JSON document per line of input.
 *
 * The method's descriptors come from --proto / --descriptor-set if given
 * (built at run time, weft/dyndesc.h), else from what weft was compiled
 * with, else, on grpc:// URLs, from the server's reflection service. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_files.h"
#include "weft/codec.h"

static const char usage[] =
    "usage: weft call URL METHOD [options]\n"
    "  URL      grpc://h:p grpcs://h:p h2c://h:p http://h:p https://h:p\n"
    "           ws://h:p wss://h:p tcp://h:p tls://h:p, or host:port (gRPC)\n"
    "           http:// is HTTP/1.1; https:// offers ALPN h2,http/1.1;\n"
    "           h2c:// is HTTP/2 without TLS\n"
    "  METHOD   package.Service/Method (e.g. aitbc.v1.Jobs/GetJob; also\n"
    "           /package.Service/Method or package.Service.Method)\n"
    "  --proto FILE              the method's .proto (compiled with protoc;\n"
    "                            imports from FILE's folder and /usr/include)\n"
    "  --descriptor-set FILE     a binary FileDescriptorSet (protoc -o)\n"
    "           Without these, methods weft was not compiled with are looked\n"
    "           up through gRPC server reflection on grpc:// URLs.\n"
    "  -d, --data JSON|@file|-   request (default {}); for client-streaming\n"
    "                            and bidi methods, one JSON document a line\n"
    "  -H, --header 'key: value' request metadata (repeatable)\n"
    "  --max-time S              deadline in seconds\n"
    "  --codec json|proto        payload codec on ws/tcp/http (default proto)\n"
    "  --protocol connect|grpc-web|grpc\n"
    "                            on http(s):// URLs (default connect):\n"
    "                            Connect (HTTP/1.1, or HTTP/2 if https://\n"
    "                            negotiates h2), gRPC-Web over HTTP/1.1, or\n"
    "                            gRPC (https://: weft's own HTTP/2 client,\n"
    "                            ALPN h2 only; http://: gRPC core);\n"
    "                            on h2c:// URLs connect or grpc, both on\n"
    "                            weft's own HTTP/2 client\n"
    "  --cacert F --cert F --key F --servername N --insecure --plaintext\n"
    "  --camel                   print lowerCamelCase JSON names\n"
    "  --emit-defaults           print fields that have default values\n"
    "  -v, --verbose             show metadata and timing on stderr\n"
    "exit: 0 OK, 2 usage/bad input, 3 cannot connect, 4 local failure,\n"
    "      10+N the call ended with gRPC status code N (e.g. 15 NOT_FOUND)\n";

static const weft_registry *g_registry; /* Any types for requests */

static bool is_grpc_url(const char *url) {
  return !strstr(url, "://") || strncmp(url, "grpc://", 7) == 0 ||
         strncmp(url, "grpcs://", 8) == 0;
}

static int decode_one(const weft_method_desc *m, const char *json, size_t len,
                      void **out) {
  weft_json_opts jo = {0};
  jo.registry = g_registry ? g_registry : cli_registry();
  weft_error err = {0};
  if (weft_json_decode(m->input, json, len, &jo, out, &err) < 0) {
    fprintf(stderr, "weft: request for %s: %s\n", m->path, err.message);
    return CLI_USAGE;
  }
  return CLI_OK;
}

static void print_metadata(const cli_opts *o, const char *what,
                           const weft_metadata *md) {
  for (size_t i = 0; o->verbose && md && i < md->count; i++)
    fprintf(stderr, "< %s %s: %.*s\n", what, md->entries[i].key,
            (int)md->entries[i].value_len, (const char *)md->entries[i].value);
}

/* Sends every line of input that holds a JSON document. */
static int send_lines(weft_call *call, const weft_method_desc *m, char *data) {
  char *save = NULL;
  for (char *line = strtok_r(data, "\n", &save); line;
       line = strtok_r(NULL, "\n", &save)) {
    while (*line == ' ' || *line == '\t' || *line == '\r')
      line++;
    if (!*line)
      continue;
    void *req = NULL;
    int rv = decode_one(m, line, strlen(line), &req);
    if (rv != CLI_OK)
      return rv;
    rv = weft_call_send(call, req);
    weft_message_free(req);
    if (rv < 0)
      return CLI_LOCAL;
  }
  return CLI_OK;
}

int cli_call(int argc, char **argv) {
  cli_opts o;
  char *pos[2];
  int npos;
  if (cli_parse(argc, argv, &o, &npos, pos, 2, usage) < 0)
    return CLI_USAGE;
  if (npos != 2) {
    fputs(usage, stderr);
    cli_free(&o);
    return CLI_USAGE;
  }
  o.url = pos[0];
  weft_dyn_set *dyn = NULL;
  weft_registry *reg = NULL;
  const weft_method_desc *m = NULL;
  int rc = CLI_OK;
  if (o.proto_file || o.descriptor_set) {
    if ((rc = cli_load_dyn(&o, &dyn)) != CLI_OK) {
      cli_free(&o);
      return rc;
    }
    m = weft_dyn_find_method(dyn, pos[1]);
  }
  if (!m)
    m = cli_find_method(pos[1]);
  if (!m && !dyn && is_grpc_url(o.url)) {
    cli_verbose(&o, "%s is not compiled in: asking gRPC reflection", pos[1]);
    if ((rc = cli_load_dyn(&o, &dyn)) != CLI_OK) {
      if (rc != CLI_CONNECT) {
        fprintf(stderr,
                "weft: unknown method '%s': not compiled in, and gRPC "
                "reflection could not describe it (give --proto FILE or "
                "--descriptor-set FILE)\n",
                pos[1]);
        rc = CLI_USAGE;
      }
      cli_free(&o);
      return rc;
    }
    m = weft_dyn_find_method(dyn, pos[1]);
  }
  if (!m) {
    fprintf(stderr, "weft: unknown method '%s' (try `weft list %s%s%s`)\n",
            pos[1], o.url,
            o.proto_file       ? " --proto "
            : o.descriptor_set ? " --descriptor-set "
                               : "",
            o.proto_file       ? o.proto_file
            : o.descriptor_set ? o.descriptor_set
                               : "");
    weft_dyn_free(dyn);
    cli_free(&o);
    return CLI_USAGE;
  }
  if (dyn &&
      m->service->file == weft_dyn_find_file(dyn, m->service->file->name)) {
    /* Any in a dynamic message may carry the set's types or weft's. */
    if (weft_registry_new(&reg) == 0) {
      for (size_t i = 0; i < weft_dyn_n_files(dyn); i++)
        weft_registry_add_file(reg, weft_dyn_file(dyn, i));
      for (const weft_file_desc *const *f = weft_cli_files; *f; f++)
        weft_registry_add_file(reg, *f);
      g_registry = reg;
      o.registry = reg;
    }
  }
  size_t len;
  char *data = cli_read_data(o.data, &len);
  if (!data) {
    weft_registry_free(reg);
    weft_dyn_free(dyn);
    cli_free(&o);
    return CLI_USAGE;
  }
  void *req = NULL;
  bool client_streams =
      m->kind == WEFT_RPC_CLIENT_STREAM || m->kind == WEFT_RPC_BIDI;
  if (!client_streams && (rc = decode_one(m, data, len, &req)) != CLI_OK)
    goto out;
  weft_client *c = NULL;
  if ((rc = cli_open(&o, &c)) != CLI_OK)
    goto out;

  weft_metadata resp_md = WEFT_METADATA_INIT;
  weft_call_opts co = {0};
  co.timeout_ms = (int64_t)(o.max_time * 1000);
  co.response_metadata = &resp_md;
  int64_t t0 = weft_now_ns();
  cli_verbose(&o, "calling %s (%s)", m->path,
              m->kind == WEFT_RPC_UNARY ? "unary" : "streaming");
  if (m->kind == WEFT_RPC_UNARY) {
    void *resp = NULL;
    int rv = weft_call_unary(c, m, req, &resp, &co);
    if (rv == 0)
      rc = cli_print_json(stdout, resp, &o);
    weft_message_free(resp);
  } else {
    weft_call *call = NULL;
    int rv = weft_call_start(c, m, &co, &call);
    if (rv < 0) {
      if (co.status.code == WEFT_STATUS_OK)
        weft_status_set(&co.status, WEFT_STATUS_UNAVAILABLE, "%s",
                        weft_strerror(rv));
    } else {
      if (client_streams)
        rc = send_lines(call, m, data);
      else if (weft_call_send(call, req) < 0)
        rc = CLI_LOCAL;
      weft_call_close_send(call);
      void *msg;
      while (rc == CLI_OK && weft_call_recv(call, &msg) == 1) {
        rc = cli_print_json(stdout, msg, &o);
        weft_message_free(msg);
      }
      if (rc != CLI_OK)
        weft_call_cancel(call);
      weft_call_finish(call);
    }
  }
  print_metadata(&o, "metadata", &resp_md);
  cli_verbose(&o, "finished in %.1f ms: %s", (weft_now_ns() - t0) / 1e6,
              weft_status_name(co.status.code));
  if (rc == CLI_OK)
    rc = cli_status_exit(&co.status);
  weft_status_clear(&co.status);
  weft_metadata_clear(&resp_md);
  weft_client_close(c);
out:
  weft_message_free(req); /* before the descriptors it may use */
  free(data);
  weft_registry_free(reg);
  weft_dyn_free(dyn);
  cli_free(&o);
  return rc;
}
