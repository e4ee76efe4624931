/* Breaking-change detection between two versions of a schema.
 *
 * weft's users regenerate bindings whenever a .proto file changes; a field
 * renumbered from 2 to 7 still compiles, and an old peer then silently
 * reads zeros. This module compares two google.protobuf.FileDescriptorSets
 * (NEW against OLD, what `protoc -o --include_source_info` writes) and
 * reports every change that breaks old peers, with the rules, rule ids and
 * categories of buf's `buf breaking` (v1 configuration):
 *
 *   FILE       the strictest: generated code keeps compiling (default)
 *   PACKAGE    like FILE, but types may move between files of a package
 *   WIRE_JSON  the binary and the JSON encodings stay compatible
 *   WIRE       the binary encoding stays compatible
 *
 * docs/BREAKING.md lists every rule. The engine does no I/O: two sets in,
 * violations out; `weft breaking` (cli/) reads files and git revisions.
 * Locations come from SourceCodeInfo when the sets carry it (line 0
 * otherwise). A report owns its strings (it outlives the sets); all of it
 * is freed by weft_breaking_report_free(). */
#ifndef WEFT_BREAKING_H
#define WEFT_BREAKING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weft/error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct Google__Protobuf__FileDescriptorSet;

/* Categories, as bits. */
enum {
  WEFT_BREAKING_FILE = 1u << 0,
  WEFT_BREAKING_PACKAGE = 1u << 1,
  WEFT_BREAKING_WIRE_JSON = 1u << 2,
  WEFT_BREAKING_WIRE = 1u << 3
};

typedef struct weft_breaking_rule {
  const char *id;      /* buf's rule id, e.g. "FIELD_SAME_TYPE" */
  unsigned categories; /* WEFT_BREAKING_* bits */
  const char *purpose; /* one sentence */
} weft_breaking_rule;

/* Every rule, in a stable order (i < weft_breaking_n_rules(); rule_at
 * returns NULL past the end). The rules and their strings are static
 * (never free them, valid for the life of the process). Cannot fail. */
size_t weft_breaking_n_rules(void);
const weft_breaking_rule *weft_breaking_rule_at(size_t i);
/* A rule by id (exact, case-sensitive), or NULL (also for NULL). */
const weft_breaking_rule *weft_breaking_find_rule(const char *id);
/* "FILE", "PACKAGE", "WIRE_JSON" or "WIRE" (case-sensitive) -> its bit; 0
 * if none (also for NULL). */
unsigned weft_breaking_category(const char *name);

/* Which rules run (only read during weft_breaking_check). `use` and `except`
 * hold rule ids or category names, as buf.yaml's breaking.use /
 * breaking.except: a rule runs when `use` names it or one of its categories (an
 * empty `use` means FILE) and `except` names neither. */
typedef struct weft_breaking_opts {
  const char *const *use;
  size_t n_use;
  const char *const *except;
  size_t n_except;
  /* The files to compare, by name, per side (NULL: every file of the set).
   * The other files of a set (its imports, as protoc --include_imports
   * writes them) only resolve the types that compared files name, as buf
   * excludes imports. */
  const char *const *new_files;
  size_t n_new_files;
  const char *const *old_files;
  size_t n_old_files;
} weft_breaking_opts;

/* Owned by its report: rule points to the static rule table, file and
 * message to the report's own copies; all valid until
 * weft_breaking_report_free. */
typedef struct weft_breaking_violation {
  const char *rule;    /* rule id */
  const char *file;    /* file in NEW; in OLD when the element is gone */
  bool against;        /* file names a file of OLD (it is gone from NEW) */
  int line, column;    /* 1-based; 0 when there is no source info */
  const char *message; /* what changed, naming the element */
} weft_breaking_violation;

typedef struct weft_breaking_report weft_breaking_report;

/* Compares NEW against OLD. Returns 0 and a report (possibly empty), or
 * WEFT_ERR_INVAL (an unknown rule or category in opts, or a file to
 * compare that is not in its set),
 * WEFT_ERR_MALFORMED (bytes that are not a FileDescriptorSet, or a set
 * protoc would not write: a file without a name, a name twice) or
 * WEFT_ERR_NOMEM, with err saying what and where (WEFT_ERR_INVAL also if out
 * is NULL). The sets and opts are only read during the call. On success
 * *out is a new report that the caller owns (free it with
 * weft_breaking_report_free); on failure *out is NULL and nothing is left
 * to free. */
int weft_breaking_check(
    const struct Google__Protobuf__FileDescriptorSet *new_set,
    const struct Google__Protobuf__FileDescriptorSet *old_set,
    const weft_breaking_opts *opts, weft_breaking_report **out,
    weft_error *err);
/* The same from serialized FileDescriptorSets (only read during the call).
 * Bytes that do not unpack give WEFT_ERR_MALFORMED ("new: ..." or
 * "against: ..."); so does running out of memory while unpacking, which
 * protobuf-c does not tell apart. */
int weft_breaking_check_bytes(const uint8_t *new_set, size_t new_len,
                              const uint8_t *old_set, size_t old_len,
                              const weft_breaking_opts *opts,
                              weft_breaking_report **out, weft_error *err);

/* Violations sorted by file, line, column, rule and message. count is 0
 * and at returns NULL for a NULL report or i >= count. The pointer from at
 * belongs to the report. */
size_t weft_breaking_report_count(const weft_breaking_report *r);
const weft_breaking_violation *
weft_breaking_report_at(const weft_breaking_report *r, size_t i);
/* Accepts NULL. */
void weft_breaking_report_free(weft_breaking_report *r);

#ifdef __cplusplus
}
#endif
#endif
