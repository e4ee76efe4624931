/* RPC status and metadata, in gRPC's code space on every transport. */
#ifndef WEFT_STATUS_H
#define WEFT_STATUS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum weft_status_code {
  WEFT_STATUS_OK = 0,
  WEFT_STATUS_CANCELLED = 1,
  WEFT_STATUS_UNKNOWN = 2,
  WEFT_STATUS_INVALID_ARGUMENT = 3,
  WEFT_STATUS_DEADLINE_EXCEEDED = 4,
  WEFT_STATUS_NOT_FOUND = 5,
  WEFT_STATUS_ALREADY_EXISTS = 6,
  WEFT_STATUS_PERMISSION_DENIED = 7,
  WEFT_STATUS_RESOURCE_EXHAUSTED = 8,
  WEFT_STATUS_FAILED_PRECONDITION = 9,
  WEFT_STATUS_ABORTED = 10,
  WEFT_STATUS_OUT_OF_RANGE = 11,
  WEFT_STATUS_UNIMPLEMENTED = 12,
  WEFT_STATUS_INTERNAL = 13,
  WEFT_STATUS_UNAVAILABLE = 14,
  WEFT_STATUS_DATA_LOSS = 15,
  WEFT_STATUS_UNAUTHENTICATED = 16
} weft_status_code;

/* "NOT_FOUND"; "UNKNOWN" for codes outside 0..16. */
const char *weft_status_name(int code);
/* Connect's lowercase snake form: "not_found". */
const char *weft_status_connect_name(int code);
/* Parses either form; returns -1 if unknown. */
int weft_status_from_name(const char *name);

/* A call's final status. message and details are owned (malloc'd). */
typedef struct weft_status {
  int code;
  char *message;
  uint8_t *details; /* serialized google.rpc.Status details, if any */
  size_t details_len;
} weft_status;

void weft_status_set(weft_status *st, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* set replaces (frees) the previous message; clear frees message and details
 * and resets the code to OK; move hands src's strings to dst (src is left
 * OK and empty). */
void weft_status_clear(weft_status *st);
void weft_status_move(weft_status *dst, weft_status *src);

/* Metadata: ordered key/value pairs (keys lowercase ASCII; values are text,
 * or arbitrary bytes for keys ending in "-bin"). */
typedef struct weft_metadata_entry {
  char *key;
  uint8_t *value;
  size_t value_len;
} weft_metadata_entry;

typedef struct weft_metadata {
  size_t count;
  size_t cap;
  weft_metadata_entry *entries;
} weft_metadata;

#define WEFT_METADATA_INIT                                                     \
  { 0, 0, NULL }

/* Metadata owns its keys and values: add copies key (lowercased) and value
 * (malloc, with a NUL after the value), weft_metadata_clear() frees them and
 * the array; copy deep-copies. Start from WEFT_METADATA_INIT. add returns 0,
 * WEFT_ERR_NOMEM, or WEFT_ERR_INVAL for a NULL md, a NULL or empty key, or
 * value NULL with value_len > 0 (add_str: value NULL), a key that is not
 * an HTTP field-name token (letters, digits and !#$%&'*+-.^_`|~), or a
 * value containing CR, LF or NUL under a key not ending in "-bin" (header
 * injection; "-bin" values are binary). The caller keeps key and value.
 * The key is lowercased. On failure md's entries are unchanged. */
int weft_metadata_add(weft_metadata *md, const char *key, const void *value,
                      size_t value_len);
int weft_metadata_add_str(weft_metadata *md, const char *key,
                          const char *value);
/* First entry with this key (case-insensitive), or NULL (also for NULL md
 * or key). The entry belongs to md: valid until md is next added to
 * (the array may move) or cleared. */
const weft_metadata_entry *weft_metadata_get(const weft_metadata *md,
                                             const char *key);
/* Appends deep copies of src's entries to dst (dst keeps what it had; clear
 * it first for a replacement). src NULL copies nothing. Returns 0,
 * WEFT_ERR_INVAL (dst NULL) or WEFT_ERR_NOMEM, after which dst holds the
 * entries copied so far (still owned by dst: clear it). */
int weft_metadata_copy(weft_metadata *dst, const weft_metadata *src);
/* Frees every key, value and the array, and leaves md empty and reusable.
 * Accepts NULL. */
void weft_metadata_clear(weft_metadata *md);

#ifdef __cplusplus
}
#endif
#endif
