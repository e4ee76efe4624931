/* Internals of the breaking-change engine (weft/breaking.h).
 *
 * Each side (NEW, OLD) is indexed once: files by name, and every message,
 * enum and service by full name, each with the SourceCodeInfo path that
 * locates it. Rules then walk pairs the way buf's do: files by name
 * (FILE rules), types by full name across all files, fields by number,
 * enum values by number, methods by name, and types per package. */
#ifndef WEFT_BRK_INTERNAL_H
#define WEFT_BRK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "google/protobuf/descriptor.pb-c.h"
#include "weft/breaking.h"

typedef Google__Protobuf__FileDescriptorProto brk_file_pb;
typedef Google__Protobuf__DescriptorProto brk_msg_pb;
typedef Google__Protobuf__FieldDescriptorProto brk_field_pb;
typedef Google__Protobuf__EnumDescriptorProto brk_enum_pb;
typedef Google__Protobuf__EnumValueDescriptorProto brk_value_pb;
typedef Google__Protobuf__ServiceDescriptorProto brk_svc_pb;
typedef Google__Protobuf__MethodDescriptorProto brk_method_pb;

/* Rule indexes, in the order of the table in brk_rules.c. */
#define BRK_RULES(X)                                                           \
  X(ENUM_NO_DELETE)                                                            \
  X(FILE_NO_DELETE)                                                            \
  X(MESSAGE_NO_DELETE)                                                         \
  X(SERVICE_NO_DELETE)                                                         \
  X(ENUM_SAME_TYPE)                                                            \
  X(ENUM_VALUE_NO_DELETE)                                                      \
  X(EXTENSION_MESSAGE_NO_DELETE)                                               \
  X(FIELD_NO_DELETE)                                                           \
  X(FIELD_SAME_CARDINALITY)                                                    \
  X(FIELD_SAME_CPP_STRING_TYPE)                                                \
  X(FIELD_SAME_JAVA_UTF8_VALIDATION)                                           \
  X(FIELD_SAME_JSTYPE)                                                         \
  X(FIELD_SAME_TYPE)                                                           \
  X(FIELD_SAME_UTF8_VALIDATION)                                                \
  X(FILE_SAME_CC_ENABLE_ARENAS)                                                \
  X(FILE_SAME_CC_GENERIC_SERVICES)                                             \
  X(FILE_SAME_CSHARP_NAMESPACE)                                                \
  X(FILE_SAME_GO_PACKAGE)                                                      \
  X(FILE_SAME_JAVA_GENERIC_SERVICES)                                           \
  X(FILE_SAME_JAVA_MULTIPLE_FILES)                                             \
  X(FILE_SAME_JAVA_OUTER_CLASSNAME)                                            \
  X(FILE_SAME_JAVA_PACKAGE)                                                    \
  X(FILE_SAME_OBJC_CLASS_PREFIX)                                               \
  X(FILE_SAME_OPTIMIZE_FOR)                                                    \
  X(FILE_SAME_PHP_CLASS_PREFIX)                                                \
  X(FILE_SAME_PHP_METADATA_NAMESPACE)                                          \
  X(FILE_SAME_PHP_NAMESPACE)                                                   \
  X(FILE_SAME_PY_GENERIC_SERVICES)                                             \
  X(FILE_SAME_RUBY_PACKAGE)                                                    \
  X(FILE_SAME_SWIFT_PREFIX)                                                    \
  X(FILE_SAME_SYNTAX)                                                          \
  X(MESSAGE_NO_REMOVE_STANDARD_DESCRIPTOR_ACCESSOR)                            \
  X(ONEOF_NO_DELETE)                                                           \
  X(RPC_NO_DELETE)                                                             \
  X(ENUM_SAME_JSON_FORMAT)                                                     \
  X(ENUM_VALUE_SAME_NAME)                                                      \
  X(FIELD_SAME_JSON_NAME)                                                      \
  X(FIELD_SAME_NAME)                                                           \
  X(MESSAGE_SAME_JSON_FORMAT)                                                  \
  X(FIELD_SAME_ONEOF)                                                          \
  X(FILE_SAME_PACKAGE)                                                         \
  X(MESSAGE_SAME_REQUIRED_FIELDS)                                              \
  X(RESERVED_ENUM_NO_DELETE)                                                   \
  X(RESERVED_MESSAGE_NO_DELETE)                                                \
  X(RPC_SAME_CLIENT_STREAMING)                                                 \
  X(RPC_SAME_IDEMPOTENCY_LEVEL)                                                \
  X(RPC_SAME_REQUEST_TYPE)                                                     \
  X(RPC_SAME_RESPONSE_TYPE)                                                    \
  X(RPC_SAME_SERVER_STREAMING)                                                 \
  X(PACKAGE_ENUM_NO_DELETE)                                                    \
  X(PACKAGE_MESSAGE_NO_DELETE)                                                 \
  X(PACKAGE_NO_DELETE)                                                         \
  X(PACKAGE_SERVICE_NO_DELETE)                                                 \
  X(ENUM_VALUE_NO_DELETE_UNLESS_NAME_RESERVED)                                 \
  X(FIELD_NO_DELETE_UNLESS_NAME_RESERVED)                                      \
  X(FIELD_WIRE_JSON_COMPATIBLE_CARDINALITY)                                    \
  X(FIELD_WIRE_JSON_COMPATIBLE_TYPE)                                           \
  X(ENUM_VALUE_NO_DELETE_UNLESS_NUMBER_RESERVED)                               \
  X(FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED)                                    \
  X(FIELD_WIRE_COMPATIBLE_CARDINALITY)                                         \
  X(FIELD_WIRE_COMPATIBLE_TYPE)

enum {
#define BRK_ENUM(id) BRK_##id,
  BRK_RULES(BRK_ENUM)
#undef BRK_ENUM
      BRK_N_RULES
};

/* A SourceCodeInfo path (field numbers and indexes from the file down). */
#define BRK_PATH_MAX 64
typedef struct brk_path {
  int32_t p[BRK_PATH_MAX];
  size_t n;
} brk_path;

typedef struct brk_file {
  const brk_file_pb *d;
  const char *name, *pkg; /* never NULL */
  bool proto3;
  bool target; /* compared; else an import that only resolves types */
} brk_file;

/* A message, enum or service, by full name (no leading dot). */
typedef struct brk_type {
  char *full;         /* "pkg.Outer.Inner" */
  const char *nested; /* "Outer.Inner": points into full */
  const brk_file *file;
  const void *d; /* brk_msg_pb, brk_enum_pb or brk_svc_pb */
  size_t seq;    /* declaration order, for equal names */
  bool target;   /* in a compared file */
  brk_path path;
} brk_type;

/* An extension field, by extendee and number. */
typedef struct brk_ext {
  char *full; /* "pkg.ext_name" */
  bool target;
  const brk_file *file;
  const brk_field_pb *d;
  brk_path path;
} brk_ext;

typedef struct brk_side {
  brk_file *files; /* the compared files, sorted by name */
  size_t n_files;
  brk_file *deps; /* the other files of the set */
  size_t n_deps;
  brk_type *msgs, *enums, *svcs; /* sorted by full name */
  size_t n_msgs, n_enums, n_svcs;
  brk_ext *exts;
  size_t n_exts;
} brk_side;

typedef struct brk_ctx {
  brk_side new_s, old_s;
  bool on[BRK_N_RULES];
  weft_breaking_violation *v;
  size_t n_v, cap_v;
  int rv; /* first allocation failure */
} brk_ctx;

/* brk_index.c */
int weft__brk_index(brk_side *s, const Google__Protobuf__FileDescriptorSet *set,
                    const char *const *targets, size_t n_targets,
                    const char *which, weft_error *err);
void weft__brk_side_free(brk_side *s);
const brk_file *weft__brk_find_file(const brk_side *s, const char *name);
const brk_type *weft__brk_find(const brk_type *v, size_t n, const char *full);
/* The first type of that name in a compared file (pairs are made of these). */
const brk_type *weft__brk_find_target(const brk_type *v, size_t n,
                                      const char *full);
/* Calls fn(c, new, old) for each type of ov (old side) defined in a
 * compared file that still has a type of its full name in nv (new side):
 * the pairs every type-level rule compares. */
void weft__brk_each_pair(brk_ctx *c, const brk_type *ov, size_t on,
                         const brk_type *nv, size_t nn,
                         void (*fn)(brk_ctx *c, const brk_type *nt,
                                    const brk_type *ot));
/* Message or enum named by a field's type_name (leading dot accepted). */
const brk_type *weft__brk_find_msg(const brk_side *s, const char *type_name);
const brk_type *weft__brk_find_enum(const brk_side *s, const char *type_name);
/* The location of path (path + extra elements), 1-based; false if none. */
bool weft__brk_locate(const brk_file *f, const brk_path *path,
                      const int32_t *extra, size_t n_extra, int *line,
                      int *col);
static inline const char *brk_str(const char *s) {
  return s ? s : "";
}
/* qsort that accepts an empty (NULL) array. */
static inline void brk_sort(void *base, size_t n, size_t size,
                            int (*cmp)(const void *, const void *)) {
  if (n > 1)
    qsort(base, n, size, cmp);
}

/* brk_api.c: adds a violation located at path + extra in f (f may be
 * NULL for a violation with no file). */
void weft__brk_add(brk_ctx *c, int rule, const brk_file *f,
                   const brk_path *path, const int32_t *extra, size_t n_extra,
                   const char *fmt, ...) __attribute__((format(printf, 7, 8)));

/* The rule groups. */
void weft__brk_files(brk_ctx *c);  /* brk_files.c: files and packages */
void weft__brk_types(brk_ctx *c);  /* brk_types.c: messages, enums, RPCs */
void weft__brk_fields(brk_ctx *c); /* brk_fields.c: field pairs */

/* Shared helpers (brk_index.c). */
bool weft__brk_is_map_field(const brk_side *s, const brk_field_pb *f);
bool weft__brk_is_map_entry(const brk_msg_pb *m);
/* protoc records no location for a map's entry message or its fields: they
 * are reported at the map field that declares the entry. Sets *path to
 * that field's path when entry is a map entry (else leaves it). */
void weft__brk_map_field_path(const brk_side *s, const brk_type *entry,
                              brk_path *path);
/* Whether oneof idx of m is the one proto3 `optional` made. */
bool weft__brk_synthetic_oneof(const brk_msg_pb *m, size_t idx);
/* protoc's default JSON name (lowerCamelCase of the field name). */
char *weft__brk_json_name(const char *name);

#endif
