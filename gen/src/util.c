/* Pool allocation, growable text buffers and the first-error slot. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"

/* Every pool block is prefixed by a link to the previous one. */
typedef struct pool_hdr {
  struct pool_hdr *prev;
  max_align_t align[];
} pool_hdr;
static pool_hdr *pool_top;

void *gen_alloc(size_t n) {
  pool_hdr *h = calloc(1, sizeof(*h) + n);
  if (h == NULL) {
    fputs("protoc-gen-weft: out of memory\n", stderr);
    abort();
  }
  h->prev = pool_top;
  pool_top = h;
  return h->align;
}

void gen_pool_free(void) {
  while (pool_top != NULL) {
    pool_hdr *p = pool_top->prev;
    free(pool_top);
    pool_top = p;
  }
}

char *gen_strdup(const char *s) {
  size_t n = strlen(s);
  char *d = gen_alloc(n + 1);
  memcpy(d, s, n);
  return d;
}

char *gen_fmt(const char *fmt, ...) {
  gen_buf b = {0};
  va_list ap;
  va_start(ap, fmt);
  buf_vprintf(&b, fmt, ap);
  va_end(ap);
  char *s = gen_strdup(b.data ? b.data : "");
  buf_free(&b);
  return s;
}

static void buf_reserve(gen_buf *b, size_t extra) {
  if (b->len + extra + 1 <= b->cap)
    return;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + extra + 1)
    cap *= 2;
  char *d = realloc(b->data, cap);
  if (d == NULL) {
    fputs("protoc-gen-weft: out of memory\n", stderr);
    abort();
  }
  b->data = d;
  b->cap = cap;
}

void buf_putn(gen_buf *b, const char *s, size_t n) {
  buf_reserve(b, n);
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = 0;
}

void buf_put(gen_buf *b, const char *s) {
  buf_putn(b, s, strlen(s));
}

void buf_vprintf(gen_buf *b, const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0)
    return;
  buf_reserve(b, (size_t)n);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  b->len += (size_t)n;
}

void buf_printf(gen_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  buf_vprintf(b, fmt, ap);
  va_end(ap);
}

void buf_free(gen_buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

static char *first_error;

void gen_fail(const char *fmt, ...) {
  if (first_error != NULL)
    return;
  gen_buf b = {0};
  va_list ap;
  va_start(ap, fmt);
  buf_vprintf(&b, fmt, ap);
  va_end(ap);
  first_error = gen_strdup(b.data ? b.data : "error");
  buf_free(&b);
}

const char *gen_error(void) {
  return first_error;
}
