// The process-wide client loop: hundreds of tcp:// and ws:// clients, each
// with a subscription, share one loop thread (no thread per client, per
// connection or per subscription); every subscription gets every event;
// clients closed from inside their own on_disconnect go without a thread.
// Thread counts leave slack for threads that float with load (the server's
// workers, a transient WebSocket reaper), far below one per client.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

extern "C" {
#include "echo.weft.h"
#include "echo_service.h"
#include "thread_count.h"
#include "weft/client.h"
#include "weft/server.h"
#include "weft/transport.h"
}

namespace {

constexpr int kPerScheme = 200;
constexpr int kEvents = 3;
constexpr int kSlack = 6;

template <class F> bool wait_for(F f, int ms = 20000) {
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (!f()) {
    if (std::chrono::steady_clock::now() > end)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// The thread count once it stops moving (threads that are exiting).
int settled_threads() {
  int last = weft_test_thread_count();
  for (int i = 0; i < 100; i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    int n = weft_test_thread_count();
    if (n == last)
      return n;
    last = n;
  }
  return last;
}

struct Sub {
  std::atomic<int> events{0};
  weft_client *c = nullptr;
  weft_subscription *s = nullptr;
  std::atomic<bool> closed{false};
  static void on_event(const char *, const weft_msg_desc *, const void *,
                       void *ud) {
    static_cast<Sub *>(ud)->events++;
  }
};

std::atomic<int> g_closed_in_callback{0};
std::atomic<int> g_disconnected_after_close{0};

// on_disconnect: the client closes itself, on the thread that reports the
// loss (the client loop).
void close_myself(weft_client *c, void *ud) {
  auto *sub = static_cast<Sub *>(ud);
  if (sub->closed.exchange(true))
    return;
  weft_client_close(c);
  g_closed_in_callback++;
}

// The end of a close: DISCONNECTING -> DISCONNECTED, just before the client
// is freed.
void on_state(weft_client *, weft_conn_state st, void *ud) {
  auto *sub = static_cast<Sub *>(ud);
  if (st == WEFT_CONN_DISCONNECTED && sub->closed.load())
    g_disconnected_after_close++;
}

class ClientLoop : public ::testing::Test {
protected:
  weft_server *srv = nullptr;
  std::string tcp_url, ws_url;

  void SetUp() override {
    weft_transports_init();
    weft_server_opts so;
    memset(&so, 0, sizeof so);
    so.worker_threads = 2;
    so.shutdown_grace_ms = 100;
    so.max_conns_per_ip = 4 * kPerScheme;
    so.max_msgs_per_sec = 1000000;
    ASSERT_EQ(weft_server_new(&srv, &so), 0);
    ASSERT_EQ(weft_test_echo_add(srv), 0);
    weft_error err;
    weft_error_clear(&err);
    ASSERT_EQ(weft_server_listen(srv, "tcp://127.0.0.1:0", &err), 0)
        << err.message;
    ASSERT_EQ(weft_server_listen(srv, "ws://127.0.0.1:0", &err), 0)
        << err.message;
    tcp_url = "tcp://127.0.0.1:" + std::to_string(weft_server_port(srv, 0));
    ws_url = "ws://127.0.0.1:" + std::to_string(weft_server_port(srv, 1));
  }
  void TearDown() override {
    weft_server_free(srv);
  }

  // Opens n clients per scheme, each subscribed to topic.
  void open_all(std::vector<Sub> &subs, const char *topic, bool self_close) {
    for (size_t i = 0; i < subs.size(); i++) {
      const std::string &u = i % 2 ? ws_url : tcp_url;
      weft_client_opts o;
      memset(&o, 0, sizeof o);
      o.connect_timeout_ms = 5000;
      o.user_data = &subs[i];
      if (self_close) {
        o.on_disconnect = close_myself;
        o.on_state = on_state;
      }
      weft_error err;
      weft_error_clear(&err);
      ASSERT_EQ(weft_client_open(&subs[i].c, u.c_str(), &o, &err), 0)
          << u << " #" << i << ": " << err.message;
      ASSERT_EQ(weft_client_subscribe(subs[i].c, topic, Sub::on_event, &subs[i],
                                      &subs[i].s),
                0)
          << u << " #" << i;
    }
  }

  void publish(const char *topic, int n) {
    for (int k = 0; k < n; k++) {
      weft__test__EchoResponse m = weft__test__EchoResponse_INIT;
      m.text = (char *)"event";
      ASSERT_EQ(weft_server_publish(srv, topic, &m), 0);
    }
  }
};

TEST_F(ClientLoop, HundredsOfSubscribedClientsShareOneLoopThread) {
  int before = settled_threads();
  std::vector<Sub> subs(2 * kPerScheme);
  open_all(subs, "fan", false);
  int opened = settled_threads();
  // One loop thread for all 400 clients, not 2-3 threads per client.
  EXPECT_LE(opened, before + kSlack)
      << "threads before " << before << ", with " << subs.size()
      << " subscribed clients " << opened;
  publish("fan", kEvents);
  EXPECT_TRUE(wait_for([&] {
    for (auto &s : subs)
      if (s.events.load() < kEvents)
        return false;
    return true;
  })) << "some subscription missed events";
  for (size_t i = 0; i < subs.size(); i++)
    EXPECT_EQ(subs[i].events.load(), kEvents) << "client #" << i;
  EXPECT_LE(weft_test_thread_count(), before + kSlack);
  // Shown, not asserted on: the figures behind the bound above.
  printf("threads: %d before, %d with %zu subscribed clients\n", before, opened,
         subs.size());
  for (auto &s : subs)
    weft_client_close(s.c); // frees the subscription too
  // The last client gone, the loop stops: no thread is left behind.
  EXPECT_LE(settled_threads(), before + 2);
}

TEST_F(ClientLoop, ClientsCloseThemselvesFromOnDisconnect) {
  int before = settled_threads();
  std::vector<Sub> subs(2 * kPerScheme);
  open_all(subs, "bye", true);
  publish("bye", 1);
  EXPECT_TRUE(wait_for([&] {
    for (auto &s : subs)
      if (s.events.load() < 1)
        return false;
    return true;
  }));
  int opened = settled_threads();
  EXPECT_LE(opened, before + kSlack);
  // The server goes: every client learns it on the client loop and closes
  // itself from inside its on_disconnect.
  weft_server_free(srv);
  srv = nullptr;
  EXPECT_TRUE(wait_for([&] {
    return g_disconnected_after_close.load() == (int)subs.size();
  })) << g_closed_in_callback.load()
      << " closed in on_disconnect, " << g_disconnected_after_close.load()
      << " finished";
  EXPECT_EQ(g_closed_in_callback.load(), (int)subs.size());
  // No thread was started to finish those closes.
  EXPECT_LE(weft_test_thread_count(), opened + 2);
  // Work still posted for those clients (their memory) runs before this
  // client's close returns: the leak checker sees everything freed.
  weft_server_opts so;
  memset(&so, 0, sizeof so);
  ASSERT_EQ(weft_server_new(&srv, &so), 0);
  ASSERT_EQ(weft_server_listen(srv, "tcp://127.0.0.1:0", nullptr), 0);
  std::string u = "tcp://127.0.0.1:" + std::to_string(weft_server_port(srv, 0));
  weft_client *last = nullptr;
  ASSERT_EQ(weft_client_open(&last, u.c_str(), nullptr, nullptr), 0);
  weft_client_close(last);
}

} // namespace
