// The Connect protocol's I/O-free pieces: status mapping, error bodies,
// end-of-stream messages, envelopes fed in every chunk size, bounded gzip.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

extern "C" {
#include "connect.h"
}

namespace {

TEST(ConnectStatus, HttpMapping) {
  EXPECT_EQ(weft__connect_http_status(WEFT_STATUS_OK), 200);
  EXPECT_EQ(weft__connect_http_status(WEFT_STATUS_CANCELLED), 499);
  EXPECT_EQ(weft__connect_http_status(WEFT_STATUS_INVALID_ARGUMENT), 400);
  EXPECT_EQ(weft__connect_http_status(WEFT_STATUS_DEADLINE_EXCEEDED), 504);
  EXPECT_EQ(weft__connect_http_status(WEFT_STATUS_NOT_FOUND), 404);
  EXPECT_EQ(weft__connect_http_status(WEFT_STATUS_ALREADY_EXISTS), 409);
  EXPECT_EQ(weft__connect_http_status(WEFT_STATUS_PERMISSION_DENIED), 403);
  EXPECT_EQ(weft__connect_http_status(WEFT_STATUS_RESOURCE_EXHAUSTED), 429);
  EXPECT_EQ(weft__connect_http_status(WEFT_STATUS_UNIMPLEMENTED), 501);
  EXPECT_EQ(weft__connect_http_status(WEFT_STATUS_UNAVAILABLE), 503);
  EXPECT_EQ(weft__connect_http_status(WEFT_STATUS_UNAUTHENTICATED), 401);
  EXPECT_EQ(weft__connect_http_status(WEFT_STATUS_INTERNAL), 500);
  EXPECT_EQ(weft__connect_code_from_http(404), WEFT_STATUS_UNIMPLEMENTED);
  EXPECT_EQ(weft__connect_code_from_http(503), WEFT_STATUS_UNAVAILABLE);
  EXPECT_EQ(weft__connect_code_from_http(418), WEFT_STATUS_UNKNOWN);
}

TEST(ConnectError, RoundTrip) {
  weft_status st = {};
  weft_status_set(&st, WEFT_STATUS_NOT_FOUND, "job %s not found", "j1");
  char *js = nullptr;
  size_t len = 0;
  ASSERT_EQ(weft__connect_error_json(&st, &js, &len), 0);
  EXPECT_STREQ(js, R"({"code":"not_found","message":"job j1 not found"})");
  weft_status back = {};
  ASSERT_EQ(weft__connect_parse_error(js, len, WEFT_STATUS_UNKNOWN, &back), 0);
  EXPECT_EQ(back.code, WEFT_STATUS_NOT_FOUND);
  EXPECT_STREQ(back.message, "job j1 not found");
  free(js);
  weft_status_clear(&st);
  weft_status_clear(&back);
}

// A google.rpc.Status{code 9, message "no", details [ErrorInfo{"abc"}]}
// as a handler sets it: the client rebuilds the same bytes from the
// Connect error's "details".
const uint8_t kStatusBlob[] = {
    0x08, 0x09, 0x12, 0x02, 'n',  'o',  0x1a, 0x31, 0x0a, 0x28, 't', 'y',
    'p',  'e',  '.',  'g',  'o',  'o',  'g',  'l',  'e',  'a',  'p', 'i',
    's',  '.',  'c',  'o',  'm',  '/',  'g',  'o',  'o',  'g',  'l', 'e',
    '.',  'r',  'p',  'c',  '.',  'E',  'r',  'r',  'o',  'r',  'I', 'n',
    'f',  'o',  0x12, 0x05, 0x0a, 0x03, 'a',  'b',  'c'};

TEST(ConnectError, DetailsRoundTrip) {
  weft_status st = {};
  weft_status_set(&st, WEFT_STATUS_FAILED_PRECONDITION, "no");
  st.details = static_cast<uint8_t *>(malloc(sizeof kStatusBlob));
  memcpy(st.details, kStatusBlob, sizeof kStatusBlob);
  st.details_len = sizeof kStatusBlob;
  char *js = nullptr;
  size_t len = 0;
  ASSERT_EQ(weft__connect_error_json(&st, &js, &len), 0);
  EXPECT_STREQ(js, R"({"code":"failed_precondition","message":"no","details":)"
                   R"([{"type":"google.rpc.ErrorInfo","value":"CgNhYmM"}]})");
  weft_status back = {};
  ASSERT_EQ(weft__connect_parse_error(js, len, WEFT_STATUS_UNKNOWN, &back), 0);
  ASSERT_EQ(back.details_len, sizeof kStatusBlob);
  EXPECT_EQ(memcmp(back.details, kStatusBlob, sizeof kStatusBlob), 0);
  free(js);
  weft_status_clear(&st);
  weft_status_clear(&back);
}

TEST(ConnectError, DetailsInEveryBase64Spelling) {
  // Padded, URL-safe ("-_"), a full type URL kept as it is; a value that is
  // not base64 and a detail without a type are dropped, the rest kept.
  const char *js = R"({"code":"internal","details":[)"
                   R"({"type":"a.B","value":"+/8="},)"
                   R"({"type":"a.B","value":"-_8"},)"
                   R"({"type":"example.com/x.Y","value":""},)"
                   R"({"type":"a.B","value":"@@"},)"
                   R"({"value":"AA"}]})";
  weft_status st = {};
  ASSERT_EQ(weft__connect_parse_error(js, strlen(js), WEFT_STATUS_UNKNOWN, &st),
            0);
  EXPECT_EQ(st.code, WEFT_STATUS_INTERNAL);
  std::string any_ab =
      std::string("\x0a\x17type.googleapis.com/a.B") + "\x12\x02\xfb\xff";
  std::string any_xy = "\x0a\x0f" + std::string("example.com/x.Y");
  std::string want = std::string("\x08\x0d", 2) + "\x1a" + char(any_ab.size()) +
                     any_ab + "\x1a" + char(any_ab.size()) + any_ab + "\x1a" +
                     char(any_xy.size()) + any_xy;
  ASSERT_EQ(std::string(reinterpret_cast<char *>(st.details), st.details_len),
            want);
  weft_status_clear(&st);
  // Nothing usable: no details at all.
  const char *bad = R"({"code":"internal","details":[{"type":"a","value":7}]})";
  ASSERT_EQ(
      weft__connect_parse_error(bad, strlen(bad), WEFT_STATUS_UNKNOWN, &st), 0);
  EXPECT_EQ(st.details_len, 0u);
  weft_status_clear(&st);
}

TEST(ConnectError, NonConnectBodyFallsBack) {
  weft_status st = {};
  const char *html = "<html>bad gateway</html>";
  weft__connect_parse_error(html, strlen(html), WEFT_STATUS_UNAVAILABLE, &st);
  EXPECT_EQ(st.code, WEFT_STATUS_UNAVAILABLE);
  weft_status_clear(&st);
}

TEST(ConnectEndStream, CarriesErrorAndTrailers) {
  weft_status st = {};
  weft_status_set(&st, WEFT_STATUS_ABORTED, "%s", "conflict");
  weft_metadata md = WEFT_METADATA_INIT;
  weft_metadata_add_str(&md, "x-trace", "a");
  weft_metadata_add_str(&md, "x-trace", "b");
  char *js = nullptr;
  size_t len = 0;
  ASSERT_EQ(weft__connect_end_stream_json(&st, &md, &js, &len), 0);
  EXPECT_STREQ(js, R"({"error":{"code":"aborted","message":"conflict"},)"
                   R"("metadata":{"x-trace":["a","b"]}})");
  weft_status back = {};
  weft_metadata md2 = WEFT_METADATA_INIT;
  ASSERT_EQ(weft__connect_parse_end_stream(js, len, &back, &md2), 0);
  EXPECT_EQ(back.code, WEFT_STATUS_ABORTED);
  ASSERT_EQ(md2.count, 2u);
  free(js);
  weft_status_clear(&st);
  weft_status_clear(&back);
  weft_metadata_clear(&md);
  weft_metadata_clear(&md2);
}

TEST(ConnectEndStream, OkIsEmptyObject) {
  weft_status st = {};
  char *js = nullptr;
  size_t len = 0;
  ASSERT_EQ(weft__connect_end_stream_json(&st, nullptr, &js, &len), 0);
  EXPECT_STREQ(js, "{}");
  weft_status back = {};
  ASSERT_EQ(weft__connect_parse_end_stream(js, len, &back, nullptr), 0);
  EXPECT_EQ(back.code, WEFT_STATUS_OK);
  free(js);
  weft_status_clear(&back);
  EXPECT_LT(weft__connect_parse_end_stream("[1]", 3, &back, nullptr), 0);
}

TEST(ConnectTimeout, Parse) {
  EXPECT_EQ(weft__connect_parse_timeout("1500", 4), 1500);
  EXPECT_EQ(weft__connect_parse_timeout("9999999999", 10), 9999999999LL);
  EXPECT_EQ(weft__connect_parse_timeout("12345678901", 11), -1);
  EXPECT_EQ(weft__connect_parse_timeout("", 0), -1);
  EXPECT_EQ(weft__connect_parse_timeout("-5", 2), -1);
  EXPECT_EQ(weft__connect_parse_timeout("1.5", 3), -1);
  // the spec wants a positive integer: 0 is not a timeout
  EXPECT_EQ(weft__connect_parse_timeout("0", 1), -1);
  EXPECT_EQ(weft__connect_parse_timeout("0000000000", 10), -1);
  EXPECT_EQ(weft__connect_parse_timeout("0001", 4), 1);
  EXPECT_EQ(weft__connect_parse_timeout("+1", 2), -1);
  EXPECT_EQ(weft__connect_parse_timeout(" 1", 2), -1);
}

struct Collected {
  std::vector<std::pair<int, std::string>> msgs;
};

int collect(void *ud, uint8_t flags, const uint8_t *data, size_t len) {
  static_cast<Collected *>(ud)->msgs.emplace_back(
      flags, std::string(reinterpret_cast<const char *>(data), len));
  return 0;
}

std::string envelope(uint8_t flags, const std::string &body) {
  uint8_t hdr[5];
  weft__connect_envelope_header(hdr, flags, (uint32_t)body.size());
  return std::string(reinterpret_cast<char *>(hdr), 5) + body;
}

TEST(ConnectReader, EveryChunkSize) {
  std::string wire = envelope(0, "hello") + envelope(0, "") +
                     envelope(1, std::string(300, 'x')) + envelope(2, "{}");
  for (size_t chunk = 1; chunk <= wire.size(); chunk++) {
    weft__connect_reader r;
    weft__connect_reader_init(&r, 1024);
    Collected c;
    for (size_t off = 0; off < wire.size(); off += chunk) {
      size_t n = std::min(chunk, wire.size() - off);
      ASSERT_EQ(weft__connect_reader_feed(
                    &r, reinterpret_cast<const uint8_t *>(wire.data()) + off, n,
                    collect, &c, nullptr),
                0);
    }
    ASSERT_EQ(c.msgs.size(), 4u) << "chunk " << chunk;
    EXPECT_EQ(c.msgs[0].second, "hello");
    EXPECT_EQ(c.msgs[1].second, "");
    EXPECT_EQ(c.msgs[2].first, 1);
    EXPECT_EQ(c.msgs[2].second.size(), 300u);
    EXPECT_EQ(c.msgs[3].first, 2);
    EXPECT_TRUE(weft__connect_reader_idle(&r));
    weft__connect_reader_free(&r);
  }
}

TEST(ConnectReader, OversizeRejectedBeforeAllocation) {
  weft__connect_reader r;
  weft__connect_reader_init(&r, 16);
  uint8_t hdr[5];
  weft__connect_envelope_header(hdr, 0, 0xFFFFFFFFu);
  Collected c;
  weft_error err = {};
  EXPECT_EQ(weft__connect_reader_feed(&r, hdr, 5, collect, &c, &err),
            WEFT_ERR_FRAME_TOO_BIG);
  EXPECT_NE(std::string(err.message).find("limit"), std::string::npos);
  EXPECT_EQ(r.buf, nullptr);
  weft__connect_reader_free(&r);
}

TEST(ConnectReader, PartialIsNotIdle) {
  weft__connect_reader r;
  weft__connect_reader_init(&r, 16);
  std::string wire = envelope(0, "abc");
  Collected c;
  weft__connect_reader_feed(&r, reinterpret_cast<const uint8_t *>(wire.data()),
                            6, collect, &c, nullptr);
  EXPECT_FALSE(weft__connect_reader_idle(&r));
  weft__connect_reader_free(&r);
}

TEST(Gzip, RoundTripAndBomb) {
  std::string text(100000, 'a');
  uint8_t *z = nullptr, *back = nullptr;
  size_t zl = 0, bl = 0;
  ASSERT_EQ(weft__gzip(reinterpret_cast<const uint8_t *>(text.data()),
                       text.size(), &z, &zl),
            0);
  EXPECT_LT(zl, 1000u);
  ASSERT_EQ(weft__gunzip(z, zl, 1 << 20, &back, &bl, nullptr), 0);
  EXPECT_EQ(std::string(reinterpret_cast<char *>(back), bl), text);
  free(back);
  weft_error err = {};
  EXPECT_EQ(weft__gunzip(z, zl, 1000, &back, &bl, &err), WEFT_ERR_TOO_BIG);
  EXPECT_EQ(weft__gunzip(z, zl / 2, 1 << 20, &back, &bl, &err),
            WEFT_ERR_MALFORMED);
  const uint8_t junk[] = {1, 2, 3, 4};
  EXPECT_EQ(weft__gunzip(junk, 4, 1 << 20, &back, &bl, &err),
            WEFT_ERR_MALFORMED);
  free(z);
}

} // namespace

namespace {

struct Get {
  int rv;
  weft__connect_get g;
  weft_error err{};
  Get(const char *q, size_t max = 1024) {
    rv = weft__connect_get_parse(q, max, &g, &err);
  }
  ~Get() {
    weft__connect_get_free(&g);
  }
  std::string msg() const {
    return std::string((const char *)g.message, g.message_len);
  }
};

} // namespace

TEST(ConnectGet, JsonPercentEncoded) {
  Get a("connect=v1&encoding=json&message=%7B%22text%22%3A%22a+b%22%7D");
  ASSERT_EQ(a.rv, 0) << a.err.message;
  EXPECT_TRUE(a.g.json);
  EXPECT_EQ(a.msg(), R"({"text":"a b"})");
  EXPECT_EQ(a.g.compression, nullptr);
}

TEST(ConnectGet, ProtoBase64EitherAlphabetAndCompression) {
  Get a("encoding=proto&base64=1&message=CgFi&compression=gzip");
  ASSERT_EQ(a.rv, 0) << a.err.message;
  EXPECT_FALSE(a.g.json);
  EXPECT_EQ(a.msg(), std::string("\x0a\x01"
                                 "b"));
  EXPECT_STREQ(a.g.compression, "gzip");
  Get padded("encoding=proto&base64=1&message=_-8%3D"); // URL-safe, padded
  ASSERT_EQ(padded.rv, 0) << padded.err.message;
  EXPECT_EQ(padded.msg(), "\xff\xef");
  Get empty("encoding=json"); // no message: an empty one
  ASSERT_EQ(empty.rv, 0);
  EXPECT_EQ(empty.g.message_len, 0u);
}

TEST(ConnectGet, Refusals) {
  EXPECT_EQ(Get("message=e30").rv, WEFT_ERR_UNSUPPORTED); // no encoding
  EXPECT_EQ(Get("encoding=xml").rv, WEFT_ERR_UNSUPPORTED);
  EXPECT_EQ(Get("encoding=json&connect=v2").rv, WEFT_ERR_INVAL);
  EXPECT_EQ(Get("encoding=json&message=%zz").rv, WEFT_ERR_INVAL);
  EXPECT_EQ(Get("encoding=json&message=%4").rv, WEFT_ERR_INVAL);
  EXPECT_EQ(Get("encoding=proto&base64=1&message=***").rv, WEFT_ERR_INVAL);
  Get big("encoding=json&message=0123456789", 4);
  EXPECT_EQ(big.rv, WEFT_ERR_TOO_BIG);
  EXPECT_NE(std::string(big.err.message).find("4-byte limit"),
            std::string::npos);
  Get ver("encoding=json&connect=v2");
  EXPECT_NE(std::string(ver.err.message).find("connect must be v1"),
            std::string::npos);
}
