/* Rules on pairs of messages, enums and services found under the same full
 * name in NEW and OLD (wherever their files are): deleted fields, values,
 * oneofs and RPCs, reserved and extension ranges, required fields, RPC
 * signatures, and settings that follow the file's syntax. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "brk_internal.h"

#define MSG_MAX 536870911
#define MSGSET_MAX 2147483646
#define ENUM_MAX 2147483647

typedef struct brk_range {
  int64_t lo, hi; /* inclusive */
} brk_range;

static int cmp_range(const void *a, const void *b) {
  const brk_range *x = a, *y = b;
  if (x->lo != y->lo)
    return x->lo < y->lo ? -1 : 1;
  return (x->hi > y->hi) - (x->hi < y->hi);
}

/* Drops empty ranges (protoc writes none; a hand-made set may), sorts and
 * merges overlapping or adjacent ranges in place; returns the new count. */
static size_t collapse(brk_range *r, size_t n) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (r[i].lo <= r[i].hi)
      r[k++] = r[i];
  n = k;
  if (!n)
    return 0;
  qsort(r, n, sizeof *r, cmp_range);
  size_t j = 0;
  for (size_t i = 1; i < n; i++) {
    if (r[i].lo <= r[j].hi + 1) {
      if (r[i].hi > r[j].hi)
        r[j].hi = r[i].hi;
    } else {
      r[++j] = r[i];
    }
  }
  return j + 1;
}

static void range_str(char *buf, size_t cap, int64_t lo, int64_t hi,
                      int64_t max) {
  if (lo == hi)
    snprintf(buf, cap, "[%lld]", (long long)lo);
  else if (hi == max)
    snprintf(buf, cap, "[%lld,max]", (long long)lo);
  else
    snprintf(buf, cap, "[%lld,%lld]", (long long)lo, (long long)hi);
}

/* Every old range must still be covered by the new ranges. */
static void check_ranges(brk_ctx *c, int rule, const char *kind,
                         const char *elem_kind, const brk_type *nt,
                         const brk_range *old, size_t n_old, brk_range *cur,
                         size_t n_cur, int64_t max) {
  n_cur = collapse(cur, n_cur);
  for (size_t i = 0; i < n_old; i++) {
    char missing[512] = "";
    size_t used = 0;
    int64_t lo = old[i].lo;
    for (size_t k = 0; k <= n_cur && lo <= old[i].hi; k++) {
      int64_t gap_hi = k < n_cur ? cur[k].lo - 1 : old[i].hi;
      if (k < n_cur && cur[k].hi < lo)
        continue;
      if (gap_hi > old[i].hi)
        gap_hi = old[i].hi;
      if (lo <= gap_hi) {
        char one[64];
        range_str(one, sizeof one, lo, gap_hi, max);
        int w = snprintf(missing + used, sizeof missing - used, "%s%s",
                         used ? ", " : "", one);
        if (w > 0 && (size_t)w < sizeof missing - used)
          used += (size_t)w;
      }
      if (k < n_cur)
        lo = cur[k].hi + 1;
      else
        break;
    }
    if (used) {
      char prev[64];
      range_str(prev, sizeof prev, old[i].lo, old[i].hi, max);
      weft__brk_add(c, rule, nt->file, &nt->path, NULL, 0,
                    "Previously present %s range \"%s\" on %s \"%s\" is "
                    "missing values: %s were removed.",
                    kind, prev, elem_kind, nt->nested, missing);
    }
  }
}

static bool has_name(char *const *names, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(brk_str(names[i]), name))
      return true;
  return false;
}

static const brk_field_pb *field_by_number(const brk_msg_pb *m, int32_t num) {
  for (size_t i = 0; i < m->n_field; i++)
    if (m->field[i]->number == num)
      return m->field[i];
  return NULL;
}

static bool in_reserved(const brk_msg_pb *m, int32_t num) {
  for (size_t i = 0; i < m->n_reserved_range; i++)
    if (num >= m->reserved_range[i]->start && num < m->reserved_range[i]->end)
      return true;
  return false;
}

/* A oneof that proto3 `optional` made (its only field is proto3_optional). */
bool weft__brk_synthetic_oneof(const brk_msg_pb *m, size_t idx) {
  size_t members = 0;
  bool optional = false;
  for (size_t i = 0; i < m->n_field; i++) {
    const brk_field_pb *f = m->field[i];
    if (f->has_oneof_index && f->oneof_index >= 0 &&
        (size_t)f->oneof_index == idx) {
      members++;
      optional = f->proto3_optional;
    }
  }
  return members == 1 && optional;
}

static void
ranges_of(brk_range *out, size_t *n,
          Google__Protobuf__DescriptorProto__ReservedRange *const *r,
          size_t nr) {
  for (size_t i = 0; i < nr; i++)
    out[(*n)++] = (brk_range){r[i]->start, (int64_t)r[i]->end - 1};
}

static void message_pair(brk_ctx *c, const brk_type *nt, const brk_type *ot) {
  const brk_msg_pb *nm = nt->d, *om = ot->d;
  const char *name = brk_str(nm->name);

  for (size_t i = 0; i < om->n_field; i++) {
    const brk_field_pb *of = om->field[i];
    if (i && field_by_number(om, of->number) != of)
      continue; /* a duplicate number is one field */
    if (field_by_number(nm, of->number))
      continue;
    const char *fname = brk_str(of->name);
    weft__brk_add(c, BRK_FIELD_NO_DELETE, nt->file, &nt->path, NULL, 0,
                  "Previously present field \"%d\" with name \"%s\" on "
                  "message \"%s\" was deleted.",
                  of->number, fname, name);
    if (!in_reserved(nm, of->number))
      weft__brk_add(c, BRK_FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED, nt->file,
                    &nt->path, NULL, 0,
                    "Previously present field \"%d\" with name \"%s\" on "
                    "message \"%s\" was deleted without reserving the number "
                    "\"%d\".",
                    of->number, fname, name, of->number);
    if (!has_name(nm->reserved_name, nm->n_reserved_name, fname))
      weft__brk_add(c, BRK_FIELD_NO_DELETE_UNLESS_NAME_RESERVED, nt->file,
                    &nt->path, NULL, 0,
                    "Previously present field \"%d\" with name \"%s\" on "
                    "message \"%s\" was deleted without reserving the name "
                    "\"%s\".",
                    of->number, fname, name, fname);
  }

  bool oa = om->options && om->options->no_standard_descriptor_accessor;
  bool na = nm->options && nm->options->no_standard_descriptor_accessor;
  if (!oa && na) {
    static const int32_t at[] = {7, 2};
    weft__brk_add(c, BRK_MESSAGE_NO_REMOVE_STANDARD_DESCRIPTOR_ACCESSOR,
                  nt->file, &nt->path, at, 2,
                  "Message option \"no_standard_descriptor_accessor\" changed "
                  "from \"false\" to \"true\".");
  }

  for (size_t i = 0; i < om->n_oneof_decl; i++) {
    const char *on = brk_str(om->oneof_decl[i]->name);
    bool found = false;
    for (size_t j = 0; j < nm->n_oneof_decl && !found; j++)
      found = !strcmp(brk_str(nm->oneof_decl[j]->name), on);
    if (!found && !weft__brk_synthetic_oneof(om, i))
      weft__brk_add(c, BRK_ONEOF_NO_DELETE, nt->file, &nt->path, NULL, 0,
                    "Previously present oneof \"%s\" on message \"%s\" was "
                    "deleted.",
                    on, name);
  }

  if (ot->file->proto3 && !nt->file->proto3)
    weft__brk_add(c, BRK_MESSAGE_SAME_JSON_FORMAT, nt->file, &nt->path, NULL, 0,
                  "Message \"%s\" JSON format support changed from ALLOW to "
                  "LEGACY_BEST_EFFORT.",
                  name);

  /* Required fields, by number. */
  for (size_t i = 0; i < om->n_field; i++) {
    const brk_field_pb *of = om->field[i];
    /* A number declared twice (protoc never writes it; a fuzzer does)
     * means its first field, as field_by_number finds it. */
    if (of->label !=
            GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REQUIRED ||
        field_by_number(om, of->number) != of)
      continue;
    const brk_field_pb *nf = field_by_number(nm, of->number);
    if (!nf ||
        nf->label !=
            GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REQUIRED)
      weft__brk_add(c, BRK_MESSAGE_SAME_REQUIRED_FIELDS, nt->file, &nt->path,
                    NULL, 0,
                    "Message \"%s\" had required field \"%d\" deleted. "
                    "Required fields must always be sent, so if one side "
                    "does not know about the required field, this will "
                    "result in a breakage.",
                    brk_str(om->name), of->number);
  }
  for (size_t i = 0; i < nm->n_field; i++) {
    const brk_field_pb *nf = nm->field[i];
    if (nf->label !=
            GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REQUIRED ||
        field_by_number(nm, nf->number) != nf)
      continue;
    const brk_field_pb *of = field_by_number(om, nf->number);
    if (!of ||
        of->label !=
            GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REQUIRED) {
      int32_t at[] = {2, (int32_t)i};
      weft__brk_add(c, BRK_MESSAGE_SAME_REQUIRED_FIELDS, nt->file, &nt->path,
                    at, 2,
                    "Message \"%s\" had required field \"%d\" added. "
                    "Required fields must always be sent, so if one side "
                    "does not know about the required field, this will "
                    "result in a breakage.",
                    name, nf->number);
    }
  }

  /* Reserved and extension ranges ([start, end) in descriptors). */
  size_t cap = om->n_reserved_range + nm->n_reserved_range +
               om->n_extension_range + nm->n_extension_range + 1;
  brk_range *r = malloc(cap * sizeof *r);
  if (!r) {
    c->rv = WEFT_ERR_NOMEM;
    return;
  }
  int64_t max = nm->options && nm->options->message_set_wire_format ? MSGSET_MAX
                                                                    : MSG_MAX;
  size_t n_old = 0, n_new = 0;
  ranges_of(r, &n_old, om->reserved_range, om->n_reserved_range);
  ranges_of(r + n_old, &n_new, nm->reserved_range, nm->n_reserved_range);
  check_ranges(c, BRK_RESERVED_MESSAGE_NO_DELETE, "reserved", "message", nt, r,
               n_old, r + n_old, n_new, max);
  n_old = n_new = 0;
  for (size_t i = 0; i < om->n_extension_range; i++)
    r[n_old++] = (brk_range){om->extension_range[i]->start,
                             (int64_t)om->extension_range[i]->end - 1};
  for (size_t i = 0; i < nm->n_extension_range; i++)
    r[n_old + n_new++] = (brk_range){nm->extension_range[i]->start,
                                     (int64_t)nm->extension_range[i]->end - 1};
  check_ranges(c, BRK_EXTENSION_MESSAGE_NO_DELETE, "extension", "message", nt,
               r, n_old, r + n_old, n_new, max);
  free(r);
  for (size_t i = 0; i < om->n_reserved_name; i++) {
    const char *rn = brk_str(om->reserved_name[i]);
    if (!has_name(om->reserved_name, i, rn) &&
        !has_name(nm->reserved_name, nm->n_reserved_name, rn))
      weft__brk_add(c, BRK_RESERVED_MESSAGE_NO_DELETE, nt->file, &nt->path,
                    NULL, 0,
                    "Previously present reserved name \"%s\" on message "
                    "\"%s\" was deleted.",
                    rn, name);
  }
}

static bool enum_has_number(const brk_enum_pb *e, int32_t num) {
  for (size_t i = 0; i < e->n_value; i++)
    if (e->value[i]->number == num)
      return true;
  return false;
}

static bool enum_in_reserved(const brk_enum_pb *e, int32_t num) {
  for (size_t i = 0; i < e->n_reserved_range; i++)
    if (num >= e->reserved_range[i]->start && num <= e->reserved_range[i]->end)
      return true;
  return false;
}

/* The names of OLD's values numbered num, joined for messages. */
static void names_of(const brk_enum_pb *e, int32_t num, char *buf, size_t cap) {
  size_t used = 0;
  buf[0] = 0;
  for (size_t i = 0; i < e->n_value; i++) {
    if (e->value[i]->number != num)
      continue;
    int w = snprintf(buf + used, cap - used, "%s\"%s\"", used ? ", " : "",
                     brk_str(e->value[i]->name));
    if (w < 0 || (size_t)w >= cap - used)
      return;
    used += (size_t)w;
  }
}

static void enum_pair(brk_ctx *c, const brk_type *nt, const brk_type *ot) {
  const brk_enum_pb *ne = nt->d, *oe = ot->d;
  const char *name = brk_str(ne->name);
  if (nt->file->proto3 != ot->file->proto3)
    weft__brk_add(c, BRK_ENUM_SAME_TYPE, nt->file, &nt->path, NULL, 0,
                  "Enum \"%s\" changed from %s to %s.", name,
                  ot->file->proto3 ? "open" : "closed",
                  nt->file->proto3 ? "open" : "closed");
  if (ot->file->proto3 && !nt->file->proto3)
    weft__brk_add(c, BRK_ENUM_SAME_JSON_FORMAT, nt->file, &nt->path, NULL, 0,
                  "Enum \"%s\" JSON format support changed from ALLOW to "
                  "LEGACY_BEST_EFFORT.",
                  name);

  for (size_t i = 0; i < oe->n_value; i++) {
    int32_t num = oe->value[i]->number;
    bool first = true;
    for (size_t j = 0; j < i && first; j++)
      first = oe->value[j]->number != num;
    if (!first)
      continue; /* aliases: one check per number */
    char names[512];
    names_of(oe, num, names, sizeof names);
    if (!enum_has_number(ne, num)) {
      weft__brk_add(c, BRK_ENUM_VALUE_NO_DELETE, nt->file, &nt->path, NULL, 0,
                    "Previously present enum value \"%d\" on enum \"%s\" was "
                    "deleted.",
                    num, name);
      if (!enum_in_reserved(ne, num))
        weft__brk_add(c, BRK_ENUM_VALUE_NO_DELETE_UNLESS_NUMBER_RESERVED,
                      nt->file, &nt->path, NULL, 0,
                      "Previously present enum value \"%d\" on enum \"%s\" "
                      "was deleted without reserving the number \"%d\".",
                      num, name, num);
      bool all = true;
      for (size_t j = 0; j < oe->n_value; j++)
        if (oe->value[j]->number == num &&
            !has_name(ne->reserved_name, ne->n_reserved_name,
                      brk_str(oe->value[j]->name)))
          all = false;
      if (!all)
        weft__brk_add(c, BRK_ENUM_VALUE_NO_DELETE_UNLESS_NAME_RESERVED,
                      nt->file, &nt->path, NULL, 0,
                      "Previously present enum value \"%d\" on enum \"%s\" "
                      "was deleted without reserving the name(s) %s.",
                      num, name, names);
      continue;
    }
    /* Every old name of the number must still name it. */
    bool kept = true;
    for (size_t j = 0; j < oe->n_value && kept; j++) {
      if (oe->value[j]->number != num)
        continue;
      bool found = false;
      for (size_t k = 0; k < ne->n_value && !found; k++)
        found =
            ne->value[k]->number == num &&
            !strcmp(brk_str(ne->value[k]->name), brk_str(oe->value[j]->name));
      kept = found;
    }
    if (kept)
      continue;
    char now[512];
    names_of(ne, num, now, sizeof now);
    for (size_t k = 0; k < ne->n_value; k++) {
      if (ne->value[k]->number != num)
        continue;
      int32_t at[] = {2, (int32_t)k, 2};
      weft__brk_add(c, BRK_ENUM_VALUE_SAME_NAME, nt->file, &nt->path, at, 3,
                    "Enum value \"%d\" on enum \"%s\" changed name from %s "
                    "to %s.",
                    num, name, names, now);
    }
  }

  size_t cap = oe->n_reserved_range + ne->n_reserved_range + 1;
  brk_range *r = malloc(cap * sizeof *r);
  if (!r) {
    c->rv = WEFT_ERR_NOMEM;
    return;
  }
  size_t n_old = 0, n_new = 0;
  for (size_t i = 0; i < oe->n_reserved_range; i++)
    r[n_old++] =
        (brk_range){oe->reserved_range[i]->start, oe->reserved_range[i]->end};
  for (size_t i = 0; i < ne->n_reserved_range; i++)
    r[n_old + n_new++] =
        (brk_range){ne->reserved_range[i]->start, ne->reserved_range[i]->end};
  check_ranges(c, BRK_RESERVED_ENUM_NO_DELETE, "reserved", "enum", nt, r, n_old,
               r + n_old, n_new, ENUM_MAX);
  free(r);
  for (size_t i = 0; i < oe->n_reserved_name; i++) {
    const char *rn = brk_str(oe->reserved_name[i]);
    if (!has_name(oe->reserved_name, i, rn) &&
        !has_name(ne->reserved_name, ne->n_reserved_name, rn))
      weft__brk_add(c, BRK_RESERVED_ENUM_NO_DELETE, nt->file, &nt->path, NULL,
                    0,
                    "Previously present reserved name \"%s\" on enum \"%s\" "
                    "was deleted.",
                    rn, name);
  }
}

static int idempotency(const brk_method_pb *m) {
  return m->options ? (int)m->options->idempotency_level : 0;
}

static const char *idempotency_name(int v) {
  switch (v) {
  case GOOGLE__PROTOBUF__METHOD_OPTIONS__IDEMPOTENCY_LEVEL__NO_SIDE_EFFECTS:
    return "NO_SIDE_EFFECTS";
  case GOOGLE__PROTOBUF__METHOD_OPTIONS__IDEMPOTENCY_LEVEL__IDEMPOTENT:
    return "IDEMPOTENT";
  default:
    return "IDEMPOTENCY_UNKNOWN";
  }
}

static const char *strip_dot(const char *s) {
  s = brk_str(s);
  return *s == '.' ? s + 1 : s;
}

static void service_pair(brk_ctx *c, const brk_type *nt, const brk_type *ot) {
  const brk_svc_pb *ns = nt->d, *os = ot->d;
  const char *svc = brk_str(ns->name);
  for (size_t i = 0; i < os->n_method; i++) {
    const brk_method_pb *om = os->method[i];
    const char *mname = brk_str(om->name);
    const brk_method_pb *nm = NULL;
    size_t at_i = 0;
    for (size_t j = 0; j < ns->n_method && !nm; j++)
      if (!strcmp(brk_str(ns->method[j]->name), mname))
        nm = ns->method[j], at_i = j;
    if (!nm) {
      weft__brk_add(c, BRK_RPC_NO_DELETE, nt->file, &nt->path, NULL, 0,
                    "Previously present RPC \"%s\" on service \"%s\" was "
                    "deleted.",
                    mname, svc);
      continue;
    }
    int32_t at[] = {2, (int32_t)at_i, 0, 0};
    if (om->client_streaming != nm->client_streaming)
      weft__brk_add(c, BRK_RPC_SAME_CLIENT_STREAMING, nt->file, &nt->path, at,
                    2,
                    "RPC \"%s\" on service \"%s\" changed from client %s "
                    "to client %s.",
                    mname, svc, om->client_streaming ? "streaming" : "unary",
                    nm->client_streaming ? "streaming" : "unary");
    if (om->server_streaming != nm->server_streaming)
      weft__brk_add(c, BRK_RPC_SAME_SERVER_STREAMING, nt->file, &nt->path, at,
                    2,
                    "RPC \"%s\" on service \"%s\" changed from server %s "
                    "to server %s.",
                    mname, svc, om->server_streaming ? "streaming" : "unary",
                    nm->server_streaming ? "streaming" : "unary");
    if (strcmp(strip_dot(om->input_type), strip_dot(nm->input_type))) {
      at[2] = 2;
      weft__brk_add(c, BRK_RPC_SAME_REQUEST_TYPE, nt->file, &nt->path, at, 3,
                    "RPC \"%s\" on service \"%s\" changed request type from "
                    "\"%s\" to \"%s\".",
                    mname, svc, strip_dot(om->input_type),
                    strip_dot(nm->input_type));
    }
    if (strcmp(strip_dot(om->output_type), strip_dot(nm->output_type))) {
      at[2] = 3;
      weft__brk_add(c, BRK_RPC_SAME_RESPONSE_TYPE, nt->file, &nt->path, at, 3,
                    "RPC \"%s\" on service \"%s\" changed response type from "
                    "\"%s\" to \"%s\".",
                    mname, svc, strip_dot(om->output_type),
                    strip_dot(nm->output_type));
    }
    if (idempotency(om) != idempotency(nm)) {
      at[2] = 4, at[3] = 34;
      int line = 0, col = 0;
      size_t n =
          weft__brk_locate(nt->file, &nt->path, at, 4, &line, &col) ? 4 : 2;
      weft__brk_add(c, BRK_RPC_SAME_IDEMPOTENCY_LEVEL, nt->file, &nt->path, at,
                    n,
                    "RPC \"%s\" on service \"%s\" changed option "
                    "\"idempotency_level\" from \"%s\" to \"%s\".",
                    mname, svc, idempotency_name(idempotency(om)),
                    idempotency_name(idempotency(nm)));
    }
  }
}

void weft__brk_types(brk_ctx *c) {
  const brk_side *ns = &c->new_s, *os = &c->old_s;
  weft__brk_each_pair(c, os->msgs, os->n_msgs, ns->msgs, ns->n_msgs,
                      message_pair);
  weft__brk_each_pair(c, os->enums, os->n_enums, ns->enums, ns->n_enums,
                      enum_pair);
  weft__brk_each_pair(c, os->svcs, os->n_svcs, ns->svcs, ns->n_svcs,
                      service_pair);
}
