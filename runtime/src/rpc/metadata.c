/* Request/response metadata: an ordered multimap with lowercase keys. */
#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "weft/error.h"
#include "weft/status.h"

/* An HTTP field-name token (RFC 9110 tchar). Every transport writes keys
 * as header names somewhere (HTTP/2, HTTP/1.1, gRPC), so a key that is not
 * one could not be sent and is refused here, where the caller sees it. */
static bool key_ok(const char *key, size_t kl) {
  if (kl == 0)
    return false;
  for (size_t i = 0; i < kl; i++) {
    unsigned char c = (unsigned char)key[i];
    if (!isalnum(c) && !strchr("!#$%&'*+-.^_`|~", c))
      return false;
  }
  return true;
}

static bool is_binary_key(const char *key, size_t kl) {
  return kl >= 4 && strcasecmp(key + kl - 4, "-bin") == 0;
}

/* CR, LF or NUL in a text value would end the header line on HTTP/1.1 and
 * be refused (or worse, passed on) by other stacks: header injection.
 * Binary (-bin) values are base64-encoded by the transports that write text. */
static bool text_value_ok(const uint8_t *v, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (v[i] == '\r' || v[i] == '\n' || v[i] == 0)
      return false;
  return true;
}

int weft_metadata_add(weft_metadata *md, const char *key, const void *value,
                      size_t value_len) {
  if (!md || !key || !*key || (!value && value_len))
    return WEFT_ERR_INVAL;
  size_t klen = strlen(key);
  if (!key_ok(key, klen) ||
      (!is_binary_key(key, klen) && !text_value_ok(value, value_len)))
    return WEFT_ERR_INVAL;
  if (md->count == md->cap) {
    size_t cap = md->cap ? md->cap * 2 : 8;
    weft_metadata_entry *e = realloc(md->entries, cap * sizeof *e);
    if (!e)
      return WEFT_ERR_NOMEM;
    md->entries = e;
    md->cap = cap;
  }
  size_t kl = strlen(key);
  char *k = malloc(kl + 1);
  /* One extra NUL after the value so text values can be used as C strings. */
  uint8_t *v = malloc(value_len + 1);
  if (!k || !v) {
    free(k);
    free(v);
    return WEFT_ERR_NOMEM;
  }
  for (size_t i = 0; i <= kl; i++)
    k[i] = (char)tolower((unsigned char)key[i]);
  if (value_len)
    memcpy(v, value, value_len);
  v[value_len] = 0;
  weft_metadata_entry *e = &md->entries[md->count++];
  e->key = k;
  e->value = v;
  e->value_len = value_len;
  return 0;
}

int weft_metadata_add_str(weft_metadata *md, const char *key,
                          const char *value) {
  if (!value)
    return WEFT_ERR_INVAL;
  return weft_metadata_add(md, key, value, strlen(value));
}

const weft_metadata_entry *weft_metadata_get(const weft_metadata *md,
                                             const char *key) {
  if (!md || !key)
    return NULL;
  for (size_t i = 0; i < md->count; i++)
    if (strcasecmp(md->entries[i].key, key) == 0)
      return &md->entries[i];
  return NULL;
}

/* Appends src's entries to dst (dst keeps what it had). */
int weft_metadata_copy(weft_metadata *dst, const weft_metadata *src) {
  if (!dst)
    return WEFT_ERR_INVAL;
  if (!src)
    return 0;
  for (size_t i = 0; i < src->count; i++) {
    const weft_metadata_entry *e = &src->entries[i];
    int rv = weft_metadata_add(dst, e->key, e->value, e->value_len);
    if (rv < 0)
      return rv;
  }
  return 0;
}

void weft_metadata_clear(weft_metadata *md) {
  if (!md)
    return;
  for (size_t i = 0; i < md->count; i++) {
    free(md->entries[i].key);
    free(md->entries[i].value);
  }
  free(md->entries);
  md->entries = NULL;
  md->count = md->cap = 0;
}
