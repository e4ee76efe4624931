// Broken peers: killed mid-frame, half-open (silent) connections detected by
// keepalive, oversize frames, idle timeout. The server keeps serving others.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <chrono>
#include <cstring>
#include <thread>

#include "helpers.h"

using namespace weft_tcp_test;

namespace {

int raw_connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, (sockaddr *)&a, sizeof a), 0);
  return fd;
}

std::string frame(const std::string &body) {
  uint32_t n = htonl((uint32_t)body.size());
  return std::string((char *)&n, 4) + body;
}

// Reads until EOF (or timeout_ms); returns everything read.
std::string read_to_eof(int fd, int timeout_ms, bool *eof) {
  std::string got;
  *eof = false;
  auto end =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < end) {
    pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0)
      continue;
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) {
      *eof = true;
      break;
    }
    got.append(buf, (size_t)n);
  }
  return got;
}

void unary_ok(weft_client *c, const char *text = "alive") {
  weft__test__EchoRequest r;
  weft__test__EchoRequest_init(&r);
  r.text = (char *)text;
  weft__test__EchoResponse *resp = nullptr;
  weft_call_opts o = {};
  EXPECT_EQ(weft__test__Echo_unary(c, &r, &resp, &o), 0)
      << (o.status.message ? o.status.message : "");
  if (resp)
    EXPECT_STREQ(resp->text, text);
  weft_message_free(resp);
  weft_status_clear(&o.status);
}

// A listening socket that accepts and then does whatever `peer` says.
struct RawServer {
  int lfd, port;
  std::thread th;
  explicit RawServer(std::function<void(int)> peer) {
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a = {};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(lfd, (sockaddr *)&a, sizeof a);
    socklen_t l = sizeof a;
    getsockname(lfd, (sockaddr *)&a, &l);
    port = ntohs(a.sin_port);
    listen(lfd, 4);
    th = std::thread([this, peer] {
      int fd = accept(lfd, nullptr, nullptr);
      if (fd >= 0) {
        peer(fd);
        close(fd);
      }
    });
  }
  ~RawServer() {
    th.join();
    close(lfd);
  }
};

} // namespace

TEST(TcpFaults, ClientKilledMidFrameServerKeepsServing) {
  Server srv;
  Client good(srv.url());
  unary_ok(good.c);
  for (int i = 0; i < 5; i++) {
    int fd = raw_connect(srv.port);
    std::string f = frame(std::string(100, 'x'));
    ASSERT_EQ(write(fd, f.data(), 40), 40); // header + part of the body
    close(fd);                              // "killed"
  }
  unary_ok(good.c);
  Client fresh(srv.url());
  unary_ok(fresh.c);
}

TEST(TcpFaults, GarbageEnvelopeClosesOnlyThatConnection) {
  Server srv;
  Client good(srv.url());
  int fd = raw_connect(srv.port);
  std::string f = frame(std::string("\x0a\x05zz", 4)); // bad wire type
  ASSERT_EQ(write(fd, f.data(), f.size()), (ssize_t)f.size());
  bool eof;
  read_to_eof(fd, 5000, &eof);
  EXPECT_TRUE(eof);
  close(fd);
  unary_ok(good.c);
}

TEST(TcpFaults, OversizeFrameClosesWithClearError) {
  weft_server_opts so = {};
  so.max_message_size = 1024;
  Server srv("tcp://127.0.0.1:0", &so);
  Client good(srv.url());
  int fd = raw_connect(srv.port);
  uint32_t n = htonl(1u << 30); // 1 GiB announced, never allocated
  ASSERT_EQ(write(fd, &n, 4), 4);
  bool eof;
  std::string got = read_to_eof(fd, 5000, &eof);
  EXPECT_TRUE(eof);
  // The server said why in a GOAWAY before closing.
  EXPECT_NE(got.find("over the limit"), std::string::npos) << got.size();
  close(fd);
  unary_ok(good.c);
}

TEST(TcpFaults, OversizeMessageFromClientFailsLocally) {
  Server srv;
  weft_client_opts co = {};
  co.max_message_size = 1000;
  Client cl(srv.url(), &co);
  weft__test__EchoRequest r;
  weft__test__EchoRequest_init(&r);
  std::string big(5000, 'b');
  r.payload = bytes(big);
  weft__test__EchoResponse *resp = nullptr;
  weft_call_opts o = {};
  EXPECT_LT(weft__test__Echo_unary(cl.c, &r, &resp, &o), 0);
  EXPECT_NE(o.status.code, WEFT_STATUS_OK);
  weft_status_clear(&o.status);
  unary_ok(cl.c);
}

TEST(TcpFaults, ServerDiesMidFrameCallFailsUnavailable) {
  RawServer rs([](int fd) {
    char buf[512];
    (void)read(fd, buf, sizeof buf); // the OPEN
    std::string f = frame(std::string(50, 'y'));
    (void)write(fd, f.data(), 20);
  });
  weft_client_opts co = {};
  Client cl("tcp://127.0.0.1:" + std::to_string(rs.port), &co);
  weft__test__EchoRequest r;
  weft__test__EchoRequest_init(&r);
  weft__test__EchoResponse *resp = nullptr;
  weft_call_opts o = {};
  EXPECT_LT(weft__test__Echo_unary(cl.c, &r, &resp, &o), 0);
  EXPECT_EQ(o.status.code, WEFT_STATUS_UNAVAILABLE);
  ASSERT_NE(o.status.message, nullptr);
  EXPECT_NE(std::string(o.status.message).find("middle of a frame"),
            std::string::npos)
      << o.status.message;
  weft_status_clear(&o.status);
}

TEST(TcpFaults, HalfOpenServerDetectedByClientKeepalive) {
  std::atomic<bool> done{false};
  RawServer rs([&](int fd) {
    // Accepts, reads, never answers: a peer that vanished without FIN.
    while (!done) {
      char buf[512];
      pollfd p = {fd, POLLIN, 0};
      if (poll(&p, 1, 20) > 0 && read(fd, buf, sizeof buf) <= 0)
        break;
    }
  });
  weft_client_opts co = {};
  co.keepalive_ms = 100;
  Client cl("tcp://127.0.0.1:" + std::to_string(rs.port), &co);
  weft__test__EchoRequest r;
  weft__test__EchoRequest_init(&r);
  weft__test__EchoResponse *resp = nullptr;
  weft_call_opts o = {}; // no deadline: only keepalive can end this
  EXPECT_LT(weft__test__Echo_unary(cl.c, &r, &resp, &o), 0);
  EXPECT_EQ(o.status.code, WEFT_STATUS_UNAVAILABLE);
  ASSERT_NE(o.status.message, nullptr);
  EXPECT_NE(std::string(o.status.message).find("keepalive"), std::string::npos)
      << o.status.message;
  weft_status_clear(&o.status);
  done = true;
}

TEST(TcpFaults, HalfOpenClientDetectedByServerKeepalive) {
  weft_server_opts so = {};
  so.keepalive_ms = 100;
  Server srv("tcp://127.0.0.1:0", &so);
  int fd = raw_connect(srv.port);
  // Never answers the server's PINGs: the server gives up and closes.
  bool eof;
  std::string got = read_to_eof(fd, 10000, &eof);
  EXPECT_TRUE(eof);
  EXPECT_GE(got.size(), 4u); // at least one PING arrived first
  close(fd);
  Client good(srv.url());
  unary_ok(good.c);
}

TEST(TcpFaults, KeepaliveKeepsAQuietConnectionUp) {
  weft_server_opts so = {};
  so.keepalive_ms = 50;
  Server srv("tcp://127.0.0.1:0", &so);
  weft_client_opts co = {};
  co.keepalive_ms = 50;
  Client cl(srv.url(), &co);
  unary_ok(cl.c);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  unary_ok(cl.c); // PING/PONG kept both sides happy
}

TEST(TcpFaults, IdleTimeoutClosesServerSide) {
  weft_server_opts so = {};
  so.idle_timeout_ms = 100;
  Server srv("tcp://127.0.0.1:0", &so);
  int fd = raw_connect(srv.port);
  bool eof;
  read_to_eof(fd, 10000, &eof);
  EXPECT_TRUE(eof);
  close(fd);
}
