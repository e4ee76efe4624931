/* Request/response metadata: an ordered multimap with lowercase keys. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "weft/error.h"
#include "weft/status.h"

int weft_metadata_add(weft_metadata *md, const char *key, const void *value,
                      size_t value_len) {
  if (!md || !key || !*key || (!value && value_len))
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
