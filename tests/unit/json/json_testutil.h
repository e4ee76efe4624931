// Helpers shared by the JSON codec tests: a canonical form of JSON text
// (object members sorted, numbers and string escapes kept verbatim) to
// compare weft's output with libprotobuf's when map order differs, and
// thin wrappers over weft's C API.
#pragma once

#include <string>

#include "weft/codec.h"
#include "weft/json.h"

namespace wjt {

// Canonical form of a JSON text: members of every object sorted by key,
// whitespace dropped, scalars verbatim. Returns "<invalid>" on bad input.
std::string Canon(const std::string &json);

struct Result {
  int rv = 0;
  std::string text; // encoded JSON, or the error message
};

// Binary -> weft message -> JSON.
Result EncodeFromBinary(const weft_msg_desc *d, const std::string &bin,
                        unsigned flags);
// JSON -> weft message -> binary (rv < 0: text is the error message).
Result DecodeToBinary(const weft_msg_desc *d, const std::string &json,
                      unsigned flags, bool use_arena = false);
// JSON -> weft -> JSON.
Result Reencode(const weft_msg_desc *d, const std::string &json,
                unsigned dec_flags, unsigned enc_flags);

} // namespace wjt
