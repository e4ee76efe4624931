// The length-prefix framer: every input in every chunk size, pauses,
// oversize frames rejected before any allocation.
#include <gtest/gtest.h>

#include <string>
#include <vector>

extern "C" {
#include "framer.h"
}

namespace {

struct Sink {
  std::vector<std::string> frames;
  int pause_every = 0; // pause after every n-th frame
  int fail_at = -1;    // return an error at this frame
};

int on_frame(void *ud, const uint8_t *p, size_t n) {
  auto *s = static_cast<Sink *>(ud);
  if ((int)s->frames.size() == s->fail_at)
    return WEFT_ERR_PROTOCOL;
  s->frames.emplace_back(reinterpret_cast<const char *>(p), n);
  if (s->pause_every && s->frames.size() % s->pause_every == 0)
    return 1;
  return 0;
}

std::string frame(const std::string &body) {
  uint8_t h[4];
  weft__lpf_put_header(h, (uint32_t)body.size());
  return std::string(reinterpret_cast<char *>(h), 4) + body;
}

std::vector<std::string> sample_bodies() {
  std::vector<std::string> b;
  for (size_t n : {0, 1, 3, 4, 5, 17, 0, 64, 255, 256, 300})
    b.push_back(std::string(n, static_cast<char>('a' + n % 26)));
  b[5][3] = '\0'; // binary content survives
  return b;
}

size_t g_allocs;
void *count_alloc(size_t n) {
  g_allocs++;
  return malloc(n);
}

} // namespace

TEST(LengthFramer, EveryChunkSize) {
  auto bodies = sample_bodies();
  std::string wire;
  for (auto &b : bodies)
    wire += frame(b);
  for (size_t chunk = 1; chunk <= wire.size(); chunk++) {
    weft__lpf f;
    weft__lpf_init(&f, 1024);
    Sink s;
    weft_error err;
    for (size_t off = 0; off < wire.size(); off += chunk) {
      size_t n = std::min(chunk, wire.size() - off);
      ssize_t r = weft__lpf_feed(
          &f, reinterpret_cast<const uint8_t *>(wire.data()) + off, n, on_frame,
          &s, &err);
      ASSERT_EQ(r, (ssize_t)n) << "chunk " << chunk << " off " << off;
    }
    ASSERT_EQ(s.frames, bodies) << "chunk " << chunk;
    EXPECT_TRUE(weft__lpf_idle(&f));
    weft__lpf_free(&f);
  }
}

TEST(LengthFramer, LargeFrameSplitAnywhere) {
  std::string big(70000, 'x');
  for (size_t i = 0; i < big.size(); i++)
    big[i] = static_cast<char>(i * 7);
  std::string wire = frame(big) + frame("tail");
  for (size_t chunk : {1, 2, 3, 5, 1000, 4096, 65536, 70003, 70004, 70005}) {
    weft__lpf f;
    weft__lpf_init(&f, 100000);
    Sink s;
    for (size_t off = 0; off < wire.size(); off += chunk) {
      size_t n = std::min(chunk, wire.size() - off);
      ASSERT_EQ(weft__lpf_feed(
                    &f, reinterpret_cast<const uint8_t *>(wire.data()) + off, n,
                    on_frame, &s, nullptr),
                (ssize_t)n);
    }
    ASSERT_EQ(s.frames.size(), 2u);
    EXPECT_EQ(s.frames[0], big);
    EXPECT_EQ(s.frames[1], "tail");
    weft__lpf_free(&f);
  }
}

TEST(LengthFramer, WholeFramesAreNotCopied) {
  std::string wire = frame("abc") + frame("defg");
  weft__lpf f;
  weft__lpf_init(&f, 0);
  g_allocs = 0;
  f.alloc = count_alloc;
  Sink s;
  ASSERT_EQ(weft__lpf_feed(&f, (const uint8_t *)wire.data(), wire.size(),
                           on_frame, &s, nullptr),
            (ssize_t)wire.size());
  EXPECT_EQ(g_allocs, 0u);
  EXPECT_EQ(s.frames.size(), 2u);
  weft__lpf_free(&f);
}

TEST(LengthFramer, PauseReturnsConsumedBytes) {
  auto bodies = sample_bodies();
  std::string wire;
  for (auto &b : bodies)
    wire += frame(b);
  weft__lpf f;
  weft__lpf_init(&f, 1024);
  Sink s;
  s.pause_every = 1;
  size_t off = 0;
  int calls = 0;
  while (off < wire.size()) {
    ssize_t r = weft__lpf_feed(&f, (const uint8_t *)wire.data() + off,
                               wire.size() - off, on_frame, &s, nullptr);
    ASSERT_GT(r, 0);
    off += (size_t)r;
    calls++;
    ASSERT_EQ(s.frames.size(), (size_t)calls); // one frame per feed
  }
  EXPECT_EQ(s.frames, bodies);
  weft__lpf_free(&f);
}

TEST(LengthFramer, OversizeFrameFailsBeforeAllocating) {
  for (uint32_t n : {1025u, 0x7fffffffu, 0xffffffffu}) {
    weft__lpf f;
    weft__lpf_init(&f, 1024);
    g_allocs = 0;
    f.alloc = count_alloc;
    Sink s;
    weft_error err;
    uint8_t h[4];
    weft__lpf_put_header(h, n);
    ssize_t r = 0;
    for (int i = 0; i < 4 && r >= 0; i++) // header a byte at a time
      r = weft__lpf_feed(&f, h + i, 1, on_frame, &s, &err);
    EXPECT_EQ(r, WEFT_ERR_FRAME_TOO_BIG);
    EXPECT_NE(std::string(err.message).find("over the limit of 1024"),
              std::string::npos)
        << err.message;
    EXPECT_EQ(g_allocs, 0u);
    // Sticky: the connection must be closed.
    EXPECT_EQ(weft__lpf_feed(&f, h, 1, on_frame, &s, &err),
              WEFT_ERR_FRAME_TOO_BIG);
    EXPECT_TRUE(s.frames.empty());
    weft__lpf_free(&f);
  }
}

TEST(LengthFramer, MaxSizedFrameIsAccepted) {
  std::string body(1024, 'z');
  std::string wire = frame(body);
  weft__lpf f;
  weft__lpf_init(&f, 1024);
  Sink s;
  for (size_t i = 0; i < wire.size(); i++)
    ASSERT_EQ(weft__lpf_feed(&f, (const uint8_t *)wire.data() + i, 1, on_frame,
                             &s, nullptr),
              1);
  ASSERT_EQ(s.frames.size(), 1u);
  EXPECT_EQ(s.frames[0], body);
  weft__lpf_free(&f);
}

TEST(LengthFramer, CallbackErrorIsSticky) {
  std::string wire = frame("a") + frame("bb") + frame(std::string(50, 'c'));
  weft__lpf f;
  weft__lpf_init(&f, 0);
  Sink s;
  s.fail_at = 1;
  EXPECT_EQ(weft__lpf_feed(&f, (const uint8_t *)wire.data(), wire.size(),
                           on_frame, &s, nullptr),
            WEFT_ERR_PROTOCOL);
  EXPECT_EQ(s.frames.size(), 1u);
  EXPECT_LT(weft__lpf_feed(&f, (const uint8_t *)"x", 1, on_frame, &s, nullptr),
            0);
  weft__lpf_free(&f);
}

TEST(LengthFramer, TruncatedStreamIsNotIdle) {
  std::string wire = frame("hello");
  weft__lpf f;
  weft__lpf_init(&f, 0);
  Sink s;
  ASSERT_EQ(weft__lpf_feed(&f, (const uint8_t *)wire.data(), 6, on_frame, &s,
                           nullptr),
            6);
  EXPECT_FALSE(weft__lpf_idle(&f)); // EOF here = peer died mid-frame
  weft__lpf_free(&f);               // frees the partial body (ASan checks)
}
