// The naming test's headers compile as C++ too (members named after C++
// keywords such as class, new and delete are escaped).
#include <gtest/gtest.h>

#include "a/b/foo.weft.h"
#include "a/b_c/foo.weft.h"
#include "a/foo.weft.h"

TEST(GenNaming, HeadersCompileAsCxx) {
  a__Foo f = a__Foo_INIT;
  f.class_ = (char *)"c";
  f.int_ = 1;
  a__Naming_impl impl = {};
  EXPECT_EQ(impl.new_, nullptr);
  EXPECT_EQ(impl.delete_, nullptr);
  EXPECT_STREQ(a__Naming_service.methods[3].name, "new");
  EXPECT_STREQ(a__b_1c__Foo_desc.base.c_name, "a__b_1c__Foo");
  EXPECT_EQ(protobuf_c_message_get_packed_size(&f.base), 5u);
}
