/* Decoded message trees on the malloc path: one allocation for the tree's
 * bookkeeping and the first block of its private arena, more blocks only
 * when the first one runs out (see internal.h for the ownership rules).
 *
 * Each thread keeps the allocation of the last tree it freed (up to
 * CACHE_MAX bytes) for the next decode: a decode loop then costs no malloc
 * at all, and a large block is not handed back to the kernel and faulted
 * in again on every message (glibc maps big blocks with mmap). */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "internal.h"

#define TREE_SIZE ((sizeof(weft__tree) + 15u) & ~(size_t)15u)
/* Later blocks: at least this, so a bad first guess costs few mallocs. */
#define TREE_MIN_BLOCK 4096u
#define CACHE_MAX (1u << 20)

#if defined(__SANITIZE_ADDRESS__) || defined(WEFT_SANITIZE_BUILD)
#define WEFT__ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT__ASAN 1
#endif
#endif
#ifndef WEFT__ASAN
#define WEFT__ASAN 0
#endif

typedef struct tree_cache {
  weft__tree *t; /* its first block's size is t->a.first->size */
} tree_cache;

/* initial-exec: a plain %fs access, not a __tls_get_addr call per decode */
#if defined(__GNUC__)
#define TLS_MODEL __attribute__((tls_model("initial-exec")))
#else
#define TLS_MODEL
#endif
static _Thread_local tree_cache cache TLS_MODEL;
static _Thread_local int cache_registered TLS_MODEL;
static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static int cache_ok;

static void cache_drop(void *p) {
  tree_cache *c = p;
  free(c->t);
  c->t = NULL;
}

static void cache_init(void) {
  cache_ok = pthread_key_create(&cache_key, cache_drop) == 0;
}

/* Keeps t for reuse; 0 when the thread cannot (then free it). */
static int cache_put(weft__tree *t) {
#if WEFT__ASAN
  /* under AddressSanitizer every tree is freed, so a use after free of a
   * decoded message is caught */
  return 0;
#endif
  if (t->a.first->size > CACHE_MAX)
    return 0;
  if (!cache_registered) {
    /* the key's destructor frees the cached tree when the thread exits */
    pthread_once(&cache_once, cache_init);
    if (!cache_ok || pthread_setspecific(cache_key, &cache) != 0)
      return 0;
    cache_registered = 1;
  }
  if (cache.t && cache.t->a.first->size > t->a.first->size)
    return 0; /* keep the larger one */
  if (cache.t)
    free(cache.t);
  cache.t = t;
  return 1;
}

weft__tree *weft__tree_new(size_t first_bytes) {
  weft__tree *t;
  weft__block *b;
  size_t n = WEFT__ALIGN(first_bytes);
  if (n < first_bytes || n > SIZE_MAX - TREE_SIZE - WEFT__HDR)
    return NULL;
  if (cache.t && cache.t->a.first->size >= n) {
    t = cache.t;
    cache.t = NULL;
    n = t->a.first->size;
  } else {
    t = malloc(TREE_SIZE + WEFT__HDR + n);
    if (!t)
      return NULL;
  }
  b = (weft__block *)(void *)((char *)t + TREE_SIZE);
  b->next = NULL;
  b->size = n;
  t->a.head = t->a.first = b;
  t->a.big = NULL;
  t->a.ptr = weft__block_data(b);
  t->a.end = t->a.ptr + n;
  t->a.block_size = n > TREE_MIN_BLOCK ? n : TREE_MIN_BLOCK;
  t->a.used = 0;
  t->root = NULL;
  t->alias_lo = t->alias_hi = NULL;
  return t;
}

void weft__tree_free(weft__tree *t) {
  if (!t)
    return;
  if (t->a.head != t->a.first || t->a.big)
    weft_arena_reset(&t->a); /* frees every block but the first */
  if (!cache_put(t))
    free(t);
}

static int in_chain(const weft__block *b, const weft__block *stop,
                    uintptr_t p) {
  for (; b && b != stop; b = b->next) {
    uintptr_t lo = (uintptr_t)b + WEFT__HDR;
    if (p >= lo && p < lo + b->size)
      return 1;
  }
  return 0;
}

int weft__tree_holds(const weft__tree *t, const void *p) {
  uintptr_t u = (uintptr_t)p;
  const weft__block *first = t->a.first;
  uintptr_t lo = (uintptr_t)first + WEFT__HDR;
  if (u >= lo && u < lo + first->size)
    return 1;
  if (u >= (uintptr_t)t->alias_lo && u < (uintptr_t)t->alias_hi)
    return 1;
  return in_chain(t->a.head, first, u) || in_chain(t->a.big, NULL, u);
}

weft_arena *weft__tree_arena(weft__tree *t) {
  return &t->a;
}

void weft__tree_set_root(weft__tree *t, void *root) {
  t->root = root;
}
