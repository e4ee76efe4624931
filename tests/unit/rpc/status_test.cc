// Status names and values, metadata, URLs, deadlines, transport registry.
#include <gtest/gtest.h>

#include <string>

extern "C" {
#include "weft/status.h"
#include "weft/transport.h"
}

namespace {

TEST(Status, NamesBothForms) {
  EXPECT_STREQ(weft_status_name(WEFT_STATUS_OK), "OK");
  EXPECT_STREQ(weft_status_name(WEFT_STATUS_NOT_FOUND), "NOT_FOUND");
  EXPECT_STREQ(weft_status_name(16), "UNAUTHENTICATED");
  EXPECT_STREQ(weft_status_name(17), "UNKNOWN");
  EXPECT_STREQ(weft_status_name(-1), "UNKNOWN");
  EXPECT_STREQ(weft_status_connect_name(1), "canceled");
  EXPECT_STREQ(weft_status_connect_name(4), "deadline_exceeded");
  for (int c = 0; c <= 16; c++) {
    EXPECT_EQ(weft_status_from_name(weft_status_name(c)), c);
    EXPECT_EQ(weft_status_from_name(weft_status_connect_name(c)), c);
  }
  EXPECT_EQ(weft_status_from_name("no_such"), -1);
  EXPECT_EQ(weft_status_from_name(nullptr), -1);
}

TEST(Status, SetClearMove) {
  weft_status a = {}, b = {};
  weft_status_set(&a, WEFT_STATUS_NOT_FOUND, "job %d missing", 42);
  EXPECT_EQ(a.code, 5);
  EXPECT_STREQ(a.message, "job 42 missing");
  weft_status_set(&a, WEFT_STATUS_INTERNAL, "again"); // frees the old one
  weft_status_move(&b, &a);
  EXPECT_EQ(b.code, 13);
  EXPECT_STREQ(b.message, "again");
  EXPECT_EQ(a.message, nullptr);
  EXPECT_EQ(a.code, 0);
  weft_status_clear(&b);
  EXPECT_EQ(b.message, nullptr);
}

TEST(Metadata, RefusesHeaderInjectionAndBadKeys) {
  weft_metadata md = WEFT_METADATA_INIT;
  EXPECT_EQ(weft_metadata_add_str(&md, "x-k", "a\r\nx-evil: 1"),
            WEFT_ERR_INVAL);
  EXPECT_EQ(weft_metadata_add_str(&md, "x-k", "a\nb"), WEFT_ERR_INVAL);
  EXPECT_EQ(weft_metadata_add(&md, "x-k", "a\0b", 3), WEFT_ERR_INVAL);
  EXPECT_EQ(weft_metadata_add_str(&md, "x k", "v"), WEFT_ERR_INVAL);
  EXPECT_EQ(weft_metadata_add_str(&md, "x:k", "v"), WEFT_ERR_INVAL);
  EXPECT_EQ(weft_metadata_add_str(&md, "x\r\nk", "v"), WEFT_ERR_INVAL);
  EXPECT_EQ(md.count, 0u);
  // Binary values may hold any byte; obs-text and tabs in text values pass.
  const uint8_t bin[] = {'\r', '\n', 0};
  EXPECT_EQ(weft_metadata_add(&md, "x-trace-bin", bin, sizeof bin), 0);
  EXPECT_EQ(weft_metadata_add_str(&md, "x-k", "caf\xc3\xa9\tok"), 0);
  EXPECT_EQ(md.count, 2u);
  weft_metadata_clear(&md);
}

TEST(Metadata, AddGetCopyClear) {
  weft_metadata md = WEFT_METADATA_INIT;
  ASSERT_EQ(weft_metadata_add_str(&md, "X-Api-Key", "secret"), 0);
  const uint8_t bin[] = {0, 1, 2, 255};
  ASSERT_EQ(weft_metadata_add(&md, "trace-bin", bin, sizeof bin), 0);
  ASSERT_EQ(weft_metadata_add_str(&md, "x-api-key", "second"), 0);
  EXPECT_EQ(md.count, 3u);
  EXPECT_STREQ(md.entries[0].key, "x-api-key"); // lowercased
  const weft_metadata_entry *e = weft_metadata_get(&md, "X-API-KEY");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(std::string((char *)e->value, e->value_len), "secret");
  e = weft_metadata_get(&md, "trace-bin");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->value_len, 4u);
  EXPECT_EQ(e->value[3], 255);
  EXPECT_EQ(weft_metadata_get(&md, "absent"), nullptr);
  weft_metadata cp = WEFT_METADATA_INIT;
  ASSERT_EQ(weft_metadata_copy(&cp, &md), 0);
  EXPECT_EQ(cp.count, 3u);
  EXPECT_EQ(weft_metadata_add_str(&cp, "", "x"), WEFT_ERR_INVAL);
  weft_metadata_clear(&md);
  weft_metadata_clear(&cp);
  EXPECT_EQ(md.count, 0u);
}

TEST(Url, Parses) {
  weft_url u;
  weft_error err;
  ASSERT_EQ(weft_url_parse("tcp://127.0.0.1:5555", &u, &err), 0);
  EXPECT_STREQ(u.scheme, "tcp");
  EXPECT_STREQ(u.host, "127.0.0.1");
  EXPECT_EQ(u.port, 5555);
  EXPECT_STREQ(u.path, "");
  ASSERT_EQ(weft_url_parse("WSS://Example.com/ws/v1?api_key=a%20b&x=1#frag", &u,
                           &err),
            0);
  EXPECT_STREQ(u.scheme, "wss");
  EXPECT_STREQ(u.host, "Example.com");
  EXPECT_EQ(u.port, -1);
  EXPECT_STREQ(u.path, "/ws/v1");
  EXPECT_STREQ(u.query, "api_key=a%20b&x=1");
  ASSERT_EQ(weft_url_parse("grpc://[::1]:50051/", &u, &err), 0);
  EXPECT_STREQ(u.host, "::1");
  EXPECT_EQ(u.port, 50051);
  EXPECT_STREQ(u.path, "/");
  ASSERT_EQ(weft_url_parse("mem://server-a", &u, &err), 0);
  EXPECT_STREQ(u.host, "server-a");
}

TEST(Url, Rejects) {
  weft_url u;
  weft_error err;
  const char *bad[] = {"127.0.0.1:80", "://x",          "tcp://",
                       "tcp://:80",    "tcp://h:",      "tcp://h:99999",
                       "tcp://h:8x",   "tcp://[::1",    "tcp://[::1]x",
                       "1tcp://h",     "tcp://u:p@h:1", "t_p://h"};
  for (const char *b : bad) {
    EXPECT_EQ(weft_url_parse(b, &u, &err), WEFT_ERR_BAD_URL) << b;
    EXPECT_NE(std::string(err.message).find("url"), std::string::npos);
  }
}

TEST(Url, QueryParam) {
  char buf[32];
  EXPECT_EQ(
      weft_url_query_param("a=1&api_key=s%3Dx+y&b", "api_key", buf, sizeof buf),
      0);
  EXPECT_STREQ(buf, "s=x y");
  EXPECT_EQ(weft_url_query_param("a=1&b", "b", buf, sizeof buf), 0);
  EXPECT_STREQ(buf, "");
  EXPECT_EQ(weft_url_query_param("a=1&ab=2", "b", buf, sizeof buf), -1);
  EXPECT_EQ(weft_url_query_param("a=100%", "a", buf, sizeof buf), 0);
  EXPECT_STREQ(buf, "100%");
  char small[3];
  EXPECT_EQ(weft_url_query_param("a=1234", "a", small, sizeof small),
            WEFT_ERR_TOO_BIG);
}

TEST(Clock, Deadlines) {
  int64_t a = weft_now_ns();
  int64_t b = weft_now_ns();
  EXPECT_LE(a, b);
  EXPECT_EQ(weft_deadline_from_timeout_ms(0), INT64_MAX);
  EXPECT_EQ(weft_deadline_from_timeout_ms(-5), INT64_MAX);
  EXPECT_EQ(weft_deadline_from_timeout_ms(INT64_MAX), INT64_MAX);
  int64_t d = weft_deadline_from_timeout_ms(1000);
  EXPECT_GT(d, b);
}

int fake_connect(weft_client *, const weft_url *, const weft_client_opts *,
                 void **, weft_error *) {
  return WEFT_ERR_CONNECT;
}
int fake_start(void *, const weft_method_desc *, const weft_metadata *, int64_t,
               void **, weft_error *) {
  return WEFT_ERR_UNSUPPORTED;
}
int fake_finish(void *, weft_status *, weft_metadata *) {
  return 0;
}

TEST(Registry, RegisterFindReplace) {
  static weft_client_transport t1 = {};
  t1.scheme = "fake";
  t1.connect = fake_connect;
  t1.call_start = fake_start;
  t1.call_finish = fake_finish;
  static weft_client_transport t2 = t1;
  EXPECT_EQ(weft_find_client_transport("fake"), nullptr);
  ASSERT_EQ(weft_register_client_transport(&t1), 0);
  EXPECT_EQ(weft_find_client_transport("FAKE"), &t1);
  ASSERT_EQ(weft_register_client_transport(&t2), 0);
  EXPECT_EQ(weft_find_client_transport("fake"), &t2);
  weft_client_transport incomplete = {};
  incomplete.scheme = "x";
  EXPECT_EQ(weft_register_client_transport(&incomplete), WEFT_ERR_INVAL);
  EXPECT_EQ(weft_find_server_transport("fake"), nullptr);
}

} // namespace
