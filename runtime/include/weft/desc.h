/* Descriptors: what protoc-gen-weft emits and every codec and transport reads.
 *
 * A weft message descriptor *starts with* libprotobuf-c's
 * ProtobufCMessageDescriptor, so a generated message is a valid protobuf-c
 * message (its first member is a ProtobufCMessage whose descriptor points at
 * &desc->base) and protobuf-c's own runtime can pack it. weft keeps the facts
 * protobuf-c's tables lack (JSON names, oneof names, syntax, closed enums,
 * map entries, well-known-type kind, the file it came from) after that base.
 * Wherever protobuf-c stores a `const void *descriptor` for a sub-message or
 * enum field, generated tables point at the `base` of a weft descriptor, so
 * weft_msg_desc_of()/weft_enum_desc_of() can recover the weft one.
 *
 * Field layout rules (same as protobuf-c, see docs/NAMING.md):
 *  - proto3 implicit-presence scalars: label NONE, no quantifier;
 *  - proto2 optional and proto3 `optional`: label OPTIONAL with a
 *    `protobuf_c_boolean has_x` quantifier (messages/strings use NULL);
 *  - repeated (and map) fields: `size_t n_x` quantifier plus a pointer array;
 *    maps are repeated MapEntry messages (key = 1, value = 2);
 *  - oneof members: flag PROTOBUF_C_FIELD_FLAG_ONEOF, quantifier_offset is
 *    the offset of the `uint32_t x_case` member, storage is a union.
 */
#ifndef WEFT_DESC_H
#define WEFT_DESC_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Well-known types that the JSON mapping treats specially. */
typedef enum weft_wkt {
  WEFT_WKT_NONE = 0,
  WEFT_WKT_ANY,
  WEFT_WKT_TIMESTAMP,
  WEFT_WKT_DURATION,
  WEFT_WKT_FIELD_MASK,
  WEFT_WKT_STRUCT,
  WEFT_WKT_VALUE,
  WEFT_WKT_LIST_VALUE,
  WEFT_WKT_EMPTY,
  WEFT_WKT_DOUBLE_VALUE,
  WEFT_WKT_FLOAT_VALUE,
  WEFT_WKT_INT64_VALUE,
  WEFT_WKT_UINT64_VALUE,
  WEFT_WKT_INT32_VALUE,
  WEFT_WKT_UINT32_VALUE,
  WEFT_WKT_BOOL_VALUE,
  WEFT_WKT_STRING_VALUE,
  WEFT_WKT_BYTES_VALUE
} weft_wkt;

/* weft_field_info.flags */
enum {
  WEFT_FIELD_MAP = 1u << 0, /* repeated MapEntry = a map field */
  WEFT_FIELD_PROTO3_OPTIONAL = 1u
                               << 1, /* proto3 `optional` (explicit presence) */
  WEFT_FIELD_CHECK_UTF8 = 1u << 2,   /* string must be valid UTF-8 (proto3) */
  WEFT_FIELD_HAS_DEFAULT = 1u << 3,  /* proto2 [default = ...] given */
  /* proto2 `group`: base.type is PROTOBUF_C_TYPE_MESSAGE (protobuf-c has no
   * group type) but the wire form is START_GROUP (3) ... END_GROUP (4) with
   * the same field number, not length-delimited. protobuf-c's own
   * pack/unpack cannot handle such a field; weft's codec must check this. */
  WEFT_FIELD_GROUP = 1u << 4
};
/* Lets code test for the flag with #ifdef. */
#define WEFT_FIELD_GROUP WEFT_FIELD_GROUP

/* Per-field facts protobuf-c has no room for; parallel to base.fields[]. */
typedef struct weft_field_info {
  const char *json_name; /* json_name from protoc: lowerCamelCase or option */
  int32_t oneof_index;   /* index into oneof_names, -1 if not in a real oneof */
  uint32_t flags;        /* WEFT_FIELD_* */
} weft_field_info;

struct weft_file_desc;
struct weft_service_desc;
struct weft__gd; /* weft/gen_decode.h */

/* The codec's per-type working data (its codec table: field number to
 * slot, member offsets, expected wire types, and the encoder's presence
 * rules and precomputed tags), built on the first decode or encode of the
 * type and kept for the descriptor's life. Generated code and weft_dyn
 * give every message descriptor its own zeroed one (weft_dyn_free releases
 * what the codec built). A NULL `cache` is valid: the codec then builds the
 * table on every call, which is correct but slower. Never touch its
 * members: the codec reads and writes them atomically. */
typedef struct weft_msg_cache {
  void *table;
  int state;
} weft_msg_cache;

typedef struct weft_msg_desc {
  ProtobufCMessageDescriptor base;   /* must stay first */
  const weft_field_info *field_info; /* base.n_fields entries */
  unsigned n_oneofs;
  const char *const
      *oneof_names;     /* proto names of real (non-synthetic) oneofs */
  uint8_t syntax;       /* 2 or 3 */
  uint8_t wkt;          /* weft_wkt */
  uint8_t is_map_entry; /* a synthesized map<k,v> entry message */
  const struct weft_file_desc *file;
  weft_msg_cache *cache; /* the codec's; see weft_msg_cache */
  /* The type's generated encoder (protoc-gen-weft emits one for the types
   * docs/NAMING.md lists under "Generated encoders"), which weft_encode
   * calls instead of its table walk when buf is not NULL: same bytes, same
   * return values. NULL: the table walk. Appended last, so descriptors
   * built without it (dyndesc, older generated code) read as NULL. */
  ssize_t (*encode)(const void *msg, uint8_t *buf, size_t cap);
  /* The type's generated decoder (docs/NAMING.md, "Generated decoders"),
   * which the binary decoder runs instead of its table loop for a message
   * of this type when it decodes with an arena or into a decoded tree:
   * same result, same errors (weft/gen_decode.h says how). NULL: the table
   * loop. Appended last, so descriptors built without it (dyndesc, older
   * generated code) read as NULL. */
  int (*decode)(struct weft__gd *st, void *msg, const uint8_t **pp,
                const uint8_t *end, unsigned depth);
  /* The type's generated exact-size encoder, which weft_encode_alloc calls
   * instead of sizing and writing through the tables: same bytes, same
   * return values. NULL: the tables. Appended last, as `encode`. */
  int (*encode_alloc)(const void *msg, uint8_t **out, size_t *out_len);
} weft_msg_desc;

typedef struct weft_enum_desc {
  ProtobufCEnumDescriptor base; /* must stay first */
  uint8_t closed; /* proto2 enum: unknown numbers go to unknown fields */
  const struct weft_file_desc *file;
} weft_enum_desc;

/* The four RPC shapes of gRPC; every transport models calls with them. */
typedef enum weft_rpc_kind {
  WEFT_RPC_UNARY = 0,
  WEFT_RPC_SERVER_STREAM = 1,
  WEFT_RPC_CLIENT_STREAM = 2,
  WEFT_RPC_BIDI = 3
} weft_rpc_kind;

struct weft_server_call;

/* Generated per method: casts `impl` to the service's typed implementation
 * struct and calls the method's member with typed arguments. For unary calls
 * req and resp are set; for server-streaming only req; for client-streaming
 * only resp; for bidi neither (the handler uses weft_server_call_recv/send).
 * Returns a weft_status_code (0 = OK). A NULL member in the implementation
 * struct makes the thunk return UNIMPLEMENTED. */
typedef int (*weft_method_invoke_fn)(const void *impl,
                                     struct weft_server_call *call,
                                     const void *req, void *resp, void *ctx);

/* The values of google.protobuf.MethodOptions.IdempotencyLevel. */
enum {
  WEFT_IDEMPOTENCY_UNKNOWN = 0,
  WEFT_IDEMPOTENCY_NO_SIDE_EFFECTS = 1,
  WEFT_IDEMPOTENCY_IDEMPOTENT = 2
};

/* One REST binding of a method, from its `option (google.api.http)`
 * (google/api/http.proto): the rule itself first, then its
 * additional_bindings in order. Strings are as written in the schema;
 * weft/rest.h parses and matches them. */
typedef struct weft_http_rule {
  const char *verb; /* "GET", "PUT", "POST", "DELETE", "PATCH", or a custom
                       pattern's kind as written */
  const char *path; /* the path template: "/v1/jobs/{job_id}" */
  const char *body; /* NULL: no body; "*": the body is the request; else the
                       request field (proto name) the body fills */
  const char *response_body; /* NULL: the whole response; else the response
                                field (proto name) sent as the body */
} weft_http_rule;

typedef struct weft_method_desc {
  const char *name; /* "GetJob" */
  const char *path; /* "/aitbc.v1.Jobs/GetJob", as gRPC and Connect use */
  const weft_msg_desc *input;
  const weft_msg_desc *output;
  uint8_t kind; /* weft_rpc_kind */
  /* idempotency_level: WEFT_IDEMPOTENCY_* (0: unknown). Non-zero means a
   * retry is safe; only NO_SIDE_EFFECTS methods take Connect GET. */
  uint8_t idempotent;
  unsigned index; /* position in service->methods */
  const struct weft_service_desc *service;
  weft_method_invoke_fn invoke;
  /* Appended last, so tables built against an older desc.h still read as
   * "no REST binding" when zero-initialized. */
  unsigned n_http_rules;
  const weft_http_rule *http_rules; /* NULL when the method has none */
} weft_method_desc;

typedef struct weft_service_desc {
  const char *name;       /* full name: "aitbc.v1.Jobs" */
  const char *short_name; /* "Jobs" */
  unsigned n_methods;
  const weft_method_desc *methods;
  const struct weft_file_desc *file;
} weft_service_desc;

/* One per .proto file; the serialized FileDescriptorProto (source info
 * stripped) feeds gRPC reflection, `weft describe` and Any resolution. */
typedef struct weft_file_desc {
  const char *name;    /* "aitbc/v1/jobs.proto" */
  const char *package; /* "aitbc.v1" */
  const uint8_t *serialized;
  size_t serialized_len;
  unsigned n_deps;
  const struct weft_file_desc *const *deps;
  unsigned n_messages; /* every message of the file, nested ones included */
  const weft_msg_desc *const *messages;
  unsigned n_enums; /* every enum of the file, nested ones included */
  const weft_enum_desc *const *enums;
  unsigned n_services;
  const weft_service_desc *const *services;
} weft_file_desc;

static inline const weft_msg_desc *
weft_msg_desc_of(const ProtobufCMessageDescriptor *d) {
  return (const weft_msg_desc *)(const void *)d;
}
static inline const weft_enum_desc *
weft_enum_desc_of(const ProtobufCEnumDescriptor *d) {
  return (const weft_enum_desc *)(const void *)d;
}
/* The weft descriptor of any generated message instance. */
static inline const weft_msg_desc *weft_msg_desc_of_msg(const void *msg) {
  return weft_msg_desc_of(((const ProtobufCMessage *)msg)->descriptor);
}

/* Lookup helpers (desc.c). Linear or binary search over the tables. */
const ProtobufCFieldDescriptor *weft_field_by_number(const weft_msg_desc *d,
                                                     uint32_t number);
/* Matches the proto name or the JSON name. Returns the field index or -1. */
int weft_field_index_by_name(const weft_msg_desc *d, const char *name,
                             size_t len);
const weft_method_desc *weft_service_method(const weft_service_desc *s,
                                            const char *name);
/* Releases what the codec built into a descriptor's cache (for code that
 * builds descriptors at run time and frees them; generated descriptors
 * keep theirs for the life of the process). NULL is a no-op. */
void weft_msg_cache_release(weft_msg_cache *c);

#ifdef __cplusplus
}
#endif
#endif
