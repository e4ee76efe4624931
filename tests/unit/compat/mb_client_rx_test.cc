// The MB client's receive side (mb_client_rx.c) without sockets: a
// broker's byte stream in every chunk size yields the same messages and
// kinds; refusals name what was wrong; a stream cut short says where.
#include <gtest/gtest.h>

#include <string.h>

#include <string>
#include <vector>

#include "mb_client_int.h"

namespace {

std::string framed(const std::string &m) {
  uint8_t p[4];
  weft_mb_frame_prefix(p, m.size());
  return std::string((char *)p, 4) + m;
}

struct Seen {
  std::vector<std::string> kinds;
  std::string refused;
  static bool on_msg(void *ud, const char *msg, size_t len) {
    auto *s = static_cast<Seen *>(ud);
    weft_mb_message m;
    weft__mbc_kind k;
    weft_error err{};
    if (weft__mbc_classify(msg, len, &m, &k, &err) < 0) {
      EXPECT_EQ(err.code, WEFT_ERR_PROTOCOL);
      s->refused = err.message;
      return false;
    }
    static const char *names[] = {"greeting", "heartbeat", "response",
                                  "request", "publish"};
    s->kinds.push_back(std::string(names[k]) + ":" + m.header.request_id + ":" +
                       std::string(m.payload, m.payload_len));
    return true;
  }
};

const std::string kId = "0f8fad5b-d9cb-469f-a165-70867728950e";

TEST(MbClientRx, EveryChunkSizeGivesTheSameMessages) {
  std::string big(16751 - 16, 'p'); // a forwarded publish past 16,751
  std::string stream =
      framed("publish:system.initialize:1.0.0\n{}") +
      framed("request:system.heartbeat:1.0.0\n{}") +
      framed("response:jobs.create:1.0.0:" + kId + "\n{\"ok\":1}") +
      framed("request:jobs.run:1.0.0\n{\"x\":1}") +
      framed("publish:t:1.0.0:" + kId + "\n" + big) +
      framed("publish:t:1.0.0:" + kId + "\nnot json");
  std::vector<std::string> want = {"greeting::{}",
                                   "heartbeat::{}",
                                   "response:" + kId + ":{\"ok\":1}",
                                   "request::{\"x\":1}",
                                   "publish:" + kId + ":" + big,
                                   "publish:" + kId + ":not json"};
  for (size_t chunk : {1, 2, 3, 4, 5, 7, 64, 4099, 1 << 20}) {
    SCOPED_TRACE(chunk);
    weft_mb_deframer d;
    weft_mb_deframer_init(&d, WEFT__MBC_MAX_FROM_BROKER);
    Seen s;
    for (size_t off = 0; off < stream.size(); off += chunk) {
      size_t n = std::min(chunk, stream.size() - off);
      weft_error err{};
      ASSERT_EQ(weft__mbc_rx_feed(&d, (const uint8_t *)stream.data() + off, n,
                                  Seen::on_msg, &s, &err),
                0)
          << err.message;
    }
    EXPECT_EQ(s.kinds, want);
    char why[80];
    EXPECT_FALSE(weft__mbc_rx_mid_frame(&d, why, sizeof why));
    weft_mb_deframer_free(&d);
  }
}

TEST(MbClientRx, RefusalsSayWhat) {
  Seen s;
  weft_mb_deframer d;
  weft_mb_deframer_init(&d, WEFT__MBC_MAX_FROM_BROKER);
  std::string in = framed("garbage") + framed("publish:t:1.0.0\n{}");
  weft_error err{};
  EXPECT_EQ(weft__mbc_rx_feed(&d, (const uint8_t *)in.data(), in.size(),
                              Seen::on_msg, &s, &err),
            0);
  EXPECT_TRUE(s.kinds.empty()); // the feed stopped at the refusal
  EXPECT_NE(s.refused.find("not MB (7 bytes)"), std::string::npos) << s.refused;
  weft_mb_deframer_free(&d);

  // One byte over the client's limit (16,751 + 367), from the length.
  weft_mb_deframer_init(&d, WEFT__MBC_MAX_FROM_BROKER);
  std::string over("\x00\x00\x42\xdf", 4);
  EXPECT_EQ(weft__mbc_rx_feed(&d, (const uint8_t *)over.data(), over.size(),
                              Seen::on_msg, &s, &err),
            WEFT_ERR_FRAME_TOO_BIG);
  EXPECT_NE(strstr(err.message, "17119 over the limit 17118"), nullptr)
      << err.message;
  weft_mb_deframer_free(&d);
}

TEST(MbClientRx, CutShortSaysWhere) {
  weft_mb_deframer d;
  weft_mb_deframer_init(&d, WEFT__MBC_MAX_FROM_BROKER);
  Seen s;
  std::string in = std::string("\x00\x00\x00\x64", 4) + "publish:t";
  weft_error err{};
  ASSERT_EQ(weft__mbc_rx_feed(&d, (const uint8_t *)in.data(), in.size(),
                              Seen::on_msg, &s, &err),
            0);
  char why[80];
  ASSERT_TRUE(weft__mbc_rx_mid_frame(&d, why, sizeof why));
  EXPECT_STREQ(why, "9 of a 100-byte message");
  weft_mb_deframer_free(&d);
}

TEST(MbClientRx, HeartbeatAnswer) {
  weft_mb_header h;
  weft_error err{};
  std::string line = "request:system.heartbeat:1.0.0:" + kId + "::250";
  ASSERT_EQ(weft_mb_header_parse(line.data(), line.size(), &h, nullptr, &err),
            0)
      << err.message;
  weft_mb_header r;
  weft__mbc_heartbeat_answer(&h, &r);
  char *out = nullptr;
  size_t len = 0;
  ASSERT_EQ(weft_mb_encode(&r, "{}", 2, &out, &len, &err), 0) << err.message;
  EXPECT_EQ(std::string(out, len),
            "response:system.heartbeat:1.0.0:" + kId + "\n{}");
  free(out);
}

} // namespace
