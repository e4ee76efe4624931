/* mem://name: an in-memory transport for testing the rpc core without
 * sockets. Messages cross it encoded (weft_encode -> weft_decode), so the
 * codec path is the real one. Test hooks simulate connection loss and
 * refusal. */
#ifndef WEFT_TEST_MEM_TRANSPORT_H
#define WEFT_TEST_MEM_TRANSPORT_H

#include <stdbool.h>

#include "weft/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Registers the mem client and server transports (idempotent). */
void mem_transport_register(void);
/* Drops every connection to server `name`: calls fail (client UNAVAILABLE,
 * server cancelled) and clients are notified DISCONNECTED. */
void mem_transport_kill(const char *name);
/* Successful connects so far (all servers). */
int mem_transport_connects(void);
/* Connection attempts so far, successful or not. */
int mem_transport_attempts(void);

#ifdef __cplusplus
}
#endif
#endif
