// The MB header line: every rule the broker (mb-server-node) applies, each
// broken on purpose; every header failure is MALFORMED_MESSAGE, as the broker
// answers it.
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
  std::string line = std::string("request:aitbc.jobs.status:2.1.0-rc.1:") +
                     kId + ":" + kPid + ":3600000";
  Parsed p = parse(line);
  ASSERT_EQ(p.rv, 0) << p.err.message;
  EXPECT_EQ(p.h.action, WEFT_MB_REQUEST);
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
  // A fire-and-forget request with only a timeout: both id fields empty.
  weft_mb_header_init(&h, WEFT_MB_REQUEST, "a", "0.0.1");
  h.has_timeout = true;
  h.timeout_ms = 1;
  EXPECT_EQ(encode(h), "request:a:0.0.1:::1");
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

void expect_malformed(const std::string &line) {
  Parsed p = parse(line);
  EXPECT_LT(p.rv, 0) << "accepted: " << line;
  EXPECT_EQ(p.code, WEFT_MB_MALFORMED_MESSAGE)
      << line << " -> " << weft_mb_code_name(p.code) << ": " << p.err.message;
  EXPECT_NE(p.err.message[0], '\0') << line;
}

TEST(MbHeader, MissingFields) {
  for (const char *l : {"", "publish", "publish:t", "publish:t:",
                        "request:t:1.0.0:a:b:1:extra", "a:b:c:d:e:f:g:h"})
    expect_malformed(l);
}

TEST(MbHeader, FieldsPastTheSixthIgnored) {
  // The broker splits on ':' and reads six fields at most.
  Parsed p = parse(std::string("request:t:1.0.0:") + kId + ":" + kPid +
                   ":100:extra:more");
  ASSERT_EQ(p.rv, 0) << p.err.message;
  EXPECT_EQ(p.h.timeout_ms, 100u);
  EXPECT_EQ(encode(p.h),
            std::string("request:t:1.0.0:") + kId + ":" + kPid + ":100");
}

TEST(MbHeader, BadAction) {
  for (const char *a : {"send", "", "publishx", "pub", "respons", "request "})
    expect_malformed(std::string(a) + ":t:1.0.0");
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
    expect_malformed("publish:" + t + ":1.0.0");
  }
}

TEST(MbHeader, Semver) {
  // node-semver's valid(): white space around and one leading "v" pass.
  for (const char *v :
       {"0.0.0", "1.2.3", "10.20.30", "1.2.3-alpha", "1.2.3-alpha.1",
        "1.0.0-0A.is.legal", "1.0.0+build.5", "1.0.0-rc.1+sha.5114f85",
        "1.0.0-x-y-z.--", "1.0.0+0001", "v1.0.0", " 1.0.0", "1.0.0\r",
        "\t1.0.0 ", "1.0.0\xc2\xa0", "9007199254740991.0.0"}) {
    EXPECT_TRUE(weft_mb_semver_valid(v, strlen(v))) << v;
    Parsed p = parse(std::string("publish:t:") + v);
    EXPECT_EQ(p.rv, 0) << v;
    EXPECT_STREQ(p.h.version, v); // kept as sent: the broker forwards it so
  }
  for (const char *v : {"",           "1",         "1.0",
                        "1.0.0.0",    "01.0.0",    "1.01.0",
                        "1.0.00",     "vv1.0.0",   "=1.0.0",
                        "V1.0.0",     "1.0.x",     "1..0",
                        "1.0.0-",     "1.0.0+",    "1.0.0-01",
                        "1.0.0-a..b", "1.0.0-a_b", "1.0.0+a+b",
                        "-1.0.0",     "1.0.0-+",   "9007199254740992.0.0",
                        "1 .0.0"}) {
    EXPECT_FALSE(weft_mb_semver_valid(v, strlen(v))) << v;
    expect_malformed(std::string("publish:t:") + v);
  }
  // At most 256 characters, white space included.
  std::string v = "1.0.0+" + std::string(250, 'b');
  EXPECT_TRUE(weft_mb_semver_valid(v.data(), v.size()));
  v += "b";
  EXPECT_FALSE(weft_mb_semver_valid(v.data(), v.size()));
}

TEST(MbHeader, RequestIds) {
  EXPECT_TRUE(weft_mb_uuid_valid(kId, strlen(kId)));
  // The broker checks the shape only: any version and variant pass.
  for (const char *id : {"0f8fad5b-d9cb-169f-a165-70867728950e",
                         "0f8fad5b-d9cb-769f-c165-70867728950e"}) {
    EXPECT_TRUE(weft_mb_uuid_valid(id, strlen(id))) << id;
    EXPECT_EQ(parse(std::string("request:t:1.0.0:") + id).rv, 0) << id;
  }
  const char *bad[] = {"0F8FAD5B-D9CB-469F-A165-70867728950E",  // uppercase
                       "0f8fad5bd9cb469fa16570867728950e",      // no dashes
                       "0f8fad5b-d9cb-469f-a165-70867728950",   // short
                       "0f8fad5b-d9cb-469f-a165-70867728950e0", // long
                       "0f8fad5b-d9cb-469f-a165-70867728950g",  // not hex
                       "0f8fad5b-d9cb-469fa-165-70867728950e", // dash misplaced
                       "{0f8fad5b-d9cb-469f-a165-70867728950e}", "42"};
  for (const char *id : bad) {
    EXPECT_FALSE(weft_mb_uuid_valid(id, strlen(id))) << id;
    expect_malformed(std::string("request:t:1.0.0:") + id);
    expect_malformed(std::string("response:t:1.0.0:") + kId + ":" + id);
  }
}

TEST(MbHeader, RequestWithoutIdIsLegal) {
  // Fire-and-forget requests, and the broker's own heartbeat.
  for (const char *l :
       {"request:t:1.0.0", "request:t:1.0.0:", "request:system.heartbeat:1.0.0",
        "publish:t:1.0.0:", "response:t:1.0.0"}) {
    Parsed p = parse(l);
    EXPECT_EQ(p.rv, 0) << l << ": " << p.err.message;
    EXPECT_STREQ(p.h.request_id, "");
  }
  Parsed p = parse(std::string("request:t:1.0.0::") + kPid + ":100");
  EXPECT_EQ(p.rv, 0);
  EXPECT_EQ(encode(p.h), std::string("request:t:1.0.0::") + kPid + ":100");
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
  // Read as JavaScript's parseInt reads it.
  const std::pair<const char *, uint32_t> lenient[] = {{"+5", 5},
                                                       {" 5", 5},
                                                       {"5000ms", 5000},
                                                       {"1.5", 1},
                                                       {"0x10", 16},
                                                       {"0X1f", 31},
                                                       {"1e3", 1},
                                                       {"\t7 ", 7},
                                                       {"007", 7},
                                                       {"\xc2\xa0"
                                                        "9",
                                                        9}};
  for (auto &[t, want] : lenient) {
    p = parse(pre + t);
    ASSERT_EQ(p.rv, 0) << t << ": " << p.err.message;
    EXPECT_EQ(p.h.timeout_ms, want) << t;
    EXPECT_EQ(encode(p.h), pre + std::to_string(want));
  }
  for (const char *t : {"0", "3600001", "-1", "-0", "abc", "0x", "x1", " ",
                        "99999999999999999999", "0x36ee81", "+-1"})
    expect_malformed(pre + t);
  // Only a request may carry one.
  expect_malformed(std::string("publish:t:1.0.0:") + kId + "::100");
  expect_malformed("response:t:1.0.0:::100");
  expect_malformed("publish:t:1.0.0:::abc");
}

TEST(MbHeader, ValidFieldsKeptOnFailure) {
  Parsed p = parse("request:jobs.create:1.2.0:not-a-uuid");
  EXPECT_EQ(p.code, WEFT_MB_MALFORMED_MESSAGE);
  EXPECT_STREQ(p.h.topic, "jobs.create");
  EXPECT_STREQ(p.h.version, "1.2.0");
  EXPECT_EQ(p.h.action, WEFT_MB_REQUEST);
  p = parse(std::string("request:bad_topic:1.0.0:") + kId);
  EXPECT_EQ(p.code, WEFT_MB_MALFORMED_MESSAGE);
  EXPECT_STREQ(p.h.topic, "");
  EXPECT_STREQ(p.h.request_id, kId);
}

TEST(MbHeader, LengthLimit) {
  // The broker looks for the newline in the first 367 bytes: the header line
  // is at most 366 bytes.
  std::string topic(255, 'a');
  std::string v19 = "1.0.0-" + std::string(13, 'b');
  std::string line =
      "request:" + topic + ":" + v19 + "c:" + kId + ":" + kPid + ":3600000";
  ASSERT_EQ(line.size(), 366u);
  Parsed p = parse(line);
  EXPECT_EQ(p.rv, 0) << p.err.message;
  EXPECT_EQ(encode(p.h), line);
  line = "request:" + topic + ":" + v19 + "cc:" + kId + ":" + kPid + ":3600000";
  ASSERT_EQ(line.size(), 367u);
  p = parse(line);
  EXPECT_EQ(p.rv, WEFT_ERR_TOO_BIG);
  EXPECT_EQ(p.code, WEFT_MB_MALFORMED_MESSAGE);
  // The encoder refuses to write it.
  weft_mb_header h;
  weft_mb_header_init(&h, WEFT_MB_REQUEST, topic.c_str(), (v19 + "cc").c_str());
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
  strcpy(h.request_id, "0F8FAD5B-D9CB-469F-A165-70867728950E");
  EXPECT_EQ(weft_mb_header_encode(&h, buf, sizeof buf, &err), WEFT_ERR_INVAL);
  strcpy(h.request_id, kId);
  h.has_timeout = true;
  h.timeout_ms = 0;
  EXPECT_EQ(weft_mb_header_encode(&h, buf, sizeof buf, &err), WEFT_ERR_INVAL);
  h.timeout_ms = 3600001;
  EXPECT_EQ(weft_mb_header_encode(&h, buf, sizeof buf, &err), WEFT_ERR_INVAL);
  // A timeout on a publish: the broker would refuse it.
  weft_mb_header_init(&h, WEFT_MB_PUBLISH, "t", "1.0.0");
  h.has_timeout = true;
  h.timeout_ms = 100;
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
