/* weft_contract_load: the file-reading half of loading a contract. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contract_internal.h"

static int read_all(const char *path, char **out, size_t *len,
                    weft_error *err) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return weft_error_set(err, WEFT_ERR_IO, "%s: %s", path, strerror(errno));
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  size_t got;
  while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
    n += got;
    if (cap - n - 1 == 0) {
      char *nb = cap > (64u << 20) ? NULL : realloc(buf, cap * 2);
      if (!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap *= 2;
    }
  }
  bool bad = ferror(f);
  fclose(f);
  if (!buf)
    return weft_error_set(err, WEFT_ERR_NOMEM, "%s: too big", path);
  if (bad) {
    free(buf);
    return weft_error_set(err, WEFT_ERR_IO, "%s: read error", path);
  }
  buf[n] = 0;
  *out = buf;
  *len = n;
  return 0;
}

/* The default schema reader: binary FileDescriptorSets only (.proto files
 * need protoc, which a caller such as the weft command provides). */
static int read_set(void *ud, const char *kind, const char *path,
                    weft_dyn_set **out, weft_error *err) {
  (void)ud;
  if (strcmp(kind, "descriptorSetFile"))
    return weft_error_set(err, WEFT_ERR_UNSUPPORTED,
                          ".proto schemas need a compiler here; give a "
                          "descriptor set");
  char *data;
  size_t len;
  int rv = read_all(path, &data, &len, err);
  if (rv < 0)
    return rv;
  rv = weft_dyn_build((const uint8_t *)data, len, out, err);
  free(data);
  return rv;
}

int weft_contract_load(weft_contract **out, const char *path,
                       const weft_contract_opts *opts, weft_error *err) {
  *out = NULL;
  char *text;
  size_t len;
  int rv = read_all(path, &text, &len, err);
  if (rv < 0)
    return rv;
  weft_contract_opts o = {0};
  if (opts)
    o = *opts;
  if (!o.schema_fn)
    o.schema_fn = read_set;
  char *dir = NULL;
  if (!o.base_dir) {
    const char *slash = strrchr(path, '/');
    dir = slash ? strndup(path, (size_t)(slash - path + (slash == path)))
                : strdup("");
    if (!dir) {
      free(text);
      return weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
    }
    o.base_dir = dir;
  }
  rv = weft_contract_parse(out, text, len, &o, err);
  free(text);
  free(dir);
  return rv;
}
