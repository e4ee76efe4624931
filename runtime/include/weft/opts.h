/* Tagged, chainable transport options.
 *
 * weft_server_opts.transport_opts and weft_client_opts.transport_opts are
 * one pointer, shared by every listener of a server (or the one connection
 * of a client). So every transport options struct (weft_http2_opts,
 * weft_ws_opts, weft_grpc_opts, and a user transport's own) starts with a
 * weft_opts_hdr: a tag saying which struct it is, and a `next` pointer to
 * the next options struct. A server that needs gRPC and WebSocket options
 * at once chains them:
 *
 *   weft_grpc_opts g = WEFT_GRPC_OPTS_INIT;
 *   weft_ws_opts w = WEFT_WS_OPTS_INIT;
 *   w.route = my_route;
 *   g.hdr.next = &w.hdr;
 *   server_opts.transport_opts = &g;
 *
 * Each transport looks its own struct up with weft_opts_find() and ignores
 * the others. Initialize options structs with their WEFT_*_OPTS_INIT macro
 * (it sets the tag); a struct whose tag is zero or garbage is refused with
 * WEFT_ERR_INVAL at weft_server_listen / weft_client_open, never misread.
 *
 * The rule that tells a tag from garbage: a tag is four ASCII letters or
 * digits, the first one 'w', packed with WEFT_OPTS_TAG('w', 'x', 'y', 'z')
 * (so it reads "wxyz" in memory on little-endian machines). A user
 * transport picks its own four characters.
 */
#ifndef WEFT_OPTS_H
#define WEFT_OPTS_H

#include <stddef.h>
#include <stdint.h>

#include "weft/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WEFT_OPTS_TAG(a, b, c, d)                                              \
  ((uint32_t)(unsigned char)(a) | ((uint32_t)(unsigned char)(b) << 8) |        \
   ((uint32_t)(unsigned char)(c) << 16) |                                      \
   ((uint32_t)(unsigned char)(d) << 24))

/* Tags of weft's own transports (their structs live in weft/http2.h,
 * weft/websocket.h and weft/grpc_transport.h). */
#define WEFT_HTTP2_OPTS_TAG WEFT_OPTS_TAG('w', '2', 'h', '2') /* 0x32683277 */
#define WEFT_WS_OPTS_TAG WEFT_OPTS_TAG('w', 'w', 's', '1')
#define WEFT_GRPC_OPTS_TAG WEFT_OPTS_TAG('w', 'g', 'r', '1')

typedef struct weft_opts_hdr {
  uint32_t tag;                     /* WEFT_*_OPTS_TAG */
  const struct weft_opts_hdr *next; /* next options struct, or NULL */
} weft_opts_hdr;

/* Initializers for a struct's WEFT_*_OPTS_INIT macro: the header alone,
 * and the struct's first member (`.hdr = ...` in C). */
#ifdef __cplusplus
#define WEFT_OPTS_HDR_INIT(t)                                                  \
  { (t), nullptr }
#define WEFT_OPTS_INIT_HDR_MEMBER(t) WEFT_OPTS_HDR_INIT(t)
#else
#define WEFT_OPTS_HDR_INIT(t)                                                  \
  { .tag = (t), .next = NULL }
#define WEFT_OPTS_INIT_HDR_MEMBER(t) .hdr = WEFT_OPTS_HDR_INIT(t)
#endif

/* 1 if tag follows the rule above, else 0. Cannot fail. */
int weft_opts_tag_valid(uint32_t tag);

/* The first struct in chain whose tag is `tag`, or NULL (also if chain is
 * NULL, or malformed: check it with weft_opts_check first; the walk stops
 * at the first invalid tag or after 64 links). The result points into the
 * caller's chain (nothing is copied): it lives as long as the caller keeps
 * that struct. */
const void *weft_opts_find(const void *chain, uint32_t tag);

/* 0 if every struct in chain (NULL is fine) has a valid tag and the chain
 * ends within 64 links; else WEFT_ERR_INVAL with err (may be NULL) saying
 * which link is wrong. `what` names the chain in the message (NULL:
 * "transport_opts"). Only reads the chain. */
int weft_opts_check(const void *chain, const char *what, weft_error *err);

/* weft_opts_check + weft_opts_find: *out is the struct tagged `tag`, or
 * NULL if the chain has none (or on error). What transports call at
 * listen/connect. *out points into the caller's chain, as with
 * weft_opts_find. Returns 0 or WEFT_ERR_INVAL (err says which link). out
 * must not be NULL. */
int weft_opts_get(const void *chain, uint32_t tag, const void **out,
                  weft_error *err);

#ifdef __cplusplus
}
#endif
#endif
