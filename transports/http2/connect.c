#include "connect.h"

#include <stdint.h>
#include <cjson/cJSON.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "weft/base64.h"

int weft__connect_http_status(int code) {
  switch (code) {
  case WEFT_STATUS_OK:
    return 200;
  case WEFT_STATUS_CANCELLED:
    return 499;
  case WEFT_STATUS_INVALID_ARGUMENT:
  case WEFT_STATUS_FAILED_PRECONDITION:
  case WEFT_STATUS_OUT_OF_RANGE:
    return 400;
  case WEFT_STATUS_DEADLINE_EXCEEDED:
    return 504;
  case WEFT_STATUS_NOT_FOUND:
    return 404;
  case WEFT_STATUS_ALREADY_EXISTS:
  case WEFT_STATUS_ABORTED:
    return 409;
  case WEFT_STATUS_PERMISSION_DENIED:
    return 403;
  case WEFT_STATUS_RESOURCE_EXHAUSTED:
    return 429;
  case WEFT_STATUS_UNIMPLEMENTED:
    return 501;
  case WEFT_STATUS_UNAVAILABLE:
    return 503;
  case WEFT_STATUS_UNAUTHENTICATED:
    return 401;
  default: /* UNKNOWN, INTERNAL, DATA_LOSS and anything else */
    return 500;
  }
}

int weft__connect_code_from_http(int http_status) {
  switch (http_status) {
  case 200:
    return WEFT_STATUS_OK;
  case 400:
    return WEFT_STATUS_INTERNAL;
  case 401:
    return WEFT_STATUS_UNAUTHENTICATED;
  case 403:
    return WEFT_STATUS_PERMISSION_DENIED;
  case 404:
    return WEFT_STATUS_UNIMPLEMENTED;
  case 429:
  case 502:
  case 503:
  case 504:
    return WEFT_STATUS_UNAVAILABLE;
  default:
    return WEFT_STATUS_UNKNOWN;
  }
}

/* Standard base64 without padding, as Connect's error details use it. */
static char *base64(const uint8_t *p, size_t n) {
  char *out = malloc(weft_base64_encoded_len(n, WEFT_BASE64_NOPAD) + 1);
  if (out)
    out[weft_base64_encode(p, n, out, WEFT_BASE64_NOPAD)] = '\0';
  return out;
}

/* One length-delimited or varint field of a protobuf message; false at the
 * end or on malformed input (details are best effort: a bad blob is
 * dropped, the status still goes out). */
typedef struct pb_field {
  uint32_t num;
  unsigned wt;
  uint64_t v;
  const uint8_t *p;
  size_t n;
} pb_field;

static bool varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
  *v = 0;
  for (int shift = 0; shift < 64 && *p < end; shift += 7) {
    uint8_t b = *(*p)++;
    *v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80))
      return true;
  }
  return false;
}

static bool next_field(const uint8_t **p, const uint8_t *end, pb_field *f) {
  uint64_t tag;
  if (*p >= end || !varint(p, end, &tag) || (tag >> 3) == 0 ||
      (tag >> 3) > UINT32_MAX)
    return false;
  f->num = (uint32_t)(tag >> 3);
  f->wt = (unsigned)(tag & 7);
  f->p = NULL;
  f->n = 0;
  switch (f->wt) {
  case 0:
    return varint(p, end, &f->v);
  case 1:
  case 5: {
    size_t k = f->wt == 1 ? 8 : 4;
    if ((size_t)(end - *p) < k)
      return false;
    *p += k;
    return true;
  }
  case 2:
    if (!varint(p, end, &f->v) || f->v > (uint64_t)(end - *p))
      return false;
    f->p = *p;
    f->n = (size_t)f->v;
    *p += f->n;
    return true;
  default:
    return false;
  }
}

/* st->details is a serialized google.rpc.Status: its field 3 holds the
 * google.protobuf.Any details, which Connect sends as {"type": the type
 * name, "value": base64 of the message}. */
static void add_details(cJSON *o, const weft_status *st) {
  if (!st->details || !st->details_len)
    return;
  const uint8_t *p = st->details, *end = p + st->details_len;
  cJSON *arr = NULL;
  pb_field f;
  while (next_field(&p, end, &f)) {
    if (f.num != 3 || f.wt != 2)
      continue;
    const uint8_t *q = f.p, *qend = f.p + f.n;
    const uint8_t *url = NULL, *val = NULL;
    size_t url_n = 0, val_n = 0;
    pb_field g;
    while (next_field(&q, qend, &g)) {
      if (g.num == 1 && g.wt == 2)
        url = g.p, url_n = g.n;
      else if (g.num == 2 && g.wt == 2)
        val = g.p, val_n = g.n;
    }
    if (!url)
      continue;
    const uint8_t *slash = NULL;
    for (const uint8_t *c = url; c < url + url_n; c++)
      if (*c == '/')
        slash = c; /* the type name is after the last '/' */
    size_t skip = slash ? (size_t)(slash - url) + 1 : 0;
    char *type = strndup((const char *)url + skip, url_n - skip);
    char *b64 = base64(val ? val : (const uint8_t *)"", val_n);
    cJSON *d = cJSON_CreateObject();
    if (type && b64 && d &&
        (arr || (arr = cJSON_AddArrayToObject(o, "details")))) {
      cJSON_AddStringToObject(d, "type", type);
      cJSON_AddStringToObject(d, "value", b64);
      cJSON_AddItemToArray(arr, d);
      d = NULL;
    }
    cJSON_Delete(d);
    free(type);
    free(b64);
  }
}

static cJSON *error_object(const weft_status *st) {
  cJSON *o = cJSON_CreateObject();
  if (!o)
    return NULL;
  cJSON_AddStringToObject(o, "code", weft_status_connect_name(st->code));
  if (st->message && st->message[0])
    cJSON_AddStringToObject(o, "message", st->message);
  add_details(o, st);
  return o;
}

static int print_json(cJSON *root, char **out, size_t *len) {
  char *s = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  if (!s)
    return WEFT_ERR_NOMEM;
  *out = s;
  if (len)
    *len = strlen(s);
  return 0;
}

int weft__connect_error_json(const weft_status *st, char **out, size_t *len) {
  cJSON *o = error_object(st);
  if (!o)
    return WEFT_ERR_NOMEM;
  return print_json(o, out, len);
}

static cJSON *metadata_object(const weft_metadata *md) {
  cJSON *o = cJSON_CreateObject();
  if (!o || !md)
    return o;
  for (size_t i = 0; i < md->count; i++) {
    const weft_metadata_entry *e = &md->entries[i];
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, e->key);
    if (!arr) {
      arr = cJSON_AddArrayToObject(o, e->key);
      if (!arr)
        continue;
    }
    /* Values are text; "-bin" values were base64-encoded by the caller. */
    char *v = malloc(e->value_len + 1);
    if (!v)
      continue;
    if (e->value_len)
      memcpy(v, e->value, e->value_len);
    v[e->value_len] = '\0';
    cJSON_AddItemToArray(arr, cJSON_CreateString(v));
    free(v);
  }
  return o;
}

int weft__connect_end_stream_json(const weft_status *st,
                                  const weft_metadata *trailers, char **out,
                                  size_t *len) {
  cJSON *root = cJSON_CreateObject();
  if (!root)
    return WEFT_ERR_NOMEM;
  if (st && st->code != WEFT_STATUS_OK) {
    cJSON *e = error_object(st);
    if (e)
      cJSON_AddItemToObject(root, "error", e);
  }
  if (trailers && trailers->count) {
    cJSON *m = metadata_object(trailers);
    if (m)
      cJSON_AddItemToObject(root, "metadata", m);
  }
  return print_json(root, out, len);
}

/* Appends to a malloc'd protobuf buffer; *oom sticks. */
typedef struct pb_out {
  uint8_t *p;
  size_t n, cap;
  bool oom;
} pb_out;

static void put(pb_out *o, const void *p, size_t n) {
  if (o->oom || !n)
    return;
  if (o->n + n > o->cap) {
    size_t cap = (o->cap ? o->cap * 2 : 64) + n;
    uint8_t *np = realloc(o->p, cap);
    if (!np) {
      o->oom = true;
      return;
    }
    o->p = np, o->cap = cap;
  }
  memcpy(o->p + o->n, p, n);
  o->n += n;
}

static void put_varint(pb_out *o, uint64_t v) {
  uint8_t b[10];
  size_t k = 0;
  do {
    b[k++] = (uint8_t)(v & 0x7f) | (v > 0x7f ? 0x80 : 0);
    v >>= 7;
  } while (v);
  put(o, b, k);
}

static void put_bytes(pb_out *o, uint32_t num, const void *p, size_t n) {
  put_varint(o, (uint64_t)num << 3 | 2);
  put_varint(o, n);
  put(o, p, n);
}

/* The reverse of add_details: a Connect error's "details" back into a
 * serialized google.rpc.Status (code, message, and each {type, value} as a
 * google.protobuf.Any), so a client sees the same bytes over HTTP/2 as
 * over gRPC. Entries that are not {string type, base64 value} are dropped;
 * with none left st->details stays empty. */
static void fill_details(const cJSON *arr, weft_status *st) {
  pb_out status = {0}, any = {0};
  bool some = false;
  const cJSON *d;
  cJSON_ArrayForEach(d, arr) {
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(d, "type");
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(d, "value");
    if (!cJSON_IsString(type) || !cJSON_IsString(value) ||
        !type->valuestring[0])
      continue;
    /* Standard or URL-safe, padded or not (weft/base64.h). */
    size_t vn = strlen(value->valuestring);
    uint8_t *bin = malloc(WEFT_BASE64_DECODED_MAX(vn));
    long bn = bin ? weft_base64_decode(value->valuestring, vn, bin) : -1;
    if (bn >= 0) {
      if (!some) {
        if (st->code)
          put_varint(&status, 1 << 3), put_varint(&status, (uint64_t)st->code);
        if (st->message && st->message[0])
          put_bytes(&status, 2, st->message, strlen(st->message));
        some = true;
      }
      static const char prefix[] = "type.googleapis.com/";
      const char *t = type->valuestring;
      any.n = 0;
      if (!strchr(t, '/')) { /* Connect sends the bare type name */
        put_varint(&any, 1 << 3 | 2);
        put_varint(&any, sizeof prefix - 1 + strlen(t));
        put(&any, prefix, sizeof prefix - 1);
        put(&any, t, strlen(t));
      } else {
        put_bytes(&any, 1, t, strlen(t));
      }
      if (bn > 0) /* as a protobuf encoder writes it: empty bytes omitted */
        put_bytes(&any, 2, bin, (size_t)bn);
      put_bytes(&status, 3, any.p, any.n);
    }
    free(bin);
  }
  free(any.p);
  if (some && !status.oom && !any.oom) {
    st->details = status.p;
    st->details_len = status.n;
  } else {
    free(status.p);
  }
}

static void fill_error(const cJSON *e, int fallback_code, weft_status *st) {
  const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
  const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");
  int c = cJSON_IsString(code) ? weft_status_from_name(code->valuestring) : -1;
  if (c < 0)
    c = fallback_code;
  weft_status_set(st, c, "%s", cJSON_IsString(msg) ? msg->valuestring : "");
  const cJSON *details = cJSON_GetObjectItemCaseSensitive(e, "details");
  if (cJSON_IsArray(details))
    fill_details(details, st);
}

int weft__connect_parse_error(const char *body, size_t len, int fallback_code,
                              weft_status *st) {
  cJSON *root = body ? cJSON_ParseWithLength(body, len) : NULL;
  if (!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    weft_status_set(st, fallback_code, "HTTP error without a Connect body");
    return 0;
  }
  fill_error(root, fallback_code, st);
  cJSON_Delete(root);
  return 0;
}

int weft__connect_parse_end_stream(const char *body, size_t len,
                                   weft_status *st, weft_metadata *trailers) {
  cJSON *root = cJSON_ParseWithLength(body, len);
  if (!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    return WEFT_ERR_MALFORMED;
  }
  const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
  if (cJSON_IsObject(e))
    fill_error(e, WEFT_STATUS_UNKNOWN, st);
  else
    weft_status_set(st, WEFT_STATUS_OK, "%s", "");
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "metadata");
  if (trailers && cJSON_IsObject(m)) {
    const cJSON *kv;
    cJSON_ArrayForEach(kv, m) {
      const cJSON *v;
      cJSON_ArrayForEach(v, kv) {
        if (cJSON_IsString(v))
          weft_metadata_add_str(trailers, kv->string, v->valuestring);
      }
    }
  }
  cJSON_Delete(root);
  return 0;
}

int64_t weft__connect_parse_timeout(const char *v, size_t len) {
  if (len == 0 || len > 10)
    return -1;
  int64_t n = 0;
  for (size_t i = 0; i < len; i++) {
    if (v[i] < '0' || v[i] > '9')
      return -1;
    n = n * 10 + (v[i] - '0');
  }
  return n > 0 ? n : -1; /* the spec asks for a positive integer */
}

void weft__connect_reader_init(weft__connect_reader *r, size_t max_size) {
  memset(r, 0, sizeof *r);
  r->max_size = max_size;
}

void weft__connect_reader_free(weft__connect_reader *r) {
  free(r->buf);
  r->buf = NULL;
}

bool weft__connect_reader_idle(const weft__connect_reader *r) {
  return r->hdr_have == 0;
}

int weft__connect_reader_feed(weft__connect_reader *r, const uint8_t *data,
                              size_t len, weft__connect_msg_fn on_msg, void *ud,
                              weft_error *err) {
  while (len > 0) {
    if (r->hdr_have < 5) {
      size_t n = 5 - r->hdr_have;
      if (n > len)
        n = len;
      memcpy(r->hdr + r->hdr_have, data, n);
      r->hdr_have += n;
      data += n;
      len -= n;
      if (r->hdr_have < 5)
        return 0;
      r->flags = r->hdr[0];
      r->want = (size_t)r->hdr[1] << 24 | (size_t)r->hdr[2] << 16 |
                (size_t)r->hdr[3] << 8 | r->hdr[4];
      if (r->want > r->max_size)
        return weft_error_set(err, WEFT_ERR_FRAME_TOO_BIG,
                              "enveloped message of %zu bytes is over the "
                              "%zu-byte limit",
                              r->want, r->max_size);
      r->have = 0;
      free(r->buf);
      r->buf = r->want ? malloc(r->want) : NULL;
      if (r->want && !r->buf)
        return weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
    }
    size_t n = r->want - r->have;
    if (n > len)
      n = len;
    if (n) {
      memcpy(r->buf + r->have, data, n);
      r->have += n;
      data += n;
      len -= n;
    }
    if (r->have == r->want) {
      int rv = on_msg(ud, r->flags, r->buf, r->want);
      r->hdr_have = 0;
      if (rv < 0)
        return rv;
    }
  }
  return 0;
}

void weft__connect_envelope_header(uint8_t out[5], uint8_t flags,
                                   uint32_t len) {
  out[0] = flags;
  out[1] = (uint8_t)(len >> 24);
  out[2] = (uint8_t)(len >> 16);
  out[3] = (uint8_t)(len >> 8);
  out[4] = (uint8_t)len;
}

int weft__gzip(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len) {
  z_stream z;
  memset(&z, 0, sizeof z);
  /* 15 + 16: zlib writes a gzip wrapper, which is what Content-Encoding
   * gzip and Connect-Content-Encoding gzip mean. */
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK)
    return WEFT_ERR_NOMEM;
  size_t cap = deflateBound(&z, (uLong)len) + 32;
  uint8_t *buf = malloc(cap);
  if (!buf) {
    deflateEnd(&z);
    return WEFT_ERR_NOMEM;
  }
  z.next_in = (Bytef *)(uintptr_t)in;
  z.avail_in = (uInt)len;
  z.next_out = buf;
  z.avail_out = (uInt)cap;
  int rv = deflate(&z, Z_FINISH);
  deflateEnd(&z);
  if (rv != Z_STREAM_END) {
    free(buf);
    return WEFT_ERR_INTERNAL;
  }
  *out = buf;
  *out_len = cap - z.avail_out;
  return 0;
}

int weft__gunzip(const uint8_t *in, size_t len, size_t max_out, uint8_t **out,
                 size_t *out_len, weft_error *err) {
  z_stream z;
  memset(&z, 0, sizeof z);
  if (inflateInit2(&z, 15 + 32) != Z_OK) /* +32: gzip or zlib header */
    return weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
  size_t cap = len * 4 + 64, used = 0;
  if (cap > max_out + 1)
    cap = max_out + 1;
  uint8_t *buf = malloc(cap);
  int rv = Z_OK;
  z.next_in = (Bytef *)(uintptr_t)in;
  z.avail_in = (uInt)len;
  while (buf) {
    z.next_out = buf + used;
    z.avail_out = (uInt)(cap - used);
    rv = inflate(&z, Z_NO_FLUSH);
    used = cap - z.avail_out;
    if (used > max_out) {
      rv = Z_MEM_ERROR;
      break;
    }
    if (rv == Z_STREAM_END || rv != Z_OK)
      break;
    if (z.avail_in == 0 && z.avail_out != 0) {
      rv = Z_DATA_ERROR; /* input ended inside the stream */
      break;
    }
    if (used == cap) {
      size_t ncap = cap * 2 > max_out + 1 ? max_out + 1 : cap * 2;
      uint8_t *nb = realloc(buf, ncap);
      if (!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap = ncap;
    }
  }
  inflateEnd(&z);
  if (!buf)
    return weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
  if (rv == Z_MEM_ERROR && used > max_out) {
    free(buf);
    return weft_error_set(err, WEFT_ERR_TOO_BIG,
                          "gzip body inflates past the %zu-byte limit",
                          max_out);
  }
  if (rv != Z_STREAM_END || z.avail_in != 0) {
    free(buf);
    return weft_error_set(err, WEFT_ERR_MALFORMED, "invalid gzip body");
  }
  *out = buf;
  *out_len = used;
  return 0;
}

/* ---- Connect GET ----------------------------------------------------- */

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Percent-decodes v[0..n) into a new NUL-terminated string *out ('+' is
 * a space, as in forms). 0, WEFT_ERR_NOMEM, or WEFT_ERR_INVAL (a bad
 * escape): no memory is not the client's bad input. */
static int percent_decode(const char *v, size_t n, char **out,
                          size_t *out_len) {
  char *o = malloc(n + 1);
  size_t k = 0;
  if (!o)
    return WEFT_ERR_NOMEM;
  for (size_t i = 0; i < n; i++) {
    if (v[i] == '%') {
      int hi, lo;
      if (i + 2 >= n) {
        free(o);
        return WEFT_ERR_INVAL;
      }
      hi = hexval(v[i + 1]);
      lo = hexval(v[i + 2]);
      if (hi < 0 || lo < 0) {
        free(o);
        return WEFT_ERR_INVAL;
      }
      o[k++] = (char)(hi << 4 | lo);
      i += 2;
    } else {
      o[k++] = v[i] == '+' ? ' ' : v[i];
    }
  }
  o[k] = '\0';
  *out = o;
  *out_len = k;
  return 0;
}

int weft__connect_get_parse(const char *query, size_t max_size,
                            weft__connect_get *out, weft_error *err) {
  const char *msg = NULL, *enc = NULL, *comp = NULL, *ver = NULL;
  size_t msg_len = 0, enc_len = 0, comp_len = 0, ver_len = 0;
  bool b64 = false;
  memset(out, 0, sizeof *out);
  for (const char *q = query ? query : ""; *q;) {
    const char *amp = strchr(q, '&');
    size_t n = amp ? (size_t)(amp - q) : strlen(q);
    const char *eq = memchr(q, '=', n);
    size_t kl = eq ? (size_t)(eq - q) : n;
    const char *v = eq ? eq + 1 : q + n;
    size_t vl = eq ? n - kl - 1 : 0;
    if (kl == 7 && !memcmp(q, "message", 7))
      msg = v, msg_len = vl;
    else if (kl == 8 && !memcmp(q, "encoding", 8))
      enc = v, enc_len = vl;
    else if (kl == 11 && !memcmp(q, "compression", 11))
      comp = v, comp_len = vl;
    else if (kl == 7 && !memcmp(q, "connect", 7))
      ver = v, ver_len = vl;
    else if (kl == 6 && !memcmp(q, "base64", 6))
      b64 = vl == 1 && v[0] == '1';
    q += n + (amp ? 1 : 0);
  }
  if (ver && !(ver_len == 2 && !memcmp(ver, "v1", 2)))
    return weft_error_set(err, WEFT_ERR_INVAL,
                          "query parameter connect must be v1");
  if (enc && enc_len == 4 && !memcmp(enc, "json", 4))
    out->json = true;
  else if (!(enc && enc_len == 5 && !memcmp(enc, "proto", 5)))
    return weft_error_set(err, WEFT_ERR_UNSUPPORTED,
                          "a Connect GET needs the query parameter "
                          "encoding=json or encoding=proto");
  int rv;
  if (comp && comp_len) {
    size_t l;
    rv = percent_decode(comp, comp_len, &out->storage_, &l);
    if (rv < 0)
      return weft_error_set(err, rv, "query parameter compression: %s",
                            rv == WEFT_ERR_NOMEM ? "out of memory"
                                                 : "bad percent-encoding");
    out->compression = out->storage_;
  }
  size_t plen = 0;
  char *plain = NULL;
  rv = percent_decode(msg ? msg : "", msg ? msg_len : 0, &plain, &plen);
  if (rv < 0)
    return weft_error_set(err, rv, "query parameter message: %s",
                          rv == WEFT_ERR_NOMEM ? "out of memory"
                                               : "bad percent-encoding");
  if (b64) {
    uint8_t *raw = malloc(WEFT_BASE64_DECODED_MAX(plen) + 1);
    if (!raw) {
      free(plain);
      return weft_error_set(err, WEFT_ERR_NOMEM,
                            "query parameter message: out of memory");
    }
    long n = weft_base64_decode(plain, plen, raw);
    free(plain);
    if (n < 0) {
      free(raw);
      return weft_error_set(err, WEFT_ERR_INVAL,
                            "query parameter message: not base64 "
                            "(base64=1)");
    }
    out->message = raw;
    out->message_len = (size_t)n;
  } else {
    out->message = (uint8_t *)plain;
    out->message_len = plen;
  }
  if (out->message_len > max_size)
    return weft_error_set(err, WEFT_ERR_TOO_BIG,
                          "request message over the %zu-byte limit", max_size);
  return 0;
}

void weft__connect_get_free(weft__connect_get *g) {
  free(g->message);
  free(g->storage_);
  memset(g, 0, sizeof *g);
}
