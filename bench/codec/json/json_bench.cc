// JSON codec benchmark: the batch of bench_codec (same proto, same seed and
// shapes) as proto3 JSON, decoded and encoded by weft and by libprotobuf
// C++ (JsonStringToMessage / MessageToJsonString) in one run. Prints MB/s of
// JSON text and weft/libprotobuf ratios; each figure is the best of several
// rounds, so compare ratios within one run.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <time.h>

#include <google/protobuf/util/json_util.h>

#include "bench_aitbc.pb.h"
#include "bench_aitbc.weft.h"
#include "weft/codec.h"
#include "weft/json.h"

#include <cjson/cJSON.h>

namespace {

using Clock = std::chrono::steady_clock;

// ---- the batch: kept identical to MakeBatch() in ../bench_codec.cc ----
std::mt19937_64 rng(42);

std::string Hex(size_t n) {
  static const char *d = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; i++)
    s.push_back(d[rng() % 16]);
  return s;
}
std::string Raw(size_t n) {
  std::string s(n, '\0');
  for (auto &c : s)
    c = static_cast<char>(rng());
  return s;
}
const char *Pick(std::initializer_list<const char *> l) {
  return l.begin()[rng() % l.size()];
}

void FillResource(benchaitbc::Resource *r) {
  r->set_gpu_model(
      Pick({"NVIDIA H100 80GB", "NVIDIA A100 40GB", "RTX 4090", "AMD MI300X"}));
  r->set_gpu_count(1 + rng() % 8);
  r->set_memory_mb(16384ull << (rng() % 4));
  r->set_price_per_hour(0.5 + static_cast<double>(rng() % 1000) / 100.0);
}

benchaitbc::Batch MakeBatch() {
  benchaitbc::Batch b;
  for (int i = 0; i < 300; i++) {
    auto *j = b.add_jobs();
    j->set_job_id("job-" + Hex(24));
    j->set_state(static_cast<benchaitbc::JobState>(1 + rng() % 4));
    j->set_progress(static_cast<double>(rng() % 10000) / 100.0);
    j->set_updated_at_unix_ms(1700000000000ll +
                              static_cast<int64_t>(rng() % 100000000));
    j->set_worker_id("worker-" + Hex(12));
    int logs = static_cast<int>(rng() % 3);
    for (int k = 0; k < logs; k++)
      j->add_log_lines(
          "step " + std::to_string(rng() % 1000) + ": loss=" +
          std::to_string(static_cast<double>(rng() % 1000) / 1000.0));
    FillResource(j->mutable_resource());
    j->set_tokens_processed(rng() % 100000000);
    j->set_preempted(rng() % 10 == 0);
    (*j->mutable_labels())["model"] =
        Pick({"llama-3-70b", "mistral-7b", "sdxl"});
    (*j->mutable_labels())["tenant"] = "t-" + Hex(6);
  }
  for (int i = 0; i < 20; i++) {
    auto *bl = b.add_blocks();
    auto *h = bl->mutable_header();
    h->set_height(1000000 + static_cast<uint64_t>(i));
    h->set_hash(Raw(32));
    h->set_parent_hash(Raw(32));
    h->set_timestamp(1700000000 + i * 12);
    h->set_proposer("aitbc1" + Hex(38));
    h->set_state_root(Raw(32));
    for (int t = 0; t < 12; t++) {
      auto *tx = bl->add_transactions();
      tx->set_hash(Raw(32));
      tx->set_from("aitbc1" + Hex(38));
      tx->set_to("aitbc1" + Hex(38));
      tx->set_amount(rng() % 1000000000000ull);
      tx->set_fee(1000 + rng() % 100000);
      tx->set_nonce(rng() % 100000);
      tx->set_signature(Raw(64));
      tx->set_timestamp(1700000000 + static_cast<int64_t>(rng() % 1000));
      if (rng() % 4 == 0)
        tx->set_memo("payment for job-" + Hex(24));
    }
    if (i % 5 == 0)
      bl->add_uncle_hashes(Raw(32));
  }
  for (int i = 0; i < 120; i++) {
    auto *o = b.add_offers();
    o->set_offer_id("offer-" + Hex(16));
    o->set_provider("aitbc1" + Hex(38));
    FillResource(o->mutable_resource());
    o->set_price(static_cast<double>(rng() % 100000) / 1000.0);
    o->set_min_duration_s(60 * (1 + rng() % 120));
    o->add_regions(Pick({"eu-west", "us-east", "ap-south"}));
    if (rng() % 2)
      o->add_regions(Pick({"eu-central", "us-west"}));
    o->set_reputation(static_cast<int64_t>(rng() % 2000) - 1000);
    o->set_active(rng() % 5 != 0);
  }
  for (int i = 0; i < 100; i++) {
    auto *s = b.add_settlements();
    s->set_settlement_id("stl-" + Hex(20));
    s->set_source_chain(Pick({"aitbc-main", "ethereum", "polygon"}));
    s->set_dest_chain(Pick({"aitbc-main", "arbitrum", "base"}));
    s->set_tx_hash(Raw(32));
    s->set_amount(rng() % 1000000000000ull);
    for (int k = 0; k < 8; k++)
      s->add_proof(rng());
    s->set_fee_ratio(static_cast<float>(rng() % 100) / 10000.0f);
    s->set_confirmations(static_cast<int32_t>(rng() % 64));
  }
  return b;
}

bool Wanted(const char *name) {
  const char *only = std::getenv("BENCH_ONLY");
  return !only || std::strstr(name, only) != nullptr;
}

// Thread CPU time, not wall time: the machine is shared, and a benchmark
// that is descheduled should not be charged for it.
double CpuNow() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) +
         static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct Case {
  const char *name;
  std::function<void()> fn;
  int iters = 1;
  double best = 1e30;
};

// Runs the cases interleaved (one round of each in turn, so all of them see
// the same load) and keeps each one's best round; returns MB/s of `bytes`.
std::vector<double> MeasureAll(size_t bytes, std::vector<Case> cases) {
  for (auto &c : cases) {
    if (!Wanted(c.name))
      continue;
    for (;;) { // calibrate to ~40 ms per round
      double t0 = CpuNow();
      for (int i = 0; i < c.iters; i++)
        c.fn();
      if (CpuNow() - t0 > 0.04)
        break;
      c.iters *= 2;
    }
  }
  for (int r = 0; r < 15; r++)
    for (auto &c : cases) {
      if (!Wanted(c.name))
        continue;
      double t0 = CpuNow();
      for (int i = 0; i < c.iters; i++)
        c.fn();
      double s = (CpuNow() - t0) / c.iters;
      if (s < c.best)
        c.best = s;
    }
  std::vector<double> out;
  for (auto &c : cases) {
    double mbs = Wanted(c.name) ? static_cast<double>(bytes) / c.best / 1e6 : 1;
    if (Wanted(c.name))
      std::printf("  %-34s %8.1f MB/s\n", c.name, mbs);
    out.push_back(mbs);
  }
  return out;
}

void Die(const char *what, const char *msg) {
  std::fprintf(stderr, "json_bench: %s: %s\n", what, msg);
  std::exit(1);
}

} // namespace

int main() {
  namespace pbu = google::protobuf::util;
  benchaitbc::Batch batch = MakeBatch();
  std::string wire = batch.SerializeAsString();
  std::string gjson;
  if (!pbu::MessageToJsonString(batch, &gjson).ok())
    Die("libprotobuf", "encode");

  const weft_msg_desc *wd = &benchaitbc__Batch_desc;
  void *wmsg = nullptr;
  weft_error err;
  if (weft_decode(wd, reinterpret_cast<const uint8_t *>(wire.data()),
                  wire.size(), nullptr, &wmsg, &err) != 0)
    Die("weft binary decode", err.message);
  char *wjson = nullptr;
  size_t wlen = 0;
  if (weft_json_encode(wmsg, nullptr, &wjson, &wlen, &err) != 0)
    Die("weft encode", err.message);
  if (std::string(wjson, wlen).size() != gjson.size())
    std::printf(
        "note: weft and libprotobuf JSON differ in length (%zu vs %zu)\n", wlen,
        gjson.size());
  std::printf("batch: %zu bytes binary, %zu bytes JSON (%d jobs, %d blocks, "
              "%d offers, %d settlements)\n",
              wire.size(), gjson.size(), batch.jobs_size(), batch.blocks_size(),
              batch.offers_size(), batch.settlements_size());

  const size_t n = gjson.size();
  weft_arena *arena = nullptr;
  weft_arena_new(&arena, 256 * 1024);
  std::printf("decode (JSON text -> message):\n");
  std::vector<double> dec = MeasureAll(
      n, {{"libprotobuf JsonStringToMessage",
           [&] {
             benchaitbc::Batch m;
             if (!pbu::JsonStringToMessage(gjson, &m).ok())
               Die("libprotobuf", "decode");
           }},
          {"weft json_decode (malloc)",
           [&] {
             void *m = nullptr;
             if (weft_json_decode(wd, gjson.data(), n, nullptr, &m, &err) != 0)
               Die("weft decode", err.message);
             weft_message_free(m);
           }},
          {"cJSON_ParseWithLength (tree only)",
           [&] {
             cJSON *t = cJSON_ParseWithLength(gjson.data(), n);
             if (!t)
               Die("cJSON", "parse");
             cJSON_Delete(t);
           }},
          {"weft json_decode (arena)", [&] {
             void *m = nullptr;
             weft_json_opts o = {};
             o.arena = arena;
             if (weft_json_decode(wd, gjson.data(), n, &o, &m, &err) != 0)
               Die("weft decode", err.message);
             weft_arena_reset(arena);
           }}});
  double g_dec = dec[0], w_dec = dec[1], w_dec_a = dec[3];

  // cJSON is the declared JSON dependency: its tree alone (no message
  // structs on either side) is the floor of a cJSON-based codec.
  cJSON *ctree = cJSON_ParseWithLength(gjson.data(), n);
  std::printf("encode (message -> JSON text):\n");
  std::vector<double> enc = MeasureAll(
      n, {{"libprotobuf MessageToJsonString",
           [&] {
             std::string out;
             if (!pbu::MessageToJsonString(batch, &out).ok())
               Die("libprotobuf", "encode");
           }},
          {"cJSON_PrintUnformatted (tree only)",
           [&] {
             char *out = cJSON_PrintUnformatted(ctree);
             if (!out)
               Die("cJSON", "print");
             cJSON_free(out);
           }},
          {"weft json_encode", [&] {
             char *out = nullptr;
             size_t len = 0;
             if (weft_json_encode(wmsg, nullptr, &out, &len, &err) != 0)
               Die("weft encode", err.message);
             std::free(out);
           }}});
  double g_enc = enc[0], w_enc = enc[2];

  std::printf("ratios (weft / libprotobuf):\n");
  std::printf("  decode malloc %.2fx, decode arena %.2fx (target >= 4x)\n",
              w_dec / g_dec, w_dec_a / g_dec);
  std::printf("  encode %.2fx (target >= 2x)\n", w_enc / g_enc);

  cJSON_Delete(ctree);
  std::free(wjson);
  weft_message_free(wmsg);
  weft_arena_free(arena);
  return 0;
}
