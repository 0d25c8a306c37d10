/* export.c: GET /v1/export/items and GET /v1/export/events: the store's items and events page by page, each
 * element exactly what the write routes take back (POST /v1/items/batch, POST /v1/events), so the dashboard's
 * import/export page can copy a store through the API (users: GET /v1/users, PUT /v1/users/{id}). Private:
 * a key whenever keys are set.
 *
 * The one idea: the store's interface lists items in row order and events per user (crec/store.h has no scan of
 * the whole event log), so an events page walks users in row order and each user's events in insertion order,
 * with a two-part cursor "USER_ROW.EVENT_ROW" (the user it stopped in, the last event given). A page is bounded
 * (limit events, at most 10,000) whatever one user holds. For a whole snapshot to train on, `crec db export`. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/routes.h"

#define EXPORT_MAX 10000 /* events in one page: the largest POST /v1/events batch */

typedef struct xitems_acc { crec_store *st; json_t *arr; int64_t last; int rc; } xitems_acc;

static int xitems_cb(void *ctx, int64_t sid, const char *id, size_t len, int visible) {
    (void)id, (void)len, (void)visible;
    xitems_acc *a = ctx;
    crec_store_item it;
    a->last = sid;
    if ((a->rc = crec_store_item_get_sid(a->st, sid, 1, &it)) != 0) return 1;
    json_t *o = json_object(), *attrs = json_array();
    for (int k = 0; k < it.n_attrs; k++) json_array_append_new(attrs, crec__jstr(it.attrs[k]));
    int64_t created = 0;
    crec_store_item_created(a->st, it.id, &created);
    json_object_set_new(o, "id", crec__jstr(it.id));
    if (it.title) json_object_set_new(o, "title", crec__jstr(it.title));
    if (it.text) json_object_set_new(o, "text", crec__jstr(it.text));
    json_object_set_new(o, "attributes", attrs);
    json_object_set_new(o, "visible", json_boolean(it.visible));
    json_object_set_new(o, "timestamp", json_integer((json_int_t)created));
    json_array_append_new(a->arr, o);
    crec_store_item_clear(&it);
    return 0;
}

/* GET /v1/export/items?after=&limit=: full items (title, text, attributes, visible, timestamp), row order. */
void crec__h_export_items(crec_server *s, crec__tls *t, crec__req *req, crec__reply *r) {
    (void)s;
    crec__reqerr e;
    long after = 0, limit = 1000;
    if (crec__parse_int("after", crec__query(req, "after"), 0, LONG_MAX, 0, &after, &e) ||
        crec__parse_int("limit", crec__query(req, "limit"), 1, CREC__MAX_K, 1000, &limit, &e)) {
        crec__reply_reqerr(r, &e);
        return;
    }
    xitems_acc a = {t->store, json_array(), 0, 0};
    int rc = crec_store_items_list(t->store, after, limit, xitems_cb, &a);
    if (!rc) rc = a.rc;
    if (rc) {
        json_decref(a.arr);
        crec__reply_store_err(r, rc, "items", NULL);
        return;
    }
    json_t *next = json_array_size(a.arr) == (size_t)limit ? json_integer((json_int_t)a.last) : json_null();
    crec__reply_json(r, 200, json_pack("{s:o,s:o}", "items", a.arr, "next_after", next));
}

typedef struct xev_acc { json_t *arr; int64_t last; long n; } xev_acc;

static int xev_cb(void *ctx, const crec_store_feedback *f) {
    xev_acc *a = ctx;
    a->last = f->id;
    a->n++;
    json_array_append_new(a->arr, json_pack("{s:o,s:o,s:o,s:f,s:I}", "user", crec__jstr(f->user), "item",
                                            crec__jstr(f->item), "type", crec__jstr(f->type), "value", f->value, "ts",
                                            (json_int_t)f->ts));
    return 0;
}

typedef struct xusers_acc { int64_t *sid; char **id; int n; } xusers_acc;

static int xusers_cb(void *ctx, int64_t sid, const char *id, size_t len) {
    xusers_acc *a = ctx;
    a->sid[a->n] = sid;
    a->id[a->n] = strndup(id, len);
    a->n++;
    return a->id[a->n - 1] == NULL; /* out of memory: stop */
}

/* Parse "U.E" (or "U"): the user row the previous page stopped in and its last event row given. */
static int parse_cursor(const char *c, int64_t *u, int64_t *ev) {
    *u = 0, *ev = 0;
    if (!c || !*c) return 0;
    char *end;
    long long a = strtoll(c, &end, 10), b = 0;
    if (end == c || a < 0) return -1;
    if (*end == '.') {
        const char *p = end + 1;
        b = strtoll(p, &end, 10);
        if (end == p || b < 0) return -1;
    }
    if (*end) return -1;
    *u = a, *ev = b;
    return 0;
}

#define XUSERS 256 /* users read per store query */

/* GET /v1/export/events?cursor=U.E&limit=: events by user (row order), each user's in insertion order. */
void crec__h_export_events(crec_server *s, crec__tls *t, crec__req *req, crec__reply *r) {
    (void)s;
    crec__reqerr e;
    long limit = 1000;
    int64_t cu, ce;
    if (crec__parse_int("limit", crec__query(req, "limit"), 1, EXPORT_MAX, 1000, &limit, &e)) {
        crec__reply_reqerr(r, &e);
        return;
    }
    if (parse_cursor(crec__query(req, "cursor"), &cu, &ce)) {
        crec__reply_err(r, 400, "bad_parameter", "cursor must be USER_ROW.EVENT_ROW as a previous page's next_cursor "
                        "gave it (non-negative integers)");
        return;
    }
    xev_acc a = {json_array(), 0, 0};
    int64_t sid[XUSERS];
    char *ids[XUSERS];
    int rc = 0, end = 0;
    int64_t stop_user = 0, stop_event = 0; /* where the page stopped */
    /* the user the cursor stopped in (ce > 0) is read again from its next event; the others from the start */
    int64_t after_user = ce > 0 ? cu - 1 : cu;
    while (!rc && a.n < limit) {
        xusers_acc ua = {sid, ids, 0};
        rc = crec_store_users_list(t->store, after_user, XUSERS, xusers_cb, &ua);
        for (int k = 0; !rc && k < ua.n && a.n < limit; k++) {
            if (!ids[k]) {
                rc = CREC_ENOMEM;
                break;
            }
            int64_t from = sid[k] == cu ? ce : 0;
            long before = a.n, want = limit - a.n;
            rc = crec_store_feedback_list(t->store, 0, ids[k], NULL, from, want, xev_cb, &a);
            if (rc == CREC_ENOTFOUND) rc = 0; /* erased since it was listed */
            after_user = sid[k];
            if (a.n - before == want) stop_user = sid[k], stop_event = a.last; /* full: maybe more of this user */
        }
        for (int k = 0; k < ua.n; k++) free(ids[k]);
        if (!rc && ua.n < XUSERS && a.n < limit) end = 1;
        if (end) break;
    }
    if (rc) {
        json_decref(a.arr);
        crec__reply_store_err(r, rc, "events", NULL);
        return;
    }
    json_t *next = json_null();
    if (!end) {
        char buf[48];
        if (stop_user) snprintf(buf, sizeof buf, "%lld.%lld", (long long)stop_user, (long long)stop_event);
        else snprintf(buf, sizeof buf, "%lld", (long long)after_user);
        next = json_string(buf);
    }
    crec__reply_json(r, 200, json_pack("{s:o,s:o}", "events", a.arr, "next_cursor", next));
}
