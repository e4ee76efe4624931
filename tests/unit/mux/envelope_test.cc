// The hand-written weft.v1.Envelope codec: round trips, byte-for-byte
// agreement with protoc's own encoder, every truncation, malformed input,
// and the JSON form.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

extern "C" {
#include "envelope.h"
#include "mux_internal.h"
}

namespace {

std::string encode(const weft__env_out &o) {
  std::string buf(weft__env_size(&o), '\0');
  ssize_t n =
      weft__env_encode(&o, reinterpret_cast<uint8_t *>(&buf[0]), buf.size());
  EXPECT_EQ(n, (ssize_t)buf.size());
  return buf;
}

std::string view(const weft__bytes &b) {
  return std::string(reinterpret_cast<const char *>(b.p), b.n);
}

struct Full {
  const char *keys[2] = {"x-api-key", "trace-bin"};
  const uint8_t v0[3] = {'a', 'b', 'c'};
  const uint8_t v1[4] = {0, 1, 0xff, 2};
  const uint8_t *vals[2] = {v0, v1};
  size_t lens[2] = {3, 4};
  const uint8_t payload[5] = {1, 2, 3, 0, 5};
  weft__env_out o{};
  Full() {
    o.stream_id = 300;
    o.kind = WEFT__FK_STATUS;
    o.method = "/weft.test.Echo/Unary";
    o.n_md = 2;
    o.md_keys = keys;
    o.md_values = vals;
    o.md_value_lens = lens;
    o.has_payload = true;
    o.payload = payload;
    o.payload_len = 5;
    o.has_status = true;
    o.status_code = 5;
    o.status_message = "not found: jobs/7";
    o.status_details = v1;
    o.status_details_len = 4;
    o.timeout_ms = 1500;
  }
};

void check_full(const weft__env &e) {
  EXPECT_EQ(e.stream_id, 300u);
  EXPECT_EQ(e.kind, WEFT__FK_STATUS);
  EXPECT_EQ(view(e.method), "/weft.test.Echo/Unary");
  EXPECT_EQ(e.n_md, 2u);
  size_t pos = 0;
  weft__env_md kv;
  ASSERT_EQ(weft__env_md_next(&e, &pos, &kv), 1);
  EXPECT_EQ(view(kv.key), "x-api-key");
  EXPECT_EQ(view(kv.value), "abc");
  ASSERT_EQ(weft__env_md_next(&e, &pos, &kv), 1);
  EXPECT_EQ(view(kv.key), "trace-bin");
  EXPECT_EQ(view(kv.value), std::string("\0\1\xff\2", 4));
  EXPECT_EQ(weft__env_md_next(&e, &pos, &kv), 0);
  EXPECT_TRUE(e.has_payload);
  EXPECT_EQ(view(e.payload), std::string("\1\2\3\0\5", 5));
  EXPECT_TRUE(e.has_status);
  EXPECT_EQ(e.status_code, 5);
  EXPECT_EQ(view(e.status_message), "not found: jobs/7");
  EXPECT_EQ(view(e.status_details), std::string("\0\1\xff\2", 4));
  EXPECT_EQ(e.timeout_ms, 1500);
}

std::string run_protoc_encode(const std::string &text) {
  std::string in = "/tmp/weft-env-in-" + std::to_string(getpid());
  std::string out = in + ".bin";
  std::ofstream(in) << text;
  std::string cmd =
      std::string(WEFT_PROTOC) + " --proto_path=" + WEFT_SCHEMA_DIR +
      " --encode=weft.v1.Envelope weft/v1/envelope.proto < " + in + " > " + out;
  int rc = std::system(cmd.c_str());
  std::ifstream f(out, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  std::remove(in.c_str());
  std::remove(out.c_str());
  EXPECT_EQ(rc, 0) << cmd;
  return ss.str();
}

} // namespace

TEST(Envelope, RoundTrip) {
  Full f;
  std::string wire = encode(f.o);
  weft__env e;
  weft_error err;
  ASSERT_EQ(
      weft__env_decode(&e, (const uint8_t *)wire.data(), wire.size(), &err), 0)
      << err.message;
  check_full(e);
}

TEST(Envelope, EmptyIsAllDefaults) {
  weft__env e;
  ASSERT_EQ(weft__env_decode(&e, nullptr, 0, nullptr), 0);
  EXPECT_EQ(e.stream_id, 0u);
  EXPECT_EQ(e.kind, 0);
  EXPECT_FALSE(e.has_payload);
  EXPECT_FALSE(e.has_status);
  weft__env_out o{};
  EXPECT_EQ(weft__env_size(&o), 0u);
}

TEST(Envelope, SameBytesAsProtoc) {
  Full f;
  std::string mine = encode(f.o);
  std::string theirs = run_protoc_encode(
      "stream_id: 300 kind: FRAME_KIND_STATUS "
      "method: \"/weft.test.Echo/Unary\" "
      "metadata { key: \"x-api-key\" value: \"abc\" } "
      "metadata { key: \"trace-bin\" value: \"\\000\\001\\377\\002\" } "
      "payload: \"\\001\\002\\003\\000\\005\" "
      "status { code: 5 message: \"not found: jobs/7\" "
      "details: \"\\000\\001\\377\\002\" } "
      "timeout_ms: 1500");
  EXPECT_EQ(mine, theirs);
  // Negative numbers take 10 bytes, as in every protobuf implementation.
  weft__env_out o{};
  o.kind = -1;
  o.has_status = true;
  o.status_code = -2;
  EXPECT_EQ(encode(o), run_protoc_encode("kind: -1 status { code: -2 }"));
}

TEST(Envelope, DecodesProtocOutputWithUnknownFields) {
  // Field 15 is unknown to this envelope: skipped, like any proto parser.
  std::string wire = run_protoc_encode("stream_id: 7 kind: FRAME_KIND_PING");
  wire += std::string("\x78\x96\x01", 3);           // field 15 varint
  wire += std::string("\x7d\x01\x02\x03\x04", 5);   // field 15 fixed32
  wire += std::string("\x79\1\2\3\4\5\6\7\x08", 9); // field 15 fixed64
  wire += std::string("\x7a\x02hi", 4);             // field 15 bytes
  weft__env e;
  ASSERT_EQ(
      weft__env_decode(&e, (const uint8_t *)wire.data(), wire.size(), nullptr),
      0);
  EXPECT_EQ(e.stream_id, 7u);
  EXPECT_EQ(e.kind, WEFT__FK_PING);
}

TEST(Envelope, LastScalarWinsAndStatusMerges) {
  std::string wire =
      run_protoc_encode("stream_id: 1 status { code: 3 message: \"a\" }");
  wire += run_protoc_encode("stream_id: 9 status { details: \"d\" }");
  weft__env e;
  ASSERT_EQ(
      weft__env_decode(&e, (const uint8_t *)wire.data(), wire.size(), nullptr),
      0);
  EXPECT_EQ(e.stream_id, 9u);
  EXPECT_EQ(e.status_code, 3);
  EXPECT_EQ(view(e.status_message), "a");
  EXPECT_EQ(view(e.status_details), "d");
}

TEST(Envelope, EveryTruncationFailsCleanly) {
  Full f;
  std::string wire = encode(f.o);
  for (size_t n = 0; n < wire.size(); n++) {
    // Copy so ASan sees any read past the cut.
    std::vector<uint8_t> cut(wire.begin(), wire.begin() + n);
    weft__env e;
    weft_error err;
    int rc = weft__env_decode(&e, cut.data(), n, &err);
    // A cut between two fields is a valid shorter envelope.
    if (rc < 0) {
      EXPECT_TRUE(rc == WEFT_ERR_TRUNCATED || rc == WEFT_ERR_MALFORMED)
          << n << ": " << err.message;
      EXPECT_NE(std::string(err.message).find("weft.v1.Envelope"),
                std::string::npos);
    }
  }
}

TEST(Envelope, MalformedInputs) {
  struct Case {
    std::string bytes;
    int code;
    const char *where;
  } cases[] = {
      {std::string("\x08", 1), WEFT_ERR_TRUNCATED, "stream_id"},
      {std::string("\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 11),
       WEFT_ERR_MALFORMED, "stream_id"},
      {std::string("\x0a\x01x", 3), WEFT_ERR_WIRE_TYPE, "stream_id"},
      {std::string("\x1a\x05/ab", 4), WEFT_ERR_TRUNCATED, "method"},
      {std::string("\x1a\x02\xc3\x28", 4), WEFT_ERR_UTF8, "method"},
      {std::string("\x1b", 1), WEFT_ERR_WIRE_TYPE, "method"},
      {std::string("\x7b\x7c", 2), WEFT_ERR_WIRE_TYPE, "unknown"}, // group
      {std::string("\x00", 1), WEFT_ERR_MALFORMED, "tag"},         // field 0
      {std::string("\x22\x03\x0a\x01\xff", 5), WEFT_ERR_UTF8, "metadata[0]"},
      {std::string("\x32\x02\x08", 3), WEFT_ERR_TRUNCATED, "status"},
      {std::string("\x32\x02\x12\x05", 4), WEFT_ERR_TRUNCATED, "status"},
  };
  for (auto &c : cases) {
    weft__env e;
    weft_error err;
    EXPECT_EQ(weft__env_decode(&e, (const uint8_t *)c.bytes.data(),
                               c.bytes.size(), &err),
              c.code)
        << c.where;
    EXPECT_NE(std::string(err.message).find(c.where), std::string::npos)
        << err.message;
  }
}

TEST(Envelope, Utf8Validator) {
  auto ok = [](const std::string &s) {
    return weft_utf8_valid((const uint8_t *)s.data(), s.size());
  };
  EXPECT_TRUE(ok("plain"));
  EXPECT_TRUE(ok("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80"));
  EXPECT_FALSE(ok("\xc0\xaf"));         // overlong
  EXPECT_FALSE(ok("\xed\xa0\x80"));     // surrogate
  EXPECT_FALSE(ok("\xf4\x90\x80\x80")); // > U+10FFFF
  EXPECT_FALSE(ok("\xe2\x82"));         // truncated
  EXPECT_FALSE(ok("\x80"));
}

TEST(EnvelopeJson, RoundTripThroughJson) {
  Full f;
  uint8_t *json = nullptr;
  size_t len = 0;
  ASSERT_EQ(weft__env_json_encode(&f.o, &json, &len), 0);
  std::string text(reinterpret_cast<char *>(json), len);
  free(json);
  EXPECT_NE(text.find("\"streamId\":\"300\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"kind\":\"FRAME_KIND_STATUS\""), std::string::npos);
  EXPECT_NE(text.find("\"timeoutMs\":\"1500\""), std::string::npos);
  EXPECT_NE(text.find("\"value\":\"AAH/Ag==\""), std::string::npos) << text;
  weft__env e;
  uint8_t *scratch = nullptr;
  weft_error err;
  ASSERT_EQ(weft__env_json_decode(&e, (const uint8_t *)text.data(), text.size(),
                                  &scratch, &err),
            0)
      << err.message;
  check_full(e);
  free(scratch);
}

TEST(EnvelopeJson, AcceptsProtoNamesNumbersAndUrlSafeBase64) {
  std::string text = R"({"stream_id": 5, "kind": 2, "payload": "-_8",
                         "timeout_ms": 20, "status": {"code": "4"}})";
  weft__env e;
  uint8_t *scratch = nullptr;
  weft_error err;
  ASSERT_EQ(weft__env_json_decode(&e, (const uint8_t *)text.data(), text.size(),
                                  &scratch, &err),
            0)
      << err.message;
  EXPECT_EQ(e.stream_id, 5u);
  EXPECT_EQ(e.kind, WEFT__FK_MESSAGE);
  EXPECT_EQ(view(e.payload), "\xfb\xff");
  EXPECT_EQ(e.timeout_ms, 20);
  EXPECT_EQ(e.status_code, 4);
  free(scratch);
}

TEST(EnvelopeJson, RejectsBadJson) {
  const char *bad[] = {
      "{",
      "[]",
      R"({"streamId": "x"})",
      R"({"streamId": -1})",
      R"({"kind": "FRAME_KIND_NOPE"})",
      R"({"payload": "***"})",
      R"({"metadata": [{"key": 5}]})",
      R"({"status": {"code": 1.5}})",
      // Numbers past the integer types (converting them was undefined
      // behaviour; fuzz_envelope found it), and a fraction for an enum.
      R"({"streamId": 1e300})",
      R"({"timeoutMs": -1e19})",
      R"({"kind": 1e300})",
      R"({"kind": 2.5})",
      // Base64 with both alphabets, or stray bits after the last byte.
      R"({"payload": "+_8="})",
      R"({"payload": "Zh=="})",
  };
  for (const char *b : bad) {
    weft__env e;
    uint8_t *scratch = nullptr;
    weft_error err;
    EXPECT_LT(weft__env_json_decode(&e, (const uint8_t *)b, strlen(b), &scratch,
                                    &err),
              0)
        << b;
    EXPECT_EQ(scratch, nullptr);
  }
}

namespace {

// One JSON envelope decoded; the views in e point into scratch, freed here.
struct JsonEnv {
  weft__env e{};
  uint8_t *scratch = nullptr;
  weft_error err{};
  int rc;
  explicit JsonEnv(const std::string &text) {
    rc = weft__env_json_decode(&e, (const uint8_t *)text.data(), text.size(),
                               &scratch, &err);
    if (rc < 0)
      EXPECT_EQ(scratch, nullptr) << text;
  }
  ~JsonEnv() {
    free(scratch);
  }
  std::string msg() const {
    return rc < 0 ? err.message : "";
  }
};

} // namespace

TEST(EnvelopeJson, InvalidJsonSaysWhere) {
  // The byte cJSON stopped at, counted from 0, and the text's length (a
  // text cut short stops at its end).
  JsonEnv bad(R"({"streamId": "1", "kind": })");
  EXPECT_EQ(bad.rc, WEFT_ERR_JSON_SYNTAX);
  EXPECT_EQ(bad.msg(), "weft.v1.Envelope: invalid JSON at byte 26 of 27");
  JsonEnv cut(R"({"streamId": "1)");
  EXPECT_EQ(cut.rc, WEFT_ERR_JSON_SYNTAX);
  EXPECT_NE(cut.msg().find("invalid JSON at byte "), std::string::npos)
      << cut.msg();
  JsonEnv empty("");
  EXPECT_EQ(empty.msg(), "weft.v1.Envelope: invalid JSON at byte 0 of 0");
}

TEST(EnvelopeJson, RefusesDataAfterTheEnvelope) {
  // cJSON stops after the first value: the GOAWAY here was dropped unseen.
  const std::string ping = R"({"streamId":"0","kind":"FRAME_KIND_PING"})";
  JsonEnv two(ping + R"({"kind":"FRAME_KIND_GOAWAY"})");
  EXPECT_EQ(two.rc, WEFT_ERR_JSON_SYNTAX);
  EXPECT_EQ(two.msg(), "weft.v1.Envelope: unexpected data after the "
                       "envelope at byte " +
                           std::to_string(ping.size()));
  for (const std::string &tail :
       {std::string(" x"), std::string(",{}"), std::string("\n}"),
        std::string("\0", 1), std::string(" \f")}) {
    JsonEnv j(ping + tail);
    EXPECT_EQ(j.rc, WEFT_ERR_JSON_SYNTAX) << ping + tail;
    EXPECT_NE(j.msg().find("unexpected data after the envelope"),
              std::string::npos)
        << j.msg();
  }
  // JSON's whitespace after the value is no data.
  JsonEnv ws(" \t" + ping + " \r\n\t ");
  EXPECT_EQ(ws.rc, 0) << ws.msg();
  EXPECT_EQ(ws.e.kind, WEFT__FK_PING);
}

TEST(EnvelopeJson, RefusesNulInStrings) {
  // cJSON decodes to C strings: everything from a \u0000 on was cut off
  // (the method dispatched to /a.B/C, the payload decoded to 3 bytes).
  struct Case {
    std::string text, where;
  } cases[] = {
      {R"({"method":"/a.B/C\u0000junk"})", "method"},
      {R"({"payload":"AAAA\u0000AAAA"})", "payload"},
      {R"({"metadata":[{"key":"k"},{"key":"a\u0000b"}]})", "metadata[1].key"},
      {R"({"metadata":[{"key":"k","value":"dg==\u0000"}]})",
       "metadata[0].value"},
      {R"({"status":{"code":3,"message":"not \u0000found"}})",
       "status.message"},
      {R"({"status":{"details":"AQI=\u0000"}})", "status.details"},
      {R"({"kind":"FRAME_KIND_PING\u0000x"})", "kind"},
      {R"({"streamId":"1\u0000"})", "streamId"},
      {R"({"timeoutMs":"5\u0000"})", "timeoutMs"},
      // In a key: "streamId\u0000x" was read as streamId.
      {R"({"streamId\u0000x":"7"})", "streamId"},
      // Unknown fields are skipped, but not read wrongly either.
      {R"({"x":{"y":["\u0000"]}})", "x.y[0]"},
      // Behind an escaped quote and an escaped backslash.
      {R"({"method":"\"\\\u0000"})", "method"},
  };
  for (const auto &c : cases) {
    JsonEnv j(c.text);
    EXPECT_EQ(j.rc, WEFT_ERR_UTF8) << c.text;
    EXPECT_EQ(j.msg().rfind("weft.v1.Envelope." + c.where + ": ", 0), 0u)
        << c.text << " -> " << j.msg();
    EXPECT_NE(j.msg().find("cannot hold NUL (\\u0000)"), std::string::npos)
        << j.msg();
    EXPECT_NE(
        j.msg().find("at byte " + std::to_string(c.text.rfind("\\u0000"))),
        std::string::npos)
        << c.text << " -> " << j.msg();
  }
  // A raw NUL byte in a string cut it the same way.
  const char raw_nul[] = "{\"method\":\"/a.B/C\0junk\"}";
  JsonEnv raw(std::string(raw_nul, sizeof raw_nul - 1));
  EXPECT_EQ(raw.rc, WEFT_ERR_UTF8);
  EXPECT_EQ(raw.msg().rfind("weft.v1.Envelope.method: ", 0), 0u) << raw.msg();
  // cJSON reads a \u without four hex digits as U+0000 too.
  JsonEnv hex(R"({"method":"/a.B/C\u00g0junk"})");
  EXPECT_EQ(hex.rc, WEFT_ERR_JSON_SYNTAX);
  EXPECT_EQ(hex.msg(), "weft.v1.Envelope.method: invalid JSON at byte 17: "
                       "\\u needs four hex digits");
  // An escaped backslash before u0000 is text, not NUL.
  JsonEnv text(R"({"method":"/a\\u0000"})");
  EXPECT_EQ(text.rc, 0) << text.msg();
  EXPECT_EQ(view(text.e.method), "/a\\u0000");
  JsonEnv other(R"({"method":"/a\u0001\u00e9\ud83d\ude00"})");
  EXPECT_EQ(other.rc, 0) << other.msg();
  EXPECT_EQ(view(other.e.method), "/a\x01\xc3\xa9\xf0\x9f\x98\x80");
}

TEST(EnvelopeJson, RefusesAFieldGivenTwice) {
  // cJSON keeps both members and the lookup took the first: the second
  // streamId was dropped. JsonFormat refuses, by either name.
  struct Case {
    const char *text, *msg;
  } cases[] = {
      {R"({"streamId":"1","streamId":"3"})",
       "weft.v1.Envelope: field streamId given twice"},
      {R"({"streamId":"1","kind":2,"stream_id":"3"})",
       "weft.v1.Envelope: field streamId given twice"},
      {R"({"stream_id":null,"streamId":"3"})",
       "weft.v1.Envelope: field streamId given twice"},
      {R"({"timeout_ms":"1","timeoutMs":"1"})",
       "weft.v1.Envelope: field timeoutMs given twice"},
      {R"({"kind":2,"kind":"FRAME_KIND_PING"})",
       "weft.v1.Envelope: field kind given twice"},
      {R"({"method":"/a.B/C","method":"/a.B/D"})",
       "weft.v1.Envelope: field method given twice"},
      {R"({"payload":"","payload":"AAAA"})",
       "weft.v1.Envelope: field payload given twice"},
      {R"({"metadata":[],"metadata":[{"key":"k"}]})",
       "weft.v1.Envelope: field metadata given twice"},
      {R"({"status":{},"status":{"code":3}})",
       "weft.v1.Envelope: field status given twice"},
      {R"({"status":{"code":3,"message":"a","code":5}})",
       "weft.v1.Envelope.status: field code given twice"},
      {R"({"metadata":[{"key":"k"},{"key":"a","value":"","key":"b"}]})",
       "weft.v1.Envelope.metadata[1]: field key given twice"},
  };
  for (const auto &c : cases) {
    JsonEnv j(c.text);
    EXPECT_EQ(j.rc, WEFT_ERR_JSON_DUPLICATE) << c.text;
    EXPECT_EQ(j.msg(), c.msg) << c.text;
  }
  // Unknown members are skipped, twice or not.
  JsonEnv unknown(R"({"x":1,"x":2,"streamId":"4"})");
  EXPECT_EQ(unknown.rc, 0) << unknown.msg();
  EXPECT_EQ(unknown.e.stream_id, 4u);
}

TEST(EnvelopeJson, IntegersAreReadExactly) {
  // The proto3 JSON mapping: a number or a decimal string. A number is read
  // from its own digits (cJSON's double made 9007199254740993 ...992) and
  // may be written 1e3 or 5.0 as long as it is an integer; a string is
  // digits, '-' for a signed type, nothing else (" -1" was 2^64-1).
  struct Good {
    std::string text;
    uint64_t stream_id;
    int64_t timeout_ms;
    int32_t code;
  } good[] = {
      {R"({"streamId":9007199254740993})", 9007199254740993u, 0, 0},
      {R"({"streamId":"9007199254740993"})", 9007199254740993u, 0, 0},
      {R"({"streamId":18446744073709551615})", UINT64_MAX, 0, 0},
      {R"({"streamId":"18446744073709551615"})", UINT64_MAX, 0, 0},
      {R"({"streamId":9223372036854775808})", 1ull << 63, 0, 0},
      {R"({"streamId":1.8446744073709551615e19})", UINT64_MAX, 0, 0},
      {R"({"streamId":1e3})", 1000, 0, 0},
      {R"({"streamId":5.000})", 5, 0, 0},
      {R"({"streamId":2500e-2})", 25, 0, 0},
      {R"({"streamId":0.0})", 0, 0, 0},
      {R"({"streamId":-0})", 0, 0, 0},
      {R"({"streamId":"007"})", 7, 0, 0},
      {R"({"stream_id":"\u0031\u0032"})", 12, 0, 0},
      {R"({"timeoutMs":9007199254740993})", 0, 9007199254740993, 0},
      {R"({"timeoutMs":-9223372036854775808})", 0, INT64_MIN, 0},
      {R"({"timeoutMs":"-9223372036854775808"})", 0, INT64_MIN, 0},
      {R"({"timeout_ms":"9223372036854775807"})", 0, INT64_MAX, 0},
      {R"({"status":{"code":-2147483648}})", 0, 0, INT32_MIN},
      {R"({"status":{"code":"2147483647"}})", 0, 0, INT32_MAX},
  };
  for (const auto &g : good) {
    JsonEnv j(g.text);
    ASSERT_EQ(j.rc, 0) << g.text << " -> " << j.msg();
    EXPECT_EQ(j.e.stream_id, g.stream_id) << g.text;
    EXPECT_EQ(j.e.timeout_ms, g.timeout_ms) << g.text;
    EXPECT_EQ(j.e.status_code, g.code) << g.text;
  }
  struct Bad {
    std::string text;
    int code;
    std::string msg;
  } bad[] = {
      {R"({"streamId":" -1"})", WEFT_ERR_JSON_TYPE,
       R"(weft.v1.Envelope.streamId: " -1" is not an integer)"},
      {R"({"streamId":"-1"})", WEFT_ERR_JSON_RANGE,
       R"(weft.v1.Envelope.streamId: "-1" is out of range for uint64)"},
      {R"({"streamId":-1})", WEFT_ERR_JSON_RANGE,
       "weft.v1.Envelope.streamId: -1 is out of range for uint64"},
      {R"({"streamId":18446744073709551616})", WEFT_ERR_JSON_RANGE,
       "weft.v1.Envelope.streamId: 18446744073709551616 is out of range for "
       "uint64"},
      {R"({"streamId":"18446744073709551616"})", WEFT_ERR_JSON_RANGE,
       R"(weft.v1.Envelope.streamId: "18446744073709551616" is out of range )"
       "for uint64"},
      {R"({"streamId":9007199254740993.5})", WEFT_ERR_JSON_TYPE,
       "weft.v1.Envelope.streamId: 9007199254740993.5 is not an integer"},
      {R"({"streamId":01})", WEFT_ERR_JSON_SYNTAX,
       "weft.v1.Envelope.streamId: 01 is not a JSON number"},
      {R"({"streamId":true})", WEFT_ERR_JSON_TYPE,
       "weft.v1.Envelope.streamId: a uint64 is a number or a decimal string"},
      {R"({"timeoutMs":9223372036854775808})", WEFT_ERR_JSON_RANGE,
       "weft.v1.Envelope.timeoutMs: 9223372036854775808 is out of range for "
       "int64"},
      {R"({"timeoutMs":" 5"})", WEFT_ERR_JSON_TYPE,
       R"(weft.v1.Envelope.timeoutMs: " 5" is not an integer)"},
      {R"({"status":{"code":2147483648}})", WEFT_ERR_JSON_RANGE,
       "weft.v1.Envelope.status.code: 2147483648 is out of range for int32"},
      {R"({"kind":-2147483649})", WEFT_ERR_JSON_RANGE,
       "weft.v1.Envelope.kind: -2147483649 is out of range for int32"},
  };
  for (const auto &b : bad) {
    JsonEnv j(b.text);
    EXPECT_EQ(j.rc, b.code) << b.text << " -> " << j.msg();
    EXPECT_EQ(j.msg(), b.msg) << b.text;
  }
  for (const char *t :
       {R"({"streamId":"+1"})", R"({"streamId":"1 "})", R"({"streamId":""})",
        R"({"streamId":"0x10"})", R"({"streamId":"1e3"})",
        R"({"streamId":"1.0"})", R"({"streamId":"-"})", R"({"streamId":1.5})",
        R"({"streamId":1e-1})", R"({"streamId":1e20})",
        R"({"streamId":1e999999999999999999999})", R"({"streamId":-.5})",
        R"({"timeoutMs":"--1"})", R"({"status":{"code":"1.0"}})",
        R"({"kind":2.5})"}) {
    JsonEnv j(t);
    EXPECT_LT(j.rc, 0) << t;
    EXPECT_NE(j.msg().find("weft.v1.Envelope."), std::string::npos) << t;
  }
}
