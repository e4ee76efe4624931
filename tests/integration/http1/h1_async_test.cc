// Asynchronous calls of the http:// client (h1c_async.c) against a scripted
// HTTP/1.1 server on loopback: a server that answers garbage or closes in
// the middle of a response (the status says what and where), the
// per-client connection cap and its queue (no more connections than the
// cap, queued calls cancelled or timed out while they wait), and blocking
// calls sharing the cap with asynchronous ones. Labelled tsan: callbacks
// run on the client loop while the test thread starts and cancels calls.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

extern "C" {
#include "echo.weft.h"
#include "echo_service.h"
#include "weft/server.h"
#include "weft/client.h"
#include "weft/http.h"
#include "weft/transport.h"
}

namespace {

// A valid Connect unary answer: EchoResponse{text: "ok"}.
const std::string kOk = "HTTP/1.1 200 OK\r\nContent-Type: application/proto\r\n"
                        "Content-Length: 4\r\n\r\n\x0a\x02ok";

// One request head and its Content-Length body (the client sends unary
// requests whole), or false when the peer closed.
bool read_request(int fd, std::string *head) {
  std::string buf;
  char tmp[4096];
  size_t end;
  while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
    ssize_t n = read(fd, tmp, sizeof tmp);
    if (n <= 0)
      return false;
    buf.append(tmp, (size_t)n);
  }
  size_t len = 0, at = buf.find("Content-Length: ");
  if (at != std::string::npos && at < end)
    len = strtoul(buf.c_str() + at + 16, nullptr, 10);
  while (buf.size() < end + 4 + len) {
    ssize_t n = read(fd, tmp, sizeof tmp);
    if (n <= 0)
      return false;
    buf.append(tmp, (size_t)n);
  }
  *head = buf.substr(0, end);
  return true;
}

void write_all(int fd, const std::string &s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0)
      return;
    off += (size_t)n;
  }
}

// A loopback server: each connection runs `serve` on a thread of its own
// (the test's, not the client's). Counts connections open at once.
class RawServer {
public:
  using Serve = std::function<void(RawServer *, int fd)>;
  explicit RawServer(Serve serve) : serve_(std::move(serve)) {
    lfd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a = {};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(lfd_, (sockaddr *)&a, sizeof a);
    socklen_t sl = sizeof a;
    getsockname(lfd_, (sockaddr *)&a, &sl);
    port_ = ntohs(a.sin_port);
    listen(lfd_, 128);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~RawServer() {
    stop_ = true;
    shutdown(lfd_, SHUT_RDWR);
    acceptor_.join();
    {
      std::lock_guard<std::mutex> g(mu_);
      for (int fd : fds_)
        shutdown(fd, SHUT_RDWR);
    }
    for (auto &t : conns_)
      t.join();
    close(lfd_);
  }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(port_);
  }
  int peak() {
    std::lock_guard<std::mutex> g(mu_);
    return peak_;
  }
  int accepted() {
    std::lock_guard<std::mutex> g(mu_);
    return accepted_;
  }

private:
  void accept_loop() {
    for (;;) {
      pollfd p = {lfd_, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) {
        if (stop_)
          return;
        continue;
      }
      int fd = accept4(lfd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0)
        return;
      std::lock_guard<std::mutex> g(mu_);
      fds_.push_back(fd);
      accepted_++;
      if (++open_ > peak_)
        peak_ = open_;
      conns_.emplace_back([this, fd] {
        serve_(this, fd);
        std::lock_guard<std::mutex> g2(mu_);
        open_--;
        shutdown(fd, SHUT_RDWR);
      });
    }
  }
  Serve serve_;
  int lfd_ = -1, port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> conns_;
  std::vector<int> fds_;
  int open_ = 0, peak_ = 0, accepted_ = 0;
};

// Keep-alive: answers every request with `answer` after delay_ms.
RawServer::Serve answering(const std::string &answer, int delay_ms) {
  return [answer, delay_ms](RawServer *, int fd) {
    std::string head;
    while (read_request(fd, &head)) {
      if (delay_ms)
        std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
      write_all(fd, answer);
    }
  };
}

struct Done {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<int> codes;
  std::vector<std::string> messages;
  int ok_messages = 0;
  bool wait(size_t n, int seconds = 20) {
    std::unique_lock<std::mutex> l(mu);
    return cv.wait_for(l, std::chrono::seconds(seconds),
                       [&] { return codes.size() >= n; });
  }
};

void on_message(weft_call *, void *msg, void *ud) {
  auto *d = static_cast<Done *>(ud);
  auto *r = static_cast<weft__test__EchoResponse *>(msg);
  {
    std::lock_guard<std::mutex> g(d->mu);
    d->ok_messages += r->text && strcmp(r->text, "ok") == 0;
  }
  weft_message_free(msg);
}

void on_done(weft_call *, const weft_status *st, const weft_metadata *,
             void *ud) {
  auto *d = static_cast<Done *>(ud);
  std::lock_guard<std::mutex> g(d->mu);
  d->codes.push_back(st->code);
  d->messages.push_back(st->message ? st->message : "");
  d->cv.notify_all();
}

const weft_call_callbacks cbs = {nullptr, on_message, on_done};

weft_call *start(weft_client *c, Done *d, int64_t timeout_ms = 10000) {
  weft__test__EchoRequest req = weft__test__EchoRequest_INIT;
  req.text = (char *)"hi";
  weft_call_opts o = {};
  o.timeout_ms = timeout_ms;
  weft_call *call = nullptr;
  int rv = weft_call_start_async(c, &weft__test__Echo_service.methods[0], &req,
                                 &o, &cbs, d, &call);
  EXPECT_EQ(rv, 0) << (o.status.message ? o.status.message : "");
  weft_status_clear(&o.status);
  return call;
}

weft_client *open_client(const std::string &url, int max_connections) {
  static weft_http_client_opts ho;
  ho = WEFT_HTTP_CLIENT_OPTS_INIT;
  ho.max_connections = max_connections;
  weft_client_opts o = {};
  o.transport_opts = &ho;
  o.connect_timeout_ms = 5000;
  weft_client *c = nullptr;
  weft_error err = {};
  EXPECT_EQ(weft_client_open(&c, url.c_str(), &o, &err), 0) << err.message;
  return c;
}

// Garbage where a response should be: INTERNAL, and the message names the
// HTTP/1.1 response and what in it is wrong.
TEST(H1Async, GarbageResponseSaysWhatAndWhere) {
  struct Case {
    std::string answer, expect;
  } cases[] = {
      {"HELLO WORLD\r\n\r\n", "status line"},
      {"HTTP/1.1 200 OK\r\nContent-Length: 4x\r\n\r\nabcd", "Content-Length"},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "chunk"},
  };
  for (const Case &cs : cases) {
    RawServer s(answering(cs.answer, 0));
    weft_client *c = open_client(s.url(), 0);
    ASSERT_NE(c, nullptr);
    Done d;
    start(c, &d);
    ASSERT_TRUE(d.wait(1));
    {
      std::lock_guard<std::mutex> g(d.mu);
      EXPECT_EQ(d.codes[0], WEFT_STATUS_INTERNAL) << d.messages[0];
      EXPECT_NE(d.messages[0].find("HTTP/1.1 response"), std::string::npos)
          << d.messages[0];
      EXPECT_NE(d.messages[0].find(cs.expect), std::string::npos)
          << d.messages[0];
      EXPECT_EQ(d.ok_messages, 0);
      std::printf("garbage: %s\n", d.messages[0].c_str());
    }
    weft_client_close(c);
  }
}

// The server closes in the middle of a response (its head promised 100
// bytes, 10 came): UNAVAILABLE, saying the response was cut and where.
// Its connection is not reused: the next call gets a new one and succeeds.
TEST(H1Async, ServerClosesMidResponse) {
  std::atomic<int> n{0};
  RawServer s([&n](RawServer *, int fd) {
    std::string head;
    while (read_request(fd, &head)) {
      if (n++ == 0) {
        write_all(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/proto\r\n"
                      "Content-Length: 100\r\n\r\n0123456789");
        return; // closes
      }
      write_all(fd, kOk);
    }
  });
  weft_client *c = open_client(s.url(), 0);
  ASSERT_NE(c, nullptr);
  Done d;
  start(c, &d);
  ASSERT_TRUE(d.wait(1));
  start(c, &d);
  ASSERT_TRUE(d.wait(2));
  std::lock_guard<std::mutex> g(d.mu);
  EXPECT_EQ(d.codes[0], WEFT_STATUS_UNAVAILABLE) << d.messages[0];
  EXPECT_NE(d.messages[0].find("HTTP/1.1 response"), std::string::npos)
      << d.messages[0];
  EXPECT_NE(d.messages[0].find("10"), std::string::npos) << d.messages[0];
  std::printf("cut: %s\n", d.messages[0].c_str());
  EXPECT_EQ(d.codes[1], WEFT_STATUS_OK) << d.messages[1];
  EXPECT_EQ(d.ok_messages, 1);
  weft_client_close(c);
}

// The server closes without answering at all (before any response byte,
// on a new connection: nothing to retry): UNAVAILABLE naming the peer.
TEST(H1Async, ServerClosesBeforeResponding) {
  RawServer s([](RawServer *, int fd) {
    std::string head;
    read_request(fd, &head);
  });
  weft_client *c = open_client(s.url(), 0);
  ASSERT_NE(c, nullptr);
  Done d;
  start(c, &d);
  ASSERT_TRUE(d.wait(1));
  std::lock_guard<std::mutex> g(d.mu);
  EXPECT_EQ(d.codes[0], WEFT_STATUS_UNAVAILABLE) << d.messages[0];
  EXPECT_NE(d.messages[0].find("127.0.0.1"), std::string::npos)
      << d.messages[0];
  weft_client_close(c);
}

// The keep-alive race, where the server closes a reused connection after
// reading the request and before any response byte: a method marked
// idempotent (Echo.Unary, NO_SIDE_EFFECTS) is sent again on a new
// connection; any other is not (RFC 9112 section 9.3.1: the server may
// have carried it out), and fails UNAVAILABLE.
TEST(H1Async, OnlyIdempotentCallsAreResentAfterTheKeepAliveRace) {
  struct Seen {
    std::mutex mu;
    std::vector<std::string> paths;
    int count(const std::string &p) {
      std::lock_guard<std::mutex> g(mu);
      return (int)std::count(paths.begin(), paths.end(), p);
    }
  } seen;
  // Each connection answers its first request and closes on the second.
  RawServer s([&seen](RawServer *, int fd) {
    std::string head;
    for (int i = 0; read_request(fd, &head); i++) {
      {
        std::lock_guard<std::mutex> g(seen.mu);
        seen.paths.push_back(head.substr(5, head.find(' ', 5) - 5));
      }
      if (i > 0)
        return;
      write_all(fd, kOk);
    }
  });
  const std::string unary = "/weft.test.Echo/Unary",
                    stream = "/weft.test.Echo/ServerStream";
  for (int m : {1, 0}) {
    weft_client *c = open_client(s.url(), 1);
    ASSERT_NE(c, nullptr);
    Done first;
    start(c, &first);
    ASSERT_TRUE(first.wait(1));
    // The same connection, at once (so it is not seen closed while idle).
    Done d;
    weft__test__EchoRequest req = weft__test__EchoRequest_INIT;
    req.text = (char *)"again";
    weft_call_opts o = {};
    o.timeout_ms = 10000;
    weft_call *call = nullptr;
    ASSERT_EQ(weft_call_start_async(c, &weft__test__Echo_service.methods[m],
                                    &req, &o, &cbs, &d, &call),
              0);
    ASSERT_TRUE(d.wait(1));
    std::lock_guard<std::mutex> g(d.mu);
    if (m == 1) {
      EXPECT_EQ(d.codes[0], WEFT_STATUS_UNAVAILABLE) << d.messages[0];
      EXPECT_EQ(seen.count(stream), 1) << "ServerStream was sent again";
    } else {
      EXPECT_EQ(d.codes[0], WEFT_STATUS_OK) << d.messages[0];
      EXPECT_EQ(seen.count(unary), 4) << "two calls, one sent twice";
    }
    weft_client_close(c);
  }
}

// 40 calls at once with max_connections 3: the server never sees more
// than 3 connections, every call completes, and the connections are
// handed from call to call (not one per call).
TEST(H1Async, ConnectionCapQueuesCalls) {
  RawServer s(answering(kOk, 5));
  weft_client *c = open_client(s.url(), 3);
  ASSERT_NE(c, nullptr);
  Done d;
  const int N = 40;
  for (int i = 0; i < N; i++)
    start(c, &d);
  ASSERT_TRUE(d.wait(N));
  {
    std::lock_guard<std::mutex> g(d.mu);
    for (int code : d.codes)
      EXPECT_EQ(code, WEFT_STATUS_OK);
    EXPECT_EQ(d.ok_messages, N);
  }
  EXPECT_LE(s.peak(), 3);
  EXPECT_LE(s.accepted(), 3) << "connections were not handed on";
  weft_client_close(c);
}

// One connection, a slow server: calls queued behind it end on their own
// deadline or cancel while they wait, promptly, and the call holding the
// connection is not disturbed.
TEST(H1Async, QueuedCallsCancelAndTimeOut) {
  RawServer s(answering(kOk, 600));
  weft_client *c = open_client(s.url(), 1);
  ASSERT_NE(c, nullptr);
  Done first, late, cancelled;
  start(c, &first);
  start(c, &late, 100);
  weft_call *q = start(c, &cancelled);
  int64_t t0 = weft_now_ns();
  weft_call_cancel(q);
  ASSERT_TRUE(cancelled.wait(1));
  ASSERT_TRUE(late.wait(1));
  double ms = (weft_now_ns() - t0) / 1e6;
  EXPECT_LT(ms, 550) << "a queued call waited for the connection to end";
  ASSERT_TRUE(first.wait(1));
  EXPECT_EQ(cancelled.codes[0], WEFT_STATUS_CANCELLED) << cancelled.messages[0];
  EXPECT_EQ(late.codes[0], WEFT_STATUS_DEADLINE_EXCEEDED) << late.messages[0];
  EXPECT_EQ(first.codes[0], WEFT_STATUS_OK) << first.messages[0];
  EXPECT_EQ(s.accepted(), 1);
  weft_client_close(c);
}

// Blocking calls share the cap with asynchronous ones: with one
// connection, a blocking call started while 5 asynchronous calls hold and
// wait for it queues behind them and then succeeds; and a blocking call
// whose deadline passes in the queue fails with DEADLINE_EXCEEDED.
TEST(H1Async, BlockingCallsShareTheCap) {
  RawServer s(answering(kOk, 50));
  weft_client *c = open_client(s.url(), 1);
  ASSERT_NE(c, nullptr);
  Done d;
  for (int i = 0; i < 5; i++)
    start(c, &d);
  weft__test__EchoRequest req = weft__test__EchoRequest_INIT;
  req.text = (char *)"b";
  weft__test__EchoResponse *resp = nullptr;
  weft_call_opts o = {};
  o.timeout_ms = 10000;
  ASSERT_EQ(weft__test__Echo_unary(c, &req, &resp, &o), 0) << o.status.message;
  EXPECT_STREQ(resp->text, "ok");
  weft_message_free(resp);
  ASSERT_TRUE(d.wait(5));
  for (int i = 0; i < 5; i++)
    start(c, &d);
  // Queued (on the loop) before the blocking call comes.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  o.timeout_ms = 60; // less than the calls ahead of it take
  EXPECT_EQ(weft__test__Echo_unary(c, &req, &resp, &o), WEFT_ERR_TIMEOUT);
  EXPECT_EQ(o.status.code, WEFT_STATUS_DEADLINE_EXCEEDED) << o.status.message;
  ASSERT_TRUE(d.wait(10));
  {
    std::lock_guard<std::mutex> g(d.mu);
    for (int code : d.codes)
      EXPECT_EQ(code, WEFT_STATUS_OK);
  }
  EXPECT_EQ(s.peak(), 1);
  weft_status_clear(&o.status);
  weft_client_close(c);
}

// Closing the client while calls wait in the queue and hold connections:
// each gets its on_done before weft_client_close returns.
TEST(H1Async, CloseEndsQueuedCalls) {
  RawServer s(answering(kOk, 800));
  weft_client *c = open_client(s.url(), 2);
  ASSERT_NE(c, nullptr);
  Done d;
  for (int i = 0; i < 10; i++)
    start(c, &d);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  weft_client_close(c);
  std::lock_guard<std::mutex> g(d.mu);
  EXPECT_EQ(d.codes.size(), 10u);
  for (int code : d.codes)
    EXPECT_NE(code, WEFT_STATUS_OK);
}

// Not a test (run with --gtest_also_run_disabled_tests): unary calls per
// second over HTTP/1.1 to weft's own server (the h2c listener's HTTP/1.1
// side), blocking one at a time, asynchronous one at a time, and
// asynchronous all in flight at once. Client and server share the machine.
TEST(H1Async, DISABLED_UnaryRate) {
  weft_server *srv = nullptr;
  weft_server_opts so = {};
  so.worker_threads = 4;
  so.max_pending_calls = 8192;
  ASSERT_EQ(weft_server_new(&srv, &so), 0);
  ASSERT_EQ(weft_test_echo_add(srv), 0);
  weft_error err = {};
  ASSERT_EQ(weft_server_listen(srv, "h2c://127.0.0.1:0", &err), 0)
      << err.message;
  std::string url =
      "http://127.0.0.1:" + std::to_string(weft_server_port(srv, 0));
  weft_client *c = open_client(url, 0);
  ASSERT_NE(c, nullptr);
  const int n = getenv("WEFT_RATE_N") ? atoi(getenv("WEFT_RATE_N")) : 5000;
  weft__test__EchoRequest req = weft__test__EchoRequest_INIT;
  req.text = (char *)"hello";
  weft_call_opts o = {};
  int64_t t0 = weft_now_ns();
  for (int i = 0; i < n; i++) {
    weft__test__EchoResponse *resp = nullptr;
    ASSERT_EQ(weft__test__Echo_unary(c, &req, &resp, &o), 0)
        << o.status.message;
    weft_message_free(resp);
  }
  double blocking = n / ((weft_now_ns() - t0) / 1e9);
  weft_status_clear(&o.status);
  t0 = weft_now_ns();
  for (int i = 0; i < n; i++) {
    Done d;
    start(c, &d);
    ASSERT_TRUE(d.wait(1));
  }
  double async_seq = n / ((weft_now_ns() - t0) / 1e9);
  Done all;
  t0 = weft_now_ns();
  for (int i = 0; i < n; i++)
    start(c, &all, 60000);
  ASSERT_TRUE(all.wait(n, 60));
  double async_all = n / ((weft_now_ns() - t0) / 1e9);
  {
    std::lock_guard<std::mutex> g(all.mu);
    EXPECT_EQ(all.ok_messages, 0); // the echo answers "hello", not "ok"
    for (int code : all.codes)
      ASSERT_EQ(code, WEFT_STATUS_OK);
  }
  std::printf("unary calls/s over HTTP/1.1 to weft's server: blocking %.0f, "
              "async one at a time %.0f, async %d at once %.0f\n",
              blocking, async_seq, n, async_all);
  weft_client_close(c);
  weft_server_free(srv);
}

} // namespace

// New connections are opened on the client loop, not one at a time on a
// connector thread: client A's server stops taking connections (a listener
// whose backlog its first connection filled and which never accepts, so
// A's next connect stays in progress), and client B's new connection to a
// live server opens and serves its call without waiting for A's connect
// timeout. Closing A then ends its connect at once.
TEST(H1Async, UnreachableServerDoesNotDelayOtherClients) {
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(lfd, (sockaddr *)&a, sizeof a), 0);
  socklen_t sl = sizeof a;
  getsockname(lfd, (sockaddr *)&a, &sl);
  ASSERT_EQ(listen(lfd, 0), 0); // room for the one connection open makes
  std::string dead_url =
      "http://127.0.0.1:" + std::to_string(ntohs(a.sin_port));

  static weft_http_client_opts ho;
  ho = WEFT_HTTP_CLIENT_OPTS_INIT;
  weft_client_opts o = {};
  o.transport_opts = &ho;
  o.connect_timeout_ms = 30000; // far beyond the test: nobody waits for it
  weft_client *ca = nullptr;
  weft_error err = {};
  ASSERT_EQ(weft_client_open(&ca, dead_url.c_str(), &o, &err), 0)
      << err.message;
  Done da;
  start(ca, &da, 60000); // takes the first connection; never answered
  start(ca, &da, 60000); // a new connection: its connect never completes
  std::this_thread::sleep_for(std::chrono::milliseconds(100));

  // The live server holds its first answer until a second connection
  // came, so B's second call must open one (not reuse the first).
  RawServer live([](RawServer *srv, int fd) {
    std::string head;
    while (read_request(fd, &head)) {
      for (int i = 0; i < 1000 && srv->accepted() < 2; i++)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      write_all(fd, kOk);
    }
  });
  weft_client *cb = open_client(live.url(), 0);
  ASSERT_NE(cb, nullptr);
  Done db;
  start(cb, &db); // the connection open made
  start(cb, &db); // a new one, opened while A's connect hangs
  ASSERT_TRUE(db.wait(2, 15)) << "B's calls waited for A's connect";
  {
    std::lock_guard<std::mutex> g(db.mu);
    EXPECT_EQ(db.codes[0], WEFT_STATUS_OK) << db.messages[0];
    EXPECT_EQ(db.codes[1], WEFT_STATUS_OK) << db.messages[1];
  }
  EXPECT_EQ(live.accepted(), 2);
  {
    std::lock_guard<std::mutex> g(da.mu);
    EXPECT_TRUE(da.codes.empty()); // A's calls are still waiting
  }
  weft_client_close(cb);
  weft_client_close(ca); // cancels A's calls, and its connect with them
  {
    std::lock_guard<std::mutex> g(da.mu);
    ASSERT_EQ(da.codes.size(), 2u);
    EXPECT_EQ(da.codes[0], WEFT_STATUS_CANCELLED) << da.messages[0];
    EXPECT_EQ(da.codes[1], WEFT_STATUS_CANCELLED) << da.messages[1];
  }
  close(lfd);
}
