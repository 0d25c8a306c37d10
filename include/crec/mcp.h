/* mcp.h: crec as a Model Context Protocol server: the recommendation service, the store and a model behind
 * MCP tools (recommend, similar_items, popular, search_items, explain, user_history, record_feedback) that an
 * LLM agent calls over JSON-RPC 2.0. `crec mcp` speaks it over stdio (one JSON message per line); `crec serve`
 * offers the same dispatcher at POST /mcp (docs/MCP.md).
 *
 * The one idea: MCP is one more front end of the server's state (the store, the model bundle, the catalog,
 * the popularity counters - src/serve/), not a second implementation: every tool asks the same recommendation
 * service in the same way as the HTTP routes, so an agent and a web client get the same lists. Over stdio the
 * state is opened without its HTTP daemon and serves the calling thread.
 *
 * Auth: when keys are configured (api_keys / api_key_file, as crec serve), record_feedback needs one: over
 * stdio the client's key (opts.key: crec mcp --key, or CREC_API_KEY); over HTTP the request's Bearer key.
 * The read tools need none (over HTTP: unless crec serve --require-key-for-reads). */
#ifndef CREC_MCP_H
#define CREC_MCP_H

#include <stdio.h>
#include "crec/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CREC_MCP_PROTOCOL "2025-06-18"  /* the newest protocol revision spoken; 2025-03-26 and 2024-11-05 too */

typedef struct crec_mcp_opts {
    const char *db_path;       /* the store (created when absent, as crec serve does; then empty) */
    const char *model_path;    /* a .crecm checkpoint */
    const char *data_path;     /* the dataset the model was trained on, or NULL: the store's snapshot */
    const char *api_keys;      /* comma-separated keys (CREC_API_KEYS), or NULL */
    const char *api_key_file;  /* one key per line, or NULL */
    const char *key;           /* the client's own key (for record_feedback when keys are set), or NULL */
    int sync_normal;           /* store durability, as crec serve --sync normal */
} crec_mcp_opts;

typedef struct crec_mcp crec_mcp;

/* Open the store and the model. On failure *out is NULL and err says why (CREC_EINVAL: bad options or a key
 * that is not one of the configured keys; else the store's or the model's error). */
CREC_API int crec_mcp_open(const crec_mcp_opts *o, crec_mcp **out, char *err, size_t errn);
CREC_API void crec_mcp_close(crec_mcp *m);
/* One JSON-RPC message (text, n bytes) in; *reply gets the answer as one line of JSON (malloc'd, caller
 * frees) or NULL when the message wants none (a notification, a response). Protocol errors are answers
 * (-32700, -32600, -32601, -32602, -32603), not return codes: returns 0, or CREC_ENOMEM. */
CREC_API int crec_mcp_handle(crec_mcp *m, const char *msg, size_t n, char **reply);
/* Serve newline-delimited messages from in, answers to out (flushed per message), until EOF. Returns 0 at
 * EOF, or CREC_EIO when out cannot be written. Nothing but MCP messages is written to out. */
CREC_API int crec_mcp_serve_stdio(crec_mcp *m, FILE *in, FILE *out);

#ifdef __cplusplus
}
#endif
#endif
