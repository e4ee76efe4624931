/* libFuzzer target: the weft.v1.Envelope decoders (binary and JSON). A
 * decoded envelope is re-encoded and decoded again: the two must agree. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "mux_internal.h"

#define MAX_MD 64

static void check_roundtrip(const weft__env *e) {
  const char *keys[MAX_MD];
  const uint8_t *vals[MAX_MD];
  size_t lens[MAX_MD];
  char *keybufs[MAX_MD];
  size_t n = 0, pos = 0;
  weft__env_md kv;
  if (e->n_md > MAX_MD)
    return;
  while (weft__env_md_next(e, &pos, &kv) == 1) {
    if (memchr(kv.key.p, 0, kv.key.n)) { /* keys are C strings in the encoder */
      for (size_t i = 0; i < n; i++)
        free(keybufs[i]);
      return;
    }
    keybufs[n] = malloc(kv.key.n + 1);
    memcpy(keybufs[n], kv.key.p, kv.key.n);
    keybufs[n][kv.key.n] = 0;
    keys[n] = keybufs[n];
    vals[n] = kv.value.p;
    lens[n] = kv.value.n;
    n++;
  }
  char *method = malloc(e->method.n + 1),
       *msg = malloc(e->status_message.n + 1);
  memcpy(method, e->method.p, e->method.n);
  method[e->method.n] = 0;
  memcpy(msg, e->status_message.p, e->status_message.n);
  msg[e->status_message.n] = 0;
  weft__env_out o = {.stream_id = e->stream_id,
                     .kind = e->kind,
                     .method = method,
                     .n_md = n,
                     .md_keys = keys,
                     .md_values = vals,
                     .md_value_lens = lens,
                     .has_status = e->has_status,
                     .status_code = e->status_code,
                     .status_message = msg,
                     .status_details = e->status_details.p,
                     .status_details_len = e->status_details.n,
                     .timeout_ms = e->timeout_ms,
                     .has_payload = e->has_payload,
                     .payload = e->payload.p,
                     .payload_len = e->payload.n};
  size_t sz = weft__env_size(&o);
  uint8_t *buf = malloc(sz + 1);
  if (weft__env_encode(&o, buf, sz) != (ssize_t)sz)
    abort();
  weft__env d;
  bool embedded_nul = memchr(e->method.p, 0, e->method.n) ||
                      memchr(e->status_message.p, 0, e->status_message.n);
  if (weft__env_decode(&d, buf, sz, NULL) != 0)
    abort();
  if (d.stream_id != e->stream_id || d.kind != e->kind ||
      d.timeout_ms != e->timeout_ms || d.payload.n != e->payload.n ||
      d.status_code != e->status_code || d.n_md != n ||
      (!embedded_nul && d.method.n != e->method.n))
    abort();
  if (d.payload.n && memcmp(d.payload.p, e->payload.p, d.payload.n))
    abort();
  /* And the JSON form of the same envelope reads back the same. */
  uint8_t *json;
  size_t jl;
  if (!embedded_nul && weft__env_json_encode(&o, &json, &jl) == 0) {
    uint8_t *scratch = NULL;
    weft__env j;
    if (weft__env_json_decode(&j, json, jl, &scratch, NULL) != 0)
      abort();
    if (j.stream_id != e->stream_id || j.payload.n != e->payload.n ||
        j.n_md != n)
      abort();
    free(scratch);
    free(json);
  }
  free(buf);
  free(method);
  free(msg);
  for (size_t i = 0; i < n; i++)
    free(keybufs[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  weft__env e;
  weft_error err;
  if (weft__env_decode(&e, data, size, &err) == 0)
    check_roundtrip(&e);
  uint8_t *scratch = NULL;
  int rv = weft__env_json_decode(&e, data, size, &scratch, &err);
  if (rv == 0) {
    size_t pos = 0;
    weft__env_md kv;
    while (weft__env_md_next(&e, &pos, &kv) == 1)
      ;
    free(scratch);
  } else if (rv == WEFT_ERR_INTERNAL || !err.message[0]) {
    /* INTERNAL: the decoder's second pass over the text disagreed with
     * cJSON's tree. And every refusal says what and where. */
    abort();
  }
  return 0;
}
