/* Gathering a block of CRLF-terminated lines up to its empty line (a
 * message head, or a trailer section), across feeds of any size. Shared by
 * the server engine (request heads), the client engine (response heads)
 * and the body framer (trailer sections, chunk-size lines), so the three
 * refuse the same things with the same words: a bare LF, a NUL, a block or
 * a line over its limit (checked before anything past the limit is kept),
 * too many fields. No I/O; the owner parses the block once it is whole
 * (weft__h1_parse_fields). */
#ifndef WEFT_TRANSPORTS_HTTP1_H1_LINES_H
#define WEFT_TRANSPORTS_HTTP1_H1_LINES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weft/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a block looks like. Names are for messages ("request head line 2
 * ends with a bare LF", "more than 100 trailer fields"). */
typedef struct weft__h1_lines_opts {
  const char *what;        /* the block: "request head", "trailer section" */
  const char *start_line;  /* "request line", "status line"; NULL: the
                              block has no start line and may be empty */
  const char *fields_what; /* "fields", "trailer fields" */
  size_t max_bytes;        /* the block, CRLFs included but the last */
  size_t max_fields;       /* field lines (the start line not counted) */
  size_t max_start_line;   /* 0: only max_bytes bounds it */
  unsigned skip_blanks;    /* empty lines ignored before the start line */
} weft__h1_lines_opts;

/* Zero-initialized is an empty gatherer. */
typedef struct weft__h1_lines {
  char *buf; /* the block as received, CRLFs included */
  size_t len, cap;
  size_t line_start; /* offset of the line being read */
  size_t nlines;     /* complete non-empty lines so far */
  unsigned blanks;   /* leading empty lines skipped */
  int status;        /* after a failure: what a server answers it with
                        (400, 414, 431; 500 out of memory) */
} weft__h1_lines;

/* Takes bytes of [p, p + n) up to the end of the block. Returns 1 when the
 * block is whole (buf[0, len) ends with the empty line; *used bytes were
 * taken), 0 when all n were taken and more are needed, or < 0:
 * WEFT_ERR_PROTOCOL (bare LF, NUL, only empty lines), WEFT_ERR_TOO_BIG (a
 * line or the block over its limit), WEFT_ERR_LIMIT (too many fields),
 * WEFT_ERR_NOMEM; err says what and where, status is set. */
int weft__h1_lines_feed(weft__h1_lines *g, const weft__h1_lines_opts *o,
                        const uint8_t *p, size_t n, size_t *used,
                        weft_error *err);

/* Appends raw bytes (for a single line gathered by its owner). Returns 0 or
 * WEFT_ERR_NOMEM. Keeps one byte spare after the data. */
int weft__h1_lines_append(weft__h1_lines *g, const uint8_t *p, size_t n);

/* Empties the block for the next one; a large buffer is released, so an
 * idle connection costs little. */
void weft__h1_lines_reset(weft__h1_lines *g);
/* Releases the buffer and empties the block; the count of empty lines
 * skipped before a start line is kept (reset clears it). */
void weft__h1_lines_free(weft__h1_lines *g);

#ifdef __cplusplus
}
#endif
#endif
