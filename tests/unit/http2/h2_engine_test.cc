// The HTTP/2 server engine (transports/http2/h2_engine.h) without sockets or
// threads: a client nghttp2 session (or hand-built frames) on the other end
// of a byte pipe, the engine's events recorded, time passed in by hand.
#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

extern "C" {
#include "h2_engine.h"
}

namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

const char kPreface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
constexpr int64_t kStart = 1000000000;

// What the engine told us about one stream, and the response we give it.
struct SStream {
  int32_t id = 0;
  Fields fields;
  bool too_large = false, end_on_headers = false;
  std::string body;
  bool ended = false, closed = false;
  uint32_t code = 0;
  size_t uncredited = 0;
  // Response body handed out by read_data.
  std::string out;
  size_t out_off = 0;
  bool out_end = false;
  Fields trailers; // sent after the body when not empty
};

// What the client session saw on one stream.
struct CStream {
  Fields headers, trailers;
  std::string body;
  bool closed = false;
  uint32_t code = 0;
};

struct Pipe {
  weft__h2e *e = nullptr;
  nghttp2_session *cli = nullptr;
  std::map<int32_t, std::unique_ptr<SStream>> ss;
  std::map<int32_t, CStream> cs;
  std::vector<weft_error> conn_errors;
  std::vector<std::pair<int32_t, uint32_t>> goaways; // server heard
  std::vector<uint32_t> client_goaways;              // client heard
  bool hold_credit = false;    // the server does not return window
  bool answer_in_open = false; // stream_open itself answers 431, no body
  size_t chunk = 0;            // feed the engine this many bytes at a time
  int64_t now = kStart;
  ssize_t feed_rv = 0;

  explicit Pipe(const weft__h2e_cfg *cfg = nullptr, bool with_client = true,
                uint32_t client_window = 0) {
    static const weft__h2e_events ev = {on_open,      on_data,   on_end,
                                        on_closed,    read_data, on_goaway,
                                        on_conn_error};
    weft__h2e_cfg c = cfg ? *cfg : weft__h2e_cfg{};
    c.start_ns = kStart;
    EXPECT_EQ(0, weft__h2e_new(&e, &c, &ev, this));
    if (!with_client)
      return;
    nghttp2_session_callbacks *cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_header_callback(cb, c_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, c_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, c_close);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, c_frame);
    nghttp2_option *opt;
    nghttp2_option_new(&opt);
    nghttp2_option_set_no_auto_window_update(opt, client_window ? 1 : 0);
    nghttp2_session_client_new2(&cli, cb, this, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    nghttp2_settings_entry iv[1] = {{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE,
                                     client_window ? client_window : 65535}};
    nghttp2_submit_settings(cli, NGHTTP2_FLAG_NONE, iv, 1);
  }
  ~Pipe() {
    weft__h2e_free(e);
    nghttp2_session_del(cli);
  }

  // ---- engine events
  static void *on_open(void *ud, const weft__h2e_request *rq) {
    Pipe *p = static_cast<Pipe *>(ud);
    auto s = std::make_unique<SStream>();
    s->id = rq->id;
    for (size_t i = 0; i < rq->nfields; i++)
      s->fields.emplace_back(
          std::string(rq->fields[i].name, rq->fields[i].nlen),
          std::string((const char *)rq->fields[i].value, rq->fields[i].vlen));
    s->too_large = rq->too_large;
    s->end_on_headers = rq->end_stream;
    SStream *raw = s.get();
    p->ss[rq->id] = std::move(s);
    if (p->answer_in_open) {
      weft__h2e_nv nv[] = {{":status", (const uint8_t *)"431", 7, 3}};
      EXPECT_EQ(0, weft__h2e_submit_response(p->e, rq->id, nv, 1, false));
    }
    return raw;
  }
  static int on_data(void *ud, void *st, const uint8_t *d, size_t n) {
    Pipe *p = static_cast<Pipe *>(ud);
    SStream *s = static_cast<SStream *>(st);
    s->body.append((const char *)d, n);
    if (p->hold_credit)
      s->uncredited += n;
    else
      weft__h2e_credit(p->e, s->id, n);
    return 0;
  }
  static void on_end(void *, void *st) {
    static_cast<SStream *>(st)->ended = true;
  }
  static void on_closed(void *, void *st, uint32_t code) {
    SStream *s = static_cast<SStream *>(st);
    s->closed = true;
    s->code = code;
  }
  static ssize_t read_data(void *ud, void *st, uint8_t *buf, size_t cap,
                           uint32_t *flags) {
    Pipe *p = static_cast<Pipe *>(ud);
    SStream *s = static_cast<SStream *>(st);
    size_t avail = s->out.size() - s->out_off;
    if (avail == 0 && !s->out_end)
      return WEFT__H2E_DEFER;
    size_t n = avail < cap ? avail : cap;
    memcpy(buf, s->out.data() + s->out_off, n);
    s->out_off += n;
    if (s->out_off == s->out.size() && s->out_end) {
      *flags |= WEFT__H2E_EOF;
      if (!s->trailers.empty()) {
        *flags |= WEFT__H2E_NO_END_STREAM;
        std::vector<weft__h2e_nv> nv = to_nv(s->trailers);
        EXPECT_EQ(0,
                  weft__h2e_submit_trailers(p->e, s->id, nv.data(), nv.size()));
      }
    }
    return (ssize_t)n;
  }
  static void on_goaway(void *ud, int32_t last, uint32_t code) {
    static_cast<Pipe *>(ud)->goaways.emplace_back(last, code);
  }
  static void on_conn_error(void *ud, const weft_error *why) {
    static_cast<Pipe *>(ud)->conn_errors.push_back(*why);
  }

  // ---- client callbacks
  static int c_header(nghttp2_session *, const nghttp2_frame *f,
                      const uint8_t *n, size_t nl, const uint8_t *v, size_t vl,
                      uint8_t, void *ud) {
    Pipe *p = static_cast<Pipe *>(ud);
    CStream &c = p->cs[f->hd.stream_id];
    Fields &dst =
        f->headers.cat == NGHTTP2_HCAT_HEADERS ? c.trailers : c.headers;
    dst.emplace_back(std::string((const char *)n, nl),
                     std::string((const char *)v, vl));
    return 0;
  }
  static int c_data(nghttp2_session *, uint8_t, int32_t id, const uint8_t *d,
                    size_t n, void *ud) {
    static_cast<Pipe *>(ud)->cs[id].body.append((const char *)d, n);
    return 0;
  }
  static int c_close(nghttp2_session *, int32_t id, uint32_t code, void *ud) {
    CStream &c = static_cast<Pipe *>(ud)->cs[id];
    c.closed = true;
    c.code = code;
    return 0;
  }
  static int c_frame(nghttp2_session *, const nghttp2_frame *f, void *ud) {
    if (f->hd.type == NGHTTP2_GOAWAY)
      static_cast<Pipe *>(ud)->client_goaways.push_back(f->goaway.error_code);
    return 0;
  }

  static std::vector<weft__h2e_nv> to_nv(const Fields &f) {
    std::vector<weft__h2e_nv> nv;
    for (auto &kv : f)
      nv.push_back({kv.first.c_str(), (const uint8_t *)kv.second.data(),
                    kv.first.size(), kv.second.size()});
    return nv;
  }

  // ---- the pipe
  // Feeds raw bytes to the engine in `chunk`-sized pieces.
  void feed(const std::string &b) {
    size_t step = chunk ? chunk : b.size();
    for (size_t off = 0; off < b.size() && feed_rv >= 0; off += step) {
      size_t n = std::min(step, b.size() - off);
      weft_error err{};
      feed_rv =
          weft__h2e_feed(e, (const uint8_t *)b.data() + off, n, now, &err);
      if (feed_rv >= 0)
        EXPECT_EQ((ssize_t)n, feed_rv);
    }
  }
  // Everything the engine has to write.
  std::string drain() {
    std::string out;
    for (;;) {
      size_t n = 0;
      weft_error err{};
      const uint8_t *p = weft__h2e_output(e, &n, &err);
      if (!p || n == 0)
        return out;
      out.append((const char *)p, n);
      weft__h2e_output_done(e, n);
    }
  }
  // Moves bytes both ways until neither side has anything to say.
  void pump() {
    for (int round = 0; round < 1000; round++) {
      bool moved = false;
      const uint8_t *d;
      ssize_t n;
      std::string c2s;
      while ((n = nghttp2_session_mem_send(cli, &d)) > 0)
        c2s.append((const char *)d, (size_t)n);
      if (!c2s.empty()) {
        feed(c2s);
        moved = true;
      }
      std::string s2c = drain();
      if (!s2c.empty()) {
        EXPECT_EQ((ssize_t)s2c.size(),
                  nghttp2_session_mem_recv(cli, (const uint8_t *)s2c.data(),
                                           s2c.size()));
        moved = true;
      }
      if (!moved)
        return;
    }
    ADD_FAILURE() << "the pipe never went quiet";
  }

  int32_t request(const Fields &extra, const std::string *body,
                  bool end = true) {
    Fields f = {{":method", "POST"},
                {":scheme", "http"},
                {":authority", "127.0.0.1"},
                {":path", "/pkg.Svc/Method"}};
    f.insert(f.end(), extra.begin(), extra.end());
    std::vector<nghttp2_nv> nv;
    for (auto &kv : f)
      nv.push_back({(uint8_t *)kv.first.c_str(), (uint8_t *)kv.second.c_str(),
                    kv.first.size(), kv.second.size(), NGHTTP2_NV_FLAG_NONE});
    if (!body)
      return nghttp2_submit_request(cli, nullptr, nv.data(), nv.size(), nullptr,
                                    nullptr);
    req_body = *body;
    req_end = end;
    nghttp2_data_provider dp;
    dp.source.ptr = this;
    dp.read_callback = c_read;
    return nghttp2_submit_request(cli, nullptr, nv.data(), nv.size(), &dp,
                                  nullptr);
  }
  std::string req_body;
  bool req_end = true;
  static ssize_t c_read(nghttp2_session *, int32_t, uint8_t *buf, size_t len,
                        uint32_t *flags, nghttp2_data_source *, void *ud) {
    Pipe *p = static_cast<Pipe *>(ud);
    size_t n = std::min(len, p->req_body.size());
    memcpy(buf, p->req_body.data(), n);
    p->req_body.erase(0, n);
    if (p->req_body.empty()) {
      if (!p->req_end)
        return n ? (ssize_t)n : NGHTTP2_ERR_DEFERRED;
      *flags |= NGHTTP2_DATA_FLAG_EOF;
    }
    return (ssize_t)n;
  }

  void respond(int32_t id, const std::string &body, bool end = true,
               const Fields &trailers = {}) {
    SStream &s = *ss.at(id);
    s.out += body;
    s.out_end = end;
    s.trailers = trailers;
    Fields h = {{":status", "200"}, {"content-type", "application/proto"}};
    std::vector<weft__h2e_nv> nv = to_nv(h);
    ASSERT_EQ(0, weft__h2e_submit_response(e, id, nv.data(), nv.size(), true));
  }
};

std::string field(const Fields &f, const std::string &name) {
  for (auto &kv : f)
    if (kv.first == name)
      return kv.second;
  return "<none>";
}

// ---- hand-built frames (RFC 9113 4.1) ----------------------------------

std::string frame(uint8_t type, uint8_t flags, uint32_t id,
                  const std::string &payload) {
  std::string f;
  size_t n = payload.size();
  f += (char)(n >> 16);
  f += (char)(n >> 8);
  f += (char)n;
  f += (char)type;
  f += (char)flags;
  f += (char)(id >> 24);
  f += (char)(id >> 16);
  f += (char)(id >> 8);
  f += (char)id;
  return f + payload;
}

// HPACK literal without indexing, short strings, no Huffman (RFC 7541 6.2.2).
std::string lit(const std::string &n, const std::string &v) {
  std::string b;
  b += '\0';
  b += (char)n.size();
  b += n;
  b += (char)v.size();
  b += v;
  return b;
}

// A minimal request block: :method POST (static 3), :scheme http (6),
// :path / (4) and :authority.
std::string req_block() {
  return std::string("\x83\x86\x84", 3) + lit(":authority", "a");
}

std::string client_start() {
  return std::string(kPreface, sizeof kPreface - 1) +
         frame(NGHTTP2_SETTINGS, 0, 0, "");
}

// The GOAWAY error codes in a server's output.
std::vector<uint32_t> goaway_codes(const std::string &out) {
  std::vector<uint32_t> codes;
  size_t off = 0;
  while (off + 9 <= out.size()) {
    const uint8_t *h = (const uint8_t *)out.data() + off;
    size_t len = (size_t)h[0] << 16 | (size_t)h[1] << 8 | h[2];
    if (off + 9 + len > out.size())
      break;
    if (h[3] == NGHTTP2_GOAWAY && len >= 8) {
      const uint8_t *p = h + 9 + 4;
      codes.push_back((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
                      (uint32_t)p[2] << 8 | p[3]);
    }
    off += 9 + len;
  }
  return codes;
}

// ---- request and response --------------------------------------------

void request_response(size_t chunk) {
  Pipe p;
  p.chunk = chunk;
  std::string body = "hello";
  int32_t id = p.request(
      {{"content-type", "application/proto"}, {"x-trace", "abc"}}, &body);
  ASSERT_GT(id, 0);
  p.pump();
  ASSERT_EQ(1u, p.ss.count(id));
  SStream &s = *p.ss[id];
  EXPECT_EQ("POST", field(s.fields, ":method"));
  EXPECT_EQ("/pkg.Svc/Method", field(s.fields, ":path"));
  EXPECT_EQ("abc", field(s.fields, "x-trace"));
  EXPECT_FALSE(s.end_on_headers);
  EXPECT_EQ("hello", s.body);
  EXPECT_TRUE(s.ended);
  EXPECT_FALSE(s.closed);
  EXPECT_TRUE(weft__h2e_ready(p.e));

  p.respond(id, "world");
  p.pump();
  EXPECT_EQ("200", field(p.cs[id].headers, ":status"));
  EXPECT_EQ("world", p.cs[id].body);
  EXPECT_TRUE(p.cs[id].closed);
  EXPECT_EQ(0u, p.cs[id].code);
  EXPECT_TRUE(s.closed);
  EXPECT_EQ(0u, s.code);
  EXPECT_TRUE(p.conn_errors.empty());
}

TEST(H2Engine, RequestResponse) {
  request_response(0);
}

// The same conversation with the client's bytes fed one at a time and in
// odd chunks: every parser state boundary is crossed.
TEST(H2Engine, RequestResponseAnyChunking) {
  for (size_t chunk : {1, 2, 7, 9, 64}) {
    SCOPED_TRACE(chunk);
    request_response(chunk);
  }
}

TEST(H2Engine, GetEndsOnHeadersAndTrailersEndTheResponse) {
  Pipe p;
  int32_t id = p.request({}, nullptr);
  p.pump();
  SStream &s = *p.ss.at(id);
  EXPECT_TRUE(s.end_on_headers);
  EXPECT_TRUE(s.ended);
  p.respond(id, "abc", true, {{"grpc-status", "0"}});
  p.pump();
  EXPECT_EQ("abc", p.cs[id].body);
  EXPECT_EQ("0", field(p.cs[id].trailers, "grpc-status"));
  EXPECT_TRUE(p.cs[id].closed);
}

// Headers-only response (no body): the HEADERS frame ends the stream.
TEST(H2Engine, ResponseWithoutBody) {
  Pipe p;
  int32_t id = p.request({}, nullptr);
  p.pump();
  weft__h2e_nv nv[] = {{":status", (const uint8_t *)"204", 7, 3}};
  ASSERT_EQ(0, weft__h2e_submit_response(p.e, id, nv, 1, false));
  p.pump();
  EXPECT_EQ("204", field(p.cs[id].headers, ":status"));
  EXPECT_TRUE(p.cs[id].closed);
  EXPECT_TRUE(p.ss[id]->closed);
  // A stream the engine no longer has is refused.
  EXPECT_EQ(WEFT_ERR_INVAL, weft__h2e_submit_response(p.e, id, nv, 1, false));
}

// A request refused on its headers is answered from inside stream_open
// (the glue's early errors); its body is then only drained.
TEST(H2Engine, AnswerFromInsideStreamOpen) {
  Pipe p;
  p.answer_in_open = true;
  std::string body = "ignored";
  int32_t id = p.request({}, &body);
  p.pump();
  EXPECT_EQ("431", field(p.cs[id].headers, ":status"));
  EXPECT_TRUE(p.cs[id].closed);
  EXPECT_TRUE(p.ss.at(id)->closed);
  EXPECT_TRUE(p.conn_errors.empty());
}

// ---- flow control ---------------------------------------------------------

// Server streaming into a client whose stream window is 1,000 bytes and who
// returns window only when told: the engine's output stops when the window
// is spent (read_data is not asked for more), and each WINDOW_UPDATE lets
// exactly that much more through.
TEST(H2Engine, ServerStreamingWaitsForWindowUpdate) {
  Pipe p(nullptr, true, 1000);
  int32_t id = p.request({}, nullptr);
  p.pump();
  std::string big(5000, 'x');
  for (size_t i = 0; i < big.size(); i++)
    big[i] = (char)('a' + i % 26);
  p.respond(id, big, false); // the handler keeps the stream open
  p.pump();
  EXPECT_EQ(1000u, p.cs[id].body.size());
  EXPECT_EQ(1000u, p.ss[id]->out_off); // nothing read beyond the window
  p.pump();
  EXPECT_EQ(1000u, p.cs[id].body.size()); // still waiting

  size_t got = 1000;
  while (got < big.size()) {
    nghttp2_session_consume(p.cli, id, 1000); // WINDOW_UPDATE(1000)
    p.pump();
    size_t now = p.cs[id].body.size();
    EXPECT_EQ(std::min(got + 1000, big.size()), now);
    got = now;
  }
  EXPECT_EQ(big, p.cs[id].body);
  EXPECT_FALSE(p.cs[id].closed);
  // The handler ends the stream: resume the deferred body.
  p.ss[id]->out_end = true;
  EXPECT_EQ(0, weft__h2e_resume(p.e, id));
  nghttp2_session_consume(p.cli, id, 1000);
  p.pump();
  EXPECT_TRUE(p.cs[id].closed);
}

// A body that arrives while read_data has nothing waits (DEFER) until
// weft__h2e_resume.
TEST(H2Engine, DeferredBodyResumes) {
  Pipe p;
  int32_t id = p.request({}, nullptr);
  p.pump();
  p.respond(id, "", false);
  p.pump();
  EXPECT_EQ("200", field(p.cs[id].headers, ":status"));
  EXPECT_EQ("", p.cs[id].body);
  p.ss[id]->out = "later";
  p.ss[id]->out_end = true;
  p.pump();
  EXPECT_EQ("", p.cs[id].body); // not resumed: not asked
  weft__h2e_resume(p.e, id);
  p.pump();
  EXPECT_EQ("later", p.cs[id].body);
  EXPECT_TRUE(p.cs[id].closed);
}

// The server holds the request's window: the client stops at the stream
// window (1 KiB here); crediting lets the rest through.
TEST(H2Engine, RequestWindowReturnedOnlyByCredit) {
  weft__h2e_cfg cfg{};
  cfg.stream_window = 1024;
  Pipe p(&cfg);
  p.pump(); // the client learns the window (before, it may send 64 KiB)
  p.hold_credit = true;
  std::string body(4096, 'q');
  int32_t id = p.request({}, &body);
  p.pump();
  SStream &s = *p.ss.at(id);
  EXPECT_EQ(1024u, s.body.size());
  EXPECT_FALSE(s.ended);
  p.hold_credit = false;
  while (!s.ended) {
    size_t before = s.body.size();
    weft__h2e_credit(p.e, id, s.uncredited);
    s.uncredited = 0;
    p.pump();
    ASSERT_GT(s.body.size(), before);
  }
  EXPECT_EQ(body, s.body);
}

// ---- resets and GOAWAY ---------------------------------------------------

TEST(H2Engine, ClientResetClosesTheStreamWithItsCode) {
  Pipe p;
  std::string body = "part";
  int32_t id = p.request({}, &body, false);
  p.pump();
  ASSERT_EQ(1u, p.ss.count(id));
  EXPECT_EQ("part", p.ss[id]->body);
  nghttp2_submit_rst_stream(p.cli, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
  p.pump();
  EXPECT_TRUE(p.ss[id]->closed);
  EXPECT_EQ((uint32_t)NGHTTP2_CANCEL, p.ss[id]->code);
  EXPECT_FALSE(p.ss[id]->ended);
  // A response to a reset stream is refused, and the connection lives on.
  weft__h2e_nv nv[] = {{":status", (const uint8_t *)"200", 7, 3}};
  EXPECT_EQ(WEFT_ERR_INVAL, weft__h2e_submit_response(p.e, id, nv, 1, false));
  int32_t id2 = p.request({}, nullptr);
  p.pump();
  EXPECT_TRUE(p.ss.count(id2));
  EXPECT_TRUE(p.conn_errors.empty());
}

// Window held for a reset stream goes back to the connection: many such
// streams do not starve the connection window.
TEST(H2Engine, ResetStreamsGiveTheirWindowBack) {
  weft__h2e_cfg cfg{};
  cfg.conn_window = 65535;
  Pipe p(&cfg);
  p.hold_credit = true;
  for (int i = 0; i < 10; i++) {
    std::string body(30000, 'z');
    int32_t id = p.request({}, &body, false);
    p.pump();
    ASSERT_EQ(30000u, p.ss.at(id)->body.size()) << "stream " << i;
    nghttp2_submit_rst_stream(p.cli, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    p.pump();
  }
}

TEST(H2Engine, ServerResetReachesTheClient) {
  Pipe p;
  int32_t id = p.request({}, nullptr);
  p.pump();
  EXPECT_EQ(0, weft__h2e_submit_rst(p.e, id, WEFT__H2E_INTERNAL_ERROR));
  p.pump();
  EXPECT_TRUE(p.cs[id].closed);
  EXPECT_EQ((uint32_t)NGHTTP2_INTERNAL_ERROR, p.cs[id].code);
  EXPECT_TRUE(p.ss[id]->closed);
  EXPECT_EQ((uint32_t)NGHTTP2_INTERNAL_ERROR, p.ss[id]->code);
}

// Closed stream records are reused: a record that held a large header
// block (over the inline array) or a flagged one starts clean for the next
// stream, over more rounds than the engine keeps spare records for.
TEST(H2Engine, StreamRecordsAreReusedClean) {
  Pipe p;
  for (int round = 0; round < 3; round++) {
    std::vector<int32_t> ids;
    for (int i = 0; i < 20; i++) {
      Fields f = {{"x-n", std::to_string(round * 100 + i)}};
      for (int k = 0; i % 2 && k < 40; k++)
        f.emplace_back("x-f" + std::to_string(k), std::to_string(k));
      ids.push_back(p.request(f, nullptr));
    }
    p.pump();
    for (int i = 0; i < 20; i++) {
      SStream &s = *p.ss.at(ids[i]);
      EXPECT_EQ(i % 2 ? 45u : 5u, s.fields.size()) << round << " " << i;
      EXPECT_EQ(std::to_string(round * 100 + i), field(s.fields, "x-n"));
      EXPECT_FALSE(s.too_large);
      EXPECT_TRUE(s.ended || s.end_on_headers);
      p.respond(ids[i], "ok");
    }
    p.pump();
    for (int32_t id : ids) {
      EXPECT_TRUE(p.ss.at(id)->closed);
      EXPECT_EQ("ok", p.cs[id].body);
    }
  }
  EXPECT_TRUE(p.conn_errors.empty());
}

TEST(H2Engine, GoawayFromClientIsReported) {
  Pipe p;
  int32_t id = p.request({}, nullptr);
  p.pump();
  nghttp2_submit_goaway(p.cli, NGHTTP2_FLAG_NONE, 0, NGHTTP2_NO_ERROR, nullptr,
                        0);
  p.pump();
  ASSERT_EQ(1u, p.goaways.size());
  EXPECT_EQ(0u, p.goaways[0].second);
  EXPECT_TRUE(p.conn_errors.empty());
  // The open stream still finishes; then both sides are done.
  EXPECT_FALSE(weft__h2e_finished(p.e));
  p.respond(id, "bye");
  p.pump();
  EXPECT_EQ("bye", p.cs[id].body);
  EXPECT_TRUE(weft__h2e_finished(p.e));
}

TEST(H2Engine, GracefulShutdownFinishesOpenStreams) {
  Pipe p;
  int32_t id = p.request({}, nullptr);
  p.pump();
  EXPECT_EQ(0, weft__h2e_shutdown_notice(p.e));
  p.pump();
  EXPECT_EQ(0, weft__h2e_goaway(p.e, WEFT__H2E_NO_ERROR));
  p.pump();
  ASSERT_EQ(2u, p.client_goaways.size());
  EXPECT_EQ(0u, p.client_goaways[1]);
  p.respond(id, "done");
  p.pump();
  EXPECT_EQ("done", p.cs[id].body);
  EXPECT_TRUE(p.conn_errors.empty());
}

// ---- malformed input: connection errors that say why --------------------

struct Raw {
  Pipe p{nullptr, false};
  std::string out;
  ssize_t rv = 0;
  // Feeds b, writes the output, and feeds nothing again: rv is < 0 once
  // the connection failed, whether the engine saw it in feed or nghttp2
  // reported it with its GOAWAY.
  void send(const std::string &b) {
    weft_error err{};
    rv = weft__h2e_feed(p.e, (const uint8_t *)b.data(), b.size(), kStart, &err);
    out += p.drain();
    if (rv >= 0)
      rv = weft__h2e_feed(p.e, (const uint8_t *)"", 0, kStart, &err);
    if (rv < 0) {
      EXPECT_STREQ(p.conn_errors.at(0).message, err.message);
      EXPECT_TRUE(weft__h2e_finished(p.e));
    }
  }
};

TEST(H2Engine, BadPrefaceIsAConnectionError) {
  Raw r;
  r.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_LT(r.rv, 0);
  ASSERT_EQ(1u, r.p.conn_errors.size());
  EXPECT_EQ(WEFT_ERR_PROTOCOL, r.p.conn_errors[0].code);
  EXPECT_NE(nullptr, strstr(r.p.conn_errors[0].message, "magic"))
      << r.p.conn_errors[0].message;
  EXPECT_EQ(std::vector<uint32_t>{NGHTTP2_PROTOCOL_ERROR}, goaway_codes(r.out));
  EXPECT_TRUE(weft__h2e_finished(r.p.e));
  EXPECT_NE(nullptr, weft__h2e_error(r.p.e));
}

TEST(H2Engine, DataOnStreamZeroIsAConnectionError) {
  Raw r;
  r.send(client_start() + frame(NGHTTP2_DATA, 0, 0, "xx"));
  EXPECT_LT(r.rv, 0);
  ASSERT_EQ(1u, r.p.conn_errors.size());
  EXPECT_STREQ("HTTP/2 connection error (PROTOCOL_ERROR): DATA: stream_id "
               "== 0",
               r.p.conn_errors[0].message);
  EXPECT_EQ(std::vector<uint32_t>{NGHTTP2_PROTOCOL_ERROR}, goaway_codes(r.out));
  // Nothing more is parsed, and the error stays.
  r.send(frame(NGHTTP2_HEADERS, 5, 1, req_block()));
  EXPECT_LT(r.rv, 0);
  EXPECT_TRUE(r.p.ss.empty());
  EXPECT_EQ(1u, r.p.conn_errors.size());
}

TEST(H2Engine, HeadersOnAClosedStreamIsStreamClosed) {
  Raw r;
  // END_STREAM | END_HEADERS: the request is whole; the server answers and
  // the stream closes; then the client sends HEADERS on it again.
  r.send(client_start() + frame(NGHTTP2_HEADERS, 5, 1, req_block()));
  ASSERT_EQ(1u, r.p.ss.count(1));
  weft__h2e_nv nv[] = {{":status", (const uint8_t *)"204", 7, 3}};
  ASSERT_EQ(0, weft__h2e_submit_response(r.p.e, 1, nv, 1, false));
  r.out += r.p.drain();
  ASSERT_TRUE(r.p.ss[1]->closed);
  r.send(frame(NGHTTP2_HEADERS, 5, 1, req_block()));
  EXPECT_LT(r.rv, 0);
  ASSERT_EQ(1u, r.p.conn_errors.size());
  EXPECT_NE(nullptr, strstr(r.p.conn_errors[0].message, "STREAM_CLOSED"))
      << r.p.conn_errors[0].message;
  EXPECT_NE(nullptr, strstr(r.p.conn_errors[0].message, "HEADERS"))
      << r.p.conn_errors[0].message;
  EXPECT_EQ(std::vector<uint32_t>{NGHTTP2_STREAM_CLOSED}, goaway_codes(r.out));
}

// A stream we reset is remembered as ours: what the client sent on it
// before it saw the reset is ignored (RFC 9113 5.1), while a stream that
// ended normally is not.
TEST(H2Engine, DataAfterOurResetIsIgnored) {
  Raw r;
  // END_HEADERS only: the body is still to come.
  r.send(client_start() + frame(NGHTTP2_HEADERS, 4, 1, req_block()));
  ASSERT_EQ(1u, r.p.ss.count(1));
  ASSERT_EQ(0, weft__h2e_submit_rst(r.p.e, 1, WEFT__H2E_INTERNAL_ERROR));
  r.out += r.p.drain();
  ASSERT_TRUE(r.p.ss[1]->closed);
  r.send(frame(NGHTTP2_DATA, 1, 1, "late"));
  EXPECT_GE(r.rv, 0);
  EXPECT_TRUE(r.p.conn_errors.empty());
  r.send(frame(NGHTTP2_HEADERS, 5, 3, req_block()));
  EXPECT_GE(r.rv, 0);
  EXPECT_EQ(1u, r.p.ss.count(3));
  EXPECT_TRUE(r.p.conn_errors.empty());
}

TEST(H2Engine, HeadersBelowTheLastStreamIsProtocolError) {
  Raw r;
  r.send(client_start() + frame(NGHTTP2_HEADERS, 5, 5, req_block()) +
         frame(NGHTTP2_HEADERS, 5, 3, req_block()));
  EXPECT_LT(r.rv, 0);
  ASSERT_EQ(1u, r.p.conn_errors.size());
  EXPECT_NE(nullptr, strstr(r.p.conn_errors[0].message, "stream 3"))
      << r.p.conn_errors[0].message;
  EXPECT_EQ(std::vector<uint32_t>{NGHTTP2_PROTOCOL_ERROR}, goaway_codes(r.out));
}

TEST(H2Engine, BrokenHpackIsACompressionError) {
  Raw r;
  // Indexed field 70: beyond the static table, and the dynamic one is empty.
  r.send(client_start() +
         frame(NGHTTP2_HEADERS, 5, 1, std::string("\x83\xc6", 2)));
  EXPECT_LT(r.rv, 0);
  ASSERT_EQ(1u, r.p.conn_errors.size());
  EXPECT_TRUE(r.p.ss.empty());
  EXPECT_EQ(std::vector<uint32_t>{NGHTTP2_COMPRESSION_ERROR},
            goaway_codes(r.out));
}

// A malformed request (no :path) is a stream error: that stream is reset,
// no stream_open, and the connection carries on.
TEST(H2Engine, MalformedRequestIsOnlyAStreamError) {
  Raw r;
  r.send(client_start() +
         frame(NGHTTP2_HEADERS, 5, 1,
               std::string("\x83\x86", 2) + lit(":authority", "a")) +
         frame(NGHTTP2_HEADERS, 5, 3, req_block()));
  EXPECT_GE(r.rv, 0);
  EXPECT_TRUE(r.p.conn_errors.empty());
  EXPECT_EQ(0u, r.p.ss.count(1));
  EXPECT_EQ(1u, r.p.ss.count(3));
}

// ---- header limits --------------------------------------------------------

TEST(H2Engine, HeaderBlockOverTheLimitIsFlagged) {
  weft__h2e_cfg cfg{};
  cfg.max_header_bytes = 300;
  Pipe p(&cfg);
  // Sent before the client learns the server's SETTINGS, so nghttp2's
  // client does not refuse it on its side.
  int32_t id =
      p.request({{"x-small", "1"}, {"x-big", std::string(400, 'b')}}, nullptr);
  p.pump();
  ASSERT_EQ(1u, p.ss.count(id));
  SStream &s = *p.ss[id];
  EXPECT_TRUE(s.too_large);
  EXPECT_EQ("1", field(s.fields, "x-small"));
  EXPECT_EQ("<none>", field(s.fields, "x-big"));
  EXPECT_EQ("/pkg.Svc/Method", field(s.fields, ":path"));
  // Under the limit: not flagged.
  int32_t id2 = p.request({{"x-small", "1"}}, nullptr);
  p.pump();
  EXPECT_FALSE(p.ss.at(id2)->too_large);
}

TEST(H2Engine, ManyFieldsAreAllDelivered) {
  Pipe p;
  Fields f;
  for (int i = 0; i < 100; i++)
    f.emplace_back("x-f" + std::to_string(i), std::to_string(i));
  int32_t id = p.request(f, nullptr);
  p.pump();
  SStream &s = *p.ss.at(id);
  EXPECT_EQ(104u, s.fields.size());
  EXPECT_EQ("99", field(s.fields, "x-f99"));
}

// The engine copies a header block's bytes into storage that starts inside
// the stream record and moves to the heap as the block grows: every field
// must arrive intact, whichever side of a move it was received on, and a
// record reused after a large block starts with its small storage again.
TEST(H2Engine, FieldsSurviveTheirStorageGrowing) {
  Pipe p;
  Fields f;
  for (int i = 0; i < 30; i++)
    f.emplace_back("x-grow-" + std::to_string(i),
                   std::string(static_cast<size_t>(i * 17 + 1),
                               static_cast<char>('a' + i % 26)));
  for (int round = 0; round < 2; round++) {
    int32_t big = p.request(f, nullptr);
    int32_t small = p.request({{"x-n", "small"}}, nullptr);
    p.pump();
    SStream &s = *p.ss.at(big);
    ASSERT_EQ(f.size() + 4, s.fields.size()) << round;
    for (const auto &kv : f)
      EXPECT_EQ(kv.second, field(s.fields, kv.first)) << kv.first;
    EXPECT_EQ("/pkg.Svc/Method", field(s.fields, ":path"));
    EXPECT_EQ("small", field(p.ss.at(small)->fields, "x-n"));
    EXPECT_EQ(5u, p.ss.at(small)->fields.size());
    p.respond(big, "ok");
    p.respond(small, "ok");
    p.pump();
  }
  EXPECT_TRUE(p.conn_errors.empty());
}

// ---- timeouts ---------------------------------------------------------------

TEST(H2Engine, NoPrefaceWithinTheHeaderTimeout) {
  weft__h2e_cfg cfg{};
  cfg.header_timeout_ms = 100;
  Pipe p(&cfg, false);
  EXPECT_EQ(kStart + 100 * 1000000, weft__h2e_next_timeout(p.e));
  weft_error err{};
  EXPECT_EQ(0, weft__h2e_expire(p.e, kStart + 99 * 1000000, &err));
  EXPECT_EQ(WEFT_ERR_TIMEOUT,
            weft__h2e_expire(p.e, kStart + 100 * 1000000, &err));
  EXPECT_NE(nullptr, strstr(err.message, "preface")) << err.message;
  ASSERT_EQ(1u, p.conn_errors.size());
  EXPECT_EQ(std::vector<uint32_t>{NGHTTP2_ENHANCE_YOUR_CALM},
            goaway_codes(p.drain()));
  EXPECT_TRUE(weft__h2e_finished(p.e));
}

TEST(H2Engine, HeaderBlockNotFinishedWithinTheHeaderTimeout) {
  weft__h2e_cfg cfg{};
  cfg.header_timeout_ms = 100;
  Pipe p(&cfg, false);
  weft_error err{};
  std::string b = client_start();
  ASSERT_EQ((ssize_t)b.size(), weft__h2e_feed(p.e, (const uint8_t *)b.data(),
                                              b.size(), kStart, &err));
  EXPECT_TRUE(weft__h2e_ready(p.e));
  EXPECT_FALSE(weft__h2e_busy(p.e));
  EXPECT_EQ(INT64_MAX, weft__h2e_next_timeout(p.e));
  // HEADERS without END_HEADERS: the block waits for a CONTINUATION.
  int64_t t1 = kStart + 50 * 1000000;
  b = frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_STREAM, 1, req_block());
  ASSERT_EQ((ssize_t)b.size(),
            weft__h2e_feed(p.e, (const uint8_t *)b.data(), b.size(), t1, &err));
  EXPECT_TRUE(weft__h2e_busy(p.e));
  EXPECT_EQ(t1 + 100 * 1000000, weft__h2e_next_timeout(p.e));
  EXPECT_EQ(0, weft__h2e_expire(p.e, t1 + 99 * 1000000, &err));
  EXPECT_EQ(WEFT_ERR_TIMEOUT, weft__h2e_expire(p.e, t1 + 100 * 1000000, &err));
  EXPECT_NE(nullptr, strstr(err.message, "request headers")) << err.message;
  EXPECT_TRUE(p.ss.empty());
}

} // namespace
