/* The public API: selects rules, indexes both sides, runs the rule groups
 * and sorts what they found. */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "brk_internal.h"

struct weft_breaking_report {
  weft_breaking_violation *v;
  size_t n;
};

/* A name from opts: a category sets every rule of it, an id one rule. */
static int mark(bool *on, const char *name, bool value, weft_error *err) {
  unsigned cat = weft_breaking_category(name);
  if (cat) {
    for (size_t i = 0; i < BRK_N_RULES; i++)
      if (weft_breaking_rule_at(i)->categories & cat)
        on[i] = value;
    return 0;
  }
  const weft_breaking_rule *r = weft_breaking_find_rule(name);
  if (!r)
    return weft_error_set(err, WEFT_ERR_INVAL,
                          "unknown breaking rule or category '%s'",
                          name ? name : "(null)");
  on[r - weft_breaking_rule_at(0)] = value;
  return 0;
}

void weft__brk_add(brk_ctx *c, int rule, const brk_file *f,
                   const brk_path *path, const int32_t *extra, size_t n_extra,
                   const char *fmt, ...) {
  if (c->rv || !c->on[rule])
    return;
  if (c->n_v == c->cap_v) {
    size_t cap = c->cap_v ? c->cap_v * 2 : 16;
    weft_breaking_violation *nv = realloc(c->v, cap * sizeof *nv);
    if (!nv) {
      c->rv = WEFT_ERR_NOMEM;
      return;
    }
    c->v = nv;
    c->cap_v = cap;
  }
  weft_breaking_violation *v = &c->v[c->n_v];
  memset(v, 0, sizeof *v);
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  char *msg = n < 0 ? NULL : malloc((size_t)n + 1);
  if (!msg) {
    c->rv = WEFT_ERR_NOMEM;
    return;
  }
  va_start(ap, fmt);
  vsnprintf(msg, (size_t)n + 1, fmt, ap);
  va_end(ap);
  /* The set's strings die with the set; the report keeps its own. */
  char *file = strdup(f ? f->name : "");
  if (!file) {
    free(msg);
    c->rv = WEFT_ERR_NOMEM;
    return;
  }
  v->rule = weft_breaking_rule_at((size_t)rule)->id;
  v->file = file;
  for (size_t i = 0; f && i < c->old_s.n_files && !v->against; i++)
    v->against = f == &c->old_s.files[i];
  v->message = msg;
  if (f && path)
    weft__brk_locate(f, path, extra, n_extra, &v->line, &v->column);
  c->n_v++;
}

static int cmp_v(const void *a, const void *b) {
  const weft_breaking_violation *x = a, *y = b;
  int d = strcmp(x->file, y->file);
  if (!d)
    d = (x->line > y->line) - (x->line < y->line);
  if (!d)
    d = (x->column > y->column) - (x->column < y->column);
  if (!d)
    d = strcmp(x->rule, y->rule);
  if (!d)
    d = strcmp(x->message, y->message);
  return d;
}

static void free_v(weft_breaking_violation *v, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free((char *)v[i].message);
    free((char *)v[i].file);
  }
  free(v);
}

int weft_breaking_check(
    const struct Google__Protobuf__FileDescriptorSet *new_set,
    const struct Google__Protobuf__FileDescriptorSet *old_set,
    const weft_breaking_opts *opts, weft_breaking_report **out,
    weft_error *err) {
  if (!out)
    return weft_error_set(err, WEFT_ERR_INVAL, "out is NULL");
  *out = NULL;
  brk_ctx *c = calloc(1, sizeof *c);
  if (!c)
    return weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
  int rv = 0;
  if (opts && opts->n_use) {
    for (size_t i = 0; !rv && i < opts->n_use; i++)
      rv = mark(c->on, opts->use[i], true, err);
  } else {
    rv = mark(c->on, "FILE", true, err);
  }
  for (size_t i = 0; !rv && opts && i < opts->n_except; i++)
    rv = mark(c->on, opts->except[i], false, err);
  if (!rv)
    rv = weft__brk_index(&c->new_s, new_set, opts ? opts->new_files : NULL,
                         opts ? opts->n_new_files : 0, "new", err);
  if (!rv)
    rv = weft__brk_index(&c->old_s, old_set, opts ? opts->old_files : NULL,
                         opts ? opts->n_old_files : 0, "against", err);
  if (!rv) {
    weft__brk_files(c);
    weft__brk_types(c);
    weft__brk_fields(c);
    if (c->rv)
      rv = weft_error_set(err, c->rv, "out of memory");
  }
  weft_breaking_report *r = NULL;
  if (!rv && !(r = calloc(1, sizeof *r)))
    rv = weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
  if (rv) {
    free_v(c->v, c->n_v);
  } else {
    brk_sort(c->v, c->n_v, sizeof *c->v, cmp_v);
    r->v = c->v;
    r->n = c->n_v;
    *out = r;
  }
  weft__brk_side_free(&c->new_s);
  weft__brk_side_free(&c->old_s);
  free(c);
  return rv;
}

int weft_breaking_check_bytes(const uint8_t *new_set, size_t new_len,
                              const uint8_t *old_set, size_t old_len,
                              const weft_breaking_opts *opts,
                              weft_breaking_report **out, weft_error *err) {
  if (out)
    *out = NULL;
  Google__Protobuf__FileDescriptorSet *n =
      google__protobuf__file_descriptor_set__unpack(NULL, new_len, new_set);
  if (!n)
    return weft_error_set(err, WEFT_ERR_MALFORMED,
                          "new: not a FileDescriptorSet");
  Google__Protobuf__FileDescriptorSet *o =
      google__protobuf__file_descriptor_set__unpack(NULL, old_len, old_set);
  if (!o) {
    google__protobuf__file_descriptor_set__free_unpacked(n, NULL);
    return weft_error_set(err, WEFT_ERR_MALFORMED,
                          "against: not a FileDescriptorSet");
  }
  int rv = weft_breaking_check(n, o, opts, out, err);
  google__protobuf__file_descriptor_set__free_unpacked(n, NULL);
  google__protobuf__file_descriptor_set__free_unpacked(o, NULL);
  return rv;
}

size_t weft_breaking_report_count(const weft_breaking_report *r) {
  return r ? r->n : 0;
}

const weft_breaking_violation *
weft_breaking_report_at(const weft_breaking_report *r, size_t i) {
  return r && i < r->n ? &r->v[i] : NULL;
}

void weft_breaking_report_free(weft_breaking_report *r) {
  if (!r)
    return;
  free_v(r->v, r->n);
  free(r);
}
