/* Local errors mapped into gRPC's status space, so every failure a caller
 * sees carries a status code. */
#include "rpc_internal.h"

int weft__status_from_error(int err, bool server_side) {
  switch (err) {
  case 0:
    return WEFT_STATUS_OK;
  case WEFT_ERR_TIMEOUT:
    return WEFT_STATUS_DEADLINE_EXCEEDED;
  case WEFT_ERR_CANCELLED:
    return WEFT_STATUS_CANCELLED;
  case WEFT_ERR_CONNECT:
  case WEFT_ERR_CLOSED:
  case WEFT_ERR_IO:
  case WEFT_ERR_RESOLVE:
  case WEFT_ERR_TLS:
  case WEFT_ERR_HANDSHAKE:
  case WEFT_ERR_AGAIN:
  case WEFT_ERR_STATE:
    return WEFT_STATUS_UNAVAILABLE;
  case WEFT_ERR_AUTH:
    return WEFT_STATUS_UNAUTHENTICATED;
  case WEFT_ERR_TOO_BIG:
  case WEFT_ERR_FRAME_TOO_BIG:
  case WEFT_ERR_LIMIT:
  case WEFT_ERR_NOMEM:
    return WEFT_STATUS_RESOURCE_EXHAUSTED;
  case WEFT_ERR_UNSUPPORTED:
  case WEFT_ERR_UNKNOWN_SCHEME:
    return WEFT_STATUS_UNIMPLEMENTED;
  case WEFT_ERR_INVAL:
  case WEFT_ERR_BAD_URL:
    return WEFT_STATUS_INVALID_ARGUMENT;
  case WEFT_ERR_TRUNCATED:
  case WEFT_ERR_MALFORMED:
  case WEFT_ERR_WIRE_TYPE:
  case WEFT_ERR_UTF8:
  case WEFT_ERR_DEPTH:
  case WEFT_ERR_MISSING_REQUIRED:
  case WEFT_ERR_JSON_SYNTAX:
  case WEFT_ERR_JSON_TYPE:
  case WEFT_ERR_JSON_UNKNOWN_FIELD:
  case WEFT_ERR_JSON_DUPLICATE:
  case WEFT_ERR_JSON_RANGE:
  case WEFT_ERR_JSON_ENUM:
  case WEFT_ERR_JSON_ONEOF:
  case WEFT_ERR_JSON_WKT:
  case WEFT_ERR_JSON_ANY_TYPE:
    return server_side ? WEFT_STATUS_INVALID_ARGUMENT : WEFT_STATUS_INTERNAL;
  case WEFT_ERR_FRAME:
  case WEFT_ERR_PROTOCOL:
  case WEFT_ERR_INTERNAL:
    return WEFT_STATUS_INTERNAL;
  default:
    return WEFT_STATUS_UNKNOWN;
  }
}
