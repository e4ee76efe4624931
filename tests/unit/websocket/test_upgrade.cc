// The client's opening handshake without I/O (ws_upgrade.h): the request
// it writes, the response fed in every chunk size down to one byte, the
// frames that arrive behind it, and the refusals worded with the server's
// address.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "ws_handshake.h"
#include "ws_upgrade.h"

namespace {

struct Upgrade {
  weft__ws_upgrade u;
  weft_error err = {};
  Upgrade(const char *protocols = "weft.proto.v1") {
    EXPECT_EQ(weft__ws_upgrade_init(&u, "127.0.0.1", 8080, "/x?y=1", protocols,
                                    nullptr, "X-A: b\r\n", 8192, &err),
              0)
        << err.message;
  }
  ~Upgrade() {
    weft__ws_upgrade_free(&u);
  }
  std::string request() {
    size_t len;
    const char *p = weft__ws_upgrade_out(&u, &len);
    return std::string(p, len);
  }
  void all_written() {
    size_t len;
    weft__ws_upgrade_out(&u, &len);
    weft__ws_upgrade_wrote(&u, len);
  }
  std::string ok_response(const char *proto = "weft.proto.v1") {
    char out[512];
    int n = weft__ws_hs_response_101(out, sizeof out, u.key, proto);
    return std::string(out, n);
  }
};

TEST(WsUpgrade, WritesTheRequestInPieces) {
  Upgrade up;
  std::string req = up.request();
  EXPECT_EQ(req.rfind("GET /x?y=1 HTTP/1.1\r\n", 0), 0u) << req;
  EXPECT_NE(req.find("Host: 127.0.0.1:8080\r\n"), std::string::npos);
  EXPECT_NE(req.find(std::string("Sec-WebSocket-Key: ") + up.u.key),
            std::string::npos);
  EXPECT_NE(req.find("X-A: b\r\n"), std::string::npos);
  // Nothing is read until the request is out.
  size_t room = 1;
  weft__ws_upgrade_in(&up.u, &room);
  EXPECT_EQ(room, 0u);
  weft__ws_upgrade_wrote(&up.u, 5);
  EXPECT_EQ(up.request(), req.substr(5));
  up.all_written();
  EXPECT_EQ(up.request(), "");
  weft__ws_upgrade_in(&up.u, &room);
  EXPECT_GT(room, 8192u);
}

TEST(WsUpgrade, ResponseInEveryChunkSizeWithFramesBehind) {
  const std::string frames("\x82\x03"
                           "abc"
                           "\x81\x01"
                           "z",
                           8);
  for (size_t chunk = 1; chunk < 200; chunk++) {
    Upgrade up;
    up.all_written();
    std::string in = up.ok_response() + frames;
    size_t hdr = in.size() - frames.size();
    int rv = 0;
    size_t off = 0;
    while (rv == 0 && off < in.size()) {
      size_t n = std::min(chunk, in.size() - off);
      rv = weft__ws_upgrade_feed(&up.u, in.data() + off, n, &up.err);
      off += n;
      if (rv == 0)
        ASSERT_LT(off, hdr) << "chunk " << chunk;
    }
    ASSERT_EQ(rv, 1) << "chunk " << chunk << ": " << up.err.message;
    EXPECT_EQ(up.u.status, 101);
    EXPECT_STREQ(up.u.proto, "weft.proto.v1");
    size_t nrest;
    const unsigned char *rest = weft__ws_upgrade_rest(&up.u, &nrest);
    // Whatever arrived with the last piece, and nothing past it.
    EXPECT_EQ(std::string((const char *)rest, nrest), in.substr(hdr, off - hdr))
        << "chunk " << chunk;
  }
}

int feed_all(Upgrade &up, const std::string &in) {
  up.all_written();
  int rv = 0;
  for (size_t i = 0; rv == 0 && i < in.size(); i++)
    rv = weft__ws_upgrade_feed(&up.u, &in[i], 1, &up.err);
  return rv;
}

TEST(WsUpgrade, RefusalsSayWhatAndWhere) {
  {
    Upgrade up;
    EXPECT_EQ(
        feed_all(up, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"),
        WEFT_ERR_HANDSHAKE);
    EXPECT_EQ(up.u.status, 403);
    EXPECT_STREQ(up.err.message,
                 "ws: 127.0.0.1:8080: server answered HTTP 403 Forbidden");
  }
  {
    Upgrade up;
    std::string bad = up.ok_response();
    size_t p = bad.find("Sec-WebSocket-Accept: ") + 22;
    bad[p] = bad[p] == 'A' ? 'B' : 'A';
    EXPECT_EQ(feed_all(up, bad), WEFT_ERR_HANDSHAKE);
    EXPECT_EQ(up.u.status, 101);
    EXPECT_NE(std::string(up.err.message)
                  .find("ws: 127.0.0.1:8080: Sec-WebSocket-Accept is "),
              std::string::npos)
        << up.err.message;
  }
  {
    Upgrade up;
    EXPECT_EQ(feed_all(up, up.ok_response("chat")), WEFT_ERR_HANDSHAKE);
    EXPECT_NE(std::string(up.err.message).find("'chat', not offered"),
              std::string::npos)
        << up.err.message;
  }
  {
    Upgrade up;
    EXPECT_LT(feed_all(up, "garbage\r\n\r\n"), 0);
    EXPECT_EQ(std::string(up.err.message).rfind("ws: 127.0.0.1:8080: ", 0), 0u)
        << up.err.message;
  }
  {
    Upgrade up; // a header block that never ends
    std::string endless = "HTTP/1.1 101 Switching Protocols\r\n";
    while (endless.size() < 9000)
      endless += "X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    EXPECT_EQ(feed_all(up, endless), WEFT_ERR_HANDSHAKE);
    EXPECT_STREQ(up.err.message,
                 "ws: response headers from 127.0.0.1:8080 over 8192 bytes");
  }
}

TEST(WsUpgrade, IoErrorsAreWordedOnce) {
  Upgrade up;
  weft_error e;
  EXPECT_EQ(weft__ws_upgrade_timed_out(&up.u, &e), WEFT_ERR_TIMEOUT);
  EXPECT_STREQ(e.message, "ws: sending the handshake to 127.0.0.1:8080 "
                          "timed out");
  EXPECT_EQ(weft__ws_upgrade_write_failed(&up.u, "Broken pipe", &e),
            WEFT_ERR_CONNECT);
  EXPECT_STREQ(e.message,
               "ws: sending the handshake to 127.0.0.1:8080: Broken pipe");
  up.all_written();
  EXPECT_EQ(weft__ws_upgrade_timed_out(&up.u, &e), WEFT_ERR_TIMEOUT);
  EXPECT_STREQ(e.message, "ws: no handshake response from 127.0.0.1:8080");
  EXPECT_EQ(weft__ws_upgrade_closed(&up.u, nullptr, &e), WEFT_ERR_HANDSHAKE);
  EXPECT_STREQ(e.message, "ws: 127.0.0.1:8080 closed the connection during "
                          "the handshake");
  weft__ws_upgrade u6;
  ASSERT_EQ(weft__ws_upgrade_init(&u6, "::1", 9, nullptr, nullptr, nullptr,
                                  nullptr, 8192, &e),
            0);
  EXPECT_STREQ(u6.hostport, "[::1]:9");
  weft__ws_upgrade_free(&u6);
}

} // namespace
