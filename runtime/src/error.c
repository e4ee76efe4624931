#include "weft/error.h"

#include <stdarg.h>
#include <stdio.h>

const char *weft_strerror(int code) {
  switch (code) {
  case 0:
    return "success";
#define WEFT__ERR_MSG(name, val, msg)                                          \
  case val:                                                                    \
    return msg;
    WEFT_ERRNO_MAP(WEFT__ERR_MSG)
#undef WEFT__ERR_MSG
  default:
    return "unknown error";
  }
}

const char *weft_errname(int code) {
  switch (code) {
  case 0:
    return "OK";
#define WEFT__ERR_NAME(name, val, msg)                                         \
  case val:                                                                    \
    return "WEFT_ERR_" #name;
    WEFT_ERRNO_MAP(WEFT__ERR_NAME)
#undef WEFT__ERR_NAME
  default:
    return "WEFT_ERR_UNKNOWN";
  }
}

int weft_error_set(weft_error *err, int code, const char *fmt, ...) {
  if (err) {
    va_list ap;
    err->code = code;
    va_start(ap, fmt);
    int n = vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    /* Cut to fit: not inside a UTF-8 character, so the message stays
     * valid text in a JSON error body or a WebSocket close reason. */
    if (n >= (int)sizeof err->message) {
      unsigned char *m = (unsigned char *)err->message;
      size_t end = sizeof err->message - 1, k = end;
      while (k > 0 && (m[k - 1] & 0xC0) == 0x80)
        k--; /* m[k - 1]: where the last character starts */
      if (k > 0 && m[k - 1] >= 0xC0) {
        size_t need = m[k - 1] >= 0xF0 ? 4 : m[k - 1] >= 0xE0 ? 3 : 2;
        if (end - (k - 1) < need)
          m[k - 1] = '\0';
      }
    }
  }
  return code;
}

void weft_error_clear(weft_error *err) {
  if (err) {
    err->code = 0;
    err->message[0] = '\0';
  }
}
