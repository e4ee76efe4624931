// The MB broker engine driven with plain calls: connections, messages and
// time in, MB messages out.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "weft/mb.h"
#include "weft/mb_broker.h"

namespace {

const char *kId1 = "0f8fad5b-d9cb-469f-a165-70867728950e";
const char *kId2 = "7c9e6679-7425-40de-944b-e07fc1f90ae7";

struct Sent {
  weft_mb_conn conn;
  std::string msg;
};

struct Broker : ::testing::Test {
  weft_mb_broker *b = nullptr;
  std::vector<Sent> sent;
  std::vector<weft_mb_conn> dereg;
  int64_t now = 1795435200000LL;

  static void on_send(void *ud, weft_mb_conn c, const char *m, size_t n) {
    static_cast<Broker *>(ud)->sent.push_back({c, std::string(m, n)});
  }
  static void on_dereg(void *ud, weft_mb_conn c) {
    static_cast<Broker *>(ud)->dereg.push_back(c);
  }
  void make(size_t max_pending = 0) {
    weft_mb_broker_free(b);
    weft_mb_broker_opts o{};
    o.max_pending = max_pending;
    o.seed = 42;
    o.send = on_send;
    o.deregistered = on_dereg;
    o.ud = this;
    ASSERT_EQ(weft_mb_broker_new(&b, &o), 0);
  }
  void SetUp() override {
    make();
  }
  void TearDown() override {
    weft_mb_broker_free(b);
  }

  void connect(weft_mb_conn c) {
    ASSERT_EQ(weft_mb_broker_connect(b, c, now), 0);
  }
  void recv(weft_mb_conn c, const std::string &m) {
    ASSERT_EQ(weft_mb_broker_receive(b, c, m.data(), m.size(), now), 0);
  }
  // Messages sent to c since the last take(), removed from `sent`.
  std::vector<std::string> take(weft_mb_conn c) {
    std::vector<std::string> out;
    std::vector<Sent> rest;
    for (auto &s : sent)
      (s.conn == c ? out.push_back(s.msg) : rest.push_back(s));
    sent = rest;
    return out;
  }
  void subscribe(weft_mb_conn c, const char *action, const char *topic,
                 int prio) {
    recv(c, std::string("request:system.topic.subscribe:1.0.0:") + kId1 +
                "\n{\"action\":\"" + action + "\",\"topic\":\"" + topic +
                "\",\"priority\":" + std::to_string(prio) + "}");
    auto acks = take(c);
    ASSERT_EQ(acks.size(), 1u);
    EXPECT_EQ(acks[0], std::string("response:system.topic.subscribe:1.0.0:") +
                           kId1 + "\n{\"status\":\"success\"}");
  }
};

weft_mb_message decode(const std::string &s) {
  weft_mb_message m;
  weft_mb_code code;
  weft_error err{};
  EXPECT_EQ(weft_mb_decode(s.data(), s.size(), 0, &m, &code, &err), 0)
      << s << ": " << err.message;
  return m;
}

std::string error_code(const std::string &s) {
  weft_mb_message m = decode(s);
  weft_mb_error_info e{};
  weft_error err{};
  if (weft_mb_error_parse(m.payload, m.payload_len, &e, &err) != 1)
    return "";
  std::string code = e.code_name;
  weft_mb_error_info_clear(&e);
  return code;
}

TEST_F(Broker, GreetsNewConnections) {
  connect(1);
  auto m = take(1);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0], "publish:system.initialize:1.0.0\n{}");
  EXPECT_EQ(weft_mb_broker_connect(b, 1, now), WEFT_ERR_INVAL); // twice
  EXPECT_EQ(weft_mb_broker_connect(b, 0, now), WEFT_ERR_INVAL);
  EXPECT_EQ(weft_mb_broker_receive(b, 9, "x", 1, now), WEFT_ERR_STATE);
}

TEST_F(Broker, RegisterAndAck) {
  connect(1);
  take(1);
  recv(1, std::string("request:system.service.register:1.0.0:") + kId1 +
              "\n{\"name\":\"jobs\",\"description\":\"AITBC jobs\"}");
  auto m = take(1);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0], std::string("response:system.service.register:1.0.0:") +
                      kId1 + "\n{\"status\":\"success\"}");
  EXPECT_STREQ(weft_mb_broker_service_name(b, 1), "jobs");
  // As a publish without id: applied, not acknowledged.
  recv(1, "publish:system.service.register:1.0.0\n{\"name\":\"jobs2\"}");
  EXPECT_TRUE(take(1).empty());
  EXPECT_STREQ(weft_mb_broker_service_name(b, 1), "jobs2");
  // Bad payload: INVALID_REQUEST.
  recv(1, std::string("request:system.service.register:1.0.0:") + kId1 +
              "\n{\"description\":\"no name\"}");
  m = take(1);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(error_code(m[0]), "INVALID_REQUEST");
  EXPECT_STREQ(decode(m[0]).header.request_id, kId1);
}

TEST_F(Broker, RequestRoutedAndResponseRewritten) {
  connect(1); // service
  connect(2); // caller
  take(1), take(2);
  subscribe(1, "request", "jobs.create", 5);
  recv(2, std::string("request:jobs.create:1.2.0:") + kId2 + "::7000\n" +
              "{\"model\":\"llama\"}");
  auto fwd = take(1);
  ASSERT_EQ(fwd.size(), 1u);
  weft_mb_message f = decode(fwd[0]);
  EXPECT_EQ(f.header.action, WEFT_MB_REQUEST);
  EXPECT_STREQ(f.header.topic, "jobs.create");
  EXPECT_STREQ(f.header.version, "1.2.0");
  EXPECT_STRNE(f.header.request_id, kId2); // a new broker id
  EXPECT_TRUE(weft_mb_uuid_valid(f.header.request_id, 36));
  EXPECT_EQ(f.header.timeout_ms, 7000u);
  EXPECT_EQ(std::string(f.payload, f.payload_len), "{\"model\":\"llama\"}");
  EXPECT_EQ(weft_mb_broker_pending(b), 1u);
  std::string broker_id = f.header.request_id;

  recv(1, "response:jobs.create:1.2.0:" + broker_id + "\n{\"job_id\":\"j1\"}");
  auto back = take(2);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0], std::string("response:jobs.create:1.2.0:") + kId2 +
                         "\n{\"job_id\":\"j1\"}");
  EXPECT_EQ(weft_mb_broker_pending(b), 0u);
  // A second (duplicate) response is dropped.
  recv(1, "response:jobs.create:1.2.0:" + broker_id + "\n{}");
  EXPECT_TRUE(take(2).empty());
}

TEST_F(Broker, HighestPriorityWinsTiesAreRandom) {
  for (weft_mb_conn c = 1; c <= 4; c++)
    connect(c);
  sent.clear();
  subscribe(1, "request", "t", 5);
  subscribe(2, "request", "t", 10);
  subscribe(3, "request", "t", 10);
  std::map<weft_mb_conn, int> got;
  for (int i = 0; i < 200; i++) {
    recv(4, std::string("request:t:1.0.0:") + kId1 + "\n{}");
    for (auto &s : sent)
      got[s.conn]++;
    sent.clear();
  }
  EXPECT_EQ(got[1], 0);
  EXPECT_GT(got[2], 40);
  EXPECT_GT(got[3], 40);
  EXPECT_EQ(got[2] + got[3], 200);
}

TEST_F(Broker, NoRouteFound) {
  connect(1);
  take(1);
  recv(1, std::string("request:nobody.home:1.0.0:") + kId1 + "\n{}");
  auto m = take(1);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(error_code(m[0]), "NO_ROUTE_FOUND");
  EXPECT_EQ(m[0].rfind(std::string("response:nobody.home:1.0.0:") + kId1 +
                           "\n{\"error\":{\"code\":\"NO_ROUTE_FOUND\"",
                       0),
            0u);
}

TEST_F(Broker, PublishFansOutAndAcks) {
  for (weft_mb_conn c = 1; c <= 4; c++)
    connect(c);
  sent.clear();
  subscribe(1, "publish", "blocks.new", 0);
  subscribe(2, "publish", "blocks.new", 0);
  subscribe(3, "request", "blocks.new", 0); // request subscribers don't get it
  const std::string pub = "publish:blocks.new:1.0.0\n{\"height\":12}";
  recv(4, pub);
  EXPECT_EQ(take(1), std::vector<std::string>{pub});
  EXPECT_EQ(take(2), std::vector<std::string>{pub});
  EXPECT_TRUE(take(3).empty());
  EXPECT_TRUE(take(4).empty()); // no request id: no ack
  const std::string with_id =
      std::string("publish:blocks.new:1.0.0:") + kId2 + "\n{}";
  recv(4, with_id);
  EXPECT_EQ(take(4),
            std::vector<std::string>{std::string("response:blocks.new:1.0.0:") +
                                     kId2 + "\n{\"status\":\"success\"}"});
  EXPECT_EQ(take(1), std::vector<std::string>{with_id});
  sent.clear();
  // Unsubscribe stops delivery.
  recv(1, "publish:system.topic.unsubscribe:1.0.0\n{\"action\":\"publish\","
          "\"topic\":\"blocks.new\"}");
  EXPECT_EQ(weft_mb_broker_subscribers(b, WEFT_MB_PUBLISH, "blocks.new"), 1u);
  recv(4, pub);
  EXPECT_TRUE(take(1).empty());
  EXPECT_EQ(take(2).size(), 1u);
}

TEST_F(Broker, RequestTimeout) {
  connect(1);
  connect(2);
  sent.clear();
  subscribe(1, "request", "slow", 0);
  recv(2, std::string("request:slow:1.0.0:") + kId2 + "::100\n{}");
  std::string broker_id = decode(take(1)[0]).header.request_id;
  EXPECT_EQ(weft_mb_broker_tick(b, now + 50), 50);
  EXPECT_TRUE(take(2).empty());
  weft_mb_broker_tick(b, now + 100);
  auto m = take(2);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(error_code(m[0]), "TIMEOUT");
  EXPECT_STREQ(decode(m[0]).header.request_id, kId2);
  EXPECT_EQ(weft_mb_broker_pending(b), 0u);
  // The late response goes nowhere.
  recv(1, "response:slow:1.0.0:" + broker_id + "\n{}");
  EXPECT_TRUE(take(2).empty());
}

TEST_F(Broker, DefaultTimeoutIs5000) {
  connect(1);
  connect(2);
  sent.clear();
  subscribe(1, "request", "t", 0);
  recv(2, std::string("request:t:1.0.0:") + kId2 + "\n{}");
  EXPECT_EQ(weft_mb_broker_tick(b, now), 5000);
}

TEST_F(Broker, OldestFailsBeyondMaxPending) {
  make(3);
  connect(1);
  connect(2);
  sent.clear();
  subscribe(1, "request", "t", 0);
  const char *ids[] = {"00000000-0000-4000-8000-000000000001",
                       "00000000-0000-4000-8000-000000000002",
                       "00000000-0000-4000-8000-000000000003",
                       "00000000-0000-4000-8000-000000000004"};
  for (const char *id : ids)
    recv(2, std::string("request:t:1.0.0:") + id + "\n{}");
  EXPECT_EQ(weft_mb_broker_pending(b), 3u);
  auto m = take(2);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(error_code(m[0]), "SERVICE_UNAVAILABLE");
  EXPECT_STREQ(decode(m[0]).header.request_id, ids[0]);
}

TEST_F(Broker, HeartbeatsAndDeregistration) {
  connect(1);
  connect(2);
  sent.clear();
  subscribe(1, "request", "t", 0);
  subscribe(2, "request", "t", 0);
  EXPECT_EQ(weft_mb_broker_tick(b, now), 30000);
  now += 30000;
  weft_mb_broker_tick(b, now);
  for (weft_mb_conn c : {1, 2}) {
    auto m = take(c);
    ASSERT_EQ(m.size(), 1u);
    weft_mb_message h = decode(m[0]);
    EXPECT_EQ(h.header.action, WEFT_MB_REQUEST);
    EXPECT_STREQ(h.header.topic, "system.heartbeat");
    EXPECT_TRUE(weft_mb_uuid_valid(h.header.request_id, 36));
    if (c == 1) // 1 answers, 2 stays silent
      recv(1, std::string("response:system.heartbeat:1.0.0:") +
                  h.header.request_id + "\n{\"status\":\"healthy\"}");
  }
  EXPECT_TRUE(sent.empty()); // the heartbeat answer is not answered
  now += 30000;              // 60 s since 2 last spoke
  weft_mb_broker_tick(b, now);
  EXPECT_EQ(dereg, std::vector<weft_mb_conn>{2});
  EXPECT_EQ(weft_mb_broker_subscribers(b, WEFT_MB_REQUEST, "t"), 1u);
  EXPECT_EQ(take(1).size(), 1u); // the next heartbeat
  EXPECT_TRUE(take(2).empty());  // none to the deregistered one
  // A client may ask the broker too.
  recv(1, std::string("request:system.heartbeat:1.0.0:") + kId1 + "\n{}");
  EXPECT_EQ(take(1), std::vector<std::string>{
                         std::string("response:system.heartbeat:1.0.0:") +
                         kId1 + "\n{\"status\":\"success\"}"});
}

TEST_F(Broker, ServiceGoneFailsItsRequests) {
  connect(1);
  connect(2);
  sent.clear();
  subscribe(1, "request", "t", 0);
  recv(2, std::string("request:t:1.0.0:") + kId2 + "\n{}");
  weft_mb_broker_disconnect(b, 1);
  auto m = take(2);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(error_code(m[0]), "SERVICE_UNAVAILABLE");
  EXPECT_EQ(weft_mb_broker_subscribers(b, WEFT_MB_REQUEST, "t"), 0u);
  EXPECT_EQ(weft_mb_broker_pending(b), 0u);
  // The caller leaving drops its requests silently.
  sent.clear();
  connect(3);
  take(3);
  subscribe(3, "request", "t", 0);
  recv(2, std::string("request:t:1.0.0:") + kId2 + "\n{}");
  weft_mb_broker_disconnect(b, 2);
  EXPECT_EQ(weft_mb_broker_pending(b), 0u);
  EXPECT_TRUE(sent.size() == 1u && sent[0].conn == 3); // only the forward
}

TEST_F(Broker, OnlyTheTargetMayAnswer) {
  connect(1);
  connect(2);
  connect(3);
  sent.clear();
  subscribe(1, "request", "t", 0);
  recv(2, std::string("request:t:1.0.0:") + kId2 + "\n{}");
  std::string broker_id = decode(take(1)[0]).header.request_id;
  recv(3, "response:t:1.0.0:" + broker_id + "\n{\"forged\":true}");
  EXPECT_TRUE(take(2).empty());
  EXPECT_EQ(weft_mb_broker_pending(b), 1u);
}

TEST_F(Broker, MalformedMessagesGetErrors) {
  connect(1);
  take(1);
  recv(1, std::string("request:t:1.0:") + kId1 + "\n{}");
  auto m = take(1);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(error_code(m[0]), "VERSION_NOT_SUPPORTED");
  weft_mb_message e = decode(m[0]);
  EXPECT_STREQ(e.header.topic, "t");
  EXPECT_STREQ(e.header.version, "1.0.0"); // the bad version can't be echoed
  EXPECT_STREQ(e.header.request_id, kId1);
  recv(1, "garbage");
  m = take(1);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(error_code(m[0]), "MALFORMED_MESSAGE");
  EXPECT_STREQ(decode(m[0]).header.topic, "system.error");
  // A broken response is not answered.
  recv(1, "response:t:1.0\n{}");
  EXPECT_TRUE(take(1).empty());
  recv(1, std::string("request:system.initialize:1.0.0:") + kId1 + "\n{}");
  m = take(1);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(error_code(m[0]), "TOPIC_NOT_SUPPORTED");
}

TEST(MbSystem, Payloads) {
  char *out = nullptr;
  size_t len = 0;
  weft_error err{};
  ASSERT_EQ(weft_mb_register_encode("jobs", "AITBC jobs", &out, &len, &err), 0);
  EXPECT_STREQ(out, "{\"name\":\"jobs\",\"description\":\"AITBC jobs\"}");
  weft_mb_register r{};
  weft_mb_code code;
  ASSERT_EQ(weft_mb_register_parse(out, len, &r, &code, &err), 0);
  EXPECT_STREQ(r.name, "jobs");
  EXPECT_STREQ(r.description, "AITBC jobs");
  weft_mb_register_clear(&r);
  free(out);

  weft_mb_subscription s{};
  s.action = WEFT_MB_REQUEST;
  strcpy(s.topic, "jobs.create");
  s.priority = 10;
  ASSERT_EQ(weft_mb_subscription_encode(&s, false, &out, &len, &err), 0);
  EXPECT_STREQ(out,
               "{\"action\":\"request\",\"topic\":\"jobs.create\",\"priority\""
               ":10}");
  weft_mb_subscription back{};
  ASSERT_EQ(weft_mb_subscription_parse(out, len, &back, &code, &err), 0);
  EXPECT_EQ(back.action, WEFT_MB_REQUEST);
  EXPECT_STREQ(back.topic, "jobs.create");
  EXPECT_EQ(back.priority, 10);
  free(out);
  ASSERT_EQ(weft_mb_subscription_encode(&s, true, &out, &len, &err), 0);
  EXPECT_STREQ(out, "{\"action\":\"request\",\"topic\":\"jobs.create\"}");
  free(out);

  for (const char *bad :
       {"{\"action\":\"respond\",\"topic\":\"t\"}", "{\"topic\":\"t\"}",
        "{\"action\":\"publish\",\"topic\":\"1t\"}",
        "{\"action\":\"publish\",\"topic\":\"t\",\"priority\":1.5}",
        "{\"action\":\"publish\",\"topic\":\"t\",\"priority\":\"high\"}",
        "[]"}) {
    EXPECT_LT(weft_mb_subscription_parse(bad, strlen(bad), &back, &code, &err),
              0)
        << bad;
    EXPECT_EQ(code, WEFT_MB_INVALID_REQUEST) << bad;
  }
  EXPECT_LT(weft_mb_subscription_parse("{", 1, &back, &code, &err), 0);
  EXPECT_EQ(code, WEFT_MB_MALFORMED_MESSAGE);
}

TEST(MbSystem, UuidFormat) {
  uint8_t r[16];
  memset(r, 0xff, sizeof r);
  char id[37];
  weft_mb_uuid_format(r, id);
  EXPECT_STREQ(id, "ffffffff-ffff-4fff-bfff-ffffffffffff");
  EXPECT_TRUE(weft_mb_uuid_valid(id, 36));
  memset(r, 0, sizeof r);
  weft_mb_uuid_format(r, id);
  EXPECT_STREQ(id, "00000000-0000-4000-8000-000000000000");
}

} // namespace
