// The breaking-change engine in-process (weft/breaking.h): every case of
// the corpus (tests/breaking/cases, compiled to FileDescriptorSets at build
// time) must report exactly its expected rule ids under each category, and
// nothing but them when every rule runs; plus the API's handling of bad
// input and the rule table.
#include <dirent.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "google/protobuf/descriptor.pb-c.h"
#include "weft/breaking.h"

namespace {

std::string slurp(const std::string &path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<std::string> list_dir(const std::string &dir) {
  std::vector<std::string> out;
  if (DIR *d = opendir(dir.c_str())) {
    while (dirent *e = readdir(d))
      if (e->d_name[0] != '.')
        out.push_back(e->d_name);
    closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The .proto files under dir, relative to it (what `weft breaking`
// compares; the rest of a set is imports).
void protos_under(const std::string &dir, const std::string &rel,
                  std::vector<std::string> *out) {
  for (const auto &n : list_dir(dir + "/" + rel)) {
    std::string r = rel.empty() ? n : rel + "/" + n;
    if (n.size() > 6 && n.compare(n.size() - 6, 6, ".proto") == 0)
      out->push_back(r);
    else if (n.find('.') == std::string::npos)
      protos_under(dir, r, out);
  }
}

struct Result {
  int rv;
  std::set<std::string> ids;
  std::vector<std::string> lines;
};

Result check(const std::string &new_set, const std::string &old_set,
             std::vector<const char *> use,
             const std::vector<std::string> &new_files = {},
             const std::vector<std::string> &old_files = {}) {
  std::vector<const char *> nf, of;
  for (auto &s : new_files)
    nf.push_back(s.c_str());
  for (auto &s : old_files)
    of.push_back(s.c_str());
  weft_breaking_opts o = {};
  o.use = use.data();
  o.n_use = use.size();
  o.new_files = nf.data();
  o.n_new_files = nf.size();
  o.old_files = of.data();
  o.n_old_files = of.size();
  weft_breaking_report *r = nullptr;
  weft_error err = {};
  Result res;
  res.rv = weft_breaking_check_bytes(
      reinterpret_cast<const uint8_t *>(new_set.data()), new_set.size(),
      reinterpret_cast<const uint8_t *>(old_set.data()), old_set.size(), &o, &r,
      &err);
  if (res.rv == 0) {
    for (size_t i = 0; i < weft_breaking_report_count(r); i++) {
      const weft_breaking_violation *v = weft_breaking_report_at(r, i);
      res.ids.insert(v->rule);
      res.lines.push_back(std::string(v->file) + ":" + std::to_string(v->line) +
                          ":" + std::to_string(v->column) + ":" + v->rule +
                          ": " + v->message);
    }
  } else {
    res.lines.push_back(err.message);
  }
  weft_breaking_report_free(r);
  return res;
}

const char *const kCategories[] = {"FILE", "PACKAGE", "WIRE_JSON", "WIRE"};

class Corpus : public ::testing::TestWithParam<std::string> {};

TEST_P(Corpus, ExpectedRulesPerCategory) {
  const std::string name = GetParam();
  const std::string dir = std::string(BRK_CASES) + "/" + name;
  const std::string sets = std::string(BRK_SETS) + "/" + name;
  std::string nset = slurp(sets + ".new.binpb"),
              oset = slurp(sets + ".old.binpb");
  ASSERT_FALSE(oset.empty()) << sets << ".old.binpb missing";
  std::vector<std::string> nfiles, ofiles;
  protos_under(dir + "/new", "", &nfiles);
  protos_under(dir + "/old", "", &ofiles);
  std::set<std::string> expect;
  {
    std::ifstream f(dir + "/expect");
    ASSERT_TRUE(f.good()) << dir << "/expect missing";
    for (std::string l; std::getline(f, l);)
      if (!l.empty())
        expect.insert(l);
  }
  Result all = check(nset, oset, {"FILE", "PACKAGE", "WIRE_JSON", "WIRE"},
                     nfiles, ofiles);
  ASSERT_EQ(all.rv, 0) << all.lines[0];
  std::string got;
  for (auto &l : all.lines)
    got += "  " + l + "\n";
  EXPECT_EQ(all.ids, expect) << name << " reported:\n" << got;
  for (const char *cat : kCategories) {
    std::set<std::string> want;
    unsigned bit = weft_breaking_category(cat);
    for (auto &id : expect)
      if (weft_breaking_find_rule(id.c_str())->categories & bit)
        want.insert(id);
    Result r = check(nset, oset, {cat}, nfiles, ofiles);
    ASSERT_EQ(r.rv, 0);
    EXPECT_EQ(r.ids, want) << name << " under " << cat;
  }
}

std::vector<std::string> case_names() {
  std::vector<std::string> v;
  for (auto &n : list_dir(BRK_CASES))
    v.push_back(n);
  return v;
}

INSTANTIATE_TEST_SUITE_P(Cases, Corpus, ::testing::ValuesIn(case_names()),
                         [](const ::testing::TestParamInfo<std::string> &i) {
                           return i.param;
                         });

TEST(BreakingRules, TableMatchesBufV1) {
  // 61 rules in buf's v1 configuration, each in at least one category,
  // ids unique, and FILE the superset of PACKAGE minus the package rules.
  ASSERT_EQ(weft_breaking_n_rules(), 61u);
  std::set<std::string> ids;
  for (size_t i = 0; i < weft_breaking_n_rules(); i++) {
    const weft_breaking_rule *r = weft_breaking_rule_at(i);
    EXPECT_NE(r->categories, 0u) << r->id;
    EXPECT_TRUE(ids.insert(r->id).second) << r->id;
    EXPECT_EQ(weft_breaking_find_rule(r->id), r);
    bool pkg_only = std::string(r->id).rfind("PACKAGE_", 0) == 0;
    if ((r->categories & WEFT_BREAKING_PACKAGE) && !pkg_only)
      EXPECT_TRUE(r->categories & WEFT_BREAKING_FILE) << r->id;
  }
  EXPECT_EQ(weft_breaking_rule_at(61), nullptr);
  EXPECT_EQ(weft_breaking_find_rule("NOPE"), nullptr);
  EXPECT_EQ(weft_breaking_category("WIRE_JSON"), WEFT_BREAKING_WIRE_JSON);
  EXPECT_EQ(weft_breaking_category("wire"), 0u);
}

std::string case_set(const std::string &name, const char *side) {
  return slurp(std::string(BRK_SETS) + "/" + name + "." + side + ".binpb");
}

TEST(BreakingApi, BadInputIsAnErrorWithAReason) {
  std::string good = case_set("field_delete", "old");
  Result r = check("\xff\xff\xff", good, {});
  EXPECT_EQ(r.rv, WEFT_ERR_MALFORMED);
  EXPECT_NE(r.lines[0].find("new: not a FileDescriptorSet"), std::string::npos);
  r = check(good, "\x0a\x05\x0a\x01", {});
  EXPECT_EQ(r.rv, WEFT_ERR_MALFORMED);
  r = check(good, good, {"FIELD_NO_DELET"});
  EXPECT_EQ(r.rv, WEFT_ERR_INVAL);
  EXPECT_NE(r.lines[0].find("FIELD_NO_DELET"), std::string::npos);
  r = check(good, good, {}, {"nope.proto"});
  EXPECT_EQ(r.rv, WEFT_ERR_INVAL);
  EXPECT_NE(r.lines[0].find("nope.proto"), std::string::npos);
  // A file without a name, and a file twice.
  std::string noname("\x0a\x02\x12\x00", 4);
  r = check(noname, good, {});
  EXPECT_EQ(r.rv, WEFT_ERR_MALFORMED);
  EXPECT_NE(r.lines[0].find("no name"), std::string::npos);
  std::string one("\x0a\x03\x0a\x01x", 5);
  r = check(one + one, good, {});
  EXPECT_EQ(r.rv, WEFT_ERR_MALFORMED);
  EXPECT_NE(r.lines[0].find("twice"), std::string::npos);
  weft_breaking_report_free(nullptr);
  EXPECT_EQ(weft_breaking_report_count(nullptr), 0u);
  EXPECT_EQ(weft_breaking_report_at(nullptr, 0), nullptr);
}

TEST(BreakingApi, EmptySetsAndIdenticalSetsReportNothing) {
  Result r = check("", "", {});
  EXPECT_EQ(r.rv, 0);
  EXPECT_TRUE(r.ids.empty());
  for (auto &n : case_names()) {
    std::string s = case_set(n, "new");
    Result same = check(s, s, {"FILE", "PACKAGE", "WIRE_JSON", "WIRE"});
    EXPECT_EQ(same.rv, 0);
    EXPECT_TRUE(same.ids.empty()) << n << ": " << same.lines[0];
  }
}

TEST(BreakingApi, EverythingDeletedAgainstEmpty) {
  // NEW empty: every file is gone (and, under PACKAGE, every package).
  std::string old = case_set("service_move_file", "old");
  Result r = check("", old, {"FILE", "PACKAGE"});
  EXPECT_EQ(r.rv, 0);
  EXPECT_EQ(r.ids,
            (std::set<std::string>{"FILE_NO_DELETE", "PACKAGE_NO_DELETE"}));
  // Against nothing, everything is new: compatible.
  r = check(old, "", {"FILE", "PACKAGE", "WIRE_JSON", "WIRE"});
  EXPECT_TRUE(r.ids.empty());
}

TEST(BreakingApi, LocationsComeFromSourceInfo) {
  // The renumbered field is reported at its message in NEW (line 5), the
  // changed type at the type (line 6, column 3).
  Result r = check(case_set("field_renumber", "new"),
                   case_set("field_renumber", "old"), {"FIELD_NO_DELETE"});
  ASSERT_EQ(r.lines.size(), 1u);
  EXPECT_EQ(r.lines[0].substr(0, 26), "a.proto:5:1:FIELD_NO_DELET");
  r = check(case_set("field_type_int32_to_int64", "new"),
            case_set("field_type_int32_to_int64", "old"), {"FIELD_SAME_TYPE"});
  ASSERT_EQ(r.lines.size(), 1u);
  EXPECT_EQ(r.lines[0].substr(0, 12), "a.proto:6:3:");
}

TEST(BreakingApi, ReportOutlivesTheSets) {
  // Violations own their strings: the unpacked sets are gone when the
  // report is read (ASan checks the reads).
  Google__Protobuf__FileDescriptorSet *n, *o;
  std::string ns = case_set("file_delete", "new"),
              os = case_set("file_delete", "old");
  n = google__protobuf__file_descriptor_set__unpack(
      nullptr, ns.size(), reinterpret_cast<const uint8_t *>(ns.data()));
  o = google__protobuf__file_descriptor_set__unpack(
      nullptr, os.size(), reinterpret_cast<const uint8_t *>(os.data()));
  ASSERT_TRUE(n && o);
  weft_breaking_report *r = nullptr;
  ASSERT_EQ(weft_breaking_check(n, o, nullptr, &r, nullptr), 0);
  google__protobuf__file_descriptor_set__free_unpacked(n, nullptr);
  google__protobuf__file_descriptor_set__free_unpacked(o, nullptr);
  ASSERT_EQ(weft_breaking_report_count(r), 1u);
  const weft_breaking_violation *v = weft_breaking_report_at(r, 0);
  EXPECT_STREQ(v->rule, "FILE_NO_DELETE");
  EXPECT_STREQ(v->file, "b.proto");
  EXPECT_TRUE(v->against);
  EXPECT_EQ(v->line, 0);
  weft_breaking_report_free(r);
}

} // namespace
