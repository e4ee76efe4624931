/* Internals of the run-time descriptor builder (weft/dyndesc.h): the model
 * of a set under construction, shared by dyn_build.c (files, names, type
 * resolution, services, the public API) and dyn_message.c (the tables of
 * one message or enum, following protoc-gen-weft's rules). */
#ifndef WEFT_DYN_INTERNAL_H
#define WEFT_DYN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "google/protobuf/descriptor.pb-c.h"
#include "weft/arena.h"
#include "weft/dyndesc.h"

typedef Google__Protobuf__FileDescriptorProto dyn_file_proto;
typedef Google__Protobuf__DescriptorProto dyn_msg_proto;
typedef Google__Protobuf__EnumDescriptorProto dyn_enum_proto;
typedef Google__Protobuf__FieldDescriptorProto dyn_field_proto;

#define DYN_T(x) GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_##x
#define DYN_L(x) GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_##x

struct dyn_file;

/* A message or enum of the set (proto != NULL) or a compiled-in one. */
typedef struct dyn_msg {
  const dyn_msg_proto *p; /* NULL: compiled in */
  weft_msg_desc *d;       /* NULL when compiled in */
  const weft_msg_desc *cd;
  const char *full, *cname;
  struct dyn_file *file;
  int map_entry;
} dyn_msg;

typedef struct dyn_enum {
  const dyn_enum_proto *p; /* NULL: compiled in */
  weft_enum_desc *d;
  const weft_enum_desc *cd;
  const char *full, *cname;
  struct dyn_file *file;
} dyn_enum;

typedef struct dyn_file {
  const dyn_file_proto *p;        /* NULL: compiled-in dependency */
  const weft_file_desc *compiled; /* set: use it instead of building */
  weft_file_desc *d;              /* built */
  const char *name;
  int syntax;     /* 2 or 3 */
  dyn_msg **msgs; /* pre-order, nested included */
  size_t n_msgs, cap_msgs;
  dyn_enum **enums;
  size_t n_enums, cap_enums;
} dyn_file;

/* A string-keyed open-addressing table (malloc'd, freed with the set). */
typedef struct dyn_table {
  const char **keys;
  void **vals;
  size_t cap, n;
} dyn_table;
void *weft__dyn_get(const dyn_table *t, const char *key);
/* Returns the existing value for key, or stores val and returns NULL;
 * sets *nomem on allocation failure. */
void *weft__dyn_put(dyn_table *t, const char *key, void *val, int *nomem);
void weft__dyn_table_free(dyn_table *t);

typedef struct dyn_type {
  dyn_msg *m; /* one of the two */
  dyn_enum *e;
} dyn_type;

struct weft_dyn_set {
  weft_arena *a;
  dyn_file **files; /* input order first, then compiled-in dependencies */
  size_t n_input, n_files, cap_files;
  dyn_table types;    /* full name -> dyn_type */
  dyn_table by_file;  /* file name -> dyn_file */
  dyn_table services; /* full name -> weft_service_desc */
  weft_registry *reg;
};

/* Arena helpers: NULL on OOM. */
void *weft__dyn_alloc(weft_dyn_set *s, size_t n);
char *weft__dyn_strdup(weft_dyn_set *s, const char *str);
char *weft__dyn_fmt(weft_dyn_set *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A proto identifier: [A-Za-z_][A-Za-z0-9_]* (dotted: '.'-joined ones).
 * Anything else would break full names, method paths and C names. */
int weft__dyn_ident(const char *s, int dotted);
/* "a.b_c.Foo" -> "a__b_1c__Foo" (docs/NAMING.md). */
char *weft__dyn_cname(weft_dyn_set *s, const char *full);

/* Resolves a field's type_name from the scope of message full name. */
dyn_type *weft__dyn_resolve(weft_dyn_set *s, const char *scope,
                            const char *name);

/* Builds the tables of a message / enum of the set (dyn_message.c). */
int weft__dyn_build_enum(weft_dyn_set *s, dyn_enum *e, weft_error *err);
int weft__dyn_build_msg(weft_dyn_set *s, dyn_msg *m, weft_error *err);
/* After every message is built: well-known-type flags (checked against the
 * compiled-in shape, since the JSON codec relies on it). */
void weft__dyn_set_wkt(dyn_msg *m);

#endif
