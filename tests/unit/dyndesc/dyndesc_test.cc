// weft_dyndesc against protoc-gen-weft: descriptors built at run time from
// the FileDescriptorSet of the test protos and the AITBC schema must equal
// the generated tables, and binary and JSON encode/decode on them must give
// the same bytes and text as on the generated descriptors.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "aitbc/v1/blockchain.weft.h"
#include "aitbc/v1/jobs.weft.h"
#include "aitbc/v1/marketplace.weft.h"
#include "aitbc/v1/node.weft.h"
#include "aitbc/v1/receipts.weft.h"
#include "aitbc/v1/settlement.weft.h"
#include "aitbc/v1/wallet.weft.h"
#include "all_types_proto2.weft.h"
#include "all_types_proto3.weft.h"
#include "dyn_testutil.h"
#include "json_test2.weft.h"
#include "json_test3.weft.h"
#include "weft/json.h"
#include "weft/v1/envelope.weft.h"
#include "weft/v1/pubsub.weft.h"

using dyntest::Closure;
using dyntest::CompareEnum;
using dyntest::CompareMsg;
using dyntest::CompareService;

namespace {

std::vector<const weft_file_desc *> Roots() {
  return {&aitbc__v1__jobs_proto,
          &aitbc__v1__blockchain_proto,
          &aitbc__v1__marketplace_proto,
          &aitbc__v1__settlement_proto,
          &aitbc__v1__wallet_proto,
          &aitbc__v1__receipts_proto,
          &aitbc__v1__node_proto,
          &weft__v1__envelope_proto,
          &weft__v1__pubsub_proto,
          &all_1types_1proto3_proto,
          &all_1types_1proto2_proto,
          &json_1test3_proto,
          &json_1test2_proto};
}

// The well-known types dyndesc reuses; descriptor.proto and google/api
// (compiled into weft_wkt for the http annotations) are built like others.
bool IsCompiledWkt(const weft_file_desc *f) {
  return strncmp(f->name, "google/protobuf/", 16) == 0 &&
         strcmp(f->name, "google/protobuf/descriptor.proto") != 0;
}

struct Set {
  weft_dyn_set *s = nullptr;
  ~Set() {
    weft_dyn_free(s);
  }
};

void CompareAll(const weft_dyn_set *s, bool same_bytes) {
  std::vector<std::string> diffs;
  size_t msgs = 0, enums = 0, svcs = 0;
  for (const weft_file_desc *g : Closure(Roots())) {
    const weft_file_desc *d = weft_dyn_find_file(s, g->name);
    ASSERT_NE(d, nullptr) << g->name;
    if (IsCompiledWkt(g)) {
      EXPECT_EQ(d, g) << g->name << " should be the compiled-in file";
      continue;
    }
    EXPECT_STREQ(d->package, g->package);
    ASSERT_EQ(d->n_deps, g->n_deps) << g->name;
    for (unsigned i = 0; i < g->n_deps; i++)
      EXPECT_STREQ(d->deps[i]->name, g->deps[i]->name);
    if (same_bytes) {
      ASSERT_EQ(d->serialized_len, g->serialized_len) << g->name;
      EXPECT_EQ(0, memcmp(d->serialized, g->serialized, g->serialized_len))
          << g->name;
    }
    ASSERT_EQ(d->n_messages, g->n_messages) << g->name;
    for (unsigned i = 0; i < g->n_messages; i++, msgs++) {
      EXPECT_STREQ(d->messages[i]->base.name, g->messages[i]->base.name);
      const weft_msg_desc *dm =
          weft_dyn_find_message(s, g->messages[i]->base.name);
      ASSERT_NE(dm, nullptr) << g->messages[i]->base.name;
      EXPECT_EQ(dm->file, d);
      CompareMsg(g->messages[i], dm, &diffs);
    }
    ASSERT_EQ(d->n_enums, g->n_enums) << g->name;
    for (unsigned i = 0; i < g->n_enums; i++, enums++) {
      const weft_enum_desc *de = weft_dyn_find_enum(s, g->enums[i]->base.name);
      ASSERT_NE(de, nullptr) << g->enums[i]->base.name;
      EXPECT_EQ(d->enums[i], de);
      CompareEnum(g->enums[i], de, &diffs);
    }
    ASSERT_EQ(d->n_services, g->n_services) << g->name;
    for (unsigned i = 0; i < g->n_services; i++, svcs++) {
      const weft_service_desc *ds =
          weft_dyn_find_service(s, g->services[i]->name);
      ASSERT_NE(ds, nullptr);
      EXPECT_EQ(d->services[i], ds);
      CompareService(g->services[i], ds, &diffs);
    }
  }
  for (size_t i = 0; i < diffs.size() && i < 40; i++)
    ADD_FAILURE() << diffs[i];
  EXPECT_TRUE(diffs.empty()) << diffs.size() << " differences";
  EXPECT_GT(msgs, 80u);
  EXPECT_GE(enums, 9u);
  EXPECT_GT(svcs, 5u);
}

TEST(DynDesc, TablesEqualGeneratedFromEmbeddedSet) {
  std::string bytes = dyntest::SetBytes(Closure(Roots()));
  Set set;
  weft_error err = {};
  ASSERT_EQ(0, weft_dyn_build(reinterpret_cast<const uint8_t *>(bytes.data()),
                              bytes.size(), &set.s, &err))
      << err.message;
  CompareAll(set.s, true);
}

TEST(DynDesc, TablesEqualGeneratedFromProtocSet) {
  // protoc -o --include_imports at build time (no json_name in the set: the
  // builder derives it as protoc does).
  std::string bytes = dyntest::ReadFile(DYN_TEST_SET);
  ASSERT_FALSE(bytes.empty());
  Set set;
  weft_error err = {};
  ASSERT_EQ(0, weft_dyn_build(reinterpret_cast<const uint8_t *>(bytes.data()),
                              bytes.size(), &set.s, &err))
      << err.message;
  CompareAll(set.s, false);
}

TEST(DynDesc, WellKnownTypesAreTheCompiledInOnes) {
  // A set that does not even carry the WKT files.
  std::vector<const weft_file_desc *> files = {&json_1test3_proto};
  std::string bytes = dyntest::SetBytes(files);
  Set set;
  weft_error err = {};
  ASSERT_EQ(0, weft_dyn_build(reinterpret_cast<const uint8_t *>(bytes.data()),
                              bytes.size(), &set.s, &err))
      << err.message;
  const weft_msg_desc *ts =
      weft_dyn_find_message(set.s, "google.protobuf.Timestamp");
  EXPECT_EQ(ts, weft_registry_find_message(weft_registry_global(),
                                           "google.protobuf.Timestamp"));
  EXPECT_EQ(weft_dyn_find_message(set.s, ".google.protobuf.Struct"),
            weft_registry_find_message(weft_registry_global(),
                                       "google.protobuf.Struct"));
  const weft_msg_desc *all =
      weft_dyn_find_message(set.s, "weft.jsontest.AllTypes");
  ASSERT_NE(all, nullptr);
  std::vector<std::string> diffs;
  CompareMsg(&weft__jsontest__AllTypes_desc, all, &diffs);
  EXPECT_TRUE(diffs.empty()) << (diffs.empty() ? "" : diffs[0]);
  EXPECT_EQ(weft_registry_find_message(weft_dyn_registry(set.s),
                                       "weft.jsontest.AllTypes"),
            all);
  EXPECT_NE(weft_registry_find_message(weft_dyn_registry(set.s),
                                       "google.protobuf.Duration"),
            nullptr);
}

TEST(DynDesc, MethodLookupForms) {
  std::string bytes = dyntest::SetBytes(Closure(Roots()));
  Set set;
  weft_error err = {};
  ASSERT_EQ(0, weft_dyn_build(reinterpret_cast<const uint8_t *>(bytes.data()),
                              bytes.size(), &set.s, &err));
  for (const char *name : {"aitbc.v1.Jobs/GetJob", "/aitbc.v1.Jobs/GetJob",
                           "aitbc.v1.Jobs.GetJob"}) {
    const weft_method_desc *m = weft_dyn_find_method(set.s, name);
    ASSERT_NE(m, nullptr) << name;
    EXPECT_STREQ(m->path, "/aitbc.v1.Jobs/GetJob");
    EXPECT_EQ(m->input, weft_dyn_find_message(set.s, "aitbc.v1.GetJobRequest"));
    EXPECT_EQ(m->invoke, nullptr);
  }
  EXPECT_EQ(weft_dyn_find_method(set.s, "aitbc.v1.Jobs/Nope"), nullptr);
  EXPECT_EQ(weft_dyn_find_method(set.s, "nope"), nullptr);
  EXPECT_EQ(weft_dyn_find_method(set.s, "aitbc.v1.Nope/GetJob"), nullptr);
}

// ---- encode/decode differential ----

void *Decode(const weft_msg_desc *d, const std::string &b) {
  void *m = nullptr;
  weft_error err = {};
  int rv = weft_decode(d, reinterpret_cast<const uint8_t *>(b.data()), b.size(),
                       nullptr, &m, &err);
  if (rv < 0)
    return nullptr;
  return m;
}

void *FromJson(const weft_msg_desc *d, const std::string &j) {
  void *m = nullptr;
  weft_error err = {};
  if (weft_json_decode(d, j.data(), j.size(), nullptr, &m, &err) < 0)
    return nullptr;
  return m;
}

// Same result (bytes, JSON) for msg decoded through g and through d.
void Check(const weft_msg_desc *g, const weft_msg_desc *d,
           const std::string &wire, size_t *checked) {
  void *gm = Decode(g, wire), *dm = Decode(d, wire);
  ASSERT_EQ(gm == nullptr, dm == nullptr) << g->base.name;
  if (!gm)
    return;
  EXPECT_EQ(dyntest::Encode(gm), dyntest::Encode(dm)) << g->base.name;
  for (unsigned flags :
       {0u, unsigned(WEFT_JSON_EMIT_DEFAULTS | WEFT_JSON_PROTO_NAMES),
        unsigned(WEFT_JSON_ENUMS_AS_INTS)}) {
    std::string jg = dyntest::Json(gm, flags), jd = dyntest::Json(dm, flags);
    EXPECT_EQ(jg, jd) << g->base.name;
    void *gj = FromJson(g, jg), *dj = FromJson(d, jg);
    EXPECT_EQ(gj == nullptr, dj == nullptr) << g->base.name << " " << jg;
    if (gj && dj)
      EXPECT_EQ(dyntest::Encode(gj), dyntest::Encode(dj)) << g->base.name;
    weft_message_free(gj);
    weft_message_free(dj);
  }
  weft_message_free(gm);
  weft_message_free(dm);
  ++*checked;
}

TEST(DynDesc, EncodeDecodeJsonMatchGenerated) {
  std::string bytes = dyntest::SetBytes(Closure(Roots()));
  Set set;
  weft_error err = {};
  ASSERT_EQ(0, weft_dyn_build(reinterpret_cast<const uint8_t *>(bytes.data()),
                              bytes.size(), &set.s, &err));
  std::mt19937_64 rng(20261123);
  size_t checked = 0, types = 0;
  for (const weft_file_desc *f : Closure(Roots())) {
    if (IsCompiledWkt(f))
      continue;
    for (unsigned i = 0; i < f->n_messages; i++) {
      const weft_msg_desc *g = f->messages[i];
      const weft_msg_desc *d = weft_dyn_find_message(set.s, g->base.name);
      ASSERT_NE(d, nullptr);
      types++;
      // Fresh messages: defaults (proto2 [default], closed enums).
      void *e1 = weft_message_new(g, nullptr),
           *e2 = weft_message_new(d, nullptr);
      EXPECT_EQ(dyntest::Encode(e1), dyntest::Encode(e2)) << g->base.name;
      EXPECT_EQ(dyntest::Json(e1, WEFT_JSON_EMIT_DEFAULTS),
                dyntest::Json(e2, WEFT_JSON_EMIT_DEFAULTS))
          << g->base.name;
      weft_message_free(e1);
      weft_message_free(e2);
      for (int k = 0; k < 25; k++) {
        // Built on the generated descriptor...
        void *m = dyntest::RandomMessage(g, rng, 3);
        Check(g, d, dyntest::Encode(m), &checked);
        weft_message_free(m);
        // ... and on the dynamic one.
        m = dyntest::RandomMessage(d, rng, 3);
        Check(g, d, dyntest::Encode(m), &checked);
        weft_message_free(m);
      }
    }
  }
  EXPECT_GT(types, 80u);
  EXPECT_GT(checked, 4000u);
}

// A fresh set's descriptors have empty decode-table caches: threads that
// decode the same types at once race to build them (one builds into the
// cache, the others build private tables for their call). Every decode
// must still match the generated descriptor's, and weft_dyn_free releases
// what was cached (LeakSanitizer checks the private tables are freed too).
TEST(DynDesc, ConcurrentFirstDecodesShareOneTablePerType) {
  std::string bytes = dyntest::SetBytes(Closure(Roots()));
  std::mt19937_64 rng(20261207);
  struct Input {
    const weft_msg_desc *type;
    std::string wire, expect;
  };
  std::vector<Input> inputs;
  for (const weft_file_desc *f : Closure(Roots())) {
    if (IsCompiledWkt(f))
      continue;
    for (unsigned i = 0; i < f->n_messages; i++) {
      // expected: what the generated descriptor decodes and re-encodes
      // (a random map may repeat a key, which decoding resolves)
      void *m = dyntest::RandomMessage(f->messages[i], rng, 3), *g = nullptr;
      std::string wire = dyntest::Encode(m);
      ASSERT_EQ(0, weft_decode(f->messages[i],
                               reinterpret_cast<const uint8_t *>(wire.data()),
                               wire.size(), nullptr, &g, nullptr));
      inputs.push_back({f->messages[i], wire, dyntest::Encode(g)});
      weft_message_free(m);
      weft_message_free(g);
    }
  }
  for (int round = 0; round < 3; round++) {
    Set set;
    weft_error err = {};
    ASSERT_EQ(0, weft_dyn_build(reinterpret_cast<const uint8_t *>(bytes.data()),
                                bytes.size(), &set.s, &err));
    std::vector<std::thread> threads;
    std::vector<int> bad(4, 0);
    for (int t = 0; t < 4; t++)
      threads.emplace_back([&, t] {
        for (const auto &in : inputs) {
          const weft_msg_desc *d =
              weft_dyn_find_message(set.s, in.type->base.name);
          void *m = nullptr;
          if (!d ||
              weft_decode(d, reinterpret_cast<const uint8_t *>(in.wire.data()),
                          in.wire.size(), nullptr, &m, nullptr) != 0 ||
              dyntest::Encode(m) != in.expect)
            bad[t]++;
          weft_message_free(m);
        }
      });
    for (auto &th : threads)
      th.join();
    for (int t = 0; t < 4; t++)
      EXPECT_EQ(0, bad[t]) << "thread " << t << ", round " << round;
  }
}

} // namespace
