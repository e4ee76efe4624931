/* The client's opening handshake without I/O; see ws_upgrade.h. */
#define _GNU_SOURCE
#include "ws_upgrade.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ws_handshake.h"

/* Room for frames that arrive in the same reads as the header block. */
#define WS_UPGRADE_SLACK 4096

int weft__ws_upgrade_init(weft__ws_upgrade *u, const char *host, int port,
                          const char *target, const char *protocols,
                          const char *origin, const char *extra,
                          size_t max_header_bytes, weft_error *err) {
  memset(u, 0, sizeof *u);
  u->limit = max_header_bytes;
  u->cap = max_header_bytes + WS_UPGRADE_SLACK;
  if (protocols && strlen(protocols) >= sizeof u->protocols)
    return weft_error_set(err, WEFT_ERR_INVAL,
                          "ws: subprotocol list too long: %.64s...", protocols);
  snprintf(u->protocols, sizeof u->protocols, "%s", protocols ? protocols : "");
  if (!(u->buf = malloc(u->cap)))
    return weft_error_set(err, WEFT_ERR_NOMEM, "ws: out of memory");
  int rv = weft__ws_make_key(u->key);
  if (rv < 0) {
    weft__ws_upgrade_free(u);
    return weft_error_set(err, rv, "ws: no random bytes for the key");
  }
  bool v6 = strchr(host, ':') != NULL;
  snprintf(u->hostport, sizeof u->hostport, v6 ? "[%s]:%d" : "%s:%d", host,
           port);
  int n = weft__ws_hs_client_request(
      u->buf, u->cap, u->hostport, target && *target ? target : "/", u->key,
      protocols && *protocols ? protocols : NULL, origin, extra);
  if (n < 0 || (size_t)n >= u->cap) {
    weft__ws_upgrade_free(u);
    return weft_error_set(err, WEFT_ERR_INVAL, "ws: request headers too long");
  }
  u->req_len = (size_t)n;
  return 0;
}

void weft__ws_upgrade_free(weft__ws_upgrade *u) {
  free(u->buf);
  u->buf = NULL;
}

const char *weft__ws_upgrade_out(const weft__ws_upgrade *u, size_t *len) {
  *len = u->req_len - u->req_off;
  return u->buf + u->req_off;
}

void weft__ws_upgrade_wrote(weft__ws_upgrade *u, size_t n) {
  u->req_off += n;
  if (u->req_off >= u->req_len)
    u->req_off = u->req_len = 0; /* buf now takes the response */
}

char *weft__ws_upgrade_in(weft__ws_upgrade *u, size_t *room) {
  *room = u->done || u->req_len ? 0 : u->cap - u->have;
  return u->buf + u->have;
}

int weft__ws_upgrade_received(weft__ws_upgrade *u, size_t n, weft_error *err) {
  u->have += n;
  ssize_t end = weft__ws_hs_find_end(u->buf, u->have, u->limit);
  if (end == 0)
    return 0;
  if (end < 0)
    return weft_error_set(err, WEFT_ERR_HANDSHAKE,
                          "ws: response headers from %s over %zu bytes",
                          u->hostport, u->limit);
  weft__ws_http resp;
  int rv = weft__ws_hs_parse_response(&resp, u->buf, (size_t)end, err);
  if (rv == 0) {
    u->status = resp.status;
    rv = weft__ws_hs_check_response(&resp, u->key,
                                    u->protocols[0] ? u->protocols : NULL,
                                    u->proto, sizeof u->proto, err);
  }
  weft__ws_http_free(&resp);
  if (rv < 0) {
    /* The parser says what was wrong; add where. */
    char what[WEFT_ERROR_MSG_MAX];
    snprintf(what, sizeof what, "%s", err ? err->message : "");
    return weft_error_set(err, rv, "ws: %s: %s", u->hostport, what);
  }
  u->end = (size_t)end;
  u->done = true;
  return 1;
}

int weft__ws_upgrade_feed(weft__ws_upgrade *u, const void *data, size_t len,
                          weft_error *err) {
  const char *p = data;
  do {
    size_t room;
    char *in = weft__ws_upgrade_in(u, &room);
    if (room == 0)
      return weft_error_set(err, WEFT_ERR_INVAL,
                            "ws: handshake response fed too early or late");
    size_t n = len < room ? len : room;
    memcpy(in, p, n);
    p += n;
    len -= n;
    int rv = weft__ws_upgrade_received(u, n, err);
    if (rv != 0)
      return rv;
  } while (len > 0);
  return 0;
}

const unsigned char *weft__ws_upgrade_rest(const weft__ws_upgrade *u,
                                           size_t *len) {
  *len = u->done ? u->have - u->end : 0;
  return (const unsigned char *)u->buf + u->end;
}

int weft__ws_upgrade_write_failed(const weft__ws_upgrade *u, const char *why,
                                  weft_error *err) {
  return weft_error_set(err, WEFT_ERR_CONNECT,
                        "ws: sending the handshake to %s: %s", u->hostport,
                        why);
}

int weft__ws_upgrade_closed(const weft__ws_upgrade *u, const char *why,
                            weft_error *err) {
  return weft_error_set(err, WEFT_ERR_HANDSHAKE,
                        "ws: %s closed the connection during the handshake%s%s",
                        u->hostport, why ? ": " : "", why ? why : "");
}

int weft__ws_upgrade_timed_out(const weft__ws_upgrade *u, weft_error *err) {
  return u->req_len
             ? weft_error_set(err, WEFT_ERR_TIMEOUT,
                              "ws: sending the handshake to %s timed out",
                              u->hostport)
             : weft_error_set(err, WEFT_ERR_TIMEOUT,
                              "ws: no handshake response from %s", u->hostport);
}
