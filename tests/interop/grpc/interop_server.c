/* weft-interop-server: grpc.testing.TestService on weft's gRPC transport.
 *
 *   weft-interop-server --port=N [--use_tls --cert_file=F --key_file=F
 *                        [--client_ca_file=F]] [--host=H]
 *                       [--max_message_size=BYTES] [--gzip]
 *                       [--pool_handlers] [--transport=h2c]
 *
 * --transport=h2c serves the same service on weft's HTTP/2 port (h2c://),
 * which speaks gRPC beside Connect and gRPC-Web, instead of on gRPC core.
 *
 * Serves until SIGTERM or SIGINT, then shuts down cleanly (exit 0). */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_service.h"
#include "weft/grpc_transport.h"
#include "weft/server.h"

static const char *flag(const char *arg, const char *name) {
  size_t n = strlen(name);
  if (strncmp(arg, name, n) == 0 && arg[n] == '=')
    return arg + n + 1;
  return NULL;
}

int main(int argc, char **argv) {
  int port = -1;
  const char *host = "127.0.0.1", *v;
  bool tls = false, h2c = false;
  weft_server_opts opts = {0};
  weft_grpc_opts gopts = WEFT_GRPC_OPTS_INIT;
  for (int i = 1; i < argc; i++) {
    if ((v = flag(argv[i], "--port")))
      port = atoi(v);
    else if ((v = flag(argv[i], "--host")))
      host = v;
    else if (strcmp(argv[i], "--use_tls") == 0 ||
             strcmp(argv[i], "--use_tls=true") == 0)
      tls = true;
    else if (strcmp(argv[i], "--use_tls=false") == 0)
      tls = false;
    else if ((v = flag(argv[i], "--cert_file")))
      opts.tls.cert_file = v;
    else if ((v = flag(argv[i], "--key_file")))
      opts.tls.key_file = v;
    else if ((v = flag(argv[i], "--client_ca_file")))
      opts.tls.ca_file = v;
    else if ((v = flag(argv[i], "--max_message_size")))
      opts.max_message_size = (size_t)strtoull(v, NULL, 10);
    else if (strcmp(argv[i], "--gzip") == 0)
      gopts.gzip = true;
    else if (strcmp(argv[i], "--transport=h2c") == 0)
      h2c = true;
    else if (strcmp(argv[i], "--pool_handlers") == 0)
      gopts.pool_handlers = true;
    else {
      fprintf(stderr, "weft-interop-server: unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  if (port < 0 || (tls && (!opts.tls.cert_file || !opts.tls.key_file))) {
    fprintf(stderr, "usage: weft-interop-server --port=N [--use_tls "
                    "--cert_file=F --key_file=F [--client_ca_file=F]]\n");
    return 2;
  }
  opts.transport_opts = &gopts;

  /* Signals are taken by sigwait below, not by a handler. */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, NULL);

  weft_server *s = NULL;
  weft_error err = {0};
  int rc = weft_server_new(&s, &opts);
  if (rc == 0)
    rc = weft_interop_add_test_service(s);
  char url[300];
  snprintf(url, sizeof url, "%s://%s:%d",
           h2c   ? (tls ? "https" : "h2c")
           : tls ? "grpcs"
                 : "grpc",
           host, port);
  if (rc == 0)
    rc = weft_server_listen(s, url, &err);
  if (rc < 0) {
    fprintf(stderr, "weft-interop-server: %s: %s\n", url,
            err.message[0] ? err.message : weft_strerror(rc));
    weft_server_free(s);
    return 1;
  }
  printf("weft-interop-server listening on %s (port %d)\n", url,
         weft_server_port(s, 0));
  fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  weft_server_shutdown(s);
  weft_server_free(s);
  return 0;
}
