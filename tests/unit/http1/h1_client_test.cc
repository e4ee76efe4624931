// The HTTP/1.1 client engine without sockets: requests checked byte for
// byte, responses fed split at every point (and one byte at a time) with
// the same events each time, and every framing ambiguity refused with a
// message that says what and where.
#include <gtest/gtest.h>

#include <string>
#include <vector>

extern "C" {
#include "h1_client.h"
}

namespace {

struct Resp {
  int status = 0;
  std::string reason;
  std::vector<std::pair<std::string, std::string>> fields, trailers;
  std::string body;
  int64_t content_length = -2;
  bool chunked = false, close_delimited = false, keep_alive = false;
  bool ended = false;
};

struct Client {
  weft__h1c *h = nullptr;
  std::vector<Resp> resps;
  weft_error err{};

  explicit Client(const weft__h1c_limits *lim = nullptr) {
    static const weft__h1c_callbacks cb = {on_response, on_body, on_end};
    EXPECT_EQ(0, weft__h1c_new(&h, &cb, this, lim));
  }
  ~Client() {
    weft__h1c_free(h);
  }
  static int on_response(void *ud, const weft__h1c_response *r) {
    Resp x;
    x.status = r->status;
    x.reason = r->reason;
    for (size_t i = 0; i < r->nfields; i++)
      x.fields.emplace_back(r->fields[i].name, r->fields[i].value);
    x.content_length = r->content_length;
    x.chunked = r->chunked;
    x.close_delimited = r->close_delimited;
    x.keep_alive = r->keep_alive;
    static_cast<Client *>(ud)->resps.push_back(x);
    return 0;
  }
  static int on_body(void *ud, const uint8_t *p, size_t n) {
    static_cast<Client *>(ud)->resps.back().body.append((const char *)p, n);
    return 0;
  }
  static int on_end(void *ud, const weft__h1_field *t, size_t nt) {
    Resp &r = static_cast<Client *>(ud)->resps.back();
    for (size_t i = 0; i < nt; i++)
      r.trailers.emplace_back(t[i].name, t[i].value);
    r.ended = true;
    return 0;
  }
  std::string out() {
    const uint8_t *p;
    size_t n = weft__h1c_output(h, &p);
    std::string s((const char *)p, n);
    weft__h1c_consume(h, n);
    return s;
  }
  void post(int64_t cl = 0) {
    ASSERT_EQ(0,
              weft__h1c_submit_request(h, "POST", "/p", "h", nullptr, 0, cl));
    if (cl == 0)
      ASSERT_EQ(0, weft__h1c_submit_end(h, nullptr, 0));
    out();
  }
  // Feeds pieces; returns the first failure (or 0), with eof at the end.
  int feed(const std::vector<std::string> &pieces, bool eof) {
    for (const auto &p : pieces) {
      size_t off = 0;
      while (off < p.size()) {
        ssize_t n = weft__h1c_feed(h, (const uint8_t *)p.data() + off,
                                   p.size() - off, &err);
        if (n < 0)
          return (int)n;
        off += (size_t)n;
        if (off < p.size()) {
          if (!weft__h1c_reusable(h))
            return 1; // bytes left over on a connection that ends
          post();
        }
      }
    }
    return eof ? weft__h1c_feed_eof(h, &err) : 0;
  }
};

std::string transcript(const Client &c, int rv) {
  std::string s = "rv=" + std::to_string(rv) + ";";
  for (const auto &r : c.resps) {
    s += std::to_string(r.status) + " " + r.reason +
         "|cl=" + std::to_string(r.content_length) +
         (r.chunked ? "|chunked" : "") + (r.close_delimited ? "|close" : "") +
         (r.keep_alive ? "|ka" : "") + "|";
    for (const auto &f : r.fields)
      s += f.first + ":" + f.second + ",";
    s += "|body=" + r.body + "|";
    for (const auto &f : r.trailers)
      s += f.first + ":" + f.second + ",";
    s += r.ended ? "|end;" : "|open;";
  }
  return s;
}

// The transcript of feeding `in` whole, which every split must reproduce.
std::string run_all_splits(const std::string &in, bool eof, int64_t cl = 0,
                           const char *method = "POST") {
  auto one = [&](const std::vector<std::string> &pieces) {
    Client c;
    EXPECT_EQ(0,
              weft__h1c_submit_request(c.h, method, "/p", "h", nullptr, 0, cl));
    EXPECT_EQ(0, weft__h1c_submit_end(c.h, nullptr, 0));
    c.out();
    int rv = c.feed(pieces, eof);
    return transcript(c, rv);
  };
  std::string whole = one({in});
  for (size_t i = 1; i < in.size(); i++)
    EXPECT_EQ(whole, one({in.substr(0, i), in.substr(i)})) << "split at " << i;
  std::vector<std::string> bytes;
  for (char ch : in)
    bytes.emplace_back(1, ch);
  EXPECT_EQ(whole, one(bytes)) << "one byte at a time";
  return whole;
}

TEST(H1Client, RequestWithContentLength) {
  Client c;
  weft__h1_field f[] = {{"Content-Type", "application/proto", 12, 17},
                        {"x-a", "b", 3, 1}};
  ASSERT_EQ(0,
            weft__h1c_submit_request(c.h, "POST", "/pkg.S/M", "h:80", f, 2, 3));
  ASSERT_EQ(0, weft__h1c_submit_data(c.h, (const uint8_t *)"abc", 3));
  ASSERT_EQ(0, weft__h1c_submit_end(c.h, nullptr, 0));
  EXPECT_EQ(c.out(), "POST /pkg.S/M HTTP/1.1\r\nHost: h:80\r\nContent-Type: "
                     "application/proto\r\nx-a: b\r\nContent-Length: "
                     "3\r\n\r\nabc");
}

TEST(H1Client, ChunkedRequestWithTrailers) {
  Client c;
  ASSERT_EQ(0,
            weft__h1c_submit_request(c.h, "POST", "/s", "h", nullptr, 0, -1));
  ASSERT_EQ(0, weft__h1c_submit_data(c.h, (const uint8_t *)"0123456789ab", 12));
  weft__h1_field t = {"x-sum", "7", 5, 1};
  ASSERT_EQ(0, weft__h1c_submit_end(c.h, &t, 1));
  EXPECT_EQ(c.out(), "POST /s HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: "
                     "chunked\r\n\r\nc\r\n0123456789ab\r\n0\r\nx-sum: "
                     "7\r\n\r\n");
}

TEST(H1Client, RequestRefusals) {
  Client c;
  weft__h1_field crlf = {"x-a", "b\r\nEvil: 1", 3, 10};
  weft__h1_field host = {"Host", "other", 4, 5};
  weft__h1_field te = {"Transfer-Encoding", "chunked", 17, 7};
  weft__h1_field sp = {"x a", "b", 3, 1};
  EXPECT_EQ(WEFT_ERR_INVAL,
            weft__h1c_submit_request(c.h, "POST", "/", "h", &crlf, 1, 0));
  EXPECT_EQ(WEFT_ERR_INVAL,
            weft__h1c_submit_request(c.h, "POST", "/", "h", &host, 1, 0));
  EXPECT_EQ(WEFT_ERR_INVAL,
            weft__h1c_submit_request(c.h, "POST", "/", "h", &te, 1, 0));
  EXPECT_EQ(WEFT_ERR_INVAL,
            weft__h1c_submit_request(c.h, "POST", "/", "h", &sp, 1, 0));
  EXPECT_EQ(WEFT_ERR_INVAL,
            weft__h1c_submit_request(c.h, "PO ST", "/", "h", nullptr, 0, 0));
  EXPECT_EQ(WEFT_ERR_INVAL,
            weft__h1c_submit_request(c.h, "POST", "/a b", "h", nullptr, 0, 0));
  EXPECT_EQ(WEFT_ERR_INVAL,
            weft__h1c_submit_request(c.h, "POST", "/", "h\r\n", nullptr, 0, 0));
  EXPECT_EQ(0, weft__h1c_submit_request(c.h, "POST", "/", "h", nullptr, 0, 2));
  // One exchange at a time; the body must match its Content-Length.
  EXPECT_EQ(WEFT_ERR_STATE,
            weft__h1c_submit_request(c.h, "POST", "/", "h", nullptr, 0, 0));
  EXPECT_EQ(WEFT_ERR_INVAL,
            weft__h1c_submit_data(c.h, (const uint8_t *)"abc", 3));
  EXPECT_EQ(WEFT_ERR_INVAL, weft__h1c_submit_end(c.h, nullptr, 0));
}

TEST(H1Client, ContentLengthEverySplit) {
  std::string t = run_all_splits("HTTP/1.1 200 OK\r\nContent-Type: "
                                 "application/proto\r\nContent-Length: "
                                 "5\r\n\r\nhello",
                                 false);
  EXPECT_EQ(t, "rv=0;200 OK|cl=5|ka|Content-Type:application/proto,Content-"
               "Length:5,|body=hello||end;");
}

TEST(H1Client, ChunkedWithTrailersEverySplit) {
  std::string t = run_all_splits(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n"
      "A\r\n0123456789\r\n0\r\ngrpc-status: 0\r\nx-m:  v \r\n\r\n",
      false);
  EXPECT_EQ(t, "rv=0;200 OK|cl=-1|chunked|ka|Transfer-Encoding:chunked,|body="
               "hello0123456789|grpc-status:0,x-m:v,|end;");
}

TEST(H1Client, CloseDelimitedEverySplit) {
  std::string t = run_all_splits(
      "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close", true);
  EXPECT_EQ(t, "rv=0;200 OK|cl=-1|close|Content-Type:text/plain,|body=until "
               "close||end;");
}

TEST(H1Client, InterimResponsesSkipped) {
  std::string t = run_all_splits(
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: "
      "</a>\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno",
      false);
  EXPECT_EQ(t, "rv=0;404 Not Found|cl=2|ka|Content-Length:2,|body=no||end;");
}

TEST(H1Client, NoBodyResponses) {
  // 204 and 304 carry no body whatever they say; neither does a HEAD's.
  EXPECT_EQ(run_all_splits("HTTP/1.1 204 No Content\r\n\r\n", false),
            "rv=0;204 No Content|cl=-1|ka||body=||end;");
  EXPECT_EQ(run_all_splits("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n",
                           false, 0, "HEAD"),
            "rv=0;200 OK|cl=-1|ka|Content-Length:9,|body=||end;");
  // No reason phrase at all (RFC 9112 allows an empty one).
  EXPECT_EQ(run_all_splits("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", false),
            "rv=0;200 |cl=0|ka|Content-Length:0,|body=||end;");
}

TEST(H1Client, KeepAliveAndClose) {
  Client c;
  c.post();
  ASSERT_EQ(0,
            c.feed({"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"}, false));
  EXPECT_TRUE(weft__h1c_reusable(c.h));
  c.post();
  ASSERT_EQ(0, c.feed({"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-"
                       "Length: 1\r\n\r\nb"},
                      false));
  EXPECT_FALSE(weft__h1c_reusable(c.h));
  EXPECT_EQ(WEFT_ERR_STATE,
            weft__h1c_submit_request(c.h, "POST", "/", "h", nullptr, 0, 0));
  // HTTP/1.0 keeps the connection only when it says so.
  Client d;
  d.post();
  ASSERT_EQ(0, d.feed({"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n"
                       "Content-Length: 0\r\n\r\n"},
                      false));
  EXPECT_TRUE(weft__h1c_reusable(d.h));
  // Bytes after a response that ends the connection are not consumed.
  Client e;
  e.post();
  EXPECT_EQ(1, e.feed({"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-"
                       "Length: 0\r\n\r\nHTTP/1.1"},
                      false));
}

TEST(H1Client, ReceivedCountsResponseBytes) {
  Client c;
  c.post();
  EXPECT_EQ(0u, weft__h1c_received(c.h));
  ASSERT_EQ(0, c.feed({"HTTP/1.1 2"}, false));
  EXPECT_EQ(10u, weft__h1c_received(c.h));
}

struct Bad {
  const char *in;
  int code;
  const char *msg; // a part of the message
  bool eof;
};

TEST(H1Client, FramingErrors) {
  const Bad bad[] = {
      {"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked"
       "\r\n\r\n",
       WEFT_ERR_PROTOCOL, "both Content-Length and Transfer-Encoding", false},
      {"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
       WEFT_ERR_PROTOCOL, "more than one Content-Length", false},
      {"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", WEFT_ERR_PROTOCOL,
       "Content-Length \"-1\" is not a length", false},
      {"HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\n", WEFT_ERR_PROTOCOL,
       "is not a length", false},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
       WEFT_ERR_UNSUPPORTED, "other than chunked", false},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
       WEFT_ERR_PROTOCOL, "does not end with one \"chunked\"", false},
      {"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
       WEFT_ERR_PROTOCOL, "in an HTTP/1.0 response", false},
      {"HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", WEFT_ERR_PROTOCOL,
       "response head line 1 ends with a bare LF", false},
      {"HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", WEFT_ERR_PROTOCOL,
       "field 2: obsolete line folding", false},
      {"HTTP/1.1 200 OK\r\nX : a\r\n\r\n", WEFT_ERR_PROTOCOL,
       "field 1: whitespace between the field name and the colon", false},
      {"HTTP/1.1 200 OK\r\nX: a\x01\r\n\r\n", WEFT_ERR_PROTOCOL,
       "control character 0x01", false},
      {"HTTP/2.0 200 OK\r\n\r\n", WEFT_ERR_UNSUPPORTED, "HTTP version 2.0",
       false},
      {"HTTP/1.1 2000 OK\r\n\r\n", WEFT_ERR_PROTOCOL, "three digits", false},
      {"ICY 200 OK\r\n\r\n", WEFT_ERR_PROTOCOL, "status line is not", false},
      {"\r\nHTTP/1.1 200 OK\r\n\r\n", WEFT_ERR_PROTOCOL,
       "empty line instead of a status line", false},
      {"HTTP/1.1 101 Switching Protocols\r\n\r\n", WEFT_ERR_UNSUPPORTED,
       "101 Switching Protocols", false},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
       WEFT_ERR_PROTOCOL, "chunk size is not a hexadecimal number", false},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX",
       WEFT_ERR_PROTOCOL, "chunk data not followed by CRLF (after 2 body",
       false},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
       "10000000000000000\r\n",
       WEFT_ERR_TOO_BIG, "chunk size overflows", false},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\nab",
       WEFT_ERR_PROTOCOL, "chunk-size line ends with a bare LF", false},
      {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", WEFT_ERR_TRUNCATED,
       "inside the response body", true},
      {"HTTP/1.1 200 OK\r\nContent", WEFT_ERR_TRUNCATED,
       "inside the response head", true},
      {"", WEFT_ERR_TRUNCATED, "before any response", true},
  };
  for (const Bad &b : bad) {
    // Split everywhere: the same failure wherever the bytes break.
    std::string in = b.in;
    for (size_t i = 0; i <= in.size(); i++) {
      Client c;
      c.post();
      int rv = c.feed({in.substr(0, i), in.substr(i)}, b.eof);
      EXPECT_EQ(rv, b.code) << b.in << " split at " << i;
      EXPECT_NE(std::string(c.err.message).find(b.msg), std::string::npos)
          << c.err.message;
      EXPECT_EQ(std::string(c.err.message).rfind("HTTP/1.1 response: ", 0), 0u)
          << c.err.message;
      if (b.code != WEFT_ERR_TRUNCATED)
        EXPECT_TRUE(weft__h1c_failed(c.h));
    }
  }
}

TEST(H1Client, BytesWithoutRequest) {
  Client c;
  weft_error err{};
  EXPECT_EQ(WEFT_ERR_PROTOCOL,
            weft__h1c_feed(c.h, (const uint8_t *)"HTTP/1.1", 8, &err));
  EXPECT_NE(std::string(err.message).find("no request outstanding"),
            std::string::npos);
}

TEST(H1Client, Limits) {
  weft__h1c_limits lim = {64, 2, 10};
  {
    Client c(&lim);
    c.post();
    EXPECT_EQ(
        WEFT_ERR_TOO_BIG,
        c.feed({"HTTP/1.1 200 OK\r\nX: " + std::string(80, 'a') + "\r\n\r\n"},
               false));
  }
  {
    Client c(&lim);
    c.post();
    EXPECT_EQ(
        WEFT_ERR_LIMIT,
        c.feed({"HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"}, false));
  }
  {
    Client c(&lim);
    c.post();
    EXPECT_EQ(WEFT_ERR_TOO_BIG,
              c.feed({"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n"}, false));
  }
  {
    Client c(&lim);
    c.post();
    EXPECT_EQ(WEFT_ERR_TOO_BIG,
              c.feed({"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "6\r\nabcdef\r\n6\r\n"},
                     false));
  }
  {
    Client c(&lim);
    c.post();
    EXPECT_EQ(WEFT_ERR_TOO_BIG,
              c.feed({"HTTP/1.0 200 OK\r\n\r\n0123456789a"}, false));
  }
}

} // namespace
