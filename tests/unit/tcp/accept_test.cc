// The shared accept loop (transports/common/accept.c): out of descriptors it
// pauses instead of spinning, logs the pause once, and accepts again once
// descriptors are free; the per-IP limit closes the extra connection. The
// descriptor test runs in a forked child with a lowered RLIMIT_NOFILE.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "accept.h"

namespace {

struct Ctx {
  weft__acceptor *acc = nullptr;
  std::vector<weft__conn *> conns; // loop thread
  std::atomic<int> accepted{0}, over{0}, paused_lines{0}, resumed_lines{0};
};

void on_conn(void *ud, weft__conn *c, bool over_limit) {
  auto *x = static_cast<Ctx *>(ud);
  x->conns.push_back(c);
  x->accepted++;
  if (over_limit)
    x->over++;
}

void on_log(int, const char *line, void *ud) {
  auto *x = static_cast<Ctx *>(ud);
  if (strstr(line, "pausing accepts"))
    x->paused_lines++;
  if (strstr(line, "accepting again"))
    x->resumed_lines++;
}

void close_all(void *ud) {
  auto *x = static_cast<Ctx *>(ud);
  for (weft__conn *c : x->conns) {
    weft__acceptor_release(x->acc, weft__conn_ip(c));
    weft__conn_close(c);
  }
  x->conns.clear();
}

int connect_to(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (sockaddr *)&a, sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

int open_fds() {
  int n = 0;
  DIR *d = opendir("/proc/self/fd");
  while (d && readdir(d))
    n++;
  if (d)
    closedir(d);
  return n;
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

bool wait_for(const std::atomic<int> &v, int want, int ms) {
  for (int i = 0; i < ms / 10 && v.load() < want; i++)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return v.load() >= want;
}

// Child process: exit code says which check failed (0: all passed).
int emfile_child(int port_pipe) {
  Ctx x;
  weft_loop *loop = nullptr;
  int lfd = -1, port = 0;
  if (weft_loop_new(&loop) < 0 ||
      weft__listen("127.0.0.1", 0, 128, &lfd, &port, nullptr) < 0)
    return 10;
  weft__acceptor_opts o{};
  o.loop = loop;
  o.lfd = lfd;
  o.name = "test";
  o.on_conn = on_conn;
  o.ud = &x;
  o.log = on_log;
  o.log_ud = &x;
  if (weft__acceptor_new(&x.acc, &o) < 0 || weft_loop_start(loop) < 0)
    return 11;
  // Room for 10 more descriptors: the parent's 40 connections run out.
  rlimit rl{(rlim_t)open_fds() + 10, (rlim_t)open_fds() + 10};
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
    return 12;
  if (write(port_pipe, &port, sizeof port) != (ssize_t)sizeof port)
    return 13;
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  if (x.accepted.load() >= 40)
    return 20; // it never ran out
  double c0 = cpu_seconds();
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  if (cpu_seconds() - c0 > 0.1)
    return 21; // spinning
  if (x.paused_lines.load() != 1)
    return 22; // a pause logs once
  // Each round of freed descriptors lets the rest in, ten at a time.
  for (int i = 0; i < 50 && x.accepted.load() < 40; i++) {
    weft_loop_post(loop, close_all, &x);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (x.accepted.load() < 40)
    return 23; // did not resume
  if (!wait_for(x.resumed_lines, 1, 1000))
    return 24;
  weft_loop_post(loop, close_all, &x);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  weft_loop_stop(loop);
  weft__acceptor_free(x.acc);
  weft_loop_free(loop);
  return 0;
}

} // namespace

TEST(Acceptor, OutOfDescriptorsPausesLogsOnceAndResumes) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(p[0]);
    _exit(emfile_child(p[1]));
  }
  close(p[1]);
  int port = 0;
  ASSERT_EQ(read(p[0], &port, sizeof port), (ssize_t)sizeof port);
  close(p[0]);
  std::vector<int> fds;
  for (int i = 0; i < 40; i++) {
    int fd = connect_to(port); // the backlog takes them all
    ASSERT_GE(fd, 0);
    fds.push_back(fd);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0)
      << "20 never ran out, 21 spinning, 22 pause not logged once, "
         "23 no resume, 24 resume not logged";
  for (int fd : fds)
    close(fd);
}

TEST(Acceptor, PerIpLimitClosesOrFlags) {
  for (bool deliver : {false, true}) {
    Ctx x;
    weft_loop *loop = nullptr;
    int lfd = -1, port = 0;
    ASSERT_EQ(weft_loop_new(&loop), 0);
    ASSERT_EQ(weft__listen("127.0.0.1", 0, 128, &lfd, &port, nullptr), 0);
    weft__acceptor_opts o{};
    o.loop = loop;
    o.lfd = lfd;
    o.name = "test";
    o.max_per_ip = 2;
    o.deliver_over_limit = deliver;
    o.on_conn = on_conn;
    o.ud = &x;
    o.log = on_log;
    o.log_ud = &x;
    ASSERT_EQ(weft__acceptor_new(&x.acc, &o), 0);
    ASSERT_EQ(weft_loop_start(loop), 0);
    int fd[3];
    for (int &f : fd)
      ASSERT_GE(f = connect_to(port), 0);
    ASSERT_TRUE(wait_for(x.accepted, 2, 3000));
    if (deliver) { // handed on, flagged (ws answers 429)
      EXPECT_TRUE(wait_for(x.accepted, 3, 3000));
      EXPECT_EQ(x.over.load(), 1);
    } else { // closed at accept: the client reads EOF
      char b;
      timeval tv{3, 0};
      setsockopt(fd[2], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      EXPECT_EQ(read(fd[2], &b, 1), 0);
      EXPECT_EQ(x.accepted.load(), 2);
    }
    weft_loop_post(loop, close_all, &x);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    weft_loop_stop(loop);
    EXPECT_EQ(weft__acceptor_count(x.acc, "127.0.0.1"), 0u);
    weft__acceptor_free(x.acc);
    weft_loop_free(loop);
    for (int f : fd)
      close(f);
  }
}
