// HTTP/2 client keepalive (h2_client.c): with keepalive_ms set, a server
// that completed the preface and then went silent (no PING ACK, no answer)
// fails the call in flight with UNAVAILABLE and the reason, instead of
// leaving it to its deadline; a live server that answers PINGs keeps an
// idle connection open across many keepalive intervals.
#include "h2_test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <string>

using h2test::Server;

namespace {

// Reads the client preface, answers with SETTINGS and the ACK of the
// client's, then reads and drops everything (PINGs included) until told to
// stop: a peer that is still there for TCP but no longer for HTTP/2.
class SilentH2Server {
public:
  SilentH2Server() {
    lfd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = {};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(lfd_, (sockaddr *)&a, sizeof a);
    socklen_t sl = sizeof a;
    getsockname(lfd_, (sockaddr *)&a, &sl);
    port_ = ntohs(a.sin_port);
    listen(lfd_, 4);
    th_ = std::thread([this] { run(); });
  }
  ~SilentH2Server() {
    stop_ = true;
    th_.join();
    close(lfd_);
  }
  int port() const {
    return port_;
  }
  int pings() const {
    return pings_;
  }

private:
  bool wait_in(int fd) {
    while (!stop_) {
      pollfd p = {fd, POLLIN, 0};
      if (poll(&p, 1, 50) > 0)
        return true;
    }
    return false;
  }
  void run() {
    if (!wait_in(lfd_))
      return;
    int fd = accept4(lfd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0)
      return;
    std::string in;
    char buf[4096];
    bool greeted = false;
    while (wait_in(fd)) {
      ssize_t n = read(fd, buf, sizeof buf);
      if (n <= 0)
        break;
      in.append(buf, (size_t)n);
      if (!greeted && in.size() >= 24) {
        static const unsigned char hello[] = {
            0, 0, 0, 4, 0, 0, 0, 0, 0,  // SETTINGS
            0, 0, 0, 4, 1, 0, 0, 0, 0}; // SETTINGS ACK
        send(fd, hello, sizeof hello, MSG_NOSIGNAL);
        greeted = true;
        in.erase(0, 24);
      }
      // Count the PINGs (type 6, no ACK flag) among whole frames.
      while (greeted && in.size() >= 9) {
        size_t len = ((size_t)(unsigned char)in[0] << 16) |
                     ((size_t)(unsigned char)in[1] << 8) | (unsigned char)in[2];
        if (in.size() < 9 + len)
          break;
        if (in[3] == 6 && !(in[4] & 1))
          pings_++;
        in.erase(0, 9 + len);
      }
    }
    close(fd);
  }
  int lfd_ = -1, port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> pings_{0};
  std::thread th_;
};

weft_client *open_h2c(int port, int64_t keepalive_ms) {
  weft_client_opts o = {};
  o.connect_timeout_ms = 5000;
  o.keepalive_ms = keepalive_ms;
  weft_client *c = nullptr;
  weft_error err = {};
  std::string url = "h2c://127.0.0.1:" + std::to_string(port);
  EXPECT_EQ(weft_client_open(&c, url.c_str(), &o, &err), 0) << err.message;
  return c;
}

} // namespace

TEST(H2ClientKeepalive, SilentServerFailsCallInsteadOfHanging) {
  SilentH2Server s;
  weft_client *c = open_h2c(s.port(), 200);
  ASSERT_NE(c, nullptr);
  weft__test__EchoRequest req;
  weft__test__EchoRequest_init(&req);
  req.text = (char *)"anyone there?";
  weft__test__EchoResponse *resp = nullptr;
  weft_call_opts o = {};
  o.timeout_ms = 20000; // far beyond the keepalive's verdict
  EXPECT_NE(weft__test__Echo_unary(c, &req, &resp, &o), 0);
  EXPECT_EQ(o.status.code, WEFT_STATUS_UNAVAILABLE)
      << (o.status.message ? o.status.message : "");
  std::string msg = o.status.message ? o.status.message : "";
  EXPECT_NE(msg.find("no PING ACK"), std::string::npos) << msg;
  std::printf("silent server: %s (PINGs seen: %d)\n", msg.c_str(), s.pings());
  EXPECT_GE(s.pings(), 1);
  weft_status_clear(&o.status);
  weft_client_close(c);
}

TEST(H2ClientKeepalive, LiveServerKeepsIdleConnection) {
  Server s;
  std::atomic<int> disconnects{0};
  weft_client_opts o = {};
  o.connect_timeout_ms = 5000;
  o.keepalive_ms = 100;
  o.user_data = &disconnects;
  o.on_disconnect = [](weft_client *, void *ud) {
    ++*static_cast<std::atomic<int> *>(ud);
  };
  weft_client *c = nullptr;
  weft_error err = {};
  std::string url = "h2c://127.0.0.1:" + std::to_string(s.port());
  ASSERT_EQ(weft_client_open(&c, url.c_str(), &o, &err), 0) << err.message;
  // Idle for many keepalive intervals: PINGs go out and are answered.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  weft__test__EchoRequest req;
  weft__test__EchoRequest_init(&req);
  req.text = (char *)"still here";
  weft__test__EchoResponse *resp = nullptr;
  weft_call_opts co = {};
  ASSERT_EQ(weft__test__Echo_unary(c, &req, &resp, &co), 0)
      << (co.status.message ? co.status.message : "");
  EXPECT_STREQ(resp->text, "still here");
  weft_message_free(resp);
  weft_status_clear(&co.status);
  EXPECT_EQ(disconnects.load(), 0);
  EXPECT_EQ(weft_client_state(c), WEFT_CONN_CONNECTED);
  weft_client_close(c);
}
