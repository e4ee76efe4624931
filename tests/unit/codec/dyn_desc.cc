#include "dyn_desc.h"

#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/unknown_field_set.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace weft_test {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::FileDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

struct DynMsg {
  weft_msg_desc wd;
  weft_msg_cache cache{}; // the codec's decode table, freed with the type
  ~DynMsg() {
    weft_msg_cache_release(&cache);
  }
  std::vector<ProtobufCFieldDescriptor> fields;
  std::vector<weft_field_info> info;
  std::vector<const char *> oneof_names;
};

struct DynEnum {
  weft_enum_desc ed;
  std::vector<ProtobufCEnumValue> values;
};

// Everything lives as long as the process (reachable from these globals).
std::map<const Descriptor *, std::unique_ptr<DynMsg>> g_msgs;
std::map<const EnumDescriptor *, std::unique_ptr<DynEnum>> g_enums;
std::deque<std::string> g_strings;
std::deque<uint64_t> g_scalars;
std::deque<ProtobufCBinaryData> g_bytes;

const char *Intern(const std::string &s) {
  g_strings.push_back(s);
  return g_strings.back().c_str();
}

ProtobufCType MapType(const FieldDescriptor *f) {
  switch (f->type()) {
  case FieldDescriptor::TYPE_DOUBLE:
    return PROTOBUF_C_TYPE_DOUBLE;
  case FieldDescriptor::TYPE_FLOAT:
    return PROTOBUF_C_TYPE_FLOAT;
  case FieldDescriptor::TYPE_INT64:
    return PROTOBUF_C_TYPE_INT64;
  case FieldDescriptor::TYPE_UINT64:
    return PROTOBUF_C_TYPE_UINT64;
  case FieldDescriptor::TYPE_INT32:
    return PROTOBUF_C_TYPE_INT32;
  case FieldDescriptor::TYPE_FIXED64:
    return PROTOBUF_C_TYPE_FIXED64;
  case FieldDescriptor::TYPE_FIXED32:
    return PROTOBUF_C_TYPE_FIXED32;
  case FieldDescriptor::TYPE_BOOL:
    return PROTOBUF_C_TYPE_BOOL;
  case FieldDescriptor::TYPE_STRING:
    return PROTOBUF_C_TYPE_STRING;
  case FieldDescriptor::TYPE_GROUP:
    return PROTOBUF_C_TYPE_MESSAGE;
  case FieldDescriptor::TYPE_MESSAGE:
    return PROTOBUF_C_TYPE_MESSAGE;
  case FieldDescriptor::TYPE_BYTES:
    return PROTOBUF_C_TYPE_BYTES;
  case FieldDescriptor::TYPE_UINT32:
    return PROTOBUF_C_TYPE_UINT32;
  case FieldDescriptor::TYPE_ENUM:
    return PROTOBUF_C_TYPE_ENUM;
  case FieldDescriptor::TYPE_SFIXED32:
    return PROTOBUF_C_TYPE_SFIXED32;
  case FieldDescriptor::TYPE_SFIXED64:
    return PROTOBUF_C_TYPE_SFIXED64;
  case FieldDescriptor::TYPE_SINT32:
    return PROTOBUF_C_TYPE_SINT32;
  case FieldDescriptor::TYPE_SINT64:
    return PROTOBUF_C_TYPE_SINT64;
  }
  throw std::logic_error("type");
}

size_t ElemSize(ProtobufCType t) {
  switch (t) {
  case PROTOBUF_C_TYPE_INT64:
  case PROTOBUF_C_TYPE_SINT64:
  case PROTOBUF_C_TYPE_SFIXED64:
  case PROTOBUF_C_TYPE_UINT64:
  case PROTOBUF_C_TYPE_FIXED64:
  case PROTOBUF_C_TYPE_DOUBLE:
  case PROTOBUF_C_TYPE_STRING:
  case PROTOBUF_C_TYPE_MESSAGE:
    return 8;
  case PROTOBUF_C_TYPE_BYTES:
    return sizeof(ProtobufCBinaryData);
  default:
    return 4;
  }
}

const ProtobufCEnumDescriptor *EnumDesc(const EnumDescriptor *e) {
  auto it = g_enums.find(e);
  if (it != g_enums.end())
    return &it->second->ed.base;
  auto de = std::make_unique<DynEnum>();
  std::memset(&de->ed, 0, sizeof de->ed);
  std::map<int, const char *> by_value;
  for (int i = 0; i < e->value_count(); i++)
    by_value.emplace(e->value(i)->number(), Intern(e->value(i)->name()));
  for (auto &kv : by_value)
    de->values.push_back(ProtobufCEnumValue{kv.second, kv.second, kv.first});
  ProtobufCEnumDescriptor &b = de->ed.base;
  b.magic = PROTOBUF_C__ENUM_DESCRIPTOR_MAGIC;
  b.name = Intern(e->full_name());
  b.short_name = Intern(e->name());
  b.c_name = b.short_name;
  b.package_name = Intern(e->file()->package());
  b.n_values = static_cast<unsigned>(de->values.size());
  b.values = de->values.data();
  de->ed.closed = e->file()->syntax() == FileDescriptor::SYNTAX_PROTO2;
  auto *raw = de.get();
  g_enums.emplace(e, std::move(de));
  return &raw->ed.base;
}

// A field's default, in protobuf-c's representation, or nullptr.
const void *DefaultValue(const FieldDescriptor *f, ProtobufCType t) {
  if (f->is_repeated() || f->containing_oneof() || t == PROTOBUF_C_TYPE_MESSAGE)
    return nullptr;
  uint64_t v = 0;
  switch (f->cpp_type()) {
  case FieldDescriptor::CPPTYPE_STRING:
    if (!f->has_default_value())
      return nullptr;
    if (t == PROTOBUF_C_TYPE_STRING)
      return Intern(f->default_value_string());
    {
      const char *s = Intern(f->default_value_string());
      g_bytes.push_back(ProtobufCBinaryData{
          f->default_value_string().size(),
          reinterpret_cast<uint8_t *>(const_cast<char *>(s))});
      return &g_bytes.back();
    }
  case FieldDescriptor::CPPTYPE_INT32: {
    int32_t x = f->default_value_int32();
    std::memcpy(&v, &x, 4);
    break;
  }
  case FieldDescriptor::CPPTYPE_UINT32: {
    uint32_t x = f->default_value_uint32();
    std::memcpy(&v, &x, 4);
    break;
  }
  case FieldDescriptor::CPPTYPE_ENUM: {
    int32_t x = f->default_value_enum()->number();
    std::memcpy(&v, &x, 4);
    break;
  }
  case FieldDescriptor::CPPTYPE_INT64: {
    int64_t x = f->default_value_int64();
    std::memcpy(&v, &x, 8);
    break;
  }
  case FieldDescriptor::CPPTYPE_UINT64:
    v = f->default_value_uint64();
    break;
  case FieldDescriptor::CPPTYPE_FLOAT: {
    float x = f->default_value_float();
    std::memcpy(&v, &x, 4);
    break;
  }
  case FieldDescriptor::CPPTYPE_DOUBLE: {
    double x = f->default_value_double();
    std::memcpy(&v, &x, 8);
    break;
  }
  case FieldDescriptor::CPPTYPE_BOOL: {
    protobuf_c_boolean x = f->default_value_bool();
    std::memcpy(&v, &x, sizeof x);
    break;
  }
  default:
    return nullptr;
  }
  if (v == 0)
    return nullptr;
  g_scalars.push_back(v);
  return &g_scalars.back();
}

} // namespace

const weft_msg_desc *DynDesc(const Descriptor *d) {
  auto it = g_msgs.find(d);
  if (it != g_msgs.end())
    return &it->second->wd;
  auto dm = std::make_unique<DynMsg>();
  DynMsg *m = dm.get();
  g_msgs.emplace(d, std::move(dm)); // before recursing: recursive types
  std::memset(&m->wd, 0, sizeof m->wd);

  std::vector<const FieldDescriptor *> fs;
  for (int i = 0; i < d->field_count(); i++)
    fs.push_back(d->field(i));
  std::sort(fs.begin(), fs.end(),
            [](auto *a, auto *b) { return a->number() < b->number(); });
  bool p3 = d->file()->syntax() == FileDescriptor::SYNTAX_PROTO3;

  size_t off = sizeof(ProtobufCMessage);
  auto place = [&off](size_t sz, size_t al) {
    off = (off + al - 1) & ~(al - 1);
    size_t o = off;
    off += sz;
    return o;
  };
  std::map<const google::protobuf::OneofDescriptor *, std::pair<size_t, size_t>>
      oneof_slots; // case offset, union offset
  for (int i = 0; i < d->real_oneof_decl_count(); i++) {
    auto *o = d->oneof_decl(i);
    size_t mx = 0;
    for (int j = 0; j < o->field_count(); j++)
      mx = std::max(mx, ElemSize(MapType(o->field(j))));
    size_t c = place(4, 4);
    size_t u = place(mx, 8);
    oneof_slots[o] = {c, u};
    m->oneof_names.push_back(Intern(o->name()));
  }

  m->fields.resize(fs.size());
  m->info.resize(fs.size());
  for (size_t i = 0; i < fs.size(); i++) {
    const FieldDescriptor *f = fs[i];
    ProtobufCFieldDescriptor &pf = m->fields[i];
    weft_field_info &wi = m->info[i];
    std::memset(&pf, 0, sizeof pf);
    std::memset(&wi, 0, sizeof wi);
    ProtobufCType t = MapType(f);
    pf.name = Intern(f->name());
    pf.id = static_cast<uint32_t>(f->number());
    pf.type = t;
    wi.json_name = Intern(f->json_name());
    wi.oneof_index = -1;
    if (f->type() == FieldDescriptor::TYPE_GROUP)
      wi.flags |= WEFT_FIELD_GROUP;
    if (f->is_map())
      wi.flags |= WEFT_FIELD_MAP;
    if (p3 && t == PROTOBUF_C_TYPE_STRING)
      wi.flags |= WEFT_FIELD_CHECK_UTF8;
    if (f->has_default_value())
      wi.flags |= WEFT_FIELD_HAS_DEFAULT;
    if (t == PROTOBUF_C_TYPE_MESSAGE)
      pf.descriptor = &DynDesc(f->message_type())->base;
    else if (t == PROTOBUF_C_TYPE_ENUM)
      pf.descriptor = EnumDesc(f->enum_type());
    size_t es = ElemSize(t);
    if (auto *o = f->real_containing_oneof()) {
      // as protoc-c and protoc-gen-weft: NONE in proto3, OPTIONAL in proto2
      pf.label = p3 ? PROTOBUF_C_LABEL_NONE : PROTOBUF_C_LABEL_OPTIONAL;
      pf.flags |= PROTOBUF_C_FIELD_FLAG_ONEOF;
      pf.quantifier_offset = static_cast<unsigned>(oneof_slots[o].first);
      pf.offset = static_cast<unsigned>(oneof_slots[o].second);
      wi.oneof_index = o->index();
    } else if (f->is_repeated()) {
      pf.label = PROTOBUF_C_LABEL_REPEATED;
      pf.quantifier_offset = static_cast<unsigned>(place(sizeof(size_t), 8));
      pf.offset = static_cast<unsigned>(place(sizeof(void *), 8));
      if (f->is_packed())
        pf.flags |= PROTOBUF_C_FIELD_FLAG_PACKED;
    } else if (f->is_required()) {
      pf.label = PROTOBUF_C_LABEL_REQUIRED;
      pf.offset = static_cast<unsigned>(place(es, es >= 8 ? 8 : 4));
    } else if (f->has_presence() && !(p3 && t == PROTOBUF_C_TYPE_MESSAGE)) {
      pf.label = PROTOBUF_C_LABEL_OPTIONAL;
      if (f->containing_oneof())
        wi.flags |= WEFT_FIELD_PROTO3_OPTIONAL;
      if (t != PROTOBUF_C_TYPE_STRING && t != PROTOBUF_C_TYPE_MESSAGE)
        pf.quantifier_offset =
            static_cast<unsigned>(place(sizeof(protobuf_c_boolean), 4));
      pf.offset = static_cast<unsigned>(place(es, es >= 8 ? 8 : 4));
    } else {
      pf.label = PROTOBUF_C_LABEL_NONE;
      pf.offset = static_cast<unsigned>(place(es, es >= 8 ? 8 : 4));
    }
    pf.default_value = DefaultValue(f, t);
    if (p3 && t == PROTOBUF_C_TYPE_STRING &&
        pf.label == PROTOBUF_C_LABEL_NONE &&
        !(pf.flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
      pf.default_value = protobuf_c_empty_string;
  }

  ProtobufCMessageDescriptor &b = m->wd.base;
  b.magic = PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC;
  b.name = Intern(d->full_name());
  b.short_name = Intern(d->name());
  b.c_name = b.short_name;
  b.package_name = Intern(d->file()->package());
  b.sizeof_message = (off + 7) & ~static_cast<size_t>(7);
  b.n_fields = static_cast<unsigned>(m->fields.size());
  b.fields = m->fields.data();
  m->wd.field_info = m->info.data();
  m->wd.n_oneofs = static_cast<unsigned>(m->oneof_names.size());
  m->wd.oneof_names = m->oneof_names.data();
  m->wd.syntax = p3 ? 3 : 2;
  m->wd.is_map_entry = d->options().map_entry();
  m->wd.cache = &m->cache;
  return &m->wd;
}

} // namespace weft_test

namespace weft_test {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

template <class T> T &At(void *msg, unsigned off) {
  return *reinterpret_cast<T *>(static_cast<char *>(msg) + off);
}
template <class T> const T &At(const void *msg, unsigned off) {
  return *reinterpret_cast<const T *>(static_cast<const char *>(msg) + off);
}

char *Dup(const std::string &s) {
  char *p = static_cast<char *>(malloc(s.size() + 1));
  std::memcpy(p, s.data(), s.size());
  p[s.size()] = '\0';
  return p;
}

void FillWeft(const Message &m, const weft_msg_desc *d, void *msg);

// Writes element j (or the singular value when j < 0) of field cf into slot.
void SetSlot(const Message &m, const FieldDescriptor *cf,
             const ProtobufCFieldDescriptor &f, int j, void *slot) {
  const Reflection *r = m.GetReflection();
  bool rep = j >= 0;
  switch (f.type) {
  case PROTOBUF_C_TYPE_INT32:
  case PROTOBUF_C_TYPE_SINT32:
  case PROTOBUF_C_TYPE_SFIXED32: {
    int32_t v = rep ? r->GetRepeatedInt32(m, cf, j) : r->GetInt32(m, cf);
    std::memcpy(slot, &v, 4);
    break;
  }
  case PROTOBUF_C_TYPE_UINT32:
  case PROTOBUF_C_TYPE_FIXED32: {
    uint32_t v = rep ? r->GetRepeatedUInt32(m, cf, j) : r->GetUInt32(m, cf);
    std::memcpy(slot, &v, 4);
    break;
  }
  case PROTOBUF_C_TYPE_INT64:
  case PROTOBUF_C_TYPE_SINT64:
  case PROTOBUF_C_TYPE_SFIXED64: {
    int64_t v = rep ? r->GetRepeatedInt64(m, cf, j) : r->GetInt64(m, cf);
    std::memcpy(slot, &v, 8);
    break;
  }
  case PROTOBUF_C_TYPE_UINT64:
  case PROTOBUF_C_TYPE_FIXED64: {
    uint64_t v = rep ? r->GetRepeatedUInt64(m, cf, j) : r->GetUInt64(m, cf);
    std::memcpy(slot, &v, 8);
    break;
  }
  case PROTOBUF_C_TYPE_FLOAT: {
    float v = rep ? r->GetRepeatedFloat(m, cf, j) : r->GetFloat(m, cf);
    std::memcpy(slot, &v, 4);
    break;
  }
  case PROTOBUF_C_TYPE_DOUBLE: {
    double v = rep ? r->GetRepeatedDouble(m, cf, j) : r->GetDouble(m, cf);
    std::memcpy(slot, &v, 8);
    break;
  }
  case PROTOBUF_C_TYPE_BOOL: {
    protobuf_c_boolean v =
        rep ? r->GetRepeatedBool(m, cf, j) : r->GetBool(m, cf);
    std::memcpy(slot, &v, sizeof v);
    break;
  }
  case PROTOBUF_C_TYPE_ENUM: {
    int32_t v =
        rep ? r->GetRepeatedEnumValue(m, cf, j) : r->GetEnumValue(m, cf);
    std::memcpy(slot, &v, 4);
    break;
  }
  case PROTOBUF_C_TYPE_STRING: {
    std::string s = rep ? r->GetRepeatedString(m, cf, j) : r->GetString(m, cf);
    *static_cast<char **>(slot) = Dup(s);
    break;
  }
  case PROTOBUF_C_TYPE_BYTES: {
    std::string s = rep ? r->GetRepeatedString(m, cf, j) : r->GetString(m, cf);
    auto *b = static_cast<ProtobufCBinaryData *>(slot);
    b->len = s.size();
    b->data = s.empty() ? nullptr : reinterpret_cast<uint8_t *>(Dup(s));
    break;
  }
  case PROTOBUF_C_TYPE_MESSAGE: {
    const Message &sub =
        rep ? r->GetRepeatedMessage(m, cf, j) : r->GetMessage(m, cf);
    *static_cast<void **>(slot) = ToWeft(
        sub, weft_msg_desc_of(static_cast<const ProtobufCMessageDescriptor *>(
                 f.descriptor)));
    break;
  }
  }
}

// C++ deterministic order of map entries: by key.
bool KeyLess(const Message &a, const Message &b) {
  const FieldDescriptor *k = a.GetDescriptor()->field(0);
  const Reflection *r = a.GetReflection();
  switch (k->cpp_type()) {
  case FieldDescriptor::CPPTYPE_INT32:
    return r->GetInt32(a, k) < r->GetInt32(b, k);
  case FieldDescriptor::CPPTYPE_INT64:
    return r->GetInt64(a, k) < r->GetInt64(b, k);
  case FieldDescriptor::CPPTYPE_UINT32:
    return r->GetUInt32(a, k) < r->GetUInt32(b, k);
  case FieldDescriptor::CPPTYPE_UINT64:
    return r->GetUInt64(a, k) < r->GetUInt64(b, k);
  case FieldDescriptor::CPPTYPE_BOOL:
    return r->GetBool(a, k) < r->GetBool(b, k);
  case FieldDescriptor::CPPTYPE_STRING:
    return r->GetString(a, k) < r->GetString(b, k);
  default:
    return false;
  }
}

void FillWeft(const Message &m, const weft_msg_desc *d, void *msg) {
  const Reflection *r = m.GetReflection();
  const Descriptor *cd = m.GetDescriptor();
  for (unsigned i = 0; i < d->base.n_fields; i++) {
    const ProtobufCFieldDescriptor &f = d->base.fields[i];
    const FieldDescriptor *cf = cd->FindFieldByNumber(static_cast<int>(f.id));
    if (!cf)
      continue;
    size_t es = f.type == PROTOBUF_C_TYPE_BYTES  ? sizeof(ProtobufCBinaryData)
                : f.type == PROTOBUF_C_TYPE_BOOL ? sizeof(protobuf_c_boolean)
                : (f.type == PROTOBUF_C_TYPE_STRING ||
                   f.type == PROTOBUF_C_TYPE_MESSAGE)
                    ? sizeof(void *)
                : (f.type == PROTOBUF_C_TYPE_INT64 ||
                   f.type == PROTOBUF_C_TYPE_UINT64 ||
                   f.type == PROTOBUF_C_TYPE_SINT64 ||
                   f.type == PROTOBUF_C_TYPE_FIXED64 ||
                   f.type == PROTOBUF_C_TYPE_SFIXED64 ||
                   f.type == PROTOBUF_C_TYPE_DOUBLE)
                    ? 8
                    : 4;
    if (f.label == PROTOBUF_C_LABEL_REPEATED) {
      int n = r->FieldSize(m, cf);
      if (n == 0)
        continue;
      char *arr = static_cast<char *>(calloc(static_cast<size_t>(n), es));
      std::vector<int> order(static_cast<size_t>(n));
      for (int j = 0; j < n; j++)
        order[static_cast<size_t>(j)] = j;
      if (cf->is_map()) {
        std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
          return KeyLess(r->GetRepeatedMessage(m, cf, a),
                         r->GetRepeatedMessage(m, cf, b));
        });
        // duplicate keys: the last one wins, as in a C++ map
        std::vector<int> uniq;
        for (size_t j = 0; j < order.size(); j++) {
          if (j + 1 < order.size() &&
              !KeyLess(r->GetRepeatedMessage(m, cf, order[j]),
                       r->GetRepeatedMessage(m, cf, order[j + 1])))
            continue;
          uniq.push_back(order[j]);
        }
        order = uniq;
        n = static_cast<int>(order.size());
      }
      for (int j = 0; j < n; j++)
        SetSlot(m, cf, f, order[static_cast<size_t>(j)],
                arr + static_cast<size_t>(j) * es);
      At<size_t>(msg, f.quantifier_offset) = static_cast<size_t>(n);
      At<char *>(msg, f.offset) = arr;
      continue;
    }
    if (cf->has_presence() && !r->HasField(m, cf))
      continue;
    if (f.flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
      At<uint32_t>(msg, f.quantifier_offset) = f.id;
    else if (f.label == PROTOBUF_C_LABEL_OPTIONAL &&
             f.type != PROTOBUF_C_TYPE_STRING &&
             f.type != PROTOBUF_C_TYPE_MESSAGE)
      At<protobuf_c_boolean>(msg, f.quantifier_offset) = 1;
    if (f.type == PROTOBUF_C_TYPE_STRING &&
        !(f.flags & PROTOBUF_C_FIELD_FLAG_ONEOF)) {
      // the init value is static (empty string or default): just replace it
    }
    SetSlot(m, cf, f, -1, static_cast<char *>(msg) + f.offset);
  }
}

void SetCpp(Message *out, const FieldDescriptor *cf,
            const ProtobufCFieldDescriptor &f, const void *slot) {
  const Reflection *r = out->GetReflection();
  bool rep = cf->is_repeated();
  switch (f.type) {
  case PROTOBUF_C_TYPE_INT32:
  case PROTOBUF_C_TYPE_SINT32:
  case PROTOBUF_C_TYPE_SFIXED32: {
    int32_t v;
    std::memcpy(&v, slot, 4);
    rep ? r->AddInt32(out, cf, v) : r->SetInt32(out, cf, v);
    break;
  }
  case PROTOBUF_C_TYPE_UINT32:
  case PROTOBUF_C_TYPE_FIXED32: {
    uint32_t v;
    std::memcpy(&v, slot, 4);
    rep ? r->AddUInt32(out, cf, v) : r->SetUInt32(out, cf, v);
    break;
  }
  case PROTOBUF_C_TYPE_INT64:
  case PROTOBUF_C_TYPE_SINT64:
  case PROTOBUF_C_TYPE_SFIXED64: {
    int64_t v;
    std::memcpy(&v, slot, 8);
    rep ? r->AddInt64(out, cf, v) : r->SetInt64(out, cf, v);
    break;
  }
  case PROTOBUF_C_TYPE_UINT64:
  case PROTOBUF_C_TYPE_FIXED64: {
    uint64_t v;
    std::memcpy(&v, slot, 8);
    rep ? r->AddUInt64(out, cf, v) : r->SetUInt64(out, cf, v);
    break;
  }
  case PROTOBUF_C_TYPE_FLOAT: {
    float v;
    std::memcpy(&v, slot, 4);
    rep ? r->AddFloat(out, cf, v) : r->SetFloat(out, cf, v);
    break;
  }
  case PROTOBUF_C_TYPE_DOUBLE: {
    double v;
    std::memcpy(&v, slot, 8);
    rep ? r->AddDouble(out, cf, v) : r->SetDouble(out, cf, v);
    break;
  }
  case PROTOBUF_C_TYPE_BOOL: {
    protobuf_c_boolean v;
    std::memcpy(&v, slot, sizeof v);
    rep ? r->AddBool(out, cf, v != 0) : r->SetBool(out, cf, v != 0);
    break;
  }
  case PROTOBUF_C_TYPE_ENUM: {
    int32_t v;
    std::memcpy(&v, slot, 4);
    rep ? r->AddEnumValue(out, cf, v) : r->SetEnumValue(out, cf, v);
    break;
  }
  case PROTOBUF_C_TYPE_STRING: {
    const char *s = *static_cast<const char *const *>(slot);
    std::string v = s ? s : "";
    rep ? r->AddString(out, cf, v) : r->SetString(out, cf, v);
    break;
  }
  case PROTOBUF_C_TYPE_BYTES: {
    auto *b = static_cast<const ProtobufCBinaryData *>(slot);
    std::string v(reinterpret_cast<const char *>(b->data), b->len);
    rep ? r->AddString(out, cf, v) : r->SetString(out, cf, v);
    break;
  }
  case PROTOBUF_C_TYPE_MESSAGE: {
    const void *sub = *static_cast<const void *const *>(slot);
    Message *dst = rep ? r->AddMessage(out, cf) : r->MutableMessage(out, cf);
    if (sub)
      FromWeft(sub, dst);
    break;
  }
  }
}

} // namespace

void *ToWeft(const Message &m, const weft_msg_desc *d) {
  void *msg = weft_message_new(d, nullptr);
  FillWeft(m, d, msg);
  return msg;
}

void FromWeft(const void *msg, Message *out) {
  const weft_msg_desc *d = weft_msg_desc_of_msg(msg);
  const Descriptor *cd = out->GetDescriptor();
  for (unsigned i = 0; i < d->base.n_fields; i++) {
    const ProtobufCFieldDescriptor &f = d->base.fields[i];
    const FieldDescriptor *cf = cd->FindFieldByNumber(static_cast<int>(f.id));
    if (!cf)
      continue;
    const char *slot = static_cast<const char *>(msg) + f.offset;
    if (f.label == PROTOBUF_C_LABEL_REPEATED) {
      size_t n = At<size_t>(msg, f.quantifier_offset);
      size_t es = f.type == PROTOBUF_C_TYPE_BYTES ? sizeof(ProtobufCBinaryData)
                  : (f.type == PROTOBUF_C_TYPE_STRING ||
                     f.type == PROTOBUF_C_TYPE_MESSAGE)
                      ? sizeof(void *)
                  : (f.type == PROTOBUF_C_TYPE_INT64 ||
                     f.type == PROTOBUF_C_TYPE_UINT64 ||
                     f.type == PROTOBUF_C_TYPE_SINT64 ||
                     f.type == PROTOBUF_C_TYPE_FIXED64 ||
                     f.type == PROTOBUF_C_TYPE_SFIXED64 ||
                     f.type == PROTOBUF_C_TYPE_DOUBLE)
                      ? 8
                      : 4;
      const char *arr = At<const char *>(msg, f.offset);
      for (size_t j = 0; j < n; j++)
        SetCpp(out, cf, f, arr + j * es);
      continue;
    }
    if (f.flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
      if (At<uint32_t>(msg, f.quantifier_offset) != f.id)
        continue;
    } else if (f.type == PROTOBUF_C_TYPE_STRING ||
               f.type == PROTOBUF_C_TYPE_MESSAGE) {
      const void *p = At<const void *>(msg, f.offset);
      if (!p)
        continue;
      if (f.label == PROTOBUF_C_LABEL_OPTIONAL && p == f.default_value)
        continue;
    } else if (f.label == PROTOBUF_C_LABEL_OPTIONAL) {
      if (!At<protobuf_c_boolean>(msg, f.quantifier_offset))
        continue;
    }
    SetCpp(out, cf, f, slot);
  }
  const ProtobufCMessage *b = static_cast<const ProtobufCMessage *>(msg);
  if (b->n_unknown_fields) {
    std::string raw;
    for (unsigned i = 0; i < b->n_unknown_fields; i++) {
      const ProtobufCMessageUnknownField &u = b->unknown_fields[i];
      uint64_t tag = (static_cast<uint64_t>(u.tag) << 3) |
                     static_cast<unsigned>(u.wire_type);
      while (tag >= 0x80) {
        raw.push_back(static_cast<char>(tag | 0x80));
        tag >>= 7;
      }
      raw.push_back(static_cast<char>(tag));
      raw.append(reinterpret_cast<const char *>(u.data), u.len);
    }
    out->GetReflection()->MutableUnknownFields(out)->ParseFromArray(
        raw.data(), static_cast<int>(raw.size()));
  }
}

std::string SerializeDet(const Message &m) {
  std::string s;
  {
    google::protobuf::io::StringOutputStream sos(&s);
    google::protobuf::io::CodedOutputStream cos(&sos);
    cos.SetSerializationDeterministic(true);
    m.SerializeToCodedStream(&cos);
  }
  return s;
}

} // namespace weft_test
