// Every REST route the AITBC SDK calls, and every entry of the route table
// the AITBC WebSocket endpoint used to hand-write, walked through the
// router built from schema/aitbc/v1's google.api.http annotations.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "aitbc/v1/blockchain.weft.h"
#include "aitbc/v1/jobs.weft.h"
#include "aitbc/v1/marketplace.weft.h"
#include "aitbc/v1/node.weft.h"
#include "aitbc/v1/receipts.weft.h"
#include "aitbc/v1/settlement.weft.h"
#include "aitbc/v1/wallet.weft.h"
#include "weft/rest.h"

namespace {

struct Route {
  const char *verb, *path, *method, *var, *value;
};

const Route kRoutes[] = {
    {"GET", "/health", "/aitbc.v1.Node/Health", nullptr, nullptr},
    {"GET", "/v1/jobs", "/aitbc.v1.Jobs/ListJobs", nullptr, nullptr},
    {"POST", "/v1/jobs", "/aitbc.v1.Jobs/CreateJob", nullptr, nullptr},
    {"GET", "/v1/jobs/j1", "/aitbc.v1.Jobs/GetJob", "job_id", "j1"},
    {"PUT", "/v1/jobs/j1", "/aitbc.v1.Jobs/UpdateJob", "job_id", "j1"},
    {"DELETE", "/v1/jobs/j1", "/aitbc.v1.Jobs/CancelJob", "job_id", "j1"},
    {"POST", "/v1/jobs/j1/cancel", "/aitbc.v1.Jobs/CancelJob", "job_id", "j1"},
    {"GET", "/v1/jobs/j1/ws", "/aitbc.v1.Jobs/Watch", "job_id", "j1"},
    {"GET", "/v1/jobs/j1/status", "/aitbc.v1.Jobs/Watch", "job_id", "j1"},
    {"GET", "/v1/events", "/aitbc.v1.Blockchain/StreamEvents", nullptr,
     nullptr},
    {"GET", "/v1/blocks/head", "/aitbc.v1.Blockchain/GetHead", nullptr,
     nullptr},
    {"GET", "/v1/blocks/12", "/aitbc.v1.Blockchain/GetBlock", "height", "12"},
    {"GET", "/v1/sync/status", "/aitbc.v1.Blockchain/GetSyncStatus", nullptr,
     nullptr},
    {"GET", "/v1/transactions/0xab", "/aitbc.v1.Blockchain/GetTransaction",
     "tx_hash", "0xab"},
    {"GET", "/v1/marketplace/offers", "/aitbc.v1.Marketplace/ListOffers",
     nullptr, nullptr},
    {"POST", "/v1/marketplace/offers", "/aitbc.v1.Marketplace/CreateOffer",
     nullptr, nullptr},
    {"GET", "/v1/marketplace/offers/o1", "/aitbc.v1.Marketplace/GetOffer",
     "offer_id", "o1"},
    {"PUT", "/v1/marketplace/offers/o1", "/aitbc.v1.Marketplace/UpdateOffer",
     "id", "o1"},
    {"DELETE", "/v1/marketplace/offers/o1", "/aitbc.v1.Marketplace/DeleteOffer",
     "offer_id", "o1"},
    {"POST", "/v1/marketplace/offers/o1/accept",
     "/aitbc.v1.Marketplace/AcceptOffer", "offer_id", "o1"},
    {"GET", "/v1/marketplace/stats", "/aitbc.v1.Marketplace/GetStats", nullptr,
     nullptr},
    {"GET", "/v1/marketplace/events", "/aitbc.v1.Marketplace/WatchEvents",
     nullptr, nullptr},
    {"GET", "/v1/receipts", "/aitbc.v1.Receipts/ListReceipts", nullptr,
     nullptr},
    {"GET", "/v1/receipts/stream", "/aitbc.v1.Receipts/StreamReceipts", nullptr,
     nullptr},
    {"GET", "/v1/receipts/j1", "/aitbc.v1.Receipts/GetReceipt", "job_id", "j1"},
    {"POST", "/v1/receipts/verify", "/aitbc.v1.Receipts/VerifyReceipt", nullptr,
     nullptr},
    {"GET", "/v1/settlement/bridges", "/aitbc.v1.Settlement/ListBridges",
     nullptr, nullptr},
    {"GET", "/v1/settlement/chains", "/aitbc.v1.Settlement/ListChains", nullptr,
     nullptr},
    {"GET", "/v1/settlement/m1/status",
     "/aitbc.v1.Settlement/GetSettlementStatus", "message_id", "m1"},
    {"POST", "/v1/settlement/cross-chain",
     "/aitbc.v1.Settlement/SettleCrossChain", nullptr, nullptr},
    {"POST", "/v1/settlement/batch", "/aitbc.v1.Settlement/BatchSettle",
     nullptr, nullptr},
    {"POST", "/v1/settlement/estimate-cost",
     "/aitbc.v1.Settlement/EstimateCost", nullptr, nullptr},
    {"POST", "/v1/settlement/m1/refund",
     "/aitbc.v1.Settlement/RefundSettlement", "message_id", "m1"},
    {"POST", "/v1/wallet", "/aitbc.v1.Wallet/CreateWallet", nullptr, nullptr},
    {"GET", "/v1/wallet/address", "/aitbc.v1.Wallet/GetAddress", nullptr,
     nullptr},
    {"GET", "/v1/wallet/balance", "/aitbc.v1.Wallet/GetBalance", nullptr,
     nullptr},
    {"GET", "/v1/wallet/transactions", "/aitbc.v1.Wallet/ListTransactions",
     nullptr, nullptr},
    {"POST", "/v1/wallet/send", "/aitbc.v1.Wallet/Send", nullptr, nullptr},
    {"POST", "/v1/wallet/stake", "/aitbc.v1.Wallet/Stake", nullptr, nullptr},
    {"POST", "/v1/wallet/unstake", "/aitbc.v1.Wallet/Unstake", nullptr,
     nullptr},
};

struct AitbcRouter {
  weft_rest_router *r = nullptr;
  AitbcRouter() {
    const weft_service_desc *svcs[] = {
        &aitbc__v1__Node_service,       &aitbc__v1__Jobs_service,
        &aitbc__v1__Blockchain_service, &aitbc__v1__Marketplace_service,
        &aitbc__v1__Receipts_service,   &aitbc__v1__Settlement_service,
        &aitbc__v1__Wallet_service};
    weft_error err{};
    EXPECT_EQ(weft_rest_router_new(&r, &err), 0);
    for (const weft_service_desc *s : svcs)
      EXPECT_EQ(weft_rest_router_add_service(r, s, &err), 0) << err.message;
  }
  ~AitbcRouter() {
    weft_rest_router_free(r);
  }
};

TEST(AitbcRoutes, EverySdkRouteReachesItsMethod) {
  AitbcRouter ar;
  for (const Route &x : kRoutes) {
    weft_rest_match m{};
    weft_error err{};
    ASSERT_EQ(weft_rest_route(ar.r, x.verb, x.path, &m, &err), 0)
        << x.verb << " " << x.path << ": " << err.message;
    EXPECT_STREQ(m.method->path, x.method) << x.verb << " " << x.path;
    if (x.var) {
      ASSERT_EQ(m.n_vars, 1u) << x.path;
      EXPECT_STREQ(m.vars[0].field, x.var);
      EXPECT_STREQ(m.vars[0].value, x.value);
    } else {
      EXPECT_EQ(m.n_vars, 0u) << x.path;
    }
    weft_rest_match_clear(&m);
  }
}

TEST(AitbcRoutes, WrongVerbIs405AndUnknownIs404) {
  AitbcRouter ar;
  weft_rest_match m{};
  weft_error err{};
  EXPECT_EQ(weft_rest_route(ar.r, "PATCH", "/v1/jobs/j1", &m, &err),
            WEFT_ERR_STATE);
  EXPECT_EQ(weft_rest_route(ar.r, "GET", "/v1/nothing", &m, &err),
            WEFT_ERR_UNSUPPORTED);
}

// The request each route builds from the SDK's REST call.
TEST(AitbcRoutes, RequestsFromPathQueryAndBody) {
  AitbcRouter ar;
  weft_rest_request q{};
  q.method = "GET";
  q.path = "/v1/marketplace/offers";
  q.query = "gpu_type=A100&limit=5";
  weft_rest_call c{};
  weft_error err{};
  ASSERT_EQ(weft_rest_prepare(ar.r, &q, &c, &err), 0) << err.message;
  void *msg = nullptr;
  ASSERT_EQ(weft_decode(c.method->input, c.request, c.request_len, nullptr,
                        &msg, &err),
            0);
  auto *lo = static_cast<aitbc__v1__ListOffersRequest *>(msg);
  EXPECT_STREQ(lo->gpu_type, "A100");
  EXPECT_EQ(lo->limit, 5u);
  weft_message_free(msg);
  weft_rest_call_clear(&c);

  q.method = "PUT";
  q.path = "/v1/jobs/j9";
  q.query = nullptr;
  q.body = "{\"ttl_seconds\":60}";
  q.body_len = strlen(q.body);
  ASSERT_EQ(weft_rest_prepare(ar.r, &q, &c, &err), 0) << err.message;
  ASSERT_EQ(weft_decode(c.method->input, c.request, c.request_len, nullptr,
                        &msg, &err),
            0);
  auto *uj = static_cast<aitbc__v1__UpdateJobRequest *>(msg);
  EXPECT_STREQ(uj->job_id, "j9");
  ASSERT_NE(uj->job, nullptr); // body: "job"
  EXPECT_EQ(uj->job->ttl_seconds, 60u);
  weft_message_free(msg);
  weft_rest_call_clear(&c);

  q.method = "GET";
  q.path = "/v1/jobs";
  q.body = nullptr;
  q.body_len = 0;
  q.query = "limit=ten";
  EXPECT_EQ(weft_rest_prepare(ar.r, &q, &c, &err), WEFT_ERR_INVAL);
  EXPECT_EQ(c.http_status, 400);
  EXPECT_NE(strstr(err.message, "query parameter limit"), nullptr)
      << err.message;
}

} // namespace
