// The common interface end to end over real sockets: one weft server
// listening on every built-in transport, clients picking the transport by
// URL, all four RPC kinds, metadata, errors, deadlines, pub/sub across
// transports, graceful shutdown.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "test_schemes.h"

extern "C" {
#include "echo_service.h"
#include "weft/client.h"
#include "weft/server.h"
#include "weft/transport.h"
}

extern "C" unsigned long weft__server_encoded_sends(void);

namespace {

bool wait_for(const std::function<bool()> &pred, int ms = 10000) {
  for (int i = 0; i < ms; i++) {
    if (pred())
      return true;
    usleep(1000);
  }
  return pred();
}

struct Opts {
  weft_call_opts o;
  Opts() {
    memset(&o, 0, sizeof o);
  }
  ~Opts() {
    weft_status_clear(&o.status);
  }
  const char *msg() const {
    return o.status.message ? o.status.message : "";
  }
};

// One server on every transport, shared by the tests of this process.
class Multi : public ::testing::TestWithParam<std::string> {
protected:
  static weft_server *srv;
  static std::vector<std::string> urls; // index = scheme index

  static void SetUpTestSuite() {
    weft_server_opts so;
    memset(&so, 0, sizeof so);
    so.worker_threads = 8;
    so.shutdown_grace_ms = 2000;
    so.max_msgs_per_sec = 1000000; // WebSocket's default 100/s would bite
    ASSERT_EQ(weft_server_new(&srv, &so), 0);
    ASSERT_EQ(weft_test_echo_add(srv), 0);
    urls = weft_test_listen_all(srv);
  }
  static void TearDownTestSuite() {
    weft_server_free(srv);
    srv = nullptr;
    urls.clear();
  }
  std::string url() {
    return weft_test_url(urls, GetParam());
  }
  weft_client *open(const weft_client_opts *o = nullptr) {
    weft_client *c = nullptr;
    EXPECT_EQ(weft_client_open(&c, url().c_str(), o, NULL), 0) << url();
    return c;
  }
};
weft_server *Multi::srv;
std::vector<std::string> Multi::urls;

TEST_P(Multi, UnaryAndMetadata) {
  weft_client *c = open();
  ASSERT_NE(c, nullptr);
  Opts o;
  weft_metadata md = WEFT_METADATA_INIT, rmd = WEFT_METADATA_INIT;
  weft_metadata_add_str(&md, "x-tag", GetParam().c_str());
  o.o.metadata = &md;
  o.o.response_metadata = &rmd;
  weft__test__EchoRequest req = weft__test__EchoRequest_INIT;
  req.text = (char *)"over the wire";
  weft__test__EchoResponse *resp = nullptr;
  ASSERT_EQ(weft__test__Echo_unary(c, &req, &resp, &o.o), 0) << o.msg();
  EXPECT_STREQ(resp->text, "over the wire");
  weft__test__EchoResponse_free(resp);
  const weft_metadata_entry *e = weft_metadata_get(&rmd, "x-tag");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(std::string((char *)e->value, e->value_len), GetParam());
  weft_metadata_clear(&md);
  weft_metadata_clear(&rmd);
  weft_client_close(c);
}

TEST_P(Multi, StreamingKinds) {
  weft_client *c = open();
  ASSERT_NE(c, nullptr);
  { // server stream
    Opts o;
    weft__test__EchoRequest req = weft__test__EchoRequest_INIT;
    req.text = (char *)"s";
    req.repeat = 10;
    weft_call *call;
    ASSERT_EQ(weft__test__Echo_server_stream(c, &req, &call, &o.o), 0);
    void *m;
    int n = 0;
    while (weft_call_recv(call, &m) == 1) {
      EXPECT_EQ(((weft__test__EchoResponse *)m)->index, n++);
      weft_message_free(m);
    }
    EXPECT_EQ(weft_call_finish(call), 0) << o.msg();
    EXPECT_EQ(n, 10);
  }
  { // client stream
    Opts o;
    weft_call *call;
    ASSERT_EQ(weft__test__Echo_client_stream(c, &call, &o.o), 0);
    for (const char *p : {"x", "y", "z"}) {
      weft__test__EchoRequest req = weft__test__EchoRequest_INIT;
      req.text = (char *)p;
      ASSERT_EQ(weft_call_send(call, &req), 0);
    }
    weft_call_close_send(call);
    void *m;
    ASSERT_EQ(weft_call_recv(call, &m), 1) << o.msg();
    EXPECT_STREQ(((weft__test__EchoResponse *)m)->text, "xyz");
    weft_message_free(m);
    EXPECT_EQ(weft_call_finish(call), 0) << o.msg();
  }
  { // bidi, lock-step
    Opts o;
    weft_call *call;
    ASSERT_EQ(weft__test__Echo_bidi(c, &call, &o.o), 0);
    for (int i = 0; i < 5; i++) {
      weft__test__EchoRequest req = weft__test__EchoRequest_INIT;
      std::string t = "b" + std::to_string(i);
      req.text = (char *)t.c_str();
      ASSERT_EQ(weft_call_send(call, &req), 0);
      void *m;
      ASSERT_EQ(weft_call_recv(call, &m), 1) << o.msg();
      EXPECT_EQ(std::string(((weft__test__EchoResponse *)m)->text), t);
      weft_message_free(m);
    }
    weft_call_close_send(call);
    EXPECT_EQ(weft_call_finish(call), 0) << o.msg();
  }
  weft_client_close(c);
}

// A long client stream read with weft_server_call_recv_owned: each message
// is freed when the handler is done with it, so the call's arena holds only
// what the handler keeps (Echo's ClientStream reports its arena use in the
// x-arena-used trailer). Decoded into the arena, 20,000 messages with a
// 200-byte payload would take over 4 MB there.
TEST_P(Multi, ClientStreamMessagesDoNotPileUp) {
  weft_client *c = open();
  ASSERT_NE(c, nullptr);
  Opts o;
  o.o.timeout_ms = 60000;
  weft_metadata rmd = WEFT_METADATA_INIT;
  o.o.response_metadata = &rmd;
  weft_call *call;
  ASSERT_EQ(weft__test__Echo_client_stream(c, &call, &o.o), 0);
  std::string payload(200, 'p');
  const int n = 20000;
  for (int i = 0; i < n; i++) {
    weft__test__EchoRequest req = weft__test__EchoRequest_INIT;
    req.payload.data = (uint8_t *)payload.data();
    req.payload.len = payload.size();
    ASSERT_EQ(weft_call_send(call, &req), 0) << i << ": " << o.msg();
  }
  weft_call_close_send(call);
  void *m;
  ASSERT_EQ(weft_call_recv(call, &m), 1) << o.msg();
  EXPECT_EQ(((weft__test__EchoResponse *)m)->index, n);
  weft_message_free(m);
  EXPECT_EQ(weft_call_finish(call), 0) << o.msg();
  const weft_metadata_entry *e = weft_metadata_get(&rmd, "x-arena-used");
  ASSERT_NE(e, nullptr);
  size_t used = std::stoul(std::string((char *)e->value, e->value_len));
  std::printf("%s: arena after %d client-streamed messages: %zu bytes\n",
              GetParam().c_str(), n, used);
  EXPECT_LT(used, (size_t)1 << 20);
  weft_metadata_clear(&rmd);
  weft_client_close(c);
}

TEST_P(Multi, ErrorsAndDeadlines) {
  weft_client *c = open();
  ASSERT_NE(c, nullptr);
  Opts o;
  weft__test__EchoRequest req = weft__test__EchoRequest_INIT;
  req.fail_code = WEFT_STATUS_FAILED_PRECONDITION;
  req.fail_message = (char *)"not yet";
  weft__test__EchoResponse *resp = nullptr;
  EXPECT_EQ(weft__test__Echo_unary(c, &req, &resp, &o.o), WEFT_ERR_RPC);
  EXPECT_EQ(o.o.status.code, WEFT_STATUS_FAILED_PRECONDITION);
  EXPECT_STREQ(o.msg(), "not yet");

  // Status details set by the handler reach the client byte for byte: a
  // google.rpc.Status{code 9, message "no", details [ErrorInfo{"abc"}]}.
  // (On h2c they travel as the Connect error's "details", see H2Curl, and
  // the client builds the Status again from them.)
  static const uint8_t kDetails[] = {
      0x08, 0x09, 0x12, 0x02, 'n',  'o',  0x1a, 0x31, 0x0a, 0x28, 't', 'y',
      'p',  'e',  '.',  'g',  'o',  'o',  'g',  'l',  'e',  'a',  'p', 'i',
      's',  '.',  'c',  'o',  'm',  '/',  'g',  'o',  'o',  'g',  'l', 'e',
      '.',  'r',  'p',  'c',  '.',  'E',  'r',  'r',  'o',  'r',  'I', 'n',
      'f',  'o',  0x12, 0x05, 0x0a, 0x03, 'a',  'b',  'c'};
  {
    Opts od;
    weft__test__EchoRequest rd = weft__test__EchoRequest_INIT;
    rd.fail_code = WEFT_STATUS_FAILED_PRECONDITION;
    rd.fail_message = (char *)"no";
    rd.fail_details.data = (uint8_t *)kDetails;
    rd.fail_details.len = sizeof kDetails;
    EXPECT_EQ(weft__test__Echo_unary(c, &rd, &resp, &od.o), WEFT_ERR_RPC);
    ASSERT_EQ(od.o.status.details_len, sizeof kDetails) << GetParam();
    EXPECT_EQ(memcmp(od.o.status.details, kDetails, sizeof kDetails), 0);
    // The same at the end of a server stream (h2c: the end-of-stream
    // message's error).
    Opts os;
    rd.repeat = 2;
    weft_call *call;
    ASSERT_EQ(weft__test__Echo_server_stream(c, &rd, &call, &os.o), 0);
    void *msg;
    int n = 0;
    while (weft_call_recv(call, &msg) == 1) {
      n++;
      weft_message_free(msg);
    }
    EXPECT_EQ(n, 2);
    EXPECT_EQ(weft_call_finish(call), WEFT_ERR_RPC);
    EXPECT_EQ(os.o.status.code, WEFT_STATUS_FAILED_PRECONDITION);
    ASSERT_EQ(os.o.status.details_len, sizeof kDetails) << GetParam();
    EXPECT_EQ(memcmp(os.o.status.details, kDetails, sizeof kDetails), 0);
  }

  weft_method_desc m = weft__test__Echo_service.methods[0];
  m.path = "/weft.test.Echo/Missing";
  m.name = "Missing";
  Opts o2;
  weft__test__EchoRequest r2 = weft__test__EchoRequest_INIT;
  r2.text = (char *)"?"; // non-empty: see the report on h2_client.c append_out
  void *out = nullptr;
  EXPECT_NE(weft_call_unary(c, &m, &r2, &out, &o2.o), 0);
  EXPECT_EQ(o2.o.status.code, WEFT_STATUS_UNIMPLEMENTED) << o2.msg();

  // Response compression is for gRPC and HTTP/2 (Connect; see H2Curl);
  // tcp and ws say they have none rather than ignore the handler's wish.
  for (int mode : {WEFT_COMPRESSION_OFF, WEFT_COMPRESSION_ON}) {
    Opts oc;
    weft__test__EchoRequest rc = weft__test__EchoRequest_INIT;
    rc.text = (char *)"squeeze me";
    rc.compression = mode;
    int got = weft__test__Echo_unary(c, &rc, &resp, &oc.o);
    std::string t = GetParam();
    if (t == "grpc" || t == "h2c") {
      ASSERT_EQ(got, 0) << oc.msg();
      EXPECT_STREQ(resp->text, "squeeze me");
      weft_message_free(resp);
    } else {
      EXPECT_EQ(got, WEFT_ERR_RPC) << GetParam();
      EXPECT_EQ(oc.o.status.code, WEFT_STATUS_FAILED_PRECONDITION);
      EXPECT_STREQ(oc.msg(), weft_strerror(WEFT_ERR_UNSUPPORTED));
    }
  }

  Opts o3;
  o3.o.timeout_ms = 100;
  weft__test__EchoRequest r3 = weft__test__EchoRequest_INIT;
  r3.delay_ms = 5000;
  EXPECT_NE(weft__test__Echo_unary(c, &r3, &resp, &o3.o), 0);
  EXPECT_EQ(o3.o.status.code, WEFT_STATUS_DEADLINE_EXCEEDED) << o3.msg();
  weft_client_close(c);
}

TEST_P(Multi, ManyConcurrentCalls) {
  weft_client *c = open();
  ASSERT_NE(c, nullptr);
  std::atomic<int> ok{0};
  std::vector<std::thread> th;
  for (int t = 0; t < 4; t++)
    th.emplace_back([&, t] {
      for (int i = 0; i < 25; i++) {
        Opts o;
        std::string s = std::to_string(t * 100 + i);
        weft__test__EchoRequest req = weft__test__EchoRequest_INIT;
        req.text = (char *)s.c_str();
        weft__test__EchoResponse *resp = nullptr;
        if (weft__test__Echo_unary(c, &req, &resp, &o.o) == 0 &&
            s == resp->text)
          ok++;
        weft_message_free(resp);
      }
    });
  for (auto &t : th)
    t.join();
  EXPECT_EQ(ok.load(), 100);
  weft_client_close(c);
}

struct Inbox {
  std::mutex mu;
  std::vector<std::string> got;
  static void on_event(const char *, const weft_msg_desc *type, const void *msg,
                       void *ud) {
    auto *in = (Inbox *)ud;
    if (type != &weft__test__EchoResponse_desc)
      return;
    std::lock_guard<std::mutex> g(in->mu);
    in->got.push_back(((const weft__test__EchoResponse *)msg)->text);
  }
  bool has(const std::string &s) {
    std::lock_guard<std::mutex> g(mu);
    for (auto &x : got)
      if (x == s)
        return true;
    return false;
  }
};

// A publish from any client, or from the server, reaches subscribers on
// every transport.
TEST_P(Multi, PubSubAcrossTransports) {
  auto sc = weft_test_schemes();
  std::vector<weft_client *> subs_c(sc.size());
  std::vector<weft_subscription *> subs(sc.size());
  std::vector<Inbox> inbox(sc.size());
  std::string topic = "topic-" + GetParam();
  for (size_t i = 0; i < sc.size(); i++) {
    ASSERT_EQ(weft_client_open(&subs_c[i], urls[i].c_str(), nullptr, NULL), 0);
    ASSERT_EQ(weft_client_subscribe(subs_c[i], topic.c_str(), Inbox::on_event,
                                    &inbox[i], &subs[i]),
              0)
        << urls[i];
  }
  weft_client *pub = open();
  ASSERT_NE(pub, nullptr);
  weft__test__EchoResponse m = weft__test__EchoResponse_INIT;
  std::string text = "from a " + GetParam() + " client";
  m.text = (char *)text.c_str();
  ASSERT_EQ(weft_client_publish(pub, topic.c_str(), &m), 0);
  for (size_t i = 0; i < sc.size(); i++)
    EXPECT_TRUE(wait_for([&] { return inbox[i].has(text); })) << sc[i];
  weft__test__EchoResponse m2 = weft__test__EchoResponse_INIT;
  m2.text = (char *)"from the server";
  unsigned long enc0 = weft__server_encoded_sends();
  ASSERT_EQ(weft_server_publish(srv, topic.c_str(), &m2), 0);
  for (size_t i = 0; i < sc.size(); i++)
    EXPECT_TRUE(wait_for([&] { return inbox[i].has("from the server"); }))
        << sc[i];
  // The event was encoded once by the server and every transport was
  // handed those bytes (one per subscriber), not the message to encode
  // again. Other tests of this process do not publish meanwhile.
  EXPECT_EQ(weft__server_encoded_sends() - enc0, sc.size());
  weft_client_close(pub);
  for (size_t i = 0; i < sc.size(); i++) {
    weft_subscription_cancel(subs[i]);
    weft_client_close(subs_c[i]);
  }
}

// One event to many subscribers sharing connections: the server drains
// them a batch per job, tcp and ws write a batch's frames to a connection
// together, h2c takes a connection's streams in one loop post. Every
// subscriber gets every event once, in order (run under TSan too).
TEST_P(Multi, FanOutInBatchesKeepsOrder) {
  const int kClients = 4, kPerClient = 10, kEvents = 5;
  std::vector<weft_client *> cs(kClients);
  std::vector<weft_subscription *> subs(kClients * kPerClient);
  std::vector<Inbox> inbox(kClients * kPerClient);
  std::string topic = "batch-" + GetParam();
  for (int c = 0; c < kClients; c++) {
    cs[c] = open();
    ASSERT_NE(cs[c], nullptr);
    for (int k = 0; k < kPerClient; k++) {
      int i = c * kPerClient + k;
      ASSERT_EQ(weft_client_subscribe(cs[c], topic.c_str(), Inbox::on_event,
                                      &inbox[i], &subs[i]),
                0);
    }
  }
  for (int e = 0; e < kEvents; e++) {
    weft__test__EchoResponse m = weft__test__EchoResponse_INIT;
    std::string text = "event " + std::to_string(e);
    m.text = (char *)text.c_str();
    ASSERT_EQ(weft_server_publish(srv, topic.c_str(), &m), 0);
  }
  for (size_t i = 0; i < inbox.size(); i++) {
    EXPECT_TRUE(wait_for([&] {
      std::lock_guard<std::mutex> g(inbox[i].mu);
      return inbox[i].got.size() >= (size_t)kEvents;
    })) << "subscriber "
        << i;
    std::lock_guard<std::mutex> g(inbox[i].mu);
    std::vector<std::string> want;
    for (int e = 0; e < kEvents; e++)
      want.push_back("event " + std::to_string(e));
    EXPECT_EQ(inbox[i].got, want) << "subscriber " << i;
  }
  for (size_t i = 0; i < subs.size(); i++)
    weft_subscription_cancel(subs[i]);
  for (auto *c : cs)
    weft_client_close(c);
}

// Events larger than a frame, published to subscribers sharing
// connections: h2c references a large shared encoding until nghttp2 has
// written it (read out in DATA-frame-sized pieces) and copies a small one;
// every subscriber gets every byte of every event, in order (run under
// TSan too: the count is dropped on the loop thread).
TEST_P(Multi, LargeEventsFanOutIntact) {
  const int kClients = 2, kPerClient = 4;
  const size_t sizes[] = {1500, 40000, 100, 70000};
  std::vector<weft_client *> cs(kClients);
  std::vector<weft_subscription *> subs(kClients * kPerClient);
  std::vector<Inbox> inbox(kClients * kPerClient);
  std::string topic = "large-" + GetParam();
  for (int c = 0; c < kClients; c++) {
    cs[c] = open();
    ASSERT_NE(cs[c], nullptr);
    for (int k = 0; k < kPerClient; k++) {
      int i = c * kPerClient + k;
      ASSERT_EQ(weft_client_subscribe(cs[c], topic.c_str(), Inbox::on_event,
                                      &inbox[i], &subs[i]),
                0);
    }
  }
  std::vector<std::string> want;
  for (size_t e = 0; e < sizeof sizes / sizeof sizes[0]; e++) {
    std::string text(sizes[e], 'a');
    for (size_t j = 0; j < text.size(); j++)
      text[j] = (char)('a' + (j * 7 + e) % 26);
    want.push_back(text);
    weft__test__EchoResponse m = weft__test__EchoResponse_INIT;
    m.text = (char *)text.c_str();
    ASSERT_EQ(weft_server_publish(srv, topic.c_str(), &m), 0);
  }
  for (size_t i = 0; i < inbox.size(); i++) {
    EXPECT_TRUE(wait_for([&] {
      std::lock_guard<std::mutex> g(inbox[i].mu);
      return inbox[i].got.size() >= want.size();
    })) << "subscriber "
        << i;
    std::lock_guard<std::mutex> g(inbox[i].mu);
    EXPECT_TRUE(inbox[i].got == want) << "subscriber " << i;
  }
  for (size_t i = 0; i < subs.size(); i++)
    weft_subscription_cancel(subs[i]);
  for (auto *c : cs)
    weft_client_close(c);
}

INSTANTIATE_TEST_SUITE_P(Transports, Multi,
                         ::testing::ValuesIn(weft_test_schemes()),
                         [](const auto &info) { return info.param; });

// Graceful shutdown over real sockets: a call in flight on every transport
// completes, then the server is gone.
TEST(MultiShutdown, InFlightCallsFinishOnEveryTransport) {
  weft_server *s;
  weft_server_opts so;
  memset(&so, 0, sizeof so);
  so.shutdown_grace_ms = 10000;
  ASSERT_EQ(weft_server_new(&s, &so), 0);
  ASSERT_EQ(weft_test_echo_add(s), 0);
  auto sc = weft_test_schemes();
  std::vector<weft_client *> cs;
  std::vector<weft_call *> calls;
  std::vector<Opts> opts(sc.size());
  for (size_t i = 0; i < sc.size(); i++) {
    std::string u = sc[i] + "://127.0.0.1:0";
    ASSERT_EQ(weft_server_listen(s, u.c_str(), nullptr), 0);
    std::string cu =
        sc[i] + "://127.0.0.1:" + std::to_string(weft_server_port(s, i));
    weft_client *c;
    ASSERT_EQ(weft_client_open(&c, cu.c_str(), nullptr, NULL), 0);
    cs.push_back(c);
    weft__test__EchoRequest req = weft__test__EchoRequest_INIT;
    req.text = (char *)"draining";
    req.repeat = 3;
    req.delay_ms = 100;
    weft_call *call;
    ASSERT_EQ(weft__test__Echo_server_stream(c, &req, &call, &opts[i].o), 0);
    void *m;
    ASSERT_EQ(weft_call_recv(call, &m), 1) << sc[i] << ": " << opts[i].msg();
    weft_message_free(m);
    calls.push_back(call);
  }
  // Clients keep reading while the server drains, as real ones do. (A
  // client that reads only after the server closed would lose the tail of
  // its stream on tcp/ws: see the mux's weft__mux_on_closed.)
  std::vector<int> got(calls.size(), 1), frv(calls.size(), -1);
  std::vector<std::thread> readers;
  for (size_t i = 0; i < calls.size(); i++)
    readers.emplace_back([&, i] {
      void *m;
      while (weft_call_recv(calls[i], &m) == 1) {
        weft_message_free(m);
        got[i]++;
      }
      frv[i] = weft_call_finish(calls[i]);
    });
  weft_server_shutdown(s);
  for (auto &t : readers)
    t.join();
  for (size_t i = 0; i < calls.size(); i++) {
    EXPECT_EQ(frv[i], 0) << sc[i] << ": " << opts[i].msg();
    EXPECT_EQ(got[i], 3) << sc[i];
    weft_client_close(cs[i]);
  }
  // Nothing listens any more.
  for (size_t i = 0; i < sc.size(); i++) {
    std::string cu =
        sc[i] + "://127.0.0.1:" + std::to_string(weft_server_port(s, i));
    weft_client *c = nullptr;
    EXPECT_NE(weft_client_open(&c, cu.c_str(), nullptr, NULL), 0) << sc[i];
    weft_client_close(c);
  }
  weft_server_free(s);
}

// Not a benchmark (see bench/): a rough figure for the report, run only
// with WEFT_RPC_MEASURE=1. Sequential unary round trips and 4 threads.
TEST_P(Multi, MeasureUnaryRoundTrips) {
  if (!getenv("WEFT_RPC_MEASURE"))
    GTEST_SKIP() << "set WEFT_RPC_MEASURE=1";
  weft_client *c = open();
  ASSERT_NE(c, nullptr);
  auto one = [&] {
    Opts o;
    weft__test__EchoRequest req = weft__test__EchoRequest_INIT;
    req.text = (char *)"ping";
    weft__test__EchoResponse *resp = nullptr;
    int rv = weft__test__Echo_unary(c, &req, &resp, &o.o);
    weft_message_free(resp);
    return rv;
  };
  const int n = 5000;
  int64_t t0 = weft_now_ns();
  for (int i = 0; i < n; i++)
    ASSERT_EQ(one(), 0);
  int64_t t1 = weft_now_ns();
  std::vector<std::thread> th;
  for (int t = 0; t < 4; t++)
    th.emplace_back([&] {
      for (int i = 0; i < n / 4; i++)
        one();
    });
  for (auto &t : th)
    t.join();
  int64_t t2 = weft_now_ns();
  printf("%s: sequential %.1f us/call (%.0f calls/s); 4 threads %.0f calls/s\n",
         GetParam().c_str(), (t1 - t0) / 1e3 / n, n * 1e9 / (t1 - t0),
         n * 1e9 / (t2 - t1));
  weft_client_close(c);
}

// A server restart on the same port: the client notices the loss,
// reconnects with backoff, and its subscription is renewed on the new server.
class Restart : public ::testing::TestWithParam<std::string> {};

TEST_P(Restart, ReconnectAndResubscribe) {
  weft_server_opts so;
  memset(&so, 0, sizeof so);
  so.shutdown_grace_ms = 500;
  weft_server *s1;
  ASSERT_EQ(weft_server_new(&s1, &so), 0);
  ASSERT_EQ(weft_test_echo_add(s1), 0);
  std::string lu = GetParam() + "://127.0.0.1:0";
  ASSERT_EQ(weft_server_listen(s1, lu.c_str(), nullptr), 0);
  int port = weft_server_port(s1, 0);
  std::string u = GetParam() + "://127.0.0.1:" + std::to_string(port);

  weft_client_opts co;
  memset(&co, 0, sizeof co);
  co.reconnect.enabled = true;
  co.reconnect.base_ms = 20;
  co.reconnect.cap_ms = 200;
  co.connect_timeout_ms = 2000;
  weft_client *c;
  ASSERT_EQ(weft_client_open(&c, u.c_str(), &co, NULL), 0);
  Inbox in;
  weft_subscription *sub;
  ASSERT_EQ(weft_client_subscribe(c, "restart", Inbox::on_event, &in, &sub), 0);
  weft__test__EchoResponse m = weft__test__EchoResponse_INIT;
  m.text = (char *)"first";
  ASSERT_EQ(weft_server_publish(s1, "restart", &m), 0);
  ASSERT_TRUE(wait_for([&] { return in.has("first"); }));

  weft_server_free(s1); // the connection drops
  ASSERT_TRUE(
      wait_for([&] { return weft_client_state(c) != WEFT_CONN_CONNECTED; }));
  weft_server *s2;
  ASSERT_EQ(weft_server_new(&s2, &so), 0);
  ASSERT_EQ(weft_test_echo_add(s2), 0);
  ASSERT_EQ(weft_server_listen(s2, u.c_str(), nullptr), 0);
  ASSERT_TRUE(
      wait_for([&] { return weft_client_state(c) == WEFT_CONN_CONNECTED; }));
  m.text = (char *)"second";
  ASSERT_TRUE(wait_for([&] {
    weft_server_publish(s2, "restart", &m);
    usleep(5000);
    return in.has("second");
  }));
  Opts o;
  weft__test__EchoRequest req = weft__test__EchoRequest_INIT;
  req.text = (char *)"again";
  weft__test__EchoResponse *resp = nullptr;
  EXPECT_EQ(weft__test__Echo_unary(c, &req, &resp, &o.o), 0) << o.msg();
  weft_message_free(resp);
  weft_client_close(c); // frees the subscription too
  weft_server_free(s2);
}

std::vector<std::string> restart_schemes() {
  std::vector<std::string> v;
  for (auto &s : weft_test_schemes())
    if (s == "tcp" || s == "ws")
      v.push_back(s);
  return v;
}
INSTANTIATE_TEST_SUITE_P(Transports, Restart,
                         ::testing::ValuesIn(restart_schemes()),
                         [](const auto &info) { return info.param; });

} // namespace
