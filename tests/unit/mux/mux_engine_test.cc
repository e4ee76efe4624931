// The envelope mux engine in-process: a client engine and a server engine
// joined by byte pipes (the output chunks of one fed to the other), no
// sockets, no threads. Each test drives one event sequence and compares the
// events both sides saw, as text, with what the protocol says.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

extern "C" {
#include "mux_engine.h"
}

namespace {

std::string bytes(const weft__bytes &b) {
  return std::string(reinterpret_cast<const char *>(b.p), b.n);
}

std::string metadata(const weft__env *e) {
  std::string s;
  size_t pos = 0;
  weft__env_md kv;
  while (weft__env_md_next(e, &pos, &kv) == 1) {
    s += " " + bytes(kv.key) + "=";
    for (size_t i = 0; i < kv.value.n; i++) {
      unsigned char c = kv.value.p[i];
      if (c >= 0x20 && c < 0x7f) {
        s += static_cast<char>(c);
      } else {
        char hex[8];
        snprintf(hex, sizeof hex, "\\x%02x", c);
        s += hex;
      }
    }
  }
  return s;
}

// One side: its engine and the events it reported, one line each.
struct Side {
  weft__mxe *e = nullptr;
  std::vector<std::string> ev;
  int fail_next = 0; // a callback returns this once (to test that path)

  int note(std::string s) {
    ev.push_back(std::move(s));
    int r = fail_next;
    fail_next = 0;
    return r;
  }
  std::string take() {
    std::string s;
    for (auto &x : ev)
      s += x + "\n";
    ev.clear();
    return s;
  }
};

extern "C" int cb_open(void *ud, uint64_t id, const weft__env *e) {
  std::string s =
      "open " + std::to_string(id) + " " + bytes(e->method) + metadata(e);
  if (e->timeout_ms)
    s += " timeout";
  if (e->has_payload)
    s += " [" + bytes(e->payload) + "]";
  return static_cast<Side *>(ud)->note(s);
}
extern "C" int cb_headers(void *ud, uint64_t id, void *, const weft__env *e) {
  return static_cast<Side *>(ud)->note("headers " + std::to_string(id) +
                                       metadata(e));
}
extern "C" int cb_message(void *ud, uint64_t id, void *su,
                          const weft__bytes *p) {
  std::string s = "message " + std::to_string(id);
  if (su)
    s += std::string(" su=") + static_cast<const char *>(su);
  return static_cast<Side *>(ud)->note(s + " [" + bytes(*p) + "]");
}
extern "C" int cb_half_close(void *ud, uint64_t id, void *) {
  return static_cast<Side *>(ud)->note("half_close " + std::to_string(id));
}
extern "C" int cb_status(void *ud, uint64_t id, void *, const weft__env *e) {
  std::string s = "status " + std::to_string(id) + " " +
                  std::to_string(e->status_code) + " " +
                  bytes(e->status_message) + metadata(e);
  if (e->status_details.n)
    s += " details=" + bytes(e->status_details);
  if (e->has_payload)
    s += " [" + bytes(e->payload) + "]";
  return static_cast<Side *>(ud)->note(s);
}
extern "C" int cb_reset(void *ud, uint64_t id, void *, int code,
                        const weft__bytes *msg, bool remote) {
  return static_cast<Side *>(ud)->note(
      std::string(remote ? "peer_reset " : "reset ") + std::to_string(id) +
      " " + std::to_string(code) + " " + bytes(*msg));
}
extern "C" void cb_ping(void *ud, const weft__bytes *p) {
  static_cast<Side *>(ud)->note("ping [" + bytes(*p) + "]");
}
extern "C" void cb_pong(void *ud, const weft__bytes *p) {
  static_cast<Side *>(ud)->note("pong [" + bytes(*p) + "]");
}
extern "C" void cb_goaway(void *ud, int code, const weft__bytes *msg) {
  static_cast<Side *>(ud)->note("goaway " + std::to_string(code) + " " +
                                bytes(*msg));
}

const weft__mxe_callbacks kCallbacks = {
    cb_open,  cb_headers, cb_message, cb_half_close, cb_status,
    cb_reset, cb_ping,    cb_pong,    cb_goaway,
};

const char kUnary[] = "/aitbc.v1.Jobs/GetJob";

weft__mxe_msg msg(const char *s) {
  weft__mxe_msg m = {};
  m.data = reinterpret_cast<const uint8_t *>(s);
  m.len = strlen(s);
  return m;
}

// Metadata built from C strings (the engine only reads the entries).
struct Md {
  std::vector<std::string> keys, vals;
  std::vector<weft_metadata_entry> ents;
  weft_metadata md = {};
  Md(std::initializer_list<std::pair<std::string, std::string>> kv) {
    for (auto &p : kv) {
      keys.push_back(p.first);
      vals.push_back(p.second);
    }
    for (size_t i = 0; i < keys.size(); i++)
      ents.push_back({const_cast<char *>(keys[i].c_str()),
                      reinterpret_cast<uint8_t *>(&vals[i][0]),
                      vals[i].size()});
    md.count = md.cap = ents.size();
    md.entries = ents.data();
  }
};

class MuxEngine : public ::testing::Test {
protected:
  Side cli, srv;
  weft_error err = {};

  void make(bool text = false, size_t max = 0) {
    weft__mxe_opts o = {};
    o.text = text;
    o.max_message_size = max;
    o.cb = &kCallbacks;
    o.ud = &cli;
    ASSERT_EQ(weft__mxe_new(&cli.e, &o), 0);
    o.server = true;
    o.ud = &srv;
    ASSERT_EQ(weft__mxe_new(&srv.e, &o), 0);
  }
  void SetUp() override {
    make();
  }
  void TearDown() override {
    weft__mxe_free(cli.e);
    weft__mxe_free(srv.e);
  }
  // Moves everything `from` has queued into `to`; the first connection
  // error stops it and is returned.
  int pipe(Side &from, Side &to, int64_t now = 0) {
    int rc = 0;
    weft__mxe_chunk *c = weft__mxe_take_output(from.e);
    while (c) {
      weft__mxe_chunk *n = c->next;
      if (rc == 0)
        rc = weft__mxe_feed(to.e, c->data, c->len, c->text, now, &err);
      free(c);
      c = n;
    }
    return rc;
  }
  // Feeds raw bytes as one envelope.
  int feed(Side &to, const std::string &raw, bool text = false) {
    return weft__mxe_feed(to.e, reinterpret_cast<const uint8_t *>(raw.data()),
                          raw.size(), text, 0, &err);
  }
  uint64_t open(const char *method, const weft__mxe_msg *first,
                const weft_metadata *md = nullptr, void *su = nullptr) {
    uint64_t id = 0;
    EXPECT_EQ(weft__mxe_stream_new(cli.e, su, &id), 0);
    EXPECT_EQ(weft__mxe_submit_open(cli.e, id, method, md, 0, 0, first), 0);
    EXPECT_EQ(pipe(cli, srv), 0) << err.message;
    return id;
  }
};

TEST_F(MuxEngine, Unary) {
  weft__mxe_msg req = msg("req");
  uint64_t id = open(kUnary, &req);
  EXPECT_EQ(id, 1u);
  EXPECT_EQ(srv.take(), "open 1 /aitbc.v1.Jobs/GetJob [req]\n");
  weft__mxe_msg rep = msg("rep");
  Md tr({{"x-trailer", "t"}});
  ASSERT_EQ(weft__mxe_submit_status(srv.e, id, 0, "", nullptr, 0, &tr.md, &rep),
            0);
  EXPECT_EQ(weft__mxe_count(srv.e), 0u);
  ASSERT_EQ(pipe(srv, cli), 0);
  EXPECT_EQ(cli.take(), "status 1 0  x-trailer=t [rep]\n");
  EXPECT_EQ(weft__mxe_count(cli.e), 0u);
  // The stream is over on both sides: more sends are refused, unsent.
  EXPECT_EQ(weft__mxe_submit_message(cli.e, id, &req), WEFT_ERR_STATE);
  EXPECT_EQ(
      weft__mxe_submit_status(srv.e, id, 0, "", nullptr, 0, nullptr, nullptr),
      WEFT_ERR_STATE);
  EXPECT_FALSE(weft__mxe_want_write(cli.e));
  EXPECT_FALSE(weft__mxe_want_write(srv.e));
}

// The wire stays what protoc's code for envelope.proto reads and writes:
// an OPEN is stream_id, kind, method, metadata, payload, in field order.
TEST_F(MuxEngine, WireBytes) {
  uint64_t id;
  ASSERT_EQ(weft__mxe_stream_new(cli.e, nullptr, &id), 0);
  Md md({{"k", "v"}});
  weft__mxe_msg req = msg("hi");
  ASSERT_EQ(weft__mxe_submit_open(cli.e, id, "/a.B/C", &md.md, 0, 0, &req), 0);
  weft__mxe_chunk *c = weft__mxe_take_output(cli.e);
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->next);
  EXPECT_FALSE(c->text);
  static const char kWant[] = "\x08\x01\x10\x01\x1a\x06/a.B/C"
                              "\x22\x06\x0a\x01k\x12\x01v"
                              "\x2a\x02hi";
  const std::string want(kWant, sizeof kWant - 1);
  EXPECT_EQ(std::string(reinterpret_cast<char *>(c->data), c->len), want);
  free(c);
}

TEST_F(MuxEngine, ServerStreamWithHeaders) {
  weft__mxe_msg req = msg("q");
  uint64_t id = open("/s.S/Watch", &req);
  srv.take();
  Md h({{"x-h", "1"}});
  ASSERT_EQ(weft__mxe_submit_headers(srv.e, id, &h.md), 0);
  for (const char *m : {"a", "b", "c"}) {
    weft__mxe_msg x = msg(m);
    ASSERT_EQ(weft__mxe_submit_message(srv.e, id, &x), 0);
  }
  ASSERT_EQ(weft__mxe_submit_status(srv.e, id, 0, "done", nullptr, 0, nullptr,
                                    nullptr),
            0);
  ASSERT_EQ(pipe(srv, cli), 0);
  EXPECT_EQ(cli.take(), "headers 1 x-h=1\nmessage 1 [a]\nmessage 1 [b]\n"
                        "message 1 [c]\nstatus 1 0 done\n");
}

TEST_F(MuxEngine, ClientStreamAndHalfClose) {
  uint64_t id = open("/s.S/Upload", nullptr);
  for (const char *m : {"1", "2"}) {
    weft__mxe_msg x = msg(m);
    ASSERT_EQ(weft__mxe_submit_message(cli.e, id, &x), 0);
  }
  ASSERT_EQ(weft__mxe_submit_half_close(cli.e, id), 0);
  // Half-closed: no more messages, no second HALF_CLOSE.
  weft__mxe_msg x = msg("3");
  EXPECT_EQ(weft__mxe_submit_message(cli.e, id, &x), WEFT_ERR_STATE);
  EXPECT_EQ(weft__mxe_submit_half_close(cli.e, id), WEFT_ERR_STATE);
  ASSERT_EQ(pipe(cli, srv), 0);
  EXPECT_EQ(srv.take(), "open 1 /s.S/Upload\nmessage 1 [1]\nmessage 1 [2]\n"
                        "half_close 1\n");
  weft__mxe_msg rep = msg("sum");
  ASSERT_EQ(
      weft__mxe_submit_status(srv.e, id, 0, "", nullptr, 0, nullptr, &rep), 0);
  ASSERT_EQ(pipe(srv, cli), 0);
  EXPECT_EQ(cli.take(), "status 1 0  [sum]\n");
}

TEST_F(MuxEngine, InterleavedBidiStreams) {
  char a[] = "A", b[] = "B";
  uint64_t s1 = open("/s.S/Chat", nullptr, nullptr, a);
  uint64_t s3 = open("/s.S/Chat", nullptr, nullptr, b);
  EXPECT_EQ(s3, 3u);
  EXPECT_EQ(weft__mxe_user(cli.e, s3), b);
  EXPECT_EQ(srv.take(), "open 1 /s.S/Chat\nopen 3 /s.S/Chat\n");
  ASSERT_EQ(weft__mxe_set_user(srv.e, s1, a), 0);
  ASSERT_EQ(weft__mxe_set_user(srv.e, s3, b), 0);
  for (int i = 0; i < 2; i++) {
    weft__mxe_msg x = msg(i ? "y" : "x");
    ASSERT_EQ(weft__mxe_submit_message(cli.e, s3, &x), 0);
    ASSERT_EQ(weft__mxe_submit_message(cli.e, s1, &x), 0);
    ASSERT_EQ(weft__mxe_submit_message(srv.e, s1, &x), 0);
    ASSERT_EQ(weft__mxe_submit_message(srv.e, s3, &x), 0);
  }
  ASSERT_EQ(pipe(cli, srv), 0);
  ASSERT_EQ(pipe(srv, cli), 0);
  EXPECT_EQ(srv.take(), "message 3 su=B [x]\nmessage 1 su=A [x]\n"
                        "message 3 su=B [y]\nmessage 1 su=A [y]\n");
  EXPECT_EQ(cli.take(), "message 1 su=A [x]\nmessage 3 su=B [x]\n"
                        "message 1 su=A [y]\nmessage 3 su=B [y]\n");
  ASSERT_EQ(weft__mxe_submit_half_close(cli.e, s1), 0);
  ASSERT_EQ(
      weft__mxe_submit_status(srv.e, s3, 0, "", nullptr, 0, nullptr, nullptr),
      0);
  ASSERT_EQ(pipe(cli, srv), 0);
  ASSERT_EQ(pipe(srv, cli), 0);
  EXPECT_EQ(srv.take(), "half_close 1\n");
  EXPECT_EQ(cli.take(), "status 3 0 \n");
  EXPECT_EQ(weft__mxe_count(cli.e), 1u);
  EXPECT_EQ(weft__mxe_count(srv.e), 1u);
}

TEST_F(MuxEngine, MetadataAndStatusDetails) {
  std::string bin("\x00\xff\x01", 3);
  Md md({{"authorization", "Bearer t"}, {"trace-bin", bin}});
  uint64_t id = open("/s.S/M", nullptr, &md.md);
  EXPECT_EQ(srv.take(),
            "open 1 /s.S/M authorization=Bearer t trace-bin=\\x00\\xff\\x01\n");
  Md tr({{"retry-after", "3"}});
  const uint8_t det[] = {'d', 'e', 't'};
  ASSERT_EQ(weft__mxe_submit_status(srv.e, id, 9, "failed precondition", det,
                                    sizeof det, &tr.md, nullptr),
            0);
  ASSERT_EQ(pipe(srv, cli), 0);
  EXPECT_EQ(cli.take(),
            "status 1 9 failed precondition retry-after=3 details=det\n");
}

TEST_F(MuxEngine, CancelFromClient) {
  uint64_t id = open("/s.S/Chat", nullptr);
  srv.take();
  // The server's message crosses the CANCEL: the client drops it.
  weft__mxe_msg x = msg("late");
  ASSERT_EQ(weft__mxe_submit_message(srv.e, id, &x), 0);
  ASSERT_EQ(weft__mxe_submit_cancel(cli.e, id, 1, "cancelled by the client"),
            0);
  ASSERT_EQ(pipe(cli, srv), 0);
  ASSERT_EQ(pipe(srv, cli), 0);
  EXPECT_EQ(srv.take(), "peer_reset 1 1 cancelled by the client\n");
  EXPECT_EQ(cli.take(), "");
  EXPECT_EQ(weft__mxe_submit_message(srv.e, id, &x), WEFT_ERR_STATE);
  EXPECT_EQ(weft__mxe_count(srv.e), 0u);
  EXPECT_EQ(weft__mxe_count(cli.e), 0u);
}

TEST_F(MuxEngine, CancelFromServer) {
  uint64_t id = open("/s.S/Chat", nullptr);
  srv.take();
  ASSERT_EQ(weft__mxe_submit_cancel(srv.e, id, 14, "overloaded"), 0);
  ASSERT_EQ(pipe(srv, cli), 0);
  EXPECT_EQ(cli.take(), "peer_reset 1 14 overloaded\n");
  // A CANCEL without a status is CANCELLED.
  id = open("/s.S/Chat", nullptr);
  srv.take();
  ASSERT_EQ(feed(cli, std::string("\x08\x03\x10\x06", 4)), 0);
  EXPECT_EQ(cli.take(), "peer_reset 3 1 \n");
}

// A stream that never reached the wire is dropped without a word.
TEST_F(MuxEngine, CancelBeforeOpen) {
  uint64_t id;
  ASSERT_EQ(weft__mxe_stream_new(cli.e, nullptr, &id), 0);
  ASSERT_EQ(weft__mxe_submit_cancel(cli.e, id, 1, "x"), 0);
  EXPECT_FALSE(weft__mxe_want_write(cli.e));
  EXPECT_EQ(weft__mxe_count(cli.e), 0u);
}

TEST_F(MuxEngine, OversizeMessages) {
  TearDown();
  make(false, 8);
  // Submitting over the limit queues nothing.
  uint64_t id = open("/s.S/Chat", nullptr);
  srv.take();
  weft__mxe_msg big = msg("123456789");
  EXPECT_EQ(weft__mxe_submit_message(cli.e, id, &big), WEFT_ERR_TOO_BIG);
  EXPECT_FALSE(weft__mxe_want_write(cli.e));
  // A peer that ignores the limit gets its stream ended, not the connection.
  std::string raw("\x08\x01\x10\x02\x2a\x09"
                  "123456789",
                  15);
  ASSERT_EQ(feed(srv, raw), 0);
  EXPECT_EQ(srv.take(), "reset 1 8 request message of 9 bytes is over the "
                        "server's limit of 8\n");
  ASSERT_EQ(pipe(srv, cli), 0);
  EXPECT_EQ(cli.take(), "status 1 8 request message of 9 bytes is over the "
                        "server's limit of 8\n");
  // The other way: the client resets and tells the server.
  id = open("/s.S/Chat", nullptr);
  srv.take();
  raw[1] = static_cast<char>(id);
  ASSERT_EQ(feed(cli, raw), 0);
  EXPECT_EQ(cli.take(), "reset 3 8 response message of 9 bytes is over the "
                        "limit of 8\n");
  ASSERT_EQ(pipe(cli, srv), 0);
  EXPECT_EQ(srv.take(), "peer_reset 3 8 response message of 9 bytes is over "
                        "the limit of 8\n");
  // An OPEN carrying too much is answered without opening a stream.
  ASSERT_EQ(feed(srv, std::string("\x08\x05\x10\x01\x2a\x09"
                                  "123456789",
                                  15)),
            0);
  EXPECT_EQ(srv.take(), "");
  EXPECT_EQ(weft__mxe_count(srv.e), 0u);
  ASSERT_EQ(pipe(srv, cli), 0); // stream 5 is unknown to the client
  EXPECT_EQ(cli.take(), "");
}

TEST_F(MuxEngine, UnknownStreamIdIsDropped) {
  ASSERT_EQ(feed(srv, std::string("\x08\x63\x10\x02\x2a\x01x", 7)), 0);
  ASSERT_EQ(feed(srv, std::string("\x08\x63\x10\x06", 4)), 0);
  ASSERT_EQ(feed(cli, std::string("\x08\x63\x10\x05", 4)), 0);
  EXPECT_EQ(srv.take(), "");
  EXPECT_EQ(cli.take(), "");
  // The connection goes on.
  weft__mxe_msg req = msg("r");
  open(kUnary, &req);
  EXPECT_EQ(srv.take(), "open 1 /aitbc.v1.Jobs/GetJob [r]\n");
}

struct BadCase {
  const char *name;
  bool to_server;
  std::string raw;
  bool text;
  const char *reason;
};

TEST_F(MuxEngine, ProtocolViolationsAreConnectionErrors) {
  const BadCase cases[] = {
      {"truncated", true, std::string("\x08", 1), false, "stream_id"},
      {"bad wire type", true, std::string("\x0d\x01\x02\x03\x04", 5), false,
       "stream_id"},
      {"text on binary", true, "{}", true, "text frame on a binary"},
      {"even OPEN", true, std::string("\x08\x02\x10\x01", 4), false,
       "OPEN on stream 2: client streams are odd"},
      {"OPEN on 0", true, std::string("\x10\x01", 2), false,
       "OPEN on stream 0, which is the connection"},
      {"OPEN from server", false, std::string("\x08\x01\x10\x01", 4), false,
       "OPEN from the server (stream 1)"},
      {"HALF_CLOSE from server", false, std::string("\x08\x01\x10\x03", 4),
       false, "HALF_CLOSE from the server on stream 1"},
      {"STATUS from client", true, std::string("\x08\x01\x10\x05", 4), false,
       "STATUS from the client on stream 1"},
      {"HEADERS from client", true, std::string("\x08\x01\x10\x04", 4), false,
       "HEADERS from the client on stream 1"},
      {"MESSAGE on 0", true, std::string("\x10\x02", 2), false,
       "MESSAGE on stream 0"},
  };
  for (const auto &c : cases) {
    TearDown();
    make();
    Side &to = c.to_server ? srv : cli;
    int rc = feed(to, c.raw, c.text);
    EXPECT_LT(rc, 0) << c.name;
    EXPECT_EQ(err.code, rc) << c.name;
    EXPECT_NE(std::string(err.message).find(c.reason), std::string::npos)
        << c.name << ": " << err.message;
    // The engine is done: more input is refused.
    EXPECT_EQ(feed(to, std::string("\x08\x01\x10\x01", 4)), WEFT_ERR_CLOSED)
        << c.name;
  }
}

TEST_F(MuxEngine, DuplicateStreamId) {
  open("/s.S/Chat", nullptr);
  ASSERT_LT(feed(srv, std::string("\x08\x01\x10\x01\x1a\x01x", 7)), 0);
  EXPECT_EQ(err.code, WEFT_ERR_PROTOCOL);
  EXPECT_STREQ(err.message, "OPEN on stream 1, which is already open");
}

TEST_F(MuxEngine, MessageAfterHalfClose) {
  uint64_t id = open("/s.S/Upload", nullptr);
  ASSERT_EQ(weft__mxe_submit_half_close(cli.e, id), 0);
  ASSERT_EQ(pipe(cli, srv), 0);
  ASSERT_LT(feed(srv, std::string("\x08\x01\x10\x02", 4)), 0);
  EXPECT_STREQ(err.message, "MESSAGE on stream 1 after its HALF_CLOSE");
}

TEST_F(MuxEngine, FrameOnStreamNotOpenedYet) {
  uint64_t id;
  ASSERT_EQ(weft__mxe_stream_new(cli.e, nullptr, &id), 0);
  ASSERT_LT(feed(cli, std::string("\x08\x01\x10\x02", 4)), 0);
  EXPECT_STREQ(err.message,
               "MESSAGE on stream 1, which the client has not opened");
}

TEST_F(MuxEngine, CallbackErrorIsConnectionError) {
  srv.fail_next = WEFT_ERR_NOMEM;
  uint64_t id;
  ASSERT_EQ(weft__mxe_stream_new(cli.e, nullptr, &id), 0);
  ASSERT_EQ(weft__mxe_submit_open(cli.e, id, "/s.S/M", nullptr, 0, 0, nullptr),
            0);
  EXPECT_EQ(pipe(cli, srv), WEFT_ERR_NOMEM);
  EXPECT_EQ(err.code, WEFT_ERR_NOMEM);
  EXPECT_EQ(weft__mxe_submit_ping(srv.e, nullptr, 0), WEFT_ERR_CLOSED);
}

// Each side may send only what the protocol gives it, in order; a refused
// submission queues nothing.
TEST_F(MuxEngine, SubmissionsOutOfOrderAreRefused) {
  weft__mxe_msg x = msg("x");
  uint64_t id;
  ASSERT_EQ(weft__mxe_stream_new(cli.e, nullptr, &id), 0);
  EXPECT_EQ(weft__mxe_submit_message(cli.e, id, &x), WEFT_ERR_STATE);
  EXPECT_EQ(weft__mxe_submit_half_close(cli.e, id), WEFT_ERR_STATE);
  EXPECT_EQ(weft__mxe_submit_headers(cli.e, id, nullptr), WEFT_ERR_STATE);
  EXPECT_EQ(
      weft__mxe_submit_status(cli.e, id, 0, "", nullptr, 0, nullptr, nullptr),
      WEFT_ERR_STATE);
  EXPECT_EQ(
      weft__mxe_submit_open(cli.e, id + 2, "/s.S/M", nullptr, 0, 0, nullptr),
      WEFT_ERR_STATE);
  ASSERT_EQ(weft__mxe_submit_open(cli.e, id, "/s.S/M", nullptr, 0, 0, nullptr),
            0);
  EXPECT_EQ(weft__mxe_submit_open(cli.e, id, "/s.S/M", nullptr, 0, 0, nullptr),
            WEFT_ERR_STATE);
  ASSERT_EQ(pipe(cli, srv), 0);
  srv.take();
  uint64_t sid;
  EXPECT_EQ(weft__mxe_stream_new(srv.e, nullptr, &sid), WEFT_ERR_STATE);
  EXPECT_EQ(weft__mxe_submit_half_close(srv.e, id), WEFT_ERR_STATE);
  EXPECT_EQ(weft__mxe_submit_open(srv.e, id, "/s.S/M", nullptr, 0, 0, nullptr),
            WEFT_ERR_STATE);
  EXPECT_FALSE(weft__mxe_want_write(cli.e));
  EXPECT_FALSE(weft__mxe_want_write(srv.e));
}

TEST_F(MuxEngine, PingPong) {
  const uint8_t ts[] = {'t', 's'};
  ASSERT_EQ(weft__mxe_submit_ping(cli.e, ts, sizeof ts), 0);
  ASSERT_EQ(pipe(cli, srv), 0);
  EXPECT_EQ(srv.take(), "ping [ts]\n");
  ASSERT_EQ(pipe(srv, cli), 0);
  EXPECT_EQ(cli.take(), "pong [ts]\n");
}

TEST_F(MuxEngine, GoawayRefusesNewStreams) {
  weft__mxe_msg req = msg("r");
  uint64_t id = open(kUnary, &req);
  srv.take();
  ASSERT_EQ(weft__mxe_submit_goaway(srv.e, 14, "draining"), 0);
  EXPECT_TRUE(weft__mxe_goaway_sent(srv.e));
  // An OPEN that crossed the GOAWAY is refused, not opened.
  ASSERT_EQ(feed(srv, std::string("\x08\x03\x10\x01", 4)), 0);
  EXPECT_EQ(srv.take(), "");
  ASSERT_EQ(pipe(srv, cli), 0);
  EXPECT_EQ(cli.take(), "goaway 14 draining\n");
  EXPECT_TRUE(weft__mxe_goaway_received(cli.e));
  uint64_t id2;
  EXPECT_EQ(weft__mxe_stream_new(cli.e, nullptr, &id2), WEFT_ERR_CLOSED);
  // Streams already open finish normally.
  ASSERT_EQ(
      weft__mxe_submit_status(srv.e, id, 0, "", nullptr, 0, nullptr, &req), 0);
  ASSERT_EQ(pipe(srv, cli), 0);
  EXPECT_EQ(cli.take(), "status 1 0  [r]\n");
}

TEST_F(MuxEngine, Deadlines) {
  const int64_t s = 1000000000;
  uint64_t id;
  EXPECT_EQ(weft__mxe_next_deadline(cli.e), INT64_MAX);
  ASSERT_EQ(weft__mxe_stream_new(cli.e, nullptr, &id), 0);
  ASSERT_EQ(
      weft__mxe_submit_open(cli.e, id, "/s.S/Chat", nullptr, 5 * s, s, nullptr),
      0);
  EXPECT_EQ(weft__mxe_next_deadline(cli.e), 5 * s);
  // The server counts the relative timeout from its own clock.
  ASSERT_EQ(pipe(cli, srv, 100 * s), 0);
  EXPECT_EQ(srv.take(), "open 1 /s.S/Chat timeout\n");
  EXPECT_EQ(weft__mxe_next_deadline(srv.e), 104 * s);
  EXPECT_EQ(weft__mxe_expire(cli.e, 5 * s - 1), 0);
  EXPECT_EQ(weft__mxe_expire(cli.e, 5 * s), 1);
  EXPECT_EQ(cli.take(), "reset 1 4 deadline exceeded\n");
  ASSERT_EQ(pipe(cli, srv), 0);
  EXPECT_EQ(srv.take(), "peer_reset 1 4 deadline exceeded\n");
  EXPECT_EQ(weft__mxe_next_deadline(srv.e), INT64_MAX);
  // And a server stream that outlives its deadline ends with a STATUS.
  ASSERT_EQ(weft__mxe_stream_new(cli.e, nullptr, &id), 0);
  ASSERT_EQ(
      weft__mxe_submit_open(cli.e, id, "/s.S/Chat", nullptr, 2 * s, s, nullptr),
      0);
  ASSERT_EQ(pipe(cli, srv, 0), 0);
  srv.take();
  EXPECT_EQ(weft__mxe_expire(srv.e, s), 1);
  EXPECT_EQ(srv.take(), "reset 3 4 deadline exceeded\n");
  ASSERT_EQ(pipe(srv, cli), 0);
  EXPECT_EQ(cli.take(), "status 3 4 deadline exceeded\n");
}

TEST_F(MuxEngine, JsonCodec) {
  TearDown();
  make(true);
  Md md({{"k", "v"}});
  weft__mxe_msg req = msg("{\"id\":\"7\"}");
  uint64_t id = open(kUnary, &req, &md.md);
  EXPECT_EQ(srv.take(), "open 1 /aitbc.v1.Jobs/GetJob k=v [{\"id\":\"7\"}]\n");
  weft__mxe_msg rep = msg("{}");
  ASSERT_EQ(weft__mxe_submit_status(srv.e, id, 5, "no job 7", nullptr, 0,
                                    nullptr, &rep),
            0);
  weft__mxe_chunk *c = weft__mxe_take_output(srv.e);
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->text);
  EXPECT_EQ(c->data[0], '{');
  ASSERT_EQ(weft__mxe_feed(cli.e, c->data, c->len, true, 0, &err), 0);
  free(c);
  EXPECT_EQ(cli.take(), "status 1 5 no job 7 [{}]\n");
  // A binary frame on a JSON connection is a connection error.
  EXPECT_EQ(feed(srv, std::string("\x08\x01", 2)), WEFT_ERR_PROTOCOL);
  EXPECT_STREQ(err.message, "binary frame on a JSON connection");
}

} // namespace
