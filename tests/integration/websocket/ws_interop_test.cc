// Interop with an independent implementation, python3-websockets (Debian),
// in both directions: weft's client (frame engine + handshake) against a
// Python echo server, and a Python client against weft's server.
#include "ws_test_util.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

using wstest::Client;
using wstest::Server;

namespace {

const char *kPython = "/usr/bin/python3";

bool have_websockets() {
  return system("/usr/bin/python3 -c 'import websockets' 2>/dev/null") == 0;
}

// The Python echo server as a child: port from its stdout, stopped by
// closing its stdin (and killed if it lingers).
class PyServer {
public:
  PyServer() {
    int out[2], in[2];
    if (pipe(out) != 0 || pipe(in) != 0)
      return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(in[0], 0);
      dup2(out[1], 1);
      close(in[1]);
      close(out[0]);
      std::string script = std::string(WEFT_WS_PY_DIR) + "/echo_server.py";
      execl(kPython, kPython, script.c_str(), (char *)nullptr);
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    stdin_ = in[1];
    FILE *f = fdopen(out[0], "r");
    if (f && fscanf(f, "%d", &port_) != 1)
      port_ = 0;
    if (f)
      fclose(f);
  }
  ~PyServer() {
    if (stdin_ >= 0)
      close(stdin_);
    if (pid_ > 0) {
      for (int i = 0; i < 500; i++) {
        if (waitpid(pid_, nullptr, WNOHANG) == pid_)
          return;
        usleep(10000);
      }
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  int port() const {
    return port_;
  }
  pid_t pid() const {
    return pid_;
  }

private:
  pid_t pid_ = -1;
  int stdin_ = -1;
  int port_ = 0;
};

TEST(WsInterop, WeftClientToPythonServer) {
  if (!have_websockets())
    GTEST_SKIP() << "python3-websockets not installed";
  PyServer py;
  ASSERT_GT(py.port(), 0);
  Client c(py.port(), "/echo", nullptr, nullptr, "chat, other");
  ASSERT_TRUE(c.ok()) << c.err.message;
  EXPECT_STREQ(weft__ws_sync_protocol(c.s), "chat");
  EXPECT_EQ(c.echo("hello"), "hello");
  EXPECT_EQ(c.echo("κόσμε ✓"), "κόσμε ✓");
  EXPECT_EQ(c.echo(std::string("\0\1\xff", 3), false),
            std::string("\0\1\xff", 3));
  std::string big(1 << 20, 0);
  for (size_t i = 0; i < big.size(); i++)
    big[i] = static_cast<char>(i);
  EXPECT_EQ(c.echo(big, false), big);
  // Fragmented, with a ping between fragments.
  weft__ws_sync_send_frame(c.s, WEFT__WS_OP_TEXT, 0, "frag", 4);
  weft__ws_sync_send_frame(c.s, WEFT__WS_OP_PING, 1, "p", 1);
  weft__ws_sync_send_frame(c.s, WEFT__WS_OP_CONT, 1, "ment", 4);
  EXPECT_EQ(c.recv(), "fragment");
  EXPECT_EQ(weft__ws_sync_pongs(c.s), 1);
  EXPECT_EQ(weft__ws_sync_close(c.s, 1000, "done", 5000), 0);
  EXPECT_EQ(weft__ws_sync_close_code(c.s), 1000);

  // Python's limit (4 MiB) is enforced on weft with 1009.
  Client o(py.port());
  ASSERT_TRUE(o.ok());
  std::string over((4 << 20) + 1, 'x');
  weft__ws_sync_send(o.s, WEFT__WS_OP_BINARY, over.data(), over.size());
  EXPECT_EQ(o.close_code(), 1009);

  // A server-initiated close with a policy code reaches the client.
  Client p(py.port(), "/close1008");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p.close_code(), 1008);
  EXPECT_STREQ(weft__ws_sync_close_reason(p.s), "policy says no");
}

TEST(WsInterop, WeftLoopClientToPythonServer) {
  if (!have_websockets())
    GTEST_SKIP() << "python3-websockets not installed";
  PyServer py;
  ASSERT_GT(py.port(), 0);
  wstest::Inbox in;
  {
    wstest::Dialed d(py.port(), &in);
    ASSERT_EQ(d.rv, 0) << d.err.message;
    EXPECT_STREQ(weft_ws_conn_protocol(d.c), "chat");
    std::string big(1 << 20, 'b');
    weft_ws_conn_send(d.c, true, "κόσμε", strlen("κόσμε"));
    weft_ws_conn_send(d.c, false, big.data(), big.size());
    ASSERT_TRUE(in.wait_msgs(2));
    EXPECT_EQ(in.msgs[0], "κόσμε");
    EXPECT_EQ(in.msgs[1], big);
  }
  EXPECT_EQ(in.code, 1000);
  wstest::Inbox in2;
  wstest::Dialed p(py.port(), &in2, "/close1008");
  ASSERT_EQ(p.rv, 0);
  ASSERT_TRUE(in2.wait_closed());
  EXPECT_EQ(in2.code, 1008);
  EXPECT_EQ(in2.reason, "policy says no");
}

TEST(WsInterop, ClientKeepaliveDetectsAFrozenServer) {
  if (!have_websockets())
    GTEST_SKIP() << "python3-websockets not installed";
  PyServer py;
  ASSERT_GT(py.port(), 0);
  wstest::Inbox in;
  weft__ws_dial_args a = {};
  a.host = "127.0.0.1";
  a.port = py.port();
  a.target = "/echo";
  a.timeout_ms = 5000;
  weft__ws_cfg_init(&a.cfg, nullptr, nullptr, 0, 0);
  a.cfg.ping_interval_ms = 100;
  a.cfg.ping_timeout_ms = 300;
  a.cfg.close_timeout_ms = 300;
  a.handler = &wstest::kInboxHandler;
  a.ud = &in;
  weft_ws_conn *c = nullptr;
  int status;
  weft_error err;
  ASSERT_EQ(weft__ws_dial(&c, &a, &status, &err), 0) << err.message;
  // The server process stops answering but its socket stays open: only
  // the keepalive can tell.
  kill(py.pid(), SIGSTOP);
  EXPECT_TRUE(in.wait_closed());
  EXPECT_EQ(in.code, 1011);
  EXPECT_EQ(in.reason, "keepalive ping timeout");
  kill(py.pid(), SIGCONT);
  weft__ws_dial_close(c);
}

TEST(WsInterop, PythonClientToWeftServer) {
  if (!have_websockets())
    GTEST_SKIP() << "python3-websockets not installed";
  const char *keys[] = {"k1", nullptr};
  weft_server_opts so = {};
  so.api_keys = keys;
  so.max_msgs_per_sec = 100000;
  Server srv([](weft__ws_cfg *c) { c->max_size = 2 << 20; }, &so);
  std::string cmd = std::string(kPython) + " " + WEFT_WS_PY_DIR +
                    "/client.py " + std::to_string(srv.port()) + " 2>&1";
  FILE *f = popen(cmd.c_str(), "r");
  ASSERT_NE(f, nullptr);
  std::string out;
  char buf[512];
  while (fgets(buf, sizeof buf, f))
    out += buf;
  int st = pclose(f);
  EXPECT_EQ(st, 0) << out;
  EXPECT_NE(out.find("OK"), std::string::npos) << out;
  // Every connection the Python client made was closed and reported.
  EXPECT_TRUE(wstest::wait_for([&] { return srv.conns() == 0; }));
  bool saw_1009 = false;
  for (auto &c : srv.closed())
    saw_1009 |= c.code == 1009;
  EXPECT_TRUE(saw_1009);
}

} // namespace
