// Test support: weft descriptors built at run time from libprotobuf's
// descriptors, with a struct layout following protobuf-c's rules, and
// converters between such weft structs and C++ messages. They let the codec
// be tested on every field kind (groups, proto3 optional, closed enums) with
// Google's C++ implementation as the reference, independently of the code
// generator; the same converters also work on generated descriptors.
#pragma once

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include "weft/codec.h"

namespace weft_test {

// The weft descriptor for a C++ message type (built once, kept for the
// process lifetime).
const weft_msg_desc *DynDesc(const google::protobuf::Descriptor *d);

// Fills a weft message (malloc path; init'd by this call) from a C++
// message. Map entries are sorted by key as in C++ deterministic output.
// Unknown fields of the C++ message are not copied.
void *ToWeft(const google::protobuf::Message &m, const weft_msg_desc *d);

// Fills a C++ message from a weft message, unknown fields included.
void FromWeft(const void *msg, google::protobuf::Message *out);

// C++ deterministic serialization (maps sorted by key).
std::string SerializeDet(const google::protobuf::Message &m);

} // namespace weft_test
