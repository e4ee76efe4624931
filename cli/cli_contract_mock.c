/* weft contract mock CONTRACT... : serves consumer contracts with no
 * provider behind them (weft_contract_mock_start), on every transport,
 * until SIGINT or SIGTERM; prints the listening URLs first, one a line, so
 * a test can read them. --verify-on-exit turns the end into a check that
 * the consumer exercised every interaction and sent nothing unmatched. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "weft/contract.h"

enum { CLI_MOCK_FAILED = 100 };

static const char usage[] =
    "usage: weft contract mock CONTRACT... [options]\n"
    "  Serves the interactions of each CONTRACT (docs/CONTRACTS.md) as a\n"
    "  stub provider: a call that fits an interaction (method, request\n"
    "  fields the example names, request matchers, metadata, provider\n"
    "  states) gets its responses, metadata and status; any other call gets\n"
    "  FAILED_PRECONDITION with the nearest interaction's differences.\n"
    "  Prints the listening URLs on stdout, one a line, then serves until\n"
    "  SIGINT or SIGTERM.\n"
    "  --grpc-port N --h2-port N --ws-port N --tcp-port N\n"
    "                            listeners (0: a free port); none given: all\n"
    "                            four on free ports\n"
    "  --host ADDR               where they listen (default 127.0.0.1)\n"
    "  --listen URL              another listener, any weft server URL\n"
    "                            (grpcs://, https://, wss://, tls:// with\n"
    "                            --cert and --key)\n"
    "  --cert F --key F          the TLS listeners' certificate and key\n"
    "  --state S                 a provider state in force (repeatable), for\n"
    "                            calls without " WEFT_CONTRACT_STATE_KEY
    " metadata\n"
    "  --pace recorded|immediate server streams wait each response's\n"
    "                            recorded delay (delaysMs; default) or not\n"
    "  --verify-on-exit          at SIGINT/SIGTERM, list interactions never\n"
    "                            exercised and calls that matched none, and\n"
    "                            exit 100 if there are any\n"
    "  --proto FILE | --descriptor-set FILE   the schema, instead of the\n"
    "                            contracts' own\n"
    "exit: 0 stopped by a signal (and, with --verify-on-exit, everything\n"
    "      exercised), 100 --verify-on-exit found gaps, 2 usage or a bad\n"
    "      contract, 4 cannot listen or local failure\n";

/* Schema files a contract names (as weft contract verify reads them). */
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

int cli_contract_mock(int argc, char **argv) {
  const char *host = "127.0.0.1", *cert = NULL, *key = NULL;
  const char *proto = NULL, *dset = NULL;
  bool verify = false, immediate = false;
  char **paths = calloc((size_t)argc + 1, sizeof *paths);
  char **urls = calloc((size_t)argc + 8, sizeof *urls);
  const char **states = calloc((size_t)argc + 1, sizeof *states);
  size_t npaths = 0, nurls = 0, nstates = 0;
  int rc = CLI_OK;
  weft_contract **cs = NULL;
  weft_dyn_set *dyn = NULL;
  weft_contract_mock *m = NULL;
  if (!paths || !urls || !states) {
    rc = CLI_LOCAL;
    goto out;
  }
  static const char *const ports[][2] = {{"--grpc-port", "grpc"},
                                         {"--h2-port", "h2c"},
                                         {"--ws-port", "ws"},
                                         {"--tcp-port", "tcp"}};
  const char *port_of[4] = {NULL, NULL, NULL, NULL};
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    int p = -1;
    for (int k = 0; k < 4; k++)
      if (!strcmp(a, ports[k][0]))
        p = k;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      fputs(usage, stdout);
      goto out;
    } else if (!strcmp(a, "--verify-on-exit")) {
      verify = true;
      continue;
    } else if (a[0] != '-') {
      paths[npaths++] = argv[i];
      continue;
    } else if (!v) {
      fprintf(stderr, "weft: %s needs a value\n%s", a, usage);
      rc = CLI_USAGE;
      goto out;
    }
    i++;
    if (p >= 0) {
      char *end;
      long n = strtol(v, &end, 10);
      if (*end || n < 0 || n > 65535) {
        fprintf(stderr, "weft: %s %s: not a port\n", a, v);
        rc = CLI_USAGE;
        goto out;
      }
      port_of[p] = v;
    } else if (!strcmp(a, "--host")) {
      host = v;
    } else if (!strcmp(a, "--listen")) {
      urls[nurls++] = strdup(v);
    } else if (!strcmp(a, "--cert")) {
      cert = v;
    } else if (!strcmp(a, "--key")) {
      key = v;
    } else if (!strcmp(a, "--state")) {
      states[nstates++] = v;
    } else if (!strcmp(a, "--proto")) {
      proto = v;
    } else if (!strcmp(a, "--descriptor-set")) {
      dset = v;
    } else if (!strcmp(a, "--pace") &&
               (!strcmp(v, "recorded") || !strcmp(v, "immediate"))) {
      immediate = !strcmp(v, "immediate");
    } else {
      fprintf(stderr, "weft: unknown option %s\n%s", a, usage);
      rc = CLI_USAGE;
      goto out;
    }
  }
  if (npaths == 0) {
    fputs(usage, stderr);
    rc = CLI_USAGE;
    goto out;
  }
  bool any_port = port_of[0] || port_of[1] || port_of[2] || port_of[3];
  bool v6 = strchr(host, ':') != NULL, all = !any_port && !nurls;
  for (int k = 0; k < 4; k++) {
    if (!port_of[k] && !all)
      continue;
    if (asprintf(&urls[nurls], v6 ? "%s://[%s]:%s" : "%s://%s:%s", ports[k][1],
                 host, port_of[k] ? port_of[k] : "0") < 0) {
      rc = CLI_LOCAL;
      goto out;
    }
    nurls++;
  }
  if (proto || dset) {
    cli_opts o;
    memset(&o, 0, sizeof o);
    o.proto_file = proto;
    o.descriptor_set = dset;
    if ((rc = cli_load_dyn(&o, &dyn)) != CLI_OK)
      goto out;
  }
  if (!(cs = calloc(npaths, sizeof *cs))) {
    rc = CLI_LOCAL;
    goto out;
  }
  weft_contract_opts lo = {0};
  lo.schema_fn = schema_fn;
  lo.schema = dyn;
  lo.fallback = cli_registry();
  for (size_t k = 0; k < npaths; k++) {
    weft_error err = {0};
    if (weft_contract_load(&cs[k], paths[k], &lo, &err) < 0) {
      fprintf(stderr, "weft: %s: %s\n", paths[k], err.message);
      rc = err.code == WEFT_ERR_NOMEM ? CLI_LOCAL : CLI_USAGE;
      goto out;
    }
  }
  /* Signals are taken by sigwait on this thread: block them before the
   * server starts its threads, which inherit the mask. */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  weft_server_opts so;
  memset(&so, 0, sizeof so);
  so.tls.cert_file = cert;
  so.tls.key_file = key;
  so.shutdown_grace_ms = 1000;
  weft_contract_mock_opts mo = {0};
  mo.listen = (const char *const *)urls;
  mo.states = states;
  mo.immediate = immediate;
  mo.server = &so;
  weft_error err = {0};
  if (weft_contract_mock_start(&m, (const weft_contract *const *)cs, npaths,
                               &mo, &err) < 0) {
    fprintf(stderr, "weft: %s\n", err.message);
    rc = err.code == WEFT_ERR_MALFORMED ? CLI_USAGE : CLI_LOCAL;
    goto out;
  }
  weft_contract_mock_report r;
  if (weft_contract_mock_get_report(m, &r) == 0) {
    for (size_t k = 0; k < r.n_warnings; k++)
      fprintf(stderr, "weft: warning: %s\n", r.warnings[k]);
    weft_contract_mock_report_clear(&r);
  }
  for (size_t k = 0; weft_contract_mock_url(m, k); k++)
    printf("%s\n", weft_contract_mock_url(m, k));
  fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  if (verify) {
    weft_contract_report vr = {0};
    if (weft_contract_mock_verify(m, &vr) < 0) {
      rc = CLI_LOCAL;
      goto out;
    }
    for (size_t k = 0; k < vr.n_results; k++) {
      const weft_contract_result *res = &vr.results[k];
      if (res->passed)
        continue;
      if (*res->method)
        fprintf(stderr, "weft: not exercised: \"%s\" (%s)\n", res->name,
                res->method);
      else
        fprintf(stderr, "weft: unmatched call: %s\n", res->diffs[0].message);
    }
    fprintf(stderr, "weft: %zu interaction%s, %zu gap%s\n", vr.n_results,
            vr.n_results == 1 ? "" : "s", vr.n_failed,
            vr.n_failed == 1 ? "" : "s");
    rc = vr.n_failed ? CLI_MOCK_FAILED : CLI_OK;
    weft_contract_report_clear(&vr);
  }
out:
  weft_contract_mock_stop(m);
  for (size_t k = 0; cs && k < npaths; k++)
    weft_contract_free(cs[k]);
  free(cs);
  weft_dyn_free(dyn);
  for (size_t k = 0; urls && k < nurls; k++)
    free(urls[k]);
  free(urls);
  free(paths);
  free(states);
  return rc;
}
