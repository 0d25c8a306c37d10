/* recs.c: the recommendation routes - a user's recommendations, an anonymous session's, similar items,
 * popular items - as requests to the library's recommendation service (crec/service.h).
 *
 * The one idea: a route only translates. It reads the user's events from the store at request time (an
 * event counts the moment it was acknowledged) with their times and types, turns external ids into store row
 * ids, and hands the service the store's catalog as it sees it: row ids, which rows the model knows
 * (to_model / from_model, kept per thread), which rows may be shown (live and visible), the store's attribute
 * index for category=, and the in-memory event counts as the popular fallback. Every rule - seen items,
 * exclusions, categories, hidden items, when to fall back - is the service's, the same as the CLI's. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "serve/routes.h"

static int64_t now_unix(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec;
}

/* ---- the store's catalog as the service sees it ---- */

typedef struct attr_arg { crec_service_item_fn each; void *arg; int32_t n; } attr_arg;

static int attr_row(void *ctx, int64_t sid, const char *id, size_t len, int visible) {
    attr_arg *a = ctx;
    return sid > 0 && sid < a->n ? a->each(a->arg, (int32_t)sid) : 0;
}

/* Attribute filters read the store's index, so an item written a moment ago is filtered by what it has now. */
static int store_attrs(void *ctx, const char *attr, crec_service_item_fn each, void *arg) {
    crec__tls *t = ctx;
    attr_arg a = {each, arg, t->view_n};
    return crec_store_items_with_attr(t->store, attr, attr_row, &a);
}

/* The fallback: events per store row (kept in memory, bumped on ingest). */
static int store_popularity(void *ctx, float *scores, int32_t n) {
    crec__pop *p = ctx;
    pthread_rwlock_rdlock(&p->lock);
    int32_t m = p->n < n ? (int32_t)p->n : n;
    for (int32_t i = 0; i < m; i++) scores[i] = (float)p->count[i];
    pthread_rwlock_unlock(&p->lock);
    for (int32_t i = m; i < n; i++) scores[i] = 0;
    return 0;
}

/* One recommendation request in flight: the bundle it holds and the catalog it ranks. */
typedef struct rec_call {
    crec_server *s;
    crec__tls *t;
    crec__bundle *b;
    crec_service_catalog cat;
} rec_call;

/* Take the current bundle, bring the thread's catalog view up to date, start an empty request. */
static int rec_begin(rec_call *c, crec_server *s, crec__tls *t) {
    c->s = s;
    c->t = t;
    c->b = crec__bundle_acquire(s);
    crec_service_request_reset(&t->rq);
    t->rq.now = now_unix();
    int rc = crec__tls_view(t, c->b);
    c->cat = (crec_service_catalog){.n_items = t->view_n, .to_model = t->to_model, .from_model = t->from_model,
                                    .allowed = t->allowed, .attrs = store_attrs, .attrs_ctx = t,
                                    .popularity = store_popularity, .pop_ctx = &s->pop};
    return rc;
}

static void rec_end(rec_call *c) { crec__bundle_release(c->b); }

/* The store row of an external item id within the view, or -1. */
static int32_t row_of(const rec_call *c, const char *id, size_t len) {
    crec__catalog *cat = &c->s->cat;
    pthread_rwlock_rdlock(&cat->lock);
    int64_t sid = crec__catalog_sid(cat, id, len);
    pthread_rwlock_unlock(&cat->lock);
    return sid > 0 && sid < c->t->view_n ? (int32_t)sid : -1;
}

/* Exclusions by external id (ids the catalog does not hold are ignored), and the category. */
static int rec_rules(rec_call *c, const crec__idlist *exclude, const char *category) {
    int rc = 0;
    for (int k = 0; !rc && exclude && k < exclude->n; k++) {
        int32_t row = row_of(c, exclude->s[k], exclude->len[k]);
        if (row >= 0) rc = crec_service_request_exclude(&c->t->rq, row);
    }
    if (!rc && category) rc = crec_service_request_filter(&c->t->rq, category, 1);
    return rc;
}

static json_t *entry_json(const crec__cat_entry *e, double score) {
    json_t *o = json_object(), *attrs = json_array();
    for (int k = 0; k < e->n_attrs; k++) json_array_append_new(attrs, crec__jstr(e->attrs[k]));
    json_object_set_new(o, "id", crec__jstr(e->id));
    json_object_set_new(o, "title", crec__jstr(e->title));
    json_object_set_new(o, "attributes", attrs);
    json_object_set_new(o, "visible", json_boolean(e->visible));
    json_object_set_new(o, "score", json_real(score));
    return o;
}

/* Run the request; on success a new answer {model, model_version, source, items} in *out. Items are described
 * from the catalog as it is now (one deleted or hidden since the view was built is left out). */
static int rec_run(rec_call *c, json_t **out) {
    crec_service_result res;
    int rc = crec_service_recommend(c->b->model, &c->cat, &c->t->rq, &c->t->sc, &res);
    if (rc) return rc;
    json_t *items = json_array();
    crec__catalog *cat = &c->s->cat;
    pthread_rwlock_rdlock(&cat->lock);
    for (int32_t r = 0; r < res.n; r++) {
        const crec__cat_entry *e = crec__catalog_get(cat, res.items[r]);
        if (e && e->visible) json_array_append_new(items, entry_json(e, (double)res.scores[r]));
    }
    pthread_rwlock_unlock(&cat->lock);
    json_t *o = json_object();
    json_object_set_new(o, "model", crec__jstr(c->b->model->type->name));
    json_object_set_new(o, "model_version", json_integer((json_int_t)c->b->version));
    json_object_set_new(o, "source", json_string(crec_service_source_name(res.source)));
    json_object_set_new(o, "fallback_items", json_integer(res.n_fallback)); /* the list's last ones: popular */
    json_object_set_new(o, "items", items);
    *out = o;
    return 0;
}

static void rec_fail(crec__reply *r, int rc) {
    if (rc == CREC_ESTATE) crec__reply_store_err(r, rc, "store", NULL);
    else crec__reply_err(r, 500, "internal", "ranking failed: %s", crec_strerror(rc));
}

/* Query parameters of the GET routes: k, keep_seen, exclude, category. */
typedef struct rec_params {
    long k;
    int keep_seen;
    crec__idlist exclude;
    const char *category;
} rec_params;

static int rec_params_parse(crec__req *req, rec_params *p, crec__reply *r) {
    crec__reqerr e;
    memset(p, 0, sizeof *p);
    if (crec__parse_int("k", crec__query(req, "k"), 1, CREC__MAX_K, 10, &p->k, &e) ||
        crec__parse_bool("keep_seen", crec__query(req, "keep_seen"), 0, &p->keep_seen, &e) ||
        crec__parse_idlist("exclude", crec__query(req, "exclude"), &p->exclude, &e)) {
        crec__reply_reqerr(r, &e);
        return -1;
    }
    p->category = crec__query(req, "category");
    if (p->category && !crec__id_ok(p->category, strlen(p->category))) {
        crec__idlist_free(&p->exclude);
        crec__reply_err(r, 400, "bad_parameter", "category must be an attribute name (1..%d bytes)", CREC_STORE_MAX_ID);
        return -1;
    }
    return 0;
}

/* ---- the routes ---- */

/* The user's events from the store, oldest first, with times and types (the model's event type ids). */
typedef struct hist_arg { rec_call *c; int64_t n; int rc; } hist_arg;

static int hist_event(void *ctx, int64_t sid, const char *item, size_t len, const char *type, float value,
                      int64_t ts) {
    hist_arg *h = ctx;
    h->n++;
    if (sid <= 0 || sid >= h->c->t->view_n) return 0; /* a row this server's catalog does not hold yet */
    int32_t ty = crec_idmap_get(&h->c->b->ds->event_types, type, strlen(type));
    h->rc = crec_service_request_add_event(&h->c->t->rq, (int32_t)sid, ts, ty > 0 && ty < 256 ? (uint8_t)ty : 0);
    return h->rc != 0;
}

void crec__h_user_recs(crec_server *s, crec__tls *t, crec__req *req, crec__reply *r) {
    rec_params p;
    if (rec_params_parse(req, &p, r)) return;
    const char *user = req->m.id;
    rec_call c;
    int rc = rec_begin(&c, s, t);
    hist_arg h = {&c, 0, 0};
    if (!rc) {
        rc = crec_store_user_events(t->store, user, 0, hist_event, &h, NULL);
        if (rc == CREC_ENOTFOUND) rc = 0; /* no events yet: a cold user */
        if (!rc) rc = h.rc;
    }
    int32_t uid = crec__bundle_user(c.b, user, strlen(user));
    t->rq.user = uid;
    t->rq.k = (int)p.k;
    t->rq.keep_seen = p.keep_seen;
    json_t *o = NULL;
    if (!rc) rc = rec_rules(&c, &p.exclude, p.category);
    if (!rc) rc = rec_run(&c, &o);
    if (rc) {
        rec_fail(r, rc);
    } else {
        json_object_set_new(o, "user", crec__jstr(user));
        json_object_set_new(o, "known_user", json_boolean(uid >= 0));
        json_object_set_new(o, "history_length", json_integer((json_int_t)h.n));
        crec__reply_json(r, 200, o);
    }
    rec_end(&c);
    crec__idlist_free(&p.exclude);
}

void crec__h_session_recs(crec_server *s, crec__tls *t, crec__req *req, crec__reply *r) {
    crec__reqerr e;
    json_t *body = crec__parse_json(req->body, req->body_len, &e);
    crec__session_req sr;
    if (!body || crec__parse_session(body, &sr, &e)) {
        json_decref(body);
        crec__reply_reqerr(r, &e);
        return;
    }
    rec_call c;
    int rc = rec_begin(&c, s, t);
    json_t *unknown = json_array(), *o = NULL;
    /* the session's items, oldest first (times = positions); those the model cannot use are listed */
    for (int k = 0; !rc && k < sr.history.n; k++) {
        int32_t row = row_of(&c, sr.history.s[k], sr.history.len[k]);
        if (row >= 0) rc = crec_service_request_add_event(&t->rq, row, k, 0);
        if (row < 0 || t->to_model[row] < 0)
            json_array_append_new(unknown, crec__jstrn(sr.history.s[k], sr.history.len[k]));
    }
    t->rq.k = (int)sr.k;
    if (!rc) rc = rec_rules(&c, &sr.exclude, sr.category);
    if (!rc) rc = rec_run(&c, &o);
    if (rc) {
        rec_fail(r, rc);
    } else {
        json_object_set_new(o, "history_length", json_integer(sr.history.n));
        json_object_set_new(o, "unknown_items", json_incref(unknown));
        crec__reply_json(r, 200, o);
    }
    json_decref(unknown);
    rec_end(&c);
    crec__session_req_free(&sr);
    json_decref(body);
}

void crec__h_similar(crec_server *s, crec__tls *t, crec__req *req, crec__reply *r) {
    rec_params p;
    if (rec_params_parse(req, &p, r)) return;
    const char *item = req->m.id;
    rec_call c;
    int rc = rec_begin(&c, s, t);
    int32_t row = row_of(&c, item, strlen(item));
    if (!rc && row < 0) {
        crec__reply_store_err(r, CREC_ENOTFOUND, "item", item);
        rec_end(&c);
        crec__idlist_free(&p.exclude);
        return;
    }
    /* scored as a history of one; the item itself is never its own neighbour (keep_seen does not apply) */
    json_t *o = NULL;
    t->rq.k = (int)p.k;
    if (!rc) rc = crec_service_request_add_event(&t->rq, row, 0, 0);
    if (!rc) rc = rec_rules(&c, &p.exclude, p.category);
    if (!rc) rc = rec_run(&c, &o);
    if (rc) {
        rec_fail(r, rc);
    } else {
        json_object_set_new(o, "item", crec__jstr(item));
        crec__reply_json(r, 200, o);
    }
    rec_end(&c);
    crec__idlist_free(&p.exclude);
}

void crec__h_popular(crec_server *s, crec__tls *t, crec__req *req, crec__reply *r) {
    rec_params p;
    if (rec_params_parse(req, &p, r)) return;
    rec_call c;
    int rc = rec_begin(&c, s, t);
    json_t *o = NULL;
    t->rq.k = (int)p.k; /* no user, no history: the service answers with the fallback */
    if (!rc) rc = rec_rules(&c, &p.exclude, p.category);
    if (!rc) rc = rec_run(&c, &o);
    if (rc) rec_fail(r, rc);
    else crec__reply_json(r, 200, o);
    rec_end(&c);
    crec__idlist_free(&p.exclude);
}
