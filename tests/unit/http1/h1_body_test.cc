// The HTTP/1.1 body framer both engines embed (h1_body.c), without an
// engine: bodies fed split at every point give the same events, where the
// body ends is exact (the rest is the next message's), and every limit
// and malformed chunk is refused with the code, the status a server
// answers and a message saying where.
#include <gtest/gtest.h>

#include <string>
#include <vector>

extern "C" {
#include "h1_body.h"
}

namespace {

struct Out {
  std::string body;
  std::vector<std::pair<std::string, std::string>> trailers;
  bool ended = false;
  size_t consumed = 0; // where the body ended, or all of the input
  int rv = 0;          // 0, or the failure
  int status = 0;
  std::string msg;
};

// Feeds in, cut at the given points, until the body ends or fails.
Out feed(weft__h1_body_kind kind, uint64_t length, const std::string &in,
         const std::vector<size_t> &cuts,
         const weft__h1_body_limits *lim = nullptr) {
  Out o;
  weft__h1_body b{};
  weft__h1_body_init(&b, lim);
  weft_error err{};
  o.rv = weft__h1_body_start(&b, kind, length, &err);
  std::vector<size_t> at = cuts;
  at.push_back(in.size());
  size_t off = 0;
  for (size_t end : at) {
    while (o.rv == 0 && off < end && !o.ended) {
      weft__h1_body_event ev;
      ssize_t used = weft__h1_body_feed(&b, (const uint8_t *)in.data() + off,
                                        end - off, &ev, &err);
      if (used < 0) {
        o.rv = (int)used;
        break;
      }
      o.body.append((const char *)ev.data, ev.len);
      if (ev.end) {
        o.ended = true;
        for (size_t i = 0; i < ev.ntrailers; i++)
          o.trailers.emplace_back(ev.trailers[i].name, ev.trailers[i].value);
      }
      off += (size_t)used;
      EXPECT_TRUE(used > 0 || ev.end) << "no progress";
    }
  }
  o.consumed = off;
  if (o.rv < 0) {
    o.status = weft__h1_body_error_status(&b);
    o.msg = err.message;
  } else if (!o.ended && weft__h1_body_eof(&b)) {
    o.ended = true;
  }
  weft__h1_body_free(&b);
  return o;
}

// Every split in two, and one byte at a time, against the whole.
void expect_split_invariant(weft__h1_body_kind kind, uint64_t length,
                            const std::string &in, const Out &want,
                            const weft__h1_body_limits *lim = nullptr) {
  for (size_t i = 0; i <= in.size(); i++) {
    Out o = feed(kind, length, in, {i}, lim);
    EXPECT_EQ(want.body, o.body) << "split at " << i;
    EXPECT_EQ(want.trailers, o.trailers) << "split at " << i;
    EXPECT_EQ(want.ended, o.ended) << "split at " << i;
    EXPECT_EQ(want.rv, o.rv) << "split at " << i;
    EXPECT_EQ(want.status, o.status) << "split at " << i;
    if (want.rv == 0)
      EXPECT_EQ(want.consumed, o.consumed) << "split at " << i;
  }
  std::vector<size_t> bytes;
  for (size_t i = 1; i < in.size(); i++)
    bytes.push_back(i);
  Out o = feed(kind, length, in, bytes, lim);
  EXPECT_EQ(want.body, o.body);
  EXPECT_EQ(want.rv, o.rv);
}

TEST(H1Body, CountedEndsExactly) {
  std::string in = "hello"
                   "GET / HTTP/1.1\r\n";
  Out o = feed(WEFT__H1_BODY_COUNTED, 5, in, {});
  EXPECT_EQ("hello", o.body);
  EXPECT_TRUE(o.ended);
  EXPECT_EQ(5u, o.consumed);
  expect_split_invariant(WEFT__H1_BODY_COUNTED, 5, in, o);
}

TEST(H1Body, NoneAndZeroLengthEndAtStart) {
  for (auto kind : {WEFT__H1_BODY_NONE, WEFT__H1_BODY_COUNTED}) {
    weft__h1_body b{};
    weft__h1_body_init(&b, nullptr);
    EXPECT_EQ(0, weft__h1_body_start(&b, kind, 0, nullptr));
    EXPECT_TRUE(weft__h1_body_done(&b));
    weft__h1_body_event ev;
    EXPECT_EQ(0, weft__h1_body_feed(&b, (const uint8_t *)"x", 1, &ev, nullptr));
    weft__h1_body_free(&b);
  }
}

TEST(H1Body, ChunkedWithExtensionsAndTrailers) {
  std::string in = "5;name=value;x\r\nhello\r\n"
                   "A ; e=\"q\\\";\" ;f = g\r\n0123456789\r\n"
                   "0\r\nX-Sum: 15\r\nGrpc-Status:  0 \r\n\r\n"
                   "NEXT";
  Out o = feed(WEFT__H1_BODY_CHUNKED, 0, in, {});
  ASSERT_EQ(0, o.rv) << o.msg;
  EXPECT_EQ("hello0123456789", o.body);
  ASSERT_EQ(2u, o.trailers.size());
  EXPECT_EQ("X-Sum", o.trailers[0].first);
  EXPECT_EQ("15", o.trailers[0].second);
  EXPECT_EQ("0", o.trailers[1].second);
  EXPECT_EQ(in.size() - 4, o.consumed);
  expect_split_invariant(WEFT__H1_BODY_CHUNKED, 0, in, o);
}

TEST(H1Body, UntilCloseEndsAtEof) {
  std::string in = "all of it, until the server closes";
  Out o = feed(WEFT__H1_BODY_UNTIL_CLOSE, 0, in, {});
  EXPECT_EQ(in, o.body);
  EXPECT_TRUE(o.ended);
  expect_split_invariant(WEFT__H1_BODY_UNTIL_CLOSE, 0, in, o);
  // A counted or chunked body cut short is not ended by the close.
  EXPECT_FALSE(feed(WEFT__H1_BODY_COUNTED, 9, "abc", {}).ended);
  EXPECT_FALSE(feed(WEFT__H1_BODY_CHUNKED, 0, "3\r\nabc\r\n", {}).ended);
}

struct Bad {
  const char *name;
  weft__h1_body_kind kind;
  uint64_t length;
  std::string in;
  int code, status;
  const char *msg;
};

TEST(H1Body, RefusesWithCodeStatusAndWhere) {
  const weft__h1_body_limits lim = {16, 40, 2};
  const Bad bad[] = {
      {"chunk size overflows", WEFT__H1_BODY_CHUNKED, 0,
       "1\r\na\r\n10000000000000000\r\n", WEFT_ERR_TOO_BIG, 413,
       "chunk size overflows (after 1 body bytes)"},
      {"chunk size not hex", WEFT__H1_BODY_CHUNKED, 0, "zz\r\n",
       WEFT_ERR_PROTOCOL, 400, "chunk size is not a hexadecimal number"},
      {"junk after the size", WEFT__H1_BODY_CHUNKED, 0, "3 x\r\n",
       WEFT_ERR_PROTOCOL, 400, "unexpected character 0x78"},
      {"control in an extension", WEFT__H1_BODY_CHUNKED, 0, "3;a\x01\r\n",
       WEFT_ERR_PROTOCOL, 400, "control character in a chunk extension"},
      // RFC 9112 section 7.1.1: white space only before a ";", extension
      // names are tokens, values tokens or quoted strings.
      {"white space and no extension", WEFT__H1_BODY_CHUNKED, 0, "3 \r\n",
       WEFT_ERR_PROTOCOL, 400, "white space at the end of a chunk-size line"},
      {"extension without a name", WEFT__H1_BODY_CHUNKED, 0, "3;\r\n",
       WEFT_ERR_PROTOCOL, 400, "a chunk extension without a name"},
      {"extension name not a token", WEFT__H1_BODY_CHUNKED, 0,
       "3;\"\xff a b\r\n", WEFT_ERR_PROTOCOL, 400,
       "a chunk extension without a name"},
      {"extension with \"=\" and no value", WEFT__H1_BODY_CHUNKED, 0,
       "3;a=\r\n", WEFT_ERR_PROTOCOL, 400, "without a value"},
      {"extension value quote not closed", WEFT__H1_BODY_CHUNKED, 0,
       "3;a=\"x\r\n", WEFT_ERR_PROTOCOL, 400, "unterminated quoted"},
      {"junk after an extension", WEFT__H1_BODY_CHUNKED, 0, "3;a b\r\n",
       WEFT_ERR_PROTOCOL, 400, "unexpected character 0x62"},
      {"data not followed by CRLF", WEFT__H1_BODY_CHUNKED, 0, "2\r\nabX",
       WEFT_ERR_PROTOCOL, 400,
       "chunk data not followed by CRLF (after 2 body bytes)"},
      {"data followed by CR alone", WEFT__H1_BODY_CHUNKED, 0, "2\r\nab\rX",
       WEFT_ERR_PROTOCOL, 400, "not followed by CRLF"},
      {"bare LF after the size", WEFT__H1_BODY_CHUNKED, 0, "2\nab\r\n",
       WEFT_ERR_PROTOCOL, 400, "chunk-size line ends with a bare LF"},
      {"bare CR in the size line", WEFT__H1_BODY_CHUNKED, 0, "2\r;\r\n",
       WEFT_ERR_PROTOCOL, 400, "bare CR or NUL in a chunk-size line"},
      {"endless size line", WEFT__H1_BODY_CHUNKED, 0,
       "1;" + std::string(2000, 'e'), WEFT_ERR_PROTOCOL, 400,
       "chunk-size line longer than 1024 bytes"},
      {"chunks over max_body", WEFT__H1_BODY_CHUNKED, 0,
       "8\r\n01234567\r\n9\r\n", WEFT_ERR_TOO_BIG, 413,
       "body over the limit of 16"},
      {"Content-Length over max_body", WEFT__H1_BODY_COUNTED, 17, "",
       WEFT_ERR_TOO_BIG, 413, "body of 17 bytes is over the limit of 16"},
      {"until close over max_body", WEFT__H1_BODY_UNTIL_CLOSE, 0,
       std::string(17, 'x'), WEFT_ERR_TOO_BIG, 413,
       "body over the limit of 16"},
      {"too many trailers", WEFT__H1_BODY_CHUNKED, 0,
       "0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", WEFT_ERR_LIMIT, 431,
       "more than 2 trailer fields"},
      {"trailer section too long", WEFT__H1_BODY_CHUNKED, 0,
       "0\r\nA: " + std::string(50, 'a') + "\r\n\r\n", WEFT_ERR_TOO_BIG, 431,
       "trailer section longer than 40 bytes"},
      {"trailer with a bare LF", WEFT__H1_BODY_CHUNKED, 0, "0\r\nA: 1\n\r\n",
       WEFT_ERR_PROTOCOL, 400, "trailer section line 1 ends with a bare LF"},
      {"folded trailer", WEFT__H1_BODY_CHUNKED, 0, "0\r\nA: 1\r\n 2\r\n\r\n",
       WEFT_ERR_PROTOCOL, 400, "trailer 2: obsolete line folding"},
  };
  for (const Bad &b : bad) {
    SCOPED_TRACE(b.name);
    Out o = feed(b.kind, b.length, b.in, {}, &lim);
    EXPECT_EQ(b.code, o.rv);
    EXPECT_EQ(b.status, o.status);
    EXPECT_NE(std::string::npos, o.msg.find(b.msg)) << o.msg;
    Out want;
    want.rv = b.code;
    want.status = b.status;
    want.body = o.body;
    want.trailers = o.trailers;
    // The failure does not depend on the split, nor do the bytes before it.
    if (b.in.size() < 200)
      expect_split_invariant(b.kind, b.length, b.in, want, &lim);
  }
}

TEST(H1Body, FailureIsSticky) {
  weft__h1_body b{};
  weft__h1_body_init(&b, nullptr);
  ASSERT_EQ(0, weft__h1_body_start(&b, WEFT__H1_BODY_CHUNKED, 0, nullptr));
  weft__h1_body_event ev;
  EXPECT_EQ(WEFT_ERR_PROTOCOL,
            weft__h1_body_feed(&b, (const uint8_t *)"x\r\n", 3, &ev, nullptr));
  EXPECT_LT(
      weft__h1_body_feed(&b, (const uint8_t *)"0\r\n\r\n", 5, &ev, nullptr), 0);
  EXPECT_FALSE(weft__h1_body_done(&b));
  EXPECT_FALSE(weft__h1_body_eof(&b));
  weft__h1_body_free(&b);
}

TEST(H1Body, ReusedForTheNextMessage) {
  weft__h1_body b{};
  weft__h1_body_init(&b, nullptr);
  std::string in = "0\r\nT: 1\r\n\r\n";
  for (int round = 0; round < 3; round++) {
    ASSERT_EQ(0, weft__h1_body_start(&b, WEFT__H1_BODY_CHUNKED, 0, nullptr));
    weft__h1_body_event ev{};
    size_t off = 0;
    while (!ev.end) {
      ssize_t n = weft__h1_body_feed(&b, (const uint8_t *)in.data() + off,
                                     in.size() - off, &ev, nullptr);
      ASSERT_GT(n, 0);
      off += (size_t)n;
    }
    ASSERT_EQ(1u, ev.ntrailers);
    EXPECT_STREQ("T", ev.trailers[0].name);
    EXPECT_EQ(0u, weft__h1_body_received(&b));
  }
  weft__h1_body_free(&b);
}

} // namespace
