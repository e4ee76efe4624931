/* Descriptors built at run time, for schemas weft was not compiled with.
 *
 * protoc-gen-weft turns .proto files into static descriptor tables at build
 * time; this module builds the very same tables in memory from a
 * google.protobuf.FileDescriptorSet (what `protoc -o` writes, what gRPC
 * reflection returns, what generated code embeds as weft_file_desc.
 * serialized). Every rule of the generator is mirrored (field order, labels,
 * quantifier and member offsets of the struct the generator would have
 * declared, defaults, packed flags, JSON names, oneofs, proto3 optional, map
 * entries, closed enums, well-known-type flags), so the table-driven binary
 * and JSON codecs, and weft_client calls, work on dynamic messages exactly as
 * on generated ones. The one difference: base.message_init is NULL (the
 * codec then initializes from default_value, with the same result), and
 * methods have no invoke thunk: a server serves them through a generic
 * handler (weft_server_add_generic_service, weft/server.h).
 *
 * Types of the google/protobuf .proto files that weft has compiled in (Any,
 * Timestamp, Struct, wrappers, ...) resolve to the compiled-in descriptors,
 * whether or not the set carries those files. Everything else is resolved by
 * full name within the set; an unresolved name, a missing dependency or a
 * malformed descriptor is an error naming the file and the element.
 *
 * Everything a set owns (descriptors, names, defaults, a registry for Any)
 * lives in memory released by one weft_dyn_free(). Messages built on these
 * descriptors must be freed before the set. */
#ifndef WEFT_DYNDESC_H
#define WEFT_DYNDESC_H

#include <stddef.h>
#include <stdint.h>

#include "weft/desc.h"
#include "weft/error.h"
#include "weft/json.h"

#ifdef __cplusplus
extern "C" {
#endif

/* libprotobuf-c's unpacked descriptor.proto types (descriptor.pb-c.h). */
struct Google__Protobuf__FileDescriptorSet;
struct Google__Protobuf__FileDescriptorProto;

typedef struct weft_dyn_set weft_dyn_set;

/* Builds descriptors for every file of a serialized FileDescriptorSet.
 * Returns 0, or WEFT_ERR_MALFORMED (not a FileDescriptorSet, or a bad
 * descriptor), WEFT_ERR_UNSUPPORTED (e.g. editions syntax) or
 * WEFT_ERR_NOMEM, with err saying what and where. */
int weft_dyn_build(const uint8_t *data, size_t len, weft_dyn_set **out,
                   weft_error *err);
/* The same from libprotobuf-c's unpacked FileDescriptorSet. */
int weft_dyn_build_set(const struct Google__Protobuf__FileDescriptorSet *set,
                       weft_dyn_set **out, weft_error *err);
/* The same from n unpacked FileDescriptorProtos (in any order). */
int weft_dyn_build_files(
    const struct Google__Protobuf__FileDescriptorProto *const *files, size_t n,
    weft_dyn_set **out, weft_error *err);
/* Frees the set and every descriptor in it. Accepts NULL. Every descriptor,
 * file and registry the functions below return belongs to the set: messages
 * of these types (decoded with weft_decode/weft_json_decode, received on a
 * call) must be freed before the set. On success *out of the builders is
 * the caller's, and the input (data, set, files) is not referenced after
 * the return; on failure *out is NULL. */
void weft_dyn_free(weft_dyn_set *s);

/* The files of the set, in input order. A google/protobuf file that weft
 * has compiled in is returned as the compiled-in weft_file_desc. */
size_t weft_dyn_n_files(const weft_dyn_set *s);
const weft_file_desc *weft_dyn_file(const weft_dyn_set *s, size_t i);
const weft_file_desc *weft_dyn_find_file(const weft_dyn_set *s,
                                         const char *name);

/* Lookups by full name ("pkg.Msg", a leading '.' is accepted). They find
 * the set's types and the compiled-in well-known types it refers to. */
const weft_msg_desc *weft_dyn_find_message(const weft_dyn_set *s,
                                           const char *full_name);
const weft_enum_desc *weft_dyn_find_enum(const weft_dyn_set *s,
                                         const char *full_name);
const weft_service_desc *weft_dyn_find_service(const weft_dyn_set *s,
                                               const char *full_name);
/* "pkg.Svc/Method", "/pkg.Svc/Method" or "pkg.Svc.Method". */
const weft_method_desc *weft_dyn_find_method(const weft_dyn_set *s,
                                             const char *name);

/* A registry of every file of the set (and the well-known types), for the
 * JSON codec's Any resolution: weft_json_opts.registry. Owned by the set. */
const weft_registry *weft_dyn_registry(const weft_dyn_set *s);

#ifdef __cplusplus
}
#endif
#endif
