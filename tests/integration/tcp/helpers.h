// Shared fixture pieces for the tcp:// integration tests.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "echo_service.h"
#include "weft/client.h"
#include "weft/server.h"
#include "weft/transport.h"

namespace weft_tcp_test {

inline const weft_method_desc *method(const char *name) {
  return weft_service_method(&weft__test__Echo_service, name);
}

// A server with the Echo service on one URL, freed at scope end.
struct Server {
  weft_server *s = nullptr;
  int port = 0;
  explicit Server(const char *url = "tcp://127.0.0.1:0",
                  weft_server_opts *o = nullptr) {
    weft_server_opts def = {};
    if (!o)
      o = &def;
    EXPECT_EQ(weft_server_new(&s, o), 0);
    EXPECT_EQ(weft_test_echo_add(s), 0);
    weft_error err;
    EXPECT_EQ(weft_server_listen(s, url, &err), 0) << err.message;
    port = weft_server_port(s, 0);
  }
  ~Server() {
    weft_server_shutdown(s);
    weft_server_free(s);
  }
  std::string url(const char *scheme = "tcp") const {
    return std::string(scheme) + "://127.0.0.1:" + std::to_string(port);
  }
};

struct Client {
  weft_client *c = nullptr;
  Client(const std::string &url, const weft_client_opts *o = nullptr) {
    EXPECT_EQ(weft_client_open(&c, url.c_str(), o, NULL), 0) << url;
  }
  ~Client() {
    weft_client_close(c);
  }
};

inline ProtobufCBinaryData bytes(const std::string &s) {
  ProtobufCBinaryData b;
  b.len = s.size();
  b.data = (uint8_t *)s.data();
  return b;
}

inline std::string str(const ProtobufCBinaryData &b) {
  return std::string((const char *)b.data, b.len);
}

} // namespace weft_tcp_test
