/* Input: "TEMPLATE\nVERB PATH[?QUERY]\nBODY". The template is parsed and,
 * if valid, matched against PATH (captures must lie inside the path, a
 * template is as specific as itself); then VERB PATH?QUERY + BODY goes
 * through a router over the AITBC services' rules, and its error (if any)
 * is rendered (as a unary body and as a server stream's error line).
 * Nothing may crash, leak or read out of bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aitbc/v1/blockchain.weft.h"
#include "aitbc/v1/jobs.weft.h"
#include "aitbc/v1/marketplace.weft.h"
#include "aitbc/v1/node.weft.h"
#include "aitbc/v1/receipts.weft.h"
#include "aitbc/v1/settlement.weft.h"
#include "aitbc/v1/wallet.weft.h"
#include "rest_internal.h"
#include "weft/rest.h"

static weft_rest_router *router;

static void build_router(void) {
  const weft_service_desc *svcs[] = {
      &aitbc__v1__Node_service,       &aitbc__v1__Jobs_service,
      &aitbc__v1__Blockchain_service, &aitbc__v1__Marketplace_service,
      &aitbc__v1__Receipts_service,   &aitbc__v1__Settlement_service,
      &aitbc__v1__Wallet_service};
  if (weft_rest_router_new(&router, NULL) < 0)
    abort();
  for (size_t i = 0; i < sizeof svcs / sizeof svcs[0]; i++)
    if (weft_rest_router_add_service(router, svcs[i], NULL) < 0)
      abort();
}

/* The next '\n'-terminated piece of [*p, end), NUL-terminated copy. */
static char *piece(const uint8_t **p, const uint8_t *end, int last) {
  const uint8_t *s = *p;
  const uint8_t *e = last ? end : memchr(s, '\n', (size_t)(end - s));
  if (!e)
    e = end;
  size_t n = (size_t)(e - s);
  char *out = malloc(n + 1);
  if (!out)
    abort();
  memcpy(out, s, n);
  out[n] = '\0';
  *p = e < end ? e + 1 : end;
  return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!router)
    build_router();
  const uint8_t *p = data, *end = data + size;
  char *tmpl = piece(&p, end, 0);
  char *line = piece(&p, end, 0);
  char *body = piece(&p, end, 1);

  char *sp = strchr(line, ' ');
  const char *verb = sp ? line : "GET";
  char *path = sp ? sp + 1 : line;
  if (sp)
    *sp = '\0';
  char *q = strchr(path, '?');
  if (q)
    *q++ = '\0';

  weft__tmpl t;
  weft_error err = {0};
  if (weft__tmpl_parse(tmpl, &t, &err) == 0) {
    if (weft__tmpl_cmp(&t, &t) != 0)
      abort();
    weft__rpath rp;
    if (weft__rpath_split(path, strlen(path), &rp, &err) == 0) {
      weft__tcap caps[WEFT__REST_MAX_SEGS + 1];
      if (t.n_vars <= WEFT__REST_MAX_SEGS && weft__tmpl_match(&t, &rp, caps)) {
        size_t plen = strlen(path);
        for (unsigned i = 0; i < t.n_vars; i++)
          if (caps[i].len &&
              (caps[i].p < path || caps[i].p + caps[i].len > path + plen))
            abort();
      }
    }
    weft__tmpl_free(&t);
  } else if (err.code != WEFT_ERR_INVAL && err.code != WEFT_ERR_NOMEM) {
    abort();
  }

  weft_rest_request req = {verb, path, q, body, strlen(body)};
  weft_rest_call c;
  if (weft_rest_prepare(router, &req, &c, &err) < 0) {
    if (c.http_status < 400 || c.request)
      abort();
    char *json = NULL;
    size_t n = 0;
    if (weft_rest_render_error(c.code, err.message, &json, &n) == 0)
      free(json);
    /* A server stream's error line (the message may quote the input):
     * one line, whatever bytes the message holds. */
    if (weft_rest_render_stream_error(c.code, err.message, &json, &n) == 0) {
      if (n == 0 || strlen(json) != n || memchr(json, '\n', n) != json + n - 1)
        abort();
      free(json);
    }
  } else if (!c.method || (!c.request && c.request_len)) {
    abort();
  }
  weft_rest_call_clear(&c);
  free(tmpl);
  free(line);
  free(body);
  return 0;
}
