/* Decoded trees for weft's other decoders (the JSON one): what weft_decode
 * does on the malloc path, built the same way so weft_message_free and the
 * rules of weft/codec.h hold for their output too. Not public API. */
#ifndef WEFT_CODEC_TREE_H
#define WEFT_CODEC_TREE_H

#include <stddef.h>

#include "weft/arena.h"
#include "weft/desc.h"

typedef struct weft__tree weft__tree;

/* A tree whose first block has room for about first_bytes; NULL on OOM. */
weft__tree *weft__tree_new(size_t first_bytes);
/* Frees every block of the tree, and the tree. Accepts NULL. */
void weft__tree_free(weft__tree *t);
/* The arena to allocate the tree's values from. */
weft_arena *weft__tree_arena(weft__tree *t);
/* The root: weft_message_free(root) releases the tree. */
void weft__tree_set_root(weft__tree *t, void *root);
/* weft_message_new for decoders: a message of tree t when t is set (a is
 * then its arena), else as weft_message_new(d, a). */
void *weft__message_new_in(weft_arena *a, weft__tree *t,
                           const weft_msg_desc *d);

#endif
