// Tagged, chainable transport options (weft/opts.h): lookups by tag, the
// rule that tells a tag from an untagged struct, INVAL at listen/open for
// an untagged chain, and one server whose listeners each take their own
// options from one chain.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

extern "C" {
#include "echo_service.h"
#include "weft/client.h"
#include "weft/grpc_transport.h"
#include "weft/http2.h"
#include "weft/opts.h"
#include "weft/server.h"
#include "weft/transport.h"
#include "weft/websocket.h"
}

namespace {

TEST(OptsChain, TagsAndLookups) {
  EXPECT_EQ(WEFT_HTTP2_OPTS_TAG, 0x32683277u) << "the tag HTTP/2 always had";
  EXPECT_TRUE(weft_opts_tag_valid(WEFT_HTTP2_OPTS_TAG));
  EXPECT_TRUE(weft_opts_tag_valid(WEFT_WS_OPTS_TAG));
  EXPECT_TRUE(weft_opts_tag_valid(WEFT_GRPC_OPTS_TAG));
  EXPECT_TRUE(weft_opts_tag_valid(WEFT_OPTS_TAG('w', 'x', 'y', '9')));
  EXPECT_FALSE(weft_opts_tag_valid(0));
  EXPECT_FALSE(weft_opts_tag_valid(1));
  EXPECT_FALSE(weft_opts_tag_valid(WEFT_OPTS_TAG('x', 'x', 'y', 'z')));
  EXPECT_FALSE(weft_opts_tag_valid(WEFT_OPTS_TAG('w', 'x', 'y', '\0')));

  weft_grpc_opts g = WEFT_GRPC_OPTS_INIT;
  weft_http2_opts h = WEFT_HTTP2_OPTS_INIT;
  weft_ws_opts w = WEFT_WS_OPTS_INIT;
  EXPECT_EQ(g.hdr.tag, WEFT_GRPC_OPTS_TAG);
  EXPECT_EQ(h.hdr.tag, WEFT_HTTP2_OPTS_TAG);
  EXPECT_EQ(w.hdr.tag, WEFT_WS_OPTS_TAG);
  EXPECT_EQ(weft_opts_find(nullptr, WEFT_WS_OPTS_TAG), nullptr);
  EXPECT_EQ(weft_opts_find(&g, WEFT_WS_OPTS_TAG), nullptr);
  EXPECT_EQ(weft_opts_find(&g, WEFT_GRPC_OPTS_TAG), &g);
  g.hdr.next = &h.hdr;
  h.hdr.next = &w.hdr;
  EXPECT_EQ(weft_opts_find(&g, WEFT_GRPC_OPTS_TAG), &g);
  EXPECT_EQ(weft_opts_find(&g, WEFT_HTTP2_OPTS_TAG), &h);
  EXPECT_EQ(weft_opts_find(&g, WEFT_WS_OPTS_TAG), &w);
  EXPECT_EQ(weft_opts_find(&g, WEFT_OPTS_TAG('w', 'n', 'o', 'p')), nullptr);
  weft_error err;
  weft_error_clear(&err);
  EXPECT_EQ(weft_opts_check(&g, "t", &err), 0) << err.message;
  const void *out = nullptr;
  EXPECT_EQ(weft_opts_get(&g, WEFT_WS_OPTS_TAG, &out, &err), 0);
  EXPECT_EQ(out, &w);
}

TEST(OptsChain, UntaggedAndCyclicChainsAreRefused) {
  weft_error err;
  weft_error_clear(&err);
  // An options struct initialized with {0}: no tag.
  weft_grpc_opts zero;
  memset(&zero, 0, sizeof zero);
  zero.gzip = true;
  EXPECT_EQ(weft_opts_check(&zero, "transport_opts", &err), WEFT_ERR_INVAL);
  EXPECT_NE(strstr(err.message, "OPTS_INIT"), nullptr) << err.message;
  EXPECT_EQ(weft_opts_find(&zero, WEFT_GRPC_OPTS_TAG), nullptr)
      << "an untagged struct is never taken for one";
  // Garbage second in the chain.
  weft_http2_opts h = WEFT_HTTP2_OPTS_INIT;
  h.hdr.next = &zero.hdr;
  EXPECT_EQ(weft_opts_check(&h, "transport_opts", &err), WEFT_ERR_INVAL);
  EXPECT_NE(strstr(err.message, "struct 2"), nullptr) << err.message;
  // A cycle.
  weft_ws_opts a = WEFT_WS_OPTS_INIT, b = WEFT_WS_OPTS_INIT;
  a.hdr.next = &b.hdr;
  b.hdr.next = &a.hdr;
  EXPECT_EQ(weft_opts_check(&a, "transport_opts", &err), WEFT_ERR_INVAL);
  EXPECT_NE(strstr(err.message, "cycle"), nullptr) << err.message;
}

// The struct a transport would have misread before tags: an old-style
// options struct whose first word is a plain field.
struct Untagged {
  int64_t ping_interval_ms = 5000;
  int64_t more = 1;
};

class UntaggedListen : public ::testing::TestWithParam<std::string> {};

TEST_P(UntaggedListen, IsInvalAtListenAndOpen) {
  static Untagged u;
  weft_server_opts so;
  memset(&so, 0, sizeof so);
  so.transport_opts = &u;
  weft_server *srv = nullptr;
  ASSERT_EQ(weft_server_new(&srv, &so), 0);
  ASSERT_EQ(weft_test_echo_add(srv), 0);
  weft_error err;
  weft_error_clear(&err);
  std::string url = GetParam() + "://127.0.0.1:0";
  EXPECT_EQ(weft_server_listen(srv, url.c_str(), &err), WEFT_ERR_INVAL);
  EXPECT_NE(strstr(err.message, "transport_opts"), nullptr) << err.message;
  EXPECT_NE(strstr(err.message, "OPTS_INIT"), nullptr) << err.message;
  weft_server_free(srv);

  weft_client_opts co;
  memset(&co, 0, sizeof co);
  co.transport_opts = &u;
  weft_client *c = nullptr;
  url = GetParam() + "://127.0.0.1:9"; // never dialled
  EXPECT_EQ(weft_client_open(&c, url.c_str(), &co, NULL), WEFT_ERR_INVAL);
  EXPECT_EQ(c, nullptr);
}

INSTANTIATE_TEST_SUITE_P(Transports, UntaggedListen,
                         ::testing::Values("tcp", "ws", "h2c", "grpc"),
                         [](const auto &i) { return i.param; });

TEST(OptsChain, RawWebSocketClientChecksTheChain) {
  static Untagged u;
  weft_client_opts co;
  memset(&co, 0, sizeof co);
  co.transport_opts = &u;
  weft_ws_conn *c = nullptr;
  weft_ws_handler h{};
  weft_error err;
  weft_error_clear(&err);
  EXPECT_EQ(
      weft_ws_connect(&c, "ws://127.0.0.1:9/", &co, nullptr, &h, nullptr, &err),
      WEFT_ERR_INVAL);
  EXPECT_NE(strstr(err.message, "OPTS_INIT"), nullptr) << err.message;
}

int refuse_raw(void *ud, const weft_ws_request *req, weft_ws_accept *acc) {
  (void)ud;
  if (strcmp(req->path, "/raw") != 0)
    return 0;
  acc->reason = "no raw here";
  return 403;
}

int unary_code(const std::string &url, const char *path = nullptr) {
  weft_client *c = nullptr;
  if (weft_client_open(&c, url.c_str(), nullptr, NULL) < 0)
    return -1;
  weft_call_opts o;
  memset(&o, 0, sizeof o);
  weft_method_desc m = weft__test__Echo_service.methods[0];
  if (path)
    m.path = path;
  weft__test__EchoRequest req = weft__test__EchoRequest_INIT;
  req.text = (char *)"chain";
  void *resp = nullptr;
  weft_call_unary(c, &m, &req, &resp, &o);
  if (resp)
    weft_message_free(resp);
  int code = o.status.code;
  weft_status_clear(&o.status);
  weft_client_close(c);
  return code;
}

// One server, one chain: WebSocket (head), HTTP/2, gRPC (tail). Each
// listener finds its own struct, and ignores the others.
TEST(OptsChain, OneServerEveryTransportOneChain) {
  weft_ws_opts w = WEFT_WS_OPTS_INIT;
  weft_http2_opts h = WEFT_HTTP2_OPTS_INIT;
  weft_grpc_opts g = WEFT_GRPC_OPTS_INIT;
  w.route = refuse_raw;
  h.inline_handlers = true;
  g.no_health = true;
  w.hdr.next = &h.hdr;
  h.hdr.next = &g.hdr;
  weft_server_opts so;
  memset(&so, 0, sizeof so);
  so.transport_opts = &w;
  so.max_msgs_per_sec = 1000000;
  weft_server *srv = nullptr;
  ASSERT_EQ(weft_server_new(&srv, &so), 0);
  ASSERT_EQ(weft_test_echo_add(srv), 0);
  const char *schemes[] = {"tcp", "ws", "h2c", "grpc"};
  std::string urls[4];
  for (unsigned i = 0; i < 4; i++) {
    weft_error err;
    weft_error_clear(&err);
    std::string u = std::string(schemes[i]) + "://127.0.0.1:0";
    ASSERT_EQ(weft_server_listen(srv, u.c_str(), &err), 0)
        << u << ": " << err.message;
    urls[i] = std::string(schemes[i]) +
              "://127.0.0.1:" + std::to_string(weft_server_port(srv, i));
  }
  for (auto &u : urls)
    EXPECT_EQ(unary_code(u), WEFT_STATUS_OK) << u;
  // ws:// took the route from the chain's head.
  weft_ws_conn *c = nullptr;
  weft_ws_handler hd{};
  weft_error err;
  weft_error_clear(&err);
  std::string raw = urls[1] + "/raw";
  EXPECT_EQ(
      weft_ws_connect(&c, raw.c_str(), nullptr, nullptr, &hd, nullptr, &err),
      WEFT_ERR_HANDSHAKE);
  EXPECT_NE(strstr(err.message, "403"), nullptr) << err.message;
  // grpc:// took no_health from the chain's tail.
  EXPECT_EQ(unary_code(urls[3], "/grpc.health.v1.Health/Check"),
            WEFT_STATUS_UNIMPLEMENTED);
  weft_server_free(srv);

  // Control: without the chain, gRPC serves health (whatever it answers to
  // an Echo-shaped request, it is not UNIMPLEMENTED).
  weft_server_opts plain;
  memset(&plain, 0, sizeof plain);
  ASSERT_EQ(weft_server_new(&srv, &plain), 0);
  ASSERT_EQ(weft_test_echo_add(srv), 0);
  ASSERT_EQ(weft_server_listen(srv, "grpc://127.0.0.1:0", &err), 0);
  std::string gu =
      "grpc://127.0.0.1:" + std::to_string(weft_server_port(srv, 0));
  EXPECT_NE(unary_code(gu, "/grpc.health.v1.Health/Check"),
            WEFT_STATUS_UNIMPLEMENTED);
  weft_server_free(srv);
}

} // namespace
