/* mcp_stdio.c: crec mcp - the MCP dispatcher over stdio (include/crec/mcp.h): the server's state opened
 * without its HTTP daemon, one client, newline-delimited JSON-RPC messages in and out.
 *
 * The one idea: the stdio transport is the simplest there is - a line in, at most a line out, flushed - so
 * this file only frames; the protocol is mcp.c's and the tools are mcp_tools.c's, the same as over HTTP.
 * The client's key is checked once at open: a key that is not one of the configured keys is an error there,
 * not a surprise at the first write. */
#include <stdlib.h>
#include <string.h>

#include "crec/mcp.h"
#include "serve/mcp.h"

#define MAX_LINE (16u << 20) /* a longer message is answered with a parse error and skipped */

struct crec_mcp {
    crec_server *s;
    crec__mcp_client cl;
};

int crec_mcp_open(const crec_mcp_opts *o, crec_mcp **out, char *err, size_t errn) {
    *out = NULL;
    if (err && errn) err[0] = 0;
    if (!o || !o->db_path || !o->model_path) {
        if (err) snprintf(err, errn, "the store (--db) and the model (--model) are required");
        return CREC_EINVAL;
    }
    crec_mcp *m = calloc(1, sizeof *m);
    if (!m) return CREC_ENOMEM;
    crec_serve_opts so;
    crec_serve_opts_defaults(&so);
    so.db_path = o->db_path;
    so.model_path = o->model_path;
    so.data_path = o->data_path;
    so.api_keys = o->api_keys;
    so.api_key_file = o->api_key_file;
    so.sync_normal = o->sync_normal;
    int rc = crec__server_open(&so, 0, &m->s, err, errn);
    if (rc) {
        free(m);
        return rc;
    }
    m->cl.may_write = m->s->n_keys == 0;
    m->cl.key_status = 401;
    if (o->key && *o->key) {
        if (m->s->n_keys > 0 && !crec__auth_key_ok(m->s, o->key, strlen(o->key))) {
            if (err) snprintf(err, errn, "the key given (--key or CREC_API_KEY) is not one of the server's API keys");
            crec_mcp_close(m);
            return CREC_EINVAL;
        }
        m->cl.may_write = 1;
    }
    *out = m;
    return 0;
}

void crec_mcp_close(crec_mcp *m) {
    if (!m) return;
    /* the calling thread's state (store connection, scratch): no thread exit will free it */
    crec__tls *t = pthread_getspecific(m->s->tls_key);
    if (t) {
        pthread_setspecific(m->s->tls_key, NULL);
        crec__tls_free(t);
    }
    crec_server_stop(m->s);
    free(m);
}

int crec_mcp_handle(crec_mcp *m, const char *msg, size_t n, char **reply) {
    *reply = NULL;
    json_t *o = crec__mcp_handle(m->s, &m->cl, msg, n, NULL, NULL);
    if (!o) return 0;
    *reply = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(7));
    json_decref(o);
    return *reply ? 0 : CREC_ENOMEM;
}

int crec_mcp_serve_stdio(crec_mcp *m, FILE *in, FILE *out) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    while (!rc && (n = getline(&line, &cap, in)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
        size_t sp = 0;
        while (sp < (size_t)n && (line[sp] == ' ' || line[sp] == '\t')) sp++;
        if (sp == (size_t)n) continue; /* blank lines between messages */
        char *reply = NULL;
        if ((size_t)n > MAX_LINE) {
            reply = strdup("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":"
                           "\"parse error: the message is longer than 16 MiB\"}}");
        } else if (crec_mcp_handle(m, line, (size_t)n, &reply)) {
            reply = strdup("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32603,\"message\":"
                           "\"internal error: out of memory\"}}");
        }
        if (reply && (fputs(reply, out) < 0 || fputc('\n', out) < 0 || fflush(out) != 0)) rc = CREC_EIO;
        free(reply);
    }
    free(line);
    return rc;
}
