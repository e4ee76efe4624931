/* Test helper for connection events: connects to the URL in argv[1],
 * starts a Bidi call, waits for one echo (so the server's handler is
 * running), prints "ready" and exits at once without closing anything, as
 * a client that crashes mid-call would. */
#include <stdio.h>
#include <unistd.h>

#include "echo_service.h"
#include "weft/client.h"

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: weft-dying-client URL\n");
    return 2;
  }
  weft_client *c = NULL;
  if (weft_client_open(&c, argv[1], NULL, NULL) < 0) {
    fprintf(stderr, "cannot connect to %s\n", argv[1]);
    return 3;
  }
  static weft_call_opts o;
  weft_call *call = NULL;
  if (weft__test__Echo_bidi(c, &call, &o) < 0) {
    fprintf(stderr, "cannot start the call\n");
    return 4;
  }
  weft__test__EchoRequest req = weft__test__EchoRequest_INIT;
  req.text = "still here";
  void *m = NULL;
  if (weft_call_send(call, &req) < 0 || weft_call_recv(call, &m) != 1) {
    fprintf(stderr, "no echo\n");
    return 5;
  }
  printf("ready\n");
  fflush(stdout);
  _exit(0); /* no close, no GOAWAY, no close frame */
}
