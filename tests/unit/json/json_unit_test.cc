// Unit tests of each rule of the proto3 JSON mapping in weft's codec, with
// exact expected text (libprotobuf 3.21's compact output where it applies).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>

#include "google/protobuf/field_mask.weft.h"
#include "json_test2.weft.h"
#include "json_test3.weft.h"
#include "json_testutil.h"

extern "C" {
#include "json_internal.h"
}

namespace {

const weft_msg_desc *const kAll = &weft__jsontest__AllTypes_desc;
const weft_msg_desc *const kP2 = &weft__jsontest2__P2_desc;

class Json : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    json_1test3_proto_register();
  }

  // JSON in -> weft -> JSON out (compact unless flags say otherwise).
  static std::string RT(const std::string &in, unsigned enc = 0,
                        unsigned dec = 0, const weft_msg_desc *d = kAll) {
    wjt::Result r = wjt::Reencode(d, in, dec, enc);
    if (r.rv)
      return std::string("ERROR ") + weft_errname(r.rv) + ": " + r.text;
    return r.text;
  }
  // The error of decoding `in`, as "WEFT_ERR_X: message".
  static std::string Err(const std::string &in, unsigned dec = 0,
                         const weft_msg_desc *d = kAll) {
    void *m = nullptr;
    weft_error err;
    weft_json_opts o = {};
    o.flags = dec;
    int rv = weft_json_decode(d, in.data(), in.size(), &o, &m, &err);
    if (rv == 0) {
      weft_message_free(m);
      return "OK";
    }
    EXPECT_EQ(rv, err.code);
    return std::string(weft_errname(rv)) + ": " + err.message;
  }
};

// ---- field names -----------------------------------------------------------

TEST_F(Json, FieldNamesJsonByDefaultProtoOnRequest) {
  EXPECT_EQ(RT(R"({"fInt32":1,"field_name_1":2,"myCustomName":3})"),
            R"({"fInt32":1,"myCustomName":3,"fieldName1":2})");
  EXPECT_EQ(
      RT(R"({"f_int32":1,"fieldName1":2,"custom":3})", WEFT_JSON_PROTO_NAMES),
      R"({"f_int32":1,"custom":3,"field_name_1":2})");
  EXPECT_EQ(RT(R"({"fieldName2":1,"fieldName3":2,"Field4":3})"),
            R"({"fieldName2":1,"fieldName3":2,"Field4":3})");
  EXPECT_EQ(RT(R"({"field__name3":2})", WEFT_JSON_PROTO_NAMES),
            R"({"field__name3":2})");
}

TEST_F(Json, DuplicateFieldsAreErrors) {
  EXPECT_EQ(
      Err(R"({"fInt32":1,"fInt32":2})"),
      "WEFT_ERR_JSON_DUPLICATE: fInt32: field f_int32 given more than once");
  // the same field by its JSON and its proto name
  EXPECT_EQ(
      Err(R"({"fInt32":1,"f_int32":2})"),
      "WEFT_ERR_JSON_DUPLICATE: f_int32: field f_int32 given more than once");
  EXPECT_EQ(Err(R"({"myCustomName":1,"custom":2})").substr(0, 23),
            "WEFT_ERR_JSON_DUPLICATE");
}

TEST_F(Json, UnknownFields) {
  EXPECT_EQ(Err(R"({"nope":1})"), "WEFT_ERR_JSON_UNKNOWN_FIELD: nope: no such "
                                  "field in weft.jsontest.AllTypes");
  EXPECT_EQ(RT(R"({"nope":{"a":[1,{"b":null}]},"fInt32":1})", 0,
               WEFT_JSON_IGNORE_UNKNOWN),
            R"({"fInt32":1})");
  // skipped values are still checked
  EXPECT_EQ(Err(R"({"nope":[1,}})", WEFT_JSON_IGNORE_UNKNOWN).substr(0, 21),
            "WEFT_ERR_JSON_SYNTAX:");
}

// ---- enums -----------------------------------------------------------------

TEST_F(Json, Enums) {
  EXPECT_EQ(RT(R"({"fEnum":"BLUE","rEnum":["RED",2,"1"]})"),
            R"({"fEnum":"BLUE","rEnum":["RED","GREEN","RED"]})");
  EXPECT_EQ(RT(R"({"fEnum":"GREEN"})", WEFT_JSON_ENUMS_AS_INTS),
            R"({"fEnum":2})");
  EXPECT_EQ(RT(R"({"fEnum":-1})", WEFT_JSON_ENUMS_AS_INTS), R"({"fEnum":-1})");
  // open enum: unknown numbers are kept and print as numbers
  EXPECT_EQ(RT(R"({"fEnum":77})"), R"({"fEnum":77})");
  EXPECT_EQ(Err(R"({"fEnum":"PURPLE"})"),
            "WEFT_ERR_JSON_ENUM: fEnum: \"PURPLE\" is not a "
            "weft.jsontest.Color value");
  EXPECT_EQ(Err(R"({"fEnum":1.5})").substr(0, 23), "WEFT_ERR_JSON_TYPE: fEn");
  // ignore-unknown drops unknown names (singular and repeated)
  EXPECT_EQ(RT(R"({"fEnum":"PURPLE","rEnum":["PURPLE","RED"]})", 0,
               WEFT_JSON_IGNORE_UNKNOWN),
            R"({"rEnum":["RED"]})");
  // proto2 (closed) enum: unknown numbers are errors
  EXPECT_EQ(Err(R"({"r":"1","e":7})", 0, kP2).substr(0, 18),
            "WEFT_ERR_JSON_ENUM");
  EXPECT_EQ(RT(R"({"r":"1","e":1})", 0, 0, kP2), R"({"r":"1","e":"C_ONE"})");
}

// ---- integers --------------------------------------------------------------

TEST_F(Json, SixtyFourBitIntegers) {
  EXPECT_EQ(
      RT(R"({"fInt64":"-9223372036854775808","fUint64":"18446744073709551615","fSint64":9223372036854775807})"),
      R"({"fInt64":"-9223372036854775808","fUint64":"18446744073709551615","fSint64":"9223372036854775807"})");
  EXPECT_EQ(
      RT(R"({"fInt64":-9223372036854775808,"fFixed64":18446744073709551615})"),
      R"({"fInt64":"-9223372036854775808","fFixed64":"18446744073709551615"})");
  // integral exponent and fraction forms of numbers
  EXPECT_EQ(RT(R"({"fInt64":1e3,"fUint64":2.0,"fInt32":-1E2,"fUint32":1.5e1})"),
            R"({"fInt32":-100,"fInt64":"1000","fUint32":15,"fUint64":"2"})");
  EXPECT_EQ(RT(R"({"fInt32":"+7","fInt64":"007"})"),
            R"({"fInt32":7,"fInt64":"7"})");
  EXPECT_EQ(Err(R"({"fInt64":1.5})"),
            "WEFT_ERR_JSON_TYPE: fInt64: 1.5 is not an integer");
  EXPECT_EQ(Err(R"({"fInt64":"1.0"})").substr(0, 18), "WEFT_ERR_JSON_TYPE");
  EXPECT_EQ(
      Err(R"({"fInt64":"9223372036854775808"})"),
      "WEFT_ERR_JSON_RANGE: fInt64: \"9223372036854775808\" is out of range");
  EXPECT_EQ(Err(R"({"fUint64":"18446744073709551616"})").substr(0, 19),
            "WEFT_ERR_JSON_RANGE");
  EXPECT_EQ(Err(R"({"fUint64":-1})").substr(0, 19), "WEFT_ERR_JSON_RANGE");
  EXPECT_EQ(Err(R"({"fInt32":2147483648})").substr(0, 19),
            "WEFT_ERR_JSON_RANGE");
  EXPECT_EQ(Err(R"({"fUint32":4294967296})").substr(0, 19),
            "WEFT_ERR_JSON_RANGE");
  EXPECT_EQ(Err(R"({"fInt64":1e19})").substr(0, 19), "WEFT_ERR_JSON_RANGE");
  EXPECT_EQ(RT(R"({"fInt32":-2147483648,"fUint32":4294967295})"),
            R"({"fInt32":-2147483648,"fUint32":4294967295})");
}

// ---- floating point --------------------------------------------------------

TEST_F(Json, FloatsAndDoubles) {
  EXPECT_EQ(
      RT(R"({"fFloat":"NaN","fDouble":"-Infinity","rDouble":["Infinity",1.5,"2.5"]})"),
      R"({"fFloat":"NaN","fDouble":"-Infinity","rDouble":["Infinity",1.5,2.5]})");
  EXPECT_EQ(RT(R"({"fFloat":0.1,"fDouble":0.1})"),
            R"({"fFloat":0.1,"fDouble":0.1})");
  EXPECT_EQ(RT(R"({"fFloat":3.4028235e38,"fDouble":1.7976931348623157e308})"),
            R"({"fFloat":3.40282347e+38,"fDouble":1.7976931348623157e+308})");
  // -0.0 prints as -0 (a JSON integer token -0 reads as +0, as in libprotobuf)
  EXPECT_EQ(RT(R"({"fFloat":-0.0,"fDouble":-0.0})"),
            R"({"fFloat":-0,"fDouble":-0})");
  EXPECT_EQ(RT(R"({"fDouble":-0})"), R"({})");
  // subnormals
  EXPECT_EQ(RT(R"({"fDouble":5e-324,"fFloat":1.4e-45})"),
            R"({"fFloat":1.40129846e-45,"fDouble":4.94065645841247e-324})");
  EXPECT_EQ(RT(R"({"fDouble":1e-320})"),
            R"({"fDouble":9.99988867182683e-321})");
  EXPECT_EQ(RT(R"({"fDouble":123456789012345678})"),
            R"({"fDouble":1.2345678901234568e+17})");
  EXPECT_EQ(RT(R"({"fDouble":0.3333333333333333})"),
            R"({"fDouble":0.33333333333333331})");
  EXPECT_EQ(RT(R"({"fDouble":1e15,"fFloat":16777216})"),
            R"({"fFloat":16777216,"fDouble":1e+15})");
  // float range: values that round to a finite float are accepted
  EXPECT_EQ(
      Err(R"({"fFloat":3.40282357e38})"),
      "WEFT_ERR_JSON_RANGE: fFloat: 3.40282357e38 is out of range for float");
  EXPECT_EQ(Err(R"({"fFloat":-1e39})").substr(0, 19), "WEFT_ERR_JSON_RANGE");
  EXPECT_EQ(Err(R"({"fDouble":1e400})").substr(0, 19), "WEFT_ERR_JSON_RANGE");
  EXPECT_EQ(Err(R"({"fDouble":"nan"})").substr(0, 18), "WEFT_ERR_JSON_TYPE");
  EXPECT_EQ(Err(R"({"fDouble":"1.5 "})").substr(0, 18), "WEFT_ERR_JSON_TYPE");
}

// The formatting fast paths agree with the %.15g/%.17g (%.6g/%.9g) rule.
TEST_F(Json, NumberFormattingMatchesReference) {
  std::mt19937_64 rng(5);
  auto ref_d = [](double v) {
    char t[40];
    snprintf(t, sizeof t, "%.15g", v);
    if (strtod(t, nullptr) != v)
      snprintf(t, sizeof t, "%.17g", v);
    return std::string(t);
  };
  auto ref_f = [](float v) {
    char t[40];
    snprintf(t, sizeof t, "%.6g", static_cast<double>(v));
    if (strtof(t, nullptr) != v || (v != 0 && std::fabs(v) < 1.17549435e-38f))
      snprintf(t, sizeof t, "%.9g", static_cast<double>(v));
    return std::string(t);
  };
  for (int i = 0; i < 300000; i++) {
    double d;
    switch (i % 4) {
    case 0: {
      uint64_t bits = rng();
      memcpy(&d, &bits, 8);
      break;
    }
    case 1:
      d = static_cast<double>(static_cast<int64_t>(rng() % 2000000) - 1000000) /
          std::pow(10.0, static_cast<double>(rng() % 12));
      break;
    case 2:
      d = static_cast<double>(rng() % 100000) / 1000.0 + 0.5;
      break;
    default:
      d = std::ldexp(static_cast<double>(rng() % 1000),
                     static_cast<int>(rng() % 40) - 20);
    }
    if (std::isnan(d) || std::isinf(d))
      continue;
    wj_buf b = {};
    weft__wj_double(&b, d);
    ASSERT_EQ(std::string(b.p, b.len), ref_d(d)) << d;
    free(b.p);
    float f = static_cast<float>(d);
    if (i % 4 == 0) {
      uint32_t fb = static_cast<uint32_t>(rng());
      memcpy(&f, &fb, 4);
    }
    if (std::isnan(f) || std::isinf(f))
      continue;
    wj_buf fbuf = {};
    weft__wj_float(&fbuf, f);
    ASSERT_EQ(std::string(fbuf.p, fbuf.len), ref_f(f)) << f;
    free(fbuf.p);
  }
}

// ---- bytes -----------------------------------------------------------------

TEST_F(Json, Bytes) {
  EXPECT_EQ(RT(R"({"rBytes":["","AA==","AAE=","AAEC","+/+/"]})"),
            R"({"rBytes":["","AA==","AAE=","AAEC","+/+/"]})");
  // URL-safe and unpadded on input; standard with padding on output
  EXPECT_EQ(RT(R"({"rBytes":["-_-_","AA","AAE","_w"]})"),
            R"({"rBytes":["+/+/","AA==","AAE=","/w=="]})");
  EXPECT_EQ(Err(R"({"fBytes":"A"})"),
            "WEFT_ERR_JSON_TYPE: fBytes: \"A\" is not valid base64");
  EXPECT_EQ(Err(R"({"fBytes":"AA="})").substr(0, 18), "WEFT_ERR_JSON_TYPE");
  EXPECT_EQ(Err(R"({"fBytes":"AB=="})").substr(0, 18), "WEFT_ERR_JSON_TYPE");
  EXPECT_EQ(Err(R"({"fBytes":"+_"})").substr(0, 18), "WEFT_ERR_JSON_TYPE");
  EXPECT_EQ(Err(R"({"fBytes":1})").substr(0, 18), "WEFT_ERR_JSON_TYPE");
}

// ---- strings ---------------------------------------------------------------

TEST_F(Json, StringsAndEscapes) {
  EXPECT_EQ(
      RT(R"({"fString":"a\"b\\c\/d\b\f\n\r\t\u0001<>&\u007f\u00e9\u2028\ud83d\ude00"})"),
      "{\"fString\":\"a\\\"b\\\\c/d\\b\\f\\n\\r\\t\\u0001\\u003c\\u003e&\\u007f"
      "\xc3\xa9\\u2028\xf0\x9f\x98\x80\"}");
  EXPECT_EQ(Err("{\"fString\":\"\\ud800\"}").substr(0, 14), "WEFT_ERR_UTF8:");
  EXPECT_EQ(Err("{\"fString\":\"\\udc00\"}").substr(0, 14), "WEFT_ERR_UTF8:");
  EXPECT_EQ(Err("{\"fString\":\"\\ud800\\u0041\"}").substr(0, 14),
            "WEFT_ERR_UTF8:");
  EXPECT_EQ(Err("{\"fString\":\"\xff\"}"),
            "WEFT_ERR_UTF8: invalid UTF-8 at offset 12");
  EXPECT_EQ(Err("{\"fString\":\"\xc0\x80\"}").substr(0, 14), "WEFT_ERR_UTF8:");
  EXPECT_EQ(Err("{\"f\xed\xa0\x80\":1}").substr(0, 14), "WEFT_ERR_UTF8:");
  EXPECT_EQ(Err("{\"fString\":\"a\nb\"}").substr(0, 20),
            "WEFT_ERR_JSON_SYNTAX");
  EXPECT_EQ(Err(R"({"fString":1})"),
            "WEFT_ERR_JSON_TYPE: fString: 1 is not a string");
}

// ---- repeated, maps, null ---------------------------------------------------

TEST_F(Json, RepeatedAndMaps) {
  EXPECT_EQ(RT(R"({"rInt32":[],"rString":["a","b"],"rMsg":[{},{"a":1}]})"),
            R"({"rString":["a","b"],"rMsg":[{},{"a":1}]})");
  EXPECT_EQ(
      RT(R"({"mInt32String":{"-1":"a","2":"b"},"mBoolBytes":{"true":"AA==","false":""},"mUint64Double":{"18446744073709551615":1.5},"mSint64Uint64":{"-9223372036854775808":"1"}})"),
      R"({"mInt32String":{"-1":"a","2":"b"},"mBoolBytes":{"true":"AA==","false":""},"mUint64Double":{"18446744073709551615":1.5},"mSint64Uint64":{"-9223372036854775808":"1"}})");
  EXPECT_EQ(
      RT(R"({"mInt64Msg":{"5":{"a":1}},"mStringValue":{"x":null,"y":[1]}})"),
      R"({"mInt64Msg":{"5":{"a":1}},"mStringValue":{"x":null,"y":[1]}})");
  EXPECT_EQ(Err(R"({"mStringInt32":{"a":1,"a":2}})"),
            "WEFT_ERR_JSON_DUPLICATE: mStringInt32[\"a\"]: duplicate map key");
  EXPECT_EQ(Err(R"({"mInt32String":{"01":"a","1":"b"}})").substr(0, 23),
            "WEFT_ERR_JSON_DUPLICATE");
  EXPECT_EQ(Err(R"({"mBoolBytes":{"1":""}})").substr(0, 18),
            "WEFT_ERR_JSON_TYPE");
  EXPECT_EQ(Err(R"({"mInt32String":{"x":"a"}})").substr(0, 18),
            "WEFT_ERR_JSON_TYPE");
  EXPECT_EQ(Err(R"({"rInt32":[1,null]})"),
            "WEFT_ERR_JSON_TYPE: rInt32[1]: null is not allowed in a list");
  EXPECT_EQ(Err(R"({"rInt32":1})").substr(0, 18), "WEFT_ERR_JSON_TYPE");
  // many map entries: the duplicate check is a hash, still exact
  std::string big = "{\"mInt32String\":{";
  for (int i = 0; i < 3000; i++)
    big += (i ? ",\"" : "\"") + std::to_string(i) + "\":\"v\"";
  EXPECT_EQ(Err(big + "}}"), "OK");
  EXPECT_EQ(Err(big + ",\"1234\":\"w\"}}").substr(0, 23),
            "WEFT_ERR_JSON_DUPLICATE");
}

TEST_F(Json, NullMeansDefault) {
  EXPECT_EQ(
      RT(R"({"fInt32":null,"fMsg":null,"rInt32":null,"mStringInt32":null,"oInt32":null,"wInt32":null,"wTimestamp":null})"),
      "{}");
  // ... except for google.protobuf.Value, where it is a NullValue
  EXPECT_EQ(RT(R"({"wValue":null,"rwValue":[null,1],"cValue":null})"),
            R"({"cValue":null,"wValue":null,"rwValue":[null,1]})");
}

// A message is a JSON object: a bare null at the top level is refused, as
// libprotobuf does ("Root element must be a message"); the WKTs written as
// a JSON scalar take it as their default.
TEST_F(Json, TopLevelNull) {
  EXPECT_EQ(Err("null"), "WEFT_ERR_JSON_TYPE: (root): null is not a "
                         "weft.jsontest.AllTypes: the top level must be a "
                         "JSON object");
  EXPECT_EQ(Err(" null "), Err("null"));
  EXPECT_EQ(Err("null", 0, kP2).substr(0, 18), "WEFT_ERR_JSON_TYPE");
}

// google.protobuf.NullValue: null is its value, printed as null.
TEST_F(Json, NullValueEnum) {
  EXPECT_EQ(RT(R"({"oNull":null})"), R"({"oNull":null})");
  EXPECT_EQ(RT(R"({"oNull":"NULL_VALUE"})"), R"({"oNull":null})");
  EXPECT_EQ(RT(R"({"oNull":0})"), R"({"oNull":null})");
  EXPECT_EQ(RT(R"({"cNull":null})"), R"({"cNull":null})");
  EXPECT_EQ(RT(R"({"rwNull":[null,"NULL_VALUE",0]})"),
            R"({"rwNull":[null,null,null]})");
  EXPECT_EQ(RT(R"({"mStringNull":{"a":null}})"),
            R"({"mStringNull":{"a":null}})");
  EXPECT_EQ(RT(R"({"oNull":null})", WEFT_JSON_ENUMS_AS_INTS),
            R"({"oNull":null})");
  // an implicit-presence NullValue stays unset, and prints as null
  EXPECT_EQ(RT(R"({"wNull":null})"), "{}");
  EXPECT_NE(RT("{}", WEFT_JSON_EMIT_DEFAULTS).find(R"("wNull":null)"),
            std::string::npos);
  // null sets the oneof case: a second member is a conflict
  EXPECT_EQ(Err(R"({"cNull":null,"cInt32":1})"),
            "WEFT_ERR_JSON_ONEOF: cInt32: another member of oneof choice is "
            "already set");
  EXPECT_EQ(Err(R"({"cInt32":1,"cNull":null})"),
            "WEFT_ERR_JSON_ONEOF: cNull: another member of oneof choice is "
            "already set");
  EXPECT_EQ(Err(R"({"rwNull":null})"), "OK");
  EXPECT_EQ(Err(R"({"oNull":"X"})").substr(0, 18), "WEFT_ERR_JSON_ENUM");
}

// ---- oneof and presence ----------------------------------------------------

TEST_F(Json, Oneof) {
  EXPECT_EQ(RT(R"({"cString":""})"), R"({"cString":""})");
  EXPECT_EQ(RT(R"({"cInt32":0})"), R"({"cInt32":0})");
  EXPECT_EQ(RT(R"({"cMsg":{}})"), R"({"cMsg":{}})");
  EXPECT_EQ(Err(R"({"cInt32":1,"cString":"a"})"),
            "WEFT_ERR_JSON_ONEOF: cString: another member of oneof choice is "
            "already set");
  EXPECT_EQ(RT(R"({"cInt32":1,"cString":null})"), R"({"cInt32":1})");
}

TEST_F(Json, Presence) {
  // proto3 optional: printed when set, even at zero; never as a default
  EXPECT_EQ(RT(R"({"oInt32":0,"oString":"","oBool":false,"oMsg":{}})"),
            R"({"oInt32":0,"oString":"","oBool":false,"oMsg":{}})");
  EXPECT_EQ(RT("{}", WEFT_JSON_EMIT_DEFAULTS).find("oInt32"),
            std::string::npos);
  // proto2: set fields print, unset ones do not (their defaults only with
  // EMIT_DEFAULTS)
  EXPECT_EQ(RT(R"({"r":"0","a":0,"s":""})", 0, 0, kP2),
            R"({"a":0,"s":"","r":"0"})");
  EXPECT_EQ(
      RT(R"({"r":"1"})", WEFT_JSON_EMIT_DEFAULTS, 0, kP2),
      R"({"a":7,"s":"hi","r":"1","e":"C_TWO","re":[],"b":"eA==","f":1.5,"t":false,"m":{},"d":0,"u":"0","rs":[]})");
  EXPECT_EQ(Err(R"({"a":1})", 0, kP2),
            "WEFT_ERR_MISSING_REQUIRED: (root): required field r is missing");
  EXPECT_EQ(
      Err(R"({"r":null})", 0, kP2),
      "WEFT_ERR_MISSING_REQUIRED: (root): required field r is missing (null)");
  EXPECT_EQ(
      Err(R"({"r":1,"child":{"r":2,"child":{}}})", 0, kP2),
      "WEFT_ERR_MISSING_REQUIRED: child.child: required field r is missing");
}

TEST_F(Json, EmitDefaultsProto3) {
  std::string out = RT("{}", WEFT_JSON_EMIT_DEFAULTS);
  const std::string head =
      R"({"fInt32":0,"fInt64":"0","fUint32":0,"fUint64":"0","fSint32":0,"fSint64":"0","fFixed32":0,"fFixed64":"0","fSfixed32":0,)";
  EXPECT_EQ(out.substr(0, head.size()), head);
  EXPECT_NE(
      out.find(
          R"("fString":"","fBytes":"","fEnum":"COLOR_UNSPECIFIED","rInt32":[])"),
      std::string::npos);
  EXPECT_NE(out.find(R"("mStringInt32":{})"), std::string::npos);
  EXPECT_EQ(out.find("fMsg"), std::string::npos);   // messages: no
  EXPECT_EQ(out.find("cInt32"), std::string::npos); // oneofs: no
  EXPECT_EQ(out.find("\"wTimestamp\""), std::string::npos);
  EXPECT_NE(out.find(R"("wNull":null)"), std::string::npos);
}

TEST_F(Json, Pretty) {
  EXPECT_EQ(
      RT(R"({"fInt32":1,"fMsg":{"a":2},"rInt32":[1,2],"rString":[],"mStringInt32":{"k":1},"wEmpty":{}})",
         WEFT_JSON_PRETTY),
      "{\n  \"fInt32\": 1,\n  \"fMsg\": {\n    \"a\": 2\n  },\n  \"rInt32\": "
      "[\n"
      "    1,\n    2\n  ],\n  \"mStringInt32\": {\n    \"k\": 1\n  },\n"
      "  \"wEmpty\": {}\n}");
  EXPECT_EQ(RT("{}", WEFT_JSON_PRETTY), "{}");
}

// ---- well-known types ------------------------------------------------------

TEST_F(Json, Timestamp) {
  EXPECT_EQ(
      RT(R"({"rwTimestamp":["0001-01-01T00:00:00Z","9999-12-31T23:59:59.999999999Z","1970-01-01T00:00:00.1Z","1970-01-01T00:00:00.000001Z","2026-11-23T12:00:00+01:30","1969-12-31T23:59:59.5-00:00"]})"),
      R"({"rwTimestamp":["0001-01-01T00:00:00Z","9999-12-31T23:59:59.999999999Z","1970-01-01T00:00:00.100Z","1970-01-01T00:00:00.000001Z","2026-11-23T10:30:00Z","1969-12-31T23:59:59.500Z"]})");
  EXPECT_EQ(
      Err(R"({"rwTimestamp":["1970-01-01T00:00:00Z","2026-11-23T12:00:00Z","2000-01-01T00:00:00Z","2026-13-01T00:00:00Z"]})"),
      "WEFT_ERR_JSON_WKT: rwTimestamp[3]: \"2026-13-01T00:00:00Z\" is not a "
      "valid RFC 3339 time");
  for (const char *bad :
       {"0000-12-31T23:59:59Z", "10000-01-01T00:00:00Z", "2021-02-29T00:00:00Z",
        "1970-01-01T00:00:60Z", "1970-01-01 00:00:00Z", "1970-01-01T00:00:00",
        "0001-01-01T00:00:00+00:01", "9999-12-31T23:59:59-00:01",
        "1970-01-01T00:00:00.Z", "1970-01-01T00:00:00.1234567890Z"})
    EXPECT_EQ(
        Err(std::string("{\"wTimestamp\":\"") + bad + "\"}").substr(0, 17),
        "WEFT_ERR_JSON_WKT")
        << bad;
  EXPECT_EQ(RT(R"({"wTimestamp":"2020-02-29T00:00:00Z"})"),
            R"({"wTimestamp":"2020-02-29T00:00:00Z"})");
}

TEST_F(Json, Duration) {
  EXPECT_EQ(
      RT(R"({"rwDuration":["1.5s","-0.5s","0s","315576000000s","-315576000000.999999999s","1.000001s","1.s","+2s"]})"),
      R"({"rwDuration":["1.500s","-0.500s","0s","315576000000s","-315576000000.999999999s","1.000001s","1s","2s"]})");
  for (const char *bad :
       {"315576000001s", "1.0000000001s", ".5s", "1", "1.5S", "s", "-s"})
    EXPECT_EQ(Err(std::string("{\"wDuration\":\"") + bad + "\"}").substr(0, 17),
              "WEFT_ERR_JSON_WKT")
        << bad;
}

TEST_F(Json, FieldMask) {
  EXPECT_EQ(RT(R"({"wFieldMask":"a.b,cD,fooBar.bazQux"})"),
            R"({"wFieldMask":"a.b,cD,fooBar.bazQux"})");
  EXPECT_EQ(RT(R"({"wFieldMask":"fooBar.bazQux"})", WEFT_JSON_PROTO_NAMES),
            R"({"w_field_mask":"fooBar.bazQux"})");
  EXPECT_EQ(RT(R"({"wFieldMask":""})"), R"({"wFieldMask":""})");
  EXPECT_EQ(Err(R"({"wFieldMask":"a[0]"})").substr(0, 17), "WEFT_ERR_JSON_WKT");
  // snake_case -> lowerCamelCase of paths that do not round-trip, as
  // libprotobuf 3.21 prints them (measured)
  const char *const cases[][2] = {{"foo_Bar", "fooBar"},
                                  {"foo__bar", "fooBar"},
                                  {"a_", "a"},
                                  {"FooBar", "fooBar"},
                                  {"fooBAR", "fooBar"},
                                  {"_foo", "foo"},
                                  {"a1_b2", "a1B2"},
                                  {"x_1y", "x1y"},
                                  {"ab_cD", "abCd"},
                                  {"a._b", "a.b"},
                                  {"URL", "url"},
                                  {"url_HTTP_x", "urlHttpX"},
                                  {"__a", "a"},
                                  {"a_b.c_d_e", "aB.cDE"},
                                  {"foo_bar.Baz_qux", "fooBar.bazQux"}};
  for (const auto &c : cases) {
    google__protobuf__FieldMask fm = google__protobuf__FieldMask_INIT;
    char *paths[1] = {const_cast<char *>(c[0])};
    fm.n_paths = 1;
    fm.paths = paths;
    char *out = nullptr;
    size_t n = 0;
    weft_error err;
    ASSERT_EQ(weft_json_encode(&fm, nullptr, &out, &n, &err), 0) << c[0];
    EXPECT_EQ(std::string(out, n), std::string("\"") + c[1] + "\"") << c[0];
    free(out);
  }
}

TEST_F(Json, Wrappers) {
  EXPECT_EQ(
      RT(R"({"wDouble":1.5,"wFloat":"NaN","wInt64":"-5","wUint64":7,"wInt32":0,"wUint32":1,"wBool":false,"wString":"","wBytes":"AA=="})"),
      R"({"wDouble":1.5,"wFloat":"NaN","wInt64":"-5","wUint64":"7","wInt32":0,"wUint32":1,"wBool":false,"wString":"","wBytes":"AA=="})");
  EXPECT_EQ(RT(R"({"rwInt64":["1",2],"rwString":["a"]})"),
            R"({"rwInt64":["1","2"],"rwString":["a"]})");
  EXPECT_EQ(Err(R"({"wInt32":{"value":1}})").substr(0, 18),
            "WEFT_ERR_JSON_TYPE");
}

TEST_F(Json, StructValueListValue) {
  EXPECT_EQ(
      RT(R"({"wStruct":{"a":[1,"x",true,null,{"b":{}}],"c":-2.5},"wValue":"s","wListValue":[[],{}]})"),
      R"({"wStruct":{"a":[1,"x",true,null,{"b":{}}],"c":-2.5},"wValue":"s","wListValue":[[],{}]})");
  EXPECT_EQ(RT(R"({"wValue":{"k":[{"z":false}]}})"),
            R"({"wValue":{"k":[{"z":false}]}})");
  EXPECT_EQ(Err(R"({"wStruct":[]})").substr(0, 18), "WEFT_ERR_JSON_TYPE");
  EXPECT_EQ(Err(R"({"wListValue":{}})").substr(0, 18), "WEFT_ERR_JSON_TYPE");
  EXPECT_EQ(Err(R"({"wStruct":{"a":1,"a":2}})").substr(0, 23),
            "WEFT_ERR_JSON_DUPLICATE");
  EXPECT_EQ(RT(R"({"wEmpty":{}})"), R"({"wEmpty":{}})");
  EXPECT_EQ(Err(R"({"wEmpty":{"x":1}})").substr(0, 27),
            "WEFT_ERR_JSON_UNKNOWN_FIELD");
}

TEST_F(Json, Any) {
  // a user message: its fields inline, "@type" first on output
  EXPECT_EQ(
      RT(R"({"wAny":{"b":"x","@type":"type.googleapis.com/weft.jsontest.Nested","a":1}})"),
      R"({"wAny":{"@type":"type.googleapis.com/weft.jsontest.Nested","a":1,"b":"x"}})");
  // well-known types go under "value"
  EXPECT_EQ(
      RT(R"({"rwAny":[{"value":"1.5s","@type":"type.googleapis.com/google.protobuf.Duration"},{"@type":"type.googleapis.com/google.protobuf.Struct","value":{"a":[1]}},{"@type":"type.googleapis.com/google.protobuf.Int64Value","value":"5"},{"@type":"type.googleapis.com/google.protobuf.Any","value":{"@type":"type.googleapis.com/google.protobuf.Empty","value":{}}}]})"),
      R"({"rwAny":[{"@type":"type.googleapis.com/google.protobuf.Duration","value":"1.500s"},{"@type":"type.googleapis.com/google.protobuf.Struct","value":{"a":[1]}},{"@type":"type.googleapis.com/google.protobuf.Int64Value","value":"5"},{"@type":"type.googleapis.com/google.protobuf.Any","value":{"@type":"type.googleapis.com/google.protobuf.Empty"}}]})");
  // nested messages inside Any, and other type URL prefixes
  EXPECT_EQ(
      RT(R"({"wAny":{"@type":"example.com/x/weft.jsontest.Envelope","payload":{"wAny":{"@type":"type.googleapis.com/weft.jsontest.Nested","r":[1]}}}})"),
      R"({"wAny":{"@type":"example.com/x/weft.jsontest.Envelope","payload":{"wAny":{"@type":"type.googleapis.com/weft.jsontest.Nested","r":[1]}}}})");
  EXPECT_EQ(RT(R"({"wAny":{}})"), R"({"wAny":{}})");
  EXPECT_EQ(Err(R"({"wAny":{"@type":"type.googleapis.com/weft.Nope"}})"),
            "WEFT_ERR_JSON_ANY_TYPE: wAny: Any type URL "
            "\"type.googleapis.com/weft.Nope\" is not in the registry");
  EXPECT_EQ(Err(R"({"wAny":{"a":1}})").substr(0, 17), "WEFT_ERR_JSON_WKT");
  EXPECT_EQ(
      Err(R"({"wAny":{"@type":"type.googleapis.com/weft.jsontest.Nested","@type":"x/y"}})"),
      "WEFT_ERR_JSON_DUPLICATE: wAny.@type: \"@type\" given more than once");
  EXPECT_EQ(
      Err(R"({"wAny":{"@type":"type.googleapis.com/weft.jsontest.Nested","zz":1}})")
          .substr(0, 27),
      "WEFT_ERR_JSON_UNKNOWN_FIELD");
  EXPECT_EQ(
      Err(R"({"wAny":{"@type":"type.googleapis.com/google.protobuf.Duration","value":"x"}})"),
      "WEFT_ERR_JSON_WKT: wAny.value: \"x\" is not a valid duration");
  // a registry of its own: without json_test3.proto, Nested is unknown
  weft_registry *r = nullptr;
  ASSERT_EQ(weft_registry_new(&r), 0);
  weft_json_opts o = {};
  o.registry = r;
  void *m = nullptr;
  weft_error err;
  std::string in =
      R"({"wAny":{"@type":"type.googleapis.com/weft.jsontest.Nested"}})";
  EXPECT_EQ(weft_json_decode(kAll, in.data(), in.size(), &o, &m, &err),
            WEFT_ERR_JSON_ANY_TYPE);
  ASSERT_EQ(weft_registry_add_file(r, &json_1test3_proto), 0);
  ASSERT_EQ(weft_json_decode(kAll, in.data(), in.size(), &o, &m, &err), 0);
  weft_message_free(m);
  weft_registry_free(r);
}

// ---- malformed input -------------------------------------------------------

TEST_F(Json, SyntaxErrors) {
  for (const char *bad :
       {"", "{", "{\"fInt32\":1,}", "{\"fInt32\":1}x", "[]", "{'fInt32':1}",
        "{fInt32:1}", "{\"fInt32\":01}", "{\"fInt32\":1.}", "{\"fInt32\":+1}",
        "{\"fInt32\" 1}", "{\"rInt32\":[1,]}", "{\"fInt32\":tru}",
        "\xef\xbb\xbf{}"})
    EXPECT_NE(Err(bad), "OK") << bad;
  EXPECT_EQ(
      Err("{\"fInt32\":1,}"),
      "WEFT_ERR_JSON_SYNTAX: invalid JSON at offset 12: expected a string key");
  EXPECT_EQ(Err(" { } "), "OK");
}

TEST_F(Json, DepthLimit) {
  auto nested = [](int n) {
    std::string s = "{\"wValue\":";
    for (int i = 0; i < n; i++)
      s += "[";
    for (int i = 0; i < n; i++)
      s += "]";
    return s + "}";
  };
  EXPECT_EQ(Err(nested(90)), "OK");
  EXPECT_EQ(Err(nested(150)).substr(0, 15), "WEFT_ERR_DEPTH:");
  EXPECT_EQ(Err(nested(100000)).substr(0, 15), "WEFT_ERR_DEPTH:");
  // skipped unknown values are bounded too
  std::string deep = "{\"nope\":" + std::string(100000, '[') + "}";
  EXPECT_EQ(Err(deep, WEFT_JSON_IGNORE_UNKNOWN).substr(0, 15),
            "WEFT_ERR_DEPTH:");
  void *m = nullptr;
  weft_error err;
  weft_json_opts o = {};
  o.max_depth = 500;
  std::string in = nested(300);
  ASSERT_EQ(weft_json_decode(kAll, in.data(), in.size(), &o, &m, &err), 0);
  char *out = nullptr;
  size_t n = 0;
  EXPECT_EQ(weft_json_encode(m, nullptr, &out, &n, &err), WEFT_ERR_DEPTH);
  ASSERT_EQ(weft_json_encode(m, &o, &out, &n, &err), 0);
  EXPECT_EQ(std::string(out, n), in);
  free(out);
  weft_message_free(m);
}

TEST_F(Json, ArenaPathMatchesMallocPath) {
  const std::string in =
      R"({"fString":"x\u00e9","rBytes":["AA=="],"rMsg":[{"b":"q"}],"mInt64Msg":{"1":{"r":[1,2]}},"wAny":{"@type":"type.googleapis.com/weft.jsontest.Nested","a":3},"wStruct":{"a":{"b":[null]}},"wFieldMask":"aB.c","cString":"s"})";
  wjt::Result a = wjt::DecodeToBinary(kAll, in, 0, false);
  wjt::Result b = wjt::DecodeToBinary(kAll, in, 0, true);
  ASSERT_EQ(a.rv, 0) << a.text;
  ASSERT_EQ(b.rv, 0) << b.text;
  EXPECT_EQ(a.text, b.text);
  // errors halfway through leave nothing behind on either path (ASan checks)
  const std::string bad = in.substr(0, in.size() - 1) + ",\"fInt32\":\"x\"}";
  EXPECT_NE(wjt::DecodeToBinary(kAll, bad, 0, false).rv, 0);
  EXPECT_NE(wjt::DecodeToBinary(kAll, bad, 0, true).rv, 0);
}

TEST_F(Json, EncodeErrors) {
  // a Timestamp out of range cannot print
  void *m = nullptr;
  weft_error err;
  std::string in = R"({"wTimestamp":"9999-12-31T23:59:59Z"})";
  ASSERT_EQ(weft_json_decode(kAll, in.data(), in.size(), nullptr, &m, &err), 0);
  auto *at = static_cast<weft__jsontest__AllTypes *>(m);
  at->w_timestamp->seconds += 1;
  char *out = nullptr;
  EXPECT_EQ(weft_json_encode(m, nullptr, &out, nullptr, &err),
            WEFT_ERR_JSON_RANGE);
  EXPECT_STREQ(err.message,
               "wTimestamp: Timestamp is outside 0001-01-01..9999-12-31");
  weft_message_free(m);
}

// ---- registry --------------------------------------------------------------

TEST_F(Json, Registry) {
  weft_registry *g = weft_registry_global();
  EXPECT_NE(weft_registry_find_message(g, "google.protobuf.Timestamp"),
            nullptr);
  EXPECT_NE(weft_registry_find_message(g, "google.protobuf.Value"), nullptr);
  EXPECT_NE(weft_registry_find_enum(g, "google.protobuf.NullValue"), nullptr);
  EXPECT_EQ(weft_registry_find_message(g, "google.protobuf.Nope"), nullptr);
  weft_registry *r = nullptr;
  ASSERT_EQ(weft_registry_new(&r), 0);
  ASSERT_EQ(weft_registry_add_file(r, &json_1test3_proto), 0);
  ASSERT_EQ(weft_registry_add_file(r, &json_1test3_proto), 0); // idempotent
  EXPECT_EQ(weft_registry_find_message(r, "weft.jsontest.AllTypes"), kAll);
  // dependencies come along
  EXPECT_NE(weft_registry_find_message(r, "google.protobuf.Any"), nullptr);
  EXPECT_NE(weft_registry_find_enum(r, "weft.jsontest.Color"), nullptr);
  EXPECT_EQ(weft_registry_find_service(r, "weft.jsontest.Nope"), nullptr);
  int n = 0;
  weft_registry_each_service(
      r, [](const weft_service_desc *, void *ud) { ++*static_cast<int *>(ud); },
      &n);
  EXPECT_EQ(n, 0);
  weft_registry_free(r);
}

} // namespace
