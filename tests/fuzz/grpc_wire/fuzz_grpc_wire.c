/* The gRPC and gRPC-Web parsers on arbitrary bytes. The first byte picks the
 * chunk size (bits 0-4), text mode (bit 5) and whether compression was
 * announced (bit 6); the rest is a request body fed to the reader in those
 * chunks, and also parsed as a trailers frame payload, a grpc-timeout, a
 * grpc-message, a content-type and a grpc-accept-encoding. Whatever parses
 * as trailers must encode and parse back to the same status. The same
 * bytes also go through the client's side: response status fields, the
 * final status, and "-bin" values (which must round-trip). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "grpc_wire.h"

static int on_msg(void *ud, uint8_t flags, const uint8_t *data, size_t len) {
  size_t *n = ud;
  (void)flags;
  volatile uint8_t x = 0;
  for (size_t i = 0; i < len; i++) /* ASan sees a bad pointer or length */
    x ^= data[i];
  (void)x;
  return ++*n > 10000 ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  size_t chunk = (size_t)(data[0] & 31) + 1;
  bool text = data[0] & 32, compressed_ok = data[0] & 64;
  data++;
  size--;

  weft__grpc_reader r;
  weft__grpc_reader_init(&r, 4096, text, compressed_ok);
  size_t msgs = 0;
  for (size_t off = 0; off < size;) {
    size_t n = size - off < chunk ? size - off : chunk;
    weft_error err = {0};
    int rv = weft__grpc_reader_feed(&r, data + off, n, on_msg, &msgs, &err);
    if (rv < 0) {
      (void)weft__grpc_error_status(rv);
      break;
    }
    off += n;
  }
  (void)weft__grpc_reader_idle(&r);
  weft__grpc_reader_free(&r);

  weft_status st = {0};
  weft_metadata md = WEFT_METADATA_INIT;
  weft_error err = {0};
  if (weft__grpc_web_parse_trailers(data, size, &st, &md, &err) == 0 &&
      st.code >= 0) {
    uint8_t *f = NULL;
    size_t fl = 0;
    if (weft__grpc_web_trailers_frame(&st, &md, &f, &fl) == 0) {
      weft_status back = {0};
      if (weft__grpc_web_parse_trailers(f + 5, fl - 5, &back, NULL, &err) !=
              0 ||
          back.code != st.code || back.details_len != st.details_len ||
          (st.message && st.message[0] &&
           (!back.message || strcmp(back.message, st.message) != 0)))
        abort();
      weft_status_clear(&back);
      free(f);
    }
  }
  weft_status_clear(&st);
  weft_metadata_clear(&md);

  /* The client's view of a response: the input split at newlines into
   * fields, each a name (a digit selects a status key) and a value, then
   * the final status from them. */
  static const char *const keys[] = {"grpc-status", "grpc-message",
                                     "grpc-status-details-bin", "x-other"};
  weft__grpc_trailers t = {0};
  for (const uint8_t *p = data, *end = data + size; p < end;) {
    const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
    size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
    if (n > 0) {
      const char *k = keys[p[0] % 4];
      if (weft__grpc_trailers_field(&t, k, strlen(k), (const char *)p + 1,
                                    n - 1) < 0)
        break;
    }
    p += n + 1;
  }
  weft_status cs = {0};
  int http = size > 1 ? (data[0] % 2 ? 200 : 100 + data[1] * 2) : 0;
  if (weft__grpc_client_status(&t, http, size % 2, &cs) == 0 &&
      (!cs.message || (cs.details_len && !cs.details)))
    abort();
  if (http != 200 && http != 0 && cs.code != weft__grpc_status_from_http(http))
    abort();
  weft_status_clear(&cs);
  weft__grpc_trailers_free(&t);
  uint8_t *bin = NULL;
  size_t bin_len = 0;
  if (weft__grpc_bin_decode((const char *)data, size, &bin, &bin_len) == 0) {
    char *enc = NULL;
    size_t enc_len = 0;
    if (weft__grpc_bin_encode(bin, bin_len, &enc, &enc_len) == 0) {
      uint8_t *back = NULL;
      size_t back_len = 0;
      if (weft__grpc_bin_decode(enc, enc_len, &back, &back_len) != 0 ||
          back_len != bin_len || (bin_len && memcmp(back, bin, bin_len)))
        abort();
      free(back);
      free(enc);
    }
    free(bin);
  }

  (void)weft__grpc_parse_timeout((const char *)data, size);
  char *m = NULL;
  if (weft__grpc_percent_decode((const char *)data, size, &m) == 0)
    free(m);
  bool json;
  (void)weft__grpc_parse_ctype((const char *)data, size, &json);
  (void)weft__grpc_accepts_gzip((const char *)data, size);
  return 0;
}
