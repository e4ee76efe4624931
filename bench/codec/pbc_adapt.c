#include "pbc_adapt.h"

#include <stdlib.h>
#include <string.h>

#define MAX_ADAPTED 128

static struct {
  const void *from;
  void *to;
} g_map[MAX_ADAPTED];
static unsigned g_n;

static void *lookup(const void *from) {
  unsigned i;
  for (i = 0; i < g_n; i++)
    if (g_map[i].from == from)
      return g_map[i].to;
  return NULL;
}

static void remember(const void *from, void *to) {
  if (g_n < MAX_ADAPTED) {
    g_map[g_n].from = from;
    g_map[g_n].to = to;
    g_n++;
  }
}

static const ProtobufCEnumDescriptor *adapt_enum(const ProtobufCEnumDescriptor *e) {
  weft_enum_desc *w = lookup(e);
  if (w)
    return &w->base;
  w = calloc(1, sizeof *w);
  w->base = *e;
  w->closed = 0;
  remember(e, w);
  return &w->base;
}

static int is_map_entry(const ProtobufCMessageDescriptor *d) {
  size_t n = strlen(d->short_name);
  return n > 5 && strcmp(d->short_name + n - 5, "Entry") == 0 &&
         d->n_fields == 2 && strcmp(d->fields[0].name, "key") == 0 &&
         strcmp(d->fields[1].name, "value") == 0;
}

const weft_msg_desc *weft_bench_adapt(const ProtobufCMessageDescriptor *pd) {
  weft_msg_desc *w = lookup(pd);
  ProtobufCFieldDescriptor *fields;
  weft_field_info *info;
  unsigned i;
  if (w)
    return w;
  w = calloc(1, sizeof *w);
  remember(pd, w);
  w->base = *pd;
  fields = calloc(pd->n_fields ? pd->n_fields : 1, sizeof *fields);
  info = calloc(pd->n_fields ? pd->n_fields : 1, sizeof *info);
  for (i = 0; i < pd->n_fields; i++) {
    fields[i] = pd->fields[i];
    info[i].oneof_index = -1;
    if (fields[i].type == PROTOBUF_C_TYPE_MESSAGE)
      fields[i].descriptor = &weft_bench_adapt(fields[i].descriptor)->base;
    else if (fields[i].type == PROTOBUF_C_TYPE_ENUM)
      fields[i].descriptor = adapt_enum(fields[i].descriptor);
    else if (fields[i].type == PROTOBUF_C_TYPE_STRING)
      info[i].flags |= WEFT_FIELD_CHECK_UTF8;
  }
  w->base.fields = fields;
  w->field_info = info;
  w->syntax = 3;
  w->is_map_entry = (uint8_t)is_map_entry(pd);
  return w;
}
