// bench_grpc: weft's gRPC transport against gRPC's C++ synchronous API on
// the same proto, the same gRPC core, in one process and one run.
//
// Servers: the C++ sync server and a weft server. Clients: the C++ sync
// stub and a weft client. Each (server, client) pair runs unary calls with
// 1 and 16 concurrent callers (QPS, p50, p99) and server-streaming calls
// (messages/s). Ratios compare weft's server with the C++ server under the
// same client, and weft's client with the C++ client against the same
// server. Both sides share the machine's cores: compare ratios, not
// absolute figures.
//
//   bench_grpc [--seconds=S] [--payload=BYTES]
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench_weft.h"
#include "weftbench/bench.grpc.pb.h"

using Clock = std::chrono::steady_clock;

namespace {

double g_seconds = 2.0;
int g_only = -1; // --only=cpp|weft: one server, C++ client, 16 callers
int g_payload = 64;
const int kStreamCount = 20000;

class CppService final : public weftbench::Bench::Service {
  grpc::Status Unary(grpc::ServerContext *, const weftbench::Msg *req,
                     weftbench::Msg *resp) override {
    resp->set_seq(req->seq());
    resp->set_payload(req->payload());
    return grpc::Status::OK;
  }
  grpc::Status Stream(grpc::ServerContext *, const weftbench::StreamReq *req,
                      grpc::ServerWriter<weftbench::Msg> *w) override {
    weftbench::Msg m;
    m.set_payload(std::string(static_cast<size_t>(req->size()), '\0'));
    for (int i = 0; i < req->count(); i++) {
      m.set_seq(i);
      if (!w->Write(m))
        break;
    }
    return grpc::Status::OK;
  }
};

struct Caller {
  virtual ~Caller() = default;
  virtual bool unary(int64_t seq) = 0;
  virtual long stream(int count) = 0;
};

struct CppCaller : Caller {
  std::unique_ptr<weftbench::Bench::Stub> stub;
  explicit CppCaller(std::shared_ptr<grpc::Channel> ch)
      : stub(weftbench::Bench::NewStub(ch)) {}
  bool unary(int64_t seq) override {
    grpc::ClientContext ctx;
    weftbench::Msg req, resp;
    req.set_seq(seq);
    req.set_payload(std::string(static_cast<size_t>(g_payload), '\0'));
    return stub->Unary(&ctx, req, &resp).ok() && resp.seq() == seq;
  }
  long stream(int count) override {
    grpc::ClientContext ctx;
    weftbench::StreamReq req;
    req.set_count(count);
    req.set_size(g_payload);
    auto r = stub->Stream(&ctx, req);
    weftbench::Msg m;
    long n = 0;
    while (r->Read(&m))
      n++;
    return r->Finish().ok() ? n : -1;
  }
};

struct WeftCaller : Caller {
  weft_client *c;
  void *arena;
  explicit WeftCaller(weft_client *c) : c(c), arena(bench_weft_arena_new()) {}
  ~WeftCaller() override {
    bench_weft_arena_free(arena);
  }
  bool unary(int64_t seq) override {
    return bench_weft_unary(c, arena, seq, g_payload) == 0;
  }
  long stream(int count) override {
    return bench_weft_stream(c, arena, count, g_payload);
  }
};

struct Result {
  double qps = 0, p50_us = 0, p99_us = 0;
  long errors = 0;
};

// `callers` threads, each with its own Caller from make(), for g_seconds.
template <class Make> Result run_unary(int callers, Make make) {
  std::vector<std::vector<double>> lat(static_cast<size_t>(callers));
  std::vector<std::thread> th;
  std::atomic<long> errors{0};
  std::atomic<bool> go{false};
  auto end = Clock::now() + std::chrono::milliseconds(
                                static_cast<long>(g_seconds * 1000) + 200);
  for (int t = 0; t < callers; t++) {
    th.emplace_back([&, t] {
      std::unique_ptr<Caller> c = make();
      while (!go.load())
        std::this_thread::yield();
      int64_t seq = 0;
      // 200 ms warm-up, not recorded.
      auto warm = Clock::now() + std::chrono::milliseconds(200);
      while (Clock::now() < warm)
        c->unary(seq++);
      auto &l = lat[static_cast<size_t>(t)];
      for (;;) {
        auto t0 = Clock::now();
        if (t0 >= end)
          break;
        if (!c->unary(seq++))
          errors++;
        l.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0)
                        .count());
      }
    });
  }
  go = true;
  for (auto &x : th)
    x.join();
  std::vector<double> all;
  for (auto &l : lat)
    all.insert(all.end(), l.begin(), l.end());
  Result r;
  r.errors = errors.load();
  if (all.empty())
    return r;
  std::sort(all.begin(), all.end());
  r.qps = static_cast<double>(all.size()) / g_seconds;
  r.p50_us = all[all.size() / 2];
  r.p99_us = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  return r;
}

template <class Make> double run_stream(Make make) {
  std::unique_ptr<Caller> c = make();
  c->stream(1000); // warm-up
  long n = 0;
  auto t0 = Clock::now();
  auto end =
      t0 + std::chrono::milliseconds(static_cast<long>(g_seconds * 1000));
  while (Clock::now() < end) {
    long k = c->stream(kStreamCount);
    if (k < 0)
      return -1;
    n += k;
  }
  double s = std::chrono::duration<double>(Clock::now() - t0).count();
  return static_cast<double>(n) / s;
}

} // namespace

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (!strncmp(argv[i], "--seconds=", 10))
      g_seconds = atof(argv[i] + 10);
    else if (!strncmp(argv[i], "--payload=", 10))
      g_payload = std::min(4096, atoi(argv[i] + 10));
    else if (!strcmp(argv[i], "--only=cpp"))
      g_only = 0;
    else if (!strcmp(argv[i], "--only=weft"))
      g_only = 1;
  }

  CppService service;
  grpc::ServerBuilder b;
  int cpp_port = 0;
  b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                     &cpp_port);
  b.RegisterService(&service);
  std::unique_ptr<grpc::Server> cpp_server = b.BuildAndStart();
  int weft_port = 0;
  weft_server *ws = bench_weft_server_start(&weft_port);
  if (!cpp_server || !ws) {
    fprintf(stderr, "bench_grpc: cannot start servers\n");
    return 1;
  }
  printf("bench_grpc: %.1f s per run, %d-byte payloads, %u cores shared by "
         "client and server\n\n",
         g_seconds, g_payload, std::thread::hardware_concurrency());

  struct Srv {
    const char *name;
    int port;
  } servers[] = {{"C++ sync", cpp_port}, {"weft", weft_port}};
  // One channel / weft client per (server, client kind), shared by callers.
  Result unary[2][2][2]; // [server][client][callers 1/16]
  double stream[2][2];
  const char *clients[] = {"C++ sync", "weft"};
  if (g_only >= 0) { // for profiling one server
    std::string target = "127.0.0.1:" + std::to_string(servers[g_only].port);
    auto ch = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
    Result r = run_unary(
        16, [&] { return std::unique_ptr<Caller>(new CppCaller(ch)); });
    printf("%s server, C++ client, 16 callers: %.0f QPS\n",
           servers[g_only].name, r.qps);
    bench_weft_server_stop(ws);
    cpp_server->Shutdown();
    return 0;
  }
  for (int s = 0; s < 2; s++) {
    std::string target = "127.0.0.1:" + std::to_string(servers[s].port);
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
    auto ch = grpc::CreateCustomChannel(
        target, grpc::InsecureChannelCredentials(), args);
    weft_client *wc = bench_weft_client_open(servers[s].port);
    if (!wc) {
      fprintf(stderr, "bench_grpc: weft client cannot connect\n");
      return 1;
    }
    auto make_cpp = [&] { return std::unique_ptr<Caller>(new CppCaller(ch)); };
    auto make_weft = [&] {
      return std::unique_ptr<Caller>(new WeftCaller(wc));
    };
    int ci = 0;
    for (int conc : {1, 16}) {
      unary[s][0][ci] = run_unary(conc, make_cpp);
      unary[s][1][ci] = run_unary(conc, make_weft);
      ci++;
    }
    stream[s][0] = run_stream(make_cpp);
    stream[s][1] = run_stream(make_weft);
    bench_weft_client_close(wc);
  }

  printf("%-10s %-10s %7s %12s %9s %9s %7s\n", "server", "client", "callers",
         "unary QPS", "p50 us", "p99 us", "errors");
  for (int s = 0; s < 2; s++)
    for (int c = 0; c < 2; c++)
      for (int k = 0; k < 2; k++) {
        const Result &r = unary[s][c][k];
        printf("%-10s %-10s %7d %12.0f %9.1f %9.1f %7ld\n", servers[s].name,
               clients[c], k ? 16 : 1, r.qps, r.p50_us, r.p99_us, r.errors);
      }
  printf("\n%-10s %-10s %16s\n", "server", "client", "stream msgs/s");
  for (int s = 0; s < 2; s++)
    for (int c = 0; c < 2; c++)
      printf("%-10s %-10s %16.0f\n", servers[s].name, clients[c], stream[s][c]);

  printf("\nratios (weft / C++; >= 1.00 means weft is as fast or faster)\n");
  for (int c = 0; c < 2; c++)
    for (int k = 0; k < 2; k++)
      printf("  server, %-8s client, %2d callers: unary QPS %.2fx\n",
             clients[c], k ? 16 : 1,
             unary[1][c][k].qps / std::max(1.0, unary[0][c][k].qps));
  for (int c = 0; c < 2; c++)
    printf("  server, %-8s client:              stream    %.2fx\n", clients[c],
           stream[1][c] / std::max(1.0, stream[0][c]));
  for (int s = 0; s < 2; s++)
    for (int k = 0; k < 2; k++)
      printf("  client, %-8s server, %2d callers: unary QPS %.2fx\n",
             servers[s].name, k ? 16 : 1,
             unary[s][1][k].qps / std::max(1.0, unary[s][0][k].qps));
  for (int s = 0; s < 2; s++)
    printf("  client, %-8s server:              stream    %.2fx\n",
           servers[s].name, stream[s][1] / std::max(1.0, stream[s][0]));

  bench_weft_server_stop(ws);
  cpp_server->Shutdown();
  return 0;
}
