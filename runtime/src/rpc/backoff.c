/* Exponential backoff with jitter, and the PRNG behind the jitter. */
#include <math.h>

#include "rpc_internal.h"

/* splitmix64: tiny, seedable, good enough for spreading retry times. */
uint64_t weft__rng_next(weft__rng *r) {
  uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

int64_t weft__backoff_ms(int64_t base_ms, double factor, int64_t cap_ms,
                         double jitter, int attempt, weft__rng *r) {
  if (base_ms <= 0)
    return 0;
  if (factor < 1.0)
    factor = 1.0;
  double d = (double)base_ms;
  for (int i = 0; i < attempt && d < (double)cap_ms; i++)
    d *= factor;
  if (cap_ms > 0 && d > (double)cap_ms)
    d = (double)cap_ms;
  if (jitter > 0 && r) {
    if (jitter > 1)
      jitter = 1;
    /* 53 random bits -> [0, 1) */
    double u = (double)(weft__rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
    d = d * (1.0 - jitter) + d * jitter * u;
  }
  return (int64_t)llround(d);
}
