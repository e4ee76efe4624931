/* weft-interop-client: gRPC's standard interop cases on weft's client.
 *
 *   weft-interop-client --server_host=H --server_port=N --test_case=NAME
 *       [--use_tls [--ca_file=F] [--server_host_override=NAME]
 *        [--cert_file=F --key_file=F]] [--transport=h2c]
 *
 * --transport=h2c runs the case on weft's own HTTP/2 client speaking gRPC
 * (weft_http_client_opts.protocol = WEFT_HTTP_GRPC; h2c://, or https://
 * with --use_tls) instead of the grpc:// / grpcs:// transport (gRPC core).
 *
 * Exit 0 if the case passed, 1 if it failed (the reason on stderr). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc/testing/test.weft.h"
#include "weft/client.h"
#include "weft/http.h"

#define ECHO_INITIAL "x-grpc-test-echo-initial"
#define ECHO_TRAILING "x-grpc-test-echo-trailing-bin"
#define SPECIAL_MSG                                                            \
  "\t\ntest with whitespace\r\nand Unicode BMP \xe2\x98\xba and non-BMP "      \
  "\xf0\x9f\x98\x88\t\n"

static const char *g_case;

static int fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "FAIL %s: ", g_case);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  return 1;
}

#define CHECK(cond, ...)                                                       \
  do {                                                                         \
    if (!(cond))                                                               \
      return fail(__VA_ARGS__);                                                \
  } while (0)

typedef struct ctx {
  weft_client *c;
  weft_arena *arena;
} ctx;

static weft_call_opts call_opts(ctx *x) {
  weft_call_opts o = {0};
  o.timeout_ms = 10000;
  o.arena = x->arena;
  return o;
}

static grpc__testing__Payload *payload(ctx *x, size_t n) {
  grpc__testing__Payload *p = grpc__testing__Payload_new(x->arena);
  p->body.len = n;
  p->body.data = n ? weft_arena_calloc(x->arena, n) : NULL;
  return p;
}

static bool zeros(const grpc__testing__Payload *p, size_t n) {
  if (!p || p->body.len != n)
    return n == 0 && (!p || p->body.len == 0);
  for (size_t i = 0; i < n; i++)
    if (p->body.data[i])
      return false;
  return true;
}

static const char *msg_of(const weft_call_opts *o) {
  return o->status.message ? o->status.message : "";
}

static int empty_unary(ctx *x) {
  grpc__testing__Empty req = grpc__testing__Empty_INIT, *resp = NULL;
  weft_call_opts o = call_opts(x);
  int rc = grpc__testing__TestService_empty_call(x->c, &req, &resp, &o);
  CHECK(rc == 0 && resp, "EmptyCall: %d %s", o.status.code, msg_of(&o));
  weft_status_clear(&o.status);
  return 0;
}

static int large_unary(ctx *x) {
  grpc__testing__SimpleRequest req = grpc__testing__SimpleRequest_INIT;
  grpc__testing__SimpleResponse *resp = NULL;
  req.response_size = 314159;
  req.payload = payload(x, 271828);
  weft_call_opts o = call_opts(x);
  int rc = grpc__testing__TestService_unary_call(x->c, &req, &resp, &o);
  CHECK(rc == 0, "UnaryCall: %d %s", o.status.code, msg_of(&o));
  CHECK(zeros(resp->payload, 314159), "response payload of %zu bytes",
        resp->payload ? resp->payload->body.len : 0);
  weft_status_clear(&o.status);
  return 0;
}

static const int32_t req_sizes[] = {27182, 8, 1828, 45904};
static const int32_t resp_sizes[] = {31415, 9, 2653, 58979};

static int client_streaming(ctx *x) {
  weft_call *call;
  weft_call_opts o = call_opts(x);
  int rc = grpc__testing__TestService_streaming_input_call(x->c, &call, &o);
  CHECK(rc == 0, "start: %d", rc);
  for (int i = 0; i < 4; i++) {
    grpc__testing__StreamingInputCallRequest r =
        grpc__testing__StreamingInputCallRequest_INIT;
    r.payload = payload(x, (size_t)req_sizes[i]);
    CHECK(weft_call_send(call, &r) == 0, "send %d", i);
  }
  weft_call_close_send(call);
  void *m = NULL;
  rc = weft_call_recv(call, &m);
  int frc = weft_call_finish(call);
  CHECK(rc == 1 && frc == 0, "recv %d, status %d %s", rc, o.status.code,
        msg_of(&o));
  const grpc__testing__StreamingInputCallResponse *r = m;
  CHECK(r->aggregated_payload_size == 74922, "aggregated_payload_size %d",
        r->aggregated_payload_size);
  weft_status_clear(&o.status);
  return 0;
}

static int server_streaming(ctx *x) {
  grpc__testing__StreamingOutputCallRequest req =
      grpc__testing__StreamingOutputCallRequest_INIT;
  grpc__testing__ResponseParameters rp[4], *rpp[4];
  for (int i = 0; i < 4; i++) {
    grpc__testing__ResponseParameters_init(&rp[i]);
    rp[i].size = resp_sizes[i];
    rpp[i] = &rp[i];
  }
  req.n_response_parameters = 4;
  req.response_parameters = rpp;
  weft_call *call;
  weft_call_opts o = call_opts(x);
  int rc =
      grpc__testing__TestService_streaming_output_call(x->c, &req, &call, &o);
  CHECK(rc == 0, "start: %d %s", o.status.code, msg_of(&o));
  int n = 0;
  void *m;
  while ((rc = weft_call_recv(call, &m)) == 1) {
    const grpc__testing__StreamingOutputCallResponse *r = m;
    if (n < 4 && !zeros(r->payload, (size_t)resp_sizes[n])) {
      weft_call_cancel(call);
      weft_call_finish(call);
      return fail("response %d has the wrong size", n);
    }
    n++;
  }
  int frc = weft_call_finish(call);
  CHECK(frc == 0 && n == 4, "%d responses, status %d %s", n, o.status.code,
        msg_of(&o));
  weft_status_clear(&o.status);
  return 0;
}

static grpc__testing__StreamingOutputCallRequest *
duplex_req(ctx *x, int32_t resp_size, size_t req_size) {
  grpc__testing__StreamingOutputCallRequest *r =
      grpc__testing__StreamingOutputCallRequest_new(x->arena);
  grpc__testing__ResponseParameters *rp =
      grpc__testing__ResponseParameters_new(x->arena);
  grpc__testing__ResponseParameters **arr =
      weft_arena_alloc(x->arena, sizeof *arr);
  rp->size = resp_size;
  arr[0] = rp;
  if (resp_size >= 0) {
    r->n_response_parameters = 1;
    r->response_parameters = arr;
  }
  r->payload = payload(x, req_size);
  return r;
}

static int ping_pong(ctx *x) {
  weft_call *call;
  weft_call_opts o = call_opts(x);
  int rc = grpc__testing__TestService_full_duplex_call(x->c, &call, &o);
  CHECK(rc == 0, "start: %d", rc);
  for (int i = 0; i < 4; i++) {
    void *m = NULL;
    if (weft_call_send(
            call, duplex_req(x, resp_sizes[i], (size_t)req_sizes[i])) != 0 ||
        weft_call_recv(call, &m) != 1 ||
        !zeros(((grpc__testing__StreamingOutputCallResponse *)m)->payload,
               (size_t)resp_sizes[i])) {
      weft_call_cancel(call);
      weft_call_finish(call);
      return fail("exchange %d failed: %d %s", i, o.status.code, msg_of(&o));
    }
  }
  weft_call_close_send(call);
  void *m;
  rc = weft_call_recv(call, &m);
  int frc = weft_call_finish(call);
  CHECK(rc == 0 && frc == 0, "end: recv %d, status %d %s", rc, o.status.code,
        msg_of(&o));
  weft_status_clear(&o.status);
  return 0;
}

static int empty_stream(ctx *x) {
  weft_call *call;
  weft_call_opts o = call_opts(x);
  int rc = grpc__testing__TestService_full_duplex_call(x->c, &call, &o);
  CHECK(rc == 0, "start: %d", rc);
  weft_call_close_send(call);
  void *m;
  rc = weft_call_recv(call, &m);
  int frc = weft_call_finish(call);
  CHECK(rc == 0 && frc == 0, "recv %d, status %d %s", rc, o.status.code,
        msg_of(&o));
  weft_status_clear(&o.status);
  return 0;
}

static int status_case(ctx *x, const char *text, bool duplex) {
  grpc__testing__EchoStatus es = grpc__testing__EchoStatus_INIT;
  es.code = 2;
  es.message = (char *)text;
  grpc__testing__SimpleRequest req = grpc__testing__SimpleRequest_INIT;
  grpc__testing__SimpleResponse *resp = NULL;
  req.response_status = &es;
  weft_call_opts o = call_opts(x);
  int rc = grpc__testing__TestService_unary_call(x->c, &req, &resp, &o);
  CHECK(rc == WEFT_ERR_RPC && o.status.code == 2 &&
            strcmp(msg_of(&o), text) == 0,
        "unary: rc %d status %d '%s'", rc, o.status.code, msg_of(&o));
  weft_status_clear(&o.status);
  if (!duplex)
    return 0;
  weft_call *call;
  o = call_opts(x);
  rc = grpc__testing__TestService_full_duplex_call(x->c, &call, &o);
  CHECK(rc == 0, "start: %d", rc);
  grpc__testing__StreamingOutputCallRequest *r = duplex_req(x, -1, 0);
  r->response_status = &es;
  weft_call_send(call, r);
  weft_call_close_send(call);
  void *m;
  while (weft_call_recv(call, &m) == 1) {
  }
  rc = weft_call_finish(call);
  CHECK(rc == WEFT_ERR_RPC && o.status.code == 2 &&
            strcmp(msg_of(&o), text) == 0,
        "duplex: rc %d status %d '%s'", rc, o.status.code, msg_of(&o));
  weft_status_clear(&o.status);
  return 0;
}

static int status_code_and_message(ctx *x) {
  return status_case(x, "test status message", true);
}

static int special_status_message(ctx *x) {
  return status_case(x, SPECIAL_MSG, false);
}

static int check_echo(const weft_metadata *md, const char *where) {
  const weft_metadata_entry *i = weft_metadata_get(md, ECHO_INITIAL);
  const weft_metadata_entry *t = weft_metadata_get(md, ECHO_TRAILING);
  CHECK(i && i->value_len == 27 &&
            memcmp(i->value, "test_initial_metadata_value", 27) == 0,
        "%s: initial metadata not echoed", where);
  CHECK(t && t->value_len == 3 && memcmp(t->value, "\xab\xab\xab", 3) == 0,
        "%s: trailing binary metadata not echoed", where);
  return 0;
}

static int custom_metadata(ctx *x) {
  weft_metadata req_md = WEFT_METADATA_INIT, resp_md = WEFT_METADATA_INIT;
  weft_metadata_add_str(&req_md, ECHO_INITIAL, "test_initial_metadata_value");
  weft_metadata_add(&req_md, ECHO_TRAILING, "\xab\xab\xab", 3);
  grpc__testing__SimpleRequest req = grpc__testing__SimpleRequest_INIT;
  grpc__testing__SimpleResponse *resp = NULL;
  req.response_size = 314159;
  req.payload = payload(x, 271828);
  weft_call_opts o = call_opts(x);
  o.metadata = &req_md;
  o.response_metadata = &resp_md;
  int rc = grpc__testing__TestService_unary_call(x->c, &req, &resp, &o);
  int bad = rc != 0 ? fail("unary: %d %s", o.status.code, msg_of(&o))
                    : check_echo(&resp_md, "unary");
  weft_metadata_clear(&resp_md);
  weft_status_clear(&o.status);
  if (bad) {
    weft_metadata_clear(&req_md);
    return bad;
  }
  weft_call *call;
  o = call_opts(x);
  o.metadata = &req_md;
  o.response_metadata = &resp_md;
  rc = grpc__testing__TestService_full_duplex_call(x->c, &call, &o);
  if (rc == 0) {
    void *m;
    weft_call_send(call, duplex_req(x, 314159, 271828));
    weft_call_close_send(call);
    while (weft_call_recv(call, &m) == 1) {
    }
    rc = weft_call_finish(call);
  }
  bad = rc != 0 ? fail("duplex: %d %s", o.status.code, msg_of(&o))
                : check_echo(&resp_md, "duplex");
  weft_metadata_clear(&resp_md);
  weft_metadata_clear(&req_md);
  weft_status_clear(&o.status);
  return bad;
}

static int unimplemented_method(ctx *x) {
  grpc__testing__Empty req = grpc__testing__Empty_INIT, *resp = NULL;
  weft_call_opts o = call_opts(x);
  int rc = grpc__testing__TestService_unimplemented_call(x->c, &req, &resp, &o);
  CHECK(rc == WEFT_ERR_RPC && o.status.code == WEFT_STATUS_UNIMPLEMENTED,
        "status %d %s", o.status.code, msg_of(&o));
  weft_status_clear(&o.status);
  return 0;
}

static int unimplemented_service(ctx *x) {
  grpc__testing__Empty req = grpc__testing__Empty_INIT, *resp = NULL;
  weft_call_opts o = call_opts(x);
  int rc = grpc__testing__UnimplementedService_unimplemented_call(x->c, &req,
                                                                  &resp, &o);
  CHECK(rc == WEFT_ERR_RPC && o.status.code == WEFT_STATUS_UNIMPLEMENTED,
        "status %d %s", o.status.code, msg_of(&o));
  weft_status_clear(&o.status);
  return 0;
}

static int cancel_after_begin(ctx *x) {
  weft_call *call;
  weft_call_opts o = call_opts(x);
  int rc = grpc__testing__TestService_streaming_input_call(x->c, &call, &o);
  CHECK(rc == 0, "start: %d", rc);
  weft_call_cancel(call);
  weft_call_finish(call);
  CHECK(o.status.code == WEFT_STATUS_CANCELLED, "status %d %s", o.status.code,
        msg_of(&o));
  weft_status_clear(&o.status);
  return 0;
}

static int cancel_after_first_response(ctx *x) {
  weft_call *call;
  weft_call_opts o = call_opts(x);
  int rc = grpc__testing__TestService_full_duplex_call(x->c, &call, &o);
  CHECK(rc == 0, "start: %d", rc);
  void *m = NULL;
  rc = weft_call_send(call, duplex_req(x, 31415, 27182));
  if (rc == 0)
    rc = weft_call_recv(call, &m);
  weft_call_cancel(call);
  weft_call_finish(call);
  CHECK(rc == 1, "no first response (%d)", rc);
  CHECK(o.status.code == WEFT_STATUS_CANCELLED, "status %d %s", o.status.code,
        msg_of(&o));
  weft_status_clear(&o.status);
  return 0;
}

static int timeout_on_sleeping_server(ctx *x) {
  weft_call *call;
  weft_call_opts o = call_opts(x);
  o.timeout_ms = 1;
  int rc = grpc__testing__TestService_full_duplex_call(x->c, &call, &o);
  if (rc == 0) {
    void *m;
    weft_call_send(call, duplex_req(x, -1, 27182));
    while (weft_call_recv(call, &m) == 1) {
    }
    weft_call_finish(call);
  }
  CHECK(o.status.code == WEFT_STATUS_DEADLINE_EXCEEDED, "status %d %s",
        o.status.code, msg_of(&o));
  weft_status_clear(&o.status);
  return 0;
}

/* Not a standard case: the server (the Python test server) answers
 * "with details" with INVALID_ARGUMENT and grpc-status-details-bin set to a
 * serialized google.rpc.Status {code: 3, message: "details"}. */
static int status_details(ctx *x) {
  static const uint8_t want[] = {0x08, 0x03, 0x12, 0x07, 'd', 'e',
                                 't',  'a',  'i',  'l',  's'};
  grpc__testing__EchoStatus es = grpc__testing__EchoStatus_INIT;
  es.code = 3;
  es.message = (char *)"with details";
  grpc__testing__SimpleRequest req = grpc__testing__SimpleRequest_INIT;
  grpc__testing__SimpleResponse *resp = NULL;
  req.response_status = &es;
  weft_call_opts o = call_opts(x);
  int rc = grpc__testing__TestService_unary_call(x->c, &req, &resp, &o);
  CHECK(rc == WEFT_ERR_RPC && o.status.code == 3, "status %d %s", o.status.code,
        msg_of(&o));
  CHECK(o.status.details_len == sizeof want &&
            memcmp(o.status.details, want, sizeof want) == 0,
        "details: %zu bytes", o.status.details_len);
  weft_status_clear(&o.status);
  return 0;
}

static const struct {
  const char *name;
  int (*fn)(ctx *);
} cases[] = {
    {"status_details", status_details},
    {"empty_unary", empty_unary},
    {"large_unary", large_unary},
    {"client_streaming", client_streaming},
    {"server_streaming", server_streaming},
    {"ping_pong", ping_pong},
    {"empty_stream", empty_stream},
    {"status_code_and_message", status_code_and_message},
    {"special_status_message", special_status_message},
    {"custom_metadata", custom_metadata},
    {"unimplemented_method", unimplemented_method},
    {"unimplemented_service", unimplemented_service},
    {"cancel_after_begin", cancel_after_begin},
    {"cancel_after_first_response", cancel_after_first_response},
    {"timeout_on_sleeping_server", timeout_on_sleeping_server},
};

static const char *flag(const char *arg, const char *name) {
  size_t n = strlen(name);
  if (strncmp(arg, name, n) == 0 && arg[n] == '=')
    return arg + n + 1;
  return NULL;
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1", *port = NULL, *v;
  bool tls = false, h2c = false;
  weft_client_opts opts = {0};
  weft_http_client_opts http = WEFT_HTTP_CLIENT_OPTS_INIT;
  http.protocol = WEFT_HTTP_GRPC;
  for (int i = 1; i < argc; i++) {
    if ((v = flag(argv[i], "--server_host")))
      host = v;
    else if ((v = flag(argv[i], "--server_port")))
      port = v;
    else if ((v = flag(argv[i], "--test_case")))
      g_case = v;
    else if (strcmp(argv[i], "--use_tls") == 0 ||
             strcmp(argv[i], "--use_tls=true") == 0)
      tls = true;
    else if (strcmp(argv[i], "--use_tls=false") == 0)
      tls = false;
    else if ((v = flag(argv[i], "--ca_file")))
      opts.tls.ca_file = v;
    else if ((v = flag(argv[i], "--server_host_override")))
      opts.tls.server_name = v;
    else if ((v = flag(argv[i], "--cert_file")))
      opts.tls.cert_file = v;
    else if ((v = flag(argv[i], "--key_file")))
      opts.tls.key_file = v;
    else if (strcmp(argv[i], "--transport=h2c") == 0)
      h2c = true;
    else if (strcmp(argv[i], "--transport=grpc") == 0)
      h2c = false;
    else {
      fprintf(stderr, "weft-interop-client: unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  int (*fn)(ctx *) = NULL;
  for (size_t i = 0; g_case && i < sizeof cases / sizeof cases[0]; i++)
    if (strcmp(cases[i].name, g_case) == 0)
      fn = cases[i].fn;
  if (!port || !fn) {
    fprintf(stderr, "usage: weft-interop-client --server_host=H "
                    "--server_port=N --test_case=NAME [--use_tls ...]\n");
    return 2;
  }
  char url[300];
  snprintf(url, sizeof url, "%s://%s:%s",
           h2c   ? (tls ? "https" : "h2c")
           : tls ? "grpcs"
                 : "grpc",
           host, port);
  if (h2c)
    opts.transport_opts = &http;
  ctx x = {0};
  weft_error err = {0};
  int rc = weft_client_open(&x.c, url, &opts, &err);
  if (rc < 0) {
    fprintf(stderr, "FAIL %s: cannot open %s: %s (%s)\n", g_case, url,
            err.message[0] ? err.message : weft_strerror(rc), weft_errname(rc));
    return 1;
  }
  weft_arena_new(&x.arena, 0);
  int bad = fn(&x);
  weft_arena_free(x.arena);
  weft_client_close(x.c);
  if (!bad)
    printf("PASS %s\n", g_case);
  return bad ? 1 : 0;
}
