/* MB over WebSocket (ws or wss) on the shared client loop: the raw
 * WebSocket client of transports/websocket (ws_dial.c: a blocking connect
 * and upgrade, then frames parsed on the client loop), one text message
 * per MB message. Messages over the broker's limit plus one header end the
 * connection with 1009, as the broker ends it for its peers. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mb_client_int.h"
#include "weft/transport.h"
#include "ws_net.h"

typedef struct ws_link {
  weft__mb_link base;
  const weft__mb_link_cbs *cb;
  void *ud;
  char where[300];
  weft_ws_conn *c;
  atomic_bool gone; /* closed by the owner: no more callbacks */
  bool reported;    /* loop thread */
} ws_link;

/* Before any message, so a heartbeat that came with the upgrade can be
 * answered while the dial has not returned yet. */
static void ws_open(weft_ws_conn *c, void *ud) {
  ((ws_link *)ud)->c = c;
}

static void ws_message(weft_ws_conn *c, bool text, const uint8_t *data,
                       size_t len, void *ud) {
  (void)text; /* the broker sends text; binary is read alike, as it does */
  ws_link *l = ud;
  if (!atomic_load(&l->gone) &&
      !l->cb->on_message(l->ud, (const char *)data, len))
    weft_ws_conn_close(c, 1002, "not an MB message");
}

static void ws_closed(weft_ws_conn *c, int code, const char *reason, void *ud) {
  (void)c;
  ws_link *l = ud;
  if (atomic_load(&l->gone) || l->reported)
    return;
  l->reported = true;
  char why[400];
  if (code == 1009)
    snprintf(why, sizeof why,
             "the MB broker at %s sent a WebSocket message over %d bytes "
             "(closed 1009)",
             l->where, WEFT__MBC_MAX_FROM_BROKER);
  else
    snprintf(why, sizeof why,
             "the WebSocket to the MB broker at %s closed: %d%s%s", l->where,
             code, reason && *reason ? " " : "", reason ? reason : "");
  l->cb->on_closed(l->ud,
                   code == 1002 || code == 1007 || code == 1009
                       ? WEFT_ERR_PROTOCOL
                       : WEFT_ERR_CLOSED,
                   why);
}

static const weft_ws_handler handler = {ws_open, ws_message, ws_closed};

static int ws_send(weft__mb_link *base, const char *msg, size_t len) {
  ws_link *l = (ws_link *)base;
  int rv = weft_ws_conn_send(l->c, true, msg, len);
  return rv == WEFT_ERR_NOMEM ? rv : rv < 0 ? WEFT_ERR_CLOSED : 0;
}

static void free_post(void *ud) {
  ws_link *l = ud;
  weft_client_loop_release(l->base.loop);
  free(l);
}

static void ws_close(weft__mb_link *base) {
  ws_link *l = (ws_link *)base;
  atomic_store(&l->gone, true);
  /* Off the loop: the close handshake (bounded), and every callback has
   * returned by then. On the loop (a client closed from its callback):
   * cut short, and this link's callback frames are still on the stack,
   * so its memory goes in posted work. */
  bool on_loop = weft_loop_in_thread(base->loop);
  weft__ws_dial_close(l->c);
  if (on_loop && weft_loop_post(base->loop, free_post, l) == 0)
    return;
  free_post(l);
}

static const weft__mb_link_ops ws_ops = {ws_send, ws_close};

int weft__mb_link_ws_open(weft__mb_link **out, const weft__mb_link_args *a,
                          weft_error *err) {
  ws_link *l = calloc(1, sizeof *l);
  if (!l)
    return weft_error_set(err, WEFT_ERR_NOMEM, "MB client: out of memory");
  int rv = weft_client_loop_acquire(&l->base.loop, err);
  if (rv < 0) {
    free(l);
    return rv;
  }
  l->base.ops = &ws_ops;
  l->cb = a->cb;
  l->ud = a->ud;
  atomic_init(&l->gone, false);
  snprintf(l->where, sizeof l->where, "%s", a->where);
  weft__ws_dial_args d = {.host = a->host,
                          .port = a->port,
                          .target = a->target,
                          .tls = a->tls,
                          .tls_opts = a->tls_opts,
                          .extra_headers = a->extra_headers,
                          .timeout_ms = a->timeout_ms,
                          .handler = &handler,
                          .ud = l};
  weft__ws_cfg_init(&d.cfg, NULL, NULL, WEFT__MBC_MAX_FROM_BROKER, 0);
  /* Closing is a courtesy to the broker: do not hold the caller long. */
  d.cfg.close_timeout_ms = 2000;
  *out = &l->base; /* messages may arrive before the dial returns */
  int status = 0;
  weft_ws_conn *c = NULL; /* l->c is set by ws_open, on the loop */
  rv = weft__ws_dial(&c, &d, &status, err);
  if (rv < 0) {
    *out = NULL;
    weft_client_loop_release(l->base.loop);
    free(l);
    return rv;
  }
  return 0;
}
