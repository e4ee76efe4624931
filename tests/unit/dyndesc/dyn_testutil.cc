#include "dyn_testutil.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "google/protobuf/descriptor.pb-c.h"
#include "weft/json.h"

namespace dyntest {

static void Visit(const weft_file_desc *f, std::set<std::string> *seen,
                  std::vector<const weft_file_desc *> *out) {
  if (!seen->insert(f->name).second)
    return;
  for (unsigned i = 0; i < f->n_deps; i++)
    Visit(f->deps[i], seen, out);
  out->push_back(f);
}

std::vector<const weft_file_desc *>
Closure(const std::vector<const weft_file_desc *> &roots) {
  std::set<std::string> seen;
  std::vector<const weft_file_desc *> out;
  for (auto *r : roots)
    Visit(r, &seen, &out);
  return out;
}

std::string SetBytes(const std::vector<const weft_file_desc *> &files) {
  std::vector<Google__Protobuf__FileDescriptorProto *> protos;
  for (auto *f : files)
    protos.push_back(google__protobuf__file_descriptor_proto__unpack(
        nullptr, f->serialized_len, f->serialized));
  Google__Protobuf__FileDescriptorSet set;
  google__protobuf__file_descriptor_set__init(&set);
  set.n_file = protos.size();
  set.file = protos.data();
  std::string out(google__protobuf__file_descriptor_set__get_packed_size(&set),
                  '\0');
  google__protobuf__file_descriptor_set__pack(
      &set, reinterpret_cast<uint8_t *>(&out[0]));
  for (auto *p : protos)
    google__protobuf__file_descriptor_proto__free_unpacked(p, nullptr);
  return out;
}

std::string ReadFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

namespace {

std::string S(const char *s) {
  return s ? s : "(null)";
}

template <class T>
void Eq(std::vector<std::string> *d, const std::string &what, const T &a,
        const T &b) {
  if (!(a == b)) {
    std::ostringstream o;
    o << what << ": generated " << a << ", dynamic " << b;
    d->push_back(o.str());
  }
}

size_t ElemSize(ProtobufCType t) {
  switch (t) {
  case PROTOBUF_C_TYPE_INT64:
  case PROTOBUF_C_TYPE_SINT64:
  case PROTOBUF_C_TYPE_SFIXED64:
  case PROTOBUF_C_TYPE_UINT64:
  case PROTOBUF_C_TYPE_FIXED64:
  case PROTOBUF_C_TYPE_DOUBLE:
    return 8;
  case PROTOBUF_C_TYPE_STRING:
  case PROTOBUF_C_TYPE_MESSAGE:
    return sizeof(void *);
  case PROTOBUF_C_TYPE_BYTES:
    return sizeof(ProtobufCBinaryData);
  case PROTOBUF_C_TYPE_BOOL:
    return sizeof(protobuf_c_boolean);
  default:
    return 4;
  }
}

const char *TypeName(const ProtobufCFieldDescriptor *f) {
  if (f->type == PROTOBUF_C_TYPE_MESSAGE)
    return static_cast<const ProtobufCMessageDescriptor *>(f->descriptor)->name;
  if (f->type == PROTOBUF_C_TYPE_ENUM)
    return static_cast<const ProtobufCEnumDescriptor *>(f->descriptor)->name;
  return "";
}

void CompareDefault(const std::string &w, const ProtobufCFieldDescriptor *g,
                    const ProtobufCFieldDescriptor *d,
                    std::vector<std::string> *diffs) {
  if (!g->default_value || !d->default_value) {
    if (g->default_value != d->default_value)
      diffs->push_back(w + ": default_value present in only one");
    return;
  }
  if (g->type == PROTOBUF_C_TYPE_STRING) {
    const char *a = static_cast<const char *>(g->default_value);
    const char *b = static_cast<const char *>(d->default_value);
    if ((a == protobuf_c_empty_string) != (b == protobuf_c_empty_string) ||
        strcmp(a, b) != 0)
      diffs->push_back(w + ": string default differs");
  } else if (g->type == PROTOBUF_C_TYPE_BYTES) {
    auto *a = static_cast<const ProtobufCBinaryData *>(g->default_value);
    auto *b = static_cast<const ProtobufCBinaryData *>(d->default_value);
    if (a->len != b->len || memcmp(a->data, b->data, a->len) != 0)
      diffs->push_back(w + ": bytes default differs");
  } else if (memcmp(g->default_value, d->default_value, ElemSize(g->type))) {
    diffs->push_back(w + ": scalar default differs");
  }
}

} // namespace

void CompareMsg(const weft_msg_desc *g, const weft_msg_desc *d,
                std::vector<std::string> *diffs) {
  std::string m = S(g->base.name);
  const ProtobufCMessageDescriptor &a = g->base, &b = d->base;
  Eq(diffs, m + " magic", a.magic, b.magic);
  Eq(diffs, m + " name", S(a.name), S(b.name));
  Eq(diffs, m + " short_name", S(a.short_name), S(b.short_name));
  Eq(diffs, m + " c_name", S(a.c_name), S(b.c_name));
  Eq(diffs, m + " package_name", S(a.package_name), S(b.package_name));
  Eq(diffs, m + " sizeof_message", a.sizeof_message, b.sizeof_message);
  Eq(diffs, m + " n_fields", a.n_fields, b.n_fields);
  Eq(diffs, m + " n_field_ranges", a.n_field_ranges, b.n_field_ranges);
  Eq(diffs, m + " n_oneofs", g->n_oneofs, d->n_oneofs);
  Eq(diffs, m + " syntax", int(g->syntax), int(d->syntax));
  Eq(diffs, m + " wkt", int(g->wkt), int(d->wkt));
  Eq(diffs, m + " is_map_entry", int(g->is_map_entry), int(d->is_map_entry));
  Eq(diffs, m + " file", S(g->file ? g->file->name : nullptr),
     S(d->file ? d->file->name : nullptr));
  if (!diffs->empty())
    return;
  for (unsigned i = 0; i <= a.n_field_ranges; i++) {
    Eq(diffs, m + " range start", a.field_ranges[i].start_value,
       b.field_ranges[i].start_value);
    Eq(diffs, m + " range index", a.field_ranges[i].orig_index,
       b.field_ranges[i].orig_index);
  }
  for (unsigned i = 0; i < g->n_oneofs; i++)
    Eq(diffs, m + " oneof name", S(g->oneof_names[i]), S(d->oneof_names[i]));
  for (unsigned i = 0; i < a.n_fields; i++) {
    const ProtobufCFieldDescriptor *x = &a.fields[i], *y = &b.fields[i];
    std::string w = m + "." + S(x->name);
    Eq(diffs, w + " name", S(x->name), S(y->name));
    Eq(diffs, w + " id", x->id, y->id);
    Eq(diffs, w + " label", int(x->label), int(y->label));
    Eq(diffs, w + " type", int(x->type), int(y->type));
    Eq(diffs, w + " quantifier_offset", x->quantifier_offset,
       y->quantifier_offset);
    Eq(diffs, w + " offset", x->offset, y->offset);
    Eq(diffs, w + " flags", x->flags, y->flags);
    Eq(diffs, w + " type name", S(TypeName(x)), S(TypeName(y)));
    CompareDefault(w, x, y, diffs);
    Eq(diffs, w + " json_name", S(g->field_info[i].json_name),
       S(d->field_info[i].json_name));
    Eq(diffs, w + " oneof_index", g->field_info[i].oneof_index,
       d->field_info[i].oneof_index);
    Eq(diffs, w + " info flags", g->field_info[i].flags,
       d->field_info[i].flags);
    Eq(diffs, w + " by name", a.fields_sorted_by_name[i],
       b.fields_sorted_by_name[i]);
    // Compiled-in well-known types are shared, not rebuilt.
    if (x->type == PROTOBUF_C_TYPE_MESSAGE &&
        weft_msg_desc_of(
            static_cast<const ProtobufCMessageDescriptor *>(x->descriptor))
                ->wkt != WEFT_WKT_NONE)
      Eq(diffs, w + " WKT descriptor is the compiled-in one", x->descriptor,
         y->descriptor);
  }
}

void CompareEnum(const weft_enum_desc *g, const weft_enum_desc *d,
                 std::vector<std::string> *diffs) {
  const ProtobufCEnumDescriptor &a = g->base, &b = d->base;
  std::string e = S(a.name);
  Eq(diffs, e + " name", S(a.name), S(b.name));
  Eq(diffs, e + " short_name", S(a.short_name), S(b.short_name));
  Eq(diffs, e + " c_name", S(a.c_name), S(b.c_name));
  Eq(diffs, e + " package", S(a.package_name), S(b.package_name));
  Eq(diffs, e + " n_values", a.n_values, b.n_values);
  Eq(diffs, e + " n_value_names", a.n_value_names, b.n_value_names);
  Eq(diffs, e + " n_value_ranges", a.n_value_ranges, b.n_value_ranges);
  Eq(diffs, e + " closed", int(g->closed), int(d->closed));
  Eq(diffs, e + " file", S(g->file->name), S(d->file->name));
  if (!diffs->empty())
    return;
  for (unsigned i = 0; i < a.n_values; i++) {
    Eq(diffs, e + " value name", S(a.values[i].name), S(b.values[i].name));
    Eq(diffs, e + " value c_name", S(a.values[i].c_name),
       S(b.values[i].c_name));
    Eq(diffs, e + " value", a.values[i].value, b.values[i].value);
  }
  for (unsigned i = 0; i < a.n_value_names; i++) {
    Eq(diffs, e + " by name", S(a.values_by_name[i].name),
       S(b.values_by_name[i].name));
    Eq(diffs, e + " by name index", a.values_by_name[i].index,
       b.values_by_name[i].index);
  }
  for (unsigned i = 0; i <= a.n_value_ranges; i++) {
    Eq(diffs, e + " range", a.value_ranges[i].start_value,
       b.value_ranges[i].start_value);
    Eq(diffs, e + " range index", a.value_ranges[i].orig_index,
       b.value_ranges[i].orig_index);
  }
}

void CompareService(const weft_service_desc *g, const weft_service_desc *d,
                    std::vector<std::string> *diffs) {
  std::string s = S(g->name);
  Eq(diffs, s + " name", S(g->name), S(d->name));
  Eq(diffs, s + " short_name", S(g->short_name), S(d->short_name));
  Eq(diffs, s + " n_methods", g->n_methods, d->n_methods);
  Eq(diffs, s + " file", S(g->file->name), S(d->file->name));
  if (!diffs->empty())
    return;
  for (unsigned i = 0; i < g->n_methods; i++) {
    const weft_method_desc *x = &g->methods[i], *y = &d->methods[i];
    std::string w = s + "/" + S(x->name);
    Eq(diffs, w + " name", S(x->name), S(y->name));
    Eq(diffs, w + " path", S(x->path), S(y->path));
    Eq(diffs, w + " input", S(x->input->base.name), S(y->input->base.name));
    Eq(diffs, w + " output", S(x->output->base.name), S(y->output->base.name));
    Eq(diffs, w + " kind", int(x->kind), int(y->kind));
    Eq(diffs, w + " idempotent", int(x->idempotent), int(y->idempotent));
    Eq(diffs, w + " index", x->index, y->index);
    Eq(diffs, w + " n_http_rules", x->n_http_rules, y->n_http_rules);
    Eq(diffs, w + " http_rules null", x->http_rules == nullptr,
       y->http_rules == nullptr);
    for (unsigned k = 0; k < x->n_http_rules && k < y->n_http_rules &&
                         x->http_rules && y->http_rules;
         k++) {
      const weft_http_rule *a = &x->http_rules[k], *b = &y->http_rules[k];
      std::string r = w + " http_rules[" + std::to_string(k) + "]";
      Eq(diffs, r + " verb", S(a->verb), S(b->verb));
      Eq(diffs, r + " path", S(a->path), S(b->path));
      Eq(diffs, r + " body null", a->body == nullptr, b->body == nullptr);
      Eq(diffs, r + " body", S(a->body), S(b->body));
      Eq(diffs, r + " response_body null", a->response_body == nullptr,
         b->response_body == nullptr);
      Eq(diffs, r + " response_body", S(a->response_body), S(b->response_body));
    }
    Eq(diffs, w + " service", static_cast<const void *>(y->service),
       static_cast<const void *>(d));
  }
}

// ---- random messages ----

namespace {

char *RandomString(std::mt19937_64 &rng) {
  static const char *const pieces[] = {"a",
                                       "b",
                                       "Z",
                                       "0",
                                       " ",
                                       "_",
                                       "\"",
                                       "\\",
                                       "\xc3\xa9",
                                       "\xe6\x97\xa5",
                                       "\xf0\x9f\x98\x80",
                                       "\n",
                                       "x"};
  std::string s;
  int n = static_cast<int>(rng() % 8);
  for (int i = 0; i < n; i++)
    s += pieces[rng() % (sizeof pieces / sizeof pieces[0])];
  char *p = static_cast<char *>(malloc(s.size() + 1));
  memcpy(p, s.c_str(), s.size() + 1);
  return p;
}

char *RandomPath(std::mt19937_64 &rng) {
  std::string s;
  int segs = 1 + static_cast<int>(rng() % 2);
  for (int k = 0; k < segs; k++) {
    if (k)
      s += '.';
    int n = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < n; i++)
      s += static_cast<char>('a' + rng() % 26);
    if (rng() % 3 == 0)
      s += "_q";
  }
  char *p = static_cast<char *>(malloc(s.size() + 1));
  memcpy(p, s.c_str(), s.size() + 1);
  return p;
}

template <class T> T Pick(std::mt19937_64 &rng, std::initializer_list<T> v) {
  return *(v.begin() + rng() % v.size());
}

double RandomDouble(std::mt19937_64 &rng, bool finite) {
  switch (rng() % (finite ? 4 : 6)) {
  case 0:
    return 0.0;
  case 1:
    return static_cast<double>(static_cast<int64_t>(rng() % 2000000) -
                               1000000) /
           8.0;
  case 2:
    return Pick(rng, {1e300, -2.5e-300, 3.14159, -0.0});
  case 3:
    return static_cast<double>(rng() % 1000);
  case 4:
    return std::numeric_limits<double>::infinity();
  default:
    return std::nan("");
  }
}

void SetValue(const weft_msg_desc *owner, const ProtobufCFieldDescriptor *f,
              void *slot, std::mt19937_64 &rng, int depth) {
  bool finite = owner->wkt == WEFT_WKT_VALUE;
  switch (f->type) {
  case PROTOBUF_C_TYPE_INT32:
  case PROTOBUF_C_TYPE_SINT32:
  case PROTOBUF_C_TYPE_SFIXED32: {
    int32_t v = Pick<int32_t>(rng, {0, 1, -1, 150, -150, INT32_MAX, INT32_MIN,
                                    static_cast<int32_t>(rng())});
    if (owner->wkt == WEFT_WKT_DURATION || owner->wkt == WEFT_WKT_TIMESTAMP)
      v = static_cast<int32_t>(rng() % 1000000000);
    memcpy(slot, &v, 4);
    break;
  }
  case PROTOBUF_C_TYPE_UINT32:
  case PROTOBUF_C_TYPE_FIXED32: {
    uint32_t v = Pick<uint32_t>(
        rng, {0u, 1u, 300u, UINT32_MAX, static_cast<uint32_t>(rng())});
    memcpy(slot, &v, 4);
    break;
  }
  case PROTOBUF_C_TYPE_INT64:
  case PROTOBUF_C_TYPE_SINT64:
  case PROTOBUF_C_TYPE_SFIXED64: {
    int64_t v = Pick<int64_t>(
        rng, {0, 1, -1, INT64_MAX, INT64_MIN, static_cast<int64_t>(rng())});
    if (owner->wkt == WEFT_WKT_DURATION || owner->wkt == WEFT_WKT_TIMESTAMP)
      v = static_cast<int64_t>(rng() % 4000000000ull); // in range, positive
    memcpy(slot, &v, 8);
    break;
  }
  case PROTOBUF_C_TYPE_UINT64:
  case PROTOBUF_C_TYPE_FIXED64: {
    uint64_t v = Pick<uint64_t>(rng, {0ull, 1ull, UINT64_MAX, rng()});
    memcpy(slot, &v, 8);
    break;
  }
  case PROTOBUF_C_TYPE_FLOAT: {
    float v = static_cast<float>(RandomDouble(rng, finite));
    memcpy(slot, &v, 4);
    break;
  }
  case PROTOBUF_C_TYPE_DOUBLE: {
    double v = RandomDouble(rng, finite);
    memcpy(slot, &v, 8);
    break;
  }
  case PROTOBUF_C_TYPE_BOOL: {
    protobuf_c_boolean v = rng() & 1;
    memcpy(slot, &v, sizeof v);
    break;
  }
  case PROTOBUF_C_TYPE_ENUM: {
    auto *ed = static_cast<const ProtobufCEnumDescriptor *>(f->descriptor);
    int v = ed->values[rng() % ed->n_values].value;
    if (!weft_enum_desc_of(ed)->closed && rng() % 8 == 0)
      v = 12345; // an open enum keeps unknown numbers
    memcpy(slot, &v, 4);
    break;
  }
  case PROTOBUF_C_TYPE_STRING:
    *static_cast<char **>(slot) =
        owner->wkt == WEFT_WKT_FIELD_MASK ? RandomPath(rng) : RandomString(rng);
    break;
  case PROTOBUF_C_TYPE_BYTES: {
    auto *b = static_cast<ProtobufCBinaryData *>(slot);
    b->len = rng() % 6;
    b->data = b->len ? static_cast<uint8_t *>(malloc(b->len)) : nullptr;
    for (size_t i = 0; i < b->len; i++)
      b->data[i] = static_cast<uint8_t>(rng());
    break;
  }
  case PROTOBUF_C_TYPE_MESSAGE:
    *static_cast<void **>(slot) = RandomMessage(
        weft_msg_desc_of(
            static_cast<const ProtobufCMessageDescriptor *>(f->descriptor)),
        rng, depth - 1);
    break;
  default:
    break;
  }
}

template <class T> T &At(void *m, unsigned off) {
  return *reinterpret_cast<T *>(static_cast<char *>(m) + off);
}

} // namespace

void *RandomMessage(const weft_msg_desc *d, std::mt19937_64 &rng, int depth) {
  void *m = weft_message_new(d, nullptr);
  if (d->wkt == WEFT_WKT_ANY)
    return m; // Any needs a registered type: left empty
  bool all = d->is_map_entry;
  // Oneofs: at most one member each (Value: exactly one).
  std::map<unsigned, std::vector<unsigned>> oneofs;
  for (unsigned i = 0; i < d->base.n_fields; i++)
    if (d->base.fields[i].flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
      oneofs[d->base.fields[i].quantifier_offset].push_back(i);
  for (auto &kv : oneofs) {
    std::vector<unsigned> ok;
    for (unsigned i : kv.second)
      if (depth > 0 || d->base.fields[i].type != PROTOBUF_C_TYPE_MESSAGE)
        ok.push_back(i);
    bool must = d->wkt == WEFT_WKT_VALUE;
    if (ok.empty() || (!must && (depth < 0 || rng() % 3 == 0)))
      continue;
    const ProtobufCFieldDescriptor *f = &d->base.fields[ok[rng() % ok.size()]];
    At<uint32_t>(m, f->quantifier_offset) = f->id;
    SetValue(d, f, static_cast<char *>(m) + f->offset, rng, depth);
  }
  for (unsigned i = 0; i < d->base.n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->base.fields[i];
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
      continue;
    bool required = f->label == PROTOBUF_C_LABEL_REQUIRED;
    bool sub = f->type == PROTOBUF_C_TYPE_MESSAGE;
    if (!required && !all && (depth < 0 || rng() % 2 == 0))
      continue;
    if (!required && !all && sub && depth <= 0)
      continue;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
      size_t n = 1 + rng() % 3;
      size_t es = ElemSize(f->type);
      void *arr = calloc(n, es);
      for (size_t k = 0; k < n; k++)
        SetValue(d, f, static_cast<char *>(arr) + k * es, rng, depth);
      At<size_t>(m, f->quantifier_offset) = n;
      At<void *>(m, f->offset) = arr;
      continue;
    }
    if (f->label == PROTOBUF_C_LABEL_OPTIONAL &&
        f->type != PROTOBUF_C_TYPE_STRING && !sub)
      At<protobuf_c_boolean>(m, f->quantifier_offset) = 1;
    // The old value is a default (static) or NULL: nothing to free.
    SetValue(d, f, static_cast<char *>(m) + f->offset, rng, depth);
  }
  // Duration: nanos must have the sign of seconds (both >= 0 here).
  return m;
}

std::string Encode(const void *msg) {
  uint8_t *buf = nullptr;
  size_t len = 0;
  if (weft_encode_alloc(msg, &buf, &len) < 0)
    return "ENCODE ERROR";
  std::string s(reinterpret_cast<char *>(buf), len);
  free(buf);
  return s;
}

std::string Json(const void *msg, unsigned flags, const weft_registry *reg) {
  weft_json_opts o = {};
  o.flags = flags;
  o.registry = reg;
  char *out = nullptr;
  size_t n = 0;
  weft_error err = {};
  int rv = weft_json_encode(msg, &o, &out, &n, &err);
  if (rv < 0)
    return "ERROR: " + std::to_string(rv) + " " + err.message;
  std::string s(out, n);
  free(out);
  return s;
}

} // namespace dyntest
