/* grpc.reflection.v1alpha.ServerReflection from the generated descriptors:
 * every weft_file_desc carries its serialized FileDescriptorProto and its
 * imports, so the files of the services a server serves (and, transitively,
 * their imports) answer list_services, file_by_filename and
 * file_containing_symbol the way grpcurl and grpc_cli expect. */
#include <stdlib.h>
#include <string.h>

#include "builtin.h"

typedef grpc__reflection__v1alpha__ServerReflectionRequest rreq;
typedef grpc__reflection__v1alpha__ServerReflectionResponse rresp;

/* The set of files reachable from the served services. */
typedef struct fileset {
  const weft_file_desc **f;
  size_t n, cap;
  const weft_service_desc **svc;
  size_t nsvc, capsvc;
  bool oom;
} fileset;

static bool has(const fileset *fs, const weft_file_desc *f) {
  for (size_t i = 0; i < fs->n; i++)
    if (fs->f[i] == f)
      return true;
  return false;
}

static void add_file(fileset *fs, const weft_file_desc *f, int depth) {
  if (!f || depth > 64 || has(fs, f))
    return;
  if (fs->n == fs->cap) {
    size_t cap = fs->cap ? fs->cap * 2 : 16;
    const weft_file_desc **n = realloc(fs->f, cap * sizeof *n);
    if (!n) {
      fs->oom = true;
      return;
    }
    fs->f = n;
    fs->cap = cap;
  }
  fs->f[fs->n++] = f;
  for (unsigned i = 0; i < f->n_deps; i++)
    add_file(fs, f->deps[i], depth + 1);
}

static void add_service(const weft_service_desc *svc, void *ud) {
  fileset *fs = ud;
  if (fs->nsvc == fs->capsvc) {
    size_t cap = fs->capsvc ? fs->capsvc * 2 : 8;
    const weft_service_desc **n = realloc(fs->svc, cap * sizeof *n);
    if (!n) {
      fs->oom = true;
      return;
    }
    fs->svc = n;
    fs->capsvc = cap;
  }
  fs->svc[fs->nsvc++] = svc;
  add_file(fs, svc->file, 0);
}

static void fileset_free(fileset *fs) {
  free(fs->f);
  free(fs->svc);
}

/* sym is "<scope>.<rest>" with rest a single name (no dot). */
static const char *member_of(const char *scope, size_t scope_len,
                             const char *sym) {
  if (scope_len == 0)
    return strchr(sym, '.') ? NULL : sym; /* a file without a package */
  if (strncmp(sym, scope, scope_len) != 0 || sym[scope_len] != '.')
    return NULL;
  const char *rest = sym + scope_len + 1;
  return *rest && !strchr(rest, '.') ? rest : NULL;
}

/* Whether f defines sym, by the symbol rules of protobuf's DescriptorPool
 * (what Google's reflection service resolves): the package, services and
 * their methods, messages and enums at any depth, fields and oneofs
 * ("aitbc.v1.Block.height"; synthetic ones of proto3 optional fields too),
 * and enum values, which are siblings of their
 * enum ("aitbc.v1.QUEUED", "aitbc.v1.SettlementStatus.pending"). */
static bool sym_in_file(const weft_file_desc *f, const char *sym) {
  if (f->package && f->package[0] && strcmp(f->package, sym) == 0)
    return true;
  for (unsigned i = 0; i < f->n_services; i++) {
    const weft_service_desc *s = f->services[i];
    if (strcmp(s->name, sym) == 0)
      return true;
    const char *m = member_of(s->name, strlen(s->name), sym);
    if (m && weft_service_method(s, m))
      return true;
  }
  for (unsigned i = 0; i < f->n_messages; i++) {
    const weft_msg_desc *md = f->messages[i];
    const char *name = md->base.name;
    if (strcmp(name, sym) == 0)
      return true;
    const char *m = member_of(name, strlen(name), sym);
    if (!m)
      continue;
    if (protobuf_c_message_descriptor_get_field_by_name(&md->base, m))
      return true;
    for (unsigned k = 0; k < md->n_oneofs; k++)
      if (strcmp(md->oneof_names[k], m) == 0)
        return true;
    /* the synthetic oneof of a proto3 optional field x is "_x" (protoc
     * prefixes 'X' on a clash, which no table here records) */
    const ProtobufCFieldDescriptor *f =
        m[0] == '_'
            ? protobuf_c_message_descriptor_get_field_by_name(&md->base, m + 1)
            : NULL;
    if (f && (md->field_info[f - md->base.fields].flags &
              WEFT_FIELD_PROTO3_OPTIONAL))
      return true;
  }
  for (unsigned i = 0; i < f->n_enums; i++) {
    const ProtobufCEnumDescriptor *ed = &f->enums[i]->base;
    if (strcmp(ed->name, sym) == 0)
      return true;
    const char *dot = strrchr(ed->name, '.');
    const char *v =
        member_of(ed->name, dot ? (size_t)(dot - ed->name) : 0, sym);
    if (v && protobuf_c_enum_descriptor_get_value_by_name(ed, v))
      return true;
  }
  return false;
}

/* A FileDescriptorResponse with f and everything it imports. */
static int files_response(weft_arena *a, rresp *r, const weft_file_desc *f) {
  fileset deps = {0};
  add_file(&deps, f, 0);
  grpc__reflection__v1alpha__FileDescriptorResponse *fr =
      grpc__reflection__v1alpha__FileDescriptorResponse_new(a);
  ProtobufCBinaryData *items =
      weft_arena_alloc(a, (deps.n ? deps.n : 1) * sizeof *items);
  if (!fr || !items || deps.oom) {
    fileset_free(&deps);
    return WEFT_ERR_NOMEM;
  }
  for (size_t i = 0; i < deps.n; i++) {
    items[i].data = (uint8_t *)deps.f[i]->serialized;
    items[i].len = deps.f[i]->serialized_len;
  }
  fr->n_file_descriptor_proto = deps.n;
  fr->file_descriptor_proto = items;
  r->message_response_case = 4;
  r->file_descriptor_response = fr;
  fileset_free(&deps);
  return 0;
}

static int error_response(weft_arena *a, rresp *r, int code, const char *text) {
  grpc__reflection__v1alpha__ErrorResponse *e =
      grpc__reflection__v1alpha__ErrorResponse_new(a);
  if (!e)
    return WEFT_ERR_NOMEM;
  e->error_code = code;
  e->error_message = (char *)text;
  r->message_response_case = 7;
  r->error_response = e;
  return 0;
}

static int answer(weft_server_call *call, const fileset *fs, const rreq *q,
                  rresp *r) {
  weft_arena *a = weft_server_call_arena(call);
  switch (q->message_request_case) {
  case 3: /* file_by_filename */
    for (size_t i = 0; i < fs->n; i++)
      if (q->file_by_filename &&
          strcmp(fs->f[i]->name, q->file_by_filename) == 0)
        return files_response(a, r, fs->f[i]);
    return error_response(a, r, WEFT_STATUS_NOT_FOUND, "file not found");
  case 4: /* file_containing_symbol */
    for (size_t i = 0; i < fs->n; i++)
      if (q->file_containing_symbol &&
          sym_in_file(fs->f[i], q->file_containing_symbol))
        return files_response(a, r, fs->f[i]);
    return error_response(a, r, WEFT_STATUS_NOT_FOUND, "symbol not found");
  case 7: { /* list_services */
    grpc__reflection__v1alpha__ListServiceResponse *l =
        grpc__reflection__v1alpha__ListServiceResponse_new(a);
    grpc__reflection__v1alpha__ServiceResponse **arr =
        weft_arena_alloc(a, (fs->nsvc ? fs->nsvc : 1) * sizeof *arr);
    if (!l || !arr)
      return WEFT_ERR_NOMEM;
    for (size_t i = 0; i < fs->nsvc; i++) {
      arr[i] = grpc__reflection__v1alpha__ServiceResponse_new(a);
      if (!arr[i])
        return WEFT_ERR_NOMEM;
      arr[i]->name = (char *)fs->svc[i]->name;
    }
    l->n_service = fs->nsvc;
    l->service = arr;
    r->message_response_case = 6;
    r->list_services_response = l;
    return 0;
  }
  case 5: /* file_containing_extension: weft generates no extensions */
    return error_response(a, r, WEFT_STATUS_NOT_FOUND, "extension not found");
  case 6: { /* all_extension_numbers_of_type */
    for (size_t i = 0; i < fs->n; i++)
      for (unsigned k = 0; k < fs->f[i]->n_messages; k++)
        if (q->all_extension_numbers_of_type &&
            strcmp(fs->f[i]->messages[k]->base.name,
                   q->all_extension_numbers_of_type) == 0) {
          grpc__reflection__v1alpha__ExtensionNumberResponse *e =
              grpc__reflection__v1alpha__ExtensionNumberResponse_new(a);
          if (!e)
            return WEFT_ERR_NOMEM;
          e->base_type_name = q->all_extension_numbers_of_type;
          r->message_response_case = 5;
          r->all_extension_numbers_response = e;
          return 0;
        }
    return error_response(a, r, WEFT_STATUS_NOT_FOUND, "type not found");
  }
  default:
    return error_response(a, r, WEFT_STATUS_INVALID_ARGUMENT,
                          "unknown request");
  }
}

static int reflection_info(weft_server_call *call, void *ctx) {
  (void)ctx;
  fileset fs = {0};
  weft_server_each_service(weft_server_call_server(call), add_service, &fs);
  if (fs.oom) {
    fileset_free(&fs);
    return WEFT_STATUS_RESOURCE_EXHAUSTED;
  }
  int st = WEFT_STATUS_OK;
  void *m;
  int rc;
  while ((rc = weft_server_call_recv(call, &m)) == 1) {
    const rreq *q = m;
    rresp r = grpc__reflection__v1alpha__ServerReflectionResponse_INIT;
    r.valid_host = q->host ? q->host : (char *)protobuf_c_empty_string;
    r.original_request = (rreq *)q;
    if (answer(call, &fs, q, &r) < 0) {
      st = WEFT_STATUS_RESOURCE_EXHAUSTED;
      break;
    }
    if (weft_server_call_send(call, &r) < 0) {
      st = WEFT_STATUS_CANCELLED;
      break;
    }
  }
  if (rc < 0 && st == WEFT_STATUS_OK)
    st = weft_server_call_cancelled(call) ? WEFT_STATUS_CANCELLED
                                          : WEFT_STATUS_INVALID_ARGUMENT;
  fileset_free(&fs);
  return st;
}

const grpc__reflection__v1alpha__ServerReflection_impl
    weft__grpc_reflection_impl = {
        .server_reflection_info = reflection_info,
};
