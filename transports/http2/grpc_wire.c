/* gRPC and gRPC-Web wire pieces (see grpc_wire.h). */
#include "grpc_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "weft/base64.h"

/* ---- content-type ---------------------------------------------------- */

/* v is exactly p, or p followed by parameters. */
static bool ctype_is(const char *v, size_t len, const char *p) {
  size_t n = strlen(p);
  if (len < n || strncasecmp(v, p, n) != 0)
    return false;
  return len == n || v[n] == ';' || v[n] == ' ' || v[n] == '\t';
}

weft__grpc_proto weft__grpc_parse_ctype(const char *v, size_t len, bool *json) {
  static const struct {
    const char *name;
    weft__grpc_proto p;
    bool json;
  } k[] = {
      {"application/grpc", WEFT__GRPC_H2, false},
      {"application/grpc+proto", WEFT__GRPC_H2, false},
      {"application/grpc+json", WEFT__GRPC_H2, true},
      {"application/grpc-web", WEFT__GRPC_WEB, false},
      {"application/grpc-web+proto", WEFT__GRPC_WEB, false},
      {"application/grpc-web+json", WEFT__GRPC_WEB, true},
      {"application/grpc-web-text", WEFT__GRPC_WEB_TEXT, false},
      {"application/grpc-web-text+proto", WEFT__GRPC_WEB_TEXT, false},
  };
  for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
    if (ctype_is(v, len, k[i].name)) {
      if (json)
        *json = k[i].json;
      return k[i].p;
    }
  }
  if (json)
    *json = false;
  return WEFT__GRPC_NONE;
}

const char *weft__grpc_ctype_str(weft__grpc_proto p, bool json) {
  switch (p) {
  case WEFT__GRPC_H2:
    return json ? "application/grpc+json" : "application/grpc";
  case WEFT__GRPC_WEB:
    return json ? "application/grpc-web+json" : "application/grpc-web+proto";
  case WEFT__GRPC_WEB_TEXT:
    return "application/grpc-web-text+proto";
  default:
    return "application/grpc";
  }
}

/* ---- grpc-timeout ---------------------------------------------------- */

int64_t weft__grpc_parse_timeout(const char *v, size_t len) {
  if (len < 2 || len > 9)
    return -1;
  int64_t n = 0;
  for (size_t i = 0; i + 1 < len; i++) {
    if (v[i] < '0' || v[i] > '9')
      return -1;
    n = n * 10 + (v[i] - '0');
  }
  int64_t unit;
  switch (v[len - 1]) {
  case 'H':
    unit = 3600 * (int64_t)1000000000;
    break;
  case 'M':
    unit = 60 * (int64_t)1000000000;
    break;
  case 'S':
    unit = 1000000000;
    break;
  case 'm':
    unit = 1000000;
    break;
  case 'u':
    unit = 1000;
    break;
  case 'n':
    unit = 1;
    break;
  default:
    return -1;
  }
  /* 99999999H is about 3.6e20 ns: saturate rather than overflow. */
  if (n > INT64_MAX / unit)
    return INT64_MAX;
  return n * unit;
}

size_t weft__grpc_format_timeout(int64_t ns, char out[16]) {
  static const struct {
    int64_t div;
    char unit;
  } u[] = {{1, 'n'},
           {1000, 'u'},
           {1000000, 'm'},
           {1000000000, 'S'},
           {60 * (int64_t)1000000000, 'M'},
           {3600 * (int64_t)1000000000, 'H'}};
  if (ns < 1)
    ns = 1;
  int64_t v = 0;
  char unit = 'H';
  for (size_t i = 0; i < sizeof u / sizeof u[0]; i++) {
    v = ns / u[i].div + (ns % u[i].div != 0); /* round up: never shorter */
    unit = u[i].unit;
    if (v <= 99999999)
      break;
  }
  if (v > 99999999)
    v = 99999999;
  return (size_t)snprintf(out, 16, "%lld%c", (long long)v, unit);
}

/* ---- encodings --------------------------------------------------------- */

weft__grpc_enc weft__grpc_parse_encoding(const char *v, size_t len) {
  if (len == 0 || (len == 8 && strncasecmp(v, "identity", 8) == 0))
    return WEFT__GRPC_ENC_IDENTITY;
  if (len == 4 && strncasecmp(v, "gzip", 4) == 0)
    return WEFT__GRPC_ENC_GZIP;
  return WEFT__GRPC_ENC_UNSUPPORTED;
}

bool weft__grpc_accepts_gzip(const char *v, size_t len) {
  size_t i = 0;
  while (i < len) {
    while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
      i++;
    size_t b = i;
    while (i < len && v[i] != ',' && v[i] != ' ' && v[i] != '\t' && v[i] != ';')
      i++;
    if (i - b == 4 && strncasecmp(v + b, "gzip", 4) == 0)
      return true;
    while (i < len && v[i] != ',') /* parameters, if any */
      i++;
  }
  return false;
}

/* ---- grpc-message ---------------------------------------------------- */

int weft__grpc_percent_encode(const char *msg, char **out) {
  static const char hex[] = "0123456789ABCDEF";
  if (!msg)
    msg = "";
  size_t n = strlen(msg);
  char *o = malloc(n * 3 + 1);
  if (!o)
    return WEFT_ERR_NOMEM;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    uint8_t c = (uint8_t)msg[i];
    /* A space at either end too: header values are trimmed (RFC 9110
     * 5.5), and HTTP/2 forbids them there (RFC 9113 8.2.1). */
    bool edge_space = c == ' ' && (i == 0 || i + 1 == n);
    if (c >= 0x20 && c <= 0x7e && c != '%' && !edge_space) {
      o[k++] = (char)c;
    } else {
      o[k++] = '%';
      o[k++] = hex[c >> 4];
      o[k++] = hex[c & 15];
    }
  }
  o[k] = '\0';
  *out = o;
  return 0;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

int weft__grpc_percent_decode(const char *v, size_t len, char **out) {
  char *o = malloc(len + 1);
  if (!o)
    return WEFT_ERR_NOMEM;
  size_t k = 0;
  for (size_t i = 0; i < len; i++) {
    int hi, lo;
    if (v[i] == '%' && i + 2 < len && (hi = hexval(v[i + 1])) >= 0 &&
        (lo = hexval(v[i + 2])) >= 0) {
      o[k++] = (char)(hi << 4 | lo);
      i += 2;
    } else {
      o[k++] = v[i];
    }
  }
  o[k] = '\0';
  *out = o;
  return 0;
}

/* ---- gRPC-Web trailers frame ------------------------------------------ */

typedef struct buf {
  uint8_t *p;
  size_t len, cap;
  bool oom;
} buf;

static void put(buf *b, const void *p, size_t n) {
  if (b->oom)
    return;
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 128;
    while (cap < b->len + n)
      cap *= 2;
    uint8_t *np = realloc(b->p, cap);
    if (!np) {
      b->oom = true;
      return;
    }
    b->p = np;
    b->cap = cap;
  }
  if (n)
    memcpy(b->p + b->len, p, n);
  b->len += n;
}

static void put_str(buf *b, const char *s) {
  put(b, s, strlen(s));
}

static void put_b64(buf *b, const uint8_t *p, size_t n) {
  size_t m = weft_base64_encoded_len(n, WEFT_BASE64_NOPAD);
  char *t = malloc(m + 1);
  if (!t) {
    b->oom = true;
    return;
  }
  weft_base64_encode(p, n, t, WEFT_BASE64_NOPAD);
  put(b, t, m);
  free(t);
}

static bool has_crlf(const uint8_t *p, size_t n) {
  return memchr(p, '\r', n) || memchr(p, '\n', n);
}

int weft__grpc_web_trailers_frame(const weft_status *st,
                                  const weft_metadata *trailers, uint8_t **out,
                                  size_t *len) {
  buf b = {0};
  uint8_t hdr[5] = {0};
  char line[48];
  put(&b, hdr, 5); /* filled in at the end */
  snprintf(line, sizeof line, "grpc-status:%d\r\n", st->code);
  put_str(&b, line);
  if (st->message && st->message[0]) {
    char *m = NULL;
    if (weft__grpc_percent_encode(st->message, &m) < 0) {
      free(b.p);
      return WEFT_ERR_NOMEM;
    }
    put_str(&b, "grpc-message:");
    put_str(&b, m);
    put_str(&b, "\r\n");
    free(m);
  }
  if (st->details && st->details_len) {
    put_str(&b, "grpc-status-details-bin:");
    put_b64(&b, st->details, st->details_len);
    put_str(&b, "\r\n");
  }
  for (size_t i = 0; trailers && i < trailers->count; i++) {
    const weft_metadata_entry *e = &trailers->entries[i];
    size_t kl = strlen(e->key);
    bool bin = kl > 4 && strcmp(e->key + kl - 4, "-bin") == 0;
    if (weft__grpc_status_key(e->key) ||
        has_crlf((const uint8_t *)e->key, kl) || strchr(e->key, ':') ||
        (!bin && has_crlf(e->value, e->value_len)))
      continue;
    put(&b, e->key, kl);
    put_str(&b, ":");
    if (bin)
      put_b64(&b, e->value, e->value_len);
    else
      put(&b, e->value, e->value_len);
    put_str(&b, "\r\n");
  }
  if (b.oom) {
    free(b.p);
    return WEFT_ERR_NOMEM;
  }
  weft__grpc_frame_header(b.p, WEFT__GRPC_FLAG_TRAILERS, (uint32_t)(b.len - 5));
  *out = b.p;
  *len = b.len;
  return 0;
}

bool weft__grpc_status_key(const char *key) {
  return strcmp(key, "grpc-status") == 0 || strcmp(key, "grpc-message") == 0 ||
         strcmp(key, "grpc-status-details-bin") == 0;
}

static bool is_ows(char c) {
  return c == ' ' || c == '\t';
}

/* Decodes a "-bin" value (padded or not) into a new malloc'd buffer. */
static int b64_value(const char *v, size_t n, uint8_t **out, size_t *out_len) {
  uint8_t *d = malloc(WEFT_BASE64_DECODED_MAX(n) + 1);
  if (!d)
    return WEFT_ERR_NOMEM;
  long r = weft_base64_decode(v, n, d);
  if (r < 0) {
    free(d);
    return WEFT_ERR_MALFORMED;
  }
  *out = d;
  *out_len = (size_t)r;
  return 0;
}

int weft__grpc_web_parse_trailers(const uint8_t *p, size_t len, weft_status *st,
                                  weft_metadata *trailers, weft_error *err) {
  const char *s = (const char *)p, *end = s + len;
  bool got_status = false;
  unsigned lineno = 0;
  while (s < end) {
    const char *nl = memchr(s, '\n', (size_t)(end - s));
    const char *le = nl ? nl : end;
    const char *next = nl ? nl + 1 : end;
    if (le > s && le[-1] == '\r')
      le--;
    lineno++;
    if (le == s) { /* an empty line: tolerated, as HTTP/1 parsers do */
      s = next;
      continue;
    }
    const char *colon = memchr(s, ':', (size_t)(le - s));
    if (!colon || colon == s)
      return weft_error_set(err, WEFT_ERR_MALFORMED,
                            "gRPC-Web trailers, line %u: no \"name:value\"",
                            lineno);
    size_t kl = (size_t)(colon - s);
    const char *v = colon + 1;
    while (v < le && is_ows(*v))
      v++;
    const char *ve = le;
    while (ve > v && is_ows(ve[-1]))
      ve--;
    size_t vl = (size_t)(ve - v);
    char key[256];
    if (kl >= sizeof key)
      return weft_error_set(err, WEFT_ERR_MALFORMED,
                            "gRPC-Web trailers, line %u: name over 255 bytes",
                            lineno);
    for (size_t i = 0; i < kl; i++) {
      char c = s[i];
      key[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    key[kl] = '\0';
    bool bin = kl > 4 && strcmp(key + kl - 4, "-bin") == 0;
    if (strcmp(key, "grpc-status") == 0) {
      int code = 0;
      if (vl == 0 || vl > 3)
        goto bad_status;
      for (size_t i = 0; i < vl; i++) {
        if (v[i] < '0' || v[i] > '9')
          goto bad_status;
        code = code * 10 + (v[i] - '0');
      }
      st->code = code;
      got_status = true;
    } else if (strcmp(key, "grpc-message") == 0) {
      char *m = NULL;
      if (weft__grpc_percent_decode(v, vl, &m) < 0)
        return weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
      free(st->message);
      st->message = m;
    } else if (bin) {
      uint8_t *d = NULL;
      size_t dl = 0;
      int rv = b64_value(v, vl, &d, &dl);
      if (rv < 0)
        return weft_error_set(err, rv,
                              "gRPC-Web trailers, line %u: %s is not base64",
                              lineno, key);
      if (strcmp(key, "grpc-status-details-bin") == 0) {
        free(st->details);
        st->details = d;
        st->details_len = dl;
      } else {
        if (trailers)
          weft_metadata_add(trailers, key, d, dl);
        free(d);
      }
    } else if (trailers) {
      weft_metadata_add(trailers, key, v, vl);
    }
    s = next;
  }
  if (!got_status)
    return weft_error_set(err, WEFT_ERR_MALFORMED,
                          "gRPC-Web trailers without grpc-status");
  return 0;
bad_status:
  return weft_error_set(err, WEFT_ERR_MALFORMED,
                        "gRPC-Web trailers, line %u: grpc-status is not a "
                        "number of 1 to 3 digits",
                        lineno);
}

/* ---- the client side of a response ---------------------------------- */

static bool name_eq(const char *n, size_t nlen, const char *word) {
  return nlen == strlen(word) && memcmp(n, word, nlen) == 0;
}

int weft__grpc_trailers_field(weft__grpc_trailers *t, const char *name,
                              size_t nlen, const char *v, size_t vlen) {
  if (name_eq(name, nlen, "grpc-status")) {
    int code = 0;
    bool ok = vlen >= 1 && vlen <= 3;
    for (size_t i = 0; ok && i < vlen; i++) {
      ok = v[i] >= '0' && v[i] <= '9';
      code = code * 10 + (v[i] - '0');
    }
    t->have_code = true;
    t->bad_code = !ok;
    t->code = ok ? code : WEFT_STATUS_UNKNOWN;
    return 1;
  }
  if (name_eq(name, nlen, "grpc-message")) {
    char *m = NULL;
    if (weft__grpc_percent_decode(v, vlen, &m) < 0)
      return WEFT_ERR_NOMEM;
    free(t->message);
    t->message = m;
    return 1;
  }
  if (name_eq(name, nlen, "grpc-status-details-bin")) {
    uint8_t *d = NULL;
    size_t dl = 0;
    int rv = b64_value(v, vlen, &d, &dl);
    if (rv == WEFT_ERR_NOMEM)
      return rv;
    free(t->details);
    t->details = rv == 0 ? d : NULL;
    t->details_len = rv == 0 ? dl : 0;
    return 1;
  }
  return 0;
}

void weft__grpc_trailers_free(weft__grpc_trailers *t) {
  free(t->message);
  free(t->details);
  memset(t, 0, sizeof *t);
}

/* Connect took its HTTP mapping from gRPC's; only 200 differs (a 200
 * without grpc-status is not OK for gRPC). */
int weft__grpc_status_from_http(int http_status) {
  return http_status == 200 ? WEFT_STATUS_UNKNOWN
                            : weft__connect_code_from_http(http_status);
}

int weft__grpc_status_from_rst(uint32_t h2_code) {
  switch (h2_code) {
  case 0x7: /* REFUSED_STREAM: not processed, safe to retry */
    return WEFT_STATUS_UNAVAILABLE;
  case 0x8: /* CANCEL */
    return WEFT_STATUS_CANCELLED;
  case 0xb: /* ENHANCE_YOUR_CALM */
    return WEFT_STATUS_RESOURCE_EXHAUSTED;
  case 0xc: /* INADEQUATE_SECURITY */
    return WEFT_STATUS_PERMISSION_DENIED;
  default:
    return WEFT_STATUS_INTERNAL;
  }
}

bool weft__grpc_response_ctype_ok(const char *v, size_t len) {
  return !v || weft__grpc_parse_ctype(v, len, NULL) == WEFT__GRPC_H2;
}

int weft__grpc_client_status(weft__grpc_trailers *t, int http_status,
                             bool got_trailers, weft_status *st) {
  weft_status_clear(st);
  if (http_status == 0) {
    weft_status_set(st, WEFT_STATUS_UNAVAILABLE,
                    "the stream closed before a response");
  } else if (http_status != 200) {
    weft_status_set(st, weft__grpc_status_from_http(http_status),
                    "HTTP status %d from the server (a gRPC response has 200)",
                    http_status);
  } else if (t->have_code && t->bad_code) {
    weft_status_set(st, WEFT_STATUS_UNKNOWN,
                    "grpc-status from the server is not a status code");
  } else if (t->have_code) {
    st->code = t->code;
    st->message = t->message;
    st->details = t->details;
    st->details_len = t->details_len;
    t->message = NULL;
    t->details = NULL;
    t->details_len = 0;
    if (!st->message && !(st->message = strdup("")))
      return WEFT_ERR_NOMEM;
  } else if (got_trailers) {
    weft_status_set(st, WEFT_STATUS_UNKNOWN,
                    "the server's trailers have no grpc-status");
  } else {
    weft_status_set(st, WEFT_STATUS_INTERNAL,
                    "the server ended the stream without trailers");
  }
  return st->message ? 0 : WEFT_ERR_NOMEM;
}

bool weft__grpc_bin_key(const char *key, size_t len) {
  return len >= 4 && strncasecmp(key + len - 4, "-bin", 4) == 0;
}

int weft__grpc_bin_encode(const uint8_t *p, size_t n, char **out,
                          size_t *out_len) {
  size_t len = weft_base64_encoded_len(n, WEFT_BASE64_NOPAD);
  char *o = malloc(len + 1);
  if (!o)
    return WEFT_ERR_NOMEM;
  len = weft_base64_encode(p, n, o, WEFT_BASE64_NOPAD);
  o[len] = '\0';
  *out = o;
  *out_len = len;
  return 0;
}

int weft__grpc_bin_decode(const char *v, size_t n, uint8_t **out,
                          size_t *out_len) {
  return b64_value(v, n, out, out_len);
}

/* ---- grpc-web-text base64 -------------------------------------------- */

/* Decodes n (a multiple of 4) characters, each padded group ending a
 * segment. */
static long b64_groups(const char *s, size_t n, uint8_t *out) {
  long total = 0;
  while (n > 0) {
    const char *eq = memchr(s, '=', n);
    size_t seg = eq ? ((size_t)(eq - s) / 4 + 1) * 4 : n;
    long r = weft_base64_decode(s, seg, out + total);
    if (r < 0)
      return -1;
    total += r;
    s += seg;
    n -= seg;
  }
  return total;
}

static bool b64_std_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=';
}

long weft__b64_stream_feed(weft__b64_stream *b, const char *in, size_t len,
                           uint8_t *out) {
  long total = 0;
  /* weft_base64_decode also takes the URL-safe alphabet; gRPC-Web uses the
   * standard one only. */
  for (size_t i = 0; i < len; i++)
    if (!b64_std_char(in[i]))
      return -1;
  while (b->n > 0 && b->n < 4 && len > 0) {
    b->q[b->n++] = *in++;
    len--;
  }
  if (b->n == 4) {
    long r = b64_groups(b->q, 4, out);
    if (r < 0)
      return -1;
    total += r;
    b->n = 0;
  }
  size_t whole = len / 4 * 4;
  if (whole) {
    long r = b64_groups(in, whole, out + total);
    if (r < 0)
      return -1;
    total += r;
  }
  for (size_t i = whole; i < len; i++)
    b->q[b->n++] = in[i];
  return total;
}

size_t weft__grpc_text_encode(const uint8_t *in, size_t len, char *out) {
  return weft_base64_encode(in, len, out, 0);
}

int weft__grpc_frame_alloc(uint8_t flags, const uint8_t *p, size_t n, bool text,
                           uint8_t **out, size_t *out_len) {
  if (n > UINT32_MAX)
    return WEFT_ERR_TOO_BIG;
  uint8_t *f = malloc(5 + n);
  if (!f)
    return WEFT_ERR_NOMEM;
  weft__grpc_frame_header(f, flags, (uint32_t)n);
  if (n)
    memcpy(f + 5, p, n);
  if (!text) {
    *out = f;
    *out_len = 5 + n;
    return 0;
  }
  char *t = malloc(weft_base64_encoded_len(5 + n, 0) + 1);
  if (!t) {
    free(f);
    return WEFT_ERR_NOMEM;
  }
  *out_len = weft__grpc_text_encode(f, 5 + n, t);
  *out = (uint8_t *)t;
  free(f);
  return 0;
}

/* ---- request reader -------------------------------------------------- */

void weft__grpc_reader_init(weft__grpc_reader *r, size_t max_size, bool text,
                            bool compressed_ok) {
  memset(r, 0, sizeof *r);
  weft__connect_reader_init(&r->frames, max_size);
  r->text = text;
  r->compressed_ok = compressed_ok;
}

void weft__grpc_reader_free(weft__grpc_reader *r) {
  weft__connect_reader_free(&r->frames);
}

bool weft__grpc_reader_idle(const weft__grpc_reader *r) {
  return weft__connect_reader_idle(&r->frames) &&
         weft__b64_stream_idle(&r->b64);
}

static int check_frame(void *ud, uint8_t flags, const uint8_t *data,
                       size_t len) {
  weft__grpc_reader *r = ud;
  if (flags & ~WEFT__GRPC_FLAG_COMPRESSED)
    return weft_error_set(r->err, WEFT_ERR_PROTOCOL,
                          "request frame with flags 0x%02x (only 0x01, "
                          "compressed, is allowed)",
                          flags);
  if ((flags & WEFT__GRPC_FLAG_COMPRESSED) && !r->compressed_ok)
    return weft_error_set(r->err, WEFT_ERR_PROTOCOL,
                          "compressed message (flag 0x01) without a "
                          "grpc-encoding");
  return r->on_msg(r->ud, flags, data, len);
}

int weft__grpc_reader_feed(weft__grpc_reader *r, const uint8_t *data,
                           size_t len, weft__connect_msg_fn on_msg, void *ud,
                           weft_error *err) {
  r->on_msg = on_msg;
  r->ud = ud;
  r->err = err;
  if (!r->text)
    return weft__connect_reader_feed(&r->frames, data, len, check_frame, r,
                                     err);
  /* Text: decode a bounded piece at a time on the stack (4 KiB of text plus
   * at most 3 held characters is at most 1024 groups, 3 KiB). */
  uint8_t tmp[3 * 1024];
  while (len > 0) {
    size_t n = len < 4 * 1024 ? len : 4 * 1024;
    long d = weft__b64_stream_feed(&r->b64, (const char *)data, n, tmp);
    if (d < 0)
      return weft_error_set(err, WEFT_ERR_MALFORMED,
                            "grpc-web-text body is not base64");
    data += n;
    len -= n;
    int rv = weft__connect_reader_feed(&r->frames, tmp, (size_t)d, check_frame,
                                       r, err);
    if (rv < 0)
      return rv;
  }
  return 0;
}

int weft__grpc_error_status(int rv) {
  switch (rv) {
  case WEFT_ERR_FRAME_TOO_BIG:
  case WEFT_ERR_TOO_BIG:
  case WEFT_ERR_NOMEM:
    return WEFT_STATUS_RESOURCE_EXHAUSTED;
  case WEFT_ERR_PROTOCOL:
    return WEFT_STATUS_INTERNAL;
  default:
    return WEFT_STATUS_INVALID_ARGUMENT;
  }
}
