/* The type registry: files added by generated <file>_register() functions
 * (or explicitly), searchable by full message/enum/service name. Any
 * resolution in the JSON codec and reflection in the rpc layer use it.
 * A mutex guards every registry so the global one can be filled lazily from
 * any thread; lookups are a hash probe. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "json_internal.h"

typedef struct name_slot {
  const char *name; /* NULL: empty */
  const void *value;
} name_slot;

typedef struct name_table {
  name_slot *slots;
  size_t cap, n; /* cap is a power of two */
} name_table;

struct weft_registry {
  pthread_mutex_t mu;
  const weft_file_desc **files;
  size_t n_files, cap_files;
  name_table messages, enums, services;
  const weft_service_desc **service_order;
  size_t n_services, cap_services;
};

static uint64_t hash_name(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ULL; /* FNV-1a */
  for (size_t i = 0; i < n; i++) {
    h ^= (uint8_t)s[i];
    h *= 1099511628211ULL;
  }
  return h;
}

static const void *table_find(const name_table *t, const char *name, size_t n) {
  if (!t->cap)
    return NULL;
  size_t mask = t->cap - 1;
  for (size_t i = hash_name(name, n) & mask;; i = (i + 1) & mask) {
    const name_slot *s = &t->slots[i];
    if (!s->name)
      return NULL;
    if (strncmp(s->name, name, n) == 0 && s->name[n] == '\0')
      return s->value;
  }
}

static int table_put(name_table *t, const char *name, const void *value) {
  size_t len = strlen(name);
  if ((t->n + 1) * 2 > t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 64;
    name_slot *slots = calloc(cap, sizeof *slots);
    if (!slots)
      return WEFT_ERR_NOMEM;
    for (size_t i = 0; i < t->cap; i++) {
      if (!t->slots[i].name)
        continue;
      size_t j =
          hash_name(t->slots[i].name, strlen(t->slots[i].name)) & (cap - 1);
      while (slots[j].name)
        j = (j + 1) & (cap - 1);
      slots[j] = t->slots[i];
    }
    free(t->slots);
    t->slots = slots;
    t->cap = cap;
  }
  size_t mask = t->cap - 1;
  for (size_t i = hash_name(name, len) & mask;; i = (i + 1) & mask) {
    if (!t->slots[i].name) {
      t->slots[i].name = name;
      t->slots[i].value = value;
      t->n++;
      return 0;
    }
    if (strcmp(t->slots[i].name, name) == 0)
      return 0; /* first registration wins */
  }
}

int weft_registry_new(weft_registry **out) {
  weft_registry *r = calloc(1, sizeof *r);
  if (!r)
    return WEFT_ERR_NOMEM;
  pthread_mutex_init(&r->mu, NULL);
  *out = r;
  return 0;
}

void weft_registry_free(weft_registry *r) {
  if (!r || r == weft_registry_global())
    return;
  pthread_mutex_destroy(&r->mu);
  free(r->files);
  free(r->messages.slots);
  free(r->enums.slots);
  free(r->services.slots);
  free(r->service_order);
  free(r);
}

static int grow_ptrs(const void ***arr, size_t *cap, size_t n) {
  if (n < *cap)
    return 0;
  size_t c = *cap ? *cap * 2 : 16;
  const void **p = realloc((void *)*arr, c * sizeof *p);
  if (!p)
    return WEFT_ERR_NOMEM;
  *arr = p;
  *cap = c;
  return 0;
}

static int add_file_locked(weft_registry *r, const weft_file_desc *f,
                           unsigned depth) {
  if (!f)
    return WEFT_ERR_INVAL;
  if (depth > 64)
    return WEFT_ERR_DEPTH;
  for (size_t i = 0; i < r->n_files; i++)
    if (r->files[i] == f || strcmp(r->files[i]->name, f->name) == 0)
      return 0;
  int rv = grow_ptrs((const void ***)&r->files, &r->cap_files, r->n_files);
  if (rv)
    return rv;
  r->files[r->n_files++] = f;
  for (unsigned i = 0; i < f->n_deps; i++)
    if ((rv = add_file_locked(r, f->deps[i], depth + 1)) != 0)
      return rv;
  for (unsigned i = 0; i < f->n_messages; i++)
    if ((rv = table_put(&r->messages, f->messages[i]->base.name,
                        f->messages[i])) != 0)
      return rv;
  for (unsigned i = 0; i < f->n_enums; i++)
    if ((rv = table_put(&r->enums, f->enums[i]->base.name, f->enums[i])) != 0)
      return rv;
  for (unsigned i = 0; i < f->n_services; i++) {
    const weft_service_desc *s = f->services[i];
    if (table_find(&r->services, s->name, strlen(s->name)))
      continue;
    if ((rv = table_put(&r->services, s->name, s)) != 0)
      return rv;
    if ((rv = grow_ptrs((const void ***)&r->service_order, &r->cap_services,
                        r->n_services)) != 0)
      return rv;
    r->service_order[r->n_services++] = s;
  }
  return 0;
}

int weft_registry_add_file(weft_registry *r, const weft_file_desc *f) {
  if (!r)
    return WEFT_ERR_INVAL;
  pthread_mutex_lock(&r->mu);
  int rv = add_file_locked(r, f, 0);
  pthread_mutex_unlock(&r->mu);
  return rv;
}

static const void *find(const weft_registry *r, const name_table *t,
                        const char *name, size_t n) {
  weft_registry *m = (weft_registry *)r;
  pthread_mutex_lock(&m->mu);
  const void *v = table_find(t, name, n);
  pthread_mutex_unlock(&m->mu);
  return v;
}

const weft_msg_desc *weft_registry_find_message(const weft_registry *r,
                                                const char *full_name) {
  if (!r || !full_name)
    return NULL;
  return find(r, &r->messages, full_name, strlen(full_name));
}

const weft_enum_desc *weft_registry_find_enum(const weft_registry *r,
                                              const char *full_name) {
  if (!r || !full_name)
    return NULL;
  return find(r, &r->enums, full_name, strlen(full_name));
}

const weft_service_desc *weft_registry_find_service(const weft_registry *r,
                                                    const char *full_name) {
  if (!r || !full_name)
    return NULL;
  return find(r, &r->services, full_name, strlen(full_name));
}

void weft_registry_each_service(const weft_registry *r,
                                void (*fn)(const weft_service_desc *, void *),
                                void *ud) {
  if (!r || !fn)
    return;
  weft_registry *m = (weft_registry *)r;
  /* Copy the list so fn may call back into the registry. */
  pthread_mutex_lock(&m->mu);
  size_t n = r->n_services;
  const weft_service_desc **copy = n ? malloc(n * sizeof *copy) : NULL;
  if (copy)
    memcpy(copy, r->service_order, n * sizeof *copy);
  pthread_mutex_unlock(&m->mu);
  for (size_t i = 0; copy && i < n; i++)
    fn(copy[i], ud);
  free(copy);
}

/* The well-known-type files, from the generated weft_wkt library. */
extern void weft__json_register_wkt(weft_registry *r);

static weft_registry g_global;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void global_init(void) {
  pthread_mutex_init(&g_global.mu, NULL);
  weft__json_register_wkt(&g_global);
}

weft_registry *weft_registry_global(void) {
  pthread_once(&g_once, global_init);
  return &g_global;
}

const weft_msg_desc *weft__wj_resolve_any(const weft_registry *r,
                                          const char *url, size_t n) {
  if (!r)
    r = weft_registry_global();
  /* Google requires a '/' and resolves the part after the last one. */
  size_t slash = n;
  while (slash > 0 && url[slash - 1] != '/')
    slash--;
  if (slash == 0 || slash == n)
    return NULL;
  return find(r, &r->messages, url + slash, n - slash);
}
