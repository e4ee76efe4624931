/* The client's side of the opening handshake as a state machine with no
 * I/O: the upgrade request to write, then the response fed in as it
 * arrives, in pieces of any size, until the header block is complete and
 * verified (weft__ws_hs_find_end, _parse_response, _check_response).
 *
 * The blocking dialer (ws_dial.c) drives it with poll(), the one on the
 * client loop (ws_dial_async.c) with the loop's events; both word every
 * failure through it, so a reconnect says what a first connect says. */
#ifndef WEFT_TRANSPORTS_WS_UPGRADE_H
#define WEFT_TRANSPORTS_WS_UPGRADE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "weft/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft__ws_upgrade {
  char *buf;    /* the request, then the response as it arrives */
  size_t cap;   /* buf's size: limit + room for frames behind it */
  size_t limit; /* bound on the response's header block */
  size_t req_len, req_off;
  size_t have; /* response bytes in buf */
  size_t end;  /* the header block's length, once complete */
  bool done;
  int status; /* the server's HTTP status, once parsed (0 before) */
  char key[25];
  char hostport[300];
  char protocols[256]; /* offered, comma separated ("" none) */
  char proto[32];      /* accepted ("" none), once done */
} weft__ws_upgrade;

/* Builds the request for host:port (Host header; IPv6 in brackets),
 * target (path?query, "/" if NULL or empty), protocols / origin / extra
 * (NULL or "": none; extra is header lines each ending in CRLF).
 * max_header_bytes bounds the response's header block. Errors:
 * WEFT_ERR_NOMEM, WEFT_ERR_INVAL (request too long); u needs no free then. */
int weft__ws_upgrade_init(weft__ws_upgrade *u, const char *host, int port,
                          const char *target, const char *protocols,
                          const char *origin, const char *extra,
                          size_t max_header_bytes, weft_error *err);
void weft__ws_upgrade_free(weft__ws_upgrade *u);

/* The request bytes not written yet (*len 0: all written). */
const char *weft__ws_upgrade_out(const weft__ws_upgrade *u, size_t *len);
void weft__ws_upgrade_wrote(weft__ws_upgrade *u, size_t n);

/* Where the next response bytes go (*room > 0 until done or failed); after
 * reading n bytes there, weft__ws_upgrade_received. */
char *weft__ws_upgrade_in(weft__ws_upgrade *u, size_t *room);
/* Returns 0 (more needed), 1 (complete and verified: status, proto, and
 * weft__ws_upgrade_rest), or < 0: WEFT_ERR_HANDSHAKE (refused, malformed,
 * too long), WEFT_ERR_LIMIT, WEFT_ERR_NOMEM, with err saying why. */
int weft__ws_upgrade_received(weft__ws_upgrade *u, size_t n, weft_error *err);
/* Copies data in and calls received, as often as it takes (tests and
 * fuzzers); same returns, and stops at 1 or an error. */
int weft__ws_upgrade_feed(weft__ws_upgrade *u, const void *data, size_t len,
                          weft_error *err);
/* What came behind the header block (the first frames), once done. */
const unsigned char *weft__ws_upgrade_rest(const weft__ws_upgrade *u,
                                           size_t *len);

/* The errors of the I/O around it, worded once for both dialers. */
/* Writing the request failed (why: the socket's error). WEFT_ERR_CONNECT. */
int weft__ws_upgrade_write_failed(const weft__ws_upgrade *u, const char *why,
                                  weft_error *err);
/* The server closed before the response was complete (why: NULL for a
 * clean close, else the socket's error). WEFT_ERR_HANDSHAKE. */
int weft__ws_upgrade_closed(const weft__ws_upgrade *u, const char *why,
                            weft_error *err);
/* The deadline passed, writing or waiting. WEFT_ERR_TIMEOUT. */
int weft__ws_upgrade_timed_out(const weft__ws_upgrade *u, weft_error *err);

#ifdef __cplusplus
}
#endif
#endif
