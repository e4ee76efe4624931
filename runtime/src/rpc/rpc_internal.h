/* Internal to weft_rpc: shared between the runtime's own files. */
#ifndef WEFT_RPC_INTERNAL_H
#define WEFT_RPC_INTERNAL_H

#include "weft/transport.h"

int weft__register_client_transport(const weft_client_transport *t);
int weft__register_server_transport(const weft_server_transport *t);

#endif
