// bench_grpc: weft's gRPC transport against gRPC's C++ synchronous API on
// the same proto and the same gRPC core, side by side in one run.
//
// Servers (each in a child process): the C++ sync server, a weft server
// with handlers on the runtime's worker pool (pool_handlers), and one in
// the default mode (handlers on the queue threads). Clients (in this
// process): the C++ sync stub and a weft client. Each (server, client) pair
// runs unary calls with 1 and 16 concurrent callers (QPS, p50, p99) and
// server-streaming calls (messages/s); the three servers run back to back
// for each test, and the ratio to the C++ server is taken per round (median
// shown), so drift in the shared machine's speed cancels. Each server's CPU
// time per call (from /proc/PID/stat) is shown too: it measures the
// server's own cost whatever the client's; and this process's CPU time per
// call (the clients' cost: getrusage, as only the client under test is
// busy). Both sides share the machine's cores: compare ratios, not absolute
// figures; the CPU figures move much less with the machine's load.
//
//   bench_grpc [--seconds=S] [--payload=BYTES] [--rounds=N]
//              [--only=0|1|2 [--stream | --callers=N]]
// --only runs one server with the C++ client, 16 callers or N (for
// profiling; with WEFT_BENCH_RUSAGE=1 each server prints its CPU time when
// it stops).
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

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

double g_seconds = 1.5;
int g_rounds = 5; // rounds of the whole matrix; medians shown
int g_only = -1;  // --only=N: server N only, C++ client, 16 callers (profiling)
bool g_only_stream = false; // with --only: server streaming instead
int g_only_callers = 16;    // with --only: concurrent unary callers
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
  long calls = 0; // all calls made, warm-up included (for CPU per call)
};

// CPU time (user + system) a process has used so far, in microseconds.
// From /proc/PID/stat, in 10 ms ticks, because it keeps the time of threads
// that exited: the servers' surplus poller threads do (bench_ws sums the
// finer per-thread schedstat instead; its servers keep their threads).
double proc_cpu_us(pid_t pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  FILE *f = fopen(path, "r");
  if (!f)
    return 0;
  char buf[1024];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  // Fields after the command name (which may hold spaces): state is 3rd,
  // utime the 14th and stime the 15th.
  const char *p = strrchr(buf, ')');
  if (!p)
    return 0;
  unsigned long ut = 0, st = 0;
  if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
             &st) != 2)
    return 0;
  return static_cast<double>(ut + st) * 1e6 /
         static_cast<double>(sysconf(_SC_CLK_TCK));
}

// This process's CPU time (user + system) so far, in microseconds: the
// clients', as the servers run in child processes.
double self_cpu_us() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

// `callers` threads, each with its own Caller from make(), for g_seconds.
template <class Make> Result run_unary(int callers, Make make) {
  std::vector<std::vector<double>> lat(static_cast<size_t>(callers));
  std::vector<std::thread> th;
  std::atomic<long> errors{0}, warm_calls{0};
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
      while (Clock::now() < warm) {
        c->unary(seq++);
        warm_calls++;
      }
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
  r.calls = static_cast<long>(all.size()) + warm_calls.load();
  if (all.empty())
    return r;
  std::sort(all.begin(), all.end());
  r.qps = static_cast<double>(all.size()) / g_seconds;
  r.p50_us = all[all.size() / 2];
  r.p99_us = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  return r;
}

// Messages per second; *total gets every message, warm-up included.
template <class Make> double run_stream(Make make, long *total = nullptr) {
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
  if (total)
    *total = n + 1000;
  return static_cast<double>(n) / s;
}

// --serve=cpp|weft: a server process; prints its port, runs until stdin
// closes. The benchmark runs each server in its own child process so the
// clients' and servers' gRPC pollers don't share one epoll set.
int serve(const char *kind) {
  int port = 0;
  std::unique_ptr<grpc::Server> cpp;
  CppService service;
  weft_server *ws = nullptr;
  if (!strcmp(kind, "cpp")) {
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    b.RegisterService(&service);
    cpp = b.BuildAndStart();
  } else {
    ws = bench_weft_server_start(&port, !strcmp(kind, "weft-inline"));
  }
  if (port <= 0)
    return 1;
  printf("%d\n", port);
  fflush(stdout);
  char buf[16];
  while (read(0, buf, sizeof buf) > 0) {
  }
  if (getenv("WEFT_BENCH_RUSAGE")) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    fprintf(stderr,
            "%s server: cpu %.2f s (user %.2f), ctx switches %ld "
            "voluntary %ld involuntary\n",
            kind,
            ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
                (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6,
            ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6, ru.ru_nvcsw,
            ru.ru_nivcsw);
  }
  if (ws)
    bench_weft_server_stop(ws);
  if (cpp)
    cpp->Shutdown();
  return 0;
}

struct Child {
  pid_t pid = -1;
  int to_child = -1;
  int port = 0;
};

Child spawn(const char *self, const char *kind) {
  int in[2], out[2];
  Child c;
  if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
    return c;
  c.pid = fork();
  if (c.pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    close(in[1]);
    close(out[0]);
    std::string arg = std::string("--serve=") + kind;
    execl(self, self, arg.c_str(), (char *)nullptr);
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  c.to_child = in[1];
  char buf[32] = {0};
  ssize_t n = read(out[0], buf, sizeof buf - 1);
  close(out[0]);
  c.port = n > 0 ? atoi(buf) : 0;
  return c;
}

void reap(Child &c) {
  if (c.to_child >= 0)
    close(c.to_child); // the child stops when stdin closes
  if (c.pid > 0)
    waitpid(c.pid, nullptr, 0);
}

} // namespace

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (!strncmp(argv[i], "--serve=", 8))
      return serve(argv[i] + 8);
  for (int i = 1; i < argc; i++) {
    if (!strncmp(argv[i], "--seconds=", 10))
      g_seconds = atof(argv[i] + 10);
    else if (!strncmp(argv[i], "--payload=", 10))
      g_payload = std::min(4096, atoi(argv[i] + 10));
    else if (!strncmp(argv[i], "--only=", 7))
      g_only = atoi(argv[i] + 7);
    else if (!strcmp(argv[i], "--stream"))
      g_only_stream = true;
    else if (!strncmp(argv[i], "--callers=", 10))
      g_only_callers = std::max(1, atoi(argv[i] + 10));
    else if (!strncmp(argv[i], "--rounds=", 9))
      g_rounds = std::max(1, atoi(argv[i] + 9));
  }

  // Each server in its own child process, so the clients' and the servers'
  // gRPC pollers don't share one epoll set.
  enum { NS = 3, NC = 2 };
  struct Srv {
    const char *name;
    const char *kind;
    Child child;
  } servers[NS] = {{"C++ sync", "cpp", {}},
                   {"weft pool", "weft", {}},
                   {"weft inl.", "weft-inline", {}}};
  for (Srv &sv : servers) {
    sv.child = spawn(argv[0], sv.kind);
    if (sv.child.port <= 0) {
      fprintf(stderr, "bench_grpc: cannot start the %s server\n", sv.name);
      return 1;
    }
  }
  auto reap_all = [&] {
    for (Srv &sv : servers)
      reap(sv.child);
  };
  if (g_only >= 0 && g_only < NS) {
    std::string target =
        "127.0.0.1:" + std::to_string(servers[g_only].child.port);
    auto ch = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
    if (g_only_stream) {
      double mps = run_stream(
          [&] { return std::unique_ptr<Caller>(new CppCaller(ch)); });
      printf("%s server, C++ client, streaming: %.0f msgs/s\n",
             servers[g_only].name, mps);
      reap_all();
      return 0;
    }
    Result r = run_unary(g_only_callers, [&] {
      return std::unique_ptr<Caller>(new CppCaller(ch));
    });
    printf("%s server, C++ client, %d callers: %.0f QPS, %ld calls\n",
           servers[g_only].name, g_only_callers, r.qps, r.calls);
    reap_all();
    return 0;
  }
  printf("bench_grpc: %d rounds of %.1f s per run; servers in child "
         "processes (weft pool: handlers on the runtime's workers "
         "(pool_handlers); weft inl.: queue threads, the default); %d-byte "
         "payloads; %u cores shared by clients and servers\n\n",
         g_rounds, g_seconds, g_payload, std::thread::hardware_concurrency());

  const char *clients[NC] = {"C++ sync", "weft"};
  enum { NT = 3 }; // tests: unary 1 caller, unary 16 callers, streaming
  const char *tests[NT] = {"unary 1", "unary 16", "stream"};
  // One channel and one weft client per server, kept for the whole run.
  std::shared_ptr<grpc::Channel> chans[NS];
  weft_client *wcs[NS] = {};
  for (int s = 0; s < NS; s++) {
    std::string target = "127.0.0.1:" + std::to_string(servers[s].child.port);
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
    chans[s] = grpc::CreateCustomChannel(
        target, grpc::InsecureChannelCredentials(), args);
    wcs[s] = bench_weft_client_open(servers[s].child.port);
    if (!wcs[s]) {
      fprintf(stderr, "bench_grpc: weft client cannot connect\n");
      reap_all();
      return 1;
    }
  }
  // Per round, test and client the three servers run back to back, so the
  // ratios of one round compare runs seconds apart (the machine is shared
  // and its speed drifts); the figures shown are medians over the rounds.
  std::vector<Result> runs[NT][NC][NS];
  std::vector<double> rate[NT][NC][NS], cpu[NT][NC][NS], ratio[NT][NC][NS];
  std::vector<double> ccpu[NT][NC][NS]; // client CPU per call or message
  for (int round = 0; round < g_rounds; round++)
    for (int t = 0; t < NT; t++)
      for (int c = 0; c < NC; c++) {
        double r0 = 0;
        for (int s = 0; s < NS; s++) {
          auto make = [&]() -> std::unique_ptr<Caller> {
            if (c == 0)
              return std::unique_ptr<Caller>(new CppCaller(chans[s]));
            return std::unique_ptr<Caller>(new WeftCaller(wcs[s]));
          };
          double cpu0 = proc_cpu_us(servers[s].child.pid);
          double ccpu0 = self_cpu_us();
          Result r;
          if (t < 2) {
            r = run_unary(t == 0 ? 1 : 16, make);
          } else {
            r.qps = run_stream(make, &r.calls);
          }
          double used = proc_cpu_us(servers[s].child.pid) - cpu0;
          double cused = self_cpu_us() - ccpu0;
          runs[t][c][s].push_back(r);
          rate[t][c][s].push_back(r.qps);
          cpu[t][c][s].push_back(r.calls > 0 ? used / r.calls : 0);
          ccpu[t][c][s].push_back(r.calls > 0 ? cused / r.calls : 0);
          if (s == 0)
            r0 = r.qps;
          ratio[t][c][s].push_back(r.qps / std::max(1.0, r0));
        }
      }
  for (int s = 0; s < NS; s++)
    bench_weft_client_close(wcs[s]);
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
  };

  printf("%-10s %-10s %-9s %12s %9s %9s %12s %12s %7s\n", "server", "client",
         "test", "calls|msg/s", "p50 us", "p99 us", "srv cpu us", "cli cpu us",
         "errors");
  for (int t = 0; t < NT; t++)
    for (int c = 0; c < NC; c++)
      for (int s = 0; s < NS; s++) {
        std::vector<double> p50, p99;
        long err = 0;
        for (const Result &r : runs[t][c][s]) {
          p50.push_back(r.p50_us);
          p99.push_back(r.p99_us);
          err += r.errors;
        }
        if (t < 2)
          printf("%-10s %-10s %-9s %12.0f %9.1f %9.1f %12.1f %12.1f %7ld\n",
                 servers[s].name, clients[c], tests[t], median(rate[t][c][s]),
                 median(p50), median(p99), median(cpu[t][c][s]),
                 median(ccpu[t][c][s]), err);
        else
          printf("%-10s %-10s %-9s %12.0f %9s %9s %12.1f %12.1f %7s\n",
                 servers[s].name, clients[c], tests[t], median(rate[t][c][s]),
                 "-", "-", median(cpu[t][c][s]), median(ccpu[t][c][s]), "-");
      }

  printf("\nweft server / C++ server, same client: median of the per-round "
         "ratios (>= 1.00: weft as fast or faster); server CPU per call or "
         "message, C++ / weft (>= 1.00: weft's server costs less)\n");
  for (int s = 1; s < NS; s++)
    for (int c = 0; c < NC; c++) {
      printf("  %-9s vs C++, %-8s client:", servers[s].name, clients[c]);
      for (int t = 0; t < NT; t++)
        printf("  %s %.2fx (cpu %.2fx)", tests[t], median(ratio[t][c][s]),
               median(cpu[t][c][0]) / std::max(0.01, median(cpu[t][c][s])));
      printf("\n");
    }
  printf("\nweft client / C++ client, same server (medians of the rates); "
         "client CPU per call or message, C++ / weft\n");
  for (int s = 0; s < NS; s++) {
    printf("  %-9s server:", servers[s].name);
    for (int t = 0; t < NT; t++)
      printf("  %s %.2fx (cpu %.2fx)", tests[t],
             median(rate[t][1][s]) / std::max(1.0, median(rate[t][0][s])),
             median(ccpu[t][0][s]) / std::max(0.01, median(ccpu[t][1][s])));
    printf("\n");
  }
  reap_all();
  return 0;
}
