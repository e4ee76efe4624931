// The transports this build has (WEFT_TEST_HAVE_<T>, set per test target in
// CMakeLists.txt), as URL schemes, for tests parameterized over them.
#ifndef WEFT_TESTS_RPC_TEST_SCHEMES_H
#define WEFT_TESTS_RPC_TEST_SCHEMES_H

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "weft/error.h"
#include "weft/server.h"

inline std::vector<std::string> weft_test_schemes() {
  std::vector<std::string> v;
#ifdef WEFT_TEST_HAVE_TCP
  v.push_back("tcp");
#endif
#ifdef WEFT_TEST_HAVE_WEBSOCKET
  v.push_back("ws");
#endif
#ifdef WEFT_TEST_HAVE_GRPC
  v.push_back("grpc");
#endif
#ifdef WEFT_TEST_HAVE_HTTP2
  v.push_back("h2c");
#endif
  return v;
}

// Listens on every scheme of this build on a free loopback port and
// returns the URLs, in weft_test_schemes() order (a test failure names the
// scheme that could not listen; its URL is then left empty).
inline std::vector<std::string> weft_test_listen_all(weft_server *srv) {
  std::vector<std::string> urls;
  auto sc = weft_test_schemes();
  unsigned bound = 0;
  for (const std::string &scheme : sc) {
    weft_error err;
    weft_error_clear(&err);
    std::string u = scheme + "://127.0.0.1:0";
    if (weft_server_listen(srv, u.c_str(), &err) != 0) {
      ADD_FAILURE() << u << ": " << err.message;
      urls.push_back("");
      continue;
    }
    urls.push_back(scheme + "://127.0.0.1:" +
                   std::to_string(weft_server_port(srv, bound++)));
  }
  return urls;
}

// The URL of one scheme in what weft_test_listen_all returned.
inline std::string weft_test_url(const std::vector<std::string> &urls,
                                 const std::string &scheme) {
  auto sc = weft_test_schemes();
  for (size_t i = 0; i < sc.size() && i < urls.size(); i++)
    if (sc[i] == scheme)
      return urls[i];
  return "";
}

#endif
