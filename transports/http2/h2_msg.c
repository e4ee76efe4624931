#include "h2_msg.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "weft/codec.h"
#include "weft/json.h"

static bool prefix_ci(const char *v, size_t len, const char *p) {
  size_t n = strlen(p);
  if (len < n || strncasecmp(v, p, n) != 0)
    return false;
  /* Exact, or followed by parameters ("; charset=utf-8"). */
  return len == n || v[n] == ';' || v[n] == ' ';
}

weft__h2_ctype weft__h2_parse_ctype(const char *v, size_t len) {
  if (prefix_ci(v, len, "application/json"))
    return WEFT__CT_JSON;
  if (prefix_ci(v, len, "application/proto"))
    return WEFT__CT_PROTO;
  if (prefix_ci(v, len, "application/connect+json"))
    return WEFT__CT_STREAM_JSON;
  if (prefix_ci(v, len, "application/connect+proto"))
    return WEFT__CT_STREAM_PROTO;
  return WEFT__CT_UNKNOWN;
}

const char *weft__h2_ctype_str(weft__h2_ctype t) {
  switch (t) {
  case WEFT__CT_JSON:
    return "application/json";
  case WEFT__CT_PROTO:
    return "application/proto";
  case WEFT__CT_STREAM_JSON:
    return "application/connect+json";
  case WEFT__CT_STREAM_PROTO:
    return "application/connect+proto";
  default:
    return "application/octet-stream";
  }
}

int weft__h2_encode(const void *msg, bool json, uint8_t **out, size_t *len,
                    weft_error *err) {
  if (json) {
    char *s = NULL;
    weft_json_opts jo = {0};
    jo.flags = WEFT_JSON_PROTO_NAMES;
    int rv = weft_json_encode(msg, &jo, &s, len, err);
    *out = (uint8_t *)s;
    return rv;
  }
  int rv = weft_encode_alloc(msg, out, len);
  if (rv < 0)
    weft_error_set(err, rv, "encoding the response failed: %s",
                   weft_strerror(rv));
  return rv;
}

int weft__h2_decode(const weft_msg_desc *d, bool json, const uint8_t *data,
                    size_t len, weft_arena *arena, size_t max_size, void **out,
                    weft_error *err) {
  /* An empty body (HEADERS with END_STREAM, no DATA: RFC 9113 8.1) has no
   * buffer; the decoders compute data + len, and NULL + 0 is undefined in
   * C (clang's UBSan stops the server on it; found by fuzz_h2_server). */
  if (!data)
    data = (const uint8_t *)"";
  if (json) {
    weft_json_opts jo = {0};
    jo.arena = arena;
    return weft_json_decode(d, (const char *)data, len, &jo, out, err);
  }
  weft_decode_opts o = {0};
  o.arena = arena;
  o.max_message_size = max_size;
  return weft_decode(d, data, len, &o, out, err);
}

bool weft__h2_reserved_header(const char *name, size_t len) {
  /* With their lengths: a name is compared only with those of its length
   * (strlen and strncasecmp per entry cost ~400 instructions a request). */
#define R(s)                                                                   \
  { s, sizeof s - 1 }
  static const struct {
    const char *s;
    size_t n;
  } reserved[] = {R("content-type"),
                  R("content-length"),
                  R("content-encoding"),
                  R("accept-encoding"),
                  R("te"),
                  R("connection"),
                  R("host"),
                  R("user-agent"),
                  R("accept")};
#undef R
  if (len > 0 && name[0] == ':')
    return true;
  if (len >= 8 && strncasecmp(name, "connect-", 8) == 0)
    return true;
  if (len >= 5 && strncasecmp(name, "grpc-", 5) == 0)
    return true;
  for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
    if (reserved[i].n == len && strncasecmp(name, reserved[i].s, len) == 0)
      return true;
  return false;
}
