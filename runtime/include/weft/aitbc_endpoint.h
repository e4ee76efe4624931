/* The AITBC WebSocket API on a weft server.
 *
 * Existing AITBC dashboards and SDK clients connect to a weft server's ws://
 * listener and find the endpoints they know, served by the server's own
 * aitbc.v1 services (no second implementation):
 *
 *   /v1/jobs/{job_id}/ws  job status JSON from Jobs.Watch until a terminal
 *                         state, then a normal close (1000);
 *   /v1/events            {"type":"new_block","block":{...}} ... from
 *                         Blockchain.StreamEvents and {"type":"new_offer",
 *                         "offer":{...}} ... from Marketplace.WatchEvents;
 *   /ws                   where AIP clients connect (ws://host/ws?token=):
 *                         the messages below, and no event until a
 *                         subscribe asks for one.
 *
 * On all three, {"type":"ping"} is answered with {"type":"pong"}, and the AITBC
 * SDK's messages work: {id,type:"request",method,path,data,params} is mapped
 * from the REST path to the aitbc.v1 method by the google.api.http rules
 * of the server's services (weft/rest.h; e.g. GET /v1/jobs/{job_id} ->
 * Jobs.GetJob) and answered {type:"response",id,status,data};
 * {id,type:"subscribe",event|path,data} starts the matching stream,
 * confirmed with {type:"subscription",subscription_id,status:"confirmed"}
 * and followed by {type:"event",event,subscription_id,data};
 * {id,type:"unsubscribe"} stops it.
 *
 * Credentials: an API key may come as ?token= (AIP), ?api_key= or
 * X-Api-Key; when the server has api_keys, a missing or wrong key closes the
 * connection with 1008 "Invalid or missing token".
 *
 * Use: set weft_ws_opts.route = weft_aitbc_ws_route and route_ud = the
 * endpoint before weft_server_listen(). */
#ifndef WEFT_AITBC_ENDPOINT_H
#define WEFT_AITBC_ENDPOINT_H

#include "weft/websocket.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_aitbc_endpoint weft_aitbc_endpoint;

typedef struct weft_aitbc_endpoint_opts {
  /* Requests for other paths go here (e.g. the MB route); NULL: left to
   * the weft envelope endpoint. */
  weft_ws_route_fn next;
  void *next_ud;
} weft_aitbc_endpoint_opts;

/* opts may be NULL; it is copied (next_ud must live as long as the
 * endpoint). On success *out is a new endpoint that the caller frees with
 * weft_aitbc_endpoint_free(). Returns 0 or WEFT_ERR_NOMEM (*out untouched).
 * The endpoint must outlive the server's listeners (the route reads it for
 * every upgrade request); connections it took keep their own state, so
 * they do not use the endpoint after the route returned. free accepts
 * NULL. */
int weft_aitbc_endpoint_new(weft_aitbc_endpoint **out,
                            const weft_aitbc_endpoint_opts *opts);
void weft_aitbc_endpoint_free(weft_aitbc_endpoint *ep);

/* A weft_ws_route_fn; ud is the endpoint. Takes /v1/jobs/{id}/ws,
 * /v1/events and /ws (returns 1; the connection owns its state and frees
 * it after on_close), answers 500 "out of memory" if that state cannot be
 * allocated, and hands other paths to opts.next (or returns 0). */
int weft_aitbc_ws_route(void *ud, const weft_ws_request *req,
                        weft_ws_accept *acc);

#ifdef __cplusplus
}
#endif
#endif
