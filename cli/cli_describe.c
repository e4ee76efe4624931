/* weft list URL / weft describe URL NAME: services and types, from gRPC
 * reflection on grpc:// URLs, from --descriptor-set FILE (a binary
 * FileDescriptorSet, as `protoc -o` writes), or from the descriptors
 * compiled into weft. Everything is printed from FileDescriptorProtos, so
 * the three sources look the same. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "cli_files.h"
#include "google/protobuf/descriptor.pb-c.h"
#include "grpc/reflection/v1alpha/reflection.weft.h"
#include "weft/codec.h"
#include "weft/dyndesc.h"

static const char list_usage[] =
    "usage: weft list URL [--proto FILE | --descriptor-set FILE] [TLS "
    "options]\n"
    "  Lists services: from --proto (compiled with protoc) or\n"
    "  --descriptor-set (a binary FileDescriptorSet, as protoc -o writes),\n"
    "  else from gRPC reflection for grpc:// and grpcs:// URLs, else from\n"
    "  the descriptors compiled into weft (other transports cannot list a\n"
    "  server's services; a note on stderr says so). URL may be -.\n";
static const char describe_usage[] =
    "usage: weft describe URL NAME [--proto FILE | --descriptor-set FILE]\n"
    "  Prints a service, method (pkg.Svc/Method or pkg.Svc.Method), message\n"
    "  or enum in .proto syntax that protoc accepts (type names fully\n"
    "  qualified).\n";

/* A set of parsed files. */
typedef struct fileset {
  size_t n;
  Google__Protobuf__FileDescriptorProto *f[256];
} fileset;

static void fileset_add_bytes(fileset *fs, const uint8_t *p, size_t len) {
  if (fs->n >= 256)
    return;
  Google__Protobuf__FileDescriptorProto *f =
      google__protobuf__file_descriptor_proto__unpack(NULL, len, p);
  if (!f)
    return;
  for (size_t i = 0; i < fs->n; i++)
    if (strcmp(fs->f[i]->name, f->name) == 0) {
      google__protobuf__file_descriptor_proto__free_unpacked(f, NULL);
      return;
    }
  fs->f[fs->n++] = f;
}

static void fileset_add_desc(fileset *fs, const weft_file_desc *d) {
  for (unsigned i = 0; i < d->n_deps; i++)
    fileset_add_desc(fs, d->deps[i]);
  fileset_add_bytes(fs, d->serialized, d->serialized_len);
}

static void fileset_free(fileset *fs) {
  for (size_t i = 0; i < fs->n; i++)
    google__protobuf__file_descriptor_proto__free_unpacked(fs->f[i], NULL);
}

static int load_descriptor_set(fileset *fs, const char *path) {
  size_t len;
  char at[1100];
  snprintf(at, sizeof at, "@%s", path);
  char *buf = cli_read_data(at, &len);
  if (!buf)
    return CLI_USAGE;
  Google__Protobuf__FileDescriptorSet *set =
      google__protobuf__file_descriptor_set__unpack(NULL, len, (uint8_t *)buf);
  free(buf);
  if (!set) {
    fprintf(stderr, "weft: %s is not a binary FileDescriptorSet\n", path);
    return CLI_USAGE;
  }
  for (size_t i = 0; i < set->n_file; i++) {
    size_t n =
        google__protobuf__file_descriptor_proto__get_packed_size(set->file[i]);
    uint8_t *p = malloc(n);
    if (p) {
      google__protobuf__file_descriptor_proto__pack(set->file[i], p);
      fileset_add_bytes(fs, p, n);
      free(p);
    }
  }
  google__protobuf__file_descriptor_set__free_unpacked(set, NULL);
  return CLI_OK;
}

static bool is_grpc(const char *url) {
  return !strstr(url, "://") || strncmp(url, "grpc://", 7) == 0 ||
         strncmp(url, "grpcs://", 8) == 0;
}

/* One reflection round trip: sends req, returns the response (or NULL). */
static grpc__reflection__v1alpha__ServerReflectionResponse *
reflect(weft_call *call,
        grpc__reflection__v1alpha__ServerReflectionRequest *req) {
  if (weft_call_send(call, req) < 0)
    return NULL;
  void *m = NULL;
  if (weft_call_recv(call, &m) != 1)
    return NULL;
  return m;
}

/* Fills fs through reflection: the service list, then each service's file
 * (file_containing_symbol returns the file and its dependencies). */
static int load_reflection(cli_opts *o, fileset *fs, char ***services,
                           size_t *n_services) {
  weft_client *c = NULL;
  int rc = cli_open(o, &c);
  if (rc != CLI_OK)
    return rc;
  weft_call *call = NULL;
  weft_call_opts co = {0};
  co.timeout_ms = o->max_time > 0 ? (int64_t)(o->max_time * 1000) : 10000;
  rc = CLI_LOCAL;
  if (grpc__reflection__v1alpha__ServerReflection_server_reflection_info(
          c, &call, &co) < 0)
    goto out;
  grpc__reflection__v1alpha__ServerReflectionRequest req;
  grpc__reflection__v1alpha__ServerReflectionRequest_init(&req);
  req.message_request_case = 7; /* list_services */
  req.list_services = (char *)"*";
  grpc__reflection__v1alpha__ServerReflectionResponse *resp =
      reflect(call, &req);
  if (!resp || resp->message_response_case != 6) {
    bool answered = resp != NULL;
    weft_message_free(resp);
    /* The call's own status first (UNAUTHENTICATED for a missing key):
     * cancelling before finish would replace it with CANCELLED. */
    if (answered)
      weft_call_cancel(call);
    weft_call_finish(call);
    if (!answered && co.status.code != WEFT_STATUS_OK &&
        co.status.code != WEFT_STATUS_UNIMPLEMENTED) {
      rc = cli_status_exit(&co.status);
    } else {
      fprintf(stderr, "weft: the server does not answer gRPC reflection%s%s\n",
              co.status.message ? ": " : "",
              co.status.message ? co.status.message : "");
    }
    weft_status_clear(&co.status);
    goto out;
  }
  grpc__reflection__v1alpha__ListServiceResponse *ls =
      resp->list_services_response;
  *n_services = ls->n_service;
  *services = calloc(ls->n_service + 1, sizeof **services);
  for (size_t i = 0; i < ls->n_service; i++) {
    (*services)[i] = strdup(ls->service[i]->name);
    grpc__reflection__v1alpha__ServerReflectionRequest r2;
    grpc__reflection__v1alpha__ServerReflectionRequest_init(&r2);
    r2.message_request_case = 4; /* file_containing_symbol */
    r2.file_containing_symbol = ls->service[i]->name;
    grpc__reflection__v1alpha__ServerReflectionResponse *fr =
        reflect(call, &r2);
    if (fr && fr->message_response_case == 4)
      for (size_t k = 0;
           k < fr->file_descriptor_response->n_file_descriptor_proto; k++)
        fileset_add_bytes(
            fs, fr->file_descriptor_response->file_descriptor_proto[k].data,
            fr->file_descriptor_response->file_descriptor_proto[k].len);
    weft_message_free(fr);
  }
  weft_message_free(resp);
  weft_call_close_send(call);
  weft_call_finish(call);
  weft_status_clear(&co.status);
  rc = CLI_OK;
out:
  weft_client_close(c);
  return rc;
}

/* --proto FILE: protoc (already a weft dependency) turns the file and its
 * imports into a FileDescriptorSet, which we then read like
 * --descriptor-set. */
static int load_proto(fileset *fs, const char *file) {
  char tmpl[] = "/tmp/weft-proto-XXXXXX";
  int fd = mkstemp(tmpl);
  if (fd < 0)
    return CLI_LOCAL;
  close(fd);
  char dir[1024];
  snprintf(dir, sizeof dir, "%s", file);
  char *slash = strrchr(dir, '/');
  if (slash)
    *slash = '\0';
  else
    snprintf(dir, sizeof dir, ".");
  pid_t pid = fork();
  if (pid == 0) {
    char inc[1100], out[1100];
    snprintf(inc, sizeof inc, "-I%s", dir);
    snprintf(out, sizeof out, "--descriptor_set_out=%s", tmpl);
    /* google/api/annotations.proto (REST routes), which the AITBC schema
     * imports, when the build found it. */
    const char *gapi = "-I" WEFT_GOOGLEAPIS_PROTO_DIR;
    if (access(gapi + 2, R_OK) != 0)
      gapi = "-I/usr/include";
    execlp("protoc", "protoc", inc, "-I/usr/include", gapi, "--include_imports",
           out, file, (char *)NULL);
    _exit(127);
  }
  int st = 0;
  if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) ||
      WEXITSTATUS(st) != 0) {
    fprintf(stderr, "weft: protoc could not compile %s\n", file);
    unlink(tmpl);
    return CLI_USAGE;
  }
  int rc = load_descriptor_set(fs, tmpl);
  unlink(tmpl);
  return rc;
}

/* Loads the right source for the command line. services: what to list. */
static int load(cli_opts *o, fileset *fs, char ***services, size_t *n) {
  *services = NULL;
  *n = 0;
  if (o->proto_file)
    return load_proto(fs, o->proto_file);
  if (o->descriptor_set)
    return load_descriptor_set(fs, o->descriptor_set);
  if (o->url && is_grpc(o->url) && strcmp(o->url, "-") != 0)
    return load_reflection(o, fs, services, n);
  /* tcp://, ws:// and h2c:// servers have no reflection service: say whose
   * list this is, so nobody takes it for the server's. */
  if (o->url && strcmp(o->url, "-") != 0)
    fprintf(stderr,
            "weft: %.*s:// servers cannot list their services (only gRPC "
            "reflection can): showing the services compiled into weft\n",
            (int)(strstr(o->url, "://") - o->url), o->url);
  for (const weft_file_desc *const *f = weft_cli_files; *f; f++)
    fileset_add_desc(fs, *f);
  return CLI_OK;
}

/* For `weft call` on methods weft was not compiled with: the files of
 * --proto, --descriptor-set or gRPC reflection, as run-time descriptors. */
int cli_load_dyn(cli_opts *o, weft_dyn_set **out) {
  fileset fs = {0};
  char **services;
  size_t n;
  int rc = load(o, &fs, &services, &n);
  for (size_t i = 0; services && i < n; i++)
    free(services[i]);
  free(services);
  if (rc == CLI_OK) {
    weft_error err = {0};
    const char *src = o->proto_file       ? o->proto_file
                      : o->descriptor_set ? o->descriptor_set
                                          : "gRPC reflection";
    if (weft_dyn_build_files(
            (const Google__Protobuf__FileDescriptorProto *const *)fs.f, fs.n,
            out, &err) < 0) {
      fprintf(stderr, "weft: descriptors from %s: %s\n", src, err.message);
      rc = CLI_USAGE;
    }
  }
  fileset_free(&fs);
  return rc;
}

static void each_service(fileset *fs,
                         void (*fn)(const char *pkg,
                                    Google__Protobuf__ServiceDescriptorProto *,
                                    void *),
                         void *ud) {
  for (size_t i = 0; i < fs->n; i++)
    for (size_t s = 0; s < fs->f[i]->n_service; s++)
      fn(fs->f[i]->package ? fs->f[i]->package : "", fs->f[i]->service[s], ud);
}

static void print_name(const char *pkg,
                       Google__Protobuf__ServiceDescriptorProto *s, void *ud) {
  (void)ud;
  printf("%s%s%s\n", pkg, *pkg ? "." : "", s->name);
}

int cli_list(int argc, char **argv) {
  cli_opts o;
  char *pos[1];
  int npos;
  if (cli_parse(argc, argv, &o, &npos, pos, 1, list_usage) < 0)
    return CLI_USAGE;
  o.url = npos ? pos[0] : "-";
  fileset fs = {0};
  char **services;
  size_t n;
  int rc = load(&o, &fs, &services, &n);
  if (rc == CLI_OK) {
    if (services) {
      for (size_t i = 0; i < n; i++)
        printf("%s\n", services[i]);
    } else {
      each_service(&fs, print_name, NULL);
    }
  }
  for (size_t i = 0; services && i < n; i++)
    free(services[i]);
  free(services);
  fileset_free(&fs);
  cli_free(&o);
  return rc;
}

/* ---- describe ------------------------------------------------------- */

/* Type references are printed fully qualified (".pkg.Msg"), so the
 * output means the same thing wherever it is pasted. */
static const char *type_name(Google__Protobuf__FieldDescriptorProto *f) {
  static const char *const names[] = {
      "?",        "double",   "float",   "int64",  "uint64",
      "int32",    "fixed64",  "fixed32", "bool",   "string",
      "group",    "message",  "bytes",   "uint32", "enum",
      "sfixed32", "sfixed64", "sint32",  "sint64"};
  if (f->type_name)
    return f->type_name;
  return f->type < 19 ? names[f->type] : "?";
}

/* The map entry type a field refers to, if it is a map field. */
static Google__Protobuf__DescriptorProto *
map_entry(Google__Protobuf__DescriptorProto *m,
          Google__Protobuf__FieldDescriptorProto *f) {
  if (f->label !=
          GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED ||
      !f->type_name)
    return NULL;
  const char *dot = strrchr(f->type_name, '.');
  if (!dot)
    return NULL;
  for (size_t i = 0; i < m->n_nested_type; i++) {
    Google__Protobuf__DescriptorProto *n = m->nested_type[i];
    if (n->options && n->options->map_entry && n->n_field == 2 &&
        strcmp(n->name, dot + 1) == 0)
      return n;
  }
  return NULL;
}

static void print_quoted(const char *v) {
  putchar('"');
  for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
    if (*p == '"' || *p == '\\')
      printf("\\%c", *p);
    else if (*p < 0x20 || *p == 0x7f)
      printf("\\%03o", *p);
    else
      putchar(*p);
  }
  putchar('"');
}

/* [default = ...], [packed = ...], [deprecated = true], [json_name = ...]
 * where the descriptor has them. */
static void print_field_options(Google__Protobuf__FieldDescriptorProto *f) {
  int n = 0;
  if (f->default_value) {
    printf(" [default = ");
    if (f->type == GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_STRING)
      print_quoted(f->default_value);
    else if (f->type ==
             GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_BYTES)
      printf("\"%s\"", f->default_value); /* already C-escaped */
    else
      printf("%s", f->default_value);
    n++;
  }
  Google__Protobuf__FieldOptions *o = f->options;
  if (o && o->has_packed) {
    printf("%spacked = %s", n++ ? ", " : " [", o->packed ? "true" : "false");
  }
  if (o && o->has_deprecated && o->deprecated)
    printf("%sdeprecated = true", n++ ? ", " : " [");
  if (n)
    printf("]");
}

static void print_field(Google__Protobuf__DescriptorProto *m,
                        Google__Protobuf__FieldDescriptorProto *f, bool proto2,
                        bool in_oneof, int ind) {
  Google__Protobuf__DescriptorProto *me = map_entry(m, f);
  if (me) {
    printf("%*smap<%s, %s> %s = %d", ind, "", type_name(me->field[0]),
           type_name(me->field[1]), f->name, f->number);
  } else {
    const char *label = "";
    if (f->label ==
        GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED)
      label = "repeated ";
    else if (f->has_proto3_optional && f->proto3_optional)
      label = "optional ";
    else if (f->label ==
             GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REQUIRED)
      label = "required ";
    else if (proto2 && !in_oneof)
      label = "optional ";
    printf("%*s%s%s %s = %d", ind, "", label, type_name(f), f->name, f->number);
  }
  print_field_options(f);
  printf(";\n");
}

/* A oneof that is not the synthetic one of a proto3 optional field. */
static bool real_oneof(Google__Protobuf__FieldDescriptorProto *f) {
  return f->has_oneof_index && !(f->has_proto3_optional && f->proto3_optional);
}

static void print_enum(Google__Protobuf__EnumDescriptorProto *e, int ind) {
  printf("%*senum %s {\n", ind, "", e->name);
  if (e->options && e->options->has_allow_alias && e->options->allow_alias)
    printf("%*s  option allow_alias = true;\n", ind, "");
  for (size_t v = 0; v < e->n_value; v++)
    printf("%*s  %s = %d;\n", ind, "", e->value[v]->name, e->value[v]->number);
  printf("%*s}\n", ind, "");
}

/* In .proto syntax that protoc compiles back to the same descriptor:
 * map<K, V> for map fields, oneof blocks, proto3 optional, proto2 labels
 * and defaults. */
static void print_message(Google__Protobuf__DescriptorProto *m, bool proto2,
                          int ind) {
  printf("%*smessage %s {\n", ind, "", m->name);
  for (size_t i = 0; i < m->n_nested_type; i++)
    if (!(m->nested_type[i]->options && m->nested_type[i]->options->map_entry))
      print_message(m->nested_type[i], proto2, ind + 2);
  for (size_t i = 0; i < m->n_enum_type; i++)
    print_enum(m->enum_type[i], ind + 2);
  for (size_t i = 0; i < m->n_field; i++) {
    Google__Protobuf__FieldDescriptorProto *f = m->field[i];
    if (!real_oneof(f)) {
      print_field(m, f, proto2, false, ind + 2);
      continue;
    }
    int k = f->oneof_index;
    if (k >= (int)m->n_oneof_decl)
      continue;
    /* The whole oneof where its first field stands; later fields of it
     * were printed with it. */
    bool first = true;
    for (size_t j = 0; j < i; j++)
      if (real_oneof(m->field[j]) && m->field[j]->oneof_index == k)
        first = false;
    if (!first)
      continue;
    printf("%*soneof %s {\n", ind + 2, "", m->oneof_decl[k]->name);
    for (size_t j = i; j < m->n_field; j++)
      if (real_oneof(m->field[j]) && m->field[j]->oneof_index == k)
        print_field(m, m->field[j], proto2, true, ind + 4);
    printf("%*s}\n", ind + 2, "");
  }
  for (size_t i = 0; i < m->n_reserved_range; i++) {
    Google__Protobuf__DescriptorProto__ReservedRange *r = m->reserved_range[i];
    if (r->end - 1 == r->start)
      printf("%*sreserved %d;\n", ind + 2, "", r->start);
    else
      printf("%*sreserved %d to %d;\n", ind + 2, "", r->start, r->end - 1);
  }
  for (size_t i = 0; i < m->n_reserved_name; i++)
    printf("%*sreserved \"%s\";\n", ind + 2, "", m->reserved_name[i]);
  printf("%*s}\n", ind, "");
}

typedef struct finder {
  const char *name;
  bool found;
} finder;

static bool name_is(const char *want, const char *pkg, const char *a,
                    const char *b) {
  char full[512];
  snprintf(full, sizeof full, "%s%s%s%s%s", pkg, *pkg ? "." : "", a,
           b ? "." : "", b ? b : "");
  return strcmp(want, full) == 0;
}

static void describe_in(fileset *fs, finder *fd) {
  for (size_t i = 0; i < fs->n; i++) {
    Google__Protobuf__FileDescriptorProto *f = fs->f[i];
    const char *pkg = f->package ? f->package : "";
    for (size_t s = 0; s < f->n_service; s++) {
      Google__Protobuf__ServiceDescriptorProto *sv = f->service[s];
      bool whole = name_is(fd->name, pkg, sv->name, NULL);
      for (size_t k = 0; k < sv->n_method; k++) {
        Google__Protobuf__MethodDescriptorProto *m = sv->method[k];
        if (!whole && !name_is(fd->name, pkg, sv->name, m->name))
          continue;
        if (!whole || k == 0) {
          if (whole)
            printf("// %s\nservice %s {\n", f->name, sv->name);
          fd->found = true;
        }
        printf("%srpc %s(%s%s) returns (%s%s);\n", whole ? "  " : "", m->name,
               m->client_streaming ? "stream " : "", m->input_type,
               m->server_streaming ? "stream " : "", m->output_type);
      }
      if (whole) {
        if (sv->n_method == 0)
          printf("service %s {\n", sv->name);
        printf("}\n");
        fd->found = true;
      }
    }
    for (size_t k = 0; k < f->n_message_type; k++)
      if (name_is(fd->name, pkg, f->message_type[k]->name, NULL)) {
        printf("// %s\n", f->name);
        print_message(f->message_type[k],
                      f->syntax && strcmp(f->syntax, "proto2") == 0, 0);
        fd->found = true;
      }
    for (size_t k = 0; k < f->n_enum_type; k++)
      if (name_is(fd->name, pkg, f->enum_type[k]->name, NULL)) {
        printf("// %s\n", f->name);
        print_enum(f->enum_type[k], 0);
        fd->found = true;
      }
  }
}

int cli_describe(int argc, char **argv) {
  cli_opts o;
  char *pos[2];
  int npos;
  if (cli_parse(argc, argv, &o, &npos, pos, 2, describe_usage) < 0)
    return CLI_USAGE;
  if (npos != 2) {
    fputs(describe_usage, stderr);
    cli_free(&o);
    return CLI_USAGE;
  }
  o.url = pos[0];
  fileset fs = {0};
  char **services;
  size_t n;
  int rc = load(&o, &fs, &services, &n);
  for (size_t i = 0; services && i < n; i++)
    free(services[i]);
  free(services);
  if (rc == CLI_OK) {
    /* "pkg.Svc/Method" and "/pkg.Svc/Method", as weft call takes them. */
    char name[512];
    snprintf(name, sizeof name, "%s",
             pos[1][0] == '.' || pos[1][0] == '/' ? pos[1] + 1 : pos[1]);
    char *slash = strrchr(name, '/');
    if (slash)
      *slash = '.';
    finder fd = {name, false};
    describe_in(&fs, &fd);
    if (!fd.found) {
      fprintf(stderr, "weft: no service, method, message or enum named %s\n",
              pos[1]);
      rc = CLI_USAGE;
    }
  }
  fileset_free(&fs);
  cli_free(&o);
  return rc;
}
