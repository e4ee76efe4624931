// AITBC WebSocket API and AITBC SDK WebSocket messages: every kind parsed
// from golden text written from the format description, and written back
// byte for byte.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "weft/aitbc_ws.h"

namespace {

struct Msg {
  weft_aitbc_ws_msg m{};
  int rv = 0;
  weft_error err{};
  explicit Msg(const std::string &s) {
    rv = weft_aitbc_ws_parse(s.data(), s.size(), &m, &err);
  }
  ~Msg() {
    weft_aitbc_ws_msg_clear(&m);
  }
};

std::string enc(const weft_aitbc_ws_msg &m, int want = 0) {
  char *out = nullptr;
  size_t len = 0;
  weft_error err{};
  int rv = weft_aitbc_ws_encode(&m, &out, &len, &err);
  EXPECT_EQ(rv, want) << err.message;
  std::string s = out ? std::string(out, len) : std::string();
  free(out);
  return s;
}

// Parses golden, checks the kind, and that encoding gives golden back.
void roundtrip(const std::string &golden, weft_aitbc_ws_kind kind) {
  Msg p(golden);
  ASSERT_EQ(p.rv, 0) << golden << ": " << p.err.message;
  EXPECT_EQ(p.m.kind, kind) << golden;
  EXPECT_EQ(enc(p.m), golden);
}

TEST(AitbcWs, JobStatus) {
  const std::string g =
      "{\"job_id\":\"j1\",\"state\":\"RUNNING\",\"assigned_miner_id\":\"m7\","
      "\"timestamp\":\"2026-11-23T12:00:00Z\",\"progress\":0.5}";
  roundtrip(g, WEFT_AITBC_WS_JOB_STATUS);
  Msg p(g);
  EXPECT_STREQ(p.m.job_id, "j1");
  EXPECT_STREQ(p.m.state, "RUNNING");
  EXPECT_STREQ(p.m.assigned_miner_id, "m7");
  EXPECT_STREQ(p.m.timestamp, "2026-11-23T12:00:00Z");
  EXPECT_TRUE(p.m.has_progress);
  EXPECT_DOUBLE_EQ(p.m.progress, 0.5);
  EXPECT_EQ(p.m.type, nullptr);
  // Queued: no miner yet (null), progress 0.
  roundtrip(
      "{\"job_id\":\"j1\",\"state\":\"QUEUED\",\"assigned_miner_id\":null,"
      "\"timestamp\":\"2026-11-23T11:59:58.250000\",\"progress\":0}",
      WEFT_AITBC_WS_JOB_STATUS);
  roundtrip("{\"job_id\":\"j1\",\"state\":\"COMPLETED\",\"assigned_miner_id\":"
            "\"m7\",\"timestamp\":\"2026-11-23T12:01:00Z\",\"progress\":1}",
            WEFT_AITBC_WS_JOB_STATUS);
}

TEST(AitbcWs, TerminalStates) {
  for (const char *s : {"COMPLETED", "FAILED", "CANCELLED", "EXPIRED"})
    EXPECT_TRUE(weft_aitbc_job_state_terminal(s)) << s;
  for (const char *s : {"QUEUED", "RUNNING", "completed", ""})
    EXPECT_FALSE(weft_aitbc_job_state_terminal(s)) << s;
  EXPECT_FALSE(weft_aitbc_job_state_terminal(nullptr));
}

TEST(AitbcWs, BlockchainEvents) {
  const std::string block =
      "{\"chain_id\":\"ait-devnet\",\"height\":12,\"hash\":\"0xab\","
      "\"parent_hash\":\"0xaa\",\"proposer\":\"node-1\",\"timestamp\":"
      "\"2026-11-23T12:00:00\",\"tx_count\":1,\"state_root\":\"0xr\","
      "\"transactions\":[{\"tx_hash\":\"0x01\",\"from\":\"a\",\"to\":\"b\","
      "\"amount\":5}]}";
  const std::string g = "{\"type\":\"new_block\",\"block\":" + block + "}";
  roundtrip(g, WEFT_AITBC_WS_BLOCKCHAIN_EVENT);
  Msg p(g);
  EXPECT_STREQ(p.m.type, "new_block");
  EXPECT_EQ(std::string(p.m.block), block);
  roundtrip("{\"type\":\"transaction_confirmed\",\"tx_hash\":\"0x01\"}",
            WEFT_AITBC_WS_BLOCKCHAIN_EVENT);
  roundtrip("{\"type\":\"transaction_pending\",\"tx_hash\":\"0x02\"}",
            WEFT_AITBC_WS_BLOCKCHAIN_EVENT);
  roundtrip("{\"type\":\"fork_detected\",\"fork\":{\"height\":11,"
            "\"local_hash\":\"0x1\",\"remote_hash\":\"0x2\"}}",
            WEFT_AITBC_WS_BLOCKCHAIN_EVENT);
  roundtrip("{\"type\":\"sync_status\",\"sync_status\":{\"syncing\":true,"
            "\"current_height\":10,\"target_height\":12}}",
            WEFT_AITBC_WS_BLOCKCHAIN_EVENT);
  Msg tx("{\"type\":\"transaction_confirmed\",\"tx_hash\":\"0x01\"}");
  EXPECT_STREQ(tx.m.tx_hash, "0x01");
}

TEST(AitbcWs, MarketplaceEvents) {
  const std::string offer =
      "{\"id\":\"o1\",\"provider\":\"p1\",\"gpu_type\":\"A100\","
      "\"gpu_memory\":80,\"gpu_count\":2,\"price_per_hour\":1.5,"
      "\"currency\":\"AITBC\",\"region\":\"eu-west\",\"status\":\"open\"}";
  for (const char *t : {"new_offer", "offer_matched", "offer_expired",
                        "offer_cancelled", "price_update"}) {
    std::string g =
        std::string("{\"type\":\"") + t + "\",\"offer\":" + offer + "}";
    roundtrip(g, WEFT_AITBC_WS_MARKETPLACE_EVENT);
    Msg p(g);
    EXPECT_EQ(std::string(p.m.offer), offer);
  }
}

TEST(AitbcWs, PingPong) {
  roundtrip("{\"type\":\"ping\"}", WEFT_AITBC_WS_PING);
  roundtrip("{\"type\":\"pong\"}", WEFT_AITBC_WS_PONG);
  weft_aitbc_ws_msg pong{};
  pong.kind = WEFT_AITBC_WS_PONG;
  EXPECT_EQ(enc(pong), "{\"type\":\"pong\"}");
  // Python's json.dumps puts spaces after separators.
  Msg py("{\"type\": \"ping\"}");
  EXPECT_EQ(py.m.kind, WEFT_AITBC_WS_PING);
}

TEST(AitbcWs, SdkRequestResponse) {
  const std::string req =
      "{\"id\":\"6f1c2f3e-8d4b-4c1a-9e2f-1a2b3c4d5e6f\",\"type\":\"request\","
      "\"method\":\"GET\",\"path\":\"/v1/jobs/j1\",\"data\":null,\"params\":"
      "{\"limit\":10},\"timestamp\":\"2026-11-23T12:00:00.000001\"}";
  roundtrip(req, WEFT_AITBC_WS_REQUEST);
  Msg p(req);
  EXPECT_STREQ(p.m.id, "6f1c2f3e-8d4b-4c1a-9e2f-1a2b3c4d5e6f");
  EXPECT_FALSE(p.m.id_is_number);
  EXPECT_STREQ(p.m.method, "GET");
  EXPECT_STREQ(p.m.path, "/v1/jobs/j1");
  EXPECT_EQ(p.m.data, nullptr);
  EXPECT_STREQ(p.m.params, "{\"limit\":10}");
  roundtrip("{\"id\":\"r2\",\"type\":\"request\",\"method\":\"POST\",\"path\":"
            "\"/v1/jobs\",\"data\":{\"payload\":{\"model\":\"llama\"}},"
            "\"params\":null,\"timestamp\":\"2026-11-23T12:00:00\"}",
            WEFT_AITBC_WS_REQUEST);

  const std::string resp =
      "{\"type\":\"response\",\"id\":\"6f1c2f3e-8d4b-4c1a-9e2f-1a2b3c4d5e6f\","
      "\"status\":200,\"data\":{\"job_id\":\"j1\",\"state\":\"QUEUED\"}}";
  roundtrip(resp, WEFT_AITBC_WS_RESPONSE);
  Msg r(resp);
  EXPECT_TRUE(r.m.has_status_code);
  EXPECT_EQ(r.m.status_code, 200);
  EXPECT_STREQ(r.m.data, "{\"job_id\":\"j1\",\"state\":\"QUEUED\"}");
  // Building a reply from a request: the id is echoed.
  weft_aitbc_ws_msg out{};
  out.kind = WEFT_AITBC_WS_RESPONSE;
  out.id = p.m.id;
  out.has_status_code = true;
  out.status_code = 404;
  out.message = (char *)"job not found";
  EXPECT_EQ(enc(out), "{\"type\":\"response\",\"id\":\"6f1c2f3e-8d4b-4c1a-9e2f-"
                      "1a2b3c4d5e6f\",\"status\":404,\"message\":\"job not "
                      "found\"}");
}

TEST(AitbcWs, NumericIdsEchoAsNumbers) {
  Msg p("{\"id\":42,\"type\":\"request\",\"method\":\"GET\",\"path\":\"/x\"}");
  ASSERT_EQ(p.rv, 0) << p.err.message;
  EXPECT_STREQ(p.m.id, "42");
  EXPECT_TRUE(p.m.id_is_number);
  weft_aitbc_ws_msg out{};
  out.kind = WEFT_AITBC_WS_RESPONSE;
  out.id = p.m.id;
  out.id_is_number = true;
  out.data = (char *)"{}";
  EXPECT_EQ(enc(out), "{\"type\":\"response\",\"id\":42,\"data\":{}}");
}

// JSON that weft relays (data, params, block, offer) goes on as it was
// written: cJSON alone printed 9007199254740993 as 9007199254740992,
// 0.30000000000000004 as 0.3, 1.7976931348623157e308 as a text that reads
// back as infinity, 8e2222 as null, and "a\u0000b" as "a".
TEST(AitbcWs, RelayedJsonKeepsEveryDigitAndCharacter) {
  const std::string data =
      "{\"wei\":9007199254740993,\"f\":0.30000000000000004,"
      "\"max\":1.7976931348623157e308,\"big\":8e2222,\"neg\":-0.0,"
      "\"s\":\"ab\\u0000cd\",\"deep\":[{\"n\":1E+2,\"t\":\"\\u0000\"}],"
      "\"ok\":true,\"none\":null}";
  roundtrip("{\"type\":\"response\",\"id\":4,\"data\":" + data + "}",
            WEFT_AITBC_WS_RESPONSE);
  Msg p("{\"type\":\"response\",\"id\":4,\"data\": " + data + " }");
  ASSERT_EQ(p.rv, 0) << p.err.message;
  EXPECT_EQ(data, p.m.data);
  roundtrip("{\"type\":\"new_block\",\"block\":{\"height\":"
            "18446744073709551615,\"hash\":\"0x\\u0000\"}}",
            WEFT_AITBC_WS_BLOCKCHAIN_EVENT);
  // A numeric id echoes as written, too.
  Msg q("{\"id\":12345678901234567891,\"type\":\"unsubscribe\"}");
  ASSERT_EQ(q.rv, 0) << q.err.message;
  EXPECT_STREQ(q.m.id, "12345678901234567891");
  EXPECT_TRUE(q.m.id_is_number);
}

TEST(AitbcWs, SdkSubscriptions) {
  const std::string by_event =
      "{\"id\":\"s1\",\"type\":\"subscribe\",\"event\":\"job_update\",\"data\":"
      "{\"job_id\":\"j1\"},\"timestamp\":\"2026-11-23T12:00:00\"}";
  roundtrip(by_event, WEFT_AITBC_WS_SUBSCRIBE);
  Msg e(by_event);
  EXPECT_STREQ(e.m.event, "job_update");
  EXPECT_EQ(e.m.path, nullptr);
  const std::string by_path =
      "{\"id\":\"s2\",\"type\":\"subscribe\",\"method\":\"GET\",\"path\":"
      "\"/v1/receipts/stream\",\"data\":null,\"timestamp\":\"2026-11-23T12:00:"
      "00\"}";
  roundtrip(by_path, WEFT_AITBC_WS_SUBSCRIBE);
  Msg pth(by_path);
  EXPECT_STREQ(pth.m.path, "/v1/receipts/stream");
  EXPECT_EQ(pth.m.event, nullptr);

  roundtrip("{\"type\":\"subscription\",\"subscription_id\":\"s1\",\"status\":"
            "\"confirmed\"}",
            WEFT_AITBC_WS_SUBSCRIPTION);
  weft_aitbc_ws_msg conf{};
  conf.kind = WEFT_AITBC_WS_SUBSCRIPTION;
  conf.subscription_id = (char *)"s1";
  EXPECT_EQ(enc(conf), "{\"type\":\"subscription\",\"subscription_id\":\"s1\","
                       "\"status\":\"confirmed\"}");

  roundtrip("{\"type\":\"event\",\"event\":\"job_update\",\"data\":{\"job_id\":"
            "\"j1\",\"state\":\"RUNNING\"}}",
            WEFT_AITBC_WS_EVENT);
  roundtrip("{\"type\":\"event\",\"event\":\"new_block\",\"subscription_id\":"
            "\"s1\",\"data\":{\"height\":12},\"timestamp\":\"t\"}",
            WEFT_AITBC_WS_EVENT);
  roundtrip("{\"id\":\"s1\",\"type\":\"unsubscribe\",\"timestamp\":\"2026-11-23"
            "T12:00:05\"}",
            WEFT_AITBC_WS_UNSUBSCRIBE);
  roundtrip("{\"id\":\"s1\",\"type\":\"unsubscribe\"}",
            WEFT_AITBC_WS_UNSUBSCRIBE);
}

TEST(AitbcWs, Errors) {
  roundtrip("{\"type\":\"error\",\"message\":\"Unknown message type: foo\"}",
            WEFT_AITBC_WS_ERROR);
  roundtrip("{\"type\":\"error\",\"id\":\"r1\",\"message\":\"Request failed\"}",
            WEFT_AITBC_WS_ERROR);
}

TEST(AitbcWs, UnknownTypeIsNotAnError) {
  Msg p("{\"type\":\"job_update_v2\",\"x\":1}");
  ASSERT_EQ(p.rv, 0);
  EXPECT_EQ(p.m.kind, WEFT_AITBC_WS_UNKNOWN);
  EXPECT_STREQ(p.m.type, "job_update_v2");
  EXPECT_EQ(enc(p.m, WEFT_ERR_INVAL), "");
}

void expect_parse_error(const std::string &text, int code,
                        const char *mention = nullptr) {
  Msg p(text);
  EXPECT_EQ(p.rv, code) << text << ": " << p.err.message;
  if (mention)
    EXPECT_NE(std::string(p.err.message).find(mention), std::string::npos)
        << p.err.message;
  EXPECT_EQ(p.m.type, nullptr); // cleared on failure
}

TEST(AitbcWs, ParseErrors) {
  expect_parse_error("", WEFT_ERR_JSON_SYNTAX);
  expect_parse_error("{\"type\":", WEFT_ERR_JSON_SYNTAX);
  expect_parse_error("{\"type\":\"ping\"} x", WEFT_ERR_JSON_SYNTAX, "junk");
  expect_parse_error("[1,2]", WEFT_ERR_JSON_TYPE, "object");
  expect_parse_error("\"ping\"", WEFT_ERR_JSON_TYPE);
  expect_parse_error("{\"type\":5}", WEFT_ERR_JSON_TYPE, "type");
  expect_parse_error("{\"hello\":1}", WEFT_ERR_MALFORMED, "job_id");
  expect_parse_error("{\"id\":\"r\",\"type\":\"request\",\"path\":\"/x\"}",
                     WEFT_ERR_MALFORMED, "method");
  expect_parse_error("{\"id\":\"r\",\"type\":\"request\",\"method\":\"GET\"}",
                     WEFT_ERR_MALFORMED, "path");
  expect_parse_error("{\"type\":\"request\",\"method\":\"GET\",\"path\":\"/\"}",
                     WEFT_ERR_MALFORMED, "id");
  expect_parse_error(
      "{\"id\":\"r\",\"type\":\"request\",\"method\":7,\"path\":\"/\"}",
      WEFT_ERR_JSON_TYPE, "method");
  expect_parse_error("{\"id\":{},\"type\":\"unsubscribe\"}", WEFT_ERR_JSON_TYPE,
                     "id");
  expect_parse_error("{\"id\":\"s\",\"type\":\"subscribe\",\"data\":{}}",
                     WEFT_ERR_MALFORMED, "path");
  expect_parse_error("{\"type\":\"subscription\",\"status\":\"confirmed\"}",
                     WEFT_ERR_MALFORMED, "subscription_id");
  expect_parse_error("{\"type\":\"event\",\"data\":{}}", WEFT_ERR_MALFORMED,
                     "event");
  expect_parse_error("{\"type\":\"unsubscribe\"}", WEFT_ERR_MALFORMED, "id");
  expect_parse_error("{\"type\":\"error\"}", WEFT_ERR_MALFORMED, "message");
  // Beyond a double's range a number reads as infinity, which has no JSON
  // text: refused, not re-sent as "inf" (fuzz_aitbc_json found it).
  expect_parse_error("{\"type\":\"response\",\"id\":32222222e2222222}",
                     WEFT_ERR_MALFORMED, "\"id\" is out of range");
  expect_parse_error("{\"job_id\":\"j\",\"state\":\"running\","
                     "\"progress\":-1e999}",
                     WEFT_ERR_MALFORMED, "\"progress\" is out of range");
  // A string no C string can hold: cut at the NUL, the path would name
  // another job.
  expect_parse_error("{\"id\":\"r\",\"type\":\"request\",\"method\":\"GET\","
                     "\"path\":\"/v1/jobs/a\\u0000b\"}",
                     WEFT_ERR_MALFORMED, "\"path\" holds \\u0000");
  expect_parse_error("{\"id\":\"r\\u0000\",\"type\":\"unsubscribe\"}",
                     WEFT_ERR_MALFORMED, "\"id\" holds \\u0000");
  // A member name holding one: cJSON would read "data\u0000x" as "data".
  expect_parse_error("{\"type\":\"response\",\"id\":1,\"data\\u0000x\":{}}",
                     WEFT_ERR_MALFORMED, "member name holds \\u0000");
  expect_parse_error("{\"type\":\"response\",\"id\":1,\"data\":{\"k\":1,"
                     "\"\\u0000\":2}}",
                     WEFT_ERR_MALFORMED, "member name holds \\u0000");
  // An HTTP status is an integer 0-999; 1e10 or 200.7 would be cut.
  expect_parse_error("{\"type\":\"response\",\"id\":1,\"status\":1e10}",
                     WEFT_ERR_MALFORMED,
                     "\"status\" 1e10 is not an HTTP status");
  expect_parse_error("{\"type\":\"response\",\"id\":1,\"status\":200.7}",
                     WEFT_ERR_MALFORMED, "not an HTTP status");
  expect_parse_error("{\"type\":\"new_block\"}", WEFT_ERR_MALFORMED, "block");
  expect_parse_error("{\"type\":\"new_block\",\"block\":[]}",
                     WEFT_ERR_JSON_TYPE, "block");
  expect_parse_error("{\"type\":\"transaction_pending\"}", WEFT_ERR_MALFORMED,
                     "tx_hash");
  expect_parse_error("{\"type\":\"new_offer\",\"offer\":\"o1\"}",
                     WEFT_ERR_JSON_TYPE, "offer");
  expect_parse_error("{\"job_id\":\"j\",\"state\":\"RUNNING\",\"progress\":"
                     "\"half\"}",
                     WEFT_ERR_JSON_TYPE, "progress");
  expect_parse_error("{\"job_id\":5,\"state\":\"RUNNING\"}", WEFT_ERR_JSON_TYPE,
                     "job_id");
}

TEST(AitbcWs, EncodeErrors) {
  weft_aitbc_ws_msg m{};
  m.kind = WEFT_AITBC_WS_REQUEST;
  m.id = (char *)"r";
  m.method = (char *)"GET";
  EXPECT_EQ(enc(m, WEFT_ERR_INVAL), ""); // no path
  m.path = (char *)"/";
  m.data = (char *)"{not json";
  EXPECT_EQ(enc(m, WEFT_ERR_JSON_SYNTAX), "");
  m.data = (char *)"{} {}";
  EXPECT_EQ(enc(m, WEFT_ERR_JSON_SYNTAX), "");
  m.data = nullptr;
  EXPECT_EQ(enc(m), "{\"id\":\"r\",\"type\":\"request\",\"method\":\"GET\","
                    "\"path\":\"/\",\"data\":null,\"params\":null}");

  weft_aitbc_ws_msg ev{};
  ev.kind = WEFT_AITBC_WS_BLOCKCHAIN_EVENT;
  ev.type = (char *)"new_offer"; // wrong family
  EXPECT_EQ(enc(ev, WEFT_ERR_INVAL), "");
  ev.type = (char *)"new_block";
  EXPECT_EQ(enc(ev, WEFT_ERR_INVAL), ""); // no block
  weft_aitbc_ws_msg js{};
  js.kind = WEFT_AITBC_WS_JOB_STATUS;
  js.job_id = (char *)"j";
  EXPECT_EQ(enc(js, WEFT_ERR_INVAL), ""); // no state
  weft_aitbc_ws_msg sub{};
  sub.kind = WEFT_AITBC_WS_SUBSCRIBE;
  sub.id = (char *)"s";
  EXPECT_EQ(enc(sub, WEFT_ERR_INVAL), ""); // neither event nor path
}

TEST(AitbcWs, KindNames) {
  EXPECT_STREQ(weft_aitbc_ws_kind_name(WEFT_AITBC_WS_JOB_STATUS), "job_status");
  EXPECT_STREQ(weft_aitbc_ws_kind_name(WEFT_AITBC_WS_ERROR), "error");
  EXPECT_STREQ(weft_aitbc_ws_kind_name((weft_aitbc_ws_kind)99), "unknown");
  EXPECT_TRUE(weft_aitbc_ws_is_blockchain_event("sync_status"));
  EXPECT_FALSE(weft_aitbc_ws_is_blockchain_event("new_offer"));
  EXPECT_TRUE(weft_aitbc_ws_is_marketplace_event("price_update"));
}

} // namespace
