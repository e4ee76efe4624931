/* Internals shared by the gRPC transport's files: gRPC core lifetime,
 * metadata/deadline/payload conversion between weft and gRPC core, and the
 * credentials and channel arguments both sides build from weft's options.
 * Only files in transports/grpc/ include gRPC core headers. */
#ifndef WEFT_GRPC_INTERNAL_H
#define WEFT_GRPC_INTERNAL_H

#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <stdbool.h>
#include <stdint.h>

#include "weft/client.h"
#include "weft/grpc_transport.h"
#include "weft/server.h"
#include "weft/transport.h"

#include "rt_thread.h" /* runtime/src/rpc/internal: the threads it runs on */

#define WEFT_GRPC_DEFAULT_MAX_MESSAGE (4u * 1024u * 1024u)
/* Streams one client connection may have open (as h2c:// and https://). */
#define WEFT_GRPC_DEFAULT_MAX_CONCURRENT_STREAMS 100
#define WEFT_GRPC_DETAILS_KEY "grpc-status-details-bin"

/* grpc_init()/grpc_shutdown(), paired per client connection and listener. */
void weft__grpc_acquire(void);
void weft__grpc_release(void);

/* Outgoing metadata: copies of weft entries as gRPC slices (the call takes
 * its own references; we drop ours once the batch has completed). Entries
 * whose key or value gRPC would reject (reserved ":" / "grpc-" keys, bad
 * characters) are skipped rather than failing the call. */
typedef struct weft__grpc_md {
  grpc_metadata *items;
  size_t count;
} weft__grpc_md;
int weft__grpc_md_append(weft__grpc_md *out, const weft_metadata *md);
int weft__grpc_md_append_one(weft__grpc_md *out, const char *key,
                             const void *value, size_t len);
void weft__grpc_md_free(weft__grpc_md *md);

/* Received metadata into dst (appended). Entries with key `skip` (if not
 * NULL) are left out. */
int weft__grpc_md_to_weft(weft_metadata *dst, const grpc_metadata_array *src,
                          const char *skip);

/* CLOCK_MONOTONIC ns (weft_now_ns) <-> gpr_timespec. INT64_MAX = none. */
gpr_timespec weft__grpc_deadline(int64_t deadline_ns);
int64_t weft__grpc_deadline_ns(gpr_timespec t);

/* Payloads: message -> new byte buffer, byte buffer -> new message. */
grpc_byte_buffer *weft__grpc_encode(const void *msg);
int weft__grpc_decode(grpc_byte_buffer *bb, const weft_msg_desc *d,
                      weft_arena *arena, size_t max_size, void **out,
                      weft_error *err);

/* Channel args from generic and gRPC-specific options. */
typedef struct weft__grpc_args {
  grpc_arg items[16];
  grpc_channel_args args;
} weft__grpc_args;
void weft__grpc_args_build(weft__grpc_args *a, size_t max_message,
                           int64_t keepalive_ms, int64_t idle_timeout_ms,
                           const weft_grpc_opts *g,
                           const char *ssl_target_override, bool server);

/* One more integer argument (ignored when the array is full). */
void weft__grpc_args_add_int(weft__grpc_args *a, const char *key, int v);

/* Reads a whole PEM file into a NUL-terminated malloc'd string. */
char *weft__grpc_read_file(const char *path, weft_error *err);

/* "host:port" (IPv6 hosts in brackets) into buf. */
void weft__grpc_target(const weft_url *url, int default_port, char *buf,
                       size_t cap);

/* Tags for the batches of a call: one kind of batch of each kind can be in
 * flight, and each is plucked by the thread that waits for it. */
enum {
  WEFT__GRPC_TAG_MAIN = 1,
  WEFT__GRPC_TAG_SEND,
  WEFT__GRPC_TAG_RECV,
  WEFT__GRPC_TAG_STATUS,
  WEFT__GRPC_TAG_CLOSE
};
#define WEFT__GRPC_TAG(t) ((void *)(uintptr_t)(t))

/* ThreadSanitizer (WEFT_TSAN builds) cannot see the ordering gRPC core's
 * completion queues give (libgrpc is not instrumented): what one thread
 * wrote into a tag's memory before handing the tag to gRPC core is read by
 * the thread that gets the event. These annotate that hand-off. */
#ifdef WEFT_TSAN_BUILD
#include <sanitizer/tsan_interface.h>
#define WEFT__TSAN_RELEASE(p) __tsan_release(p)
#define WEFT__TSAN_ACQUIRE(p) __tsan_acquire(p)
#else
#define WEFT__TSAN_RELEASE(p) ((void)(p))
#define WEFT__TSAN_ACQUIRE(p) ((void)(p))
#endif

/* Waits for one batch of a pluck queue; returns its success flag. */
int weft__grpc_pluck(grpc_completion_queue *cq, int tag);
/* Shuts a pluck queue down and destroys it (every batch already plucked). */
void weft__grpc_cq_destroy(grpc_completion_queue *cq);
/* The same for a next queue: drains what is left first. */
void weft__grpc_cq_destroy_next(grpc_completion_queue *cq);

/* Server: health and reflection services (health.c, reflection.c). */
/* A client's channel, from creation until it is READY (client.c). open
 * creates it (gRPC core starts connecting at the first state check) and
 * fills target ("host:port") and *port; ready makes it the transport's
 * connection (connect's *conn); drop destroys one that never got there. */
typedef struct weft__grpc_chan weft__grpc_chan;
int weft__grpc_channel_open(weft_client *client, const weft_url *url,
                            const weft_client_opts *o, weft__grpc_chan **out,
                            char *target, size_t cap, int *port,
                            weft_error *err);
grpc_channel *weft__grpc_channel_of(weft__grpc_chan *ch);
void *weft__grpc_channel_ready(weft__grpc_chan *ch);
void weft__grpc_channel_drop(weft__grpc_chan *ch);
/* Destroys the gRPC channel alone (its watches then end on gRPC core's
 * threads); drop still frees the rest. */
void weft__grpc_channel_close(weft__grpc_chan *ch);

/* Why a connect failed, for which gRPC core says only TRANSIENT_FAILURE
 * (client.c): weft dials host:port itself with diag_tls's context (NULL
 * for grpc://, or err set) within diag_timeout_ms, and diag_error turns
 * the dial's outcome into the connect's error. */
struct weft__tls_ctx;
struct weft__tls_ctx *weft__grpc_diag_tls(const weft_url *url,
                                          const weft_client_opts *o,
                                          weft_error *err);
int64_t weft__grpc_diag_timeout_ms(const weft_client_opts *o);
int weft__grpc_diag_error(const weft_url *url, const char *target, int dial_rv,
                          const weft_error *dial_err, weft_error *err);

/* The client transport's connect_async (weft/transport.h), connect.c. */
int weft__grpc_connect_async(weft_client *client, const weft_url *url,
                             const weft_client_opts *opts,
                             void (*done)(weft_client *client, int rv,
                                          void *conn, const weft_error *err),
                             weft_error *err);

int weft__grpc_add_builtin_services(weft_server *s, const weft_grpc_opts *g,
                                    weft_error *err);

extern const weft_grpc_opts weft__grpc_default_opts;

#endif
