/* The proto3 JSON mapping, for every generated message.
 *
 * Encode and decode follow Google's JsonFormat exactly (field names, enums,
 * 64-bit integers as strings, base64 bytes, well-known types, Any through a
 * type registry). Errors name the JSON path and the reason:
 *   settlements[3].createdAt: "2026-13-01T00:00:00Z" is not a valid RFC 3339
 * time
 */
#ifndef WEFT_JSON_H
#define WEFT_JSON_H

#include <stddef.h>

#include "weft/arena.h"
#include "weft/desc.h"
#include "weft/error.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
  WEFT_JSON_EMIT_DEFAULTS = 1u << 0, /* print fields at their default value */
  WEFT_JSON_PROTO_NAMES = 1u << 1,   /* "job_id" rather than "jobId" */
  WEFT_JSON_ENUMS_AS_INTS = 1u << 2,
  WEFT_JSON_IGNORE_UNKNOWN = 1u << 3, /* decode: skip unknown fields/enums */
  WEFT_JSON_PRETTY = 1u << 4          /* two-space indented output */
};

/* A set of files whose messages Any can carry, looked up by full name. */
typedef struct weft_registry weft_registry;

/* *out is a new, empty registry, freed with weft_registry_free() (which
 * accepts NULL). Returns 0 or WEFT_ERR_NOMEM. */
int weft_registry_new(weft_registry **out);
void weft_registry_free(weft_registry *r);
/* Adds a file and, recursively, its dependencies. Idempotent. f is not
 * copied: it must outlive the registry (generated descriptors are static).
 * The lookups below return descriptors owned by their files. */
int weft_registry_add_file(weft_registry *r, const weft_file_desc *f);
const weft_msg_desc *weft_registry_find_message(const weft_registry *r,
                                                const char *full_name);
const weft_enum_desc *weft_registry_find_enum(const weft_registry *r,
                                              const char *full_name);
const weft_service_desc *weft_registry_find_service(const weft_registry *r,
                                                    const char *full_name);
/* Calls fn for each service in the registry (in insertion order). */
void weft_registry_each_service(const weft_registry *r,
                                void (*fn)(const weft_service_desc *, void *),
                                void *ud);
/* A process-wide registry that generated code's
 * <file>_register() adds to; weft's own WKT files are always in it. */
weft_registry *weft_registry_global(void);

typedef struct weft_json_opts {
  unsigned flags;                /* WEFT_JSON_* */
  const weft_registry *registry; /* for Any; NULL: weft_registry_global() */
  weft_arena *arena;             /* decode: allocate into this arena */
  unsigned max_depth;            /* 0: 100 */
} weft_json_opts;

/* Encodes msg as JSON into a new NUL-terminated malloc'd string: *out is
 * the caller's, free() it; *out_len (if out_len is not NULL) is its length.
 * opts may be NULL. Errors: WEFT_ERR_NOMEM, _JSON_WKT (a well-known type
 * value JSON cannot express, e.g. a Timestamp out of range),
 * _JSON_ANY_TYPE (an Any whose type the registry lacks); err names the
 * field path. */
int weft_json_encode(const void *msg, const weft_json_opts *opts, char **out,
                     size_t *out_len, weft_error *err);
/* Decodes JSON text (need not be NUL-terminated) into a new message. json
 * is not referenced after the return. On success *out is the caller's:
 * malloc'd (free with weft_message_free()) or, with opts->arena, in the
 * arena; on failure *out is NULL. Errors: WEFT_ERR_JSON_* (syntax, type,
 * unknown field, duplicate, range, enum, oneof, WKT, Any type), _UTF8,
 * _DEPTH, _NOMEM; err names the JSON path and the reason. */
int weft_json_decode(const weft_msg_desc *d, const char *json, size_t len,
                     const weft_json_opts *opts, void **out, weft_error *err);

#ifdef __cplusplus
}
#endif
#endif
