/* The AITBC WebSocket API on a weft server: raw WebSocket routes whose
 * messages become calls of the server's own aitbc.v1 services. Each call is
 * handed to the runtime with weft_server_dispatch(), exactly like a
 * transport's: this file is a small transport whose wire format is AITBC's
 * JSON (weft/aitbc_ws.h). See weft/aitbc_endpoint.h. */
#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_exact.h"
#include "weft/aitbc_endpoint.h"
#include "weft/aitbc_ws.h"
#include "weft/json.h"
#include "weft/rest.h"
#include "weft/transport.h"
#include "weft/utf8.h"

struct weft_aitbc_endpoint {
  weft_aitbc_endpoint_opts o;
};

/* CONN_SDK (/ws, where AIP clients connect): requests and subscriptions
 * only, no event stream until asked for one. */
enum conn_kind { CONN_JOB, CONN_EVENTS, CONN_SDK };
enum call_kind { CALL_JOB_WATCH, CALL_EVENTS, CALL_SDK_REQUEST, CALL_SDK_SUB };

typedef struct call_ctx call_ctx;

/* One AITBC WebSocket connection. Shared by the I/O thread (messages,
 * close) and the worker threads running its calls: refcounted. */
typedef struct ep_conn {
  atomic_int refs;
  pthread_mutex_t mu;
  weft_ws_conn *ws; /* referenced from on_open until the last unref */
  enum conn_kind kind;
  char *job_id;
  char *api_key;
  char peer[64];
  bool auth_failed;
  /* The SDK routes; used on the I/O thread only (messages). */
  weft_rest_router *router;
  char router_err[WEFT_ERROR_MSG_MAX];
  /* under mu */
  bool closed;
  unsigned stream_calls; /* job watch / event streams still running */
  call_ctx *calls;
} ep_conn;

struct call_ctx {
  ep_conn *ec;
  enum call_kind kind;
  const weft_method_desc *m;
  char *req_json;
  bool req_given;
  char *sdk_id;
  bool sdk_id_num;
  char *event;
  atomic_bool cancelled;
  char recv_err[WEFT_ERROR_MSG_MAX];
  call_ctx *next;
};

/* ---- helpers ---- */

static void ec_unref(ep_conn *ec) {
  if (atomic_fetch_sub(&ec->refs, 1) != 1)
    return;
  if (ec->ws)
    weft_ws_conn_unref(ec->ws);
  pthread_mutex_destroy(&ec->mu);
  weft_rest_router_free(ec->router);
  free(ec->job_id);
  free(ec->api_key);
  free(ec);
}

static void send_text(ep_conn *ec, const char *s) {
  if (ec->ws && s)
    weft_ws_conn_send(ec->ws, true, s, strlen(s));
}

static void send_msg(ep_conn *ec, const weft_aitbc_ws_msg *m) {
  char *out = NULL;
  if (weft_aitbc_ws_encode(m, &out, NULL, NULL) == 0)
    send_text(ec, out);
  free(out);
}

static void send_error(ep_conn *ec, const char *id, bool id_num,
                       const char *message) {
  weft_aitbc_ws_msg m = {0};
  m.kind = WEFT_AITBC_WS_ERROR;
  m.id = (char *)id;
  m.id_is_number = id_num;
  m.message = (char *)message;
  send_msg(ec, &m);
}

/* ---- the REST routes of the AITBC SDK ---- */

/* The routes are the google.api.http rules of the server's own services
 * (schema/aitbc/v1), matched by weft/rest.h: one table for HTTP and this
 * endpoint. Built on the connection's first SDK message, from the services
 * its server has then. Returns NULL and sets *why if it cannot be. */
static weft_rest_router *conn_router(ep_conn *ec, const char **why) {
  if (ec->router)
    return ec->router;
  weft_server *srv = ec->ws ? weft_ws_conn_server(ec->ws) : NULL;
  weft_rest_router *r = NULL;
  weft_error err = {0};
  if (!srv || weft_rest_router_new(&r, &err) < 0 ||
      weft_rest_router_add_server(r, srv, &err) < 0) {
    weft_rest_router_free(r);
    snprintf(ec->router_err, sizeof ec->router_err, "%s",
             srv ? err.message : "no server");
    *why = ec->router_err;
    return NULL;
  }
  ec->router = r;
  return r;
}

/* Adds value at the dotted field path in o (creating the objects on the
 * way), replacing what was there. */
static void set_path(cJSON *o, const char *path, cJSON *value) {
  const char *dot;
  while ((dot = strchr(path, '.')) != NULL) {
    char key[128];
    size_t n = (size_t)(dot - path);
    if (n >= sizeof key)
      break;
    memcpy(key, path, n);
    key[n] = '\0';
    cJSON *next = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsObject(next)) {
      cJSON_DeleteItemFromObjectCaseSensitive(o, key);
      next = cJSON_AddObjectToObject(o, key);
      if (!next) {
        cJSON_Delete(value);
        return;
      }
    }
    o = next;
    path = dot + 1;
  }
  cJSON_DeleteItemFromObjectCaseSensitive(o, path);
  cJSON_AddItemToObject(o, path, value);
}

/* An SDK message's `data` or `params` (JSON text kept by the parser) as
 * an object whose numbers print as sent (json_exact.h); NULL text: none. */
static int sdk_object(const char *text, const char *key, cJSON **out,
                      weft_error *err) {
  *out = NULL;
  if (!text)
    return 0;
  char what[32];
  snprintf(what, sizeof what, "\"%s\"", key);
  int rv = weft__jx_parse(out, text, strlen(text), what, err);
  if (rv == 0 && !cJSON_IsObject(*out)) {
    cJSON_Delete(*out);
    *out = NULL;
    rv = weft_error_set(err, WEFT_ERR_JSON_TYPE, "\"%s\" must be an object",
                        key);
  }
  return rv;
}

/* The request message's JSON: the SDK's data object (under the rule's
 * body field when it names one), its params, then the path variables (and
 * any extra key/value), merged into one object. Numbers go on as the
 * client wrote them; a `data` or `params` that is not an object is an
 * error, not dropped. */
static int build_request(const char *data, const char *params,
                         const weft_rest_match *rm, const char *xkey,
                         const char *xval, char **out, weft_error *err) {
  cJSON *o = NULL, *p = NULL;
  int rv;
  *out = NULL;
  if ((rv = sdk_object(data, "data", &o, err)) < 0 ||
      (rv = sdk_object(params, "params", &p, err)) < 0) {
    cJSON_Delete(o);
    return rv;
  }
  const char *bf = rm && rm->rule ? rm->rule->body : NULL;
  if (o && bf && *bf && strcmp(bf, "*") != 0) {
    cJSON *w = cJSON_CreateObject();
    if (w)
      cJSON_AddItemToObject(w, bf, o);
    else
      cJSON_Delete(o);
    o = w;
  }
  if (!o)
    o = cJSON_CreateObject();
  if (!o) {
    cJSON_Delete(p);
    return weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
  }
  for (cJSON *it = p ? p->child : NULL, *next; it; it = next) {
    next = it->next;
    const char *k = it->string;
    cJSON_DetachItemViaPointer(p, it);
    if (cJSON_GetObjectItemCaseSensitive(o, k))
      cJSON_DeleteItemFromObjectCaseSensitive(o, k);
    cJSON_AddItemToObject(o, k, it);
  }
  cJSON_Delete(p);
  for (unsigned i = 0; rm && i < rm->n_vars; i++)
    set_path(o, rm->vars[i].field, cJSON_CreateString(rm->vars[i].value));
  if (xkey && xval) {
    cJSON_DeleteItemFromObjectCaseSensitive(o, xkey);
    cJSON *arr = cJSON_CreateArray();
    cJSON_AddItemToArray(arr, cJSON_CreateString(xval));
    cJSON_AddItemToObject(o, xkey, arr);
  }
  *out = weft__jx_print(o, false);
  cJSON_Delete(o);
  return *out ? 0 : weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
}

/* ---- calls into the server ---- */

static int op_recv(void *tc, weft_arena *arena, void **msg) {
  call_ctx *cc = tc;
  if (cc->req_given)
    return 0;
  cc->req_given = true;
  weft_json_opts jo = {0};
  jo.flags = WEFT_JSON_IGNORE_UNKNOWN;
  jo.arena = arena;
  weft_error err = {0};
  int rv = weft_json_decode(cc->m->input, cc->req_json, strlen(cc->req_json),
                            &jo, msg, &err);
  if (rv < 0) {
    snprintf(cc->recv_err, sizeof cc->recv_err, "%s", err.message);
    return rv;
  }
  return 1;
}

static const char *op_recv_error(void *tc) {
  call_ctx *cc = tc;
  return cc->recv_err;
}

static bool op_cancelled(void *tc) {
  call_ctx *cc = tc;
  if (atomic_load(&cc->cancelled))
    return true;
  pthread_mutex_lock(&cc->ec->mu);
  bool closed = cc->ec->closed;
  pthread_mutex_unlock(&cc->ec->mu);
  return closed;
}

/* JobStatus JSON as AITBC writes it: its key order, and null for no miner
 * (proto3 JSON with defaults writes ""). */
/* A JobStatus (its proto3 JSON) as the AITBC job_status message. Fails
 * with what the message lacks (an empty job_id, a NaN progress), not as
 * out of memory. */
static int aitbc_job_status(const char *json, char **out, weft_error *err) {
  weft_aitbc_ws_msg m;
  int rv = weft_aitbc_ws_parse(json, strlen(json), &m, err);
  if (rv < 0)
    return rv;
  if (m.assigned_miner_id && !*m.assigned_miner_id) {
    free(m.assigned_miner_id);
    m.assigned_miner_id = NULL;
  }
  rv = weft_aitbc_ws_encode(&m, out, NULL, err);
  weft_aitbc_ws_msg_clear(&m);
  return rv;
}

static int op_send(void *tc, const void *msg, const weft_metadata *headers) {
  (void)headers;
  call_ctx *cc = tc;
  ep_conn *ec = cc->ec;
  if (op_cancelled(tc))
    return WEFT_ERR_CLOSED;
  weft_json_opts jo = {0};
  jo.flags = WEFT_JSON_PROTO_NAMES | WEFT_JSON_EMIT_DEFAULTS;
  char *json = NULL;
  size_t len = 0;
  weft_error err = {0};
  int rv = weft_json_encode(msg, &jo, &json, &len, &err);
  if (rv < 0)
    return rv;
  char *out = NULL;
  weft_aitbc_ws_msg m = {0};
  switch (cc->kind) {
  case CALL_JOB_WATCH:
    rv = aitbc_job_status(json, &out, &err);
    break;
  case CALL_EVENTS:
    out = json;
    json = NULL;
    break;
  case CALL_SDK_REQUEST:
    m.kind = WEFT_AITBC_WS_RESPONSE;
    m.id = cc->sdk_id;
    m.id_is_number = cc->sdk_id_num;
    m.has_status_code = true;
    m.status_code = 200;
    m.data = json;
    rv = weft_aitbc_ws_encode(&m, &out, NULL, &err);
    break;
  case CALL_SDK_SUB:
    m.kind = WEFT_AITBC_WS_EVENT;
    m.event = cc->event;
    m.subscription_id = cc->sdk_id;
    m.data = json;
    rv = weft_aitbc_ws_encode(&m, &out, NULL, &err);
    break;
  }
  free(json);
  if (rv < 0)
    return rv; /* the handler's send fails with why (was always NOMEM) */
  rv = ec->ws ? weft_ws_conn_send(ec->ws, true, out, strlen(out))
              : WEFT_ERR_CLOSED;
  free(out);
  return rv;
}

static void unlink_call(ep_conn *ec, call_ctx *cc) {
  for (call_ctx **pp = &ec->calls; *pp; pp = &(*pp)->next)
    if (*pp == cc) {
      *pp = cc->next;
      break;
    }
}

static void call_free(call_ctx *cc) {
  free(cc->req_json);
  free(cc->sdk_id);
  free(cc->event);
  free(cc);
}

static int op_finish(void *tc, const weft_status *st,
                     const weft_metadata *headers,
                     const weft_metadata *trailers) {
  (void)headers;
  (void)trailers;
  call_ctx *cc = tc;
  ep_conn *ec = cc->ec;
  pthread_mutex_lock(&ec->mu);
  unlink_call(ec, cc);
  bool closed = ec->closed;
  bool last_stream = false;
  if (cc->kind == CALL_JOB_WATCH || cc->kind == CALL_EVENTS)
    last_stream = --ec->stream_calls == 0;
  pthread_mutex_unlock(&ec->mu);

  const char *why =
      st->message && *st->message ? st->message : weft_status_name(st->code);
  char buf[WEFT_ERROR_MSG_MAX + 32];
  if (!closed && !atomic_load(&cc->cancelled)) {
    weft_aitbc_ws_msg m = {0};
    switch (cc->kind) {
    case CALL_JOB_WATCH:
    case CALL_EVENTS:
      if (st->code != WEFT_STATUS_OK) {
        snprintf(buf, sizeof buf, "%s: %s", weft_status_name(st->code), why);
        send_error(ec, NULL, false, buf);
      }
      /* The job reached a terminal state (or the stream failed): the AITBC
       * API closes the socket; normally if all went well. */
      if (last_stream) {
        if (st->code == WEFT_STATUS_OK)
          weft_ws_conn_close(ec->ws, 1000,
                             cc->kind == CALL_JOB_WATCH ? "job finished"
                                                        : "stream ended");
        else {
          char reason[100];
          /* A close reason is UTF-8 (RFC 6455 section 5.5.1). */
          snprintf(reason, sizeof reason, "%.*s",
                   (int)weft_utf8_prefix(why, 90), why);
          weft_ws_conn_close(ec->ws, 1011, reason);
        }
      }
      break;
    case CALL_SDK_REQUEST:
      if (st->code != WEFT_STATUS_OK) {
        m.kind = WEFT_AITBC_WS_RESPONSE;
        m.id = cc->sdk_id;
        m.id_is_number = cc->sdk_id_num;
        m.has_status_code = true;
        m.status_code = weft_rest_http_status(st->code);
        m.message = (char *)why;
        send_msg(ec, &m);
      }
      break;
    case CALL_SDK_SUB:
      if (st->code != WEFT_STATUS_OK) {
        m.kind = WEFT_AITBC_WS_SUBSCRIPTION;
        m.subscription_id = cc->sdk_id;
        m.status = "error";
        send_msg(ec, &m);
        send_error(ec, cc->sdk_id, cc->sdk_id_num, why);
      }
      break;
    }
  }
  call_free(cc);
  ec_unref(ec);
  return 0;
}

static const weft_server_call_ops call_ops = {
    .recv = op_recv,
    .send = op_send,
    .finish = op_finish,
    .cancelled = op_cancelled,
    .recv_error = op_recv_error,
};

/* Starts rpc on the connection's server. Returns 0, or < 0 with *why set
 * (the call was not started; nothing was sent). */
static int start_call(ep_conn *ec, const char *rpc, enum call_kind kind,
                      char *req_json, const char *sdk_id, bool sdk_id_num,
                      const char *event, const char **why) {
  weft_server *srv = ec->ws ? weft_ws_conn_server(ec->ws) : NULL;
  const weft_method_desc *m = srv ? weft_server_find_method(srv, rpc) : NULL;
  if (!m) {
    free(req_json);
    *why = "this server does not implement that method";
    return WEFT_ERR_UNSUPPORTED;
  }
  bool streaming = m->kind == WEFT_RPC_SERVER_STREAM;
  if ((kind == CALL_SDK_REQUEST && m->kind != WEFT_RPC_UNARY) ||
      (kind != CALL_SDK_REQUEST && !streaming)) {
    free(req_json);
    *why = kind == CALL_SDK_REQUEST ? "that path is a stream: subscribe to it"
                                    : "that path is not a stream";
    return WEFT_ERR_INVAL;
  }
  call_ctx *cc = calloc(1, sizeof *cc);
  if (!cc || !req_json || (sdk_id && !(cc->sdk_id = strdup(sdk_id))) ||
      (event && !(cc->event = strdup(event)))) {
    if (cc)
      call_free(cc);
    free(req_json);
    *why = "out of memory";
    return WEFT_ERR_NOMEM;
  }
  cc->ec = ec;
  cc->kind = kind;
  cc->m = m;
  cc->req_json = req_json;
  cc->sdk_id_num = sdk_id_num;
  atomic_init(&cc->cancelled, false);
  weft_metadata md = WEFT_METADATA_INIT;
  if (ec->api_key)
    weft_metadata_add_str(&md, "x-api-key", ec->api_key);
  atomic_fetch_add(&ec->refs, 1);
  pthread_mutex_lock(&ec->mu);
  cc->next = ec->calls;
  ec->calls = cc;
  if (kind == CALL_JOB_WATCH || kind == CALL_EVENTS)
    ec->stream_calls++;
  pthread_mutex_unlock(&ec->mu);
  if (kind == CALL_SDK_SUB) {
    /* Confirmed before the stream can send its first event. */
    weft_aitbc_ws_msg c = {0};
    c.kind = WEFT_AITBC_WS_SUBSCRIPTION;
    c.subscription_id = (char *)sdk_id;
    c.status = "confirmed";
    send_msg(ec, &c);
  }
  int rv =
      weft_server_dispatch(srv, rpc, &md, INT64_MAX, ec->peer, &call_ops, cc);
  weft_metadata_clear(&md);
  if (rv < 0) {
    /* Not taken (shutting down): finish was not called. */
    pthread_mutex_lock(&ec->mu);
    unlink_call(ec, cc);
    if (kind == CALL_JOB_WATCH || kind == CALL_EVENTS)
      ec->stream_calls--;
    pthread_mutex_unlock(&ec->mu);
    call_free(cc);
    ec_unref(ec);
    *why = "the server is shutting down";
    return rv;
  }
  return 0;
}

/* ---- SDK messages ---- */

static void sdk_request(ep_conn *ec, const weft_aitbc_ws_msg *m) {
  const char *why = NULL;
  weft_rest_match rm = {0};
  weft_error err = {0};
  weft_rest_router *r = conn_router(ec, &why);
  int rv = r ? weft_rest_route(r, m->method ? m->method : "GET",
                               m->path ? m->path : "", &rm, &err)
             : WEFT_ERR_INTERNAL;
  int status = 501; /* routed but not started, as for a missing method */
  if (rv == 0) {
    char *json = NULL;
    rv = build_request(m->data, m->params, &rm, NULL, NULL, &json, &err);
    if (rv == 0)
      rv = start_call(ec, rm.method->path, CALL_SDK_REQUEST, json, m->id,
                      m->id_is_number, NULL, &why);
    else if (rv != WEFT_ERR_NOMEM)
      status = 400, why = err.message;
    weft_rest_match_clear(&rm);
    if (rv == 0)
      return;
  } else if (r) {
    status = rv == WEFT_ERR_UNSUPPORTED ? 404
             : rv == WEFT_ERR_STATE     ? 405
                                        : 400;
    if (rv == WEFT_ERR_INVAL)
      why = err.message;
    else
      why = rv == WEFT_ERR_STATE ? "no route for that method" : "no such route";
  }
  weft_aitbc_ws_msg resp = {0};
  resp.kind = WEFT_AITBC_WS_RESPONSE;
  resp.id = m->id;
  resp.id_is_number = m->id_is_number;
  resp.has_status_code = true;
  resp.status_code = status;
  char buf[300 + WEFT_ERROR_MSG_MAX];
  const char *path = m->path ? m->path : "";
  snprintf(buf, sizeof buf, "%.*s %.*s: %s",
           (int)weft_utf8_prefix(m->method ? m->method : "GET", 16),
           m->method ? m->method : "GET", (int)weft_utf8_prefix(path, 200),
           path, why ? why : "no such route");
  resp.message = buf;
  send_msg(ec, &resp);
}

static void sdk_subscribe(ep_conn *ec, const weft_aitbc_ws_msg *m) {
  const char *rpc = NULL, *xkey = NULL, *xval = NULL;
  const char *why = "unknown event or path";
  weft_rest_match rm = {0};
  if (m->event) {
    if (weft_aitbc_ws_is_blockchain_event(m->event)) {
      rpc = "/aitbc.v1.Blockchain/StreamEvents";
      xkey = "types";
      xval = m->event;
    } else if (weft_aitbc_ws_is_marketplace_event(m->event)) {
      rpc = "/aitbc.v1.Marketplace/WatchEvents";
      xkey = "types";
      xval = m->event;
    } else if (!strcmp(m->event, "job_status") ||
               !strcmp(m->event, "job_update")) {
      rpc = "/aitbc.v1.Jobs/Watch";
    } else if (!strcmp(m->event, "receipts") ||
               !strcmp(m->event, "new_receipt")) {
      rpc = "/aitbc.v1.Receipts/StreamReceipts";
    } else if (!strcmp(m->event, "events")) {
      rpc = "/aitbc.v1.Blockchain/StreamEvents";
    }
  } else {
    weft_rest_router *r = m->path ? conn_router(ec, &why) : NULL;
    if (r && weft_rest_route(r, m->method ? m->method : "GET", m->path, &rm,
                             NULL) == 0)
      rpc = rm.method->path;
  }
  weft_error err = {0};
  if (rpc) {
    char *json = NULL;
    int rv = build_request(m->data, NULL, &rm, xkey, xval, &json, &err);
    if (rv == 0)
      rv = start_call(ec, rpc, CALL_SDK_SUB, json, m->id, m->id_is_number,
                      m->event ? m->event : m->path, &why);
    else
      why = err.message;
    weft_rest_match_clear(&rm);
    if (rv == 0)
      return;
  }
  weft_aitbc_ws_msg c = {0};
  c.kind = WEFT_AITBC_WS_SUBSCRIPTION;
  c.subscription_id = m->id;
  c.status = "error";
  send_msg(ec, &c);
  char buf[300 + WEFT_ERROR_MSG_MAX];
  const char *what = m->event ? m->event : m->path;
  snprintf(buf, sizeof buf, "subscribe %.*s: %s",
           (int)weft_utf8_prefix(what, 200), what, why);
  send_error(ec, m->id, m->id_is_number, buf);
}

static void sdk_unsubscribe(ep_conn *ec, const weft_aitbc_ws_msg *m) {
  pthread_mutex_lock(&ec->mu);
  for (call_ctx *cc = ec->calls; cc; cc = cc->next)
    if (cc->kind == CALL_SDK_SUB && cc->sdk_id && !strcmp(cc->sdk_id, m->id))
      atomic_store(&cc->cancelled, true);
  pthread_mutex_unlock(&ec->mu);
}

/* ---- the WebSocket handler ---- */

static void on_open(weft_ws_conn *c, void *ud) {
  ep_conn *ec = ud;
  weft_ws_conn_ref(c);
  ec->ws = c;
  if (ec->auth_failed) {
    weft_ws_conn_close(c, 1008, "Invalid or missing token");
    return;
  }
  const char *why = NULL;
  if (ec->kind == CONN_JOB) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "job_id", ec->job_id);
    char *json = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (start_call(ec, "/aitbc.v1.Jobs/Watch", CALL_JOB_WATCH, json, NULL,
                   false, NULL, &why) < 0) {
      send_error(ec, NULL, false, why);
      weft_ws_conn_close(c, 1011, why);
    }
    return;
  }
  if (ec->kind == CONN_SDK)
    return;
  int started = 0;
  const char *rpcs[] = {"/aitbc.v1.Blockchain/StreamEvents",
                        "/aitbc.v1.Marketplace/WatchEvents"};
  for (size_t i = 0; i < 2; i++)
    if (start_call(ec, rpcs[i], CALL_EVENTS, strdup("{}"), NULL, false, NULL,
                   &why) == 0)
      started++;
  if (!started) {
    send_error(ec, NULL, false, "no event service on this server");
    weft_ws_conn_close(c, 1011, "no event service");
  }
}

static void on_message(weft_ws_conn *c, bool text, const uint8_t *data,
                       size_t len, void *ud) {
  (void)c;
  ep_conn *ec = ud;
  if (ec->auth_failed)
    return;
  if (!text) {
    send_error(ec, NULL, false, "binary messages are not part of this API");
    return;
  }
  weft_aitbc_ws_msg m;
  weft_error err = {0};
  if (weft_aitbc_ws_parse((const char *)data, len, &m, &err) < 0) {
    send_error(ec, NULL, false, err.message);
    return;
  }
  weft_aitbc_ws_msg pong = {0};
  char buf[160];
  switch (m.kind) {
  case WEFT_AITBC_WS_PING:
    pong.kind = WEFT_AITBC_WS_PONG;
    pong.timestamp = m.timestamp;
    send_msg(ec, &pong);
    break;
  case WEFT_AITBC_WS_REQUEST:
    sdk_request(ec, &m);
    break;
  case WEFT_AITBC_WS_SUBSCRIBE:
    sdk_subscribe(ec, &m);
    break;
  case WEFT_AITBC_WS_UNSUBSCRIBE:
    sdk_unsubscribe(ec, &m);
    break;
  case WEFT_AITBC_WS_PONG:
  case WEFT_AITBC_WS_RESPONSE:
  case WEFT_AITBC_WS_SUBSCRIPTION:
    break; /* answers to nothing we asked: ignored */
  default:
    snprintf(buf, sizeof buf, "Unknown message type: %.*s",
             (int)weft_utf8_prefix(
                 m.type ? m.type : weft_aitbc_ws_kind_name(m.kind), 100),
             m.type ? m.type : weft_aitbc_ws_kind_name(m.kind));
    send_error(ec, m.id, m.id_is_number, buf);
    break;
  }
  weft_aitbc_ws_msg_clear(&m);
}

static void on_close(weft_ws_conn *c, int code, const char *reason, void *ud) {
  (void)c;
  (void)code;
  (void)reason;
  ep_conn *ec = ud;
  pthread_mutex_lock(&ec->mu);
  ec->closed = true;
  for (call_ctx *cc = ec->calls; cc; cc = cc->next)
    atomic_store(&cc->cancelled, true);
  pthread_mutex_unlock(&ec->mu);
  ec_unref(ec);
}

static const weft_ws_handler handler = {on_open, on_message, on_close};

/* ---- the route ---- */

/* "/v1/jobs/{job_id}/ws" -> job_id (malloc'd), else NULL. */
static char *job_path(const char *path) {
  const char *pre = "/v1/jobs/";
  size_t pl = strlen(pre);
  if (strncmp(path, pre, pl) != 0)
    return NULL;
  const char *id = path + pl;
  const char *slash = strchr(id, '/');
  if (!slash || slash == id || strcmp(slash, "/ws") != 0)
    return NULL;
  size_t n = (size_t)(slash - id);
  char *out = malloc(n + 1);
  if (out) {
    memcpy(out, id, n);
    out[n] = '\0';
  }
  return out;
}

int weft_aitbc_ws_route(void *ud, const weft_ws_request *req,
                        weft_ws_accept *acc) {
  weft_aitbc_endpoint *ep = ud;
  char *job = job_path(req->path);
  bool events = strcmp(req->path, "/v1/events") == 0;
  bool sdk = strcmp(req->path, "/ws") == 0;
  if (!job && !events && !sdk)
    return ep->o.next ? ep->o.next(ep->o.next_ud, req, acc) : 0;
  ep_conn *ec = calloc(1, sizeof *ec);
  if (!ec || (req->api_key && !(ec->api_key = strdup(req->api_key)))) {
    free(job);
    if (ec)
      free(ec->api_key);
    free(ec);
    acc->reason = "out of memory";
    return 500;
  }
  atomic_init(&ec->refs, 1); /* the connection's; dropped in on_close */
  pthread_mutex_init(&ec->mu, NULL);
  ec->kind = job ? CONN_JOB : events ? CONN_EVENTS : CONN_SDK;
  ec->job_id = job;
  snprintf(ec->peer, sizeof ec->peer, "%s", req->peer ? req->peer : "");
  /* AIP's check: accept, then close 1008 with its reason (a browser cannot
   * read an HTTP 401). */
  ec->auth_failed = !req->api_key_ok;
  acc->handler = &handler;
  acc->ud = ec;
  acc->skip_auth = true;
  return 1;
}

int weft_aitbc_endpoint_new(weft_aitbc_endpoint **out,
                            const weft_aitbc_endpoint_opts *opts) {
  weft_aitbc_endpoint *ep = calloc(1, sizeof *ep);
  if (!ep)
    return WEFT_ERR_NOMEM;
  if (opts)
    ep->o = *opts;
  *out = ep;
  return 0;
}

void weft_aitbc_endpoint_free(weft_aitbc_endpoint *ep) {
  free(ep);
}
