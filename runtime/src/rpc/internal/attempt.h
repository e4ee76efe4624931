/* Internal: how a built-in transport's connection attempt without
 * blocking (connect_async, weft/transport.h) can be stopped, so that
 * weft_client_close does not wait for it (up to connect_timeout_ms) when
 * its server never answers. Not installed; transports reach it through
 * weft_rpc's build include path. A transport that registers nothing (a
 * user's) keeps the public contract: close waits for its done.
 *
 * The transport registers stop(ud) once its attempt started (inside
 * connect_async, or later on the loop); done clears it. stop frees the attempt
 * and everything it holds that points at the client (its socket, TLS, the
 * runtime's URL and options), or detaches it from them, and never calls done:
 * the runtime ends the attempt itself (WEFT_ERR_CANCELLED, reported to nobody:
 * the client is closing).
 *
 * Threads: all three on the client loop's thread, where connect_async and
 * done run too, so a stop and a done never overlap. */
#ifndef WEFT_ATTEMPT_H
#define WEFT_ATTEMPT_H

#include "weft/client.h"

typedef void (*weft__attempt_stop_fn)(void *ud);

void weft__client_attempt_set(weft_client *c, weft__attempt_stop_fn stop,
                              void *ud);
void weft__client_attempt_clear(weft_client *c);
/* What is registered now (stop NULL: nothing), for a transport that runs
 * another's attempt inside its own and must stop both. */
void weft__client_attempt_get(weft_client *c, weft__attempt_stop_fn *stop,
                              void **ud);

#endif
