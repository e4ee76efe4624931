/* cJSON trees that print back what was sent; see json_exact.h. */
#include "json_exact.h"

#include <stdio.h>
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

static char *copy(const char *s, size_t n) {
  char *c = malloc(n + 1);
  if (c) {
    memcpy(c, s, n);
    c[n] = '\0';
  }
  return c;
}

/* Depth first, as the tokens come: numbers get their token (valuestring),
 * strings holding \u0000 become raw items with theirs. < 0: out of
 * memory, or the tree and the text disagree (cannot happen for a tree
 * parsed from this text). */
static int keep_tokens(cJSON *j, scan *sc, bool *bad_key) {
  for (; j; j = j->next) {
    if (cJSON_IsNumber(j) || cJSON_IsString(j)) {
      tok t;
      if (!next_value(sc, &t, bad_key) || t.string != cJSON_IsString(j))
        return -1;
      if (cJSON_IsNumber(j) || t.nul) {
        char *raw = copy(t.s, t.n);
        if (!raw)
          return -1;
        free(j->valuestring);
        j->valuestring = raw;
        if (t.nul)
          j->type = cJSON_Raw;
      }
    } else if (j->child && keep_tokens(j->child, sc, bad_key) < 0) {
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
  int rv = keep_tokens(root, &sc, &bad_key);
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

/* The shortest of %.15g, %.16g, %.17g that reads back v (what JavaScript
 * prints, up to the exponent's spelling); non-finite numbers have no JSON
 * text and print as null, as JSON.stringify does. */
static char *shortest(double v) {
  char buf[40];
  if (v != v || v - v != 0)
    return copy("null", 4);
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (strtod(buf, NULL) == v)
      break;
  }
  return copy(buf, strlen(buf));
}

/* Numbers become raw items holding their text, which cJSON prints as it
 * is. On a copy: the caller's tree stays as it was. */
static int numbers_raw(cJSON *j) {
  for (; j; j = j->next) {
    if (cJSON_IsNumber(j)) {
      char *text = j->valuestring ? copy(j->valuestring, strlen(j->valuestring))
                                  : shortest(j->valuedouble);
      if (!text)
        return -1;
      free(j->valuestring);
      j->valuestring = text;
      j->type = cJSON_Raw;
    } else if (j->child && numbers_raw(j->child) < 0) {
      return -1;
    }
  }
  return 0;
}

char *weft__jx_print(const cJSON *j, bool pretty) {
  cJSON *dup = cJSON_Duplicate(j, true); /* j alone, not its siblings */
  if (!dup)
    return NULL;
  char *out = NULL;
  if (numbers_raw(dup) == 0)
    out = pretty ? cJSON_Print(dup) : cJSON_PrintUnformatted(dup);
  cJSON_Delete(dup);
  return out;
}

bool weft__jx_is_nul_string(const cJSON *j) {
  return cJSON_IsRaw(j) && j->valuestring && j->valuestring[0] == '"';
}
