/* One server-streaming Echo call of 64 B messages over tcp:// or ws://,
 * split into a server and a client process so each can run under callgrind
 * alone.
 *
 *   bench_stream server SCHEME PORTFILE   listens on 127.0.0.1:0,
 *                                             writes the port to PORTFILE,
 *                                             serves until stdin reaches EOF
 *   bench_stream client SCHEME PORT N     one stream of N messages
 *
 * Per-message instructions: run twice with different N (on one side under
 * callgrind) and divide the difference by the difference of N, so start-up
 * and teardown cancel out. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "echo_service.h"
#include "weft/client.h"
#include "weft/server.h"

static int server(const char *scheme, const char *portfile) {
  weft_server *s;
  weft_server_opts o = {0};
  weft_error err = {0};
  char url[64];
  snprintf(url, sizeof url, "%s://127.0.0.1:0", scheme);
  if (weft_server_new(&s, &o) < 0 || weft_test_echo_add(s) < 0 ||
      weft_server_listen(s, url, &err) < 0) {
    fprintf(stderr, "server: %s\n", err.message);
    return 1;
  }
  FILE *f = fopen(portfile, "w");
  if (!f)
    return 1;
  fprintf(f, "%d\n", weft_server_port(s, 0));
  fclose(f);
  char b[64];
  while (read(0, b, sizeof b) > 0)
    ;
  weft_server_shutdown(s);
  weft_server_free(s);
  return 0;
}

static int client(const char *scheme, int port, int n) {
  char url[64];
  snprintf(url, sizeof url, "%s://127.0.0.1:%d", scheme, port);
  weft_client *c;
  if (weft_client_open(&c, url, NULL, NULL) < 0)
    return 1;
  weft_arena *arena;
  weft_arena_new(&arena, 64 * 1024);
  uint8_t pl[64];
  memset(pl, 'e', sizeof pl);
  weft__test__EchoRequest req;
  weft__test__EchoRequest_init(&req);
  req.payload.data = pl;
  req.payload.len = sizeof pl;
  req.repeat = n;
  weft_call_opts o = {0};
  o.arena = arena;
  weft_call *call;
  int got = 0;
  if (weft__test__Echo_server_stream(c, &req, &call, &o) == 0) {
    void *m;
    while (weft_call_recv(call, &m) == 1)
      if (++got % 256 == 0)
        weft_arena_reset(arena);
    weft_call_finish(call);
  }
  weft_status_clear(&o.status);
  weft_arena_free(arena);
  weft_client_close(c);
  if (got != n) {
    fprintf(stderr, "client: got %d of %d\n", got, n);
    return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 4 && strcmp(argv[1], "server") == 0)
    return server(argv[2], argv[3]);
  if (argc == 5 && strcmp(argv[1], "client") == 0)
    return client(argv[2], atoi(argv[3]), atoi(argv[4]));
  fprintf(stderr, "usage: %s server SCHEME PORTFILE | client SCHEME PORT N\n",
          argv[0]);
  return 2;
}
