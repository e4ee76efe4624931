/* The WebSocket opening handshake (RFC 6455 section 4), with no I/O: the
 * HTTP/1.1 Upgrade request and response, built and parsed from buffers.
 *
 * Server side: weft__ws_hs_find_end() tells when a bounded header block is
 * complete (so a client cannot make the server buffer without limit);
 * weft__ws_hs_parse_request() splits it in place; weft__ws_hs_check_upgrade()
 * applies the RFC's rules and says which HTTP status to answer with.
 * Client side: weft__ws_hs_client_request() writes the request and
 * weft__ws_hs_check_response() verifies the server's answer, including
 * Sec-WebSocket-Accept = base64(SHA-1(key + GUID)).
 */
#ifndef WEFT_TRANSPORTS_WS_HANDSHAKE_H
#define WEFT_TRANSPORTS_WS_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "weft/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WEFT__WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WEFT__WS_MAX_HEADERS 64
/* Default bound on the request or response header block. */
#define WEFT__WS_HS_LIMIT 8192

typedef struct weft__ws_http_header {
  const char *name;  /* as sent; compare case-insensitively */
  const char *value; /* leading/trailing whitespace removed */
} weft__ws_http_header;

/* A parsed request or response; every string points into `raw`. */
typedef struct weft__ws_http {
  char *raw;
  /* request */
  const char *method;
  const char *target;  /* as sent: path?query */
  const char *path;    /* target up to '?' */
  const char *query;   /* after '?', "" if none */
  const char *version; /* "HTTP/1.1" */
  /* response */
  int status;
  const char *reason;
  weft__ws_http_header headers[WEFT__WS_MAX_HEADERS];
  size_t nheaders;
} weft__ws_http;

/* Length of the header block (through the blank line) at the start of buf,
 * 0 if it is not complete yet, or WEFT_ERR_TOO_BIG if `limit` bytes hold no
 * complete block. */
ssize_t weft__ws_hs_find_end(const char *buf, size_t len, size_t limit);

/* Parse a complete header block (len from weft__ws_hs_find_end). Copies it;
 * free with weft__ws_http_free. Errors: WEFT_ERR_MALFORMED (err says what
 * and where), WEFT_ERR_LIMIT (too many headers), WEFT_ERR_NOMEM. */
int weft__ws_hs_parse_request(weft__ws_http *r, const char *buf, size_t len,
                              weft_error *err);
int weft__ws_hs_parse_response(weft__ws_http *r, const char *buf, size_t len,
                               weft_error *err);
void weft__ws_http_free(weft__ws_http *r);

/* First header with this name (case-insensitive), or NULL. Headers that may
 * repeat as lists (Connection, Sec-WebSocket-Protocol) are read with
 * weft__ws_hs_has_token, which looks at every occurrence. */
const char *weft__ws_http_get(const weft__ws_http *r, const char *name);
/* Does any header `name` list `token` (comma separated, case-insensitive)? */
bool weft__ws_http_has_token(const weft__ws_http *r, const char *name,
                             const char *token);

/* Server: checks the request is a valid WebSocket upgrade (GET, HTTP/1.1,
 * Host, Upgrade: websocket, Connection: Upgrade, a 16-byte base64 key,
 * version 13). Returns 0, or the HTTP status to refuse with (400, 405, 426)
 * with err saying why. */
int weft__ws_hs_check_upgrade(const weft__ws_http *r, weft_error *err);

/* Picks the first subprotocol the client offered (in the client's order of
 * preference) that is in `supported` (NULL-terminated). Returns its index
 * in supported, or -1. */
int weft__ws_hs_pick_protocol(const weft__ws_http *r,
                              const char *const *supported);

/* base64(SHA-1(key + GUID)) into out (29 bytes with the NUL). */
void weft__ws_accept_key(const char *key, char out[29]);
/* A fresh random key (base64 of 16 random bytes) into out (25 bytes). */
int weft__ws_make_key(char out[25]);

/* Server responses. Return the length written (snprintf rules: the
 * response is complete only if the result is < cap). */
int weft__ws_hs_response_101(char *out, size_t cap, const char *key,
                             const char *protocol);
/* An error response with a short text body, Connection: close, and for
 * 426 the Sec-WebSocket-Version: 13 header. */
int weft__ws_hs_response_error(char *out, size_t cap, int status,
                               const char *why);
const char *weft__ws_http_reason(int status);

/* Client request. host_port is the Host header value; target is
 * path?query ("/" if empty); protocols is a comma-separated list or NULL;
 * extra is NULL or more header lines, each ending in CRLF. */
int weft__ws_hs_client_request(char *out, size_t cap, const char *host_port,
                               const char *target, const char *key,
                               const char *protocols, const char *origin,
                               const char *extra);
/* Client: checks the response to a request made with `key` and offering
 * `protocols` (comma-separated or NULL). On success copies the chosen
 * subprotocol ("" if none) into proto. Errors: WEFT_ERR_HANDSHAKE, with
 * err naming the status or the header that was wrong. */
int weft__ws_hs_check_response(const weft__ws_http *r, const char *key,
                               const char *protocols, char *proto,
                               size_t proto_cap, weft_error *err);

#ifdef __cplusplus
}
#endif
#endif
