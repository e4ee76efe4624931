// HTTP/1.1 on the HTTP port: the same h2c:// listener answers HTTP/1.1 and
// HTTP/2 (curl both ways), Connect unary, GET and streaming over HTTP/1.1,
// keep-alive and pipelining, request-smuggling shapes refused with 400 and
// the connection closed, CORS, client disconnects, and Python clients.
#include "h2_test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <chrono>
#include <fstream>
#include <thread>

using h2test::run;
using h2test::Server;

namespace {

int dial(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, (sockaddr *)&a, sizeof a), 0);
  return fd;
}

struct Reply {
  std::string data;
  bool closed = false; // the server closed (EOF) rather than the timeout
};

// Sends req, then reads until the server closes or `until` appears `times`
// times (or 5 s pass).
Reply exchange(int port, const std::string &req, const char *until = nullptr,
               int times = 1) {
  Reply r;
  int fd = dial(port);
  EXPECT_EQ(send(fd, req.data(), req.size(), MSG_NOSIGNAL),
            (ssize_t)req.size());
  char buf[4096];
  for (;;) {
    if (until) {
      int seen = 0;
      for (size_t p = r.data.find(until); p != std::string::npos;
           p = r.data.find(until, p + 1))
        seen++;
      if (seen >= times)
        break;
    }
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n == 0)
      r.closed = true;
    if (n <= 0)
      break;
    r.data.append(buf, (size_t)n);
  }
  close(fd);
  return r;
}

std::string post(const std::string &path, const std::string &ctype,
                 const std::string &body, const std::string &extra = "") {
  return "POST " + path + " HTTP/1.1\r\nHost: t\r\nContent-Type: " + ctype +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra +
         "\r\n" + body;
}

// A Connect envelope (flags 0) around a JSON message.
std::string envelope(const std::string &json) {
  std::string e(5, '\0');
  e[3] = (char)(json.size() >> 8);
  e[4] = (char)(json.size() & 0xff);
  return e + json;
}

std::string curl(const Server &s, const std::string &args) {
  return "curl -s -o - -w '\\n%{http_code} %{http_version}' " + args + " " +
         s.base();
}

TEST(H1Serve, CurlBothHttpVersionsOnOnePort) {
  Server s;
  std::string body = R"({"text":"hello"})";
  std::string data = "-H 'Content-Type: application/json' -d '" + body + "' ";
  auto h1 = run(curl(s, data) + "/weft.test.Echo/Unary");
  EXPECT_EQ(h1.out, body + "\n200 1.1");
  auto h2 =
      run(curl(s, "--http2-prior-knowledge " + data) + "/weft.test.Echo/Unary");
  EXPECT_EQ(h2.out, body + "\n200 2");
  // An error: the Connect JSON error with the code's HTTP status.
  auto e = run(curl(s, "-H 'Content-Type: application/json' "
                       "-d '{\"failCode\":5,\"failMessage\":\"gone\"}'") +
               "/weft.test.Echo/Unary");
  EXPECT_EQ(e.out, R"({"code":"not_found","message":"gone"})"
                   "\n404 1.1");
  // Connect GET on both versions (Unary has no side effects).
  std::string get =
      "-G --data-urlencode connect=v1 --data-urlencode "
      "encoding=json --data-urlencode 'message={\"text\":\"g\"}' ";
  EXPECT_EQ(run(curl(s, get) + "/weft.test.Echo/Unary").out,
            "{\"text\":\"g\"}\n200 1.1");
  EXPECT_EQ(
      run(curl(s, "--http2-prior-knowledge " + get) + "/weft.test.Echo/Unary")
          .out,
      "{\"text\":\"g\"}\n200 2");
  // base64 (URL-safe, no padding) of the proto message {text:"b"}: 0a 01 62
  auto b64 =
      run(curl(s, "-H 'Accept: application/proto'") +
          "'/weft.test.Echo/Unary?encoding=proto&base64=1&message=CgFi'");
  EXPECT_EQ(b64.out, std::string("\x0a\x01"
                                 "b\n200 1.1"));
  // GET on a method with side effects, or a streaming one: 405.
  auto g405 = run(curl(s, get) + "/weft.test.Echo/ServerStream");
  EXPECT_NE(g405.out.find("\n405 1.1"), std::string::npos) << g405.out;
  // Not a Connect path: the REST hook answers 404 with a JSON error.
  auto nf = run(curl(s, "-d x") + "/v1/jobs");
  EXPECT_NE(nf.out.find("\"not_found\""), std::string::npos) << nf.out;
  EXPECT_NE(nf.out.find("\n404 1.1"), std::string::npos) << nf.out;
  // Upgrade: h2c is ignored: answered in HTTP/1.1.
  auto up = run(curl(s, "--http2 " + data) + "/weft.test.Echo/Unary");
  EXPECT_EQ(up.out, body + "\n200 1.1");
}

TEST(H1Serve, ServerStreamChunkedAndBidiRefused) {
  Server s;
  // delayMs: the first message leaves before the handler ends, so the
  // response is chunked.
  std::string env = envelope(R"({"text":"x","repeat":3,"delayMs":20})");
  auto r = exchange(
      s.port(),
      post("/weft.test.Echo/ServerStream", "application/connect+json", env),
      "\r\n0\r\n\r\n");
  EXPECT_EQ(r.data.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r.data;
  EXPECT_NE(r.data.find("Transfer-Encoding: chunked"), std::string::npos);
  EXPECT_NE(r.data.find("Content-Type: application/connect+json"),
            std::string::npos);
  EXPECT_NE(r.data.find("\"index\":2"), std::string::npos) << r.data;
  // The end-of-stream envelope (flag 2), empty: OK.
  EXPECT_NE(r.data.find(std::string("\x02\0\0\0\x02{}", 7)), std::string::npos);
  // Client streaming is half-duplex over HTTP/1.1: whole body, then answer.
  std::string two = envelope(R"({"text":"x"})") + envelope(R"({"text":"x"})");
  auto cs = exchange(
      s.port(),
      post("/weft.test.Echo/ClientStream", "application/connect+json", two),
      "\"x-arena-used\"");
  EXPECT_EQ(cs.data.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << cs.data;
  EXPECT_NE(cs.data.find("\"text\":\"xx\""), std::string::npos) << cs.data;
  auto bidi = exchange(
      s.port(), post("/weft.test.Echo/Bidi", "application/connect+json", env),
      "}}");
  EXPECT_NE(bidi.data.find("\"unimplemented\""), std::string::npos)
      << bidi.data;
  EXPECT_NE(bidi.data.find("bidi streaming requires HTTP/2"),
            std::string::npos);
}

TEST(H1Serve, KeepAliveAndPipeliningInOrder) {
  Server s;
  // Three requests in one write; the first one is slow, so answers in
  // order mean the server really waited for it.
  std::string req =
      post("/weft.test.Echo/Unary", "application/json",
           R"({"text":"a","delayMs":100})") +
      post("/weft.test.Echo/Unary", "application/json", R"({"text":"b"})") +
      "GET /weft.test.Echo/Unary?encoding=json&message=%7B%22text%22%3A%22c"
      "%22%7D HTTP/1.1\r\nHost: t\r\n\r\n";
  auto r = exchange(s.port(), req, "HTTP/1.1 200 OK", 3);
  // wait for the third body too
  size_t a = r.data.find("{\"text\":\"a\"}"),
         b = r.data.find("{\"text\":\"b\"}"),
         c = r.data.find("{\"text\":\"c\"}");
  if (c == std::string::npos) {
    auto more = exchange(s.port(), req, "{\"text\":\"c\"}");
    r = more;
    a = r.data.find("{\"text\":\"a\"}");
    b = r.data.find("{\"text\":\"b\"}");
    c = r.data.find("{\"text\":\"c\"}");
  }
  ASSERT_NE(a, std::string::npos) << r.data;
  ASSERT_NE(b, std::string::npos) << r.data;
  ASSERT_NE(c, std::string::npos) << r.data;
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_FALSE(r.closed) << "kept alive";
  // Expect: 100-continue gets its interim answer before the final one.
  auto e = exchange(s.port(),
                    post("/weft.test.Echo/Unary", "application/json",
                         R"({"text":"e"})", "Expect: 100-continue\r\n"),
                    "{\"text\":\"e\"}");
  EXPECT_EQ(e.data.rfind("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK", 0), 0u)
      << e.data;
}

TEST(H1Serve, SmugglingShapesAre400AndClose) {
  Server s;
  const std::string ok =
      post("/weft.test.Echo/Unary", "application/json", R"({"text":"ok"})");
  const std::string head = "POST /weft.test.Echo/Unary HTTP/1.1\r\nHost: t\r\n"
                           "Content-Type: application/json\r\n";
  struct Case {
    const char *name;
    std::string req;
    const char *status;
  } cases[] = {
      {"CL+TE",
       head +
           "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
       "400"},
      {"duplicate CL",
       head + "Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}", "400"},
      {"bad chunk size",
       head + "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", "400"},
      {"obs-fold", head + "X-A: 1\r\n  folded\r\nContent-Length: 2\r\n\r\n{}",
       "400"},
      {"oversized field line",
       head + "X-Big: " + std::string(20000, 'a') + "\r\n\r\n", "431"},
      {"body over max message size", head + "Content-Length: 99999999\r\n\r\n",
       "413"},
  };
  for (const auto &c : cases) {
    // A valid request would follow on a kept-alive connection: it must not
    // be answered (smuggled).
    auto r = exchange(s.port(), c.req + ok);
    EXPECT_EQ(r.data.rfind(std::string("HTTP/1.1 ") + c.status, 0), 0u)
        << c.name << ": " << r.data;
    EXPECT_NE(r.data.find("Connection: close"), std::string::npos) << c.name;
    EXPECT_TRUE(r.closed) << c.name;
    EXPECT_EQ(r.data.find("\"ok\""), std::string::npos) << c.name;
  }
}

// absolute-form (RFC 9112 section 3.2.2): the path starts after the
// authority, which ends at the first "/", "?" or "#" (RFC 3986 section
// 3.2). "http://t?x=/weft.test.Echo/Unary" is the path "/?x=...": routed
// as the method it names, a proxy that checked the path would be fooled.
TEST(H1Serve, AbsoluteFormPathEndsTheAuthorityRight) {
  Server s;
  const std::string body = R"({"text":"abs"})";
  auto with = [&](const std::string &target) {
    return "POST " + target +
           " HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
           "Content-Length: " +
           std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  };
  auto ok = exchange(s.port(), with("http://t/weft.test.Echo/Unary"));
  EXPECT_EQ(ok.data.rfind("HTTP/1.1 200", 0), 0u) << ok.data;
  EXPECT_NE(ok.data.find("\"abs\""), std::string::npos) << ok.data;
  for (const char *t :
       {"http://t?x=/weft.test.Echo/Unary", "HTTP://t#/weft.test.Echo/Unary",
        "foo://t/weft.test.Echo/Unary"}) {
    auto r = exchange(s.port(), with(t));
    // Not routed (404/501 for an unknown path, 400 for no path at all).
    EXPECT_EQ(r.data.rfind("HTTP/1.1 ", 0), 0u) << t << ": " << r.data;
    EXPECT_NE(r.data.rfind("HTTP/1.1 2", 0), 0u) << t << ": " << r.data;
    EXPECT_EQ(r.data.find("\"abs\""), std::string::npos) << t;
  }
}

// A request whose body never comes (a slow-loris past the head) is closed
// after six header timeouts without a body byte; a client sending its body
// slowly but steadily is served.
TEST(H1Serve, StalledRequestBodyTimesOut) {
  weft_server_opts o = Server::opts(0);
  o.header_timeout_ms = 100; // body timeout: 600 ms
  Server s("h2c://127.0.0.1:0", o);
  int fd = dial(s.port());
  const std::string head = "POST /weft.test.Echo/Unary HTTP/1.1\r\nHost: t\r\n"
                           "Content-Type: application/json\r\n"
                           "Content-Length: 100\r\n\r\n{";
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(send(fd, head.data(), head.size(), MSG_NOSIGNAL),
            (ssize_t)head.size());
  // Closed (EOF, or a reset) within dial()'s 5 s read timeout, not before
  // its 600 ms.
  char buf[4096];
  ssize_t n;
  do
    n = recv(fd, buf, sizeof buf, 0);
  while (n > 0);
  auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now() - t0)
                    .count();
  EXPECT_TRUE(n == 0 || errno == ECONNRESET) << "n=" << n << " errno=" << errno;
  EXPECT_GE(waited, 550);
  EXPECT_LT(waited, 4500);
  close(fd);
  // A body trickled a byte every 150 ms (under the timeout) is served.
  const std::string body = R"({"text":"slow"})";
  int slow = dial(s.port());
  std::string sh = "POST /weft.test.Echo/Unary HTTP/1.1\r\nHost: t\r\n"
                   "Content-Type: application/json\r\nContent-Length: " +
                   std::to_string(body.size()) + "\r\n\r\n";
  ASSERT_EQ(send(slow, sh.data(), sh.size(), MSG_NOSIGNAL), (ssize_t)sh.size());
  for (char ch : body) {
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    ASSERT_EQ(send(slow, &ch, 1, MSG_NOSIGNAL), 1);
  }
  std::string got;
  while (got.find("\"slow\"") == std::string::npos) {
    n = recv(slow, buf, sizeof buf, 0);
    if (n <= 0)
      break;
    got.append(buf, (size_t)n);
  }
  close(slow);
  EXPECT_EQ(got.rfind("HTTP/1.1 200", 0), 0u) << got;
  EXPECT_NE(got.find("\"slow\""), std::string::npos) << got;
}

TEST(H1Serve, CorsPreflightAndHeaders) {
  static const char *const origins[] = {"http://app.example", nullptr};
  weft_server_opts o = Server::opts(0);
  o.allowed_origins = origins;
  Server s("h2c://127.0.0.1:0", o);
  std::string pre = "OPTIONS /weft.test.Echo/Unary HTTP/1.1\r\nHost: t\r\n"
                    "Origin: http://app.example\r\n"
                    "Access-Control-Request-Method: POST\r\n"
                    "Access-Control-Request-Headers: content-type\r\n\r\n";
  auto ok = exchange(s.port(), pre, "\r\n\r\n");
  EXPECT_EQ(ok.data.rfind("HTTP/1.1 204", 0), 0u) << ok.data;
  EXPECT_NE(ok.data.find("Access-Control-Allow-Origin: http://app.example"),
            std::string::npos)
      << ok.data;
  EXPECT_NE(ok.data.find("Access-Control-Allow-Methods: GET, POST"),
            std::string::npos);
  EXPECT_NE(ok.data.find("Connect-Protocol-Version"), std::string::npos);
  EXPECT_NE(ok.data.find("Access-Control-Max-Age: "), std::string::npos);
  std::string bad = pre;
  bad.replace(bad.find("app.example"), 11, "evil.example");
  auto no = exchange(s.port(), bad, "\r\n\r\n");
  EXPECT_EQ(no.data.rfind("HTTP/1.1 403", 0), 0u) << no.data;
  EXPECT_EQ(no.data.find("Access-Control"), std::string::npos) << no.data;
  // The call itself carries Allow-Origin and Expose-Headers, on HTTP/2 too.
  auto call =
      exchange(s.port(),
               post("/weft.test.Echo/Unary", "application/json",
                    R"({"text":"c"})", "Origin: http://app.example\r\n"),
               "{\"text\":\"c\"}");
  EXPECT_NE(call.data.find("Access-Control-Allow-Origin: http://app.example"),
            std::string::npos)
      << call.data;
  EXPECT_NE(call.data.find("Access-Control-Expose-Headers: Grpc-Status"),
            std::string::npos);
  auto h2 = run("curl -s -D - -o /dev/null --http2-prior-knowledge -H "
                "'Origin: http://app.example' -H 'Content-Type: "
                "application/json' -d '{}' " +
                s.base() + "/weft.test.Echo/Unary");
  EXPECT_NE(h2.out.find("access-control-allow-origin: http://app.example"),
            std::string::npos)
      << h2.out;
  // No allow-list: CORS off, no headers.
  Server off;
  auto none = exchange(off.port(), pre, "\r\n\r\n");
  EXPECT_EQ(none.data.find("Access-Control"), std::string::npos) << none.data;
}

TEST(H1Serve, ClientDisconnectCancelsTheCall) {
  std::atomic<int> closed{0};
  weft_server_opts o = Server::opts(0);
  o.on_connection = [](void *ud, const weft_conn_event *ev) {
    if (ev->kind == WEFT_CONN_EVENT_CLOSED && ev->error == WEFT_ERR_CLOSED &&
        strstr(ev->reason, "with 1 call in flight"))
      static_cast<std::atomic<int> *>(ud)->fetch_add(1);
  };
  o.on_connection_ud = &closed;
  Server s("h2c://127.0.0.1:0", o);
  // A long server stream: 200 messages 20 ms apart; leave after the first.
  std::string env = envelope(R"({"text":"x","repeat":200,"delayMs":20})");
  int fd = dial(s.port());
  std::string req =
      post("/weft.test.Echo/ServerStream", "application/connect+json", env);
  ASSERT_EQ(send(fd, req.data(), req.size(), 0), (ssize_t)req.size());
  char buf[512];
  ASSERT_GT(recv(fd, buf, sizeof buf, 0), 0);
  close(fd);
  // The server saw the client leave with its call in flight; the next
  // call is served as usual.
  for (int i = 0; i < 100 && closed.load() == 0; i++)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(closed.load(), 1);
  auto r = exchange(
      s.port(),
      post("/weft.test.Echo/Unary", "application/json", R"({"text":"after"})"),
      "{\"text\":\"after\"}");
  EXPECT_NE(r.data.find("{\"text\":\"after\"}"), std::string::npos);
}

TEST(H1Serve, PythonHttpxAndAiohttp) {
  if (!h2test::have("/usr/bin/python3") ||
      run("/usr/bin/python3 -c 'import httpx, aiohttp'").status != 0)
    GTEST_SKIP() << "python3-httpx or python3-aiohttp not installed";
  Server s;
  auto r = run(std::string("/usr/bin/python3 ") + WEFT_H1_PY_CLIENTS + " " +
                   s.base() + " 2>&1",
               60);
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out.find("FAIL"), std::string::npos) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 6) << r.out;
}

// A browser: a page from another origin (a static server on another port)
// calls Unary with fetch and reads a server stream through CORS, and is
// refused by a server whose allow-list does not name it. The page writes
// its results into the DOM, which chromium dumps.
TEST(H1Serve, ChromiumCorsFetch) {
  if (!h2test::have("chromium"))
    GTEST_SKIP() << "chromium not installed";
  // Held until the page server (python's http.server, SO_REUSEADDR)
  // answers on it.
  h2test::PortReservation held;
  int page_port = held.port();
  ASSERT_GT(page_port, 0);
  std::string origin = "http://127.0.0.1:" + std::to_string(page_port);
  const char *const origins[] = {origin.c_str(), nullptr};
  weft_server_opts o = Server::opts(0);
  o.allowed_origins = origins;
  Server allowed("h2c://127.0.0.1:0", o);
  Server denied;
  std::string port_s = std::to_string(page_port);
  const char *argv[] = {"/usr/bin/python3",
                        "-m",
                        "http.server",
                        port_s.c_str(),
                        "--bind",
                        "127.0.0.1",
                        "--directory",
                        WEFT_H1_PAGE_DIR,
                        nullptr};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t web = -1;
  ASSERT_EQ(
      posix_spawn(&web, argv[0], &fa, nullptr, (char *const *)argv, environ),
      0);
  posix_spawn_file_actions_destroy(&fa);
  for (int i = 0; i < 50; i++) { // until the page server answers
    if (run("curl -s -o /dev/null " + origin + "/h1_browser_page.html", 5)
            .status == 0)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  held.release();
  auto r = run("chromium --headless --no-sandbox --disable-gpu "
               "--virtual-time-budget=10000 --dump-dom '" +
                   origin + "/h1_browser_page.html#" + allowed.base() + "," +
                   denied.base() + "' 2>/dev/null",
               60);
  kill(web, SIGTERM);
  waitpid(web, nullptr, 0);
  EXPECT_NE(r.out.find("RESULT"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("unary 200 {\"text\":\"from the browser\"}"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("stream flags=0 {\"text\":\"b\",\"index\":2}"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("stream flags=2 {}"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("denied refused: TypeError"), std::string::npos)
      << r.out;
}

} // namespace
