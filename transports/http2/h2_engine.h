/* The HTTP/2 server connection as an I/O-free engine: one nghttp2 server
 * session and the HTTP/2 rules weft adds on top of it (frames on closed
 * streams, header limits, header timeouts, connection errors that say why).
 *
 * Bytes in (weft__h2e_feed), events out (weft__h2e_events: a stream opened
 * with its request headers, body data, end of the request, a stream closed
 * or reset, GOAWAY from the peer, a connection error), calls in (submit a
 * response, trailers, RST_STREAM, GOAWAY; return receive window), bytes out
 * (weft__h2e_output / weft__h2e_output_done) and the next deadline
 * (weft__h2e_next_timeout / weft__h2e_expire). The engine does no I/O,
 * starts no thread, reads no clock (times are passed in) and takes no lock:
 * one thread drives it. What HTTP means (Connect, gRPC, REST, CORS) is the
 * caller's business: h2_server.c is the runtime glue on top of it, and the
 * unit tests and fuzz_h2_engine drive it with byte pipes.
 *
 * Events are called from inside weft__h2e_feed (and the output calls for
 * read_data), never from another thread. They may call the submit functions
 * and weft__h2e_credit, but not feed, output or free. docs/HTTP2_ENGINE.md
 * lists the events and their order. */
#ifndef WEFT_TRANSPORTS_H2_ENGINE_H
#define WEFT_TRANSPORTS_H2_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "weft/error.h"

typedef struct weft__h2e weft__h2e;

/* One header field. Request fields point into the engine's memory and are
 * valid during the event only; names are lower case (HTTP/2 requires it,
 * nghttp2 checks it), pseudo-fields (":method", ":path", ...) first. */
typedef struct weft__h2e_nv {
  const char *name;
  const uint8_t *value;
  size_t nlen, vlen;
} weft__h2e_nv;

typedef struct weft__h2e_request {
  int32_t id;
  const weft__h2e_nv *fields;
  size_t nfields;
  /* The header block was larger than max_header_bytes: the fields past
   * the limit were dropped (the caller answers, e.g. 431). */
  bool too_large;
  bool end_stream; /* no body follows (a GET, an empty request) */
} weft__h2e_request;

/* read_data's flags. */
#define WEFT__H2E_EOF 0x1 /* the body ends with these bytes */
/* With EOF: the stream does not end with the body, trailers follow (the
 * callback submits them with weft__h2e_submit_trailers before returning). */
#define WEFT__H2E_NO_END_STREAM 0x2
/* read_data's return when nothing is ready: the stream's output waits until
 * weft__h2e_resume. */
#define WEFT__H2E_DEFER (-1)

typedef struct weft__h2e_events {
  /* A request's HEADERS (and CONTINUATIONs) arrived whole. Returns the
   * caller's stream, passed back with every later event of this stream;
   * NULL refuses it (RST_STREAM INTERNAL_ERROR, out of memory). */
  void *(*stream_open)(void *ud, const weft__h2e_request *rq);
  /* Request body bytes. The stream's receive window is returned only by
   * weft__h2e_credit (the caller decides when: that is its backpressure).
   * < 0: the stream is reset (INTERNAL_ERROR). */
  int (*data)(void *ud, void *st, const uint8_t *p, size_t n);
  /* The request ended (END_STREAM, on HEADERS, DATA or trailers). */
  void (*end)(void *ud, void *st);
  /* The stream is gone: code 0 when it ended normally, else the RST_STREAM
   * error code (sent or received). Window never credited is given back to
   * the connection here. The last event of the stream. */
  void (*closed)(void *ud, void *st, uint32_t code);
  /* Body bytes for the response submitted with a body: up to cap bytes
   * into buf, with WEFT__H2E_EOF when they are the last. Returns the count
   * or WEFT__H2E_DEFER. Flow control decides when it is called: a stream
   * whose window is spent is not asked until the peer's WINDOW_UPDATE. */
  ssize_t (*read_data)(void *ud, void *st, uint8_t *buf, size_t cap,
                       uint32_t *flags);
  /* The peer sent GOAWAY: no stream above last_id will be processed. */
  void (*goaway)(void *ud, int32_t last_id, uint32_t code);
  /* The connection failed (malformed frames, a flood, a timeout): why says
   * what and where. Called once; a GOAWAY is queued, and the caller writes
   * the remaining output and closes. Optional, like goaway. */
  void (*conn_error)(void *ud, const weft_error *why);
} weft__h2e_events;

typedef struct weft__h2e_cfg {
  uint32_t max_concurrent_streams; /* 0: 100 */
  uint32_t stream_window;          /* initial receive window; 0: 256 KiB */
  uint32_t conn_window;            /* 0: 1 MiB */
  size_t max_header_bytes;         /* RFC 9113 6.5.2 size; 0: 16 KiB */
  /* From the connection's start (start_ns) to the client's preface and
   * SETTINGS, and from a request's first HEADERS frame to its last
   * CONTINUATION; 0: no limit. */
  int64_t header_timeout_ms;
  int64_t start_ns;
} weft__h2e_cfg;

/* Creates a server session and queues its SETTINGS. ev and ud must outlive
 * it. 0, WEFT_ERR_NOMEM. */
int weft__h2e_new(weft__h2e **out, const weft__h2e_cfg *cfg,
                  const weft__h2e_events *ev, void *ud);
/* Frees the session; no event is called (streams still open get no
 * closed event: the caller drops them itself). NULL is fine. */
void weft__h2e_free(weft__h2e *e);

/* The HTTP/2 error code (RFC 9113 section 7) that a GOAWAY carries for a
 * fatal nghttp2 error rv; the client engine uses it too. */
uint32_t weft__h2e_goaway_code(int rv);
/* The name of an HTTP/2 error code ("PROTOCOL_ERROR"), for messages; the
 * client engine (h2_client_engine.c) uses it too. */
const char *weft__h2e_code_name(uint32_t code);

/* Parses len bytes (the client preface first), now_ns on the caller's
 * monotonic clock. Returns len, or WEFT_ERR_PROTOCOL / WEFT_ERR_NOMEM with
 * err (may be NULL) saying why: the connection failed (conn_error was
 * called, a GOAWAY is queued; write the output, then close).
 * Most malformed frames are found by nghttp2, which then ignores the rest
 * of the input and queues a GOAWAY carrying its reason: that connection
 * error is reported (conn_error, weft__h2e_error) when weft__h2e_output
 * produces the GOAWAY, and weft__h2e_finished turns true once it is out;
 * later feeds return the error. */
ssize_t weft__h2e_feed(weft__h2e *e, const uint8_t *in, size_t len,
                       int64_t now_ns, weft_error *err);

/* The next bytes to write: *len of them at the returned pointer, valid
 * until the next call into the engine; *len 0 when there is nothing to
 * write now. NULL: the session failed (err says why, conn_error called). */
const uint8_t *weft__h2e_output(weft__h2e *e, size_t *len, weft_error *err);
/* n bytes of the last weft__h2e_output were written. */
void weft__h2e_output_done(weft__h2e *e, size_t n);
/* Neither side has anything more to say (after GOAWAY both ways, a
 * connection error, or a GOAWAY sent once no stream is open): close. */
bool weft__h2e_finished(const weft__h2e *e);

/* Why the connection failed (as conn_error said), or NULL. */
const weft_error *weft__h2e_error(const weft__h2e *e);

/* The client's preface and first SETTINGS arrived. */
bool weft__h2e_ready(const weft__h2e *e);
/* A request's header block is half received (the connection is not idle). */
bool weft__h2e_busy(const weft__h2e *e);
/* When weft__h2e_expire must run next (now_ns clock), INT64_MAX: never. */
int64_t weft__h2e_next_timeout(const weft__h2e *e);
/* Applies the header timeout at now_ns: 0, or WEFT_ERR_TIMEOUT with err
 * (the connection failed as in feed). */
int weft__h2e_expire(weft__h2e *e, int64_t now_ns, weft_error *err);

/* Calls in. Each returns 0, WEFT_ERR_INVAL (no such open stream, or not
 * in a state for it), or WEFT_ERR_NOMEM. */

/* The response head, from stream_open on (an early answer may be
 * submitted from inside it). With body, read_data supplies the body (and
 * the stream ends after it, or after trailers); without, the HEADERS frame
 * ends the stream. */
int weft__h2e_submit_response(weft__h2e *e, int32_t id, const weft__h2e_nv *nv,
                              size_t n, bool body);
/* Trailers ending the stream; from read_data when it returns
 * WEFT__H2E_NO_END_STREAM, or once the body is out. */
int weft__h2e_submit_trailers(weft__h2e *e, int32_t id, const weft__h2e_nv *nv,
                              size_t n);
/* read_data has something again after returning WEFT__H2E_DEFER. */
int weft__h2e_resume(weft__h2e *e, int32_t id);
/* RST_STREAM with an HTTP/2 error code (RFC 9113 section 7). */
int weft__h2e_submit_rst(weft__h2e *e, int32_t id, uint32_t code);
/* Returns n bytes of stream id's receive window (and the connection's). */
void weft__h2e_credit(weft__h2e *e, int32_t id, size_t n);
/* GOAWAY naming the last stream processed: no new streams, the open ones
 * finish. code NO_ERROR (0) for a graceful close. */
int weft__h2e_goaway(weft__h2e *e, uint32_t code);
/* GOAWAY(2^31-1): the first step of a graceful shutdown (RFC 9113 6.8). */
int weft__h2e_shutdown_notice(weft__h2e *e);
/* Ends the connection with GOAWAY(code) as a connection error; why is
 * reported through conn_error. */
void weft__h2e_terminate(weft__h2e *e, uint32_t code, const char *why);

/* HTTP/2 error codes the callers use (RFC 9113 section 7). */
#define WEFT__H2E_NO_ERROR 0x0
#define WEFT__H2E_PROTOCOL_ERROR 0x1
#define WEFT__H2E_INTERNAL_ERROR 0x2
#define WEFT__H2E_STREAM_CLOSED 0x5
#define WEFT__H2E_CANCEL 0x8
#define WEFT__H2E_ENHANCE_YOUR_CALM 0xb

#endif
