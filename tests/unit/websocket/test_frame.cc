// The frame engine: every input is fed in every chunk size from the whole
// buffer down to one byte, and must give the same events each time.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "weft/error.h"
#include "ws_frame.h"

namespace {

struct Ev {
  int type;
  int opcode;
  std::string data;
  int code;
  bool operator==(const Ev &o) const {
    return type == o.type && opcode == o.opcode && data == o.data &&
           code == o.code;
  }
};

std::ostream &operator<<(std::ostream &os, const Ev &e) {
  return os << "{type " << e.type << " op " << e.opcode << " len "
            << e.data.size() << " code " << e.code << "}";
}

const uint8_t kKey[4] = {0x37, 0xfa, 0x21, 0x3d};

// One frame. mask: client-to-server. rsv: bits 4..6 of the first byte.
std::string frame(int op, bool fin, const std::string &payload, bool mask,
                  uint8_t rsv = 0) {
  uint8_t h[14];
  size_t n =
      weft__ws_frame_header(h, fin, op, payload.size(), mask ? kKey : nullptr);
  h[0] |= static_cast<uint8_t>(rsv << 4);
  std::string out(reinterpret_cast<char *>(h), n);
  std::string p = payload;
  if (mask)
    weft__ws_mask(reinterpret_cast<uint8_t *>(&p[0]), p.size(), kKey, 0);
  return out + p;
}

std::vector<Ev> feed(bool server, size_t max, const std::string &wire,
                     size_t chunk) {
  weft__ws_rx rx;
  weft__ws_rx_init(&rx, server, max);
  std::vector<uint8_t> buf(wire.begin(), wire.end());
  std::vector<Ev> evs;
  size_t pos = 0;
  while (pos < buf.size()) {
    size_t end = std::min(pos + chunk, buf.size());
    while (pos < end) {
      weft__ws_event ev;
      size_t n = weft__ws_rx_parse(&rx, buf.data() + pos, end - pos, &ev);
      pos += n;
      if (ev.type != WEFT__WS_EV_NONE)
        evs.push_back(
            {ev.type, ev.opcode,
             std::string(reinterpret_cast<const char *>(ev.data), ev.len),
             ev.code});
      else if (n == 0)
        ADD_FAILURE() << "no progress";
      if (n == 0 && ev.type == WEFT__WS_EV_NONE)
        break;
    }
  }
  weft__ws_rx_free(&rx);
  return evs;
}

// Feeds in every chunk size and checks each run gives `want`.
void expect_all_chunks(bool server, size_t max, const std::string &wire,
                       const std::vector<Ev> &want) {
  for (size_t c = 1; c <= wire.size(); c++) {
    auto got = feed(server, max, wire, c);
    ASSERT_EQ(got, want) << "chunk size " << c;
  }
}

Ev msg(int op, const std::string &d) {
  return {WEFT__WS_EV_MESSAGE, op, d, 0};
}
Ev ctl(int type, const std::string &d, int code = 0) {
  return {type, 0, d, code};
}
Ev err(int code) {
  return {WEFT__WS_EV_ERROR, 0, "", code};
}
std::string be16(int c) {
  return std::string{static_cast<char>(c >> 8), static_cast<char>(c & 0xff)};
}

TEST(WsRx, SingleFramesBothDirections) {
  for (bool server : {true, false}) {
    std::string w =
        frame(WEFT__WS_OP_TEXT, true, "hello", server) +
        frame(WEFT__WS_OP_BINARY, true, std::string("\0\1\2", 3), server) +
        frame(WEFT__WS_OP_BINARY, true, "", server);
    expect_all_chunks(server, 0, w,
                      {msg(WEFT__WS_OP_TEXT, "hello"),
                       msg(WEFT__WS_OP_BINARY, std::string("\0\1\2", 3)),
                       msg(WEFT__WS_OP_BINARY, "")});
  }
}

TEST(WsRx, LengthEncodings) {
  // 7-bit, 16-bit and 64-bit lengths at their edges.
  for (size_t len : {125u, 126u, 127u, 65535u, 65536u, 70000u}) {
    std::string p(len, 'x');
    for (size_t i = 0; i < len; i++)
      p[i] = static_cast<char>('a' + i % 26);
    std::string w = frame(WEFT__WS_OP_BINARY, true, p, true);
    // every chunk size is too slow for 70 KB; a spread of sizes instead
    for (size_t c : {1ul, 2ul, 3ul, 7ul, 13ul, 126ul, 4096ul, w.size()})
      ASSERT_EQ(feed(true, 0, w, c),
                std::vector<Ev>{msg(WEFT__WS_OP_BINARY, p)})
          << len << " chunk " << c;
  }
}

TEST(WsRx, FragmentsWithControlFramesBetween) {
  // "κόσμε" split inside a character across fragments, a ping and a pong
  // between fragments.
  std::string text = "\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5";
  std::string w = frame(WEFT__WS_OP_TEXT, false, text.substr(0, 3), true) +
                  frame(WEFT__WS_OP_PING, true, "p1", true) +
                  frame(WEFT__WS_OP_CONT, false, text.substr(3, 5), true) +
                  frame(WEFT__WS_OP_PONG, true, "", true) +
                  frame(WEFT__WS_OP_CONT, false, "", true) +
                  frame(WEFT__WS_OP_CONT, true, text.substr(8), true) +
                  frame(WEFT__WS_OP_BINARY, false, "ab", true) +
                  frame(WEFT__WS_OP_CONT, true, "cd", true);
  expect_all_chunks(true, 0, w,
                    {ctl(WEFT__WS_EV_PING, "p1"), ctl(WEFT__WS_EV_PONG, ""),
                     msg(WEFT__WS_OP_TEXT, text),
                     msg(WEFT__WS_OP_BINARY, "abcd")});
}

TEST(WsRx, CloseFrames) {
  expect_all_chunks(
      true, 0,
      frame(WEFT__WS_OP_CLOSE, true, be16(1000) + "bye", true) +
          frame(WEFT__WS_OP_TEXT, true, "ignored after close", true),
      {ctl(WEFT__WS_EV_CLOSE, "bye", 1000)});
  expect_all_chunks(false, 0, frame(WEFT__WS_OP_CLOSE, true, "", false),
                    {ctl(WEFT__WS_EV_CLOSE, "", 1005)});
  expect_all_chunks(false, 0, frame(WEFT__WS_OP_CLOSE, true, be16(4001), false),
                    {ctl(WEFT__WS_EV_CLOSE, "", 4001)});
}

struct BadCase {
  const char *name;
  bool server;
  size_t max;
  std::string wire;
  int code;
};

TEST(WsRx, MalformedFramesGetTheirCloseCode) {
  std::string big16 = "\x82\xFE";
  std::vector<BadCase> cases = {
      {"RSV1", true, 0, frame(WEFT__WS_OP_TEXT, true, "a", true, 4), 1002},
      {"RSV2", true, 0, frame(WEFT__WS_OP_TEXT, true, "a", true, 2), 1002},
      {"RSV3", true, 0, frame(WEFT__WS_OP_PING, true, "", true, 1), 1002},
      {"opcode 3", true, 0, frame(3, true, "a", true), 1002},
      {"opcode 7", true, 0, frame(7, true, "", true), 1002},
      {"opcode 0xB", true, 0, frame(0xB, true, "", true), 1002},
      {"opcode 0xF", false, 0, frame(0xF, true, "", false), 1002},
      {"unmasked client frame", true, 0,
       frame(WEFT__WS_OP_TEXT, true, "a", false), 1002},
      {"masked server frame", false, 0,
       frame(WEFT__WS_OP_TEXT, true, "a", true), 1002},
      {"fragmented ping", true, 0, frame(WEFT__WS_OP_PING, false, "", true),
       1002},
      {"fragmented close", true, 0,
       frame(WEFT__WS_OP_CLOSE, false, be16(1000), true), 1002},
      {"ping over 125", true, 0,
       frame(WEFT__WS_OP_PING, true, std::string(126, 'p'), true), 1002},
      {"continuation first", true, 0, frame(WEFT__WS_OP_CONT, true, "a", true),
       1002},
      {"text inside fragments", true, 0,
       frame(WEFT__WS_OP_TEXT, false, "a", true) +
           frame(WEFT__WS_OP_TEXT, true, "b", true),
       1002},
      {"non-minimal 16-bit length", false, 0,
       std::string("\x82\x7E\x00\x05", 4) + "hello", 1002},
      {"non-minimal 64-bit length", false, 0,
       std::string("\x82\x7F\0\0\0\0\0\0\0\x05", 10) + "hello", 1002},
      {"64-bit length top bit", false, 0,
       std::string("\x82\x7F\x80\0\0\0\0\0\0\x05", 10), 1002},
      {"close with 1 byte", true, 0,
       frame(WEFT__WS_OP_CLOSE, true, "\x03", true), 1002},
      {"close code 999", true, 0,
       frame(WEFT__WS_OP_CLOSE, true, be16(999), true), 1002},
      {"close code 1005", true, 0,
       frame(WEFT__WS_OP_CLOSE, true, be16(1005), true), 1002},
      {"close code 1006", true, 0,
       frame(WEFT__WS_OP_CLOSE, true, be16(1006), true), 1002},
      {"close code 2000", true, 0,
       frame(WEFT__WS_OP_CLOSE, true, be16(2000), true), 1002},
      {"close code 5000", true, 0,
       frame(WEFT__WS_OP_CLOSE, true, be16(5000), true), 1002},
      {"close reason not UTF-8", true, 0,
       frame(WEFT__WS_OP_CLOSE, true, be16(1000) + "\xFF", true), 1007},
      {"invalid UTF-8 text", true, 0,
       frame(WEFT__WS_OP_TEXT, true, "ok\xC0\xAF", true), 1007},
      {"surrogate in text", false, 0,
       frame(WEFT__WS_OP_TEXT, true, "\xED\xA0\x80", false), 1007},
      {"text ends mid-character", true, 0,
       frame(WEFT__WS_OP_TEXT, true, "\xE2\x82", true), 1007},
      {"fragmented text ends mid-character", true, 0,
       frame(WEFT__WS_OP_TEXT, false, "a\xE2", true) +
           frame(WEFT__WS_OP_CONT, true, "\x82", true),
       1007},
      {"invalid UTF-8 across fragments", true, 0,
       frame(WEFT__WS_OP_TEXT, false, "a\xF0", true) +
           frame(WEFT__WS_OP_CONT, true, "\x80\x80\x80", true),
       1007},
      {"message over max_size", true, 10,
       frame(WEFT__WS_OP_BINARY, true, std::string(11, 'x'), true), 1009},
      {"fragments over max_size", true, 10,
       frame(WEFT__WS_OP_BINARY, false, std::string(6, 'x'), true) +
           frame(WEFT__WS_OP_CONT, true, std::string(5, 'x'), true),
       1009},
      {"huge declared length", false, 1 << 20,
       std::string("\x82\x7F\x00\x00\x01\x00\x00\x00\x00\x00", 10), 1009},
  };
  (void)big16;
  for (auto &c : cases) {
    SCOPED_TRACE(c.name);
    expect_all_chunks(c.server, c.max, c.wire, {err(c.code)});
  }
}

TEST(WsRx, InvalidUtf8FailsBeforeTheMessageEnds) {
  // The parser reports 1007 as soon as the bad byte arrives, without
  // waiting for the remaining 1000 bytes of the frame.
  std::string w =
      frame(WEFT__WS_OP_TEXT, true, "ab\xFF" + std::string(1000, 'c'), false);
  weft__ws_rx rx;
  weft__ws_rx_init(&rx, false, 0);
  std::vector<uint8_t> buf(w.begin(), w.begin() + 8);
  weft__ws_event ev;
  weft__ws_rx_parse(&rx, buf.data(), buf.size(), &ev);
  EXPECT_EQ(ev.type, WEFT__WS_EV_ERROR);
  EXPECT_EQ(ev.code, 1007);
  weft__ws_rx_free(&rx);
}

TEST(WsRx, OversizeAllocatesNothing) {
  weft__ws_rx rx;
  weft__ws_rx_init(&rx, true, 1000);
  std::string w = frame(WEFT__WS_OP_BINARY, true, std::string(2000, 'x'), true);
  std::vector<uint8_t> buf(w.begin(), w.begin() + 8);
  weft__ws_event ev;
  weft__ws_rx_parse(&rx, buf.data(), buf.size(), &ev);
  EXPECT_EQ(ev.type, WEFT__WS_EV_ERROR);
  EXPECT_EQ(ev.code, 1009);
  EXPECT_EQ(weft__ws_rx_buffered(&rx), 0u);
  EXPECT_TRUE(weft__ws_rx_done(&rx));
  weft__ws_rx_free(&rx);
}

TEST(WsRx, SingleFrameMessageIsNotCopied) {
  std::string w = frame(WEFT__WS_OP_BINARY, true, "payload", true);
  std::vector<uint8_t> buf(w.begin(), w.end());
  weft__ws_rx rx;
  weft__ws_rx_init(&rx, true, 0);
  weft__ws_event ev;
  size_t n = weft__ws_rx_parse(&rx, buf.data(), buf.size(), &ev);
  EXPECT_EQ(n, buf.size());
  ASSERT_EQ(ev.type, WEFT__WS_EV_MESSAGE);
  EXPECT_EQ(ev.data, buf.data() + 6); // unmasked in place
  EXPECT_EQ(weft__ws_rx_buffered(&rx), 0u);
  weft__ws_rx_free(&rx);
}

int fixed_rand(void *ud, uint8_t *b, size_t n) {
  auto *ctr = static_cast<uint8_t *>(ud);
  for (size_t i = 0; i < n; i++)
    b[i] = (*ctr)++;
  return 0;
}

int failing_rand(void *, uint8_t *, size_t) {
  return -1;
}

// What a tx produced, parsed by the opposite side's rx.
std::vector<Ev> tx_to_rx(weft__ws_tx *tx) {
  size_t len;
  const uint8_t *d = weft__ws_tx_data(tx, &len);
  std::string w(reinterpret_cast<const char *>(d), len);
  weft__ws_tx_consume(tx, len);
  return feed(tx->client, 0, w, 1);
}

TEST(WsTx, RoundTripsThroughRx) {
  for (bool client : {true, false}) {
    uint8_t ctr = 0;
    weft__ws_tx tx;
    weft__ws_tx_init(&tx, client, fixed_rand, &ctr);
    std::string big(100000, 'z');
    ASSERT_EQ(
        weft__ws_tx_message(&tx, WEFT__WS_OP_TEXT, (const uint8_t *)"hi", 2),
        0);
    ASSERT_EQ(weft__ws_tx_message(&tx, WEFT__WS_OP_BINARY,
                                  (const uint8_t *)big.data(), big.size()),
              0);
    ASSERT_EQ(weft__ws_tx_frame(&tx, WEFT__WS_OP_TEXT, false,
                                (const uint8_t *)"fr", 2),
              0);
    ASSERT_EQ(weft__ws_tx_ping(&tx, (const uint8_t *)"x", 1), 0);
    ASSERT_EQ(weft__ws_tx_frame(&tx, WEFT__WS_OP_CONT, true,
                                (const uint8_t *)"ag", 2),
              0);
    ASSERT_EQ(weft__ws_tx_close(&tx, 1001, "going"), 0);
    EXPECT_EQ(tx_to_rx(&tx),
              (std::vector<Ev>{
                  msg(WEFT__WS_OP_TEXT, "hi"), msg(WEFT__WS_OP_BINARY, big),
                  ctl(WEFT__WS_EV_PING, "x"), msg(WEFT__WS_OP_TEXT, "frag"),
                  ctl(WEFT__WS_EV_CLOSE, "going", 1001)}));
    weft__ws_tx_free(&tx);
  }
}

TEST(WsTx, ClientMasksWithFreshKeys) {
  uint8_t ctr = 1;
  weft__ws_tx tx;
  weft__ws_tx_init(&tx, true, fixed_rand, &ctr);
  weft__ws_tx_message(&tx, WEFT__WS_OP_BINARY, (const uint8_t *)"aaaa", 4);
  weft__ws_tx_message(&tx, WEFT__WS_OP_BINARY, (const uint8_t *)"aaaa", 4);
  size_t len;
  const uint8_t *d = weft__ws_tx_data(&tx, &len);
  ASSERT_EQ(len, 20u);
  EXPECT_EQ(d[1], 0x84); // mask bit + length 4
  EXPECT_NE(memcmp(d + 2, d + 12, 4), 0) << "same key twice";
  EXPECT_NE(memcmp(d + 6, "aaaa", 4), 0) << "payload not masked";
  weft__ws_tx_free(&tx);
}

TEST(WsTx, DefaultRandomSourceWorks) {
  weft__ws_tx tx;
  weft__ws_tx_init(&tx, true, nullptr, nullptr);
  ASSERT_EQ(
      weft__ws_tx_message(&tx, WEFT__WS_OP_TEXT, (const uint8_t *)"abc", 3), 0);
  EXPECT_EQ(tx_to_rx(&tx), std::vector<Ev>{msg(WEFT__WS_OP_TEXT, "abc")});
  weft__ws_tx_free(&tx);
}

TEST(WsTx, EnforcesTheRules) {
  weft__ws_tx tx;
  weft__ws_tx_init(&tx, false, nullptr, nullptr);
  std::string p126(126, 'p');
  EXPECT_EQ(weft__ws_tx_ping(&tx, (const uint8_t *)p126.data(), 126),
            WEFT_ERR_INVAL);
  EXPECT_EQ(weft__ws_tx_frame(&tx, WEFT__WS_OP_PING, false, nullptr, 0),
            WEFT_ERR_INVAL);
  EXPECT_EQ(weft__ws_tx_frame(&tx, WEFT__WS_OP_CONT, true, nullptr, 0),
            WEFT_ERR_INVAL);
  EXPECT_EQ(weft__ws_tx_frame(&tx, 3, true, nullptr, 0), WEFT_ERR_INVAL);
  EXPECT_EQ(weft__ws_tx_frame(&tx, WEFT__WS_OP_TEXT, false, nullptr, 0), 0);
  EXPECT_EQ(weft__ws_tx_frame(&tx, WEFT__WS_OP_BINARY, true, nullptr, 0),
            WEFT_ERR_INVAL);
  EXPECT_EQ(weft__ws_tx_close(&tx, 1005, nullptr), WEFT_ERR_INVAL);
  EXPECT_EQ(weft__ws_tx_close(&tx, 1000, nullptr), 0);
  EXPECT_TRUE(tx.close_sent);
  EXPECT_EQ(weft__ws_tx_close(&tx, 1000, nullptr), 0); // no-op
  EXPECT_EQ(weft__ws_tx_frame(&tx, WEFT__WS_OP_CONT, true, nullptr, 0),
            WEFT_ERR_CLOSED);
  weft__ws_tx_free(&tx);

  weft__ws_tx_init(&tx, true, failing_rand, nullptr);
  EXPECT_EQ(weft__ws_tx_message(&tx, WEFT__WS_OP_TEXT, nullptr, 0),
            WEFT_ERR_INTERNAL);
  weft__ws_tx_free(&tx);
}

TEST(WsTx, CloseReasonIsCutOnACharacterBoundary) {
  std::string reason;
  for (int i = 0; i < 70; i++)
    reason += "\xCE\xBA"; // 140 bytes of two-byte characters
  weft__ws_tx tx;
  weft__ws_tx_init(&tx, false, nullptr, nullptr);
  ASSERT_EQ(weft__ws_tx_close(&tx, 1000, reason.c_str()), 0);
  auto evs = tx_to_rx(&tx);
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0].type, WEFT__WS_EV_CLOSE);
  EXPECT_EQ(evs[0].data.size(), 122u);
  weft__ws_tx_free(&tx);
}

TEST(WsTx, MaskAtEveryOffset) {
  // XOR with the key aligned at any offset equals the bytewise definition.
  for (size_t off = 0; off < 4; off++)
    for (size_t len = 0; len < 40; len++) {
      std::vector<uint8_t> d(len), want(len);
      for (size_t i = 0; i < len; i++) {
        d[i] = static_cast<uint8_t>(i * 7);
        want[i] = d[i] ^ kKey[(off + i) & 3];
      }
      weft__ws_mask(d.data(), len, kKey, off);
      EXPECT_EQ(d, want);
    }
}

} // namespace
