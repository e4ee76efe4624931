// `weft contract verify` against a live provider: this process serves the
// Echo test service (all four RPC kinds) on grpc://, tcp://, h2c:// and
// ws://, and runs the weft binary on the contracts in contracts/ and on
// malformed ones written here.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "echo_service.h"
#include "weft/base64.h"
#include "weft/server.h"

extern char **environ;

namespace {

struct Result {
  int code = -1;
  std::string out, err;
};

std::string Slurp(const std::string &path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

Result RunWeft(const std::vector<std::string> &args) {
  std::vector<char *> argv;
  std::string bin = WEFT_CLI;
  argv.push_back(const_cast<char *>(bin.c_str()));
  for (auto &a : args)
    argv.push_back(const_cast<char *>(a.c_str()));
  argv.push_back(nullptr);
  char out_path[] = "/tmp/weft-contract-out-XXXXXX";
  char err_path[] = "/tmp/weft-contract-err-XXXXXX";
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
  close(out_fd);
  close(err_fd);
  r.out = Slurp(out_path);
  r.err = Slurp(err_path);
  unlink(out_path);
  unlink(err_path);
  return r;
}

class ContractVerify : public ::testing::TestWithParam<std::string> {
protected:
  static weft_server *srv;
  static std::vector<std::string> schemes, urls;
  std::string dir;

  static void SetUpTestSuite() {
    weft_server_opts so;
    memset(&so, 0, sizeof so);
    so.worker_threads = 4;
    so.shutdown_grace_ms = 1000;
    so.max_msgs_per_sec = 1000000;
    ASSERT_EQ(weft_server_new(&srv, &so), 0);
    ASSERT_EQ(weft_test_echo_add(srv), 0);
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
  void SetUp() override {
    char tmpl[] = "/tmp/weft-contract-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir = tmpl;
  }
  void TearDown() override {
    std::string cmd = "rm -rf '" + dir + "'";
    ASSERT_EQ(system(cmd.c_str()), 0);
  }
  std::string url() {
    for (size_t i = 0; i < schemes.size(); i++)
      if (schemes[i] == GetParam())
        return urls[i];
    return "";
  }
  Result Verify(std::vector<std::string> args) {
    std::vector<std::string> all = {"contract", "verify", url(), "--max-time",
                                    "20"};
    all.insert(all.end(), args.begin(), args.end());
    return RunWeft(all);
  }
  // A contract file in the test's folder, with the Echo schema by path.
  std::string Write(const std::string &name, const std::string &body) {
    std::string path = dir + "/" + name;
    std::ofstream(path) << body;
    return path;
  }
};
weft_server *ContractVerify::srv;
std::vector<std::string> ContractVerify::schemes, ContractVerify::urls;

const std::string kEcho = CONTRACTS_DIR "/echo.contract.json";
const std::string kBroken = CONTRACTS_DIR "/broken.contract.json";

TEST_P(ContractVerify, AllFourKindsPass) {
  std::string states = dir + "/states";
  Result r = Verify({kEcho, "--state-cmd",
                     "printf '%s|%s|%s\\n' \"$WEFT_CONTRACT_INTERACTION\" "
                     "\"$1\" \"$2\" >> " +
                         states});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("7 interactions, 7 passed, 0 failed"), std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("FAIL"), std::string::npos) << r.out;
  // Only the interaction with `given` ran the hook, with both states.
  EXPECT_EQ(Slurp(states), "a generated id|an echo service|ids start at 7\n");
}

TEST_P(ContractVerify, DifferentAnswersFailWithPathPreciseDiffs) {
  std::string junit = dir + "/report.xml";
  Result r = Verify({kBroken, "--junit", junit});
  EXPECT_EQ(r.code, 100) << r.out << r.err;
  for (const char *want : {
           "FAIL  a different value (/weft.test.Echo/Unary",
           "responses[0].text: expected \"bye\", got \"hi\"",
           "status.code: expected OK, got NOT_FOUND: gone",
           "responses[2].index: expected 5, got 2",
           "responses: expected 2 messages, got 1",
           "responses: expected at least 3 elements, got 2",
           "responses[0].text: expected a string matching /^[0-9]+$/, got "
           "\"m\"",
           "responses[1].index: expected a number in [-inf, 0], got 1",
           "responses[0].index: expected to be absent, got 0",
           "responseMetadata.x-missing: expected \"1\", got nothing",
           "6 interactions, 0 passed, 6 failed",
       })
    EXPECT_NE(r.out.find(want), std::string::npos) << want << "\n" << r.out;
  // The stream's first two messages match: only the third is reported.
  EXPECT_EQ(r.out.find("responses[1].index: expected"),
            r.out.find("responses[1].index: expected a number"))
      << r.out;
  std::string x = Slurp(junit);
  EXPECT_NE(x.find("<testsuite name=\"echo-client -> weft.test.Echo\" "
                   "tests=\"6\" failures=\"6\""),
            std::string::npos)
      << x;
  EXPECT_NE(x.find("responses[0].text: expected &quot;bye&quot;, got "
                   "&quot;hi&quot;"),
            std::string::npos)
      << x;
}

TEST_P(ContractVerify, StateHookFailureFailsTheInteraction) {
  Result r = Verify({kEcho, "--state-cmd", "exit 3"});
  EXPECT_EQ(r.code, 100) << r.out << r.err;
  EXPECT_NE(r.out.find("FAIL  a generated id"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("provider state not set up: --state-cmd exited with 3"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("7 interactions, 6 passed, 1 failed"), std::string::npos)
      << r.out;
}

TEST_P(ContractVerify, StateCallRunsAUnaryMethodOfTheProvider) {
  Result r = Verify({kEcho, "--state-call", "weft.test.Echo/Unary"});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("7 interactions, 7 passed"), std::string::npos) << r.out;
  r = Verify({kEcho, "--state-call", "weft.test.Echo/Bidi"});
  EXPECT_EQ(r.code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("--state-call weft.test.Echo/Bidi: not a unary method"),
            std::string::npos)
      << r.err;
}

// The schema embedded as a base64 FileDescriptorSet: echo.proto's
// compiled-in FileDescriptorProto as the set's one `file` (field 1).
TEST_P(ContractVerify, EmbeddedDescriptorSet) {
  std::string set;
  set.push_back(0x0a);
  for (size_t n = echo_proto.serialized_len;; n >>= 7) {
    set.push_back(static_cast<char>((n & 0x7f) | (n > 0x7f ? 0x80 : 0)));
    if (n <= 0x7f)
      break;
  }
  set.append(reinterpret_cast<const char *>(echo_proto.serialized),
             echo_proto.serialized_len);
  std::string b64(weft_base64_encoded_len(set.size(), 0), '\0');
  weft_base64_encode(set.data(), set.size(), &b64[0], 0);
  std::string path = Write(
      "embedded.json",
      R"({"schema":{"descriptorSet":")" + b64 +
          R"("},"interactions":[{"method":"weft.test.Echo/ServerStream",)"
          R"("request":{"text":"e","repeat":2},)"
          R"("responses":[{"text":"e","index":0},{"text":"e","index":1}]}]})");
  Result r = Verify({path});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("1 interaction, 1 passed"), std::string::npos) << r.out;
}

const std::string kHead = R"({"consumer":"c","provider":"p",)"
                          R"("schema":{"proto":")" ECHO_PROTO R"("},)"
                          R"("interactions":[{"name":"ok","method":)"
                          R"("weft.test.Echo/Unary"},)";

TEST_P(ContractVerify, MalformedContractsNameTheInteractionAndPath) {
  if (GetParam() != "grpc")
    GTEST_SKIP() << "loading does not depend on the transport";
  struct Case {
    std::string body, want;
  } cases[] = {
      {"{\"interactions\": [", "not valid JSON"},
      {kHead + R"({"name":"nope","method":"weft.test.Echo/Nope"}]})",
       "interactions[1] \"nope\": method: no method weft.test.Echo/Nope in "
       "the schema"},
      {kHead + R"({"name":"typo","method":"weft.test.Echo/Unary",)"
               R"("response":{"txt":"a"}}]})",
       "interactions[1] \"typo\": response: txt: no such field in "
       "weft.test.EchoResponse"},
      {kHead + R"({"name":"req","method":"weft.test.Echo/Unary",)"
               R"("request":{"repeat":"many"}}]})",
       "interactions[1] \"req\": request: "},
      {kHead + R"({"name":"m","method":"weft.test.Echo/ServerStream",)"
               R"("matchers":{"responses[*].text.len":{"match":"type"}}}]})",
       "interactions[1] \"m\": matchers: responses[*].text: not a message"},
      {kHead + R"({"name":"m2","method":"weft.test.Echo/Unary",)"
               R"("matchers":{"response.stat":{"match":"type"}}}]})",
       "interactions[1] \"m2\": matchers: response.stat: no such field in "
       "weft.test.EchoResponse"},
      {kHead + R"({"name":"k","method":"weft.test.Echo/Unary",)"
               R"("kind":"bidi"}]})",
       "interactions[1] \"k\": kind: /weft.test.Echo/Unary is unary"},
      {kHead + R"({"name":"s","method":"weft.test.Echo/Unary",)"
               R"("status":{"code":"NOPE"}}]})",
       "interactions[1] \"s\": status.code: unknown status \"NOPE\""},
      {kHead + R"({"name":"x","method":"weft.test.Echo/Unary",)"
               R"("matchers":{"response.text":{"match":"regex",)"
               R"("regex":"("}}}]})",
       "interactions[1] \"x\": matchers.response.text.regex: missing or not "
       "a valid regular expression"},
  };
  int n = 0;
  for (const Case &c : cases) {
    std::string path = Write("bad" + std::to_string(n++) + ".json", c.body);
    Result r = Verify({path});
    EXPECT_EQ(r.code, 2) << c.body << "\n" << r.out << r.err;
    EXPECT_NE(r.err.find(c.want), std::string::npos)
        << "want: " << c.want << "\ngot: " << r.err;
  }
}

// `steps`: a bidi exchange read and written in turn against a provider
// that answers each message as it comes.
TEST_P(ContractVerify, BidiStepsInterleave) {
  Result r = Verify({CONTRACTS_DIR "/bidi_steps.contract.json"});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("1 interaction, 1 passed"), std::string::npos) << r.out;
}

// weft contract record in front of this process's Echo server (upstream on
// the test's transport): echo.contract.json verified through the proxy on
// its four listeners, then the recorded contract verified against the
// Echo server directly.
TEST_P(ContractVerify, RecordThroughAProxyThenVerifyTheRecording) {
  std::string out = dir + "/recorded.contract.json";
  std::string bin = WEFT_CLI;
  std::vector<std::string> args = {
      bin,        "contract", "record", "--upstream",  url(), "--proto",
      ECHO_PROTO, "--out",    out,      "--max-calls", "28"};
  for (const char *s : {"grpc", "h2c", "ws", "tcp"})
    for (const std::string &a :
         {std::string("--listen"), std::string(s) + "://127.0.0.1:0"})
      args.push_back(a);
  std::vector<char *> argv;
  for (auto &a : args)
    argv.push_back(const_cast<char *>(a.c_str()));
  argv.push_back(nullptr);
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  pid_t pid;
  ASSERT_EQ(posix_spawn(&pid, bin.c_str(), &fa, nullptr, argv.data(), environ),
            0);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  FILE *f = fdopen(fds[0], "r");
  std::vector<std::string> proxies;
  char line[256];
  while (proxies.size() < 4 && fgets(line, sizeof line, f)) {
    std::string l = line;
    proxies.push_back(l.substr(0, l.find('\n')));
  }
  fclose(f);
  ASSERT_EQ(proxies.size(), 4u);
  bool all = true;
  for (auto &p : proxies) {
    Result r = RunWeft({"contract", "verify", p, kEcho, "--max-time", "20"});
    EXPECT_EQ(r.code, 0) << p << "\n" << r.out << r.err;
    all = all && r.code == 0;
  }
  if (!all) // fewer calls than --max-calls: end it (it still writes)
    kill(pid, SIGTERM);
  int st = 0;
  waitpid(pid, &st, 0); // --max-calls: it writes the file and exits
  ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << st;
  std::string rec = Slurp(out);
  EXPECT_NE(rec.find("\"x-trace\":\t\"t-1\""), std::string::npos) << rec;
  EXPECT_NE(rec.find("\"delaysMs\""), std::string::npos);
  EXPECT_NE(rec.find("\"steps\":"), std::string::npos); // the bidi call
  EXPECT_NE(rec.find("\"code\":\t\"NOT_FOUND\""), std::string::npos);
  Result r = Verify({out});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("28 interactions, 28 passed, 0 failed"),
            std::string::npos)
      << r.out;
}

INSTANTIATE_TEST_SUITE_P(Transports, ContractVerify,
                         ::testing::Values("grpc", "tcp", "h2c", "ws"),
                         [](const auto &info) { return info.param; });

} // namespace
