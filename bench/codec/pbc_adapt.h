/* Bench-only bridge: weft descriptors derived from protoc-c descriptors, so
 * weft can decode into and encode from the very structs protoc-c generated
 * (protoc-c and weft share protobuf-c's struct layout). Used until the
 * generator's output is wired into this benchmark. proto3 only. */
#ifndef WEFT_BENCH_PBC_ADAPT_H
#define WEFT_BENCH_PBC_ADAPT_H

#include "weft/desc.h"

#ifdef __cplusplus
extern "C" {
#endif

const weft_msg_desc *weft_bench_adapt(const ProtobufCMessageDescriptor *pd);

#ifdef __cplusplus
}
#endif
#endif
