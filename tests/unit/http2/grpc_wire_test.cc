// gRPC and gRPC-Web wire pieces (transports/http2/grpc_wire.c): content
// types, grpc-timeout, grpc-message percent-encoding, the gRPC-Web trailers
// frame, the incremental base64 decoder and the request reader, both fed in
// every chunk size.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

extern "C" {
#include "grpc_wire.h"
#include "weft/base64.h"
}

namespace {

TEST(GrpcWire, ContentTypes) {
  bool json = true;
  auto p = [&](const char *v) {
    return weft__grpc_parse_ctype(v, strlen(v), &json);
  };
  EXPECT_EQ(p("application/grpc"), WEFT__GRPC_H2);
  EXPECT_FALSE(json);
  EXPECT_EQ(p("application/grpc+proto"), WEFT__GRPC_H2);
  EXPECT_EQ(p("application/grpc+json"), WEFT__GRPC_H2);
  EXPECT_TRUE(json);
  EXPECT_EQ(p("Application/GRPC; charset=utf-8"), WEFT__GRPC_H2);
  EXPECT_EQ(p("application/grpc-web"), WEFT__GRPC_WEB);
  EXPECT_EQ(p("application/grpc-web+proto"), WEFT__GRPC_WEB);
  EXPECT_EQ(p("application/grpc-web+json"), WEFT__GRPC_WEB);
  EXPECT_TRUE(json);
  EXPECT_EQ(p("application/grpc-web-text"), WEFT__GRPC_WEB_TEXT);
  EXPECT_EQ(p("application/grpc-web-text+proto"), WEFT__GRPC_WEB_TEXT);
  EXPECT_FALSE(json);
  EXPECT_EQ(p("application/grpc-web-text+json"), WEFT__GRPC_NONE);
  EXPECT_EQ(p("application/grpcx"), WEFT__GRPC_NONE);
  EXPECT_EQ(p("application/grpc+thrift"), WEFT__GRPC_NONE);
  EXPECT_EQ(p("application/proto"), WEFT__GRPC_NONE);
  EXPECT_EQ(p(""), WEFT__GRPC_NONE);
  EXPECT_STREQ(weft__grpc_ctype_str(WEFT__GRPC_H2, false), "application/grpc");
  EXPECT_STREQ(weft__grpc_ctype_str(WEFT__GRPC_WEB, false),
               "application/grpc-web+proto");
  EXPECT_STREQ(weft__grpc_ctype_str(WEFT__GRPC_WEB_TEXT, false),
               "application/grpc-web-text+proto");
}

TEST(GrpcWire, Timeout) {
  auto p = [](const char *v) { return weft__grpc_parse_timeout(v, strlen(v)); };
  EXPECT_EQ(p("1n"), 1);
  EXPECT_EQ(p("250m"), 250000000);
  EXPECT_EQ(p("3S"), 3000000000LL);
  EXPECT_EQ(p("2M"), 120000000000LL);
  EXPECT_EQ(p("1H"), 3600000000000LL);
  EXPECT_EQ(p("7u"), 7000);
  EXPECT_EQ(p("99999999H"), INT64_MAX); // saturates
  EXPECT_EQ(p("0n"), 0);
  EXPECT_EQ(p("123456789S"), -1); // 9 digits
  EXPECT_EQ(p("S"), -1);
  EXPECT_EQ(p("10"), -1);
  EXPECT_EQ(p("10s"), -1); // units are case-sensitive
  EXPECT_EQ(p("-1S"), -1);
  EXPECT_EQ(p(" 1S"), -1);
  char buf[16];
  EXPECT_EQ(weft__grpc_format_timeout(1, buf), 2u);
  EXPECT_STREQ(buf, "1n");
  weft__grpc_format_timeout(99999999, buf);
  EXPECT_STREQ(buf, "99999999n");
  weft__grpc_format_timeout(100000001, buf); // rounds up, never shorter
  EXPECT_STREQ(buf, "100001u");
  weft__grpc_format_timeout(5000000000LL, buf);
  EXPECT_STREQ(buf, "5000000u");
  weft__grpc_format_timeout(INT64_MAX, buf);
  EXPECT_STREQ(buf, "2562048H");
  for (int64_t ns : {1LL, 999LL, 123456789LL, 86400000000000LL}) {
    size_t n = weft__grpc_format_timeout(ns, buf);
    int64_t back = weft__grpc_parse_timeout(buf, n);
    EXPECT_GE(back, ns) << buf;
  }
}

TEST(GrpcWire, Encodings) {
  EXPECT_EQ(weft__grpc_parse_encoding("", 0), WEFT__GRPC_ENC_IDENTITY);
  EXPECT_EQ(weft__grpc_parse_encoding("identity", 8), WEFT__GRPC_ENC_IDENTITY);
  EXPECT_EQ(weft__grpc_parse_encoding("GZIP", 4), WEFT__GRPC_ENC_GZIP);
  EXPECT_EQ(weft__grpc_parse_encoding("deflate", 7),
            WEFT__GRPC_ENC_UNSUPPORTED);
  auto acc = [](const char *v) {
    return weft__grpc_accepts_gzip(v, strlen(v));
  };
  EXPECT_TRUE(acc("identity,deflate,gzip"));
  EXPECT_TRUE(acc("gzip"));
  EXPECT_TRUE(acc(" identity , gzip "));
  EXPECT_FALSE(acc("identity,deflate"));
  EXPECT_FALSE(acc("gzipx,xgzip"));
  EXPECT_FALSE(acc(""));
}

TEST(GrpcWire, PercentEncoding) {
  const char *msg = "\t\ntest with whitespace\r\nand Unicode BMP \xe2\x98\xba "
                    "and 100%";
  char *enc = nullptr;
  ASSERT_EQ(weft__grpc_percent_encode(msg, &enc), 0);
  EXPECT_STREQ(enc, "%09%0Atest with whitespace%0D%0Aand Unicode BMP "
                    "%E2%98%BA and 100%25");
  char *dec = nullptr;
  ASSERT_EQ(weft__grpc_percent_decode(enc, strlen(enc), &dec), 0);
  EXPECT_STREQ(dec, msg);
  free(enc);
  free(dec);
  // A malformed escape is kept as it is.
  ASSERT_EQ(weft__grpc_percent_decode("50%", 3, &dec), 0);
  EXPECT_STREQ(dec, "50%");
  free(dec);
  ASSERT_EQ(weft__grpc_percent_decode("%zz%4", 5, &dec), 0);
  EXPECT_STREQ(dec, "%zz%4");
  free(dec);
  // Spaces at either end would be trimmed from a header value.
  ASSERT_EQ(weft__grpc_percent_encode(" a b ", &enc), 0);
  EXPECT_STREQ(enc, "%20a b%20");
  free(enc);
  ASSERT_EQ(weft__grpc_percent_encode(nullptr, &enc), 0);
  EXPECT_STREQ(enc, "");
  free(enc);
}

TEST(GrpcWire, WebTrailersRoundTrip) {
  weft_status st = {};
  weft_status_set(&st, WEFT_STATUS_NOT_FOUND, "no job\r\nj1");
  const uint8_t details[] = {0x08, 0x05, 0x12, 0x00, 0xff};
  st.details = (uint8_t *)malloc(sizeof details);
  memcpy(st.details, details, sizeof details);
  st.details_len = sizeof details;
  weft_metadata tr = WEFT_METADATA_INIT;
  weft_metadata_add_str(&tr, "x-cost", "12");
  const uint8_t bin[] = {0, 1, 2, 0xfe};
  weft_metadata_add(&tr, "x-raw-bin", bin, sizeof bin);
  weft_metadata_add_str(&tr, "x-evil", "a\r\ngrpc-status:0"); // dropped
  weft_metadata_add_str(&tr, "grpc-status", "0");             // dropped
  uint8_t *f = nullptr;
  size_t fl = 0;
  ASSERT_EQ(weft__grpc_web_trailers_frame(&st, &tr, &f, &fl), 0);
  ASSERT_GT(fl, 5u);
  EXPECT_EQ(f[0], 0x80);
  size_t plen =
      (size_t)f[1] << 24 | (size_t)f[2] << 16 | (size_t)f[3] << 8 | f[4];
  ASSERT_EQ(plen, fl - 5);
  std::string text((const char *)f + 5, plen);
  EXPECT_EQ(text.rfind("grpc-status:5\r\ngrpc-message:no job%0D%0Aj1\r\n", 0),
            0u)
      << text;
  EXPECT_EQ(text.find("x-evil"), std::string::npos) << text;
  EXPECT_EQ(text.find("grpc-status:0"), std::string::npos) << text;
  EXPECT_NE(text.find("x-cost:12\r\n"), std::string::npos) << text;

  weft_status back = {};
  weft_metadata md = WEFT_METADATA_INIT;
  weft_error err = {};
  ASSERT_EQ(weft__grpc_web_parse_trailers(f + 5, plen, &back, &md, &err), 0)
      << err.message;
  EXPECT_EQ(back.code, WEFT_STATUS_NOT_FOUND);
  EXPECT_STREQ(back.message, "no job\r\nj1");
  ASSERT_EQ(back.details_len, sizeof details);
  EXPECT_EQ(memcmp(back.details, details, sizeof details), 0);
  const weft_metadata_entry *e = weft_metadata_get(&md, "x-raw-bin");
  ASSERT_NE(e, nullptr);
  ASSERT_EQ(e->value_len, sizeof bin);
  EXPECT_EQ(memcmp(e->value, bin, sizeof bin), 0);
  ASSERT_NE(weft_metadata_get(&md, "x-cost"), nullptr);
  free(f);
  weft_status_clear(&st);
  weft_status_clear(&back);
  weft_metadata_clear(&tr);
  weft_metadata_clear(&md);

  // OK with nothing else: just the status line.
  weft_status ok = {};
  ASSERT_EQ(weft__grpc_web_trailers_frame(&ok, nullptr, &f, &fl), 0);
  EXPECT_EQ(std::string((const char *)f + 5, fl - 5), "grpc-status:0\r\n");
  free(f);
}

TEST(GrpcWire, WebTrailersMalformed) {
  auto parse = [](const char *t, weft_error *err) {
    weft_status st = {};
    int rv = weft__grpc_web_parse_trailers((const uint8_t *)t, strlen(t), &st,
                                           nullptr, err);
    weft_status_clear(&st);
    return rv;
  };
  weft_error err = {};
  EXPECT_EQ(parse("grpc-message:x\r\n", &err), WEFT_ERR_MALFORMED);
  EXPECT_NE(strstr(err.message, "without grpc-status"), nullptr);
  EXPECT_EQ(parse("grpc-status:0\r\nnocolon\r\n", &err), WEFT_ERR_MALFORMED);
  EXPECT_NE(strstr(err.message, "line 2"), nullptr) << err.message;
  EXPECT_EQ(parse("grpc-status:abc\r\n", &err), WEFT_ERR_MALFORMED);
  EXPECT_EQ(parse("grpc-status:0\r\nx-bin:***\r\n", &err), WEFT_ERR_MALFORMED);
  EXPECT_EQ(parse("GRPC-Status: 3 \nx:y", &err), 0) << err.message;
}

// Base64 of every chunking of a stream of padded segments decodes to the
// bytes of the segments, one after another.
TEST(GrpcWire, Base64StreamEveryChunking) {
  std::string want, text;
  for (size_t n : {0u, 1u, 2u, 3u, 4u, 5u, 17u, 100u}) {
    std::string seg;
    for (size_t i = 0; i < n; i++)
      seg.push_back((char)(i * 37 + n));
    std::vector<char> t(weft_base64_encoded_len(n, 0));
    weft_base64_encode(seg.data(), n, t.data(), 0);
    want += seg;
    text.append(t.data(), t.size());
  }
  for (size_t chunk = 1; chunk <= text.size(); chunk++) {
    weft__b64_stream b = {};
    std::string got;
    for (size_t off = 0; off < text.size(); off += chunk) {
      size_t n = std::min(chunk, text.size() - off);
      std::vector<uint8_t> out(WEFT__B64_STREAM_OUT_MAX(n + 3));
      long r = weft__b64_stream_feed(&b, text.data() + off, n, out.data());
      ASSERT_GE(r, 0) << "chunk " << chunk << " at " << off;
      got.append((const char *)out.data(), (size_t)r);
    }
    EXPECT_TRUE(weft__b64_stream_idle(&b));
    EXPECT_EQ(got, want) << "chunk " << chunk;
  }
}

TEST(GrpcWire, Base64StreamRejects) {
  for (const char *bad :
       {"AB=C", "A===", "AAA-", "AA\nA", "AAA=B", "=AAA", "AB", "AAAAA"}) {
    weft__b64_stream b = {};
    uint8_t out[16];
    long r = weft__b64_stream_feed(&b, bad, strlen(bad), out);
    // Either refused now, or left incomplete (the reader reports that at
    // the end of the body).
    EXPECT_TRUE(r < 0 || !weft__b64_stream_idle(&b)) << bad;
  }
}

struct Got {
  std::vector<std::string> msgs;
  std::vector<uint8_t> flags;
};

int on_msg(void *ud, uint8_t flags, const uint8_t *d, size_t n) {
  Got *g = (Got *)ud;
  g->msgs.emplace_back((const char *)d, n);
  g->flags.push_back(flags);
  return 0;
}

std::string frame(uint8_t flags, const std::string &p) {
  uint8_t h[5];
  weft__grpc_frame_header(h, flags, (uint32_t)p.size());
  return std::string((const char *)h, 5) + p;
}

std::string b64(const std::string &s) {
  std::vector<char> t(weft_base64_encoded_len(s.size(), 0));
  size_t n =
      weft__grpc_text_encode((const uint8_t *)s.data(), s.size(), t.data());
  return std::string(t.data(), n);
}

TEST(GrpcWire, FrameAlloc) {
  uint8_t *f = nullptr;
  size_t fl = 0;
  ASSERT_EQ(weft__grpc_frame_alloc(1, (const uint8_t *)"ab", 2, false, &f, &fl),
            0);
  EXPECT_EQ(std::string((const char *)f, fl), std::string("\x01\0\0\0\x02"
                                                          "ab",
                                                          7));
  free(f);
  ASSERT_EQ(weft__grpc_frame_alloc(0, (const uint8_t *)"ab", 2, true, &f, &fl),
            0);
  EXPECT_EQ(std::string((const char *)f, fl), "AAAAAAJhYg==");
  free(f);
}

TEST(GrpcWire, ReaderEveryChunking) {
  std::string body = frame(0, "hello") + frame(0, "") + frame(1, "zz") +
                     frame(0, std::string(300, 'x'));
  // Text: the client flushed in two segments, each padded.
  std::string text = b64(body.substr(0, 7)) + b64(body.substr(7));
  for (bool is_text : {false, true}) {
    const std::string &in = is_text ? text : body;
    for (size_t chunk = 1; chunk <= in.size(); chunk++) {
      weft__grpc_reader r;
      weft__grpc_reader_init(&r, 1024, is_text, true);
      Got g;
      for (size_t off = 0; off < in.size(); off += chunk) {
        size_t n = std::min(chunk, in.size() - off);
        weft_error err = {};
        ASSERT_EQ(weft__grpc_reader_feed(&r, (const uint8_t *)in.data() + off,
                                         n, on_msg, &g, &err),
                  0)
            << err.message << " chunk " << chunk;
      }
      EXPECT_TRUE(weft__grpc_reader_idle(&r));
      ASSERT_EQ(g.msgs.size(), 4u) << "chunk " << chunk;
      EXPECT_EQ(g.msgs[0], "hello");
      EXPECT_EQ(g.msgs[1], "");
      EXPECT_EQ(g.msgs[2], "zz");
      EXPECT_EQ(g.flags[2], 1);
      EXPECT_EQ(g.msgs[3].size(), 300u);
      weft__grpc_reader_free(&r);
    }
  }
}

int feed_all(const std::string &in, bool text, bool compressed_ok, size_t max,
             weft_error *err, Got *g = nullptr) {
  Got local;
  weft__grpc_reader r;
  weft__grpc_reader_init(&r, max, text, compressed_ok);
  int rv = weft__grpc_reader_feed(&r, (const uint8_t *)in.data(), in.size(),
                                  on_msg, g ? g : &local, err);
  weft__grpc_reader_free(&r);
  return rv;
}

TEST(GrpcWire, ReaderErrors) {
  weft_error err = {};
  // Over the limit: refused from the prefix alone.
  std::string big("\x00\x7f\xff\xff\xff", 5);
  EXPECT_EQ(feed_all(big, false, false, 1 << 20, &err), WEFT_ERR_FRAME_TOO_BIG);
  EXPECT_EQ(weft__grpc_error_status(WEFT_ERR_FRAME_TOO_BIG),
            WEFT_STATUS_RESOURCE_EXHAUSTED);
  // Compressed without a grpc-encoding.
  EXPECT_EQ(feed_all(frame(1, "x"), false, false, 64, &err), WEFT_ERR_PROTOCOL);
  EXPECT_NE(strstr(err.message, "grpc-encoding"), nullptr) << err.message;
  EXPECT_EQ(weft__grpc_error_status(WEFT_ERR_PROTOCOL), WEFT_STATUS_INTERNAL);
  // Trailers flag (or any other) in a request.
  EXPECT_EQ(feed_all(frame(0x80, "grpc-status:0\r\n"), false, true, 64, &err),
            WEFT_ERR_PROTOCOL);
  EXPECT_EQ(feed_all(frame(0x02, "x"), false, true, 64, &err),
            WEFT_ERR_PROTOCOL);
  // Not base64.
  EXPECT_EQ(feed_all("AAAA*AAA", true, false, 64, &err), WEFT_ERR_MALFORMED);
  EXPECT_EQ(weft__grpc_error_status(WEFT_ERR_MALFORMED),
            WEFT_STATUS_INVALID_ARGUMENT);
  // URL-safe alphabet is not gRPC-Web's.
  EXPECT_EQ(feed_all(b64(frame(0, "\xfb\xff")) + "", true, false, 64, &err), 0);
  std::string url = b64(frame(0, "\xfb\xff"));
  for (char &c : url)
    c = c == '+' ? '-' : c == '/' ? '_' : c;
  if (url.find_first_of("-_") != std::string::npos)
    EXPECT_EQ(feed_all(url, true, false, 64, &err), WEFT_ERR_MALFORMED);
  // A body that stops inside a frame is not idle.
  weft__grpc_reader r;
  weft__grpc_reader_init(&r, 64, false, false);
  Got g;
  std::string part = frame(0, "abc").substr(0, 6);
  EXPECT_EQ(weft__grpc_reader_feed(&r, (const uint8_t *)part.data(),
                                   part.size(), on_msg, &g, &err),
            0);
  EXPECT_FALSE(weft__grpc_reader_idle(&r));
  weft__grpc_reader_free(&r);
}

// ---- the client side of a response ------------------------------------

static int field(weft__grpc_trailers *t, const char *n, const char *v) {
  return weft__grpc_trailers_field(t, n, strlen(n), v, strlen(v));
}

TEST(GrpcWireClient, StatusFromTrailers) {
  weft__grpc_trailers t = {};
  EXPECT_EQ(field(&t, "grpc-status", "9"), 1);
  EXPECT_EQ(field(&t, "grpc-message", "caf%C3%A9%20au%2"), 1);
  // google.rpc.Status{code: 3, message: "details"}, unpadded base64.
  EXPECT_EQ(field(&t, "grpc-status-details-bin", "CAMSB2RldGFpbHM"), 1);
  EXPECT_EQ(field(&t, "x-other", "1"), 0);
  EXPECT_EQ(field(&t, "grpc-encoding", "gzip"), 0);
  weft_status st = {};
  ASSERT_EQ(weft__grpc_client_status(&t, 200, true, &st), 0);
  EXPECT_EQ(st.code, 9);
  EXPECT_STREQ(st.message, "caf\xc3\xa9 au%2"); // a broken escape stays
  static const uint8_t want[] = {0x08, 0x03, 0x12, 0x07, 'd', 'e',
                                 't',  'a',  'i',  'l',  's'};
  ASSERT_EQ(st.details_len, sizeof want);
  EXPECT_EQ(memcmp(st.details, want, sizeof want), 0);
  weft_status_clear(&st);
  weft__grpc_trailers_free(&t);
}

TEST(GrpcWireClient, OkWithoutMessage) {
  weft__grpc_trailers t = {};
  field(&t, "grpc-status", "0");
  weft_status st = {};
  ASSERT_EQ(weft__grpc_client_status(&t, 200, true, &st), 0);
  EXPECT_EQ(st.code, WEFT_STATUS_OK);
  ASSERT_NE(st.message, nullptr);
  EXPECT_STREQ(st.message, "");
  EXPECT_EQ(st.details_len, 0u);
  weft_status_clear(&st);
  weft__grpc_trailers_free(&t);
}

TEST(GrpcWireClient, MissingOrBadStatus) {
  weft_status st = {};
  weft__grpc_trailers t = {};
  // Trailers without grpc-status: UNKNOWN, as gRPC core says "no status".
  field(&t, "x-trailer", "1");
  weft__grpc_client_status(&t, 200, true, &st);
  EXPECT_EQ(st.code, WEFT_STATUS_UNKNOWN);
  // No trailers at all (the stream ended on DATA): INTERNAL.
  weft__grpc_client_status(&t, 200, false, &st);
  EXPECT_EQ(st.code, WEFT_STATUS_INTERNAL);
  EXPECT_NE(strstr(st.message, "without trailers"), nullptr);
  // No response head: UNAVAILABLE.
  weft__grpc_client_status(&t, 0, false, &st);
  EXPECT_EQ(st.code, WEFT_STATUS_UNAVAILABLE);
  for (const char *bad : {"", "x", "1a", "1000", "-1", " 1"}) {
    weft__grpc_trailers b = {};
    field(&b, "grpc-message", "m");
    EXPECT_EQ(field(&b, "grpc-status", bad), 1);
    weft__grpc_client_status(&b, 200, true, &st);
    EXPECT_EQ(st.code, WEFT_STATUS_UNKNOWN) << "'" << bad << "'";
    weft__grpc_trailers_free(&b);
  }
  // Details that are not base64 are dropped; code and message stand.
  weft__grpc_trailers d = {};
  field(&d, "grpc-status", "5");
  field(&d, "grpc-message", "gone");
  EXPECT_EQ(field(&d, "grpc-status-details-bin", "!!!"), 1);
  weft__grpc_client_status(&d, 200, true, &st);
  EXPECT_EQ(st.code, 5);
  EXPECT_STREQ(st.message, "gone");
  EXPECT_EQ(st.details_len, 0u);
  weft__grpc_trailers_free(&d);
  weft_status_clear(&st);
  weft__grpc_trailers_free(&t);
}

TEST(GrpcWireClient, HttpStatusMapping) {
  // grpc/doc/http-grpc-status-mapping.md
  EXPECT_EQ(weft__grpc_status_from_http(400), WEFT_STATUS_INTERNAL);
  EXPECT_EQ(weft__grpc_status_from_http(401), WEFT_STATUS_UNAUTHENTICATED);
  EXPECT_EQ(weft__grpc_status_from_http(403), WEFT_STATUS_PERMISSION_DENIED);
  EXPECT_EQ(weft__grpc_status_from_http(404), WEFT_STATUS_UNIMPLEMENTED);
  for (int h : {429, 502, 503, 504})
    EXPECT_EQ(weft__grpc_status_from_http(h), WEFT_STATUS_UNAVAILABLE) << h;
  for (int h : {201, 300, 405, 500, 505, 999})
    EXPECT_EQ(weft__grpc_status_from_http(h), WEFT_STATUS_UNKNOWN) << h;
  // A non-200 response wins over a grpc-status it carries.
  weft__grpc_trailers t = {};
  field(&t, "grpc-status", "0");
  weft_status st = {};
  weft__grpc_client_status(&t, 503, true, &st);
  EXPECT_EQ(st.code, WEFT_STATUS_UNAVAILABLE);
  EXPECT_NE(strstr(st.message, "503"), nullptr);
  weft_status_clear(&st);
  weft__grpc_trailers_free(&t);
}

TEST(GrpcWireClient, ResetCodes) {
  // PROTOCOL-HTTP2.md, "Errors".
  EXPECT_EQ(weft__grpc_status_from_rst(0x7), WEFT_STATUS_UNAVAILABLE);
  EXPECT_EQ(weft__grpc_status_from_rst(0x8), WEFT_STATUS_CANCELLED);
  EXPECT_EQ(weft__grpc_status_from_rst(0xb), WEFT_STATUS_RESOURCE_EXHAUSTED);
  EXPECT_EQ(weft__grpc_status_from_rst(0xc), WEFT_STATUS_PERMISSION_DENIED);
  for (uint32_t c : {0x0u, 0x1u, 0x2u, 0x3u, 0x6u, 0x9u, 0xau, 0xdu, 0xffu})
    EXPECT_EQ(weft__grpc_status_from_rst(c), WEFT_STATUS_INTERNAL) << c;
}

TEST(GrpcWireClient, ResponseContentType) {
  auto ok = [](const char *v) {
    return weft__grpc_response_ctype_ok(v, v ? strlen(v) : 0);
  };
  EXPECT_TRUE(ok(nullptr));
  EXPECT_TRUE(ok("application/grpc"));
  EXPECT_TRUE(ok("application/grpc+proto"));
  EXPECT_TRUE(ok("application/grpc+json"));
  EXPECT_TRUE(ok("Application/GRPC; charset=utf-8"));
  EXPECT_FALSE(ok("text/html"));
  EXPECT_FALSE(ok("application/grpc-web+proto"));
  EXPECT_FALSE(ok("application/json"));
  EXPECT_FALSE(ok(""));
}

TEST(GrpcWireClient, BinaryMetadata) {
  EXPECT_TRUE(weft__grpc_bin_key("x-trace-bin", 11));
  EXPECT_TRUE(weft__grpc_bin_key("-bin", 4));
  EXPECT_FALSE(weft__grpc_bin_key("x-bin-not", 9));
  EXPECT_FALSE(weft__grpc_bin_key("bin", 3));
  for (size_t n = 0; n < 8; n++) {
    uint8_t in[8] = {0xab, 0x00, 0xff, 0x10, 0x7f, 0x80, 0x01, 0xfe};
    char *enc = nullptr;
    size_t elen = 0;
    ASSERT_EQ(weft__grpc_bin_encode(in, n, &enc, &elen), 0);
    EXPECT_EQ(strlen(enc), elen);
    EXPECT_EQ(strchr(enc, '='), nullptr) << "gRPC sends it unpadded";
    uint8_t *dec = nullptr;
    size_t dlen = 0;
    ASSERT_EQ(weft__grpc_bin_decode(enc, elen, &dec, &dlen), 0);
    ASSERT_EQ(dlen, n);
    EXPECT_EQ(n ? memcmp(dec, in, n) : 0, 0);
    free(dec);
    free(enc);
  }
  uint8_t *dec = nullptr;
  size_t dlen = 0;
  ASSERT_EQ(weft__grpc_bin_decode("q6ur", 4, &dec, &dlen), 0); // padded ok
  EXPECT_EQ(dlen, 3u);
  free(dec);
  EXPECT_EQ(weft__grpc_bin_decode("q6u*", 4, &dec, &dlen), WEFT_ERR_MALFORMED);
}

TEST(GrpcWireClient, TimeoutEncodingFitsEightDigits) {
  char out[16];
  struct {
    int64_t ns;
    const char *want;
  } cases[] = {{1, "1n"},
               {99999999, "99999999n"},
               {100000000, "100000u"},
               {1500000000, "1500000u"},
               {INT64_MAX, "2562048H"}};
  for (auto &c : cases) {
    weft__grpc_format_timeout(c.ns, out);
    EXPECT_STREQ(out, c.want) << c.ns;
    EXPECT_LE(strlen(out), 9u);
    // And the server side reads back at least as long.
    EXPECT_GE(weft__grpc_parse_timeout(out, strlen(out)), c.ns);
  }
}

} // namespace
