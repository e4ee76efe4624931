/* Hand-written protobuf binary codec for weft.v1.Envelope; see envelope.h. */
#include "envelope.h"

#include <string.h>

/* Field numbers (schema/weft/v1/envelope.proto). */
enum {
  F_STREAM_ID = 1,
  F_KIND = 2,
  F_METHOD = 3,
  F_METADATA = 4,
  F_PAYLOAD = 5,
  F_STATUS = 6,
  F_TIMEOUT = 7
};
enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

/* ---- decoding -------------------------------------------------------- */

typedef struct rd {
  const uint8_t *p, *end;
} rd;

static int get_varint(rd *r, uint64_t *v) {
  uint64_t x = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    if (r->p >= r->end)
      return WEFT_ERR_TRUNCATED;
    uint8_t b = *r->p++;
    if (shift == 63 && b > 1)
      return WEFT_ERR_MALFORMED; /* over 64 bits */
    x |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *v = x;
      return 0;
    }
  }
  return WEFT_ERR_MALFORMED;
}

static int get_len(rd *r, weft__bytes *out) {
  uint64_t n;
  int rc = get_varint(r, &n);
  if (rc < 0)
    return rc;
  if (n > (uint64_t)(r->end - r->p))
    return WEFT_ERR_TRUNCATED;
  out->p = r->p;
  out->n = (size_t)n;
  r->p += n;
  return 0;
}

/* Skips a field of an unknown number. Groups (wire types 3 and 4) are not
 * used by any weft message and are refused. */
static int skip_field(rd *r, unsigned wt) {
  uint64_t v;
  weft__bytes b;
  switch (wt) {
  case WT_VARINT:
    return get_varint(r, &v);
  case WT_I64:
    if (r->end - r->p < 8)
      return WEFT_ERR_TRUNCATED;
    r->p += 8;
    return 0;
  case WT_LEN:
    return get_len(r, &b);
  case WT_I32:
    if (r->end - r->p < 4)
      return WEFT_ERR_TRUNCATED;
    r->p += 4;
    return 0;
  default:
    return WEFT_ERR_WIRE_TYPE;
  }
}

static int get_tag(rd *r, uint32_t *field, unsigned *wt) {
  uint64_t t;
  int rc = get_varint(r, &t);
  if (rc < 0)
    return rc;
  if (t >> 3 == 0 || t >> 3 > 0x1fffffff)
    return WEFT_ERR_MALFORMED;
  *field = (uint32_t)(t >> 3);
  *wt = (unsigned)(t & 7);
  return 0;
}

static int bad(weft_error *err, int rc, const char *where) {
  return weft_error_set(err, rc, "weft.v1.Envelope.%s: %s", where,
                        weft_strerror(rc));
}

static int decode_md_entry(weft__bytes in, weft__env_md *out) {
  static const uint8_t none[1];
  rd r = {in.p, in.p + in.n};
  out->key.p = out->value.p = none; /* never NULL, even when absent */
  out->key.n = out->value.n = 0;
  while (r.p < r.end) {
    uint32_t f;
    unsigned wt;
    int rc = get_tag(&r, &f, &wt);
    if (rc < 0)
      return rc;
    if ((f == 1 || f == 2) && wt == WT_LEN) {
      rc = get_len(&r, f == 1 ? &out->key : &out->value);
    } else if (f == 1 || f == 2) {
      return WEFT_ERR_WIRE_TYPE;
    } else {
      rc = skip_field(&r, wt);
    }
    if (rc < 0)
      return rc;
  }
  if (!weft_utf8_valid(out->key.p, out->key.n))
    return WEFT_ERR_UTF8;
  return 0;
}

static int decode_status(weft__env *e, weft__bytes in) {
  rd r = {in.p, in.p + in.n};
  while (r.p < r.end) {
    uint32_t f;
    unsigned wt;
    uint64_t v = 0;
    int rc = get_tag(&r, &f, &wt);
    if (rc < 0)
      return rc;
    if (f == 1) {
      if (wt != WT_VARINT)
        return WEFT_ERR_WIRE_TYPE;
      rc = get_varint(&r, &v);
      e->status_code = (int32_t)v;
    } else if (f == 2 || f == 3) {
      if (wt != WT_LEN)
        return WEFT_ERR_WIRE_TYPE;
      rc = get_len(&r, f == 2 ? &e->status_message : &e->status_details);
      if (rc == 0 && f == 2 &&
          !weft_utf8_valid(e->status_message.p, e->status_message.n))
        return WEFT_ERR_UTF8;
    } else {
      rc = skip_field(&r, wt);
    }
    if (rc < 0)
      return rc;
  }
  return 0;
}

int weft__env_decode(weft__env *e, const uint8_t *data, size_t len,
                     weft_error *err) {
  static const uint8_t empty[1];
  rd r = {data ? data : empty, (data ? data : empty) + len};
  memset(e, 0, sizeof *e);
  e->buf = r.p;
  e->buf_len = len;
  e->method.p = e->payload.p = e->status_message.p = e->status_details.p =
      empty;
  while (r.p < r.end) {
    uint32_t f;
    unsigned wt;
    uint64_t v;
    weft__bytes b;
    int rc = get_tag(&r, &f, &wt);
    if (rc < 0)
      return bad(err, rc, "(tag)");
    switch (f) {
    case F_STREAM_ID:
    case F_KIND:
    case F_TIMEOUT:
      if (wt != WT_VARINT)
        return bad(err, WEFT_ERR_WIRE_TYPE,
                   f == F_STREAM_ID ? "stream_id"
                   : f == F_KIND    ? "kind"
                                    : "timeout_ms");
      if ((rc = get_varint(&r, &v)) < 0)
        return bad(err, rc, "stream_id/kind/timeout_ms");
      if (f == F_STREAM_ID)
        e->stream_id = v;
      else if (f == F_KIND)
        e->kind = (int32_t)v;
      else
        e->timeout_ms = (int64_t)v;
      break;
    case F_METHOD:
    case F_METADATA:
    case F_PAYLOAD:
    case F_STATUS: {
      const char *name = f == F_METHOD     ? "method"
                         : f == F_METADATA ? "metadata"
                         : f == F_PAYLOAD  ? "payload"
                                           : "status";
      if (wt != WT_LEN)
        return bad(err, WEFT_ERR_WIRE_TYPE, name);
      if ((rc = get_len(&r, &b)) < 0)
        return bad(err, rc, name);
      if (f == F_METHOD) {
        if (!weft_utf8_valid(b.p, b.n))
          return bad(err, WEFT_ERR_UTF8, name);
        e->method = b;
      } else if (f == F_METADATA) {
        weft__env_md m;
        if ((rc = decode_md_entry(b, &m)) < 0)
          return weft_error_set(err, rc, "weft.v1.Envelope.metadata[%zu]: %s",
                                e->n_md, weft_strerror(rc));
        e->n_md++;
      } else if (f == F_PAYLOAD) {
        e->payload = b;
        e->has_payload = true;
      } else {
        if ((rc = decode_status(e, b)) < 0)
          return bad(err, rc, "status");
        e->has_status = true;
      }
      break;
    }
    default:
      if ((rc = skip_field(&r, wt)) < 0)
        return bad(err, rc, "(unknown field)");
    }
  }
  return 0;
}

int weft__env_md_next(const weft__env *e, size_t *pos, weft__env_md *out) {
  rd r = {e->buf + *pos, e->buf + e->buf_len};
  while (r.p < r.end) {
    uint32_t f;
    unsigned wt;
    weft__bytes b;
    if (get_tag(&r, &f, &wt) < 0)
      return 0;
    if (f == F_METADATA && wt == WT_LEN) {
      if (get_len(&r, &b) < 0 || decode_md_entry(b, out) < 0)
        return 0;
      *pos = (size_t)(r.p - e->buf);
      return 1;
    }
    if (skip_field(&r, wt) < 0)
      return 0;
  }
  *pos = e->buf_len;
  return 0;
}

/* ---- encoding -------------------------------------------------------- */

static size_t varint_size(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  *p++ = (uint8_t)v;
  return p;
}

static size_t len_field_size(size_t n) { /* tag (1 byte) + len + bytes */
  return 1 + varint_size(n) + n;
}

static uint8_t *put_len_field(uint8_t *p, uint32_t field, const void *data,
                              size_t n) {
  *p++ = (uint8_t)(field << 3 | WT_LEN);
  p = put_varint(p, n);
  if (n)
    memcpy(p, data, n);
  return p + n;
}

/* Reads the i-th metadata entry out of the (possibly strided) arrays. */
static void md_at(const weft__env_out *o, size_t i, const char **k,
                  const uint8_t **v, size_t *vl) {
  if (o->md_stride) {
    *k = *(const char *const *)(const void *)((const char *)o->md_keys +
                                              i * o->md_stride);
    *v = *(const uint8_t *const *)(const void *)((const char *)o->md_values +
                                                 i * o->md_stride);
    *vl = *(const size_t *)(const void *)((const char *)o->md_value_lens +
                                          i * o->md_stride);
  } else {
    *k = o->md_keys[i];
    *v = o->md_values[i];
    *vl = o->md_value_lens[i];
  }
}

static size_t md_entry_size(const char *k, size_t vl) {
  size_t kl = strlen(k);
  return (kl ? len_field_size(kl) : 0) + (vl ? len_field_size(vl) : 0);
}

static size_t status_size(const weft__env_out *o) {
  size_t n = 0;
  if (o->status_code)
    n += 1 + varint_size((uint64_t)(int64_t)o->status_code);
  if (o->status_message && *o->status_message)
    n += len_field_size(strlen(o->status_message));
  if (o->status_details_len)
    n += len_field_size(o->status_details_len);
  return n;
}

size_t weft__env_size(const weft__env_out *o) {
  size_t n = 0;
  if (o->stream_id)
    n += 1 + varint_size(o->stream_id);
  if (o->kind)
    n += 1 + varint_size((uint64_t)(int64_t)o->kind);
  if (o->method && *o->method)
    n += len_field_size(strlen(o->method));
  for (size_t i = 0; i < o->n_md; i++) {
    const char *k;
    const uint8_t *v;
    size_t vl;
    md_at(o, i, &k, &v, &vl);
    n += len_field_size(md_entry_size(k, vl));
  }
  if (o->has_payload && o->payload_len)
    n += len_field_size(o->payload_len);
  if (o->has_status)
    n += len_field_size(status_size(o));
  if (o->timeout_ms)
    n += 1 + varint_size((uint64_t)o->timeout_ms);
  return n;
}

ssize_t weft__env_encode(const weft__env_out *o, uint8_t *buf, size_t cap) {
  uint8_t *p = buf;
  if (cap < weft__env_size(o))
    return WEFT_ERR_TOO_BIG;
  if (o->stream_id) {
    *p++ = F_STREAM_ID << 3 | WT_VARINT;
    p = put_varint(p, o->stream_id);
  }
  if (o->kind) {
    *p++ = F_KIND << 3 | WT_VARINT;
    p = put_varint(p, (uint64_t)(int64_t)o->kind);
  }
  if (o->method && *o->method)
    p = put_len_field(p, F_METHOD, o->method, strlen(o->method));
  for (size_t i = 0; i < o->n_md; i++) {
    const char *k;
    const uint8_t *v;
    size_t vl, kl;
    md_at(o, i, &k, &v, &vl);
    kl = strlen(k);
    *p++ = F_METADATA << 3 | WT_LEN;
    p = put_varint(p, md_entry_size(k, vl));
    if (kl)
      p = put_len_field(p, 1, k, kl);
    if (vl)
      p = put_len_field(p, 2, v, vl);
  }
  if (o->has_payload && o->payload_len) {
    *p++ = F_PAYLOAD << 3 | WT_LEN;
    p = put_varint(p, o->payload_len);
    if (o->payload_write) {
      ssize_t w = o->payload_write(o->payload_ud, p, o->payload_len);
      if (w < 0)
        return w;
      if ((size_t)w != o->payload_len)
        return WEFT_ERR_INTERNAL;
    } else {
      memcpy(p, o->payload, o->payload_len);
    }
    p += o->payload_len;
  }
  if (o->has_status) {
    *p++ = F_STATUS << 3 | WT_LEN;
    p = put_varint(p, status_size(o));
    if (o->status_code) {
      *p++ = 1 << 3 | WT_VARINT;
      p = put_varint(p, (uint64_t)(int64_t)o->status_code);
    }
    if (o->status_message && *o->status_message)
      p = put_len_field(p, 2, o->status_message, strlen(o->status_message));
    if (o->status_details_len)
      p = put_len_field(p, 3, o->status_details, o->status_details_len);
  }
  if (o->timeout_ms) {
    *p++ = F_TIMEOUT << 3 | WT_VARINT;
    p = put_varint(p, (uint64_t)o->timeout_ms);
  }
  return p - buf;
}
