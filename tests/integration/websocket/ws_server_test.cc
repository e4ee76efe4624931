// The WebSocket server's connection layer with raw routes, driven by weft's
// blocking client and by raw sockets: echo, close handshake, each malformed
// frame's close code, the policies (API key, Origin, per-IP, rate,
// duration) and faults (peer killed mid-frame, half-open peer, slow-loris),
// each ending in a clear code while the server keeps serving others.
#include "ws_test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

using wstest::Client;
using wstest::Server;
using wstest::wait_for;

namespace {

std::string frame(int op, bool fin, const std::string &p, bool mask = true,
                  uint8_t rsv = 0) {
  const uint8_t key[4] = {1, 2, 3, 4};
  uint8_t h[14];
  size_t n = weft__ws_frame_header(h, fin, op, p.size(), mask ? key : nullptr);
  h[0] |= static_cast<uint8_t>(rsv << 4);
  std::string out(reinterpret_cast<char *>(h), n), q = p;
  if (mask)
    weft__ws_mask(reinterpret_cast<uint8_t *>(&q[0]), q.size(), key, 0);
  return out + q;
}

int raw_connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a), 0);
  timeval tv = {10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0)
    out.append(buf, static_cast<size_t>(n));
  return out;
}

void expect_serving(int port) {
  Client c(port);
  ASSERT_TRUE(c.ok()) << c.err.message;
  EXPECT_EQ(c.echo("still serving"), "still serving");
}

TEST(WsServer, EchoesTextBinaryAndLargeMessages) {
  Server srv;
  Client c(srv.port(), "/echo", nullptr, nullptr, "other, chat");
  ASSERT_TRUE(c.ok()) << c.err.message;
  EXPECT_EQ(c.status, 101);
  EXPECT_STREQ(weft__ws_sync_protocol(c.s), "chat");
  EXPECT_EQ(c.echo("hi"), "hi");
  EXPECT_EQ(c.echo(""), "");
  std::string bin("\0\1\2\3", 4);
  int op;
  weft__ws_sync_send(c.s, WEFT__WS_OP_BINARY, bin.data(), bin.size());
  EXPECT_EQ(c.recv(&op), bin);
  EXPECT_EQ(op, WEFT__WS_OP_BINARY);
  std::string big(1 << 20, 'x');
  for (size_t i = 0; i < big.size(); i++)
    big[i] = static_cast<char>(i * 31);
  EXPECT_EQ(c.echo(big, false), big);
  std::string text(200000, 'a');
  EXPECT_EQ(c.echo(text), text);
}

TEST(WsServer, FragmentsAndPingsInBetween) {
  Server srv;
  Client c(srv.port());
  ASSERT_TRUE(c.ok());
  weft__ws_sync_send_frame(c.s, WEFT__WS_OP_TEXT, 0, "fr\xCE", 3);
  weft__ws_sync_send_frame(c.s, WEFT__WS_OP_PING, 1, "p", 1);
  weft__ws_sync_send_frame(c.s, WEFT__WS_OP_CONT, 0,
                           "\xBA"
                           "ag",
                           3);
  weft__ws_sync_send_frame(c.s, WEFT__WS_OP_CONT, 1, "ment", 4);
  EXPECT_EQ(c.recv(), "fr\xCE\xBA"
                      "agment");
  EXPECT_EQ(weft__ws_sync_pongs(c.s), 1);
}

TEST(WsServer, CloseHandshake) {
  Server srv;
  {
    Client c(srv.port());
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(weft__ws_sync_close(c.s, 1000, "done", 5000), 0);
    EXPECT_EQ(weft__ws_sync_close_code(c.s), 1000);
  }
  ASSERT_TRUE(srv.wait_closed(1));
  EXPECT_EQ(srv.closed()[0].code, 1000);
  EXPECT_EQ(srv.closed()[0].reason, "done");
  // Server-initiated: /hello greets, then closes 1000 "bye".
  Client h(srv.port(), "/hello");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h.recv(), "hello");
  EXPECT_EQ(h.close_code(), 1000);
  EXPECT_STREQ(weft__ws_sync_close_reason(h.s), "bye");
  EXPECT_TRUE(wait_for([&] { return srv.conns() == 0; }));
}

TEST(WsServer, MalformedFramesCloseWithTheirCode) {
  Server srv([](weft__ws_cfg *c) { c->max_size = 1000; });
  struct {
    const char *what;
    std::string wire;
    int code;
  } cases[] = {
      {"unmasked client frame", frame(WEFT__WS_OP_TEXT, true, "a", false),
       1002},
      {"RSV1 without extension", frame(WEFT__WS_OP_TEXT, true, "a", true, 4),
       1002},
      {"reserved opcode", frame(3, true, "a"), 1002},
      {"reserved control opcode", frame(0xB, true, ""), 1002},
      {"ping over 125 bytes",
       frame(WEFT__WS_OP_PING, true, std::string(126, 'p')), 1002},
      {"fragmented ping", frame(WEFT__WS_OP_PING, false, ""), 1002},
      {"continuation first", frame(WEFT__WS_OP_CONT, true, "a"), 1002},
      {"invalid UTF-8", frame(WEFT__WS_OP_TEXT, true, "a\xC0\x80"), 1007},
      {"invalid UTF-8 across fragments",
       frame(WEFT__WS_OP_TEXT, false, "\xE2\x82") +
           frame(WEFT__WS_OP_CONT, true, "x"),
       1007},
      {"over max_size", frame(WEFT__WS_OP_BINARY, true, std::string(1001, 'b')),
       1009},
      {"close code 1005 on the wire",
       frame(WEFT__WS_OP_CLOSE, true, std::string("\x03\xED", 2)), 1002},
  };
  size_t n = 0;
  for (auto &k : cases) {
    SCOPED_TRACE(k.what);
    Client c(srv.port());
    ASSERT_TRUE(c.ok());
    ASSERT_EQ(weft__ws_sync_send_raw(c.s, k.wire.data(), k.wire.size()), 0);
    EXPECT_EQ(c.close_code(), k.code);
    ASSERT_TRUE(srv.wait_closed(++n));
    EXPECT_EQ(srv.closed().back().code, k.code);
  }
  expect_serving(srv.port());
}

TEST(WsServer, RateLimitClosesWith1008) {
  weft_server_opts so = {};
  so.max_msgs_per_sec = 20;
  Server srv({}, &so);
  Client c(srv.port());
  ASSERT_TRUE(c.ok());
  for (int i = 0; i < 50; i++)
    weft__ws_sync_send(c.s, WEFT__WS_OP_TEXT, "m", 1);
  EXPECT_EQ(c.close_code(), 1008);
  EXPECT_STREQ(weft__ws_sync_close_reason(c.s), "message rate limit exceeded");
  expect_serving(srv.port());
}

TEST(WsServer, MaxConnectionDuration) {
  weft_server_opts so = {};
  so.max_conn_duration_ms = 200;
  so.max_msgs_per_sec = 1000;
  Server srv({}, &so);
  Client c(srv.port());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.close_code(), 1008);
  EXPECT_STREQ(weft__ws_sync_close_reason(c.s),
               "maximum connection duration reached");
}

TEST(WsServer, IdleTimeout) {
  weft_server_opts so = {};
  so.idle_timeout_ms = 200;
  so.max_msgs_per_sec = 1000;
  Server srv({}, &so);
  Client busy(srv.port());
  ASSERT_TRUE(busy.ok());
  for (int i = 0; i < 8; i++) { // ~400 ms of traffic keeps it open
    EXPECT_EQ(busy.echo("x"), "x");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(busy.close_code(), 1001) << "and then it idles out";
  EXPECT_STREQ(weft__ws_sync_close_reason(busy.s), "idle timeout");
}

TEST(WsServer, ApiKeyBeforeAndAfterUpgrade) {
  const char *keys[] = {"k1", "k2", nullptr};
  weft_server_opts so = {};
  so.api_keys = keys;
  so.max_msgs_per_sec = 1000;
  Server srv({}, &so);
  Client none(srv.port());
  EXPECT_FALSE(none.ok());
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.rv, WEFT_ERR_HANDSHAKE);
  EXPECT_NE(strstr(none.err.message, "401"), nullptr) << none.err.message;
  Client wrong(srv.port(), "/echo?api_key=nope");
  EXPECT_EQ(wrong.status, 401);
  Client q(srv.port(), "/echo?x=1&api_key=k2");
  ASSERT_TRUE(q.ok()) << q.err.message;
  EXPECT_EQ(q.echo("in"), "in");
  Client h(srv.port(), "/echo", "X-Api-Key: k1\r\n");
  ASSERT_TRUE(h.ok()) << h.err.message;
  Client pub(srv.port(), "/public");
  ASSERT_TRUE(pub.ok()) << "a route may skip the key check";

  Server after([](weft__ws_cfg *c) { c->auth_after_upgrade = true; }, &so);
  Client late(after.port());
  ASSERT_TRUE(late.ok()) << "browsers cannot see a 401: upgrade, then 1008";
  EXPECT_EQ(late.close_code(), 1008);
  EXPECT_STREQ(weft__ws_sync_close_reason(late.s),
               "Invalid or missing API key");
}

TEST(WsServer, OriginAllowList) {
  const char *origins[] = {"https://good.example", nullptr};
  weft_server_opts so = {};
  so.allowed_origins = origins;
  so.max_msgs_per_sec = 1000;
  Server srv({}, &so);
  Client good(srv.port(), "/echo", nullptr, "https://good.example");
  EXPECT_TRUE(good.ok());
  Client bad(srv.port(), "/echo", nullptr, "https://evil.example");
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.status, 403);
  Client none(srv.port()); // non-browser clients send no Origin
  EXPECT_TRUE(none.ok());
}

TEST(WsServer, PerIpConnectionLimit) {
  weft_server_opts so = {};
  so.max_conns_per_ip = 3;
  so.max_msgs_per_sec = 1000;
  Server srv({}, &so);
  {
    Client a(srv.port()), b(srv.port()), c(srv.port());
    ASSERT_TRUE(a.ok() && b.ok() && c.ok());
    Client d(srv.port());
    EXPECT_FALSE(d.ok());
    EXPECT_EQ(d.status, 429);
  }
  EXPECT_TRUE(wait_for([&] { return srv.conns() == 0; }));
  Client e(srv.port());
  EXPECT_TRUE(e.ok()) << "slots come back when clients leave";
}

// The default every listener shares (WEFT__DEFAULT_MAX_CONNS_PER_IP).
TEST(WsServer, DefaultPerIpLimitIs64) {
  weft_server_opts so = {};
  so.max_msgs_per_sec = 1000;
  Server srv({}, &so);
  std::vector<std::unique_ptr<Client>> cs;
  for (int i = 0; i < 64; i++) {
    cs.emplace_back(new Client(srv.port()));
    ASSERT_TRUE(cs.back()->ok()) << i;
  }
  Client over(srv.port());
  EXPECT_EQ(over.status, 429);
}

TEST(WsServer, RefusesBadRequestsWithHttpStatus) {
  Server srv;
  Client unknown(srv.port(), "/nowhere");
  EXPECT_EQ(unknown.status, 404);
  Client tea(srv.port(), "/teapot");
  EXPECT_EQ(tea.status, 418);
  int fd = raw_connect(srv.port());
  std::string req = "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n";
  write(fd, req.data(), req.size());
  EXPECT_NE(read_all(fd).find("HTTP/1.1 426 Upgrade Required"),
            std::string::npos);
  close(fd);
  fd = raw_connect(srv.port());
  std::string big = "GET /echo HTTP/1.1\r\nX: " + std::string(10000, 'a');
  write(fd, big.data(), big.size());
  EXPECT_NE(read_all(fd).find("HTTP/1.1 431"), std::string::npos);
  close(fd);
  expect_serving(srv.port());
}

TEST(WsServer, SlowLorisHandshakeTimesOut) {
  Server srv([](weft__ws_cfg *c) { c->handshake_timeout_ms = 300; });
  int fd = raw_connect(srv.port());
  std::string part = "GET /echo HTTP/1.1\r\nHost: x\r\n";
  write(fd, part.data(), part.size());
  expect_serving(srv.port());     // others are served meanwhile
  std::string got = read_all(fd); // the server ends it
  EXPECT_NE(got.find("HTTP/1.1 408"), std::string::npos) << got;
  close(fd);
  EXPECT_TRUE(wait_for([&] { return srv.conns() == 0; }));
}

TEST(WsServer, PeerKilledMidFrame) {
  Server srv;
  {
    Client c(srv.port());
    ASSERT_TRUE(c.ok());
    std::string f = frame(WEFT__WS_OP_BINARY, true, std::string(5000, 'z'));
    weft__ws_sync_send_raw(c.s, f.data(), 100); // then the peer dies
  }
  ASSERT_TRUE(srv.wait_closed(1));
  EXPECT_EQ(srv.closed()[0].code, 1006);
  EXPECT_EQ(srv.closed()[0].reason, "connection closed without a close frame");
  EXPECT_TRUE(wait_for([&] { return srv.conns() == 0; }));
  expect_serving(srv.port());
}

TEST(WsServer, HalfOpenPeerIsDroppedByKeepalive) {
  Server srv([](weft__ws_cfg *c) {
    c->ping_interval_ms = 100;
    c->ping_timeout_ms = 200;
  });
  Client c(srv.port());
  ASSERT_TRUE(c.ok());
  // The client never reads, so it never answers a ping: to the server it
  // is a peer that vanished without closing TCP.
  ASSERT_TRUE(srv.wait_closed(1));
  EXPECT_EQ(srv.closed()[0].code, 1011);
  EXPECT_EQ(srv.closed()[0].reason, "keepalive ping timeout");
  expect_serving(srv.port());
}

TEST(WsServer, KeepaliveKeepsALiveClientOpen) {
  Server srv([](weft__ws_cfg *c) {
    c->ping_interval_ms = 50;
    c->ping_timeout_ms = 500;
  });
  Client c(srv.port());
  ASSERT_TRUE(c.ok());
  for (int i = 0; i < 10; i++) { // ~10 ping intervals, answered in recv
    EXPECT_EQ(c.echo("x"), "x");
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
  }
  EXPECT_TRUE(srv.closed().empty());
}

TEST(WsServer, ShutdownClosesClientsWith1001) {
  Server srv;
  Client c(srv.port());
  ASSERT_TRUE(c.ok());
  std::thread t([&] { srv.close_listener(); });
  EXPECT_EQ(c.close_code(), 1001);
  t.join();
}

} // namespace
