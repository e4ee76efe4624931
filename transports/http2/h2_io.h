/* Moves bytes between a socket (weft__conn, maybe TLS) and an HTTP/2
 * protocol on the loop thread: the client's nghttp2 session, or the
 * server's engine (h2_engine.h). Neither does I/O: we feed them what we
 * read and write what they produce, gathered into one buffer per write,
 * keeping the unwritten tail when the socket would block. */
#ifndef WEFT_TRANSPORTS_H2_IO_H
#define WEFT_TRANSPORTS_H2_IO_H

#include <nghttp2/nghttp2.h>
#include <stdbool.h>

#include "../common/sock.h"
#include "h2_engine.h"
#include "weft/loop.h"

typedef struct weft__h2io weft__h2io;
typedef void (*weft__h2io_closed_fn)(weft__h2io *io, const weft_error *why,
                                     void *ud);

struct weft__h2io {
  weft_loop *loop;
  weft__conn *conn;
  nghttp2_session *session; /* the client's */
  weft__h2e *engine;        /* the server's (then session is NULL) */
  const uint8_t *pending;   /* from nghttp2_session_mem_send, not yet copied */
  size_t pending_len;
  /* Frames gathered for one write (nghttp2 hands them out one by one; a
   * write per frame cost a syscall per HEADERS and per DATA). Allocated
   * while there is something to write. */
  uint8_t *obuf;
  size_t obuf_off, obuf_len;
  unsigned events; /* currently registered */
  bool closed;
  weft__h2io_closed_fn on_closed;
  void *ud;
};

/* Registers the fd on the loop. Loop thread. */
int weft__h2io_start(weft__h2io *io);
/* Writes what nghttp2 has to send; closes the connection when the session
 * wants neither to read nor to write. Loop thread. */
void weft__h2io_flush(weft__h2io *io);
/* Unregisters, closes the socket, frees the session or engine; calls
 * on_closed once.
 * Loop thread. */
void weft__h2io_close(weft__h2io *io, const weft_error *why);

#endif
