// The opening handshake: RFC 6455's worked example, requests as real
// clients send them, and each way a request or response can be wrong.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "ws_handshake.h"

namespace {

const char *kKey = "dGhlIHNhbXBsZSBub25jZQ==";

std::string
request(const std::string &extra_or_replace = "",
        const std::string &first = "GET /chat?api_key=k1 HTTP/1.1") {
  return first +
         "\r\n"
         "Host: server.example.com\r\n"
         "Upgrade: websocket\r\n"
         "Connection: keep-alive, Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
         "Origin: http://example.com\r\n"
         "Sec-WebSocket-Protocol: chat, weft.json.v1\r\n"
         "Sec-WebSocket-Version: 13\r\n" +
         extra_or_replace + "\r\n";
}

// Parses and checks; returns the HTTP status (0 ok) or -1 if unparsable.
int check(const std::string &req) {
  weft__ws_http r;
  weft_error err;
  ssize_t end = weft__ws_hs_find_end(req.data(), req.size(), 8192);
  EXPECT_EQ(end, static_cast<ssize_t>(req.size()));
  int rv = weft__ws_hs_parse_request(&r, req.data(), req.size(), &err);
  int st = rv ? -1 : weft__ws_hs_check_upgrade(&r, &err);
  weft__ws_http_free(&r);
  return st;
}

std::string replace(std::string s, const std::string &from,
                    const std::string &to) {
  size_t p = s.find(from);
  EXPECT_NE(p, std::string::npos) << from;
  return s.replace(p, from.size(), to);
}

TEST(WsHandshake, RfcAcceptExample) {
  char out[29];
  weft__ws_accept_key(kKey, out);
  EXPECT_STREQ(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(WsHandshake, FindEnd) {
  std::string req = request();
  for (size_t n = 0; n < req.size(); n++)
    EXPECT_EQ(weft__ws_hs_find_end(req.data(), n, 8192), 0) << n;
  EXPECT_EQ(weft__ws_hs_find_end(req.data(), req.size(), 8192),
            static_cast<ssize_t>(req.size()));
  // Frame bytes right behind the block are not part of it.
  std::string more = req + "\x81\x05hello";
  EXPECT_EQ(weft__ws_hs_find_end(more.data(), more.size(), 8192),
            static_cast<ssize_t>(req.size()));
  std::string big = "GET / HTTP/1.1\r\nX: " + std::string(9000, 'a');
  EXPECT_EQ(weft__ws_hs_find_end(big.data(), big.size(), 8192),
            WEFT_ERR_TOO_BIG);
  EXPECT_EQ(weft__ws_hs_find_end(big.data(), 100, 8192), 0);
}

TEST(WsHandshake, ParsesAValidRequest) {
  std::string req = request("X-Api-Key:  secret \r\n");
  weft__ws_http r;
  weft_error err;
  ASSERT_EQ(weft__ws_hs_parse_request(&r, req.data(), req.size(), &err), 0)
      << err.message;
  EXPECT_STREQ(r.method, "GET");
  EXPECT_STREQ(r.target, "/chat?api_key=k1");
  EXPECT_STREQ(r.path, "/chat");
  EXPECT_STREQ(r.query, "api_key=k1");
  EXPECT_STREQ(weft__ws_http_get(&r, "x-api-key"), "secret");
  EXPECT_STREQ(weft__ws_http_get(&r, "ORIGIN"), "http://example.com");
  EXPECT_TRUE(weft__ws_http_has_token(&r, "Connection", "upgrade"));
  EXPECT_FALSE(weft__ws_http_has_token(&r, "Connection", "close"));
  EXPECT_EQ(weft__ws_hs_check_upgrade(&r, &err), 0) << err.message;
  const char *sup[] = {"weft.proto.v1", "weft.json.v1", nullptr};
  EXPECT_EQ(weft__ws_hs_pick_protocol(&r, sup), 1);
  const char *none[] = {"other", nullptr};
  EXPECT_EQ(weft__ws_hs_pick_protocol(&r, none), -1);
  weft__ws_http_free(&r);
}

TEST(WsHandshake, PythonWebsocketsRequest) {
  // What python3-websockets 10 sends (header case and order as it writes).
  std::string req = "GET / HTTP/1.1\r\n"
                    "Host: 127.0.0.1:8765\r\n"
                    "Upgrade: websocket\r\n"
                    "Connection: Upgrade\r\n"
                    "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n"
                    "Sec-WebSocket-Version: 13\r\n"
                    "Sec-WebSocket-Extensions: permessage-deflate; "
                    "client_max_window_bits\r\n"
                    "User-Agent: Python/3.11 websockets/10.4\r\n\r\n";
  EXPECT_EQ(check(req), 0);
}

TEST(WsHandshake, RejectsBadRequestsWithTheRightStatus) {
  std::string ok = request();
  EXPECT_EQ(check(ok), 0);
  EXPECT_EQ(check(request("", "POST /chat HTTP/1.1")), 405);
  EXPECT_EQ(check(request("", "GET /chat HTTP/1.0")), 400);
  EXPECT_EQ(check(request("", "GET chat HTTP/1.1")), 400);
  EXPECT_EQ(check(replace(ok, "Host: server.example.com\r\n", "")), 400);
  EXPECT_EQ(check(request("Host: again\r\n")), 400);
  EXPECT_EQ(check(replace(ok, "Upgrade: websocket\r\n", "")), 426);
  EXPECT_EQ(check(replace(ok, "Upgrade: websocket", "Upgrade: h2c")), 400);
  EXPECT_EQ(check(replace(ok, "keep-alive, Upgrade", "keep-alive")), 400);
  EXPECT_EQ(check(replace(ok, "Version: 13", "Version: 8")), 426);
  EXPECT_EQ(check(replace(ok, "Sec-WebSocket-Version: 13\r\n", "")), 426);
  EXPECT_EQ(check(replace(ok, "dGhlIHNhbXBsZSBub25jZQ==", "short==")), 400);
  EXPECT_EQ(check(replace(
                ok, "dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZR==")),
            400); // trailing bits set
  EXPECT_EQ(
      check(replace(ok, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "")),
      400);
}

TEST(WsHandshake, RejectsMalformedHttp) {
  std::string ok = request();
  const std::string bad[] = {
      replace(ok, "Origin: http://example.com\r\n",
              "Origin: http://example.com\r\n  folded\r\n"),
      replace(ok, "Origin:", "Origin :"),
      replace(ok, "Origin:", ": x\r\nOrigin:"),
      replace(ok, "Origin: http://example.com\r\n", "Origin\r\n"),
      replace(ok, "http://example.com", std::string("a\x01z")),
      "GET /\r\n\r\n",
      "GET  / HTTP/1.1\r\n\r\n",
      "GET / HTTP/1.1 extra\r\n\r\n",
      "GET / FTP/1.1\r\n\r\n",
      "G(T / HTTP/1.1\r\n\r\n",
      std::string("GET /\0 HTTP/1.1\r\n\r\n", 19),
  };
  for (auto &req : bad) {
    weft__ws_http r;
    weft_error err;
    EXPECT_NE(weft__ws_hs_parse_request(&r, req.data(), req.size(), &err), 0)
        << req;
    weft__ws_http_free(&r);
  }
  std::string many = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 70; i++)
    many += "X-H" + std::to_string(i) + ": v\r\n";
  many += "\r\n";
  weft__ws_http r;
  weft_error err;
  EXPECT_EQ(weft__ws_hs_parse_request(&r, many.data(), many.size(), &err),
            WEFT_ERR_LIMIT);
  weft__ws_http_free(&r);
}

// Client request -> server checks -> 101 -> client checks.
TEST(WsHandshake, ClientAndServerAgree) {
  char key[25];
  ASSERT_EQ(weft__ws_make_key(key), 0);
  char req[1024];
  int n = weft__ws_hs_client_request(
      req, sizeof req, "127.0.0.1:9", "/weft?x=1", key,
      "weft.proto.v1, weft.json.v1", "http://o", "X-Api-Key: k\r\n");
  ASSERT_GT(n, 0);
  ASSERT_LT(n, static_cast<int>(sizeof req));
  weft__ws_http r;
  weft_error err;
  ASSERT_EQ(weft__ws_hs_parse_request(&r, req, static_cast<size_t>(n), &err),
            0);
  ASSERT_EQ(weft__ws_hs_check_upgrade(&r, &err), 0) << err.message;
  EXPECT_STREQ(weft__ws_http_get(&r, "X-Api-Key"), "k");
  const char *sup[] = {"weft.json.v1", "weft.proto.v1", nullptr};
  int pick = weft__ws_hs_pick_protocol(&r, sup);
  EXPECT_EQ(pick, 1); // the client's first choice wins
  char resp[512];
  int m = weft__ws_hs_response_101(
      resp, sizeof resp, weft__ws_http_get(&r, "Sec-WebSocket-Key"), sup[pick]);
  weft__ws_http_free(&r);
  ASSERT_EQ(weft__ws_hs_find_end(resp, static_cast<size_t>(m), 8192), m);
  weft__ws_http s;
  ASSERT_EQ(weft__ws_hs_parse_response(&s, resp, static_cast<size_t>(m), &err),
            0);
  char proto[64];
  EXPECT_EQ(weft__ws_hs_check_response(&s, key, "weft.proto.v1, weft.json.v1",
                                       proto, sizeof proto, &err),
            0)
      << err.message;
  EXPECT_STREQ(proto, "weft.proto.v1");
  // the same 101 does not fit another key or an unoffered protocol
  EXPECT_EQ(weft__ws_hs_check_response(&s, kKey, "weft.proto.v1", proto,
                                       sizeof proto, &err),
            WEFT_ERR_HANDSHAKE);
  EXPECT_NE(strstr(err.message, "Sec-WebSocket-Accept"), nullptr);
  EXPECT_EQ(weft__ws_hs_check_response(&s, key, "weft.json.v1", proto,
                                       sizeof proto, &err),
            WEFT_ERR_HANDSHAKE);
  weft__ws_http_free(&s);
}

TEST(WsHandshake, ClientRejectsBadResponses) {
  char accept[29];
  weft__ws_accept_key(kKey, accept);
  std::string good = std::string("HTTP/1.1 101 Switching Protocols\r\n"
                                 "Upgrade: websocket\r\n"
                                 "Connection: Upgrade\r\n"
                                 "Sec-WebSocket-Accept: ") +
                     accept + "\r\n\r\n";
  struct {
    std::string resp;
    int rv;
  } cases[] = {
      {good, 0},
      {"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n",
       WEFT_ERR_HANDSHAKE},
      {replace(good, "Upgrade: websocket\r\n", ""), WEFT_ERR_HANDSHAKE},
      {replace(good, "Connection: Upgrade", "Connection: close"),
       WEFT_ERR_HANDSHAKE},
      {replace(good, accept, "AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
       WEFT_ERR_HANDSHAKE},
      {replace(good, "\r\n\r\n", "\r\nSec-WebSocket-Extensions: x\r\n\r\n"),
       WEFT_ERR_HANDSHAKE},
      {replace(good, "\r\n\r\n", "\r\nSec-WebSocket-Protocol: chat\r\n\r\n"),
       WEFT_ERR_HANDSHAKE},
  };
  for (auto &c : cases) {
    weft__ws_http r;
    weft_error err;
    char proto[32];
    int rv = weft__ws_hs_parse_response(&r, c.resp.data(), c.resp.size(), &err);
    ASSERT_EQ(rv, 0) << c.resp;
    EXPECT_EQ(weft__ws_hs_check_response(&r, kKey, nullptr, proto, sizeof proto,
                                         &err),
              c.rv)
        << c.resp;
    if (r.status == 401)
      EXPECT_NE(strstr(err.message, "401"), nullptr) << err.message;
    weft__ws_http_free(&r);
  }
  const char *garbage[] = {"HTTP/1.1 1x1 Switching\r\n\r\n", "SSH-2.0\r\n\r\n",
                           "HTTP/1.1 101\r\nbad line\r\n\r\n"};
  for (auto g : garbage) {
    weft__ws_http r;
    weft_error err;
    EXPECT_NE(weft__ws_hs_parse_response(&r, g, strlen(g), &err), 0) << g;
    weft__ws_http_free(&r);
  }
}

TEST(WsHandshake, ErrorResponses) {
  char out[512];
  int n = weft__ws_hs_response_error(out, sizeof out, 426, "need version 13");
  ASSERT_GT(n, 0);
  std::string s(out, static_cast<size_t>(n));
  EXPECT_NE(s.find("HTTP/1.1 426 Upgrade Required\r\n"), std::string::npos);
  EXPECT_NE(s.find("Sec-WebSocket-Version: 13\r\n"), std::string::npos);
  EXPECT_NE(s.find("\r\n\r\nneed version 13\n"), std::string::npos);
  weft__ws_http r;
  weft_error err;
  ssize_t end = weft__ws_hs_find_end(out, static_cast<size_t>(n), 8192);
  ASSERT_GT(end, 0);
  ASSERT_EQ(weft__ws_hs_parse_response(&r, out, static_cast<size_t>(end), &err),
            0);
  EXPECT_EQ(r.status, 426);
  EXPECT_STREQ(weft__ws_http_get(&r, "content-length"), "16");
  weft__ws_http_free(&r);
}

} // namespace
