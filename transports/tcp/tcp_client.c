/* The client side of tcp:// and tls://: one connection per weft_client,
 * its socket on the process-wide client loop (weft_client_loop_acquire).
 * Calls run on the mux. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "../common/dial.h"
#include "tcp_internal.h"
#include "weft/transport.h"

#define RBUF_SIZE (64u * 1024u)

typedef struct tcp_client {
  weft_client *client;
  weft_loop *loop;
  weft__tls_ctx *tls;
  weft__tcp_conn *conn;
  uint8_t *rbuf;
  /* disconnect() in progress: no notifications. Set by the closing thread
   * while the loop may be reporting the server's close. */
  atomic_bool closing;
} tcp_client;

static void on_dead(weft__tcp_conn *c, const weft_error *why) {
  tcp_client *tc = c->owner;
  if (atomic_load(&tc->closing))
    return;
  /* A clean close by the server is a disconnect; anything else an error. */
  weft_client_notify(tc->client,
                     why && why->code != WEFT_ERR_CLOSED
                         ? WEFT_CONN_ERROR
                         : WEFT_CONN_DISCONNECTED,
                     why);
}

/* The connection is closed and nothing refers to it any more. */
static void client_free(tcp_client *tc) {
  weft__tcp_conn_free(tc->conn);
  weft_client_loop_release(tc->loop);
  weft__tls_ctx_free(tc->tls);
  free(tc->rbuf);
  free(tc);
}

typedef struct reg_args {
  tcp_client *tc;
  weft__conn *sock;
  weft__tcp_conn_opts co;
  weft_error *err;
  int rc;
} reg_args;

static void register_on_loop(void *ud) {
  reg_args *a = ud;
  a->rc =
      weft__tcp_conn_new(&a->tc->conn, a->tc->loop, a->sock, &a->co, a->err);
  if (a->rc == 0) {
    a->tc->conn->owner = a->tc;
    a->tc->conn->on_dead = on_dead;
  }
}

/* Connects, or with `dialed` set (a reconnect dialled on the loop) takes
 * that socket and its dialed_tls, which then belong to the connection,
 * also when it fails. */
static int tcp_connect_common(weft_client *client, const weft_url *url,
                              const weft_client_opts *opts, bool tls,
                              void **out, weft_error *err, weft__conn *dialed,
                              weft__tls_ctx *dialed_tls) {
  static const weft_client_opts defaults;
  weft__conn *sock = NULL;
  int rc = 0;
  if (!opts)
    opts = &defaults;
  *out = NULL;
  tcp_client *tc = calloc(1, sizeof *tc);
  if (!tc) {
    weft__conn_close(dialed);
    weft__tls_ctx_free(dialed_tls);
    return weft_error_set(err, WEFT_ERR_NOMEM, "tcp client");
  }
  tc->client = client;
  tc->tls = dialed_tls;
  sock = dialed;
  tc->rbuf = malloc(RBUF_SIZE);
  if (!tc->rbuf) {
    rc = weft_error_set(err, WEFT_ERR_NOMEM, "tcp client");
    weft__conn_close(sock);
    goto fail;
  }
  if (tls && !dialed &&
      (rc = weft__tls_ctx_new(&tc->tls, false, &opts->tls, NULL, err)) < 0)
    goto fail;
  int port = url->port > 0 ? url->port : (tls ? 7444 : 7443);
  if (!dialed)
    rc = weft__conn_connect(&sock, url->host, port, tc->tls,
                            opts->tls.server_name, opts->connect_timeout_ms,
                            err);
  if (rc < 0)
    goto fail;
  if ((rc = weft_client_loop_acquire(&tc->loop, err)) < 0) {
    weft__conn_close(sock);
    goto fail;
  }
  size_t max_msg =
      opts->max_message_size ? opts->max_message_size : 4u * 1024u * 1024u;
  weft__mux_opts mo = {
      .server = false, .codec = opts->codec, .max_message_size = max_msg};
  /* Callers waiting for replies run the loop themselves (loop.h): the
   * reply then wakes the caller, not the loop thread that wakes it. */
  reg_args ra = {.tc = tc,
                 .sock = sock,
                 .err = err,
                 .co = {.mux = &mo,
                        .drivable = true,
                        .max_frame = max_msg + WEFT__TCP_FRAME_SLACK,
                        .keepalive_ms = opts->keepalive_ms,
                        .idle_timeout_ms = opts->idle_timeout_ms,
                        .rbuf = tc->rbuf,
                        .rcap = RBUF_SIZE}};
  /* The loop runs: its fds and timers are set up on its thread. */
  if ((rc = weft_loop_run_sync(tc->loop, register_on_loop, &ra)) == 0)
    rc = ra.rc;
  else
    weft__conn_close(sock);
  if (rc < 0) {
    if (err && !err->message[0])
      weft_error_set(err, rc, "tcp client: registering the socket");
    goto fail;
  }
  *out = tc;
  return 0;
fail:
  atomic_store(&tc->closing, true);
  client_free(tc); /* the connection was not made: nothing was posted */
  return rc;
}

static int tcp_connect(weft_client *client, const weft_url *url,
                       const weft_client_opts *opts, void **conn,
                       weft_error *err) {
  return tcp_connect_common(client, url, opts, false, conn, err, NULL, NULL);
}

static int tls_connect(weft_client *client, const weft_url *url,
                       const weft_client_opts *opts, void **conn,
                       weft_error *err) {
  return tcp_connect_common(client, url, opts, true, conn, err, NULL, NULL);
}

static int tcp_adopt(weft_client *client, const weft_url *url,
                     const weft_client_opts *opts, weft__conn *sock,
                     weft__tls_ctx *tls, void **conn, weft_error *err) {
  return tcp_connect_common(client, url, opts, tls != NULL, conn, err, sock,
                            tls);
}

/* Reconnect attempts dialled on the loop (transports/common/dial.h). */
static int connect_async_common(weft_client *client, const weft_url *url,
                                const weft_client_opts *opts, bool tls,
                                void (*done)(weft_client *, int, void *,
                                             const weft_error *),
                                weft_error *err) {
  weft__tls_ctx *ctx = NULL;
  int rc =
      tls ? weft__tls_ctx_new(&ctx, false, opts ? &opts->tls : NULL, NULL, err)
          : 0;
  if (rc < 0)
    return rc;
  int port = url->port > 0 ? url->port : (tls ? 7444 : 7443);
  return weft__dial_connect_async(client, url, opts, port, ctx, tcp_adopt, done,
                                  err);
}

static int tcp_connect_async(weft_client *client, const weft_url *url,
                             const weft_client_opts *opts,
                             void (*done)(weft_client *, int, void *,
                                          const weft_error *),
                             weft_error *err) {
  return connect_async_common(client, url, opts, false, done, err);
}

static int tls_connect_async(weft_client *client, const weft_url *url,
                             const weft_client_opts *opts,
                             void (*done)(weft_client *, int, void *,
                                          const weft_error *),
                             weft_error *err) {
  return connect_async_common(client, url, opts, true, done, err);
}

static void close_on_loop(void *ud) {
  tcp_client *tc = ud;
  weft_error e;
  weft_error_set(&e, WEFT_ERR_CLOSED, "client closed the connection");
  weft__mux_goaway(tc->conn->mux);
  weft__tcp_conn_close(tc->conn, &e);
}

static void noop(void *ud) {
  (void)ud;
}

/* Loop thread: frees once callbacks posted for the connection have run (a
 * sender may post a flush just before the close), else looks again after
 * the work posted meanwhile. */
static void reap_on_loop(void *ud) {
  tcp_client *tc = ud;
  if (weft__tcp_conn_reapable(tc->conn) ||
      weft_loop_post(tc->loop, reap_on_loop, tc) < 0)
    client_free(tc);
}

static void tcp_disconnect(void *conn) {
  tcp_client *tc = conn;
  if (!tc)
    return;
  atomic_store(&tc->closing, true);
  if (weft_loop_in_thread(tc->loop)) {
    /* From a callback on the loop (a user's on_disconnect closing the
     * client, the runtime's reconnect timer): the caller may still use the
     * connection when the callback returns, so it is freed by work posted
     * to the loop, which runs after it. */
    close_on_loop(tc);
    if (weft_loop_post(tc->loop, reap_on_loop, tc) < 0)
      client_free(tc); /* out of memory: better now than never */
    return;
  }
  weft_loop_run_sync(tc->loop, close_on_loop, tc);
  for (int i = 0; i < 1000 && !weft__tcp_conn_reapable(tc->conn); i++)
    weft_loop_run_sync(tc->loop, noop, NULL); /* posts made before have run */
  client_free(tc);
}

static int tcp_call_start(void *conn, const weft_method_desc *m,
                          const weft_metadata *md, int64_t deadline_ns,
                          void **tcall, weft_error *err) {
  tcp_client *tc = conn;
  return weft__mux_call_start(tc->conn->mux, m, md, deadline_ns, tcall, err);
}

static int tcp_call_start_async(void *conn, const weft_method_desc *m,
                                const weft_metadata *md, int64_t deadline_ns,
                                weft_arena *arena, const weft_call_events *ev,
                                void *ud, void **tcall, weft_error *err) {
  tcp_client *tc = conn;
  return weft__mux_call_start_async(tc->conn->mux, m, md, deadline_ns, arena,
                                    ev, ud, tcall, err);
}

const weft_client_transport weft__tcp_client_transport = {
    .scheme = "tcp",
    .default_port = 7443,
    .connect = tcp_connect,
    .disconnect = tcp_disconnect,
    .call_start = tcp_call_start,
    .call_send = weft__mux_call_send,
    .call_close_send = weft__mux_call_close_send,
    .call_recv = weft__mux_call_recv,
    .call_finish = weft__mux_call_finish,
    .call_cancel = weft__mux_call_cancel,
    .call_start_async = tcp_call_start_async,
    .connect_async = tcp_connect_async,
};

const weft_client_transport weft__tls_client_transport = {
    .scheme = "tls",
    .default_port = 7444,
    .connect = tls_connect,
    .disconnect = tcp_disconnect,
    .call_start = tcp_call_start,
    .call_send = weft__mux_call_send,
    .call_close_send = weft__mux_call_close_send,
    .call_recv = weft__mux_call_recv,
    .call_finish = weft__mux_call_finish,
    .call_cancel = weft__mux_call_cancel,
    .call_start_async = tcp_call_start_async,
    .connect_async = tls_connect_async,
};
