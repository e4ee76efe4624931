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
#include "bench_common.h"
#include "weft/codec.h"
#include "weft/json.h"

#include <cjson/cJSON.h>

namespace {

using Clock = std::chrono::steady_clock;

using namespace weft_bench;

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
      n,
      {{"libprotobuf JsonStringToMessage",
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
       {"weft json_decode (arena)",
        [&] {
          void *m = nullptr;
          weft_json_opts o = {};
          o.arena = arena;
          if (weft_json_decode(wd, gjson.data(), n, &o, &m, &err) != 0)
            Die("weft decode", err.message);
          weft_arena_reset(arena);
        }}},
      /*round_s=*/0.04, /*rounds=*/15, /*print=*/true);
  double g_dec = dec[0], w_dec = dec[1], w_dec_a = dec[3];

  // cJSON is the declared JSON dependency: its tree alone (no message
  // structs on either side) is the floor of a cJSON-based codec.
  cJSON *ctree = cJSON_ParseWithLength(gjson.data(), n);
  std::printf("encode (message -> JSON text):\n");
  std::vector<double> enc =
      MeasureAll(n,
                 {{"libprotobuf MessageToJsonString",
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
                  {"weft json_encode",
                   [&] {
                     char *out = nullptr;
                     size_t len = 0;
                     if (weft_json_encode(wmsg, nullptr, &out, &len, &err) != 0)
                       Die("weft encode", err.message);
                     std::free(out);
                   }}},
                 /*round_s=*/0.04, /*rounds=*/15, /*print=*/true);
  double g_enc = enc[0], w_enc = enc[2];

  // Ratios as medians of per-round ratios (see RunRounds): weft's complete
  // codec against cJSON's tree alone, the floor of a cJSON-based codec.
  {
    std::vector<Timed> c = {
        {"cjson_parse",
         [&] { cJSON_Delete(cJSON_ParseWithLength(gjson.data(), n)); }},
        {"weft_decode_malloc",
         [&] {
           void *m = nullptr;
           weft_json_decode(wd, gjson.data(), n, nullptr, &m, &err);
           weft_message_free(m);
         }},
        {"weft_decode_arena",
         [&] {
           void *m = nullptr;
           weft_json_opts o = {};
           o.arena = arena;
           weft_json_decode(wd, gjson.data(), n, &o, &m, &err);
           weft_arena_reset(arena);
         }},
        {"cjson_print", [&] { cJSON_free(cJSON_PrintUnformatted(ctree)); }},
        {"weft_encode",
         [&] {
           char *out = nullptr;
           size_t len = 0;
           weft_json_encode(wmsg, nullptr, &out, &len, &err);
           std::free(out);
         }},
    };
    RunRounds(c, 11, 0.03);
    std::printf("speedup vs cJSON (median of per-round ratios):\n");
    std::printf("  decode malloc / cJSON parse %.2fx, decode arena / cJSON "
                "parse %.2fx (target >= 2x)\n",
                Speedup(c[1], c[0]), Speedup(c[2], c[0]));
    std::printf("  encode / cJSON print %.2fx (target >= 2x)\n",
                Speedup(c[4], c[3]));
  }

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
