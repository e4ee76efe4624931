// Binary codec benchmark: one realistic AITBC-like batch (~150 KB: job
// statuses, blocks with transactions, offers, settlements) decoded and
// encoded by weft, by protobuf-c (protoc-c output of the same proto) and by
// Google's C++ libprotobuf, in one run. Prints MB/s (of wire bytes) and
// ratios. Each figure is the best of 9 rounds interleaved across the
// libraries, timed in thread CPU time, to damp the noise of a shared
// machine; compare ratios within one run.
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <google/protobuf/arena.h>

#include "bench_aitbc.pb-c.h"
#include "bench_aitbc.pb.h"
#include "bench_aitbc.weft.h"
#include "bench_common.h"
#include "weft/codec.h"

namespace {

using Clock = std::chrono::steady_clock;

using namespace weft_bench;

} // namespace

int main() {
  benchaitbc::Batch batch = MakeBatch();
  std::string wire = batch.SerializeAsString();
  const auto *data = reinterpret_cast<const uint8_t *>(wire.data());
  const size_t len = wire.size();
  const weft_msg_desc *wd = &benchaitbc__Batch_desc; // protoc-gen-weft output
  std::printf("batch: %zu bytes (%d jobs, %d blocks x %d tx, %d offers, %d "
              "settlements)\n",
              len, batch.jobs_size(), batch.blocks_size(),
              batch.blocks(0).transactions_size(), batch.offers_size(),
              batch.settlements_size());

  // Correctness first: weft must reproduce the C++ bytes.
  weft_arena *arena = nullptr;
  if (weft_arena_new(&arena, 256 * 1024) != 0)
    return 1;
  weft_decode_opts aopts = {};
  aopts.arena = arena;
  void *wmsg = nullptr;
  weft_error err = {};
  if (weft_decode(wd, data, len, &aopts, &wmsg, &err) != 0) {
    std::fprintf(stderr, "weft decode failed: %s\n", err.message);
    return 1;
  }
  std::vector<uint8_t> out(len * 2 + 1024);
  ssize_t wn = weft_encode(wmsg, out.data(), out.size());
  bool same = wn == static_cast<ssize_t>(len) &&
              std::memcmp(out.data(), data, len) == 0;
  std::printf("weft re-encode == C++ bytes: %s; weft_encoded_size exact: %s\n",
              same ? "yes" : "NO",
              weft_encoded_size(wmsg) == len ? "yes" : "NO");
  if (!same)
    return 1;
  Benchaitbc__Batch *pmsg = benchaitbc__batch__unpack(nullptr, len, data);
  if (!pmsg)
    return 1;

  std::printf("\n%-44s %10s\n", "decode", "MB/s");
  auto dr = MeasureAll(
      len,
      {
          {"d_cpp",
           [&] {
             benchaitbc::Batch m;
             m.ParseFromArray(data, static_cast<int>(len));
           }},
          {"d_cpp_arena",
           [&] {
             google::protobuf::Arena a;
             auto *m =
                 google::protobuf::Arena::CreateMessage<benchaitbc::Batch>(&a);
             m->ParseFromArray(data, static_cast<int>(len));
           }},
          {"d_pbc",
           [&] {
             Benchaitbc__Batch *m =
                 benchaitbc__batch__unpack(nullptr, len, data);
             benchaitbc__batch__free_unpacked(m, nullptr);
           }},
          {"d_weft_arena",
           [&] {
             void *m = nullptr;
             weft_arena_reset(arena);
             weft_decode(wd, data, len, &aopts, &m, nullptr);
           }},
          {"d_weft_malloc",
           [&] {
             void *m = nullptr;
             weft_decode(wd, data, len, nullptr, &m, nullptr);
             weft_message_free(m);
           }},
      });
  double d_cpp = dr[0], d_cpp_arena = dr[1], d_pbc = dr[2],
         d_weft_arena = dr[3], d_weft_malloc = dr[4];
  std::printf("%-44s %10.1f\n", "libprotobuf C++ (ParseFromArray, heap)",
              d_cpp);
  std::printf("%-44s %10.1f\n", "libprotobuf C++ (ParseFromArray, Arena)",
              d_cpp_arena);
  std::printf("%-44s %10.1f\n", "protobuf-c (unpack + free_unpacked)", d_pbc);
  std::printf("%-44s %10.1f\n", "weft (weft_decode, arena + reset)",
              d_weft_arena);
  std::printf("%-44s %10.1f\n", "weft (weft_decode malloc + message_free)",
              d_weft_malloc);

  // Encode: each library encodes its own decoded form of the same data.
  weft_arena_reset(arena);
  weft_decode(wd, data, len, &aopts, &wmsg, nullptr);
  std::vector<uint8_t> buf(len * 2 + 1024);
  std::printf("\n%-44s %10s\n", "encode", "MB/s");
  auto er = MeasureAll(
      len, {
               {"e_cpp",
                [&] {
                  batch.SerializeToArray(buf.data(),
                                         static_cast<int>(buf.size()));
                }},
               {"e_pbc", [&] { benchaitbc__batch__pack(pmsg, buf.data()); }},
               {"e_pbc_sized",
                [&] {
                  size_t n = benchaitbc__batch__get_packed_size(pmsg);
                  (void)n;
                  benchaitbc__batch__pack(pmsg, buf.data());
                }},
               {"e_weft", [&] { weft_encode(wmsg, buf.data(), buf.size()); }},
               {"e_cpp_string",
                [&] {
                  std::string s;
                  batch.SerializeToString(&s);
                }},
               {"e_weft_alloc",
                [&] {
                  uint8_t *o = nullptr;
                  size_t n = 0;
                  weft_encode_alloc(wmsg, &o, &n);
                  free(o);
                }},
               {"e_weft_sized",
                [&] {
                  size_t n = weft_encoded_size(wmsg);
                  weft_encode(wmsg, buf.data(), n);
                }},
           });
  double e_cpp = er[0], e_pbc = er[1], e_pbc_sized = er[2], e_weft = er[3],
         e_cpp_string = er[4], e_weft_alloc = er[5], e_weft_sized = er[6];
  std::printf("%-44s %10.1f\n", "libprotobuf C++ (SerializeToArray)", e_cpp);
  std::printf("%-44s %10.1f\n", "protobuf-c (pack only)", e_pbc);
  std::printf("%-44s %10.1f\n", "protobuf-c (get_packed_size + pack)",
              e_pbc_sized);
  std::printf("%-44s %10.1f\n", "weft (weft_encode, one call)", e_weft);
  std::printf("%-44s %10.1f\n", "libprotobuf C++ (SerializeToString)",
              e_cpp_string);
  std::printf("%-44s %10.1f\n", "weft (weft_encode_alloc + free)",
              e_weft_alloc);
  std::printf("%-44s %10.1f\n", "weft (weft_encoded_size + weft_encode)",
              e_weft_sized);

  std::printf("\nratios\n");
  std::printf("decode weft arena / protobuf-c        %6.2fx (target >= 2)\n",
              d_weft_arena / d_pbc);
  std::printf("decode weft arena / C++ heap          %6.2fx (target >= 3)\n",
              d_weft_arena / d_cpp);
  std::printf("decode weft arena / C++ Arena         %6.2fx\n",
              d_weft_arena / d_cpp_arena);
  std::printf("decode weft malloc / protobuf-c       %6.2fx\n",
              d_weft_malloc / d_pbc);
  std::printf("decode weft malloc / C++ heap         %6.2fx\n",
              d_weft_malloc / d_cpp);
  double e_best_peer = std::max(e_cpp, e_pbc);
  std::printf("encode weft / faster peer             %6.2fx (target >= 1)\n",
              e_weft / e_best_peer);
  std::printf("encode weft_encode_alloc / C++ string  %6.2fx\n",
              e_weft_alloc / e_cpp_string);
  std::printf("encode weft sized / C++               %6.2fx\n",
              e_weft_sized / e_cpp);

  benchaitbc__batch__free_unpacked(pmsg, nullptr);
  weft_arena_free(arena);
  return 0;
}
