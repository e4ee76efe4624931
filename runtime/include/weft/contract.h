/* Consumer-driven contracts between services (docs/CONTRACTS.md).
 *
 * A contract file (JSON) names a consumer, a provider, a schema and a list
 * of interactions: a method, the provider states it needs, the request
 * message(s) and metadata, and what must come back (response messages in
 * order, response metadata, status), with matchers per JSON path so that
 * ids and timestamps need not be literal.
 *
 * Loading validates every example and matcher path against the schema and
 * fails with the interaction and the path:
 *   interactions[2] "get job": response.job.stat: no such field in
 *   aitbc.v1.Job
 * Verifying replays each interaction against a client (any transport, all
 * four RPC kinds) and reports, per interaction, path-precise differences:
 *   responses[2].state: expected "RUNNING", got "QUEUED"
 *
 * weft_contract_parse and weft_contract_match do no I/O; weft_contract_load
 * reads files and weft_contract_verify makes calls.
 *
 * Ownership, in short: a weft_contract owns its strings, requests and own
 * schema (freed by weft_contract_free). It keeps pointers to opts->schema
 * and to descriptors found through opts->fallback, which must outlive it.
 * A report owns its results' diffs (freed by weft_contract_report_clear),
 * but each result's name and method point into the contract: clear the
 * report before freeing the contract. */
#ifndef WEFT_CONTRACT_H
#define WEFT_CONTRACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weft/client.h"
#include "weft/desc.h"
#include "weft/dyndesc.h"
#include "weft/error.h"
#include "weft/json.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_contract weft_contract;

/* Builds the schema a contract names. kind is "descriptorSetFile" or
 * "proto"; path is already resolved against the contract's folder (both
 * live only during the call). On success *out is a new set that the
 * contract takes over (it frees it). Returns 0 or a negative WEFT_ERR_*
 * with err's message; the contract reports any failure as
 * WEFT_ERR_MALFORMED carrying that message. */
typedef int (*weft_contract_schema_fn)(void *ud, const char *kind,
                                       const char *path, weft_dyn_set **out,
                                       weft_error *err);

typedef struct weft_contract_opts {
  /* Where relative schema paths start ("" or NULL: the current folder). */
  const char *base_dir;
  /* Reads schema files; NULL: a contract that names files fails to load
   * (weft_contract_load supplies a reader of descriptor sets). */
  weft_contract_schema_fn schema_fn;
  void *schema_ud;
  /* Used instead of the contract's own schema when set (not owned). */
  const weft_dyn_set *schema;
  /* Services looked up here when the schema lacks them (e.g. what a
   * program is compiled with); NULL: none. Not owned. */
  const weft_registry *fallback;
} weft_contract_opts;

/* Parses and validates contract JSON (json[0..len), only read during the
 * call; opts may be NULL, and is only read during the call except for
 * opts->schema and opts->fallback, see above). On success *out is a new
 * contract that the caller frees with weft_contract_free(); on failure
 * *out is NULL. out must not be NULL. Returns 0, or WEFT_ERR_MALFORMED
 * (bad JSON, a bad key, an example or matcher path that does not fit the
 * schema, a schema that could not be read or built, whatever schema_fn
 * returned: err names the interaction and the path), WEFT_ERR_NOMEM. */
int weft_contract_parse(weft_contract **out, const char *json, size_t len,
                        const weft_contract_opts *opts, weft_error *err);
/* Reads the file and parses it; schema paths are relative to its folder
 * (unless opts->base_dir is set). opts may be NULL; without a schema_fn it
 * reads binary descriptor sets only (a "proto" schema then fails). Also
 * WEFT_ERR_IO when the contract file cannot be opened or read, and
 * WEFT_ERR_NOMEM if it is over 64 MiB; a schema file that cannot be read
 * gives WEFT_ERR_MALFORMED (see weft_contract_schema_fn). out and path
 * must not be NULL; *out as for weft_contract_parse. */
int weft_contract_load(weft_contract **out, const char *path,
                       const weft_contract_opts *opts, weft_error *err);
/* Accepts NULL. Reports whose results came from c must be cleared first. */
void weft_contract_free(weft_contract *c);

/* The getters below return what the contract owns (valid until
 * weft_contract_free); c must not be NULL. An index i out of range gives
 * NULL (and *n = 0). Methods may point into opts->schema or
 * opts->fallback. */
const char *weft_contract_consumer(const weft_contract *c); /* "" if none */
const char *weft_contract_provider(const weft_contract *c); /* "" if none */
/* The contract's own schema (NULL if it names none, or opts->schema was
 * given). Owned by the contract. */
const weft_dyn_set *weft_contract_schema(const weft_contract *c);
size_t weft_contract_n_interactions(const weft_contract *c);
const char *weft_contract_interaction_name(const weft_contract *c, size_t i);
const weft_method_desc *weft_contract_interaction_method(const weft_contract *c,
                                                         size_t i);
/* The provider states interaction i needs (`given`), n_states of them. */
const char *const *weft_contract_interaction_states(const weft_contract *c,
                                                    size_t i, size_t *n);

/* One difference between what an interaction expects and what came back. */
typedef struct weft_contract_diff {
  char *path;    /* "responses[2].state", "status.code", "metadata.x-id" */
  char *message; /* "expected \"RUNNING\", got \"QUEUED\"" */
} weft_contract_diff;

typedef struct weft_contract_result {
  const char *name; /* the interaction's name (owned by the contract) */
  const char *method;
  bool passed;
  double seconds;
  size_t n_diffs;
  weft_contract_diff *diffs;
} weft_contract_result;

typedef struct weft_contract_report {
  size_t n_results;
  weft_contract_result *results;
  size_t n_failed;
} weft_contract_report;

/* A report starts zeroed ({0}); match and verify append to it (realloc).
 * clear frees the results and diffs and zeroes r for reuse; r must not be
 * NULL. */
void weft_contract_report_clear(weft_contract_report *r);

/* What one call of interaction i brought back, to be matched. Everything
 * here stays the caller's and is only read during weft_contract_match. */
typedef struct weft_contract_outcome {
  void *const *responses; /* messages of the method's output type */
  size_t n_responses;
  const weft_status *status;
  const weft_metadata *metadata; /* initial metadata and trailers */
} weft_contract_outcome;

/* Compares an outcome with interaction i's expectations (no I/O); appends
 * one result to r. It does not count r->n_failed (weft_contract_verify
 * does): callers look at the result's `passed`. A NULL o->status counts
 * as UNKNOWN. Returns 0, WEFT_ERR_INVAL (i out of range), or
 * WEFT_ERR_NOMEM (the result may then already be appended, incomplete). */
int weft_contract_match(const weft_contract *c, size_t i,
                        const weft_contract_outcome *o,
                        weft_contract_report *r);

/* Sets up the provider states of an interaction before it is replayed;
 * non-zero fails the interaction with err's message (status UNKNOWN). The
 * strings live only during the call. */
typedef int (*weft_contract_state_fn)(void *ud, const char *interaction,
                                      const char *const *states, size_t n,
                                      weft_error *err);

typedef struct weft_contract_verify_opts {
  int64_t timeout_ms; /* per call, unless the interaction says; 0: 10 s */
  weft_contract_state_fn state_fn;
  void *state_ud;
} weft_contract_verify_opts;

/* Replays every interaction on client (any transport) and appends one
 * result each to r. opts may be NULL. Call failures are results (status
 * differences), not return codes; the responses are freed before it
 * returns. Returns 0 (see r->n_failed) or WEFT_ERR_NOMEM (stops at that
 * interaction; r keeps the results so far). */
int weft_contract_verify(const weft_contract *c, weft_client *client,
                         const weft_contract_verify_opts *opts,
                         weft_contract_report *r);

#ifdef __cplusplus
}
#endif
#endif
