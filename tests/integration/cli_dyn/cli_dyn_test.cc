// `weft call` on a service the weft binary was not compiled with. This
// process serves weft_dyntest.v1.Counter (generated here) on grpc://, tcp://,
// h2c:// and ws://; the weft binary, which does not link counter.proto,
// calls it with descriptors built at run time from --proto (protoc),
// --descriptor-set (protoc -o) or, on grpc://, the server's reflection.
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "counter.weft.h"
#include "weft/server.h"

extern char **environ;

namespace {

typedef weft_1dyntest__v1__AddRequest AddRequest;
typedef weft_1dyntest__v1__AddReply AddReply;
typedef weft_1dyntest__v1__CountRequest CountRequest;
typedef weft_1dyntest__v1__CountReply CountReply;

char *Dup(weft_server_call *call, const std::string &s) {
  char *p = static_cast<char *>(
      weft_arena_alloc(weft_server_call_arena(call), s.size() + 1));
  memcpy(p, s.c_str(), s.size() + 1);
  return p;
}

int Add(weft_server_call *call, const AddRequest *req, AddReply *resp, void *) {
  weft_arena *a = weft_server_call_arena(call);
  resp->name = req->name;
  resp->total = req->delta + 100;
  resp->n_tags = req->n_tags;
  resp->tags = static_cast<weft_1dyntest__v1__AddReply__TagsEntry **>(
      weft_arena_alloc(a, sizeof(void *) * (req->n_tags + 1)));
  for (size_t i = 0; i < req->n_tags; i++) {
    resp->tags[i] = weft_1dyntest__v1__AddReply__TagsEntry_new(a);
    resp->tags[i]->key = req->tags[i]->key;
    resp->tags[i]->value = req->tags[i]->value;
  }
  resp->extra_case = req->extra_case;
  if (req->extra_case == weft_1dyntest__v1__AddRequest_FIELD_note)
    resp->note = req->note;
  else if (req->extra_case == weft_1dyntest__v1__AddRequest_FIELD_mode)
    resp->mode = req->mode;
  resp->has_dry_run = req->has_dry_run;
  resp->dry_run = req->dry_run;
  resp->at = req->at;
  resp->n_history = 2;
  resp->history = static_cast<char **>(weft_arena_alloc(a, 2 * sizeof(char *)));
  resp->history[0] = Dup(call, "add");
  resp->history[1] = req->name;
  return 0;
}

int Count(weft_server_call *call, const CountRequest *req, void *) {
  for (int32_t n = req->from; n <= req->to; n++) {
    CountReply *r =
        weft_1dyntest__v1__CountReply_new(weft_server_call_arena(call));
    r->n = n;
    r->word = Dup(call, "n" + std::to_string(n));
    if (weft_server_call_send(call, r) < 0)
      return WEFT_STATUS_CANCELLED;
  }
  return 0;
}

int Sum(weft_server_call *call, AddReply *resp, void *) {
  void *m = nullptr;
  int rv;
  std::vector<char *> names;
  while ((rv = weft_server_call_recv(call, &m)) == 1) {
    auto *req = static_cast<AddRequest *>(m);
    resp->total += req->delta;
    names.push_back(req->name);
  }
  if (rv < 0)
    return WEFT_STATUS_CANCELLED;
  resp->name = Dup(call, "sum");
  resp->n_history = names.size();
  resp->history = static_cast<char **>(weft_arena_alloc(
      weft_server_call_arena(call), sizeof(char *) * (names.size() + 1)));
  for (size_t i = 0; i < names.size(); i++)
    resp->history[i] = names[i];
  return 0;
}

int Echo(weft_server_call *call, void *) {
  void *m = nullptr;
  int rv;
  while ((rv = weft_server_call_recv(call, &m)) == 1) {
    auto *in = static_cast<CountReply *>(m);
    CountReply *out =
        weft_1dyntest__v1__CountReply_new(weft_server_call_arena(call));
    out->n = in->n * 10;
    out->word = Dup(call, std::string(in->word) + "!");
    if (weft_server_call_send(call, out) < 0)
      return WEFT_STATUS_CANCELLED;
  }
  return rv < 0 ? WEFT_STATUS_CANCELLED : 0;
}

const weft_1dyntest__v1__Counter_impl kImpl = {Add, Count, Sum, Echo};

struct Result {
  int code = -1;
  std::string out, err;
};

// Runs the weft binary with args; stdout and stderr captured.
Result RunWeft(const std::vector<std::string> &args) {
  std::vector<char *> argv;
  std::string bin = WEFT_CLI;
  argv.push_back(const_cast<char *>(bin.c_str()));
  for (auto &a : args)
    argv.push_back(const_cast<char *>(a.c_str()));
  argv.push_back(nullptr);
  char out_path[] = "/tmp/weft-cli-dyn-out-XXXXXX";
  char err_path[] = "/tmp/weft-cli-dyn-err-XXXXXX";
  int out_fd = mkstemp(out_path), err_fd = mkstemp(err_path);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
  posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
  pid_t pid;
  Result r;
  if (posix_spawn(&pid, bin.c_str(), &fa, nullptr, argv.data(), environ) == 0) {
    int st = 0;
    waitpid(pid, &st, 0);
    r.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
  posix_spawn_file_actions_destroy(&fa);
  auto slurp = [](int fd) {
    std::string s;
    char buf[4096];
    lseek(fd, 0, SEEK_SET);
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
      s.append(buf, static_cast<size_t>(n));
    close(fd);
    return s;
  };
  r.out = slurp(out_fd);
  r.err = slurp(err_fd);
  unlink(out_path);
  unlink(err_path);
  return r;
}

class CliDyn : public ::testing::TestWithParam<std::string> {
protected:
  static weft_server *srv;
  static std::vector<std::string> schemes, urls;

  static void SetUpTestSuite() {
    weft_server_opts so;
    memset(&so, 0, sizeof so);
    so.worker_threads = 4;
    so.shutdown_grace_ms = 1000;
    so.max_msgs_per_sec = 1000000;
    ASSERT_EQ(weft_server_new(&srv, &so), 0);
    ASSERT_EQ(weft_server_add_service(srv, &weft_1dyntest__v1__Counter_service,
                                      &kImpl, nullptr),
              0);
    schemes = {"grpc", "tcp", "h2c", "ws"};
    for (size_t i = 0; i < schemes.size(); i++) {
      weft_error err;
      weft_error_clear(&err);
      std::string u = schemes[i] + "://127.0.0.1:0";
      ASSERT_EQ(weft_server_listen(srv, u.c_str(), &err), 0)
          << u << ": " << err.message;
      urls.push_back(schemes[i] + "://127.0.0.1:" +
                     std::to_string(weft_server_port(srv, (unsigned)i)));
    }
  }
  static void TearDownTestSuite() {
    weft_server_shutdown(srv);
    weft_server_free(srv);
    srv = nullptr;
    urls.clear();
  }
  std::string url() {
    for (size_t i = 0; i < schemes.size(); i++)
      if (schemes[i] == GetParam())
        return urls[i];
    return "";
  }
  Result Call(const std::string &method, const std::string &data,
              std::vector<std::string> extra) {
    std::vector<std::string> args = {"call", url(),        method, "-d",
                                     data,   "--max-time", "20"};
    args.insert(args.end(), extra.begin(), extra.end());
    return RunWeft(args);
  }
};
weft_server *CliDyn::srv;
std::vector<std::string> CliDyn::schemes, CliDyn::urls;

const char kAddIn[] =
    R"({"name":"a","delta":"5","tags":{"x":1},)"
    R"("note":"hi","dry_run":true,"at":"2026-11-23T10:00:00Z"})";
const char kAddOut[] =
    R"({"name":"a","total":"105","tags":{"x":1},"note":"hi","dry_run":true,)"
    R"("at":"2026-11-23T10:00:00Z","history":["add","a"]})"
    "\n";

TEST_P(CliDyn, UnaryWithProto) {
  Result r =
      Call("weft_dyntest.v1.Counter/Add", kAddIn, {"--proto", COUNTER_PROTO});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, kAddOut) << r.err;
}

TEST_P(CliDyn, UnaryWithDescriptorSetAllNameForms) {
  for (const char *m :
       {"weft_dyntest.v1.Counter/Add", "/weft_dyntest.v1.Counter/Add",
        "weft_dyntest.v1.Counter.Add"}) {
    Result r = Call(m, R"({"name":"b","delta":"-1","mode":"MODE_SLOW"})",
                    {"--descriptor-set", COUNTER_SET, "--camel"});
    EXPECT_EQ(r.code, 0) << m << ": " << r.err;
    EXPECT_EQ(r.out, R"({"name":"b","total":"99","mode":"MODE_SLOW",)"
                     R"("history":["add","b"]})"
                     "\n")
        << m;
  }
}

TEST_P(CliDyn, ServerStreaming) {
  Result r = Call("weft_dyntest.v1.Counter/Count", R"({"from":1,"to":3})",
                  {"--proto", COUNTER_PROTO});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "{\"n\":1,\"word\":\"n1\"}\n{\"n\":2,\"word\":\"n2\"}\n"
                   "{\"n\":3,\"word\":\"n3\"}\n");
}

TEST_P(CliDyn, ClientStreamingAndBidi) {
  Result r = Call("weft_dyntest.v1.Counter/Sum",
                  "{\"name\":\"p\",\"delta\":\"2\"}\n"
                  "{\"name\":\"q\",\"delta\":\"40\"}\n",
                  {"--descriptor-set", COUNTER_SET});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, R"({"name":"sum","total":"42","history":["p","q"]})"
                   "\n");
  r = Call("weft_dyntest.v1.Counter/Echo",
           "{\"n\":1,\"word\":\"a\"}\n{\"n\":2,\"word\":\"b\"}\n",
           {"--proto", COUNTER_PROTO});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "{\"n\":10,\"word\":\"a!\"}\n{\"n\":20,\"word\":\"b!\"}\n");
}

TEST_P(CliDyn, JsonCodecOnTheWire) {
  if (GetParam() == "grpc")
    GTEST_SKIP() << "gRPC carries protobuf only";
  Result r = Call("weft_dyntest.v1.Counter/Add", kAddIn,
                  {"--proto", COUNTER_PROTO, "--codec", "json"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, kAddOut) << r.err;
}

TEST_P(CliDyn, WithoutDescriptors) {
  Result r = Call("weft_dyntest.v1.Counter/Add", kAddIn, {});
  if (GetParam() == "grpc") {
    // not compiled in: the server's reflection supplies the descriptors
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, kAddOut);
    r = Call("weft_dyntest.v1.Counter/Count", R"({"from":5,"to":5})", {});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "{\"n\":5,\"word\":\"n5\"}\n");
  } else {
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find("unknown method"), std::string::npos) << r.err;
  }
}

TEST_P(CliDyn, CompiledInMethodsStillResolve) {
  // aitbc.v1.Jobs is compiled into weft: it is called (and this server
  // does not implement it), with or without --proto.
  for (bool with_proto : {false, true}) {
    std::vector<std::string> extra;
    if (with_proto)
      extra = {"--proto", COUNTER_PROTO};
    Result r = Call("aitbc.v1.Jobs/GetJob", R"({"job_id":"j1"})", extra);
    EXPECT_EQ(r.code, 10 + WEFT_STATUS_UNIMPLEMENTED) << r.err;
  }
}

TEST_P(CliDyn, Errors) {
  Result r =
      Call("weft_dyntest.v1.Counter/Nope", "{}", {"--proto", COUNTER_PROTO});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("unknown method"), std::string::npos) << r.err;
  r = Call("weft_dyntest.v1.Counter/Add", R"({"nope":1})",
           {"--proto", COUNTER_PROTO});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("nope"), std::string::npos) << r.err;
  r = Call("weft_dyntest.v1.Counter/Add", "{}",
           {"--proto", "/nonexistent/counter.proto"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("protoc could not compile"), std::string::npos) << r.err;
  r = Call("weft_dyntest.v1.Counter/Add", "{}",
           {"--descriptor-set", COUNTER_PROTO}); // text, not a set
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("FileDescriptorSet"), std::string::npos) << r.err;
}

INSTANTIATE_TEST_SUITE_P(Transports, CliDyn,
                         ::testing::Values("grpc", "tcp", "h2c", "ws"),
                         [](const auto &i) { return i.param; });

TEST(CliDynHelp, CallHelpMentionsProto) {
  Result r = RunWeft({"call", "--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("--proto FILE"), std::string::npos);
  EXPECT_NE(r.out.find("--descriptor-set FILE"), std::string::npos);
  EXPECT_NE(r.out.find("reflection"), std::string::npos);
}

} // namespace
