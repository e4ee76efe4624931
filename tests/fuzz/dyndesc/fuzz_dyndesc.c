/* Fuzzes weft_dyn_build on arbitrary bytes (a FileDescriptorSet, or not).
 * A build either fails with an error that says what and where, or yields
 * descriptors that every codec can use: each message is created, encoded,
 * decoded, printed as JSON (defaults included) and parsed back, and each
 * method is found by its path. Any crash, leak or inconsistency aborts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weft/codec.h"
#include "weft/dyndesc.h"
#include "weft/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(const weft_dyn_set *s, const weft_msg_desc *d) {
  void *m = weft_message_new(d, NULL);
  if (!m)
    abort();
  uint8_t *buf = NULL;
  size_t len = 0;
  if (weft_encode_alloc(m, &buf, &len) < 0)
    abort();
  void *back = NULL;
  weft_error err;
  weft_decode_opts dopts = {0};
  dopts.max_depth = 20;
  if (weft_decode(d, buf, len, &dopts, &back, &err) == 0)
    weft_message_free(back);
  free(buf);
  weft_json_opts jo = {0};
  jo.flags = WEFT_JSON_EMIT_DEFAULTS;
  jo.registry = weft_dyn_registry(s);
  jo.max_depth = 20;
  char *json = NULL;
  size_t jn = 0;
  if (weft_json_encode(m, &jo, &json, &jn, &err) == 0) {
    void *j = NULL;
    if (weft_json_decode(d, json, jn, &jo, &j, &err) == 0)
      weft_message_free(j);
    free(json);
  }
  weft_message_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  weft_dyn_set *s = NULL;
  weft_error err = {0};
  int rv = weft_dyn_build(data, size, &s, &err);
  if (rv < 0) {
    if (s || err.code != rv || err.message[0] == '\0')
      abort(); /* every failure says what and where */
    return 0;
  }
  for (size_t i = 0; i < weft_dyn_n_files(s); i++) {
    const weft_file_desc *f = weft_dyn_file(s, i);
    if (!f || weft_dyn_find_file(s, f->name) != f)
      abort();
    for (unsigned k = 0; k < f->n_messages; k++) {
      if (weft_dyn_find_message(s, f->messages[k]->base.name) != f->messages[k])
        abort();
      exercise(s, f->messages[k]);
    }
    for (unsigned k = 0; k < f->n_services; k++)
      for (unsigned j = 0; j < f->services[k]->n_methods; j++) {
        const weft_method_desc *m = &f->services[k]->methods[j];
        if (weft_dyn_find_method(s, m->path) != m)
          abort();
      }
  }
  weft_dyn_free(s);
  return 0;
}
