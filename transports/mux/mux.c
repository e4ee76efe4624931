/* The envelope multiplexer; see mux.h for the contract.
 *
 * The protocol itself (stream ids, which side sends which kind, the size
 * limit, PING/GOAWAY, the encoding of every frame) is the I/O-free engine
 * in mux_engine.c; this file is the runtime glue on its events: receive
 * queues, blocking waits, server dispatch, asynchronous client events.
 *
 * Threads: the owner's loop thread feeds frames (weft__mux_on_message);
 * user threads (client calls) and worker threads (server handlers) send and
 * block in recv/finish. One mutex per connection guards the engine and
 * every stream's state; each stream has its own condition variable
 * (CLOCK_MONOTONIC, so deadlines are immune to wall-clock jumps). Every
 * engine call is made under the mutex and followed, in the same critical
 * section, by taking the engine's output, so the output a thread takes is
 * exactly the frames its own call produced; it hands them to io->send after
 * unlocking. The mutex is never held across io->send, which may block when
 * the connection's write queue is full (the loop thread must stay free to
 * drain it). A protobuf payload is encoded by the engine straight into its
 * frame, so under the mutex; JSON payloads are encoded before taking it.
 *
 * Flow control: each stream's receive queue is bounded (rx_queue_msgs /
 * rx_queue_bytes, default 64 messages / 4 MiB). When a queue is full the
 * mux reports weft__mux_rx_paused() and the owner stops reading the socket,
 * so a slow reader makes TCP push back on the peer instead of growing memory.
 * The price is head-of-line blocking: every stream of that connection waits
 * for the slow one. We chose it over per-stream windows (HTTP/2 style) to
 * keep the envelope protocol simple; callers that mix a slow consumer with
 * latency-sensitive calls should use two connections. Reading resumes when
 * the queue has drained to half.
 *
 * Payloads are copied off the wire as bytes and decoded by the thread that
 * takes them (recv), into the arena it passes: the loop thread never runs
 * the message decoder.
 *
 * Unary and server-streaming calls send OPEN together with their single
 * request and no HALF_CLOSE (the server knows the method's shape), so a
 * unary call is two frames: OPEN+payload, then MESSAGE + STATUS back. */
#define _GNU_SOURCE
#include "mux.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "envelope.h"
#include "mux_engine.h"
#include "mux_internal.h"
#include "rxq.h"
#include "weft/codec.h"

#define DEFAULT_MAX_MSG (4u * 1024u * 1024u)
#define DEFAULT_Q_MSGS 64u
#define DEFAULT_Q_BYTES (4u * 1024u * 1024u)

typedef weft__rxq_msg rxmsg;

typedef struct stream {
  weft__mux *m;
  uint64_t id;
  const weft_method_desc *md;
  bool server;
  char *path;          /* server: the method, until dispatch */
  rxmsg *open_payload; /* server: OPEN's payload, until the method is known */
  struct stream *open_next;   /* server: opened by this feed, to dispatch */
  struct stream *prev, *next; /* m->all, until finish */
  bool linked;
  pthread_cond_t cv;
  unsigned wakes; /* wake_stream calls, so a driver sees one it missed */
  /* Received payloads (runtime/src/rpc/internal/rxq.h). A server stream's
   * queue also ends (HALF_CLOSE) and is cancelled with the stream; its
   * handler blocks in it or arms it (want_read). A client stream's is
   * only a queue, used under mu only (so without a lock of its own): its
   * waits are stream_wait's. */
  weft__rxq rxq;
  bool paused;      /* counted in m->npaused */
  bool rx_done;     /* peer sends no more (HALF_CLOSE, STATUS) */
  bool open_sent;   /* client: OPEN went out (or is going) */
  bool send_closed; /* client: no more sends */
  bool cancelled;   /* cancelled locally or by the peer */
  bool failed;      /* client: local failure, status in st */
  bool have_status; /* client: STATUS received */
  bool status_sent; /* server: a STATUS already went out */
  int fail_code;    /* WEFT_ERR_* for recv when failed/cancelled */
  int64_t deadline_ns;
  weft_status st;        /* client: the final status */
  weft_metadata meta;    /* client: headers + trailers received;
                            server: request metadata until dispatch */
  weft_metadata open_md; /* client: request metadata until OPEN goes out */
  char *recv_err;        /* server: why the last recv failed (malloc'd) */
  bool got_msg;          /* client: a MESSAGE arrived */
  uint8_t *reply;        /* server, single-response methods: the encoded
                            response, sent inside the STATUS frame */
  size_t reply_len;
  bool has_reply;
  weft_server_call *rt; /* server: the runtime's call, told of cancels */
  /* Client, asynchronous (weft__mux_call_start_async): events instead of
   * recv. One thread at a time delivers them (as_busy, claimed under mu);
   * after on_end the runtime may free the stream at any moment. */
  const weft_call_events *as;
  void *as_ud;
  weft_arena *as_arena;
  bool as_busy, as_ended, as_headers;
  struct stream *as_next; /* on_closed's list of streams to deliver */
  /* Set by rxq's on_low, taken by the popping thread, outside mu. Apart
   * from the flags above: the compiler reads those with one wide load. */
  atomic_bool rx_low;
} stream;

struct weft__mux {
  weft__mux_opts o;
  weft__mux_io io;
  char peer[64];
  pthread_mutex_t mu;
  pthread_cond_t idle_cv; /* server_live or io_busy reached 0 */
  pthread_condattr_t cattr;
  weft__mxe *eng; /* the protocol; only touched with mu held */
  size_t nclient; /* client streams started and not finished */
  /* Filled by the engine's callbacks during one feed (mu held), acted on
   * once mu is free: calls to dispatch, a stream whose events to deliver. */
  stream *opened;
  stream *deliver;
  stream *all; /* every stream not finished yet (for on_closed) */
  bool closed;
  weft_error close_err;
  char goaway_msg[208]; /* status message of the peer's GOAWAY */
  bool freeing;
  bool idle_told; /* io.on_idle was called */
  unsigned npaused;
  size_t server_live;
  uint64_t calls;      /* server: calls dispatched so far */
  unsigned io_busy;    /* threads inside io callbacks */
  unsigned driving;    /* client callers inside weft_loop_drive */
  unsigned cv_waiters; /* client callers waiting on a stream's cv */
  int refs;            /* owner + live client streams */
  atomic_int_fast64_t last_rx;
  unsigned q_msgs;
  size_t q_bytes, max_msg;
};

/* ---- small helpers ---------------------------------------------------- */

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Waits on cv until signalled or deadline (INT64_MAX: none). Returns
 * ETIMEDOUT once the deadline has passed. */
static int wait_until(pthread_cond_t *cv, pthread_mutex_t *mu,
                      int64_t deadline) {
  if (deadline == INT64_MAX)
    return pthread_cond_wait(cv, mu);
  if (now_ns() >= deadline)
    return ETIMEDOUT;
  struct timespec ts = {.tv_sec = deadline / 1000000000,
                        .tv_nsec = deadline % 1000000000};
  return pthread_cond_timedwait(cv, mu, &ts);
}

/* A server stream's client went away (mu held): the runtime hears it now
 * (on_cancel of a detached call) instead of at its next poll. */
static void push_cancel(stream *s) {
  if (s->server && s->rt)
    weft_server_notify_cancel(s->rt);
}

static bool as_claim(stream *s);
static const weft__mxe_callbacks engine_cb;
static void as_deliver(weft__mux *m, stream *s);

/* Wakes whoever waits for s (mu held): a thread on its cv, or a caller
 * driving the loop, who is in epoll_wait unless this is its own round. */
static void wake_stream(weft__mux *m, stream *s) {
  s->wakes++;
  pthread_cond_broadcast(&s->cv);
  if (m->driving && !weft_loop_in_thread(m->io.drive_loop))
    weft_loop_wake(m->io.drive_loop);
}

/* Client callers wait here for their stream to change (mu held, dropped
 * while waiting). On a drivable connection the caller runs a round of the
 * loop itself (*driving: it must weft_loop_undrive when done); otherwise,
 * or when another caller drives, it waits on the stream's cv. Returns
 * ETIMEDOUT once the deadline has passed. */
static int stream_wait(weft__mux *m, stream *s, bool *driving) {
  weft_loop *lp = m->io.drive_loop;
  if (lp) {
    unsigned wakes = s->wakes;
    m->driving++;
    pthread_mutex_unlock(&m->mu);
    int r = weft_loop_drive(lp, s->deadline_ns);
    pthread_mutex_lock(&m->mu);
    m->driving--;
    if (r == 1)
      *driving = true;
    /* Woken while mu was free (the holder delivered): look again first. */
    if (r == 1 || s->wakes != wakes)
      return s->deadline_ns != INT64_MAX && now_ns() >= s->deadline_ns
                 ? ETIMEDOUT
                 : 0;
  }
  m->cv_waiters++;
  int rc = wait_until(&s->cv, &m->mu, s->deadline_ns);
  m->cv_waiters--;
  return rc;
}

/* Gives the loop back after stream_wait drove it (mu not held). */
static void stream_wait_done(weft__mux *m, bool driving, bool others) {
  if (driving)
    weft_loop_undrive(m->io.drive_loop, others);
}

static void link_stream(weft__mux *m, stream *s) {
  s->prev = NULL;
  s->next = m->all;
  if (m->all)
    m->all->prev = s;
  m->all = s;
  s->linked = true;
}

static void unlink_stream(weft__mux *m, stream *s) {
  if (!s->linked)
    return;
  if (s->prev)
    s->prev->next = s->next;
  else
    m->all = s->next;
  if (s->next)
    s->next->prev = s->prev;
  s->linked = false;
}

/* Drops queued messages; returns true if this un-paused the connection. */
static bool drop_queue(weft__mux *m, stream *s) {
  (void)weft__rxq_clear(&s->rxq);
  if (s->paused) {
    s->paused = false;
    return --m->npaused == 0;
  }
  return false;
}

static void stream_free(stream *s) {
  free(s->recv_err);
  free(s->path);
  free(s->open_payload);
  free(s->reply);
  pthread_cond_destroy(&s->cv);
  weft__rxq_destroy(&s->rxq);
  weft_status_clear(&s->st);
  weft_metadata_clear(&s->meta);
  weft_metadata_clear(&s->open_md);
  free(s);
}

static void rx_low(void *ud) {
  atomic_store(&((stream *)ud)->rx_low, true);
}

static stream *stream_new(weft__mux *m, uint64_t id, bool server) {
  stream *s = calloc(1, sizeof *s);
  if (!s)
    return NULL;
  /* A client stream's queue is only touched under mu (recv, as_deliver,
   * the feed): it needs no lock of its own. */
  weft__rxq_cfg rq = {.high_msgs = m->q_msgs,
                      .high_bytes = m->q_bytes,
                      .on_low = rx_low,
                      .ud = s,
                      .caller_locks = !server};
  if (weft__rxq_init(&s->rxq, &rq) < 0) {
    free(s);
    return NULL;
  }
  if (pthread_cond_init(&s->cv, &m->cattr) != 0) {
    weft__rxq_destroy(&s->rxq);
    free(s);
    return NULL;
  }
  s->m = m;
  s->id = id;
  s->server = server;
  s->deadline_ns = INT64_MAX;
  return s;
}

/* weft__mux_live: made minus destroyed. */
static atomic_size_t g_live;

size_t weft__mux_live(void) {
  return atomic_load(&g_live);
}

static void mux_destroy(weft__mux *m) {
  atomic_fetch_sub(&g_live, 1);
  weft__mxe_free(m->eng);
  pthread_cond_destroy(&m->idle_cv);
  pthread_condattr_destroy(&m->cattr);
  pthread_mutex_destroy(&m->mu);
  free(m);
}

/* Drops a reference (mu held); returns true if the caller must destroy. */
static bool mux_unref_locked(weft__mux *m) {
  return --m->refs == 0;
}

/* ---- sending ---------------------------------------------------------- */

/* Enters an io callback: false if the connection is gone (mu not held). */
static bool io_enter(weft__mux *m) {
  pthread_mutex_lock(&m->mu);
  bool ok = !m->closed;
  if (ok)
    m->io_busy++;
  pthread_mutex_unlock(&m->mu);
  return ok;
}

static void io_leave(weft__mux *m) {
  pthread_mutex_lock(&m->mu);
  if (--m->io_busy == 0 && m->freeing)
    pthread_cond_broadcast(&m->idle_cv);
  pthread_mutex_unlock(&m->mu);
}

/* mu held: a server stream is gone (its handler finished, or it was never
 * dispatched). True if the owner is now to hear that its closed
 * connection has no handler left (io.on_idle); io is then entered for the
 * call (io_busy, so weft__mux_free waits for it), and the caller calls
 * tell_idle once mu is free. */
static bool server_gone_locked(weft__mux *m) {
  if (--m->server_live == 0 && m->freeing)
    pthread_cond_broadcast(&m->idle_cv);
  if (m->server_live || !m->closed || m->idle_told || !m->io.on_idle)
    return false;
  m->idle_told = true;
  m->io_busy++;
  return true;
}

static void tell_idle(weft__mux *m) {
  m->io.on_idle(m->io.io_ud);
  io_leave(m);
}

static bool is_text(const weft__mux *m) {
  return m->o.codec == WEFT_CODEC_JSON;
}

/* mu held: the frames of the engine call just made, with io entered for
 * them (io_busy) when there are any and the connection is open; *entered
 * says so. io_enter folded into the engine call's critical section: a
 * streamed message then costs one lock pair less. */
static weft__mxe_chunk *take_enter(weft__mux *m, bool *entered) {
  weft__mxe_chunk *c = weft__mxe_take_output(m->eng);
  *entered = c && !m->closed;
  if (*entered)
    m->io_busy++;
  return c;
}

/* Hands the frames taken by take_enter to io, in order (mu not held).
 * Returns the first error; the frames after it are dropped with the
 * connection. */
static int flush_entered(weft__mux *m, weft__mxe_chunk *c, bool entered) {
  if (!c)
    return 0;
  if (!entered) {
    for (weft__mxe_chunk *n; c; c = n) {
      n = c->next;
      free(c);
    }
    return WEFT_ERR_CLOSED;
  }
  int rc = 0;
  for (weft__mxe_chunk *n = c; n && rc == 0; n = n->next)
    rc = m->io.send(m->io.io_ud, n->data, n->len, n->text);
  /* io_leave's critical section, which also hands the chunks back to the
   * engine (alive: io_busy holds off weft__mux_free). */
  pthread_mutex_lock(&m->mu);
  weft__mxe_recycle(m->eng, c);
  if (--m->io_busy == 0 && m->freeing)
    pthread_cond_broadcast(&m->idle_cv);
  pthread_mutex_unlock(&m->mu);
  return rc;
}

/* flush_entered for frames taken without entering io (mu not held; the
 * caller took them in the critical section of that call). */
static int flush(weft__mux *m, weft__mxe_chunk *c) {
  return c ? flush_entered(m, c, io_enter(m)) : 0;
}

/* mu held: the frames of the engine call just made. */
static weft__mxe_chunk *take(weft__mux *m) {
  return weft__mxe_take_output(m->eng);
}

static ssize_t write_proto(void *ud, uint8_t *dst, size_t len) {
  return weft_encode(ud, dst, len);
}

/* A message ready for the engine: JSON text encoded now, protobuf binary
 * encoded by the engine straight into its frame. */
typedef struct payload {
  weft__mxe_msg m;
  char *json;
} payload;

static int payload_make(weft__mux *m, const void *msg, payload *p) {
  memset(p, 0, sizeof *p);
  if (is_text(m)) {
    size_t jl = 0;
    int rc = weft__payload_json_encode(msg, &p->json, &jl);
    if (rc < 0)
      return rc;
    if (jl > m->max_msg) {
      free(p->json);
      p->json = NULL;
      return WEFT_ERR_TOO_BIG;
    }
    p->m.data = (const uint8_t *)p->json;
    p->m.len = jl;
    return 0;
  }
  size_t n = weft_encoded_size(msg);
  if (n > m->max_msg)
    return WEFT_ERR_TOO_BIG;
  p->m.len = n;
  p->m.write = write_proto;
  p->m.wud = (void *)msg;
  return 0;
}

static void payload_done(payload *p) {
  free(p->json);
}

static int decode_payload(weft__mux *m, const weft_msg_desc *d, const rxmsg *q,
                          weft_arena *arena, void **out, weft_error *err) {
  if (is_text(m))
    return weft__payload_json_decode(d, q->data, q->len, arena, out, err);
  weft_decode_opts opts = {.arena = arena, .max_message_size = m->max_msg};
  return weft_decode(d, q->data, q->len, &opts, out, err);
}

/* CANCEL (mu not held); nothing goes out for a stream the engine no longer
 * has or never opened. */
static int send_cancel(weft__mux *m, uint64_t id, int code, const char *msg) {
  pthread_mutex_lock(&m->mu);
  int rc = weft__mxe_submit_cancel(m->eng, id, code, msg);
  weft__mxe_chunk *out = take(m);
  pthread_mutex_unlock(&m->mu);
  int frc = flush(m, out);
  return rc < 0 ? rc : frc;
}

/* Unary and client-streaming methods answer with exactly one message. */
static bool single_response(const weft_method_desc *md) {
  return md &&
         (md->kind == WEFT_RPC_UNARY || md->kind == WEFT_RPC_CLIENT_STREAM);
}

/* ---- lifecycle -------------------------------------------------------- */

int weft__mux_new(weft__mux **out, const weft__mux_opts *o,
                  const weft__mux_io *io) {
  weft__mux *m;
  *out = NULL;
  if (!o || !io || !io->send || (o->server && !o->srv))
    return WEFT_ERR_INVAL;
#ifndef WEFT_HAVE_JSON
  if (o->codec == WEFT_CODEC_JSON)
    return WEFT_ERR_UNSUPPORTED;
#endif
  m = calloc(1, sizeof *m);
  if (!m)
    return WEFT_ERR_NOMEM;
  m->o = *o;
  m->io = *io;
  snprintf(m->peer, sizeof m->peer, "%s", o->peer ? o->peer : "");
  m->o.peer = m->peer;
  m->max_msg = o->max_message_size ? o->max_message_size : DEFAULT_MAX_MSG;
  m->q_msgs = o->rx_queue_msgs ? o->rx_queue_msgs : DEFAULT_Q_MSGS;
  m->q_bytes = o->rx_queue_bytes ? o->rx_queue_bytes : DEFAULT_Q_BYTES;
  m->refs = 1;
  weft__mxe_opts eo = {.server = o->server,
                       .text = o->codec == WEFT_CODEC_JSON,
                       .max_message_size = m->max_msg,
                       .cb = &engine_cb,
                       .ud = m};
  int rc = weft__mxe_new(&m->eng, &eo);
  atomic_store(&m->last_rx, now_ns());
  pthread_condattr_init(&m->cattr);
  pthread_condattr_setclock(&m->cattr, CLOCK_MONOTONIC);
  if (rc < 0 || pthread_mutex_init(&m->mu, NULL) != 0) {
    weft__mxe_free(m->eng);
    pthread_condattr_destroy(&m->cattr);
    free(m);
    return rc < 0 ? rc : WEFT_ERR_NOMEM;
  }
  pthread_cond_init(&m->idle_cv, &m->cattr);
  atomic_fetch_add(&g_live, 1);
  *out = m;
  return 0;
}

void weft__mux_on_closed(weft__mux *m, const weft_error *why) {
  stream *todo = NULL;
  pthread_mutex_lock(&m->mu);
  if (m->closed) {
    pthread_mutex_unlock(&m->mu);
    return;
  }
  m->closed = true;
  if (why)
    m->close_err = *why;
  else
    weft_error_set(&m->close_err, WEFT_ERR_CLOSED, "connection closed");
  {
    for (stream *s = m->all; s; s = s->next) {
      if (s->server) {
        s->cancelled = true; /* the handler sees cancelled() */
        s->fail_code = WEFT_ERR_CLOSED;
        weft__rxq_cancel(&s->rxq, WEFT_ERR_CLOSED);
        push_cancel(s);
      } else if (!s->have_status && !s->failed && !s->cancelled &&
                 m->close_err.code == WEFT_ERR_AUTH) {
        /* The peer refused our credentials (its reason is the message). */
        s->failed = true;
        s->fail_code = WEFT_ERR_AUTH;
        weft_status_set(&s->st, WEFT_STATUS_UNAUTHENTICATED, "%s",
                        m->close_err.message);
      } else if (!s->have_status && !s->failed && !s->cancelled) {
        s->failed = true;
        s->fail_code = WEFT_ERR_CLOSED;
        weft_status_set(
            &s->st, WEFT_STATUS_UNAVAILABLE, "connection to %s lost: %s%s%s",
            m->peer[0] ? m->peer : "server", m->close_err.message,
            m->goaway_msg[0] ? "; the server said: " : "", m->goaway_msg);
      }
      /* A client stream that already has its final status keeps what it
       * received: the caller may still be reading the tail of it. */
      if (s->server || !s->have_status)
        drop_queue(m, s);
      wake_stream(m, s);
      if (as_claim(s)) {
        s->as_next = todo;
        todo = s;
      }
    }
  }
  m->npaused = 0;
  pthread_mutex_unlock(&m->mu);
  while (todo) {
    stream *s = todo;
    todo = s->as_next;
    as_deliver(m, s);
  }
}

void weft__mux_free(weft__mux *m) {
  if (!m)
    return;
  weft_error e;
  weft_error_set(&e, WEFT_ERR_CLOSED, "connection closed locally");
  weft__mux_on_closed(m, &e);
  pthread_mutex_lock(&m->mu);
  m->freeing = true;
  /* Handlers still running hold server streams; io callbacks in progress
   * hold the owner's io_ud. Both must be done before the owner goes. */
  while (m->server_live > 0 || m->io_busy > 0)
    pthread_cond_wait(&m->idle_cv, &m->mu);
  bool destroy = mux_unref_locked(m);
  pthread_mutex_unlock(&m->mu);
  if (destroy)
    mux_destroy(m);
}

size_t weft__mux_active(const weft__mux *m) {
  weft__mux *mm = (weft__mux *)m;
  pthread_mutex_lock(&mm->mu);
  size_t n = m->o.server ? m->server_live : m->nclient;
  pthread_mutex_unlock(&mm->mu);
  return n;
}

uint64_t weft__mux_calls(const weft__mux *m) {
  weft__mux *mm = (weft__mux *)m;
  pthread_mutex_lock(&mm->mu);
  uint64_t n = m->calls;
  pthread_mutex_unlock(&mm->mu);
  return n;
}

void weft__mux_set_codec(weft__mux *m, weft_codec_kind codec) {
  pthread_mutex_lock(&m->mu);
  m->o.codec = codec;
  weft__mxe_set_text(m->eng, codec == WEFT_CODEC_JSON);
  pthread_mutex_unlock(&m->mu);
}

weft_codec_kind weft__mux_codec(const weft__mux *m) {
  return m->o.codec;
}

bool weft__mux_rx_paused(const weft__mux *m) {
  weft__mux *mm = (weft__mux *)m;
  pthread_mutex_lock(&mm->mu);
  bool p = m->npaused > 0;
  pthread_mutex_unlock(&mm->mu);
  return p;
}

int64_t weft__mux_last_rx(const weft__mux *m) {
  return atomic_load(&((weft__mux *)m)->last_rx);
}

int weft__mux_ping(weft__mux *m) {
  uint8_t ts[8];
  int64_t t = now_ns();
  for (int i = 0; i < 8; i++)
    ts[i] = (uint8_t)(t >> (56 - 8 * i));
  pthread_mutex_lock(&m->mu);
  int rc = weft__mxe_submit_ping(m->eng, ts, sizeof ts);
  weft__mxe_chunk *out = take(m);
  pthread_mutex_unlock(&m->mu);
  int frc = flush(m, out);
  return rc < 0 ? rc : frc;
}

void weft__mux_goaway_status(weft__mux *m, int code, const char *msg) {
  pthread_mutex_lock(&m->mu);
  weft__mxe_chunk *out = NULL;
  if (!m->closed && (!weft__mxe_goaway_sent(m->eng) || code != 0)) {
    (void)weft__mxe_submit_goaway(m->eng, code, msg);
    out = take(m);
  }
  pthread_mutex_unlock(&m->mu);
  flush(m, out);
}

void weft__mux_goaway(weft__mux *m) {
  weft__mux_goaway_status(m, 0, NULL);
}

/* ---- receiving -------------------------------------------------------- */

static void resume_reading(weft__mux *m) {
  if (m->io.rx_resume && io_enter(m)) {
    m->io.rx_resume(m->io.io_ud);
    io_leave(m);
  }
}

/* Queues a payload for the stream's reader (mu held). A queue above its
 * high-water mark pauses the connection's reading. */
static int enqueue(weft__mux *m, stream *s, weft__rxq_msg *q) {
  if (!q)
    return WEFT_ERR_NOMEM;
  if (weft__rxq_push(&s->rxq, q) == 1 && !s->paused && m->io.rx_resume) {
    s->paused = true;
    m->npaused++;
  }
  wake_stream(m, s);
  return 0;
}

static bool has_msg(stream *s) {
  return weft__rxq_len(&s->rxq) > 0;
}

/* After a pop (mu held): a queue that drained to its low-water mark
 * un-pauses; *resume says the caller must call resume_reading() after
 * unlocking. */
static void after_pop(weft__mux *m, stream *s, bool *resume) {
  if (!atomic_exchange(&s->rx_low, false))
    return;
  if (s->paused) {
    s->paused = false;
    if (--m->npaused == 0)
      *resume = true;
  }
}

/* Takes the next queued message (mu held; the caller saw one). */
static rxmsg *dequeue(weft__mux *m, stream *s, bool *resume) {
  rxmsg *q = NULL;
  (void)weft__rxq_pop(&s->rxq, false, INT64_MAX, &q);
  after_pop(m, s, resume);
  return q;
}

/* The next queued message, or NULL (mu held). */
static rxmsg *try_dequeue(weft__mux *m, stream *s, bool *resume) {
  rxmsg *q = NULL;
  if (weft__rxq_pop(&s->rxq, false, INT64_MAX, &q) == 1)
    after_pop(m, s, resume);
  return q;
}

static void metadata_from_env(const weft__env *e, weft_metadata *out) {
  size_t pos = 0;
  weft__env_md kv;
  while (weft__env_md_next(e, &pos, &kv) == 1) {
    char kb[256];
    char *k = kv.key.n < sizeof kb ? kb : malloc(kv.key.n + 1);
    if (!k)
      return;
    memcpy(k, kv.key.p, kv.key.n);
    k[kv.key.n] = 0;
    weft_metadata_add(out, k, kv.value.p, kv.value.n);
    if (k != kb)
      free(k);
  }
}

static const weft_server_call_ops server_ops;

/* ---- engine events (loop thread, mu held) ----------------------------- */

/* Remembers that s has asynchronous events to deliver once mu is free. A
 * feed touches one stream, so one slot is enough. */
static void note_deliver(weft__mux *m, stream *s) {
  if (as_claim(s))
    m->deliver = s;
}

static rxmsg *rxmsg_copy(const weft__bytes *p) {
  return weft__rxq_msg_new(p->p, p->n, 0);
}

/* Server: a new call. What the envelope says is copied now (its views die
 * with the feed); the method is looked up and the call dispatched after
 * the feed, with mu free (see dispatch_opened). */
static int ev_open(void *ud, uint64_t id, const weft__env *e) {
  weft__mux *m = ud;
  stream *s = stream_new(m, id, true);
  if (!s)
    return WEFT_ERR_NOMEM;
  s->path = malloc(e->method.n + 1);
  /* An absent payload is the empty message (proto3 drops empty bytes). */
  s->open_payload = rxmsg_copy(&e->payload);
  if (!s->path || !s->open_payload) {
    stream_free(s);
    return WEFT_ERR_NOMEM;
  }
  memcpy(s->path, e->method.p, e->method.n);
  s->path[e->method.n] = 0;
  if (e->timeout_ms > 0)
    s->deadline_ns = now_ns() + e->timeout_ms * 1000000;
  metadata_from_env(e, &s->meta);
  (void)weft__mxe_set_user(m->eng, id, s);
  link_stream(m, s);
  m->server_live++;
  m->calls++;
  s->open_next = m->opened;
  m->opened = s;
  return 0;
}

static int ev_headers(void *ud, uint64_t id, void *su, const weft__env *e) {
  weft__mux *m = ud;
  stream *s = su;
  (void)id;
  if (!s || s->have_status || s->failed || s->cancelled)
    return 0;
  metadata_from_env(e, &s->meta);
  note_deliver(m, s);
  return 0;
}

static int ev_message(void *ud, uint64_t id, void *su, const weft__bytes *p) {
  weft__mux *m = ud;
  stream *s = su;
  (void)id;
  if (!s || s->rx_done || s->cancelled || s->failed || s->have_status)
    return 0; /* nobody will read it (e.g. a second request of a unary call) */
  s->got_msg = true;
  int rc = enqueue(m, s, rxmsg_copy(p));
  note_deliver(m, s);
  return rc;
}

static int ev_half_close(void *ud, uint64_t id, void *su) {
  weft__mux *m = ud;
  stream *s = su;
  (void)id;
  if (!s)
    return 0;
  s->rx_done = true;
  if (s->server)
    weft__rxq_end(&s->rxq, 0, NULL);
  wake_stream(m, s);
  return 0;
}

static int ev_status(void *ud, uint64_t id, void *su, const weft__env *e) {
  weft__mux *m = ud;
  stream *s = su;
  int rc = 0;
  (void)id;
  if (!s || s->have_status || s->failed || s->cancelled)
    return 0;
  metadata_from_env(e, &s->meta);
  if (e->status_code == WEFT_STATUS_OK && single_response(s->md) &&
      !s->got_msg) {
    /* The single response rides in the STATUS frame (an absent payload is
     * the empty message). */
    s->got_msg = true;
    if ((rc = enqueue(m, s, rxmsg_copy(&e->payload))) < 0)
      return rc;
  }
  char msg[1024];
  size_t ml = e->status_message.n < sizeof msg - 1 ? e->status_message.n
                                                   : sizeof msg - 1;
  memcpy(msg, e->status_message.p, ml);
  msg[ml] = 0;
  weft_status_set(&s->st, e->status_code, "%s", msg);
  if (e->status_details.n) {
    s->st.details = malloc(e->status_details.n);
    if (s->st.details) {
      memcpy(s->st.details, e->status_details.p, e->status_details.n);
      s->st.details_len = e->status_details.n;
    }
  }
  s->have_status = true;
  s->rx_done = true;
  wake_stream(m, s);
  note_deliver(m, s);
  return 0;
}

/* The peer's CANCEL, or the engine's reset (a message over the limit: it
 * has told the peer already). */
static int ev_reset(void *ud, uint64_t id, void *su, int code,
                    const weft__bytes *msg, bool remote) {
  weft__mux *m = ud;
  stream *s = su;
  (void)id;
  if (!s || s->cancelled || s->have_status)
    return 0;
  int fail = !remote     ? WEFT_ERR_TOO_BIG
             : s->server ? WEFT_ERR_CANCELLED
                         : WEFT_ERR_RPC;
  if (!remote && code == WEFT_STATUS_DEADLINE_EXCEEDED)
    fail = WEFT_ERR_TIMEOUT;
  s->cancelled = true;
  s->fail_code = fail;
  if (s->server) {
    s->status_sent = true; /* the stream is over on the wire: no STATUS */
    weft__rxq_cancel(&s->rxq, fail);
    push_cancel(s);
  } else if (!s->failed) {
    s->failed = true;
    weft_status_set(&s->st, code, "%.*s", (int)(msg->n > 900 ? 900 : msg->n),
                    (const char *)msg->p);
  }
  wake_stream(m, s);
  note_deliver(m, s);
  return 0;
}

static void ev_goaway(void *ud, int code, const weft__bytes *msg) {
  weft__mux *m = ud;
  (void)code;
  if (msg->n) /* why the peer is going away */
    snprintf(m->goaway_msg, sizeof m->goaway_msg, "%.*s",
             (int)(msg->n < 200 ? msg->n : 200), (const char *)msg->p);
}

/* PING is answered by the engine; a PONG only refreshes last_rx. */
static const weft__mxe_callbacks engine_cb = {
    .on_open = ev_open,
    .on_headers = ev_headers,
    .on_message = ev_message,
    .on_half_close = ev_half_close,
    .on_status = ev_status,
    .on_reset = ev_reset,
    .on_goaway = ev_goaway,
};

/* ---- after a feed (loop thread, mu free) ------------------------------ */

/* Hands a call opened by the last feed to the runtime. */
static void dispatch_opened(weft__mux *m, stream *s) {
  const weft_method_desc *md = weft_server_find_method(m->o.srv, s->path);
  bool resume = false;
  pthread_mutex_lock(&m->mu);
  s->md = md;
  rxmsg *q = s->open_payload;
  s->open_payload = NULL;
  if (md &&
      (md->kind == WEFT_RPC_UNARY || md->kind == WEFT_RPC_SERVER_STREAM)) {
    /* Their single request rides on OPEN. */
    if (!s->cancelled)
      enqueue(m, s, q);
    else
      free(q);
    q = NULL;
    s->rx_done = true;
    weft__rxq_end(&s->rxq, 0, NULL);
  }
  pthread_mutex_unlock(&m->mu);
  free(q);

  weft_metadata meta = s->meta; /* dispatch copies it */
  memset(&s->meta, 0, sizeof s->meta);
  /* Out of memory here leaves the call without the key: the server then
   * answers UNAUTHENTICATED, which is at least not a wrong success. */
  if (m->o.conn_api_key && !weft_metadata_get(&meta, "x-api-key") &&
      !weft_metadata_get(&meta, "authorization"))
    (void)weft_metadata_add_str(&meta, "x-api-key", m->o.conn_api_key);
  int rc = weft_server_dispatch(m->o.srv, s->path, &meta, s->deadline_ns,
                                m->peer, &server_ops, s);
  weft_metadata_clear(&meta);
  if (rc >= 0)
    return;
  /* Not taken: the runtime never calls finish. */
  pthread_mutex_lock(&m->mu);
  bool sent = s->status_sent;
  if (!sent)
    (void)weft__mxe_submit_status(m->eng, s->id, WEFT_STATUS_UNAVAILABLE,
                                  "server could not accept the call", NULL, 0,
                                  NULL, NULL);
  weft__mxe_forget(m->eng, s->id);
  weft__mxe_chunk *out = take(m);
  unlink_stream(m, s);
  resume = drop_queue(m, s);
  bool idle = server_gone_locked(m);
  pthread_mutex_unlock(&m->mu);
  stream_free(s);
  flush(m, out);
  if (resume)
    resume_reading(m);
  if (idle)
    tell_idle(m);
}

int weft__mux_on_message(weft__mux *m, const uint8_t *data, size_t len,
                         bool text) {
  weft_error err = {0};
  int64_t now = now_ns(); /* one clock read per frame */
  atomic_store(&m->last_rx, now);
  pthread_mutex_lock(&m->mu);
  m->opened = NULL;
  m->deliver = NULL;
  int rc = weft__mxe_feed(m->eng, data, len, text, now, &err);
  weft__mxe_chunk *out = take(m);
  stream *opened = m->opened, *deliver = m->deliver;
  m->opened = m->deliver = NULL;
  pthread_mutex_unlock(&m->mu);
  flush(m, out); /* PONG, or a STATUS refusing a stream */
  if (deliver)
    as_deliver(m, deliver);
  /* Oldest first is not needed: one feed opens at most one stream. */
  while (opened) {
    stream *s = opened;
    opened = s->open_next;
    dispatch_opened(m, s);
  }
  if (rc >= 0)
    return 0;
  if (m->io.close && io_enter(m)) {
    m->io.close(m->io.io_ud, &err);
    io_leave(m);
  }
  weft__mux_on_closed(m, &err);
  return rc;
}

/* ---- asynchronous client calls ---------------------------------------- */

/* mu held: takes the right to deliver s's events, if it has an async
 * owner, nobody delivers them now and the end was not delivered yet. */
static bool as_claim(stream *s) {
  if (!s->as || s->as_busy || s->as_ended)
    return false;
  s->as_busy = true;
  return true;
}

/* Delivers what s has (headers, messages in order, then the end), with mu
 * free during the callbacks; the caller claimed s (as_claim). Runs on the
 * loop thread for frames, on the thread that cancels or fails a call
 * otherwise. Nothing touches s after on_end. */
static void as_deliver(weft__mux *m, stream *s) {
  const weft_call_events *ev = s->as;
  void *ud = s->as_ud;
  pthread_mutex_lock(&m->mu);
  for (;;) {
    bool over = s->failed || s->cancelled;
    if (!s->as_headers &&
        (s->meta.count || has_msg(s) || over || s->have_status)) {
      s->as_headers = true;
      weft_metadata h = WEFT_METADATA_INIT;
      (void)weft_metadata_copy(&h, &s->meta); /* NOMEM: fewer headers */
      pthread_mutex_unlock(&m->mu);
      if (ev->on_headers)
        ev->on_headers(ud, &h);
      weft_metadata_clear(&h);
      pthread_mutex_lock(&m->mu);
      continue;
    }
    if (has_msg(s) && !over) {
      bool resume = false;
      rxmsg *q = dequeue(m, s, &resume);
      pthread_mutex_unlock(&m->mu);
      if (resume)
        resume_reading(m);
      void *msg = NULL;
      weft_error err;
      int rc = decode_payload(m, s->md->output, q, s->as_arena, &msg, &err);
      free(q);
      if (rc >= 0) {
        ev->on_message(ud, msg);
      } else {
        pthread_mutex_lock(&m->mu);
        bool c = !s->failed && !s->cancelled && !s->have_status;
        if (c) {
          s->failed = true;
          s->fail_code = rc;
          weft_status_set(&s->st, WEFT_STATUS_INTERNAL,
                          "decoding the response: %s", err.message);
        }
        uint64_t id = s->id;
        pthread_mutex_unlock(&m->mu);
        if (c)
          send_cancel(m, id, WEFT_STATUS_CANCELLED,
                      "client could not decode the response");
      }
      pthread_mutex_lock(&m->mu);
      continue;
    }
    if (over || (s->have_status && !has_msg(s))) {
      s->as_ended = true;
      s->as_busy = false;
      pthread_mutex_unlock(&m->mu);
      ev->on_end(ud);
      return;
    }
    s->as_busy = false;
    pthread_mutex_unlock(&m->mu);
    return;
  }
}

int weft__mux_call_start_async(weft__mux *m, const weft_method_desc *md,
                               const weft_metadata *meta, int64_t deadline_ns,
                               weft_arena *arena, const weft_call_events *ev,
                               void *ud, void **tcall, weft_error *err) {
  if (!ev || !ev->on_message || !ev->on_end)
    return weft_error_set(err, WEFT_ERR_INVAL, "call_start_async: %s",
                          "on_message and on_end are required");
  int rc = weft__mux_call_start(m, md, meta, deadline_ns, tcall, err);
  if (rc < 0)
    return rc;
  stream *s = *tcall;
  pthread_mutex_lock(&m->mu);
  s->as = ev;
  s->as_ud = ud;
  s->as_arena = arena;
  /* Whatever arrived (or failed) before s->as was set is delivered now. */
  bool deliver = as_claim(s);
  pthread_mutex_unlock(&m->mu);
  if (deliver)
    as_deliver(m, s);
  return 0;
}

/* ---- client calls ----------------------------------------------------- */

/* A send failed because the connection is closing but the owner has not
 * called weft__mux_on_closed yet (a WebSocket waiting for the end of its
 * close handshake, a TCP connection a moment before): the call is left to
 * on_closed, whose reason says more than "send failed" (e.g. a server that
 * refused our API key with 1008 -> UNAUTHENTICATED). m->mu held. */
static bool closing_now(const weft__mux *m, int rc) {
  return rc == WEFT_ERR_CLOSED && !m->closed;
}

int weft__mux_call_start(weft__mux *m, const weft_method_desc *md,
                         const weft_metadata *meta, int64_t deadline_ns,
                         void **tcall, weft_error *err) {
  stream *s;
  int rc;
  *tcall = NULL;
  if (m->o.server || !md)
    return weft_error_set(err, WEFT_ERR_INVAL, "call_start on a %s",
                          md ? "server connection" : "NULL method");
  pthread_mutex_lock(&m->mu);
  if (m->closed && m->close_err.code == WEFT_ERR_AUTH) {
    rc = weft_error_set(err, WEFT_ERR_AUTH, "%s", m->close_err.message);
    pthread_mutex_unlock(&m->mu);
    return rc;
  }
  if (m->closed || weft__mxe_goaway_received(m->eng)) {
    rc = weft_error_set(err, WEFT_ERR_CLOSED, "connection to %s %s",
                        m->peer[0] ? m->peer : "server",
                        m->closed ? "is closed" : "is going away (GOAWAY)");
    pthread_mutex_unlock(&m->mu);
    return rc;
  }
  s = stream_new(m, 0, false);
  if (!s || (meta && weft_metadata_copy(&s->open_md, meta) < 0) ||
      weft__mxe_stream_new(m->eng, s, &s->id) < 0) {
    pthread_mutex_unlock(&m->mu);
    if (s)
      stream_free(s);
    return weft_error_set(err, WEFT_ERR_NOMEM, "call_start");
  }
  link_stream(m, s);
  m->nclient++;
  m->refs++;
  s->md = md;
  s->deadline_ns = deadline_ns > 0 ? deadline_ns : INT64_MAX;
  bool open_now =
      md->kind == WEFT_RPC_CLIENT_STREAM || md->kind == WEFT_RPC_BIDI;
  s->open_sent = open_now;
  weft__mxe_chunk *out = NULL;
  rc = 0;
  if (open_now) {
    rc = weft__mxe_submit_open(m->eng, s->id, md->path, &s->open_md,
                               s->deadline_ns, now_ns(), NULL);
    out = take(m);
  }
  pthread_mutex_unlock(&m->mu);
  *tcall = s;
  if (open_now) {
    int frc = flush(m, out);
    if (rc >= 0)
      rc = frc;
    if (rc < 0) { /* the call exists; its failure shows in recv/finish */
      pthread_mutex_lock(&m->mu);
      if (!s->failed && !s->have_status && !closing_now(m, rc)) {
        s->failed = true;
        s->fail_code = rc;
        weft_status_set(&s->st, WEFT_STATUS_UNAVAILABLE,
                        "sending OPEN to %s: %s", m->peer, weft_strerror(rc));
      }
      pthread_mutex_unlock(&m->mu);
    }
  }
  return 0;
}

/* The call failed locally or was cancelled: the code for send/recv. */
static int call_error(const stream *s) {
  return s->fail_code ? s->fail_code : WEFT_ERR_CANCELLED;
}

int weft__mux_call_send(void *tcall, const void *msg) {
  stream *s = tcall;
  weft__mux *m = s->m;
  pthread_mutex_lock(&m->mu);
  if (s->failed || s->cancelled) {
    int rc = call_error(s);
    pthread_mutex_unlock(&m->mu);
    return rc;
  }
  if (s->send_closed || s->have_status) {
    pthread_mutex_unlock(&m->mu);
    return s->have_status ? WEFT_ERR_CLOSED : WEFT_ERR_STATE;
  }
  bool open = !s->open_sent;
  s->open_sent = true;
  const weft_method_desc *md = s->md;
  if (md->kind == WEFT_RPC_UNARY || md->kind == WEFT_RPC_SERVER_STREAM)
    s->send_closed = true; /* exactly one request, sent with OPEN */
  pthread_mutex_unlock(&m->mu);
  payload p;
  int rc = payload_make(m, msg, &p);
  if (rc >= 0) {
    pthread_mutex_lock(&m->mu);
    rc = open ? weft__mxe_submit_open(m->eng, s->id, md->path, &s->open_md,
                                      s->deadline_ns, now_ns(), &p.m)
              : weft__mxe_submit_message(m->eng, s->id, &p.m);
    weft__mxe_chunk *out = take(m);
    pthread_mutex_unlock(&m->mu);
    int frc = flush(m, out);
    if (rc >= 0)
      rc = frc;
  }
  payload_done(&p);
  if (rc < 0) { /* the call cannot go on: fail it so recv/finish return */
    pthread_mutex_lock(&m->mu);
    if (closing_now(m, rc)) {
      pthread_mutex_unlock(&m->mu);
      return rc;
    }
    bool cancel = !open && !s->failed && !s->cancelled && !s->have_status;
    if (!s->failed && !s->cancelled && !s->have_status) {
      s->failed = true;
      s->fail_code = rc;
      weft_status_set(&s->st,
                      rc == WEFT_ERR_TOO_BIG  ? WEFT_STATUS_RESOURCE_EXHAUSTED
                      : rc == WEFT_ERR_CLOSED ? WEFT_STATUS_UNAVAILABLE
                                              : WEFT_STATUS_INTERNAL,
                      "sending a request message of %s on %s: %s",
                      md->input ? md->input->base.name : "?", md->path,
                      rc == WEFT_ERR_TOO_BIG
                          ? "message larger than max_message_size"
                          : weft_strerror(rc));
      wake_stream(m, s);
    }
    uint64_t id = s->id;
    bool deliver = as_claim(s);
    pthread_mutex_unlock(&m->mu);
    if (cancel)
      send_cancel(m, id, WEFT_STATUS_CANCELLED, "client failed to send");
    if (deliver)
      as_deliver(m, s);
  }
  return rc;
}

int weft__mux_call_close_send(void *tcall) {
  stream *s = tcall;
  weft__mux *m = s->m;
  pthread_mutex_lock(&m->mu);
  bool send = !s->send_closed && s->open_sent && !s->failed && !s->cancelled &&
              !s->have_status;
  s->send_closed = true;
  int rc = send ? weft__mxe_submit_half_close(m->eng, s->id) : 0;
  weft__mxe_chunk *out = take(m);
  pthread_mutex_unlock(&m->mu);
  int frc = flush(m, out);
  return rc < 0 ? rc : frc;
}

/* The deadline passed (mu held): fail the call; the caller sends CANCEL. */
static bool expire(stream *s) {
  if (s->failed || s->cancelled || s->have_status)
    return false;
  s->failed = true;
  s->fail_code = WEFT_ERR_TIMEOUT;
  weft_status_set(&s->st, WEFT_STATUS_DEADLINE_EXCEEDED,
                  "deadline exceeded waiting for %s", s->md->path);
  return s->open_sent;
}

int weft__mux_call_recv(void *tcall, weft_arena *arena, void **msg) {
  stream *s = tcall;
  weft__mux *m = s->m;
  bool send_cancel_now = false, resume = false, driving = false;
  rxmsg *q = NULL;
  int rc;
  *msg = NULL;
  pthread_mutex_lock(&m->mu);
  /* Popping is the look: the queue's own lock is taken once per message,
   * not for a look, a second look and the pop. */
  for (;;) {
    if (s->failed || s->cancelled || (q = try_dequeue(m, s, &resume)) ||
        s->rx_done)
      break;
    if (stream_wait(m, s, &driving) == ETIMEDOUT) {
      send_cancel_now = expire(s);
      if (!s->failed && !s->cancelled)
        q = try_dequeue(m, s, &resume);
      break;
    }
  }
  bool others = m->cv_waiters > 0;
  if (q) {
    rc = 1;
  } else if (s->failed || s->cancelled) {
    rc = call_error(s);
  } else {
    rc = s->st.code == WEFT_STATUS_OK ? 0 : WEFT_ERR_RPC;
  }
  pthread_mutex_unlock(&m->mu);
  stream_wait_done(m, driving, others);
  if (resume)
    resume_reading(m);
  if (send_cancel_now)
    send_cancel(m, s->id, WEFT_STATUS_DEADLINE_EXCEEDED, "deadline exceeded");
  if (q) {
    weft_error err;
    rc = decode_payload(m, s->md->output, q, arena, msg, &err);
    free(q);
    if (rc < 0) {
      pthread_mutex_lock(&m->mu);
      bool c = !s->failed && !s->cancelled && !s->have_status;
      if (c) {
        s->failed = true;
        s->fail_code = rc;
        weft_status_set(&s->st, WEFT_STATUS_INTERNAL,
                        "decoding the response: %s", err.message);
      }
      pthread_mutex_unlock(&m->mu);
      if (c)
        send_cancel(m, s->id, WEFT_STATUS_CANCELLED,
                    "client could not decode the response");
      return rc;
    }
    return 1;
  }
  return rc;
}

int weft__mux_call_finish(void *tcall, weft_status *st, weft_metadata *md) {
  stream *s = tcall;
  weft__mux *m = s->m;
  bool need_open = false, cancel_now = false, resume, driving = false;
  weft__mxe_chunk *out = NULL;
  pthread_mutex_lock(&m->mu);
  if (!s->open_sent && !s->failed && !s->cancelled) {
    s->open_sent = need_open = true; /* e.g. a unary call with no send */
    s->send_closed = true;
    (void)weft__mxe_submit_open(m->eng, s->id, s->md->path, &s->open_md,
                                s->deadline_ns, now_ns(), NULL);
    out = take(m);
  }
  pthread_mutex_unlock(&m->mu);
  if (need_open)
    flush(m, out);
  pthread_mutex_lock(&m->mu);
  while (!s->have_status && !s->failed && !s->cancelled) {
    if (stream_wait(m, s, &driving) == ETIMEDOUT) {
      cancel_now = expire(s);
      break;
    }
  }
  bool others = m->cv_waiters > 0;
  if (st)
    weft_status_move(st, &s->st);
  if (md) {
    for (size_t i = 0; i < s->meta.count; i++) {
      weft_metadata_entry *e = &s->meta.entries[i];
      weft_metadata_add(md, e->key, e->value, e->value_len);
    }
  }
  if (cancel_now)
    (void)weft__mxe_submit_cancel(m->eng, s->id, WEFT_STATUS_DEADLINE_EXCEEDED,
                                  "deadline exceeded");
  weft__mxe_forget(m->eng, s->id);
  out = take(m);
  unlink_stream(m, s);
  m->nclient--;
  resume = drop_queue(m, s);
  pthread_mutex_unlock(&m->mu);
  stream_wait_done(m, driving, others);
  stream_free(s);
  /* Our reference keeps m alive through these sends. */
  flush(m, out);
  if (resume)
    resume_reading(m);
  pthread_mutex_lock(&m->mu);
  bool destroy = mux_unref_locked(m);
  pthread_mutex_unlock(&m->mu);
  if (destroy)
    mux_destroy(m);
  return 0;
}

void weft__mux_call_cancel(void *tcall) {
  stream *s = tcall;
  weft__mux *m = s->m;
  pthread_mutex_lock(&m->mu);
  if (s->have_status || s->cancelled || s->failed) {
    pthread_mutex_unlock(&m->mu);
    return;
  }
  s->cancelled = true;
  s->fail_code = WEFT_ERR_CANCELLED;
  weft_status_set(&s->st, WEFT_STATUS_CANCELLED, "cancelled by the client");
  /* A stream not on the wire yet leaves the engine silently. */
  (void)weft__mxe_submit_cancel(m->eng, s->id, WEFT_STATUS_CANCELLED,
                                "cancelled by the client");
  weft__mxe_chunk *out = take(m);
  wake_stream(m, s);
  bool deliver = as_claim(s);
  pthread_mutex_unlock(&m->mu);
  flush(m, out);
  if (deliver) /* after this, s may be gone */
    as_deliver(m, s);
}

/* ---- server calls (weft_server_call_ops) ------------------------------ */

static int srv_recv(void *tc, weft_arena *arena, void **msg) {
  stream *s = tc;
  weft__mux *m = s->m;
  rxmsg *q = NULL;
  *msg = NULL;
  if (!s->md)
    return WEFT_ERR_STATE;
  int rc = weft__rxq_pop(&s->rxq, true, s->deadline_ns, &q);
  if (atomic_load(&s->rx_low)) {
    bool resume = false;
    pthread_mutex_lock(&m->mu);
    after_pop(m, s, &resume);
    pthread_mutex_unlock(&m->mu);
    if (resume)
      resume_reading(m);
  }
  if (q) {
    weft_error err;
    rc = decode_payload(m, s->md->input, q, arena, msg, &err);
    free(q);
    if (rc >= 0) {
      rc = 1;
    } else {
      free(s->recv_err); /* only this handler's thread reads it */
      s->recv_err = strdup(err.message);
    }
  }
  return rc;
}

/* Encodes a single-response method's answer into s->reply. */
static int encode_reply(weft__mux *m, stream *s, const void *msg) {
  uint8_t *buf = NULL;
  size_t n;
  if (is_text(m)) {
    char *json = NULL;
    int rc = weft__payload_json_encode(msg, &json, &n);
    if (rc < 0)
      return rc;
    buf = (uint8_t *)json;
  } else {
    n = weft_encoded_size(msg);
    buf = malloc(n ? n : 1);
    if (!buf)
      return WEFT_ERR_NOMEM;
    ssize_t w = weft_encode(msg, buf, n);
    if (w < 0) {
      free(buf);
      return (int)w;
    }
  }
  if (n > m->max_msg) {
    free(buf);
    return WEFT_ERR_TOO_BIG;
  }
  s->reply = buf;
  s->reply_len = n;
  s->has_reply = true;
  return 0;
}

/* A server message ready for the engine (mu not held). */
static int srv_payload(weft__mux *m, const void *msg,
                       const weft_encoded_msg *pb, payload *p) {
  if (pb && !is_text(m)) {
    if (pb->len > m->max_msg)
      return WEFT_ERR_TOO_BIG;
    memset(p, 0, sizeof *p);
    p->m.data = pb->data;
    p->m.len = pb->len;
    return 0;
  }
  return payload_make(m, msg, p);
}

/* pb (NULL: encode msg) is msg's protobuf encoding, shared with other
 * calls: the engine copies it into the frame as it would encode msg.
 *
 * A streamed message takes mu once before its write and once after (to
 * hand the frame back): its payload is readied first, before the state
 * is looked at, since a method's shape does not change under us. */
static int srv_send_msg(stream *s, const void *msg, const weft_encoded_msg *pb,
                        const weft_metadata *headers) {
  weft__mux *m = s->m;
  payload p;
  bool early = s->md && !single_response(s->md);
  int prc = early ? srv_payload(m, msg, pb, &p) : 0;
  int rc;
  pthread_mutex_lock(&m->mu);
  if (s->cancelled || s->status_sent) {
    rc = call_error(s);
    pthread_mutex_unlock(&m->mu);
    if (early && prc >= 0)
      payload_done(&p);
    return rc;
  }
  if (!early) {
    if (single_response(s->md) && !s->has_reply) {
      /* Keep the one response for the STATUS frame: a unary call is then
       * answered in a single frame and a single write, which spares the
       * client a wake-up per call. Headers go in that frame too. */
      pthread_mutex_unlock(&m->mu);
      return encode_reply(m, s, msg);
    }
    pthread_mutex_unlock(&m->mu);
    if (!s->md)
      return WEFT_ERR_STATE;
    if ((rc = srv_payload(m, msg, pb, &p)) < 0)
      return rc;
    pthread_mutex_lock(&m->mu);
  } else if (prc < 0) {
    pthread_mutex_unlock(&m->mu);
    return prc;
  }
  bool hdrs = headers && headers->count && !s->open_sent;
  s->open_sent = true; /* server side: "headers went out" */
  rc = hdrs ? weft__mxe_submit_headers(m->eng, s->id, headers) : 0;
  if (rc >= 0)
    rc = weft__mxe_submit_message(m->eng, s->id, &p.m);
  bool entered;
  weft__mxe_chunk *out = take_enter(m, &entered);
  pthread_mutex_unlock(&m->mu);
  payload_done(&p);
  int frc = flush_entered(m, out, entered);
  return rc < 0 ? rc : frc;
}

static int srv_send(void *tc, const void *msg, const weft_metadata *headers) {
  return srv_send_msg(tc, msg, NULL, headers);
}

static int srv_send_encoded(void *tc, const void *msg,
                            const weft_encoded_msg *pb,
                            const weft_metadata *headers) {
  return srv_send_msg(tc, msg, pb, headers);
}

static int srv_finish(void *tc, const weft_status *st,
                      const weft_metadata *headers,
                      const weft_metadata *trailers) {
  stream *s = tc;
  weft__mux *m = s->m;
  int rc = 0;
  int code = st ? st->code : WEFT_STATUS_UNKNOWN;
  bool reply = s->has_reply && code == WEFT_STATUS_OK;
  weft__mxe_msg rmsg = {.data = s->reply, .len = s->reply_len};
  /* Headers not sent yet travel with the trailers, in one STATUS. */
  weft_metadata both = WEFT_METADATA_INIT;
  const weft_metadata *md = trailers;
  pthread_mutex_lock(&m->mu);
  bool send = !s->status_sent && !m->closed;
  if (send && !s->open_sent && headers && headers->count) {
    md = headers;
    if (trailers && trailers->count) {
      md = &both;
      if (weft_metadata_copy(&both, headers) < 0 ||
          weft_metadata_copy(&both, trailers) < 0)
        rc = WEFT_ERR_NOMEM;
    }
  }
  s->status_sent = true;
  s->rt = NULL; /* the runtime frees its call once this returns */
  weft__rxq_disarm(&s->rxq);
  if (send && rc == 0)
    rc = weft__mxe_submit_status(
        m->eng, s->id, code, st ? st->message : "no status",
        st ? st->details : NULL, st ? st->details_len : 0, md,
        reply ? &rmsg : NULL);
  weft__mxe_forget(m->eng, s->id);
  weft__mxe_chunk *out = take(m);
  unlink_stream(m, s);
  bool resume = drop_queue(m, s);
  pthread_mutex_unlock(&m->mu);
  weft_metadata_clear(&both);
  int frc = flush(m, out);
  if (rc >= 0)
    rc = frc;
  if (resume)
    resume_reading(m);
  pthread_mutex_lock(&m->mu);
  bool idle = server_gone_locked(m);
  pthread_mutex_unlock(&m->mu);
  stream_free(s);
  if (idle)
    tell_idle(m);
  return rc;
}

static bool srv_cancelled(void *tc) {
  stream *s = tc;
  pthread_mutex_lock(&s->m->mu);
  bool c = s->cancelled || s->m->closed;
  pthread_mutex_unlock(&s->m->mu);
  return c;
}

static const char *srv_recv_error(void *tc) {
  stream *s = tc;
  return s->recv_err;
}

static void srv_bind(void *tc, weft_server_call *call) {
  stream *s = tc;
  pthread_mutex_lock(&s->m->mu);
  s->rt = call;
  if (s->cancelled || s->m->closed)
    push_cancel(s);
  pthread_mutex_unlock(&s->m->mu);
}

static int srv_want_read(void *tc, weft_server_call *call) {
  stream *s = tc;
  if (!s->md)
    return WEFT_ERR_STATE;
  weft__rxq_arm(&s->rxq, call);
  return 0;
}

static const weft_server_call_ops server_ops = {
    .want_read = srv_want_read,
    .recv_error = srv_recv_error,
    .recv = srv_recv,
    .send = srv_send,
    .send_encoded = srv_send_encoded,
    .finish = srv_finish,
    .cancelled = srv_cancelled,
    .bind = srv_bind,
};
