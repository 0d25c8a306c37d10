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
