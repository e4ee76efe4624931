/* protoc-gen-weft: protoc runs this with a CodeGeneratorRequest on stdin and
 * reads a CodeGeneratorResponse from stdout. For every file to generate it
 * writes <path>.weft.h and <path>.weft.c (see docs/NAMING.md).
 *
 * Errors in the .proto input (a naming clash, an unsupported syntax) go into
 * CodeGeneratorResponse.error, which protoc prints and turns into a failing
 * exit status; only I/O problems make the plugin itself exit non-zero. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"

typedef Google__Protobuf__Compiler__CodeGeneratorRequest gen_request;
typedef Google__Protobuf__Compiler__CodeGeneratorResponse gen_response;
typedef Google__Protobuf__Compiler__CodeGeneratorResponse__File gen_out_file;

static uint8_t *read_all(FILE *in, size_t *len) {
  size_t cap = 1 << 16, n = 0;
  uint8_t *buf = malloc(cap);
  while (buf != NULL) {
    size_t r = fread(buf + n, 1, cap - n, in);
    n += r;
    if (r == 0)
      break;
    if (n == cap) {
      uint8_t *nb = realloc(buf, cap * 2);
      if (nb == NULL) {
        free(buf);
        return NULL;
      }
      buf = nb;
      cap *= 2;
    }
  }
  if (buf != NULL && ferror(in)) {
    free(buf);
    return NULL;
  }
  *len = n;
  return buf;
}

static gen_out_file *out_file(const char *name, char *content) {
  gen_out_file *o = gen_alloc(sizeof(*o));
  google__protobuf__compiler__code_generator_response__file__init(o);
  o->name = gen_strdup(name);
  o->content = content;
  return o;
}

int main(int argc, char **argv) {
  (void)argc;
  (void)argv;
  size_t len = 0;
  uint8_t *data = read_all(stdin, &len);
  if (data == NULL) {
    fputs("protoc-gen-weft: cannot read the request from stdin\n", stderr);
    return 1;
  }
  gen_request *req = google__protobuf__compiler__code_generator_request__unpack(
      NULL, len, data);
  free(data);
  if (req == NULL) {
    fputs("protoc-gen-weft: stdin is not a CodeGeneratorRequest (run me "
          "through protoc --plugin)\n",
          stderr);
    return 1;
  }

  gen_response resp;
  google__protobuf__compiler__code_generator_response__init(&resp);
  resp.has_supported_features = 1;
  resp.supported_features =
      GOOGLE__PROTOBUF__COMPILER__CODE_GENERATOR_RESPONSE__FEATURE__FEATURE_PROTO3_OPTIONAL;

  gen_out_file **files =
      gen_alloc((2 * req->n_file_to_generate + 1) * sizeof(*files));
  size_t n_files = 0;
  if (model_build(req) == 0) {
    for (size_t i = 0; i < req->n_file_to_generate; i++) {
      const gen_file *f = model_file(req->file_to_generate[i]);
      if (f == NULL) {
        gen_fail("%s: not in the request", req->file_to_generate[i]);
        break;
      }
      char *h = emit_header(f);
      char *c = emit_source(f);
      files[n_files++] = out_file(gen_fmt("%s.weft.h", f->stem), h);
      files[n_files++] = out_file(gen_fmt("%s.weft.c", f->stem), c);
    }
  }
  if (gen_error() != NULL) {
    resp.error = (char *)gen_error();
  } else {
    resp.n_file = n_files;
    resp.file = files;
  }

  size_t out_len = protobuf_c_message_get_packed_size(&resp.base);
  uint8_t *out = malloc(out_len ? out_len : 1);
  int rc = 0;
  if (out == NULL) {
    fputs("protoc-gen-weft: out of memory\n", stderr);
    rc = 1;
  } else {
    protobuf_c_message_pack(&resp.base, out);
    if (fwrite(out, 1, out_len, stdout) != out_len || fflush(stdout) != 0) {
      fputs("protoc-gen-weft: cannot write the response\n", stderr);
      rc = 1;
    }
  }
  free(out);
  google__protobuf__compiler__code_generator_request__free_unpacked(req, NULL);
  gen_pool_free();
  return rc;
}
