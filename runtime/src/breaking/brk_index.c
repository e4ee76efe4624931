/* Indexes one side of a comparison: files by name, types by full name,
 * each with its SourceCodeInfo path, and locates paths. */
#include <stdlib.h>
#include <string.h>

#include "brk_internal.h"

typedef struct brk_vec {
  brk_type *v;
  size_t n, cap;
} brk_vec;

static bool path_push(brk_path *p, int32_t a, int32_t b) {
  if (p->n + 2 > BRK_PATH_MAX) {
    p->n = BRK_PATH_MAX + 1; /* too deep: never located */
    return false;
  }
  p->p[p->n++] = a;
  p->p[p->n++] = b;
  return true;
}

static char *join(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  char *s = malloc(la + lb + 2);
  if (!s)
    return NULL;
  memcpy(s, a, la);
  size_t o = la;
  if (la)
    s[o++] = '.';
  memcpy(s + o, b, lb + 1);
  return s;
}

static int vec_add(brk_vec *v, const brk_file *f, const char *scope,
                   const char *name, const void *d, const brk_path *path) {
  if (v->n == v->cap) {
    size_t cap = v->cap ? v->cap * 2 : 16;
    brk_type *nv = realloc(v->v, cap * sizeof *nv);
    if (!nv)
      return WEFT_ERR_NOMEM;
    v->v = nv;
    v->cap = cap;
  }
  brk_type *t = &v->v[v->n];
  t->full = join(scope, brk_str(name));
  if (!t->full)
    return WEFT_ERR_NOMEM;
  size_t pl = strlen(f->pkg);
  t->nested = t->full + (pl ? pl + 1 : 0);
  t->file = f;
  t->d = d;
  t->seq = v->n;
  t->target = f->target;
  t->path = *path;
  v->n++;
  return 0;
}

typedef struct brk_build {
  brk_vec msgs, enums, svcs;
  brk_ext *exts;
  size_t n_exts, cap_exts;
} brk_build;

static int add_ext(brk_build *b, const brk_file *f, const char *scope,
                   const brk_field_pb *d, const brk_path *path) {
  if (b->n_exts == b->cap_exts) {
    size_t cap = b->cap_exts ? b->cap_exts * 2 : 8;
    brk_ext *nv = realloc(b->exts, cap * sizeof *nv);
    if (!nv)
      return WEFT_ERR_NOMEM;
    b->exts = nv;
    b->cap_exts = cap;
  }
  brk_ext *e = &b->exts[b->n_exts];
  e->full = join(scope, brk_str(d->name));
  if (!e->full)
    return WEFT_ERR_NOMEM;
  e->file = f;
  e->target = f->target;
  e->d = d;
  e->path = *path;
  b->n_exts++;
  return 0;
}

static int add_enums(brk_build *b, const brk_file *f, const char *scope,
                     brk_enum_pb *const *e, size_t n, const brk_path *base,
                     int32_t tag) {
  for (size_t i = 0; i < n; i++) {
    brk_path p = *base;
    path_push(&p, tag, (int32_t)i);
    int rv = vec_add(&b->enums, f, scope, e[i]->name, e[i], &p);
    if (rv)
      return rv;
  }
  return 0;
}

static int add_msgs(brk_build *b, const brk_file *f, const char *scope,
                    brk_msg_pb *const *m, size_t n, const brk_path *base,
                    int32_t tag) {
  for (size_t i = 0; i < n; i++) {
    brk_path p = *base;
    path_push(&p, tag, (int32_t)i);
    int rv = vec_add(&b->msgs, f, scope, m[i]->name, m[i], &p);
    if (rv)
      return rv;
    const char *full = b->msgs.v[b->msgs.n - 1].full;
    rv = add_msgs(b, f, full, m[i]->nested_type, m[i]->n_nested_type, &p, 3);
    if (!rv)
      rv = add_enums(b, f, full, m[i]->enum_type, m[i]->n_enum_type, &p, 4);
    for (size_t j = 0; !rv && j < m[i]->n_extension; j++) {
      brk_path q = p;
      path_push(&q, 6, (int32_t)j);
      rv = add_ext(b, f, full, m[i]->extension[j], &q);
    }
    if (rv)
      return rv;
  }
  return 0;
}

static int cmp_type(const void *a, const void *b) {
  const brk_type *x = a, *y = b;
  int c = strcmp(x->full, y->full);
  return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

static int cmp_file(const void *a, const void *b) {
  return strcmp(((const brk_file *)a)->name, ((const brk_file *)b)->name);
}

static bool listed(const char *const *v, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (v[i] && !strcmp(v[i], name))
      return true;
  return false;
}

int weft__brk_index(brk_side *s, const Google__Protobuf__FileDescriptorSet *set,
                    const char *const *targets, size_t n_targets,
                    const char *which, weft_error *err) {
  memset(s, 0, sizeof *s);
  size_t n = set ? set->n_file : 0;
  for (size_t i = 0; i < n; i++)
    if (!set->file[i]->name || !*set->file[i]->name)
      return weft_error_set(err, WEFT_ERR_MALFORMED,
                            "%s: file %zu of the set has no name", which, i);
  for (size_t i = 0; i < n_targets; i++) {
    bool found = false;
    for (size_t j = 0; j < n && !found; j++)
      found = targets[i] && !strcmp(set->file[j]->name, targets[i]);
    if (!found)
      return weft_error_set(err, WEFT_ERR_INVAL,
                            "%s: file %s is not in the set", which,
                            targets[i] ? targets[i] : "(null)");
  }
  if (!n)
    return 0;
  s->files = calloc(n, sizeof *s->files);
  s->deps = calloc(n, sizeof *s->deps);
  if (!s->files || !s->deps)
    return weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
  for (size_t i = 0; i < n; i++) {
    const brk_file_pb *d = set->file[i];
    bool target = !n_targets || listed(targets, n_targets, d->name);
    brk_file *f = target ? &s->files[s->n_files++] : &s->deps[s->n_deps++];
    f->d = d;
    f->name = d->name;
    f->pkg = brk_str(d->package);
    f->proto3 = d->syntax && !strcmp(d->syntax, "proto3");
    f->target = target;
  }
  brk_sort(s->files, s->n_files, sizeof *s->files, cmp_file);
  brk_sort(s->deps, s->n_deps, sizeof *s->deps, cmp_file);
  for (size_t i = 1; i < s->n_files; i++)
    if (!strcmp(s->files[i - 1].name, s->files[i].name))
      return weft_error_set(err, WEFT_ERR_MALFORMED,
                            "%s: file %s is in the set twice", which,
                            s->files[i].name);

  brk_build b = {0};
  int rv = 0;
  for (size_t i = 0; !rv && i < s->n_files + s->n_deps; i++) {
    const brk_file *f =
        i < s->n_files ? &s->files[i] : &s->deps[i - s->n_files];
    const brk_file_pb *d = f->d;
    brk_path root = {.n = 0};
    rv = add_msgs(&b, f, f->pkg, d->message_type, d->n_message_type, &root, 4);
    if (!rv)
      rv = add_enums(&b, f, f->pkg, d->enum_type, d->n_enum_type, &root, 5);
    for (size_t j = 0; !rv && j < d->n_service; j++) {
      brk_path p = root;
      path_push(&p, 6, (int32_t)j);
      rv = vec_add(&b.svcs, f, f->pkg, d->service[j]->name, d->service[j], &p);
    }
    for (size_t j = 0; !rv && j < d->n_extension; j++) {
      brk_path p = root;
      path_push(&p, 7, (int32_t)j);
      rv = add_ext(&b, f, f->pkg, d->extension[j], &p);
    }
  }
  s->msgs = b.msgs.v, s->n_msgs = b.msgs.n;
  s->enums = b.enums.v, s->n_enums = b.enums.n;
  s->svcs = b.svcs.v, s->n_svcs = b.svcs.n;
  s->exts = b.exts, s->n_exts = b.n_exts;
  if (rv)
    return weft_error_set(err, rv, "out of memory");
  /* Stable order for equal names (protoc never writes them; a fuzzer
   * does): the first one declared wins, as in a map filled in order. */
  brk_sort(s->msgs, s->n_msgs, sizeof *s->msgs, cmp_type);
  for (size_t i = 0; i < s->n_msgs; i++)
    weft__brk_map_field_path(s, &s->msgs[i], &s->msgs[i].path);
  brk_sort(s->enums, s->n_enums, sizeof *s->enums, cmp_type);
  brk_sort(s->svcs, s->n_svcs, sizeof *s->svcs, cmp_type);
  return 0;
}

void weft__brk_side_free(brk_side *s) {
  for (size_t i = 0; i < s->n_msgs; i++)
    free(s->msgs[i].full);
  for (size_t i = 0; i < s->n_enums; i++)
    free(s->enums[i].full);
  for (size_t i = 0; i < s->n_svcs; i++)
    free(s->svcs[i].full);
  for (size_t i = 0; i < s->n_exts; i++)
    free(s->exts[i].full);
  free(s->msgs);
  free(s->enums);
  free(s->svcs);
  free(s->exts);
  free(s->files);
  free(s->deps);
  memset(s, 0, sizeof *s);
}

const brk_file *weft__brk_find_file(const brk_side *s, const char *name) {
  size_t lo = 0, hi = s->n_files;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(s->files[mid].name, name);
    if (!c)
      return &s->files[mid];
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

const brk_type *weft__brk_find(const brk_type *v, size_t n, const char *full) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(v[mid].full, full);
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < n && !strcmp(v[lo].full, full) ? &v[lo] : NULL;
}

const brk_type *weft__brk_find_target(const brk_type *v, size_t n,
                                      const char *full) {
  const brk_type *t = weft__brk_find(v, n, full);
  for (; t && t < v + n && !strcmp(t->full, full); t++)
    if (t->target)
      return t;
  return NULL;
}

const brk_type *weft__brk_find_msg(const brk_side *s, const char *type_name) {
  if (!type_name)
    return NULL;
  if (*type_name == '.')
    type_name++;
  return weft__brk_find(s->msgs, s->n_msgs, type_name);
}

const brk_type *weft__brk_find_enum(const brk_side *s, const char *type_name) {
  if (!type_name)
    return NULL;
  if (*type_name == '.')
    type_name++;
  return weft__brk_find(s->enums, s->n_enums, type_name);
}

bool weft__brk_locate(const brk_file *f, const brk_path *path,
                      const int32_t *extra, size_t n_extra, int *line,
                      int *col) {
  const Google__Protobuf__SourceCodeInfo *sci =
      f ? f->d->source_code_info : NULL;
  if (!sci || path->n > BRK_PATH_MAX)
    return false;
  size_t n = path->n + n_extra;
  for (size_t i = 0; i < sci->n_location; i++) {
    const Google__Protobuf__SourceCodeInfo__Location *l = sci->location[i];
    if (l->n_path != n || l->n_span < 3)
      continue;
    if (memcmp(l->path, path->p, path->n * sizeof(int32_t)) ||
        (n_extra &&
         memcmp(l->path + path->n, extra, n_extra * sizeof(int32_t))))
      continue;
    if (l->span[0] < 0 || l->span[1] < 0 || l->span[0] == INT32_MAX ||
        l->span[1] == INT32_MAX)
      return false;
    *line = l->span[0] + 1;
    *col = l->span[1] + 1;
    return true;
  }
  return false;
}

bool weft__brk_is_map_entry(const brk_msg_pb *m) {
  return m && m->options && m->options->map_entry;
}

bool weft__brk_is_map_field(const brk_side *s, const brk_field_pb *f) {
  if (!f->has_label ||
      f->label !=
          GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED ||
      f->type != GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_MESSAGE)
    return false;
  const brk_type *t = weft__brk_find_msg(s, f->type_name);
  return t && weft__brk_is_map_entry(t->d);
}

char *weft__brk_json_name(const char *name) {
  size_t n = strlen(name);
  char *out = malloc(n + 1);
  if (!out)
    return NULL;
  size_t o = 0;
  bool up = false;
  for (size_t i = 0; i < n; i++) {
    char ch = name[i];
    if (ch == '_') {
      up = true;
      continue;
    }
    if (up && ch >= 'a' && ch <= 'z')
      ch = (char)(ch - 'a' + 'A');
    up = false;
    out[o++] = ch;
  }
  out[o] = 0;
  return out;
}

void weft__brk_map_field_path(const brk_side *s, const brk_type *entry,
                              brk_path *path) {
  if (!weft__brk_is_map_entry(entry->d))
    return;
  const char *dot = strrchr(entry->full, '.');
  char parent[1024];
  size_t n = dot ? (size_t)(dot - entry->full) : 0;
  if (!n || n >= sizeof parent)
    return;
  memcpy(parent, entry->full, n);
  parent[n] = 0;
  const brk_type *pt = weft__brk_find(s->msgs, s->n_msgs, parent);
  if (!pt || pt->file != entry->file || pt->path.n + 2 > BRK_PATH_MAX)
    return;
  const brk_msg_pb *pm = pt->d;
  for (size_t i = 0; i < pm->n_field; i++) {
    const char *tn = brk_str(pm->field[i]->type_name);
    if (*tn == '.')
      tn++;
    if (!strcmp(tn, entry->full)) {
      *path = pt->path;
      path->p[path->n++] = 2;
      path->p[path->n++] = (int32_t)i;
      return;
    }
  }
}

void weft__brk_each_pair(brk_ctx *c, const brk_type *ov, size_t on,
                         const brk_type *nv, size_t nn,
                         void (*fn)(brk_ctx *c, const brk_type *nt,
                                    const brk_type *ot)) {
  for (size_t i = 0; i < on; i++) {
    if (weft__brk_find_target(ov, on, ov[i].full) != &ov[i])
      continue; /* an import, or a second type of that name */
    const brk_type *nt = weft__brk_find_target(nv, nn, ov[i].full);
    if (nt)
      fn(c, nt, &ov[i]);
  }
}
