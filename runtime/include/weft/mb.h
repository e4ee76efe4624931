/* The MB broker wire format, as a pure codec (no I/O).
 *
 * MB is the message broker weft services join (and that weft's server can
 * stand in for). Every MB message is one text header line, a newline, then a
 * JSON payload:
 *
 *   action:topic:version[:requestId[:parentRequestId[:timeout]]]\n{...json...}
 *
 * Fields are positional and unescaped; an empty field between two present
 * ones is written empty ("request:t:1.0.0:<id>::5000"). On TCP each message
 * is framed as a 4-byte big-endian length (not counting itself) followed by
 * the message; on WebSocket one text message is one MB message.
 *
 * This header gives: the header parser/validator (every rule of the format,
 * each failure mapped to the MB error code a broker answers with), the header
 * and message encoders, the error-response codec, and an incremental TCP
 * deframer fed arbitrary chunks. Validation rules, and which MB code each
 * failure gets, are listed in docs/COMPAT.md.
 *
 * Ownership, in short: inputs are only read during the call. Encoders
 * return a new malloc'd string the caller free()s (on failure the output
 * pointer is left unchanged unless a comment says otherwise). Parsers
 * that fill a struct with malloc'd strings have a *_clear function; a
 * decoded message's payload points into the caller's input. Every
 * `weft_mb_code *code` out-parameter may be NULL. Names returned by
 * *_name functions are static. */
#ifndef WEFT_MB_H
#define WEFT_MB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "weft/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Limits of the format, as the broker applies them. The header, with its
 * '\n', must fit in WEFT_MB_MAX_HEADER bytes (the broker looks for the
 * newline there), so the header line itself is at most 366 bytes. The
 * payload limit applies to the payloads the broker reads (system topics);
 * others are bounded only by the frame limit, WEFT_MB_MAX_MESSAGE. */
#define WEFT_MB_MAX_HEADER 367 /* header line and its '\n' */
#define WEFT_MB_MAX_HEADER_LINE (WEFT_MB_MAX_HEADER - 1)
#define WEFT_MB_MAX_PAYLOAD 16384 /* a system topic's payload */
#define WEFT_MB_MAX_MESSAGE (WEFT_MB_MAX_HEADER + WEFT_MB_MAX_PAYLOAD)
/* system.service.register, in characters (UTF-16 code units, as the
 * broker counts them) */
#define WEFT_MB_MAX_NAME 36
#define WEFT_MB_MAX_DESCRIPTION 1024
#define WEFT_MB_MAX_TOPIC 255
#define WEFT_MB_MAX_TOPIC_SEGMENTS 5
#define WEFT_MB_UUID_LEN 36
#define WEFT_MB_DEFAULT_TIMEOUT_MS 5000u
#define WEFT_MB_MAX_TIMEOUT_MS 3600000u

typedef enum weft_mb_action {
  WEFT_MB_ACTION_NONE = 0,
  WEFT_MB_PUBLISH = 1,
  WEFT_MB_REQUEST = 2,
  WEFT_MB_RESPONSE = 3
} weft_mb_action;

/* "publish", "request", "response" (lowercase, as written); "" for NONE
 * and any other value. */
const char *weft_mb_action_name(weft_mb_action a);

/* The error codes of the MB format (carried in error responses as their
 * names). WEFT_MB_OK is weft's "no error", never sent. */
#define WEFT_MB_CODE_MAP(X)                                                    \
  X(INVALID_REQUEST)                                                           \
  X(MALFORMED_MESSAGE)                                                         \
  X(INVALID_REQUEST_ID)                                                        \
  X(VERSION_NOT_SUPPORTED)                                                     \
  X(UNAUTHORIZED)                                                              \
  X(FORBIDDEN)                                                                 \
  X(TOPIC_NOT_SUPPORTED)                                                       \
  X(NO_ROUTE_FOUND)                                                            \
  X(SERVICE_UNAVAILABLE)                                                       \
  X(TIMEOUT)                                                                   \
  X(INTERNAL_ERROR)

typedef enum weft_mb_code {
  WEFT_MB_OK = 0,
#define WEFT__MB_CODE_ENUM(name) WEFT_MB_##name,
  WEFT_MB_CODE_MAP(WEFT__MB_CODE_ENUM)
#undef WEFT__MB_CODE_ENUM
      WEFT_MB_CODE_COUNT
} weft_mb_code;

/* "INVALID_REQUEST" ...; "OK" for WEFT_MB_OK; "INTERNAL_ERROR" if unknown. */
const char *weft_mb_code_name(weft_mb_code c);
/* Exact (case-sensitive) name -> code; -1 if unknown (also for "OK",
 * which is not a wire code). name[0..len) need not be NUL-terminated. */
int weft_mb_code_from_name(const char *name, size_t len);

/* A parsed (or to-be-written) header. Strings are NUL-terminated copies.
 * An absent optional field is an empty string / has_timeout false. */
typedef struct weft_mb_header {
  weft_mb_action action;
  char topic[WEFT_MB_MAX_TOPIC + 1];
  char version[WEFT_MB_MAX_HEADER + 1];
  char request_id[WEFT_MB_UUID_LEN + 1];
  char parent_request_id[WEFT_MB_UUID_LEN + 1];
  bool has_timeout;    /* the timeout field was present (and non-empty) */
  uint32_t timeout_ms; /* WEFT_MB_DEFAULT_TIMEOUT_MS when absent */
} weft_mb_header;

/* Validators, one rule each (exposed for the broker and for tests). They
 * only read s[0..len) (need not be NUL-terminated) and cannot fail. */
bool weft_mb_topic_valid(const char *s, size_t len);
bool weft_mb_semver_valid(const char *s, size_t len);
/* Lowercase 8-4-4-4-12 hex UUID (the broker checks the shape only; weft
 * writes version 4). node-semver's valid() for versions: white space around
 * and a leading "v" are allowed. */
bool weft_mb_uuid_valid(const char *s, size_t len);

/* Fills h with action/topic/version, no ids, default timeout. Strings longer
 * than their buffers are cut: a version so cut no longer fits the header
 * (the encoder rejects it), but a topic cut to WEFT_MB_MAX_TOPIC is a valid
 * other topic, so check its length first (weft_mb_client_* refuse an
 * over-long topic with WEFT_ERR_TOO_BIG). topic and version may be NULL
 * (empty); they are copied. Cannot fail. */
void weft_mb_header_init(weft_mb_header *h, weft_mb_action action,
                         const char *topic, const char *version);

/* Parses and validates a header line (without the '\n') by the broker's
 * rules. On failure returns a negative WEFT_ERR_* (MALFORMED, TOO_BIG), sets
 * *code to MALFORMED_MESSAGE (the broker's code for every header error) and
 * err to what and where; h then holds every field that was valid. Fields
 * past the sixth are ignored; a request without an id is legal
 * (fire-and-forget); a timeout is read as JavaScript's parseInt reads it and
 * is allowed on requests only. h is reset first; all its strings are
 * copies (line need not be NUL-terminated). Returns 0 with *code OK. */
int weft_mb_header_parse(const char *line, size_t len, weft_mb_header *h,
                         weft_mb_code *code, weft_error *err);

/* Writes the header line (without '\n') into buf, NUL-terminated. Returns the
 * length, or WEFT_ERR_INVAL (a field breaks a rule, or a timeout on anything
 * but a request; err says which) or
 * WEFT_ERR_TOO_BIG (cap too small). Trailing absent fields are omitted;
 * absent fields before a present one are written empty. buf is the
 * caller's; nothing is allocated. */
ssize_t weft_mb_header_encode(const weft_mb_header *h, char *buf, size_t cap,
                              weft_error *err);

/* A whole message. payload points into the decoded buffer (the `data`
 * given to weft_mb_decode): valid as long as the caller keeps that buffer;
 * nothing to free. */
typedef struct weft_mb_message {
  weft_mb_header header;
  const char *payload;
  size_t payload_len;
} weft_mb_message;

/* weft_mb_decode() flags */
enum {
  /* Don't check that the payload is one JSON value (the caller will parse
   * it anyway and wants to skip the second pass). */
  WEFT_MB_NO_JSON_CHECK = 1u << 0,
  /* Don't apply WEFT_MB_MAX_PAYLOAD (the broker forwards any payload that
   * fits the frame; only system topics are limited). */
  WEFT_MB_NO_PAYLOAD_LIMIT = 1u << 1
};

/* Splits and validates one MB message: the header must end (with '\n')
 * within WEFT_MB_MAX_HEADER bytes, the payload is at most
 * WEFT_MB_MAX_PAYLOAD bytes (unless WEFT_MB_NO_PAYLOAD_LIMIT) and valid JSON
 * (unless WEFT_MB_NO_JSON_CHECK). Errors as weft_mb_header_parse, plus
 * WEFT_ERR_TOO_BIG and WEFT_ERR_JSON_SYNTAX for the payload (both
 * MALFORMED_MESSAGE), and WEFT_ERR_MALFORMED / WEFT_ERR_TOO_BIG when no
 * '\n' comes within WEFT_MB_MAX_HEADER bytes; out->header holds what was
 * valid (out->payload is NULL unless the header parsed). out is reset
 * first; nothing is allocated. */
int weft_mb_decode(const char *data, size_t len, unsigned flags,
                   weft_mb_message *out, weft_mb_code *code, weft_error *err);

/* Header + '\n' + payload into a new malloc'd, NUL-terminated buffer
 * (*out_len excludes the NUL). payload NULL means "{}". The payload is
 * written as given (not re-validated); over WEFT_MB_MAX_MESSAGE bytes in
 * all is WEFT_ERR_TOO_BIG. Also the errors of weft_mb_header_encode
 * (WEFT_ERR_INVAL, _TOO_BIG) and WEFT_ERR_NOMEM. On success *out is the
 * caller's (free()); out_len may be NULL. On failure *out is not written. */
int weft_mb_encode(const weft_mb_header *h, const char *payload,
                   size_t payload_len, char **out, size_t *out_len,
                   weft_error *err);

/* Error responses: "response:<topic>:<version>[:<id>]\n" then
 *   {"error":{"code":"<CODE>","message":"...","timestamp":"...","details":...}}
 * timestamp is RFC 3339 UTC with milliseconds ("2026-11-23T12:00:00.000Z")
 * made from unix_ms; details is JSON text or NULL (then omitted).
 * request_id may be NULL or "". The topic and version must be valid (a
 * broker answering an unparsable header uses the parts it could read, or
 * "system.error" / "1.0.0"). Returns 0 (*out as for weft_mb_encode), or
 * WEFT_ERR_INVAL (code is OK or out of range, request_id not 36
 * characters, or a header rule broken), WEFT_ERR_JSON_SYNTAX (details_json
 * does not start with a JSON value; text after the first value is
 * ignored), WEFT_ERR_TOO_BIG, WEFT_ERR_NOMEM. message NULL is "". */
int weft_mb_error_encode(const char *topic, const char *version,
                         const char *request_id, weft_mb_code code,
                         const char *message, int64_t unix_ms,
                         const char *details_json, char **out, size_t *out_len,
                         weft_error *err);

/* If payload is an error body, fills what it carries and returns 1; returns
 * 0 if it is JSON but not an error body; < 0 if it is not JSON
 * (WEFT_ERR_JSON_SYNTAX, also when the parser ran out of memory) or
 * WEFT_ERR_NOMEM. Strings are malloc'd (free with weft_mb_error_info_clear;
 * out is zeroed first and owns nothing after 0 or < 0). message and
 * timestamp are NULL when absent or not strings (or when copying them ran
 * out of memory: only code_name is checked). */
typedef struct weft_mb_error_info {
  weft_mb_code code; /* INTERNAL_ERROR for a code name weft doesn't know */
  char *code_name;   /* as sent */
  char *message;
  char *timestamp;
  char *details_json; /* NULL if absent */
} weft_mb_error_info;
int weft_mb_error_parse(const char *payload, size_t len,
                        weft_mb_error_info *out, weft_error *err);
/* Frees the strings and zeroes e. Accepts NULL. */
void weft_mb_error_info_clear(weft_mb_error_info *e);

/* RFC 3339 UTC with milliseconds; buf needs 25 bytes (the caller's). Years
 * outside 0..9999 are written as the epoch. Cannot fail. */
void weft_mb_format_timestamp(int64_t unix_ms, char buf[25]);

/* --- System topics and their payloads. --- */

#define WEFT_MB_TOPIC_INITIALIZE "system.initialize"
#define WEFT_MB_TOPIC_REGISTER "system.service.register"
#define WEFT_MB_TOPIC_SUBSCRIBE "system.topic.subscribe"
#define WEFT_MB_TOPIC_UNSUBSCRIBE "system.topic.unsubscribe"
#define WEFT_MB_TOPIC_HEARTBEAT "system.heartbeat"
#define WEFT_MB_TOPIC_SERVICE_LIST "system.service.list"
#define WEFT_MB_TOPIC_SERVICE_SUBSCRIPTIONS "system.service.subscriptions"
#define WEFT_MB_TOPIC_TOPIC_LIST "system.topic.list"
#define WEFT_MB_TOPIC_TOPIC_SUBSCRIPTIONS "system.topic.subscriptions"
#define WEFT_MB_TOPIC_LOG_SUBSCRIBE "system.log.subscribe"
#define WEFT_MB_TOPIC_LOG_UNSUBSCRIBE "system.log.unsubscribe"
#define WEFT_MB_TOPIC_METRICS "system.metrics"
#define WEFT_MB_SYSTEM_VERSION "1.0.0"
/* The acknowledgement of a publish that carried a request id, and of the
 * system requests. */
#define WEFT_MB_ACK_PAYLOAD "{\"status\":\"success\"}"

/* system.service.register: {"name","description"}, both non-empty strings
 * of at most WEFT_MB_MAX_NAME / WEFT_MB_MAX_DESCRIPTION characters. */
typedef struct weft_mb_register {
  char *name;        /* malloc'd */
  char *description; /* malloc'd */
} weft_mb_register;

/* system.topic.subscribe {"action","topic","priority"} and
 * system.topic.unsubscribe {"action","topic"}. action is publish or
 * request: which kind of message on the topic the subscriber receives. */
typedef struct weft_mb_subscription {
  weft_mb_action action;
  char topic[WEFT_MB_MAX_TOPIC + 1];
  double priority; /* higher wins for requests; 0 when absent; any finite
                     number, as the broker takes a JSON number */
} weft_mb_subscription;

/* Payload encoders: new malloc'd NUL-terminated JSON text in *out (the
 * caller free()s it; out_len may be NULL). A NULL or empty description is
 * sent as the name (the broker refuses an empty one); a missing name, or a
 * name or description over the broker's limits, is WEFT_ERR_INVAL. For a
 * subscription, an action other than publish/request or an invalid topic
 * is WEFT_ERR_INVAL. Also WEFT_ERR_NOMEM. */
int weft_mb_register_encode(const char *name, const char *description,
                            char **out, size_t *out_len, weft_error *err);
/* unsubscribe: writes {"action","topic"} only. */
int weft_mb_subscription_encode(const weft_mb_subscription *s, bool unsubscribe,
                                char **out, size_t *out_len, weft_error *err);
/* Payload parsers, by the broker's rules. Failures are INVALID_REQUEST in
 * *code (MALFORMED_MESSAGE if not JSON, INTERNAL_ERROR for an empty or null
 * payload, as the broker answers), with err naming the key. A subscription
 * may name the action "response": it parses (action
 * WEFT_MB_RESPONSE), and the broker answers {"status":"failure"}. System
 * topics are refused (INVALID_REQUEST) except those the broker lets a
 * service subscribe to (system.log, system.message, and the register,
 * subscribe and unsubscribe topics) or unsubscribe from (register and
 * subscribe). The weft code returned is WEFT_ERR_MALFORMED (a rule broken,
 * an empty payload), WEFT_ERR_JSON_SYNTAX, WEFT_ERR_JSON_TYPE,
 * WEFT_ERR_TOO_BIG (over the payload limit, or a name or description too
 * long), WEFT_ERR_RPC (the payload is itself an MB error object: *code is
 * its code) or WEFT_ERR_NOMEM. out is reset first; a parsed register
 * owns malloc'd strings (free with weft_mb_register_clear, which accepts
 * NULL); on failure it owns nothing. A subscription has no strings to
 * free. */
int weft_mb_register_parse(const char *payload, size_t len,
                           weft_mb_register *out, weft_mb_code *code,
                           weft_error *err);
void weft_mb_register_clear(weft_mb_register *r);
/* unsubscribe: the payload of system.topic.unsubscribe (no priority; a
 * different set of system topics allowed). */
int weft_mb_subscription_parse(const char *payload, size_t len,
                               bool unsubscribe, weft_mb_subscription *out,
                               weft_mb_code *code, weft_error *err);

/* A new lowercase UUIDv4 from 16 random bytes (which it modifies: version
 * and variant bits) into the caller's out, NUL-terminated. Cannot fail;
 * the caller supplies the randomness. */
void weft_mb_uuid_format(uint8_t random16[16], char out[WEFT_MB_UUID_LEN + 1]);

/* --- TCP framing: 4-byte big-endian length, then the message. --- */

/* Writes the 4-byte prefix for a message of len bytes (len is not checked:
 * lengths over 32 bits are cut). */
void weft_mb_frame_prefix(uint8_t out[4], size_t len);

/* Incremental, I/O-free deframer. Feed it whatever the socket gave; it
 * returns whole messages. */
typedef struct weft_mb_deframer {
  size_t max_len; /* limit on one message */
  uint8_t prefix[4];
  unsigned prefix_have;
  uint8_t *buf; /* partial message being assembled */
  size_t need;  /* length from the prefix */
  size_t have;
  int failed; /* sticky error: the connection must be closed */
} weft_mb_deframer;

/* max_len 0: WEFT_MB_MAX_MESSAGE (16,751 bytes, the broker's limit). init
 * allocates nothing; the first message split over several feeds allocates
 * a max_len buffer, kept until free. free releases it and keeps a sticky
 * error (init again to reuse the deframer). Both take the caller's struct
 * (free accepts NULL). */
void weft_mb_deframer_init(weft_mb_deframer *d, size_t max_len);
void weft_mb_deframer_free(weft_mb_deframer *d);

/* Consumes bytes from in[0..len). Returns the number consumed (>= 0); if a
 * whole message is complete it stops right after it and sets *msg and *msg_len
 * (else *msg = NULL). The message stays valid until the next call (it points
 * into `in` when the message arrived in one piece, else into the deframer's
 * buffer). Call again with the rest of the input until it returns 0 with no
 * message. A length of 0 is a message of 0 bytes (*msg non-NULL, *msg_len
 * 0: the broker answers it MALFORMED_MESSAGE). A length over max_len is
 * WEFT_ERR_FRAME_TOO_BIG, and sticky: the connection must be closed. Also
 * WEFT_ERR_NOMEM when the reassembly buffer cannot be allocated (not
 * sticky, but prefix bytes consumed by that call are then not reported:
 * close the connection). The message is not copied out: copy it to keep
 * it. */
ssize_t weft_mb_deframer_feed(weft_mb_deframer *d, const uint8_t *in,
                              size_t len, const uint8_t **msg, size_t *msg_len,
                              weft_error *err);

#ifdef __cplusplus
}
#endif
#endif
