/* Text forms of the well-known types (RFC 3339 timestamps, durations),
 * base64 decoding and integer text parsing, as Google's JsonFormat accepts
 * and prints them. */
#include <stdio.h>

#include "json_internal.h"

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * algorithm), and back. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  unsigned doe = (unsigned)(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* ".123", ".123456" or ".123456789": the shortest of Google's three widths
 * that holds nanos exactly; nothing for 0. */
static int format_nanos(char *out, int32_t nanos) {
  if (nanos == 0)
    return 0;
  if (nanos % 1000000 == 0)
    return sprintf(out, ".%03d", nanos / 1000000);
  if (nanos % 1000 == 0)
    return sprintf(out, ".%06d", nanos / 1000);
  return sprintf(out, ".%09d", nanos);
}

int weft__wj_format_timestamp(char *out, int64_t seconds, int32_t nanos) {
  if (seconds < WJ_TS_MIN_SECONDS || seconds > WJ_TS_MAX_SECONDS || nanos < 0 ||
      nanos > 999999999)
    return -1;
  int64_t days = seconds / 86400, rem = seconds % 86400;
  if (rem < 0) {
    rem += 86400;
    days--;
  }
  int64_t y;
  unsigned m, d;
  civil_from_days(days, &y, &m, &d);
  int n = sprintf(out, "%04d-%02u-%02uT%02d:%02d:%02d", (int)y, m, d,
                  (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
  n += format_nanos(out + n, nanos);
  out[n++] = 'Z';
  out[n] = '\0';
  return n;
}

int weft__wj_format_duration(char *out, int64_t seconds, int32_t nanos) {
  if (seconds < -WJ_DUR_MAX_SECONDS || seconds > WJ_DUR_MAX_SECONDS ||
      nanos <= -1000000000 || nanos >= 1000000000 ||
      (seconds < 0 && nanos > 0) || (seconds > 0 && nanos < 0))
    return -1;
  int n = 0;
  if (seconds < 0 || nanos < 0) {
    out[n++] = '-';
    seconds = -seconds;
    nanos = -nanos;
  }
  n += sprintf(out + n, "%lld", (long long)seconds);
  n += format_nanos(out + n, nanos);
  out[n++] = 's';
  out[n] = '\0';
  return n;
}

static int digits(const char *s, size_t n, size_t at, size_t count,
                  unsigned *v) {
  if (at + count > n)
    return -1;
  unsigned r = 0;
  for (size_t i = 0; i < count; i++) {
    char c = s[at + i];
    if (c < '0' || c > '9')
      return -1;
    r = r * 10 + (unsigned)(c - '0');
  }
  *v = r;
  return 0;
}

/* Parses up to 9 fraction digits at s[*i] (after '.'); at least one. */
static int parse_fraction(const char *s, size_t n, size_t *i, int32_t *nanos,
                          int allow_empty) {
  int32_t v = 0;
  int nd = 0;
  while (*i < n && s[*i] >= '0' && s[*i] <= '9') {
    if (nd == 9)
      return -1;
    v = v * 10 + (s[*i] - '0');
    nd++;
    (*i)++;
  }
  if (nd == 0 && !allow_empty)
    return -1;
  for (int k = nd; k < 9; k++)
    v *= 10;
  *nanos = v;
  return 0;
}

int weft__wj_parse_timestamp(const char *s, size_t n, int64_t *seconds,
                             int32_t *nanos) {
  unsigned y, mo, d, h, mi, se;
  if (digits(s, n, 0, 4, &y) || n < 20 || s[4] != '-' ||
      digits(s, n, 5, 2, &mo) || s[7] != '-' || digits(s, n, 8, 2, &d) ||
      s[10] != 'T' || digits(s, n, 11, 2, &h) || s[13] != ':' ||
      digits(s, n, 14, 2, &mi) || s[16] != ':' || digits(s, n, 17, 2, &se))
    return -1;
  static const unsigned char mdays[] = {31, 29, 31, 30, 31, 30,
                                        31, 31, 30, 31, 30, 31};
  int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
      (mo == 2 && d == 29 && !leap) || h > 23 || mi > 59 || se > 59)
    return -1;
  size_t i = 19;
  int32_t ns = 0;
  if (i < n && s[i] == '.') {
    i++;
    if (parse_fraction(s, n, &i, &ns, 0))
      return -1;
  }
  int64_t off = 0;
  if (i < n && s[i] == 'Z') {
    i++;
  } else if (i < n && (s[i] == '+' || s[i] == '-')) {
    unsigned oh, om;
    if (digits(s, n, i + 1, 2, &oh) || i + 3 >= n || s[i + 3] != ':' ||
        digits(s, n, i + 4, 2, &om) || oh > 23 || om > 59)
      return -1;
    off = (int64_t)oh * 3600 + om * 60;
    if (s[i] == '-')
      off = -off;
    i += 6;
  } else {
    return -1;
  }
  if (i != n)
    return -1;
  int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
  secs -= off;
  if (secs < WJ_TS_MIN_SECONDS || secs > WJ_TS_MAX_SECONDS)
    return -1;
  *seconds = secs;
  *nanos = ns;
  return 0;
}

int weft__wj_parse_duration(const char *s, size_t n, int64_t *seconds,
                            int32_t *nanos) {
  size_t i = 0;
  int neg = 0;
  if (n < 2 || s[n - 1] != 's')
    return -1;
  n--;
  if (s[0] == '-' || s[0] == '+') {
    neg = s[0] == '-';
    i++;
  }
  uint64_t secs = 0;
  size_t start = i;
  while (i < n && s[i] >= '0' && s[i] <= '9') {
    secs = secs * 10 + (uint64_t)(s[i] - '0');
    if (secs > (uint64_t)WJ_DUR_MAX_SECONDS)
      return -1;
    i++;
  }
  if (i == start)
    return -1;
  int32_t ns = 0;
  if (i < n && s[i] == '.') {
    i++;
    /* Google accepts "1.s"; so do we. */
    if (parse_fraction(s, n, &i, &ns, 1))
      return -1;
  }
  if (i != n)
    return -1;
  *seconds = neg ? -(int64_t)secs : (int64_t)secs;
  *nanos = neg ? -ns : ns;
  return 0;
}

int weft__wj_parse_u64_text(const char *s, size_t n, int allow_plus,
                            uint64_t *out) {
  size_t i = 0;
  if (n && s[0] == '+' && allow_plus)
    i++;
  if (i == n)
    return -1;
  uint64_t v = 0;
  /* 19 digits cannot overflow (< 10^19 < 2^64): no range check for them */
  size_t safe = n - i < 19 ? n : i + 19;
  for (; i < safe; i++) {
    unsigned d = (unsigned)(s[i] - '0');
    if (d > 9)
      return -1;
    v = v * 10 + d;
  }
  for (; i < n; i++) {
    unsigned d = (unsigned)(s[i] - '0');
    if (d > 9)
      return -1;
    if (v > (UINT64_MAX - d) / 10)
      return -2;
    v = v * 10 + d;
  }
  *out = v;
  return 0;
}

int weft__wj_parse_i64_text(const char *s, size_t n, int allow_plus,
                            int64_t *out) {
  int neg = n && s[0] == '-';
  uint64_t v;
  int rv =
      weft__wj_parse_u64_text(s + neg, n - (size_t)neg, allow_plus && !neg, &v);
  if (rv)
    return rv;
  if (neg) {
    if (v > (uint64_t)INT64_MAX + 1)
      return -2;
    *out = (int64_t)(0 - v);
  } else {
    if (v > (uint64_t)INT64_MAX)
      return -2;
    *out = (int64_t)v;
  }
  return 0;
}
