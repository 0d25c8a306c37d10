/* mcp.h (private): the MCP dispatcher over the server's state, shared by crec mcp (stdio, mcp_stdio.c) and
 * crec serve's POST /mcp (mcp_http.c): JSON-RPC 2.0 framing and errors, the lifecycle (initialize, ping,
 * notifications) in mcp.c; the tools, their JSON Schemas and their calls in mcp_tools.c. */
#ifndef CREC_SERVE_MCP_H
#define CREC_SERVE_MCP_H

#include "serve/serve_internal.h"

/* JSON-RPC 2.0 error codes. */
#define CREC__RPC_PARSE (-32700)
#define CREC__RPC_INVALID_REQUEST (-32600)
#define CREC__RPC_NO_METHOD (-32601)
#define CREC__RPC_INVALID_PARAMS (-32602)
#define CREC__RPC_INTERNAL (-32603)

/* One MCP client: a stdio session, or one HTTP request. */
typedef struct crec__mcp_client {
    int may_write;        /* record_feedback allowed: no keys configured, or the client's key is valid */
    int key_status;       /* when !may_write: 401 no key given, 403 a wrong key */
    int initialized;      /* notifications/initialized seen (informative: requests are not refused before) */
    char version[16];     /* the negotiated protocol revision ("" before initialize) */
} crec__mcp_client;

/* An error a tool call ends with: a protocol error (code != 0: invalid params) or, with code 0, a tool
 * execution error (isError result) whose message the agent reads. */
typedef struct crec__mcp_err {
    int code;
    char message[400];
} crec__mcp_err;
int crec__mcp_errf(crec__mcp_err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* One message text in; a new JSON-RPC answer, or NULL when none is due. *was_init (may be NULL) is set to 1
 * when the message was an initialize request that succeeded. *status (may be NULL) gets the HTTP status the
 * answer should carry (200; 400 for a parse error or an invalid request; 202 when there is no answer). */
json_t *crec__mcp_handle(crec_server *s, crec__mcp_client *cl, const char *text, size_t n, int *was_init,
                         int *status);

/* The tools (mcp_tools.c). list: a new {tools: [...]}. call: validates args against the tool's input schema
 * (CREC__RPC_INVALID_PARAMS naming the key) and runs it; on success a new structuredContent object in *out;
 * else -1 and *e (code 0: the tool failed - an isError result; else a protocol error). */
json_t *crec__mcp_tools_list(void);
int crec__mcp_tool_call(crec_server *s, crec__mcp_client *cl, const char *name, json_t *args, json_t **out,
                        crec__mcp_err *e);
#endif
