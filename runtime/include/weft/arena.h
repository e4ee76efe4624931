/* Arena allocation: a whole decoded message tree in a few large blocks,
 * released in one call. Decoding into an arena is the fast path (no per-field
 * malloc, no tree walk on free); weft_message_free() is the malloc path. */
#ifndef WEFT_ARENA_H
#define WEFT_ARENA_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_arena weft_arena;

/* block_size 0 picks a default (16 KiB). Returns 0 or WEFT_ERR_NOMEM. */
int weft_arena_new(weft_arena **out, size_t block_size);
/* Frees every allocation at once. Accepts NULL. */
void weft_arena_free(weft_arena *a);
/* Keeps the first block for reuse, drops the rest: for decode loops. */
void weft_arena_reset(weft_arena *a);
/* 8-byte aligned; NULL on OOM. */
void *weft_arena_alloc(weft_arena *a, size_t size);
void *weft_arena_calloc(weft_arena *a, size_t size);
/* Bytes handed out since creation/reset (for statistics and tests). */
size_t weft_arena_used(const weft_arena *a);

#ifdef __cplusplus
}
#endif
#endif
