/* Message payloads as proto3 JSON text, for the mux on JSON connections. */
#include <stdlib.h>

#include "mux_internal.h"
#ifdef WEFT_HAVE_JSON
#include "weft/json.h"
#endif

/* ---- payloads ---------------------------------------------------------- */

int weft__payload_json_encode(const void *msg, char **out, size_t *len) {
#ifdef WEFT_HAVE_JSON
  weft_error err;
  return weft_json_encode(msg, NULL, out, len, &err);
#else
  (void)msg;
  (void)out;
  (void)len;
  return WEFT_ERR_UNSUPPORTED;
#endif
}

int weft__payload_json_decode(const weft_msg_desc *d, const uint8_t *p,
                              size_t n, weft_arena *arena, void **out,
                              weft_error *err) {
#ifdef WEFT_HAVE_JSON
  weft_json_opts o = {.arena = arena};
  return weft_json_decode(d, (const char *)p, n, &o, out, err);
#else
  (void)d;
  (void)p;
  (void)n;
  (void)arena;
  (void)out;
  return weft_error_set(err, WEFT_ERR_UNSUPPORTED,
                        "JSON payloads need weft_json");
#endif
}
