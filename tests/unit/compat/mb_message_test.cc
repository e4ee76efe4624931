// Whole MB messages (header + '\n' + JSON payload) and error responses.
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "weft/mb.h"

namespace {

const char *kId = "0f8fad5b-d9cb-469f-a165-70867728950e";

// Keeps the decoded bytes alive (the payload points into them); shared so
// copies of a Decoded stay valid.
struct Decoded {
  std::shared_ptr<std::string> buf;
  int rv;
  weft_mb_code code;
  weft_mb_message m;
  weft_error err;
};

Decoded decode(const std::string &s, unsigned flags = 0) {
  Decoded d{};
  d.buf = std::make_shared<std::string>(s);
  d.rv = weft_mb_decode(d.buf->data(), d.buf->size(), flags, &d.m, &d.code,
                        &d.err);
  return d;
}

std::string encode(const weft_mb_header &h, const char *payload) {
  char *out = nullptr;
  size_t len = 0;
  weft_error err{};
  int rv = weft_mb_encode(&h, payload, payload ? strlen(payload) : 0, &out,
                          &len, &err);
  EXPECT_EQ(rv, 0) << err.message;
  std::string s = out ? std::string(out, len) : std::string();
  free(out);
  return s;
}

TEST(MbMessage, BrokerGreeting) {
  // "A broker greets every new connection with publish:system.initialize:1.0.0
  // and {}".
  const std::string golden = "publish:system.initialize:1.0.0\n{}";
  weft_mb_header h;
  weft_mb_header_init(&h, WEFT_MB_PUBLISH, "system.initialize", "1.0.0");
  EXPECT_EQ(encode(h, nullptr), golden);
  Decoded d = decode(golden);
  ASSERT_EQ(d.rv, 0) << d.err.message;
  EXPECT_EQ(d.m.header.action, WEFT_MB_PUBLISH);
  EXPECT_STREQ(d.m.header.topic, "system.initialize");
  EXPECT_EQ(std::string(d.m.payload, d.m.payload_len), "{}");
}

TEST(MbMessage, SystemTopics) {
  const std::string reg =
      std::string("request:system.service.register:1.0.0:") + kId +
      "\n{\"name\":\"weft-jobs\",\"description\":\"AITBC jobs\"}";
  Decoded d = decode(reg);
  ASSERT_EQ(d.rv, 0) << d.err.message;
  EXPECT_STREQ(d.m.header.topic, "system.service.register");
  EXPECT_STREQ(d.m.header.request_id, kId);

  const std::string sub =
      std::string("request:system.topic.subscribe:1.0.0:") + kId +
      "\n{\"action\":\"request\",\"topic\":\"jobs.create\",\"priority\":10}";
  EXPECT_EQ(decode(sub).rv, 0);
  const std::string hb =
      std::string("request:system.heartbeat:1.0.0:") + kId + "::30000\n{}";
  d = decode(hb);
  ASSERT_EQ(d.rv, 0);
  EXPECT_EQ(d.m.header.timeout_ms, 30000u);
  weft_mb_header h;
  weft_mb_header_init(&h, WEFT_MB_REQUEST, "system.heartbeat", "1.0.0");
  strcpy(h.request_id, kId);
  h.has_timeout = true;
  h.timeout_ms = 30000;
  EXPECT_EQ(encode(h, "{}"), hb);
}

TEST(MbMessage, PayloadLimit) {
  std::string head = "publish:t:1.0.0\n";
  // A JSON string of exactly 16384 bytes.
  std::string max = "\"" + std::string(16382, 'x') + "\"";
  ASSERT_EQ(max.size(), 16384u);
  Decoded d = decode(head + max);
  EXPECT_EQ(d.rv, 0) << d.err.message;
  EXPECT_EQ(d.m.payload_len, 16384u);
  std::string over = "\"" + std::string(16383, 'x') + "\"";
  d = decode(head + over);
  EXPECT_EQ(d.rv, WEFT_ERR_TOO_BIG);
  EXPECT_EQ(d.code, WEFT_MB_MALFORMED_MESSAGE);
  // The header is valid, so it is kept for the error response.
  EXPECT_STREQ(d.m.header.topic, "t");
  // The broker limits only the payloads it reads (system topics).
  d = decode(head + over, WEFT_MB_NO_PAYLOAD_LIMIT);
  EXPECT_EQ(d.rv, 0);

  // The encoder's limit is the frame's: 16,751 bytes in all.
  weft_mb_header h;
  weft_mb_header_init(&h, WEFT_MB_PUBLISH, "t", "1.0.0");
  char *out = nullptr;
  size_t len = 0;
  weft_error err{};
  std::string fits = "\"" + std::string(16751 - 16 - 2, 'x') + "\"";
  ASSERT_EQ(weft_mb_encode(&h, fits.data(), fits.size(), &out, &len, &err), 0);
  EXPECT_EQ(len, 16751u);
  free(out);
  out = nullptr;
  fits += " ";
  EXPECT_EQ(weft_mb_encode(&h, fits.data(), fits.size(), &out, &len, &err),
            WEFT_ERR_TOO_BIG);
  EXPECT_EQ(out, nullptr);
}

TEST(MbMessage, HeaderMustEndWithin367Bytes) {
  std::string topic(255, 'a');
  std::string v20 = "1.0.0-" + std::string(14, 'b');
  std::string id2 = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
  std::string line = "request:" + topic + ":" + v20 + ":" + kId + ":" + id2 +
                     ":3600000"; // 366 bytes: the newline is the 367th
  ASSERT_EQ(line.size(), 366u);
  EXPECT_EQ(decode(line + "\n{}").rv, 0);
  Decoded d = decode(line + "0\n{}"); // newline is the 368th byte
  EXPECT_EQ(d.rv, WEFT_ERR_TOO_BIG);
  EXPECT_EQ(d.code, WEFT_MB_MALFORMED_MESSAGE);
  // A long message with no newline at all.
  d = decode(std::string(5000, 'a'));
  EXPECT_EQ(d.code, WEFT_MB_MALFORMED_MESSAGE);
}

TEST(MbMessage, MalformedMessages) {
  struct {
    std::string msg;
    weft_mb_code code;
  } cases[] = {
      {"publish:t:1.0.0", WEFT_MB_MALFORMED_MESSAGE},   // no newline
      {"publish:t:1.0.0\n", WEFT_MB_MALFORMED_MESSAGE}, // empty payload
      {"publish:t:1.0.0\n{", WEFT_MB_MALFORMED_MESSAGE},
      {"publish:t:1.0.0\n{} {}", WEFT_MB_MALFORMED_MESSAGE},
      {"publish:t:1.0.0\nhello", WEFT_MB_MALFORMED_MESSAGE},
      {"publish:t\n{}", WEFT_MB_MALFORMED_MESSAGE},
      {"\n{}", WEFT_MB_MALFORMED_MESSAGE},
      {"shout:t:1.0.0\n{}", WEFT_MB_MALFORMED_MESSAGE},
      {"publish:9t:1.0.0\n{}", WEFT_MB_MALFORMED_MESSAGE},
      {"publish:t:1.0\n{}", WEFT_MB_MALFORMED_MESSAGE},
      {"request:t:1.0.0:abc\n{}", WEFT_MB_MALFORMED_MESSAGE},
      {std::string("request:t:1.0.0:") + kId + "::0\n{}",
       WEFT_MB_MALFORMED_MESSAGE},
      {"", WEFT_MB_MALFORMED_MESSAGE}, // the zero-length frame
  };
  for (auto &c : cases) {
    Decoded d = decode(c.msg);
    EXPECT_LT(d.rv, 0) << c.msg;
    EXPECT_EQ(d.code, c.code) << c.msg << ": " << d.err.message;
  }
}

TEST(MbMessage, JsonCheckCanBeSkipped) {
  Decoded d = decode("publish:t:1.0.0\nnot json", WEFT_MB_NO_JSON_CHECK);
  EXPECT_EQ(d.rv, 0);
  EXPECT_EQ(std::string(d.m.payload, d.m.payload_len), "not json");
  // Whitespace around one value is fine.
  EXPECT_EQ(decode("publish:t:1.0.0\n {\"a\":[1,2]}\n").rv, 0);
  // The payload may itself contain newlines and colons.
  d = decode("publish:t:1.0.0\n{\"a\":\n\"b:c\"}");
  EXPECT_EQ(d.rv, 0);
}

TEST(MbMessage, ErrorResponseGolden) {
  char *out = nullptr;
  size_t len = 0;
  weft_error err{};
  // 2026-11-23T12:00:00.123Z
  int64_t ms = 1795435200123LL;
  ASSERT_EQ(weft_mb_error_encode("jobs.create", "1.0.0", kId,
                                 WEFT_MB_NO_ROUTE_FOUND,
                                 "no service handles jobs.create", ms, nullptr,
                                 &out, &len, &err),
            0)
      << err.message;
  EXPECT_EQ(std::string(out, len),
            std::string("response:jobs.create:1.0.0:") + kId +
                "\n{\"error\":{\"code\":\"NO_ROUTE_FOUND\",\"message\":\"no "
                "service handles jobs.create\",\"timestamp\":\"2026-11-23T12:"
                "00:00.123Z\"}}");
  free(out);
  // Without an id, with details.
  ASSERT_EQ(weft_mb_error_encode(
                "t", "2.0.0", nullptr, WEFT_MB_VERSION_NOT_SUPPORTED, "use 1.x",
                0, "{\"supported\":[\"1.0.0\"]}", &out, &len, &err),
            0);
  EXPECT_EQ(std::string(out, len),
            "response:t:2.0.0\n{\"error\":{\"code\":\"VERSION_NOT_SUPPORTED\","
            "\"message\":\"use 1.x\",\"timestamp\":\"1970-01-01T00:00:00.000Z"
            "\",\"details\":{\"supported\":[\"1.0.0\"]}}}");
  // And it reads back.
  Decoded d = decode(std::string(out, len));
  ASSERT_EQ(d.rv, 0);
  weft_mb_error_info info{};
  ASSERT_EQ(weft_mb_error_parse(d.m.payload, d.m.payload_len, &info, &err), 1);
  EXPECT_EQ(info.code, WEFT_MB_VERSION_NOT_SUPPORTED);
  EXPECT_STREQ(info.message, "use 1.x");
  EXPECT_STREQ(info.timestamp, "1970-01-01T00:00:00.000Z");
  EXPECT_STREQ(info.details_json, "{\"supported\":[\"1.0.0\"]}");
  weft_mb_error_info_clear(&info);
  free(out);

  EXPECT_EQ(weft_mb_error_encode("t", "1.0.0", nullptr, WEFT_MB_OK, "x", 0,
                                 nullptr, &out, &len, &err),
            WEFT_ERR_INVAL);
  EXPECT_EQ(weft_mb_error_encode("t", "1.0.0", nullptr, WEFT_MB_TIMEOUT, "x", 0,
                                 "{bad", &out, &len, &err),
            WEFT_ERR_JSON_SYNTAX);
  EXPECT_EQ(weft_mb_error_encode("bad topic", "1.0.0", nullptr, WEFT_MB_TIMEOUT,
                                 "x", 0, nullptr, &out, &len, &err),
            WEFT_ERR_INVAL);
}

TEST(MbMessage, ErrorParse) {
  weft_mb_error_info info{};
  weft_error err{};
  const char *body = "{\"error\":{\"code\":\"SERVICE_UNAVAILABLE\",\"message\":"
                     "\"too many requests\",\"timestamp\":\"2026-01-01T00:00:"
                     "00.000Z\"}}";
  ASSERT_EQ(weft_mb_error_parse(body, strlen(body), &info, &err), 1);
  EXPECT_EQ(info.code, WEFT_MB_SERVICE_UNAVAILABLE);
  EXPECT_EQ(info.details_json, nullptr);
  weft_mb_error_info_clear(&info);
  const char *unknown = "{\"error\":{\"code\":\"RATE_LIMITED\"}}";
  ASSERT_EQ(weft_mb_error_parse(unknown, strlen(unknown), &info, &err), 1);
  EXPECT_EQ(info.code, WEFT_MB_INTERNAL_ERROR);
  EXPECT_STREQ(info.code_name, "RATE_LIMITED");
  EXPECT_EQ(info.message, nullptr);
  weft_mb_error_info_clear(&info);
  EXPECT_EQ(weft_mb_error_parse("{\"status\":\"success\"}", 20, &info, &err),
            0);
  EXPECT_EQ(weft_mb_error_parse("{\"error\":\"x\"}", 13, &info, &err), 0);
  EXPECT_LT(weft_mb_error_parse("nope", 4, &info, &err), 0);
}

// As the broker's JSON.parse reads it: a name given twice keeps its last
// value (cJSON's lookup found the first), in the first one's place.
TEST(MbMessage, ErrorParseDuplicateNamesLastWins) {
  weft_mb_error_info info{};
  weft_error err{};
  const std::string body =
      "{\"error\":{\"code\":\"TIMEOUT\",\"message\":\"a\",\"code\":"
      "\"NO_ROUTE_FOUND\",\"details\":{\"x\":1,\"y\":2,\"x\":3}},"
      "\"error\":{\"code\":\"TIMEOUT\",\"code\":\"SERVICE_UNAVAILABLE\","
      "\"details\":{\"x\":1,\"y\":2,\"x\":{\"z\":[1,{\"q\":0,\"q\":9}]}}}}";
  ASSERT_EQ(weft_mb_error_parse(body.data(), body.size(), &info, &err), 1)
      << err.message;
  EXPECT_EQ(info.code, WEFT_MB_SERVICE_UNAVAILABLE);
  EXPECT_EQ(info.message, nullptr); // the second "error" has none
  EXPECT_STREQ(info.details_json, "{\"x\":{\"z\":[1,{\"q\":9}]},\"y\":2}");
  weft_mb_error_info_clear(&info);
  // And its syntax: [01] is not JSON to JSON.parse.
  const char *lead0 = "{\"error\":{\"code\":\"TIMEOUT\",\"n\":01}}";
  EXPECT_LT(weft_mb_error_parse(lead0, strlen(lead0), &info, &err), 0);
}

TEST(MbMessage, Timestamps) {
  char buf[25];
  weft_mb_format_timestamp(0, buf);
  EXPECT_STREQ(buf, "1970-01-01T00:00:00.000Z");
  weft_mb_format_timestamp(1795435200123LL, buf);
  EXPECT_STREQ(buf, "2026-11-23T12:00:00.123Z");
  weft_mb_format_timestamp(-1, buf);
  EXPECT_STREQ(buf, "1969-12-31T23:59:59.999Z");
}

} // namespace
