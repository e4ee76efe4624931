// Run-time descriptors on the server side and the mock's C API, on every
// transport: the Echo schema is rebuilt at run time from its serialized
// FileDescriptorProto (weft/dyndesc.h), served by a generic handler
// (weft_server_add_generic_service) for all four RPC kinds, then as a
// contract mock (weft_contract_mock_start) that weft_contract_verify
// replays against, with the report of exercised and unmatched calls.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "echo.weft.h"
#include "test_schemes.h"
#include "weft/codec.h"
#include "weft/contract.h"
#include "weft/dyndesc.h"
#include "weft/server.h"
#include "weft/status.h"

namespace {

// A FileDescriptorSet holding the compiled-in echo.proto (field 1, bytes).
weft_dyn_set *EchoSet() {
  std::string fds;
  fds.push_back('\x0a');
  size_t n = echo_proto.serialized_len;
  while (n >= 0x80) {
    fds.push_back((char)(0x80 | (n & 0x7f)));
    n >>= 7;
  }
  fds.push_back((char)n);
  fds.append((const char *)echo_proto.serialized, echo_proto.serialized_len);
  weft_dyn_set *set = nullptr;
  weft_error err{};
  EXPECT_EQ(weft_dyn_build((const uint8_t *)fds.data(), fds.size(), &set, &err),
            0)
      << err.message;
  return set;
}

std::string Json(const void *msg) {
  char *text = nullptr;
  if (weft_json_encode(msg, nullptr, &text, nullptr, nullptr) < 0)
    return "?";
  std::string s = text;
  free(text);
  return s;
}

void *FromJson(const weft_msg_desc *d, const std::string &json,
               weft_arena *arena = nullptr) {
  weft_json_opts jo{};
  jo.arena = arena;
  void *m = nullptr;
  weft_error err{};
  EXPECT_EQ(weft_json_decode(d, json.data(), json.size(), &jo, &m, &err), 0)
      << err.message;
  return m;
}

// Echo through reflection alone: the handler knows the types only by
// their run-time descriptors.
int GenericEcho(weft_server_call *call, const void *req, void *resp, void *) {
  const weft_method_desc *m = weft_server_call_method(call);
  weft_arena *a = weft_server_call_arena(call);
  std::string text;
  auto text_of = [](const void *msg) {
    std::string j = Json(msg); // {"text":"..."} or {}
    size_t p = j.find("\"text\":\"");
    return p == std::string::npos ? std::string()
                                  : j.substr(p + 8, j.find('"', p + 8) - p - 8);
  };
  if (req)
    text = text_of(req);
  void *msg;
  int n = 0;
  if (m->kind == WEFT_RPC_CLIENT_STREAM || m->kind == WEFT_RPC_BIDI) {
    while (weft_server_call_recv(call, &msg) == 1) {
      if (m->kind == WEFT_RPC_BIDI) {
        std::string j = "{\"text\":\"" + text_of(msg) +
                        "\",\"index\":" + std::to_string(n) + "}";
        if (weft_server_call_send(call, FromJson(m->output, j, a)) < 0)
          return WEFT_STATUS_CANCELLED;
      }
      text += text_of(msg);
      n++;
    }
  }
  if (m->kind == WEFT_RPC_SERVER_STREAM) {
    for (int i = 0; i < 3; i++) {
      std::string j =
          "{\"text\":\"" + text + "\",\"index\":" + std::to_string(i) + "}";
      if (weft_server_call_send(call, FromJson(m->output, j, a)) < 0)
        return WEFT_STATUS_CANCELLED;
    }
  }
  if (resp) {
    std::string j =
        "{\"text\":\"" + text + "\",\"index\":" + std::to_string(n) + "}";
    memcpy(resp, FromJson(m->output, j, a), m->output->base.sizeof_message);
  }
  return WEFT_STATUS_OK;
}

class DynServer : public ::testing::TestWithParam<std::string> {
protected:
  weft_dyn_set *set = nullptr;
  weft_server *srv = nullptr;
  weft_client *cli = nullptr;
  void SetUp() override {
    set = EchoSet();
    ASSERT_NE(set, nullptr);
  }
  void TearDown() override {
    weft_client_close(cli);
    weft_server_free(srv);
    weft_dyn_free(set);
  }
  void Connect(const std::string &url) {
    weft_error err{};
    ASSERT_EQ(weft_client_open(&cli, url.c_str(), nullptr, &err), 0)
        << url << ": " << err.message;
  }
  const weft_method_desc *M(const char *name) {
    return weft_dyn_find_method(set, name);
  }
  // Runs a streaming call; returns the responses as JSON, one a line.
  std::string Stream(const char *method, std::vector<std::string> reqs,
                     weft_status *st) {
    const weft_method_desc *m = M(method);
    weft_call_opts co{};
    co.timeout_ms = 10000;
    weft_call *call = nullptr;
    std::string out;
    EXPECT_EQ(weft_call_start(cli, m, &co, &call), 0);
    if (!call)
      return out;
    for (auto &r : reqs) {
      void *msg = FromJson(m->input, r);
      weft_call_send(call, msg);
      weft_message_free(msg);
    }
    weft_call_close_send(call);
    void *msg;
    while (weft_call_recv(call, &msg) == 1) {
      out += Json(msg) + "\n";
      weft_message_free(msg);
    }
    weft_call_finish(call);
    *st = co.status;
    return out;
  }
};

TEST_P(DynServer, GenericHandlerServesAllFourKinds) {
  ASSERT_EQ(weft_server_new(&srv, nullptr), 0);
  const weft_service_desc *svc = weft_dyn_find_service(set, "weft.test.Echo");
  ASSERT_NE(svc, nullptr);
  EXPECT_EQ(weft_server_add_generic_service(srv, svc, nullptr, nullptr),
            WEFT_ERR_INVAL);
  ASSERT_EQ(weft_server_add_generic_service(srv, svc, GenericEcho, nullptr), 0);
  EXPECT_EQ(weft_server_add_generic_service(srv, svc, GenericEcho, nullptr),
            WEFT_ERR_STATE);
  weft_error err{};
  ASSERT_EQ(
      weft_server_listen(srv, (GetParam() + "://127.0.0.1:0").c_str(), &err), 0)
      << err.message;
  Connect(GetParam() +
          "://127.0.0.1:" + std::to_string(weft_server_port(srv, 0)));

  const weft_method_desc *u = M("weft.test.Echo/Unary");
  void *req = FromJson(u->input, R"({"text":"hi"})"), *resp = nullptr;
  weft_call_opts co{};
  co.timeout_ms = 10000;
  EXPECT_EQ(weft_call_unary(cli, u, req, &resp, &co), 0) << co.status.message;
  EXPECT_EQ(Json(resp), R"({"text":"hi"})");
  weft_message_free(req);
  weft_message_free(resp);
  weft_status_clear(&co.status);

  weft_status st{};
  EXPECT_EQ(Stream("weft.test.Echo/ServerStream", {R"({"text":"s"})"}, &st),
            "{\"text\":\"s\"}\n{\"text\":\"s\",\"index\":1}\n"
            "{\"text\":\"s\",\"index\":2}\n");
  EXPECT_EQ(st.code, WEFT_STATUS_OK);
  weft_status_clear(&st);
  EXPECT_EQ(Stream("weft.test.Echo/ClientStream",
                   {R"({"text":"a"})", R"({"text":"b"})"}, &st),
            "{\"text\":\"ab\",\"index\":2}\n");
  weft_status_clear(&st);
  EXPECT_EQ(Stream("weft.test.Echo/Bidi",
                   {R"({"text":"x"})", R"({"text":"y"})"}, &st),
            "{\"text\":\"x\"}\n{\"text\":\"y\",\"index\":1}\n");
  EXPECT_EQ(st.code, WEFT_STATUS_OK);
  weft_status_clear(&st);
}

const char kContract[] = R"({
  "consumer": "c", "provider": "weft.test.Echo",
  "interactions": [
    {"name": "hello", "method": "weft.test.Echo/Unary",
     "request": {"text": "hi"}, "response": {"text": "hello"},
     "responseMetadata": {"x-id": "7"}},
    {"name": "any other text", "method": "weft.test.Echo/Unary",
     "request": {"text": "other"}, "response": {"text": "generic"},
     "matchers": {"request.text": {"match": "regex", "regex": "^o"}}},
    {"name": "gone", "method": "weft.test.Echo/Unary",
     "request": {"text": "gone"},
     "status": {"code": "NOT_FOUND", "message": "no such thing"}},
    {"name": "stream", "method": "weft.test.Echo/ServerStream",
     "request": {"text": "s"}, "response": {"text": "s"}, "delaysMs": [2],
     "matchers": {"responses": {"match": "eachLike", "min": 3}}},
    {"name": "joined", "method": "weft.test.Echo/ClientStream",
     "requests": [{"text": "a"}, {"text": "b"}], "response": {"text": "ab"}},
    {"name": "never called", "method": "weft.test.Echo/Bidi",
     "requests": [{"text": "x"}], "responses": [{"text": "x"}]}
  ]})";

TEST_P(DynServer, MockServesAContractAndReportsWhatWasExercised) {
  weft_contract *c = nullptr;
  weft_contract_opts o{};
  o.schema = set;
  weft_error err{};
  ASSERT_EQ(weft_contract_parse(&c, kContract, strlen(kContract), &o, &err), 0)
      << err.message;
  std::string listen = GetParam() + "://127.0.0.1:0";
  const char *ls[] = {listen.c_str(), nullptr};
  weft_contract_mock_opts mo{};
  mo.listen = ls;
  weft_contract_mock *mock = nullptr;
  const weft_contract *cs[] = {c};
  ASSERT_EQ(weft_contract_mock_start(&mock, cs, 1, &mo, &err), 0)
      << err.message;
  ASSERT_NE(weft_contract_mock_url(mock, 0), nullptr);
  EXPECT_EQ(weft_contract_mock_url(mock, 1), nullptr);
  EXPECT_EQ(std::string(weft_contract_mock_url(mock, 0)).find(":0"),
            std::string::npos);
  Connect(weft_contract_mock_url(mock, 0));

  // An unmatched request: the nearest interaction's differences.
  const weft_method_desc *u = M("weft.test.Echo/Unary");
  void *req = FromJson(u->input, R"({"text":"xyz"})"), *resp = nullptr;
  weft_call_opts co{};
  co.timeout_ms = 10000;
  EXPECT_NE(weft_call_unary(cli, u, req, &resp, &co), 0);
  EXPECT_EQ(co.status.code, WEFT_STATUS_FAILED_PRECONDITION);
  EXPECT_NE(std::string(co.status.message ? co.status.message : "")
                .find("no interaction matches; nearest \"hello\": "
                      "request.text: expected \"hi\", got \"xyz\""),
            std::string::npos)
      << co.status.message;
  weft_message_free(req);
  weft_status_clear(&co.status);
  // A request matcher: any text starting with "o".
  req = FromJson(u->input, R"({"text":"odd"})");
  EXPECT_EQ(weft_call_unary(cli, u, req, &resp, &co), 0) << co.status.message;
  EXPECT_EQ(Json(resp), R"({"text":"generic"})");
  weft_message_free(req);
  weft_message_free(resp);
  weft_status_clear(&co.status);

  // The contract replayed against its own mock: every interaction passes
  // (the eachLike stream is grown to its min of 3).
  weft_contract_report rep{};
  ASSERT_EQ(weft_contract_verify(c, cli, nullptr, &rep), 0);
  EXPECT_EQ(rep.n_failed, 0u);
  for (size_t i = 0; i < rep.n_results; i++)
    for (size_t d = 0; d < rep.results[i].n_diffs; d++)
      ADD_FAILURE() << rep.results[i].name << ": "
                    << rep.results[i].diffs[d].path << ": "
                    << rep.results[i].diffs[d].message;
  weft_contract_report_clear(&rep);

  weft_contract_mock_report mr;
  ASSERT_EQ(weft_contract_mock_get_report(mock, &mr), 0);
  EXPECT_EQ(mr.n_interactions, 6u);
  EXPECT_EQ(mr.n_unexercised, 0u);
  EXPECT_EQ(mr.calls[0], 1u);
  EXPECT_EQ(mr.calls[1], 2u);
  ASSERT_EQ(mr.n_unmatched, 1u);
  EXPECT_NE(std::string(mr.unmatched[0]).find("/weft.test.Echo/Unary"),
            std::string::npos);
  EXPECT_EQ(mr.n_warnings, 0u);
  weft_contract_mock_report_clear(&mr);
  ASSERT_EQ(weft_contract_mock_verify(mock, &rep), 0);
  EXPECT_EQ(rep.n_results, 7u);
  EXPECT_EQ(rep.n_failed, 1u); // the unmatched call
  weft_contract_report_clear(&rep);

  weft_client_close(cli);
  cli = nullptr;
  weft_contract_mock_stop(mock);
  weft_contract_free(c);
}

TEST(ContractMock, UnexercisedInteractionsAndSelfCheckWarnings) {
  weft_dyn_set *set = EchoSet();
  ASSERT_NE(set, nullptr);
  const char json[] = R"({"interactions": [
    {"name": "bad example", "method": "weft.test.Echo/Unary",
     "response": {"text": "x"},
     "matchers": {"response.text": {"match": "regex", "regex": "^[0-9]+$"}}},
    {"name": "idle", "method": "weft.test.Echo/ServerStream",
     "responses": [{"text": "a"}], "delaysMs": [5]}]})";
  weft_contract *c = nullptr;
  weft_contract_opts o{};
  o.schema = set;
  weft_error err{};
  ASSERT_EQ(weft_contract_parse(&c, json, strlen(json), &o, &err), 0)
      << err.message;
  weft_contract_mock *mock = nullptr;
  const weft_contract *cs[] = {c};
  ASSERT_EQ(weft_contract_mock_start(&mock, cs, 1, nullptr, &err), 0)
      << err.message;
  EXPECT_EQ(std::string(weft_contract_mock_url(mock, 0)).rfind("tcp://", 0),
            0u);
  weft_contract_mock_report mr;
  ASSERT_EQ(weft_contract_mock_get_report(mock, &mr), 0);
  EXPECT_EQ(mr.n_unexercised, 2u);
  ASSERT_EQ(mr.n_warnings, 1u);
  EXPECT_EQ(std::string(mr.warnings[0]),
            "interaction \"bad example\": the mock's answer fails it: "
            "responses[0].text: expected a string matching /^[0-9]+$/, got "
            "\"x\"");
  weft_contract_mock_report_clear(&mr);
  weft_contract_report rep{};
  ASSERT_EQ(weft_contract_mock_verify(mock, &rep), 0);
  ASSERT_EQ(rep.n_results, 2u);
  EXPECT_EQ(rep.n_failed, 2u);
  EXPECT_STREQ(rep.results[1].diffs[0].path, "calls");
  EXPECT_STREQ(rep.results[1].diffs[0].message, "expected at least 1, got 0");
  weft_contract_report_clear(&rep);
  weft_contract_mock_stop(mock);
  weft_contract_mock_stop(nullptr);
  EXPECT_EQ(weft_contract_mock_start(&mock, cs, 0, nullptr, &err),
            WEFT_ERR_INVAL);
  weft_contract_free(c);
  weft_dyn_free(set);
}

INSTANTIATE_TEST_SUITE_P(Transports, DynServer,
                         ::testing::ValuesIn(weft_test_schemes()),
                         [](const auto &info) { return info.param; });

} // namespace
