/* Error codes shared by every weft module.
 *
 * Every fallible weft function returns 0 (or a byte count) on success and a
 * negative WEFT_ERR_* on failure. Where a caller needs to know *what* went
 * wrong and *where* (a field path, a byte offset, a frame), the function also
 * takes a weft_error that receives a human-readable message. The codes are
 * grouped by what the caller must do next, as wslay does: bad input (reject
 * it, keep going), resource limits, connection-level failures (the connection
 * is gone), and programming errors. */
#ifndef WEFT_ERROR_H
#define WEFT_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* X(name, value, message) */
#define WEFT_ERRNO_MAP(X)                                                      \
  X(INVAL, -1, "invalid argument")                                             \
  X(NOMEM, -2, "out of memory")                                                \
  X(TRUNCATED, -10, "input truncated")                                         \
  X(MALFORMED, -11, "malformed input")                                         \
  X(WIRE_TYPE, -12, "wrong wire type for field")                               \
  X(UTF8, -13, "invalid UTF-8")                                                \
  X(DEPTH, -14, "nesting too deep")                                            \
  X(TOO_BIG, -15, "message too large")                                         \
  X(MISSING_REQUIRED, -16, "required field missing")                           \
  X(JSON_SYNTAX, -20, "invalid JSON")                                          \
  X(JSON_TYPE, -21, "JSON value has the wrong type for the field")             \
  X(JSON_UNKNOWN_FIELD, -22, "unknown field")                                  \
  X(JSON_DUPLICATE, -23, "duplicate field")                                    \
  X(JSON_RANGE, -24, "value out of range")                                     \
  X(JSON_ENUM, -25, "unknown enum value")                                      \
  X(JSON_ONEOF, -26, "more than one member of a oneof")                        \
  X(JSON_WKT, -27, "invalid well-known type value")                            \
  X(JSON_ANY_TYPE, -28, "unknown Any type URL")                                \
  X(FRAME, -30, "protocol framing error")                                      \
  X(FRAME_TOO_BIG, -31, "frame over the size limit")                           \
  X(PROTOCOL, -32, "protocol violation")                                       \
  X(HANDSHAKE, -33, "handshake failed")                                        \
  X(CLOSED, -40, "connection closed")                                          \
  X(IO, -41, "I/O error")                                                      \
  X(TIMEOUT, -42, "timed out")                                                 \
  X(CONNECT, -43, "connection failed")                                         \
  X(TLS, -44, "TLS error")                                                     \
  X(RESOLVE, -45, "could not resolve host")                                    \
  X(AUTH, -46, "the peer refused the credentials")                             \
  X(UNSUPPORTED, -50, "unsupported")                                           \
  X(UNKNOWN_SCHEME, -51, "no transport registered for URL scheme")             \
  X(BAD_URL, -52, "malformed URL")                                             \
  X(STATE, -53, "operation not valid in this state")                           \
  X(RPC, -60, "call failed with a non-OK status")                              \
  X(CANCELLED, -61, "call cancelled")                                          \
  X(LIMIT, -62, "limit exceeded")                                              \
  X(AGAIN, -63, "try again")                                                   \
  X(INTERNAL, -99, "internal error")

enum weft_errno {
#define WEFT__ERR_ENUM(name, val, msg) WEFT_ERR_##name = (val),
  WEFT_ERRNO_MAP(WEFT__ERR_ENUM)
#undef WEFT__ERR_ENUM
};

/* Static description of an error code; never NULL. */
const char *weft_strerror(int code);
/* "WEFT_ERR_UTF8" style name of an error code; never NULL. */
const char *weft_errname(int code);

/* Detailed error: a code plus a message naming what and where, e.g.
 * "jobs[3].timestamp: not an RFC 3339 time". Fixed size so it can live on the
 * stack and be filled without allocation (errors must not fail). */
#define WEFT_ERROR_MSG_MAX 256
typedef struct weft_error {
  int code;
  char message[WEFT_ERROR_MSG_MAX];
} weft_error;

/* Sets err (if not NULL) and returns code, so callers can write
 * `return weft_error_set(err, WEFT_ERR_UTF8, "%s: invalid UTF-8", path);` */
int weft_error_set(weft_error *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
void weft_error_clear(weft_error *err);

#ifdef __cplusplus
}
#endif
#endif
