// The AITBC messages round-trip, with proto field names, to exactly the JSON
// shapes of the AITBC documents (docs/AITBC_SCHEMA.md): job status, blockchain
// and marketplace events, settlement messages and results.
#include <gtest/gtest.h>

#include <string>

#include "aitbc/v1/blockchain.weft.h"
#include "aitbc/v1/jobs.weft.h"
#include "aitbc/v1/marketplace.weft.h"
#include "aitbc/v1/settlement.weft.h"
#include "json_testutil.h"

namespace {

struct Doc {
  const weft_msg_desc *desc;
  const char *json;
};

const Doc kDocs[] = {
    {&aitbc__v1__JobStatus_desc,
     R"({"job_id":"j1","state":"RUNNING","assigned_miner_id":"m7",
         "timestamp":"2026-11-23T12:00:00Z","progress":0.5})"},
    {&aitbc__v1__BlockchainEvent_desc,
     R"({"type":"new_block","block":{"chain_id":"ait-devnet","height":12,
         "hash":"0xab01","parent_hash":"0xaa00","proposer":"node-1",
         "timestamp":"2026-11-23T12:00:00","tx_count":1,"state_root":"0x99",
         "transactions":[{"tx_hash":"0x0102","from":"ait1abc","to":"ait1def","amount":5}]}})"},
    {&aitbc__v1__BlockchainEvent_desc,
     R"({"type":"transaction_confirmed","tx_hash":"0x0102"})"},
    {&aitbc__v1__BlockchainEvent_desc,
     R"({"type":"transaction_pending","tx_hash":"0x0203"})"},
    {&aitbc__v1__BlockchainEvent_desc,
     R"({"type":"fork_detected","fork":{"height":11,"local_hash":"0x1","remote_hash":"0x2","peer":"p9"}})"},
    {&aitbc__v1__BlockchainEvent_desc,
     R"({"type":"sync_status","sync_status":{"chain_id":"ait-devnet","syncing":true,
         "current_height":10,"target_height":12,"peer_count":3}})"},
    {&aitbc__v1__MarketplaceEvent_desc,
     R"({"type":"new_offer","offer":{"id":"o1","provider":"p1","gpu_type":"A100",
         "gpu_memory":80,"gpu_count":2,"price_per_hour":1.5,"currency":"AITBC",
         "region":"eu-west","status":"open"}})"},
    {&aitbc__v1__SettlementMessage_desc,
     R"({"source_chain_id":1,"target_chain_id":137,"job_id":"j1","receipt_hash":"0xfe",
         "proof_data":{"root":"0x77"},"payment_amount":"1000000","payment_token":"AITBC",
         "nonce":"7","signature":"0x55","gas_limit":"300000","privacy_level":"basic",
         "created_at":"2026-11-23T12:00:00Z"})"},
    {&aitbc__v1__SettlementResult_desc,
     R"({"message_id":"m1","status":"completed","transaction_hash":"0xab",
         "gas_used":"21000","fee_paid":"420000","created_at":"2026-11-23T12:00:00Z",
         "completed_at":"2026-11-23T12:00:05Z"})"},
    {&aitbc__v1__CrossChainSettlementRequest_desc,
     R"({"job_id":"j1","target_chain_id":137,"bridge_name":"layerzero",
         "priority":"speed","privacy_level":"basic","use_zk_proof":true})"},
};

TEST(JsonAitbc, DocumentsRoundTripWithProtoNames) {
  for (const Doc &d : kDocs) {
    wjt::Result r = wjt::Reencode(d.desc, d.json, 0, WEFT_JSON_PROTO_NAMES);
    ASSERT_EQ(r.rv, 0) << r.text << "\n" << d.json;
    EXPECT_EQ(wjt::Canon(r.text), wjt::Canon(d.json)) << r.text;
    // and the binary form carries it all: JSON -> binary -> JSON
    wjt::Result b = wjt::DecodeToBinary(d.desc, d.json, 0, true);
    ASSERT_EQ(b.rv, 0) << b.text;
    wjt::Result j =
        wjt::EncodeFromBinary(d.desc, b.text, WEFT_JSON_PROTO_NAMES);
    ASSERT_EQ(j.rv, 0) << j.text;
    EXPECT_EQ(wjt::Canon(j.text), wjt::Canon(d.json)) << j.text;
    // with defaults printed (as AITBC peers do) it still reads back the same
    wjt::Result full = wjt::Reencode(
        d.desc, d.json, 0, WEFT_JSON_PROTO_NAMES | WEFT_JSON_EMIT_DEFAULTS);
    ASSERT_EQ(full.rv, 0) << full.text;
    wjt::Result again =
        wjt::Reencode(d.desc, full.text, 0, WEFT_JSON_PROTO_NAMES);
    ASSERT_EQ(again.rv, 0) << again.text;
    EXPECT_EQ(wjt::Canon(again.text), wjt::Canon(d.json));
  }
}

TEST(JsonAitbc, AmountsAcceptNumbersAndPrintStrings) {
  wjt::Result r = wjt::Reencode(&aitbc__v1__SettlementMessage_desc,
                                R"({"payment_amount":1000000,"nonce":7})", 0,
                                WEFT_JSON_PROTO_NAMES);
  ASSERT_EQ(r.rv, 0) << r.text;
  EXPECT_EQ(r.text, R"({"payment_amount":"1000000","nonce":"7"})");
}

TEST(JsonAitbc, UnknownEnumStringIsRejected) {
  wjt::Result r = wjt::Reencode(&aitbc__v1__CrossChainSettlementRequest_desc,
                                R"({"priority":"fastest"})", 0, 0);
  EXPECT_EQ(r.rv, WEFT_ERR_JSON_ENUM) << r.text;
}

} // namespace
