// The transports this build has (WEFT_TEST_HAVE_<T>, set per test target in
// CMakeLists.txt), as URL schemes, for tests parameterized over them.
#ifndef WEFT_TESTS_RPC_TEST_SCHEMES_H
#define WEFT_TESTS_RPC_TEST_SCHEMES_H

#include <string>
#include <vector>

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

#endif
