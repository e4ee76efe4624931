// One Echo.Unary round trip that must come back intact, for C++ tests that
// check a client works (after a reconnect, say). gtest failures name the
// call's status.
#ifndef WEFT_TEST_ECHO_EXPECT_H
#define WEFT_TEST_ECHO_EXPECT_H

#include <gtest/gtest.h>

extern "C" {
#include "echo.weft.h"
#include "weft/client.h"
#include "weft/codec.h"
}

inline void weft_test_expect_echo(weft_client *c, const char *text) {
  weft__test__EchoRequest req;
  weft__test__EchoRequest_init(&req);
  req.text = const_cast<char *>(text);
  weft__test__EchoResponse *resp = nullptr;
  weft_call_opts co = {};
  co.timeout_ms = 5000;
  ASSERT_EQ(weft__test__Echo_unary(c, &req, &resp, &co), 0)
      << (co.status.message ? co.status.message : "");
  EXPECT_STREQ(resp->text, text);
  weft_message_free(resp);
  weft_status_clear(&co.status);
}

#endif
