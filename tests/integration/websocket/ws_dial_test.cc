// weft's WebSocket client on weft_loop (the dialer under ws:// and wss://)
// with raw handlers: echo, close handshakes from either side, a refused
// upgrade, and TLS.
#include "self_signed.h"
#include "ws_test_util.h"

#include <cstdlib>
#include <cstring>

using wstest::Dialed;
using wstest::Inbox;
using wstest::Server;

namespace {

TEST(WsDial, EchoThenClientCloses) {
  Server srv;
  Inbox in;
  {
    Dialed d(srv.port(), &in);
    ASSERT_EQ(d.rv, 0) << d.err.message;
    EXPECT_STREQ(weft_ws_conn_protocol(d.c), "chat");
    EXPECT_TRUE(in.opened);
    ASSERT_EQ(weft_ws_conn_send(d.c, true, "one", 3), 0);
    std::string big(300000, 'q');
    ASSERT_EQ(weft_ws_conn_send(d.c, false, big.data(), big.size()), 0);
    ASSERT_TRUE(in.wait_msgs(2));
    EXPECT_EQ(in.msgs[0], "one");
    EXPECT_EQ(in.msgs[1], big);
  }
  EXPECT_EQ(in.code, 1000);
  ASSERT_TRUE(srv.wait_closed(1));
  EXPECT_EQ(srv.closed()[0].code, 1000);
}

TEST(WsDial, ServerClosesFirst) {
  Server srv;
  Inbox in;
  Dialed d(srv.port(), &in, "/hello");
  ASSERT_EQ(d.rv, 0) << d.err.message;
  ASSERT_TRUE(in.wait_closed());
  EXPECT_EQ(in.code, 1000);
  EXPECT_EQ(in.reason, "bye");
  ASSERT_EQ(in.msgs.size(), 1u);
  EXPECT_EQ(in.msgs[0], "hello");
  EXPECT_EQ(weft_ws_conn_send(d.c, true, "late", 4), WEFT_ERR_CLOSED);
}

TEST(WsDial, RefusedUpgradeSaysWhy) {
  Server srv;
  Inbox in;
  Dialed d(srv.port(), &in, "/teapot");
  EXPECT_EQ(d.rv, WEFT_ERR_HANDSHAKE);
  EXPECT_EQ(d.status, 418);
  EXPECT_NE(strstr(d.err.message, "418"), nullptr) << d.err.message;
  EXPECT_EQ(in.code, -1) << "no on_close for a connection never made";
}

TEST(WsDial, ServerShutdownReaches1001) {
  Server srv;
  Inbox in;
  Dialed d(srv.port(), &in);
  ASSERT_EQ(d.rv, 0);
  srv.close_listener();
  ASSERT_TRUE(in.wait_closed());
  EXPECT_EQ(in.code, 1001);
}

TEST(WsDial, OverTls) {
  WeftTestCert pki("ws-tls");
  ASSERT_TRUE(pki.ok);
  const std::string &cert = pki.cert, &key = pki.key;
  weft_tls_opts st = {};
  st.cert_file = cert.c_str();
  st.key_file = key.c_str();
  {
    Server srv({}, nullptr, &st);
    weft_tls_opts ct = {};
    ct.ca_file = cert.c_str();
    Inbox in;
    {
      Dialed d(srv.port(), &in, "/echo", &ct);
      ASSERT_EQ(d.rv, 0) << d.err.message;
      std::string big(100000, 't');
      weft_ws_conn_send(d.c, false, big.data(), big.size());
      weft_ws_conn_send(d.c, true, "x", 1);
      ASSERT_TRUE(in.wait_msgs(2));
      EXPECT_EQ(in.msgs[0], big);
    }
    EXPECT_EQ(in.code, 1000);
    // Without the CA the certificate is not trusted: a clear TLS error.
    weft_tls_opts untrusted = {};
    Inbox in2;
    Dialed bad(srv.port(), &in2, "/echo", &untrusted);
    EXPECT_EQ(bad.rv, WEFT_ERR_TLS) << bad.err.message;
  }
}

} // namespace

namespace {

TEST(WsDial, PublicRawClient) {
  Server srv;
  Inbox in;
  weft_ws_conn *c = nullptr;
  weft_error err;
  std::string url = "ws://127.0.0.1:" + std::to_string(srv.port()) + "/echo";
  ASSERT_EQ(weft_ws_connect(&c, url.c_str(), nullptr, "x, chat",
                            &wstest::kInboxHandler, &in, &err),
            0)
      << err.message;
  EXPECT_STREQ(weft_ws_conn_protocol(c), "chat");
  EXPECT_STREQ(weft_ws_conn_path(c), "/echo");
  const char *mb = "publish:system.initialize:1.0.0\n{}";
  ASSERT_EQ(weft_ws_conn_send(c, true, mb, strlen(mb)), 0);
  ASSERT_TRUE(in.wait_msgs(1));
  EXPECT_EQ(in.msgs[0], mb);
  weft_ws_disconnect(c);
  EXPECT_EQ(in.code, 1000);

  EXPECT_EQ(weft_ws_connect(&c, "tcp://127.0.0.1:1/", nullptr, nullptr,
                            &wstest::kInboxHandler, &in, &err),
            WEFT_ERR_BAD_URL);
  url = "ws://127.0.0.1:" + std::to_string(srv.port()) + "/teapot";
  EXPECT_EQ(weft_ws_connect(&c, url.c_str(), nullptr, nullptr,
                            &wstest::kInboxHandler, &in, &err),
            WEFT_ERR_HANDSHAKE);
  EXPECT_NE(strstr(err.message, "418"), nullptr) << err.message;
}

} // namespace
