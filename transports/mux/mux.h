/* The envelope multiplexer: many calls over one message-oriented connection,
 * shared by the tcp:// and ws:// transports (and anything else that moves
 * whole messages). It speaks weft.v1.Envelope (schema/weft/v1/envelope.proto)
 * in either codec and maps stream ids to calls. The protocol itself is the
 * I/O-free engine in mux_engine.h (docs/MUX.md); this layer adds queues,
 * blocking waits and server dispatch on its events.
 *
 * The mux does no I/O. Its owner (a transport connection living on a
 * weft_loop) feeds it each received message with weft__mux_on_message() on
 * the loop thread, and gives it a `send` callback that frames and queues one
 * outgoing message (thread-safe: the mux calls it from user and worker
 * threads; the transport hands the bytes to its loop thread).
 *
 * Client side: implements the call half of weft_client_transport
 * (call_start/send/close_send/recv/finish/cancel) with blocking waits on
 * condition variables. Server side: turns OPEN frames into
 * weft_server_dispatch() calls with a weft_server_call_ops table.
 */
#ifndef WEFT_TRANSPORTS_MUX_H
#define WEFT_TRANSPORTS_MUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weft/client.h"
#include "weft/loop.h"
#include "weft/server.h"
#include "weft/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft__mux weft__mux;

typedef struct weft__mux_io {
  /* Frame and queue one outgoing envelope (already encoded). text is true
   * for the JSON codec. Returns 0 or a negative WEFT_ERR_* (connection gone).
   * Called from any thread. */
  int (*send)(void *io_ud, const uint8_t *data, size_t len, bool text);
  /* The mux wants the connection closed (protocol error); err says why. */
  void (*close)(void *io_ud, const weft_error *err);
  void *io_ud;
  /* Optional: backpressure. When a stream's receive queue is
   * full, weft__mux_rx_paused() turns true and the owner should stop reading
   * the socket; once the reader has drained the queue the mux calls
   * rx_resume (from the reader's thread) and the owner reads again. If NULL
   * the mux never pauses (queues are then bounded only by what the peer
   * sends). */
  void (*rx_resume)(void *io_ud);
  /* Optional (tcp client): the connection's loop, made drivable. A client
   * caller waiting for its reply then runs the loop itself
   * (weft_loop_drive), so the reply wakes it directly. */
  weft_loop *drive_loop;
  /* Optional (server): the connection has closed (weft__mux_on_closed)
   * and the last of the handlers still running then has finished, so
   * weft__mux_free no longer waits for any. Called once, from the thread
   * that finished that handler, outside the mux's lock; weft__mux_free
   * waits for it to return, so io_ud is alive during the call. Not called
   * if no handler was running at the close (weft__mux_active says so).
   * Lets an owner free its closed connections from its loop when they are
   * done instead of polling them. */
  void (*on_idle)(void *io_ud);
} weft__mux_io;

typedef struct weft__mux_opts {
  bool server;             /* server side: dispatch OPEN to srv */
  weft_server *srv;        /* server side */
  weft_codec_kind codec;   /* envelope + payload codec */
  size_t max_message_size; /* payload limit; 0: 4 MiB */
  const char *peer;        /* "ip:port", for weft_server_call_peer */
  /* Server side: the API key the connection was opened with (a ws
   * upgrade's), sent as x-api-key with calls that carry no key of their
   * own. NULL: none. Must outlive the mux. */
  const char *conn_api_key;
  /* Per-stream receive queue bound: messages and bytes
   * queued for a reader that has not taken them yet. 0: 64 and 4 MiB. */
  unsigned rx_queue_msgs;
  size_t rx_queue_bytes;
} weft__mux_opts;

int weft__mux_new(weft__mux **out, const weft__mux_opts *o,
                  const weft__mux_io *io);
/* Fails every call in flight with UNAVAILABLE (connection lost) and frees.
 * Blocks until worker threads have let go of the server-side calls. */
void weft__mux_free(weft__mux *m);

/* One received message (an encoded Envelope). Loop thread. Returns < 0 on a
 * protocol error: the mux has then called io->close with the reason and
 * failed every call; the owner closes the connection. */
int weft__mux_on_message(weft__mux *m, const uint8_t *data, size_t len,
                         bool text);
/* The connection is gone: fail calls in flight (UNAVAILABLE; with why->code
 * WEFT_ERR_AUTH, UNAUTHENTICATED with why->message, and so do calls started
 * later), cancel server-side calls. Idempotent. */
void weft__mux_on_closed(weft__mux *m, const weft_error *why);

/* Switches the codec before the first message (tcp servers learn it from
 * the first frame: JSON envelopes start with '{'). */
void weft__mux_set_codec(weft__mux *m, weft_codec_kind codec);
/* The codec in use. */
weft_codec_kind weft__mux_codec(const weft__mux *m);

/* True while some stream's receive queue is full (see rx_resume). */
bool weft__mux_rx_paused(const weft__mux *m);

/* Graceful close: send GOAWAY, refuse new streams. */
void weft__mux_goaway(weft__mux *m);
/* GOAWAY with a status saying why (e.g. RESOURCE_EXHAUSTED before closing
 * on an oversize frame); the peer's calls then fail with that message. */
void weft__mux_goaway_status(weft__mux *m, int code, const char *msg);
/* Multiplexers alive in this process (made, not yet destroyed). For tests
 * that check a dead connection is freed once its handlers are done. */
size_t weft__mux_live(void);
/* Number of streams in flight (server: handlers running). */
size_t weft__mux_active(const weft__mux *m);
/* Server: calls dispatched on this connection so far (connection events). */
uint64_t weft__mux_calls(const weft__mux *m);
/* Keepalive: send a PING; the owner's timer calls this. */
int weft__mux_ping(weft__mux *m);
/* ns timestamp of the last frame received (for idle timeouts). */
int64_t weft__mux_last_rx(const weft__mux *m);

/* Client half: same semantics as weft_client_transport's call functions. */
int weft__mux_call_start(weft__mux *m, const weft_method_desc *md,
                         const weft_metadata *meta, int64_t deadline_ns,
                         void **tcall, weft_error *err);
int weft__mux_call_send(void *tcall, const void *msg);
int weft__mux_call_close_send(void *tcall);
int weft__mux_call_recv(void *tcall, weft_arena *arena, void **msg);
int weft__mux_call_finish(void *tcall, weft_status *st, weft_metadata *md);
void weft__mux_call_cancel(void *tcall);
/* An asynchronous client call (weft_client_transport.call_start_async):
 * the same as call_start, but the stream's headers, messages (decoded into
 * arena, or malloc'd if NULL) and end are handed to ev instead of waiting
 * in recv. Events of one call never run concurrently; they run on the loop
 * thread as frames arrive, or on the thread whose cancel or failed send
 * ended the call. ev and ud must live until on_end, after which the owner
 * calls weft__mux_call_finish (it does not wait then). */
int weft__mux_call_start_async(weft__mux *m, const weft_method_desc *md,
                               const weft_metadata *meta, int64_t deadline_ns,
                               weft_arena *arena, const weft_call_events *ev,
                               void *ud, void **tcall, weft_error *err);

#ifdef __cplusplus
}
#endif
#endif
