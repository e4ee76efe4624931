/* The seam between the HTTP port's call layer (h2_server.c) and its
 * HTTP/1.1 connections (h1_conn.c).
 *
 * One HTTP port serves HTTP/2 and HTTP/1.1. Either way a request becomes a
 * "stream" of h2_server.c: its request head is checked and routed there
 * (Connect, Connect GET, CORS preflight; the hook for other protocols), its
 * call is dispatched through weft_server_dispatch with the same call ops,
 * and its response is buffered there (status, headers, body or envelopes,
 * end-of-stream). What differs is only how the bytes travel: nghttp2
 * frames, or the HTTP/1.1 engine (transports/http1/h1_engine.h), one
 * request at a time per connection.
 *
 * Everything here runs on the listener's loop thread. */
#ifndef WEFT_TRANSPORTS_H2_CALL_H
#define WEFT_TRANSPORTS_H2_CALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/sock.h"
#include "weft/loop.h"
#include "weft/status.h"

typedef struct h2s_conn weft__hs_conn;
typedef struct h2s_stream weft__hs_stream;
typedef struct weft__h1sc weft__h1sc;

/* ---- h2_server.c, for h1_conn.c ----------------------------------- */

/* A new request on c; the caller holds the returned stream's transport
 * reference until weft__hs_stream_close. NULL: out of memory. */
weft__hs_stream *weft__hs_stream_new(weft__hs_conn *c);
/* One request field; name in lower case. ":method" and ":path" (target
 * with its query) carry the request line. */
void weft__hs_header(weft__hs_stream *s, const char *name, size_t nlen,
                     const char *value, size_t vlen);
/* The head is complete: validate and route. False when the request was
 * answered already (an error, a preflight); its body is then dropped. */
bool weft__hs_headers_done(weft__hs_stream *s);
/* Request body bytes. < 0: the request was refused (it got its answer). */
int weft__hs_body(weft__hs_stream *s, const uint8_t *data, size_t len);
/* The request body ended. */
void weft__hs_end(weft__hs_stream *s);
/* True while the handler is behind on a streaming request by more than the
 * queue's high-water mark: stop reading until weft__h1sc_resume. */
bool weft__hs_behind(weft__hs_stream *s);
/* Drops the transport's reference; an unfinished call is cancelled. */
void weft__hs_stream_close(weft__hs_stream *s);

typedef struct weft__hs_head {
  int status;
  const char *ctype;          /* NULL: no Content-Type (a preflight) */
  const char *encoding;       /* "gzip" or NULL */
  const char *encoding_field; /* the field that carries encoding */
  const char *cors_origin;    /* echo in Access-Control-Allow-Origin, or NULL */
  bool preflight;             /* add the preflight's Allow-* fields */
  const weft_metadata *headers; /* the handler's; stable from now on */
  int64_t content_length;       /* -1: not known yet (a stream) */
} weft__hs_head;

/* The response head once the response has something to send (false:
 * not yet). Marks the head as sent. */
bool weft__hs_response_head(weft__hs_stream *s, weft__hs_head *h);
/* Copies up to cap response bytes; *end when nothing more will come. */
size_t weft__hs_response_read(weft__hs_stream *s, uint8_t *buf, size_t cap,
                              bool *end);

/* The socket closed (why NULL: orderly, note says why if not the peer):
 * every stream still open is cancelled (their transport references are
 * dropped here) and the connection event reported. The caller closed the
 * socket. */
void weft__hs_conn_closed(weft__hs_conn *c, const weft_error *why,
                          const char *note);
/* The client sent the HTTP/2 preface: serve c with nghttp2, feeding it
 * the bytes already read. The socket is not registered on the loop. */
void weft__hs_start_h2(weft__hs_conn *c, const uint8_t *pre, size_t len);

/* CORS fields shared by both HTTP versions. */
#define WEFT__CORS_ALLOW_METHODS "GET, POST, PUT, PATCH, DELETE"
#define WEFT__CORS_ALLOW_HEADERS                                               \
  "Content-Type, Content-Encoding, Accept-Encoding, "                          \
  "Connect-Protocol-Version, Connect-Timeout-Ms, Connect-Content-Encoding, "   \
  "Connect-Accept-Encoding, Grpc-Timeout, X-Grpc-Web, X-User-Agent, "          \
  "Authorization, X-Api-Key"
#define WEFT__CORS_EXPOSE_HEADERS                                              \
  "Grpc-Status, Grpc-Message, Grpc-Status-Details-Bin, "                       \
  "Connect-Content-Encoding, Connect-Accept-Encoding, Content-Encoding"
#define WEFT__CORS_MAX_AGE "7200"

/* ---- h1_conn.c, for h2_server.c ----------------------------------- */

typedef struct weft__h1sc_cfg {
  weft_loop *loop;
  weft__conn *conn;
  weft__hs_conn *owner;
  size_t max_body;
  int64_t header_ms, idle_ms; /* 0: none */
} weft__h1sc_cfg;

/* Serves a new connection as HTTP/1.1 unless its first bytes are the
 * HTTP/2 preface. Registers the socket. */
int weft__h1sc_new(weft__h1sc **out, const weft__h1sc_cfg *cfg);
/* A stream of this connection has response bytes (or its end) ready. */
void weft__h1sc_output(weft__h1sc *h);
/* The handler took queued messages: maybe read again. */
void weft__h1sc_resume(weft__h1sc *h);
/* Header and idle timeouts; now from weft_now_ns(). */
void weft__h1sc_tick(weft__h1sc *h, int64_t now);
/* Closes the socket now (server shutdown); reports through
 * weft__hs_conn_closed. */
void weft__h1sc_close(weft__h1sc *h, const char *note);

#endif
