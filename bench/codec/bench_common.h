// Shared by bench_codec (binary) and json/json_bench (JSON): the AITBC-like
// batch (same seed, same shapes, so both benchmarks measure the same data)
// and the interleaved best-of-N timing in thread CPU time.
#pragma once

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "bench_aitbc.pb.h"

namespace weft_bench {

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

// BENCH_ONLY=<substring>: run only the matching measurements (profiling).
bool Wanted(const char *name) {
  const char *only = std::getenv("BENCH_ONLY");
  return !only || std::strstr(name, only) != nullptr;
}

// Thread CPU time: on a shared machine the wall clock also counts the time
// other processes hold the core; CPU time of this thread does not.
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

// Calibrates each case to ~30 ms per round, then runs rounds interleaved
// across the cases (so all see the same machine load) and keeps the best
// round of each. Returns MB/s of `bytes` per call, in order.
std::vector<double> MeasureAll(size_t bytes, std::vector<Case> cases,
                               double round_s = 0.03, int rounds = 9,
                               bool print = false) {
  for (auto &c : cases) {
    if (!Wanted(c.name))
      continue;
    for (;;) {
      double t0 = CpuNow();
      for (int i = 0; i < c.iters; i++)
        c.fn();
      if (CpuNow() - t0 > round_s)
        break;
      c.iters *= 2;
    }
  }
  for (int r = 0; r < rounds; r++)
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
    if (print && Wanted(c.name))
      std::printf("  %-34s %8.1f MB/s\n", c.name, mbs);
    out.push_back(mbs);
  }
  return out;
}

} // namespace weft_bench

namespace weft_bench {

// Per-round timing for ratios: every case runs once per round, rounds are
// interleaved across cases (so each round's cases see the same load), and a
// ratio is the median over rounds of the per-round ratio.
struct Timed {
  const char *name;
  std::function<void()> fn;
  int iters = 1;
  std::vector<double> t; // seconds per call, one per round
};

inline double Median(std::vector<double> v) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// BENCH_CASE=<substring of a case's name> runs only those cases (profiling;
// the ratios of the others then read 0).
inline void RunRounds(std::vector<Timed> &cases, int rounds = 11,
                      double round_s = 0.02) {
  const char *only = std::getenv("BENCH_CASE");
  for (auto &c : cases) {
    if (only && !std::strstr(c.name, only))
      continue;
    for (;;) {
      double t0 = CpuNow();
      for (int i = 0; i < c.iters; i++)
        c.fn();
      if (CpuNow() - t0 > round_s)
        break;
      c.iters *= 2;
    }
  }
  for (int r = 0; r < rounds; r++)
    for (auto &c : cases) {
      if (only && !std::strstr(c.name, only))
        continue;
      double t0 = CpuNow();
      for (int i = 0; i < c.iters; i++)
        c.fn();
      c.t.push_back((CpuNow() - t0) / c.iters);
    }
}

// How many times faster case a is than case b: median of t_b / t_a.
inline double Speedup(const Timed &a, const Timed &b) {
  std::vector<double> r;
  for (size_t i = 0; i < a.t.size() && i < b.t.size(); i++)
    r.push_back(b.t[i] / a.t[i]);
  return Median(r);
}

} // namespace weft_bench
