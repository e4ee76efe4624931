/* The HTTP/2 client connection as an I/O-free engine: one nghttp2 client
 * session and what weft adds on top of it (response header blocks handed
 * over whole, request bodies buffered while the peer's window is spent,
 * receive window returned by the caller, a PING timeout, connection errors
 * that say why). The sibling of the server engine (h2_engine.h), whose
 * header-field type, error codes and GOAWAY mapping it shares.
 *
 * Bytes in (weft__h2ce_feed), events out (weft__h2ce_events: a response
 * head, body data, trailers, the end of the response, a stream closed or
 * reset, request bytes sent, GOAWAY from the peer, a connection error),
 * calls in (submit a request, request data, RST_STREAM, GOAWAY, PING;
 * return receive window), bytes out (weft__h2ce_output /
 * weft__h2ce_output_done) and the next deadline (weft__h2ce_next_timeout /
 * weft__h2ce_expire). No I/O, no thread, no clock (times are passed in), no
 * lock: one thread drives it. What the requests mean (Connect, gRPC-Web)
 * is the caller's: h2_client.c is the runtime glue on top of it, and the
 * unit tests and fuzz_h2_client_engine drive it with byte pipes.
 *
 * Events are called from inside weft__h2ce_feed (and `sent` from inside
 * weft__h2ce_output), never from another thread. They may call the submit
 * functions and weft__h2ce_credit, but not feed, output or free.
 * docs/HTTP2_ENGINE.md lists the events and their order. */
#ifndef WEFT_TRANSPORTS_H2_CLIENT_ENGINE_H
#define WEFT_TRANSPORTS_H2_CLIENT_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "h2_engine.h"
#include "weft/error.h"

typedef struct weft__h2ce weft__h2ce;

typedef struct weft__h2ce_events {
  /* A response header block arrived whole (HEADERS and CONTINUATIONs):
   * the head (trailers false; informational 1xx blocks are skipped) or the
   * trailers. Fields point into the engine's memory, valid during the
   * call; names lower case, ":status" first in a head. */
  void (*headers)(void *ud, void *st, const weft__h2e_nv *f, size_t n,
                  bool trailers);
  /* Response body bytes. The stream's receive window is returned only by
   * weft__h2ce_credit (the caller's backpressure). < 0: the stream is reset
   * (INTERNAL_ERROR); the caller may also submit its own RST from here. */
  int (*data)(void *ud, void *st, const uint8_t *p, size_t n);
  /* The response ended (END_STREAM on HEADERS, DATA or trailers). Optional:
   * `closed` follows once the request side is done too. */
  void (*end)(void *ud, void *st);
  /* The stream is gone: code 0 when it ended normally, else the RST_STREAM
   * error code (sent or received; REFUSED_STREAM for a request the server's
   * GOAWAY did not take, also one still queued behind its stream limit).
   * The last event of the stream; window never credited goes back to the
   * connection first. */
  void (*closed)(void *ud, void *st, uint32_t code);
  /* Optional: request body bytes left the engine's buffer; `left` are still
   * buffered (waiting for the peer's window). From inside output. */
  void (*sent)(void *ud, void *st, size_t left);
  /* Optional: the server sent GOAWAY; streams above last_id were not
   * processed (they are closed with REFUSED_STREAM). */
  void (*goaway)(void *ud, int32_t last_id, uint32_t code);
  /* Optional: the connection failed (malformed frames, a bad HPACK block, a
   * PING not answered): why says what. Called once; a GOAWAY is queued and
   * weft__h2ce_finished turns true once it is out. */
  void (*conn_error)(void *ud, const weft_error *why);
} weft__h2ce_events;

typedef struct weft__h2ce_cfg {
  uint32_t max_concurrent_streams; /* pushes are off; 0: 100 */
  uint32_t stream_window;          /* initial receive window; 0: 1 MiB */
  uint32_t conn_window;            /* 0: 4 MiB */
  size_t max_header_bytes;         /* a response header block; 0: 64 KiB */
  int64_t ping_timeout_ms;         /* a PING's ACK; 0: 20 s */
} weft__h2ce_cfg;

/* Creates a client session and queues the preface and SETTINGS. ev and ud
 * must outlive it. 0, WEFT_ERR_NOMEM. */
int weft__h2ce_new(weft__h2ce **out, const weft__h2ce_cfg *cfg,
                   const weft__h2ce_events *ev, void *ud);
/* Frees the session; no event is called (streams still open get no closed
 * event: the caller drops them itself). NULL is fine. */
void weft__h2ce_free(weft__h2ce *e);

/* Parses len bytes of the server's, now_ns on the caller's monotonic
 * clock. Returns len, or WEFT_ERR_PROTOCOL / WEFT_ERR_NOMEM with err (may
 * be NULL) saying why: the connection failed (conn_error was called, a
 * GOAWAY is queued: write the output, then close). As in the server
 * engine, a malformed frame nghttp2 finds itself is reported when its
 * GOAWAY is produced by weft__h2ce_output; later feeds return the error. */
ssize_t weft__h2ce_feed(weft__h2ce *e, const uint8_t *in, size_t len,
                        int64_t now_ns, weft_error *err);
/* The next bytes to write (*len of them, valid until the next call into
 * the engine; *len 0: nothing now). NULL: the session failed (err says
 * why, conn_error called). */
const uint8_t *weft__h2ce_output(weft__h2ce *e, size_t *len, weft_error *err);
/* n bytes of the last weft__h2ce_output were written. */
void weft__h2ce_output_done(weft__h2ce *e, size_t n);
/* Nothing more to say either way (GOAWAY sent and every stream closed, or
 * a connection error): close. */
bool weft__h2ce_finished(const weft__h2ce *e);
/* Why the connection failed, or NULL. */
const weft_error *weft__h2ce_error(const weft__h2ce *e);
/* GOAWAY received or sent: no new request will be taken. */
bool weft__h2ce_going_away(const weft__h2ce *e);

/* When weft__h2ce_expire must run next (a PING waiting for its ACK), on
 * the caller's clock; INT64_MAX: never. */
int64_t weft__h2ce_next_timeout(const weft__h2ce *e);
/* Applies the PING timeout at now_ns: 0, or WEFT_ERR_TIMEOUT with err (the
 * connection failed: GOAWAY queued, conn_error called). */
int weft__h2ce_expire(weft__h2ce *e, int64_t now_ns, weft_error *err);

/* Calls in. */

/* Opens a stream with a request head (pseudo-fields first; nghttp2 copies
 * the fields). end_stream: no body; else the body comes through
 * weft__h2ce_submit_data. st is handed back with the stream's events.
 * Returns the stream id (> 0), or WEFT_ERR_CLOSED (GOAWAY, a failed
 * connection, stream ids exhausted) or WEFT_ERR_NOMEM. A request beyond
 * the server's concurrent stream limit waits inside the engine. */
int32_t weft__h2ce_submit_request(weft__h2ce *e, const weft__h2e_nv *nv,
                                  size_t n, bool end_stream, void *st);
/* Appends n bytes (copied) to stream id's request body; end: they are the
 * last (n may be 0). Flow control decides when they leave; what the window
 * does not allow stays buffered (weft__h2ce_buffered). 0, WEFT_ERR_INVAL
 * (no such stream, or its body ended), WEFT_ERR_NOMEM. */
int weft__h2ce_submit_data(weft__h2ce *e, int32_t id, const uint8_t *p,
                           size_t n, bool end);
/* Request body bytes of stream id still in the engine (0 if none). */
size_t weft__h2ce_buffered(const weft__h2ce *e, int32_t id);
/* RST_STREAM with an HTTP/2 error code (RFC 9113 section 7). A request
 * whose HEADERS did not go out yet (queued behind the server's stream
 * limit) is dropped instead, and its `closed` event (with code) fires from
 * inside this call. 0, WEFT_ERR_INVAL (no such stream), WEFT_ERR_NOMEM. */
int weft__h2ce_submit_rst(weft__h2ce *e, int32_t id, uint32_t code);
/* Returns n bytes of stream id's receive window (and the connection's). */
void weft__h2ce_credit(weft__h2ce *e, int32_t id, size_t n);
/* GOAWAY: no new streams; those open finish. code NO_ERROR (0) for a
 * graceful close. 0, WEFT_ERR_NOMEM. */
int weft__h2ce_goaway(weft__h2ce *e, uint32_t code);
/* PING; its ACK must come within ping_timeout_ms of now_ns (see
 * weft__h2ce_expire). One at a time: while one waits this is a no-op. 0,
 * WEFT_ERR_NOMEM. */
int weft__h2ce_ping(weft__h2ce *e, int64_t now_ns);
/* Ends the connection with GOAWAY(code) as a connection error; why is
 * reported through conn_error. */
void weft__h2ce_terminate(weft__h2ce *e, uint32_t code, const char *why);

#define WEFT__H2E_REFUSED_STREAM 0x7

#endif
