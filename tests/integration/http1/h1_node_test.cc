// The weft http:// and https:// client against an independent server:
// @connectrpc/connect-node (connectNodeAdapter) on Node's HTTP/1.1 server,
// speaking Connect and gRPC-Web; on Node's HTTP/2 TLS server (ALPN h2) for
// https://, and over TLS without ALPN for HTTP/1.1 on https://. The npm
// packages are installed into the build tree once; the test is skipped when
// node or npm are missing or the registry cannot be reached.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <vector>
#include <cstring>
#include <set>
#include <string>
#include <thread>

extern "C" {
#include "echo.weft.h"
#include "weft/client.h"
#include "weft/codec.h"
#include "weft/http.h"
#include "weft/transport.h"
}

namespace {

int sh(const std::string &cmd, int seconds = 60) {
  std::string full = "timeout " + std::to_string(seconds) + " sh -c '" + cmd +
                     "' >/dev/null 2>&1";
  int st = system(full.c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

bool exists(const std::string &p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0;
}

std::string tmpdir() {
  static std::string d =
      ::testing::TempDir() + "/weft-h1-" + std::to_string(getpid());
  mkdir(d.c_str(), 0700);
  return d;
}

// Installs the npm packages and writes the descriptor set and a
// certificate once per process; "" if the environment cannot.
std::string setup(std::string *why) {
  static std::string modules, reason;
  static bool done;
  if (done) {
    *why = reason;
    return modules;
  }
  done = true;
  if (sh("command -v node && command -v npm", 5) != 0) {
    reason = "node or npm not installed";
  } else {
    std::string dir = WEFT_H1_NPM_DIR;
    std::string m = dir + "/node_modules";
    if (!exists(m + "/@connectrpc/connect-node/package.json"))
      sh("mkdir -p " + dir + " && flock " + dir +
             "/.lock npm install --prefix " + dir +
             " --no-audit --no-fund --loglevel=error @connectrpc/connect@2 "
             "@connectrpc/connect-node@2 @bufbuild/protobuf@2 >" +
             dir + "/install.log 2>&1",
         180);
    if (!exists(m + "/@connectrpc/connect-node/package.json"))
      reason = "npm could not install @connectrpc/connect-node (no registry "
               "access?): see " +
               dir + "/install.log";
    else
      modules = m;
  }
  if (!modules.empty()) {
    std::string d = tmpdir();
    if (sh(std::string(WEFT_H1_PROTOC) + " -I" + WEFT_H1_PROTO_DIR +
           " --include_imports -o " + d + "/echo.fds echo.proto") != 0 ||
        sh("cd " + d +
           " && openssl req -x509 -newkey rsa:2048 -nodes -days 1"
           " -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1"
           " -keyout key.pem -out cert.pem") != 0) {
      reason = "protoc or openssl failed";
      modules.clear();
    }
  }
  *why = reason;
  return modules;
}

// The Node server in its own process; stdin's end stops it.
class NodeServer {
public:
  explicit NodeServer(const std::string &modules, const char *mode) {
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0)
      return;
    std::string d = tmpdir();
    std::string fds = d + "/echo.fds", cert = d + "/cert.pem",
                key = d + "/key.pem";
    pid_ = fork();
    if (pid_ == 0) {
      dup2(in[0], 0);
      dup2(out[1], 1);
      close(in[1]);
      close(out[0]);
      execlp("node", "node", WEFT_H1_NODE_SERVER, modules.c_str(), fds.c_str(),
             mode, cert.c_str(), key.c_str(), (char *)nullptr);
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    stdin_ = in[1];
    // "port N" within 20 s.
    std::string line;
    struct pollfd p = {out[0], POLLIN, 0};
    while (line.find('\n') == std::string::npos && poll(&p, 1, 20000) > 0) {
      char buf[64];
      ssize_t n = read(out[0], buf, sizeof buf);
      if (n <= 0)
        break;
      line.append(buf, (size_t)n);
    }
    close(out[0]);
    if (sscanf(line.c_str(), "port %d", &port_) != 1)
      port_ = -1;
  }
  ~NodeServer() {
    if (stdin_ >= 0)
      close(stdin_);
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
  }
  int port() const {
    return port_;
  }

private:
  pid_t pid_ = -1;
  int stdin_ = -1;
  int port_ = -1;
};

struct Param {
  const char *mode; // node server
  const char *scheme;
  weft_http_protocol protocol;
  weft_codec_kind codec;
};

std::string name(const ::testing::TestParamInfo<Param> &i) {
  std::string n = std::string(i.param.mode) + "_" +
                  weft_http_protocol_name(i.param.protocol) + "_" +
                  (i.param.codec == WEFT_CODEC_JSON ? "json" : "proto");
  for (auto &ch : n)
    if (ch == '-')
      ch = '_';
  return n;
}

void checkUnary(weft_client *c_);
void checkUnaryError(weft_client *c_);
void checkServerStream(weft_client *c_);
void checkClientStream(weft_client *c_);
void checkDeadlineExceeded(weft_client *c_);
void checkCancel(weft_client *c_);
void checkAsync(weft_client *c_);

class H1Node : public ::testing::TestWithParam<Param> {
protected:
  void SetUp() override {
    std::string why;
    modules_ = setup(&why);
    if (modules_.empty())
      GTEST_SKIP() << why;
    server_.reset(new NodeServer(modules_, GetParam().mode));
    ASSERT_GT(server_->port(), 0) << "the Node server did not start";
    http_ = WEFT_HTTP_CLIENT_OPTS_INIT;
    http_.protocol = GetParam().protocol;
    weft_client_opts o = {};
    o.codec = GetParam().codec;
    o.connect_timeout_ms = 5000;
    o.default_timeout_ms = 10000;
    o.transport_opts = &http_;
    ca_ = tmpdir() + "/cert.pem";
    o.tls.ca_file = ca_.c_str();
    url_ = std::string(GetParam().scheme) +
           "://127.0.0.1:" + std::to_string(server_->port());
    weft_error err = {};
    ASSERT_EQ(weft_client_open(&c_, url_.c_str(), &o, &err), 0) << err.message;
  }
  void TearDown() override {
    weft_client_close(c_);
  }
  std::string modules_, url_, ca_;
  std::unique_ptr<NodeServer> server_;
  weft_http_client_opts http_;
  weft_client *c_ = nullptr;
};

void checkUnary(weft_client *c_) {
  weft__test__EchoRequest req;
  weft__test__EchoRequest_init(&req);
  req.text = (char *)"hello";
  uint8_t payload[] = {1, 2, 255};
  req.payload.data = payload;
  req.payload.len = 3;
  weft_metadata md = {}, rmd = {};
  weft_metadata_add_str(&md, "x-trace", "t-1");
  weft_call_opts o = {};
  o.metadata = &md;
  o.response_metadata = &rmd;
  // Several calls: the client reuses its keep-alive connection (the
  // server names the connection in x-conn).
  std::set<std::string> conns;
  bool seen = false;
  for (int i = 0; i < 3; i++) {
    weft__test__EchoResponse *resp = nullptr;
    weft_metadata_clear(&rmd);
    ASSERT_EQ(weft__test__Echo_unary(c_, &req, &resp, &o), 0)
        << o.status.message;
    EXPECT_STREQ(resp->text, "hello");
    ASSERT_EQ(resp->payload.len, 3u);
    EXPECT_EQ(resp->payload.data[2], 255);
    weft_message_free(resp);
    for (size_t j = 0; j < rmd.count; j++) {
      const weft_metadata_entry *e = &rmd.entries[j];
      seen |= strcmp(e->key, "x-trace") == 0;
      if (strcmp(e->key, "x-conn") == 0)
        conns.insert(std::string((const char *)e->value, e->value_len));
    }
  }
  EXPECT_TRUE(seen) << "x-trace not echoed in the response metadata";
  // All on the connection weft_client_open made (the server's first): a
  // TLS 1.3 session ticket waiting on it must not make it look stale.
  EXPECT_EQ(conns, std::set<std::string>{"1"})
      << "the calls did not share the first connection";
  weft_metadata_clear(&md);
  weft_metadata_clear(&rmd);
  weft_status_clear(&o.status);
}

void checkUnaryError(weft_client *c_) {
  weft__test__EchoRequest req;
  weft__test__EchoRequest_init(&req);
  req.text = (char *)"x";
  req.fail_code = WEFT_STATUS_NOT_FOUND;
  req.fail_message = (char *)"gone: 100% (\xc3\xa9)";
  weft__test__EchoResponse *resp = nullptr;
  weft_call_opts o = {};
  EXPECT_EQ(weft__test__Echo_unary(c_, &req, &resp, &o), WEFT_ERR_RPC);
  EXPECT_EQ(o.status.code, WEFT_STATUS_NOT_FOUND) << o.status.message;
  EXPECT_STREQ(o.status.message, "gone: 100% (\xc3\xa9)");
  // The connection is still good for the next call.
  req.fail_code = 0;
  ASSERT_EQ(weft__test__Echo_unary(c_, &req, &resp, &o), 0) << o.status.message;
  weft_message_free(resp);
  weft_status_clear(&o.status);
}

void checkServerStream(weft_client *c_) {
  weft__test__EchoRequest req;
  weft__test__EchoRequest_init(&req);
  req.text = (char *)"s";
  req.repeat = 5;
  req.grow = 20000; // later messages span many reads and chunks
  weft_call *call = nullptr;
  weft_call_opts o = {};
  ASSERT_EQ(weft__test__Echo_server_stream(c_, &req, &call, &o), 0);
  void *m;
  int n = 0;
  while (weft_call_recv(call, &m) == 1) {
    auto *r = static_cast<weft__test__EchoResponse *>(m);
    EXPECT_EQ(r->index, n);
    EXPECT_EQ(strlen(r->text), 1u + (size_t)n * 20000);
    n++;
    weft_message_free(m);
  }
  EXPECT_EQ(n, 5);
  EXPECT_EQ(weft_call_finish(call), 0) << o.status.message;
  weft_status_clear(&o.status);

  // An error after two messages.
  req.repeat = 2;
  req.grow = 0;
  req.fail_code = WEFT_STATUS_PERMISSION_DENIED;
  req.fail_message = (char *)"no";
  ASSERT_EQ(weft__test__Echo_server_stream(c_, &req, &call, &o), 0);
  n = 0;
  while (weft_call_recv(call, &m) == 1) {
    n++;
    weft_message_free(m);
  }
  EXPECT_EQ(n, 2);
  EXPECT_EQ(weft_call_finish(call), WEFT_ERR_RPC);
  EXPECT_EQ(o.status.code, WEFT_STATUS_PERMISSION_DENIED);
  EXPECT_STREQ(o.status.message, "no");
  weft_status_clear(&o.status);
}

void checkClientStream(weft_client *c_) {
  weft_call *call = nullptr;
  weft_call_opts o = {};
  ASSERT_EQ(weft__test__Echo_client_stream(c_, &call, &o), 0);
  const char *parts[] = {"a", "b", "c"};
  for (const char *p : parts) {
    weft__test__EchoRequest q;
    weft__test__EchoRequest_init(&q);
    q.text = (char *)p;
    ASSERT_EQ(weft_call_send(call, &q), 0);
  }
  weft_call_close_send(call);
  void *m;
  ASSERT_EQ(weft_call_recv(call, &m), 1) << o.status.message;
  EXPECT_STREQ(static_cast<weft__test__EchoResponse *>(m)->text, "abc");
  EXPECT_EQ(static_cast<weft__test__EchoResponse *>(m)->index, 3);
  weft_message_free(m);
  EXPECT_EQ(weft_call_finish(call), 0) << o.status.message;
  weft_status_clear(&o.status);
}

void checkDeadlineExceeded(weft_client *c_) {
  weft__test__EchoRequest req;
  weft__test__EchoRequest_init(&req);
  req.text = (char *)"slow";
  req.delay_ms = 3000;
  weft__test__EchoResponse *resp = nullptr;
  weft_call_opts o = {};
  o.timeout_ms = 200;
  EXPECT_NE(weft__test__Echo_unary(c_, &req, &resp, &o), 0);
  EXPECT_EQ(o.status.code, WEFT_STATUS_DEADLINE_EXCEEDED) << o.status.message;
  // The next call still works (the timed-out connection was not reused).
  req.delay_ms = 0;
  o.timeout_ms = 0;
  ASSERT_EQ(weft__test__Echo_unary(c_, &req, &resp, &o), 0) << o.status.message;
  weft_message_free(resp);
  weft_status_clear(&o.status);
}

void checkCancel(weft_client *c_) {
  weft__test__EchoRequest req;
  weft__test__EchoRequest_init(&req);
  req.text = (char *)"c";
  req.repeat = 100;
  req.delay_ms = 50;
  weft_call *call = nullptr;
  weft_call_opts o = {};
  ASSERT_EQ(weft__test__Echo_server_stream(c_, &req, &call, &o), 0);
  void *m;
  ASSERT_EQ(weft_call_recv(call, &m), 1) << o.status.message;
  weft_message_free(m);
  std::thread t([call] { weft_call_cancel(call); });
  while (weft_call_recv(call, &m) == 1)
    weft_message_free(m);
  t.join();
  EXPECT_NE(weft_call_finish(call), 0);
  EXPECT_EQ(o.status.code, WEFT_STATUS_CANCELLED) << o.status.message;
  weft_status_clear(&o.status);
}

// What the callbacks of asynchronous calls saw.
struct AsyncSeen {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<int> codes;
  std::vector<std::string> statuses;
  std::vector<std::string> texts;
  int done = 0;
  bool wait(int n, int seconds = 20) {
    std::unique_lock<std::mutex> l(mu);
    return cv.wait_for(l, std::chrono::seconds(seconds),
                       [&] { return done >= n; });
  }
};

void async_message(weft_call *, void *msg, void *ud) {
  auto *a = static_cast<AsyncSeen *>(ud);
  auto *r = static_cast<weft__test__EchoResponse *>(msg);
  {
    std::lock_guard<std::mutex> g(a->mu);
    a->texts.push_back(r->text ? r->text : "");
  }
  weft_message_free(msg);
}

void async_done(weft_call *, const weft_status *st, const weft_metadata *,
                void *ud) {
  auto *a = static_cast<AsyncSeen *>(ud);
  std::lock_guard<std::mutex> g(a->mu);
  a->codes.push_back(st->code);
  a->statuses.push_back(st->message ? st->message : "");
  a->done++;
  a->cv.notify_all();
}

const weft_call_callbacks async_cbs = {nullptr, async_message, async_done};

weft_call *async_start(weft_client *c, int method,
                       const weft__test__EchoRequest *req, AsyncSeen *a) {
  weft_call *call = nullptr;
  weft_call_opts o = {};
  EXPECT_EQ(weft_call_start_async(c, &weft__test__Echo_service.methods[method],
                                  req, &o, &async_cbs, a, &call),
            0)
      << (o.status.message ? o.status.message : "");
  weft_status_clear(&o.status);
  return call;
}

// weft_call_start_async against the peer: 20 unary calls at once, a server
// stream, an error status and a cancel (on HTTP/1.1 natively on the client
// loop; over h2 on the runtime's pool; grpc natively).
void checkAsync(weft_client *c_) {
  weft__test__EchoRequest req;
  weft__test__EchoRequest_init(&req);
  req.text = (char *)"async";
  {
    AsyncSeen a;
    for (int i = 0; i < 20; i++)
      async_start(c_, 0, &req, &a);
    ASSERT_TRUE(a.wait(20));
    std::lock_guard<std::mutex> g(a.mu);
    for (size_t i = 0; i < a.codes.size(); i++)
      EXPECT_EQ(a.codes[i], WEFT_STATUS_OK) << a.statuses[i];
    EXPECT_EQ(a.texts, std::vector<std::string>(20, "async"));
  }
  {
    AsyncSeen a;
    req.repeat = 5;
    async_start(c_, 1, &req, &a);
    ASSERT_TRUE(a.wait(1));
    std::lock_guard<std::mutex> g(a.mu);
    EXPECT_EQ(a.codes[0], WEFT_STATUS_OK) << a.statuses[0];
    EXPECT_EQ(a.texts.size(), 5u);
    req.repeat = 0;
  }
  {
    AsyncSeen a;
    req.fail_code = WEFT_STATUS_NOT_FOUND;
    req.fail_message = (char *)"gone";
    async_start(c_, 0, &req, &a);
    ASSERT_TRUE(a.wait(1));
    std::lock_guard<std::mutex> g(a.mu);
    EXPECT_EQ(a.codes[0], WEFT_STATUS_NOT_FOUND) << a.statuses[0];
    EXPECT_EQ(a.statuses[0], "gone");
    EXPECT_TRUE(a.texts.empty());
    req.fail_code = 0;
    req.fail_message = nullptr;
  }
  {
    AsyncSeen a;
    req.delay_ms = 3000;
    weft_call *call = async_start(c_, 0, &req, &a);
    usleep(20000);
    std::thread t([call] { weft_call_cancel(call); });
    t.join();
    ASSERT_TRUE(a.wait(1, 2)) << "cancel did not end the call promptly";
    std::lock_guard<std::mutex> g(a.mu);
    EXPECT_EQ(a.codes[0], WEFT_STATUS_CANCELLED) << a.statuses[0];
  }
}

// One process (and one Node server) per peer and protocol: every RPC kind
// but bidi, error mapping, a deadline and a cancellation.
TEST_P(H1Node, Calls) {
  {
    SCOPED_TRACE("unary");
    checkUnary(c_);
  }
  {
    SCOPED_TRACE("unary error");
    checkUnaryError(c_);
  }
  {
    SCOPED_TRACE("server stream");
    checkServerStream(c_);
  }
  {
    SCOPED_TRACE("client stream");
    checkClientStream(c_);
  }
  {
    SCOPED_TRACE("deadline");
    checkDeadlineExceeded(c_);
  }
  {
    SCOPED_TRACE("cancel");
    checkCancel(c_);
  }
  {
    SCOPED_TRACE("async");
    checkAsync(c_);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Peers, H1Node,
    ::testing::Values(
        Param{"h1", "http", WEFT_HTTP_CONNECT, WEFT_CODEC_PROTO},
        Param{"h1", "http", WEFT_HTTP_CONNECT, WEFT_CODEC_JSON},
        Param{"h1", "http", WEFT_HTTP_GRPC_WEB, WEFT_CODEC_PROTO},
        Param{"h1", "http", WEFT_HTTP_GRPC_WEB, WEFT_CODEC_JSON},
        Param{"h1tls", "https", WEFT_HTTP_CONNECT, WEFT_CODEC_PROTO},
        Param{"h1tls", "https", WEFT_HTTP_GRPC_WEB, WEFT_CODEC_PROTO},
        Param{"h2tls", "https", WEFT_HTTP_CONNECT, WEFT_CODEC_PROTO},
        Param{"h2tls", "https", WEFT_HTTP_GRPC, WEFT_CODEC_PROTO}),
    name);

// Bidi needs HTTP/2: refused on an HTTP/1.1 connection, served when
// https:// negotiated h2.
TEST(H1NodeBidi, RefusedOnHttp1ServedOnH2) {
  std::string why, modules = setup(&why);
  if (modules.empty())
    GTEST_SKIP() << why;
  for (const char *mode : {"h1", "h2tls"}) {
    NodeServer s(modules, mode);
    ASSERT_GT(s.port(), 0);
    bool h2 = strcmp(mode, "h2tls") == 0;
    std::string url = std::string(h2 ? "https" : "http") +
                      "://127.0.0.1:" + std::to_string(s.port());
    std::string ca = tmpdir() + "/cert.pem";
    weft_client_opts co = {};
    co.tls.ca_file = ca.c_str();
    co.default_timeout_ms = 10000;
    weft_client *c = nullptr;
    weft_error err = {};
    ASSERT_EQ(weft_client_open(&c, url.c_str(), &co, &err), 0) << err.message;
    weft_call *call = nullptr;
    weft_call_opts o = {};
    int rv = weft__test__Echo_bidi(c, &call, &o);
    if (!h2) {
      EXPECT_EQ(rv, WEFT_ERR_UNSUPPORTED);
      EXPECT_NE(strstr(o.status.message ? o.status.message : "",
                       "bidi streaming needs HTTP/2"),
                nullptr)
          << (o.status.message ? o.status.message : "(none)");
    } else {
      ASSERT_EQ(rv, 0) << o.status.message;
      weft__test__EchoRequest q;
      weft__test__EchoRequest_init(&q);
      q.text = (char *)"bi";
      ASSERT_EQ(weft_call_send(call, &q), 0);
      void *m;
      ASSERT_EQ(weft_call_recv(call, &m), 1) << o.status.message;
      EXPECT_STREQ(static_cast<weft__test__EchoResponse *>(m)->text, "bi");
      weft_message_free(m);
      weft_call_close_send(call);
      while (weft_call_recv(call, &m) == 1)
        weft_message_free(m);
      EXPECT_EQ(weft_call_finish(call), 0) << o.status.message;
    }
    weft_status_clear(&o.status);
    weft_client_close(c);
  }
}

// The server closes idle keep-alive connections after 50 ms: the next call
// must notice the pooled connection is gone and take a new one, not fail.
TEST(H1NodeKeepAlive, ServerClosedIdleConnection) {
  std::string why, modules = setup(&why);
  if (modules.empty())
    GTEST_SKIP() << why;
  NodeServer s(modules, "h1short");
  ASSERT_GT(s.port(), 0);
  std::string url = "http://127.0.0.1:" + std::to_string(s.port());
  weft_client *c = nullptr;
  ASSERT_EQ(weft_client_open(&c, url.c_str(), nullptr, nullptr), 0);
  weft__test__EchoRequest req;
  weft__test__EchoRequest_init(&req);
  req.text = (char *)"again";
  weft_metadata rmd = {};
  weft_call_opts o = {};
  o.response_metadata = &rmd;
  std::set<std::string> conns;
  for (int i = 0; i < 3; i++) {
    usleep(300 * 1000); // past the server's keep-alive timeout
    weft__test__EchoResponse *resp = nullptr;
    weft_metadata_clear(&rmd);
    ASSERT_EQ(weft__test__Echo_unary(c, &req, &resp, &o), 0)
        << "call " << i << ": " << o.status.message;
    weft_message_free(resp);
    for (size_t j = 0; j < rmd.count; j++)
      if (strcmp(rmd.entries[j].key, "x-conn") == 0)
        conns.insert(std::string((const char *)rmd.entries[j].value,
                                 rmd.entries[j].value_len));
  }
  EXPECT_EQ(conns.size(), 3u) << "a connection the server closed was reused";
  // The same for asynchronous calls: the idle connection the server closed
  // is not used (or the request is sent again on a new one).
  for (int i = 0; i < 3; i++) {
    usleep(300 * 1000);
    AsyncSeen a;
    async_start(c, 0, &req, &a);
    ASSERT_TRUE(a.wait(1));
    std::lock_guard<std::mutex> g(a.mu);
    EXPECT_EQ(a.codes[0], WEFT_STATUS_OK)
        << "async call " << i << ": " << a.statuses[0];
  }
  weft_metadata_clear(&rmd);
  weft_status_clear(&o.status);
  weft_client_close(c);
}

// Not a test (run with --gtest_also_run_disabled_tests): sequential unary
// Connect calls per second over HTTP/1.1 against the Node server, weft's
// client and connect-node's own client in the same run. Both share the
// machine with the server.
TEST(H1NodeRate, DISABLED_UnaryRate) {
  std::string why, modules = setup(&why);
  if (modules.empty())
    GTEST_SKIP() << why;
  NodeServer s(modules, "h1");
  ASSERT_GT(s.port(), 0);
  std::string url = "http://127.0.0.1:" + std::to_string(s.port());
  const int n = getenv("WEFT_RATE_N") ? atoi(getenv("WEFT_RATE_N")) : 3000;
  weft_client *c = nullptr;
  ASSERT_EQ(weft_client_open(&c, url.c_str(), nullptr, nullptr), 0);
  weft__test__EchoRequest req;
  weft__test__EchoRequest_init(&req);
  req.text = (char *)"hello";
  weft_call_opts o = {};
  weft__test__EchoResponse *resp = nullptr;
  // Warm the server up first (Node's JIT): the first phase measured would
  // otherwise pay for it.
  for (int i = 0; i < 500; i++) {
    ASSERT_EQ(weft__test__Echo_unary(c, &req, &resp, &o), 0);
    weft_message_free(resp);
  }
  int64_t t0 = weft_now_ns();
  for (int i = 0; i < n; i++) {
    ASSERT_EQ(weft__test__Echo_unary(c, &req, &resp, &o), 0);
    weft_message_free(resp);
  }
  double weft_rate = n / ((weft_now_ns() - t0) / 1e9);
  weft_status_clear(&o.status);
  // Asynchronous, one at a time (the hand-offs to and from the client
  // loop), then all n in flight at once (on max_connections, 32).
  t0 = weft_now_ns();
  for (int i = 0; i < n; i++) {
    AsyncSeen a;
    async_start(c, 0, &req, &a);
    ASSERT_TRUE(a.wait(1));
  }
  double async_seq_rate = n / ((weft_now_ns() - t0) / 1e9);
  AsyncSeen all;
  t0 = weft_now_ns();
  for (int i = 0; i < n; i++)
    async_start(c, 0, &req, &all);
  ASSERT_TRUE(all.wait(n, 60));
  double async_rate = n / ((weft_now_ns() - t0) / 1e9);
  {
    std::lock_guard<std::mutex> g(all.mu);
    for (int code : all.codes)
      ASSERT_EQ(code, WEFT_STATUS_OK);
  }
  weft_client_close(c);
  std::string cmd = "timeout 60 node " WEFT_H1_BENCH_CLIENT " " + modules +
                    " " + tmpdir() + "/echo.fds " + url + " " +
                    std::to_string(n);
  FILE *p = popen(cmd.c_str(), "r");
  char buf[64] = {0};
  if (p) {
    if (!fgets(buf, sizeof buf, p))
      buf[0] = 0;
    pclose(p);
  }
  printf("unary calls/s over HTTP/1.1 to connect-node: weft blocking %.0f, "
         "weft async one at a time %.0f, weft async %d at once %.0f, "
         "connect-node client %s",
         weft_rate, async_seq_rate, n, async_rate, buf);
}

// weft call --protocol on http:// URLs, with the method from --proto.
TEST(H1NodeCli, CallWithProtocol) {
  std::string why, modules = setup(&why);
  if (modules.empty())
    GTEST_SKIP() << why;
  NodeServer s(modules, "h1");
  ASSERT_GT(s.port(), 0);
  std::string url = "http://127.0.0.1:" + std::to_string(s.port());
  std::string base = std::string(WEFT_H1_CLI) + " call " + url +
                     " weft.test.Echo/Unary --proto " + WEFT_H1_PROTO_DIR +
                     "/echo.proto";
  auto out = [](const std::string &cmd, int *status) {
    std::string r;
    FILE *p = popen(("timeout 20 " + cmd + " 2>&1").c_str(), "r");
    char buf[512];
    size_t n;
    while (p && (n = fread(buf, 1, sizeof buf, p)) > 0)
      r.append(buf, n);
    int st = p ? pclose(p) : -1;
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
  };
  int st;
  for (const char *proto : {"connect", "grpc-web"}) {
    std::string r =
        out(base + " --protocol " + proto + " -d '{\"text\":\"cli\"}'", &st);
    EXPECT_EQ(st, 0) << proto << ": " << r;
    EXPECT_NE(r.find("\"cli\""), std::string::npos) << proto << ": " << r;
    // A failure's exit code is 10 + the status code (NOT_FOUND: 15).
    r = out(base + " --protocol " + proto +
                " -d '{\"failCode\":5,\"failMessage\":\"gone\"}'",
            &st);
    EXPECT_EQ(st, 15) << proto << ": " << r;
    EXPECT_NE(r.find("gone"), std::string::npos) << r;
  }
  std::string r = out(base + " --protocol bogus", &st);
  EXPECT_EQ(st, 2) << r;
  EXPECT_NE(r.find("--protocol is connect, grpc or grpc-web"),
            std::string::npos)
      << r;
  r = out(std::string(WEFT_H1_CLI) +
              " call h2c://127.0.0.1:1 "
              "weft.test.Echo/Unary --proto " +
              WEFT_H1_PROTO_DIR + "/echo.proto --protocol grpc-web",
          &st);
  EXPECT_EQ(st, 2) << r;
  EXPECT_NE(r.find("--protocol grpc-web needs http:// or https://"),
            std::string::npos)
      << r;
  r = out(std::string(WEFT_H1_CLI) +
              " call tcp://127.0.0.1:1 "
              "weft.test.Echo/Unary --proto " +
              WEFT_H1_PROTO_DIR + "/echo.proto --protocol grpc",
          &st);
  EXPECT_EQ(st, 2) << r;
  EXPECT_NE(r.find("applies to http://, https:// and h2c://"),
            std::string::npos)
      << r;
}

} // namespace
