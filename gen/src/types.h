/* Field classification helpers shared by the emitters (types.c). */
#ifndef WEFT_GEN_TYPES_H
#define WEFT_GEN_TYPES_H

#include "gen.h"

#define GEN_T(x) GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_##x

int field_is_repeated(const gen_field *fd);
/* Stored as a pointer (string, message, group): NULL means absent. */
int field_is_ptr(const gen_field *fd);
const char *field_label(const gen_msg *m, const gen_field *fd);
/* Has a `protobuf_c_boolean has_<member>` quantifier. */
int field_has_flag(const gen_msg *m, const gen_field *fd);
/* Neither in a oneof, nor proto3 optional, nor a group. */
int field_plain(const gen_field *fd);
/* A map<string, string>. */
int field_ss_map(const gen_field *fd);
/* The wire type a field of type t is written with: 1 (64-bit), 2
 * (length-delimited), 5 (32-bit), else 0 (varint). */
int gen_wire_type(int t);
int field_packable(const gen_field *fd);
int field_packed(const gen_msg *m, const gen_field *fd);
char *c_decl(const char *type, const char *ptrs, const char *name);

/* Default values (defaults.c). */
typedef struct gen_default {
  const char *init;   /* C expression for the INIT macro */
  const char *object; /* definition of the default_value object in the .c,
                         NULL if none */
  const char *header; /* extern declaration needed by the INIT macro */
  const char *ptr; /* expression for ProtobufCFieldDescriptor.default_value */
} gen_default;
void field_default(const gen_msg *m, const gen_field *fd, gen_default *out);

#endif
