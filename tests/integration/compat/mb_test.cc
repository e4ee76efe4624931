// weft's MB broker mode with weft MB clients on loopback: a client registered
// with the broker serves requests a second client sends, and receives its
// publishes; the TCP framing limit closes the connection; "mb://" works as a
// server listen URL; a WebSocket caller reaches a TCP service.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "weft/mb_net.h"
#include "weft/server.h"
#include "weft/websocket.h"
#include "ws_sync.h"

namespace {

struct Service {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> requests, publishes;

  static void on_request(weft_mb_client *c, const weft_mb_message *m,
                         void *ud) {
    auto *s = static_cast<Service *>(ud);
    std::string payload(m->payload, m->payload_len);
    {
      std::lock_guard<std::mutex> g(s->mu);
      s->requests.push_back(payload);
    }
    std::string resp = "{\"job_id\":\"j1\",\"request\":" + payload + "}";
    weft_mb_client_respond(c, &m->header, resp.c_str(), nullptr);
  }
  static void on_publish(weft_mb_client *, const weft_mb_message *m, void *ud) {
    auto *s = static_cast<Service *>(ud);
    std::lock_guard<std::mutex> g(s->mu);
    s->publishes.emplace_back(m->payload, m->payload_len);
    s->cv.notify_all();
  }
  bool wait_publishes(size_t n) {
    std::unique_lock<std::mutex> g(mu);
    return cv.wait_for(g, std::chrono::seconds(10),
                       [&] { return publishes.size() >= n; });
  }
};

class Mb : public ::testing::Test {
protected:
  weft_mb_hub *hub = nullptr;
  int port = 0;
  void SetUp() override {
    ASSERT_EQ(weft_mb_hub_new(&hub, nullptr), 0);
    weft_error err{};
    ASSERT_EQ(weft_mb_hub_listen(hub, "127.0.0.1", 0, &port, &err), 0)
        << err.message;
    ASSERT_GT(port, 0);
  }
  void TearDown() override {
    weft_mb_hub_free(hub);
  }
  std::string url() {
    return "mb://127.0.0.1:" + std::to_string(port);
  }
};

weft_mb_client *open_client(const std::string &url, const char *name,
                            Service *svc = nullptr) {
  weft_mb_client_opts o{};
  o.name = name;
  o.description = "test client";
  if (svc) {
    o.on_request = Service::on_request;
    o.on_publish = Service::on_publish;
    o.ud = svc;
  }
  weft_mb_client *c = nullptr;
  weft_error err{};
  EXPECT_EQ(weft_mb_client_open(&c, url.c_str(), &o, &err), 0) << err.message;
  return c;
}

TEST_F(Mb, RegisteredClientServesRequestsAndGetsPublishes) {
  Service svc;
  weft_mb_client *a = open_client(url(), "jobs-svc", &svc);
  weft_mb_client *b = open_client(url(), "caller");
  ASSERT_TRUE(a && b);
  weft_error err{};
  ASSERT_EQ(
      weft_mb_client_subscribe(a, WEFT_MB_REQUEST, "jobs.create", 5, &err), 0)
      << err.message;
  ASSERT_EQ(weft_mb_client_subscribe(a, WEFT_MB_PUBLISH, "blocks.new", 0, &err),
            0);

  for (int i = 0; i < 3; i++) {
    char *resp = nullptr;
    std::string req = "{\"model\":\"llama\",\"n\":" + std::to_string(i) + "}";
    ASSERT_EQ(weft_mb_client_request(b, "jobs.create", "1.0.0", req.c_str(),
                                     2000, &resp, nullptr, &err),
              0)
        << err.message;
    EXPECT_EQ(std::string(resp), "{\"job_id\":\"j1\",\"request\":" + req + "}");
    free(resp);
  }
  EXPECT_EQ(svc.requests.size(), 3u);

  ASSERT_EQ(
      weft_mb_client_publish(b, "blocks.new", "1.0.0", "{\"height\":12}", &err),
      0);
  ASSERT_TRUE(svc.wait_publishes(1));
  EXPECT_EQ(svc.publishes[0], "{\"height\":12}");

  // No subscriber: the broker's NO_ROUTE_FOUND comes back as an MB error.
  char *resp = nullptr;
  weft_mb_error_info e{};
  EXPECT_EQ(weft_mb_client_request(b, "nobody.home", "1.0.0", "{}", 1000, &resp,
                                   &e, &err),
            WEFT_ERR_RPC);
  EXPECT_EQ(e.code, WEFT_MB_NO_ROUTE_FOUND);
  weft_mb_error_info_clear(&e);
  free(resp);

  // After unsubscribing, requests find no route.
  ASSERT_EQ(weft_mb_client_unsubscribe(a, WEFT_MB_REQUEST, "jobs.create", &err),
            0);
  EXPECT_EQ(weft_mb_client_request(b, "jobs.create", "1.0.0", "{}", 1000, &resp,
                                   nullptr, &err),
            WEFT_ERR_RPC);
  free(resp);
  weft_mb_client_close(a);
  weft_mb_client_close(b);
}

TEST_F(Mb, UnansweredRequestTimesOut) {
  struct Slow {
    static void on_request(weft_mb_client *, const weft_mb_message *, void *) {}
  };
  weft_mb_client_opts o{};
  o.name = "never-answers";
  o.on_request = Slow::on_request;
  weft_mb_client *a = nullptr, *b = open_client(url(), "caller");
  weft_error err{};
  ASSERT_EQ(weft_mb_client_open(&a, url().c_str(), &o, &err), 0);
  ASSERT_EQ(weft_mb_client_subscribe(a, WEFT_MB_REQUEST, "slow", 0, &err), 0);
  char *resp = nullptr;
  weft_mb_error_info e{};
  EXPECT_EQ(
      weft_mb_client_request(b, "slow", "1.0.0", "{}", 300, &resp, &e, &err),
      WEFT_ERR_RPC);
  EXPECT_EQ(e.code, WEFT_MB_TIMEOUT);
  weft_mb_error_info_clear(&e);
  free(resp);
  weft_mb_client_close(a);
  weft_mb_client_close(b);
}

int raw_connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (sockaddr *)&sa, sizeof sa) != 0) {
    close(fd);
    return -1;
  }
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

std::string read_n(int fd, size_t n) {
  std::string s;
  char buf[256];
  while (s.size() < n) {
    ssize_t r = recv(fd, buf, std::min(sizeof buf, n - s.size()), 0);
    if (r <= 0)
      break;
    s.append(buf, (size_t)r);
  }
  return s;
}

TEST_F(Mb, RawFramingGreetingAndOverLimitLength) {
  int fd = raw_connect(port);
  ASSERT_GE(fd, 0);
  // The greeting, byte for byte: 34-byte message after its length.
  EXPECT_EQ(
      read_n(fd, 38),
      std::string("\x00\x00\x00\x22publish:system.initialize:1.0.0\n{}", 38));
  // A malformed message is answered with an MB error...
  std::string bad = "request:t:1.0\n{}";
  uint8_t p[4];
  weft_mb_frame_prefix(p, bad.size());
  std::string frame = std::string((char *)p, 4) + bad;
  ASSERT_EQ(send(fd, frame.data(), frame.size(), 0), (ssize_t)frame.size());
  std::string len = read_n(fd, 4);
  ASSERT_EQ(len.size(), 4u);
  size_t n = (size_t)(uint8_t)len[2] << 8 | (uint8_t)len[3];
  std::string err = read_n(fd, n);
  EXPECT_EQ(err.rfind("response:t:1.0.0\n{\"error\":{\"code\":\"VERSION_NOT_"
                      "SUPPORTED\"",
                      0),
            0u)
      << err;
  // ...but a length over the limit closes the connection.
  const char over[4] = {0, 0, 0x41, 0x71};
  ASSERT_EQ(send(fd, over, 4, 0), 4);
  char c;
  EXPECT_EQ(recv(fd, &c, 1, 0), 0); // EOF
  close(fd);
}

TEST(MbServer, ListenOnMbUrl) {
  ASSERT_EQ(weft_mb_register_transport(), 0);
  weft_server *s = nullptr;
  ASSERT_EQ(weft_server_new(&s, nullptr), 0);
  weft_error err{};
  ASSERT_EQ(weft_server_listen(s, "mb://127.0.0.1:0", &err), 0) << err.message;
  int port = weft_server_port(s, 0);
  ASSERT_GT(port, 0);
  Service svc;
  std::string url = "mb://127.0.0.1:" + std::to_string(port);
  weft_mb_client *a = open_client(url, "svc", &svc);
  weft_mb_client *b = open_client(url, "caller");
  ASSERT_TRUE(a && b);
  ASSERT_EQ(weft_mb_client_subscribe(a, WEFT_MB_REQUEST, "echo", 0, &err), 0);
  char *resp = nullptr;
  ASSERT_EQ(weft_mb_client_request(b, "echo", "2.0.0", "[1,2]", 2000, &resp,
                                   nullptr, &err),
            0)
      << err.message;
  EXPECT_STREQ(resp, "{\"job_id\":\"j1\",\"request\":[1,2]}");
  free(resp);
  weft_mb_client_close(a);
  weft_mb_client_close(b);
  weft_server_shutdown(s);
  weft_server_free(s);
}

TEST_F(Mb, WebSocketCallerReachesTcpService) {
  weft_ws_opts wo = WEFT_WS_OPTS_INIT;
  wo.route = weft_mb_ws_route;
  wo.route_ud = hub;
  weft_server_opts so{};
  so.transport_opts = &wo;
  weft_server *s = nullptr;
  ASSERT_EQ(weft_server_new(&s, &so), 0);
  weft_error err{};
  ASSERT_EQ(weft_server_listen(s, "ws://127.0.0.1:0", &err), 0) << err.message;
  int wport = weft_server_port(s, 0);

  Service svc;
  weft_mb_client *a = open_client(url(), "svc", &svc);
  ASSERT_TRUE(a);
  ASSERT_EQ(weft_mb_client_subscribe(a, WEFT_MB_REQUEST, "jobs.get", 0, &err),
            0);

  weft__ws_sync_opts o{};
  o.target = "/mb";
  weft__ws_sync *ws = nullptr;
  ASSERT_EQ(weft__ws_sync_connect(&ws, "127.0.0.1", wport, &o, &err), 0)
      << err.message;
  int opcode;
  const uint8_t *data;
  size_t len;
  ASSERT_EQ(weft__ws_sync_recv(ws, &opcode, &data, &len, 10000), 1);
  EXPECT_EQ(std::string((const char *)data, len),
            "publish:system.initialize:1.0.0\n{}");
  const std::string id = "0f8fad5b-d9cb-469f-a165-70867728950e";
  std::string req = "request:jobs.get:1.0.0:" + id + "\n{\"job_id\":\"j1\"}";
  ASSERT_EQ(weft__ws_sync_send(ws, 1 /* text */, req.data(), req.size()), 0);
  ASSERT_EQ(weft__ws_sync_recv(ws, &opcode, &data, &len, 10000), 1);
  EXPECT_EQ(std::string((const char *)data, len),
            "response:jobs.get:1.0.0:" + id +
                "\n{\"job_id\":\"j1\",\"request\":{\"job_id\":\"j1\"}}");
  weft__ws_sync_close(ws, 1000, "bye", 5000);
  weft__ws_sync_free(ws);
  weft_mb_client_close(a);
  weft_server_shutdown(s);
  weft_server_free(s);
}

TEST_F(Mb, WebSocketServiceServesTcpCaller) {
  weft_ws_opts wo = WEFT_WS_OPTS_INIT;
  wo.route = weft_mb_ws_route;
  wo.route_ud = hub;
  weft_server_opts so{};
  so.transport_opts = &wo;
  weft_server *s = nullptr;
  ASSERT_EQ(weft_server_new(&s, &so), 0);
  weft_error err{};
  ASSERT_EQ(weft_server_listen(s, "ws://127.0.0.1:0", &err), 0) << err.message;
  std::string wurl =
      "ws://127.0.0.1:" + std::to_string(weft_server_port(s, 0)) + "/mb";

  Service svc;
  weft_mb_client *a = open_client(wurl, "ws-svc", &svc); // over WebSocket
  weft_mb_client *b = open_client(url(), "tcp-caller");  // over TCP
  ASSERT_TRUE(a && b);
  ASSERT_EQ(
      weft_mb_client_subscribe(a, WEFT_MB_REQUEST, "receipts.get", 3, &err), 0)
      << err.message;
  ASSERT_EQ(weft_mb_client_subscribe(a, WEFT_MB_PUBLISH, "offers.new", 0, &err),
            0);
  for (int i = 0; i < 5; i++) {
    char *resp = nullptr;
    ASSERT_EQ(weft_mb_client_request(b, "receipts.get", "1.0.0", "{\"id\":1}",
                                     2000, &resp, nullptr, &err),
              0)
        << err.message;
    EXPECT_STREQ(resp, "{\"job_id\":\"j1\",\"request\":{\"id\":1}}");
    free(resp);
  }
  ASSERT_EQ(
      weft_mb_client_publish(b, "offers.new", "1.0.0", "{\"id\":\"o1\"}", &err),
      0);
  ASSERT_TRUE(svc.wait_publishes(1));
  EXPECT_EQ(svc.publishes[0], "{\"id\":\"o1\"}");
  weft_mb_client_close(a);
  weft_mb_client_close(b);
  weft_server_shutdown(s);
  weft_server_free(s);
}

} // namespace

static int connect_to(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (sockaddr *)&a, sizeof a) != 0) {
    close(fd);
    return -1;
  }
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

// Port scanners and TCP health checks: connections closed at once (half
// with a reset) leave the listener serving, and shutdown still completes.
TEST(MbServer, BareConnectsLeaveItServing) {
  ASSERT_EQ(weft_mb_register_transport(), 0);
  weft_server *s = nullptr;
  ASSERT_EQ(weft_server_new(&s, nullptr), 0);
  weft_error err{};
  ASSERT_EQ(weft_server_listen(s, "mb://127.0.0.1:0", &err), 0) << err.message;
  int port = weft_server_port(s, 0);
  for (int i = 0; i < 50; i++) {
    int fd = connect_to(port);
    ASSERT_GE(fd, 0);
    if (i % 2) {
      linger lg{1, 0};
      setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    close(fd);
  }
  std::string url = "mb://127.0.0.1:" + std::to_string(port);
  Service svc;
  weft_mb_client *a = open_client(url, "svc", &svc);
  weft_mb_client *b = open_client(url, "caller");
  ASSERT_TRUE(a && b);
  ASSERT_EQ(weft_mb_client_subscribe(a, WEFT_MB_REQUEST, "echo", 0, &err), 0);
  char *resp = nullptr;
  ASSERT_EQ(weft_mb_client_request(b, "echo", "2.0.0", "[1]", 2000, &resp,
                                   nullptr, &err),
            0)
      << err.message;
  free(resp);
  weft_mb_client_close(a);
  weft_mb_client_close(b);
  weft_server_shutdown(s);
  weft_server_free(s);
}

// Over max_conns_per_ip a connection is closed at accept, before the
// greeting every accepted MB connection gets.
TEST(MbServer, PerIpLimit) {
  ASSERT_EQ(weft_mb_register_transport(), 0);
  weft_server_opts so{};
  so.max_conns_per_ip = 2;
  weft_server *s = nullptr;
  ASSERT_EQ(weft_server_new(&s, &so), 0);
  weft_error err{};
  ASSERT_EQ(weft_server_listen(s, "mb://127.0.0.1:0", &err), 0) << err.message;
  int port = weft_server_port(s, 0);
  int fd[3];
  char buf[256];
  for (int i = 0; i < 3; i++)
    ASSERT_GE(fd[i] = connect_to(port), 0);
  EXPECT_GT(read(fd[0], buf, sizeof buf), 0); // greetings
  EXPECT_GT(read(fd[1], buf, sizeof buf), 0);
  EXPECT_LE(read(fd[2], buf, sizeof buf), 0); // closed at accept
  for (int f : fd)
    close(f);
  weft_server_shutdown(s);
  weft_server_free(s);
}
