/* nanosleep under -std=c11 */
#define _POSIX_C_SOURCE 200809L
#include "echo_service.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "weft/codec.h"

/* Sleeps in small steps so a cancelled call stops early. */
static int nap(weft_server_call *call, int ms) {
  while (ms > 0) {
    if (weft_server_call_cancelled(call))
      return WEFT_STATUS_CANCELLED;
    int step = ms < 10 ? ms : 10;
    struct timespec ts = {0, (long)step * 1000000L};
    nanosleep(&ts, NULL);
    ms -= step;
  }
  return 0;
}

static void echo_metadata(weft_server_call *call) {
  const weft_metadata *md = weft_server_call_metadata(call);
  for (size_t i = 0; md && i < md->count; i++) {
    const weft_metadata_entry *e = &md->entries[i];
    if (strncmp(e->key, "x-", 2) == 0) {
      weft_server_call_add_header(call, e->key, e->value, e->value_len);
      weft_server_call_add_trailer(call, e->key, e->value, e->value_len);
    }
  }
}

static int fail_if_asked(weft_server_call *call,
                         const weft__test__EchoRequest *req) {
  if (req->fail_code) {
    weft_server_call_set_message(call, "%s", req->fail_message);
    if (req->fail_details.len)
      weft_server_call_set_details(call, req->fail_details.data,
                                   req->fail_details.len);
    return req->fail_code;
  }
  return 0;
}

static int unary(weft_server_call *call, const weft__test__EchoRequest *req,
                 weft__test__EchoResponse *resp, void *ctx) {
  (void)ctx;
  echo_metadata(call);
  int rv = nap(call, req->delay_ms);
  if (rv)
    return rv;
  if ((rv = fail_if_asked(call, req)))
    return rv;
  if (req->compression &&
      (rv = weft_server_call_set_compression(call, req->compression)) < 0) {
    weft_server_call_set_message(call, "%s", weft_strerror(rv));
    return WEFT_STATUS_FAILED_PRECONDITION;
  }
  resp->text = req->text;
  resp->payload = req->payload;
  return 0;
}

static int server_stream(weft_server_call *call,
                         const weft__test__EchoRequest *req, void *ctx) {
  (void)ctx;
  echo_metadata(call);
  for (int i = 0; i < req->repeat; i++) {
    weft__test__EchoResponse r;
    weft__test__EchoResponse_init(&r);
    r.text = req->text;
    r.index = i;
    r.payload = req->payload;
    if (req->grow > 0 && i > 0) {
      size_t tl = strlen(req->text), pad = (size_t)req->grow * (size_t)i;
      char *t = weft_arena_alloc(weft_server_call_arena(call), tl + pad + 1);
      if (!t)
        return WEFT_STATUS_RESOURCE_EXHAUSTED;
      memcpy(t, req->text, tl);
      memset(t + tl, 'x', pad);
      t[tl + pad] = '\0';
      r.text = t;
    }
    int rv = weft_server_call_send(call, &r);
    if (rv < 0)
      return WEFT_STATUS_CANCELLED;
    if ((rv = nap(call, req->delay_ms)))
      return rv;
  }
  return fail_if_asked(call, req);
}

static int client_stream(weft_server_call *call, weft__test__EchoResponse *resp,
                         void *ctx) {
  (void)ctx;
  /* The concatenation lives in the call's arena: no cleanup needed. */
  weft_arena *arena = weft_server_call_arena(call);
  char *acc = weft_arena_calloc(arena, 1);
  size_t len = 0;
  int n = 0;
  void *m;
  int rv;
  /* Each message is ours (recv_owned) and freed at once: only the
   * concatenation grows. */
  while ((rv = weft_server_call_recv_owned(call, &m)) == 1) {
    weft__test__EchoRequest *req = m;
    if (req->fail_code) {
      int code = fail_if_asked(call, req);
      weft_message_free(req);
      return code;
    }
    size_t add = strlen(req->text);
    char *next = weft_arena_alloc(arena, len + add + 1);
    if (!next) {
      weft_message_free(req);
      return WEFT_STATUS_RESOURCE_EXHAUSTED;
    }
    memcpy(next, acc, len);
    memcpy(next + len, req->text, add + 1);
    weft_message_free(req);
    acc = next;
    len += add;
    n++;
  }
  /* How much arena the call used: tests check that received messages did
   * not pile up in it. */
  char used[32];
  snprintf(used, sizeof used, "%zu", weft_arena_used(arena));
  weft_server_call_add_trailer(call, "x-arena-used", used, strlen(used));
  if (rv < 0)
    return WEFT_STATUS_CANCELLED;
  resp->text = acc;
  resp->index = n;
  return 0;
}

static int bidi(weft_server_call *call, void *ctx) {
  (void)ctx;
  void *m;
  int rv, i = 0;
  while ((rv = weft_server_call_recv(call, &m)) == 1) {
    const weft__test__EchoRequest *req = m;
    if (req->fail_code)
      return fail_if_asked(call, req);
    weft__test__EchoResponse r;
    weft__test__EchoResponse_init(&r);
    r.text = req->text;
    r.index = i++;
    r.payload = req->payload;
    if (weft_server_call_send(call, &r) < 0)
      return WEFT_STATUS_CANCELLED;
  }
  return rv < 0 ? WEFT_STATUS_CANCELLED : 0;
}

const weft__test__Echo_impl weft_test_echo_impl = {
    .unary = unary,
    .server_stream = server_stream,
    .client_stream = client_stream,
    .bidi = bidi,
};

int weft_test_echo_add(weft_server *s) {
  return weft_server_add_service(s, &weft__test__Echo_service,
                                 &weft_test_echo_impl, NULL);
}
