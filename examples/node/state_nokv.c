/* The state backend calls of a build without libnats: --nats is refused
 * with the reason, and everything else stays in memory. */
#include <stdio.h>

#include "state.h"

int nd_kv_open(const char *url, const char *node_id, int64_t lease_ms,
               char *err, size_t cap) {
  (void)url;
  (void)node_id;
  (void)lease_ms;
  snprintf(err, cap,
           "this build has no NATS support (libnats was not found when weft "
           "was configured: install libnats-dev and configure again)");
  return -1;
}
int nd_kv_start(void) {
  return 0;
}
void nd_kv_close(void) {}
bool nd_kv_enabled(void) {
  return false;
}
bool nd_kv_is_leader(void) {
  return false;
}
const char *nd_kv_node_id(void) {
  return "";
}
void nd_kv_new_id(const char *prefix, char *out, size_t cap) {
  nd_new_id(prefix, out, cap);
}
bool nd_kv_key(const char *id, char *out, size_t cap) {
  return (size_t)snprintf(out, cap, "%s", id) < cap;
}
int nd_kv_get(weft_server_call *call, weft_arena *a, int bucket, const char *id,
              const weft_msg_desc *d, void **out, uint64_t *rev) {
  (void)a, (void)bucket, (void)id, (void)d, (void)out, (void)rev;
  return nd_fail(call, WEFT_STATUS_UNIMPLEMENTED, "no NATS support");
}
int nd_kv_create(weft_server_call *call, int bucket, const char *id,
                 const void *msg) {
  (void)bucket, (void)id, (void)msg;
  return nd_fail(call, WEFT_STATUS_UNIMPLEMENTED, "no NATS support");
}
int nd_kv_update(weft_server_call *call, weft_arena *a, int bucket,
                 const char *id, const weft_msg_desc *d, nd_kv_mutate fn,
                 void *arg, void **out) {
  (void)a, (void)bucket, (void)id, (void)d, (void)fn, (void)arg, (void)out;
  return nd_fail(call, WEFT_STATUS_UNIMPLEMENTED, "no NATS support");
}
int nd_kv_list(weft_server_call *call, weft_arena *a, int bucket,
               const weft_msg_desc *d, void ***out, size_t *n) {
  (void)a, (void)bucket, (void)d, (void)out, (void)n;
  return nd_fail(call, WEFT_STATUS_UNIMPLEMENTED, "no NATS support");
}
int nd_kv_delete(int bucket, const char *id) {
  (void)bucket, (void)id;
  return WEFT_STATUS_UNIMPLEMENTED;
}
