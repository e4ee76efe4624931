/* The weft HTTP/2 server on arbitrary bytes after the client preface: a
 * real server (Echo service, h2c:// on 127.0.0.1, port 0) is started once;
 * each input is written on a fresh loopback connection after the preface
 * (an input that starts with an ASCII capital letter is written as it is:
 * the port then serves it as HTTP/1.1, through h1_conn.c and the same
 * stream code, Connect GET and CORS included);
 * the fuzzer reads until the server goes quiet (handlers have answered),
 * then shuts its write side and reads until the server closes. nghttp2 parses
 * the frames; what is fuzzed here is weft's side of it: the
 * header/data/stream-close callbacks, the Connect, gRPC and gRPC-Web
 * request validation, dispatch and teardown of half-built streams.
 *
 * The HTTP/2 engine under the glue is fuzzed in-process by fuzz_h2_engine
 * (same corpus); this target stays for the glue itself, which needs the
 * event loop and worker pool: request validation, dispatch, handlers
 * answering, teardown of half-built calls, HTTP/1.1 sniffing. The server
 * is shut down at exit so leak checks see a clean end. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "echo_service.h"
#include "weft/server.h"

static weft_server *srv;
static pthread_t th;
static int port;

static void *run_server(void *ud) {
  weft_server_run(ud);
  return NULL;
}

static void stop_server(void) {
  weft_server_shutdown(srv);
  pthread_join(th, NULL);
  weft_server_free(srv);
}

static int start_server(void) {
  weft_server_opts o = {0};
  o.max_message_size = 64 * 1024;
  o.shutdown_grace_ms = 1000;
  o.worker_threads = 4;
  static const char *const origins[] = {"http://a.example", NULL};
  o.allowed_origins = origins; /* CORS on: its paths are fuzzed too */
  weft_error err = {0};
  if (weft_server_new(&srv, &o) < 0 || weft_test_echo_add(srv) < 0 ||
      weft_server_listen(srv, "h2c://127.0.0.1:0", &err) < 0)
    abort();
  port = weft_server_port(srv, 0);
  pthread_create(&th, NULL, run_server, srv);
  atexit(stop_server);
  return 0;
}

static void send_all(int fd, const uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0)
      return; /* the server closed first: fine */
    p += w;
    n -= (size_t)w;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!srv)
    start_server();
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  /* A long run opens ~1000 connections a second; the server closes first,
   * so each leaves a TIME_WAIT that holds one of our ephemeral ports, and
   * connect() runs out of them (EADDRNOTAVAIL) after a few minutes. Close
   * with an RST (linger 0), which ends the server's TIME_WAIT, and wait
   * for a port rather than abort when they are spent all the same. */
  struct linger lg = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  int tries = 0;
  while (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    if (errno == EINTR) {
      /* libFuzzer's -timeout alarm fires every second; the connect goes
       * on in the background: wait for it. */
      struct pollfd w = {fd, POLLOUT, 0};
      int soerr = 0;
      socklen_t sl = sizeof soerr;
      while (poll(&w, 1, 1000) < 0 && errno == EINTR)
        ;
      if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && !soerr)
        break;
      errno = soerr;
    }
    if (errno != EADDRNOTAVAIL || ++tries > 500) {
      perror("fuzz_h2_server: connect");
      abort();
    }
    usleep(10 * 1000);
  }
  /* Safety net only: the server always closes after our EOF. */
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  if (size == 0 || data[0] < 'A' || data[0] > 'Z')
    send_all(fd, (const uint8_t *)preface, sizeof preface - 1);
  send_all(fd, data, size);
  /* Let handlers answer (so the response path is fuzzed too): read until
   * the server has been quiet for a few ms, then send EOF and read until it
   * closes. WEFT_FUZZ_DEBUG=1 shows what came back (to check seeds). */
  bool debug = getenv("WEFT_FUZZ_DEBUG") != NULL;
  char buf[16384];
  ssize_t n;
  bool eof = false;
  for (int rounds = 0; rounds < 40 && !eof; rounds++) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 5) <= 0)
      break;
    n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0)
      eof = true;
    else if (debug)
      fwrite(buf, 1, (size_t)n, stderr);
  }
  shutdown(fd, SHUT_WR);
  while (!eof && (n = recv(fd, buf, sizeof buf, 0)) > 0)
    if (debug)
      fwrite(buf, 1, (size_t)n, stderr);
  close(fd);
  return 0;
}
