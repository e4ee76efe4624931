// Publish/subscribe over the built-in weft.v1.PubSub service: fan-out to
// several clients, client-side publish, topics kept apart, cancellation,
// slow subscribers, re-subscription after a reconnect, server shutdown.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <thread>
#include <string>
#include <vector>

#include "core_fixture.h"

extern "C" {
#include "rpc_internal.h"
#include "weft/v1/pubsub.weft.h"
}

namespace {

bool wait_for(const std::function<bool()> &pred, int ms = 10000) {
  for (int i = 0; i < ms; i++) {
    if (pred())
      return true;
    usleep(1000);
  }
  return pred();
}

struct Inbox {
  std::mutex mu;
  std::vector<std::string> texts;
  std::vector<std::string> topics;
  std::atomic<int> wrong_type{0};
  std::atomic<bool> block{false};
  static void on_event(const char *topic, const weft_msg_desc *type,
                       const void *msg, void *ud) {
    auto *in = (Inbox *)ud;
    while (in->block.load())
      usleep(1000);
    if (type != &weft__test__EchoResponse_desc) {
      in->wrong_type++;
      return;
    }
    std::lock_guard<std::mutex> g(in->mu);
    in->topics.push_back(topic);
    in->texts.push_back(((const weft__test__EchoResponse *)msg)->text);
  }
  size_t size() {
    std::lock_guard<std::mutex> g(mu);
    return texts.size();
  }
  std::vector<std::string> get() {
    std::lock_guard<std::mutex> g(mu);
    return texts;
  }
};

int publish(weft_server *s, const char *topic, const char *text) {
  weft__test__EchoResponse m = weft__test__EchoResponse_INIT;
  m.text = (char *)text;
  return weft_server_publish(s, topic, &m);
}

unsigned delivered_to(weft_server *s, const char *topic) {
  weft__test__EchoResponse m = weft__test__EchoResponse_INIT;
  m.text = (char *)"probe";
  unsigned n = 0;
  weft__pubsub_publish(weft__server_pubsub(s), topic, &m, &n);
  return n;
}

class PubSub : public Core {};

TEST_F(PubSub, FanOutToEverySubscriber) {
  StartServer();
  Connect();
  weft_client *cli2;
  ASSERT_EQ(weft_client_open(&cli2, url.c_str(), nullptr, NULL), 0);
  Inbox a, b, other;
  weft_subscription *sa, *sb, *so;
  ASSERT_EQ(weft_client_subscribe(cli, "jobs", Inbox::on_event, &a, &sa), 0);
  ASSERT_EQ(weft_client_subscribe(cli2, "jobs", Inbox::on_event, &b, &sb), 0);
  ASSERT_EQ(weft_client_subscribe(cli2, "blocks", Inbox::on_event, &other, &so),
            0);
  for (int i = 0; i < 5; i++)
    ASSERT_EQ(publish(srv, "jobs", ("e" + std::to_string(i)).c_str()), 0);
  ASSERT_TRUE(wait_for([&] { return a.size() == 5 && b.size() == 5; }));
  std::vector<std::string> want = {"e0", "e1", "e2", "e3", "e4"};
  EXPECT_EQ(a.get(), want); // in publish order
  EXPECT_EQ(b.get(), want);
  EXPECT_EQ(a.topics[0], "jobs");
  EXPECT_EQ(other.size(), 0u);
  EXPECT_EQ(a.wrong_type.load(), 0);
  weft_subscription_cancel(sa);
  weft_subscription_cancel(sb);
  weft_subscription_cancel(so);
  weft_client_close(cli2);
}

TEST_F(PubSub, ClientPublishReachesOtherClients) {
  StartServer();
  Connect();
  weft_client *pub;
  ASSERT_EQ(weft_client_open(&pub, url.c_str(), nullptr, NULL), 0);
  Inbox in;
  weft_subscription *s;
  ASSERT_EQ(weft_client_subscribe(cli, "chat", Inbox::on_event, &in, &s), 0);
  weft__test__EchoResponse m = weft__test__EchoResponse_INIT;
  m.text = (char *)"hi there";
  ASSERT_EQ(weft_client_publish(pub, "chat", &m), 0);
  ASSERT_TRUE(wait_for([&] { return in.size() == 1; }));
  EXPECT_EQ(in.get()[0], "hi there");
  weft_client_close(pub);
  // The subscription is freed by closing its client.
}

TEST_F(PubSub, CancelledSubscriberIsDropped) {
  StartServer();
  Connect();
  Inbox in;
  weft_subscription *s;
  ASSERT_EQ(weft_client_subscribe(cli, "t", Inbox::on_event, &in, &s), 0);
  EXPECT_EQ(delivered_to(srv, "t"), 1u);
  weft_subscription_cancel(s);
  ASSERT_TRUE(wait_for([&] { return delivered_to(srv, "t") == 0; }));
}

// Subscribers leaving from anywhere among the others (the server keeps
// them in an array and fills a hole with its last one): every one still
// subscribed gets each later event exactly once, the ones gone none.
TEST_F(PubSub, SubscribersLeavingFromTheMiddleKeepTheOthers) {
  StartServer();
  Connect();
  // mem:// has no native asynchronous calls: each subscription holds a
  // thread of the client's pool, so fewer than its threads.
  const int n = 12;
  std::vector<Inbox> in(n);
  std::vector<weft_subscription *> subs(n);
  for (int i = 0; i < n; i++)
    ASSERT_EQ(
        weft_client_subscribe(cli, "mid", Inbox::on_event, &in[i], &subs[i]),
        0);
  // delivered_to's probes reach the inboxes too: only "m*" counts.
  auto events = [&](int i) {
    std::vector<std::string> v;
    for (auto &t : in[i].get())
      if (t[0] == 'm')
        v.push_back(t);
    return v;
  };
  ASSERT_TRUE(wait_for([&] { return delivered_to(srv, "mid") == n; }));
  for (int i = 1; i < n; i += 3)
    weft_subscription_cancel(subs[i]);
  const unsigned left = n - n / 3;
  ASSERT_TRUE(wait_for([&] { return delivered_to(srv, "mid") == left; }));
  for (int e = 0; e < 3; e++)
    ASSERT_EQ(publish(srv, "mid", ("m" + std::to_string(e)).c_str()), 0);
  std::vector<std::string> want = {"m0", "m1", "m2"};
  for (int i = 0; i < n; i++) {
    if (i % 3 == 1)
      continue;
    ASSERT_TRUE(wait_for([&] { return events(i).size() >= 3; })) << "sub " << i;
  }
  usleep(50000); // anything delivered twice or to a cancelled one shows now
  for (int i = 0; i < n; i++) {
    if (i % 3 == 1)
      EXPECT_EQ(events(i).size(), 0u) << "cancelled sub " << i;
    else
      EXPECT_EQ(events(i), want) << "sub " << i;
  }
  for (int i = 0; i < n; i++)
    if (i % 3 != 1)
      weft_subscription_cancel(subs[i]);
}

TEST_F(PubSub, SlowSubscriberIsCutOffAndResubscribes) {
  StartServer();
  copts.reconnect.base_ms = 5;
  Connect();
  Inbox in;
  in.block = true; // the callback stalls: the server-side queue fills up
  weft_subscription *s;
  ASSERT_EQ(weft_client_subscribe(cli, "firehose", Inbox::on_event, &in, &s),
            0);
  for (int i = 0; i < 3000; i++)
    publish(srv, "firehose", "x");
  in.block = false;
  // Cut off, then subscribed again: fresh events arrive.
  ASSERT_TRUE(wait_for([&] {
    publish(srv, "firehose", "fresh");
    usleep(2000);
    auto t = in.get();
    return !t.empty() && t.back() == "fresh";
  }));
  EXPECT_LT(in.size(), 3000u); // some were lost with the cut-off queue
}

TEST_F(PubSub, ResubscribesAfterReconnect) {
  StartServer();
  copts.reconnect.enabled = true;
  copts.reconnect.base_ms = 5;
  copts.reconnect.cap_ms = 20;
  Connect();
  Inbox in;
  weft_subscription *s;
  ASSERT_EQ(weft_client_subscribe(cli, "r", Inbox::on_event, &in, &s), 0);
  ASSERT_EQ(publish(srv, "r", "before"), 0);
  ASSERT_TRUE(wait_for([&] { return in.size() == 1; }));
  int connects = mem_transport_connects();
  mem_transport_kill(url.c_str() + strlen("mem://"));
  ASSERT_TRUE(wait_for([&] { return mem_transport_connects() > connects; }));
  // Published until the new subscription (on the new connection) has it.
  ASSERT_TRUE(wait_for([&] {
    publish(srv, "r", "after");
    usleep(2000);
    auto t = in.get();
    return !t.empty() && t.back() == "after";
  }));
  EXPECT_EQ(weft_client_state(cli), WEFT_CONN_CONNECTED);
}

TEST_F(PubSub, ShutdownEndsSubscriptions) {
  sopts.shutdown_grace_ms = 60000; // subscriptions must not use the grace
  StartServer();
  Connect();
  Inbox in;
  weft_subscription *s;
  ASSERT_EQ(weft_client_subscribe(cli, "t", Inbox::on_event, &in, &s), 0);
  weft_server_shutdown(srv); // returns promptly
  SUCCEED();
}

// An event whose type no registry knows reaches the subscriber as the
// google.protobuf.Any itself.
TEST_F(PubSub, UnknownTypeArrivesAsAny) {
  StartServer();
  Connect();
  struct AnyBox {
    std::mutex mu;
    std::string url;
    static void on_event(const char *, const weft_msg_desc *type,
                         const void *msg, void *ud) {
      auto *b = (AnyBox *)ud;
      if (type != &google__protobuf__Any_desc)
        return;
      std::lock_guard<std::mutex> g(b->mu);
      b->url = ((const google__protobuf__Any *)msg)->type_url;
    }
  } box;
  weft_subscription *s;
  ASSERT_EQ(weft_client_subscribe(cli, "raw", AnyBox::on_event, &box, &s), 0);
  google__protobuf__Any any = google__protobuf__Any_INIT;
  any.type_url = (char *)"type.googleapis.com/no.such.Type";
  uint8_t bytes[] = {8, 1};
  any.value.data = bytes;
  any.value.len = sizeof bytes;
  weft__v1__PublishRequest req = weft__v1__PublishRequest_INIT;
  req.topic = (char *)"raw";
  req.message = &any;
  weft__v1__PublishResponse *resp = nullptr;
  CallOpts o;
  ASSERT_EQ(weft__v1__PubSub_publish(cli, &req, &resp, &o.o), 0);
  EXPECT_EQ(resp->delivered, 1u);
  weft__v1__PublishResponse_free(resp);
  ASSERT_TRUE(wait_for([&] {
    std::lock_guard<std::mutex> g(box.mu);
    return box.url == "type.googleapis.com/no.such.Type";
  }));
}

// A callback may cancel its own subscription (the thread frees it on its
// way out), and closing the client right after is safe.
TEST_F(PubSub, CancelFromInsideCallback) {
  StartServer();
  Connect();
  struct Self {
    weft_subscription *sub = nullptr;
    std::atomic<int> n{0};
    static void on_event(const char *, const weft_msg_desc *, const void *,
                         void *ud) {
      auto *me = (Self *)ud;
      if (me->n++ == 0)
        weft_subscription_cancel(me->sub);
    }
  };
  static Self me; // outlives the detached thread
  me.n = 0;
  ASSERT_EQ(weft_client_subscribe(cli, "self", Self::on_event, &me, &me.sub),
            0);
  for (int i = 0; i < 5; i++)
    publish(srv, "self", "x");
  ASSERT_TRUE(wait_for([&] { return delivered_to(srv, "self") == 0; }));
  EXPECT_EQ(me.n.load(), 1);
  weft_client_close(cli);
  cli = nullptr;
}

// weft_client_close while another thread's weft_client_subscribe waits for
// its acknowledgement (no server yet, reconnect on: it would wait up to
// connect_timeout_ms): the subscribe returns WEFT_ERR_STATE at once and
// the close frees the subscription after it is out (it freed it under the
// waiting thread before).
TEST_F(PubSub, CloseWhileSubscribeWaits) {
  copts.reconnect.enabled = true;
  copts.reconnect.base_ms = 5;
  copts.reconnect.cap_ms = 20;
  copts.connect_timeout_ms = 60000;
  Connect(); // nobody listens: ERROR, retrying
  Inbox in;
  std::atomic<int> rv{1};
  weft_subscription *s = nullptr;
  std::thread t(
      [&] { rv = weft_client_subscribe(cli, "w", Inbox::on_event, &in, &s); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(rv.load(), 1) << "subscribe returned without a server";
  weft_client_close(cli);
  cli = nullptr;
  t.join();
  EXPECT_EQ(rv.load(), WEFT_ERR_STATE);
  EXPECT_EQ(s, nullptr);
}

TEST_F(PubSub, SubscribeFailsWithoutServer) {
  weft_client *c = nullptr;
  EXPECT_EQ(weft_client_open(&c, "mem://pubsub-nobody", nullptr, NULL),
            WEFT_ERR_CONNECT);
  StartServer();
  Connect();
  weft_subscription *s = nullptr;
  EXPECT_EQ(weft_client_subscribe(cli, "", Inbox::on_event, nullptr, &s),
            WEFT_ERR_INVAL);
}

} // namespace

// A server that must join a cluster through NATS and cannot: no server,
// the error code, and a log line naming the NATS URL and the reason.
namespace {
void capture_log(int level, const char *line, void *ud) {
  if (level >= 3)
    *static_cast<std::string *>(ud) += line;
}
} // namespace

TEST(PubSubNats, UnreachableNatsFailsServerNew) {
  std::string log;
  weft_server_opts so = {};
  so.nats_url = "nats://127.0.0.1:1";
  so.log = capture_log;
  so.log_ud = &log;
  weft_server *s = nullptr;
  int rv = weft_server_new(&s, &so);
  EXPECT_TRUE(rv == WEFT_ERR_CONNECT || rv == WEFT_ERR_UNSUPPORTED) << rv;
  EXPECT_EQ(s, nullptr);
  EXPECT_NE(log.find("nats://127.0.0.1:1"), std::string::npos) << log;
}
