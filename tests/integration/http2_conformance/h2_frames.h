// A raw-frame HTTP/2 client for the conformance suite: a plain blocking
// socket to 127.0.0.1 on which every frame is built byte by byte, so a test
// can send exactly what RFC 9113 says an endpoint must reject (wrong
// lengths, wrong stream ids, broken HPACK blocks, interleaved CONTINUATION)
// and then check what the server answered: GOAWAY with a given error code,
// RST_STREAM on a given stream, a closed connection, a PING ACK.
//
// Header blocks are literal fields without indexing built by hand (they
// leave the server's dynamic table alone, so a case can put anything in
// them); nghttp2's HPACK inflater only decodes what the server sends back.
// Every read has a deadline, so a server that never answers fails the test
// instead of hanging it. With tls = true the same bytes go through OpenSSL
// (ALPN h2, the server's certificate is not checked), for the https://
// listener.
#pragma once

#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace h2conf {

enum : uint8_t {
  DATA = 0x0,
  HEADERS = 0x1,
  PRIORITY = 0x2,
  RST_STREAM = 0x3,
  SETTINGS = 0x4,
  PUSH_PROMISE = 0x5,
  PING = 0x6,
  GOAWAY = 0x7,
  WINDOW_UPDATE = 0x8,
  CONTINUATION = 0x9,
};

enum : uint8_t {
  F_END_STREAM = 0x1,
  F_ACK = 0x1,
  F_END_HEADERS = 0x4,
  F_PADDED = 0x8,
  F_PRIORITY = 0x20,
};

// RFC 9113 section 7.
enum : uint32_t {
  NO_ERROR = 0x0,
  PROTOCOL_ERROR = 0x1,
  INTERNAL_ERROR = 0x2,
  FLOW_CONTROL_ERROR = 0x3,
  SETTINGS_TIMEOUT = 0x4,
  STREAM_CLOSED = 0x5,
  FRAME_SIZE_ERROR = 0x6,
  REFUSED_STREAM = 0x7,
  CANCEL = 0x8,
  COMPRESSION_ERROR = 0x9,
};

// RFC 9113 section 6.5.2.
enum : uint16_t {
  S_HEADER_TABLE_SIZE = 0x1,
  S_ENABLE_PUSH = 0x2,
  S_MAX_CONCURRENT_STREAMS = 0x3,
  S_INITIAL_WINDOW_SIZE = 0x4,
  S_MAX_FRAME_SIZE = 0x5,
  S_MAX_HEADER_LIST_SIZE = 0x6,
};

// Per read: long enough for a loaded 2-core machine under ASan, short
// enough that CTest's TIMEOUT is never what ends a test.
constexpr int kReadMs = 3000;

using Header = std::pair<std::string, std::string>;
using Headers = std::vector<Header>;

inline std::string u8(uint8_t v) {
  return std::string(1, (char)v);
}
inline std::string u16(uint16_t v) {
  return u8(v >> 8) + u8(v & 0xff);
}
inline std::string u24(uint32_t v) {
  return u8((v >> 16) & 0xff) + u16(v & 0xffff);
}
inline std::string u32(uint32_t v) {
  return u16(v >> 16) + u16(v & 0xffff);
}
inline uint32_t get32(const std::string &s, size_t at) {
  return ((uint32_t)(uint8_t)s[at] << 24) |
         ((uint32_t)(uint8_t)s[at + 1] << 16) |
         ((uint32_t)(uint8_t)s[at + 2] << 8) | (uint32_t)(uint8_t)s[at + 3];
}

// ---- HPACK pieces (RFC 7541), built by hand ---------------------------

// An integer with an n-bit prefix (RFC 7541 5.1); `first` carries the
// representation's pattern bits above the prefix.
inline std::string hpack_int(uint8_t first, int n, uint64_t v) {
  uint64_t max = (1u << n) - 1;
  if (v < max)
    return u8((uint8_t)(first | v));
  std::string out = u8((uint8_t)(first | max));
  v -= max;
  while (v >= 128) {
    out += u8((uint8_t)(v % 128 + 128));
    v /= 128;
  }
  return out + u8((uint8_t)v);
}
// A string literal without Huffman coding (RFC 7541 5.2).
inline std::string hpack_str(const std::string &s) {
  return hpack_int(0x00, 7, s.size()) + s;
}
// Literal Header Field without Indexing, new name (RFC 7541 6.2.2).
inline std::string lit(const std::string &name, const std::string &value) {
  return u8(0x00) + hpack_str(name) + hpack_str(value);
}
inline std::string block(const Headers &h) {
  std::string b;
  for (auto &kv : h)
    b += lit(kv.first, kv.second);
  return b;
}

inline const char *kUnary = "/weft.test.Echo/Unary";
inline const char *kServerStream = "/weft.test.Echo/ServerStream";

// A valid request for the Echo service: pseudo-headers first.
inline Headers req(const std::string &path = kUnary,
                   const std::string &ctype = "application/json") {
  return {{":method", "POST"},
          {":scheme", "http"},
          {":path", path},
          {":authority", "127.0.0.1"},
          {"content-type", ctype}};
}

// Connect's 5-byte envelope around one message (streaming calls).
inline std::string envelope(const std::string &m) {
  return u8(0) + u32((uint32_t)m.size()) + m;
}

struct Frame {
  uint32_t length = 0; // as on the wire
  uint8_t type = 0, flags = 0;
  uint32_t stream = 0;
  std::string payload;
  // HEADERS (with its CONTINUATIONs) sent by the server, decoded.
  Headers headers;
  std::string describe() const {
    char b[96];
    snprintf(b, sizeof b, "type=%u flags=0x%x stream=%u len=%u", type, flags,
             stream, length);
    std::string s = b;
    if ((type == GOAWAY && payload.size() >= 8) ||
        (type == RST_STREAM && payload.size() >= 4))
      s += " code=" + std::to_string(get32(payload, type == GOAWAY ? 4 : 0));
    if (type == GOAWAY && payload.size() > 8)
      s += " debug=\"" + payload.substr(8) + "\"";
    return s;
  }
};

struct Response {
  int status = 0;
  Headers headers;
  std::string body;
  bool ended = false; // END_STREAM seen
  uint32_t rst = ~0u; // RST_STREAM code, if reset
};

enum class Got { Frame, Closed, Timeout };
enum class ErrKind { None, Stream, Connection };

class FrameClient {
public:
  explicit FrameClient(int port, bool tls = false) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a = {};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = fd_ >= 0 && connect(fd_, (sockaddr *)&a, sizeof a) == 0;
    nghttp2_hd_inflate_new(&infl_);
    if (ok_ && tls)
      ok_ = tls_connect();
  }
  ~FrameClient() {
    if (ssl_)
      SSL_free(ssl_);
    if (ctx_)
      SSL_CTX_free(ctx_);
    if (fd_ >= 0)
      close(fd_);
    nghttp2_hd_inflate_del(infl_);
  }
  FrameClient(const FrameClient &) = delete;
  FrameClient &operator=(const FrameClient &) = delete;

  bool ok() const {
    return ok_;
  }

  // ---- writing ----------------------------------------------------------

  bool write(const std::string &bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
      ssize_t n =
          ssl_
              ? SSL_write(ssl_, bytes.data() + off,
                          (int)std::min<size_t>(bytes.size() - off, 1 << 20))
              : send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0)
        return false;
      off += (size_t)n;
    }
    return true;
  }
  // A frame whose length field says `length` whatever the payload is.
  static std::string raw_frame(uint32_t length, uint8_t type, uint8_t flags,
                               uint32_t stream, const std::string &payload) {
    return u24(length) + u8(type) + u8(flags) + u32(stream) + payload;
  }
  static std::string frame_bytes(uint8_t type, uint8_t flags, uint32_t stream,
                                 const std::string &payload) {
    return raw_frame((uint32_t)payload.size(), type, flags, stream, payload);
  }
  bool frame(uint8_t type, uint8_t flags, uint32_t stream,
             const std::string &payload) {
    return write(frame_bytes(type, flags, stream, payload));
  }

  bool preface() {
    return write(NGHTTP2_CLIENT_MAGIC);
  }
  static std::string
  settings_payload(const std::vector<std::pair<uint16_t, uint32_t>> &s) {
    std::string p;
    for (auto &e : s)
      p += u16(e.first) + u32(e.second);
    return p;
  }
  bool settings(const std::vector<std::pair<uint16_t, uint32_t>> &s) {
    return frame(SETTINGS, 0, 0, settings_payload(s));
  }
  bool ping(const std::string &data8, bool ack = false) {
    return frame(PING, ack ? F_ACK : 0, 0, data8);
  }
  bool goaway(uint32_t last, uint32_t code, uint32_t stream = 0) {
    return frame(GOAWAY, 0, stream, u32(last) + u32(code));
  }
  bool rst(uint32_t stream, uint32_t code) {
    return frame(RST_STREAM, 0, stream, u32(code));
  }
  bool window_update(uint32_t stream, uint32_t inc) {
    return frame(WINDOW_UPDATE, 0, stream, u32(inc));
  }
  static std::string priority_fields(uint32_t dep, uint8_t weight,
                                     bool excl = false) {
    return u32(dep | (excl ? 0x80000000u : 0)) + u8(weight);
  }
  bool priority(uint32_t stream, uint32_t dep, uint8_t weight = 15) {
    return frame(PRIORITY, 0, stream, priority_fields(dep, weight));
  }
  bool headers(uint32_t stream, const std::string &blk, uint8_t flags) {
    return frame(HEADERS, flags, stream, blk);
  }
  bool data(uint32_t stream, const std::string &d, bool end) {
    return frame(DATA, end ? F_END_STREAM : 0, stream, d);
  }

  // Connection preface: magic, our SETTINGS, then wait until the server's
  // SETTINGS arrived (acknowledged automatically by read()) and ours were
  // acknowledged (RFC 9113 3.4, 6.5.3).
  ::testing::AssertionResult
  handshake(const std::vector<std::pair<uint16_t, uint32_t>> &s = {}) {
    if (!ok_)
      return ::testing::AssertionFailure() << "connect failed";
    if (!preface() || !settings(s))
      return ::testing::AssertionFailure() << "write failed";
    auto until = deadline(kReadMs);
    while (!(got_server_settings_ && settings_acked_ > 0)) {
      Frame f;
      Got g = read(f, until);
      if (g != Got::Frame)
        return ::testing::AssertionFailure()
               << "handshake: " << (g == Got::Closed ? "closed" : "timeout");
      if (f.type == GOAWAY)
        return ::testing::AssertionFailure()
               << "handshake: GOAWAY " << f.describe();
    }
    settings_acked_--;
    return ::testing::AssertionSuccess();
  }

  // ---- reading ----------------------------------------------------------

  using Clock = std::chrono::steady_clock;
  static Clock::time_point deadline(int ms) {
    return Clock::now() + std::chrono::milliseconds(ms);
  }

  // Reads one frame. Server SETTINGS are acknowledged, SETTINGS ACKs
  // counted, WINDOW_UPDATEs tracked and header blocks decoded on the way.
  Got read(Frame &f, Clock::time_point until) {
    for (;;) {
      if (in_.size() >= 9) {
        uint32_t len = ((uint32_t)(uint8_t)in_[0] << 16) |
                       ((uint32_t)(uint8_t)in_[1] << 8) | (uint8_t)in_[2];
        if (in_.size() >= 9 + len) {
          f.length = len;
          f.type = (uint8_t)in_[3];
          f.flags = (uint8_t)in_[4];
          f.stream = get32(in_, 5) & 0x7fffffff;
          f.payload = in_.substr(9, len);
          in_.erase(0, 9 + len);
          on_frame(f);
          seen.push_back(f.describe());
          return Got::Frame;
        }
      }
      if (eof_)
        return Got::Closed;
      int ms = (int)std::chrono::duration_cast<std::chrono::milliseconds>(
                   until - Clock::now())
                   .count();
      if (ms <= 0)
        return Got::Timeout;
      pollfd p = {fd_, POLLIN, 0};
      if (!(ssl_ && SSL_pending(ssl_) > 0) && poll(&p, 1, ms) <= 0)
        return Got::Timeout;
      char buf[16384];
      ssize_t n = ssl_ ? SSL_read(ssl_, buf, sizeof buf)
                       : recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        eof_ = true; // EOF or ECONNRESET: the server closed
        continue;
      }
      in_.append(buf, (size_t)n);
    }
  }
  Got read(Frame &f, int ms = kReadMs) {
    return read(f, deadline(ms));
  }

  // ---- expectations -----------------------------------------------------

  // The server closed the connection (RST or FIN), after whatever frames.
  ::testing::AssertionResult expect_connection_closed(int ms = kReadMs) {
    auto until = deadline(ms);
    for (;;) {
      Frame f;
      Got g = read(f, until);
      if (g == Got::Closed)
        return ::testing::AssertionSuccess();
      if (g == Got::Timeout)
        return ::testing::AssertionFailure()
               << "connection still open" << trail();
    }
  }

  // A connection error (RFC 9113 5.4.1): GOAWAY with `code`, then the
  // connection closes. With goaway_optional, a close without GOAWAY passes
  // too (3.4: an invalid preface).
  ::testing::AssertionResult expect_goaway(uint32_t code,
                                           bool goaway_optional = false) {
    auto until = deadline(kReadMs);
    for (;;) {
      Frame f;
      Got g = read(f, until);
      if (g == Got::Closed) {
        if (goaway_optional)
          return ::testing::AssertionSuccess();
        return ::testing::AssertionFailure()
               << "closed without GOAWAY" << trail();
      }
      if (g == Got::Timeout)
        return ::testing::AssertionFailure() << "no GOAWAY" << trail();
      if (f.type == GOAWAY) {
        if (f.payload.size() < 8 || get32(f.payload, 4) != code)
          return ::testing::AssertionFailure()
                 << "GOAWAY with another code: " << f.describe() << " (want "
                 << code << ")";
        return expect_connection_closed();
      }
    }
  }

  // RST_STREAM on `stream` with `code`; any GOAWAY first is a failure.
  ::testing::AssertionResult expect_rst_stream(uint32_t stream, uint32_t code) {
    auto until = deadline(kReadMs);
    for (;;) {
      Frame f;
      Got g = read(f, until);
      if (g != Got::Frame)
        return ::testing::AssertionFailure()
               << "no RST_STREAM: " << (g == Got::Closed ? "closed" : "timeout")
               << trail();
      if (f.type == GOAWAY)
        return ::testing::AssertionFailure() << "GOAWAY: " << f.describe();
      if (f.type == RST_STREAM && f.stream == stream) {
        if (get32(f.payload, 0) != code)
          return ::testing::AssertionFailure()
                 << "RST_STREAM with another code: " << f.describe()
                 << " (want " << code << ")";
        return ::testing::AssertionSuccess();
      }
    }
  }

  // A stream error of type `code` on `stream` (RFC 9113 5.4.2), which an
  // endpoint MAY escalate to a connection error (5.4.1: "an endpoint MAY
  // choose to treat a stream error as a connection error"): RST_STREAM or
  // GOAWAY, both with `code`. *kind says which one came.
  ::testing::AssertionResult expect_stream_error(uint32_t stream, uint32_t code,
                                                 ErrKind *kind) {
    *kind = ErrKind::None;
    auto until = deadline(kReadMs);
    for (;;) {
      Frame f;
      Got g = read(f, until);
      if (g != Got::Frame)
        return ::testing::AssertionFailure()
               << "no RST_STREAM or GOAWAY: "
               << (g == Got::Closed ? "closed" : "timeout") << trail();
      if (f.type == GOAWAY) {
        *kind = ErrKind::Connection;
        if (get32(f.payload, 4) != code)
          return ::testing::AssertionFailure()
                 << "GOAWAY with another code: " << f.describe();
        return expect_connection_closed();
      }
      if (f.type == RST_STREAM && f.stream == stream) {
        *kind = ErrKind::Stream;
        if (get32(f.payload, 0) != code)
          return ::testing::AssertionFailure()
                 << "RST_STREAM with another code: " << f.describe();
        return ::testing::AssertionSuccess();
      }
    }
  }

  // A PING ACK echoing `data8` (RFC 9113 6.7); other frames are skipped,
  // GOAWAY and close fail.
  ::testing::AssertionResult expect_ping_ack(const std::string &data8) {
    auto until = deadline(kReadMs);
    for (;;) {
      Frame f;
      Got g = read(f, until);
      if (g != Got::Frame)
        return ::testing::AssertionFailure()
               << "no PING ACK: " << (g == Got::Closed ? "closed" : "timeout")
               << trail();
      if (f.type == GOAWAY)
        return ::testing::AssertionFailure() << "GOAWAY: " << f.describe();
      if (f.type == PING) {
        if (!(f.flags & F_ACK))
          return ::testing::AssertionFailure() << "PING without ACK";
        if (f.payload != data8)
          return ::testing::AssertionFailure() << "PING ACK, other payload";
        return ::testing::AssertionSuccess();
      }
    }
  }

  // The connection is still usable: a PING is answered.
  ::testing::AssertionResult expect_alive() {
    static int n = 0;
    std::string d = "alive" + std::to_string(100 + (n++ % 900));
    if (!ping(d))
      return ::testing::AssertionFailure() << "write failed";
    return expect_ping_ack(d);
  }

  // ---- requests ---------------------------------------------------------

  uint32_t next_stream() {
    uint32_t id = next_id_;
    next_id_ += 2;
    return id;
  }
  void set_next_stream(uint32_t id) {
    next_id_ = id;
  }

  // Sends a body on `stream` within the server's flow-control windows,
  // waiting for WINDOW_UPDATEs when they are spent. `pad` >= 0 pads every
  // DATA frame with that many bytes (RFC 9113 6.1; padding counts
  // against flow control).
  ::testing::AssertionResult send_body(uint32_t stream, const std::string &b,
                                       bool end, int pad = -1,
                                       bool conn_window_only = false) {
    size_t off = 0;
    auto until = deadline(kReadMs * 3);
    do {
      int64_t overhead = pad >= 0 ? pad + 1 : 0;
      int64_t room =
          conn_window_only
              ? conn_window_
              : std::min<int64_t>(conn_window_, stream_window(stream));
      room = std::min<int64_t>(room, (int64_t)peer_max_frame_) - overhead;
      size_t left = b.size() - off;
      if (left > 0 && room <= 0) {
        Frame f;
        Got g = read(f, until);
        if (g != Got::Frame)
          return ::testing::AssertionFailure()
                 << "window spent, no WINDOW_UPDATE" << trail();
        if (f.type == GOAWAY || (f.type == RST_STREAM && f.stream == stream))
          return ::testing::AssertionFailure() << f.describe();
        continue;
      }
      size_t n = std::min<size_t>(left, room > 0 ? (size_t)room : 0);
      std::string p;
      uint8_t flags = 0;
      if (pad >= 0) {
        flags |= F_PADDED;
        p = u8((uint8_t)pad) + b.substr(off, n) + std::string(pad, '\0');
      } else {
        p = b.substr(off, n);
      }
      off += n;
      if (end && off == b.size())
        flags |= F_END_STREAM;
      conn_window_ -= (int64_t)p.size();
      stream_windows_[stream] = stream_window(stream) - (int64_t)p.size();
      if (!frame(DATA, flags, stream, p))
        return ::testing::AssertionFailure() << "write failed";
    } while (off < b.size());
    return ::testing::AssertionSuccess();
  }

  // Reads until every stream of `rs` ends (END_STREAM or RST_STREAM),
  // collecting each one's response; returns the window to the server for
  // the DATA it sent (unless auto_window is off).
  ::testing::AssertionResult read_responses(std::map<uint32_t, Response> &rs,
                                            int ms = kReadMs) {
    auto until = deadline(ms);
    size_t open = 0;
    for (auto &kv : rs)
      open += !kv.second.ended && kv.second.rst == ~0u;
    while (open > 0) {
      Frame f;
      Got g = read(f, until);
      if (g != Got::Frame)
        return ::testing::AssertionFailure()
               << open << " response(s) unfinished: "
               << (g == Got::Closed ? "closed" : "timeout") << trail();
      if (f.type == GOAWAY)
        return ::testing::AssertionFailure() << "GOAWAY: " << f.describe();
      auto it = rs.find(f.stream);
      if (it == rs.end() || it->second.ended || it->second.rst != ~0u)
        continue;
      Response &r = it->second;
      if (f.type == RST_STREAM) {
        r.rst = get32(f.payload, 0);
        open--;
        continue;
      }
      if (f.type == HEADERS || f.type == CONTINUATION) {
        for (auto &h : f.headers) {
          if (h.first == ":status")
            r.status = atoi(h.second.c_str());
          r.headers.push_back(h);
        }
      } else if (f.type == DATA) {
        std::string d = f.payload;
        if (f.flags & F_PADDED) {
          size_t padlen = (uint8_t)d[0];
          d = d.substr(1, d.size() - 1 - padlen);
        }
        r.body += d;
        if (auto_window && f.length > 0) {
          window_update(0, f.length);
          if (!(f.flags & F_END_STREAM))
            window_update(f.stream, f.length);
        }
      }
      if (f.flags & F_END_STREAM && (f.type == HEADERS || f.type == DATA)) {
        r.ended = true;
        open--;
      }
    }
    return ::testing::AssertionSuccess();
  }

  ::testing::AssertionResult read_response(uint32_t stream, Response &r,
                                           int ms = kReadMs) {
    std::map<uint32_t, Response> rs;
    rs[stream] = r;
    auto ok = read_responses(rs, ms);
    r = rs[stream];
    return ok;
  }

  // A unary JSON call on a new stream of this connection is answered.
  ::testing::AssertionResult serves() {
    uint32_t id = next_stream();
    std::string body = R"({"text":"still serving"})";
    if (!headers(id, block(req()), F_END_HEADERS) || !data(id, body, true))
      return ::testing::AssertionFailure() << "write failed";
    Response r;
    auto ok = read_response(id, r);
    if (!ok)
      return ok;
    if (r.status != 200 || r.body != body)
      return ::testing::AssertionFailure()
             << "status " << r.status << " rst " << r.rst << " body " << r.body;
    return ::testing::AssertionSuccess();
  }

  std::string trail() const {
    std::string s = " (frames read:";
    size_t from = seen.size() > 12 ? seen.size() - 12 : 0;
    for (size_t i = from; i < seen.size(); i++)
      s += " [" + seen[i] + "]";
    return s + ")";
  }

  bool auto_window = true;
  bool auto_settings_ack = true;
  int settings_acked_ = 0;  // SETTINGS ACKs not yet waited for
  bool hpack_error = false; // the server's header block did not decode
  uint32_t peer_max_frame_ = 16384;
  uint32_t max_frame_len_seen = 0; // longest frame the server sent
  std::map<uint16_t, uint32_t> peer_settings;
  std::vector<std::string> seen; // every frame read, described
  nghttp2_hd_inflater *inflater() {
    return infl_;
  }

private:
  bool tls_connect() {
    signal(SIGPIPE, SIG_IGN); // SSL_write to a closed socket
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (!ctx_)
      return false;
    static const unsigned char alpn[] = {2, 'h', '2'};
    SSL_CTX_set_alpn_protos(ctx_, alpn, sizeof alpn);
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    if (SSL_connect(ssl_) != 1)
      return false;
    const unsigned char *proto = nullptr;
    unsigned len = 0;
    SSL_get0_alpn_selected(ssl_, &proto, &len);
    return len == 2 && memcmp(proto, "h2", 2) == 0;
  }

  int64_t stream_window(uint32_t id) {
    auto it = stream_windows_.find(id);
    return it == stream_windows_.end() ? peer_initial_window_ : it->second;
  }

  void on_frame(Frame &f) {
    if (f.length > max_frame_len_seen)
      max_frame_len_seen = f.length;
    switch (f.type) {
    case SETTINGS:
      if (f.flags & F_ACK) {
        settings_acked_++;
        break;
      }
      got_server_settings_ = true;
      for (size_t i = 0; i + 6 <= f.payload.size(); i += 6) {
        uint16_t id = (uint16_t)(((uint8_t)f.payload[i] << 8) |
                                 (uint8_t)f.payload[i + 1]);
        uint32_t v = get32(f.payload, i + 2);
        peer_settings[id] = v;
        if (id == S_INITIAL_WINDOW_SIZE) {
          for (auto &w : stream_windows_)
            w.second += (int64_t)v - peer_initial_window_;
          peer_initial_window_ = v;
        } else if (id == S_MAX_FRAME_SIZE) {
          peer_max_frame_ = v;
        }
      }
      if (auto_settings_ack)
        frame(SETTINGS, F_ACK, 0, "");
      break;
    case WINDOW_UPDATE:
      if (f.payload.size() == 4) {
        uint32_t inc = get32(f.payload, 0) & 0x7fffffff;
        if (f.stream == 0)
          conn_window_ += inc;
        else
          stream_windows_[f.stream] = stream_window(f.stream) + inc;
      }
      break;
    case HEADERS:
    case CONTINUATION: {
      std::string p = f.payload;
      if (f.type == HEADERS) {
        size_t off = 0, padlen = 0;
        if (f.flags & F_PADDED && !p.empty()) {
          padlen = (uint8_t)p[0];
          off = 1;
        }
        if (f.flags & F_PRIORITY)
          off += 5;
        p = off + padlen <= p.size() ? p.substr(off, p.size() - off - padlen)
                                     : "";
        hblock_.clear();
      }
      hblock_ += p;
      if (f.flags & F_END_HEADERS) {
        f.headers = inflate(hblock_);
        hblock_.clear();
      }
      break;
    }
    default:
      break;
    }
  }

  Headers inflate(const std::string &b) {
    Headers out;
    const uint8_t *in = (const uint8_t *)b.data();
    size_t left = b.size();
    for (;;) {
      nghttp2_nv nv;
      int fl = 0;
      ssize_t n = nghttp2_hd_inflate_hd2(infl_, &nv, &fl, in, left, 1);
      if (n < 0) {
        hpack_error = true;
        return out;
      }
      in += n;
      left -= (size_t)n;
      if (fl & NGHTTP2_HD_INFLATE_EMIT)
        out.push_back({std::string((char *)nv.name, nv.namelen),
                       std::string((char *)nv.value, nv.valuelen)});
      if (fl & NGHTTP2_HD_INFLATE_FINAL) {
        nghttp2_hd_inflate_end_headers(infl_);
        return out;
      }
      if (n == 0 && left == 0) {
        hpack_error = true; // truncated block
        return out;
      }
    }
  }

  int fd_ = -1;
  SSL_CTX *ctx_ = nullptr;
  SSL *ssl_ = nullptr;
  bool ok_ = false;
  bool eof_ = false;
  std::string in_;
  std::string hblock_;
  nghttp2_hd_inflater *infl_ = nullptr;
  bool got_server_settings_ = false;
  uint32_t next_id_ = 1;
  int64_t conn_window_ = 65535;
  int64_t peer_initial_window_ = 65535;
  std::map<uint32_t, int64_t> stream_windows_;
};

// A fresh connection is served: after a connection error the server goes
// on serving everybody else.
inline ::testing::AssertionResult fresh_connection_serves(int port,
                                                          bool tls = false) {
  FrameClient c(port, tls);
  auto ok = c.handshake();
  if (!ok)
    return ok;
  return c.serves();
}

} // namespace h2conf
