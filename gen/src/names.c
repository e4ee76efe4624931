/* The C naming rule (docs/NAMING.md). Type names: each '.'-separated
 * component with '_' written as "_1", components joined by "__". That code
 * is prefix-free (tokens "__", "_1" and plain characters), so it is
 * injective, and no token starts with '_' followed by a letter: every
 * derived name "<type>_<suffix starting with a letter>" is therefore
 * distinct from every type name and from every other derived name. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"

/* C11 and C++ keywords, and macros that a generated header's includes (or
 * a C++ compiler in GNU mode) may define, all of which break as member
 * names. "base" is the ProtobufCMessage header every message starts with. */
static const char *const reserved[] = {
    "_Alignas",
    "_Alignof",
    "_Atomic",
    "_Bool",
    "_Complex",
    "_Generic",
    "_Imaginary",
    "_Noreturn",
    "_Static_assert",
    "_Thread_local",
    "EOF",
    "INFINITY",
    "NAN",
    "NULL",
    "alignas",
    "alignof",
    "and",
    "and_eq",
    "asm",
    "assert",
    "auto",
    "base",
    "bitand",
    "bitor",
    "bool",
    "break",
    "case",
    "catch",
    "char",
    "char16_t",
    "char32_t",
    "char8_t",
    "class",
    "co_await",
    "co_return",
    "co_yield",
    "compl",
    "complex",
    "concept",
    "const",
    "const_cast",
    "consteval",
    "constexpr",
    "constinit",
    "continue",
    "decltype",
    "default",
    "delete",
    "do",
    "double",
    "dynamic_cast",
    "else",
    "enum",
    "errno",
    "explicit",
    "export",
    "extern",
    "false",
    "float",
    "for",
    "friend",
    "goto",
    "i386",
    "if",
    "imaginary",
    "inline",
    "int",
    "linux",
    "long",
    "major",
    "minor",
    "mutable",
    "namespace",
    "new",
    "noexcept",
    "not",
    "not_eq",
    "nullptr",
    "offsetof",
    "operator",
    "or",
    "or_eq",
    "private",
    "protected",
    "public",
    "register",
    "reinterpret_cast",
    "requires",
    "restrict",
    "return",
    "short",
    "signed",
    "sizeof",
    "static",
    "static_assert",
    "static_cast",
    "stderr",
    "stdin",
    "stdout",
    "struct",
    "switch",
    "template",
    "this",
    "thread_local",
    "throw",
    "true",
    "try",
    "typedef",
    "typeid",
    "typename",
    "union",
    "unix",
    "unsigned",
    "using",
    "virtual",
    "void",
    "volatile",
    "wchar_t",
    "while",
    "xor",
    "xor_eq",
};

int name_is_reserved(const char *s) {
  for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
    if (strcmp(s, reserved[i]) == 0)
      return 1;
  return 0;
}

static int starts_with(const char *s, const char *p) {
  return strncmp(s, p, strlen(p)) == 0;
}
static int ends_with(const char *s, const char *p) {
  size_t n = strlen(s), m = strlen(p);
  return n >= m && strcmp(s + n - m, p) == 0;
}

char *name_type(const char *full) {
  gen_buf b = {0};
  if (*full == '.')
    full++;
  for (const char *p = full; *p; p++) {
    if (*p == '.')
      buf_put(&b, "__");
    else if (*p == '_')
      buf_put(&b, "_1");
    else
      buf_putn(&b, p, 1);
  }
  char *s = gen_strdup(b.data ? b.data : "");
  buf_free(&b);
  return s;
}

char *name_member(const char *n) {
  if (name_is_reserved(n) || starts_with(n, "has_") || starts_with(n, "n_") ||
      ends_with(n, "_case") || ends_with(n, "_"))
    return gen_fmt("%s_", n);
  return gen_strdup(n);
}

char *name_snake(const char *s) {
  gen_buf b = {0};
  for (size_t i = 0; s[i]; i++) {
    unsigned char c = (unsigned char)s[i];
    if (isupper(c)) {
      unsigned char prev = i ? (unsigned char)s[i - 1] : 0;
      unsigned char next = (unsigned char)s[i + 1];
      if (i > 0 && prev != '_' &&
          (islower(prev) || isdigit(prev) || (isupper(prev) && islower(next))))
        buf_put(&b, "_");
      char l = (char)tolower(c);
      buf_putn(&b, &l, 1);
    } else {
      buf_putn(&b, (const char *)&s[i], 1);
    }
  }
  char *r = gen_strdup(b.data ? b.data : "");
  buf_free(&b);
  return r;
}

char *name_file_stem(const char *path) {
  size_t n = strlen(path);
  if (ends_with(path, ".proto"))
    n -= 6;
  char *s = gen_alloc(n + 1);
  memcpy(s, path, n);
  return s;
}

char *name_file_ident(const char *path) {
  int proto = ends_with(path, ".proto");
  size_t n = strlen(path) - (proto ? 6 : 0);
  gen_buf b = {0};
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)path[i];
    if (c == '/')
      buf_put(&b, "__");
    else if (c == '_')
      buf_put(&b, "_1");
    else if (c == '.')
      buf_put(&b, "_2");
    else if (c == '-')
      buf_put(&b, "_3");
    else if (isalnum(c))
      buf_putn(&b, (const char *)&path[i], 1);
    else
      buf_printf(&b, "_4%02x", c);
  }
  buf_put(&b, proto ? "_proto" : "_file");
  char *r = gen_strdup(b.data);
  buf_free(&b);
  return r;
}

void buf_cstring(gen_buf *b, const char *s, size_t n) {
  buf_put(b, "\"");
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\' || c == '?')
      buf_printf(b, "\\%c", c);
    else if (c >= 0x20 && c < 0x7f)
      buf_putn(b, (const char *)&s[i], 1);
    else
      buf_printf(b, "\\%03o", c);
  }
  buf_put(b, "\"");
}
