// A Connect client in another language: @connectrpc/connect-node (with
// @bufbuild/protobuf) from the npm registry, installed at test time into the
// build tree, calls the weft Echo service unary and server-streaming in both
// formats. Skipped when node/npm are missing or npm cannot reach the
// registry.
#include "h2_test_util.h"

#include <sys/stat.h>

#include <algorithm>

using h2test::run;
using h2test::Server;

namespace {

bool exists(const std::string &p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0;
}

// Installs the npm packages once per build tree; "" when npm cannot.
std::string node_modules() {
  std::string dir = WEFT_H2_NPM_DIR;
  std::string modules = dir + "/node_modules";
  if (!exists(modules + "/@connectrpc/connect-node/package.json")) {
    // Once per build tree; a lock keeps parallel test processes from
    // installing at the same time.
    auto r = run("sh -c 'mkdir -p " + dir + " && flock " + dir +
                     "/.lock npm install --prefix " + dir +
                     " --no-audit --no-fund --loglevel=error"
                     " @connectrpc/connect@2 @connectrpc/connect-node@2"
                     " @bufbuild/protobuf@2 >" +
                     dir + "/install.log 2>&1'",
                 120);
    if (r.status != 0 ||
        !exists(modules + "/@connectrpc/connect-node/package.json"))
      return "";
  }
  return modules;
}

// Runs connect_client.mjs against a new server over httpVersion.
h2test::Run run_node(const std::string &http_version) {
  std::string modules = node_modules();
  if (modules.empty())
    return {};
  std::string fds = h2test::temp_path("echo.fds");
  auto p =
      run(std::string("sh -c '") + WEFT_H2_PROTOC + " -I" + WEFT_H2_PROTO_DIR +
          " --include_imports -o " + fds + " echo.proto'");
  EXPECT_EQ(p.status, 0) << "protoc failed";
  Server s;
  return run(std::string("node ") + WEFT_H2_NODE_SCRIPT + " " + modules + " " +
                 fds + " " + s.base() + " " + http_version + " 2>&1",
             60);
}

TEST(H2Node, ConnectNodeClient) {
  if (!h2test::have("node") || !h2test::have("npm"))
    GTEST_SKIP() << "node or npm not installed";
  if (node_modules().empty())
    GTEST_SKIP() << "npm could not install @connectrpc/connect-node "
                    "(no registry access?): see "
                 << WEFT_H2_NPM_DIR << "/install.log";
  auto r = run_node("2");
  EXPECT_EQ(r.status, 0) << r.out;
  // Unary and server streaming, each in proto and JSON, with an error case,
  // and a server stream compressed with gzip after its first message.
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 10) << r.out;
  EXPECT_EQ(r.out.find("FAIL"), std::string::npos) << r.out;
}

// The same client with createConnectTransport({httpVersion: "1.1"}): every
// call over HTTP/1.1 on the same port, plus unary calls with useHttpGet.
TEST(H2Node, ConnectNodeClientHttp11) {
  if (!h2test::have("node") || !h2test::have("npm"))
    GTEST_SKIP() << "node or npm not installed";
  if (node_modules().empty())
    GTEST_SKIP() << "npm could not install @connectrpc/connect-node";
  auto r = run_node("1.1");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 12) << r.out;
  EXPECT_EQ(r.out.find("FAIL"), std::string::npos) << r.out;
}

} // namespace
