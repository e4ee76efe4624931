/* weft breaking: reports changes of a schema that break its old peers
 * (buf's breaking rules, weft/breaking.h). Each side is a .proto file or a
 * folder of them (compiled with protoc, source info included), a binary
 * FileDescriptorSet, or a git revision of the current repository. */
#define _GNU_SOURCE /* asprintf, FTW_ACTIONRETVAL */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "google/protobuf/descriptor.pb-c.h"
#include "weft/breaking.h"

enum { CLI_BREAKING = 100 }; /* as buf: something breaks */

static const char usage[] =
    "usage: weft breaking NEW --against OLD [options]\n"
    "  Reports changes in NEW that break peers built from OLD, with buf's\n"
    "  breaking rules (docs/BREAKING.md). NEW and OLD are each a folder of\n"
    "  .proto files, .proto files (NEW may name several), a binary\n"
    "  FileDescriptorSet (protoc -o), or git:REV[:SUBDIR] (a revision of\n"
    "  the current repository). A file is compared by its name under its\n"
    "  folder, or under the first -I folder that holds it.\n"
    "  -I, --include DIR     import path for .proto inputs (repeatable)\n"
    "  --rules LIST          categories or rule ids, comma-separated:\n"
    "                        FILE (default), PACKAGE, WIRE_JSON, WIRE\n"
    "  --only-rule ID        run only this rule (repeatable)\n"
    "  --exclude-rule ID     skip this rule or category (repeatable)\n"
    "  --format text|json    text: file:line:col:RULE_ID: message;\n"
    "                        json: one object per line, as buf's\n"
    "  --write-baseline F    write NEW as a FileDescriptorSet to F (to\n"
    "                        commit); --against is then optional\n"
    "  --list-rules          print every rule with its categories\n"
    "  --contracts DIR       also check every contract (*.json) in DIR\n"
    "                        against NEW as `weft contract check` does and\n"
    "                        name the ones the change breaks\n"
    "exit codes: 0 nothing breaks, 100 something breaks (a rule or a\n"
    "contract), 2 usage or a\n"
    "schema that does not compile, 4 local failure.\n";

#define MAX_INC 32
#define MAX_RULES 128
#define MAX_MORE 1024

typedef struct bopts {
  const char *inc[MAX_INC];
  size_t n_inc;
} bopts;

/* Runs argv (no shell), in dir when not NULL; returns its exit status or
 * -1. stdout goes to out_fd when >= 0. */
static int run(char *const argv[], const char *dir, int out_fd) {
  pid_t pid = fork();
  if (pid < 0)
    return -1;
  if (pid == 0) {
    if (dir && chdir(dir) != 0)
      _exit(127);
    if (out_fd >= 0 && dup2(out_fd, 1) < 0)
      _exit(127);
    execvp(argv[0], argv);
    fprintf(stderr, "weft: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR)
      return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int rm_one(const char *p, const struct stat *sb, int flag,
                  struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  remove(p);
  return 0;
}

static void rm_tree(const char *dir) {
  if (dir && *dir)
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int read_all(const char *path, uint8_t **out, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return -1;
  size_t cap = 1 << 16, n = 0;
  uint8_t *buf = malloc(cap);
  for (size_t r; buf && (r = fread(buf + n, 1, cap - n, f)) > 0;) {
    n += r;
    if (n == cap) {
      uint8_t *nb = realloc(buf, cap *= 2);
      if (!nb) {
        free(buf);
        buf = NULL;
      }
      buf = nb;
    }
  }
  bool bad = ferror(f);
  fclose(f);
  if (!buf || bad) {
    free(buf);
    return -1;
  }
  *out = buf;
  *len = n;
  return 0;
}

typedef struct list {
  char **v;
  size_t n, cap;
} list;

static int list_add(list *l, const char *s) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 32;
    char **nv = realloc(l->v, cap * sizeof *nv);
    if (!nv)
      return -1;
    l->v = nv;
    l->cap = cap;
  }
  if (!(l->v[l->n] = strdup(s)))
    return -1;
  l->n++;
  return 0;
}

static void list_free(list *l) {
  for (size_t i = 0; i < l->n; i++)
    free(l->v[i]);
  free(l->v);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void brk_sort_strs(list *l) {
  if (l->n > 1)
    qsort(l->v, l->n, sizeof *l->v, cmp_str);
}

/* Every .proto under root (hidden folders skipped), relative to root.
 * nftw passes its callback no context: these two statics carry it (the
 * command is single-threaded). */
static list *g_found;
static size_t g_root_len;
static int find_one(const char *p, const struct stat *sb, int flag,
                    struct FTW *ftw) {
  (void)sb;
  const char *base = p + ftw->base;
  if (flag == FTW_D && ftw->level > 0 && base[0] == '.')
    return FTW_SKIP_SUBTREE;
  size_t n = strlen(p);
  if (flag == FTW_F && n > 6 && !strcmp(p + n - 6, ".proto") &&
      list_add(g_found, p + g_root_len + 1) != 0)
    return -1;
  return 0;
}

/* Adds dir (made absolute) to incs unless it is there already. */
static int add_inc(list *incs, const char *dir) {
  char abs[PATH_MAX];
  if (!realpath(dir, abs)) {
    fprintf(stderr, "weft: import path %s: %s\n", dir, strerror(errno));
    return CLI_USAGE;
  }
  for (size_t i = 0; i < incs->n; i++)
    if (!strcmp(incs->v[i], abs))
      return CLI_OK;
  return list_add(incs, abs) ? CLI_LOCAL : CLI_OK;
}

/* protoc: the files (absolute paths, each under one of incs, which come
 * first) into out, with source info and imports (which resolve types;
 * only the files themselves are compared). */
static int compile(const bopts *o, list *incs, list *files, const char *out) {
  int rc = CLI_OK;
  for (size_t i = 0; i < o->n_inc && rc == CLI_OK; i++)
    rc = add_inc(incs, o->inc[i]);
  if (rc != CLI_OK)
    return rc;
  list args = {0};
  char *o_arg = NULL;
  bool ok = asprintf(&o_arg, "--descriptor_set_out=%s", out) >= 0 &&
            !list_add(&args, "protoc") &&
            !list_add(&args, "--include_source_info") &&
            !list_add(&args, "--include_imports") && !list_add(&args, o_arg);
  for (size_t i = 0; ok && i < incs->n; i++) {
    char *a = NULL;
    ok = asprintf(&a, "-I%s", incs->v[i]) >= 0 && !list_add(&args, a);
    free(a);
  }
  ok = ok && !list_add(&args, "-I/usr/include");
  /* google/api/annotations.proto (REST routes), when the build found it. */
  if (ok && access(WEFT_GOOGLEAPIS_PROTO_DIR, R_OK) == 0)
    ok = !list_add(&args, "-I" WEFT_GOOGLEAPIS_PROTO_DIR);
  for (size_t i = 0; ok && i < files->n; i++)
    ok = !list_add(&args, files->v[i]);
  ok = ok && !list_add(&args, "");
  free(o_arg);
  if (!ok) {
    list_free(&args);
    return CLI_LOCAL;
  }
  free(args.v[args.n - 1]);
  args.v[args.n - 1] = NULL; /* argv's terminator */
  int st = run(args.v, NULL, -1);
  args.n--;
  list_free(&args);
  if (st != 0) {
    fprintf(stderr, "weft: protoc could not compile the schema\n");
    return st < 0 || st == 127 ? CLI_LOCAL : CLI_USAGE;
  }
  return CLI_OK;
}

typedef struct side {
  const char *spec; /* as given (the first of several .proto files) */
  char **more;      /* further .proto files of NEW */
  size_t n_more;
  uint8_t *data;
  size_t len;
  list files;            /* the files to compare; none: all of the set */
  list shown;            /* .proto files: files[i] as the user named it */
  char prefix[PATH_MAX]; /* printed before NEW's file names */
  char tmp[512];         /* temp folder to remove, if any */
} side;

static int load_dir(const bopts *o, side *s, const char *dir, const char *out) {
  char root[PATH_MAX];
  if (!realpath(dir, root)) {
    fprintf(stderr, "weft: %s: %s\n", dir, strerror(errno));
    return CLI_USAGE;
  }
  list files = {0}, abs = {0}, incs = {0};
  g_found = &files;
  g_root_len = strlen(root);
  int rc = nftw(root, find_one, 16, FTW_PHYS | FTW_ACTIONRETVAL);
  if (rc != 0) {
    fprintf(stderr, "weft: cannot read %s\n", dir);
    rc = CLI_USAGE;
  } else if (!files.n) {
    fprintf(stderr, "weft: %s has no .proto files\n", s->spec);
    rc = CLI_USAGE;
  } else {
    brk_sort_strs(&files);
    rc = list_add(&incs, root) ? CLI_LOCAL : CLI_OK;
    for (size_t i = 0; rc == CLI_OK && i < files.n; i++) {
      char *p = NULL;
      if (asprintf(&p, "%s/%s", root, files.v[i]) < 0 || list_add(&abs, p))
        rc = CLI_LOCAL;
      free(p);
    }
    if (rc == CLI_OK)
      rc = compile(o, &incs, &abs, out);
  }
  s->files = files;
  list_free(&abs);
  list_free(&incs);
  return rc;
}

/* git:REV[:SUBDIR] -> a folder extracted from the current repository. */
static int load_git(const bopts *o, side *s, const char *out) {
  char spec[PATH_MAX];
  snprintf(spec, sizeof spec, "%s", s->spec + 4);
  char *sub = strchr(spec, ':');
  if (sub)
    *sub++ = 0;
  if (!*spec) {
    fprintf(stderr, "weft: %s: no revision\n", s->spec);
    return CLI_USAGE;
  }
  char tar[PATH_MAX], tree[PATH_MAX];
  snprintf(tar, sizeof tar, "%s/rev.tar", s->tmp);
  snprintf(tree, sizeof tree, "%s/tree", s->tmp);
  if (mkdir(tree, 0700) != 0)
    return CLI_LOCAL;
  char o_arg[PATH_MAX + 16];
  snprintf(o_arg, sizeof o_arg, "--output=%s", tar);
  char *ga[] = {"git", "archive", "--format=tar",
                o_arg, spec,      sub && *sub ? sub : NULL,
                NULL};
  if (run(ga, NULL, -1) != 0) {
    fprintf(stderr, "weft: git archive %s%s%s failed\n", spec, sub ? " " : "",
            sub ? sub : "");
    return CLI_USAGE;
  }
  char *ta[] = {"tar", "-xf", tar, "-C", tree, NULL};
  if (run(ta, NULL, -1) != 0)
    return CLI_LOCAL;
  char dir[PATH_MAX * 2];
  snprintf(dir, sizeof dir, "%s/%s", tree, sub ? sub : "");
  return load_dir(o, s, dir, out);
}

/* .proto files: each compiled from the first -I folder that holds it,
 * else from its own folder; those are the names it is compared by. */
static int load_protos(const bopts *o, side *s, const char *out) {
  list abs = {0}, incs = {0};
  int rc = CLI_OK;
  for (size_t k = 0; k <= s->n_more && rc == CLI_OK; k++) {
    const char *spec = k ? s->more[k - 1] : s->spec;
    char file[PATH_MAX], root[PATH_MAX] = "";
    if (!realpath(spec, file)) {
      fprintf(stderr, "weft: %s: %s\n", spec, strerror(errno));
      rc = CLI_USAGE;
      break;
    }
    for (size_t i = 0; i < o->n_inc && !*root; i++) {
      char inc[PATH_MAX];
      size_t n;
      if (realpath(o->inc[i], inc) && (n = strlen(inc)) < strlen(file) &&
          !strncmp(file, inc, n) && (file[n] == '/' || !strcmp(inc, "/")))
        snprintf(root, sizeof root, "%s", inc);
    }
    if (!*root) {
      snprintf(root, sizeof root, "%s", file);
      *strrchr(root, '/') = 0;
    }
    size_t rl = strlen(root);
    const char *rel = file + rl + (rl && root[rl - 1] == '/' ? 0 : 1);
    if (list_add(&s->files, rel) || list_add(&s->shown, spec) ||
        list_add(&abs, file) || (rl && add_inc(&incs, root) != CLI_OK))
      rc = CLI_LOCAL;
  }
  if (rc == CLI_OK)
    rc = compile(o, &incs, &abs, out);
  list_free(&abs);
  list_free(&incs);
  return rc;
}

static bool is_proto(const char *p) {
  size_t n = strlen(p);
  return n > 6 && !strcmp(p + n - 6, ".proto");
}

static int load_side(const bopts *o, side *s, bool is_new) {
  struct stat st;
  const char *tmpdir = getenv("TMPDIR");
  snprintf(s->tmp, sizeof s->tmp, "%s/weft-breaking-XXXXXX",
           tmpdir && *tmpdir ? tmpdir : "/tmp");
  if (!mkdtemp(s->tmp)) {
    s->tmp[0] = 0;
    perror("weft: mkdtemp");
    return CLI_LOCAL;
  }
  char out[PATH_MAX];
  snprintf(out, sizeof out, "%s/set.binpb", s->tmp);
  const char *read_from = out;
  int rc;
  if (s->n_more) {
    rc = load_protos(o, s, out);
  } else if (!strncmp(s->spec, "git:", 4)) {
    rc = load_git(o, s, out);
  } else if (stat(s->spec, &st) != 0) {
    fprintf(stderr, "weft: %s: %s\n", s->spec, strerror(errno));
    return CLI_USAGE;
  } else if (S_ISDIR(st.st_mode)) {
    rc = load_dir(o, s, s->spec, out);
    if (is_new) {
      size_t n = strlen(s->spec);
      snprintf(s->prefix, sizeof s->prefix, "%s%s", s->spec,
               n && s->spec[n - 1] == '/' ? "" : "/");
    }
  } else if (is_proto(s->spec)) {
    rc = load_protos(o, s, out);
  } else {
    rc = CLI_OK;
    read_from = s->spec; /* a binary FileDescriptorSet */
  }
  if (rc != CLI_OK)
    return rc;
  if (read_all(read_from, &s->data, &s->len) != 0) {
    fprintf(stderr, "weft: cannot read %s: %s\n", read_from, strerror(errno));
    return CLI_USAGE;
  }
  return CLI_OK;
}

/* How a file of NEW is printed: as named on the command line, or under
 * the folder given. */
static void shown_name(const side *s, const char *file, char *buf, size_t cap) {
  for (size_t i = 0; i < s->shown.n; i++)
    if (!strcmp(s->files.v[i], file)) {
      snprintf(buf, cap, "%s", s->shown.v[i]);
      return;
    }
  snprintf(buf, cap, "%s%s", s->prefix, file);
}

static void json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\')
      fprintf(f, "\\%c", ch);
    else if (ch < 0x20)
      fprintf(f, "\\u%04x", ch);
    else
      fputc(ch, f);
  }
  fputc('"', f);
}

static void print_rules(void) {
  static const char *const cats[] = {"FILE", "PACKAGE", "WIRE_JSON", "WIRE"};
  for (size_t i = 0; i < weft_breaking_n_rules(); i++) {
    const weft_breaking_rule *r = weft_breaking_rule_at(i);
    char c[64] = "";
    for (size_t k = 0; k < 4; k++)
      if (r->categories & (1u << k))
        snprintf(c + strlen(c), sizeof c - strlen(c), "%s%s", *c ? "," : "",
                 cats[k]);
    printf("%-46s %-26s %s\n", r->id, c, r->purpose);
  }
}

static int write_file(const char *path, const uint8_t *d, size_t n);

/* The side's own files as a FileDescriptorSet (imports dropped: they are
 * not the schema's to commit, and would count as its files when read
 * back). */
static int write_baseline(const char *path, const side *s) {
  Google__Protobuf__FileDescriptorSet *set =
      google__protobuf__file_descriptor_set__unpack(NULL, s->len, s->data);
  if (!set) {
    fprintf(stderr, "weft: %s: not a FileDescriptorSet\n", s->spec);
    return CLI_USAGE;
  }
  size_t kept = 0;
  for (size_t i = 0; i < set->n_file; i++) {
    bool keep = !s->files.n;
    for (size_t j = 0; j < s->files.n && !keep; j++)
      keep = set->file[i]->name && !strcmp(set->file[i]->name, s->files.v[j]);
    if (keep) {
      Google__Protobuf__FileDescriptorProto *t = set->file[kept];
      set->file[kept++] = set->file[i];
      set->file[i] = t;
    }
  }
  size_t all = set->n_file;
  set->n_file = kept;
  size_t len = google__protobuf__file_descriptor_set__get_packed_size(set);
  uint8_t *buf = malloc(len ? len : 1);
  int rc = CLI_LOCAL;
  if (buf) {
    google__protobuf__file_descriptor_set__pack(set, buf);
    rc = write_file(path, buf, len);
  }
  free(buf);
  set->n_file = all;
  google__protobuf__file_descriptor_set__free_unpacked(set, NULL);
  return rc;
}

static int write_file(const char *path, const uint8_t *d, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(d, 1, n, f) != n) {
    if (f)
      fclose(f);
    fprintf(stderr, "weft: cannot write %s: %s\n", path, strerror(errno));
    return CLI_LOCAL;
  }
  if (fclose(f) != 0) {
    fprintf(stderr, "weft: cannot write %s: %s\n", path, strerror(errno));
    return CLI_LOCAL;
  }
  return CLI_OK;
}

static int cmp_cstr(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* --contracts DIR: each contract file in DIR (sorted, *.json) checked
 * against NEW; a summary line names each one the change breaks. */
static int check_contracts(const char *dir, const side *ns, bool json) {
  weft_dyn_set *set = NULL;
  weft_error err = {0};
  if (weft_dyn_build(ns->data, ns->len, &set, &err) < 0) {
    fprintf(stderr, "weft: %s: %s\n", ns->spec, err.message);
    return CLI_USAGE;
  }
  DIR *d = opendir(dir);
  if (!d) {
    fprintf(stderr, "weft: --contracts %s: %s\n", dir, strerror(errno));
    weft_dyn_free(set);
    return CLI_USAGE;
  }
  list files = {0};
  int rc = CLI_OK;
  for (struct dirent *e; (e = readdir(d));) {
    size_t n = strlen(e->d_name);
    char *p = NULL;
    if (n < 5 || strcmp(e->d_name + n - 5, ".json") || e->d_name[0] == '.')
      continue;
    if (asprintf(&p, "%s/%s", dir, e->d_name) < 0 || list_add(&files, p) < 0)
      rc = CLI_LOCAL;
    free(p);
  }
  closedir(d);
  if (files.n)
    qsort(files.v, files.n, sizeof *files.v, cmp_cstr);
  size_t n_broken = 0;
  for (size_t i = 0; rc == CLI_OK && i < files.n; i++) {
    int broken = 0;
    int crc = cli_contract_check_set(files.v[i], set, json, &broken);
    if (crc != CLI_OK) {
      rc = crc;
      break;
    }
    if (broken) {
      n_broken++;
      if (json) {
        fputs("{\"contract\":", stdout);
        json_str(stdout, files.v[i]);
        printf(",\"broken\":true,\"expectations\":%d}\n", broken);
      } else {
        printf("%s: contract broken by this change (%d expectation%s)\n",
               files.v[i], broken, broken == 1 ? "" : "s");
      }
    }
  }
  list_free(&files);
  weft_dyn_free(set);
  if (rc == CLI_OK && n_broken)
    rc = CLI_BREAKING;
  return rc;
}

int cli_breaking(int argc, char **argv) {
  bopts o = {0};
  side ns = {0}, os = {0};
  const char *use[MAX_RULES], *except[MAX_RULES], *only[MAX_RULES];
  size_t n_use = 0, n_except = 0, n_only = 0, n_more = 0;
  char *more[MAX_MORE];
  char *rules_buf = NULL;
  const char *format = "text", *baseline = NULL, *contracts = NULL;
  int rc = CLI_USAGE;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      fputs(usage, stdout);
      return CLI_OK;
    } else if (!strcmp(a, "--list-rules")) {
      print_rules();
      return CLI_OK;
    } else if (!strncmp(a, "-I", 2) && a[2]) {
      if (o.n_inc == MAX_INC)
        goto bad;
      o.inc[o.n_inc++] = a + 2;
      continue;
    }
    if (a[0] != '-') {
      if (!ns.spec) {
        ns.spec = a;
      } else if (is_proto(ns.spec) && is_proto(a) && n_more < MAX_MORE) {
        more[n_more++] = (char *)a;
      } else {
        goto bad;
      }
      continue;
    }
    if (!v)
      goto bad;
    i++;
    if (!strcmp(a, "--against")) {
      os.spec = v;
    } else if (!strcmp(a, "-I") || !strcmp(a, "--include")) {
      if (o.n_inc == MAX_INC)
        goto bad;
      o.inc[o.n_inc++] = v;
    } else if (!strcmp(a, "--rules")) {
      free(rules_buf);
      rules_buf = strdup(v);
      n_use = 0;
      for (char *save = NULL,
                *t = rules_buf ? strtok_r(rules_buf, ",", &save) : NULL;
           t; t = strtok_r(NULL, ",", &save))
        if (n_use < MAX_RULES)
          use[n_use++] = t;
    } else if (!strcmp(a, "--only-rule")) {
      if (n_only < MAX_RULES)
        only[n_only++] = v;
    } else if (!strcmp(a, "--exclude-rule")) {
      if (n_except < MAX_RULES)
        except[n_except++] = v;
    } else if (!strcmp(a, "--format") || !strcmp(a, "--error-format")) {
      format = v;
      if (strcmp(v, "text") && strcmp(v, "json"))
        goto bad;
    } else if (!strcmp(a, "--write-baseline")) {
      baseline = v;
    } else if (!strcmp(a, "--contracts")) {
      contracts = v;
    } else {
      goto bad;
    }
  }
  if (!ns.spec || (!os.spec && !baseline))
    goto bad;
  ns.more = more;
  ns.n_more = n_more;

  weft_breaking_opts bo = {n_only ? only : use, n_only ? n_only : n_use, except,
                           n_except};
  /* Rule names are checked before anything is compiled. */
  {
    weft_breaking_report *r = NULL;
    weft_error err = {0};
    uint8_t empty = 0;
    if (weft_breaking_check_bytes(&empty, 0, &empty, 0, &bo, &r, &err) < 0) {
      fprintf(stderr, "weft: %s\n", err.message);
      goto out;
    }
    weft_breaking_report_free(r);
  }

  if ((rc = load_side(&o, &ns, true)) != CLI_OK)
    goto out;
  if (baseline && (rc = write_baseline(baseline, &ns)) != CLI_OK)
    goto out;
  if (!os.spec) {
    rc = CLI_OK;
    goto out;
  }
  if ((rc = load_side(&o, &os, false)) != CLI_OK)
    goto out;

  bo.new_files = (const char *const *)ns.files.v;
  bo.n_new_files = ns.files.n;
  bo.old_files = (const char *const *)os.files.v;
  bo.n_old_files = os.files.n;
  weft_breaking_report *r = NULL;
  weft_error err = {0};
  if (weft_breaking_check_bytes(ns.data, ns.len, os.data, os.len, &bo, &r,
                                &err) < 0) {
    fprintf(stderr, "weft: %s\n", err.message);
    rc = CLI_USAGE;
    goto out;
  }
  size_t n = weft_breaking_report_count(r);
  for (size_t i = 0; i < n; i++) {
    const weft_breaking_violation *v = weft_breaking_report_at(r, i);
    int line = v->line ? v->line : 1, col = v->column ? v->column : 1;
    char path[PATH_MAX * 2];
    if (v->against)
      snprintf(path, sizeof path, "%s", v->file);
    else
      shown_name(&ns, v->file, path, sizeof path);
    if (!strcmp(format, "json")) {
      fputs("{\"path\":", stdout);
      json_str(stdout, path);
      printf(",\"start_line\":%d,\"start_column\":%d,\"type\":\"%s\","
             "\"message\":",
             line, col, v->rule);
      json_str(stdout, v->message);
      fputs("}\n", stdout);
    } else {
      printf("%s:%d:%d:%s: %s\n", path, line, col, v->rule, v->message);
    }
  }
  weft_breaking_report_free(r);
  rc = n ? CLI_BREAKING : CLI_OK;
  if (contracts) {
    int crc = check_contracts(contracts, &ns, !strcmp(format, "json"));
    if (crc != CLI_OK && (rc == CLI_OK || crc != CLI_BREAKING))
      rc = crc;
  }
  goto out;

bad:
  fputs(usage, stderr);
  rc = CLI_USAGE;
out:
  free(rules_buf);
  free(ns.data);
  free(os.data);
  list_free(&ns.files);
  list_free(&os.files);
  list_free(&ns.shown);
  list_free(&os.shown);
  rm_tree(ns.tmp);
  rm_tree(os.tmp);
  return rc;
}

int cli_load_schema(const char *spec, const char *const *inc, size_t n_inc,
                    uint8_t **data, size_t *len) {
  bopts o = {0};
  for (size_t i = 0; i < n_inc && i < MAX_INC; i++)
    o.inc[o.n_inc++] = inc[i];
  side s = {0};
  s.spec = spec;
  int rc = load_side(&o, &s, false);
  if (rc == CLI_OK) {
    *data = s.data;
    *len = s.len;
  } else {
    free(s.data);
  }
  list_free(&s.files);
  list_free(&s.shown);
  rm_tree(s.tmp);
  return rc;
}
