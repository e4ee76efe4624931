// The client/server core over mem://: the four RPC kinds, metadata both
// ways, status and errors, deadlines, cancellation, concurrency, overload,
// API keys, graceful shutdown.
#include <unistd.h>

#include <mutex>
#include <thread>
#include <vector>

#include "core_fixture.h"

namespace {

TEST_F(Core, UnaryRoundTrip) {
  StartServer();
  Connect();
  EXPECT_EQ(weft_client_state(cli), WEFT_CONN_CONNECTED);
  CallOpts o;
  std::string out;
  ASSERT_EQ(Echo("hello", &o, &out), 0) << o.o.status.message;
  EXPECT_EQ(out, "hello");
  EXPECT_EQ(o.o.status.code, WEFT_STATUS_OK);
}

TEST_F(Core, UnaryIntoCallersArena) {
  StartServer();
  Connect();
  CallOpts o;
  ASSERT_EQ(weft_arena_new(&o.o.arena, 0), 0);
  std::string out;
  ASSERT_EQ(Echo("arena", &o, &out), 0);
  EXPECT_EQ(out, "arena");
  EXPECT_GT(weft_arena_used(o.o.arena), 0u);
  weft_arena_free(o.o.arena);
}

TEST_F(Core, MetadataBothWays) {
  StartServer();
  weft_metadata cmd = WEFT_METADATA_INIT;
  weft_metadata_add_str(&cmd, "x-client", "from-client-opts");
  copts.metadata = &cmd;
  Connect();
  weft_metadata_clear(&cmd); // the client keeps its own copy
  CallOpts o;
  weft_metadata md = WEFT_METADATA_INIT, resp_md = WEFT_METADATA_INIT;
  weft_metadata_add_str(&md, "x-call", "per-call");
  const uint8_t bin[] = {0, 255, 7};
  weft_metadata_add(&md, "x-trace-bin", bin, sizeof bin);
  o.o.metadata = &md;
  o.o.response_metadata = &resp_md;
  ASSERT_EQ(Echo("md", &o), 0);
  // Echo copies x-* request metadata into headers and trailers.
  const weft_metadata_entry *e = weft_metadata_get(&resp_md, "x-client");
  ASSERT_NE(e, nullptr);
  EXPECT_STREQ((char *)e->value, "from-client-opts");
  e = weft_metadata_get(&resp_md, "x-call");
  ASSERT_NE(e, nullptr);
  EXPECT_STREQ((char *)e->value, "per-call");
  e = weft_metadata_get(&resp_md, "x-trace-bin");
  ASSERT_NE(e, nullptr);
  ASSERT_EQ(e->value_len, 3u);
  EXPECT_EQ(e->value[1], 255);
  size_t n = 0;
  for (size_t i = 0; i < resp_md.count; i++)
    n += strcmp(resp_md.entries[i].key, "x-call") == 0;
  EXPECT_EQ(n, 2u); // once as a header, once as a trailer
  weft_metadata_clear(&md);
  weft_metadata_clear(&resp_md);
}

TEST_F(Core, ServerStream) {
  StartServer();
  Connect();
  CallOpts o;
  weft__test__EchoRequest req = weft__test__EchoRequest_INIT;
  req.text = (char *)"s";
  req.repeat = 25;
  weft_call *call;
  ASSERT_EQ(weft__test__Echo_server_stream(cli, &req, &call, &o), 0);
  void *m;
  int i = 0, rv;
  while ((rv = weft_call_recv(call, &m)) == 1) {
    auto *r = (weft__test__EchoResponse *)m;
    EXPECT_EQ(r->index, i++);
    EXPECT_STREQ(r->text, "s");
    weft__test__EchoResponse_free(r);
  }
  EXPECT_EQ(rv, 0);
  EXPECT_EQ(i, 25);
  EXPECT_EQ(weft_call_finish(call), 0);
}

TEST_F(Core, ClientStream) {
  StartServer();
  Connect();
  CallOpts o;
  weft_call *call;
  ASSERT_EQ(weft__test__Echo_client_stream(cli, &call, &o), 0);
  const char *parts[] = {"a", "bc", "def"};
  for (const char *p : parts) {
    weft__test__EchoRequest req = weft__test__EchoRequest_INIT;
    req.text = (char *)p;
    ASSERT_EQ(weft_call_send(call, &req), 0);
  }
  ASSERT_EQ(weft_call_close_send(call), 0);
  void *m;
  ASSERT_EQ(weft_call_recv(call, &m), 1);
  auto *r = (weft__test__EchoResponse *)m;
  EXPECT_STREQ(r->text, "abcdef");
  EXPECT_EQ(r->index, 3);
  weft__test__EchoResponse_free(r);
  EXPECT_EQ(weft_call_finish(call), 0);
}

TEST_F(Core, BidiInterleaved) {
  StartServer();
  Connect();
  CallOpts o;
  weft_call *call;
  ASSERT_EQ(weft__test__Echo_bidi(cli, &call, &o), 0);
  for (int i = 0; i < 10; i++) {
    weft__test__EchoRequest req = weft__test__EchoRequest_INIT;
    std::string t = "m" + std::to_string(i);
    req.text = (char *)t.c_str();
    ASSERT_EQ(weft_call_send(call, &req), 0);
    void *m;
    ASSERT_EQ(weft_call_recv(call, &m), 1); // answer before the next send
    auto *r = (weft__test__EchoResponse *)m;
    EXPECT_EQ(std::string(r->text), t);
    EXPECT_EQ(r->index, i);
    weft__test__EchoResponse_free(r);
  }
  weft_call_close_send(call);
  void *m;
  EXPECT_EQ(weft_call_recv(call, &m), 0);
  EXPECT_EQ(weft_call_finish(call), 0);
}

TEST_F(Core, HandlerStatusReachesClient) {
  StartServer();
  Connect();
  CallOpts o;
  weft__test__EchoRequest req = weft__test__EchoRequest_INIT;
  req.fail_code = WEFT_STATUS_NOT_FOUND;
  req.fail_message = (char *)"no such job";
  weft__test__EchoResponse *resp = nullptr;
  EXPECT_EQ(weft__test__Echo_unary(cli, &req, &resp, &o), WEFT_ERR_RPC);
  EXPECT_EQ(resp, nullptr);
  EXPECT_EQ(o.o.status.code, WEFT_STATUS_NOT_FOUND);
  EXPECT_STREQ(o.o.status.message, "no such job");
}

TEST_F(Core, UnknownMethodIsUnimplemented) {
  StartServer();
  Connect();
  weft_method_desc m = *echo_method(0);
  m.name = "Nope";
  m.path = "/weft.test.Echo/Nope";
  CallOpts o;
  weft__test__EchoRequest req = weft__test__EchoRequest_INIT;
  void *resp = nullptr;
  EXPECT_EQ(weft_call_unary(cli, &m, &req, &resp, &o), WEFT_ERR_RPC);
  EXPECT_EQ(o.o.status.code, WEFT_STATUS_UNIMPLEMENTED);
  EXPECT_NE(std::string(o.o.status.message).find("/weft.test.Echo/Nope"),
            std::string::npos);
  m.path = "/no.Such/Service";
  EXPECT_EQ(weft_call_unary(cli, &m, &req, &resp, &o), WEFT_ERR_RPC);
  EXPECT_EQ(o.o.status.code, WEFT_STATUS_UNIMPLEMENTED);
}

TEST_F(Core, UnimplementedHandlerMember) {
  StartServer();
  static const weft__test__Echo_impl partial = {nullptr, nullptr, nullptr,
                                                nullptr};
  weft_server *s2;
  ASSERT_EQ(weft_server_new(&s2, &sopts), 0);
  ASSERT_EQ(
      weft_server_add_service(s2, &weft__test__Echo_service, &partial, nullptr),
      0);
  std::string u2 = unique_mem_url();
  ASSERT_EQ(weft_server_listen(s2, u2.c_str(), nullptr), 0);
  ASSERT_EQ(weft_client_open(&cli, u2.c_str(), nullptr, NULL), 0);
  CallOpts o;
  EXPECT_EQ(Echo("x", &o), WEFT_ERR_RPC);
  EXPECT_EQ(o.o.status.code, WEFT_STATUS_UNIMPLEMENTED);
  weft_client_close(cli);
  cli = nullptr;
  weft_server_free(s2);
}

TEST_F(Core, DeadlineExceeded) {
  StartServer();
  Connect();
  CallOpts o;
  o.o.timeout_ms = 50;
  // The handler naps 5 s in 10 ms steps, watching for cancellation.
  EXPECT_EQ(Echo("slow", &o, nullptr, 5000), WEFT_ERR_TIMEOUT);
  EXPECT_EQ(o.o.status.code, WEFT_STATUS_DEADLINE_EXCEEDED);
  // The client default applies when the call sets none.
  weft_client_close(cli);
  copts.default_timeout_ms = 50;
  Connect();
  CallOpts o2;
  EXPECT_EQ(Echo("slow", &o2, nullptr, 5000), WEFT_ERR_TIMEOUT);
  EXPECT_EQ(o2.o.status.code, WEFT_STATUS_DEADLINE_EXCEEDED);
  // And a later quick call is fine: the server was not stuck.
  CallOpts o3;
  EXPECT_EQ(Echo("quick", &o3), 0);
}

TEST_F(Core, CancelFromAnotherThread) {
  StartServer();
  Connect();
  CallOpts o;
  weft__test__EchoRequest req = weft__test__EchoRequest_INIT;
  req.repeat = 1000000; // effectively endless
  req.delay_ms = 5;
  weft_call *call;
  ASSERT_EQ(weft__test__Echo_server_stream(cli, &req, &call, &o), 0);
  void *m;
  ASSERT_EQ(weft_call_recv(call, &m), 1);
  weft__test__EchoResponse_free((weft__test__EchoResponse *)m);
  std::thread t([&] { weft_call_cancel(call); });
  int rv;
  while ((rv = weft_call_recv(call, &m)) == 1)
    weft__test__EchoResponse_free((weft__test__EchoResponse *)m);
  t.join();
  EXPECT_LT(rv, 0);
  EXPECT_EQ(weft_call_finish(call), WEFT_ERR_CANCELLED);
  EXPECT_EQ(o.o.status.code, WEFT_STATUS_CANCELLED);
}

TEST_F(Core, ManyCallsFromManyThreads) {
  StartServer();
  Connect();
  std::atomic<int> ok{0};
  std::vector<std::thread> th;
  for (int t = 0; t < 8; t++)
    th.emplace_back([&, t] {
      for (int i = 0; i < 50; i++) {
        CallOpts o;
        std::string text = std::to_string(t) + ":" + std::to_string(i), out;
        if (Echo(text.c_str(), &o, &out) == 0 && out == text)
          ok++;
      }
    });
  for (auto &t : th)
    t.join();
  EXPECT_EQ(ok.load(), 400);
}

TEST_F(Core, BlockingHandlerDoesNotStallOthers) {
  sopts.worker_threads = 3;
  StartServer();
  Connect();
  std::mutex mu;
  std::vector<std::string> done;
  auto record = [&](const char *what) {
    std::lock_guard<std::mutex> g(mu);
    done.push_back(what);
  };
  // Two handlers block for up to 10 s; the test cancels them at the end.
  std::vector<weft_call *> slow(2);
  std::vector<CallOpts> so(2);
  for (int i = 0; i < 2; i++) {
    weft__test__EchoRequest req = weft__test__EchoRequest_INIT;
    req.repeat = 1;
    req.delay_ms = 10000;
    ASSERT_EQ(weft__test__Echo_server_stream(cli, &req, &slow[i], &so[i].o), 0);
    void *m; // the first message arrives before the nap
    ASSERT_EQ(weft_call_recv(slow[i], &m), 1);
    weft__test__EchoResponse_free((weft__test__EchoResponse *)m);
  }
  // Quick calls still get through the remaining worker.
  for (int i = 0; i < 20; i++) {
    CallOpts o;
    ASSERT_EQ(Echo("quick", &o), 0);
  }
  record("quick");
  for (int i = 0; i < 2; i++) {
    weft_call_cancel(slow[i]);
    weft_call_finish(slow[i]);
    record("slow");
  }
  ASSERT_EQ(done.size(), 3u);
  EXPECT_EQ(done[0], "quick");
}

TEST_F(Core, OverloadIsResourceExhausted) {
  sopts.worker_threads = 1;
  sopts.max_pending_calls = 1;
  StartServer();
  Connect();
  // Occupy the only worker, then fill the one queue slot.
  std::vector<weft_call *> calls;
  std::vector<CallOpts> opts(8);
  int exhausted = 0;
  for (int i = 0; i < 8; i++) {
    weft__test__EchoRequest req = weft__test__EchoRequest_INIT;
    req.repeat = 1;
    req.delay_ms = 10000;
    weft_call *c;
    ASSERT_EQ(weft__test__Echo_server_stream(cli, &req, &c, &opts[i].o), 0);
    if (i == 0) { // wait until the worker runs it
      void *m;
      ASSERT_EQ(weft_call_recv(c, &m), 1);
      weft__test__EchoResponse_free((weft__test__EchoResponse *)m);
    }
    calls.push_back(c);
  }
  // calls[0] runs, calls[1] waits in the one queue slot, the rest are
  // refused at once.
  for (size_t i = 2; i < calls.size(); i++) {
    void *m;
    EXPECT_LT(weft_call_recv(calls[i], &m), 0);
    weft_call_finish(calls[i]);
    exhausted += opts[i].o.status.code == WEFT_STATUS_RESOURCE_EXHAUSTED;
  }
  EXPECT_EQ(exhausted, 6);
  for (int i = 0; i < 2; i++) {
    weft_call_cancel(calls[i]);
    weft_call_finish(calls[i]);
  }
}

TEST_F(Core, ApiKeys) {
  static const char *const keys[] = {"k1", "sekret", nullptr};
  sopts.api_keys = keys;
  StartServer();
  Connect();
  CallOpts none;
  EXPECT_EQ(Echo("x", &none), WEFT_ERR_RPC);
  EXPECT_EQ(none.o.status.code, WEFT_STATUS_UNAUTHENTICATED);

  weft_metadata md = WEFT_METADATA_INIT;
  weft_metadata_add_str(&md, "x-api-key", "wrong");
  CallOpts bad;
  bad.o.metadata = &md;
  EXPECT_EQ(Echo("x", &bad), WEFT_ERR_RPC);
  EXPECT_EQ(bad.o.status.code, WEFT_STATUS_UNAUTHENTICATED);
  weft_metadata_clear(&md);

  weft_metadata_add_str(&md, "x-api-key", "sekret");
  CallOpts good;
  good.o.metadata = &md;
  EXPECT_EQ(Echo("x", &good), 0);
  weft_metadata_clear(&md);

  weft_metadata_add_str(&md, "authorization", "Bearer k1");
  CallOpts bearer;
  bearer.o.metadata = &md;
  EXPECT_EQ(Echo("x", &bearer), 0);
  weft_metadata_clear(&md);
}

TEST_F(Core, GracefulShutdownLetsShortCallsFinish) {
  sopts.shutdown_grace_ms = 10000;
  StartServer();
  Connect();
  CallOpts o;
  weft__test__EchoRequest req = weft__test__EchoRequest_INIT;
  req.repeat = 3;
  req.delay_ms = 100; // 3 x 100 ms: well inside the grace period
  weft_call *call;
  ASSERT_EQ(weft__test__Echo_server_stream(cli, &req, &call, &o.o), 0);
  void *m;
  ASSERT_EQ(weft_call_recv(call, &m), 1); // the handler is running
  weft__test__EchoResponse_free((weft__test__EchoResponse *)m);
  std::thread runner([&] { weft_server_run(srv); });
  weft_server_shutdown(srv);
  runner.join();
  int n = 1;
  while (weft_call_recv(call, &m) == 1) {
    weft__test__EchoResponse_free((weft__test__EchoResponse *)m);
    n++;
  }
  EXPECT_EQ(n, 3);
  EXPECT_EQ(weft_call_finish(call), 0);
  // After shutdown: nothing listens any more.
  CallOpts after;
  EXPECT_NE(Echo("late", &after), 0);
  EXPECT_EQ(after.o.status.code, WEFT_STATUS_UNAVAILABLE);
}

TEST_F(Core, GracefulShutdownCancelsAfterGrace) {
  sopts.shutdown_grace_ms = 100;
  StartServer();
  Connect();
  CallOpts o;
  weft__test__EchoRequest req = weft__test__EchoRequest_INIT;
  req.repeat = 1;
  req.delay_ms = 60000; // far beyond the grace period
  weft_call *call;
  ASSERT_EQ(weft__test__Echo_server_stream(cli, &req, &call, &o.o), 0);
  void *m;
  ASSERT_EQ(weft_call_recv(call, &m), 1);
  weft__test__EchoResponse_free((weft__test__EchoResponse *)m);
  weft_server_shutdown(srv); // returns once the grace is over
  while (weft_call_recv(call, &m) == 1)
    weft__test__EchoResponse_free((weft__test__EchoResponse *)m);
  EXPECT_NE(weft_call_finish(call), 0);
  EXPECT_NE(o.o.status.code, WEFT_STATUS_OK);
}

TEST_F(Core, UnknownSchemeAndBadUrl) {
  weft_client *c = nullptr;
  EXPECT_EQ(weft_client_open(&c, "nosuch://x:1", nullptr, NULL),
            WEFT_ERR_UNKNOWN_SCHEME);
  EXPECT_EQ(weft_client_open(&c, "not a url", nullptr, NULL), WEFT_ERR_BAD_URL);
  EXPECT_EQ(c, nullptr);
  StartServer();
  weft_error err;
  EXPECT_EQ(weft_server_listen(srv, "nosuch://x:1", &err),
            WEFT_ERR_UNKNOWN_SCHEME);
  EXPECT_GT(weft_server_port(srv, 0), 0);
  EXPECT_EQ(weft_server_port(srv, 5), -1);
}

TEST_F(Core, ConnectFailureWithoutReconnect) {
  weft_client *c = nullptr;
  EXPECT_EQ(weft_client_open(&c, "mem://nobody-home", nullptr, NULL),
            WEFT_ERR_CONNECT);
  EXPECT_EQ(c, nullptr);
}

} // namespace

namespace {
// A rough figure of the runtime's own cost per unary call (mem:// has no
// sockets), run only with WEFT_RPC_MEASURE=1.
TEST_F(Core, MeasureRuntimeOverhead) {
  if (!getenv("WEFT_RPC_MEASURE"))
    GTEST_SKIP() << "set WEFT_RPC_MEASURE=1";
  StartServer();
  Connect();
  const int n = 20000;
  int64_t t0 = weft_now_ns();
  for (int i = 0; i < n; i++) {
    CallOpts o;
    ASSERT_EQ(Echo("ping", &o), 0);
  }
  int64_t t1 = weft_now_ns();
  printf("mem: %.1f us per unary call (%.0f calls/s)\n", (t1 - t0) / 1e3 / n,
         n * 1e9 / (t1 - t0));
}

// A transport without ops->want_read (mem://, like a user transport that
// predates it): weft_server_call_read answers WEFT_ERR_UNSUPPORTED, and the
// call still ends normally.
std::atomic<int> read_rv{1};
int unsupported_client_stream(weft_server_call *call,
                              weft__test__EchoResponse *, void *) {
  EXPECT_EQ(weft_server_call_read(
                call, [](weft_server_call *, void *, int, void *) {}, nullptr),
            WEFT_ERR_STATE); // not detached yet
  EXPECT_EQ(weft_server_call_detach(call), 0);
  EXPECT_EQ(weft_server_call_read(call, nullptr, nullptr), WEFT_ERR_INVAL);
  read_rv = weft_server_call_read(
      call, [](weft_server_call *, void *, int, void *) {}, nullptr);
  weft_server_call_set_message(call, "no asynchronous read here");
  weft_server_call_finish(call, WEFT_STATUS_UNIMPLEMENTED);
  return WEFT_STATUS_OK;
}

TEST_F(Core, AsyncReadUnsupportedWithoutWantRead) {
  static const weft__test__Echo_impl impl = {
      nullptr, nullptr, unsupported_client_stream, nullptr};
  ASSERT_EQ(weft_server_new(&srv, &sopts), 0);
  ASSERT_EQ(
      weft_server_add_service(srv, &weft__test__Echo_service, &impl, nullptr),
      0);
  weft_error err;
  ASSERT_EQ(weft_server_listen(srv, url.c_str(), &err), 0) << err.message;
  Connect();
  CallOpts o;
  weft_call *call;
  ASSERT_EQ(weft__test__Echo_client_stream(cli, &call, &o), 0);
  ASSERT_EQ(weft_call_close_send(call), 0);
  EXPECT_EQ(weft_call_finish(call), WEFT_ERR_RPC);
  EXPECT_EQ(o.o.status.code, WEFT_STATUS_UNIMPLEMENTED);
  EXPECT_EQ(read_rv.load(), WEFT_ERR_UNSUPPORTED);
}
} // namespace
