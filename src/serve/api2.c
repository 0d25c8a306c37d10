/* api2.c: the routes of the Gorse-style API (issue 15): users with labels and a user list, item PATCH, batch
 * insert, the newest items and one category at a time, feedback listed by user or item and deleted by
 * (user, item, type), similar users, paging and "shown" write-back for recommendations, and the separate
 * live / ready health checks.
 *
 * The one idea: the same contract as resources.c - the store is the system of record, a write is answered
 * only after its transaction (or the writer thread's group) committed, and the in-memory copies (catalog,
 * popularity) follow what the store then holds. Every store access goes through crec/store.h. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "core/util.h"
#include "serve/events.h"
#include "serve/routes.h"
#include "serve/usersim.h"

static int64_t now_unix(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec;
}

/* The full JSON of an item as the store has it now (with its creation time). */
static json_t *item_full_json(crec_store *st, const crec_store_item *it) {
    json_t *o = json_object(), *attrs = json_array();
    for (int k = 0; k < it->n_attrs; k++) json_array_append_new(attrs, crec__jstr(it->attrs[k]));
    int64_t created = 0;
    crec_store_item_created(st, it->id, &created);
    json_object_set_new(o, "id", crec__jstr(it->id));
    json_object_set_new(o, "title", crec__jstr(it->title));
    json_object_set_new(o, "text", crec__jstr(it->text));
    json_object_set_new(o, "attributes", attrs);
    json_object_set_new(o, "visible", json_boolean(it->visible));
    json_object_set_new(o, "timestamp", json_integer((json_int_t)created));
    return o;
}

/* After a write: bring the catalog entry of item id up to date; *o (may be NULL) gets its JSON. */
static int catalog_sync(crec_server *s, crec__tls *t, const char *id, json_t **o) {
    crec_store_item it;
    int rc = crec_store_item_get(t->store, id, strlen(id), 1, 0, &it);
    if (!rc) rc = crec__catalog_put(&s->cat, &it);
    if (!rc && o) *o = item_full_json(t->store, &it);
    crec_store_item_clear(&it);
    return rc;
}

static json_t *labels_json(crec_store *st, const char *user) {
    char **l = NULL;
    int n = 0;
    json_t *a = json_array();
    if (crec_store_user_labels(st, user, &l, &n) == 0)
        for (int k = 0; k < n; k++) json_array_append_new(a, crec__jstr(l[k]));
    crec_store_labels_free(l, n);
    return a;
}

json_t *crec__user_labels_json(crec_store *st, const char *user) { return labels_json(st, user); }

/* ---- users ---- */

/* PUT /v1/users/{id} {"labels"?: [..]}: create the user or replace their labels. */
void crec__h_user_put(crec_server *s, crec__tls *t, crec__req *req, crec__reply *r) {
    const char *id = req->m.id;
    crec__reqerr e;
    json_t *body = req->body_len ? crec__parse_json(req->body, req->body_len, &e) : json_object();
    crec__idlist l = {0};
    if (!body) {
        crec__reply_reqerr(r, &e);
        return;
    }
    if (!json_is_object(body)) {
        crec__reply_err(r, 400, "bad_request", "the body must be a JSON object {\"labels\": [..]}");
        json_decref(body);
        return;
    }
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v) {
        if (strcmp(key, "labels") != 0 && strcmp(key, "id") != 0) {
            crec__reply_err(r, 400, "bad_request", "user: unknown field \"%s\" (allowed: id, labels)", key);
            json_decref(body);
            return;
        }
    }
    json_t *bid = json_object_get(body, "id");
    if (bid && (!json_is_string(bid) || strcmp(json_string_value(bid), id) != 0)) {
        crec__reply_err(r, 400, "bad_request", "user: \"id\" differs from the id in the path");
        json_decref(body);
        return;
    }
    if (crec__json_idlist("labels", json_object_get(body, "labels"), &l, &e)) {
        crec__reply_reqerr(r, &e);
        json_decref(body);
        return;
    }
    /* the slices are whole jansson strings: NUL-terminated */
    int created = 0;
    int rc = crec_store_user_put(t->store, id, l.s, l.n, &created);
    if (rc) crec__reply_store_err(r, rc, "user", id);
    else crec__reply_json(r, created ? 201 : 200, json_pack("{s:o,s:o}", "id", crec__jstr(id), "labels",
                                                            labels_json(t->store, id)));
    crec__idlist_free(&l);
    json_decref(body);
}

typedef struct users_acc { crec_store *st; json_t *arr; int64_t last; } users_acc;

static int users_cb(void *ctx, int64_t sid, const char *id, size_t len) {
    users_acc *a = ctx;
    a->last = sid;
    json_t *o = json_object();
    json_object_set_new(o, "id", crec__jstrn(id, len));
    json_array_append_new(a->arr, o);
    return 0;
}

/* GET /v1/users?after=&limit=: users in row order; next_after is the cursor of the next page. */
void crec__h_users_list(crec_server *s, crec__tls *t, crec__req *req, crec__reply *r) {
    crec__reqerr e;
    long after = 0, limit = 50;
    if (crec__parse_int("after", crec__query(req, "after"), 0, LONG_MAX, 0, &after, &e) ||
        crec__parse_int("limit", crec__query(req, "limit"), 1, CREC__MAX_K, 50, &limit, &e)) {
        crec__reply_reqerr(r, &e);
        return;
    }
    users_acc a = {t->store, json_array(), 0};
    int rc = crec_store_users_list(t->store, after, limit, users_cb, &a);
    if (rc) {
        json_decref(a.arr);
        crec__reply_store_err(r, rc, "users", NULL);
        return;
    }
    size_t n = json_array_size(a.arr);
    for (size_t k = 0; k < n; k++) {
        json_t *o = json_array_get(a.arr, k);
        json_object_set_new(o, "labels", labels_json(t->store, json_string_value(json_object_get(o, "id"))));
    }
    json_t *next = n == (size_t)limit ? json_integer((json_int_t)a.last) : json_null();
    crec__reply_json(r, 200, json_pack("{s:o,s:o}", "users", a.arr, "next_after", next));
}

/* GET /v1/users/{id}/similar?k=&source=auto|model|history: the users nearest in the model's user vectors
 * (cosine, usersim.c) when the model has them and the user has one, else the users with the most alike
 * histories (Jaccard over distinct items, in the store); "source" says which answered. */
typedef struct sim_acc { json_t *arr; } sim_acc;
static int sim_cb(void *ctx, const char *user, double score, int64_t common) {
    sim_acc *a = ctx;
    json_array_append_new(a->arr, json_pack("{s:o,s:f,s:I}", "id", crec__jstr(user), "score", score, "common_items",
                                            (json_int_t)common));
    return 0;
}

typedef struct keep_ctx { crec_store *st; const crec_dataset *ds; } keep_ctx;

/* A model user is a neighbour only while the store holds them (an erased user keeps a vector until retrained). */
static int keep_in_store(void *ctx, int32_t u) {
    keep_ctx *k = ctx;
    char **l = NULL;
    int n = 0;
    int rc = crec_store_user_labels(k->st, k->ds->users.names[u], &l, &n);
    crec_store_labels_free(l, n);
    return rc == 0;
}

/* The model's answer into *out (NULL when it has none for this user); a negative CREC_E* on failure. */
static int similar_by_model(crec_server *s, crec__tls *t, const char *id, long k, json_t **out) {
    *out = NULL;
    crec__bundle *b = crec__bundle_acquire(s);
    pthread_rwlock_rdlock(&b->mu); /* --online: vectors and id maps as between two mini-batches */
    int32_t u = crec__bundle_user(b, id, strlen(id));
    int32_t *ids = malloc((size_t)k * sizeof *ids);
    float *cos = malloc((size_t)k * sizeof *cos);
    int has = 0, rc = ids && cos ? 0 : CREC_ENOMEM;
    if (!rc && u >= 0) {
        keep_ctx kc = {t->store, b->ds};
        rc = crec__usersim_top(b->model, u, (int)k, keep_in_store, &kc, ids, cos, &has);
        if (rc == CREC_EUNSUPPORTED) rc = 0;
    }
    if (rc >= 0 && has) {
        json_t *arr = json_array();
        for (int j = 0; j < rc; j++)
            json_array_append_new(arr, json_pack("{s:s,s:f}", "id", b->ds->users.names[ids[j]], "score", (double)cos[j]));
        *out = json_pack("{s:o,s:s,s:s,s:s,s:I,s:o}", "user", crec__jstr(id), "source", "model", "method", "cosine",
                         "model", b->model->type->name, "model_version", (json_int_t)b->version, "users", arr);
    }
    pthread_rwlock_unlock(&b->mu);
    crec__bundle_release(b);
    free(ids);
    free(cos);
    return rc < 0 ? rc : 0;
}

void crec__h_user_similar(crec_server *s, crec__tls *t, crec__req *req, crec__reply *r) {
    const char *id = req->m.id, *src = crec__query(req, "source");
    crec__reqerr e;
    long k = 10;
    if (crec__parse_int("k", crec__query(req, "k"), 1, CREC__MAX_K, 10, &k, &e)) {
        crec__reply_reqerr(r, &e);
        return;
    }
    if (!src) src = "auto";
    int want_model = strcmp(src, "model") == 0, want_history = strcmp(src, "history") == 0;
    if (!want_model && !want_history && strcmp(src, "auto") != 0) {
        crec__reply_err(r, 400, "bad_parameter", "source must be auto, model or history");
        return;
    }
    char **l = NULL;
    int nl = 0, rc = crec_store_user_labels(t->store, id, &l, &nl);
    crec_store_labels_free(l, nl);
    if (rc) {
        crec__reply_store_err(r, rc, "user", id);
        return;
    }
    if (!want_history) {
        json_t *o = NULL;
        if ((rc = similar_by_model(s, t, id, k, &o))) {
            crec__reply_store_err(r, rc, "user", id);
            return;
        }
        if (o) {
            crec__reply_json(r, 200, o);
            return;
        }
        if (want_model) {
            crec__reply_err(r, 409, "no_user_vector", "the model has no learned vector for user '%s' (models with "
                            "user vectors: ials, bprmf; a user needs training events); source=history uses the "
                            "histories", id);
            return;
        }
    }
    sim_acc a = {json_array()};
    rc = crec_store_similar_users(t->store, id, k, sim_cb, &a);
    if (rc) {
        json_decref(a.arr);
        crec__reply_store_err(r, rc, "user", id);
        return;
    }
    crec__reply_json(r, 200, json_pack("{s:o,s:s,s:s,s:o}", "user", crec__jstr(id), "source", "history", "method",
                                       "jaccard", "users", a.arr));
}

/* ---- items ---- */

static const char *const PATCH_FIELDS[] = {"id", "title", "text", "attributes", "visible", "timestamp"};

/* PATCH /v1/items/{id}: change only the fields given; "timestamp" sets the creation time. */
void crec__h_item_patch(crec_server *s, crec__tls *t, crec__req *req, crec__reply *r) {
    const char *id = req->m.id;
    crec__reqerr e;
    json_t *body = crec__parse_json(req->body, req->body_len, &e);
    if (!body) {
        crec__reply_reqerr(r, &e);
        return;
    }
    json_t *merged = NULL;
    crec_store_item old, it = {0};
    memset(&old, 0, sizeof old);
    if (!json_is_object(body)) {
        crec__reply_err(r, 400, "bad_request", "the body must be a JSON object");
        goto out;
    }
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v) {
        int known = 0;
        for (size_t k = 0; k < sizeof PATCH_FIELDS / sizeof PATCH_FIELDS[0]; k++) known |= strcmp(key, PATCH_FIELDS[k]) == 0;
        if (!known) {
            crec__reply_err(r, 400, "bad_request", "item: unknown field \"%s\" (allowed: title, text, attributes, "
                            "visible, timestamp)", key);
            goto out;
        }
    }
    json_t *ts = json_object_get(body, "timestamp");
    if (ts && (!json_is_integer(ts) || json_integer_value(ts) < 0)) {
        crec__reply_err(r, 400, "bad_request", "item: \"timestamp\" must be an integer >= 0 (seconds since the epoch)");
        goto out;
    }
    int rc = crec_store_item_get(t->store, id, strlen(id), 1, 0, &old);
    if (rc) {
        crec__reply_store_err(r, rc, "item", id);
        goto out;
    }
    /* the item as stored, overwritten by the fields given, checked as a whole item */
    merged = json_object();
    json_t *attrs = json_array();
    for (int k = 0; k < old.n_attrs; k++) json_array_append_new(attrs, crec__jstr(old.attrs[k]));
    json_object_set_new(merged, "title", crec__jstr(old.title));
    json_object_set_new(merged, "text", crec__jstr(old.text));
    json_object_set_new(merged, "attributes", attrs);
    json_object_set_new(merged, "visible", json_boolean(old.visible));
    json_object_update(merged, body);
    json_object_del(merged, "timestamp");
    if (crec__parse_item(merged, id, &it, &e)) {
        crec__reply_reqerr(r, &e);
        goto out;
    }
    rc = crec_store_item_put(t->store, &it, CREC_STORE_UPDATE, NULL);
    if (!rc && ts) rc = crec_store_item_set_created(t->store, id, (int64_t)json_integer_value(ts));
    json_t *o = NULL;
    if (!rc) rc = catalog_sync(s, t, id, &o);
    if (rc) crec__reply_store_err(r, rc, "item", id);
    else crec__reply_json(r, 200, o);
out:
    free(it.attrs);
    crec_store_item_clear(&old);
    json_decref(merged);
    json_decref(body);
}

#define BATCH_MAX 1000 /* items in one POST /v1/items/batch */

/* POST /v1/items/batch [item, ...]: create or replace every item in ONE transaction, all or nothing. */
void crec__h_items_batch(crec_server *s, crec__tls *t, crec__req *req, crec__reply *r) {
    crec__reqerr e;
    json_t *body = crec__parse_json(req->body, req->body_len, &e);
    if (!body) {
        crec__reply_reqerr(r, &e);
        return;
    }
    size_t n = json_is_array(body) ? json_array_size(body) : 0;
    crec_store_item *items = NULL;
    size_t parsed = 0;
    if (!json_is_array(body) || n == 0 || n > BATCH_MAX) {
        crec__reply_err(r, 400, "bad_request", "the body must be a JSON array of 1..%d items", BATCH_MAX);
        goto out;
    }
    if (!(items = calloc(n, sizeof *items))) {
        crec__reply_err(r, 500, "internal", "out of memory");
        goto out;
    }
    for (; parsed < n; parsed++) {
        json_t *el = json_array_get(body, parsed);
        if (crec__parse_item(el, NULL, &items[parsed], &e)) {
            crec__reply_err(r, e.status, e.code, "item %zu: %s (nothing was written)", parsed, e.message);
            goto out;
        }
        json_t *ts = json_object_get(el, "timestamp"); /* the creation time, as GET /v1/export/items gives it */
        if (ts && !json_is_null(ts) && (!json_is_integer(ts) || json_integer_value(ts) < 0)) {
            parsed++; /* its attrs are allocated */
            crec__reply_err(r, 400, "bad_request", "item %zu: \"timestamp\" must be an integer >= 0 (seconds since "
                            "the epoch) (nothing was written)", parsed - 1);
            goto out;
        }
    }
    int64_t bad = -1, created = 0;
    int rc = crec_store_items_put_batch(t->store, items, (int64_t)n, &bad, &created);
    if (rc) {
        if (bad >= 0) crec__reply_err(r, rc == CREC_ENOTFOUND ? 404 : rc == CREC_ESTATE ? 503 : 400, "bad_item",
                                      "item %lld ('%s'): %s (nothing was written)", (long long)bad, items[bad].id,
                                      crec_strerror(rc));
        else crec__reply_store_err(r, rc, "items", NULL);
        goto out;
    }
    for (size_t k = 0; k < n && !rc; k++) {
        json_t *ts = json_object_get(json_array_get(body, k), "timestamp");
        if (json_is_integer(ts)) rc = crec_store_item_set_created(t->store, items[k].id, (int64_t)json_integer_value(ts));
    }
    for (size_t k = 0; k < n && !rc; k++)
        if ((rc = catalog_sync(s, t, items[k].id, NULL))) break;
    if (rc) crec__reply_store_err(r, rc, "item", NULL);
    else crec__reply_json(r, 200, json_pack("{s:I,s:I,s:I}", "written", (json_int_t)n, "created", (json_int_t)created,
                                            "replaced", (json_int_t)((int64_t)n - created)));
out:
    for (size_t k = 0; k < parsed; k++) free(items[k].attrs);
    free(items);
    json_decref(body);
}

typedef struct latest_acc { crec_store *st; json_t *arr; int rc; } latest_acc;

static int latest_cb(void *ctx, int64_t sid, const char *id, size_t len, int visible) {
    latest_acc *a = ctx;
    crec_store_item it;
    if ((a->rc = crec_store_item_get_sid(a->st, sid, 1, &it)) != 0) return 1;
    json_t *o = item_full_json(a->st, &it);
    json_object_del(o, "text");
    json_array_append_new(a->arr, o);
    crec_store_item_clear(&it);
    return 0;
}

/* GET /v1/items/latest?k=: the newest items (creation time, then row id, descending). */
void crec__h_items_latest(crec_server *s, crec__tls *t, crec__req *req, crec__reply *r) {
    crec__reqerr e;
    long k = 10;
    if (crec__parse_int("k", crec__query(req, "k"), 1, CREC__MAX_K, 10, &k, &e)) {
        crec__reply_reqerr(r, &e);
        return;
    }
    latest_acc a = {t->store, json_array(), 0};
    int rc = crec_store_items_latest(t->store, k, latest_cb, &a);
    if (!rc) rc = a.rc;
    if (rc) {
        json_decref(a.arr);
        crec__reply_store_err(r, rc, "items", NULL);
        return;
    }
    crec__reply_json(r, 200, json_pack("{s:o}", "items", a.arr));
}

static void item_category(crec_server *s, crec__tls *t, crec__req *req, crec__reply *r, int add) {
    const char *id = req->m.id, *cat = req->m.id2_buf;
    int changed = 0;
    int rc = crec_store_item_attr(t->store, id, cat, add, &changed);
    json_t *o = NULL;
    if (!rc) rc = catalog_sync(s, t, id, &o);
    if (rc == CREC_ERANGE) crec__reply_err(r, 400, "too_many_attributes", "item '%s' has %d attributes already", id,
                                           CREC_STORE_MAX_ATTRS);
    else if (rc) crec__reply_store_err(r, rc, "item", id);
    else {
        json_object_set_new(o, "changed", json_boolean(changed));
        crec__reply_json(r, 200, o);
    }
}

void crec__h_item_cat_put(crec_server *s, crec__tls *t, crec__req *req, crec__reply *r) { item_category(s, t, req, r, 1); }
void crec__h_item_cat_delete(crec_server *s, crec__tls *t, crec__req *req, crec__reply *r) { item_category(s, t, req, r, 0); }

/* ---- feedback ---- */

typedef struct fb_acc { json_t *arr; int64_t last; } fb_acc;

static int fb_cb(void *ctx, const crec_store_feedback *f) {
    fb_acc *a = ctx;
    a->last = f->id;
    json_array_append_new(a->arr, json_pack("{s:o,s:o,s:o,s:f,s:I}", "user", crec__jstr(f->user), "item",
                                            crec__jstr(f->item), "type", crec__jstr(f->type), "value", f->value, "ts",
                                            (json_int_t)f->ts));
    return 0;
}

static void feedback_list(crec__tls *t, crec__req *req, crec__reply *r, int by_item) {
    const char *id = req->m.id, *type = crec__query(req, "type");
    crec__reqerr e;
    long after = 0, limit = 100;
    if (crec__parse_int("after", crec__query(req, "after"), 0, LONG_MAX, 0, &after, &e) ||
        crec__parse_int("limit", crec__query(req, "limit"), 1, CREC__MAX_K, 100, &limit, &e)) {
        crec__reply_reqerr(r, &e);
        return;
    }
    if (type && (!*type || strlen(type) > CREC__MAX_TYPE || !crec__id_ok(type, strlen(type)))) {
        crec__reply_err(r, 400, "bad_parameter", "type must be an event type name (1..%d bytes)", CREC__MAX_TYPE);
        return;
    }
    fb_acc a = {json_array(), 0};
    int rc = crec_store_feedback_list(t->store, by_item, id, type, after, limit, fb_cb, &a);
    if (rc) {
        json_decref(a.arr);
        crec__reply_store_err(r, rc, by_item ? "item" : "user", id);
        return;
    }
    json_t *next = json_array_size(a.arr) == (size_t)limit ? json_integer((json_int_t)a.last) : json_null();
    crec__reply_json(r, 200, json_pack("{s:o,s:o}", "feedback", a.arr, "next_after", next));
}

void crec__h_user_feedback(crec_server *s, crec__tls *t, crec__req *req, crec__reply *r) { feedback_list(t, req, r, 0); }
void crec__h_item_feedback(crec_server *s, crec__tls *t, crec__req *req, crec__reply *r) { feedback_list(t, req, r, 1); }

/* DELETE /v1/feedback/{user}/{item}?type=: the user's events on the item (of one type, or all). */
void crec__h_feedback_delete(crec_server *s, crec__tls *t, crec__req *req, crec__reply *r) {
    const char *user = req->m.id, *item = req->m.id2_buf, *type = crec__query(req, "type");
    if (type && (!*type || strlen(type) > CREC__MAX_TYPE || !crec__id_ok(type, strlen(type)))) {
        crec__reply_err(r, 400, "bad_parameter", "type must be an event type name (1..%d bytes)", CREC__MAX_TYPE);
        return;
    }
    int64_t n = 0, sid = -1;
    int rc = crec_store_feedback_delete(t->store, user, item, type, &n, &sid);
    if (rc) {
        /* which of the two is missing */
        int64_t c = 0;
        int irc = crec_store_item_created(t->store, item, &c);
        crec__reply_store_err(r, rc, irc == CREC_ENOTFOUND ? "item" : "user", irc == CREC_ENOTFOUND ? item : user);
        return;
    }
    for (int64_t k = 0; k < n; k++) crec__pop_sub(&s->pop, &sid, 1); /* those events no longer count */
    crec__reply_json(r, 200, json_pack("{s:o,s:o,s:o,s:I}", "user", crec__jstr(user), "item", crec__jstr(item), "type",
                                       crec__jstr(type), "deleted", (json_int_t)n));
}

/* ---- recommendations: offset paging and "shown" write-back (called by recs.c) ---- */

int crec__recs_finish(crec_server *s, crec__tls *t, crec__req *req, const char *user, long offset, int write_back,
                      json_t *o, crec__reply *r) {
    json_t *items = json_object_get(o, "items");
    for (long k = 0; k < offset && json_array_size(items) > 0; k++) json_array_remove(items, 0);
    json_object_set_new(o, "offset", json_integer(offset));
    if (!write_back) return 0;
    size_t n = json_array_size(items);
    crec_store_event *ev = calloc(n ? n : 1, sizeof *ev);
    int64_t *sids = calloc(n ? n : 1, sizeof *sids);
    int rc = ev && sids ? 0 : CREC_ENOMEM;
    int64_t now = now_unix();
    for (size_t k = 0; k < n; k++)
        ev[k] = (crec_store_event){user, json_string_value(json_object_get(json_array_get(items, k), "id")), "shown", 1.0f,
                                   now};
    /* a write from a read route: leave the read transaction, then write as the writer thread does (its lock) */
    if (!rc) {
        crec_store_read_end(t->store);
        pthread_mutex_lock(&s->write_mu);
        rc = crec_store_add_events(t->store, ev, (int64_t)n, sids, NULL);
        if (!rc) crec__events_stage(s, ev, (int64_t)n), crec__events_commit(s); /* --events: committed */
        pthread_mutex_unlock(&s->write_mu);
    }
    if (!rc) {
        crec__pop_add(&s->pop, sids, (int64_t)n);
        atomic_fetch_add(&s->metrics.events_ingested, (unsigned long long)n);
        json_object_set_new(o, "written_back", json_integer((json_int_t)n));
    }
    free(ev);
    free(sids);
    if (rc) crec__reply_store_err(r, rc, "feedback", NULL);
    return rc;
}

/* ---- health ---- */

void crec__h_live(crec_server *s, crec__tls *t, crec__req *req, crec__reply *r) {
    crec__reply_json(r, 200, json_pack("{s:s,s:f}", "status", "live", "uptime_s", crec__now() - s->started));
}

void crec__h_ready(crec_server *s, crec__tls *t, crec__req *req, crec__reply *r) {
    crec__tls *tl = crec__tls_get(s);
    crec_store_stats st;
    int store_ok = tl && crec_store_stats_get(tl->store, &st) == 0;
    crec__bundle *b = crec__bundle_acquire(s);
    int model_ok = b && b->model;
    json_t *o = json_pack("{s:s,s:b,s:b}", "status", store_ok && model_ok ? "ready" : "not_ready", "store", store_ok,
                          "model", model_ok);
    if (model_ok) json_object_set_new(o, "model_version", json_integer((json_int_t)b->version));
    if (b) crec__bundle_release(b);
    if (!(store_ok && model_ok)) r->retry_after = 1;
    crec__reply_json(r, store_ok && model_ok ? 200 : 503, o);
}
