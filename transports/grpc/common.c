/* Conversions between weft's types and gRPC core's, shared by the client and
 * server halves of the gRPC transport. */
#include <grpc/byte_buffer_reader.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc_internal.h"
#include "weft/codec.h"

const weft_grpc_opts weft__grpc_default_opts = WEFT_GRPC_OPTS_INIT;

void weft__grpc_acquire(void) {
  grpc_init();
}
void weft__grpc_release(void) {
  grpc_shutdown();
}

/* Keys the transport itself owns on the wire, or that gRPC core would
 * reject as application metadata. */
static bool md_key_reserved(const char *k) {
  return k[0] == ':' || strncmp(k, "grpc-", 5) == 0 ||
         strcmp(k, "content-type") == 0 || strcmp(k, "te") == 0 ||
         strcmp(k, "connection") == 0 || strcmp(k, "host") == 0;
}

int weft__grpc_md_append_one(weft__grpc_md *out, const char *key,
                             const void *value, size_t len) {
  grpc_slice k = grpc_slice_from_copied_string(key);
  if (!grpc_header_key_is_legal(k)) {
    grpc_slice_unref(k);
    return 0; /* skipped */
  }
  grpc_slice v = grpc_slice_from_copied_buffer((const char *)value, len);
  if (!grpc_is_binary_header(k) && !grpc_header_nonbin_value_is_legal(v)) {
    grpc_slice_unref(k);
    grpc_slice_unref(v);
    return 0;
  }
  grpc_metadata *items =
      realloc(out->items, (out->count + 1) * sizeof(*out->items));
  if (!items) {
    grpc_slice_unref(k);
    grpc_slice_unref(v);
    return WEFT_ERR_NOMEM;
  }
  out->items = items;
  memset(&items[out->count], 0, sizeof(items[0]));
  items[out->count].key = k;
  items[out->count].value = v;
  out->count++;
  return 0;
}

int weft__grpc_md_append(weft__grpc_md *out, const weft_metadata *md) {
  if (!md)
    return 0;
  for (size_t i = 0; i < md->count; i++) {
    const weft_metadata_entry *e = &md->entries[i];
    if (!e->key || md_key_reserved(e->key))
      continue;
    int rc = weft__grpc_md_append_one(out, e->key, e->value, e->value_len);
    if (rc < 0)
      return rc;
  }
  return 0;
}

void weft__grpc_md_free(weft__grpc_md *md) {
  for (size_t i = 0; i < md->count; i++) {
    grpc_slice_unref(md->items[i].key);
    grpc_slice_unref(md->items[i].value);
  }
  free(md->items);
  md->items = NULL;
  md->count = 0;
}

int weft__grpc_md_to_weft(weft_metadata *dst, const grpc_metadata_array *src,
                          const char *skip) {
  for (size_t i = 0; i < src->count; i++) {
    const grpc_slice *k = &src->metadata[i].key;
    const grpc_slice *v = &src->metadata[i].value;
    size_t klen = GRPC_SLICE_LENGTH(*k);
    char key[256];
    if (klen >= sizeof(key))
      continue;
    memcpy(key, GRPC_SLICE_START_PTR(*k), klen);
    key[klen] = '\0';
    if (skip && strcmp(key, skip) == 0)
      continue;
    int rc = weft_metadata_add(dst, key, GRPC_SLICE_START_PTR(*v),
                               GRPC_SLICE_LENGTH(*v));
    if (rc < 0)
      return rc;
  }
  return 0;
}

gpr_timespec weft__grpc_deadline(int64_t deadline_ns) {
  if (deadline_ns == INT64_MAX)
    return gpr_inf_future(GPR_CLOCK_MONOTONIC);
  int64_t rem = deadline_ns - weft_now_ns();
  if (rem < 0)
    rem = 0;
  return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                      gpr_time_from_nanos(rem, GPR_TIMESPAN));
}

int64_t weft__grpc_deadline_ns(gpr_timespec t) {
  if (gpr_time_cmp(t, gpr_inf_future(t.clock_type)) == 0)
    return INT64_MAX;
  t = gpr_convert_clock_type(t, GPR_CLOCK_MONOTONIC);
  gpr_timespec d = gpr_time_sub(t, gpr_now(GPR_CLOCK_MONOTONIC));
  int64_t now = weft_now_ns();
  if (d.tv_sec > (INT64_MAX - now) / 1000000000 - 1)
    return INT64_MAX;
  return now + d.tv_sec * 1000000000 + d.tv_nsec;
}

grpc_byte_buffer *weft__grpc_encode(const void *msg) {
  size_t n = weft_encoded_size(msg);
  grpc_slice s = grpc_slice_malloc(n);
  if (n && weft_encode(msg, GRPC_SLICE_START_PTR(s), n) != (ssize_t)n) {
    grpc_slice_unref(s);
    return NULL;
  }
  grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
  grpc_slice_unref(s);
  return bb;
}

int weft__grpc_decode(grpc_byte_buffer *bb, const weft_msg_desc *d,
                      weft_arena *arena, size_t max_size, void **out,
                      weft_error *err) {
  weft_decode_opts o = {0};
  o.arena = arena;
  o.max_message_size = max_size;
#ifndef WEFT_TSAN_BUILD
  /* Fast path: one uncompressed slice (gRPC core has already inflated
   * compressed messages by the time they reach us). ThreadSanitizer builds
   * read through gRPC core's reader instead: the buffer was filled on
   * whichever gRPC core thread did the call's I/O (any thread that polls a
   * queue may), and the hand-over through the completion queue is
   * invisible to ThreadSanitizer (grpc_internal.h), so the reads must stay
   * inside libgrpc (tests/tsan.supp) and weft decodes a copy made here. */
  if (bb->type == GRPC_BB_RAW &&
      bb->data.raw.compression == GRPC_COMPRESS_NONE &&
      bb->data.raw.slice_buffer.count == 1) {
    grpc_slice s = bb->data.raw.slice_buffer.slices[0];
    return weft_decode(d, GRPC_SLICE_START_PTR(s), GRPC_SLICE_LENGTH(s), &o,
                       out, err);
  }
#endif
  grpc_byte_buffer_reader r;
  if (!grpc_byte_buffer_reader_init(&r, bb))
    return weft_error_set(err, WEFT_ERR_MALFORMED,
                          "%s: cannot read the message payload", d->base.name);
  grpc_slice s = grpc_byte_buffer_reader_readall(&r);
  grpc_byte_buffer_reader_destroy(&r);
  int rc = weft_decode(d, GRPC_SLICE_START_PTR(s), GRPC_SLICE_LENGTH(s), &o,
                       out, err);
  grpc_slice_unref(s);
  return rc;
}

static void arg_int(weft__grpc_args *a, const char *key, int v) {
  grpc_arg *g = &a->items[a->args.num_args++];
  g->type = GRPC_ARG_INTEGER;
  g->key = (char *)key;
  g->value.integer = v;
}

void weft__grpc_args_add_int(weft__grpc_args *a, const char *key, int v) {
  if (a->args.num_args < sizeof a->items / sizeof a->items[0])
    arg_int(a, key, v);
}

static int clamp_int(int64_t v) {
  return v > INT_MAX ? INT_MAX : v < 0 ? 0 : (int)v;
}

void weft__grpc_args_build(weft__grpc_args *a, size_t max_message,
                           int64_t keepalive_ms, int64_t idle_timeout_ms,
                           const weft_grpc_opts *g,
                           const char *ssl_target_override, bool server) {
  memset(a, 0, sizeof(*a));
  a->args.args = a->items;
  int max = clamp_int(max_message ? (int64_t)max_message
                                  : (int64_t)WEFT_GRPC_DEFAULT_MAX_MESSAGE);
  arg_int(a, GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, max);
  arg_int(a, GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, max);
  /* Retries are the runtime's job (weft_retry_opts); gRPC core's retry
   * machinery would only buffer every message a second time. */
  if (!server)
    arg_int(a, GRPC_ARG_ENABLE_RETRIES, 0);
  if (keepalive_ms > 0) {
    arg_int(a, GRPC_ARG_KEEPALIVE_TIME_MS, clamp_int(keepalive_ms));
    arg_int(
        a, GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
        clamp_int(g->keepalive_timeout_ms ? g->keepalive_timeout_ms : 20000));
    arg_int(a, GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS,
            g->keepalive_permit_without_calls ? 1 : 0);
    arg_int(a, GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
    if (server) /* accept the pings a client with the same setting sends */
      arg_int(a, GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
              clamp_int(keepalive_ms / 2));
  }
  if (g->gzip)
    arg_int(a, GRPC_COMPRESSION_CHANNEL_DEFAULT_ALGORITHM, GRPC_COMPRESS_GZIP);
  if (server) /* gRPC core sets no bound by default */
    arg_int(a, GRPC_ARG_MAX_CONCURRENT_STREAMS,
            g->max_concurrent_streams
                ? clamp_int(g->max_concurrent_streams)
                : WEFT_GRPC_DEFAULT_MAX_CONCURRENT_STREAMS);
  if (idle_timeout_ms > 0) /* server: close idle connections (GOAWAY); */
    arg_int(a, /* client: let the channel go idle (reconnects lazily) */
            server ? GRPC_ARG_MAX_CONNECTION_IDLE_MS
                   : GRPC_ARG_CLIENT_IDLE_TIMEOUT_MS,
            clamp_int(idle_timeout_ms));
  if (ssl_target_override && *ssl_target_override) {
    grpc_arg *s = &a->items[a->args.num_args++];
    s->type = GRPC_ARG_STRING;
    s->key = (char *)GRPC_SSL_TARGET_NAME_OVERRIDE_ARG;
    s->value.string = (char *)ssl_target_override;
  }
}

char *weft__grpc_read_file(const char *path, weft_error *err) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    weft_error_set(err, WEFT_ERR_TLS, "cannot open %s", path);
    return NULL;
  }
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  while (buf) {
    size_t n = fread(buf + len, 1, cap - len - 1, f);
    len += n;
    if (n == 0)
      break;
    if (cap - len - 1 == 0) {
      char *nb = realloc(buf, cap * 2);
      if (!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap *= 2;
    }
  }
  int bad = ferror(f);
  fclose(f);
  if (!buf || bad) {
    free(buf);
    weft_error_set(err, WEFT_ERR_TLS, "cannot read %s", path);
    return NULL;
  }
  buf[len] = '\0';
  return buf;
}

void weft__grpc_target(const weft_url *url, int default_port, char *buf,
                       size_t cap) {
  const char *host = url->host[0] ? url->host : "0.0.0.0";
  int port = url->port >= 0 ? url->port : default_port;
  if (strchr(host, ':') && host[0] != '[')
    snprintf(buf, cap, "[%s]:%d", host, port);
  else
    snprintf(buf, cap, "%s:%d", host, port);
}

int weft__grpc_pluck(grpc_completion_queue *cq, int tag) {
  grpc_event ev = grpc_completion_queue_pluck(
      cq, WEFT__GRPC_TAG(tag), gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
  return ev.type == GRPC_OP_COMPLETE && ev.success;
}

void weft__grpc_cq_destroy(grpc_completion_queue *cq) {
  grpc_completion_queue_shutdown(cq);
  grpc_completion_queue_destroy(cq);
}

void weft__grpc_cq_destroy_next(grpc_completion_queue *cq) {
  grpc_completion_queue_shutdown(cq);
  while (
      grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL)
          .type != GRPC_QUEUE_SHUTDOWN) {
  }
  grpc_completion_queue_destroy(cq);
}
