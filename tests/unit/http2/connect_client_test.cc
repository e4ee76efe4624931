// The client side of a Connect response (connect_client.c), shared by the
// HTTP/2 and HTTP/1.1 clients: what status, metadata and messages a
// response gives, without a transport.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

extern "C" {
#include "connect_client.h"
#include "weft/transport.h"
}

namespace {

struct Resp {
  weft__connect_resp r{};
  Resp(bool stream, size_t max = 1024) {
    weft__connect_resp_init(&r, max, stream);
  }
  ~Resp() {
    weft__connect_resp_free(&r);
  }
  int data(const std::string &s, weft_error *e = nullptr) {
    weft_error local{};
    return weft__connect_resp_data(&r, (const uint8_t *)s.data(), s.size(),
                                   e ? e : &local);
  }
  void header(const char *n, const char *v) {
    weft__connect_resp_header(&r, n, strlen(n), v, strlen(v));
  }
  std::string md(const char *key) {
    const weft_metadata_entry *e = weft_metadata_get(&r.md, key);
    return e ? std::string((const char *)e->value, e->value_len) : "<none>";
  }
};

std::string envelope(uint8_t flags, const std::string &body) {
  uint8_t h[5];
  weft__connect_envelope_header(h, flags, (uint32_t)body.size());
  return std::string((const char *)h, 5) + body;
}

TEST(ConnectClient, UnaryOkWithTrailerHeaders) {
  Resp x(false);
  x.r.http_status = 200;
  x.header("Trailer-X-Sum", "9");
  x.header("X-Plain", "a");
  x.header("content-type", "application/proto");
  ASSERT_EQ(0, x.data("msg"));
  weft__connect_resp_end(&x.r);
  EXPECT_TRUE(x.r.have_status);
  EXPECT_EQ(WEFT_STATUS_OK, x.r.st.code);
  EXPECT_EQ("9", x.md("x-sum"));
  EXPECT_EQ("a", x.md("x-plain"));
  EXPECT_EQ("<none>", x.md("content-type"));
  EXPECT_EQ(std::string("msg"), std::string((char *)x.r.body, x.r.body_len));
}

TEST(ConnectClient, ErrorFromJsonElseHttpStatus) {
  {
    Resp x(false);
    x.r.http_status = 404;
    ASSERT_EQ(0, x.data(R"({"code":"not_found","message":"no job 7"})"));
    weft__connect_resp_end(&x.r);
    EXPECT_EQ(WEFT_STATUS_NOT_FOUND, x.r.st.code);
    EXPECT_STREQ("no job 7", x.r.st.message);
  }
  {
    Resp x(true);
    x.r.http_status = 503;
    ASSERT_EQ(0, x.data("<html>busy</html>"));
    weft__connect_resp_end(&x.r);
    EXPECT_EQ(WEFT_STATUS_UNAVAILABLE, x.r.st.code);
    EXPECT_STREQ("HTTP status 503 without a Connect error", x.r.st.message);
  }
  {
    Resp x(true); // the stream closed before any head
    weft__connect_resp_end(&x.r);
    EXPECT_EQ(WEFT_STATUS_UNAVAILABLE, x.r.st.code);
    EXPECT_STREQ("the stream closed before a response", x.r.st.message);
  }
}

TEST(ConnectClient, StatusIsSetOnce) {
  Resp x(false);
  weft__connect_resp_status(&x.r, WEFT_STATUS_DEADLINE_EXCEEDED, "deadline %s",
                            "exceeded");
  x.r.http_status = 200;
  weft__connect_resp_end(&x.r);
  EXPECT_EQ(WEFT_STATUS_DEADLINE_EXCEEDED, x.r.st.code);
  EXPECT_STREQ("deadline exceeded", x.r.st.message);
}

TEST(ConnectClient, StreamMessagesThenEndOfStream) {
  Resp x(true);
  x.r.http_status = 200;
  x.header("trailer-kept", "1"); // only unary trailers are prefixed
  std::string in = envelope(0, "one") + envelope(0, "two") +
                   envelope(WEFT__CONNECT_FLAG_END_STREAM,
                            R"({"metadata":{"x-sum":["2"]}})");
  for (char c : in) // a byte at a time
    ASSERT_EQ(0, x.data(std::string(1, c)));
  EXPECT_EQ(6u + 10u, x.r.queued);
  weft__connect_msg *m = weft__connect_resp_pop(&x.r);
  ASSERT_NE(nullptr, m);
  EXPECT_EQ("one", std::string((char *)m->data, m->len));
  free(m);
  m = weft__connect_resp_pop(&x.r);
  ASSERT_NE(nullptr, m);
  free(m);
  EXPECT_EQ(nullptr, weft__connect_resp_pop(&x.r));
  EXPECT_EQ(0u, x.r.queued);
  weft__connect_resp_end(&x.r);
  EXPECT_EQ(WEFT_STATUS_OK, x.r.st.code);
  EXPECT_EQ("2", x.md("x-sum"));
  EXPECT_EQ("1", x.md("trailer-kept"));
  // Nothing may follow the end of the stream.
  weft_error e{};
  EXPECT_LT(x.data(envelope(0, "late"), &e), 0);
}

TEST(ConnectClient, StreamCutShort) {
  Resp a(true), b(true);
  a.r.http_status = b.r.http_status = 200;
  ASSERT_EQ(0, a.data(envelope(0, "whole")));
  ASSERT_EQ(0, b.data(envelope(0, "whole").substr(0, 7)));
  weft__connect_resp_end(&a.r);
  weft__connect_resp_end(&b.r);
  EXPECT_EQ(WEFT_STATUS_INTERNAL, a.r.st.code);
  EXPECT_NE(nullptr, strstr(a.r.st.message, "without a Connect end-of-stream"));
  EXPECT_NE(nullptr, strstr(b.r.st.message, "inside a message"));
}

TEST(ConnectClient, Limits) {
  Resp x(false, 16);
  x.r.http_status = 200;
  weft_error e{};
  EXPECT_EQ(WEFT_ERR_TOO_BIG, x.data(std::string(16 + 65536 + 1, 'x'), &e));
  EXPECT_EQ(WEFT_STATUS_RESOURCE_EXHAUSTED, x.r.st.code);
  Resp s(true, 16);
  s.r.http_status = 200;
  EXPECT_LT(s.data(envelope(0, std::string(17, 'y')), &e), 0);
  EXPECT_EQ(WEFT_STATUS_INTERNAL, s.r.st.code);
}

TEST(ConnectClient, TimeoutMs) {
  EXPECT_EQ(-1, weft__connect_timeout_ms(INT64_MAX));
  EXPECT_EQ(1, weft__connect_timeout_ms(weft_now_ns() - 5000000000));
  int64_t ms = weft__connect_timeout_ms(weft_now_ns() + 3000000000);
  EXPECT_GT(ms, 2000);
  EXPECT_LE(ms, 3000);
}

} // namespace
