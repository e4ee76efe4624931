/* Pub/sub entry points when weft_proto (the generated weft.v1 schema) is
 * not part of the build: everything reports WEFT_ERR_UNSUPPORTED. */
#ifndef WEFT_HAVE_PROTO
#include "client_internal.h"

void weft__pubsub_free(weft__pubsub *ps) {
  (void)ps;
}
void weft__pubsub_shutdown(weft__pubsub *ps) {
  (void)ps;
}
int weft__pubsub_publish(weft__pubsub *ps, const char *topic, const void *msg,
                         unsigned *delivered) {
  (void)ps, (void)topic, (void)msg, (void)delivered;
  return WEFT_ERR_UNSUPPORTED;
}
void weft__subscriptions_cancel_all(weft_client *c) {
  (void)c;
}
int weft_client_subscribe(weft_client *c, const char *topic, weft_event_fn fn,
                          void *ud, weft_subscription **out) {
  (void)c, (void)topic, (void)fn, (void)ud, (void)out;
  return WEFT_ERR_UNSUPPORTED;
}
int weft_client_subscribe_after(weft_client *c, const char *topic,
                                uint64_t after_sequence, weft_event_fn fn,
                                void *ud, weft_subscription **out) {
  (void)c, (void)topic, (void)after_sequence, (void)fn, (void)ud, (void)out;
  return WEFT_ERR_UNSUPPORTED;
}
uint64_t weft_subscription_last_sequence(weft_subscription *s) {
  (void)s;
  return 0;
}
void weft_subscription_cancel(weft_subscription *s) {
  (void)s;
}
int weft_client_publish(weft_client *c, const char *topic, const void *msg) {
  (void)c, (void)topic, (void)msg;
  return WEFT_ERR_UNSUPPORTED;
}
#else
typedef int weft__pubsub_stub_unused; /* ISO C: no empty translation unit */
#endif
