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

/* Who may call a route: OPEN never needs a key; READ needs one only with --require-key-for-reads; PRIVATE
 * (a person's history, the server's statistics and metrics, which name files and volumes) needs one whenever
 * keys are set, as WRITE does; WRITE also runs through the writer thread (writer.c). */
typedef enum { CREC__OPEN = 0, CREC__READ, CREC__PRIVATE, CREC__WRITE } crec__auth;

/* THE route table: one line per method and path, expanded here (the route enum), by request.c (matching,
 * labels, auth: pure data, fuzzed) and by routes.c (the handlers). Columns:
 *   NAME     the enum value CREC__R_NAME
 *   METHOD   one HTTP method (HEAD goes wherever GET does)
 *   PATTERN  the path; "{id}" is one segment holding an external id (a bad id is 400; a pattern may hold two:
 *            the second is m.id2), "{file}" one segment holding a dashboard file name ([a-z0-9_.-], else no
 *            match); a pattern of literal segments only that fits a path owns it ("/v1/items/latest" beats
 *            "/v1/items/{id}"), else the first line whose pattern fits, and the lines with that same pattern
 *            give its methods (405 + Allow otherwise)
 *   LABEL    the route's name in metrics, NULL: the pattern (the lines of one path share it)
 *   AUTH     CREC__OPEN, CREC__READ or CREC__WRITE
 *   STORE    1: the handler uses the thread's store connection (one read transaction, or the write lock)
 *   HANDLER  the function in routes.h that answers */
#define CREC__ROUTES(X) \
    X(USER_RECS,    "GET",    "/v1/users/{id}/recommendations",  NULL,            CREC__READ,  1, crec__h_user_recs) \
    X(SESSION_RECS, "POST",   "/v1/sessions/recommendations",    NULL,            CREC__READ,  1, crec__h_session_recs) \
    X(CONV_START,   "POST",   "/v1/conversations",               NULL,            CREC__WRITE, 1, crec__h_conv_start) \
    X(CONV_TURN,    "POST",   "/v1/conversations/{id}/turns",    NULL,            CREC__WRITE, 1, crec__h_conv_turn) \
    X(CONV_GET,     "GET",    "/v1/conversations/{id}",          NULL,            CREC__READ,  1, crec__h_conv_get) \
    X(SIMILAR,      "GET",    "/v1/items/{id}/similar",          NULL,            CREC__READ,  1, crec__h_similar) \
    X(POPULAR,      "GET",    "/v1/popular",                     NULL,            CREC__READ,  1, crec__h_popular) \
    X(EVENTS,       "POST",   "/v1/events",                      NULL,            CREC__WRITE, 1, crec__h_events) \
    X(ITEMS,        "GET",    "/v1/items",                       NULL,            CREC__READ,  1, crec__h_items_list) \
    X(ITEMS_CREATE, "POST",   "/v1/items",                       NULL,            CREC__WRITE, 1, crec__h_item_create) \
    X(ITEM,         "GET",    "/v1/items/{id}",                  NULL,            CREC__READ,  1, crec__h_item_get) \
    X(ITEM_PUT,     "PUT",    "/v1/items/{id}",                  NULL,            CREC__WRITE, 1, crec__h_item_put) \
    X(ITEM_DELETE,  "DELETE", "/v1/items/{id}",                  NULL,            CREC__WRITE, 1, crec__h_item_delete) \
    X(USER,         "GET",    "/v1/users/{id}",                  NULL,            CREC__PRIVATE,  1, crec__h_user_get) \
    X(USER_DELETE,  "DELETE", "/v1/users/{id}",                  NULL,            CREC__WRITE, 1, crec__h_user_delete) \
    X(RELOAD,       "POST",   "/v1/admin/reload",                NULL,            CREC__WRITE, 0, crec__h_reload) \
    X(STATS,        "GET",    "/v1/stats",                       NULL,            CREC__PRIVATE,  1, crec__h_stats) \
    X(USERS,        "GET",    "/v1/users",                       NULL,            CREC__PRIVATE,  1, crec__h_users_list) \
    X(USER_PUT,     "PUT",    "/v1/users/{id}",                  NULL,            CREC__WRITE, 1, crec__h_user_put) \
    X(USER_SIMILAR, "GET",    "/v1/users/{id}/similar",          NULL,            CREC__PRIVATE,  1, crec__h_user_similar) \
    X(USER_FEEDBACK, "GET",   "/v1/users/{id}/feedback",         NULL,            CREC__PRIVATE,  1, crec__h_user_feedback) \
    X(ITEM_FEEDBACK, "GET",   "/v1/items/{id}/feedback",         NULL,            CREC__PRIVATE,  1, crec__h_item_feedback) \
    X(FEEDBACK_DELETE, "DELETE", "/v1/feedback/{id}/{id}",       NULL,            CREC__WRITE, 1, crec__h_feedback_delete) \
    X(ITEM_PATCH,   "PATCH",  "/v1/items/{id}",                  NULL,            CREC__WRITE, 1, crec__h_item_patch) \
    X(ITEMS_BATCH,  "POST",   "/v1/items/batch",                 NULL,            CREC__WRITE, 1, crec__h_items_batch) \
    X(ITEMS_LATEST, "GET",    "/v1/items/latest",                NULL,            CREC__READ,  1, crec__h_items_latest) \
    X(ITEM_SEARCH,  "GET",    "/v1/search/items",                NULL,            CREC__READ,  0, crec__h_item_search) \
    X(USER_SEARCH,  "GET",    "/v1/search/users",                NULL,            CREC__PRIVATE, 1, crec__h_user_search) \
    X(EXPORT_ITEMS, "GET",    "/v1/export/items",                NULL,            CREC__PRIVATE, 1, crec__h_export_items) \
    X(EXPORT_EVENTS, "GET",   "/v1/export/events",               NULL,            CREC__PRIVATE, 1, crec__h_export_events) \
    X(ITEM_CAT_PUT, "PUT",    "/v1/items/{id}/categories/{id}",  NULL,            CREC__WRITE, 1, crec__h_item_cat_put) \
    X(ITEM_CAT_DELETE, "DELETE", "/v1/items/{id}/categories/{id}", NULL,          CREC__WRITE, 1, crec__h_item_cat_delete) \
    X(LIVE,         "GET",    "/healthz/live",                   NULL,            CREC__OPEN,  0, crec__h_live) \
    X(READY,        "GET",    "/healthz/ready",                  NULL,            CREC__OPEN,  0, crec__h_ready) \
    X(HEALTH,       "GET",    "/healthz",                        NULL,            CREC__OPEN,  0, crec__h_health) \
    X(METRICS,      "GET",    "/metrics",                        NULL,            CREC__PRIVATE,  0, crec__h_metrics) \
    X(SERIES,       "GET",    "/v1/metrics/series",              NULL,            CREC__PRIVATE,  0, crec__h_series) \
    X(OPENAPI,      "GET",    "/openapi.json",                   NULL,            CREC__OPEN,  0, crec__h_openapi) \
    X(MCP,          "POST",   "/mcp",                            NULL,            CREC__READ,  0, crec__h_mcp) \
    X(WEB,          "GET",    "/",                               "/ (dashboard)", CREC__OPEN,  0, crec__h_web) \
    X(ASSET,        "GET",    "/{file}",                         "/ (dashboard)", CREC__OPEN,  0, crec__h_web)

typedef enum {
    CREC__R_NONE = 0,      /* no route has this path */
#define CREC__ROUTE_ENUM(name, method, pattern, label, auth, store, handler) CREC__R_##name,
    CREC__ROUTES(CREC__ROUTE_ENUM)
#undef CREC__ROUTE_ENUM
    CREC__R_COUNT
} crec__route;

typedef struct crec__match {
    crec__route route;     /* the matched line; for a 405 the first line of the path; CREC__R_NONE for a 404 */
    int status;            /* 0 matched; 404 no such path; 405 path known, method not; 400 bad id in the path */
    const char *allow;     /* methods of the path ("GET, PUT, DELETE", for 405's Allow header), in allow_buf */
    const char *id;        /* the {id} or {file} segment, NUL-terminated copy in id_buf */
    const char *id2;       /* a second {id} segment ("/v1/feedback/{id}/{id}"), in id2_buf; NULL when none */
    char allow_buf[64];
    char id_buf[CREC_STORE_MAX_ID + 1];
    char id2_buf[CREC_STORE_MAX_ID + 1];
} crec__match;

typedef struct crec__reqerr {
    int status;            /* 400, 404, 413, ... */
    const char *code;      /* machine-readable: "bad_json", "bad_parameter", ... */
    char message[240];
} crec__reqerr;

/* Set *e and return -1 (for one-line error returns). */
int crec__reqerr_set(crec__reqerr *e, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Match method + path (the URL path without its query, already percent-decoded) against the route table.
 * Returns 0 when a route matched, else -1 with m->status 404, 405 or 400 (a bad {id}, or a path with a
 * control character that no route owns). */
int crec__route_match(const char *method, const char *path, crec__match *m);
/* Stable label of a route for metrics ("/v1/users/{id}/recommendations"; "unmatched" for CREC__R_NONE). */
const char *crec__route_label(crec__route r);
/* The table's AUTH and STORE columns of a route (CREC__R_NONE: open, no store). */
crec__auth crec__route_auth(crec__route r);
int crec__route_uses_store(crec__route r);
/* 1 when the request changes state (needs an API key): the route's AUTH is CREC__WRITE. method is kept for
 * callers that hold a route of a 405 (the first line of its path): it only counts when it is the route's. */
int crec__route_is_write(crec__route r, const char *method);

/* Percent-decode s in place (the server's one decoder for the URL path and query values: the path is decoded
 * once, then routed). "%00" becomes CREC__NUL_MARK (DEL, a control character every path and id check refuses)
 * instead of a NUL that would cut the string short and change the route; a '%' not followed by two hex
 * digits stays as it is. Returns the new length; never lengthens s. */
#define CREC__NUL_MARK 0x7f
size_t crec__url_unescape(char *s);

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
