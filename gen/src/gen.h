/* protoc-gen-weft internals: the model built from protoc's request and the
 * emitters that turn it into <path>.weft.h / <path>.weft.c.
 *
 * Everything the generator allocates lives in one pool (gen_alloc) that is
 * released at exit, so the plugin stays leak-free under LeakSanitizer
 * without per-object bookkeeping. Output is a pure function of the request:
 * every list is walked in declaration order and every sort has a total
 * tie-breaker, so two runs produce byte-identical files. */
#ifndef WEFT_GEN_H
#define WEFT_GEN_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "google/protobuf/compiler/plugin.pb-c.h"
#include "google/protobuf/descriptor.pb-c.h"

typedef Google__Protobuf__FileDescriptorProto gen_file_proto;
typedef Google__Protobuf__DescriptorProto gen_msg_proto;
typedef Google__Protobuf__EnumDescriptorProto gen_enum_proto;
typedef Google__Protobuf__FieldDescriptorProto gen_field_proto;
typedef Google__Protobuf__ServiceDescriptorProto gen_svc_proto;
typedef Google__Protobuf__MethodDescriptorProto gen_method_proto;

/* ---- memory and text ---- */
void *gen_alloc(size_t n); /* zeroed; aborts on OOM */
char *gen_strdup(const char *s);
char *gen_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void gen_pool_free(void);

typedef struct gen_buf {
  char *data;
  size_t len, cap;
} gen_buf;
void buf_put(gen_buf *b, const char *s);
void buf_putn(gen_buf *b, const char *s, size_t n);
void buf_printf(gen_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void buf_vprintf(gen_buf *b, const char *fmt, va_list ap);
void buf_free(gen_buf *b);

/* Errors: the first one wins and becomes CodeGeneratorResponse.error. */
void gen_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *gen_error(void);

/* ---- names (names.c), rules in docs/NAMING.md ---- */
/* "a.b_c.Foo" -> "a__b_1c__Foo" */
char *name_type(const char *full_name);
/* Struct member for a field or oneof name: keyword-safe, never a quantifier. */
char *name_member(const char *proto_name);
/* "GetJobV2" -> "get_job_v2" */
char *name_snake(const char *camel);
/* "aitbc/v1/jobs.proto" -> "aitbc__v1__jobs_proto" */
char *name_file_ident(const char *path);
/* "aitbc/v1/jobs.proto" -> "aitbc/v1/jobs" */
char *name_file_stem(const char *path);
int name_is_reserved(const char *s);
/* C string literal (with quotes) for arbitrary bytes. */
void buf_cstring(gen_buf *b, const char *s, size_t n);

/* ---- model (model.c) ---- */
struct gen_file;

typedef struct gen_enum {
  const gen_enum_proto *p;
  const char *full;  /* "a.b.Color" */
  const char *cname; /* "a__b__Color" */
  const struct gen_file *file;
  int closed;
} gen_enum;

typedef struct gen_field {
  const gen_field_proto *p;
  const char *member; /* struct member name */
  int oneof;          /* index into gen_msg.oneofs, -1 if none */
  int proto3_optional;
  int group;
  int map;
  const struct gen_msg *msg_type; /* MESSAGE/GROUP */
  const gen_enum *enum_type;      /* ENUM */
} gen_field;

typedef struct gen_oneof {
  const char *name;   /* proto name */
  const char *member; /* escaped member name */
  int first_field;    /* index in fields[] of its first member */
} gen_oneof;

typedef struct gen_msg {
  const gen_msg_proto *p;
  const char *full;
  const char *cname;
  const char *package;
  const struct gen_file *file;
  gen_field *fields; /* declaration order */
  size_t n_fields;
  gen_oneof *oneofs; /* real oneofs only */
  size_t n_oneofs;
  int map_entry;
  int wkt; /* weft_wkt */
} gen_msg;

/* One google.api.http binding (the rule, then its additional_bindings). */
typedef struct gen_http {
  const char *verb, *path;
  const char *body, *response_body; /* NULL when not given */
} gen_http;

typedef struct gen_method {
  const gen_method_proto *p;
  gen_http *http; /* n_http entries; none without the option */
  size_t n_http;
  const char *snake; /* member / stub suffix */
  const gen_msg *in, *out;
  int kind;
  int idempotent;
} gen_method;

typedef struct gen_svc {
  const gen_svc_proto *p;
  const struct gen_file *file;
  const char *full;
  const char *cname;
  gen_method *methods;
  size_t n_methods;
} gen_svc;

typedef struct gen_file {
  const gen_file_proto *p;
  const char *ident; /* weft_file_desc symbol */
  const char *stem;  /* output path without extension */
  int syntax;        /* 2 or 3 */
  gen_msg **msgs;    /* pre-order, nested included */
  size_t n_msgs;
  gen_enum **enums;
  size_t n_enums;
  gen_svc *svcs;
  size_t n_svcs;
  const struct gen_file **deps;
  size_t n_deps;
} gen_file;

/* Builds the model for every file of the request (dependencies included);
 * returns 0 or -1 with gen_error() set. */
int model_build(const Google__Protobuf__Compiler__CodeGeneratorRequest *req);
const gen_file *model_file(const char *name);
const gen_msg *model_msg(const char *full); /* leading '.' allowed */
const gen_enum *model_enum(const char *full);

/* The method's `option (google.api.http)` (http.c): fills me->http, or
 * fails through gen_fail() naming the method and the malformed rule. */
void http_rules_read(gen_method *me, const char *svc_full);

/* ---- emitters ---- */
char *emit_header(const gen_file *f);
char *emit_source(const gen_file *f);
/* The generated encoders (emit_encode.c): their prototypes (before the
 * descriptors), their code (after them), and the expressions for a
 * descriptor's `encode` and `encode_alloc` members ("NULL" when none). */
void enc_emit_decls(gen_buf *b, const gen_file *f);
void enc_emit(gen_buf *b, const gen_msg *m);
const char *enc_desc_encode(const gen_msg *m);
const char *enc_desc_encode_alloc(const gen_msg *m);
/* The protobuf-c C type of a field's value (e.g. "int32_t", "char *"). */
const char *field_ctype(const gen_field *fd);
const char *field_pbc_type(const gen_field *fd); /* PROTOBUF_C_TYPE_x */
/* Generated decoders (emit_decode.c) */
int dec_covered(const gen_msg *m);
const char *dec_fn(const gen_msg *m); /* "<type>_dec" or "NULL" */
void emit_dec_decls(gen_buf *b, const gen_file *f);
void emit_dec(gen_buf *b, const gen_msg *m);

#endif
