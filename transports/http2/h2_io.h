/* Moves bytes between a socket (weft__conn, maybe TLS) and an nghttp2
 * session on the loop thread. nghttp2 does no I/O: we feed it what we read
 * (mem_recv) and write what it produces (mem_send), gathered into one
 * buffer per write, keeping the unwritten tail when the socket would
 * block. Shared by the client and the server. */
#ifndef WEFT_TRANSPORTS_H2_IO_H
#define WEFT_TRANSPORTS_H2_IO_H

#include <nghttp2/nghttp2.h>
#include <stdbool.h>

#include "../common/sock.h"
#include "weft/loop.h"

typedef struct weft__h2io weft__h2io;
typedef void (*weft__h2io_closed_fn)(weft__h2io *io, const weft_error *why,
                                     void *ud);

struct weft__h2io {
  weft_loop *loop;
  weft__conn *conn;
  nghttp2_session *session;
  const uint8_t *pending; /* from nghttp2_session_mem_send, not yet copied */
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
/* Unregisters, closes the socket, frees the session; calls on_closed once.
 * Loop thread. */
void weft__h2io_close(weft__h2io *io, const weft_error *why);

#endif
