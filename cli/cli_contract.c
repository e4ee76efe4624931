/* weft contract check: does a schema still serve what a consumer relies
 * on? A contract (docs/CONTRACTS.md) lists interactions: a method, its
 * streaming kind, an example request and response in proto3 JSON, and the
 * response fields the consumer reads. Each is checked against the schema's
 * run-time descriptors (weft/dyndesc.h) with the JSON codec: strict, so a
 * renamed or retyped field is an unknown field or a type error naming its
 * path. */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_exact.h"
#include "cli.h"
#include "weft/codec.h"
#include "weft/dyndesc.h"
#include "weft/json.h"

enum { CLI_CONTRACT_BROKEN = 100 };

static const char usage[] =
    "usage: weft contract check CONTRACT --against SCHEMA [-I DIR]...\n"
    "  Checks every interaction of CONTRACT (JSON, docs/CONTRACTS.md)\n"
    "  against SCHEMA: a folder of .proto files, a .proto file, a binary\n"
    "  FileDescriptorSet or git:REV[:SUBDIR], as `weft breaking` reads it.\n"
    "  The method must exist with the contract's streaming kind, the\n"
    "  example request and response must be valid proto3 JSON of its types\n"
    "  (unknown fields are errors), and every path in `reads` must name a\n"
    "  field of the response.\n"
    "  --format text|json   one line per broken expectation\n"
    "exit codes: 0 the schema honours the contract, 100 it breaks it, 2\n"
    "usage, an unreadable contract or schema, 4 local failure.\n"
    "also: weft contract verify URL CONTRACT...  (replay against a provider)\n"
    "      weft contract mock CONTRACT...        (serve as a stub provider)\n"
    "      weft contract record --upstream URL --listen URL --out FILE\n"
    "                                            (record through a proxy)\n"
    "      each with --help\n";

static const char *const kinds[] = {"unary", "server_stream", "client_stream",
                                    "bidi"};

typedef struct report {
  const char *contract;
  bool json;
  int broken;
} report;

static void json_str(const char *s) {
  putchar('"');
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\')
      printf("\\%c", ch);
    else if (ch < 0x20)
      printf("\\u%04x", ch);
    else
      putchar(ch);
  }
  putchar('"');
}

static void broken(report *r, int idx, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void broken(report *r, int idx, const char *name, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  r->broken++;
  if (r->json) {
    printf("{\"contract\":");
    json_str(r->contract);
    printf(",\"interaction\":%d,\"name\":", idx);
    json_str(name);
    printf(",\"message\":");
    json_str(msg);
    printf("}\n");
  } else {
    printf("%s: interaction %d \"%s\": %s\n", r->contract, idx, name, msg);
  }
}

/* Decodes an example (a JSON value of the contract) as message type d. */
static void check_example(report *r, int idx, const char *name,
                          const char *what, const cJSON *ex,
                          const weft_msg_desc *d, const weft_dyn_set *set) {
  if (!ex)
    return;
  char *text = weft__jx_print(ex, false); /* numbers as written */
  if (!text) {
    broken(r, idx, name, "%s: cannot print the example", what);
    return;
  }
  weft_json_opts jo = {0};
  jo.registry = weft_dyn_registry(set);
  void *msg = NULL;
  weft_error err = {0};
  if (weft_json_decode(d, text, strlen(text), &jo, &msg, &err) < 0)
    broken(r, idx, name, "%s is not a valid %s: %s", what, d->base.name,
           err.message);
  else
    weft_message_free(msg);
  cJSON_free(text);
}

/* A field of d by proto or JSON name. */
static int find_field(const weft_msg_desc *d, const char *name, size_t len) {
  for (unsigned i = 0; i < d->base.n_fields; i++) {
    const char *pn = d->base.fields[i].name;
    const char *jn = d->field_info[i].json_name;
    if ((strlen(pn) == len && !strncmp(pn, name, len)) ||
        (jn && strlen(jn) == len && !strncmp(jn, name, len)))
      return (int)i;
  }
  return -1;
}

/* "job.state": each segment a field of the message the previous one holds
 * (through repeated fields, and through maps to their values). */
static void check_read(report *r, int idx, const char *name,
                       const weft_msg_desc *d, const char *path) {
  const char *seg = path;
  while (*seg) {
    const char *dot = strchr(seg, '.');
    size_t len = dot ? (size_t)(dot - seg) : strlen(seg);
    int f = d ? find_field(d, seg, len) : -1;
    if (f < 0) {
      broken(r, idx, name, "reads \"%s\": %s has no field \"%.*s\"", path,
             d ? d->base.name : "a scalar", (int)len, seg);
      return;
    }
    const ProtobufCFieldDescriptor *fd = &d->base.fields[f];
    const weft_msg_desc *next = NULL;
    if (fd->type == PROTOBUF_C_TYPE_MESSAGE) {
      next = fd->descriptor;
      if (next && next->is_map_entry) {
        const ProtobufCFieldDescriptor *v = &next->base.fields[1];
        next = v->type == PROTOBUF_C_TYPE_MESSAGE ? v->descriptor : NULL;
      }
    }
    d = next;
    if (!dot)
      return;
    seg = dot + 1;
  }
}

static int check_set(const char *contract, const weft_dyn_set *set, bool json,
                     int *n_broken);

static int check(const char *contract, const char *schema,
                 const char *const *inc, size_t n_inc, bool json) {
  uint8_t *data = NULL;
  size_t len = 0;
  int rc = cli_load_schema(schema, inc, n_inc, &data, &len);
  weft_dyn_set *set = NULL;
  weft_error err = {0};
  if (rc == CLI_OK && weft_dyn_build(data, len, &set, &err) < 0) {
    fprintf(stderr, "weft: %s: %s\n", schema, err.message);
    rc = CLI_USAGE;
  }
  free(data);
  int broken = 0;
  if (rc == CLI_OK)
    rc = check_set(contract, set, json, &broken);
  weft_dyn_free(set);
  if (rc != CLI_OK)
    return rc;
  return broken ? CLI_CONTRACT_BROKEN : CLI_OK;
}

int cli_contract_check_set(const char *contract, const weft_dyn_set *set,
                           bool json, int *n_broken) {
  return check_set(contract, set, json, n_broken);
}

static int check_set(const char *contract, const weft_dyn_set *set, bool json,
                     int *n_broken) {
  *n_broken = 0;
  FILE *f = fopen(contract, "rb");
  if (!f) {
    perror(contract);
    return CLI_USAGE;
  }
  char *text = NULL;
  size_t cap = 0, n = 0;
  for (;;) {
    if (n + 4096 + 1 > cap) {
      char *nt = realloc(text, cap = cap ? cap * 2 : 8192);
      if (!nt) {
        free(text);
        fclose(f);
        return CLI_LOCAL;
      }
      text = nt;
    }
    size_t got = fread(text + n, 1, cap - n - 1, f);
    n += got;
    if (!got)
      break;
  }
  fclose(f);
  text[n] = 0;
  cJSON *root = NULL;
  weft__jx_parse(&root, text, n, "contract", NULL); /* numbers as written */
  free(text);
  const cJSON *list =
      root ? cJSON_GetObjectItemCaseSensitive(root, "interactions") : NULL;
  if (!cJSON_IsArray(list)) {
    fprintf(stderr, "weft: %s: %s\n", contract,
            root ? "no \"interactions\" array"
                 : "not JSON (see docs/CONTRACTS.md)");
    cJSON_Delete(root);
    return CLI_USAGE;
  }
  int rc = CLI_OK;
  report r = {contract, json, 0};
  int idx = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, list) {
    const cJSON *jn = cJSON_GetObjectItemCaseSensitive(it, "name");
    const cJSON *jm = cJSON_GetObjectItemCaseSensitive(it, "method");
    const cJSON *jk = cJSON_GetObjectItemCaseSensitive(it, "kind");
    const char *name = cJSON_IsString(jn) ? jn->valuestring : "";
    if (!cJSON_IsString(jm)) {
      fprintf(stderr, "weft: %s: interaction %d has no \"method\"\n", contract,
              idx);
      rc = CLI_USAGE;
      break;
    }
    const weft_method_desc *m = weft_dyn_find_method(set, jm->valuestring);
    if (!m) {
      broken(&r, idx, name, "method %s is not in the schema", jm->valuestring);
      idx++;
      continue;
    }
    if (cJSON_IsString(jk)) {
      int want = -1;
      for (int k = 0; k < 4; k++)
        if (!strcmp(jk->valuestring, kinds[k]))
          want = k;
      if (want < 0) {
        fprintf(stderr,
                "weft: %s: interaction %d: kind \"%s\" is not one "
                "of unary, server_stream, client_stream, bidi\n",
                contract, idx, jk->valuestring);
        rc = CLI_USAGE;
        break;
      }
      if (want != m->kind)
        broken(&r, idx, name, "%s is %s, the contract expects %s",
               jm->valuestring, kinds[m->kind & 3], kinds[want]);
    }
    check_example(&r, idx, name, "request",
                  cJSON_GetObjectItemCaseSensitive(it, "request"), m->input,
                  set);
    check_example(&r, idx, name, "response",
                  cJSON_GetObjectItemCaseSensitive(it, "response"), m->output,
                  set);
    const cJSON *reads = cJSON_GetObjectItemCaseSensitive(it, "reads");
    const cJSON *p;
    cJSON_ArrayForEach(p, reads) {
      if (cJSON_IsString(p))
        check_read(&r, idx, name, m->output, p->valuestring);
    }
    idx++;
  }
  cJSON_Delete(root);
  *n_broken = r.broken;
  return rc;
}

int cli_contract(int argc, char **argv) {
  if (argc < 1 || strcmp(argv[0], "check")) {
    if (argc >= 1 && (!strcmp(argv[0], "-h") || !strcmp(argv[0], "--help"))) {
      fputs(usage, stdout);
      return CLI_OK;
    }
    fputs(usage, stderr);
    return CLI_USAGE;
  }
  const char *contract = NULL, *schema = NULL;
  const char *inc[32];
  size_t n_inc = 0;
  bool json = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      fputs(usage, stdout);
      return CLI_OK;
    } else if (!strcmp(a, "--against") && v) {
      schema = v;
      i++;
    } else if ((!strcmp(a, "-I") || !strcmp(a, "--include")) && v &&
               n_inc < 32) {
      inc[n_inc++] = v;
      i++;
    } else if (!strncmp(a, "-I", 2) && a[2] && n_inc < 32) {
      inc[n_inc++] = a + 2;
    } else if (!strcmp(a, "--format") && v &&
               (!strcmp(v, "json") || !strcmp(v, "text"))) {
      json = !strcmp(v, "json");
      i++;
    } else if (a[0] != '-' && !contract) {
      contract = a;
    } else {
      fputs(usage, stderr);
      return CLI_USAGE;
    }
  }
  if (!contract || !schema) {
    fputs(usage, stderr);
    return CLI_USAGE;
  }
  return check(contract, schema, inc, n_inc, json);
}
