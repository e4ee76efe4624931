/* weft's side of bench_grpc: the Bench service and client loops in C. */
#ifndef WEFT_BENCH_WEFT_H
#define WEFT_BENCH_WEFT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_server weft_server;
typedef struct weft_client weft_client;

/* Starts a weft server with the Bench service on grpc://127.0.0.1:0;
 * inline_handlers: 0 sets weft_grpc_opts.pool_handlers. */
weft_server *bench_weft_server_start(int *port, int inline_handlers);
void bench_weft_server_stop(weft_server *s);

weft_client *bench_weft_client_open(int port);
void bench_weft_client_close(weft_client *c);
/* One unary call with `size` payload bytes; 0 on success. */
int bench_weft_unary(weft_client *c, void *arena, int64_t seq, int size);
/* One server-streaming call; returns the number of messages received. */
long bench_weft_stream(weft_client *c, void *arena, int count, int size);
void *bench_weft_arena_new(void);
void bench_weft_arena_free(void *arena);

#ifdef __cplusplus
}
#endif
#endif
