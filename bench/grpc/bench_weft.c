/* weft's side of bench_grpc (see bench_weft.h). */
#include "bench_weft.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weft/client.h"
#include "weft/grpc_transport.h"
#include "weft/server.h"
#include "weftbench/bench.weft.h"

static int unary(weft_server_call *call, const weftbench__Msg *req,
                 weftbench__Msg *resp, void *ctx) {
  (void)call, (void)ctx;
  resp->seq = req->seq;
  resp->payload = req->payload; /* req lives in the call arena until sent */
  return WEFT_STATUS_OK;
}

static int stream(weft_server_call *call, const weftbench__StreamReq *req,
                  void *ctx) {
  (void)ctx;
  weftbench__Msg m = weftbench__Msg_INIT;
  uint8_t *buf = calloc(1, req->size > 0 ? (size_t)req->size : 1);
  m.payload.data = buf;
  m.payload.len = req->size > 0 ? (size_t)req->size : 0;
  for (int32_t i = 0; i < req->count; i++) {
    m.seq = i;
    if (weft_server_call_send(call, &m) < 0)
      break;
  }
  free(buf);
  return WEFT_STATUS_OK;
}

static const weftbench__Bench_impl impl = {.unary = unary, .stream = stream};

weft_server *bench_weft_server_start(int *port, int inline_handlers) {
  weft_server *s = NULL;
  weft_error err = {0};
  weft_server_opts o = {0};
  const char *w = getenv("WEFT_BENCH_WORKERS");
  o.worker_threads = w ? (unsigned)atoi(w) : 0;
  static weft_grpc_opts g = WEFT_GRPC_OPTS_INIT;
  const char *q = getenv("WEFT_BENCH_CQ");
  g.cq_threads = q ? (unsigned)atoi(q) : 0;
  g.pool_handlers = inline_handlers == 0;
  o.transport_opts = &g;
  if (weft_server_new(&s, &o) < 0 ||
      weft_server_add_service(s, &weftbench__Bench_service, &impl, NULL) < 0 ||
      weft_server_listen(s, "grpc://127.0.0.1:0", &err) < 0) {
    fprintf(stderr, "weft server: %s\n", err.message);
    weft_server_free(s);
    return NULL;
  }
  *port = weft_server_port(s, 0);
  return s;
}

void bench_weft_server_stop(weft_server *s) {
  weft_server_shutdown(s);
  weft_server_free(s);
}

weft_client *bench_weft_client_open(int port) {
  char url[64];
  snprintf(url, sizeof url, "grpc://127.0.0.1:%d", port);
  weft_client *c = NULL;
  if (weft_client_open(&c, url, NULL, NULL) < 0)
    return NULL;
  return c;
}

void bench_weft_client_close(weft_client *c) {
  weft_client_close(c);
}

void *bench_weft_arena_new(void) {
  weft_arena *a = NULL;
  weft_arena_new(&a, 0);
  return a;
}

void bench_weft_arena_free(void *arena) {
  weft_arena_free(arena);
}

int bench_weft_unary(weft_client *c, void *arena, int64_t seq, int size) {
  static const uint8_t zeros[4096];
  weftbench__Msg req = weftbench__Msg_INIT, *resp = NULL;
  req.seq = seq;
  req.payload.data = (uint8_t *)zeros;
  req.payload.len = (size_t)size;
  weft_call_opts o = {0};
  o.arena = arena;
  int rc = weftbench__Bench_unary(c, &req, &resp, &o);
  weft_status_clear(&o.status);
  if (rc == 0 && resp->seq != seq)
    rc = -1;
  weft_arena_reset(arena);
  return rc;
}

long bench_weft_stream(weft_client *c, void *arena, int count, int size) {
  weftbench__StreamReq req = weftbench__StreamReq_INIT;
  req.count = count;
  req.size = size;
  weft_call_opts o = {0};
  o.arena = arena;
  weft_call *call = NULL;
  if (weftbench__Bench_stream(c, &req, &call, &o) < 0)
    return -1;
  long n = 0;
  void *m;
  while (weft_call_recv(call, &m) == 1) {
    n++;
    if ((n & 1023) == 0)
      weft_arena_reset(arena);
  }
  int rc = weft_call_finish(call);
  weft_status_clear(&o.status);
  weft_arena_reset(arena);
  return rc == 0 ? n : -1;
}
