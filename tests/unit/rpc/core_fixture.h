// Shared fixture for the core tests: a server with the Echo service on a
// fresh mem:// name, and helpers.
#ifndef WEFT_TEST_RPC_CORE_FIXTURE_H
#define WEFT_TEST_RPC_CORE_FIXTURE_H

#include <gtest/gtest.h>

#include <atomic>
#include <string>

extern "C" {
#include "echo_service.h"
#include "mem_transport.h"
#include "weft/client.h"
#include "weft/server.h"
#include "weft/transport.h"
}

inline std::string unique_mem_url() {
  static std::atomic<int> n{0};
  return "mem://srv" + std::to_string(getpid()) + "-" + std::to_string(++n);
}

inline const weft_method_desc *echo_method(int i) {
  return &weft__test__Echo_service.methods[i];
}

struct CallOpts {
  weft_call_opts o;
  CallOpts() {
    memset(&o, 0, sizeof o);
  }
  ~CallOpts() {
    weft_status_clear(&o.status);
  }
  weft_call_opts *operator&() {
    return &o;
  }
};

class Core : public ::testing::Test {
protected:
  weft_server *srv = nullptr;
  weft_client *cli = nullptr;
  std::string url;
  weft_server_opts sopts;
  weft_client_opts copts;

  void SetUp() override {
    mem_transport_register();
    memset(&sopts, 0, sizeof sopts);
    memset(&copts, 0, sizeof copts);
    sopts.worker_threads = 4;
    url = unique_mem_url();
  }
  void StartServer() {
    ASSERT_EQ(weft_server_new(&srv, &sopts), 0);
    ASSERT_EQ(weft_test_echo_add(srv), 0);
    weft_error err;
    ASSERT_EQ(weft_server_listen(srv, url.c_str(), &err), 0) << err.message;
  }
  void Connect() {
    ASSERT_EQ(weft_client_open(&cli, url.c_str(), &copts, NULL), 0);
  }
  void TearDown() override {
    weft_client_close(cli);
    weft_server_free(srv);
  }

  // Unary Echo: returns the rv; *text gets the echoed text on success.
  int Echo(const char *text, weft_call_opts *o, std::string *out = nullptr,
           int delay_ms = 0, int fail_code = 0) {
    weft__test__EchoRequest req = weft__test__EchoRequest_INIT;
    req.text = (char *)text;
    req.delay_ms = delay_ms;
    req.fail_code = fail_code;
    weft__test__EchoResponse *resp = nullptr;
    int rv = weft__test__Echo_unary(cli, &req, &resp, o);
    if (rv == 0 && out)
      *out = resp->text;
    if (resp && !o->arena)
      weft__test__EchoResponse_free(resp);
    return rv;
  }
};

#endif
