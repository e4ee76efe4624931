/* HTTP/1.1 syntax shared by the server and client engines; see
 * h1_common.h. */
#include "h1_common.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool weft__h1_is_tchar(unsigned char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
      (c >= 'A' && c <= 'Z'))
    return true;
  return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

int weft__h1_each_token(const char *v,
                        int (*fn)(void *ud, const char *tok, size_t len),
                        void *ud) {
  const char *p = v;
  while (*p) {
    while (*p == ',' || weft__h1_is_ows((unsigned char)*p))
      p++;
    const char *s = p;
    while (*p && *p != ',')
      p++;
    const char *e = p;
    while (e > s && weft__h1_is_ows((unsigned char)e[-1]))
      e--;
    if (e > s) {
      int rv = fn(ud, s, (size_t)(e - s));
      if (rv)
        return rv;
    }
  }
  return 0;
}

bool weft__h1_tok_is(const char *tok, size_t len, const char *word) {
  return strlen(word) == len && strncasecmp(tok, word, len) == 0;
}

int weft__h1_parse_fields(char *pos, char *end, weft__h1_field **fields,
                          size_t *cap, size_t *nout, const char *what,
                          weft_error *err) {
  size_t nf = 0;
  while (pos < end) {
    char *eol = memchr(pos, '\r', (size_t)(end - pos));
    if (!eol || eol + 1 >= end || eol[1] != '\n')
      return weft_error_set(err, WEFT_ERR_PROTOCOL,
                            "%s %zu: bare CR in a field line", what, nf + 1);
    if (eol == pos) /* the final empty line */
      break;
    *eol = '\0';
    char *line = pos;
    pos = eol + 2;
    if (weft__h1_is_ows((unsigned char)line[0]))
      return weft_error_set(err, WEFT_ERR_PROTOCOL,
                            "%s %zu: obsolete line folding is not accepted",
                            what, nf + 1);
    char *colon = line;
    while (weft__h1_is_tchar((unsigned char)*colon))
      colon++;
    if (colon == line || *colon != ':') {
      if (colon != line && weft__h1_is_ows((unsigned char)*colon))
        return weft_error_set(err, WEFT_ERR_PROTOCOL,
                              "%s %zu: whitespace between the field name "
                              "and the colon",
                              what, nf + 1);
      return weft_error_set(err, WEFT_ERR_PROTOCOL,
                            "%s %zu: not a field line (name \":\" value)", what,
                            nf + 1);
    }
    *colon = '\0';
    char *v = colon + 1;
    while (weft__h1_is_ows((unsigned char)*v))
      v++;
    char *ve = v + strlen(v);
    while (ve > v && weft__h1_is_ows((unsigned char)ve[-1]))
      ve--;
    for (char *c = v; c < ve; c++) {
      unsigned char ch = (unsigned char)*c;
      if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
        return weft_error_set(
            err, WEFT_ERR_PROTOCOL,
            "%s %zu (%s): control character 0x%02x in the value", what, nf + 1,
            line, ch);
    }
    *ve = '\0';
    if (nf == *cap) {
      size_t ncap = *cap ? *cap * 2 : 16;
      weft__h1_field *f = realloc(*fields, ncap * sizeof *f);
      if (!f)
        return weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
      *fields = f;
      *cap = ncap;
    }
    (*fields)[nf].name = line;
    (*fields)[nf].name_len = (size_t)(colon - line);
    (*fields)[nf].value = v;
    (*fields)[nf].value_len = (size_t)(ve - v);
    nf++;
  }
  *nout = nf;
  return 0;
}

int64_t weft__h1_parse_content_length(const char *v, size_t len) {
  if (len == 0 || len > 18)
    return -1;
  int64_t cl = 0;
  for (size_t i = 0; i < len; i++) {
    if (v[i] < '0' || v[i] > '9')
      return -1;
    cl = cl * 10 + (v[i] - '0');
  }
  return cl;
}

static int te_token(void *ud, const char *tok, size_t len) {
  weft__h1_te *t = ud;
  /* Transfer parameters (";q=...") are not meaningful for chunked. */
  const char *semi = memchr(tok, ';', len);
  size_t l = semi ? (size_t)(semi - tok) : len;
  while (l && weft__h1_is_ows((unsigned char)tok[l - 1]))
    l--;
  bool ch = weft__h1_tok_is(tok, l, "chunked") && !semi;
  t->n++;
  t->chunked += ch;
  t->last_chunked = ch;
  return 0;
}

void weft__h1_te_add(weft__h1_te *te, const char *value) {
  te->fields++;
  weft__h1_each_token(value, te_token, te);
}

typedef struct expect_counts {
  unsigned *cont, *other;
} expect_counts;

static int expect_token(void *ud, const char *tok, size_t len) {
  expect_counts *c = ud;
  if (weft__h1_tok_is(tok, len, "100-continue"))
    (*c->cont)++;
  else
    (*c->other)++;
  return 0;
}

void weft__h1_expect_count(const char *value, unsigned *cont, unsigned *other) {
  expect_counts c = {cont, other};
  weft__h1_each_token(value, expect_token, &c);
}

/* unreserved / sub-delims / "%" (pct-encoded): RFC 3986 reg-name. */
static bool reg_name_char(unsigned char c) {
  return isalnum(c) || strchr("-._~!$&'()*+,;=%", c);
}

bool weft__h1_host_valid(const char *v) {
  const char *p = v;
  if (*p == '[') { /* IP-literal: its characters, and the bracket closes */
    p++;
    while (*p && *p != ']') {
      if (!reg_name_char((unsigned char)*p) && *p != ':')
        return false;
      p++;
    }
    if (*p++ != ']')
      return false;
  } else {
    while (*p && *p != ':') {
      if (!reg_name_char((unsigned char)*p))
        return false;
      p++;
    }
  }
  if (*p == ':')
    for (p++; *p; p++)
      if (!isdigit((unsigned char)*p))
        return false;
  return *p == '\0';
}

static int conn_token(void *ud, const char *tok, size_t len) {
  weft__h1_conn_opts *c = ud;
  if (weft__h1_tok_is(tok, len, "close"))
    c->close = true;
  else if (weft__h1_tok_is(tok, len, "keep-alive"))
    c->keep_alive = true;
  return 0;
}

void weft__h1_conn_add(weft__h1_conn_opts *co, const char *value) {
  weft__h1_each_token(value, conn_token, co);
}

/* Skips OWS. */
static const char *skip_ows(const char *p, const char *e) {
  while (p < e && weft__h1_is_ows((unsigned char)*p))
    p++;
  return p;
}

/* One chunk extension after its ";": BWS name [BWS "=" BWS token or
 * quoted-string]; *pp moves past it. */
static int chunk_ext(const char **pp, const char *e, weft_error *err) {
  const char *p = skip_ows(*pp, e), *s = p;
  while (p < e && weft__h1_is_tchar((unsigned char)*p))
    p++;
  if (p == s)
    return weft_error_set(err, WEFT_ERR_PROTOCOL,
                          "a chunk extension without a name");
  const char *q = skip_ows(p, e);
  if (q < e && *q == '=') {
    p = skip_ows(q + 1, e);
    if (p < e && *p == '"') {
      for (p++; p < e && *p != '"'; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '\\' && p + 1 < e)
          c = (unsigned char)*++p;
        if ((c < 0x20 && c != '\t') || c == 0x7f)
          return weft_error_set(err, WEFT_ERR_PROTOCOL,
                                "control character in a chunk extension");
      }
      if (p == e)
        return weft_error_set(err, WEFT_ERR_PROTOCOL,
                              "unterminated quoted chunk extension value");
      p++;
    } else {
      s = p;
      while (p < e && weft__h1_is_tchar((unsigned char)*p))
        p++;
      if (p == s)
        return weft_error_set(err, WEFT_ERR_PROTOCOL,
                              "a chunk extension \"=\" without a value");
    }
  }
  *pp = p;
  return 0;
}

int weft__h1_parse_chunk_size(const char *line, size_t len, uint64_t *size,
                              weft_error *err) {
  int rv;
  const char *p = line, *e = line + len;
  uint64_t sz = 0;
  unsigned digits = 0;
  for (; p < e; p++) {
    int d;
    if (*p >= '0' && *p <= '9')
      d = *p - '0';
    else if (*p >= 'a' && *p <= 'f')
      d = *p - 'a' + 10;
    else if (*p >= 'A' && *p <= 'F')
      d = *p - 'A' + 10;
    else
      break;
    if (sz || d)
      digits++;
    if (digits > 15)
      return weft_error_set(err, WEFT_ERR_TOO_BIG, "chunk size overflows");
    sz = sz * 16 + (uint64_t)d;
  }
  if (p == line)
    return weft_error_set(err, WEFT_ERR_PROTOCOL,
                          "chunk size is not a hexadecimal number");
  /* chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS value ] ) (RFC 9112
   * section 7.1.1). Extensions are ignored but held to the grammar: a
   * line two parsers split differently is how requests are smuggled. */
  while (p < e) {
    p = skip_ows(p, e);
    if (p == e)
      return weft_error_set(err, WEFT_ERR_PROTOCOL,
                            "white space at the end of a chunk-size line");
    if ((unsigned char)*p < 0x20 || *p == 0x7f)
      return weft_error_set(err, WEFT_ERR_PROTOCOL,
                            "control character in a chunk extension");
    if (*p != ';')
      return weft_error_set(err, WEFT_ERR_PROTOCOL,
                            "unexpected character 0x%02x after the chunk size",
                            (unsigned char)*p);
    p++;
    if ((rv = chunk_ext(&p, e, err)) < 0)
      return rv;
  }
  *size = sz;
  return 0;
}

bool weft__h1_field_valid(const char *name, const char *value) {
  if (!name || !value || !*name)
    return false;
  for (const char *c = name; *c; c++)
    if (!weft__h1_is_tchar((unsigned char)*c))
      return false;
  for (const char *c = value; *c; c++)
    if (*c == '\r' || *c == '\n')
      return false;
  return true;
}

int weft__h1_verror(weft_error *err, int code, const char *prefix,
                    const char *fmt, va_list ap) {
  if (!err)
    return code;
  char msg[sizeof err->message];
  vsnprintf(msg, sizeof msg, fmt, ap);
  weft_error_set(err, code, "%s%s", prefix, msg);
  return code;
}
