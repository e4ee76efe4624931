/* The h2c:// / https:// client's entry for other transports: https://
 * (transports/http1) opens the TLS connection itself, offering ALPN
 * "h2,http/1.1", and hands it over here when the server picks h2. */
#ifndef WEFT_TRANSPORTS_H2_CLIENT_H
#define WEFT_TRANSPORTS_H2_CLIENT_H

#include "../common/sock.h"
#include "weft/transport.h"

/* Takes conn (ALPN "h2" negotiated) and tls (the context it was opened
 * with) over, also on failure. *out is a connection of
 * weft__h2c_client_transport, whose call functions serve it, including
 * call_start_async (native asynchronous calls: a transport that adopts a
 * connection passes them through). Returns 0, WEFT_ERR_NOMEM or the loop's
 * error. */
int weft__h2_client_adopt(weft_client *client, const weft_url *url,
                          const weft_client_opts *o, weft__conn *conn,
                          weft__tls_ctx *tls, void **out, weft_error *err);
extern const weft_client_transport weft__h2c_client_transport;

#endif
