// Binary codec benchmark: weft vs protobuf-c (protoc-c output of the same
// proto) vs Google's C++ libprotobuf, in one run, on
//   - two batches: the AITBC-like batch (~140 KB: job statuses, blocks of
//     transactions, offers, settlements) and a tree of build artifacts
//     (large bytes fields, deep nesting);
//   - three small messages: GetJobRequest (10 bytes), Job (~200 bytes) and
//     an Event carrying one transaction.
// Every library must reproduce libprotobuf's bytes before anything is
// timed. Timing is thread CPU time; each case runs once per round, rounds
// interleave the libraries, and every ratio printed is the median of the
// per-round ratios (a shared machine's load hits all cases of a round
// alike). Figures in MB/s or ns are medians too; compare ratios.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <google/protobuf/arena.h>

#include "bench_aitbc.pb-c.h"
#include "bench_aitbc.pb.h"
#include "bench_aitbc.weft.h"
#include "bench_common.h"
#include "weft/codec.h"

// codec/encode.h: weft_encode_alloc's table paths, whatever the type
extern "C" int weft__encode_alloc_tables(const void *msg, uint8_t **out,
                                         size_t *out_len);
extern "C" int weft__encode_alloc_backward(const void *msg, uint8_t **out,
                                           size_t *out_len);

namespace {

using namespace weft_bench;
namespace gp = google::protobuf;

void Die(const char *what) {
  std::fprintf(stderr, "bench_codec: %s\n", what);
  std::exit(1);
}

void FillArtifact(benchaitbc::Artifact *a, int depth) {
  a->set_name("artifact-" + Hex(12));
  a->set_data(Raw(1024 + rng() % 4096));
  a->set_digest(Raw(32));
  a->set_size(a->data().size());
  (*a->mutable_meta())["kind"] = Pick({"weights", "log", "checkpoint"});
  (*a->mutable_meta())["sha"] = Hex(16);
  if (depth >= 12)
    return;
  int kids = depth % 4 == 0 ? 2 : 1;
  for (int k = 0; k < kids; k++)
    FillArtifact(a->add_children(), depth + 1);
}

benchaitbc::Transaction MakeTx() {
  benchaitbc::Transaction tx;
  tx.set_hash(Raw(32));
  tx.set_from("aitbc1" + Hex(38));
  tx.set_to("aitbc1" + Hex(38));
  tx.set_amount(rng() % 1000000000000ull);
  tx.set_fee(1000 + rng() % 100000);
  tx.set_nonce(rng() % 100000);
  tx.set_signature(Raw(64));
  tx.set_timestamp(1700000000);
  tx.set_memo("payment for job-" + Hex(24));
  return tx;
}

// One message type under test: its wire bytes and each library's decoded
// form of them (what the encoders start from).
struct Subject {
  std::string name;
  std::string wire;
  const gp::Message *cpp;                     // parsed by C++
  const ProtobufCMessageDescriptor *pbc_desc; // protobuf-c
  const weft_msg_desc *wd;
  ProtobufCMessage *pbc = nullptr;
  void *weft = nullptr; // arena-decoded
  weft_arena *arena = nullptr;
  int per_call = 1; // messages per timed call (small messages: many)
};

void Prepare(Subject &s) {
  const auto *data = reinterpret_cast<const uint8_t *>(s.wire.data());
  size_t len = s.wire.size();
  if (weft_arena_new(&s.arena, 64 * 1024) != 0)
    Die("arena");
  weft_decode_opts o = {};
  o.arena = s.arena;
  weft_error err = {};
  if (weft_decode(s.wd, data, len, &o, &s.weft, &err) != 0)
    Die(err.message);
  std::vector<uint8_t> out(len + 64);
  ssize_t n = weft_encode(s.weft, out.data(), out.size());
  if (n != static_cast<ssize_t>(len) ||
      std::memcmp(out.data(), data, len) != 0 ||
      weft_encoded_size(s.weft) != len)
    Die(("weft does not reproduce libprotobuf's bytes: " + s.name).c_str());
  s.pbc = protobuf_c_message_unpack(s.pbc_desc, nullptr, len, data);
  if (!s.pbc || protobuf_c_message_get_packed_size(s.pbc) != len)
    Die("protobuf-c");
}

struct Result {
  double dec_pbc, dec_cpp, dec_cpp_arena; // weft malloc vs ... (speedups)
  double arena_pbc, arena_cpp_arena;
  double alias_malloc, alias_arena; // alias vs no alias, same path
  double enc_best;                  // weft_encode vs the faster peer
  double enc_sized_best;            // size + encode vs the faster peer
};

template <class M> Result Run(Subject &s, bool print_mbs) {
  const auto *data = reinterpret_cast<const uint8_t *>(s.wire.data());
  const size_t len = s.wire.size();
  const int k = s.per_call;
  weft_arena *arena = nullptr;
  weft_arena_new(&arena, 64 * 1024);
  weft_decode_opts ao = {}, alias_o = {}, alias_ao = {};
  ao.arena = arena;
  alias_o.alias = 1;
  alias_ao.arena = arena;
  alias_ao.alias = 1;
  std::vector<uint8_t> buf(len + 64);
  const M &cm = static_cast<const M &>(*s.cpp);
  std::vector<Timed> c = {
      {"d_cpp",
       [&] {
         for (int i = 0; i < k; i++) {
           M m;
           m.ParseFromArray(data, static_cast<int>(len));
         }
       }},
      {"d_cpp_arena",
       [&] {
         for (int i = 0; i < k; i++) {
           gp::Arena a;
           auto *m = gp::Arena::CreateMessage<M>(&a);
           m->ParseFromArray(data, static_cast<int>(len));
         }
       }},
      {"d_pbc",
       [&] {
         for (int i = 0; i < k; i++)
           protobuf_c_message_free_unpacked(
               protobuf_c_message_unpack(s.pbc_desc, nullptr, len, data),
               nullptr);
       }},
      {"d_weft_malloc",
       [&] {
         for (int i = 0; i < k; i++) {
           void *m = nullptr;
           weft_decode(s.wd, data, len, nullptr, &m, nullptr);
           weft_message_free(m);
         }
       }},
      {"d_weft_arena",
       [&] {
         for (int i = 0; i < k; i++) {
           void *m = nullptr;
           weft_decode(s.wd, data, len, &ao, &m, nullptr);
           weft_arena_reset(arena);
         }
       }},
      {"d_weft_malloc_alias",
       [&] {
         for (int i = 0; i < k; i++) {
           void *m = nullptr;
           weft_decode(s.wd, data, len, &alias_o, &m, nullptr);
           weft_message_free(m);
         }
       }},
      {"d_weft_arena_alias",
       [&] {
         for (int i = 0; i < k; i++) {
           void *m = nullptr;
           weft_decode(s.wd, data, len, &alias_ao, &m, nullptr);
           weft_arena_reset(arena);
         }
       }},
      {"e_cpp",
       [&] {
         for (int i = 0; i < k; i++)
           cm.SerializeToArray(buf.data(), static_cast<int>(buf.size()));
       }},
      {"e_pbc",
       [&] {
         for (int i = 0; i < k; i++)
           protobuf_c_message_pack(s.pbc, buf.data());
       }},
      {"e_weft",
       [&] {
         for (int i = 0; i < k; i++)
           weft_encode(s.weft, buf.data(), buf.size());
       }},
      // the way gRPC's transport encodes: exact size, then into that many
      // bytes
      {"e_weft_sized",
       [&] {
         for (int i = 0; i < k; i++)
           weft_encode(s.weft, buf.data(), weft_encoded_size(s.weft));
       }},
      // a floor for any encoder: copying the output's bytes once
      {"e_memcpy",
       [&] {
         for (int i = 0; i < k; i++) {
           std::memcpy(buf.data(), data, len);
           asm volatile("" : : "r"(buf.data()) : "memory");
         }
       }},
      // into a buffer it allocates (timed only; listed last so the
      // indices below stay)
      {"e_weft_alloc",
       [&] {
         for (int i = 0; i < k; i++) {
           uint8_t *out = nullptr;
           size_t n = 0;
           weft_encode_alloc(s.weft, &out, &n);
           std::free(out);
         }
       }},
      // weft_encode_alloc's path for a type without a generated encoder
      // (dyndesc, oneofs, proto2): the table walk's size, then one write
      // into an exact allocation; and the chunked backward pass and copy it
      // replaced
      {"e_weft_alloc_tables",
       [&] {
         for (int i = 0; i < k; i++) {
           uint8_t *out = nullptr;
           size_t n = 0;
           weft__encode_alloc_tables(s.weft, &out, &n);
           std::free(out);
         }
       }},
      {"e_weft_alloc_chunked",
       [&] {
         for (int i = 0; i < k; i++) {
           uint8_t *out = nullptr;
           size_t n = 0;
           weft__encode_alloc_backward(s.weft, &out, &n);
           std::free(out);
         }
       }},
  };
  RunRounds(c, 11, 0.02);
  enum {
    CPP,
    CPP_ARENA,
    PBC,
    W_MALLOC,
    W_ARENA,
    W_MALLOC_ALIAS,
    W_ARENA_ALIAS,
    E_CPP,
    E_PBC,
    E_WEFT,
    E_WEFT_SIZED,
    E_MEMCPY
  };
  std::printf("\n== %s: %zu bytes\n", s.name.c_str(), len);
  for (auto &t : c) {
    double sec = Median(t.t) / k;
    if (print_mbs)
      std::printf("  %-22s %9.1f MB/s\n", t.name,
                  static_cast<double>(len) / sec / 1e6);
    else
      std::printf("  %-22s %9.1f ns/msg\n", t.name, sec * 1e9);
  }
  Result r;
  r.dec_pbc = Speedup(c[W_MALLOC], c[PBC]);
  r.dec_cpp = Speedup(c[W_MALLOC], c[CPP]);
  r.dec_cpp_arena = Speedup(c[W_MALLOC], c[CPP_ARENA]);
  r.arena_pbc = Speedup(c[W_ARENA], c[PBC]);
  r.arena_cpp_arena = Speedup(c[W_ARENA], c[CPP_ARENA]);
  r.alias_malloc = Speedup(c[W_MALLOC_ALIAS], c[W_MALLOC]);
  r.alias_arena = Speedup(c[W_ARENA_ALIAS], c[W_ARENA]);
  // the faster peer, round by round
  Timed best{"e_best", nullptr};
  for (size_t i = 0; i < c[E_CPP].t.size(); i++)
    best.t.push_back(std::min(c[E_CPP].t[i], c[E_PBC].t[i]));
  r.enc_best = Speedup(c[E_WEFT], best);
  r.enc_sized_best = Speedup(c[E_WEFT_SIZED], best);
  std::printf("  speedups (median of per-round ratios):\n");
  std::printf("    decode+free weft malloc / protobuf-c   %5.2fx\n", r.dec_pbc);
  std::printf("    decode+free weft malloc / C++ heap     %5.2fx\n", r.dec_cpp);
  std::printf("    decode weft arena / protobuf-c         %5.2fx\n",
              r.arena_pbc);
  std::printf("    decode weft arena / C++ Arena          %5.2fx\n",
              r.arena_cpp_arena);
  std::printf("    alias gain: malloc %5.2fx, arena %5.2fx\n", r.alias_malloc,
              r.alias_arena);
  std::printf("    encode weft / faster of C++, protobuf-c %5.2fx\n",
              r.enc_best);
  std::printf("    size + encode weft / faster peer       %5.2fx\n",
              r.enc_sized_best);
  std::printf("    memcpy of the output / weft encode     %5.2fx\n",
              Speedup(c[E_MEMCPY], c[E_WEFT]));
  if (!print_mbs)
    std::printf("    (time as a fraction of protobuf-c's: decode+free %.2f, "
                "encode %.2f)\n",
                1 / r.dec_pbc, 1 / Speedup(c[E_WEFT], c[E_PBC]));
  weft_arena_free(arena);
  return r;
}

} // namespace

int main() {
  benchaitbc::Batch batch = MakeBatch();
  benchaitbc::Artifact art;
  FillArtifact(&art, 0);
  benchaitbc::GetJobRequest gj;
  gj.set_job_id("job-" + Hex(4));
  benchaitbc::Job job;
  job.set_job_id("job-" + Hex(24));
  job.set_state(benchaitbc::JOB_STATE_RUNNING);
  job.set_assigned_miner_id("miner-" + Hex(12));
  job.mutable_payload()->insert({"model", "llama-3-70b"});
  job.mutable_payload()->insert({"prompt", "summarize the attached report"});
  job.set_ttl_seconds(3600);
  job.set_requested_at("2026-11-23T12:00:00Z");
  job.set_expires_at("2026-11-23T13:00:00Z");
  job.set_progress(0.5);
  job.set_client_id("client-" + Hex(16));
  benchaitbc::Event ev;
  ev.set_height(1000042);
  ev.set_kind("block.transaction");
  ev.set_timestamp(1700000000);
  *ev.add_transactions() = MakeTx();

  std::vector<Subject> subjects = {
      {"batch (AITBC-like)", batch.SerializeAsString(), &batch,
       &benchaitbc__batch__descriptor, &benchaitbc__Batch_desc},
      {"artifacts (large bytes, deep nesting)", art.SerializeAsString(), &art,
       &benchaitbc__artifact__descriptor, &benchaitbc__Artifact_desc},
      {"GetJobRequest", gj.SerializeAsString(), &gj,
       &benchaitbc__get_job_request__descriptor,
       &benchaitbc__GetJobRequest_desc},
      {"Job", job.SerializeAsString(), &job, &benchaitbc__job__descriptor,
       &benchaitbc__Job_desc},
      {"Event (one transaction)", ev.SerializeAsString(), &ev,
       &benchaitbc__event__descriptor, &benchaitbc__Event_desc},
  };
  for (size_t i = 2; i < subjects.size(); i++)
    subjects[i].per_call = 200;
  for (auto &s : subjects)
    Prepare(s);
  std::printf("every library reproduces libprotobuf's bytes: yes\n");

  // BENCH_ONLY=<substring of a subject's name>: that subject only (perf)
  if (std::getenv("BENCH_ONLY")) {
    const char *only = std::getenv("BENCH_ONLY");
    for (size_t i = 0; i < subjects.size(); i++)
      if (subjects[i].name.find(only) != std::string::npos) {
        if (i == 0)
          Run<benchaitbc::Batch>(subjects[i], true);
        if (i == 1)
          Run<benchaitbc::Artifact>(subjects[i], true);
        if (i == 2)
          Run<benchaitbc::GetJobRequest>(subjects[i], false);
        if (i == 3)
          Run<benchaitbc::Job>(subjects[i], false);
        if (i == 4)
          Run<benchaitbc::Event>(subjects[i], false);
      }
    return 0;
  }
  std::vector<Result> r;
  r.push_back(Run<benchaitbc::Batch>(subjects[0], true));
  r.push_back(Run<benchaitbc::Artifact>(subjects[1], true));
  r.push_back(Run<benchaitbc::GetJobRequest>(subjects[2], false));
  r.push_back(Run<benchaitbc::Job>(subjects[3], false));
  r.push_back(Run<benchaitbc::Event>(subjects[4], false));

  std::printf("\nsummary (speedup of weft; targets in brackets)\n");
  std::printf("%-40s %8s %8s %8s %8s %8s\n", "", "malloc/", "arena/", "arena/",
              "encode/", "alias");
  std::printf("%-40s %8s %8s %8s %8s %8s\n", "", "pbc", "pbc", "C++Arena",
              "best", "malloc");
  std::printf("%-40s %8s %8s %8s %8s\n", "[targets]", "[1.5]", "[3]", "[4]",
              "[1.5]");
  for (size_t i = 0; i < r.size(); i++)
    std::printf("%-40s %7.2fx %7.2fx %7.2fx %7.2fx %7.2fx\n",
                subjects[i].name.c_str(), r[i].dec_pbc, r[i].arena_pbc,
                r[i].arena_cpp_arena, r[i].enc_best, r[i].alias_malloc);
  std::printf("(small messages: target malloc/pbc and encode/pbc >= 2x, "
              "i.e. at most half protobuf-c's time)\n");
  for (auto &s : subjects) {
    protobuf_c_message_free_unpacked(s.pbc, nullptr);
    weft_arena_free(s.arena);
  }
  return 0;
}
