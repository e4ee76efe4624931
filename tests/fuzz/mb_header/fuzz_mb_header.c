/* Fuzzes the MB codec (the broker's header rules: parseInt timeouts,
 * node-semver versions, fields past the sixth ignored). Invariants checked
 * (abort on violation):
 *  - whatever decodes re-encodes, and the re-encoded header parses to the
 *    same fields;
 *  - a failure always names an MB error code;
 *  - the deframer yields the same messages whatever the chunking. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "weft/mb.h"

static void check_message(const char *data, size_t size, unsigned flags) {
  weft_mb_message m;
  weft_mb_code code;
  weft_error err;
  int rv = weft_mb_decode(data, size, flags, &m, &code, &err);
  if (rv < 0) {
    if (code == WEFT_MB_OK || err.message[0] == '\0')
      abort();
    return;
  }
  if (code != WEFT_MB_OK)
    abort();
  char *out = NULL;
  size_t out_len = 0;
  if (weft_mb_encode(&m.header, m.payload, m.payload_len, &out, &out_len,
                     &err) != 0) {
    /* Only a message past the frame limit may fail to re-encode (the
     * re-encoded header is never longer than the parsed one). */
    if (size <= WEFT_MB_MAX_MESSAGE)
      abort();
    return;
  }
  weft_mb_message again;
  if (weft_mb_decode(out, out_len, flags, &again, &code, &err) != 0)
    abort();
  const weft_mb_header *a = &m.header, *b = &again.header;
  if (a->action != b->action || strcmp(a->topic, b->topic) ||
      strcmp(a->version, b->version) || strcmp(a->request_id, b->request_id) ||
      strcmp(a->parent_request_id, b->parent_request_id) ||
      a->has_timeout != b->has_timeout || a->timeout_ms != b->timeout_ms ||
      again.payload_len != m.payload_len ||
      memcmp(again.payload, m.payload, m.payload_len) != 0)
    abort();
  free(out);
}

/* Deframes data twice, whole and in chunks whose sizes come from the data
 * itself, and compares what comes out. */
static void check_deframer(const uint8_t *data, size_t size) {
  enum { MAXMSG = 64 };
  uint8_t whole[4096], chunked[4096];
  size_t wn = 0, cn = 0;
  int werr = 0, cerr = 0;
  for (int pass = 0; pass < 2; pass++) {
    weft_mb_deframer d;
    weft_mb_deframer_init(&d, MAXMSG);
    uint8_t *acc = pass ? chunked : whole;
    size_t *an = pass ? &cn : &wn;
    int *aerr = pass ? &cerr : &werr;
    size_t off = 0, step = 0;
    while (off < size && !*aerr) {
      size_t n = pass ? (size_t)(1 + (data[step++ % size] & 7)) : size - off;
      if (n > size - off)
        n = size - off;
      const uint8_t *in = data + off;
      size_t left = n;
      for (;;) {
        const uint8_t *msg;
        size_t len;
        weft_error err;
        ssize_t used = weft_mb_deframer_feed(&d, in, left, &msg, &len, &err);
        if (used < 0) {
          *aerr = (int)used;
          break;
        }
        if (msg) {
          if (len > MAXMSG) /* 0 is legal: the broker answers it */
            abort();
          if (*an + len <= sizeof whole) {
            memcpy(acc + *an, msg, len);
            *an += len;
          }
        }
        in += used;
        left -= (size_t)used;
        if (left == 0 && !msg)
          break;
      }
      off += n;
    }
    weft_mb_deframer_free(&d);
  }
  if (werr != cerr || wn != cn || memcmp(whole, chunked, wn) != 0)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *text = (const char *)data;
  check_message(text, size, 0);
  check_message(text, size, WEFT_MB_NO_JSON_CHECK);
  check_message(text, size, WEFT_MB_NO_JSON_CHECK | WEFT_MB_NO_PAYLOAD_LIMIT);
  const char *nl = memchr(text, '\n', size);
  weft_mb_header h;
  weft_mb_code code;
  weft_error err;
  weft_mb_header_parse(text, nl ? (size_t)(nl - text) : size, &h, &code, &err);
  check_deframer(data, size);
  return 0;
}
