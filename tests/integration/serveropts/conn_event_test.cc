// weft_server_opts.on_connection: every server transport that owns its
// connections (tcp, ws, h2c) reports each one opened and closed, with the
// listener, the peer, the calls served and, for a close, whether it was
// orderly and why not. gRPC core has no accept hook: grpc:// reports
// nothing (documented).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "dying_client.h"

extern "C" {
#include "echo_service.h"
#include "weft/client.h"
#include "weft/server.h"
#include "weft/transport.h"
#include "weft/websocket.h"
}

namespace {

struct Ev {
  weft_conn_event_kind kind;
  std::string scheme, listener, peer, reason;
  int error;
  uint64_t calls;
};

struct Recorder {
  std::mutex mu;
  std::vector<Ev> evs;

  static void hook(void *ud, const weft_conn_event *e) {
    auto *r = static_cast<Recorder *>(ud);
    std::lock_guard<std::mutex> g(r->mu);
    r->evs.push_back({e->kind, e->scheme, e->listener, e->peer, e->reason,
                      e->error, e->calls});
  }
  std::vector<Ev> of(weft_conn_event_kind k) {
    std::lock_guard<std::mutex> g(mu);
    std::vector<Ev> v;
    for (auto &e : evs)
      if (e.kind == k)
        v.push_back(e);
    return v;
  }
  std::vector<Ev> all() {
    std::lock_guard<std::mutex> g(mu);
    return evs;
  }
  // Waits (bounded) until n events of kind k have arrived.
  bool wait(weft_conn_event_kind k, size_t n) {
    for (int i = 0; i < 20000; i++) {
      if (of(k).size() >= n)
        return true;
      usleep(1000);
    }
    return of(k).size() >= n;
  }
};

struct Opts {
  weft_call_opts o;
  Opts() {
    memset(&o, 0, sizeof o);
  }
  ~Opts() {
    weft_status_clear(&o.status);
  }
};

bool unary(weft_client *c, const char *text) {
  Opts o;
  weft__test__EchoRequest req = weft__test__EchoRequest_INIT;
  req.text = (char *)text;
  weft__test__EchoResponse *resp = nullptr;
  int rv = weft__test__Echo_unary(c, &req, &resp, &o.o);
  if (resp)
    weft__test__EchoResponse_free(resp);
  return rv == 0;
}

class ConnEvents : public ::testing::TestWithParam<std::string> {
protected:
  Recorder rec;
  weft_server *srv = nullptr;
  std::string url;
  int port = 0;

  void start(bool api_key = false, bool auth_after_upgrade = false) {
    static const char *const keys[] = {"right", nullptr};
    static weft_ws_opts wo = WEFT_WS_OPTS_INIT;
    wo.auth_after_upgrade = auth_after_upgrade;
    weft_server_opts so;
    memset(&so, 0, sizeof so);
    so.worker_threads = 4;
    so.shutdown_grace_ms = 1000;
    so.max_msgs_per_sec = 1000000;
    so.on_connection = Recorder::hook;
    so.on_connection_ud = &rec;
    so.transport_opts = &wo;
    if (api_key)
      so.api_keys = keys;
    ASSERT_EQ(weft_server_new(&srv, &so), 0);
    ASSERT_EQ(weft_test_echo_add(srv), 0);
    weft_error err;
    weft_error_clear(&err);
    std::string u = GetParam() + "://127.0.0.1:0";
    ASSERT_EQ(weft_server_listen(srv, u.c_str(), &err), 0) << err.message;
    port = weft_server_port(srv, 0);
    url = GetParam() + "://127.0.0.1:" + std::to_string(port);
  }
  void TearDown() override {
    weft_server_free(srv);
  }
  // Every OPENED has exactly one CLOSED for the same peer, after it.
  void expect_paired() {
    auto evs = rec.all();
    for (size_t i = 0; i < evs.size(); i++) {
      if (evs[i].kind != WEFT_CONN_EVENT_OPENED)
        continue;
      int closes = 0;
      for (size_t j = i + 1; j < evs.size(); j++)
        closes +=
            evs[j].kind == WEFT_CONN_EVENT_CLOSED && evs[j].peer == evs[i].peer;
      EXPECT_EQ(closes, 1) << evs[i].peer;
    }
  }
};

// A raw loopback socket: its own address is the peer the server reports.
struct Raw {
  int fd = -1;
  std::string local;
  explicit Raw(int port) {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (sockaddr *)&a, sizeof a) != 0)
      return;
    sockaddr_in me{};
    socklen_t len = sizeof me;
    getsockname(fd, (sockaddr *)&me, &len);
    local = "127.0.0.1:" + std::to_string(ntohs(me.sin_port));
  }
  ~Raw() {
    close();
  }
  // An orderly close: FIN, then read what the server sent (h2c's SETTINGS)
  // until it closes too, so the kernel sends no RST for unread bytes.
  void close_orderly() {
    timeval tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    shutdown(fd, SHUT_WR);
    char buf[4096];
    while (recv(fd, buf, sizeof buf, 0) > 0) {
    }
    close();
  }
  void close() {
    if (fd >= 0)
      ::close(fd);
    fd = -1;
  }
  std::string read_some() {
    char buf[4096];
    std::string s;
    for (int i = 0; i < 50; i++) {
      ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n <= 0)
        break;
      s.append(buf, (size_t)n);
      if (s.find("\r\n\r\n") != std::string::npos)
        break;
    }
    return s;
  }
};

TEST_P(ConnEvents, CleanCloseReportsPeerListenerAndCalls) {
  start();
  weft_client *c = nullptr;
  ASSERT_EQ(weft_client_open(&c, url.c_str(), nullptr, NULL), 0);
  for (int i = 0; i < 3; i++)
    EXPECT_TRUE(unary(c, "x"));
  ASSERT_TRUE(rec.wait(WEFT_CONN_EVENT_OPENED, 1));
  weft_client_close(c);
  ASSERT_TRUE(rec.wait(WEFT_CONN_EVENT_CLOSED, 1));
  auto op = rec.of(WEFT_CONN_EVENT_OPENED);
  auto cl = rec.of(WEFT_CONN_EVENT_CLOSED);
  ASSERT_EQ(op.size(), 1u);
  ASSERT_EQ(cl.size(), 1u);
  EXPECT_EQ(op[0].scheme, GetParam());
  EXPECT_EQ(op[0].listener, url);
  EXPECT_EQ(cl[0].listener, url);
  EXPECT_EQ(op[0].peer.rfind("127.0.0.1:", 0), 0u) << op[0].peer;
  EXPECT_EQ(op[0].peer, cl[0].peer);
  EXPECT_EQ(cl[0].error, 0) << cl[0].reason;
  EXPECT_FALSE(cl[0].reason.empty());
  EXPECT_EQ(cl[0].calls, 3u);
  EXPECT_EQ(op[0].calls, 0u);
  expect_paired();
}

TEST_P(ConnEvents, PeerIsTheClientsAddress) {
  start();
  Raw r(port);
  ASSERT_FALSE(r.local.empty());
  ASSERT_TRUE(rec.wait(WEFT_CONN_EVENT_OPENED, 1));
  EXPECT_EQ(rec.of(WEFT_CONN_EVENT_OPENED)[0].peer, r.local);
  r.close_orderly();
  ASSERT_TRUE(rec.wait(WEFT_CONN_EVENT_CLOSED, 1));
  Ev cl = rec.of(WEFT_CONN_EVENT_CLOSED)[0];
  EXPECT_EQ(cl.peer, r.local);
  EXPECT_EQ(cl.calls, 0u);
  if (GetParam() == "ws") { // a WebSocket that never upgraded
    EXPECT_EQ(cl.error, WEFT_ERR_CLOSED);
    EXPECT_NE(cl.reason.find("before the upgrade"), std::string::npos)
        << cl.reason;
  } else {
    EXPECT_EQ(cl.error, 0) << cl.reason;
  }
}

TEST_P(ConnEvents, AbruptClientDeathIsReportedWithAReason) {
  start();
  EXPECT_EQ(weft_test_run_dying_client(url), "ready\n");
  ASSERT_TRUE(rec.wait(WEFT_CONN_EVENT_CLOSED, 1));
  Ev cl = rec.of(WEFT_CONN_EVENT_CLOSED)[0];
  EXPECT_EQ(cl.error, WEFT_ERR_CLOSED) << cl.reason;
  EXPECT_EQ(cl.calls, 1u);
  if (GetParam() == "ws")
    EXPECT_NE(cl.reason.find("1006"), std::string::npos) << cl.reason;
  EXPECT_NE(cl.reason.find("1 call in flight"), std::string::npos) << cl.reason;
  expect_paired();
}

TEST_P(ConnEvents, ServerShutdownIsAnOrderlyClose) {
  start();
  weft_client *c = nullptr;
  ASSERT_EQ(weft_client_open(&c, url.c_str(), nullptr, NULL), 0);
  EXPECT_TRUE(unary(c, "x"));
  ASSERT_TRUE(rec.wait(WEFT_CONN_EVENT_OPENED, 1));
  weft_server_free(srv);
  srv = nullptr;
  weft_client_close(c);
  auto cl = rec.of(WEFT_CONN_EVENT_CLOSED);
  ASSERT_EQ(cl.size(), 1u) << "reported before weft_server_free returns";
  EXPECT_EQ(cl[0].error, 0) << cl[0].reason;
  EXPECT_EQ(cl[0].calls, 1u);
}

INSTANTIATE_TEST_SUITE_P(Transports, ConnEvents,
                         ::testing::Values("tcp", "ws", "h2c"),
                         [](const auto &i) { return i.param; });

// WebSocket upgrades refused by policy are CLOSED events with the reason.
class WsRefused : public ConnEvents {};

TEST_P(WsRefused, BadKeyBeforeTheUpgradeIs401) {
  start(/*api_key=*/true);
  Raw r(port);
  std::string req = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    "Sec-WebSocket-Version: 13\r\n"
                    "X-Api-Key: wrong\r\n\r\n";
  ASSERT_EQ(send(r.fd, req.data(), req.size(), 0), (ssize_t)req.size());
  std::string resp = r.read_some();
  EXPECT_EQ(resp.rfind("HTTP/1.1 401", 0), 0u) << resp;
  ASSERT_TRUE(rec.wait(WEFT_CONN_EVENT_CLOSED, 1));
  Ev cl = rec.of(WEFT_CONN_EVENT_CLOSED)[0];
  EXPECT_EQ(cl.peer, r.local);
  EXPECT_EQ(cl.error, WEFT_ERR_HANDSHAKE);
  EXPECT_NE(cl.reason.find("401"), std::string::npos) << cl.reason;
  EXPECT_EQ(rec.of(WEFT_CONN_EVENT_OPENED).size(), 1u);
}

TEST_P(WsRefused, BadKeyAfterTheUpgradeIs1008) {
  start(/*api_key=*/true, /*auth_after_upgrade=*/true);
  weft_metadata md = WEFT_METADATA_INIT;
  weft_metadata_add_str(&md, "x-api-key", "wrong");
  weft_client_opts co;
  memset(&co, 0, sizeof co);
  co.metadata = &md;
  weft_client *c = nullptr;
  weft_client_open(&c, url.c_str(), &co, NULL); // may fail once the 1008 is in
  weft_client_close(c);
  weft_metadata_clear(&md);
  ASSERT_TRUE(rec.wait(WEFT_CONN_EVENT_CLOSED, 1));
  Ev cl = rec.of(WEFT_CONN_EVENT_CLOSED)[0];
  EXPECT_EQ(cl.error, WEFT_ERR_AUTH) << cl.reason;
  EXPECT_NE(cl.reason.find("1008"), std::string::npos) << cl.reason;
  EXPECT_NE(cl.reason.find("API key"), std::string::npos) << cl.reason;
}

INSTANTIATE_TEST_SUITE_P(Ws, WsRefused, ::testing::Values("ws"),
                         [](const auto &i) { return i.param; });

// An HTTP/2 connection error is a CLOSED event that says which error and
// why (the HTTP/2 engine's reason), not an orderly close.
class H2ConnError : public ConnEvents {};

TEST_P(H2ConnError, ProtocolErrorIsReportedWithItsReason) {
  start();
  Raw r(port);
  ASSERT_FALSE(r.local.empty());
  // The preface, an empty SETTINGS, then DATA on stream 0 (RFC 9113 6.1:
  // a connection error of type PROTOCOL_ERROR).
  std::string b("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
  b += std::string("\x00\x00\x00\x04\x00\x00\x00\x00\x00", 9);
  b += std::string("\x00\x00\x02\x00\x00\x00\x00\x00\x00xx", 11);
  ASSERT_EQ(send(r.fd, b.data(), b.size(), MSG_NOSIGNAL), (ssize_t)b.size());
  r.close_orderly(); // reads the SETTINGS and GOAWAY until the server closes
  ASSERT_TRUE(rec.wait(WEFT_CONN_EVENT_CLOSED, 1));
  Ev cl = rec.of(WEFT_CONN_EVENT_CLOSED)[0];
  EXPECT_EQ(cl.error, WEFT_ERR_PROTOCOL) << cl.reason;
  EXPECT_NE(cl.reason.find("PROTOCOL_ERROR"), std::string::npos) << cl.reason;
  EXPECT_NE(cl.reason.find("DATA: stream_id == 0"), std::string::npos)
      << cl.reason;
  expect_paired();
}

INSTANTIATE_TEST_SUITE_P(H2, H2ConnError, ::testing::Values("h2c"),
                         [](const auto &i) { return i.param; });

// gRPC core has no accept hook: grpc:// reports no connections (its calls
// still carry their peer), and says nothing false.
TEST(ConnEventsGrpc, NotReported) {
  Recorder rec;
  weft_server_opts so;
  memset(&so, 0, sizeof so);
  so.on_connection = Recorder::hook;
  so.on_connection_ud = &rec;
  weft_server *srv = nullptr;
  ASSERT_EQ(weft_server_new(&srv, &so), 0);
  ASSERT_EQ(weft_test_echo_add(srv), 0);
  weft_error err;
  weft_error_clear(&err);
  ASSERT_EQ(weft_server_listen(srv, "grpc://127.0.0.1:0", &err), 0)
      << err.message;
  std::string url =
      "grpc://127.0.0.1:" + std::to_string(weft_server_port(srv, 0));
  weft_client *c = nullptr;
  ASSERT_EQ(weft_client_open(&c, url.c_str(), nullptr, NULL), 0);
  EXPECT_TRUE(unary(c, "x"));
  weft_client_close(c);
  weft_server_free(srv);
  EXPECT_TRUE(rec.all().empty());
}

} // namespace
