// tcp://: all four RPC kinds, metadata, status, deadlines, cancellation,
// and many concurrent calls from several threads on one connection.
#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "helpers.h"

using namespace weft_tcp_test;

namespace {

weft__test__EchoRequest req(const char *text) {
  weft__test__EchoRequest r;
  weft__test__EchoRequest_init(&r);
  r.text = (char *)text;
  return r;
}

} // namespace

TEST(TcpRpc, Unary) {
  Server srv;
  Client cl(srv.url());
  weft_metadata md = WEFT_METADATA_INIT, resp_md = WEFT_METADATA_INIT;
  weft_metadata_add_str(&md, "x-trace", "abc");
  weft_call_opts o = {};
  o.metadata = &md;
  o.response_metadata = &resp_md;
  std::string payload(3000, '\0');
  for (size_t i = 0; i < payload.size(); i++)
    payload[i] = (char)i;
  auto r = req("hello");
  r.payload = bytes(payload);
  weft__test__EchoResponse *resp = nullptr;
  ASSERT_EQ(weft__test__Echo_unary(cl.c, &r, &resp, &o), 0) << o.status.message;
  EXPECT_STREQ(resp->text, "hello");
  EXPECT_EQ(str(resp->payload), payload);
  EXPECT_EQ(o.status.code, WEFT_STATUS_OK);
  const weft_metadata_entry *e = weft_metadata_get(&resp_md, "x-trace");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(std::string((char *)e->value, e->value_len), "abc");
  weft_message_free(resp);
  weft_metadata_clear(&md);
  weft_metadata_clear(&resp_md);
  weft_status_clear(&o.status);
}

TEST(TcpRpc, UnaryEmptyRequest) {
  Server srv;
  Client cl(srv.url());
  weft__test__EchoRequest r;
  weft__test__EchoRequest_init(&r); // encodes to zero bytes
  weft__test__EchoResponse *resp = nullptr;
  weft_call_opts o = {};
  ASSERT_EQ(weft__test__Echo_unary(cl.c, &r, &resp, &o), 0) << o.status.message;
  EXPECT_STREQ(resp->text, "");
  weft_message_free(resp);
  weft_status_clear(&o.status);
}

TEST(TcpRpc, ErrorStatusAndMessage) {
  Server srv;
  Client cl(srv.url());
  auto r = req("x");
  r.fail_code = WEFT_STATUS_NOT_FOUND;
  r.fail_message = (char *)"no such job: 7";
  weft__test__EchoResponse *resp = nullptr;
  weft_call_opts o = {};
  EXPECT_EQ(weft__test__Echo_unary(cl.c, &r, &resp, &o), WEFT_ERR_RPC);
  EXPECT_EQ(o.status.code, WEFT_STATUS_NOT_FOUND);
  ASSERT_NE(o.status.message, nullptr);
  EXPECT_NE(std::string(o.status.message).find("no such job: 7"),
            std::string::npos);
  EXPECT_EQ(resp, nullptr);
  weft_status_clear(&o.status);
}

TEST(TcpRpc, UnknownMethodIsUnimplemented) {
  Server srv;
  Client cl(srv.url());
  weft_method_desc fake = *method("Unary");
  fake.path = "/weft.test.Echo/Nope";
  auto r = req("x");
  void *resp = nullptr;
  weft_call_opts o = {};
  EXPECT_LT(weft_call_unary(cl.c, &fake, &r, &resp, &o), 0);
  EXPECT_EQ(o.status.code, WEFT_STATUS_UNIMPLEMENTED) << o.status.message;
  weft_status_clear(&o.status);
}

TEST(TcpRpc, ServerStream) {
  Server srv;
  Client cl(srv.url());
  auto r = req("s");
  r.repeat = 500;
  weft_call_opts o = {};
  weft_call *call;
  ASSERT_EQ(weft__test__Echo_server_stream(cl.c, &r, &call, &o), 0);
  void *m;
  int n = 0;
  while (weft_call_recv(call, &m) == 1) {
    auto *resp = (weft__test__EchoResponse *)m;
    EXPECT_EQ(resp->index, n);
    n++;
    weft_message_free(m);
  }
  EXPECT_EQ(weft_call_finish(call), 0) << o.status.message;
  EXPECT_EQ(n, 500);
  weft_status_clear(&o.status);
}

TEST(TcpRpc, ClientStream) {
  Server srv;
  Client cl(srv.url());
  weft_call_opts o = {};
  weft_call *call;
  ASSERT_EQ(weft__test__Echo_client_stream(cl.c, &call, &o), 0);
  std::string want;
  for (int i = 0; i < 100; i++) {
    std::string t = std::to_string(i) + ",";
    want += t;
    auto r = req(t.c_str());
    ASSERT_EQ(weft_call_send(call, &r), 0);
  }
  ASSERT_EQ(weft_call_close_send(call), 0);
  void *m = nullptr;
  ASSERT_EQ(weft_call_recv(call, &m), 1);
  auto *resp = (weft__test__EchoResponse *)m;
  EXPECT_EQ(std::string(resp->text), want);
  EXPECT_EQ(resp->index, 100);
  weft_message_free(m);
  EXPECT_EQ(weft_call_finish(call), 0) << o.status.message;
  weft_status_clear(&o.status);
}

TEST(TcpRpc, Bidi) {
  Server srv;
  Client cl(srv.url());
  weft_call_opts o = {};
  weft_call *call;
  ASSERT_EQ(weft__test__Echo_bidi(cl.c, &call, &o), 0);
  for (int i = 0; i < 50; i++) { // strictly alternating: true round trips
    std::string t = "m" + std::to_string(i);
    auto r = req(t.c_str());
    ASSERT_EQ(weft_call_send(call, &r), 0);
    void *m;
    ASSERT_EQ(weft_call_recv(call, &m), 1);
    auto *resp = (weft__test__EchoResponse *)m;
    EXPECT_EQ(std::string(resp->text), t);
    EXPECT_EQ(resp->index, i);
    weft_message_free(m);
  }
  ASSERT_EQ(weft_call_close_send(call), 0);
  void *m;
  EXPECT_EQ(weft_call_recv(call, &m), 0);
  EXPECT_EQ(weft_call_finish(call), 0) << o.status.message;
  weft_status_clear(&o.status);
}

TEST(TcpRpc, DeadlineExceeded) {
  Server srv;
  Client cl(srv.url());
  auto r = req("slow");
  r.delay_ms = 5000;
  weft__test__EchoResponse *resp = nullptr;
  weft_call_opts o = {};
  o.timeout_ms = 100;
  EXPECT_LT(weft__test__Echo_unary(cl.c, &r, &resp, &o), 0);
  EXPECT_EQ(o.status.code, WEFT_STATUS_DEADLINE_EXCEEDED)
      << (o.status.message ? o.status.message : "");
  weft_status_clear(&o.status);
  // The connection is still good.
  auto r2 = req("fast");
  weft_call_opts o2 = {};
  ASSERT_EQ(weft__test__Echo_unary(cl.c, &r2, &resp, &o2), 0);
  weft_message_free(resp);
  weft_status_clear(&o2.status);
}

TEST(TcpRpc, CancelFromAnotherThread) {
  Server srv;
  Client cl(srv.url());
  auto r = req("s");
  r.repeat = 1000;
  r.delay_ms = 20;
  weft_call_opts o = {};
  weft_call *call;
  ASSERT_EQ(weft__test__Echo_server_stream(cl.c, &r, &call, &o), 0);
  void *m;
  ASSERT_EQ(weft_call_recv(call, &m), 1);
  weft_message_free(m);
  std::thread t([call] { weft_call_cancel(call); });
  t.join();
  while (weft_call_recv(call, &m) == 1)
    weft_message_free(m);
  EXPECT_LT(weft_call_finish(call), 0);
  EXPECT_EQ(o.status.code, WEFT_STATUS_CANCELLED);
  weft_status_clear(&o.status);
}

TEST(TcpRpc, ManyConcurrentCallsOnOneConnection) {
  Server srv;
  Client cl(srv.url());
  const int threads = 8, per = 200;
  std::atomic<int> ok{0}, bad{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; t++) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < per; i++) {
        std::string text = std::to_string(t) + ":" + std::to_string(i);
        auto r = req(text.c_str());
        std::string pl((size_t)(i * 37 % 5000), (char)t);
        r.payload = bytes(pl);
        weft__test__EchoResponse *resp = nullptr;
        weft_call_opts o = {};
        if (i % 10 == 0) { // mix in streams
          r.repeat = 5;
          weft_call *call;
          int n = 0;
          if (weft__test__Echo_server_stream(cl.c, &r, &call, &o) == 0) {
            void *m;
            while (weft_call_recv(call, &m) == 1) {
              n++;
              weft_message_free(m);
            }
            if (weft_call_finish(call) == 0 && n == 5)
              ok++;
            else
              bad++;
          } else {
            bad++;
          }
        } else if (weft__test__Echo_unary(cl.c, &r, &resp, &o) == 0 &&
                   text == resp->text && str(resp->payload) == pl) {
          ok++;
        } else {
          bad++;
        }
        weft_message_free(resp);
        weft_status_clear(&o.status);
      }
    });
  }
  for (auto &t : ts)
    t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(ok.load(), threads * per);
}

TEST(TcpRpc, SlowReaderGetsEveryMessageInOrder) {
  // 300 x 16 KB from the server to a reader that sleeps first: the
  // receive queue fills, the client stops reading the socket, and resumes
  // as the reader drains (backpressure instead of unbounded memory).
  Server srv;
  Client cl(srv.url());
  auto r = req("big");
  r.repeat = 300;
  std::string pl(16384, 'p');
  r.payload = bytes(pl);
  weft_call_opts o = {};
  weft_call *call;
  ASSERT_EQ(weft__test__Echo_server_stream(cl.c, &r, &call, &o), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  void *m;
  int n = 0;
  while (weft_call_recv(call, &m) == 1) {
    auto *resp = (weft__test__EchoResponse *)m;
    EXPECT_EQ(resp->index, n);
    EXPECT_EQ(resp->payload.len, pl.size());
    n++;
    weft_message_free(m);
  }
  EXPECT_EQ(weft_call_finish(call), 0) << o.status.message;
  EXPECT_EQ(n, 300);
  weft_status_clear(&o.status);
}

TEST(TcpRpc, TwoServersOneHandlerSet) {
  // The same server listening twice: both URLs serve the same handlers.
  weft_server *s;
  weft_server_opts so = {};
  ASSERT_EQ(weft_server_new(&s, &so), 0);
  ASSERT_EQ(weft_test_echo_add(s), 0);
  weft_error err;
  ASSERT_EQ(weft_server_listen(s, "tcp://127.0.0.1:0", &err), 0);
  ASSERT_EQ(weft_server_listen(s, "tcp://127.0.0.1:0", &err), 0);
  for (unsigned i = 0; i < 2; i++) {
    Client cl("tcp://127.0.0.1:" + std::to_string(weft_server_port(s, i)));
    auto r = req("dual");
    weft__test__EchoResponse *resp = nullptr;
    weft_call_opts o = {};
    ASSERT_EQ(weft__test__Echo_unary(cl.c, &r, &resp, &o), 0);
    weft_message_free(resp);
    weft_status_clear(&o.status);
  }
  weft_server_shutdown(s);
  weft_server_free(s);
}

TEST(TcpRpc, GracefulShutdownLetsCallsFinish) {
  auto *srv = new Server();
  Client cl(srv->url());
  auto r = req("slow");
  r.repeat = 3;
  r.delay_ms = 100;
  weft_call_opts o = {};
  weft_call *call;
  ASSERT_EQ(weft__test__Echo_server_stream(cl.c, &r, &call, &o), 0);
  void *m;
  ASSERT_EQ(weft_call_recv(call, &m), 1); // the call is running on the server
  weft_message_free(m);
  std::thread t([srv] { delete srv; }); // stop accepting, grace, close
  int n = 1;
  while (weft_call_recv(call, &m) == 1) {
    n++;
    weft_message_free(m);
  }
  EXPECT_EQ(weft_call_finish(call), 0) << o.status.message;
  EXPECT_EQ(n, 3);
  t.join();
  weft_status_clear(&o.status);
}

TEST(TcpRpc, JsonCodecEndToEnd) {
  // The client speaks JSON envelopes and payloads; the server learns it
  // from the first frame.
  Server srv;
  weft_client_opts co = {};
  co.codec = WEFT_CODEC_JSON;
  Client cl(srv.url(), &co);
  auto r = req("json \xc3\xa9");
  std::string pl("\x00\x01\xff", 3);
  r.payload = bytes(pl);
  weft__test__EchoResponse *resp = nullptr;
  weft_call_opts o = {};
  ASSERT_EQ(weft__test__Echo_unary(cl.c, &r, &resp, &o), 0)
      << (o.status.message ? o.status.message : "");
  EXPECT_STREQ(resp->text, "json \xc3\xa9");
  EXPECT_EQ(str(resp->payload), pl);
  weft_message_free(resp);
  weft_status_clear(&o.status);
  r.repeat = 20;
  weft_call *call;
  ASSERT_EQ(weft__test__Echo_server_stream(cl.c, &r, &call, &o), 0);
  void *m;
  int n = 0;
  while (weft_call_recv(call, &m) == 1) {
    EXPECT_EQ(((weft__test__EchoResponse *)m)->index, n);
    n++;
    weft_message_free(m);
  }
  EXPECT_EQ(weft_call_finish(call), 0);
  EXPECT_EQ(n, 20);
  weft_status_clear(&o.status);
  // A binary client on the same server at the same time.
  Client bin(srv.url());
  auto r2 = req("bin");
  ASSERT_EQ(weft__test__Echo_unary(bin.c, &r2, &resp, &o), 0);
  weft_message_free(resp);
  weft_status_clear(&o.status);
}
