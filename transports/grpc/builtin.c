/* gRPC's standard services on grpc:// listeners: grpc.health.v1.Health
 * (health.c) and grpc.reflection.v1alpha.ServerReflection (reflection.c).
 * They are ordinary weft services added to the server when it first listens
 * on grpc:// or grpcs://. */
#include <string.h>

#include "builtin.h"

/* Fallback for a runtime without weft_server_each_service(): no services
 * are listed (health answers "" only, reflection lists nothing). The
 * runtime's strong definition replaces this one at link time. */
__attribute__((weak)) void
weft_server_each_service(const weft_server *s,
                         void (*fn)(const weft_service_desc *, void *),
                         void *ud) {
  (void)s, (void)fn, (void)ud;
}

/* Fallback for a runtime without weft_server_dispatch_inline(): the call
 * goes to the worker pool as usual. */
__attribute__((weak)) int
weft_server_dispatch_inline(weft_server *s, const char *path,
                            const weft_metadata *md, int64_t deadline_ns,
                            const char *peer, const weft_server_call_ops *ops,
                            void *tc) {
  return weft_server_dispatch(s, path, md, deadline_ns, peer, ops, tc);
}

typedef struct find_ctx {
  const char *name;
  const weft_service_desc *found;
} find_ctx;

static void find_fn(const weft_service_desc *svc, void *ud) {
  find_ctx *f = ud;
  if (!f->found && strcmp(svc->name, f->name) == 0)
    f->found = svc;
}

const weft_service_desc *weft__grpc_served(const weft_server *s,
                                           const char *name) {
  find_ctx f = {name, NULL};
  weft_server_each_service(s, find_fn, &f);
  return f.found;
}

int weft__grpc_add_builtin_services(weft_server *s, const weft_grpc_opts *g,
                                    weft_error *err) {
  int rc = 0;
  if (!g->no_health &&
      !weft_server_find_method(s, "/grpc.health.v1.Health/Check"))
    rc = weft_server_add_service(s, &grpc__health__v1__Health_service,
                                 &weft__grpc_health_impl, NULL);
  if (rc == 0 && !g->no_reflection &&
      !weft_server_find_method(
          s, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"))
    rc = weft_server_add_service(
        s, &grpc__reflection__v1alpha__ServerReflection_service,
        &weft__grpc_reflection_impl, NULL);
  if (rc == WEFT_ERR_STATE) /* added meanwhile by another listener */
    rc = 0;
  if (rc < 0)
    return weft_error_set(err, rc, "grpc: cannot add health/reflection");
  return 0;
}
