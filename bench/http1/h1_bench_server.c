/* A weft server for the HTTP/1.1 benchmark: the Echo service on
 * h2c://127.0.0.1:PORT (which serves HTTP/1.1 and HTTP/2), with no
 * per-IP connection limit to speak of, so thousands of idle loopback
 * connections can be measured. Usage: weft-h1-bench-server PORT (0 = any).
 * Prints the bound port on stdout, then serves until SIGTERM. */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "echo_service.h"
#include "weft/server.h"

static weft_server *srv;

static void on_term(int sig) {
  (void)sig;
  weft_server_shutdown(srv);
}

int main(int argc, char **argv) {
  char url[64];
  snprintf(url, sizeof url, "h2c://127.0.0.1:%s", argc > 1 ? argv[1] : "0");
  weft_server_opts o = {0};
  o.max_conns_per_ip = 100000;
  weft_error err = {0};
  if (weft_server_new(&srv, &o) < 0 || weft_test_echo_add(srv) < 0 ||
      weft_server_listen(srv, url, &err) < 0) {
    fprintf(stderr, "h1_bench_server: %s\n", err.message);
    return 1;
  }
  printf("%d\n", weft_server_port(srv, 0));
  fflush(stdout);
  signal(SIGTERM, on_term);
  signal(SIGINT, on_term);
  weft_server_run(srv);
  weft_server_free(srv);
  return 0;
}
