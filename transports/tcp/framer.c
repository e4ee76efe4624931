/* Length-prefix framer; see framer.h. */
#include "framer.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_FRAME (4u * 1024u * 1024u)

void weft__lpf_init(weft__lpf *f, size_t max_frame) {
  memset(f, 0, sizeof *f);
  f->max_frame = max_frame ? max_frame : DEFAULT_MAX_FRAME;
}

static void body_free(weft__lpf *f, void *p) {
  if (f->dealloc)
    f->dealloc(p);
  else
    free(p);
}

void weft__lpf_free(weft__lpf *f) {
  if (f->body)
    body_free(f, f->body);
  f->body = NULL;
  f->body_len = f->body_have = 0;
  f->hdr_have = 0;
}

bool weft__lpf_idle(const weft__lpf *f) {
  return f->hdr_have == 0 && f->body == NULL;
}

static uint32_t get_be32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
         ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static int fail(weft__lpf *f, int code) {
  f->failed = code;
  weft__lpf_free(f);
  return code;
}

static int too_big(weft__lpf *f, uint32_t n, weft_error *err) {
  weft_error_set(err, WEFT_ERR_FRAME_TOO_BIG,
                 "length-prefixed frame of %lu bytes is over the limit of "
                 "%zu bytes",
                 (unsigned long)n, f->max_frame);
  return fail(f, WEFT_ERR_FRAME_TOO_BIG);
}

ssize_t weft__lpf_feed(weft__lpf *f, const uint8_t *data, size_t len,
                       weft__lpf_frame_fn fn, void *ud, weft_error *err) {
  size_t pos = 0;
  if (f->failed) {
    return weft_error_set(err, f->failed,
                          "length-prefixed framer already failed");
  }
  while (pos < len) {
    if (f->body) { /* finishing a frame split across chunks */
      size_t want = f->body_len - f->body_have;
      size_t take = len - pos < want ? len - pos : want;
      memcpy(f->body + f->body_have, data + pos, take);
      f->body_have += take;
      pos += take;
      if (f->body_have < f->body_len)
        break;
      uint8_t *b = f->body;
      size_t bl = f->body_len;
      f->body = NULL; /* the frame is complete: the framer is idle again */
      f->body_len = f->body_have = 0;
      int rc = fn(ud, b, bl);
      body_free(f, b);
      if (rc < 0)
        return fail(f, rc);
      if (rc > 0)
        return (ssize_t)pos;
      continue;
    }
    uint32_t n;
    if (f->hdr_have == 0 && len - pos >= WEFT__LPF_HDR) {
      n = get_be32(data + pos); /* fast path: header in one piece */
      if (n > f->max_frame)
        return too_big(f, n, err);
      if (len - pos - WEFT__LPF_HDR >= n) { /* whole frame here: no copy */
        pos += WEFT__LPF_HDR + n;
        int rc = fn(ud, data + pos - n, n);
        if (rc < 0)
          return fail(f, rc);
        if (rc > 0)
          return (ssize_t)pos;
        continue;
      }
      pos += WEFT__LPF_HDR;
    } else {
      while (f->hdr_have < WEFT__LPF_HDR && pos < len)
        f->hdr[f->hdr_have++] = data[pos++];
      if (f->hdr_have < WEFT__LPF_HDR)
        break;
      f->hdr_have = 0;
      n = get_be32(f->hdr);
      if (n > f->max_frame)
        return too_big(f, n, err);
      if (n == 0 || len - pos >= n) { /* rest of the frame is here */
        pos += n;
        int rc = fn(ud, data + pos - n, n);
        if (rc < 0)
          return fail(f, rc);
        if (rc > 0)
          return (ssize_t)pos;
        continue;
      }
    }
    /* Partial body: the size is checked, so allocate it now. */
    f->body = f->alloc ? f->alloc(n) : malloc(n);
    if (!f->body) {
      weft_error_set(err, WEFT_ERR_NOMEM, "frame of %lu bytes",
                     (unsigned long)n);
      return fail(f, WEFT_ERR_NOMEM);
    }
    f->body_len = n;
    f->body_have = 0;
  }
  return (ssize_t)pos;
}
