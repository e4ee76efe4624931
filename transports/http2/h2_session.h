/* What the HTTP/2 server engine (h2_engine) and client engine
 * (h2_client_engine) share around their nghttp2 session: feeding it bytes
 * with a reason for every connection error, draining its output, and the
 * first connection error, kept and reported once. Each engine embeds one
 * and keeps its own streams and events. Internal to transports/http2. */
#ifndef WEFT_H2_SESSION_H
#define WEFT_H2_SESSION_H

#include <nghttp2/nghttp2.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "weft/error.h"

typedef struct weft__h2sess {
  nghttp2_session *ses;
  /* The engine's conn_error event, called once with the first error. */
  void (*conn_error)(void *ud, const weft_error *why);
  void *ud;
  bool failed;
  /* A GOAWAY was received, or one sent: the session may stop reading
   * without a connection error. */
  bool goaway_seen;
  weft_error why;     /* the connection error */
  char last_err[160]; /* nghttp2's last reason (error_callback2) */
  const uint8_t *out;
  size_t out_len;
} weft__h2sess;

/* The first call records the error and reports it; later ones do nothing. */
void weft__h2sess_fail(weft__h2sess *c, int code, const char *prefix,
                       const char *msg);
/* *err = the recorded error (err may be NULL). */
void weft__h2sess_copy_err(const weft__h2sess *c, weft_error *err);
/* nghttp2's error_callback2 for both engines: keeps nghttp2's reason for
 * the error it is about to handle, reported with the connection error it
 * may lead to (see feed). Its user data is the engine, whose first member
 * is its weft__h2sess. */
int weft__h2sess_on_error(nghttp2_session *ses, int lib_error_code,
                          const char *msg, size_t len, void *ud);
/* Feeds in to the session: len, or the connection error's code (and *err)
 * once the session failed, with a GOAWAY queued. */
ssize_t weft__h2sess_feed(weft__h2sess *c, const uint8_t *in, size_t len,
                          weft_error *err);
/* The session's next output (length 0: none), NULL if it failed. */
const uint8_t *weft__h2sess_output(weft__h2sess *c, size_t *len,
                                   weft_error *err);
void weft__h2sess_output_done(weft__h2sess *c, size_t n);
/* Nothing left to write and the session wants neither to read nor write. */
bool weft__h2sess_finished(const weft__h2sess *c);

#endif
