/* grpc.testing.TestService for the interop server (see test_service.h). */
#include "test_service.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "weft/transport.h"

#define ECHO_INITIAL "x-grpc-test-echo-initial"
#define ECHO_TRAILING "x-grpc-test-echo-trailing-bin"

static void echo_metadata(weft_server_call *call) {
  const weft_metadata *md = weft_server_call_metadata(call);
  const weft_metadata_entry *e = weft_metadata_get(md, ECHO_INITIAL);
  if (e)
    weft_server_call_add_header(call, ECHO_INITIAL, e->value, e->value_len);
  e = weft_metadata_get(md, ECHO_TRAILING);
  if (e)
    weft_server_call_add_trailer(call, ECHO_TRAILING, e->value, e->value_len);
}

/* A non-OK EchoStatus becomes the call's status. The message "with
 * details" also sets details, google.rpc.Status{3, "details"}, as the
 * Python test server does (py_interop.py). */
static int echo_status(weft_server_call *call,
                       const grpc__testing__EchoStatus *st) {
  static const uint8_t details[] = {0x08, 0x03, 0x12, 0x07, 'd', 'e',
                                    't',  'a',  'i',  'l',  's'};
  if (!st || st->code == 0)
    return WEFT_STATUS_OK;
  weft_server_call_set_message(call, "%s", st->message ? st->message : "");
  if (st->message && strcmp(st->message, "with details") == 0)
    weft_server_call_set_details(call, details, sizeof details);
  return st->code;
}

/* A zero-filled payload of n bytes in the call's arena. */
static grpc__testing__Payload *payload(weft_server_call *call, int32_t n) {
  weft_arena *a = weft_server_call_arena(call);
  grpc__testing__Payload *p = grpc__testing__Payload_new(a);
  if (!p || n < 0)
    return NULL;
  p->type = grpc__testing__PayloadType__COMPRESSABLE;
  p->body.len = (size_t)n;
  p->body.data = n ? weft_arena_calloc(a, (size_t)n) : NULL;
  if (n && !p->body.data)
    return NULL;
  return p;
}

/* Waits interval_us, or less if the call ends first. */
static int pause_us(weft_server_call *call, int32_t us) {
  int64_t end = weft_now_ns() + (int64_t)us * 1000;
  while (weft_now_ns() < end) {
    if (weft_server_call_cancelled(call) ||
        weft_now_ns() > weft_server_call_deadline(call))
      return -1;
    int64_t left = end - weft_now_ns();
    struct timespec ts = {0, left > 10000000 ? 10000000 : left};
    nanosleep(&ts, NULL);
  }
  return 0;
}

/* Sends one StreamingOutputCallResponse of `size` bytes; the zero buffer is
 * malloc'd and freed at once so long streams don't grow the arena. */
static int send_payload(weft_server_call *call, int32_t size) {
  grpc__testing__Payload p = grpc__testing__Payload_INIT;
  grpc__testing__StreamingOutputCallResponse r =
      grpc__testing__StreamingOutputCallResponse_INIT;
  p.body.len = size > 0 ? (size_t)size : 0;
  p.body.data = p.body.len ? calloc(1, p.body.len) : NULL;
  if (p.body.len && !p.body.data)
    return WEFT_ERR_NOMEM;
  r.payload = &p;
  int rc = weft_server_call_send(call, &r);
  free(p.body.data);
  return rc;
}

/* A set BoolValue `compressed` asks for the response compressed or not
 * (the interop server_compressed_* cases). */
static void compress_as(weft_server_call *call,
                        const grpc__testing__BoolValue *compressed) {
  if (compressed)
    weft_server_call_set_compression(
        call, compressed->value ? WEFT_COMPRESSION_ON : WEFT_COMPRESSION_OFF);
}

static int respond(weft_server_call *call,
                   const grpc__testing__StreamingOutputCallRequest *req) {
  /* gRPC fixes the compression of a call before its first message: a call
   * with any compressed response compresses, and messages asked to be
   * uncompressed go out as such. (Later requests of a duplex call can only
   * switch messages off.) */
  for (size_t i = 0; i < req->n_response_parameters; i++) {
    const grpc__testing__BoolValue *c = req->response_parameters[i]->compressed;
    if (c && c->value) {
      compress_as(call, c);
      break;
    }
  }
  for (size_t i = 0; i < req->n_response_parameters; i++) {
    const grpc__testing__ResponseParameters *rp = req->response_parameters[i];
    if (rp->interval_us > 0 && pause_us(call, rp->interval_us) < 0)
      return WEFT_STATUS_CANCELLED;
    compress_as(call, rp->compressed);
    if (send_payload(call, rp->size) < 0)
      return WEFT_STATUS_CANCELLED;
  }
  return WEFT_STATUS_OK;
}

static int empty_call(weft_server_call *call, const grpc__testing__Empty *req,
                      grpc__testing__Empty *resp, void *ctx) {
  (void)req, (void)resp, (void)ctx;
  echo_metadata(call);
  return WEFT_STATUS_OK;
}

static int unary_call(weft_server_call *call,
                      const grpc__testing__SimpleRequest *req,
                      grpc__testing__SimpleResponse *resp, void *ctx) {
  (void)ctx;
  echo_metadata(call);
  int st = echo_status(call, req->response_status);
  if (st)
    return st;
  compress_as(call, req->response_compressed);
  if (req->response_size > 0 || req->payload) {
    resp->payload = payload(call, req->response_size);
    if (!resp->payload)
      return WEFT_STATUS_RESOURCE_EXHAUSTED;
  }
  return WEFT_STATUS_OK;
}

static int
streaming_output_call(weft_server_call *call,
                      const grpc__testing__StreamingOutputCallRequest *req,
                      void *ctx) {
  (void)ctx;
  echo_metadata(call);
  int st = respond(call, req);
  if (st)
    return st;
  return echo_status(call, req->response_status);
}

static int streaming_input_call(weft_server_call *call,
                                grpc__testing__StreamingInputCallResponse *resp,
                                void *ctx) {
  (void)ctx;
  echo_metadata(call);
  int32_t total = 0;
  void *m;
  int rc;
  while ((rc = weft_server_call_recv(call, &m)) == 1) {
    const grpc__testing__StreamingInputCallRequest *r = m;
    if (r->payload)
      total += (int32_t)r->payload->body.len;
  }
  if (rc < 0)
    return weft_server_call_cancelled(call) ? WEFT_STATUS_CANCELLED
                                            : WEFT_STATUS_INVALID_ARGUMENT;
  resp->aggregated_payload_size = total;
  return WEFT_STATUS_OK;
}

static int full_duplex_call(weft_server_call *call, void *ctx) {
  (void)ctx;
  echo_metadata(call);
  void *m;
  int rc;
  while ((rc = weft_server_call_recv(call, &m)) == 1) {
    const grpc__testing__StreamingOutputCallRequest *r = m;
    int st = echo_status(call, r->response_status);
    if (st)
      return st;
    st = respond(call, r);
    if (st)
      return st;
  }
  return rc < 0 ? WEFT_STATUS_CANCELLED : WEFT_STATUS_OK;
}

static int half_duplex_call(weft_server_call *call, void *ctx) {
  (void)ctx;
  echo_metadata(call);
  size_t n = 0, cap = 0;
  const grpc__testing__StreamingOutputCallRequest **reqs = NULL;
  void *m;
  int rc;
  while ((rc = weft_server_call_recv(call, &m)) == 1) {
    if (n == cap) {
      cap = cap ? cap * 2 : 8;
      const grpc__testing__StreamingOutputCallRequest **nr =
          realloc(reqs, cap * sizeof *nr);
      if (!nr) {
        free(reqs);
        return WEFT_STATUS_RESOURCE_EXHAUSTED;
      }
      reqs = nr;
    }
    reqs[n++] = m; /* in the call's arena: lives as long as the call */
  }
  int st = rc < 0 ? WEFT_STATUS_CANCELLED : WEFT_STATUS_OK;
  for (size_t i = 0; i < n && st == WEFT_STATUS_OK; i++)
    st = respond(call, reqs[i]);
  free(reqs);
  return st;
}

const grpc__testing__TestService_impl weft_interop_test_service = {
    .empty_call = empty_call,
    .unary_call = unary_call,
    .cacheable_unary_call = unary_call,
    .streaming_output_call = streaming_output_call,
    .streaming_input_call = streaming_input_call,
    .full_duplex_call = full_duplex_call,
    .half_duplex_call = half_duplex_call,
    .unimplemented_call = NULL, /* answered UNIMPLEMENTED */
};

int weft_interop_add_test_service(weft_server *s) {
  return weft_server_add_service(s, &grpc__testing__TestService_service,
                                 &weft_interop_test_service, NULL);
}
