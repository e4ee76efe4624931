/* Fuzzes weft_json_decode on weft.jsontest.AllTypes. The first input byte
 * picks the options (ignore-unknown, arena, proto names on output); the rest
 * is the JSON text. Whatever decodes must encode, and its encoding must be a
 * fixed point after one more decode/encode (the first round may normalize,
 * e.g. -0 integer tokens). Any failure aborts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_test3.weft.h"
#include "weft/codec.h"
#include "weft/json.h"

static int round_trip(const char *in, size_t n, unsigned flags,
                      weft_arena *arena, char **out, size_t *out_n) {
  weft_json_opts o = {0};
  o.flags = flags & WEFT_JSON_IGNORE_UNKNOWN;
  o.arena = arena;
  void *m = NULL;
  weft_error err;
  int rv =
      weft_json_decode(&weft__jsontest__AllTypes_desc, in, n, &o, &m, &err);
  if (rv != 0) {
    if (err.code != rv || err.message[0] == '\0')
      abort(); /* every error says what and where */
    return rv;
  }
  o.flags = flags & ~(unsigned)WEFT_JSON_IGNORE_UNKNOWN;
  rv = weft_json_encode(m, &o, out, out_n, &err);
  if (!arena)
    weft_message_free(m);
  return rv;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int registered;
  if (!registered) {
    json_1test3_proto_register();
    registered = 1;
  }
  if (size < 1)
    return 0;
  unsigned sel = data[0];
  unsigned flags = 0;
  if (sel & 1)
    flags |= WEFT_JSON_IGNORE_UNKNOWN;
  if (sel & 4)
    flags |= WEFT_JSON_PROTO_NAMES;
  if (sel & 8)
    flags |= WEFT_JSON_EMIT_DEFAULTS;
  if (sel & 16)
    flags |= WEFT_JSON_ENUMS_AS_INTS;
  if (sel & 32)
    flags |= WEFT_JSON_PRETTY;
  weft_arena *arena = NULL;
  if ((sel & 2) && weft_arena_new(&arena, 0) != 0)
    return 0;
  const char *in = (const char *)data + 1;
  size_t n = size - 1;

  char *e1 = NULL, *e2 = NULL, *e3 = NULL;
  size_t n1 = 0, n2 = 0, n3 = 0;
  if (round_trip(in, n, flags, arena, &e1, &n1) == 0) {
    /* output of weft decodes with the strict options */
    unsigned strict = flags & ~(unsigned)WEFT_JSON_IGNORE_UNKNOWN;
    if (round_trip(e1, n1, strict, arena, &e2, &n2) != 0)
      abort();
    if (round_trip(e2, n2, strict, arena, &e3, &n3) != 0)
      abort();
    if (n2 != n3 || memcmp(e2, e3, n2) != 0)
      abort();
  }
  free(e1);
  free(e2);
  free(e3);
  weft_arena_free(arena);
  return 0;
}
