// Helpers shared by the WebSocket integration tests: a raw-route server on
// the internal listener API, and bounded waits.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

extern "C" {
#include "weft/websocket.h"
#include "ws_net.h"
#include "ws_sync.h"
}

namespace wstest {

// Waits up to 10 s for cond; returns whether it became true.
inline bool wait_for(const std::function<bool()> &cond) {
  for (int i = 0; i < 1000; i++) {
    if (cond())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return cond();
}

struct Closed {
  std::string path;
  int code;
  std::string reason;
};

// Routes: /echo echoes, /hello greets and closes, /public echoes without
// the API key check. Records every on_close.
class Server {
public:
  explicit Server(const std::function<void(weft__ws_cfg *)> &tune = {},
                  const weft_server_opts *so = nullptr,
                  const weft_tls_opts *tls = nullptr) {
    weft_ws_opts wo = WEFT_WS_OPTS_INIT;
    wo.route = route;
    wo.route_ud = this;
    wo.close_timeout_ms = 2000;
    weft_server_opts dso = {};
    dso.max_msgs_per_sec = 1000000;
    weft__ws_listen_args a = {};
    a.host = "127.0.0.1";
    a.port = 0;
    a.tls = tls != nullptr;
    a.tls_opts = tls;
    weft__ws_cfg_init(&a.cfg, &wo, so ? so : &dso, 0, 0);
    if (tune)
      tune(&a.cfg);
    weft_error err;
    int rv = weft__ws_listen(&l_, &a, &port_, &err);
    EXPECT_EQ(rv, 0) << err.message;
  }
  ~Server() {
    weft__ws_listener_close(l_);
  }
  int port() const {
    return port_;
  }
  size_t conns() {
    return weft__ws_listener_conns(l_);
  }
  std::vector<Closed> closed() {
    std::lock_guard<std::mutex> g(mu_);
    return closed_;
  }
  bool wait_closed(size_t n) {
    return wait_for([&] { return closed().size() >= n; });
  }
  void close_listener() {
    weft__ws_listener_close(l_);
    l_ = nullptr;
  }

private:
  static int route(void *ud, const weft_ws_request *req, weft_ws_accept *acc) {
    std::string p = req->path;
    acc->ud = ud;
    if (p == "/echo" || p == "/public") {
      acc->handler = &echo_h;
      acc->skip_auth = p == "/public";
      if (weft_ws_request_offers(req, "chat"))
        acc->protocol = "chat";
      return 1;
    }
    if (p == "/hello") {
      acc->handler = &hello_h;
      return 1;
    }
    if (p == "/teapot") {
      acc->reason = "short and stout";
      return 418;
    }
    return 0; // falls through to 404 (no envelope endpoint here)
  }
  static void on_echo(weft_ws_conn *c, bool text, const uint8_t *d, size_t n,
                      void *) {
    weft_ws_conn_send(c, text, d, n);
  }
  static void on_hello_open(weft_ws_conn *c, void *) {
    weft_ws_conn_send(c, true, "hello", 5);
    weft_ws_conn_close(c, 1000, "bye");
  }
  static void on_close(weft_ws_conn *c, int code, const char *reason,
                       void *ud) {
    auto *s = static_cast<Server *>(ud);
    std::lock_guard<std::mutex> g(s->mu_);
    s->closed_.push_back({weft_ws_conn_path(c), code, reason});
  }
  static const weft_ws_handler echo_h, hello_h;
  weft__ws_listener *l_ = nullptr;
  int port_ = 0;
  std::mutex mu_;
  std::vector<Closed> closed_;
};

inline const weft_ws_handler Server::echo_h = {nullptr, Server::on_echo,
                                               Server::on_close};
inline const weft_ws_handler Server::hello_h = {Server::on_hello_open, nullptr,
                                                Server::on_close};

// A connected sync client (nullptr on failure, with status/err filled).
struct Client {
  weft__ws_sync *s = nullptr;
  int status = 0;
  int rv = 0;
  weft_error err{};
  Client(int port, const char *target = "/echo", const char *extra = nullptr,
         const char *origin = nullptr, const char *protocols = nullptr) {
    weft__ws_sync_opts o = {};
    o.target = target;
    o.extra_headers = extra;
    o.origin = origin;
    o.protocols = protocols;
    o.timeout_ms = 5000;
    rv = weft__ws_sync_connect(&s, "127.0.0.1", port, &o, &err);
    status = o.http_status;
  }
  ~Client() {
    weft__ws_sync_free(s);
  }
  bool ok() const {
    return s != nullptr;
  }
  // Sends and returns the echo ("" + fails on error).
  std::string echo(const std::string &m, bool text = true) {
    int rv2 = weft__ws_sync_send(
        s, text ? WEFT__WS_OP_TEXT : WEFT__WS_OP_BINARY, m.data(), m.size());
    EXPECT_EQ(rv2, 0);
    return recv();
  }
  std::string recv(int *op_out = nullptr) {
    int op = 0;
    const uint8_t *d = nullptr;
    size_t n = 0;
    int r = weft__ws_sync_recv(s, &op, &d, &n, 10000);
    if (op_out)
      *op_out = r == 1 ? op : -1;
    return r == 1 ? std::string(reinterpret_cast<const char *>(d), n) : "";
  }
  // Reads until the peer closes; returns its close code (1006: dropped).
  int close_code() {
    for (int i = 0; i < 100000; i++) {
      int op;
      const uint8_t *d;
      size_t n;
      int r = weft__ws_sync_recv(s, &op, &d, &n, 10000);
      if (r <= 0)
        return weft__ws_sync_close_code(s);
    }
    return -1;
  }
};

// Messages and the close a weft__ws_dial client's handler saw.
struct Inbox {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> msgs;
  bool opened = false;
  int code = -1;
  std::string reason;
  static void on_open(weft_ws_conn *, void *ud) {
    auto *in = static_cast<Inbox *>(ud);
    std::lock_guard<std::mutex> g(in->mu);
    in->opened = true;
  }
  static void on_message(weft_ws_conn *, bool, const uint8_t *d, size_t n,
                         void *ud) {
    auto *in = static_cast<Inbox *>(ud);
    std::lock_guard<std::mutex> g(in->mu);
    in->msgs.emplace_back(reinterpret_cast<const char *>(d), n);
    in->cv.notify_all();
  }
  static void on_close(weft_ws_conn *, int code, const char *reason, void *ud) {
    auto *in = static_cast<Inbox *>(ud);
    std::lock_guard<std::mutex> g(in->mu);
    in->code = code;
    in->reason = reason;
    in->cv.notify_all();
  }
  bool wait_msgs(size_t n) {
    std::unique_lock<std::mutex> g(mu);
    return cv.wait_for(g, std::chrono::seconds(10),
                       [&] { return msgs.size() >= n; });
  }
  bool wait_closed() {
    std::unique_lock<std::mutex> g(mu);
    return cv.wait_for(g, std::chrono::seconds(10), [&] { return code >= 0; });
  }
};

inline const weft_ws_handler kInboxHandler = {Inbox::on_open, Inbox::on_message,
                                              Inbox::on_close};

// A weft__ws_dial client with an Inbox handler.
struct Dialed {
  weft_ws_conn *c = nullptr;
  int rv = 0, status = 0;
  weft_error err{};
  Dialed(int port, Inbox *in, const char *target = "/echo",
         const weft_tls_opts *tls = nullptr) {
    weft__ws_dial_args a = {};
    a.host = "127.0.0.1";
    a.port = port;
    a.target = target;
    a.tls = tls != nullptr;
    a.tls_opts = tls;
    a.protocols = "chat";
    a.timeout_ms = 5000;
    weft__ws_cfg_init(&a.cfg, nullptr, nullptr, 0, 0);
    a.cfg.close_timeout_ms = 2000;
    a.handler = &wstest::kInboxHandler;
    a.ud = in;
    rv = weft__ws_dial(&c, &a, &status, &err);
  }
  ~Dialed() {
    weft__ws_dial_close(c);
  }
};

} // namespace wstest
