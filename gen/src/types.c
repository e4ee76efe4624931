/* Field classification: protobuf-c's type, label and quantifier for every
 * proto field, and the C type of its storage. One place, so the struct
 * layout, the descriptor tables and the init values agree. */
#include <string.h>

#include "gen.h"
#include "types.h"

#define T(x) GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_##x

const char *field_pbc_type(const gen_field *fd) {
  switch (fd->p->type) {
  case T(DOUBLE):
    return "PROTOBUF_C_TYPE_DOUBLE";
  case T(FLOAT):
    return "PROTOBUF_C_TYPE_FLOAT";
  case T(INT64):
    return "PROTOBUF_C_TYPE_INT64";
  case T(UINT64):
    return "PROTOBUF_C_TYPE_UINT64";
  case T(INT32):
    return "PROTOBUF_C_TYPE_INT32";
  case T(FIXED64):
    return "PROTOBUF_C_TYPE_FIXED64";
  case T(FIXED32):
    return "PROTOBUF_C_TYPE_FIXED32";
  case T(BOOL):
    return "PROTOBUF_C_TYPE_BOOL";
  case T(STRING):
    return "PROTOBUF_C_TYPE_STRING";
  case T(GROUP):
    return "PROTOBUF_C_TYPE_MESSAGE"; /* + WEFT_FIELD_GROUP */
  case T(MESSAGE):
    return "PROTOBUF_C_TYPE_MESSAGE";
  case T(BYTES):
    return "PROTOBUF_C_TYPE_BYTES";
  case T(UINT32):
    return "PROTOBUF_C_TYPE_UINT32";
  case T(ENUM):
    return "PROTOBUF_C_TYPE_ENUM";
  case T(SFIXED32):
    return "PROTOBUF_C_TYPE_SFIXED32";
  case T(SFIXED64):
    return "PROTOBUF_C_TYPE_SFIXED64";
  case T(SINT32):
    return "PROTOBUF_C_TYPE_SINT32";
  case T(SINT64):
    return "PROTOBUF_C_TYPE_SINT64";
  default:
    return "PROTOBUF_C_TYPE_INT32";
  }
}

const char *field_ctype(const gen_field *fd) {
  switch (fd->p->type) {
  case T(DOUBLE):
    return "double";
  case T(FLOAT):
    return "float";
  case T(INT64):
  case T(SFIXED64):
  case T(SINT64):
    return "int64_t";
  case T(UINT64):
  case T(FIXED64):
    return "uint64_t";
  case T(INT32):
  case T(SFIXED32):
  case T(SINT32):
    return "int32_t";
  case T(UINT32):
  case T(FIXED32):
    return "uint32_t";
  case T(BOOL):
    return "protobuf_c_boolean";
  case T(STRING):
    return "char *";
  case T(BYTES):
    return "ProtobufCBinaryData";
  case T(ENUM):
    return fd->enum_type ? fd->enum_type->cname : "int";
  case T(GROUP):
  case T(MESSAGE):
    return fd->msg_type ? gen_fmt("%s *", fd->msg_type->cname) : "void *";
  default:
    return "int";
  }
}

int field_is_repeated(const gen_field *fd) {
  return fd->p->label ==
         GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED;
}

int field_is_ptr(const gen_field *fd) {
  return fd->p->type == T(STRING) || fd->p->type == T(MESSAGE) ||
         fd->p->type == T(GROUP);
}

int field_kind(const gen_field *fd) {
  return (int)fd->p->type;
}

const char *field_label(const gen_msg *m, const gen_field *fd) {
  if (field_is_repeated(fd))
    return "PROTOBUF_C_LABEL_REPEATED";
  if (fd->p->label ==
      GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REQUIRED)
    return "PROTOBUF_C_LABEL_REQUIRED";
  /* Oneof members have explicit presence in both syntaxes, so they are
   * OPTIONAL (+ FLAG_ONEOF) everywhere. protoc-c would say NONE in proto3;
   * protobuf-c's runtime accepts both, and OPTIONAL keeps every reader that
   * looks at the label before the flag on the safe side. */
  if (fd->proto3_optional || fd->oneof >= 0 || m->file->syntax == 2)
    return "PROTOBUF_C_LABEL_OPTIONAL";
  return "PROTOBUF_C_LABEL_NONE"; /* proto3 implicit presence */
}

int field_has_flag(const gen_msg *m, const gen_field *fd) {
  return fd->oneof < 0 && !field_is_ptr(fd) &&
         strcmp(field_label(m, fd), "PROTOBUF_C_LABEL_OPTIONAL") == 0;
}

int field_plain(const gen_field *fd) {
  return fd->oneof < 0 && !fd->proto3_optional && !fd->group;
}

int field_ss_map(const gen_field *fd) {
  const gen_msg *e = fd->msg_type;
  return fd->map && e && e->n_fields == 2 &&
         e->fields[0].p->type == T(STRING) && e->fields[1].p->type == T(STRING);
}

int gen_wire_type(int t) {
  switch (t) {
  case T(FIXED64):
  case T(SFIXED64):
  case T(DOUBLE):
    return 1;
  case T(STRING):
  case T(BYTES):
  case T(MESSAGE):
    return 2;
  case T(FIXED32):
  case T(SFIXED32):
  case T(FLOAT):
    return 5;
  default:
    return 0;
  }
}

int field_packable(const gen_field *fd) {
  return !field_is_ptr(fd) && fd->p->type != T(BYTES);
}

int field_packed(const gen_msg *m, const gen_field *fd) {
  if (!field_is_repeated(fd) || !field_packable(fd))
    return 0;
  const Google__Protobuf__FieldOptions *o = fd->p->options;
  if (o != NULL && o->has_packed)
    return o->packed;
  return m->file->syntax == 3;
}

/* "T name" with the space dropped after a '*'. */
char *c_decl(const char *type, const char *ptrs, const char *name) {
  size_t n = strlen(type);
  int star = n > 0 && type[n - 1] == '*';
  if (*ptrs)
    return gen_fmt("%s%s%s%s", type, star ? "" : " ", ptrs, name);
  return gen_fmt("%s%s%s", type, star ? "" : " ", name);
}
