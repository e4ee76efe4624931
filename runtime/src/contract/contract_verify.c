/* Replaying a contract's interactions on a weft_client: provider states
 * first, then the call (any of the four kinds; client-streaming and bidi
 * send every request, then half-close, then read every response, unless
 * a bidi interaction's `steps` interleave them), then
 * weft_contract_match on what came back. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "contract_internal.h"
#include "weft/codec.h"
#include "weft/status.h"
#include "weft/transport.h"

static int one(const weft_contract *c, size_t i, weft_client *client,
               const weft_contract_verify_opts *vo, weft_contract_report *r) {
  const weft__ct_inter *it = &c->inters[i];
  const weft_method_desc *m = it->method;
  void **resp = NULL;
  size_t n = 0, cap = 0;
  weft_metadata md = WEFT_METADATA_INIT;
  weft_call_opts co = {0};
  co.timeout_ms = it->timeout_ms   ? it->timeout_ms
                  : vo->timeout_ms ? vo->timeout_ms
                                   : 10000;
  co.metadata = &it->metadata;
  co.response_metadata = &md;
  int64_t t0 = weft_now_ns();
  int rv = 0;
  if (vo->state_fn && it->n_states) {
    weft_error e = {0};
    if (vo->state_fn(vo->state_ud, it->name, (const char *const *)it->states,
                     it->n_states, &e) != 0) {
      weft_status_set(&co.status, WEFT_STATUS_UNKNOWN,
                      "provider state not set up: %s", e.message);
      goto match;
    }
  }
  if (m->kind == WEFT_RPC_UNARY) {
    void *one_resp = NULL;
    if (weft_call_unary(client, m, it->requests[0], &one_resp, &co) == 0 &&
        one_resp) {
      if (!(resp = malloc(sizeof *resp))) {
        weft_message_free(one_resp);
        rv = WEFT_ERR_NOMEM;
        goto out;
      }
      resp[n++] = one_resp;
    }
  } else {
    weft_call *call = NULL;
    if (weft_call_start(client, m, &co, &call) < 0) {
      if (co.status.code == WEFT_STATUS_OK)
        weft_status_set(&co.status, WEFT_STATUS_UNAVAILABLE,
                        "the call could not start");
      goto match;
    }
    size_t sent = 0;
    void *msg;
    /* `steps`: each expected response is read before the next send. */
    for (size_t k = 0; k < it->n_steps; k++) {
      if (it->steps[k] == 's') {
        if (weft_call_send(call, it->requests[sent++]) < 0)
          break; /* the status says why */
        continue;
      }
      if (n == cap) {
        void **nr = realloc(resp, (cap ? cap * 2 : 8) * sizeof *nr);
        if (!nr)
          break;
        resp = nr;
        cap = cap ? cap * 2 : 8;
      }
      if (weft_call_recv(call, &msg) != 1)
        break;
      resp[n++] = msg;
    }
    for (size_t k = it->n_steps ? it->n_requests : 0; k < it->n_requests; k++)
      if (weft_call_send(call, it->requests[k]) < 0)
        break; /* the status says why */
    weft_call_close_send(call);
    while (weft_call_recv(call, &msg) == 1) {
      if (n == cap) {
        void **nr = cap < 100000
                        ? realloc(resp, (cap ? cap * 2 : 8) * sizeof *nr)
                        : NULL;
        if (!nr) {
          weft_message_free(msg);
          weft_call_cancel(call);
          break;
        }
        resp = nr;
        cap = cap ? cap * 2 : 8;
      }
      resp[n++] = msg;
      if (it->take && n == it->take) {
        /* An endless stream: what was asked for came; the end is ours. */
        weft_call_cancel(call);
        break;
      }
    }
    weft_call_finish(call);
    if (it->take && n == it->take)
      weft_status_set(&co.status, WEFT_STATUS_OK, "%s", "");
  }
match:;
  weft_contract_outcome o = {resp, n, &co.status, &md};
  size_t before = r->n_results;
  rv = weft_contract_match(c, i, &o, r);
  if (rv == 0 && r->n_results > before)
    r->results[before].seconds = (double)(weft_now_ns() - t0) / 1e9;
out:
  for (size_t k = 0; k < n; k++)
    weft_message_free(resp[k]);
  free(resp);
  weft_status_clear(&co.status);
  weft_metadata_clear(&md);
  return rv;
}

int weft_contract_verify(const weft_contract *c, weft_client *client,
                         const weft_contract_verify_opts *opts,
                         weft_contract_report *r) {
  static const weft_contract_verify_opts none = {0};
  if (!opts)
    opts = &none;
  for (size_t i = 0; i < c->n_inters; i++) {
    int rv = one(c, i, client, opts, r);
    if (rv < 0)
      return rv;
    if (!r->results[r->n_results - 1].passed)
      r->n_failed++;
  }
  return 0;
}
