// Reconnect attempts of ws:// and wss:// clients run on the client loop
// (connect_async): the connect, the TLS handshake and the upgrade. A
// server that accepts and never answers the upgrade does not delay
// another client's reconnect; refused upgrades (non-101, a wrong
// Sec-WebSocket-Accept) and a failed TLS handshake during a reconnect
// give the error a first connect gives, and the client tries again; a
// 101 that arrives one byte at a time opens the connection.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

extern "C" {
#include "echo_expect.h"
#include "echo_service.h"
#include "self_signed.h"
#include "weft/client.h"
#include "weft/server.h"
}

namespace {

using namespace std::chrono_literals;

struct Errors {
  std::mutex mu;
  std::vector<std::pair<int, std::string>> seen;
  bool any_containing(const std::string &s) {
    std::lock_guard<std::mutex> g(mu);
    for (auto &m : seen)
      if (m.second.find(s) != std::string::npos)
        return true;
    return false;
  }
  // The first message with this code ("" if none).
  std::string first(int code) {
    std::lock_guard<std::mutex> g(mu);
    for (auto &m : seen)
      if (m.first == code)
        return m.second;
    return "";
  }
};

void on_error(weft_client *, const weft_error *err, void *ud) {
  auto *e = static_cast<Errors *>(ud);
  std::lock_guard<std::mutex> g(e->mu);
  e->seen.emplace_back(err->code, err->message);
}

template <class F> bool wait_for(F f, int seconds) {
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (f())
      return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

bool wait_state(weft_client *c, weft_conn_state st, int seconds) {
  return wait_for([&] { return weft_client_state(c) == st; }, seconds);
}

WeftTestCert &cert() { // one per test program
  static WeftTestCert c("ws-reconn");
  return c;
}

// A weft server with the Echo service on scheme://127.0.0.1:port.
class Server {
public:
  Server(const std::string &scheme, int port) {
    weft_server_opts o = {};
    o.shutdown_grace_ms = 100; // a server that goes, goes at once
    if (scheme == "wss") {
      o.tls.cert_file = cert().cert.c_str();
      o.tls.key_file = cert().key.c_str();
    }
    EXPECT_EQ(weft_server_new(&s_, &o), 0);
    EXPECT_EQ(weft_test_echo_add(s_), 0);
    weft_error err = {};
    std::string url = scheme + "://127.0.0.1:" + std::to_string(port);
    EXPECT_EQ(weft_server_listen(s_, url.c_str(), &err), 0) << err.message;
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

private:
  weft_server *s_ = nullptr;
  int port_ = -1;
  std::thread th_;
};

weft_client_opts client_opts(const std::string &scheme, Errors *errors) {
  weft_client_opts o = {};
  o.connect_timeout_ms = 3000;
  o.reconnect.enabled = true;
  o.reconnect.base_ms = 20;
  o.reconnect.cap_ms = 50;
  o.on_error = on_error;
  o.user_data = errors;
  if (scheme == "wss")
    o.tls.ca_file = cert().cert.c_str();
  return o;
}

void echo_ok(weft_client *c) {
  weft_test_expect_echo(c, "back");
}

// A server that misbehaves in the handshake: the n-th connection it
// accepts gets modes[n] (the last mode for any later one).
enum Mode { kRefuse403, kBadAccept, kBytewise101, kNotTls };

class Fake {
public:
  Fake(int port, std::vector<Mode> modes) : modes_(std::move(modes)) {
    lfd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a = {};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    EXPECT_EQ(bind(lfd_, (sockaddr *)&a, sizeof a), 0);
    EXPECT_EQ(listen(lfd_, 16), 0);
    th_ = std::thread([this] { run(); });
  }
  ~Fake() {
    stop_ = true;
    th_.join();
    for (int fd : held_)
      close(fd);
    close(lfd_);
  }
  int accepted() const {
    return n_;
  }

private:
  static std::string accept_key(const std::string &key) {
    std::string s = key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char md[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)s.data(), s.size(), md);
    unsigned char out[64];
    EVP_EncodeBlock(out, md, sizeof md);
    return (const char *)out;
  }
  // The request's header block, or "" when it does not come in time.
  std::string read_request(int fd) {
    std::string req;
    while (!stop_ && req.find("\r\n\r\n") == std::string::npos) {
      pollfd p = {fd, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0)
        continue;
      char buf[2048];
      ssize_t r = read(fd, buf, sizeof buf);
      if (r <= 0)
        return "";
      req.append(buf, r);
    }
    return req;
  }
  void serve(int fd, Mode m) {
    if (m == kNotTls) { // answers a ClientHello in plain HTTP
      pollfd p = {fd, POLLIN, 0};
      poll(&p, 1, 2000);
      const char r[] = "HTTP/1.1 400 Bad Request\r\n\r\n";
      (void)!write(fd, r, sizeof r - 1);
      close(fd);
      return;
    }
    std::string req = read_request(fd);
    std::string key;
    size_t k = req.find("Sec-WebSocket-Key: ");
    if (k != std::string::npos)
      key = req.substr(k + 19, req.find("\r\n", k) - k - 19);
    std::string resp;
    if (m == kRefuse403) {
      resp = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n"
             "Connection: close\r\n\r\n";
    } else {
      std::string acc = accept_key(key);
      if (m == kBadAccept)
        acc[0] = acc[0] == 'A' ? 'B' : 'A';
      resp = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
             "Connection: Upgrade\r\nSec-WebSocket-Accept: " +
             acc + "\r\nSec-WebSocket-Protocol: weft.proto.v1\r\n\r\n";
    }
    if (m == kBytewise101) {
      for (char ch : resp) {
        (void)!write(fd, &ch, 1);
        std::this_thread::sleep_for(1ms);
      }
      held_.push_back(fd); // open until the end of the test
      return;
    }
    (void)!write(fd, resp.data(), resp.size());
    close(fd);
  }
  void run() {
    while (!stop_) {
      pollfd p = {lfd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0)
        continue;
      int fd = accept4(lfd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0)
        continue;
      int n = n_;
      serve(fd, modes_[std::min<size_t>(n, modes_.size() - 1)]);
      n_ = n + 1;
    }
  }
  std::vector<Mode> modes_;
  int lfd_ = -1;
  std::vector<int> held_;
  std::atomic<int> n_{0};
  std::atomic<bool> stop_{false};
  std::thread th_;
};

// A blocking first connect's error to the same server (no reconnect).
std::string first_connect_error(const std::string &url,
                                const std::string &scheme) {
  Errors none;
  weft_client_opts o = client_opts(scheme, &none);
  o.reconnect.enabled = false;
  weft_client *c = nullptr;
  weft_error err = {};
  EXPECT_NE(weft_client_open(&c, url.c_str(), &o, &err), 0);
  if (c)
    weft_client_close(c);
  return err.message;
}

} // namespace

class ClientReconnect : public ::testing::TestWithParam<std::string> {};

TEST_P(ClientReconnect, NotDelayedByAnotherClientsHangingAttempt) {
  const std::string scheme = GetParam();
  // A: a ws:// client to a port nobody listens on yet, retrying.
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(bind(lfd, (sockaddr *)&a, sizeof a), 0);
  socklen_t sl = sizeof a;
  getsockname(lfd, (sockaddr *)&a, &sl);
  std::string a_url = "ws://127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  Errors a_errors;
  weft_client_opts ao = client_opts("ws", &a_errors);
  ao.connect_timeout_ms = 5000; // B's whole outage fits well inside it
  weft_client *ca = nullptr;
  ASSERT_EQ(weft_client_open(&ca, a_url.c_str(), &ao, NULL), 0);
  // Its server appears: the kernel accepts for it, nobody ever answers the
  // upgrade, so A's next attempt waits connect_timeout_ms for a response.
  ASSERT_EQ(listen(lfd, 16), 0);
  ASSERT_TRUE(wait_state(ca, WEFT_CONN_CONNECTING, 5));
  std::this_thread::sleep_for(100ms);

  // B: a client whose server goes away and comes back on its port.
  Errors b_errors;
  weft_client_opts bo = client_opts(scheme, &b_errors);
  weft_client *cb = nullptr;
  int port;
  {
    Server s(scheme, 0);
    port = s.port();
    std::string url = scheme + "://127.0.0.1:" + std::to_string(port);
    ASSERT_EQ(weft_client_open(&cb, url.c_str(), &bo, NULL), 0);
  }
  ASSERT_TRUE(wait_for(
      [&] { return weft_client_state(cb) != WEFT_CONN_CONNECTED; }, 5));
  Server back(scheme, port);
  ASSERT_TRUE(wait_state(cb, WEFT_CONN_CONNECTED, 10));
  // ... before A's hanging attempt ended.
  EXPECT_FALSE(a_errors.any_containing("no handshake response"))
      << "B reconnected only after A's attempt timed out";
  EXPECT_NE(weft_client_state(ca), WEFT_CONN_CONNECTED);
  echo_ok(cb);
  weft_client_close(cb);
  close(lfd);
  weft_client_close(ca); // stops A's attempt
}

INSTANTIATE_TEST_SUITE_P(Transports, ClientReconnect,
                         ::testing::Values("ws", "wss"),
                         [](const auto &i) { return i.param; });

TEST(WsReconnect, RefusedUpgradesSayWhyAndTheClientRetries) {
  Errors errors;
  weft_client_opts o = client_opts("ws", &errors);
  weft_client *c = nullptr;
  int port;
  std::string url;
  {
    Server s("ws", 0);
    port = s.port();
    url = "ws://127.0.0.1:" + std::to_string(port);
    ASSERT_EQ(weft_client_open(&c, url.c_str(), &o, NULL), 0);
  }
  ASSERT_TRUE(
      wait_for([&] { return weft_client_state(c) != WEFT_CONN_CONNECTED; }, 5));
  {
    // 403, then a wrong accept, then a 101 one byte at a time; the client
    // stays on that last one. A later connection gets 403 again.
    Fake f(port, {kRefuse403, kBadAccept, kBytewise101, kRefuse403});
    ASSERT_TRUE(wait_state(c, WEFT_CONN_CONNECTED, 10));
    EXPECT_TRUE(wait_for([&] { return f.accepted() == 3; }, 5));
    std::string refused = errors.first(WEFT_ERR_HANDSHAKE);
    EXPECT_EQ(refused, "ws: 127.0.0.1:" + std::to_string(port) +
                           ": server answered HTTP 403 Forbidden");
    EXPECT_TRUE(errors.any_containing(": Sec-WebSocket-Accept is "));
    // The same words as a first connect's.
    EXPECT_EQ(first_connect_error(url, "ws"), refused);
  }
  weft_client_close(c);
}

TEST(WsReconnect, TlsHandshakeFailureSaysWhyAndTheClientRetries) {
  Errors errors;
  weft_client_opts o = client_opts("wss", &errors);
  weft_client *c = nullptr;
  int port;
  std::string url;
  {
    Server s("wss", 0);
    port = s.port();
    url = "wss://127.0.0.1:" + std::to_string(port);
    ASSERT_EQ(weft_client_open(&c, url.c_str(), &o, NULL), 0);
  }
  ASSERT_TRUE(
      wait_for([&] { return weft_client_state(c) != WEFT_CONN_CONNECTED; }, 5));
  std::string tls_error;
  {
    Fake f(port, {kNotTls});
    ASSERT_TRUE(
        wait_for([&] { return !errors.first(WEFT_ERR_TLS).empty(); }, 10));
    tls_error = errors.first(WEFT_ERR_TLS);
    EXPECT_EQ(first_connect_error(url, "wss"), tls_error);
  }
  Server back("wss", port);
  ASSERT_TRUE(wait_state(c, WEFT_CONN_CONNECTED, 10)) << tls_error;
  echo_ok(c);
  weft_client_close(c);
}

TEST(WsReconnect, HostNameIsLookedUpOffTheLoop) {
  // A name, not an address literal: the attempt's lookup runs on the
  // runtime's resolver threads, the connect and the upgrade on the loop.
  Errors errors;
  weft_client_opts o = client_opts("ws", &errors);
  weft_client *c = nullptr;
  int port;
  {
    Server s("ws", 0);
    port = s.port();
    std::string url = "ws://localhost:" + std::to_string(port);
    ASSERT_EQ(weft_client_open(&c, url.c_str(), &o, NULL), 0);
  }
  ASSERT_TRUE(
      wait_for([&] { return weft_client_state(c) != WEFT_CONN_CONNECTED; }, 5));
  Server back("ws", port);
  ASSERT_TRUE(wait_state(c, WEFT_CONN_CONNECTED, 10));
  echo_ok(c);
  weft_client_close(c);
}
