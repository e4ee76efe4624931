/* weft serve: the AITBC reference node (examples/node). */
#include <stdio.h>

#include "cli.h"

#ifdef WEFT_HAVE_NODE
#include "node.h"
#endif

int cli_serve(int argc, char **argv) {
#ifdef WEFT_HAVE_NODE
  return weft_node_main(argc, argv);
#else
  (void)argc;
  (void)argv;
  fprintf(stderr, "weft: this build has no reference node (examples/node)\n");
  return CLI_LOCAL;
#endif
}
