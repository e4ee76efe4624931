/* The arena's layout, shared with the codec so the bump-pointer fast path
 * can be inlined into the decoder. Not public API. */
#ifndef WEFT_ARENA_INTERNAL_H
#define WEFT_ARENA_INTERNAL_H

#include <stddef.h>

#include "weft/arena.h"

typedef struct weft__block {
  struct weft__block *next;
  size_t size; /* usable bytes after the header */
} weft__block;

#define WEFT__ALIGN(n) (((n) + 7u) & ~(size_t)7u)
/* A block's header, rounded up so block data keeps malloc's alignment. */
#define WEFT__HDR ((sizeof(weft__block) + 15u) & ~(size_t)15u)

static inline char *weft__block_data(weft__block *b) {
  return (char *)b + WEFT__HDR;
}

struct weft_arena {
  weft__block *head;  /* current bump block; the chain ends at first */
  weft__block *first; /* kept by reset */
  weft__block *big;   /* dedicated blocks for large requests */
  char *ptr, *end;
  size_t block_size;
  size_t used;
};

/* Inline fast path of weft_arena_alloc. */
static inline void *weft__arena_alloc(weft_arena *a, size_t size) {
  size_t n = WEFT__ALIGN(size ? size : 1);
  if (n >= size && (size_t)(a->end - a->ptr) >= n) {
    char *p = a->ptr;
    a->ptr += n;
    a->used += n;
    return p;
  }
  return weft_arena_alloc(a, size);
}

#endif
