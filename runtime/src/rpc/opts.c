/* Tagged transport options chains (weft/opts.h). */
#include "weft/opts.h"

#include <stddef.h>

/* Enough for every transport there is; a longer chain is a cycle. */
#define OPTS_MAX_LINKS 64

static int tag_char(unsigned c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9');
}

int weft_opts_tag_valid(uint32_t tag) {
  if ((tag & 0xffu) != 'w')
    return 0;
  for (int i = 1; i < 4; i++)
    if (!tag_char((tag >> (8 * i)) & 0xffu))
      return 0;
  return 1;
}

int weft_opts_check(const void *chain, const char *what, weft_error *err) {
  const weft_opts_hdr *h = chain;
  if (!what)
    what = "transport_opts";
  for (int i = 0; h; i++, h = h->next) {
    if (i >= OPTS_MAX_LINKS)
      return weft_error_set(err, WEFT_ERR_INVAL,
                            "%s: chain longer than %d links (a cycle?)", what,
                            OPTS_MAX_LINKS);
    if (!weft_opts_tag_valid(h->tag))
      return weft_error_set(
          err, WEFT_ERR_INVAL,
          "%s: options struct %d of the chain has no weft options tag "
          "(first word 0x%08x); initialize it with its WEFT_*_OPTS_INIT "
          "macro",
          what, i + 1, (unsigned)h->tag);
  }
  return 0;
}

const void *weft_opts_find(const void *chain, uint32_t tag) {
  const weft_opts_hdr *h = chain;
  for (int i = 0; h && i < OPTS_MAX_LINKS; i++, h = h->next) {
    if (!weft_opts_tag_valid(h->tag))
      return NULL;
    if (h->tag == tag)
      return h;
  }
  return NULL;
}

int weft_opts_get(const void *chain, uint32_t tag, const void **out,
                  weft_error *err) {
  *out = NULL;
  int rv = weft_opts_check(chain, "transport_opts", err);
  if (rv < 0)
    return rv;
  *out = weft_opts_find(chain, tag);
  return 0;
}
