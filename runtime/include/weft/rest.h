/* REST routes from google.api.http annotations, as grpc-gateway and
 * Envoy's JSON transcoder map them.
 *
 * A method declares its routes in the schema:
 *
 *   rpc GetJob(GetJobRequest) returns (Job) {
 *     option (google.api.http) = { get: "/v1/jobs/{job_id}" };
 *   }
 *
 * protoc-gen-weft puts them in weft_method_desc.http_rules; a router is
 * built over services' rules and maps an HTTP request (verb, path, query,
 * body) to the method and its request message, and the reply (or an
 * error) back to JSON. It does no I/O and starts no thread: an HTTP
 * listener calls it for any request that is not a gRPC or Connect path,
 * and the AITBC WebSocket endpoint uses it for the SDK's requests.
 *
 * Serving a request (what an HTTP/1.1 or HTTP/2 listener does):
 *
 *   weft_rest_call c;
 *   weft_error err;
 *   if (weft_rest_prepare(router, &(weft_rest_request){
 *           .method = ":method", .path = path_without_query,
 *           .query = query_or_NULL, .body = body, .body_len = n},
 *         &c, &err) < 0) {
 *     // answer c.http_status with weft_rest_render_error(c.code,
 *     // err.message, ...); content-type application/json
 *   } else {
 *     // dispatch c.method (c.method->path) with weft_server_dispatch();
 *     // the call's recv decodes c.request/c.request_len (protobuf
 *     // binary of c.method->input) with weft_decode(); its send renders
 *     // the reply with weft_rest_render_response(&c, msg, ...) (200);
 *     // a non-OK status becomes weft_rest_http_status(code) +
 *     // weft_rest_render_error(code, message, ...).
 *   }
 *   weft_rest_call_clear(&c);
 *
 * Unary and server-streaming methods are served this way (c.method->kind
 * says which); a server-streaming reply is rendered line by line with
 * weft_rest_render_stream_result / weft_rest_render_stream_error.
 *
 * Precedence: of the templates matching a path, the one whose segments
 * are most literal wins, left to right (a literal beats "*" or a variable,
 * which beat "**"); then a template with a verb; then the first added.
 * HTTP verbs compare case-insensitively; one trailing '/' is ignored.
 *
 * Ownership: the router copies nothing from the descriptors it is given
 * (they are static generated tables, or must outlive it); it is immutable
 * once built, so threads may match concurrently. Strings returned through
 * char ** are malloc'd and freed by the caller. */
#ifndef WEFT_REST_H
#define WEFT_REST_H

#include <stddef.h>
#include <stdint.h>

#include "weft/desc.h"
#include "weft/error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct weft_server;
typedef struct weft_rest_router weft_rest_router;

/* Returns 0 or WEFT_ERR_NOMEM. Free with weft_rest_router_free (NULL ok). */
int weft_rest_router_new(weft_rest_router **out, weft_error *err);
void weft_rest_router_free(weft_rest_router *r);

/* Adds every http rule of svc's methods. Each rule is checked: its
 * template parses, its variables and body name fields of the request
 * (nested through singular message fields, leaves not messages other than
 * well-known scalar types), its response_body a field of the response.
 * Returns 0, WEFT_ERR_INVAL (err names the method, the rule and what is
 * wrong; nothing of svc is added), WEFT_ERR_NOMEM. */
int weft_rest_router_add_service(weft_rest_router *r,
                                 const weft_service_desc *svc, weft_error *err);
/* Adds the services of s (weft_server_each_service), in the order added. */
int weft_rest_router_add_server(weft_rest_router *r,
                                const struct weft_server *s, weft_error *err);
/* Number of routes (rules) in r. */
size_t weft_rest_router_size(const weft_rest_router *r);

/* ---- matching only ---- */

#define WEFT_REST_MAX_VARS 16

typedef struct weft_rest_var {
  const char *field; /* "a.b.c" as in the template; owned by the router */
  char *value;       /* percent-decoded, malloc'd */
} weft_rest_var;

typedef struct weft_rest_match {
  const weft_method_desc *method;
  const weft_http_rule *rule;
  unsigned n_vars;
  weft_rest_var vars[WEFT_REST_MAX_VARS];
} weft_rest_match;

/* Finds the route of verb + path (no query string). Returns 0 with *m
 * filled (release with weft_rest_match_clear); else *m is empty and:
 * WEFT_ERR_UNSUPPORTED: no route has that path (HTTP 404); WEFT_ERR_STATE:
 * the path has routes, none for that verb (HTTP 405); WEFT_ERR_INVAL: a
 * malformed path (bad percent-escape, more than 64 segments: 400);
 * WEFT_ERR_NOMEM. err says which. */
int weft_rest_route(const weft_rest_router *r, const char *verb,
                    const char *path, weft_rest_match *m, weft_error *err);
void weft_rest_match_clear(weft_rest_match *m);

/* ---- requests ---- */

typedef struct weft_rest_request {
  const char *method; /* HTTP verb */
  const char *path;   /* raw (percent-encoded), without the query */
  const char *query;  /* raw, after '?'; NULL or "" for none */
  const char *body;   /* JSON; NULL or empty for none */
  size_t body_len;
} weft_rest_request;

typedef struct weft_rest_call {
  const weft_method_desc *method;
  const weft_http_rule *rule;
  uint8_t *request; /* protobuf binary of method->input, malloc'd */
  size_t request_len;
  int code;        /* on failure: the gRPC status code to answer with */
  int http_status; /* on failure: the HTTP status (404, 405, 400, ...) */
} weft_rest_call;

/* Routes req and builds the request message: path variables set their
 * fields; with body "*" the body is the message (query ignored, as
 * grpc-gateway does); with body "field" the body is that field; the query
 * parameters (name or JSON name, dotted for nested fields, repeated for
 * repeated fields, enums by name or number, booleans as true/false/1/0)
 * set the rest. Unknown body keys are ignored; an unknown or malformed
 * query parameter is an error naming it. Returns 0 with *out filled
 * (release with weft_rest_call_clear), or a negative WEFT_ERR_* with err
 * set and out->code / out->http_status saying what to answer (404 no
 * route, 405 no route for that verb, 400 a bad parameter or body). */
int weft_rest_prepare(const weft_rest_router *r, const weft_rest_request *req,
                      weft_rest_call *out, weft_error *err);
void weft_rest_call_clear(weft_rest_call *c);

/* ---- responses ---- */

/* The response body for a reply msg (of c->method->output): the whole
 * message, or its response_body field, as proto3 JSON with
 * json_flags (weft_json_opts.flags; WEFT_JSON_EMIT_DEFAULTS is implied
 * for a response_body field so it is never missing). *json is malloc'd.
 * Returns 0 or the JSON encoder's error. */
int weft_rest_render_response(const weft_rest_call *c, const void *msg,
                              unsigned json_flags, char **json, size_t *len,
                              weft_error *err);

/* {"error":message,"code":code,"message":message}: grpc-gateway's error
 * body (the AITBC SDK reads "error"). Returns 0 or WEFT_ERR_NOMEM. */
int weft_rest_render_error(int code, const char *message, char **json,
                           size_t *len);

/* Server-streaming routes answer a stream of JSON objects, one per line,
 * as grpc-gateway does. A reply is {"result":<the response as above>}\n;
 * a status other than OK once the stream has started (its HTTP status is
 * out: 200) is a last line {"error":{"code":N,"message":"...",
 * "details":[]}}\n. An error before the first reply is answered like a
 * unary one (weft_rest_http_status + weft_rest_render_error). *line is
 * malloc'd. Return 0, the JSON encoder's error or WEFT_ERR_NOMEM. */
int weft_rest_render_stream_result(const weft_rest_call *c, const void *msg,
                                   unsigned json_flags, char **line,
                                   size_t *len, weft_error *err);
int weft_rest_render_stream_error(int code, const char *message, char **line,
                                  size_t *len);

/* The HTTP status of a gRPC status code, as grpc-gateway maps it: OK 200,
 * INVALID_ARGUMENT/FAILED_PRECONDITION/OUT_OF_RANGE 400, UNAUTHENTICATED
 * 401, PERMISSION_DENIED 403, NOT_FOUND 404, ALREADY_EXISTS/ABORTED 409,
 * RESOURCE_EXHAUSTED 429, CANCELLED 499, UNIMPLEMENTED 501, UNAVAILABLE
 * 503, DEADLINE_EXCEEDED 504, others 500. */
int weft_rest_http_status(int code);

#ifdef __cplusplus
}
#endif
#endif
