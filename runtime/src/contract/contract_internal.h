/* The parsed form of a contract, shared by parsing, matching and verifying.
 * Expected messages are kept as JSON trees in the canonical form weft's
 * encoder writes (lowerCamelCase names, int64 as strings, defaults
 * emitted), pruned to what the example names, so matching an answer is a
 * comparison of two trees of the same shape. */
#ifndef WEFT_CONTRACT_INTERNAL_H
#define WEFT_CONTRACT_INTERNAL_H

#include <cjson/cJSON.h>
#include <regex.h>

#include "weft/contract.h"

typedef enum weft__ct_kind {
  WEFT__CT_EXACT,
  WEFT__CT_TYPE,
  WEFT__CT_REGEX,
  WEFT__CT_RANGE,
  WEFT__CT_EACH_LIKE,
  WEFT__CT_PRESENT,
  WEFT__CT_ABSENT
} weft__ct_kind;

/* A path into the responses, split in segments: a name, an index, or
 * "[*]" (any index). The first segment is always "responses". */
typedef struct weft__ct_seg {
  char *name; /* NULL for an index */
  long index; /* -1: any */
} weft__ct_seg;

typedef struct weft__ct_matcher {
  char *path;   /* as the contract wrote it */
  bool request; /* on requests (the mock's request matching), else on the
                   responses */
  weft__ct_seg *segs;
  size_t n_segs;
  weft__ct_kind kind;
  bool has_re, has_min, has_max;
  regex_t re;
  char *re_text; /* for messages */
  double min, max;
} weft__ct_matcher;

typedef struct weft__ct_inter {
  char *name;
  const weft_method_desc *method;
  char **states;
  size_t n_states;
  weft_metadata metadata; /* request metadata */
  void **requests;
  size_t n_requests;
  cJSON *req_expected; /* {"requests": [...]}, pruned canonical JSON */
  cJSON *expected;     /* {"responses": [...]}, pruned canonical JSON */
  int64_t *delays_ms;  /* `delaysMs`: before each response (recorded) */
  size_t n_delays;
  /* `steps` (bidi): 's' send requests[k], 'e' expect responses[k], in
   * order; NULL: send all, then read all. */
  char *steps;
  size_t n_steps;
  bool check_count; /* the answer must have exactly as many messages */
  weft_metadata expect_md;
  int status_code;
  char *status_message; /* NULL: not checked */
  bool has_status_re;
  regex_t status_re;
  char *status_re_text;
  weft__ct_matcher *matchers;
  size_t n_matchers;
  int64_t timeout_ms;
  size_t take; /* >0: read this many responses, then cancel (endless streams) */
} weft__ct_inter;

/* The mock's side of matching (contract_match.c): the received requests
 * (messages of the method's input type) and metadata against interaction
 * i's requests, metadata and request matchers; prefix: reqs are the first
 * n of the call's (a stream still open), fewer than expected is fine. Appends
 * one result to r, its diffs with request paths ("request.text",
 * "requests[1].id", "metadata.x-key"). 0 or WEFT_ERR_NOMEM. */
int weft__ct_match_requests(const weft_contract *c, size_t i, void *const *reqs,
                            size_t n, const weft_metadata *md, bool prefix,
                            weft_contract_report *r);
/* The registry for the JSON codec of interaction i's types (Any). */
const weft_registry *weft__ct_registry(const weft_contract *c, size_t i);

struct weft_contract {
  char *consumer, *provider;
  weft_dyn_set *own_schema;
  const weft_dyn_set *schema;
  weft__ct_inter *inters;
  size_t n_inters;
};

#endif
