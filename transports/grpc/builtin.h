/* The health and reflection services the gRPC transport adds. */
#ifndef WEFT_GRPC_BUILTIN_H
#define WEFT_GRPC_BUILTIN_H

#include "grpc/health/v1/health.weft.h"
#include "grpc/reflection/v1alpha/reflection.weft.h"
#include "grpc_internal.h"

extern const grpc__health__v1__Health_impl weft__grpc_health_impl;
extern const grpc__reflection__v1alpha__ServerReflection_impl
    weft__grpc_reflection_impl;

/* The service of that full name if s serves it, else NULL. */
const weft_service_desc *weft__grpc_served(const weft_server *s,
                                           const char *name);

/* Reports NOT_SERVING for everything (the server stops accepting). */
void weft__grpc_health_down(const weft_server *s);
/* Drops health overrides of a server whose listener closes. */
void weft__grpc_health_forget(const weft_server *s);

#endif
