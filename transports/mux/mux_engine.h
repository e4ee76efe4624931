/* The envelope mux protocol engine: the state machine of weft.v1.Envelope
 * streams on one connection, with no I/O, no locks and no threads (the
 * nghttp2 model). tcp:// and ws:// carry it; mux.c puts queues, condition
 * variables and server dispatch on top of it.
 *
 *   bytes in   weft__mxe_feed(): one encoded envelope (a tcp frame's body, a
 *              WebSocket message); events come out through the callbacks
 *              while it runs, a connection error as its return value
 *   calls in   weft__mxe_submit_*(): OPEN, MESSAGE, HALF_CLOSE, HEADERS,
 *              STATUS, CANCEL, PING, GOAWAY
 *   bytes out  weft__mxe_take_output(): the encoded envelopes to send, in
 *              order, one per frame
 *   timeouts   weft__mxe_next_deadline() / weft__mxe_expire()
 *
 * The engine checks the protocol: which side may send which kind, stream
 * ids (odd, opened by the client, not open twice), the message size limit,
 * the codec of the connection. A violation is a connection error with a
 * message that says what and on which stream; a frame for a stream that is
 * no longer open (a late MESSAGE after a CANCEL crossed it) is dropped, as
 * is a frame of an unknown kind (forward compatibility).
 *
 * A stream leaves the engine when it ends: STATUS sent or received, CANCEL
 * sent or received, a reset by the engine (oversize message, deadline), or
 * weft__mxe_forget(). Submitting on a stream that has left returns
 * WEFT_ERR_STATE and sends nothing.
 *
 * Single-threaded: one thread at a time calls into an engine (mux.c holds
 * its connection mutex). Callbacks may submit on the same engine. Memory:
 * the engine and its output chunks are malloc'd; the views passed to
 * callbacks point into the fed bytes and live only during the callback. */
#ifndef WEFT_TRANSPORTS_MUX_ENGINE_H
#define WEFT_TRANSPORTS_MUX_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "envelope.h"
#include "weft/error.h"
#include "weft/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft__mxe weft__mxe;

/* Event callbacks. ud is weft__mxe_opts.ud; su is the stream's user pointer
 * (weft__mxe_set_user; NULL until set). A callback returning < 0 stops the
 * feed: that code becomes a connection error. All are optional. */
typedef struct weft__mxe_callbacks {
  /* Server: the client opened stream id. e has the method, the metadata
   * (weft__env_md_next), timeout_ms and, if e->has_payload, the first
   * request message. */
  int (*on_open)(void *ud, uint64_t id, const weft__env *e);
  /* Client: response headers (e's metadata). */
  int (*on_headers)(void *ud, uint64_t id, void *su, const weft__env *e);
  /* Either side: one message of the stream. */
  int (*on_message)(void *ud, uint64_t id, void *su, const weft__bytes *p);
  /* Server: the client sends no more messages. */
  int (*on_half_close)(void *ud, uint64_t id, void *su);
  /* Client: the final status (e->status_code, status_message,
   * status_details), trailers (e's metadata) and, if e->has_payload, the
   * single response of a unary or client-streaming call. The stream has
   * left the engine. */
  int (*on_status)(void *ud, uint64_t id, void *su, const weft__env *e);
  /* Either side: the stream was abandoned. remote: the peer sent CANCEL
   * (code and msg are its status). Otherwise the engine reset it (a message
   * over the size limit: RESOURCE_EXHAUSTED; a deadline:
   * DEADLINE_EXCEEDED) and has queued the frame that tells the peer. The
   * stream has left the engine. */
  int (*on_reset)(void *ud, uint64_t id, void *su, int code,
                  const weft__bytes *msg, bool remote);
  /* Connection level. A PING has been answered (PONG queued) already. */
  void (*on_ping)(void *ud, const weft__bytes *payload);
  void (*on_pong)(void *ud, const weft__bytes *payload);
  /* The peer opens no more streams; code 0 when it gave no status. */
  void (*on_goaway)(void *ud, int code, const weft__bytes *msg);
} weft__mxe_callbacks;

typedef struct weft__mxe_opts {
  bool server;
  bool text;               /* JSON envelopes (WebSocket text frames) */
  size_t max_message_size; /* payload limit, both directions; 0: 4 MiB */
  const weft__mxe_callbacks *cb;
  void *ud;
} weft__mxe_opts;

/* One encoded envelope to send as one frame (malloc'd; free() it, or hand
 * it back with weft__mxe_recycle). */
typedef struct weft__mxe_chunk {
  struct weft__mxe_chunk *next;
  size_t len;
  size_t cap; /* bytes data[] can hold */
  bool text;
  uint8_t data[];
} weft__mxe_chunk;

/* A message payload to submit: bytes, or a size and a writer that fills
 * exactly that many bytes (so a message is encoded straight into the
 * frame). */
typedef struct weft__mxe_msg {
  const uint8_t *data;
  size_t len;
  ssize_t (*write)(void *wud, uint8_t *dst, size_t len);
  void *wud;
} weft__mxe_msg;

/* Errors: WEFT_ERR_INVAL (no opts), _UNSUPPORTED (text without JSON
 * support), _NOMEM. */
int weft__mxe_new(weft__mxe **out, const weft__mxe_opts *o);
/* Frees the engine, its streams and unsent output. NULL is fine. */
void weft__mxe_free(weft__mxe *e);

/* Feeds one received envelope; text says how it came (a JSON text frame).
 * now_ns: the owner's monotonic clock, for the deadlines of OPENs. Returns
 * 0, or a connection error (err says what and where): WEFT_ERR_PROTOCOL
 * (wrong side, stream id, codec), the envelope decoder's errors
 * (_TRUNCATED, _MALFORMED, _WIRE_TYPE, _UTF8), WEFT_ERR_CLOSED (an earlier
 * connection error), or a callback's error. After a connection error the
 * engine takes no more input; the owner closes the connection. */
int weft__mxe_feed(weft__mxe *e, const uint8_t *data, size_t len, bool text,
                   int64_t now_ns, weft_error *err);

/* Client: a new stream, not on the wire until weft__mxe_submit_open. Ids
 * are odd and increase. WEFT_ERR_CLOSED after a GOAWAY or a connection
 * error; _NOMEM. */
int weft__mxe_stream_new(weft__mxe *e, void *su, uint64_t *id);
/* Sets / gets a stream's user pointer (NULL if the stream is not open). */
int weft__mxe_set_user(weft__mxe *e, uint64_t id, void *su);
void *weft__mxe_user(const weft__mxe *e, uint64_t id);
/* Ends a stream here without telling the peer (its call is over). */
void weft__mxe_forget(weft__mxe *e, uint64_t id);
/* Streams in the engine. */
size_t weft__mxe_count(const weft__mxe *e);
/* Calls fn for every stream (fn must not end streams). */
void weft__mxe_each(weft__mxe *e, void (*fn)(void *arg, uint64_t id, void *su),
                    void *arg);

/* Submissions queue frames; each returns 0 or a negative WEFT_ERR_*:
 * _STATE (stream not open, wrong side, or the call's order broken),
 * _TOO_BIG (payload over the limit; nothing queued), _CLOSED (after a
 * connection error), _NOMEM, or a payload writer's error. */

/* Client: OPEN, with the first message if msg is not NULL. deadline_ns:
 * absolute on the now_ns clock, 0 or INT64_MAX for none (sent as the
 * remaining timeout_ms, at least 1). */
int weft__mxe_submit_open(weft__mxe *e, uint64_t id, const char *method,
                          const weft_metadata *md, int64_t deadline_ns,
                          int64_t now_ns, const weft__mxe_msg *msg);
/* Either side: one message (server: after OPEN, before STATUS). */
int weft__mxe_submit_message(weft__mxe *e, uint64_t id,
                             const weft__mxe_msg *msg);
/* Client: no more messages. */
int weft__mxe_submit_half_close(weft__mxe *e, uint64_t id);
/* Server: response headers. */
int weft__mxe_submit_headers(weft__mxe *e, uint64_t id,
                             const weft_metadata *md);
/* Server: the final status, with trailers and (unary, client-streaming)
 * the single response in reply; ends the stream. */
int weft__mxe_submit_status(weft__mxe *e, uint64_t id, int code,
                            const char *msg, const uint8_t *details,
                            size_t details_len, const weft_metadata *trailers,
                            const weft__mxe_msg *reply);
/* Either side: abandon the stream, saying why; ends it. */
int weft__mxe_submit_cancel(weft__mxe *e, uint64_t id, int code,
                            const char *msg);
int weft__mxe_submit_ping(weft__mxe *e, const uint8_t *payload, size_t len);
/* No new streams from the peer (server: OPENs are then answered
 * UNAVAILABLE); code 0 sends no status. */
int weft__mxe_submit_goaway(weft__mxe *e, int code, const char *msg);

/* The queued output, oldest first; the caller owns (frees) the chunks. */
weft__mxe_chunk *weft__mxe_take_output(weft__mxe *e);
/* Takes back a list of chunks the caller is done with: small ones are kept
 * for the next envelopes (a streamed message then costs no malloc/free
 * pair), the rest freed. Same locking as every other call on e. */
void weft__mxe_recycle(weft__mxe *e, weft__mxe_chunk *c);
bool weft__mxe_want_write(const weft__mxe *e);

/* The earliest stream deadline (INT64_MAX: none). */
int64_t weft__mxe_next_deadline(const weft__mxe *e);
/* Resets every stream whose deadline is <= now_ns: on_reset with
 * DEADLINE_EXCEEDED; a client stream sends CANCEL, a server stream STATUS.
 * Returns how many, or a callback's error. */
int weft__mxe_expire(weft__mxe *e, int64_t now_ns);

/* Codec of the envelopes (a tcp server learns it from the first frame). */
void weft__mxe_set_text(weft__mxe *e, bool text);
bool weft__mxe_text(const weft__mxe *e);
/* A GOAWAY was received / sent. */
bool weft__mxe_goaway_received(const weft__mxe *e);
bool weft__mxe_goaway_sent(const weft__mxe *e);

#ifdef __cplusplus
}
#endif
#endif
