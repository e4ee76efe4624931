// The MB broker engine driven with plain calls: connections, messages and
// time in, MB messages out, compared byte for byte with what the MB broker
// (mb-server-node) sends for the same input.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "weft/mb.h"
#include "weft/mb_broker.h"

namespace {

const char *kId1 = "0f8fad5b-d9cb-469f-a165-70867728950e";
const char *kId2 = "7c9e6679-7425-40de-944b-e07fc1f90ae7";

std::string num(double d) {
  char b[32];
  snprintf(b, sizeof b, "%g", d);
  return b;
}

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
                 double prio) {
    recv(c, std::string("request:system.topic.subscribe:1.0.0:") + kId1 +
                "\n{\"action\":\"" + action + "\",\"topic\":\"" + topic +
                "\",\"priority\":" + num(prio) + "}");
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
  EXPECT_EQ(weft_mb_decode(s.data(), s.size(),
                           WEFT_MB_NO_JSON_CHECK | WEFT_MB_NO_PAYLOAD_LIMIT, &m,
                           &code, &err),
            0)
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

// The error body the broker writes: code, message, timestamp[, details].
std::string err_body(const char *code, const std::string &message, int64_t at,
                     const std::string &details = "") {
  char ts[25];
  weft_mb_format_timestamp(at, ts);
  std::string s = std::string("{\"error\":{\"code\":\"") + code +
                  "\",\"message\":\"" + message + "\",\"timestamp\":\"" + ts +
                  "\"";
  if (!details.empty())
    s += ",\"details\":" + details;
  return s + "}}";
}

std::string id_of(const std::string &msg) {
  return decode(msg).header.request_id;
}

TEST_F(Broker, GreetsNewConnections) {
  connect(1);
  auto m = take(1);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0], "publish:system.initialize:1.0.0\n{}");
  EXPECT_EQ(weft_mb_broker_connect(b, 1, now), WEFT_ERR_INVAL); // twice
  EXPECT_EQ(weft_mb_broker_connect(b, 0, now), WEFT_ERR_INVAL);
  EXPECT_EQ(weft_mb_broker_receive(b, 9, "x", 1, now), WEFT_ERR_STATE);
  EXPECT_TRUE(weft_mb_uuid_valid(weft_mb_broker_service_id(b, 1), 36));
}

TEST_F(Broker, RegisterAndAck) {
  connect(1);
  take(1);
  recv(1, std::string("request:system.service.register:1.0.0:") + kId1 +
              "\n{\"name\":\"jobs\",\"description\":\"AITBC jobs\"}");
  EXPECT_EQ(take(1),
            std::vector<std::string>{
                std::string("response:system.service.register:1.0.0:") + kId1 +
                "\n{\"status\":\"success\"}"});
  EXPECT_STREQ(weft_mb_broker_service_name(b, 1), "jobs");
  // Without an id: applied, answered under a fresh id.
  recv(1, "request:system.service.register:1.0.0\n{\"name\":\"jobs2\","
          "\"description\":\"d\"}");
  auto m = take(1);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_TRUE(weft_mb_uuid_valid(id_of(m[0]).c_str(), 36)) << m[0];
  EXPECT_EQ(m[0].substr(m[0].find('\n')), "\n{\"status\":\"success\"}");
  EXPECT_STREQ(weft_mb_broker_service_name(b, 1), "jobs2");
  // The broker's rules: both strings non-empty, name <= 36 and
  // description <= 1024 characters (UTF-16 units: U+1F600 counts 2).
  for (std::string bad :
       {std::string("{\"name\":\"x\"}"),
        std::string("{\"name\":\"x\",\"description\":\"\"}"),
        std::string("{\"name\":\"\",\"description\":\"d\"}"),
        std::string("{\"name\":1,\"description\":\"d\"}"),
        "{\"name\":\"" + std::string(37, 'n') + "\",\"description\":\"d\"}",
        "{\"name\":\"" + std::string(35, 'n') +
            "\xf0\x9f\x98\x80\",\"description\":\"d\"}",
        "{\"name\":\"n\",\"description\":\"" + std::string(1025, 'd') +
            "\"}"}) {
    recv(1, std::string("request:system.service.register:1.0.0:") + kId1 +
                "\n" + bad);
    m = take(1);
    ASSERT_EQ(m.size(), 1u) << bad;
    EXPECT_EQ(error_code(m[0]), "INVALID_REQUEST") << bad;
    EXPECT_EQ(id_of(m[0]), kId1);
  }
  recv(1, std::string("request:system.service.register:1.0.0:") + kId1 +
              "\n{\"name\":\"" + std::string(36, 'n') +
              "\",\"description\":\"" + std::string(1024, 'd') + "\"}");
  EXPECT_EQ(error_code(take(1)[0]), "");
  // System topics take requests only.
  recv(1, "publish:system.service.register:1.0.0\n{\"name\":\"x\"}");
  m = take(1);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].substr(m[0].find('\n') + 1),
            err_body("INVALID_REQUEST",
                     "Invalid action, expected REQUEST for "
                     "system.service.register",
                     now,
                     "{\"action\":\"publish\",\"topic\":\"system.service."
                     "register\"}"));
  // Worded as the broker words it, with the offending values.
  recv(1, std::string("request:system.service.register:1.0.0:") + kId1 +
              "\n{\"name\":\"x\",\"description\":7}");
  EXPECT_EQ(
      take(1),
      std::vector<std::string>{
          std::string("response:system.service.register:1.0.0:") + kId1 + "\n" +
          err_body("INVALID_REQUEST", "Missing or invalid name or description",
                   now, "{\"name\":\"x\",\"description\":7}")});
}

TEST_F(Broker, PublishRewrittenPerSubscriber) {
  for (weft_mb_conn c = 1; c <= 4; c++)
    connect(c);
  sent.clear();
  subscribe(1, "publish", "blocks.new", 0);
  subscribe(2, "publish", "Blocks.New", 0); // topics match lowercase
  subscribe(3, "request", "blocks.new", 0); // request subscribers don't get it
  // The sender's id, parent and action case stay with it; the topic and
  // version go as sent.
  recv(4, std::string("PUBLISH:BLOCKS.new:1.0.0:") + kId2 + ":" + kId1 +
              "\n{\"height\":12}");
  auto to1 = take(1), to2 = take(2);
  ASSERT_EQ(to1.size(), 1u);
  ASSERT_EQ(to2.size(), 1u);
  std::string id = id_of(to1[0]);
  EXPECT_TRUE(weft_mb_uuid_valid(id.c_str(), id.size()));
  EXPECT_NE(id, kId2);
  EXPECT_EQ(to1[0], "publish:BLOCKS.new:1.0.0:" + id + "\n{\"height\":12}");
  EXPECT_EQ(to2[0], to1[0]); // one id for every copy
  EXPECT_TRUE(take(3).empty());
  // With an id: acknowledged under it.
  EXPECT_EQ(take(4),
            std::vector<std::string>{std::string("response:BLOCKS.new:1.0.0:") +
                                     kId2 + "\n{\"status\":\"success\"}"});
  // Without one: no acknowledgement; still a fresh id for the subscribers.
  recv(4, "publish:blocks.new:2.0.0\nnot json, forwarded as is");
  EXPECT_TRUE(take(4).empty());
  to1 = take(1);
  ASSERT_EQ(to1.size(), 1u);
  EXPECT_EQ(to1[0], "publish:blocks.new:2.0.0:" + id_of(to1[0]) +
                        "\nnot json, forwarded as is");
  sent.clear();
  // Unsubscribe stops delivery.
  recv(1, std::string("request:system.topic.unsubscribe:1.0.0:") + kId1 +
              "\n{\"action\":\"publish\",\"topic\":\"blocks.new\"}");
  EXPECT_EQ(take(1),
            std::vector<std::string>{
                std::string("response:system.topic.unsubscribe:1.0.0:") + kId1 +
                "\n{\"status\":\"success\"}"});
  EXPECT_EQ(weft_mb_broker_subscribers(b, WEFT_MB_PUBLISH, "blocks.new"), 1u);
  recv(4, "publish:blocks.new:1.0.0\n{}");
  EXPECT_TRUE(take(1).empty());
  EXPECT_EQ(take(2).size(), 1u);
}

TEST_F(Broker, PublishWithoutSubscriberIsNoRoute) {
  connect(1);
  take(1);
  recv(1, std::string("publish:nobody.home:1.0.0:") + kId1 + "\n{}");
  EXPECT_EQ(take(1),
            std::vector<std::string>{
                std::string("response:nobody.home:1.0.0:") + kId1 + "\n" +
                err_body("NO_ROUTE_FOUND",
                         "No subscribers for topic nobody.home", now)});
  // No id: answered all the same, under a fresh one.
  recv(1, "publish:nobody.home:1.0.0\n{}");
  auto m = take(1);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(error_code(m[0]), "NO_ROUTE_FOUND");
  EXPECT_TRUE(weft_mb_uuid_valid(id_of(m[0]).c_str(), 36));
}

TEST_F(Broker, HeaderErrorsAreMalformedOnResponseError) {
  connect(1);
  take(1);
  const std::string bad[] = {
      std::string("publish:t:1.0.0:") + kId1 +
          "::500\n{}", // timeout on publish
      std::string("response:t:1.0.0:") + kId1 + "::500\n{}",
      std::string("request:t:1.0:") + kId1 + "\n{}",
      "shout:t:1.0.0\n{}",
      "publish:9t:1.0.0\n{}",
      "request:t:1.0.0:ABC\n{}",
      std::string("request:t:1.0.0:") + kId1 + ":nope\n{}",
      std::string("request:t:1.0.0:") + kId1 + "::0\n{}",
      "publish:t\n{}",
      "garbage",
      "",
      std::string(400, 'a') + "\n{}",
  };
  for (const std::string &msg : bad) {
    recv(1, msg);
    auto m = take(1);
    ASSERT_EQ(m.size(), 1u) << msg;
    EXPECT_EQ(m[0].rfind("response:error:1.0.0\n{\"error\":{\"code\":"
                         "\"MALFORMED_MESSAGE\",\"message\":\"",
                         0),
              0u)
        << msg << " -> " << m[0];
  }
  // Worded as the broker words them, with the same details.
  const std::pair<std::string, std::string> exact[] = {
      {"garbage",
       err_body("MALFORMED_MESSAGE",
                "Invalid message format: no newline separator found within "
                "the maximum header length of 367 bytes",
                now)},
      {"publish:t\n{}",
       err_body("MALFORMED_MESSAGE",
                "Invalid header format: missing action, topic, or version",
                now)},
      {"SHOUT:t:1.0.0\n{}",
       err_body("MALFORMED_MESSAGE", "Invalid action: shout", now,
                "{\"validActions\":[\"publish\",\"request\",\"response\"]}")},
      {"publish:9t:1.0.0\n{}",
       err_body("MALFORMED_MESSAGE", "Invalid topic name: 9t", now,
                "{\"topic\":\"9t\"}")},
      {"publish:t:1.0\n{}",
       err_body("MALFORMED_MESSAGE", "Invalid message version format: 1.0", now,
                "{\"version\":\"1.0\"}")},
      {"request:t:1.0.0:ABC\n{}",
       err_body("MALFORMED_MESSAGE", "Invalid request ID format: ABC", now,
                "{\"requestId\":\"ABC\"}")},
      {std::string("request:t:1.0.0:") + kId1 + ":x\n{}",
       err_body("MALFORMED_MESSAGE", "Invalid parent request ID format: x", now,
                "{\"parentRequestId\":\"x\"}")},
      {"publish:t:1.0.0:::500\n{}",
       err_body("MALFORMED_MESSAGE",
                "Timeout is only allowed for request actions", now,
                "{\"action\":\"publish\"}")},
      {"request:t:1.0.0:::0\n{}",
       err_body("MALFORMED_MESSAGE", "Invalid timeout value", now,
                "{\"timeout\":0}")},
      {"request:t:1.0.0:::abc\n{}",
       err_body("MALFORMED_MESSAGE", "Invalid timeout value", now,
                "{\"timeout\":null}")},
  };
  for (auto &[in, body] : exact) {
    recv(1, in);
    EXPECT_EQ(take(1),
              std::vector<std::string>{"response:error:1.0.0\n" + body})
        << in;
  }
  // What the broker lets through: "v" versions, any UUID version, extra
  // fields, parseInt timeouts, non-JSON payloads on non-system topics.
  subscribe(1, "request", "t", 0);
  for (const std::string &ok :
       {std::string("request:t:v1.0.0:0f8fad5b-d9cb-169f-a165-70867728950e\n"
                    "x"),
        std::string("request:t:1.0.0:") + kId1 + "::5000abc:extra\n{}",
        std::string("request:t: 1.0.0\n{}")}) {
    recv(1, ok);
    auto m = take(1);
    ASSERT_EQ(m.size(), 1u) << ok;
    EXPECT_EQ(decode(m[0]).header.action, WEFT_MB_REQUEST) << m[0];
  }
}

TEST_F(Broker, PayloadLimitOnSystemTopicsOnly) {
  connect(1);
  connect(2);
  sent.clear();
  subscribe(1, "publish", "big", 0);
  std::string big = "\"" + std::string(16400, 'x') + "\"";
  recv(2, "publish:big:1.0.0\n" + big);
  auto m = take(1);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(decode(m[0]).payload_len, big.size());
  recv(2, std::string("request:system.service.register:1.0.0:") + kId1 + "\n" +
              big);
  m = take(2);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(error_code(m[0]), "MALFORMED_MESSAGE");
  EXPECT_EQ(m[0].rfind(std::string("response:system.service.register:1.0.0:") +
                           kId1 + "\n",
                       0),
            0u);
  // Not JSON, or empty: as the broker's JSON.parse and destructuring fail.
  EXPECT_EQ(m[0].substr(m[0].find('\n') + 1),
            err_body("MALFORMED_MESSAGE",
                     "Payload exceeds maximum length of 16.017578125KB", now,
                     "{\"payloadLength\":16402}"));
  recv(2,
       std::string("request:system.topic.subscribe:1.0.0:") + kId1 + "\n{nope");
  m = take(2);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].substr(m[0].find('\n') + 1),
            err_body("MALFORMED_MESSAGE", "Invalid JSON payload", now,
                     "{\"payload\":\"{nope\"}"));
  recv(2, std::string("request:system.topic.subscribe:1.0.0:") + kId1 + "\n");
  EXPECT_EQ(error_code(take(2)[0]), "INTERNAL_ERROR");
  // "error:" marks an error object: the broker throws it back as its own.
  recv(2, std::string("request:system.topic.subscribe:1.0.0:") + kId1 +
              "\nerror:{\"code\":\"WHATEVER\",\"message\":\"no\","
              "\"timestamp\":\"t\",\"details\":{\"a\":1}}");
  EXPECT_EQ(take(2),
            std::vector<std::string>{
                std::string("response:system.topic.subscribe:1.0.0:") + kId1 +
                "\n" + err_body("WHATEVER", "no", now, "{\"a\":1}")});
  recv(2, std::string("request:system.topic.subscribe:1.0.0:") + kId1 +
              "\nerror:{\"code\":\"X\"}");
  m = take(2);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].substr(m[0].find('\n') + 1),
            err_body("MALFORMED_MESSAGE", "Invalid error object in payload",
                     now, "{\"error\":{\"code\":\"X\"}}"));
  recv(2,
       std::string("request:system.topic.subscribe:1.0.0:") + kId1 + "\nnull");
  EXPECT_EQ(error_code(take(2)[0]), "INTERNAL_ERROR");
}

TEST_F(Broker, RequestForwardedUnderNewIdOnly) {
  connect(1); // service
  connect(2); // caller
  take(1), take(2);
  subscribe(1, "request", "jobs.create", 5);
  recv(2, std::string("REQUEST:Jobs.Create:1.2.0:") + kId2 + ":" + kId1 +
              ":7000\n{\"model\":\"llama\"}");
  auto fwd = take(1);
  ASSERT_EQ(fwd.size(), 1u);
  std::string broker_id = id_of(fwd[0]);
  EXPECT_NE(broker_id, kId2);
  EXPECT_TRUE(weft_mb_uuid_valid(broker_id.c_str(), 36));
  // No parent, no timeout, no letter case of the action.
  EXPECT_EQ(fwd[0], "request:Jobs.Create:1.2.0:" + broker_id +
                        "\n{\"model\":\"llama\"}");
  EXPECT_EQ(weft_mb_broker_pending(b), 1u);
  // The answer goes back under the caller's topic, version and id.
  recv(1, "response:jobs.create:9.9.9:" + broker_id + "\n{\"job_id\":\"j1\"}");
  EXPECT_EQ(take(2), std::vector<std::string>{
                         std::string("response:Jobs.Create:1.2.0:") + kId2 +
                         "\n{\"job_id\":\"j1\"}"});
  EXPECT_EQ(weft_mb_broker_pending(b), 0u);
  // The request's timeout was the caller's 7000 ms, not the default.
  recv(2, std::string("request:jobs.create:1.0.0:") + kId2 + "::7000\n{}");
  EXPECT_EQ(weft_mb_broker_tick(b, now), 7000);
}

TEST_F(Broker, IdlessRequestIsFireAndForget) {
  connect(1);
  connect(2);
  sent.clear();
  subscribe(1, "request", "t", 0);
  recv(2, "request:t:1.0.0\n{\"go\":1}");
  auto fwd = take(1);
  ASSERT_EQ(fwd.size(), 1u);
  std::string id = id_of(fwd[0]);
  EXPECT_EQ(fwd[0], "request:t:1.0.0:" + id + "\n{\"go\":1}");
  // Its answer is consumed; nothing reaches the caller.
  recv(1, "response:t:1.0.0:" + id + "\n{\"done\":true}");
  EXPECT_TRUE(sent.empty());
  EXPECT_EQ(weft_mb_broker_pending(b), 0u);
  // Unless the service marks an error ("error:" prefix): passed on under a
  // fresh id.
  recv(2, "request:t:1.0.0\n{}");
  id = id_of(take(1)[0]);
  recv(1, "response:t:1.0.0:" + id + "\nerror:{\"code\":\"X\"}");
  auto m = take(2);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0],
            "response:t:1.0.0:" + id_of(m[0]) + "\nerror:{\"code\":\"X\"}");
  // Unanswered: no TIMEOUT (there is nobody to tell), and it is forgotten.
  recv(2, "request:t:1.0.0\n{}");
  take(1);
  weft_mb_broker_tick(b, now + 5000);
  EXPECT_TRUE(sent.empty());
  EXPECT_EQ(weft_mb_broker_pending(b), 0u);
}

TEST_F(Broker, HighestPriorityWinsTiesAreRandom) {
  for (weft_mb_conn c = 1; c <= 5; c++)
    connect(c);
  sent.clear();
  subscribe(1, "request", "t", 5);
  subscribe(2, "request", "t", 10);
  subscribe(3, "request", "T", 10);
  subscribe(5, "request", "t", 9.5); // any JSON number, as the broker takes
  std::map<weft_mb_conn, int> got;
  for (int i = 0; i < 200; i++) {
    recv(4, std::string("request:t:1.0.0:") + kId1 + "\n{}");
    for (auto &s : sent)
      got[s.conn]++;
    sent.clear();
  }
  EXPECT_EQ(got[1], 0);
  EXPECT_EQ(got[5], 0);
  EXPECT_GT(got[2], 40);
  EXPECT_GT(got[3], 40);
  EXPECT_EQ(got[2] + got[3], 200);
  // 10.5 beats 10.
  subscribe(5, "request", "t", 10.5);
  recv(4, std::string("request:t:1.0.0:") + kId1 + "\n{}");
  EXPECT_EQ(take(5).size(), 1u);
}

TEST_F(Broker, RequestWithoutSubscriberIsNoRoute) {
  connect(1);
  take(1);
  recv(1, std::string("request:nobody.home:1.0.0:") + kId1 + "\n{}");
  EXPECT_EQ(take(1),
            std::vector<std::string>{
                std::string("response:nobody.home:1.0.0:") + kId1 + "\n" +
                err_body("NO_ROUTE_FOUND",
                         "No subscribers for topic nobody.home", now)});
}

TEST_F(Broker, RequestTimeout) {
  connect(1);
  connect(2);
  sent.clear();
  subscribe(1, "request", "slow", 0);
  std::string sid = weft_mb_broker_service_id(b, 1);
  recv(2, std::string("request:slow:1.0.0:") + kId2 + "::100\n{}");
  std::string broker_id = id_of(take(1)[0]);
  EXPECT_EQ(weft_mb_broker_tick(b, now + 50), 50);
  EXPECT_TRUE(take(2).empty());
  weft_mb_broker_tick(b, now + 100);
  EXPECT_EQ(take(2), std::vector<std::string>{
                         std::string("response:slow:1.0.0:") + kId2 + "\n" +
                         err_body("TIMEOUT", "Request timed out", now + 100,
                                  "{\"targetServiceId\":\"" + sid + "\"}")});
  EXPECT_EQ(weft_mb_broker_pending(b), 0u);
  // The late response: no request waits for it.
  recv(1, "response:slow:1.0.0:" + broker_id + "\n{}");
  EXPECT_TRUE(take(2).empty());
  EXPECT_EQ(take(1), std::vector<std::string>{
                         "response:slow:1.0.0:" + broker_id + "\n" +
                         err_body("INVALID_REQUEST_ID",
                                  "No matching request found for requestId: " +
                                      broker_id,
                                  now)});
}

// Brokers of several nodes (docs/CLUSTER.md): what has no local
// request-subscriber is offered to remote_request, and the remote answer,
// "no responders" or the deadline decide what the caller gets.
struct Remote : Broker {
  struct Offer {
    weft_mb_conn from;
    std::string broker_id, topic, payload;
    uint32_t timeout;
  };
  std::vector<Offer> offers;
  std::vector<std::pair<std::string, bool>> interest;
  bool take_it = true;

  static bool on_remote(void *ud, weft_mb_conn from, const char *id,
                        const weft_mb_header *h, const char *p, size_t n) {
    auto *r = static_cast<Remote *>(ud);
    r->offers.push_back({from, id, h->topic, std::string(p, n), h->timeout_ms});
    return r->take_it;
  }
  static void on_interest(void *ud, const char *topic, bool on) {
    static_cast<Remote *>(ud)->interest.push_back({topic, on});
  }
  void SetUp() override {
    weft_mb_broker_opts o{};
    o.seed = 42;
    o.send = on_send;
    o.deregistered = on_dereg;
    o.remote_request = on_remote;
    o.request_interest = on_interest;
    o.ud = this;
    ASSERT_EQ(weft_mb_broker_new(&b, &o), 0);
  }
};

TEST_F(Remote, RequestWithoutLocalServiceIsOfferedAndAnswered) {
  connect(1);
  take(1);
  recv(1, std::string("request:Svc.Echo:1.0.0:") + kId1 + "::2000\n{\"x\":1}");
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].from, 1u);
  EXPECT_EQ(offers[0].topic, "Svc.Echo");
  EXPECT_EQ(offers[0].payload, "{\"x\":1}");
  EXPECT_EQ(offers[0].timeout, 2000u);
  EXPECT_TRUE(take(1).empty()); /* waiting for the other node */
  EXPECT_EQ(weft_mb_broker_pending(b), 1u);
  const std::string body = "{\"echo\":1}";
  EXPECT_EQ(weft_mb_broker_remote_answer(b, offers[0].broker_id.c_str(),
                                         body.data(), body.size(), now),
            0);
  EXPECT_EQ(take(1),
            std::vector<std::string>{std::string("response:Svc.Echo:1.0.0:") +
                                     kId1 + "\n" + body});
  EXPECT_EQ(weft_mb_broker_pending(b), 0u);
  /* Answered once: a second answer finds nothing. */
  EXPECT_EQ(weft_mb_broker_remote_answer(b, offers[0].broker_id.c_str(), "{}",
                                         2, now),
            WEFT_ERR_STATE);
}

TEST_F(Remote, NoRespondersIsNoRouteAndSilenceIsTimeout) {
  connect(1);
  take(1);
  recv(1, std::string("request:nobody.home:1.0.0:") + kId1 + "\n{}");
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(weft_mb_broker_remote_no_route(b, offers[0].broker_id.c_str(), now),
            0);
  EXPECT_EQ(take(1),
            std::vector<std::string>{
                std::string("response:nobody.home:1.0.0:") + kId1 + "\n" +
                err_body("NO_ROUTE_FOUND",
                         "No subscribers for topic nobody.home", now)});
  recv(1, std::string("request:slow:1.0.0:") + kId2 + "::100\n{}");
  weft_mb_broker_tick(b, now + 100);
  EXPECT_EQ(take(1), std::vector<std::string>{
                         std::string("response:slow:1.0.0:") + kId2 + "\n" +
                         err_body("TIMEOUT", "Request timed out", now + 100,
                                  "{\"targetServiceId\":\"\"}")});
  /* Declined (NATS down): NO_ROUTE_FOUND at once, nothing pending. */
  take_it = false;
  recv(1, std::string("request:other:1.0.0:") + kId1 + "\n{}");
  EXPECT_EQ(error_code(take(1).at(0)), "NO_ROUTE_FOUND");
  EXPECT_EQ(weft_mb_broker_pending(b), 0u);
}

TEST_F(Remote, LocalServiceIsPreferredAndInterestFollowsSubscribers) {
  connect(1);
  connect(2);
  connect(3);
  sent.clear();
  subscribe(1, "request", "Jobs.Run", 0);
  EXPECT_EQ(interest,
            (std::vector<std::pair<std::string, bool>>{{"jobs.run", true}}));
  subscribe(2, "request", "jobs.run", 0);
  EXPECT_EQ(interest.size(), 1u); /* not the first any more */
  recv(3, std::string("request:jobs.run:1.0.0:") + kId1 + "\n{}");
  EXPECT_TRUE(offers.empty());
  recv(2, std::string("request:system.topic.unsubscribe:1.0.0:") + kId2 +
              "\n{\"action\":\"request\",\"topic\":\"jobs.run\"}");
  EXPECT_EQ(interest.size(), 1u); /* 1 still serves it */
  weft_mb_broker_disconnect(b, 1);
  EXPECT_EQ(interest, (std::vector<std::pair<std::string, bool>>{
                          {"jobs.run", true}, {"jobs.run", false}}));
}

// Publishes across nodes: handed on after local delivery; with no local
// subscriber, another node's acknowledgement or "no responders" decides.
struct RemotePub : Remote {
  struct Pub {
    std::string broker_id, msg;
    bool delivered;
  };
  std::vector<Pub> pubs;
  std::vector<std::pair<std::string, bool>> pub_interest;

  static bool on_publish(void *ud, const char *id, const char *msg, size_t n,
                         bool delivered) {
    auto *r = static_cast<RemotePub *>(ud);
    r->pubs.push_back({id ? id : "", std::string(msg, n), delivered});
    return r->take_it;
  }
  static void on_pub_interest(void *ud, const char *topic, bool on) {
    static_cast<RemotePub *>(ud)->pub_interest.push_back({topic, on});
  }
  void SetUp() override {
    weft_mb_broker_opts o{};
    o.seed = 42;
    o.send = on_send;
    o.deregistered = on_dereg;
    o.remote_request = on_remote;
    o.request_interest = on_interest;
    o.remote_publish = on_publish;
    o.publish_interest = on_pub_interest;
    o.ud = this;
    ASSERT_EQ(weft_mb_broker_new(&b, &o), 0);
  }
};

TEST_F(RemotePub, DeliveredHereThenHandedOnWithTheSameId) {
  connect(1);
  connect(2);
  sent.clear();
  subscribe(1, "publish", "News.Eu", 0);
  EXPECT_EQ(pub_interest,
            (std::vector<std::pair<std::string, bool>>{{"news.eu", true}}));
  recv(2, std::string("publish:News.Eu:1.0.0:") + kId2 + "\n{\"a\":1}");
  std::vector<std::string> got = take(1);
  ASSERT_EQ(got.size(), 1u);
  std::string id = id_of(got[0]);
  ASSERT_EQ(pubs.size(), 1u);
  EXPECT_TRUE(pubs[0].delivered);
  EXPECT_EQ(pubs[0].broker_id, "");
  EXPECT_EQ(pubs[0].msg,
            "publish:News.Eu:1.0.0:" + id + ":" + kId2 + "\n{\"a\":1}");
  const std::string ack = std::string("response:News.Eu:1.0.0:") + kId2 + "\n" +
                          WEFT_MB_ACK_PAYLOAD;
  EXPECT_EQ(take(2), std::vector<std::string>{ack});
  // What another node's broker does with it: its subscribers, same id.
  weft_mb_broker *other = nullptr;
  weft_mb_broker_opts o{};
  o.send = on_send;
  o.ud = this;
  ASSERT_EQ(weft_mb_broker_new(&other, &o), 0);
  ASSERT_EQ(weft_mb_broker_connect(other, 7, now), 0);
  ASSERT_EQ(weft_mb_broker_remote_publish(other, pubs[0].msg.data(),
                                          pubs[0].msg.size(), now),
            0); /* nobody subscribes there yet */
  std::string sub = std::string("request:system.topic.subscribe:1.0.0:") +
                    kId1 + "\n{\"action\":\"publish\",\"topic\":\"news.eu\"}";
  ASSERT_EQ(weft_mb_broker_receive(other, 7, sub.data(), sub.size(), now), 0);
  sent.clear();
  EXPECT_EQ(weft_mb_broker_remote_publish(other, pubs[0].msg.data(),
                                          pubs[0].msg.size(), now),
            1);
  got = take(7);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], "publish:News.Eu:1.0.0:" + id + "\n{\"a\":1}");
  const char notpub[] = "request:news.eu:1.0.0:0f8fad5b-d9cb-469f-a165-"
                        "70867728950e\n{}";
  EXPECT_EQ(
      weft_mb_broker_remote_publish(other, notpub, sizeof notpub - 1, now),
      WEFT_ERR_PROTOCOL);
  weft_mb_broker_free(other);
  weft_mb_broker_disconnect(b, 1);
  EXPECT_EQ(pub_interest, (std::vector<std::pair<std::string, bool>>{
                              {"news.eu", true}, {"news.eu", false}}));
}

TEST_F(RemotePub, NoLocalSubscriberWaitsForAnotherNode) {
  connect(2);
  take(2);
  recv(2, std::string("publish:news:1.0.0:") + kId2 + "\n{}");
  ASSERT_EQ(pubs.size(), 1u);
  EXPECT_FALSE(pubs[0].delivered);
  EXPECT_FALSE(pubs[0].broker_id.empty());
  EXPECT_TRUE(take(2).empty()); /* waiting for a node that delivers it */
  const std::string ack = WEFT_MB_ACK_PAYLOAD;
  EXPECT_EQ(weft_mb_broker_remote_answer(b, pubs[0].broker_id.c_str(),
                                         ack.data(), ack.size(), now),
            0);
  EXPECT_EQ(take(2),
            std::vector<std::string>{std::string("response:news:1.0.0:") +
                                     kId2 + "\n" + ack});
  // Nobody anywhere: NO_ROUTE_FOUND, as on one broker.
  recv(2, std::string("publish:news:1.0.0:") + kId2 + "\n{}");
  ASSERT_EQ(pubs.size(), 2u);
  EXPECT_EQ(weft_mb_broker_remote_no_route(b, pubs[1].broker_id.c_str(), now),
            0);
  EXPECT_EQ(error_code(take(2).at(0)), "NO_ROUTE_FOUND");
  // NATS down (declined): NO_ROUTE_FOUND at once.
  take_it = false;
  recv(2, std::string("publish:news:1.0.0:") + kId2 + "\n{}");
  EXPECT_EQ(error_code(take(2).at(0)), "NO_ROUTE_FOUND");
  EXPECT_EQ(weft_mb_broker_pending(b), 0u);
}

// The system lists across nodes: the other nodes' registries (as
// weft_mb_broker_registry writes them) are listed after the local ones.
struct RemoteLists : Broker {
  std::string others; // what remote_registries returns ("" = NULL)
  int changed = 0;

  static char *on_registries(void *ud) {
    auto *r = static_cast<RemoteLists *>(ud);
    return r->others.empty() ? nullptr : strdup(r->others.c_str());
  }
  static void on_changed(void *ud) {
    static_cast<RemoteLists *>(ud)->changed++;
  }
  void SetUp() override {
    weft_mb_broker_opts o{};
    o.seed = 42;
    o.send = on_send;
    o.remote_registries = on_registries;
    o.registry_changed = on_changed;
    o.ud = this;
    ASSERT_EQ(weft_mb_broker_new(&b, &o), 0);
  }
  std::string body(weft_mb_conn c, const std::string &topic,
                   const std::string &payload = "{}") {
    recv(c, "request:" + topic + ":1.0.0:" + kId2 + "\n" + payload);
    std::vector<std::string> got = take(c);
    return got.empty() ? "" : got[0].substr(got[0].find('\n') + 1);
  }
};

TEST_F(RemoteLists, OtherNodesAreListedAfterOurs) {
  connect(1);
  EXPECT_EQ(changed, 1);
  sent.clear();
  std::string s1 = weft_mb_broker_service_id(b, 1);
  subscribe(1, "request", "svc.x", 1);
  EXPECT_EQ(changed, 2);
  // This broker's registry, as another node gets it.
  char *mine = weft_mb_broker_registry(b);
  ASSERT_NE(mine, nullptr);
  char at[25];
  weft_mb_format_timestamp(now, at);
  EXPECT_EQ(std::string(mine),
            "{\"services\":[{\"id\":\"" + s1 +
                "\",\"name\":\"\",\"description\":\"\",\"connectedAt\":\"" +
                at + "\",\"lastHeartbeat\":\"" + at +
                "\"}],\"subscriptions\":[{\"action\":\"request\",\"topic\":"
                "\"svc.x\",\"serviceId\":\"" +
                s1 + "\",\"priority\":1}]}");
  free(mine);
  const std::string far = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
  others = "[{\"services\":[{\"id\":\"" + far +
           "\",\"name\":\"far\"}],\"subscriptions\":[{\"action\":"
           "\"request\",\"topic\":\"svc.x\",\"serviceId\":\"" +
           far +
           "\",\"priority\":5},{\"action\":\"publish\",\"topic\":\"n\","
           "\"serviceId\":\"" +
           far + "\"}]}]";
  std::string list = body(1, "system.service.list");
  EXPECT_NE(list.find(s1), std::string::npos);
  EXPECT_NE(list.find("{\"id\":\"" + far + "\",\"name\":\"far\"}"),
            std::string::npos)
      << list;
  EXPECT_EQ(body(1, "system.topic.list"),
            "{\"topics\":[{\"action\":\"publish\",\"topic\":\"n\","
            "\"subscribers\":[{\"serviceId\":\"" +
                far +
                "\"}]},{\"action\":\"request\",\"topic\":\"svc.x\","
                "\"subscribers\":[{\"serviceId\":\"" +
                far + "\",\"priority\":5},{\"serviceId\":\"" + s1 +
                "\",\"priority\":1}]}]}");
  EXPECT_EQ(body(1, "system.service.subscriptions",
                 "{\"serviceId\":\"" + far + "\"}"),
            "{\"subscriptions\":[{\"action\":\"publish\",\"topic\":\"n\"},"
            "{\"action\":\"request\",\"topic\":\"svc.x\",\"priority\":"
            "5}]}");
  // Garbage from another node is ignored, not fatal.
  others = "{not json";
  EXPECT_NE(body(1, "system.topic.list").find(s1), std::string::npos);
  weft_mb_broker_disconnect(b, 1);
  EXPECT_EQ(changed, 3);
}

TEST_F(Broker, ServiceGoneTimesOutAtTheDeadline) {
  connect(1);
  connect(2);
  sent.clear();
  subscribe(1, "request", "t", 0);
  std::string sid = weft_mb_broker_service_id(b, 1);
  recv(2, std::string("request:t:1.0.0:") + kId2 + "::300\n{}");
  weft_mb_broker_disconnect(b, 1);
  EXPECT_TRUE(take(2).empty()); // nothing yet: the broker waits it out
  EXPECT_EQ(weft_mb_broker_subscribers(b, WEFT_MB_REQUEST, "t"), 0u);
  EXPECT_EQ(weft_mb_broker_tick(b, now + 100), 200);
  weft_mb_broker_tick(b, now + 300);
  EXPECT_EQ(take(2), std::vector<std::string>{
                         std::string("response:t:1.0.0:") + kId2 + "\n" +
                         err_body("TIMEOUT", "Request timed out", now + 300,
                                  "{\"targetServiceId\":\"" + sid + "\"}")});
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

TEST_F(Broker, StrayResponsesGetInvalidRequestId) {
  connect(1);
  connect(2);
  connect(3);
  sent.clear();
  subscribe(1, "request", "t", 0);
  recv(2, std::string("request:t:1.0.0:") + kId2 + "\n{}");
  std::string broker_id = id_of(take(1)[0]);
  // Another service answering it: not its request.
  recv(3, "response:t:1.0.0:" + broker_id + "\n{\"forged\":true}");
  EXPECT_TRUE(take(2).empty());
  EXPECT_EQ(error_code(take(3)[0]), "INVALID_REQUEST_ID");
  EXPECT_EQ(weft_mb_broker_pending(b), 1u);
  // An unknown id.
  recv(3, std::string("response:t:1.0.0:") + kId1 + "\n{}");
  EXPECT_EQ(take(3), std::vector<std::string>{
                         std::string("response:t:1.0.0:") + kId1 + "\n" +
                         err_body("INVALID_REQUEST_ID",
                                  std::string("No matching request found for "
                                              "requestId: ") +
                                      kId1,
                                  now)});
  // No id at all: a fresh one.
  recv(3, "response:t:1.0.0\n{}");
  auto m = take(3);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0],
            "response:t:1.0.0:" + id_of(m[0]) + "\n" +
                err_body("INVALID_REQUEST_ID",
                         "Received response message without requestId.", now));
  // Answered once; the duplicate is stray.
  recv(1, "response:t:1.0.0:" + broker_id + "\n{}");
  EXPECT_EQ(take(2).size(), 1u);
  recv(1, "response:t:1.0.0:" + broker_id + "\n{}");
  EXPECT_TRUE(take(2).empty());
  EXPECT_EQ(error_code(take(1)[0]), "INVALID_REQUEST_ID");
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
  EXPECT_EQ(m[0],
            std::string("response:t:1.0.0:") + ids[0] + "\n" +
                err_body("SERVICE_UNAVAILABLE", "Message broker is busy", now));
}

TEST_F(Broker, HeartbeatAfterSilenceWithoutId) {
  connect(1);
  connect(2);
  sent.clear();
  subscribe(1, "request", "t", 0);
  subscribe(2, "request", "t", 0);
  EXPECT_EQ(weft_mb_broker_tick(b, now), 30000);
  // 2 speaks at +20 s: its heartbeat moves to +50 s.
  now += 20000;
  recv(2, "publish:nobody:1.0.0\n{}");
  take(2);
  now += 10000; // +30 s
  weft_mb_broker_tick(b, now);
  EXPECT_EQ(take(1),
            std::vector<std::string>{"request:system.heartbeat:1.0.0\n{}"});
  EXPECT_TRUE(take(2).empty());
  // One heartbeat per silence.
  weft_mb_broker_tick(b, now + 1000);
  EXPECT_TRUE(take(1).empty());
  // 1 answers as the reference client does (same header, as a response).
  recv(1, "response:system.heartbeat:1.0.0\n{}");
  EXPECT_TRUE(sent.empty()); // the answer is not answered
  now += 20000;              // +50 s: 2's heartbeat
  weft_mb_broker_tick(b, now);
  EXPECT_EQ(take(2),
            std::vector<std::string>{"request:system.heartbeat:1.0.0\n{}"});
  now += 30000; // +80 s: 2 silent for 60 s, 1 for 50 s
  weft_mb_broker_tick(b, now);
  EXPECT_EQ(dereg, std::vector<weft_mb_conn>{2});
  EXPECT_EQ(weft_mb_broker_subscribers(b, WEFT_MB_REQUEST, "t"), 1u);
  EXPECT_EQ(take(1).size(), 1u); // 1's next heartbeat (at +60 s)
  // The deregistered one is no longer talked to.
  recv(2, std::string("request:system.heartbeat:1.0.0:") + kId1 + "\n{}");
  EXPECT_TRUE(take(2).empty());
  // A client may ask the broker too.
  recv(1, std::string("request:system.heartbeat:1.0.0:") + kId1 + "\n{}");
  EXPECT_EQ(take(1), std::vector<std::string>{
                         std::string("response:system.heartbeat:1.0.0:") +
                         kId1 + "\n{\"status\":\"success\"}"});
  // A publish on it is refused; it cannot be subscribed to.
  recv(1, "publish:system.heartbeat:1.0.0\n{}");
  EXPECT_EQ(error_code(take(1)[0]), "INVALID_REQUEST");
  recv(1, std::string("request:system.topic.subscribe:1.0.0:") + kId1 +
              "\n{\"action\":\"publish\",\"topic\":\"system.heartbeat\"}");
  EXPECT_EQ(error_code(take(1)[0]), "INVALID_REQUEST");
}

TEST_F(Broker, LongIdleWithAnsweredHeartbeatsStaysRegistered) {
  // A shortened period: heartbeat after 100 ms, deregistration after 200.
  weft_mb_broker_free(b);
  weft_mb_broker_opts o{};
  o.heartbeat_interval_ms = 100;
  o.silence_timeout_ms = 200;
  o.seed = 7;
  o.send = on_send;
  o.deregistered = on_dereg;
  o.ud = this;
  ASSERT_EQ(weft_mb_broker_new(&b, &o), 0);
  connect(1);
  take(1);
  recv(1, std::string("request:system.service.register:1.0.0:") + kId1 +
              "\n{\"name\":\"idle\",\"description\":\"idle\"}");
  take(1);
  subscribe(1, "request", "t", 0);
  int beats = 0;
  for (int step = 0; step < 40; step++) { // 4 periods, 10 ms apart
    now += 10;
    weft_mb_broker_tick(b, now);
    for (auto &m : take(1)) {
      ASSERT_EQ(m, "request:system.heartbeat:1.0.0\n{}");
      beats++;
      recv(1, "response:system.heartbeat:1.0.0\n{}");
    }
  }
  EXPECT_GE(beats, 3);
  EXPECT_TRUE(dereg.empty());
  EXPECT_STREQ(weft_mb_broker_service_name(b, 1), "idle");
  EXPECT_EQ(weft_mb_broker_subscribers(b, WEFT_MB_REQUEST, "t"), 1u);
}

TEST_F(Broker, SystemListsAndSubscriptions) {
  connect(1);
  now += 5;
  connect(2);
  sent.clear();
  std::string s1 = weft_mb_broker_service_id(b, 1);
  std::string s2 = weft_mb_broker_service_id(b, 2);
  recv(1, std::string("request:system.service.register:1.0.0:") + kId1 +
              "\n{\"name\":\"one\",\"description\":\"first\"}");
  take(1);
  subscribe(2, "request", "b.x", 1);
  subscribe(1, "request", "B.X", 2);
  subscribe(1, "publish", "a", 0);
  subscribe(2, "publish", "b.x", 0);
  char t0[25], t1[25];
  weft_mb_format_timestamp(now - 5, t0);
  weft_mb_format_timestamp(now, t1);
  recv(2, std::string("request:system.service.list:1.0.0:") + kId2 + "\n{}");
  EXPECT_EQ(take(2),
            std::vector<std::string>{
                std::string("response:system.service.list:1.0.0:") + kId2 +
                "\n{\"services\":[{\"id\":\"" + s1 +
                "\",\"name\":\"one\",\"description\":\"first\",\"connectedAt\":"
                "\"" +
                t0 + "\",\"lastHeartbeat\":\"" + t1 + "\"},{\"id\":\"" + s2 +
                "\",\"name\":\"\",\"description\":\"\",\"connectedAt\":\"" +
                t1 + "\",\"lastHeartbeat\":\"" + t1 + "\"}]}"});
  const std::string topics =
      "[{\"action\":\"publish\",\"topic\":\"a\",\"subscribers\":[{"
      "\"serviceId\":\"" +
      s1 +
      "\"}]},{\"action\":\"publish\",\"topic\":\"b.x\","
      "\"subscribers\":[{\"serviceId\":\"" +
      s2 +
      "\"}]},{\"action\":\"request\","
      "\"topic\":\"b.x\",\"subscribers\":[{\"serviceId\":\"" +
      s1 + "\",\"priority\":2},{\"serviceId\":\"" + s2 +
      "\",\"priority\":1}]}]";
  recv(2, std::string("request:system.topic.list:1.0.0:") + kId2 + "\n{}");
  EXPECT_EQ(take(2), std::vector<std::string>{
                         std::string("response:system.topic.list:1.0.0:") +
                         kId2 + "\n{\"topics\":" + topics + "}"});
  recv(2, std::string("request:system.topic.subscriptions:1.0.0:") + kId2 +
              "\n{}");
  EXPECT_EQ(take(2), std::vector<std::string>{
                         std::string("response:system.topic.subscriptions:1.0."
                                     "0:") +
                         kId2 + "\n{\"subscriptions\":" + topics + "}"});
  recv(2, std::string("request:system.service.subscriptions:1.0.0:") + kId2 +
              "\n{\"serviceId\":\"" + s1 + "\"}");
  EXPECT_EQ(
      take(2),
      std::vector<std::string>{
          std::string("response:system.service.subscriptions:1.0.0:") + kId2 +
          "\n{\"subscriptions\":[{\"action\":\"publish\",\"topic\":\"a\"},"
          "{\"action\":\"request\",\"topic\":\"b.x\",\"priority\":2}]}"});
  recv(2, std::string("request:system.service.subscriptions:1.0.0:") + kId2 +
              "\n{\"serviceId\":\"" + kId1 + "\"}");
  EXPECT_EQ(error_code(take(2)[0]), "SERVICE_UNAVAILABLE");
  // Unsubscribing from what is not subscribed: failure, not an error.
  recv(2, std::string("request:system.topic.unsubscribe:1.0.0:") + kId2 +
              "\n{\"action\":\"publish\",\"topic\":\"zzz\"}");
  EXPECT_EQ(take(2),
            std::vector<std::string>{
                std::string("response:system.topic.unsubscribe:1.0.0:") + kId2 +
                "\n{\"status\":\"failure\"}"});
  recv(2, std::string("request:system.topic.subscribe:1.0.0:") + kId2 +
              "\n{\"action\":\"response\",\"topic\":\"zzz\"}");
  EXPECT_EQ(take(2), std::vector<std::string>{
                         std::string("response:system.topic.subscribe:1.0.0:") +
                         kId2 + "\n{\"status\":\"failure\"}"});
  recv(2, std::string("request:system.topic.unsubscribe:1.0.0:") + kId2 +
              "\n{\"action\":\"publish\",\"topic\":\"system.message\"}");
  EXPECT_EQ(error_code(take(2)[0]), "INVALID_REQUEST");
  recv(2, std::string("request:system.nope:1.0.0:") + kId2 + "\n{}");
  EXPECT_EQ(take(2),
            std::vector<std::string>{
                std::string("response:system.nope:1.0.0:") + kId2 + "\n" +
                err_body("TOPIC_NOT_SUPPORTED",
                         "Unknown system message topic: system.nope", now)});
  // Logs and metrics: answered in the broker's shape.
  recv(2, std::string("request:system.log.subscribe:1.0.0:") + kId2 +
              "\n{\"levels\":[\"info\"]}");
  EXPECT_EQ(error_code(take(2)[0]), "");
  EXPECT_EQ(weft_mb_broker_subscribers(b, WEFT_MB_PUBLISH, "system.log"), 1u);
  recv(2, std::string("request:system.log.subscribe:1.0.0:") + kId2 +
              "\n{\"levels\":[\"loud\"]}");
  EXPECT_EQ(error_code(take(2)[0]), "INVALID_REQUEST");
  recv(2, std::string("request:system.metrics:1.0.0:") + kId2 + "\n{}");
  EXPECT_EQ(take(2), std::vector<std::string>{
                         std::string("response:system.metrics:1.0.0:") + kId2 +
                         "\n{\"metrics\":{}}"});
}

TEST_F(Broker, SystemMessageAuditsEveryMessage) {
  for (weft_mb_conn c = 1; c <= 3; c++)
    connect(c);
  sent.clear();
  subscribe(2, "publish", "t", 0);
  // The audit subscriber: its own acknowledgement is already audited.
  recv(3, std::string("request:system.topic.subscribe:1.0.0:") + kId1 +
              "\n{\"action\":\"publish\",\"topic\":\"system.message\"}");
  auto m = take(3);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[1].rfind("publish:system.message:1.0.0\n{\"timestamp\":", 0), 0u);
  std::string s1 = weft_mb_broker_service_id(b, 1);
  std::string s2 = weft_mb_broker_service_id(b, 2);
  char ts[25];
  weft_mb_format_timestamp(now, ts);
  recv(1, std::string("publish:t:1.0.0:") + kId2 + "\n{\"a\":1}");
  auto fwd = take(2);
  ASSERT_EQ(fwd.size(), 1u);
  std::string id = id_of(fwd[0]);
  m = take(3);
  ASSERT_EQ(m.size(), 3u); // received, forwarded, the acknowledgement
  EXPECT_EQ(m[0],
            std::string("publish:system.message:1.0.0\n{\"timestamp\":\"") +
                ts + "\",\"timeout\":5000,\"from\":\"" + s1 +
                "\",\"message\":{\"header\":{\"action\":\"publish\","
                "\"topic\":\"t\",\"version\":\"1.0.0\",\"requestId\":\"" +
                kId2 + "\"},\"payload\":{\"a\":1}}}");
  // A forwarded payload is a byte buffer to the broker.
  EXPECT_EQ(m[1],
            std::string("publish:system.message:1.0.0\n{\"timestamp\":\"") +
                ts + "\",\"to\":\"" + s2 +
                "\",\"message\":{\"header\":{\"action\":\"publish\","
                "\"topic\":\"t\",\"version\":\"1.0.0\",\"requestId\":\"" +
                id +
                "\"},\"payload\":{\"type\":\"Buffer\",\"data\":[123,34,"
                "97,34,58,49,125]}},\"maskedId\":\"" +
                kId2 + "\"}");
  EXPECT_EQ(m[2],
            std::string("publish:system.message:1.0.0\n{\"timestamp\":\"") +
                ts + "\",\"to\":\"" + s1 +
                "\",\"message\":{\"header\":{\"action\":\"response\","
                "\"topic\":\"t\",\"version\":\"1.0.0\",\"requestId\":\"" +
                kId2 + "\"},\"payload\":{\"status\":\"success\"}}}");
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
  ASSERT_EQ(weft_mb_subscription_parse(out, len, false, &back, &code, &err), 0);
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
        "{\"action\":\"publish\",\"topic\":\"t\",\"priority\":null}",
        "{\"action\":\"publish\",\"topic\":\"t\",\"priority\":\"high\"}",
        "{\"action\":\"publish\",\"topic\":\"system.heartbeat\"}", "[]"}) {
    EXPECT_LT(
        weft_mb_subscription_parse(bad, strlen(bad), false, &back, &code, &err),
        0)
        << bad;
    EXPECT_EQ(code, WEFT_MB_INVALID_REQUEST) << bad;
  }
  const char *frac =
      "{\"action\":\"request\",\"topic\":\"t\",\"priority\":1.5}";
  ASSERT_EQ(
      weft_mb_subscription_parse(frac, strlen(frac), false, &back, &code, &err),
      0);
  EXPECT_EQ(back.priority, 1.5);
  EXPECT_LT(weft_mb_subscription_parse("{", 1, false, &back, &code, &err), 0);
  EXPECT_EQ(code, WEFT_MB_MALFORMED_MESSAGE);

  // Registering: the description defaults to the name (the broker refuses an
  // empty one); the broker's limits are checked before anything is sent.
  ASSERT_EQ(weft_mb_register_encode("jobs", nullptr, &out, &len, &err), 0);
  EXPECT_STREQ(out, "{\"name\":\"jobs\",\"description\":\"jobs\"}");
  free(out);
  ASSERT_EQ(weft_mb_register_encode("jobs", "", &out, &len, &err), 0);
  EXPECT_STREQ(out, "{\"name\":\"jobs\",\"description\":\"jobs\"}");
  free(out);
  out = nullptr;
  EXPECT_EQ(weft_mb_register_encode(std::string(37, 'n').c_str(), "d", &out,
                                    &len, &err),
            WEFT_ERR_INVAL);
  EXPECT_NE(std::string(err.message).find("36-character"), std::string::npos)
      << err.message;
  EXPECT_EQ(weft_mb_register_encode("n", std::string(1025, 'd').c_str(), &out,
                                    &len, &err),
            WEFT_ERR_INVAL);
  EXPECT_EQ(out, nullptr);
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

TEST(MbBrokerNew, RefusesMissingSend) {
  weft_mb_broker *b = nullptr;
  EXPECT_EQ(weft_mb_broker_new(&b, nullptr), WEFT_ERR_INVAL);
  weft_mb_broker_opts o{};
  EXPECT_EQ(weft_mb_broker_new(&b, &o), WEFT_ERR_INVAL);
  EXPECT_EQ(b, nullptr);
}
