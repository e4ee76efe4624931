/* Moves bytes between a socket (weft__conn, maybe TLS) and an HTTP/2
 * engine on the loop thread: the server's (h2_engine.h) or the client's
 * (h2_client_engine.h). Neither does I/O: we feed them what we read and
 * write what they produce, gathered into one buffer per write, keeping the
 * unwritten tail when the socket would block. */
#ifndef WEFT_TRANSPORTS_H2_IO_H
#define WEFT_TRANSPORTS_H2_IO_H

#include <stdbool.h>

#include "../common/sock.h"
#include "h2_client_engine.h"
#include "h2_engine.h"
#include "weft/loop.h"

typedef struct weft__h2io weft__h2io;
typedef void (*weft__h2io_closed_fn)(weft__h2io *io, const weft_error *why,
                                     void *ud);

struct weft__h2io {
  weft_loop *loop;
  weft__conn *conn;
  weft__h2e *engine;  /* the server's, or */
  weft__h2ce *client; /* the client's */
  /* Frames gathered for one write (the engines hand them out one by one; a
   * write per frame cost a syscall per HEADERS and per DATA). Allocated
   * while there is something to write. */
  uint8_t *obuf;
  size_t obuf_off, obuf_len;
  unsigned events; /* currently registered */
  bool closed;
  weft__h2io_closed_fn on_closed;
  /* Optional: called at the end of every weft__h2io_flush that left the
   * connection open (the client delivers the events its engine noted). */
  void (*after_flush)(weft__h2io *io, void *ud);
  void *ud;
};

/* Registers the fd on the loop. Loop thread. */
int weft__h2io_start(weft__h2io *io);
/* Writes what the engine has to send; closes the connection when it has
 * finished (with its error, if it failed). Loop thread. */
void weft__h2io_flush(weft__h2io *io);
/* Unregisters, closes the socket, frees the engine; calls on_closed once
 * (before the engine is freed, so it can still walk its streams).
 * Loop thread. */
void weft__h2io_close(weft__h2io *io, const weft_error *why);

#endif
