// Misbehaving HTTP/2 clients against the weft server: a stream reset in the
// middle of a message, a client that stops reading a large stream, an
// enveloped message over the size limit, more concurrent streams than the
// server allows, headers over the limit. Each gets the right Connect error
// or HTTP/2 reaction, and the server keeps serving everybody else.
#include "h2_raw.h"
#include "h2_test_util.h"

#include <cstring>
#include <fstream>

using h2test::envelope;
using h2test::RawH2;
using h2test::Server;

namespace {

const char *kUnary = "/weft.test.Echo/Unary";
const char *kClientStream = "/weft.test.Echo/ClientStream";
const char *kServerStream = "/weft.test.Echo/ServerStream";

// A unary JSON call on a fresh connection: the server still serves.
void expect_serves(int port) {
  RawH2 c(port);
  ASSERT_TRUE(c.ok());
  int32_t id = c.request(kUnary, "application/json", R"({"text":"still"})");
  ASSERT_GT(id, 0);
  c.pump([&] { return c.streams[id].closed; });
  EXPECT_EQ(c.streams[id].status, 200);
  EXPECT_EQ(c.streams[id].body, R"({"text":"still"})");
}

long rss_kib() {
  std::ifstream f("/proc/self/statm");
  long pages = 0, rss = 0;
  f >> pages >> rss;
  return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

TEST(H2Malformed, StreamResetMidMessage) {
  Server s;
  RawH2 c(s.port());
  ASSERT_TRUE(c.ok());
  // Half of an enveloped message, then RST_STREAM(CANCEL).
  std::string msg = envelope(R"({"text":"0123456789"})");
  int32_t id = c.request(kClientStream, "application/connect+json",
                         msg.substr(0, 9), false);
  ASSERT_GT(id, 0);
  c.pump_for(200);
  c.reset(id);
  // The same connection goes on working.
  int32_t id2 = c.request(kUnary, "application/json", R"({"text":"after"})");
  c.pump([&] { return c.streams[id2].closed; });
  EXPECT_EQ(c.streams[id2].status, 200);
  EXPECT_EQ(c.streams[id2].body, R"({"text":"after"})");
  EXPECT_FALSE(c.goaway);
  // And so does a unary request reset before its body ended.
  int32_t id3 = c.request(kUnary, "application/json", R"({"te)", false);
  c.pump_for(100);
  c.reset(id3);
  int32_t id4 = c.request(kUnary, "application/json", R"({"text":"again"})");
  c.pump([&] { return c.streams[id4].closed; });
  EXPECT_EQ(c.streams[id4].status, 200);
  expect_serves(s.port());
}

TEST(H2Malformed, TruncatedEnvelopeAtEndOfStream) {
  Server s;
  RawH2 c(s.port());
  std::string msg = envelope(R"({"text":"abc"})");
  int32_t id = c.request(kClientStream, "application/connect+json",
                         msg.substr(0, msg.size() - 3), true);
  c.pump([&] { return c.streams[id].closed; });
  EXPECT_EQ(c.streams[id].status, 200);
  // The end-of-stream message carries the error.
  EXPECT_NE(c.streams[id].body.find("\"error\""), std::string::npos)
      << c.streams[id].body;
  expect_serves(s.port());
}

TEST(H2Malformed, OversizedEnvelope) {
  Server s("h2c://127.0.0.1:0", 64 * 1024);
  RawH2 c(s.port());
  // The prefix claims 100 MB; the server must answer without waiting for
  // (or allocating) the message.
  std::string body = envelope(std::string(1000, 'x'), 0, 100L << 20);
  int32_t id =
      c.request(kClientStream, "application/connect+json", body, false);
  c.pump([&] { return c.streams[id].closed || !c.streams[id].body.empty(); });
  auto &st = c.streams[id];
  EXPECT_EQ(st.status, 200);
  // An end-of-stream envelope (flag 0x02) with resource_exhausted.
  ASSERT_GE(st.body.size(), 5u);
  EXPECT_EQ((uint8_t)st.body[0] & 0x02, 0x02);
  EXPECT_NE(st.body.find("resource_exhausted"), std::string::npos) << st.body;
  // The client may still be sending: that is drained, not fatal.
  c.send_data(id, std::string(100000, 'y'), true);
  c.pump([&] { return c.streams[id].closed; });
  EXPECT_FALSE(c.goaway);
  expect_serves(s.port());

  // A unary body over the limit is resource_exhausted too (HTTP 429).
  RawH2 u(s.port());
  int32_t uid = u.request(kUnary, "application/json",
                          "{\"text\":\"" + std::string(100000, 'z') + "\"}");
  u.pump([&] { return u.streams[uid].closed; });
  EXPECT_EQ(u.streams[uid].status, 429);
  EXPECT_NE(u.streams[uid].body.find("resource_exhausted"), std::string::npos);
}

TEST(H2Malformed, ClientStopsReading) {
  Server s;
  // A server stream of ~32 MB of messages to a client that never returns
  // flow-control credit: the server must stop the handler (send() blocks
  // above a high-water mark) instead of buffering the lot.
  RawH2 slow(s.port(), /*auto_window=*/false);
  std::string text(4000, 'a');
  long before = rss_kib();
  int32_t id =
      slow.request(kServerStream, "application/connect+json",
                   envelope("{\"text\":\"" + text + "\",\"repeat\":8000}"));
  ASSERT_GT(id, 0);
  // Let the handler run as far as it can.
  slow.pump_for(1500);
  long grown = rss_kib() - before;
  EXPECT_LT(slow.streams[id].body.size(), 200u * 1024);
  EXPECT_FALSE(slow.streams[id].closed)
      << "error " << slow.streams[id].error << " status "
      << slow.streams[id].status << " body " << slow.streams[id].body.size();
  EXPECT_LT(grown, 12 * 1024) << "server buffered " << grown << " KiB";
  // Other clients are served meanwhile, on other connections and on the
  // slow client's own connection (only the stalled stream's window is
  // spent).
  expect_serves(s.port());
  int32_t id2 = slow.request(kUnary, "application/json", R"({"text":"x"})");
  slow.pump([&] { return slow.streams[id2].closed; });
  EXPECT_EQ(slow.streams[id2].status, 200);
  EXPECT_EQ(slow.streams[id2].body, R"({"text":"x"})");
  // Giving up on the stream unblocks the handler.
  slow.reset(id);
  slow.pump_for(100);
}

TEST(H2Malformed, TooManyConcurrentStreams) {
  Server s;
  RawH2 c(s.port());
  // Before the server's SETTINGS arrive the client may open any number of
  // streams; the server allows 100 and refuses the rest.
  std::vector<int32_t> ids;
  for (int i = 0; i < 130; i++)
    ids.push_back(c.request(kUnary, "application/json", "", false));
  c.pump([&] {
    int closed = 0;
    for (auto id : ids)
      closed += c.streams[id].closed;
    return closed >= 30;
  });
  int refused = 0;
  for (auto id : ids)
    refused +=
        c.streams[id].closed && c.streams[id].error == NGHTTP2_REFUSED_STREAM;
  EXPECT_EQ(refused, 30) << "stream 201: closed " << c.streams[ids[100]].closed
                         << " err " << c.streams[ids[100]].error << " eof "
                         << c.eof << " goaway " << c.goaway;
  // The open ones complete normally.
  c.send_data(ids[0], R"({"text":"first"})", true);
  c.pump([&] { return c.streams[ids[0]].closed; });
  EXPECT_EQ(c.streams[ids[0]].status, 200);
  EXPECT_EQ(c.streams[ids[0]].body, R"({"text":"first"})");
  expect_serves(s.port());
}

TEST(H2Malformed, OversizedHeaders) {
  Server s;
  RawH2 c(s.port());
  int32_t id = c.request(kUnary, "application/json", R"({"text":"x"})", true,
                         {{"x-big", std::string(20000, 'h')}});
  c.pump([&] { return c.streams[id].closed || c.eof; });
  EXPECT_EQ(c.streams[id].status, 431);
  EXPECT_NE(c.streams[id].body.find("resource_exhausted"), std::string::npos)
      << c.streams[id].body;
  // Many small headers that add up count too.
  std::vector<std::pair<std::string, std::string>> many;
  for (int i = 0; i < 200; i++)
    many.push_back({"x-h" + std::to_string(i), std::string(100, 'v')});
  int32_t id2 =
      c.request(kUnary, "application/json", R"({"text":"x"})", true, many);
  c.pump([&] { return c.streams[id2].closed || c.eof; });
  EXPECT_EQ(c.streams[id2].status, 431);
  int32_t id3 = c.request(kUnary, "application/json", R"({"text":"ok"})");
  c.pump([&] { return c.streams[id3].closed || c.eof; });
  EXPECT_EQ(c.streams[id3].status, 200);
  expect_serves(s.port());
}

TEST(H2Malformed, GarbageAfterPrefaceClosesOnlyThatConnection) {
  Server s;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)s.port());
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, (sockaddr *)&a, sizeof a), 0);
  std::string junk = NGHTTP2_CLIENT_MAGIC;
  junk += std::string("\x00\x00\x04\x09\x00\x00\x00\x00\x07garbage!", 17);
  ASSERT_EQ(send(fd, junk.data(), junk.size(), MSG_NOSIGNAL),
            (ssize_t)junk.size());
  // The server answers with GOAWAY and closes: read until EOF.
  char buf[4096];
  ssize_t n, total = 0;
  while ((n = recv(fd, buf, sizeof buf, 0)) > 0)
    total += n;
  EXPECT_GT(total, 0);
  close(fd);
  expect_serves(s.port());
}

} // namespace

namespace {

// Messages bigger than a stream's flow-control window must still get
// through: the window is returned for bytes of a message being assembled.
TEST(H2FlowControl, MessagesLargerThanTheWindow) {
  Server s;
  RawH2 c(s.port());
  std::string big(600 * 1024, 'b');
  int32_t id =
      c.request("/weft.test.Echo/ClientStream", "application/connect+json",
                envelope("{\"text\":\"" + big + "\"}"));
  c.pump([&] { return c.streams[id].closed; });
  EXPECT_EQ(c.streams[id].status, 200);
  EXPECT_GT(c.streams[id].body.size(), big.size());
  EXPECT_NE(c.streams[id].body.find("\"index\":1"), std::string::npos)
      << c.streams[id].body.substr(0, 100);
}

// Streams reset with data the handler never took must give that data's
// connection-level window back, or the connection stalls after ~1 MiB.
TEST(H2FlowControl, ResetStreamsReturnConnectionWindow) {
  Server s;
  RawH2 c(s.port());
  for (int i = 0; i < 12; i++) {
    // 200 KB of a message that claims 300 KB, then RST_STREAM.
    int32_t id =
        c.request("/weft.test.Echo/ClientStream", "application/connect+json",
                  envelope(std::string(200 * 1024, 'r'), 0, 300 * 1024), false);
    c.pump([&] { return c.streams[id].out.empty(); }, 2000);
    c.reset(id);
  }
  int32_t id = c.request("/weft.test.Echo/Unary", "application/json",
                         "{\"text\":\"" + std::string(100000, 'u') + "\"}");
  c.pump([&] { return c.streams[id].closed; });
  EXPECT_EQ(c.streams[id].status, 200);
  EXPECT_EQ(c.streams[id].body.size(), 100000u + 11);
}

} // namespace
