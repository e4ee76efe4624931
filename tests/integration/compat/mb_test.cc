// weft's MB broker mode with weft MB clients on loopback: every round trip
// (register, subscribe, request/response, publish, NO_ROUTE_FOUND, TIMEOUT,
// unsubscribe, system lists) over TCP, over WebSocket and mixed; the TCP
// framing rules on the wire; "mb://" as a server listen URL; a client that
// idles through heartbeats stays registered; and the client's own bytes
// checked against a scripted broker.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>
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
  // A malformed header is answered on response:error:1.0.0...
  std::string bad = "request:t:1.0\n{}";
  uint8_t p[4];
  weft_mb_frame_prefix(p, bad.size());
  std::string frame = std::string((char *)p, 4) + bad;
  ASSERT_EQ(send(fd, frame.data(), frame.size(), 0), (ssize_t)frame.size());
  std::string len = read_n(fd, 4);
  ASSERT_EQ(len.size(), 4u);
  size_t n = (size_t)(uint8_t)len[2] << 8 | (uint8_t)len[3];
  std::string err = read_n(fd, n);
  EXPECT_EQ(err.rfind("response:error:1.0.0\n{\"error\":{\"code\":"
                      "\"MALFORMED_MESSAGE\"",
                      0),
            0u)
      << err;
  // ...and so is a zero-length frame; the connection stays.
  ASSERT_EQ(send(fd, "\0\0\0\0", 4, 0), 4);
  len = read_n(fd, 4);
  ASSERT_EQ(len.size(), 4u);
  n = (size_t)(uint8_t)len[2] << 8 | (uint8_t)len[3];
  err = read_n(fd, n);
  EXPECT_EQ(err.rfind("response:error:1.0.0\n{\"error\":{\"code\":"
                      "\"MALFORMED_MESSAGE\"",
                      0),
            0u)
      << err;
  // A length over 16,751 ends the connection cleanly: EOF, not a reset,
  // even with bytes of the refused frame still unread by the broker.
  std::string over("\0\0\x41\x70", 4);
  over += std::string(3000, 'x');
  ASSERT_EQ(send(fd, over.data(), over.size(), 0), (ssize_t)over.size());
  char c;
  errno = 0;
  EXPECT_EQ(recv(fd, &c, 1, 0), 0) << strerror(errno); // EOF
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
  o.target = "/";
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
      "ws://127.0.0.1:" + std::to_string(weft_server_port(s, 0)) + "/";

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

// ---- every round trip, over each pair of transports ----

struct Hub {
  weft_mb_hub *hub = nullptr;
  weft_server *ws = nullptr;
  int tcp_port = 0, ws_port = 0;
  explicit Hub(const weft_mb_hub_opts *o = nullptr) {
    EXPECT_EQ(weft_mb_hub_new(&hub, o), 0);
    weft_error err{};
    EXPECT_EQ(weft_mb_hub_listen(hub, "127.0.0.1", 0, &tcp_port, &err), 0)
        << err.message;
    weft_ws_opts wo = WEFT_WS_OPTS_INIT;
    wo.route = weft_mb_ws_route;
    wo.route_ud = hub;
    weft_server_opts so{};
    so.transport_opts = &wo;
    EXPECT_EQ(weft_server_new(&ws, &so), 0);
    EXPECT_EQ(weft_server_listen(ws, "ws://127.0.0.1:0", &err), 0)
        << err.message;
    ws_port = weft_server_port(ws, 0);
  }
  ~Hub() {
    weft_server_shutdown(ws);
    weft_server_free(ws);
    weft_mb_hub_free(hub);
  }
  std::string url(bool websocket) const {
    return websocket ? "mb+ws://127.0.0.1:" + std::to_string(ws_port)
                     : "mb+tcp://127.0.0.1:" + std::to_string(tcp_port);
  }
};

void round_trips(const std::string &svc_url, const std::string &caller_url) {
  SCOPED_TRACE(svc_url + " serving " + caller_url);
  Service svc;
  weft_mb_client *a = open_client(svc_url, "svc", &svc);
  weft_mb_client *b = open_client(caller_url, "caller");
  ASSERT_TRUE(a && b);
  weft_error err{};
  ASSERT_EQ(
      weft_mb_client_subscribe(a, WEFT_MB_REQUEST, "Jobs.Create", 1, &err), 0)
      << err.message;
  ASSERT_EQ(weft_mb_client_subscribe(a, WEFT_MB_PUBLISH, "blocks.new", 0, &err),
            0);
  // Request / response (topics match whatever their case).
  char *resp = nullptr;
  ASSERT_EQ(weft_mb_client_request(b, "jobs.CREATE", "1.0.0", "{\"n\":1}", 2000,
                                   &resp, nullptr, &err),
            0)
      << err.message;
  EXPECT_STREQ(resp, "{\"job_id\":\"j1\",\"request\":{\"n\":1}}");
  free(resp);
  // Publish.
  ASSERT_EQ(
      weft_mb_client_publish(b, "blocks.new", "1.0.0", "{\"height\":1}", &err),
      0);
  ASSERT_TRUE(svc.wait_publishes(1));
  EXPECT_EQ(svc.publishes[0], "{\"height\":1}");
  // A publish nobody hears: answered NO_ROUTE_FOUND, which the client
  // (waiting for nothing) ignores.
  EXPECT_EQ(weft_mb_client_publish(b, "nobody", "1.0.0", "{}", &err), 0);
  // A topic over 255 bytes is refused before anything is sent: cut to fit
  // the header it would be another, valid topic ("aaa...a").
  const std::string long_topic(256, 'a');
  for (int op = 0; op < 4; op++) {
    weft_error_clear(&err);
    int rv =
        op == 0
            ? weft_mb_client_publish(b, long_topic.c_str(), "1.0.0", "{}", &err)
        : op == 1 ? weft_mb_client_publish_wait(b, long_topic.c_str(), "1.0.0",
                                                "{}", nullptr, &err)
        : op == 2 ? weft_mb_client_request(b, long_topic.c_str(), "1.0.0", "{}",
                                           1000, &resp, nullptr, &err)
                  : weft_mb_client_subscribe(b, WEFT_MB_PUBLISH,
                                             long_topic.c_str(), 0, &err);
    EXPECT_EQ(rv, WEFT_ERR_TOO_BIG) << op;
    EXPECT_NE(std::string(err.message).find("over the limit of 255"),
              std::string::npos)
        << op << ": " << err.message;
  }
  // NO_ROUTE_FOUND for a request.
  weft_mb_error_info e{};
  EXPECT_EQ(
      weft_mb_client_request(b, "nobody", "1.0.0", "{}", 1000, &resp, &e, &err),
      WEFT_ERR_RPC);
  EXPECT_EQ(e.code, WEFT_MB_NO_ROUTE_FOUND);
  weft_mb_error_info_clear(&e);
  free(resp);
  // System lists.
  ASSERT_EQ(weft_mb_client_request(b, "system.service.list", "1.0.0", "{}",
                                   1000, &resp, nullptr, &err),
            0)
      << err.message;
  EXPECT_NE(strstr(resp, "\"name\":\"svc\",\"description\":\"test client\""),
            nullptr)
      << resp;
  EXPECT_NE(strstr(resp, "\"name\":\"caller\""), nullptr) << resp;
  free(resp);
  ASSERT_EQ(weft_mb_client_request(b, "system.topic.list", "1.0.0", "{}", 1000,
                                   &resp, nullptr, &err),
            0);
  EXPECT_NE(strstr(resp, "{\"action\":\"request\",\"topic\":\"jobs.create\""),
            nullptr)
      << resp;
  free(resp);
  // Unsubscribing: success once, then failure.
  EXPECT_EQ(weft_mb_client_unsubscribe(a, WEFT_MB_PUBLISH, "blocks.new", &err),
            0);
  EXPECT_EQ(weft_mb_client_unsubscribe(a, WEFT_MB_PUBLISH, "blocks.new", &err),
            WEFT_ERR_RPC);
  EXPECT_NE(strstr(err.message, "failure"), nullptr) << err.message;
  // TIMEOUT: the service goes away with the request pending; the broker
  // answers at the deadline, naming the service.
  struct Mute {
    static void on_request(weft_mb_client *, const weft_mb_message *, void *) {}
  };
  weft_mb_client_opts mo{};
  mo.name = "mute";
  mo.on_request = Mute::on_request;
  weft_mb_client *m = nullptr;
  ASSERT_EQ(weft_mb_client_open(&m, svc_url.c_str(), &mo, &err), 0);
  ASSERT_EQ(weft_mb_client_subscribe(m, WEFT_MB_REQUEST, "slow", 0, &err), 0);
  std::thread closer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    weft_mb_client_close(m);
  });
  EXPECT_EQ(
      weft_mb_client_request(b, "slow", "1.0.0", "{}", 400, &resp, &e, &err),
      WEFT_ERR_RPC);
  closer.join();
  EXPECT_EQ(e.code, WEFT_MB_TIMEOUT);
  ASSERT_NE(e.details_json, nullptr);
  EXPECT_EQ(std::string(e.details_json).rfind("{\"targetServiceId\":\"", 0), 0u)
      << e.details_json;
  weft_mb_error_info_clear(&e);
  free(resp);
  weft_mb_client_close(a);
  weft_mb_client_close(b);
}

TEST(MbInterop, TcpToTcp) {
  Hub h;
  round_trips(h.url(false), h.url(false));
}
TEST(MbInterop, WsToWs) {
  Hub h;
  round_trips(h.url(true), h.url(true));
}
TEST(MbInterop, TcpServiceWsCaller) {
  Hub h;
  round_trips(h.url(false), h.url(true));
}
TEST(MbInterop, WsServiceTcpCaller) {
  Hub h;
  round_trips(h.url(true), h.url(false));
}

TEST(MbInterop, LongIdleClientAnswersHeartbeatsAndStaysRegistered) {
  // Heartbeat after 150 ms of silence, deregistration after 400 ms.
  weft_mb_hub_opts o{};
  o.heartbeat_interval_ms = 150;
  o.silence_timeout_ms = 400;
  Hub h(&o);
  Service svc;
  weft_mb_client *a = open_client(h.url(false), "idle-svc", &svc);
  weft_mb_client *b = open_client(h.url(true), "idle-caller");
  ASSERT_TRUE(a && b);
  weft_error err{};
  ASSERT_EQ(weft_mb_client_subscribe(a, WEFT_MB_REQUEST, "t", 0, &err), 0);
  // A raw connection that never answers: it gets the broker's id-less
  // heartbeat, then is deregistered and closed.
  int fd = raw_connect(h.tcp_port);
  ASSERT_GE(fd, 0);
  read_n(fd, 38); // the greeting
  std::string hb("\x00\x00\x00\x21request:system.heartbeat:1.0.0\n{}", 37);
  EXPECT_EQ(read_n(fd, 37), hb);
  char c;
  EXPECT_EQ(recv(fd, &c, 1, 0), 0); // closed after 400 ms of silence
  close(fd);
  // Both clients idle for more than three heartbeat periods (and past the
  // deregistration time), answering the heartbeats.
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  char *resp = nullptr;
  ASSERT_EQ(
      weft_mb_client_request(b, "t", "1.0.0", "{}", 1000, &resp, nullptr, &err),
      0)
      << err.message;
  free(resp);
  ASSERT_EQ(weft_mb_client_request(b, "system.service.list", "1.0.0", "{}",
                                   1000, &resp, nullptr, &err),
            0);
  EXPECT_NE(strstr(resp, "\"name\":\"idle-svc\""), nullptr) << resp;
  EXPECT_NE(strstr(resp, "\"name\":\"idle-caller\""), nullptr) << resp;
  free(resp);
  weft_mb_client_close(a);
  weft_mb_client_close(b);
}

TEST(MbInterop, WebSocketBinaryAndOverLimit) {
  Hub h;
  weft__ws_sync_opts o{};
  weft__ws_sync *ws = nullptr;
  weft_error err{};
  ASSERT_EQ(weft__ws_sync_connect(&ws, "127.0.0.1", h.ws_port, &o, &err), 0)
      << err.message;
  int opcode;
  const uint8_t *data;
  size_t len;
  ASSERT_EQ(weft__ws_sync_recv(ws, &opcode, &data, &len, 10000), 1);
  EXPECT_EQ(opcode, 1); // text, as the broker sends
  EXPECT_EQ(std::string((const char *)data, len),
            "publish:system.initialize:1.0.0\n{}");
  // A binary message is read like a text one.
  const std::string id = "0f8fad5b-d9cb-469f-a165-70867728950e";
  std::string req = "request:system.heartbeat:1.0.0:" + id + "\n{}";
  ASSERT_EQ(weft__ws_sync_send(ws, 2 /* binary */, req.data(), req.size()), 0);
  ASSERT_EQ(weft__ws_sync_recv(ws, &opcode, &data, &len, 10000), 1);
  EXPECT_EQ(std::string((const char *)data, len),
            "response:system.heartbeat:1.0.0:" + id +
                "\n{\"status\":\"success\"}");
  // One byte over 16,751: closed with 1009.
  std::string big = "publish:t:1.0.0\n" + std::string(16751 - 15, 'x');
  ASSERT_EQ(big.size(), 16752u);
  ASSERT_EQ(weft__ws_sync_send(ws, 1, big.data(), big.size()), 0);
  EXPECT_EQ(weft__ws_sync_recv(ws, &opcode, &data, &len, 10000), 0);
  EXPECT_EQ(weft__ws_sync_close_code(ws), 1009);
  weft__ws_sync_free(ws);
}

// ---- the client's bytes, against a scripted broker ----

struct FakeBroker {
  int lfd = -1, fd = -1, port = 0;
  FakeBroker() {
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(lfd, (sockaddr *)&sa, sizeof sa), 0);
    EXPECT_EQ(listen(lfd, 4), 0);
    socklen_t sl = sizeof sa;
    getsockname(lfd, (sockaddr *)&sa, &sl);
    port = ntohs(sa.sin_port);
  }
  ~FakeBroker() {
    if (fd >= 0)
      close(fd);
    close(lfd);
  }
  void accept_one() {
    fd = accept(lfd, nullptr, nullptr);
    timeval tv{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  void send_msg(const std::string &m) {
    uint8_t p[4];
    weft_mb_frame_prefix(p, m.size());
    std::string f = std::string((char *)p, 4) + m;
    ASSERT_EQ(::send(fd, f.data(), f.size(), 0), (ssize_t)f.size());
  }
  std::string recv_msg() {
    std::string len = read_n(fd, 4);
    if (len.size() != 4)
      return "<closed>";
    size_t n = (size_t)(uint8_t)len[0] << 24 | (size_t)(uint8_t)len[1] << 16 |
               (size_t)(uint8_t)len[2] << 8 | (uint8_t)len[3];
    return read_n(fd, n);
  }
};

struct Seen {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> reqs, pubs;
  static void on_request(weft_mb_client *, const weft_mb_message *m, void *ud) {
    auto *s = static_cast<Seen *>(ud);
    std::lock_guard<std::mutex> g(s->mu);
    s->reqs.push_back(std::string(m->header.request_id) + "|" +
                      std::string(m->payload, m->payload_len));
    s->cv.notify_all();
  }
  static void on_publish(weft_mb_client *, const weft_mb_message *m, void *ud) {
    auto *s = static_cast<Seen *>(ud);
    std::lock_guard<std::mutex> g(s->mu);
    s->pubs.emplace_back(m->payload, m->payload_len);
    s->cv.notify_all();
  }
  bool wait(std::vector<std::string> &v, size_t n) {
    std::unique_lock<std::mutex> g(mu);
    return cv.wait_for(g, std::chrono::seconds(10),
                       [&] { return v.size() >= n; });
  }
};

TEST(MbClient, BytesAgainstTheBroker) {
  FakeBroker fb;
  Seen seen;
  weft_mb_client_opts o{};
  o.name = "weft-svc"; // no description: the name is sent as one
  o.on_request = Seen::on_request;
  o.on_publish = Seen::on_publish;
  o.ud = &seen;
  weft_mb_client *c = nullptr;
  int rv = 1;
  weft_error err{};
  std::thread opener([&] {
    rv = weft_mb_client_open(
        &c, ("mb+tcp://127.0.0.1:" + std::to_string(fb.port)).c_str(), &o,
        &err);
  });
  fb.accept_one();
  fb.send_msg("publish:system.initialize:1.0.0\n{}");
  std::string reg = fb.recv_msg();
  weft_mb_message m;
  ASSERT_EQ(weft_mb_decode(reg.data(), reg.size(), 0, &m, nullptr, nullptr), 0)
      << reg;
  std::string rid = m.header.request_id;
  EXPECT_EQ(reg, "request:system.service.register:1.0.0:" + rid +
                     "\n{\"name\":\"weft-svc\",\"description\":\"weft-svc\"}");
  fb.send_msg("response:system.service.register:1.0.0:" + rid +
              "\n{\"status\":\"success\"}");
  opener.join();
  ASSERT_EQ(rv, 0) << err.message;
  // The broker's heartbeat carries no id; answered as the reference client
  // answers it.
  fb.send_msg("request:system.heartbeat:1.0.0\n{}");
  EXPECT_EQ(fb.recv_msg(), "response:system.heartbeat:1.0.0\n{}");
  // With an id (another broker might send one): echoed.
  const std::string id = "0f8fad5b-d9cb-469f-a165-70867728950e";
  fb.send_msg("request:system.heartbeat:1.0.0:" + id + "\n{}");
  EXPECT_EQ(fb.recv_msg(), "response:system.heartbeat:1.0.0:" + id + "\n{}");
  // A fire-and-forget request reaches the handler with no id.
  fb.send_msg("request:jobs.run:1.0.0\n{\"x\":1}");
  ASSERT_TRUE(seen.wait(seen.reqs, 1));
  EXPECT_EQ(seen.reqs[0], "|{\"x\":1}");
  // A forwarded publish can exceed 16,751 bytes by the broker's longer
  // header; payloads are not JSON-checked on the way in.
  std::string big =
      "publish:t:1.0.0:" + id + "\n" + std::string(16751 - 16, 'p');
  fb.send_msg(big);
  fb.send_msg("publish:t:1.0.0:" + id + "\nnot json");
  ASSERT_TRUE(seen.wait(seen.pubs, 2));
  EXPECT_EQ(seen.pubs[0].size(), 16751u - 16);
  EXPECT_EQ(seen.pubs[1], "not json");
  weft_mb_client_close(c);
}

TEST(MbClient, RegistrationLimitsCheckedBeforeConnecting) {
  FakeBroker fb; // listening, never accepting: nothing may be sent to it
  std::string url = "mb://127.0.0.1:" + std::to_string(fb.port);
  weft_mb_client_opts o{};
  std::string name(37, 'n');
  o.name = name.c_str();
  weft_mb_client *c = nullptr;
  weft_error err{};
  EXPECT_EQ(weft_mb_client_open(&c, url.c_str(), &o, &err), WEFT_ERR_INVAL);
  EXPECT_NE(strstr(err.message, "36-character"), nullptr) << err.message;
  std::string desc(1025, 'd');
  o.name = "ok";
  o.description = desc.c_str();
  EXPECT_EQ(weft_mb_client_open(&c, url.c_str(), &o, &err), WEFT_ERR_INVAL);
  EXPECT_NE(strstr(err.message, "1024-character"), nullptr) << err.message;
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
