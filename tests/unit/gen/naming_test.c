/* The naming rule from C (docs/NAMING.md): a.Foo, a.b.Foo and a.b_c.Foo in
 * one program, members named after keywords and quantifiers, escaped
 * service members. Packs with protobuf-c and unpacks again to prove the
 * tables point at the right members. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "a/b/foo.weft.h"
#include "a/b_c/foo.weft.h"
#include "a/foo.weft.h"

static int failures;
#define CHECK(c)                                                               \
  do {                                                                         \
    if (!(c)) {                                                                \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c);    \
      failures++;                                                              \
    }                                                                          \
  } while (0)

static int handler(weft_server_call *call, const a__Foo *req, a__Foo *resp,
                   void *ctx) {
  (void)call;
  (void)ctx;
  resp->int_ = req->int_ + 1;
  return 0;
}

int main(void) {
  a__Foo f = a__Foo_INIT;
  a__b__Foo g = a__b__Foo_INIT;
  a__b_1c__Foo h = a__b_1c__Foo_INIT;
  a__Foo__Bar bar = a__Foo__Bar_INIT;
  a__Foo_1Bar flat = a__Foo_1Bar_INIT;
  int32_t nx[2] = {4, 5};

  CHECK(strcmp(a__Foo_desc.base.name, "a.Foo") == 0);
  CHECK(strcmp(a__b__Foo_desc.base.name, "a.b.Foo") == 0);
  CHECK(strcmp(a__b_1c__Foo_desc.base.name, "a.b_c.Foo") == 0);
  CHECK(strcmp(a__Foo__Bar_desc.base.name, "a.Foo.Bar") == 0);
  CHECK(strcmp(a__Foo_1Bar_desc.base.name, "a.Foo_Bar") == 0);
  CHECK(strcmp(a__foo_proto.name, "a/foo.proto") == 0);
  CHECK(strcmp(a__b__foo_proto.name, "a/b/foo.proto") == 0);
  CHECK(strcmp(a__b_1c__foo_proto.name, "a/b_c/foo.proto") == 0);
  CHECK(a__b__foo_proto.n_deps == 1 &&
        a__b__foo_proto.deps[0] == &a__foo_proto);

  f.int_ = 1;
  f.struct_ = "s";
  f.case__case = 3;
  f.default_ = 9;
  f.has_has_x_ = 1;
  f.has_x_ = 0; /* present although zero */
  f.has_x = 1;
  f.x = 6;
  f.n_n_x_ = 2;
  f.n_x_ = nx;
  f.base_ = 8;
  f.class_ = "c";
  f.y__ = 10;
  bar.v = 11;
  f.bar = &bar;
  flat.w = 12;
  f.flat = &flat;
  f.errno_ = 1;
  f.linux_ = 1;
  g.v = 2;
  g.other = &f;
  g.kind = a__Kind__KIND_ONE;
  h.has_int_ = 1;
  h.int_ = 3;
  CHECK(strcmp(h.default_, "dflt") == 0);
  CHECK(h.default_ == a__b_1c__Foo_default_default_);

  size_t n = protobuf_c_message_get_packed_size(&g.base);
  uint8_t *buf = malloc(n);
  CHECK(protobuf_c_message_pack(&g.base, buf) == n);
  a__b__Foo *back = (a__b__Foo *)protobuf_c_message_unpack(&a__b__Foo_desc.base,
                                                           NULL, n, buf);
  CHECK(back != NULL);
  if (back != NULL) {
    const a__Foo *o = back->other;
    CHECK(back->v == 2 && back->kind == a__Kind__KIND_ONE && o != NULL);
    CHECK(o->int_ == 1 && strcmp(o->struct_, "s") == 0);
    CHECK(o->case__case == 3 && o->default_ == 9);
    CHECK(o->has_has_x_ && o->has_x_ == 0 && o->has_x && o->x == 6);
    CHECK(o->n_n_x_ == 2 && o->n_x_[1] == 5);
    CHECK(o->base_ == 8 && strcmp(o->class_, "c") == 0 && o->y__ == 10);
    CHECK(o->bar && o->bar->v == 11 && o->flat && o->flat->w == 12);
    CHECK(o->errno_ && o->linux_);
    protobuf_c_message_free_unpacked(&back->base, NULL);
  }
  free(buf);

  /* An unset proto2 string with a default is not packed. */
  h.has_int_ = 0;
  CHECK(protobuf_c_message_get_packed_size(&h.base) == 0);

  /* Service: escaped members, stubs, invoke thunks. */
  a__Naming_impl impl = {0};
  impl.delete_ = handler;
  const weft_service_desc *s = &a__Naming_service;
  CHECK(s->n_methods == 4);
  CHECK(strcmp(s->methods[0].path, "/a.Naming/Delete") == 0);
  CHECK(strcmp(s->methods[1].name, "GetHTTPStatus") == 0);
  CHECK(s->methods[2].kind == WEFT_RPC_SERVER_STREAM);
  CHECK(s->methods[3].kind == WEFT_RPC_CLIENT_STREAM);
  a__Foo req = a__Foo_INIT, resp = a__Foo_INIT;
  req.int_ = 41;
  CHECK(s->methods[0].invoke(&impl, NULL, &req, &resp, NULL) == 0);
  CHECK(resp.int_ == 42);
  CHECK(s->methods[1].invoke(&impl, NULL, &req, &resp, NULL) ==
        WEFT_STATUS_UNIMPLEMENTED);
  int (*stub)(weft_client *, const a__Foo *, a__Foo **, weft_call_opts *) =
      a__Naming_delete_;
  int (*stub2)(weft_client *, weft_call **, weft_call_opts *) = a__Naming_new_;
  CHECK(stub != NULL && stub2 != NULL && a__Naming_get_http_status != NULL &&
        a__Naming_list_v2 != NULL);

  if (failures)
    return 1;
  puts("naming ok");
  return 0;
}
