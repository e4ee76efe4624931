// A small HTTP/2 client on nghttp2 with a blocking socket, for tests that
// must misbehave in ways a well-behaved client (curl, weft's) never does:
// reset a stream mid-message, stop reading, open more streams than the
// server allows, send headers over its limit.
#pragma once

#include <nghttp2/nghttp2.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace h2test {

struct RawStream {
  int status = 0;
  std::map<std::string, std::string> headers; // response headers (last wins)
  std::string body;
  bool closed = false;
  uint32_t error = 0; // RST_STREAM code (or close code)
  // Request body still to send; the data provider defers while it is empty
  // and eof is false.
  std::string out;
  bool eof = false;
};

class RawH2 {
public:
  // auto_window = false: the client never returns flow-control credit, like
  // a peer that stopped reading.
  explicit RawH2(int port, bool auto_window = true) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a = {};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = connect(fd_, (sockaddr *)&a, sizeof a) == 0;
    nghttp2_session_callbacks *cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame);
    nghttp2_option *opt;
    nghttp2_option_new(&opt);
    if (!auto_window)
      nghttp2_option_set_no_auto_window_update(opt, 1);
    // nghttp2 assumes 100 until the server's SETTINGS arrive; tests that
    // exceed the server's limit must not be held back by their own client.
    nghttp2_option_set_peer_max_concurrent_streams(opt, 1000);
    nghttp2_session_client_new2(&ses_, cb, this, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    nghttp2_submit_settings(ses_, NGHTTP2_FLAG_NONE, nullptr, 0);
    // A stalled stream should spend its own window, not the connection's.
    if (!auto_window)
      nghttp2_session_set_local_window_size(ses_, NGHTTP2_FLAG_NONE, 0,
                                            16 << 20);
  }
  ~RawH2() {
    nghttp2_session_del(ses_);
    if (fd_ >= 0)
      close(fd_);
  }
  bool ok() const {
    return ok_;
  }
  nghttp2_session *session() {
    return ses_;
  }

  // A POST; body_end = false keeps the request body open (send_data).
  int32_t request(const std::string &path, const std::string &ctype,
                  const std::string &body, bool body_end = true,
                  std::vector<std::pair<std::string, std::string>> extra = {}) {
    std::vector<std::pair<std::string, std::string>> h = {
        {":method", "POST"},
        {":scheme", "http"},
        {":authority", "127.0.0.1"},
        {":path", path},
        {"content-type", ctype}};
    for (auto &e : extra)
      h.push_back(e);
    std::vector<nghttp2_nv> nv;
    for (auto &p : h)
      nv.push_back({(uint8_t *)p.first.data(), (uint8_t *)p.second.data(),
                    p.first.size(), p.second.size(), NGHTTP2_NV_FLAG_NONE});
    nghttp2_data_provider dp;
    dp.read_callback = read_body;
    int32_t id = nghttp2_submit_request(ses_, nullptr, nv.data(), nv.size(),
                                        &dp, nullptr);
    if (id > 0) {
      streams[id].out = body;
      streams[id].eof = body_end;
    }
    return id;
  }
  void send_data(int32_t id, const std::string &more, bool end) {
    streams[id].out += more;
    streams[id].eof = end;
    nghttp2_session_resume_data(ses_, id);
  }
  void reset(int32_t id, uint32_t code = NGHTTP2_CANCEL) {
    nghttp2_submit_rst_stream(ses_, NGHTTP2_FLAG_NONE, id, code);
  }

  // Writes what nghttp2 has, reads what arrives, until done() or the time
  // bound (a safety net, not an assertion) or the connection ends.
  bool pump(const std::function<bool()> &done, int max_ms = 10000) {
    auto end =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(max_ms);
    for (;;) {
      if (!flush())
        return done();
      if (done())
        return true;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      end - std::chrono::steady_clock::now())
                      .count();
      if (left <= 0)
        return false;
      pollfd p = {fd_, POLLIN, 0};
      if (poll(&p, 1, (int)std::min<long>(left, 50)) > 0) {
        uint8_t buf[16384];
        ssize_t n = recv(fd_, buf, sizeof buf, 0);
        if (n <= 0) {
          eof = true;
          return done();
        }
        if (nghttp2_session_mem_recv(ses_, buf, (size_t)n) < 0) {
          eof = true;
          return done();
        }
      }
    }
  }
  bool pump_for(int ms) {
    return pump([] { return false; }, ms) || !eof;
  }

  std::map<int32_t, RawStream> streams;
  bool eof = false;
  bool goaway = false;

private:
  bool flush() {
    for (;;) {
      const uint8_t *d;
      ssize_t n = nghttp2_session_mem_send(ses_, &d);
      if (n < 0)
        return false;
      if (n == 0)
        return true;
      for (ssize_t off = 0; off < n;) {
        ssize_t w = send(fd_, d + off, (size_t)(n - off), MSG_NOSIGNAL);
        if (w <= 0)
          return false;
        off += w;
      }
    }
  }
  static ssize_t read_body(nghttp2_session *, int32_t id, uint8_t *buf,
                           size_t len, uint32_t *flags, nghttp2_data_source *,
                           void *ud) {
    auto *self = static_cast<RawH2 *>(ud);
    RawStream &s = self->streams[id];
    if (s.out.empty() && !s.eof)
      return NGHTTP2_ERR_DEFERRED;
    size_t n = std::min(len, s.out.size());
    memcpy(buf, s.out.data(), n);
    s.out.erase(0, n);
    if (s.out.empty() && s.eof)
      *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
  }
  static int on_header(nghttp2_session *, const nghttp2_frame *f,
                       const uint8_t *name, size_t nlen, const uint8_t *value,
                       size_t vlen, uint8_t, void *ud) {
    auto *self = static_cast<RawH2 *>(ud);
    if (nlen == 7 && memcmp(name, ":status", 7) == 0)
      self->streams[f->hd.stream_id].status =
          atoi(std::string((const char *)value, vlen).c_str());
    self->streams[f->hd.stream_id]
        .headers[std::string((const char *)name, nlen)] =
        std::string((const char *)value, vlen);
    return 0;
  }
  static int on_data(nghttp2_session *, uint8_t, int32_t id,
                     const uint8_t *data, size_t len, void *ud) {
    static_cast<RawH2 *>(ud)->streams[id].body.append((const char *)data, len);
    return 0;
  }
  static int on_close(nghttp2_session *, int32_t id, uint32_t code, void *ud) {
    auto &s = static_cast<RawH2 *>(ud)->streams[id];
    s.closed = true;
    s.error = code;
    return 0;
  }
  static int on_frame(nghttp2_session *, const nghttp2_frame *f, void *ud) {
    if (f->hd.type == NGHTTP2_GOAWAY)
      static_cast<RawH2 *>(ud)->goaway = true;
    return 0;
  }

  int fd_ = -1;
  bool ok_ = false;
  nghttp2_session *ses_ = nullptr;
};

// The 5-byte Connect envelope around a message.
inline std::string envelope(const std::string &msg, uint8_t flags = 0,
                            long claimed = -1) {
  uint32_t n = claimed >= 0 ? (uint32_t)claimed : (uint32_t)msg.size();
  std::string e(5, '\0');
  e[0] = (char)flags;
  e[1] = (char)(n >> 24);
  e[2] = (char)(n >> 16);
  e[3] = (char)(n >> 8);
  e[4] = (char)n;
  return e + msg;
}

} // namespace h2test
