/* Descriptor lookups. Fields are sorted by number in every descriptor
 * (protoc-c and protoc-gen-weft both emit them that way), so number lookup
 * is a binary search; name lookup is rare (JSON, CLI) and linear. */
#include <string.h>

#include "weft/desc.h"

const ProtobufCFieldDescriptor *weft_field_by_number(const weft_msg_desc *d,
                                                     uint32_t number) {
  unsigned lo = 0, hi;
  if (!d)
    return NULL;
  hi = d->base.n_fields;
  while (lo < hi) {
    unsigned mid = lo + (hi - lo) / 2;
    uint32_t id = d->base.fields[mid].id;
    if (id == number)
      return &d->base.fields[mid];
    if (id < number)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

static int name_eq(const char *s, const char *name, size_t len) {
  return s && strncmp(s, name, len) == 0 && s[len] == '\0';
}

int weft_field_index_by_name(const weft_msg_desc *d, const char *name,
                             size_t len) {
  unsigned i;
  if (!d || !name)
    return -1;
  for (i = 0; i < d->base.n_fields; i++)
    if (name_eq(d->base.fields[i].name, name, len))
      return (int)i;
  if (d->field_info)
    for (i = 0; i < d->base.n_fields; i++)
      if (name_eq(d->field_info[i].json_name, name, len))
        return (int)i;
  return -1;
}

const weft_method_desc *weft_service_method(const weft_service_desc *s,
                                            const char *name) {
  unsigned i;
  if (!s || !name)
    return NULL;
  for (i = 0; i < s->n_methods; i++)
    if (strcmp(s->methods[i].name, name) == 0)
      return &s->methods[i];
  return NULL;
}
