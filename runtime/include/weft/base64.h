/* Base64 (RFC 4648) as protobuf's JSON mapping, weft's JSON envelopes and
 * the Connect protocol's error details use it. One implementation for all
 * of them, so every decoder accepts and refuses the same texts. */
#ifndef WEFT_BASE64_H
#define WEFT_BASE64_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WEFT_BASE64_URL 1u   /* encode with the URL-safe alphabet (-_) */
#define WEFT_BASE64_NOPAD 2u /* encode without '=' padding */

/* Characters weft_base64_encode writes for n bytes (no NUL counted). Cannot
 * fail. */
size_t weft_base64_encoded_len(size_t n, unsigned flags);
/* Writes the encoding of p[0..n) to out, weft_base64_encoded_len(n, flags)
 * characters, no NUL; returns that length. The caller provides out (with
 * that much room) and keeps ownership of both buffers; nothing is
 * allocated and nothing can fail. */
size_t weft_base64_encode(const void *p, size_t n, char *out, unsigned flags);

/* Room weft_base64_decode needs for an n-character text. */
#define WEFT_BASE64_DECODED_MAX(n) ((n) / 4 * 3 + 3)
/* Decodes s[0..n) (need not be NUL-terminated): the standard or the URL-safe
 * alphabet (not both in one text); padding optional, but if present it
 * completes the last quad; the bits below the last whole byte must be zero (as
 * libprotobuf checks, so two texts never decode to the same bytes). Returns the
 * number of bytes written to out (WEFT_BASE64_DECODED_MAX(n) of room), or -1 if
 * s is not such base64 (no WEFT_ERR_* code: callers turn it into their own
 * error). The caller owns out; nothing is allocated. On -1, out may already
 * hold part of the decoded bytes: treat its content as undefined. */
long weft_base64_decode(const char *s, size_t n, uint8_t *out);

#ifdef __cplusplus
}
#endif
#endif
