/* google.api.http path templates: parse, match, order by specificity.
 * See rest_internal.h for the grammar. No I/O, no dependency beyond libc
 * and weft_error (protoc-gen-weft builds this file too). */
#include <stdlib.h>
#include <string.h>

#include "rest_internal.h"

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

int weft__pct_decode(const char *src, size_t n, bool keep_slash,
                     bool plus_space, char **out, size_t *out_len) {
  char *d = malloc(n + 1);
  if (!d)
    return WEFT_ERR_NOMEM;
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    char c = src[i];
    if (c == '+' && plus_space) {
      d[o++] = ' ';
      continue;
    }
    if (c != '%') {
      d[o++] = c;
      continue;
    }
    int h = i + 2 < n ? hexval(src[i + 1]) : -1;
    int l = i + 2 < n ? hexval(src[i + 2]) : -1;
    /* A bad escape, or NUL, which no C string or field name can carry. */
    if (h < 0 || l < 0 || (h == 0 && l == 0)) {
      free(d);
      return WEFT_ERR_INVAL;
    }
    int v = h * 16 + l;
    if (v == '/' && keep_slash) {
      memcpy(d + o, src + i, 3);
      o += 3;
    } else {
      d[o++] = (char)v;
    }
    i += 2;
  }
  d[o] = '\0';
  *out = d;
  if (out_len)
    *out_len = o;
  return 0;
}

/* ---- parsing ---- */

typedef struct parser {
  const char *s;
  size_t i;
  weft__tmpl *t;
  unsigned cap_segs, cap_vars;
  weft_error *err;
} parser;

static int fail(parser *p, const char *what) {
  return weft_error_set(p->err, WEFT_ERR_INVAL, "offset %zu: %s", p->i, what);
}

/* Characters of a literal segment: RFC 3986 pchar less ':' (the verb
 * separator), and '%' escapes. */
static bool lit_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
      (c >= '0' && c <= '9'))
    return true;
  return strchr("-._~!$&'()+,;@%", c) != NULL && c != '\0';
}

static bool ident_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static bool ident_char(char c) {
  return ident_start(c) || (c >= '0' && c <= '9');
}

static int add_seg(parser *p, uint8_t kind, const char *lit, size_t n) {
  weft__tmpl *t = p->t;
  if (t->n_segs >= WEFT__REST_MAX_SEGS)
    return fail(p, "more than 64 segments");
  if (t->n_segs == p->cap_segs) {
    unsigned cap = p->cap_segs ? p->cap_segs * 2 : 8;
    weft__tseg *ns = realloc(t->segs, cap * sizeof *ns);
    if (!ns)
      return weft_error_set(p->err, WEFT_ERR_NOMEM, "out of memory");
    t->segs = ns;
    p->cap_segs = cap;
  }
  weft__tseg *sg = &t->segs[t->n_segs];
  memset(sg, 0, sizeof *sg);
  sg->kind = kind;
  if (kind == WEFT__TSEG_LIT) {
    int rv = weft__pct_decode(lit, n, false, false, &sg->lit, &sg->lit_len);
    if (rv == WEFT_ERR_NOMEM)
      return weft_error_set(p->err, rv, "out of memory");
    if (rv < 0)
      return fail(p, "bad percent-escape in a literal segment");
  }
  t->n_segs++;
  return 0;
}

/* One segment at p->i; in_var: inside "{f=...}". */
static int parse_segment(parser *p, bool in_var, bool *dstar) {
  const char *s = p->s;
  if (s[p->i] == '*') {
    if (s[p->i + 1] == '*') {
      p->i += 2;
      *dstar = true;
      return add_seg(p, WEFT__TSEG_DSTAR, NULL, 0);
    }
    p->i++;
    return add_seg(p, WEFT__TSEG_STAR, NULL, 0);
  }
  if (s[p->i] == '{') {
    if (in_var)
      return fail(p, "'{' inside a variable (variables cannot nest)");
    return 1; /* the caller parses the variable */
  }
  size_t st = p->i;
  while (lit_char(s[p->i]))
    p->i++;
  if (p->i == st) {
    if (s[p->i] == '/' || s[p->i] == '\0' || s[p->i] == '}' || s[p->i] == ':')
      return fail(p, "empty segment");
    return fail(p, "character not allowed in a path template");
  }
  if (s[p->i] == '*')
    return fail(p, "'*' must be a whole segment");
  return add_seg(p, WEFT__TSEG_LIT, s + st, p->i - st);
}

static int parse_variable(parser *p, bool *dstar) {
  weft__tmpl *t = p->t;
  const char *s = p->s;
  size_t open = p->i++;
  size_t fst = p->i;
  for (;;) {
    if (!ident_start(s[p->i]))
      return fail(p, "a variable's field path must be identifiers "
                     "separated by '.'");
    while (ident_char(s[p->i]))
      p->i++;
    if (s[p->i] != '.')
      break;
    p->i++;
  }
  size_t flen = p->i - fst;
  for (unsigned k = 0; k < t->n_vars; k++)
    if (strlen(t->vars[k].field) == flen &&
        !memcmp(t->vars[k].field, s + fst, flen)) {
      p->i = fst;
      return fail(p, "field bound by two variables");
    }
  if (t->n_vars == p->cap_vars) {
    unsigned cap = p->cap_vars ? p->cap_vars * 2 : 4;
    weft__tvar *nv = realloc(t->vars, cap * sizeof *nv);
    if (!nv)
      return weft_error_set(p->err, WEFT_ERR_NOMEM, "out of memory");
    t->vars = nv;
    p->cap_vars = cap;
  }
  weft__tvar *v = &t->vars[t->n_vars];
  memset(v, 0, sizeof *v);
  v->field = malloc(flen + 1);
  if (!v->field)
    return weft_error_set(p->err, WEFT_ERR_NOMEM, "out of memory");
  memcpy(v->field, s + fst, flen);
  v->field[flen] = '\0';
  t->n_vars++;
  v->first = t->n_segs;
  if (s[p->i] == '}') {
    p->i++;
    int rv = add_seg(p, WEFT__TSEG_STAR, NULL, 0);
    v = &t->vars[t->n_vars - 1];
    v->n = 1;
    return rv;
  }
  if (s[p->i] == '\0') {
    p->i = open;
    return fail(p, "unterminated variable (no '}')");
  }
  if (s[p->i] != '=')
    return fail(p, "expected '}' or '=' after a variable's field path");
  p->i++;
  bool d = false;
  for (;;) {
    if (*dstar || d)
      return fail(p, "'**' must be the last segment");
    int rv = parse_segment(p, true, &d);
    if (rv < 0)
      return rv;
    if (s[p->i] != '/')
      break;
    p->i++;
  }
  if (s[p->i] != '}') {
    if (s[p->i] == '\0') {
      p->i = open;
      return fail(p, "unterminated variable (no '}')");
    }
    return fail(p, "expected '}' to end the variable");
  }
  p->i++;
  v = &t->vars[t->n_vars - 1];
  v->n = t->n_segs - v->first;
  v->multi = d;
  if (d)
    *dstar = true;
  return 0;
}

void weft__tmpl_free(weft__tmpl *t) {
  if (!t)
    return;
  for (unsigned i = 0; i < t->n_segs; i++)
    free(t->segs[i].lit);
  for (unsigned i = 0; i < t->n_vars; i++)
    free(t->vars[i].field);
  free(t->segs);
  free(t->vars);
  free(t->verb);
  memset(t, 0, sizeof *t);
}

int weft__tmpl_parse(const char *s, weft__tmpl *t, weft_error *err) {
  memset(t, 0, sizeof *t);
  parser p = {s, 0, t, 0, 0, err};
  int rv = 0;
  if (!s || s[0] != '/') {
    rv = fail(&p, "a path template must start with '/'");
    goto out;
  }
  p.i = 1;
  bool dstar = false;
  for (;;) {
    if (dstar) {
      rv = fail(&p, "'**' must be the last segment");
      goto out;
    }
    rv = parse_segment(&p, false, &dstar);
    if (rv == 1)
      rv = parse_variable(&p, &dstar);
    if (rv < 0)
      goto out;
    if (s[p.i] != '/')
      break;
    p.i++;
  }
  if (s[p.i] == ':') {
    size_t st = ++p.i;
    while (lit_char(s[p.i]))
      p.i++;
    if (p.i == st || s[p.i] != '\0') {
      rv = fail(&p, p.i == st ? "empty verb after ':'"
                              : "character not allowed in the verb");
      goto out;
    }
    if (weft__pct_decode(s + st, p.i - st, false, false, &t->verb, NULL) < 0) {
      rv = fail(&p, "bad percent-escape in the verb");
      goto out;
    }
  } else if (s[p.i] == '}') {
    rv = fail(&p, "'}' without '{'");
    goto out;
  } else if (s[p.i] != '\0') {
    rv = fail(&p, "character not allowed in a path template");
    goto out;
  }
out:
  if (rv < 0)
    weft__tmpl_free(t);
  return rv;
}

/* ---- matching ---- */

int weft__rpath_split(const char *path, size_t len, weft__rpath *p,
                      weft_error *err) {
  p->n = 0;
  if (len == 0 || path[0] != '/')
    return weft_error_set(err, WEFT_ERR_INVAL, "path must start with '/'");
  if (len > 1 && path[len - 1] == '/')
    len--;
  size_t i = 1;
  for (;;) {
    if (p->n == WEFT__REST_MAX_SEGS)
      return weft_error_set(err, WEFT_ERR_INVAL,
                            "path has more than %d segments",
                            WEFT__REST_MAX_SEGS);
    size_t st = i;
    while (i < len && path[i] != '/')
      i++;
    p->seg[p->n] = path + st;
    p->len[p->n] = i - st;
    p->n++;
    if (i >= len)
      break;
    i++;
  }
  return 0;
}

/* Compares a raw segment with a decoded literal without allocating. */
static bool seg_eq(const char *raw, size_t n, const char *lit, size_t lit_n) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++, o++) {
    char c = raw[i];
    if (c == '%') {
      int h = i + 2 < n ? hexval(raw[i + 1]) : -1;
      int l = i + 2 < n ? hexval(raw[i + 2]) : -1;
      if (h < 0 || l < 0)
        return false;
      c = (char)(h * 16 + l);
      i += 2;
    }
    if (o >= lit_n || lit[o] != c)
      return false;
  }
  return o == lit_n;
}

bool weft__tmpl_match(const weft__tmpl *t, const weft__rpath *p,
                      weft__tcap *caps) {
  unsigned n = p->n;
  size_t last_len = n ? p->len[n - 1] : 0;
  if (t->verb) {
    /* The verb is split off the last segment at its last ':'. */
    if (!n)
      return false;
    const char *ls = p->seg[n - 1];
    size_t k = last_len;
    while (k > 0 && ls[k - 1] != ':')
      k--;
    if (k == 0 || !seg_eq(ls + k, last_len - k, t->verb, strlen(t->verb)))
      return false;
    last_len = k - 1;
  }
  /* Path segment i's length, the last one without its verb. */
#define SEGLEN(i) ((i) == n - 1 ? last_len : p->len[i])
  unsigned pi = 0;
  unsigned seg_start[WEFT__REST_MAX_SEGS + 1];
  for (unsigned ti = 0; ti < t->n_segs; ti++) {
    const weft__tseg *sg = &t->segs[ti];
    seg_start[ti] = pi;
    if (sg->kind == WEFT__TSEG_DSTAR) {
      pi = n; /* zero or more: the rest of the path */
      continue;
    }
    if (pi >= n)
      return false;
    if (sg->kind == WEFT__TSEG_STAR) {
      if (SEGLEN(pi) == 0)
        return false;
    } else if (!seg_eq(p->seg[pi], SEGLEN(pi), sg->lit, sg->lit_len)) {
      return false;
    }
    pi++;
  }
  seg_start[t->n_segs] = pi;
  if (pi != n)
    return false;
  for (unsigned v = 0; v < t->n_vars; v++) {
    const weft__tvar *tv = &t->vars[v];
    unsigned a = seg_start[tv->first], b = seg_start[tv->first + tv->n];
    if (a == b) { /* "**" over nothing */
      caps[v].p = a < n ? p->seg[a] : "";
      caps[v].len = 0;
      continue;
    }
    caps[v].p = p->seg[a];
    caps[v].len = (size_t)(p->seg[b - 1] + SEGLEN(b - 1) - p->seg[a]);
  }
#undef SEGLEN
  return true;
}

int weft__tmpl_cmp(const weft__tmpl *a, const weft__tmpl *b) {
  unsigned n = a->n_segs < b->n_segs ? a->n_segs : b->n_segs;
  static const int rank[] = {2, 1, 0}; /* LIT, STAR, DSTAR */
  for (unsigned i = 0; i < n; i++) {
    int ra = rank[a->segs[i].kind], rb = rank[b->segs[i].kind];
    if (ra != rb)
      return ra - rb;
  }
  if (a->n_segs != b->n_segs) /* the other ended in "**" over nothing */
    return a->n_segs > b->n_segs ? 1 : -1;
  return (a->verb != NULL) - (b->verb != NULL);
}
