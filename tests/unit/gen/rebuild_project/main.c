#include <stdio.h>

#include "demo/v1/demo.weft.h"

int main(void) {
  demo__v1__Thing t = demo__v1__Thing_INIT;
  t.id = 7;
  printf("fields=%u size=%zu\n", demo__v1__Thing_desc.base.n_fields,
         protobuf_c_message_get_packed_size(&t.base));
  return 0;
}
