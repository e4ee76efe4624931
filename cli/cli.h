/* The weft command: shared pieces of its subcommands. */
#ifndef WEFT_CLI_H
#define WEFT_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "weft/client.h"
#include "weft/http.h"
#include "weft/dyndesc.h"
#include "weft/json.h"
#include "weft/transport.h"

/* Exit codes (documented in `weft --help` and README). */
enum {
  CLI_OK = 0,
  CLI_USAGE = 2,    /* bad command line or input JSON */
  CLI_CONNECT = 3,  /* could not connect (or TLS failed) */
  CLI_LOCAL = 4,    /* anything else that failed on this side */
  CLI_RPC_BASE = 10 /* the call ended with status code N: exit 10 + N */
};

typedef struct cli_opts {
  const char *url;
  weft_client_opts client;
  weft_metadata headers;
  const char *data; /* -d: JSON text, @file or - */
  double max_time;  /* seconds; 0: none */
  bool plaintext, insecure, verbose, camel, emit_defaults;
  bool quiet_connect;         /* cli_open prints nothing (a reconnect loop) */
  const char *proto_file;     /* --proto */
  const char *descriptor_set; /* --descriptor-set */
  const weft_registry *registry; /* JSON Any types; NULL: cli_registry() */
  bool protocol_set;             /* --protocol given */
  weft_http_client_opts http;    /* --protocol, for http:// and https:// */
} cli_opts;

/* Parses the options common to client subcommands starting at argv[i];
 * returns the index of the first non-option argument, or -1 (message
 * printed) on a bad option. Positional arguments are left in place. */
int cli_parse(int argc, char **argv, cli_opts *o, int *npos, char **pos,
              int maxpos, const char *usage);
void cli_free(cli_opts *o);

/* Normalizes the URL (host:port -> grpc:// or grpcs://) and opens it. */
int cli_open(cli_opts *o, weft_client **out);
/* The registry of every compiled-in file (AITBC, weft, WKT, ...). */
weft_registry *cli_registry(void);
/* "pkg.Svc/Method", "/pkg.Svc/Method" or "pkg.Svc.Method". */
const weft_method_desc *cli_find_method(const char *name);
/* Run-time descriptors from --proto, --descriptor-set, or gRPC reflection
 * on grpc:// URLs (cli_describe.c). Prints what failed; returns CLI_*. */
int cli_load_dyn(cli_opts *o, weft_dyn_set **out);
/* Reads -d: literal JSON, @file, or - for stdin. Malloc'd; NULL on error. */
char *cli_read_data(const char *d, size_t *len);
/* Prints msg as one JSON document (one line unless pretty). */
int cli_print_json(FILE *f, const void *msg, const cli_opts *o);
/* Prints "code: message" for a non-OK status; returns the exit code. */
int cli_status_exit(const weft_status *st);
void cli_verbose(const cli_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

int cli_call(int argc, char **argv);
int cli_list(int argc, char **argv);
int cli_describe(int argc, char **argv);
int cli_subscribe(int argc, char **argv);
int cli_publish(int argc, char **argv);
int cli_serve(int argc, char **argv);
/* weft contract verify (cli_contract_verify.c); argv after "verify". */
int cli_contract_verify(int argc, char **argv);
/* weft contract mock (cli_contract_mock.c); argv after "mock". */
int cli_contract_mock(int argc, char **argv);
/* weft contract record (cli_contract_record.c); argv after "record". */
int cli_contract_record(int argc, char **argv);
/* The same commands through an MB broker (cli_mb.c). */
bool cli_is_mb_url(const char *url);
int cli_mb_call(int argc, char **argv);
int cli_mb_subscribe(int argc, char **argv);
int cli_mb_publish(int argc, char **argv);
int cli_breaking(int argc, char **argv);
int cli_contract(int argc, char **argv);
/* weft contract check of one contract file against a schema already built:
 * prints one line per broken expectation (JSON objects if json) and sets
 * *n_broken. Returns CLI_OK, or CLI_USAGE for an unreadable contract. */
int cli_contract_check_set(const char *contract, const weft_dyn_set *set,
                           bool json, int *n_broken);
/* A schema as `weft breaking` reads it (folder, .proto file, descriptor
 * set, git:REV[:DIR]) as a serialized FileDescriptorSet with its imports
 * (malloc'd). Prints what failed; returns CLI_*. */
int cli_load_schema(const char *spec, const char *const *inc, size_t n_inc,
                    uint8_t **data, size_t *len);

#endif
