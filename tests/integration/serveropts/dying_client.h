// Runs weft-dying-client (dying_client.c) on url: it starts a Bidi call,
// has one echo (so the server's handler is running), prints "ready" and
// exits without closing anything. Returns what it printed, "" if it could
// not be started. For the tests of what a server does with a connection
// whose client died mid-call.
#ifndef WEFT_TEST_DYING_CLIENT_H
#define WEFT_TEST_DYING_CLIENT_H

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

extern char **environ;

inline std::string weft_test_run_dying_client(const std::string &url) {
  int fds[2];
  if (pipe(fds) != 0)
    return "";
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  std::string u = url;
  char *argv[] = {(char *)WEFT_DYING_CLIENT, (char *)u.c_str(), nullptr};
  pid_t pid;
  int rc = posix_spawn(&pid, WEFT_DYING_CLIENT, &fa, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  char buf[16] = {0};
  ssize_t n = rc == 0 ? read(fds[0], buf, sizeof buf - 1) : 0;
  close(fds[0]);
  if (rc == 0) {
    int st = 0;
    waitpid(pid, &st, 0);
  }
  return n > 0 ? std::string(buf, (size_t)n) : "";
}

#endif
