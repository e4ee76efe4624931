/* The AITBC reference node: every aitbc.v1 service (Jobs, Blockchain,
 * Marketplace, Settlement, Wallet, Receipts) with embedded in-memory state,
 * served on gRPC, HTTP/2, WebSocket and TCP at once. `weft serve` runs it;
 * it is also the example of a complete weft server application. */
#ifndef WEFT_NODE_H
#define WEFT_NODE_H

#ifdef __cplusplus
extern "C" {
#endif

/* How the node keeps its state; the flags --nats, --node-id and
 * --lease-ms fill it. Without nats_url the state lives in this process;
 * with it, nodes sharing one NATS server (JetStream) share jobs and the
 * chain (examples/node/README.md, "Several nodes: NATS"). */
typedef struct weft_node_opts {
  const char *nats_url; /* e.g. nats://127.0.0.1:4222, or NULL */
  const char *node_id;  /* [A-Za-z0-9_-], at most 32; NULL: node-<pid> */
  long lease_ms;        /* leader lease (default 3000) */
} weft_node_opts;

/* Parses flags (see --help), serves until SIGINT/SIGTERM, shuts down
 * cleanly. Returns a process exit code: 0 after a clean shutdown, 2 for bad
 * flags, 1 when the node cannot start (e.g. a port is taken). Call it from
 * the main thread before any other thread exists: it blocks SIGINT/SIGTERM
 * in the calling thread so a dedicated thread can sigwait() for them. */
int weft_node_main(int argc, char **argv);

#ifdef __cplusplus
}
#endif
#endif
