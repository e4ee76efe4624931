/* The client side of a Connect call's response, whatever carries it: the
 * HTTP/2 client (h2_client.c) and the HTTP/1.1 one
 * (transports/http1/h1c_call.c) feed it the response's status, headers
 * and body bytes, and take from it the messages and the call's final
 * status. One place decides what a response means:
 *   - the status: set once (the first cause wins: a deadline, a cancel, the
 *     server's end-of-stream message, or one derived at the end from the
 *     HTTP status and the Connect error JSON in the body);
 *   - unary bodies and error bodies are gathered up to the message size
 *     limit (RESOURCE_EXHAUSTED past it); streaming bodies go through the
 *     envelope reader into a queue of messages;
 *   - metadata: headers other than the protocol's, and a unary call's
 *     "trailer-" headers without the prefix.
 * It also turns a deadline into the Connect-Timeout-Ms header value, and
 * decodes (gunzip, then protobuf or JSON) a message.
 *
 * No I/O and no locks: an owner with threads holds its own lock around
 * these calls. Everything here is malloc'd and freed by
 * weft__connect_resp_free. Reference: https://connectrpc.com/docs/protocol */
#ifndef WEFT_TRANSPORTS_CONNECT_CLIENT_H
#define WEFT_TRANSPORTS_CONNECT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "connect.h"
#include "weft/arena.h"
#include "weft/desc.h"
#include "weft/error.h"
#include "weft/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A message of a streaming response, as it came (flags: compressed). */
typedef struct weft__connect_msg {
  struct weft__connect_msg *next;
  uint8_t flags;
  size_t len;
  uint8_t data[];
} weft__connect_msg;

typedef struct weft__connect_resp {
  size_t max_msg;   /* a message's limit; unary bodies get 64 KiB more */
  bool stream;      /* the response is enveloped (a streaming call) */
  int http_status;  /* 0 until the response head arrived */
  bool gzip;        /* the unary body is gzip'd */
  weft_metadata md; /* headers and trailers */
  uint8_t *body;    /* a unary body, or an error body */
  size_t body_len, body_cap;
  weft__connect_reader reader;
  weft__connect_msg *head, *tail; /* messages waiting for recv */
  size_t queued;                  /* their bytes, 5 per envelope included */
  bool ended;                     /* the end-of-stream message arrived */
  bool discard;                   /* nobody will take messages: drop them */
  /* gRPC-Web: envelopes flagged 0x80 (its trailers frame) go here, and
   * the Connect end-of-stream flag means nothing. NULL for Connect. */
  weft__connect_msg_fn on_web_trailers;
  void *web_ud;
  /* gRPC (application/grpc): frames carry no end-of-stream message (the
   * status comes in HTTP/2 trailers, the owner sets it), a flag other than
   * COMPRESSED is INTERNAL, and so is COMPRESSED unless the response said
   * grpc-encoding: gzip (gzip then tells it did). */
  bool grpc;
  size_t received; /* messages pushed (queued or dropped) */
  bool have_status;
  weft_status st;
} weft__connect_resp;

/* Zero-initialized storage in, an empty response out. */
void weft__connect_resp_init(weft__connect_resp *r, size_t max_msg,
                             bool stream);
void weft__connect_resp_free(weft__connect_resp *r);

/* The call's status, unless one was set already (printf-style message). */
void weft__connect_resp_status(weft__connect_resp *r, int code, const char *fmt,
                               ...) __attribute__((format(printf, 3, 4)));
/* The same with a status parsed from the server (details included); *st
 * is left empty either way. */
void weft__connect_resp_take_status(weft__connect_resp *r, weft_status *st);

/* A response header (or an HTTP/1.1 trailer field), name in any case:
 * content encodings are noted, the protocol's own headers skipped, the
 * rest become metadata (lowercased). */
void weft__connect_resp_header(weft__connect_resp *r, const char *name,
                               size_t nlen, const char *value, size_t vlen);

/* Response body bytes. A streaming response with HTTP status 200 goes
 * through the envelope reader; anything else is gathered whole. Returns 0,
 * WEFT_ERR_TOO_BIG (a body over the limit: RESOURCE_EXHAUSTED), a framing
 * error of the stream (INTERNAL, err says which) or WEFT_ERR_NOMEM; the
 * status is set for the first two: the owner stops the response. */
int weft__connect_resp_data(weft__connect_resp *r, const uint8_t *data,
                            size_t len, weft_error *err);
/* One whole envelope (the reader's callback; ud is the response): the
 * end-of-stream message sets the status and trailers, others are queued.
 * Returns 0, WEFT_ERR_PROTOCOL (a message after the end of the stream) or
 * WEFT_ERR_NOMEM. */
int weft__connect_resp_push(void *ud, uint8_t flags, const uint8_t *data,
                            size_t len);
/* The oldest queued message (the caller frees it), or NULL. */
weft__connect_msg *weft__connect_resp_pop(weft__connect_resp *r);
/* Drops every queued message; later ones are dropped as they come. */
void weft__connect_resp_drop(weft__connect_resp *r);

/* The response ended: when no status was set, it comes from the body (an
 * error: the Connect error JSON, else the HTTP status; gzip'd or not), or
 * is INTERNAL for a stream cut before its end-of-stream message, else OK.
 * http_status 0 (no response at all) is UNAVAILABLE. */
void weft__connect_resp_end(weft__connect_resp *r);

/* gunzip (when gz) and decode a message of type d: protobuf or JSON. */
int weft__connect_decode(const weft_msg_desc *d, bool json, const uint8_t *data,
                         size_t len, bool gz, size_t max_msg, weft_arena *arena,
                         void **out, weft_error *err);

/* Milliseconds left until deadline_ns (weft_now_ns's clock), at least 1
 * (an expired deadline still reaches the server as "at once"); -1 for
 * INT64_MAX, no deadline. */
int64_t weft__connect_timeout_ms(int64_t deadline_ns);

#ifdef __cplusplus
}
#endif
#endif
