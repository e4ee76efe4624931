/* Internals of the REST mapper (weft/rest.h): google.api.http path
 * templates, compiled once and matched against request paths.
 *
 * The template parser depends on libc and weft_error only, so
 * protoc-gen-weft compiles it too and rejects a malformed template at
 * generation time with the same message the runtime would give. */
#ifndef WEFT_REST_INTERNAL_H
#define WEFT_REST_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weft/error.h"

/* Segments of a request path (or template) at most; a longer path
 * matches no template. */
#define WEFT__REST_MAX_SEGS 64

enum { WEFT__TSEG_LIT = 0, WEFT__TSEG_STAR = 1, WEFT__TSEG_DSTAR = 2 };

typedef struct weft__tseg {
  uint8_t kind; /* WEFT__TSEG_* */
  char *lit;    /* LIT: the literal, percent-decoded */
  size_t lit_len;
} weft__tseg;

/* A variable binds the segments [first, first + n) to a field path. */
typedef struct weft__tvar {
  char *field; /* "a.b.c" as written */
  unsigned first, n;
  bool multi; /* contains "**": '/' and "%2F" are kept as is */
} weft__tvar;

typedef struct weft__tmpl {
  weft__tseg *segs;
  unsigned n_segs;
  weft__tvar *vars;
  unsigned n_vars;
  char *verb; /* after ':', NULL if none */
} weft__tmpl;

/* Parses a path template (google/api/http.proto's grammar):
 *   Template = "/" Segments [ Verb ] ;   Segments = Segment { "/" Segment } ;
 *   Segment  = "*" | "**" | LITERAL | Variable ;
 *   Variable = "{" FieldPath [ "=" Segments ] "}" ;
 *   FieldPath = IDENT { "." IDENT } ;    Verb = ":" LITERAL ;
 * with its rules: "**" only as the last segment, no nested variables, a
 * field bound once. Returns 0, WEFT_ERR_INVAL with err saying what is
 * wrong and at which byte offset, or WEFT_ERR_NOMEM. On error *t is left
 * empty (free is still safe). */
int weft__tmpl_parse(const char *s, weft__tmpl *t, weft_error *err);
void weft__tmpl_free(weft__tmpl *t);

/* A request path split into raw (still percent-encoded) segments. */
typedef struct weft__rpath {
  const char *seg[WEFT__REST_MAX_SEGS];
  size_t len[WEFT__REST_MAX_SEGS];
  unsigned n;
} weft__rpath;

/* Splits path (must start with '/'; one trailing '/' is ignored, as the
 * AITBC server does). Returns 0, or WEFT_ERR_INVAL (no leading '/', too
 * many segments). */
int weft__rpath_split(const char *path, size_t len, weft__rpath *p,
                      weft_error *err);

/* A variable's value in the path: the raw span it covers. */
typedef struct weft__tcap {
  const char *p;
  size_t len;
} weft__tcap;

/* Matches a split path against t. Returns true and fills caps[i] for each
 * of t's variables (caps has t->n_vars entries); literals compare after
 * percent-decoding the path segment. */
bool weft__tmpl_match(const weft__tmpl *t, const weft__rpath *p,
                      weft__tcap *caps);

/* Orders two templates that match the same path: > 0 if a is the more
 * specific (a literal beats a variable or "*", which beat "**"; then a
 * verb beats none), < 0 if b is, 0 if equal. */
int weft__tmpl_cmp(const weft__tmpl *a, const weft__tmpl *b);

/* Percent-decodes src[0..n) into a new NUL-terminated string (*out,
 * malloc'd). keep_slash: "%2F"/"%2f" stays encoded (multi-segment
 * variables). plus_space: '+' means ' ' (query strings). Returns 0, or
 * WEFT_ERR_INVAL for a bad escape or an encoded NUL, WEFT_ERR_NOMEM. */
int weft__pct_decode(const char *src, size_t n, bool keep_slash,
                     bool plus_space, char **out, size_t *out_len);

#endif
