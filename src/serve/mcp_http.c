/* mcp_http.c: MCP over HTTP at POST /mcp (the protocol's "streamable HTTP" transport, answering in plain
 * JSON: this server never streams, so it never opens an SSE stream; GET /mcp is 405 as the transport allows).
 *
 * The one idea: one POST carries one JSON-RPC message and its answer is the body (application/json), or 202
 * with no body for a notification; the dispatcher is the stdio one (mcp.c). The server is stateless: an
 * initialize answer carries a fresh Mcp-Session-Id header as the transport asks, later requests may send it
 * back or not, and every tool reads the store as it is now. Keys are the REST API's: the route is a read
 * (a key only with --require-key-for-reads), and record_feedback needs a valid Bearer key whenever the server
 * has keys. An MCP-Protocol-Version header that names a revision this server does not speak is a 400. */
#include <fcntl.h>
#include <microhttpd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"
#include "serve/mcp.h"
#include "serve/routes.h"

static void session_id(char *buf, size_t n) {
    unsigned char r[16] = {0};
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    ssize_t got = fd >= 0 ? read(fd, r, sizeof r) : -1;
    if (fd >= 0) close(fd);
    if (got != (ssize_t)sizeof r) { /* no urandom: time and address (unique enough for a stateless server) */
        double t = crec__now();
        memcpy(r, &t, sizeof t);
        uintptr_t p = (uintptr_t)buf;
        memcpy(r + 8, &p, sizeof p < 8 ? sizeof p : 8);
    }
    size_t k = 0;
    for (int i = 0; i < 16 && k + 3 <= n; i++) k += (size_t)snprintf(buf + k, n - k, "%02x", r[i]);
}

void crec__h_mcp(crec_server *s, crec__tls *t, crec__req *q, crec__reply *r) {
    (void)t;
    const char *pv = q->conn ? MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, "MCP-Protocol-Version") : NULL;
    if (pv && strcmp(pv, "2025-06-18") && strcmp(pv, "2025-03-26") && strcmp(pv, "2024-11-05")) {
        crec__reply_err(r, 400, "bad_protocol_version",
                        "MCP-Protocol-Version %.32s is not spoken here (2025-06-18, 2025-03-26, 2024-11-05)", pv);
        return;
    }
    crec__mcp_client cl = {.may_write = s->n_keys == 0};
    if (!cl.may_write) {
        cl.key_status = crec__auth_check(s, q->conn);
        cl.may_write = cl.key_status == 0;
    }
    int was_init = 0, status = 200;
    json_t *o = crec__mcp_handle(s, &cl, q->body ? q->body : "", q->body_len, &was_init, &status);
    if (!o) {
        r->status = 202; /* a notification or a response: accepted, no body */
        return;
    }
    if (was_init) {
        r->header_name = "Mcp-Session-Id";
        session_id(r->header_value, sizeof r->header_value);
    }
    crec__reply_json(r, status, o);
}
