// The HTTP/2 client engine (transports/http2/h2_client_engine.h) without
// sockets or threads: the server engine (h2_engine.h) on the other end of a
// byte pipe, or hand-built server frames; both engines' events recorded,
// bytes moved in chunks of every size down to one, time passed in by hand.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

extern "C" {
#include "h2_client_engine.h"
#include "h2_engine.h"
}

namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

constexpr int64_t kStart = 1000000000;

// What the server engine saw on one stream, and how it answers.
struct SStream {
  int32_t id = 0;
  Fields fields;
  std::string body;
  bool ended = false, closed = false;
  uint32_t code = 0;
  std::string out; // the response body read_data hands out
  size_t out_off = 0;
  bool out_end = false;
  size_t uncredited = 0;
};

// What the client engine reported on one request.
struct CStream {
  int32_t id = 0;
  Fields head, trailers;
  int heads = 0;
  std::string body;
  bool ended = false, closed = false;
  uint32_t code = 0;
  size_t uncredited = 0;
  size_t left = SIZE_MAX; // the last `sent` event
};

Fields ToFields(const weft__h2e_nv *f, size_t n) {
  Fields v;
  for (size_t i = 0; i < n; i++)
    v.emplace_back(std::string(f[i].name, f[i].nlen),
                   std::string((const char *)f[i].value, f[i].vlen));
  return v;
}

std::string Get(const Fields &f, const std::string &name) {
  for (auto &kv : f)
    if (kv.first == name)
      return kv.second;
  return "";
}

struct Pipe {
  weft__h2ce *c = nullptr;
  weft__h2e *s = nullptr;
  std::vector<std::unique_ptr<CStream>> cs;
  std::map<int32_t, std::unique_ptr<SStream>> ss;
  std::vector<weft_error> c_errors, s_errors;
  std::vector<std::pair<int32_t, uint32_t>> c_goaways;
  bool c_hold = false;     // the client does not return window
  bool s_hold = false;     // the server does not return window
  bool auto_answer = true; // the server answers each request when it ends
  size_t chunk = 0;        // move this many bytes at a time (0: all)
  int64_t now = kStart;

  Pipe(const weft__h2ce_cfg *ccfg = nullptr,
       const weft__h2e_cfg *scfg = nullptr, bool with_server = true) {
    static const weft__h2ce_events cev = {c_headers, c_data,   c_end,  c_closed,
                                          c_sent,    c_goaway, c_error};
    EXPECT_EQ(0, weft__h2ce_new(&c, ccfg, &cev, this));
    if (!with_server)
      return;
    static const weft__h2e_events sev = {s_open, s_data,  s_end,  s_closed,
                                         s_read, nullptr, s_error};
    weft__h2e_cfg sc = scfg ? *scfg : weft__h2e_cfg{};
    sc.start_ns = kStart;
    EXPECT_EQ(0, weft__h2e_new(&s, &sc, &sev, this));
  }
  ~Pipe() {
    weft__h2ce_free(c);
    weft__h2e_free(s);
  }

  // ---- client engine events
  static void c_headers(void *ud, void *st, const weft__h2e_nv *f, size_t n,
                        bool trailers) {
    (void)ud;
    CStream *k = static_cast<CStream *>(st);
    if (trailers) {
      k->trailers = ToFields(f, n);
    } else {
      k->head = ToFields(f, n);
      k->heads++;
    }
  }
  static int c_data(void *ud, void *st, const uint8_t *p, size_t n) {
    Pipe *pp = static_cast<Pipe *>(ud);
    CStream *k = static_cast<CStream *>(st);
    k->body.append((const char *)p, n);
    if (pp->c_hold)
      k->uncredited += n;
    else
      weft__h2ce_credit(pp->c, k->id, n);
    return 0;
  }
  static void c_end(void *, void *st) {
    static_cast<CStream *>(st)->ended = true;
  }
  static void c_closed(void *, void *st, uint32_t code) {
    CStream *k = static_cast<CStream *>(st);
    EXPECT_FALSE(k->closed) << "closed twice";
    k->closed = true;
    k->code = code;
  }
  static void c_sent(void *, void *st, size_t left) {
    static_cast<CStream *>(st)->left = left;
  }
  static void c_goaway(void *ud, int32_t last, uint32_t code) {
    static_cast<Pipe *>(ud)->c_goaways.emplace_back(last, code);
  }
  static void c_error(void *ud, const weft_error *why) {
    static_cast<Pipe *>(ud)->c_errors.push_back(*why);
  }

  // ---- server engine events
  static void *s_open(void *ud, const weft__h2e_request *rq) {
    Pipe *p = static_cast<Pipe *>(ud);
    auto st = std::make_unique<SStream>();
    st->id = rq->id;
    st->fields = ToFields(rq->fields, rq->nfields);
    SStream *raw = st.get();
    p->ss[rq->id] = std::move(st);
    if (rq->end_stream)
      s_end(ud, raw);
    return raw;
  }
  static int s_data(void *ud, void *st, const uint8_t *d, size_t n) {
    Pipe *p = static_cast<Pipe *>(ud);
    SStream *k = static_cast<SStream *>(st);
    k->body.append((const char *)d, n);
    if (p->s_hold)
      k->uncredited += n;
    else
      weft__h2e_credit(p->s, k->id, n);
    return 0;
  }
  static void s_end(void *ud, void *st) {
    Pipe *p = static_cast<Pipe *>(ud);
    SStream *k = static_cast<SStream *>(st);
    if (k->ended)
      return;
    k->ended = true;
    if (!p->auto_answer)
      return;
    // Echo the request body back, then trailers.
    k->out = "echo:" + k->body;
    k->out_end = true;
    p->Respond(k->id);
  }
  static void s_closed(void *, void *st, uint32_t code) {
    SStream *k = static_cast<SStream *>(st);
    k->closed = true;
    k->code = code;
  }
  static ssize_t s_read(void *ud, void *st, uint8_t *buf, size_t cap,
                        uint32_t *flags) {
    Pipe *p = static_cast<Pipe *>(ud);
    SStream *k = static_cast<SStream *>(st);
    size_t avail = k->out.size() - k->out_off;
    if (avail == 0 && !k->out_end)
      return WEFT__H2E_DEFER;
    size_t n = avail < cap ? avail : cap;
    memcpy(buf, k->out.data() + k->out_off, n);
    k->out_off += n;
    if (k->out_off == k->out.size() && k->out_end) {
      *flags |= WEFT__H2E_EOF | WEFT__H2E_NO_END_STREAM;
      weft__h2e_nv tr[] = {{"grpc-status", (const uint8_t *)"0", 11, 1}};
      EXPECT_EQ(0, weft__h2e_submit_trailers(p->s, k->id, tr, 1));
    }
    return (ssize_t)n;
  }
  static void s_error(void *ud, const weft_error *why) {
    static_cast<Pipe *>(ud)->s_errors.push_back(*why);
  }

  void Respond(int32_t id) {
    weft__h2e_nv nv[] = {{":status", (const uint8_t *)"200", 7, 3},
                         {"x-reply", (const uint8_t *)"yes", 7, 3}};
    EXPECT_EQ(0, weft__h2e_submit_response(s, id, nv, 2, true));
  }

  // Opens a request; body is sent with end when end_body is set.
  CStream *Request(const std::string &path, const std::string &body,
                   bool end_body = true) {
    auto k = std::make_unique<CStream>();
    weft__h2e_nv nv[] = {
        {":method", (const uint8_t *)"POST", 7, 4},
        {":scheme", (const uint8_t *)"http", 7, 4},
        {":authority", (const uint8_t *)"test", 10, 4},
        {":path", (const uint8_t *)path.data(), 5, path.size()},
        {"content-type", (const uint8_t *)"application/proto", 12, 17}};
    k->id = weft__h2ce_submit_request(c, nv, 5, false, k.get());
    EXPECT_GT(k->id, 0);
    if (k->id > 0 && (!body.empty() || end_body))
      EXPECT_EQ(0,
                weft__h2ce_submit_data(c, k->id, (const uint8_t *)body.data(),
                                       body.size(), end_body));
    cs.push_back(std::move(k));
    return cs.back().get();
  }

  // Moves bytes both ways until neither engine has anything to say.
  void Pump() {
    for (int round = 0; round < 100000; round++) {
      bool moved = Move(true) | Move(false);
      if (!moved)
        return;
    }
    ADD_FAILURE() << "the engines never went quiet";
  }

  // Client -> server (to_server) or server -> client, one chunk per feed.
  bool Move(bool to_server) {
    bool any = false;
    for (;;) {
      size_t n = 0;
      const uint8_t *p = to_server ? weft__h2ce_output(c, &n, nullptr)
                                   : weft__h2e_output(s, &n, nullptr);
      if (!p || n == 0)
        return any;
      any = true;
      std::string bytes((const char *)p, n);
      if (to_server)
        weft__h2ce_output_done(c, n);
      else
        weft__h2e_output_done(s, n);
      size_t step = chunk ? chunk : bytes.size();
      for (size_t off = 0; off < bytes.size(); off += step) {
        size_t m = bytes.size() - off < step ? bytes.size() - off : step;
        const uint8_t *q = (const uint8_t *)bytes.data() + off;
        if (to_server)
          weft__h2e_feed(s, q, m, now, nullptr);
        else
          weft__h2ce_feed(c, q, m, now, nullptr);
      }
    }
  }

  // The client's output, thrown away (for hand-built server frames).
  void DrainClient() {
    size_t n;
    while (weft__h2ce_output(c, &n, nullptr) && n > 0)
      weft__h2ce_output_done(c, n);
  }
  ssize_t FeedClient(const std::string &b) {
    return weft__h2ce_feed(c, (const uint8_t *)b.data(), b.size(), now,
                           nullptr);
  }
};

std::string Frame(uint8_t type, uint8_t flags, uint32_t sid,
                  const std::string &payload) {
  std::string f;
  size_t n = payload.size();
  f += (char)(n >> 16);
  f += (char)(n >> 8);
  f += (char)n;
  f += (char)type;
  f += (char)flags;
  f += (char)(sid >> 24);
  f += (char)(sid >> 16);
  f += (char)(sid >> 8);
  f += (char)sid;
  return f + payload;
}
const std::string kServerSettings = Frame(4, 0, 0, "");

TEST(H2ClientEngine, UnaryRoundTripInEveryChunkSize) {
  for (size_t chunk = 1; chunk <= 80; chunk++) {
    SCOPED_TRACE("chunk " + std::to_string(chunk));
    Pipe p;
    p.chunk = chunk;
    CStream *k = p.Request("/pkg.S/M", "hello");
    p.Pump();
    ASSERT_EQ(1u, p.ss.size());
    SStream *s = p.ss.begin()->second.get();
    EXPECT_EQ("/pkg.S/M", Get(s->fields, ":path"));
    EXPECT_EQ("POST", Get(s->fields, ":method"));
    EXPECT_EQ("hello", s->body);
    EXPECT_TRUE(s->ended);
    EXPECT_EQ("200", Get(k->head, ":status"));
    EXPECT_EQ(":status", k->head[0].first);
    EXPECT_EQ("yes", Get(k->head, "x-reply"));
    EXPECT_EQ(1, k->heads);
    EXPECT_EQ("echo:hello", k->body);
    EXPECT_EQ("0", Get(k->trailers, "grpc-status"));
    EXPECT_TRUE(k->ended);
    EXPECT_TRUE(k->closed);
    EXPECT_EQ(0u, k->code);
    EXPECT_TRUE(p.c_errors.empty());
    EXPECT_TRUE(p.s_errors.empty());
  }
}

TEST(H2ClientEngine, ManyStreamsInOneConnection) {
  Pipe p;
  std::vector<CStream *> ks;
  for (int i = 0; i < 250; i++) // past the server's 100 concurrent streams
    ks.push_back(p.Request("/pkg.S/M", "m" + std::to_string(i)));
  p.Pump();
  for (int i = 0; i < 250; i++) {
    EXPECT_TRUE(ks[i]->closed) << i;
    EXPECT_EQ("echo:m" + std::to_string(i), ks[i]->body) << i;
  }
}

// The request body waits for the server's window: the engine keeps what
// the window does not allow, and `sent` tells how much is still held.
TEST(H2ClientEngine, RequestBodyWaitsForTheServersWindow) {
  weft__h2e_cfg scfg = {};
  scfg.stream_window = 65535;
  scfg.conn_window = 1 << 20;
  Pipe p(nullptr, &scfg);
  p.s_hold = true;
  std::string big(200000, 'b');
  CStream *k = p.Request("/pkg.S/Up", big);
  p.Pump();
  SStream *s = p.ss.begin()->second.get();
  EXPECT_EQ(65535u, s->body.size());
  EXPECT_EQ(200000u - 65535u, weft__h2ce_buffered(p.c, k->id));
  EXPECT_EQ(200000u - 65535u, k->left);
  EXPECT_FALSE(s->ended);
  // The server takes the bytes: the rest follows.
  p.s_hold = false;
  weft__h2e_credit(p.s, s->id, s->uncredited);
  p.Pump();
  EXPECT_EQ(big, s->body);
  EXPECT_TRUE(s->ended);
  EXPECT_EQ(0u, weft__h2ce_buffered(p.c, k->id));
  EXPECT_TRUE(k->closed);
  EXPECT_EQ(0u, k->code);
}

// A streaming request in pieces, with data submitted while the stream is
// open and the server reading as it comes.
TEST(H2ClientEngine, StreamingRequestInPieces) {
  for (size_t chunk : {1u, 7u, 0u}) {
    Pipe p;
    p.chunk = chunk;
    CStream *k = p.Request("/pkg.S/Stream", "", false);
    p.Pump();
    ASSERT_EQ(1u, p.ss.size());
    SStream *s = p.ss.begin()->second.get();
    std::string all;
    for (int i = 0; i < 20; i++) {
      std::string piece(100 + i, (char)('a' + i));
      all += piece;
      ASSERT_EQ(0, weft__h2ce_submit_data(p.c, k->id,
                                          (const uint8_t *)piece.data(),
                                          piece.size(), false));
      p.Pump();
      EXPECT_EQ(all, s->body);
    }
    ASSERT_EQ(0, weft__h2ce_submit_data(p.c, k->id, nullptr, 0, true));
    EXPECT_EQ(WEFT_ERR_INVAL,
              weft__h2ce_submit_data(p.c, k->id, (const uint8_t *)"x", 1,
                                     false)); // after the end
    p.Pump();
    EXPECT_TRUE(s->ended);
    EXPECT_EQ("echo:" + all, k->body);
    EXPECT_TRUE(k->closed);
  }
}

// The response waits for the client's window: nothing past it until the
// client credits what it took.
TEST(H2ClientEngine, ResponseWaitsForTheClientsCredit) {
  weft__h2ce_cfg ccfg = {};
  ccfg.stream_window = 65535;
  Pipe p(&ccfg);
  p.c_hold = true;
  p.auto_answer = false;
  CStream *k = p.Request("/pkg.S/Down", "");
  p.Pump();
  SStream *s = p.ss.begin()->second.get();
  s->out.assign(300000, 'd');
  s->out_end = true;
  p.Respond(s->id);
  p.Pump();
  EXPECT_EQ(65535u, k->body.size());
  EXPECT_FALSE(k->closed);
  for (int i = 0; i < 20 && !k->closed; i++) {
    size_t n = k->uncredited;
    k->uncredited = 0;
    weft__h2ce_credit(p.c, k->id, n);
    p.Pump();
  }
  EXPECT_EQ(300000u, k->body.size());
  EXPECT_TRUE(k->closed);
  EXPECT_EQ(0u, k->code);
}

TEST(H2ClientEngine, ClientResetReachesTheServer) {
  Pipe p;
  p.auto_answer = false;
  CStream *k = p.Request("/pkg.S/Stream", "", false);
  p.Pump();
  SStream *s = p.ss.begin()->second.get();
  ASSERT_EQ(0, weft__h2ce_submit_rst(p.c, k->id, WEFT__H2E_CANCEL));
  p.Pump();
  EXPECT_TRUE(k->closed);
  EXPECT_EQ((uint32_t)WEFT__H2E_CANCEL, k->code);
  EXPECT_TRUE(s->closed);
  EXPECT_EQ((uint32_t)WEFT__H2E_CANCEL, s->code);
  EXPECT_EQ(WEFT_ERR_INVAL, weft__h2ce_submit_rst(p.c, k->id, 8)); // gone
}

TEST(H2ClientEngine, ServerResetReachesTheClient) {
  Pipe p;
  p.auto_answer = false;
  CStream *k = p.Request("/pkg.S/Stream", "", false);
  p.Pump();
  SStream *s = p.ss.begin()->second.get();
  ASSERT_EQ(0, weft__h2e_submit_rst(p.s, s->id, WEFT__H2E_INTERNAL_ERROR));
  p.Pump();
  EXPECT_TRUE(k->closed);
  EXPECT_EQ((uint32_t)WEFT__H2E_INTERNAL_ERROR, k->code);
  EXPECT_EQ(0, k->heads);
}

// A request still queued behind the server's concurrency limit can be
// reset before its HEADERS go out: it closes with our code, and the
// server never sees it.
TEST(H2ClientEngine, ResetOfAQueuedRequestClosesIt) {
  weft__h2e_cfg scfg = {};
  scfg.max_concurrent_streams = 1;
  Pipe p(nullptr, &scfg);
  p.auto_answer = false;
  CStream *a = p.Request("/pkg.S/A", "", false);
  p.Pump(); // SETTINGS: one stream at a time
  CStream *b = p.Request("/pkg.S/B", "");
  p.Pump();
  EXPECT_EQ(1u, p.ss.size());
  ASSERT_EQ(0, weft__h2ce_submit_rst(p.c, b->id, WEFT__H2E_CANCEL));
  p.Pump();
  EXPECT_TRUE(b->closed);
  EXPECT_EQ((uint32_t)WEFT__H2E_CANCEL, b->code);
  EXPECT_FALSE(a->closed);
  EXPECT_EQ(1u, p.ss.size());
  // The slot frees: the cancelled request is dropped, not sent, and not
  // reported twice.
  ASSERT_EQ(0, weft__h2ce_submit_data(p.c, a->id, nullptr, 0, true));
  p.ss[a->id]->out_end = true;
  p.Respond(a->id);
  p.Pump();
  EXPECT_TRUE(a->closed);
  EXPECT_EQ(1u, p.ss.size());
  p.auto_answer = true;
  CStream *c = p.Request("/pkg.S/C", "c");
  p.Pump();
  EXPECT_EQ(2u, p.ss.size());
  EXPECT_TRUE(c->closed);
}

// GOAWAY from the server: the client hears it, takes no new request, and
// a request the server did not process closes with REFUSED_STREAM.
TEST(H2ClientEngine, ServerGoawayRefusesQueuedRequests) {
  weft__h2e_cfg scfg = {};
  scfg.max_concurrent_streams = 1;
  Pipe p(nullptr, &scfg);
  p.auto_answer = false;
  CStream *a = p.Request("/pkg.S/A", "", false);
  p.Pump();
  CStream *b = p.Request("/pkg.S/B", "");
  p.Pump();
  ASSERT_EQ(0, weft__h2e_goaway(p.s, WEFT__H2E_NO_ERROR));
  p.Pump();
  ASSERT_EQ(1u, p.c_goaways.size());
  EXPECT_EQ(a->id, p.c_goaways[0].first);
  EXPECT_EQ(0u, p.c_goaways[0].second);
  EXPECT_TRUE(weft__h2ce_going_away(p.c));
  EXPECT_TRUE(b->closed);
  EXPECT_EQ((uint32_t)WEFT__H2E_REFUSED_STREAM, b->code);
  EXPECT_FALSE(a->closed); // processed: it finishes
  weft__h2e_nv nv[] = {{":method", (const uint8_t *)"POST", 7, 4}};
  EXPECT_EQ(WEFT_ERR_CLOSED, weft__h2ce_submit_request(p.c, nv, 1, true, a));
  // The open stream completes, then both sides are done.
  SStream *s = p.ss.begin()->second.get();
  ASSERT_EQ(0,
            weft__h2ce_submit_data(p.c, a->id, (const uint8_t *)"z", 1, true));
  s->out = "bye";
  s->out_end = true;
  p.Respond(s->id);
  p.Pump();
  EXPECT_TRUE(a->closed);
  EXPECT_EQ("bye", a->body);
  EXPECT_TRUE(weft__h2ce_finished(p.c));
  EXPECT_TRUE(p.c_errors.empty());
}

TEST(H2ClientEngine, ClientGoawayEndsTheConnection) {
  Pipe p;
  CStream *k = p.Request("/pkg.S/M", "x");
  p.Pump();
  EXPECT_TRUE(k->closed);
  ASSERT_EQ(0, weft__h2ce_goaway(p.c, WEFT__H2E_NO_ERROR));
  p.Pump();
  EXPECT_TRUE(weft__h2ce_finished(p.c));
  EXPECT_TRUE(p.c_errors.empty());
}

// Malformed server input: the connection fails with a reason that says
// what, in every chunk size.
TEST(H2ClientEngine, DataOnStreamZeroIsAConnectionError) {
  for (size_t chunk : {1u, 3u, 0u}) {
    Pipe p(nullptr, nullptr, false);
    p.DrainClient();
    std::string in = kServerSettings + Frame(0, 0, 0, "x");
    size_t step = chunk ? chunk : in.size();
    for (size_t off = 0; off < in.size(); off += step)
      p.FeedClient(in.substr(off, step));
    p.DrainClient(); // the GOAWAY: the error is reported as it goes out
    ASSERT_EQ(1u, p.c_errors.size());
    std::string why = p.c_errors[0].message;
    EXPECT_NE(std::string::npos, why.find("PROTOCOL_ERROR")) << why;
    EXPECT_NE(std::string::npos, why.find("DATA")) << why;
    EXPECT_NE(std::string::npos, why.find("stream_id == 0")) << why;
    EXPECT_EQ(WEFT_ERR_PROTOCOL, p.c_errors[0].code);
    EXPECT_TRUE(weft__h2ce_finished(p.c));
    EXPECT_LT(p.FeedClient(kServerSettings), 0); // later feeds fail too
    ASSERT_NE(nullptr, weft__h2ce_error(p.c));
  }
}

TEST(H2ClientEngine, BadHpackBlockIsACompressionError) {
  Pipe p(nullptr, nullptr, false);
  CStream *k = p.Request("/pkg.S/M", "x");
  p.DrainClient();
  // Indexed field 0 does not exist (RFC 7541 6.1).
  p.FeedClient(kServerSettings + Frame(1, 0x4, (uint32_t)k->id, "\x80"));
  p.DrainClient();
  ASSERT_EQ(1u, p.c_errors.size());
  std::string why = p.c_errors[0].message;
  EXPECT_NE(std::string::npos, why.find("COMPRESSION_ERROR")) << why;
  EXPECT_TRUE(weft__h2ce_finished(p.c));
}

TEST(H2ClientEngine, ServerPrefaceMustBeSettings) {
  Pipe p(nullptr, nullptr, false);
  p.DrainClient();
  p.FeedClient(Frame(6, 0, 0, "12345678")); // a PING first
  p.DrainClient();
  ASSERT_EQ(1u, p.c_errors.size());
  EXPECT_NE(std::string::npos,
            std::string(p.c_errors[0].message).find("PROTOCOL_ERROR"))
      << p.c_errors[0].message;
}

// A response head larger than the limit resets that stream only.
TEST(H2ClientEngine, OversizedResponseHeadResetsTheStream) {
  weft__h2ce_cfg ccfg = {};
  ccfg.max_header_bytes = 100;
  Pipe p(&ccfg);
  p.auto_answer = false;
  CStream *k = p.Request("/pkg.S/M", "x");
  p.Pump();
  SStream *s = p.ss.begin()->second.get();
  std::string big(200, 'v');
  weft__h2e_nv nv[] = {{":status", (const uint8_t *)"200", 7, 3},
                       {"x-big", (const uint8_t *)big.data(), 5, big.size()}};
  ASSERT_EQ(0, weft__h2e_submit_response(p.s, s->id, nv, 2, false));
  p.Pump();
  EXPECT_TRUE(k->closed);
  EXPECT_EQ((uint32_t)WEFT__H2E_INTERNAL_ERROR, k->code);
  EXPECT_EQ(0, k->heads);
  EXPECT_TRUE(p.c_errors.empty());
}

// A 1xx head is not the response: the final head comes after it.
TEST(H2ClientEngine, InformationalHeadIsSkipped) {
  Pipe p(nullptr, nullptr, false);
  CStream *k = p.Request("/pkg.S/M", "x");
  p.DrainClient();
  uint32_t id = (uint32_t)k->id;
  // ":status: 100" (literal, name index 8), then ":status: 200" (index 8)
  // ending the stream.
  std::string in = kServerSettings +
                   Frame(1, 0x4, id, std::string("\x08\x03") + "100") +
                   Frame(1, 0x4 | 0x1, id, "\x88");
  for (size_t off = 0; off < in.size(); off++)
    ASSERT_GT(p.FeedClient(in.substr(off, 1)), 0) << off;
  EXPECT_EQ(1, k->heads);
  EXPECT_EQ("200", Get(k->head, ":status"));
  EXPECT_TRUE(k->ended);
  EXPECT_TRUE(k->trailers.empty());
  EXPECT_TRUE(p.c_errors.empty());
}

TEST(H2ClientEngine, PingAckAndTimeout) {
  weft__h2ce_cfg ccfg = {};
  ccfg.ping_timeout_ms = 500;
  Pipe p(&ccfg);
  p.Pump();
  EXPECT_EQ(INT64_MAX, weft__h2ce_next_timeout(p.c));
  ASSERT_EQ(0, weft__h2ce_ping(p.c, p.now));
  EXPECT_EQ(p.now + 500000000, weft__h2ce_next_timeout(p.c));
  p.Pump(); // the server engine answers
  EXPECT_EQ(INT64_MAX, weft__h2ce_next_timeout(p.c));
  // Unanswered: the connection fails when the deadline passes.
  ASSERT_EQ(0, weft__h2ce_ping(p.c, p.now));
  p.DrainClient();
  EXPECT_EQ(0, weft__h2ce_expire(p.c, p.now + 499000000, nullptr));
  weft_error err;
  EXPECT_EQ(WEFT_ERR_TIMEOUT, weft__h2ce_expire(p.c, p.now + 500000000, &err));
  EXPECT_NE(std::string::npos, std::string(err.message).find("PING"))
      << err.message;
  ASSERT_EQ(1u, p.c_errors.size());
  p.DrainClient();
  EXPECT_TRUE(weft__h2ce_finished(p.c));
}

TEST(H2ClientEngine, FreeWithOpenStreamsReportsNothing) {
  Pipe p;
  p.auto_answer = false;
  CStream *k = p.Request("/pkg.S/Stream", "abc", false);
  p.Pump();
  weft__h2ce_free(p.c);
  p.c = nullptr;
  EXPECT_FALSE(k->closed);
}

} // namespace
