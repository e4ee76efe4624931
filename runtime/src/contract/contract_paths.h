/* Matcher paths and expected trees (contract_paths.c). */
#ifndef WEFT_CONTRACT_PATHS_H
#define WEFT_CONTRACT_PATHS_H

#include "contract_internal.h"

/* Parses a matcher path ("response.job.id", "responses[*].items[0]") and
 * checks it against m's output type, or, for paths that start with
 * request/requests (*request set), its input type; the first segment is
 * then "requests". single: `response` means responses[0] (else any
 * response); single_request the same for `request`. -1 with why set on a
 * bad path. */
int weft__ct_path_parse(const char *path, const weft_method_desc *m,
                        bool single, bool single_request, bool *request,
                        weft__ct_seg **segs, size_t *n, char *why,
                        size_t whylen);
void weft__ct_segs_free(weft__ct_seg *segs, size_t n);
/* canon (encoded with defaults), keeping only what raw (the example as
 * written) names. NULL when out of memory. */
cJSON *weft__ct_prune(const cJSON *canon, const cJSON *raw);

#endif
