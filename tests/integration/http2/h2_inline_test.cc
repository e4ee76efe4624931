// weft_http2_opts.inline_handlers: unary handlers run on the loop thread;
// streaming calls still go to the pool. Same answers as the pool mode.
#include "h2_raw.h"
#include "h2_test_util.h"

extern "C" {
#include "weft/http2.h"
#include "weft/websocket.h"
}

using h2test::envelope;
using h2test::RawH2;
using h2test::Server;

namespace {

TEST(H2Inline, UnaryAndStreamingAnswerAsInPoolMode) {
  weft_http2_opts h2 = WEFT_HTTP2_OPTS_INIT;
  h2.inline_handlers = true;
  weft_server_opts o = Server::opts(0);
  o.transport_opts = &h2;
  Server s("h2c://127.0.0.1:0", o);
  RawH2 c(s.port());
  ASSERT_TRUE(c.ok());
  std::vector<int32_t> ids;
  for (int i = 0; i < 50; i++)
    ids.push_back(c.request("/weft.test.Echo/Unary", "application/json",
                            "{\"text\":\"n" + std::to_string(i) + "\"}"));
  int32_t err = c.request("/weft.test.Echo/Unary", "application/json",
                          R"({"failCode":7,"failMessage":"no"})");
  int32_t bad = c.request("/weft.test.Echo/Unary", "application/json", "{");
  int32_t ss =
      c.request("/weft.test.Echo/ServerStream", "application/connect+json",
                envelope(R"({"text":"s","repeat":3})"));
  c.pump([&] {
    for (auto id : ids)
      if (!c.streams[id].closed)
        return false;
    return c.streams[err].closed && c.streams[bad].closed &&
           c.streams[ss].closed;
  });
  for (int i = 0; i < 50; i++) {
    EXPECT_EQ(c.streams[ids[i]].status, 200);
    EXPECT_EQ(c.streams[ids[i]].body,
              "{\"text\":\"n" + std::to_string(i) + "\"}");
  }
  EXPECT_EQ(c.streams[err].status, 403);
  EXPECT_NE(c.streams[err].body.find("permission_denied"), std::string::npos);
  EXPECT_EQ(c.streams[bad].status, 400);
  EXPECT_EQ(c.streams[ss].status, 200);
  EXPECT_NE(c.streams[ss].body.find("\"index\":2"), std::string::npos)
      << c.streams[ss].body;
}

TEST(H2Inline, ForeignTransportOptsAreIgnored) {
  // Another transport's options (tagged, weft/opts.h) in the chain must not
  // switch modes or be misread.
  weft_ws_opts foreign = WEFT_WS_OPTS_INIT;
  foreign.ping_interval_ms = 1;
  weft_server_opts o = Server::opts(0);
  o.transport_opts = &foreign;
  Server s("h2c://127.0.0.1:0", o);
  RawH2 c(s.port());
  int32_t id =
      c.request("/weft.test.Echo/Unary", "application/json", R"({"text":"x"})");
  c.pump([&] { return c.streams[id].closed; });
  EXPECT_EQ(c.streams[id].status, 200);
}

} // namespace
