/* The codecs alone (weft::codec, pkg-config weft-codec): a message with a
 * well-known type through the binary and the JSON codec, no transport. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "greet/v1/greet.weft.h"
#include "weft/codec.h"
#include "weft/json.h"

int main(void) {
  greet__v1__HelloReply r;
  greet__v1__HelloReply_init(&r);
  google__protobuf__Timestamp at;
  google__protobuf__Timestamp_init(&at);
  at.seconds = 1700000000;
  r.message = "hi";
  r.index = 2;
  r.at = &at;

  uint8_t *buf = NULL;
  size_t len = 0;
  weft_error err = {0};
  void *back = NULL;
  char *json = NULL;
  int rv = weft_encode_alloc(&r, &buf, &len);
  if (rv == 0)
    rv = weft_decode(&greet__v1__HelloReply_desc, buf, len, NULL, &back, &err);
  if (rv == 0 && !weft_message_equal(&r, back))
    rv = -1;
  if (rv == 0)
    rv = weft_json_encode(back, NULL, &json, NULL, &err);
  if (rv < 0) {
    fprintf(stderr, "codec: %s %s\n", weft_strerror(rv), err.message);
    return 1;
  }
  printf("%s\n", json);
  int ok = strcmp(json, "{\"message\":\"hi\",\"index\":2,"
                        "\"at\":\"2023-11-14T22:13:20Z\"}") == 0;
  free(json); /* weft_json_encode: malloc'd */
  free(buf);  /* weft_encode_alloc: malloc'd */
  weft_message_free(back);
  return ok ? 0 : 1;
}
