// The HTTP/1.1 server engine without sockets: requests fed in every chunk
// size, responses checked byte for byte, and every request-smuggling shape
// refused with its status and nothing else served on the connection.
#include <gtest/gtest.h>

#include <string>
#include <vector>

extern "C" {
#include "h1_engine.h"
}

namespace {

struct Req {
  std::string method, target;
  std::vector<std::pair<std::string, std::string>> fields, trailers;
  std::string body;
  int64_t content_length = -1;
  bool chunked = false, expect_continue = false, keep_alive = false;
  bool ended = false;
};

// Drives an engine as a connection would. By default it answers each
// request when it ends with 200 and body "ok" (Content-Length).
struct Conn {
  weft__h1 *h = nullptr;
  std::vector<Req> reqs;
  std::string out;
  bool answer = true;
  weft_error err{};

  explicit Conn(const weft__h1_limits *lim = nullptr) {
    static const weft__h1_callbacks cb = {on_request, on_body, on_end};
    EXPECT_EQ(0, weft__h1_new(&h, &cb, this, lim));
  }
  ~Conn() {
    weft__h1_free(h);
  }

  static int on_request(void *ud, const weft__h1_request *rq) {
    Conn *c = static_cast<Conn *>(ud);
    Req r;
    r.method = rq->method;
    r.target = rq->target;
    for (size_t i = 0; i < rq->nfields; i++)
      r.fields.emplace_back(rq->fields[i].name, rq->fields[i].value);
    r.content_length = rq->content_length;
    r.chunked = rq->chunked;
    r.expect_continue = rq->expect_continue;
    r.keep_alive = rq->keep_alive;
    c->reqs.push_back(r);
    return 0;
  }
  static int on_body(void *ud, const uint8_t *p, size_t n) {
    static_cast<Conn *>(ud)->reqs.back().body.append((const char *)p, n);
    return 0;
  }
  static int on_end(void *ud, const weft__h1_field *t, size_t nt) {
    Conn *c = static_cast<Conn *>(ud);
    Req &r = c->reqs.back();
    for (size_t i = 0; i < nt; i++)
      r.trailers.emplace_back(t[i].name, t[i].value);
    r.ended = true;
    if (c->answer) {
      EXPECT_EQ(0, weft__h1_submit_head(c->h, 200, nullptr, 0, 2));
      EXPECT_EQ(0, weft__h1_submit_data(c->h, (const uint8_t *)"ok", 2));
      EXPECT_EQ(0, weft__h1_submit_end(c->h, nullptr, 0));
    }
    return 0;
  }

  void drain() {
    const uint8_t *p;
    size_t n = weft__h1_output(h, &p);
    out.append((const char *)p, n);
    weft__h1_consume(h, n);
  }

  // Feeds everything in chunks of `chunk` bytes, re-feeding what a pause
  // left over. Returns the first error, or the bytes left unconsumed
  // (>= 0) when the engine stopped reading.
  ssize_t feed(const std::string &s, size_t chunk = SIZE_MAX) {
    size_t off = 0;
    while (off < s.size()) {
      size_t n = std::min(chunk, s.size() - off);
      ssize_t used = weft__h1_feed(h, (const uint8_t *)s.data() + off, n, &err);
      drain();
      if (used < 0)
        return used;
      off += (size_t)used;
      if ((size_t)used < n && !weft__h1_want_read(h))
        break;
    }
    return (ssize_t)(s.size() - off);
  }
};

const char kGet[] = "GET /v1/jobs?limit=2 HTTP/1.1\r\nHost: a\r\n"
                    "User-Agent: t\r\nAccept:  */*  \r\n\r\n";

TEST(H1Engine, ParsesAGetAndAnswersWithContentLength) {
  Conn c;
  EXPECT_EQ(0, c.feed(kGet));
  ASSERT_EQ(1u, c.reqs.size());
  EXPECT_EQ("GET", c.reqs[0].method);
  EXPECT_EQ("/v1/jobs?limit=2", c.reqs[0].target);
  ASSERT_EQ(3u, c.reqs[0].fields.size());
  EXPECT_EQ("Accept", c.reqs[0].fields[2].first);
  EXPECT_EQ("*/*", c.reqs[0].fields[2].second); // OWS trimmed
  EXPECT_TRUE(c.reqs[0].keep_alive);
  EXPECT_TRUE(c.reqs[0].ended);
  EXPECT_EQ("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", c.out);
  EXPECT_FALSE(weft__h1_should_close(c.h));
  EXPECT_TRUE(weft__h1_want_read(c.h));
  EXPECT_EQ(0, weft__h1_feed_eof(c.h, nullptr));
}

// An idle keep-alive connection can drop its buffers and serve on.
TEST(H1Engine, TrimBetweenRequests) {
  Conn c;
  EXPECT_EQ(0, c.feed(kGet));
  c.drain();
  weft__h1_trim(c.h);
  c.out.clear();
  EXPECT_EQ(0, c.feed(kGet));
  ASSERT_EQ(2u, c.reqs.size());
  EXPECT_EQ("/v1/jobs?limit=2", c.reqs[1].target);
  EXPECT_EQ("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", c.out);
  // Mid-head it keeps what it has.
  c.out.clear();
  std::string g = kGet;
  EXPECT_EQ(0, c.feed(g.substr(0, 10)));
  weft__h1_trim(c.h);
  EXPECT_EQ(0, c.feed(g.substr(10)));
  ASSERT_EQ(3u, c.reqs.size());
  EXPECT_EQ("/v1/jobs?limit=2", c.reqs[2].target);
}

const char kChunkedPost[] =
    "\r\nPOST /aitbc.v1.Jobs/CreateJob HTTP/1.1\r\nHost: x\r\n"
    "Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n"
    "5;ext=1\r\n{\"a\":\r\n"
    "A\r\n\"0123456\"}\r\n"
    "0\r\nX-Check: 1\r\n\r\n"
    "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

TEST(H1Engine, SameEventsInEveryChunkSize) {
  for (size_t chunk = 1; chunk <= sizeof kChunkedPost; chunk++) {
    SCOPED_TRACE(chunk);
    Conn c;
    EXPECT_EQ(0, c.feed(kChunkedPost, chunk));
    ASSERT_EQ(2u, c.reqs.size());
    EXPECT_EQ("POST", c.reqs[0].method);
    EXPECT_TRUE(c.reqs[0].chunked);
    EXPECT_EQ("{\"a\":\"0123456\"}", c.reqs[0].body);
    ASSERT_EQ(1u, c.reqs[0].trailers.size());
    EXPECT_EQ("X-Check", c.reqs[0].trailers[0].first);
    EXPECT_FALSE(c.reqs[1].keep_alive);
    EXPECT_TRUE(weft__h1_should_close(c.h));
    EXPECT_EQ("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
              "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: "
              "close\r\n\r\nok",
              c.out);
  }
}

TEST(H1Engine, PipelinedRequestsWaitForTheResponse) {
  Conn c;
  c.answer = false;
  std::string two = std::string(kGet) + kGet;
  ssize_t left = c.feed(two);
  EXPECT_EQ((ssize_t)sizeof kGet - 1, left); // the second is not read yet
  ASSERT_EQ(1u, c.reqs.size());
  EXPECT_FALSE(weft__h1_want_read(c.h));
  ASSERT_EQ(0, weft__h1_submit_head(c.h, 204, nullptr, 0, -1));
  ASSERT_EQ(0, weft__h1_submit_end(c.h, nullptr, 0));
  EXPECT_TRUE(weft__h1_want_read(c.h));
  EXPECT_EQ(0, c.feed(two.substr(two.size() - (size_t)left)));
  EXPECT_EQ(2u, c.reqs.size());
  EXPECT_EQ("HTTP/1.1 204 No Content\r\n\r\n", c.out);
}

TEST(H1Engine, ChunkedResponseWithTrailers) {
  Conn c;
  c.answer = false;
  EXPECT_EQ(0, c.feed(kGet));
  weft__h1_field ct = {"Content-Type", "application/grpc-web", 12, 20};
  ASSERT_EQ(0, weft__h1_submit_head(c.h, 200, &ct, 1, -1));
  ASSERT_EQ(
      0, weft__h1_submit_data(c.h, (const uint8_t *)"0123456789abcdef!", 17));
  weft__h1_field tr = {"grpc-status", "0", 11, 1};
  ASSERT_EQ(0, weft__h1_submit_end(c.h, &tr, 1));
  c.drain();
  EXPECT_EQ("HTTP/1.1 200 OK\r\nContent-Type: application/grpc-web\r\n"
            "Transfer-Encoding: chunked\r\n\r\n11\r\n0123456789abcdef!\r\n"
            "0\r\ngrpc-status: 0\r\n\r\n",
            c.out);
}

TEST(H1Engine, Http10KeepAliveOnlyWhenAsked) {
  Conn c;
  c.answer = false;
  EXPECT_EQ(0, c.feed("GET / HTTP/1.0\r\n\r\n"));
  EXPECT_FALSE(c.reqs[0].keep_alive);
  ASSERT_EQ(0, weft__h1_submit_head(c.h, 200, nullptr, 0, -1));
  ASSERT_EQ(0, weft__h1_submit_data(c.h, (const uint8_t *)"abc", 3));
  ASSERT_EQ(0, weft__h1_submit_end(c.h, nullptr, 0));
  c.drain();
  // Close-delimited: no chunked coding for an HTTP/1.0 client.
  EXPECT_EQ("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nabc", c.out);
  EXPECT_TRUE(weft__h1_should_close(c.h));

  Conn k;
  EXPECT_EQ(0, k.feed("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
  EXPECT_EQ("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: "
            "keep-alive\r\n\r\nok",
            k.out);
  EXPECT_FALSE(weft__h1_should_close(k.h));
}

TEST(H1Engine, HeadResponseHasNoBody) {
  Conn c;
  EXPECT_EQ(0, c.feed("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"));
  EXPECT_EQ("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", c.out);
}

TEST(H1Engine, ExpectContinue) {
  Conn c;
  c.answer = false;
  EXPECT_EQ(0, c.feed("PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
                      "Expect: 100-continue\r\n\r\n"));
  ASSERT_EQ(1u, c.reqs.size());
  EXPECT_TRUE(c.reqs[0].expect_continue);
  ASSERT_EQ(0, weft__h1_submit_continue(c.h));
  EXPECT_EQ(WEFT_ERR_STATE, weft__h1_submit_continue(c.h));
  c.drain();
  EXPECT_EQ("HTTP/1.1 100 Continue\r\n\r\n", c.out);
  EXPECT_EQ(0, c.feed("abc"));
  EXPECT_EQ("abc", c.reqs[0].body);
  EXPECT_TRUE(c.reqs[0].ended);
}

// Expect is a list: empty elements do not count (RFC 9110 section 5.6.1).
TEST(H1Engine, ExpectContinueAsAListElement) {
  Conn c;
  c.answer = false;
  EXPECT_EQ(0, c.feed("PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
                      "Expect: 100-Continue, \r\n\r\n"));
  ASSERT_EQ(1u, c.reqs.size());
  EXPECT_TRUE(c.reqs[0].expect_continue);
  Conn d;
  EXPECT_LT(d.feed("PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
                   "Expect: 100-continue, x\r\n\r\n"),
            0);
  EXPECT_EQ(417, weft__h1_error_status(d.h));
}

// What RFC 9112 section 3.2 allows in Host: names, IPv4 and bracketed IPv6
// literals, a port, and an empty value.
TEST(H1Engine, HostShapesAccepted) {
  for (const char *host : {"", "a", "example.com:8080", "127.0.0.1:1",
                           "[::1]:443", "[v1.x]", "x_y-z~1%41", "a:"}) {
    SCOPED_TRACE(host);
    Conn c;
    EXPECT_EQ(
        0, c.feed(std::string("GET / HTTP/1.1\r\nHost: ") + host + "\r\n\r\n"));
    EXPECT_EQ(1u, c.reqs.size());
  }
}

TEST(H1Engine, EarlyAnswerWithTheBodyUnreadCloses) {
  Conn c;
  c.answer = false;
  EXPECT_EQ(0, c.feed("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n"
                      "\r\nabc"));
  ASSERT_EQ(0, weft__h1_submit_error(c.h, 413, "too big"));
  c.drain();
  EXPECT_EQ(0u, c.out.find("HTTP/1.1 413 Content Too Large\r\n"));
  EXPECT_NE(std::string::npos, c.out.find("Connection: close\r\n"));
  EXPECT_TRUE(weft__h1_should_close(c.h));
  EXPECT_FALSE(weft__h1_want_read(c.h));
}

// Every status the engine refuses with gets its canned answer (431's long
// reason phrase once overflowed the head's format buffer: no bytes at all).
TEST(H1Engine, SubmitErrorFramesEveryRefusalStatus) {
  for (int status : {400, 413, 414, 417, 431, 501, 505}) {
    SCOPED_TRACE(status);
    Conn c;
    c.answer = false;
    EXPECT_EQ(0, c.feed("GET /x HTTP/1.1\r\nHost: a\r\n\r\n"));
    std::string why(100, 'w'); // Content-Length: 101
    ASSERT_EQ(0, weft__h1_submit_error(c.h, status, why.c_str()));
    c.drain();
    EXPECT_EQ(0u, c.out.find("HTTP/1.1 " + std::to_string(status) + " " +
                             weft__h1_reason(status) + "\r\n"));
    EXPECT_NE(std::string::npos, c.out.find("\r\n\r\n" + why + "\n"));
  }
}

TEST(H1Engine, EofInsideARequestIsTruncated) {
  Conn c;
  EXPECT_EQ(0, c.feed("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n"
                      "\r\nabc"));
  weft_error e{};
  EXPECT_EQ(WEFT_ERR_TRUNCATED, weft__h1_feed_eof(c.h, &e));
  EXPECT_NE(nullptr, strstr(e.message, "body"));
  Conn d;
  EXPECT_EQ(0, d.feed("GET / HT"));
  EXPECT_EQ(WEFT_ERR_TRUNCATED, weft__h1_feed_eof(d.h, nullptr));
}

TEST(H1Engine, SubmitChecksTheResponse) {
  Conn c;
  c.answer = false;
  EXPECT_EQ(WEFT_ERR_STATE, weft__h1_submit_head(c.h, 200, nullptr, 0, 0));
  EXPECT_EQ(0, c.feed(kGet));
  weft__h1_field bad = {"X-A", "a\r\nInjected: 1", 3, 15};
  EXPECT_EQ(WEFT_ERR_INVAL, weft__h1_submit_head(c.h, 200, &bad, 1, 0));
  weft__h1_field cl = {"content-length", "5", 14, 1};
  EXPECT_EQ(WEFT_ERR_INVAL, weft__h1_submit_head(c.h, 200, &cl, 1, 0));
  ASSERT_EQ(0, weft__h1_submit_head(c.h, 200, nullptr, 0, 2));
  EXPECT_EQ(WEFT_ERR_INVAL,
            weft__h1_submit_data(c.h, (const uint8_t *)"abc", 3));
  EXPECT_EQ(WEFT_ERR_INVAL, weft__h1_submit_end(c.h, nullptr, 0)); // short
  ASSERT_EQ(0, weft__h1_submit_data(c.h, (const uint8_t *)"ab", 2));
  ASSERT_EQ(0, weft__h1_submit_end(c.h, nullptr, 0));
}

struct Bad {
  const char *name, *req;
  int status;
};

// Each is refused with its status; the connection serves nothing after it,
// not even a valid request that follows in the same bytes.
const Bad kBad[] = {
    {"both CL and TE",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: "
     "chunked\r\n\r\n0\r\n\r\n",
     400},
    {"TE then CL",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
     "Content-Length: 3\r\n\r\n0\r\n\r\n",
     400},
    {"duplicate CL, same value",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: "
     "3\r\n\r\nabc",
     400},
    {"CL list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nabc",
     400},
    {"CL sign", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc",
     400},
    {"CL hex", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x3\r\n\r\nabc",
     400},
    {"TE not chunked last",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, "
     "identity\r\n\r\n",
     400},
    {"TE chunked twice",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
     "Transfer-Encoding: chunked\r\n\r\n",
     400},
    {"TE empty, framed by CL",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n"
     "Content-Length: 3\r\n\r\nabc",
     400},
    {"TE empty alone",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n", 400},
    {"TE only commas",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , ,\r\n\r\n", 400},
    {"chunk size then white space",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
     "3 \r\nabc\r\n0\r\n\r\n",
     400},
    {"Host not a host", "GET / HTTP/1.1\r\nHost: a b/c@d\r\n\r\n", 400},
    {"Host port not digits", "GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n", 400},
    {"Host bracket not closed", "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400},
    {"TE with a space trick",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", 400},
    {"TE gzip",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, "
     "chunked\r\n\r\n",
     501},
    {"TE in HTTP/1.0",
     "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
    {"bad chunk size",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
     400},
    {"negative chunk size",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n",
     400},
    {"chunk size overflow",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
     "chunked\r\n\r\n10000000000000001\r\n",
     413},
    {"chunk size junk",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3 x\r\n",
     400},
    {"chunk without CRLF",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
     "chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n",
     400},
    {"chunk line bare LF",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\n",
     400},
    {"header folding",
     "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n continued\r\n\r\n", 400},
    {"space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},
    {"bare LF in head", "GET / HTTP/1.1\nHost: a\n\n", 400},
    {"bare CR in a value", "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", 400},
    {"NUL in a value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: a\0b\r\n\r\n", 400},
    {"no Host", "GET / HTTP/1.1\r\n\r\n", 400},
    {"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
    {"no colon", "GET / HTTP/1.1\r\nHost a\r\n\r\n", 400},
    {"bad method", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"two spaces", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"space in target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"HTTP/0.9", "GET /\r\n\r\n", 400},
    {"HTTP/2.0 in text", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
    {"lowercase version", "GET / http/1.1\r\nHost: a\r\n\r\n", 400},
    {"expectation", "GET / HTTP/1.1\r\nHost: a\r\nExpect: bogus\r\n\r\n", 417},
    {"body over the limit",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999\r\n\r\n", 413},
};

TEST(H1Engine, RefusesSmugglingShapesAndServesNothingAfter) {
  for (const Bad &b : kBad) {
    SCOPED_TRACE(b.name);
    for (size_t chunk : {(size_t)1, (size_t)7, SIZE_MAX}) {
      Conn c;
      // The NUL case's literal carries an embedded NUL: take it whole.
      std::string req(b.req, strcmp(b.name, "NUL in a value") == 0
                                 ? strlen(b.req) + 1 +
                                       strlen(b.req + strlen(b.req) + 1)
                                 : strlen(b.req));
      std::string all = req + kGet;
      ssize_t rv = c.feed(all, chunk);
      EXPECT_LT(rv, 0);
      EXPECT_EQ(b.status, weft__h1_error_status(c.h));
      EXPECT_NE('\0', c.err.message[0]);
      weft__h1_submit_error(c.h, 0, c.err.message);
      c.drain();
      EXPECT_EQ(0u, c.out.find("HTTP/1.1 " + std::to_string(b.status)));
      EXPECT_NE(std::string::npos, c.out.find("Connection: close\r\n"));
      EXPECT_TRUE(weft__h1_should_close(c.h));
      // Sticky: the valid request after it is never seen.
      EXPECT_LT(
          weft__h1_feed(c.h, (const uint8_t *)kGet, sizeof kGet - 1, nullptr),
          0);
      for (const Req &r : c.reqs)
        EXPECT_NE("/v1/jobs?limit=2", r.target);
    }
  }
}

TEST(H1Engine, Limits) {
  weft__h1_limits lim = {64, 256, 4, 16};
  {
    Conn c(&lim);
    EXPECT_LT(c.feed("GET /" + std::string(100, 'a') + " HTTP/1.1\r\n", 5), 0);
    EXPECT_EQ(414, weft__h1_error_status(c.h));
  }
  {
    Conn c(&lim);
    std::string r = "GET / HTTP/1.1\r\nHost: a\r\n";
    for (int i = 0; i < 5; i++)
      r += "X-" + std::to_string(i) + ": v\r\n";
    EXPECT_LT(c.feed(r + "\r\n"), 0);
    EXPECT_EQ(431, weft__h1_error_status(c.h));
  }
  {
    Conn c(&lim);
    EXPECT_LT(c.feed("GET / HTTP/1.1\r\nHost: a\r\nX-Big: " +
                     std::string(300, 'v') + "\r\n\r\n"),
              0);
    EXPECT_EQ(431, weft__h1_error_status(c.h));
  }
  {
    Conn c(&lim);
    EXPECT_LT(c.feed("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
                     "chunked\r\n\r\n10\r\n0123456789abcdef\r\n1\r\n"),
              0);
    EXPECT_EQ(413, weft__h1_error_status(c.h));
  }
}

} // namespace
