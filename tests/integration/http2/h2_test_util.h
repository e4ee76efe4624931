// Helpers for the HTTP/2 tests: a weft server with the Echo service on
// h2c:// (port 0), running in its own thread, and a runner for independent
// command-line clients (curl, nghttp) with a bounded run time.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

extern "C" {
#include "echo_service.h"
#include "weft/client.h"
#include "weft/codec.h"
#include "weft/server.h"
#include "weft/transport.h"
}

namespace h2test {

class Server {
public:
  explicit Server(const char *url = "h2c://127.0.0.1:0", size_t max_msg = 0)
      : Server(url, opts(max_msg)) {}
  static weft_server_opts opts(size_t max_msg) {
    weft_server_opts o = {};
    o.max_message_size = max_msg;
    o.shutdown_grace_ms = 2000;
    return o;
  }
  Server(const char *url, const weft_server_opts &o) {
    EXPECT_EQ(weft_server_new(&s_, &o), 0);
    EXPECT_EQ(weft_test_echo_add(s_), 0);
    weft_error err = {};
    int rv = weft_server_listen(s_, url, &err);
    EXPECT_EQ(rv, 0) << err.message;
    port_ = weft_server_port(s_, 0);
    th_ = std::thread([this] { weft_server_run(s_); });
  }
  ~Server() {
    weft_server_shutdown(s_);
    th_.join();
    weft_server_free(s_);
  }
  int port() const {
    return port_;
  }
  std::string base() const {
    return "http://127.0.0.1:" + std::to_string(port_);
  }

private:
  weft_server *s_ = nullptr;
  int port_ = -1;
  std::thread th_;
};

// A loopback port held for a peer the test starts (nghttpd): bound with
// SO_REUSEADDR and never listening, so the kernel gives it to nobody else
// (another test's listener or an outgoing connection's local end) before
// the peer, which sets SO_REUSEADDR too, binds it. A port found through a
// throwaway server and closed again was free only for that moment. The
// same as tests/support/ports.py for the Python tests.
class PortReservation {
public:
  PortReservation() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a = {};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (bind(fd_, (sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd_, (sockaddr *)&a, &al) == 0)
      port_ = ntohs(a.sin_port);
  }
  ~PortReservation() {
    release();
  }
  PortReservation(const PortReservation &) = delete;
  PortReservation &operator=(const PortReservation &) = delete;
  int port() const {
    return port_;
  }
  // Once the peer listens on it.
  void release() {
    if (fd_ >= 0)
      close(fd_);
    fd_ = -1;
  }

private:
  int fd_ = -1;
  int port_ = 0;
};

struct Run {
  int status = -1;
  std::string out;
};

// Runs a shell command with a time bound, capturing stdout.
inline Run run(const std::string &cmd, int seconds = 20) {
  Run r;
  std::string full = "timeout " + std::to_string(seconds) + " " + cmd;
  FILE *p = popen(full.c_str(), "r");
  if (!p)
    return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0)
    r.out.append(buf, n);
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

// CTest runs each test in its own process, several at once: temp files
// carry the pid so they never collide.
inline std::string temp_path(const std::string &name) {
  return ::testing::TempDir() + "/weft-h2-" + std::to_string(getpid()) + "-" +
         name;
}

inline bool have(const char *tool) {
  return run(std::string("sh -c 'command -v ") + tool + "' >/dev/null", 5)
             .status == 0;
}

// Polls the client's state until it is st, for up to `seconds`.
inline bool wait_state(weft_client *c, weft_conn_state st, int seconds) {
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (weft_client_state(c) == st)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

} // namespace h2test
