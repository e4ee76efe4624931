/* The opening handshake: HTTP/1.1 header blocks parsed in place, the RFC
 * 6455 checks on both sides, and the Sec-WebSocket-Accept computation. The
 * parser is strict where leniency has been a source of request smuggling
 * (no obs-fold, no whitespace before the colon, no bare LF, no control
 * characters) and otherwise accepts what browsers and libraries send. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "ws_handshake.h"

ssize_t weft__ws_hs_find_end(const char *buf, size_t len, size_t limit) {
  size_t n = len < limit ? len : limit;
  for (size_t i = 3; i < n; i++) {
    if (buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n' &&
        buf[i - 3] == '\r')
      return (ssize_t)(i + 1);
  }
  return len >= limit ? WEFT_ERR_TOO_BIG : 0;
}

static bool is_tchar(unsigned char c) {
  return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Splits "name: value" lines after the start line. */
static int parse_headers(weft__ws_http *r, char *p, weft_error *err) {
  int lineno = 1;
  for (;;) {
    char *eol = strstr(p, "\r\n");
    if (!eol)
      return weft_error_set(err, WEFT_ERR_MALFORMED,
                            "handshake line %d: not terminated by CRLF",
                            lineno);
    lineno++;
    if (eol == p)
      return 0; /* the blank line */
    *eol = '\0';
    if (*p == ' ' || *p == '\t')
      return weft_error_set(err, WEFT_ERR_MALFORMED,
                            "handshake line %d: folded header", lineno);
    char *colon = strchr(p, ':');
    if (!colon || colon == p)
      return weft_error_set(err, WEFT_ERR_MALFORMED,
                            "handshake line %d: no header name", lineno);
    for (char *q = p; q < colon; q++)
      if (!is_tchar((unsigned char)*q))
        return weft_error_set(err, WEFT_ERR_MALFORMED,
                              "handshake line %d: bad character in header "
                              "name",
                              lineno);
    *colon = '\0';
    char *v = colon + 1;
    for (char *q = v; *q; q++)
      if ((unsigned char)*q < 0x20 && *q != '\t')
        return weft_error_set(err, WEFT_ERR_MALFORMED,
                              "handshake line %d: control character in %s",
                              lineno, p);
    while (*v == ' ' || *v == '\t')
      v++;
    char *end = v + strlen(v);
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
      *--end = '\0';
    if (r->nheaders == WEFT__WS_MAX_HEADERS)
      return weft_error_set(err, WEFT_ERR_LIMIT,
                            "handshake: more than %d headers",
                            WEFT__WS_MAX_HEADERS);
    r->headers[r->nheaders].name = p;
    r->headers[r->nheaders].value = v;
    r->nheaders++;
    p = eol + 2;
  }
}

static int copy_block(weft__ws_http *r, const char *buf, size_t len,
                      weft_error *err) {
  memset(r, 0, sizeof *r);
  if (memchr(buf, '\0', len))
    return weft_error_set(err, WEFT_ERR_MALFORMED, "handshake: NUL byte");
  r->raw = malloc(len + 1);
  if (!r->raw)
    return weft_error_set(err, WEFT_ERR_NOMEM, "handshake: out of memory");
  memcpy(r->raw, buf, len);
  r->raw[len] = '\0';
  return 0;
}

int weft__ws_hs_parse_request(weft__ws_http *r, const char *buf, size_t len,
                              weft_error *err) {
  int rv = copy_block(r, buf, len, err);
  if (rv)
    return rv;
  char *p = r->raw, *eol = strstr(p, "\r\n");
  if (!eol)
    return weft_error_set(err, WEFT_ERR_MALFORMED,
                          "handshake: request line not terminated");
  *eol = '\0';
  char *sp1 = strchr(p, ' ');
  char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
  if (!sp1 || !sp2 || strchr(sp2 + 1, ' ') || sp1 == p || sp2 == sp1 + 1)
    return weft_error_set(err, WEFT_ERR_MALFORMED,
                          "handshake: request line is not 'METHOD target "
                          "HTTP/1.1'");
  *sp1 = *sp2 = '\0';
  for (char *q = p; *q; q++)
    if (!is_tchar((unsigned char)*q))
      return weft_error_set(err, WEFT_ERR_MALFORMED, "handshake: bad method");
  for (char *q = sp1 + 1; *q; q++)
    if ((unsigned char)*q <= 0x20 || (unsigned char)*q == 0x7F)
      return weft_error_set(err, WEFT_ERR_MALFORMED,
                            "handshake: bad character in request target");
  if (strncmp(sp2 + 1, "HTTP/", 5) != 0)
    return weft_error_set(err, WEFT_ERR_MALFORMED,
                          "handshake: not an HTTP request");
  r->method = p;
  r->target = sp1 + 1;
  r->version = sp2 + 1;
  /* path and query: split a second copy so target stays whole */
  char *q = strchr(sp1 + 1, '?');
  if (q) {
    /* target is needed intact; path is target's prefix, so keep both by
     * storing the query pointer and cutting a copy of the path below. */
    r->query = q + 1;
  } else {
    r->query = "";
  }
  rv = parse_headers(r, eol + 2, err);
  if (rv)
    return rv;
  /* The path as its own string lives after the block's NUL. */
  size_t plen = q ? (size_t)(q - (sp1 + 1)) : strlen(sp1 + 1);
  char *path = malloc(plen + 1);
  if (!path)
    return weft_error_set(err, WEFT_ERR_NOMEM, "handshake: out of memory");
  memcpy(path, sp1 + 1, plen);
  path[plen] = '\0';
  r->path = path;
  return 0;
}

int weft__ws_hs_parse_response(weft__ws_http *r, const char *buf, size_t len,
                               weft_error *err) {
  int rv = copy_block(r, buf, len, err);
  if (rv)
    return rv;
  char *p = r->raw, *eol = strstr(p, "\r\n");
  if (!eol)
    return weft_error_set(err, WEFT_ERR_MALFORMED,
                          "handshake: status line not terminated");
  *eol = '\0';
  if (strncmp(p, "HTTP/1.", 7) != 0 || !p[7] || p[8] != ' ' ||
      !isdigit((unsigned char)p[9]) || !isdigit((unsigned char)p[10]) ||
      !isdigit((unsigned char)p[11]) || (p[12] != ' ' && p[12] != '\0'))
    return weft_error_set(err, WEFT_ERR_MALFORMED,
                          "handshake: bad status line '%.60s'", p);
  p[8] = '\0';
  r->version = p;
  r->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
  r->reason = p[12] ? p + 13 : "";
  return parse_headers(r, eol + 2, err);
}

void weft__ws_http_free(weft__ws_http *r) {
  if (!r)
    return;
  free(r->raw);
  if (r->method)
    free((char *)r->path);
  memset(r, 0, sizeof *r);
}

const char *weft__ws_http_get(const weft__ws_http *r, const char *name) {
  for (size_t i = 0; i < r->nheaders; i++)
    if (strcasecmp(r->headers[i].name, name) == 0)
      return r->headers[i].value;
  return NULL;
}

static size_t count_header(const weft__ws_http *r, const char *name) {
  size_t n = 0;
  for (size_t i = 0; i < r->nheaders; i++)
    n += strcasecmp(r->headers[i].name, name) == 0;
  return n;
}

/* Calls fn for each comma-separated token of every `name` header; stops
 * when fn returns true. */
static bool each_token(const weft__ws_http *r, const char *name,
                       bool (*fn)(const char *tok, size_t len, void *ud),
                       void *ud) {
  for (size_t i = 0; i < r->nheaders; i++) {
    if (strcasecmp(r->headers[i].name, name) != 0)
      continue;
    const char *s = r->headers[i].value;
    while (*s) {
      while (*s == ' ' || *s == '\t' || *s == ',')
        s++;
      const char *e = s;
      while (*e && *e != ',')
        e++;
      const char *t = e;
      while (t > s && (t[-1] == ' ' || t[-1] == '\t'))
        t--;
      if (t > s && fn(s, (size_t)(t - s), ud))
        return true;
      s = e;
    }
  }
  return false;
}

static bool tok_eq(const char *tok, size_t len, void *ud) {
  const char *want = ud;
  return strlen(want) == len && strncasecmp(tok, want, len) == 0;
}

bool weft__ws_http_has_token(const weft__ws_http *r, const char *name,
                             const char *token) {
  return each_token(r, name, tok_eq, (void *)token);
}

static bool valid_key(const char *key) {
  /* 16 bytes in base64: 22 significant characters then "==". */
  if (!key || strlen(key) != 24 || key[22] != '=' || key[23] != '=')
    return false;
  for (int i = 0; i < 22; i++)
    if (!isalnum((unsigned char)key[i]) && key[i] != '+' && key[i] != '/')
      return false;
  /* the last significant character carries 2 bits: its low 4 must be 0 */
  return strchr("AQgw", key[21]) != NULL;
}

int weft__ws_hs_check_upgrade(const weft__ws_http *r, weft_error *err) {
  if (strcmp(r->method, "GET") != 0) {
    weft_error_set(err, WEFT_ERR_HANDSHAKE, "method %s, not GET", r->method);
    return 405;
  }
  if (strcmp(r->version, "HTTP/1.1") != 0) {
    weft_error_set(err, WEFT_ERR_HANDSHAKE, "%s, not HTTP/1.1", r->version);
    return 400;
  }
  if (r->target[0] != '/') {
    weft_error_set(err, WEFT_ERR_HANDSHAKE, "request target not a path");
    return 400;
  }
  if (count_header(r, "Host") != 1) {
    weft_error_set(err, WEFT_ERR_HANDSHAKE, "missing or repeated Host");
    return 400;
  }
  if (!weft__ws_http_get(r, "Upgrade")) {
    weft_error_set(err, WEFT_ERR_HANDSHAKE, "not a WebSocket upgrade");
    return 426;
  }
  if (!weft__ws_http_has_token(r, "Upgrade", "websocket")) {
    weft_error_set(err, WEFT_ERR_HANDSHAKE, "Upgrade is not websocket");
    return 400;
  }
  if (!weft__ws_http_has_token(r, "Connection", "upgrade")) {
    weft_error_set(err, WEFT_ERR_HANDSHAKE, "Connection lacks Upgrade");
    return 400;
  }
  const char *v = weft__ws_http_get(r, "Sec-WebSocket-Version");
  if (!v || strcmp(v, "13") != 0 ||
      count_header(r, "Sec-WebSocket-Version") != 1) {
    weft_error_set(err, WEFT_ERR_HANDSHAKE, "Sec-WebSocket-Version %s, need 13",
                   v ? v : "missing");
    return 426;
  }
  if (count_header(r, "Sec-WebSocket-Key") != 1 ||
      !valid_key(weft__ws_http_get(r, "Sec-WebSocket-Key"))) {
    weft_error_set(err, WEFT_ERR_HANDSHAKE,
                   "Sec-WebSocket-Key missing, repeated or not 16 bytes");
    return 400;
  }
  return 0;
}

struct pick {
  const char *const *supported;
  int found;
};

static bool pick_fn(const char *tok, size_t len, void *ud) {
  struct pick *p = ud;
  for (int i = 0; p->supported[i]; i++)
    if (strlen(p->supported[i]) == len &&
        strncmp(tok, p->supported[i], len) == 0) {
      p->found = i;
      return true;
    }
  return false;
}

int weft__ws_hs_pick_protocol(const weft__ws_http *r,
                              const char *const *supported) {
  struct pick p = {supported, -1};
  each_token(r, "Sec-WebSocket-Protocol", pick_fn, &p);
  return p.found;
}

void weft__ws_accept_key(const char *key, char out[29]) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  char buf[128];
  int n = snprintf(buf, sizeof buf, "%s%s", key, WEFT__WS_GUID);
  if (n < 0 || (size_t)n >= sizeof buf)
    n = 0; /* over-long keys never validate anyway */
  EVP_Digest(buf, (size_t)n, md, &mdlen, EVP_sha1(), NULL);
  EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen);
}

int weft__ws_make_key(char out[25]) {
  unsigned char raw[16];
  if (RAND_bytes(raw, sizeof raw) != 1)
    return WEFT_ERR_INTERNAL;
  EVP_EncodeBlock((unsigned char *)out, raw, sizeof raw);
  return 0;
}

const char *weft__ws_http_reason(int status) {
  switch (status) {
  case 101:
    return "Switching Protocols";
  case 400:
    return "Bad Request";
  case 401:
    return "Unauthorized";
  case 403:
    return "Forbidden";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 408:
    return "Request Timeout";
  case 426:
    return "Upgrade Required";
  case 429:
    return "Too Many Requests";
  case 431:
    return "Request Header Fields Too Large";
  case 500:
    return "Internal Server Error";
  case 503:
    return "Service Unavailable";
  default:
    return "Error";
  }
}

int weft__ws_hs_response_101(char *out, size_t cap, const char *key,
                             const char *protocol) {
  char accept[29];
  weft__ws_accept_key(key, accept);
  return snprintf(out, cap,
                  "HTTP/1.1 101 Switching Protocols\r\n"
                  "Upgrade: websocket\r\n"
                  "Connection: Upgrade\r\n"
                  "Sec-WebSocket-Accept: %s\r\n"
                  "%s%s%s"
                  "\r\n",
                  accept,
                  protocol && *protocol ? "Sec-WebSocket-Protocol: " : "",
                  protocol && *protocol ? protocol : "",
                  protocol && *protocol ? "\r\n" : "");
}

int weft__ws_hs_response_error(char *out, size_t cap, int status,
                               const char *why) {
  if (!why)
    why = weft__ws_http_reason(status);
  return snprintf(out, cap,
                  "HTTP/1.1 %d %s\r\n"
                  "Content-Type: text/plain; charset=utf-8\r\n"
                  "Content-Length: %zu\r\n"
                  "Connection: close\r\n"
                  "%s"
                  "\r\n"
                  "%s\n",
                  status, weft__ws_http_reason(status), strlen(why) + 1,
                  status == 426 ? "Sec-WebSocket-Version: 13\r\n" : "", why);
}

int weft__ws_hs_client_request(char *out, size_t cap, const char *host_port,
                               const char *target, const char *key,
                               const char *protocols, const char *origin,
                               const char *extra) {
  bool p = protocols && *protocols, o = origin && *origin;
  return snprintf(out, cap,
                  "GET %s HTTP/1.1\r\n"
                  "Host: %s\r\n"
                  "Upgrade: websocket\r\n"
                  "Connection: Upgrade\r\n"
                  "Sec-WebSocket-Key: %s\r\n"
                  "Sec-WebSocket-Version: 13\r\n"
                  "%s%s%s%s%s%s%s\r\n",
                  target && *target ? target : "/", host_port, key,
                  p ? "Sec-WebSocket-Protocol: " : "", p ? protocols : "",
                  p ? "\r\n" : "", o ? "Origin: " : "", o ? origin : "",
                  o ? "\r\n" : "", extra ? extra : "");
}

static bool in_list(const char *list, const char *tok) {
  size_t n = strlen(tok);
  const char *s = list;
  while (s && *s) {
    while (*s == ' ' || *s == ',')
      s++;
    const char *e = s;
    while (*e && *e != ',' && *e != ' ')
      e++;
    if ((size_t)(e - s) == n && strncmp(s, tok, n) == 0)
      return true;
    s = e;
  }
  return false;
}

int weft__ws_hs_check_response(const weft__ws_http *r, const char *key,
                               const char *protocols, char *proto,
                               size_t proto_cap, weft_error *err) {
  if (proto_cap)
    proto[0] = '\0';
  if (r->status != 101)
    return weft_error_set(err, WEFT_ERR_HANDSHAKE, "server answered HTTP %d %s",
                          r->status, r->reason);
  if (!weft__ws_http_has_token(r, "Upgrade", "websocket"))
    return weft_error_set(err, WEFT_ERR_HANDSHAKE,
                          "101 without Upgrade: websocket");
  if (!weft__ws_http_has_token(r, "Connection", "upgrade"))
    return weft_error_set(err, WEFT_ERR_HANDSHAKE,
                          "101 without Connection: Upgrade");
  char want[29];
  weft__ws_accept_key(key, want);
  const char *got = weft__ws_http_get(r, "Sec-WebSocket-Accept");
  if (!got || strcmp(got, want) != 0 ||
      count_header(r, "Sec-WebSocket-Accept") != 1)
    return weft_error_set(err, WEFT_ERR_HANDSHAKE,
                          "Sec-WebSocket-Accept is %s, expected %s",
                          got ? got : "missing", want);
  if (weft__ws_http_get(r, "Sec-WebSocket-Extensions"))
    return weft_error_set(err, WEFT_ERR_HANDSHAKE,
                          "server chose an extension that was not offered");
  const char *p = weft__ws_http_get(r, "Sec-WebSocket-Protocol");
  if (p) {
    if (count_header(r, "Sec-WebSocket-Protocol") != 1 || strchr(p, ',') ||
        !protocols || !in_list(protocols, p))
      return weft_error_set(err, WEFT_ERR_HANDSHAKE,
                            "server chose subprotocol '%s', not offered", p);
    if (strlen(p) >= proto_cap)
      return weft_error_set(err, WEFT_ERR_HANDSHAKE, "subprotocol too long");
    strcpy(proto, p);
  }
  return 0;
}
