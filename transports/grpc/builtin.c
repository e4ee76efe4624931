/* Health and reflection services for grpc:// listeners: see health.c and
 * reflection.c once the generator can build their protos. */
#include "grpc_internal.h"

int weft__grpc_add_builtin_services(weft_server *s, const weft_grpc_opts *g,
                                    weft_error *err) {
  (void)s;
  (void)g;
  (void)err;
  return 0;
}
