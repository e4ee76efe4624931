#include "json_testutil.h"

#include <algorithm>
#include <cstdlib>
#include <utility>
#include <vector>

namespace wjt {
namespace {

struct Canonizer {
  const std::string &s;
  size_t i = 0;
  bool ok = true;

  void Ws() {
    while (i < s.size() &&
           (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t'))
      i++;
  }
  std::string String() {
    size_t start = i++;
    while (i < s.size() && s[i] != '"') {
      if (s[i] == '\\')
        i++;
      i++;
    }
    if (i >= s.size()) {
      ok = false;
      return "";
    }
    i++;
    return s.substr(start, i - start);
  }
  std::string Value() {
    Ws();
    if (i >= s.size()) {
      ok = false;
      return "";
    }
    char c = s[i];
    if (c == '"')
      return String();
    if (c == '{') {
      i++;
      std::vector<std::pair<std::string, std::string>> m;
      Ws();
      if (i < s.size() && s[i] == '}') {
        i++;
        return "{}";
      }
      for (;;) {
        Ws();
        if (i >= s.size() || s[i] != '"') {
          ok = false;
          return "";
        }
        std::string k = String();
        Ws();
        if (i >= s.size() || s[i] != ':') {
          ok = false;
          return "";
        }
        i++;
        std::string v = Value();
        m.emplace_back(k, v);
        Ws();
        if (i < s.size() && s[i] == ',') {
          i++;
          continue;
        }
        if (i < s.size() && s[i] == '}') {
          i++;
          break;
        }
        ok = false;
        return "";
      }
      std::sort(m.begin(), m.end());
      std::string out = "{";
      for (size_t j = 0; j < m.size(); j++)
        out += (j ? "," : "") + m[j].first + ":" + m[j].second;
      return out + "}";
    }
    if (c == '[') {
      i++;
      std::string out = "[";
      Ws();
      if (i < s.size() && s[i] == ']') {
        i++;
        return "[]";
      }
      for (bool first = true;; first = false) {
        out += (first ? "" : ",") + Value();
        Ws();
        if (i < s.size() && s[i] == ',') {
          i++;
          continue;
        }
        if (i < s.size() && s[i] == ']') {
          i++;
          break;
        }
        ok = false;
        return "";
      }
      return out + "]";
    }
    size_t start = i;
    while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' &&
           s[i] != ' ' && s[i] != '\n')
      i++;
    return s.substr(start, i - start);
  }
};

} // namespace

std::string Canon(const std::string &json) {
  Canonizer c{json};
  std::string v = c.Value();
  c.Ws();
  if (!c.ok || c.i != json.size())
    return "<invalid>";
  return v;
}

Result EncodeFromBinary(const weft_msg_desc *d, const std::string &bin,
                        unsigned flags) {
  Result r;
  void *m = nullptr;
  weft_error err;
  r.rv = weft_decode(d, reinterpret_cast<const uint8_t *>(bin.data()),
                     bin.size(), nullptr, &m, &err);
  if (r.rv) {
    r.text = std::string("binary decode: ") + err.message;
    return r;
  }
  weft_json_opts o = {};
  o.flags = flags;
  char *out = nullptr;
  size_t n = 0;
  r.rv = weft_json_encode(m, &o, &out, &n, &err);
  if (r.rv == 0) {
    r.text.assign(out, n);
    free(out);
  } else {
    r.text = err.message;
  }
  weft_message_free(m);
  return r;
}

Result DecodeToBinary(const weft_msg_desc *d, const std::string &json,
                      unsigned flags, bool use_arena) {
  Result r;
  void *m = nullptr;
  weft_error err;
  weft_arena *a = nullptr;
  if (use_arena)
    weft_arena_new(&a, 0);
  weft_json_opts o = {};
  o.flags = flags;
  o.arena = a;
  r.rv = weft_json_decode(d, json.data(), json.size(), &o, &m, &err);
  if (r.rv) {
    r.text = err.message;
    weft_arena_free(a);
    return r;
  }
  uint8_t *buf = nullptr;
  size_t n = 0;
  r.rv = weft_encode_alloc(m, &buf, &n);
  if (r.rv == 0) {
    r.text.assign(reinterpret_cast<char *>(buf), n);
    free(buf);
  } else {
    r.text = "binary encode failed";
  }
  if (a)
    weft_arena_free(a);
  else
    weft_message_free(m);
  return r;
}

Result Reencode(const weft_msg_desc *d, const std::string &json,
                unsigned dec_flags, unsigned enc_flags) {
  Result r;
  void *m = nullptr;
  weft_error err;
  weft_json_opts o = {};
  o.flags = dec_flags;
  r.rv = weft_json_decode(d, json.data(), json.size(), &o, &m, &err);
  if (r.rv) {
    r.text = err.message;
    return r;
  }
  o.flags = enc_flags;
  char *out = nullptr;
  size_t n = 0;
  r.rv = weft_json_encode(m, &o, &out, &n, &err);
  if (r.rv == 0) {
    r.text.assign(out, n);
    free(out);
  } else {
    r.text = err.message;
  }
  weft_message_free(m);
  return r;
}

} // namespace wjt
