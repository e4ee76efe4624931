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
#include "weft/server.h"

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

/* ---- Mock provider (docs/CONTRACTS.md, "Mock provider") ----
 *
 * Serves contracts alone, with no provider: a weft_server with a generic
 * service (weft_server_add_generic_service) for every service the
 * interactions name, on any listener URL (grpc://, h2c://, ws://, tcp://
 * and their TLS forms; weft has no in-process transport). A call whose
 * method, request(s) (the fields the example names, request matchers),
 * request metadata and provider states fit an interaction gets that
 * interaction's responses, response metadata and status; the most
 * specific fit wins (the example naming the most fields), then the first
 * declared. A call no interaction fits gets FAILED_PRECONDITION whose
 * message is the nearest interaction's differences, path by path.
 * Client-streaming and bidi calls are matched once the client half-closes,
 * on the whole sequence of messages it sent, except bidi interactions with
 * `steps`: chosen at their first step, then played in turn (each expected
 * response sent before the next message is read). */
typedef struct weft_contract_mock weft_contract_mock;

/* Metadata key naming a provider state the call wants (one entry per
 * state); calls without it use weft_contract_mock_opts.states. */
#define WEFT_CONTRACT_STATE_KEY "weft-contract-state"

typedef struct weft_contract_mock_opts {
  /* Listener URLs (port 0: a free port); NULL-terminated. NULL: only
   * "tcp://127.0.0.1:0". */
  const char *const *listen;
  /* Provider states in force for calls that name none (NULL-terminated,
   * may be NULL). An interaction with `given` fits a call only if each of
   * its states is in force; when no state is in force at all, `given` is
   * not checked. */
  const char *const *states;
  /* Answer server streams at once instead of waiting each response's
   * recorded delay (`delaysMs`). */
  bool immediate;
  /* Options of the server (NULL: defaults). Copied as weft_server_new
   * copies them. */
  const weft_server_opts *server;
} weft_contract_mock_opts;

/* Starts serving the n contracts (not owned: they must outlive the mock,
 * as must the descriptors they point into). opts may be NULL. Each
 * interaction's answer is built and matched against the interaction
 * itself first; one that cannot satisfy its own expectations (an example
 * that fails its own regex matcher, ...) is still served and named in the
 * report's warnings. On success *out is the running mock, ended with
 * weft_contract_mock_stop. Returns 0, WEFT_ERR_INVAL (no contracts),
 * WEFT_ERR_MALFORMED (an answer that does not encode), a listen error
 * (err names the URL), WEFT_ERR_NOMEM. */
int weft_contract_mock_start(weft_contract_mock **out,
                             const weft_contract *const *contracts, size_t n,
                             const weft_contract_mock_opts *opts,
                             weft_error *err);
/* The listeners' URLs with the ports actually bound, in opts->listen
 * order; NULL past the end. Owned by the mock. */
const char *weft_contract_mock_url(const weft_contract_mock *m, size_t i);
/* Stops serving (calls in flight get the server's shutdown grace) and
 * frees the mock. Accepts NULL. */
void weft_contract_mock_stop(weft_contract_mock *m);

/* What the consumer did with the mock so far. calls[k] counts the calls
 * that got interaction k (numbered through the contracts in order);
 * unmatched lists the calls no interaction fitted, each as
 * "METHOD: the nearest interaction's differences". */
typedef struct weft_contract_mock_report {
  size_t n_interactions;
  uint64_t *calls;
  size_t n_unexercised; /* interactions with no call */
  size_t n_unmatched;
  char **unmatched;
  size_t n_warnings; /* interactions whose answer fails themselves */
  char **warnings;
} weft_contract_mock_report;

/* Fills r (overwriting it: clear it before reuse) with a snapshot; any
 * thread. Returns 0 or WEFT_ERR_NOMEM. */
int weft_contract_mock_get_report(weft_contract_mock *m,
                                  weft_contract_mock_report *r);
void weft_contract_mock_report_clear(weft_contract_mock_report *r);

/* The consumer's side of verification: after the client under test ran
 * against the mock, appends one result per interaction (failed, with the
 * diff "calls: expected at least 1, got 0", if it was never exercised)
 * and one failed result per unmatched call (name "unmatched call", the
 * differences as its diff) to r, counting r->n_failed. Returns 0 or
 * WEFT_ERR_NOMEM. */
int weft_contract_mock_verify(weft_contract_mock *m, weft_contract_report *r);

#ifdef __cplusplus
}
#endif
#endif
