// Test support for weft_dyndesc: sets built from the files compiled into
// this test (their embedded FileDescriptorProtos) or read from a protoc -o
// file, a table-by-table comparison of a dynamic descriptor with the
// generated one, and random messages filled through any weft descriptor.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "weft/codec.h"
#include "weft/dyndesc.h"

namespace dyntest {

// Every file reachable from roots (dependencies first, no duplicates).
std::vector<const weft_file_desc *>
Closure(const std::vector<const weft_file_desc *> &roots);

// A serialized FileDescriptorSet of the files' embedded descriptors.
std::string SetBytes(const std::vector<const weft_file_desc *> &files);

std::string ReadFile(const std::string &path);

// Appends to *diffs a line per difference between the generated descriptor
// g and the dynamic one d (empty: identical tables).
void CompareMsg(const weft_msg_desc *g, const weft_msg_desc *d,
                std::vector<std::string> *diffs);
void CompareEnum(const weft_enum_desc *g, const weft_enum_desc *d,
                 std::vector<std::string> *diffs);
void CompareService(const weft_service_desc *g, const weft_service_desc *d,
                    std::vector<std::string> *diffs);

// A new message (malloc path, free with weft_message_free) of type d with a
// random subset of fields set (required fields always), nested up to depth.
// Values are valid for the JSON mapping (well-known types in range, valid
// UTF-8); Any fields stay unset.
void *RandomMessage(const weft_msg_desc *d, std::mt19937_64 &rng, int depth);

std::string Encode(const void *msg);
// Encodes as JSON with flags; returns "ERROR: <code>" on failure.
std::string Json(const void *msg, unsigned flags,
                 const weft_registry *reg = nullptr);

} // namespace dyntest
