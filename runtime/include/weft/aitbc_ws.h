/* The JSON messages of the AITBC WebSocket API and of the AITBC SDK's
 * WebSocket transport, as a pure codec (no I/O).
 *
 * Existing AITBC dashboards and SDK clients speak these text messages; weft's
 * WebSocket server answers them beside its own envelope protocol. Kinds:
 *
 *   server push   {"job_id","state","assigned_miner_id","timestamp","progress"}
 *                 {"type":"new_block","block":{...}}
 *                 {"type":"transaction_confirmed"|"transaction_pending","tx_hash"}
 *                 {"type":"fork_detected"|"sync_status", ...}
 *                 {"type":"new_offer"|"offer_matched"|..., "offer":{...}}
 *   keepalive     {"type":"ping"} answered by {"type":"pong"}
 *   SDK           {id,type:"request",method,path,data,params,timestamp}
 *                 -> {type:"response",id,status,data}
 *                 {id,type:"subscribe",event|method+path,data,timestamp}
 *                 -> {type:"subscription",subscription_id,status:"confirmed"}
 *                 -> {type:"event",event,data}
 *                 {id,type:"unsubscribe",timestamp}
 *                 {type:"error",message} (with "id" when it answers one)
 *
 * The parser turns one text message into a tagged struct; nested JSON values
 * (block, offer, data, params) are kept as compact JSON text, ready for
 * weft_json_decode() into the aitbc.v1 types (docs/AITBC_SCHEMA.md). The
 * encoder writes a struct back, keys in the order AITBC writes them. */
#ifndef WEFT_AITBC_WS_H
#define WEFT_AITBC_WS_H

#include <stdbool.h>
#include <stddef.h>

#include "weft/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum weft_aitbc_ws_kind {
  WEFT_AITBC_WS_UNKNOWN = 0, /* has a "type" weft does not know */
  WEFT_AITBC_WS_JOB_STATUS,  /* no "type": a job status push */
  WEFT_AITBC_WS_BLOCKCHAIN_EVENT,
  WEFT_AITBC_WS_MARKETPLACE_EVENT,
  WEFT_AITBC_WS_PING,
  WEFT_AITBC_WS_PONG,
  WEFT_AITBC_WS_REQUEST,
  WEFT_AITBC_WS_RESPONSE,
  WEFT_AITBC_WS_SUBSCRIBE,
  WEFT_AITBC_WS_SUBSCRIPTION,
  WEFT_AITBC_WS_EVENT,
  WEFT_AITBC_WS_UNSUBSCRIBE,
  WEFT_AITBC_WS_ERROR
} weft_aitbc_ws_kind;

/* "job_status", "blockchain_event", ... (for logs and errors). A static
 * string; "unknown" for values outside the enum. */
const char *weft_aitbc_ws_kind_name(weft_aitbc_ws_kind k);

/* One message. Every pointer is malloc'd and owned (NULL = absent or JSON
 * null); weft_aitbc_ws_msg_clear() frees them. Which members a kind uses:
 *   JOB_STATUS        job_id, state, assigned_miner_id, timestamp, progress
 *   BLOCKCHAIN_EVENT  type; block (new_block) | tx_hash (transaction_*) |
 *                     body (fork_detected: "fork", sync_status:
 *                     "sync_status", as JSON text)
 *   MARKETPLACE_EVENT type, offer
 *   PING, PONG        (timestamp, if sent)
 *   REQUEST           id, method, path, data, params, timestamp
 *   RESPONSE          id, status_code (has_status_code), data, message
 *   SUBSCRIBE         id, event | method+path, data, timestamp
 *   SUBSCRIPTION      subscription_id, status ("confirmed", "error")
 *   EVENT             event, data, subscription_id, timestamp
 *   UNSUBSCRIBE       id, timestamp
 *   ERROR             message, id
 *   UNKNOWN           type (and whatever else was recognised) */
typedef struct weft_aitbc_ws_msg {
  weft_aitbc_ws_kind kind;
  char *type; /* as sent; NULL for JOB_STATUS (it carries none) */
  /* Request/subscription id, as text. SDK ids are UUID strings; a numeric
   * id is kept as its text and id_is_number set, so a reply echoes it back
   * as a number. */
  char *id;
  bool id_is_number;
  char *method;
  char *path;
  char *event;
  char *subscription_id;
  char *status;    /* subscription status */
  int status_code; /* response "status" when numeric */
  bool has_status_code;
  char *message; /* error message (or a response's message) */
  char *timestamp;
  /* Nested JSON, as compact JSON text. */
  char *data;
  char *params;
  char *block;
  char *offer;
  char *body;
  char *tx_hash;
  /* Job status. */
  char *job_id;
  char *state;
  char *assigned_miner_id;
  double progress;
  bool has_progress;
} weft_aitbc_ws_msg;

/* Parses one text message. Errors (message in err names the key):
 *   WEFT_ERR_JSON_SYNTAX  not JSON (or junk after the value)
 *   WEFT_ERR_JSON_TYPE    not an object, or a key has the wrong JSON type
 *   WEFT_ERR_MALFORMED    a key the kind requires is missing (e.g. a request
 *                         without "method", a new_block without "block"), or
 *                         an object with neither "type" nor "job_id"+"state"
 *   WEFT_ERR_NOMEM
 * An unknown "type" is not an error: kind UNKNOWN, so a server can answer
 * it with an error message instead of dropping the connection.
 * text[0..len) is only read during the call. m is zeroed first, without
 * freeing what it held: clear a reused message before parsing into it. On
 * success m owns malloc'd strings (free with weft_aitbc_ws_msg_clear); on
 * failure *m is cleared and owns nothing. Running out of memory inside the
 * JSON parser reads as WEFT_ERR_JSON_SYNTAX (cJSON does not tell them
 * apart). */
int weft_aitbc_ws_parse(const char *text, size_t len, weft_aitbc_ws_msg *m,
                        weft_error *err);

/* Writes m as compact JSON into a new malloc'd NUL-terminated string.
 * Required members of the kind must be set (WEFT_ERR_INVAL otherwise);
 * data/params/block/offer/body must be valid JSON text (WEFT_ERR_JSON_SYNTAX).
 * For REQUEST, "data" and "params" are always written (null when absent),
 * as the SDK does. type is taken from m->type when set, else from the kind
 * (events need m->type). Kind UNKNOWN (or any other value) cannot be
 * encoded: WEFT_ERR_INVAL. Also WEFT_ERR_NOMEM. m is only read. On success
 * *out is the caller's (free()) and *out_len its length (out_len may be
 * NULL); on failure *out is NULL. */
int weft_aitbc_ws_encode(const weft_aitbc_ws_msg *m, char **out,
                         size_t *out_len, weft_error *err);

/* Frees every string m owns and zeroes it (ready for reuse). Accepts NULL
 * and a zeroed message. */
void weft_aitbc_ws_msg_clear(weft_aitbc_ws_msg *m);

/* Event `type`s of each family (known to the parser). False for NULL;
 * exact, case-sensitive names. */
bool weft_aitbc_ws_is_blockchain_event(const char *type);
bool weft_aitbc_ws_is_marketplace_event(const char *type);
/* QUEUED/RUNNING -> false; COMPLETED, FAILED, CANCELLED, EXPIRED -> true.
 * Case-sensitive; NULL and unknown states -> false. */
bool weft_aitbc_job_state_terminal(const char *state);

#ifdef __cplusplus
}
#endif
#endif
