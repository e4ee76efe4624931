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

/* block_size 0 picks a default (16 KiB); other sizes are rounded up to a
 * multiple of 8. The first block is allocated here. On success *out is a new
 * arena that the caller owns, freed with weft_arena_free(); on failure *out
 * is NULL. Returns 0, WEFT_ERR_INVAL if out is NULL, or WEFT_ERR_NOMEM. */
int weft_arena_new(weft_arena **out, size_t block_size);
/* Frees the arena and every allocation made from it at once: pointers it
 * handed out (including messages decoded into it) are dangling afterwards.
 * Accepts NULL. */
void weft_arena_free(weft_arena *a);
/* Keeps the first block for reuse, frees the rest: for decode loops. Every
 * pointer handed out before the reset is invalid afterwards (the first
 * block's memory is reused). Accepts NULL. */
void weft_arena_reset(weft_arena *a);
/* size bytes (size 0 counts as 1), 8-byte aligned, owned by the arena: they
 * live until weft_arena_reset() or weft_arena_free(); never free() them.
 * NULL on OOM or if size overflows when rounded up. a must not be NULL.
 * weft_arena_alloc leaves the memory uninitialized, weft_arena_calloc zeroes
 * it. */
void *weft_arena_alloc(weft_arena *a, size_t size);
void *weft_arena_calloc(weft_arena *a, size_t size);
/* Bytes handed out since creation/reset, after rounding (for statistics
 * and tests); 0 for NULL. */
size_t weft_arena_used(const weft_arena *a);

#ifdef __cplusplus
}
#endif
#endif
