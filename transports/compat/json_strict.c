/* JSON syntax as JSON.parse checks it; see json_strict.h. One pass, no
 * recursion: the open brackets are a byte stack, so depth costs memory,
 * not C stack. */
#include "json_strict.h"

#include <stdlib.h>
#include <string.h>

typedef struct parser {
  const char *s;
  size_t n, i;
  char *open; /* '{' or '[' per level */
  size_t depth, cap;
} parser;

static void skip_ws(parser *p) {
  while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' ||
                         p->s[p->i] == '\r' || p->s[p->i] == '\n'))
    p->i++;
}

static bool at(const parser *p, char c) {
  return p->i < p->n && p->s[p->i] == c;
}

static bool digit(const parser *p) {
  return p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9';
}

static bool digits(parser *p) {
  if (!digit(p))
    return false;
  while (digit(p))
    p->i++;
  return true;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool number(parser *p) {
  if (at(p, '-'))
    p->i++;
  if (at(p, '0'))
    p->i++;
  else if (!digits(p))
    return false;
  if (at(p, '.')) {
    p->i++;
    if (!digits(p))
      return false;
  }
  if (at(p, 'e') || at(p, 'E')) {
    p->i++;
    if (at(p, '+') || at(p, '-'))
      p->i++;
    if (!digits(p))
      return false;
  }
  return true;
}

static bool hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
         (c >= 'A' && c <= 'F');
}

/* A string from its opening quote: no raw control character, only the
 * escapes JSON has. */
static bool string(parser *p) {
  if (!at(p, '"'))
    return false;
  for (p->i++; p->i < p->n; p->i++) {
    unsigned char c = (unsigned char)p->s[p->i];
    if (c == '"') {
      p->i++;
      return true;
    }
    if (c < 0x20)
      return false;
    if (c != '\\')
      continue;
    if (++p->i == p->n)
      return false;
    c = (unsigned char)p->s[p->i];
    if (c == 'u') {
      for (int k = 0; k < 4; k++)
        if (++p->i == p->n || !hex(p->s[p->i]))
          return false;
    } else if (c == '\0' || !strchr("\"\\/bfnrt", c)) {
      return false;
    }
  }
  return false;
}

static bool literal(parser *p, const char *word) {
  size_t k = strlen(word);
  if (p->n - p->i < k || memcmp(p->s + p->i, word, k) != 0)
    return false;
  p->i += k;
  return true;
}

static bool push(parser *p, char c) {
  if (p->depth == p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 64;
    char *o = realloc(p->open, cap);
    if (!o)
      return false;
    p->open = o;
    p->cap = cap;
  }
  p->open[p->depth++] = c;
  return true;
}

/* What the parser expects next. */
enum want { VALUE, KEY, AFTER };

static bool run(parser *p) {
  enum want w = VALUE;
  for (;;) {
    skip_ws(p);
    if (w == KEY) {
      if (!string(p))
        return false;
      skip_ws(p);
      if (!at(p, ':'))
        return false;
      p->i++;
      w = VALUE;
    } else if (w == VALUE) {
      if (p->i == p->n)
        return false;
      char c = p->s[p->i];
      if (c == '{' || c == '[') {
        p->i++;
        skip_ws(p);
        if (at(p, c == '{' ? '}' : ']')) {
          p->i++;
          w = AFTER;
        } else {
          if (!push(p, c))
            return false;
          w = c == '{' ? KEY : VALUE;
        }
        continue;
      }
      bool ok = c == '"'   ? string(p)
                : c == 't' ? literal(p, "true")
                : c == 'f' ? literal(p, "false")
                : c == 'n' ? literal(p, "null")
                           : number(p);
      if (!ok)
        return false;
      w = AFTER;
    } else {
      if (p->depth == 0)
        return p->i == p->n;
      char open = p->open[p->depth - 1];
      if (at(p, ',')) {
        p->i++;
        w = open == '{' ? KEY : VALUE;
      } else if (at(p, open == '{' ? '}' : ']')) {
        p->i++;
        p->depth--;
      } else {
        return false;
      }
    }
  }
}

bool weft__json_strict_valid(const char *text, size_t len, size_t *where) {
  parser p = {.s = text, .n = len};
  bool ok = run(&p);
  free(p.open);
  if (!ok && where)
    *where = p.i;
  return ok;
}
