#include "cli_files.h"

#include "aitbc/v1/blockchain.weft.h"
#include "aitbc/v1/jobs.weft.h"
#include "aitbc/v1/marketplace.weft.h"
#include "aitbc/v1/receipts.weft.h"
#include "aitbc/v1/settlement.weft.h"
#include "aitbc/v1/wallet.weft.h"
#include "weft/v1/pubsub.weft.h"

const weft_file_desc *const weft_cli_files[] = {
    &aitbc__v1__jobs_proto,        &aitbc__v1__blockchain_proto,
    &aitbc__v1__marketplace_proto, &aitbc__v1__settlement_proto,
    &aitbc__v1__wallet_proto,      &aitbc__v1__receipts_proto,
    &weft__v1__pubsub_proto,       NULL};
