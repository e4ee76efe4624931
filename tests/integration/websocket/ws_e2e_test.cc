// ws:// and wss:// end to end: weft's client and server with the shared
// Echo service, all four call kinds, both subprotocols, concurrent calls,
// TLS, and a refused upgrade surfacing as a clear client error.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

extern "C" {
#include "echo_service.h"
#include "self_signed.h"
#include "weft/client.h"
#include "weft/server.h"
#include "weft/websocket.h"
}

namespace {

class WsE2E : public ::testing::Test {
protected:
  static WeftTestCert *pki_;
  static std::string dir_;
  static void SetUpTestSuite() {
    pki_ = new WeftTestCert("ws-e2e");
    ASSERT_TRUE(pki_->ok);
    dir_ = pki_->dir;
  }
  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
  }
  void start(const char *const *keys = nullptr) {
    weft_server_opts so = {};
    so.max_msgs_per_sec = 1000000;
    so.api_keys = keys;
    so.shutdown_grace_ms = 200;
    cert_ = dir_ + "/cert.pem";
    key_ = dir_ + "/key.pem";
    so.tls.cert_file = cert_.c_str();
    so.tls.key_file = key_.c_str();
    ASSERT_EQ(weft_server_new(&srv_, &so), 0);
    ASSERT_EQ(weft_test_echo_add(srv_), 0);
    weft_error err;
    ASSERT_EQ(weft_server_listen(srv_, "ws://127.0.0.1:0", &err), 0)
        << err.message;
    ASSERT_EQ(weft_server_listen(srv_, "wss://127.0.0.1:0", &err), 0)
        << err.message;
    ws_port_ = weft_server_port(srv_, 0);
    wss_port_ = weft_server_port(srv_, 1);
  }
  void TearDown() override {
    if (srv_) {
      weft_server_shutdown(srv_);
      weft_server_free(srv_);
    }
  }
  weft_client *open(bool tls, weft_codec_kind codec,
                    const weft_metadata *md = nullptr, int *rv = nullptr) {
    weft_client_opts co = {};
    co.codec = codec;
    co.default_timeout_ms = 10000;
    co.connect_timeout_ms = 5000;
    co.metadata = md;
    co.tls.ca_file = cert_.c_str();
    std::string url = std::string(tls ? "wss" : "ws") + "://127.0.0.1:" +
                      std::to_string(tls ? wss_port_ : ws_port_);
    weft_client *c = nullptr;
    int r = weft_client_open(&c, url.c_str(), &co, NULL);
    if (rv)
      *rv = r;
    else
      EXPECT_EQ(r, 0) << url;
    return r == 0 ? c : nullptr;
  }
  void exercise(weft_client *c) {
    // unary
    weft__test__EchoRequest req = weft__test__EchoRequest_INIT;
    req.text = (char *)"hello over ws";
    weft__test__EchoResponse *resp = nullptr;
    weft_call_opts o = {};
    ASSERT_EQ(weft__test__Echo_unary(c, &req, &resp, &o), 0)
        << o.status.message;
    EXPECT_STREQ(resp->text, "hello over ws");
    weft__test__EchoResponse_free(resp);
    weft_status_clear(&o.status);
    // a status from the handler
    req.fail_code = WEFT_STATUS_NOT_FOUND;
    req.fail_message = (char *)"no such job";
    weft_call_opts f = {};
    EXPECT_EQ(weft__test__Echo_unary(c, &req, &resp, &f), WEFT_ERR_RPC);
    EXPECT_EQ(f.status.code, WEFT_STATUS_NOT_FOUND);
    weft_status_clear(&f.status);
    req.fail_code = 0;
    // server stream
    req.repeat = 5;
    weft_call *call = nullptr;
    weft_call_opts so = {};
    ASSERT_EQ(weft__test__Echo_server_stream(c, &req, &call, &so), 0);
    int n = 0;
    void *m;
    while (weft_call_recv(call, &m) == 1) {
      EXPECT_EQ(static_cast<weft__test__EchoResponse *>(m)->index, n);
      weft_message_free(m);
      n++;
    }
    EXPECT_EQ(weft_call_finish(call), 0) << so.status.message;
    EXPECT_EQ(n, 5);
    weft_status_clear(&so.status);
    // bidi
    weft_call_opts bo = {};
    ASSERT_EQ(weft__test__Echo_bidi(c, &call, &bo), 0);
    for (int i = 0; i < 3; i++) {
      std::string t = "b" + std::to_string(i);
      req.text = (char *)t.c_str();
      ASSERT_EQ(weft_call_send(call, &req), 0);
      ASSERT_EQ(weft_call_recv(call, &m), 1);
      EXPECT_EQ(std::string(static_cast<weft__test__EchoResponse *>(m)->text),
                t);
      weft_message_free(m);
    }
    weft_call_close_send(call);
    EXPECT_EQ(weft_call_recv(call, &m), 0);
    EXPECT_EQ(weft_call_finish(call), 0) << bo.status.message;
    weft_status_clear(&bo.status);
  }
  weft_server *srv_ = nullptr;
  int ws_port_ = 0, wss_port_ = 0;
  std::string cert_, key_;
};
WeftTestCert *WsE2E::pki_;
std::string WsE2E::dir_;

TEST_F(WsE2E, ProtobufOverWs) {
  start();
  weft_client *c = open(false, WEFT_CODEC_PROTO);
  ASSERT_NE(c, nullptr);
  exercise(c);
  weft_client_close(c);
}

TEST_F(WsE2E, JsonOverWs) {
  start();
  weft_client *c = open(false, WEFT_CODEC_JSON);
  ASSERT_NE(c, nullptr);
  exercise(c);
  weft_client_close(c);
}

TEST_F(WsE2E, ProtobufAndJsonOverWss) {
  start();
  for (auto codec : {WEFT_CODEC_PROTO, WEFT_CODEC_JSON}) {
    weft_client *c = open(true, codec);
    ASSERT_NE(c, nullptr);
    exercise(c);
    weft_client_close(c);
  }
}

TEST_F(WsE2E, ManyCallsInFlightFromThreads) {
  start();
  weft_client *c = open(false, WEFT_CODEC_PROTO);
  ASSERT_NE(c, nullptr);
  std::atomic<int> ok{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; t++)
    ts.emplace_back([&, t] {
      for (int i = 0; i < 50; i++) {
        std::string text = std::to_string(t) + ":" + std::to_string(i);
        weft__test__EchoRequest req = weft__test__EchoRequest_INIT;
        req.text = (char *)text.c_str();
        weft__test__EchoResponse *resp = nullptr;
        weft_call_opts o = {};
        if (weft__test__Echo_unary(c, &req, &resp, &o) == 0 &&
            text == resp->text)
          ok++;
        if (resp)
          weft__test__EchoResponse_free(resp);
        weft_status_clear(&o.status);
      }
    });
  for (auto &t : ts)
    t.join();
  EXPECT_EQ(ok.load(), 200);
  weft_client_close(c);
}

TEST_F(WsE2E, SlowReaderGetsEveryMessageInOrder) {
  // 300 x 100 KB through a client that reads slowly: the client's queue
  // fills, the socket is paused and resumed, the server's sends wait.
  start();
  weft_client *c = open(false, WEFT_CODEC_PROTO);
  ASSERT_NE(c, nullptr);
  std::string payload(100000, 'p');
  weft__test__EchoRequest req = weft__test__EchoRequest_INIT;
  req.text = (char *)"s";
  req.repeat = 300;
  req.payload.data = (uint8_t *)payload.data();
  req.payload.len = payload.size();
  weft_call *call = nullptr;
  weft_call_opts o = {};
  o.timeout_ms = 60000;
  ASSERT_EQ(weft__test__Echo_server_stream(c, &req, &call, &o), 0);
  int n = 0;
  void *m;
  while (weft_call_recv(call, &m) == 1) {
    auto *r = static_cast<weft__test__EchoResponse *>(m);
    EXPECT_EQ(r->index, n);
    EXPECT_EQ(r->payload.len, payload.size());
    weft_message_free(m);
    if (++n % 20 == 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(weft_call_finish(call), 0) << o.status.message;
  EXPECT_EQ(n, 300);
  weft_status_clear(&o.status);
  weft_client_close(c);
}

TEST_F(WsE2E, ServerGoneEndsCallsInFlightWithAStatus) {
  start();
  weft_client *c = open(false, WEFT_CODEC_PROTO);
  ASSERT_NE(c, nullptr);
  std::atomic<int> code{-1};
  std::thread t([&] {
    weft__test__EchoRequest req = weft__test__EchoRequest_INIT;
    req.text = (char *)"slow";
    req.delay_ms = 5000;
    weft__test__EchoResponse *resp = nullptr;
    weft_call_opts o = {};
    weft__test__Echo_unary(c, &req, &resp, &o);
    code = o.status.code;
    if (resp)
      weft__test__EchoResponse_free(resp);
    weft_status_clear(&o.status);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  weft_server_shutdown(srv_);
  weft_server_free(srv_);
  srv_ = nullptr;
  t.join();
  EXPECT_NE(code.load(), WEFT_STATUS_OK);
  EXPECT_NE(code.load(), -1);
  for (int i = 0; i < 500 && weft_client_state(c) == WEFT_CONN_CONNECTED; i++)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_NE(weft_client_state(c), WEFT_CONN_CONNECTED);
  weft_client_close(c);
}

TEST_F(WsE2E, WrongApiKeyIsRefusedAtTheUpgrade) {
  const char *keys[] = {"sekret", nullptr};
  start(keys);
  weft_metadata md = WEFT_METADATA_INIT;
  weft_metadata_add_str(&md, "x-api-key", "wrong");
  int rv = 0;
  weft_client *c = open(false, WEFT_CODEC_PROTO, &md, &rv);
  EXPECT_EQ(c, nullptr);
  EXPECT_LT(rv, 0);
  weft_metadata_clear(&md);
  weft_metadata_add_str(&md, "x-api-key", "sekret");
  c = open(false, WEFT_CODEC_PROTO, &md);
  ASSERT_NE(c, nullptr);
  exercise(c);
  weft_client_close(c);
  weft_metadata_clear(&md);
}

} // namespace
