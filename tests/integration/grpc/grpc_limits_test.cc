// The gRPC listener under abuse, with raw HTTP/2 frames (the conformance
// suite's frame writer): one connection may open 100 streams at once, and
// the rest are refused; a flood of calls on grpc:// leaves room in the
// shared worker queue for calls on another transport (tcp://).
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "h2_frames.h"

extern "C" {
#include "echo_service.h"
#include "weft/client.h"
#include "weft/grpc_transport.h"
#include "weft/server.h"
}

using namespace h2conf;

namespace {

Headers grpc_req(const char *path) {
  return {{":method", "POST"},
          {":scheme", "http"},
          {":path", path},
          {":authority", "127.0.0.1"},
          {"content-type", "application/grpc"},
          {"te", "trailers"}};
}

// A header block from nghttp2's HPACK encoder (gRPC core's parser refuses
// the hand-built literal blocks of h2_frames.h); one encoder per
// connection, its blocks sent in order.
struct Hpack {
  nghttp2_hd_deflater *d = nullptr;
  Hpack() {
    nghttp2_hd_deflate_new(&d, 4096);
  }
  ~Hpack() {
    nghttp2_hd_deflate_del(d);
  }
  std::string block(const Headers &h) {
    std::vector<nghttp2_nv> nv;
    for (auto &kv : h)
      nv.push_back({(uint8_t *)kv.first.data(), (uint8_t *)kv.second.data(),
                    kv.first.size(), kv.second.size(), NGHTTP2_NV_FLAG_NONE});
    std::string out(nghttp2_hd_deflate_bound(d, nv.data(), nv.size()), '\0');
    ssize_t n = nghttp2_hd_deflate_hd(d, (uint8_t *)&out[0], out.size(),
                                      nv.data(), nv.size());
    out.resize(n > 0 ? (size_t)n : 0);
    return out;
  }
};

// A gRPC-framed weft.test.EchoRequest{text: "f", delay_ms: ms}.
std::string echo_msg(unsigned ms) {
  std::string pb = "\x0a\x01"
                   "f";
  pb += '\x18';
  for (unsigned v = ms;; v >>= 7) {
    if (v < 0x80) {
      pb += (char)v;
      break;
    }
    pb += (char)((v & 0x7f) | 0x80);
  }
  return u8(0) + u32((uint32_t)pb.size()) + pb;
}

struct Srv {
  weft_server *s = nullptr;
  explicit Srv(const weft_server_opts &o) {
    EXPECT_EQ(weft_server_new(&s, &o), 0);
    EXPECT_EQ(weft_test_echo_add(s), 0);
  }
  int listen(const char *url) {
    weft_error err{};
    EXPECT_EQ(weft_server_listen(s, url, &err), 0) << err.message;
    return weft_server_port(s, count++);
  }
  ~Srv() {
    weft_server_shutdown(s);
    weft_server_free(s);
  }
  unsigned count = 0;
};

TEST(GrpcLimits, StreamsPerConnectionAreBounded) {
  weft_server_opts o{};
  o.shutdown_grace_ms = 500;
  Srv srv(o);
  int port = srv.listen("grpc://127.0.0.1:0");
  FrameClient c(port);
  ASSERT_TRUE(c.handshake()); // the server's SETTINGS are acknowledged
  EXPECT_EQ(c.peer_settings[S_MAX_CONCURRENT_STREAMS], 100u);
  // 100 calls whose request never ends: all admitted, they stay open.
  Hpack hp;
  std::string burst;
  std::vector<uint32_t> ids;
  for (int i = 0; i < 100; i++) {
    ids.push_back(c.next_stream());
    burst += FrameClient::frame_bytes(
        HEADERS, F_END_HEADERS, ids.back(),
        hp.block(grpc_req("/weft.test.Echo/ClientStream")));
  }
  ASSERT_TRUE(c.write(burst));
  Frame f;
  auto quiet = FrameClient::deadline(300);
  Got g;
  while ((g = c.read(f, quiet)) == Got::Frame)
    EXPECT_TRUE(f.type != RST_STREAM && f.type != GOAWAY &&
                !(f.type == HEADERS && (f.flags & F_END_STREAM)))
        << "an admitted stream ended: " << f.describe();
  ASSERT_EQ(g, Got::Timeout) << c.trail();
  // The 101st: RFC 9113 5.1.2 wants a stream error (REFUSED_STREAM or
  // PROTOCOL_ERROR) and 5.4.1 lets the server make it a connection error;
  // gRPC core 1.51 does the latter (every call of the connection ends
  // UNAVAILABLE "Failed parsing HTTP/2" and the connection closes), later
  // versions refuse the stream.
  uint32_t extra = c.next_stream();
  ASSERT_TRUE(c.headers(extra, hp.block(grpc_req("/weft.test.Echo/Unary")),
                        F_END_HEADERS));
  bool refused = false, closed = false;
  auto until = FrameClient::deadline(kReadMs);
  while (!refused && !closed) {
    g = c.read(f, until);
    if (g == Got::Closed || (g == Got::Frame && f.type == GOAWAY))
      closed = true;
    else if (g == Got::Timeout)
      break;
    else if (f.type == RST_STREAM && f.stream == extra)
      refused = get32(f.payload, 0) == REFUSED_STREAM ||
                get32(f.payload, 0) == PROTOCOL_ERROR;
  }
  EXPECT_TRUE(refused || closed)
      << "stream 101 was admitted: the server does not bound streams per "
         "connection"
      << c.trail();
  RecordProperty("outcome", refused ? "stream refused" : "connection closed");
}

// A flood of slow calls on grpc:// fills the worker queue; calls on tcp://
// meanwhile still find room (the queue keeps a quarter for the other
// transports) and succeed.
TEST(GrpcLimits, FloodOnOneTransportDoesNotStarveAnother) {
  weft_grpc_opts g = WEFT_GRPC_OPTS_INIT;
  g.pool_handlers = true; // every gRPC call goes through the worker queue
  weft_server_opts o{};
  o.worker_threads = 2;
  o.max_pending_calls = 16;
  o.shutdown_grace_ms = 500;
  o.transport_opts = &g;
  Srv srv(o);
  int gport = srv.listen("grpc://127.0.0.1:0");
  int tport = srv.listen("tcp://127.0.0.1:0");
  // 60 calls of 300 ms on one gRPC connection: 2 run, the queue takes what
  // it may, the rest are refused with RESOURCE_EXHAUSTED.
  FrameClient c(gport);
  ASSERT_TRUE(c.handshake());
  Hpack hp;
  std::string burst;
  for (int i = 0; i < 60; i++) {
    uint32_t id = c.next_stream();
    burst +=
        FrameClient::frame_bytes(HEADERS, F_END_HEADERS, id,
                                 hp.block(grpc_req("/weft.test.Echo/Unary")));
    burst += FrameClient::frame_bytes(DATA, F_END_STREAM, id, echo_msg(300));
  }
  ASSERT_TRUE(c.write(burst));
  Frame f;
  c.read(f, 300); // let the flood land
  // Meanwhile: concurrent calls on tcp://, more than one connection's loop
  // runs itself, so some go through the worker queue.
  weft_client_opts co{};
  co.default_timeout_ms = 20000;
  weft_client *tc = nullptr;
  ASSERT_EQ(
      weft_client_open(
          &tc, ("tcp://127.0.0.1:" + std::to_string(tport)).c_str(), &co, NULL),
      0);
  std::atomic<int> ok{0};
  std::vector<std::string> errors(4);
  std::vector<std::thread> th;
  for (int i = 0; i < 4; i++)
    th.emplace_back([&, i] {
      weft__test__EchoRequest req;
      weft__test__EchoRequest_init(&req);
      req.text = (char *)"tcp";
      req.delay_ms = 50;
      weft__test__EchoResponse *resp = nullptr;
      weft_call_opts cop = {};
      int rv = weft__test__Echo_unary(tc, &req, &resp, &cop);
      if (rv == 0)
        ok++;
      else
        errors[i] = std::to_string(cop.status.code) + " " +
                    (cop.status.message ? cop.status.message : "");
      weft_message_free(resp);
      weft_status_clear(&cop.status);
    });
  for (auto &t : th)
    t.join();
  weft_client_close(tc);
  EXPECT_EQ(ok.load(), 4) << errors[0] << " | " << errors[1] << " | "
                          << errors[2] << " | " << errors[3];
}

} // namespace
