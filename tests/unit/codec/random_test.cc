// Randomized differential test on descriptors built at run time from the
// C++ descriptors (see differential.h for what is checked).
#include "all_types_proto2.pb.h"
#include "all_types_proto3.pb.h"
#include "differential.h"

using namespace weft_test;

TEST(CodecRandom, Proto3AllTypes) {
  const auto &p = weft_test::p3::AllTypes::default_instance();
  Differential(p, DynDesc(p.GetDescriptor()), 400, 1);
}

TEST(CodecRandom, Proto2AllTypes) {
  const auto &p = weft_test::p2::AllTypes2::default_instance();
  Differential(p, DynDesc(p.GetDescriptor()), 400, 2);
}

TEST(CodecRandom, Proto3Nested) {
  const auto &p = weft_test::p3::Nested::default_instance();
  Differential(p, DynDesc(p.GetDescriptor()), 200, 3);
}
