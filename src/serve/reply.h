/* reply.h: what a route handler gets and gives: the parsed request (crec__req) and the answer (crec__reply),
 * with the helpers every handler shares - error replies in the one error shape, store errors mapped to HTTP
 * statuses, JSON strings from any bytes, query arguments.
 *
 * The one idea: handlers never touch libmicrohttpd. They read a crec__req and fill a crec__reply; server.c
 * alone turns the reply into HTTP. This header sits between the pure parsing below it (request.h) and the
 * server above it, and includes nothing of the server. */
#ifndef CREC_SERVE_REPLY_H
#define CREC_SERVE_REPLY_H

#include <jansson.h>
#include <stddef.h>

#include "serve/request.h"

struct MHD_Connection;

/* A reply: JSON, or a static/owned byte body with a content type. */
typedef struct crec__reply {
    int status;
    json_t *json;             /* owned; serialized compactly */
    const void *data;         /* static data (not freed) ... */
    char *owned;              /* ... or owned text (freed) */
    size_t len;
    const char *ctype;
    const char *allow;        /* Allow header for 405 */
    int retry_after;          /* seconds, for 503 */
    const char *header_name;  /* one more header (Mcp-Session-Id), or NULL */
    char header_value[80];
    char *hist_users;         /* owned: a committed event write's users, NUL-separated (histcache.h), or NULL */
    size_t hist_users_len;
} crec__reply;

/* A parsed request handed to the route handlers. */
typedef struct crec__req {
    struct MHD_Connection *conn;
    const char *method;
    crec__match m;
    const char *body;         /* NUL-terminated, may be NULL */
    size_t body_len;
} crec__req;

/* Query argument (percent-decoded) or NULL. */
const char *crec__query(const crec__req *q, const char *name);

/* Error reply {"error": {"code", "message"}}; returns r for chaining. */
crec__reply *crec__reply_err(crec__reply *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
crec__reply *crec__reply_reqerr(crec__reply *r, const crec__reqerr *e);
/* Map a store error to a reply: ENOTFOUND 404 (what names the thing), ESTATE 503, EEXISTS 409, else 500. */
crec__reply *crec__reply_store_err(crec__reply *r, int rc, const char *what, const char *id);
/* A reply with status and JSON o (owned; replaces what r held). */
void crec__reply_json(crec__reply *r, int status, json_t *o);

/* A JSON string of s (NULL -> null). Bytes that are not UTF-8 are read as Latin-1 (MovieLens titles are). */
json_t *crec__jstr(const char *s);
/* The same of s[0..n) (at most CREC_STORE_MAX_ID bytes). */
json_t *crec__jstrn(const char *s, size_t n);
#endif
