// Topic -> NATS subject mapping of pub/sub across nodes (pubsub_nats.c,
// docs/CLUSTER.md): one token, only characters NATS subjects and JetStream
// stream names accept, and no two topics on one subject.
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>

extern "C" {
#include "rpc_internal.h"
}

namespace {

std::string subject(const std::string &topic) {
  char buf[1024];
  ssize_t n = weft__ps_subject(topic.c_str(), buf, sizeof buf);
  EXPECT_GT(n, 0) << topic;
  return n > 0 ? std::string(buf, (size_t)n) : std::string();
}

TEST(NatsSubject, DocumentedExamples) {
  EXPECT_EQ(subject("jobs.updates"), "weft.ps.jobs_2Eupdates");
  EXPECT_EQ(subject("a b/\xc3\xa9"), "weft.ps.a_20b_2F_C3_A9");
  EXPECT_EQ(subject("snake_case-Name9"), "weft.ps.snake__case-Name9");
  EXPECT_EQ(subject("*"), "weft.ps._2A");
  EXPECT_EQ(subject(">"), "weft.ps._3E");
  EXPECT_EQ(subject("100%"), "weft.ps.100_25");
}

TEST(NatsSubject, OneTokenOfSafeCharacters) {
  std::string all;
  for (int c = 1; c < 256; c++)
    all.push_back((char)c);
  std::string s = subject(all);
  std::string tok = s.substr(sizeof WEFT__PS_SUBJECT_PREFIX - 1);
  ASSERT_FALSE(tok.empty());
  for (char c : tok)
    EXPECT_TRUE(isalnum((unsigned char)c) || c == '_' || c == '-')
        << "byte " << (int)(unsigned char)c << " in " << tok;
}

TEST(NatsSubject, Injective) {
  // Pairs that a careless escape would merge.
  const char *pairs[][2] = {{"a_2E", "a."}, {"a__", "a_"},    {"_41", "A"},
                            {"a.b", "a_b"}, {"x__2E", "x_."}, {"%2E", "."}};
  for (auto &p : pairs)
    EXPECT_NE(subject(p[0]), subject(p[1])) << p[0] << " vs " << p[1];
  std::mt19937 rng(7);
  const std::string alphabet = "a_.2E%-*> A";
  std::set<std::string> topics, subjects;
  for (int i = 0; i < 20000; i++) {
    std::string t;
    int len = 1 + (int)(rng() % 6);
    for (int k = 0; k < len; k++)
      t.push_back(alphabet[rng() % alphabet.size()]);
    if (topics.insert(t).second)
      EXPECT_TRUE(subjects.insert(subject(t)).second) << "collision: " << t;
  }
}

TEST(NatsSubject, ShortBufferIsRefused) {
  char buf[12];
  EXPECT_EQ(weft__ps_subject("abcdefgh", buf, sizeof buf), WEFT_ERR_TOO_BIG);
  EXPECT_EQ(weft__ps_subject("a", buf, 8), WEFT_ERR_TOO_BIG);
  EXPECT_EQ(weft__ps_subject("...", buf, sizeof buf), WEFT_ERR_TOO_BIG);
  EXPECT_EQ(weft__ps_subject("ab", buf, sizeof buf), 10);
  EXPECT_STREQ(buf, "weft.ps.ab");
}

} // namespace
