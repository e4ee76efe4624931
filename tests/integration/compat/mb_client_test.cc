// The MB client on the shared client loop: many clients and no thread
// each; MB over TLS (mbs:// on weft's broker, mb+wss:// through a weft
// server's wss:// listener) and the API key at the WebSocket upgrade; and
// what a broker that misbehaves (bytes that are not MB, a frame over the
// limit, a stream cut mid-frame, a close) gives the caller: a clear error
// at once, never a crash or a hang.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "self_signed.h"
#include "weft/mb_net.h"
#include "weft/server.h"
#include "weft/websocket.h"

namespace {

int thread_count() {
  int n = 0;
  DIR *d = opendir("/proc/self/task");
  if (!d)
    return -1;
  while (dirent *e = readdir(d))
    if (e->d_name[0] != '.')
      n++;
  closedir(d);
  return n;
}

struct Counter {
  std::mutex mu;
  std::condition_variable cv;
  int n = 0;
  static void on_publish(weft_mb_client *, const weft_mb_message *, void *ud) {
    auto *c = static_cast<Counter *>(ud);
    std::lock_guard<std::mutex> g(c->mu);
    c->n++;
    c->cv.notify_all();
  }
  bool wait(int want) {
    std::unique_lock<std::mutex> g(mu);
    return cv.wait_for(g, std::chrono::seconds(20), [&] { return n >= want; });
  }
};

struct MbServer {
  weft_server *s = nullptr;
  int port = 0;
  explicit MbServer(const char *scheme = "mb",
                    const weft_server_opts *o = nullptr) {
    EXPECT_EQ(weft_mb_register_transport(), 0);
    weft_server_opts so{};
    if (o)
      so = *o;
    so.max_conns_per_ip = 1000;
    EXPECT_EQ(weft_server_new(&s, &so), 0);
    weft_error err{};
    std::string url = std::string(scheme) + "://127.0.0.1:0";
    EXPECT_EQ(weft_server_listen(s, url.c_str(), &err), 0) << err.message;
    port = weft_server_port(s, 0);
  }
  ~MbServer() {
    weft_server_shutdown(s);
    weft_server_free(s);
  }
};

// 200 subscribed clients cost sockets, not threads: the process grows by
// the one client-loop thread (a few more allowed for a loaded machine),
// where each client used to start a reader thread. A publish reaches all.
TEST(MbClientLoop, TwoHundredClientsShareOneLoop) {
  MbServer srv;
  std::string url = "mb://127.0.0.1:" + std::to_string(srv.port);
  int before = thread_count();
  ASSERT_GT(before, 0);
  Counter got;
  std::vector<weft_mb_client *> clients;
  weft_error err{};
  for (int i = 0; i < 200; i++) {
    weft_mb_client_opts o{};
    o.on_publish = Counter::on_publish;
    o.ud = &got;
    weft_mb_client *c = nullptr;
    ASSERT_EQ(weft_mb_client_open(&c, url.c_str(), &o, &err), 0)
        << i << ": " << err.message;
    clients.push_back(c);
    ASSERT_EQ(weft_mb_client_subscribe(c, WEFT_MB_PUBLISH, "fan.out", 0, &err),
              0)
        << err.message;
  }
  int during = thread_count();
  printf("threads: %d before, %d with 200 subscribed clients\n", before,
         during);
  EXPECT_LE(during, before + 4) << "threads before " << before << ", with 200 "
                                << "clients " << during;
  weft_mb_client *pub = nullptr;
  ASSERT_EQ(weft_mb_client_open(&pub, url.c_str(), nullptr, &err), 0)
      << err.message;
  ASSERT_EQ(weft_mb_client_publish_wait(pub, "fan.out", "1.0.0", "{\"n\":1}",
                                        nullptr, &err),
            0)
      << err.message;
  EXPECT_TRUE(got.wait(200)) << got.n << " of 200 delivered";
  weft_mb_client_close(pub);
  for (auto *c : clients)
    weft_mb_client_close(c);
  std::lock_guard<std::mutex> g(got.mu);
  EXPECT_EQ(got.n, 200);
}

// ---- TLS and the API key ----

struct Echo {
  static void on_request(weft_mb_client *c, const weft_mb_message *m, void *) {
    std::string resp =
        "{\"echo\":" + std::string(m->payload, m->payload_len) + "}";
    weft_mb_client_respond(c, &m->header, resp.c_str(), nullptr);
  }
};

void round_trip(const std::string &url, const weft_tls_opts &tls,
                const char *api_key) {
  SCOPED_TRACE(url);
  weft_mb_client_opts o{};
  o.name = "echo";
  o.on_request = Echo::on_request;
  o.tls = tls;
  o.api_key = api_key;
  weft_mb_client *svc = nullptr, *caller = nullptr;
  weft_error err{};
  ASSERT_EQ(weft_mb_client_open(&svc, url.c_str(), &o, &err), 0) << err.message;
  o.name = "caller";
  o.on_request = nullptr;
  ASSERT_EQ(weft_mb_client_open(&caller, url.c_str(), &o, &err), 0)
      << err.message;
  ASSERT_EQ(weft_mb_client_subscribe(svc, WEFT_MB_REQUEST, "echo", 0, &err), 0)
      << err.message;
  char *resp = nullptr;
  ASSERT_EQ(weft_mb_client_request(caller, "echo", "1.0.0", "[1,2]", 2000,
                                   &resp, nullptr, &err),
            0)
      << err.message;
  EXPECT_STREQ(resp, "{\"echo\":[1,2]}");
  free(resp);
  weft_mb_client_close(caller);
  weft_mb_client_close(svc);
}

TEST(MbClientTls, WssWithApiKeyThroughAWeftServer) {
  WeftTestCert pki("mb-tls");
  weft_mb_hub *hub = nullptr;
  ASSERT_EQ(weft_mb_hub_new(&hub, nullptr), 0);
  weft_ws_opts wo = WEFT_WS_OPTS_INIT;
  wo.route = weft_mb_ws_route;
  wo.route_ud = hub;
  static const char *const keys[] = {"k-one", nullptr};
  weft_server_opts so{};
  so.transport_opts = &wo;
  so.api_keys = keys;
  so.tls.cert_file = pki.cert.c_str();
  so.tls.key_file = pki.key.c_str();
  weft_server *s = nullptr;
  ASSERT_EQ(weft_server_new(&s, &so), 0);
  weft_error err{};
  ASSERT_EQ(weft_server_listen(s, "wss://127.0.0.1:0", &err), 0) << err.message;
  std::string port = std::to_string(weft_server_port(s, 0));
  weft_tls_opts tls{};
  tls.ca_file = pki.cert.c_str();
  round_trip("mb+wss://127.0.0.1:" + port, tls, "k-one");
  round_trip("wss://127.0.0.1:" + port + "/", tls, "k-one");

  weft_mb_client *c = nullptr;
  weft_mb_client_opts o{};
  o.tls = tls;
  // A wrong key or none: the upgrade is refused, and the caller is told.
  o.api_key = "k-two";
  EXPECT_EQ(
      weft_mb_client_open(&c, ("mb+wss://127.0.0.1:" + port).c_str(), &o, &err),
      WEFT_ERR_HANDSHAKE);
  EXPECT_NE(strstr(err.message, "401"), nullptr) << err.message;
  o.api_key = nullptr;
  EXPECT_EQ(
      weft_mb_client_open(&c, ("mb+wss://127.0.0.1:" + port).c_str(), &o, &err),
      WEFT_ERR_HANDSHAKE);
  // An untrusted certificate: a TLS error naming it.
  o.api_key = "k-one";
  o.tls = weft_tls_opts{};
  EXPECT_EQ(
      weft_mb_client_open(&c, ("mb+wss://127.0.0.1:" + port).c_str(), &o, &err),
      WEFT_ERR_TLS)
      << err.message;
  // MB over TCP has nowhere to carry a key: refused, not dropped.
  EXPECT_EQ(
      weft_mb_client_open(&c, ("mbs://127.0.0.1:" + port).c_str(), &o, &err),
      WEFT_ERR_UNSUPPORTED);
  EXPECT_NE(strstr(err.message, "no API key"), nullptr) << err.message;
  weft_server_shutdown(s);
  weft_server_free(s);
  weft_mb_hub_free(hub);
}

// MB over TLS on weft's broker itself (the broker's "tls" port): mbs://
// on the server side, mbs:// / mb+tls:// / tls:// on the client side.
TEST(MbClientTls, MbsOnWeftsBroker) {
  WeftTestCert pki("mb-tls");
  weft_server_opts so{};
  so.tls.cert_file = pki.cert.c_str();
  so.tls.key_file = pki.key.c_str();
  MbServer srv("mbs", &so);
  ASSERT_GT(srv.port, 0);
  std::string port = std::to_string(srv.port);
  weft_tls_opts tls{};
  tls.ca_file = pki.cert.c_str();
  round_trip("mbs://127.0.0.1:" + port, tls, nullptr);
  round_trip("mb+tls://127.0.0.1:" + port, tls, nullptr);
  round_trip("tls://127.0.0.1:" + port, tls, nullptr);
  // Untrusted: the TLS error, not a hang or a missing greeting.
  weft_mb_client *c = nullptr;
  weft_error err{};
  EXPECT_EQ(weft_mb_client_open(&c, ("mbs://127.0.0.1:" + port).c_str(),
                                nullptr, &err),
            WEFT_ERR_TLS)
      << err.message;
  // Plain MB to the TLS port: no greeting; the client says so in time.
  weft_mb_client_opts o{};
  o.timeout_ms = 500;
  int rv =
      weft_mb_client_open(&c, ("mb://127.0.0.1:" + port).c_str(), &o, &err);
  EXPECT_TRUE(rv == WEFT_ERR_HANDSHAKE || rv == WEFT_ERR_CLOSED ||
              rv == WEFT_ERR_PROTOCOL)
      << rv << " " << err.message;
  // mbs:// without a certificate: refused at listen.
  weft_server *s = nullptr;
  ASSERT_EQ(weft_server_new(&s, nullptr), 0);
  EXPECT_EQ(weft_server_listen(s, "mbs://127.0.0.1:0", &err), WEFT_ERR_INVAL);
  weft_server_free(s);
}

// ---- a broker that misbehaves ----

struct RawBroker {
  int lfd = -1, fd = -1, port = 0;
  RawBroker() {
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
  ~RawBroker() {
    if (fd >= 0)
      close(fd);
    close(lfd);
  }
  std::string url() const {
    return "mb://127.0.0.1:" + std::to_string(port);
  }
  void accept_one() {
    fd = accept(lfd, nullptr, nullptr);
    timeval tv{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  void send_raw(const std::string &b) {
    ASSERT_EQ(::send(fd, b.data(), b.size(), MSG_NOSIGNAL), (ssize_t)b.size());
  }
  void send_msg(const std::string &m) {
    uint8_t p[4];
    weft_mb_frame_prefix(p, m.size());
    send_raw(std::string((char *)p, 4) + m);
  }
  // Reads one framed message (the client's request).
  std::string recv_msg() {
    uint8_t p[4];
    if (recv(fd, p, 4, MSG_WAITALL) != 4)
      return "";
    size_t n =
        (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
    std::string s(n, '\0');
    if (n && recv(fd, &s[0], n, MSG_WAITALL) != (ssize_t)n)
      return "";
    return s;
  }
};

// A client connected to rb (greeted, not registered).
weft_mb_client *connect_to(RawBroker &rb) {
  weft_mb_client *c = nullptr;
  weft_error err{};
  int rv = 1;
  std::thread opener([&] {
    weft_mb_client_opts o{};
    o.timeout_ms = 5000;
    rv = weft_mb_client_open(&c, rb.url().c_str(), &o, &err);
  });
  rb.accept_one();
  rb.send_msg("publish:system.initialize:1.0.0\n{}");
  opener.join();
  EXPECT_EQ(rv, 0) << err.message;
  return c;
}

// The broker's misbehaviour arrives while a request waits: the request
// returns at once with `code`, err naming what happened; later calls fail
// the same way.
void expect_failure(const std::string &bytes, bool close_after, int code,
                    const char *says) {
  SCOPED_TRACE(says);
  RawBroker rb;
  weft_mb_client *c = connect_to(rb);
  ASSERT_NE(c, nullptr);
  int rv = 1;
  char *resp = nullptr;
  weft_error err{};
  auto t0 = std::chrono::steady_clock::now();
  std::thread caller([&] {
    rv = weft_mb_client_request(c, "jobs.get", "1.0.0", "{}", 30000, &resp,
                                nullptr, &err);
  });
  EXPECT_NE(rb.recv_msg(), ""); // the request
  rb.send_raw(bytes);
  if (close_after) {
    close(rb.fd);
    rb.fd = -1;
  }
  caller.join();
  printf("error: %s\n", err.message);
  // Well before the request's 31 s: the error is immediate, not a timeout.
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(20));
  EXPECT_EQ(rv, code) << err.message;
  EXPECT_NE(strstr(err.message, says), nullptr) << err.message;
  EXPECT_NE(strstr(err.message, "127.0.0.1"), nullptr) << err.message;
  free(resp);
  weft_error err2{};
  EXPECT_EQ(weft_mb_client_publish(c, "t", "1.0.0", "{}", &err2), code);
  EXPECT_NE(strstr(err2.message, says), nullptr) << err2.message;
  weft_mb_client_close(c);
}

std::string framed(const std::string &m) {
  uint8_t p[4];
  weft_mb_frame_prefix(p, m.size());
  return std::string((char *)p, 4) + m;
}

TEST(MbClientBadBroker, GarbageMessage) {
  expect_failure(framed("this is not MB"), false, WEFT_ERR_PROTOCOL,
                 "a message that is not MB");
}

TEST(MbClientBadBroker, BinaryGarbage) {
  expect_failure(framed(std::string("\x00\xff\x01publish:\n", 12)), false,
                 WEFT_ERR_PROTOCOL, "a message that is not MB");
}

TEST(MbClientBadBroker, FrameOverTheLimit) {
  // 16,751 + 367 is the most a broker sends; one more is refused from the
  // length alone.
  std::string len("\x00\x00\x42\xdf", 4); // 17119
  expect_failure(len + std::string(100, 'x'), false, WEFT_ERR_PROTOCOL,
                 "over the limit");
}

TEST(MbClientBadBroker, CloseMidFrame) {
  std::string len("\x00\x00\x00\x64", 4); // 100 bytes announced
  expect_failure(len + "response:jobs", true, WEFT_ERR_CLOSED,
                 "middle of a frame (13 of a 100-byte message)");
}

TEST(MbClientBadBroker, CloseMidLength) {
  expect_failure(std::string("\x00\x00", 2), true, WEFT_ERR_CLOSED,
                 "2 of the 4 length bytes");
}

TEST(MbClientBadBroker, Close) {
  expect_failure("", true, WEFT_ERR_CLOSED, "closed the connection");
}

TEST(MbClientBadBroker, GarbageInsteadOfTheGreeting) {
  RawBroker rb;
  weft_mb_client *c = nullptr;
  weft_error err{};
  int rv = 1;
  std::thread opener(
      [&] { rv = weft_mb_client_open(&c, rb.url().c_str(), nullptr, &err); });
  rb.accept_one();
  rb.send_msg("garbage");
  opener.join();
  EXPECT_EQ(rv, WEFT_ERR_PROTOCOL) << err.message;
  EXPECT_NE(strstr(err.message, "greeting"), nullptr) << err.message;
  EXPECT_EQ(c, nullptr);
}

// Over WebSocket: a peer on a weft server that speaks raw WebSocket and
// sends what it is told right after the upgrade.
struct WsPeer {
  static std::string *what;
  static void on_open(weft_ws_conn *c, void *) {
    weft_ws_conn_send(c, true, "publish:system.initialize:1.0.0\n{}", 35);
  }
  static void on_message(weft_ws_conn *c, bool, const uint8_t *, size_t,
                         void *) {
    // Any message from the client (its request) gets the bad bytes.
    weft_ws_conn_send(c, true, what->data(), what->size());
  }
  static void on_close(weft_ws_conn *, int, const char *, void *) {}
  static int route(void *, const weft_ws_request *, weft_ws_accept *acc) {
    static const weft_ws_handler h = {on_open, on_message, on_close};
    acc->handler = &h;
    return 1;
  }
};
std::string *WsPeer::what;

void expect_ws_failure(const std::string &bytes, int code, const char *says) {
  SCOPED_TRACE(says);
  std::string what = bytes;
  WsPeer::what = &what;
  weft_ws_opts wo = WEFT_WS_OPTS_INIT;
  wo.route = WsPeer::route;
  weft_server_opts so{};
  so.transport_opts = &wo;
  weft_server *s = nullptr;
  ASSERT_EQ(weft_server_new(&s, &so), 0);
  weft_error err{};
  ASSERT_EQ(weft_server_listen(s, "ws://127.0.0.1:0", &err), 0) << err.message;
  std::string url =
      "mb+ws://127.0.0.1:" + std::to_string(weft_server_port(s, 0));
  weft_mb_client *c = nullptr;
  ASSERT_EQ(weft_mb_client_open(&c, url.c_str(), nullptr, &err), 0)
      << err.message;
  char *resp = nullptr;
  EXPECT_EQ(weft_mb_client_request(c, "jobs.get", "1.0.0", "{}", 30000, &resp,
                                   nullptr, &err),
            code)
      << err.message;
  EXPECT_NE(strstr(err.message, says), nullptr) << err.message;
  free(resp);
  weft_mb_client_close(c);
  weft_server_shutdown(s);
  weft_server_free(s);
}

TEST(MbClientBadBroker, WebSocketGarbage) {
  expect_ws_failure("not MB at all", WEFT_ERR_PROTOCOL,
                    "a message that is not MB");
}

TEST(MbClientBadBroker, WebSocketMessageOverTheLimit) {
  expect_ws_failure("publish:t:1.0.0\n" +
                        std::string(WEFT_MB_MAX_MESSAGE + 400, 'x'),
                    WEFT_ERR_PROTOCOL, "closed 1009");
}

// ---- callbacks on the shared loop ----

struct Reentrant {
  weft_mb_client *self = nullptr;
  std::mutex mu;
  std::condition_variable cv;
  int rv_request = 1, rv_open = 1;
  std::string url;
  bool closed = false;
  static void on_publish(weft_mb_client *c, const weft_mb_message *m,
                         void *ud) {
    auto *r = static_cast<Reentrant *>(ud);
    std::string p(m->payload, m->payload_len);
    std::lock_guard<std::mutex> g(r->mu);
    if (p == "\"ask\"") {
      // Waiting here would stall the loop that delivers the answer.
      char *resp = nullptr;
      weft_error err{};
      r->rv_request = weft_mb_client_request(c, "x", "1.0.0", "{}", 100, &resp,
                                             nullptr, &err);
      free(resp);
      weft_mb_client *other = nullptr;
      r->rv_open = weft_mb_client_open(&other, r->url.c_str(), nullptr, &err);
    } else if (p == "\"bye\"") {
      weft_mb_client_close(c); // finishes after this handler returns
      r->closed = true;
    }
    r->cv.notify_all();
  }
};

TEST(MbClientLoop, HandlersCannotWaitAndMayClose) {
  MbServer srv;
  std::string url = "mb://127.0.0.1:" + std::to_string(srv.port);
  Reentrant r;
  r.url = url;
  weft_mb_client_opts o{};
  o.on_publish = Reentrant::on_publish;
  o.ud = &r;
  weft_mb_client *sub = nullptr, *pub = nullptr;
  weft_error err{};
  ASSERT_EQ(weft_mb_client_open(&sub, url.c_str(), &o, &err), 0);
  ASSERT_EQ(weft_mb_client_open(&pub, url.c_str(), nullptr, &err), 0);
  ASSERT_EQ(weft_mb_client_subscribe(sub, WEFT_MB_PUBLISH, "t", 0, &err), 0);
  ASSERT_EQ(
      weft_mb_client_publish_wait(pub, "t", "1.0.0", "\"ask\"", nullptr, &err),
      0);
  {
    std::unique_lock<std::mutex> g(r.mu);
    ASSERT_TRUE(r.cv.wait_for(g, std::chrono::seconds(10),
                              [&] { return r.rv_request != 1; }));
    EXPECT_EQ(r.rv_request, WEFT_ERR_STATE);
    EXPECT_EQ(r.rv_open, WEFT_ERR_STATE);
  }
  ASSERT_EQ(
      weft_mb_client_publish_wait(pub, "t", "1.0.0", "\"bye\"", nullptr, &err),
      0);
  {
    std::unique_lock<std::mutex> g(r.mu);
    ASSERT_TRUE(
        r.cv.wait_for(g, std::chrono::seconds(10), [&] { return r.closed; }));
  }
  weft_mb_client_close(pub);
}

} // namespace
