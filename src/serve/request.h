/* request.h: everything the server reads from a client, parsed and checked without touching the network,
 * the store or the model: routes, query values, id lists, JSON bodies (depth, types, lengths) and events.
 *
 * The one idea: this is the whole attack surface, so it is pure (jansson + libc only), bounded by the limits
 * below, and built on its own into the libFuzzer target tests/fuzz/fuzz_request.c. A parse function either
 * fills its output or returns -1 with an HTTP status, an error code and a message in a crec__reqerr. */
#ifndef CREC_SERVE_REQUEST_H
#define CREC_SERVE_REQUEST_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "crec/store.h"

#define CREC__MAX_K 1000          /* k of any top-k query */
#define CREC__MAX_LIST 1000       /* ids in exclude / history lists, attributes of an item */
#define CREC__MAX_EVENTS 10000    /* events in one POST /v1/events batch */
#define CREC__MAX_DEPTH 16        /* nesting of JSON arrays and objects */
#define CREC__MAX_TEXT 65536      /* bytes of an item's title or text */
#define CREC__MAX_TYPE 64         /* bytes of an event type name */

typedef enum {
    CREC__R_NONE = 0,
    CREC__R_USER_RECS,     /* GET /v1/users/{id}/recommendations */
    CREC__R_SESSION_RECS,  /* POST /v1/sessions/recommendations */
    CREC__R_SIMILAR,       /* GET /v1/items/{id}/similar */
    CREC__R_POPULAR,       /* GET /v1/popular */
    CREC__R_EVENTS,        /* POST /v1/events */
    CREC__R_ITEMS,         /* GET, POST /v1/items */
    CREC__R_ITEM,          /* GET, PUT, DELETE /v1/items/{id} */
    CREC__R_USER,          /* GET, DELETE /v1/users/{id} */
    CREC__R_RELOAD,        /* POST /v1/admin/reload */
    CREC__R_STATS,         /* GET /v1/stats */
    CREC__R_HEALTH,        /* GET /healthz */
    CREC__R_METRICS,       /* GET /metrics */
    CREC__R_OPENAPI,       /* GET /openapi.json */
    CREC__R_WEB,           /* GET / and the dashboard's files */
    CREC__R_COUNT
} crec__route;

typedef struct crec__match {
    crec__route route;     /* CREC__R_NONE when no route has this path */
    int status;            /* 0 matched; 404 no such path; 405 path known, method not */
    const char *allow;     /* methods of the path (for 405's Allow header) */
    const char *id;        /* the {id} segment, NUL-terminated copy in id_buf */
    char id_buf[CREC_STORE_MAX_ID + 1];
} crec__match;

typedef struct crec__reqerr {
    int status;            /* 400, 404, 413, ... */
    const char *code;      /* machine-readable: "bad_json", "bad_parameter", ... */
    char message[240];
} crec__reqerr;

/* Set *e and return -1 (for one-line error returns). */
int crec__reqerr_set(crec__reqerr *e, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Match method + path (the URL path without its query, already percent-decoded). Returns 0 when a route
 * matched, else -1 with m->status 404 or 405. */
int crec__route_match(const char *method, const char *path, crec__match *m);
/* Stable label of a route for metrics ("/v1/users/{id}/recommendations"). */
const char *crec__route_label(crec__route r);
/* 1 when the request changes state (needs an API key): every POST/PUT/DELETE except the session query. */
int crec__route_is_write(crec__route r, const char *method);

/* An external id: 1..CREC_STORE_MAX_ID bytes of valid UTF-8, no control characters, no '/'. */
int crec__id_ok(const char *s, size_t n);
/* Integer query value in [lo, hi]; s NULL gives def. */
int crec__parse_int(const char *name, const char *s, long lo, long hi, long def, long *out, crec__reqerr *e);
/* Boolean query value: 1/0/true/false; NULL gives def. */
int crec__parse_bool(const char *name, const char *s, int def, int *out, crec__reqerr *e);

/* A list of ids (slices into someone else's memory). */
typedef struct crec__idlist {
    const char **s;
    size_t *len;
    int n;
} crec__idlist;
void crec__idlist_free(crec__idlist *l);
/* "a,b,c" (empty parts skipped) into *l (caller frees with crec__idlist_free); NULL s gives an empty list. */
int crec__parse_idlist(const char *name, const char *s, crec__idlist *l, crec__reqerr *e);
/* A JSON array of id strings (or absent/null: empty) into *l; strings stay owned by the json value. */
int crec__json_idlist(const char *name, json_t *v, crec__idlist *l, crec__reqerr *e);

/* Nesting depth of JSON text (arrays and objects, strings skipped); -1 when unbalanced in a way that is
 * already certain. Cheap guard run before jansson parses. */
int crec__json_depth(const char *s, size_t n);
/* Parse a request body: depth <= CREC__MAX_DEPTH, valid JSON, no NUL. Returns a new reference or NULL + *e. */
json_t *crec__parse_json(const char *body, size_t n, crec__reqerr *e);

/* A POST /v1/events body: a JSON array of {"user", "item", "type"?, "value"?, "ts"?}. Strings point into
 * the json value (which must outlive *ev); a missing ts is `now`. Caller frees *ev. */
int crec__parse_events(json_t *body, int64_t now, crec_store_event **ev, int64_t *n, crec__reqerr *e);
/* An item body {"id"?, "title"?, "text"?, "attributes"?: [..], "visible"?: bool}. path_id (may be NULL) is
 * the id from the URL: a body id must then equal it. Strings point into the json value; it->attrs is
 * allocated (free it with free(), not crec_store_item_clear). */
int crec__parse_item(json_t *body, const char *path_id, crec_store_item *it, crec__reqerr *e);

/* A POST /v1/sessions/recommendations body. */
typedef struct crec__session_req {
    crec__idlist history, exclude;
    long k;
    const char *category;  /* NULL: any */
} crec__session_req;
int crec__parse_session(json_t *body, crec__session_req *r, crec__reqerr *e);
void crec__session_req_free(crec__session_req *r);

/* A POST /v1/admin/reload body: {"model"?: path, "data"?: path}; an empty body means "the same model". */
int crec__parse_reload(json_t *body, const char **model, const char **data, crec__reqerr *e);
#endif
