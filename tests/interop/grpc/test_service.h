/* grpc.testing.TestService implemented as a weft service, with the
 * behaviour gRPC's interop test descriptions ask of a server: payloads of
 * the requested sizes, echoed status (EchoStatus) and metadata
 * (x-grpc-test-echo-initial, x-grpc-test-echo-trailing-bin), response
 * intervals, and UnimplementedCall left unimplemented. */
#ifndef WEFT_INTEROP_TEST_SERVICE_H
#define WEFT_INTEROP_TEST_SERVICE_H

#include "grpc/testing/test.weft.h"
#include "weft/server.h"

#ifdef __cplusplus
extern "C" {
#endif

extern const grpc__testing__TestService_impl weft_interop_test_service;
int weft_interop_add_test_service(weft_server *s);

#ifdef __cplusplus
}
#endif
#endif
