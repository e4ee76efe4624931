// The REST router over generated rules (tests/unit/rest/protos): routing
// and precedence, request building from path + query + body, response
// rendering with response_body, errors, and rules rejected at add time.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <string>

#include "resttest/v1/rest.weft.h"
#include "weft/codec.h"
#include "weft/json.h"
#include "weft/rest.h"
#include "weft/status.h"
#include "weft/utf8.h"

namespace {

struct Router {
  weft_rest_router *r = nullptr;
  Router() {
    weft_error err{};
    EXPECT_EQ(weft_rest_router_new(&r, &err), 0);
    EXPECT_EQ(
        weft_rest_router_add_service(r, &resttest__v1__Books_service, &err), 0)
        << err.message;
  }
  ~Router() {
    weft_rest_router_free(r);
  }
};

struct Routed {
  weft_rest_match m{};
  weft_error err{};
  int rv;
  Routed(const Router &r, const char *verb, const char *path) {
    rv = weft_rest_route(r.r, verb, path, &m, &err);
  }
  ~Routed() {
    weft_rest_match_clear(&m);
  }
  std::string method() const {
    return m.method ? m.method->name : "-";
  }
};

TEST(Router, SizeCountsEveryBinding) {
  Router r;
  EXPECT_EQ(weft_rest_router_size(r.r), 12u);
}

TEST(Router, RoutesAndPrecedence) {
  Router r;
  {
    Routed x(r, "GET", "/v1/shelves/latest/books");
    ASSERT_EQ(x.rv, 0) << x.err.message;
    EXPECT_EQ(x.method(), "GetShelfLatest"); // the literal wins over {id}
  }
  {
    Routed x(r, "GET", "/v1/shelves/7/books");
    ASSERT_EQ(x.rv, 0) << x.err.message;
    EXPECT_EQ(x.method(), "ListBooks");
    ASSERT_EQ(x.m.n_vars, 1u);
    EXPECT_STREQ(x.m.vars[0].field, "id");
    EXPECT_STREQ(x.m.vars[0].value, "7");
    EXPECT_EQ(x.m.rule, &x.m.method->http_rules[0]);
  }
  {
    Routed x(r, "get", "/v1/books/"); // verb case, trailing '/'
    ASSERT_EQ(x.rv, 0) << x.err.message;
    EXPECT_EQ(x.method(), "ListBooks");
    EXPECT_EQ(x.m.rule, &x.m.method->http_rules[1]); // additional binding
  }
  {
    Routed x(r, "POST", "/v1/shelves/7/books");
    ASSERT_EQ(x.rv, 0);
    EXPECT_EQ(x.method(), "CreateBook");
  }
  {
    Routed x(r, "POST", "/v1/shelves/s1:move");
    ASSERT_EQ(x.rv, 0) << x.err.message;
    EXPECT_EQ(x.method(), "Move");
    EXPECT_STREQ(x.m.vars[0].value, "s1");
  }
  {
    Routed x(r, "HEAD", "/v1/anything/any"); // custom pattern
    ASSERT_EQ(x.rv, 0) << x.err.message;
    EXPECT_EQ(x.method(), "Anything");
  }
  {
    Routed x(r, "GET", "/v1/shelves/a%20b%2Fc/books");
    ASSERT_EQ(x.rv, 0) << x.err.message;
    EXPECT_STREQ(x.m.vars[0].value, "a b/c"); // one segment: all decoded
  }
  {
    Routed x(r, "GET", "/v1/files/a%2Fb/c%20d");
    ASSERT_EQ(x.rv, 0) << x.err.message;
    EXPECT_EQ(x.method(), "Files");
    EXPECT_STREQ(x.m.vars[0].value, "a%2Fb/c d"); // "**": %2F kept
  }
  {
    Routed x(r, "GET", "/v1/shelves/1/books/2");
    ASSERT_EQ(x.rv, 0) << x.err.message;
    EXPECT_EQ(x.method(), "GetBook");
    EXPECT_STREQ(x.m.vars[0].field, "name");
    EXPECT_STREQ(x.m.vars[0].value, "shelves/1/books/2");
  }
}

TEST(Router, NotFoundMethodNotAllowedBadPath) {
  Router r;
  {
    Routed x(r, "GET", "/v2/nothing");
    EXPECT_EQ(x.rv, WEFT_ERR_UNSUPPORTED);
    EXPECT_NE(strstr(x.err.message, "no such route"), nullptr);
    EXPECT_EQ(x.m.method, nullptr);
  }
  {
    Routed x(r, "DELETE", "/v1/books");
    EXPECT_EQ(x.rv, WEFT_ERR_STATE);
    EXPECT_NE(strstr(x.err.message, "not allowed"), nullptr);
  }
  {
    Routed x(r, "GET", "/v1/shelves/%zz/books");
    EXPECT_EQ(x.rv, WEFT_ERR_INVAL);
    EXPECT_NE(strstr(x.err.message, "path variable id"), nullptr)
        << x.err.message;
  }
  {
    Routed x(r, "GET", "no-slash");
    EXPECT_EQ(x.rv, WEFT_ERR_INVAL);
  }
}

struct Prepared {
  weft_rest_call c{};
  weft_error err{};
  int rv;
  resttest__v1__Req *req = nullptr;
  Prepared(const Router &r, const char *verb, const char *path,
           const char *query, const char *body = nullptr) {
    weft_rest_request q{};
    q.method = verb;
    q.path = path;
    q.query = query;
    q.body = body;
    q.body_len = body ? strlen(body) : 0;
    rv = weft_rest_prepare(r.r, &q, &c, &err);
    if (rv == 0) {
      void *m = nullptr;
      weft_error e{};
      EXPECT_EQ(weft_decode(c.method->input, c.request, c.request_len, nullptr,
                            &m, &e),
                0)
          << e.message;
      req = static_cast<resttest__v1__Req *>(m);
    }
  }
  ~Prepared() {
    weft_message_free(req);
    weft_rest_call_clear(&c);
  }
};

TEST(Request, QueryParametersOfEveryKind) {
  Router r;
  Prepared p(r, "GET", "/v1/shelves/7/books",
             "i32=-5&i64=9007199254740993&u32=7&u64=18446744073709551615"
             "&flag=true&dbl=1.5&flt=2.5&color=GREEN&tags=a&tags=b%20c"
             "&nums=1&nums=2&inner.name=n&inner.color=1&at=2026-01-01T00:00:"
             "00Z&ttl=1.5s&wrapped=3&pageToken=a+b%26c&blob=AQI%3D"
             "&shelf.inner.depth=4&id=ignored&&");
  ASSERT_EQ(p.rv, 0) << p.err.message;
  ASSERT_NE(p.req, nullptr);
  EXPECT_STREQ(p.req->id, "7"); // the path variable, not the query
  EXPECT_EQ(p.req->i32, -5);
  EXPECT_EQ(p.req->i64, 9007199254740993LL);
  EXPECT_EQ(p.req->u32, 7u);
  EXPECT_EQ(p.req->u64, 18446744073709551615ULL);
  EXPECT_TRUE(p.req->flag);
  EXPECT_EQ(p.req->dbl, 1.5);
  EXPECT_EQ(p.req->flt, 2.5f);
  EXPECT_EQ(p.req->color, resttest__v1__Color__GREEN);
  ASSERT_EQ(p.req->n_tags, 2u);
  EXPECT_STREQ(p.req->tags[0], "a");
  EXPECT_STREQ(p.req->tags[1], "b c");
  ASSERT_EQ(p.req->n_nums, 2u);
  EXPECT_EQ(p.req->nums[1], 2);
  ASSERT_NE(p.req->inner, nullptr);
  EXPECT_STREQ(p.req->inner->name, "n");
  EXPECT_EQ(p.req->inner->color, resttest__v1__Color__RED); // by number
  ASSERT_NE(p.req->at, nullptr);
  EXPECT_EQ(p.req->at->seconds, 1767225600);
  ASSERT_NE(p.req->ttl, nullptr);
  EXPECT_EQ(p.req->ttl->nanos, 500000000);
  ASSERT_NE(p.req->wrapped, nullptr);
  EXPECT_EQ(p.req->wrapped->value, 3);
  EXPECT_STREQ(p.req->page_token, "a b&c"); // JSON name, '+' and %26
  ASSERT_EQ(p.req->blob.len, 2u);
  EXPECT_EQ(p.req->blob.data[1], 2);
  ASSERT_NE(p.req->shelf, nullptr);
  ASSERT_NE(p.req->shelf->inner, nullptr);
  EXPECT_EQ(p.req->shelf->inner->depth, 4);
}

struct BadQuery {
  const char *query;
  const char *says;
};

TEST(Request, BadQueryParameterIs400NamingIt) {
  Router r;
  const BadQuery cases[] = {
      {"i32=abc", "query parameter i32: \"abc\" is not an int32"},
      {"i32=2147483648", "query parameter i32"},
      {"u32=-1", "query parameter u32: \"-1\" is not a uint32"},
      {"u64=18446744073709551616", "query parameter u64"},
      {"i64=1.5", "query parameter i64"},
      {"flag=yes", "query parameter flag: \"yes\" is not a boolean"},
      {"dbl=nan", "query parameter dbl"},
      {"dbl=0x10", "query parameter dbl"},
      {"flt=1e39", "query parameter flt"},
      {"color=BLUE", "query parameter color: \"BLUE\" is not a value of "
                     "resttest.v1.Color"},
      {"nope=1", "query parameter nope: resttest.v1.Req has no field nope"},
      {"inner.nope=1", "query parameter inner.nope: resttest.v1.Inner has no "
                       "field nope"},
      {"name.x=1", "query parameter name.x: name is not a singular message"},
      {"inners.name=1", "query parameter inners.name: inners is not a"},
      {"inner=1", "query parameter inner: a message or map field"},
      {"labels=1", "query parameter labels: a message or map field"},
      {"i32=1&i32=2", "query parameter i32: given more than once"},
      {"at=yesterday", "parameters: "},
      {"a%zz=1", "query parameter a%zz: bad percent-escape"},
  };
  for (const BadQuery &b : cases) {
    Prepared p(r, "GET", "/v1/shelves/7/books", b.query);
    EXPECT_EQ(p.rv, WEFT_ERR_INVAL) << b.query;
    EXPECT_EQ(p.c.http_status, 400) << b.query;
    EXPECT_EQ(p.c.code, WEFT_STATUS_INVALID_ARGUMENT) << b.query;
    EXPECT_NE(strstr(p.err.message, b.says), nullptr)
        << b.query << ": " << p.err.message;
    EXPECT_EQ(p.c.request, nullptr);
  }
}

// strtoll/strtoull alone skip leading whitespace and take a sign after it:
// "u64= -1" (%20-1) became 18446744073709551615. An integer parameter is
// what the proto3 JSON decoder takes quoted: an optional '+' (or '-' for a
// signed type), then digits, nothing else.
TEST(Request, IntegerParametersAreStrict) {
  Router r;
  const char *fields[] = {"i32",  "i64",     "u32",        "u64",  "s32",
                          "s64",  "f32",     "f64",        "sf32", "sf64",
                          "nums", "wrapped", "inner.depth"};
  const char *bad[] = {"%201",    "1%20", "%09%2B1", "%2B-1", "-%2B1",
                       "%2B%2B1", "--1",  "%2B",     "-",     "1%0A",
                       "0x10",    "1e3",  "%201%20"};
  for (const char *f : fields)
    for (const char *v : bad) {
      std::string q = std::string(f) + "=" + v;
      Prepared p(r, "GET", "/v1/shelves/7/books", q.c_str());
      EXPECT_EQ(p.rv, WEFT_ERR_INVAL) << q;
      EXPECT_EQ(p.c.http_status, 400) << q;
      std::string want = std::string("query parameter ") + f + ": \"";
      EXPECT_EQ(std::string(p.err.message).rfind(want, 0), 0u)
          << q << ": " << p.err.message;
    }
  const char *unsigned_fields[] = {"u32", "u64", "f32", "f64"};
  for (const char *f : unsigned_fields)
    for (const char *v : {"-1", "%20-1", "-0", "-18446744073709551615"}) {
      std::string q = std::string(f) + "=" + v;
      Prepared p(r, "GET", "/v1/shelves/7/books", q.c_str());
      EXPECT_EQ(p.rv, WEFT_ERR_INVAL) << q;
      EXPECT_NE(strstr(p.err.message, "is not a"), nullptr)
          << q << ": " << p.err.message;
    }
  {
    Prepared p(r, "GET", "/v1/shelves/7/books", "u64=%20-1");
    EXPECT_STREQ(p.err.message, "query parameter u64: \" -1\" is not a uint64");
  }
  {
    Prepared p(r, "GET", "/v1/shelves/7/books", "f32=4294967296");
    EXPECT_STREQ(p.err.message,
                 "query parameter f32: \"4294967296\" is out of range for "
                 "fixed32");
  }
  // What the JSON decoder takes quoted ("+5" too: %2B, '+' is a space).
  Prepared ok(r, "GET", "/v1/shelves/7/books",
              "i32=%2B5&i64=-9223372036854775808&u32=%2B4294967295"
              "&u64=%2B18446744073709551615&s32=-2147483648"
              "&s64=9223372036854775807&f32=0&f64=18446744073709551615"
              "&sf32=-1&sf64=%2B1&nums=-0&wrapped=-7&inner.depth=%2B3"
              "&color=%2B2");
  ASSERT_EQ(ok.rv, 0) << ok.err.message;
  EXPECT_EQ(ok.req->i32, 5);
  EXPECT_EQ(ok.req->i64, INT64_MIN);
  EXPECT_EQ(ok.req->u32, 4294967295u);
  EXPECT_EQ(ok.req->u64, UINT64_MAX);
  EXPECT_EQ(ok.req->s32, INT32_MIN);
  EXPECT_EQ(ok.req->s64, INT64_MAX);
  EXPECT_EQ(ok.req->f64, UINT64_MAX);
  EXPECT_EQ(ok.req->sf32, -1);
  EXPECT_EQ(ok.req->sf64, 1);
  ASSERT_EQ(ok.req->n_nums, 1u);
  EXPECT_EQ(ok.req->nums[0], 0);
  ASSERT_NE(ok.req->wrapped, nullptr);
  EXPECT_EQ(ok.req->wrapped->value, -7);
  EXPECT_EQ(ok.req->inner->depth, 3);
  EXPECT_EQ(ok.req->color, resttest__v1__Color__GREEN);
  // An enum by number is an integer too.
  Prepared en(r, "GET", "/v1/shelves/7/books", "color=%201");
  EXPECT_EQ(en.rv, WEFT_ERR_INVAL);
  EXPECT_NE(strstr(en.err.message, "query parameter color: \" 1\" is not a "
                                   "value of resttest.v1.Color"),
            nullptr)
      << en.err.message;
  // The decoder agrees: a quoted "+5" is 5, a quoted " 5" or "-1" for an
  // unsigned field is refused.
  for (const char *js : {R"({"u64":"+5"})", R"({"i32":"+5"})"}) {
    void *m = nullptr;
    weft_error e{};
    EXPECT_EQ(weft_json_decode(&resttest__v1__Req_desc, js, strlen(js), nullptr,
                               &m, &e),
              0)
        << js << ": " << e.message;
    weft_message_free(m);
  }
  for (const char *js : {R"({"u64":" 5"})", R"({"u64":"-1"})",
                         R"({"u64":"+-1"})", R"({"i32":"5 "})"}) {
    void *m = nullptr;
    weft_error e{};
    EXPECT_LT(weft_json_decode(&resttest__v1__Req_desc, js, strlen(js), nullptr,
                               &m, &e),
              0)
        << js;
    weft_message_free(m);
  }
}

// FLT_MAX as Go and Java print it, 3.4028235e38, is a little above the
// exact FLT_MAX but rounds to it: a float, as the JSON decoder takes it.
// The bound is where float rounding overflows (halfway to 2^128).
TEST(Request, FloatRangeIsWhatRoundsToAFiniteFloat) {
  Router r;
  for (const char *v : {"3.4028235e38", "-3.4028235e38", "3.4028235677973e38",
                        "340282350000000000000000000000000000000"}) {
    std::string q = std::string("flt=") + v;
    Prepared p(r, "GET", "/v1/shelves/7/books", q.c_str());
    ASSERT_EQ(p.rv, 0) << q << ": " << p.err.message;
    EXPECT_EQ(std::fabs(p.req->flt), FLT_MAX) << q;
    // The JSON decoder says the same of the same text.
    std::string js = std::string(R"({"flt":)") + v + "}";
    void *m = nullptr;
    weft_error e{};
    EXPECT_EQ(weft_json_decode(&resttest__v1__Req_desc, js.data(), js.size(),
                               nullptr, &m, &e),
              0)
        << js << ": " << e.message;
    weft_message_free(m);
  }
  for (const char *v : {"3.4028235677974e38", "-3.5e38", "1e39"}) {
    std::string q = std::string("flt=") + v;
    Prepared p(r, "GET", "/v1/shelves/7/books", q.c_str());
    EXPECT_EQ(p.rv, WEFT_ERR_INVAL) << q;
    EXPECT_EQ(std::string(p.err.message),
              std::string("query parameter flt: \"") + v +
                  "\" is out of range for float");
    std::string js = std::string(R"({"flt":)") + v + "}";
    void *m = nullptr;
    weft_error e{};
    EXPECT_LT(weft_json_decode(&resttest__v1__Req_desc, js.data(), js.size(),
                               nullptr, &m, &e),
              0)
        << js;
    EXPECT_NE(strstr(e.message, "out of range for float"), nullptr)
        << e.message;
    weft_message_free(m);
  }
  Prepared d(r, "GET", "/v1/shelves/7/books", "dbl=1e309");
  EXPECT_EQ(d.rv, WEFT_ERR_INVAL);
  EXPECT_STREQ(d.err.message,
               "query parameter dbl: \"1e309\" is out of range for double");
}

// Invalid UTF-8 in a parameter is refused naming it (it was "parameters:
// invalid UTF-8 at offset 9", an offset into JSON the client never saw),
// and a value quoted in a message is cut at a character boundary: the
// message goes into a JSON error body.
TEST(Request, Utf8ErrorsNameTheParameter) {
  Router r;
  struct Case {
    const char *path, *query, *says;
  };
  const Case cases[] = {
      {"/v1/shelves/7/books", "name=%FF",
       "query parameter name: invalid UTF-8"},
      {"/v1/shelves/7/books", "tags=a&tags=b%C3",
       "query parameter tags: invalid UTF-8"},
      {"/v1/shelves/7/books", "inner.name=%ED%A0%80",
       "query parameter inner.name: invalid UTF-8"},
      {"/v1/shelves/7/books", "i32=%C0%80",
       "query parameter i32: invalid UTF-8"},
      {"/v1/shelves/7/books", "%FF=1",
       "query parameter %FF: invalid UTF-8 in the name"},
      {"/v1/shelves/%FF/books", nullptr, "path variable id: invalid UTF-8"},
  };
  for (const Case &c : cases) {
    Prepared p(r, "GET", c.path, c.query);
    EXPECT_EQ(p.rv, WEFT_ERR_INVAL) << c.path << "?" << c.query;
    EXPECT_EQ(p.c.http_status, 400);
    EXPECT_STREQ(p.err.message, c.says);
  }
  // 1 + 40 two-byte characters: 64 bytes would end inside the 32nd.
  std::string v = "a";
  for (int i = 0; i < 40; i++)
    v += "%C3%A9";
  std::string shown = "a";
  for (int i = 0; i < 31; i++)
    shown += "\xC3\xA9";
  shown += "...";
  const char *fields[][2] = {{"i32", "is not an int32"},
                             {"u64", "is not a uint64"},
                             {"flag", "is not a boolean"},
                             {"flt", "is not a float"},
                             {"color", "is not a value of"}};
  for (const auto &f : fields) {
    std::string q = std::string(f[0]) + "=" + v;
    Prepared p(r, "GET", "/v1/shelves/7/books", q.c_str());
    EXPECT_EQ(p.rv, WEFT_ERR_INVAL) << q;
    EXPECT_TRUE(weft_utf8_valid(p.err.message, strlen(p.err.message)))
        << p.err.message;
    std::string want =
        std::string("query parameter ") + f[0] + ": \"" + shown + "\" " + f[1];
    EXPECT_EQ(std::string(p.err.message).rfind(want, 0), 0u) << p.err.message;
  }
  // A bad escape quotes the raw name: raw bytes that are not UTF-8 become
  // '?'.
  {
    Prepared p(r, "GET", "/v1/shelves/7/books", "a\xff%zz=1");
    EXPECT_EQ(p.rv, WEFT_ERR_INVAL);
    EXPECT_STREQ(p.err.message, "query parameter a?%zz: bad percent-escape");
  }
  // A message longer than weft_error holds is cut by it at a byte; the
  // character that cut leaves half of goes.
  std::string name;
  for (int i = 0; i < 150; i++)
    name += "%C3%A9";
  std::string q = name + "=1";
  Prepared p(r, "GET", "/v1/shelves/7/books", q.c_str());
  EXPECT_EQ(p.rv, WEFT_ERR_INVAL);
  EXPECT_EQ(std::string(p.err.message).rfind("query parameter \xC3\xA9", 0),
            0u);
  EXPECT_TRUE(weft_utf8_valid(p.err.message, strlen(p.err.message)))
      << p.err.message;
  char *json = nullptr;
  size_t n = 0;
  ASSERT_EQ(weft_rest_render_error(p.c.code, p.err.message, &json, &n), 0);
  EXPECT_TRUE(weft_utf8_valid(json, n));
  free(json);
}

TEST(Request, NestedPathVariables) {
  Router r;
  Prepared p(r, "GET", "/v1/inner/nm/12", "inner.color=RED");
  ASSERT_EQ(p.rv, 0) << p.err.message;
  ASSERT_NE(p.req->inner, nullptr);
  EXPECT_STREQ(p.req->inner->name, "nm");
  EXPECT_EQ(p.req->inner->depth, 12);
  EXPECT_EQ(p.req->inner->color, resttest__v1__Color__RED);
  Prepared bad(r, "GET", "/v1/inner/nm/x", nullptr);
  EXPECT_EQ(bad.rv, WEFT_ERR_INVAL);
  EXPECT_NE(strstr(bad.err.message,
                   "path variable inner.depth: \"x\" is not an int32"),
            nullptr)
      << bad.err.message;
}

TEST(Request, BodyStarIsTheMessagePathWins) {
  Router r;
  Prepared p(r, "POST", "/v1/shelves/7/books", "nope=1",
             "{\"name\":\"b\",\"id\":\"other\",\"i64\":9007199254740993,"
             "\"unknownKey\":[1,{}],\"tags\":[\"x\"]}\n");
  ASSERT_EQ(p.rv, 0) << p.err.message;
  EXPECT_STREQ(p.req->id, "7");
  EXPECT_STREQ(p.req->name, "b");
  EXPECT_EQ(p.req->i64, 9007199254740993LL); // not re-printed as a double
  ASSERT_EQ(p.req->n_tags, 1u);
  Prepared empty(r, "POST", "/v1/shelves/7/books", nullptr, "");
  ASSERT_EQ(empty.rv, 0) << empty.err.message;
  EXPECT_STREQ(empty.req->id, "7");
  Prepared bad(r, "POST", "/v1/shelves/7/books", nullptr, "{\"i32\":\"x\"");
  EXPECT_EQ(bad.rv, WEFT_ERR_INVAL);
  EXPECT_EQ(bad.c.http_status, 400);
  EXPECT_EQ(strncmp(bad.err.message, "body: ", 6), 0) << bad.err.message;
}

TEST(Request, BodyFieldPlusQuery) {
  Router r;
  Prepared p(r, "PATCH", "/v1/shelves/7", "i32=4&shelf.name=ignored",
             "{\"name\":\"s\",\"inner\":{\"depth\":3}}");
  ASSERT_EQ(p.rv, 0) << p.err.message;
  EXPECT_STREQ(p.req->id, "7");
  EXPECT_EQ(p.req->i32, 4);
  ASSERT_NE(p.req->shelf, nullptr);
  EXPECT_STREQ(p.req->shelf->name, "s");
  ASSERT_NE(p.req->shelf->inner, nullptr);
  EXPECT_EQ(p.req->shelf->inner->depth, 3);
}

// google.api.http: the body maps to the body field only. It was pasted
// raw into {"field":<body>}, so a body closing the value early set other
// fields of the request: {"name":"s"},"i32":9 set i32.
TEST(Request, BodyFieldIsOneJsonValue) {
  Router r;
  struct Case {
    const char *verb, *path, *body, *says;
  };
  const Case bad[] = {
      {"PATCH", "/v1/shelves/7", R"({"name":"s"},"i32":9)",
       "body: invalid JSON at offset 12: trailing characters after the "
       "value"},
      {"PATCH", "/v1/shelves/7", R"( {"name":"s"} {"name":"t"})",
       "body: invalid JSON at offset 14: trailing characters"},
      {"PATCH", "/v1/shelves/7", R"({"name":"s"}})",
       "body: invalid JSON at offset 12: trailing characters"},
      {"PATCH", "/v1/shelves/7", R"({"name":"s")",
       "body: invalid JSON at offset 11: unexpected end"},
      {"PATCH", "/v1/shelves/7", R"({"name":"s})",
       "body: invalid JSON at offset 9: unterminated string"},
      {"PATCH", "/v1/shelves/7", R"(}{"i32":9)",
       "body: invalid JSON at offset 0: "},
      {"POST", "/v1/shelves/7:rename", R"("x","i32":9)",
       "body: invalid JSON at offset 3: trailing characters"},
      {"POST", "/v1/shelves/7:rename", R"(null,"i32":9)",
       "body: invalid JSON at offset 4: trailing characters"},
      {"POST", "/v1/shelves/7:rename", ",\"i32\":9",
       "body: invalid JSON at offset 0: "},
      {"POST", "/v1/shelves/7:tag", R"(["a"],"i32":9)",
       "body: invalid JSON at offset 5: trailing characters"},
      {"POST", "/v1/shelves/7:tag", R"(["a"]])",
       "body: invalid JSON at offset 5: trailing characters"},
  };
  for (const Case &c : bad) {
    Prepared p(r, c.verb, c.path, nullptr, c.body);
    EXPECT_EQ(p.rv, WEFT_ERR_INVAL) << c.body;
    EXPECT_EQ(p.c.http_status, 400) << c.body;
    EXPECT_EQ(p.c.request, nullptr) << c.body;
    EXPECT_EQ(std::string(p.err.message).rfind(c.says, 0), 0u)
        << c.body << ": " << p.err.message;
  }
  // The decoder's own errors inside the value: offsets into the client's
  // body, not into the {"shelf":...} it is wrapped in.
  {
    Prepared p(r, "PATCH", "/v1/shelves/7", nullptr, R"({"name":"s",})");
    EXPECT_EQ(p.rv, WEFT_ERR_INVAL);
    EXPECT_EQ(
        std::string(p.err.message).rfind("body: invalid JSON at offset 12", 0),
        0u)
        << p.err.message;
  }
  {
    Prepared p(r, "PATCH", "/v1/shelves/7", nullptr, "{\"name\":\"\xff\"}");
    EXPECT_EQ(p.rv, WEFT_ERR_INVAL);
    EXPECT_STREQ(p.err.message, "body: invalid UTF-8 at offset 9");
  }
  {
    Prepared p(r, "PATCH", "/v1/shelves/7", nullptr,
               R"({"inner":{"depth":"x"}})");
    EXPECT_EQ(p.rv, WEFT_ERR_INVAL);
    EXPECT_NE(strstr(p.err.message, "shelf.inner.depth"), nullptr)
        << p.err.message;
  }
  // One value with whitespace around it; strings may hold brackets,
  // commas and escaped quotes.
  {
    Prepared p(r, "PATCH", "/v1/shelves/7", nullptr,
               " \r\n{\"name\":\"a\\\"}],\\\"i32\\\":9 {[\"} \t\n");
    ASSERT_EQ(p.rv, 0) << p.err.message;
    ASSERT_NE(p.req->shelf, nullptr);
    EXPECT_STREQ(p.req->shelf->name, "a\"}],\"i32\":9 {[");
    EXPECT_EQ(p.req->i32, 0);
  }
  {
    Prepared p(r, "POST", "/v1/shelves/7:rename", "i32=2", "\"x,y\"");
    ASSERT_EQ(p.rv, 0) << p.err.message;
    EXPECT_STREQ(p.req->name, "x,y");
    EXPECT_EQ(p.req->i32, 2);
  }
  {
    Prepared p(r, "POST", "/v1/shelves/7:rename", nullptr, "null");
    ASSERT_EQ(p.rv, 0) << p.err.message;
    EXPECT_STREQ(p.req->name, "");
  }
  {
    Prepared p(r, "POST", "/v1/shelves/7:tag", nullptr, R"([ "a" , "b" ])");
    ASSERT_EQ(p.rv, 0) << p.err.message;
    ASSERT_EQ(p.req->n_tags, 2u);
    EXPECT_STREQ(p.req->tags[1], "b");
  }
}

TEST(Request, RouteErrorsCarryStatus) {
  Router r;
  Prepared nf(r, "GET", "/nothing", nullptr);
  EXPECT_EQ(nf.rv, WEFT_ERR_UNSUPPORTED);
  EXPECT_EQ(nf.c.http_status, 404);
  EXPECT_EQ(nf.c.code, WEFT_STATUS_NOT_FOUND);
  Prepared na(r, "PUT", "/v1/books", nullptr);
  EXPECT_EQ(na.rv, WEFT_ERR_STATE);
  EXPECT_EQ(na.c.http_status, 405);
  EXPECT_EQ(na.c.code, WEFT_STATUS_UNIMPLEMENTED);
}

std::string Render(const weft_rest_call &c, const void *msg, unsigned flags) {
  char *out = nullptr;
  size_t n = 0;
  weft_error err{};
  EXPECT_EQ(weft_rest_render_response(&c, msg, flags, &out, &n, &err), 0)
      << err.message;
  std::string s = out ? std::string(out, n) : "";
  free(out);
  return s;
}

TEST(Response, WholeMessageOrResponseBody) {
  Router r;
  resttest__v1__Inner a = resttest__v1__Inner_INIT,
                      b = resttest__v1__Inner_INIT;
  a.name = (char *)"x\"y";
  b.depth = 2;
  resttest__v1__Inner *items[] = {&a, &b};
  resttest__v1__Resp resp = resttest__v1__Resp_INIT;
  resp.name = (char *)"n";
  resp.n_items = 2;
  resp.items = items;
  resp.total = 5;
  Prepared list(r, "GET", "/v1/books", nullptr);
  ASSERT_EQ(list.rv, 0);
  EXPECT_EQ(
      Render(list.c, &resp, WEFT_JSON_PROTO_NAMES),
      "[{\"name\":\"x\\\"y\",\"depth\":0,\"color\":\"COLOR_UNSPECIFIED\"},"
      "{\"name\":\"\",\"depth\":2,\"color\":\"COLOR_UNSPECIFIED\"}]");
  resp.n_items = 0;
  EXPECT_EQ(Render(list.c, &resp, 0), "[]");
  Prepared patch(r, "PATCH", "/v1/shelves/1", nullptr);
  ASSERT_EQ(patch.rv, 0);
  EXPECT_EQ(Render(patch.c, &resp, 0), "{}"); // unset message field
  resp.first = &b;
  EXPECT_EQ(Render(patch.c, &resp, 0),
            "{\"name\":\"\",\"depth\":2,\"color\":\"COLOR_UNSPECIFIED\"}");
  resp.first = nullptr;
  Prepared get(r, "GET", "/v1/shelves/1/books/2", nullptr);
  ASSERT_EQ(get.rv, 0);
  EXPECT_EQ(Render(get.c, &resp, 0), "{\"name\":\"n\",\"total\":\"5\"}");
}

// Server-streaming routes: one JSON object per line, grpc-gateway's shape.
TEST(Response, StreamLines) {
  Router r;
  resttest__v1__Resp resp = resttest__v1__Resp_INIT;
  resp.name = (char *)"a\nb";
  resp.total = 7;
  Prepared get(r, "GET", "/v1/shelves/1/books/2", nullptr);
  ASSERT_EQ(get.rv, 0);
  char *out = nullptr;
  size_t n = 0;
  weft_error err{};
  ASSERT_EQ(weft_rest_render_stream_result(&get.c, &resp, 0, &out, &n, &err), 0)
      << err.message;
  EXPECT_STREQ(out, "{\"result\":{\"name\":\"a\\nb\",\"total\":\"7\"}}\n");
  EXPECT_EQ(n, strlen(out));
  free(out);
  // With response_body, the result is that field.
  resttest__v1__Inner a = resttest__v1__Inner_INIT;
  a.depth = 1;
  resttest__v1__Inner *items[] = {&a};
  resp.n_items = 1;
  resp.items = items;
  Prepared list(r, "GET", "/v1/books", nullptr);
  ASSERT_EQ(list.rv, 0);
  ASSERT_EQ(weft_rest_render_stream_result(&list.c, &resp, 0, &out, &n, &err),
            0);
  EXPECT_STREQ(out, "{\"result\":[{\"name\":\"\",\"depth\":1,\"color\":"
                    "\"COLOR_UNSPECIFIED\"}]}\n");
  free(out);
  ASSERT_EQ(
      weft_rest_render_stream_error(WEFT_STATUS_ABORTED, "x \"y\"\n", &out, &n),
      0);
  EXPECT_STREQ(out,
               "{\"error\":{\"code\":10,\"message\":\"x \\\"y\\\"\\u000a\","
               "\"details\":[]}}\n");
  EXPECT_EQ(n, strlen(out));
  free(out);
}

TEST(Response, ErrorsAndStatusMapping) {
  char *out = nullptr;
  size_t n = 0;
  ASSERT_EQ(
      weft_rest_render_error(WEFT_STATUS_NOT_FOUND, "no job \"x\"\n", &out, &n),
      0);
  EXPECT_STREQ(out, "{\"error\":\"no job \\\"x\\\"\\u000a\",\"code\":5,"
                    "\"message\":\"no job \\\"x\\\"\\u000a\"}");
  EXPECT_EQ(n, strlen(out));
  free(out);
  struct {
    int code, http;
  } m[] = {{WEFT_STATUS_OK, 200},
           {WEFT_STATUS_CANCELLED, 499},
           {WEFT_STATUS_UNKNOWN, 500},
           {WEFT_STATUS_INVALID_ARGUMENT, 400},
           {WEFT_STATUS_DEADLINE_EXCEEDED, 504},
           {WEFT_STATUS_NOT_FOUND, 404},
           {WEFT_STATUS_ALREADY_EXISTS, 409},
           {WEFT_STATUS_PERMISSION_DENIED, 403},
           {WEFT_STATUS_RESOURCE_EXHAUSTED, 429},
           {WEFT_STATUS_FAILED_PRECONDITION, 400},
           {WEFT_STATUS_ABORTED, 409},
           {WEFT_STATUS_OUT_OF_RANGE, 400},
           {WEFT_STATUS_UNIMPLEMENTED, 501},
           {WEFT_STATUS_INTERNAL, 500},
           {WEFT_STATUS_UNAVAILABLE, 503},
           {WEFT_STATUS_DATA_LOSS, 500},
           {WEFT_STATUS_UNAUTHENTICATED, 401}};
  for (auto &x : m)
    EXPECT_EQ(weft_rest_http_status(x.code), x.http) << x.code;
}

// A service whose rules are wrong in each way add_service checks.
TEST(Router, BadRulesRejectedNamingMethodAndRule) {
  struct Case {
    weft_http_rule rule;
    const char *says;
  } cases[] = {
      {{"GET", "/v1/{nope}", nullptr, nullptr},
       "resttest.v1.Books/GetBook: http rule 0 \"/v1/{nope}\": variable nope: "
       "resttest.v1.Req has no field nope"},
      {{"GET", "/v1/{inner}", nullptr, nullptr}, "variable inner must be"},
      {{"GET", "/v1/{tags}", nullptr, nullptr}, "variable tags must be"},
      {{"GET", "/v1/{id", nullptr, nullptr}, "offset 4: unterminated"},
      {{"POST", "/v1/x", "nope", nullptr},
       "body \"nope\" is not a field of resttest.v1.Req"},
      {{"GET", "/v1/x", nullptr, "nope"},
       "response_body \"nope\" is not a field of resttest.v1.Resp"},
      {{"", "/v1/x", nullptr, nullptr}, "no verb or path"},
  };
  for (auto &c : cases) {
    weft_method_desc m = resttest__v1__Books_service.methods[0];
    m.n_http_rules = 1;
    m.http_rules = &c.rule;
    weft_service_desc s = resttest__v1__Books_service;
    s.n_methods = 1;
    s.methods = &m;
    weft_rest_router *r = nullptr;
    weft_error err{};
    ASSERT_EQ(weft_rest_router_new(&r, &err), 0);
    EXPECT_EQ(weft_rest_router_add_service(r, &s, &err), WEFT_ERR_INVAL);
    EXPECT_NE(strstr(err.message, c.says), nullptr) << err.message;
    EXPECT_EQ(weft_rest_router_size(r), 0u);
    weft_rest_router_free(r);
  }
}

TEST(Router, MethodsWithoutRulesHaveNone) {
  const weft_method_desc *m =
      weft_service_method(&resttest__v1__Books_service, "NoRoute");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->n_http_rules, 0u);
  EXPECT_EQ(m->http_rules, nullptr);
  const weft_method_desc *u =
      weft_service_method(&resttest__v1__Books_service, "UpdateShelf");
  ASSERT_EQ(u->n_http_rules, 1u);
  EXPECT_STREQ(u->http_rules[0].verb, "PATCH");
  EXPECT_STREQ(u->http_rules[0].body, "shelf");
  EXPECT_STREQ(u->http_rules[0].response_body, "first");
}

} // namespace
