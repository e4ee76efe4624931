// Every allocation of a parser failed in turn: the parse either succeeds
// (that allocation was not needed) or answers WEFT_ERR_NOMEM saying "out
// of memory", never a parse error that would blame the peer's input.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>

#include "fail_alloc.h"

extern "C" {
#include "connect.h"
#include "envelope.h"
#include "mux_internal.h"
#include "weft/error.h"
}

namespace {

// fn parses (and frees what it made); returns its code, err its message.
void EveryAllocationFails(const std::function<int(weft_error *)> &fn) {
  long n = 0;
  for (; n < 10000; n++) {
    weft_error err{};
    weft_test_fail_alloc(n);
    int rv = fn(&err);
    if (!weft_test_fail_alloc_done()) {
      EXPECT_EQ(rv, 0) << err.message;
      break;
    }
    EXPECT_EQ(rv, rv < 0 ? WEFT_ERR_NOMEM : rv)
        << "allocation " << n << " failed, the parser said "
        << weft_strerror(rv) << ": " << err.message;
    if (rv < 0)
      EXPECT_NE(strstr(err.message, "out of memory"), nullptr) << err.message;
  }
  EXPECT_GT(n, 0) << "the parse allocated nothing: the test tests nothing";
}

TEST(NoMemory, EnvelopeJson) {
  const std::string text =
      R"({"streamId":"7","kind":"FRAME_KIND_OPEN","method":"/a.B/C",)"
      R"("metadata":[{"key":"k","value":"AAH/Ag=="},{"key":"x"}],)"
      R"("payload":"aGVsbG8=","status":{"code":3,"details":"AQI="}})";
  EveryAllocationFails([&](weft_error *err) {
    weft__env e;
    uint8_t *scratch = nullptr;
    int rv = weft__env_json_decode(&e, (const uint8_t *)text.data(),
                                   text.size(), &scratch, err);
    free(scratch);
    return rv;
  });
}

TEST(NoMemory, ConnectGetQuery) {
  for (const char *q :
       {"encoding=json&message=%7B%22a%22%3A1%7D&compression=gzip",
        "encoding=proto&base64=1&message=CgVoZWxsbw&connect=v1"}) {
    EveryAllocationFails([&](weft_error *err) {
      weft__connect_get g;
      int rv = weft__connect_get_parse(q, 1024, &g, err);
      weft__connect_get_free(&g);
      return rv;
    });
  }
}

} // namespace
