/* URL parsing for endpoint URLs: scheme://host[:port][/path][?query].
 * No user-info (credentials go in metadata, never in URLs that get logged);
 * a "#fragment" is dropped. IPv6 literals are written in brackets and stored
 * without them, ready for getaddrinfo. */
#include <ctype.h>
#include <string.h>

#include "weft/transport.h"

static int copy_part(char *dst, size_t cap, const char *src, size_t len) {
  if (len >= cap)
    return -1;
  memcpy(dst, src, len);
  dst[len] = '\0';
  return 0;
}

int weft_url_parse(const char *url, weft_url *out, weft_error *err) {
  if (!url || !out)
    return weft_error_set(err, WEFT_ERR_INVAL, "url: NULL argument");
  memset(out, 0, sizeof *out);
  out->port = -1;

  const char *sep = strstr(url, "://");
  if (!sep || sep == url)
    return weft_error_set(err, WEFT_ERR_BAD_URL,
                          "url \"%.200s\": expected scheme://host", url);
  size_t sl = (size_t)(sep - url);
  if (sl >= sizeof out->scheme)
    return weft_error_set(err, WEFT_ERR_BAD_URL,
                          "url \"%.200s\": scheme too long", url);
  for (size_t i = 0; i < sl; i++) {
    unsigned char c = (unsigned char)url[i];
    bool ok = isalpha(c) ||
              (i > 0 && (isdigit(c) || c == '+' || c == '-' || c == '.'));
    if (!ok)
      return weft_error_set(err, WEFT_ERR_BAD_URL,
                            "url \"%.200s\": bad character in scheme", url);
    out->scheme[i] = (char)tolower(c);
  }

  const char *p = sep + 3;
  size_t auth_len = strcspn(p, "/?#");
  const char *auth_end = p + auth_len;
  if (memchr(p, '@', auth_len))
    return weft_error_set(err, WEFT_ERR_BAD_URL,
                          "url \"%.200s\": user info is not supported "
                          "(pass credentials as metadata)",
                          url);
  const char *host = p, *host_end, *port_start = NULL;
  if (*p == '[') {
    const char *close = memchr(p, ']', auth_len);
    if (!close)
      return weft_error_set(err, WEFT_ERR_BAD_URL,
                            "url \"%.200s\": unterminated [IPv6] host", url);
    host = p + 1;
    host_end = close;
    if (close + 1 < auth_end) {
      if (close[1] != ':')
        return weft_error_set(err, WEFT_ERR_BAD_URL,
                              "url \"%.200s\": junk after ]", url);
      port_start = close + 2;
    }
  } else {
    const char *colon = memchr(p, ':', auth_len);
    host_end = colon ? colon : auth_end;
    if (colon)
      port_start = colon + 1;
  }
  if (host_end == host)
    return weft_error_set(err, WEFT_ERR_BAD_URL, "url \"%.200s\": empty host",
                          url);
  if (copy_part(out->host, sizeof out->host, host, (size_t)(host_end - host)))
    return weft_error_set(err, WEFT_ERR_BAD_URL,
                          "url \"%.200s\": host too long", url);
  if (port_start) {
    if (port_start == auth_end)
      return weft_error_set(err, WEFT_ERR_BAD_URL, "url \"%.200s\": empty port",
                            url);
    long port = 0;
    for (const char *q = port_start; q < auth_end; q++) {
      if (!isdigit((unsigned char)*q))
        return weft_error_set(err, WEFT_ERR_BAD_URL,
                              "url \"%.200s\": port is not a number", url);
      port = port * 10 + (*q - '0');
      if (port > 65535)
        return weft_error_set(err, WEFT_ERR_BAD_URL,
                              "url \"%.200s\": port over 65535", url);
    }
    out->port = (int)port;
  }

  p = auth_end;
  size_t path_len = strcspn(p, "?#");
  if (copy_part(out->path, sizeof out->path, p, path_len))
    return weft_error_set(err, WEFT_ERR_BAD_URL,
                          "url \"%.200s\": path too long", url);
  p += path_len;
  if (*p == '?') {
    p++;
    size_t ql = strcspn(p, "#");
    if (copy_part(out->query, sizeof out->query, p, ql))
      return weft_error_set(err, WEFT_ERR_BAD_URL,
                            "url \"%.200s\": query too long", url);
  }
  return 0;
}

static int hexval(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  c = tolower(c);
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

/* Decodes %XX and '+' (form encoding) from src[0..len) into buf. */
static int pct_decode(const char *src, size_t len, char *buf, size_t cap) {
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    char c = src[i];
    if (c == '+') {
      c = ' ';
    } else if (c == '%' && i + 2 < len) {
      int h = hexval((unsigned char)src[i + 1]);
      int l = hexval((unsigned char)src[i + 2]);
      if (h >= 0 && l >= 0) { /* a stray '%' stays literal */
        c = (char)(h * 16 + l);
        i += 2;
      }
    }
    if (o + 1 >= cap)
      return WEFT_ERR_TOO_BIG;
    buf[o++] = c;
  }
  buf[o] = '\0';
  return 0;
}

int weft_url_query_param(const char *query, const char *name, char *buf,
                         size_t cap) {
  if (!query || !name || !buf || cap == 0)
    return WEFT_ERR_INVAL;
  size_t nl = strlen(name);
  const char *p = query;
  if (*p == '?')
    p++;
  while (*p) {
    size_t seg = strcspn(p, "&");
    const char *eq = memchr(p, '=', seg);
    size_t kl = eq ? (size_t)(eq - p) : seg;
    if (kl == nl && memcmp(p, name, nl) == 0) {
      if (!eq)
        return pct_decode("", 0, buf, cap);
      return pct_decode(eq + 1, seg - kl - 1, buf, cap);
    }
    p += seg;
    if (*p == '&')
      p++;
  }
  return -1;
}
