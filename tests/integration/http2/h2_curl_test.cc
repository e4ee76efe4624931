// Independent clients against the weft HTTP/2 server: curl and nghttp call
// Connect unary methods with JSON, stream with enveloped messages, and get
// the right Connect error codes for malformed requests.
#include "h2_test_util.h"

#include <fstream>

using h2test::run;
using h2test::Server;

namespace {

std::string curl_post(const Server &s, const std::string &path,
                      const std::string &ctype, const std::string &body,
                      const std::string &extra = "") {
  std::string tmp = h2test::temp_path("body.bin");
  std::ofstream(tmp, std::ios::binary) << body;
  return "curl -s --http2-prior-knowledge -o - -w '\\n%{http_code}' "
         "-H 'Content-Type: " +
         ctype + "' " + extra + " --data-binary @" + tmp + " " + s.base() +
         path;
}

// Splits curl's "-w" trailer (the HTTP code) from the body.
std::pair<std::string, int> split(const std::string &out) {
  size_t nl = out.rfind('\n');
  if (nl == std::string::npos)
    return {out, -1};
  return {out.substr(0, nl), atoi(out.c_str() + nl + 1)};
}

TEST(H2Curl, UnaryJson) {
  Server s;
  auto r = run(curl_post(s, "/weft.test.Echo/Unary", "application/json",
                         R"({"text":"hello h2"})"));
  ASSERT_EQ(r.status, 0) << r.out;
  auto [body, code] = split(r.out);
  EXPECT_EQ(code, 200);
  EXPECT_EQ(body, R"({"text":"hello h2"})");
}

TEST(H2Curl, UnaryJsonAcceptsCamelAndSnakeNames) {
  Server s;
  auto r = run(curl_post(s, "/weft.test.Echo/Unary", "application/json",
                         R"({"text":"x","fail_code":5,"failMessage":"nope"})"));
  auto [body, code] = split(r.out);
  EXPECT_EQ(code, 404);
  EXPECT_EQ(body, R"({"code":"not_found","message":"nope"})");
}

TEST(H2Curl, ErrorCodes) {
  Server s;
  {
    auto [body, code] = split(
        run(curl_post(s, "/weft.test.Echo/Nope", "application/json", "{}"))
            .out);
    EXPECT_EQ(code, 501);
    EXPECT_NE(body.find("\"unimplemented\""), std::string::npos) << body;
  }
  {
    auto [body, code] = split(run(curl_post(s, "/weft.test.Echo/Unary",
                                            "application/json", "{\"text\":"))
                                  .out);
    EXPECT_EQ(code, 400);
    EXPECT_NE(body.find("\"invalid_argument\""), std::string::npos) << body;
  }
  {
    auto [body, code] = split(
        run(curl_post(s, "/weft.test.Echo/Unary", "text/plain", "hi")).out);
    EXPECT_EQ(code, 415);
  }
  {
    auto [body, code] =
        split(run(curl_post(s, "/weft.test.Echo/Unary", "application/json",
                            R"({"text":"x"})", "-H 'Connect-Timeout-Ms: abc'"))
                  .out);
    EXPECT_EQ(code, 400);
  }
  // The server still serves after all that.
  auto [body, code] =
      split(run(curl_post(s, "/weft.test.Echo/Unary", "application/json",
                          R"({"text":"ok"})"))
                .out);
  EXPECT_EQ(code, 200);
  EXPECT_EQ(body, R"({"text":"ok"})");
}

// A handler's status details (a google.rpc.Status holding one ErrorInfo)
// become the Connect error's "details": type name and unpadded base64.
TEST(H2Curl, StatusDetailsInTheErrorBody) {
  Server s;
  auto [body, code] = split(
      run(curl_post(
              s, "/weft.test.Echo/Unary", "application/json",
              R"({"text":"x","failCode":9,"failMessage":"no","failDetails":)"
              R"("CAkSAm5vGjEKKHR5cGUuZ29vZ2xlYXBpcy5jb20vZ29vZ2xlLnJwYy5FcnJvckluZm8SBQoDYWJj"})"))
          .out);
  EXPECT_EQ(code, 400);
  EXPECT_EQ(body, R"({"code":"failed_precondition","message":"no","details":)"
                  R"([{"type":"google.rpc.ErrorInfo","value":"CgNhYmM"}]})");
}

TEST(H2Curl, DeadlineFromConnectTimeoutMs) {
  Server s;
  auto [body, code] =
      split(run(curl_post(s, "/weft.test.Echo/Unary", "application/json",
                          R"({"text":"x","delayMs":3000})",
                          "-H 'Connect-Timeout-Ms: 100'"))
                .out);
  EXPECT_EQ(code, 504);
  EXPECT_NE(body.find("deadline_exceeded"), std::string::npos) << body;
}

// What curl sends by hand: an encoding weft does not speak, and a zero
// timeout (h2_encoding_test has the byte-level cases).
TEST(H2Curl, UnsupportedEncodingAndZeroTimeout) {
  Server s;
  auto [body, code] =
      split(run(curl_post(s, "/weft.test.Echo/Unary", "application/json",
                          R"({"text":"x"})", "-H 'Content-Encoding: br'"))
                .out);
  EXPECT_EQ(code, 501);
  EXPECT_NE(body.find("unimplemented"), std::string::npos) << body;
  EXPECT_NE(body.find("supported encodings are gzip"), std::string::npos)
      << body;
  auto [body0, code0] =
      split(run(curl_post(s, "/weft.test.Echo/Unary", "application/json",
                          R"({"text":"x"})", "-H 'Connect-Timeout-Ms: 0'"))
                .out);
  EXPECT_EQ(code0, 400);
  EXPECT_NE(body0.find("invalid_argument"), std::string::npos) << body0;
}

TEST(H2Curl, OversizedBodyIsResourceExhausted) {
  Server s("h2c://127.0.0.1:0", 1024);
  std::string big = R"({"text":")" + std::string(4000, 'a') + R"("})";
  auto [body, code] = split(
      run(curl_post(s, "/weft.test.Echo/Unary", "application/json", big)).out);
  EXPECT_EQ(code, 429) << body;
  EXPECT_NE(body.find("resource_exhausted"), std::string::npos) << body;
}

TEST(H2Curl, GzipRequestAndResponse) {
  Server s;
  std::string text(5000, 'z');
  std::string json = R"({"text":")" + text + R"("})";
  std::string plain = h2test::temp_path("plain.json");
  std::ofstream(plain) << json;
  ASSERT_EQ(run("gzip -kf " + plain).status, 0);
  auto r = run("curl -s --http2-prior-knowledge --compressed "
               "-H 'Content-Type: application/json' "
               "-H 'Content-Encoding: gzip' --data-binary @" +
               plain + ".gz " + s.base() + "/weft.test.Echo/Unary");
  EXPECT_EQ(r.out, json);
}

// weft_server_call_set_compression: OFF keeps a large response plain
// although the client accepts gzip; ON compresses even a small one.
TEST(H2Curl, HandlerChoosesResponseCompression) {
  Server s;
  auto headers = [&](int mode, const std::string &text) {
    std::string json = R"({"text":")" + text + R"(","compression":)" +
                       std::to_string(mode) + "}";
    return run("curl -s --http2-prior-knowledge -o /dev/null -D - "
               "-H 'Accept-Encoding: gzip' -H 'Content-Type: "
               "application/json' -d '" +
               json + "' " + s.base() + "/weft.test.Echo/Unary")
        .out;
  };
  std::string big(5000, 'z');
  EXPECT_NE(headers(0, big).find("content-encoding: gzip"), std::string::npos);
  EXPECT_EQ(headers(1, big).find("content-encoding: gzip"), std::string::npos);
  EXPECT_EQ(headers(0, "hi").find("content-encoding: gzip"), std::string::npos);
  std::string on = headers(2, "hi");
  EXPECT_NE(on.find("content-encoding: gzip"), std::string::npos) << on;
}

std::string envelope(uint8_t flags, const std::string &body) {
  std::string e(5, '\0');
  e[0] = static_cast<char>(flags);
  uint32_t n = static_cast<uint32_t>(body.size());
  e[1] = static_cast<char>(n >> 24);
  e[2] = static_cast<char>(n >> 16);
  e[3] = static_cast<char>(n >> 8);
  e[4] = static_cast<char>(n);
  return e + body;
}

std::vector<std::pair<int, std::string>> unenvelope(const std::string &w) {
  std::vector<std::pair<int, std::string>> out;
  size_t off = 0;
  while (off + 5 <= w.size()) {
    uint32_t n = (uint8_t)w[off + 1] << 24 | (uint8_t)w[off + 2] << 16 |
                 (uint8_t)w[off + 3] << 8 | (uint8_t)w[off + 4];
    out.emplace_back((uint8_t)w[off], w.substr(off + 5, n));
    off += 5 + n;
  }
  return out;
}

TEST(H2Curl, ServerStreamingConnectJson) {
  Server s;
  auto r = run(curl_post(s, "/weft.test.Echo/ServerStream",
                         "application/connect+json",
                         envelope(0, R"({"text":"s","repeat":3})")));
  auto [body, code] = split(r.out);
  EXPECT_EQ(code, 200);
  auto msgs = unenvelope(body);
  ASSERT_EQ(msgs.size(), 4u) << body;
  EXPECT_EQ(msgs[0].second, R"({"text":"s"})");
  EXPECT_EQ(msgs[1].second, R"({"text":"s","index":1})");
  EXPECT_EQ(msgs[3].first, 2);
  EXPECT_EQ(msgs[3].second, "{}");
}

TEST(H2Curl, StreamingErrorInEndStreamMessage) {
  Server s;
  auto r = run(curl_post(
      s, "/weft.test.Echo/ServerStream", "application/connect+json",
      envelope(0,
               R"({"text":"s","repeat":1,"failCode":9,"failMessage":"no"})")));
  auto [body, code] = split(r.out);
  EXPECT_EQ(code, 200);
  auto msgs = unenvelope(body);
  ASSERT_EQ(msgs.size(), 2u) << body;
  EXPECT_EQ(msgs[1].first, 2);
  EXPECT_EQ(msgs[1].second,
            R"({"error":{"code":"failed_precondition","message":"no"}})");
}

TEST(H2Nghttp, UnaryJson) {
  if (!h2test::have("nghttp"))
    GTEST_SKIP() << "nghttp (nghttp2-client) not installed";
  Server s;
  std::string tmp = h2test::temp_path("nghttp.json");
  std::ofstream(tmp) << R"({"text":"from nghttp"})";
  auto r = run("nghttp -d " + tmp + " -H 'content-type: application/json' " +
               s.base() + "/weft.test.Echo/Unary");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, R"({"text":"from nghttp"})");
}

} // namespace
