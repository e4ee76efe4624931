/* weft.v1.Envelope as JSON, for text connections (ws JSON subprotocol).
 *
 * The envelope's JSON is written and read here with cJSON, following the
 * proto3 JSON mapping of weft.v1.Envelope, so any JSON-mapping
 * implementation (Google's JsonFormat included) reads and writes the same
 * text. Decoding turns the JSON into the binary form in a scratch buffer and
 * reuses the binary decoder, so the mux handles one representation. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mux_internal.h"
#include "weft/base64.h"

static const char *const kind_names[] = {
    "FRAME_KIND_UNSPECIFIED", "FRAME_KIND_OPEN",    "FRAME_KIND_MESSAGE",
    "FRAME_KIND_HALF_CLOSE",  "FRAME_KIND_HEADERS", "FRAME_KIND_STATUS",
    "FRAME_KIND_CANCEL",      "FRAME_KIND_PING",    "FRAME_KIND_PONG",
    "FRAME_KIND_GOAWAY"};
#define N_KINDS (sizeof kind_names / sizeof kind_names[0])

/* Base64 of bytes fields: weft/base64.h, as the JSON mapping has it. */

static char *b64_encode(const uint8_t *p, size_t n) {
  char *out = malloc(weft_base64_encoded_len(n, 0) + 1);
  if (out)
    out[weft_base64_encode(p, n, out, 0)] = '\0';
  return out;
}

/* ---- encoding ---------------------------------------------------------- */

static int add_bytes(cJSON *obj, const char *name, const uint8_t *p, size_t n) {
  char *s = b64_encode(p, n);
  if (!s)
    return -1;
  cJSON *v = cJSON_AddStringToObject(obj, name, s);
  free(s);
  return v ? 0 : -1;
}

int weft__env_json_encode(const weft__env_out *o, uint8_t **out, size_t *len) {
  char num[32];
  cJSON *root = cJSON_CreateObject();
  bool ok = root != NULL;
  if (ok && o->stream_id) {
    snprintf(num, sizeof num, "%llu", (unsigned long long)o->stream_id);
    ok = cJSON_AddStringToObject(root, "streamId", num) != NULL;
  }
  if (ok && o->kind) {
    if (o->kind > 0 && (size_t)o->kind < N_KINDS)
      ok = cJSON_AddStringToObject(root, "kind", kind_names[o->kind]) != NULL;
    else
      ok = cJSON_AddNumberToObject(root, "kind", o->kind) != NULL;
  }
  if (ok && o->method && *o->method)
    ok = cJSON_AddStringToObject(root, "method", o->method) != NULL;
  if (ok && o->n_md) {
    cJSON *arr = cJSON_AddArrayToObject(root, "metadata");
    ok = arr != NULL;
    for (size_t i = 0; ok && i < o->n_md; i++) {
      const char *k;
      const uint8_t *v;
      size_t vl;
      if (o->md_stride) {
        k = *(const char *const *)(const void *)((const char *)o->md_keys +
                                                 i * o->md_stride);
        v = *(const uint8_t *const *)(const void *)((const char *)o->md_values +
                                                    i * o->md_stride);
        vl = *(const size_t *)(const void *)((const char *)o->md_value_lens +
                                             i * o->md_stride);
      } else {
        k = o->md_keys[i];
        v = o->md_values[i];
        vl = o->md_value_lens[i];
      }
      cJSON *e = cJSON_CreateObject();
      ok = e && cJSON_AddItemToArray(arr, e);
      if (ok && *k)
        ok = cJSON_AddStringToObject(e, "key", k) != NULL;
      if (ok && vl)
        ok = add_bytes(e, "value", v, vl) == 0;
    }
  }
  uint8_t *pl = NULL;
  if (ok && o->has_payload && o->payload_len) {
    const uint8_t *p = o->payload;
    if (o->payload_write) {
      pl = malloc(o->payload_len);
      ok = pl && o->payload_write(o->payload_ud, pl, o->payload_len) ==
                     (ssize_t)o->payload_len;
      p = pl;
    }
    if (ok)
      ok = add_bytes(root, "payload", p, o->payload_len) == 0;
  }
  free(pl);
  if (ok && o->has_status) {
    cJSON *st = cJSON_AddObjectToObject(root, "status");
    ok = st != NULL;
    if (ok && o->status_code)
      ok = cJSON_AddNumberToObject(st, "code", o->status_code) != NULL;
    if (ok && o->status_message && *o->status_message)
      ok = cJSON_AddStringToObject(st, "message", o->status_message) != NULL;
    if (ok && o->status_details_len)
      ok = add_bytes(st, "details", o->status_details, o->status_details_len) ==
           0;
  }
  if (ok && o->timeout_ms) {
    snprintf(num, sizeof num, "%lld", (long long)o->timeout_ms);
    ok = cJSON_AddStringToObject(root, "timeoutMs", num) != NULL;
  }
  char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
  cJSON_Delete(root);
  if (!text)
    return WEFT_ERR_NOMEM;
  *out = (uint8_t *)text;
  *len = strlen(text);
  return 0;
}

/* ---- decoding ---------------------------------------------------------- */

static const cJSON *field(const cJSON *obj, const char *json_name,
                          const char *proto_name) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, json_name);
  if (!v)
    v = cJSON_GetObjectItemCaseSensitive(obj, proto_name);
  return v && !cJSON_IsNull(v) ? v : NULL;
}

/* The fields of the envelope, its status and a metadata entry by the two
 * names the proto3 JSON mapping accepts: the JSON name and the proto name. */
static const char *const envelope_fields[][2] = {
    {"streamId", "stream_id"},  {"kind", "kind"},       {"method", "method"},
    {"metadata", "metadata"},   {"payload", "payload"}, {"status", "status"},
    {"timeoutMs", "timeout_ms"}};
static const char *const status_fields[][2] = {
    {"code", "code"}, {"message", "message"}, {"details", "details"}};
static const char *const entry_fields[][2] = {{"key", "key"},
                                              {"value", "value"}};
#define N_FIELDS(a) (sizeof a / sizeof a[0])

/* cJSON keeps every member of an object and field() would take the first
 * of a field given twice, dropping the other unseen: refused instead, by
 * either name and whatever the values (null too), as protobuf's JsonFormat
 * refuses it. in names the object for the message ("" for the envelope). */
static int given_twice(const cJSON *obj, const char *const (*names)[2],
                       size_t n, const char *in, weft_error *err) {
  for (size_t f = 0; f < n; f++) {
    int seen = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, obj) {
      if (c->string &&
          (strcmp(c->string, names[f][0]) == 0 ||
           strcmp(c->string, names[f][1]) == 0) &&
          ++seen == 2)
        return weft_error_set(err, WEFT_ERR_JSON_DUPLICATE,
                              "weft.v1.Envelope%s%s: field %s given twice",
                              *in ? "." : "", in, names[f][0]);
    }
  }
  return 0;
}

/* 0, WEFT_ERR_NOMEM, or WEFT_ERR_MALFORMED (not a base64 string): out of
 * memory is not the peer's fault and must not read as its bad input. */
static int get_bytes(const cJSON *v, uint8_t **bufs, size_t *nb,
                     const uint8_t **p, size_t *n) {
  if (!cJSON_IsString(v))
    return WEFT_ERR_MALFORMED;
  size_t l = strlen(v->valuestring);
  uint8_t *b = malloc(WEFT_BASE64_DECODED_MAX(l));
  if (!b)
    return WEFT_ERR_NOMEM;
  bufs[(*nb)++] = b;
  long r = weft_base64_decode(v->valuestring, l, b);
  if (r < 0)
    return WEFT_ERR_MALFORMED;
  *p = b;
  *n = (size_t)r;
  return 0;
}

/* ---- the text beside the tree -----------------------------------------
 *
 * cJSON decodes strings to C strings, so a \u0000 cut one short without a
 * word ("/a.B/C\u0000junk" dispatched to /a.B/C, a payload lost its tail);
 * so did a raw NUL byte, and a \u without four hex digits, which cJSON
 * reads as U+0000. The text cJSON accepted is therefore walked again beside
 * its tree, and such a string is refused wherever it is (a key or a value,
 * a known field or not), as weft's proto3 JSON decoder refuses it. The walk
 * trusts the text's structure, cJSON having accepted it, and reads it as
 * cJSON does: whitespace is any byte up to 32, an object's members come in
 * the tree's order. On the way it keeps the text of the integer fields'
 * numbers (see get_int). */

typedef struct walk {
  const char *text, *p, *end;
  char path[128]; /* where the walk is, for messages: "metadata[1].key" */
  size_t path_len;
  weft_error *err;
  /* The text of the numbers in integer fields, which cJSON keeps only as
   * doubles (see get_int): one per field, a field given twice being
   * refused before they are read. */
  const cJSON *root, *status;
  struct {
    const cJSON *v;
    const char *p;
    size_t n;
  } num[8];
  size_t n_num;
} walk;

static void walk_ws(walk *w) {
  while (w->p < w->end && (unsigned char)*w->p <= 32)
    w->p++;
}

static int walk_lost(walk *w) {
  /* Only a bug gets here: cJSON accepted what the walk cannot follow. */
  return weft_error_set(w->err, WEFT_ERR_INTERNAL,
                        "weft.v1.Envelope: the JSON text and its tree "
                        "disagree at byte %zu",
                        (size_t)(w->p - w->text));
}

static int walk_expect(walk *w, char c) {
  walk_ws(w);
  if (w->p >= w->end || *w->p != c)
    return walk_lost(w);
  w->p++;
  return 0;
}

/* Appends a member name or an index to the path (truncated to fit);
 * returns the length to restore. */
static size_t path_push(walk *w, const char *key, int index) {
  size_t old = w->path_len, room = sizeof w->path - old;
  int n = key ? snprintf(w->path + old, room, "%s%s", old ? "." : "", key)
              : snprintf(w->path + old, room, "[%d]", index);
  if (n > 0)
    w->path_len = (size_t)n < room ? old + (size_t)n : sizeof w->path - 1;
  for (size_t i = old; i < w->path_len; i++) /* a key is the peer's text */
    if ((unsigned char)w->path[i] < 32 || w->path[i] == 127)
      w->path[i] = '?';
  return old;
}

static void path_pop(walk *w, size_t len) {
  w->path_len = len;
  w->path[len] = '\0';
}

static int hex_digit(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
    return (c | 0x20) - 'a' + 10;
  return -1;
}

/* The string at w->p (its opening quote), a key or a value. */
static int walk_string(walk *w, bool is_key) {
  const char *what = is_key ? "keys" : "strings";
  const char *p;
  walk_ws(w);
  if (w->p >= w->end || *w->p != '"')
    return walk_lost(w);
  for (p = w->p + 1; p < w->end && *p != '"'; p++) {
    if (*p == '\0')
      return weft_error_set(w->err, WEFT_ERR_UTF8,
                            "weft.v1.Envelope.%s: %s cannot hold NUL (a raw "
                            "0 byte), at byte %zu",
                            w->path, what, (size_t)(p - w->text));
    if (*p != '\\')
      continue;
    if (p + 1 < w->end && p[1] == 'u') {
      unsigned cp = 0;
      for (int i = 2; i < 6; i++) {
        int h = p + i < w->end ? hex_digit(p[i]) : -1;
        if (h < 0)
          return weft_error_set(w->err, WEFT_ERR_JSON_SYNTAX,
                                "weft.v1.Envelope.%s: invalid JSON at byte "
                                "%zu: \\u needs four hex digits",
                                w->path, (size_t)(p - w->text));
        cp = cp << 4 | (unsigned)h;
      }
      if (cp == 0)
        return weft_error_set(w->err, WEFT_ERR_UTF8,
                              "weft.v1.Envelope.%s: %s cannot hold NUL "
                              "(\\u0000), at byte %zu",
                              w->path, what, (size_t)(p - w->text));
      p += 5;
    } else {
      p++; /* the escaped character, '"' and '\\' included */
    }
  }
  if (p >= w->end)
    return walk_lost(w);
  w->p = p + 1;
  return 0;
}

/* Is c a member whose number get_int reads? */
static bool int_member(const walk *w, const cJSON *obj, const cJSON *c) {
  static const char *const names[] = {"streamId", "stream_id", "kind",
                                      "timeoutMs", "timeout_ms"};
  if (!cJSON_IsNumber(c))
    return false;
  if (obj == w->status)
    return strcmp(c->string, "code") == 0;
  for (size_t i = 0; obj == w->root && i < sizeof names / sizeof *names; i++)
    if (strcmp(c->string, names[i]) == 0)
      return true;
  return false;
}

/* The value v, whose text starts at w->p (after whitespace); keep: record
 * a number's text. */
static int walk_value(walk *w, const cJSON *v, bool keep) {
  int rc;
  walk_ws(w);
  if (cJSON_IsString(v))
    return walk_string(w, false);
  if (cJSON_IsObject(v) || cJSON_IsArray(v)) {
    bool obj = cJSON_IsObject(v);
    int i = 0;
    if ((rc = walk_expect(w, obj ? '{' : '[')) < 0)
      return rc;
    for (const cJSON *c = v->child; c; c = c->next, i++) {
      size_t len = path_push(w, obj ? c->string : NULL, i);
      if (v == w->root && cJSON_IsObject(c) && strcmp(c->string, "status") == 0)
        w->status = c;
      if ((i && (rc = walk_expect(w, ',')) < 0) ||
          (obj && ((rc = walk_string(w, true)) < 0 ||
                   (rc = walk_expect(w, ':')) < 0)) ||
          (rc = walk_value(w, c, obj && int_member(w, v, c))) < 0)
        return rc;
      path_pop(w, len);
    }
    return walk_expect(w, obj ? '}' : ']');
  }
  /* A number, true, false or null: no string inside. */
  const char *start = w->p;
  while (w->p < w->end && (unsigned char)*w->p > 32 && *w->p != ',' &&
         *w->p != '}' && *w->p != ']')
    w->p++;
  if (w->p == start)
    return walk_lost(w);
  if (keep && w->n_num < sizeof w->num / sizeof w->num[0]) {
    w->num[w->n_num].v = v;
    w->num[w->n_num].p = start;
    w->num[w->n_num++].n = (size_t)(w->p - start);
  }
  return 0;
}

/* ---- integers -----------------------------------------------------------
 *
 * The proto3 JSON mapping gives an int32, int64 or uint64 field as a JSON
 * number or a decimal string. cJSON keeps a number only as a double, which
 * rounds past 2^53 (9007199254740993 became ...992) and cannot hold a
 * uint64 past 2^63, so a number is read from its own text, kept by the
 * walk; strtoull read " -1" as 2^64-1, so a string is plain digits. */

enum int_type { INT32, INT64, UINT64 };
static const char *const int_type_names[] = {"int32", "int64", "uint64"};
static const uint64_t int_type_max[] = {INT32_MAX, INT64_MAX, UINT64_MAX};

enum { INT_NOT_INTEGER = -1, INT_RANGE = -2, INT_NOT_NUMBER = -3 };

static bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

/* s[0..n), a JSON number by RFC 8259 (cJSON also takes 01 and -.5), to
 * its sign and magnitude if it is an integer, exactly: 1e3 and 5.0 are, as
 * protobuf's JsonFormat reads them, 1.5 and 1e-1 are not. 0 or INT_*. */
static int number_int(const char *s, size_t n, bool *neg, uint64_t *mag) {
  size_t i = 0, int0, int1, frac0, frac1;
  long long exp = 0;
  *neg = n && s[0] == '-';
  i = int0 = *neg;
  if (i < n && s[i] == '0')
    i++;
  else if (i < n && s[i] >= '1' && s[i] <= '9')
    while (i < n && is_digit(s[i]))
      i++;
  else
    return INT_NOT_NUMBER;
  int1 = frac0 = frac1 = i;
  if (i < n && s[i] == '.') {
    frac0 = ++i;
    while (i < n && is_digit(s[i]))
      i++;
    if (i == frac0)
      return INT_NOT_NUMBER;
    frac1 = i;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    bool eneg = false;
    if (++i < n && (s[i] == '+' || s[i] == '-'))
      eneg = s[i++] == '-';
    size_t e0 = i;
    for (; i < n && is_digit(s[i]); i++)
      if (exp < 1000000000) /* more than any frame's digits: saturate */
        exp = exp * 10 + (s[i] - '0');
    if (i == e0)
      return INT_NOT_NUMBER;
    if (eneg)
      exp = -exp;
  }
  if (i != n)
    return INT_NOT_NUMBER;
  /* The value is the digits (the integer part's, then the fraction's)
   * times 10^(exp - fraction digits). Leading zeros set aside, and
   * trailing ones moved into the exponent, it is an integer if that
   * exponent is not negative. */
  size_t ni = int1 - int0, nd = ni + (frac1 - frac0), first = 0, last = nd;
#define DIGIT(k) (unsigned)(s[(k) < ni ? int0 + (k) : frac0 + (k)-ni] - '0')
  while (first < nd && DIGIT(first) == 0)
    first++;
  *mag = 0;
  if (first == nd)
    return 0; /* zero, however written (-0, 0.0, 0e5) */
  while (DIGIT(last - 1) == 0)
    last--;
  long long e10 = exp - (long long)(frac1 - frac0) + (long long)(nd - last);
  if (e10 < 0)
    return INT_NOT_INTEGER;
  if ((long long)(last - first) + e10 > 20) /* 2^64 has 20 digits */
    return INT_RANGE;
  uint64_t v = 0;
  for (size_t k = first; k < last; k++) {
    if (v > (UINT64_MAX - DIGIT(k)) / 10)
      return INT_RANGE;
    v = v * 10 + DIGIT(k);
  }
#undef DIGIT
  for (; e10 > 0; e10--) {
    if (v > UINT64_MAX / 10)
      return INT_RANGE;
    v *= 10;
  }
  *mag = v;
  return 0;
}

/* A decimal string: digits, after a '-' (for a uint64 too: "-1" is then
 * out of range rather than not an integer). No space, no '+', no fraction
 * or exponent, as the proto3 JSON decoder has it. 0 or INT_*. */
static int string_int(const char *s, size_t n, bool *neg, uint64_t *mag) {
  size_t i = *neg = n && s[0] == '-';
  int rc = i < n ? 0 : INT_NOT_INTEGER;
  uint64_t v = 0;
  for (; i < n; i++) {
    if (!is_digit(s[i]))
      return INT_NOT_INTEGER;
    if (v > (UINT64_MAX - (unsigned)(s[i] - '0')) / 10)
      rc = INT_RANGE; /* unless a non-digit follows */
    v = v * 10 + (unsigned)(s[i] - '0');
  }
  *mag = v;
  return rc;
}

/* The integer field name's value v, a t, to *i (signed types) or *u. */
static int get_int(const walk *w, const cJSON *v, const char *name,
                   enum int_type t, int64_t *i, uint64_t *u, weft_error *err) {
  const char *s = NULL;
  size_t n = 0;
  bool neg, quoted = cJSON_IsString(v);
  uint64_t mag;
  int rc;
  if (quoted) {
    s = v->valuestring; /* the walk refused a NUL in it */
    n = strlen(s);
    rc = string_int(s, n, &neg, &mag);
  } else if (cJSON_IsNumber(v)) {
    for (size_t k = 0; k < w->n_num && !s; k++)
      if (w->num[k].v == v)
        s = w->num[k].p, n = w->num[k].n;
    if (!s) /* only a bug gets here */
      return weft_error_set(err, WEFT_ERR_INTERNAL,
                            "weft.v1.Envelope.%s: the number's text was "
                            "not kept",
                            name);
    rc = number_int(s, n, &neg, &mag);
  } else {
    return weft_error_set(err, WEFT_ERR_JSON_TYPE,
                          "weft.v1.Envelope.%s: a %s is a number or a "
                          "decimal string",
                          name, int_type_names[t]);
  }
  if (rc == 0 && (neg && mag ? t == UINT64 || mag - 1 > int_type_max[t]
                             : mag > int_type_max[t]))
    rc = INT_RANGE;
  if (rc == 0) {
    if (i)
      *i = neg && mag ? -(int64_t)(mag - 1) - 1 : (int64_t)mag;
    else
      *u = mag;
    return 0;
  }
  /* The text as given, shortened, with the peer's control bytes masked. */
  char shown[48];
  size_t k = 0;
  for (; k < n && k < 40; k++)
    shown[k] = (unsigned char)s[k] < 32 || s[k] == 127 ? '?' : s[k];
  strcpy(shown + k, k < n ? "..." : "");
  const char *q = quoted ? "\"" : "";
  if (rc == INT_NOT_NUMBER)
    return weft_error_set(err, WEFT_ERR_JSON_SYNTAX,
                          "weft.v1.Envelope.%s: %s is not a JSON number", name,
                          shown);
  if (rc == INT_RANGE)
    return weft_error_set(err, WEFT_ERR_JSON_RANGE,
                          "weft.v1.Envelope.%s: %s%s%s is out of range for %s",
                          name, q, shown, q, int_type_names[t]);
  return weft_error_set(err, WEFT_ERR_JSON_TYPE,
                        "weft.v1.Envelope.%s: %s%s%s is not an integer", name,
                        q, shown, q);
}

#define MAX_MD 256

int weft__env_json_decode(weft__env *e, const uint8_t *data, size_t len,
                          uint8_t **scratch, weft_error *err) {
  const char *what = "envelope";
  weft__env_out o = {0};
  const char *keys[MAX_MD];
  const uint8_t *vals[MAX_MD];
  size_t vlens[MAX_MD];
  uint8_t *bufs[MAX_MD + 3];
  size_t nb = 0;
  int64_t i64;
  int rc = WEFT_ERR_MALFORMED;
  *scratch = NULL;
  const char *text = (const char *)data, *end = NULL;
  /* The end pointer, not cJSON_GetErrorPtr: that one is a global shared by
   * every thread parsing at once, the end pointer is this parse's own. On
   * failure it is where cJSON stopped. */
  cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
  if (!root)
    return weft_error_set(err, WEFT_ERR_JSON_SYNTAX,
                          "weft.v1.Envelope: invalid JSON at byte %zu of %zu",
                          end ? (size_t)(end - text) : 0, len);
  /* cJSON stops after the first value: a second envelope in the same text
   * would be dropped unseen. Only JSON's whitespace may follow. */
  while (end < text + len &&
         (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
    end++;
  if (end < text + len) {
    cJSON_Delete(root);
    return weft_error_set(
        err, WEFT_ERR_JSON_SYNTAX,
        "weft.v1.Envelope: unexpected data after the envelope at byte %zu",
        (size_t)(end - text));
  }
  if (!cJSON_IsObject(root))
    goto bad;
  /* From the root's '{': before it, cJSON skips a UTF-8 BOM too. */
  walk w = {.text = text,
            .p = memchr(text, '{', len),
            .end = text + len,
            .err = err,
            .root = root};
  if ((rc = walk_value(&w, root, false)) < 0 ||
      (rc = given_twice(root, envelope_fields, N_FIELDS(envelope_fields), "",
                        err)) < 0)
    goto out;
  const cJSON *v;
  if ((v = field(root, "streamId", "stream_id"))) {
    if ((rc = get_int(&w, v, "streamId", UINT64, NULL, &o.stream_id, err)) < 0)
      goto out;
  }
  if ((v = field(root, "kind", "kind"))) {
    what = "kind";
    if (cJSON_IsNumber(v)) { /* an enum's number: an int32 */
      if ((rc = get_int(&w, v, "kind", INT32, &i64, NULL, err)) < 0)
        goto out;
      o.kind = (int32_t)i64;
    } else if (cJSON_IsString(v)) {
      size_t k = 0;
      while (k < N_KINDS && strcmp(kind_names[k], v->valuestring) != 0)
        k++;
      if (k == N_KINDS)
        goto bad;
      o.kind = (int32_t)k;
    } else {
      goto bad;
    }
  }
  if ((v = field(root, "method", "method"))) {
    what = "method";
    if (!cJSON_IsString(v))
      goto bad;
    o.method = v->valuestring;
  }
  if ((v = field(root, "metadata", "metadata"))) {
    what = "metadata";
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > MAX_MD)
      goto bad;
    const cJSON *it;
    cJSON_ArrayForEach(it, v) {
      char in[32];
      snprintf(in, sizeof in, "metadata[%zu]", o.n_md);
      if (!cJSON_IsObject(it))
        goto bad;
      if ((rc = given_twice(it, entry_fields, N_FIELDS(entry_fields), in,
                            err)) < 0)
        goto out;
      const cJSON *k = field(it, "key", "key"),
                  *val = field(it, "value", "value");
      if (k && !cJSON_IsString(k))
        goto bad;
      keys[o.n_md] = k ? k->valuestring : "";
      vals[o.n_md] = NULL;
      vlens[o.n_md] = 0;
      if (val && nb >= MAX_MD)
        goto bad;
      if (val &&
          (rc = get_bytes(val, bufs, &nb, &vals[o.n_md], &vlens[o.n_md])) < 0)
        goto failed;
      o.n_md++;
    }
    o.md_keys = keys;
    o.md_values = vals;
    o.md_value_lens = vlens;
  }
  if ((v = field(root, "payload", "payload"))) {
    what = "payload";
    o.has_payload = true;
    if ((rc = get_bytes(v, bufs, &nb, &o.payload, &o.payload_len)) < 0)
      goto failed;
  }
  if ((v = field(root, "status", "status"))) {
    what = "status";
    if (!cJSON_IsObject(v))
      goto bad;
    if ((rc = given_twice(v, status_fields, N_FIELDS(status_fields), "status",
                          err)) < 0)
      goto out;
    o.has_status = true;
    const cJSON *c = field(v, "code", "code"),
                *msg = field(v, "message", "message"),
                *det = field(v, "details", "details");
    if (c && (rc = get_int(&w, c, "status.code", INT32, &i64, NULL, err)) < 0)
      goto out;
    o.status_code = c ? (int32_t)i64 : 0;
    if (msg && !cJSON_IsString(msg))
      goto bad;
    o.status_message = msg ? msg->valuestring : NULL;
    if (det && (rc = get_bytes(det, bufs, &nb, &o.status_details,
                               &o.status_details_len)) < 0)
      goto failed;
  }
  if ((v = field(root, "timeoutMs", "timeout_ms"))) {
    if ((rc = get_int(&w, v, "timeoutMs", INT64, &o.timeout_ms, NULL, err)) < 0)
      goto out;
  }
  {
    size_t n = weft__env_size(&o);
    uint8_t *bin = malloc(n ? n : 1);
    if (!bin) {
      rc = weft_error_set(err, WEFT_ERR_NOMEM,
                          "weft.v1.Envelope: out of memory");
      goto out;
    }
    weft__env_encode(&o, bin, n);
    rc = weft__env_decode(e, bin, n, err);
    if (rc < 0)
      free(bin);
    else
      *scratch = bin;
    /* The JSON form keeps "payload present" even when it is empty. */
    if (rc == 0)
      e->has_payload = o.has_payload;
  }
  goto out;
failed: /* rc from get_bytes */
  if (rc == WEFT_ERR_NOMEM) {
    rc = weft_error_set(err, WEFT_ERR_NOMEM,
                        "weft.v1.Envelope.%s: out of memory", what);
    goto out;
  }
bad:
  rc = weft_error_set(err, WEFT_ERR_MALFORMED,
                      "weft.v1.Envelope.%s: invalid JSON value", what);
out:
  for (size_t i = 0; i < nb; i++)
    free(bufs[i]);
  cJSON_Delete(root);
  return rc;
}
