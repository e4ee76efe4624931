// gRPC on weft's own HTTP/2 client (h2c:// with weft_http_client_opts
// .protocol = WEFT_HTTP_GRPC):
//   - against weft's h2c server (which speaks gRPC beside Connect): the four
//     RPC kinds, blocking and asynchronous, both codecs, status details,
//     binary metadata, deadlines and cancellation;
//   - against a scripted raw HTTP/2 server that answers one request with
//     exactly the frames a case needs (a trailers-only response, trailers
//     without grpc-status, no trailers at all, an HTTP error status, a
//     compressed message without grpc-encoding, a gzip'd one, a stream cut
//     inside a message) and records the request's header fields.
#include "h2_test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <nghttp2/nghttp2.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

extern "C" {
#include "grpc_wire.h"
#include "weft/http.h"
}

using h2test::Server;

namespace {

struct GrpcClient {
  GrpcClient(int port, weft_codec_kind codec = WEFT_CODEC_PROTO) {
    http.protocol = WEFT_HTTP_GRPC;
    weft_client_opts o = {};
    o.codec = codec;
    o.connect_timeout_ms = 5000;
    o.default_timeout_ms = 10000;
    o.transport_opts = &http;
    std::string url = "h2c://127.0.0.1:" + std::to_string(port);
    rv = weft_client_open(&c, url.c_str(), &o, &err);
  }
  ~GrpcClient() {
    weft_client_close(c);
  }
  weft_http_client_opts http = WEFT_HTTP_CLIENT_OPTS_INIT;
  weft_client *c = nullptr;
  weft_error err = {};
  int rv;
};

// ---- against weft's h2c server ------------------------------------------

class H2GrpcClient : public ::testing::TestWithParam<weft_codec_kind> {};

TEST_P(H2GrpcClient, AllFourKindsBlocking) {
  Server s;
  GrpcClient cl(s.port(), GetParam());
  ASSERT_EQ(cl.rv, 0) << cl.err.message;

  weft__test__EchoRequest req;
  weft__test__EchoRequest_init(&req);
  req.text = (char *)"unary";
  weft__test__EchoResponse *resp = nullptr;
  weft_call_opts o = {};
  ASSERT_EQ(weft__test__Echo_unary(cl.c, &req, &resp, &o), 0)
      << o.status.message;
  EXPECT_STREQ(resp->text, "unary");
  weft_message_free(resp);
  weft_status_clear(&o.status);

  req.text = (char *)"ss";
  req.repeat = 5;
  weft_call *call = nullptr;
  weft_call_opts so = {};
  ASSERT_EQ(weft__test__Echo_server_stream(cl.c, &req, &call, &so), 0);
  void *m;
  int n = 0;
  while (weft_call_recv(call, &m) == 1) {
    auto *r = static_cast<weft__test__EchoResponse *>(m);
    EXPECT_EQ(r->index, n++);
    weft_message_free(r);
  }
  EXPECT_EQ(weft_call_finish(call), 0) << so.status.message;
  EXPECT_EQ(n, 5);
  weft_status_clear(&so.status);

  // Client streaming: the server joins the texts.
  weft_call_opts co = {};
  ASSERT_EQ(
      weft_call_start(cl.c, &weft__test__Echo_service.methods[2], &co, &call),
      0);
  for (const char *t : {"a", "b", "c"}) {
    req.text = (char *)t;
    ASSERT_EQ(weft_call_send(call, &req), 0);
  }
  weft_call_close_send(call);
  ASSERT_EQ(weft_call_recv(call, &m), 1) << co.status.message;
  auto *r = static_cast<weft__test__EchoResponse *>(m);
  EXPECT_NE(std::string(r->text).find('c'), std::string::npos) << r->text;
  weft_message_free(r);
  EXPECT_EQ(weft_call_finish(call), 0);
  weft_status_clear(&co.status);

  // Bidi: one answer per request, in turn.
  weft_call_opts bo = {};
  ASSERT_EQ(
      weft_call_start(cl.c, &weft__test__Echo_service.methods[3], &bo, &call),
      0);
  req.repeat = 0;
  for (int i = 0; i < 3; i++) {
    std::string t = "ping" + std::to_string(i);
    req.text = (char *)t.c_str();
    ASSERT_EQ(weft_call_send(call, &req), 0);
    ASSERT_EQ(weft_call_recv(call, &m), 1) << bo.status.message;
    r = static_cast<weft__test__EchoResponse *>(m);
    EXPECT_STREQ(r->text, t.c_str());
    weft_message_free(r);
  }
  weft_call_close_send(call);
  EXPECT_EQ(weft_call_recv(call, &m), 0);
  EXPECT_EQ(weft_call_finish(call), 0) << bo.status.message;
  weft_status_clear(&bo.status);
}

TEST_P(H2GrpcClient, StatusDetailsMetadataDeadline) {
  Server s;
  GrpcClient cl(s.port(), GetParam());
  ASSERT_EQ(cl.rv, 0);
  weft__test__EchoRequest req;
  weft__test__EchoRequest_init(&req);
  req.fail_code = WEFT_STATUS_FAILED_PRECONDITION;
  req.fail_message = (char *)"caf\xc3\xa9 100% \r\n";
  static uint8_t details[] = {0x08, 0x03, 0x12, 0x01, 'x'};
  req.fail_details.data = details;
  req.fail_details.len = sizeof details;
  weft__test__EchoResponse *resp = nullptr;
  weft_call_opts o = {};
  EXPECT_EQ(weft__test__Echo_unary(cl.c, &req, &resp, &o), WEFT_ERR_RPC);
  EXPECT_EQ(o.status.code, WEFT_STATUS_FAILED_PRECONDITION);
  EXPECT_STREQ(o.status.message, "caf\xc3\xa9 100% \r\n");
  ASSERT_EQ(o.status.details_len, sizeof details);
  EXPECT_EQ(memcmp(o.status.details, details, sizeof details), 0);
  weft_status_clear(&o.status);

  // The handler sleeps past the deadline: DEADLINE_EXCEEDED, whoever
  // notices first (the server from grpc-timeout, or the client).
  weft__test__EchoRequest_init(&req);
  req.delay_ms = 3000;
  weft_call_opts d = {};
  d.timeout_ms = 200;
  EXPECT_NE(weft__test__Echo_unary(cl.c, &req, &resp, &d), 0);
  EXPECT_EQ(d.status.code, WEFT_STATUS_DEADLINE_EXCEEDED) << d.status.message;
  weft_status_clear(&d.status);

  // The connection still serves.
  weft__test__EchoRequest_init(&req);
  req.text = (char *)"after";
  weft_call_opts a = {};
  ASSERT_EQ(weft__test__Echo_unary(cl.c, &req, &resp, &a), 0)
      << a.status.message;
  weft_message_free(resp);
  weft_status_clear(&a.status);
}

struct AsyncResult {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  int code = -1;
  std::string message;
  int messages = 0;
  bool wait() {
    std::unique_lock<std::mutex> l(mu);
    return cv.wait_for(l, std::chrono::seconds(20), [&] { return done; });
  }
};

void as_message(weft_call *, void *msg, void *ud) {
  auto *r = static_cast<AsyncResult *>(ud);
  weft_message_free(msg);
  std::lock_guard<std::mutex> l(r->mu);
  r->messages++;
}

void as_done(weft_call *, const weft_status *st, const weft_metadata *,
             void *ud) {
  auto *r = static_cast<AsyncResult *>(ud);
  std::lock_guard<std::mutex> l(r->mu);
  r->code = st->code;
  r->message = st->message ? st->message : "";
  r->done = true;
  r->cv.notify_all();
}

TEST_P(H2GrpcClient, Asynchronous) {
  Server s;
  GrpcClient cl(s.port(), GetParam());
  ASSERT_EQ(cl.rv, 0);
  weft_call_callbacks cb = {nullptr, as_message, as_done};
  weft__test__EchoRequest req;
  weft__test__EchoRequest_init(&req);
  req.text = (char *)"a";

  AsyncResult u;
  weft_call *call = nullptr;
  ASSERT_EQ(weft_call_start_async(cl.c, &weft__test__Echo_service.methods[0],
                                  &req, nullptr, &cb, &u, &call),
            0);
  ASSERT_TRUE(u.wait());
  EXPECT_EQ(u.code, WEFT_STATUS_OK) << u.message;
  EXPECT_EQ(u.messages, 1);

  AsyncResult ss;
  req.repeat = 20;
  ASSERT_EQ(weft_call_start_async(cl.c, &weft__test__Echo_service.methods[1],
                                  &req, nullptr, &cb, &ss, &call),
            0);
  ASSERT_TRUE(ss.wait());
  EXPECT_EQ(ss.code, WEFT_STATUS_OK) << ss.message;
  EXPECT_EQ(ss.messages, 20);

  AsyncResult bidi;
  ASSERT_EQ(weft_call_start_async(cl.c, &weft__test__Echo_service.methods[3],
                                  nullptr, nullptr, &cb, &bidi, &call),
            0);
  req.repeat = 0;
  for (int i = 0; i < 3; i++)
    ASSERT_EQ(weft_call_send(call, &req), 0);
  weft_call_close_send(call);
  ASSERT_TRUE(bidi.wait());
  EXPECT_EQ(bidi.code, WEFT_STATUS_OK) << bidi.message;
  EXPECT_EQ(bidi.messages, 3);

  // A failing unary call: its status, no message.
  AsyncResult f;
  req.fail_code = WEFT_STATUS_NOT_FOUND;
  req.fail_message = (char *)"nope";
  ASSERT_EQ(weft_call_start_async(cl.c, &weft__test__Echo_service.methods[0],
                                  &req, nullptr, &cb, &f, &call),
            0);
  ASSERT_TRUE(f.wait());
  EXPECT_EQ(f.code, WEFT_STATUS_NOT_FOUND);
  EXPECT_EQ(f.message, "nope");
  EXPECT_EQ(f.messages, 0);

  // Past its deadline while the handler sleeps.
  AsyncResult d;
  weft__test__EchoRequest_init(&req);
  req.delay_ms = 3000;
  weft_call_opts dopt = {};
  dopt.timeout_ms = 200;
  ASSERT_EQ(weft_call_start_async(cl.c, &weft__test__Echo_service.methods[0],
                                  &req, &dopt, &cb, &d, &call),
            0);
  ASSERT_TRUE(d.wait());
  EXPECT_EQ(d.code, WEFT_STATUS_DEADLINE_EXCEEDED) << d.message;

  // Cancelled while the handler sleeps.
  AsyncResult c;
  weft__test__EchoRequest_init(&req);
  req.delay_ms = 3000;
  ASSERT_EQ(weft_call_start_async(cl.c, &weft__test__Echo_service.methods[0],
                                  &req, nullptr, &cb, &c, &call),
            0);
  weft_call_cancel(call);
  ASSERT_TRUE(c.wait());
  EXPECT_EQ(c.code, WEFT_STATUS_CANCELLED);
}

INSTANTIATE_TEST_SUITE_P(Codecs, H2GrpcClient,
                         ::testing::Values(WEFT_CODEC_PROTO, WEFT_CODEC_JSON));

TEST(H2GrpcClientOpts, GrpcWebIsRefusedOnH2c) {
  Server s;
  weft_http_client_opts http = WEFT_HTTP_CLIENT_OPTS_INIT;
  http.protocol = WEFT_HTTP_GRPC_WEB;
  weft_client_opts o = {};
  o.transport_opts = &http;
  weft_client *c = nullptr;
  weft_error err = {};
  std::string url = "h2c://127.0.0.1:" + std::to_string(s.port());
  EXPECT_EQ(weft_client_open(&c, url.c_str(), &o, &err), WEFT_ERR_UNSUPPORTED);
  EXPECT_NE(strstr(err.message, "grpc-web"), nullptr) << err.message;
  weft_client_close(c);
}

// ---- against a scripted raw HTTP/2 server -------------------------------

std::string u8(uint8_t v) {
  return std::string(1, (char)v);
}
std::string u32(uint32_t v) {
  std::string s;
  for (int i = 3; i >= 0; i--)
    s += u8((uint8_t)(v >> (8 * i)));
  return s;
}
std::string frame(uint8_t type, uint8_t flags, uint32_t stream,
                  const std::string &payload) {
  uint32_t n = (uint32_t)payload.size();
  return u8((uint8_t)(n >> 16)) + u8((uint8_t)(n >> 8)) + u8((uint8_t)n) +
         u8(type) + u8(flags) + u32(stream) + payload;
}
// HPACK literal field without indexing, no Huffman (names and values under
// 127 bytes here).
std::string block(const std::vector<std::pair<std::string, std::string>> &h) {
  std::string b;
  for (auto &kv : h)
    b += u8(0) + u8((uint8_t)kv.first.size()) + kv.first +
         u8((uint8_t)kv.second.size()) + kv.second;
  return b;
}
std::string headers(uint32_t id,
                    const std::vector<std::pair<std::string, std::string>> &h,
                    bool end) {
  return frame(1, 0x4 | (end ? 1 : 0), id, block(h));
}
std::string data(uint32_t id, const std::string &d, bool end) {
  return frame(0, end ? 1 : 0, id, d);
}
std::string grpc_msg(const std::string &m, uint8_t flags = 0) {
  return u8(flags) + u32((uint32_t)m.size()) + m;
}
const std::pair<std::string, std::string> kOk = {":status", "200"};
const std::pair<std::string, std::string> kCt = {"content-type",
                                                 "application/grpc"};

// EchoResponse{text: "hi"}.
const std::string kHi = std::string("\x0a\x02hi", 4);

std::string gzip(const std::string &in) {
  z_stream z = {};
  deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
  std::string out(in.size() + 64, '\0');
  z.next_in = (Bytef *)in.data();
  z.avail_in = (uInt)in.size();
  z.next_out = (Bytef *)&out[0];
  z.avail_out = (uInt)out.size();
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// One connection, one request: once the request's stream ends, the server
// writes respond(stream id) and keeps reading until the client goes (or
// the test's bound passes). The request's header fields are recorded.
class RawServer {
public:
  explicit RawServer(std::function<std::string(uint32_t)> respond)
      : respond_(std::move(respond)) {
    lfd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a = {};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(lfd_, (sockaddr *)&a, sizeof a);
    listen(lfd_, 4);
    socklen_t al = sizeof a;
    getsockname(lfd_, (sockaddr *)&a, &al);
    port_ = ntohs(a.sin_port);
    th_ = std::thread([this] { run(); });
  }
  ~RawServer() {
    stop_ = true;
    th_.join();
    close(lfd_);
  }
  int port() const {
    return port_;
  }
  std::map<std::string, std::string> request() {
    std::lock_guard<std::mutex> l(mu_);
    return fields_;
  }

private:
  bool read_some(int fd, std::string &buf) {
    pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0)
      return !stop_;
    char tmp[16384];
    ssize_t n = read(fd, tmp, sizeof tmp);
    if (n <= 0)
      return false;
    buf.append(tmp, (size_t)n);
    return true;
  }
  void run() {
    pollfd p = {lfd_, POLLIN, 0};
    while (!stop_ && poll(&p, 1, 100) <= 0) {
    }
    if (stop_)
      return;
    int fd = accept(lfd_, nullptr, nullptr);
    nghttp2_hd_inflater *inf = nullptr;
    nghttp2_hd_inflate_new(&inf);
    std::string out = frame(4, 0, 0, ""), buf;
    (void)!write(fd, out.data(), out.size());
    bool preface = false;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!stop_ && std::chrono::steady_clock::now() < deadline &&
           read_some(fd, buf)) {
      if (!preface) {
        if (buf.size() < 24)
          continue;
        buf.erase(0, 24);
        preface = true;
      }
      while (buf.size() >= 9) {
        uint32_t len =
            (uint8_t)buf[0] << 16 | (uint8_t)buf[1] << 8 | (uint8_t)buf[2];
        if (buf.size() < 9 + len)
          break;
        uint8_t type = (uint8_t)buf[3], flags = (uint8_t)buf[4];
        uint32_t id = (((uint8_t)buf[5] & 0x7f) << 24) |
                      ((uint8_t)buf[6] << 16) | ((uint8_t)buf[7] << 8) |
                      (uint8_t)buf[8];
        std::string pl = buf.substr(9, len);
        buf.erase(0, 9 + len);
        std::string reply;
        if (type == 4 && !(flags & 1))
          reply = frame(4, 1, 0, "");
        else if (type == 6 && !(flags & 1))
          reply = frame(6, 1, 0, pl);
        else if (type == 1)
          inflate(inf, pl);
        if ((type == 0 || type == 1) && (flags & 1))
          reply += respond_(id);
        if (!reply.empty())
          (void)!write(fd, reply.data(), reply.size());
      }
    }
    nghttp2_hd_inflate_del(inf);
    close(fd);
  }
  // Headers here come in one HEADERS frame (END_HEADERS, no padding or
  // priority: what nghttp2's client sends for a small block).
  void inflate(nghttp2_hd_inflater *inf, const std::string &blk) {
    const uint8_t *in = (const uint8_t *)blk.data();
    size_t left = blk.size();
    for (;;) {
      nghttp2_nv nv;
      int fl = 0;
      ssize_t r = nghttp2_hd_inflate_hd2(inf, &nv, &fl, in, left, 1);
      if (r < 0)
        return;
      in += r;
      left -= (size_t)r;
      if (fl & NGHTTP2_HD_INFLATE_EMIT) {
        std::lock_guard<std::mutex> l(mu_);
        fields_[std::string((char *)nv.name, nv.namelen)] =
            std::string((char *)nv.value, nv.valuelen);
      }
      if (fl & NGHTTP2_HD_INFLATE_FINAL) {
        nghttp2_hd_inflate_end_headers(inf);
        return;
      }
      if (r == 0 && left == 0)
        return;
    }
  }

  std::function<std::string(uint32_t)> respond_;
  int lfd_ = -1, port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread th_;
  std::mutex mu_;
  std::map<std::string, std::string> fields_;
};

struct Outcome {
  int rv;
  weft_status st;
  std::string text;
  std::map<std::string, std::string> md;
};

Outcome unary(RawServer &s, const weft_metadata *md = nullptr,
              int timeout_ms = 5000) {
  GrpcClient cl(s.port());
  Outcome out = {};
  if (cl.rv < 0) {
    out.rv = cl.rv;
    return out;
  }
  weft__test__EchoRequest req;
  weft__test__EchoRequest_init(&req);
  req.text = (char *)"q";
  weft__test__EchoResponse *resp = nullptr;
  weft_metadata rmd = WEFT_METADATA_INIT;
  weft_call_opts o = {};
  o.timeout_ms = timeout_ms;
  o.metadata = md;
  o.response_metadata = &rmd;
  out.rv = weft__test__Echo_unary(cl.c, &req, &resp, &o);
  if (resp && resp->text)
    out.text = resp->text;
  weft_message_free(resp);
  for (size_t i = 0; i < rmd.count; i++)
    out.md[rmd.entries[i].key] = std::string((const char *)rmd.entries[i].value,
                                             rmd.entries[i].value_len);
  weft_metadata_clear(&rmd);
  out.st = o.status;
  return out;
}

TEST(H2GrpcClientRaw, TrailersOnly) {
  RawServer s([](uint32_t id) {
    return headers(id,
                   {kOk,
                    kCt,
                    {"grpc-status", "7"},
                    {"grpc-message", "no%20way%"},
                    {"x-why", "policy"}},
                   true);
  });
  Outcome o = unary(s);
  EXPECT_EQ(o.rv, WEFT_ERR_RPC);
  EXPECT_EQ(o.st.code, WEFT_STATUS_PERMISSION_DENIED);
  EXPECT_STREQ(o.st.message, "no way%");
  EXPECT_EQ(o.md["x-why"], "policy");
  weft_status_clear(&o.st);
}

TEST(H2GrpcClientRaw, OkWithMessageAndBinaryMetadata) {
  RawServer s([](uint32_t id) {
    return headers(id, {kOk, kCt, {"x-h-bin", "q6ur"}}, false) +
           data(id, grpc_msg(kHi), false) +
           headers(id, {{"grpc-status", "0"}, {"x-t-bin", "AAE"}}, true);
  });
  weft_metadata md = WEFT_METADATA_INIT;
  weft_metadata_add_str(&md, "x-plain", "v");
  weft_metadata_add(&md, "x-raw-bin", "\x00\xff\x10\x20", 4);
  Outcome o = unary(s, &md, 4000);
  weft_metadata_clear(&md);
  EXPECT_EQ(o.rv, 0) << o.st.message;
  EXPECT_EQ(o.text, "hi");
  EXPECT_EQ(o.md["x-h-bin"], "\xab\xab\xab");
  EXPECT_EQ(o.md["x-t-bin"], std::string("\x00\x01", 2));
  auto rq = s.request();
  EXPECT_EQ(rq[":method"], "POST");
  EXPECT_EQ(rq[":path"], "/weft.test.Echo/Unary");
  EXPECT_EQ(rq["content-type"], "application/grpc");
  EXPECT_EQ(rq["te"], "trailers");
  EXPECT_EQ(rq["grpc-accept-encoding"], "identity,gzip");
  EXPECT_EQ(rq["x-plain"], "v");
  EXPECT_EQ(rq["x-raw-bin"], "AP8QIA"); // base64, unpadded
  // The deadline as grpc-timeout: at most 8 digits, at most what is left.
  std::string t = rq["grpc-timeout"];
  ASSERT_GE(t.size(), 2u);
  EXPECT_LE(t.size(), 9u);
  int64_t ns = weft__grpc_parse_timeout(t.data(), t.size());
  EXPECT_GT(ns, 0) << t;
  EXPECT_LE(ns, 4000000000LL) << t;
  EXPECT_EQ(rq.count("connect-protocol-version"), 0u);
  weft_status_clear(&o.st);
}

TEST(H2GrpcClientRaw, TrailersWithoutStatusAreUnknown) {
  RawServer s([](uint32_t id) {
    return headers(id, {kOk, kCt}, false) + data(id, grpc_msg(kHi), false) +
           headers(id, {{"x-trailer", "1"}}, true);
  });
  Outcome o = unary(s);
  EXPECT_EQ(o.rv, WEFT_ERR_RPC);
  EXPECT_EQ(o.st.code, WEFT_STATUS_UNKNOWN) << o.st.message;
  weft_status_clear(&o.st);
}

TEST(H2GrpcClientRaw, NoTrailersIsInternal) {
  RawServer s([](uint32_t id) {
    return headers(id, {kOk, kCt}, false) + data(id, grpc_msg(kHi), true);
  });
  Outcome o = unary(s);
  EXPECT_EQ(o.rv, WEFT_ERR_RPC);
  EXPECT_EQ(o.st.code, WEFT_STATUS_INTERNAL) << o.st.message;
  weft_status_clear(&o.st);
}

TEST(H2GrpcClientRaw, HttpStatusIsMapped) {
  struct {
    const char *http;
    int code;
  } cases[] = {{"404", WEFT_STATUS_UNIMPLEMENTED},
               {"503", WEFT_STATUS_UNAVAILABLE},
               {"401", WEFT_STATUS_UNAUTHENTICATED},
               {"500", WEFT_STATUS_UNKNOWN}};
  for (auto &c : cases) {
    std::string http = c.http;
    RawServer s([http](uint32_t id) {
      // grpc-status 0 does not turn an HTTP error into success.
      return headers(id,
                     {{":status", http},
                      {"content-type", "text/html"},
                      {"grpc-status", "0"}},
                     false) +
             data(id, "<html>busy</html>", true);
    });
    Outcome o = unary(s);
    EXPECT_EQ(o.rv, WEFT_ERR_RPC) << c.http;
    EXPECT_EQ(o.st.code, c.code) << c.http << ": " << o.st.message;
    weft_status_clear(&o.st);
  }
}

TEST(H2GrpcClientRaw, CompressedWithoutEncodingIsInternal) {
  RawServer s([](uint32_t id) {
    return headers(id, {kOk, kCt}, false) +
           data(id, grpc_msg(gzip(kHi), 1), false) +
           headers(id, {{"grpc-status", "0"}}, true);
  });
  Outcome o = unary(s);
  EXPECT_EQ(o.rv, WEFT_ERR_RPC);
  EXPECT_EQ(o.st.code, WEFT_STATUS_INTERNAL) << o.st.message;
  weft_status_clear(&o.st);
}

TEST(H2GrpcClientRaw, GzipMessage) {
  RawServer s([](uint32_t id) {
    return headers(id, {kOk, kCt, {"grpc-encoding", "gzip"}}, false) +
           data(id, grpc_msg(gzip(kHi), 1), false) +
           headers(id, {{"grpc-status", "0"}}, true);
  });
  Outcome o = unary(s);
  EXPECT_EQ(o.rv, 0) << o.st.message;
  EXPECT_EQ(o.text, "hi");
  weft_status_clear(&o.st);
}

TEST(H2GrpcClientRaw, StreamCutInsideAMessageIsInternal) {
  RawServer s([](uint32_t id) {
    return headers(id, {kOk, kCt}, false) +
           data(id, grpc_msg(kHi).substr(0, 5), false) +
           headers(id, {{"grpc-status", "0"}}, true);
  });
  Outcome o = unary(s);
  EXPECT_EQ(o.rv, WEFT_ERR_RPC);
  EXPECT_EQ(o.st.code, WEFT_STATUS_INTERNAL) << o.st.message;
  weft_status_clear(&o.st);
}

TEST(H2GrpcClientRaw, UnaryOkWithoutMessageIsInternal) {
  RawServer s([](uint32_t id) {
    return headers(id, {kOk, kCt, {"grpc-status", "0"}}, true);
  });
  Outcome o = unary(s);
  EXPECT_NE(o.rv, 0);
  EXPECT_EQ(o.st.code, WEFT_STATUS_INTERNAL) << o.st.message;
  EXPECT_NE(strstr(o.st.message, "0 messages"), nullptr) << o.st.message;
  weft_status_clear(&o.st);
}

TEST(H2GrpcClientRaw, ResetMapsLikeGrpc) {
  struct {
    bool head;
    uint32_t code;
    int want;
  } cases[] = {{true, 0xb, WEFT_STATUS_RESOURCE_EXHAUSTED},
               {true, 0x2, WEFT_STATUS_INTERNAL},
               {true, 0x8, WEFT_STATUS_CANCELLED},
               {false, 0x7, WEFT_STATUS_UNAVAILABLE},
               {false, 0xc, WEFT_STATUS_PERMISSION_DENIED}};
  for (auto &c : cases) {
    bool head = c.head;
    uint32_t code = c.code;
    RawServer s([head, code](uint32_t id) {
      return (head ? headers(id, {kOk, kCt}, false) : std::string()) +
             frame(3, 0, id, u32(code));
    });
    Outcome o = unary(s);
    EXPECT_EQ(o.rv, WEFT_ERR_RPC) << code;
    EXPECT_EQ(o.st.code, c.want) << code << ": " << o.st.message;
    weft_status_clear(&o.st);
  }
}

TEST(H2GrpcClientRaw, NonGrpcContentTypeIsInternal) {
  RawServer s([](uint32_t id) {
    return headers(id, {kOk, {"content-type", "text/html"}}, false) +
           data(id, "<html>hello</html>", true);
  });
  Outcome o = unary(s);
  EXPECT_EQ(o.rv, WEFT_ERR_RPC);
  EXPECT_EQ(o.st.code, WEFT_STATUS_INTERNAL);
  EXPECT_NE(strstr(o.st.message, "text/html"), nullptr) << o.st.message;
  weft_status_clear(&o.st);
}

TEST(H2GrpcClientRaw, UnaryWithTwoMessagesIsInternal) {
  RawServer s([](uint32_t id) {
    return headers(id, {kOk, kCt}, false) +
           data(id, grpc_msg(kHi) + grpc_msg(kHi), false) +
           headers(id, {{"grpc-status", "0"}}, true);
  });
  Outcome o = unary(s);
  EXPECT_NE(o.rv, 0);
  EXPECT_EQ(o.st.code, WEFT_STATUS_INTERNAL);
  EXPECT_NE(strstr(o.st.message, "2 messages"), nullptr) << o.st.message;
  weft_status_clear(&o.st);
}

TEST(H2GrpcClientRaw, BadFrameFlagIsInternal) {
  RawServer s([](uint32_t id) {
    return headers(id, {kOk, kCt}, false) +
           data(id, grpc_msg(kHi, 0x02), false) +
           headers(id, {{"grpc-status", "0"}}, true);
  });
  Outcome o = unary(s);
  EXPECT_EQ(o.rv, WEFT_ERR_RPC);
  EXPECT_EQ(o.st.code, WEFT_STATUS_INTERNAL) << o.st.message;
  weft_status_clear(&o.st);
}

} // namespace
