/* browse.c: GET /v1/search/items?q=&after=&limit=: items whose id starts with q, or whose title contains q
 * (ASCII case-insensitive), in store order, paged by row id - for the dashboard's browse panel, so a person can
 * find an item without knowing its exact id.
 *
 * The one idea: the catalog (catalog.c) already holds every live item's id and title in memory, so the search is
 * a scan of it under the read lock - no store query, no index to keep. It is O(items) per page (about a
 * millisecond per 100,000 items), fine for a person at a dashboard, not for a hot path. */
#include <ctype.h>
#include <limits.h>
#include <string.h>

#include "serve/reccall.h"
#include "serve/routes.h"

/* Does hay contain needle (ASCII case-insensitive)? */
static int contains_ci(const char *hay, const char *needle, size_t nl) {
    if (!hay) return 0;
    for (const char *p = hay; *p; p++) {
        size_t k = 0;
        while (k < nl && p[k] && tolower((unsigned char)p[k]) == tolower((unsigned char)needle[k])) k++;
        if (k == nl) return 1;
    }
    return nl == 0;
}

void crec__h_item_search(crec_server *s, crec__tls *t, crec__req *req, crec__reply *r) {
    (void)t;
    crec__reqerr e;
    long after = 0, limit = 20;
    const char *q = crec__query(req, "q");
    if (crec__parse_int("after", crec__query(req, "after"), 0, LONG_MAX, 0, &after, &e) ||
        crec__parse_int("limit", crec__query(req, "limit"), 1, CREC__MAX_K, 20, &limit, &e)) {
        crec__reply_reqerr(r, &e);
        return;
    }
    if (!q) q = "";
    size_t nl = strlen(q);
    if (nl > CREC_STORE_MAX_ID) {
        crec__reply_err(r, 400, "bad_parameter", "q must be at most %d bytes", CREC_STORE_MAX_ID);
        return;
    }
    json_t *arr = json_array();
    int64_t last = 0;
    long found = 0;
    crec__catalog *cat = &s->cat;
    pthread_rwlock_rdlock(&cat->lock);
    for (int64_t sid = after + 1; sid < cat->n && found < limit; sid++) {
        const crec__cat_entry *en = crec__catalog_get(cat, sid);
        if (!en || !(strncmp(en->id, q, nl) == 0 || contains_ci(en->title, q, nl))) continue;
        json_t *o = crec__entry_json(en, 0.0);
        json_object_del(o, "score");
        json_array_append_new(arr, o);
        last = sid;
        found++;
    }
    pthread_rwlock_unlock(&cat->lock);
    json_t *next = found == limit ? json_integer((json_int_t)last) : json_null();
    crec__reply_json(r, 200, json_pack("{s:o,s:o,s:o}", "q", crec__jstr(q), "items", arr, "next_after", next));
}

/* ---- GET /v1/search/users?prefix=&n=&cursor=: users whose id starts with prefix ----
 * One index range read in the store (crec_store_users_prefix: ids in byte order), n + 1 rows so that next_cursor
 * (the last id of the page) is set only when another page exists. */
typedef struct usearch_acc { json_t *arr; long want; int more; } usearch_acc;

static int usearch_cb(void *ctx, int64_t sid, const char *id, size_t len) {
    usearch_acc *a = ctx;
    (void)sid;
    if ((long)json_array_size(a->arr) == a->want) {
        a->more = 1;
        return 1;
    }
    json_t *o = json_object();
    json_object_set_new(o, "id", crec__jstrn(id, len));
    json_array_append_new(a->arr, o);
    return 0;
}

void crec__h_user_search(crec_server *s, crec__tls *t, crec__req *req, crec__reply *r) {
    (void)s;
    crec__reqerr e;
    long n = 20;
    const char *prefix = crec__query(req, "prefix"), *cursor = crec__query(req, "cursor");
    if (crec__parse_int("n", crec__query(req, "n"), 1, CREC__MAX_K, 20, &n, &e)) {
        crec__reply_reqerr(r, &e);
        return;
    }
    if (!prefix) prefix = "";
    size_t nl = strlen(prefix);
    if (nl > CREC_STORE_MAX_ID || (nl && !crec__id_ok(prefix, nl))) {
        crec__reply_err(r, 400, "bad_parameter", "prefix must be at most %d bytes of UTF-8 without control characters "
                        "or '/'", CREC_STORE_MAX_ID);
        return;
    }
    if (cursor && (!*cursor || strlen(cursor) > CREC_STORE_MAX_ID || !crec__id_ok(cursor, strlen(cursor)))) {
        crec__reply_err(r, 400, "bad_parameter", "cursor must be the next_cursor of the previous page (a user id)");
        return;
    }
    usearch_acc a = {json_array(), n, 0};
    int rc = crec_store_users_prefix(t->store, prefix, cursor, n + 1, usearch_cb, &a);
    if (rc) {
        json_decref(a.arr);
        crec__reply_store_err(r, rc, "users", NULL);
        return;
    }
    size_t found = json_array_size(a.arr);
    for (size_t k = 0; k < found; k++) {
        json_t *o = json_array_get(a.arr, k);
        json_object_set_new(o, "labels", crec__user_labels_json(t->store, json_string_value(json_object_get(o, "id"))));
    }
    json_t *next = a.more && found ? json_incref(json_object_get(json_array_get(a.arr, found - 1), "id")) : json_null();
    crec__reply_json(r, 200, json_pack("{s:o,s:o,s:o}", "prefix", crec__jstr(prefix), "users", a.arr, "next_cursor",
                                       next));
}
