/* A service and its client in one program, as an application built against
 * an installed weft writes them: the Greeter service (protos/greet/v1)
 * served on grpc://, h2c://, ws:// and tcp:// on free loopback ports, and a
 * typed-stub client calling it over each. Prints one line per transport and
 * exits 0 only if every call returned what the service sent. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "greet/v1/greet.weft.h"
#include "weft/client.h"
#include "weft/codec.h"
#include "weft/server.h"

static const int64_t kSeconds = 1700000000;

static int hello(weft_server_call *call, const greet__v1__HelloRequest *req,
                 greet__v1__HelloReply *resp, void *ctx) {
  (void)ctx;
  /* Whatever the handler allocates for resp lives in the call's arena. */
  weft_arena *a = weft_server_call_arena(call);
  char *text = weft_arena_alloc(a, strlen(req->name) + 8);
  google__protobuf__Timestamp *at =
      weft_message_new(&google__protobuf__Timestamp_desc, a);
  if (!text || !at)
    return WEFT_STATUS_RESOURCE_EXHAUSTED;
  sprintf(text, "hello, %s", req->name);
  at->seconds = kSeconds;
  resp->message = text;
  resp->at = at;
  return WEFT_STATUS_OK;
}

static int stream(weft_server_call *call, const greet__v1__HelloRequest *req,
                  void *ctx) {
  (void)ctx;
  for (int i = 0; i < req->count; i++) {
    greet__v1__HelloReply r;
    greet__v1__HelloReply_init(&r);
    r.message = req->name;
    r.index = i;
    if (weft_server_call_send(call, &r) < 0)
      return WEFT_STATUS_CANCELLED;
  }
  return WEFT_STATUS_OK;
}

static const greet__v1__Greeter_impl kImpl = {.hello = hello, .stream = stream};

/* One unary and one server-streaming call over url; 0 if both are right. */
static int call_all(const char *url) {
  weft_client_opts copts = {0};
  copts.default_timeout_ms = 10000;
  weft_client *c = NULL;
  weft_error err = {0};
  int rv = weft_client_open(&c, url, &copts, &err);
  if (rv < 0) {
    fprintf(stderr, "%s: open: %s (%s)\n", url, weft_strerror(rv), err.message);
    return 1;
  }
  int bad = 0;
  greet__v1__HelloRequest req;
  greet__v1__HelloRequest_init(&req);
  req.name = "weft";
  req.count = 3;

  weft_call_opts o = {0};
  greet__v1__HelloReply *resp = NULL;
  rv = greet__v1__Greeter_hello(c, &req, &resp, &o);
  if (rv < 0) {
    fprintf(stderr, "%s: Hello: %s: %s\n", url, weft_status_name(o.status.code),
            o.status.message ? o.status.message : "");
    bad = 1;
  } else if (strcmp(resp->message, "hello, weft") != 0 || !resp->at ||
             resp->at->seconds != kSeconds) {
    fprintf(stderr, "%s: Hello answered \"%s\"\n", url, resp->message);
    bad = 1;
  }
  weft_message_free(resp); /* the malloc path: no arena in o */
  weft_status_clear(&o.status);

  weft_call_opts so = {0};
  weft_call *k = NULL;
  int n = 0;
  rv = greet__v1__Greeter_stream(c, &req, &k, &so);
  if (rv == 0) {
    void *m;
    while ((rv = weft_call_recv(k, &m)) == 1) {
      greet__v1__HelloReply *r = m;
      if (r->index != n || strcmp(r->message, "weft") != 0)
        bad = 1;
      n++;
      weft_message_free(m); /* each received message is the caller's */
    }
    rv = weft_call_finish(k);
  }
  if (rv < 0 || n != 3) {
    fprintf(stderr, "%s: Stream: %d replies, %s: %s\n", url, n,
            weft_status_name(so.status.code),
            so.status.message ? so.status.message : "");
    bad = 1;
  }
  weft_status_clear(&so.status);
  weft_client_close(c);
  printf("%s: %s\n", url, bad ? "FAILED" : "ok");
  return bad;
}

int main(void) {
  alarm(60); /* never hang a test run */
  static const char *const schemes[] = {"grpc", "h2c", "ws", "tcp"};
  weft_server_opts sopts = {0};
  sopts.worker_threads = 4;
  weft_server *s = NULL;
  int rv = weft_server_new(&s, &sopts);
  if (rv == 0)
    rv = weft_server_add_service(s, &greet__v1__Greeter_service, &kImpl, NULL);
  if (rv < 0) {
    fprintf(stderr, "server: %s\n", weft_strerror(rv));
    return 1;
  }
  int failed = 0;
  for (unsigned i = 0; i < 4; i++) {
    char url[64];
    weft_error err = {0};
    snprintf(url, sizeof url, "%s://127.0.0.1:0", schemes[i]);
    if ((rv = weft_server_listen(s, url, &err)) < 0) {
      fprintf(stderr, "listen %s: %s (%s)\n", url, weft_strerror(rv),
              err.message);
      failed++;
    }
  }
  for (unsigned i = 0; !failed && i < 4; i++) {
    char url[64];
    snprintf(url, sizeof url, "%s://127.0.0.1:%d", schemes[i],
             weft_server_port(s, i));
    failed += call_all(url);
  }
  weft_server_shutdown(s);
  weft_server_free(s);
  printf("greet: %s\n", failed ? "FAILED" : "every transport ok");
  return failed ? 1 : 0;
}
