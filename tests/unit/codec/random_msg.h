// Random messages through C++ reflection, for differential tests.
#pragma once

#include <google/protobuf/message.h>

#include <random>

namespace weft_test {

// Sets a random subset of m's fields (required fields always), nesting up
// to max_depth levels; with unknown = true also adds random unknown fields
// (every wire type, groups included).
void RandomFill(google::protobuf::Message *m, std::mt19937_64 &rng,
                int max_depth, bool unknown);

} // namespace weft_test
