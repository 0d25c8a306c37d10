/* mcp.c: the Model Context Protocol's JSON-RPC 2.0 layer over the server's state: message framing and
 * checks, the error codes JSON-RPC defines, the lifecycle (initialize with version negotiation, the
 * initialized notification, ping) and the tools methods (tools/list, tools/call -> mcp_tools.c).
 *
 * The one idea: a message is judged in the order JSON-RPC does - is it JSON (-32700), is it a request
 * object (-32600), is the method known (-32601), are its params right (-32602) - and only a request with an
 * id gets an answer. A tool that fails while running is not a protocol error: its answer is a result with
 * isError true and a message an agent can act on (MCP, "Error Handling"). Batches (JSON arrays) were removed
 * from the protocol in 2025-06-18 and are refused as invalid requests. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "serve/mcp.h"

static const char *const VERSIONS[] = {"2025-06-18", "2025-03-26", "2024-11-05"}; /* newest first */

int crec__mcp_errf(crec__mcp_err *e, int code, const char *fmt, ...) {
    e->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return -1;
}

static json_t *rpc_error(json_t *id, int code, const char *msg, json_t *data) {
    json_t *err = json_pack("{s:i,s:s}", "code", code, "message", msg);
    if (data) json_object_set_new(err, "data", data);
    return json_pack("{s:s,s:O,s:o}", "jsonrpc", "2.0", "id", id ? id : json_null(), "error", err);
}

static json_t *rpc_result(json_t *id, json_t *result) {
    return json_pack("{s:s,s:O,s:o}", "jsonrpc", "2.0", "id", id, "result", result);
}

static json_t *initialize(crec__mcp_client *cl, json_t *params, crec__mcp_err *e) {
    json_t *pv = json_object_get(params, "protocolVersion");
    if (!json_is_string(pv)) {
        crec__mcp_errf(e, CREC__RPC_INVALID_PARAMS, "initialize: params.protocolVersion must be a string");
        return NULL;
    }
    json_t *ci = json_object_get(params, "clientInfo"), *caps = json_object_get(params, "capabilities");
    if ((ci && !json_is_object(ci)) || (caps && !json_is_object(caps))) {
        crec__mcp_errf(e, CREC__RPC_INVALID_PARAMS, "initialize: params.%s must be an object",
                       ci && !json_is_object(ci) ? "clientInfo" : "capabilities");
        return NULL;
    }
    /* the client's revision when we speak it, else our newest (the client then decides whether to go on) */
    const char *v = VERSIONS[0];
    for (size_t k = 0; k < sizeof VERSIONS / sizeof *VERSIONS; k++)
        if (strcmp(json_string_value(pv), VERSIONS[k]) == 0) v = VERSIONS[k];
    snprintf(cl->version, sizeof cl->version, "%s", v);
    return json_pack("{s:s,s:{s:{s:b}},s:{s:s,s:s,s:s},s:s}", "protocolVersion", v, "capabilities", "tools",
                     "listChanged", 0, "serverInfo", "name", "crec", "title", "crec recommendation engine",
                     "version", CREC_VERSION_STRING, "instructions",
                     "Recommendation tools over a catalog of items. Items are named by external id and come "
                     "with title and attributes. Use search_items to find items by attribute names or title "
                     "words (it also lists matching attribute names), recommend for a user or a list of items "
                     "(with must_have / must_not_have attribute filters), similar_items, popular, explain "
                     "(why an item suits a user), user_history, and record_feedback to log what the user did.");
}

/* Answer one request object (it has an id) or notification (id NULL). */
static json_t *dispatch(crec_server *s, crec__mcp_client *cl, json_t *msg, json_t *id, int *was_init) {
    json_t *method = json_object_get(msg, "method"), *params = json_object_get(msg, "params");
    if (!json_is_string(method))
        return id ? rpc_error(id, CREC__RPC_INVALID_REQUEST, "invalid request: method must be a string", NULL) : NULL;
    const char *m = json_string_value(method);
    if (params && !json_is_object(params))
        return id ? rpc_error(id, CREC__RPC_INVALID_PARAMS, "invalid params: params must be an object", NULL) : NULL;
    if (!id) { /* notifications: none needs an answer, unknown ones are ignored (JSON-RPC) */
        if (strcmp(m, "notifications/initialized") == 0) cl->initialized = 1;
        return NULL;
    }
    crec__mcp_err e = {0};
    json_t *result = NULL;
    if (strcmp(m, "initialize") == 0) {
        if (!params) crec__mcp_errf(&e, CREC__RPC_INVALID_PARAMS, "initialize: params are required");
        else if ((result = initialize(cl, params, &e)) && was_init) *was_init = 1;
    } else if (strcmp(m, "ping") == 0) {
        result = json_object();
    } else if (strcmp(m, "tools/list") == 0) {
        json_t *cursor = params ? json_object_get(params, "cursor") : NULL;
        if (cursor && !json_is_string(cursor)) crec__mcp_errf(&e, CREC__RPC_INVALID_PARAMS, "tools/list: params.cursor must be a string");
        else result = crec__mcp_tools_list();
    } else if (strcmp(m, "tools/call") == 0) {
        json_t *name = params ? json_object_get(params, "name") : NULL;
        json_t *args = params ? json_object_get(params, "arguments") : NULL;
        json_t *sc = NULL;
        if (!json_is_string(name)) {
            crec__mcp_errf(&e, CREC__RPC_INVALID_PARAMS, "tools/call: params.name must be a string");
        } else if (args && !json_is_null(args) && !json_is_object(args)) {
            crec__mcp_errf(&e, CREC__RPC_INVALID_PARAMS, "tools/call: params.arguments must be an object");
        } else if (crec__mcp_tool_call(s, cl, json_string_value(name), json_is_object(args) ? args : NULL, &sc, &e) == 0) {
            char *text = json_dumps(sc, JSON_COMPACT | JSON_REAL_PRECISION(7));
            result = text ? json_pack("{s:[{s:s,s:s}],s:o,s:b}", "content", "type", "text", "text", text,
                                      "structuredContent", sc, "isError", 0)
                          : NULL;
            if (!text) json_decref(sc);
            free(text);
            if (!result) crec__mcp_errf(&e, CREC__RPC_INTERNAL, "internal error: out of memory");
        } else if (e.code == 0) { /* the tool ran and failed: a result the agent reads */
            result = json_pack("{s:[{s:s,s:s}],s:b}", "content", "type", "text", "text", e.message, "isError", 1);
        }
    } else {
        crec__mcp_errf(&e, CREC__RPC_NO_METHOD, "method not found: %s", m);
    }
    if (result) return rpc_result(id, result); /* takes result */
    if (!e.code) crec__mcp_errf(&e, CREC__RPC_INTERNAL, "internal error");
    return rpc_error(id, e.code, e.message, NULL);
}

json_t *crec__mcp_handle(crec_server *s, crec__mcp_client *cl, const char *text, size_t n, int *was_init,
                         int *status) {
    int st_dummy;
    if (!status) status = &st_dummy;
    if (was_init) *was_init = 0;
    *status = 400;
    if (memchr(text, 0, n) || crec__json_depth(text, n) < 0 || crec__json_depth(text, n) > CREC__MAX_DEPTH)
        return rpc_error(NULL, CREC__RPC_PARSE, "parse error: not JSON text (or nested deeper than 16)", NULL);
    json_error_t je;
    json_t *msg = json_loadb(text, n, JSON_DECODE_ANY, &je);
    if (!msg) {
        char m[240];
        snprintf(m, sizeof m, "parse error: line %d column %d: %s", je.line, je.column, je.text);
        return rpc_error(NULL, CREC__RPC_PARSE, m, NULL);
    }
    json_t *out = NULL, *id = json_is_object(msg) ? json_object_get(msg, "id") : NULL;
    if (json_is_array(msg)) {
        out = rpc_error(NULL, CREC__RPC_INVALID_REQUEST, "invalid request: batches are not supported", NULL);
    } else if (!json_is_object(msg)) {
        out = rpc_error(NULL, CREC__RPC_INVALID_REQUEST, "invalid request: a message is a JSON object", NULL);
    } else if (!json_is_string(json_object_get(msg, "jsonrpc")) ||
               strcmp(json_string_value(json_object_get(msg, "jsonrpc")), "2.0") != 0) {
        out = rpc_error(json_is_string(id) || json_is_integer(id) ? id : NULL, CREC__RPC_INVALID_REQUEST,
                        "invalid request: jsonrpc must be \"2.0\"", NULL);
    } else if (id && !json_is_string(id) && !json_is_integer(id)) {
        out = rpc_error(NULL, CREC__RPC_INVALID_REQUEST, "invalid request: id must be a string or an integer", NULL);
    } else if (!json_object_get(msg, "method") &&
               (json_object_get(msg, "result") || json_object_get(msg, "error"))) {
        out = NULL; /* a response: this server sends no requests, so nothing waits for it */
        *status = 202;
    } else {
        *status = 200;
        out = dispatch(s, cl, msg, id, was_init);
        if (!out) *status = 202;
        else if (json_object_get(out, "error") &&
                 json_integer_value(json_object_get(json_object_get(out, "error"), "code")) == CREC__RPC_INVALID_REQUEST)
            *status = 400;
    }
    json_decref(msg);
    return out;
}
