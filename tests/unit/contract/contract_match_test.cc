// weft_contract_parse and weft_contract_match on the Echo service's
// compiled-in descriptors: what is compared, what a matcher does, and the
// exact difference texts, with no server involved.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "aitbc/v1/marketplace.weft.h"
#include "echo.weft.h"
#include "weft/codec.h"
#include "weft/contract.h"
#include "weft/status.h"

namespace {

class ContractMatch : public ::testing::Test {
protected:
  weft_registry *reg = nullptr;
  weft_contract *c = nullptr;
  std::vector<void *> msgs;
  weft_contract_report rep{};

  void SetUp() override {
    ASSERT_EQ(weft_registry_new(&reg), 0);
    ASSERT_EQ(weft_registry_add_file(reg, &echo_proto), 0);
    ASSERT_EQ(weft_registry_add_file(reg, &aitbc__v1__marketplace_proto), 0);
  }
  void TearDown() override {
    weft_contract_report_clear(&rep);
    for (void *m : msgs)
      weft_message_free(m);
    weft_contract_free(c);
    weft_registry_free(reg);
  }
  // Parses one interaction; returns the error text ("" on success).
  std::string Parse(const std::string &inter) {
    std::string json = R"({"interactions":[)" + inter + "]}";
    weft_contract_opts o{};
    o.fallback = reg;
    weft_error err{};
    weft_contract_free(c);
    c = nullptr;
    if (weft_contract_parse(&c, json.data(), json.size(), &o, &err) < 0)
      return err.message;
    return "";
  }
  void Answer(const char *json,
              const weft_msg_desc *d = &weft__test__EchoResponse_desc) {
    void *m = nullptr;
    weft_error err{};
    ASSERT_EQ(weft_json_decode(d, json, strlen(json), nullptr, &m, &err), 0)
        << err.message;
    msgs.push_back(m);
  }
  // Matches the answers so far with status code; returns the diffs, one
  // "path: message" a line.
  std::string Match(int code = WEFT_STATUS_OK, const char *message = nullptr) {
    weft_status st{};
    st.code = code;
    st.message = const_cast<char *>(message);
    weft_metadata md = WEFT_METADATA_INIT;
    weft_contract_outcome o = {msgs.data(), msgs.size(), &st, &md};
    weft_contract_report_clear(&rep);
    EXPECT_EQ(weft_contract_match(c, 0, &o, &rep), 0);
    std::string out;
    for (size_t i = 0; i < rep.results[0].n_diffs; i++)
      out += std::string(rep.results[0].diffs[i].path) + ": " +
             rep.results[0].diffs[i].message + "\n";
    EXPECT_EQ(rep.results[0].passed, out.empty());
    return out;
  }
};

TEST_F(ContractMatch, ExampleIsASubsetAndDefaultsAreChecked) {
  ASSERT_EQ(Parse(R"({"method":"weft.test.Echo/Unary",)"
                  R"("response":{"text":"a","index":0}})"),
            "");
  Answer(R"({"text":"a","payload":"AQI="})");
  EXPECT_EQ(Match(), ""); // payload not named: any value
  for (void *m : msgs)
    weft_message_free(m);
  msgs.clear();
  Answer(R"({"text":"b","index":3})");
  EXPECT_EQ(Match(), "responses[0].text: expected \"a\", got \"b\"\n"
                     "responses[0].index: expected 0, got 3\n");
}

TEST_F(ContractMatch, StatusIsComparedAndMessagesOnlyIfSent) {
  ASSERT_EQ(Parse(R"({"method":"weft.test.Echo/Unary","response":{}})"), "");
  EXPECT_EQ(Match(WEFT_STATUS_NOT_FOUND, "gone"),
            "status.code: expected OK, got NOT_FOUND: gone\n");
  ASSERT_EQ(Parse(R"({"method":"weft.test.Echo/Unary",)"
                  R"("status":{"code":5,"messageMatches":"^no job"}})"),
            "");
  EXPECT_EQ(Match(WEFT_STATUS_NOT_FOUND, "no job j-1"), "");
  EXPECT_EQ(Match(WEFT_STATUS_NOT_FOUND, "busy"),
            "status.message: \"busy\" does not match the pattern\n");
}

// An example's numbers are compared as written: cJSON alone reprinted
// 0.30000000000000004 as 0.3 before decoding it, so the provider's exact
// answer was reported as a difference (and 0.3 passed).
TEST_F(ContractMatch, ExampleNumbersAreReadAsWritten) {
  ASSERT_EQ(Parse(R"({"method":"aitbc.v1.Marketplace/GetOffer",)"
                  R"("response":{"pricePerHour":0.30000000000000004}})"),
            "");
  Answer(R"({"pricePerHour":0.30000000000000004})", &aitbc__v1__Offer_desc);
  EXPECT_EQ(Match(), "");
  for (void *m : msgs)
    weft_message_free(m);
  msgs.clear();
  Answer(R"({"pricePerHour":0.3})", &aitbc__v1__Offer_desc);
  EXPECT_EQ(Match(), "responses[0].pricePerHour: expected "
                     "0.30000000000000004, got 0.3\n");
}

TEST_F(ContractMatch, ResponseOnAStreamIsEachLikeAtLeastOne) {
  ASSERT_EQ(
      Parse(R"({"method":"weft.test.Echo/ServerStream",)"
            R"("response":{"text":"s"},)"
            R"("matchers":{"response.index":{"match":"range","max":1}}})"),
      "");
  EXPECT_EQ(Match(), "responses: expected at least 1 element, got 0\n");
  Answer(R"({"text":"s","index":0})");
  Answer(R"({"text":"s","index":1})");
  EXPECT_EQ(Match(), "");
  Answer(R"({"text":"t","index":2})");
  EXPECT_EQ(Match(), "responses[2].text: expected \"s\", got \"t\"\n"
                     "responses[2].index: expected a number in [-inf, 1], "
                     "got 2\n");
}

TEST_F(ContractMatch, ExactCountAndTypeMatcher) {
  ASSERT_EQ(Parse(R"({"method":"weft.test.Echo/Bidi","requests":[{},{}],)"
                  R"("responses":[{"text":"x"},{"text":"y"}],)"
                  R"("matchers":{"responses[1].text":{"match":"type"}}})"),
            "");
  Answer(R"({"text":"x"})");
  EXPECT_EQ(Match(), "responses: expected 2 messages, got 1\n"
                     "responses[1]: expected to be present, got nothing\n");
  Answer(R"({"text":"anything"})");
  EXPECT_EQ(Match(), "");
}

TEST_F(ContractMatch, ErrorsNameTheInteractionAndPath) {
  EXPECT_EQ(Parse(R"({"name":"j","method":"weft.test.Echo/Unary",)"
                  R"("matchers":{"response.txt":{"match":"type"}}})"),
            "interactions[0] \"j\": matchers: response.txt: no such field "
            "in weft.test.EchoResponse");
  EXPECT_EQ(Parse(R"({"method":"weft.test.Echo/Unary","given":[1]})"),
            "interactions[0] \"#0\": given[0]: a string (a provider state)");
  EXPECT_EQ(Parse(R"({"method":"weft.test.Echo/Unary","responses":[{},{}]})"),
            "interactions[0] \"#0\": responses: /weft.test.Echo/Unary "
            "answers with one message");
  EXPECT_EQ(Parse(R"({"method":"weft.test.Echo/Unary","take":2})"),
            "interactions[0] \"#0\": take: a count of responses (1 to "
            "1000000) of a server-streaming or bidi method");
  EXPECT_EQ(Parse(R"({"method":"weft.test.Echo/Unary","bogus":1})"),
            "interactions[0] \"#0\": unknown key \"bogus\"");
}

TEST_F(ContractMatch, StepsRequestMatchersAndDelaysAreChecked) {
  EXPECT_EQ(Parse(R"({"method":"weft.test.Echo/Unary",)"
                  R"("steps":[{"send":{}}]})"),
            "interactions[0] \"#0\": steps: only for bidi methods "
            "(/weft.test.Echo/Unary is not)");
  EXPECT_EQ(Parse(R"({"method":"weft.test.Echo/Bidi","requests":[{}],)"
                  R"("steps":[{"send":{}}]})"),
            "interactions[0] \"#0\": steps: instead of request(s) and "
            "response(s), not with them");
  EXPECT_EQ(Parse(R"({"method":"weft.test.Echo/Bidi",)"
                  R"("steps":[{"send":{},"expect":{}}]})"),
            "interactions[0] \"#0\": steps[0]: one of {\"send\": MSG} or "
            "{\"expect\": MSG}");
  EXPECT_EQ(Parse(R"({"method":"weft.test.Echo/Bidi",)"
                  R"("steps":[{"sned":{}}]})"),
            "interactions[0] \"#0\": steps[0]: unknown key \"sned\"");
  EXPECT_EQ(Parse(R"({"method":"weft.test.Echo/Bidi",)"
                  R"("steps":[{"expect":{"txt":"a"}}]})"),
            "interactions[0] \"#0\": responses[0]: txt: no such field in "
            "weft.test.EchoResponse");
  EXPECT_EQ(Parse(R"({"method":"weft.test.Echo/Unary",)"
                  R"("matchers":{"request.fail":{"match":"type"}}})"),
            "interactions[0] \"#0\": matchers: request.fail: no such field "
            "in weft.test.EchoRequest");
  EXPECT_EQ(Parse(R"({"method":"weft.test.Echo/Unary",)"
                  R"("matchers":{"reply.text":{"match":"type"}}})"),
            "interactions[0] \"#0\": matchers: reply.text: a matcher path "
            "starts with response, responses[N], request or requests[N]");
  EXPECT_EQ(Parse(R"({"method":"weft.test.Echo/ServerStream",)"
                  R"("responses":[{}],"delaysMs":[1,2]})"),
            "interactions[0] \"#0\": delaysMs: a list of milliseconds, at "
            "most one per response");
  // A request matcher does not touch the comparison of answers.
  ASSERT_EQ(Parse(R"({"method":"weft.test.Echo/Bidi",)"
                  R"("steps":[{"send":{"text":"a"}},{"expect":{"text":"a"}}],)"
                  R"("matchers":{"requests[*].text":{"match":"type"}}})"),
            "");
  Answer(R"({"text":"b"})");
  EXPECT_EQ(Match(), "responses[0].text: expected \"a\", got \"b\"\n");
}

TEST_F(ContractMatch, StatesAndNames) {
  ASSERT_EQ(Parse(R"({"name":"n","method":"weft.test.Echo.Unary",)"
                  R"("given":"ready"})"),
            "");
  size_t n = 0;
  const char *const *s = weft_contract_interaction_states(c, 0, &n);
  ASSERT_EQ(n, 1u);
  EXPECT_STREQ(s[0], "ready");
  EXPECT_STREQ(weft_contract_interaction_name(c, 0), "n");
  EXPECT_STREQ(weft_contract_interaction_method(c, 0)->path,
               "/weft.test.Echo/Unary");
}

} // namespace
