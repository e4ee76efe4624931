/* The nghttp2 session core both HTTP/2 engines embed (h2_session.h). */
#include "h2_session.h"

#include <stdio.h>

#include "h2_engine.h" /* weft__h2e_goaway_code */

void weft__h2sess_fail(weft__h2sess *c, int code, const char *prefix,
                       const char *msg) {
  if (c->failed)
    return;
  c->failed = true;
  weft_error_set(&c->why, code, "%s%s", prefix, msg);
  if (c->conn_error)
    c->conn_error(c->ud, &c->why);
}

void weft__h2sess_copy_err(const weft__h2sess *c, weft_error *err) {
  if (err)
    *err = c->why;
}

int weft__h2sess_on_error(nghttp2_session *ses, int lib_error_code,
                          const char *msg, size_t len, void *ud) {
  weft__h2sess *c = ud; /* the engine's first member */
  (void)ses;
  (void)lib_error_code;
  snprintf(c->last_err, sizeof c->last_err, "%.*s", (int)len, msg);
  return 0;
}

ssize_t weft__h2sess_feed(weft__h2sess *c, const uint8_t *in, size_t len,
                          weft_error *err) {
  if (c->failed) {
    weft__h2sess_copy_err(c, err);
    return c->why.code;
  }
  c->last_err[0] = '\0';
  ssize_t rv = nghttp2_session_mem_recv(c->ses, in, len);
  if (rv < 0) {
    /* nghttp2 queued a GOAWAY for most errors; for the fatal ones it
     * returns without one (too many CONTINUATIONs, a flood of frames, a
     * bad client preface, a failed callback) and we queue it: RFC 9113
     * 5.4.1, "An endpoint that encounters a connection error SHOULD first
     * send a GOAWAY frame". A no-op when nghttp2 already terminated. */
    char msg[200];
    snprintf(msg, sizeof msg, "%s%s%s", nghttp2_strerror((int)rv),
             c->last_err[0] ? ": " : "", c->last_err);
    weft__h2sess_fail(
        c, rv == NGHTTP2_ERR_NOMEM ? WEFT_ERR_NOMEM : WEFT_ERR_PROTOCOL,
        "HTTP/2 connection error: ", msg);
    nghttp2_session_terminate_session(c->ses, weft__h2e_goaway_code((int)rv));
  } else if (!c->failed && !c->goaway_seen &&
             !nghttp2_session_want_read(c->ses)) {
    /* nghttp2 handled a connection error itself (it swallows the rest of
     * the input and queues GOAWAY): its reason came through on_error. */
    weft__h2sess_fail(c, WEFT_ERR_PROTOCOL, "HTTP/2 connection error: ",
                      c->last_err[0] ? c->last_err : "protocol error");
  }
  if (c->failed) {
    weft__h2sess_copy_err(c, err);
    return c->why.code;
  }
  return (ssize_t)len;
}

const uint8_t *weft__h2sess_output(weft__h2sess *c, size_t *len,
                                   weft_error *err) {
  if (c->out_len == 0) {
    ssize_t n = nghttp2_session_mem_send(c->ses, &c->out);
    if (n < 0) {
      weft__h2sess_fail(
          c, n == NGHTTP2_ERR_NOMEM ? WEFT_ERR_NOMEM : WEFT_ERR_PROTOCOL,
          "HTTP/2 session failed: ", nghttp2_strerror((int)n));
      weft__h2sess_copy_err(c, err);
      c->out = NULL;
      *len = 0;
      return NULL;
    }
    c->out_len = (size_t)n;
  }
  *len = c->out_len;
  return c->out_len ? c->out : (const uint8_t *)"";
}

void weft__h2sess_output_done(weft__h2sess *c, size_t n) {
  if (n > c->out_len)
    n = c->out_len;
  c->out += n;
  c->out_len -= n;
}

bool weft__h2sess_finished(const weft__h2sess *c) {
  return c->out_len == 0 && !nghttp2_session_want_read(c->ses) &&
         !nghttp2_session_want_write(c->ses);
}
