/* MB header line: validators, parser and encoder. See weft/mb.h. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mb_header_int.h"
#include "weft/mb.h"

const char *weft_mb_action_name(weft_mb_action a) {
  switch (a) {
  case WEFT_MB_PUBLISH:
    return "publish";
  case WEFT_MB_REQUEST:
    return "request";
  case WEFT_MB_RESPONSE:
    return "response";
  default:
    return "";
  }
}

static const char *const code_names[WEFT_MB_CODE_COUNT] = {
    "OK",
#define WEFT__MB_CODE_STR(name) #name,
    WEFT_MB_CODE_MAP(WEFT__MB_CODE_STR)
#undef WEFT__MB_CODE_STR
};

const char *weft_mb_code_name(weft_mb_code c) {
  if ((int)c < 0 || c >= WEFT_MB_CODE_COUNT)
    return "INTERNAL_ERROR";
  return code_names[c];
}

int weft_mb_code_from_name(const char *name, size_t len) {
  /* OK is not a wire code. */
  for (int i = 1; i < WEFT_MB_CODE_COUNT; i++)
    if (strlen(code_names[i]) == len && memcmp(code_names[i], name, len) == 0)
      return i;
  return -1;
}

static bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
static bool is_alnum(char c) {
  return is_alpha(c) || is_digit(c);
}
static bool is_lhex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f');
}

/* ^[a-zA-Z][a-zA-Z0-9]*(\.[a-zA-Z][a-zA-Z0-9]*){0,4}$, at most 255 chars. */
bool weft_mb_topic_valid(const char *s, size_t len) {
  if (len == 0 || len > WEFT_MB_MAX_TOPIC)
    return false;
  unsigned segments = 1;
  bool seg_start = true;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    if (c == '.') {
      if (seg_start || ++segments > WEFT_MB_MAX_TOPIC_SEGMENTS)
        return false;
      seg_start = true;
    } else if (seg_start) {
      if (!is_alpha(c))
        return false;
      seg_start = false;
    } else if (!is_alnum(c)) {
      return false;
    }
  }
  return !seg_start;
}

/* A numeric identifier: "0" or no leading zero. */
static bool semver_num(const char *s, size_t len) {
  if (len == 0)
    return false;
  for (size_t i = 0; i < len; i++)
    if (!is_digit(s[i]))
      return false;
  return len == 1 || s[0] != '0';
}

/* Dot-separated identifiers of [0-9A-Za-z-]; prerelease ones that are all
 * digits must not have leading zeros (semver 2.0.0 rules 9 and 10). */
static bool semver_idents(const char *s, size_t len, bool prerelease) {
  size_t start = 0;
  for (size_t i = 0; i <= len; i++) {
    if (i < len && s[i] != '.') {
      if (!is_alnum(s[i]) && s[i] != '-')
        return false;
      continue;
    }
    size_t n = i - start;
    if (n == 0)
      return false;
    if (prerelease) {
      bool numeric = true;
      for (size_t k = start; k < i; k++)
        numeric = numeric && is_digit(s[k]);
      if (numeric && !semver_num(s + start, n))
        return false;
    }
    start = i + 1;
  }
  return true;
}

/* The bytes of one ECMAScript white-space or line-terminator character at
 * s (what String.prototype.trim and parseInt skip), 0 if none. */
static size_t js_space(const char *s, size_t len) {
  const unsigned char *u = (const unsigned char *)s;
  if (len == 0)
    return 0;
  if (u[0] == ' ' || (u[0] >= '\t' && u[0] <= '\r'))
    return 1;
  if (len >= 2 && u[0] == 0xc2 && u[1] == 0xa0) /* U+00A0 */
    return 2;
  if (len < 3)
    return 0;
  if (u[0] == 0xe1 && u[1] == 0x9a && u[2] == 0x80) /* U+1680 */
    return 3;
  if (u[0] == 0xe2 && u[1] == 0x80 &&
      ((u[2] >= 0x80 && u[2] <= 0x8a) || u[2] == 0xa8 || u[2] == 0xa9 ||
       u[2] == 0xaf))
    return 3; /* U+2000..200A, 2028, 2029, 202F */
  if (u[0] == 0xe2 && u[1] == 0x81 && u[2] == 0x9f) /* U+205F */
    return 3;
  if (u[0] == 0xe3 && u[1] == 0x80 && u[2] == 0x80) /* U+3000 */
    return 3;
  if (u[0] == 0xef && u[1] == 0xbb && u[2] == 0xbf) /* U+FEFF */
    return 3;
  return 0;
}

/* Trailing white space: the longest suffix js_space() would consume. */
static size_t js_trim_end(const char *s, size_t len) {
  for (;;) {
    size_t cut = 0;
    for (size_t k = 1; k <= 3 && k <= len; k++)
      if (js_space(s + len - k, k) == k) {
        cut = k;
        break;
      }
    if (!cut)
      return len;
    len -= cut;
  }
}

/* UTF-16 code units of UTF-8 text (what a JavaScript string length counts). */
static size_t utf16_units(const char *s, size_t len) {
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if ((c & 0xc0) != 0x80)
      n += c >= 0xf0 ? 2 : 1;
  }
  return n;
}

/* MAJOR, MINOR and PATCH must fit a JavaScript safe integer (2^53 - 1). */
static bool semver_safe(const char *s, size_t len) {
  if (len > 16)
    return false;
  uint64_t v = 0;
  for (size_t i = 0; i < len; i++)
    v = v * 10 + (uint64_t)(s[i] - '0');
  return v <= 9007199254740991ull;
}

/* What node-semver's valid() accepts (the broker's check): at most 256
 * characters; surrounding white space and one leading "v" are allowed;
 * then MAJOR.MINOR.PATCH[-pre][+build] per semver 2.0.0. */
bool weft_mb_semver_valid(const char *s, size_t len) {
  if (utf16_units(s, len) > 256)
    return false;
  size_t sp;
  while ((sp = js_space(s, len)) > 0) {
    s += sp;
    len -= sp;
  }
  len = js_trim_end(s, len);
  if (len > 0 && s[0] == 'v') {
    s++;
    len--;
  }
  size_t end = len;
  const char *plus = memchr(s, '+', len);
  if (plus) {
    size_t at = (size_t)(plus - s);
    if (!semver_idents(plus + 1, len - at - 1, false))
      return false;
    end = at;
  }
  const char *dash = memchr(s, '-', end);
  size_t core_end = end;
  if (dash) {
    size_t at = (size_t)(dash - s);
    if (!semver_idents(dash + 1, end - at - 1, true))
      return false;
    core_end = at;
  }
  /* MAJOR.MINOR.PATCH */
  size_t start = 0;
  int parts = 0;
  for (size_t i = 0; i <= core_end; i++) {
    if (i < core_end && s[i] != '.')
      continue;
    if (++parts > 3 || !semver_num(s + start, i - start) ||
        !semver_safe(s + start, i - start))
      return false;
    start = i + 1;
  }
  return parts == 3;
}

/* Any lowercase 8-4-4-4-12 hex UUID: the broker checks the shape, not the
 * version nibble, despite the format's "UUIDv4". */
bool weft_mb_uuid_valid(const char *s, size_t len) {
  if (len != WEFT_MB_UUID_LEN)
    return false;
  for (size_t i = 0; i < len; i++) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-')
        return false;
    } else if (!is_lhex(s[i])) {
      return false;
    }
  }
  return true;
}

static void copy_field(char *dst, size_t cap, const char *src, size_t len) {
  if (len >= cap)
    len = cap - 1;
  memcpy(dst, src, len);
  dst[len] = '\0';
}

void weft_mb_header_init(weft_mb_header *h, weft_mb_action action,
                         const char *topic, const char *version) {
  memset(h, 0, sizeof *h);
  h->action = action;
  if (topic)
    copy_field(h->topic, sizeof h->topic, topic, strlen(topic));
  if (version)
    copy_field(h->version, sizeof h->version, version, strlen(version));
  h->timeout_ms = WEFT_MB_DEFAULT_TIMEOUT_MS;
}

static weft_mb_action parse_action(const char *s, size_t len) {
  static const struct {
    const char *name;
    weft_mb_action a;
  } actions[] = {{"publish", WEFT_MB_PUBLISH},
                 {"request", WEFT_MB_REQUEST},
                 {"response", WEFT_MB_RESPONSE}};
  for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++) {
    const char *n = actions[i].name;
    if (strlen(n) != len)
      continue;
    size_t k = 0;
    while (k < len && (s[k] | 0x20) == n[k])
      k++;
    if (k == len)
      return actions[i].a;
  }
  return WEFT_MB_ACTION_NONE;
}

/* JavaScript's parseInt(s) (no radix) as far as the broker's timeout check
 * can tell: leading white space, a sign, "0x" for hex, then the longest run
 * of digits; trailing junk is ignored. False when it yields NaN or a value
 * outside 1..max. */
static bool js_parse_timeout(const char *s, size_t len, uint32_t max,
                             uint32_t *out, double *value) {
  size_t i = 0, sp;
  while ((sp = js_space(s + i, len - i)) > 0)
    i += sp;
  bool neg = false;
  if (i < len && (s[i] == '+' || s[i] == '-'))
    neg = s[i++] == '-';
  unsigned base = 10;
  if (i + 1 < len && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
    base = 16;
    i += 2;
  }
  uint64_t v = 0;
  double dv = 0;
  size_t digits = 0;
  for (; i < len; i++, digits++) {
    char c = s[i];
    unsigned d;
    if (is_digit(c))
      d = (unsigned)(c - '0');
    else if (base == 16 && c >= 'a' && c <= 'f')
      d = (unsigned)(c - 'a' + 10);
    else if (base == 16 && c >= 'A' && c <= 'F')
      d = (unsigned)(c - 'A' + 10);
    else
      break;
    if (v <= max)
      v = v * base + d; /* past max it stays past max: no overflow */
    dv = dv * base + d;
  }
  *value = digits == 0 ? NAN : neg ? -dv : dv;
  if (digits == 0 || neg || v < 1 || v > max)
    return false;
  *out = (uint32_t)v;
  return true;
}

/* Records the first failure only; later valid fields are still filled in.
 * Every header failure is MALFORMED_MESSAGE, as the broker answers. */
static int fail(int *rv, weft_mb_code *code, weft_error *err,
                weft__mb_fault *fault, weft__mb_fault_kind kind,
                const char *fmt, const char *arg, size_t arglen) {
  if (*rv != 0)
    return *rv;
  if (fault) {
    fault->kind = kind;
    fault->raw = arg;
    fault->raw_len = arglen;
  }
  *rv = WEFT_ERR_MALFORMED;
  if (code)
    *code = WEFT_MB_MALFORMED_MESSAGE;
  int shown = arglen > 64 ? 64 : (int)arglen;
  return weft_error_set(err, WEFT_ERR_MALFORMED, fmt, shown, arg,
                        arglen > 64 ? "..." : "");
}

int weft_mb_header_parse(const char *line, size_t len, weft_mb_header *h,
                         weft_mb_code *code, weft_error *err) {
  return weft__mb_header_parse_fault(line, len, h, code, err, NULL);
}

int weft__mb_header_parse_fault(const char *line, size_t len, weft_mb_header *h,
                                weft_mb_code *code, weft_error *err,
                                weft__mb_fault *fault) {
  weft_mb_header_init(h, WEFT_MB_ACTION_NONE, NULL, NULL);
  if (code)
    *code = WEFT_MB_OK;
  if (fault)
    memset(fault, 0, sizeof *fault);
  if (len > WEFT_MB_MAX_HEADER_LINE) {
    if (fault)
      fault->kind = WEFT__MB_FAULT_LENGTH;
    if (code)
      *code = WEFT_MB_MALFORMED_MESSAGE;
    return weft_error_set(err, WEFT_ERR_TOO_BIG,
                          "MB header: %zu bytes, over the %d-byte limit", len,
                          WEFT_MB_MAX_HEADER_LINE);
  }
  /* Split on ':' (no field may contain one); fields past the sixth are
   * ignored, as the broker does. */
  const char *f[6];
  size_t fl[6];
  size_t n = 0, start = 0;
  for (size_t i = 0; i <= len && n < 6; i++) {
    if (i < len && line[i] != ':')
      continue;
    f[n] = line + start;
    fl[n] = i - start;
    n++;
    start = i + 1;
  }
  if (n < 3) {
    if (fault)
      fault->kind = WEFT__MB_FAULT_FIELDS;
    if (code)
      *code = WEFT_MB_MALFORMED_MESSAGE;
    return weft_error_set(err, WEFT_ERR_MALFORMED,
                          "MB header: missing action, topic, or version (want "
                          "action:topic:version[:requestId[:parentRequestId"
                          "[:timeout]]])");
  }

  int rv = 0;
  h->action = parse_action(f[0], fl[0]);
  if (h->action == WEFT_MB_ACTION_NONE)
    fail(&rv, code, err, fault, WEFT__MB_FAULT_ACTION,
         "MB header: action \"%.*s%s\" is not publish, request or response",
         f[0], fl[0]);

  if (weft_mb_topic_valid(f[1], fl[1]))
    copy_field(h->topic, sizeof h->topic, f[1], fl[1]);
  else
    fail(&rv, code, err, fault, WEFT__MB_FAULT_TOPIC,
         "MB header: topic \"%.*s%s\" is not a valid topic (letters/digits, "
         "1-5 dot-separated segments, at most 255 chars)",
         f[1], fl[1]);

  if (weft_mb_semver_valid(f[2], fl[2]))
    copy_field(h->version, sizeof h->version, f[2], fl[2]);
  else
    fail(&rv, code, err, fault, WEFT__MB_FAULT_VERSION,
         "MB header: version \"%.*s%s\" is not semver", f[2], fl[2]);

  if (n > 3 && fl[3] > 0) {
    if (weft_mb_uuid_valid(f[3], fl[3]))
      copy_field(h->request_id, sizeof h->request_id, f[3], fl[3]);
    else
      fail(&rv, code, err, fault, WEFT__MB_FAULT_ID,
           "MB header: request id \"%.*s%s\" is not a lowercase UUID", f[3],
           fl[3]);
  }

  if (n > 4 && fl[4] > 0) {
    if (weft_mb_uuid_valid(f[4], fl[4]))
      copy_field(h->parent_request_id, sizeof h->parent_request_id, f[4],
                 fl[4]);
    else
      fail(&rv, code, err, fault, WEFT__MB_FAULT_PARENT,
           "MB header: parent request id \"%.*s%s\" is not a lowercase UUID",
           f[4], fl[4]);
  }

  if (n > 5 && fl[5] > 0) {
    uint32_t t = 0;
    double tv = 0;
    if (h->action != WEFT_MB_REQUEST)
      fail(&rv, code, err, fault, WEFT__MB_FAULT_TIMEOUT_ACTION,
           "MB header: a timeout (\"%.*s%s\") is only allowed on a request",
           f[5], fl[5]);
    else if (js_parse_timeout(f[5], fl[5], WEFT_MB_MAX_TIMEOUT_MS, &t, &tv)) {
      h->has_timeout = true;
      h->timeout_ms = t;
    } else {
      if (fault && rv == 0) {
        fault->timeout_nan = isnan(tv);
        fault->timeout_value = tv;
      }
      fail(&rv, code, err, fault, WEFT__MB_FAULT_TIMEOUT,
           "MB header: timeout \"%.*s%s\" is not 1..3600000 ms", f[5], fl[5]);
    }
  }
  return rv;
}

ssize_t weft_mb_header_encode(const weft_mb_header *h, char *buf, size_t cap,
                              weft_error *err) {
  const char *action = weft_mb_action_name(h->action);
  if (!*action)
    return weft_error_set(err, WEFT_ERR_INVAL, "MB header: no action");
  size_t tl = strnlen(h->topic, sizeof h->topic);
  if (!weft_mb_topic_valid(h->topic, tl))
    return weft_error_set(err, WEFT_ERR_INVAL,
                          "MB header: invalid topic \"%.64s\"", h->topic);
  size_t vl = strnlen(h->version, sizeof h->version);
  if (!weft_mb_semver_valid(h->version, vl) || memchr(h->version, ':', vl) ||
      memchr(h->version, '\n', vl))
    return weft_error_set(err, WEFT_ERR_INVAL,
                          "MB header: version \"%.64s\" is not semver",
                          h->version);
  size_t il = strnlen(h->request_id, sizeof h->request_id);
  size_t pl = strnlen(h->parent_request_id, sizeof h->parent_request_id);
  if (il && !weft_mb_uuid_valid(h->request_id, il))
    return weft_error_set(err, WEFT_ERR_INVAL,
                          "MB header: request id \"%s\" is not a lowercase "
                          "UUID",
                          h->request_id);
  if (pl && !weft_mb_uuid_valid(h->parent_request_id, pl))
    return weft_error_set(err, WEFT_ERR_INVAL,
                          "MB header: parent request id \"%s\" is not a "
                          "lowercase UUID",
                          h->parent_request_id);
  if (h->has_timeout && h->action != WEFT_MB_REQUEST)
    return weft_error_set(err, WEFT_ERR_INVAL,
                          "MB header: only a request carries a timeout");
  if (h->has_timeout &&
      (h->timeout_ms < 1 || h->timeout_ms > WEFT_MB_MAX_TIMEOUT_MS))
    return weft_error_set(err, WEFT_ERR_INVAL,
                          "MB header: timeout %u is not 1..3600000 ms",
                          (unsigned)h->timeout_ms);

  /* Trailing absent fields are dropped; earlier ones are written empty. */
  char timeout[16] = "";
  if (h->has_timeout)
    snprintf(timeout, sizeof timeout, "%u", (unsigned)h->timeout_ms);
  int last = h->has_timeout ? 6 : pl ? 5 : il ? 4 : 3;
  int n = snprintf(buf, cap, "%s:%s:%s", action, h->topic, h->version);
  size_t total = (size_t)(n < 0 ? 0 : n);
  const char *rest[3] = {h->request_id, h->parent_request_id, timeout};
  for (int i = 4; i <= last; i++) {
    size_t want = 1 + strlen(rest[i - 4]);
    if (total + want < cap)
      snprintf(buf + total, cap - total, ":%s", rest[i - 4]);
    total += want;
  }
  if (total > WEFT_MB_MAX_HEADER_LINE)
    return weft_error_set(err, WEFT_ERR_INVAL,
                          "MB header: %zu bytes, over the %d-byte limit", total,
                          WEFT_MB_MAX_HEADER_LINE);
  if (total >= cap)
    return weft_error_set(err, WEFT_ERR_TOO_BIG,
                          "MB header: needs %zu bytes, buffer has %zu",
                          total + 1, cap);
  return (ssize_t)total;
}
