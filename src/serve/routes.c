/* routes.c: the handlers of the /v1 API, /healthz, /metrics and /v1/stats.
 *
 * The one idea: a recommendation is computed fresh from the store for every request. The user's events are
 * read at request time (so an event counts the moment it was acknowledged), mapped to the model's ids by
 * external id through the bundle's dataset, scored, and the top-k is checked against the store's catalog
 * (deleted and hidden items are skipped, titles and attributes come from the store). A user the model does
 * not know is scored from their fresh events as a history; with none, they get popular items. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "core/util.h"
#include "serve/serve_internal.h"

/* ---- JSON helpers ---- */

/* A JSON string of s (NULL -> null). Bytes that are not UTF-8 are read as Latin-1 (MovieLens titles are). */
static json_t *jstr(const char *s) {
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

static json_t *jstrn(const char *s, size_t n) {
    char buf[CREC_STORE_MAX_ID + 1];
    if (n > CREC_STORE_MAX_ID) n = CREC_STORE_MAX_ID;
    memcpy(buf, s, n);
    buf[n] = 0;
    return jstr(buf);
}

static json_t *item_json(const crec_store_item *it, int with_text) {
    json_t *o = json_object();
    json_t *attrs = json_array();
    for (int k = 0; k < it->n_attrs; k++) json_array_append_new(attrs, jstr(it->attrs[k]));
    json_object_set_new(o, "id", jstr(it->id));
    json_object_set_new(o, "title", jstr(it->title));
    if (with_text) json_object_set_new(o, "text", jstr(it->text));
    json_object_set_new(o, "attributes", attrs);
    json_object_set_new(o, "visible", json_boolean(it->visible));
    return o;
}

static int64_t now_unix(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec;
}

/* ---- ranking ---- */

/* What a ranking request asks for, and where its answer goes. */
typedef struct rank_req {
    crec_server *s;
    crec__tls *t;
    crec__bundle *b;
    long k;
    int keep_seen;
    const char *category;         /* NULL: any */
    const crec__idlist *exclude;  /* external ids; may be NULL */
    const crec__idlist *exclude2; /* a second list (a session's history) */
    json_t *items;                /* out: array */
} rank_req;

/* Grow t->hist to hold n model ids. */
static int hist_reserve(crec__tls *t, int64_t n) {
    if (n <= t->hist_cap) return 0;
    int32_t *a = realloc(t->hist, (size_t)n * sizeof *a);
    if (!a) return CREC_ENOMEM;
    t->hist = a;
    t->hist_cap = n;
    return 0;
}

/* The user's events from the store: store ids into t->hist_sid[0..*n_all), and the model ids of those the
 * model knows into t->hist[0..*n_model), oldest first. A user without events has empty histories. */
static int read_history(rank_req *q, const char *user, int64_t *n_all, int32_t *n_model) {
    crec__tls *t = q->t;
    *n_model = 0;
    int rc = crec_store_user_item_sids(t->store, user, &t->hist_sid, &t->sid_cap, n_all);
    if (rc == CREC_ENOTFOUND) rc = 0; /* no events yet: a cold user */
    if (rc || (rc = hist_reserve(t, *n_all + 1))) return rc;
    crec__catalog *c = &q->s->cat;
    pthread_rwlock_rdlock(&c->lock);
    for (int64_t h = 0; h < *n_all; h++) {
        const crec__cat_entry *e = crec__catalog_get(c, t->hist_sid[h]);
        int32_t id = e ? crec__bundle_item(q->b, e->id, strlen(e->id)) : -1;
        if (id >= 0) t->hist[(*n_model)++] = id;
    }
    pthread_rwlock_unlock(&c->lock);
    return 0;
}

/* Category filter: items carrying the attribute are allowed (excl cleared) when visible. */
typedef struct cat_acc { const crec__bundle *b; uint8_t *excl; int64_t n; int by_sid; } cat_acc;

static int cat_cb(void *ctx, int64_t sid, const char *id, size_t len, int visible) {
    cat_acc *c = ctx;
    int64_t i = c->by_sid ? sid : crec__bundle_item(c->b, id, len);
    if (i >= 0 && i < c->n && visible) c->excl[i] = 0;
    return 0;
}

static int apply_category(rank_req *q, int64_t n, int by_sid) {
    if (!q->category) {
        memset(q->t->excl, 0, (size_t)n);
        return 0;
    }
    memset(q->t->excl, 1, (size_t)n);
    cat_acc c = {q->b, q->t->excl, n, by_sid};
    return crec_store_items_with_attr(q->t->store, q->category, cat_cb, &c);
}

static json_t *entry_json(const crec__cat_entry *e, double score) {
    json_t *o = json_object(), *attrs = json_array();
    for (int k = 0; k < e->n_attrs; k++) json_array_append_new(attrs, jstr(e->attrs[k]));
    json_object_set_new(o, "id", jstr(e->id));
    json_object_set_new(o, "title", jstr(e->title));
    json_object_set_new(o, "attributes", attrs);
    json_object_set_new(o, "visible", json_boolean(e->visible));
    json_object_set_new(o, "score", json_real(score));
    return o;
}

/* Top-k of t->scores[0..n) under t->excl, each candidate checked against the catalog (it exists, it is
 * visible, its score is a number) and described from it. by_sid: candidates are store ids (popularity), else
 * model ids. A candidate that fails the check is excluded and the top-k taken again (rare: hidden or deleted
 * items among the best). */
static int rank_and_fill(rank_req *q, int64_t n, int by_sid) {
    crec__tls *t = q->t;
    crec__catalog *c = &q->s->cat;
    pthread_rwlock_rdlock(&c->lock);
    for (int pass = 0; pass < 64; pass++) {
        json_array_clear(q->items);
        int got = crec_topk(t->scores, (int32_t)n, t->excl, (int)q->k, t->top);
        int bad = 0;
        for (int r = 0; r < got; r++) {
            int32_t i = t->top[r];
            const char *name = by_sid ? NULL : q->b->ds->items.names[i];
            const crec__cat_entry *e = crec__catalog_get(c, by_sid ? i : crec__catalog_sid(c, name, strlen(name)));
            if (!e || !e->visible || !isfinite(t->scores[i])) {
                t->excl[i] = 1;
                bad++;
                continue;
            }
            json_array_append_new(q->items, entry_json(e, (double)t->scores[i]));
        }
        if (!bad) break;
    }
    pthread_rwlock_unlock(&c->lock);
    return 0;
}

static void exclude_model_ids(rank_req *q, const crec__idlist *l) {
    for (int k = 0; l && k < l->n; k++) {
        int32_t id = crec__bundle_item(q->b, l->s[k], l->len[k]);
        if (id >= 0) q->t->excl[id] = 1;
    }
}

/* Score with the model for ctx and fill q->items; the history is excluded unless keep_seen. */
static int rank_model(rank_req *q, const crec_context *ctx) {
    const crec_model *m = q->b->model;
    int64_t n = m->n_items;
    int rc;
    if ((rc = crec__tls_reserve(q->t, n + 1))) return rc;
    if ((rc = crec_model_score(m, ctx, q->t->scores))) return rc;
    if ((rc = apply_category(q, n, 0))) return rc;
    if (!q->keep_seen)
        for (int32_t h = 0; h < ctx->n_hist; h++) q->t->excl[ctx->hist[h]] = 1;
    exclude_model_ids(q, q->exclude);
    exclude_model_ids(q, q->exclude2);
    return rank_and_fill(q, n, 0);
}

static void exclude_sids(rank_req *q, const crec__idlist *l, int64_t n) {
    crec__catalog *c = &q->s->cat;
    pthread_rwlock_rdlock(&c->lock);
    for (int k = 0; l && k < l->n; k++) {
        int64_t sid = crec__catalog_sid(c, l->s[k], l->len[k]);
        if (sid >= 0 && sid < n) q->t->excl[sid] = 1;
    }
    pthread_rwlock_unlock(&c->lock);
}

/* Popular items (events per item in the store) and fill q->items. seen: store ids to exclude. */
static int rank_popular(rank_req *q, const int64_t *seen, int64_t n_seen) {
    crec__pop *p = &q->s->pop;
    pthread_rwlock_rdlock(&p->lock);
    int64_t n = p->n;
    int rc = n > INT32_MAX ? CREC_ERANGE : crec__tls_reserve(q->t, n + 1);
    if (!rc)
        for (int64_t i = 0; i < n; i++) q->t->scores[i] = (float)p->count[i];
    pthread_rwlock_unlock(&p->lock);
    if (rc) return rc;
    if ((rc = apply_category(q, n, 1))) return rc;
    if (n > 0) q->t->excl[0] = 1; /* row ids start at 1 */
    if (!q->keep_seen)
        for (int64_t h = 0; h < n_seen; h++)
            if (seen[h] >= 0 && seen[h] < n) q->t->excl[seen[h]] = 1;
    exclude_sids(q, q->exclude, n);
    exclude_sids(q, q->exclude2, n);
    return rank_and_fill(q, n, 1);
}

/* Common query parameters of the GET ranking routes. */
static int rank_params(crec__req *req, rank_req *q, crec__idlist *excl, crec__reply *r) {
    crec__reqerr e;
    int keep = 0;
    if (crec__parse_int("k", crec__query(req, "k"), 1, CREC__MAX_K, 10, &q->k, &e) ||
        crec__parse_bool("keep_seen", crec__query(req, "keep_seen"), 0, &keep, &e) ||
        crec__parse_idlist("exclude", crec__query(req, "exclude"), excl, &e)) {
        crec__reply_reqerr(r, &e);
        return -1;
    }
    q->keep_seen = keep;
    q->exclude = excl;
    q->category = crec__query(req, "category");
    if (q->category && !crec__id_ok(q->category, strlen(q->category))) {
        crec__idlist_free(excl);
        crec__reply_err(r, 400, "bad_parameter", "category must be an attribute name (1..%d bytes)", CREC_STORE_MAX_ID);
        return -1;
    }
    return 0;
}

static json_t *answer(const rank_req *q, const char *source) {
    json_t *o = json_object();
    json_object_set_new(o, "model", jstr(q->b->model->type->name));
    json_object_set_new(o, "model_version", json_integer((json_int_t)q->b->version));
    json_object_set_new(o, "source", json_string(source));
    json_object_set_new(o, "items", json_incref(q->items));
    return o;
}

static void rank_fail(crec__reply *r, int rc) {
    if (rc == CREC_ESTATE) crec__reply_store_err(r, rc, "store", NULL);
    else crec__reply_err(r, 500, "internal", "ranking failed: %s", crec_strerror(rc));
}

static void h_user_recs(crec_server *s, crec__tls *t, crec__req *req, crec__reply *r) {
    crec__idlist excl;
    rank_req q = {.s = s, .t = t};
    if (rank_params(req, &q, &excl, r)) return;
    q.b = crec__bundle_acquire(s);
    q.items = json_array();
    const char *user = req->m.id;
    int64_t n_all = 0;
    int32_t n_model = 0;
    int rc = read_history(&q, user, &n_all, &n_model);
    int32_t uid = crec__bundle_user(q.b, user, strlen(user));
    const char *source = NULL;
    if (!rc) {
        if (uid >= 0 || n_model > 0) {
            crec_context ctx = {.user = uid, .hist = t->hist, .n_hist = n_model};
            source = uid >= 0 ? "model" : "model:history";
            rc = rank_model(&q, &ctx);
        } else {
            source = "popular";
            rc = rank_popular(&q, t->hist_sid, n_all);
        }
    }
    if (rc) {
        rank_fail(r, rc);
    } else {
        json_t *o = answer(&q, source);
        json_object_set_new(o, "user", jstr(user));
        json_object_set_new(o, "known_user", json_boolean(uid >= 0));
        json_object_set_new(o, "history_length", json_integer((json_int_t)n_all));
        r->status = 200;
        r->json = o;
    }
    json_decref(q.items);
    crec__bundle_release(q.b);
    crec__idlist_free(&excl);
}

static void h_session_recs(crec_server *s, crec__tls *t, crec__req *req, crec__reply *r) {
    crec__reqerr e;
    json_t *body = crec__parse_json(req->body, req->body_len, &e);
    crec__session_req sr;
    if (!body || crec__parse_session(body, &sr, &e)) {
        json_decref(body);
        crec__reply_reqerr(r, &e);
        return;
    }
    rank_req q = {.s = s, .t = t, .k = sr.k, .category = sr.category, .exclude = &sr.exclude};
    q.b = crec__bundle_acquire(s);
    q.items = json_array();
    int rc = hist_reserve(t, sr.history.n + 1);
    json_t *unknown = json_array();
    int32_t n = 0;
    for (int k = 0; !rc && k < sr.history.n; k++) {
        int32_t id = crec__bundle_item(q.b, sr.history.s[k], sr.history.len[k]);
        if (id >= 0) t->hist[n++] = id;
        else json_array_append_new(unknown, jstrn(sr.history.s[k], sr.history.len[k]));
    }
    const char *source = n > 0 ? "model:history" : "popular";
    if (!rc) {
        if (n > 0) {
            crec_context ctx = {.user = -1, .hist = t->hist, .n_hist = n};
            rc = rank_model(&q, &ctx);
        } else {
            q.exclude2 = &sr.history; /* the session's items, even those the model does not know */
            rc = rank_popular(&q, NULL, 0);
        }
    }
    if (rc) {
        rank_fail(r, rc);
    } else {
        json_t *o = answer(&q, source);
        json_object_set_new(o, "history_length", json_integer(sr.history.n));
        json_object_set_new(o, "unknown_items", json_incref(unknown));
        r->status = 200;
        r->json = o;
    }
    json_decref(unknown);
    json_decref(q.items);
    crec__bundle_release(q.b);
    crec__session_req_free(&sr);
    json_decref(body);
}

static void h_similar(crec_server *s, crec__tls *t, crec__req *req, crec__reply *r) {
    crec__idlist excl;
    rank_req q = {.s = s, .t = t};
    if (rank_params(req, &q, &excl, r)) return;
    const char *item = req->m.id;
    pthread_rwlock_rdlock(&s->cat.lock);
    int64_t sid = crec__catalog_sid(&s->cat, item, strlen(item));
    pthread_rwlock_unlock(&s->cat.lock);
    if (sid < 0) {
        crec__reply_store_err(r, CREC_ENOTFOUND, "item", item);
        crec__idlist_free(&excl);
        return;
    }
    q.b = crec__bundle_acquire(s);
    q.items = json_array();
    int32_t id = crec__bundle_item(q.b, item, strlen(item));
    const char *source = id >= 0 ? "model:history" : "popular";
    q.keep_seen = 0; /* the item itself is never its own neighbour */
    int rc;
    if (id >= 0) {
        crec_context ctx = {.user = -1, .hist = &id, .n_hist = 1};
        rc = rank_model(&q, &ctx);
    } else {
        rc = rank_popular(&q, &sid, 1);
    }
    if (rc) {
        rank_fail(r, rc);
    } else {
        json_t *o = answer(&q, source);
        json_object_set_new(o, "item", jstr(item));
        r->status = 200;
        r->json = o;
    }
    json_decref(q.items);
    crec__bundle_release(q.b);
    crec__idlist_free(&excl);
}

static void h_popular(crec_server *s, crec__tls *t, crec__req *req, crec__reply *r) {
    crec__idlist excl;
    rank_req q = {.s = s, .t = t};
    if (rank_params(req, &q, &excl, r)) return;
    q.b = crec__bundle_acquire(s);
    q.items = json_array();
    int rc = rank_popular(&q, NULL, 0);
    if (rc) {
        rank_fail(r, rc);
    } else {
        r->status = 200;
        r->json = answer(&q, "popular");
    }
    json_decref(q.items);
    crec__bundle_release(q.b);
    crec__idlist_free(&excl);
}

/* ---- writes ---- */

static void h_events(crec_server *s, crec__tls *t, crec__req *req, crec__reply *r) {
    crec__reqerr e;
    json_t *body = crec__parse_json(req->body, req->body_len, &e);
    crec_store_event *ev = NULL;
    int64_t n = 0;
    if (!body || crec__parse_events(body, now_unix(), &ev, &n, &e)) {
        json_decref(body);
        crec__reply_reqerr(r, &e);
        return;
    }
    int64_t *sids = malloc((size_t)n * sizeof *sids), bad = -1;
    int rc = sids ? crec_store_add_events(t->store, ev, n, sids, &bad) : CREC_ENOMEM;
    if (!rc) {
        /* committed: only now is the batch acknowledged */
        crec__pop_add(&s->pop, sids, n);
        atomic_fetch_add(&s->metrics.events_ingested, (unsigned long long)n);
        atomic_fetch_add(&s->metrics.event_batches, 1);
        r->status = 200;
        r->json = json_pack("{s:I}", "accepted", (json_int_t)n);
    } else if (rc == CREC_ENOTFOUND && bad >= 0) {
        crec__reply_err(r, 404, "item_not_found", "event %lld: item '%s' does not exist (nothing was written)",
                        (long long)bad, ev[bad].item);
    } else if (rc == CREC_ERANGE) {
        crec__reply_err(r, 400, "too_many_types", "event %lld: the store holds at most 256 event types", (long long)bad);
    } else {
        crec__reply_store_err(r, rc, "event", NULL);
    }
    free(sids);
    free(ev);
    json_decref(body);
}

/* After a write: put the item as the store now has it into the catalog, and answer with it. */
static void reply_item(crec_server *s, crec__tls *t, const char *id, int status, crec__reply *r) {
    crec_store_item it;
    int rc = crec_store_item_get(t->store, id, strlen(id), 1, 0, &it);
    if (!rc) rc = crec__catalog_put(&s->cat, &it);
    if (rc) {
        crec__reply_store_err(r, rc, "item", id);
        crec_store_item_clear(&it);
        return;
    }
    r->status = status;
    r->json = item_json(&it, 1);
    crec_store_item_clear(&it);
}

typedef struct list_acc { crec_store *st; json_t *arr; int64_t last; } list_acc;

static int list_cb(void *ctx, int64_t sid, const char *id, size_t len, int visible) {
    list_acc *a = ctx;
    crec_store_item it;
    a->last = sid;
    if (crec_store_item_get_sid(a->st, sid, 1, &it) == 0) {
        json_t *o = item_json(&it, 0);
        json_array_append_new(a->arr, o);
        crec_store_item_clear(&it);
    }
    return 0;
}

static void h_items(crec_server *s, crec__tls *t, crec__req *req, crec__reply *r) {
    crec__reqerr e;
    if (strcmp(req->method, "POST") != 0) { /* GET: a page of the catalog */
        long after = 0, limit = 50;
        if (crec__parse_int("after", crec__query(req, "after"), 0, LONG_MAX, 0, &after, &e) ||
            crec__parse_int("limit", crec__query(req, "limit"), 1, CREC__MAX_K, 50, &limit, &e)) {
            crec__reply_reqerr(r, &e);
            return;
        }
        list_acc a = {t->store, json_array(), 0};
        int rc = crec_store_items_list(t->store, after, limit, list_cb, &a);
        if (rc) {
            json_decref(a.arr);
            crec__reply_store_err(r, rc, "items", NULL);
            return;
        }
        /* next_after: the cursor of the next page, null on the last one */
        json_t *next = json_array_size(a.arr) == (size_t)limit ? json_integer((json_int_t)a.last) : json_null();
        r->status = 200;
        r->json = json_pack("{s:o,s:o}", "items", a.arr, "next_after", next);
        return;
    }
    json_t *body = crec__parse_json(req->body, req->body_len, &e);
    crec_store_item it;
    if (!body || crec__parse_item(body, NULL, &it, &e)) {
        json_decref(body);
        crec__reply_reqerr(r, &e);
        return;
    }
    int created = 0;
    int rc = crec_store_item_put(t->store, &it, CREC_STORE_CREATE, &created);
    if (rc) crec__reply_store_err(r, rc, "item", it.id);
    else reply_item(s, t, it.id, 201, r);
    free(it.attrs);
    json_decref(body);
}

static void h_item(crec_server *s, crec__tls *t, crec__req *req, crec__reply *r) {
    const char *id = req->m.id;
    crec__reqerr e;
    int rc;
    if (strcmp(req->method, "PUT") == 0) {
        json_t *body = crec__parse_json(req->body, req->body_len, &e);
        crec_store_item it;
        if (!body || crec__parse_item(body, id, &it, &e)) {
            json_decref(body);
            crec__reply_reqerr(r, &e);
            return;
        }
        int created = 0;
        if ((rc = crec_store_item_put(t->store, &it, CREC_STORE_REPLACE, &created)))
            crec__reply_store_err(r, rc, "item", id);
        else
            reply_item(s, t, id, created ? 201 : 200, r);
        free(it.attrs);
        json_decref(body);
        return;
    }
    crec_store_item it;
    if ((rc = crec_store_item_get(t->store, id, strlen(id), 1, 1, &it))) {
        crec__reply_store_err(r, rc, "item", id);
        return;
    }
    if (strcmp(req->method, "DELETE") == 0) {
        int64_t n = 0;
        if ((rc = crec_store_item_delete(t->store, id, &n))) {
            crec__reply_store_err(r, rc, "item", id);
        } else {
            crec__pop_zero(&s->pop, it.sid);
            crec__catalog_remove(&s->cat, it.sid);
            r->status = 200;
            r->json = json_pack("{s:o,s:I}", "deleted", jstr(id), "events_deleted", (json_int_t)n);
        }
    } else {
        crec__bundle *b = crec__bundle_acquire(s);
        json_t *o = item_json(&it, 1);
        json_object_set_new(o, "n_events", json_integer((json_int_t)it.n_events));
        json_object_set_new(o, "in_model", json_boolean(crec__bundle_item(b, id, strlen(id)) >= 0));
        crec__bundle_release(b);
        r->status = 200;
        r->json = o;
    }
    crec_store_item_clear(&it);
}

/* ---- users ---- */

typedef struct user_hist { crec_store *st; json_t *arr; } user_hist;

static int user_hist_cb(void *ctx, int64_t sid, const char *item, size_t len, const char *type, float value,
                        int64_t ts) {
    user_hist *u = ctx;
    crec_store_item it;
    json_t *o = json_object();
    json_object_set_new(o, "item", jstrn(item, len));
    if (crec_store_item_get_sid(u->st, sid, 1, &it) == 0) {
        json_object_set_new(o, "title", jstr(it.title));
        json_t *attrs = json_array();
        for (int k = 0; k < it.n_attrs; k++) json_array_append_new(attrs, jstr(it.attrs[k]));
        json_object_set_new(o, "attributes", attrs);
        crec_store_item_clear(&it);
    }
    json_object_set_new(o, "type", jstr(type));
    json_object_set_new(o, "value", json_real((double)value));
    json_object_set_new(o, "ts", json_integer((json_int_t)ts));
    json_array_append_new(u->arr, o);
    return 0;
}

static void h_user(crec_server *s, crec__tls *t, crec__req *req, crec__reply *r) {
    const char *id = req->m.id;
    int rc;
    if (strcmp(req->method, "DELETE") == 0) {
        int64_t n = 0;
        if ((rc = crec_store_delete_user(t->store, id, &n))) {
            crec__reply_store_err(r, rc, "user", id);
            return;
        }
        crec__pop_reload(&s->pop, t->store); /* their events no longer count towards popularity */
        r->status = 200;
        r->json = json_pack("{s:o,s:I}", "deleted", jstr(id), "events_deleted", (json_int_t)n);
        return;
    }
    crec__reqerr e;
    long limit = 50;
    if (crec__parse_int("limit", crec__query(req, "limit"), 1, CREC__MAX_K, 50, &limit, &e)) {
        crec__reply_reqerr(r, &e);
        return;
    }
    user_hist u = {t->store, json_array()};
    int64_t n = 0;
    rc = crec_store_user_events(t->store, id, limit, user_hist_cb, &u, &n);
    crec__bundle *b = crec__bundle_acquire(s);
    int known = crec__bundle_user(b, id, strlen(id)) >= 0;
    crec__bundle_release(b);
    if (rc && !(rc == CREC_ENOTFOUND && known)) {
        json_decref(u.arr);
        crec__reply_store_err(r, rc, "user", id);
        return;
    }
    r->status = 200;
    r->json = json_pack("{s:o,s:I,s:b,s:o}", "id", jstr(id), "n_events", (json_int_t)n, "known_to_model", known,
                        "history", u.arr);
}

/* ---- admin, health, stats, metrics ---- */

static void h_reload(crec_server *s, crec__req *req, crec__reply *r) {
    crec__reqerr e;
    json_t *body = NULL;
    const char *model = NULL, *data = NULL;
    if (req->body_len > 0 && !(body = crec__parse_json(req->body, req->body_len, &e))) {
        crec__reply_reqerr(r, &e);
        return;
    }
    if (crec__parse_reload(body, &model, &data, &e)) {
        json_decref(body);
        crec__reply_reqerr(r, &e);
        return;
    }
    char err[1024];
    int rc = crec_server_reload(s, model, data, err, sizeof err);
    json_decref(body);
    if (rc == CREC_ESTATE) {
        crec__reply_err(r, 409, "model_mismatch", "%s", err);
    } else if (rc == CREC_ENOTFOUND) {
        crec__reply_err(r, 404, "file_not_found", "%s", err);
    } else if (rc) {
        crec__reply_err(r, 400, "bad_model", "%s (the old model is still served)", err);
    } else {
        crec__bundle *b = crec__bundle_acquire(s);
        r->status = 200;
        r->json = json_pack("{s:o,s:I,s:o,s:o,s:i,s:i}", "model", jstr(b->model->type->name), "model_version",
                            (json_int_t)b->version, "path", jstr(b->model_path), "data", jstr(b->data_desc),
                            "n_items", b->model->n_items, "n_users", b->model->n_users);
        crec__bundle_release(b);
    }
}

static json_t *model_json(const crec__bundle *b) {
    json_t *cfg = json_object();
    for (int k = 0; k < b->model->cfg.n; k++) json_object_set_new(cfg, b->model->cfg.key[k], jstr(b->model->cfg.val[k]));
    return json_pack("{s:o,s:I,s:o,s:o,s:o,s:o,s:i,s:i,s:o}", "name", jstr(b->model->type->name), "version",
                     (json_int_t)b->version, "path", jstr(b->model_path), "data", jstr(b->data_desc), "trained_on",
                     jstr(b->model->data_name), "split", jstr(b->model->split), "n_items", b->model->n_items,
                     "n_users", b->model->n_users, "params", cfg);
}

static void h_stats(crec_server *s, crec__tls *t, crec__reply *r) {
    crec_store_stats st;
    int rc = crec_store_stats_get(t->store, &st);
    if (rc) {
        crec__reply_store_err(r, rc, "stats", NULL);
        return;
    }
    crec__bundle *b = crec__bundle_acquire(s);
    r->status = 200;
    r->json = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:I,s:f}", "users", (json_int_t)st.n_users, "items",
                        (json_int_t)st.n_items, "hidden_items", (json_int_t)st.n_hidden_items, "events",
                        (json_int_t)st.n_events, "event_types", (json_int_t)st.n_event_types, "attributes",
                        (json_int_t)st.n_attrs, "first_ts", (json_int_t)st.min_ts, "last_ts", (json_int_t)st.max_ts,
                        "model", model_json(b), "events_ingested",
                        (json_int_t)atomic_load(&s->metrics.events_ingested), "uptime_s", crec__now() - s->started);
    crec__bundle_release(b);
}

void crec__handle(crec_server *s, crec__req *q, crec__reply *r) {
    crec__route rt = q->m.route;
    if (rt == CREC__R_WEB) return crec__handle_web(s, q, r);
    if (rt == CREC__R_OPENAPI) return crec__handle_openapi(s, q, r);
    if (rt == CREC__R_METRICS) {
        char *text = crec__metrics_render(s);
        if (!text) {
            crec__reply_err(r, 500, "internal", "out of memory");
            return;
        }
        r->status = 200;
        r->owned = text;
        r->len = strlen(text);
        r->ctype = "text/plain; version=0.0.4; charset=utf-8";
        return;
    }
    if (rt == CREC__R_HEALTH) {
        crec__bundle *b = crec__bundle_acquire(s);
        r->status = 200;
        r->json = json_pack("{s:s,s:o,s:I,s:f}", "status", "ok", "model", jstr(b->model->type->name),
                            "model_version", (json_int_t)b->version, "uptime_s", crec__now() - s->started);
        crec__bundle_release(b);
        return;
    }
    if (rt == CREC__R_RELOAD) return h_reload(s, q, r);
    crec__tls *t = crec__tls_get(s);
    if (!t) {
        r->retry_after = 1;
        crec__reply_err(r, 503, "unavailable", "the store cannot be opened");
        return;
    }
    /* A read sees one consistent state of the store and takes its locks once. Writes queue on a mutex: SQLite
     * lets one writer in at a time and makes the others sleep and retry (1, 2, 5 ... 100 ms), which costs far
     * more than waiting in line here. */
    int write = crec__route_is_write(rt, q->method);
    int read = !write && crec_store_read_begin(t->store) == 0;
    if (write) pthread_mutex_lock(&s->write_mu);
    switch (rt) {
    case CREC__R_USER_RECS: h_user_recs(s, t, q, r); break;
    case CREC__R_SESSION_RECS: h_session_recs(s, t, q, r); break;
    case CREC__R_SIMILAR: h_similar(s, t, q, r); break;
    case CREC__R_POPULAR: h_popular(s, t, q, r); break;
    case CREC__R_EVENTS: h_events(s, t, q, r); break;
    case CREC__R_ITEMS: h_items(s, t, q, r); break;
    case CREC__R_ITEM: h_item(s, t, q, r); break;
    case CREC__R_USER: h_user(s, t, q, r); break;
    case CREC__R_STATS: h_stats(s, t, r); break;
    default: crec__reply_err(r, 404, "not_found", "no such route");
    }
    if (read) crec_store_read_end(t->store);
    if (write) pthread_mutex_unlock(&s->write_mu);
}
