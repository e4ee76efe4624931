// google.api.http path templates: every grammar form, what a malformed
// template is told (and where), matching with percent-decoding, and
// precedence between templates that match the same path.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

extern "C" {
#include "rest_internal.h"
}

namespace {

struct Tmpl {
  weft__tmpl t{};
  weft_error err{};
  int rv;
  explicit Tmpl(const char *s) {
    rv = weft__tmpl_parse(s, &t, &err);
  }
  ~Tmpl() {
    weft__tmpl_free(&t);
  }
};

// Matches path; returns the captured raw spans, or nullopt-like false.
bool Match(const Tmpl &t, const char *path, std::vector<std::string> *caps) {
  weft__rpath p;
  weft_error err{};
  if (weft__rpath_split(path, strlen(path), &p, &err) < 0)
    return false;
  std::vector<weft__tcap> c(t.t.n_vars + 1);
  if (!weft__tmpl_match(&t.t, &p, c.data()))
    return false;
  if (caps) {
    caps->clear();
    for (unsigned i = 0; i < t.t.n_vars; i++)
      caps->emplace_back(c[i].p, c[i].len);
  }
  return true;
}

TEST(Template, Literals) {
  Tmpl t("/v1/jobs");
  ASSERT_EQ(t.rv, 0) << t.err.message;
  ASSERT_EQ(t.t.n_segs, 2u);
  EXPECT_EQ(t.t.segs[0].kind, WEFT__TSEG_LIT);
  EXPECT_STREQ(t.t.segs[1].lit, "jobs");
  EXPECT_EQ(t.t.n_vars, 0u);
  EXPECT_EQ(t.t.verb, nullptr);
  EXPECT_TRUE(Match(t, "/v1/jobs", nullptr));
  EXPECT_TRUE(Match(t, "/v1/jobs/", nullptr)); // one trailing '/'
  EXPECT_FALSE(Match(t, "/v1/jobs/x", nullptr));
  EXPECT_FALSE(Match(t, "/v1", nullptr));
  EXPECT_FALSE(Match(t, "/v1/Jobs", nullptr));
  // Literal segments compare after percent-decoding the path.
  EXPECT_TRUE(Match(t, "/v1/j%6Fbs", nullptr));
  EXPECT_FALSE(Match(t, "/v1/j%6", nullptr));
}

TEST(Template, SimpleVariable) {
  Tmpl t("/v1/jobs/{job_id}");
  ASSERT_EQ(t.rv, 0) << t.err.message;
  ASSERT_EQ(t.t.n_vars, 1u);
  EXPECT_STREQ(t.t.vars[0].field, "job_id");
  EXPECT_EQ(t.t.vars[0].first, 2u);
  EXPECT_EQ(t.t.vars[0].n, 1u);
  EXPECT_FALSE(t.t.vars[0].multi);
  std::vector<std::string> caps;
  ASSERT_TRUE(Match(t, "/v1/jobs/j%201", &caps));
  EXPECT_EQ(caps[0], "j%201");                  // raw; the router decodes
  EXPECT_FALSE(Match(t, "/v1/jobs/", nullptr)); // a variable is not empty
  EXPECT_FALSE(Match(t, "/v1/jobs/a/b", nullptr));
}

TEST(Template, VariableWithSegments) {
  Tmpl t("/v1/{name=shelves/*/books/*}");
  ASSERT_EQ(t.rv, 0) << t.err.message;
  ASSERT_EQ(t.t.n_vars, 1u);
  EXPECT_EQ(t.t.vars[0].first, 1u);
  EXPECT_EQ(t.t.vars[0].n, 4u);
  std::vector<std::string> caps;
  ASSERT_TRUE(Match(t, "/v1/shelves/1/books/2", &caps));
  EXPECT_EQ(caps[0], "shelves/1/books/2");
  EXPECT_FALSE(Match(t, "/v1/shelves/1/cds/2", nullptr));
  EXPECT_FALSE(Match(t, "/v1/shelves/1/books", nullptr));
}

TEST(Template, ExplicitStarVariable) {
  Tmpl t("/v1/{id=*}/x");
  ASSERT_EQ(t.rv, 0) << t.err.message;
  std::vector<std::string> caps;
  ASSERT_TRUE(Match(t, "/v1/abc/x", &caps));
  EXPECT_EQ(caps[0], "abc");
}

TEST(Template, DoubleStar) {
  Tmpl t("/v1/files/{path=**}");
  ASSERT_EQ(t.rv, 0) << t.err.message;
  EXPECT_TRUE(t.t.vars[0].multi);
  std::vector<std::string> caps;
  ASSERT_TRUE(Match(t, "/v1/files/a/b/c.txt", &caps));
  EXPECT_EQ(caps[0], "a/b/c.txt");
  ASSERT_TRUE(Match(t, "/v1/files/a", &caps));
  EXPECT_EQ(caps[0], "a");
  ASSERT_TRUE(Match(t, "/v1/files", &caps)); // zero segments
  EXPECT_EQ(caps[0], "");
  Tmpl bare("/v1/**");
  ASSERT_EQ(bare.rv, 0);
  EXPECT_TRUE(Match(bare, "/v1/x/y/z", nullptr));
}

TEST(Template, NestedFieldPath) {
  Tmpl t("/v1/{a.b.c}/{d}");
  ASSERT_EQ(t.rv, 0) << t.err.message;
  ASSERT_EQ(t.t.n_vars, 2u);
  EXPECT_STREQ(t.t.vars[0].field, "a.b.c");
  EXPECT_STREQ(t.t.vars[1].field, "d");
  std::vector<std::string> caps;
  ASSERT_TRUE(Match(t, "/v1/x/y", &caps));
  EXPECT_EQ(caps[0], "x");
  EXPECT_EQ(caps[1], "y");
}

TEST(Template, StarSegments) {
  Tmpl t("/v1/*/any");
  ASSERT_EQ(t.rv, 0) << t.err.message;
  EXPECT_EQ(t.t.segs[1].kind, WEFT__TSEG_STAR);
  EXPECT_TRUE(Match(t, "/v1/x/any", nullptr));
  EXPECT_FALSE(Match(t, "/v1/x/y/any", nullptr));
}

TEST(Template, Verb) {
  Tmpl t("/v1/shelves/{id}:move");
  ASSERT_EQ(t.rv, 0) << t.err.message;
  ASSERT_NE(t.t.verb, nullptr);
  EXPECT_STREQ(t.t.verb, "move");
  std::vector<std::string> caps;
  ASSERT_TRUE(Match(t, "/v1/shelves/s1:move", &caps));
  EXPECT_EQ(caps[0], "s1");
  EXPECT_FALSE(Match(t, "/v1/shelves/s1", nullptr));
  EXPECT_FALSE(Match(t, "/v1/shelves/s1:copy", nullptr));
  EXPECT_FALSE(Match(t, "/v1/shelves/:move", nullptr));
  // The verb is split at the last ':': the id keeps its own colons.
  ASSERT_TRUE(Match(t, "/v1/shelves/a:b:move", &caps));
  EXPECT_EQ(caps[0], "a:b");
  // Without a verb in the template a ':' is part of the segment.
  Tmpl plain("/v1/shelves/{id}");
  ASSERT_TRUE(Match(plain, "/v1/shelves/a:b", &caps));
  EXPECT_EQ(caps[0], "a:b");
}

struct Bad {
  const char *tmpl;
  const char *what;
  size_t offset;
};

TEST(Template, MalformedSaysWhatAndWhere) {
  const Bad cases[] = {
      {"", "must start with '/'", 0},
      {"v1/jobs", "must start with '/'", 0},
      {"/", "empty segment", 1},
      {"/v1//jobs", "empty segment", 4},
      {"/v1/jobs/", "empty segment", 9},
      {"/v1/{id", "unterminated variable", 4},
      {"/v1/{id=a/{b}}", "cannot nest", 10},
      {"/v1/{}", "field path", 5},
      {"/v1/{1id}", "field path", 5},
      {"/v1/{a..b}", "field path", 7},
      {"/v1/{id}/{id}", "bound by two variables", 10},
      {"/v1/**/x", "'**' must be the last segment", 7},
      {"/v1/{a=**}/x", "'**' must be the last segment", 11},
      {"/v1/{a=**/x}", "'**' must be the last segment", 10},
      {"/v1/a*", "'*' must be a whole segment", 5},
      {"/v1/a b", "not allowed", 5},
      {"/v1/x:", "empty verb", 6},
      {"/v1/x:a/b", "not allowed in the verb", 7},
      {"/v1/x}", "'}' without '{'", 5},
      {"/v1/%zz", "percent-escape", 7},
      {"/v1/{id+}", "expected '}' or '='", 7},
  };
  for (const Bad &b : cases) {
    Tmpl t(b.tmpl);
    EXPECT_EQ(t.rv, WEFT_ERR_INVAL) << b.tmpl;
    EXPECT_NE(strstr(t.err.message, b.what), nullptr)
        << b.tmpl << ": " << t.err.message;
    std::string at = "offset " + std::to_string(b.offset) + ":";
    EXPECT_NE(strstr(t.err.message, at.c_str()), nullptr)
        << b.tmpl << ": " << t.err.message;
    EXPECT_EQ(t.t.n_segs, 0u);
  }
}

TEST(Template, PrecedenceLiteralBeatsVariableBeatsDoubleStar) {
  Tmpl lit("/v1/receipts/stream"), var("/v1/receipts/{job_id}"),
      star("/v1/receipts/*"), ds("/v1/**"), verb("/v1/receipts/{id}:x");
  EXPECT_GT(weft__tmpl_cmp(&lit.t, &var.t), 0);
  EXPECT_LT(weft__tmpl_cmp(&var.t, &lit.t), 0);
  EXPECT_EQ(weft__tmpl_cmp(&var.t, &star.t), 0);
  EXPECT_GT(weft__tmpl_cmp(&var.t, &ds.t), 0);
  EXPECT_GT(weft__tmpl_cmp(&verb.t, &var.t), 0);
  // Left to right: a literal earlier wins over one later.
  Tmpl a("/v1/x/{id}"), b("/v1/{id}/y");
  EXPECT_GT(weft__tmpl_cmp(&a.t, &b.t), 0);
}

TEST(PercentDecode, Forms) {
  char *out = nullptr;
  size_t n = 0;
  ASSERT_EQ(weft__pct_decode("a%20b%2Fc", 9, false, false, &out, &n), 0);
  EXPECT_STREQ(out, "a b/c");
  free(out);
  ASSERT_EQ(weft__pct_decode("a%2fb", 5, true, false, &out, &n), 0);
  EXPECT_STREQ(out, "a%2fb"); // kept in multi-segment variables
  free(out);
  ASSERT_EQ(weft__pct_decode("a+b", 3, false, true, &out, &n), 0);
  EXPECT_STREQ(out, "a b");
  free(out);
  ASSERT_EQ(weft__pct_decode("a+b", 3, false, false, &out, &n), 0);
  EXPECT_STREQ(out, "a+b");
  free(out);
  EXPECT_EQ(weft__pct_decode("%", 1, false, false, &out, &n), WEFT_ERR_INVAL);
  EXPECT_EQ(weft__pct_decode("%4", 2, false, false, &out, &n), WEFT_ERR_INVAL);
  EXPECT_EQ(weft__pct_decode("%g1", 3, false, false, &out, &n), WEFT_ERR_INVAL);
  EXPECT_EQ(weft__pct_decode("a%00", 4, false, false, &out, &n),
            WEFT_ERR_INVAL);
}

TEST(PathSplit, TooManySegmentsAndNoSlash) {
  weft__rpath p;
  weft_error err{};
  EXPECT_EQ(weft__rpath_split("v1", 2, &p, &err), WEFT_ERR_INVAL);
  std::string deep;
  for (int i = 0; i < 70; i++)
    deep += "/a";
  EXPECT_EQ(weft__rpath_split(deep.c_str(), deep.size(), &p, &err),
            WEFT_ERR_INVAL);
  EXPECT_NE(strstr(err.message, "more than 64"), nullptr);
}

} // namespace
