/* reply.c: the answers of route handlers: errors in the one error shape, store errors as HTTP statuses,
 * JSON strings, query arguments (the only libmicrohttpd call a handler makes, through crec__query).
 *
 * The one idea: every error a client sees is {"error": {"code", "message"}} with a documented code, built
 * here and nowhere else. */
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crec/common.h"
#include "serve/reply.h"

const char *crec__query(const crec__req *q, const char *name) {
    return q->conn ? MHD_lookup_connection_value(q->conn, MHD_GET_ARGUMENT_KIND, name) : NULL;
}

crec__reply *crec__reply_err(crec__reply *r, int status, const char *code, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_decref(r->json);
    r->status = status;
    r->json = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
    return r;
}

crec__reply *crec__reply_reqerr(crec__reply *r, const crec__reqerr *e) {
    return crec__reply_err(r, e->status ? e->status : 400, e->code ? e->code : "bad_request", "%s", e->message);
}

crec__reply *crec__reply_store_err(crec__reply *r, int rc, const char *what, const char *id) {
    if (rc == CREC_ENOTFOUND) return crec__reply_err(r, 404, what[0] == 'u' ? "user_not_found" : "item_not_found",
                                                     "%s '%s' does not exist", what, id ? id : "");
    if (rc == CREC_ESTATE) {
        r->retry_after = 1;
        return crec__reply_err(r, 503, "busy", "the store is busy; retry");
    }
    if (rc == CREC_EEXISTS) return crec__reply_err(r, 409, "exists", "%s '%s' already exists", what, id ? id : "");
    return crec__reply_err(r, 500, "internal", "store error: %s", crec_strerror(rc));
}

void crec__reply_json(crec__reply *r, int status, json_t *o) {
    json_decref(r->json);
    r->status = status;
    r->json = o;
}

json_t *crec__jstr(const char *s) {
    if (!s) return json_null();
    json_t *v = json_string(s);
    if (v) return v;
    size_t n = strlen(s);
    char *u = malloc(2 * n + 1), *o = u;
    if (!u) return json_null();
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int len = (*p & 0xE0) == 0xC0 ? 2 : (*p & 0xF0) == 0xE0 ? 3 : (*p & 0xF8) == 0xF0 ? 4 : 1;
        int ok = *p < 0x80 || len > 1;
        for (int k = 1; ok && k < len; k++) ok = (p[k] & 0xC0) == 0x80;
        if (*p < 0x80) {
            *o++ = (char)*p;
        } else if (ok) {
            memcpy(o, p, (size_t)len);
            o += len;
            p += len - 1;
        } else {
            *o++ = (char)(0xC0 | (*p >> 6));
            *o++ = (char)(0x80 | (*p & 0x3F));
        }
    }
    *o = 0;
    v = json_string(u);
    free(u);
    return v ? v : json_null();
}

json_t *crec__jstrn(const char *s, size_t n) {
    char buf[CREC_STORE_MAX_ID + 1];
    if (n > CREC_STORE_MAX_ID) n = CREC_STORE_MAX_ID;
    memcpy(buf, s, n);
    buf[n] = 0;
    return crec__jstr(buf);
}
