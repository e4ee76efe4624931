/* Internal: the server-side call object (server.c, pubsub_server.c). C only
 * (C11 atomics), unlike rpc_internal.h which the C++ tests include. */
#ifndef WEFT_RPC_SERVER_CALL_H
#define WEFT_RPC_SERVER_CALL_H

#include <stdatomic.h>

#include "rpc_internal.h"

struct weft_server_call {
  weft_server *srv;
  const weft_method_desc *method;
  const void *impl;
  void *ctx;
  weft_metadata md;
  char *peer;
  int64_t deadline_ns;
  const weft_server_call_ops *ops;
  void *tc;
  weft_arena *arena;
  weft_metadata headers, trailers;
  bool headers_sent;
  char *status_msg;
  uint8_t *details; /* weft_server_call_set_details, in arena */
  size_t details_len;
  atomic_bool rt_cancelled; /* the runtime gave up on it (shutdown) */
  struct weft_server_call *prev, *next; /* the server's in-flight list */
};

#endif
