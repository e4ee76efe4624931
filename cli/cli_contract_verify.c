/* weft contract verify URL CONTRACT... : replays every interaction of each
 * contract (docs/CONTRACTS.md) against a live provider on any transport and
 * reports, per interaction, PASS or FAIL with path-precise differences.
 * Provider states are set up by --state-cmd before each interaction that
 * names some (`given`). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "weft/codec.h"
#include "weft/contract.h"
#include "weft/status.h"

enum { CLI_CONTRACT_FAILED = 100 };

static const char usage[] =
    "usage: weft contract verify URL CONTRACT... [options]\n"
    "  Replays every interaction of each CONTRACT (JSON, docs/CONTRACTS.md)\n"
    "  against the provider at URL (grpc:// grpcs:// h2c:// https:// ws://\n"
    "  wss:// tcp:// tls://) and compares what comes back.\n"
    "  --state-cmd CMD           run before an interaction that needs "
    "provider\n"
    "                            states: sh -c CMD sh STATE...; also in the\n"
    "                            environment: WEFT_CONTRACT_STATES (one a\n"
    "                            line), WEFT_CONTRACT_INTERACTION\n"
    "  --state-call METHOD       or (and, after CMD) call this unary method\n"
    "                            of the provider with {\"states\": [...],\n"
    "                            \"interaction\": NAME} (fields its request\n"
    "                            type lacks are dropped); not OK fails it\n"
    "  --junit FILE              also write a JUnit XML report\n"
    "  --max-time S              deadline of each call (default 10)\n"
    "  --proto FILE | --descriptor-set FILE   the schema, instead of the\n"
    "                            contract's own\n"
    "  -H 'key: value'           metadata sent with every call\n"
    "  --codec json|proto --cacert F --cert F --key F --servername N\n"
    "  --insecure --plaintext\n"
    "exit: 0 every interaction passed, 100 one failed, 2 usage or a bad\n"
    "      contract (the message names the interaction and the path), 3\n"
    "      cannot connect, 4 local failure\n";

static int state_cmd(void *ud, const char *interaction,
                     const char *const *states, size_t n, weft_error *err) {
  const char *cmd = ud;
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0)
    return weft_error_set(err, WEFT_ERR_IO, "fork failed");
  if (pid == 0) {
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
      len += strlen(states[i]) + 1;
    char *joined = calloc(1, len);
    char **argv = calloc(n + 5, sizeof *argv);
    if (!joined || !argv)
      _exit(127);
    for (size_t i = 0; i < n; i++) {
      strcat(joined, states[i]);
      if (i + 1 < n)
        strcat(joined, "\n");
    }
    setenv("WEFT_CONTRACT_STATES", joined, 1);
    setenv("WEFT_CONTRACT_INTERACTION", interaction, 1);
    argv[0] = "sh";
    argv[1] = "-c";
    argv[2] = (char *)cmd;
    argv[3] = "sh";
    for (size_t i = 0; i < n; i++)
      argv[4 + i] = (char *)states[i];
    /* The report goes to stdout: keep the hook's chatter off it. */
    dup2(2, 1);
    execv("/bin/sh", argv);
    _exit(127);
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0)
    ;
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
    return 0;
  return weft_error_set(err, WEFT_ERR_IO, "--state-cmd exited with %d",
                        WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}

typedef struct state_hook {
  const char *cmd;
  weft_client *client;
  const weft_method_desc *call;
  const weft_registry *registry;
  int64_t timeout_ms;
} state_hook;

static int state_call(state_hook *h, const char *interaction,
                      const char *const *states, size_t n, weft_error *err) {
  cJSON *o = cJSON_CreateObject();
  cJSON *list = cJSON_AddArrayToObject(o, "states");
  for (size_t i = 0; list && i < n; i++)
    cJSON_AddItemToArray(list, cJSON_CreateString(states[i]));
  cJSON_AddStringToObject(o, "interaction", interaction);
  char *text = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  if (!text)
    return weft_error_set(err, WEFT_ERR_NOMEM, "out of memory");
  weft_json_opts jo = {0};
  jo.flags = WEFT_JSON_IGNORE_UNKNOWN;
  jo.registry = h->registry;
  void *req = NULL, *resp = NULL;
  int rv = weft_json_decode(h->call->input, text, strlen(text), &jo, &req, err);
  free(text);
  if (rv < 0)
    return rv;
  weft_call_opts co = {0};
  co.timeout_ms = h->timeout_ms;
  weft_call_unary(h->client, h->call, req, &resp, &co);
  weft_message_free(req);
  weft_message_free(resp);
  rv = 0;
  if (co.status.code != WEFT_STATUS_OK)
    rv = weft_error_set(err, WEFT_ERR_IO, "--state-call %s: %s%s%s",
                        h->call->path, weft_status_name(co.status.code),
                        co.status.message ? ": " : "",
                        co.status.message ? co.status.message : "");
  weft_status_clear(&co.status);
  return rv;
}

static int state_hook_fn(void *ud, const char *interaction,
                         const char *const *states, size_t n, weft_error *err) {
  state_hook *h = ud;
  if (h->cmd && state_cmd((void *)h->cmd, interaction, states, n, err) != 0)
    return -1;
  if (h->call && state_call(h, interaction, states, n, err) != 0)
    return -1;
  return 0;
}

/* Schema files a contract names, through the same loaders as --proto and
 * --descriptor-set (protoc for .proto files). */
static int schema_fn(void *ud, const char *kind, const char *path,
                     weft_dyn_set **out, weft_error *err) {
  (void)ud;
  cli_opts o;
  memset(&o, 0, sizeof o);
  if (!strcmp(kind, "proto"))
    o.proto_file = path;
  else
    o.descriptor_set = path;
  if (cli_load_dyn(&o, out) != CLI_OK)
    return weft_error_set(err, WEFT_ERR_MALFORMED, "cannot be loaded");
  return 0;
}

static void xml(FILE *f, const char *s) {
  for (; *s; s++) {
    switch (*s) {
    case '<':
      fputs("&lt;", f);
      break;
    case '>':
      fputs("&gt;", f);
      break;
    case '&':
      fputs("&amp;", f);
      break;
    case '"':
      fputs("&quot;", f);
      break;
    default:
      if ((unsigned char)*s >= 0x20 || *s == '\n' || *s == '\t')
        fputc(*s, f);
    }
  }
}

static int write_junit(const char *file, char **paths, weft_contract **cs,
                       weft_contract_report *reps, size_t n) {
  FILE *f = fopen(file, "w");
  if (!f) {
    perror(file);
    return CLI_LOCAL;
  }
  fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n", f);
  for (size_t k = 0; k < n; k++) {
    fputs("  <testsuite name=\"", f);
    xml(f, weft_contract_consumer(cs[k]));
    fputs(" -> ", f);
    xml(f, weft_contract_provider(cs[k]));
    fprintf(f, "\" tests=\"%zu\" failures=\"%zu\" file=\"", reps[k].n_results,
            reps[k].n_failed);
    xml(f, paths[k]);
    fputs("\">\n", f);
    for (size_t i = 0; i < reps[k].n_results; i++) {
      const weft_contract_result *r = &reps[k].results[i];
      fputs("    <testcase classname=\"", f);
      xml(f, r->method);
      fputs("\" name=\"", f);
      xml(f, r->name);
      fprintf(f, "\" time=\"%.3f\"", r->seconds);
      if (r->passed) {
        fputs("/>\n", f);
        continue;
      }
      fprintf(f, ">\n      <failure message=\"%zu difference%s\">", r->n_diffs,
              r->n_diffs == 1 ? "" : "s");
      for (size_t d = 0; d < r->n_diffs; d++) {
        xml(f, r->diffs[d].path);
        fputs(": ", f);
        xml(f, r->diffs[d].message);
        fputc('\n', f);
      }
      fputs("</failure>\n    </testcase>\n", f);
    }
    fputs("  </testsuite>\n", f);
  }
  fputs("</testsuites>\n", f);
  return fclose(f) == 0 ? CLI_OK : CLI_LOCAL;
}

int cli_contract_verify(int argc, char **argv) {
  const char *state = NULL, *junit = NULL, *scall = NULL;
  char **rest = calloc((size_t)argc + 1, sizeof *rest);
  char **pos = calloc((size_t)argc + 1, sizeof *pos);
  int nrest = 0, npos = 0, rc = CLI_OK;
  if (!rest || !pos) {
    free(rest);
    free(pos);
    return CLI_LOCAL;
  }
  for (int i = 0; i < argc; i++) {
    bool st = !strcmp(argv[i], "--state-cmd"), ju = !strcmp(argv[i], "--junit");
    bool sc = !strcmp(argv[i], "--state-call");
    if ((st || ju || sc) && i + 1 >= argc) {
      fprintf(stderr, "weft: %s needs a value\n%s", argv[i], usage);
      free(rest);
      free(pos);
      return CLI_USAGE;
    }
    if (st)
      state = argv[++i];
    else if (ju)
      junit = argv[++i];
    else if (sc)
      scall = argv[++i];
    else
      rest[nrest++] = argv[i];
  }
  cli_opts o;
  if (cli_parse(nrest, rest, &o, &npos, pos, argc, usage) < 0) {
    free(rest);
    free(pos);
    return CLI_USAGE;
  }
  free(rest);
  if (npos < 2) {
    fputs(usage, stderr);
    free(pos);
    cli_free(&o);
    return CLI_USAGE;
  }
  o.url = pos[0];
  size_t n = (size_t)npos - 1;
  weft_contract **cs = calloc(n, sizeof *cs);
  weft_contract_report *reps = calloc(n, sizeof *reps);
  weft_dyn_set *dyn = NULL;
  weft_client *client = NULL;
  if (!cs || !reps) {
    rc = CLI_LOCAL;
    goto out;
  }
  if ((o.proto_file || o.descriptor_set) &&
      (rc = cli_load_dyn(&o, &dyn)) != CLI_OK)
    goto out;
  weft_contract_opts lo = {0};
  lo.schema_fn = schema_fn;
  lo.schema = dyn;
  lo.fallback = cli_registry();
  for (size_t k = 0; k < n; k++) {
    weft_error err = {0};
    if (weft_contract_load(&cs[k], pos[k + 1], &lo, &err) < 0) {
      fprintf(stderr, "weft: %s: %s\n", pos[k + 1], err.message);
      rc = err.code == WEFT_ERR_NOMEM ? CLI_LOCAL : CLI_USAGE;
      goto out;
    }
  }
  if ((rc = cli_open(&o, &client)) != CLI_OK)
    goto out;
  weft_contract_verify_opts vo = {0};
  vo.timeout_ms = o.max_time > 0 ? (int64_t)(o.max_time * 1000) : 10000;
  state_hook hook = {state, client, NULL, NULL, vo.timeout_ms};
  if (scall) {
    /* The state method: in --proto/--descriptor-set, a contract's schema,
     * or what weft is compiled with. */
    const weft_dyn_set *where = dyn;
    hook.call = dyn ? weft_dyn_find_method(dyn, scall) : NULL;
    for (size_t k = 0; !hook.call && k < n; k++)
      if ((where = weft_contract_schema(cs[k])))
        hook.call = weft_dyn_find_method(where, scall);
    if (hook.call)
      hook.registry = weft_dyn_registry(where);
    else
      hook.call = cli_find_method(scall);
    if (!hook.call || hook.call->kind != WEFT_RPC_UNARY) {
      fprintf(stderr, "weft: --state-call %s: %s\n", scall,
              hook.call ? "not a unary method"
                        : "no such method in the schema");
      rc = CLI_USAGE;
      goto out;
    }
  }
  vo.state_fn = state || scall ? state_hook_fn : NULL;
  vo.state_ud = &hook;
  size_t total = 0, failed = 0;
  for (size_t k = 0; k < n; k++) {
    if (weft_contract_verify(cs[k], client, &vo, &reps[k]) < 0) {
      fprintf(stderr, "weft: out of memory\n");
      rc = CLI_LOCAL;
      goto out;
    }
    const char *who = weft_contract_consumer(cs[k]),
               *whom = weft_contract_provider(cs[k]);
    if (*who || *whom)
      printf("%s: %s -> %s\n", pos[k + 1], *who ? who : "?",
             *whom ? whom : "?");
    else
      printf("%s:\n", pos[k + 1]);
    for (size_t i = 0; i < reps[k].n_results; i++) {
      const weft_contract_result *r = &reps[k].results[i];
      printf("  %s  %s (%s, %.1f ms)\n", r->passed ? "PASS" : "FAIL", r->name,
             r->method, r->seconds * 1e3);
      for (size_t d = 0; d < r->n_diffs; d++)
        printf("        %s: %s\n", r->diffs[d].path, r->diffs[d].message);
    }
    total += reps[k].n_results;
    failed += reps[k].n_failed;
  }
  printf("%zu interaction%s, %zu passed, %zu failed\n", total,
         total == 1 ? "" : "s", total - failed, failed);
  if (junit && (rc = write_junit(junit, pos + 1, cs, reps, n)) != CLI_OK)
    goto out;
  rc = failed ? CLI_CONTRACT_FAILED : CLI_OK;
out:
  weft_client_close(client);
  for (size_t k = 0; cs && k < n; k++) {
    if (reps)
      weft_contract_report_clear(&reps[k]);
    weft_contract_free(cs[k]);
  }
  free(cs);
  free(reps);
  weft_dyn_free(dyn);
  free(pos);
  cli_free(&o);
  return rc;
}
