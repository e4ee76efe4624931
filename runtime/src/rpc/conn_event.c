/* Connection events (weft_server_opts.on_connection): the helpers server
 * transports call when they accept and drop connections. */
#include <stdio.h>
#include <string.h>

#include "weft/transport.h"

void weft_server_conn_event(weft_server *s, weft_conn_event_kind kind,
                            const char *scheme, const char *listener,
                            const char *peer, int error, const char *reason,
                            uint64_t calls) {
  const weft_server_opts *o = s ? weft_server_get_opts(s) : NULL;
  if (!o || !o->on_connection)
    return;
  weft_conn_event ev = {
      .kind = kind,
      .scheme = scheme ? scheme : "",
      .listener = listener ? listener : "",
      .peer = peer ? peer : "",
      .error = kind == WEFT_CONN_EVENT_CLOSED ? error : 0,
      .reason = kind == WEFT_CONN_EVENT_CLOSED && reason ? reason : "",
      .calls = calls};
  o->on_connection(o->on_connection_ud, &ev);
}

void weft_format_listen_url(char *buf, size_t cap, const char *scheme,
                            const char *host, int port) {
  if (!host || !host[0])
    host = "0.0.0.0";
  snprintf(buf, cap, strchr(host, ':') ? "%s://[%s]:%d" : "%s://%s:%d", scheme,
           host, port);
}
