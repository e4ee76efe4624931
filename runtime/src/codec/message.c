/* Message lifecycle over the descriptor tables: init, new, free, clear,
 * deep copy, deep equality and the required-field check.
 *
 * Ownership on the malloc path: every string, bytes buffer, array,
 * sub-message and unknown-field buffer reachable from a message is its own
 * malloc block, except the shared static values (protobuf_c_empty_string and
 * a field's default_value), which are never freed. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

void *weft__realloc(weft_arena *a, void *p, size_t old_n, size_t new_n) {
  void *q;
  if (!a)
    return realloc(p, new_n ? new_n : 1);
  q = weft_arena_alloc(a, new_n);
  if (q && p && old_n)
    memcpy(q, p, old_n < new_n ? old_n : new_n);
  return q;
}

void weft_message_init(const weft_msg_desc *d, void *msg) {
  unsigned i;
  if (d->base.message_init) {
    /* Generated init copies a static initializer: faster than the loop. */
    d->base.message_init((ProtobufCMessage *)msg);
    ((ProtobufCMessage *)msg)->descriptor = &d->base;
    return;
  }
  memset(msg, 0, d->base.sizeof_message);
  ((ProtobufCMessage *)msg)->descriptor = &d->base;
  for (i = 0; i < d->base.n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->base.fields[i];
    void *m = WEFT__MEMBER(msg, f->offset);
    if (f->label == PROTOBUF_C_LABEL_REPEATED ||
        (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
      continue;
    if (f->type == PROTOBUF_C_TYPE_STRING) {
      if (f->default_value)
        *(const char **)m = (const char *)f->default_value;
      else if (f->label == PROTOBUF_C_LABEL_NONE)
        *(const char **)m = protobuf_c_empty_string;
    } else if (f->type != PROTOBUF_C_TYPE_MESSAGE && f->default_value) {
      memcpy(m, f->default_value, weft__elem_size(f->type));
    }
  }
}

void *weft__message_new_in(weft_arena *a, weft__tree *t,
                           const weft_msg_desc *d) {
  void *m = weft__msg_alloc(a, t, d);
  if (m)
    weft_message_init(d, m);
  return m;
}

void *weft_message_new(const weft_msg_desc *d, weft_arena *arena) {
  return weft__message_new_in(arena, NULL, d);
}

static void free_contents(const weft__tree *t, const weft_msg_desc *d,
                          void *msg);

/* Whether a string, bytes buffer, array or unknown field's data reachable
 * from a message of tree t (NULL: a standalone message) is a malloc block
 * of its own. */
static int owned(const weft__tree *t, const void *p) {
  return p && (!t || !weft__tree_holds(t, p));
}

/* Releases a sub-message reached from a message of tree t: one of the same
 * tree is emptied in place (its memory goes with the tree's blocks), any
 * other (stored there by the user) is freed as the message it is. */
static void release_message(const weft__tree *t, void *msg) {
  if (!msg)
    return;
  if (t && weft__hdr(msg)->tree == t)
    free_contents(t, weft_msg_desc_of_msg(msg), msg);
  else
    weft_message_free(msg);
}

void weft__field_clear(const weft__tree *t, const ProtobufCFieldDescriptor *f,
                       void *msg) {
  void *m = WEFT__MEMBER(msg, f->offset);
  if (f->label == PROTOBUF_C_LABEL_REPEATED) {
    size_t *np = (size_t *)WEFT__MEMBER(msg, f->quantifier_offset);
    size_t n = *np, j;
    void *arr = *(void **)m;
    if (arr) {
      switch (f->type) {
      case PROTOBUF_C_TYPE_STRING:
        for (j = 0; j < n; j++) {
          char *s = ((char **)arr)[j];
          if (!weft__string_is_static(f, s) && owned(t, s))
            free(s);
        }
        break;
      case PROTOBUF_C_TYPE_BYTES:
        for (j = 0; j < n; j++) {
          uint8_t *p = ((ProtobufCBinaryData *)arr)[j].data;
          if (!weft__bytes_is_static(f, p) && owned(t, p))
            free(p);
        }
        break;
      case PROTOBUF_C_TYPE_MESSAGE:
        for (j = 0; j < n; j++)
          release_message(t, ((void **)arr)[j]);
        break;
      default:
        break;
      }
      if (owned(t, arr))
        free(arr);
    }
    *np = 0;
    *(void **)m = NULL;
    return;
  }
  if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
    uint32_t *cp = (uint32_t *)WEFT__MEMBER(msg, f->quantifier_offset);
    if (*cp != f->id)
      return;
    *cp = 0;
  }
  switch (f->type) {
  case PROTOBUF_C_TYPE_STRING: {
    char *s = *(char **)m;
    if (!weft__string_is_static(f, s) && owned(t, s))
      free(s);
    *(char **)m = NULL;
    break;
  }
  case PROTOBUF_C_TYPE_BYTES: {
    ProtobufCBinaryData *b = m;
    if (!weft__bytes_is_static(f, b->data) && owned(t, b->data))
      free(b->data);
    b->data = NULL;
    b->len = 0;
    break;
  }
  case PROTOBUF_C_TYPE_MESSAGE:
    release_message(t, *(void **)m);
    *(void **)m = NULL;
    break;
  default:
    break;
  }
}

static void free_unknown(const weft__tree *t, ProtobufCMessage *b) {
  unsigned i;
  for (i = 0; i < b->n_unknown_fields; i++)
    if (owned(t, b->unknown_fields[i].data))
      free(b->unknown_fields[i].data);
  if (owned(t, b->unknown_fields))
    free(b->unknown_fields);
  b->unknown_fields = NULL;
  b->n_unknown_fields = 0;
}

/* Frees what msg owns. Inside a tree, fields that hold nothing of their own
 * (scalars) are skipped: the walk only looks for what the user stored. */
static void free_contents(const weft__tree *t, const weft_msg_desc *d,
                          void *msg) {
  unsigned i;
  for (i = 0; i < d->base.n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->base.fields[i];
    if (f->label != PROTOBUF_C_LABEL_REPEATED && weft__is_scalar(f->type))
      continue;
    weft__field_clear(t, f, msg);
  }
  free_unknown(t, msg);
}

/* ---- releasing a decoded tree ---- */

WEFT__INLINE int held(const weft__tree *t, const void *p) {
  const weft__block *b = t->a.first;
  uintptr_t lo = (uintptr_t)b + WEFT__HDR, u = (uintptr_t)p;
  return (u >= lo && u < lo + b->size) || weft__tree_holds(t, p);
}

static void tree_release(const weft__tree *t, const weft_msg_desc *d,
                         const void *msg);

static void tree_release_msg(const weft__tree *t, void *sub) {
  if (!sub)
    return;
  if (weft__hdr(sub)->tree == t)
    tree_release(t, weft_msg_desc_of_msg(sub), sub);
  else
    weft_message_free(sub); /* stored by the user */
}

/* Frees what a user stored into a message of tree t (the tree's own values
 * are released with its blocks). Read-only: the tree is about to go. */
static void tree_release(const weft__tree *t, const weft_msg_desc *d,
                         const void *msg) {
  const ProtobufCMessage *b = msg;
  unsigned i;
  size_t j;
  for (i = 0; i < d->base.n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->base.fields[i];
    const void *m = WEFT__CMEMBER(msg, f->offset);
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
      size_t n = *(const size_t *)WEFT__CMEMBER(msg, f->quantifier_offset);
      void *arr = *(void *const *)m;
      if (!arr)
        continue;
      switch (f->type) {
      case PROTOBUF_C_TYPE_STRING:
        for (j = 0; j < n; j++) {
          char *s = ((char **)arr)[j];
          if (!held(t, s) && !weft__string_is_static(f, s))
            free(s);
        }
        break;
      case PROTOBUF_C_TYPE_BYTES:
        for (j = 0; j < n; j++) {
          uint8_t *p = ((ProtobufCBinaryData *)arr)[j].data;
          if (!held(t, p) && !weft__bytes_is_static(f, p))
            free(p);
        }
        break;
      case PROTOBUF_C_TYPE_MESSAGE:
        for (j = 0; j < n; j++)
          tree_release_msg(t, ((void **)arr)[j]);
        break;
      default:
        break;
      }
      if (!held(t, arr))
        free(arr);
      continue;
    }
    if (weft__is_scalar(f->type))
      continue;
    if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
        *(const uint32_t *)WEFT__CMEMBER(msg, f->quantifier_offset) != f->id)
      continue;
    if (f->type == PROTOBUF_C_TYPE_STRING) {
      char *s = *(char *const *)m;
      if (!held(t, s) && !weft__string_is_static(f, s))
        free(s);
    } else if (f->type == PROTOBUF_C_TYPE_BYTES) {
      uint8_t *p = ((const ProtobufCBinaryData *)m)->data;
      if (!held(t, p) && !weft__bytes_is_static(f, p))
        free(p);
    } else {
      tree_release_msg(t, *(void *const *)m);
    }
  }
  if (b->unknown_fields) {
    for (i = 0; i < b->n_unknown_fields; i++)
      if (!held(t, b->unknown_fields[i].data))
        free(b->unknown_fields[i].data);
    if (!held(t, b->unknown_fields))
      free(b->unknown_fields);
  }
}

void weft_message_free(void *msg) {
  weft__mhdr *h;
  weft__tree *t;
  if (!msg)
    return;
  h = weft__hdr(msg);
  t = h->tree;
  if (!t) {
    free_contents(NULL, weft_msg_desc_of_msg(msg), msg);
    free(h);
  } else if (t->root == msg) {
    tree_release(t, weft_msg_desc_of_msg(msg), msg);
    weft__tree_free(t);
  } else {
    /* inside a tree: its memory goes with the root; leave it empty so a
     * parent still pointing at it holds a valid (default) message */
    const weft_msg_desc *d = weft_msg_desc_of_msg(msg);
    free_contents(t, d, msg);
    weft_message_init(d, msg);
  }
}

void weft_message_clear(void *msg) {
  const weft_msg_desc *d;
  if (!msg)
    return;
  d = weft_msg_desc_of_msg(msg);
  /* msg may be embedded in a caller's struct and have no header: its values
   * are standalone (a decoded tree's message is emptied by
   * weft_message_free, not by this) */
  free_contents(NULL, d, msg);
  weft_message_init(d, msg);
}

int weft__field_present(const weft_msg_desc *d, unsigned i, const void *msg) {
  const ProtobufCFieldDescriptor *f = &d->base.fields[i];
  const void *m = WEFT__CMEMBER(msg, f->offset);
  if (f->label == PROTOBUF_C_LABEL_REPEATED)
    return *(const size_t *)WEFT__CMEMBER(msg, f->quantifier_offset) != 0;
  if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
    return *(const uint32_t *)WEFT__CMEMBER(msg, f->quantifier_offset) == f->id;
  if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE) {
    const void *p = *(const void *const *)m;
    if (!p)
      return 0;
    if (f->label == PROTOBUF_C_LABEL_OPTIONAL)
      return p != f->default_value;
    if (f->label == PROTOBUF_C_LABEL_NONE && f->type == PROTOBUF_C_TYPE_STRING)
      return *(const char *)p != '\0';
    return 1;
  }
  if (f->label == PROTOBUF_C_LABEL_REQUIRED)
    return 1;
  if (f->label == PROTOBUF_C_LABEL_OPTIONAL)
    return *(const protobuf_c_boolean *)WEFT__CMEMBER(msg,
                                                      f->quantifier_offset);
  /* proto3 implicit presence: present when not zero (bitwise, so -0.0 is
   * present, as in Google's implementation). */
  switch (f->type) {
  case PROTOBUF_C_TYPE_BYTES:
    return ((const ProtobufCBinaryData *)m)->len != 0;
  case PROTOBUF_C_TYPE_INT64:
  case PROTOBUF_C_TYPE_SINT64:
  case PROTOBUF_C_TYPE_SFIXED64:
  case PROTOBUF_C_TYPE_UINT64:
  case PROTOBUF_C_TYPE_FIXED64:
  case PROTOBUF_C_TYPE_DOUBLE: {
    uint64_t v;
    memcpy(&v, m, 8);
    return v != 0;
  }
  default: {
    uint32_t v;
    memcpy(&v, m, 4);
    return v != 0;
  }
  }
}

/* ---- deep copy ---- */

static int copy_into(const weft_msg_desc *d, void *dst, const void *src,
                     weft_arena *a);

static int copy_string(const ProtobufCFieldDescriptor *f, char **dst,
                       const char *src, weft_arena *a) {
  size_t n;
  if (weft__string_is_static(f, src)) {
    *dst = (char *)src;
    return 0;
  }
  n = strlen(src);
  *dst = weft__alloc(a, n + 1);
  if (!*dst)
    return WEFT_ERR_NOMEM;
  memcpy(*dst, src, n + 1);
  return 0;
}

static int copy_bytes(const ProtobufCFieldDescriptor *f,
                      ProtobufCBinaryData *dst, const ProtobufCBinaryData *src,
                      weft_arena *a) {
  dst->len = src->len;
  if (weft__bytes_is_static(f, src->data) || src->len == 0) {
    dst->data = weft__bytes_is_static(f, src->data) ? src->data : NULL;
    return 0;
  }
  dst->data = weft__alloc(a, src->len);
  if (!dst->data) {
    dst->len = 0;
    return WEFT_ERR_NOMEM;
  }
  memcpy(dst->data, src->data, src->len);
  return 0;
}

static int copy_message(const void *src, void **dst, weft_arena *a) {
  const weft_msg_desc *d = weft_msg_desc_of_msg(src);
  void *m = weft__msg_alloc(a, NULL, d);
  if (!m)
    return WEFT_ERR_NOMEM;
  *dst = m;
  return copy_into(d, m, src, a);
}

/* dst is a byte copy of src: first detach every owned pointer so dst is a
 * valid (freeable) message whatever fails next, then deep-copy. */
static int copy_into(const weft_msg_desc *d, void *dst, const void *src,
                     weft_arena *a) {
  unsigned i;
  const ProtobufCMessage *sb = src;
  ProtobufCMessage *db = dst;
  memcpy(dst, src, d->base.sizeof_message);
  db->n_unknown_fields = 0;
  db->unknown_fields = NULL;
  for (i = 0; i < d->base.n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->base.fields[i];
    void *m = WEFT__MEMBER(dst, f->offset);
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
      *(size_t *)WEFT__MEMBER(dst, f->quantifier_offset) = 0;
      *(void **)m = NULL;
    } else if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
               *(const uint32_t *)WEFT__CMEMBER(src, f->quantifier_offset) !=
                   f->id) {
      continue;
    } else if (f->type == PROTOBUF_C_TYPE_STRING ||
               f->type == PROTOBUF_C_TYPE_MESSAGE) {
      *(void **)m = NULL;
    } else if (f->type == PROTOBUF_C_TYPE_BYTES) {
      ((ProtobufCBinaryData *)m)->data = NULL;
      ((ProtobufCBinaryData *)m)->len = 0;
    }
  }
  for (i = 0; i < d->base.n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->base.fields[i];
    void *m = WEFT__MEMBER(dst, f->offset);
    const void *s = WEFT__CMEMBER(src, f->offset);
    int rv = 0;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
      size_t n = *(const size_t *)WEFT__CMEMBER(src, f->quantifier_offset), j;
      size_t es = weft__elem_size(f->type);
      void *arr;
      if (n == 0)
        continue;
      arr = weft__calloc(a, n * es);
      if (!arr)
        return WEFT_ERR_NOMEM;
      *(void **)m = arr;
      if (weft__is_scalar(f->type)) {
        memcpy(arr, *(void *const *)s, n * es);
        *(size_t *)WEFT__MEMBER(dst, f->quantifier_offset) = n;
        continue;
      }
      for (j = 0; j < n && rv == 0; j++) {
        if (f->type == PROTOBUF_C_TYPE_STRING)
          rv = copy_string(f, &((char **)arr)[j],
                           ((char *const *)*(void *const *)s)[j], a);
        else if (f->type == PROTOBUF_C_TYPE_BYTES)
          rv = copy_bytes(f, &((ProtobufCBinaryData *)arr)[j],
                          &((const ProtobufCBinaryData *)*(void *const *)s)[j],
                          a);
        else
          rv = copy_message(((void *const *)*(void *const *)s)[j],
                            &((void **)arr)[j], a);
        /* count the element even on failure: it is valid (maybe NULL) */
        *(size_t *)WEFT__MEMBER(dst, f->quantifier_offset) = j + 1;
      }
      if (rv)
        return rv;
      continue;
    }
    if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
        *(const uint32_t *)WEFT__CMEMBER(src, f->quantifier_offset) != f->id)
      continue;
    if (f->type == PROTOBUF_C_TYPE_STRING)
      rv = copy_string(f, (char **)m, *(char *const *)s, a);
    else if (f->type == PROTOBUF_C_TYPE_BYTES)
      rv = copy_bytes(f, m, s, a);
    else if (f->type == PROTOBUF_C_TYPE_MESSAGE && *(void *const *)s)
      rv = copy_message(*(void *const *)s, (void **)m, a);
    if (rv)
      return rv;
  }
  if (sb->n_unknown_fields) {
    db->unknown_fields = weft__calloc(
        a, sb->n_unknown_fields * sizeof(ProtobufCMessageUnknownField));
    if (!db->unknown_fields)
      return WEFT_ERR_NOMEM;
    for (i = 0; i < sb->n_unknown_fields; i++) {
      const ProtobufCMessageUnknownField *u = &sb->unknown_fields[i];
      ProtobufCMessageUnknownField *v = &db->unknown_fields[i];
      *v = *u;
      v->data = weft__alloc(a, u->len);
      if (!v->data)
        return WEFT_ERR_NOMEM;
      memcpy(v->data, u->data, u->len);
      db->n_unknown_fields = i + 1;
    }
  }
  return 0;
}

int weft_message_copy(const void *src, weft_arena *arena, void **out) {
  int rv;
  if (!src || !out)
    return WEFT_ERR_INVAL;
  *out = NULL;
  rv = copy_message(src, out, arena);
  if (rv && !arena) {
    weft_message_free(*out);
    *out = NULL;
  }
  return rv;
}

/* ---- equality ---- */

static int msg_equal(const void *a, const void *b);

static int str_eq(const char *a, const char *b) {
  return strcmp(a ? a : "", b ? b : "") == 0;
}

static int bytes_eq(const ProtobufCBinaryData *a,
                    const ProtobufCBinaryData *b) {
  return a->len == b->len &&
         (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static int elem_equal(const ProtobufCFieldDescriptor *f, const void *a,
                      const void *b) {
  switch (f->type) {
  case PROTOBUF_C_TYPE_STRING:
    return str_eq(*(const char *const *)a, *(const char *const *)b);
  case PROTOBUF_C_TYPE_BYTES:
    return bytes_eq(a, b);
  case PROTOBUF_C_TYPE_MESSAGE: {
    const void *x = *(const void *const *)a, *y = *(const void *const *)b;
    if (!x || !y)
      return x == y;
    return msg_equal(x, y);
  }
  case PROTOBUF_C_TYPE_BOOL:
    return !*(const protobuf_c_boolean *)a == !*(const protobuf_c_boolean *)b;
  default:
    return memcmp(a, b, weft__elem_size(f->type)) == 0;
  }
}

static int msg_equal(const void *a, const void *b) {
  const weft_msg_desc *d = weft_msg_desc_of_msg(a);
  const ProtobufCMessage *ab = a, *bb = b;
  unsigned i;
  if (ab->descriptor != bb->descriptor)
    return 0;
  for (i = 0; i < d->base.n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->base.fields[i];
    int pa = weft__field_present(d, i, a), pb = weft__field_present(d, i, b);
    const void *ma = WEFT__CMEMBER(a, f->offset),
               *mb = WEFT__CMEMBER(b, f->offset);
    if (d->is_map_entry && f->label != PROTOBUF_C_LABEL_REPEATED) {
      /* a map entry's key and value always exist: an absent one reads as
       * its default, so compare values, not presence */
      if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
        const void *x = *(const void *const *)ma, *y = *(const void *const *)mb;
        if (!x || !y) {
          if (weft_encoded_size(x ? x : y) != 0)
            return 0;
          continue;
        }
      }
      if (!elem_equal(f, ma, mb))
        return 0;
      continue;
    }
    if (pa != pb)
      return 0;
    if (!pa)
      continue;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
      size_t n = *(const size_t *)WEFT__CMEMBER(a, f->quantifier_offset), j;
      size_t es = weft__elem_size(f->type);
      const char *xa = *(const char *const *)ma, *xb = *(const char *const *)mb;
      if (n != *(const size_t *)WEFT__CMEMBER(b, f->quantifier_offset))
        return 0;
      for (j = 0; j < n; j++)
        if (!elem_equal(f, xa + j * es, xb + j * es))
          return 0;
    } else if (!elem_equal(f, ma, mb)) {
      return 0;
    }
  }
  if (ab->n_unknown_fields != bb->n_unknown_fields)
    return 0;
  for (i = 0; i < ab->n_unknown_fields; i++) {
    const ProtobufCMessageUnknownField *x = &ab->unknown_fields[i],
                                       *y = &bb->unknown_fields[i];
    if (x->tag != y->tag || x->wire_type != y->wire_type || x->len != y->len ||
        (x->len && memcmp(x->data, y->data, x->len) != 0))
      return 0;
  }
  return 1;
}

int weft_message_equal(const void *a, const void *b) {
  if (!a || !b)
    return a == b;
  return msg_equal(a, b);
}

/* ---- required-field check ---- */

typedef struct path_buf {
  char s[WEFT_ERROR_MSG_MAX - 32];
  size_t n;
} path_buf;

/* Appends sep + name (+ "[idx]" when idx >= 0), truncating quietly. */
static void path_push(path_buf *p, const char *sep, const char *name,
                      long idx) {
  int k;
  if (p->n >= sizeof p->s - 1)
    return;
  if (idx >= 0)
    k = snprintf(p->s + p->n, sizeof p->s - p->n, "%s%s[%ld]", sep, name, idx);
  else
    k = snprintf(p->s + p->n, sizeof p->s - p->n, "%s%s", sep, name);
  if (k > 0)
    p->n += (size_t)k;
  if (p->n >= sizeof p->s)
    p->n = sizeof p->s - 1;
}

static int check_msg(const void *msg, path_buf *p, weft_error *err) {
  const weft_msg_desc *d = weft_msg_desc_of_msg(msg);
  unsigned i;
  for (i = 0; i < d->base.n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->base.fields[i];
    const void *m = WEFT__CMEMBER(msg, f->offset);
    size_t save = p->n;
    if (f->label == PROTOBUF_C_LABEL_REQUIRED &&
        (f->type == PROTOBUF_C_TYPE_STRING ||
         f->type == PROTOBUF_C_TYPE_MESSAGE) &&
        *(const void *const *)m == NULL) {
      path_push(p, ".", f->name, -1);
      return weft_error_set(err, WEFT_ERR_MISSING_REQUIRED,
                            "%s: required field missing", p->s);
    }
    if (f->type != PROTOBUF_C_TYPE_MESSAGE || !weft__field_present(d, i, msg))
      continue;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
      size_t n = *(const size_t *)WEFT__CMEMBER(msg, f->quantifier_offset), j;
      for (j = 0; j < n; j++) {
        const void *sub = (*(const void *const *const *)m)[j];
        int rv;
        if (!sub)
          continue;
        p->n = save;
        p->s[p->n] = '\0';
        path_push(p, ".", f->name, (long)j);
        if ((rv = check_msg(sub, p, err)) < 0)
          return rv;
      }
    } else {
      int rv;
      path_push(p, ".", f->name, -1);
      if ((rv = check_msg(*(const void *const *)m, p, err)) < 0)
        return rv;
    }
    p->n = save;
    p->s[p->n] = '\0';
  }
  return 0;
}

int weft_message_check(const void *msg, weft_error *err) {
  path_buf p;
  if (!msg)
    return weft_error_set(err, WEFT_ERR_INVAL, "NULL message");
  p.n = 0;
  p.s[0] = '\0';
  path_push(&p, "", weft_msg_desc_of_msg(msg)->base.name, -1);
  return check_msg(msg, &p, err);
}
