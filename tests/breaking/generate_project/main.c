#include <stdio.h>

#include "demo/v1/demo.weft.h"

int main(void) {
  printf("fields=%u\n", demo__v1__Thing_desc.base.n_fields);
  return 0;
}
