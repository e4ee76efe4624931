/* cJSON trees that print back what was sent; see json_exact.h. */
#include "json_exact.h"

#include <stdlib.h>
#include <string.h>

/* A number or string token of the text, in document order. */
typedef struct tok {
  const char *s;
  size_t n;
  bool string, key, nul;
} tok;

typedef struct scan {
  const char *p, *e;
} scan;

static bool is_num_char(char c) {
  return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' ||
         c == 'e' || c == 'E';
}

/* The next number or string at or after sc->p, outside strings; false at
 * the end. The text parsed as JSON already, so tokens are well formed. */
static bool next_tok(scan *sc, tok *t) {
  const char *p = sc->p, *e = sc->e;
  while (p < e && *p != '"' && *p != '-' && !(*p >= '0' && *p <= '9'))
    p++;
  if (p == e)
    return false;
  memset(t, 0, sizeof *t);
  t->s = p;
  if (*p == '"') {
    t->string = true;
    for (p++; p < e && *p != '"'; p++) {
      if (*p != '\\' || p + 1 == e)
        continue;
      p++;
      if (*p == 'u' && e - p >= 5 && memcmp(p + 1, "0000", 4) == 0)
        t->nul = true;
    }
    p += p < e; /* the closing quote */
    t->n = (size_t)(p - t->s);
    const char *q = p;
    while (q < e && (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n'))
      q++;
    t->key = q < e && *q == ':';
  } else {
    while (p < e && is_num_char(*p))
      p++;
    t->n = (size_t)(p - t->s);
  }
  sc->p = p;
  return true;
}

/* The next token that is a value (member names are skipped); a member
 * name holding \u0000 is refused (*bad_key). */
static bool next_value(scan *sc, tok *t, bool *bad_key) {
  while (next_tok(sc, t)) {
    if (!t->key)
      return true;
    if (t->nul)
      *bad_key = true;
  }
  return false;
}

/* Depth first, as the tokens come: numbers and NUL-holding strings become
 * raw items with their token. < 0: out of memory, or the tree and the
 * text disagree (cannot happen for a tree parsed from this text). */
static int rawify(cJSON *j, scan *sc, bool *bad_key) {
  for (; j; j = j->next) {
    if (cJSON_IsNumber(j) || cJSON_IsString(j)) {
      tok t;
      if (!next_value(sc, &t, bad_key) || t.string != cJSON_IsString(j))
        return -1;
      if (cJSON_IsNumber(j) || t.nul) {
        char *raw = malloc(t.n + 1);
        if (!raw)
          return -1;
        memcpy(raw, t.s, t.n);
        raw[t.n] = '\0';
        free(j->valuestring);
        j->valuestring = raw;
        j->type = cJSON_Raw; /* valuedouble stays, for numbers */
      }
    } else if (j->child && rawify(j->child, sc, bad_key) < 0) {
      return -1;
    }
  }
  return 0;
}

int weft__jx_parse(cJSON **out, const char *text, size_t len, const char *what,
                   weft_error *err) {
  const char *end = NULL;
  *out = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
  if (!root) {
    size_t at = end && end >= text ? (size_t)(end - text) : 0;
    return weft_error_set(err, WEFT_ERR_JSON_SYNTAX,
                          "%s: invalid JSON at byte %zu", what, at);
  }
  const char *stop = text + len;
  while (end < stop &&
         (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
    end++;
  if (end != stop) {
    cJSON_Delete(root);
    return weft_error_set(err, WEFT_ERR_JSON_SYNTAX,
                          "%s: junk after the JSON value at byte %zu", what,
                          (size_t)(end - text));
  }
  scan sc = {text, stop};
  bool bad_key = false;
  int rv = rawify(root, &sc, &bad_key);
  /* Names that follow the last value (`{"a":1,"b\u0000":{}}`). */
  for (tok t; rv == 0 && next_tok(&sc, &t);)
    bad_key = bad_key || (t.key && t.nul);
  if (rv < 0 || bad_key) {
    cJSON_Delete(root);
    return bad_key
               ? weft_error_set(err, WEFT_ERR_MALFORMED,
                                "%s: a member name holds \\u0000", what)
               : weft_error_set(err, WEFT_ERR_NOMEM, "%s: out of memory", what);
  }
  *out = root;
  return 0;
}

bool weft__jx_is_number(const cJSON *j) {
  if (cJSON_IsNumber(j))
    return true;
  return cJSON_IsRaw(j) && j->valuestring && j->valuestring[0] != '"';
}

bool weft__jx_is_nul_string(const cJSON *j) {
  return cJSON_IsRaw(j) && j->valuestring && j->valuestring[0] == '"';
}
