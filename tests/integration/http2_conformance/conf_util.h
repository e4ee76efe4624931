// The fixture of the HTTP/2 conformance suite: a real weft server (Echo
// service on h2c://127.0.0.1:0) per test, and the checks every case ends
// with: after a stream error the same connection still serves a call,
// after a connection error a fresh connection does.
#pragma once

#include "h2_frames.h"
#include "h2_test_util.h"

#include <iostream>

namespace h2conf {

class H2Conf : public ::testing::Test {
protected:
  int port() const {
    return srv_.port();
  }
  // Records which of the RFC's allowed outcomes the server chose, for the
  // results table in docs/HTTP2.md.
  void outcome(const char *what) {
    RecordProperty("outcome", what);
    std::cout << "[ outcome  ] " << what << "\n";
  }

  h2test::Server srv_;
};

#define H2_SECTION(name)                                                       \
  class name : public ::h2conf::H2Conf {}

// Connection error `code`: GOAWAY(code) then close; others still served.
#define EXPECT_CONNECTION_ERROR(c, code)                                       \
  do {                                                                         \
    EXPECT_TRUE((c).expect_goaway(code));                                      \
    EXPECT_TRUE(::h2conf::fresh_connection_serves(port()));                    \
  } while (0)

// Stream error `code` on `id` as RST_STREAM, and the connection goes on.
#define EXPECT_STREAM_ERROR(c, id, code)                                       \
  do {                                                                         \
    EXPECT_TRUE((c).expect_rst_stream(id, code));                              \
    EXPECT_TRUE((c).serves());                                                 \
  } while (0)

// Stream error `code` on `id`, which the RFC lets the server escalate to a
// connection error (5.4.1): either is accepted; the connection (stream
// error) or a fresh one (connection error) must serve afterwards.
#define EXPECT_STREAM_OR_CONNECTION_ERROR(c, id, code)                         \
  do {                                                                         \
    ::h2conf::ErrKind kind_;                                                   \
    EXPECT_TRUE((c).expect_stream_error(id, code, &kind_));                    \
    if (kind_ == ::h2conf::ErrKind::Stream) {                                  \
      outcome("stream error (RST_STREAM)");                                    \
      EXPECT_TRUE((c).serves());                                               \
    } else {                                                                   \
      outcome("connection error (GOAWAY)");                                    \
    }                                                                          \
    EXPECT_TRUE(::h2conf::fresh_connection_serves(port()));                    \
  } while (0)

} // namespace h2conf
