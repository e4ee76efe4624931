#include "random_msg.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/unknown_field_set.h>

#include <cmath>
#include <limits>
#include <string>

namespace weft_test {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::FileDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using google::protobuf::UnknownFieldSet;
using Rng = std::mt19937_64;

bool Coin(Rng &r, int pct) {
  return static_cast<int>(r() % 100) < pct;
}

uint64_t RandBits(Rng &r) {
  static const uint64_t edges[] = {0,
                                   1,
                                   2,
                                   127,
                                   128,
                                   300,
                                   0x7fffffffull,
                                   0x80000000ull,
                                   0xffffffffull,
                                   0x7fffffffffffffffull,
                                   0x8000000000000000ull,
                                   ~0ull};
  if (Coin(r, 40))
    return edges[r() % (sizeof edges / sizeof edges[0])];
  return r() >> (r() % 64);
}

double RandDouble(Rng &r) {
  static const double edges[] = {0.0,
                                 -0.0,
                                 1.5,
                                 -2.25,
                                 1e300,
                                 -1e-300,
                                 std::numeric_limits<double>::infinity(),
                                 std::numeric_limits<double>::min()};
  if (Coin(r, 30))
    return edges[r() % (sizeof edges / sizeof edges[0])];
  return static_cast<double>(static_cast<int64_t>(r())) / 1024.0;
}

std::string RandUtf8(Rng &r) {
  std::string s;
  int n = static_cast<int>(r() % 12);
  for (int i = 0; i < n; i++) {
    switch (r() % 5) {
    case 0:
      s += "\xc3\xa9";
      break; // é
    case 1:
      s += "\xe2\x82\xac";
      break; // €
    case 2:
      s += "\xf0\x9f\x98\x80";
      break; // emoji
    default:
      s.push_back(static_cast<char>('a' + r() % 26));
    }
  }
  return s;
}

std::string RandBytes(Rng &r) {
  std::string s(r() % 16, '\0');
  for (auto &c : s)
    c = static_cast<char>(r());
  return s;
}

void RandUnknown(UnknownFieldSet *u, Rng &r, int depth) {
  int n = static_cast<int>(r() % 4);
  for (int i = 0; i < n; i++) {
    int num = 2000 + static_cast<int>(r() % 100);
    switch (r() % 5) {
    case 0:
      u->AddVarint(num, RandBits(r));
      break;
    case 1:
      u->AddFixed32(num, static_cast<uint32_t>(r()));
      break;
    case 2:
      u->AddFixed64(num, r());
      break;
    case 3:
      u->AddLengthDelimited(num, RandBytes(r));
      break;
    case 4:
      if (depth < 3)
        RandUnknown(u->AddGroup(num), r, depth + 1);
      break;
    }
  }
}

void SetOne(Message *m, const FieldDescriptor *f, Rng &r, int depth,
            int max_depth, bool unknown) {
  const Reflection *R = m->GetReflection();
  bool rep = f->is_repeated();
  bool p3 = f->file()->syntax() == FileDescriptor::SYNTAX_PROTO3;
  uint64_t b = RandBits(r);
  switch (f->cpp_type()) {
  case FieldDescriptor::CPPTYPE_INT32: {
    auto v = static_cast<int32_t>(b);
    rep ? R->AddInt32(m, f, v) : R->SetInt32(m, f, v);
    break;
  }
  case FieldDescriptor::CPPTYPE_INT64: {
    auto v = static_cast<int64_t>(b);
    rep ? R->AddInt64(m, f, v) : R->SetInt64(m, f, v);
    break;
  }
  case FieldDescriptor::CPPTYPE_UINT32: {
    auto v = static_cast<uint32_t>(b);
    rep ? R->AddUInt32(m, f, v) : R->SetUInt32(m, f, v);
    break;
  }
  case FieldDescriptor::CPPTYPE_UINT64:
    rep ? R->AddUInt64(m, f, b) : R->SetUInt64(m, f, b);
    break;
  case FieldDescriptor::CPPTYPE_FLOAT: {
    auto v = static_cast<float>(RandDouble(r));
    rep ? R->AddFloat(m, f, v) : R->SetFloat(m, f, v);
    break;
  }
  case FieldDescriptor::CPPTYPE_DOUBLE: {
    double v = RandDouble(r);
    rep ? R->AddDouble(m, f, v) : R->SetDouble(m, f, v);
    break;
  }
  case FieldDescriptor::CPPTYPE_BOOL:
    rep ? R->AddBool(m, f, b & 1) : R->SetBool(m, f, b & 1);
    break;
  case FieldDescriptor::CPPTYPE_ENUM: {
    const auto *e = f->enum_type();
    int v = e->value(static_cast<int>(r() %
                                      static_cast<uint64_t>(e->value_count())))
                ->number();
    if (p3 && Coin(r, 15))
      v = static_cast<int>(r() % 1000) - 500; // open
    rep ? R->AddEnumValue(m, f, v) : R->SetEnumValue(m, f, v);
    break;
  }
  case FieldDescriptor::CPPTYPE_STRING: {
    std::string v =
        f->type() == FieldDescriptor::TYPE_STRING ? RandUtf8(r) : RandBytes(r);
    rep ? R->AddString(m, f, v) : R->SetString(m, f, v);
    break;
  }
  case FieldDescriptor::CPPTYPE_MESSAGE: {
    Message *sub = rep ? R->AddMessage(m, f) : R->MutableMessage(m, f);
    RandomFill(sub, r, max_depth - 1, unknown && depth < max_depth);
    break;
  }
  }
}

} // namespace

void RandomFill(Message *m, Rng &r, int max_depth, bool unknown) {
  const auto *d = m->GetDescriptor();
  for (int i = 0; i < d->field_count(); i++) {
    const FieldDescriptor *f = d->field(i);
    bool msg = f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE;
    if (!f->is_required() && !d->options().map_entry()) {
      if (!Coin(r, 45))
        continue;
      if (msg && max_depth <= 0)
        continue;
    }
    if (f->is_repeated()) {
      int n = 1 + static_cast<int>(r() % 4);
      for (int j = 0; j < n; j++)
        SetOne(m, f, r, 0, max_depth, unknown);
    } else {
      SetOne(m, f, r, 0, max_depth, unknown);
    }
  }
  if (unknown && !d->options().map_entry() && Coin(r, 30))
    RandUnknown(m->GetReflection()->MutableUnknownFields(m), r, 0);
}

} // namespace weft_test
