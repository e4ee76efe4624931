// A Connect client in another language: @connectrpc/connect-node (with
// @bufbuild/protobuf) from the npm registry, installed at test time into the
// build tree, calls the weft Echo service unary and server-streaming in both
// formats, over Connect, gRPC and gRPC-Web. Skipped when node/npm are
// missing or npm cannot reach the registry.
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

// Installs the npm packages once per build tree; returns the node_modules
// directory, or "" with *why set when the test must be skipped.
std::string npm_modules(std::string *why) {
  if (!h2test::have("node") || !h2test::have("npm")) {
    *why = "node or npm not installed";
    return "";
  }
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
        !exists(modules + "/@connectrpc/connect-node/package.json")) {
      *why = "npm could not install @connectrpc/connect-node (no registry "
             "access?): see " +
             dir + "/install.log";
      return "";
    }
  }
  return modules;
}

// The Echo service as a FileDescriptorSet for the node clients.
std::string echo_fds() {
  std::string fds = h2test::temp_path("echo.fds");
  auto p =
      run(std::string("sh -c '") + WEFT_H2_PROTOC + " -I" + WEFT_H2_PROTO_DIR +
          " --include_imports -o " + fds + " echo.proto'");
  EXPECT_EQ(p.status, 0) << "protoc failed";
  return fds;
}

// Runs connect_client.mjs against a new server over httpVersion.
h2test::Run run_node(const std::string &modules,
                     const std::string &http_version) {
  std::string fds = echo_fds();
  Server s;
  return run(std::string("node ") + WEFT_H2_NODE_SCRIPT + " " + modules + " " +
                 fds + " " + s.base() + " " + http_version + " 2>&1",
             60);
}

TEST(H2Node, ConnectNodeClient) {
  std::string why, modules = npm_modules(&why);
  if (modules.empty())
    GTEST_SKIP() << why;
  auto r = run_node(modules, "2");
  EXPECT_EQ(r.status, 0) << r.out;
  // Unary and server streaming, each in proto and JSON, with an error case,
  // and a server stream compressed with gzip after its first message.
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 10) << r.out;
  EXPECT_EQ(r.out.find("FAIL"), std::string::npos) << r.out;
}

// The same client with createConnectTransport({httpVersion: "1.1"}): every
// call over HTTP/1.1 on the same port, plus unary calls with useHttpGet.
TEST(H2Node, ConnectNodeClientHttp11) {
  std::string why, modules = npm_modules(&why);
  if (modules.empty())
    GTEST_SKIP() << why;
  auto r = run_node(modules, "1.1");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 12) << r.out;
  EXPECT_EQ(r.out.find("FAIL"), std::string::npos) << r.out;
}

// gRPC and gRPC-Web from connect-node (createGrpcTransport,
// createGrpcWebTransport over HTTP/2) against the same port.
TEST(H2Node, GrpcAndGrpcWebNodeClients) {
  std::string why, modules = npm_modules(&why);
  if (modules.empty())
    GTEST_SKIP() << why;
  std::string fds = echo_fds();
  Server s;
  for (const char *proto : {"grpc", "grpc-web"}) {
    auto r =
        run(std::string("node ") + WEFT_H2_GRPC_NODE_SCRIPT + " " + modules +
                " " + fds + " " + s.base() + " " + proto + " 2>&1",
            60);
    EXPECT_EQ(r.status, 0) << r.out;
    // Per format (proto, JSON): unary, unary gzip, unary error, server
    // stream, server stream gzip, stream error (2 lines), deadline, and
    // client stream + bidi (gRPC) or the client-stream refusal (gRPC-Web).
    size_t want = std::string(proto) == "grpc" ? 20 : 18;
    EXPECT_EQ((size_t)std::count(r.out.begin(), r.out.end(), '\n'), want)
        << r.out;
    EXPECT_EQ(r.out.find("FAIL"), std::string::npos) << r.out;
  }
}

// gRPC-Web carries its status in the body, so it works over HTTP/1.1 on the
// same port too (createGrpcWebTransport with httpVersion "1.1").
TEST(H2Node, GrpcWebNodeClientHttp11) {
  std::string why, modules = npm_modules(&why);
  if (modules.empty())
    GTEST_SKIP() << why;
  std::string fds = echo_fds();
  Server s;
  auto r = run(std::string("node ") + WEFT_H2_GRPC_NODE_SCRIPT + " " + modules +
                   " " + fds + " " + s.base() + " grpc-web 1.1 2>&1",
               60);
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ((size_t)std::count(r.out.begin(), r.out.end(), '\n'), 18u) << r.out;
  EXPECT_EQ(r.out.find("FAIL"), std::string::npos) << r.out;
}

} // namespace
