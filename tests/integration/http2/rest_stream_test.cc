// REST routes (google.api.http) of server-streaming methods on the HTTP
// port: the reply is a stream of JSON lines ({"result": ...} each, a last
// {"error": {...}} line for a failure once the stream has started), chunked
// over HTTP/1.1 and DATA frames over HTTP/2; an error before the first
// reply keeps the unary JSON error and HTTP status; client-streaming and
// bidi routes answer 501; a client that leaves mid-stream cancels the
// handler. Driven with curl (both HTTP versions) and a raw socket.
#include "h2_test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <vector>

extern "C" {
#include "resttest/v1/rest.weft.h"
#include "weft/status.h"
}

using h2test::run;

namespace {

std::atomic<int> g_cancels{0};

// /v1/feeds/{id}?i32=N&flag=B: N replies, then OK (or, with flag, ABORTED
// with a message that needs escaping). id "missing": NOT_FOUND before any
// reply; id "forever": replies until the client is gone, counting the
// cancellations it sees.
int tail(weft_server_call *call, const resttest__v1__Req *req, void *ctx) {
  (void)ctx;
  const char *id = req->id ? req->id : "";
  if (!strcmp(id, "missing")) {
    weft_server_call_set_message(call, "feed %s not found", id);
    return WEFT_STATUS_NOT_FOUND;
  }
  bool forever = !strcmp(id, "forever");
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (int i = 0; forever || i < req->i32; i++) {
    resttest__v1__Resp r = resttest__v1__Resp_INIT;
    std::string name = "item-" + std::to_string(i);
    r.name = (char *)name.c_str();
    r.total = i;
    if (weft_server_call_send(call, &r) < 0) {
      if (forever)
        g_cancels++;
      return WEFT_STATUS_CANCELLED;
    }
    if (forever) {
      if (std::chrono::steady_clock::now() > end)
        return WEFT_STATUS_DEADLINE_EXCEEDED; // the test failed: bounded
      usleep(2000);
    }
  }
  if (req->flag) {
    weft_server_call_set_message(call, "broke \"after\" %d\nreplies", req->i32);
    return WEFT_STATUS_ABORTED;
  }
  return WEFT_STATUS_OK;
}

int upload(weft_server_call *call, resttest__v1__Resp *resp, void *ctx) {
  (void)call, (void)resp, (void)ctx;
  return WEFT_STATUS_INTERNAL; // never reached: REST answers 501
}

int chat(weft_server_call *call, void *ctx) {
  (void)call, (void)ctx;
  return WEFT_STATUS_INTERNAL;
}

const resttest__v1__Feeds_impl impl = {tail, upload, chat};

class Server {
public:
  Server() {
    weft_server_opts o = {};
    o.shutdown_grace_ms = 2000;
    EXPECT_EQ(weft_server_new(&s_, &o), 0);
    EXPECT_EQ(
        weft_server_add_service(s_, &resttest__v1__Feeds_service, &impl, NULL),
        0);
    weft_error err = {};
    EXPECT_EQ(weft_server_listen(s_, "h2c://127.0.0.1:0", &err), 0)
        << err.message;
    port_ = weft_server_port(s_, 0);
    th_ = std::thread([this] { weft_server_run(s_); });
  }
  ~Server() {
    weft_server_shutdown(s_);
    th_.join();
    weft_server_free(s_);
  }
  int port() const {
    return port_;
  }
  std::string url(const std::string &path) const {
    return "'http://127.0.0.1:" + std::to_string(port_) + path + "'";
  }

private:
  weft_server *s_ = nullptr;
  int port_ = -1;
  std::thread th_;
};

// Response headers (-D -, lower-cased) then the body, then the status line.
h2test::Run curl(const Server &s, const std::string &args,
                 const std::string &path) {
  auto r = run("curl -s -N -D - -w '\\n%{http_code} %{http_version}' " + args +
               " " + s.url(path));
  for (char &c : r.out)
    c = (char)tolower((unsigned char)c);
  return r;
}

std::string body_of(const std::string &out) {
  size_t b = out.find("\r\n\r\n");
  size_t e = out.rfind('\n');
  if (b == std::string::npos || e == std::string::npos || e < b + 4)
    return "";
  return out.substr(b + 4, e - (b + 4));
}

std::vector<std::string> lines_of(const std::string &body) {
  std::vector<std::string> v;
  size_t p = 0;
  while (p < body.size()) {
    size_t n = body.find('\n', p);
    if (n == std::string::npos) {
      v.push_back(body.substr(p) + "<no newline>");
      break;
    }
    v.push_back(body.substr(p, n - p));
    p = n + 1;
  }
  return v;
}

void expect_results(const std::vector<std::string> &l, int n) {
  ASSERT_GE(l.size(), (size_t)n);
  for (int i = 0; i < n; i++)
    EXPECT_EQ(l[i], "{\"result\":{\"name\":\"item-" + std::to_string(i) +
                        "\",\"items\":[],\"total\":\"" + std::to_string(i) +
                        "\"}}")
        << i;
}

const char *const kVersions[] = {"--http1.1", "--http2-prior-knowledge"};

TEST(RestStream, LinesOverBothHttpVersions) {
  Server s;
  for (const char *v : kVersions) {
    SCOPED_TRACE(v);
    auto r = curl(s, v, "/v1/feeds/a?i32=3");
    bool h1 = !strcmp(v, "--http1.1");
    EXPECT_NE(r.out.find("content-type: application/json\r\n"),
              std::string::npos)
        << r.out;
    EXPECT_EQ(r.out.substr(r.out.rfind('\n') + 1), h1 ? "200 1.1" : "200 2");
    auto l = lines_of(body_of(r.out));
    EXPECT_EQ(l.size(), 3u) << r.out;
    expect_results(l, 3);
  }
}

TEST(RestStream, ErrorAfterTheStartIsTheLastLine) {
  Server s;
  for (const char *v : kVersions) {
    SCOPED_TRACE(v);
    auto r = curl(s, v, "/v1/feeds/a?i32=2&flag=true");
    EXPECT_EQ(r.out.substr(r.out.rfind('\n') + 1).substr(0, 4), "200 ");
    auto l = lines_of(body_of(r.out));
    ASSERT_EQ(l.size(), 3u) << r.out;
    expect_results(l, 2);
    // The message's quote and newline are escaped: one object per line.
    EXPECT_EQ(l[2], "{\"error\":{\"code\":10,\"message\":\"broke \\\"after\\\" "
                    "2\\u000areplies\",\"details\":[]}}");
  }
}

TEST(RestStream, ErrorBeforeTheFirstReplyKeepsTheHttpStatus) {
  Server s;
  for (const char *v : kVersions) {
    SCOPED_TRACE(v);
    auto r = curl(s, v, "/v1/feeds/missing");
    EXPECT_EQ(r.out.substr(r.out.rfind('\n') + 1).substr(0, 4), "404 ");
    EXPECT_EQ(body_of(r.out), "{\"error\":\"feed missing not found\",\"code\":"
                              "5,\"message\":\"feed missing not found\"}");
    r = curl(s, v, "/v1/feeds/a?i32=0&flag=true");
    EXPECT_EQ(r.out.substr(r.out.rfind('\n') + 1).substr(0, 4), "409 ");
    EXPECT_NE(body_of(r.out).find("\"code\":10,"), std::string::npos) << r.out;
    // No reply and OK: an empty 200.
    r = curl(s, v, "/v1/feeds/a?i32=0");
    EXPECT_EQ(r.out.substr(r.out.rfind('\n') + 1).substr(0, 4), "200 ");
    EXPECT_EQ(body_of(r.out), "");
  }
}

TEST(RestStream, ClientAndBidiStreamingRoutesAnswer501) {
  Server s;
  auto r = curl(s, "-d '{}'", "/v1/feeds/a:upload");
  EXPECT_EQ(r.out.substr(r.out.rfind('\n') + 1), "501 1.1");
  EXPECT_NE(r.out.find("/resttest.v1.feeds/upload is a client-streaming "
                       "method"),
            std::string::npos)
      << r.out;
  r = curl(s, "--http2-prior-knowledge -d '{}'", "/v1/feeds/a:chat");
  EXPECT_EQ(r.out.substr(r.out.rfind('\n') + 1), "501 2");
  EXPECT_NE(r.out.find("/resttest.v1.feeds/chat is a bidi-streaming method"),
            std::string::npos)
      << r.out;
}

// Waits (bounded) until the handler has seen n cancellations.
bool cancels_reach(int n) {
  for (int i = 0; i < 500 && g_cancels.load() < n; i++)
    usleep(10000);
  return g_cancels.load() >= n;
}

TEST(RestStream, ClientLeavingMidStreamCancelsTheHandler) {
  Server s;
  int before = g_cancels.load();
  // HTTP/1.1 on a raw socket: read the first lines, then close.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)s.port());
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, (sockaddr *)&a, sizeof a), 0);
  std::string rq = "GET /v1/feeds/forever HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(send(fd, rq.data(), rq.size(), MSG_NOSIGNAL), (ssize_t)rq.size());
  std::string got;
  char buf[4096];
  while (got.find("\"item-2\"") == std::string::npos) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0)
      break;
    got.append(buf, (size_t)n);
  }
  EXPECT_NE(got.find("HTTP/1.1 200"), std::string::npos) << got;
  // Replies go out as they come: chunked (a stream that ended before its
  // head went out may carry a Content-Length instead).
  EXPECT_NE(got.find("Transfer-Encoding: chunked\r\n"), std::string::npos)
      << got;
  EXPECT_NE(got.find("{\"result\":{\"name\":\"item-2\""), std::string::npos)
      << got;
  close(fd);
  EXPECT_TRUE(cancels_reach(before + 1)) << "HTTP/1.1 disconnect not seen";

  // HTTP/2: head takes two lines and exits; curl's next write fails and it
  // drops the connection.
  auto r = run("sh -c \"curl -s -N --http2-prior-knowledge " +
               s.url("/v1/feeds/forever") + " | head -n 2\"");
  auto l = lines_of(r.out);
  EXPECT_EQ(l.size(), 2u) << r.out;
  expect_results(l, 2);
  EXPECT_TRUE(cancels_reach(before + 2)) << "HTTP/2 disconnect not seen";
}

} // namespace
