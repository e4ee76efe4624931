/* HTTP/1.1 syntax shared by the server engine (h1_engine.c) and the client
 * engine (h1_client.c): tokens, field lines, list values, Content-Length,
 * Transfer-Encoding and chunk-size lines (RFC 9110 section 5, RFC 9112
 * sections 5-7). Pure functions over buffers; the engines decide what a
 * failure means for their peer (an HTTP status to answer, or a broken
 * response). Error messages name what is wrong and where, without the
 * "HTTP/1.1: " prefix the engines add. */
#ifndef WEFT_TRANSPORTS_HTTP1_H1_COMMON_H
#define WEFT_TRANSPORTS_HTTP1_H1_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weft/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A field as it arrived (name case kept; value without surrounding
 * whitespace). Both are NUL-terminated, in the engine's buffer, valid
 * during the callback only. */
typedef struct weft__h1_field {
  const char *name;
  const char *value;
  size_t name_len, value_len;
} weft__h1_field;

bool weft__h1_is_tchar(unsigned char c);
static inline bool weft__h1_is_ows(unsigned char c) {
  return c == ' ' || c == '\t';
}

/* Calls fn for each element of a comma-separated list value (RFC 9110
 * section 5.6.1: empty elements are ignored); stops at fn's first non-zero
 * return and returns it. */
int weft__h1_each_token(const char *v,
                        int (*fn)(void *ud, const char *tok, size_t len),
                        void *ud);
/* Case-insensitive comparison of a list element with word. */
bool weft__h1_tok_is(const char *tok, size_t len, const char *word);

/* Parses the field lines of a head or trailer block, [pos, end), each
 * ending in CRLF, up to the empty line, in place (NULs are written over the
 * colons and CRs). Fields go to *fields (grown with realloc; *cap is its
 * capacity), their count to *nout. `what` names a line in messages
 * ("field", "trailer"). Returns 0, WEFT_ERR_PROTOCOL (obs-fold, whitespace
 * before the colon, no colon, a control character in a value, a bare CR)
 * or WEFT_ERR_NOMEM; err says which line. */
int weft__h1_parse_fields(char *pos, char *end, weft__h1_field **fields,
                          size_t *cap, size_t *nout, const char *what,
                          weft_error *err);

/* Content-Length: 1..18 ASCII digits. Returns the length or -1. */
int64_t weft__h1_parse_content_length(const char *v, size_t len);

/* Transfer-Encoding, summed over every such field of a message. */
typedef struct weft__h1_te {
  unsigned fields;   /* Transfer-Encoding field lines, empty ones included */
  unsigned n;        /* codings listed */
  unsigned chunked;  /* how many of them are "chunked" */
  bool last_chunked; /* the final coding is "chunked" */
} weft__h1_te;
void weft__h1_te_add(weft__h1_te *te, const char *value);

/* Counts an Expect value's elements: 100-continue ones and any other. */
void weft__h1_expect_count(const char *value, unsigned *cont, unsigned *other);
/* A Host value is uri-host [":" port] (RFC 9112 section 3.2; empty is
 * allowed): reg-name characters, an IP literal in brackets, digits after
 * the colon. */
bool weft__h1_host_valid(const char *value);

/* Connection options that matter for persistence. */
typedef struct weft__h1_conn_opts {
  bool close, keep_alive;
} weft__h1_conn_opts;
void weft__h1_conn_add(weft__h1_conn_opts *co, const char *value);

/* A chunk-size line without its CRLF ("1a;ext=1"). Extensions are ignored
 * but must be free of control characters. *size gets the size. Returns 0,
 * WEFT_ERR_PROTOCOL (not hex, junk after the size, a control character) or
 * WEFT_ERR_TOO_BIG (over 15 hex digits). */
int weft__h1_parse_chunk_size(const char *line, size_t len, uint64_t *size,
                              weft_error *err);

/* Sets err (when not NULL) to code and prefix followed by fmt's text (cut
 * to the message's size); returns code. The engines' failure paths. */
int weft__h1_verror(weft_error *err, int code, const char *prefix,
                    const char *fmt, va_list ap);

/* A field the owner wants to send: the name a token, the value free of
 * CR, LF and NUL. */
bool weft__h1_field_valid(const char *name, const char *value);

#ifdef __cplusplus
}
#endif
#endif
