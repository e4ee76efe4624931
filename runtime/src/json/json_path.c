/* Formats the JSON path of an error ("settlements[3].createdAt"). */
#include <stdio.h>

#include "json_internal.h"

char *weft__wj_path_format(const wj_path *p, char *out, size_t cap) {
  const wj_path *chain[256];
  size_t n = 0;
  for (; p && n < 256; p = p->up)
    if (p->name || p->index >= 0)
      chain[n++] = p;
  size_t len = 0;
  out[0] = '\0';
  while (n-- > 0 && len + 1 < cap) {
    const wj_path *s = chain[n];
    int w;
    if (s->index >= 0)
      w = snprintf(out + len, cap - len, "[%ld]", s->index);
    else if (s->index == -2)
      w = snprintf(out + len, cap - len, "[\"%.*s\"]",
                   (int)(s->len > 64 ? 64 : s->len), s->name);
    else
      w = snprintf(out + len, cap - len, "%s%.*s", len ? "." : "",
                   (int)(s->len > 64 ? 64 : s->len), s->name);
    if (w < 0)
      break;
    len += (size_t)w;
    if (len >= cap) {
      len = cap - 1;
      break;
    }
  }
  if (len == 0 && cap > 6)
    memcpy(out, "(root)", 7);
  return out;
}
