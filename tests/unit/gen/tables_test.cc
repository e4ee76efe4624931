// The generated descriptor tables against Google's own descriptors (the
// C++ generated pool for the same .proto files): every field's number,
// name, JSON name, label, type, packing, oneof, presence and default flag;
// sorted tables, ranges and lookups; enums; services; the serialized
// FileDescriptorProto.
#include <gtest/gtest.h>

#include <google/protobuf/any.pb.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/message_differencer.h>

#include <set>
#include <string>

#include "gentest/v1/all2.pb.h"
#include "gentest/v1/all3.pb.h"

#include "google/protobuf/any.weft.h"
#include "google/protobuf/duration.weft.h"
#include "google/protobuf/empty.weft.h"
#include "google/protobuf/field_mask.weft.h"
#include "google/protobuf/struct.weft.h"
#include "google/protobuf/timestamp.weft.h"
#include "google/protobuf/wrappers.weft.h"
#include "gentest/v1/all2.weft.h"
#include "gentest/v1/all3.weft.h"
#include "odd/empty.weft.h"
#include "odd/nopkg.weft.h"
#include "odd/reexport.weft.h"
#include "odd/service_only.weft.h"

namespace gp = google::protobuf;

namespace {

const gp::DescriptorPool *pool() {
  return gp::DescriptorPool::generated_pool();
}

ProtobufCType pbc_type(const gp::FieldDescriptor *f) {
  switch (f->type()) {
  case gp::FieldDescriptor::TYPE_DOUBLE:
    return PROTOBUF_C_TYPE_DOUBLE;
  case gp::FieldDescriptor::TYPE_FLOAT:
    return PROTOBUF_C_TYPE_FLOAT;
  case gp::FieldDescriptor::TYPE_INT64:
    return PROTOBUF_C_TYPE_INT64;
  case gp::FieldDescriptor::TYPE_UINT64:
    return PROTOBUF_C_TYPE_UINT64;
  case gp::FieldDescriptor::TYPE_INT32:
    return PROTOBUF_C_TYPE_INT32;
  case gp::FieldDescriptor::TYPE_FIXED64:
    return PROTOBUF_C_TYPE_FIXED64;
  case gp::FieldDescriptor::TYPE_FIXED32:
    return PROTOBUF_C_TYPE_FIXED32;
  case gp::FieldDescriptor::TYPE_BOOL:
    return PROTOBUF_C_TYPE_BOOL;
  case gp::FieldDescriptor::TYPE_STRING:
    return PROTOBUF_C_TYPE_STRING;
  case gp::FieldDescriptor::TYPE_GROUP:
    return PROTOBUF_C_TYPE_MESSAGE;
  case gp::FieldDescriptor::TYPE_MESSAGE:
    return PROTOBUF_C_TYPE_MESSAGE;
  case gp::FieldDescriptor::TYPE_BYTES:
    return PROTOBUF_C_TYPE_BYTES;
  case gp::FieldDescriptor::TYPE_UINT32:
    return PROTOBUF_C_TYPE_UINT32;
  case gp::FieldDescriptor::TYPE_ENUM:
    return PROTOBUF_C_TYPE_ENUM;
  case gp::FieldDescriptor::TYPE_SFIXED32:
    return PROTOBUF_C_TYPE_SFIXED32;
  case gp::FieldDescriptor::TYPE_SFIXED64:
    return PROTOBUF_C_TYPE_SFIXED64;
  case gp::FieldDescriptor::TYPE_SINT32:
    return PROTOBUF_C_TYPE_SINT32;
  case gp::FieldDescriptor::TYPE_SINT64:
    return PROTOBUF_C_TYPE_SINT64;
  }
  return PROTOBUF_C_TYPE_INT32;
}

void CheckMessage(const weft_msg_desc *d) {
  SCOPED_TRACE(d->base.name);
  const gp::Descriptor *c = pool()->FindMessageTypeByName(d->base.name);
  ASSERT_NE(c, nullptr);
  bool proto3 = c->file()->syntax() == gp::FileDescriptor::SYNTAX_PROTO3;
  EXPECT_EQ(d->base.magic, PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC);
  EXPECT_EQ(d->base.short_name, c->name());
  EXPECT_EQ(d->base.package_name, c->file()->package());
  EXPECT_EQ(d->syntax, proto3 ? 3 : 2);
  EXPECT_EQ(d->is_map_entry != 0, c->options().map_entry());
  EXPECT_NE(d->base.message_init, nullptr);
  ASSERT_EQ(d->base.n_fields, (unsigned)c->field_count());
  ASSERT_EQ(d->n_oneofs, (unsigned)c->real_oneof_decl_count());
  for (int i = 0; i < c->real_oneof_decl_count(); i++)
    EXPECT_EQ(d->oneof_names[i], c->oneof_decl(i)->name());

  std::set<unsigned> names;
  for (unsigned i = 0; i < d->base.n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->base.fields[i];
    const weft_field_info *info = &d->field_info[i];
    SCOPED_TRACE(f->name);
    if (i > 0)
      EXPECT_LT(d->base.fields[i - 1].id, f->id) << "fields sorted by number";
    const gp::FieldDescriptor *cf = c->FindFieldByNumber((int)f->id);
    ASSERT_NE(cf, nullptr);
    EXPECT_EQ(f->name, cf->name());
    EXPECT_EQ(info->json_name, cf->json_name());
    bool p3opt = cf->containing_oneof() && !cf->real_containing_oneof();
    ProtobufCLabel label = cf->is_repeated()   ? PROTOBUF_C_LABEL_REPEATED
                           : cf->is_required() ? PROTOBUF_C_LABEL_REQUIRED
                           : (!proto3 || p3opt || cf->real_containing_oneof())
                               ? PROTOBUF_C_LABEL_OPTIONAL
                               : PROTOBUF_C_LABEL_NONE;
    EXPECT_EQ(f->label, label);
    EXPECT_EQ(f->type, pbc_type(cf));
    EXPECT_EQ((info->flags & WEFT_FIELD_GROUP) != 0,
              cf->type() == gp::FieldDescriptor::TYPE_GROUP);
    EXPECT_EQ((f->flags & PROTOBUF_C_FIELD_FLAG_PACKED) != 0, cf->is_packed());
    EXPECT_EQ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0,
              cf->real_containing_oneof() != nullptr);
    EXPECT_EQ((f->flags & PROTOBUF_C_FIELD_FLAG_DEPRECATED) != 0,
              cf->options().deprecated());
    if (cf->real_containing_oneof())
      EXPECT_EQ(info->oneof_index, cf->real_containing_oneof()->index());
    else
      EXPECT_EQ(info->oneof_index, -1);
    EXPECT_EQ((info->flags & WEFT_FIELD_PROTO3_OPTIONAL) != 0, p3opt);
    EXPECT_EQ((info->flags & WEFT_FIELD_MAP) != 0, cf->is_map());
    EXPECT_EQ((info->flags & WEFT_FIELD_HAS_DEFAULT) != 0,
              cf->has_default_value());
    EXPECT_EQ((info->flags & WEFT_FIELD_CHECK_UTF8) != 0,
              proto3 && cf->type() == gp::FieldDescriptor::TYPE_STRING);
    if (cf->message_type() != nullptr) {
      ASSERT_NE(f->descriptor, nullptr);
      EXPECT_EQ(
          weft_msg_desc_of((const ProtobufCMessageDescriptor *)f->descriptor)
              ->base.name,
          cf->message_type()->full_name());
    } else if (cf->enum_type() != nullptr) {
      ASSERT_NE(f->descriptor, nullptr);
      EXPECT_EQ(
          weft_enum_desc_of((const ProtobufCEnumDescriptor *)f->descriptor)
              ->base.name,
          cf->enum_type()->full_name());
    } else {
      EXPECT_EQ(f->descriptor, nullptr);
    }
    // Presence: a has_ quantifier exactly for optional non-pointer fields.
    bool has_flag =
        label == PROTOBUF_C_LABEL_OPTIONAL && !cf->real_containing_oneof() &&
        f->type != PROTOBUF_C_TYPE_MESSAGE && f->type != PROTOBUF_C_TYPE_STRING;
    if (has_flag || cf->is_repeated() || cf->real_containing_oneof())
      EXPECT_NE(f->quantifier_offset, 0u);
    else
      EXPECT_EQ(f->quantifier_offset, 0u);
    EXPECT_LT(f->offset, d->base.sizeof_message);
    EXPECT_LT(f->quantifier_offset, d->base.sizeof_message);
    EXPECT_GE(f->offset, sizeof(ProtobufCMessage));
    // protobuf-c's own lookups find it through the ranges and name index.
    EXPECT_EQ(protobuf_c_message_descriptor_get_field(&d->base, f->id), f);
    EXPECT_EQ(
        protobuf_c_message_descriptor_get_field_by_name(&d->base, f->name), f);
    names.insert(d->base.fields_sorted_by_name[i]);
    if (i > 0)
      EXPECT_LT(
          std::string(
              d->base.fields[d->base.fields_sorted_by_name[i - 1]].name),
          std::string(d->base.fields[d->base.fields_sorted_by_name[i]].name));
  }
  EXPECT_EQ(names.size(), d->base.n_fields);
  // Numbers that are not fields are not found.
  for (uint32_t id = 1; id < 40; id++)
    if (c->FindFieldByNumber((int)id) == nullptr)
      EXPECT_EQ(protobuf_c_message_descriptor_get_field(&d->base, id), nullptr)
          << id;
  // The range table ends with protobuf-c's sentinel.
  EXPECT_EQ(d->base.field_ranges[d->base.n_field_ranges].orig_index,
            (int)d->base.n_fields);
}

void CheckEnum(const weft_enum_desc *e) {
  SCOPED_TRACE(e->base.name);
  const gp::EnumDescriptor *c = pool()->FindEnumTypeByName(e->base.name);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(e->base.magic, PROTOBUF_C__ENUM_DESCRIPTOR_MAGIC);
  EXPECT_EQ(e->closed != 0,
            c->file()->syntax() == gp::FileDescriptor::SYNTAX_PROTO2);
  EXPECT_EQ(e->base.n_value_names, (unsigned)c->value_count());
  std::set<int> numbers;
  for (int i = 0; i < c->value_count(); i++) {
    const gp::EnumValueDescriptor *v = c->value(i);
    numbers.insert(v->number());
    const ProtobufCEnumValue *byn =
        protobuf_c_enum_descriptor_get_value(&e->base, v->number());
    ASSERT_NE(byn, nullptr) << v->name();
    EXPECT_EQ(byn->value, v->number());
    // Aliases resolve to the first name declared for the number.
    EXPECT_EQ(byn->name, c->FindValueByNumber(v->number())->name());
    const ProtobufCEnumValue *byname =
        protobuf_c_enum_descriptor_get_value_by_name(&e->base,
                                                     v->name().c_str());
    ASSERT_NE(byname, nullptr) << v->name();
    EXPECT_EQ(byname->value, v->number());
  }
  EXPECT_EQ(e->base.n_values, numbers.size());
  for (unsigned i = 1; i < e->base.n_values; i++)
    EXPECT_LT(e->base.values[i - 1].value, e->base.values[i].value);
}

int CountMessages(const gp::Descriptor *d) {
  int n = 1;
  for (int i = 0; i < d->nested_type_count(); i++)
    n += CountMessages(d->nested_type(i));
  return n;
}
int CountEnums(const gp::Descriptor *d) {
  int n = d->enum_type_count();
  for (int i = 0; i < d->nested_type_count(); i++)
    n += CountEnums(d->nested_type(i));
  return n;
}

void CheckFile(const weft_file_desc *f) {
  SCOPED_TRACE(f->name);
  const gp::FileDescriptor *c = pool()->FindFileByName(f->name);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(f->package, c->package());
  ASSERT_EQ(f->n_deps, (unsigned)c->dependency_count());
  for (unsigned i = 0; i < f->n_deps; i++)
    EXPECT_EQ(f->deps[i]->name, c->dependency((int)i)->name());
  int msgs = 0, enums = c->enum_type_count();
  for (int i = 0; i < c->message_type_count(); i++) {
    msgs += CountMessages(c->message_type(i));
    enums += CountEnums(c->message_type(i));
  }
  EXPECT_EQ(f->n_messages, (unsigned)msgs);
  EXPECT_EQ(f->n_enums, (unsigned)enums);
  EXPECT_EQ(f->n_services, (unsigned)c->service_count());
  for (unsigned i = 0; i < f->n_messages; i++) {
    EXPECT_EQ(f->messages[i]->file, f);
    CheckMessage(f->messages[i]);
  }
  for (unsigned i = 0; i < f->n_enums; i++) {
    EXPECT_EQ(f->enums[i]->file, f);
    CheckEnum(f->enums[i]);
  }

  // The embedded FileDescriptorProto is what protoc parsed (json names
  // included, source info stripped).
  gp::FileDescriptorProto mine, theirs;
  ASSERT_TRUE(mine.ParseFromArray(f->serialized, (int)f->serialized_len));
  c->CopyTo(&theirs);
  c->CopyJsonNameTo(&theirs);
  EXPECT_FALSE(mine.has_source_code_info());
  std::string diff;
  gp::util::MessageDifferencer md;
  md.ReportDifferencesToString(&diff);
  EXPECT_TRUE(md.Compare(mine, theirs)) << diff;
}

TEST(GenTables, Proto3File) {
  CheckFile(&gentest__v1__all3_proto);
}
TEST(GenTables, Proto2File) {
  CheckFile(&gentest__v1__all2_proto);
}
TEST(GenTables, OddFiles) {
  CheckFile(&odd__nopkg_proto);
  CheckFile(&odd__reexport_proto);
  CheckFile(&odd__service_1only_proto);
  CheckFile(&odd__empty_proto);
  EXPECT_STREQ(Outer__Middle__Inner_desc.base.name, "Outer.Middle.Inner");
  EXPECT_STREQ(Outer__Middle__Inner_desc.base.package_name, "");
  EXPECT_EQ(odd__reexport_proto.deps[0], &odd__nopkg_proto);
  EXPECT_EQ(odd__OnlyService_service.methods[1].kind, WEFT_RPC_BIDI);
  EXPECT_EQ(odd__OnlyService_service.methods[1].output,
            &Outer__Middle__Inner_desc);
  EXPECT_EQ(odd__EmptyService_service.n_methods, 0u);
  EXPECT_EQ(odd__service_1only_proto.n_services, 2u);
  Outer o = Outer_INIT;
  EXPECT_EQ(protobuf_c_message_get_packed_size(&o.base), 0u);
}

TEST(GenTables, WellKnownTypes) {
  const weft_file_desc *files[] = {
      &google__protobuf__any_proto,     &google__protobuf__duration_proto,
      &google__protobuf__empty_proto,   &google__protobuf__field_1mask_proto,
      &google__protobuf__struct_proto,  &google__protobuf__timestamp_proto,
      &google__protobuf__wrappers_proto};
  for (const weft_file_desc *f : files)
    CheckFile(f);
  EXPECT_EQ(google__protobuf__Any_desc.wkt, WEFT_WKT_ANY);
  EXPECT_EQ(google__protobuf__Timestamp_desc.wkt, WEFT_WKT_TIMESTAMP);
  EXPECT_EQ(google__protobuf__Duration_desc.wkt, WEFT_WKT_DURATION);
  EXPECT_EQ(google__protobuf__FieldMask_desc.wkt, WEFT_WKT_FIELD_MASK);
  EXPECT_EQ(google__protobuf__Struct_desc.wkt, WEFT_WKT_STRUCT);
  EXPECT_EQ(google__protobuf__Value_desc.wkt, WEFT_WKT_VALUE);
  EXPECT_EQ(google__protobuf__ListValue_desc.wkt, WEFT_WKT_LIST_VALUE);
  EXPECT_EQ(google__protobuf__Empty_desc.wkt, WEFT_WKT_EMPTY);
  EXPECT_EQ(google__protobuf__DoubleValue_desc.wkt, WEFT_WKT_DOUBLE_VALUE);
  EXPECT_EQ(google__protobuf__FloatValue_desc.wkt, WEFT_WKT_FLOAT_VALUE);
  EXPECT_EQ(google__protobuf__Int64Value_desc.wkt, WEFT_WKT_INT64_VALUE);
  EXPECT_EQ(google__protobuf__UInt64Value_desc.wkt, WEFT_WKT_UINT64_VALUE);
  EXPECT_EQ(google__protobuf__Int32Value_desc.wkt, WEFT_WKT_INT32_VALUE);
  EXPECT_EQ(google__protobuf__UInt32Value_desc.wkt, WEFT_WKT_UINT32_VALUE);
  EXPECT_EQ(google__protobuf__BoolValue_desc.wkt, WEFT_WKT_BOOL_VALUE);
  EXPECT_EQ(google__protobuf__StringValue_desc.wkt, WEFT_WKT_STRING_VALUE);
  EXPECT_EQ(google__protobuf__BytesValue_desc.wkt, WEFT_WKT_BYTES_VALUE);
  EXPECT_EQ(google__protobuf__Struct__FieldsEntry_desc.wkt, WEFT_WKT_NONE);
  EXPECT_EQ(gentest__v1__Scalars_desc.wkt, WEFT_WKT_NONE);
}

TEST(GenTables, Service) {
  const weft_service_desc *s = &gentest__v1__Things_service;
  const gp::ServiceDescriptor *c =
      pool()->FindServiceByName("gentest.v1.Things");
  ASSERT_NE(c, nullptr);
  EXPECT_STREQ(s->name, "gentest.v1.Things");
  EXPECT_STREQ(s->short_name, "Things");
  EXPECT_EQ(s->file, &gentest__v1__all3_proto);
  ASSERT_EQ(s->n_methods, (unsigned)c->method_count());
  for (unsigned i = 0; i < s->n_methods; i++) {
    const weft_method_desc *m = &s->methods[i];
    const gp::MethodDescriptor *cm = c->method((int)i);
    EXPECT_EQ(m->name, cm->name());
    EXPECT_EQ(m->path, "/gentest.v1.Things/" + cm->name());
    EXPECT_EQ(m->input->base.name, cm->input_type()->full_name());
    EXPECT_EQ(m->output->base.name, cm->output_type()->full_name());
    int kind =
        (cm->client_streaming() ? 2 : 0) | (cm->server_streaming() ? 1 : 0);
    EXPECT_EQ(m->kind, kind);
    // The level itself: Connect GET takes NO_SIDE_EFFECTS only.
    EXPECT_EQ(m->idempotent, (int)cm->options().idempotency_level());
    EXPECT_EQ(m->index, i);
    EXPECT_EQ(m->service, s);
    EXPECT_NE(m->invoke, nullptr);
  }
  EXPECT_EQ(s->methods[3].kind, WEFT_RPC_SERVER_STREAM);
  EXPECT_EQ(s->methods[4].kind, WEFT_RPC_CLIENT_STREAM);
  EXPECT_EQ(s->methods[5].kind, WEFT_RPC_BIDI);
}

// Handlers of every shape, called through the generated thunks.
int g_calls;
int GetThing(weft_server_call *, const gentest__v1__Scalars *req,
             gentest__v1__Scalars *resp, void *ctx) {
  resp->f_int32 = req->f_int32 * 2;
  g_calls += *(int *)ctx;
  return 0;
}
int Watch(weft_server_call *, const gentest__v1__Empty *, void *) {
  g_calls++;
  return 0;
}
int Upload(weft_server_call *, gentest__v1__Empty *, void *) {
  g_calls++;
  return 0;
}
int Chat(weft_server_call *, void *) {
  return 7;
}

TEST(GenTables, InvokeThunks) {
  gentest__v1__Things_impl impl = {};
  impl.get_thing = GetThing;
  impl.watch_things = Watch;
  impl.upload_things = Upload;
  impl.chat = Chat;
  const weft_method_desc *m = gentest__v1__Things_service.methods;
  gentest__v1__Scalars req = gentest__v1__Scalars_INIT,
                       resp = gentest__v1__Scalars_INIT;
  gentest__v1__Empty e = gentest__v1__Empty_INIT;
  req.f_int32 = 21;
  int one = 1;
  g_calls = 0;
  EXPECT_EQ(m[0].invoke(&impl, nullptr, &req, &resp, &one), 0);
  EXPECT_EQ(resp.f_int32, 42);
  EXPECT_EQ(m[1].invoke(&impl, nullptr, &req, &resp, nullptr),
            WEFT_STATUS_UNIMPLEMENTED); // delete_ not set
  EXPECT_EQ(m[3].invoke(&impl, nullptr, &e, nullptr, nullptr), 0);
  EXPECT_EQ(m[4].invoke(&impl, nullptr, nullptr, &e, nullptr), 0);
  EXPECT_EQ(m[5].invoke(&impl, nullptr, nullptr, nullptr, nullptr), 7);
  EXPECT_EQ(g_calls, 3);
}

} // namespace
