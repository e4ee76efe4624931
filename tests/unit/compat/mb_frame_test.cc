// MB on TCP: 4-byte big-endian length + message, deframed from chunks of
// every size down to one byte.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "weft/mb.h"

namespace {

std::string frame(const std::string &msg) {
  uint8_t p[4];
  weft_mb_frame_prefix(p, msg.size());
  return std::string((const char *)p, 4) + msg;
}

// Feeds `wire` in chunks of `chunk` bytes; returns the messages.
std::vector<std::string> deframe(const std::string &wire, size_t chunk,
                                 int *rv_out = nullptr, size_t max = 0) {
  weft_mb_deframer d;
  weft_mb_deframer_init(&d, max);
  std::vector<std::string> out;
  int rv = 0;
  for (size_t off = 0; off < wire.size() && rv == 0; off += chunk) {
    size_t n = std::min(chunk, wire.size() - off);
    const uint8_t *in = (const uint8_t *)wire.data() + off;
    while (true) {
      const uint8_t *msg;
      size_t len;
      weft_error err{};
      ssize_t used = weft_mb_deframer_feed(&d, in, n, &msg, &len, &err);
      if (used < 0) {
        rv = (int)used;
        break;
      }
      if (msg)
        out.emplace_back((const char *)msg, len);
      in += used;
      n -= (size_t)used;
      if (n == 0 && !msg)
        break;
      if (n == 0 && msg)
        continue; // a second call with nothing left returns 0, no message
    }
  }
  if (rv_out)
    *rv_out = rv;
  weft_mb_deframer_free(&d);
  return out;
}

TEST(MbFrame, PrefixIsBigEndian) {
  uint8_t p[4];
  weft_mb_frame_prefix(p, 0x01020304);
  EXPECT_EQ(p[0], 1);
  EXPECT_EQ(p[1], 2);
  EXPECT_EQ(p[2], 3);
  EXPECT_EQ(p[3], 4);
  // The greeting as it goes on the wire: 34 bytes of message.
  std::string golden("\x00\x00\x00\x22publish:system.initialize:1.0.0\n{}", 38);
  EXPECT_EQ(frame("publish:system.initialize:1.0.0\n{}"), golden);
}

TEST(MbFrame, EveryChunkSize) {
  std::vector<std::string> msgs = {
      "publish:system.initialize:1.0.0\n{}",
      "request:jobs.create:1.0.0:0f8fad5b-d9cb-469f-a165-70867728950e::5000\n"
      "{\"payload\":{\"model\":\"llama\"}}",
      "publish:x:1.0.0\n\"" + std::string(16000, 'z') + "\"",
      "response:t:1.0.0\n{}"};
  std::string wire;
  for (auto &m : msgs)
    wire += frame(m);
  for (size_t chunk : {(size_t)1, (size_t)2, (size_t)3, (size_t)4, (size_t)5,
                       (size_t)7, (size_t)64, (size_t)4099, wire.size()}) {
    int rv = 0;
    auto got = deframe(wire, chunk, &rv);
    EXPECT_EQ(rv, 0) << chunk;
    EXPECT_EQ(got, msgs) << "chunk " << chunk;
  }
}

TEST(MbFrame, OverLimitLengthIsFatal) {
  // 16752: one byte over the broker's 367 + 16,384.
  std::string wire("\x00\x00\x41\x70", 4);
  ASSERT_EQ(0x4170, WEFT_MB_MAX_MESSAGE + 1);
  ASSERT_EQ(16751, WEFT_MB_MAX_MESSAGE);
  int rv = 0;
  auto got = deframe(wire + "xxxx", 1, &rv);
  EXPECT_EQ(rv, WEFT_ERR_FRAME_TOO_BIG);
  EXPECT_TRUE(got.empty());

  // Sticky: later input is refused too.
  weft_mb_deframer d;
  weft_mb_deframer_init(&d, 0);
  const uint8_t *msg;
  size_t len;
  weft_error err{};
  EXPECT_EQ(weft_mb_deframer_feed(&d, (const uint8_t *)wire.data(), 4, &msg,
                                  &len, &err),
            WEFT_ERR_FRAME_TOO_BIG);
  std::string ok = frame("publish:t:1.0.0\n{}");
  EXPECT_LT(weft_mb_deframer_feed(&d, (const uint8_t *)ok.data(), ok.size(),
                                  &msg, &len, &err),
            0);
  weft_mb_deframer_free(&d);

  // Exactly the limit is accepted.
  std::string big =
      "publish:t:1.0.0\n\"" + std::string(WEFT_MB_MAX_MESSAGE - 18, 'q') + "\"";
  ASSERT_EQ(big.size(), (size_t)WEFT_MB_MAX_MESSAGE);
  got = deframe(frame(big), 1000, &rv);
  EXPECT_EQ(rv, 0);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], big);
  // A 4 GiB length claim.
  got = deframe(std::string("\xff\xff\xff\xff", 4), 4, &rv);
  EXPECT_EQ(rv, WEFT_ERR_FRAME_TOO_BIG);
}

TEST(MbFrame, ZeroLengthAndCustomLimit) {
  // A zero length is an empty message (the broker answers it
  // MALFORMED_MESSAGE), and the stream goes on.
  int rv = 0;
  for (size_t chunk : {1, 3, 4, 100}) {
    auto got = deframe(std::string("\x00\x00\x00\x00", 4) +
                           frame("publish:t:1.0.0\n{}"),
                       chunk, &rv);
    EXPECT_EQ(rv, 0);
    ASSERT_EQ(got.size(), 2u) << chunk;
    EXPECT_EQ(got[0], "");
    EXPECT_EQ(got[1], "publish:t:1.0.0\n{}");
  }
  auto got = deframe(frame("0123456789"), 3, &rv, 10);
  EXPECT_EQ(rv, 0);
  ASSERT_EQ(got.size(), 1u);
  deframe(frame("0123456789a"), 3, &rv, 10);
  EXPECT_EQ(rv, WEFT_ERR_FRAME_TOO_BIG);
}

TEST(MbFrame, PartialInputWaits) {
  weft_mb_deframer d;
  weft_mb_deframer_init(&d, 0);
  std::string w = frame("publish:t:1.0.0\n{}");
  const uint8_t *msg;
  size_t len;
  weft_error err{};
  // Everything but the last byte: consumed, no message.
  ssize_t used = weft_mb_deframer_feed(&d, (const uint8_t *)w.data(),
                                       w.size() - 1, &msg, &len, &err);
  EXPECT_EQ(used, (ssize_t)w.size() - 1);
  EXPECT_EQ(msg, nullptr);
  used = weft_mb_deframer_feed(&d, (const uint8_t *)w.data() + w.size() - 1, 1,
                               &msg, &len, &err);
  EXPECT_EQ(used, 1);
  ASSERT_NE(msg, nullptr);
  EXPECT_EQ(std::string((const char *)msg, len), "publish:t:1.0.0\n{}");
  weft_mb_deframer_free(&d);
}

} // namespace
