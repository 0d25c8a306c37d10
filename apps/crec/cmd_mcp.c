/* cmd_mcp.c: crec mcp: the Model Context Protocol server over stdio (include/crec/mcp.h, docs/MCP.md):
 * an MCP host (Claude Desktop, an agent framework, the TypeScript SDK's StdioClientTransport) starts it and
 * calls its recommendation tools. stdout carries protocol messages only; logs go to stderr. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "crec/mcp.h"

static const char MCP_HELP[] =
    "usage: crec mcp --db F|URL --model M.crecm [--data D.crecds] [--api-key-file F] [--key K] [--sync full|normal]\n\n"
    "Speaks the Model Context Protocol (revision " CREC_MCP_PROTOCOL ", also 2025-03-26 and 2024-11-05) over\n"
    "stdin/stdout: JSON-RPC 2.0, one message per line. Tools: recommend, similar_items, popular, search_items,\n"
    "explain, user_history, record_feedback; tools/list gives each one's input and output JSON Schema. The store F\n"
    "and the model M are opened as crec serve opens them (the same recommendation service answers). crec serve\n"
    "offers the same tools over HTTP at POST /mcp. See docs/MCP.md for an MCP host's configuration.\n\n"
    "  --data D          the dataset the model was trained on (default: the store's snapshot)\n"
    "  --api-key-file F  API keys, one per line; also CREC_API_KEYS=k1,k2. With keys, record_feedback needs one:\n"
    "  --key K           this client's key (also CREC_API_KEY)\n"
    "  --sync full|normal  store durability of record_feedback's writes (default full)\n";

int cmd_mcp(int argc, char **argv) {
    crec_mcp_opts o = {0};
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int bad = 0;
        if (cli_is_help(argv[i])) {
            fputs(MCP_HELP, stdout);
            return CLI_OK;
        }
        if (cli_opt(argc, argv, &i, "--db", &v, &bad)) { if (bad) return CLI_USAGE; o.db_path = v; continue; }
        if (cli_opt(argc, argv, &i, "--model", &v, &bad)) { if (bad) return CLI_USAGE; o.model_path = v; continue; }
        if (cli_opt(argc, argv, &i, "--data", &v, &bad)) { if (bad) return CLI_USAGE; o.data_path = v; continue; }
        if (cli_opt(argc, argv, &i, "--key", &v, &bad)) { if (bad) return CLI_USAGE; o.key = v; continue; }
        if (cli_opt(argc, argv, &i, "--api-key-file", &v, &bad)) {
            if (bad) return CLI_USAGE;
            o.api_key_file = v;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--sync", &v, &bad)) {
            if (bad) return CLI_USAGE;
            if (strcmp(v, "full") == 0) o.sync_normal = 0;
            else if (strcmp(v, "normal") == 0) o.sync_normal = 1;
            else {
                fprintf(stderr, "crec mcp: --sync is full or normal\n");
                return CLI_USAGE;
            }
            continue;
        }
        fprintf(stderr, "crec mcp: unknown option '%s' (see --help)\n", argv[i]);
        return CLI_USAGE;
    }
    if (!o.db_path || !o.model_path) {
        fprintf(stderr, "crec mcp: --db and --model are required (see --help)\n");
        return CLI_USAGE;
    }
    o.api_keys = getenv("CREC_API_KEYS");
    if (!o.key) o.key = getenv("CREC_API_KEY");
    signal(SIGPIPE, SIG_IGN);
    char err[1024];
    crec_mcp *m;
    int rc = crec_mcp_open(&o, &m, err, sizeof err);
    if (rc) {
        fprintf(stderr, "crec mcp: %s\n", err[0] ? err : crec_strerror(rc));
        return rc == CREC_EINVAL ? CLI_USAGE : CLI_FAIL;
    }
    fprintf(stderr, "crec mcp: serving MCP on stdio (store %s; model %s)\n", o.db_path, o.model_path);
    rc = crec_mcp_serve_stdio(m, stdin, stdout);
    crec_mcp_close(m);
    if (rc) fprintf(stderr, "crec mcp: cannot write to stdout: %s\n", crec_strerror(rc));
    return rc ? CLI_FAIL : CLI_OK;
}
