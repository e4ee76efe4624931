// The MB header line: every rule of the format, each broken on purpose with
// the MB error code a broker answers with.
#include <gtest/gtest.h>

#include <string>

#include "weft/mb.h"

namespace {

const char *kId = "0f8fad5b-d9cb-469f-a165-70867728950e";
const char *kPid = "7c9e6679-7425-40de-944b-e07fc1f90ae7";

struct Parsed {
  int rv;
  weft_mb_code code;
  weft_mb_header h;
  weft_error err;
};

Parsed parse(const std::string &line) {
  Parsed p{};
  p.rv = weft_mb_header_parse(line.data(), line.size(), &p.h, &p.code, &p.err);
  return p;
}

std::string encode(const weft_mb_header &h) {
  char buf[WEFT_MB_MAX_HEADER + 1];
  weft_error err{};
  ssize_t n = weft_mb_header_encode(&h, buf, sizeof buf, &err);
  EXPECT_GE(n, 0) << err.message;
  return n < 0 ? std::string() : std::string(buf, (size_t)n);
}

TEST(MbHeader, MinimalPublish) {
  Parsed p = parse("publish:system.initialize:1.0.0");
  ASSERT_EQ(p.rv, 0) << p.err.message;
  EXPECT_EQ(p.code, WEFT_MB_OK);
  EXPECT_EQ(p.h.action, WEFT_MB_PUBLISH);
  EXPECT_STREQ(p.h.topic, "system.initialize");
  EXPECT_STREQ(p.h.version, "1.0.0");
  EXPECT_STREQ(p.h.request_id, "");
  EXPECT_STREQ(p.h.parent_request_id, "");
  EXPECT_FALSE(p.h.has_timeout);
  EXPECT_EQ(p.h.timeout_ms, 5000u);
  EXPECT_EQ(encode(p.h), "publish:system.initialize:1.0.0");
}

TEST(MbHeader, EmptyMiddleFieldWrittenEmpty) {
  // The format description's own example: request:t:1.0.0:<id>::5000
  std::string line = std::string("request:t:1.0.0:") + kId + "::5000";
  Parsed p = parse(line);
  ASSERT_EQ(p.rv, 0) << p.err.message;
  EXPECT_EQ(p.h.action, WEFT_MB_REQUEST);
  EXPECT_STREQ(p.h.request_id, kId);
  EXPECT_STREQ(p.h.parent_request_id, "");
  EXPECT_TRUE(p.h.has_timeout);
  EXPECT_EQ(p.h.timeout_ms, 5000u);
  EXPECT_EQ(encode(p.h), line);

  weft_mb_header h;
  weft_mb_header_init(&h, WEFT_MB_REQUEST, "t", "1.0.0");
  strcpy(h.request_id, kId);
  h.has_timeout = true;
  h.timeout_ms = 5000;
  EXPECT_EQ(encode(h), line);
}

TEST(MbHeader, AllSixFields) {
  std::string line = std::string("response:aitbc.jobs.status:2.1.0-rc.1:") +
                     kId + ":" + kPid + ":3600000";
  Parsed p = parse(line);
  ASSERT_EQ(p.rv, 0) << p.err.message;
  EXPECT_EQ(p.h.action, WEFT_MB_RESPONSE);
  EXPECT_STREQ(p.h.version, "2.1.0-rc.1");
  EXPECT_STREQ(p.h.parent_request_id, kPid);
  EXPECT_EQ(p.h.timeout_ms, 3600000u);
  EXPECT_EQ(encode(p.h), line);
}

TEST(MbHeader, TrailingAbsentFieldsDropped) {
  weft_mb_header h;
  weft_mb_header_init(&h, WEFT_MB_REQUEST, "jobs.create", "1.0.0");
  strcpy(h.request_id, kId);
  EXPECT_EQ(encode(h), std::string("request:jobs.create:1.0.0:") + kId);
  strcpy(h.parent_request_id, kPid);
  EXPECT_EQ(encode(h),
            std::string("request:jobs.create:1.0.0:") + kId + ":" + kPid);
  // A publish with only a timeout: both id fields written empty.
  weft_mb_header_init(&h, WEFT_MB_PUBLISH, "a", "0.0.1");
  h.has_timeout = true;
  h.timeout_ms = 1;
  EXPECT_EQ(encode(h), "publish:a:0.0.1:::1");
}

TEST(MbHeader, ActionCaseInsensitiveWrittenLowercase) {
  for (const char *a : {"PUBLISH", "Publish", "pUbLiSh"}) {
    Parsed p = parse(std::string(a) + ":t:1.0.0");
    ASSERT_EQ(p.rv, 0) << a;
    EXPECT_EQ(p.h.action, WEFT_MB_PUBLISH);
    EXPECT_EQ(encode(p.h), "publish:t:1.0.0");
  }
  Parsed p = parse(std::string("REQUEST:t:1.0.0:") + kId);
  EXPECT_EQ(p.rv, 0);
  EXPECT_EQ(encode(p.h), std::string("request:t:1.0.0:") + kId);
  p = parse("RESPONSE:t:1.0.0");
  EXPECT_EQ(p.rv, 0);
  EXPECT_EQ(p.h.action, WEFT_MB_RESPONSE);
}

void expect_code(const std::string &line, weft_mb_code want) {
  Parsed p = parse(line);
  EXPECT_LT(p.rv, 0) << "accepted: " << line;
  EXPECT_EQ(p.code, want) << line << " -> " << weft_mb_code_name(p.code) << ": "
                          << p.err.message;
  EXPECT_NE(p.err.message[0], '\0') << line;
}

TEST(MbHeader, MissingOrExtraFields) {
  for (const char *l : {"", "publish", "publish:t", "publish:t:",
                        "request:t:1.0.0:a:b:1:extra", "a:b:c:d:e:f:g:h"}) {
    std::string line(l);
    Parsed p = parse(line);
    EXPECT_LT(p.rv, 0) << line;
    if (line == "publish:t:") {
      // Three fields with an empty version: a semver failure.
      EXPECT_EQ(p.code, WEFT_MB_VERSION_NOT_SUPPORTED);
    } else {
      EXPECT_EQ(p.code, WEFT_MB_MALFORMED_MESSAGE) << line;
    }
  }
}

TEST(MbHeader, BadAction) {
  for (const char *a : {"send", "", "publishx", "pub", "respons", "request "})
    expect_code(std::string(a) + ":t:1.0.0", WEFT_MB_INVALID_REQUEST);
}

TEST(MbHeader, Topics) {
  std::string max(255, 'a');
  for (const std::string &t :
       {std::string("a"), std::string("A1"), std::string("a.b.c.d.e"),
        std::string("system.service.register"), std::string("x9.Y8.z7"), max}) {
    EXPECT_TRUE(weft_mb_topic_valid(t.data(), t.size())) << t;
    Parsed p = parse("publish:" + t + ":1.0.0");
    EXPECT_EQ(p.rv, 0) << t << ": " << p.err.message;
  }
  for (const std::string &t :
       {std::string(""), std::string("1abc"), std::string("a..b"),
        std::string(".a"), std::string("a."), std::string("a_b"),
        std::string("a-b"), std::string("a b"), std::string("a.1b"),
        std::string("a.b.c.d.e.f"), std::string(256, 'a'),
        std::string("caf\xc3\xa9")}) {
    EXPECT_FALSE(weft_mb_topic_valid(t.data(), t.size())) << t;
    expect_code("publish:" + t + ":1.0.0", WEFT_MB_INVALID_REQUEST);
  }
}

TEST(MbHeader, Semver) {
  for (const char *v :
       {"0.0.0", "1.2.3", "10.20.30", "1.2.3-alpha", "1.2.3-alpha.1",
        "1.0.0-0A.is.legal", "1.0.0+build.5", "1.0.0-rc.1+sha.5114f85",
        "1.0.0-x-y-z.--", "1.0.0+0001"}) {
    EXPECT_TRUE(weft_mb_semver_valid(v, strlen(v))) << v;
    Parsed p = parse(std::string("publish:t:") + v);
    EXPECT_EQ(p.rv, 0) << v;
    EXPECT_STREQ(p.h.version, v);
  }
  for (const char *v :
       {"", "1", "1.0", "1.0.0.0", "01.0.0", "1.01.0", "1.0.00", "v1.0.0",
        "1.0.x", "1..0", "1.0.0-", "1.0.0+", "1.0.0-01", "1.0.0-a..b",
        "1.0.0-a_b", "1.0.0+a+b", " 1.0.0", "-1.0.0", "1.0.0-+"}) {
    EXPECT_FALSE(weft_mb_semver_valid(v, strlen(v))) << v;
    expect_code(std::string("publish:t:") + v, WEFT_MB_VERSION_NOT_SUPPORTED);
  }
}

TEST(MbHeader, RequestIds) {
  EXPECT_TRUE(weft_mb_uuid_valid(kId, strlen(kId)));
  const char *bad[] = {"0F8FAD5B-D9CB-469F-A165-70867728950E",  // uppercase
                       "0f8fad5b-d9cb-169f-a165-70867728950e",  // version 1
                       "0f8fad5b-d9cb-469f-c165-70867728950e",  // variant c
                       "0f8fad5bd9cb469fa16570867728950e",      // no dashes
                       "0f8fad5b-d9cb-469f-a165-70867728950",   // short
                       "0f8fad5b-d9cb-469f-a165-70867728950e0", // long
                       "0f8fad5b-d9cb-469f-a165-70867728950g",  // not hex
                       "0f8fad5b-d9cb-469fa-165-70867728950e", // dash misplaced
                       "{0f8fad5b-d9cb-469f-a165-70867728950e}", "42"};
  for (const char *id : bad) {
    EXPECT_FALSE(weft_mb_uuid_valid(id, strlen(id))) << id;
    expect_code(std::string("request:t:1.0.0:") + id,
                WEFT_MB_INVALID_REQUEST_ID);
    expect_code(std::string("response:t:1.0.0:") + kId + ":" + id,
                WEFT_MB_INVALID_REQUEST_ID);
  }
}

TEST(MbHeader, RequestNeedsAnId) {
  expect_code("request:t:1.0.0", WEFT_MB_INVALID_REQUEST_ID);
  expect_code("request:t:1.0.0:", WEFT_MB_INVALID_REQUEST_ID);
  expect_code(std::string("request:t:1.0.0::") + kPid + ":100",
              WEFT_MB_INVALID_REQUEST_ID);
  // Publishes and responses may go without.
  EXPECT_EQ(parse("publish:t:1.0.0:").rv, 0);
  EXPECT_EQ(parse("response:t:1.0.0").rv, 0);
}

TEST(MbHeader, Timeouts) {
  std::string pre = std::string("request:t:1.0.0:") + kId + "::";
  Parsed p = parse(pre + "1");
  ASSERT_EQ(p.rv, 0);
  EXPECT_EQ(p.h.timeout_ms, 1u);
  p = parse(pre + "3600000");
  ASSERT_EQ(p.rv, 0);
  EXPECT_EQ(p.h.timeout_ms, 3600000u);
  // Empty timeout: absent, default 5000.
  p = parse(pre);
  ASSERT_EQ(p.rv, 0);
  EXPECT_FALSE(p.h.has_timeout);
  EXPECT_EQ(p.h.timeout_ms, 5000u);
  for (const char *t : {"0", "3600001", "-1", "+5", "abc", "5000ms", "1.5",
                        " 5", "99999999999999999999", "0x10"})
    expect_code(pre + t, WEFT_MB_INVALID_REQUEST);
}

TEST(MbHeader, ValidFieldsKeptOnFailure) {
  // The error response is addressed with what could be read.
  Parsed p = parse("request:jobs.create:1.2.0:not-a-uuid");
  EXPECT_EQ(p.code, WEFT_MB_INVALID_REQUEST_ID);
  EXPECT_STREQ(p.h.topic, "jobs.create");
  EXPECT_STREQ(p.h.version, "1.2.0");
  EXPECT_EQ(p.h.action, WEFT_MB_REQUEST);
  p = parse(std::string("request:bad_topic:1.0.0:") + kId);
  EXPECT_EQ(p.code, WEFT_MB_INVALID_REQUEST);
  EXPECT_STREQ(p.h.topic, "");
  EXPECT_STREQ(p.h.request_id, kId);
  // The first broken rule (left to right) decides the code.
  p = parse("request:bad_topic:1.0:nope");
  EXPECT_EQ(p.code, WEFT_MB_INVALID_REQUEST);
}

TEST(MbHeader, LengthLimit) {
  // 8 + 255 + 20 + 36 + 36 + 7 + 5 colons = 367 bytes: the largest header.
  std::string topic(255, 'a');
  std::string v20 = "1.0.0-" + std::string(14, 'b');
  std::string line =
      "response:" + topic + ":" + v20 + ":" + kId + ":" + kPid + ":3600000";
  ASSERT_EQ(line.size(), 367u);
  Parsed p = parse(line);
  EXPECT_EQ(p.rv, 0) << p.err.message;
  EXPECT_EQ(encode(p.h), line);
  line = "response:" + topic + ":" + v20 + "c:" + kId + ":" + kPid + ":3600000";
  ASSERT_EQ(line.size(), 368u);
  p = parse(line);
  EXPECT_EQ(p.rv, WEFT_ERR_TOO_BIG);
  EXPECT_EQ(p.code, WEFT_MB_MALFORMED_MESSAGE);
  // The encoder refuses to write it.
  weft_mb_header h;
  weft_mb_header_init(&h, WEFT_MB_RESPONSE, topic.c_str(), (v20 + "c").c_str());
  strcpy(h.request_id, kId);
  strcpy(h.parent_request_id, kPid);
  h.has_timeout = true;
  h.timeout_ms = 3600000;
  char buf[512];
  weft_error err{};
  EXPECT_EQ(weft_mb_header_encode(&h, buf, sizeof buf, &err), WEFT_ERR_INVAL);
}

TEST(MbHeader, EncoderRejectsInvalidHeaders) {
  char buf[400];
  weft_error err{};
  weft_mb_header h;
  weft_mb_header_init(&h, WEFT_MB_PUBLISH, "bad topic", "1.0.0");
  EXPECT_EQ(weft_mb_header_encode(&h, buf, sizeof buf, &err), WEFT_ERR_INVAL);
  weft_mb_header_init(&h, WEFT_MB_PUBLISH, "t", "1.0");
  EXPECT_EQ(weft_mb_header_encode(&h, buf, sizeof buf, &err), WEFT_ERR_INVAL);
  weft_mb_header_init(&h, WEFT_MB_REQUEST, "t", "1.0.0");
  EXPECT_EQ(weft_mb_header_encode(&h, buf, sizeof buf, &err), WEFT_ERR_INVAL);
  strcpy(h.request_id, "0F8FAD5B-D9CB-469F-A165-70867728950E");
  EXPECT_EQ(weft_mb_header_encode(&h, buf, sizeof buf, &err), WEFT_ERR_INVAL);
  strcpy(h.request_id, kId);
  h.has_timeout = true;
  h.timeout_ms = 0;
  EXPECT_EQ(weft_mb_header_encode(&h, buf, sizeof buf, &err), WEFT_ERR_INVAL);
  h.timeout_ms = 3600001;
  EXPECT_EQ(weft_mb_header_encode(&h, buf, sizeof buf, &err), WEFT_ERR_INVAL);
  weft_mb_header_init(&h, WEFT_MB_ACTION_NONE, "t", "1.0.0");
  EXPECT_EQ(weft_mb_header_encode(&h, buf, sizeof buf, &err), WEFT_ERR_INVAL);
  weft_mb_header_init(&h, WEFT_MB_PUBLISH, "topic", "1.0.0");
  EXPECT_EQ(weft_mb_header_encode(&h, buf, 5, &err), WEFT_ERR_TOO_BIG);
  EXPECT_EQ(weft_mb_header_encode(&h, buf, 19, &err), WEFT_ERR_TOO_BIG);
  EXPECT_EQ(weft_mb_header_encode(&h, buf, 20, &err), 19);
  EXPECT_STREQ(buf, "publish:topic:1.0.0");
}

TEST(MbHeader, CodeNames) {
  const char *names[] = {"INVALID_REQUEST",     "MALFORMED_MESSAGE",
                         "INVALID_REQUEST_ID",  "VERSION_NOT_SUPPORTED",
                         "UNAUTHORIZED",        "FORBIDDEN",
                         "TOPIC_NOT_SUPPORTED", "NO_ROUTE_FOUND",
                         "SERVICE_UNAVAILABLE", "TIMEOUT",
                         "INTERNAL_ERROR"};
  ASSERT_EQ(sizeof names / sizeof names[0], (size_t)WEFT_MB_CODE_COUNT - 1);
  for (int i = 1; i < WEFT_MB_CODE_COUNT; i++) {
    EXPECT_STREQ(weft_mb_code_name((weft_mb_code)i), names[i - 1]);
    EXPECT_EQ(weft_mb_code_from_name(names[i - 1], strlen(names[i - 1])), i);
  }
  EXPECT_EQ(weft_mb_code_from_name("OK", 2), -1);
  EXPECT_EQ(weft_mb_code_from_name("timeout", 7), -1);
}

} // namespace
