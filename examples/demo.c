/* weft-demo: builds one message of each main AITBC type, encodes it with the
 * binary codec, decodes it back, checks the copy is equal, and prints it
 * (as AITBC-shaped JSON when the JSON codec is built). Then it round-trips a
 * default instance of every message type in schema/aitbc/v1. Exit status 1
 * if any round trip differs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aitbc/v1/blockchain.weft.h"
#include "aitbc/v1/jobs.weft.h"
#include "aitbc/v1/marketplace.weft.h"
#include "aitbc/v1/receipts.weft.h"
#include "aitbc/v1/settlement.weft.h"
#include "aitbc/v1/wallet.weft.h"

static int failures;

static void print_hex(const uint8_t *p, size_t n) {
  size_t shown = n < 32 ? n : 32;
  for (size_t i = 0; i < shown; i++)
    printf("%02x", p[i]);
  printf("%s\n", shown < n ? "..." : "");
}

/* Binary encode -> decode -> compare; then JSON (proto field names, as
 * AITBC peers write them) -> decode -> compare. */
static void roundtrip(const void *msg, int verbose) {
  const weft_msg_desc *d = weft_msg_desc_of_msg(msg);
  const char *name = d->base.name;
  uint8_t *buf = NULL;
  size_t len = 0;
  weft_error err = {0};
  void *back = NULL;
  if (weft_encode_alloc(msg, &buf, &len) != 0) {
    printf("%-38s encode FAILED\n", name);
    failures++;
    return;
  }
  int rv = weft_decode(d, buf, len, NULL, &back, &err);
  int same = rv == 0 && weft_message_equal(msg, back);
  if (!same) {
    printf("%-38s binary round trip FAILED: %s\n", name,
           rv ? err.message : "decoded copy differs");
    failures++;
  } else if (verbose) {
    printf("%-38s %4zu bytes  ", name, len);
    print_hex(buf, len);
  }
#ifdef WEFT_DEMO_JSON
  if (same) {
    weft_json_opts jo = {0};
    jo.flags = WEFT_JSON_PROTO_NAMES;
    char *json = NULL;
    size_t jlen = 0;
    void *fromjson = NULL;
    rv = weft_json_encode(back, &jo, &json, &jlen, &err);
    if (rv == 0)
      rv = weft_json_decode(d, json, jlen, &jo, &fromjson, &err);
    if (rv != 0 || !weft_message_equal(msg, fromjson)) {
      printf("%-38s JSON round trip FAILED: %s\n", name,
             rv ? err.message : "decoded copy differs");
      failures++;
    } else if (verbose) {
      printf("%-38s %s\n", "", json);
    }
    free(json);
    weft_message_free(fromjson);
  }
#endif
  weft_message_free(back);
  free(buf);
}

/* A one-key google.protobuf.Struct ({"key": "value"}), on the stack. */
typedef struct demo_struct {
  google__protobuf__Struct s;
  google__protobuf__Struct__FieldsEntry e;
  google__protobuf__Struct__FieldsEntry *ep;
  google__protobuf__Value v;
} demo_struct;

static google__protobuf__Struct *make_struct(demo_struct *ds, const char *key,
                                             const char *value) {
  google__protobuf__Struct_init(&ds->s);
  google__protobuf__Struct__FieldsEntry_init(&ds->e);
  google__protobuf__Value_init(&ds->v);
  ds->v.kind_case = 3; /* string_value */
  ds->v.string_value = (char *)value;
  ds->e.key = (char *)key;
  ds->e.value = &ds->v;
  ds->ep = &ds->e;
  ds->s.n_fields = 1;
  ds->s.fields = &ds->ep;
  return &ds->s;
}

static void demo_jobs(void) {
  aitbc__v1__JobStatus st = aitbc__v1__JobStatus_INIT;
  st.job_id = "j1";
  st.state = aitbc__v1__JobState__RUNNING;
  st.assigned_miner_id = "miner-7";
  st.timestamp = "2026-11-23T12:00:00Z";
  st.progress = 0.5;
  roundtrip(&st, 1);

  demo_struct payload;
  aitbc__v1__Job job = aitbc__v1__Job_INIT;
  job.job_id = "j1";
  job.state = aitbc__v1__JobState__QUEUED;
  job.payload = make_struct(&payload, "model", "llama-3-8b");
  job.ttl_seconds = 900;
  job.requested_at = "2026-11-23T11:59:58Z";
  roundtrip(&job, 1);

  aitbc__v1__GetJobRequest get = aitbc__v1__GetJobRequest_INIT;
  get.job_id = "j1";
  roundtrip(&get, 1);
}

static void demo_blockchain(void) {
  demo_struct tx;
  aitbc__v1__Block block = aitbc__v1__Block_INIT;
  google__protobuf__Struct *txs[1];
  block.chain_id = "ait-devnet";
  block.height = 12;
  block.hash = "0xab12";
  block.parent_hash = "0xaa11";
  block.proposer = "node-1";
  block.timestamp = "2026-11-23T12:00:00";
  block.tx_count = 1;
  block.state_root = "0x5f3e";
  txs[0] = make_struct(&tx, "tx_hash", "0x01");
  block.n_transactions = 1;
  block.transactions = txs;

  aitbc__v1__BlockchainEvent ev = aitbc__v1__BlockchainEvent_INIT;
  ev.type = "new_block";
  ev.payload_case = 2; /* block */
  ev.block = &block;
  roundtrip(&ev, 1);

  aitbc__v1__BlockchainEvent tx_ev = aitbc__v1__BlockchainEvent_INIT;
  tx_ev.type = "transaction_confirmed";
  tx_ev.payload_case = 3; /* tx_hash */
  tx_ev.tx_hash = "0x01";
  roundtrip(&tx_ev, 1);
}

static void demo_marketplace(void) {
  aitbc__v1__Offer offer = aitbc__v1__Offer_INIT;
  offer.id = "o1";
  offer.provider = "provider-1";
  offer.gpu_type = "A100";
  offer.gpu_memory = 80;
  offer.gpu_count = 2;
  offer.price_per_hour = 1.5;
  offer.currency = "AITBC";
  offer.region = "eu-west";
  offer.status = "open";
  aitbc__v1__MarketplaceEvent ev = aitbc__v1__MarketplaceEvent_INIT;
  ev.type = "new_offer";
  ev.offer = &offer;
  roundtrip(&ev, 1);
}

static void demo_settlement(void) {
  demo_struct proof;
  aitbc__v1__SettlementMessage m = aitbc__v1__SettlementMessage_INIT;
  m.source_chain_id = 1;
  m.target_chain_id = 137;
  m.job_id = "j1";
  m.receipt_hash = "0x9c1d";
  m.proof_data = make_struct(&proof, "root", "0x77");
  m.payment_amount = 12345678901234567890ull; /* past 2^53 */
  m.payment_token = "AITBC";
  m.nonce = 7;
  m.signature = "0xsig";
  m.has_gas_limit = 1;
  m.gas_limit = 300000;
  m.privacy_level = "basic";
  m.created_at = "2026-11-23T12:00:00Z";
  roundtrip(&m, 1);

  aitbc__v1__SettlementResult r = aitbc__v1__SettlementResult_INIT;
  r.message_id = "m1";
  r.status = aitbc__v1__BridgeStatus__Value__completed;
  r.transaction_hash = "0xfeed";
  r.has_gas_used = 1;
  r.gas_used = 21000;
  r.created_at = "2026-11-23T12:00:00Z";
  r.completed_at = "2026-11-23T12:03:00Z";
  roundtrip(&r, 1);

  aitbc__v1__CrossChainSettlementRequest req =
      aitbc__v1__CrossChainSettlementRequest_INIT;
  req.job_id = "j1";
  req.target_chain_id = 137;
  req.bridge_name = "layerzero";
  req.priority = aitbc__v1__SettlementPriority__Value__speed;
  req.use_zk_proof = 1;
  roundtrip(&req, 1);
}

static void demo_wallet_receipts(void) {
  aitbc__v1__WalletTransaction tx = aitbc__v1__WalletTransaction_INIT;
  tx.tx_hash = "0x01";
  tx.type = "send";
  tx.from = "ait1alice";
  tx.to = "ait1bob";
  tx.amount = 5000000;
  tx.token = "AITBC";
  tx.status = "confirmed";
  tx.block_height = 12;
  roundtrip(&tx, 1);

  aitbc__v1__ReceiptSignature sig = aitbc__v1__ReceiptSignature_INIT;
  sig.alg = "Ed25519";
  sig.key_id = "k1";
  sig.sig = "c2ln";
  aitbc__v1__Receipt rc = aitbc__v1__Receipt_INIT;
  rc.receipt_id = "r1";
  rc.job_id = "j1";
  rc.provider = "miner-7";
  rc.units = 42.5;
  rc.unit_type = "gpu_seconds";
  rc.price = 0.25;
  rc.signature = &sig;
  roundtrip(&rc, 1);
}

int main(void) {
#ifdef WEFT_DEMO_JSON
  printf("weft-demo: AITBC messages through the binary and JSON codecs\n\n");
#else
  printf("weft-demo: AITBC messages through the binary codec (JSON codec "
         "not built)\n\n");
#endif
  demo_jobs();
  demo_blockchain();
  demo_marketplace();
  demo_settlement();
  demo_wallet_receipts();

  /* Every message type of the schema, at its defaults. */
  const weft_file_desc *files[] = {
      &aitbc__v1__jobs_proto,        &aitbc__v1__blockchain_proto,
      &aitbc__v1__marketplace_proto, &aitbc__v1__settlement_proto,
      &aitbc__v1__wallet_proto,      &aitbc__v1__receipts_proto};
  unsigned types = 0, services = 0, methods = 0;
  for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
    for (unsigned i = 0; i < files[f]->n_messages; i++) {
      void *m = weft_message_new(files[f]->messages[i], NULL);
      if (!m) {
        failures++;
        continue;
      }
      roundtrip(m, 0);
      weft_message_free(m);
      types++;
    }
    for (unsigned i = 0; i < files[f]->n_services; i++) {
      services++;
      methods += files[f]->services[i]->n_methods;
    }
  }
  printf("\n%u AITBC message types round-tripped at their defaults; "
         "%u services, %u methods.\n",
         types, services, methods);
  if (failures)
    printf("%d FAILURES\n", failures);
  return failures ? 1 : 0;
}
