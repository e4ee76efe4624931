/* Codec tables: per message type, what the decoder needs for each field in
 * one 32-byte entry (member offsets, the wire type it expects, one dispatch
 * code), and a direct-index array from field number to entry. Built once
 * per descriptor from its protobuf-c tables and cached in the descriptor's
 * weft_msg_cache, so the decoder's inner loop does one lookup and one
 * switch per field instead of re-deriving type, label and flags. The same
 * allocation carries the encoder's entries (weft__ee): presence rule, write
 * op and the tag's bytes, precomputed for the same reason. */
#ifndef WEFT_CODEC_DECTAB_H
#define WEFT_CODEC_DECTAB_H

#include <stdint.h>

#include "weft/desc.h"

/* weft__fe.op: how a value is read and stored */
enum {
  WEFT__OP_V32 = 0, /* int32, uint32, enum: varint truncated to 32 bits */
  WEFT__OP_V64,     /* int64, uint64 */
  WEFT__OP_Z32,     /* sint32 */
  WEFT__OP_Z64,     /* sint64 */
  WEFT__OP_BOOL,
  WEFT__OP_F32, /* fixed32, sfixed32, float */
  WEFT__OP_F64, /* fixed64, sfixed64, double */
  WEFT__OP_STRING,
  WEFT__OP_BYTES,
  WEFT__OP_MESSAGE /* length-delimited or group */
};

/* weft__fe.fl */
enum {
  WEFT__FE_REPEATED = 1u << 0,
  WEFT__FE_ONEOF = 1u << 1,
  WEFT__FE_CLOSED = 1u << 2, /* closed enum: unknown numbers are unknown */
  WEFT__FE_GROUP = 1u << 3,
  WEFT__FE_HAS = 1u << 4,  /* set the protobuf_c_boolean at qoff */
  WEFT__FE_UTF8 = 1u << 5, /* proto3 string */
  WEFT__FE_MAP = 1u << 6,  /* repeated map entry */
  /* map<string, string> whose entry type has just its key and value: the
   * decoder reads a well-formed entry in line (rd_map_ss) */
  WEFT__FE_MAPSS = 1u << 7,
  /* anything the decoder's short path does not handle */
  WEFT__FE_SLOW =
      WEFT__FE_REPEATED | WEFT__FE_ONEOF | WEFT__FE_CLOSED | WEFT__FE_GROUP
};

typedef struct weft__fe {
  uint32_t offset; /* member */
  uint32_t qoff;   /* quantifier: has_, n_ or _case */
  uint8_t op;      /* WEFT__OP_* */
  uint8_t wt;      /* wire type a value comes in (start-group for a group) */
  uint8_t es;      /* element size in the struct */
  uint8_t fl;      /* WEFT__FE_* */
  uint32_t idx;    /* index in base.fields (names, defaults for errors) */
  uint32_t tag;    /* number << 3 | wt: the tag the short paths expect */
  const weft_msg_desc *sub; /* message fields: its type */
} weft__fe;

/* weft__ee.op: how the encoder's short path writes a field. Singular ops
 * test presence as weft__ee.pres says; everything else (oneof members,
 * groups, repeated scalars, proto2 optional and required strings and
 * messages) is WEFT__EOP_GENERIC, the descriptor-driven path. */
enum {
  WEFT__EOP_GENERIC = 0,
  WEFT__EOP_I32, /* int32, enum: negative values as 10-byte varints */
  WEFT__EOP_U32,
  WEFT__EOP_Z32,
  WEFT__EOP_V64, /* int64, uint64 */
  WEFT__EOP_Z64,
  WEFT__EOP_BOOL,
  WEFT__EOP_F32,
  WEFT__EOP_F64,
  WEFT__EOP_STRING,
  WEFT__EOP_BYTES,
  WEFT__EOP_MESSAGE,
  WEFT__EOP_RMESSAGE, /* repeated message, map entries included */
  WEFT__EOP_RSTRING,
  WEFT__EOP_RBYTES,
  WEFT__EOP_RMAP_SS /* map<string, string>: entries written in line */
};

/* weft__ee.pres: when a singular field is written */
enum {
  WEFT__EP_IMPLICIT = 0, /* proto3: unless zero, empty or NULL */
  WEFT__EP_ALWAYS,       /* map entry fields, proto2 required scalars */
  WEFT__EP_HAS           /* when the protobuf_c_boolean at qoff is set */
};

/* One field as the encoder sees it. The tag is precomputed as varint bytes
 * in the high end of a 64-bit word, so the backward writer stores it with
 * one unaligned 8-byte store ending at its write position. */
typedef struct weft__ee {
  uint32_t offset;
  uint32_t qoff;
  uint64_t tag; /* varint bytes of number << 3 | wt, shifted up */
  const weft_msg_desc *sub;
  uint8_t op;   /* WEFT__EOP_* */
  uint8_t pres; /* WEFT__EP_* */
  uint8_t tagn; /* tag length in bytes, 1..5 */
  uint8_t es;   /* element size in the struct (repeated) */
  uint32_t idx; /* index in base.fields */
} weft__ee;

/* Field numbers up to this are looked up directly (bigger ones by binary
 * search over the sorted fields). */
#define WEFT__DENSE_MAX 255u

typedef struct weft__dtab {
  unsigned nf;
  unsigned max_dense;   /* dense[] covers numbers 0..max_dense */
  int track_required;   /* proto2 with required fields */
  const weft__fe *fe;   /* nf entries, in base.fields order */
  const uint8_t *dense; /* number -> entry index + 1, 0 = unknown */
  const weft__ee *ee;   /* nf encode entries, in base.fields order */
  /* a message of the type as weft_message_init leaves it: the decoder
   * copies it into each new message (no indirect call to the generated
   * init per message) */
  const void *init;
  /* weft_encode writes this type front to back (encode_fwd.c): it has
   * no sub-messages (map<string, string> entries aside, written in line)
   * and no field goes through the generic path. */
  int enc_fwd;
} weft__dtab;

/* The table of d: cached, or built into *tmp (which the caller frees after
 * use) when d has no cache or another thread is building it. NULL: out of
 * memory. weft__dtab_get is its inline fast path. */
const weft__dtab *weft__dtab_build(const weft_msg_desc *d, weft__dtab **tmp);

/* The cached table, or weft__dtab_build's. */
static inline const weft__dtab *weft__dtab_get(const weft_msg_desc *d,
                                               weft__dtab **tmp) {
  const weft_msg_cache *c = d->cache;
  if (__builtin_expect(c != NULL, 1) &&
      __builtin_expect(__atomic_load_n(&c->state, __ATOMIC_ACQUIRE) == 2, 1)) {
    *tmp = NULL;
    return (const weft__dtab *)c->table;
  }
  return weft__dtab_build(d, tmp);
}

#endif
