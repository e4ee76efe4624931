// Malformed FileDescriptorSets: every defect is an error that names the
// file and the element, never a crash (the fuzzer in tests/fuzz/dyndesc
// covers the rest).
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "google/protobuf/descriptor.pb-c.h"
#include "weft/codec.h"
#include "weft/dyndesc.h"

namespace {

#define T(x) GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_##x
#define L(x) GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_##x

// package t; message A { int32 x = 1; B b = 2; } message B { string s = 1; }
// enum E { Z = 0; } service S { rpc M(A) returns (B); }
struct Good {
  Google__Protobuf__FileDescriptorProto file;
  Google__Protobuf__DescriptorProto a, b;
  Google__Protobuf__DescriptorProto *msgs[2] = {&a, &b};
  Google__Protobuf__FieldDescriptorProto x, ab, s;
  Google__Protobuf__FieldDescriptorProto *a_fields[2] = {&x, &ab};
  Google__Protobuf__FieldDescriptorProto *b_fields[1] = {&s};
  Google__Protobuf__EnumDescriptorProto e;
  Google__Protobuf__EnumDescriptorProto *enums[1] = {&e};
  Google__Protobuf__EnumValueDescriptorProto z;
  Google__Protobuf__EnumValueDescriptorProto *values[1] = {&z};
  Google__Protobuf__ServiceDescriptorProto svc;
  Google__Protobuf__ServiceDescriptorProto *svcs[1] = {&svc};
  Google__Protobuf__MethodDescriptorProto m;
  Google__Protobuf__MethodDescriptorProto *methods[1] = {&m};
  Google__Protobuf__MessageOptions map_opts;
  char *deps[1] = {const_cast<char *>("other.proto")};

  static void Field(Google__Protobuf__FieldDescriptorProto *f, const char *name,
                    int number, int type, const char *type_name) {
    google__protobuf__field_descriptor_proto__init(f);
    f->name = const_cast<char *>(name);
    f->has_number = 1;
    f->number = number;
    f->has_label = 1;
    f->label = L(OPTIONAL);
    f->has_type = 1;
    f->type = static_cast<Google__Protobuf__FieldDescriptorProto__Type>(type);
    f->type_name = const_cast<char *>(type_name);
  }

  Good() {
    google__protobuf__file_descriptor_proto__init(&file);
    file.name = const_cast<char *>("m.proto");
    file.package = const_cast<char *>("t");
    file.syntax = const_cast<char *>("proto3");
    google__protobuf__descriptor_proto__init(&a);
    google__protobuf__descriptor_proto__init(&b);
    a.name = const_cast<char *>("A");
    b.name = const_cast<char *>("B");
    Field(&x, "x", 1, T(INT32), nullptr);
    Field(&ab, "b", 2, T(MESSAGE), ".t.B");
    Field(&s, "s", 1, T(STRING), nullptr);
    a.n_field = 2;
    a.field = a_fields;
    b.n_field = 1;
    b.field = b_fields;
    file.n_message_type = 2;
    file.message_type = msgs;
    google__protobuf__enum_descriptor_proto__init(&e);
    google__protobuf__enum_value_descriptor_proto__init(&z);
    e.name = const_cast<char *>("E");
    z.name = const_cast<char *>("Z");
    z.has_number = 1;
    e.n_value = 1;
    e.value = values;
    file.n_enum_type = 1;
    file.enum_type = enums;
    google__protobuf__service_descriptor_proto__init(&svc);
    google__protobuf__method_descriptor_proto__init(&m);
    svc.name = const_cast<char *>("S");
    m.name = const_cast<char *>("M");
    m.input_type = const_cast<char *>(".t.A");
    m.output_type = const_cast<char *>(".t.B");
    svc.n_method = 1;
    svc.method = methods;
    file.n_service = 1;
    file.service = svcs;
    google__protobuf__message_options__init(&map_opts);
  }

  // Builds; returns the code and puts the message in *msg.
  int Build(std::string *msg) {
    const Google__Protobuf__FileDescriptorProto *files[1] = {&file};
    weft_dyn_set *set = nullptr;
    weft_error err = {};
    int rv = weft_dyn_build_files(files, 1, &set, &err);
    *msg = err.message;
    if (rv == 0) {
      EXPECT_NE(set, nullptr);
    } else {
      EXPECT_EQ(set, nullptr);
      EXPECT_EQ(err.code, rv);
    }
    weft_dyn_free(set);
    return rv;
  }
};

void ExpectError(Good &g, int code, const std::string &part1,
                 const std::string &part2 = "") {
  std::string msg;
  EXPECT_EQ(code, g.Build(&msg)) << msg;
  EXPECT_NE(msg.find(part1), std::string::npos) << msg;
  EXPECT_NE(msg.find(part2), std::string::npos) << msg;
}

TEST(DynDescMalformed, GoodSetBuilds) {
  Good g;
  std::string msg;
  EXPECT_EQ(0, g.Build(&msg)) << msg;
  // and its messages work
  const Google__Protobuf__FileDescriptorProto *files[1] = {&g.file};
  weft_dyn_set *set = nullptr;
  ASSERT_EQ(0, weft_dyn_build_files(files, 1, &set, nullptr));
  const weft_method_desc *m = weft_dyn_find_method(set, "t.S.M");
  ASSERT_NE(m, nullptr);
  void *a = weft_message_new(m->input, nullptr);
  uint8_t buf[16];
  EXPECT_EQ(0, weft_encode(a, buf, sizeof buf));
  weft_message_free(a);
  weft_dyn_free(set);
}

TEST(DynDescMalformed, DanglingTypeName) {
  Good g;
  g.ab.type_name = const_cast<char *>(".t.Nope");
  ExpectError(g, WEFT_ERR_MALFORMED, "m.proto", "t.A.b: unknown type .t.Nope");
}

TEST(DynDescMalformed, RelativeTypeNameResolves) {
  Good g;
  g.ab.type_name = const_cast<char *>("B");
  std::string msg;
  EXPECT_EQ(0, g.Build(&msg)) << msg;
}

TEST(DynDescMalformed, TypeKindMismatch) {
  Good g;
  g.ab.type_name = const_cast<char *>(".t.E");
  ExpectError(g, WEFT_ERR_MALFORMED, "t.A.b", "not a message");
}

TEST(DynDescMalformed, MissingDependency) {
  Good g;
  g.file.n_dependency = 1;
  g.file.dependency = g.deps;
  ExpectError(g, WEFT_ERR_MALFORMED, "m.proto", "imports other.proto");
}

TEST(DynDescMalformed, DuplicateFieldNumbers) {
  Good g;
  g.x.number = 2;
  ExpectError(g, WEFT_ERR_MALFORMED, "t.A", "both have number 2");
}

TEST(DynDescMalformed, BadFieldNumber) {
  Good g;
  g.x.number = 0;
  ExpectError(g, WEFT_ERR_MALFORMED, "t.A.x", "bad field number");
  g.x.number = 1 << 29;
  ExpectError(g, WEFT_ERR_MALFORMED, "t.A.x", "bad field number");
}

TEST(DynDescMalformed, BadLabel) {
  Good g;
  g.x.label = static_cast<Google__Protobuf__FieldDescriptorProto__Label>(7);
  ExpectError(g, WEFT_ERR_MALFORMED, "t.A.x", "bad label 7");
  g.x.has_label = 0;
  ExpectError(g, WEFT_ERR_MALFORMED, "t.A.x", "bad label");
}

TEST(DynDescMalformed, RequiredInProto3) {
  Good g;
  g.x.label = L(REQUIRED);
  ExpectError(g, WEFT_ERR_MALFORMED, "t.A.x", "proto3");
}

TEST(DynDescMalformed, BadType) {
  Good g;
  g.x.type = static_cast<Google__Protobuf__FieldDescriptorProto__Type>(42);
  ExpectError(g, WEFT_ERR_MALFORMED, "t.A.x", "bad type 42");
}

TEST(DynDescMalformed, OneofIndexOutOfRange) {
  Good g;
  g.x.has_oneof_index = 1;
  g.x.oneof_index = 3;
  ExpectError(g, WEFT_ERR_MALFORMED, "t.A.x", "oneof index 3");
}

TEST(DynDescMalformed, RepeatedOneofMember) {
  Good g;
  Google__Protobuf__OneofDescriptorProto o;
  google__protobuf__oneof_descriptor_proto__init(&o);
  o.name = const_cast<char *>("k");
  Google__Protobuf__OneofDescriptorProto *os[1] = {&o};
  g.a.n_oneof_decl = 1;
  g.a.oneof_decl = os;
  g.x.has_oneof_index = 1;
  g.x.oneof_index = 0;
  g.x.label = L(REPEATED);
  ExpectError(g, WEFT_ERR_MALFORMED, "t.A.x", "oneof member");
}

TEST(DynDescMalformed, BadMapEntry) {
  Good g;
  g.map_opts.has_map_entry = 1;
  g.map_opts.map_entry = 1;
  g.b.options = &g.map_opts; // one field, not key/value
  ExpectError(g, WEFT_ERR_MALFORMED, "t.B is a map entry");
}

TEST(DynDescMalformed, DuplicateMessage) {
  Good g;
  g.b.name = const_cast<char *>("A");
  ExpectError(g, WEFT_ERR_MALFORMED, "t.A is defined twice");
}

TEST(DynDescMalformed, MissingNames) {
  Good g;
  g.x.name = nullptr;
  ExpectError(g, WEFT_ERR_MALFORMED, "t.A", "no valid name");
  Good g2;
  g2.b.name = nullptr;
  ExpectError(g2, WEFT_ERR_MALFORMED, "m.proto", "no valid name");
  Good g3;
  g3.file.name = nullptr;
  ExpectError(g3, WEFT_ERR_MALFORMED, "no name");
}

TEST(DynDescMalformed, NamesMustBeIdentifiers) {
  // Found by fuzz_dyndesc: a '/' in a method name broke path lookups.
  Good g;
  g.m.name = const_cast<char *>("Cli/ntStream");
  ExpectError(g, WEFT_ERR_MALFORMED, "t.S", "Cli/ntStream");
  Good g2;
  g2.a.name = const_cast<char *>("A.B");
  ExpectError(g2, WEFT_ERR_MALFORMED, "m.proto", "A.B");
  Good g3;
  g3.file.package = const_cast<char *>("t..u");
  ExpectError(g3, WEFT_ERR_MALFORMED, "m.proto", "t..u");
  Good g4;
  g4.x.name = const_cast<char *>("9x");
  ExpectError(g4, WEFT_ERR_MALFORMED, "t.A", "9x");
  Good g5;
  g5.file.package = const_cast<char *>("a_1.b2");
  g5.ab.type_name = const_cast<char *>("B"); // relative to a_1.b2.A
  g5.m.input_type = const_cast<char *>(".a_1.b2.A");
  g5.m.output_type = const_cast<char *>("b2.B"); // from scope a_1.b2.S
  std::string msg;
  EXPECT_EQ(0, g5.Build(&msg)) << msg;
}

TEST(DynDescMalformed, EditionsUnsupported) {
  Good g;
  g.file.syntax = const_cast<char *>("editions");
  ExpectError(g, WEFT_ERR_UNSUPPORTED, "m.proto", "editions");
}

TEST(DynDescMalformed, MethodTypes) {
  Good g;
  g.m.input_type = const_cast<char *>(".t.Gone");
  ExpectError(g, WEFT_ERR_MALFORMED, "t.S.M", "input type .t.Gone");
  Good g2;
  g2.m.output_type = const_cast<char *>(".t.E");
  ExpectError(g2, WEFT_ERR_MALFORMED, "t.S.M", "not a message");
}

TEST(DynDescMalformed, EnumWithoutValues) {
  Good g;
  g.e.n_value = 0;
  ExpectError(g, WEFT_ERR_MALFORMED, "enum t.E has no values");
}

TEST(DynDescMalformed, BadDefault) {
  Good g;
  g.file.syntax = const_cast<char *>("proto2");
  g.x.default_value = const_cast<char *>("forty-two");
  ExpectError(g, WEFT_ERR_MALFORMED, "t.A.x", "bad default value");
  g.x.default_value = const_cast<char *>("4294967296"); // over int32
  ExpectError(g, WEFT_ERR_MALFORMED, "t.A.x", "bad default value");
  g.x.default_value = const_cast<char *>("-42");
  std::string msg;
  EXPECT_EQ(0, g.Build(&msg)) << msg;
}

TEST(DynDescMalformed, DuplicateFile) {
  Good g;
  const Google__Protobuf__FileDescriptorProto *files[2] = {&g.file, &g.file};
  weft_dyn_set *set = nullptr;
  weft_error err = {};
  EXPECT_EQ(WEFT_ERR_MALFORMED, weft_dyn_build_files(files, 2, &set, &err));
  EXPECT_NE(std::string(err.message).find("m.proto"), std::string::npos);
  EXPECT_EQ(set, nullptr);
}

TEST(DynDescMalformed, NotADescriptorSet) {
  const uint8_t junk[] = {0x0a, 0x05, 0x01, 0x02};
  weft_dyn_set *set = nullptr;
  weft_error err = {};
  EXPECT_EQ(WEFT_ERR_MALFORMED, weft_dyn_build(junk, sizeof junk, &set, &err));
  EXPECT_NE(std::string(err.message).find("FileDescriptorSet"),
            std::string::npos);
  EXPECT_EQ(0, weft_dyn_build(nullptr, 0, &set, &err)); // empty set
  EXPECT_EQ(weft_dyn_n_files(set), 0u);
  weft_dyn_free(set);
  weft_dyn_free(nullptr);
}

} // namespace
