/* Bump-pointer arena: a chain of blocks, each allocation 8-byte aligned.
 * Requests larger than a quarter block get a block of their own so a big
 * string does not waste the rest of the current block. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "weft/arena.h"
#include "weft/error.h"
#include "arena_internal.h"

static weft__block *block_new(size_t size) {
  weft__block *b;
  if (size > SIZE_MAX - WEFT__HDR)
    return NULL;
  b = malloc(WEFT__HDR + size);
  if (!b)
    return NULL;
  b->next = NULL;
  b->size = size;
  return b;
}

int weft_arena_new(weft_arena **out, size_t block_size) {
  weft_arena *a;
  if (!out)
    return WEFT_ERR_INVAL;
  *out = NULL;
  a = calloc(1, sizeof *a);
  if (!a)
    return WEFT_ERR_NOMEM;
  a->block_size = block_size ? WEFT__ALIGN(block_size) : 16384u;
  a->first = block_new(a->block_size);
  if (!a->first) {
    free(a);
    return WEFT_ERR_NOMEM;
  }
  a->head = a->first;
  a->ptr = weft__block_data(a->first);
  a->end = a->ptr + a->first->size;
  *out = a;
  return 0;
}

void weft_arena_free(weft_arena *a) {
  weft__block *b, *n;
  if (!a)
    return;
  for (b = a->head; b; b = n) {
    n = b->next;
    free(b);
  }
  for (b = a->big; b; b = n) {
    n = b->next;
    free(b);
  }
  free(a);
}

void weft_arena_reset(weft_arena *a) {
  weft__block *b, *n;
  if (!a)
    return;
  if (a->head == a->first && !a->big) {
    /* one block in use: the common case of a decode loop */
    a->ptr = weft__block_data(a->first);
    a->used = 0;
    return;
  }
  for (b = a->head; b && b != a->first; b = n) {
    n = b->next;
    free(b);
  }
  for (b = a->big; b; b = n) {
    n = b->next;
    free(b);
  }
  a->big = NULL;
  a->head = a->first;
  a->first->next = NULL;
  a->ptr = weft__block_data(a->first);
  a->end = a->ptr + a->first->size;
  a->used = 0;
}

/* Slow path: the current block is full. */
static void *arena_grow(weft_arena *a, size_t n) {
  weft__block *b;
  if (n > a->block_size / 4) {
    /* Dedicated block; the current block keeps serving small requests. */
    b = block_new(n);
    if (!b)
      return NULL;
    b->next = a->big;
    a->big = b;
    a->used += n;
    return weft__block_data(b);
  }
  b = block_new(a->block_size);
  if (!b)
    return NULL;
  b->next = a->head;
  a->head = b;
  a->ptr = weft__block_data(b) + n;
  a->end = weft__block_data(b) + b->size;
  a->used += n;
  return weft__block_data(b);
}

void *weft_arena_alloc(weft_arena *a, size_t size) {
  size_t n = WEFT__ALIGN(size ? size : 1);
  char *p;
  if (n < size)
    return NULL; /* overflow */
  if ((size_t)(a->end - a->ptr) >= n) {
    p = a->ptr;
    a->ptr += n;
    a->used += n;
    return p;
  }
  return arena_grow(a, n);
}

void *weft_arena_calloc(weft_arena *a, size_t size) {
  void *p = weft_arena_alloc(a, size);
  if (p)
    memset(p, 0, size);
  return p;
}

size_t weft_arena_used(const weft_arena *a) {
  return a ? a->used : 0;
}
