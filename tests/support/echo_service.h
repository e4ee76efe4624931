/* The shared test service (echo.proto) implemented once for every
 * transport's tests: Unary echoes (and copies request metadata starting with
 * "x-" into response headers and trailers), ServerStream sends `repeat`
 * responses, ClientStream concatenates, Bidi echoes each message. */
#ifndef WEFT_TEST_ECHO_SERVICE_H
#define WEFT_TEST_ECHO_SERVICE_H

#include "echo.weft.h"
#include "weft/server.h"

#ifdef __cplusplus
extern "C" {
#endif

extern const weft__test__Echo_impl weft_test_echo_impl;

/* Adds the Echo service to s. */
int weft_test_echo_add(weft_server *s);

#ifdef __cplusplus
}
#endif
#endif
