/* The weft command: call, list, describe, subscribe, publish on any weft or
 * gRPC endpoint, and serve the AITBC reference node. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "usage: weft COMMAND [options]\n"
    "commands:\n"
    "  call URL METHOD [-d JSON]   call any method, JSON in and out (also of\n"
    "                              services weft was not built with:\n"
    "                              --proto F, --descriptor-set F, or gRPC\n"
    "                              reflection)\n"
    "  list URL                    list services (gRPC reflection on grpc://)\n"
    "  describe URL NAME           show a service, method, message or enum\n"
    "  subscribe URL TOPIC         print events published to a topic\n"
    "  publish URL TOPIC -d JSON   publish an event (JSON Any)\n"
    "  serve [options]             run the AITBC reference node (and, with\n"
    "                              --mb-port, an MB broker)\n"
    "  breaking NEW --against OLD  report schema changes that break peers\n"
    "  contract check C --against SCHEMA  check a consumer's contract\n"
    "  contract verify URL C...    replay consumer contracts against a "
    "provider\n"
    "  contract mock C...          serve contracts as a stub provider\n"
    "  contract record --upstream URL --listen URL --out C\n"
    "                              record calls through a proxy as a "
    "contract\n"
    "call, subscribe and publish also speak MB through a broker: URL\n"
    "mb://h:p, mb+tcp://h:p or mb+ws://h:p, over TLS mbs://h:p or\n"
    "mb+wss://h:p (`weft call mb://h:p --help`).\n"
    "`weft COMMAND --help` shows each command's options and exit codes.\n"
    "exit codes: 0 OK, 2 usage or bad input, 3 cannot connect, 4 local\n"
    "failure, 10+N the call ended with gRPC status N (16 UNAUTHENTICATED\n"
    "-> 26, 12 UNIMPLEMENTED -> 22), 100 breaking changes found (or a\n"
    "contract broken or unverified).\n";

int main(int argc, char **argv) {
  if (argc < 2) {
    fputs(usage, stderr);
    return CLI_USAGE;
  }
  const char *cmd = argv[1];
  argc -= 2;
  argv += 2;
#ifdef WEFT_CLI_MB
  /* An MB broker URL: the topic-based MB client, not weft's RPC client. */
  if (argc > 0 && cli_is_mb_url(argv[0])) {
    if (!strcmp(cmd, "call"))
      return cli_mb_call(argc, argv);
    if (!strcmp(cmd, "subscribe"))
      return cli_mb_subscribe(argc, argv);
    if (!strcmp(cmd, "publish"))
      return cli_mb_publish(argc, argv);
  }
#endif
  if (!strcmp(cmd, "call"))
    return cli_call(argc, argv);
  if (!strcmp(cmd, "list"))
    return cli_list(argc, argv);
  if (!strcmp(cmd, "describe"))
    return cli_describe(argc, argv);
  if (!strcmp(cmd, "subscribe"))
    return cli_subscribe(argc, argv);
  if (!strcmp(cmd, "publish"))
    return cli_publish(argc, argv);
  if (!strcmp(cmd, "serve"))
    return cli_serve(argc, argv);
  if (!strcmp(cmd, "contract") && argc > 0 && !strcmp(argv[0], "verify"))
    return cli_contract_verify(argc - 1, argv + 1);
  if (!strcmp(cmd, "contract") && argc > 0 && !strcmp(argv[0], "mock"))
    return cli_contract_mock(argc - 1, argv + 1);
  if (!strcmp(cmd, "contract") && argc > 0 && !strcmp(argv[0], "record"))
    return cli_contract_record(argc - 1, argv + 1);
  if (!strcmp(cmd, "breaking"))
    return cli_breaking(argc, argv);
  if (!strcmp(cmd, "contract"))
    return cli_contract(argc, argv);
  if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
    fputs(usage, stdout);
    return CLI_OK;
  }
  fprintf(stderr, "weft: unknown command '%s'\n%s", cmd, usage);
  return CLI_USAGE;
}
