/* The split-invariance driver shared by the fuzz targets of incremental
 * parsers (h1_engine, h1_client, h1_body): a target drives its parser over
 * the input once in one piece and once in chunks, writing what it saw into
 * an event log, and the two logs must be equal: a parse that depends on
 * where the bytes were split is a bug (a smuggling vector, or a lost
 * byte). Not built as a fuzz target itself (this folder has no
 * CMakeLists.txt); targets list split_check.c among their sources. */
#ifndef WEFT_TESTS_FUZZ_SPLIT_CHECK_H
#define WEFT_TESTS_FUZZ_SPLIT_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What one run saw, as bytes. */
typedef struct weft_fuzz_log {
  uint8_t *buf;
  size_t len, cap;
  bool in_body;  /* the last event was body bytes */
  void *engine;  /* the target's own (callbacks reach it through the log) */
  unsigned mode; /* the target's own: how it drives the parser */
} weft_fuzz_log;

void weft_fuzz_log_put(weft_fuzz_log *l, const void *p, size_t n);
/* A NUL-terminated string, its NUL included (so "ab","c" != "a","bc"). */
void weft_fuzz_log_str(weft_fuzz_log *l, const char *s);
/* An event's one-letter tag; ends a run of body bytes. */
void weft_fuzz_log_mark(weft_fuzz_log *l, char tag);
/* Body bytes: consecutive runs are merged, since the chunking decides how
 * a body is cut into deliveries, not what it holds. */
void weft_fuzz_log_body(weft_fuzz_log *l, const uint8_t *p, size_t n);

/* Drives the parser over data in pieces of at most chunk bytes, logging
 * into l (whose mode is set). */
typedef void (*weft_fuzz_run_fn)(const uint8_t *data, size_t size, size_t chunk,
                                 weft_fuzz_log *l);

/* Runs run whole and in chunks of `chunk` (>= 1) with `mode`, and aborts
 * when the two logs differ. */
void weft_fuzz_split_check(const uint8_t *data, size_t size, size_t chunk,
                           unsigned mode, weft_fuzz_run_fn run);

#endif
