/* Contract JSON -> weft_contract_parse (the schema is the compiled-in Echo
 * service, schema files are refused) -> weft_contract_match of every
 * interaction against an empty, OK answer, and the mock's request matching
 * (request matchers, steps) of every interaction's own requests, whole and
 * as a prefix -> free. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "contract_internal.h"
#include "echo.weft.h"
#include "weft/contract.h"
#include "weft/status.h"

static weft_registry *reg;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!reg) {
    if (weft_registry_new(&reg) < 0)
      abort();
    weft_registry_add_file(reg, &echo_proto);
  }
  weft_contract_opts o = {0};
  o.fallback = reg;
  weft_contract *c = NULL;
  weft_error err = {0};
  if (weft_contract_parse(&c, (const char *)data, size, &o, &err) == 0) {
    weft_status st = {0};
    weft_metadata md = WEFT_METADATA_INIT;
    weft_contract_outcome out = {NULL, 0, &st, &md};
    weft_contract_report r = {0};
    for (size_t i = 0; i < weft_contract_n_interactions(c); i++) {
      weft_contract_match(c, i, &out, &r);
      const weft__ct_inter *it = &c->inters[i];
      weft__ct_match_requests(c, i, it->requests, it->n_requests, &it->metadata,
                              false, &r);
      weft__ct_match_requests(c, i, it->requests, it->n_requests / 2, &md, true,
                              &r);
    }
    weft_contract_report_clear(&r);
    weft_contract_free(c);
  } else if (!err.message[0]) {
    abort(); /* every failure says why */
  }
  return 0;
}
