/* Rules on files and packages: deleted files, types deleted from a file or
 * a package, and file-level settings (package, syntax, options). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "brk_internal.h"

typedef Google__Protobuf__FileOptions brk_fopts;
/* A file's options, or protobuf's defaults (in *dflt) when it has none.
 * The init function, not the INIT macro, which names deprecated members. */
static const brk_fopts *fopts(const brk_file *f, brk_fopts *dflt) {
  if (f->d->options)
    return f->d->options;
  google__protobuf__file_options__init(dflt);
  return dflt;
}

static const struct {
  int rule;
  const char *name;
  int32_t tag;
  size_t off;
} str_opts[] = {
    {BRK_FILE_SAME_JAVA_PACKAGE, "java_package", 1,
     offsetof(brk_fopts, java_package)},
    {BRK_FILE_SAME_JAVA_OUTER_CLASSNAME, "java_outer_classname", 8,
     offsetof(brk_fopts, java_outer_classname)},
    {BRK_FILE_SAME_GO_PACKAGE, "go_package", 11,
     offsetof(brk_fopts, go_package)},
    {BRK_FILE_SAME_OBJC_CLASS_PREFIX, "objc_class_prefix", 36,
     offsetof(brk_fopts, objc_class_prefix)},
    {BRK_FILE_SAME_CSHARP_NAMESPACE, "csharp_namespace", 37,
     offsetof(brk_fopts, csharp_namespace)},
    {BRK_FILE_SAME_SWIFT_PREFIX, "swift_prefix", 39,
     offsetof(brk_fopts, swift_prefix)},
    {BRK_FILE_SAME_PHP_CLASS_PREFIX, "php_class_prefix", 40,
     offsetof(brk_fopts, php_class_prefix)},
    {BRK_FILE_SAME_PHP_NAMESPACE, "php_namespace", 41,
     offsetof(brk_fopts, php_namespace)},
    {BRK_FILE_SAME_PHP_METADATA_NAMESPACE, "php_metadata_namespace", 44,
     offsetof(brk_fopts, php_metadata_namespace)},
    {BRK_FILE_SAME_RUBY_PACKAGE, "ruby_package", 45,
     offsetof(brk_fopts, ruby_package)},
};

static const struct {
  int rule;
  const char *name;
  int32_t tag;
  size_t off;
} bool_opts[] = {
    {BRK_FILE_SAME_JAVA_MULTIPLE_FILES, "java_multiple_files", 10,
     offsetof(brk_fopts, java_multiple_files)},
    {BRK_FILE_SAME_CC_GENERIC_SERVICES, "cc_generic_services", 16,
     offsetof(brk_fopts, cc_generic_services)},
    {BRK_FILE_SAME_JAVA_GENERIC_SERVICES, "java_generic_services", 17,
     offsetof(brk_fopts, java_generic_services)},
    {BRK_FILE_SAME_PY_GENERIC_SERVICES, "py_generic_services", 18,
     offsetof(brk_fopts, py_generic_services)},
    /* Unset reads as protobuf's default, true since protobuf 3.14. */
    {BRK_FILE_SAME_CC_ENABLE_ARENAS, "cc_enable_arenas", 31,
     offsetof(brk_fopts, cc_enable_arenas)},
};

static const char *optimize_name(int v) {
  switch (v) {
  case GOOGLE__PROTOBUF__FILE_OPTIONS__OPTIMIZE_MODE__CODE_SIZE:
    return "CODE_SIZE";
  case GOOGLE__PROTOBUF__FILE_OPTIONS__OPTIMIZE_MODE__LITE_RUNTIME:
    return "LITE_RUNTIME";
  default:
    return "SPEED";
  }
}

static const char *syntax_of(const brk_file *f) {
  const char *s = f->d->syntax;
  return s && *s ? s : "proto2";
}

static void file_pair(brk_ctx *c, const brk_file *nf, const brk_file *of) {
  static const brk_path root = {.n = 0};
  if (strcmp(nf->pkg, of->pkg)) {
    static const int32_t at[] = {2};
    weft__brk_add(c, BRK_FILE_SAME_PACKAGE, nf, &root, at, 1,
                  "File package changed from \"%s\" to \"%s\".", of->pkg,
                  nf->pkg);
  }
  if (strcmp(syntax_of(nf), syntax_of(of))) {
    static const int32_t at[] = {12};
    weft__brk_add(c, BRK_FILE_SAME_SYNTAX, nf, &root, at, 1,
                  "File syntax changed from \"%s\" to \"%s\".", syntax_of(of),
                  syntax_of(nf));
  }
  brk_fopts nd, od;
  const brk_fopts *no = fopts(nf, &nd), *oo = fopts(of, &od);
  for (size_t i = 0; i < sizeof str_opts / sizeof str_opts[0]; i++) {
    const char *a =
        brk_str(*(char *const *)((const char *)oo + str_opts[i].off));
    const char *b =
        brk_str(*(char *const *)((const char *)no + str_opts[i].off));
    if (strcmp(a, b)) {
      int32_t at[] = {8, str_opts[i].tag};
      weft__brk_add(c, str_opts[i].rule, nf, &root, at, 2,
                    "File option \"%s\" changed from \"%s\" to \"%s\".",
                    str_opts[i].name, a, b);
    }
  }
  for (size_t i = 0; i < sizeof bool_opts / sizeof bool_opts[0]; i++) {
    bool a = *(const protobuf_c_boolean *)((const char *)oo + bool_opts[i].off);
    bool b = *(const protobuf_c_boolean *)((const char *)no + bool_opts[i].off);
    if (a != b) {
      int32_t at[] = {8, bool_opts[i].tag};
      weft__brk_add(c, bool_opts[i].rule, nf, &root, at, 2,
                    "File option \"%s\" changed from \"%s\" to \"%s\".",
                    bool_opts[i].name, a ? "true" : "false",
                    b ? "true" : "false");
    }
  }
  if (no->optimize_for != oo->optimize_for) {
    static const int32_t at[] = {8, 9};
    weft__brk_add(c, BRK_FILE_SAME_OPTIMIZE_FOR, nf, &root, at, 2,
                  "File option \"optimize_for\" changed from \"%s\" to "
                  "\"%s\".",
                  optimize_name(oo->optimize_for),
                  optimize_name(no->optimize_for));
  }
}

/* The type of NEW's file nf with this nested name ("Outer.Inner"), in v. */
static const brk_type *in_file(const brk_type *v, size_t n, const brk_file *nf,
                               const char *nested, size_t len) {
  for (size_t i = 0; nf && i < n; i++)
    if (v[i].file == nf && strlen(v[i].nested) == len &&
        !strncmp(v[i].nested, nested, len))
      return &v[i];
  return NULL;
}

/* Where a deleted nested element is reported: the innermost enclosing
 * message that still exists in NEW's file, else the file itself. */
static const brk_type *surviving_parent(const brk_side *s, const brk_file *nf,
                                        const char *nested) {
  for (size_t len = strlen(nested); len > 0; len--) {
    if (nested[len - 1] != '.')
      continue;
    const brk_type *t = in_file(s->msgs, s->n_msgs, nf, nested, len - 1);
    if (t)
      return t;
  }
  return NULL;
}

static void report_deleted(brk_ctx *c, int rule, const brk_file *nf,
                           const brk_type *ot, const char *what,
                           const char *where_fmt, const char *where) {
  const brk_type *p = surviving_parent(&c->new_s, nf, ot->nested);
  char suffix[512];
  snprintf(suffix, sizeof suffix, where_fmt, where);
  weft__brk_add(c, rule, nf ? nf : ot->file, p ? &p->path : NULL, NULL, 0,
                "Previously present %s \"%s\" was deleted from %s.", what,
                ot->nested, suffix);
}

/* Types of OLD file `of` missing from NEW file `nf` (FILE rules). */
static void deleted_from_file(brk_ctx *c, const brk_type *ov, size_t on,
                              const brk_type *nv, size_t nn, int rule,
                              const char *what, const brk_file *of,
                              const brk_file *nf) {
  for (size_t i = 0; i < on; i++) {
    if (ov[i].file != of)
      continue;
    /* By nested name, as buf: a file whose package changed still has its
     * types (FILE_SAME_PACKAGE reports the change). */
    bool found = in_file(nv, nn, nf, ov[i].nested, strlen(ov[i].nested));
    if (!found) {
      if (rule == BRK_SERVICE_NO_DELETE)
        weft__brk_add(c, rule, nf, NULL, NULL, 0,
                      "Previously present service \"%s\" was deleted from "
                      "file.",
                      ov[i].nested);
      else
        report_deleted(c, rule, nf, &ov[i], what, "%s", "file");
    }
  }
}

/* Whether `pkg` has a type called `nested` in side s. */
static bool pkg_has(const brk_type *v, size_t n, const char *full) {
  return weft__brk_find_target(v, n, full) != NULL;
}

static bool side_has_pkg(const brk_side *s, const char *pkg) {
  for (size_t i = 0; i < s->n_files; i++)
    if (!strcmp(s->files[i].pkg, pkg))
      return true;
  return false;
}

static void deleted_from_pkg(brk_ctx *c, const brk_type *ov, size_t on,
                             const brk_type *nv, size_t nn, int rule,
                             const char *what) {
  for (size_t i = 0; i < on; i++) {
    const char *pkg = ov[i].file->pkg;
    if (weft__brk_find_target(ov, on, ov[i].full) != &ov[i])
      continue; /* an import, or a second type of that name */
    if (!side_has_pkg(&c->new_s, pkg) || pkg_has(nv, nn, ov[i].full))
      continue;
    /* The full name may now belong to another package's file only if the
     * package prefixes differ; a full-name match above covers the rest. */
    const brk_file *nf = weft__brk_find_file(&c->new_s, ov[i].file->name);
    if (rule == BRK_PACKAGE_SERVICE_NO_DELETE)
      weft__brk_add(c, rule, nf ? nf : ov[i].file, NULL, NULL, 0,
                    "Previously present service \"%s\" was deleted from "
                    "package \"%s\".",
                    ov[i].nested, pkg);
    else
      report_deleted(c, rule, nf, &ov[i], what, "package \"%s\"", pkg);
  }
}

void weft__brk_files(brk_ctx *c) {
  const brk_side *ns = &c->new_s, *os = &c->old_s;
  for (size_t i = 0; i < os->n_files; i++) {
    const brk_file *of = &os->files[i];
    const brk_file *nf = weft__brk_find_file(ns, of->name);
    if (!nf) {
      weft__brk_add(c, BRK_FILE_NO_DELETE, of, NULL, NULL, 0,
                    "Previously present file \"%s\" was deleted.", of->name);
      continue;
    }
    file_pair(c, nf, of);
    deleted_from_file(c, os->msgs, os->n_msgs, ns->msgs, ns->n_msgs,
                      BRK_MESSAGE_NO_DELETE, "message", of, nf);
    deleted_from_file(c, os->enums, os->n_enums, ns->enums, ns->n_enums,
                      BRK_ENUM_NO_DELETE, "enum", of, nf);
    deleted_from_file(c, os->svcs, os->n_svcs, ns->svcs, ns->n_svcs,
                      BRK_SERVICE_NO_DELETE, "service", of, nf);
  }
  /* Packages: OLD's packages (in file order, each once) missing from NEW. */
  for (size_t i = 0; i < os->n_files; i++) {
    const char *pkg = os->files[i].pkg;
    bool seen = false;
    for (size_t j = 0; j < i && !seen; j++)
      seen = !strcmp(os->files[j].pkg, pkg);
    if (seen || side_has_pkg(ns, pkg))
      continue;
    weft__brk_add(c, BRK_PACKAGE_NO_DELETE, &os->files[i], NULL, NULL, 0,
                  "Previously present package \"%s\" was deleted.", pkg);
  }
  deleted_from_pkg(c, os->msgs, os->n_msgs, ns->msgs, ns->n_msgs,
                   BRK_PACKAGE_MESSAGE_NO_DELETE, "message");
  deleted_from_pkg(c, os->enums, os->n_enums, ns->enums, ns->n_enums,
                   BRK_PACKAGE_ENUM_NO_DELETE, "enum");
  deleted_from_pkg(c, os->svcs, os->n_svcs, ns->svcs, ns->n_svcs,
                   BRK_PACKAGE_SERVICE_NO_DELETE, "service");
}
