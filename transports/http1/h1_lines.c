/* Gathering CRLF-terminated lines up to the empty line (RFC 9112 sections
 * 2.2 and 5). See h1_lines.h. */
#include "h1_lines.h"

#include "h1_common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEEP_CAP 4096 /* a buffer past this is released between blocks */

static int fail(weft__h1_lines *g, weft_error *err, int code, int status,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int fail(weft__h1_lines *g, weft_error *err, int code, int status,
                const char *fmt, ...) {
  g->status = status;
  va_list ap;
  va_start(ap, fmt);
  weft__h1_verror(err, code, "", fmt, ap);
  va_end(ap);
  return code;
}

int weft__h1_lines_append(weft__h1_lines *g, const uint8_t *p, size_t n) {
  if (g->len + n + 1 > g->cap) {
    size_t cap = g->cap ? g->cap : 512;
    while (cap < g->len + n + 1)
      cap *= 2;
    char *b = realloc(g->buf, cap);
    if (!b)
      return WEFT_ERR_NOMEM;
    g->buf = b;
    g->cap = cap;
  }
  memcpy(g->buf + g->len, p, n);
  g->len += n;
  return 0;
}

int weft__h1_lines_feed(weft__h1_lines *g, const weft__h1_lines_opts *o,
                        const uint8_t *p, size_t n, size_t *used,
                        weft_error *err) {
  size_t i = 0;
  while (i < n) {
    const uint8_t *lf = memchr(p + i, '\n', n - i);
    size_t take = lf ? (size_t)(lf - (p + i)) + 1 : n - i;
    bool first = o->start_line && g->nlines == 0;
    /* Limits before anything is buffered past them (+2 for the CRLF). */
    if (first && o->max_start_line &&
        g->len - g->line_start + take > o->max_start_line + 2)
      return fail(g, err, WEFT_ERR_TOO_BIG, 414, "%s longer than %zu bytes",
                  o->start_line, o->max_start_line);
    if (g->len + take > o->max_bytes + 2)
      return fail(g, err, WEFT_ERR_TOO_BIG, 431, "%s longer than %zu bytes",
                  o->what, o->max_bytes);
    if (weft__h1_lines_append(g, p + i, take) < 0)
      return fail(g, err, WEFT_ERR_NOMEM, 500, "out of memory");
    i += take;
    if (!lf)
      break;
    size_t len = g->len - g->line_start;
    if (len < 2 || g->buf[g->len - 2] != '\r')
      return fail(g, err, WEFT_ERR_PROTOCOL, 400,
                  "%s line %zu ends with a bare LF (CRLF required)", o->what,
                  g->nlines + 1);
    /* The lines are parsed as C strings: a NUL would cut a value short
     * and hide what follows it. */
    if (memchr(g->buf + g->line_start, '\0', len))
      return fail(g, err, WEFT_ERR_PROTOCOL, 400, "NUL byte in %s line %zu",
                  o->what, g->nlines + 1);
    if (len == 2) { /* the empty line */
      if (first) {
        /* RFC 9112 section 2.2: a server SHOULD ignore at least one empty
         * line received before the request-line. */
        if (++g->blanks > o->skip_blanks)
          return fail(g, err, WEFT_ERR_PROTOCOL, 400,
                      "empty line instead of a %s", o->start_line);
        g->len = g->line_start;
        continue;
      }
      *used = i;
      return 1;
    }
    if (++g->nlines > o->max_fields + (o->start_line ? 1 : 0))
      return fail(g, err, WEFT_ERR_LIMIT, 431, "more than %zu %s",
                  o->max_fields, o->fields_what);
    g->line_start = g->len;
  }
  *used = i;
  return 0;
}

void weft__h1_lines_reset(weft__h1_lines *g) {
  g->len = g->line_start = g->nlines = 0;
  g->blanks = 0;
  if (g->cap > KEEP_CAP)
    weft__h1_lines_free(g);
}

void weft__h1_lines_free(weft__h1_lines *g) {
  free(g->buf);
  g->buf = NULL;
  g->len = g->cap = g->line_start = g->nlines = 0;
  /* blanks stays: it bounds what a peer sends, not what is buffered (an
   * idle connection's buffer is released between empty lines too). */
}
